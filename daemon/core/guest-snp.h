/* The firmware side of an SEV-SNP guest launch, for guest.c: the host's RMPUPDATEs
 * (on sev-psp-emu the CTL `rmpupdate`, what the kernel does with the instruction: Linux
 * rmp_make_private, rmp_mark_pages_firmware, rmp_make_shared), the SNP guest commands by their
 * context page (SNP ABI 56860 chapter 8: SNP_GCTX_CREATE, SNP_LAUNCH_START, SNP_ACTIVATE,
 * SNP_LAUNCH_UPDATE, SNP_LAUNCH_FINISH, SNP_GUEST_STATUS, SNP_DECOMMISSION, SNP_PAGE_RECLAIM)
 * and the launch digest sevd keeps beside firmware's (the PAGE_INFO chain, attest/snp-measure.h).
 * Outputs firmware writes (SNP_GUEST_STATUS) go to a Firmware page of the transport's DMA pool;
 * the ID block and ID auth too. No table, no journal: guest.c does those. Runs on the firmware
 * thread. Trusts the transport. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "psp/sev-abi.h"

struct psp_transport;

/* sevd's handles of SNP guests (firmware has none: a guest is its context page) start here,
 * above every SEV handle firmware gives (1..SEVD_GUESTS_MAX). */
#define SEVD_SNP_HANDLE_BASE 0x100000u

/* RMPUPDATE of the page at paddr: to Pre-Guest for asid at gpa (immutable), to Firmware, or
 * back to the hypervisor. 0 or a negative errno. */
int sevd_snp_rmp_private(struct psp_transport *t, uint64_t paddr, uint32_t asid, uint64_t gpa);
/* The same for the pages consecutive pages from paddr, gpa advancing with them, in one
 * RMPUPDATE line of the emulator (`pages=N`): all of them, or none when any is refused. */
int sevd_snp_rmp_private_range(struct psp_transport *t, uint64_t paddr, uint32_t asid,
			       uint64_t gpa, uint64_t pages);
int sevd_snp_rmp_firmware(struct psp_transport *t, uint64_t paddr);
int sevd_snp_rmp_shared(struct psp_transport *t, uint64_t paddr);
/* Give the n pages from paddr back to the hypervisor: SNP_PAGE_RECLAIM (immutable pages:
 * Pre-Guest, Firmware) then RMPUPDATE assigned=0. Returns how many failed (0: all). */
unsigned sevd_snp_reclaim(struct psp_transport *t, uint64_t paddr, uint64_t n);

/* The commands: 0, -EIO with the status in *psp_ret, or another negative errno. */
int sevd_snp_gctx_create(struct psp_transport *t, uint64_t gctx, int *psp_ret);
int sevd_snp_launch_start(struct psp_transport *t, uint64_t gctx, uint64_t policy, int *psp_ret);
int sevd_snp_activate(struct psp_transport *t, uint64_t gctx, uint32_t asid, int *psp_ret);
int sevd_snp_launch_update(struct psp_transport *t, uint64_t gctx, uint64_t paddr, uint8_t type,
			   int *psp_ret);
/* SNP_LAUNCH_UPDATE of the n (1..PSP_BATCH_MAX) 4 KiB pages at paddr + i * 4 KiB, in order,
 * in one exchange with the transport (psp_issue_batch()): each still one firmware command.
 * Stops after the first that fails; *ret_done: how many ran, psp_ret[i] each one's status.
 * -EOPNOTSUPP, nothing sent, on a transport without batches (/dev/sev). */
int sevd_snp_launch_update_batch(struct psp_transport *t, uint64_t gctx, uint64_t paddr,
				 unsigned n, uint8_t type, int *psp_ret, unsigned *ret_done);
/* id_block / id_auth NULL: finish without them (no ID_BLOCK_EN); author: AUTH_KEY_EN. */
int sevd_snp_launch_finish(struct psp_transport *t, uint64_t gctx,
			   const struct sev_snp_id_block *id_block,
			   const struct sev_snp_id_auth *id_auth, bool author,
			   const uint8_t host_data[32], int *psp_ret);
int sevd_snp_guest_status(struct psp_transport *t, uint64_t gctx, struct sev_snp_guest_status *ret,
			  int *psp_ret);
int sevd_snp_decommission(struct psp_transport *t, uint64_t gctx, int *psp_ret);
/* SNP_GUEST_REQUEST of the guest's message at req (a page), the response into rsp (a Firmware
 * page): the VMM socket's (vmm.c). */
int sevd_snp_guest_request(struct psp_transport *t, uint64_t gctx, uint64_t req, uint64_t rsp,
			   int *psp_ret);

/* The launch digest after one 4 KiB page of the type at gpa: page is its plaintext (NORMAL,
 * VMSA; the VMSA measured with GUEST_TSC_SCALE/OFFSET as zero), ignored for the other types. */
int sevd_snp_digest_page(uint8_t digest[48], uint8_t type, uint64_t gpa, const uint8_t *page);
/* "normal", "zero", ... (the ?type= of the data route), NULL for another value. */
const char *sevd_snp_page_type_name(uint8_t type);
