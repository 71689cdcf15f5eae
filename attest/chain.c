/* SEV chain assembly and verification (see chain.h). Trusts nothing in the chain itself: the
 * only anchors are the roots the caller passes (AMD's from the roots directory, or a root the
 * user explicitly named as emulated). A CEK is accepted only under an ASK that is itself signed
 * by a trusted ARK, so a CEK never verifies across generations. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "attest/chain.h"
#include "attest/roots.h"
#include "attest/roots-private.h"
#include "common/ossl.h"
#include "common/util.h"

void attest_sev_chain_init(struct attest_sev_chain *c)
{
	memset(c, 0, sizeof(*c));
}

/* ---- assembly ---- */

static int n_signatures(const struct sev_cert *s)
{
	return (s->sig[0].usage != SEV_USAGE_NONE) + (s->sig[1].usage != SEV_USAGE_NONE);
}

static bool has_signer(const struct sev_cert *s, uint32_t usage)
{
	return s->sig[0].usage == usage || s->sig[1].usage == usage;
}

static int place_sev(struct attest_sev_chain *c, const struct sev_cert *s, const char *name,
		     struct attest_verdict *v)
{
	struct sev_cert *slot;
	bool *have;

	switch (s->pubkey_usage) {
	case SEV_USAGE_PDH: slot = &c->pdh, have = &c->have_pdh; break;
	case SEV_USAGE_PEK: slot = &c->pek, have = &c->have_pek; break;
	case SEV_USAGE_OCA: slot = &c->oca, have = &c->have_oca; break;
	case SEV_USAGE_CEK: slot = &c->cek, have = &c->have_cek; break;
	default:
		return attest_verdict_fail(v, -EBADMSG, "%s: unexpected key usage", name);
	}
	if (*have && memcmp(slot, s, sizeof(*s)) != 0) {
		/* The same key twice (PDH_CERT_EXPORT's unsigned CEK, then the ASK-signed one from
		 * AMD's key server): keep the copy with more signatures. A different key is an
		 * error: we would otherwise verify one and report on the other. */
		if (memcmp(slot, s, offsetof(struct sev_cert, sig)) != 0)
			return attest_verdict_fail(v, -EBADMSG,
						   "%s: a second, different %s certificate", name,
						   attest_sev_usage_name(s->pubkey_usage));
		if (n_signatures(s) <= n_signatures(slot))
			return 0;
	}
	*slot = *s;
	*have = true;
	return 0;
}

static int place_amd(struct attest_sev_chain *c, const struct amd_cert *a, const char *name,
		     struct attest_verdict *v)
{
	bool is_ark = a->key_usage == 0x00;
	struct amd_cert *slot = is_ark ? &c->ark : &c->ask;
	bool *have = is_ark ? &c->have_ark : &c->have_ask;

	if (*have && memcmp(slot, a, sizeof(*a)) != 0)
		return attest_verdict_fail(v, -EBADMSG, "%s: a second, different %s certificate",
					   name, is_ark ? "ARK" : "ASK");
	*slot = *a;
	*have = true;
	return 0;
}

/* One certificate at buf: SEV format if it parses as one, else AMD format. */
static int add_one(struct attest_sev_chain *c, const uint8_t *buf, size_t len, const char *name,
		   size_t off, size_t *used, struct attest_verdict *v)
{
	struct attest_verdict why_sev = { .reason = "shorter than a SEV certificate (2084 bytes)" };
	struct attest_verdict why_amd = {0};
	struct sev_cert s;
	struct amd_cert a;

	if (len >= SEV_CERT_SIZE && attest_sev_cert_parse(buf, SEV_CERT_SIZE, &s, &why_sev) == 0) {
		*used = SEV_CERT_SIZE;
		return place_sev(c, &s, name, v);
	}
	if (attest_amd_cert_parse(buf, len, &a, used, &why_amd) == 0)
		return place_amd(c, &a, name, v);
	/* No SEV key usage at offset 8 (where an AMD cert has its key id): the AMD parser's
	 * reason (e.g. "has no signature") says more than the SEV attempt. */
	if (len >= AMD_CERT_HDR_SIZE &&
	    (get_le32(buf + 8) < SEV_USAGE_OCA || get_le32(buf + 8) > SEV_USAGE_CEK))
		return attest_verdict_fail(v, -EBADMSG, "%s: at byte %zu: %s", name, off,
					   why_amd.reason);
	return attest_verdict_fail(v, -EBADMSG, "%s: at byte %zu: not a SEV certificate (%s)", name,
				   off, why_sev.reason);
}

