/* The guest routes of the REST API (daemon/openapi.yaml "/v1/guests..."): JSON in,
 * fixed core requests out (core.h), core replies back to JSON. The image upload is streamed:
 * in sevd's worker through a staging buffer of two 1 MiB slots shared with the core (ipc.h,
 * one slot filled while the core takes the other), in one process in SEVD_GUEST_PIECE_MAX
 * GUEST_DATA blocks; nothing holds the whole image.
 * Unprivileged side of the seam: trusts no byte of the request. */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"
#include "daemon/worker/api-internal.h"
#include "daemon/worker/upload-limit.h"
#include "daemon/core/core.h"
#include "policy/admission.h"
#include "policy/guest-policy.h"

static const char *state_name(uint8_t s)
{
	static const char *const names[] = {"UNINIT",  "LUPDATE", "LSECRET", "RUNNING",
					    "SUPDATE", "RUPDATE", "SENT"};

	return s < ELEMENTSOF(names) ? names[s] : "UNKNOWN";
}

static json_object *time_json(uint64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[32];

	if (!gmtime_r(&tt, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return json_object_new_string("1970-01-01T00:00:00Z");
	return json_object_new_string(buf);
}

static json_object *hex_json(const uint8_t *buf, size_t len)
{
	_cleanup_free_ char *s = hex_encode(buf, len);

	return s ? json_object_new_string(s) : NULL;
}

static json_object *str_json(const char *s, size_t max)
{
	return json_object_new_string_len(s, (int)strnlen(s, max));
}

/* An SNP guest policy in GuestPolicy's shape: value, hex, the set bits' names (SNP ABI
 * "Guest Policy"), api_min the ABI_MAJOR.ABI_MINOR it needs. */
static json_object *snp_policy_json(uint64_t p)
{
	json_object *o = json_object_new_object(), *flags = json_object_new_array();
	char hex[24], api[16];

	for (size_t i = 0; i < sev_snp_policy_bits_n; i++)
		if (p & sev_snp_policy_bits[i].bit)
			json_object_array_add(flags,
					      json_object_new_string(sev_snp_policy_bits[i].name));
	snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)p);
	snprintf(api, sizeof(api), "%u.%u", SEV_SNP_POLICY_ABI_MAJOR(p), SEV_SNP_POLICY_ABI_MINOR(p));
	json_object_object_add(o, "value", json_object_new_int64((int64_t)p));
	json_object_object_add(o, "hex", json_object_new_string(hex));
	json_object_object_add(o, "flags", flags);
	json_object_object_add(o, "api_min", json_object_new_string(api));
	return o;
}

static json_object *guest_json(const struct sevd_guest_info *g)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "handle", json_object_new_int64(g->handle));
	json_object_object_add(o, "id", hex_json(g->id, sizeof(g->id)));
	json_object_object_add(o, "name", str_json(g->name, sizeof(g->name)));
	json_object_object_add(o, "tenant", str_json(g->tenant, sizeof(g->tenant)));
	json_object_object_add(o, "state", json_object_new_string(state_name(g->state)));
	json_object_object_add(o, "type",
			       json_object_new_string(g->snp ? "snp" : g->es ? "sev-es" : "sev"));
	json_object_object_add(o, "policy",
			       g->snp ? snp_policy_json(g->policy) : policy_to_json(g->policy));
	json_object_object_add(o, "asid", g->asid ? json_object_new_int64(g->asid) : NULL);
	json_object_object_add(o, "es", json_object_new_boolean(g->es));
	json_object_object_add(o, "memory_size", json_object_new_int64((int64_t)g->memory_size));
	json_object_object_add(o, "data_bytes", json_object_new_int64((int64_t)g->data_bytes));
	json_object_object_add(o, "measurement",
			       g->measured ? hex_json(g->measure, sizeof(g->measure)) : NULL);
	json_object_object_add(o, "mnonce",
			       g->measured ? hex_json(g->mnonce, sizeof(g->mnonce)) : NULL);
	json_object_object_add(o, "created", time_json(g->created));
	json_object_object_add(o, "updated", time_json(g->updated));
	return o;
}

bool sevd_api_guest_id_arg(const char *p, uint8_t id[SEVD_GUEST_ID_SIZE])
{
	if (!p || strlen(p) != 2 * SEVD_GUEST_ID_SIZE ||
	    strspn(p, "0123456789abcdef") != 2 * SEVD_GUEST_ID_SIZE)
		return false;
	for (unsigned i = 0; i < SEVD_GUEST_ID_SIZE; i++) {
		char hex[3] = {p[2 * i], p[2 * i + 1], '\0'};
		id[i] = (uint8_t)strtoul(hex, NULL, 16);
	}
	return true;
}

void sevd_api_name_guest(const struct sevd_api_request *req, struct sevd_caller *c)
{
	if (!sevd_api_guest_id_arg(req->param, c->guest_id))
		memset(c->guest_id, 0, sizeof(c->guest_id));
}

/* The {h} segment: a guest's id (32 lowercase hex digits: the core then acts only on that
 * guest, sevd_api_name_guest), or a handle in canonical decimal. A segment of digits in
 * another spelling ("0x1", "00001") is refused (400), not read as an alias of guest 1 (a
 * proxy's per-guest rule and sevd must agree on which guest a path names), and so is a
 * number out of range; anything else is an unknown guest (404). */
