/* Host admission policy: see admission.h. Trusts nothing about its inputs: config values and
 * tenant names arrive from files and the network. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/macros.h"
#include "common/util.h"
#include "policy/admission.h"
#include "policy/guest-policy.h"
#include "psp/sev-abi.h"

void policy_rules_init(struct policy_rules *r)
{
	memset(r, 0, sizeof(*r));
}

static int parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = { "1", "yes", "true", "on" }, *const no[] = { "0", "no",
										      "false", "off" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_api(const char *v, uint8_t *major, uint8_t *minor)
{
	unsigned a, b;
	char end;

	if (sscanf(v, "%u.%u%c", &a, &b, &end) != 2 || a > 255 || b > 255)
		return -EINVAL;
	*major = (uint8_t)a;
	*minor = (uint8_t)b;
	return 0;
}

bool policy_tenant_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n >= POLICY_TENANT_NAME_MAX || name[0] == '.')
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static struct policy_tenant *tenant_find(const struct policy_rules *r, const char *name)
{
	for (unsigned i = 0; i < r->n_tenants; i++)
		if (strcmp(r->tenants[i].name, name) == 0)
			return (struct policy_tenant *)&r->tenants[i];
	return NULL;
}

/* A size in bytes: digits, optionally followed by K, M, G or T (binary multiples). */
static int parse_size(const char *v, uint64_t *ret)
{
	static const char units[] = "KMGT";
	char num[32];
	size_t n = strlen(v);
	unsigned shift = 0;
	const char *u;
	uint64_t x;

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, v, n + 1);
	if ((u = strchr(units, num[n - 1])) && num[n - 1]) {
		shift = 10 * (unsigned)(u - units + 1);
		num[--n] = 0;
	}
	if (n == 0 || parse_u64(num, &x) < 0 || (shift && x > (UINT64_MAX >> shift)))
		return -EINVAL;
	*ret = x << shift;
	return 0;
}

/* tenant.NAME.quota = N, tenant.NAME.memory_quota = SIZE */
static int set_tenant_quota(struct policy_rules *r, const char *key, const char *value,
			    const char **reason)
{
	const char *name = key + strlen("tenant."), *dot = strrchr(name, '.');
	char buf[POLICY_TENANT_NAME_MAX];
	struct policy_tenant *t;
	bool memory;
	uint32_t q = 0;
	uint64_t m = 0;

	if (!dot || (strcmp(dot, ".quota") != 0 && strcmp(dot, ".memory_quota") != 0) ||
	    (size_t)(dot - name) >= sizeof(buf))
		return *reason = "expected tenant.NAME.quota or tenant.NAME.memory_quota", -ENOENT;
	memory = strcmp(dot, ".memory_quota") == 0;
	memcpy(buf, name, (size_t)(dot - name));
	buf[dot - name] = 0;
	if (!policy_tenant_name_valid(buf))
		return *reason = "tenant names are 1-63 characters of A-Z a-z 0-9 . _ -", -EINVAL;
	if (!memory && parse_u32(value, &q) < 0)
		return *reason = "a quota is a whole number of ASIDs", -EINVAL;
	if (memory && parse_size(value, &m) < 0)
		return *reason = "a memory quota is a size in bytes, e.g. 4294967296 or 4G", -EINVAL;
	t = tenant_find(r, buf);
	if (!t) {
		if (r->n_tenants >= POLICY_MAX_TENANTS)
			return *reason = "too many tenants (at most 64)", -EINVAL;
		t = &r->tenants[r->n_tenants++];
		snprintf(t->name, sizeof(t->name), "%s", buf);
	}
	if (memory) {
		t->memory_quota = m;
		t->has_memory_quota = true;
	} else {
		t->quota = q;
		t->has_quota = true;
	}
	return 0;
}

