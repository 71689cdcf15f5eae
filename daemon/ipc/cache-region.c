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
#define REGION_VERSION 1u
#define REGION_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)
/* A reader gives up after this many tries (each an entry copy) while the core rewrites the
 * entry, and asks the core instead: bounded work, never a wait on the core. */
#define READ_TRIES 64

#define WORDS(type) ((sizeof(type) + 7) / 8)
/* An entry's words: valid, gen (queue generation), ms (CLOCK_MONOTONIC), then the info. */
enum { W_VALID, W_GEN, W_MS, W_INFO };
#define PLATFORM_WORDS (W_INFO + WORDS(struct sevd_platform_info))
#define GUEST_WORDS (W_INFO + WORDS(struct sevd_guest_info))

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
};
_Static_assert(sizeof(struct shared) < 64 * 1024, "the region stays small (one mapping)");

struct sevd_region {
	struct shared *s;
	int fd;		/* the core's memfd; -1 in the worker (the fd is its caller's) */
	bool writable;	/* the core's mapping */
	_Atomic uint64_t hits_platform, hits_guest; /* the worker's answers */
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
	    s->guest_words != GUEST_WORDS) {
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

bool sevd_region_answer(struct sevd_region *r, const struct sevd_request *req,
			struct sevd_reply *rep)
{
	/* The core refuses firmware requests first while the PSP is unhealthy (core.c
	 * sevd_core_call): those go to the core, which says why. */
	if (!r || atomic_load(&r->s->unhealthy))
		return false;
	if (req->op == SEVD_OP_PLATFORM_STATUS)
		return answer_platform(r, rep);
	if (req->op == SEVD_OP_GUEST_INFO)
		return answer_guest(r, req->u.guest.handle, req->caller.guest_id, rep);
	return false;
}

void sevd_region_hits(const struct sevd_region *r, uint64_t *ret_platform, uint64_t *ret_guest)
{
	*ret_platform = r ? atomic_load(&r->hits_platform) : 0;
	*ret_guest = r ? atomic_load(&r->hits_guest) : 0;
}
