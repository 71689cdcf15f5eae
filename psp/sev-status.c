/* Names and meanings of firmware status codes, command ids and states, and the command
 * buffer size table. Designated-initializer tables, checked at build time to cover the enums
 * (as QEMU's sev_fw_errlist). */
#include <stdio.h>

#include "common/macros.h"
#include "psp/sev-abi.h"

struct status_row {
	const char *name;
	const char *meaning;
};

static const struct status_row status_rows[SEV_STATUS_MAX_] = {
#define S(code, text) [SEV_STATUS_##code] = { #code, text }
	S(SUCCESS, "the command completed"),
	S(INVALID_PLATFORM_STATE, "the platform is not in a state that allows this command"),
	S(INVALID_GUEST_STATE, "the guest is not in a state that allows this command"),
	S(INVALID_CONFIG, "the platform configuration is invalid"),
	S(INVALID_LEN, "a buffer is too small (the needed length was returned)"),
	S(ALREADY_OWNED, "the platform is already owned"),
	S(INVALID_CERTIFICATE, "a certificate is malformed or of the wrong kind"),
	S(POLICY_FAILURE, "the guest policy forbids this command or does not match"),
	S(INACTIVE, "the guest is not active"),
	S(INVALID_ADDRESS, "an address in the command buffer is invalid"),
	S(BAD_SIGNATURE, "a signature or MAC did not verify"),
	S(BAD_MEASUREMENT, "the measurement does not match"),
	S(ASID_OWNED, "the ASID is owned by another guest"),
	S(INVALID_ASID, "the ASID is out of range for this guest"),
	S(WBINVD_REQUIRED, "WBINVD must run on all cores before DF_FLUSH"),
	S(DFFLUSH_REQUIRED, "DF_FLUSH must run before this ASID is reused"),
	S(INVALID_GUEST, "no guest has this handle"),
	S(INVALID_COMMAND, "the command id is not valid"),
	S(ACTIVE, "the guest is active (DEACTIVATE first)"),
	S(HWERROR_PLATFORM, "a hardware error occurred; the platform state is preserved"),
	S(HWERROR_UNSAFE, "a hardware error occurred; the platform state is unsafe"),
	S(UNSUPPORTED, "the feature is not supported"),
	S(INVALID_PARAM, "a parameter is invalid"),
	S(RESOURCE_LIMIT, "firmware resources are exhausted"),
	S(SECURE_DATA_INVALID, "the secure data (integrity-protected state) is invalid"),
	S(INVALID_PAGE_SIZE, "the page size is invalid"),
	S(INVALID_PAGE_STATE, "the page is in the wrong RMP state"),
	S(INVALID_MDATA_ENTRY, "the metadata entry is invalid"),
	S(INVALID_PAGE_OWNER, "the page is owned by another guest"),
	S(AEAD_OFLOW, "the AEAD message counter overflowed"),
	S(EXIT_RING_BUFFER, "the ring buffer mode was exited"),
	S(RMP_INIT_REQUIRED, "the RMP must be initialized first"),
	S(BAD_SVN, "the security version number is not allowed"),
	S(BAD_VERSION, "the firmware version is not allowed"),
	S(SHUTDOWN_REQUIRED, "the platform must be shut down first"),
	S(UPDATE_FAILED, "the firmware update failed"),
	S(RESTORE_REQUIRED, "a restore is required"),
	S(RMP_INITIALIZATION_FAILED, "the RMP initialization failed"),
	S(INVALID_KEY, "the key is invalid"),
#undef S
};
/* 0x1E is not assigned by the spec; every other slot must be named. */
_Static_assert(ELEMENTSOF(status_rows) == SEV_STATUS_INVALID_KEY + 1,
	       "status table must cover every status code");

const char *sev_status_name(int status)
{
	static __thread char buf[32];

	if (status == SEV_STATUS_NO_FW_CALL)
		return "NO_FW_CALL";
	if (status >= 0 && status < (int)ELEMENTSOF(status_rows) && status_rows[status].name)
		return status_rows[status].name;
	snprintf(buf, sizeof(buf), "UNKNOWN_STATUS_0x%x", (unsigned)status);
	return buf;
}

