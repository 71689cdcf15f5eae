/* sev-psp-emu --snp, the SNP platform through the emu transport: the flag
 * and CPUID Fn8000_001F EAX bit 4, SNP_PLATFORM_STATUS (every field of the real struct),
 * SNP_INIT / SNP_INIT_EX and the RMP (RMP_INIT_REQUIRED, INIT_RMP, the range list),
 * SNP_SHUTDOWN / SNP_SHUTDOWN_EX (SEV first, every ASID clean, IOMMU shutdown forgets the RMP),
 * SNP_DF_FLUSH, SEV INIT after SNP_INIT and not before, SNP_CONFIG and SNP_COMMIT, --tcb.
 * Expected statuses are AMD-ASPFW sev_mcmd.c's (snp_mcmd_init_common, snp_mcmd_shutdown_common,
 * snp_mcmd_platform_status, snp_mcmd_config, snp_mcmd_commit). Runs the real emulator. */
#include <errno.h>
#include <string.h>

#include "common/util.h"
#include "tests/psp/test-emu-snp-util.h"

#define OK SEV_STATUS_SUCCESS
#define IPS SEV_STATUS_INVALID_PLATFORM_STATE
#define IPARAM SEV_STATUS_INVALID_PARAM

/* TCB_VERSION bytes [bl, tee, 0, 0, 0, 0, snp, ucode] (Linux sev_snp_tcb_version_genoa_milan),
 * written out here independently of the emulator. */
static uint64_t tcb(uint8_t bl, uint8_t tee, uint8_t snp, uint8_t ucode)
{
	return (uint64_t)bl | (uint64_t)tee << 8 | (uint64_t)snp << 48 | (uint64_t)ucode << 56;
}

/* Without --snp nothing changes: CPUID bit 4 clear, every SNP id INVALID_COMMAND, no RMP. */
static void test_off_by_default(void)
{
	static const uint32_t ids[] = { SEV_CMD_SNP_INIT, SEV_CMD_SNP_PLATFORM_STATUS,
					SEV_CMD_SNP_INIT_EX, SEV_CMD_SNP_GCTX_CREATE,
					SEV_CMD_SNP_GUEST_REQUEST, SEV_CMD_SNP_COMMIT };
	struct emu_rig r;
	struct psp_cpuid c;
	uint8_t buf[64] = { 0 };

	rig_up(&r, NULL);
	TU_CHECK_EQ(psp_get_cpuid(r.t, &c), 0);
	TU_CHECK_EQ(c.eax, 0xf);
	for (size_t i = 0; i < ELEMENTSOF(ids); i++)
		GT_EXPECT(fw(r.t, ids[i], sev_cmd_buffer_size(ids[i]) ? buf : NULL),
			  SEV_STATUS_INVALID_COMMAND);
	TU_CHECK_EQ(snp_rmpupdate(r.t, "0x10000000000,assigned=1,immutable=1"), -EOPNOTSUPP);
	rig_down(&r);
}

static void test_status_uninit(struct psp_transport *t, const struct gt_mem *m)
{
	struct sev_snp_platform_status ps;
	struct psp_cpuid c;

	TU_CHECK_EQ(psp_get_cpuid(t, &c), 0);
	TU_CHECK_EQ(c.eax, 0x1f); /* SME, SEV, PageFlushMsr, SEV-ES, SEV-SNP */
	TU_CHECK_EQ(c.edx, SNP_MIN_SEV_ASID);
	/* before SNP_INIT the page needs no RMP state */
	GT_EXPECT(snp_platform_status(t, m, 0, &ps), OK);
	TU_CHECK_EQ(ps.api_major, 1);
	TU_CHECK_EQ(ps.api_minor, 55);
	TU_CHECK_EQ(ps.build_id, 21);
	TU_CHECK_EQ(ps.state, SEV_SNP_PSTATE_UNINIT);
	TU_CHECK_EQ(ps.is_rmp_initialized, 0);
	TU_CHECK_EQ(ps.guest_count, 0);
	TU_CHECK_EQ(ps.flags, SEV_SNP_STATUS_FEATURE_INFO);
	TU_CHECK_EQ(ps.current_tcb, tcb(3, 0, 8, 0x73)); /* the Milan default (the vectors') */
	TU_CHECK_EQ(ps.reported_tcb, tcb(3, 0, 8, 0x73));
	/* a status that would cross into the next page */
	GT_EXPECT(snp_platform_status(t, m, SEV_PAGE_SIZE - 16, &ps), IPARAM);
}

