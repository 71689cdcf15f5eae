/* Host admission policy: which guest policies this host accepts and how many ASIDs each tenant
 * may hold. Rules come from sevd.conf keys (policy_rules_set); every refusal names the rule
 * that refused, so an orchestrator can tell "host forbids debug" from "tenant over quota".
 * Pure code: the daemon supplies the counts. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/macros.h"

#define POLICY_MAX_TENANTS 64
#define POLICY_TENANT_NAME_MAX 64
#define POLICY_MAX_AUTHOR_KEYS 32
#define POLICY_AUTHOR_KEY_DIGEST_SIZE 48 /* SHA-384, as the report's AUTHOR_KEY_DIGEST */

struct policy_tenant {
	char name[POLICY_TENANT_NAME_MAX];
	uint32_t quota; /* guests this tenant may hold at once, with or without an ASID */
	bool has_quota, has_memory_quota; /* which of the two the config set */
	uint64_t memory_quota; /* bytes of declared guest memory its guests may hold together */
};

struct policy_rules {
	bool require_nodbg;   /* refuse guests that allow DBG_DECRYPT/ENCRYPT */
	bool require_noks;    /* refuse guests that allow key sharing */
	bool require_es;      /* refuse plain SEV guests */
	bool require_nosend;  /* refuse guests that may be migrated out */
	bool forbid_es;	      /* refuse SEV-ES guests (hosts without an ES range) */
	uint8_t min_api_major; /* the guest policy must pin at least this firmware API */
	uint8_t min_api_minor;
	/* SEV-SNP (policy/snp-admission.c) */
	bool require_snp;      /* refuse SEV and SEV-ES launches */
	bool require_id_block; /* refuse SNP_LAUNCH_FINISH without an ID block */
	uint64_t snp_must_set;	/* SNP guest policy bits that must be one */
	uint64_t snp_must_clear; /* SNP guest policy bits that must be zero */
	uint8_t snp_min_abi_major; /* the SNP policy's ABI_MAJOR.ABI_MINOR must be at least this */
	uint8_t snp_min_abi_minor;
	/* allowed_author_keys: SHA-384 digests of the ID author public keys an SNP guest may be
	 * finished with; none set: any author key, or none, is accepted */
	unsigned n_author_keys;
	uint8_t author_keys[POLICY_MAX_AUTHOR_KEYS][POLICY_AUTHOR_KEY_DIGEST_SIZE];
	bool have_default_quota;
	uint32_t default_quota; /* quota of tenants not listed; unlimited when not set */
	bool have_default_memory_quota;
	uint64_t default_memory_quota; /* bytes; tenants without their own; unlimited if not set */
	unsigned n_tenants;
	struct policy_tenant tenants[POLICY_MAX_TENANTS];
};

struct policy_verdict {
	bool ok;
	const char *rule; /* the config key of the refusing rule, e.g. "require_nodbg" */
	char message[256];
};

/* How the checks of admission.c and snp-admission.c give their answer: refused by the config key
 * rule with a message from fmt, or accepted (rule NULL, message empty). */
_printf_(3, 4) void policy_refuse(struct policy_verdict *v, const char *rule, const char *fmt,
				  ...);
void policy_accept(struct policy_verdict *v);

void policy_rules_init(struct policy_rules *r);
/* Apply one config setting: require_nodbg|require_noks|require_es|require_nosend|forbid_es =
 * yes/no/true/false/1/0, min_api = MAJOR.MINOR, default_quota = N, tenant.NAME.quota = N,
 * default_memory_quota = SIZE, tenant.NAME.memory_quota = SIZE (bytes, or with K, M, G, T:
 * binary multiples).
 * Returns 0, -ENOENT for an unknown key, -EINVAL for a bad value (*reason says which). */
int policy_rules_set(struct policy_rules *r, const char *key, const char *value,
		     const char **reason);

/* May a guest with this policy launch on a platform with this firmware API? */
void policy_admit(const struct policy_rules *r, uint32_t guest_policy, uint8_t fw_api_major,
		  uint8_t fw_api_minor, struct policy_verdict *ret);
/* May an SEV-SNP guest with this 64-bit guest policy launch? (require_snp's SEV side is in
 * policy_admit.) */
void policy_snp_admit(const struct policy_rules *r, uint64_t snp_policy,
		      struct policy_verdict *ret);
/* May an SNP guest finish its launch with (has_id_block) or without an ID block? */
void policy_snp_finish_check(const struct policy_rules *r, bool has_id_block,
			     struct policy_verdict *ret);
/* May an SNP guest finish with this ID author key? author_key_digest is the SHA-384 digest of
 * the ID auth structure's AUTHOR_KEY (as the report's AUTHOR_KEY_DIGEST), NULL when the finish
 * has no author key. Refused (rule allowed_author_keys) when the list is set and the digest is
 * not in it. */
void policy_snp_author_check(const struct policy_rules *r, const uint8_t *author_key_digest,
			     struct policy_verdict *ret);
/* allowed_author_keys as sevd.conf spells it: 96-hex-digit SHA-384 digests separated by ',',
 * spaces or tabs (at most POLICY_MAX_AUTHOR_KEYS). Replaces the list; -EINVAL (*reason says
 * why) leaves it as it was. */
int policy_author_keys_parse(struct policy_rules *r, const char *s, const char **reason);
/* An SNP policy bit mask as sevd.conf spells it: a number (decimal or 0x hex) or bit names
 * of the guest JSON's decoded policy (smt, migrate_ma, debug, single_socket, cxl_allow,
 * mem_aes_256_xts, rapl_dis, ciphertext_hiding, page_swap_disable; any case) joined by ',',
 * '|' or '+'. Only flag bits 16..31 may be named; -EINVAL otherwise (*reason says why). */
int policy_snp_mask_parse(const char *s, uint64_t *ret, const char **reason);

/* May `tenant` (NULL or "" = the default tenant) take one more ASID while holding `held`? */
void policy_quota_check(const struct policy_rules *r, const char *tenant, uint32_t held,
			struct policy_verdict *ret);
/* The tenant's quota, or UINT32_MAX when unlimited. */
uint32_t policy_tenant_quota(const struct policy_rules *r, const char *tenant);
/* May `tenant` launch one more guest of `want` bytes of memory while its guests (every one, with
 * or without an ASID) declare `held` bytes together? Refused with rule "memory_quota". */
void policy_memory_check(const struct policy_rules *r, const char *tenant, uint64_t held,
			 uint64_t want, struct policy_verdict *ret);
/* The tenant's memory quota in bytes, or UINT64_MAX when unlimited. */
uint64_t policy_tenant_memory_quota(const struct policy_rules *r, const char *tenant);
/* Valid tenant names: 1..63 of [A-Za-z0-9._-], not starting with '.' (they appear in paths,
 * metrics labels and logs). */
bool policy_tenant_name_valid(const char *name);
