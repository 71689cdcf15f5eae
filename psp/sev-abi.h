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

	/* SEV-SNP (56860): buffers in the SNP section at the end; sev-psp-emu --snp serves them. */
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

/* Migration (SEV API §6.11-§6.18; AMD-ASPFW sev_mcmd.c sev_mcmd_send_* / sev_mcmd_receive_*,
 * sev_channel.c; KVM svm/sev.c sev_send_* / sev_receive_*). The source firmware opens the
 * channel as a client: fresh TEK, TIK and nonce, master = KDF(ECDH(own PDH, target PDH).x,
 * "sev-master-secret", nonce), KEK/KIK from it, and the session blob exactly as a guest owner
 * builds it for LAUNCH_START (struct sev_session_blob). RECEIVE_START opens that blob with the
 * target's PDH and the source's PDH certificate, as LAUNCH_START opens a GODH session.
 * SEND_START's plat_certs are PEK ‖ OCA ‖ CEK (PDH_CERT_EXPORT's chain), amd_certs ASK ‖ ARK;
 * with policy SEV the firmware verifies PDH ← PEK ← CEK ← ASK ← ARK and that the target's
 * PEK API version meets the policy minimum, with DOMAIN PDH ← PEK ← OCA and that OCA equals
 * its own; NOSEND refuses (POLICY_FAILURE). */
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

/* The transport command of SEND_UPDATE_DATA/VMSA and RECEIVE_UPDATE_DATA/VMSA, as firmware
 * reads it (AMD-ASPFW sev_mcmd.h sev_mcmd_transport_t: a reserved word at offset 4 in all
 * four). Linux's struct sev_data_send_update_vmsa lacks that word (48 bytes), a known
 * difference; the firmware's 52-byte layout is the one here. Each packet (data or one VMSA
 * page) is AES-128-CTR(TEK, iv) of the guest plaintext with a 52-byte header flags ‖ iv ‖ mac
 * (struct sev_packet_header), mac = HMAC-SHA256(TIK, 0x02 ‖ u32le flags ‖ iv ‖
 * u32le guest_len ‖ u32le trans_len ‖ ciphertext) (sev_channel.c sev_channel_hmac with
 * SEV_CHANNEL_CTX_DATA, aesctr_hmac256_encrypt: encrypt-then-MAC; the receiver checks the MAC
 * before it decrypts: BAD_MEASUREMENT). No compression: trans_len = guest_len. */
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

/* SEND_UPDATE_* / RECEIVE_UPDATE_* packet header (SEV API §6.12, AMD-ASPFW
 * sev_packet_header_t): the same 52 bytes as LAUNCH_SECRET's, under channel context 0x02. */
struct sev_packet_header {
	uint32_t flags; /* bit 0: compressed (firmware: UNSUPPORTED) */
	uint8_t iv[16];
	uint8_t mac[32];
} SEV_PACKED;
#define SEV_PACKET_HDR_SIZE 52u
#define SEV_CHANNEL_CTX_DATA 0x02u
#define SEV_PACKET_MAX_LEN 0x5000u /* guest_len ≤ the firmware's scratch (SEV_SCRATCH_BUF_LEN) */

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
SEV_ASSERT_OFF(sev_cmd_transfer, hdr_address, 8);
SEV_ASSERT_OFF(sev_cmd_transfer, guest_address, 24);
SEV_ASSERT_OFF(sev_cmd_transfer, trans_address, 40);
SEV_ASSERT_OFF(sev_cmd_receive_start, session_address, 24);
SEV_ASSERT_OFF(sev_cmd_send_start, plat_certs_address, 24);
SEV_ASSERT_OFF(sev_cmd_send_start, amd_certs_address, 40);
SEV_ASSERT_SIZE(sev_packet_header, SEV_PACKET_HDR_SIZE);
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

/* ======================================================================================== *
 * SEV-SNP (AMD "SEV Secure Nested Paging Firmware ABI Specification", doc 56860). Sources   *
 * for every fact below: Linux include/linux/psp-sev.h and include/uapi/linux/psp-sev.h      *
 * (command buffers, SNP_PLATFORM_STATUS, policy bits), AMD's open-source firmware           *
 * (github.com/amd/AMD-ASPFW sev_uapp/src: sev_mcmd.h command buffers and PAGE_INFO,          *
 * sev_rmp.h RMP states, guest message header, report and MSG_REPORT_REQ/RSP, sev_guest.h     *
 * policy bits, sev_plat.c the VCEK hash sticks), virtee/sev (src/measurement/gctx.rs launch  *
 * digest) and the real Milan report in ../shared/vectors/snp. Where the sources disagree,   *
 * the comment says which one is followed.                                                   *
 * ======================================================================================== */

