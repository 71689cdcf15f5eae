/* libFuzzer target: the JSON bodies and path/query arguments of sevd's guest routes
 * (daemon/worker/api-guest.c): POST /v1/guests, /secret, /activate, /finish, /deactivate, DELETE,
 * /vmsa, /attestation, the migration routes (/send and its stream, /send/finish,
 * /send/cancel, the streamed /receive, /receive/finish, POST /v1/guests with "receive"); and
 * the one platform route with a JSON body, POST /v1/platform/pek-cert. The
 * first input byte picks the route, the second the {h} segment form, the rest is the body. The core
 * behind the seam is replaced by a checker that aborts when a request that reaches it breaks the
 * seam's promises (lengths in range, names NUL-terminated, both or neither of godh/session), and
 * answers success or an error by turns so that both answer paths run. Seeds:
 * tests/fuzz/corpus/daemon-guest-json. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/worker/api-internal.h"
#include "daemon/worker/api.h"
#include "daemon/core/core.h"

static unsigned calls;

/* GUEST_SEND_BATCH as the core answers it: one packet per page of the run asked for. */
static void send_batch_answer(const struct sevd_request *req, struct sevd_reply *rep)
{
	uint32_t len = req->u.migrate_batch.len, n = 0;

	for (uint32_t at = 0; at < len; at += SEVD_PACKET_MAX, n++) {
		rep->u.migrate_batch.p[n].offset = req->u.migrate_batch.offset + at;
		rep->u.migrate_batch.p[n].len = len - at < SEVD_PACKET_MAX ? len - at : SEVD_PACKET_MAX;
		memset(rep->u.migrate_batch.p[n].data, 'd', rep->u.migrate_batch.p[n].len);
	}
	rep->u.migrate_batch.n = n;
	rep->u.migrate_batch.done = n;
	rep->u.migrate_batch.next = req->u.migrate_batch.offset + len;
	rep->u.migrate_batch.info.memory_size = (calls % 3) * 4096u + 100u; /* the stream's end */
}

/* The seam, as the fuzzed handlers see it. */
int sevd_core_call(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	(void)c;
	memset(rep, 0, sizeof(*rep));
	switch (req->op) {
	case SEVD_OP_PEK_CERT_IMPORT:
		if (req->u.pek_cert.pek_len != SEV_CERT_SIZE ||
		    req->u.pek_cert.oca_len != SEV_CERT_SIZE)
			abort();
		break;
	case SEVD_OP_GUEST_CREATE:
		if (!memchr(req->u.create.name, 0, sizeof(req->u.create.name)) ||
		    !memchr(req->u.create.tenant, 0, sizeof(req->u.create.tenant)) ||
		    (req->u.create.godh_len != 0 && req->u.create.godh_len != SEV_CERT_SIZE) ||
		    (req->u.create.session_len != 0 &&
		     req->u.create.session_len != sizeof(struct sev_session_blob)))
			abort();
		break;
	case SEVD_OP_GUEST_SEND_START:
	case SEVD_OP_GUEST_SEND_DATA:
	case SEVD_OP_GUEST_SEND_FINISH:
	case SEVD_OP_GUEST_SEND_CANCEL:
	case SEVD_OP_GUEST_RECEIVE_START:
	case SEVD_OP_GUEST_RECEIVE_DATA:
	case SEVD_OP_GUEST_RECEIVE_FINISH:
		if (req->u.migrate.len > SEVD_PACKET_MAX ||
		    req->u.migrate.plat_len > sizeof(req->u.migrate.plat) ||
		    req->u.migrate.amd_len > sizeof(req->u.migrate.amd) ||
		    !memchr(req->u.migrate.name, 0, sizeof(req->u.migrate.name)) ||
		    !memchr(req->u.migrate.tenant, 0, sizeof(req->u.migrate.tenant)) ||
		    (req->op != SEVD_OP_GUEST_RECEIVE_START && req->u.migrate.handle == 0))
			abort();
		rep->u.migrate.info.memory_size = (calls % 3) * 4096u + 100u; /* the stream's end */
		rep->u.migrate.len = req->u.migrate.len;
		break;
	case SEVD_OP_GUEST_SEND_BATCH: /* a page-aligned run of at most SEVD_MIG_BATCH pages */
		if (req->u.migrate_batch.handle == 0 || req->u.migrate_batch.len == 0 ||
		    req->u.migrate_batch.len > SEVD_MIG_BATCH * SEVD_PACKET_MAX ||
		    req->u.migrate_batch.offset % SEVD_PACKET_MAX)
			abort();
		send_batch_answer(req, rep);
		break;
	case SEVD_OP_GUEST_RECEIVE_BATCH: /* 1..SEVD_MIG_BATCH packets, each a page at most */
		if (req->u.migrate_batch.handle == 0 || req->u.migrate_batch.n == 0 ||
		    req->u.migrate_batch.n > SEVD_MIG_BATCH)
			abort();
		for (uint32_t i = 0; i < req->u.migrate_batch.n; i++)
			if (req->u.migrate_batch.p[i].len > SEVD_PACKET_MAX)
				abort();
		rep->u.migrate_batch.done = req->u.migrate_batch.n - calls % 2; /* all, or one short */
		rep->u.migrate_batch.info.memory_size = (calls % 3) * 4096u + 100u;
		break;
	case SEVD_OP_CERTS:
		rep->u.certs.pdh_len = SEV_CERT_SIZE;
		break;
	default:
		if (req->op < SEVD_OP_GUEST_CREATE || req->op >= SEVD_OP_MAX_ ||
		    req->u.guest.len > SEVD_GUEST_PIECE_MAX ||
		    (req->op != SEVD_OP_GUEST_LIST && req->u.guest.handle == 0))
			abort();
		break;
	}
	if (req->op == SEVD_OP_PEK_CERT_IMPORT)
		goto answer;
	rep->u.guest.info.handle = req->u.guest.handle;
	rep->u.guest.info.state = (uint8_t)(calls % 9); /* including unknown states */
	memset(rep->u.guest.info.name, 'n', sizeof(rep->u.guest.info.name)); /* not terminated */
answer:
	if (++calls % 3 == 0) {
		rep->r = -EIO;
		rep->fw_status = (int32_t)(calls % 0x30);
		memset(rep->message, 'm', sizeof(rep->message) - 1);
		return rep->r;
	}
	return 0;
}

