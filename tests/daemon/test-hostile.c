/* Hostile clients against the real sevd (on the real sev-psp-emu) over 127.0.0.1 TCP and the
 * Unix socket (the listener's connection, body and rate limits): slowloris, thousands of
 * idle connections (from one address, and from several up to the overall limit), oversized,
 * chunked and truncated bodies, broken lengths, invalid UTF-8 and deep JSON, NUL bytes, path
 * traversal, unknown methods and a request flood. Every attack must get a clean 4xx or a
 * closed connection (never a 5xx, never a hang), and during EACH attack a well-behaved
 * client keeps calling GET /v1/platform from its own address; its successes are counted
 * and must stay >= 90 % (and >= GOOD_MIN). Attackers use their own loopback addresses
 * (127.0.0.2 and up) so that the per-address limits they hit are theirs. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "daemon/worker/auth.h"
#include "tests/testutil.h"

#define TOKEN_ADMIN "hostile-admin-token-31c9"
#define TOKEN_READER "hostile-reader-token-8e02"

/* The daemon's limits for this test (sevd.conf below). */
#define CONN_LIMIT 200
#define PER_IP_LIMIT 64
#define CONN_TIMEOUT_S 4
#define HEADER_TIMEOUT_S 3
#define RATE 50
#define BURST 100
#define BODY_LIMIT_INIT 4096 /* POST /v1/platform/init (api.c BODY_NONE) */
#define BODY_TIMEOUT_S 3	    /* body_timeout, with body_min_rate = 1024 */

#define GOOD_MIN 10	    /* successes the good client must reach in each attack */
#define IO_TIMEOUT_MS 8000 /* longer than any answer or timeout the daemon has */

static struct {
	char *dir;
	struct tu_emu emu;
	pid_t pid;
	char *unix_path;
	int port;
} D;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- the daemon ---- */

static void token_line(FILE *f, const char *role, const char *token)
{
	uint8_t h[32];
	_cleanup_free_ char *hex = NULL;

	TU_CHECK(sevd_auth_hash(token, h) == 0, "hash");
	hex = hex_encode(h, sizeof(h));
	fprintf(f, "token = %s:sha256:%s\n", role, hex);
}

/* defaults: only the tokens (every limit at its default: the public rate limit,
 * body deadline and reader-only /metrics); else this test's limits. */
static void sevd_start(bool defaults)
{
	_cleanup_free_ char *conf = path_join(D.dir, "sevd.conf");
	char psp[512];
	FILE *f = fopen(conf, "w");
	static const char *const plain[] = {"--allow-plain-tcp", NULL};

	TU_CHECK(f != NULL, "cannot write %s", conf);
	token_line(f, "admin", TOKEN_ADMIN);
	token_line(f, "reader", TOKEN_READER);
	if (!defaults)
		fprintf(f,
			"connection_limit = %d\nper_ip_connection_limit = %d\n"
			"connection_timeout = %d\nheader_timeout = %d\nrate_limit = %d\n"
			"rate_burst = %d\npublic_rate_limit = 0\nbody_timeout = %d\n"
			"body_min_rate = 1024\nmetrics_public = yes\n",
			CONN_LIMIT, PER_IP_LIMIT, CONN_TIMEOUT_S, HEADER_TIMEOUT_S, RATE, BURST,
			BODY_TIMEOUT_S);
	fclose(f);
	D.port = tu_free_port();
	snprintf(psp, sizeof(psp), "emu:%s", D.emu.socket);
	D.pid = tu_sevd_start(&(struct tu_sevd_opts){.dir = D.dir, .psp = psp,
		.unix_path = D.unix_path, .tcp_scheme = "tcp", .tcp_port = D.port, .config = conf,
		.extra_args = plain});
}

static void check_alive(const char *after)
{
	int st;

	TU_CHECK(waitpid(D.pid, &st, WNOHANG) == 0, "sevd died during %s (status 0x%x, log %s/sevd.log)",
		 after, st, D.dir);
}

/* Open descriptors of the daemon (it runs as us: /proc/PID/fd is readable). */
static int daemon_fds(void)
{
	char path[64], *out = NULL;
	char *argv[] = { (char *)"/bin/ls", path, NULL };
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)D.pid);
	TU_CHECK(tu_run(argv, &out, NULL) == 0, "ls %s", path);
	for (char *p = out; *p; p++)
		n += *p == '\n';
	free(out);
	return n;
}

/* ---- the well-behaved client ---- */

struct good {
	pthread_t thread;
	atomic_bool stop;
	bool via_unix;
	unsigned ok, total;
	long last_status;
	char last_error[CURL_ERROR_SIZE];
};

static size_t sink(char *p, size_t sz, size_t n, void *userdata)
{
	(void)p;
	(void)userdata;
	return sz * n;
}

/* GET /v1/platform on a fresh connection every time (from 127.0.0.1 on TCP), paced below
 * the rate limit, each bounded by a timeout. */
static void *good_main(void *arg)
{
	struct good *g = arg;
	char url[128];

	while (!atomic_load(&g->stop)) {
		CURL *c = curl_easy_init();
		struct curl_slist *h = NULL;
		long status = 0;
		CURLcode cr;

		if (!c)
			break;
		if (g->via_unix) {
			snprintf(url, sizeof(url), "http://localhost/v1/platform");
			curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, D.unix_path);
		} else {
			snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/platform", D.port);
			curl_easy_setopt(c, CURLOPT_INTERFACE, "127.0.0.1");
			h = curl_slist_append(h, "Authorization: Bearer " TOKEN_READER);
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		}
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, g->last_error);
		cr = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		g->total++;
		if (cr == CURLE_OK && status == 200)
			g->ok++;
		else
			g->last_status = cr == CURLE_OK ? status : -(long)cr;
		curl_slist_free_all(h);
		curl_easy_cleanup(c);
		sleep_ms(30);
	}
	return NULL;
}

static void good_start(struct good *g, bool via_unix)
{
	memset(g, 0, sizeof(*g));
	g->via_unix = via_unix;
	TU_CHECK(pthread_create(&g->thread, NULL, good_main, g) == 0, "pthread_create");
	sleep_ms(100); /* a few requests before the attack starts */
}

/* While an attack holds its connections: let the good client make its GOOD_MIN requests
 * (bounded: 10 s; good_stop then judges what it got). */
static void good_await_min(struct good *g)
{
	for (double end = now_s() + 10; g->total < GOOD_MIN && now_s() < end;)
		sleep_ms(20);
}

static void good_stop(struct good *g, const char *attack)
{
	atomic_store(&g->stop, true);
	pthread_join(g->thread, NULL);
	printf("  %-28s good client (%s): %u/%u ok\n", attack, g->via_unix ? "unix" : "tcp", g->ok,
	       g->total);
	TU_CHECK(g->ok >= GOOD_MIN && g->ok * 10 >= g->total * 9,
		 "%s: the good client got %u/%u answers (last: %ld %s)", attack, g->ok, g->total,
		 g->last_status, g->last_error);
	check_alive(attack);
}

/* ---- raw sockets ---- */

static int connect_from(const char *src, bool nonblock)
{
	struct sockaddr_in sa = { .sin_family = AF_INET }, da = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	int one = 1;

	TU_CHECK(fd >= 0, "socket: %s", strerror(errno));
	TU_CHECK(inet_pton(AF_INET, src, &sa.sin_addr) == 1, "address %s", src);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Pick the source port at connect time (per destination), not at bind time among all
	 * ports: binding thousands of sockets to port 0 is quadratic. */
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	TU_CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind %s: %s", src,
		 strerror(errno));
	da.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	da.sin_port = htons((uint16_t)D.port);
	if (connect(fd, (struct sockaddr *)&da, sizeof(da)) < 0)
		TU_CHECK(nonblock && errno == EINPROGRESS, "connect from %s: %s", src, strerror(errno));
	return fd;
}

