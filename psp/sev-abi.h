/* The SEV firmware ABI: command ids, status codes, states, policy bits and command buffers,
 * byte for byte as AMD's "Secure Encrypted Virtualization API" (doc 55766) defines them and
 * Linux include/linux/psp-sev.h carries them. Every size and offset is pinned below.
 * Addresses in command buffers are "system physical addresses" to firmware; through the
 * transports they are what psp_dma_alloc() / psp_map_memfd() hand out (see transport.h). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* ---- command ids (SEV API §4-§6; SNP ABI 56860 chapter 8) ---- */
enum sev_cmd {
	SEV_CMD_INIT = 0x001,
	SEV_CMD_SHUTDOWN = 0x002,
	SEV_CMD_FACTORY_RESET = 0x003, /* a.k.a. PLATFORM_RESET */
	SEV_CMD_PLATFORM_STATUS = 0x004,
	SEV_CMD_PEK_GEN = 0x005,
	SEV_CMD_PEK_CSR = 0x006,
	SEV_CMD_PEK_CERT_IMPORT = 0x007,
	SEV_CMD_PDH_CERT_EXPORT = 0x008,
	SEV_CMD_PDH_GEN = 0x009,
	SEV_CMD_DF_FLUSH = 0x00A,
	SEV_CMD_DOWNLOAD_FIRMWARE = 0x00B,
	SEV_CMD_GET_ID = 0x00C,
	SEV_CMD_INIT_EX = 0x00D,
	SEV_CMD_NOP = 0x00E,	     /* AMD-ASPFW sev_mcmd.h SEV_MCMD_ID_NOP; no buffer */
	SEV_CMD_RING_BUFFER = 0x00F, /* SEV_MCMD_ID_RING_BUFFER (the emulator has no ring) */

	SEV_CMD_DECOMMISSION = 0x020,
	SEV_CMD_ACTIVATE = 0x021,
	SEV_CMD_DEACTIVATE = 0x022,
	SEV_CMD_GUEST_STATUS = 0x023,
	SEV_CMD_COPY = 0x024,	     /* SEV_MCMD_ID_COPY: move encrypted guest pages */
	SEV_CMD_ACTIVATE_EX = 0x025, /* SEV_MCMD_ID_ACTIVATE_EX: ACTIVATE on chosen CCXs */

	SEV_CMD_LAUNCH_START = 0x030,
	SEV_CMD_LAUNCH_UPDATE_DATA = 0x031,
	SEV_CMD_LAUNCH_UPDATE_VMSA = 0x032,
	SEV_CMD_LAUNCH_MEASURE = 0x033,
	SEV_CMD_LAUNCH_UPDATE_SECRET = 0x034,
	SEV_CMD_LAUNCH_FINISH = 0x035,
	SEV_CMD_ATTESTATION = 0x036,

	SEV_CMD_SEND_START = 0x040,
	SEV_CMD_SEND_UPDATE_DATA = 0x041,
	SEV_CMD_SEND_UPDATE_VMSA = 0x042,
	SEV_CMD_SEND_FINISH = 0x043,
	SEV_CMD_SEND_CANCEL = 0x044,

	SEV_CMD_RECEIVE_START = 0x050,
	SEV_CMD_RECEIVE_UPDATE_DATA = 0x051,
	SEV_CMD_RECEIVE_UPDATE_VMSA = 0x052,
	SEV_CMD_RECEIVE_FINISH = 0x053,

	SEV_CMD_DBG_DECRYPT = 0x060,
	SEV_CMD_DBG_ENCRYPT = 0x061,

	SEV_CMD_SWAP_OUT = 0x070, /* SEV_MCMD_ID_SWAP_OUT / SWAP_IN: page swapping (not modelled) */
	SEV_CMD_SWAP_IN = 0x071,

