/* What the core's own modules (guest.c) need from core.c: the transport, the pool, the
 * metrics-recording wrapper for firmware commands and the ASID flush. Privileged side only;
 * never included by the HTTP side. */
#pragma once

#include <stdint.h>
#include <time.h>

#include "daemon/core/core.h"
#include "psp/sev-abi.h"

struct psp_transport;

struct psp_transport *sevd_core_psp(struct sevd_core *c);
const struct psp_cpuid *sevd_core_cpuid(struct sevd_core *c);
bool sevd_core_is_emu(struct sevd_core *c);
/* One firmware command, every step at the call site:
 *
 *	struct timespec t0;
 *	int psp_ret, r;
 *
 *	sevd_fw_begin(&psp_ret, &t0);
 *	r = psp_cmd_x(psp, ..., &psp_ret);
 *	r = sevd_core_fw_done(core, rep, SEV_CMD_X, r, psp_ret, &t0);
 *
 * sevd_fw_begin() starts the clock and sets psp_ret to SEV_STATUS_NO_FW_CALL, what it stays
 * when the command never reaches firmware. sevd_core_fw_done() records the outcome (metrics,
 * recent failures, PSP health; rep->r/fw_status/message when it failed) and returns r. */
static inline void sevd_fw_begin(int *psp_ret, struct timespec *t0)
{
	*psp_ret = SEV_STATUS_NO_FW_CALL;
	clock_gettime(CLOCK_MONOTONIC, t0);
}
int sevd_core_fw_done(struct sevd_core *c, struct sevd_reply *rep, uint32_t cmd, int r, int psp_ret,
		      const struct timespec *t0);
/* WBINVD + DF_FLUSH now, on the firmware thread (-EOPNOTSUPP on hardware). */
int sevd_core_flush_now(struct sevd_core *c);
/* For the SNP certificate table (snp-certs.c). */
struct sevd_snp_certs;
struct sevd_snp_certs *sevd_core_snp_certs(struct sevd_core *c);
const char *sevd_core_emu_socket(struct sevd_core *c);
const char *sevd_core_roots_dir(struct sevd_core *c);
/* sevd.conf `kds_url = off`: the SNP certificate table is not fetched at start. */
bool sevd_core_snp_certs_no_fetch(struct sevd_core *c);
/* sevd.conf `kds_url` when a URL (the worker fetches the table from it), else NULL. */
const char *sevd_core_kds_url(struct sevd_core *c);
uint8_t sevd_core_snp_gen(struct sevd_core *c); /* enum snp_gen */
bool sevd_core_snp_up(struct sevd_core *c);
/* Run fn(arg) as a job of the firmware queue (the VMM socket's requests, vmm.c): 0 once it
 * ran, or the queue's refusal in rep (-EBUSY, -ESHUTDOWN) or an unhealthy PSP (-EHOSTDOWN). */
struct sevd_reply;
int sevd_core_run_job(struct sevd_core *c, void (*fn)(void *), void *arg, struct sevd_reply *rep);
