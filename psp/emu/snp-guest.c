/* SEV-SNP guest contexts of the emulated firmware: SNP_GCTX_CREATE, SNP_LAUNCH_START,
 * SNP_LAUNCH_UPDATE, SNP_LAUNCH_FINISH, SNP_ACTIVATE, SNP_DECOMMISSION, SNP_GUEST_STATUS (SNP
 * ABI 56860 §8; every check in the order of AMD-ASPFW sev_mcmd.c snp_mcmd_*). A guest is named
 * by its context page, a 4 KiB page the host gave to firmware (Firmware state) that becomes a
 * Context page; the context itself lives in this process (secret memory), not in the page.
 * Guest memory is encrypted in place under the guest's memory key (AES-128-XTS, one data unit
 * per 4 KiB page tweaked with its system physical address). */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/util.h"
#include "psp/emu/guest.h"
#include "psp/emu/snp.h"

#define ADDR_RESERVED_MASK 0xfffull /* SNP_ADDR_RESERVED_MASK: page addresses, low bits 0 */
#define PAGE_2M (512ull * SEV_PAGE_SIZE)
/* The secrets page AMD-ASPFW writes (sev_mcmd.h SNP_LAUNCH_UPDATE_SECRETS_PAGE_VERSION,
 * snp_launch_update_secrets_page_t; Linux arch/x86/include/asm/sev.h struct snp_secrets_page):
 * version 3, with VMSA_TWEAK_BITMAP at 0x100 and TSC_FACTOR at 0x160. */
#define SECRETS_VERSION 3u
/* TSC_FACTOR: the percentage drop from nominal to mean TSC frequency (spread-spectrum clocking)
 * times 1000; AMD-ASPFW sev_rmp.h TSC_FACTOR_GENOA = (100000 - 99600) / 2, written for every
 * part. */
#define SECRETS_TSC_FACTOR 200u
#define VMSA_GUEST_TSC_SCALE 0x2F0u /* AMD-ASPFW sev_es.h: measured as zero */
#define VMSA_GUEST_TSC_OFFSET 0x2F8u
#define CPUID_COUNT_MAX 64u

struct emu_snp_guest *emu_snp_guest_find(struct emu_fw *fw, uint64_t gctx_paddr)
{
	struct emu_snp *s = fw->snp;

	for (uint32_t i = 0; s && i < EMU_SNP_GUEST_MAX; i++)
		if (s->guest[i] && s->guest[i]->gctx_paddr == gctx_paddr)
			return s->guest[i];
	return NULL;
}

bool emu_sev_asid_held(struct emu_fw *fw, uint32_t asid)
{
	for (uint32_t h = 1; fw->guests && h <= EMU_GUEST_MAX; h++) {
		struct emu_guest *o = emu_guest_find(fw, h);

		if (o && o->asid == asid && (o->pending || o->active))
			return true;
	}
	return false;
}

bool emu_snp_asid_held(struct emu_fw *fw, uint32_t asid)
{
	struct emu_snp *s = fw->snp;

	for (uint32_t i = 0; s && i < EMU_SNP_GUEST_MAX; i++)
		if (s->guest[i] && s->guest[i]->asid == asid)
			return true;
	return false;
}

static void guest_free(struct emu_snp *s, uint32_t i)
{
	secret_free(s->guest[i], sizeof(*s->guest[i]));
	s->guest[i] = NULL;
}

void emu_snp_guests_drop(struct emu_fw *fw)
{
	struct emu_snp *s = fw->snp;

	for (uint32_t i = 0; s && i < EMU_SNP_GUEST_MAX; i++)
		if (s->guest[i])
			guest_free(s, i);
	if (s)
		s->guest_count = 0;
}

/* The checks every guest command starts with: reserved address bits, SNP initialized, the
 * context page in the Context state (INVALID_GUEST otherwise). */