	/* SEV-SNP (56860): listed for naming; the emulator answers INVALID_COMMAND for now. */
	SEV_CMD_SNP_INIT = 0x081,
	SEV_CMD_SNP_SHUTDOWN = 0x082,
	SEV_CMD_SNP_PLATFORM_STATUS = 0x083,
	SEV_CMD_SNP_DF_FLUSH = 0x084,
	SEV_CMD_SNP_INIT_EX = 0x085,
	SEV_CMD_SNP_SHUTDOWN_EX = 0x086,
	SEV_CMD_SNP_DECOMMISSION = 0x090,
	SEV_CMD_SNP_ACTIVATE = 0x091,
	SEV_CMD_SNP_GUEST_STATUS = 0x092,
	SEV_CMD_SNP_GCTX_CREATE = 0x093,
	SEV_CMD_SNP_GUEST_REQUEST = 0x094,
	SEV_CMD_SNP_ACTIVATE_EX = 0x095,
	SEV_CMD_SNP_LAUNCH_START = 0x0A0,
	SEV_CMD_SNP_LAUNCH_UPDATE = 0x0A1,
	SEV_CMD_SNP_LAUNCH_FINISH = 0x0A2,
	SEV_CMD_SNP_DBG_DECRYPT = 0x0B0,
	SEV_CMD_SNP_DBG_ENCRYPT = 0x0B1,
	SEV_CMD_SNP_PAGE_SWAP_OUT = 0x0C0,
	SEV_CMD_SNP_PAGE_SWAP_IN = 0x0C1,
	SEV_CMD_SNP_PAGE_MOVE = 0x0C2,
	SEV_CMD_SNP_PAGE_MD_INIT = 0x0C3,
	SEV_CMD_SNP_PAGE_SET_STATE = 0x0C6,
	SEV_CMD_SNP_PAGE_RECLAIM = 0x0C7,
	SEV_CMD_SNP_PAGE_UNSMASH = 0x0C8,
	SEV_CMD_SNP_CONFIG = 0x0C9,
	SEV_CMD_SNP_DOWNLOAD_FIRMWARE_EX = 0x0CA,
	SEV_CMD_SNP_COMMIT = 0x0CB,
	SEV_CMD_SNP_VLEK_LOAD = 0x0CD,
	SEV_CMD_SNP_FEATURE_INFO = 0x0CE,

	SEV_CMD_MAX_ = 0x100,
};

/* ---- status codes (SEV API table "Status Codes"; SNP ABI adds 0x19..0x27) ---- */
enum sev_status {
	SEV_STATUS_SUCCESS = 0x00,
	SEV_STATUS_INVALID_PLATFORM_STATE = 0x01,
	SEV_STATUS_INVALID_GUEST_STATE = 0x02,
	SEV_STATUS_INVALID_CONFIG = 0x03,
	SEV_STATUS_INVALID_LEN = 0x04,
	SEV_STATUS_ALREADY_OWNED = 0x05,
	SEV_STATUS_INVALID_CERTIFICATE = 0x06,
	SEV_STATUS_POLICY_FAILURE = 0x07,
	SEV_STATUS_INACTIVE = 0x08,
	SEV_STATUS_INVALID_ADDRESS = 0x09,
	SEV_STATUS_BAD_SIGNATURE = 0x0A,
	SEV_STATUS_BAD_MEASUREMENT = 0x0B,
	SEV_STATUS_ASID_OWNED = 0x0C,
	SEV_STATUS_INVALID_ASID = 0x0D,
	SEV_STATUS_WBINVD_REQUIRED = 0x0E,
	SEV_STATUS_DFFLUSH_REQUIRED = 0x0F,
	SEV_STATUS_INVALID_GUEST = 0x10,
	SEV_STATUS_INVALID_COMMAND = 0x11,
	SEV_STATUS_ACTIVE = 0x12,
	SEV_STATUS_HWERROR_PLATFORM = 0x13,
	SEV_STATUS_HWERROR_UNSAFE = 0x14,
	SEV_STATUS_UNSUPPORTED = 0x15,
	SEV_STATUS_INVALID_PARAM = 0x16,
	SEV_STATUS_RESOURCE_LIMIT = 0x17,
	SEV_STATUS_SECURE_DATA_INVALID = 0x18,
	SEV_STATUS_INVALID_PAGE_SIZE = 0x19,
	SEV_STATUS_INVALID_PAGE_STATE = 0x1A,
	SEV_STATUS_INVALID_MDATA_ENTRY = 0x1B,
	SEV_STATUS_INVALID_PAGE_OWNER = 0x1C,
	SEV_STATUS_AEAD_OFLOW = 0x1D,
	SEV_STATUS_EXIT_RING_BUFFER = 0x1F,
	SEV_STATUS_RMP_INIT_REQUIRED = 0x20,
	SEV_STATUS_BAD_SVN = 0x21,
	SEV_STATUS_BAD_VERSION = 0x22,
	SEV_STATUS_SHUTDOWN_REQUIRED = 0x23,
	SEV_STATUS_UPDATE_FAILED = 0x24,
	SEV_STATUS_RESTORE_REQUIRED = 0x25,
	SEV_STATUS_RMP_INITIALIZATION_FAILED = 0x26,
	SEV_STATUS_INVALID_KEY = 0x27,
	SEV_STATUS_MAX_,
};
/* Not a firmware code: the command never reached firmware (Linux SEV_RET_NO_FW_CALL). */
#define SEV_STATUS_NO_FW_CALL (-1)

