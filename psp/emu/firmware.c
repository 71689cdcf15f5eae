/* Firmware core of sev-psp-emu: start-up from the NV file, the command dispatcher over the
 * command tables, and committing the owner store to flash. See firmware.h. */
#include <errno.h>
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

static int nv_open(struct emu_fw *fw)
{
	const char *reason = NULL;
	int r = emu_nv_load(fw->nv_path, &fw->nv, &reason);

	if (r == -ENOENT)
		return nv_create(fw);
	if (r == -EBADMSG) {
		log_error("NV file %s is refused: %s. It is never replaced automatically (that "
			  "would change the chip identity): restore it, or move it away to start "
			  "with a new chip.", fw->nv_path, reason);
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
	fw->asid_dirty = calloc((size_t)cfg->cpuid_ecx + 1, 1);
	if (!fw->nv_path || !fw->asid_dirty) {
		emu_fw_free(fw);
		return -ENOMEM;
	}
	r = emu_mem_new(&fw->mem);
	if (r >= 0)
		r = nv_open(fw);
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

int emu_fw_command(struct emu_fw *fw, uint32_t cmd, void *buf, size_t len)
{
	int size = sev_cmd_buffer_size(cmd);
	const struct emu_fault_rule *fault;
	const struct emu_cmd_row *row;
	uint8_t empty[1];

	fw->commands_served++;
	if (!fw->cfg.snp && emu_snp_cmd_id(cmd))
		return SEV_STATUS_INVALID_COMMAND; /* an SEV-only firmware (no --snp) */
	if (size < 0)
		return SEV_STATUS_INVALID_COMMAND;
	if ((size_t)size != len)
		return SEV_STATUS_INVALID_LEN;
	/* Fault plans (fault.h, issue 9) strike here: after the checks on the id and the
	 * length, before the state check and the handler. A FAIL answers its status and the
	 * command does not run; a rule with `before` skips the command too, and the socket side
	 * does the rest (emu_faults_take_action). */
	fault = emu_faults_hit(fw->faults, cmd);
	if (fault && fault->kind == EMU_FAULT_FAIL)
		return fault->status;
	if (fault && fault->before)
		return SEV_STATUS_HWERROR_PLATFORM; /* nothing ran: the platform state is kept */
	row = find_row(cmd);
	if (!row)
		return SEV_STATUS_INVALID_COMMAND; /* a known id this firmware does not implement */
	if (!(row->states & (1u << fw->state)))
		return SEV_STATUS_INVALID_PLATFORM_STATE;
	if (fw->snp && !emu_snp_cmd_id(cmd)) { /* SNP initialized: SEV writes firmware pages */
		int st = emu_snp_sev_check(fw, cmd, buf, len);

		if (st)
			return st;
	}
	return row->fn(fw, len ? buf : empty);
}

int emu_fw_commit_owner(struct emu_fw *fw, struct emu_owner *neu)
{
	struct emu_owner old = fw->nv.owner;
	int r;

	fw->nv.owner = *neu;
	r = emu_nv_save(fw->nv_path, &fw->nv);
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
	return SEV_STATUS_SUCCESS;
}
