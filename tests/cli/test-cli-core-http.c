/* sevadm's HTTP/1.1 client (cli/http-client.c) against a tiny loopback server in this test:
 * what it sends (request line, Host, bearer token, Content-Length and chunked bodies) and how
 * it reads what comes back — Content-Length, chunked (extensions, trailers, upper-case hex),
 * close-delimited, 1xx, and every way an answer can be wrong: truncated, oversized, malformed,
 * silent (timeout). Also Unix sockets, refused connections and TLS with certificate and host
 * name checks; the body progress callback (what `sevadm fetch` draws on a terminal). The
 * server is a thread serving one canned answer per connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/http-client.h"
#include "common/macros.h"
#include "common/util.h"
#include "tests/testutil.h"

struct server {
	int lfd;
	SSL_CTX *ssl_ctx;  /* non-NULL: TLS */
	const char *answer; /* sent after the request was read; NULL: say nothing */
	size_t answer_len;
	bool silent;	   /* read the request, then wait for the client to give up */
	char req[256 * 1024];
	size_t req_len;
	pthread_t thread;
	char endpoint[128];
};

static ssize_t srv_read(SSL *ssl, int fd, void *buf, size_t len)
{
	if (ssl) {
		int k = SSL_read(ssl, buf, (int)len);
		return k > 0 ? k : 0;
	}
	return read(fd, buf, len);
}

static void srv_write(SSL *ssl, int fd, const void *buf, size_t len)
{
	if (ssl) {
		if (len)
			SSL_write(ssl, buf, (int)len);
	} else
		(void)loop_write(fd, buf, len);
}

/* Is the request in s->req complete (head + Content-Length body or chunked body)? */
static bool request_complete(const struct server *s)
{
	const char *end = memmem(s->req, s->req_len, "\r\n\r\n", 4);
	const char *cl;

	if (!end)
		return false;
	size_t head = (size_t)(end - s->req) + 4;
	if (memmem(s->req, head, "Transfer-Encoding: chunked", 26))
		return s->req_len >= head + 5 && memcmp(s->req + s->req_len - 5, "0\r\n\r\n", 5) == 0;
	cl = memmem(s->req, head, "Content-Length: ", 16);
	if (!cl)
		return true;
	return s->req_len >= head + strtoull(cl + 16, NULL, 10);
}

static void *serve(void *userdata)
{
	struct server *s = userdata;
	int fd = accept(s->lfd, NULL, NULL);
	SSL *ssl = NULL;

	if (fd < 0)
		return NULL;
	if (s->ssl_ctx) {
		ssl = SSL_new(s->ssl_ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) != 1)
			goto out; /* the client refused our certificate */
	}
	while (!request_complete(s) && s->req_len < sizeof(s->req)) {
		ssize_t n = srv_read(ssl, fd, s->req + s->req_len, sizeof(s->req) - s->req_len);
		if (n <= 0)
			break;
		s->req_len += (size_t)n;
	}
	if (s->silent) {
		char b[64];
		while (srv_read(ssl, fd, b, sizeof(b)) > 0)
			;
	} else if (s->answer) {
		srv_write(ssl, fd, s->answer, s->answer_len);
		if (ssl)
			SSL_shutdown(ssl);
	}
out:
	SSL_free(ssl);
	close(fd);
	return NULL;
}

static void server_start_tcp(struct server *s, SSL_CTX *ssl_ctx, const char *answer)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	memset(s, 0, sizeof(*s));
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	TU_CHECK(s->lfd >= 0, "socket: %m");
	TU_CHECK(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind: %m");
	TU_CHECK(listen(s->lfd, 4) == 0, "listen: %m");
	TU_CHECK(getsockname(s->lfd, (struct sockaddr *)&sa, &len) == 0, "getsockname: %m");
	s->ssl_ctx = ssl_ctx;
	s->answer = answer;
	s->answer_len = answer ? strlen(answer) : 0;
	snprintf(s->endpoint, sizeof(s->endpoint), "%s://127.0.0.1:%u", ssl_ctx ? "https" : "http",
		 ntohs(sa.sin_port));
	TU_CHECK(pthread_create(&s->thread, NULL, serve, s) == 0, "pthread_create");
}

static void server_stop(struct server *s)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

/* One request against a fresh server answering `answer`; returns the client's result. */
static int exchange(const char *answer, size_t max_response, int timeout_ms, bool silent,
		    struct http_response *resp, char *err, size_t errlen)
{
	struct http_client_opts o = { .max_response = max_response, .timeout_ms = timeout_ms };
	struct http_client *c = NULL;
	struct server s;
	int r;