/* Name ("INVALID_GUEST_STATE") and one-line meaning of a status; unknown codes get
 * "UNKNOWN_STATUS_0x%x"-style text from sev_status_to_string_buf(). Defined in sev-status.c. */
const char *sev_status_name(int status);
const char *sev_status_meaning(int status);
/* Name of a command id ("LAUNCH_START"), or NULL when the id is not a command. */
const char *sev_cmd_name(uint32_t cmd);

/* ---- platform and guest states ---- */
enum sev_platform_state {
	SEV_PSTATE_UNINIT = 0,
	SEV_PSTATE_INIT = 1,
	SEV_PSTATE_WORKING = 2,
};
enum sev_guest_state {
	SEV_GSTATE_UNINIT = 0,
	SEV_GSTATE_LUPDATE = 1,
	SEV_GSTATE_LSECRET = 2,
	SEV_GSTATE_RUNNING = 3,
	SEV_GSTATE_SUPDATE = 4,
	SEV_GSTATE_RUPDATE = 5,
	SEV_GSTATE_SENT = 6,
};
const char *sev_platform_state_name(int state);
const char *sev_guest_state_name(int state);

/* ---- guest policy (SEV API §3 "Guest Policy") ---- */
#define SEV_POLICY_NODBG (1u << 0)
#define SEV_POLICY_NOKS (1u << 1)
#define SEV_POLICY_ES (1u << 2)
#define SEV_POLICY_NOSEND (1u << 3)
#define SEV_POLICY_DOMAIN (1u << 4)
#define SEV_POLICY_SEV (1u << 5)
#define SEV_POLICY_API_MAJOR(p) (((p) >> 16) & 0xff)
#define SEV_POLICY_API_MINOR(p) (((p) >> 24) & 0xff)

/* ---- PLATFORM_STATUS flags ---- */
#define SEV_PLATFORM_FLAG_OWNER 0x0001u  /* bit 0 at offset 3: externally owned */
#define SEV_PLATFORM_FLAG_CONFIG_ES 0x0100u /* bit 0 of CONFIG at offset 4: SEV-ES initialized */

#define SEV_INIT_FLAGS_SEV_ES 0x01u