static void test_init(struct psp_transport *t, const struct gt_mem *m)
{
	struct sev_snp_cmd_init_ex ex = { 0 };
	struct sev_snp_platform_status ps;
	struct sev_cmd_init init = { 0 };

	GT_EXPECT(fw(t, SEV_CMD_SNP_INIT_EX, &ex), SEV_STATUS_RMP_INIT_REQUIRED); /* never set up */
	ex.flags = SEV_SNP_INIT_INIT_RMP | (1u << 2);
	GT_EXPECT(fw(t, SEV_CMD_SNP_INIT_EX, &ex), IPARAM); /* reserved bit */
	ex = (struct sev_snp_cmd_init_ex){ .flags = SEV_SNP_INIT_INIT_RMP, .reserved2[45] = 1 };
	GT_EXPECT(fw(t, SEV_CMD_SNP_INIT_EX, &ex), IPARAM);
	/* SEV first, then SNP: refused (firmware: "must Init SNP first if want to run both") */
	GT_EXPECT(fw(t, SEV_CMD_INIT, &init), OK);
	GT_EXPECT(fw(t, SEV_CMD_SNP_INIT, NULL), IPS);
	GT_EXPECT(fw(t, SEV_CMD_SHUTDOWN, NULL), OK);
	/* a range list with a range outside memory */
	put_le32(m->ptr + SEV_PAGE_SIZE, 1);
	put_le64(m->ptr + SEV_PAGE_SIZE + 8, 0x5000);
	put_le32(m->ptr + SEV_PAGE_SIZE + 16, 1);
	ex = (struct sev_snp_cmd_init_ex){
		.flags = SEV_SNP_INIT_INIT_RMP | SEV_SNP_INIT_LIST_PADDR_EN,
		.list_paddr = m->base + SEV_PAGE_SIZE,
	};
	GT_EXPECT(fw(t, SEV_CMD_SNP_INIT_EX, &ex), SEV_STATUS_INVALID_ADDRESS);
	put_le64(m->ptr + SEV_PAGE_SIZE + 8, m->base + 2 * SEV_PAGE_SIZE);
	GT_EXPECT(fw(t, SEV_CMD_SNP_INIT_EX, &ex), OK);
	GT_EXPECT(fw(t, SEV_CMD_SNP_INIT_EX, &ex), IPS);
	GT_EXPECT(fw(t, SEV_CMD_SNP_INIT, NULL), IPS);
	/* now the status page must be a firmware page */
	TU_CHECK(strcmp(snp_rmp_state(t, m->base), "HYPERVISOR") == 0, "page 0 is the host's");
	GT_EXPECT(snp_platform_status(t, m, 0, &ps), SEV_STATUS_INVALID_PAGE_STATE);
	snp_fw_page(t, m->base);
	TU_CHECK(strcmp(snp_rmp_state(t, m->base), "FIRMWARE") == 0, "page 0 is firmware's");
	GT_EXPECT(snp_platform_status(t, m, 0, &ps), OK);
	TU_CHECK_EQ(ps.state, SEV_SNP_PSTATE_INIT);
	TU_CHECK_EQ(ps.is_rmp_initialized, 1);
	/* an immutable page cannot be taken back by RMPUPDATE */
	TU_CHECK_EQ(snp_rmpupdate(t, "0x%llx,assigned=0", (unsigned long long)m->base), -EPERM);
	/* SEV INIT is allowed after SNP_INIT */
	GT_EXPECT(fw(t, SEV_CMD_INIT, &init), OK);
	TU_CHECK_EQ(platform_status(t).state, SEV_PSTATE_INIT);
	/* ... and SEV commands then write only into Firmware pages */
	struct sev_cmd_get_id gi = { m->base + 3 * SEV_PAGE_SIZE, 0 };
	GT_EXPECT(fw(t, SEV_CMD_GET_ID, &gi), SEV_STATUS_INVALID_LEN); /* the length query first */
	GT_EXPECT(fw(t, SEV_CMD_GET_ID, &gi), SEV_STATUS_INVALID_PAGE_STATE);
	snp_fw_page(t, gi.address);
	GT_EXPECT(fw(t, SEV_CMD_GET_ID, &gi), OK);
}

