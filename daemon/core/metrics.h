/* Counters for /metrics (Prometheus text exposition format 0.0.4): firmware commands by id
 * and status, a latency histogram, and gauges the caller supplies (queue, ASIDs).
 * Thread-safe; no I/O. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "daemon/core/asid.h"
#include "daemon/core/queue.h"

struct sevd_metrics;

int sevd_metrics_new(struct sevd_metrics **ret);
void sevd_metrics_free(struct sevd_metrics *m);
/* One firmware command finished: fw_status is SEV_STATUS_* or SEV_STATUS_NO_FW_CALL. */
void sevd_metrics_command(struct sevd_metrics *m, uint32_t cmd, int fw_status, double seconds);
/* The HTTP worker ended and is started again (daemon/core/worker-supervisor.c); process-
 * wide. */
void sevd_metrics_worker_restarted(void);
/* Render everything into buf (NUL-terminated); returns the length or -ENOBUFS. */
int sevd_metrics_render(struct sevd_metrics *m, const struct sevd_queue_stats *q,
			const struct sevd_asid_stats *a, char *buf, size_t size);