/* ---- sizes of the blobs commands move ---- */
#define SEV_CERT_SIZE 0x824u		  /* one SEV certificate */
#define SEV_CERT_CHAIN_SIZE (3 * SEV_CERT_SIZE) /* PDH_CERT_EXPORT chain: PEK ‖ OCA ‖ CEK */
#define SEV_GET_ID_SIZE 64u		  /* one socket's ID; GET_ID returns two */
#define SEV_MEASURE_SIZE 32u		  /* LAUNCH_MEASURE: MEASURE ‖ MNONCE */
#define SEV_MNONCE_SIZE 16u
#define SEV_MEASURE_BLOB_SIZE (SEV_MEASURE_SIZE + SEV_MNONCE_SIZE)
#define SEV_SECRET_HDR_SIZE 52u		  /* flags u32 ‖ iv[16] ‖ mac[32] */
#define SEV_ATTESTATION_REPORT_SIZE 0xD0u
#define SEV_FW_BLOB_MAX_SIZE 0x4000u	  /* Linux caps user blobs at 16 KiB */
#define SEV_VMSA_SIZE 4096u
#define SEV_PAGE_SIZE 4096u

/* ---- command buffers (all packed, little-endian) ---- */
#define SEV_PACKED __attribute__((packed))

struct sev_cmd_init { /* INIT 0x01 */
	uint32_t flags;
	uint32_t reserved;
	uint64_t tmr_paddr;
	uint32_t tmr_len;
} SEV_PACKED;

struct sev_cmd_init_ex { /* INIT_EX 0x0D */
	uint32_t length;
	uint32_t flags;
	uint64_t tmr_paddr;
	uint32_t tmr_len;
	uint32_t reserved;
	uint64_t nv_paddr;
	uint32_t nv_len;
} SEV_PACKED;

struct sev_cmd_platform_status { /* PLATFORM_STATUS 0x04 */
	uint8_t api_major;
	uint8_t api_minor;
	uint8_t state;
	uint32_t flags; /* bit 0 OWNER; bit 8 CONFIG.ES */
	uint8_t build;
	uint32_t guest_count;
} SEV_PACKED;

struct sev_cmd_pek_csr { /* PEK_CSR 0x06 */
	uint64_t address;
	uint32_t len; /* in: buffer size; out: needed / written size */
} SEV_PACKED;

struct sev_cmd_pek_cert_import { /* PEK_CERT_IMPORT 0x07 */
	uint64_t pek_cert_address;
	uint32_t pek_cert_len;
	uint32_t reserved;
	uint64_t oca_cert_address;
	uint32_t oca_cert_len;
} SEV_PACKED;

struct sev_cmd_pdh_cert_export { /* PDH_CERT_EXPORT 0x08 */
	uint64_t pdh_cert_address;
	uint32_t pdh_cert_len;
	uint32_t reserved;
	uint64_t cert_chain_address;
	uint32_t cert_chain_len;
} SEV_PACKED;

struct sev_cmd_download_firmware { /* DOWNLOAD_FIRMWARE 0x0B */
	uint64_t address;
	uint32_t len;
} SEV_PACKED;

struct sev_cmd_get_id { /* GET_ID 0x0C */
	uint64_t address;
	uint32_t len;
} SEV_PACKED;

/* RING_BUFFER 0x0F (AMD-ASPFW sev_mcmd.h sev_mcmd_ring_buffer_t, 0x28 bytes). */
struct sev_cmd_ring_buffer {
	uint64_t low_cmd_address;
	uint64_t low_status_address;
	uint64_t high_cmd_address;
	uint64_t high_status_address;
	uint8_t low_queue_size; /* pages: 1 */
	uint8_t high_queue_size; /* pages: 0 or 1 */
	uint16_t low_threshold;
	uint16_t high_threshold;
	uint16_t int_on_empty;
} SEV_PACKED;

struct sev_cmd_handle { /* DECOMMISSION 0x20, DEACTIVATE 0x22, LAUNCH_FINISH 0x35, SEND_FINISH, ... */
	uint32_t handle;
} SEV_PACKED;

struct sev_cmd_activate { /* ACTIVATE 0x21 */
	uint32_t handle;
	uint32_t asid;
} SEV_PACKED;

struct sev_cmd_guest_status { /* GUEST_STATUS 0x23 */
	uint32_t handle;
	uint32_t policy;
	uint32_t asid;
	uint8_t state;
} SEV_PACKED;

