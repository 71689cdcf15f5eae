/* SEV-SNP appraisal (snp-appraise.h): the reference file parser, the field comparisons and the
 * ARK CRL check. The reference is the owner's own file but is still parsed as untrusted text
 * (it is fuzzed: tests/fuzz/fuzz-snp-ref.c); the report was decoded by snp-report.c. Field
 * offsets and bit positions: SNP ABI 56860 (ATTESTATION_REPORT, SNP guest policy, PLATFORM_INFO);
 * the CRL is the one AMD's KDS serves at /vcek/v1/{product}/crl, signed by the ARK (VCEK spec
 * 57230, "Certificate Revocation List"). */
#include <errno.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/snp-appraise.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"

/* A refused reference: -EBADMSG with v->reason from the format. */
#define bad(v, ...) attest_verdict_fail(v, -EBADMSG, __VA_ARGS__)

/* ---- the reference file ---- */

struct ctx {
	struct snp_ref *ref;
	struct attest_verdict *verdict;
};

/* Hex of exactly n bytes, or with pad of 1..n bytes zero-padded on the right. */
static int get_hex(struct ctx *c, const char *key, json_object *v, uint8_t *out, size_t n,
		   bool pad)
{
	_cleanup_free_ uint8_t *b = NULL;
	size_t len = 0;

	if (!json_object_is_type(v, json_type_string))
		return bad(c->verdict, "%s: a hex string is expected", key);
	if (hex_decode(json_object_get_string(v), &b, &len) < 0)
		return bad(c->verdict, "%s: '%.80s' is not hex", key,
			   json_object_get_string(v));
	if (len != n && !(pad && len > 0 && len < n))
		return bad(c->verdict, "%s: %zu bytes given, %s%zu expected", key, len,
			   pad ? "at most " : "", n);
	memset(out, 0, n);
	memcpy(out, b, len);
	return 0;
}

/* A non-negative JSON integer, or a string in decimal or 0x hex; at most max. */
static int get_uint(struct ctx *c, const char *key, json_object *v, uint64_t max, uint64_t *ret)
{
	if (json_object_is_type(v, json_type_int)) {
		int64_t i = json_object_get_int64(v);

		if (i < 0 || (uint64_t)i > max)
			return bad(c->verdict, "%s: %lld is out of range (0..%llu)", key,
				   (long long)i, (unsigned long long)max);
		*ret = (uint64_t)i;
		return 0;
	}
	if (json_object_is_type(v, json_type_string) &&
	    parse_u64(json_object_get_string(v), ret) == 0 && *ret <= max)
		return 0;
	return bad(c->verdict, "%s: a number 0..%llu is expected (JSON integer or "
		   "\"0x...\" string)", key, (unsigned long long)max);
}

static int get_u8(struct ctx *c, const char *key, json_object *v, uint8_t *ret)
{
	uint64_t u;
	int r = get_uint(c, key, v, 0xff, &u);

	*ret = (uint8_t)u;
	return r;
}

static int get_object(struct ctx *c, const char *key, json_object *v)
{
	if (!json_object_is_type(v, json_type_object))
		return bad(c->verdict, "%s: an object is expected", key);
	return 0;
}

static int unknown(struct ctx *c, const char *where, const char *key, const char *known)
{
	return bad(c->verdict, "unknown key '%s%.60s' (known here: %s)", where, key, known);
}

/* "MAJOR.MINOR" or "MAJOR.MINOR.BUILD", each 0..255. */
static int get_version(struct ctx *c, const char *key, json_object *v, bool build, uint8_t *maj,
		       uint8_t *min, uint8_t *bld)
{
	unsigned a, b, d = 0;
	int n = 0, end = 0;
	const char *s = json_object_get_string(v);

	if (json_object_is_type(v, json_type_string))
		n = sscanf(s, "%3u.%3u%n.%3u%n", &a, &b, &end, &d, &end);
	if ((n != 2 && !(build && n == 3)) || s[end] || a > 255 || b > 255 || d > 255)
		return bad(c->verdict, "%s: \"MAJOR.MINOR%s\" expected (numbers 0..255)",
			   key, build ? "[.BUILD]" : "");
	*maj = (uint8_t)a;
	*min = (uint8_t)b;
	if (bld)
		*bld = (uint8_t)d;
	return 0;
}