static bool handle_arg(const struct sevd_api_request *req, struct sevd_api_response *resp,
		       uint32_t *ret)
{
	const char *p = req->param ? req->param : "";
	size_t n = strspn(p, "0123456789");
	const char *why = NULL;
	uint8_t id[SEVD_GUEST_ID_SIZE];
	char msg[160];

	if (sevd_api_guest_id_arg(p, id)) { /* its first 4 bytes are its handle */
		*ret = (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | id[3];
		return true;
	}
	if (n && p[n] == '\0') {
		if (p[0] != '0' && n <= 10 && parse_u32(p, ret) >= 0)
			return true;
		why = p[0] == '0' && n > 1 ? "is not in canonical form: write it in decimal without "
					     "leading zeros"
					   : "is out of range: handles are 1 to 4294967295";
	} else if (n == 1 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		why = "is not in canonical form: write it in decimal";
	}
	if (why) {
		snprintf(msg, sizeof(msg), "handle '%.24s' %s", p, why);
		sevd_api_error(resp, 400, "bad_request", msg, -1);
		return false;
	}
	snprintf(msg, sizeof(msg),
		 "no guest with handle or id '%.40s' (handles are positive integers, ids 32 "
		 "lowercase hex digits)",
		 p);
	sevd_api_error(resp, 404, "not_found", msg, -1);
	return false;
}

static struct sevd_request *new_request(uint32_t op, struct sevd_api_response *resp)
{
	struct sevd_request *creq = calloc(1, sizeof(*creq));

	if (!creq)
		sevd_api_error(resp, 503, "internal", "out of memory", -1);
	else
		creq->op = op;
	return creq;
}

/* Answer {guest fields..., command, extras} for a guest reply. */
static void guest_answer(struct sevd_api_response *resp, unsigned status,
			 const struct sevd_reply *rep, bool with_address)
{
	_cleanup_(json_object_putp) json_object *o = guest_json(&rep->u.guest.info);

	if (rep->u.guest.command)
		json_object_object_add(o, "command",
				       json_object_new_string(sev_cmd_name(rep->u.guest.command)));
	if (with_address)
		json_object_object_add(o, "address",
				       json_object_new_int64((int64_t)rep->u.guest.address));
	sevd_api_respond_json(resp, status, o);
}

/* GET /v1/guests/{h} is polled like GET /v1/platform, and its body is a function of
 * the guest info and the command reported: the body rendered for the last such pair of a
 * handle's slot is kept and copied while both are byte for byte the same, which is what
 * guest_answer would render again (the timestamps are fields of the info, not the clock). */
#define GUEST_MEMO_SLOTS 64u
static struct sevd_api_memo guest_memo[GUEST_MEMO_SLOTS] = {[0 ... GUEST_MEMO_SLOTS - 1] =
								SEVD_API_MEMO_INIT};

/* The memo key of a guest answer: its info and command, padding zeroed. */
struct guest_memo_key {
	struct sevd_guest_info info;
	uint32_t command;
};

static struct sevd_api_memo *guest_memo_of(const struct sevd_reply *rep, struct guest_memo_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(&k->info, &rep->u.guest.info, sizeof(k->info));
	k->command = rep->u.guest.command;
	return &guest_memo[rep->u.guest.info.handle % GUEST_MEMO_SLOTS];
}

static bool guest_body_memo(const struct sevd_reply *rep, struct sevd_api_response *resp)
{
	struct guest_memo_key k;
	struct sevd_api_memo *m = guest_memo_of(rep, &k);

	return sevd_api_memo_answer(m, &k, sizeof(k), resp);
}

static void guest_body_keep(const struct sevd_reply *rep, const struct sevd_api_response *resp)
{
	struct guest_memo_key k;
	struct sevd_api_memo *m = guest_memo_of(rep, &k);

	sevd_api_memo_keep(m, &k, sizeof(k), resp);
}

/* A guest op with only a handle (and an optional ASID): run it, answer the guest. */
static void simple_op(const struct sevd_api_request *req, struct sevd_api_response *resp,
		      uint32_t op, uint32_t asid)
{
	struct sevd_request creq;
	_cleanup_free_ struct sevd_reply *rep = NULL;
	uint32_t h;

	if (!handle_arg(req, resp, &h))
		return;
	/* These ops carry the guest header only (ipc.c REQ_GUEST_HDR): zero that, not the 64 KiB
	 * data array after it, on every GET /v1/guests/{h}. */
	memset(&creq, 0, offsetof(struct sevd_request, u.guest.data));
	creq.op = op;
	creq.u.guest.handle = h;
	creq.u.guest.asid = asid;
	rep = sevd_api_call_core(req, &creq, resp);
	if (!rep)
		return;
	if (op == SEVD_OP_GUEST_INFO && guest_body_memo(rep, resp))
		return;
	guest_answer(resp, 200, rep, false);
	if (op == SEVD_OP_GUEST_INFO)
		guest_body_keep(rep, resp);
}

static struct sevd_api_memo list_memo = SEVD_API_MEMO_INIT;

void sevd_api_guests_list(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	struct sevd_request creq = {.op = SEVD_OP_GUEST_LIST};
	_cleanup_free_ struct sevd_reply *rep = sevd_api_call_core(req, &creq, resp);
	_cleanup_(json_object_putp) json_object *o = NULL;
	json_object *a;
	size_t key_len;

	if (!rep)
		return;
	/* Built by guest_json, as every other guest answer; the same list answers the same body. */
	key_len = offsetof(typeof(rep->u.guests), g) +
		  (size_t)MIN(rep->u.guests.n, SEVD_GUESTS_MAX) * sizeof(rep->u.guests.g[0]);
	if (sevd_api_memo_answer(&list_memo, &rep->u.guests, key_len, resp))
		return;
	o = json_object_new_object();
	a = json_object_new_array();
	for (uint32_t i = 0; i < rep->u.guests.n && i < SEVD_GUESTS_MAX; i++)
		json_object_array_add(a, guest_json(&rep->u.guests.g[i]));
	json_object_object_add(o, "guests", a);
	sevd_api_respond_json(resp, 200, o);
	sevd_api_memo_keep(&list_memo, &rep->u.guests, key_len, resp);
}

/* ---- JSON fields ---- */

/* An optional field of a type; false with a 400 in resp when present with another type. */
static bool opt_field(json_object *o, const char *key, json_type type, json_object **ret,
		      struct sevd_api_response *resp)
{
	char msg[128];

	*ret = NULL;
	if (!o || !json_object_object_get_ex(o, key, ret) || !*ret)
		return true;
	if (json_object_is_type(*ret, type))
		return true;
	snprintf(msg, sizeof(msg), "field '%s' must be %s", key,
		 type == json_type_int ? "an integer" : "a string");
	sevd_api_error(resp, 400, "bad_request", msg, -1);
	return false;
}

/* An optional integer in [0, max]. */
static bool opt_uint(json_object *o, const char *key, uint64_t max, uint64_t *ret, bool *present,
		     struct sevd_api_response *resp)
{
	json_object *v;
	char msg[128];
	int64_t x;

	*present = false;
	if (!opt_field(o, key, json_type_int, &v, resp))
		return false;
	if (!v)
		return true;
	errno = 0;
	x = json_object_get_int64(v);
	if (x < 0 || (uint64_t)x > max || errno) {
		snprintf(msg, sizeof(msg), "field '%s' must be an integer from 0 to %llu", key,
			 (unsigned long long)max);
		sevd_api_error(resp, 400, "bad_request", msg, -1);
		return false;
	}
	*ret = (uint64_t)x;
	*present = true;
	return true;
}

/* An optional string field: *ret NULL when absent, false with a 400 in resp when it is not a
 * string. *whole is false when the string holds an escaped NUL ("a\u0000b", which json-c keeps
 * inside it): callers refuse such a string rather than cut it at the NUL. */
static bool opt_str(json_object *o, const char *key, const char **ret, bool *whole,
		    struct sevd_api_response *resp)
{
	json_object *v;

	*ret = NULL;
	if (!opt_field(o, key, json_type_string, &v, resp))
		return false;
	if (v) {
		*ret = json_object_get_string(v);
		*whole = strlen(*ret) == (size_t)json_object_get_string_len(v);
	}
	return true;
}

/* An optional base64 field decoded to at most max bytes; *len 0 when absent. */
static bool opt_b64(json_object *o, const char *key, uint8_t *out, size_t max, uint32_t *len,
		    bool exact, struct sevd_api_response *resp)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t n = 0;
	char msg[160];
	const char *s;
	bool whole;

	*len = 0;
	if (!opt_str(o, key, &s, &whole, resp))
		return false;
	if (!s)
		return true;
	if (!whole || base64_decode(s, strlen(s), &buf, &n) < 0 || n == 0 || n > max ||
	    (exact && n != max)) {
		snprintf(msg, sizeof(msg), "field '%s' must be base64 of %s%zu bytes", key,
			 exact ? "exactly " : "1 to ", max);
		sevd_api_error(resp, 400, "bad_request", msg, -1);
		return false;
	}
	memcpy(out, buf, n);
	*len = (uint32_t)n;
	return true;
}

static bool opt_name(json_object *o, const char *key, char *out, size_t size,
		     struct sevd_api_response *resp)
{
	char msg[128];
	const char *s;
	bool whole;

	if (!opt_str(o, key, &s, &whole, resp))
		return false;
	if (!s)
		return true;
	if (strlen(s) == 0 || strlen(s) >= size || !whole) {
		snprintf(msg, sizeof(msg), "field '%s' must be 1..%zu characters of [A-Za-z0-9._-]",
			 key, size - 1);
		sevd_api_error(resp, 400, "bad_request", msg, -1);
		return false;
	}
	memcpy(out, s, strlen(s) + 1);
	return true;
}

static bool snp_policy_refuse(struct sevd_api_response *resp, const char *what, const char *why)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "field 'policy'%s: %s", what, why);
	sevd_api_error(resp, 400, "bad_request", msg, -1);
	return false;
}

/* One name of the guest JSON's policy.flags (SMT, DEBUG, ...: psp's sev_snp_policy_bits). */
static bool snp_policy_name(const char *name, uint64_t *bits, struct sevd_api_response *resp)
{
	const char *why;
	uint64_t m;

	if (!*name || (*name >= '0' && *name <= '9') ||
	    policy_snp_mask_parse(name, &m, &why) < 0)
		return snp_policy_refuse(resp, " flags",
					 "each flag is an SNP policy bit name: SMT, MIGRATE_MA, "
					 "DEBUG, SINGLE_SOCKET, CXL_ALLOW, MEM_AES_256_XTS, RAPL_DIS, "
					 "CIPHERTEXT_HIDING, PAGE_SWAP_DISABLE (any case)");
	*bits |= m;
	return true;
}

/* An SNP policy by name: "SMT|DEBUG" (names joined by ',', '|' or '+') or the guest JSON's
 * shape {"flags": ["SMT"], "api_min": "1.51"}; bit 17 (must be one) is set for the caller. */