/* SNP platform states (SNP_PLATFORM_STATUS.state; AMD-ASPFW sev_plat.h snp_state_t). */
enum sev_snp_platform_state {
	SEV_SNP_PSTATE_UNINIT = 0,
	SEV_SNP_PSTATE_INIT = 1,
};
/* SNP guest states (SNP_GUEST_STATUS.state; AMD-ASPFW sev_guest.h snp_guest_state_t). */
enum sev_snp_guest_state {
	SEV_SNP_GSTATE_INIT = 0,    /* after SNP_GCTX_CREATE */
	SEV_SNP_GSTATE_LAUNCH = 1,  /* after SNP_LAUNCH_START */
	SEV_SNP_GSTATE_RUNNING = 2, /* after SNP_LAUNCH_FINISH */
};

/* CPUID Fn8000_001F EAX bit 4: SEV-SNP supported. */
#define SEV_CPUID_EAX_SNP (1u << 4)

/* Guest policy, a u64 (ABI "Guest Policy"; AMD-ASPFW sev_guest.h, Linux psp-sev.h). Bits 21..25
 * are defined by ABI 1.55+ (CXL_ALLOW, MEM_AES_256_XTS, RAPL_DIS, CIPHERTEXT_HIDING,
 * PAGE_SWAP_DISABLE) and gated by SNP_FEATURE_INFO; the modelled firmware refuses them. */
#define SEV_SNP_POLICY_ABI_MINOR(p) ((uint8_t)((p) & 0xff))
#define SEV_SNP_POLICY_ABI_MAJOR(p) ((uint8_t)(((p) >> 8) & 0xff))
#define SEV_SNP_POLICY_SMT (1ull << 16)
#define SEV_SNP_POLICY_RSVD_MBO (1ull << 17) /* "VMPL": must be one */
#define SEV_SNP_POLICY_MIGRATE_MA (1ull << 18)
#define SEV_SNP_POLICY_DEBUG (1ull << 19)
#define SEV_SNP_POLICY_SINGLE_SOCKET (1ull << 20)
#define SEV_SNP_POLICY_CXL_ALLOW (1ull << 21)
#define SEV_SNP_POLICY_MEM_AES_256_XTS (1ull << 22)
#define SEV_SNP_POLICY_RAPL_DIS (1ull << 23)
#define SEV_SNP_POLICY_CIPHERTEXT_HIDING (1ull << 24)
#define SEV_SNP_POLICY_PAGE_SWAP_DISABLE (1ull << 25)
/* The flag bits above by name, in bit order of the guest JSON's decoded policy and of the
 * sevd.conf policy masks (sev-status.c). */
struct sev_snp_policy_bit {
	uint64_t bit;
	const char *name;
};
extern const struct sev_snp_policy_bit sev_snp_policy_bits[];
extern const size_t sev_snp_policy_bits_n;
#define SEV_SNP_POLICY_KNOWN_MASK ((1ull << 21) - 1) /* bits 0..20: ABI 1.51 (AMD-ASPFW) */

/* SNP_LAUNCH_UPDATE page types (Linux SNP_PAGE_TYPE_*, ABI table "PAGE_TYPE"). */
enum sev_snp_page_type {
	SEV_SNP_PAGE_NORMAL = 1,
	SEV_SNP_PAGE_VMSA = 2,
	SEV_SNP_PAGE_ZERO = 3,
	SEV_SNP_PAGE_UNMEASURED = 4,
	SEV_SNP_PAGE_SECRETS = 5,
	SEV_SNP_PAGE_CPUID = 6,
};
/* The GPA KVM records in the RMP for a vCPU's VMSA page (arch/x86/kvm/svm/sev.c
 * INITIAL_VMSA_GPA), which firmware then measures (virtee/sev gctx.rs VMSA_GPA). */
#define SEV_SNP_VMSA_GPA 0xFFFFFFFFF000ull