/* Read until the peer closes or IO_TIMEOUT_MS; returns the bytes (NUL-terminated). */
struct answer {
	int status;    /* from the status line; 0 if none came */
	bool closed;   /* EOF or reset */
	bool timeout;  /* neither an answer nor a close in time: a hang */
	char head[512];
};

static void read_answer(int fd, struct answer *a)
{
	double end = now_s() + IO_TIMEOUT_MS / 1000.0;
	size_t got = 0;
	char buf[4096];

	memset(a, 0, sizeof(*a));
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)((end - now_s()) * 1000), n;
		ssize_t r;

		if (left <= 0) {
			a->timeout = true;
			break;
		}
		n = poll(&p, 1, left);
		if (n <= 0)
			continue;
		r = recv(fd, buf, sizeof(buf), 0);
		if (r <= 0) {
			a->closed = true;
			break;
		}
		if (got < sizeof(a->head) - 1) {
			size_t k = MIN((size_t)r, sizeof(a->head) - 1 - got);

			memcpy(a->head + got, buf, k);
			got += k;
		}
	}
	if (!strncmp(a->head, "HTTP/1.", 7) && strlen(a->head) > 12)
		a->status = atoi(a->head + 9);
}

static void send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w <= 0)
			return; /* the daemon may close early: that is an allowed answer */
		p += w;
		len -= (size_t)w;
	}
}

/* One raw exchange; the answer must be a clean 4xx or a close, never a 5xx or a hang. */
static int raw_expect(const char *src, const char *what, const void *req, size_t len,
		      int want_status)
{
	int fd = connect_from(src, false);
	struct answer a;

	send_all(fd, req, len);
	read_answer(fd, &a);
	close(fd);
	a.head[strcspn(a.head, "\r\n")] = '\0';
	TU_CHECK(!a.timeout, "%s: no answer and no close within %d ms (a hang)", what, IO_TIMEOUT_MS);
	TU_CHECK(a.status == 0 || (a.status >= 400 && a.status < 500),
		 "%s: answered '%s' (wanted a 4xx or a close)", what, a.head);
	if (want_status)
		TU_CHECK(a.status == want_status, "%s: answered '%s', wanted %d", what, a.head,
			 want_status);
	return a.status;
}

static int raw_expect_str(const char *src, const char *what, const char *req, int want)
{
	return raw_expect(src, what, req, strlen(req), want);
}

/* "N x 404, M x closed": what a family of attacks got. */
static void print_statuses(const char *what, const unsigned *statuses, size_t n)
{
	unsigned total = 0;

	for (size_t i = 0; i < n; i++)
		total += statuses[i];
	printf("  %s: %u requests:", what, total);
	for (size_t i = 1; i < n; i++)
		if (statuses[i])
			printf(" %u x %zu", statuses[i], i);
	if (statuses[0])
		printf(" %u x closed", statuses[0]);
	printf("\n");
}

/* ---- attacks ---- */

/* Slowloris: connections that send their headers one byte at a time, never finishing. The
 * idle timeout never fires (a byte every 100 ms); the header deadline must close them. */
static void attack_slowloris(void)
{
	enum { N = 48, N_UNIX = 8 }; /* the last N_UNIX over the Unix socket */
	static const char req[] = "GET /v1/platform HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				  "X-Slow-0: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
				  "X-Slow-1: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
	int fd[N];
	double closed_at[N] = { 0 }, start, limit = HEADER_TIMEOUT_S + 4.0;
	size_t pos = 0;
	unsigned closed = 0, answered = 0;
	struct good g;

	good_start(&g, false);
	start = now_s(); /* before the connects: no deadline can expire earlier than this + 2 s */
	for (int i = 0; i < N; i++)
		fd[i] = i < N - N_UNIX ? connect_from("127.0.0.3", false) : tu_unix_connect(D.unix_path);
	while (closed < N && now_s() - start < limit) {
		for (int i = 0; i < N; i++) {
			char c = req[pos % (sizeof(req) - 1)], buf[256];
			ssize_t r;

			if (closed_at[i])
				continue;
			r = recv(fd[i], buf, sizeof(buf), MSG_DONTWAIT);
			if (r > 0)
				answered++;
			if (r == 0 || (r < 0 && errno != EAGAIN) ||
			    send(fd[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				closed_at[i] = now_s() - start;
				closed++;
			}
		}
		pos++;
		sleep_ms(100);
	}
	for (int i = 0; i < N; i++)
		close(fd[i]);
	good_stop(&g, "slowloris");
	printf("  slowloris: %u/%d connections (%d on the Unix socket) closed by the daemon within "
	       "%.1f s, %zu bytes each\n",
	       closed, N, N_UNIX, limit, pos);
	TU_CHECK(closed == N, "slowloris: only %u of %d slow connections were closed in %.1f s",
		 closed, N, limit);
	TU_CHECK(answered == 0, "slowloris: %u slow connections got an answer", answered);
	/* They stayed open past the idle timeout's reach and were cut at the header deadline. */
	for (int i = 0; i < N; i++)
		TU_CHECK(closed_at[i] >= HEADER_TIMEOUT_S - 0.5, "slowloris: connection %d closed at %.2f s, "
			 "before the header deadline", i, closed_at[i]);
}

static void raise_nofile(unsigned want, unsigned *ret_have)
{
	struct rlimit rl;

	TU_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
		TU_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit: %s", strerror(errno));
	}
	*ret_have = (unsigned)rl.rlim_cur;
}

/* Connect n sockets from src in batches (so the listen backlog is not overrun), each
 * connected (or refused) before the next batch. Returns how many connected. */
static unsigned connect_many(const char *src, int *fds, unsigned n)
{
	unsigned ok = 0;

	for (unsigned b = 0; b < n; b += 64) {
		unsigned e = MIN(n, b + 64);
		struct pollfd p[64];
		double end = now_s() + 5;

		for (unsigned i = b; i < e; i++) {
			fds[i] = connect_from(src, true);
			p[i - b] = (struct pollfd){ .fd = fds[i], .events = POLLOUT };
		}
		for (unsigned left = e - b; left && now_s() < end;) {
			TU_CHECK(poll(p, e - b, 1000) >= 0, "poll");
			left = 0;
			for (unsigned i = 0; i < e - b; i++) {
				if (p[i].fd < 0)
					continue;
				if (p[i].revents) {
					int err = 0;
					socklen_t l = sizeof(err);

					getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &err, &l);
					ok += err == 0;
					p[i].fd = -1;
				} else
					left++;
			}
		}
	}
	return ok;
}

/* Poll the sockets until at least `want_closed` saw EOF/reset or the time is up; returns the
 * number closed. A socket that received bytes (an answer) counts in *answered. */
static unsigned count_closed(int *fds, unsigned n, unsigned want_closed, double seconds,
			     unsigned *answered)
{
	bool *gone = calloc(n, sizeof(bool));
	unsigned closed = 0;
	double end = now_s() + seconds;

	TU_CHECK(gone != NULL, "calloc");
	*answered = 0;
	while (closed < want_closed && now_s() < end) {
		for (unsigned i = 0; i < n; i++) {
			char buf[64];
			ssize_t r;

			if (gone[i])
				continue;
			r = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
			if (r > 0)
				(*answered)++;
			if (r == 0 || (r < 0 && errno != EAGAIN)) {
				gone[i] = true;
				closed++;
			}
		}
		if (closed < want_closed)
			sleep_ms(50);
	}
	free(gone);
	return closed;
}

/* 10,000 idle connections from one address (fewer if RLIMIT_NOFILE's hard limit is lower):
 * the daemon keeps PER_IP_LIMIT and closes the rest at once, without growing. */
