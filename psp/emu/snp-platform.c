/* SEV-SNP platform commands of the emulated firmware (SNP ABI 56860 chapter 8; behaviour
 * checked against AMD-ASPFW sev_uapp/src/sev_mcmd.c snp_mcmd_init_common,
 * snp_mcmd_shutdown_common, snp_mcmd_platform_status, snp_mcmd_config, snp_mcmd_commit,
 * snp_mcmd_feature_info, and sev_dispatch.c: no SNP command has a dispatcher state check, each
 * handler checks the SNP state itself). The rows here are EMU_IN_ANY: the SEV platform state
 * says nothing about SNP's. The SNP and SEV platforms share the ASID flags: SNP_INIT marks every
 * ASID dirty and clears WBINVD_DONE as INIT does, SNP_DF_FLUSH is DF_FLUSH. */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"
#include "psp/emu/guest.h"
#include "psp/emu/snp.h"

/* CPUID Fn0000_0001 EAX: Milan B0 (the vectors' VCEK says Milan-B0), Genoa B1, Turin (family
 * 1Ah model 02h). Milan reports version 2 (AMD-ASPFW; the vectors' report), the newer parts
 * version 3 with the CPUID fields. The VCEK extensions as the vectors' Milan and Turin VCEKs. */
static const struct emu_snp_product_info products[] = {
	[EMU_SNP_MILAN] = { "Milan", "Milan-B0", 0x00A00F10u, 2, 0, false },
	[EMU_SNP_GENOA] = { "Genoa", "Genoa-B1", 0x00A10F11u, 3, 0, false },
	[EMU_SNP_TURIN] = { "Turin", "Turin", 0x00B00F21u, 3, 1, true },
};

const struct emu_snp_product_info *emu_snp_product_info(int product)
{
	return &products[product >= 0 && product < (int)ELEMENTSOF(products) ? product : 0];
}

int emu_snp_product_parse(const char *s)
{
	for (size_t i = 0; i < ELEMENTSOF(products); i++)
		if (strcasecmp(s, products[i].gen) == 0)
			return (int)i;
	return -EINVAL;
}

uint64_t emu_snp_tcb_pack(const struct emu_snp_tcb *t, bool turin)
{
	if (turin)
		return (uint64_t)t->fmc | (uint64_t)t->bl << 8 | (uint64_t)t->tee << 16 |
		       (uint64_t)t->snp << 24 | (uint64_t)t->ucode << 56;
	return (uint64_t)t->bl | (uint64_t)t->tee << 8 | (uint64_t)t->snp << 48 |
	       (uint64_t)t->ucode << 56;
}

void emu_snp_tcb_unpack(uint64_t v, bool turin, struct emu_snp_tcb *t)
{
	*t = (struct emu_snp_tcb){ .ucode = (v >> 56) & 0xff };
	if (turin) {
		t->fmc = v & 0xff;
		t->bl = (v >> 8) & 0xff;
		t->tee = (v >> 16) & 0xff;
		t->snp = (v >> 24) & 0xff;
		return;
	}
	t->bl = v & 0xff;
	t->tee = (v >> 8) & 0xff;
	t->snp = (v >> 48) & 0xff;
}

static int tcb_field(struct emu_snp_tcb *t, const char *name, uint8_t v)
{
	if (strcmp(name, "fmc") == 0)
		t->fmc = v;
	else if (strcmp(name, "bl") == 0)
		t->bl = v;
	else if (strcmp(name, "tee") == 0)
		t->tee = v;
	else if (strcmp(name, "snp") == 0)
		t->snp = v;
	else if (strcmp(name, "ucode") == 0)
		t->ucode = v;
	else
		return -EINVAL;
	return 0;
}

int emu_snp_tcb_parse(const char *s, struct emu_snp_tcb *ret)
{
	_cleanup_free_ char *copy = strdup(s);
	struct emu_snp_tcb t = *ret;
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		uint32_t v;

		if (!eq)
			return -EINVAL;
		*eq = 0;
		if (parse_u32(eq + 1, &v) < 0 || v > 255 || tcb_field(&t, tok, (uint8_t)v) < 0)
			return -EINVAL;
	}
	*ret = t;
	return 0;
}

