/* ASIDs and the running guest in the emulated SEV firmware: ACTIVATE, DEACTIVATE (SEV API
 * §6.9-6.10), DBG_DECRYPT/DBG_ENCRYPT (§7) and ATTESTATION (§6.8). The ASID model follows
 * AMD-ASPFW sev_mcmd.c (mcmd_activate_common, activate_common, sev_mcmd_deactivate),
 * sev_guest.c (sev_guest_activate, sev_guest_deactivate) and sev_es.c (sev_es_validate_asid)
 * with one CCX: an ASID is clean, dirty (fw->asid_dirty: ran a guest since the last
 * DF_FLUSH), allocated (a pending activation) or in use (an active guest). DF_FLUSH itself is
 * the platform's row: it cleans every dirty ASID once the host reported WBINVD. */
#include <openssl/crypto.h>
#include <string.h>

#include "attest/sev-report.h"
#include "common/macros.h"
#include "psp/emu/guest.h"
#include "psp/emu/snp.h"

#define ALIGNED16(x) (((x)&15u) == 0)

/* Does any guest hold this ASID (allocated or in use)? SNP guests too (snp.h). */
static bool asid_held(struct emu_fw *fw, uint32_t asid)
{
	if (emu_snp_asid_held(fw, asid))
		return true;
	for (uint32_t h = 1; h <= EMU_GUEST_MAX; h++) {
		struct emu_guest *o = emu_guest_find(fw, h);

		if (o && o->asid == asid && (o->pending || o->active))
			return true;
	}
	return false;
}

/* SEV-ES guests use 1 ≤ asid < MIN_SEV_ASID (CPUID EDX), others MIN_SEV_ASID..MAX. */
static bool asid_fits_type(struct emu_fw *fw, const struct emu_guest *g, uint32_t asid)
{
	uint32_t min_sev = fw->cfg.cpuid_edx;

	if (g->policy & SEV_POLICY_ES)
		return asid >= 1 && asid < min_sev;
	return asid >= min_sev && asid <= fw->cfg.cpuid_ecx;
}

/* Checks in firmware order: range, owner (any guest, this one too), this guest already
 * holding an ASID, SENT, dirty, type range. Before LAUNCH_FINISH the activation is pending. */
int emu_cmd_activate(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_activate *b = buf;
	struct emu_guest *g = emu_guest_find(fw, b->handle);

	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (b->asid == 0 || b->asid > fw->cfg.cpuid_ecx)
		return SEV_STATUS_INVALID_ASID;
	if (asid_held(fw, b->asid))
		return SEV_STATUS_ASID_OWNED;
	if (g->pending || g->active)
		return SEV_STATUS_ACTIVE;
	if (g->state == SEV_GSTATE_SENT)
		return SEV_STATUS_INVALID_GUEST_STATE;
	if (fw->asid_dirty[b->asid])
		return SEV_STATUS_DFFLUSH_REQUIRED;
	if (!asid_fits_type(fw, g, b->asid))
		return SEV_STATUS_INVALID_ASID;
	g->asid = b->asid;
	if (g->state == SEV_GSTATE_RUNNING || g->state == SEV_GSTATE_SUPDATE)
		g->active = true;
	else
		g->pending = true;
	return SEV_STATUS_SUCCESS;
}

/* An ASID that ran a guest becomes dirty and every core's WBINVD_DONE flag is cleared
 * (sev_guest_deactivate: clear_wbinvd_done); a merely pending one goes back to clean. */
int emu_cmd_deactivate(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_handle *b = buf;
	struct emu_guest *g = emu_guest_find(fw, b->handle);

	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (!g->pending && !g->active)
		return SEV_STATUS_INACTIVE;
	if (g->active) {
		fw->asid_dirty[g->asid] = 1;
		fw->wbinvd_done = false;
	}
	g->asid = 0;
	g->pending = g->active = false;
	return SEV_STATUS_SUCCESS;
}

