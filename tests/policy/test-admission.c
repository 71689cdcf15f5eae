/* Host admission rules: each rule refuses alone and names itself; quotas count per tenant;
 * config settings parse or are refused with a reason; policy words decode and parse. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/admission.h"
#include "policy/guest-policy.h"
#include "psp/sev-abi.h"
#include "tests/testutil.h"

static void expect_refusal(const struct policy_rules *r, uint32_t pol, const char *rule)
{
	struct policy_verdict v;

	policy_admit(r, pol, 1, 55, &v);
	TU_CHECK(!v.ok, "policy 0x%x should be refused by %s", pol, rule);
	TU_CHECK(v.rule && strcmp(v.rule, rule) == 0, "refused by %s, expected %s", v.rule, rule);
	TU_CHECK(strlen(v.message) > 10, "refusal has a message");
}

static void expect_admit(const struct policy_rules *r, uint32_t pol)
{
	struct policy_verdict v;

	policy_admit(r, pol, 1, 55, &v);
	TU_CHECK(v.ok, "policy 0x%x should be admitted, refused by %s: %s", pol, v.rule, v.message);
}

static void set(struct policy_rules *r, const char *k, const char *val)
{
	const char *reason = NULL;
	int e = policy_rules_set(r, k, val, &reason);
	TU_CHECK(e == 0, "%s = %s: %s", k, val, reason ? reason : "?");
}

static void test_each_rule_alone(void)
{
	static const struct {
		const char *key;
		uint32_t refused, admitted;
	} rows[] = {
		{ "require_nodbg", 0, SEV_POLICY_NODBG },
		{ "require_noks", SEV_POLICY_NODBG, SEV_POLICY_NOKS },
		{ "require_es", SEV_POLICY_NODBG, SEV_POLICY_ES },
		{ "require_nosend", SEV_POLICY_ES, SEV_POLICY_NOSEND },
		{ "forbid_es", SEV_POLICY_ES | SEV_POLICY_NODBG, SEV_POLICY_NODBG },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct policy_rules r;
		policy_rules_init(&r);
		expect_admit(&r, rows[i].refused); /* no rule: everything goes */
		set(&r, rows[i].key, "yes");
		expect_refusal(&r, rows[i].refused, rows[i].key);
		expect_admit(&r, rows[i].admitted);
		set(&r, rows[i].key, "no");
		expect_admit(&r, rows[i].refused);
	}
}

static void test_api_rules(void)
{
	struct policy_rules r;

	policy_rules_init(&r);
	set(&r, "min_api", "1.51");
	expect_refusal(&r, 0, "min_api");					/* pins 0.0 */
	expect_refusal(&r, (1u << 16) | (50u << 24), "min_api");		/* 1.50 */
	expect_admit(&r, (1u << 16) | (51u << 24));				/* 1.51 */
	expect_refusal(&r, (1u << 16) | (56u << 24), "firmware_api");		/* > fw 1.55 */
	expect_refusal(&r, 0x40, "reserved_bits");
}

static void test_quota(void)
{
	struct policy_rules r;
	struct policy_verdict v;

	policy_rules_init(&r);
	policy_quota_check(&r, "acme", 1000000, &v);
	TU_CHECK(v.ok, "no quota configured means unlimited");
	set(&r, "tenant.acme.quota", "2");
	set(&r, "default_quota", "1");
	policy_quota_check(&r, "acme", 1, &v);
	TU_CHECK(v.ok, "acme holds 1 of 2");
	policy_quota_check(&r, "acme", 2, &v);
	TU_CHECK(!v.ok && strcmp(v.rule, "tenant_quota") == 0, "acme at quota");
	TU_CHECK(strstr(v.message, "acme") != NULL, "message names the tenant: %s", v.message);
	policy_quota_check(&r, "other", 1, &v);
	TU_CHECK(!v.ok, "unlisted tenants get the default quota");
	policy_quota_check(&r, NULL, 0, &v);
	TU_CHECK(v.ok, "default tenant may take its first ASID");
	set(&r, "tenant.acme.quota", "0");
	TU_CHECK_EQ(policy_tenant_quota(&r, "acme"), 0);
}

/* The memory quota: sizes with binary suffixes, per tenant or the default, the ASID quota of
 * a tenant that sets only a memory quota is still the default. */
