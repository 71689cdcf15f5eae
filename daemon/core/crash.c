/* Crash-test checkpoints (crash.h). Trusts its environment: only tests set these variables. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/util.h"
#include "daemon/core/crash.h"
#include "psp/sev-abi.h"

static atomic_bool enabled;
static bool log_points;
static unsigned long target;
static atomic_ulong counter;

void sevd_crash_enable(void)
{
	const char *at = getenv("SEVD_TEST_CRASH_AT"), *lg = getenv("SEVD_TEST_CRASH_LOG");
	uint64_t n = 0;

	if (at && parse_u64(at, &n) >= 0)
		target = (unsigned long)n;
	log_points = lg && *lg == '1';
	atomic_store(&enabled, target > 0 || log_points);
}

bool sevd_crash_due(const char *what)
{
	unsigned long n;

	if (!atomic_load(&enabled))
		return false;
	n = atomic_fetch_add(&counter, 1) + 1;
	if (log_points || n == target)
		fprintf(stderr, "sevd-crash-point %lu %s\n", n, what);
	return n == target;
}

_Noreturn void sevd_crash_stop(void)
{
	fflush(stderr);
	for (;;) {
		raise(SIGSTOP);
		pause();
	}
}

void sevd_crash_point(const char *what)
{
	if (sevd_crash_due(what))
		sevd_crash_stop();
}

void sevd_crash_point_cmd(const char *when, uint32_t cmd)
{
	const char *name = sev_cmd_name(cmd);
	char what[64];

	if (!atomic_load(&enabled))
		return;
	snprintf(what, sizeof(what), "%s SEV_CMD_%s", when, name ? name : "UNKNOWN");
	sevd_crash_point(what);
}
