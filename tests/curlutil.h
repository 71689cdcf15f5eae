/* libcurl helpers the HTTP tests share: a response body collected as libcurl delivers it, and
 * one bearer-token request over a TCP listener. Tests only; linked where libcurl is. */
#pragma once

#include <stddef.h>

/* A response body, NUL-terminated after every piece (data stays NULL until the first byte);
 * the caller frees data. */
struct tu_curl_buf {
	char *data;
	size_t len;
};

/* CURLOPT_WRITEFUNCTION for a struct tu_curl_buf passed as CURLOPT_WRITEDATA. */
size_t tu_curl_collect(char *p, size_t size, size_t n, void *userdata);

/* One request to http://127.0.0.1:PORT/PATH with "Authorization: Bearer TOKEN" and
 * Content-Type application/json (body, when non-NULL, as its fields), through the real
 * worker. The HTTP status; the start of the answer (at most out_size - 1 bytes) in out when
 * out is non-NULL. A failed transfer fails the test. */
long tu_curl_bearer(int port, const char *method, const char *path, const char *token,
		    const char *body, char *out, size_t out_size);
