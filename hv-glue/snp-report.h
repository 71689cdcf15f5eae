/* sev-run --snp-report: play an SEV-SNP guest that asks for its attestation report where there
 * is no /dev/kvm. The guest's side: VMPCK0 from the guest's own view of its secrets page (the
 * emulator's CTL snp-secrets, never from sevd, which holds no VMPCK), MSG_REPORT_REQ sealed with
 * it (attest/snp-msg.h); the VMM's side: the request through sevd's VMM socket
 * (hv-glue/vmm-msg.h), an extended request with --certs (the certificate buffer grown to the
 * length sevd names when it was too small, as a Linux guest retries). Trusts nothing sevd or
 * the emulator answers until it has been checked; VMPCK0 is wiped after use. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct hv_vmm_req;
struct hv_vmm_ans;

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

/* The steps sev-run --snp-guest (snp-guest.c) shares; each prints its reason and returns a
 * negative errno on failure. GET /v1/guests/H: an SNP guest, RUNNING. */
int hv_snp_check_guest(const struct hv_snp_report_opts *o);
/* sevd's VMM socket (o->vmm, else vmm.sock beside o->daemon), its path into path. */
int hv_snp_vmm_open(const struct hv_snp_report_opts *o, char *path, size_t n);
/* One request on the VMM socket; the answer parsed into *a (pointing into buf, at least
 * HV_VMM_ANS_MAX bytes). */
int hv_snp_vmm_call(int fd, const struct hv_vmm_req *q, uint8_t *buf, struct hv_vmm_ans *a);
/* The sealed message page as a guest request (extended with o->certs_dir, the buffer grown
 * once to what sevd names); a refusal by sevd or firmware is an error. */
int hv_snp_send_request(int fd, const struct hv_snp_report_opts *o, const uint8_t *page,
			uint8_t *buf, struct hv_vmm_ans *a);
/* The host's certificate table as snphost names its entries, into dir. */
int hv_snp_write_certs(const char *dir, const uint8_t *table, size_t len);

/* sev-run --snp-guest (snp-guest.c): the SNP tiny guest under /dev/kvm asks for its report;
 * r.nonce is unused (the guest makes its own), r.outfile gets the report. */
struct hv_snp_guest_opts {
	struct hv_snp_report_opts r;
	const char *image; /* the SNP tiny guest, launched at 0x10000 */
	unsigned max_exits, timeout_ms;
};
/* 0 when the guest halted after printing its report's MEASUREMENT; else a negative errno,
 * -ENOENT / -EACCES when /dev/kvm cannot be used. */
int hv_snp_guest_run(const struct hv_snp_guest_opts *o);
