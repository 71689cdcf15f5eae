/* The ring of recent firmware failures (see fwerrors.h). Written on the firmware thread (and
 * by the recovery thread), read by any HTTP thread through the core: a mutex around a fixed
 * array, nothing allocated. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "daemon/core/fwerrors.h"
#include "psp/sev-abi.h"

static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sevd_fw_error ring[SEVD_FW_ERRORS_MAX];
static uint64_t ring_total; /* failures noted; the next slot is ring_total % MAX */

static uint64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sevd_fwerrors_note(uint32_t cmd, int r, int psp_ret)
{
	struct sevd_fw_error e = {
	    .time_ms = realtime_ms(),
	    .command = cmd,
	    /* only -EIO carries a firmware status (psp/transport.h); the rest never got one */
	    .status = r == -EIO ? psp_ret : SEV_STATUS_NO_FW_CALL,
	    .r = r,
	};

	if (r >= 0)
		return;
	pthread_mutex_lock(&ring_lock);
	ring[ring_total % SEVD_FW_ERRORS_MAX] = e;
	ring_total++;
	pthread_mutex_unlock(&ring_lock);
}

void sevd_fwerrors_op(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	uint64_t n;

	(void)c;
	(void)req;
	memset(&rep->u.fw_errors, 0, sizeof(rep->u.fw_errors));
	pthread_mutex_lock(&ring_lock);
	n = ring_total < SEVD_FW_ERRORS_MAX ? ring_total : SEVD_FW_ERRORS_MAX;
	for (uint64_t i = 0; i < n; i++)
		rep->u.fw_errors.e[i] = ring[(ring_total - 1 - i) % SEVD_FW_ERRORS_MAX];
	rep->u.fw_errors.n = (uint32_t)n;
	rep->u.fw_errors.total = ring_total;
	pthread_mutex_unlock(&ring_lock);
}