const char *sev_status_meaning(int status)
{
	if (status == SEV_STATUS_NO_FW_CALL)
		return "the command did not reach firmware";
	if (status >= 0 && status < (int)ELEMENTSOF(status_rows) && status_rows[status].meaning)
		return status_rows[status].meaning;
	return "a status code this software does not know";
}

struct cmd_row {
	const char *name;
	int size; /* command buffer bytes; 0 = no buffer */
};

static const struct cmd_row cmd_rows[SEV_CMD_MAX_] = {
#define C(id, t) [SEV_CMD_##id] = { #id, (int)sizeof(struct t) }
#define C0(id) [SEV_CMD_##id] = { #id, 0 }
	C(INIT, sev_cmd_init),
	C0(SHUTDOWN),
	C0(FACTORY_RESET),
	C(PLATFORM_STATUS, sev_cmd_platform_status),
	C0(PEK_GEN),
	C(PEK_CSR, sev_cmd_pek_csr),
	C(PEK_CERT_IMPORT, sev_cmd_pek_cert_import),
	C(PDH_CERT_EXPORT, sev_cmd_pdh_cert_export),
	C0(PDH_GEN),
	C0(DF_FLUSH),
	C(DOWNLOAD_FIRMWARE, sev_cmd_download_firmware),
	C(GET_ID, sev_cmd_get_id),
	C(INIT_EX, sev_cmd_init_ex),
	C0(NOP),
	C(RING_BUFFER, sev_cmd_ring_buffer),
	C(DECOMMISSION, sev_cmd_handle),
	C(ACTIVATE, sev_cmd_activate),
	C(DEACTIVATE, sev_cmd_handle),
	C(GUEST_STATUS, sev_cmd_guest_status),
	C(COPY, sev_cmd_copy),
	C(ACTIVATE_EX, sev_cmd_activate_ex),
	C(LAUNCH_START, sev_cmd_launch_start),
	C(LAUNCH_UPDATE_DATA, sev_cmd_launch_update),
	C(LAUNCH_UPDATE_VMSA, sev_cmd_launch_update),
	C(LAUNCH_MEASURE, sev_cmd_launch_measure),
	C(LAUNCH_UPDATE_SECRET, sev_cmd_launch_secret),
	C(LAUNCH_FINISH, sev_cmd_handle),
	C(ATTESTATION, sev_cmd_attestation),
	C(SEND_START, sev_cmd_send_start),
	C(SEND_UPDATE_DATA, sev_cmd_transfer),
	C(SEND_UPDATE_VMSA, sev_cmd_transfer),
	C(SEND_FINISH, sev_cmd_handle),
	C(SEND_CANCEL, sev_cmd_handle),
	C(RECEIVE_START, sev_cmd_receive_start),
	C(RECEIVE_UPDATE_DATA, sev_cmd_transfer),
	C(RECEIVE_UPDATE_VMSA, sev_cmd_transfer),
	C(RECEIVE_FINISH, sev_cmd_handle),
	C(DBG_DECRYPT, sev_cmd_dbg),
	C(DBG_ENCRYPT, sev_cmd_dbg),
	C(SWAP_OUT, sev_cmd_swap_out),
	C(SWAP_IN, sev_cmd_swap_in),
#undef C
#undef C0
	/* SNP (56860): sizes from Linux include/linux/psp-sev.h and AMD-ASPFW sev_mcmd.h
	 * (snp_mcmd_*_t); the structs are in sev-abi.h's SNP section where the emulator
	 * models the command, plain sizes where it does not. */
#define S(id, t) [SEV_CMD_##id] = { #id, (int)sizeof(struct t) }
#define Z(id, n) [SEV_CMD_##id] = { #id, n }
	Z(SNP_INIT, 0),
	Z(SNP_SHUTDOWN, 0),
	S(SNP_PLATFORM_STATUS, sev_snp_cmd_addr),
	Z(SNP_DF_FLUSH, 0),
	S(SNP_INIT_EX, sev_snp_cmd_init_ex),
	S(SNP_SHUTDOWN_EX, sev_snp_cmd_shutdown_ex),
	S(SNP_DECOMMISSION, sev_snp_cmd_addr),
	S(SNP_ACTIVATE, sev_snp_cmd_activate),
	S(SNP_GUEST_STATUS, sev_snp_cmd_guest_status),
	S(SNP_GCTX_CREATE, sev_snp_cmd_addr),
	S(SNP_GUEST_REQUEST, sev_snp_cmd_guest_request),
	Z(SNP_ACTIVATE_EX, 32),
	S(SNP_LAUNCH_START, sev_snp_cmd_launch_start),
	S(SNP_LAUNCH_UPDATE, sev_snp_cmd_launch_update),
	S(SNP_LAUNCH_FINISH, sev_snp_cmd_launch_finish),
	S(SNP_DBG_DECRYPT, sev_snp_cmd_dbg),
	S(SNP_DBG_ENCRYPT, sev_snp_cmd_dbg),
	Z(SNP_PAGE_SWAP_OUT, 48),
	Z(SNP_PAGE_SWAP_IN, 48),
	Z(SNP_PAGE_MOVE, 32),
	Z(SNP_PAGE_MD_INIT, 16),
	Z(SNP_PAGE_SET_STATE, 16),
	S(SNP_PAGE_RECLAIM, sev_snp_cmd_addr),
	S(SNP_PAGE_UNSMASH, sev_snp_cmd_addr),
	S(SNP_CONFIG, sev_snp_cmd_config),
	Z(SNP_DOWNLOAD_FIRMWARE_EX, 24),
	S(SNP_COMMIT, sev_snp_cmd_commit),
	S(SNP_VLEK_LOAD, sev_snp_cmd_vlek_load),
	S(SNP_FEATURE_INFO, sev_snp_cmd_feature_info),
#undef S
#undef Z
};

