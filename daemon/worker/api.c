/* The REST API v1 handlers and the route table. Bodies are untrusted JSON: parsed with
 * json-c under the route's size limit, every field type-checked, base64 decoded strictly,
 * certificate lengths checked before anything reaches the core. */
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/snp-report.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"
#include "daemon/worker/api-internal.h"
#include "daemon/worker/api.h"
#include "daemon/core/core.h"
#include "daemon/core/inventory.h"
#include "daemon/worker/json-strict.h"
#include "daemon/worker/ui.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free)

#define ROLES_PUBLIC                                                                               \
	(SEVD_ROLE_BIT(SEVD_ROLE_PUBLIC) | ROLES_READER)
#define ROLES_READER                                                                               \
	(SEVD_ROLE_BIT(SEVD_ROLE_READER) | SEVD_ROLE_BIT(SEVD_ROLE_OWNER) |                        \
	 SEVD_ROLE_BIT(SEVD_ROLE_LAUNCHER) | SEVD_ROLE_BIT(SEVD_ROLE_ADMIN) |                      \
	 SEVD_ROLE_BIT(SEVD_ROLE_MIGRATOR))
#define ROLES_ADMIN SEVD_ROLE_BIT(SEVD_ROLE_ADMIN)
#define ROLES_MIGRATOR SEVD_ROLE_BIT(SEVD_ROLE_MIGRATOR) /* and admin (sevd_route_allows) */

#define BODY_NONE 4096u		/* routes without a documented body still take "{}" */
#define BODY_CERTS (16u * 1024u) /* two base64 SEV certificates and JSON around them */

/* ---- answering ---- */

void sevd_api_respond_json(struct sevd_api_response *resp, unsigned status, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	resp->status = status;
	resp->content_type = "application/json";
	resp->body = strdup(s ? s : "{}");
	resp->len = resp->body ? strlen(resp->body) : 0;
}

bool sevd_api_memo_answer(struct sevd_api_memo *m, const void *key, size_t len,
			  struct sevd_api_response *resp)
{
	char *body = NULL;

	pthread_mutex_lock(&m->lock);
	if (m->body && m->len == len && !memcmp(m->key, key, len))
		body = strdup(m->body);
	pthread_mutex_unlock(&m->lock);
	if (!body)
		return false;
	resp->status = 200;
	resp->content_type = "application/json";
	resp->body = body;
	resp->len = strlen(body);
	return true;
}

void sevd_api_memo_keep(struct sevd_api_memo *m, const void *key, size_t len,
			const struct sevd_api_response *resp)
{
	char *body = resp->status == 200 && resp->body ? strdup(resp->body) : NULL;
	void *k = body ? malloc(len ? len : 1) : NULL;

	if (!k) {
		free(body);
		return;
	}
	memcpy(k, key, len);
	pthread_mutex_lock(&m->lock);
	free(m->body);
	free(m->key);
	m->body = body;
	m->key = k;
	m->len = len;
	pthread_mutex_unlock(&m->lock);
}

void sevd_api_error(struct sevd_api_response *resp, unsigned status, const char *code,
		    const char *message, int fw_status)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	json_object *e = json_object_new_object();

	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(message));
	json_object_object_add(e, "fw_status",
			       fw_status >= 0 ? json_object_new_string(sev_status_name(fw_status))
					      : NULL);
	json_object_object_add(o, "error", e);
	sevd_api_respond_json(resp, status, o);
}

/* Firmware statuses that mean "not in this state" answer 409; those that mean "your input
 * is wrong" answer 400; anything else is the firmware's own failure, 502. */
static void fw_error(struct sevd_api_response *resp, const struct sevd_reply *rep)
{
	static const struct {
		int status;
		unsigned http;
		const char *code;
	} map[] = {
		{ SEV_STATUS_INVALID_PLATFORM_STATE, 409, "wrong_state" },
		{ SEV_STATUS_INVALID_GUEST_STATE, 409, "wrong_state" },
		{ SEV_STATUS_ALREADY_OWNED, 409, "wrong_state" },
		{ SEV_STATUS_ACTIVE, 409, "wrong_state" },
		{ SEV_STATUS_INACTIVE, 409, "wrong_state" },
		{ SEV_STATUS_ASID_OWNED, 409, "wrong_state" },
		{ SEV_STATUS_DFFLUSH_REQUIRED, 409, "wrong_state" },
		{ SEV_STATUS_WBINVD_REQUIRED, 409, "wrong_state" },
		{ SEV_STATUS_INVALID_CERTIFICATE, 400, "bad_request" },
		{ SEV_STATUS_BAD_SIGNATURE, 400, "bad_request" },
		{ SEV_STATUS_INVALID_LEN, 400, "bad_request" },
		{ SEV_STATUS_INVALID_PARAM, 400, "bad_request" },
		{ SEV_STATUS_INVALID_CONFIG, 400, "bad_request" },
		{ SEV_STATUS_POLICY_FAILURE, 400, "bad_request" },
		{ SEV_STATUS_BAD_MEASUREMENT, 400, "bad_request" },
		{ SEV_STATUS_INVALID_ASID, 400, "bad_request" },
		{ SEV_STATUS_INVALID_ADDRESS, 400, "bad_request" },
		{ SEV_STATUS_UNSUPPORTED, 400, "bad_request" },
		{ SEV_STATUS_INVALID_GUEST, 404, "not_found" },
	};

	for (size_t i = 0; i < ELEMENTSOF(map); i++)
		if (map[i].status == rep->fw_status) {
			sevd_api_error(resp, map[i].http, map[i].code, rep->message, rep->fw_status);
			return;
		}
	sevd_api_error(resp, 502, "firmware_error", rep->message, rep->fw_status);
}

