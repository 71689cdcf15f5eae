/* What the core's own modules (guest.c) need from core.c: the transport, the pool, the
 * metrics-recording wrapper for firmware commands and the ASID flush. Privileged side only;
 * never included by the HTTP side. */
#pragma once

#include <stdint.h>
#include <time.h>

#include "daemon/core/core.h"

struct psp_transport;

struct psp_transport *sevd_core_psp(struct sevd_core *c);
const struct psp_cpuid *sevd_core_cpuid(struct sevd_core *c);
bool sevd_core_is_emu(struct sevd_core *c);
/* Record a firmware command's outcome (metrics; rep->r/fw_status/message when it failed). */
int sevd_core_fw_done(struct sevd_core *c, struct sevd_reply *rep, uint32_t cmd, int r, int psp_ret,
		      const struct timespec *t0);
/* WBINVD + DF_FLUSH now, on the firmware thread (-EOPNOTSUPP on hardware). */
int sevd_core_flush_now(struct sevd_core *c);
/* For the SNP certificate table (snp-certs.c). */
struct sevd_snp_certs;
struct sevd_snp_certs *sevd_core_snp_certs(struct sevd_core *c);
const char *sevd_core_emu_socket(struct sevd_core *c);
const char *sevd_core_roots_dir(struct sevd_core *c);
uint8_t sevd_core_snp_gen(struct sevd_core *c); /* enum snp_gen */
bool sevd_core_snp_up(struct sevd_core *c);
