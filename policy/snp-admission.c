/* Host admission rules for SEV-SNP guests (SNP ABI "Guest Policy"): see admission.h. Pure
 * code; the masks arrive from sevd.conf and the policies from the network. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/macros.h"
#include "policy/admission.h"
#include "psp/sev-abi.h"

/* Flag bits a mask may hold: 16..31 (0..15 are ABI_MINOR/ABI_MAJOR: use min_abi). */
#define SNP_MASK_FLAGS 0xffff0000ull

int policy_snp_mask_parse(const char *s, uint64_t *ret, const char **reason)
{
	const char *dummy;
	uint64_t m = 0;

	if (!reason)
		reason = &dummy;
	if (!s || !*s)
		return *reason = "expected a number or SNP policy bit names, e.g. debug,migrate_ma",
		       -EINVAL;
	if (s[0] >= '0' && s[0] <= '9') {
		char *end;

		errno = 0;
		m = strtoull(s, &end, 0);
		if (errno || *end)
			return *reason = "expected a number (decimal or 0x hex) or bit names",
			       -EINVAL;
	} else {
		const char *p = s;

		while (*p) {
			size_t n = strcspn(p, ",|+");
			size_t i;

			for (i = 0; i < sev_snp_policy_bits_n; i++)
				if (strlen(sev_snp_policy_bits[i].name) == n &&
				    strncasecmp(p, sev_snp_policy_bits[i].name, n) == 0)
					break;
			if (i == sev_snp_policy_bits_n)
				return *reason =
					   "unknown SNP policy bit name (known: smt, migrate_ma, "
					   "debug, single_socket, cxl_allow, mem_aes_256_xts, "
					   "rapl_dis, ciphertext_hiding, page_swap_disable)",
				       -EINVAL;
			m |= sev_snp_policy_bits[i].bit;
			p += n;
			if (*p && !*++p)
				return *reason = "a separator without a bit name after it", -EINVAL;
		}
	}
	if (m & ~SNP_MASK_FLAGS)
		return *reason = "only SNP policy flag bits 16..31 may be given (bits 0..15 are "
				 "the ABI version: use min_abi; 32..63 are reserved)",
		       -EINVAL;
	*ret = m;
	return 0;
}

/* "DEBUG|SMT" for the named bits of m, hex for any other. */
static void bit_names(uint64_t m, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sev_snp_policy_bits_n && n < size; i++)
		if (m & sev_snp_policy_bits[i].bit) {
			n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? "|" : "",
					      sev_snp_policy_bits[i].name);
			m &= ~sev_snp_policy_bits[i].bit;
		}
	if (m && n < size)
		snprintf(buf + n, size - n, "%s0x%llx", n ? "|" : "", (unsigned long long)m);
}

void policy_snp_admit(const struct policy_rules *r, uint64_t p, struct policy_verdict *v)
{
	unsigned major = SEV_SNP_POLICY_ABI_MAJOR(p), minor = SEV_SNP_POLICY_ABI_MINOR(p);
	char names[128];

	if ((p & r->snp_must_set) != r->snp_must_set) {
		bit_names(r->snp_must_set & ~p, names, sizeof(names));
		policy_refuse(v, "snp_policy_must_set",
			   "this host requires SNP guest policy bits %s set (policy 0x%llx): add "
			   "them to the policy",
			   names, (unsigned long long)p);
		return;
	}
	if (p & r->snp_must_clear) {
		bit_names(p & r->snp_must_clear, names, sizeof(names));
		policy_refuse(
		    v, "snp_policy_must_clear",
		    "this host refuses SNP guest policies with %s set (policy 0x%llx): clear "
		    "them",
		    names, (unsigned long long)p);
		return;
	}
	if (major * 256 + minor < r->snp_min_abi_major * 256u + r->snp_min_abi_minor) {
		policy_refuse(v, "min_abi",
			   "this host requires SNP guest policies to pin ABI >= %u.%u (policy pins "
			   "%u.%u in ABI_MAJOR/ABI_MINOR)",
			   r->snp_min_abi_major, r->snp_min_abi_minor, major, minor);
		return;
	}
	policy_accept(v);
}

void policy_snp_finish_check(const struct policy_rules *r, bool has_id_block,
			     struct policy_verdict *v)
{
	if (r->require_id_block && !has_id_block) {
		policy_refuse(v, "require_id_block",
			   "this host requires an ID block at launch finish: POST /finish with "
			   "id_block and id_auth (sevadm snp id-block makes them)");
		return;
	}
	policy_accept(v);
}

int policy_author_keys_parse(struct policy_rules *r, const char *s, const char **reason)
{
	uint8_t keys[POLICY_MAX_AUTHOR_KEYS][POLICY_AUTHOR_KEY_DIGEST_SIZE];
	const char *dummy, *p = s ? s : "";
	unsigned n = 0;

	if (!reason)
		reason = &dummy;
	for (;;) {
		size_t len;

		p += strspn(p, ", \t");
		if (!*p)
			break;
		len = strcspn(p, ", \t");
		if (n == POLICY_MAX_AUTHOR_KEYS)
			return *reason = "too many author key digests (at most 32)", -EINVAL;
		if (len != 2 * POLICY_AUTHOR_KEY_DIGEST_SIZE)
			return *reason = "an author key digest is the SHA-384 digest of the ID "
					 "author public key: 96 hex digits (sevadm snp id-block "
					 "prints it as author_key_digest)",
			       -EINVAL;
		for (size_t i = 0; i < POLICY_AUTHOR_KEY_DIGEST_SIZE; i++) {
			unsigned b;

			if (sscanf(p + 2 * i, "%2x", &b) != 1 || !isxdigit((unsigned char)p[2 * i]) ||
			    !isxdigit((unsigned char)p[2 * i + 1]))
				return *reason = "an author key digest holds only hex digits", -EINVAL;
			keys[n][i] = (uint8_t)b;
		}
		n++;
		p += len;
	}
	if (n == 0)
		return *reason = "expected one or more SHA-384 digests (96 hex digits) of ID author "
				 "public keys, separated by commas",
		       -EINVAL;
	memcpy(r->author_keys, keys, sizeof(keys[0]) * n);
	r->n_author_keys = n;
	return 0;
}

void policy_snp_author_check(const struct policy_rules *r, const uint8_t *digest,
			     struct policy_verdict *v)
{
	char hex[2 * POLICY_AUTHOR_KEY_DIGEST_SIZE + 1];

	if (r->n_author_keys == 0) {
		policy_accept(v);
		return;
	}
	if (!digest) {
		policy_refuse(v, "allowed_author_keys",
			   "this host requires SNP guests to be finished with an ID block signed "
			   "by an allowed author key: make it with sevadm snp id-block "
			   "--author-key and POST /finish with \"author_key\": true");
		return;
	}
	/* Digests are public (they are in every report): a plain comparison is enough. */
	for (unsigned i = 0; i < r->n_author_keys; i++)
		if (memcmp(r->author_keys[i], digest, POLICY_AUTHOR_KEY_DIGEST_SIZE) == 0) {
			policy_accept(v);
			return;
		}
	for (size_t i = 0; i < POLICY_AUTHOR_KEY_DIGEST_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	policy_refuse(v, "allowed_author_keys",
		   "the ID author key (SHA-384 %.16s...) is not in this host's "
		   "allowed_author_keys: sign the ID key with an allowed author key, or add "
		   "the digest to sevd.conf",
		   hex);
}