/* Refused by the host admission policy: 403 with the rule named (error.rule). */
static void policy_error(struct sevd_api_response *resp, const struct sevd_reply *rep)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	json_object *e;

	sevd_api_error(resp, 403, "policy_refused", rep->message, -1);
	o = json_tokener_parse(resp->body);
	if (!o || !json_object_object_get_ex(o, "error", &e))
		return;
	json_object_object_add(e, "rule", json_object_new_string(rep->rule));
	free(resp->body);
	sevd_api_respond_json(resp, 403, o);
}

/* A failed core reply as an HTTP error. */
void sevd_api_core_error(struct sevd_api_response *resp, const struct sevd_reply *rep)
{
	switch (rep->r) {
	case -ENOENT: /* no_such_guest: a guest named by its id is gone (core/guest.c) */
		sevd_api_error(resp, 404, strcmp(rep->rule, "no_such_guest") ? "not_found"
									     : "no_such_guest",
			       rep->message, -1);
		return;
	case -EPERM:
		policy_error(resp, rep);
		return;
	case -EACCES: /* the core refused the caller's evidence for this op (core/authz.c) */
		if (!strcmp(rep->rule, "core_refused:rate")) /* destructive_rate */
			sevd_api_error(resp, 429, "destructive_rate_limited", rep->message, -1);
		else if (!strncmp(rep->rule, "forbidden:", 10)) /* a role's rule on the guest */
			sevd_api_error(resp, 403, "forbidden", rep->message, -1);
		else
			sevd_api_error(resp, 403, "core_refused", rep->message, -1);
		return;
	case -ENOSPC:
		sevd_api_error(resp, 409, "no_asid", rep->message, -1);
		return;
	case -EALREADY:
		if (!strcmp(rep->rule, "secret_replay")) /* a LAUNCH_SECRET packet seen before */
			sevd_api_error(resp, 409, "secret_replayed", rep->message, -1);
		else
			sevd_api_error(resp, 409, "wrong_state", rep->message, -1);
		return;
	case -ENOTEMPTY: /* SHUTDOWN/FACTORY_RESET while guests exist */
		sevd_api_error(resp, 409, "guests_exist", rep->message, -1);
		return;
	case -EFBIG:
		sevd_api_error(resp, 400, "bad_request", rep->message, -1);
		return;
	case -ENOTRECOVERABLE: /* the guest journal cannot be written (disk full, EROFS) */
		sevd_api_error(resp, 507, "state_not_durable", rep->message, -1);
		return;
	case -EIO:
		if (rep->fw_status >= 0) {
			fw_error(resp, rep);
			return;
		}
		break;
	case -EBUSY:
		sevd_api_error(resp, 503, "busy", rep->message, -1);
		return;
	case -EINVAL:
		sevd_api_error(resp, 400, "bad_request", rep->message, -1);
		return;
	case -EOPNOTSUPP:
		sevd_api_error(resp, 501, "unsupported",
			       rep->message[0] ? rep->message
					       : "the PSP transport does not offer this command",
			       -1);
		return;
	default:
		break;
	}
	sevd_api_error(resp, 503, "psp_unavailable",
		       rep->message[0] ? rep->message : "the PSP could not be reached", -1);
}

/* In one process the core is a function call; sevd's worker points this at its core
 * channels (ipc.h) before it serves. */
int (*sevd_api_core_fn)(struct sevd_core *c, const struct sevd_request *req,
			struct sevd_reply *rep) = sevd_core_call;
const struct sevd_api_stager *sevd_api_stager;
int sevd_api_worker_shares_uid = -1;

/* Run one core request; on failure the error answer is already in resp (returns NULL). */
struct sevd_reply *sevd_api_call_core(const struct sevd_api_request *req,
				      struct sevd_request *creq, struct sevd_api_response *resp)
{
	struct sevd_reply *rep = malloc(sizeof(*rep));
	int r;

	if (req->caller)
		creq->caller = *req->caller; /* the core decides on this evidence (core/authz.c) */
	creq->worker_untenanted = req->core_untenanted;
	sevd_api_name_guest(req, &creq->caller);

	if (!rep) {
		sevd_api_error(resp, 503, "internal", "out of memory", -1);
		return NULL;
	}
	r = sevd_api_core_fn(req->core, creq, rep);
	secret_wipe(&creq->caller, sizeof(creq->caller));
	if (r < 0) {
		sevd_api_core_error(resp, rep);
		free(rep);
		return NULL;
	}
	return rep;
}

/* ---- JSON building ---- */

json_object *sevd_api_range_json(uint32_t first, uint32_t last)
{
	json_object *a = json_object_new_array();

	if (first <= last) {
		json_object_array_add(a, json_object_new_int64(first));
		json_object_array_add(a, json_object_new_int64(last));
	}
	return a;
}

void sevd_api_asid_ranges_json(json_object *o, const typeof(((struct sevd_reply *)0)->u.asids) *a)
{
	json_object_object_add(o, "max", json_object_new_int64(a->stats.max));
	json_object_object_add(o, "min_sev", json_object_new_int64(a->stats.min_sev));
	json_object_object_add(o, "es_range", sevd_api_range_json(a->es_first, a->es_last));
	json_object_object_add(o, "sev_range", sevd_api_range_json(a->sev_first, a->sev_last));
}

static json_object *platform_json(const struct sevd_platform_info *p)
{
	static const char *const states[] = { "UNINIT", "INIT", "WORKING" };
	json_object *o = json_object_new_object(), *a = json_object_new_object();
	uint32_t flags = p->status.flags;

	json_object_object_add(o, "api_major", json_object_new_int(p->status.api_major));
	json_object_object_add(o, "api_minor", json_object_new_int(p->status.api_minor));
	json_object_object_add(o, "build", json_object_new_int(p->status.build));
	json_object_object_add(o, "state",
			       json_object_new_string(p->status.state < ELEMENTSOF(states)
							      ? states[p->status.state]
							      : "UNKNOWN"));
	json_object_object_add(o, "owner", json_object_new_string(flags & SEV_PLATFORM_FLAG_OWNER
									  ? "external"
									  : "self"));
	json_object_object_add(o, "es",
			       json_object_new_boolean(!!(flags & SEV_PLATFORM_FLAG_CONFIG_ES)));
	json_object_object_add(o, "guest_count", json_object_new_int64(p->status.guest_count));
	json_object_object_add(o, "flags", json_object_new_int64(flags));
	json_object_object_add(o, "transport", json_object_new_string(p->transport));
	json_object_object_add(a, "max", json_object_new_int64(p->cpuid_max));
	json_object_object_add(a, "min_sev", json_object_new_int64(p->cpuid_min_sev));
	json_object_object_add(a, "es_range", sevd_api_range_json(p->es_first, p->es_last));
	json_object_object_add(a, "sev_range", sevd_api_range_json(p->sev_first, p->sev_last));
	json_object_object_add(o, "asids", a);
	return o;
}