static void test_shutdown(struct psp_transport *t, const struct gt_mem *m)
{
	struct sev_snp_cmd_shutdown_ex sx = { .length = 7 };
	struct sev_snp_cmd_init_ex ex = { 0 };
	struct sev_snp_platform_status ps;

	GT_EXPECT(fw(t, SEV_CMD_SNP_SHUTDOWN, NULL), IPS); /* SEV is still initialized */
	GT_EXPECT(fw(t, SEV_CMD_SHUTDOWN, NULL), OK);
	GT_EXPECT(fw(t, SEV_CMD_SNP_SHUTDOWN, NULL), SEV_STATUS_DFFLUSH_REQUIRED); /* ASIDs dirty */
	GT_EXPECT(fw(t, SEV_CMD_SNP_DF_FLUSH, NULL), SEV_STATUS_WBINVD_REQUIRED);
	ctl_ok(t, "wbinvd");
	GT_EXPECT(fw(t, SEV_CMD_SNP_DF_FLUSH, NULL), OK);
	GT_EXPECT(fw(t, SEV_CMD_SNP_SHUTDOWN_EX, &sx), IPARAM); /* length */
	sx = (struct sev_snp_cmd_shutdown_ex){ sizeof(sx), SEV_SNP_SHUTDOWN_X86 };
	GT_EXPECT(fw(t, SEV_CMD_SNP_SHUTDOWN_EX, &sx), IPARAM); /* X86 needs IOMMU */
	sx.flags = 1u << 5;
	GT_EXPECT(fw(t, SEV_CMD_SNP_SHUTDOWN_EX, &sx), IPARAM);
	/* a plain SNP_SHUTDOWN keeps the RMP: SNP_INIT_EX without INIT_RMP is enough after it */
	GT_EXPECT(fw(t, SEV_CMD_SNP_SHUTDOWN, NULL), OK);
	GT_EXPECT(fw(t, SEV_CMD_SNP_SHUTDOWN, NULL), OK); /* UNINIT: nothing to do */
	GT_EXPECT(snp_platform_status(t, m, 0, &ps), OK);
	TU_CHECK_EQ(ps.state, SEV_SNP_PSTATE_UNINIT);
	TU_CHECK_EQ(ps.is_rmp_initialized, 1);
	GT_EXPECT(fw(t, SEV_CMD_SNP_INIT_EX, &ex), OK);
	TU_CHECK(strcmp(snp_rmp_state(t, m->base), "FIRMWARE") == 0, "the RMP was kept");
	ctl_ok(t, "wbinvd");
	GT_EXPECT(fw(t, SEV_CMD_SNP_DF_FLUSH, NULL), OK);
	/* IOMMU_SNP_SHUTDOWN: the next SNP_INIT_EX must initialize the RMP again */
	sx = (struct sev_snp_cmd_shutdown_ex){ sizeof(sx),
					       SEV_SNP_SHUTDOWN_IOMMU | SEV_SNP_SHUTDOWN_X86 };
	GT_EXPECT(fw(t, SEV_CMD_SNP_SHUTDOWN_EX, &sx), OK);
	GT_EXPECT(fw(t, SEV_CMD_SNP_INIT_EX, &ex), SEV_STATUS_RMP_INIT_REQUIRED);
	snp_ready(t);
	TU_CHECK(strcmp(snp_rmp_state(t, m->base), "HYPERVISOR") == 0, "INIT_RMP cleared it");
}

static void test_config_commit(struct psp_transport *t, const struct gt_mem *m)
{
	struct sev_snp_cmd_config cf = { .reported_tcb = tcb(3, 0, 9, 0x73) };
	struct sev_snp_cmd_commit co = { .length = 3 };
	struct sev_snp_platform_status ps;

	snp_fw_page(t, m->base);
	GT_EXPECT(fw(t, SEV_CMD_SNP_CONFIG, &cf), IPARAM); /* above the committed TCB */
	cf = (struct sev_snp_cmd_config){ .reported_tcb = tcb(2, 0, 8, 0x70), .flags = 1u << 2 };
	GT_EXPECT(fw(t, SEV_CMD_SNP_CONFIG, &cf), IPARAM); /* reserved flag */
	cf.flags = SEV_SNP_CONFIG_MASK_CHIP_ID;
	GT_EXPECT(fw(t, SEV_CMD_SNP_CONFIG, &cf), OK);
	GT_EXPECT(snp_platform_status(t, m, 0, &ps), OK);
	TU_CHECK_EQ(ps.reported_tcb, tcb(2, 0, 8, 0x70));
	TU_CHECK_EQ(ps.current_tcb, tcb(3, 0, 8, 0x73));
	TU_CHECK_EQ(ps.flags, SEV_SNP_STATUS_MASK_CHIP_ID | SEV_SNP_STATUS_FEATURE_INFO);
	cf = (struct sev_snp_cmd_config){ 0 }; /* 0: the committed TCB again */
	GT_EXPECT(fw(t, SEV_CMD_SNP_CONFIG, &cf), OK);
	GT_EXPECT(snp_platform_status(t, m, 0, &ps), OK);
	TU_CHECK_EQ(ps.reported_tcb, tcb(3, 0, 8, 0x73));
	TU_CHECK_EQ(ps.flags, SEV_SNP_STATUS_FEATURE_INFO);
	GT_EXPECT(fw(t, SEV_CMD_SNP_COMMIT, &co), IPARAM);
	co.length = sizeof(co);
	GT_EXPECT(fw(t, SEV_CMD_SNP_COMMIT, &co), OK);
}