static void attack_idle_one_address(void)
{
	unsigned have, n, connected, closed, answered;
	int *fds, fds_before, fds_during;
	double t0, t1;
	struct good g;

	raise_nofile(10000 + 256, &have);
	n = have >= 10000 + 256 ? 10000 : have - 256;
	TU_CHECK(n > PER_IP_LIMIT + 100, "RLIMIT_NOFILE too low (%u) for the idle attack", have);
	fds = calloc(n, sizeof(int));
	TU_CHECK(fds != NULL, "calloc");
	fds_before = daemon_fds();
	good_start(&g, false);
	t0 = now_s();
	connected = connect_many("127.0.0.2", fds, n);
	t1 = now_s();
	fds_during = daemon_fds();
	closed = count_closed(fds, n, n - PER_IP_LIMIT, HEADER_TIMEOUT_S * 2.5, &answered);
	fds_during = MAX(fds_during, daemon_fds());
	printf("  idle x%u: %u connected in %.1f s, %u closed by the daemon (%.1f s later), daemon "
	       "fds %d -> %d\n",
	       n, connected, t1 - t0, closed, now_s() - t1, fds_before, fds_during);
	/* Still held: at most PER_IP_LIMIT (the header deadline closes those later). */
	TU_CHECK(fds_during <= fds_before + PER_IP_LIMIT + 8,
		 "idle: the daemon holds %d descriptors (%d before, per-address limit %d)",
		 fds_during, fds_before, PER_IP_LIMIT);
	TU_CHECK(answered == 0, "idle: %u idle connections got bytes", answered);
	/* The daemon can shed the excess within a few good requests: keep the held ones open
	 * until the good client has made its GOOD_MIN. */
	good_await_min(&g);
	good_stop(&g, "idle connections (1 addr)");
	TU_CHECK(closed >= n - PER_IP_LIMIT - 8,
		 "idle: only %u of %u excess connections were closed", closed, n - PER_IP_LIMIT);
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

/* CONN_LIMIT + 100 idle connections from several addresses, each under the per-address
 * limit: the daemon stops accepting at CONN_LIMIT (the rest wait in the listen backlog, the
 * daemon does not grow); the Unix socket has its own limit and keeps serving; once the
 * attackers are cut by the header deadline, TCP serves again. */
static void attack_idle_overall_limit(void)
{
	enum { N = CONN_LIMIT + 100, PER = PER_IP_LIMIT - 4 };
	int fds[N], fds_before, fds_during;
	unsigned connected = 0, closed, answered;
	char src[32];
	struct good g, g_tcp;

	fds_before = daemon_fds();
	good_start(&g, true);
	good_start(&g_tcp, false);
	for (unsigned i = 0; i < N; i += PER) {
		snprintf(src, sizeof(src), "127.0.0.%u", 20 + i / PER);
		connected += connect_many(src, fds + i, MIN((unsigned)PER, N - i));
	}
	sleep_ms(300);
	fds_during = daemon_fds();
	TU_CHECK(fds_during <= fds_before + CONN_LIMIT + 8,
		 "overall limit: the daemon holds %d descriptors (%d before, limit %d)", fds_during,
		 fds_before, CONN_LIMIT);
	/* All are cut by the header deadline: those accepted at once, the waiting ones after
	 * they are accepted in turn. */
	closed = count_closed(fds, N, N, HEADER_TIMEOUT_S * 3 + 4, &answered);
	good_stop(&g, "idle connections (limit)");
	/* TCP clients share the listener's slots with the attack: not asserted, only shown
	 * (a client waiting in the backlog is served once the header deadline frees a slot). */
	atomic_store(&g_tcp.stop, true);
	pthread_join(g_tcp.thread, NULL);
	printf("  %-28s good client (tcp, shares the slots): %u/%u ok\n", "idle connections (limit)",
	       g_tcp.ok, g_tcp.total);
	printf("  idle x%d from %d addresses: %u connected, daemon fds %d -> %d, %u closed\n", N,
	       (N + PER - 1) / PER, connected, fds_before, fds_during, closed);
	TU_CHECK(answered == 0, "overall limit: %u idle connections got bytes", answered);
	TU_CHECK(closed == N, "overall limit: %u of %d idle connections were closed", closed, N);
	for (unsigned i = 0; i < N; i++)
		close(fds[i]);
	/* TCP serves again once the attack is gone. */
	good_start(&g_tcp, false);
	while (g_tcp.total < GOOD_MIN)
		sleep_ms(50);
	good_stop(&g_tcp, "after the overall limit");
}

/* One uid (nobody) opens PER_IP_LIMIT + 50 idle connections to the Unix socket: the daemon
 * shuts the 50 excess down at once (long before the header deadline); root's requests on
 * the same socket keep being served. Needs root (to become nobody). */
static void attack_idle_unix_uid(void)
{
	enum { EXTRA = 50, N = PER_IP_LIMIT + EXTRA };
	unsigned result[2] = { 0 };
	int p[2], st;
	struct good g;
	pid_t pid;

	TU_CHECK(chmod(D.dir, 0755) == 0, "chmod %s", D.dir);
	TU_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) == 0, "socketpair");
	good_start(&g, true);
	pid = fork();
	TU_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		int fds[N];
		unsigned answered;
		double start = now_s();

		close(p[0]);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		for (int i = 0; i < N; i++)
			fds[i] = tu_unix_connect(D.unix_path);
		/* Before HEADER_TIMEOUT_S - 0.5: only the per-uid limit can have closed them. */
		result[0] = count_closed(fds, N, EXTRA, HEADER_TIMEOUT_S - 0.5 - (now_s() - start),
					 &answered);
		result[1] = answered;
		if (write(p[1], result, sizeof(result)) != sizeof(result))
			_exit(4);
		/* Hold the connections until the parent saw the good client through. */
		if (read(p[1], &answered, 1) < 0)
			_exit(5);
		_exit(0);
	}
	close(p[1]);
	TU_CHECK(read(p[0], result, sizeof(result)) == sizeof(result), "the nobody child wrote nothing");
	good_await_min(&g);
	close(p[0]);
	TU_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		 "nobody child failed: 0x%x", st);
	good_stop(&g, "idle connections (one uid)");
	printf("  idle x%d on the Unix socket as nobody: %u shut down at once (limit %d)\n", N,
	       result[0], PER_IP_LIMIT);
	TU_CHECK(result[0] == EXTRA, "one uid: %u of %d connections over the limit were closed",
		 result[0], EXTRA);
	TU_CHECK(result[1] == 0, "one uid: %u idle connections got bytes", result[1]);
}

static const char *post_head(char *buf, size_t size, const char *path, const char *extra)
{
	snprintf(buf, size,
		 "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " TOKEN_ADMIN "\r\n"
		 "Content-Type: application/json\r\nConnection: close\r\n%s\r\n",
		 path, extra);
	return buf;
}

/* A declared length over the limit: 413 with no body byte sent, then the close. */
static void body_declared_too_large(const char *src)
{
	char head[512];
	int fd = connect_from(src, false);
	struct answer a;

	post_head(head, sizeof(head), "/v1/platform/init", "Content-Length: 100000000\r\n");
	send_all(fd, head, strlen(head));
	read_answer(fd, &a);
	close(fd);
	TU_CHECK(a.status == 413 && a.closed && !a.timeout,
		 "declared 100 MB body: status %d closed %d (%.60s)", a.status, a.closed, a.head);
}