static json_object *b64_json(const uint8_t *buf, size_t len)
{
	_cleanup_free_ char *s = NULL;

	if (len == 0)
		return NULL; /* JSON null: not known */
	s = base64_encode(buf, len);
	return s ? json_object_new_string(s) : NULL;
}

/* ---- request bodies ---- */

/* Parse the body as one JSON object (an empty body gives NULL). false: resp has the 400. */
bool sevd_api_parse_body(const struct sevd_api_request *req, struct sevd_api_response *resp,
			 json_object **ret)
{
	_cleanup_(json_tokener_freep) json_tokener *tok = NULL;
	char why[160], msg[224];
	json_object *o;

	*ret = NULL;
	if (req->len == 0)
		return true;
	/* json-c alone takes trailing commas, single quotes, 01 and the last of duplicate keys:
	 * bytes a proxy could read as another request are refused first. */
	if (json_strict_check(req->body, req->len, why, sizeof(why)) < 0) {
		snprintf(msg, sizeof(msg), "the request body is not strict JSON: %s", why);
		sevd_api_error(resp, 400, "bad_request", msg, -1);
		return false;
	}
	tok = json_tokener_new_ex(JSON_STRICT_DEPTH + 1);
	if (!tok) {
		sevd_api_error(resp, 503, "internal", "out of memory", -1);
		return false;
	}
	o = json_tokener_parse_ex(tok, req->body, (int)req->len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != req->len) {
		json_object_put(o);
		sevd_api_error(resp, 400, "bad_request",
			       "the request body is not valid JSON (send one JSON object)", -1);
		return false;
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		sevd_api_error(resp, 400, "bad_request", "the request body must be a JSON object",
			       -1);
		return false;
	}
	*ret = o;
	return true;
}

/* A required base64 field that must decode to exactly `len` bytes. */
static bool b64_field(json_object *o, const char *key, uint8_t *out, size_t len,
		      struct sevd_api_response *resp)
{
	_cleanup_free_ uint8_t *buf = NULL;
	json_object *v = NULL;
	char msg[160];
	size_t n = 0;
	const char *s;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) {
		snprintf(msg, sizeof(msg), "field '%s' is missing or not a string (base64)", key);
		sevd_api_error(resp, 400, "bad_request", msg, -1);
		return false;
	}
	s = json_object_get_string(v);
	if (base64_decode(s, strlen(s), &buf, &n) < 0 || n != len) {
		snprintf(msg, sizeof(msg), "field '%s' must be base64 of one %zu-byte SEV certificate",
			 key, len);
		sevd_api_error(resp, 400, "bad_request", msg, -1);
		return false;
	}
	memcpy(out, buf, len);
	return true;
}

/* ---- handlers ---- */

/* GET /v1/platform is polled and its answer changes only with the platform: the
 * body rendered for the last platform info is kept and copied while the info is byte for byte
 * the same, which is what platform_json would render again. */
static pthread_mutex_t platform_memo_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sevd_platform_info platform_memo;
static char *platform_memo_body;

static char *platform_body_memo(const struct sevd_platform_info *p)
{
	char *body = NULL;

	pthread_mutex_lock(&platform_memo_lock);
	if (platform_memo_body && memcmp(p, &platform_memo, sizeof(*p)) == 0)
		body = strdup(platform_memo_body);
	pthread_mutex_unlock(&platform_memo_lock);
	return body;
}

static void platform_body_keep(const struct sevd_platform_info *p, const char *body)
{
	char *copy = body ? strdup(body) : NULL;

	if (!copy)
		return;
	pthread_mutex_lock(&platform_memo_lock);
	free(platform_memo_body);
	platform_memo_body = copy;
	platform_memo = *p;
	pthread_mutex_unlock(&platform_memo_lock);
}

static void h_platform(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	/* Only op travels for PLATFORM_STATUS (ipc.c REQ_NONE; core.c reads nothing else): the
	 * 64 KiB union is left unwritten rather than zeroed on every poll. */
	struct sevd_request creq;
	_cleanup_free_ struct sevd_reply *rep = NULL;
	_cleanup_(json_object_putp) json_object *o = NULL;

	creq.op = SEVD_OP_PLATFORM_STATUS;
	rep = sevd_api_call_core(req, &creq, resp);
	if (!rep)
		return;
	resp->body = platform_body_memo(&rep->u.platform);
	if (resp->body) {
		resp->status = 200;
		resp->content_type = "application/json";
		resp->len = strlen(resp->body);
		return;
	}
	o = platform_json(&rep->u.platform);
	sevd_api_respond_json(resp, 200, o);
	platform_body_keep(&rep->u.platform, resp->body);
}

/* ---- SEV-SNP ---- */

static json_object *snp_tcb_json(uint64_t raw, uint8_t gen)
{
	struct snp_tcb t;

	attest_snp_tcb_decode(raw, (enum snp_gen)gen, &t);
	return attest_snp_tcb_to_json(&t);
}

