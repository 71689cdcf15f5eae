/* The emulated SEV firmware: its configuration, its state, and the command dispatch table.
 * Each firmware command is one row {command id, platform states in which it is legal,
 * handler, checks before the state}; the dispatcher checks the id (INVALID_COMMAND) before the
 * row, and the state (INVALID_PLATFORM_STATE) before the handler, after the row's `pre`
 * checks, so a handler starts from a buffer of its command's size in a legal state.
 * Platform commands are rows in platform.c; guest commands go in their own table (see
 * README-guest.md). Handlers return a firmware status and touch client memory only through
 * emu_mem_read()/emu_mem_write(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psp/emu/memory.h"
#include "psp/emu/nv.h"
#include "psp/sev-abi.h"

struct emu_config {
	uint32_t cpuid_eax, cpuid_ebx, cpuid_ecx, cpuid_edx; /* CPUID Fn8000_001F */
	uint8_t api_major, api_minor, build;
	uint32_t amd_root_bits; /* for a new NV file only: 2048 or 4096 */
	bool snp;		/* --snp: SEV-SNP on (snp.h); CPUID EAX bit 4 follows */
	uint64_t snp_tcb;	/* --tcb: the current TCB_VERSION (snp.h) */
	int snp_product;	/* --snp-product: enum emu_snp_product (snp.h) */
	/* --erase-corrupt-nv: a corrupt NV file does not stop the start; the first INIT answers
	 * SECURE_DATA_INVALID and erases it, as firmware does (see firmware.c nv_open). */
	bool erase_corrupt_nv;
	/* --ccx N: core complexes (CCXs) of the part, 1..EMU_CCX_MAX (0 means 1). Each has
	 * EMU_APIC_IDS_PER_CCX APIC IDs: CCX c owns [c * 16, c * 16 + 16). */
	uint32_t ccx_count;
	/* --snp-cert-refuse (test-only), CTL `snp-cert-refuse on|off`: CTL `snp-cert` answers
	 * -EAGAIN ("the key server is not ready"), as a key server still starting would. */
	bool snp_cert_refuse;
};

#define EMU_CCX_MAX 32u		 /* firmware's per-ASID CCX bitmasks are 32 bits wide */
#define EMU_APIC_IDS_PER_CCX 16u /* 8 cores with 2 threads, as a Milan/Genoa CCX */

/* SEV-ES's vCPU pool in the TMR (AMD-ASPFW sev_es.c, pool_u32.c): the TMR's second half holds
 * one 8-byte CRC block per VMSA that LAUNCH_UPDATE_VMSA took in (sev_es_setup_vmsa). Made by
 * the first DF_FLUSH after an ES INIT (sev_es_init_trusted_region: only then is the TMR safe to
 * use), dropped at SHUTDOWN; blocks come from the head of a FIFO free list and go back to its
 * tail at DECOMMISSION. */
#define EMU_ES_POOL_BLOCKS 65536u /* 512 KiB / sizeof(es_vcpu_crc_t) */
struct emu_es_pool {
	bool on;
	uint64_t crc_base; /* block i's CRC at crc_base + 8 i */
	uint32_t *ring;	   /* free block indices */
	uint32_t head, count;
};

struct emu_fw {
	struct emu_config cfg;
	char *nv_path;
	struct emu_mem *mem;
	struct emu_nv_state nv; /* chip identity + owner store + counters, as on flash */
	/* The NV file is corrupt and the operator allowed erasing it (--erase-corrupt-nv): nv
	 * holds a new chip identity and an empty owner store, not yet written; the next INIT
	 * answers SECURE_DATA_INVALID and writes them (emu_fw_erase_corrupt_nv). */
	bool nv_corrupt;
	int state;		/* enum sev_platform_state */
	uint32_t config_flags;	/* from INIT: SEV_INIT_FLAGS_SEV_ES */
	uint32_t guest_count;
	/* ASID bookkeeping per CCX, as AMD-ASPFW keeps it (sev_mcmd.c: gpDram->perm.asid_dirty,
	 * clear_wbinvd_done, mcmd_df_flush_common): bit c stands for CCX c, ccx_all for all. */
	uint32_t ccx_all;
	/* The CCXs whose every core executed WBINVD since firmware last cleared their
	 * WBINVD_DONE flags: set by the host's CTL `wbinvd [CCX]` (sevd runs WBINVD on all CPUs,
	 * then tells us), cleared for all by INIT and, for the CCXs a guest ran on, by its
	 * DEACTIVATE. DF_FLUSH needs it to be ccx_all. */
	uint32_t wbinvd_done;
	uint32_t *asid_dirty; /* [0..cpuid_ecx]: the CCXs where the ASID needs DF_FLUSH */
	uint64_t tmr_base;    /* SEV-ES's TMR since INIT (0: none), protected from clients */
	struct emu_es_pool es_pool;
	uint64_t commands_served;
	uint32_t max_concurrent_seen; /* connections with a command pending at once (server.c) */
	void *guests; /* the guest commands' state (guest side; NULL until it exists) */
	/* SHUTDOWN drops every guest context (AMD-ASPFW sev_clear); the guest side sets this. */
	void (*guests_shutdown)(struct emu_fw *fw);
	struct emu_faults *faults; /* fault plans (fault.h); NULL: none can be installed */
	struct emu_snp *snp;	   /* the SNP side (snp.h); NULL without --snp */
};

