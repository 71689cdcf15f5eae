/* The command table (sev_cmd_buffer_size, sev_cmd_name) against SEV-FACTS §1, the SEV
 * API spec's command buffer sizes and AMD-ASPFW's master command table (sev_dispatch.c
 * master_handler_table, the ids in sev_mcmd.h, the buffers' sizeof in sev_mcmd.h), written out
 * here as the independent source. */
#include <string.h>

#include "psp/sev-abi.h"
#include "tests/testutil.h"

static const struct {
	uint32_t id;
	const char *name;
	int size; /* 0 = no command buffer */
} spec[] = {
	{ 0x01, "INIT", 20 },
	{ 0x02, "SHUTDOWN", 0 },
	{ 0x03, "FACTORY_RESET", 0 },
	{ 0x04, "PLATFORM_STATUS", 12 },
	{ 0x05, "PEK_GEN", 0 },
	{ 0x06, "PEK_CSR", 12 },
	{ 0x07, "PEK_CERT_IMPORT", 28 },
	{ 0x08, "PDH_CERT_EXPORT", 28 },
	{ 0x09, "PDH_GEN", 0 },
	{ 0x0A, "DF_FLUSH", 0 },
	{ 0x0B, "DOWNLOAD_FIRMWARE", 12 },
	{ 0x0C, "GET_ID", 12 },
	{ 0x0D, "INIT_EX", 36 },
	{ 0x0E, "NOP", 0 },		/* sev_mcmd_nop, CMD_BUF_IGNORE */
	{ 0x0F, "RING_BUFFER", 0x28 }, /* sev_mcmd_ring_buffer_t: asserted 0x28 there */
	{ 0x20, "DECOMMISSION", 4 },
	{ 0x21, "ACTIVATE", 8 },
	{ 0x22, "DEACTIVATE", 4 },
	{ 0x23, "GUEST_STATUS", 13 },
	{ 0x24, "COPY", 24 },	     /* u32 handle, u32 length, u64 src, u64 dst */
	{ 0x25, "ACTIVATE_EX", 24 }, /* u32 ex_len, handle, asid, numids, u64 ids_paddr */
	{ 0x30, "LAUNCH_START", 36 },
	{ 0x31, "LAUNCH_UPDATE_DATA", 20 },
	{ 0x32, "LAUNCH_UPDATE_VMSA", 20 },
	{ 0x33, "LAUNCH_MEASURE", 20 },
	{ 0x34, "LAUNCH_UPDATE_SECRET", 52 },
	{ 0x35, "LAUNCH_FINISH", 4 },
	{ 0x36, "ATTESTATION", 36 },
	{ 0x40, "SEND_START", 68 },
	{ 0x41, "SEND_UPDATE_DATA", 52 },
	{ 0x42, "SEND_UPDATE_VMSA", 52 },
	{ 0x43, "SEND_FINISH", 4 },
	{ 0x44, "SEND_CANCEL", 4 },
	{ 0x50, "RECEIVE_START", 36 },
	{ 0x51, "RECEIVE_UPDATE_DATA", 52 },
	{ 0x52, "RECEIVE_UPDATE_VMSA", 52 },
	{ 0x53, "RECEIVE_FINISH", 4 },
	{ 0x60, "DBG_DECRYPT", 28 },
	{ 0x61, "DBG_ENCRYPT", 28 },
	{ 0x70, "SWAP_OUT", 40 }, /* packed: handle, flags, src, dst, mdata, software_data */
	{ 0x71, "SWAP_IN", 32 },  /* packed: handle, flags, src, dst, mdata */
};

/* SNP ids (SEV-FACTS §1) and their buffer sizes, written out from Linux include/linux/psp-sev.h
 * (sev_data_snp_*) and AMD-ASPFW sev_mcmd.h (snp_mcmd_*_t). */
static const struct {
	uint32_t id;
	int size;
} snp_ids[] = {
	{ 0x81, 0 },  { 0x82, 0 },  { 0x83, 8 },  { 0x84, 0 },	{ 0x85, 64 }, { 0x86, 8 },
	{ 0x90, 8 },  { 0x91, 12 }, { 0x92, 16 }, { 0x93, 8 },	{ 0x94, 24 }, { 0x95, 32 },
	{ 0xA0, 48 }, { 0xA1, 32 }, { 0xA2, 64 }, { 0xB0, 24 }, { 0xB1, 24 }, { 0xC0, 48 },
	{ 0xC1, 48 }, { 0xC2, 32 }, { 0xC3, 16 }, { 0xC6, 16 }, { 0xC7, 8 },	{ 0xC8, 8 },
	{ 0xC9, 64 }, { 0xCA, 24 }, { 0xCB, 4 },  { 0xCD, 16 }, { 0xCE, 16 },
};

static int in_spec(uint32_t id)
{
	for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++)
		if (spec[i].id == id)
			return 1;
	for (size_t i = 0; i < sizeof(snp_ids) / sizeof(snp_ids[0]); i++)
		if (snp_ids[i].id == id)
			return 1;
	return 0;
}

int main(void)
{
	for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++) {
		TU_CHECK(sev_cmd_buffer_size(spec[i].id) == spec[i].size, "%s: %d bytes, want %d",
			 spec[i].name, sev_cmd_buffer_size(spec[i].id), spec[i].size);
		TU_CHECK(sev_cmd_name(spec[i].id) && strcmp(sev_cmd_name(spec[i].id), spec[i].name) == 0,
			 "id %#x named %s", spec[i].id, sev_cmd_name(spec[i].id));
	}
	for (size_t i = 0; i < sizeof(snp_ids) / sizeof(snp_ids[0]); i++) {
		TU_CHECK(sev_cmd_name(snp_ids[i].id) != NULL, "SNP id %#x has a name", snp_ids[i].id);
		TU_CHECK(sev_cmd_buffer_size(snp_ids[i].id) == snp_ids[i].size,
			 "SNP id %#x: %d bytes, want %d", snp_ids[i].id,
			 sev_cmd_buffer_size(snp_ids[i].id), snp_ids[i].size);
	}
	/* gaps between the ranges are not commands (0x10..0x1F, 0x26..0x2F, 0x37.., ...) */
	for (uint32_t id = 0; id < 0x100; id++)
		if (!in_spec(id)) {
			TU_CHECK_EQ(sev_cmd_buffer_size(id), -1);
			TU_CHECK(sev_cmd_name(id) == NULL, "id %#x is not a command", id);
		}
	TU_CHECK_EQ(sev_cmd_buffer_size(0x100), -1);
	TU_CHECK_EQ(sev_cmd_buffer_size(0xFFFFFFFFu), -1);
	TU_CHECK(sev_cmd_name(0xFFFFFFFFu) == NULL, "huge id");
	tu_done("test-cmd-sizes");
}