static void test_memory_quota(void)
{
	struct policy_rules r;
	struct policy_verdict v;
	const char *reason;

	policy_rules_init(&r);
	policy_memory_check(&r, "acme", UINT64_MAX / 2, UINT64_MAX / 2, &v);
	TU_CHECK(v.ok, "no memory quota configured means unlimited");
	set(&r, "default_memory_quota", "1G");
	set(&r, "tenant.acme.memory_quota", "4294967296");
	set(&r, "default_quota", "3");
	TU_CHECK_EQ(policy_tenant_memory_quota(&r, "acme"), 4ull << 30);
	TU_CHECK_EQ(policy_tenant_memory_quota(&r, "other"), 1ull << 30);
	TU_CHECK_EQ(policy_tenant_quota(&r, "acme"), 3); /* only its memory quota was set */
	policy_memory_check(&r, "acme", 3ull << 30, 1ull << 30, &v);
	TU_CHECK(v.ok, "exactly the quota fits");
	policy_memory_check(&r, "acme", 3ull << 30, (1ull << 30) + 4096, &v);
	TU_CHECK(!v.ok && !strcmp(v.rule, "memory_quota"), "one page over");
	TU_CHECK(strstr(v.message, "acme") && strstr(v.message, "4294967296"),
		 "the message names the tenant and its quota: %s", v.message);
	policy_memory_check(&r, "other", 0, (1ull << 30) + 1, &v);
	TU_CHECK(!v.ok, "unlisted tenants get the default memory quota");
	policy_memory_check(&r, "other", UINT64_MAX, 1, &v);
	TU_CHECK(!v.ok, "no overflow");
	set(&r, "tenant.small.memory_quota", "16M");
	TU_CHECK_EQ(policy_tenant_memory_quota(&r, "small"), 16ull << 20);
	set(&r, "tenant.small.memory_quota", "64K");
	TU_CHECK_EQ(policy_tenant_memory_quota(&r, "small"), 64ull << 10);
	set(&r, "tenant.small.memory_quota", "2T");
	TU_CHECK_EQ(policy_tenant_memory_quota(&r, "small"), 2ull << 40);
	TU_CHECK_EQ(policy_rules_set(&r, "default_memory_quota", "G", &reason), -EINVAL);
	TU_CHECK_EQ(policy_rules_set(&r, "default_memory_quota", "1X", &reason), -EINVAL);
	TU_CHECK_EQ(policy_rules_set(&r, "default_memory_quota", "-1", &reason), -EINVAL);
	TU_CHECK_EQ(policy_rules_set(&r, "default_memory_quota", "", &reason), -EINVAL);
	TU_CHECK_EQ(policy_rules_set(&r, "tenant.acme.memory_quota", "99999999999T", &reason),
		    -EINVAL);
	TU_CHECK(reason && strstr(reason, "size"), "reason: %s", reason);
}

static void test_bad_settings(void)
{
	struct policy_rules r;
	const char *reason;

	policy_rules_init(&r);
	TU_CHECK_EQ(policy_rules_set(&r, "require_nodbg", "maybe", &reason), -EINVAL);
	TU_CHECK(reason != NULL, "reason given");
	TU_CHECK_EQ(policy_rules_set(&r, "min_api", "1", &reason), -EINVAL);
	TU_CHECK_EQ(policy_rules_set(&r, "min_api", "1.256", &reason), -EINVAL);
	TU_CHECK_EQ(policy_rules_set(&r, "nonsense", "1", &reason), -ENOENT);
	TU_CHECK_EQ(policy_rules_set(&r, "tenant.../etc.quota", "1", &reason), -EINVAL);
	TU_CHECK_EQ(policy_rules_set(&r, "tenant.a b.quota", "1", &reason), -EINVAL);
	TU_CHECK_EQ(policy_rules_set(&r, "tenant.acme.limit", "1", &reason), -ENOENT);
	TU_CHECK_EQ(policy_rules_set(&r, "tenant.acme.quota", "-1", &reason), -EINVAL);
	TU_CHECK(!policy_tenant_name_valid(""), "empty name");
	TU_CHECK(!policy_tenant_name_valid(".hidden"), "dot name");
	TU_CHECK(policy_tenant_name_valid("team-a_1.prod"), "normal name");
}

