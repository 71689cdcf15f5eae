/* Unit tests of the daemon's ASID pool (ranges, pending flush, batching as KVM's
 * __sev_recycle_asids) and of the firmware queue (FIFO order, busy when full, bounded wait).
 * The flush callback here counts calls: the pool does no firmware I/O itself, and the real
 * WBINVD + DF_FLUSH path is driven by the integration test through the daemon. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/core/asid.h"
#include "daemon/core/queue.h"
#include "tests/testutil.h"

static int flush_calls, flush_result;

static int count_flush(void *userdata)
{
	flush_calls++;
	return flush_result;
}

static void test_ranges(uint32_t max, uint32_t min_sev)
{
	struct sevd_asid_pool *p;
	uint32_t first, last, asid;
	const char *reason;
	struct sevd_asid_stats st;

	TU_CHECK_EQ(sevd_asid_pool_new(max, min_sev, &p), 0);
	sevd_asid_range(p, true, &first, &last);
	TU_CHECK_EQ(first, 1);
	TU_CHECK_EQ(last, min_sev - 1);
	sevd_asid_range(p, false, &first, &last);
	TU_CHECK_EQ(first, min_sev);
	TU_CHECK_EQ(last, max);
	TU_CHECK_EQ(sevd_asid_check(p, 0, true, &reason), -ERANGE);
	TU_CHECK_EQ(sevd_asid_check(p, max + 1, false, &reason), -ERANGE);
	TU_CHECK_EQ(sevd_asid_check(p, min_sev, true, &reason), -ERANGE); /* ES needs < min_sev */
	TU_CHECK_EQ(sevd_asid_check(p, min_sev - 1, false, &reason), -ERANGE);
	TU_CHECK_EQ(sevd_asid_check(p, min_sev - 1, true, &reason), 0);
	TU_CHECK_EQ(sevd_asid_check(p, max, false, &reason), 0);
	TU_CHECK_EQ(sevd_asid_claim(p, max + 1, false, "x"), -ERANGE);
	TU_CHECK_EQ(sevd_asid_claim(p, min_sev, true, "x"), -ERANGE);
	/* Allocation by type stays inside the type's range until it is exhausted. */
	for (uint32_t i = 1; i < min_sev; i++) {
		TU_CHECK_EQ(sevd_asid_alloc(p, true, "es-guest", &asid), 0);
		TU_CHECK(asid >= 1 && asid < min_sev, "ES asid %u outside 1..%u", asid, min_sev - 1);
	}
	TU_CHECK_EQ(sevd_asid_alloc(p, true, "one-too-many", &asid), -ENOSPC);
	for (uint32_t i = min_sev; i <= max; i++) {
		TU_CHECK_EQ(sevd_asid_alloc(p, false, "sev-guest", &asid), 0);
		TU_CHECK(asid >= min_sev && asid <= max, "SEV asid %u outside range", asid);
	}
	TU_CHECK_EQ(sevd_asid_alloc(p, false, "one-too-many", &asid), -ENOSPC);
	sevd_asid_stats(p, &st);
	TU_CHECK_EQ(st.es.used, min_sev - 1);
	TU_CHECK_EQ(st.sev.used, max - min_sev + 1);
	TU_CHECK_EQ(st.es.free + st.sev.free, 0);
	sevd_asid_pool_free(p);
}

static void test_no_es_range(void)
{
	struct sevd_asid_pool *p;
	uint32_t asid;

	TU_CHECK_EQ(sevd_asid_pool_new(15, 1, &p), 0);
	TU_CHECK_EQ(sevd_asid_alloc(p, true, "es", &asid), -ENODEV);
	TU_CHECK_EQ(sevd_asid_alloc(p, false, "sev", &asid), 0);
	TU_CHECK_EQ(asid, 1);
	sevd_asid_pool_free(p);
	TU_CHECK_EQ(sevd_asid_pool_new(0, 1, &p), -EINVAL);
	TU_CHECK_EQ(sevd_asid_pool_new(SEVD_ASID_LIMIT + 1, 1, &p), -EINVAL);
}

