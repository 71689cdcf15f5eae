/* The guest lifecycle inside the core: the table of guests sevd launched, their
 * memory (a memfd each, mapped for firmware), the journal that makes every state change
 * durable before the HTTP answer, the reconciliation with firmware at start, and the grant
 * stream to VMMs (hv-glue/README.md). Privileged side of the seam (core.h): runs
 * only on the firmware thread, so guest operations are serialized with every firmware command
 * and need no lock of their own (the grant-stream subscriber list has one).
 *
 * Errors in sevd_reply.r: -ENOENT unknown handle (404), -EPERM refused by the host admission
 * policy (403, reply.rule names the rule), -ENOSPC no free ASID of the guest's type (409),
 * -EALREADY wrong state on sevd's side (an upload running, ASID already bound; 409),
 * -EINVAL / -EFBIG bad input (400), -EIO a firmware status (reply.fw_status),
 * -ENOTRECOVERABLE the journal cannot be written (507 state_not_durable: refused before any
 * firmware change, or after one that is then reported, see journal_write() in guest.c). */
#pragma once

#include "daemon/core/core.h"

struct sevd_guests;
struct psp_transport;

struct sevd_guests_config {
	const char *state_dir;
	const struct policy_rules *policy; /* NULL: accept every policy, no quotas */
	bool journal_recover;
	unsigned journal_compact;
	const char *control; /* grant-stream socket path or NULL */
	const char *migration_roots, *migration_emulated_root; /* core.h */
};

/* Open the journal, replay it and reconcile with firmware (GUEST_STATUS for every known handle,
 * cleanup of half-done launches, unknown firmware guests decommissioned), then flush ASIDs.
 * Runs on the firmware thread (the core queues it). */
int sevd_guests_new(struct sevd_core *core, const struct sevd_guests_config *cfg,
		    struct sevd_guests **ret);
void sevd_guests_free(struct sevd_guests *gs);
/* sevd_journal_size_bytes and sevd_journal_durable (Prometheus text) into buf; any thread.
 * Returns the length or -ENOBUFS. */
int sevd_guests_render_metrics(struct sevd_guests *gs, char *buf, size_t size);
/* Guests in the table. */
unsigned sevd_guests_count(const struct sevd_guests *gs);
/* The core reconnected to the PSP through a new transport. */
void sevd_guests_set_psp(struct sevd_guests *gs, struct psp_transport *psp);
/* The PSP was reset (found UNINIT on reconnection): drop every guest, journalled. */
int sevd_guests_after_reset(struct sevd_guests *gs);
/* sevd sent SHUTDOWN itself, with force: every guest is dropped (journalled, grants revoked,
 * regions unmapped, ASIDs pending flush); `command` names it in the log. */
void sevd_guests_after_shutdown(struct sevd_guests *gs, const char *command);
/* Serve one SEVD_OP_GUEST_* request (on the firmware thread). */
void sevd_guests_op(struct sevd_guests *gs, const struct sevd_request *req, struct sevd_reply *rep);
/* GUEST_DATA with len bytes at buf (a staged upload's slot, ipc.h), on the firmware thread. */
/* The tenant the next guest op acts for ("" or NULL: any); sevd_guests_op sets it itself. */
void sevd_guests_principal(struct sevd_guests *gs, const char *tenant);
/* May a principal of tenant (""/NULL: any) act on guest handle? 0, or -EACCES with
 * rule core_refused:tenant in rep (a handle sevd does not hold: 0, the op itself fails). For
 * the ops the core's channel threads serve (GUEST_DATA_STAGE); a firmware-thread job. */
int sevd_guests_check_tenant(struct sevd_guests *gs, uint32_t handle, const char *tenant,
			     struct sevd_reply *rep);
void sevd_guests_data(struct sevd_guests *gs, uint32_t handle, const uint8_t *buf, uint32_t len,
		      struct sevd_reply *rep);
/* What the VMM socket (vmm.c) needs of a guest, on the firmware thread: whether it is an SNP
 * guest, its ASID, its state as sevd last saw it (SEV_GSTATE_*) and, for SNP, its context
 * page. -ENOENT for no guest of this handle. */
struct sevd_vmm_target {
	bool snp;
	uint32_t asid;
	uint8_t state;
	uint64_t ctx;
};
int sevd_guests_vmm_target(struct sevd_guests *gs, uint32_t handle, struct sevd_vmm_target *ret);
/* End the VMM socket's connections (before the firmware queue goes away). */
void sevd_guests_stop_vmm(struct sevd_guests *gs);
