/* Typed firmware commands over psp_issue() (see commands.h): command buffers built field by
 * field, blobs through psp_dma_alloc() memory, the spec's length-query convention, and the
 * one user-facing error renderer psp_strerror().
 * Trusts: the transport for statuses; lengths firmware reports are bounded by the buffer we
 * gave it (or PSP_CMD_BLOB_MAX for a query) before anything is copied or allocated. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "common/secret.h"
#include "psp/commands.h"

/* psp_ret is optional for callers; every wrapper writes through this. */
#define PSP_RET(p) ((p) ? (p) : &(int){ 0 })

/* A psp_buf freed (and wiped) on scope exit; needs the transport, hence the pair. */
struct dma {
	struct psp_transport *t;
	struct psp_buf b;
};
static void dma_freep(struct dma *d)
{
	if (d->b.ptr) {
		secret_wipe(d->b.ptr, d->b.size);
		psp_dma_free(d->t, &d->b);
	}
}
#define _cleanup_dma_ _cleanup_(dma_freep)

/* Firmware-addressable copy of a caller's blob. */
static int dma_from(struct dma *d, const void *src, size_t len)
{
	int r = psp_dma_alloc(d->t, len, &d->b);

	if (r < 0)
		return r;
	memcpy(d->b.ptr, src, len);
	return 0;
}

static void *memdup_or_null(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);

	if (q && n)
		memcpy(q, p, n);
	return q;
}

/* ---- platform commands ---- */

int psp_cmd_init(struct psp_transport *t, uint32_t flags, int *psp_ret)
{
	/* No TMR: this library has no physically contiguous memory to give; SEV-ES guests
	 * need the TMR, which only the kernel (or the emulator, itself) provides. */
	struct sev_cmd_init c = { .flags = flags };

	return psp_issue(t, SEV_CMD_INIT, &c, psp_ret);
}

int psp_cmd_shutdown(struct psp_transport *t, int *psp_ret)
{
	return psp_issue(t, SEV_CMD_SHUTDOWN, NULL, psp_ret);
}

int psp_cmd_factory_reset(struct psp_transport *t, int *psp_ret)
{
	return psp_issue(t, SEV_CMD_FACTORY_RESET, NULL, psp_ret);
}

int psp_cmd_platform_status(struct psp_transport *t, struct sev_cmd_platform_status *ret,
			    int *psp_ret)
{
	struct sev_cmd_platform_status c = { 0 };
	int r;

	if (!ret)
		return -EINVAL;
	r = psp_issue(t, SEV_CMD_PLATFORM_STATUS, &c, psp_ret);
	if (r < 0)
		return r;
	*ret = c;
	return 0;
}

int psp_cmd_pek_gen(struct psp_transport *t, int *psp_ret)
{
	return psp_issue(t, SEV_CMD_PEK_GEN, NULL, psp_ret);
}

int psp_cmd_pdh_gen(struct psp_transport *t, int *psp_ret)
{
	return psp_issue(t, SEV_CMD_PDH_GEN, NULL, psp_ret);
}

int psp_cmd_df_flush(struct psp_transport *t, int *psp_ret)
{
	return psp_issue(t, SEV_CMD_DF_FLUSH, NULL, psp_ret);
}

/* ---- SEV-SNP platform commands ---- */

int psp_cmd_snp_platform_status(struct psp_transport *t, struct sev_snp_platform_status *ret,
				int *psp_ret)
{
	_cleanup_dma_ struct dma d = { .t = t };
	struct sev_snp_cmd_addr c;
	int r;

	if (!ret)
		return -EINVAL;
	r = psp_dma_alloc(t, SEV_PAGE_SIZE, &d.b);
	if (r < 0)
		return r;
	c.address = d.b.addr;
	r = psp_issue(t, SEV_CMD_SNP_PLATFORM_STATUS, &c, psp_ret);
	if (r < 0)
		return r;
	memcpy(ret, d.b.ptr, sizeof(*ret));
	return 0;
}

int psp_cmd_snp_init_ex(struct psp_transport *t, uint32_t flags, int *psp_ret)
{
	struct sev_snp_cmd_init_ex c = { .flags = flags };

	return psp_issue(t, SEV_CMD_SNP_INIT_EX, &c, psp_ret);
}

int psp_cmd_snp_df_flush(struct psp_transport *t, int *psp_ret)
{
	return psp_issue(t, SEV_CMD_SNP_DF_FLUSH, NULL, psp_ret);
}

