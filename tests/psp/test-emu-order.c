/* sev-psp-emu: the order of each command's checks. Every row gives a command two faults at
 * once and expects the status AMD's firmware gives first (AMD-ASPFW
 * fw/psp_bl_uapps/sev_uapp/src/sev_mcmd.c, the handler named in the row), so a dispatcher or
 * handler that checks in another order fails here. (SHUTDOWN, PLATFORM_STATUS, PEK_GEN,
 * PDH_GEN, FACTORY_RESET and NOP check nothing but the state: no two faults to give.) Runs the
 * real emulator. */
#include <string.h>

#include "common/macros.h"
#include "tests/psp/test-emu-util.h"

#define U SEV_PSTATE_UNINIT
#define I SEV_PSTATE_INIT
#define W SEV_PSTATE_WORKING
#define NOADDR 0x1000ull /* never mapped: regions start at 1 << 40 */
#define GONE 999u	 /* a handle no guest has */
#define H 1u		 /* the guest to_state(W) launched: LUPDATE, not activated */

union cmd_buf {
	uint8_t raw[64];
	struct sev_cmd_init init;
	struct sev_cmd_init_ex init_ex;
	struct sev_cmd_pek_csr csr;
	struct sev_cmd_pek_cert_import import;
	struct sev_cmd_pdh_cert_export export;
	struct sev_cmd_get_id id;
	struct sev_cmd_launch_start start;
	struct sev_cmd_launch_update update;
	struct sev_cmd_launch_measure measure;
	struct sev_cmd_launch_secret secret;
	struct sev_cmd_attestation att;
	struct sev_cmd_dbg dbg;
	struct sev_cmd_activate act;
	struct sev_cmd_handle handle;
	struct sev_cmd_guest_status gs;
	struct sev_cmd_activate_ex actx;
	struct sev_cmd_copy copy;
	struct sev_cmd_download_firmware dlfw;
};

