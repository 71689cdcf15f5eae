/* KDS base URLs and GETs (kds-url.h). Trusts nothing the server answers beyond the HTTP
 * client's bounds: the body is handed back for the caller to parse and verify. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http-client.h"
#include "common/kds-url.h"
#include "common/macros.h"
#include "common/util.h"

static const char host_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789.-[]:";

/* "https://host[:port][/prefix]" → endpoint "https://host:port", prefix "/prefix". */
int kds_url_parse(const char *url, struct kds_url *u, char **ret_error)
{
	const char *scheme_end = strstr(url, "://"), *hp, *slash;
	const char *port = NULL;
	_cleanup_free_ char *host = NULL;
	size_t n;

	memset(u, 0, sizeof *u);
	*ret_error = NULL;
	if (!scheme_end || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
		return errorf(ret_error, -EINVAL,
			      "the KDS URL '%s' must start with https:// or "
			      "http://",
			      url);
	u->tls = url[4] == 's';
	u->base = strdup(url);
	if (!u->base)
		return -ENOMEM;
	while (strlen(u->base) > 8 && endswith(u->base, "/"))
		u->base[strlen(u->base) - 1] = 0; /* messages append paths that start with '/' */
	hp = scheme_end + 3;
	slash = strchr(hp, '/');
	host = strndup(hp, slash ? (size_t)(slash - hp) : strlen(hp));
	u->host = strdup(host ? host : "");
	if (!host || !u->host)
		return -ENOMEM;
	char *colon = host[0] == '[' ? strstr(host, "]:") : strrchr(host, ':');
	if (colon) {
		colon += host[0] == '[' ? 1 : 0;
		*colon = 0;
		port = colon + 1;
	}
	if (!host[0] || strspn(host, host_chars) != strlen(host))
		return errorf(ret_error, -EINVAL, "the KDS URL '%s' has no valid host name", url);
	u->port = strdup(port && *port ? port : (u->tls ? "443" : "80"));
	if (!u->port)
		return -ENOMEM;
	if (asprintf(&u->endpoint, "%s://%s:%s", u->tls ? "https" : "http", host, u->port) < 0) {
		u->endpoint = NULL;
		return -ENOMEM;
	}
	n = strlen(host);
	u->hostname = host[0] == '[' && n > 2 && host[n - 1] == ']' ? strndup(host + 1, n - 2)
								     : strdup(host);
	u->prefix = strdup(slash ? slash : "");
	if (!u->hostname || !u->prefix)
		return -ENOMEM;
	n = strlen(u->prefix);
	if (n > 0 && u->prefix[n - 1] == '/')
		u->prefix[n - 1] = 0;
	/* A cache per server: answers of a test server never mix with AMD's. */
	for (char *c = host; *c; c++)
		if (*c == ':' || *c == '[' || *c == ']')
			*c = '_';
	if (asprintf(&u->cache_name, "%s_%s", host, u->port) < 0) {
		u->cache_name = NULL;
		return -ENOMEM;
	}
	return 0;
}

void kds_url_done(struct kds_url *u)
{
	free(u->base);
	free(u->host);
	free(u->hostname);
	free(u->port);
	free(u->endpoint);
	free(u->prefix);
	free(u->cache_name);
	memset(u, 0, sizeof *u);
}

char *kds_url_cert_chain_path(const char *gen)
{
	char *p = NULL;

	return asprintf(&p, "/vcek/v1/%s/cert_chain", gen) < 0 ? NULL : p;
}

static const char *status_hint(int status)
{
	switch (status) {
	case 404:
		return "AMD has no such certificate: check the generation, the chip id and the TCB "
		       "values";
	case 400:
		return "the request was malformed (a hwID or SPL value the service does not accept)";
	case 429:
		return "the service is rate limiting: wait a few seconds and retry (the cache "
		       "avoids repeated fetches)";
	default:
		return "retry later, or fetch the file by other means";
	}
}

/* The HTTP client words its errors for talking to sevd ("cannot connect to sevd at E: WHY —
 * is sevd listening there?"); keep only WHY, which is about the network, not about sevd. */
static char *client_reason(struct http_client *c, const char *endpoint)
{
	const char *msg = http_client_error(c), *p, *end;
	_cleanup_free_ char *prefix = NULL;

	if (!msg || !*msg)
		return NULL;
	if (asprintf(&prefix, "%s: ", endpoint) < 0)
		return NULL;
	p = strstr(msg, prefix);
	p = p ? p + strlen(prefix) : msg;
	end = strstr(p, " — ");
	return strndup(p, end ? (size_t)(end - p) : strlen(p));
}

int kds_url_get(const struct kds_url *u, const char *path, const struct http_client_opts *opts,
		const char *fix, uint8_t **ret_body, size_t *ret_len, char **ret_error)
{
	struct http_client_opts o = { .timeout_ms = KDS_TIMEOUT_MS, .max_response = KDS_MAX_ANSWER };
	_cleanup_free_ char *full = NULL;
	struct http_client *c = NULL;
	struct http_response resp = {};
	int r;

	*ret_error = NULL;
	if (opts)
		o = *opts;
	if (!o.timeout_ms)
		o.timeout_ms = KDS_TIMEOUT_MS;
	if (!o.max_response)
		o.max_response = KDS_MAX_ANSWER;
	if (asprintf(&full, "%s%s", u->prefix, path) < 0) {
		full = NULL;
		return -ENOMEM;
	}
	r = http_client_new(u->endpoint, &o, &c);
	if (r < 0) {
		errorf(ret_error, r, "cannot use the KDS URL %s: %s", u->base,
		       c ? http_client_error(c) : strerror(-r));
		http_client_free(c);
		return r;
	}
	r = http_request(c, "GET", full, NULL, NULL, 0, &resp);
	if (r < 0) {
		_cleanup_free_ char *why = client_reason(c, u->endpoint);

		errorf(ret_error, r, "fetching %s%s failed: %s — %s", u->base, path,
		       why ? why : strerror(-r), fix);
		http_client_free(c);
		return r;
	}
	http_client_free(c);
	if (resp.status != 200) {
		r = errorf(ret_error, resp.status == 404 ? -ENOENT : -EIO,
			   "AMD KDS at %s answered HTTP %d for %s — %s", u->base, resp.status, path,
			   status_hint(resp.status));
		http_response_clear(&resp);
		return r;
	}
	*ret_body = TAKE_PTR(resp.body);
	*ret_len = resp.body_len;
	http_response_clear(&resp);
	return 0;
}
