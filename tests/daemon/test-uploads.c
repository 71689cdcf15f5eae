/* Sixteen slow uploads froze the whole API. Each image upload holds one of
 * the worker's 16 core channels to its end, and a call waited for a channel without end: 16
 * uploads declaring 1 MiB and sending a byte now and then made /healthz, /v1/asids,
 * /v1/guests and /v1/platform time out, while the watchdog was still fed.
 *
 * Against the real sev-psp-emu and sevd (privilege-separated worker) over 127.0.0.1 and the
 * Unix socket, with four launcher tokens A..D and upload_limit = 12,
 * upload_limit_per_principal = 4, reserved_channels = 3, channel_wait = 1, body_timeout = 15:
 *   1. A opens 4 slow uploads; its fifth is refused 429 upload_limit naming
 *      upload_limit_per_principal (after the bounded wait, not never).
 *   2. B and C open 4 each (12 held channels); D's 4 are refused 429 naming upload_limit. So
 *      sixteen slow uploads were sent at once, as in the issue.
 *   3. A launch hangs in firmware (the emulator's fault plan: LAUNCH_START stalls 4 s) on the
 *      one channel left for calls; another launch gets 503 busy naming the uploads that hold
 *      the channels, after channel_wait, instead of waiting.
 *   4. While the 12 uploads demonstrably still hold their requests open (no answer, socket
 *      open, and they keep taking bytes) and the launch still hangs, GET /healthz as root on
 *      the Unix socket answers 200 within 1 s, and /v1/asids, /v1/guests and /v1/platform
 *      answer 200 too.
 *   5. The body deadline applies to uploads holding a channel: sevd cuts the 12 trickles
 *      (body_timeout), their channels and admissions are given back, and A's next upload
 *      into a fresh guest is admitted and completes.
 * On the code before the fix, 1 already fails: A's fifth upload waits for a channel with no
 * answer (and with 16 uploads held, /healthz waits until the body deadline cuts them).
 * Every wait is bounded. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "daemon/worker/auth.h"
#include "tests/testutil.h"

#define N_PRINCIPALS 4
#define PER_PRINCIPAL 4
#define UPLOAD_LIMIT 12
#define RESERVED 3
#define BODY_TIMEOUT_S 15
#define N_GUESTS (N_PRINCIPALS * PER_PRINCIPAL + 2) /* + A's fifth, + A's last */
#define DECLARED (1024 * 1024)			  /* each slow upload's Content-Length */
#define HANG_S 4 /* LAUNCH_START's stall: well inside the 30 s command timeout */
/* The health answer's bound. /healthz is a HEALTH round trip that reads memory in the core
 * (no firmware command): a few ms, also under ASan on a loaded 2-core machine. 1 s, the
 * issue's contract, leaves two orders of magnitude. Before the fix it waited for the
 * uploads' body deadline (15 s here), so the bound cannot pass by luck; and it is measured
 * only while the uploads are shown to be still open (checked before and after). */
#define HEALTH_BOUND_MS 1000
#define IO_MS 20000 /* any other answer: longer than every wait sevd has here */

static const char *const tokens[N_PRINCIPALS] = {
    "uploads-launcher-a-5d1f", "uploads-launcher-b-92c0", "uploads-launcher-c-0b7e",
    "uploads-launcher-d-e413"};

static struct {
	char *dir, *unix_path;
	struct tu_emu emu;
	pid_t pid;
	int port;
	uint32_t guest[N_GUESTS];
} D;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* ---- raw HTTP ---- */

static int connect_tcp(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)D.port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	TU_CHECK(fd >= 0, "socket: %s", strerror(errno));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	TU_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect 127.0.0.1:%d: %s",
		 D.port, strerror(errno));
	return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		TU_CHECK(n > 0, "send: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* One answer on fd within timeout_ms into buf (NUL-terminated): its status, or -1 when none
 * came in time, 0 when the connection closed without one. Reads to the end of the body
 * (Content-Length) or of the connection. */
static int read_answer(int fd, char *buf, size_t size, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	size_t len = 0;
	char *hdr_end, *cl;

	buf[0] = '\0';
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = deadline - now_ms();
		ssize_t n;

		if ((hdr_end = strstr(buf, "\r\n\r\n"))) {
			cl = strcasestr(buf, "\r\nContent-Length:");
			if (cl && cl < hdr_end &&
			    len >= (size_t)(hdr_end + 4 - buf) + strtoul(cl + 17, NULL, 10))
				break;
		}
		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) <= 0)
			return -1;
		n = recv(fd, buf + len, size - 1 - len, 0);
		if (n <= 0 || len + (size_t)n >= size - 1) {
			if (n > 0)
				len += (size_t)n;
			buf[len] = '\0';
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
	}
	if (strncmp(buf, "HTTP/1.1 ", 9))
		return 0;
	return atoi(buf + 9);
}

