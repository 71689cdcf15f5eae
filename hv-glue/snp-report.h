/* sev-run --snp-report: play an SEV-SNP guest that asks for its attestation report where there
 * is no /dev/kvm. The guest's side: VMPCK0 from the guest's own view of its secrets page (the
 * emulator's CTL snp-secrets, never from sevd, which holds no VMPCK), MSG_REPORT_REQ sealed with
 * it (attest/snp-msg.h); the VMM's side: the request through sevd's VMM socket
 * (hv-glue/vmm-msg.h), an extended request with --certs (the certificate buffer grown to the
 * length sevd names when it was too small, as a Linux guest retries). Trusts nothing sevd or
 * the emulator answers until it has been checked; VMPCK0 is wiped after use. */
#pragma once

#include <stdint.h>

struct hv_snp_report_opts {
	const char *daemon;	/* sevd's REST endpoint (unix:PATH): the guest's type and state */
	const char *vmm;	/* sevd's VMM socket (unix:PATH or PATH); NULL: beside daemon's */
	const char *emu;	/* the emulator's socket; NULL: the one sevd's VMM socket names */
	uint32_t handle;
	uint8_t nonce[64];	/* REPORT_DATA */
	const char *outfile;	/* the 1184-byte report */
	const char *certs_dir;	/* NULL: a plain guest request; else the table's entries here */
};

/* 0 when the report was written (and the certificates, with certs_dir); a negative errno
 * otherwise, the reason printed on stderr. */
int hv_snp_report_run(const struct hv_snp_report_opts *o);