static int parse_measurement(struct ctx *c, json_object *v)
{
	struct snp_ref *ref = c->ref;

	if (json_object_is_type(v, json_type_string)) {
		ref->n_measurements = 1;
		return get_hex(c, "measurement", v, ref->measurements[0], 48, false);
	}
	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0 ||
	    json_object_array_length(v) > SNP_REF_MEASUREMENTS_MAX)
		return bad(c->verdict, "measurement: a hex string or an array of 1..%u hex "
			   "strings is expected", SNP_REF_MEASUREMENTS_MAX);
	ref->n_measurements = json_object_array_length(v);
	for (size_t i = 0; i < ref->n_measurements; i++) {
		int r = get_hex(c, "measurement", json_object_array_get_idx(v, i),
				ref->measurements[i], 48, false);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_policy(struct ctx *c, json_object *v)
{
	struct snp_ref *ref = c->ref;
	int r = get_object(c, "policy", v);

	if (r < 0)
		return r; /* foreach walks an object only */
	json_object_object_foreach(v, key, val) {
		if (r < 0)
			break;
		if (strcmp(key, "must_set") == 0) {
			r = get_uint(c, "policy.must_set", val, UINT64_MAX >> 1, &ref->policy_set);
			ref->has_policy_set = true;
		} else if (strcmp(key, "must_clear") == 0) {
			r = get_uint(c, "policy.must_clear", val, UINT64_MAX >> 1, &ref->policy_clear);
			ref->has_policy_clear = true;
		} else if (strcmp(key, "min_abi") == 0) {
			r = get_version(c, "policy.min_abi", val, false, &ref->min_abi_major,
					&ref->min_abi_minor, NULL);
			ref->has_min_abi = true;
		} else
			r = unknown(c, "policy.", key, "must_set, must_clear, min_abi");
	}
	if (r == 0 && ref->policy_set & ref->policy_clear)
		r = bad(c->verdict, "policy: must_set and must_clear share bits 0x%llx",
			(unsigned long long)(ref->policy_set & ref->policy_clear));
	return r;
}

static const char *const tcb_kinds[SNP_TCB_KINDS] = { "reported", "committed", "current",
						      "launch" };

static int parse_tcb(struct ctx *c, const char *kind, json_object *v, struct snp_ref_tcb *t)
{
	static const char *const names[] = { "fmc", "bootloader", "tee", "snp", "microcode" };
	uint8_t *vals[] = { &t->fmc, &t->bl, &t->tee, &t->snp, &t->ucode };
	bool *has[] = { &t->has_fmc, &t->has_bl, &t->has_tee, &t->has_snp, &t->has_ucode };
	char where[48];
	int r;

	snprintf(where, sizeof where, "min_tcb.%s", kind);
	if ((r = get_object(c, where, v)) < 0)
		return r;
	json_object_object_foreach(v, key, val) {
		size_t i = 0;

		while (i < ELEMENTSOF(names) && strcmp(key, names[i]) != 0)
			i++;
		snprintf(where, sizeof where, "min_tcb.%s.", kind);
		if (i == ELEMENTSOF(names))
			return unknown(c, where, key, "fmc, bootloader, tee, snp, microcode");
		snprintf(where, sizeof where, "min_tcb.%s.%s", kind, key);
		if ((r = get_u8(c, where, val, vals[i])) < 0)
			return r;
		*has[i] = true;
	}
	return 0;
}

static int parse_min_tcb(struct ctx *c, json_object *v)
{
	int r = get_object(c, "min_tcb", v);

	if (r < 0)
		return r; /* foreach walks an object only */
	json_object_object_foreach(v, key, val) {
		size_t k = 0;

		if (r < 0)
			break;
		while (k < SNP_TCB_KINDS && strcmp(key, tcb_kinds[k]) != 0)
			k++;
		if (k == SNP_TCB_KINDS)
			return unknown(c, "min_tcb.", key, "reported, committed, current, launch");
		r = parse_tcb(c, key, val, &c->ref->min_tcb[k]);
	}
	return r;
}

/* PLATFORM_INFO bits (SNP ABI 56860, ATTESTATION_REPORT offset 0x40); the names are those of
 * the report's JSON rendering. */
static const struct {
	unsigned bit;
	const char *name;
} plat_bits[] = {
	{ 0, "smt_enabled" },	{ 1, "tsme_enabled" },		    { 2, "ecc_enabled" },
	{ 3, "rapl_disabled" }, { 4, "ciphertext_hiding_enabled" }, { 5, "alias_check_complete" },
	{ 7, "tio_enabled" },
};

static int parse_platform(struct ctx *c, json_object *v)
{
	int r = get_object(c, "platform_info", v);

	if (r < 0)
		return r; /* foreach walks an object only */
	json_object_object_foreach(v, key, val) {
		size_t i = 0;

		if (r < 0)
			break;
		while (i < ELEMENTSOF(plat_bits) && strcmp(key, plat_bits[i].name) != 0)
			i++;
		if (i == ELEMENTSOF(plat_bits))
			return unknown(c, "platform_info.", key, "smt_enabled, tsme_enabled, "
				       "ecc_enabled, rapl_disabled, ciphertext_hiding_enabled, "
				       "alias_check_complete, tio_enabled");
		if (!json_object_is_type(val, json_type_boolean))
			return bad(c->verdict, "platform_info.%s: true or false expected",
				   key);
		c->ref->plat_mask |= 1ull << plat_bits[i].bit;
		if (json_object_get_boolean(val))
			c->ref->plat_value |= 1ull << plat_bits[i].bit;
	}
	return r;
}

static int parse_signing_key(struct ctx *c, json_object *v)
{
	const char *s = json_object_get_string(v);

	c->ref->has_signing_key = true;
	if (json_object_is_type(v, json_type_string) && strcasecmp(s, "vcek") == 0)
		c->ref->signing_key = SNP_KEY_VCEK;
	else if (json_object_is_type(v, json_type_string) && strcasecmp(s, "vlek") == 0)
		c->ref->signing_key = SNP_KEY_VLEK;
	else
		return bad(c->verdict, "signing_key: \"vcek\" or \"vlek\" expected");
	return 0;
}

static int parse_scalar(struct ctx *c, const char *key, json_object *v)
{
	struct snp_ref *ref = c->ref;
	uint64_t u = 0;
	int r;

	if (strcmp(key, "vmpl") == 0) {
		r = get_uint(c, key, v, 3, &u);
		ref->vmpl = (uint32_t)u;
		ref->has_vmpl = true;
	} else if (strcmp(key, "min_guest_svn") == 0) {
		r = get_uint(c, key, v, UINT32_MAX, &u);
		ref->min_guest_svn = (uint32_t)u;
		ref->has_min_svn = true;
	} else if (strcmp(key, "min_firmware") == 0) {
		r = get_version(c, key, v, true, &ref->min_fw_major, &ref->min_fw_minor,
				&ref->min_fw_build);
		ref->has_min_firmware = true;
	} else
		r = 1;
	return r;
}

/* The hex fields: key, size, pad allowed, where, its has_ flag. */
static int parse_hex_field(struct ctx *c, const char *key, json_object *v)
{
	struct snp_ref *ref = c->ref;
	const struct {
		const char *key;
		uint8_t *out;
		size_t n;
		bool pad;
		bool *has;
	} t[] = {
		{ "report_data", ref->report_data, 64, true, &ref->has_report_data },
		{ "host_data", ref->host_data, 32, false, &ref->has_host_data },
		{ "id_key_digest", ref->id_key_digest, 48, false, &ref->has_id_key },
		{ "author_key_digest", ref->author_key_digest, 48, false, &ref->has_author_key },
		{ "family_id", ref->family_id, 16, false, &ref->has_family_id },
		{ "image_id", ref->image_id, 16, false, &ref->has_image_id },
		{ "chip_id", ref->chip_id, 64, false, &ref->has_chip_id },
	};

	for (size_t i = 0; i < ELEMENTSOF(t); i++)
		if (strcmp(key, t[i].key) == 0) {
			*t[i].has = true;
			return get_hex(c, key, v, t[i].out, t[i].n, t[i].pad);
		}
	return 1;
}

static int parse_key(struct ctx *c, const char *key, json_object *v)
{
	int r;

	if (strcmp(key, "$schema") == 0 || strcmp(key, "comment") == 0)
		return 0; /* annotations for people and editors */
	if (strcmp(key, "measurement") == 0)
		return parse_measurement(c, v);
	if (strcmp(key, "policy") == 0)
		return parse_policy(c, v);
	if (strcmp(key, "min_tcb") == 0)
		return parse_min_tcb(c, v);
	if (strcmp(key, "platform_info") == 0)
		return parse_platform(c, v);
	if (strcmp(key, "signing_key") == 0)
		return parse_signing_key(c, v);
	if ((r = parse_hex_field(c, key, v)) <= 0)
		return r;
	if ((r = parse_scalar(c, key, v)) <= 0)
		return r;
	return unknown(c, "", key, "measurement, report_data, host_data, policy, min_firmware, "
		       "vmpl, signing_key, id_key_digest, author_key_digest, family_id, image_id, "
		       "min_guest_svn, min_tcb, chip_id, platform_info");
}

int attest_snp_ref_parse(const char *text, size_t len, struct snp_ref *ret,
			 struct attest_verdict *v)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	json_tokener *tok;
	struct ctx c = { .ref = ret, .verdict = v };
	enum json_tokener_error err;
	int r = 0;

	memset(ret, 0, sizeof *ret);
	if (len > SNP_REF_TEXT_MAX || len > INT32_MAX)
		return bad(v, "the reference is larger than %u bytes", SNP_REF_TEXT_MAX);
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	err = json_tokener_get_error(tok);
	if (root && err == json_tokener_success && json_tokener_get_parse_end(tok) < len) {
		/* trailing bytes after the object: only whitespace */
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
			if (!strchr(" \t\r\n", text[i]))
				err = json_tokener_error_parse_unexpected;
	}
	json_tokener_free(tok);
	if (!root || err != json_tokener_success)
		return bad(v, "not JSON: %s", json_tokener_error_desc(
				   err == json_tokener_success ? json_tokener_continue : err));
	if (!json_object_is_type(root, json_type_object))
		return bad(v, "the reference must be a JSON object");
	json_object_object_foreach(root, key, val) {
		if ((r = parse_key(&c, key, val)) < 0)
			break;
	}
	return r < 0 ? r : 0;
}

