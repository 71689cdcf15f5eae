/* Platform commands of the emulated SEV firmware (SEV API §5; behaviour checked against AMD's
 * open-source firmware, github.com/amd/AMD-ASPFW sev_uapp/src/sev_mcmd.c and sev_plat.c).
 * One row per command with the platform states it is legal in (SEV-FACTS.md §4); the
 * handlers below assume the dispatcher's checks (firmware.h). Length queries: when a caller's
 * buffer is too small the handler writes the needed length back and answers INVALID_LEN. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/ossl.h"
#include "psp/emu/firmware.h"

#define TMR_SIZE (1u << 20)	 /* SEV-ES trusted memory region: exactly 1 MiB, 1 MiB aligned */
#define INIT_EX_NV_LEN (32u * 1024u) /* INIT_EX's host NV buffer (Linux NV_LENGTH) */

/* INIT generates whatever part of the owner store is missing (after FACTORY_RESET, or on a
 * blank part): OCA, then a PEK signed by it and the CEK, then a PDH. */
static int owner_generate(struct emu_fw *fw, struct emu_owner *o)
{
	uint8_t ma = fw->cfg.api_major, mi = fw->cfg.api_minor;

	if (emu_owner_gen_oca(o, ma, mi) < 0 || emu_owner_gen_pek(o, &fw->nv.chip, ma, mi) < 0 ||
	    emu_owner_gen_pdh(o, ma, mi) < 0) {
		log_error("Key generation failed");
		emu_owner_clear(o);
		return SEV_STATUS_HWERROR_PLATFORM;
	}
	o->valid = true;
	return SEV_STATUS_SUCCESS;
}

/* The command buffer's own check, before anything else INIT does after the state check
 * (AMD-ASPFW sev_mcmd.c sev_mcmd_init_common → init_cmd_buf_valid / init_ex_cmd_buf_valid):
 * firmware's flags field is 16 bits with only CONFIG.ES defined, and the bytes after it
 * (INIT: reserved[6], here the upper half of `flags` and `reserved`; INIT_EX: reserved1[2]
 * and reserved2) must be zero. Anything else is INVALID_CONFIG. */
static bool init_flags_valid(uint32_t flags, uint32_t reserved)
{
	return (flags & ~SEV_INIT_FLAGS_SEV_ES) == 0 && reserved == 0;
}

static int tmr_nv_disjoint(struct emu_fw *fw, const struct sev_cmd_init_ex *b);

/* SEV-ES's TMR (sev_es_reserve_trusted_region): 1 MiB aligned, exactly 1 MiB, mapped. */
static int tmr_reserve(struct emu_fw *fw, uint64_t tmr_paddr, uint32_t tmr_len)
{
	if (tmr_paddr % TMR_SIZE)
		return SEV_STATUS_INVALID_ADDRESS;
	if (tmr_len != TMR_SIZE)
		return SEV_STATUS_INVALID_LEN;
	return emu_mem_check(fw->mem, tmr_paddr, tmr_len);
}

/* What INIT and INIT_EX share, in sev_mcmd_init_common's order after the command buffer and
 * INIT_EX's NV buffer checks: the store (a corrupt one is SECURE_DATA_INVALID and erased),
 * keys for an empty owner store (written before anything below can fail, as firmware does),
 * then the TMR (ex: INIT_EX's buffer, for the NV overlap check; NULL for INIT). */
static int init_common(struct emu_fw *fw, uint32_t flags, uint64_t tmr_paddr, uint32_t tmr_len,
		       const struct sev_cmd_init_ex *ex)
{
	int st;

	if (fw->nv_corrupt)
		return emu_fw_erase_corrupt_nv(fw);
	if (!fw->nv.owner.valid) {
		struct emu_owner neu = { 0 };

		st = owner_generate(fw, &neu);
		if (!st)
			st = emu_fw_commit_owner(fw, &neu);
		if (st)
			return st;
	}
	if (flags & SEV_INIT_FLAGS_SEV_ES) {
		st = ex ? tmr_nv_disjoint(fw, ex) : SEV_STATUS_SUCCESS;
		if (!st)
			st = tmr_reserve(fw, tmr_paddr, tmr_len);
		if (st)
			return st;
	}
	fw->state = SEV_PSTATE_INIT;
	fw->config_flags = flags;
	if (flags & SEV_INIT_FLAGS_SEV_ES) { /* firmware's from now on (validate_address_range) */
		fw->tmr_base = tmr_paddr;
		emu_mem_protect(fw->mem, tmr_paddr, TMR_SIZE);
	}
	/* INIT clears every core's WBINVD_DONE flag and marks all ASIDs dirty, so DF_FLUSH
	 * (after WBINVD) must follow before the first ACTIVATE — Linux's INIT sequence. */
	fw->wbinvd_done = 0;
	for (uint32_t a = 0; a <= fw->cfg.cpuid_ecx; a++)
		fw->asid_dirty[a] = fw->ccx_all;
	return SEV_STATUS_SUCCESS;
}

