/* The emulated SNP root and the VCEK certificates, as AMD's Key Distribution Service serves
 * them (AMD "Versioned Chip Endorsement Key" spec 57230; the real Milan chain and VCEK in
 * shared/vectors/snp): ARK (RSA-4096, self-signed, CN=ARK-Milan) → ASK (RSA-4096, CN=SEV-Milan)
 * → VCEK (P-384, CN=SEV-VCEK), every signature RSASSA-PSS with SHA-384, MGF1-SHA-384, salt 48.
 * The VCEK certificate carries AMD's extensions under 1.3.6.1.4.1.3704.1: structVersion (.1),
 * productName (.2, "Milan-B0"), blSPL .3.1, teeSPL .3.2, spl4..7 .3.4-.3.7, snpSPL .3.3,
 * ucodeSPL .3.8 (DER INTEGERs), fmcSPL .3.9 (Turin), hwID .4 (the raw chip id bytes: 64, 8 on
 * Turin), in the real VCEKs' order. --snp-product picks the part (ARK-Genoa, ARK-Turin, ...).
 *
 * The root is the emulator's, not AMD's: its organization says so, and verifiers accept it only
 * when told (sevadm --emulator-root). Its keys are made on first use (two RSA-4096 keys: seconds)
 * and kept beside the NV file in NV.snp-root-GEN (mode 0600: PEM private keys and certificates), so
 * the chain stays the same across restarts. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/ossl.h"
#include "common/util.h"
#include "psp/emu/snp.h"

#define ROOT_FILE_MAX (64u * 1024)
#define VALID_DAYS (25 * 365)

DEFINE_TRIVIAL_CLEANUP_FUNC(X509_NAME *, X509_NAME_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_OBJECT *, ASN1_OBJECT_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_OCTET_STRING *, ASN1_OCTET_STRING_free)

struct emu_snp_root {
	EVP_PKEY *ark_key, *ask_key, *asvk_key;
	X509 *ark, *ask, *asvk; /* asvk: made on first use (an older root file has none) */
};

void emu_snp_root_free(struct emu_snp_root *r)
{
	if (!r)
		return;
	EVP_PKEY_free(r->ark_key);
	EVP_PKEY_free(r->ask_key);
	EVP_PKEY_free(r->asvk_key);
	X509_free(r->ark);
	X509_free(r->ask);
	X509_free(r->asvk);
	free(r);
}

static X509_NAME *amd_name(const char *cn)
{
	static const char *const rdn[][2] = {
		{ "OU", "Engineering" }, { "C", "US" }, { "L", "Santa Clara" }, { "ST", "CA" },
		{ "O", "sev-psp-emu (emulated, not AMD)" },
	};
	X509_NAME *n = X509_NAME_new();

	for (size_t i = 0; n && i < ELEMENTSOF(rdn); i++)
		if (!X509_NAME_add_entry_by_txt(n, rdn[i][0], MBSTRING_UTF8,
						(const unsigned char *)rdn[i][1], -1, -1, 0))
			goto fail;
	if (n && X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					    -1, 0))
		return n;
fail:
	X509_NAME_free(n);
	return NULL;
}

/* RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48: AMD's signature on every link. */
static int pss_sign(X509 *x, EVP_PKEY *key)
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;

	if (!c || EVP_DigestSignInit(c, &pc, EVP_sha384(), NULL, key) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 48) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha384()) != 1 || X509_sign_ctx(x, c) <= 0)
		return -EIO;
	return 0;
}

static int cert_new(const char *subject_cn, X509_NAME *issuer, EVP_PKEY *pub, X509 **ret)
{
	_cleanup_(X509_NAME_freep) X509_NAME *subj = amd_name(subject_cn);
	X509 *x = X509_new();

	if (!x || !subj || X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 0) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -86400) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), (long)VALID_DAYS * 86400) ||
	    X509_set_subject_name(x, subj) != 1 ||
	    X509_set_issuer_name(x, issuer ? issuer : subj) != 1 || X509_set_pubkey(x, pub) != 1) {
		X509_free(x);
		return -EIO;
	}
	*ret = x;
	return 0;
}

static int root_generate(struct emu_snp_root *r, const char *gen)
{
	char ark_cn[16], ask_cn[16];
	X509_NAME *ark_name;

	snprintf(ark_cn, sizeof(ark_cn), "ARK-%s", gen);
	snprintf(ask_cn, sizeof(ask_cn), "SEV-%s", gen);
	log_info("Making the emulated SEV-SNP root (ARK and ASK, RSA-4096): this takes seconds");
	r->ark_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	r->ask_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	if (!r->ark_key || !r->ask_key || cert_new(ark_cn, NULL, r->ark_key, &r->ark) < 0 ||
	    pss_sign(r->ark, r->ark_key) < 0)
		return -EIO;
	ark_name = X509_get_subject_name(r->ark);
	if (cert_new(ask_cn, ark_name, r->ask_key, &r->ask) < 0 ||
	    pss_sign(r->ask, r->ark_key) < 0)
		return -EIO;
	return 0;
}