static int guest_lookup(struct emu_fw *fw, uint64_t gctx_paddr, struct emu_snp_guest **ret)
{
	struct emu_rmp_entry e;
	int st;

	if (gctx_paddr & ADDR_RESERVED_MASK)
		return SEV_STATUS_INVALID_PARAM;
	if (!emu_snp_get(fw))
		return SEV_STATUS_HWERROR_PLATFORM;
	if (fw->snp->state != SEV_SNP_PSTATE_INIT)
		return SEV_STATUS_INVALID_PLATFORM_STATE;
	st = emu_rmp_get(fw, gctx_paddr, &e);
	if (st)
		return st;
	*ret = emu_snp_guest_find(fw, gctx_paddr);
	if (emu_rmp_state_of(&e) != EMU_RMP_CONTEXT || !*ret)
		return SEV_STATUS_INVALID_GUEST;
	return SEV_STATUS_SUCCESS;
}

int emu_snp_gctx_create(struct emu_fw *fw, void *buf)
{
	struct sev_snp_cmd_addr *b = buf;
	struct emu_snp *s = emu_snp_get(fw);
	struct emu_snp_guest *g;
	struct emu_rmp_entry e;
	uint32_t i;
	int st;

	if (b->address & ADDR_RESERVED_MASK)
		return SEV_STATUS_INVALID_PARAM;
	if (!s)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (s->state != SEV_SNP_PSTATE_INIT)
		return SEV_STATUS_INVALID_PLATFORM_STATE;
	st = emu_rmp_get(fw, b->address, &e);
	if (st)
		return st;
	if (emu_rmp_state_of(&e) != EMU_RMP_FIRMWARE)
		return SEV_STATUS_INVALID_PAGE_STATE;
	if (e.big)
		return SEV_STATUS_INVALID_PAGE_SIZE;
	for (i = 0; i < EMU_SNP_GUEST_MAX && s->guest[i]; i++)
		;
	if (i == EMU_SNP_GUEST_MAX)
		return SEV_STATUS_RESOURCE_LIMIT;
	g = secret_alloc(sizeof(*g));
	if (!g)
		return SEV_STATUS_HWERROR_PLATFORM;
	memset(g, 0, sizeof(*g));
	g->gctx_paddr = b->address;
	g->state = SEV_SNP_GSTATE_INIT;
	g->launch_tcb = s->committed_tcb;
	e.vmsa = true; /* Firmware -> Context */
	if (emu_rmp_set(s->rmp, &e) < 0) {
		secret_free(g, sizeof(*g));
		return SEV_STATUS_HWERROR_PLATFORM;
	}
	s->guest[i] = g;
	return SEV_STATUS_SUCCESS;
}

/* POLICY checks of snp_mcmd_launch_start: bit 17 must be one, SMT must be allowed (the modelled
 * host runs SMT), the ABI version asked for must not exceed this firmware's, reserved bits and
 * the ABI 1.55+ bits this firmware does not offer are refused. */
static bool policy_ok(struct emu_fw *fw, uint64_t p)
{
	uint8_t ma = SEV_SNP_POLICY_ABI_MAJOR(p), mi = SEV_SNP_POLICY_ABI_MINOR(p);

	if (!(p & SEV_SNP_POLICY_RSVD_MBO) || !(p & SEV_SNP_POLICY_SMT))
		return false;
	if (ma > fw->cfg.api_major || (ma == fw->cfg.api_major && mi > fw->cfg.api_minor))
		return false;
	return (p & ~SEV_SNP_POLICY_KNOWN_MASK) == 0;
}

