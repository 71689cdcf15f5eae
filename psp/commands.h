/* Typed firmware commands: one function per SEV command, on top of psp_issue().
 * Each builds the firmware-ABI command buffer (sev-abi.h), moves blobs through
 * psp_dma_alloc()'d memory, follows the spec's length-query convention (ask with length 0,
 * firmware answers INVALID_LEN with the needed length, ask again), and copies results out.
 * They trust the transport for statuses and nothing else: lengths firmware reports are
 * bounded before anything is allocated.
 *
 * Conventions (as psp_issue()): 0 on SUCCESS; -EIO when firmware answered another status,
 * which is in *psp_ret; any other negative errno when the command did not reach firmware
 * (*psp_ret = SEV_STATUS_NO_FW_CALL). psp_ret may be NULL. Blobs returned through ret_*
 * are malloc()'d and owned by the caller. "Firmware addresses" (uint64_t *_addr) are
 * addresses inside a region from psp_map_memfd() (guest memory). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "psp/sev-abi.h"
#include "psp/transport.h"

/* Upper bound this library accepts for a blob length firmware asks for in a length query
 * (certificates, CSRs, IDs are a few KiB; Linux itself caps user blobs at 16 KiB). */
#define PSP_CMD_BLOB_MAX (64u * 1024u)

/* ---- platform commands (SEV API §5) ---- */
int psp_cmd_init(struct psp_transport *t, uint32_t flags, int *psp_ret);
int psp_cmd_shutdown(struct psp_transport *t, int *psp_ret);
int psp_cmd_factory_reset(struct psp_transport *t, int *psp_ret);
int psp_cmd_platform_status(struct psp_transport *t, struct sev_cmd_platform_status *ret,
			    int *psp_ret);
int psp_cmd_pek_gen(struct psp_transport *t, int *psp_ret);
int psp_cmd_pdh_gen(struct psp_transport *t, int *psp_ret);
int psp_cmd_df_flush(struct psp_transport *t, int *psp_ret);
/* PEK_CSR: the PEK certificate signing request (one SEV certificate, 0x824 bytes). */
int psp_cmd_pek_csr(struct psp_transport *t, uint8_t **ret_csr, size_t *ret_len, int *psp_ret);
/* PEK_CERT_IMPORT: the owner-signed PEK and the OCA certificate (each one SEV cert). */
int psp_cmd_pek_cert_import(struct psp_transport *t, const uint8_t *pek, size_t pek_len,
			    const uint8_t *oca, size_t oca_len, int *psp_ret);
/* PDH_CERT_EXPORT: the PDH cert and the chain PEK ‖ OCA ‖ CEK. */
int psp_cmd_pdh_cert_export(struct psp_transport *t, uint8_t **ret_pdh, size_t *ret_pdh_len,
			    uint8_t **ret_chain, size_t *ret_chain_len, int *psp_ret);
/* GET_ID: the chip IDs (64 bytes per socket; firmware says how many bytes). */
int psp_cmd_get_id(struct psp_transport *t, uint8_t **ret_id, size_t *ret_len, int *psp_ret);

/* ---- SEV-SNP platform commands (SNP ABI 56860 §8) ---- */
/* SNP_PLATFORM_STATUS: the 32-byte status, through a firmware-addressable page. */
int psp_cmd_snp_platform_status(struct psp_transport *t, struct sev_snp_platform_status *ret,
				int *psp_ret);
/* SNP_INIT_EX with flags SEV_SNP_INIT_* (no range list). */
int psp_cmd_snp_init_ex(struct psp_transport *t, uint32_t flags, int *psp_ret);
int psp_cmd_snp_df_flush(struct psp_transport *t, int *psp_ret);
/* SNP_COMMIT: the running firmware and TCB become the committed ones (no rollback below). */
int psp_cmd_snp_commit(struct psp_transport *t, int *psp_ret);
/* SNP_CONFIG (Linux SNP_SET_CONFIG): the reported TCB (0: the committed one) and the
 * SEV_SNP_CONFIG_MASK_CHIP_ID / _KEY flags. */
int psp_cmd_snp_set_config(struct psp_transport *t, uint64_t reported_tcb, uint32_t flags,
			   int *psp_ret);
/* SNP_VLEK_LOAD: one wrapped VLEK hashstick (432 bytes, version 0), as AMD's KDS issues it. */
int psp_cmd_snp_vlek_load(struct psp_transport *t, const struct sev_snp_vlek_wrapped *w,
			  int *psp_ret);

/* ---- guest commands (SEV API §6); not reachable through /dev/sev (-EOPNOTSUPP) ---- */
/* LAUNCH_START: godh (the guest owner's DH cert) and session (struct sev_session_blob) are
 * both given or both NULL (then firmware makes the keys itself). Returns the new handle. */
int psp_cmd_launch_start(struct psp_transport *t, uint32_t policy, const uint8_t *godh,
			 size_t godh_len, const void *session, size_t session_len,
			 uint32_t *ret_handle, int *psp_ret);
int psp_cmd_launch_update_data(struct psp_transport *t, uint32_t handle, uint64_t addr,
			       uint32_t len, int *psp_ret);
int psp_cmd_launch_update_vmsa(struct psp_transport *t, uint32_t handle, uint64_t addr,
			       uint32_t len, int *psp_ret);
