/* GET/PUT/DELETE /v1/snp/certs: the host's SEV-SNP certificate table, owned and
 * checked by the core (daemon/core/snp-certs.c); this side only turns JSON into the GHCB
 * table and back. Unprivileged side of the seam: the body is the client's, untrusted; what
 * it builds the core parses and verifies again.
 *
 * PUT body, JSON (the default): {"ark", "ask", "vcek" | "vlek", "asvk", "crl": a PEM block or
 * base64 DER, "extra": {"<GUID>": base64}}; "asvk" (a VLEK's signer) takes the ASK's entry.
 * PUT ?format=table: the body is the GHCB table itself. GET ?format=table answers the table's
 * bytes (application/octet-stream), else JSON {"source", "size", "entries": [...]}, with
 * "pending": {"state": "fetching" | "waiting", "from", "attempts", "retry_in_s", "last_error"}
 * while none is held and the core's background fetch is still trying. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attest/snp-cert-table.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"
#include "daemon/worker/api-internal.h"

static const char *source_name(uint32_t s)
{
	return s == SEVD_SNP_CERTS_KDS ? "kds" : s == SEVD_SNP_CERTS_UPLOAD ? "upload" : "none";
}

static const char *entry_name(enum snp_cert_kind k, bool vlek_table)
{
	switch (k) {
	case SNP_CERT_ARK: return "ark";
	case SNP_CERT_ASK: return vlek_table ? "asvk" : "ask";
	case SNP_CERT_VCEK: return "vcek";
	case SNP_CERT_VLEK: return "vlek";
	case SNP_CERT_CRL: return "crl";
	default: return "extra";
	}
}

/* PEM of DER bytes: base64 in lines of 64 between the label's lines. */
static char *pem_of(const uint8_t *der, size_t len, const char *label)
{
	_cleanup_free_ char *b = base64_encode(der, len);
	size_t n, cap;
	char *out, *p;

	if (!b)
		return NULL;
	n = strlen(b);
	cap = n + n / 64 + 2 * strlen(label) + 64;
	out = malloc(cap);
	if (!out)
		return NULL;
	p = out + sprintf(out, "-----BEGIN %s-----\n", label);
	for (size_t i = 0; i < n; i += 64) {
		size_t k = MIN((size_t)64, n - i);

		memcpy(p, b + i, k);
		p += k;
		*p++ = '\n';
	}
	sprintf(p, "-----END %s-----\n", label);
	return out;
}

static json_object *table_json(const struct sevd_reply *rep)
{
	struct snp_cert_entry e[SNP_CERT_TABLE_ENTRIES_MAX];
	const uint8_t *t = rep->u.snp_certs.table;
	size_t n = attest_snp_cert_table_entries(t, rep->u.snp_certs.len, e, ELEMENTSOF(e));
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	bool vlek = false;

	for (size_t i = 0; i < n; i++)
		vlek |= attest_snp_cert_guid_kind(e[i].guid) == SNP_CERT_VLEK;
	for (size_t i = 0; i < n; i++) {
		enum snp_cert_kind k = attest_snp_cert_guid_kind(e[i].guid);
		json_object *x = json_object_new_object();
		char g[37], *s;

		attest_snp_guid_format(e[i].guid, g);
		json_object_object_add(x, "name", json_object_new_string(entry_name(k, vlek)));
		json_object_object_add(x, "guid", json_object_new_string(g));
		json_object_object_add(x, "length", json_object_new_int64(e[i].len));
		s = base64_encode(e[i].data, e[i].len);
		json_object_object_add(x, "der", s ? json_object_new_string(s) : NULL);
		free(s);
		if (k != SNP_CERT_KINDS) {
			s = pem_of(e[i].data, e[i].len, k == SNP_CERT_CRL ? "X509 CRL" : "CERTIFICATE");
			json_object_object_add(x, "pem", s ? json_object_new_string(s) : NULL);
			free(s);
		}
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "source", json_object_new_string(source_name(rep->u.snp_certs.source)));
	json_object_object_add(o, "size", json_object_new_int64(rep->u.snp_certs.len));
	json_object_object_add(o, "entries", a);
	if (rep->u.snp_certs.pending) {
		json_object *p = json_object_new_object();

		json_object_object_add(p, "state", json_object_new_string(
			rep->u.snp_certs.fetching ? "fetching" : "waiting"));
		json_object_object_add(p, "from", json_object_new_string(rep->u.snp_certs.from));
		json_object_object_add(p, "attempts",
				       json_object_new_int64(rep->u.snp_certs.attempts));
		json_object_object_add(p, "retry_in_s", json_object_new_int64(
			rep->u.snp_certs.fetching ? 0 : (rep->u.snp_certs.retry_in_ms + 999) / 1000));
		if (rep->u.snp_certs.last_error[0])
			json_object_object_add(p, "last_error",
					       json_object_new_string(rep->u.snp_certs.last_error));
		json_object_object_add(o, "pending", p);
	}
	return o;
}