int policy_rules_set(struct policy_rules *r, const char *key, const char *value,
		     const char **reason)
{
	static const struct {
		const char *key;
		size_t off;
	} bools[] = {
		{ "require_nodbg", offsetof(struct policy_rules, require_nodbg) },
		{ "require_noks", offsetof(struct policy_rules, require_noks) },
		{ "require_es", offsetof(struct policy_rules, require_es) },
		{ "require_nosend", offsetof(struct policy_rules, require_nosend) },
		{ "forbid_es", offsetof(struct policy_rules, forbid_es) },
		{ "require_snp", offsetof(struct policy_rules, require_snp) },
		{ "require_id_block", offsetof(struct policy_rules, require_id_block) },
	};
	const char *dummy;

	if (!reason)
		reason = &dummy;
	*reason = NULL;
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
		if (strcmp(key, bools[i].key) == 0) {
			if (parse_bool(value, (bool *)((char *)r + bools[i].off)) < 0)
				return *reason = "expected yes or no", -EINVAL;
			return 0;
		}
	if (strcmp(key, "min_api") == 0) {
		if (parse_api(value, &r->min_api_major, &r->min_api_minor) < 0)
			return *reason = "expected MAJOR.MINOR, e.g. 1.51", -EINVAL;
		return 0;
	}
	if (strcmp(key, "min_abi") == 0) {
		if (parse_api(value, &r->snp_min_abi_major, &r->snp_min_abi_minor) < 0)
			return *reason = "expected MAJOR.MINOR of the SNP ABI, e.g. 1.55", -EINVAL;
		return 0;
	}
	if (strcmp(key, "snp_policy_must_set") == 0 || strcmp(key, "snp_policy_must_clear") == 0) {
		bool set = strcmp(key, "snp_policy_must_set") == 0;
		uint64_t m;

		if (policy_snp_mask_parse(value, &m, reason) < 0)
			return -EINVAL;
		if (m & (set ? r->snp_must_clear : r->snp_must_set))
			return *reason = "a bit cannot be in both snp_policy_must_set and "
					 "snp_policy_must_clear", -EINVAL;
		*(set ? &r->snp_must_set : &r->snp_must_clear) = m;
		return 0;
	}
	if (strcmp(key, "allowed_author_keys") == 0)
		return policy_author_keys_parse(r, value, reason) < 0 ? -EINVAL : 0;
	if (strcmp(key, "default_quota") == 0) {
		if (parse_u32(value, &r->default_quota) < 0)
			return *reason = "a quota is a whole number of ASIDs", -EINVAL;
		r->have_default_quota = true;
		return 0;
	}
	if (strcmp(key, "default_memory_quota") == 0) {
		if (parse_size(value, &r->default_memory_quota) < 0)
			return *reason = "a memory quota is a size in bytes, e.g. 4294967296 or 4G",
			       -EINVAL;
		r->have_default_memory_quota = true;
		return 0;
	}
	if (strncmp(key, "tenant.", 7) == 0)
		return set_tenant_quota(r, key, value, reason);
	*reason = "unknown policy setting";
	return -ENOENT;
}

void policy_refuse(struct policy_verdict *v, const char *rule, const char *fmt, ...)
{
	va_list ap;

	v->ok = false;
	v->rule = rule;
	va_start(ap, fmt);
	vsnprintf(v->message, sizeof(v->message), fmt, ap);
	va_end(ap);
}

void policy_accept(struct policy_verdict *v)
{
	v->ok = true;
	v->rule = NULL;
	v->message[0] = 0;
}

/* Refuse and leave the (void) caller. */
#define REFUSE(...)                                                                                \
	do {                                                                                       \
		policy_refuse(__VA_ARGS__);                                                        \
		return;                                                                            \
	} while (0)

static int api_cmp(unsigned a_major, unsigned a_minor, unsigned b_major, unsigned b_minor)
{
	return (int)(a_major * 256 + a_minor) - (int)(b_major * 256 + b_minor);
}