static bool snp_policy_by_name(json_object *v, uint64_t *ret, struct sevd_api_response *resp)
{
	uint64_t p = SEV_SNP_POLICY_RSVD_MBO;
	json_object *flags = NULL, *api = NULL;
	unsigned major = 0, minor = 0;
	char end;

	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v), *why;
		uint64_t m;

		if (!*s || (*s >= '0' && *s <= '9') || policy_snp_mask_parse(s, &m, &why) < 0)
			return snp_policy_refuse(resp, "",
						 "an SNP policy is a number, bit names joined by "
						 "'|' (e.g. \"SMT|DEBUG\") or {\"flags\": [...], "
						 "\"api_min\": \"MAJOR.MINOR\"}");
		*ret = p | m;
		return true;
	}
	json_object_object_foreach(v, key, val)
	{
		if (strcmp(key, "flags") == 0 && json_object_is_type(val, json_type_array))
			flags = val;
		else if (strcmp(key, "api_min") == 0 && json_object_is_type(val, json_type_string))
			api = val;
		else
			return snp_policy_refuse(resp, "",
						 "a policy object has \"flags\" (an array of bit "
						 "names) and \"api_min\" (\"MAJOR.MINOR\") only");
	}
	for (size_t i = 0; flags && i < json_object_array_length(flags); i++) {
		json_object *f = json_object_array_get_idx(flags, i);

		if (!json_object_is_type(f, json_type_string))
			return snp_policy_refuse(resp, " flags", "each flag is a string");
		if (!snp_policy_name(json_object_get_string(f), &p, resp))
			return false;
	}
	if (api && (sscanf(json_object_get_string(api), "%u.%u%c", &major, &minor, &end) != 2 ||
		    major > 255 || minor > 255))
		return snp_policy_refuse(resp, " api_min",
					 "the ABI version is \"MAJOR.MINOR\", each 0..255 (e.g. "
					 "\"1.51\")");
	*ret = p | (uint64_t)major << 8 | minor;
	return true;
}

void sevd_api_guest_create(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_free_ struct sevd_request *creq = NULL;
	_cleanup_free_ struct sevd_reply *rep = NULL;
	uint64_t policy = 0, mem = 0, asid = 0;
	bool have_policy, have, snp = false, have_named = false;
	json_object *type, *pv;
	uint64_t named = 0;

	if (!sevd_api_parse_body(req, resp, &o))
		return;
	if (o && json_object_object_get_ex(o, "receive", NULL)) {
		sevd_api_guest_receive_create(req, o, resp);
		return;
	}
	if (req->role == SEVD_ROLE_MIGRATOR) {
		sevd_api_error(resp, 403, "forbidden",
			       "the migrator role receives guests (\"receive\"), it does not launch "
			       "them: use a launcher's or the admin's credentials",
			       -1);
		return;
	}
	if (!(creq = new_request(SEVD_OP_GUEST_CREATE, resp)) ||
	    !opt_field(o, "type", json_type_string, &type, resp))
		return;
	if (type) {
		snp = strcmp(json_object_get_string(type), "snp") == 0;
		if (!snp && strcmp(json_object_get_string(type), "sev") != 0) {
			sevd_api_error(resp, 400, "bad_request",
				       "field 'type' must be \"sev\" (the default) or \"snp\"", -1);
			return;
		}
	}
	/* SNP: the 64-bit guest policy (the core refuses reserved bits, naming them), a number
	 * or by name. */
	if (snp && o && json_object_object_get_ex(o, "policy", &pv) &&
	    (json_object_is_type(pv, json_type_string) ||
	     json_object_is_type(pv, json_type_object))) {
		if (!snp_policy_by_name(pv, &named, resp))
			return;
		json_object_object_del(o, "policy");
		have_named = true;
	}
	if (!opt_uint(o, "policy", snp ? (uint64_t)INT64_MAX : UINT32_MAX, &policy, &have_policy,
		      resp) ||
	    !opt_uint(o, "memory_size", UINT64_MAX / 2, &mem, &have, resp) ||
	    !opt_uint(o, "asid", UINT32_MAX, &asid, &have, resp) ||
	    !opt_name(o, "name", creq->u.create.name, sizeof(creq->u.create.name), resp) ||
	    !opt_name(o, "tenant", creq->u.create.tenant, sizeof(creq->u.create.tenant), resp) ||
	    !opt_b64(o, "godh_cert", creq->u.create.godh, SEV_CERT_SIZE, &creq->u.create.godh_len,
		     true, resp) ||
	    !opt_b64(o, "session", creq->u.create.session, sizeof(creq->u.create.session),
		     &creq->u.create.session_len, true, resp))
		return;
	if (have_named) {
		policy = named;
		have_policy = true;
	}
	if (!have_policy) {
		sevd_api_error(resp, 400, "bad_request",
			       "field 'policy' (the guest policy word, an integer) is required",
			       -1);
		return;
	}
	creq->u.create.policy = (uint32_t)policy;
	creq->u.create.snp = snp;
	creq->u.create.snp_policy = snp ? policy : 0;
	creq->u.create.memory_size = mem;
	creq->u.create.asid = (uint32_t)asid;
	rep = sevd_api_call_core(req, creq, resp);
	if (rep)
		guest_answer(resp, 201, rep, false);
}

void sevd_api_guest_get(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	simple_op(req, resp, SEVD_OP_GUEST_INFO, 0);
}

void sevd_api_guest_finish(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_free_ struct sevd_request *creq = NULL;
	_cleanup_free_ struct sevd_reply *rep = NULL;
	json_object *hd, *ak;
	uint32_t h, blen = 0;

	if (!sevd_api_parse_body(req, resp, &o))
		return;
	if (!o || (!json_object_object_get_ex(o, "id_block", NULL) &&
		   !json_object_object_get_ex(o, "id_auth", NULL) &&
		   !json_object_object_get_ex(o, "host_data", NULL) &&
		   !json_object_object_get_ex(o, "author_key", NULL))) {
		simple_op(req, resp, SEVD_OP_GUEST_FINISH, 0);
		return;
	}
	/* SNP_LAUNCH_FINISH's inputs, as `sevadm snp id-block` prints them for QEMU. */
	if (!handle_arg(req, resp, &h) || !(creq = new_request(SEVD_OP_GUEST_SNP_FINISH, resp)) ||
	    !opt_b64(o, "id_block", creq->u.guest.id_block, sizeof(creq->u.guest.id_block), &blen,
		     true, resp) ||
	    !opt_b64(o, "id_auth", creq->u.guest.data, sizeof(struct sev_snp_id_auth),
		     &creq->u.guest.len, true, resp) ||
	    !opt_field(o, "host_data", json_type_string, &hd, resp) ||
	    !opt_field(o, "author_key", json_type_boolean, &ak, resp))
		return;
	if (!blen != !creq->u.guest.len) {
		sevd_api_error(resp, 400, "bad_request",
			       blen ? "field 'id_auth' is required with 'id_block' (sevadm snp "
				      "id-block prints both)"
				    : "field 'id_block' is required with 'id_auth' (sevadm snp "
				      "id-block prints both)",
			       -1);
		return;
	}
	if (hd && hex_decode_exact(json_object_get_string(hd), creq->u.guest.host_data,
				   sizeof(creq->u.guest.host_data)) < 0) {
		sevd_api_error(resp, 400, "bad_request",
			       "field 'host_data' must be 32 bytes in hex (64 digits)", -1);
		return;
	}
	if (ak && json_object_get_boolean(ak) && !blen) {
		sevd_api_error(resp, 400, "bad_request",
			       "field 'author_key' needs an 'id_block' and 'id_auth' signed with "
			       "--author-key",
			       -1);
		return;
	}
	creq->u.guest.handle = h;
	creq->u.guest.snp_id_block = !!blen;
	creq->u.guest.snp_author = ak && json_object_get_boolean(ak);
	rep = sevd_api_call_core(req, creq, resp);
	if (rep)
		guest_answer(resp, 200, rep, false);
}

void sevd_api_guest_deactivate(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_(json_object_putp) json_object *o = NULL;

	if (sevd_api_parse_body(req, resp, &o))
		simple_op(req, resp, SEVD_OP_GUEST_DEACTIVATE, 0);
}

