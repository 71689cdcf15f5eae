/* bench-load: a small closed-loop HTTP/1.1 load generator for the REST benchmarks. N keep-alive
 * connections over TCP or a Unix socket (wrk speaks only TCP), each sending one GET, waiting
 * for the whole answer, recording its latency, and sending the next. The same program drives
 * TCP and Unix, so the two transports are compared apples to apples.
 * Trusts the server only as far as HTTP framing: a Content-Length and a body of that size;
 * anything else counts as an error and the connection is reopened.
 * Prints one JSON object: requests, errors, seconds, rps, p50/p90/p99/mean latency (µs). */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define MAX_PATHS 8
#define RESP_MAX (256 * 1024)

static const char *arg_unix;
static const char *arg_tcp; /* HOST:PORT */
static const char *arg_paths[MAX_PATHS];
static unsigned arg_n_paths;
static const char *arg_header;
static unsigned arg_conns = 1, arg_threads = 2;
static double arg_duration = 5.0, arg_warmup = 1.0;

static struct sockaddr_storage srv_addr;
static socklen_t srv_len;

struct conn {
	int fd;
	char *req;
	size_t req_len, sent;
	char *buf;
	size_t got;
	uint64_t t0;
	unsigned path_i;
};

struct worker {
	pthread_t thr;
	unsigned first, n; /* connection indexes */
	struct conn *c;
	uint32_t *lat_ns; /* recorded after warmup */
	size_t n_lat, cap_lat;
	uint64_t errors, reconnects;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t t_measure_start, t_end;

static int resolve(void)
{
	if (arg_unix) {
		struct sockaddr_un *sa = (struct sockaddr_un *)&srv_addr;

		if (strlen(arg_unix) >= sizeof(sa->sun_path))
			return -ENAMETOOLONG;
		sa->sun_family = AF_UNIX;
		strcpy(sa->sun_path, arg_unix);
		srv_len = sizeof(*sa);
		return 0;
	}
	char host[256];
	const char *colon = strrchr(arg_tcp, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai;

	if (!colon || (size_t)(colon - arg_tcp) >= sizeof(host))
		return -EINVAL;
	memcpy(host, arg_tcp, (size_t)(colon - arg_tcp));
	host[colon - arg_tcp] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -EINVAL;
	memcpy(&srv_addr, ai->ai_addr, ai->ai_addrlen);
	srv_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* Blocking connect, then non-blocking for the event loop. */
static int conn_open(struct conn *c)
{
	int one = 1;

	c->fd = socket(srv_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&srv_addr, srv_len) < 0) {
		int r = -errno;
		close(c->fd);
		c->fd = -1;
		return r;
	}
	if (!arg_unix)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

static void build_request(struct conn *c, unsigned path_i)
{
	char hdr[512] = "";

	if (arg_header)
		snprintf(hdr, sizeof(hdr), "%s\r\n", arg_header);
	free(c->req);
	c->req_len = (size_t)asprintf(&c->req, "GET %s HTTP/1.1\r\nHost: bench\r\n%s\r\n",
				      arg_paths[path_i], hdr);
	c->path_i = path_i;
}

/* A complete answer in c->buf? 1 yes (status in *ret_status), 0 need more, -1 malformed. */
static int response_complete(struct conn *c, int *ret_status)
{
	char *end, *cl;
	size_t hlen, blen;

	c->buf[c->got] = '\0';
	end = strstr(c->buf, "\r\n\r\n");
	if (!end)
		return c->got >= RESP_MAX - 1 ? -1 : 0;
	hlen = (size_t)(end - c->buf) + 4;
	if (sscanf(c->buf, "HTTP/1.%*d %d", ret_status) != 1)
		return -1;
	cl = strcasestr(c->buf, "\r\nContent-Length:");
	if (!cl || cl > end)
		return -1;
	blen = strtoull(cl + 17, NULL, 10);
	if (hlen + blen >= RESP_MAX)
		return -1;
	return c->got >= hlen + blen ? 1 : 0;
}

static void record(struct worker *w, uint64_t t0, uint64_t t1)
{
	uint64_t d = t1 - t0;

	if (t0 < t_measure_start)
		return;
	if (w->n_lat == w->cap_lat) {
		size_t cap = w->cap_lat ? w->cap_lat * 2 : 65536;
		uint32_t *n = realloc(w->lat_ns, cap * sizeof(*n));
		if (!n)
			return;
		w->lat_ns = n;
		w->cap_lat = cap;
	}
	w->lat_ns[w->n_lat++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

static int send_request(struct conn *c)
{
	c->sent = 0;
	c->got = 0;
	c->t0 = now_ns();
	while (c->sent < c->req_len) {
		ssize_t k = send(c->fd, c->req + c->sent, c->req_len - c->sent, MSG_NOSIGNAL);
		if (k < 0)
			return -errno;
		c->sent += (size_t)k;
	}
	return 0;
}

static int reopen(struct worker *w, int ep, struct conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

	if (c->fd >= 0)
		close(c->fd);
	w->reconnects++;
	if (conn_open(c) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -1;
	return send_request(c);
}

/* Data on a connection: finish the answer, record it, send the next request. */
static void on_readable(struct worker *w, int ep, struct conn *c)
{
	int status = 0, k;
	ssize_t n = recv(c->fd, c->buf + c->got, RESP_MAX - 1 - c->got, 0);

	if (n <= 0) {
		w->errors++;
		if (reopen(w, ep, c) < 0)
			w->errors++;
		return;
	}
	c->got += (size_t)n;
	k = response_complete(c, &status);
	if (k == 0)
		return;
	uint64_t t1 = now_ns();
	if (k < 0 || status != 200) {
		if (t1 >= t_measure_start)
			w->errors++;
		if (k < 0) {
			reopen(w, ep, c);
			return;
		}
	} else {
		record(w, c->t0, t1);
	}
	if (t1 >= t_end)
		return;
	if (arg_n_paths > 1)
		build_request(c, (c->path_i + 1) % arg_n_paths);
	if (send_request(c) < 0)
		reopen(w, ep, c);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[64];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	for (unsigned i = 0; i < w->n; i++) {
		struct conn *c = &w->c[i];
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
		if (send_request(c) < 0)
			w->errors++;
	}
	while (now_ns() < t_end) {
		int n = epoll_wait(ep, evs, 64, 100);
		for (int i = 0; i < n; i++)
			on_readable(w, ep, evs[i].data.ptr);
	}
	close(ep);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint32_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i] / 1000.0;
}

static void help(void)
{
	printf("Usage: bench-load (--unix PATH | --tcp HOST:PORT) --path P [--path P2 ...]\n"
	       "                  [--conns N] [--threads N] [--duration S] [--warmup S]\n"
	       "                  [--header 'Name: value']\n"
	       "Closed-loop keep-alive GET load; prints one JSON object with rps and latency.\n"
	       "Several --path values are requested in turn on every connection.\n");
}

static int parse_argv(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"unix", required_argument, NULL, 'u'},    {"tcp", required_argument, NULL, 't'},
	    {"path", required_argument, NULL, 'p'},    {"conns", required_argument, NULL, 'c'},
	    {"threads", required_argument, NULL, 'T'}, {"duration", required_argument, NULL, 'd'},
	    {"warmup", required_argument, NULL, 'w'},  {"header", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},	       {},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'u':
			arg_unix = optarg;
			break;
		case 't':
			arg_tcp = optarg;
			break;
		case 'p':
			if (arg_n_paths < MAX_PATHS)
				arg_paths[arg_n_paths++] = optarg;
			break;
		case 'c':
			arg_conns = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'T':
			arg_threads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			arg_duration = strtod(optarg, NULL);
			break;
		case 'w':
			arg_warmup = strtod(optarg, NULL);
			break;
		case 'H':
			arg_header = optarg;
			break;
		case 'h':
			help();
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (!arg_unix == !arg_tcp || !arg_n_paths || !arg_conns || arg_conns > MAX_CONNS ||
	    !arg_threads || arg_duration <= 0 || arg_warmup < 0) {
		fprintf(stderr,
			"bench-load: give --unix or --tcp, at least one --path, "
			"1..%d --conns and a positive --duration (see --help)\n",
			MAX_CONNS);
		return -EINVAL;
	}
	if (arg_threads > arg_conns)
		arg_threads = arg_conns;
	return 0;
}

int main(int argc, char **argv)
{
	struct conn *conns;
	struct worker *w;
	uint64_t errors = 0, reconnects = 0, t_start;
	size_t total = 0;
	double sum = 0;

	if (parse_argv(argc, argv) < 0)
		return 2;
	if (resolve() < 0) {
		fprintf(stderr, "bench-load: cannot resolve %s\n", arg_unix ? arg_unix : arg_tcp);
		return 1;
	}
	conns = calloc(arg_conns, sizeof(*conns));
	w = calloc(arg_threads, sizeof(*w));
	if (!conns || !w)
		return 1;
	for (unsigned i = 0; i < arg_conns; i++) {
		conns[i].buf = malloc(RESP_MAX);
		build_request(&conns[i], i % arg_n_paths);
		if (!conns[i].buf || conn_open(&conns[i]) < 0) {
			fprintf(stderr, "bench-load: connection %u to %s failed: %s\n", i,
				arg_unix ? arg_unix : arg_tcp, strerror(errno));
			return 1;
		}
	}
	t_start = now_ns();
	t_measure_start = t_start + (uint64_t)(arg_warmup * 1e9);
	t_end = t_measure_start + (uint64_t)(arg_duration * 1e9);
	for (unsigned i = 0, first = 0; i < arg_threads; i++) {
		unsigned n = arg_conns / arg_threads + (i < arg_conns % arg_threads);
		w[i].c = conns + first;
		w[i].n = n;
		first += n;
		pthread_create(&w[i].thr, NULL, worker_run, &w[i]);
	}
	for (unsigned i = 0; i < arg_threads; i++) {
		pthread_join(w[i].thr, NULL);
		total += w[i].n_lat;
		errors += w[i].errors;
		reconnects += w[i].reconnects;
	}
	uint32_t *all = malloc((total ? total : 1) * sizeof(*all));
	size_t k = 0;
	for (unsigned i = 0; i < arg_threads; i++) {
		if (w[i].n_lat)
			memcpy(all + k, w[i].lat_ns, w[i].n_lat * sizeof(*all));
		k += w[i].n_lat;
		for (size_t j = 0; j < w[i].n_lat; j++)
			sum += w[i].lat_ns[j];
		free(w[i].lat_ns);
	}
	qsort(all, total, sizeof(*all), cmp_u32);
	printf("{\"transport\":\"%s\",\"conns\":%u,\"threads\":%u,\"requests\":%zu,"
	       "\"errors\":%llu,\"reconnects\":%llu,\"seconds\":%.3f,\"rps\":%.1f,"
	       "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"mean_us\":%.1f}\n",
	       arg_unix ? "unix" : "tcp", arg_conns, arg_threads, total, (unsigned long long)errors,
	       (unsigned long long)reconnects, arg_duration, (double)total / arg_duration,
	       pct(all, total, 0.50), pct(all, total, 0.90), pct(all, total, 0.99),
	       total ? sum / (double)total / 1000.0 : 0.0);
	free(all);
	for (unsigned i = 0; i < arg_conns; i++) {
		close(conns[i].fd);
		free(conns[i].req);
		free(conns[i].buf);
	}
	free(conns);
	free(w);
	return total ? 0 : 1;
}