/* Chunked: a little over the limit gets 413 (then the close); an endless one is cut off. */
static void body_chunked(const char *src)
{
	char head[512], chunk[8192 + 32];
	int fd;
	struct answer a;
	size_t sent = 0;
	bool cut = false;

	post_head(head, sizeof(head), "/v1/platform/init", "Transfer-Encoding: chunked\r\n");
	fd = connect_from(src, false);
	send_all(fd, head, strlen(head));
	for (int i = 0; i < 2; i++) { /* 2 x 4 KiB = twice the limit */
		int k = snprintf(chunk, sizeof(chunk), "1000\r\n");

		memset(chunk + k, ' ', 4096);
		memcpy(chunk + k + 4096, "\r\n", 2);
		send_all(fd, chunk, (size_t)k + 4098);
	}
	send_all(fd, "0\r\n\r\n", 5);
	read_answer(fd, &a);
	close(fd);
	TU_CHECK(a.status == 413 && a.closed, "chunked 8 KiB: status %d closed %d", a.status,
		 a.closed);

	/* Endless: 8 KiB chunks until the daemon hangs up; it must before 32 MiB. */
	fd = connect_from(src, false);
	send_all(fd, head, strlen(head));
	{
		int k = snprintf(chunk, sizeof(chunk), "2000\r\n");

		memset(chunk + k, 'x', 8192);
		memcpy(chunk + k + 8192, "\r\n", 2);
		while (sent < 32u << 20) {
			ssize_t w = send(fd, chunk, (size_t)k + 8194, MSG_NOSIGNAL);

			if (w <= 0) {
				cut = true;
				break;
			}
			sent += (size_t)w;
		}
	}
	if (!cut) {
		read_answer(fd, &a);
		cut = a.closed;
	}
	close(fd);
	printf("  endless chunked body: cut off after %zu bytes sent\n", sent);
	TU_CHECK(cut, "endless chunked body: still accepted after %zu bytes", sent);
}

/* Truncated bodies: the client closes its side early, or just stops sending (the idle
 * timeout ends it). The handler never runs: nothing is answered but a close or a 4xx. */
static void body_truncated(const char *src)
{
	char head[512];
	int fd;
	struct answer a;

	post_head(head, sizeof(head), "/v1/platform/init", "Content-Length: 1000\r\n");
	fd = connect_from(src, false);
	send_all(fd, head, strlen(head));
	send_all(fd, "{\"es\": tr", 9);
	shutdown(fd, SHUT_WR);
	read_answer(fd, &a);
	close(fd);
	TU_CHECK(!a.timeout && (a.status == 0 || (a.status >= 400 && a.status < 500)),
		 "truncated body + EOF: status %d timeout %d", a.status, a.timeout);

	fd = connect_from(src, false);
	send_all(fd, head, strlen(head));
	send_all(fd, "{\"es\": tr", 9);
	read_answer(fd, &a); /* the idle timeout, CONN_TIMEOUT_S */
	close(fd);
	TU_CHECK(!a.timeout && a.closed && (a.status == 0 || (a.status >= 400 && a.status < 500)),
		 "truncated body, client silent: status %d timeout %d", a.status, a.timeout);
}

/* Lengths that overflow, are negative, duplicated or garbage; chunk sizes that overflow. */
static void body_bad_lengths(const char *src)
{
	static const char *const lens[] = {
		"Content-Length: 18446744073709551616\r\n",
		"Content-Length: 18446744073709551615\r\n",
		"Content-Length: 99999999999999999999999999999999\r\n",
		"Content-Length: -1\r\n",
		"Content-Length: -18446744073709551615\r\n",
		"Content-Length: 5\r\nContent-Length: 500000\r\n",
		"Content-Length: 500000\r\nContent-Length: 5\r\n",
		"Content-Length: 5, 500000\r\n",
		"Content-Length: 0x10\r\n",
		"Content-Length: 1e9\r\n",
		"Content-Length: \r\n",
		"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
	};
	char head[512], req[1024], what[128];
	unsigned statuses[600] = { 0 };

	for (size_t i = 0; i < ELEMENTSOF(lens); i++) {
		int st;

		post_head(head, sizeof(head), "/v1/platform/init", lens[i]);
		snprintf(req, sizeof(req), "%s{\"es\":true}", head);
		snprintf(what, sizeof(what), "'%.*s'", (int)strlen(lens[i]) - 2, lens[i]);
		for (char *p = what; (p = strstr(p, "\r\n"));)
			memcpy(p, ", ", 2);
		st = raw_expect_str(src, what, req, 0);
		if (st)
			printf("    %-50s -> %d\n", what, st);
		else
			printf("    %-50s -> closed\n", what);
		statuses[st]++;
	}
	/* Chunk sizes: 2^64, 2^64 - 1, negative, garbage. */
	static const char *const chunks[] = { "10000000000000000\r\n", "FFFFFFFFFFFFFFFF\r\nab",
					      "-1\r\nab", "zz\r\nab", "1;" "aaaaaaaa\r\na\r\n0\r\n\r\n"
					      "GET /v1/platform HTTP/1.1\r\n\r\n" };
	for (size_t i = 0; i < ELEMENTSOF(chunks); i++) {
		post_head(head, sizeof(head), "/v1/platform/pek-cert", "Transfer-Encoding: chunked\r\n");
		snprintf(req, sizeof(req), "%s%s", head, chunks[i]);
		snprintf(what, sizeof(what), "chunk '%.20s'", chunks[i]);
		statuses[raw_expect_str(src, what, req, 0)]++;
	}
	print_statuses("bad lengths", statuses, ELEMENTSOF(statuses));
}

static void attack_bodies(void)
{
	struct good g;

	good_start(&g, false);
	body_declared_too_large("127.0.0.4");
	body_chunked("127.0.0.4");
	body_truncated("127.0.0.4");
	body_bad_lengths("127.0.0.7");
	good_stop(&g, "bodies");
}

/* A JSON body to a route; the answer must be a 4xx (the platform is already INIT, so even a
 * body that parses cannot make INIT succeed). */
static bool json_verbose;

static void json_case(const char *src, const char *path, const char *what, const char *body,
		      size_t len, int want)
{
	int st;
	char head[512], extra[64];
	size_t hl;
	char *req;

	snprintf(extra, sizeof(extra), "Content-Length: %zu\r\n", len);
	post_head(head, sizeof(head), path, extra);
	hl = strlen(head);
	req = malloc(hl + len);
	TU_CHECK(req != NULL, "malloc");
	memcpy(req, head, hl);
	memcpy(req + hl, body, len);
	st = raw_expect(src, what, req, hl + len, want);
	if (json_verbose)
		printf("    %-50s -> %d\n", what, st);
	free(req);
}

static size_t json_rounds_bodies;

static void json_round(const char *src)
{
	static const struct {
		const char *path, *what, *body;
		int want;
	} cases[] = {
		{ "/v1/platform/pek-cert", "invalid UTF-8 in strings",
		  "{\"pek_cert\": \"\xff\xfe\xc0\xaf\", \"oca_cert\": \"\xed\xa0\x80\"}", 400 },
		{ "/v1/platform/pek-cert", "invalid UTF-8 in a key", "{\"\xc3\x28\": \"\xf8\"}", 400 },
		{ "/v1/platform/pek-cert", "escaped lone surrogate",
		  "{\"pek_cert\": \"\\ud800\", \"oca_cert\": \"\\udfff\"}", 400 },
		{ "/v1/platform/init", "huge number", "{\"es\": 1e999999999}", 400 },
		{ "/v1/platform/init", "huge integer",
		  "{\"es\": 123456789012345678901234567890123456789}", 400 },
		{ "/v1/platform/init", "number for a bool", "{\"es\": -9223372036854775809}", 400 },
		{ "/v1/platform/init", "not JSON", "es=true", 400 },
		{ "/v1/platform/init", "array at the top", "[true]", 400 },
		{ "/v1/platform/init", "trailing garbage", "{\"es\": true} {\"es\": 1}", 400 },
		{ "/v1/platform/pek-cert", "strings not base64",
		  "{\"pek_cert\": \"!!!!\", \"oca_cert\": \"====\"}", 400 },
		{ "/v1/platform/pek-cert", "wrong types", "{\"pek_cert\": 1, \"oca_cert\": null}", 400 },
	};
	char *deep;
	size_t n;

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		json_case(src, cases[i].path, cases[i].what, cases[i].body,
			  strlen(cases[i].body), cases[i].want);
	/* NUL bytes inside the JSON text, and as the whole body. */
	json_case(src, "/v1/platform/init", "NUL in JSON", "{\"es\":\0true}", 12, 400);
	json_case(src, "/v1/platform/init", "NUL after JSON", "{\"es\":true}\0\0", 13, 0);
	json_case(src, "/v1/platform/init", "NUL body", "\0\0\0\0", 4, 400);
	/* Nesting: 100,000 '[' (over the route's limit: 413 before parsing) and as deep as the
	 * limit allows (the parser's depth bound: 400). */
	n = 100000;
	deep = malloc(n);
	TU_CHECK(deep != NULL, "malloc");
	memset(deep, '[', n);
	json_case(src, "/v1/platform/init", "100,000 '['", deep, n, 413);
	json_case(src, "/v1/platform/init", "4,000 '['", deep, 4000, 400);
	memset(deep, '{', n);
	for (size_t i = 0; i + 6 <= 15000; i += 6)
		memcpy(deep + i, "{\"a\":", 5), deep[i + 5] = ' ';
	json_case(src, "/v1/platform/pek-cert", "15,000 bytes of nested objects", deep,
		  15000, 400);
	free(deep);
	json_rounds_bodies = ELEMENTSOF(cases) + 6;
}

