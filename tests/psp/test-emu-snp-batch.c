/* sev-psp-emu --snp, several firmware commands in one message of the emu transport
 * (psp_issue_batch(), EMU_MSG_BATCH in psp/emu-wire.h): SNP_LAUNCH_UPDATEs of one guest run in
 * order, each with its own status, and the batch stops at the first one refused — the pages
 * after it are untouched (still Pre-Guest, not encrypted), as if the host had issued the
 * commands one by one and stopped there. The commands that ran count as served one each.
 * Runs the real emulator. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "psp/psp-emu.h"
#include "tests/psp/test-emu-snp-util.h"

#define OK SEV_STATUS_SUCCESS
#define POLICY 0x30000ull /* SMT allowed, bit 17 set: what QEMU passes by default */

static uint64_t pa(const struct gt_mem *m, unsigned page)
{
	return m->base + (uint64_t)page * SEV_PAGE_SIZE;
}

static void private_page(struct psp_transport *t, uint64_t addr, uint64_t gpa)
{
	int e = snp_rmpupdate(t, "0x%llx,assigned=1,asid=1,gpa=0x%llx,immutable=1,size=4k",
			      (unsigned long long)addr, (unsigned long long)gpa);

	TU_CHECK(e == 0, "rmpupdate 0x%llx: %s", (unsigned long long)addr, strerror(-e));
}

static uint64_t launched_guest(struct psp_transport *t, const struct gt_mem *m)
{
	struct sev_snp_cmd_addr c = { pa(m, 1) };
	struct sev_snp_cmd_launch_start s = { .gctx_paddr = c.address, .policy = POLICY };
	struct sev_snp_cmd_activate a = { c.address, 1 };

	snp_fw_page(t, c.address);
	GT_EXPECT(fw(t, SEV_CMD_SNP_GCTX_CREATE, &c), OK);
	GT_EXPECT(fw(t, SEV_CMD_SNP_LAUNCH_START, &s), OK);
	GT_EXPECT(fw(t, SEV_CMD_SNP_ACTIVATE, &a), OK);
	return c.address;
}

static uint64_t served(struct psp_transport *t)
{
	struct emu_info info;

	TU_CHECK_EQ(psp_emu_info(t, &info), 0);
	return info.commands_served;
}

/* n NORMAL updates of the pages from first, in one batch; *ret_done: how many ran. */
static int batch(struct psp_transport *t, uint64_t gctx, const struct gt_mem *m, unsigned first,
		 unsigned n, struct psp_batch_cmd *cmds, unsigned *ret_done)
{
	static struct sev_snp_cmd_launch_update b[PSP_BATCH_MAX];

	for (unsigned i = 0; i < n; i++) {
		b[i] = (struct sev_snp_cmd_launch_update){
			.gctx_paddr = gctx, .flags = SEV_SNP_UPDATE_FLAGS(SEV_SNP_PAGE_NORMAL, false, false),
			.address = pa(m, first + i)
		};
		cmds[i] = (struct psp_batch_cmd){ .cmd = SEV_CMD_SNP_LAUNCH_UPDATE, .buf = &b[i] };
	}
	return psp_issue_batch(t, cmds, n, ret_done);
}

