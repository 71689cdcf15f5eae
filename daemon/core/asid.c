/* The ASID pool: per-ASID state, allocation by guest type, batched recycling of dirty ASIDs.
 * Trusts its caller for holder names (copied, truncated) and the CPUID values it was built
 * with; checks every ASID number it is given against those ranges. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "daemon/core/asid.h"

struct sevd_asid_slot {
	uint8_t state; /* enum sevd_asid_state */
	char holder[SEVD_ASID_HOLDER_MAX];
};

struct sevd_asid_pool {
	pthread_mutex_t lock;
	pthread_cond_t flush_done; /* signalled when a running flush ends */
	bool flushing;
	uint32_t max, min_sev;
	uint64_t flushes;
	sevd_asid_flush_fn flush_fn;
	void *flush_userdata;
	uint32_t threshold;
	struct sevd_asid_slot *slot; /* index = ASID; slot[0] unused (ASID 0 is the host's) */
	/* The pool's version: moved under the lock by every change of a slot (state or holder),
	 * before the lock is let go. *ver is own_ver, or where the core shares it (asid.h). */
	_Atomic uint64_t own_ver, *ver;
};

static void changed_locked(struct sevd_asid_pool *p)
{
	atomic_fetch_add_explicit(p->ver, 1, memory_order_release);
}

int sevd_asid_pool_new(uint32_t max, uint32_t min_sev, struct sevd_asid_pool **ret)
{
	struct sevd_asid_pool *p;

	if (max == 0 || max > SEVD_ASID_LIMIT)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->slot = calloc((size_t)max + 1, sizeof(*p->slot));
	if (!p->slot) {
		free(p);
		return -ENOMEM;
	}
	p->max = max;
	p->min_sev = min_sev;
	p->ver = &p->own_ver;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->flush_done, NULL);
	*ret = p;
	return 0;
}

void sevd_asid_pool_free(struct sevd_asid_pool *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->flush_done);
	free(p->slot);
	free(p);
}

void sevd_asid_pool_set_flush(struct sevd_asid_pool *p, sevd_asid_flush_fn fn, void *userdata,
			      uint32_t threshold)
{
	pthread_mutex_lock(&p->lock);
	p->flush_fn = fn;
	p->flush_userdata = userdata;
	p->threshold = threshold;
	pthread_mutex_unlock(&p->lock);
}

void sevd_asid_range(const struct sevd_asid_pool *p, bool es, uint32_t *first, uint32_t *last)
{
	/* KVM (sev_hardware_setup): SEV-ES/SNP use 1..min_sev-1, plain SEV min_sev..max.
	 * min_sev 0 is treated as 1 (no ES range); the ranges are empty when first > last. */
	uint32_t min_sev = p->min_sev == 0 ? 1 : p->min_sev;

	if (es) {
		*first = 1;
		*last = MIN(min_sev - 1, p->max);
	} else {
		*first = min_sev;
		*last = p->max;
	}
}

int sevd_asid_check(const struct sevd_asid_pool *p, uint32_t asid, bool es, const char **reason)
{
	uint32_t first, last;

	sevd_asid_range(p, es, &first, &last);
	if (asid == 0) {
		*reason = "ASID 0 belongs to the host";
		return -ERANGE;
	}
	if (asid > p->max) {
		*reason = "ASID is above the platform's maximum (CPUID 8000_001F ECX)";
		return -ERANGE;
	}
	if (asid < first || asid > last) {
		*reason = es ? "an SEV-ES guest needs an ASID below min_sev (CPUID 8000_001F EDX)"
			     : "a plain SEV guest needs an ASID from min_sev (CPUID 8000_001F EDX) up";
		return -ERANGE;
	}
	return 0;
}

static void count_locked(struct sevd_asid_pool *p, uint32_t first, uint32_t last,
			 struct sevd_asid_counts *c)
{
	memset(c, 0, sizeof(*c));
	for (uint32_t a = first; a <= last && a != 0; a++) {
		c->total++;
		switch (p->slot[a].state) {
		case SEVD_ASID_FREE:
			c->free++;
			break;
		case SEVD_ASID_USED:
			c->used++;
			break;
		default:
			c->pending++;
			break;
		}
	}
}

static uint32_t pending_locked(struct sevd_asid_pool *p)
{
	uint32_t n = 0;

	for (uint32_t a = 1; a <= p->max; a++)
		n += p->slot[a].state == SEVD_ASID_PENDING;
	return n;
}

/* One batched flush with the lock held on entry and exit; the callback runs unlocked. A
 * flush already running elsewhere is waited for instead (its result recycles what we want). */
static int flush_locked(struct sevd_asid_pool *p)
{
	int r, n = 0;

	if (p->flushing) {
		while (p->flushing)
			pthread_cond_wait(&p->flush_done, &p->lock);
		return 0;
	}
	if (!p->flush_fn)
		return -EOPNOTSUPP;
	for (uint32_t a = 1; a <= p->max; a++)
		if (p->slot[a].state == SEVD_ASID_PENDING)
			p->slot[a].state = SEVD_ASID_FLUSHING;
	p->flushing = true;
	changed_locked(p);
	pthread_mutex_unlock(&p->lock);
	r = p->flush_fn(p->flush_userdata);
	pthread_mutex_lock(&p->lock);
	for (uint32_t a = 1; a <= p->max; a++) {
		if (p->slot[a].state != SEVD_ASID_FLUSHING)
			continue;
		/* Only what was dirty before the flush started is clean after it. */
		p->slot[a].state = r < 0 ? SEVD_ASID_PENDING : SEVD_ASID_FREE;
		n++;
	}
	if (r >= 0)
		p->flushes++;
	p->flushing = false;
	changed_locked(p);
	pthread_cond_broadcast(&p->flush_done);
	return r < 0 ? r : n;
}

