/* Shared by the emu tests (tests/psp/test-emu*.c): start the real sev-psp-emu, open the emu
 * transport to it, issue commands and compare firmware statuses by name. */
#pragma once

#include <stdint.h>

#include "psp/psp-emu.h"
#include "psp/sev-abi.h"
#include "psp/transport.h"
#include "tests/testutil.h"

struct emu_rig {
	char *dir;
	struct tu_emu emu;
	struct psp_transport *t;
};

/* A fresh directory, the emulator on it (extra args may be NULL), the transport open. */
void rig_up(struct emu_rig *r, const char *const extra[]);
/* Stop the emulator and close the transport; the directory (NV file) stays. */
void rig_stop(struct emu_rig *r);
/* Start the emulator again on the same directory and reopen the transport. */
void rig_restart(struct emu_rig *r, const char *const extra[]);
void rig_down(struct emu_rig *r);

/* Issue cmd with buf (NULL for no buffer); the firmware status, failing the test when the
 * command did not reach firmware. */
int fw(struct psp_transport *t, uint32_t cmd, void *buf);
#define CHECK_STATUS(got, want)                                                                    \
	TU_CHECK((got) == (want), "firmware answered %s, expected %s", sev_status_name(got),       \
		 sev_status_name(want))
/* PLATFORM_STATUS, which must succeed. */
struct sev_cmd_platform_status platform_status(struct psp_transport *t);
/* Drive the platform into a state: UNINIT (SHUTDOWN), INIT (SHUTDOWN, INIT), WORKING
 * (INIT + LAUNCH_START without a session). Returns false when the state cannot be reached
 * (callers fail then: every state is reachable on this emulator). */
bool to_state(struct psp_transport *t, int state);
/* CTL line that must succeed. */
void ctl_ok(struct psp_transport *t, const char *line);
