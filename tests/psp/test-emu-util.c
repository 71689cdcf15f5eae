/* Helpers of the emu tests (see test-emu-util.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/macros.h"
#include "tests/psp/test-emu-util.h"

static void rig_open(struct emu_rig *r, const char *const extra[])
{
	char spec[4200];
	int e;

	e = tu_emu_start(r->dir, extra, &r->emu);
	TU_CHECK(e == 0, "sev-psp-emu did not start (log: %s/emu.log)", r->dir);
	snprintf(spec, sizeof(spec), "emu:%s", r->emu.socket);
	e = psp_open(spec, &r->t);
	TU_CHECK(e == 0, "psp_open(%s): %s", spec, strerror(-e));
}

void rig_up(struct emu_rig *r, const char *const extra[])
{
	memset(r, 0, sizeof(*r));
	r->dir = tu_mkdtemp();
	rig_open(r, extra);
}

void rig_stop(struct emu_rig *r)
{
	int st;

	psp_close(r->t);
	r->t = NULL;
	if (r->emu.pid > 0) { /* 0: the test already stopped it */
		st = tu_stop(r->emu.pid, 5000);
		r->emu.pid = 0;
		TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			 "sev-psp-emu exit status 0x%x on SIGTERM", st);
	}
	tu_emu_stop(&r->emu);
}

void rig_restart(struct emu_rig *r, const char *const extra[])
{
	rig_stop(r);
	rig_open(r, extra);
}

void rig_down(struct emu_rig *r)
{
	if (r->t)
		rig_stop(r);
	tu_rmtree(r->dir);
	free(r->dir);
}

int fw(struct psp_transport *t, uint32_t cmd, void *buf)
{
	int ret = SEV_STATUS_NO_FW_CALL;
	int e = psp_issue(t, cmd, buf, &ret);

	TU_CHECK(e == 0 || e == -EIO, "%s did not reach firmware: %s", sev_cmd_name(cmd),
		 strerror(-e));
	TU_CHECK((e == 0) == (ret == SEV_STATUS_SUCCESS), "return %d vs status %s", e,
		 sev_status_name(ret));
	return ret;
}

struct sev_cmd_platform_status platform_status(struct psp_transport *t)
{
	struct sev_cmd_platform_status ps;

	memset(&ps, 0xa5, sizeof(ps));
	CHECK_STATUS(fw(t, SEV_CMD_PLATFORM_STATUS, &ps), SEV_STATUS_SUCCESS);
	return ps;
}

bool to_state(struct psp_transport *t, int state)
{
	struct sev_cmd_init init = { 0 };
	struct sev_cmd_launch_start ls = { 0 };

	CHECK_STATUS(fw(t, SEV_CMD_SHUTDOWN, NULL), SEV_STATUS_SUCCESS);
	if (state == SEV_PSTATE_UNINIT)
		return true;
	CHECK_STATUS(fw(t, SEV_CMD_INIT, &init), SEV_STATUS_SUCCESS);
	if (state == SEV_PSTATE_INIT)
		return true;
	if (fw(t, SEV_CMD_LAUNCH_START, &ls) != SEV_STATUS_SUCCESS)
		return false;
	TU_CHECK_EQ(platform_status(t).state, SEV_PSTATE_WORKING);
	return true;
}

void ctl_ok(struct psp_transport *t, const char *line)
{
	_cleanup_free_ uint8_t *reply = NULL;
	int e = psp_emu_ctl(t, line, &reply, NULL);

	TU_CHECK(e == 0, "CTL '%s': %s (%s)", line, strerror(-e), reply ? (char *)reply : "");
}