const char *sev_cmd_name(uint32_t cmd)
{
	return cmd < ELEMENTSOF(cmd_rows) ? cmd_rows[cmd].name : NULL;
}

int sev_cmd_buffer_size(uint32_t cmd)
{
	if (cmd >= ELEMENTSOF(cmd_rows) || !cmd_rows[cmd].name)
		return -1;
	return cmd_rows[cmd].size;
}

const char *sev_platform_state_name(int state)
{
	static const char *const names[] = { "UNINIT", "INIT", "WORKING" };
	return state >= 0 && state < (int)ELEMENTSOF(names) ? names[state] : "UNKNOWN";
}

const char *sev_guest_state_name(int state)
{
	static const char *const names[] = { "UNINIT",	"LUPDATE", "LSECRET", "RUNNING",
					     "SUPDATE", "RUPDATE", "SENT" };
	return state >= 0 && state < (int)ELEMENTSOF(names) ? names[state] : "UNKNOWN";
}

const struct sev_snp_policy_bit sev_snp_policy_bits[] = {
	{SEV_SNP_POLICY_SMT, "SMT"},
	{SEV_SNP_POLICY_MIGRATE_MA, "MIGRATE_MA"},
	{SEV_SNP_POLICY_DEBUG, "DEBUG"},
	{SEV_SNP_POLICY_SINGLE_SOCKET, "SINGLE_SOCKET"},
	{SEV_SNP_POLICY_CXL_ALLOW, "CXL_ALLOW"},
	{SEV_SNP_POLICY_MEM_AES_256_XTS, "MEM_AES_256_XTS"},
	{SEV_SNP_POLICY_RAPL_DIS, "RAPL_DIS"},
	{SEV_SNP_POLICY_CIPHERTEXT_HIDING, "CIPHERTEXT_HIDING"},
	{SEV_SNP_POLICY_PAGE_SWAP_DISABLE, "PAGE_SWAP_DISABLE"},
};
const size_t sev_snp_policy_bits_n = ELEMENTSOF(sev_snp_policy_bits);
