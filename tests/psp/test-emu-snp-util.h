/* Shared by the SNP emu tests (tests/psp/test-emu-snp-*.c): the host's side of an SNP platform
 * on sev-psp-emu --snp — RMPUPDATE through the CTL (what the kernel does with the instruction),
 * firmware pages, SNP_PLATFORM_STATUS, and a platform made ready as Linux makes it
 * (SNP_INIT_EX with INIT_RMP, WBINVD, SNP_DF_FLUSH). */
#pragma once

#include <stdint.h>

#include "common/macros.h"
#include "tests/psp/test-emu-guest-util.h"

#define SNP_MIN_SEV_ASID 100u /* the emulator's default CPUID EDX: SNP/ES guests use 1..99 */

/* CTL `rmpupdate SPEC` (printf-style): 0 or the emulator's negative errno. */
int snp_rmpupdate(struct psp_transport *t, const char *fmt, ...) _printf_(2, 3);
/* The page at addr to the Firmware state (Linux rmp_mark_pages_firmware); must succeed. */
void snp_fw_page(struct psp_transport *t, uint64_t addr);
/* The RMP state name of the page at addr (CTL `rmp`), as a static buffer. */
const char *snp_rmp_state(struct psp_transport *t, uint64_t addr);
/* SNP_PLATFORM_STATUS into the page at page_addr of mem (a firmware page once SNP is up). */
int snp_platform_status(struct psp_transport *t, const struct gt_mem *m, uint64_t off,
			struct sev_snp_platform_status *ret);
/* SNP_INIT_EX (INIT_RMP), CTL wbinvd, SNP_DF_FLUSH: all must succeed. */
void snp_ready(struct psp_transport *t);