static int root_save(const struct emu_snp_root *r, const char *path)
{
	_cleanup_(BIO_free_allp) BIO *b = BIO_new(BIO_s_secmem());
	char *data = NULL;
	long n;

	if (!b || PEM_write_bio_PrivateKey(b, r->ark_key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_PrivateKey(b, r->ask_key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_X509(b, r->ark) != 1 || PEM_write_bio_X509(b, r->ask) != 1)
		return -EIO;
	if (r->asvk && (PEM_write_bio_PrivateKey(b, r->asvk_key, NULL, NULL, 0, NULL, NULL) != 1 ||
			PEM_write_bio_X509(b, r->asvk) != 1))
		return -EIO;
	n = BIO_get_mem_data(b, &data);
	return write_file_atomic(path, data, (size_t)n, 0600);
}

static int root_load(struct emu_snp_root *r, const char *path)
{
	_cleanup_(BIO_free_allp) BIO *b = NULL;
	uint8_t *buf = NULL;
	size_t n = 0;
	int e = read_full_file(path, ROOT_FILE_MAX, &buf, &n);

	if (e < 0)
		return e;
	b = BIO_new_mem_buf(buf, (int)n);
	if (b) {
		r->ark_key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		r->ask_key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		r->ark = PEM_read_bio_X509(b, NULL, NULL, NULL);
		r->ask = PEM_read_bio_X509(b, NULL, NULL, NULL);
		/* optional, after the four: the ASVK's key and certificate */
		r->asvk_key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		r->asvk = r->asvk_key ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		ERR_clear_error();
	}
	OPENSSL_cleanse(buf, n);
	free(buf);
	if (!r->ark_key || !r->ask_key || !r->ark || !r->ask ||
	    X509_check_private_key(r->ark, r->ark_key) != 1 ||
	    X509_check_private_key(r->ask, r->ask_key) != 1 || !r->asvk_key != !r->asvk ||
	    (r->asvk && X509_check_private_key(r->asvk, r->asvk_key) != 1))
		return -EBADMSG;
	return 0;
}

/* The root, loaded from NV.snp-root or made (and saved) on first use. NULL on failure. */
static struct emu_snp_root *root_get(struct emu_fw *fw)
{
	_cleanup_free_ char *path = NULL;
	struct emu_snp_root *r;
	int e;

	if (fw->snp->root)
		return fw->snp->root;
	r = calloc(1, sizeof(*r));
	if (!r || asprintf(&path, "%s.snp-root-%s", fw->nv_path, fw->snp->product->gen) < 0) {
		free(r);
		return NULL;
	}
	e = root_load(r, path);
	if (e == -ENOENT) {
		e = root_generate(r, fw->snp->product->gen);
		if (e == 0 && (e = root_save(r, path)) < 0)
			log_error_errno(e, "Failed to write %s: %m", path);
	} else if (e < 0) {
		log_error("The emulated SNP root %s is refused (%s): move it away to make a new "
			  "one",
			  path, e == -EBADMSG ? "keys and certificates do not parse or match" :
						"cannot be read");
	}
	if (e < 0) {
		emu_snp_root_free(r);
		return NULL;
	}
	fw->snp->root = r;
	return r;
}

/* The AMD SEV VLEK Key (ASVK): the intermediate that certifies VLEKs, signed by the ARK like
 * the ASK (RSA-4096, RSASSA-PSS SHA-384), CN=SEV-VLEK-<Gen> as on AMD's KDS
 * (/vlek/v1/Milan/cert_chain: SEV-VLEK-Milan then ARK-Milan; virtee/sev's ASVK tests). Made on
 * first use and added to NV.snp-root-GEN, so a root file from before keeps its ARK and ASK. */
static struct emu_snp_root *asvk_get(struct emu_fw *fw)
{
	struct emu_snp_root *r = root_get(fw);
	_cleanup_free_ char *path = NULL;
	char cn[24];
	int e;

	if (!r || r->asvk)
		return r;
	if (asprintf(&path, "%s.snp-root-%s", fw->nv_path, fw->snp->product->gen) < 0)
		return NULL;
	snprintf(cn, sizeof(cn), "SEV-VLEK-%s", fw->snp->product->gen);
	log_info("Making the emulated ASVK (RSA-4096): this takes seconds");
	r->asvk_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	if (!r->asvk_key ||
	    cert_new(cn, X509_get_subject_name(r->ark), r->asvk_key, &r->asvk) < 0 ||
	    pss_sign(r->asvk, r->ark_key) < 0) {
		EVP_PKEY_free(r->asvk_key);
		X509_free(r->asvk);
		r->asvk_key = NULL;
		r->asvk = NULL;
		return NULL;
	}
	e = root_save(r, path);
	if (e < 0)
		log_error_errno(e, "Failed to write %s: %m", path);
	return r;
}

/* One VCEK extension: OID 1.3.6.1.4.1.3704.1.<sub>, value the given DER (or raw) bytes. */
static int add_ext(X509 *x, const char *sub, const uint8_t *val, int len)
{
	_cleanup_(ASN1_OBJECT_freep) ASN1_OBJECT *o = NULL;
	_cleanup_(ASN1_OCTET_STRING_freep) ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e;
	char oid[64];
	int ok;

	snprintf(oid, sizeof(oid), "1.3.6.1.4.1.3704.1.%s", sub);
	o = OBJ_txt2obj(oid, 1);
	if (!o || !s || ASN1_OCTET_STRING_set(s, val, len) != 1)
		return -ENOMEM;
	e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, s);
	ok = e && X509_add_ext(x, e, -1) == 1;
	X509_EXTENSION_free(e);
	return ok ? 0 : -EIO;
}

static int add_int_ext(X509 *x, const char *sub, uint8_t v)
{
	const uint8_t der[3] = { 0x02, 0x01, v };
	const uint8_t der2[4] = { 0x02, 0x02, 0x00, v }; /* a positive INTEGER >= 0x80 */

	return v < 0x80 ? add_ext(x, sub, der, 3) : add_ext(x, sub, der2, 4);
}

/* The VCEK extensions in the order of the vectors' real VCEKs: Milan (and Genoa) structVersion
 * 0, productName, blSPL, teeSPL, spl4..7, snpSPL, ucodeSPL, hwID (64 bytes); Turin structVersion
 * 1, productName, fmcSPL, blSPL, teeSPL, snpSPL, spl5..7, ucodeSPL, hwID (8 bytes). */
static int vcek_exts(X509 *x, const struct emu_snp_product_info *p, const struct emu_snp_tcb *t,
		     const uint8_t id[64])
{
	size_t n = strlen(p->product_name);
	uint8_t ia5[2 + 32];
	int e;

	ia5[0] = 0x16; /* IA5String */
	ia5[1] = (uint8_t)n;
	memcpy(ia5 + 2, p->product_name, n);
	e = add_int_ext(x, "1", p->struct_version);
	if (!e)
		e = add_ext(x, "2", ia5, (int)n + 2);
	if (!e && p->turin_tcb)
		e = add_int_ext(x, "3.9", t->fmc);
	if (!e)
		e = add_int_ext(x, "3.1", t->bl);
	if (!e)
		e = add_int_ext(x, "3.2", t->tee);
	if (!e && p->turin_tcb)
		e = add_int_ext(x, "3.3", t->snp);
	for (int i = p->turin_tcb ? 5 : 4; !e && i <= 7; i++) {
		char sub[8];

		snprintf(sub, sizeof(sub), "3.%d", i);
		e = add_int_ext(x, sub, 0);
	}
	if (!e && !p->turin_tcb)
		e = add_int_ext(x, "3.3", t->snp);
	if (!e)
		e = add_int_ext(x, "3.8", t->ucode);
	if (!e)
		e = add_ext(x, "4", id, p->turin_tcb ? 8 : 64);
	return e;
}

static int vcek_cert(struct emu_fw *fw, struct emu_snp_root *r, uint64_t tcb, X509 **ret)
{
	const struct emu_snp_product_info *p = fw->snp->product;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
	struct emu_snp_tcb t;
	uint8_t id[64];
	X509 *x = NULL;

	emu_snp_tcb_unpack(tcb, p->turin_tcb, &t);
	if (emu_snp_vcek(fw->snp->seed, tcb, &k) < 0 || emu_chip_get_id(&fw->nv.chip, id) < 0 ||
	    cert_new("SEV-VCEK", X509_get_subject_name(r->ask), k, &x) < 0)
		return -EIO;
	if (vcek_exts(x, p, &t, id) < 0 || pss_sign(x, r->ask_key) < 0) {
		X509_free(x);
		return -EIO;
	}
	*ret = x;
	return 0;
}

static int der_out(X509 *x, uint8_t *out, size_t cap, size_t *len)
{
	int n = i2d_X509(x, NULL);

	if (n <= 0 || (size_t)n > cap)
		return -ENOBUFS;
	i2d_X509(x, &out);
	*len = (size_t)n;
	return 0;
}

/* CTL `snp-cert-refuse on|off` (test-only): the key server below refuses (EAGAIN) or serves. */
int emu_snp_ctl_cert_refuse(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	if (!arg || (strcmp(arg, "on") && strcmp(arg, "off"))) {
		*len = (size_t)snprintf((char *)out, cap, "snp-cert-refuse takes on or off");
		return -EINVAL;
	}
	fw->cfg.snp_cert_refuse = strcmp(arg, "on") == 0;
	*len = (size_t)snprintf((char *)out, cap, "snp-cert-refuse %s", arg);
	return 0;
}

/* The ARK's certificate revocation list, as AMD's KDS serves it at /vcek/v1/{Gen}/crl (VCEK
 * spec 57230): X.509 v2 CRL issued and RSASSA-PSS-signed by the ARK, issued a day ago, next
 * update in 7 days; it lists nothing, or with revoke_ask the ASK's (and ASVK's) serial. */
static int crl_der(const struct emu_snp_root *r, bool revoke_ask, uint8_t *out, size_t cap,
		   size_t *len)
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *c = EVP_MD_CTX_new();
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	EVP_PKEY_CTX *pc = NULL;
	X509_REVOKED *rv = NULL;
	int n, e = -EIO;

	if (!c || !crl || !t || X509_CRL_set_version(crl, 1) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(r->ark)) != 1 ||
	    !X509_gmtime_adj(t, -86400) || X509_CRL_set1_lastUpdate(crl, t) != 1 ||
	    !X509_gmtime_adj(t, 7 * 86400) || X509_CRL_set1_nextUpdate(crl, t) != 1)
		goto out;
	if (revoke_ask) {
		if (!(rv = X509_REVOKED_new()) ||
		    X509_REVOKED_set_serialNumber(rv, X509_get_serialNumber(r->ask)) != 1 ||
		    !X509_gmtime_adj(t, -3600) || X509_REVOKED_set_revocationDate(rv, t) != 1 ||
		    X509_CRL_add0_revoked(crl, rv) != 1)
			goto out;
		rv = NULL;
		X509_CRL_sort(crl);
	}
	if (EVP_DigestSignInit(c, &pc, EVP_sha384(), NULL, r->ark_key) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 48) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha384()) != 1 || X509_CRL_sign_ctx(crl, c) <= 0)
		goto out;
	n = i2d_X509_CRL(crl, NULL);
	e = -ENOBUFS;
	if (n <= 0 || (size_t)n > cap)
		goto out;
	i2d_X509_CRL(crl, &out);
	*len = (size_t)n;
	e = 0;
