/* SEV-SNP chain rules the vectors cannot show, on certificates made here with OpenSSL: a VLEK
 * chain and a VLEK-signed report (no hwID, and the check says so instead of skipping silently);
 * a VCEK without hwID refused; a link signed with PSS salt 32, with PKCS#1 v1.5, or by an
 * RSA-2048 key refused even though each signature is mathematically valid; an expired VCEK
 * refused. The anchors are this test's own ARK, passed explicitly as the trusted root. */
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "attest/snp-chain.h"
#include "attest/snp-report.h"
#include "common/ossl.h"
#include "common/util.h"
#include "tests/testutil.h"

enum pad { PSS48, PSS32, PKCS1 };

static void add_ext(X509 *x, const char *oid, const uint8_t *der, size_t len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e;

	TU_CHECK(obj && os && ASN1_OCTET_STRING_set(os, der, (int)len), "ext %s", oid);
	e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	TU_CHECK(e && X509_add_ext(x, e, -1), "add ext %s", oid);
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
}

static void sign(X509 *x, EVP_PKEY *key, enum pad pad)
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	TU_CHECK(EVP_DigestSignInit(md, &pctx, EVP_sha384(), NULL, key) == 1, "sign init");
	if (pad != PKCS1) {
		TU_CHECK(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
				 EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1 &&
				 EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pad == PSS48 ? 48 : 32) == 1,
			 "pss params");
	}
	TU_CHECK(X509_sign_ctx(x, md) > 0, "X509_sign_ctx");
}

static X509 *make_cert(const char *cn, X509 *issuer, EVP_PKEY *pub, long not_after_days)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	TU_CHECK(x && n, "alloc");
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400L * 2);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * not_after_days);
	X509_set_pubkey(x, pub);
	X509_NAME_free(n);
	return x;
}

struct pki {
	EVP_PKEY *ark_key, *ask_key, *small_key, *leaf_key;
	X509 *ark, *ask;
};

static void leaf_exts(X509 *x, bool hwid)
{
	static const uint8_t name[] = { 0x16, 0x08, 'M', 'i', 'l', 'a', 'n', '-', 'B', '0' };
	static const uint8_t bl[] = { 2, 1, 3 }, tee[] = { 2, 1, 0 }, snp[] = { 2, 1, 8 },
			     ucode[] = { 2, 1, 0x73 };
	uint8_t hw[64];

	add_ext(x, "1.3.6.1.4.1.3704.1.2", name, sizeof name);
	add_ext(x, "1.3.6.1.4.1.3704.1.3.1", bl, sizeof bl);
	add_ext(x, "1.3.6.1.4.1.3704.1.3.2", tee, sizeof tee);
	add_ext(x, "1.3.6.1.4.1.3704.1.3.3", snp, sizeof snp);
	add_ext(x, "1.3.6.1.4.1.3704.1.3.8", ucode, sizeof ucode);
	memset(hw, 0x5a, sizeof hw);
	if (hwid)
		add_ext(x, "1.3.6.1.4.1.3704.1.4", hw, sizeof hw);
}

static X509 *make_leaf(struct pki *p, const char *cn, bool hwid, EVP_PKEY *signer, enum pad pad,
		       long days)
{
	X509 *x = make_cert(cn, p->ask, p->leaf_key, days);

	leaf_exts(x, hwid);
	sign(x, signer, pad);
	return x;
}

static void setup(struct pki *p)
{
	p->ark_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	p->ask_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	p->small_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	p->leaf_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	TU_CHECK(p->ark_key && p->ask_key && p->small_key && p->leaf_key, "keys");
	p->ark = make_cert("ARK-Milan", NULL, p->ark_key, 3650);
	sign(p->ark, p->ark_key, PSS48);
	p->ask = make_cert("SEV-Milan", p->ark, p->ask_key, 3650);
	sign(p->ask, p->ark_key, PSS48);
}

/* A report whose REPORTED_TCB is the leaf's, signed by the leaf key (KEY_INFO = key). */
static void signed_report(EVP_PKEY *key, uint32_t signing_key, struct snp_report *ret)
{
	uint8_t raw[SNP_REPORT_SIZE] = { 0 };
	const uint8_t tcb[8] = { 3, 0, 0, 0, 0, 0, 8, 0x73 };
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	_cleanup_(ECDSA_SIG_freep) ECDSA_SIG *sig = NULL;
	unsigned char der[256];
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	size_t len = sizeof der;
	struct attest_verdict why = {0};

	put_le32(raw, 2);
	put_le32(raw + 0x34, 1);
	put_le32(raw + 0x48, signing_key << 2);
	memcpy(raw + 0x180, tcb, 8);
	memset(raw + 0x1A0, 0x5a, 64);
	TU_CHECK(EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) == 1 &&
			 EVP_DigestSign(md, der, &len, raw, SNP_REPORT_SIGNED_LEN) == 1,
		 "sign the report");
	sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	TU_CHECK(sig, "DER signature");
	ECDSA_SIG_get0(sig, &r, &s);
	BN_bn2lebinpad(r, raw + 0x2A0, 72);
	BN_bn2lebinpad(s, raw + 0x2E8, 72);
	TU_CHECK(attest_snp_report_parse(raw, sizeof raw, SNP_GEN_MILAN, ret, &why) == 0, "%s",
		 why.reason);
}