/* A component-wise comparison: is any SVN of a above b's? (tcb_compare_versions > 0) */
static bool tcb_above(uint64_t a, uint64_t b, bool turin)
{
	struct emu_snp_tcb x, y;

	emu_snp_tcb_unpack(a, turin, &x);
	emu_snp_tcb_unpack(b, turin, &y);
	return x.fmc > y.fmc || x.bl > y.bl || x.tee > y.tee || x.snp > y.snp ||
	       x.ucode > y.ucode;
}

uint64_t emu_snp_reported_tcb(const struct emu_snp *s)
{
	return s->config_tcb ? s->config_tcb : s->committed_tcb;
}

/* The chip's VCEK seed. On silicon it is fused (the boot ROM hands its first hash stick to the
 * bootloader); here it is HMAC-SHA384 keyed with the chip-unique key's private scalar, so it is
 * as stable as the chip identity in the NV file. */
static int seed_derive(struct emu_fw *fw, uint8_t seed[EMU_SNP_SEED_SIZE])
{
	static const char label[] = "sev-psp-emu snp chip seed";
	_cleanup_(BN_clear_freep) BIGNUM *d = NULL;
	uint8_t key[32];
	size_t n = EMU_SNP_SEED_SIZE;
	int r = -EIO;

	if (!fw->nv.chip.cuk ||
	    EVP_PKEY_get_bn_param(fw->nv.chip.cuk, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 ||
	    BN_bn2binpad(d, key, sizeof(key)) != (int)sizeof(key))
		return -EIO;
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA384", NULL, key, sizeof(key),
		      (const uint8_t *)label, sizeof(label) - 1, seed, n, &n) &&
	    n == EMU_SNP_SEED_SIZE)
		r = 0;
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

/* The VCEK follows the reported TCB (snp_mcmd_config re-derives it there). */
static int vcek_refresh(struct emu_snp *s)
{
	uint64_t tcb = emu_snp_reported_tcb(s);
	EVP_PKEY *k = NULL;

	if (s->vcek && s->vcek_tcb == tcb)
		return SEV_STATUS_SUCCESS; /* the same chip and TCB: the same VCEK */
	if (emu_snp_vcek(s->seed, tcb, &k) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	EVP_PKEY_free(s->vcek);
	s->vcek = k;
	s->vcek_tcb = tcb;
	return SEV_STATUS_SUCCESS;
}

/* The committed TCB and version are the SNP part of the PSP's flash: kept in NV.snp beside the
 * NV file (one text line, written whole and atomically at SNP_COMMIT). A missing file is a
 * part that never committed: committed = running. An unreadable one is refused. */
static int committed_load(struct emu_fw *fw, struct emu_snp *s)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	unsigned long long tcb;
	unsigned ma, mi, b;
	size_t n = 0;
	int e;

	if (asprintf(&path, "%s.snp", fw->nv_path) < 0)
		return -ENOMEM;
	e = read_full_file(path, 4096, &buf, &n);
	if (e == -ENOENT)
		return 0;
	if (e < 0)
		return log_error_errno(e, "Failed to read %s: %m", path);
	if (sscanf((char *)buf, "committed_tcb=0x%llx committed_version=%u.%u.%u", &tcb, &ma, &mi,
		   &b) != 4 || ma > 255 || mi > 255 || b > 255) {
		log_error("%s is not an SNP committed-TCB record; restore it or move it away "
			  "(the next start commits the running TCB)", path);
		return -EBADMSG;
	}
	s->committed_tcb = tcb;
	s->committed_major = (uint8_t)ma;
	s->committed_minor = (uint8_t)mi;
	s->committed_build = (uint8_t)b;
	return 0;
}

static int committed_save(struct emu_fw *fw, const struct emu_snp *s)
{
	_cleanup_free_ char *path = NULL, *line = NULL;
	int n;

	if (asprintf(&path, "%s.snp", fw->nv_path) < 0 ||
	    (n = asprintf(&line, "committed_tcb=0x%016llx committed_version=%u.%u.%u\n",
			  (unsigned long long)s->committed_tcb, s->committed_major,
			  s->committed_minor, s->committed_build)) < 0)
		return -ENOMEM;
	return write_file_atomic(path, line, (size_t)n, 0600);
}

struct emu_snp *emu_snp_get(struct emu_fw *fw)
{
	struct emu_snp *s = fw->snp;

