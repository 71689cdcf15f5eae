/* ASIDs and the running guest in the emulated SEV firmware: ACTIVATE, DEACTIVATE (SEV API
 * §6.9-6.10), DBG_DECRYPT/DBG_ENCRYPT (§7) and ATTESTATION (§6.8). The ASID model follows
 * AMD-ASPFW sev_mcmd.c (mcmd_activate_common, activate_common, sev_mcmd_deactivate),
 * sev_guest.c (sev_guest_activate, sev_guest_deactivate) and sev_es.c (sev_es_validate_asid)
 * per CCX (--ccx N): on each CCX an ASID is clean, dirty (fw->asid_dirty: ran a guest since
 * the last DF_FLUSH there), allocated (a pending activation) or in use (an active guest).
 * DF_FLUSH itself is the platform's row: it cleans the dirty ASIDs of every CCX whose cores
 * the host reported WBINVD on. */
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

/* activate_common and sev_guest_activate, after the caller's own checks: SENT; a guest's
 * first activation needs the ASID clean on every CCX (dirty anywhere DFFLUSH_REQUIRED, held
 * ASID_OWNED), a later one (ACTIVATE_EX only) the same ASID (ACTIVE); the type's range
 * (sev_es_validate_asid: INVALID_ASID); dirty on a chosen CCX DFFLUSH_REQUIRED. The CCXs add
 * up; pending until LAUNCH_FINISH, active on a RUNNING (or SUPDATE) guest. */
static int activate_common(struct emu_fw *fw, struct emu_guest *g, uint32_t asid, uint32_t ccxs)
{
	if (g->state == SEV_GSTATE_SENT)
		return SEV_STATUS_INVALID_GUEST_STATE;
	if (!g->pending && !g->active) {
		if (fw->asid_dirty[asid])
			return SEV_STATUS_DFFLUSH_REQUIRED;
		if (asid_held(fw, asid))
			return SEV_STATUS_ASID_OWNED;
	} else if (asid != g->asid)
		return SEV_STATUS_ACTIVE;
	if (!asid_fits_type(fw, g, asid))
		return SEV_STATUS_INVALID_ASID;
	if (fw->asid_dirty[asid] & ccxs)
		return SEV_STATUS_DFFLUSH_REQUIRED;
	g->asid = asid;
	g->ccxs |= ccxs;
	if (g->state == SEV_GSTATE_RUNNING || g->state == SEV_GSTATE_SUPDATE) {
		g->active = true;
		g->pending = false;
	} else if (!g->active)
		g->pending = true;
	return SEV_STATUS_SUCCESS;
}

/* mcmd_activate_common: range, owner (any guest, this one too), this guest already holding an
 * ASID, then activate_common on every CCX. */
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
	return activate_common(fw, g, b->asid, fw->ccx_all);
}

/* APIC IDs → CCXs (apicid_to_ccx_bitmask): an ID that is no present core's is INVALID_CONFIG.
 * (Firmware answers an ID of 512 or more with an internal error code defined outside the
 * published source; the emulator gives INVALID_CONFIG there too.) */
static int apic_ids_to_ccxs(struct emu_fw *fw, const uint32_t *ids, uint32_t n, uint32_t *ret)
{
	uint32_t ccxs = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t c = ids[i] / EMU_APIC_IDS_PER_CCX;

		if (c >= EMU_CCX_MAX || !(fw->ccx_all & (1u << c)))
			return SEV_STATUS_INVALID_CONFIG;
		ccxs |= 1u << c;
	}
	*ret = ccxs;
	return SEV_STATUS_SUCCESS;
}

#define APIC_ID_LIST_MAX 1024u /* AMD-ASPFW apicid.h APIC_ID_LIST_MAX_CNT: one page of u32 */