int psp_cmd_snp_commit(struct psp_transport *t, int *psp_ret)
{
	struct sev_snp_cmd_commit c = { .length = sizeof(c) };

	return psp_issue(t, SEV_CMD_SNP_COMMIT, &c, psp_ret);
}

int psp_cmd_snp_set_config(struct psp_transport *t, uint64_t reported_tcb, uint32_t flags,
			   int *psp_ret)
{
	struct sev_snp_cmd_config c = { .reported_tcb = reported_tcb, .flags = flags };

	return psp_issue(t, SEV_CMD_SNP_CONFIG, &c, psp_ret);
}

int psp_cmd_snp_vlek_load(struct psp_transport *t, const struct sev_snp_vlek_wrapped *w,
			  int *psp_ret)
{
	_cleanup_dma_ struct dma d = { .t = t };
	struct sev_snp_cmd_vlek_load c = { .length = sizeof(c) };
	int r = dma_from(&d, w, sizeof(*w));

	if (r < 0)
		return r;
	c.vlek_wrapped_address = d.b.addr;
	return psp_issue(t, SEV_CMD_SNP_VLEK_LOAD, &c, psp_ret);
}

/* A length the firmware asked for in a length query: must be usable and bounded. */
static int check_needed(uint32_t len)
{
	return len == 0 || len > PSP_CMD_BLOB_MAX ? -EBADMSG : 0;
}

/* PEK_CSR and GET_ID share one buffer layout {address, len}: query the length with len 0
 * (firmware answers INVALID_LEN with the needed length, SEV API §5.7 / §5.12), then fetch. */
_Static_assert(sizeof(struct sev_cmd_pek_csr) == sizeof(struct sev_cmd_get_id) &&
		       offsetof(struct sev_cmd_pek_csr, len) == offsetof(struct sev_cmd_get_id, len),
	       "PEK_CSR and GET_ID buffers share a layout");

static int fetch_blob(struct psp_transport *t, uint32_t cmd, uint8_t **ret, size_t *ret_len,
		      int *psp_ret)
{
	struct sev_cmd_get_id c = { 0 };
	_cleanup_dma_ struct dma d = { .t = t };
	uint32_t need;
	int r;

	if (!ret || !ret_len)
		return -EINVAL;
	r = psp_issue(t, cmd, &c, psp_ret);
	if (r == 0 || *psp_ret != SEV_STATUS_INVALID_LEN)
		return r == 0 ? -EBADMSG : r; /* SUCCESS for an empty buffer is not the spec */
	need = c.len;
	r = check_needed(need);
	if (r < 0)
		return r;
	r = psp_dma_alloc(t, need, &d.b);
	if (r < 0)
		return r;
	c = (struct sev_cmd_get_id){ .address = d.b.addr, .len = need };
	r = psp_issue(t, cmd, &c, psp_ret);
	if (r < 0)
		return r;
	if (c.len > need)
		return -EBADMSG;
	*ret = memdup_or_null(d.b.ptr, c.len);
	if (!*ret)
		return -ENOMEM;
	*ret_len = c.len;
	return 0;
}

int psp_cmd_pek_csr(struct psp_transport *t, uint8_t **ret_csr, size_t *ret_len, int *psp_ret)
{
	return fetch_blob(t, SEV_CMD_PEK_CSR, ret_csr, ret_len, PSP_RET(psp_ret));
}

int psp_cmd_get_id(struct psp_transport *t, uint8_t **ret_id, size_t *ret_len, int *psp_ret)
{
	return fetch_blob(t, SEV_CMD_GET_ID, ret_id, ret_len, PSP_RET(psp_ret));
}

int psp_cmd_pek_cert_import(struct psp_transport *t, const uint8_t *pek, size_t pek_len,
			    const uint8_t *oca, size_t oca_len, int *psp_ret)
{
	_cleanup_dma_ struct dma dp = { .t = t }, doca = { .t = t };
	struct sev_cmd_pek_cert_import c = { 0 };
	int r;

	if (!pek || !oca || pek_len == 0 || oca_len == 0 || pek_len > UINT32_MAX ||
	    oca_len > UINT32_MAX)
		return -EINVAL;
	r = dma_from(&dp, pek, pek_len);
	if (r < 0)
		return r;
	r = dma_from(&doca, oca, oca_len);
	if (r < 0)
		return r;
	c.pek_cert_address = dp.b.addr;
	c.pek_cert_len = (uint32_t)pek_len;
	c.oca_cert_address = doca.b.addr;
	c.oca_cert_len = (uint32_t)oca_len;
	return psp_issue(t, SEV_CMD_PEK_CERT_IMPORT, &c, psp_ret);
}

