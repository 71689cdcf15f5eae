/* The VMM socket's frames (VMM <-> sevd's core, STATE_DIR/vmm.sock): SEV-SNP guest requests a
 * VMM forwards for its guest, modelled on KVM's SNP_GUEST_REQUEST exit and
 * KVM_EXIT_SNP_REQ_CERTS (Linux arch/x86/kvm/svm/sev.c snp_handle_guest_req,
 * snp_handle_ext_guest_req; GHCB spec 56421 "SNP Guest Request", "SNP Extended Guest
 * Request"): the VMM hands over the guest's encrypted request page and, for an extended
 * request, the size of the guest's certificate buffer; sevd answers the firmware status and the
 * encrypted response page, and for an extended request the host's certificate table. Both
 * sides parse what the other sends: nothing is used until a parse function accepted it. Pure
 * code (hv-glue's codec library, linked by sevd's core and by sev-run).
 *
 * Request (VMM -> sevd), little-endian:
 *   0  u32 magic "HVSQ" (0x51535648)   4  u16 version (1)   6  u16 type (enum hv_vmm_type)
 *   8  u32 length: 24, + 4096 for GUEST_REQUEST / EXT_GUEST_REQUEST
 *   12 u32 guest handle (sevd's)       16 u32 certs_len: EXT_GUEST_REQUEST only, the bytes of
 *                                         the guest's certificate buffer (a multiple of 4096,
 *                                         GHCB RBX pages), else 0
 *   20 u32 reserved (0)                24 the request message page (4096 bytes)
 * Answer (sevd -> VMM):
 *   0  u32 magic "HVSA" (0x41535648)   4  u16 version (1)   6  u16 type (the request's)
 *   8  u32 length: 384 + 4096 with a response page + certs_len with a table
 *   12 u32 guest handle                16 i32 error: 0, or a negative errno (reason says why)
 *   20 u32 firmware status (SEV_STATUS_*; 0xFFFFFFFF when no command reached firmware)
 *   24 u32 vmm_error: 0, 1 INVALID_LEN (GHCB SW_EXITINFO2[63:32] = 1: the certificate buffer
 *      is too small, certs_len says how many bytes are needed, no table, the request was not
 *      passed to firmware), 2 BUSY
 *   28 u32 certs_len: the table's length (with a table, or the needed length with INVALID_LEN)
 *   32 u32 flags: bit 0 a response page follows, bit 1 a certificate table follows
 *   36 u32 asid, 40 u32 state (SEV_GSTATE_*: INFO)   44 u32 reserved (0)
 *   48 u64 context page address (INFO: the guest's firmware context, SNP guests)
 *   56 char reason[200] (NUL-terminated: what was wrong and what to do)
 *   256 char emu_socket[128] (INFO: the emulator socket sevd runs on, "" on /dev/sev)
 *   384 the response page (4096), then the certificate table (certs_len bytes, GHCB format)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HV_VMM_REQ_MAGIC 0x51535648u
#define HV_VMM_ANS_MAGIC 0x41535648u
#define HV_VMM_VERSION 1u
#define HV_VMM_PAGE 4096u
#define HV_VMM_REQ_HDR 24u
#define HV_VMM_REQ_MAX (HV_VMM_REQ_HDR + HV_VMM_PAGE)
#define HV_VMM_ANS_HDR 384u
#define HV_VMM_TABLE_MAX (16u * 1024u) /* sevd's host table bound (SNP_CERT_TABLE_MAX) */
#define HV_VMM_ANS_MAX (HV_VMM_ANS_HDR + HV_VMM_PAGE + HV_VMM_TABLE_MAX)
/* The largest certificate buffer a VMM may announce (KVM's guest buffers are far smaller). */
#define HV_VMM_CERTS_BUF_MAX (1u << 24)
#define HV_VMM_NO_FW_CALL 0xFFFFFFFFu

enum hv_vmm_type {
	HV_VMM_GUEST_REQUEST = 1,     /* SNP_GUEST_REQUEST with the page */
	HV_VMM_EXT_GUEST_REQUEST = 2, /* the same, plus the host's certificate table */
	HV_VMM_GUEST_INFO = 3,	      /* the guest's state, ASID, context page, emulator socket */
};

enum hv_vmm_error {
	HV_VMM_ERR_NONE = 0,
	HV_VMM_ERR_INVALID_LEN = 1, /* GHCB SNP_GUEST_VMM_ERR_INVALID_LEN */
	HV_VMM_ERR_BUSY = 2,	    /* GHCB SNP_GUEST_VMM_ERR_BUSY */
};

#define HV_VMM_F_PAGE (1u << 0)
#define HV_VMM_F_TABLE (1u << 1)

struct hv_vmm_req {
	uint16_t type;
	uint32_t handle;
	uint32_t certs_len;
	const uint8_t *page; /* HV_VMM_PAGE bytes (request types), else NULL */
};

struct hv_vmm_ans {
	uint16_t type;
	uint32_t handle;
	int32_t error;
	uint32_t fw_status;
	uint32_t vmm_error;
	uint32_t certs_len;
	uint32_t asid, state;
	uint64_t ctx_paddr;
	char reason[200];
	char emu_socket[128];
	const uint8_t *page;  /* HV_VMM_PAGE bytes or NULL */
	const uint8_t *table; /* certs_len bytes or NULL */
};

/* The length a request's or an answer's header announces (bytes 8..11 of the first 12), or
 * -EBADMSG with *why when the magic, version or length cannot be one (len >= 12). */
int hv_vmm_req_length(const uint8_t *buf, size_t len, const char **why);
int hv_vmm_ans_length(const uint8_t *buf, size_t len, const char **why);

/* Build into buf (at least HV_VMM_REQ_MAX / HV_VMM_ANS_MAX bytes); the frame's length. An
 * answer carries a->page and a->table when they are set. */
size_t hv_vmm_req_build(const struct hv_vmm_req *q, uint8_t *buf);
size_t hv_vmm_ans_build(const struct hv_vmm_ans *a, uint8_t *buf);

/* Check one whole frame: 0, or -EBADMSG with *why naming the field. Pointers go into buf. */
int hv_vmm_req_parse(const uint8_t *buf, size_t len, struct hv_vmm_req *ret, const char **why);
int hv_vmm_ans_parse(const uint8_t *buf, size_t len, struct hv_vmm_ans *ret, const char **why);

/* Read one frame from a stream socket into buf (cap bytes): its length, 0 at a clean end of
 * the stream before a frame, or a negative errno (-EBADMSG with *why for a bad header). */
int hv_vmm_read_frame(int fd, bool answer, uint8_t *buf, size_t cap, const char **why);

/* The name of a type ("guest-request", ...), NULL for none. */
const char *hv_vmm_type_name(uint16_t type);