struct sev_cmd_copy { /* COPY 0x24 (sev_mcmd_copy_t) */
	uint32_t handle;
	uint32_t len; /* bytes, a multiple of 4096 */
	uint64_t src_addr;
	uint64_t dst_addr;
} SEV_PACKED;

struct sev_cmd_activate_ex { /* ACTIVATE_EX 0x25 (sev_mcmd_activate_ex_t) */
	uint32_t length; /* of this buffer: 24 */
	uint32_t handle;
	uint32_t asid;
	uint32_t num_ids; /* APIC IDs at ids_address (u32 each), 1..APIC_ID_LIST_MAX_CNT */
	uint64_t ids_address;
} SEV_PACKED;

struct sev_cmd_launch_start { /* LAUNCH_START 0x30 */
	uint32_t handle; /* in: 0 = new context; out: the new handle */
	uint32_t policy;
	uint64_t dh_cert_address;
	uint32_t dh_cert_len;
	uint32_t reserved;
	uint64_t session_address;
	uint32_t session_len;
} SEV_PACKED;

struct sev_cmd_launch_update { /* LAUNCH_UPDATE_DATA 0x31, LAUNCH_UPDATE_VMSA 0x32 */
	uint32_t handle;
	uint32_t reserved;
	uint64_t address;
	uint32_t len;
} SEV_PACKED;

struct sev_cmd_launch_measure { /* LAUNCH_MEASURE 0x33 */
	uint32_t handle;
	uint32_t reserved;
	uint64_t address;
	uint32_t len;
} SEV_PACKED;

struct sev_cmd_launch_secret { /* LAUNCH_UPDATE_SECRET 0x34 */
	uint32_t handle;
	uint32_t reserved1;
	uint64_t hdr_address;
	uint32_t hdr_len;
	uint32_t reserved2;
	uint64_t guest_address;
	uint32_t guest_len;
	uint32_t reserved3;
	uint64_t trans_address;
	uint32_t trans_len;
} SEV_PACKED;

struct sev_cmd_attestation { /* ATTESTATION 0x36 */
	uint32_t handle;
	uint32_t reserved;
	uint64_t address;
	uint8_t mnonce[16];
	uint32_t len;
} SEV_PACKED;

struct sev_cmd_send_start { /* SEND_START 0x40 */
	uint32_t handle;
	uint32_t policy;
	uint64_t pdh_cert_address;
	uint32_t pdh_cert_len;
	uint32_t reserved1;
	uint64_t plat_certs_address;
	uint32_t plat_certs_len;
	uint32_t reserved2;
	uint64_t amd_certs_address;
	uint32_t amd_certs_len;
	uint32_t reserved3;
	uint64_t session_address;
	uint32_t session_len;
} SEV_PACKED;

struct sev_cmd_transfer { /* SEND_UPDATE_DATA/VMSA 0x41/0x42, RECEIVE_UPDATE_DATA/VMSA 0x51/0x52 */
	uint32_t handle;
	uint32_t reserved1;
	uint64_t hdr_address;
	uint32_t hdr_len;
	uint32_t reserved2;
	uint64_t guest_address;
	uint32_t guest_len;
	uint32_t reserved3;
	uint64_t trans_address;
	uint32_t trans_len;
} SEV_PACKED;

struct sev_cmd_receive_start { /* RECEIVE_START 0x50 */
	uint32_t handle;
	uint32_t policy;
	uint64_t pdh_cert_address;
	uint32_t pdh_cert_len;
	uint32_t reserved1;
	uint64_t session_address;
	uint32_t session_len;
} SEV_PACKED;

struct sev_cmd_dbg { /* DBG_DECRYPT 0x60, DBG_ENCRYPT 0x61 */
	uint32_t handle;
	uint32_t reserved;
	uint64_t src_addr;
	uint64_t dst_addr;
	uint32_t len;
} SEV_PACKED;

struct sev_cmd_swap_out { /* SWAP_OUT 0x70 (sev_mcmd_swap_out_t) */
	uint32_t handle;
	uint32_t flags; /* bit 0 page size (2 MiB), bits 1-2 page type (2 = VMSA) */
	uint64_t src_addr;
	uint64_t dst_addr;
	uint64_t mdata_address;
	uint64_t software_data;
} SEV_PACKED;