/* PDH_CERT_EXPORT: query both lengths with zero lengths (SEV API §5.10), then fetch both. */
int psp_cmd_pdh_cert_export(struct psp_transport *t, uint8_t **ret_pdh, size_t *ret_pdh_len,
			    uint8_t **ret_chain, size_t *ret_chain_len, int *psp_ret)
{
	_cleanup_dma_ struct dma dp = { .t = t }, dc = { .t = t };
	struct sev_cmd_pdh_cert_export c = { 0 };
	uint32_t need_pdh, need_chain;
	int *st = PSP_RET(psp_ret), r;

	if (!ret_pdh || !ret_pdh_len || !ret_chain || !ret_chain_len)
		return -EINVAL;
	r = psp_issue(t, SEV_CMD_PDH_CERT_EXPORT, &c, st);
	if (r == 0 || *st != SEV_STATUS_INVALID_LEN)
		return r == 0 ? -EBADMSG : r;
	need_pdh = c.pdh_cert_len;
	need_chain = c.cert_chain_len;
	if (check_needed(need_pdh) < 0 || check_needed(need_chain) < 0)
		return -EBADMSG;
	r = psp_dma_alloc(t, need_pdh, &dp.b);
	if (r >= 0)
		r = psp_dma_alloc(t, need_chain, &dc.b);
	if (r < 0)
		return r;
	c = (struct sev_cmd_pdh_cert_export){ .pdh_cert_address = dp.b.addr,
					      .pdh_cert_len = need_pdh,
					      .cert_chain_address = dc.b.addr,
					      .cert_chain_len = need_chain };
	r = psp_issue(t, SEV_CMD_PDH_CERT_EXPORT, &c, st);
	if (r < 0)
		return r;
	if (c.pdh_cert_len > need_pdh || c.cert_chain_len > need_chain)
		return -EBADMSG;
	_cleanup_free_ uint8_t *pdh = memdup_or_null(dp.b.ptr, c.pdh_cert_len);
	_cleanup_free_ uint8_t *chain = memdup_or_null(dc.b.ptr, c.cert_chain_len);
	if (!pdh || !chain)
		return -ENOMEM;
	*ret_pdh = TAKE_PTR(pdh);
	*ret_pdh_len = c.pdh_cert_len;
	*ret_chain = TAKE_PTR(chain);
	*ret_chain_len = c.cert_chain_len;
	return 0;
}

/* ---- guest commands ---- */

int psp_cmd_launch_start(struct psp_transport *t, uint32_t policy, const uint8_t *godh,
			 size_t godh_len, const void *session, size_t session_len,
			 uint32_t *ret_handle, int *psp_ret)
{
	_cleanup_dma_ struct dma dg = { .t = t }, ds = { .t = t };
	struct sev_cmd_launch_start c = { .handle = 0, .policy = policy };
	int r;

	/* Both or neither: without them firmware generates TEK/TIK itself (SEV API §6.2). */
	if (!ret_handle || !godh != !session || (godh && (godh_len == 0 || session_len == 0)) ||
	    godh_len > UINT32_MAX || session_len > UINT32_MAX)
		return -EINVAL;
	if (godh) {
		r = dma_from(&dg, godh, godh_len);
		if (r >= 0)
			r = dma_from(&ds, session, session_len);
		if (r < 0)
			return r;
		c.dh_cert_address = dg.b.addr;
		c.dh_cert_len = (uint32_t)godh_len;
		c.session_address = ds.b.addr;
		c.session_len = (uint32_t)session_len;
	}
	r = psp_issue(t, SEV_CMD_LAUNCH_START, &c, psp_ret);
	if (r < 0)
		return r;
	*ret_handle = c.handle;
	return 0;
}

static int launch_update(struct psp_transport *t, uint32_t cmd, uint32_t handle, uint64_t addr,
			 uint32_t len, int *psp_ret)
{
	struct sev_cmd_launch_update c = { .handle = handle, .address = addr, .len = len };

	return psp_issue(t, cmd, &c, psp_ret);
}