static int cmd_init(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_init *b = buf;

	if (!init_flags_valid(b->flags, b->reserved))
		return SEV_STATUS_INVALID_CONFIG;
	return init_common(fw, b->flags, b->tmr_paddr, b->tmr_len, NULL);
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* INIT_EX with SEV-ES and a host NV buffer: the TMR must not overlap that buffer. Firmware
 * (AMD-ASPFW sev_mcmd.c sev_mcmd_init_common, "make sure the TMR and the NV storage do not
 * overlap", before sev_es_reserve_trusted_region) first checks the TMR range as given, then
 * compares [tmr, tmr + 1 MiB) with [nv, nv + 32 KiB) — the TMR's full size whatever tmr_len
 * says, so an overlap answers INVALID_ADDRESS before a wrong TMR length's INVALID_LEN. */
static int tmr_nv_disjoint(struct emu_fw *fw, const struct sev_cmd_init_ex *b)
{
	int st;

	if (b->nv_paddr == 0)
		return SEV_STATUS_SUCCESS;
	st = emu_mem_check(fw->mem, b->tmr_paddr, b->tmr_len);
	if (st)
		return st;
	if (ranges_overlap(b->tmr_paddr, TMR_SIZE, b->nv_paddr, INIT_EX_NV_LEN))
		return SEV_STATUS_INVALID_ADDRESS;
	return SEV_STATUS_SUCCESS;
}

/* INIT_EX answers like INIT. Its host NV buffer (nv_paddr != 0) is checked as firmware checks
 * it (4 KiB aligned, mapped, 32 KiB) but not used: the emulator's flash is its --nv file. */
static int cmd_init_ex(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_init_ex *b = buf;
	int st;

	if (!init_flags_valid(b->flags, b->reserved)) /* before the length (sev_mcmd_init_common) */
		return SEV_STATUS_INVALID_CONFIG;
	if (b->length != sizeof(*b))
		return SEV_STATUS_INVALID_LEN;
	if (b->nv_paddr != 0) {
		if (b->nv_paddr % SEV_PAGE_SIZE)
			return SEV_STATUS_INVALID_ADDRESS;
		st = emu_mem_check(fw->mem, b->nv_paddr, b->nv_len);
		if (st)
			return st;
		if (b->nv_len != INIT_EX_NV_LEN)
			return SEV_STATUS_INVALID_LEN;
	}
	return init_common(fw, b->flags, b->tmr_paddr, b->tmr_len, b);
}

/* ---- SEV-ES's TMR and its vCPU pool (firmware.h) ---- */

/* sev_es_init_trusted_region's pool_vcpu_init: every block free, in index order. */
static int es_pool_init(struct emu_fw *fw)
{
	struct emu_es_pool *p = &fw->es_pool;

	if (!p->ring && !(p->ring = malloc(EMU_ES_POOL_BLOCKS * sizeof(*p->ring))))
		return SEV_STATUS_HWERROR_PLATFORM;
	for (uint32_t i = 0; i < EMU_ES_POOL_BLOCKS; i++)
		p->ring[i] = i;
	p->head = 0;
	p->count = EMU_ES_POOL_BLOCKS;
	p->crc_base = fw->tmr_base + TMR_SIZE / 2; /* the CRC half of the TMR */
	p->on = true;
	return SEV_STATUS_SUCCESS;
}

int emu_es_pool_alloc(struct emu_fw *fw, uint32_t *ret_index)
{
	struct emu_es_pool *p = &fw->es_pool;

	if (!p->on || p->count == 0) /* pool_vcpu_alloc returns 0: RESOURCE_LIMIT */
		return SEV_STATUS_RESOURCE_LIMIT;
	*ret_index = p->ring[p->head];
	p->head = (p->head + 1) % EMU_ES_POOL_BLOCKS;
	p->count--;
	return SEV_STATUS_SUCCESS;
}

uint64_t emu_es_pool_crc_addr(const struct emu_fw *fw, uint32_t index)
{
	return fw->es_pool.crc_base + (uint64_t)index * 8;
}

void emu_es_pool_free(struct emu_fw *fw, uint32_t index)
{
	struct emu_es_pool *p = &fw->es_pool;

	if (!p->on || p->count >= EMU_ES_POOL_BLOCKS)
		return;
	p->ring[(p->head + p->count) % EMU_ES_POOL_BLOCKS] = index; /* list_add_tail */
	p->count++;
}

/* sev_clear → sev_es_release_trusted_region: the pool goes, the TMR is the host's again. */
void emu_es_release(struct emu_fw *fw)
{
	free(fw->es_pool.ring);
	memset(&fw->es_pool, 0, sizeof(fw->es_pool));
	fw->tmr_base = 0;
	emu_mem_protect(fw->mem, 0, 0);
}

static int cmd_shutdown(struct emu_fw *fw, void *buf)
{
	if (fw->guests_shutdown)
		fw->guests_shutdown(fw);
	emu_es_release(fw);
	fw->state = SEV_PSTATE_UNINIT;
	fw->config_flags = 0;
	fw->guest_count = 0;
	return SEV_STATUS_SUCCESS;
}

/* Deletes the owner store; the CEK and the chip identity stay (they are fused). The next INIT
 * generates a new OCA, PEK and PDH. */
static int cmd_factory_reset(struct emu_fw *fw, void *buf)
{
	struct emu_owner empty = { 0 };
	int st;

	fw->nv.factory_resets++;
	st = emu_fw_commit_owner(fw, &empty);
	if (st)
		fw->nv.factory_resets--;
	return st;
}

static int cmd_platform_status(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_platform_status *b = buf;

	memset(b, 0, sizeof(*b));
	b->api_major = fw->cfg.api_major;
	b->api_minor = fw->cfg.api_minor;
	b->build = fw->cfg.build;
	b->state = (uint8_t)fw->state;
	/* Owner, CONFIG.ES and the guest count are only meaningful once initialized. */
	if (fw->state != SEV_PSTATE_UNINIT) {
		if (fw->nv.owner.ext_owned)
			b->flags |= SEV_PLATFORM_FLAG_OWNER;
		if (fw->config_flags & SEV_INIT_FLAGS_SEV_ES)
			b->flags |= SEV_PLATFORM_FLAG_CONFIG_ES;
		b->guest_count = fw->guest_count;
	}
	return SEV_STATUS_SUCCESS;
}

/* New OCA (self-owned again), PEK and PDH. */
static int cmd_pek_gen(struct emu_fw *fw, void *buf)
{
	struct emu_owner neu = { 0 };
	int st = owner_generate(fw, &neu);

	return st ? st : emu_fw_commit_owner(fw, &neu);
}

static int cmd_pdh_gen(struct emu_fw *fw, void *buf)
{
	struct emu_owner neu;

	emu_owner_copy(&neu, &fw->nv.owner);
	if (emu_owner_gen_pdh(&neu, fw->cfg.api_major, fw->cfg.api_minor) < 0) {
		emu_owner_clear(&neu);
		return SEV_STATUS_HWERROR_PLATFORM;
	}
	return emu_fw_commit_owner(fw, &neu);
}

/* The CSR is the PEK certificate's body with both signature slots empty. */
static int cmd_pek_csr(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_pek_csr *b = buf;
	struct sev_cert csr;
	int st;

	if (b->len < SEV_CERT_SIZE) {
		b->len = SEV_CERT_SIZE;
		return SEV_STATUS_INVALID_LEN;
	}
	emu_cert_unsigned(&fw->nv.owner.pek, &csr);
	st = emu_mem_write(fw->mem, b->address, &csr, sizeof(csr));
	if (st)
		return st;
	b->len = SEV_CERT_SIZE;
	return SEV_STATUS_SUCCESS;
}

/* PDH cert, and the chain PEK ‖ OCA ‖ CEK. As in firmware (pdh_cert_chain_init), the CEK in
 * the chain is unsigned: the ASK-signed CEK comes from AMD's key server by GET_ID (here: the
 * CTL `get-cert cek`). */
static int cmd_pdh_cert_export(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_pdh_cert_export *b = buf;
	struct sev_cert chain[3];
	int st;

	if (b->pdh_cert_len < SEV_CERT_SIZE || b->cert_chain_len < SEV_CERT_CHAIN_SIZE) {
		b->pdh_cert_len = SEV_CERT_SIZE;
		b->cert_chain_len = SEV_CERT_CHAIN_SIZE;
		return SEV_STATUS_INVALID_LEN;
	}
	st = emu_mem_write(fw->mem, b->pdh_cert_address, &fw->nv.owner.pdh, SEV_CERT_SIZE);
	if (st)
		return st;
	chain[0] = fw->nv.owner.pek;
	chain[1] = fw->nv.owner.oca;
	emu_cert_unsigned(&fw->nv.chip.cek, &chain[2]);
	st = emu_mem_write(fw->mem, b->cert_chain_address, chain, sizeof(chain));
	if (st)
		return st;
	b->pdh_cert_len = SEV_CERT_SIZE;
	b->cert_chain_len = SEV_CERT_CHAIN_SIZE;
	return SEV_STATUS_SUCCESS;
}

static int cmd_get_id(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_get_id *b = buf;
	uint8_t id[SEV_GET_ID_SIZE];
	int st;

	if (b->len < SEV_GET_ID_SIZE) {
		b->len = SEV_GET_ID_SIZE;
		return SEV_STATUS_INVALID_LEN;
	}
	if (emu_chip_get_id(&fw->nv.chip, id) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	/* One socket: 64 bytes even when the caller offers room for two (sev_get_id). */
	st = emu_mem_write(fw->mem, b->address, id, sizeof(id));
	if (st)
		return st;
	b->len = SEV_GET_ID_SIZE;
	return SEV_STATUS_SUCCESS;
}

/* No platform-state check in firmware (mcmd_df_flush_common): legal in every state. Per CCX:
 * on each CCX whose cores all did WBINVD, every dirty ASID becomes clean — also when other
 * CCXs have not, in which case the answer is still WBINVD_REQUIRED. */
static int cmd_df_flush(struct emu_fw *fw, void *buf)
{
	for (uint32_t a = 0; a <= fw->cfg.cpuid_ecx; a++)
		fw->asid_dirty[a] &= ~fw->wbinvd_done;
	if (fw->wbinvd_done != fw->ccx_all)
		return SEV_STATUS_WBINVD_REQUIRED;
	/* "it is now safe to initialize the TMR": the ES pool, once per INIT */
	if (fw->state != SEV_PSTATE_UNINIT && (fw->config_flags & SEV_INIT_FLAGS_SEV_ES) &&
	    !fw->es_pool.on)
		return es_pool_init(fw);
	return SEV_STATUS_SUCCESS;
}

/* NOP (AMD-ASPFW sev_mcmd.c sev_mcmd_nop): SUCCESS in every state, no buffer. */
static int cmd_nop(struct emu_fw *fw, void *buf)
{
	return SEV_STATUS_SUCCESS;
}

/* RING_BUFFER, SWAP_OUT and SWAP_IN have no row: this firmware does not implement them, and a
 * firmware without a handler for an id answers INVALID_COMMAND (sev_dispatch.c
 * sev_dispatch_master, "reject any commands not in the table"). */
#define NONE NULL, EMU_WB_NONE
#define ON_OK NULL, EMU_WB_ON_SUCCESS
#define ON_OK_LEN NULL, EMU_WB_ON_SUCCESS_OR_LEN
const struct emu_cmd_row emu_platform_cmds[] = {
	/* write-back per AMD-ASPFW sev_dispatch.c master_handler_table */
	{ SEV_CMD_INIT, EMU_IN_UNINIT, cmd_init, NONE },
	{ SEV_CMD_INIT_EX, EMU_IN_UNINIT, cmd_init_ex, NONE },
	{ SEV_CMD_SHUTDOWN, EMU_IN_ANY, cmd_shutdown, NONE },
	{ SEV_CMD_FACTORY_RESET, EMU_IN_UNINIT, cmd_factory_reset, NONE },
	{ SEV_CMD_PLATFORM_STATUS, EMU_IN_ANY, cmd_platform_status, ON_OK },
	{ SEV_CMD_PEK_GEN, EMU_IN_INIT, cmd_pek_gen, NONE },
	{ SEV_CMD_PEK_CSR, EMU_IN_INIT | EMU_IN_WORKING, cmd_pek_csr, ON_OK_LEN },
	{ SEV_CMD_PEK_CERT_IMPORT, EMU_IN_INIT, emu_pek_cert_import, NONE },
	{ SEV_CMD_PDH_CERT_EXPORT, EMU_IN_INIT | EMU_IN_WORKING, cmd_pdh_cert_export, ON_OK_LEN },
	{ SEV_CMD_PDH_GEN, EMU_IN_INIT | EMU_IN_WORKING, cmd_pdh_gen, NONE },
	{ SEV_CMD_GET_ID, EMU_IN_ANY, cmd_get_id, ON_OK_LEN },
	{ SEV_CMD_DF_FLUSH, EMU_IN_ANY, cmd_df_flush, NONE },
	{ SEV_CMD_NOP, EMU_IN_ANY, cmd_nop, NONE },
	{ SEV_CMD_DOWNLOAD_FIRMWARE, EMU_IN_UNINIT, emu_cmd_download_firmware, NONE },
};
#undef NONE
#undef ON_OK
#undef ON_OK_LEN
const size_t emu_platform_cmds_n = ELEMENTSOF(emu_platform_cmds);