typedef int (*emu_cmd_fn)(struct emu_fw *fw, void *buf);

/* When firmware copies the command buffer back to the caller (AMD-ASPFW sev_dispatch.c
 * master_handler_table's cmd_buf_type): whatever a handler wrote into the buffer reaches
 * the caller only then; otherwise the caller keeps its bytes. */
enum emu_cmd_wb {
	EMU_WB_HANDLER = 0,	      /* no rule: the handler's bytes go back as they are */
	EMU_WB_NONE,		      /* CMD_BUF_INPUT_ONLY, CMD_BUF_IGNORE */
	EMU_WB_ON_SUCCESS,	      /* CMD_BUF_OUTPUT_ONLY, CMD_BUF_INPUT_AND_OUTPUT */
	EMU_WB_ON_SUCCESS_OR_LEN, /* CMD_BUF_INPUT_AND_OUTPUT_ERROR: SUCCESS or INVALID_LEN */
};

#define EMU_IN_UNINIT (1u << SEV_PSTATE_UNINIT)
#define EMU_IN_INIT (1u << SEV_PSTATE_INIT)
#define EMU_IN_WORKING (1u << SEV_PSTATE_WORKING)
#define EMU_IN_ANY (EMU_IN_UNINIT | EMU_IN_INIT | EMU_IN_WORKING)

struct emu_cmd_row {
	uint32_t cmd;
	uint32_t states; /* EMU_IN_* mask */
	emu_cmd_fn fn;
	/* Checks firmware makes before the platform state, in its order (LAUNCH_UPDATE_VMSA's
	 * length: sev_mcmd_launch_update_vmsa); a non-SUCCESS answer is final. NULL: none, the
	 * state is firmware's first check, as in most handlers. */
	emu_cmd_fn pre;
	enum emu_cmd_wb wb;
};

extern const struct emu_cmd_row emu_platform_cmds[];
/* PEK_CERT_IMPORT's handler, in its own file (pek-import.c). */
int emu_pek_cert_import(struct emu_fw *fw, void *buf);
/* DOWNLOAD_FIRMWARE, and a signed image of the emulator's own format for a version (CTL
 * `firmware-image`): dlfw.c. The image goes to out[cap]: 0, -ENOBUFS, -EIO. */
int emu_cmd_download_firmware(struct emu_fw *fw, void *buf);
int emu_fw_image_make(struct emu_fw *fw, uint8_t api_major, uint8_t api_minor, uint8_t build,
		      uint8_t *out, size_t cap, size_t *ret_len);
extern const size_t emu_platform_cmds_n;

/* Load the NV file (or create it, with a new chip identity, when it does not exist). A corrupt
 * NV file fails with -EBADMSG after logging which file and why, unless cfg->erase_corrupt_nv
 * (then fw->nv_corrupt is set). */
int emu_fw_new(const struct emu_config *cfg, const char *nv_path, struct emu_fw **ret);
void emu_fw_free(struct emu_fw *fw);
/* Run one command: buf holds len bytes whose first sev_cmd_buffer_size(cmd) are the command
 * buffer, updated in place (firmware reads and writes exactly that many from the mailbox
 * address; bytes past it are not its business and stay as they are). Returns the firmware
 * status, or -EMSGSIZE when len is shorter than the command's buffer: no firmware could say
 * what it would have read there, so the request is refused below firmware (the wire answers
 * it with that errno, not a status). */
int emu_fw_command(struct emu_fw *fw, uint32_t cmd, void *buf, size_t len);
/* Persist the owner store `neu` (taken over on success): SUCCESS, or HWERROR_PLATFORM with
 * the old store kept when the NV file cannot be written. */
int emu_fw_commit_owner(struct emu_fw *fw, struct emu_owner *neu);
/* The ES pool (platform.c): a block for one VMSA (RESOURCE_LIMIT when the pool is empty or
 * not made yet), its CRC block's address, giving one back, and dropping the pool and the
 * TMR's protection (SHUTDOWN). */
int emu_es_pool_alloc(struct emu_fw *fw, uint32_t *ret_index);
uint64_t emu_es_pool_crc_addr(const struct emu_fw *fw, uint32_t index);
void emu_es_pool_free(struct emu_fw *fw, uint32_t index);
void emu_es_release(struct emu_fw *fw);
/* INIT on a corrupt store (fw->nv_corrupt): keep the corrupt file as FILE.corrupt, write the
 * fresh store in its place and clear nv_corrupt. Returns SECURE_DATA_INVALID either way, as
 * firmware's INIT does (it ignores whether the erase worked). */
int emu_fw_erase_corrupt_nv(struct emu_fw *fw);