void sevd_api_guest_activate(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	uint64_t asid = 0;
	bool have;

	if (sevd_api_parse_body(req, resp, &o) &&
	    opt_uint(o, "asid", UINT32_MAX, &asid, &have, resp))
		simple_op(req, resp, SEVD_OP_GUEST_ACTIVATE, (uint32_t)asid);
}

void sevd_api_guest_delete(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_(json_object_putp) json_object *o = NULL, *body = NULL;
	_cleanup_free_ struct sevd_request *creq = NULL;
	_cleanup_free_ struct sevd_reply *rep = NULL;
	uint32_t h;

	if (!sevd_api_parse_body(req, resp, &body) || !handle_arg(req, resp, &h) ||
	    !(creq = new_request(SEVD_OP_GUEST_DELETE, resp)))
		return;
	creq->u.guest.handle = h;
	rep = sevd_api_call_core(req, creq, resp);
	if (!rep)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "handle", json_object_new_int64(h));
	json_object_object_add(o, "command", json_object_new_string("DECOMMISSION"));
	json_object_object_add(o, "deactivated", json_object_new_boolean(rep->u.guest.deactivated));
	json_object_object_add(
	    o, "asid_released",
	    rep->u.guest.released_asid ? json_object_new_int64(rep->u.guest.released_asid) : NULL);
	sevd_api_respond_json(resp, 200, o);
}

void sevd_api_guest_measure(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_free_ struct sevd_request *creq = NULL;
	_cleanup_free_ struct sevd_reply *rep = NULL;
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_free_ char *b64 = NULL;
	const struct sevd_guest_info *g;
	uint8_t blob[SEV_MEASURE_BLOB_SIZE];
	uint32_t h;

	if (!handle_arg(req, resp, &h) || !(creq = new_request(SEVD_OP_GUEST_MEASURE, resp)))
		return;
	creq->u.guest.handle = h;
	rep = sevd_api_call_core(req, creq, resp);
	if (!rep)
		return;
	g = &rep->u.guest.info;
	o = json_object_new_object();
	json_object_object_add(o, "handle", json_object_new_int64(h));
	if (g->snp) { /* the 48-byte launch digest, final after finish */
		memcpy(blob, g->measure, SEV_MEASURE_SIZE);
		memcpy(blob + SEV_MEASURE_SIZE, g->mnonce, SEV_MNONCE_SIZE);
		json_object_object_add(o, "launch_digest", hex_json(blob, sizeof(blob)));
		json_object_object_add(o, "id_block", json_object_new_boolean(g->snp_id_block));
		json_object_object_add(o, "policy", json_object_new_int64(g->policy));
		sevd_api_respond_json(resp, 200, o);
		return;
	}
	memcpy(blob, g->measure, SEV_MEASURE_SIZE);
	memcpy(blob + SEV_MEASURE_SIZE, g->mnonce, SEV_MNONCE_SIZE);
	b64 = base64_encode(blob, sizeof(blob));
	json_object_object_add(o, "measurement", hex_json(g->measure, sizeof(g->measure)));
	json_object_object_add(o, "mnonce", hex_json(g->mnonce, sizeof(g->mnonce)));
	json_object_object_add(o, "blob", b64 ? json_object_new_string(b64) : NULL);
	json_object_object_add(o, "api_major", json_object_new_int(rep->u.guest.api_major));
	json_object_object_add(o, "api_minor", json_object_new_int(rep->u.guest.api_minor));
	json_object_object_add(o, "build", json_object_new_int(rep->u.guest.build));
	json_object_object_add(o, "policy", json_object_new_int64(g->policy));
	sevd_api_respond_json(resp, 200, o);
}

void sevd_api_guest_secret(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_free_ struct sevd_request *creq = NULL;
	_cleanup_free_ struct sevd_reply *rep = NULL;
	uint32_t h, hdr_len = 0;
	uint64_t addr = 0;
	bool have;

	if (!handle_arg(req, resp, &h) || !sevd_api_parse_body(req, resp, &o) ||
	    !(creq = new_request(SEVD_OP_GUEST_SECRET, resp)))
		return;
	creq->u.guest.handle = h;
	if (!opt_b64(o, "header", creq->u.guest.hdr, sizeof(creq->u.guest.hdr), &hdr_len, true,
		     resp) ||
	    !opt_b64(o, "payload", creq->u.guest.data, sizeof(creq->u.guest.data),
		     &creq->u.guest.len, false, resp) ||
	    !opt_uint(o, "guest_address", UINT64_MAX / 2, &addr, &have, resp))
		return;
	if (!hdr_len || !creq->u.guest.len) {
		sevd_api_error(
		    resp, 400, "bad_request",
		    "fields 'header' (52 bytes) and 'payload' (base64) are required: the "
		    "packet of 'sevctl secret build'",
		    -1);
		return;
	}
	creq->u.guest.have_address = have;
	creq->u.guest.address = addr;
	rep = sevd_api_call_core(req, creq, resp);
	if (rep)
		guest_answer(resp, 200, rep, true);
}

/* "address" query argument (decimal or 0x). */
static bool address_arg(const struct sevd_api_request *req, struct sevd_request *creq,
			struct sevd_api_response *resp)
{
	const char *a = req->arg ? req->arg(req, "address") : NULL;

	if (!a)
		return true;
	if (parse_u64(a, &creq->u.guest.address) < 0) {
		sevd_api_error(resp, 400, "bad_request",
			       "query argument 'address' must be a number from 0 to 2^64-1 "
			       "(decimal or 0x...)",
			       -1);
		return false;
	}
	creq->u.guest.have_address = 1;
	return true;
}

void sevd_api_guest_vmsa(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_free_ struct sevd_request *creq = NULL;
	_cleanup_free_ struct sevd_reply *rep = NULL;
	uint32_t h;

	if (!handle_arg(req, resp, &h) || !(creq = new_request(SEVD_OP_GUEST_VMSA, resp)) ||
	    !address_arg(req, creq, resp))
		return;
	if (req->len != 4096) {
		sevd_api_error(
		    resp, 400, "bad_request",
		    "the body must be one 4096-byte VMSA page (application/octet-stream)", -1);
		return;
	}
	creq->u.guest.handle = h;
	creq->u.guest.len = 4096;
	memcpy(creq->u.guest.data, req->body, 4096);
	rep = sevd_api_call_core(req, creq, resp);
	if (rep)
		guest_answer(resp, 200, rep, true);
}

void sevd_api_guest_attest(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_free_ struct sevd_request *creq = NULL;
	_cleanup_free_ struct sevd_reply *rep = NULL;
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_free_ char *b64 = NULL;
	struct sev_attestation_report r;
	const char *nonce = req->arg ? req->arg(req, "nonce") : NULL;
	uint32_t h;

	if (!handle_arg(req, resp, &h) || !(creq = new_request(SEVD_OP_GUEST_ATTEST, resp)))
		return;
	if (!nonce || hex_decode_exact(nonce, creq->u.guest.nonce, SEV_MNONCE_SIZE) < 0) {
		sevd_api_error(resp, 400, "bad_request",
			       "query argument 'nonce' must be 16 bytes in hex (32 digits)", -1);
		return;
	}
	creq->u.guest.handle = h;
	rep = sevd_api_call_core(req, creq, resp);
	if (!rep)
		return;
	memcpy(&r, rep->u.guest.report, sizeof(r));
	b64 = base64_encode(&r, sizeof(r));
	o = json_object_new_object();
	json_object_object_add(o, "handle", json_object_new_int64(h));
	json_object_object_add(o, "report", b64 ? json_object_new_string(b64) : NULL);
	json_object_object_add(o, "mnonce", hex_json(r.mnonce, sizeof(r.mnonce)));
	json_object_object_add(o, "launch_digest",
			       hex_json(r.launch_digest, sizeof(r.launch_digest)));
	json_object_object_add(o, "policy", json_object_new_int64(le32toh(r.policy)));
	json_object_object_add(o, "sig_usage", json_object_new_int64(le32toh(r.sig_usage)));
	json_object_object_add(o, "sig_algo", json_object_new_int64(le32toh(r.sig_algo)));
	json_object_object_add(o, "sig_r", hex_json(r.sig_r, sizeof(r.sig_r)));
	json_object_object_add(o, "sig_s", hex_json(r.sig_s, sizeof(r.sig_s)));
	sevd_api_respond_json(resp, 200, o);
}

