/* libFuzzer target: the core's parser of the messages its unprivileged HTTP worker sends
 * (daemon/ipc/ipc.c, sevd_ipc_recv_request; privilege separation). The input is what a
 * compromised worker could write on a core channel: a stream of frames, parsed one after the
 * other as the core's channel thread does until the first error. Checks, beyond "no crash":
 * an accepted frame has a known op and exactly the table's body length, its bytes are the
 * input's (header and body, nothing else read), the request's bytes past the body are zero,
 * and every error is one of the documented codes with a reason. The same bytes are also read
 * as a reply to the op their header names (the worker's parser of what the core sends): an
 * accepted reply has the op's fixed length, or (ASIDS, GUEST_LIST, METRICS: counted bodies)
 * its prefix plus exactly the count's entries, never more than the op's maximum, and every
 * byte of it is the input's. The channel's staging state is followed as the core's channel
 * thread does (ipc.h, staged uploads: a STAGE gives the channel a staging buffer, any other
 * request but a SLOT ends it): every SLOT is checked with sevd_ipc_check_slot, which must
 * refuse exactly those without a staging, with a slot index past it or a length over a slot.
 * Seeds: tests/fuzz/corpus/daemon-ipc (valid request frames for several ops, sequences,
 * staged-upload sequences, malformed ones; reply-* frames, fixed and counted, also with a
 * count that disagrees with the length, written by tests/daemon/gen-fuzz-seeds.c; regression-*
 * are
 * inputs libFuzzer found). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ipc/ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* For the replay test (tests/daemon/test-fuzz-replay.c): requests decoded whole. */
uint64_t fuzz_replay_accepted(void);

static uint64_t accepted;

uint64_t fuzz_replay_accepted(void)
{
	return accepted;
}

static void check_error(int r, const char *err)
{
	if (r != -EPIPE && r != -EBADMSG && r != -EPROTO && r != -EMSGSIZE && r != -ENODATA)
		abort();
	if (!err[0])
		abort(); /* every refusal says why (the core logs it) */
}

/* The core's slot rule for one request, against what the fields say it must answer. */
static int check_slot(const struct sevd_request *req, uint32_t *slots)
{
	char err[SEVD_IPC_ERR_MAX] = "";
	int r = sevd_ipc_check_slot(req, *slots, SEVD_STAGE_SLOT_SIZE, err, sizeof(err)), want;

	if (req->op != SEVD_OP_GUEST_DATA_SLOT) {
		if (r != 0)
			abort();
		*slots = req->op == SEVD_OP_GUEST_DATA_STAGE ? SEVD_STAGE_SLOTS : 0;
		return 0;
	}
	want = !*slots				       ? -EPROTO
	       : req->u.slot.slot >= *slots	       ? -ERANGE
	       : req->u.slot.len > SEVD_STAGE_SLOT_SIZE ? -EMSGSIZE
						       : 0;
	if (r != want || (r < 0 && !err[0]))
		abort();
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sevd_request req;
	static struct sevd_reply rep;
	struct sevd_ipc_src src = {.fd = -1, .buf = data, .len = size};
	char err[SEVD_IPC_ERR_MAX];
	uint32_t slots = 0; /* the channel's staging: none */
	int r;

	for (;;) {
		size_t at = src.pos, body;
		struct sevd_ipc_hdr h;

		err[0] = '\0';
		r = sevd_ipc_recv_request(&src, &req, err, sizeof(err));
		if (r < 0) {
			check_error(r, err);
			break;
		}
		if (!sevd_ipc_op_known(req.op))
			abort();
		/* A request: the caller's evidence, then the op's body (ipc.h). */
		body = sevd_ipc_body_len(SEVD_IPC_REQUEST, req.op);
		if (src.pos - at != sizeof(h) + SEVD_IPC_CALLER_SIZE + body)
			abort();
		memcpy(&h, data + at, sizeof(h));
		if (h.magic != SEVD_IPC_MAGIC || h.op != req.op ||
		    h.len != SEVD_IPC_CALLER_SIZE + body ||
		    memcmp(&req.caller, data + at + sizeof(h), SEVD_IPC_CALLER_SIZE) ||
		    memcmp(&req.u, data + at + sizeof(h) + SEVD_IPC_CALLER_SIZE, body))
			abort();
		for (size_t i = body; i < sizeof(req.u); i++)
			if (((const uint8_t *)&req.u)[i])
				abort();
		accepted++;
		if (check_slot(&req, &slots) < 0)
			break; /* the core kills the worker here */
	}
	/* The worker's side: a reply to the op its header names (else the first byte's). */
	src = (struct sevd_ipc_src){.fd = -1, .buf = data, .len = size};
	err[0] = '\0';
	{
		struct sevd_ipc_hdr h = {0};
		uint32_t op = size ? data[0] % SEVD_OP_MAX_ : 1;
		ssize_t want;

		if (size >= sizeof(h)) {
			memcpy(&h, data, sizeof(h));
			op = h.op;
		}
		r = sevd_ipc_recv_reply(&src, op, &rep, err, sizeof(err));
		if (r < 0) {
			check_error(r, err);
			return 0;
		}
		if (rep.message[sizeof(rep.message) - 1] || rep.rule[sizeof(rep.rule) - 1])
			abort();
		/* Exactly header + the length the body's own count gives, within the op's max. */
		want = sevd_ipc_msg_body_len(SEVD_IPC_REPLY, op, &rep);
		if (want < 0 || (size_t)want != h.len || src.pos != sizeof(h) + h.len ||
		    h.len < sevd_ipc_body_fixed(SEVD_IPC_REPLY, op) ||
		    h.len > sevd_ipc_body_len(SEVD_IPC_REPLY, op))
			abort();
		if (h.len > offsetof(struct sevd_reply, u) &&
		    memcmp((const uint8_t *)&rep + offsetof(struct sevd_reply, u),
			   data + sizeof(h) + offsetof(struct sevd_reply, u),
			   h.len - offsetof(struct sevd_reply, u)))
			abort();
	}
	return 0;
}
