/* The grant table, the per-CPU "last VMCB per ASID" table and the grant-stream codec.
 * Role: what KVM keeps in sev_asid_bitmap/sev_vmcbs (arch/x86/kvm/svm/sev.c), except that
 * here the ASIDs come from the daemon, never from a local allocator. Pure memory, no I/O
 * apart from hv_grant_stream_read(). Trusts nothing in a frame until it has been parsed. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "hv-glue/binding.h"
#include "hv-glue/vmcb.h"

/* What one physical CPU remembers about one ASID: the VMCB that last ran with it there and
 * the grant generation it ran under. */
struct hv_cpu_slot {
	const struct vmcb *vmcb;
	uint64_t generation;
};

struct hv_bindings {
	uint32_t max_asid;
	unsigned ncpus;
	struct hv_grant *grants;   /* [max_asid + 1], index = ASID; generation 0 = never */
	struct hv_cpu_slot *slots; /* [ncpus][max_asid + 1] */
};

int hv_bindings_new(uint32_t max_asid, unsigned ncpus, struct hv_bindings **ret)
{
	struct hv_bindings *b;

	/* 1006 ASIDs (Genoa) x a few hundred CPUs is a few MB; refuse absurd sizes. */
	if (max_asid == 0 || max_asid > 0x10000 || ncpus == 0 || ncpus > 8192)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->max_asid = max_asid;
	b->ncpus = ncpus;
	b->grants = calloc((size_t)max_asid + 1, sizeof(*b->grants));
	b->slots = calloc((size_t)ncpus * (max_asid + 1), sizeof(*b->slots));
	if (!b->grants || !b->slots) {
		hv_bindings_free(b);
		return -ENOMEM;
	}
	*ret = b;
	return 0;
}

struct hv_bindings *hv_bindings_free(struct hv_bindings *b)
{
	if (!b)
		return NULL;
	free(b->grants);
	free(b->slots);
	free(b);
	return NULL;
}

const struct hv_grant *hv_bindings_lookup(const struct hv_bindings *b, uint32_t asid)
{
	if (asid == 0 || asid > b->max_asid || b->grants[asid].generation == 0)
		return NULL;
	return &b->grants[asid];
}

const struct hv_grant *hv_bindings_find_handle(const struct hv_bindings *b, uint32_t handle)
{
	for (uint32_t a = 1; a <= b->max_asid; a++)
		if (b->grants[a].live && b->grants[a].handle == handle)
			return &b->grants[a];
	return NULL;
}

int hv_bindings_grant(struct hv_bindings *b, uint32_t handle, uint32_t asid, bool es,
		      uint64_t generation)
{
	struct hv_grant *g;

	if (asid == 0 || asid > b->max_asid || generation == 0)
		return -EINVAL;
	g = &b->grants[asid];
	/* The daemon revokes before it reuses an ASID (DEACTIVATE precedes the next ACTIVATE);
	 * a grant over a live one means the stream lost an event. */
	if (g->live)
		return -EBUSY;
	if (hv_bindings_find_handle(b, handle))
		return -EBUSY;
	if (generation <= g->generation)
		return -ESTALE;
	*g = (struct hv_grant){
	    .handle = handle, .asid = asid, .es = es, .live = true, .generation = generation};
	return 0;
}

int hv_bindings_revoke(struct hv_bindings *b, uint32_t handle, uint32_t asid, uint64_t generation)
{
	struct hv_grant *g;

	if (asid == 0 || asid > b->max_asid)
		return -ENOENT;
	g = &b->grants[asid];
	if (!g->live || g->handle != handle)
		return -ENOENT;
	if (g->generation != generation)
		return -ESTALE;
	g->live = false; /* kept, so the gate can say "revoked" rather than "never granted" */
	return 0;
}

int hv_bindings_pre_run(struct hv_bindings *b, uint32_t handle, unsigned cpu, int *last_cpu,
			struct vmcb *vmcb)
{
	const struct hv_grant *g;
	struct hv_cpu_slot *slot;
	bool flush;

	if (cpu >= b->ncpus)
		return -EINVAL;
	g = hv_bindings_find_handle(b, handle);
	if (!g)
		return -ENOENT;

	vmcb->control.asid = g->asid;
	slot = &b->slots[(size_t)cpu * (b->max_asid + 1) + g->asid];
	/* KVM: skip the flush only if this very VMCB ran last with the ASID on this CPU and the
	 * vCPU did not move. The generation adds the case KVM covers by never reusing a VMCB
	 * page while its ASID is live: a new grant of the same ASID must not inherit TLB
	 * entries tagged by the previous guest. */
	flush = slot->vmcb != vmcb || slot->generation != g->generation || *last_cpu != (int)cpu;
	slot->vmcb = vmcb;
	slot->generation = g->generation;
	*last_cpu = (int)cpu;
	if (flush) {
		vmcb->control.tlb_control = VMCB_TLB_FLUSH_ASID;
		vmcb->control.vmcb_clean &= ~VMCB_CLEAN_ASID;
	} else
		vmcb->control.tlb_control = VMCB_TLB_NOTHING;
	return flush;
}

void hv_bindings_entry_refused(int *last_cpu)
{
	/* "ran nowhere yet": the next pre_run flushes whatever the per-CPU slot says */
	*last_cpu = -1;
}