int main(void)
{
	static const char *const args[] = { "--snp", NULL };
	struct psp_batch_cmd cmds[PSP_BATCH_MAX];
	struct emu_rig r;
	struct gt_mem m;
	unsigned done = 99;
	uint64_t g, before;

	rig_up(&r, args);
	gt_mem_new(r.t, 128 * SEV_PAGE_SIZE, &m);
	snp_ready(r.t);
	g = launched_guest(r.t, &m);
	for (unsigned i = 10; i < 14; i++)
		memset(m.ptr + (size_t)i * SEV_PAGE_SIZE, 0x40 + i, SEV_PAGE_SIZE);

	/* Page 12 was never made Pre-Guest: the third command is refused, the fourth never runs */
	private_page(r.t, pa(&m, 10), 0x0);
	private_page(r.t, pa(&m, 11), 0x1000);
	private_page(r.t, pa(&m, 13), 0x3000);
	before = served(r.t);
	TU_CHECK_EQ(batch(r.t, g, &m, 10, 4, cmds, &done), -EIO);
	TU_CHECK_EQ(done, 3u);
	GT_EXPECT(cmds[0].psp_ret, OK);
	GT_EXPECT(cmds[1].psp_ret, OK);
	GT_EXPECT(cmds[2].psp_ret, SEV_STATUS_INVALID_PAGE_STATE);
	GT_EXPECT(cmds[3].psp_ret, SEV_STATUS_NO_FW_CALL);
	TU_CHECK_EQ(served(r.t) - before, 3u);
	TU_CHECK(strcmp(snp_rmp_state(r.t, pa(&m, 10)), "GUEST_VALID") == 0, "page 10 updated");
	TU_CHECK(strcmp(snp_rmp_state(r.t, pa(&m, 11)), "GUEST_VALID") == 0, "page 11 updated");
	TU_CHECK(strcmp(snp_rmp_state(r.t, pa(&m, 12)), "HYPERVISOR") == 0, "page 12 untouched");
	TU_CHECK(strcmp(snp_rmp_state(r.t, pa(&m, 13)), "PRE_GUEST") == 0, "page 13 not run");
	TU_CHECK(m.ptr[10 * SEV_PAGE_SIZE] != 0x4a || m.ptr[10 * SEV_PAGE_SIZE + 1] != 0x4a,
		 "page 10 encrypted in place");
	TU_CHECK(m.ptr[13 * SEV_PAGE_SIZE] == 0x4d && m.ptr[14 * SEV_PAGE_SIZE - 1] == 0x4d,
		 "page 13 still the host's plaintext");

	/* The rest, once page 12 is Pre-Guest: both run, the batch answers 0 */
	private_page(r.t, pa(&m, 12), 0x2000);
	TU_CHECK_EQ(batch(r.t, g, &m, 12, 2, cmds, &done), 0);
	TU_CHECK_EQ(done, 2u);
	GT_EXPECT(cmds[1].psp_ret, OK);
	TU_CHECK(strcmp(snp_rmp_state(r.t, pa(&m, 13)), "GUEST_VALID") == 0, "page 13 updated");

	/* The first refused: one ran, nothing else; a full batch of PSP_BATCH_MAX fits a message */
	for (unsigned i = 0; i < PSP_BATCH_MAX; i++)
		private_page(r.t, pa(&m, 40 + i), 0x10000 + 0x1000ull * i);
	TU_CHECK_EQ(batch(r.t, g, &m, 39, 2, cmds, &done), -EIO);
	TU_CHECK_EQ(done, 1u);
	GT_EXPECT(cmds[0].psp_ret, SEV_STATUS_INVALID_PAGE_STATE);
	TU_CHECK(strcmp(snp_rmp_state(r.t, pa(&m, 40)), "PRE_GUEST") == 0, "page 40 not run");
	before = served(r.t);
	TU_CHECK_EQ(batch(r.t, g, &m, 40, PSP_BATCH_MAX, cmds, &done), 0);
	TU_CHECK_EQ(done, PSP_BATCH_MAX);
	TU_CHECK_EQ(served(r.t) - before, (uint64_t)PSP_BATCH_MAX);
	TU_CHECK(strcmp(snp_rmp_state(r.t, pa(&m, 40 + PSP_BATCH_MAX - 1)), "GUEST_VALID") == 0,
		 "the last page of a full batch updated");

	/* Sizes the transport refuses before sending anything */
	TU_CHECK_EQ(batch(r.t, g, &m, 40, 0, cmds, &done), -EINVAL);
	TU_CHECK_EQ(psp_issue_batch(r.t, cmds, PSP_BATCH_MAX + 1, &done), -EINVAL);
	TU_CHECK_EQ(done, 0u);
	/* ...and the connection still serves */
	TU_CHECK(served(r.t) > 0, "the emulator still answers");

	gt_mem_free(&m);
	rig_down(&r);
	tu_done("test-emu-snp-batch");
}
