/* SEV-SNP X.509 chain: parsing of AMD's certificates (DER, PEM, the KDS cert_chain stack),
 * verification of each link with exactly AMD's signature scheme (RSASSA-PSS, SHA-384,
 * MGF1-SHA-384, salt 48: spec 57230 §2.2), the VCEK extensions, and the VCEK ↔ report binding.
 * Trusts no certificate by itself: only a caller-supplied ARK anchors a chain. Known traps we
 * avoid on purpose (SEV-FACTS §10): the TCB compared is REPORTED_TCB, not CURRENT_TCB
 * (snpguest#32); Turin's hwID is 8 bytes and is still compared, never skipped (snpguest#159). */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "attest/snp-chain.h"
#include "common/ossl.h"
#include "common/util.h"

#define AMD_OID_BASE "1.3.6.1.4.1.3704.1."

DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_OBJECT *, ASN1_OBJECT_free)

int attest_snp_cert_parse(const uint8_t *buf, size_t len, X509 **ret, struct attest_verdict *v)
{
	const unsigned char *p = buf;
	X509 *x = NULL;

	if (!buf || len == 0 || len > 64 * 1024)
		return attest_verdict_reject(v, "empty or oversized certificate", -EBADMSG);
	if (len > 10 && memcmp(buf, "-----BEGIN", 10) == 0) {
		_cleanup_(BIO_free_allp) BIO *b = BIO_new_mem_buf(buf, (int)len);

		x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	} else {
		x = d2i_X509(NULL, &p, (long)len);
		if (x && p != buf + len) { /* trailing bytes: not one DER certificate */
			X509_free(x);
			x = NULL;
		}
	}
	ERR_clear_error();
	if (!x)
		return attest_verdict_reject(v, "not a valid X.509 certificate (DER or PEM)",
					     -EBADMSG);
	*ret = x;
	return 0;
}

static bool is_self_signed(X509 *x)
{
	return X509_check_issued(x, x) == X509_V_OK;
}

int attest_snp_cert_chain_parse(const uint8_t *buf, size_t len, X509 **ret_ask, X509 **ret_ark,
				struct attest_verdict *v)
{
	_cleanup_(BIO_free_allp) BIO *b = NULL;
	_cleanup_(X509_freep) X509 *c1 = NULL, *c2 = NULL, *c3 = NULL;

	if (!buf || len == 0 || len > 256 * 1024)
		return attest_verdict_reject(v, "empty or oversized certificate chain", -EBADMSG);
	b = BIO_new_mem_buf(buf, (int)len);
	if (!b)
		return -ENOMEM;
	c1 = PEM_read_bio_X509(b, NULL, NULL, NULL);
	c2 = c1 ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	c3 = c2 ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	ERR_clear_error();
	if (!c1 || !c2 || c3)
		return attest_verdict_reject(
		    v, "a cert_chain file holds exactly two PEM certificates (ASK, then ARK)",
		    -EBADMSG);
	if (is_self_signed(c1) && !is_self_signed(c2)) {
		*ret_ark = TAKE_PTR(c1);
		*ret_ask = TAKE_PTR(c2);
	} else {
		*ret_ask = TAKE_PTR(c1);
		*ret_ark = TAKE_PTR(c2);
	}
	ERR_clear_error();
	return 0;
}

/* "ARK-Milan", "SEV-Milan", "SEV-VLEK-Milan": the generation is the last dash-separated word. */
static enum snp_gen gen_from_name(X509_NAME *n)
{
	char cn[128];
	const char *dash;

	if (!n || X509_NAME_get_text_by_NID(n, NID_commonName, cn, sizeof cn) <= 0)
		return SNP_GEN_UNKNOWN;
	dash = strrchr(cn, '-');
	return attest_snp_gen_from_name(dash ? dash + 1 : cn);
}

static bool subject_cn_is(X509 *x, const char *want)
{
	char cn[128];

	if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn) <= 0)
		return false;
	return strcmp(cn, want) == 0;
}

enum snp_gen attest_snp_cert_gen(X509 *cert)
{
	if (subject_cn_is(cert, "SEV-VCEK") || subject_cn_is(cert, "SEV-VLEK"))
		return gen_from_name(X509_get_issuer_name(cert));
	return gen_from_name(X509_get_subject_name(cert));
}

/* The TBSCertificate exactly as received: the first element of the outer SEQUENCE of the
 * certificate's (cached, original) DER. Re-encoding it instead could hide a non-canonical
 * encoding that was never signed. */