struct sev_cmd_swap_in { /* SWAP_IN 0x71 (sev_mcmd_swap_in_t) */
	uint32_t handle;
	uint32_t flags; /* as SWAP_OUT, bit 3 swap in place */
	uint64_t src_addr;
	uint64_t dst_addr;
	uint64_t mdata_address;
} SEV_PACKED;

/* LAUNCH_START session blob (SEV API §6.2, "Session Data"): 0x80 bytes. */
struct sev_session_blob {
	uint8_t nonce[16];
	uint8_t wrap_tk[32]; /* AES-128-CTR(KEK, wrap_iv, TEK ‖ TIK) */
	uint8_t wrap_iv[16];
	uint8_t wrap_mac[32]; /* HMAC-SHA256(KIK, wrap_tk) */
	uint8_t policy_mac[32]; /* HMAC-SHA256(TIK, policy_le32) */
} SEV_PACKED;

/* LAUNCH_SECRET packet header (SEV API §6.6): 52 bytes. */
struct sev_secret_header {
	uint32_t flags;
	uint8_t iv[16];
	uint8_t mac[32];
} SEV_PACKED;

/* Legacy ATTESTATION report (SEV API §6.8): 0xD0 bytes, ECDSA P-384 by the PEK over SHA-256 of
 * bytes [0, 0x34). */
struct sev_attestation_report {
	uint8_t mnonce[16];
	uint8_t launch_digest[32];
	uint32_t policy;
	uint32_t sig_usage;
	uint32_t sig_algo;
	uint32_t reserved;
	uint8_t sig_r[72]; /* little-endian */
	uint8_t sig_s[72];
} SEV_PACKED;
#define SEV_ATTESTATION_SIGNED_LEN 0x34u

/* Size of the command buffer of each command id, 0 for commands without one, -1 for ids
 * that are not commands. One table (sev-status.c), as Linux's sev_cmd_buffer_len(). */
int sev_cmd_buffer_size(uint32_t cmd);

/* ---- pinned layouts ---- */
#define SEV_ASSERT_SIZE(t, n) _Static_assert(sizeof(struct t) == (n), #t " must be " #n " bytes")
#define SEV_ASSERT_OFF(t, f, o) _Static_assert(offsetof(struct t, f) == (o), #t "." #f " at " #o)