int hv_grant_msg_parse(const void *buf, size_t len, struct hv_grant_msg *ret, const char **ret_why)
{
	const uint8_t *p = buf;
	const char *why = NULL;
	uint16_t type;
	uint32_t flags;

	uint16_t version = len >= 6 ? get_le16(p + 4) : 0;
	static const uint8_t zero_id[HV_GUEST_ID_SIZE];

	if (len != HV_GRANT_MSG_SIZE && len != HV_GRANT_MSG_V2_SIZE)
		why = "frame size is not 32 (version 1) or 48 (version 2) bytes";
	else if (get_le32(p) != HV_GRANT_MAGIC)
		why = "bad magic";
	else if (version != HV_GRANT_VERSION && version != HV_GRANT_VERSION_ID)
		why = "unknown version";
	else if ((type = get_le16(p + 6)) != HV_GRANT && type != HV_REVOKE)
		why = "unknown message type";
	else if (get_le32(p + 8) != (version == HV_GRANT_VERSION ? HV_GRANT_MSG_SIZE
								  : HV_GRANT_MSG_V2_SIZE) ||
		 len != get_le32(p + 8))
		why = version == HV_GRANT_VERSION ? "length field is not 32"
						  : "length field is not 48 (version 2)";
	else if (get_le32(p + 16) == 0)
		why = "ASID 0 is the host's";
	else if ((flags = get_le32(p + 20)) & ~HV_GRANT_FLAG_ES)
		why = "reserved flag bits set";
	else if (get_le64(p + 24) == 0)
		why = "generation 0";
	else if (version == HV_GRANT_VERSION_ID && !memcmp(p + 32, zero_id, sizeof(zero_id)))
		why = "guest id 0";
	else if (version == HV_GRANT_VERSION_ID &&
		 ((uint32_t)p[32] << 24 | (uint32_t)p[33] << 16 | (uint32_t)p[34] << 8 | p[35]) !=
		     get_le32(p + 12))
		why = "guest id does not start with its handle";
	if (ret_why)
		*ret_why = why;
	if (why)
		return -EBADMSG;

	*ret = (struct hv_grant_msg){
	    .type = (enum hv_grant_type)type,
	    .handle = get_le32(p + 12),
	    .asid = get_le32(p + 16),
	    .es = flags & HV_GRANT_FLAG_ES,
	    .generation = get_le64(p + 24),
	};
	if (version == HV_GRANT_VERSION_ID)
		memcpy(ret->id, p + 32, HV_GUEST_ID_SIZE);
	return 0;
}

void hv_grant_msg_build(const struct hv_grant_msg *m, uint8_t out[HV_GRANT_MSG_SIZE])
{
	put_le32(out, HV_GRANT_MAGIC);
	put_le16(out + 4, HV_GRANT_VERSION);
	put_le16(out + 6, (uint16_t)m->type);
	put_le32(out + 8, HV_GRANT_MSG_SIZE);
	put_le32(out + 12, m->handle);
	put_le32(out + 16, m->asid);
	put_le32(out + 20, m->es ? HV_GRANT_FLAG_ES : 0);
	put_le64(out + 24, m->generation);
}

void hv_grant_msg_build_v2(const struct hv_grant_msg *m, uint8_t out[HV_GRANT_MSG_V2_SIZE])
{
	hv_grant_msg_build(m, out);
	put_le16(out + 4, HV_GRANT_VERSION_ID);
	put_le32(out + 8, HV_GRANT_MSG_V2_SIZE);
	memcpy(out + 32, m->id, HV_GUEST_ID_SIZE);
}

int hv_bindings_apply(struct hv_bindings *b, const struct hv_grant_msg *m)
{
	static const uint8_t zero_id[HV_GUEST_ID_SIZE];
	const struct hv_grant *g;
	int r;

	switch (m->type) {
	case HV_GRANT:
		r = hv_bindings_grant(b, m->handle, m->asid, m->es, m->generation);
		if (r >= 0)
			memcpy(b->grants[m->asid].id, m->id, HV_GUEST_ID_SIZE);
		return r;
	case HV_REVOKE:
		g = hv_bindings_find_handle(b, m->handle);
		if (g && g->asid == m->asid && memcmp(m->id, zero_id, sizeof(zero_id)) &&
		    memcmp(g->id, zero_id, sizeof(zero_id)) && memcmp(g->id, m->id, sizeof(g->id)))
			return -ENOENT; /* a revoke of another guest that held this handle */
		return hv_bindings_revoke(b, m->handle, m->asid, m->generation);
	}
	return -EBADMSG;
}

int hv_grant_stream_read(int fd, struct hv_grant_msg *ret, const char **ret_why)
{
	uint8_t buf[HV_GRANT_MSG_MAX];
	size_t have = 0, want = HV_GRANT_MSG_SIZE;

	/* A frame is small and the writer sends it whole; keep reading until it is complete so
	 * that a frame split across reads on a stream socket is not mistaken for a short one. */
	while (have < want) {
		ssize_t n = read(fd, buf + have, want - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && have > 0) {
				/* mid-frame on a non-blocking fd: the rest must follow promptly */
				struct pollfd pfd = {.fd = fd, .events = POLLIN};
				if (poll(&pfd, 1, 1000) > 0)
					continue;
				if (ret_why)
					*ret_why =
					    "frame truncated (rest did not arrive within 1 s)";
				return -EBADMSG;
			}
			return -errno;
		}
		if (n == 0) {
			if (have == 0)
				return 0;
			if (ret_why)
				*ret_why = "stream ended inside a frame";
			return -EBADMSG;
		}
		have += (size_t)n;
		/* A version 2 frame (the header says so) has the guest's id after the 32 bytes. */
		if (have == HV_GRANT_MSG_SIZE && want == HV_GRANT_MSG_SIZE &&
		    get_le16(buf + 4) == HV_GRANT_VERSION_ID &&
		    get_le32(buf + 8) == HV_GRANT_MSG_V2_SIZE)
			want = HV_GRANT_MSG_V2_SIZE;
	}
	return hv_grant_msg_parse(buf, have, ret, ret_why) < 0 ? -EBADMSG : 1;
}