void policy_admit(const struct policy_rules *r, uint32_t p, uint8_t fw_major, uint8_t fw_minor,
		  struct policy_verdict *v)
{
	unsigned g_major = SEV_POLICY_API_MAJOR(p), g_minor = SEV_POLICY_API_MINOR(p);

	if (r->require_snp)
		REFUSE(v, "require_snp",
			      "this host launches only SEV-SNP guests: POST /v1/guests with "
			      "{\"type\": \"snp\", \"policy\": N}");
	if (p & POLICY_RESERVED_MASK)
		REFUSE(v, "reserved_bits", "policy 0x%08x sets reserved bits 0x%x", p,
			      p & POLICY_RESERVED_MASK);
	if (r->require_nodbg && !(p & SEV_POLICY_NODBG))
		REFUSE(v, "require_nodbg",
			      "this host requires NODBG: guests may not allow debugging");
	if (r->require_noks && !(p & SEV_POLICY_NOKS))
		REFUSE(v, "require_noks", "this host requires NOKS: no key sharing");
	if (r->require_es && !(p & SEV_POLICY_ES))
		REFUSE(v, "require_es", "this host requires SEV-ES guests (policy bit ES)");
	if (r->forbid_es && (p & SEV_POLICY_ES))
		REFUSE(v, "forbid_es", "this host does not run SEV-ES guests");
	if (r->require_nosend && !(p & SEV_POLICY_NOSEND))
		REFUSE(v, "require_nosend", "this host requires NOSEND: no migration out");
	if (api_cmp(g_major, g_minor, r->min_api_major, r->min_api_minor) < 0)
		REFUSE(v, "min_api",
			      "this host requires guests to pin firmware API >= %u.%u (policy pins "
			      "%u.%u)",
			      r->min_api_major, r->min_api_minor, g_major, g_minor);
	if (api_cmp(g_major, g_minor, fw_major, fw_minor) > 0)
		REFUSE(v, "firmware_api",
			      "the guest requires firmware API >= %u.%u but this platform runs %u.%u",
			      g_major, g_minor, fw_major, fw_minor);
	policy_accept(v);
}

uint32_t policy_tenant_quota(const struct policy_rules *r, const char *tenant)
{
	const struct policy_tenant *t = tenant && *tenant ? tenant_find(r, tenant) : NULL;

	if (t && t->has_quota)
		return t->quota;
	return r->have_default_quota ? r->default_quota : UINT32_MAX;
}

void policy_quota_check(const struct policy_rules *r, const char *tenant, uint32_t held,
			struct policy_verdict *v)
{
	uint32_t q = policy_tenant_quota(r, tenant);
	const char *name = tenant && *tenant ? tenant : "default";

	if (held >= q)
		REFUSE(v, "tenant_quota",
			      "tenant %s holds %u of its %u guests (with or without an ASID); "
			      "decommission one of them first (DELETE /v1/guests/ID)",
			      name, held, q);
	policy_accept(v);
}

uint64_t policy_tenant_memory_quota(const struct policy_rules *r, const char *tenant)
{
	const struct policy_tenant *t = tenant && *tenant ? tenant_find(r, tenant) : NULL;

	if (t && t->has_memory_quota)
		return t->memory_quota;
	return r->have_default_memory_quota ? r->default_memory_quota : UINT64_MAX;
}

void policy_memory_check(const struct policy_rules *r, const char *tenant, uint64_t held,
			 uint64_t want, struct policy_verdict *v)
{
	uint64_t q = policy_tenant_memory_quota(r, tenant);
	const char *name = tenant && *tenant ? tenant : "default";

	if (held > q || want > q - held)
		REFUSE(v, "memory_quota",
		       "tenant %s's guests hold %llu bytes of guest memory, and %llu more would pass "
		       "its memory quota of %llu bytes; delete one of its guests or launch a "
		       "smaller one (memory_size)",
		       name, (unsigned long long)held, (unsigned long long)want,
		       (unsigned long long)q);
	policy_accept(v);
}
