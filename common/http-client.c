/* HTTP/1.1 client of sevadm (see http-client.h). The peer is sevd, but the bytes it sends are
 * parsed as hostile: every line and body is bounded, numbers are overflow-checked, framing
 * follows RFC 9112 §6 (Transfer-Encoding chunked wins over Content-Length; without either
 * the body ends at connection close), and a short read is reported as a truncated answer. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "common/macros.h"
#include "common/http-client.h"

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_MAX_RESPONSE (64u * 1024 * 1024)
#define MAX_LINE 8192		  /* status line, one header line, one chunk-size line */
#define MAX_HEADER_BYTES (64 * 1024) /* all header lines of one response together */
#define UPLOAD_CHUNK (64 * 1024)

enum endpoint_kind { EP_UNIX, EP_TCP, EP_TLS };

struct http_client {
	enum endpoint_kind kind;
	char *endpoint; /* as the user wrote it, for messages */
	char *path;	/* EP_UNIX */
	char *host;	/* EP_TCP/EP_TLS, without brackets */
	char *port;
	char *token; /* secret: wiped on free */
	char *ca_file;
	char *connect_host; /* numeric, or NULL: resolve host */
	int timeout_ms;
	size_t max_response;
	void (*on_body)(void *userdata, uint64_t done, uint64_t total);
	void *on_body_userdata;
	char err[1024];

	/* the current connection */
	int fd;
	SSL_CTX *ssl_ctx;
	SSL *ssl;
	uint8_t rbuf[16384];
	size_t rpos, rlen;
};