/* Rounds (each from a fresh address, under the rate limit) until the good client has made
 * GOOD_MIN requests during the attack. */
static void attack_json(void)
{
	char src[32];
	unsigned rounds = 0;
	struct good g;

	good_start(&g, false);
	do {
		snprintf(src, sizeof(src), "127.0.1.%u", rounds + 1);
		json_verbose = rounds == 0;
		json_round(src);
	} while (++rounds < 100 && g.total < GOOD_MIN);
	good_stop(&g, "json");
	printf("  json: %u rounds of %zu bodies, each a 4xx\n", rounds, json_rounds_bodies);
}

/* GET a path over TCP as the reader; the answer's body (malloc'd). */
static char *get_body(const char *path, long *ret_status)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " TOKEN_READER);
	char url[256];
	FILE *f;
	char *buf = NULL;
	size_t len = 0;

	TU_CHECK(c && h, "curl");
	f = open_memstream(&buf, &len);
	TU_CHECK(f != NULL, "open_memstream");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", D.port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)IO_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	TU_CHECK(curl_easy_perform(c) == CURLE_OK, "GET %s", path);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, ret_status);
	fclose(f);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return buf;
}

/* A guest name with an escaped NUL ("a\u0000b"): the strict JSON front check refuses it
 * (400; before it, opt_name() measured the name with strlen() and created a guest named "a").
 * Should one be created anyway, it is deleted again so that the check that nothing was
 * created still reports the rest. */
static void guest_nul_name(const char *src)
{
	static const char body[] = "{\"policy\": 1, \"name\": \"a\\u0000b\"}";
	char head[512], req[1024], extra[64], *h;
	int fd;
	struct answer a;

	snprintf(extra, sizeof(extra), "Content-Length: %zu\r\n", strlen(body));
	post_head(head, sizeof(head), "/v1/guests", extra);
	snprintf(req, sizeof(req), "%s%s", head, body);
	fd = connect_from(src, false);
	send_all(fd, req, strlen(req));
	read_answer(fd, &a);
	close(fd);
	TU_CHECK(!a.timeout && (a.status == 0 || a.status < 500), "name with NUL: %.60s", a.head);
	if (json_verbose)
		printf("    %-50s -> %d\n", "name with NUL (\\u0000)", a.status);
	if (a.status != 201) {
		TU_CHECK(a.status == 400, "name with NUL: %.60s", a.head);
		return;
	}
	h = strstr(a.head, "\"handle\":");
	TU_CHECK(h != NULL, "no handle in %s", a.head);
	snprintf(req, sizeof(req),
		 "DELETE /v1/guests/%ld HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN_ADMIN
		 "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
		 strtol(h + 9, NULL, 10));
	fd = connect_from(src, false);
	send_all(fd, req, strlen(req));
	read_answer(fd, &a);
	close(fd);
	TU_CHECK(a.status == 200, "DELETE of the NUL-named guest: %.60s", a.head);
}

/* Guest routes: names with traversal, bytes that are not UTF-8 or are controls, numbers that
 * overflow, oversized and endless bodies for a guest's data stream; nothing may be created. */
static void attack_guests(void)
{
	static const struct {
		const char *what, *body;
	} cases[] = {
		{ "policy 2^64", "{\"policy\": 18446744073709551616}" },
		{ "policy -1", "{\"policy\": -1}" },
		{ "policy 1e30", "{\"policy\": 1e30}" },
		{ "policy as string", "{\"policy\": \"1\"}" },
		{ "memory_size 2^64-1", "{\"policy\": 1, \"memory_size\": 18446744073709551615}" },
		{ "memory_size 2^64+1", "{\"policy\": 1, \"memory_size\": 18446744073709551617}" },
		{ "asid 2^32", "{\"policy\": 1, \"asid\": 4294967296}" },
		{ "name with traversal", "{\"policy\": 1, \"name\": \"../../etc/passwd\"}" },
		{ "name with a slash", "{\"policy\": 1, \"name\": \"a/b\"}" },
		{ "name not UTF-8", "{\"policy\": 1, \"name\": \"\xff\xfe\"}" },
		{ "name with a newline", "{\"policy\": 1, \"name\": \"a\\nb\"}" },
		{ "name of 300 bytes", "{\"policy\": 1, \"name\": \""
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "\"}" },
		{ "tenant with traversal", "{\"policy\": 1, \"tenant\": \"..\"}" },
		{ "session not base64", "{\"policy\": 1, \"session\": \"%%%%\"}" },
		{ "godh_cert too short", "{\"policy\": 1, \"godh_cert\": \"AAAA\"}" },
	};
	char head[512], src[32], *body, *big;
	unsigned rounds = 0;
	long status = 0;
	struct good g;
	int fd;
	struct answer a;

	good_start(&g, false);
	do {
		snprintf(src, sizeof(src), "127.0.3.%u", rounds + 1);
		json_verbose = rounds == 0;
		for (size_t i = 0; i < ELEMENTSOF(cases); i++)
			json_case(src, "/v1/guests", cases[i].what, cases[i].body,
				  strlen(cases[i].body), 0);
		/* A 100 KB launch body (over 64 KiB): 413 before the body. */
		big = malloc(100000);
		TU_CHECK(big != NULL, "malloc");
		memset(big, 'A', 100000);
		memcpy(big, "{\"policy\":1,\"godh_cert\":\"", strlen("{\"policy\":1,\"godh_cert\":\""));
		memcpy(big + 100000 - 2, "\"}", 2);
		json_case(src, "/v1/guests", "100 KB launch body", big, 100000, 413);
		guest_nul_name(src);
		free(big);
		/* Data streams of a guest that does not exist: a declared 1 TB and an endless chunked
		 * one are refused before their bodies. */
		post_head(head, sizeof(head), "/v1/guests/no-such-guest/data",
			  "Content-Length: 1000000000000\r\n");
		fd = connect_from(src, false);
		send_all(fd, head, strlen(head));
		read_answer(fd, &a);
		close(fd);
		if (json_verbose)
			printf("    %-50s -> %d\n", "data stream of 1 TB, no such guest", a.status);
		TU_CHECK(!a.timeout && a.status >= 400 && a.status < 500 && a.closed,
			 "1 TB data stream: status %d closed %d", a.status, a.closed);
		post_head(head, sizeof(head), "/v1/guests/no-such-guest/data",
			  "Transfer-Encoding: chunked\r\n");
		fd = connect_from(src, false);
		send_all(fd, head, strlen(head));
		for (int i = 0; i < 64; i++)
			send_all(fd, "1000\r\n", 6), send_all(fd, big = calloc(1, 4098), 4098),
				free(big);
		read_answer(fd, &a);
		close(fd);
		TU_CHECK(!a.timeout && (a.status == 0 || (a.status >= 400 && a.status < 500)),
			 "chunked data stream: status %d", a.status);
	} while (++rounds < 100 && g.total < GOOD_MIN);
	good_stop(&g, "guest routes");
	body = get_body("/v1/guests", &status);
	printf("  guests: %u rounds of %zu bodies + 2 streams, each a 4xx; GET /v1/guests -> %ld %s\n",
	       rounds, ELEMENTSOF(cases) + 2, status, body);
	TU_CHECK(status == 200 && strstr(body, "\"guests\"") && !strstr(body, "\"handle\""),
		 "a hostile request created a guest: %s", body);
	free(body);
}