static bool want_table(const struct sevd_api_request *req, struct sevd_api_response *resp,
		       bool *ret)
{
	const char *f = req->arg ? req->arg(req, "format") : NULL;

	*ret = f && strcmp(f, "table") == 0;
	if (f && !*ret && strcmp(f, "json") != 0) {
		sevd_api_error(resp, 400, "bad_request", "format: 'json' (the default) or 'table' "
			       "(the GHCB certificate table's bytes)", -1);
		return false;
	}
	return true;
}

/* The core call: a malformed table is 400, a chain that does not hold for this chip 422 with
 * the core's reason; the rest as every route answers core failures. */
static struct sevd_reply *call(const struct sevd_api_request *req, struct sevd_request *creq,
			       struct sevd_api_response *resp)
{
	struct sevd_reply *rep = malloc(sizeof(*rep));
	int r;

	if (!rep) {
		sevd_api_error(resp, 503, "internal", "out of memory", -1);
		return NULL;
	}
	if (req->caller)
		creq->caller = *req->caller; /* the core decides on this evidence (core/authz.c) */
	r = sevd_api_core_fn(req->core, creq, rep);
	secret_wipe(&creq->caller, sizeof(creq->caller));
	if (r >= 0)
		return rep;
	if (r == -EBADMSG)
		sevd_api_error(resp, 400, "bad_request", rep->message, -1);
	else if (r == -EKEYREJECTED)
		sevd_api_error(resp, 422, "certs_refused", rep->message, -1);
	else
		sevd_api_core_error(resp, rep);
	free(rep);
	return NULL;
}

static void answer(const struct sevd_api_request *req, struct sevd_api_response *resp,
		   struct sevd_request *creq)
{
	_cleanup_free_ struct sevd_reply *rep = NULL;
	bool table;

	if (!want_table(req, resp, &table))
		return;
	rep = call(req, creq, resp);
	if (!rep)
		return;
	if (table && creq->op == SEVD_OP_SNP_CERTS_GET) {
		if (!rep->u.snp_certs.len && rep->u.snp_certs.pending) {
			char m[768];

			snprintf(m, sizeof m, "this host holds no SNP certificate table yet: it is "
				 "being fetched from %s (%s%s%s); try again shortly, or PUT "
				 "/v1/snp/certs (sevadm snp certs import DIR)", rep->u.snp_certs.from,
				 rep->u.snp_certs.fetching ? "an attempt is running" :
				 "next attempt soon", rep->u.snp_certs.last_error[0] ?
				 "; last error: " : "", rep->u.snp_certs.last_error);
			sevd_api_error(resp, 404, "not_found", m, -1);
			return;
		}
		if (!rep->u.snp_certs.len) {
			sevd_api_error(resp, 404, "not_found", "this host holds no SNP certificate "
				       "table: PUT /v1/snp/certs (sevadm snp certs import DIR)", -1);
			return;
		}
		resp->status = 200;
		resp->content_type = "application/octet-stream";
		resp->body = malloc(rep->u.snp_certs.len + 1);
		if (!resp->body) {
			sevd_api_error(resp, 503, "internal", "out of memory", -1);
			return;
		}
		memcpy(resp->body, rep->u.snp_certs.table, rep->u.snp_certs.len);
		resp->len = rep->u.snp_certs.len;
		return;
	}
	sevd_api_respond_json(resp, 200, table_json(rep));
}

/* A PEM block (its first) or base64 DER → DER bytes. */
static int decode_cert(const char *s, uint8_t **ret, size_t *ret_len)
{
	const char *b = strstr(s, "-----BEGIN "), *e;

	if (!b)
		return base64_decode(s, strlen(s), ret, ret_len);
	b = strstr(b + 11, "-----");
	if (!b)
		return -EINVAL;
	b += 5;
	e = strstr(b, "-----END ");
	if (!e)
		return -EINVAL;
	return base64_decode(b, (size_t)(e - b), ret, ret_len);
}

struct put_build {
	struct snp_cert_entry e[SNP_CERT_TABLE_ENTRIES_MAX];
	uint8_t *bufs[SNP_CERT_TABLE_ENTRIES_MAX];
	size_t n;
};

static void put_build_done(struct put_build *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->bufs[i]);
}

static int add_entry(struct put_build *b, const uint8_t guid[16], const char *field,
		     json_object *v, char *why, size_t why_len)
{
	size_t len = 0;

	if (!json_object_is_type(v, json_type_string)) {
		snprintf(why, why_len, "%s: a string (a PEM block or base64 DER)", field);
		return -EINVAL;
	}
	if (b->n >= ELEMENTSOF(b->e)) {
		snprintf(why, why_len, "at most %u entries", SNP_CERT_TABLE_ENTRIES_MAX);
		return -E2BIG;
	}
	if (decode_cert(json_object_get_string(v), &b->bufs[b->n], &len) < 0 || len == 0 ||
	    len > SNP_CERT_TABLE_MAX) {
		snprintf(why, why_len, "%s: not a PEM block nor base64 DER of 1..%u bytes", field,
			 SNP_CERT_TABLE_MAX);
		return -EINVAL;
	}
	memcpy(b->e[b->n].guid, guid, 16);
	b->e[b->n].data = b->bufs[b->n];
	b->e[b->n].len = (uint32_t)len;
	b->n++;
	return 0;
}