static json_object *snp_platform_json(const struct sevd_snp_info *s)
{
	static const char *const starts[] = {
		[SEVD_SNP_UNSUPPORTED] = "unsupported", [SEVD_SNP_OFF] = "off",
		[SEVD_SNP_INITIALIZED] = "initialized", [SEVD_SNP_FOUND] = "found",
		[SEVD_SNP_FAILED] = "failed",
	};
	const struct sev_snp_platform_status *st = &s->status;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "state", json_object_new_string(st->state == SEV_SNP_PSTATE_INIT
									  ? "INIT"
									  : st->state == SEV_SNP_PSTATE_UNINIT
									  ? "UNINIT"
									  : "UNKNOWN"));
	json_object_object_add(o, "api_major", json_object_new_int(st->api_major));
	json_object_object_add(o, "api_minor", json_object_new_int(st->api_minor));
	json_object_object_add(o, "build", json_object_new_int64(st->build_id));
	json_object_object_add(o, "rmp_initialized",
			       json_object_new_boolean(st->is_rmp_initialized & 1));
	json_object_object_add(o, "mask_chip_id", json_object_new_boolean(
							   !!(st->flags & SEV_SNP_STATUS_MASK_CHIP_ID)));
	json_object_object_add(o, "mask_chip_key", json_object_new_boolean(
							    !!(st->flags & SEV_SNP_STATUS_MASK_CHIP_KEY)));
	json_object_object_add(o, "vlek_en",
			       json_object_new_boolean(!!(st->flags & SEV_SNP_STATUS_VLEK_EN)));
	json_object_object_add(o, "guests", json_object_new_int64(st->guest_count));
	json_object_object_add(o, "generation",
			       json_object_new_string(attest_snp_gen_name((enum snp_gen)s->gen)));
	json_object_object_add(o, "current_tcb", snp_tcb_json(st->current_tcb, s->gen));
	json_object_object_add(o, "reported_tcb", snp_tcb_json(st->reported_tcb, s->gen));
	/* SNP_PLATFORM_STATUS has no committed TCB (SEV-SNP ABI 56860, SNP_PLATFORM_STATUS; Linux
	 * struct sev_user_data_snp_status): a guest's report carries it (COMMITTED_TCB). */
	json_object_object_add(o, "committed_tcb", NULL);
	json_object_object_add(o, "sevd_start",
			       json_object_new_string(s->start < ELEMENTSOF(starts) ? starts[s->start]
										 : "unknown"));
	return o;
}

static void h_snp_platform(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	struct sevd_request creq = { .op = SEVD_OP_SNP_STATUS };
	_cleanup_free_ struct sevd_reply *rep = sevd_api_call_core(req, &creq, resp);
	_cleanup_(json_object_putp) json_object *o = NULL;

	if (!rep)
		return;
	o = snp_platform_json(&rep->u.snp);
	sevd_api_respond_json(resp, 200, o);
}

/* Mutating platform routes: run the op, answer {"command", "platform": the status after it,
 * the SNP one (GET /v1/snp/platform's) for an SNP op}. */
static void change(const struct sevd_api_request *req, struct sevd_api_response *resp,
		   struct sevd_request *creq, const char *command, bool snp)
{
	_cleanup_free_ struct sevd_reply *rep = sevd_api_call_core(req, creq, resp);
	_cleanup_(json_object_putp) json_object *o = NULL;

	if (!rep)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "command", json_object_new_string(command));
	json_object_object_add(
	    o, "platform", snp ? snp_platform_json(&rep->u.snp) : platform_json(&rep->u.platform));
	sevd_api_respond_json(resp, 200, o);
}

static void snp_change(const struct sevd_api_request *req, struct sevd_api_response *resp,
		       struct sevd_request *creq, const char *command)
{
	change(req, resp, creq, command, true);
}

static void h_snp_commit(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	struct sevd_request creq = { .op = SEVD_OP_SNP_COMMIT };

	snp_change(req, resp, &creq, "SNP_COMMIT");
}

/* TCB_VERSION from its components in the part's layout (attest/snp-report.h): Milan/Genoa
 * [bl, tee, 0, 0, 0, 0, snp, ucode], Turin [fmc, bl, tee, snp, 0, 0, 0, ucode]. */
static int tcb_from_json(json_object *t, uint8_t gen, uint64_t *ret, const char **bad)
{
	static const char *const keys[] = { "fmc", "bootloader", "tee", "snp", "microcode" };
	static const uint8_t milan[] = { 0xff, 0, 1, 6, 7 }, turin[] = { 0, 1, 2, 3, 7 };
	const uint8_t *at = gen == SNP_GEN_TURIN ? turin : milan;
	uint64_t v = 0;

	json_object_object_foreach(t, key, val) {
		size_t i = 0;

		while (i < ELEMENTSOF(keys) && strcmp(key, keys[i]))
			i++;
		if (i == ELEMENTSOF(keys) || at[i] == 0xff || !json_object_is_type(val, json_type_int) ||
		    json_object_get_int64(val) < 0 || json_object_get_int64(val) > 255) {
			*bad = key;
			return -EINVAL;
		}
		v |= (uint64_t)json_object_get_int64(val) << (8 * at[i]);
	}
	*ret = v;
	return 0;
}