/* ---- parser leniency ---- */

/* One raw request over TCP from src (or the Unix socket when src is NULL); the status, and
 * the answer's first bytes in a->head. The connection must be closed after the answer when
 * `closes` (the framing was in doubt: nothing after it may be read as a request). */
static int parse_case(const char *src, const char *what, const void *req, size_t len, int want,
		      const char *says, bool closes)
{
	int fd = src ? connect_from(src, false) : tu_unix_connect(D.unix_path);
	struct answer a;

	send_all(fd, req, len);
	read_answer(fd, &a);
	close(fd);
	printf("    %-50s -> %d\n", what, a.status);
	TU_CHECK(!a.timeout, "%s: no answer and no close within %d ms (a hang)", what,
		 IO_TIMEOUT_MS);
	TU_CHECK(a.status == want, "%s: answered %d, wanted %d: %.300s", what, a.status, want,
		 a.head);
	TU_CHECK(!says || strstr(a.head, says), "%s: the answer does not say '%s': %.300s", what,
		 says, a.head);
	TU_CHECK(!closes || (a.closed && !strstr(strstr(a.head, "\r\n\r\n") ?: a.head, "HTTP/1.")),
		 "%s: a second answer (the rest was read as a request): %.400s", what, a.head);
	return a.status;
}

static void parse_str(const char *src, const char *what, const char *req, int want,
		      const char *says, bool closes)
{
	parse_case(src, what, req, strlen(req), want, says, closes);
}

#define GET_ASIDS "GET /v1/asids HTTP/1.1\r\nHost: x\r\n"
#define AUTH_ADMIN "Authorization: Bearer " TOKEN_ADMIN "\r\n"
#define AUTH_READER "Authorization: Bearer " TOKEN_READER "\r\n"

