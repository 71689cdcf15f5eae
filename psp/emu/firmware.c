/* Firmware core of sev-psp-emu: start-up from the NV file, the command dispatcher over the
 * command tables, and committing the owner store to flash. See firmware.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "psp/emu/fault.h"
#include "psp/emu/firmware.h"
#include "psp/emu/guest.h"
#include "psp/emu/snp.h"

/* Every command table the dispatcher searches (the guest side adds its table here). */
static const struct {
	const struct emu_cmd_row *rows;
	const size_t *n;
} cmd_tables[] = {
	{ emu_platform_cmds, &emu_platform_cmds_n },
	{ emu_guest_cmds, &emu_guest_cmds_n },
	{ emu_snp_cmds, &emu_snp_cmds_n }, /* SNP (snp.h): only with --snp */
};

static int nv_create(struct emu_fw *fw)
{
	int r;

	log_info("NV file %s does not exist: creating a new chip identity (emulated AMD root "
		 "RSA-%u, CEK, chip-unique key)", fw->nv_path, fw->cfg.amd_root_bits);
	r = emu_chip_generate(&fw->nv.chip, fw->cfg.api_major, fw->cfg.api_minor,
			      fw->cfg.amd_root_bits);
	if (r < 0)
		return log_error_errno(r, "Failed to generate the chip identity: %m");
	/* The owner store starts empty; INIT generates OCA, PEK and PDH (as firmware does on a
	 * part whose SPI store is blank). */
	r = emu_nv_save(fw->nv_path, &fw->nv);
	if (r < 0)
		return log_error_errno(r, "Failed to write NV file %s: %m", fw->nv_path);
	return 0;
}

/* Firmware finds a corrupt store only when INIT reads it (AMD-ASPFW sev_mcmd.c
 * sev_mcmd_init_common: sev_persistent_store_retrieve answers SECURE_DATA_INVALID, the store
 * is erased, INIT fails; Linux's __sev_platform_init_locked then retries INIT once). With the
 * operator's --erase-corrupt-nv the emulator starts and does the same. The file also held
 * the chip identity, which a corrupt file no longer proves: a new one is made now (so that
 * GET_ID works before INIT, as from fuses) and written with the erased store. */
static int nv_open_corrupt(struct emu_fw *fw, const char *reason)
{
	int r;

	log_warning("NV file %s is corrupt: %s. --erase-corrupt-nv: the first INIT answers "
		    "SECURE_DATA_INVALID and erases it (the old file is kept as %s.corrupt); "
		    "the chip identity is new", fw->nv_path, reason, fw->nv_path);
	emu_nv_state_clear(&fw->nv);
	r = emu_chip_generate(&fw->nv.chip, fw->cfg.api_major, fw->cfg.api_minor,
			      fw->cfg.amd_root_bits);
	if (r < 0)
		return log_error_errno(r, "Failed to generate the chip identity: %m");
	fw->nv_corrupt = true;
	return 0;
}

/* Every write of the NV file: while the file on disk is the corrupt one, it is first moved
 * to FILE.corrupt (the operator's evidence), never overwritten. */
static int nv_save(struct emu_fw *fw)
{
	_cleanup_free_ char *old = NULL;

	if (fw->nv_corrupt) {
		if (asprintf(&old, "%s.corrupt", fw->nv_path) < 0)
			return -ENOMEM;
		if (rename(fw->nv_path, old) < 0 && errno != ENOENT)
			return log_error_errno(negative_errno(), "Failed to move the corrupt NV "
					       "file %s to %s: %m", fw->nv_path, old);
	}
	return emu_nv_save(fw->nv_path, &fw->nv);
}

int emu_fw_erase_corrupt_nv(struct emu_fw *fw)
{
	int r = nv_save(fw);

	if (r < 0)
		log_error_errno(r, "Failed to erase the corrupt NV file %s: %m", fw->nv_path);
	else {
		fw->nv_corrupt = false;
		log_notice("NV file %s erased after SECURE_DATA_INVALID: the next INIT makes new "
			   "owner keys", fw->nv_path);
	}
	return SEV_STATUS_SECURE_DATA_INVALID;
}

static int nv_open(struct emu_fw *fw)
{
	const char *reason = NULL;
	int r = emu_nv_load(fw->nv_path, &fw->nv, &reason);

	if (r == -ENOENT)
		return nv_create(fw);
	if (r == -EBADMSG && fw->cfg.erase_corrupt_nv)
		return nv_open_corrupt(fw, reason);
	if (r == -EBADMSG) {
		log_error("NV file %s is refused: %s. It is never replaced automatically (that "
			  "would change the chip identity): restore it, move it away to start "
			  "with a new chip, or pass --erase-corrupt-nv to let the first INIT erase "
			  "it as firmware does.", fw->nv_path, reason);
		return r;
	}
	if (r < 0)
		return log_error_errno(r, "Failed to read NV file %s (%s): %m", fw->nv_path,
				       reason ? reason : "read error");
	log_info("NV file %s loaded (write generation %llu, owner store %s)", fw->nv_path,
		 (unsigned long long)fw->nv.generation,
		 !fw->nv.owner.valid	      ? "empty" :
		 fw->nv.owner.ext_owned ? "externally owned" :
					  "self-owned");
	return 0;
}