int emu_snp_launch_start(struct emu_fw *fw, void *buf)
{
	struct sev_snp_cmd_launch_start *b = buf;
	struct emu_snp_guest *g;
	int st;

	if ((b->flags & ~(SEV_SNP_START_MA_EN | SEV_SNP_START_IMI_EN)) ||
	    (b->ma_gctx_paddr & ADDR_RESERVED_MASK))
		return SEV_STATUS_INVALID_PARAM;
	st = guest_lookup(fw, b->gctx_paddr, &g);
	if (st)
		return st;
	if (g->state != SEV_SNP_GSTATE_INIT)
		return SEV_STATUS_INVALID_GUEST_STATE;
	/* Migration agents and incoming migration images are not modelled. */
	if (b->flags & (SEV_SNP_START_MA_EN | SEV_SNP_START_IMI_EN))
		return SEV_STATUS_UNSUPPORTED;
	if (!policy_ok(fw, b->policy))
		return SEV_STATUS_POLICY_FAILURE;
	if (RAND_priv_bytes(&g->vmpck[0][0], sizeof(g->vmpck)) != 1 ||
	    RAND_priv_bytes(g->vek, sizeof(g->vek)) != 1 ||
	    RAND_priv_bytes(g->vmrk, sizeof(g->vmrk)) != 1 ||
	    RAND_bytes(g->report_id, sizeof(g->report_id)) != 1)
		return SEV_STATUS_HWERROR_PLATFORM;
	g->policy = b->policy;
	memcpy(g->gosvw, b->gosvw, sizeof(g->gosvw));
	g->state = SEV_SNP_GSTATE_LAUNCH;
	fw->snp->guest_count++;
	return SEV_STATUS_SUCCESS;
}

/* VMSA_TWEAK_BITMAP: bit n set when quadword n of the VMSA is one the VMSA register protection
 * tweak covers, made once at SNP_INIT (AMD-ASPFW sev_es.c sev_es_create_vmsa_bitmap): RIP
 * (0x178), RSP (0x1D8), RAX (0x1F8), RCX..RDI (0x308..0x338 but for 0x320), R8..R15
 * (0x340..0x378), the FPU state 0x420..0x66F (x87, XMM, YMM) and 0x980..0xFBF (the AVX-512
 * state), as firmware's table has them. One little-endian u64 per 64 quadwords. */
static const uint64_t vmsa_tweak_bitmap[8] = {
	0x8800800000000000ull, 0x0000ffee00000000ull, 0xfffffffffffffff0ull, 0x0000000000003fffull,
	0xffff000000000000ull, 0xffffffffffffffffull, 0xffffffffffffffffull, 0x00ffffffffffffffull,
};
_Static_assert(offsetof(struct sev_snp_secrets_page, vmsa_tweak_bitmap) == 0x100, "bitmap");
_Static_assert(offsetof(struct sev_snp_secrets_page, tsc_factor) == 0x160, "TSC_FACTOR");

void emu_snp_secrets_build(struct emu_fw *fw, const struct emu_snp_guest *g,
			   struct sev_snp_secrets_page *p)
{
	memset(p, 0, sizeof(*p));
	p->version = SECRETS_VERSION;
	p->fms = fw->snp->product->fms;
	memcpy(p->gosvw, g->gosvw, sizeof(p->gosvw));
	memcpy(p->vmpck, g->vmpck, sizeof(p->vmpck));
	for (size_t i = 0; i < ELEMENTSOF(vmsa_tweak_bitmap); i++)
		put_le64(p->vmsa_tweak_bitmap + 8 * i, vmsa_tweak_bitmap[i]);
	p->tsc_factor = SECRETS_TSC_FACTOR;
}

/* CPUID page (AMD-ASPFW snp_launch_update_cpuid_page_t): count u32, 12 reserved bytes, then
 * up to 64 functions of 48 bytes {eax_in, ecx_in, xcr0_in u64, xss_in u64, eax, ebx, ecx, edx,
 * reserved u64}. Checked as AMD-ASPFW cpuid_lookup.c sanitize_cpuid_list does: only functions
 * in the standard (0..0xFFFF) and extended (0x8000_0000..0x8000_FFFF) ranges; each function's
 * reserved word must be 0; every function is checked (not only up to the first bad one) and
 * every out-of-range value is corrected in the page, which firmware writes back before
 * failing with INVALID_PARAM. The leaves the emulated platform has values for:
 *   Fn0000_0000 EAX (largest standard leaf): at most 0x10 (FN00000000_EAX_DEFAULT, LESSTHAN);
 *   Fn0000_0001 EAX: family/model/stepping not above the part's (compare_FMS), bits 31:28 and
 *     15:12 zero (FN00000001_EAX_RESERVED);
 *   Fn8000_001F: cpuid_8000001f_check.
 * Firmware's table also holds the PPR's rules for the other leaves it knows (7, 0xD, 8000_0001,
 * 8000_0008, 8000_0022, ...) and wants unlisted leaves all zero; the emulator has no host
 * values for those and leaves them unchecked. */
