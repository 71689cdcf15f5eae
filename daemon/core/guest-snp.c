/* SEV-SNP guest commands and the host's RMP updates for guest.c (guest-snp.h). Sources: the SNP
 * ABI (56860) command buffers in psp/sev-abi.h; the host's order of a launch as KVM's
 * (arch/x86/kvm/svm/sev.c snp_launch_start, snp_launch_update: rmp_make_private before each
 * SNP_LAUNCH_UPDATE; snp_decommission_context, then sev_free_vcpu/snp_cleanup_guest_memory:
 * SNP_PAGE_RECLAIM of firmware-owned pages, rmp_make_shared). Trusts the transport. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "attest/snp-measure.h"
#include "common/macros.h"
#include "daemon/core/guest-snp.h"
#include "psp/psp-emu.h"
#include "psp/transport.h"

static int rmpupdate(struct psp_transport *t, const char *spec)
{
	char line[192];

	snprintf(line, sizeof(line), "rmpupdate %s", spec);
	return psp_emu_ctl(t, line, NULL, NULL);
}

int sevd_snp_rmp_private(struct psp_transport *t, uint64_t paddr, uint32_t asid, uint64_t gpa)
{
	char spec[128];

	snprintf(spec, sizeof(spec), "0x%llx,assigned=1,asid=%u,gpa=0x%llx,immutable=1,size=4k",
		 (unsigned long long)paddr, asid, (unsigned long long)gpa);
	return rmpupdate(t, spec);
}

int sevd_snp_rmp_private_range(struct psp_transport *t, uint64_t paddr, uint32_t asid,
			       uint64_t gpa, uint64_t pages)
{
	char spec[160];

	if (pages == 1)
		return sevd_snp_rmp_private(t, paddr, asid, gpa);
	snprintf(spec, sizeof(spec),
		 "0x%llx,assigned=1,asid=%u,gpa=0x%llx,immutable=1,size=4k,pages=%llu",
		 (unsigned long long)paddr, asid, (unsigned long long)gpa,
		 (unsigned long long)pages);
	return rmpupdate(t, spec);
}

int sevd_snp_rmp_firmware(struct psp_transport *t, uint64_t paddr)
{
	char spec[64];

	snprintf(spec, sizeof(spec), "0x%llx,assigned=1,immutable=1", (unsigned long long)paddr);
	return rmpupdate(t, spec);
}

int sevd_snp_rmp_shared(struct psp_transport *t, uint64_t paddr)
{
	char spec[64];

	snprintf(spec, sizeof(spec), "0x%llx,assigned=0", (unsigned long long)paddr);
	return rmpupdate(t, spec);
}

unsigned sevd_snp_reclaim(struct psp_transport *t, uint64_t paddr, uint64_t n)
{
	unsigned failed = 0;

	for (uint64_t i = 0; i < n; i++) {
		struct sev_snp_cmd_addr b = {paddr + i * SEV_PAGE_SIZE};
		int psp_ret = 0;

		/* A mutable page (hypervisor, Guest-Valid) answers SUCCESS untouched. */
		(void)psp_issue(t, SEV_CMD_SNP_PAGE_RECLAIM, &b, &psp_ret);
		failed += sevd_snp_rmp_shared(t, b.address) < 0;
	}
	return failed;
}

int sevd_snp_gctx_create(struct psp_transport *t, uint64_t gctx, int *psp_ret)
{
	struct sev_snp_cmd_addr b = {gctx};

	return psp_issue(t, SEV_CMD_SNP_GCTX_CREATE, &b, psp_ret);
}

int sevd_snp_launch_start(struct psp_transport *t, uint64_t gctx, uint64_t policy, int *psp_ret)
{
	struct sev_snp_cmd_launch_start b = {.gctx_paddr = gctx, .policy = policy};

	return psp_issue(t, SEV_CMD_SNP_LAUNCH_START, &b, psp_ret);
}

int sevd_snp_activate(struct psp_transport *t, uint64_t gctx, uint32_t asid, int *psp_ret)
{
	struct sev_snp_cmd_activate b = {gctx, asid};

	return psp_issue(t, SEV_CMD_SNP_ACTIVATE, &b, psp_ret);
}

int sevd_snp_launch_update(struct psp_transport *t, uint64_t gctx, uint64_t paddr, uint8_t type,
			   int *psp_ret)
{
	struct sev_snp_cmd_launch_update b = {.gctx_paddr = gctx,
					      .flags = SEV_SNP_UPDATE_FLAGS(type, false, false),
					      .address = paddr};

	return psp_issue(t, SEV_CMD_SNP_LAUNCH_UPDATE, &b, psp_ret);
}