/* Generic one-address buffer: SNP_PLATFORM_STATUS, SNP_GCTX_CREATE, SNP_DECOMMISSION,
 * SNP_PAGE_RECLAIM (bit 0: 2 MiB page), SNP_PAGE_UNSMASH (Linux sev_data_snp_addr). */
struct sev_snp_cmd_addr {
	uint64_t address;
} SEV_PACKED;

/* SNP_PLATFORM_STATUS output, written to the page at `address` (uapi
 * sev_user_data_snp_status; AMD-ASPFW snp_platform_status_buffer_t). */
struct sev_snp_platform_status {
	uint8_t api_major;
	uint8_t api_minor;
	uint8_t state;
	uint8_t is_rmp_initialized; /* bit 0 */
	uint32_t build_id;
	uint32_t flags; /* SEV_SNP_STATUS_* */
	uint32_t guest_count;
	uint64_t current_tcb;
	uint64_t reported_tcb;
} SEV_PACKED;
#define SEV_SNP_STATUS_MASK_CHIP_ID (1u << 0)
#define SEV_SNP_STATUS_MASK_CHIP_KEY (1u << 1)
#define SEV_SNP_STATUS_VLEK_EN (1u << 2)
#define SEV_SNP_STATUS_FEATURE_INFO (1u << 3)

struct sev_snp_cmd_init_ex { /* SNP_INIT_EX 0x85 */
	uint32_t flags;	     /* SEV_SNP_INIT_* */
	uint32_t reserved1;
	uint64_t list_paddr; /* RANGE_LIST of pages to leave in the HV-fixed state */
	uint16_t max_snp_asid; /* ciphertext hiding (ABI 1.58); must be 0 here */
	uint8_t reserved2[46];
} SEV_PACKED;
#define SEV_SNP_INIT_INIT_RMP (1u << 0)
#define SEV_SNP_INIT_LIST_PADDR_EN (1u << 1)

struct sev_snp_cmd_shutdown_ex { /* SNP_SHUTDOWN_EX 0x86 */
	uint32_t length;	     /* must be 8 */
	uint32_t flags;		     /* SEV_SNP_SHUTDOWN_* */
} SEV_PACKED;
#define SEV_SNP_SHUTDOWN_IOMMU (1u << 0)
#define SEV_SNP_SHUTDOWN_X86 (1u << 1)

struct sev_snp_cmd_config { /* SNP_CONFIG 0xC9 (Linux SNP_SET_CONFIG) */
	uint64_t reported_tcb; /* 0: the committed TCB */
	uint32_t flags;	       /* bit 0 MASK_CHIP_ID, bit 1 MASK_CHIP_KEY */
	uint8_t reserved[52];
} SEV_PACKED;
#define SEV_SNP_CONFIG_MASK_CHIP_ID (1u << 0)
#define SEV_SNP_CONFIG_MASK_CHIP_KEY (1u << 1)

struct sev_snp_cmd_commit { /* SNP_COMMIT 0xCB */
	uint32_t length; /* must be 4 */
} SEV_PACKED;

struct sev_snp_cmd_vlek_load { /* SNP_VLEK_LOAD 0xCD */
	uint32_t length; /* must be 16 */
	uint8_t vlek_wrapped_version;
	uint8_t reserved[3];
	uint64_t vlek_wrapped_address;
} SEV_PACKED;

/* The wrapped VLEK hashstick SNP_VLEK_LOAD reads (AMD-ASPFW sev_rmp.h vlek_wrapped_t): AMD's
 * KDS wraps the eight 48-byte VLEK hash sticks with AES-256-GCM under a key only AMD and the
 * chip can derive (the SP 800-108 KDF, label "vlek-wrapping-key", over the chip's VCEK seed
 * for TCB_VERSION); AAD = TCB_VERSION ‖ the 8 reserved bytes. */
struct sev_snp_vlek_wrapped {
	uint8_t iv[12];
	uint8_t reserved[4];
	uint8_t vlek_wrapped[0x180];
	uint64_t tcb_version; /* must equal the reported TCB */
	uint8_t reserved2[8];
	uint8_t tag[16];
} SEV_PACKED;

struct sev_snp_cmd_feature_info { /* SNP_FEATURE_INFO 0xCE */
	uint32_t length; /* must be 16 */
	uint32_t ecx_in;
	uint64_t feature_info_address; /* 16 bytes: eax, ebx, ecx, edx */
} SEV_PACKED;