/* ---- the comparisons ---- */

static struct snp_check *add(struct snp_appraisal *a, const char *name, bool pass)
{
	struct snp_check *c;

	if (a->n >= ELEMENTSOF(a->checks))
		return &a->checks[ELEMENTSOF(a->checks) - 1]; /* cannot happen: < 40 checks */
	c = &a->checks[a->n++];
	memset(c, 0, sizeof *c);
	snprintf(c->name, sizeof c->name, "%s", name);
	c->pass = pass;
	return c;
}

static void put_hex(char *out, size_t out_len, const uint8_t *b, size_t n)
{
	_cleanup_free_ char *h = hex_encode(b, n);

	snprintf(out, out_len, "%s", h ? h : "?");
}

static void check_bytes(struct snp_appraisal *a, const char *name, bool given,
			const uint8_t *want, const uint8_t *got, size_t n)
{
	struct snp_check *c;

	if (!given)
		return;
	c = add(a, name, CRYPTO_memcmp(want, got, n) == 0);
	put_hex(c->expected, sizeof c->expected, want, n);
	put_hex(c->found, sizeof c->found, got, n);
}

static void check_measurement(struct snp_appraisal *a, const struct snp_ref *ref,
			      const struct snp_report *r)
{
	struct snp_check *c;
	bool any = false;
	size_t used = 0;

	if (!ref->n_measurements)
		return;
	for (size_t i = 0; i < ref->n_measurements; i++)
		any |= CRYPTO_memcmp(ref->measurements[i], r->measurement, 48) == 0;
	c = add(a, "measurement", any);
	if (ref->n_measurements > 1)
		used = (size_t)snprintf(c->expected, sizeof c->expected, "one of ");
	for (size_t i = 0; i < ref->n_measurements && used < sizeof c->expected; i++) {
		_cleanup_free_ char *h = hex_encode(ref->measurements[i], 48);

		used += (size_t)snprintf(c->expected + used, sizeof c->expected - used, "%s%s",
					 i ? ", " : "", h ? h : "?");
	}
	put_hex(c->found, sizeof c->found, r->measurement, 48);
}