/* ---- the streamed image upload ---- */

struct upload {
	struct sevd_api_request req; /* core + role; param copied below */
	char param[64];
	struct sevd_request *creq; /* DATA: the block being filled */
	struct sevd_reply *rep;	   /* the first failure, or NULL */
	uint32_t handle;
	/* The staged path (sevd_api_stager: sevd's worker) or NULL: GUEST_DATA pieces. */
	struct sevd_ipc_upload *st;
	struct sevd_reply *srep; /* the answers of the staged slots */
	int ticket;		 /* upload-limit.h: the admission, -1 for none */
};

static void upload_free(struct upload *u)
{
	if (!u)
		return;
	if (u->st)
		sevd_api_stager->close(u->st);
	free(u->srep);
	free(u->creq);
	free(u->rep);
	sevd_upload_release(u->ticket);
	free(u);
}

static int upload_call(struct upload *u, uint32_t op)
{
	struct sevd_reply *rep = malloc(sizeof(*rep));

	if (!rep)
		return -ENOMEM;
	u->creq->op = op;
	u->creq->u.guest.handle = u->handle;
	if ((u->st ? sevd_api_stager->call(u->st, u->creq, rep)
		   : sevd_api_core_fn(u->req.core, u->creq, rep)) < 0) {
		free(u->rep);
		u->rep = rep; /* answered at the end */
		return rep->r;
	}
	if (op == SEVD_OP_GUEST_DATA_END) {
		free(u->rep);
		u->rep = rep;
	} else {
		free(rep);
	}
	return 0;
}

/* In sevd's worker: hold a core channel and a staging buffer for the upload. Without one
 * (in one process, or the core could not make one) the pieces go as GUEST_DATA requests. */
static void upload_stage(struct upload *u)
{
	if (!sevd_api_stager || !(u->srep = malloc(sizeof(*u->srep))))
		return;
	if (sevd_api_stager->open(u->handle, &u->creq->caller, u->srep, &u->st) < 0) {
		log_warning("Guest %u: upload without a staging buffer: %s", u->handle,
			    u->srep->message);
		u->st = NULL;
		free(u->srep);
		u->srep = NULL;
	}
}

/* SNP uploads: ?type= (the page type) and ?gpa= (page-aligned; default after the previous
 * upload, from 0). The core refuses them for SEV guests. */
static bool snp_upload_args(const struct sevd_api_request *req, struct sevd_request *creq,
			    struct sevd_api_response *resp)
{
	static const char *const types[] = {
	    [SEV_SNP_PAGE_NORMAL] = "normal",	  [SEV_SNP_PAGE_ZERO] = "zero",
	    [SEV_SNP_PAGE_UNMEASURED] = "unmeasured", [SEV_SNP_PAGE_SECRETS] = "secrets",
	    [SEV_SNP_PAGE_CPUID] = "cpuid",
	};
	const char *t = req->arg ? req->arg(req, "type") : NULL;
	const char *a = req->arg ? req->arg(req, "gpa") : NULL;

	if (t) {
		for (uint8_t i = 0; i < ELEMENTSOF(types); i++)
			if (types[i] && strcmp(t, types[i]) == 0)
				creq->u.guest.page_type = i;
		if (!creq->u.guest.page_type) {
			sevd_api_error(resp, 400, "bad_request",
				       "query argument 'type' must be normal, zero, unmeasured, "
				       "secrets or cpuid (VMSA pages go through /vmsa)",
				       -1);
			return false;
		}
	}
	if (!a)
		return true;
	if (creq->u.guest.have_address) {
		sevd_api_error(resp, 400, "bad_request",
			       "query arguments 'gpa' and 'address' name the same thing: give one",
			       -1);
		return false;
	}
	if (parse_u64(a, &creq->u.guest.address) < 0 || creq->u.guest.address % 4096) {
		sevd_api_error(resp, 400, "bad_request",
			       "query argument 'gpa' must be a 4096-byte aligned guest physical "
			       "address (decimal or 0x...)",
			       -1);
		return false;
	}
	creq->u.guest.have_address = 1;
	return true;
}

static int upload_open(const struct sevd_api_request *req, void **state,
		       struct sevd_api_response *resp)
{
	struct upload *u = calloc(1, sizeof(*u));

	if (!u || !(u->creq = new_request(SEVD_OP_GUEST_DATA_BEGIN, resp))) {
		free(u);
		if (!resp->status)
			sevd_api_error(resp, 503, "internal", "out of memory", -1);
		return -ENOMEM;
	}
	u->ticket = -1;
	if (req->caller)
		u->creq->caller = *req->caller; /* every request of the upload is this caller's */
	sevd_api_name_guest(req, &u->creq->caller);
	u->req = *req;
	if (!handle_arg(req, resp, &u->handle) || !address_arg(req, u->creq, resp) ||
	    !snp_upload_args(req, u->creq, resp)) {
		upload_free(u);
		return -EINVAL;
	}
	/* A limited number at once, in all and per principal, before the upload
	 * takes anything of the core's (a slow one holds a core channel to its end). */
	if (sevd_upload_admit(req->caller, resp, &u->ticket) < 0) {
		upload_free(u);
		return -EUSERS;
	}
	if (upload_call(u, SEVD_OP_GUEST_DATA_BEGIN) < 0) {
		sevd_api_core_error(resp, u->rep);
		upload_free(u);
		return -EIO;
	}
	u->creq->u.guest.have_address = 0;
	u->creq->u.guest.len = 0;
	upload_stage(u);
	*state = u;
	return 0;
}

static int upload_data(void *state, const char *buf, size_t len)
{
	struct upload *u = state;

	if (u->st) {
		if (!u->rep && sevd_api_stager->write(u->st, buf, len, u->srep) < 0) {
			u->rep = u->srep; /* answered at the end */
			u->srep = NULL;
		}
		return u->rep ? -EIO : 0;
	}
	while (len && !u->rep) {
		uint32_t n =
		    (uint32_t)MIN(len, (size_t)(SEVD_GUEST_PIECE_MAX - u->creq->u.guest.len));

		memcpy(u->creq->u.guest.data + u->creq->u.guest.len, buf, n);
		u->creq->u.guest.len += n;
		buf += n;
		len -= n;
		if (u->creq->u.guest.len == SEVD_GUEST_PIECE_MAX) {
			(void)upload_call(u, SEVD_OP_GUEST_DATA);
			u->creq->u.guest.len = 0;
		}
	}
	return u->rep ? -EIO : 0;
}

static void upload_close(void *state, bool complete, struct sevd_api_response *resp)
{
	struct upload *u = state;
	_cleanup_(json_object_putp) json_object *o = NULL;

	/* A client that left: the whole chunks it sent are measured (ABORT below), also those
	 * still in the slot being filled (a slot holds several). */
	if (u->st && !u->rep &&
	    sevd_api_stager->flush(u->st, complete ? 1 : SEVD_GUEST_CHUNK, u->srep) < 0) {
		u->rep = u->srep;
		u->srep = NULL;
	}
	if (!u->st && !u->rep && complete && u->creq->u.guest.len)
		(void)upload_call(u, SEVD_OP_GUEST_DATA);
	if (!u->rep && complete)
		(void)upload_call(u, SEVD_OP_GUEST_DATA_END);
	if (!complete || (u->rep && u->rep->r < 0)) {
		struct sevd_reply *keep = u->rep;

		u->rep = NULL;
		(void)upload_call(u, SEVD_OP_GUEST_DATA_ABORT);
		free(u->rep);
		u->rep = keep;
	}
	if (resp && u->rep && u->rep->r < 0)
		sevd_api_core_error(resp, u->rep);
	else if (resp && u->rep) {
		o = guest_json(&u->rep->u.guest.info);
		json_object_object_add(o, "command", json_object_new_string("LAUNCH_UPDATE_DATA"));
		json_object_object_add(o, "uploaded",
				       json_object_new_int64((int64_t)u->rep->u.guest.uploaded));
		json_object_object_add(o, "address",
				       json_object_new_int64((int64_t)u->rep->u.guest.address));
		json_object_object_add(o, "chunks", json_object_new_int64(u->rep->u.guest.chunks));
		sevd_api_respond_json(resp, 200, o);
	}
	upload_free(u);
}

