/* The firmware command queue: a FIFO of caller-owned jobs and the firmware thread that runs them.
 * Each job has its own condition variable, so a caller is woken only for its own job.
 * A caller that finds the queue idle (nothing running, nobody waiting) runs its job on its own
 * thread instead of handing it to the worker and sleeping until it is done: the two context
 * switches of the hand-off were most of the cost of a quick command. `running`
 * marks the job either way, so every other caller queues behind it and the worker waits for
 * it: still one job at a time, in arrival order. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "common/util.h"
#include "daemon/core/queue.h"

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_CANCELLED };

struct sevd_job {
	sevd_job_fn fn;
	void *arg;
	enum job_state state;
	pthread_cond_t cond;
	struct sevd_job *next;
};

struct sevd_queue {
	pthread_mutex_t lock;
	pthread_cond_t work; /* the worker waits here for jobs (and for an inline job's end) */
	pthread_cond_t idle; /* sevd_queue_free waits here for an inline job's end */
	pthread_t worker;
	bool stopping;
	struct sevd_job *head, *tail;
	unsigned depth, max_len, wait_ms;
	struct sevd_queue_stats st;
	/* sevd_queue_started(): started_own, or where sevd_queue_share_started() put it (the
	 * core's shared region, which its worker reads: cache-region.h). Changed under lock. */
	_Atomic uint64_t started_own;
	_Atomic uint64_t *started;
};

static struct sevd_job *pop_locked(struct sevd_queue *q)
{
	struct sevd_job *j = q->head;

	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		q->depth--;
	}
	return j;
}

static void *worker_main(void *userdata)
{
	struct sevd_queue *q = userdata;
	struct sevd_job *j;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		while ((!q->head || q->st.running) && !q->stopping)
			pthread_cond_wait(&q->work, &q->lock);
		if (q->stopping)
			break;
		j = pop_locked(q);
		j->state = JOB_RUNNING;
		q->st.running = 1;
		atomic_fetch_add(q->started, 1); /* seq_cst: before the job touches firmware */
		pthread_mutex_unlock(&q->lock);
		j->fn(j->arg);
		pthread_mutex_lock(&q->lock);
		q->st.running = 0;
		q->st.done++;
		j->state = JOB_DONE;
		pthread_cond_signal(&j->cond);
		pthread_cond_broadcast(&q->idle);
	}
	/* Stopping: wake everyone still waiting with -ESHUTDOWN. */
	while ((j = pop_locked(q))) {
		j->state = JOB_CANCELLED;
		pthread_cond_signal(&j->cond);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int sevd_queue_new(unsigned max_len, unsigned wait_ms, struct sevd_queue **ret)
{
	struct sevd_queue *q;
	int r;

	if (max_len == 0)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->idle, NULL);
	q->max_len = max_len;
	q->wait_ms = wait_ms;
	q->started = &q->started_own;
	r = pthread_create(&q->worker, NULL, worker_main, q);
	if (r != 0) {
		free(q);
		return -r;
	}
	*ret = q;
	return 0;
}

void sevd_queue_free(struct sevd_queue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_signal(&q->work);
	while (q->st.running) /* a job running inline on a caller's thread ends first */
		pthread_cond_wait(&q->idle, &q->lock);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->worker, NULL);
	pthread_cond_destroy(&q->idle);
	pthread_cond_destroy(&q->work);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

static void unlink_locked(struct sevd_queue *q, struct sevd_job *j)
{
	struct sevd_job **pp, *prev = NULL;

	for (pp = &q->head; *pp; prev = *pp, pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			if (q->tail == j)
				q->tail = prev;
			q->depth--;
			return;
		}
}

/* Wait for our job; while it is still queued the wait is bounded, once it runs it is not. */
static int wait_job_locked(struct sevd_queue *q, struct sevd_job *j)
{
	struct timespec deadline;

	if (q->wait_ms)
		timespec_after_ms(CLOCK_MONOTONIC, q->wait_ms, &deadline);
	while (j->state == JOB_QUEUED || j->state == JOB_RUNNING) {
		if (j->state == JOB_QUEUED && q->wait_ms) {
			if (pthread_cond_timedwait(&j->cond, &q->lock, &deadline) == ETIMEDOUT &&
			    j->state == JOB_QUEUED) {
				unlink_locked(q, j);
				q->st.timedout++;
				return -ETIMEDOUT;
			}
		} else
			pthread_cond_wait(&j->cond, &q->lock);
	}
	return j->state == JOB_DONE ? 0 : -ESHUTDOWN;
}

/* Idle queue: run fn here. Called and returns with q->lock held. */
static void run_inline_locked(struct sevd_queue *q, sevd_job_fn fn, void *arg)
{
	q->st.running = 1;
	atomic_fetch_add(q->started, 1); /* seq_cst: before the job touches firmware */
	pthread_mutex_unlock(&q->lock);
	fn(arg);
	pthread_mutex_lock(&q->lock);
	q->st.running = 0;
	q->st.done++;
	if (q->head) /* jobs that queued meanwhile: the worker takes them, in order */
		pthread_cond_signal(&q->work);
	pthread_cond_broadcast(&q->idle);
}

int sevd_queue_run(struct sevd_queue *q, sevd_job_fn fn, void *arg)
{
	struct sevd_job j = { .fn = fn, .arg = arg, .state = JOB_QUEUED };
	pthread_condattr_t attr;
	int r;

	pthread_mutex_lock(&q->lock);
	if (!q->stopping && !q->head && !q->st.running) {
		run_inline_locked(q, fn, arg);
		pthread_mutex_unlock(&q->lock);
		return 0;
	}
	pthread_mutex_unlock(&q->lock);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&j.cond, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_lock(&q->lock);
	if (q->stopping)
		r = -ESHUTDOWN;
	else if (q->depth >= q->max_len) {
		q->st.rejected++;
		r = -EBUSY;
	} else {
		if (q->tail)
			q->tail->next = &j;
		else
			q->head = &j;
		q->tail = &j;
		q->depth++;
		if (q->depth > q->st.max_depth)
			q->st.max_depth = q->depth;
		pthread_cond_signal(&q->work);
		r = wait_job_locked(q, &j);
	}
	pthread_mutex_unlock(&q->lock);
	pthread_cond_destroy(&j.cond);
	return r;
}

void sevd_queue_stats(struct sevd_queue *q, struct sevd_queue_stats *ret)
{
	pthread_mutex_lock(&q->lock);
	*ret = q->st;
	ret->depth = q->depth;
	ret->max_len = q->max_len;
	pthread_mutex_unlock(&q->lock);
}

uint64_t sevd_queue_started(struct sevd_queue *q)
{
	return atomic_load(q->started);
}

void sevd_queue_share_started(struct sevd_queue *q, _Atomic uint64_t *where)
{
	pthread_mutex_lock(&q->lock);
	atomic_store(where, atomic_load(q->started));
	q->started = where;
	pthread_mutex_unlock(&q->lock);
}
