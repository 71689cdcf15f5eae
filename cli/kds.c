/* AMD KDS client with a cache (see kds.h). common/kds-url.c splits the base URL into the HTTP
 * client's endpoint (scheme://host:port) and a path prefix, and GETs; cached answers live in
 * one file per URL path under <cache>/<host>_<port>/, named by percent-encoding the path, and
 * are only written after the caller has verified them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/http-client.h"
#include "common/kds-url.h"
#include "cli/kds.h"
#include "common/macros.h"
#include "common/util.h"

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

int kds_init(struct kds *k, const char *base, const char *cache, const char *ca_file,
	     char **ret_error)
{
	_cleanup_free_ char *root = NULL;
	int r;

	memset(k, 0, sizeof *k);
	*ret_error = NULL;
	if (!base)
		base = getenv("SEVADM_KDS_URL");
	if (!base || !*base)
		base = KDS_DEFAULT_URL;
	k->ca_file = ca_file;
	r = kds_url_parse(base, &k->url, ret_error);
	if (r < 0) {
		kds_url_done(&k->url);
		return r;
	}
	k->base = k->url.base;
	k->host = k->url.host;
	root = cache ? strdup(cache) : default_cache_dir();
	if (!root)
		return errorf(ret_error, -EINVAL,
			      "no cache directory: set HOME or give --cache DIR");
	k->cache_dir = path_join(root, k->url.cache_name);
	return k->cache_dir ? 0 : -ENOMEM;
}

void kds_done(struct kds *k)
{
	kds_url_done(&k->url);
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

int kds_get(struct kds *k, const char *path, uint8_t **ret_body, size_t *ret_len,
	    bool *ret_cached, char **ret_error)
{
	struct http_client_opts opts = { .ca_file = k->ca_file, .timeout_ms = KDS_TIMEOUT_MS,
					 .max_response = KDS_MAX_ANSWER, .on_body = k->on_body,
					 .on_body_userdata = k->on_body_userdata };

	*ret_error = NULL;
	*ret_cached = false;
	if (kds_cache_get(k, path, ret_body, ret_len) == 0) {
		*ret_cached = true;
		return 0;
	}
	return kds_url_get(&k->url, path, &opts,
			   "check --kds-url (or $SEVADM_KDS_URL) and the network, or copy the file "
			   "in by hand",
			   ret_body, ret_len, ret_error);
}