static void h_snp_config(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	struct sevd_request creq = { .op = SEVD_OP_SNP_CONFIG }, sreq = { .op = SEVD_OP_SNP_STATUS };
	_cleanup_(json_object_putp) json_object *body = NULL;
	_cleanup_free_ struct sevd_reply *st = NULL;
	char msg[200];

	if (!sevd_api_parse_body(req, resp, &body))
		return;
	if (!body || !json_object_is_type(body, json_type_object)) {
		sevd_api_error(resp, 400, "bad_request", "the body must be a JSON object: "
							 "{\"reported_tcb\": {...}, \"mask_chip_id\": "
							 "bool, \"mask_chip_key\": bool}", -1);
		return;
	}
	st = sevd_api_call_core(req, &sreq, resp); /* the part's TCB layout */
	if (!st)
		return;
	json_object_object_foreach(body, key, val) {
		const char *bad = NULL;
		bool flag = !strcmp(key, "mask_chip_id") || !strcmp(key, "mask_chip_key");

		if (flag && json_object_is_type(val, json_type_boolean)) {
			if (json_object_get_boolean(val))
				creq.u.snp_config.flags |= !strcmp(key, "mask_chip_id")
								   ? SEV_SNP_CONFIG_MASK_CHIP_ID
								   : SEV_SNP_CONFIG_MASK_CHIP_KEY;
			continue;
		}
		if (!strcmp(key, "reported_tcb") && json_object_is_type(val, json_type_object) &&
		    tcb_from_json(val, st->u.snp.gen, &creq.u.snp_config.reported_tcb, &bad) == 0)
			continue;
		snprintf(msg, sizeof(msg), "%s%s%s: %s", key, bad ? "." : "", bad ? bad : "",
			 flag ? "must be true or false"
			 : !strcmp(key, "reported_tcb")
				 ? "must be an object of bootloader, tee, snp, microcode (and fmc on "
				   "Turin), each 0..255"
				 : "unknown field (reported_tcb, mask_chip_id, mask_chip_key)");
		sevd_api_error(resp, 400, "bad_request", msg, -1);
		return;
	}
	snp_change(req, resp, &creq, "SNP_SET_CONFIG");
}

/* The body: one wrapped VLEK hashstick file as AMD's KDS issues it (432 bytes, raw). */
static void h_snp_vlek(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_free_ struct sevd_request *creq = calloc(1, sizeof(*creq));
	char msg[160];

	if (!creq) {
		sevd_api_error(resp, 503, "internal", "out of memory", -1);
		return;
	}
	if (req->len != sizeof(creq->u.vlek)) {
		snprintf(msg, sizeof(msg), "the body must be one wrapped VLEK hashstick of %zu bytes "
					   "(%zu given)", sizeof(creq->u.vlek), req->len);
		sevd_api_error(resp, 400, "bad_request", msg, -1);
		return;
	}
	creq->op = SEVD_OP_SNP_VLEK;
	memcpy(&creq->u.vlek, req->body, sizeof(creq->u.vlek));
	snp_change(req, resp, creq, "SNP_VLEK_LOAD");
	OPENSSL_cleanse(&creq->u.vlek, sizeof(creq->u.vlek));
}

static void platform_change(const struct sevd_api_request *req, struct sevd_api_response *resp,
			    struct sevd_request *creq, const char *command)
{
	change(req, resp, creq, command, false);
}

/* Routes without a body schema accept an empty body or a JSON object (ignored). */
static bool no_body(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_(json_object_putp) json_object *o = NULL;

	return sevd_api_parse_body(req, resp, &o);
}

static void h_init(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	struct sevd_request creq = { .op = SEVD_OP_INIT, .u.init.es = 1 };
	json_object *v;

	if (!sevd_api_parse_body(req, resp, &o))
		return;
	if (o && json_object_object_get_ex(o, "es", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			sevd_api_error(resp, 400, "bad_request", "field 'es' must be true or false", -1);
			return;
		}
		creq.u.init.es = json_object_get_boolean(v);
	}
	platform_change(req, resp, &creq, "INIT");
}

#define SIMPLE_CHANGE(name, op_, command)                                                          \
	static void name(const struct sevd_api_request *req, struct sevd_api_response *resp)      \
	{                                                                                          \
		struct sevd_request creq = { .op = (op_) };                                        \
		if (no_body(req, resp))                                                            \
			platform_change(req, resp, &creq, (command));                              \
	}
SIMPLE_CHANGE(h_pek_gen, SEVD_OP_PEK_GEN, "PEK_GEN")
SIMPLE_CHANGE(h_pdh_gen, SEVD_OP_PDH_GEN, "PDH_GEN")

/* SHUTDOWN and FACTORY_RESET take ?force=1: go ahead while guests exist and drop them all
 * (core.c refuses otherwise). Anything but absent, 0 or 1 is refused. */
static void reset_change(const struct sevd_api_request *req, struct sevd_api_response *resp,
			 enum sevd_op op, const char *command)
{
	struct sevd_request creq = { .op = op };
	const char *force = req->arg ? req->arg(req, "force") : NULL;

	if (force && strcmp(force, "0") && strcmp(force, "1")) {
		sevd_api_error(resp, 400, "bad_request", "query argument 'force' must be 0 or 1",
			       -1);
		return;
	}
	creq.u.reset.force = force && !strcmp(force, "1");
	if (no_body(req, resp))
		platform_change(req, resp, &creq, command);
}

static void h_shutdown(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	reset_change(req, resp, SEVD_OP_SHUTDOWN, "SHUTDOWN");
}

static void h_factory_reset(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	reset_change(req, resp, SEVD_OP_FACTORY_RESET, "FACTORY_RESET");
}

static void h_pek_csr(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	struct sevd_request creq = { .op = SEVD_OP_PEK_CSR };
	_cleanup_free_ struct sevd_reply *rep = sevd_api_call_core(req, &creq, resp);
	_cleanup_(json_object_putp) json_object *o = NULL;

	if (!rep)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "pek_csr", b64_json(rep->u.csr.csr, rep->u.csr.len));
	sevd_api_respond_json(resp, 200, o);
}

static void h_pek_cert(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_free_ struct sevd_request *creq = calloc(1, sizeof(*creq));

	if (!creq) {
		sevd_api_error(resp, 503, "internal", "out of memory", -1);
		return;
	}
	if (!sevd_api_parse_body(req, resp, &o))
		return;
	creq->op = SEVD_OP_PEK_CERT_IMPORT;
	creq->u.pek_cert.pek_len = creq->u.pek_cert.oca_len = SEV_CERT_SIZE;
	if (!b64_field(o, "pek_cert", creq->u.pek_cert.pek, SEV_CERT_SIZE, resp) ||
	    !b64_field(o, "oca_cert", creq->u.pek_cert.oca, SEV_CERT_SIZE, resp))
		return;
	platform_change(req, resp, creq, "PEK_CERT_IMPORT");
}

