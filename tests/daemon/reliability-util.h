/* Helpers of the reliability tests (test-killmix.c, test-disk.c, test-crash.c, test-crash-snp.c): a real sevd whose
 * state dir, sockets and log can live in different directories (a tmpfs state dir must hold no
 * file sevd keeps open for writing, or it cannot be remounted read-only), HTTP requests that
 * report a failed connection instead of exiting (sevd is killed under them), and the crash
 * invariants checked against firmware itself (GUEST_STATUS over the emulator's socket) and the
 * journal file. Trusts nothing sevd answers: every claim is compared with firmware. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tests/daemon/guest-client.h"

struct ru_sevd {
	const char *state_dir; /* --state-dir (the journal) */
	const char *run_dir;   /* api.sock and sevd.log */
	const char *emu_sock;
	const char *config;    /* --config, NULL = /dev/null */
	const char *extra_env; /* "NAME=VALUE" or NULL */
	const char *extra_arg; /* one more argument or NULL */
	char *sock, *log;      /* set by ru_sevd_start */
	pid_t pid;
};

/* Start sevd; with wait, until its socket answers (false when it exited or took > 20 s). */
bool ru_sevd_start(struct ru_sevd *d, bool wait);
/* SIGKILL (kill) or SIGTERM, then reap. Returns the wait status. */
int ru_sevd_stop(struct ru_sevd *d, bool kill);
/* sevd's log so far (NUL-terminated, caller frees). */
char *ru_sevd_log(const struct ru_sevd *d);

/* One request with a timeout. Returns 0 with *out filled, or the libcurl error (out->status 0)
 * when no answer came (connection refused or cut: sevd died). */
int ru_request(const char *sock, const char *method, const char *path, const void *body, size_t len,
	       const char *ctype, long timeout_s, struct gc_resp *out);

struct ru_fw_guest {
	uint32_t handle, asid;
	uint8_t state;
};

/* Firmware's guests (GUEST_STATUS over handles until guest_count are found). Returns the
 * number (<= max) or -1 with why filled. */
int ru_firmware_guests(const char *emu_sock, struct ru_fw_guest *out, unsigned max,
		       uint32_t *ret_count, char *why, size_t whylen);

/* The invariants after a crash (restart = true) or at any quiet point:
 *   - sevd's GET /v1/guests = firmware's guests, same handle, state and ASID; guest_count
 *     agrees;
 *   - the journal (state_dir/guests.journal, replayed) holds exactly these handles with these
 *     ASIDs (only checked with journal = true: right after a start, when it is a snapshot);
 *   - GET /v1/asids holds exactly the ASIDs of those guests, each once, and used + free +
 *     flush_pending = total for both types (none lost);
 *   - SEV-SNP guests (the emulator's CTL snp-guests, matched by ASID) likewise, and no RMP
 *     page is assigned to a guest that is gone (SNP off: none);
 *   - with restart: every guest is RUNNING, or an unfinished SEV/SEV-ES launch kept with its
 *     ASID in LUPDATE or LSECRET (its owner can finish it); nothing else half-launched (an
 *     SNP launch, a migration target) survives a restart.
 * Returns 0, or -1 with why filled. */
int ru_check_invariants(const char *emu_sock, const char *api_sock, const char *state_dir,
			bool restart, bool journal, char *why, size_t whylen);

/* A child that runs workload (which should exit; _exit(0) if it returns), its stderr to
 * /dev/null when quiet (a crash run's workload fails when sevd is killed under it, as
 * expected). Its pid, or -1 when fork failed. */
pid_t ru_fork_workload(void (*workload)(void), bool quiet);

/* DIR/sevd.conf with journal_compact = every (compaction every few records, so that kills
 * land in it too): its path (caller frees), or NULL. */
char *ru_compact_conf(const char *dir, unsigned every);

/* The crash tests' wait, with SEVD_TEST_CRASH_AT=point in sevd's environment: true when sevd
 * stopped itself (SIGSTOP) at its checkpoint, false when the workload ended first (then
 * *workload = 0, reaped). sevd ending by itself fails the test, naming the point and log. */
bool ru_wait_checkpoint(pid_t sevd, pid_t *workload, unsigned point, const char *log);

/* A reliability test's world: a temporary directory (*ret_dir) with the emulator started
 * there on emu_args (*e), and *d a sevd on it whose sevd.conf compacts the journal every
 * `compact` records (ru_compact_conf), state and run files in that directory. */
struct tu_emu;
void ru_world(const char *const *emu_args, unsigned compact, struct tu_emu *e,
	      struct ru_sevd *d, char **ret_dir);