int psp_cmd_launch_update_data(struct psp_transport *t, uint32_t handle, uint64_t addr,
			       uint32_t len, int *psp_ret)
{
	return launch_update(t, SEV_CMD_LAUNCH_UPDATE_DATA, handle, addr, len, psp_ret);
}

int psp_cmd_launch_update_vmsa(struct psp_transport *t, uint32_t handle, uint64_t addr,
			       uint32_t len, int *psp_ret)
{
	return launch_update(t, SEV_CMD_LAUNCH_UPDATE_VMSA, handle, addr, len, psp_ret);
}

int psp_cmd_launch_measure(struct psp_transport *t, uint32_t handle,
			   uint8_t ret_blob[SEV_MEASURE_BLOB_SIZE], int *psp_ret)
{
	_cleanup_dma_ struct dma d = { .t = t };
	struct sev_cmd_launch_measure c = { .handle = handle, .len = SEV_MEASURE_BLOB_SIZE };
	int r;

	if (!ret_blob)
		return -EINVAL;
	r = psp_dma_alloc(t, SEV_MEASURE_BLOB_SIZE, &d.b);
	if (r < 0)
		return r;
	c.address = d.b.addr;
	r = psp_issue(t, SEV_CMD_LAUNCH_MEASURE, &c, psp_ret);
	if (r < 0)
		return r;
	if (c.len != SEV_MEASURE_BLOB_SIZE)
		return -EBADMSG;
	memcpy(ret_blob, d.b.ptr, SEV_MEASURE_BLOB_SIZE);
	return 0;
}

int psp_cmd_launch_secret(struct psp_transport *t, uint32_t handle,
			  const struct sev_secret_header *hdr, uint64_t guest_addr,
			  uint32_t guest_len, const uint8_t *trans, size_t trans_len, int *psp_ret)
{
	_cleanup_dma_ struct dma dh = { .t = t }, dt = { .t = t };
	struct sev_cmd_launch_secret c = { .handle = handle };
	int r;

	if (!hdr || !trans || trans_len == 0 || trans_len > UINT32_MAX)
		return -EINVAL;
	r = dma_from(&dh, hdr, sizeof(*hdr));
	if (r >= 0)
		r = dma_from(&dt, trans, trans_len);
	if (r < 0)
		return r;
	c.hdr_address = dh.b.addr;
	c.hdr_len = sizeof(*hdr);
	c.guest_address = guest_addr;
	c.guest_len = guest_len;
	c.trans_address = dt.b.addr;
	c.trans_len = (uint32_t)trans_len;
	return psp_issue(t, SEV_CMD_LAUNCH_UPDATE_SECRET, &c, psp_ret);
}

static int handle_cmd(struct psp_transport *t, uint32_t cmd, uint32_t handle, int *psp_ret)
{
	struct sev_cmd_handle c = { .handle = handle };

	return psp_issue(t, cmd, &c, psp_ret);
}

int psp_cmd_launch_finish(struct psp_transport *t, uint32_t handle, int *psp_ret)
{
	return handle_cmd(t, SEV_CMD_LAUNCH_FINISH, handle, psp_ret);
}

int psp_cmd_activate(struct psp_transport *t, uint32_t handle, uint32_t asid, int *psp_ret)
{
	struct sev_cmd_activate c = { .handle = handle, .asid = asid };

	return psp_issue(t, SEV_CMD_ACTIVATE, &c, psp_ret);
}

int psp_cmd_deactivate(struct psp_transport *t, uint32_t handle, int *psp_ret)
{
	return handle_cmd(t, SEV_CMD_DEACTIVATE, handle, psp_ret);
}

int psp_cmd_decommission(struct psp_transport *t, uint32_t handle, int *psp_ret)
{
	return handle_cmd(t, SEV_CMD_DECOMMISSION, handle, psp_ret);
}

int psp_cmd_guest_status(struct psp_transport *t, uint32_t handle,
			 struct sev_cmd_guest_status *ret, int *psp_ret)
{
	struct sev_cmd_guest_status c = { .handle = handle };
	int r;

	if (!ret)
		return -EINVAL;
	r = psp_issue(t, SEV_CMD_GUEST_STATUS, &c, psp_ret);
	if (r < 0)
		return r;
	*ret = c;
	return 0;
}