static int build_from_json(json_object *o, struct put_build *b, char *why, size_t why_len)
{
	static const struct {
		const char *key;
		enum snp_cert_kind kind;
	} keys[] = { { "ark", SNP_CERT_ARK }, { "ask", SNP_CERT_ASK }, { "asvk", SNP_CERT_ASK },
		     { "vcek", SNP_CERT_VCEK }, { "vlek", SNP_CERT_VLEK }, { "crl", SNP_CERT_CRL } };
	json_object *extra = NULL;
	int r;

	if (json_object_object_get_ex(o, "ask", NULL) && json_object_object_get_ex(o, "asvk", NULL)) {
		snprintf(why, why_len, "asvk: give the ASK (for a VCEK) or the ASVK (for a VLEK), "
			 "not both: they share the table's ASK entry");
		return -EINVAL;
	}
	json_object_object_foreach(o, key, val) {
		size_t i = 0;

		while (i < ELEMENTSOF(keys) && strcmp(keys[i].key, key) != 0)
			i++;
		if (i < ELEMENTSOF(keys)) {
			r = add_entry(b, attest_snp_cert_kind_guid(keys[i].kind), key, val, why,
				      why_len);
			if (r < 0)
				return r;
		} else if (strcmp(key, "extra") == 0) {
			extra = val;
		} else {
			snprintf(why, why_len, "%s: unknown field (ark, ask, asvk, vcek, vlek, crl, "
				 "extra)", key);
			return -EINVAL;
		}
	}
	if (!extra)
		return 0;
	if (!json_object_is_type(extra, json_type_object)) {
		snprintf(why, why_len, "extra: an object of \"GUID\": base64");
		return -EINVAL;
	}
	json_object_object_foreach(extra, gkey, gval) {
		uint8_t g[16];
		char field[64];

		snprintf(field, sizeof field, "extra.%.40s", gkey);
		if (attest_snp_guid_parse(gkey, g) < 0) {
			snprintf(why, why_len, "%s: not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
				 field);
			return -EINVAL;
		}
		r = add_entry(b, g, field, gval, why, why_len);
		if (r < 0)
			return r;
	}
	return 0;
}

void sevd_api_snp_certs_put(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_free_ struct sevd_request *creq = calloc(1, sizeof(*creq));
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_free_ uint8_t *t = NULL;
	struct put_build b = { .n = 0 };
	struct attest_verdict v = {};
	char why[200];
	size_t len = 0;
	bool table;
	int r;

	if (!creq) {
		sevd_api_error(resp, 503, "internal", "out of memory", -1);
		return;
	}
	if (!want_table(req, resp, &table))
		return;
	creq->op = SEVD_OP_SNP_CERTS_PUT;
	if (table) {
		if (req->len == 0 || req->len > SEVD_SNP_CERTS_MAX) {
			snprintf(why, sizeof why, "the body must be a GHCB certificate table of "
				 "1..%u bytes (%zu given)", SEVD_SNP_CERTS_MAX, req->len);
			sevd_api_error(resp, 400, "bad_request", why, -1);
			return;
		}
		memcpy(creq->u.snp_certs.table, req->body, req->len);
		creq->u.snp_certs.len = (uint32_t)req->len;
		answer(req, resp, creq);
		return;
	}
	if (!sevd_api_parse_body(req, resp, &o))
		return;
	if (!o) {
		sevd_api_error(resp, 400, "bad_request", "the body must be a JSON object of "
			       "certificates ({\"ark\", \"ask\", \"vcek\", ...}) or, with "
			       "?format=table, a GHCB certificate table", -1);
		return;
	}
	r = build_from_json(o, &b, why, sizeof why);
	if (r >= 0)
		r = attest_snp_cert_table_build(b.e, b.n, &t, &len, &v);
	put_build_done(&b);
	if (r < 0) {
		sevd_api_error(resp, 400, "bad_request", attest_verdict_why(&v, why), -1);
		return;
	}
	memcpy(creq->u.snp_certs.table, t, len);
	creq->u.snp_certs.len = (uint32_t)len;
	answer(req, resp, creq);
}

void sevd_api_snp_certs_get(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	struct sevd_request creq = { .op = SEVD_OP_SNP_CERTS_GET };

	answer(req, resp, &creq);
}

void sevd_api_snp_certs_delete(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	struct sevd_request creq = { .op = SEVD_OP_SNP_CERTS_DELETE };

	answer(req, resp, &creq);
}