int emu_fw_new(const struct emu_config *cfg, const char *nv_path, struct emu_fw **ret)
{
	struct emu_fw *fw = calloc(1, sizeof(*fw));
	int r;

	if (!fw)
		return -ENOMEM;
	fw->cfg = *cfg;
	fw->state = SEV_PSTATE_UNINIT;
	fw->nv_path = strdup(nv_path);
	fw->ccx_all = cfg->ccx_count >= EMU_CCX_MAX ? UINT32_MAX
						     : (1u << (cfg->ccx_count ? cfg->ccx_count : 1)) - 1;
	fw->asid_dirty = calloc((size_t)cfg->cpuid_ecx + 1, sizeof(*fw->asid_dirty));
	if (!fw->nv_path || !fw->asid_dirty) {
		emu_fw_free(fw);
		return -ENOMEM;
	}
	r = emu_mem_new(&fw->mem);
	if (r >= 0) {
		emu_mem_set_cbit(fw->mem, cfg->cpuid_ebx & 0x3f);
		r = nv_open(fw);
	}
	if (r < 0) {
		emu_fw_free(fw);
		return r;
	}
	*ret = fw;
	return 0;
}

void emu_fw_free(struct emu_fw *fw)
{
	if (!fw)
		return;
	if (fw->guests_shutdown)
		fw->guests_shutdown(fw); /* guest contexts and their memory views */
	emu_snp_free(fw);
	emu_es_release(fw);
	emu_mem_free(fw->mem);
	emu_faults_free(fw->faults);
	emu_nv_state_clear(&fw->nv);
	free(fw->asid_dirty);
	free(fw->nv_path);
	free(fw);
}

static const struct emu_cmd_row *find_row(uint32_t cmd)
{
	for (size_t t = 0; t < ELEMENTSOF(cmd_tables); t++)
		for (size_t i = 0; i < *cmd_tables[t].n; i++)
			if (cmd_tables[t].rows[i].cmd == cmd)
				return &cmd_tables[t].rows[i];
	return NULL;
}

static bool writes_back(enum emu_cmd_wb wb, int st)
{
	switch (wb) {
	case EMU_WB_NONE: return false;
	case EMU_WB_ON_SUCCESS: return st == SEV_STATUS_SUCCESS;
	case EMU_WB_ON_SUCCESS_OR_LEN:
		return st == SEV_STATUS_SUCCESS || st == SEV_STATUS_INVALID_LEN;
	default: return true;
	}
}

/* The handler on firmware's private copy of the buffer; the caller's bytes change only where
 * the command's write-back rule says (sev_dispatch_master's switch on cmd_buf_type). */
static int run_handler(const struct emu_cmd_row *row, struct emu_fw *fw, uint8_t *buf,
		       size_t size)
{
	uint8_t orig[256];
	int st;

	if (row->wb == EMU_WB_HANDLER || size > sizeof(orig))
		return row->fn(fw, buf);
	memcpy(orig, buf, size);
	st = row->fn(fw, buf);
	if (!writes_back(row->wb, st))
		memcpy(buf, orig, size);
	return st;
}

int emu_fw_command(struct emu_fw *fw, uint32_t cmd, void *buf, size_t len)
{
	int size = sev_cmd_buffer_size(cmd);
	const struct emu_fault_rule *fault;
	const struct emu_cmd_row *row;
	uint8_t empty[1];

	/* The mailbox carries an id and an address, no length (AMD-ASPFW sev_dispatch.c
	 * sev_dispatch_master): an unknown id is INVALID_COMMAND whatever follows; firmware then
	 * copies its table's size from the address and no more, so a longer wire buffer is fine
	 * (the rest is left alone) and a shorter one is refused below firmware (-EMSGSIZE). */
	if (size >= 0 && len < (size_t)size)
		return -EMSGSIZE;
	fw->commands_served++;
	if (!fw->cfg.snp && emu_snp_cmd_id(cmd))
		return SEV_STATUS_INVALID_COMMAND; /* an SEV-only firmware (no --snp) */
	if (size < 0)
		return SEV_STATUS_INVALID_COMMAND;
	/* Fault plans (fault.h) strike here: after the check on the id, before the
	 * state check and the handler. A FAIL answers its status and the command does not run;
	 * a rule with `before` skips the command too, and the socket side does the rest
	 * (emu_faults_take_action). */
	fault = emu_faults_hit(fw->faults, cmd);
	if (fault && fault->kind == EMU_FAULT_FAIL)
		return fault->status;
	if (fault && fault->before)
		return SEV_STATUS_HWERROR_PLATFORM; /* nothing ran: the platform state is kept */
	row = find_row(cmd);
	if (!row)
		return SEV_STATUS_INVALID_COMMAND; /* a known id this firmware does not implement */
	buf = size ? buf : empty; /* CMD_BUF_IGNORE: firmware never reads a buffer */
	if (row->pre) {
		int st = row->pre(fw, buf);

		if (st)
			return st;
	}
	if (!(row->states & (1u << fw->state)))
		return SEV_STATUS_INVALID_PLATFORM_STATE;
	if (fw->snp && !emu_snp_cmd_id(cmd)) { /* SNP initialized: SEV writes firmware pages */
		int st = emu_snp_sev_check(fw, cmd, buf, (size_t)size);

		if (st)
			return st;
	}
	return run_handler(row, fw, buf, (size_t)size);
}

int emu_fw_commit_owner(struct emu_fw *fw, struct emu_owner *neu)
{
	struct emu_owner old = fw->nv.owner;
	int r;

	fw->nv.owner = *neu;
	r = nv_save(fw);
	if (r < 0) {
		log_error_errno(r, "Failed to write NV file %s, keeping the previous keys: %m",
				fw->nv_path);
		fw->nv.owner = old;
		fw->nv.generation--;
		emu_owner_clear(neu);
		return SEV_STATUS_HWERROR_PLATFORM;
	}
	emu_owner_clear(&old);
	memset(neu, 0, sizeof(*neu));
	fw->nv_corrupt = false;
	return SEV_STATUS_SUCCESS;
}
