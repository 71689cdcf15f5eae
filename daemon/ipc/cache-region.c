/* The reply cache's shared region (cache-region.h): a sealed memfd the core writes and its
 * worker maps read-only. The core trusts nothing in it (it never reads it back); the worker
 * trusts its core but still checks the region's size, magic, version and seals, and treats
 * every entry as data: a torn or garbled entry is a miss, and a miss asks the core.
 *
 * Entries are seqlocks: an even sequence number while the entry is stable, odd while the one
 * writer (the core, under its cache lock) changes it. Contents are copied word by word with
 * relaxed atomic accesses and fences (Boehm, "Can seqlocks get along with programming language
 * memory models?", 2012), so a reader racing a writer reads no torn word and notices the
 * change through the sequence number. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "daemon/ipc/cache-region.h"

#define REGION_MAGIC 0x52445653u /* "SVDR" */
#define REGION_VERSION 2u /* 2: the ASID table and the guest list */
#define REGION_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)
/* A reader gives up after this many tries (each an entry copy) while the core rewrites the
 * entry, and asks the core instead: bounded work, never a wait on the core. */
#define READ_TRIES 64

#define WORDS(type) ((sizeof(type) + 7) / 8)
/* An entry's words: valid, gen (queue generation), ms (CLOCK_MONOTONIC), then the info. */
enum { W_VALID, W_GEN, W_MS, W_INFO };
#define PLATFORM_WORDS (W_INFO + WORDS(struct sevd_platform_info))
#define GUEST_WORDS (W_INFO + WORDS(struct sevd_guest_info))
/* The lists: the reply's counted member (prefix, then n entries) after the three words. */
typedef typeof(((struct sevd_reply *)0)->u.asids) asids_t;
typedef typeof(((struct sevd_reply *)0)->u.guests) guests_t;
#define ASIDS_WORDS (W_INFO + WORDS(asids_t))
#define LIST_WORDS (W_INFO + WORDS(guests_t))

struct shared {
	uint32_t magic, version; /* REGION_MAGIC, REGION_VERSION */
	uint32_t size, slots;	 /* sizeof(struct shared), SEVD_GUEST_CACHE_SLOTS */
	uint32_t platform_words, guest_words;
	_Atomic uint64_t started;    /* the firmware queue's started-job counter (queue.c) */
	_Atomic uint32_t unhealthy;  /* 1 while the core refuses firmware requests */
	struct {
		_Atomic uint32_t seq;
		uint64_t w[PLATFORM_WORDS];
	} platform;
	struct {
		_Atomic uint32_t seq;
		uint64_t w[GUEST_WORDS];
	} guest[SEVD_GUEST_CACHE_SLOTS];
	/* The ASID pool's version (asid.h sevd_asid_share_version: the pool moves it itself) and
	 * the pool's table taken at one version (W_GEN holds that version). */
	_Atomic uint64_t asid_ver;
	uint32_t asids_words, list_words;
	struct {
		_Atomic uint32_t seq;
		uint64_t w[ASIDS_WORDS];
	} asids;
	/* The guest list as a caller without a tenant sees it (W_GEN: the queue generation). */
	struct {
		_Atomic uint32_t seq;
		uint64_t w[LIST_WORDS];
	} list;
};
_Static_assert(sizeof(struct shared) < 1024 * 1024, "the region stays small (one mapping)");