/* A released ASID is pending until a flush; flushes are batched when the pool runs out. */
static void test_pending_and_batching(void)
{
	struct sevd_asid_pool *p;
	struct sevd_asid_stats st;
	uint32_t asid, a[4];
	char holder[SEVD_ASID_HOLDER_MAX];

	TU_CHECK_EQ(sevd_asid_pool_new(15, 12, &p), 0); /* ES 1..11, SEV 12..15 */
	flush_calls = 0;
	flush_result = 0;
	sevd_asid_pool_set_flush(p, count_flush, NULL, 0);
	for (int i = 0; i < 4; i++)
		TU_CHECK_EQ(sevd_asid_alloc(p, false, "g", &a[i]), 0);
	TU_CHECK_EQ(sevd_asid_get(p, a[0], holder), SEVD_ASID_USED);
	TU_CHECK(strcmp(holder, "g") == 0, "holder '%s'", holder);
	TU_CHECK_EQ(sevd_asid_release(p, a[0]), 0);
	TU_CHECK_EQ(sevd_asid_release(p, a[1]), 0);
	TU_CHECK_EQ(sevd_asid_release(p, a[1]), -EINVAL); /* not used any more */
	TU_CHECK_EQ(sevd_asid_get(p, a[0], holder), SEVD_ASID_PENDING);
	sevd_asid_stats(p, &st);
	TU_CHECK_EQ(st.sev.pending, 2);
	TU_CHECK_EQ(st.sev.free, 0);
	TU_CHECK_EQ(flush_calls, 0); /* nothing asked yet: no flush */
	/* Pool empty: one flush recycles both pending ASIDs at once. */
	TU_CHECK_EQ(sevd_asid_alloc(p, false, "h", &asid), 0);
	TU_CHECK_EQ(flush_calls, 1);
	TU_CHECK_EQ(asid, a[0]);
	TU_CHECK_EQ(sevd_asid_alloc(p, false, "h", &asid), 0);
	TU_CHECK_EQ(asid, a[1]);
	TU_CHECK_EQ(flush_calls, 1); /* batched: the second ASID needed no second flush */
	sevd_asid_stats(p, &st);
	TU_CHECK_EQ(st.flushes, 1);
	/* A failing flush leaves the ASIDs pending and the allocation fails. */
	TU_CHECK_EQ(sevd_asid_release(p, a[2]), 0);
	flush_result = -EIO;
	TU_CHECK_EQ(sevd_asid_alloc(p, false, "h", &asid), -ENOSPC);
	TU_CHECK_EQ(sevd_asid_get(p, a[2], holder), SEVD_ASID_PENDING);
	/* A specific pending ASID is flushed on demand; a used one is busy. */
	flush_result = 0;
	TU_CHECK_EQ(sevd_asid_claim(p, a[3], false, "x"), -EBUSY);
	TU_CHECK_EQ(sevd_asid_claim(p, a[2], false, "x"), 0);
	TU_CHECK_EQ(flush_calls, 3);
	/* unclaim (ACTIVATE failed): back to free without a flush. */
	TU_CHECK_EQ(sevd_asid_unclaim(p, a[2]), 0);
	TU_CHECK_EQ(sevd_asid_get(p, a[2], holder), SEVD_ASID_FREE);
	sevd_asid_pool_free(p);
}

/* With a threshold, the flush runs while free ASIDs remain (before the pool is empty). */
static void test_threshold(void)
{
	struct sevd_asid_pool *p;
	uint32_t asid, first;

	TU_CHECK_EQ(sevd_asid_pool_new(20, 11, &p), 0); /* SEV 11..20: 10 ASIDs */
	flush_calls = 0;
	flush_result = 0;
	sevd_asid_pool_set_flush(p, count_flush, NULL, 3);
	TU_CHECK_EQ(sevd_asid_alloc(p, false, "g", &first), 0);
	TU_CHECK_EQ(sevd_asid_release(p, first), 0);
	for (int i = 0; i < 6; i++) /* 9 free -> 3 free; pending exists but free > 3 */
		TU_CHECK_EQ(sevd_asid_alloc(p, false, "g", &asid), 0);
	TU_CHECK_EQ(flush_calls, 0);
	TU_CHECK_EQ(sevd_asid_alloc(p, false, "g", &asid), 0); /* free == 3: flush first */
	TU_CHECK_EQ(flush_calls, 1);
	TU_CHECK_EQ(asid, first); /* the recycled lowest ASID comes back */
	sevd_asid_pool_free(p);
}

/* ---- queue ---- */

struct order {
	pthread_mutex_t lock;
	int seq[64];
	int n;
};
static struct order order = { .lock = PTHREAD_MUTEX_INITIALIZER };
static volatile int in_job, max_in_job;

static void record_job(void *arg)
{
	int now = __atomic_add_fetch(&in_job, 1, __ATOMIC_SEQ_CST);

	if (now > max_in_job)
		max_in_job = now;
	pthread_mutex_lock(&order.lock);
	order.seq[order.n++] = (int)(intptr_t)arg;
	pthread_mutex_unlock(&order.lock);
	nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
	__atomic_sub_fetch(&in_job, 1, __ATOMIC_SEQ_CST);
}