struct sev_snp_cmd_activate { /* SNP_ACTIVATE 0x91 */
	uint64_t gctx_paddr;
	uint32_t asid;
} SEV_PACKED;

struct sev_snp_cmd_guest_status { /* SNP_GUEST_STATUS 0x92 */
	uint64_t gctx_paddr;
	uint64_t status_paddr;
} SEV_PACKED;
struct sev_snp_guest_status { /* written to status_paddr (AMD-ASPFW snp_guest_status_buffer_t) */
	uint64_t policy;
	uint32_t asid;
	uint8_t state;
	uint8_t reserved[3];
	uint32_t flags; /* bit 0 VCEK_DIS */
	uint32_t reserved2;
	uint64_t reserved3;
} SEV_PACKED;

struct sev_snp_cmd_guest_request { /* SNP_GUEST_REQUEST 0x94 */
	uint64_t gctx_paddr;
	uint64_t req_paddr; /* the request message page (hypervisor memory) */
	uint64_t res_paddr; /* the response page: must be in the Firmware state */
} SEV_PACKED;

struct sev_snp_cmd_launch_start { /* SNP_LAUNCH_START 0xA0 */
	uint64_t gctx_paddr;
	uint64_t policy;
	uint64_t ma_gctx_paddr;
	uint32_t flags; /* bit 0 MA_EN, bit 1 IMI_EN */
	uint32_t desired_tsc_khz;
	uint8_t gosvw[16];
} SEV_PACKED;
#define SEV_SNP_START_MA_EN (1u << 0)
#define SEV_SNP_START_IMI_EN (1u << 1)

struct sev_snp_cmd_launch_update { /* SNP_LAUNCH_UPDATE 0xA1 */
	uint64_t gctx_paddr;
	uint32_t flags; /* bit 0 PAGE_SIZE (1 = 2 MiB), bits 3:1 PAGE_TYPE, bit 4 IMI_PAGE */
	uint32_t reserved;
	uint64_t address;
	uint32_t perms; /* bits 15:8 VMPL1, 23:16 VMPL2, 31:24 VMPL3 permissions */
	uint32_t reserved2;
} SEV_PACKED;
#define SEV_SNP_UPDATE_2M (1u << 0)
#define SEV_SNP_UPDATE_TYPE(f) (((f) >> 1) & 7u)
#define SEV_SNP_UPDATE_IMI (1u << 4)
#define SEV_SNP_UPDATE_FLAGS(type, big, imi)                                                       \
	(((uint32_t)(type) << 1) | ((big) ? SEV_SNP_UPDATE_2M : 0u) |                              \
	 ((imi) ? SEV_SNP_UPDATE_IMI : 0u))

struct sev_snp_cmd_launch_finish { /* SNP_LAUNCH_FINISH 0xA2 */
	uint64_t gctx_paddr;
	uint64_t id_block_paddr;
	uint64_t id_auth_paddr;
	uint64_t flags; /* bit 0 ID_BLOCK_EN, bit 1 AUTH_KEY_EN, bit 2 VCEK_DISABLED */
	uint8_t host_data[32];
} SEV_PACKED;
#define SEV_SNP_FINISH_ID_BLOCK_EN (1ull << 0)
#define SEV_SNP_FINISH_AUTH_KEY_EN (1ull << 1)
#define SEV_SNP_FINISH_VCEK_DISABLED (1ull << 2)

struct sev_snp_cmd_dbg { /* SNP_DBG_DECRYPT 0xB0, SNP_DBG_ENCRYPT 0xB1 */
	uint64_t gctx_paddr;
	uint64_t src_addr;
	uint64_t dst_addr;
} SEV_PACKED;

/* PAGE_INFO (ABI table "PAGE_INFO Structure"): each SNP_LAUNCH_UPDATE of a 4 KiB unit sets
 * LD := SHA-384(PAGE_INFO) with DIGEST_CUR = the previous LD (48 zero bytes at first) and
 * CONTENTS = SHA-384 of the page for NORMAL and VMSA, 48 zero bytes for the other types; GPA is
 * the one the RMP records for the page. The three VMPL permission bytes at 0x65..0x67: AMD-ASPFW
 * snp_mcmd_launch_update_page_info_t orders them reserved, VMPL1, VMPL2, VMPL3; virtee/sev's
 * gctx.rs writes VMPL3, VMPL2, VMPL1, 0 from 0x64. They only differ for non-zero permissions
 * (KVM passes none); the firmware's order is followed. */