/* --tcb sets the running TCB; SNP_COMMIT moves the committed one up to it, and only then may
 * SNP_CONFIG report it. */
static void test_tcb_flag(void)
{
	static const char *const args[] = { "--snp", "--tcb", "bl=4,snp=10,ucode=200", NULL };
	struct sev_snp_cmd_config cf = { .reported_tcb = tcb(4, 0, 10, 200) };
	struct sev_snp_cmd_commit co = { sizeof(co) };
	struct sev_snp_platform_status ps;
	struct emu_rig r;
	struct gt_mem m;

	static const char *const newer[] = { "--snp", "--tcb", "bl=4,snp=11,ucode=201", NULL };

	rig_up(&r, args);
	gt_mem_new(r.t, 4 * SEV_PAGE_SIZE, &m);
	GT_EXPECT(snp_platform_status(r.t, &m, 0, &ps), OK);
	TU_CHECK_EQ(ps.current_tcb, tcb(4, 0, 10, 200));
	GT_EXPECT(fw(r.t, SEV_CMD_SNP_CONFIG, &cf), OK); /* a new NV file: committed = running */
	GT_EXPECT(fw(r.t, SEV_CMD_SNP_COMMIT, &co), OK);
	gt_mem_free(&m);
	/* newer firmware on the same chip: the committed TCB is still the old one (it is kept
	 * beside the NV file), so reports say the old TCB until SNP_COMMIT */
	rig_restart(&r, newer);
	gt_mem_new(r.t, 4 * SEV_PAGE_SIZE, &m);
	GT_EXPECT(snp_platform_status(r.t, &m, 0, &ps), OK);
	TU_CHECK_EQ(ps.current_tcb, tcb(4, 0, 11, 201));
	TU_CHECK_EQ(ps.reported_tcb, tcb(4, 0, 10, 200));
	cf.reported_tcb = tcb(4, 0, 11, 201);
	GT_EXPECT(fw(r.t, SEV_CMD_SNP_CONFIG, &cf), IPARAM); /* above the committed one */
	GT_EXPECT(fw(r.t, SEV_CMD_SNP_COMMIT, &co), OK);
	GT_EXPECT(fw(r.t, SEV_CMD_SNP_CONFIG, &cf), OK);
	gt_mem_free(&m);
	rig_restart(&r, newer);
	gt_mem_new(r.t, 4 * SEV_PAGE_SIZE, &m);
	GT_EXPECT(snp_platform_status(r.t, &m, 0, &ps), OK);
	TU_CHECK_EQ(ps.reported_tcb, tcb(4, 0, 11, 201)); /* SNP_CONFIG is gone, the commit stays */
	gt_mem_free(&m);
	rig_down(&r);
}

#define IA SEV_STATUS_INVALID_ADDRESS
#define UNS SEV_STATUS_UNSUPPORTED
/* Every SNP command with a zeroed buffer, in SNP UNINIT and in SNP INIT (after the Linux-style
 * bring-up), by status name; address 0 is never mapped. */