struct submitter {
	struct sevd_queue *q;
	int id, r;
};

static void *submit_thread(void *arg)
{
	struct submitter *s = arg;

	s->r = sevd_queue_run(s->q, record_job, (void *)(intptr_t)s->id);
	return NULL;
}

static volatile int gate_open;

static void gate_job(void *arg)
{
	while (!__atomic_load_n(&gate_open, __ATOMIC_SEQ_CST))
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
}

static void *gate_thread(void *arg)
{
	sevd_queue_run(arg, gate_job, NULL);
	return NULL;
}

/* Wait until `n` jobs are waiting (the gate job runs). */
static void wait_depth(struct sevd_queue *q, unsigned n)
{
	struct sevd_queue_stats st;

	for (int i = 0; i < 5000; i++) {
		sevd_queue_stats(q, &st);
		if (st.depth == n && st.running)
			return;
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	TU_CHECK(0, "queue never reached depth %u", n);
}

static void test_queue_fifo_and_busy(void)
{
	struct sevd_queue *q;
	struct submitter s[4];
	pthread_t gate, th[4];
	struct sevd_queue_stats st;

	TU_CHECK_EQ(sevd_queue_new(4, 0, &q), 0);
	gate_open = 0;
	pthread_create(&gate, NULL, gate_thread, q);
	wait_depth(q, 0);
	/* Submit one at a time so the arrival order is known, while the gate job blocks. */
	for (int i = 0; i < 4; i++) {
		s[i] = (struct submitter){ .q = q, .id = i };
		pthread_create(&th[i], NULL, submit_thread, &s[i]);
		wait_depth(q, (unsigned)i + 1);
	}
	/* Full: the fifth caller is refused at once. */
	TU_CHECK_EQ(sevd_queue_run(q, record_job, (void *)(intptr_t)99), -EBUSY);
	__atomic_store_n(&gate_open, 1, __ATOMIC_SEQ_CST);
	pthread_join(gate, NULL);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		TU_CHECK_EQ(s[i].r, 0);
	}
	TU_CHECK_EQ(order.n, 4);
	for (int i = 0; i < 4; i++)
		TU_CHECK_EQ(order.seq[i], i); /* FIFO */
	TU_CHECK_EQ(max_in_job, 1);
	sevd_queue_stats(q, &st);
	TU_CHECK_EQ(st.rejected, 1);
	TU_CHECK_EQ(st.done, 5);
	sevd_queue_free(q);
}

static void test_queue_bounded_wait(void)
{
	struct sevd_queue *q;
	pthread_t gate;

	TU_CHECK_EQ(sevd_queue_new(4, 50, &q), 0);
	gate_open = 0;
	pthread_create(&gate, NULL, gate_thread, q);
	wait_depth(q, 0);
	/* The worker is busy beyond the 50 ms bound: the waiting job is withdrawn. */
	TU_CHECK_EQ(sevd_queue_run(q, record_job, (void *)(intptr_t)7), -ETIMEDOUT);
	__atomic_store_n(&gate_open, 1, __ATOMIC_SEQ_CST);
	pthread_join(gate, NULL);
	order.n = 0;
	TU_CHECK_EQ(sevd_queue_run(q, record_job, (void *)(intptr_t)8), 0);
	TU_CHECK_EQ(order.n, 1); /* the withdrawn job never ran */
	TU_CHECK_EQ(order.seq[0], 8);
	sevd_queue_free(q);
}

/* Many threads at once: every job runs exactly once, never two at a time. */
static void test_queue_many(void)
{
	struct sevd_queue *q;
	struct submitter s[48];
	pthread_t th[48];

	TU_CHECK_EQ(sevd_queue_new(64, 0, &q), 0);
	order.n = 0;
	max_in_job = 0;
	for (int i = 0; i < 48; i++) {
		s[i] = (struct submitter){ .q = q, .id = i };
		pthread_create(&th[i], NULL, submit_thread, &s[i]);
	}
	for (int i = 0; i < 48; i++) {
		pthread_join(th[i], NULL);
		TU_CHECK_EQ(s[i].r, 0);
	}
	TU_CHECK_EQ(order.n, 48);
	TU_CHECK_EQ(max_in_job, 1);
	sevd_queue_free(q);
}

int main(void)
{
	test_ranges(15, 5);
	test_ranges(509, 100);
	test_ranges(1006, 507);
	test_no_es_range();
	test_pending_and_batching();
	test_threshold();
	test_queue_fifo_and_busy();
	test_queue_bounded_wait();
	test_queue_many();
	tu_done("daemon pool and queue");
}
