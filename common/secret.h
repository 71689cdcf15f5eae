/* Secret memory: wiped with OPENSSL_cleanse before it is freed, and cleanup helpers for it.
 * Every buffer that holds a TEK, TIK, private scalar or token goes through these. Private keys
 * inside OpenSSL objects are OpenSSL's secure heap (common/secure-heap.h). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/macros.h"

/* Zeroed memory on pages of its own (at least one page each: for keys, not bulk data), locked
 * in RAM (best effort: one warning per process when RLIMIT_MEMLOCK does not allow it), left out
 * of core dumps, 16-byte aligned, with a guard page right behind its end. NULL when out of
 * memory. */
void *secret_alloc(size_t size);
/* Wipe and free a buffer from secret_alloc() (all of its pages, whatever size says); accepts
 * NULL. Anything else aborts. */
void secret_free(void *p, size_t size);
/* Say once per process that memory holding keys (what, bytes) could not be locked (error: the
 * errno of mlock), with RLIMIT_MEMLOCK and how to raise it; later calls say nothing. */
void secret_lock_failed(const char *what, size_t bytes, int error);
/* Wipe a buffer in place (OPENSSL_cleanse; not optimised away). */
void secret_wipe(void *p, size_t size);
/* Constant-time comparison: 0 when equal (CRYPTO_memcmp). */
int secret_memcmp(const void *a, const void *b, size_t size);

/* A fixed-size stack buffer that is wiped when it goes out of scope:
 *	_cleanup_wipe_ uint8_t tek[16];  -- not possible for arrays, so use: */
struct secret_buf {
	void *p;
	size_t size;
};
static inline void secret_bufp(struct secret_buf *b)
{
	secret_wipe(b->p, b->size);
}
/* Declare `name` as a wiped-on-exit view of an existing array: WIPE_ON_EXIT(tek, sizeof tek); */
#define WIPE_ON_EXIT(arr, sz)                                                                      \
	_cleanup_(secret_bufp) _unused_ struct secret_buf __wipe_##arr = { (arr), (sz) }