SEV_ASSERT_SIZE(sev_cmd_init, 20);
SEV_ASSERT_OFF(sev_cmd_init, tmr_paddr, 8);
SEV_ASSERT_OFF(sev_cmd_init, tmr_len, 16);
SEV_ASSERT_SIZE(sev_cmd_init_ex, 36);
SEV_ASSERT_OFF(sev_cmd_init_ex, nv_paddr, 24);
SEV_ASSERT_OFF(sev_cmd_init_ex, nv_len, 32);
SEV_ASSERT_SIZE(sev_cmd_platform_status, 12);
SEV_ASSERT_OFF(sev_cmd_platform_status, state, 2);
SEV_ASSERT_OFF(sev_cmd_platform_status, flags, 3);
SEV_ASSERT_OFF(sev_cmd_platform_status, build, 7);
SEV_ASSERT_OFF(sev_cmd_platform_status, guest_count, 8);
SEV_ASSERT_SIZE(sev_cmd_pek_csr, 12);
SEV_ASSERT_OFF(sev_cmd_pek_csr, len, 8);
SEV_ASSERT_SIZE(sev_cmd_pek_cert_import, 28);
SEV_ASSERT_OFF(sev_cmd_pek_cert_import, oca_cert_address, 16);
SEV_ASSERT_OFF(sev_cmd_pek_cert_import, oca_cert_len, 24);
SEV_ASSERT_SIZE(sev_cmd_pdh_cert_export, 28);
SEV_ASSERT_OFF(sev_cmd_pdh_cert_export, cert_chain_address, 16);
SEV_ASSERT_OFF(sev_cmd_pdh_cert_export, cert_chain_len, 24);
SEV_ASSERT_SIZE(sev_cmd_download_firmware, 12);
SEV_ASSERT_SIZE(sev_cmd_get_id, 12);
SEV_ASSERT_SIZE(sev_cmd_ring_buffer, 0x28);
SEV_ASSERT_OFF(sev_cmd_ring_buffer, low_queue_size, 32);
SEV_ASSERT_SIZE(sev_cmd_handle, 4);
SEV_ASSERT_SIZE(sev_cmd_activate, 8);
SEV_ASSERT_OFF(sev_cmd_activate, asid, 4);
SEV_ASSERT_SIZE(sev_cmd_guest_status, 13);
SEV_ASSERT_OFF(sev_cmd_guest_status, state, 12);
SEV_ASSERT_SIZE(sev_cmd_copy, 24);
SEV_ASSERT_OFF(sev_cmd_copy, src_addr, 8);
SEV_ASSERT_SIZE(sev_cmd_activate_ex, 24);
SEV_ASSERT_OFF(sev_cmd_activate_ex, ids_address, 16);
SEV_ASSERT_SIZE(sev_cmd_launch_start, 36);
SEV_ASSERT_OFF(sev_cmd_launch_start, dh_cert_address, 8);
SEV_ASSERT_OFF(sev_cmd_launch_start, session_address, 24);
SEV_ASSERT_OFF(sev_cmd_launch_start, session_len, 32);
SEV_ASSERT_SIZE(sev_cmd_launch_update, 20);
SEV_ASSERT_OFF(sev_cmd_launch_update, address, 8);
SEV_ASSERT_OFF(sev_cmd_launch_update, len, 16);
SEV_ASSERT_SIZE(sev_cmd_launch_measure, 20);
SEV_ASSERT_SIZE(sev_cmd_launch_secret, 52);
SEV_ASSERT_OFF(sev_cmd_launch_secret, hdr_address, 8);
SEV_ASSERT_OFF(sev_cmd_launch_secret, guest_address, 24);
SEV_ASSERT_OFF(sev_cmd_launch_secret, trans_address, 40);
SEV_ASSERT_OFF(sev_cmd_launch_secret, trans_len, 48);
SEV_ASSERT_SIZE(sev_cmd_attestation, 36);
SEV_ASSERT_OFF(sev_cmd_attestation, mnonce, 16);
SEV_ASSERT_OFF(sev_cmd_attestation, len, 32);
SEV_ASSERT_SIZE(sev_cmd_send_start, 68);
SEV_ASSERT_OFF(sev_cmd_send_start, session_len, 64);
SEV_ASSERT_SIZE(sev_cmd_transfer, 52);
SEV_ASSERT_SIZE(sev_cmd_receive_start, 36);
SEV_ASSERT_SIZE(sev_cmd_dbg, 28);
SEV_ASSERT_OFF(sev_cmd_dbg, dst_addr, 16);
SEV_ASSERT_SIZE(sev_cmd_swap_out, 40);
SEV_ASSERT_OFF(sev_cmd_swap_out, software_data, 32);
SEV_ASSERT_SIZE(sev_cmd_swap_in, 32);
SEV_ASSERT_SIZE(sev_session_blob, 0x80);
SEV_ASSERT_OFF(sev_session_blob, wrap_iv, 0x30);
SEV_ASSERT_OFF(sev_session_blob, policy_mac, 0x60);
SEV_ASSERT_SIZE(sev_secret_header, SEV_SECRET_HDR_SIZE);
SEV_ASSERT_SIZE(sev_attestation_report, SEV_ATTESTATION_REPORT_SIZE);
SEV_ASSERT_OFF(sev_attestation_report, policy, 0x30);
SEV_ASSERT_OFF(sev_attestation_report, sig_usage, 0x34);
SEV_ASSERT_OFF(sev_attestation_report, sig_r, 0x40);