static void h_certs(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	static const char *const chain_names[] = { "pek", "oca", "cek" };
	struct sevd_request creq = { .op = SEVD_OP_CERTS };
	_cleanup_free_ struct sevd_reply *rep = sevd_api_call_core(req, &creq, resp);
	_cleanup_(json_object_putp) json_object *o = NULL;

	if (!rep)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "pdh", b64_json(rep->u.certs.pdh, rep->u.certs.pdh_len));
	for (size_t i = 0; i < ELEMENTSOF(chain_names); i++)
		json_object_object_add(o, chain_names[i],
				       b64_json(rep->u.certs.chain + i * SEV_CERT_SIZE, SEV_CERT_SIZE));
	json_object_object_add(o, "ask", b64_json(rep->u.certs.ask, rep->u.certs.ask_len));
	json_object_object_add(o, "ark", b64_json(rep->u.certs.ark, rep->u.certs.ark_len));
	sevd_api_respond_json(resp, 200, o);
}

static void h_id(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	struct sevd_request creq = { .op = SEVD_OP_GET_ID };
	_cleanup_free_ struct sevd_reply *rep = sevd_api_call_core(req, &creq, resp);
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_free_ char *hex = NULL;
	json_object *sockets;

	if (!rep)
		return;
	hex = hex_encode(rep->u.id.id, rep->u.id.len);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(hex ? hex : ""));
	sockets = json_object_new_array();
	for (uint32_t off = 0; off + SEV_GET_ID_SIZE <= rep->u.id.len; off += SEV_GET_ID_SIZE) {
		_cleanup_free_ char *one = hex_encode(rep->u.id.id + off, SEV_GET_ID_SIZE);

		json_object_array_add(sockets, json_object_new_string(one ? one : ""));
	}
	json_object_object_add(o, "sockets", sockets);
	sevd_api_respond_json(resp, 200, o);
}

json_object *sevd_api_asid_counts_json(const struct sevd_asid_counts *c)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "total", json_object_new_int64(c->total));
	json_object_object_add(o, "used", json_object_new_int64(c->used));
	json_object_object_add(o, "free", json_object_new_int64(c->free));
	json_object_object_add(o, "flush_pending", json_object_new_int64(c->pending));
	return o;
}

static void asid_lists(const struct sevd_reply *rep, json_object *o)
{
	json_object *holders = json_object_new_array(), *pending = json_object_new_array();

	for (uint32_t i = 0; i < rep->u.asids.n && i < SEVD_ASID_LIMIT; i++) {
		const struct sevd_asid_entry *e = &rep->u.asids.entry[i];
		json_object *h;

		if (e->state != SEVD_ASID_USED) {
			json_object_array_add(pending, json_object_new_int64(e->asid));
			continue;
		}
		h = json_object_new_object();
		json_object_object_add(h, "asid", json_object_new_int64(e->asid));
		json_object_object_add(h, "type", json_object_new_string(e->es ? "es" : "sev"));
		json_object_object_add(h, "holder", json_object_new_string_len(
			e->holder, (int)strnlen(e->holder, sizeof(e->holder))));
		json_object_array_add(holders, h);
	}
	json_object_object_add(o, "holders", holders);
	json_object_object_add(o, "pending", pending);
}

static struct sevd_api_memo asids_memo = SEVD_API_MEMO_INIT;

static void h_asids(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	struct sevd_request creq = { .op = SEVD_OP_ASIDS };
	_cleanup_free_ struct sevd_reply *rep = sevd_api_call_core(req, &creq, resp);
	_cleanup_(json_object_putp) json_object *o = NULL;
	const struct sevd_asid_stats *s;

	size_t key_len;

	if (!rep)
		return;
	key_len = offsetof(typeof(rep->u.asids), entry) +
		  (size_t)MIN(rep->u.asids.n, SEVD_ASID_LIMIT) * sizeof(rep->u.asids.entry[0]);
	if (sevd_api_memo_answer(&asids_memo, &rep->u.asids, key_len, resp))
		return;
	s = &rep->u.asids.stats;
	o = json_object_new_object();
	sevd_api_asid_ranges_json(o, &rep->u.asids);
	json_object_object_add(o, "used", json_object_new_int64(s->es.used + s->sev.used));
	json_object_object_add(o, "free", json_object_new_int64(s->es.free + s->sev.free));
	json_object_object_add(o, "flush_pending",
			       json_object_new_int64(s->es.pending + s->sev.pending));
	json_object_object_add(o, "flushes", json_object_new_int64((int64_t)s->flushes));
	json_object_object_add(o, "es", sevd_api_asid_counts_json(&s->es));
	json_object_object_add(o, "sev", sevd_api_asid_counts_json(&s->sev));
	asid_lists(rep, o);
	sevd_api_respond_json(resp, 200, o);
	sevd_api_memo_keep(&asids_memo, &rep->u.asids, key_len, resp);
}

/* GET /v1/inventory: what a scheduler needs to place a confidential guest, in a
 * schema that keeps every key on every host: free ASIDs per type and the host's capabilities.
 * SNP is reported with zero ASIDs and "snp": false until sevd drives SNP firmware; its ASIDs
 * will come out of the SEV-ES range (CPUID 8000_001F EDX, AMD APM vol. 2 15.34). */
static void inventory_asids(const struct sevd_asid_stats *s, json_object *o)
{
	const struct sevd_asid_counts none = { 0 };

	json_object_object_add(o, "sev", sevd_api_asid_counts_json(&s->sev));
	json_object_object_add(o, "sev_es", sevd_api_asid_counts_json(&s->es));
	json_object_object_add(o, "snp", sevd_api_asid_counts_json(&none));
}

