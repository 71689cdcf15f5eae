/* AMD Key Distribution Service client for `sevadm fetch`: GET a path under a base URL
 * (default https://kdsintf.amd.com, else --kds-url or $SEVADM_KDS_URL) through the sevadm HTTP
 * client, with a file cache so that a second fetch of the same URL does not touch the network.
 * Answers are untrusted bytes: callers parse and verify them before writing anything. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/kds-url.h"

#define KDS_DEFAULT_URL "https://kdsintf.amd.com"

struct kds {
	struct kds_url url; /* the base URL split (common/kds-url.h) */
	const char *base;   /* url.base: as given, for messages */
	const char *host;   /* url.host: "kdsintf.amd.com", "127.0.0.1:8080", for progress */
	char *cache_dir;    /* <cache>/<host_port>, created on first store */
	const char *ca_file;
	/* Progress of a network answer (not of a cache hit): set by the caller, may be NULL. */
	void (*on_body)(void *userdata, uint64_t done, uint64_t total);
	void *on_body_userdata;
};

/* base NULL: $SEVADM_KDS_URL, else KDS_DEFAULT_URL. cache NULL: $XDG_CACHE_HOME/sevadm when
 * set, else /var/cache/sevd for root, else ~/.cache/sevadm. *ret_error (malloc'd) says what was wrong. */
int kds_init(struct kds *k, const char *base, const char *cache, const char *ca_file,
	     char **ret_error);
void kds_done(struct kds *k);
/* The cached answer for path, when there is one: 0 with the body (NUL-terminated), else
 * -ENOENT. kds_get looks here first; callers use it to tell a cache hit before asking. */
int kds_cache_get(struct kds *k, const char *path, uint8_t **ret_body, size_t *ret_len);
/* GET path (starting with '/', may hold a query). 0 with the body (NUL-terminated), or
 * negative errno with *ret_error ("AMD KDS at URL answered 404 Not Found for PATH — ...").
 * *ret_cached tells whether the answer came from the cache. */
int kds_get(struct kds *k, const char *path, uint8_t **ret_body, size_t *ret_len,
	    bool *ret_cached, char **ret_error);
/* Store an answer the caller has parsed and verified, so the next kds_get is served from the
 * cache. Failing to cache is not fatal to a fetch: the caller may only warn. */
int kds_cache_put(struct kds *k, const char *path, const uint8_t *body, size_t len);
