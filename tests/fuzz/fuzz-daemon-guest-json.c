/* libFuzzer target: the JSON bodies and path/query arguments of sevd's guest routes
 * (daemon/worker/api-guest.c): POST /v1/guests, /secret, /activate, /finish, /deactivate, DELETE,
 * /vmsa, /attestation; and the one platform route with a JSON body, POST /v1/platform/pek-cert. The
 * first input byte picks the route, the second the {h} segment form, the rest is the body. The core
 * behind the seam is replaced by a checker that aborts when a request that reaches it breaks the
 * seam's promises (lengths in range, names NUL-terminated, both or neither of godh/session), and
 * answers success or an error by turns so that both answer paths run. Seeds:
 * tests/fuzz/corpus/daemon-guest-json. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/worker/api-internal.h"
#include "daemon/worker/api.h"
#include "daemon/core/core.h"

static unsigned calls;

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