/* The streamed POST /v1/guests/{h}/receive: the body in pieces of 1 to 256 bytes (their sizes
 * from the body's own bytes), as MHD hands them over. */
static void receive_stream(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	const struct sevd_api_stream *st = &sevd_api_guest_receive_stream;
	void *state = NULL;
	size_t pos = 0;

	if (st->open(req, &state, resp) < 0)
		return;
	while (pos < req->len) {
		size_t n = 1 + (uint8_t)req->body[pos] % 256u;

		n = n < req->len - pos ? n : req->len - pos;
		if (st->data(state, req->body + pos, n) < 0)
			break;
		pos += n;
	}
	st->close(state, true, resp);
}

/* GET /v1/guests/{h}/send/stream: read the answer to its end (the fake guest is small). */
static void send_stream(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	char buf[1000];
	uint64_t pos = 0;
	ssize_t n;

	sevd_api_guest_send_stream(req, resp);
	if (!resp->reader)
		return;
	while ((n = resp->reader(resp->reader_state, pos, buf, sizeof(buf))) > 0)
		pos += (uint64_t)n;
	if (n != SEVD_API_READ_END && n != SEVD_API_READ_ERROR)
		abort();
	resp->reader_free(resp->reader_state);
	resp->reader = NULL;
	free(resp->body);
	resp->body = strdup("");
	resp->len = 0;
}

static const char *arg_of(const struct sevd_api_request *req, const char *key)
{
	(void)key;
	return req->conn; /* the fuzzed query value */
}

/* The one platform route with a JSON body; its handler is static in api.c. */
static sevd_api_handler pek_cert_handler(void)
{
	for (size_t i = 0; i < sevd_n_routes; i++)
		if (!strcmp(sevd_routes[i].method, "POST") &&
		    !strcmp(sevd_routes[i].path, "/v1/platform/pek-cert"))
			return sevd_routes[i].handler;
	abort(); /* the route table lost it */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* For the replay test (tests/daemon/test-fuzz-replay.c): requests a handler got past its
 * parsing (any answer below 400). */
uint64_t fuzz_replay_accepted(void);

static uint64_t accepted;

uint64_t fuzz_replay_accepted(void)
{
	return accepted;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static sevd_api_handler handlers[] = {
	    sevd_api_guest_create,
	    sevd_api_guest_secret,
	    sevd_api_guest_activate,
	    sevd_api_guest_finish,
	    sevd_api_guest_deactivate,
	    sevd_api_guest_delete,
	    sevd_api_guest_vmsa,
	    sevd_api_guest_attest,
	    sevd_api_guest_get,
	    sevd_api_guest_measure,
	    sevd_api_guests_list,
	    NULL, /* POST /v1/platform/pek-cert: api.c's own handler, from the route table */
	    sevd_api_guest_send,
	    send_stream,
	    sevd_api_guest_send_finish,
	    sevd_api_guest_send_cancel,
	    receive_stream,
	    sevd_api_guest_receive_finish,
	};
	static const char *const params[] = {"1",   "0", "4294967295", "4294967296",
					     "abc", "",	 "007",	       "1x"};
	struct sevd_api_response resp = {0};
	struct sevd_api_request req = {0};
	char *body, query[64];
	size_t qlen;

	if (!handlers[11])
		handlers[11] = pek_cert_handler();
	if (size < 3)
		return 0;
	body = malloc(size - 2 + 1);
	if (!body)
		return 0;
	memcpy(body, data + 2, size - 2);
	body[size - 2] = '\0';
	/* The query value: the body's first line, at most 63 bytes. */
	qlen = strcspn(body, "\n");
	qlen = qlen < sizeof(query) ? qlen : sizeof(query) - 1;
	memcpy(query, body, qlen);
	query[qlen] = '\0';
	req.body = body;
	req.len = size - 2;
	req.param = params[data[1] % (sizeof(params) / sizeof(params[0]))];
	req.arg = arg_of;
	req.conn = query;
	handlers[data[0] % (sizeof(handlers) / sizeof(handlers[0]))](&req, &resp);
	if (resp.status < 200 || resp.status > 599 || !resp.body || strlen(resp.body) != resp.len)
		abort();
	accepted += resp.status < 400;
	free(resp.body);
	free(body);
	return 0;
}