static int set_error(struct http_client *c, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int set_error(struct http_client *c, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	/* Messages may quote the peer's bytes: no control character reaches a terminal. */
	for (char *p = c->err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return r < 0 ? r : -EIO;
}

const char *http_client_error(const struct http_client *c)
{
	return c && c->err[0] ? c->err : "no error";
}

/* "[::1]:8443" / "host:8443" -> host, port. The port is required: sevd has no well-known one. */
static int split_host_port(struct http_client *c, const char *hp)
{
	const char *colon;
	size_t hlen;

	if (hp[0] == '[') {
		const char *end = strchr(hp, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		c->host = strndup(hp + 1, (size_t)(end - hp - 1));
		colon = end + 1;
	} else {
		colon = strrchr(hp, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - hp);
		c->host = strndup(hp, hlen);
	}
	if (!c->host)
		return -ENOMEM;
	c->port = strdup(colon + 1);
	if (!c->port)
		return -ENOMEM;
	if (!c->host[0] || !c->port[0] || strspn(c->port, "0123456789") != strlen(c->port) ||
	    strchr(c->port, '/') || atoi(c->port) < 1 || atoi(c->port) > 65535)
		return -EINVAL;
	return 0;
}

static int parse_endpoint(struct http_client *c, const char *ep)
{
	const char *rest;

	if (strncmp(ep, "unix:", 5) == 0 || ep[0] == '/') {
		c->kind = EP_UNIX;
		c->path = strdup(ep[0] == '/' ? ep : ep + 5);
		if (!c->path)
			return -ENOMEM;
		return c->path[0] == '/' || c->path[0] == '.' ? 0 : -EINVAL;
	}
	if (strncmp(ep, "http://", 7) == 0) {
		c->kind = EP_TCP;
		rest = ep + 7;
	} else if (strncmp(ep, "https://", 8) == 0) {
		c->kind = EP_TLS;
		rest = ep + 8;
	} else
		return -EINVAL;
	/* Tolerate one trailing slash ("http://h:1/"), nothing else after the port. */
	_cleanup_free_ char *hp = strdup(rest);
	if (!hp)
		return -ENOMEM;
	size_t n = strlen(hp);
	if (n > 0 && hp[n - 1] == '/')
		hp[n - 1] = 0;
	return split_host_port(c, hp);
}

static int check_token(const char *t)
{
	if (!*t)
		return -EINVAL;
	for (const char *p = t; *p; p++)
		if (!isgraph((unsigned char)*p))
			return -EINVAL; /* a CR/LF would inject headers */
	return 0;
}

int http_client_new(const char *endpoint, const struct http_client_opts *opts,
		    struct http_client **ret)
{
	struct http_client *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->max_response = opts && opts->max_response ? opts->max_response : DEFAULT_MAX_RESPONSE;
	if (opts) {
		c->on_body = opts->on_body;
		c->on_body_userdata = opts->on_body_userdata;
	}
	c->endpoint = strdup(endpoint ? endpoint : "");
	if (!c->endpoint) {
		http_client_free(c);
		return -ENOMEM;
	}
	r = parse_endpoint(c, c->endpoint);
	if (r == 0 && opts && opts->token) {
		r = check_token(opts->token);
		if (r == 0 && !(c->token = strdup(opts->token)))
			r = -ENOMEM;
	}
	if (r == 0 && opts && opts->ca_file && !(c->ca_file = strdup(opts->ca_file)))
		r = -ENOMEM;
	if (r == 0 && opts && opts->connect_host &&
	    !(c->connect_host = strdup(opts->connect_host)))
		r = -ENOMEM;
	if (r < 0) {
		http_client_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

static void conn_close(struct http_client *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	c->rpos = c->rlen = 0;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	conn_close(c);
	SSL_CTX_free(c->ssl_ctx);
	if (c->token) {
		OPENSSL_cleanse(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->endpoint);
	free(c->path);
	free(c->host);
	free(c->port);
	free(c->ca_file);
	free(c->connect_host);
	free(c);
}

static int connect_error(struct http_client *c, int r)
{
	const char *hint = c->kind == EP_UNIX ? "is sevd running? set --daemon or SEVD_SOCKET"
					      : "is sevd listening there? check --daemon";
	if (r == -EACCES || r == -EPERM)
		hint = "are you in the group that may use sevd's socket?";
	return set_error(c, r, "cannot connect to sevd at %s: %s — %s", c->endpoint,
			 strerror(-r), hint);
}

static void set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int connect_unix(struct http_client *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	if (strlen(c->path) >= sizeof(sa.sun_path))
		return set_error(c, -ENAMETOOLONG,
				 "cannot connect to sevd at %s: the socket path is longer than "
				 "%zu bytes — use a shorter path",
				 c->endpoint, sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, c->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return connect_error(c, negative_errno());
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return connect_error(c, negative_errno());
	set_timeouts(fd, c->timeout_ms);
	c->fd = TAKE_FD(fd);
	return 0;
}

/* Non-blocking connect bounded by the timeout, then back to blocking with SO_*TIMEO. */
static int connect_addr(const struct addrinfo *ai, int timeout_ms, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	struct pollfd p;
	int err = 0, one = 1;
	socklen_t len = sizeof(err);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return negative_errno();
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS)
			return negative_errno();
		p = (struct pollfd){ .fd = fd, .events = POLLOUT };
		int n = poll(&p, 1, timeout_ms);
		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -ETIMEDOUT;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			return negative_errno();
		if (err)
			return -err;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		return negative_errno();
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	set_timeouts(fd, timeout_ms);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int connect_tcp(struct http_client *c)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int r = -ECONNREFUSED, g;

	if (c->connect_host)
		hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	g = getaddrinfo(c->connect_host ? c->connect_host : c->host, c->port, &hints, &res);
	if (g != 0)
		return set_error(c, -EHOSTUNREACH,
				 "cannot connect to sevd at %s: cannot resolve '%s': %s — check "
				 "--daemon",
				 c->endpoint, c->host, gai_strerror(g));
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		r = connect_addr(ai, c->timeout_ms, &c->fd);
		if (r == 0)
			break;
	}
	freeaddrinfo(res);
	return r < 0 ? connect_error(c, r) : 0;
}

static int tls_error(struct http_client *c, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	long v = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
	char buf[256] = "";

	if (v != X509_V_OK)
		snprintf(buf, sizeof(buf), "certificate verification failed: %s",
			 X509_verify_cert_error_string(v));
	else if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "connection closed during the handshake");
	ERR_clear_error();
	return set_error(c, -EPROTO, "TLS with sevd at %s failed: %s: %s — check --ca-file and "
				     "that the daemon's certificate names '%s'",
			 c->endpoint, what, buf, c->host);
}

static int tls_ctx(struct http_client *c)
{
	if (c->ssl_ctx)
		return 0;
	c->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ssl_ctx)
		return tls_error(c, "cannot create a TLS context");
	SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
	if (c->ca_file) {
		if (SSL_CTX_load_verify_locations(c->ssl_ctx, c->ca_file, NULL) != 1)
			return set_error(c, -EINVAL, "cannot load CA certificates from %s — give a "
						     "PEM file with --ca-file", c->ca_file);
	} else if (SSL_CTX_set_default_verify_paths(c->ssl_ctx) != 1)
		return tls_error(c, "cannot load the system CA store");
	return 0;
}

static int connect_tls(struct http_client *c)
{
	struct in6_addr a6;
	struct in_addr a4;
	bool is_ip = inet_pton(AF_INET, c->host, &a4) == 1 || inet_pton(AF_INET6, c->host, &a6) == 1;
	int r;

	r = tls_ctx(c);
	if (r < 0)
		return r;
	r = connect_tcp(c);
	if (r < 0)
		return r;
	c->ssl = SSL_new(c->ssl_ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return tls_error(c, "cannot set up the connection");
	if (is_ip) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, c->host) != 1)
			return tls_error(c, "cannot check the address");
	} else if (SSL_set_tlsext_host_name(c->ssl, c->host) != 1 ||
		   SSL_set1_host(c->ssl, c->host) != 1)
		return tls_error(c, "cannot check the host name");
	if (SSL_connect(c->ssl) != 1)
		return tls_error(c, "handshake");
	return 0;
}

static int conn_open(struct http_client *c)
{
	conn_close(c);
	c->err[0] = 0;
	switch (c->kind) {
	case EP_UNIX: return connect_unix(c);
	case EP_TCP: return connect_tcp(c);
	case EP_TLS: return connect_tls(c);
	}
	return -EINVAL;
}

static int io_error(struct http_client *c, int r, const char *what)
{
	if (r == -EAGAIN || r == -EWOULDBLOCK || r == -ETIMEDOUT)
		return set_error(c, -ETIMEDOUT, "sevd at %s did not %s within %g s — it may be "
						"busy or hung; try again or check its log",
				 c->endpoint, what, c->timeout_ms / 1000.0);
	return set_error(c, r, "lost the connection to sevd at %s while trying to %s: %s",
			 c->endpoint, what, strerror(-r));
}

static int conn_write(struct http_client *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n;
		if (c->ssl) {
			int k = SSL_write(c->ssl, p, (int)MIN(len, (size_t)1 << 30));
			if (k <= 0) {
				int e = SSL_get_error(c->ssl, k);
				ERR_clear_error();
				return io_error(c, e == SSL_ERROR_SYSCALL ? negative_errno() : -EPIPE,
						"send the request");
			}
			n = k;
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return io_error(c, negative_errno(), "send the request");
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Raw read: >0 bytes, 0 at end of stream, <0 error (message set). */
static ssize_t conn_read(struct http_client *c, void *buf, size_t len)
{
	for (;;) {
		if (c->ssl) {
			int k = SSL_read(c->ssl, buf, (int)MIN(len, (size_t)1 << 30));
			if (k > 0)
				return k;
			int e = SSL_get_error(c->ssl, k);
			int r = negative_errno();
			ERR_clear_error();
			if (e == SSL_ERROR_ZERO_RETURN)
				return 0;
			/* An EOF without close_notify is an error: the answer may be cut short. */
			return io_error(c, e == SSL_ERROR_SYSCALL && errno ? r : -ECONNRESET,
					"read the answer");
		}
		ssize_t n = recv(c->fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return io_error(c, negative_errno(), "read the answer");
	}
}

/* Buffered reads for the response parser. */
static int fill(struct http_client *c)
{
	ssize_t n;

	if (c->rpos < c->rlen)
		return 1;
	n = conn_read(c, c->rbuf, sizeof(c->rbuf));
	if (n < 0)
		return (int)n;
	c->rpos = 0;
	c->rlen = (size_t)n;
	return n > 0;
}

static int truncated(struct http_client *c, const char *where)
{
	return set_error(c, -EPROTO, "the answer of sevd at %s was cut short (%s) — the daemon "
				     "may have crashed; check its log and try again",
			 c->endpoint, where);
}

/* One line without its CRLF (a bare LF is accepted), at most MAX_LINE bytes. */
static int read_line(struct http_client *c, char *line, size_t *total, const char *where)
{
	size_t n = 0;

	for (;;) {
		int r = fill(c);
		if (r < 0)
			return r;
		if (r == 0)
			return truncated(c, where);
		uint8_t ch = c->rbuf[c->rpos++];
		if (++*total > MAX_HEADER_BYTES)
			return set_error(c, -EPROTO, "sevd at %s sent more than %d bytes of headers",
					 c->endpoint, MAX_HEADER_BYTES);
		if (ch == '\n')
			break;
		if (n + 1 >= MAX_LINE)
			return set_error(c, -EPROTO, "sevd at %s sent a line longer than %d bytes in "
						     "the %s", c->endpoint, MAX_LINE, where);
		line[n++] = (char)ch;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = 0;
	return 0;
}

/* Exactly len bytes into buf; a short stream is a truncated answer. */
static int read_exact(struct http_client *c, uint8_t *buf, size_t len, const char *where)
{
	while (len > 0) {
		int r = fill(c);
		if (r < 0)
			return r;
		if (r == 0)
			return truncated(c, where);
		size_t k = MIN(len, c->rlen - c->rpos);
		memcpy(buf, c->rbuf + c->rpos, k);
		c->rpos += k;
		buf += k;
		len -= k;
	}
	return 0;
}

struct framing {
	bool chunked;
	bool have_length;
	uint64_t length;
};

static int parse_decimal(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return 0;
}

/* "HTTP/1.1 200 OK" -> 200. */
static int parse_status_line(struct http_client *c, const char *line, int *ret)
{
	if ((strncmp(line, "HTTP/1.1 ", 9) != 0 && strncmp(line, "HTTP/1.0 ", 9) != 0) ||
	    !isdigit((unsigned char)line[9]) || !isdigit((unsigned char)line[10]) ||
	    !isdigit((unsigned char)line[11]) || (line[12] != ' ' && line[12] != 0) ||
	    line[9] == '0')
		return set_error(c, -EPROTO, "sevd at %s did not answer in HTTP/1.1 (first line "
					     "'%.60s') — is --daemon pointing at sevd?",
				 c->endpoint, line);
	*ret = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	return 0;
}

static int parse_header(struct http_client *c, char *line, struct framing *f,
			struct http_response *resp)
{
	char *colon = strchr(line, ':'), *v, *end;

	if (!colon || colon == line || strcspn(line, " \t") < (size_t)(colon - line))
		return set_error(c, -EPROTO, "sevd at %s sent a malformed header line '%.60s'",
				 c->endpoint, line);
	*colon = 0;
	v = colon + 1 + strspn(colon + 1, " \t");
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = 0;

	if (strcasecmp(line, "Content-Length") == 0) {
		uint64_t n;
		if (parse_decimal(v, &n) < 0 || (f->have_length && n != f->length))
			return set_error(c, -EPROTO, "sevd at %s sent a bad Content-Length '%.40s'",
					 c->endpoint, v);
		f->have_length = true;
		f->length = n;
	} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
		/* Only the last coding decides framing; chunked must be last (RFC 9112 §6.3). */
		const char *last = strrchr(v, ',');
		last = last ? last + 1 + strspn(last + 1, " \t") : v;
		f->chunked = strcasecmp(last, "chunked") == 0;
	} else if (strcasecmp(line, "Content-Type") == 0 && !resp->content_type) {
		resp->content_type = strdup(v);
		if (!resp->content_type)
			return -ENOMEM;
	}
	return 0;
}

static int too_large(struct http_client *c)
{
	return set_error(c, -EFBIG, "the answer of sevd at %s is larger than %zu bytes — refused",
			 c->endpoint, c->max_response);
}

/* Grow resp->body to hold `need` bytes plus a NUL. */
static int body_reserve(struct http_client *c, struct http_response *resp, size_t *cap, size_t need)
{
	if (need > c->max_response)
		return too_large(c);
	if (need + 1 <= *cap)
		return 0;
	size_t ncap = MAX(need + 1, MIN(*cap * 2, c->max_response + 1));
	uint8_t *p = realloc(resp->body, ncap);
	if (!p)
		return -ENOMEM;
	resp->body = p;
	*cap = ncap;
	return 0;
}

static void body_progress(struct http_client *c, uint64_t done, uint64_t total)
{
	if (c->on_body)
		c->on_body(c->on_body_userdata, done, total);
}

/* A body of Content-Length len into resp->body (reserved), a buffer at a time so that the
 * progress callback sees it arrive. */
static int read_length(struct http_client *c, struct http_response *resp, size_t len)
{
	body_progress(c, 0, len);
	while (resp->body_len < len) {
		size_t k = MIN(len - resp->body_len, sizeof(c->rbuf));
		int r = read_exact(c, resp->body + resp->body_len, k, "body");
		if (r < 0)
			return r;
		resp->body_len += k;
		body_progress(c, resp->body_len, len);
	}
	return 0;
}

static int read_chunk_size(struct http_client *c, uint64_t *ret)
{
	char line[MAX_LINE];
	size_t total = 0;
	uint64_t v = 0;
	const char *p;
	int r;

	r = read_line(c, line, &total, "chunk size");
	if (r < 0)
		return r;
	for (p = line; isxdigit((unsigned char)*p); p++) {
		if (v >> 60)
			return set_error(c, -EPROTO, "sevd at %s sent an oversized chunk", c->endpoint);
		v = v << 4 | (uint64_t)(isdigit((unsigned char)*p) ? *p - '0'
								    : (tolower((unsigned char)*p) - 'a' + 10));
	}
	if (p == line || (*p && *p != ';' && *p != ' ' && *p != '\t'))
		return set_error(c, -EPROTO, "sevd at %s sent a bad chunk size line '%.40s'",
				 c->endpoint, line);
	*ret = v;
	return 0;
}

static int read_chunked(struct http_client *c, struct http_response *resp, size_t *cap)
{
	char line[MAX_LINE];
	size_t total = 0;
	int r;

	for (;;) {
		uint64_t n = 0;
		r = read_chunk_size(c, &n);
		if (r < 0)
			return r;
		if (n == 0)
			break;
		if (n > c->max_response - resp->body_len)
			return too_large(c);
		r = body_reserve(c, resp, cap, resp->body_len + n);
		if (r < 0)
			return r;
		r = read_exact(c, resp->body + resp->body_len, n, "chunk data");
		if (r < 0)
			return r;
		resp->body_len += n;
		body_progress(c, resp->body_len, 0);
		total = 0; /* the header budget bounds single lines here, not the whole body */
		r = read_line(c, line, &total, "chunk end");
		if (r < 0)
			return r;
		if (line[0])
			return set_error(c, -EPROTO, "sevd at %s sent a chunk longer than announced",
					 c->endpoint);
	}
	/* Trailer fields, up to the empty line; ignored, bounded as headers are. */
	total = 0;
	do {
		r = read_line(c, line, &total, "trailer");
		if (r < 0)
			return r;
	} while (line[0]);
	return 0;
}

static int read_until_close(struct http_client *c, struct http_response *resp, size_t *cap)
{
	for (;;) {
		int r = fill(c);
		if (r < 0)
			return r;
		if (r == 0)
			return 0;
		size_t k = c->rlen - c->rpos;
		r = body_reserve(c, resp, cap, resp->body_len + k);
		if (r < 0)
			return r;
		memcpy(resp->body + resp->body_len, c->rbuf + c->rpos, k);
		resp->body_len += k;
		c->rpos = c->rlen;
		body_progress(c, resp->body_len, 0);
	}
}

static int read_body(struct http_client *c, const struct framing *f, bool no_body,
		     struct http_response *resp)
{
	size_t cap = 0;
	int r;

	r = body_reserve(c, resp, &cap, 0);
	if (r < 0)
		return r;
	if (no_body)
		r = 0;
	else if (f->chunked)
		r = read_chunked(c, resp, &cap);
	else if (f->have_length) {
		if (f->length > c->max_response)
			return too_large(c);
		r = body_reserve(c, resp, &cap, (size_t)f->length);
		if (r == 0)
			r = read_length(c, resp, (size_t)f->length);
	} else
		r = read_until_close(c, resp, &cap);
	if (r < 0)
		return r;
	resp->body[resp->body_len] = 0;
	return 0;
}

/* Status line and headers; informational (1xx) answers are skipped. */
static int read_head(struct http_client *c, struct framing *f, struct http_response *resp)
{
	char line[MAX_LINE];
	size_t total = 0;
	int r, headers = 0;

	do {
		r = read_line(c, line, &total, "status line");
		if (r < 0)
			return r;
		r = parse_status_line(c, line, &resp->status);
		if (r < 0)
			return r;
		*f = (struct framing){};
		for (;;) {
			r = read_line(c, line, &total, "headers");
			if (r < 0)
				return r;
			if (!line[0])
				break;
			if (++headers > 200)
				return set_error(c, -EPROTO, "sevd at %s sent too many headers",
						 c->endpoint);
			r = parse_header(c, line, f, resp);
			if (r < 0)
				return r;
		}
	} while (resp->status >= 100 && resp->status < 200);
	return 0;
}

static int read_response(struct http_client *c, const char *method, struct http_response *ret)
{
	struct http_response resp = {};
	struct framing f;
	int r;

	r = read_head(c, &f, &resp);
	if (r == 0)
		r = read_body(c, &f, strcmp(method, "HEAD") == 0 || resp.status == 204 ||
					     resp.status == 304, &resp);
	if (r < 0) {
		http_response_clear(&resp);
		return r;
	}
	*ret = resp;
	return 0;
}

void http_response_clear(struct http_response *r)
{
	if (!r)
		return;
	free(r->content_type);
	free(r->body);
	*r = (struct http_response){};
}

static bool token_ok(const char *s)
{
	for (; *s; s++)
		if (!isgraph((unsigned char)*s))
			return false;
	return true;
}

/* The request head; it may hold the bearer token, so the caller wipes it. */
static char *build_head(struct http_client *c, const char *method, const char *path,
			const char *content_type, int64_t body_len, bool has_body)
{
	char len_hdr[64] = "", host[300];
	char *head = NULL;
	int n;

	/* Host = uri-host [":" port] (RFC 9110 §7.2); an IPv6 literal goes in brackets. */
	if (c->kind == EP_UNIX)
		snprintf(host, sizeof(host), "localhost");
	else
		snprintf(host, sizeof(host), strchr(c->host, ':') ? "[%s]:%s" : "%s:%s", c->host,
			 c->port);

	if (has_body && body_len >= 0)
		snprintf(len_hdr, sizeof(len_hdr), "Content-Length: %lld\r\n", (long long)body_len);
	else if (has_body)
		snprintf(len_hdr, sizeof(len_hdr), "Transfer-Encoding: chunked\r\n");
	n = asprintf(&head,
		     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sevadm/%s\r\n"
		     "Accept: application/json\r\nConnection: close\r\n%s%s%s%s%s%s\r\n",
		     method, path, host, SEVD_VERSION,
		     c->token ? "Authorization: Bearer " : "", c->token ? c->token : "",
		     c->token ? "\r\n" : "", content_type && has_body ? "Content-Type: " : "",
		     content_type && has_body ? content_type : "",
		     content_type && has_body ? "\r\n" : "");
	if (n < 0)
		return NULL;
	/* Content-Length / chunked go last, after the optional headers. */
	char *full = NULL;
	size_t hl = strlen(head);
	if (asprintf(&full, "%.*s%s\r\n", (int)(hl - 2), head, len_hdr) < 0)
		full = NULL;
	OPENSSL_cleanse(head, hl);
	free(head);
	return full;
}

static int send_head(struct http_client *c, const char *method, const char *path,
		     const char *content_type, int64_t body_len, bool has_body)
{
	char *head;
	int r;

	head = build_head(c, method, path, content_type, body_len, has_body);
	if (!head)
		return -ENOMEM;
	r = conn_write(c, head, strlen(head));
	OPENSSL_cleanse(head, strlen(head));
	free(head);
	return r;
}

/* Send one chunk of a streamed body, framed when chunked. */
static int send_piece(struct http_client *c, const uint8_t *buf, size_t n, bool chunked)
{
	char sz[32];
	int r;

	if (!chunked)
		return conn_write(c, buf, n);
	snprintf(sz, sizeof(sz), "%zx\r\n", n);
	r = conn_write(c, sz, strlen(sz));
	if (r == 0)
		r = conn_write(c, buf, n);
	if (r == 0)
		r = conn_write(c, "\r\n", 2);
	return r;
}

static int send_stream(struct http_client *c, int64_t body_len, http_body_cb cb, void *userdata)
{
	_cleanup_free_ uint8_t *buf = malloc(UPLOAD_CHUNK);
	bool chunked = body_len < 0;
	uint64_t sent = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = cb(userdata, buf, UPLOAD_CHUNK);
		if (n < 0)
			return set_error(c, (int)n, "reading the request body failed: %s",
					 strerror((int)-n));
		if (n == 0)
			break;
		if (!chunked && sent + (uint64_t)n > (uint64_t)body_len)
			return set_error(c, -EIO, "the request body is longer than the %lld bytes "
						  "announced", (long long)body_len);
		r = send_piece(c, buf, (size_t)n, chunked);
		if (r < 0)
			return r;
		sent += (uint64_t)n;
	}
	if (!chunked && sent != (uint64_t)body_len)
		return set_error(c, -EIO, "the request body ended after %llu of the %lld bytes "
					  "announced", (unsigned long long)sent, (long long)body_len);
	return chunked ? conn_write(c, "0\r\n\r\n", 5) : 0;
}

struct mem_body {
	const uint8_t *p;
	size_t left;
};

static ssize_t mem_body_read(void *userdata, uint8_t *buf, size_t len)
{
	struct mem_body *m = userdata;
	size_t k = MIN(len, m->left);

	if (k == 0)
		return 0;
	memcpy(buf, m->p, k);
	m->p += k;
	m->left -= k;
	return (ssize_t)k;
}

int http_request_stream(struct http_client *c, const char *method, const char *path,
			const char *content_type, int64_t body_len, http_body_cb cb,
			void *userdata, struct http_response *ret)
{
	int r, w;

	/* Nothing from a caller may split the request head (header injection). */
	if (!method[0] || !token_ok(method) || path[0] != '/' || !token_ok(path) ||
	    (content_type && strpbrk(content_type, "\r\n")))
		return set_error(c, -EINVAL, "refusing to send a malformed request line '%s %s'",
				 method, path);
	r = conn_open(c);
	if (r < 0)
		return r;
	w = send_head(c, method, path, content_type, body_len, cb != NULL);
	if (w == 0 && cb)
		w = send_stream(c, body_len, cb, userdata);
	/* When the daemon stopped reading (EPIPE, ECONNRESET) it may have answered early (413,
	 * 401): read that. Any other failure is ours or the link's: nothing to read. */
	if (w < 0 && w != -EPIPE && w != -ECONNRESET) {
		conn_close(c);
		return w;
	}
	char saved[sizeof(c->err)];
	memcpy(saved, c->err, sizeof(saved));
	r = read_response(c, method, ret);
	conn_close(c);
	if (r < 0 && w < 0) {
		memcpy(c->err, saved, sizeof(saved));
		return w;
	}
	return r;
}

int http_request(struct http_client *c, const char *method, const char *path,
		 const char *content_type, const void *body, size_t body_len,
		 struct http_response *ret)
{
	struct mem_body m = { .p = body, .left = body_len };
	bool has_body = body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;

	return http_request_stream(c, method, path, content_type, (int64_t)body_len,
				   has_body ? mem_body_read : NULL, &m, ret);
}