static int tbs_span(const unsigned char *der, long der_len, const unsigned char **ret,
		    long *ret_len)
{
	const unsigned char *p = der, *start;
	long len;
	int tag, xclass;

	if (ASN1_get_object(&p, &len, &tag, &xclass, der_len) & 0x80 || tag != V_ASN1_SEQUENCE)
		return -EBADMSG;
	start = p;
	if (ASN1_get_object(&p, &len, &tag, &xclass, der_len - (p - der)) & 0x80 ||
	    tag != V_ASN1_SEQUENCE)
		return -EBADMSG;
	*ret = start;
	*ret_len = (p - start) + len;
	return 0;
}

/* Verify the signature with AMD's parameters fixed here, not taken from the certificate, so
 * that a certificate declaring weaker parameters cannot pass. */
static int pss_sha384_verify(X509 *cert, EVP_PKEY *key)
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	const ASN1_BIT_STRING *sig = NULL;
	const X509_ALGOR *alg = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const unsigned char *tbs;
	unsigned char *der = NULL;
	long tbs_len;
	int der_len, ok;

	if (!mctx)
		return -ENOMEM;
	X509_get0_signature(&sig, &alg, cert);
	der_len = i2d_X509(cert, &der);
	/* A signature is whole octets: a BIT STRING with unused bits is not one AMD made, even
	 * when OpenSSL's masking would leave the same value. */
	if (!sig || ((sig->flags & ASN1_STRING_FLAG_BITS_LEFT) && (sig->flags & 0x07)) ||
	    der_len <= 0 || tbs_span(der, der_len, &tbs, &tbs_len) < 0) {
		OPENSSL_free(der);
		ERR_clear_error();
		return 0;
	}
	ok = EVP_DigestVerifyInit(mctx, &pctx, EVP_sha384(), NULL, key) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
	     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1 &&
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1 &&
	     EVP_DigestVerify(mctx, ASN1_STRING_get0_data(sig), (size_t)ASN1_STRING_length(sig),
			      tbs, (size_t)tbs_len) == 1;
	OPENSSL_free(der);
	ERR_clear_error();
	return ok;
}

static int md_nid(const X509_ALGOR *a)
{
	const ASN1_OBJECT *obj = NULL;

	X509_ALGOR_get0(&obj, NULL, NULL, a);
	return obj ? OBJ_obj2nid(obj) : NID_undef;
}

/* Do the certificate's declared RSASSA-PSS parameters say what AMD's are (SHA-384, MGF1 with
 * SHA-384, salt 48, trailer 1), read as OpenSSL reads them for X509_verify (RFC 4055: an
 * absent field takes its default -- SHA-1, MGF1-SHA-1, 20, 1 -- a hash's own parameters are
 * ignored), and is the outer signature algorithm the one inside the signed part? With both,
 * X509_verify with the declared parameters and pss_sha384_verify with AMD's fixed ones check
 * the same thing, so the signature is verified once (pss_sha384_verify). */
static bool pss_params_amd(X509 *cert)
{
	const X509_ALGOR *outer = NULL, *mgf;
	const ASN1_OBJECT *obj = NULL;
	const void *pval = NULL;
	RSA_PSS_PARAMS *pss = NULL;
	X509_ALGOR *mask_md = NULL;
	int ptype = V_ASN1_UNDEF;
	bool ok;

	X509_get0_signature(NULL, &outer, cert);
	if (!outer || X509_ALGOR_cmp(outer, X509_get0_tbs_sigalg(cert)) != 0)
		return false;
	X509_ALGOR_get0(&obj, &ptype, &pval, outer);
	if (OBJ_obj2nid(obj) != NID_rsassaPss || ptype != V_ASN1_SEQUENCE)
		return false;
	pss = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_PSS_PARAMS), outer->parameter);
	mgf = pss ? pss->maskGenAlgorithm : NULL;
	if (mgf && md_nid(mgf) == NID_mgf1)
		mask_md = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR), mgf->parameter);
	ok = pss && pss->hashAlgorithm && md_nid(pss->hashAlgorithm) == NID_sha384 && mask_md &&
	     md_nid(mask_md) == NID_sha384 && pss->saltLength &&
	     ASN1_INTEGER_get(pss->saltLength) == 48 &&
	     (!pss->trailerField || ASN1_INTEGER_get(pss->trailerField) == 1);
	X509_ALGOR_free(mask_md);
	RSA_PSS_PARAMS_free(pss);
	ERR_clear_error();
	return ok;
}

static int check_validity(X509 *cert, const char *what, struct attest_verdict *why)
{
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0)
		return attest_verdict_fail(why, 0,
					   "%s: not yet valid (notBefore is in the future)", what);
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0)
		return attest_verdict_fail(why, 0, "%s: expired (notAfter has passed)", what);
	return 1;
}