static void test_words(void)
{
	uint32_t p;
	char *s = policy_describe(SEV_POLICY_NODBG | SEV_POLICY_ES | (1u << 16) | (51u << 24));

	TU_CHECK(strcmp(s, "NODBG ES API>=1.51") == 0, "describe: %s", s);
	free(s);
	s = policy_describe(0);
	TU_CHECK(strcmp(s, "none") == 0, "describe 0: %s", s);
	free(s);
	TU_CHECK_EQ(policy_parse("nodbg,ES|noks", &p), 0);
	TU_CHECK_EQ(p, SEV_POLICY_NODBG | SEV_POLICY_ES | SEV_POLICY_NOKS);
	TU_CHECK_EQ(policy_parse("0x5", &p), 0);
	TU_CHECK_EQ(p, 5);
	TU_CHECK_EQ(policy_parse("0x40", &p), -EINVAL); /* reserved bit */
	TU_CHECK_EQ(policy_parse("nodbg,,es", &p), -EINVAL);
	TU_CHECK_EQ(policy_parse("debug", &p), -EINVAL);
	json_object *j = policy_to_json(SEV_POLICY_NOKS | SEV_POLICY_ES);
	TU_CHECK(strcmp(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
			"{\"value\":6,\"hex\":\"0x00000006\",\"flags\":[\"NOKS\",\"ES\"],"
			"\"api_min\":\"0.0\"}") == 0,
		 "json: %s", json_object_to_json_string(j));
	json_object_put(j);
}

static void expect_snp(const struct policy_rules *r, uint64_t pol, const char *rule)
{
	struct policy_verdict v;

	policy_snp_admit(r, pol, &v);
	if (!rule) {
		TU_CHECK(v.ok, "SNP policy 0x%llx should be admitted, refused by %s: %s",
			 (unsigned long long)pol, v.rule, v.message);
		return;
	}
	TU_CHECK(!v.ok, "SNP policy 0x%llx should be refused by %s", (unsigned long long)pol, rule);
	TU_CHECK(v.rule && strcmp(v.rule, rule) == 0, "refused by %s, expected %s", v.rule, rule);
	TU_CHECK(strstr(v.message, "0x") || strstr(v.message, "ABI"), "message: %s", v.message);
}

/* SEV-SNP: require_snp refuses every SEV policy; must_set/must_clear by name or number;
 * min_abi on ABI_MAJOR.ABI_MINOR; require_id_block at finish; bad masks refused. */
static void test_snp_rules(void)
{
	const uint64_t base = SEV_SNP_POLICY_RSVD_MBO | SEV_SNP_POLICY_SMT;
	struct policy_rules r;
	struct policy_verdict v;
	const char *reason;
	uint64_t m;

	policy_rules_init(&r);
	expect_snp(&r, base | SEV_SNP_POLICY_DEBUG, NULL); /* no rules: all admitted */
	policy_snp_finish_check(&r, false, &v);
	TU_CHECK(v.ok, "finish without ID block admitted without require_id_block");
	expect_admit(&r, SEV_POLICY_NODBG);
	set(&r, "require_snp", "yes");
	expect_refusal(&r, SEV_POLICY_NODBG, "require_snp");
	expect_refusal(&r, SEV_POLICY_ES, "require_snp");

	set(&r, "snp_policy_must_clear", "debug|MIGRATE_MA");
	TU_CHECK_EQ(r.snp_must_clear, SEV_SNP_POLICY_DEBUG | SEV_SNP_POLICY_MIGRATE_MA);
	expect_snp(&r, base | SEV_SNP_POLICY_DEBUG, "snp_policy_must_clear");
	expect_snp(&r, base | SEV_SNP_POLICY_MIGRATE_MA, "snp_policy_must_clear");
	expect_snp(&r, base | SEV_SNP_POLICY_SINGLE_SOCKET, NULL);
	set(&r, "snp_policy_must_set", "0x10000");
	TU_CHECK_EQ(r.snp_must_set, SEV_SNP_POLICY_SMT);
	expect_snp(&r, SEV_SNP_POLICY_RSVD_MBO, "snp_policy_must_set");
	set(&r, "snp_policy_must_set", "1048576"); /* decimal: SINGLE_SOCKET */
	TU_CHECK_EQ(r.snp_must_set, SEV_SNP_POLICY_SINGLE_SOCKET);
	expect_snp(&r, base, "snp_policy_must_set");
	set(&r, "snp_policy_must_set", "smt");
	expect_snp(&r, base, NULL);

	set(&r, "min_abi", "1.51");
	expect_snp(&r, base | 0x0132, "min_abi");
	expect_snp(&r, base | 0x0033, "min_abi");
	expect_snp(&r, base | 0x0133, NULL);
	expect_snp(&r, base | 0x0200, NULL);
	expect_admit(&(struct policy_rules){ .snp_min_abi_major = 9 }, 0); /* not the SEV min_api */

	set(&r, "require_id_block", "on");
	policy_snp_finish_check(&r, false, &v);
	TU_CHECK(!v.ok && strcmp(v.rule, "require_id_block") == 0, "finish without ID block");
	policy_snp_finish_check(&r, true, &v);
	TU_CHECK(v.ok, "finish with an ID block");

	/* a bit in both masks, names and numbers that are no flag bits */
	TU_CHECK_EQ(policy_rules_set(&r, "snp_policy_must_set", "debug", &reason), -EINVAL);
	TU_CHECK(reason && strstr(reason, "both"), "reason: %s", reason);
	TU_CHECK_EQ(r.snp_must_set, SEV_SNP_POLICY_SMT); /* unchanged */
	TU_CHECK_EQ(policy_rules_set(&r, "snp_policy_must_clear", "smt", &reason), -EINVAL);
	TU_CHECK_EQ(policy_rules_set(&r, "min_abi", "1.x", &reason), -EINVAL);
	TU_CHECK_EQ(policy_rules_set(&r, "require_snp", "maybe", &reason), -EINVAL);
	static const char *const bad[] = { "", "nodbg", "debug,,smt", "debug,", ",debug",
					   "0x1", "0x100000000", "0x", "12z", "-1", "debug smt" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reason = NULL;
		TU_CHECK_EQ(policy_snp_mask_parse(bad[i], &m, &reason), -EINVAL);
		TU_CHECK(reason != NULL, "mask '%s': a reason", bad[i]);
	}
	TU_CHECK_EQ(policy_snp_mask_parse("Smt+page_swap_disable|ciphertext_hiding", &m, NULL), 0);
	TU_CHECK_EQ(m, SEV_SNP_POLICY_SMT | SEV_SNP_POLICY_PAGE_SWAP_DISABLE |
			       SEV_SNP_POLICY_CIPHERTEXT_HIDING);
	TU_CHECK_EQ(policy_snp_mask_parse("0", &m, NULL), 0);
	TU_CHECK_EQ(m, 0);
}

