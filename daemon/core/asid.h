/* The ASID pool (SEV API §6.x ACTIVATE; AMD APM 15.34 "ASID"): which encryption slots a guest may
 * be bound to. CPUID 8000_001F gives ECX = the highest SEV ASID and EDX = the lowest ASID for a
 * plain SEV guest; ASIDs 1..EDX-1 are for SEV-ES/SNP guests only, EDX..ECX for plain SEV.
 *
 * An ASID freed by DEACTIVATE is dirty: caches may still hold lines tagged with it, and firmware
 * refuses to ACTIVATE it again (DFFLUSH_REQUIRED) until WBINVD on every core and DF_FLUSH ran.
 * So a released ASID goes to "pending flush" and is handed out again only after a flush. Flushes
 * are batched as KVM's __sev_recycle_asids() does: when the free pool of the wanted type runs
 * out (or falls to the configured threshold) and something is pending, one flush recycles every
 * pending ASID at once.
 *
 * The pool does no firmware I/O itself: the flush is a callback (the daemon's core runs WBINVD
 * and DF_FLUSH there, on its firmware thread). Thread-safe; the callback runs without the pool's
 * lock held, and ASIDs released while it runs stay pending for the next flush. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The pool keeps per-ASID state in an array; hardware so far has at most 1006 (Genoa). */
#define SEVD_ASID_LIMIT 4096u
#define SEVD_ASID_HOLDER_MAX 48u

enum sevd_asid_state {
	SEVD_ASID_FREE = 0,
	SEVD_ASID_USED = 1,
	SEVD_ASID_PENDING = 2,	/* released, waiting for WBINVD + DF_FLUSH */
	SEVD_ASID_FLUSHING = 3, /* part of the flush that is running now */
};

struct sevd_asid_pool;

/* Run WBINVD + DF_FLUSH; 0 on success, negative errno otherwise (then nothing is recycled). */
typedef int (*sevd_asid_flush_fn)(void *userdata);

struct sevd_asid_counts {
	uint32_t total, used, free, pending;
};

struct sevd_asid_stats {
	uint32_t max, min_sev;
	struct sevd_asid_counts es, sev;
	uint64_t flushes;
};

/* max = CPUID ECX, min_sev = CPUID EDX. -EINVAL when max is 0 (SEV off) or over
 * SEVD_ASID_LIMIT; min_sev 0 or 1 means no ES ASIDs, min_sev > max means no plain SEV ASIDs. */
int sevd_asid_pool_new(uint32_t max, uint32_t min_sev, struct sevd_asid_pool **ret);
void sevd_asid_pool_free(struct sevd_asid_pool *p);
/* Flush callback and threshold: flush when the wanted type has <= threshold free ASIDs. */
void sevd_asid_pool_set_flush(struct sevd_asid_pool *p, sevd_asid_flush_fn fn, void *userdata,
			      uint32_t threshold);

/* The ranges: es ∈ [1, min_sev-1], sev ∈ [min_sev, max]; *first > *last when empty. */
void sevd_asid_range(const struct sevd_asid_pool *p, bool es, uint32_t *first, uint32_t *last);
/* Is asid in the range of its type? 0, or -ERANGE with the reason in *reason (static). */
int sevd_asid_check(const struct sevd_asid_pool *p, uint32_t asid, bool es, const char **reason);

/* Take the lowest free ASID of the type (flushing first when the pool is low). -ENODEV when
 * the platform has no ASIDs of that type, -ENOSPC when all are used (or pending and the flush
 * failed: then the flush's error is logged by the callback). */
int sevd_asid_alloc(struct sevd_asid_pool *p, bool es, const char *holder, uint32_t *ret_asid);
/* Take a specific ASID: -ERANGE outside the type's range, -EBUSY when held, -EAGAIN when it
 * is pending a flush and the flush failed. */
int sevd_asid_claim(struct sevd_asid_pool *p, uint32_t asid, bool es, const char *holder);
/* The guest left the ASID (DEACTIVATE): it becomes pending. -EINVAL if it was not used. */
int sevd_asid_release(struct sevd_asid_pool *p, uint32_t asid);
/* Forget an ASID without DEACTIVATE having run on it (ACTIVATE failed): back to free. */
int sevd_asid_unclaim(struct sevd_asid_pool *p, uint32_t asid);
/* Flush now: every pending ASID becomes free on success. Returns how many were recycled. */
int sevd_asid_flush(struct sevd_asid_pool *p);
/* Everything is clean (after INIT, which Linux follows with WBINVD + DF_FLUSH). */
void sevd_asid_mark_all_clean(struct sevd_asid_pool *p);

void sevd_asid_stats(struct sevd_asid_pool *p, struct sevd_asid_stats *ret);
/* State and holder of one ASID (holder copied into buf of SEVD_ASID_HOLDER_MAX). */
enum sevd_asid_state sevd_asid_get(struct sevd_asid_pool *p, uint32_t asid,
				   char holder[SEVD_ASID_HOLDER_MAX]);

/* The pool's version: it moves (under the pool's lock, before the lock is let go) with every
 * change of an ASID's state or holder. A table built between two equal reads of it is one
 * consistent state of the pool (core.c op_asids publishes such a table to the worker). */
uint64_t sevd_asid_version(struct sevd_asid_pool *p);
/* Keep the version at *where from now on (the core's shared region: cache-region.h), so that
 * the worker reads the current version without asking; where must outlive the pool. */
void sevd_asid_share_version(struct sevd_asid_pool *p, _Atomic uint64_t *where);