/* The checks DBG_DECRYPT and DBG_ENCRYPT share (sev_mcmd_dbg_decrypt/encrypt,
 * debug_crypt_common): alignment, handle, NODBG, activation. */
static int dbg_check(struct emu_fw *fw, const struct sev_cmd_dbg *b, struct emu_guest **ret)
{
	struct emu_guest *g;

	if (!ALIGNED16(b->src_addr) || !ALIGNED16(b->dst_addr))
		return SEV_STATUS_INVALID_ADDRESS;
	if (!ALIGNED16(b->len))
		return SEV_STATUS_INVALID_LEN;
	g = emu_guest_find(fw, b->handle);
	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (g->policy & SEV_POLICY_NODBG)
		return SEV_STATUS_POLICY_FAILURE;
	if (!g->pending && !g->active)
		return SEV_STATUS_INACTIVE;
	*ret = g;
	return SEV_STATUS_SUCCESS;
}

/* Guest plaintext at src (guest memory) → dst (any mapped memory). */
int emu_cmd_dbg_decrypt(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_dbg *b = buf;
	struct emu_guest *g = NULL;
	uint8_t chunk[EMU_GUEST_CHUNK];
	int st = dbg_check(fw, b, &g);

	if (!st && b->len)
		st = emu_guest_mem_bind(fw, g, b->src_addr, b->len);
	if (!st && b->len)
		st = emu_mem_check(fw->mem, b->dst_addr, b->len);
	for (uint32_t done = 0; !st && done < b->len;) {
		uint32_t n = MIN(b->len - done, EMU_GUEST_CHUNK);

		st = emu_guest_mem_get(fw, g, b->src_addr + done, chunk, n);
		if (!st)
			st = emu_mem_write(fw->mem, b->dst_addr + done, chunk, n);
		done += n;
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
	return st;
}

/* Plaintext at src (any mapped memory) → guest memory at dst, encrypted under the VEK. */
int emu_cmd_dbg_encrypt(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_dbg *b = buf;
	struct emu_guest *g = NULL;
	uint8_t chunk[EMU_GUEST_CHUNK];
	int st = dbg_check(fw, b, &g);

	if (!st && b->len)
		st = emu_guest_mem_bind(fw, g, b->dst_addr, b->len);
	if (!st && b->len)
		st = emu_mem_check(fw->mem, b->src_addr, b->len);
	for (uint32_t done = 0; !st && done < b->len;) {
		uint32_t n = MIN(b->len - done, EMU_GUEST_CHUNK);

		st = emu_mem_read(fw->mem, b->src_addr + done, chunk, n);
		if (!st)
			st = emu_guest_mem_put(fw, g, b->dst_addr + done, chunk, n);
		done += n;
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
	return st;
}

/* The legacy report (sev_mcmd_attestation): legal from LSECRET on (LSECRET, RUNNING, SUPDATE,
 * SENT); length query; signed by the PEK over bytes [0, 0x34). */
int emu_cmd_attestation(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_attestation *b = buf;
	struct emu_guest *g = emu_guest_find(fw, b->handle);
	struct sev_attestation_report rep;
	int st;

	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (g->state != SEV_GSTATE_LSECRET && g->state != SEV_GSTATE_RUNNING &&
	    g->state != SEV_GSTATE_SUPDATE && g->state != SEV_GSTATE_SENT)
		return SEV_STATUS_INVALID_GUEST_STATE;
	if (b->len < sizeof(rep)) {
		b->len = sizeof(rep);
		return SEV_STATUS_INVALID_LEN;
	}
	memset(&rep, 0, sizeof(rep));
	memcpy(rep.mnonce, b->mnonce, sizeof(rep.mnonce));
	memcpy(rep.launch_digest, g->launch_digest, sizeof(rep.launch_digest));
	rep.policy = g->policy;
	if (!fw->nv.owner.pek_key || attest_sev_report_sign(&rep, fw->nv.owner.pek_key) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	st = emu_mem_write(fw->mem, b->address, &rep, sizeof(rep));
	b->len = sizeof(rep);
	return st;
}