	if (s || !fw->cfg.snp)
		return s;
	s = secret_alloc(sizeof(*s)); /* holds the seed and the guests' keys: locked, wiped */
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->product = emu_snp_product_info(fw->cfg.snp_product);
	emu_snp_tcb_unpack(fw->cfg.snp_tcb, s->product->turin_tcb, &s->current);
	/* First start: committed = running; the committed version is this firmware's. */
	s->committed_tcb = fw->cfg.snp_tcb;
	s->committed_build = fw->cfg.build;
	s->committed_minor = fw->cfg.api_minor;
	s->committed_major = fw->cfg.api_major;
	if (emu_rmp_new(&s->rmp) < 0 || committed_load(fw, s) < 0 || seed_derive(fw, s->seed) < 0 ||
	    vcek_refresh(s) != 0) {
		emu_rmp_free(s->rmp);
		EVP_PKEY_free(s->vcek);
		secret_free(s, sizeof(*s));
		return NULL;
	}
	fw->snp = s;
	return s;
}

void emu_snp_free(struct emu_fw *fw)
{
	struct emu_snp *s = fw->snp;

	if (!s)
		return;
	emu_snp_guests_drop(fw);
	emu_rmp_free(s->rmp);
	EVP_PKEY_free(s->vcek);
	emu_snp_root_free(s->root);
	emu_snp_vlek_wipe(s);
	secret_free(s, sizeof(*s));
	fw->snp = NULL;
}

bool emu_snp_cmd_id(uint32_t cmd)
{
	return cmd >= SEV_CMD_SNP_INIT && cmd <= SEV_CMD_SNP_FEATURE_INFO;
}

int emu_snp_check_fw_page(struct emu_fw *fw, uint64_t paddr)
{
	struct emu_rmp_entry e;
	int st;

	if (fw->snp->state != SEV_SNP_PSTATE_INIT)
		return SEV_STATUS_SUCCESS;
	st = emu_rmp_get(fw, paddr, &e);
	if (st)
		return st;
	return emu_rmp_state_of(&e) == EMU_RMP_FIRMWARE ? SEV_STATUS_SUCCESS :
							  SEV_STATUS_INVALID_PAGE_STATE;
}

/* RANGE_LIST (Linux sev_data_range_list): u32 count, u32 reserved, then {u64 base, u32 pages,
 * u32 reserved}; every range must be mapped memory. Pages listed are left to the hypervisor
 * (HV-fixed in firmware); the emulator checks the list and keeps them hypervisor pages. */
static int range_list_check(struct emu_fw *fw, uint64_t paddr)
{
	uint32_t hdr[2];
	int st;

	if (paddr % SEV_PAGE_SIZE)
		return SEV_STATUS_INVALID_ADDRESS;
	st = emu_mem_read(fw->mem, paddr, hdr, sizeof(hdr));
	if (st)
		return st;
	if (hdr[0] > (SEV_PAGE_SIZE - 8) / 16)
		return SEV_STATUS_INVALID_PARAM;
	for (uint32_t i = 0; i < hdr[0]; i++) {
		struct sev_snp_range {
			uint64_t base;
			uint32_t pages, reserved;
		} SEV_PACKED rg;

		st = emu_mem_read(fw->mem, paddr + 8 + 16ull * i, &rg, sizeof(rg));
		if (st)
			return st;
		if (rg.base % SEV_PAGE_SIZE || rg.reserved)
			return SEV_STATUS_INVALID_PARAM;
		st = emu_mem_check(fw->mem, rg.base, (uint64_t)rg.pages * SEV_PAGE_SIZE);
		if (st)
			return st;
	}
	return SEV_STATUS_SUCCESS;
}

static bool is_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* snp_mcmd_init_common: reserved fields, both platforms UNINIT, the RMP, then the VCEK and
 * the ASID flags. SNP_INIT (no buffer) initializes the RMP as INIT_RMP does. */