static json_object *inventory_caps(const struct sevd_asid_stats *s,
				   const struct sevd_platform_info *p)
{
	static const char *const states[] = { "UNINIT", "INIT", "WORKING" };
	struct sevd_inventory_caps caps;
	json_object *o = json_object_new_object();

	sevd_inventory_caps(s, p, &caps);
	json_object_object_add(o, "sev", json_object_new_boolean(caps.sev));
	json_object_object_add(o, "sev_es", json_object_new_boolean(caps.sev_es));
	json_object_object_add(o, "snp", json_object_new_boolean(caps.snp));
	json_object_object_add(o, "api_major", json_object_new_int(p->status.api_major));
	json_object_object_add(o, "api_minor", json_object_new_int(p->status.api_minor));
	json_object_object_add(o, "build", json_object_new_int(p->status.build));
	json_object_object_add(o, "platform_state",
			       json_object_new_string(p->status.state < ELEMENTSOF(states)
							      ? states[p->status.state]
							      : "UNKNOWN"));
	json_object_object_add(o, "transport", json_object_new_string(p->transport));
	/* SNP_PLATFORM_STATUS' reported TCB (56860) once sevd speaks SNP; null until then. */
	json_object_object_add(o, "tcb", NULL);
	return o;
}

static void h_inventory(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	struct sevd_request creq = { .op = SEVD_OP_ASIDS };
	_cleanup_free_ struct sevd_reply *asids = sevd_api_call_core(req, &creq, resp);
	_cleanup_free_ struct sevd_reply *plat = NULL;
	_cleanup_(json_object_putp) json_object *o = NULL;

	if (!asids)
		return;
	creq.op = SEVD_OP_PLATFORM_STATUS;
	plat = sevd_api_call_core(req, &creq, resp);
	if (!plat)
		return;
	o = json_object_new_object();
	inventory_asids(&asids->u.asids.stats, o);
	json_object_object_add(o, "capabilities",
			       inventory_caps(&asids->u.asids.stats, &plat->u.platform));
	sevd_api_respond_json(resp, 200, o);
}

static void h_healthz(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	struct sevd_request creq = { .op = SEVD_OP_HEALTH };
	_cleanup_free_ struct sevd_reply *rep = sevd_api_call_core(req, &creq, resp);
	_cleanup_(json_object_putp) json_object *o = NULL;

	if (!rep)
		return;
	o = json_object_new_object();
	json_object_object_add(
	    o, "status", json_object_new_string(rep->u.health.psp_healthy ? "ok" : "psp_unhealthy"));
	json_object_object_add(o, "transport", json_object_new_string(rep->u.health.transport));
	json_object_object_add(o, "queue_depth", json_object_new_int64(rep->u.health.queue_depth));
	json_object_object_add(o, "psp_recoveries",
			       json_object_new_int64((int64_t)rep->u.health.recoveries));
	if (sevd_api_worker_shares_uid >= 0 && req->role != SEVD_ROLE_PUBLIC)
		json_object_object_add(o, "worker_separated",
				       json_object_new_boolean(!sevd_api_worker_shares_uid));
	if (!rep->u.health.psp_healthy) {
		char msg[300];
		json_object *e = json_object_new_object();

		json_object_object_add(o, "reason", json_object_new_string(rep->u.health.reason));
		/* Also as an error object, so that clients reading errors the usual way (sevadm)
		 * show the reason. */
		snprintf(msg, sizeof(msg),
			 "the PSP is unhealthy (%s); firmware commands are refused while sevd "
			 "reconnects",
			 rep->u.health.reason);
		json_object_object_add(e, "code", json_object_new_string("psp_unhealthy"));
		json_object_object_add(e, "message", json_object_new_string(msg));
		json_object_object_add(e, "fw_status", NULL);
		json_object_object_add(o, "error", e);
	}
	/* 503 while the PSP is unhealthy, so that a load balancer or systemd probe
	 * sees it; the body says why. */
	sevd_api_respond_json(resp, rep->u.health.psp_healthy ? 200 : 503, o);
}

static void h_metrics(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	struct sevd_request creq = { .op = SEVD_OP_METRICS };
	_cleanup_free_ struct sevd_reply *rep = sevd_api_call_core(req, &creq, resp);

	if (!rep)
		return;
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4";
	resp->body = strndup(rep->u.metrics.text, rep->u.metrics.len);
	resp->len = resp->body ? strlen(resp->body) : 0;
}

#define ROLES_LAUNCHER SEVD_ROLE_BIT(SEVD_ROLE_LAUNCHER)
#define ROLES_OWNER SEVD_ROLE_BIT(SEVD_ROLE_OWNER)
#define BODY_GUEST (64u * 1024u) /* a launch or a secret packet in JSON (base64) */
#define BODY_VMSA 4096u		  /* one raw VMSA page */
#define BODY_SEND (64u * 1024u)	  /* a target's certificates in JSON (base64) */
#define BODY_SNP_CERTS (64u * 1024u) /* a 16 KiB certificate table as PEM in JSON */

/* The route table (every row is in daemon/openapi.yaml, which a test
 * checks). */
