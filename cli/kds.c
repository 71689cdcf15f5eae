/* AMD KDS client with a cache (see kds.h). The base URL is split into the HTTP client's
 * endpoint (scheme://host:port) and a path prefix; cached answers live in one file per URL
 * path under <cache>/<host>_<port>/, named by percent-encoding the path, and are only written
 * after the caller has verified them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/http-client.h"
#include "cli/kds.h"
#include "common/macros.h"
#include "common/util.h"

#define KDS_MAX_ANSWER (1u << 20) /* certificates are a few KiB */
#define KDS_TIMEOUT_MS 30000

static char *default_cache_dir(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *p = NULL;

	/* An explicit XDG_CACHE_HOME wins, even for root; else root shares the system cache. */
	if (xdg && xdg[0] == '/')
		return path_join(xdg, "sevadm");
	if (geteuid() == 0)
		return strdup("/var/cache/sevd");
	if (home && home[0] == '/' && asprintf(&p, "%s/.cache/sevadm", home) > 0)
		return p;
	return NULL;
}

/* "https://host[:port][/prefix]" → endpoint "https://host:port", prefix "/prefix". */
static int split_url(struct kds *k, const char *url, char **ret_error)
{
	const char *scheme_end = strstr(url, "://"), *hp, *slash;
	const char *port = NULL;
	_cleanup_free_ char *host = NULL;
	bool tls;

	if (!scheme_end || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
		return errorf(ret_error, -EINVAL,
			      "the KDS URL '%s' must start with https:// or "
			      "http://",
			      url);
	tls = url[4] == 's';
	hp = scheme_end + 3;
	slash = strchr(hp, '/');
	host = strndup(hp, slash ? (size_t)(slash - hp) : strlen(hp));
	k->host = strdup(host ? host : "");
	if (!host || !k->host)
		return -ENOMEM;
	char *colon = host[0] == '[' ? strstr(host, "]:") : strrchr(host, ':');
	if (colon) {
		colon += host[0] == '[' ? 1 : 0;
		*colon = 0;
		port = colon + 1;
	}
	if (!host[0] || strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				     "0123456789.-[]:") != strlen(host))
		return errorf(ret_error, -EINVAL, "the KDS URL '%s' has no valid host name", url);
	if (asprintf(&k->endpoint, "%s://%s:%s", tls ? "https" : "http", host,
		     port && *port ? port : (tls ? "443" : "80")) < 0)
		return -ENOMEM;
	k->prefix = strdup(slash ? slash : "");
	if (!k->prefix)
		return -ENOMEM;
	size_t n = strlen(k->prefix);
	if (n > 0 && k->prefix[n - 1] == '/')
		k->prefix[n - 1] = 0;
	/* The cache is per server: answers of a test server never mix with AMD's. */
	for (char *c = host; *c; c++)
		if (*c == ':' || *c == '[' || *c == ']')
			*c = '_';
	if (asprintf(&k->cache_dir, "%s_%s", host, port && *port ? port : (tls ? "443" : "80")) < 0)
		return -ENOMEM;
	return 0;
}

int kds_init(struct kds *k, const char *base, const char *cache, const char *ca_file,
	     char **ret_error)
{
	_cleanup_free_ char *root = NULL, *sub = NULL;
	int r;

	memset(k, 0, sizeof *k);
	*ret_error = NULL;
	if (!base)
		base = getenv("SEVADM_KDS_URL");
	if (!base || !*base)
		base = KDS_DEFAULT_URL;
	k->ca_file = ca_file;
	k->base = strdup(base);
	if (!k->base)
		return -ENOMEM;
	while (strlen(k->base) > 8 && endswith(k->base, "/"))
		k->base[strlen(k->base) - 1] = 0; /* messages append paths that start with '/' */
	r = split_url(k, base, ret_error);
	if (r < 0)
		return r;
	root = cache ? strdup(cache) : default_cache_dir();
	if (!root)
		return errorf(ret_error, -EINVAL,
			      "no cache directory: set HOME or give --cache DIR");
	sub = TAKE_PTR(k->cache_dir);
	k->cache_dir = path_join(root, sub);
	return k->cache_dir ? 0 : -ENOMEM;
}