/* LAUNCH_MEASURE: blob = MEASURE (32) ‖ MNONCE (16). */
int psp_cmd_launch_measure(struct psp_transport *t, uint32_t handle,
			   uint8_t ret_blob[SEV_MEASURE_BLOB_SIZE], int *psp_ret);
/* LAUNCH_UPDATE_SECRET: packet header, destination in guest memory (firmware address),
 * and the encrypted payload (copied into firmware-addressable memory here). */
int psp_cmd_launch_secret(struct psp_transport *t, uint32_t handle,
			  const struct sev_secret_header *hdr, uint64_t guest_addr,
			  uint32_t guest_len, const uint8_t *trans, size_t trans_len, int *psp_ret);
int psp_cmd_launch_finish(struct psp_transport *t, uint32_t handle, int *psp_ret);
int psp_cmd_activate(struct psp_transport *t, uint32_t handle, uint32_t asid, int *psp_ret);
int psp_cmd_deactivate(struct psp_transport *t, uint32_t handle, int *psp_ret);
int psp_cmd_decommission(struct psp_transport *t, uint32_t handle, int *psp_ret);
int psp_cmd_guest_status(struct psp_transport *t, uint32_t handle,
			 struct sev_cmd_guest_status *ret, int *psp_ret);
/* ATTESTATION: the legacy report (0xD0 bytes) over mnonce. */
int psp_cmd_attestation(struct psp_transport *t, uint32_t handle,
			const uint8_t mnonce[SEV_MNONCE_SIZE], struct sev_attestation_report *ret,
			int *psp_ret);
/* DBG_DECRYPT: guest memory at src_addr (firmware address) → dst (len bytes, 16-aligned). */
int psp_cmd_dbg_decrypt(struct psp_transport *t, uint32_t handle, uint64_t src_addr, void *dst,
			uint32_t len, int *psp_ret);
/* DBG_ENCRYPT: src (len bytes) → guest memory at dst_addr. */
int psp_cmd_dbg_encrypt(struct psp_transport *t, uint32_t handle, const void *src,
			uint64_t dst_addr, uint32_t len, int *psp_ret);

/* ---- migration (SEV API §6.11-§6.19; psp/sev-abi.h has the packet formula) ---- */
/* What SEND_START needs of the target: its PDH, and (for policies with SEV or DOMAIN) its
 * chain PEK ‖ OCA ‖ CEK (the CEK signed by the ASK) and AMD's ASK ‖ ARK; NULL/0 when absent. */
struct psp_send_target {
	const uint8_t *pdh;
	size_t pdh_len;
	const uint8_t *plat_certs;
	size_t plat_certs_len;
	const uint8_t *amd_certs;
	size_t amd_certs_len;
};
/* SEND_START: the session blob for the target (RECEIVE_START's input) and the guest's policy. */
int psp_cmd_send_start(struct psp_transport *t, uint32_t handle,
		       const struct psp_send_target *target, struct sev_session_blob *ret_session,
		       uint32_t *ret_policy, int *psp_ret);
/* SEND_UPDATE_DATA / SEND_UPDATE_VMSA: len bytes of guest memory at guest_addr (firmware
 * address) as one packet: header and len bytes of ciphertext into ret_trans. */
int psp_cmd_send_update_data(struct psp_transport *t, uint32_t handle, uint64_t guest_addr,
			     uint32_t len, struct sev_packet_header *ret_hdr, uint8_t *ret_trans,
			     int *psp_ret);
int psp_cmd_send_update_vmsa(struct psp_transport *t, uint32_t handle, uint64_t guest_addr,
			     uint32_t len, struct sev_packet_header *ret_hdr, uint8_t *ret_trans,
			     int *psp_ret);
int psp_cmd_send_finish(struct psp_transport *t, uint32_t handle, int *psp_ret);
int psp_cmd_send_cancel(struct psp_transport *t, uint32_t handle, int *psp_ret);
/* RECEIVE_START: a new guest (*ret_handle) for the source's PDH certificate and session. */
int psp_cmd_receive_start(struct psp_transport *t, uint32_t policy, const uint8_t *src_pdh,
			  size_t src_pdh_len, const struct sev_session_blob *session,
			  uint32_t *ret_handle, int *psp_ret);
/* RECEIVE_UPDATE_DATA / RECEIVE_UPDATE_VMSA: one packet into guest memory at guest_addr. */
int psp_cmd_receive_update_data(struct psp_transport *t, uint32_t handle,
				const struct sev_packet_header *hdr, uint64_t guest_addr,
				const uint8_t *trans, uint32_t len, int *psp_ret);
int psp_cmd_receive_update_vmsa(struct psp_transport *t, uint32_t handle,
				const struct sev_packet_header *hdr, uint64_t guest_addr,
				const uint8_t *trans, uint32_t len, int *psp_ret);
int psp_cmd_receive_finish(struct psp_transport *t, uint32_t handle, int *psp_ret);

/* The one renderer for every user-facing PSP error: for r == -EIO with a firmware status,
 * "firmware answered INVALID_PLATFORM_STATE (the platform is not in a state that allows
 * this command)"; otherwise the errno text (plus what it means for a PSP transport).
 * Writes into buf (n bytes) and returns buf. */
const char *psp_strerror(int r, int psp_ret, char *buf, size_t n);