int psp_cmd_attestation(struct psp_transport *t, uint32_t handle,
			const uint8_t mnonce[SEV_MNONCE_SIZE], struct sev_attestation_report *ret,
			int *psp_ret)
{
	_cleanup_dma_ struct dma d = { .t = t };
	struct sev_cmd_attestation c = { .handle = handle, .len = sizeof(*ret) };
	int r;

	if (!mnonce || !ret)
		return -EINVAL;
	r = psp_dma_alloc(t, sizeof(*ret), &d.b);
	if (r < 0)
		return r;
	c.address = d.b.addr;
	memcpy(c.mnonce, mnonce, SEV_MNONCE_SIZE);
	r = psp_issue(t, SEV_CMD_ATTESTATION, &c, psp_ret);
	if (r < 0)
		return r;
	if (c.len != sizeof(*ret))
		return -EBADMSG;
	memcpy(ret, d.b.ptr, sizeof(*ret));
	return 0;
}

/* DBG_DECRYPT moves guest plaintext: the bounce buffer is wiped by _cleanup_dma_. */
int psp_cmd_dbg_decrypt(struct psp_transport *t, uint32_t handle, uint64_t src_addr, void *dst,
			uint32_t len, int *psp_ret)
{
	_cleanup_dma_ struct dma d = { .t = t };
	struct sev_cmd_dbg c = { .handle = handle, .src_addr = src_addr, .len = len };
	int r;

	if (!dst || len == 0)
		return -EINVAL;
	r = psp_dma_alloc(t, len, &d.b);
	if (r < 0)
		return r;
	c.dst_addr = d.b.addr;
	r = psp_issue(t, SEV_CMD_DBG_DECRYPT, &c, psp_ret);
	if (r < 0)
		return r;
	memcpy(dst, d.b.ptr, len);
	return 0;
}

int psp_cmd_dbg_encrypt(struct psp_transport *t, uint32_t handle, const void *src,
			uint64_t dst_addr, uint32_t len, int *psp_ret)
{
	_cleanup_dma_ struct dma d = { .t = t };
	struct sev_cmd_dbg c = { .handle = handle, .dst_addr = dst_addr, .len = len };
	int r;

	if (!src || len == 0)
		return -EINVAL;
	r = dma_from(&d, src, len);
	if (r < 0)
		return r;
	c.src_addr = d.b.addr;
	return psp_issue(t, SEV_CMD_DBG_ENCRYPT, &c, psp_ret);
}

/* ---- migration ---- */

/* An optional blob: absent (NULL, 0) stays address 0 / length 0 in the command buffer. */
static int dma_opt(struct dma *d, const void *p, size_t len)
{
	if (!p || len == 0)
		return 0;
	if (len > PSP_CMD_BLOB_MAX)
		return -EINVAL;
	return dma_from(d, p, len);
}

static uint64_t dma_addr(const struct dma *d)
{
	return d->b.ptr ? d->b.addr : 0;
}

static uint32_t dma_len(const struct dma *d, size_t len)
{
	return d->b.ptr ? (uint32_t)len : 0;
}

int psp_cmd_send_start(struct psp_transport *t, uint32_t handle,
		       const struct psp_send_target *target, struct sev_session_blob *ret_session,
		       uint32_t *ret_policy, int *psp_ret)
{
	_cleanup_dma_ struct dma dp = { .t = t }, dc = { .t = t }, da = { .t = t }, ds = { .t = t };
	struct sev_cmd_send_start c = { .handle = handle };
	int r;

	if (!target || !target->pdh || !ret_session)
		return -EINVAL;
	r = dma_opt(&dp, target->pdh, target->pdh_len);
	if (r >= 0)
		r = dma_opt(&dc, target->plat_certs, target->plat_certs_len);
	if (r >= 0)
		r = dma_opt(&da, target->amd_certs, target->amd_certs_len);
	if (r >= 0)
		r = psp_dma_alloc(t, sizeof(*ret_session), &ds.b);
	if (r < 0)
		return r;
	c.pdh_cert_address = dma_addr(&dp);
	c.pdh_cert_len = dma_len(&dp, target->pdh_len);
	c.plat_certs_address = dma_addr(&dc);
	c.plat_certs_len = dma_len(&dc, target->plat_certs_len);
	c.amd_certs_address = dma_addr(&da);
	c.amd_certs_len = dma_len(&da, target->amd_certs_len);
	c.session_address = ds.b.addr;
	c.session_len = sizeof(*ret_session);
	r = psp_issue(t, SEV_CMD_SEND_START, &c, psp_ret);
	if (r < 0)
		return r;
	memcpy(ret_session, ds.b.ptr, sizeof(*ret_session));
	if (ret_policy)
		*ret_policy = c.policy;
	return 0;
}