static uint32_t fms_key(uint32_t eax)
{
	/* AMD APM vol. 3, CPUID Fn0000_0001_EAX: family = base + extended, model = ext:base */
	uint32_t family = ((eax >> 8) & 0xf) + ((eax >> 20) & 0xff);
	uint32_t model = ((eax >> 16) & 0xf) << 4 | ((eax >> 4) & 0xf);

	return family << 12 | model << 4 | (eax & 0xf);
}

static bool cpuid_in_range(uint32_t leaf)
{
	return leaf <= 0xFFFFu || (leaf >= 0x80000000u && leaf <= 0x8000FFFFu);
}

/* Fn8000_001F (AMD-ASPFW FN8000001F_CUSTOM): EAX only the platform's features; EBX bits 5:0
 * (the C-bit position) the platform's, bits 11:6 (physical address reduction) unchecked,
 * bits 15:12 (number of VMPLs) at most 4 (FN8000001F_EBX_VMPL_SUP_MAX), bits 31:16 zero; ECX
 * and EDX unchecked, as firmware has them. False with the registers corrected. */
static bool cpuid_8000001f_check(struct emu_fw *fw, uint32_t *eax, uint32_t *ebx)
{
	uint32_t cbit = fw->cfg.cpuid_ebx & 0x3f, vmpls = (*ebx >> 12) & 0xf;
	bool ok = !(*eax & ~fw->cfg.cpuid_eax);

	*eax &= fw->cfg.cpuid_eax;
	if ((*ebx & 0x3f) != cbit || vmpls > 4 || (*ebx >> 16)) {
		*ebx = (*ebx & 0xfc0u) | MIN(vmpls, 4u) << 12 | cbit;
		ok = false;
	}
	return ok;
}

/* One function at f: true when it passes; its registers corrected in place otherwise. */
static bool cpuid_function_check(struct emu_fw *fw, uint8_t *f)
{
	uint32_t leaf = get_le32(f), sub = get_le32(f + 4), fms = fw->snp->product->fms;
	uint32_t eax = get_le32(f + 24), ebx = get_le32(f + 28);
	bool ok = get_le64(f + 40) == 0;

	if (leaf == 0 && sub == 0 && eax > 0x10) {
		eax = 0x10;
		ok = false;
	}
	if (leaf == 1 && sub == 0) {
		if (fms_key(eax) > fms_key(fms)) {
			eax = fms;
			ok = false;
		}
		if (eax & 0xF000F000u) {
			eax &= ~0xF000F000u;
			ok = false;
		}
	}
	if (leaf == 0x8000001Fu && sub == 0)
		ok = cpuid_8000001f_check(fw, &eax, &ebx) && ok;
	put_le32(f + 24, eax);
	put_le32(f + 28, ebx);
	return ok;
}

static int cpuid_page_check(struct emu_fw *fw, uint8_t *page, bool *corrected)
{
	uint32_t count = get_le32(page);
	bool failed = false;

	*corrected = false;
	if (get_le32(page + 4) || get_le64(page + 8))
		return SEV_STATUS_INVALID_PARAM;
	if (count > CPUID_COUNT_MAX)
		return SEV_STATUS_INVALID_PARAM;
	for (uint32_t i = 0; i < count; i++) {
		uint8_t *f = page + 16 + 48 * i;
		uint8_t before[48];

		if (!cpuid_in_range(get_le32(f)))
			continue;
		memcpy(before, f, sizeof(before));
		if (!cpuid_function_check(fw, f))
			failed = true;
		if (memcmp(before, f, sizeof(before)) != 0)
			*corrected = true;
	}
	return failed ? SEV_STATUS_INVALID_PARAM : SEV_STATUS_SUCCESS;
}