struct sev_snp_page_info {
	uint8_t digest_cur[48];
	uint8_t contents[48];
	uint16_t length; /* 0x70 */
	uint8_t page_type;
	uint8_t imi_page; /* bit 0 */
	uint8_t reserved;
	uint8_t vmpl1_perms;
	uint8_t vmpl2_perms;
	uint8_t vmpl3_perms;
	uint64_t gpa;
} SEV_PACKED;

/* ID block (ABI table "ID Block", AMD-ASPFW snp_mcmd_launch_finish_id_block_t): 0x60 bytes,
 * signed by the ID key (ECDSA P-384 SHA-384). */
struct sev_snp_id_block {
	uint8_t ld[48];
	uint8_t family_id[16];
	uint8_t image_id[16];
	uint32_t version; /* 1 */
	uint32_t guest_svn;
	uint64_t policy;
} SEV_PACKED;

/* ID authentication information (AMD-ASPFW snp_mcmd_launch_finish_id_auth_page_t): 4 KiB.
 * Signatures are r[72] ‖ s[72] little-endian (then reserved to 0x200); public keys are
 * curve u32 (2 = P-384) ‖ qx[72] ‖ qy[72] little-endian (then reserved to 0x404). */
struct sev_snp_id_auth {
	uint32_t id_key_algo;	/* 1 = ECDSA P-384 with SHA-384 */
	uint32_t auth_key_algo; /* the same */
	uint8_t reserved[0x38];
	uint8_t id_block_sig[0x200];
	uint8_t id_key[0x404];
	uint8_t reserved2[0x3c];
	uint8_t id_key_sig[0x200];
	uint8_t author_key[0x404];
	uint8_t reserved3[0x37c];
} SEV_PACKED;

/* The secrets page firmware writes for PAGE_TYPE_SECRETS (ABI "PAGE_TYPE_SECRETS",
 * AMD-ASPFW snp_launch_update_secrets_page_t, edk2 SnpSecretsPage.h). Version 2 layout up to
 * 0x100 (version 3 adds the VMSA tweak bitmap at 0x100 and TSC_FACTOR at 0x160). */
struct sev_snp_secrets_page {
	uint32_t version;
	uint32_t flags; /* bit 0 IMI_EN */
	uint32_t fms;	/* family, model, stepping as CPUID Fn0000_0001 EAX */
	uint32_t reserved;
	uint8_t gosvw[16];
	uint8_t vmpck[4][32];
	uint8_t guest_os[0x60]; /* reserved for the guest OS (message sequence numbers, ...) */
	uint8_t vmsa_tweak_bitmap[0x40];
	uint8_t reserved2[0x20];
	uint32_t tsc_factor;
	uint8_t reserved3[0x1000 - 0x164];
} SEV_PACKED;

/* Guest message header (ABI "Message Header", AMD-ASPFW snp_guest_message_header_t): the
 * payload follows at 0x60. AES-256-GCM with the VMPCK named by msg_vmpck; IV = msg_seqno
 * (u64 little-endian) then 4 zero bytes; AAD = bytes 0x30..0x5F; the 16-byte tag at 0. */