static void parse_headers(const char *src)
{
	static const char nul_token[] = GET_ASIDS "Authorization: Bearer " TOKEN_READER
					"\0xyz\r\nConnection: close\r\n\r\n";
	static const char nul_path[] = "GET /v1/asids\0/x HTTP/1.1\r\nHost: x\r\n" AUTH_READER
				       "Connection: close\r\n\r\n";

	parse_str(src, "two Authorization headers (admin, reader)",
		  GET_ASIDS AUTH_ADMIN AUTH_READER "\r\n", 400, "Authorization headers", true);
	parse_str(src, "two Authorization headers (reader, bad)",
		  GET_ASIDS AUTH_READER "Authorization: Bearer nope\r\n\r\n", 400,
		  "Authorization headers", true);
	parse_str(src, "two different Content-Lengths, a request smuggled",
		  "POST /v1/platform/init HTTP/1.1\r\nHost: x\r\n" AUTH_ADMIN
		  "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}" GET_ASIDS AUTH_READER "\r\n",
		  400, "Content-Length", true);
	parse_case(src, "'Bearer <token>\\0xyz'", nul_token, sizeof(nul_token) - 1, 400, "NUL",
		   true);
	parse_case(src, "a NUL in the request target", nul_path, sizeof(nul_path) - 1, 400, "NUL",
		   true);
	parse_str(src, "Transfer-Encoding: gzip, chunked",
		  "POST /v1/platform/init HTTP/1.1\r\nHost: x\r\n" AUTH_ADMIN
		  "Transfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		  501, "gzip, chunked", true);
	parse_str(src, "Transfer-Encoding: identity",
		  "POST /v1/platform/init HTTP/1.1\r\nHost: x\r\n" AUTH_ADMIN
		  "Transfer-Encoding: identity\r\nContent-Length: 2\r\n\r\n{}",
		  400, "Transfer-Encoding", true);
	/* What stays accepted: one of each, bare LF line ends, spaces around values. */
	parse_str(src, "a plain request", GET_ASIDS AUTH_READER "Connection: close\r\n\r\n", 200,
		  "\"max\"", false);
	parse_str(src, "bare LF and spaces around values",
		  "GET /v1/asids HTTP/1.1\nHost:   x  \nAuthorization:\t Bearer " TOKEN_READER
		  "\nConnection: close\n\n",
		  200, "\"max\"", false);
}

/* The JSON bodies (to POST /v1/guests over the Unix socket: admin) and handle
 * spellings: each a 400 naming the problem, no guest created. */
static void parse_json_and_handles(void)
{
	static const struct {
		const char *what, *body, *says;
	} bodies[] = {
		{ "a trailing comma", "{\"policy\":1,}", "trailing commas" },
		{ "single quotes", "{'policy':1}", "single quotes" },
		{ "a leading zero", "{\"policy\":01}", "leading zero" },
		{ "-0", "{\"policy\":-0}", "-0 is not" },
		{ "duplicate keys (ES guest in tenant zz)",
		  "{\"policy\":1,\"policy\":5,\"tenant\":\"acme\",\"tenant\":\"zz\"}", "appears twice" },
		{ "policy 2^63", "{\"policy\":9223372036854775808}", "does not fit in 64 bits" },
		{ "memory_size 2^64", "{\"policy\":1,\"memory_size\":18446744073709551616}",
		  "does not fit in 64 bits" },
		{ "a comment", "{\"policy\":1}/* c */", "JSON value" },
	};
	static const struct {
		const char *path, *says;
	} handles[] = {
		{ "/v1/guests/0x1", "canonical form" },
		{ "/v1/guests/00001", "canonical form" },
		{ "/v1/guests/0", "out of range" },
		{ "/v1/guests/4294967296", "out of range" },
		{ "/v1/guests/9223372036854775808", "out of range" },
		{ "/v1/guests/18446744073709551616", "out of range" },
	};
	char req[512], what[96];
	long status = 0;
	char *body;

	for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
		snprintf(req, sizeof(req),
			 "POST /v1/guests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 strlen(bodies[i].body), bodies[i].body);
		snprintf(what, sizeof(what), "body with %s", bodies[i].what);
		parse_str(NULL, what, req, 400, bodies[i].says, false);
	}
	for (size_t i = 0; i < ELEMENTSOF(handles); i++) {
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			 handles[i].path);
		snprintf(what, sizeof(what), "GET %s", handles[i].path);
		parse_str(NULL, what, req, 400, handles[i].says, false);
		snprintf(req, sizeof(req),
			 "DELETE %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			 handles[i].path);
		snprintf(what, sizeof(what), "DELETE %s", handles[i].path);
		parse_str(NULL, what, req, 400, handles[i].says, false);
	}
	body = get_body("/v1/guests", &status);
	TU_CHECK(status == 200 && !strstr(body, "\"handle\""),
		 "a lenient body created a guest: %s", body);
	free(body);
}

static void attack_parsers(void)
{
	printf("  parsers:\n");
	parse_headers("127.0.4.1");
	parse_str(NULL, "Unix: Transfer-Encoding: gzip, chunked",
		  "POST /v1/platform/init HTTP/1.1\r\nHost: x\r\n"
		  "Transfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		  501, "gzip, chunked", true);
	parse_json_and_handles();
	check_alive("the parser cases");
}

/* Traversal and odd names in paths, NUL bytes and junk in the request line and headers,
 * unknown methods, overlong paths and header floods. */
static void paths_round(const char *src, unsigned *statuses)
{
	/* 400: refused before routing (dot segments, encoded '/', '\\', NUL, bad escapes);
	 * 0: any 4xx or a close. */
	static const struct {
		const char *path;
		int want;
	} paths[] = {
		{ "/v1/../../etc/passwd", 400 },
		{ "/../../../../etc/passwd", 400 },
		{ "/v1/%2e%2e/%2e%2e/etc/passwd", 400 },
		{ "/v1/platform/..%2f..%2f..%2fetc%2fpasswd", 400 },
		{ "/v1/platform%2fcerts", 400 },
		{ "/v1/platform%2Fcerts", 400 },
		{ "/v1/platform%5ccerts", 400 },
		{ "/v1/platform/%2e%2e", 400 },
		{ "/v1/platform/%2E", 400 },
		{ "/v1/platform/./certs", 400 },
		{ "//v1//platform//certs", 0 },
		{ "/v1/guests/..%2f..%2fetc%2fpasswd", 400 },
		{ "/v1/guests/%2e%2e", 400 },
		{ "/v1/guests/../../../etc/passwd/measurement", 400 },
		{ "/v1/guests/%00", 400 },
		{ "/v1/guests/a%00b", 400 },
		{ "/v1/guests/%0a", 400 },
		{ "/v1/guests/%ff%fe", 0 },
		{ "/v1/guests/...", 0 },
		{ "/v1/platform%00/certs", 400 },
		{ "/v1/platform/certs%", 400 },
		{ "/v1/platform/certs%zz", 400 },
		{ "/v1/platform/certs%+1", 400 },
		{ "/v1/PLATFORM", 404 },
		{ "/etc/passwd", 404 },
		{ "*", 0 },
		{ "http://127.0.0.1/../../etc/passwd", 0 },
	};
	static const char *const methods[] = { "FOO", "DELETE", "TRACE", "PROPFIND", "get",
					       "GET\x01", "G\xc3\xa9T",
					       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
					       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
	char req[1024], what[128], *big;

	for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
		snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " TOKEN_ADMIN
			 "\r\nConnection: close\r\n\r\n",
			 paths[i].path);
		snprintf(what, sizeof(what), "GET %s", paths[i].path);
		statuses[raw_expect_str(src, what, req, paths[i].want)]++;
	}
	for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
		snprintf(req, sizeof(req),
			 "%s /v1/platform HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
			 TOKEN_ADMIN "\r\nConnection: close\r\n\r\n",
			 methods[i]);
		snprintf(what, sizeof(what), "method %s", methods[i]);
		statuses[raw_expect_str(src, what, req, 0)]++;
	}
	/* NUL in the request line and in a header; a TLS hello on the plain port; no colon. */
	{
		static const char nul_path[] = "GET /v1/plat\0form HTTP/1.1\r\nHost: x\r\n\r\n";
		static const char nul_hdr[] = "GET /v1/platform HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n"
					      "Connection: close\r\n\r\n";
		static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
		static const char nocolon[] = "GET /v1/platform HTTP/1.1\r\nHost x\r\n\r\n";

		statuses[raw_expect(src, "NUL in the path", nul_path, sizeof(nul_path) - 1, 0)]++;
		statuses[raw_expect(src, "NUL in a header", nul_hdr, sizeof(nul_hdr) - 1, 0)]++;
		statuses[raw_expect(src, "TLS hello", tls, sizeof(tls) - 1, 0)]++;
		statuses[raw_expect_str(src, "header without colon", nocolon, 0)]++;
	}
	/* Overlong: a 100 KiB path, a 16 KiB path, 2,000 headers. */
	big = malloc(200000);
	TU_CHECK(big != NULL, "malloc");
	for (size_t len = 100000; len >= 16000; len = len == 100000 ? 16000 : 0) {
		size_t k = (size_t)sprintf(big, "GET /v1/");

		memset(big + k, 'a', len);
		sprintf(big + k + len, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
		snprintf(what, sizeof(what), "%zu-byte path", len);
		statuses[raw_expect_str(src, what, big, 0)]++;
	}
	{
		size_t k = (size_t)sprintf(big, "GET /v1/platform HTTP/1.1\r\nHost: x\r\n");

		for (int i = 0; i < 2000; i++)
			k += (size_t)sprintf(big + k, "X-H-%d: v\r\n", i);
		sprintf(big + k, "\r\n");
		statuses[raw_expect_str(src, "2,000 headers", big, 0)]++;
	}
	free(big);
}

static void attack_paths(void)
{
	unsigned statuses[600] = { 0 }, rounds = 0;
	char src[32];
	struct good g;

	good_start(&g, false);
	do {
		snprintf(src, sizeof(src), "127.0.2.%u", rounds + 1);
		paths_round(src, statuses);
	} while (++rounds < 100 && g.total < GOOD_MIN);
	good_stop(&g, "paths, methods, headers");
	printf("  paths/methods/headers: %u rounds\n", rounds);
	print_statuses("paths/methods/headers", statuses, 600);
}

/* The same traversal over the Unix socket (admin by peer credentials) through libcurl with
 * path normalization off. */
static void attack_paths_unix(void)
{
	static const char *const paths[] = { "/v1/../../etc/passwd", "/v1/%2e%2e/etc/passwd",
					     "/v1/guests/..%2f..%2fetc%2fpasswd", "/v1/platform%2f..",
					     "/v1/guests/%2e%2e/measurement" };
	unsigned n4xx = 0;

	for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
		CURL *c = curl_easy_init();
		char url[256];
		long status = 0;
		CURLcode cr;

		TU_CHECK(c != NULL, "curl");
		snprintf(url, sizeof(url), "http://localhost%s", paths[i]);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, D.unix_path);
		curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)IO_TIMEOUT_MS);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		cr = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(c);
		TU_CHECK(cr == CURLE_OK && status >= 400 && status < 500, "unix %s: %s, HTTP %ld",
			 paths[i], curl_easy_strerror(cr), status);
		n4xx++;
	}
	printf("  paths over the Unix socket: %u/%zu answered 4xx\n", n4xx, ELEMENTSOF(paths));
}

/* One client floods GET /healthz over one kept-alive connection: past its burst it gets 429
 * with Retry-After; the good client (its own address) is unaffected; after Retry-After the
 * flooder is served again. */
static void attack_flood(void)
{
	CURL *c = curl_easy_init();
	char url[128];
	unsigned n200 = 0, n429 = 0, other = 0;
	curl_off_t retry = 0, retry_min = 1 << 30;
	long status = 0;
	double start;
	struct good g;

	TU_CHECK(c != NULL, "curl");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", D.port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_INTERFACE, "127.0.0.8");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	good_start(&g, false);
	start = now_s();
	while (now_s() - start < 2.0) {
		TU_CHECK(curl_easy_perform(c) == CURLE_OK, "flood request failed");
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200)
			n200++;
		else if (status == 429) {
			n429++;
			TU_CHECK(curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry) == CURLE_OK,
				 "Retry-After");
			retry_min = MIN(retry_min, retry);
		} else
			other++;
	}
	good_stop(&g, "flood");
	printf("  flood: %u x 200, %u x 429 (Retry-After >= %lld s), %u other in 2 s\n", n200,
	       n429, (long long)retry_min, other);
	TU_CHECK(other == 0, "flood: %u answers neither 200 nor 429", other);
	TU_CHECK(n429 > 0, "flood: %u requests in 2 s and never a 429", n200);
	TU_CHECK(n200 >= BURST && n200 <= BURST + RATE * 3 + 10,
		 "flood: %u requests served (burst %d, %d/s)", n200, BURST, RATE);
	TU_CHECK(retry_min >= 1, "flood: Retry-After %lld", (long long)retry_min);
	sleep_ms((long)retry_min * 1000 + 100);
	TU_CHECK(curl_easy_perform(c) == CURLE_OK, "after Retry-After");
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	TU_CHECK_EQ(status, 200);
	curl_easy_cleanup(c);
}

/* ---- unauthenticated load and leaks ---- */