const struct sevd_route sevd_routes[] = {
	{ "GET", "/v1/platform", ROLES_READER, h_platform, 0 },
	{ "POST", "/v1/platform/init", ROLES_ADMIN, h_init, BODY_NONE },
	{ "POST", "/v1/platform/shutdown", ROLES_ADMIN, h_shutdown, BODY_NONE },
	{ "POST", "/v1/platform/factory-reset", ROLES_ADMIN, h_factory_reset, BODY_NONE },
	{ "POST", "/v1/platform/pek", ROLES_ADMIN, h_pek_gen, BODY_NONE },
	{ "POST", "/v1/platform/pdh", ROLES_ADMIN, h_pdh_gen, BODY_NONE },
	{ "GET", "/v1/platform/pek-csr", ROLES_ADMIN, h_pek_csr, 0 },
	{ "POST", "/v1/platform/pek-cert", ROLES_ADMIN, h_pek_cert, BODY_CERTS },
	{ "GET", "/v1/platform/certs", ROLES_PUBLIC, h_certs, 0 },
	{ "GET", "/v1/platform/id", ROLES_PUBLIC, h_id, 0 },
	{ "GET", "/v1/asids", ROLES_READER, h_asids, 0 },
	{ "GET", "/v1/inventory", ROLES_READER, h_inventory, 0 },
	{ "GET", "/v1/snp/platform", ROLES_READER, h_snp_platform, 0 },
	{ "POST", "/v1/snp/platform/commit", ROLES_ADMIN, h_snp_commit, BODY_NONE },
	{ "POST", "/v1/snp/platform/config", ROLES_ADMIN, h_snp_config, BODY_NONE },
	{ "POST", "/v1/snp/platform/vlek", ROLES_ADMIN, h_snp_vlek, BODY_NONE },
	{ "GET", "/v1/snp/certs", ROLES_READER, sevd_api_snp_certs_get, 0 },
	{ "PUT", "/v1/snp/certs", ROLES_ADMIN, sevd_api_snp_certs_put, BODY_SNP_CERTS },
	{ "DELETE", "/v1/snp/certs", ROLES_ADMIN, sevd_api_snp_certs_delete, BODY_NONE },
	{ "GET", "/healthz", ROLES_PUBLIC, h_healthz, 0 },
	{ "GET", "/metrics", ROLES_READER, h_metrics, 0 }, /* public with metrics_public */
	{ "GET", "/v1/guests", ROLES_READER, sevd_api_guests_list, 0 },
	{ "POST", "/v1/guests", ROLES_LAUNCHER | ROLES_MIGRATOR, sevd_api_guest_create, BODY_GUEST },
	{ "GET", "/v1/guests/{h}", ROLES_READER, sevd_api_guest_get, 0 },
	{ "DELETE", "/v1/guests/{h}", ROLES_LAUNCHER | ROLES_MIGRATOR, sevd_api_guest_delete, BODY_NONE },
	{ "POST", "/v1/guests/{h}/data", ROLES_LAUNCHER, sevd_api_guest_data_unused, 0,
	  &sevd_api_guest_data_stream },
	{ "POST", "/v1/guests/{h}/vmsa", ROLES_LAUNCHER, sevd_api_guest_vmsa, BODY_VMSA },
	{ "GET", "/v1/guests/{h}/measurement", ROLES_OWNER, sevd_api_guest_measure, 0 },
	{ "POST", "/v1/guests/{h}/secret", ROLES_LAUNCHER, sevd_api_guest_secret, BODY_GUEST },
	{ "POST", "/v1/guests/{h}/finish", ROLES_LAUNCHER, sevd_api_guest_finish, BODY_GUEST },
	{ "POST", "/v1/guests/{h}/activate", ROLES_LAUNCHER, sevd_api_guest_activate, BODY_NONE },
	{ "POST", "/v1/guests/{h}/deactivate", ROLES_LAUNCHER, sevd_api_guest_deactivate, BODY_NONE },
	{ "GET", "/v1/guests/{h}/attestation", ROLES_OWNER, sevd_api_guest_attest, 0 },
	/* Migration: admin only; POST /v1/guests with "receive" too (api-guest.c). */
	{ "POST", "/v1/guests/{h}/send", ROLES_MIGRATOR, sevd_api_guest_send, BODY_SEND },
	{ "GET", "/v1/guests/{h}/send/stream", ROLES_MIGRATOR, sevd_api_guest_send_stream, 0 },
	{ "POST", "/v1/guests/{h}/send/finish", ROLES_MIGRATOR, sevd_api_guest_send_finish, BODY_NONE },
	{ "POST", "/v1/guests/{h}/send/cancel", ROLES_MIGRATOR, sevd_api_guest_send_cancel, BODY_NONE },
	{ "POST", "/v1/guests/{h}/receive", ROLES_MIGRATOR, sevd_api_guest_data_unused, 0,
	  &sevd_api_guest_receive_stream },
	{ "POST", "/v1/guests/{h}/receive/finish", ROLES_MIGRATOR, sevd_api_guest_receive_finish,
	  BODY_NONE },
	/* The status page (daemon/worker/ui.c): the shell and its assets carry no data. */
	{ "GET", "/ui", ROLES_PUBLIC, sevd_ui_page, 0 },
	{ "GET", "/ui/ui.css", ROLES_PUBLIC, sevd_ui_css, 0 },
	{ "GET", "/ui/ui.js", ROLES_PUBLIC, sevd_ui_js, 0 },
	{ "GET", "/ui/state", ROLES_READER, sevd_ui_state, 0 },
};
const size_t sevd_n_routes = ELEMENTSOF(sevd_routes);

/* Segment-wise match; "{x}" matches one non-empty segment and is copied into param. */
static bool path_match(const char *pattern, const char *path, char *param, size_t size)
{
	while (*pattern && *path) {
		if (*pattern == '{') {
			size_t n = strcspn(path, "/");
			const char *close = strchr(pattern, '}');

			if (n == 0 || !close || n >= size)
				return false;
			memcpy(param, path, n);
			param[n] = '\0';
			pattern = close + 1;
			path += n;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return *pattern == '\0' && *path == '\0';
}

const struct sevd_route *sevd_route_find(const char *method, const char *path, bool *ret_path_known,
					 char *param, size_t size)
{
	*ret_path_known = false;
	for (size_t i = 0; i < sevd_n_routes; i++) {
		if (!path_match(sevd_routes[i].path, path, param, size))
			continue;
		*ret_path_known = true;
		if (strcmp(sevd_routes[i].method, method) == 0)
			return &sevd_routes[i];
	}
	return NULL;
}

bool sevd_route_allows(const struct sevd_route *rt, enum sevd_role role)
{
	return role == SEVD_ROLE_ADMIN || (rt->roles & SEVD_ROLE_BIT(role));
}