const struct sevd_api_stream sevd_api_guest_data_stream = {
    .open = upload_open,
    .data = upload_data,
    .close = upload_close,
};

/* The data route is streamed; its buffered handler is never called. */
void sevd_api_guest_data_unused(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	sevd_api_error(resp, 500, "internal", "the data route is streamed", -1);
}

/* ---- migration (daemon/core/guest.c "migration") ----
 * Source: POST /v1/guests/{h}/send with the target's certificates (the body of the target's
 * GET /v1/platform/certs: pdh, pek, oca, cek, ask, ark; the core checks the chain against
 * the migration roots before SEND_START), GET /v1/guests/{h}/send/stream (the packets, one
 * SEND_UPDATE_DATA per page, made while the answer is read: one page in memory), then
 * POST /v1/guests/{h}/send/finish or /send/cancel. Target: POST /v1/guests with "receive"
 * (RECEIVE_START), POST /v1/guests/{h}/receive with the stream, /receive/finish.
 * The stream is a run of records, integers little-endian:
 *   offset (8 bytes, in guest memory) ‖ length (4, 1..SEVD_PACKET_MAX; bit 31 set: a VMSA
 *   packet) ‖ packet header (sizeof(struct sev_packet_header): flags, IV, MAC) ‖ length bytes.
 * An SEV-ES guest's VMSA pages are not memory packets: after the last memory packet (when the
 * stream reaches the end of memory) come its VMSAs, one SEND_UPDATE_VMSA each, the offset
 * being the VMSA's guest address; the target takes them into RECEIVE_UPDATE_VMSA. */
#define MIG_REC_HDR (8u + 4u + sizeof(struct sev_packet_header))
#define MIG_REC_MAX (MIG_REC_HDR + SEVD_PACKET_MAX)
#define MIG_REC_VMSA 0x80000000u /* in the length word */

static void migrate_answer(struct sevd_api_response *resp, unsigned status,
			   const struct sevd_reply *rep)
{
	_cleanup_(json_object_putp) json_object *o = guest_json(&rep->u.migrate.info);

	if (rep->u.migrate.command)
		json_object_object_add(o, "command",
				       json_object_new_string(sev_cmd_name(rep->u.migrate.command)));
	sevd_api_respond_json(resp, status, o);
}

static json_object *b64_json(const uint8_t *buf, size_t len)
{
	_cleanup_free_ char *s = base64_encode(buf, len);

	return s ? json_object_new_string(s) : NULL;
}

static void le_put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le_get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* A required base64 field of exactly or at most max bytes. */
static bool req_b64(json_object *o, const char *key, uint8_t *out, size_t max, uint32_t *len,
		    bool exact, struct sevd_api_response *resp)
{
	char msg[160];

	if (!opt_b64(o, key, out, max, len, exact, resp))
		return false;
	if (*len)
		return true;
	snprintf(msg, sizeof(msg), "field '%s' (base64) is required", key);
	sevd_api_error(resp, 400, "bad_request", msg, -1);
	return false;
}

/* The target's certificates into m: its PDH, PEK ‖ OCA ‖ CEK, ASK ‖ ARK. */
static bool target_certs(json_object *o, typeof(((struct sevd_request *)0)->u.migrate) *m,
			 struct sevd_api_response *resp)
{
	uint32_t n = 0, ask = 0, ark = 0;

	if (!req_b64(o, "pdh", m->pdh, SEV_CERT_SIZE, &n, true, resp))
		return false;
	for (unsigned i = 0; i < 3; i++) {
		static const char *const keys[] = {"pek", "oca", "cek"};

		if (!req_b64(o, keys[i], m->plat + i * SEV_CERT_SIZE, SEV_CERT_SIZE, &n, true, resp))
			return false;
	}
	m->plat_len = SEV_CERT_CHAIN_SIZE;
	if (!req_b64(o, "ask", m->amd, AMD_CERT_MAX_SIZE, &ask, false, resp) ||
	    !req_b64(o, "ark", m->amd + ask, AMD_CERT_MAX_SIZE, &ark, false, resp))
		return false;
	m->amd_len = ask + ark;
	return true;
}

/* What the target's POST /v1/guests takes as "receive": this platform's PDH (for the
 * target's RECEIVE_START), the session blob, the policy firmware echoed, the memory size. */
static json_object *receive_json(const struct sevd_api_request *req, const struct sevd_reply *rep,
				 struct sevd_api_response *resp)
{
	struct sevd_request creq = {.op = SEVD_OP_CERTS};
	_cleanup_free_ struct sevd_reply *certs = sevd_api_call_core(req, &creq, resp);
	json_object *o;

	if (!certs)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "pdh", b64_json(certs->u.certs.pdh, certs->u.certs.pdh_len));
	json_object_object_add(o, "session", b64_json(rep->u.migrate.session,
						      sizeof(rep->u.migrate.session)));
	json_object_object_add(o, "policy", json_object_new_int64(rep->u.migrate.policy));
	json_object_object_add(o, "memory_size",
			       json_object_new_int64((int64_t)rep->u.migrate.info.memory_size));
	json_object_object_add(o, "vcpus", json_object_new_int64(rep->u.migrate.vcpus));
	return o;
}

void sevd_api_guest_send(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_(json_object_putp) json_object *o = NULL, *ans = NULL;
	_cleanup_free_ struct sevd_request *creq = NULL;
	_cleanup_free_ struct sevd_reply *rep = NULL;
	json_object *rcv;

	if (!sevd_api_parse_body(req, resp, &o) ||
	    !(creq = new_request(SEVD_OP_GUEST_SEND_START, resp)) ||
	    !handle_arg(req, resp, &creq->u.migrate.handle) || !target_certs(o, &creq->u.migrate, resp))
		return;
	rep = sevd_api_call_core(req, creq, resp);
	if (!rep)
		return;
	/* SEND_START ran: the guest is SUPDATE whatever comes next (a failure here leaves the
	 * caller to cancel, as for a lost answer). */
	rcv = receive_json(req, rep, resp);
	if (!rcv)
		return;
	ans = guest_json(&rep->u.migrate.info);
	json_object_object_add(ans, "command", json_object_new_string("SEND_START"));
	json_object_object_add(ans, "receive", rcv);
	sevd_api_respond_json(resp, 200, ans);
}

static void migrate_op(const struct sevd_api_request *req, struct sevd_api_response *resp,
		       uint32_t op)
{
	_cleanup_free_ struct sevd_request *creq = new_request(op, resp);
	_cleanup_free_ struct sevd_reply *rep = NULL;

	if (!creq || !handle_arg(req, resp, &creq->u.migrate.handle))
		return;
	rep = sevd_api_call_core(req, creq, resp);
	if (rep)
		migrate_answer(resp, 200, rep);
}

void sevd_api_guest_send_finish(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	migrate_op(req, resp, SEVD_OP_GUEST_SEND_FINISH);
}

void sevd_api_guest_send_cancel(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	migrate_op(req, resp, SEVD_OP_GUEST_SEND_CANCEL);
}

void sevd_api_guest_receive_finish(const struct sevd_api_request *req,
				   struct sevd_api_response *resp)
{
	migrate_op(req, resp, SEVD_OP_GUEST_RECEIVE_FINISH);
}

/* POST /v1/guests with "receive": the object the source's POST /v1/guests/{h}/send answered
 * (its PDH, the session blob, the policy and the memory size); name, tenant and asid as for a
 * launch. */
void sevd_api_guest_receive_create(const struct sevd_api_request *req, json_object *o,
				   struct sevd_api_response *resp)
{
	_cleanup_free_ struct sevd_request *creq = new_request(SEVD_OP_GUEST_RECEIVE_START, resp);
	_cleanup_free_ struct sevd_reply *rep = NULL;
	typeof(creq->u.migrate) *m;
	uint64_t policy = 0, mem = 0, asid = 0, vcpus = 0;
	json_object *rcv = NULL;
	bool have_policy, have;
	uint32_t n;