static const struct {
	uint32_t cmd;
	int status[2]; /* UNINIT, INIT */
} zero_table[] = {
	{ SEV_CMD_SNP_PLATFORM_STATUS, { IA, IA } },
	{ SEV_CMD_SNP_DF_FLUSH, { SEV_STATUS_WBINVD_REQUIRED, OK } }, /* INIT: after CTL wbinvd */
	{ SEV_CMD_SNP_SHUTDOWN_EX, { OK, IPARAM } }, /* UNINIT: done before the length check */
	{ SEV_CMD_SNP_DECOMMISSION, { IPS, IA } },
	{ SEV_CMD_SNP_ACTIVATE, { IPS, IA } },
	{ SEV_CMD_SNP_GUEST_STATUS, { IPS, IA } },
	{ SEV_CMD_SNP_GCTX_CREATE, { IPS, IA } },
	{ SEV_CMD_SNP_GUEST_REQUEST, { IPS, IA } },
	{ SEV_CMD_SNP_LAUNCH_START, { IPS, IA } },
	{ SEV_CMD_SNP_LAUNCH_UPDATE, { IPS, IA } },
	{ SEV_CMD_SNP_LAUNCH_FINISH, { IPS, IA } },
	{ SEV_CMD_SNP_PAGE_RECLAIM, { IPS, IA } },
	{ SEV_CMD_SNP_CONFIG, { OK, OK } },
	{ SEV_CMD_SNP_COMMIT, { IPARAM, IPARAM } },
	{ SEV_CMD_SNP_FEATURE_INFO, { IPARAM, IPARAM } },
	{ SEV_CMD_SNP_VLEK_LOAD, { IPARAM, IPARAM } },
	{ SEV_CMD_SNP_ACTIVATE_EX, { UNS, UNS } },
	{ SEV_CMD_SNP_DBG_DECRYPT, { IPS, IA } },
	{ SEV_CMD_SNP_DBG_ENCRYPT, { IPS, IA } },
	{ SEV_CMD_SNP_PAGE_SWAP_OUT, { UNS, UNS } },
	{ SEV_CMD_SNP_PAGE_SWAP_IN, { UNS, UNS } },
	{ SEV_CMD_SNP_PAGE_MOVE, { UNS, UNS } },
	{ SEV_CMD_SNP_PAGE_MD_INIT, { UNS, UNS } },
	{ SEV_CMD_SNP_PAGE_SET_STATE, { SEV_STATUS_INVALID_LEN, SEV_STATUS_INVALID_LEN } },
	{ SEV_CMD_SNP_PAGE_UNSMASH, { IPS, IA } },
	{ SEV_CMD_SNP_DOWNLOAD_FIRMWARE_EX, { UNS, UNS } },
};

static void test_zero_table(void)
{
	static const char *const snp[] = { "--snp", NULL };
	struct emu_rig r;

	rig_up(&r, snp);
	for (int s = 0; s < 2; s++) {
		if (s == 1)
			snp_ready(r.t);
		for (size_t i = 0; i < ELEMENTSOF(zero_table); i++) {
			uint8_t buf[64] = { 0 };
			int got = fw(r.t, zero_table[i].cmd,
				     sev_cmd_buffer_size(zero_table[i].cmd) ? buf : NULL);

			TU_CHECK(got == zero_table[i].status[s], "%s in SNP %s: %s, expected %s",
				 sev_cmd_name(zero_table[i].cmd), s ? "INIT" : "UNINIT",
				 sev_status_name(got), sev_status_name(zero_table[i].status[s]));
		}
	}
	rig_down(&r);
}

static int set_state(struct psp_transport *t, uint32_t length, uint32_t reserved, uint64_t list)
{
	uint8_t b[16];

	put_le32(b, length);
	put_le32(b + 4, reserved);
	put_le64(b + 8, list);
	return fw(t, SEV_CMD_SNP_PAGE_SET_STATE, b);
}

/* A RANGE_LIST at list: n ranges, each {base, pages, reserved}. */
static void range_list(uint8_t *list, uint32_t n, uint64_t base, uint32_t pages, uint32_t rsvd)
{
	memset(list, 0, SEV_PAGE_SIZE);
	put_le32(list, n);
	for (uint32_t i = 0; i < n && i < 255; i++) {
		put_le64(list + 8 + 16 * i, base);
		put_le32(list + 16 + 16 * i, pages);
		put_le32(list + 20 + 16 * i, rsvd);
	}
}

/* SNP_PAGE_SET_STATE (AMD-ASPFW snp_mcmd_page_set_state / page_set_hv_fixed): Firmware pages
 * named by a RANGE_LIST become HV_FIXED, all or nothing; every refusal by status name. */
