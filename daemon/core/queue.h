/* The firmware command queue: firmware runs one command at a time, so the daemon has exactly one
 * thread, the firmware thread, that runs jobs in FIFO order; every firmware call of the daemon is a
 * job. A caller submits a job and blocks on its own job only. The queue is bounded: a full queue
 * answers -EBUSY at once, and a job that did not start within the wait bound is withdrawn and
 * answers -ETIMEDOUT (a job that started always runs to its end: the transport bounds each
 * command's time). Trusts its callers; jobs live in the caller's stack frame. */
#pragma once

#include <stdint.h>

struct sevd_queue;

/* Runs on the firmware thread. */
typedef void (*sevd_job_fn)(void *arg);

/* max_len: jobs waiting (not counting the running one); wait_ms: bound on the wait before a
 * job starts (0 = unbounded). */
int sevd_queue_new(unsigned max_len, unsigned wait_ms, struct sevd_queue **ret);
/* Stops the worker: the running job finishes, waiting jobs answer -ESHUTDOWN. */
void sevd_queue_free(struct sevd_queue *q);

/* Run fn(arg) after every job before it and wait for it: 0 once it ran, -EBUSY (queue full),
 * -ETIMEDOUT (not started in time), -ESHUTDOWN (stopping). It runs on the firmware thread, or on
 * the caller's own thread when the queue was idle (nothing running or waiting): a job must not
 * rely on the thread it runs on, only on being the one job running. */
int sevd_queue_run(struct sevd_queue *q, sevd_job_fn fn, void *arg);

struct sevd_queue_stats {
	unsigned depth;	    /* waiting now */
	unsigned running;   /* 0 or 1 */
	unsigned max_len;
	uint64_t done;	    /* jobs run */
	uint64_t rejected;  /* -EBUSY answers */
	uint64_t timedout;  /* -ETIMEDOUT answers */
	unsigned max_depth; /* highest depth seen */
};
void sevd_queue_stats(struct sevd_queue *q, struct sevd_queue_stats *ret);

/* How many jobs have begun to run since the queue was made: it changes (before the job's
 * first instruction) whenever the worker takes a job. A reader that sees the same value
 * twice knows no job started in between (daemon/core/core.c's reply caches rest on that).
 * Lock-free, from any thread. */
uint64_t sevd_queue_started(struct sevd_queue *q);
/* Keep that counter at `where` from now on (its value carried over): the core puts it in the
 * region its worker maps read-only (cache-region.h), so the worker sees every job start as it
 * happens, before the job touches firmware. Call before the first job (the pointer is read
 * without the lock); `where` must outlive the queue. */
void sevd_queue_share_started(struct sevd_queue *q, _Atomic uint64_t *where);
