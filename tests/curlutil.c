/* libcurl helpers the HTTP tests share (curlutil.h). Talks only to the sevd a test started. */
#include "tests/curlutil.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"

size_t tu_curl_collect(char *p, size_t size, size_t n, void *userdata)
{
	struct tu_curl_buf *b = userdata;
	char *nb = realloc(b->data, b->len + size * n + 1);

	if (!nb)
		return 0;
	memcpy(nb + b->len, p, size * n);
	b->len += size * n;
	nb[b->len] = '\0';
	b->data = nb;
	return size * n;
}

struct prefix {
	char *out;
	size_t size, len;
};

/* Keeps what fits of the answer; the rest is read and dropped. */
static size_t keep_prefix(char *p, size_t size, size_t n, void *userdata)
{
	struct prefix *b = userdata;
	size_t room = b->size - 1 - b->len, k = size * n < room ? size * n : room;

	memcpy(b->out + b->len, p, k);
	b->len += k;
	b->out[b->len] = '\0';
	return size * n;
}

long tu_curl_bearer(int port, const char *method, const char *path, const char *token,
		    const char *body, char *out, size_t out_size)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hd = NULL;
	char url[256], auth[256], none[1];
	struct prefix b = {out ? out : none, out ? out_size : sizeof(none), 0};
	long status = 0;

	TU_CHECK(c, "curl_easy_init");
	TU_CHECK(b.size > 0, "an answer buffer of no bytes");
	b.out[0] = '\0';
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	hd = curl_slist_append(hd, auth);
	hd = curl_slist_append(hd, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_prefix);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	TU_CHECK(curl_easy_perform(c) == CURLE_OK, "%s %s", method, path);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hd);
	curl_easy_cleanup(c);
	return status;
}