static int snp_init_common(struct emu_fw *fw, const struct sev_snp_cmd_init_ex *ex)
{
	struct emu_snp *s = emu_snp_get(fw);
	bool init_rmp = true;
	int st;

	if (!s)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (ex && (ex->flags & ~(SEV_SNP_INIT_INIT_RMP | SEV_SNP_INIT_LIST_PADDR_EN) ||
		   ex->reserved1 || ex->max_snp_asid ||
		   !is_zero(ex->reserved2, sizeof(ex->reserved2))))
		return SEV_STATUS_INVALID_PARAM;
	if (s->state != SEV_SNP_PSTATE_UNINIT || fw->state != SEV_PSTATE_UNINIT)
		return SEV_STATUS_INVALID_PLATFORM_STATE; /* SNP must be initialized first */
	if (ex && !(ex->flags & SEV_SNP_INIT_INIT_RMP)) {
		if (!s->rmp_initialized)
			return SEV_STATUS_RMP_INIT_REQUIRED;
		init_rmp = false;
	}
	if (ex && (ex->flags & SEV_SNP_INIT_LIST_PADDR_EN)) {
		if (!init_rmp)
			return SEV_STATUS_INVALID_PARAM;
		st = range_list_check(fw, ex->list_paddr);
		if (st)
			return st;
	}
	if (vcek_refresh(s) != 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (init_rmp)
		emu_rmp_clear(s->rmp);
	s->rmp_initialized = true;
	/* every ASID dirty on every CCX until DF_FLUSH (per-CCX masks, firmware.h) */
	fw->wbinvd_done = 0;
	for (uint32_t a = 0; a <= fw->cfg.cpuid_ecx; a++)
		fw->asid_dirty[a] = fw->ccx_all;
	s->state = SEV_SNP_PSTATE_INIT;
	return SEV_STATUS_SUCCESS;
}

static int cmd_snp_init(struct emu_fw *fw, void *buf)
{
	return snp_init_common(fw, NULL);
}

static int cmd_snp_init_ex(struct emu_fw *fw, void *buf)
{
	return snp_init_common(fw, buf);
}

/* Every encryption-capable ASID must be clean: none dirty, none bound to a guest. */
static bool asids_clean(struct emu_fw *fw)
{
	for (uint32_t a = 1; a <= fw->cfg.cpuid_ecx; a++) {
		if (fw->asid_dirty[a] || emu_snp_asid_held(fw, a) || emu_sev_asid_held(fw, a))
			return false;
	}
	return true;
}

static int snp_shutdown_common(struct emu_fw *fw, const struct sev_snp_cmd_shutdown_ex *ex)
{
	struct emu_snp *s = emu_snp_get(fw);

	if (!s)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (fw->state != SEV_PSTATE_UNINIT)
		return SEV_STATUS_INVALID_PLATFORM_STATE; /* SEV first */
	if (s->state == SEV_SNP_PSTATE_UNINIT)
		return SEV_STATUS_SUCCESS;
	if (!asids_clean(fw))
		return SEV_STATUS_DFFLUSH_REQUIRED;
	if (ex) {
		if (ex->length != sizeof(*ex) ||
		    ex->flags & ~(SEV_SNP_SHUTDOWN_IOMMU | SEV_SNP_SHUTDOWN_X86))
			return SEV_STATUS_INVALID_PARAM;
		/* X86_SNP_SHUTDOWN needs IOMMU_SNP_SHUTDOWN (the modelled SMU supports it) */
		if ((ex->flags & SEV_SNP_SHUTDOWN_X86) && !(ex->flags & SEV_SNP_SHUTDOWN_IOMMU))
			return SEV_STATUS_INVALID_PARAM;
	}
	emu_snp_guests_drop(fw);
	emu_snp_vlek_wipe(s); /* as firmware's snp_mcmd_shutdown_common */
	s->state = SEV_SNP_PSTATE_UNINIT;
	/* IOMMU_SNP_SHUTDOWN: the next SNP_INIT must initialize the RMP again */
	if (ex && (ex->flags & SEV_SNP_SHUTDOWN_IOMMU))
		s->rmp_initialized = false;
	return SEV_STATUS_SUCCESS;
}

static int cmd_snp_shutdown(struct emu_fw *fw, void *buf)
{
	return snp_shutdown_common(fw, NULL);
}

static int cmd_snp_shutdown_ex(struct emu_fw *fw, void *buf)
{
	return snp_shutdown_common(fw, buf);
}

static int cmd_snp_platform_status(struct emu_fw *fw, void *buf)
{
	struct sev_snp_cmd_addr *b = buf;
	struct emu_snp *s = emu_snp_get(fw);
	struct sev_snp_platform_status ps = { 0 };
	int st;

	if (!s)
		return SEV_STATUS_HWERROR_PLATFORM;
	if ((b->address % SEV_PAGE_SIZE) + sizeof(ps) > SEV_PAGE_SIZE)
		return SEV_STATUS_INVALID_PARAM; /* must not cross a page */
	st = emu_snp_check_fw_page(fw, b->address);
	if (st)
		return st;
	ps.api_major = fw->cfg.api_major;
	ps.api_minor = fw->cfg.api_minor;
	ps.state = (uint8_t)s->state;
	ps.is_rmp_initialized = s->rmp_initialized;
	ps.build_id = fw->cfg.build;
	ps.flags = (s->mask_chip_id ? SEV_SNP_STATUS_MASK_CHIP_ID : 0) |
		   (s->mask_chip_key ? SEV_SNP_STATUS_MASK_CHIP_KEY : 0) |
		   (s->vlek ? SEV_SNP_STATUS_VLEK_EN : 0) | SEV_SNP_STATUS_FEATURE_INFO;
	ps.guest_count = s->guest_count;
	ps.current_tcb = emu_snp_tcb_pack(&s->current, s->product->turin_tcb);
	ps.reported_tcb = emu_snp_reported_tcb(s);
	return emu_mem_write(fw->mem, b->address, &ps, sizeof(ps));
}

/* mcmd_df_flush_common, as DF_FLUSH (platform.c): no state check. */
static int cmd_snp_df_flush(struct emu_fw *fw, void *buf)
{
	/* per CCX: the CCXs whose cores all did WBINVD are cleaned even when others have not */
	for (uint32_t a = 0; a <= fw->cfg.cpuid_ecx; a++)
		fw->asid_dirty[a] &= ~fw->wbinvd_done;
	if (fw->wbinvd_done != fw->ccx_all)
		return SEV_STATUS_WBINVD_REQUIRED;
	return SEV_STATUS_SUCCESS;
}

/* SNP_CONFIG (Linux SNP_SET_CONFIG): REPORTED_TCB 0 means the committed TCB; above it in any
 * component is refused; the VCEK is derived again for it. Not persistent (firmware keeps it in
 * RAM: it must be set again after every reset). */
static int cmd_snp_config(struct emu_fw *fw, void *buf)
{
	struct sev_snp_cmd_config *b = buf;
	struct emu_snp *s = emu_snp_get(fw);
	uint64_t old;
	int st;

	if (!s)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (b->flags & ~(SEV_SNP_CONFIG_MASK_CHIP_ID | SEV_SNP_CONFIG_MASK_CHIP_KEY) ||
	    !is_zero(b->reserved, sizeof(b->reserved)))
		return SEV_STATUS_INVALID_PARAM;
	if (b->reported_tcb && tcb_above(b->reported_tcb, s->committed_tcb, s->product->turin_tcb))
		return SEV_STATUS_INVALID_PARAM;
	old = s->config_tcb;
	s->config_tcb = b->reported_tcb;
	st = vcek_refresh(s);
	if (st) {
		s->config_tcb = old;
		return st;
	}
	s->mask_chip_id = b->flags & SEV_SNP_CONFIG_MASK_CHIP_ID;
	s->mask_chip_key = b->flags & SEV_SNP_CONFIG_MASK_CHIP_KEY;
	return SEV_STATUS_SUCCESS;
}

/* SNP_COMMIT: the committed TCB and version become the running firmware's (anti-rollback). */
static int cmd_snp_commit(struct emu_fw *fw, void *buf)
{
	struct sev_snp_cmd_commit *b = buf;
	struct emu_snp *s = emu_snp_get(fw);

	if (!s)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (b->length != sizeof(*b))
		return SEV_STATUS_INVALID_PARAM;
	uint64_t old_tcb = s->committed_tcb;
	uint8_t old_version[3] = { s->committed_build, s->committed_minor, s->committed_major };
	int e;

	s->committed_tcb = emu_snp_tcb_pack(&s->current, s->product->turin_tcb);
	s->committed_build = fw->cfg.build;
	s->committed_minor = fw->cfg.api_minor;
	s->committed_major = fw->cfg.api_major;
	e = committed_save(fw, s);
	if (e < 0) {
		log_error_errno(e, "Failed to write the committed TCB next to %s, keeping the old "
				"one: %m", fw->nv_path);
		s->committed_tcb = old_tcb;
		s->committed_build = old_version[0];
		s->committed_minor = old_version[1];
		s->committed_major = old_version[2];
		return SEV_STATUS_HWERROR_PLATFORM;
	}
	return vcek_refresh(s);
}

/* SNP_FEATURE_INFO ECX_IN 0: ECX bit 1 X86_SNP_SHUTDOWN supported; nothing else modelled. */
static int cmd_snp_feature_info(struct emu_fw *fw, void *buf)
{
	struct sev_snp_cmd_feature_info *b = buf;
	uint32_t regs[4] = { 0 };

	if (b->length != sizeof(*b))
		return SEV_STATUS_INVALID_PARAM;
	if (b->ecx_in == 0)
		regs[2] = 1u << 1;
	return emu_mem_write(fw->mem, b->feature_info_address, regs, sizeof(regs));
}

/* Commands the emulator names but does not model answer UNSUPPORTED by name (firmware has
 * them; the emulator does not page, migrate or download firmware). */
static int cmd_snp_unsupported(struct emu_fw *fw, void *buf)
{
	return SEV_STATUS_UNSUPPORTED;
}

const struct emu_cmd_row emu_snp_cmds[] = {
	{ SEV_CMD_SNP_INIT, EMU_IN_ANY, cmd_snp_init },
	{ SEV_CMD_SNP_INIT_EX, EMU_IN_ANY, cmd_snp_init_ex },
	{ SEV_CMD_SNP_SHUTDOWN, EMU_IN_ANY, cmd_snp_shutdown },
	{ SEV_CMD_SNP_SHUTDOWN_EX, EMU_IN_ANY, cmd_snp_shutdown_ex },
	{ SEV_CMD_SNP_PLATFORM_STATUS, EMU_IN_ANY, cmd_snp_platform_status },
	{ SEV_CMD_SNP_DF_FLUSH, EMU_IN_ANY, cmd_snp_df_flush },
	{ SEV_CMD_SNP_CONFIG, EMU_IN_ANY, cmd_snp_config },
	{ SEV_CMD_SNP_COMMIT, EMU_IN_ANY, cmd_snp_commit },
	{ SEV_CMD_SNP_FEATURE_INFO, EMU_IN_ANY, cmd_snp_feature_info },
	{ SEV_CMD_SNP_GCTX_CREATE, EMU_IN_ANY, emu_snp_gctx_create },
	{ SEV_CMD_SNP_LAUNCH_START, EMU_IN_ANY, emu_snp_launch_start },
	{ SEV_CMD_SNP_LAUNCH_UPDATE, EMU_IN_ANY, emu_snp_launch_update },
	{ SEV_CMD_SNP_LAUNCH_FINISH, EMU_IN_ANY, emu_snp_launch_finish },
	{ SEV_CMD_SNP_ACTIVATE, EMU_IN_ANY, emu_snp_activate },
	{ SEV_CMD_SNP_DECOMMISSION, EMU_IN_ANY, emu_snp_decommission },
	{ SEV_CMD_SNP_GUEST_STATUS, EMU_IN_ANY, emu_snp_guest_status },
	{ SEV_CMD_SNP_GUEST_REQUEST, EMU_IN_ANY, emu_snp_guest_request },
	{ SEV_CMD_SNP_PAGE_RECLAIM, EMU_IN_ANY, emu_snp_page_reclaim },
	{ SEV_CMD_SNP_ACTIVATE_EX, EMU_IN_ANY, cmd_snp_unsupported },
	{ SEV_CMD_SNP_PAGE_SET_STATE, EMU_IN_ANY, emu_snp_page_set_state },
	{ SEV_CMD_SNP_PAGE_UNSMASH, EMU_IN_ANY, emu_snp_page_unsmash },
	{ SEV_CMD_SNP_DBG_DECRYPT, EMU_IN_ANY, emu_snp_dbg_decrypt },
	{ SEV_CMD_SNP_DBG_ENCRYPT, EMU_IN_ANY, emu_snp_dbg_encrypt },
	{ SEV_CMD_SNP_VLEK_LOAD, EMU_IN_ANY, emu_snp_vlek_load },
	{ SEV_CMD_SNP_PAGE_SWAP_OUT, EMU_IN_ANY, cmd_snp_unsupported },
	{ SEV_CMD_SNP_PAGE_SWAP_IN, EMU_IN_ANY, cmd_snp_unsupported },
	{ SEV_CMD_SNP_PAGE_MOVE, EMU_IN_ANY, cmd_snp_unsupported },
	{ SEV_CMD_SNP_PAGE_MD_INIT, EMU_IN_ANY, cmd_snp_unsupported },
	{ SEV_CMD_SNP_DOWNLOAD_FIRMWARE_EX, EMU_IN_ANY, cmd_snp_unsupported },
};
const size_t emu_snp_cmds_n = ELEMENTSOF(emu_snp_cmds);

/* Once SNP is initialized, SEV commands may write only into Firmware pages (AMD-ASPFW
 * sev_mcmd.c: check_page_range_firmware_writable in sev_mcmd_pek_csr, _pdh_cert_export,
 * _get_id, _launch_measure, _attestation, and for the SEV-ES TMR and INIT_EX's NV buffer in
 * INIT/INIT_EX): the output range of each, at (address, length) offsets of its buffer. The
 * check comes after the command's own length check, so a buffer too small for the answer is
 * left to the command (its length query). */
static const struct {
	uint32_t cmd;
	uint8_t addr_off, len_off; /* len_off 0xff: the length is `need` */
	uint32_t need;
	bool es_only; /* INIT/INIT_EX: only when flag SEV-ES asks for the TMR */
} sev_outputs[] = {
	{ SEV_CMD_PEK_CSR, 0, 8, SEV_CERT_SIZE, false },
	{ SEV_CMD_PDH_CERT_EXPORT, 0, 8, SEV_CERT_SIZE, false },
	{ SEV_CMD_PDH_CERT_EXPORT, 16, 24, SEV_CERT_CHAIN_SIZE, false },
	{ SEV_CMD_GET_ID, 0, 8, SEV_GET_ID_SIZE, false },
	{ SEV_CMD_LAUNCH_MEASURE, 8, 16, SEV_MEASURE_BLOB_SIZE, false },
	{ SEV_CMD_ATTESTATION, 8, 32, SEV_ATTESTATION_REPORT_SIZE, false },
	{ SEV_CMD_INIT, 8, 16, 1, true },
	{ SEV_CMD_INIT_EX, 8, 16, 1, true },
	{ SEV_CMD_INIT_EX, 24, 32, 1, false },
};

static int range_firmware(struct emu_fw *fw, uint64_t addr, uint64_t len)
{
	for (uint64_t p = addr & ~0xfffull; p < addr + len; p += SEV_PAGE_SIZE) {
		struct emu_rmp_entry e;

		if (emu_rmp_get(fw, p, &e))
			return SEV_STATUS_SUCCESS; /* unmapped: the command says INVALID_ADDRESS */
		if (emu_rmp_state_of(&e) != EMU_RMP_FIRMWARE)
			return SEV_STATUS_INVALID_PAGE_STATE;
	}
	return SEV_STATUS_SUCCESS;
}

int emu_snp_sev_check(struct emu_fw *fw, uint32_t cmd, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	if (!fw->snp || fw->snp->state != SEV_SNP_PSTATE_INIT)
		return SEV_STATUS_SUCCESS;
	for (size_t i = 0; i < ELEMENTSOF(sev_outputs); i++) {
		uint64_t addr;
		uint32_t n;
		int st;

		if (sev_outputs[i].cmd != cmd || (size_t)sev_outputs[i].len_off + 4 > len)
			continue;
		if (sev_outputs[i].es_only &&
		    !(get_le32(b + (cmd == SEV_CMD_INIT ? 0 : 4)) & SEV_INIT_FLAGS_SEV_ES))
			continue;
		addr = get_le64(b + sev_outputs[i].addr_off);
		n = get_le32(b + sev_outputs[i].len_off);
		if (n < sev_outputs[i].need || (cmd == SEV_CMD_INIT_EX && !addr))
			continue;
		st = range_firmware(fw, addr, n);
		if (st)
			return st;
	}
	return SEV_STATUS_SUCCESS;
}