	if (!creq)
		return;
	m = &creq->u.migrate;
	if (req->role != SEVD_ROLE_ADMIN && req->role != SEVD_ROLE_MIGRATOR) {
		sevd_api_error(resp, 403, "forbidden",
			       "receiving a migrated guest (\"receive\") is for the migrator and "
			       "admin roles",
			       -1);
		return;
	}
	if (!opt_field(o, "receive", json_type_object, &rcv, resp) ||
	    !opt_uint(rcv, "policy", UINT32_MAX, &policy, &have_policy, resp) ||
	    !opt_uint(rcv, "memory_size", UINT64_MAX / 2, &mem, &have, resp) ||
	    !opt_uint(rcv, "vcpus", SEVD_VCPUS_MAX, &vcpus, &have, resp) ||
	    !opt_uint(o, "asid", UINT32_MAX, &asid, &have, resp) ||
	    !opt_name(o, "name", m->name, sizeof(m->name), resp) ||
	    !opt_name(o, "tenant", m->tenant, sizeof(m->tenant), resp) ||
	    !req_b64(rcv, "pdh", m->pdh, SEV_CERT_SIZE, &n, true, resp) ||
	    !req_b64(rcv, "session", m->session, sizeof(m->session), &n, true, resp))
		return;
	if (!have_policy) {
		sevd_api_error(resp, 400, "bad_request",
			       "field 'receive.policy' (the policy the source's send answered) is "
			       "required",
			       -1);
		return;
	}
	m->policy = (uint32_t)policy;
	m->memory_size = mem;
	m->vcpus = (uint32_t)vcpus;
	m->asid = (uint32_t)asid;
	rep = sevd_api_call_core(req, creq, resp);
	if (rep)
		migrate_answer(resp, 201, rep);
}

/* GET /v1/guests/{h}/send/stream: records made as the client reads them. */
struct send_stream {
	struct sevd_core *core;
	struct sevd_request *creq;
	struct sevd_reply *rep;
	uint64_t next, size; /* guest memory offsets */
	bool vmsas;	     /* an SEV-ES guest whose range reaches the end: its VMSAs follow */
	uint32_t vcpu;	     /* the next VMSA to send */
	uint32_t bi, bn;     /* the next packet of the batch in rep (GUEST_SEND_BATCH), its count */
	bool failed;	     /* the batch in rep ended in the core's error (after its packets) */
	uint8_t rec[MIG_REC_MAX];
	size_t rec_len, rec_pos;
};

static void send_stream_free(void *state)
{
	struct send_stream *s = state;

	if (!s)
		return;
	if (s->creq)
		secret_wipe(&s->creq->caller, sizeof(s->creq->caller));
	free(s->creq);
	free(s->rep);
	free(s);
}

/* The record of a packet: offset, length word (| flag), header, bytes. */
static void send_stream_record(struct send_stream *s, uint64_t offset, uint32_t len,
			       const uint8_t *hdr, const uint8_t *data, uint32_t flag)
{
	le_put(s->rec, offset, 8);
	le_put(s->rec + 8, len | flag, 4);
	memcpy(s->rec + 12, hdr, sizeof(s->rep->u.migrate.hdr));
	memcpy(s->rec + MIG_REC_HDR, data, len);
	s->rec_len = MIG_REC_HDR + len;
	s->rec_pos = 0;
}

/* The next VMSA's record; 1 when there is none left. */
static int send_stream_vmsa(struct send_stream *s)
{
	s->creq->op = SEVD_OP_GUEST_SEND_VMSA;
	s->creq->u.migrate.vcpu = s->vcpu;
	if (sevd_api_core_fn(s->core, s->creq, s->rep) < 0) {
		log_warning("Guest %u: the send stream stopped at VMSA %u: %s",
			    s->creq->u.migrate.handle, s->vcpu, s->rep->message);
		return -EIO;
	}
	if (!s->rep->u.migrate.len) {
		s->vmsas = false;
		return 1;
	}
	s->vcpu++;
	send_stream_record(s, s->rep->u.migrate.offset, s->rep->u.migrate.len,
			   s->rep->u.migrate.hdr, s->rep->u.migrate.data, MIG_REC_VMSA);
	return 0;
}

/* The next batch of memory packets into s->rep: one core op for up to SEVD_MIG_BATCH pages
 * (a VMSA page skipped: the core sends none for it). An error after some packets keeps them:
 * they go out first, and the stream stops where the core stopped. */
static int send_stream_batch(struct send_stream *s)
{
	typeof(s->rep->u.migrate_batch) *b = &s->rep->u.migrate_batch;
	uint64_t left = s->size - s->next, max = (uint64_t)SEVD_MIG_BATCH * SEVD_PACKET_MAX;
	uint64_t at = s->next;

	s->creq->op = SEVD_OP_GUEST_SEND_BATCH;
	s->creq->u.migrate_batch.offset = s->next;
	s->creq->u.migrate_batch.len = (uint32_t)MIN(left, max);
	b->n = 0;
	b->next = s->next;
	s->failed = sevd_api_core_fn(s->core, s->creq, s->rep) < 0;
	s->bi = 0;
	s->bn = MIN(b->n, SEVD_MIG_BATCH);
	if (s->failed) {
		log_warning("Guest %u: the send stream stopped at offset %llu: %s",
			    s->creq->u.migrate_batch.handle, (unsigned long long)b->next,
			    s->rep->message);
		return s->bn ? 0 : -EIO;
	}
	s->next = at + s->creq->u.migrate_batch.len;
	return 0;
}

/* The next record: a memory packet, then the VMSAs; 1 at the end. */
static int send_stream_next(struct send_stream *s)
{
	const struct sevd_mig_packet *p;

	for (unsigned skipped = 0; s->bi == s->bn; skipped += SEVD_MIG_BATCH) {
		if (s->failed)
			return -EIO;
		if (s->next >= s->size)
			return s->vmsas ? send_stream_vmsa(s) : 1;
		if (skipped > SEVD_VCPUS_MAX) {
			log_warning("Guest %u: the send stream stopped at offset %llu: too many "
				    "pages skipped",
				    s->creq->u.migrate_batch.handle, (unsigned long long)s->next);
			return -EIO;
		}
		if (send_stream_batch(s) < 0)
			return -EIO;
	}
	p = &s->rep->u.migrate_batch.p[s->bi++];
	send_stream_record(s, p->offset, p->len, p->hdr, p->data, 0);
	return 0;
}

static ssize_t send_stream_read(void *state, uint64_t pos, char *buf, size_t max)
{
	struct send_stream *s = state;
	size_t n = 0;

	(void)pos;
	while (n < max) {
		size_t k;

		if (s->rec_pos == s->rec_len) {
			int r = send_stream_next(s);

			if (r > 0)
				break;
			if (r < 0)
				return n ? (ssize_t)n : SEVD_API_READ_ERROR;
		}
		k = MIN(max - n, s->rec_len - s->rec_pos);
		memcpy(buf + n, s->rec + s->rec_pos, k);
		s->rec_pos += k;
		n += k;
	}
	return n ? (ssize_t)n : SEVD_API_READ_END;
}

/* ?offset=N&length=M: a part of the memory (page-aligned offset), so that a client can move
 * a guest in bounded pieces; default all of it. */
static bool stream_range(const struct sevd_api_request *req, struct send_stream *s,
			 struct sevd_api_response *resp)
{
	const char *o = req->arg ? req->arg(req, "offset") : NULL;
	const char *l = req->arg ? req->arg(req, "length") : NULL;
	uint64_t off = 0, len = s->size;

	if ((o && (parse_u64(o, &off) < 0 || off % SEVD_PACKET_MAX || off > s->size)) ||
	    (l && parse_u64(l, &len) < 0)) {
		sevd_api_error(resp, 400, "bad_request",
			       "query arguments 'offset' (a multiple of 4096 inside the guest's "
			       "memory) and 'length' must be numbers",
			       -1);
		return false;
	}
	s->next = off;
	if (len < s->size - off) {
		s->size = off + len;
		s->vmsas = false; /* they come with the piece that reaches the end */
	}
	return true;
}