	server_start_tcp(&s, NULL, answer);
	s.silent = silent;
	TU_CHECK_EQ(http_client_new(s.endpoint, &o, &c), 0);
	r = http_request(c, "GET", "/v1/platform", NULL, NULL, 0, resp);
	snprintf(err, errlen, "%s", http_client_error(c));
	http_client_free(c);
	server_stop(&s);
	return r;
}

static void test_framing_ok(void)
{
	static const struct {
		const char *name, *answer, *body;
		int status;
	} cases[] = {
		{ "content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "hello", 200 },
		{ "empty", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "", 200 },
		{ "chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			     "3\r\nabc\r\nA;ext=1\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n",
		  "abc0123456789", 200 },
		{ "chunked-wins", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n"
				  "Transfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		  "ok", 200 },
		{ "close-delimited", "HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\n\r\n"
				     "{\"error\":{}}",
		  "{\"error\":{}}", 404 },
		{ "continue-first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
				    "content-length:  2 \r\n\r\nhi",
		  "hi", 201 },
		{ "bare-lf", "HTTP/1.1 200 OK\nContent-Length: 3\n\nabc", "abc", 200 },
		{ "dup-same-length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
		  "x", 200 },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct http_response resp = {};
		char err[1024];
		int r = exchange(cases[i].answer, 0, 5000, false, &resp, err, sizeof(err));
		TU_CHECK(r == 0, "%s: %d %s", cases[i].name, r, err);
		TU_CHECK_EQ(resp.status, cases[i].status);
		TU_CHECK(resp.body_len == strlen(cases[i].body) && strcmp((char *)resp.body, cases[i].body) == 0,
			 "%s: body '%s'", cases[i].name, (char *)resp.body);
		http_response_clear(&resp);
	}
}

/* What the progress callback saw: calls, the last count and total, and whether the counts
 * ever went down. */
struct seen {
	unsigned calls;
	uint64_t done, total;
	bool backwards;
};

static void on_body(void *userdata, uint64_t done, uint64_t total)
{
	struct seen *s = userdata;

	s->backwards |= s->calls && done < s->done;
	s->calls++;
	s->done = done;
	s->total = total;
}

/* The body progress callback: Content-Length gives the total (and a 0-byte call first), a
 * chunked or close-delimited answer a total of 0; the last call is the whole body; a body of
 * 40,000 bytes arrives in more than one call. */
static void test_body_progress(void)
{
	static char big[40000 + 100];
	static const struct {
		const char *name, *answer;
		uint64_t len, total;
	} cases[] = {
		{ "content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 5, 5 },
		{ "chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			     "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n", 7, 0 },
		{ "close-delimited", "HTTP/1.0 200 OK\r\n\r\nuntil close", 11, 0 },
		{ "large", big, 40000, 40000 },
	};
	int n = snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nContent-Length: 40000\r\n\r\n");
	memset(big + n, 'x', 40000);
	big[n + 40000] = 0;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct seen seen = {};
		struct http_client_opts o = { .on_body = on_body, .on_body_userdata = &seen };
		struct http_response resp = {};
		struct http_client *c = NULL;
		struct server s;

		server_start_tcp(&s, NULL, cases[i].answer);
		TU_CHECK_EQ(http_client_new(s.endpoint, &o, &c), 0);
		TU_CHECK(http_request(c, "GET", "/vcek/v1/Milan/cert_chain", NULL, NULL, 0, &resp) == 0,
			 "%s: %s", cases[i].name, http_client_error(c));
		http_client_free(c);
		server_stop(&s);
		TU_CHECK_EQ(resp.body_len, cases[i].len);
		TU_CHECK(seen.calls >= 1 && seen.done == cases[i].len && seen.total == cases[i].total &&
				 !seen.backwards, "%s: %u calls, last %llu of %llu", cases[i].name,
			 seen.calls, (unsigned long long)seen.done, (unsigned long long)seen.total);
		if (i == 3)
			TU_CHECK(seen.calls >= 3, "40,000 bytes in %u progress calls", seen.calls);
		http_response_clear(&resp);
	}
}

static void test_framing_bad(void)
{
	static const struct {
		const char *name, *answer, *msg;
		int err;
		size_t max;
	} cases[] = {
		{ "truncated-length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", "cut short",
		  -EPROTO, 0 },
		{ "truncated-chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
		  "cut short", -EPROTO, 0 },
		{ "no-last-chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
		  "cut short", -EPROTO, 0 },
		{ "truncated-head", "HTTP/1.1 200 OK\r\nContent-Le", "cut short", -EPROTO, 0 },
		{ "nothing", "", "cut short", -EPROTO, 0 },
		{ "oversized-length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "larger than",
		  -EFBIG, 64 },
		{ "oversized-chunks", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				      "20\r\n0123456789abcdef0123456789abcdef\r\n"
				      "30\r\n0123456789abcdef0123456789abcdef0123456789abcdef\r\n0\r\n\r\n",
		  "larger than", -EFBIG, 64 },
		{ "oversized-close", "HTTP/1.1 200 OK\r\n\r\n0123456789abcdef0123456789abcdef0123456789abcdef"
				     "0123456789abcdef0123456789abcdef",
		  "larger than", -EFBIG, 64 },
		{ "huge-length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		  "Content-Length", -EPROTO, 0 },
		{ "huge-chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				"fffffffffffffffffff\r\n", "oversized chunk", -EPROTO, 0 },
		{ "bad-length", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nx", "Content-Length", -EPROTO, 0 },
		{ "negative-length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length",
		  -EPROTO, 0 },
		{ "conflicting-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy",
		  "Content-Length", -EPROTO, 0 },
		{ "bad-chunk-size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		  "chunk size", -EPROTO, 0 },
		{ "chunk-overrun", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n0\r\n\r\n",
		  "longer than announced", -EPROTO, 0 },
		{ "not-http", "SSH-2.0-OpenSSH_9.2\r\n\r\n", "did not answer in HTTP/1.1", -EPROTO, 0 },
		{ "bad-status", "HTTP/1.1 2000 OK\r\n\r\n", "did not answer in HTTP/1.1", -EPROTO, 0 },
		{ "bad-header", "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "malformed header", -EPROTO, 0 },
		{ "space-in-name", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx", "malformed header",
		  -EPROTO, 0 },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct http_response resp = {};
		char err[1024];
		int r = exchange(cases[i].answer, cases[i].max, 5000, false, &resp, err, sizeof(err));
		TU_CHECK(r == cases[i].err, "%s: r=%d (%s), expected %d", cases[i].name, r, err,
			 cases[i].err);
		TU_CHECK(strstr(err, cases[i].msg), "%s: message '%s' lacks '%s'", cases[i].name, err,
			 cases[i].msg);
		TU_CHECK(strstr(err, "127.0.0.1"), "%s: message '%s' does not name the daemon",
			 cases[i].name, err);
		TU_CHECK(resp.body == NULL && resp.status == 0, "%s: a failed call left a response",
			 cases[i].name);
	}
}

/* A header line longer than the client's limit, and too many header bytes in all. */
static void test_header_limits(void)
{
	struct http_response resp = {};
	char err[1024];
	size_t n = 200 * 1024;
	char *answer = malloc(n + 64);
	int r;

	strcpy(answer, "HTTP/1.1 200 OK\r\nX-Long: ");
	memset(answer + strlen(answer), 'a', 10000);
	strcpy(answer + strlen("HTTP/1.1 200 OK\r\nX-Long: ") + 10000, "\r\n\r\n");
	r = exchange(answer, 0, 5000, false, &resp, err, sizeof(err));
	TU_CHECK(r == -EPROTO && strstr(err, "line longer than"), "long line: %d %s", r, err);

	static const char filler[] = "X-Filler-Header-Number: 0123456789012345678901234567890\r\n";
	size_t len = (size_t)sprintf(answer, "HTTP/1.1 200 OK\r\n");
	while (len + sizeof(filler) + 3 < n) {
		memcpy(answer + len, filler, sizeof(filler) - 1);
		len += sizeof(filler) - 1;
	}
	strcpy(answer + len, "\r\n");
	r = exchange(answer, 0, 5000, false, &resp, err, sizeof(err));
	TU_CHECK(r == -EPROTO && (strstr(err, "bytes of headers") || strstr(err, "too many headers")),
		 "header flood: %d %s", r, err);
	free(answer);
}

static void test_timeout(void)
{
	struct http_response resp = {};
	char err[1024];
	int r = exchange(NULL, 0, 300, true, &resp, err, sizeof(err));

	TU_CHECK(r == -ETIMEDOUT, "silent server: r=%d %s", r, err);
	TU_CHECK(strstr(err, "did not read the answer within"), "timeout message: %s", err);
}

/* What the client puts on the wire: request line, headers, token, body framing. */
static void test_request_format(void)
{
	struct http_client_opts o = { .token = "s3cret-token" };
	struct http_client *c = NULL;
	struct http_response resp = {};
	struct server s;

	server_start_tcp(&s, NULL, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
	TU_CHECK_EQ(http_client_new(s.endpoint, &o, &c), 0);
	TU_CHECK_EQ(http_request(c, "POST", "/v1/platform/pek-cert", "application/json", "{\"a\":1}",
				 7, &resp), 0);
	server_stop(&s);
	s.req[s.req_len] = 0;
	TU_CHECK(strncmp(s.req, "POST /v1/platform/pek-cert HTTP/1.1\r\n", 37) == 0, "line: %s", s.req);
	char host[160];
	snprintf(host, sizeof(host), "\r\nHost: %s\r\n", s.endpoint + strlen("http://"));
	TU_CHECK(strstr(s.req, host), "host: %s", s.req);
	TU_CHECK(strstr(s.req, "\r\nAuthorization: Bearer s3cret-token\r\n"), "token: %s", s.req);
	TU_CHECK(strstr(s.req, "\r\nContent-Type: application/json\r\n"), "type: %s", s.req);
	TU_CHECK(strstr(s.req, "\r\nContent-Length: 7\r\n\r\n{\"a\":1}"), "body: %s", s.req);
	TU_CHECK(strstr(s.req, "\r\nConnection: close\r\n"), "close: %s", s.req);
	http_response_clear(&resp);

	/* A POST without a body still says Content-Length: 0 (HTTP/1.1 §6.3 for requests). */
	http_client_free(c);
	server_start_tcp(&s, NULL, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	TU_CHECK_EQ(http_client_new(s.endpoint, &o, &c), 0);
	TU_CHECK_EQ(http_request(c, "POST", "/v1/platform/pdh", NULL, NULL, 0, &resp), 0);
	server_stop(&s);
	s.req[s.req_len] = 0;
	TU_CHECK(strstr(s.req, "\r\nContent-Length: 0\r\n\r\n"), "empty post: %s", s.req);
	http_response_clear(&resp);

	/* Header injection through the method or path is refused before anything is sent. */
	TU_CHECK_EQ(http_request(c, "GET", "/v1/x\r\nEvil: 1", NULL, NULL, 0, &resp), -EINVAL);
	TU_CHECK_EQ(http_request(c, "GET", "no-slash", NULL, NULL, 0, &resp), -EINVAL);
	TU_CHECK_EQ(http_request(c, "G T", "/", NULL, NULL, 0, &resp), -EINVAL);
	http_client_free(c);

	o.token = "bad\r\ntoken";
	TU_CHECK_EQ(http_client_new("http://127.0.0.1:1", &o, &c), -EINVAL);
}

struct gen {
	size_t left;
	uint8_t next;
};

static ssize_t gen_read(void *userdata, uint8_t *buf, size_t len)
{
	struct gen *g = userdata;
	size_t k = MIN(len, g->left);

	for (size_t i = 0; i < k; i++)
		buf[i] = g->next++;
	g->left -= k;
	return (ssize_t)k;
}

/* Decode the chunked body the server received and compare with the generator's bytes. */
static void check_chunked_body(const struct server *s, size_t expect)
{
	const char *p = strstr(s->req, "\r\n\r\n") + 4, *end = s->req + s->req_len;
	uint8_t next = 0;
	size_t total = 0;

	for (;;) {
		char *e;
		size_t n = strtoul(p, &e, 16);
		TU_CHECK(e > p && e[0] == '\r' && e[1] == '\n', "chunk size line");
		p = e + 2;
		if (n == 0)
			break;
		TU_CHECK(p + n + 2 <= end, "chunk within the request");
		for (size_t i = 0; i < n; i++)
			TU_CHECK((uint8_t)p[i] == next++, "chunk byte %zu", total + i);
		total += n;
		p += n;
		TU_CHECK(p[0] == '\r' && p[1] == '\n', "chunk end");
		p += 2;
	}
	TU_CHECK_EQ(total, expect);
}

static void test_streaming(void)
{
	struct http_client *c = NULL;
	struct http_response resp = {};
	struct server s;
	struct gen g = { .left = 150000 };
	int r;

	server_start_tcp(&s, NULL, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
	TU_CHECK_EQ(http_client_new(s.endpoint, NULL, &c), 0);
	r = http_request_stream(c, "POST", "/v1/guests/1/data", "application/octet-stream", -1,
				gen_read, &g, &resp);
	server_stop(&s);
	TU_CHECK(r == 0, "chunked upload: %s", http_client_error(c));
	TU_CHECK(memmem(s.req, s.req_len, "Transfer-Encoding: chunked\r\n", 28), "chunked header");
	check_chunked_body(&s, 150000);
	http_response_clear(&resp);

	/* Content-Length announced: the exact bytes follow the head. */
	g = (struct gen){ .left = 70000 };
	http_client_free(c);
	server_start_tcp(&s, NULL, "HTTP/1.1 204 No Content\r\n\r\n");
	TU_CHECK_EQ(http_client_new(s.endpoint, NULL, &c), 0);
	r = http_request_stream(c, "POST", "/v1/guests/1/data", NULL, 70000, gen_read, &g, &resp);
	server_stop(&s);
	TU_CHECK(r == 0 && resp.status == 204 && resp.body_len == 0, "sized upload: %s",
		 http_client_error(c));
	const char *body = (char *)memmem(s.req, s.req_len, "\r\n\r\n", 4) + 4;
	TU_CHECK_EQ(s.req + s.req_len - body, 70000);
	for (size_t i = 0; i < 70000; i++)
		TU_CHECK((uint8_t)body[i] == (uint8_t)i, "sized byte %zu", i);
	http_response_clear(&resp);

	/* The source ends early: refused, with the numbers in the message. */
	g = (struct gen){ .left = 10 };
	http_client_free(c);
	server_start_tcp(&s, NULL, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	TU_CHECK_EQ(http_client_new(s.endpoint, NULL, &c), 0);
	r = http_request_stream(c, "POST", "/x", NULL, 20, gen_read, &g, &resp);
	server_stop(&s);
	TU_CHECK(r < 0 && strstr(http_client_error(c), "10 of the 20 bytes"), "short body: %d %s", r,
		 http_client_error(c));
	http_client_free(c);
}

static void test_unix_and_refused(void)
{
	char *dir = tu_mkdtemp();
	char *path = path_join(dir, "sevd.sock"), ep[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct http_client *c = NULL;
	struct http_response resp = {};
	struct server s = {};

	snprintf(ep, sizeof(ep), "unix:%s", path);
	TU_CHECK_EQ(http_client_new(ep, NULL, &c), 0);
	TU_CHECK_EQ(http_request(c, "GET", "/healthz", NULL, NULL, 0, &resp), -ENOENT);
	TU_CHECK(strstr(http_client_error(c), "cannot connect to sevd at unix:") &&
			 strstr(http_client_error(c), "No such file or directory") &&
			 strstr(http_client_error(c), "is sevd running? set --daemon or SEVD_SOCKET"),
		 "refused message: %s", http_client_error(c));

	strcpy(sa.sun_path, path);
	s.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	TU_CHECK(bind(s.lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(s.lfd, 1) == 0, "unix listen");
	s.answer = "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}";
	s.answer_len = strlen(s.answer);
	pthread_create(&s.thread, NULL, serve, &s);
	TU_CHECK_EQ(http_request(c, "GET", "/healthz", NULL, NULL, 0, &resp), 0);
	server_stop(&s);
	s.req[s.req_len] = 0;
	TU_CHECK(strstr(s.req, "\r\nHost: localhost\r\n"), "unix host header: %s", s.req);
	TU_CHECK(strcmp((char *)resp.body, "{\"status\":\"ok\"}") == 0, "unix body");
	http_response_clear(&resp);
	http_client_free(c);

	TU_CHECK_EQ(http_client_new("http://127.0.0.1:1", NULL, &c), 0);
	TU_CHECK(http_request(c, "GET", "/", NULL, NULL, 0, &resp) == -ECONNREFUSED &&
			 strstr(http_client_error(c), "cannot connect to sevd at http://127.0.0.1:1"),
		 "tcp refused: %s", http_client_error(c));
	http_client_free(c);
	tu_rmtree(dir);
	free(dir);
	free(path);
}

static void test_endpoints(void)
{
	static const char *bad[] = { "", "tcp:1.2.3.4:5", "http://host", "http://host:", "http://:80",
				     "http://h:99999", "http://h:80/path", "https://[::1]8443", "ftp://h:1",
				     "unix:", "unix:relative" };
	static const char *good[] = { "unix:/run/sevd/sevd.sock", "/run/sevd/sevd.sock",
				      "http://127.0.0.1:8080", "http://localhost:8080/",
				      "https://[::1]:8443", "https://sevd.example:443" };
	struct http_client *c = NULL;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		TU_CHECK(http_client_new(bad[i], NULL, &c) == -EINVAL, "'%s' accepted", bad[i]);
	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		TU_CHECK(http_client_new(good[i], NULL, &c) == 0, "'%s' refused", good[i]);
		http_client_free(c);
	}
}

/* A self-signed certificate for "localhost" (DNS SAN only) written as PEM to dir/ca.pem. */
static SSL_CTX *tls_server_ctx(const char *pem_path)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	SSL_CTX *ctx;
	FILE *f;

	TU_CHECK(key && x, "key and cert");
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost");
	TU_CHECK(ext && X509_add_ext(x, ext, -1), "SAN");
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	TU_CHECK(ext && X509_add_ext(x, ext, -1), "basicConstraints");
	X509_EXTENSION_free(ext);
	TU_CHECK(X509_sign(x, key, EVP_sha256()) > 0, "self-sign");
	f = fopen(pem_path, "w");
	TU_CHECK(f && PEM_write_X509(f, x), "write %s", pem_path);
	fclose(f);
	ctx = SSL_CTX_new(TLS_server_method());
	TU_CHECK(ctx && SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1,
		 "server ctx");
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

static int tls_get(const char *endpoint, const char *ca, struct http_response *resp, char *err,
		   size_t errlen)
{
	struct http_client_opts o = { .ca_file = ca, .timeout_ms = 5000 };
	struct http_client *c = NULL;
	int r;

	TU_CHECK_EQ(http_client_new(endpoint, &o, &c), 0);
	r = http_request(c, "GET", "/v1/platform/certs", NULL, NULL, 0, resp);
	snprintf(err, errlen, "%s", http_client_error(c));
	http_client_free(c);
	return r;
}

static void test_tls(void)
{
	char *dir = tu_mkdtemp(), *pem = path_join(dir, "ca.pem"), ep[128], err[1024];
	SSL_CTX *sctx = tls_server_ctx(pem);
	struct http_response resp = {};
	struct server s;
	unsigned port;
	int r;

	/* Trusted CA, matching host name: the answer arrives. */
	server_start_tcp(&s, sctx, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				   "4\r\ntls!\r\n0\r\n\r\n");
	sscanf(s.endpoint, "https://127.0.0.1:%u", &port);
	snprintf(ep, sizeof(ep), "https://localhost:%u", port);
	r = tls_get(ep, pem, &resp, err, sizeof(err));
	server_stop(&s);
	TU_CHECK(r == 0 && strcmp((char *)resp.body, "tls!") == 0, "tls: %d %s", r, err);
	http_response_clear(&resp);

	/* The certificate names "localhost", not 127.0.0.1: refused. */
	server_start_tcp(&s, sctx, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	r = tls_get(s.endpoint, pem, &resp, err, sizeof(err));
	server_stop(&s);
	TU_CHECK(r == -EPROTO && strstr(err, "certificate verification failed"), "ip mismatch: %d %s",
		 r, err);

	/* Not in the system store: refused. */
	server_start_tcp(&s, sctx, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	sscanf(s.endpoint, "https://127.0.0.1:%u", &port);
	snprintf(ep, sizeof(ep), "https://localhost:%u", port);
	r = tls_get(ep, NULL, &resp, err, sizeof(err));
	server_stop(&s);
	TU_CHECK(r == -EPROTO && strstr(err, "certificate verification failed") &&
			 strstr(err, "--ca-file"), "untrusted: %d %s", r, err);

	/* A CA file that does not exist is named. */
	r = tls_get(ep, "/nonexistent/ca.pem", &resp, err, sizeof(err));
	TU_CHECK(r == -EINVAL && strstr(err, "/nonexistent/ca.pem"), "missing CA: %d %s", r, err);

	SSL_CTX_free(sctx);
	tu_rmtree(dir);
	free(dir);
	free(pem);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_endpoints();
	test_framing_ok();
	test_body_progress();
	test_framing_bad();
	test_header_limits();
	test_timeout();
	test_request_format();
	test_streaming();
	test_unix_and_refused();
	test_tls();
	tu_done("test-cli-core-http");
}