/* allowed_author_keys: a list of SHA-384 digests; unset admits any finish, set refuses a finish
 * without an author key and one whose key digest is not listed; bad lists leave it as it was. */
static void test_author_keys(void)
{
	char a[97], b[97], two[200];
	uint8_t da[48], db[48];
	struct policy_rules r;
	struct policy_verdict v;
	const char *reason;

	for (int i = 0; i < 48; i++) {
		da[i] = (uint8_t)(i * 7 + 1);
		db[i] = (uint8_t)(0xa0 + i);
		snprintf(a + 2 * i, 3, "%02x", da[i]);
		snprintf(b + 2 * i, 3, "%02X", db[i]); /* either case */
	}
	policy_rules_init(&r);
	policy_snp_author_check(&r, NULL, &v);
	TU_CHECK(v.ok, "no list: a finish without an author key is admitted");
	policy_snp_author_check(&r, da, &v);
	TU_CHECK(v.ok, "no list: any author key is admitted");
	set(&r, "allowed_author_keys", a);
	TU_CHECK_EQ(r.n_author_keys, 1u);
	policy_snp_author_check(&r, da, &v);
	TU_CHECK(v.ok, "a listed author key: %s", v.message);
	policy_snp_author_check(&r, db, &v);
	TU_CHECK(!v.ok && strcmp(v.rule, "allowed_author_keys") == 0 &&
		     strstr(v.message, "allowed_author_keys"),
		 "an author key not listed: %s", v.message);
	policy_snp_author_check(&r, NULL, &v);
	TU_CHECK(!v.ok && strcmp(v.rule, "allowed_author_keys") == 0 &&
		     strstr(v.message, "--author-key"),
		 "no author key with a list: %s", v.message);
	snprintf(two, sizeof(two), " %s,\t%s ", b, a);
	set(&r, "allowed_author_keys", two);
	TU_CHECK_EQ(r.n_author_keys, 2u);
	policy_snp_author_check(&r, db, &v);
	TU_CHECK(v.ok, "the second of two listed keys");
	static const char *const bad[] = { "", " , ", "abcd", "zz" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reason = NULL;
		TU_CHECK_EQ(policy_rules_set(&r, "allowed_author_keys", bad[i], &reason), -EINVAL);
		TU_CHECK(reason && strstr(reason, "hex"), "list '%s': reason %s", bad[i], reason);
	}
	a[5] = 'g';
	TU_CHECK_EQ(policy_rules_set(&r, "allowed_author_keys", a, &reason), -EINVAL);
	TU_CHECK_EQ(r.n_author_keys, 2u); /* unchanged */
}

int main(void)
{
	test_each_rule_alone();
	test_api_rules();
	test_quota();
	test_memory_quota();
	test_bad_settings();
	test_words();
	test_snp_rules();
	test_author_keys();
	tu_done("policy-admission");
}