void sevd_api_guest_send_stream(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	struct send_stream *s = calloc(1, sizeof(*s));
	struct sevd_request info = {.op = SEVD_OP_GUEST_INFO};
	_cleanup_free_ struct sevd_reply *rep = NULL;

	if (!s || !(s->creq = new_request(SEVD_OP_GUEST_SEND_DATA, resp)) ||
	    !(s->rep = malloc(sizeof(*s->rep))) || !handle_arg(req, resp, &info.u.guest.handle)) {
		if (!resp->status)
			sevd_api_error(resp, 503, "internal", "out of memory", -1);
		send_stream_free(s);
		return;
	}
	rep = sevd_api_call_core(req, &info, resp);
	if (!rep) {
		send_stream_free(s);
		return;
	}
	if (rep->u.guest.info.state != SEV_GSTATE_SUPDATE) {
		sevd_api_error(resp, 409, "wrong_state",
			       "the guest is not being sent: POST /v1/guests/{h}/send first", -1);
		send_stream_free(s);
		return;
	}
	s->core = req->core;
	if (req->caller) /* the stream's reads are this caller's (core/authz.c) */
		s->creq->caller = *req->caller;
	sevd_api_name_guest(req, &s->creq->caller);
	s->creq->u.migrate.handle = info.u.guest.handle;
	s->size = rep->u.guest.info.memory_size;
	s->vmsas = rep->u.guest.info.es;
	if (!stream_range(req, s, resp)) {
		send_stream_free(s);
		return;
	}
	resp->status = 200;
	resp->content_type = "application/octet-stream";
	resp->reader = send_stream_read;
	resp->reader_free = send_stream_free;
	resp->reader_state = s;
}

/* POST /v1/guests/{h}/receive: each record as it completes into RECEIVE_UPDATE_DATA. */
struct receive_stream {
	struct sevd_api_request req;
	struct sevd_request *creq;
	struct sevd_reply *rep;
	bool failed;
	char why[200];	  /* a framing error */
	uint64_t packets, bytes, vmsas;
	/* Memory packets gathered in creq's GUEST_RECEIVE_BATCH, not yet sent to the core: sent
	 * when SEVD_MIG_BATCH are there, before a VMSA or a framing error, and at the end. */
	uint32_t pend;
	bool last_batch; /* rep holds a GUEST_RECEIVE_BATCH answer (else a single op's) */
	uint8_t rec[MIG_REC_MAX];
	size_t have, need;
};

static void receive_free(struct receive_stream *r)
{
	if (r->creq)
		secret_wipe(&r->creq->caller, sizeof(r->creq->caller));
	free(r->creq);
	free(r->rep);
	free(r);
}

static int receive_open(const struct sevd_api_request *req, void **state,
			struct sevd_api_response *resp)
{
	struct receive_stream *r = calloc(1, sizeof(*r));

	if (!r || !(r->creq = new_request(SEVD_OP_GUEST_RECEIVE_DATA, resp)) ||
	    !(r->rep = malloc(sizeof(*r->rep)))) {
		if (r)
			receive_free(r);
		if (!resp->status)
			sevd_api_error(resp, 503, "internal", "out of memory", -1);
		return -ENOMEM;
	}
	if (!handle_arg(req, resp, &r->creq->u.migrate.handle)) {
		receive_free(r);
		return -EINVAL;
	}
	r->req = *req;
	if (req->caller) /* every packet of the stream is this caller's (core/authz.c) */
		r->creq->caller = *req->caller;
	sevd_api_name_guest(req, &r->creq->caller);
	r->need = MIG_REC_HDR;
	*state = r;
	return 0;
}

/* The gathered packets into the guest: one core op, their RECEIVE_UPDATE_DATA back to back.
 * The core stops at the first that fails; those before it count as received. */
static int receive_flush(struct receive_stream *r)
{
	typeof(r->creq->u.migrate_batch) *m = &r->creq->u.migrate_batch;
	typeof(r->rep->u.migrate_batch) *b = &r->rep->u.migrate_batch;
	uint32_t done;
	int rc;

	if (!r->pend)
		return 0;
	r->creq->op = SEVD_OP_GUEST_RECEIVE_BATCH;
	m->n = r->pend;
	b->done = 0;
	rc = sevd_api_core_fn(r->req.core, r->creq, r->rep);
	r->last_batch = true;
	done = MIN(b->done, r->pend);
	for (uint32_t i = 0; i < done; i++) {
		r->packets++;
		r->bytes += m->p[i].len;
	}
	r->pend = 0;
	return rc < 0 ? -EIO : 0;
}

/* One whole record in r->rec: a memory packet joins the batch; a VMSA goes on its own, after
 * the memory packets before it. */
static int receive_record(struct receive_stream *r)
{
	uint32_t word = (uint32_t)le_get(r->rec + 8, 4);
	typeof(r->creq->u.migrate) *m = &r->creq->u.migrate;
	struct sevd_mig_packet *p;

	if (!(word & MIG_REC_VMSA)) {
		p = &r->creq->u.migrate_batch.p[r->pend++];
		p->offset = le_get(r->rec, 8);
		p->len = word;
		memcpy(p->hdr, r->rec + 12, sizeof(p->hdr));
		memcpy(p->data, r->rec + MIG_REC_HDR, p->len);
		return r->pend == SEVD_MIG_BATCH ? receive_flush(r) : 0;
	}
	if (receive_flush(r) < 0)
		return -EIO;
	m->offset = le_get(r->rec, 8);
	m->len = word & ~MIG_REC_VMSA;
	memcpy(m->hdr, r->rec + 12, sizeof(m->hdr));
	memcpy(m->data, r->rec + MIG_REC_HDR, m->len);
	r->creq->op = SEVD_OP_GUEST_RECEIVE_VMSA;
	r->last_batch = false;
	if (sevd_api_core_fn(r->req.core, r->creq, r->rep) < 0)
		return -EIO;
	r->packets++;
	r->bytes += m->len;
	r->vmsas++;
	return 0;
}

static int receive_feed(struct receive_stream *r, const char *buf, size_t len)
{
	while (len && !r->failed) {
		size_t k = MIN(len, r->need - r->have);

		memcpy(r->rec + r->have, buf, k);
		r->have += k;
		buf += k;
		len -= k;
		if (r->have < r->need)
			break;
		if (r->need == MIG_REC_HDR) {
			uint32_t n = (uint32_t)le_get(r->rec + 8, 4) & ~MIG_REC_VMSA;

			if (n == 0 || n > SEVD_PACKET_MAX) {
				if (receive_flush(r) < 0) { /* the records before it come first */
					r->failed = true;
					break;
				}
				snprintf(r->why, sizeof(r->why),
					 "record %llu: a packet length of %u bytes (1 to %u)",
					 (unsigned long long)r->packets + 1, n, SEVD_PACKET_MAX);
				r->failed = true;
				break;
			}
			r->need = MIG_REC_HDR + n;
			continue;
		}
		if (receive_record(r) < 0)
			r->failed = true;
		r->have = 0;
		r->need = MIG_REC_HDR;
	}
	return r->failed ? -EIO : 0;
}

static int receive_data(void *state, const char *buf, size_t len)
{
	return receive_feed(state, buf, len);
}

static void receive_close(void *state, bool complete, struct sevd_api_response *resp)
{
	struct receive_stream *r = state;
	_cleanup_(json_object_putp) json_object *o = NULL;

	if (!r->failed && receive_flush(r) < 0)
		r->failed = true;
	if (!complete || !resp) {
		receive_free(r);
		return;
	}
	if (!r->failed && r->have)
		snprintf(r->why, sizeof(r->why), "the stream ends inside record %llu",
			 (unsigned long long)r->packets + 1);
	if (r->why[0])
		sevd_api_error(resp, 400, "bad_request", r->why, -1);
	else if (r->failed)
		sevd_api_core_error(resp, r->rep);
	else if (!r->packets)
		sevd_api_error(resp, 400, "bad_request",
			       "the stream holds no packet: send the body of GET "
			       "/v1/guests/{h}/send/stream from the source",
			       -1);
	else {
		o = guest_json(r->last_batch ? &r->rep->u.migrate_batch.info
					     : &r->rep->u.migrate.info);
		json_object_object_add(o, "packets", json_object_new_int64((int64_t)r->packets));
		json_object_object_add(o, "received", json_object_new_int64((int64_t)r->bytes));
		json_object_object_add(o, "vmsas", json_object_new_int64((int64_t)r->vmsas));
		sevd_api_respond_json(resp, 200, o);
	}
	receive_free(r);
}

const struct sevd_api_stream sevd_api_guest_receive_stream = {
    .open = receive_open,
    .data = receive_data,
    .close = receive_close,
};
