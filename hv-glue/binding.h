/* ASID binding on the VMM side: which guest handle holds which ASID (grants the daemon sends
 * after ACTIVATE, revokes it sends on DEACTIVATE/DECOMMISSION), and, per physical CPU, which
 * VMCB last entered with each ASID, so that the VMM requests a TLB flush exactly when KVM's
 * pre_sev_run (arch/x86/kvm/svm/sev.c) would. The VMM never picks an ASID: the daemon does.
 * Trusts: nothing from the grant stream until hv_grant_msg_parse() accepted it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmcb;
struct hv_bindings;

#define HV_GUEST_ID_SIZE 16

/* One grant: guest handle <-> ASID. generation is the daemon's counter; it rises every time
 * an ASID is handed out again, so a reuse is visible even to a VMCB at the same address. */
struct hv_grant {
	uint32_t handle;
	uint32_t asid;
	bool es;   /* granted for an SEV-ES guest (ASID below CPUID 8000_001F[EDX]) */
	bool live; /* false once revoked: the ASID can never enter for this grant again */
	uint64_t generation;
	/* The guest's stable id (sevd's "id": handle, then 12 random bytes; never reused), from
	 * a version 2 frame; all zero from version 1. A GRANT of a handle under another id is a
	 * new guest, not the old one activated again. */
	uint8_t id[HV_GUEST_ID_SIZE];
};

/* max_asid = CPUID 8000_001F[ECX]; ncpus = physical CPUs tracked for the TLB decision. */
int hv_bindings_new(uint32_t max_asid, unsigned ncpus, struct hv_bindings **ret);
struct hv_bindings *hv_bindings_free(struct hv_bindings *b);

/* -EINVAL (ASID 0, above max, generation 0), -EBUSY (ASID or handle already live: revoke
 * first), -ESTALE (generation not newer than the ASID's last grant). */
int hv_bindings_grant(struct hv_bindings *b, uint32_t handle, uint32_t asid, bool es,
		      uint64_t generation);
/* -ENOENT (no live grant of this ASID to this handle), -ESTALE (other generation).
 * hv_bindings_apply() also refuses a REVOKE whose id is not the grant's (-ENOENT) when both
 * carry one. */
int hv_bindings_revoke(struct hv_bindings *b, uint32_t handle, uint32_t asid, uint64_t generation);

/* The last grant seen for asid (live or revoked), or NULL when it was never granted. */
const struct hv_grant *hv_bindings_lookup(const struct hv_bindings *b, uint32_t asid);
/* The live grant held by handle, or NULL. */
const struct hv_grant *hv_bindings_find_handle(const struct hv_bindings *b, uint32_t handle);

/* Before VMRUN on physical CPU cpu (KVM pre_sev_run): put the handle's granted ASID into the
 * VMCB and set TLB_CONTROL to FLUSH_ASID (3) when another VMCB, another grant generation, or
 * another CPU (*last_cpu, updated here; start it at -1) ran last with this ASID, else to 0.
 * -ENOENT when the handle holds no live grant (the VMCB is left untouched: the gate refuses
 * it), -EINVAL for a CPU beyond ncpus. Returns 1 when a flush was requested, 0 otherwise. */
int hv_bindings_pre_run(struct hv_bindings *b, uint32_t handle, unsigned cpu, int *last_cpu,
			struct vmcb *vmcb);

/* VMRUN did not happen after hv_bindings_pre_run() (the gate refused): the VMCB did not run
 * anywhere, so the next real entry must flush whatever another VMCB left in the TLB under
 * this ASID before the refused attempt claimed the per-CPU slot. */
void hv_bindings_entry_refused(int *last_cpu);

/* The grant/revoke stream (daemon -> VMM), one fixed little-endian frame per event:
 *   0  u32 magic "HVGS" (0x53475648)     4  u16 version (1 or 2)  6  u16 type (1 GRANT, 2 REVOKE)
 *   8  u32 length (32, or 48 in v2)      12 u32 handle          16 u32 asid
 *   20 u32 flags (bit 0: SEV-ES; others must be zero)           24 u64 generation (non-zero)
 *   version 2 only: 32 u8 id[16], the guest's stable id (its first 4 bytes, big-endian, are
 *   the handle; never all zero)
 * sevd sends version 2; a reader of version 1 only stops at its first frame ("unknown
 * version") and must be updated. Anything else is malformed, and a malformed frame ends the
 * stream. */
#define HV_GRANT_MSG_SIZE 32
#define HV_GRANT_MSG_V2_SIZE 48
#define HV_GRANT_MSG_MAX HV_GRANT_MSG_V2_SIZE
#define HV_GRANT_MAGIC 0x53475648u
#define HV_GRANT_VERSION 1
#define HV_GRANT_VERSION_ID 2
#define HV_GRANT_FLAG_ES 0x1u

enum hv_grant_type { HV_GRANT = 1, HV_REVOKE = 2 };

struct hv_grant_msg {
	enum hv_grant_type type;
	uint32_t handle;
	uint32_t asid;
	bool es;
	uint64_t generation;
	uint8_t id[HV_GUEST_ID_SIZE]; /* version 2: the guest's stable id; version 1: zero */
};

/* -EBADMSG for any malformed frame (wrong size, magic, version, type, length, flags, zero
 * ASID or generation; in version 2 an id that is zero or does not start with the handle),
 * with *ret_why (may be NULL) naming the field. len is 32 (version 1) or 48 (version 2). */
int hv_grant_msg_parse(const void *buf, size_t len, struct hv_grant_msg *ret, const char **ret_why);
/* A version 1 frame (no id). */
void hv_grant_msg_build(const struct hv_grant_msg *m, uint8_t out[HV_GRANT_MSG_SIZE]);
/* A version 2 frame, with m->id: what sevd sends. */
void hv_grant_msg_build_v2(const struct hv_grant_msg *m, uint8_t out[HV_GRANT_MSG_V2_SIZE]);
/* Apply one parsed message to the table (hv_bindings_grant / hv_bindings_revoke). */
int hv_bindings_apply(struct hv_bindings *b, const struct hv_grant_msg *m);
/* Read exactly one frame from fd: 0 at a clean EOF, 1 with *ret filled, -EBADMSG for a
 * truncated or malformed frame, -errno for I/O errors (-EAGAIN on a non-blocking fd). */
int hv_grant_stream_read(int fd, struct hv_grant_msg *ret, const char **ret_why);