static int sha384(const void *p, size_t n, uint8_t out[48])
{
	unsigned int len = 48;

	return EVP_Digest(p, n, out, &len, EVP_sha384(), NULL) == 1 ? 0 : -EIO;
}

/* One 4 KiB unit of SNP_LAUNCH_UPDATE: the page's new contents (by type), its PAGE_INFO
 * folded into the launch digest, then the page encrypted in place. */
static int update_unit(struct emu_fw *fw, struct emu_snp_guest *g, uint64_t paddr, uint64_t gpa,
		       unsigned type, const struct sev_snp_cmd_launch_update *b)
{
	struct sev_snp_page_info pi = { .length = sizeof(pi), .page_type = (uint8_t)type };
	uint8_t page[SEV_PAGE_SIZE];
	WIPE_ON_EXIT(page, sizeof(page)); /* the secrets page holds the VMPCKs */
	bool corrected;
	int st;

	st = emu_mem_read(fw->mem, paddr, page, SEV_PAGE_SIZE);
	if (st)
		return st;
	if (type == SEV_SNP_PAGE_NORMAL && sha384(page, SEV_PAGE_SIZE, pi.contents) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (type == SEV_SNP_PAGE_VMSA) {
		uint8_t m[SEV_PAGE_SIZE];

		memcpy(m, page, sizeof(m));
		memset(m + VMSA_GUEST_TSC_SCALE, 0, 16); /* scale and offset measured as zero */
		st = sha384(m, sizeof(m), pi.contents);
		OPENSSL_cleanse(m, sizeof(m));
		if (st < 0)
			return SEV_STATUS_HWERROR_PLATFORM;
	}
	if (type == SEV_SNP_PAGE_ZERO)
		memset(page, 0, SEV_PAGE_SIZE);
	if (type == SEV_SNP_PAGE_SECRETS)
		emu_snp_secrets_build(fw, g, (struct sev_snp_secrets_page *)page);
	if (type == SEV_SNP_PAGE_CPUID) {
		st = cpuid_page_check(fw, page, &corrected);
		if (st) {
			if (corrected) /* the corrected page goes back to the host, unencrypted */
				emu_mem_write(fw->mem, paddr, page, SEV_PAGE_SIZE);
			return st;
		}
	}
	pi.imi_page = (b->flags & SEV_SNP_UPDATE_IMI) ? 1 : 0;
	pi.vmpl1_perms = (uint8_t)(b->perms >> 8);
	pi.vmpl2_perms = (uint8_t)(b->perms >> 16);
	pi.vmpl3_perms = (uint8_t)(b->perms >> 24);
	memcpy(pi.digest_cur, g->ld, sizeof(g->ld));
	pi.gpa = gpa;
	if (sha384(&pi, sizeof(pi), g->ld) < 0 ||
	    emu_vek_crypt(g->vek, paddr, page, page, SEV_PAGE_SIZE, true) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (type == SEV_SNP_PAGE_SECRETS)
		g->secrets_paddr = paddr;
	return emu_mem_write(fw->mem, paddr, page, SEV_PAGE_SIZE);
}

static int update_check_type(unsigned type, bool big)
{
	switch (type) {
	case SEV_SNP_PAGE_NORMAL:
	case SEV_SNP_PAGE_ZERO:
	case SEV_SNP_PAGE_UNMEASURED:
		return SEV_STATUS_SUCCESS;
	case SEV_SNP_PAGE_VMSA:
	case SEV_SNP_PAGE_SECRETS:
	case SEV_SNP_PAGE_CPUID:
		return big ? SEV_STATUS_INVALID_PAGE_SIZE : SEV_STATUS_SUCCESS;
	default:
		return SEV_STATUS_INVALID_PARAM;
	}
}

int emu_snp_launch_update(struct emu_fw *fw, void *buf)
{
	struct sev_snp_cmd_launch_update *b = buf;
	unsigned type = SEV_SNP_UPDATE_TYPE(b->flags);
	bool big = b->flags & SEV_SNP_UPDATE_2M;
	struct emu_snp_guest *g;
	struct emu_rmp_entry e;
	uint64_t units;
	int st;

	if ((b->address & ADDR_RESERVED_MASK) || (b->flags >> 5) || b->reserved ||
	    (b->perms & 0xff) || b->reserved2)
		return SEV_STATUS_INVALID_PARAM;
	st = guest_lookup(fw, b->gctx_paddr, &g);
	if (st)
		return st;
	st = emu_rmp_get(fw, b->address, &e);
	if (st)
		return st;
	if (emu_rmp_state_of(&e) != EMU_RMP_PRE_GUEST)
		return SEV_STATUS_INVALID_PAGE_STATE;
	if (e.big != big)
		return SEV_STATUS_INVALID_PAGE_SIZE;
	if (big && b->address % PAGE_2M)
		return SEV_STATUS_INVALID_ADDRESS;
	st = update_check_type(type, big);
	if (st)
		return st;
	if (g->state != SEV_SNP_GSTATE_LAUNCH)
		return SEV_STATUS_INVALID_GUEST_STATE;
	if (!g->asid)
		return SEV_STATUS_INACTIVE;
	if (e.asid != g->asid)
		return SEV_STATUS_INVALID_PAGE_OWNER;
	if (b->flags & SEV_SNP_UPDATE_IMI)
		return SEV_STATUS_INVALID_PARAM; /* IMI_EN is refused at LAUNCH_START */
	units = big ? 512 : 1;
	for (uint64_t u = 0; u < units; u++) {
		st = update_unit(fw, g, b->address + u * SEV_PAGE_SIZE,
				 e.gpa + u * SEV_PAGE_SIZE, type, b);
		if (st)
			return st;
	}
	e.validated = true;
	e.immutable = false;
	e.vmsa = type == SEV_SNP_PAGE_VMSA;
	e.vmpl_perms[0] = (uint8_t)(b->perms >> 8);
	e.vmpl_perms[1] = (uint8_t)(b->perms >> 16);
	e.vmpl_perms[2] = (uint8_t)(b->perms >> 24);
	return emu_rmp_set(fw->snp->rmp, &e) < 0 ? SEV_STATUS_HWERROR_PLATFORM : SEV_STATUS_SUCCESS;
}

int emu_snp_launch_finish(struct emu_fw *fw, void *buf)
{
	struct sev_snp_cmd_launch_finish *b = buf;
	struct emu_snp_guest *g;
	int st;

	if (b->flags & ~(SEV_SNP_FINISH_ID_BLOCK_EN | SEV_SNP_FINISH_AUTH_KEY_EN |
			 SEV_SNP_FINISH_VCEK_DISABLED))
		return SEV_STATUS_INVALID_PARAM;
	st = guest_lookup(fw, b->gctx_paddr, &g);
	if (st)
		return st;
	if (g->state != SEV_SNP_GSTATE_LAUNCH)
		return SEV_STATUS_INVALID_GUEST_STATE;
	if (!g->asid)
		return SEV_STATUS_INACTIVE;
	if (b->flags & SEV_SNP_FINISH_ID_BLOCK_EN) {
		st = emu_snp_id_check(fw, g, b);
		if (st)
			return st;
	} else if (b->flags & SEV_SNP_FINISH_AUTH_KEY_EN) {
		return SEV_STATUS_INVALID_PARAM; /* the author key signs the ID key of a block */
	}
	memcpy(g->host_data, b->host_data, sizeof(g->host_data));
	g->author_key_en = b->flags & SEV_SNP_FINISH_AUTH_KEY_EN;
	g->vcek_dis = b->flags & SEV_SNP_FINISH_VCEK_DISABLED;
	g->state = SEV_SNP_GSTATE_RUNNING;
	return SEV_STATUS_SUCCESS;
}

/* snp_mcmd_activate, then the common activation (mcmd_activate_common): an SNP guest is an
 * SEV-ES guest for the ASID split, so 1 <= ASID < MIN_SEV_ASID (CPUID Fn8000_001F EDX). */
int emu_snp_activate(struct emu_fw *fw, void *buf)
{
	struct sev_snp_cmd_activate *b = buf;
	struct emu_snp_guest *g;
	int st = guest_lookup(fw, b->gctx_paddr, &g);

	if (st)
		return st;
	if (g->state != SEV_SNP_GSTATE_LAUNCH && g->state != SEV_SNP_GSTATE_RUNNING)
		return SEV_STATUS_INVALID_GUEST_STATE;
	if (b->asid == 0 || b->asid > fw->cfg.cpuid_ecx)
		return SEV_STATUS_INVALID_ASID;
	if (emu_rmp_count_asid(fw->snp->rmp, b->asid))
		return SEV_STATUS_INVALID_CONFIG; /* pages still assigned to that ASID */
	if (emu_snp_asid_held(fw, b->asid) || emu_sev_asid_held(fw, b->asid))
		return SEV_STATUS_ASID_OWNED;
	if (g->asid)
		return SEV_STATUS_ACTIVE;
	if (fw->asid_dirty[b->asid])
		return SEV_STATUS_DFFLUSH_REQUIRED;
	if (b->asid >= fw->cfg.cpuid_edx)
		return SEV_STATUS_INVALID_ASID;
	g->asid = b->asid;
	return SEV_STATUS_SUCCESS;
}

int emu_snp_decommission(struct emu_fw *fw, void *buf)
{
	struct sev_snp_cmd_addr *b = buf;
	struct emu_snp *s = fw->snp;
	struct emu_snp_guest *g;
	struct emu_rmp_entry e;
	int st = guest_lookup(fw, b->address, &g);

	if (st)
		return st;
	if (g->asid && g->state == SEV_SNP_GSTATE_RUNNING) {
		/* it ran (on any CCX: SNP guests are not bound to CCXs here): dirty until DF_FLUSH */
		fw->asid_dirty[g->asid] |= fw->ccx_all;
		fw->wbinvd_done &= ~fw->ccx_all;
	}
	if (g->state != SEV_SNP_GSTATE_INIT)
		s->guest_count--;
	emu_rmp_get(fw, b->address, &e);
	e.vmsa = false; /* Context -> Firmware */
	emu_rmp_set(s->rmp, &e);
	for (uint32_t i = 0; i < EMU_SNP_GUEST_MAX; i++)
		if (s->guest[i] == g)
			guest_free(s, i);
	return SEV_STATUS_SUCCESS;
}

int emu_snp_guest_status(struct emu_fw *fw, void *buf)
{
	struct sev_snp_cmd_guest_status *b = buf;
	struct sev_snp_guest_status out = { 0 };
	struct emu_snp_guest *g;
	int st;

	if (b->gctx_paddr & ADDR_RESERVED_MASK ||
	    (b->status_paddr % SEV_PAGE_SIZE) + sizeof(out) > SEV_PAGE_SIZE)
		return SEV_STATUS_INVALID_PARAM;
	st = guest_lookup(fw, b->gctx_paddr, &g);
	if (st)
		return st;
	st = emu_snp_check_fw_page(fw, b->status_paddr);
	if (st)
		return st;
	out.policy = g->policy;
	out.asid = g->asid;
	out.state = (uint8_t)g->state;
	out.flags = g->vcek_dis ? 1u : 0u;
	return emu_mem_write(fw->mem, b->status_paddr, &out, sizeof(out));
}

int emu_snp_ctl_secrets(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	struct emu_snp_guest *g;
	uint64_t paddr;

	if (!emu_snp_get(fw)) {
		*len = (size_t)snprintf((char *)out, cap, "snp-secrets: SNP is off (--snp)");
		return -EOPNOTSUPP;
	}
	if (!arg || parse_u64(arg, &paddr) < 0 || !(g = emu_snp_guest_find(fw, paddr))) {
		*len = (size_t)snprintf((char *)out, cap, "snp-secrets takes the guest context "
					"page address of a live SNP guest");
		return -EINVAL;
	}
	if (!g->secrets_paddr || cap < SEV_PAGE_SIZE) {
		*len = (size_t)snprintf((char *)out, cap, "snp-secrets: this guest has no secrets "
					"page (SNP_LAUNCH_UPDATE with PAGE_TYPE_SECRETS)");
		return -ENOENT;
	}
	emu_snp_secrets_build(fw, g, (struct sev_snp_secrets_page *)out);
	*len = SEV_PAGE_SIZE;
	return 0;
}

/* The checks SNP_DBG_DECRYPT and SNP_DBG_ENCRYPT share (AMD-ASPFW snp_mcmd_dbg_decrypt/
 * encrypt): reserved address bits, SNP INIT, the context page, then the guest page's state
 * (Guest-Invalid/Valid to decrypt, Pre-Guest to encrypt into) and owner, POLICY.DEBUG, and
 * activation. The other page: a Firmware page to receive plaintext, any mapped page as the
 * plaintext source. */
static int dbg_check(struct emu_fw *fw, const struct sev_snp_cmd_dbg *b, bool decrypt,
		     struct emu_snp_guest **ret)
{
	uint64_t guest_page = decrypt ? b->src_addr : b->dst_addr;
	struct emu_rmp_entry e, o;
	enum emu_rmp_state st_g;
	int st;

	if ((b->src_addr | b->dst_addr) & ADDR_RESERVED_MASK)
		return SEV_STATUS_INVALID_PARAM;
	st = guest_lookup(fw, b->gctx_paddr, ret);
	if (st)
		return st;
	st = emu_rmp_get(fw, guest_page, &e);
	if (!st)
		st = emu_rmp_get(fw, decrypt ? b->dst_addr : b->src_addr, &o);
	if (st)
		return st;
	st_g = emu_rmp_state_of(&e);
	if (decrypt ? (st_g != EMU_RMP_GUEST_INVALID && st_g != EMU_RMP_GUEST_VALID) ||
			      emu_rmp_state_of(&o) != EMU_RMP_FIRMWARE :
		      st_g != EMU_RMP_PRE_GUEST)
		return SEV_STATUS_INVALID_PAGE_STATE;
	if (e.big)
		return SEV_STATUS_INVALID_PAGE_SIZE;
	if (e.asid != (*ret)->asid)
		return SEV_STATUS_INVALID_PAGE_OWNER;
	if (!((*ret)->policy & SEV_SNP_POLICY_DEBUG))
		return SEV_STATUS_POLICY_FAILURE;
	if (!(*ret)->asid)
		return SEV_STATUS_INACTIVE;
	return SEV_STATUS_SUCCESS;
}

/* One 4 KiB page: src decrypted with the guest's key (its tweak, the source address) into the
 * Firmware page dst, or the host's plaintext src encrypted into the guest page dst. */
static int dbg_crypt(struct emu_fw *fw, void *buf, bool decrypt)
{
	struct sev_snp_cmd_dbg *b = buf;
	struct emu_snp_guest *g;
	uint8_t page[SEV_PAGE_SIZE];
	WIPE_ON_EXIT(page, sizeof(page));
	int st = dbg_check(fw, b, decrypt, &g);

	if (st)
		return st;
	st = emu_mem_read(fw->mem, b->src_addr, page, sizeof(page));
	if (st)
		return st;
	if (emu_vek_crypt(g->vek, decrypt ? b->src_addr : b->dst_addr, page, page, sizeof(page),
			  !decrypt) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	return emu_mem_write(fw->mem, b->dst_addr, page, sizeof(page));
}

int emu_snp_dbg_decrypt(struct emu_fw *fw, void *buf)
{
	return dbg_crypt(fw, buf, true);
}

int emu_snp_dbg_encrypt(struct emu_fw *fw, void *buf)
{
	return dbg_crypt(fw, buf, false);
}