static void test_page_set_state(void)
{
	static const char *const snp[] = { "--snp", NULL };
	const uint64_t mb2 = 2u << 20;
	struct sev_snp_cmd_addr rc;
	struct emu_rig r;
	struct gt_mem m;
	uint64_t list;

	rig_up(&r, snp);
	gt_mem_new(r.t, 2 * mb2, &m);
	TU_CHECK(m.base % mb2 == 0, "guest memory 2 MiB aligned (0x%llx)",
		 (unsigned long long)m.base);
	list = m.base + mb2;
	range_list(m.ptr + mb2, 1, m.base, 2, 0);
	GT_EXPECT(set_state(r.t, 16, 0, list), IPS); /* SNP UNINIT */
	GT_EXPECT(set_state(r.t, 8, 0, list), SEV_STATUS_INVALID_LEN);
	snp_ready(r.t);
	GT_EXPECT(set_state(r.t, 16, 1, list), IPARAM);
	GT_EXPECT(set_state(r.t, 16, 0, list + 8), IPARAM); /* address bits 11:0 */
	GT_EXPECT(set_state(r.t, 16, 0, 0x1000), SEV_STATUS_INVALID_ADDRESS); /* not mapped */
	GT_EXPECT(set_state(r.t, 16, 0, list), SEV_STATUS_INVALID_PAGE_STATE); /* not Firmware */
	snp_fw_page(r.t, m.base);
	GT_EXPECT(set_state(r.t, 16, 0, list), SEV_STATUS_INVALID_PAGE_STATE); /* page 1 is not */
	TU_CHECK(strcmp(snp_rmp_state(r.t, m.base), "FIRMWARE") == 0, "all or nothing");
	snp_fw_page(r.t, m.base + SEV_PAGE_SIZE);
	range_list(m.ptr + mb2, 1, m.base + SEV_PAGE_SIZE, 1, 0);
	GT_EXPECT(set_state(r.t, 16, 0, list), IPARAM); /* a base not 2 MiB aligned */
	range_list(m.ptr + mb2, 1, m.base, 2, 1);
	GT_EXPECT(set_state(r.t, 16, 0, list), IPARAM); /* the range's reserved word */
	range_list(m.ptr + mb2, 256, m.base, 2, 0);
	GT_EXPECT(set_state(r.t, 16, 0, list), IPARAM); /* more than 255 ranges */
	range_list(m.ptr + mb2, 1, m.base + 2 * mb2, 1, 0);
	GT_EXPECT(set_state(r.t, 16, 0, list), SEV_STATUS_INVALID_ADDRESS); /* beyond memory */
	range_list(m.ptr + mb2, 1, m.base, 2, 0);
	GT_EXPECT(set_state(r.t, 16, 0, list), OK);
	TU_CHECK(strcmp(snp_rmp_state(r.t, m.base), "HV_FIXED") == 0, "page 0 HV-fixed");
	TU_CHECK(strcmp(snp_rmp_state(r.t, m.base + SEV_PAGE_SIZE), "HV_FIXED") == 0, "page 1");
	TU_CHECK(strcmp(snp_rmp_state(r.t, m.base + 2 * SEV_PAGE_SIZE), "HYPERVISOR") == 0,
		 "page 2 untouched");
	/* the host cannot take it back, and no firmware command takes it */
	TU_CHECK_EQ(snp_rmpupdate(r.t, "0x%llx,assigned=0", (unsigned long long)m.base), -EPERM);
	rc.address = m.base;
	GT_EXPECT(fw(r.t, SEV_CMD_SNP_PAGE_RECLAIM, &rc), SEV_STATUS_INVALID_PAGE_STATE);
	GT_EXPECT(fw(r.t, SEV_CMD_SNP_GCTX_CREATE, &rc), SEV_STATUS_INVALID_PAGE_STATE);
	GT_EXPECT(set_state(r.t, 16, 0, list), SEV_STATUS_INVALID_PAGE_STATE); /* not Firmware */
	gt_mem_free(&m);
	rig_down(&r);
}

int main(void)
{
	static const char *const snp[] = { "--snp", NULL };
	struct emu_rig r;
	struct gt_mem m;

	test_off_by_default();
	test_zero_table();
	rig_up(&r, snp);
	gt_mem_new(r.t, 4 * SEV_PAGE_SIZE, &m);
	test_status_uninit(r.t, &m);
	test_init(r.t, &m);
	test_shutdown(r.t, &m);
	test_config_commit(r.t, &m);
	gt_mem_free(&m);
	rig_down(&r);
	test_tcb_flag();
	test_page_set_state();
	tu_done("test-emu-snp-platform");
}