/* A whole request on a new connection (Unix as root, or TCP with a token); the status. */
static int request(bool unix_sock, const char *token, const char *method, const char *path,
		   const char *body, char *out, size_t size, int timeout_ms)
{
	char head[1024];
	int fd = unix_sock ? tu_unix_connect(D.unix_path) : connect_tcp(), st;
	size_t blen = body ? strlen(body) : 0;

	snprintf(head, sizeof(head),
		 "%s %s HTTP/1.1\r\nHost: sevd\r\nConnection: close\r\n%s%s%s"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		 method, path, token ? "Authorization: Bearer " : "", token ? token : "",
		 token ? "\r\n" : "", blen);
	send_all(fd, head, strlen(head));
	if (blen)
		send_all(fd, body, blen);
	st = read_answer(fd, out, size, timeout_ms);
	close(fd);
	return st;
}

static const char *body_of(const char *answer)
{
	const char *b = strstr(answer, "\r\n\r\n");

	return b ? b + 4 : "";
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

static void sevd_start(void)
{
	_cleanup_free_ char *conf = path_join(D.dir, "sevd.conf");
	static const char *const plain[] = {"--allow-plain-tcp", NULL};
	char psp[512];
	FILE *f = fopen(conf, "w");

	TU_CHECK(f != NULL, "cannot write %s", conf);
	for (unsigned i = 0; i < N_PRINCIPALS; i++)
		token_line(f, "launcher", tokens[i]);
	fprintf(f,
		"upload_limit = %d\nupload_limit_per_principal = %d\nreserved_channels = %d\n"
		"channel_wait = 1\nbody_timeout = %d\n",
		UPLOAD_LIMIT, PER_PRINCIPAL, RESERVED, BODY_TIMEOUT_S);
	fclose(f);
	D.port = tu_free_port();
	snprintf(psp, sizeof(psp), "emu:%s", D.emu.socket);
	D.pid = tu_sevd_start(&(struct tu_sevd_opts){.dir = D.dir, .psp = psp,
		.unix_path = D.unix_path, .tcp_scheme = "tcp", .tcp_port = D.port,
		.config = conf, .extra_args = plain});
}

static uint32_t launch(void)
{
	char out[8192];
	const char *h;
	int st = request(true, NULL, "POST", "/v1/guests", "{\"policy\":1}", out, sizeof(out),
			 IO_MS);

	TU_CHECK(st == 201 || st == 200, "launch: HTTP %d: %s", st, body_of(out));
	h = strstr(out, "\"handle\":");
	TU_CHECK(h != NULL, "no handle in %s", body_of(out));
	return (uint32_t)strtoul(h + 9, NULL, 10);
}

/* The worker's channel gauge (sevd_worker_core_channels{use=...}), -1 when /metrics has none
 * (the code before the fix). */
static long channels(const char *use)
{
	char out[65536], series[64];
	const char *p;
	int st = request(true, NULL, "GET", "/metrics", NULL, out, sizeof(out), IO_MS);

	TU_CHECK(st == 200, "/metrics: HTTP %d", st);
	snprintf(series, sizeof(series), "sevd_worker_core_channels{use=\"%s\"} ", use);
	p = strstr(out, series);
	return p ? strtol(p + strlen(series), NULL, 10) : -1;
}

/* Until `want` channels are held by uploads (bounded). */
static void wait_held(long want)
{
	long deadline = now_ms() + IO_MS, held = -1;

	while (now_ms() < deadline && (held = channels("upload")) != want) {
		if (held < 0) { /* no gauge (before the fix): give the uploads time, go on */
			sleep_ms(2000);
			return;
		}
		sleep_ms(50);
	}
	TU_CHECK(held == want, "%ld core channels held by uploads, expected %ld (log %s/sevd.log)",
		 held, want, D.dir);
}

/* ---- slow uploads ---- */

struct slow {
	int fd;
	unsigned principal;
	uint32_t guest;
	atomic_ulong sent; /* body bytes sent */
};

static struct slow slow[N_PRINCIPALS * PER_PRINCIPAL];
static atomic_bool trickle_stop;

/* The headers with a 1 MiB Content-Length and one byte. */
static void slow_open(struct slow *s, unsigned principal, uint32_t guest)
{
	char head[512];

	s->principal = principal;
	s->guest = guest;
	s->fd = connect_tcp();
	snprintf(head, sizeof(head),
		 "POST /v1/guests/%u/data HTTP/1.1\r\nHost: sevd\r\nAuthorization: Bearer %s\r\n"
		 "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\nZ",
		 guest, tokens[principal], DECLARED);
	send_all(s->fd, head, strlen(head));
	atomic_store(&s->sent, 1);
}

/* No answer and not closed: the request is still open in sevd. */
static bool slow_still_open(const struct slow *s)
{
	struct pollfd p = {.fd = s->fd, .events = POLLIN};

	return poll(&p, 1, 0) == 0;
}

/* A byte every 250 ms to each upload that is open and admitted, as the attacker. */
static void *trickle_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&trickle_stop)) {
		for (unsigned i = 0; i < ELEMENTSOF(slow); i++)
			if (slow[i].fd >= 0 && slow[i].principal < 3 && slow_still_open(&slow[i]) &&
			    send(slow[i].fd, "Z", 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
				atomic_fetch_add(&slow[i].sent, 1);
		sleep_ms(250);
	}
	return NULL;
}

static void expect_limit(struct slow *s, const char *named, const char *what)
{
	char out[8192];
	int st = read_answer(s->fd, out, sizeof(out), IO_MS);

	TU_CHECK(st == 429, "%s: HTTP %d (expected 429 upload_limit; -1 = no answer in %d s): %s",
		 what, st, IO_MS / 1000, out);
	TU_CHECK(strstr(out, "\"upload_limit\"") != NULL, "%s: not code upload_limit: %s", what,
		 body_of(out));
	TU_CHECK(strstr(out, named) != NULL, "%s: the refusal does not name '%s': %s", what,
		 named, body_of(out));
	TU_CHECK(strcasestr(out, "\r\nRetry-After:") != NULL, "%s: no Retry-After: %s", what, out);
	printf("  %s: 429 %s\n", what, strstr(body_of(out), "\"message\""));
	close(s->fd);
	s->fd = -1;
}

/* ---- a launch that hangs in firmware, holding the one channel left for calls ---- */

static int hung_status;
static void *hung_launch_main(void *arg)
{
	char out[8192];

	(void)arg;
	hung_status = request(true, NULL, "POST", "/v1/guests", "{\"policy\":1}", out,
			      sizeof(out), IO_MS);
	return NULL;
}

static void run(void)
{
	pthread_t trickle, hung;
	char out[65536];
	static const char *const reads[] = {"/v1/asids", "/v1/guests", "/v1/platform"};
	long t0, health_ms, call;
	int st;

	for (unsigned i = 0; i < N_GUESTS; i++)
		D.guest[i] = launch();
	for (unsigned i = 0; i < ELEMENTSOF(slow); i++)
		slow[i].fd = -1;
	TU_CHECK(pthread_create(&trickle, NULL, trickle_main, NULL) == 0, "thread");

	/* 1: A's four, then its fifth. */
	for (unsigned i = 0; i < PER_PRINCIPAL; i++)
		slow_open(&slow[i], 0, D.guest[i]);
	wait_held(PER_PRINCIPAL);
	{
		struct slow fifth = {.fd = -1};

		slow_open(&fifth, 0, D.guest[N_GUESTS - 2]);
		expect_limit(&fifth, "upload_limit_per_principal = 4", "A's fifth upload");
	}

	/* 2: B and C fill upload_limit; D's four are refused. */
	for (unsigned i = PER_PRINCIPAL; i < 3 * PER_PRINCIPAL; i++)
		slow_open(&slow[i], i / PER_PRINCIPAL, D.guest[i]);
	wait_held(UPLOAD_LIMIT);
	for (unsigned i = 3 * PER_PRINCIPAL; i < ELEMENTSOF(slow); i++)
		slow_open(&slow[i], 3, D.guest[i]);
	for (unsigned i = 3 * PER_PRINCIPAL; i < ELEMENTSOF(slow); i++)
		expect_limit(&slow[i], "upload_limit = 12", "D's upload");

	/* 3: a launch hangs on the last channel for calls; another one is answered 503. */
	TU_CHECK(pthread_create(&hung, NULL, hung_launch_main, NULL) == 0, "thread");
	t0 = now_ms();
	while ((call = channels("call")) < 1 && now_ms() - t0 < IO_MS)
		sleep_ms(20); /* the scrape's own channel is back before the text is made */
	TU_CHECK(call == 1, "the hanging launch never took a channel (%ld)", call);
	st = request(true, NULL, "POST", "/v1/guests", "{\"policy\":1}", out, sizeof(out), IO_MS);
	TU_CHECK(st == 503 && strstr(out, "\"busy\"") &&
		     strstr(out, "12 held by image uploads") && strstr(out, "upload_limit"),
		 "a launch with every call channel taken: HTTP %d: %s", st, body_of(out));
	printf("  launch behind the hung one: 503 %s\n", strstr(body_of(out), "\"message\""));

	/* 4: health while the uploads hold their requests open. */
	for (unsigned i = 0; i < UPLOAD_LIMIT; i++)
		TU_CHECK(slow_still_open(&slow[i]), "upload %u was answered or closed early", i);
	t0 = now_ms();
	st = request(true, NULL, "GET", "/healthz", NULL, out, sizeof(out), IO_MS);
	health_ms = now_ms() - t0;
	TU_CHECK(st == 200, "/healthz with 12 uploads held: HTTP %d: %s", st, body_of(out));
	TU_CHECK(health_ms < HEALTH_BOUND_MS, "/healthz took %ld ms with 12 uploads held", health_ms);
	for (unsigned i = 0; i < ELEMENTSOF(reads); i++) {
		long t = now_ms();

		st = request(true, NULL, "GET", reads[i], NULL, out, sizeof(out), IO_MS);
		TU_CHECK(st == 200, "GET %s with 12 uploads held: HTTP %d: %s", reads[i], st,
			 body_of(out));
		printf("  GET %s: 200 in %ld ms\n", reads[i], now_ms() - t);
	}
	TU_CHECK(channels("upload") == UPLOAD_LIMIT, "the uploads let go of their channels");
	{
		unsigned long before = 0, after = 0;

		for (unsigned i = 0; i < UPLOAD_LIMIT; i++)
			before += atomic_load(&slow[i].sent);
		sleep_ms(600);
		for (unsigned i = 0; i < UPLOAD_LIMIT; i++) {
			TU_CHECK(slow_still_open(&slow[i]), "upload %u ended during the check", i);
			after += atomic_load(&slow[i].sent);
		}
		TU_CHECK(after > before, "the uploads stopped taking bytes (%lu)", after);
		printf("  /healthz: 200 in %ld ms while 12 uploads held channels (%lu bytes "
		       "trickled, still open) and a launch hung in firmware\n",
		       health_ms, after);
	}
	TU_CHECK(pthread_join(hung, NULL) == 0, "join");
	TU_CHECK(hung_status == 201 || hung_status == 200, "the hung launch: HTTP %d",
		 hung_status);

	/* 5: the body deadline cuts the trickles; their channels come back. (The trickle
	 * stops first: the fds are closed below.) */
	atomic_store(&trickle_stop, true);
	TU_CHECK(pthread_join(trickle, NULL) == 0, "join");
	t0 = now_ms();
	for (unsigned i = 0; i < UPLOAD_LIMIT; i++) {
		int left = (int)(t0 + (BODY_TIMEOUT_S + 20) * 1000L - now_ms());

		st = read_answer(slow[i].fd, out, sizeof(out), left > 0 ? left : 1);
		TU_CHECK(st >= 0, "upload %u still open %d s after body_timeout = %d", i, 20,
			 BODY_TIMEOUT_S);
		close(slow[i].fd);
		slow[i].fd = -1;
	}
	printf("  the 12 trickles were cut by body_timeout within %ld ms of the health check\n",
	       now_ms() - t0);
	wait_held(0);
	{
		char head[512];
		static char img[4096];
		int fd = connect_tcp();

		memset(img, 0x5a, sizeof(img));
		snprintf(head, sizeof(head),
			 "POST /v1/guests/%u/data HTTP/1.1\r\nHost: sevd\r\nConnection: close\r\n"
			 "Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"
			 "Content-Length: %zu\r\n\r\n",
			 D.guest[N_GUESTS - 1], tokens[0], sizeof(img));
		send_all(fd, head, strlen(head));
		send_all(fd, img, sizeof(img));
		st = read_answer(fd, out, sizeof(out), IO_MS);
		close(fd);
		TU_CHECK(st == 200 && strstr(out, "\"uploaded\":4096"),
			 "A's upload after its slow ones were cut: HTTP %d: %s", st, body_of(out));
	}
}

int main(void)
{
	static const char *const fault[] = {"--fault", "LAUNCH_START:hang=4:nth=19", NULL};
	int st;

	if (!getenv("SEVD_EXE") || !getenv("SEV_PSP_EMU_EXE"))
		tu_skip("SEVD_EXE or SEV_PSP_EMU_EXE not set (run through meson test)");
	D.dir = tu_mkdtemp();
	D.unix_path = path_join(D.dir, "api.sock");
	/* The 19th LAUNCH_START (N_GUESTS launches before it) stalls HANG_S seconds. */
	_Static_assert(N_GUESTS + 1 == 19, "the fault plan counts the launches");
	_Static_assert(HANG_S == 4, "the fault plan's hang");
	TU_CHECK(tu_emu_start(D.dir, fault, &D.emu) == 0, "emulator did not start");
	sevd_start();
	run();
	st = tu_stop(D.pid, 30000);
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sevd did not exit cleanly: 0x%x", st);
	tu_emu_stop(&D.emu);
	tu_rmtree(D.dir);
	free(D.dir);
	free(D.unix_path);
	tu_done("daemon-uploads");
}