static void check_policy(struct snp_appraisal *a, const struct snp_ref *ref,
			 const struct snp_report *r)
{
	struct snp_check *c;
	unsigned have_major = (r->policy >> 8) & 0xff, have_minor = r->policy & 0xff;

	if (ref->has_policy_set) {
		c = add(a, "policy.must_set", (r->policy & ref->policy_set) == ref->policy_set);
		snprintf(c->expected, sizeof c->expected, "bits 0x%llx set",
			 (unsigned long long)ref->policy_set);
		snprintf(c->found, sizeof c->found, "0x%llx (unset: 0x%llx)",
			 (unsigned long long)r->policy,
			 (unsigned long long)(ref->policy_set & ~r->policy));
	}
	if (ref->has_policy_clear) {
		c = add(a, "policy.must_clear", (r->policy & ref->policy_clear) == 0);
		snprintf(c->expected, sizeof c->expected, "bits 0x%llx clear",
			 (unsigned long long)ref->policy_clear);
		snprintf(c->found, sizeof c->found, "0x%llx (set: 0x%llx)",
			 (unsigned long long)r->policy,
			 (unsigned long long)(ref->policy_clear & r->policy));
	}
	if (ref->has_min_abi) {
		c = add(a, "policy.min_abi", have_major * 256 + have_minor >=
						     ref->min_abi_major * 256u + ref->min_abi_minor);
		snprintf(c->expected, sizeof c->expected, ">= %u.%u", ref->min_abi_major,
			 ref->min_abi_minor);
		snprintf(c->found, sizeof c->found, "%u.%u", have_major, have_minor);
	}
}

