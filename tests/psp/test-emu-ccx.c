/* sev-psp-emu with several core complexes (--ccx 4): ACTIVATE_EX on chosen CCXs (by APIC ID,
 * 16 per CCX), the ASID's dirty state and the WBINVD_DONE flags per CCX, DF_FLUSH cleaning
 * only the CCXs whose cores did WBINVD. Statuses and order per AMD-ASPFW sev_mcmd.c
 * (sev_mcmd_activate_ex, mcmd_activate_ex_common, activate_common, sev_mcmd_deactivate,
 * mcmd_df_flush_common), sev_guest.c (sev_guest_activate, sev_guest_deactivate) and apicid.c
 * (apicid_to_ccx_bitmask). Runs the real emulator. */
#include <errno.h>
#include <string.h>

#include "common/macros.h"
#include "psp/commands.h"
#include "tests/psp/test-emu-guest-util.h"

#define ASID GT_MIN_SEV_ASID

static struct psp_buf ids_buf;

/* ACTIVATE_EX of handle on asid with the given APIC IDs. */
static int activate_ex(struct psp_transport *t, uint32_t handle, uint32_t asid,
		       const uint32_t *ids, uint32_t n)
{
	struct sev_cmd_activate_ex b = { .length = sizeof(b), .handle = handle, .asid = asid,
					 .num_ids = n, .ids_address = ids_buf.addr };

	memcpy(ids_buf.ptr, ids, n * sizeof(*ids));
	return fw(t, SEV_CMD_ACTIVATE_EX, &b);
}

static void test_activate_ex_checks(struct psp_transport *t, uint32_t h)
{
	struct sev_cmd_activate_ex b = { .length = 23, .handle = 999, .asid = 0, .num_ids = 0 };
	uint32_t bad_id = 4 * 16; /* the first APIC ID past the fourth CCX */

	/* each fault alone, in mcmd_activate_ex_common's order, the later ones still present */
	GT_EXPECT(fw(t, SEV_CMD_ACTIVATE_EX, &b), SEV_STATUS_INVALID_PARAM);
	b.length = sizeof(b);
	GT_EXPECT(fw(t, SEV_CMD_ACTIVATE_EX, &b), SEV_STATUS_INVALID_GUEST);
	b.handle = h;
	GT_EXPECT(fw(t, SEV_CMD_ACTIVATE_EX, &b), SEV_STATUS_INVALID_ASID);
	b.asid = ASID;
	GT_EXPECT(fw(t, SEV_CMD_ACTIVATE_EX, &b), SEV_STATUS_INVALID_PARAM);
	b.num_ids = 1025;
	GT_EXPECT(fw(t, SEV_CMD_ACTIVATE_EX, &b), SEV_STATUS_INVALID_PARAM);
	b.num_ids = 1;
	b.ids_address = 0x3000;
	GT_EXPECT(fw(t, SEV_CMD_ACTIVATE_EX, &b), SEV_STATUS_INVALID_ADDRESS);
	GT_EXPECT(activate_ex(t, h, ASID, &bad_id, 1), SEV_STATUS_INVALID_CONFIG);
	TU_CHECK_EQ(gt_guest_status(t, h).asid, 0);
}

static void launch_to_running(struct psp_transport *t, uint32_t h)
{
	uint8_t blob[SEV_MEASURE_BLOB_SIZE];
	int pr = 0;

	TU_CHECK_EQ(psp_cmd_launch_measure(t, h, blob, &pr), 0);
	TU_CHECK_EQ(psp_cmd_launch_finish(t, h, &pr), 0);
	TU_CHECK_EQ(gt_guest_status(t, h).state, SEV_GSTATE_RUNNING);
}