struct sev_snp_msg_hdr {
	uint8_t authtag[32];
	uint64_t msg_seqno;
	uint8_t reserved[8];
	uint8_t algo;	     /* 1 = AES-256-GCM */
	uint8_t hdr_version; /* 1 */
	uint16_t hdr_size;   /* 0x60 */
	uint8_t msg_type;
	uint8_t msg_version;
	uint16_t msg_size;
	uint32_t reserved2;
	uint8_t msg_vmpck;
	uint8_t reserved3[35];
} SEV_PACKED;
#define SEV_SNP_MSG_AAD_OFFSET 0x30u
#define SEV_SNP_MSG_AAD_LEN 0x30u
#define SEV_SNP_AEAD_AES_256_GCM 1u
enum sev_snp_msg_type {
	SEV_SNP_MSG_CPUID_REQ = 1,
	SEV_SNP_MSG_CPUID_RSP = 2,
	SEV_SNP_MSG_KEY_REQ = 3,
	SEV_SNP_MSG_KEY_RSP = 4,
	SEV_SNP_MSG_REPORT_REQ = 5,
	SEV_SNP_MSG_REPORT_RSP = 6,
	SEV_SNP_MSG_EXPORT_REQ = 7,
	SEV_SNP_MSG_EXPORT_RSP = 8,
	SEV_SNP_MSG_IMPORT_REQ = 9,
	SEV_SNP_MSG_IMPORT_RSP = 10,
	SEV_SNP_MSG_ABSORB_REQ = 11,
	SEV_SNP_MSG_ABSORB_RSP = 12,
	SEV_SNP_MSG_VMRK_REQ = 13,
	SEV_SNP_MSG_VMRK_RSP = 14,
	SEV_SNP_MSG_ABSORB_NOMA_REQ = 15,
	SEV_SNP_MSG_ABSORB_NOMA_RSP = 16,
	SEV_SNP_MSG_TSC_INFO_REQ = 17,
	SEV_SNP_MSG_TSC_INFO_RSP = 18,
};

/* MSG_REPORT_REQ payload (AMD-ASPFW snp_msg_report_req_t; Linux snp_report_req). */
struct sev_snp_report_req {
	uint8_t report_data[64];
	uint32_t vmpl;
	uint32_t key_sel; /* bits 1:0: 0 VLEK if loaded else VCEK, 1 VCEK, 2 VLEK, 3 reserved */
	uint8_t reserved[0x18];
} SEV_PACKED;
#define SEV_SNP_KEY_SEL_MASK 3u

/* MSG_KEY_REQ payload (ABI table "MSG_KEY_REQ"; Linux uapi sev-guest.h snp_derived_key_req;
 * ABI 1.58 appends LAUNCH_MIT_VECTOR, not modelled). */
struct sev_snp_key_req {
	uint32_t flags; /* bit 0 ROOT_KEY_SELECT (1 = VMRK), bits 2:1 KEY_SEL */
	uint32_t reserved;
	uint64_t guest_field_select; /* bit 0 policy, 1 image id, 2 family id, 3 measurement,
					4 guest SVN, 5 TCB version, 6 launch mitigation vector */
	uint32_t vmpl;
	uint32_t guest_svn;
	uint64_t tcb_version;
} SEV_PACKED;
struct sev_snp_key_rsp {
	uint32_t status;
	uint8_t reserved[0x1c];
	uint8_t key[32];
} SEV_PACKED;

/* The attestation report (ABI table "ATTESTATION_REPORT Structure"; AMD-ASPFW
 * snp_attestation_report_t; SEV-FACTS §9; the real Milan report in shared/vectors/snp). */
struct sev_snp_report {
	uint32_t version;
	uint32_t guest_svn;
	uint64_t policy;
	uint8_t family_id[16];
	uint8_t image_id[16];
	uint32_t vmpl;
	uint32_t sig_algo; /* 1 = ECDSA P-384 with SHA-384 */
	uint64_t current_tcb;
	uint64_t platform_info; /* bit 0 SMT_EN, bit 1 TSME_EN */
	uint32_t key_info; /* bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY */
	uint32_t reserved;
	uint8_t report_data[64];
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint8_t id_key_digest[48];
	uint8_t author_key_digest[48];
	uint8_t report_id[32];
	uint8_t report_id_ma[32];
	uint64_t reported_tcb;
	uint8_t cpuid_fam_id; /* version 3 */
	uint8_t cpuid_mod_id;
	uint8_t cpuid_step;
	uint8_t reserved2[0x1a0 - 0x18b];
	uint8_t chip_id[64];
	uint64_t committed_tcb;
	uint8_t current_build, current_minor, current_major, reserved3;
	uint8_t committed_build, committed_minor, committed_major, reserved4;
	uint64_t launch_tcb;
	uint8_t reserved5[0x2a0 - 0x1f8];
	uint8_t sig_r[72]; /* little-endian */
	uint8_t sig_s[72];
	uint8_t reserved6[0x4a0 - 0x330];
} SEV_PACKED;
#define SEV_SNP_REPORT_SIGNED_LEN 0x2A0u
#define SEV_SNP_SIGNING_KEY_VCEK 0u
#define SEV_SNP_SIGNING_KEY_VLEK 1u
#define SEV_SNP_SIGNING_KEY_NONE 7u