static void check_firmware(struct snp_appraisal *a, const struct snp_ref *ref,
			   const struct snp_report *r)
{
	uint32_t want = (uint32_t)ref->min_fw_major << 16 | ref->min_fw_minor << 8 |
			ref->min_fw_build;
	uint32_t have = (uint32_t)r->current_major << 16 | r->current_minor << 8 |
			r->current_build;
	struct snp_check *c;

	if (!ref->has_min_firmware)
		return;
	c = add(a, "min_firmware", have >= want);
	snprintf(c->expected, sizeof c->expected, ">= %u.%u.%u", ref->min_fw_major,
		 ref->min_fw_minor, ref->min_fw_build);
	snprintf(c->found, sizeof c->found, "%u.%u.%u", r->current_major, r->current_minor,
		 r->current_build);
}

static void check_u32(struct snp_appraisal *a, const char *name, bool given, bool at_least,
		      uint32_t want, uint32_t got)
{
	struct snp_check *c;

	if (!given)
		return;
	c = add(a, name, at_least ? got >= want : got == want);
	snprintf(c->expected, sizeof c->expected, "%s%u", at_least ? ">= " : "", want);
	snprintf(c->found, sizeof c->found, "%u", got);
}

static const char *key_name(enum snp_signing_key k)
{
	return k == SNP_KEY_VCEK ? "vcek" : k == SNP_KEY_VLEK ? "vlek" : k == SNP_KEY_NONE ?
								    "none" : "reserved";
}

static void check_signing_key(struct snp_appraisal *a, const struct snp_ref *ref,
			      const struct snp_report *r)
{
	enum snp_signing_key k = attest_snp_report_signing_key(r);
	struct snp_check *c;

	if (!ref->has_signing_key)
		return;
	c = add(a, "signing_key", k == ref->signing_key);
	snprintf(c->expected, sizeof c->expected, "%s", key_name(ref->signing_key));
	snprintf(c->found, sizeof c->found, "%s", key_name(k));
}

static void check_tcb(struct snp_appraisal *a, const char *kind, const struct snp_ref_tcb *m,
		      const struct snp_tcb *t)
{
	const struct {
		const char *name;
		bool has;
		uint8_t want, got;
	} parts[] = {
		{ "fmc", m->has_fmc, m->fmc, t->fmc },
		{ "bootloader", m->has_bl, m->bl, t->bootloader },
		{ "tee", m->has_tee, m->tee, t->tee },
		{ "snp", m->has_snp, m->snp, t->snp },
		{ "microcode", m->has_ucode, m->ucode, t->microcode },
	};
	char name[48];

	for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
		struct snp_check *c;

		if (!parts[i].has)
			continue;
		snprintf(name, sizeof name, "min_tcb.%s.%s", kind, parts[i].name);
		if (i == 0 && !t->has_fmc) {
			c = add(a, name, false);
			snprintf(c->expected, sizeof c->expected, ">= %u", parts[i].want);
			snprintf(c->found, sizeof c->found, "none (this generation's TCB has no "
				 "FMC field)");
			continue;
		}
		c = add(a, name, parts[i].got >= parts[i].want);
		snprintf(c->expected, sizeof c->expected, ">= %u", parts[i].want);
		snprintf(c->found, sizeof c->found, "%u", parts[i].got);
	}
}