int attest_sev_chain_add_blob(struct attest_sev_chain *c, const uint8_t *buf, size_t len,
			      const char *name, struct attest_verdict *v)
{
	size_t off = 0;

	if (len == 0)
		return attest_verdict_fail(v, -EBADMSG, "%s: empty", name);
	while (off < len) {
		size_t used = 0;
		int r = add_one(c, buf + off, len - off, name, off, &used, v);
		if (r < 0)
			return r;
		off += used;
	}
	return 0;
}

/* ---- verification ---- */

struct chain_keys {
	EVP_PKEY *pek, *oca, *cek, *pdh;
};

static void chain_keys_free(struct chain_keys *k)
{
	EVP_PKEY_free(k->pek);
	EVP_PKEY_free(k->oca);
	EVP_PKEY_free(k->cek);
	EVP_PKEY_free(k->pdh);
}

static int need(const struct attest_sev_chain *c, unsigned flags, struct attest_verdict *v)
{
	if (!c->have_pek)
		return attest_verdict_fail(v, 0, "the chain has no PEK certificate (pek.cert)");
	if (!c->have_oca)
		return attest_verdict_fail(v, 0, "the chain has no OCA certificate (oca.cert)");
	if (!c->have_cek)
		return attest_verdict_fail(v, 0, "the chain has no CEK certificate (cek.cert)");
	if (!c->have_pdh && !(flags & ATTEST_CHAIN_PDH_OPTIONAL))
		return attest_verdict_fail(v, 0, "the chain has no PDH certificate (pdh.cert)");
	return 1;
}

static int get_key(const struct sev_cert *s, const char *role, EVP_PKEY **k,
		   struct attest_verdict *v)
{
	int r = attest_sev_cert_pubkey(s, k);
	if (r == -EBADMSG)
		return attest_verdict_fail(
		    v, 0, "the %s's public key is malformed (not a valid key)", role);
	return r < 0 ? r : 1;
}

/* The platform links: subject, signer, the signer's usage (as the signature slot names it). */
static const struct {
	size_t subject, signer; /* offsets of the certificates in struct attest_sev_chain */
	const char *subject_name;
	uint32_t signer_usage;
} links_tab[ATTEST_LINK_MAX_] = {
	[ATTEST_LINK_OCA_SELF] = { offsetof(struct attest_sev_chain, oca),
				   offsetof(struct attest_sev_chain, oca), "OCA", SEV_USAGE_OCA },
	[ATTEST_LINK_PEK_BY_OCA] = { offsetof(struct attest_sev_chain, pek),
				     offsetof(struct attest_sev_chain, oca), "PEK", SEV_USAGE_OCA },
	[ATTEST_LINK_PEK_BY_CEK] = { offsetof(struct attest_sev_chain, pek),
				     offsetof(struct attest_sev_chain, cek), "PEK", SEV_USAGE_CEK },
	[ATTEST_LINK_PDH_BY_PEK] = { offsetof(struct attest_sev_chain, pdh),
				     offsetof(struct attest_sev_chain, pek), "PDH", SEV_USAGE_PEK },
};

static const struct sev_cert *link_cert(const struct attest_sev_chain *c, size_t off)
{
	return (const struct sev_cert *)((const uint8_t *)c + off);
}

/* Verify link i under key unless it is recorded already; records the outcome. */
static int link_verify(const struct attest_sev_chain *c, enum attest_sev_link i, EVP_PKEY *key,
		       struct attest_sev_link_result *res)
{
	struct attest_verdict why = {0};

	if (res->done)
		return res->r;
	res->r = attest_sev_cert_verify(link_cert(c, links_tab[i].subject),
					links_tab[i].signer_usage, key, &why);
	snprintf(res->why, sizeof(res->why), "%.120s", res->r == 0 ? why.reason : "");
	res->done = true;
	return res->r;
}