static int send_update(struct psp_transport *t, uint32_t cmd, uint32_t handle,
		       uint64_t guest_addr, uint32_t len, struct sev_packet_header *ret_hdr,
		       uint8_t *ret_trans, int *psp_ret)
{
	_cleanup_dma_ struct dma dh = { .t = t }, dt = { .t = t };
	struct sev_cmd_transfer c = { .handle = handle, .guest_address = guest_addr,
				      .guest_len = len, .trans_len = len };
	int r;

	if (!ret_hdr || !ret_trans || len == 0 || len > SEV_PACKET_MAX_LEN)
		return -EINVAL;
	r = psp_dma_alloc(t, sizeof(*ret_hdr), &dh.b);
	if (r >= 0)
		r = psp_dma_alloc(t, len, &dt.b);
	if (r < 0)
		return r;
	c.hdr_address = dh.b.addr;
	c.hdr_len = sizeof(*ret_hdr);
	c.trans_address = dt.b.addr;
	r = psp_issue(t, cmd, &c, psp_ret);
	if (r < 0)
		return r;
	memcpy(ret_hdr, dh.b.ptr, sizeof(*ret_hdr));
	memcpy(ret_trans, dt.b.ptr, len);
	return 0;
}

int psp_cmd_send_update_data(struct psp_transport *t, uint32_t handle, uint64_t guest_addr,
			     uint32_t len, struct sev_packet_header *ret_hdr, uint8_t *ret_trans,
			     int *psp_ret)
{
	return send_update(t, SEV_CMD_SEND_UPDATE_DATA, handle, guest_addr, len, ret_hdr,
			   ret_trans, psp_ret);
}

int psp_cmd_send_update_vmsa(struct psp_transport *t, uint32_t handle, uint64_t guest_addr,
			     uint32_t len, struct sev_packet_header *ret_hdr, uint8_t *ret_trans,
			     int *psp_ret)
{
	return send_update(t, SEV_CMD_SEND_UPDATE_VMSA, handle, guest_addr, len, ret_hdr,
			   ret_trans, psp_ret);
}

int psp_cmd_send_finish(struct psp_transport *t, uint32_t handle, int *psp_ret)
{
	return handle_cmd(t, SEV_CMD_SEND_FINISH, handle, psp_ret);
}

int psp_cmd_send_cancel(struct psp_transport *t, uint32_t handle, int *psp_ret)
{
	return handle_cmd(t, SEV_CMD_SEND_CANCEL, handle, psp_ret);
}

int psp_cmd_receive_start(struct psp_transport *t, uint32_t policy, const uint8_t *src_pdh,
			  size_t src_pdh_len, const struct sev_session_blob *session,
			  uint32_t *ret_handle, int *psp_ret)
{
	_cleanup_dma_ struct dma dp = { .t = t }, ds = { .t = t };
	struct sev_cmd_receive_start c = { .handle = 0, .policy = policy };
	int r;

	if (!src_pdh || src_pdh_len == 0 || !session || !ret_handle)
		return -EINVAL;
	r = dma_opt(&dp, src_pdh, src_pdh_len);
	if (r >= 0)
		r = dma_opt(&ds, session, sizeof(*session));
	if (r < 0)
		return r;
	c.pdh_cert_address = dma_addr(&dp);
	c.pdh_cert_len = dma_len(&dp, src_pdh_len);
	c.session_address = dma_addr(&ds);
	c.session_len = dma_len(&ds, sizeof(*session));
	r = psp_issue(t, SEV_CMD_RECEIVE_START, &c, psp_ret);
	if (r < 0)
		return r;
	*ret_handle = c.handle;
	return 0;
}

static int receive_update(struct psp_transport *t, uint32_t cmd, uint32_t handle,
			  const struct sev_packet_header *hdr, uint64_t guest_addr,
			  const uint8_t *trans, uint32_t len, int *psp_ret)
{
	_cleanup_dma_ struct dma dh = { .t = t }, dt = { .t = t };
	struct sev_cmd_transfer c = { .handle = handle, .guest_address = guest_addr,
				      .guest_len = len };
	int r;

	if (!hdr || !trans || len == 0 || len > SEV_PACKET_MAX_LEN)
		return -EINVAL;
	r = dma_opt(&dh, hdr, sizeof(*hdr));
	if (r >= 0)
		r = dma_opt(&dt, trans, len);
	if (r < 0)
		return r;
	c.hdr_address = dma_addr(&dh);
	c.hdr_len = dma_len(&dh, sizeof(*hdr));
	c.trans_address = dma_addr(&dt);
	c.trans_len = dma_len(&dt, len);
	return psp_issue(t, cmd, &c, psp_ret);
}

