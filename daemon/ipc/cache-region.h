/* The reply cache's shared region (daemon/README.md "Reply cache"): what the
 * unprivileged worker needs to answer GET /v1/platform, GET /v1/guests/{h} and the polled
 * lists (GET /v1/asids, GET /v1/guests: "Published lists") itself, with exactly the core's
 * freshness rule, instead of a round trip to the core per cached GET.
 *
 * The core creates a memfd, maps it writable and seals it (no shrink, no growth, no new
 * write: F_SEAL_FUTURE_WRITE, then F_SEAL_SEAL) before any worker sees it, so the worker can
 * only map it read-only, never shrink it under anyone's mapping (no SIGBUS) and never write
 * it. The core publishes into it: the firmware queue's started-job counter (the queue keeps
 * it there: queue.h sevd_queue_share_started), the PSP-unhealthy flag, and a copy of every
 * reply-cache entry (validity, generation, time taken, content), each entry under a seqlock
 * written only under the core's cache lock. The core never reads anything back from it: its
 * own cache (core.c) is the authority, the region is a mirror. The worker checks the region's
 * size, magic and version before use, reads entries with a bounded seqlock retry loop, and
 * treats every byte as data (a handle picks a slot it computes itself and must match). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "daemon/core/core.h"

#define SEVD_CACHE_MAX_MS 1000u	   /* an entry older than this is asked again */
#define SEVD_GUEST_CACHE_SLOTS 64u /* by handle modulo this */

struct sevd_region;

/* ---- the core (the only writer) ---- */

/* A new sealed region, mapped writable here: every entry invalid, the PSP healthy. */
int sevd_region_new(struct sevd_region **ret);
void sevd_region_free(struct sevd_region *r);
/* The memfd, for the worker (its seals keep it read-only there). */
int sevd_region_fd(const struct sevd_region *r);
/* Where the firmware queue keeps its started-job counter (inside the region). */
_Atomic uint64_t *sevd_region_started(struct sevd_region *r);
void sevd_region_set_unhealthy(struct sevd_region *r, bool unhealthy);
/* Publish an entry (under the core's cache lock: one writer at a time per entry). */
void sevd_region_put_platform(struct sevd_region *r, bool valid, uint64_t gen, uint64_t ms,
			      const struct sevd_platform_info *p);
void sevd_region_put_guest(struct sevd_region *r, unsigned slot, bool valid, uint64_t gen,
			   uint64_t ms, const struct sevd_guest_info *g);
/* Where the ASID pool keeps its version (inside the region: asid.h sevd_asid_share_version). */
_Atomic uint64_t *sevd_region_asid_version(struct sevd_region *r);
/* Publish the pool's table as ASIDS answers it, taken at pool version ver (one consistent
 * state: core.c op_asids), or drop it (valid false). Callers serialise (the cache lock). */
void sevd_region_put_asids(struct sevd_region *r, bool valid, uint64_t ver, uint64_t ms,
			   const typeof(((struct sevd_reply *)0)->u.asids) *a);
/* Publish the guest list as GUEST_LIST answers a caller without a tenant, taken by the job
 * of queue generation gen, or drop it. Under the core's cache lock. */
void sevd_region_put_list(struct sevd_region *r, bool valid, uint64_t gen, uint64_t ms,
			  const typeof(((struct sevd_reply *)0)->u.guests) *g);

/* ---- the worker (read-only) ---- */

/* Map fd read-only and check size, magic and version; fd stays the caller's. -EBADMSG: not a
 * region of this sevd. */
int sevd_region_open(int fd, struct sevd_region **ret);
/* Answer PLATFORM_STATUS, GUEST_INFO or GUEST_LIST as the core would from its cache: true
 * (rep filled as the core fills it) only while the PSP is healthy, the entry valid, taken in
 * the current queue generation and younger than SEVD_CACHE_MAX_MS; ASIDS while the table's
 * pool version is the pool's current one and it is younger than SEVD_CACHE_MAX_MS; false: ask
 * the core. GUEST_LIST holds every tenant's guests: the caller answers it from here only for
 * a principal the core said has no tenant (worker-side.c). */
bool sevd_region_answer(struct sevd_region *r, const struct sevd_request *req,
			struct sevd_reply *rep);
/* The worker's answers from the region so far. */
void sevd_region_hits(const struct sevd_region *r, uint64_t *ret_platform, uint64_t *ret_guest);
void sevd_region_list_hits(const struct sevd_region *r, uint64_t *ret_asids, uint64_t *ret_list);