int attest_sev_chain_link(const struct attest_sev_chain *c, enum attest_sev_link link,
			  struct attest_sev_link_result *res)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;

	if (res->done)
		return res->r;
	if (attest_sev_cert_pubkey(link_cert(c, links_tab[link].signer), &key) < 0) {
		*res = (struct attest_sev_link_result){ .done = true, .r = 0,
							.why = "the signer's public key is unusable" };
		return 0;
	}
	return link_verify(c, link, key, res);
}

static int check_link(const struct attest_sev_chain *c, enum attest_sev_link i, EVP_PKEY *key,
		      struct attest_sev_link_result *links, struct attest_verdict *v)
{
	const char *subject = links_tab[i].subject_name;
	const char *signer = attest_sev_usage_name(links_tab[i].signer_usage);
	int r = link_verify(c, i, key, &links[i]);

	if (r < 0)
		return r;
	if (r == 0) {
		if (strcmp(subject, signer) == 0)
			return attest_verdict_fail(v, 0, "the %s is not self-signed: %s", subject,
						   links[i].why);
		return attest_verdict_fail(v, 0, "the %s is not signed by the %s: %s", subject,
					   signer, links[i].why);
	}
	return 1;
}

/* PDH ← PEK, OCA self, PEK ← OCA, PEK ← CEK: the platform's own links. */
static int platform_links(const struct attest_sev_chain *c, struct attest_sev_link_result *links,
			  struct attest_verdict *v)
{
	struct chain_keys k = {};
	int r;

	if ((r = get_key(&c->pek, "PEK", &k.pek, v)) <= 0 ||
	    (r = get_key(&c->oca, "OCA", &k.oca, v)) <= 0 ||
	    (r = get_key(&c->cek, "CEK", &k.cek, v)) <= 0)
		goto out;
	if (c->have_pdh && (r = check_link(c, ATTEST_LINK_PDH_BY_PEK, k.pek, links, v)) <= 0)
		goto out;
	if (c->have_pdh && (r = get_key(&c->pdh, "PDH", &k.pdh, v)) <= 0)
		goto out;
	if ((r = check_link(c, ATTEST_LINK_OCA_SELF, k.oca, links, v)) <= 0 ||
	    (r = check_link(c, ATTEST_LINK_PEK_BY_OCA, k.oca, links, v)) <= 0 ||
	    (r = check_link(c, ATTEST_LINK_PEK_BY_CEK, k.cek, links, v)) <= 0)
		goto out;
	r = 1;
out:
	chain_keys_free(&k);
	return r;
}

static bool same_amd_key(const struct amd_cert *a, const struct amd_cert *b)
{
	return a->modulus_bits == b->modulus_bits && a->pubexp_bits == b->pubexp_bits &&
	       memcmp(a->key_id, b->key_id, 16) == 0 &&
	       memcmp(a->modulus, b->modulus, a->modulus_bits / 8) == 0 &&
	       memcmp(a->pubexp, b->pubexp, a->pubexp_bits / 8) == 0;
}

static void reached(struct attest_verdict *v, const struct attest_sev_root *root)
{
	v->ok = true;
	snprintf(v->root_gen, sizeof(v->root_gen), "%s", root->gen);
	v->root_emulated = root->emulated;
	v->root_amd_known = root->amd_known;
	snprintf(v->reason, sizeof(v->reason), "chain verified up to the %s%s ARK (%s)", root->gen,
		 root->emulated ? " (EMULATED, not AMD)" : "", root->origin);
}

/* Try one root: the chain's ASK (if any) must be signed by this root's ARK, and the CEK by that
 * ASK (or, without one in the chain, by the root's own ASK). why receives the first failure. */
static int try_root(const struct attest_sev_chain *c, const struct attest_sev_root *root,
		    struct attest_verdict *why, const char **failed_link)
{
	const struct amd_cert *ask = c->have_ask ? &c->ask : root->has_ask ? &root->ask : NULL;
	int r;

	if (!ask) {
		*failed_link = "no ASK (neither in the chain nor in the root)";
		return 0;
	}
	if (c->have_ask) {
		r = attest_amd_cert_verify(&c->ask, &root->ark, why);
		if (r <= 0) {
			*failed_link = "the ASK is not signed by the ARK";
			return r;
		}
	}
	r = attest_amd_verify_cek(&c->cek, ask, why);
	if (r == 0)
		*failed_link = "the CEK is not signed by the ASK";
	return r;
}