out:
	X509_REVOKED_free(rv);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	return e;
}

/* CTL `snp-cert ark|ask|asvk|vcek[:TCB]|crl[:revoke-ask]`: DER, as the KDS hands out the VCEK
 * (for the reported TCB, or the TCB given), the cert_chains' certificates and the ARK's CRL
 * (revoke-ask: one that lists the ASK, for tests of a revoked chain). */
int emu_snp_ctl_cert(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	struct emu_snp_root *r;
	X509 *x = NULL;
	uint64_t tcb;
	int e;

	if (!emu_snp_get(fw)) {
		*len = (size_t)snprintf((char *)out, cap, "snp-cert: SNP is off (--snp)");
		return -EOPNOTSUPP;
	}
	if (fw->cfg.snp_cert_refuse) {
		*len = (size_t)snprintf((char *)out, cap, "snp-cert: the key server is not ready "
					"(refused for tests: --snp-cert-refuse; CTL 'snp-cert-refuse "
					"off' opens it)");
		return -EAGAIN;
	}
	tcb = emu_snp_reported_tcb(fw->snp);
	if (arg && (strcmp(arg, "crl") == 0 || strcmp(arg, "crl:revoke-ask") == 0)) {
		if (!(r = root_get(fw)))
			return -EIO;
		return crl_der(r, arg[3] == ':', out, cap, len);
	}
	if (!arg ||
	    (strcmp(arg, "ark") && strcmp(arg, "ask") && strcmp(arg, "asvk") &&
	     strncmp(arg, "vcek", 4)) ||
	    (strncmp(arg, "vcek", 4) == 0 && arg[4] &&
	     (arg[4] != ':' || parse_u64(arg + 5, &tcb) < 0))) {
		*len = (size_t)snprintf((char *)out, cap, "snp-cert takes one of: ark ask asvk "
					"vcek vcek:TCB_VERSION crl crl:revoke-ask");
		return -EINVAL;
	}
	r = strcmp(arg, "asvk") == 0 ? asvk_get(fw) : root_get(fw);
	if (!r)
		return -EIO;
	if (strcmp(arg, "asvk") == 0)
		return der_out(r->asvk, out, cap, len);
	if (strcmp(arg, "ark") == 0)
		return der_out(r->ark, out, cap, len);
	if (strcmp(arg, "ask") == 0)
		return der_out(r->ask, out, cap, len);
	if (vcek_cert(fw, r, tcb, &x) < 0)
		return -EIO;
	e = der_out(x, out, cap, len);
	X509_free(x);
	return e;
}