/* ACTIVATE_EX (AMD-ASPFW sev_mcmd.c sev_mcmd_activate_ex, mcmd_activate_ex_common): the
 * buffer's own length INVALID_PARAM, handle, ASID range, the APIC ID count (1..1024,
 * INVALID_PARAM), the list read from memory, the IDs' CCXs, then activate_common on those
 * CCXs. Unlike ACTIVATE it does not refuse a guest that already holds the ASID: a second
 * ACTIVATE_EX with the same ASID adds CCXs. */
int emu_cmd_activate_ex(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_activate_ex *b = buf;
	struct emu_guest *g;
	uint32_t ids[APIC_ID_LIST_MAX], ccxs = 0;
	int st;

	if (b->length != sizeof(*b))
		return SEV_STATUS_INVALID_PARAM;
	g = emu_guest_find(fw, b->handle);
	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (b->asid == 0 || b->asid > fw->cfg.cpuid_ecx)
		return SEV_STATUS_INVALID_ASID;
	if (b->num_ids == 0 || b->num_ids > APIC_ID_LIST_MAX)
		return SEV_STATUS_INVALID_PARAM;
	st = emu_mem_read(fw->mem, b->ids_address, ids, (size_t)b->num_ids * sizeof(ids[0]));
	if (!st)
		st = apic_ids_to_ccxs(fw, ids, b->num_ids, &ccxs);
	return st ? st : activate_common(fw, g, b->asid, ccxs);
}

/* An ASID that ran a guest becomes dirty on the guest's CCXs and their cores' WBINVD_DONE
 * flags are cleared (sev_mcmd_deactivate, sev_guest_deactivate: clear_wbinvd_done); a
 * merely pending one goes back to clean. */
int emu_cmd_deactivate(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_handle *b = buf;
	struct emu_guest *g = emu_guest_find(fw, b->handle);

	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (!g->pending && !g->active)
		return SEV_STATUS_INACTIVE;
	if (g->active) {
		fw->asid_dirty[g->asid] |= g->ccxs;
		fw->wbinvd_done &= ~g->ccxs;
	}
	g->asid = 0;
	g->ccxs = 0;
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

#define COPY_UNIT 4096u /* AMD-ASPFW sev_mcmd.c SEV_COPY_LENGTH_MULT, SEV_COPY_ALIGN_MBZ_MASK */

/* COPY (sev_mcmd_copy): move encrypted guest pages. Handle, activation (INACTIVE), length a
 * non-zero multiple of 4 KiB (INVALID_LEN), both addresses 4 KiB aligned (INVALID_ADDRESS);
 * source and destination whose first pages overlap: SUCCESS at once, nothing copied. Else the
 * pages are decrypted at the source and encrypted at the destination under the guest's key
 * (copy_to_x86_encrypted_from_x86_encrypted): here, plaintext from the guest's view at src
 * put at dst, whose ciphertext then carries dst's tweak. */
int emu_cmd_copy(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_copy *b = buf;
	struct emu_guest *g = emu_guest_find(fw, b->handle);
	uint8_t chunk[EMU_GUEST_CHUNK];
	int st;

	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (!g->pending && !g->active)
		return SEV_STATUS_INACTIVE;
	if (b->len == 0 || b->len % COPY_UNIT)
		return SEV_STATUS_INVALID_LEN;
	if (b->src_addr % COPY_UNIT || b->dst_addr % COPY_UNIT)
		return SEV_STATUS_INVALID_ADDRESS;
	if (b->src_addr < b->dst_addr + COPY_UNIT && b->dst_addr < b->src_addr + COPY_UNIT)
		return SEV_STATUS_SUCCESS;
	st = emu_guest_mem_bind(fw, g, b->src_addr, b->len);
	if (!st)
		st = emu_guest_mem_bind(fw, g, b->dst_addr, b->len);
	for (uint32_t done = 0; !st && done < b->len;) {
		uint32_t n = MIN(b->len - done, EMU_GUEST_CHUNK);

		st = emu_guest_mem_get(fw, g, b->src_addr + done, chunk, n);
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
