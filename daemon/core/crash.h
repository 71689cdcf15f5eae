/* Crash-test checkpoints. Every journal write and every guest firmware command of the core
 * passes a numbered checkpoint. With SEVD_TEST_CRASH_AT=N in the environment the daemon stops
 * itself (SIGSTOP) at the Nth checkpoint after start-up, so that the test kills it with a real
 * SIGKILL exactly there; with SEVD_TEST_CRASH_LOG=1 it prints each checkpoint to stderr
 * ("sevd-crash-point N WHAT"), which is how the test counts them. Without either variable a
 * checkpoint is one branch. For tests only; documented in daemon/README.md. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Read the environment and start counting (after start-up reconciliation). */
void sevd_crash_enable(void);
/* Is this checkpoint the one to stop at? (Counts it.) The caller may do a partial step (a torn
 * journal write) and then call sevd_crash_stop(). */
bool sevd_crash_due(const char *what);
/* Stop here until killed. */
_Noreturn void sevd_crash_stop(void);
/* Count a checkpoint and stop there when it is due. */
void sevd_crash_point(const char *what);
/* The checkpoint "WHEN SEV_CMD_NAME" around a firmware command (when: "before" or "after"). */
void sevd_crash_point_cmd(const char *when, uint32_t cmd);