/* One GET over TCP from src with an optional token; the status and the body (malloc'd). */
static char *get_as(const char *src, const char *token, const char *path, long *ret_status)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[256], auth[128];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	TU_CHECK(c, "curl");
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(NULL, auth);
	}
	f = open_memstream(&buf, &len);
	TU_CHECK(f != NULL, "open_memstream");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", D.port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_INTERFACE, src);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)IO_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	TU_CHECK(curl_easy_perform(c) == CURLE_OK, "GET %s", path);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, ret_status);
	fclose(f);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return buf;
}

static long status_as(const char *src, const char *token, const char *path)
{
	long st = 0;

	free(get_as(src, token, path, &st));
	return st;
}

/* A series of /metrics as the reader (0 when absent). */
static uint64_t metric_value(const char *series)
{
	long st = 0;
	char *body = get_as("127.0.0.1", TOKEN_READER, "/metrics", &st), key[160];
	const char *p;
	uint64_t v = 0;

	TU_CHECK(st == 200, "GET /metrics as the reader: %ld", st);
	snprintf(key, sizeof(key), "\n%s ", series);
	p = strstr(body, key);
	if (p)
		v = strtoull(p + strlen(key), NULL, 10);
	free(body);
	return v;
}

/* The "pdh" field of a certs answer (malloc'd). */
static char *pdh_of(const char *body)
{
	const char *p = strstr(body, "\"pdh\":\"");

	TU_CHECK(p, "no pdh in %.200s", body);
	p += 7;
	return strndup(p, strcspn(p, "\""));
}

#define PDH_EXPORTS "sevd_commands_total{command=\"PDH_CERT_EXPORT\",status=\"SUCCESS\"}"

/* A body trickled at a byte per 500 ms by an authenticated client: closed by the body
 * deadline (BODY_TIMEOUT_S after its headers; the idle timeout never fires), bounded at 20
 * bytes (10 s). Run against this test's limits. */
static void attack_slow_body(void)
{
	int fd = connect_from("127.0.5.9", false);
	char head[512];
	bool closed = false;
	double start = now_s();
	int i;

	post_head(head, sizeof(head), "/v1/platform/init", "Content-Length: 100\r\n");
	send_all(fd, head, strlen(head));
	for (i = 0; i < 20 && !closed; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char b;

		sleep_ms(500);
		if (send(fd, "{", 1, MSG_NOSIGNAL) != 1 ||
		    (poll(&p, 1, 0) == 1 && recv(fd, &b, 1, MSG_DONTWAIT) <= 0))
			closed = true;
	}
	close(fd);
	printf("  slow body: closed by sevd after %d bytes, %.1f s (body_timeout %d s)\n", i,
	       now_s() - start, BODY_TIMEOUT_S);
	TU_CHECK(closed, "a body trickled at a byte per 500 ms was still open after %d bytes", i);
	check_alive("the slow body");
}

/* Against sevd's defaults: GET /v1/platform/certs without a token is cached (one export per
 * age bound at most) and invalidated by PDH_GEN; unauthenticated callers are rate limited,
 * the reader from the same address is not; /metrics is the reader's. */
static void attack_unauthenticated(void)
{
	unsigned n200 = 0, n429 = 0, other = 0, n = 300;
	uint64_t exports0 = metric_value(PDH_EXPORTS), exports, hits;
	char *body, *pdh1, *pdh2;
	double start = now_s(), secs;
	long st = 0;

	for (unsigned i = 0; i < n; i++) {
		st = status_as("127.0.5.1", NULL, "/v1/platform/certs");
		n200 += st == 200;
		n429 += st == 429;
		other += st != 200 && st != 429;
	}
	secs = now_s() - start;
	exports = metric_value(PDH_EXPORTS) - exports0;
	hits = metric_value("sevd_cache_hits_total{command=\"PDH_CERT_EXPORT\"}");
	printf("  unauthenticated certs: %u x 200, %u x 429 in %.2f s; %llu PDH_CERT_EXPORT, "
	       "%llu cache hits\n",
	       n200, n429, secs, (unsigned long long)exports, (unsigned long long)hits);
	TU_CHECK(other == 0, "%u answers neither 200 nor 429", other);
	TU_CHECK(n429 > 0, "%u unauthenticated requests in %.2f s and never a 429 (default "
			   "public_rate_limit)", n, secs);
	TU_CHECK(exports <= 2 + (uint64_t)secs, "%llu PDH_CERT_EXPORT for %u answers in %.2f s: "
						"not cached", (unsigned long long)exports, n200, secs);
	TU_CHECK(status_as("127.0.5.1", TOKEN_READER, "/v1/platform/certs") == 200,
		 "the reader is limited with the public callers of its address");
	/* A new PDH shows at once, however young the entry. */
	body = get_as("127.0.5.2", TOKEN_READER, "/v1/platform/certs", &st);
	pdh1 = pdh_of(body);
	free(body);
	{
		char head[512];
		int fd = connect_from("127.0.5.2", false);
		struct answer a;

		post_head(head, sizeof(head), "/v1/platform/pdh", "Content-Length: 0\r\n");
		send_all(fd, head, strlen(head));
		read_answer(fd, &a);
		close(fd);
		TU_CHECK(a.status == 200, "PDH_GEN as admin: %.100s", a.head);
	}
	body = get_as("127.0.5.2", TOKEN_READER, "/v1/platform/certs", &st);
	pdh2 = pdh_of(body);
	free(body);
	TU_CHECK(strcmp(pdh1, pdh2), "the certs answer after PDH_GEN still holds the old PDH");
	free(pdh1);
	free(pdh2);
	/* /metrics: the reader's by default. */
	st = status_as("127.0.5.3", NULL, "/metrics");
	TU_CHECK(st == 401, "GET /metrics without a token: %ld (reader by default)", st);
	TU_CHECK(status_as("127.0.5.3", TOKEN_READER, "/metrics") == 200, "/metrics as reader");
	printf("  /metrics without a token: %ld; as the reader: 200\n", st);
}

/* With --idle-uid only the per-uid idle connection check runs (a test case of its own,
 * daemon-hostile-idle-uid, that SKIPs with the reason when not root), so that the count says
 * whether it ran; without it, every other attack. */
int main(int argc, char *argv[])
{
	bool idle_uid = argc > 1 && strcmp(argv[1], "--idle-uid") == 0;
	int st;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!getenv("SEVD_EXE") || !getenv("SEV_PSP_EMU_EXE"))
		tu_skip("SEVD_EXE / SEV_PSP_EMU_EXE not set (run through meson test)");
	if (idle_uid && geteuid() != 0)
		tu_skip("the per-uid idle connection check needs root (to become nobody)");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	D.dir = tu_mkdtemp();
	D.unix_path = path_join(D.dir, "api.sock");
	TU_CHECK(tu_emu_start(D.dir, NULL, &D.emu) == 0, "emulator did not start");
	sevd_start(false);

	if (idle_uid) {
		attack_idle_unix_uid();
	} else {
		attack_slowloris();
		attack_idle_one_address();
		attack_idle_overall_limit();
		attack_bodies();
		attack_json();
		attack_guests();
		attack_paths();
		attack_paths_unix();
		attack_parsers();
		attack_slow_body();
		TU_CHECK(status_as("127.0.5.4", NULL, "/metrics") == 200, "metrics_public = yes");
		attack_flood();
	}

	st = tu_stop(D.pid, 20000);
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sevd did not stop cleanly: 0x%x", st);
	if (!idle_uid) { /* against sevd's defaults */
		sevd_start(true);
		attack_unauthenticated();
		st = tu_stop(D.pid, 20000);
	}
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sevd did not stop cleanly: 0x%x", st);
	tu_emu_stop(&D.emu);
	tu_rmtree(D.dir);
	curl_global_cleanup();
	tu_done(idle_uid ? "daemon-hostile-idle-uid" : "daemon-hostile");
}
