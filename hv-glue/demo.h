/* sev-run --demo: the whole issue-6 story against a running sevd, played by one process that is
 * both the guest owner (chain check, session, measurement check, secret) and the VMM (grant
 * stream, plaintext view from the emulator, KVM run through the gate). Trusts: the roots it is
 * given; nothing sevd or the emulator answers until it has been checked. */
#pragma once

#include <stdint.h>

struct hv_demo_opts {
	const char *daemon;	   /* sevd endpoint: unix:PATH (or http(s)://HOST:PORT) */
	const char *token_file;	   /* bearer token for TCP endpoints; NULL on the Unix socket */
	const char *emu;	   /* the emulator's socket (unix:PATH or PATH): CTL guest-memfd */
	const char *control;	   /* sevd's grant stream (unix:PATH or PATH) */
	const char *emulator_root; /* the emulator's ARK (AMD format), trusted explicitly */
	const char *roots;	   /* a roots directory (AMD's ask/ark), may be NULL */
	const char *image;	   /* the tiny guest's flat image */
	const char *secret_file;   /* the owner's secret, at most HV_GUEST_SECRET_MAX bytes */
	uint32_t policy;	   /* guest policy (plain SEV only: the runner has no VMSA) */
	unsigned max_exits, timeout_ms;
	int cpu; /* physical CPU for the TLB model; -1 = sched_getcpu() */
	/* Non-zero: the VMM's half only, for guest `attach` that is RUNNING on this sevd already
	 * and was launched elsewhere (moved here by sevadm migrate or sevadm restore): no owner
	 * steps, so no secret file and no root; the image is still checked in the plaintext view. */
	uint32_t attach;
};

/* Every step on stderr, the guest's serial output on stdout. 0 only when every step held and
 * the guest halted; negative errno otherwise (the reason already printed). A guest this run
 * launched is decommissioned again when a later step fails; on success it stays RUNNING. An
 * attached guest is never decommissioned by the demo. */
int hv_demo_run(const struct hv_demo_opts *o);
