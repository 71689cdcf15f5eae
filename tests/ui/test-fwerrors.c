/* The ring of recent firmware failures behind the status page (daemon/core/fwerrors.c): successes
 * are not kept, a firmware status is kept by value and a transport failure as NO_FW_CALL with
 * its errno, the reply lists the newest first, at most SEVD_FW_ERRORS_MAX, and counts every
 * failure seen; the times are the wall clock's. The end-to-end path (a real firmware failure
 * through sevd to the page) is tests/ui/test-ui.py. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "daemon/core/core.h"
#include "daemon/core/fwerrors.h"
#include "psp/sev-abi.h"
#include "tests/testutil.h"

static struct sevd_reply *ring(void)
{
	struct sevd_request req = {.op = SEVD_OP_FW_ERRORS};
	struct sevd_reply *rep = calloc(1, sizeof(*rep));

	TU_CHECK(rep != NULL, "calloc");
	sevd_fwerrors_op(NULL, &req, rep);
	return rep;
}

int main(void)
{
	struct sevd_reply *rep = ring();
	uint64_t t0 = (uint64_t)time(NULL) * 1000u;

	TU_CHECK_EQ(rep->u.fw_errors.n, 0u);
	TU_CHECK_EQ(rep->u.fw_errors.total, 0u);
	free(rep);

	sevd_fwerrors_note(SEV_CMD_PLATFORM_STATUS, 0, SEV_STATUS_SUCCESS); /* not a failure */
	sevd_fwerrors_note(SEV_CMD_LAUNCH_START, -EIO, SEV_STATUS_INVALID_PLATFORM_STATE);
	sevd_fwerrors_note(SEV_CMD_ACTIVATE, -ETIMEDOUT, SEV_STATUS_NO_FW_CALL);
	rep = ring();
	TU_CHECK_EQ(rep->u.fw_errors.n, 2u);
	TU_CHECK_EQ(rep->u.fw_errors.total, 2u);
	/* newest first */
	TU_CHECK_EQ(rep->u.fw_errors.e[0].command, (uint32_t)SEV_CMD_ACTIVATE);
	TU_CHECK_EQ(rep->u.fw_errors.e[0].status, SEV_STATUS_NO_FW_CALL);
	TU_CHECK_EQ(rep->u.fw_errors.e[0].r, -ETIMEDOUT);
	TU_CHECK_EQ(rep->u.fw_errors.e[1].command, (uint32_t)SEV_CMD_LAUNCH_START);
	TU_CHECK_EQ(rep->u.fw_errors.e[1].status, SEV_STATUS_INVALID_PLATFORM_STATE);
	TU_CHECK_EQ(rep->u.fw_errors.e[1].r, -EIO);
	TU_CHECK(rep->u.fw_errors.e[1].time_ms >= t0 &&
		     rep->u.fw_errors.e[1].time_ms <= t0 + 60000u,
		 "time %llu, wall clock %llu", (unsigned long long)rep->u.fw_errors.e[1].time_ms,
		 (unsigned long long)t0);
	free(rep);

	/* Past the ring's size: the newest SEVD_FW_ERRORS_MAX stay, in order; the total goes on. */
	for (uint32_t i = 0; i < 3 * SEVD_FW_ERRORS_MAX; i++)
		sevd_fwerrors_note(1000u + i, -EIO, SEV_STATUS_INVALID_GUEST);
	rep = ring();
	TU_CHECK_EQ(rep->u.fw_errors.n, SEVD_FW_ERRORS_MAX);
	TU_CHECK_EQ(rep->u.fw_errors.total, 2u + 3u * SEVD_FW_ERRORS_MAX);
	for (uint32_t i = 0; i < SEVD_FW_ERRORS_MAX; i++)
		TU_CHECK(rep->u.fw_errors.e[i].command ==
				 1000u + 3u * SEVD_FW_ERRORS_MAX - 1u - i &&
			     rep->u.fw_errors.e[i].reserved == 0,
			 "entry %u: command %u", i, rep->u.fw_errors.e[i].command);
	free(rep);
	tu_done("ui-fwerrors");
}