static bool all_zero(const uint8_t *b, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

/* A host may mask CHIP_ID (SNP_CONFIG MASK_CHIP_ID): the report then carries zeros, which
 * prove nothing either way, so the check is reported as not made rather than failed. */
static void check_chip_id(struct snp_appraisal *a, const struct snp_ref *ref,
			  const struct snp_report *r)
{
	struct snp_check *c;

	if (!ref->has_chip_id)
		return;
	if (!all_zero(r->chip_id, 64) || all_zero(ref->chip_id, 64)) {
		check_bytes(a, "chip_id", true, ref->chip_id, r->chip_id, 64);
		return;
	}
	c = add(a, "chip_id", false);
	c->skipped = true;
	put_hex(c->expected, sizeof c->expected, ref->chip_id, 64);
	snprintf(c->found, sizeof c->found, "masked (all zero: the host set MASK_CHIP_ID)");
}

static void check_platform(struct snp_appraisal *a, const struct snp_ref *ref,
			   const struct snp_report *r)
{
	char name[48];

	for (size_t i = 0; i < ELEMENTSOF(plat_bits); i++) {
		uint64_t bit = 1ull << plat_bits[i].bit;
		bool want = ref->plat_value & bit, got = r->plat_info & bit;
		struct snp_check *c;

		if (!(ref->plat_mask & bit))
			continue;
		snprintf(name, sizeof name, "platform_info.%s", plat_bits[i].name);
		c = add(a, name, want == got);
		snprintf(c->expected, sizeof c->expected, "%s", want ? "true" : "false");
		snprintf(c->found, sizeof c->found, "%s", got ? "true" : "false");
	}
}

void attest_snp_appraise(const struct snp_report *r, const struct snp_ref *ref,
			 struct snp_appraisal *ret)
{
	const struct snp_tcb *tcbs[SNP_TCB_KINDS] = { &r->reported_tcb, &r->committed_tcb,
						      &r->current_tcb, &r->launch_tcb };

	memset(ret, 0, sizeof *ret);
	check_measurement(ret, ref, r);
	check_bytes(ret, "report_data", ref->has_report_data, ref->report_data, r->report_data,
		    64);
	check_bytes(ret, "host_data", ref->has_host_data, ref->host_data, r->host_data, 32);
	check_policy(ret, ref, r);
	check_firmware(ret, ref, r);
	check_u32(ret, "vmpl", ref->has_vmpl, false, ref->vmpl, r->vmpl);
	check_signing_key(ret, ref, r);
	check_bytes(ret, "id_key_digest", ref->has_id_key, ref->id_key_digest,
		    r->id_key_digest, 48);
	check_bytes(ret, "author_key_digest", ref->has_author_key, ref->author_key_digest,
		    r->author_key_digest, 48);
	check_bytes(ret, "family_id", ref->has_family_id, ref->family_id, r->family_id, 16);
	check_bytes(ret, "image_id", ref->has_image_id, ref->image_id, r->image_id, 16);
	check_u32(ret, "min_guest_svn", ref->has_min_svn, true, ref->min_guest_svn, r->guest_svn);
	for (size_t k = 0; k < SNP_TCB_KINDS; k++)
		check_tcb(ret, tcb_kinds[k], &ref->min_tcb[k], tcbs[k]);
	check_chip_id(ret, ref, r);
	check_platform(ret, ref, r);
}

/* ---- the ARK's CRL ---- */

static X509_CRL *crl_parse(const uint8_t *buf, size_t len)
{
	const unsigned char *p = buf;
	X509_CRL *crl;
	BIO *bio;

	if (len > INT32_MAX)
		return NULL;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	if (crl && p == buf + len)
		return crl;
	X509_CRL_free(crl);
	bio = BIO_new_mem_buf(buf, (int)len);
	crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	return crl;
}

static bool revoked(X509_CRL *crl, X509 *cert)
{
	X509_REVOKED *rev = NULL;

	return cert && X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(cert)) == 1;
}