static void take_locked(struct sevd_asid_pool *p, uint32_t asid, const char *holder)
{
	p->slot[asid].state = SEVD_ASID_USED;
	snprintf(p->slot[asid].holder, sizeof(p->slot[asid].holder), "%s", holder ? holder : "");
	changed_locked(p);
}

int sevd_asid_alloc(struct sevd_asid_pool *p, bool es, const char *holder, uint32_t *ret_asid)
{
	struct sevd_asid_counts c;
	uint32_t first, last;
	int r = 0;

	sevd_asid_range(p, es, &first, &last);
	if (first > last)
		return -ENODEV;
	pthread_mutex_lock(&p->lock);
	count_locked(p, first, last, &c);
	/* Recycle in one batch when this type runs low and something is waiting for a flush. */
	if (c.free <= p->threshold && pending_locked(p) > 0)
		r = flush_locked(p);
	for (uint32_t a = first; a <= last; a++)
		if (p->slot[a].state == SEVD_ASID_FREE) {
			take_locked(p, a, holder);
			pthread_mutex_unlock(&p->lock);
			*ret_asid = a;
			return 0;
		}
	pthread_mutex_unlock(&p->lock);
	(void)r;
	return -ENOSPC;
}

int sevd_asid_claim(struct sevd_asid_pool *p, uint32_t asid, bool es, const char *holder)
{
	const char *reason;
	int r;

	r = sevd_asid_check(p, asid, es, &reason);
	if (r < 0)
		return r;
	pthread_mutex_lock(&p->lock);
	if (p->slot[asid].state == SEVD_ASID_PENDING || p->slot[asid].state == SEVD_ASID_FLUSHING)
		(void)flush_locked(p);
	switch (p->slot[asid].state) {
	case SEVD_ASID_FREE:
		take_locked(p, asid, holder);
		r = 0;
		break;
	case SEVD_ASID_USED:
		r = -EBUSY;
		break;
	default:
		r = -EAGAIN;
		break;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

static int set_from_used(struct sevd_asid_pool *p, uint32_t asid, enum sevd_asid_state to)
{
	int r = -EINVAL;

	if (asid == 0 || asid > p->max)
		return -ERANGE;
	pthread_mutex_lock(&p->lock);
	if (p->slot[asid].state == SEVD_ASID_USED) {
		p->slot[asid].state = to;
		p->slot[asid].holder[0] = '\0';
		changed_locked(p);
		r = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

int sevd_asid_release(struct sevd_asid_pool *p, uint32_t asid)
{
	return set_from_used(p, asid, SEVD_ASID_PENDING);
}

int sevd_asid_unclaim(struct sevd_asid_pool *p, uint32_t asid)
{
	return set_from_used(p, asid, SEVD_ASID_FREE);
}

int sevd_asid_flush(struct sevd_asid_pool *p)
{
	int r;

	pthread_mutex_lock(&p->lock);
	r = flush_locked(p);
	pthread_mutex_unlock(&p->lock);
	return r;
}

void sevd_asid_mark_all_clean(struct sevd_asid_pool *p)
{
	pthread_mutex_lock(&p->lock);
	for (uint32_t a = 1; a <= p->max; a++)
		if (p->slot[a].state == SEVD_ASID_PENDING)
			p->slot[a].state = SEVD_ASID_FREE;
	changed_locked(p);
	pthread_mutex_unlock(&p->lock);
}

void sevd_asid_stats(struct sevd_asid_pool *p, struct sevd_asid_stats *ret)
{
	uint32_t first, last;

	memset(ret, 0, sizeof(*ret));
	ret->max = p->max;
	ret->min_sev = p->min_sev;
	pthread_mutex_lock(&p->lock);
	sevd_asid_range(p, true, &first, &last);
	if (first <= last)
		count_locked(p, first, last, &ret->es);
	sevd_asid_range(p, false, &first, &last);
	if (first <= last)
		count_locked(p, first, last, &ret->sev);
	ret->flushes = p->flushes;
	pthread_mutex_unlock(&p->lock);
}

enum sevd_asid_state sevd_asid_get(struct sevd_asid_pool *p, uint32_t asid,
				   char holder[SEVD_ASID_HOLDER_MAX])
{
	enum sevd_asid_state s;

	if (asid == 0 || asid > p->max) {
		holder[0] = '\0';
		return SEVD_ASID_FREE;
	}
	pthread_mutex_lock(&p->lock);
	s = p->slot[asid].state;
	memcpy(holder, p->slot[asid].holder, SEVD_ASID_HOLDER_MAX);
	pthread_mutex_unlock(&p->lock);
	return s;
}

uint64_t sevd_asid_version(struct sevd_asid_pool *p)
{
	return atomic_load_explicit(p->ver, memory_order_acquire);
}

void sevd_asid_share_version(struct sevd_asid_pool *p, _Atomic uint64_t *where)
{
	pthread_mutex_lock(&p->lock);
	if (where)
		atomic_store(where, atomic_load(p->ver));
	p->ver = where ? where : &p->own_ver;
	pthread_mutex_unlock(&p->lock);
}