struct sevd_region {
	struct shared *s;
	int fd;		/* the core's memfd; -1 in the worker (the fd is its caller's) */
	bool writable;	/* the core's mapping */
	_Atomic uint64_t hits_platform, hits_guest; /* the worker's answers */
	_Atomic uint64_t hits_asids, hits_list;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the core ---- */

int sevd_region_new(struct sevd_region **ret)
{
	_cleanup_close_ int fd = memfd_create("sevd-cache", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct sevd_region *r;
	struct shared *s;

	if (fd < 0 || ftruncate(fd, sizeof(struct shared)) < 0)
		return negative_errno();
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s == MAP_FAILED)
		return negative_errno();
	/* The mapping above stays writable; from here on no new writable mapping, no write(),
	 * no size change, no seal change: the worker can only read (Linux >= 5.1). */
	if (fcntl(fd, F_ADD_SEALS, REGION_SEALS) < 0) {
		int err = negative_errno();

		munmap(s, sizeof(*s));
		return err;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		munmap(s, sizeof(*s));
		return -ENOMEM;
	}
	s->size = sizeof(*s);
	s->slots = SEVD_GUEST_CACHE_SLOTS;
	s->platform_words = PLATFORM_WORDS;
	s->guest_words = GUEST_WORDS;
	s->asids_words = ASIDS_WORDS;
	s->list_words = LIST_WORDS;
	s->version = REGION_VERSION;
	s->magic = REGION_MAGIC; /* before any worker exists: no ordering needed */
	*r = (struct sevd_region){.s = s, .fd = TAKE_FD(fd), .writable = true};
	*ret = r;
	return 0;
}

void sevd_region_free(struct sevd_region *r)
{
	if (!r)
		return;
	munmap(r->s, sizeof(*r->s));
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

int sevd_region_fd(const struct sevd_region *r)
{
	return r ? r->fd : -1;
}

_Atomic uint64_t *sevd_region_started(struct sevd_region *r)
{
	return &r->s->started;
}

void sevd_region_set_unhealthy(struct sevd_region *r, bool unhealthy)
{
	if (r && r->writable)
		atomic_store(&r->s->unhealthy, unhealthy ? 1 : 0);
}

/* One writer per entry (the core's cache lock): sequence odd, the words, sequence even. */
static void entry_put(_Atomic uint32_t *seq, uint64_t *w, const uint64_t *src, size_t n)
{
	uint32_t s = atomic_load_explicit(seq, memory_order_relaxed);

	atomic_store_explicit(seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release); /* the odd number before any word */
	for (size_t i = 0; i < n; i++)
		__atomic_store_n(&w[i], src[i], __ATOMIC_RELAXED);
	atomic_store_explicit(seq, s + 2, memory_order_release); /* every word before it */
}

void sevd_region_put_platform(struct sevd_region *r, bool valid, uint64_t gen, uint64_t ms,
			      const struct sevd_platform_info *p)
{
	uint64_t w[PLATFORM_WORDS] = {[W_VALID] = valid, [W_GEN] = gen, [W_MS] = ms};

	if (!r || !r->writable)
		return;
	memcpy(&w[W_INFO], p, sizeof(*p));
	entry_put(&r->s->platform.seq, r->s->platform.w, w, PLATFORM_WORDS);
}

void sevd_region_put_guest(struct sevd_region *r, unsigned slot, bool valid, uint64_t gen,
			   uint64_t ms, const struct sevd_guest_info *g)
{
	uint64_t w[GUEST_WORDS] = {[W_VALID] = valid, [W_GEN] = gen, [W_MS] = ms};

	if (!r || !r->writable || slot >= SEVD_GUEST_CACHE_SLOTS)
		return;
	memcpy(&w[W_INFO], g, sizeof(*g));
	entry_put(&r->s->guest[slot].seq, r->s->guest[slot].w, w, GUEST_WORDS);
}

_Atomic uint64_t *sevd_region_asid_version(struct sevd_region *r)
{
	return &r->s->asid_ver;
}

/* A counted member: the three words, then only the bytes its count uses. */
static void counted_put(_Atomic uint32_t *seq, uint64_t *w, bool valid, uint64_t gen, uint64_t ms,
			const void *member, size_t used)
{
	uint64_t head[W_INFO] = {[W_VALID] = valid, [W_GEN] = gen, [W_MS] = ms};
	uint32_t s = atomic_load_explicit(seq, memory_order_relaxed);
	const uint8_t *src = member;
	size_t words = (used + 7) / 8;

	atomic_store_explicit(seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (size_t i = 0; i < W_INFO; i++)
		__atomic_store_n(&w[i], head[i], __ATOMIC_RELAXED);
	for (size_t i = 0; valid && i < words; i++) {
		uint64_t v = 0;

		memcpy(&v, src + i * 8, MIN((size_t)8, used - i * 8));
		__atomic_store_n(&w[W_INFO + i], v, __ATOMIC_RELAXED);
	}
	atomic_store_explicit(seq, s + 2, memory_order_release);
}

void sevd_region_put_asids(struct sevd_region *r, bool valid, uint64_t ver, uint64_t ms,
			   const asids_t *a)
{
	size_t n;

	if (!r || !r->writable)
		return;
	n = a && a->n <= SEVD_ASID_LIMIT ? a->n : 0;
	counted_put(&r->s->asids.seq, r->s->asids.w, valid && a, ver, ms, a,
		    offsetof(asids_t, entry) + n * sizeof(a->entry[0]));
}

void sevd_region_put_list(struct sevd_region *r, bool valid, uint64_t gen, uint64_t ms,
			  const guests_t *g)
{
	size_t n;

	if (!r || !r->writable)
		return;
	n = g && g->n <= SEVD_GUESTS_MAX ? g->n : 0;
	counted_put(&r->s->list.seq, r->s->list.w, valid && g, gen, ms, g,
		    offsetof(guests_t, g) + n * sizeof(g->g[0]));
}

/* ---- the worker ---- */

int sevd_region_open(int fd, struct sevd_region **ret)
{
	struct sevd_region *r;
	struct shared *s;
	struct stat st;
	int seals;

	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode) || st.st_size != (off_t)sizeof(struct shared))
		return -EBADMSG;
	/* Sealed against shrinking: no SIGBUS here whatever happens to the file. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & REGION_SEALS) != REGION_SEALS)
		return -EBADMSG;
	s = mmap(NULL, sizeof(*s), PROT_READ, MAP_SHARED, fd, 0);
	if (s == MAP_FAILED)
		return negative_errno();
	if (s->magic != REGION_MAGIC || s->version != REGION_VERSION || s->size != sizeof(*s) ||
	    s->slots != SEVD_GUEST_CACHE_SLOTS || s->platform_words != PLATFORM_WORDS ||
	    s->guest_words != GUEST_WORDS || s->asids_words != ASIDS_WORDS ||
	    s->list_words != LIST_WORDS) {
		munmap(s, sizeof(*s));
		return -EBADMSG;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		munmap(s, sizeof(*s));
		return -ENOMEM;
	}
	*r = (struct sevd_region){.s = s, .fd = -1};
	*ret = r;
	return 0;
}

/* A stable copy of an entry, or false after READ_TRIES changes under us. */
static bool entry_get(const _Atomic uint32_t *seq, const uint64_t *w, uint64_t *dst, size_t n)
{
	for (int t = 0; t < READ_TRIES; t++) {
		uint32_t s = atomic_load_explicit(seq, memory_order_acquire);

		if (s & 1)
			continue; /* the core is writing it */
		for (size_t i = 0; i < n; i++)
			dst[i] = __atomic_load_n(&w[i], __ATOMIC_RELAXED);
		atomic_thread_fence(memory_order_acquire); /* every word before the re-check */
		if (atomic_load_explicit(seq, memory_order_relaxed) == s)
			return true;
	}
	return false;
}

/* The core's rule (core.c cache_fresh, outside a job): valid, taken in the current queue
 * generation, younger than the age bound. The counter is read after the entry: it only
 * grows, so equal to the entry's generation now means equal when the entry was copied. */
static bool fresh(const struct shared *s, const uint64_t *w)
{
	if (!w[W_VALID] || w[W_GEN] != atomic_load(&s->started))
		return false;
	return now_ms() - w[W_MS] < SEVD_CACHE_MAX_MS;
}

/* What sevd_core_call sets on every reply, and the IPC's zeroed status fields. */
static void reply_ok(struct sevd_reply *rep)
{
	memset(rep, 0, offsetof(struct sevd_reply, u));
	rep->fw_status = SEV_STATUS_NO_FW_CALL;
}

static bool answer_platform(struct sevd_region *r, struct sevd_reply *rep)
{
	uint64_t w[PLATFORM_WORDS];

	if (!entry_get(&r->s->platform.seq, r->s->platform.w, w, PLATFORM_WORDS) ||
	    !fresh(r->s, w))
		return false;
	reply_ok(rep);
	memcpy(&rep->u.platform, &w[W_INFO], sizeof(rep->u.platform));
	atomic_fetch_add_explicit(&r->hits_platform, 1, memory_order_relaxed);
	return true;
}

static bool answer_guest(struct sevd_region *r, uint32_t handle, const uint8_t *want_id,
			 struct sevd_reply *rep)
{
	unsigned slot = handle % SEVD_GUEST_CACHE_SLOTS;
	struct sevd_guest_info info;
	uint64_t w[GUEST_WORDS];

	if (!entry_get(&r->s->guest[slot].seq, r->s->guest[slot].w, w, GUEST_WORDS) ||
	    !fresh(r->s, w))
		return false;
	memcpy(&info, &w[W_INFO], sizeof(info));
	if (info.handle != handle) /* the slot holds another guest */
		return false;
	if (!sevd_guest_id_matches(want_id, info.id)) /* named by an id: the core answers */
		return false;
	reply_ok(rep);
	memset(&rep->u.guest, 0, sizeof(rep->u.guest)); /* command 0: nothing ran */
	rep->u.guest.info = info;
	atomic_fetch_add_explicit(&r->hits_guest, 1, memory_order_relaxed);
	return true;
}

/* A stable copy of a counted member into dst (the reply's member): the three words into
 * head, the prefix, then as many entries as the copied count says (at most max); false after
 * READ_TRIES changes under us or a count over max. */
static bool counted_get(const _Atomic uint32_t *seq, const uint64_t *w, uint64_t head[W_INFO],
			void *dst, size_t prefix, size_t n_off, size_t entry, uint32_t max)
{
	uint8_t *out = dst;

	for (int t = 0; t < READ_TRIES; t++) {
		uint32_t s = atomic_load_explicit(seq, memory_order_acquire), n;
		size_t used, words;

		if (s & 1)
			continue;
		for (size_t i = 0; i < W_INFO; i++)
			head[i] = __atomic_load_n(&w[i], __ATOMIC_RELAXED);
		if (head[W_VALID]) {
			/* The count first (its word), then the words it covers, rounded up:
			 * dst is the whole member, so whole words fit. */
			uint64_t v = __atomic_load_n(&w[W_INFO + n_off / 8], __ATOMIC_RELAXED);

			memcpy(&n, (uint8_t *)&v + n_off % 8, sizeof(n));
			if (n > max) { /* garbled: a miss (if the sequence holds) */
				n = 0;
				head[W_VALID] = 0;
			}
			used = prefix + (size_t)n * entry;
			words = (used + 7) / 8;
			for (size_t i = 0; head[W_VALID] && i < words; i++) {
				uint64_t x = __atomic_load_n(&w[W_INFO + i], __ATOMIC_RELAXED);

				memcpy(out + i * 8, &x, MIN((size_t)8, used - i * 8));
			}
		}
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(seq, memory_order_relaxed) == s)
			return head[W_VALID] != 0;
	}
	return false;
}

static bool young(uint64_t ms)
{
	return now_ms() - ms < SEVD_CACHE_MAX_MS;
}

/* The pool's table, valid while the pool's version is the one it was taken at (read after the
 * copy: it only grows) and younger than the age bound. Not a firmware answer: the PSP's
 * health does not matter (the core answers ASIDS while it is unhealthy too). */
static bool answer_asids(struct sevd_region *r, struct sevd_reply *rep)
{
	uint64_t head[W_INFO];

	if (!counted_get(&r->s->asids.seq, r->s->asids.w, head, &rep->u.asids,
			 offsetof(asids_t, entry), offsetof(asids_t, n), sizeof(rep->u.asids.entry[0]),
			 SEVD_ASID_LIMIT) ||
	    head[W_GEN] != atomic_load(&r->s->asid_ver) || !young(head[W_MS]))
		return false;
	reply_ok(rep);
	atomic_fetch_add_explicit(&r->hits_asids, 1, memory_order_relaxed);
	return true;
}

/* The guest list under the reply cache's rule (fresh: taken in the current queue generation,
 * younger than the age bound; the caller checked the PSP's health). */
static bool answer_list(struct sevd_region *r, struct sevd_reply *rep)
{
	uint64_t head[W_INFO];

	if (!counted_get(&r->s->list.seq, r->s->list.w, head, &rep->u.guests,
			 offsetof(guests_t, g), offsetof(guests_t, n), sizeof(rep->u.guests.g[0]),
			 SEVD_GUESTS_MAX) ||
	    !fresh(r->s, head))
		return false;
	reply_ok(rep);
	atomic_fetch_add_explicit(&r->hits_list, 1, memory_order_relaxed);
	return true;
}

bool sevd_region_answer(struct sevd_region *r, const struct sevd_request *req,
			struct sevd_reply *rep)
{
	if (r && req->op == SEVD_OP_ASIDS)
		return answer_asids(r, rep);
	/* The core refuses firmware requests first while the PSP is unhealthy (core.c
	 * sevd_core_call): those go to the core, which says why. */
	if (!r || atomic_load(&r->s->unhealthy))
		return false;
	if (req->op == SEVD_OP_PLATFORM_STATUS)
		return answer_platform(r, rep);
	if (req->op == SEVD_OP_GUEST_INFO)
		return answer_guest(r, req->u.guest.handle, req->caller.guest_id, rep);
	if (req->op == SEVD_OP_GUEST_LIST)
		return answer_list(r, rep);
	return false;
}

void sevd_region_hits(const struct sevd_region *r, uint64_t *ret_platform, uint64_t *ret_guest)
{
	*ret_platform = r ? atomic_load(&r->hits_platform) : 0;
	*ret_guest = r ? atomic_load(&r->hits_guest) : 0;
}

void sevd_region_list_hits(const struct sevd_region *r, uint64_t *ret_asids, uint64_t *ret_list)
{
	*ret_asids = r ? atomic_load(&r->hits_asids) : 0;
	*ret_list = r ? atomic_load(&r->hits_list) : 0;
}