int attest_snp_verify_link(X509 *cert, X509 *issuer, const char *what, struct attest_verdict *why)
{
	EVP_PKEY *key = X509_get0_pubkey(issuer);
	int k;

	if (!key || !EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_get_bits(key) != 4096)
		return attest_verdict_fail(why, 0,
					   "%s: the signer's key is not RSA-4096 (not an AMD "
					   "ARK/ASK)", what);
	if (X509_check_issued(issuer, cert) != X509_V_OK)
		return attest_verdict_fail(why, 0,
					   "%s: issuer name does not match the signer's subject "
					   "(a certificate of another generation or product?)",
					   what);
	if (X509_get_signature_nid(cert) != NID_rsassaPss)
		return attest_verdict_fail(why, 0,
					   "%s: signature algorithm is not RSASSA-PSS", what);
	/* What X509_verify would add (the declared parameters, the outer algorithm equal to the
	 * signed inner one) without a second RSA verification. */
	k = pss_params_amd(cert) ? pss_sha384_verify(cert, key) : 0;
	if (k < 0)
		return k;
	if (k != 1)
		return attest_verdict_fail(why, 0,
					   "%s: RSASSA-PSS SHA-384 (salt 48) signature does not "
					   "verify", what);
	return check_validity(cert, what, why);
}

static const char *leaf_name(X509 *leaf)
{
	return subject_cn_is(leaf, "SEV-VLEK") ? "VLEK signed by ASK" : "VCEK signed by ASK";
}

int attest_snp_chain_verify(X509 *trusted_ark, X509 *ask, X509 *leaf,
			    struct snp_chain_verdict *ret)
{
	struct snp_chain_verdict *v = ret;
	int k;

	*v = (struct snp_chain_verdict){ .ark_self_signed = -1, .ask_by_ark = -1,
					 .leaf_by_ask = -1 };
	v->gen = attest_snp_cert_gen(trusted_ark);
	k = attest_snp_verify_link(trusted_ark, trusted_ark, "ARK self-signature", &v->verdict);
	if (k < 0)
		return k;
	v->ark_self_signed = k;
	if (k == 0 || !ask)
		return k;
	if (attest_snp_cert_gen(ask) != v->gen) {
		v->ask_by_ark = 0;
		return attest_verdict_fail(&v->verdict, 0,
					   "ASK signed by ARK: the ASK is for %s, the trusted "
					   "ARK for %s",
					   attest_snp_gen_name(attest_snp_cert_gen(ask)),
					   attest_snp_gen_name(v->gen));
	}
	k = attest_snp_verify_link(ask, trusted_ark, "ASK signed by ARK", &v->verdict);
	if (k < 0)
		return k;
	v->ask_by_ark = k;
	if (k == 0 || !leaf)
		return k;
	k = attest_snp_verify_link(leaf, ask, leaf_name(leaf), &v->verdict);
	if (k < 0)
		return k;
	v->leaf_by_ask = k;
	return k;
}

/* ---- VCEK extensions ---- */

static ASN1_OCTET_STRING *find_ext(X509 *x, const char *oid_suffix)
{
	char oid[64];
	_cleanup_(ASN1_OBJECT_freep) ASN1_OBJECT *obj = NULL;
	int idx;

	snprintf(oid, sizeof oid, AMD_OID_BASE "%s", oid_suffix);
	obj = OBJ_txt2obj(oid, 1);
	if (!obj)
		return NULL;
	idx = X509_get_ext_by_OBJ(x, obj, -1);
	if (idx < 0)
		return NULL;
	return X509_EXTENSION_get_data(X509_get_ext(x, idx));
}

/* An SPL extension: a DER INTEGER in 0..255. 1 present, 0 absent, -EBADMSG malformed. */
static int ext_spl(X509 *x, const char *oid_suffix, uint8_t *ret)
{
	ASN1_OCTET_STRING *os = find_ext(x, oid_suffix);
	const unsigned char *p;
	ASN1_INTEGER *i;
	int64_t v = -1;

	if (!os)
		return 0;
	p = ASN1_STRING_get0_data(os);
	i = d2i_ASN1_INTEGER(NULL, &p, ASN1_STRING_length(os));
	if (!i || p != ASN1_STRING_get0_data(os) + ASN1_STRING_length(os) ||
	    ASN1_INTEGER_get_int64(&v, i) != 1 || v < 0 || v > 255) {
		ASN1_INTEGER_free(i);
		ERR_clear_error();
		return -EBADMSG;
	}
	ASN1_INTEGER_free(i);
	*ret = (uint8_t)v;
	return 1;
}