int psp_cmd_receive_update_data(struct psp_transport *t, uint32_t handle,
				const struct sev_packet_header *hdr, uint64_t guest_addr,
				const uint8_t *trans, uint32_t len, int *psp_ret)
{
	return receive_update(t, SEV_CMD_RECEIVE_UPDATE_DATA, handle, hdr, guest_addr, trans, len,
			      psp_ret);
}

int psp_cmd_receive_update_vmsa(struct psp_transport *t, uint32_t handle,
				const struct sev_packet_header *hdr, uint64_t guest_addr,
				const uint8_t *trans, uint32_t len, int *psp_ret)
{
	return receive_update(t, SEV_CMD_RECEIVE_UPDATE_VMSA, handle, hdr, guest_addr, trans, len,
			      psp_ret);
}

int psp_cmd_receive_finish(struct psp_transport *t, uint32_t handle, int *psp_ret)
{
	return handle_cmd(t, SEV_CMD_RECEIVE_FINISH, handle, psp_ret);
}

/* ---- errors ---- */

/* What an errno means when it comes from a PSP transport, and what to do about it. */
static const char *errno_hint(int e)
{
	switch (e) {
	case EOPNOTSUPP:
		/* The KVM part first: daemon replies carry 256 bytes of message. */
		return "this transport cannot carry the command: on /dev/sev INIT, SHUTDOWN, "
		       "DF_FLUSH and every guest command only KVM can send (use the emulated PSP, "
		       "emu:SOCKET); user space may send only PLATFORM_STATUS, PEK_GEN, PEK_CSR, "
		       "PEK_CERT_IMPORT, PDH_GEN, PDH_CERT_EXPORT, GET_ID and FACTORY_RESET; SNP "
		       "commands are not supported by this version on either transport";
	case EACCES:
		return "no access to the PSP: run as root, add the user to the group owning "
		       "/dev/sev, or install a udev rule such as "
		       "KERNEL==\"sev\", GROUP=\"sevd\", MODE=\"0660\"";
	case EPERM:
		return "the kernel refused: /dev/sev is open read-only and this command needs "
		       "write access (group membership or a udev rule granting rw)";
	case ENOENT:
	case ENODEV:
		return "no PSP here: /dev/sev is missing (ccp driver not loaded or SEV disabled in "
		       "the firmware setup) or the emulator socket does not exist (start "
		       "sev-psp-emu)";
	case ECONNREFUSED:
		return "nothing listens on the emulator socket: start sev-psp-emu";
	case ECONNRESET:
	case EPIPE:
		return "the emulator went away during the command";
	case ETIMEDOUT:
		return "the PSP did not answer in time";
	case EBUSY:
		return "the PSP is busy or was marked dead after a timeout, or (FACTORY_RESET) "
		       "guests are running";
	case ENOTTY:
		return "the device is not a SEV device";
	case EBADMSG:
		return "firmware returned a malformed answer";
	case EPROTO:
		return "the emulator's reply was malformed; the connection was dropped";
	case ENAMETOOLONG:
		return "the socket path is too long for a Unix socket (at most 107 bytes)";
	default:
		return NULL;
	}
}

const char *psp_strerror(int r, int psp_ret, char *buf, size_t n)
{
	char ebuf[128];
	const char *hint;

	if (!buf || n == 0)
		return buf;
	if (r == -EIO && psp_ret != SEV_STATUS_NO_FW_CALL) {
		snprintf(buf, n, "firmware answered %s (%s)", sev_status_name(psp_ret),
			 sev_status_meaning(psp_ret));
		return buf;
	}
	if (r >= 0) {
		snprintf(buf, n, "success");
		return buf;
	}
	hint = errno_hint(-r);
	snprintf(buf, n, "%s%s%s%s", strerror_r(-r, ebuf, sizeof(ebuf)), hint ? " (" : "",
		 hint ? hint : "", hint ? ")" : "");
	return buf;
}