int sevd_snp_launch_update_batch(struct psp_transport *t, uint64_t gctx, uint64_t paddr,
				 unsigned n, uint8_t type, int *psp_ret, unsigned *ret_done)
{
	struct sev_snp_cmd_launch_update b[PSP_BATCH_MAX];
	struct psp_batch_cmd cmds[PSP_BATCH_MAX];
	int r;

	*ret_done = 0;
	if (n == 0 || n > PSP_BATCH_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		b[i] = (struct sev_snp_cmd_launch_update){
		    .gctx_paddr = gctx, .flags = SEV_SNP_UPDATE_FLAGS(type, false, false),
		    .address = paddr + (uint64_t)i * SEV_PAGE_SIZE};
		cmds[i] = (struct psp_batch_cmd){.cmd = SEV_CMD_SNP_LAUNCH_UPDATE, .buf = &b[i]};
	}
	r = psp_issue_batch(t, cmds, n, ret_done);
	for (unsigned i = 0; i < n; i++)
		psp_ret[i] = cmds[i].psp_ret;
	return r;
}

int sevd_snp_launch_finish(struct psp_transport *t, uint64_t gctx,
			   const struct sev_snp_id_block *id_block,
			   const struct sev_snp_id_auth *id_auth, bool author,
			   const uint8_t host_data[32], int *psp_ret)
{
	struct sev_snp_cmd_launch_finish b = {.gctx_paddr = gctx};
	struct psp_buf d = {0};
	int r;

	if (host_data)
		memcpy(b.host_data, host_data, sizeof(b.host_data));
	if (id_block && id_auth) {
		r = psp_dma_alloc(t, 2 * SEV_PAGE_SIZE, &d);
		if (r < 0)
			return r;
		memcpy(d.ptr, id_block, sizeof(*id_block));
		memcpy((uint8_t *)d.ptr + SEV_PAGE_SIZE, id_auth, sizeof(*id_auth));
		b.id_block_paddr = d.addr;
		b.id_auth_paddr = d.addr + SEV_PAGE_SIZE;
		b.flags = SEV_SNP_FINISH_ID_BLOCK_EN | (author ? SEV_SNP_FINISH_AUTH_KEY_EN : 0);
	}
	r = psp_issue(t, SEV_CMD_SNP_LAUNCH_FINISH, &b, psp_ret);
	if (d.ptr)
		psp_dma_free(t, &d);
	return r;
}

int sevd_snp_guest_status(struct psp_transport *t, uint64_t gctx, struct sev_snp_guest_status *ret,
			  int *psp_ret)
{
	struct sev_snp_cmd_guest_status b = {.gctx_paddr = gctx};
	struct psp_buf d = {0};
	int r = psp_dma_alloc(t, SEV_PAGE_SIZE, &d); /* a Firmware page once SNP is up (core.c) */

	if (r < 0)
		return r;
	b.status_paddr = d.addr;
	r = psp_issue(t, SEV_CMD_SNP_GUEST_STATUS, &b, psp_ret);
	if (r >= 0)
		memcpy(ret, d.ptr, sizeof(*ret));
	psp_dma_free(t, &d);
	return r;
}

int sevd_snp_decommission(struct psp_transport *t, uint64_t gctx, int *psp_ret)
{
	struct sev_snp_cmd_addr b = {gctx};

	return psp_issue(t, SEV_CMD_SNP_DECOMMISSION, &b, psp_ret);
}

int sevd_snp_guest_request(struct psp_transport *t, uint64_t gctx, uint64_t req, uint64_t rsp,
			   int *psp_ret)
{
	struct sev_snp_cmd_guest_request b = {.gctx_paddr = gctx, .req_paddr = req,
					      .res_paddr = rsp};

	return psp_issue(t, SEV_CMD_SNP_GUEST_REQUEST, &b, psp_ret);
}

int sevd_snp_digest_page(uint8_t digest[48], uint8_t type, uint64_t gpa, const uint8_t *page)
{
	static const uint8_t zero[ATTEST_SNP_DIGEST_SIZE];
	uint8_t vmsa[SEV_PAGE_SIZE];

	if (type == SEV_SNP_PAGE_NORMAL)
		return attest_snp_page_update(digest, type, gpa, page);
	if (type == SEV_SNP_PAGE_VMSA) {
		memcpy(vmsa, page, sizeof(vmsa));
		memset(vmsa + 0x2F0, 0, 16); /* GUEST_TSC_SCALE, GUEST_TSC_OFFSET (README-snp.md) */
		return attest_snp_page_update(digest, type, gpa, vmsa);
	}
	return attest_snp_page_info(digest, type, gpa, zero);
}

const char *sevd_snp_page_type_name(uint8_t type)
{
	static const char *const names[] = {
	    [SEV_SNP_PAGE_NORMAL] = "normal",	  [SEV_SNP_PAGE_VMSA] = "vmsa",
	    [SEV_SNP_PAGE_ZERO] = "zero",	  [SEV_SNP_PAGE_UNMEASURED] = "unmeasured",
	    [SEV_SNP_PAGE_SECRETS] = "secrets", [SEV_SNP_PAGE_CPUID] = "cpuid",
	};

	return type < ELEMENTSOF(names) ? names[type] : NULL;
}