void kds_done(struct kds *k)
{
	free(k->base);
	free(k->host);
	free(k->endpoint);
	free(k->prefix);
	free(k->cache_dir);
	memset(k, 0, sizeof *k);
}

static char *cache_path(const struct kds *k, const char *path)
{
	static const char keep[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";
	_cleanup_free_ char *name = malloc(strlen(path) * 3 + 1);
	char *o = name;

	if (!name)
		return NULL;
	for (const char *c = path; *c; c++) {
		if (*c && strchr(keep, *c))
			*o++ = *c;
		else
			o += sprintf(o, "%%%02X", (unsigned char)*c);
	}
	*o = 0;
	if (strlen(name) > 250)
		return NULL; /* too long to cache: fetch every time */
	return path_join(k->cache_dir, name);
}

static int mkdir_p(const char *dir)
{
	_cleanup_free_ char *p = strdup(dir);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return -errno;
			*s = '/';
		}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int kds_cache_put(struct kds *k, const char *path, const uint8_t *body, size_t len)
{
	_cleanup_free_ char *file = cache_path(k, path);
	int r;

	if (!file)
		return -ENAMETOOLONG;
	r = mkdir_p(k->cache_dir);
	if (r < 0)
		return r;
	return write_file_atomic(file, body, len, 0644);
}

int kds_cache_get(struct kds *k, const char *path, uint8_t **ret_body, size_t *ret_len)
{
	_cleanup_free_ char *file = cache_path(k, path);

	if (!file || read_full_file(file, KDS_MAX_ANSWER, ret_body, ret_len) < 0)
		return -ENOENT;
	return 0;
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

int kds_get(struct kds *k, const char *path, uint8_t **ret_body, size_t *ret_len,
	    bool *ret_cached, char **ret_error)
{
	struct http_client_opts opts = { .ca_file = k->ca_file, .timeout_ms = KDS_TIMEOUT_MS,
					 .max_response = KDS_MAX_ANSWER, .on_body = k->on_body,
					 .on_body_userdata = k->on_body_userdata };
	_cleanup_free_ char *full = NULL;
	struct http_client *c = NULL;
	struct http_response resp = {};
	int r;

	*ret_error = NULL;
	*ret_cached = false;
	if (kds_cache_get(k, path, ret_body, ret_len) == 0) {
		*ret_cached = true;
		return 0;
	}
	if (asprintf(&full, "%s%s", k->prefix, path) < 0)
		return -ENOMEM;
	r = http_client_new(k->endpoint, &opts, &c);
	if (r < 0)
		return errorf(ret_error, r, "cannot use the KDS URL %s: %s", k->base,
			      c ? http_client_error(c) : strerror(-r));
	r = http_request(c, "GET", full, NULL, NULL, 0, &resp);
	if (r < 0) {
		_cleanup_free_ char *why = client_reason(c, k->endpoint);

		errorf(ret_error, r,
		       "fetching %s%s failed: %s — check --kds-url (or $SEVADM_KDS_URL) "
		       "and the network, or copy the file in by hand",
		       k->base, path, why ? why : strerror(-r));
		http_client_free(c);
		return r;
	}
	http_client_free(c);
	if (resp.status != 200) {
		r = errorf(ret_error, resp.status == 404 ? -ENOENT : -EIO,
			   "AMD KDS at %s answered HTTP %d for %s — %s", k->base, resp.status, path,
			   status_hint(resp.status));
		http_response_clear(&resp);
		return r;
	}
	*ret_body = TAKE_PTR(resp.body);
	*ret_len = resp.body_len;
	http_response_clear(&resp);
	return 0;
}
