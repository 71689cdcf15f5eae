/* Counters for /metrics. Commands are counted in a fixed table indexed by command id and
 * status (both bounded by sev-abi.h), so recording never allocates. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/macros.h"
#include "daemon/core/metrics.h"
#include "psp/sev-abi.h"

static const double buckets[] = { 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30 };
#define N_STATUS (SEV_STATUS_MAX_ + 2) /* + NO_FW_CALL + "other" */

struct sevd_metrics {
	pthread_mutex_t lock;
	uint64_t count[SEV_CMD_MAX_][N_STATUS];
	uint64_t bucket[ELEMENTSOF(buckets)];
	uint64_t observations;
	double sum;
};

/* Worker restarts of this process (the core): the worker control is not the core's object. */
static atomic_uint_fast64_t worker_restarts;

void sevd_metrics_worker_restarted(void)
{
	atomic_fetch_add(&worker_restarts, 1);
}

int sevd_metrics_new(struct sevd_metrics **ret)
{
	struct sevd_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	*ret = m;
	return 0;
}

void sevd_metrics_free(struct sevd_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static size_t status_index(int fw_status)
{
	if (fw_status >= 0 && fw_status < SEV_STATUS_MAX_)
		return (size_t)fw_status;
	return fw_status == SEV_STATUS_NO_FW_CALL ? SEV_STATUS_MAX_ : SEV_STATUS_MAX_ + 1;
}

static const char *status_label(size_t i)
{
	if (i < SEV_STATUS_MAX_)
		return sev_status_name((int)i);
	return i == SEV_STATUS_MAX_ ? "NO_FW_CALL" : "OTHER";
}

void sevd_metrics_command(struct sevd_metrics *m, uint32_t cmd, int fw_status, double seconds)
{
	if (cmd >= SEV_CMD_MAX_)
		return;
	pthread_mutex_lock(&m->lock);
	m->count[cmd][status_index(fw_status)]++;
	for (size_t i = 0; i < ELEMENTSOF(buckets); i++)
		if (seconds <= buckets[i])
			m->bucket[i]++;
	m->observations++;
	m->sum += seconds;
	pthread_mutex_unlock(&m->lock);
}

struct out {
	char *buf;
	size_t size, len;
	bool overflow;
};

static void _printf_(2, 3) out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len)
		o->overflow = true;
	else
		o->len += (size_t)n;
}

static void render_commands_locked(struct sevd_metrics *m, struct out *o)
{
	out_printf(o, "# HELP sevd_commands_total Firmware commands by command and status.\n"
		      "# TYPE sevd_commands_total counter\n");
	for (uint32_t c = 0; c < SEV_CMD_MAX_; c++)
		for (size_t s = 0; s < N_STATUS; s++)
			if (m->count[c][s])
				out_printf(o, "sevd_commands_total{command=\"%s\",status=\"%s\"} %llu\n",
					   sev_cmd_name(c) ? sev_cmd_name(c) : "UNKNOWN",
					   status_label(s), (unsigned long long)m->count[c][s]);
	out_printf(o, "# HELP sevd_command_duration_seconds Time firmware commands took.\n"
		      "# TYPE sevd_command_duration_seconds histogram\n");
	for (size_t i = 0; i < ELEMENTSOF(buckets); i++)
		out_printf(o, "sevd_command_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
			   (unsigned long long)m->bucket[i]);
	out_printf(o, "sevd_command_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		   (unsigned long long)m->observations);
	out_printf(o, "sevd_command_duration_seconds_sum %.6f\n", m->sum);
	out_printf(o, "sevd_command_duration_seconds_count %llu\n",
		   (unsigned long long)m->observations);
}

static void render_gauges(const struct sevd_queue_stats *q, const struct sevd_asid_stats *a,
			  struct out *o)
{
	const struct {
		const char *type;
		const struct sevd_asid_counts *c;
	} t[] = { { "es", &a->es }, { "sev", &a->sev } };

	out_printf(o, "# HELP sevd_queue_depth Firmware commands waiting in the queue.\n"
		      "# TYPE sevd_queue_depth gauge\nsevd_queue_depth %u\n", q->depth);
	out_printf(o, "# HELP sevd_queue_rejected_total Requests refused because the queue was full.\n"
		      "# TYPE sevd_queue_rejected_total counter\nsevd_queue_rejected_total %llu\n",
		   (unsigned long long)q->rejected);
	out_printf(o, "# HELP sevd_asids ASIDs by type and state.\n# TYPE sevd_asids gauge\n");
	for (size_t i = 0; i < ELEMENTSOF(t); i++) {
		out_printf(o, "sevd_asids{type=\"%s\",state=\"used\"} %u\n", t[i].type, t[i].c->used);
		out_printf(o, "sevd_asids{type=\"%s\",state=\"free\"} %u\n", t[i].type, t[i].c->free);
		out_printf(o, "sevd_asids{type=\"%s\",state=\"flush_pending\"} %u\n", t[i].type,
			   t[i].c->pending);
	}
	out_printf(o, "# HELP sevd_asid_flushes_total WBINVD + DF_FLUSH batches.\n"
		      "# TYPE sevd_asid_flushes_total counter\nsevd_asid_flushes_total %llu\n",
		   (unsigned long long)a->flushes);
	out_printf(o, "# HELP sevd_worker_restarts_total Times the HTTP worker ended and sevd "
		      "started a new one.\n# TYPE sevd_worker_restarts_total counter\n"
		      "sevd_worker_restarts_total %llu\n",
		   (unsigned long long)atomic_load(&worker_restarts));
}

int sevd_metrics_render(struct sevd_metrics *m, const struct sevd_queue_stats *q,
			const struct sevd_asid_stats *a, char *buf, size_t size)
{
	struct out o = { .buf = buf, .size = size };

	if (size == 0)
		return -ENOBUFS;
	buf[0] = '\0';
	pthread_mutex_lock(&m->lock);
	render_commands_locked(m, &o);
	pthread_mutex_unlock(&m->lock);
	render_gauges(q, a, &o);
	return o.overflow ? -ENOBUFS : (int)o.len;
}