static const struct order_row {
	const char *why; /* the firmware function and its two checks, in its order */
	int state;
	uint32_t cmd;
	union cmd_buf b;
	int dma_off; /* >= 0: the u64 at this offset is relative to a mapped buffer */
	int want;
} rows[] = {
#define ROW(why_, st_, cmd_, off_, want_, ...)                                                     \
	{ .why = why_, .state = st_, .cmd = cmd_, .b = { __VA_ARGS__ }, .dma_off = off_,           \
	  .want = SEV_STATUS_##want_ }
	ROW("sev_mcmd_init_common: platform state, then flags", I, SEV_CMD_INIT, -1,
	    INVALID_PLATFORM_STATE, .init = { .flags = 2 }),
	ROW("sev_mcmd_init_common: flags, then INIT_EX length", U, SEV_CMD_INIT_EX, -1,
	    INVALID_CONFIG, .init_ex = { .length = 35, .flags = 2 }),
	ROW("sev_mcmd_init_common: INIT_EX length, then NV alignment", U, SEV_CMD_INIT_EX, 24,
	    INVALID_LEN, .init_ex = { .length = 35, .nv_paddr = 16, .nv_len = 4096 }),
	ROW("sev_mcmd_init_common: NV alignment, then NV length", U, SEV_CMD_INIT_EX, 24,
	    INVALID_ADDRESS, .init_ex = { .length = 36, .nv_paddr = 16, .nv_len = 4096 }),
	ROW("sev_mcmd_pek_csr: state, then length", U, SEV_CMD_PEK_CSR, -1,
	    INVALID_PLATFORM_STATE, .csr = { NOADDR, 0 }),
	ROW("sev_mcmd_pdh_cert_export: state, then lengths", U, SEV_CMD_PDH_CERT_EXPORT, -1,
	    INVALID_PLATFORM_STATE, .export = { .pdh_cert_address = NOADDR }),
	ROW("sev_mcmd_pek_cert_import: state, then lengths", U, SEV_CMD_PEK_CERT_IMPORT, -1,
	    INVALID_PLATFORM_STATE, .import = { .pek_cert_address = NOADDR }),
	ROW("sev_mcmd_pek_cert_import: lengths, then the copies", I, SEV_CMD_PEK_CERT_IMPORT, -1,
	    INVALID_LEN,
	    .import = { NOADDR, 1, 0, NOADDR, SEV_CERT_SIZE }),
	ROW("sev_mcmd_get_id: no state check; length, then address", U, SEV_CMD_GET_ID, -1,
	    INVALID_LEN, .id = { NOADDR, 0 }),
	ROW("sev_mcmd_launch_update_vmsa: length, then the platform state", I,
	    SEV_CMD_LAUNCH_UPDATE_VMSA, -1, INVALID_LEN,
	    .update = { .handle = GONE, .address = NOADDR, .len = 100 }),
	ROW("sev_mcmd_launch_update_vmsa: length, then the handle", W, SEV_CMD_LAUNCH_UPDATE_VMSA,
	    -1, INVALID_LEN, .update = { .handle = GONE, .address = NOADDR, .len = 100 }),
	ROW("launch_update_common: handle, then alignment", W, SEV_CMD_LAUNCH_UPDATE_VMSA, -1,
	    INVALID_GUEST, .update = { .handle = GONE, .address = 8, .len = 4096 }),
	ROW("launch_update_common: platform state, then handle", I, SEV_CMD_LAUNCH_UPDATE_DATA,
	    -1, INVALID_PLATFORM_STATE, .update = { .handle = GONE, .len = 3 }),
	ROW("launch_update_common: VMSA on a non-ES guest, then INACTIVE", W,
	    SEV_CMD_LAUNCH_UPDATE_VMSA, -1, UNSUPPORTED,
	    .update = { .handle = H, .address = 8, .len = 4096 }),
	ROW("launch_update_common: INACTIVE, then alignment", W, SEV_CMD_LAUNCH_UPDATE_DATA, -1,
	    INACTIVE, .update = { .handle = H, .address = 8, .len = 3 }),
	ROW("sev_mcmd_launch_start: state, then session length", U, SEV_CMD_LAUNCH_START, -1,
	    INVALID_PLATFORM_STATE, .start = { .dh_cert_address = NOADDR, .session_len = 1 }),
	ROW("sev_mcmd_launch_start: session length, then its copy", I, SEV_CMD_LAUNCH_START, -1,
	    INVALID_LEN,
	    .start = { .dh_cert_address = NOADDR, .dh_cert_len = 1, .session_address = NOADDR,
		       .session_len = 1 }),
	ROW("sev_mcmd_launch_start: session copy, then cert length", I, SEV_CMD_LAUNCH_START, -1,
	    INVALID_ADDRESS,
	    .start = { .dh_cert_address = NOADDR, .dh_cert_len = 1, .session_address = NOADDR,
		       .session_len = 0x80 }),
	ROW("sev_mcmd_launch_start: shared handle, then SEV-ES support", I, SEV_CMD_LAUNCH_START,
	    -1, INVALID_GUEST, .start = { .handle = GONE, .policy = SEV_POLICY_ES }),
	ROW("sev_mcmd_launch_measure: handle, then length", W, SEV_CMD_LAUNCH_MEASURE, -1,
	    INVALID_GUEST, .measure = { .handle = GONE, .address = NOADDR, .len = 0 }),
	ROW("sev_mcmd_launch_secret: handle, then alignment", W, SEV_CMD_LAUNCH_UPDATE_SECRET, -1,
	    INVALID_GUEST, .secret = { .handle = GONE, .guest_address = 8 }),
	ROW("sev_mcmd_launch_secret: alignment, then lengths", W, SEV_CMD_LAUNCH_UPDATE_SECRET, -1,
	    INVALID_ADDRESS, .secret = { .handle = H, .guest_address = 8 }),
	ROW("sev_mcmd_launch_secret: lengths, then guest state", W, SEV_CMD_LAUNCH_UPDATE_SECRET,
	    -1, INVALID_LEN, .secret = { .handle = H, .guest_address = 16 }),
	ROW("sev_mcmd_launch_secret: guest state, then INACTIVE", W, SEV_CMD_LAUNCH_UPDATE_SECRET,
	    -1, INVALID_GUEST_STATE,
	    .secret = { .handle = H, .hdr_address = NOADDR, .hdr_len = SEV_SECRET_HDR_SIZE,
			.guest_address = 16, .guest_len = 16, .trans_address = NOADDR,
			.trans_len = 16 }),
	ROW("sev_mcmd_launch_finish: platform state, then handle", I, SEV_CMD_LAUNCH_FINISH, -1,
	    INVALID_PLATFORM_STATE, .handle = { GONE }),
	ROW("sev_mcmd_attestation: guest state, then length", W, SEV_CMD_ATTESTATION, -1,
	    INVALID_GUEST_STATE, .att = { .handle = H, .address = NOADDR, .len = 0 }),
	ROW("sev_mcmd_attestation: handle, then length", W, SEV_CMD_ATTESTATION, -1,
	    INVALID_GUEST, .att = { .handle = GONE, .address = NOADDR, .len = 0 }),
	ROW("sev_mcmd_dbg_decrypt: alignment, then handle", W, SEV_CMD_DBG_DECRYPT, -1,
	    INVALID_ADDRESS, .dbg = { .handle = GONE, .src_addr = 8, .dst_addr = 16, .len = 3 }),
	ROW("sev_mcmd_dbg_decrypt: length, then handle", W, SEV_CMD_DBG_DECRYPT, -1, INVALID_LEN,
	    .dbg = { .handle = GONE, .src_addr = 16, .dst_addr = 16, .len = 3 }),
	ROW("sev_mcmd_dbg_encrypt: alignment, then handle", W, SEV_CMD_DBG_ENCRYPT, -1,
	    INVALID_ADDRESS, .dbg = { .handle = GONE, .src_addr = 16, .dst_addr = 8, .len = 3 }),
	ROW("sev_mcmd_dbg_encrypt: length, then handle", W, SEV_CMD_DBG_ENCRYPT, -1, INVALID_LEN,
	    .dbg = { .handle = GONE, .src_addr = 16, .dst_addr = 16, .len = 3 }),
	ROW("sev_mcmd_activate: handle, then ASID", W, SEV_CMD_ACTIVATE, -1, INVALID_GUEST,
	    .act = { GONE, 0 }),
	ROW("sev_mcmd_activate: platform state, then handle", I, SEV_CMD_ACTIVATE, -1,
	    INVALID_PLATFORM_STATE, .act = { GONE, 0 }),
	ROW("sev_mcmd_deactivate: handle, then INACTIVE", W, SEV_CMD_DEACTIVATE, -1,
	    INVALID_GUEST, .handle = { GONE }),
	ROW("sev_mcmd_decommission: platform state, then handle", I, SEV_CMD_DECOMMISSION, -1,
	    INVALID_PLATFORM_STATE, .handle = { GONE }),
	ROW("sev_mcmd_guest_status: platform state, then handle", U, SEV_CMD_GUEST_STATUS, -1,
	    INVALID_PLATFORM_STATE, .gs = { .handle = GONE }),
	ROW("mcmd_df_flush_common: no state check; WBINVD", U, SEV_CMD_DF_FLUSH, -1,
	    WBINVD_REQUIRED, .raw = { 0 }),
	ROW("sev_mcmd_download_firmware: platform state, then alignment", I,
	    SEV_CMD_DOWNLOAD_FIRMWARE, -1, INVALID_PLATFORM_STATE, .dlfw = { 16, 0 }),
	ROW("sev_mcmd_download_firmware: the header's read, then the length", U,
	    SEV_CMD_DOWNLOAD_FIRMWARE, -1, INVALID_ADDRESS, .dlfw = { NOADDR, 1 }),
	ROW("sev_mcmd_activate_ex: platform state, then its length", I, SEV_CMD_ACTIVATE_EX, -1,
	    INVALID_PLATFORM_STATE, .actx = { .length = 23 }),
	ROW("sev_mcmd_activate_ex: its length, then the handle", W, SEV_CMD_ACTIVATE_EX, -1,
	    INVALID_PARAM, .actx = { .length = 23, .handle = GONE }),
	ROW("sev_mcmd_activate_ex: handle, then ASID", W, SEV_CMD_ACTIVATE_EX, -1, INVALID_GUEST,
	    .actx = { .length = 24, .handle = GONE }),
	ROW("mcmd_activate_ex_common: ASID, then the APIC ID count", W, SEV_CMD_ACTIVATE_EX, -1,
	    INVALID_ASID, .actx = { .length = 24, .handle = H }),
	ROW("mcmd_activate_ex_common: the APIC ID count, then their read", W, SEV_CMD_ACTIVATE_EX,
	    -1, INVALID_PARAM,
	    .actx = { .length = 24, .handle = H, .asid = 100, .ids_address = NOADDR }),
	ROW("sev_mcmd_copy: platform state, then handle", I, SEV_CMD_COPY, -1,
	    INVALID_PLATFORM_STATE, .copy = { .handle = GONE }),
	ROW("sev_mcmd_copy: handle, then length", W, SEV_CMD_COPY, -1, INVALID_GUEST,
	    .copy = { .handle = GONE }),
	ROW("sev_mcmd_copy: INACTIVE, then length", W, SEV_CMD_COPY, -1, INACTIVE,
	    .copy = { .handle = H, .src_addr = 8 }),
#undef ROW
};

static void test_rows(struct psp_transport *t)
{
	struct psp_buf dma;
	union cmd_buf b;

	TU_CHECK_EQ(psp_dma_alloc(t, 64 * 1024, &dma), 0);
	for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
		const struct order_row *r = &rows[i];
		int got;

		TU_CHECK(to_state(t, r->state), "%s: platform state", r->why);
		b = r->b;
		if (r->dma_off >= 0) {
			uint64_t a;

			memcpy(&a, b.raw + r->dma_off, sizeof(a));
			a += dma.addr;
			memcpy(b.raw + r->dma_off, &a, sizeof(a));
		}
		got = fw(t, r->cmd, sev_cmd_buffer_size(r->cmd) ? &b : NULL);
		TU_CHECK(got == r->want, "%s (%s in %s): firmware answered %s, expected %s", r->why,
			 sev_cmd_name(r->cmd), sev_platform_state_name(r->state),
			 sev_status_name(got), sev_status_name(r->want));
	}
	psp_dma_free(t, &dma);
}