static int ext_product_name(X509 *x, char *out, size_t out_len)
{
	ASN1_OCTET_STRING *os = find_ext(x, "2");
	const unsigned char *p;
	ASN1_IA5STRING *s;

	out[0] = 0;
	if (!os)
		return 0;
	p = ASN1_STRING_get0_data(os);
	s = d2i_ASN1_IA5STRING(NULL, &p, ASN1_STRING_length(os));
	if (!s) {
		ERR_clear_error();
		return -EBADMSG;
	}
	snprintf(out, out_len, "%.*s", ASN1_STRING_length(s), ASN1_STRING_get0_data(s));
	ASN1_IA5STRING_free(s);
	for (char *c = out; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	return 1;
}

/* "Milan-B0" → Milan, "Turin" → Turin. */
static enum snp_gen gen_from_product(const char *product)
{
	char word[32];
	size_t n = strcspn(product, "-");

	if (n == 0 || n >= sizeof word)
		return SNP_GEN_UNKNOWN;
	memcpy(word, product, n);
	word[n] = 0;
	return attest_snp_gen_from_name(word);
}

static int read_spls(X509 *x, struct snp_vcek_info *v, struct attest_verdict *why)
{
	static const struct {
		const char *oid, *name;
		size_t has_off, val_off;
	} spls[] = {
		{ "3.1", "blSPL", offsetof(struct snp_vcek_info, has_bl), offsetof(struct snp_vcek_info, bl) },
		{ "3.2", "teeSPL", offsetof(struct snp_vcek_info, has_tee), offsetof(struct snp_vcek_info, tee) },
		{ "3.3", "snpSPL", offsetof(struct snp_vcek_info, has_snp), offsetof(struct snp_vcek_info, snp) },
		{ "3.8", "ucodeSPL", offsetof(struct snp_vcek_info, has_ucode), offsetof(struct snp_vcek_info, ucode) },
		{ "3.9", "fmcSPL", offsetof(struct snp_vcek_info, has_fmc), offsetof(struct snp_vcek_info, fmc) },
	};

	for (size_t i = 0; i < ELEMENTSOF(spls); i++) {
		int k = ext_spl(x, spls[i].oid, (uint8_t *)v + spls[i].val_off);

		if (k < 0)
			return attest_verdict_fail(why, k,
						   "VCEK extension %s (" AMD_OID_BASE "%s) is not "
						   "a DER INTEGER in 0..255",
						   spls[i].name, spls[i].oid);
		*((bool *)((uint8_t *)v + spls[i].has_off)) = k == 1;
	}
	return 0;
}

int attest_snp_vcek_info(X509 *vcek, struct snp_vcek_info *ret, struct attest_verdict *why)
{
	struct snp_vcek_info *v = ret;
	ASN1_OCTET_STRING *hw;
	int k;

	memset(v, 0, sizeof *v);
	v->is_vlek = subject_cn_is(vcek, "SEV-VLEK");
	k = ext_product_name(vcek, v->product_name, sizeof v->product_name);
	if (k < 0)
		return attest_verdict_fail(why, k,
					   "VCEK extension productName (" AMD_OID_BASE "2) is "
					   "malformed");
	v->gen = gen_from_product(v->product_name);
	if (v->gen == SNP_GEN_UNKNOWN)
		v->gen = gen_from_name(X509_get_issuer_name(vcek));
	k = read_spls(vcek, v, why);
	if (k < 0)
		return k;
	/* hwID is the raw chip id, not DER-wrapped: 64 bytes, or 8 on Turin. */
	hw = find_ext(vcek, "4");
	if (hw) {
		int n = ASN1_STRING_length(hw);

		if (n != 64 && n != 8)
			return attest_verdict_fail(why, -EBADMSG,
						   "VCEK extension hwID (" AMD_OID_BASE "4) has %d "
						   "bytes; expected 64 (8 on Turin)",
						   n);
		memcpy(v->hwid, ASN1_STRING_get0_data(hw), (size_t)n);
		v->hwid_len = (size_t)n;
	}
	return 0;
}

static int check_tcb(const struct snp_vcek_info *v, const struct snp_tcb *t,
		     struct attest_verdict *why)
{
	const struct {
		const char *name;
		bool has;
		uint8_t cert, report;
	} f[] = {
		{ "blSPL", v->has_bl, v->bl, t->bootloader },
		{ "teeSPL", v->has_tee, v->tee, t->tee },
		{ "snpSPL", v->has_snp, v->snp, t->snp },
		{ "ucodeSPL", v->has_ucode, v->ucode, t->microcode },
		{ "fmcSPL", v->has_fmc, v->fmc, t->fmc },
	};
	size_t n = t->has_fmc ? ELEMENTSOF(f) : ELEMENTSOF(f) - 1;

	for (size_t i = 0; i < n; i++) {
		if (!f[i].has)
			return attest_verdict_fail(why, 0,
						   "VCEK TCB: the certificate has no %s extension",
						   f[i].name);
		if (f[i].cert != f[i].report)
			return attest_verdict_fail(why, 0,
						   "VCEK TCB: %s is %u in the certificate but %u "
						   "in the report's REPORTED_TCB (fetch the VCEK "
						   "for the reported TCB)",
						   f[i].name, f[i].cert, f[i].report);
	}
	return 1;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int check_hwid(const struct snp_vcek_info *v, const struct snp_report *r,
		      struct attest_verdict *why)
{
	size_t n = v->hwid_len;

	if (n == 0)
		return attest_verdict_fail(why, 0,
					   "VCEK hwID: the certificate has no hwID extension");
	if (n == 8 && v->gen != SNP_GEN_TURIN)
		return attest_verdict_fail(why, 0,
					   "VCEK hwID: 8-byte hwID on a %s VCEK (only Turin uses "
					   "8 bytes)", attest_snp_gen_name(v->gen));
	if (all_zero(r->chip_id, sizeof r->chip_id))
		return attest_verdict_fail(why, 0,
					   "VCEK hwID: the report's CHIP_ID is zero (masked by "
					   "the host), so the VCEK cannot be bound to this chip");
	if (memcmp(v->hwid, r->chip_id, n) != 0)
		return attest_verdict_fail(why, 0,
					   "VCEK hwID: the certificate's hwID (%zu bytes) differs "
					   "from the report's CHIP_ID: a VCEK of another chip", n);
	return 1;
}

int attest_snp_vcek_check_report(const struct snp_vcek_info *v, const struct snp_report *r,
				 bool *ret_hwid_checked, struct attest_verdict *why)
{
	struct snp_tcb reported;

	*ret_hwid_checked = false;
	if (v->gen == SNP_GEN_UNKNOWN)
		return attest_verdict_fail(why, 0, "VCEK: its product generation is unknown");
	if (r->gen != SNP_GEN_UNKNOWN && r->gen != v->gen)
		return attest_verdict_fail(why, 0,
					   "VCEK: it is a %s certificate but the report comes "
					   "from %s",
					   attest_snp_gen_name(v->gen),
					   attest_snp_gen_name(r->gen));
	/* Decode with the certificate's generation: a version-2 report does not name its own. */
	attest_snp_tcb_decode(r->reported_tcb.raw, v->gen, &reported);
	if (!check_tcb(v, &reported, why))
		return 0;
	if (v->is_vlek)
		return 1; /* a VLEK is bound to a cloud provider, not to a chip: no hwID */
	*ret_hwid_checked = true;
	return check_hwid(v, r, why);
}

int attest_snp_vcek_kds_path(const struct snp_report *r, enum snp_gen gen, char **ret,
			     struct attest_verdict *v)
{
	_cleanup_free_ char *hwid = NULL;
	struct snp_tcb t;
	char fmc[24] = "";
	char *path = NULL;
	size_t hwid_len;

	if (gen == SNP_GEN_UNKNOWN)
		gen = r->gen;
	if (gen == SNP_GEN_UNKNOWN)
		return attest_verdict_reject(v,
					     "the report does not say its product generation "
					     "(version 2 has no CPUID fields): name it (Milan, "
					     "Genoa or Turin)",
					     -EINVAL);
	hwid_len = gen == SNP_GEN_TURIN ? 8 : 64;
	if (all_zero(r->chip_id, hwid_len))
		return attest_verdict_reject(
		    v, "the report's CHIP_ID is zero (masked by the host): no VCEK can be chosen",
		    -EINVAL);
	attest_snp_tcb_decode(r->reported_tcb.raw, gen, &t);
	hwid = hex_encode(r->chip_id, hwid_len);
	if (!hwid)
		return -ENOMEM;
	if (gen == SNP_GEN_TURIN)
		snprintf(fmc, sizeof fmc, "&fmcSPL=%u", t.fmc);
	if (asprintf(&path, "/vcek/v1/%s/%s?blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u%s",
		     attest_snp_gen_name(gen), hwid, t.bootloader, t.tee, t.snp, t.microcode,
		     fmc) < 0)
		return -ENOMEM;
	*ret = path;
	return 0;
}