/* With an ARK in the chain: it must be self-signed and be one of the roots. */
static int find_chain_ark(const struct attest_sev_chain *c, const struct attest_roots *roots,
			  const struct attest_sev_root **ret, struct attest_verdict *v)
{
	struct attest_verdict why = {0};
	int r = attest_amd_cert_verify(&c->ark, &c->ark, &why);

	if (r < 0)
		return r;
	if (r == 0)
		return attest_verdict_fail(v, 0, "the ARK is not self-signed: %s", why.reason);
	for (size_t i = 0; i < attest_roots_sev_count(roots); i++) {
		const struct attest_sev_root *root = attest_roots_sev_get(roots, i);
		if (same_amd_key(&root->ark, &c->ark)) {
			*ret = root;
			return 1;
		}
	}
	_cleanup_free_ char *id = hex_encode(c->ark.key_id, 16);
	return attest_verdict_fail(
	    v, 0,
	    "the chain's ARK (key id %s) is not one of the trusted roots (%s); "
	    "add AMD's ask_ark_<gen>.cert to the roots directory, or name an "
	    "emulator root explicitly",
	    id ? id : "?", attest_roots_sev_list(roots));
}

static int amd_links(const struct attest_sev_chain *c, const struct attest_roots *roots,
		     struct attest_verdict *v)
{
	const struct attest_sev_root *only = NULL;
	struct attest_verdict why = {0};
	const char *failed = NULL;
	int r;

	if (!has_signer(&c->cek, SEV_USAGE_ASK))
		return attest_verdict_fail(
		    v, 0,
		    "the CEK carries no ASK signature (PDH_CERT_EXPORT returns it "
		    "unsigned; the signed CEK comes from AMD's key server: "
		    "sevadm fetch cek)");
	if (attest_roots_sev_count(roots) == 0)
		return attest_verdict_fail(v, 0,
					   "no trusted SEV roots are loaded: put AMD's "
					   "ask_ark_<gen>.cert in the roots directory");
	if (c->have_ark && (r = find_chain_ark(c, roots, &only, v)) <= 0)
		return r;
	for (size_t i = 0; i < attest_roots_sev_count(roots); i++) {
		const struct attest_sev_root *root = attest_roots_sev_get(roots, i);
		struct attest_verdict w = {0};
		const char *f = NULL;
		if (only && root != only)
			continue;
		r = try_root(c, root, &w, &f);
		if (r < 0)
			return r;
		if (r == 1) {
			reached(v, root);
			return 1;
		}
		/* With one candidate root, or once the chain's ASK was accepted by a root's ARK,
		 * this failure is the answer; otherwise another generation may still match. */
		bool decisive = only || attest_roots_sev_count(roots) == 1 ||
				(c->have_ask && strstr(f, "CEK"));
		if (decisive && !failed)
			why = w, failed = f;
	}
	if (failed)
		return attest_verdict_fail(v, 0, "%s%s%s", failed, why.reason[0] ? ": " : "",
					   why.reason);
	if (c->have_ask)
		return attest_verdict_fail(v, 0,
					   "the ASK is not signed by any trusted ARK (tried %s)",
					   attest_roots_sev_list(roots));
	return attest_verdict_fail(v, 0, "the CEK is not signed by any trusted ASK (tried %s)",
				   attest_roots_sev_list(roots));
}

int attest_sev_chain_verify_links(const struct attest_sev_chain *c,
				  const struct attest_roots *roots, unsigned flags,
				  struct attest_verdict *v,
				  struct attest_sev_link_result links[ATTEST_LINK_MAX_])
{
	int r;

	memset(v, 0, sizeof(*v));
	if ((r = need(c, flags, v)) <= 0 || (r = platform_links(c, links, v)) <= 0)
		return r;
	return amd_links(c, roots, v);
}

int attest_sev_chain_verify(const struct attest_sev_chain *c, const struct attest_roots *roots,
			    unsigned flags, struct attest_verdict *v)
{
	struct attest_sev_link_result links[ATTEST_LINK_MAX_] = {};

	return attest_sev_chain_verify_links(c, roots, flags, v, links);
}