/* sev_mcmd_launch_start takes the handle (find_free_guest_handle: RESOURCE_LIMIT) before it
 * checks SEV-ES (UNSUPPORTED on a platform INITed without it); a refused LAUNCH_START leaves
 * no guest behind either way. */
static void test_launch_start_full(struct psp_transport *t)
{
	struct sev_cmd_launch_start ls = { .policy = SEV_POLICY_ES };
	uint32_t n;

	TU_CHECK(to_state(t, W), "WORKING");
	CHECK_STATUS(fw(t, SEV_CMD_LAUNCH_START, &ls), SEV_STATUS_UNSUPPORTED);
	TU_CHECK_EQ(platform_status(t).guest_count, 1);
	for (n = 1; n < 1024; n++) {
		ls = (struct sev_cmd_launch_start){ 0 };
		CHECK_STATUS(fw(t, SEV_CMD_LAUNCH_START, &ls), SEV_STATUS_SUCCESS);
	}
	TU_CHECK_EQ(platform_status(t).guest_count, 1024);
	ls = (struct sev_cmd_launch_start){ .policy = SEV_POLICY_ES };
	CHECK_STATUS(fw(t, SEV_CMD_LAUNCH_START, &ls), SEV_STATUS_RESOURCE_LIMIT);
	TU_CHECK_EQ(platform_status(t).guest_count, 1024);
	TU_CHECK(to_state(t, U), "SHUTDOWN frees them");
}

int main(void)
{
	struct emu_rig r;

	rig_up(&r, NULL);
	test_rows(r.t);
	test_launch_start_full(r.t);
	rig_down(&r);
	tu_done("emu-order");
}