static void test_vlek(struct pki *p)
{
	_cleanup_(X509_freep) X509 *vlek = make_leaf(p, "SEV-VLEK", false, p->ask_key, PSS48, 365);
	struct snp_chain_verdict v;
	struct snp_vcek_info info;
	struct snp_report r;
	struct attest_verdict rv = {0};
	struct attest_verdict why = {0};
	bool hw = true;

	TU_CHECK(attest_snp_chain_verify(p->ark, p->ask, vlek, &v) == 1, "VLEK chain: %s",
		 v.verdict.reason);
	TU_CHECK(attest_snp_vcek_info(vlek, &info, &why) == 0, "%s", why.reason);
	TU_CHECK(info.is_vlek && info.hwid_len == 0 && info.gen == SNP_GEN_MILAN, "VLEK info");
	signed_report(p->leaf_key, SNP_KEY_VLEK, &r);
	TU_CHECK_EQ(attest_snp_report_signing_key(&r), SNP_KEY_VLEK);
	TU_CHECK(attest_snp_report_verify(&r, p->leaf_key, &rv) == 1, "VLEK report: %s", rv.reason);
	TU_CHECK(attest_snp_vcek_check_report(&info, &r, &hw, &why) == 1, "%s", why.reason);
	TU_CHECK(!hw, "a VLEK has no hwID: the caller is told it was not compared");
}

static void test_vcek_without_hwid(struct pki *p)
{
	_cleanup_(X509_freep) X509 *vcek = make_leaf(p, "SEV-VCEK", false, p->ask_key, PSS48, 365);
	_cleanup_(X509_freep) X509 *good = make_leaf(p, "SEV-VCEK", true, p->ask_key, PSS48, 365);
	struct snp_vcek_info info;
	struct snp_report r;
	struct attest_verdict why = {0};
	bool hw;

	signed_report(p->leaf_key, SNP_KEY_VCEK, &r);
	TU_CHECK(attest_snp_vcek_info(good, &info, &why) == 0, "%s", why.reason);
	TU_CHECK(attest_snp_vcek_check_report(&info, &r, &hw, &why) == 1 && hw, "%s",
		 why.reason);
	TU_CHECK(attest_snp_vcek_info(vcek, &info, &why) == 0, "%s", why.reason);
	TU_CHECK(attest_snp_vcek_check_report(&info, &r, &hw, &why) == 0,
		 "a VCEK without hwID must not pass");
	TU_CHECK(strstr(why.reason, "hwID"), "reason: %s", why.reason);
}

/* Each of these signatures verifies under its own parameters; AMD's scheme is fixed, so all
 * are refused, with the link named. */
static void test_wrong_schemes(struct pki *p)
{
	static const struct {
		enum pad pad;
		bool small;
		long days;
		const char *reason;
	} cases[] = {
		{ PSS32, false, 365, "does not verify" },
		{ PKCS1, false, 365, "not RSASSA-PSS" },
		{ PSS48, true, 365, "RSA-4096" },
		{ PSS48, false, -1, "expired" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		EVP_PKEY *signer = cases[i].small ? p->small_key : p->ask_key;
		_cleanup_(X509_freep) X509 *issuer = NULL;
		_cleanup_(X509_freep) X509 *leaf = NULL;
		struct attest_verdict why = {0};

		if (cases[i].small) {
			issuer = make_cert("SEV-Milan", p->ark, p->small_key, 3650);
			sign(issuer, p->ark_key, PSS48);
		}
		leaf = make_cert("SEV-VCEK", issuer ? issuer : p->ask, p->leaf_key,
				 cases[i].days);
		leaf_exts(leaf, true);
		sign(leaf, signer, cases[i].pad);
		TU_CHECK(attest_snp_verify_link(leaf, issuer ? issuer : p->ask, "VCEK signed by ASK",
						&why) == 0,
			 "case %zu accepted", i);
		TU_CHECK(strstr(why.reason, cases[i].reason) && strstr(why.reason,
			 "VCEK signed by ASK"),
			 "case %zu reason: %s", i, why.reason);
	}
}

int main(void)
{
	struct pki p = {};

	setup(&p);
	test_vlek(&p);
	test_vcek_without_hwid(&p);
	test_wrong_schemes(&p);
	X509_free(p.ark);
	X509_free(p.ask);
	EVP_PKEY_free(p.ark_key);
	EVP_PKEY_free(p.ask_key);
	EVP_PKEY_free(p.small_key);
	EVP_PKEY_free(p.leaf_key);
	tu_done("test-snp-forged");
}