static void test_per_ccx(struct psp_transport *t)
{
	const uint32_t ccx01[] = { 0, 17 }, ccx2[] = { 35 }, ccx3[] = { 48 };
	struct sev_cmd_activate act;
	uint32_t a = 0, b = 0;

	gt_platform_ready(t, false);
	TU_CHECK_EQ(psp_dma_alloc(t, 4096, &ids_buf), 0);
	GT_EXPECT(gt_launch(t, 0, NULL, NULL, &a), SEV_STATUS_SUCCESS);
	GT_EXPECT(gt_launch(t, 0, NULL, NULL, &b), SEV_STATUS_SUCCESS);
	test_activate_ex_checks(t, a);

	GT_EXPECT(activate_ex(t, a, ASID, ccx01, 2), SEV_STATUS_SUCCESS); /* CCX 0, 1 */
	TU_CHECK_EQ(gt_guest_status(t, a).asid, ASID);
	GT_EXPECT(activate_ex(t, b, ASID, ccx3, 1), SEV_STATUS_ASID_OWNED);
	act = (struct sev_cmd_activate){ b, ASID };
	GT_EXPECT(fw(t, SEV_CMD_ACTIVATE, &act), SEV_STATUS_ASID_OWNED);
	GT_EXPECT(activate_ex(t, a, ASID + 1, ccx2, 1), SEV_STATUS_ACTIVE);
	/* the same ASID again adds a CCX (ACTIVATE itself would answer ASID_OWNED) */
	GT_EXPECT(activate_ex(t, a, ASID, ccx2, 1), SEV_STATUS_SUCCESS);
	act = (struct sev_cmd_activate){ a, ASID };
	GT_EXPECT(fw(t, SEV_CMD_ACTIVATE, &act), SEV_STATUS_ASID_OWNED);
	launch_to_running(t, a);

	/* DEACTIVATE after running: dirty on CCX 0..2, their WBINVD_DONE cleared; CCX 3 keeps
	 * its flag. A first activation needs the ASID clean on every CCX. */
	GT_EXPECT(fw(t, SEV_CMD_DEACTIVATE, &(struct sev_cmd_handle){ a }), SEV_STATUS_SUCCESS);
	GT_EXPECT(activate_ex(t, b, ASID, ccx3, 1), SEV_STATUS_DFFLUSH_REQUIRED);
	GT_EXPECT(fw(t, SEV_CMD_DF_FLUSH, NULL), SEV_STATUS_WBINVD_REQUIRED);
	ctl_ok(t, "wbinvd 0");
	ctl_ok(t, "wbinvd 1");
	/* CCX 0 and 1 are cleaned although the answer is still WBINVD_REQUIRED; CCX 2 is not */
	GT_EXPECT(fw(t, SEV_CMD_DF_FLUSH, NULL), SEV_STATUS_WBINVD_REQUIRED);
	GT_EXPECT(activate_ex(t, b, ASID, ccx3, 1), SEV_STATUS_DFFLUSH_REQUIRED);
	ctl_ok(t, "wbinvd 2");
	GT_EXPECT(fw(t, SEV_CMD_DF_FLUSH, NULL), SEV_STATUS_SUCCESS);
	GT_EXPECT(activate_ex(t, b, ASID, ccx3, 1), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_status(t, b).asid, ASID);
	psp_dma_free(t, &ids_buf);
}

static void test_ctl(struct psp_transport *t)
{
	_cleanup_free_ uint8_t *reply = NULL;

	TU_CHECK_EQ(psp_emu_ctl(t, "wbinvd 4", &reply, NULL), -EINVAL); /* no fifth CCX */
	free(reply);
	reply = NULL;
	TU_CHECK_EQ(psp_emu_ctl(t, "status", &reply, NULL), 0);
	TU_CHECK(strstr((char *)reply, " ccxs=4 "), "status: %s", (char *)reply);
}

int main(void)
{
	static const char *const args[] = { "--ccx", "4", NULL };
	struct emu_rig r;

	rig_up(&r, args);
	test_per_ccx(r.t);
	test_ctl(r.t);
	rig_down(&r);
	tu_done("emu-ccx");
}
