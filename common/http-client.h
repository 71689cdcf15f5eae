/* A small HTTP/1.1 client for sevadm talking to sevd: over a Unix socket ("unix:PATH"), TCP
 * ("http://HOST:PORT") or TLS ("https://HOST:PORT", server certificate verified against a CA
 * file or the system store, host name checked). One request per connection (Connection:
 * close). Responses are bounded in size and time; the server is not trusted to be well
 * formed. Errors return negative errno and leave a full sentence in http_client_error(). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct http_client;

struct http_client_opts {
	const char *token;	 /* bearer token (copied, wiped on free), NULL for none */
	const char *ca_file;	 /* PEM CA bundle for https://, NULL = system store */
	int timeout_ms;		 /* connect and per-read/write timeout; 0 = 30 s */
	/* A numeric address (IPv4, IPv6) to connect to instead of resolving the endpoint's
	 * host, which still names the server (Host:, TLS name check); NULL: resolve it. For a
	 * caller that resolved before a sandbox without DNS (sevd's worker). */
	const char *connect_host;
	size_t max_response;	 /* body limit; 0 = 64 MiB */
	/* Called as an answer's body arrives (NULL: never), for progress: the bytes so far and
	 * the Content-Length, 0 when the answer has none (chunked, or read until close). */
	void (*on_body)(void *userdata, uint64_t done, uint64_t total);
	void *on_body_userdata;
};

struct http_response {
	int status;	     /* e.g. 200 */
	char *content_type;  /* NULL when absent */
	uint8_t *body;	     /* NUL-terminated (not counted in body_len) */
	size_t body_len;
};

/* Produce up to len bytes of a streamed request body into buf; return the count, 0 at the
 * end, or negative errno to abort the request. */
typedef ssize_t (*http_body_cb)(void *userdata, uint8_t *buf, size_t len);

/* endpoint: "unix:PATH", "http://HOST:PORT" or "https://HOST:PORT" (IPv6 as [ADDR]). */
int http_client_new(const char *endpoint, const struct http_client_opts *opts,
		    struct http_client **ret);
void http_client_free(struct http_client *c);
/* The last error as a sentence ("cannot connect to sevd at ...: ... — is sevd running? ..."). */
const char *http_client_error(const struct http_client *c);

/* A request with an optional in-memory body (body may be NULL when body_len is 0). */
int http_request(struct http_client *c, const char *method, const char *path,
		 const char *content_type, const void *body, size_t body_len,
		 struct http_response *ret);
/* A request whose body comes from cb: body_len >= 0 sends Content-Length, -1 sends it chunked. */
int http_request_stream(struct http_client *c, const char *method, const char *path,
			const char *content_type, int64_t body_len, http_body_cb cb,
			void *userdata, struct http_response *ret);
void http_response_clear(struct http_response *r);