/* MSG_REPORT_RSP payload (AMD-ASPFW snp_msg_report_rsp_t). */
struct sev_snp_report_rsp {
	uint32_t status;
	uint32_t report_size;
	uint8_t reserved[0x18];
	struct sev_snp_report report;
} SEV_PACKED;

SEV_ASSERT_SIZE(sev_snp_cmd_addr, 8);
SEV_ASSERT_SIZE(sev_snp_platform_status, 32);
SEV_ASSERT_OFF(sev_snp_platform_status, build_id, 4);
SEV_ASSERT_OFF(sev_snp_platform_status, flags, 8);
SEV_ASSERT_OFF(sev_snp_platform_status, guest_count, 12);
SEV_ASSERT_OFF(sev_snp_platform_status, current_tcb, 16);
SEV_ASSERT_OFF(sev_snp_platform_status, reported_tcb, 24);
SEV_ASSERT_SIZE(sev_snp_cmd_init_ex, 64);
SEV_ASSERT_OFF(sev_snp_cmd_init_ex, list_paddr, 8);
SEV_ASSERT_OFF(sev_snp_cmd_init_ex, max_snp_asid, 16);
SEV_ASSERT_SIZE(sev_snp_cmd_shutdown_ex, 8);
SEV_ASSERT_SIZE(sev_snp_cmd_config, 64);
SEV_ASSERT_OFF(sev_snp_cmd_config, flags, 8);
SEV_ASSERT_SIZE(sev_snp_cmd_commit, 4);
SEV_ASSERT_SIZE(sev_snp_cmd_vlek_load, 16);
SEV_ASSERT_OFF(sev_snp_cmd_vlek_load, vlek_wrapped_address, 8);
SEV_ASSERT_SIZE(sev_snp_cmd_feature_info, 16);
SEV_ASSERT_SIZE(sev_snp_vlek_wrapped, 0x1B0);
SEV_ASSERT_OFF(sev_snp_vlek_wrapped, vlek_wrapped, 0x10);
SEV_ASSERT_OFF(sev_snp_vlek_wrapped, tcb_version, 0x190);
SEV_ASSERT_OFF(sev_snp_vlek_wrapped, tag, 0x1A0);
SEV_ASSERT_SIZE(sev_snp_cmd_activate, 12);
SEV_ASSERT_SIZE(sev_snp_cmd_guest_status, 16);
SEV_ASSERT_SIZE(sev_snp_guest_status, 32);
SEV_ASSERT_OFF(sev_snp_guest_status, state, 12);
SEV_ASSERT_OFF(sev_snp_guest_status, flags, 16);
SEV_ASSERT_SIZE(sev_snp_cmd_guest_request, 24);
SEV_ASSERT_SIZE(sev_snp_cmd_launch_start, 48);
SEV_ASSERT_OFF(sev_snp_cmd_launch_start, flags, 24);
SEV_ASSERT_OFF(sev_snp_cmd_launch_start, gosvw, 32);
SEV_ASSERT_SIZE(sev_snp_cmd_launch_update, 32);
SEV_ASSERT_OFF(sev_snp_cmd_launch_update, address, 16);
SEV_ASSERT_OFF(sev_snp_cmd_launch_update, perms, 24);
SEV_ASSERT_SIZE(sev_snp_cmd_launch_finish, 64);
SEV_ASSERT_OFF(sev_snp_cmd_launch_finish, flags, 24);
SEV_ASSERT_OFF(sev_snp_cmd_launch_finish, host_data, 32);
SEV_ASSERT_SIZE(sev_snp_cmd_dbg, 24);
SEV_ASSERT_SIZE(sev_snp_page_info, 0x70);
SEV_ASSERT_OFF(sev_snp_page_info, contents, 0x30);
SEV_ASSERT_OFF(sev_snp_page_info, length, 0x60);
SEV_ASSERT_OFF(sev_snp_page_info, page_type, 0x62);
SEV_ASSERT_OFF(sev_snp_page_info, vmpl1_perms, 0x65);
SEV_ASSERT_OFF(sev_snp_page_info, gpa, 0x68);
SEV_ASSERT_SIZE(sev_snp_id_block, 0x60);
SEV_ASSERT_OFF(sev_snp_id_block, version, 0x50);
SEV_ASSERT_OFF(sev_snp_id_block, policy, 0x58);
SEV_ASSERT_SIZE(sev_snp_id_auth, 0x1000);
SEV_ASSERT_OFF(sev_snp_id_auth, id_block_sig, 0x40);
SEV_ASSERT_OFF(sev_snp_id_auth, id_key, 0x240);
SEV_ASSERT_OFF(sev_snp_id_auth, id_key_sig, 0x680);
SEV_ASSERT_OFF(sev_snp_id_auth, author_key, 0x880);
SEV_ASSERT_SIZE(sev_snp_secrets_page, 0x1000);
SEV_ASSERT_OFF(sev_snp_secrets_page, gosvw, 0x10);
SEV_ASSERT_OFF(sev_snp_secrets_page, vmpck, 0x20);
SEV_ASSERT_OFF(sev_snp_secrets_page, guest_os, 0xA0);
SEV_ASSERT_OFF(sev_snp_secrets_page, vmsa_tweak_bitmap, 0x100);
SEV_ASSERT_OFF(sev_snp_secrets_page, tsc_factor, 0x160);
SEV_ASSERT_SIZE(sev_snp_msg_hdr, 0x60);
SEV_ASSERT_OFF(sev_snp_msg_hdr, msg_seqno, 0x20);
SEV_ASSERT_OFF(sev_snp_msg_hdr, algo, SEV_SNP_MSG_AAD_OFFSET);
SEV_ASSERT_OFF(sev_snp_msg_hdr, msg_type, 0x34);
SEV_ASSERT_OFF(sev_snp_msg_hdr, msg_size, 0x36);
SEV_ASSERT_OFF(sev_snp_msg_hdr, msg_vmpck, 0x3C);
SEV_ASSERT_SIZE(sev_snp_report_req, 0x60);
SEV_ASSERT_OFF(sev_snp_report_req, vmpl, 0x40);
SEV_ASSERT_SIZE(sev_snp_key_req, 0x20);
SEV_ASSERT_OFF(sev_snp_key_req, guest_field_select, 8);
SEV_ASSERT_OFF(sev_snp_key_req, vmpl, 0x10);
SEV_ASSERT_OFF(sev_snp_key_req, tcb_version, 0x18);
SEV_ASSERT_SIZE(sev_snp_key_rsp, 0x40);
SEV_ASSERT_SIZE(sev_snp_report, 0x4A0);
SEV_ASSERT_OFF(sev_snp_report, policy, 0x08);
SEV_ASSERT_OFF(sev_snp_report, vmpl, 0x30);
SEV_ASSERT_OFF(sev_snp_report, current_tcb, 0x38);
SEV_ASSERT_OFF(sev_snp_report, key_info, 0x48);
SEV_ASSERT_OFF(sev_snp_report, report_data, 0x50);
SEV_ASSERT_OFF(sev_snp_report, measurement, 0x90);
SEV_ASSERT_OFF(sev_snp_report, host_data, 0xC0);
SEV_ASSERT_OFF(sev_snp_report, id_key_digest, 0xE0);
SEV_ASSERT_OFF(sev_snp_report, author_key_digest, 0x110);
SEV_ASSERT_OFF(sev_snp_report, report_id, 0x140);
SEV_ASSERT_OFF(sev_snp_report, report_id_ma, 0x160);
SEV_ASSERT_OFF(sev_snp_report, reported_tcb, 0x180);
SEV_ASSERT_OFF(sev_snp_report, cpuid_fam_id, 0x188);
SEV_ASSERT_OFF(sev_snp_report, chip_id, 0x1A0);
SEV_ASSERT_OFF(sev_snp_report, committed_tcb, 0x1E0);
SEV_ASSERT_OFF(sev_snp_report, current_build, 0x1E8);
SEV_ASSERT_OFF(sev_snp_report, committed_build, 0x1EC);
SEV_ASSERT_OFF(sev_snp_report, launch_tcb, 0x1F0);
SEV_ASSERT_OFF(sev_snp_report, sig_r, SEV_SNP_REPORT_SIGNED_LEN);
SEV_ASSERT_OFF(sev_snp_report, sig_s, 0x2E8);
SEV_ASSERT_SIZE(sev_snp_report_rsp, 0x20 + 0x4A0);