int attest_snp_crl_check(const uint8_t *buf, size_t len, X509 *trusted_ark, X509 *ask,
			 X509 *leaf, struct attest_verdict *v)
{
	_cleanup_(X509_CRL_freep) X509_CRL *crl = crl_parse(buf, len);
	EVP_PKEY *key = X509_get0_pubkey(trusted_ark);
	const ASN1_TIME *next;

	if (!crl)
		return attest_verdict_reject(v, "the CRL is neither a DER nor a PEM X.509 CRL", 0);
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(trusted_ark)) != 0)
		return attest_verdict_reject(v, "the CRL is not issued by the trusted ARK (issuer "
					     "name differs)", 0);
	if (!key || X509_CRL_verify(crl, key) != 1)
		return attest_verdict_reject(v, "the CRL's signature does not verify with the "
					     "trusted ARK", 0);
	next = X509_CRL_get0_nextUpdate(crl);
	if (next && X509_cmp_current_time(next) < 0)
		return attest_verdict_reject(v, "the CRL is out of date (its nextUpdate has "
					     "passed): fetch a fresh one", 0);
	if (revoked(crl, ask))
		return attest_verdict_reject(v, "the ASK is revoked: its serial is on the ARK's "
					     "CRL", 0);
	if (revoked(crl, leaf))
		return attest_verdict_reject(v, "the VCEK/VLEK is revoked: its serial is on the "
					     "ARK's CRL", 0);
	if (v) {
		v->ok = true;
		snprintf(v->reason, sizeof v->reason, "signed by the trusted ARK; neither the ASK "
			 "nor the %s is listed", leaf ? "VCEK/VLEK" : "leaf");
	}
	return 1;
}

/* ---- the extended report's certificate table ---- */

/* GUIDs of the table (GHCB spec; AMD sev-guest cert-table.c; virtee sev CertType), in the
 * byte order uuid_parse gives: the text's hex digits in order. */
static const struct {
	enum snp_cert_kind kind;
	const char *name;
	uint8_t guid[16];
} cert_guids[] = {
	{ SNP_CERT_VCEK, "VCEK", { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4,
				   0xb9, 0x3b, 0xe8, 0xac, 0xcd } },
	{ SNP_CERT_VLEK, "VLEK", { 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39,
				   0xc0, 0x45, 0xa0, 0xb8, 0xa1 } },
	{ SNP_CERT_ASK, "ASK", { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05,
				 0xae, 0xf3, 0x27, 0xc7, 0x82 } },
	{ SNP_CERT_ARK, "ARK", { 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f,
				 0xb6, 0x01, 0x4c, 0xd0, 0xae } },
	{ SNP_CERT_CRL, "CRL", { 0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d, 0x97, 0xff, 0xd1,
				 0x9f, 0x88, 0xdc, 0x67, 0xea } },
};

const char *attest_snp_cert_kind_name(enum snp_cert_kind k)
{
	for (size_t i = 0; i < ELEMENTSOF(cert_guids); i++)
		if (cert_guids[i].kind == k)
			return cert_guids[i].name;
	return "?";
}

#define CERT_ENTRY_SIZE 24u

int attest_snp_cert_table_parse(const uint8_t *buf, size_t len, struct snp_cert_table *ret,
				struct attest_verdict *v)
{
	static const uint8_t zero[CERT_ENTRY_SIZE];
	size_t n = 0, table_end;

	memset(ret, 0, sizeof *ret);
	while ((n + 1) * CERT_ENTRY_SIZE <= len &&
	       memcmp(buf + n * CERT_ENTRY_SIZE, zero, CERT_ENTRY_SIZE) != 0)
		n++;
	if ((n + 1) * CERT_ENTRY_SIZE > len)
		return attest_verdict_fail(v, -EBADMSG, "the certificate table has no all-zero "
					   "terminating entry within its %zu bytes", len);
	table_end = (n + 1) * CERT_ENTRY_SIZE;
	ret->n_entries = n;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = buf + i * CERT_ENTRY_SIZE;
		uint32_t off = get_le32(e + 16), l = get_le32(e + 20);
		size_t k = 0;

		if (l == 0 || off < table_end || off > len || l > len - off)
			return attest_verdict_fail(v, -EBADMSG, "certificate table entry %zu "
						   "(offset %u, length %u) is empty, overlaps the "
						   "table or runs past the %zu bytes", i, off, l, len);
		while (k < ELEMENTSOF(cert_guids) && memcmp(e, cert_guids[k].guid, 16) != 0)
			k++;
		if (k == ELEMENTSOF(cert_guids))
			continue; /* a GUID this code does not know: not used */
		if (ret->has[cert_guids[k].kind])
			return attest_verdict_fail(v, -EBADMSG, "the certificate table holds two "
						   "%s entries", cert_guids[k].name);
		ret->has[cert_guids[k].kind] = true;
		ret->offset[cert_guids[k].kind] = off;
		ret->length[cert_guids[k].kind] = l;
	}
	return 0;
}
