/* SEV certificates (SEV API 55766, appendix C "Certificate Format"): parse and validate the
 * fixed 0x824-byte layout, build and sign certificates (the emulator's key hierarchy, the guest
 * owner's GODH), and verify one certificate under one signer. Every multi-byte number in the
 * format is little-endian; OpenSSL wants big-endian, so conversion happens only at the
 * boundary functions below. Trusts nothing: every input is checked before use. */
#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "attest/sev-cert.h"
#include "attest/verdict.h"
#include "common/ossl.h"
#include "common/util.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "struct sev_cert is the wire layout: little-endian hosts only (SEV is x86)");

#define RSA_MAX_BYTES 512u

const EVP_MD *attest_sev_algo_md(uint32_t algo)
{
	switch (algo) {
	case SEV_ALGO_RSA_SHA256:
	case SEV_ALGO_ECDSA_SHA256:
	case SEV_ALGO_ECDH_SHA256:
		return EVP_sha256();
	case SEV_ALGO_RSA_SHA384:
	case SEV_ALGO_ECDSA_SHA384:
	case SEV_ALGO_ECDH_SHA384:
		return EVP_sha384();
	default:
		return NULL;
	}
}

const char *attest_sev_algo_name(uint32_t algo)
{
	switch (algo) {
	case SEV_ALGO_INVALID: return "none";
	case SEV_ALGO_RSA_SHA256: return "RSA-SHA256";
	case SEV_ALGO_ECDSA_SHA256: return "ECDSA-SHA256";
	case SEV_ALGO_ECDH_SHA256: return "ECDH-SHA256";
	case SEV_ALGO_RSA_SHA384: return "RSA-SHA384";
	case SEV_ALGO_ECDSA_SHA384: return "ECDSA-SHA384";
	case SEV_ALGO_ECDH_SHA384: return "ECDH-SHA384";
	default: return "unknown";
	}
}

const char *attest_sev_usage_name(uint32_t usage)
{
	switch (usage) {
	case SEV_USAGE_ARK: return "ARK";
	case SEV_USAGE_ASK: return "ASK";
	case SEV_USAGE_NONE: return "none";
	case SEV_USAGE_OCA: return "OCA";
	case SEV_USAGE_PEK: return "PEK";
	case SEV_USAGE_PDH: return "PDH";
	case SEV_USAGE_CEK: return "CEK";
	default: return "unknown";
	}
}

static bool algo_is_rsa(uint32_t a)
{
	return a == SEV_ALGO_RSA_SHA256 || a == SEV_ALGO_RSA_SHA384;
}
static bool algo_is_ecdsa(uint32_t a)
{
	return a == SEV_ALGO_ECDSA_SHA256 || a == SEV_ALGO_ECDSA_SHA384;
}
static bool algo_is_ecdh(uint32_t a)
{
	return a == SEV_ALGO_ECDH_SHA256 || a == SEV_ALGO_ECDH_SHA384;
}

static size_t curve_bytes(uint32_t curve)
{
	return curve == SEV_ECC_CURVE_P256 ? 32 : curve == SEV_ECC_CURVE_P384 ? 48 : 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* ---- key conversion ---- */

/* A public key of type ("RSA", "EC") from the parameters in bld into *ret (untouched on failure):
 * 0, -ENOMEM, or -EBADMSG when OpenSSL refuses them. */
static int pubkey_fromdata(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **ret)
{
	_cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx =
	    EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;

	if (!params || !ctx)
		return -ENOMEM;
	if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		ERR_clear_error();
		return -EBADMSG;
	}
	*ret = TAKE_PTR(pkey);
	return 0;
}

int attest_rsa_pubkey_from_le(const uint8_t *pubexp, size_t pubexp_len, const uint8_t *modulus,
			      size_t modulus_len, EVP_PKEY **ret)
{
	_cleanup_(BN_freep) BIGNUM *n = BN_lebin2bn(modulus, (int)modulus_len, NULL);
	_cleanup_(BN_freep) BIGNUM *e = BN_lebin2bn(pubexp, (int)pubexp_len, NULL);
	_cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();

	if (!n || !e || !bld)
		return -ENOMEM;
	/* An even modulus or an exponent < 3 is no RSA key; refuse before OpenSSL sees it. */
	if (!BN_is_odd(n) || BN_num_bits(n) < 1024 || !BN_is_odd(e) || BN_is_one(e))
		return -EBADMSG;
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		return -ENOMEM;
	return pubkey_fromdata("RSA", bld, ret);
}

int attest_ec_pubkey_from_le(uint32_t curve, const uint8_t *qx, const uint8_t *qy, EVP_PKEY **ret)
{
	size_t cb = curve_bytes(curve);
	uint8_t point[1 + 2 * 48];
	_cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *check = NULL;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
	int r;

	if (cb == 0)
		return -EBADMSG;
	/* Coordinates are cb bytes; the rest of each 72-byte field must be zero. */
	if (!all_zero(qx + cb, SEV_ECC_COORD_SIZE - cb) || !all_zero(qy + cb, SEV_ECC_COORD_SIZE - cb))
		return -EBADMSG;
	point[0] = 0x04; /* uncompressed point, SEC 1 §2.3.3 */
	memcpy(point + 1, qx, cb);
	memrev(point + 1, cb);
	memcpy(point + 1 + cb, qy, cb);
	memrev(point + 1 + cb, cb);

	bld = OSSL_PARAM_BLD_new();
	if (!bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					     curve == SEV_ECC_CURVE_P256 ? "P-256" : "P-384", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * cb))
		return -ENOMEM;
	r = pubkey_fromdata("EC", bld, &pkey);
	if (r < 0)
		return r;
	/* An off-curve point would make ECDH leak the private key (invalid-curve attack). The
	 * quick check (coordinates in range, on the curve, not the point at infinity) is the
	 * whole validation for P-256 and P-384: their cofactor is 1, so every point on the curve
	 * has the group's prime order and the full check's n*Q == O (SEC 1 v2 §3.2.2.1 step 4,
	 * needed only when h != 1) always holds -- it cost a scalar multiplication, as much as
	 * an ECDSA verification, for every key of every chain. */
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!check)
		return -ENOMEM;
	if (EVP_PKEY_public_check_quick(check) != 1) {
		ERR_clear_error();
		return -EBADMSG;
	}
	*ret = TAKE_PTR(pkey);
	return 0;
}

/* Fill le[0, cap) with the BIGNUM parameter `name` of key, little-endian. */
int attest_key_bn_le(EVP_PKEY *key, const char *name, uint8_t *le, size_t cap)
{
	_cleanup_(BN_freep) BIGNUM *bn = NULL;

	if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
		ERR_clear_error();
		return -EINVAL;
	}
	if ((size_t)BN_num_bytes(bn) > cap || BN_bn2lebinpad(bn, le, (int)cap) < 0)
		return -E2BIG;
	return 0;
}

/* ---- signatures ---- */

static int sig_le_to_be(const uint8_t *sig_le, size_t len, uint8_t **ret)
{
	uint8_t *be = malloc(len);
	if (!be)
		return -ENOMEM;
	memcpy(be, sig_le, len);
	memrev(be, len);
	*ret = be;
	return 0;
}

static int pss_setup(EVP_PKEY_CTX *pctx, const EVP_MD *md)
{
	if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) <= 0)
		return -EIO;
	return 0;
}

int attest_rsa_pss_verify_le(EVP_PKEY *key, const EVP_MD *md, const uint8_t *data, size_t len,
			     const uint8_t *sig_le, size_t sig_len)
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	_cleanup_free_ uint8_t *be = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	int r;

	if (!mctx)
		return -ENOMEM;
	if (!EVP_PKEY_is_a(key, "RSA") || (size_t)EVP_PKEY_get_size(key) != sig_len)
		return 0; /* wrong key type or size: cannot be this signer's signature */
	r = sig_le_to_be(sig_le, sig_len, &be);
	if (r < 0)
		return r;
	if (EVP_DigestVerifyInit(mctx, &pctx, md, NULL, key) != 1 || pss_setup(pctx, md) < 0) {
		ERR_clear_error();
		return -EIO;
	}
	r = EVP_DigestVerify(mctx, be, sig_len, data, len);
	ERR_clear_error();
	return r == 1;
}

int attest_rsa_pss_sign_le(EVP_PKEY *key, const EVP_MD *md, const uint8_t *data, size_t len,
			   uint8_t *sig_le, size_t sig_len)
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	size_t out = sig_len;

	if (!mctx)
		return -ENOMEM;
	if (!EVP_PKEY_is_a(key, "RSA") || (size_t)EVP_PKEY_get_size(key) != sig_len)
		return -EINVAL;
	if (EVP_DigestSignInit(mctx, &pctx, md, NULL, key) != 1 || pss_setup(pctx, md) < 0 ||
	    EVP_DigestSign(mctx, sig_le, &out, data, len) != 1 || out != sig_len) {
		ERR_clear_error();
		return -EIO;
	}
	memrev(sig_le, sig_len);
	return 0;
}

int attest_ecdsa_verify_le(EVP_PKEY *key, const EVP_MD *md, const uint8_t *data, size_t len,
			   const uint8_t r_le[72], const uint8_t s_le[72])
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	_cleanup_(ECDSA_SIG_freep) ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_lebin2bn(r_le, SEV_ECC_COORD_SIZE, NULL);
	BIGNUM *s = BN_lebin2bn(s_le, SEV_ECC_COORD_SIZE, NULL);
	unsigned char *der = NULL;
	int der_len, ok;

	if (!mctx || !sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
		BN_free(r);
		BN_free(s);
		return -ENOMEM;
	}
	if (!EVP_PKEY_is_a(key, "EC"))
		return 0;
	der_len = i2d_ECDSA_SIG(sig, &der);
	if (der_len <= 0)
		return -ENOMEM;
	if (EVP_DigestVerifyInit(mctx, NULL, md, NULL, key) != 1) {
		OPENSSL_free(der);
		ERR_clear_error();
		return -EIO;
	}
	ok = EVP_DigestVerify(mctx, der, (size_t)der_len, data, len) == 1;
	OPENSSL_free(der);
	ERR_clear_error();
	return ok;
}

int attest_ecdsa_sign_le(EVP_PKEY *key, const EVP_MD *md, const uint8_t *data, size_t len,
			 uint8_t r_le[72], uint8_t s_le[72])
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	_cleanup_(ECDSA_SIG_freep) ECDSA_SIG *sig = NULL;
	_cleanup_free_ uint8_t *der = NULL;
	const unsigned char *p;
	const BIGNUM *r, *s;
	size_t der_len = 0;

	if (!mctx)
		return -ENOMEM;
	if (!EVP_PKEY_is_a(key, "EC"))
		return -EINVAL;
	if (EVP_DigestSignInit(mctx, NULL, md, NULL, key) != 1 ||
	    EVP_DigestSign(mctx, NULL, &der_len, data, len) != 1)
		goto fail;
	der = malloc(der_len);
	if (!der)
		return -ENOMEM;
	if (EVP_DigestSign(mctx, der, &der_len, data, len) != 1)
		goto fail;
	p = der;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (!sig)
		goto fail;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2lebinpad(r, r_le, SEV_ECC_COORD_SIZE) < 0 ||
	    BN_bn2lebinpad(s, s_le, SEV_ECC_COORD_SIZE) < 0)
		goto fail;
	return 0;
fail:
	ERR_clear_error();
	return -EIO;
}

/* ---- parsing ---- */

static bool usage_is_subject(uint32_t u)
{
	return u == SEV_USAGE_OCA || u == SEV_USAGE_PEK || u == SEV_USAGE_PDH || u == SEV_USAGE_CEK;
}

static bool usage_is_signer(uint32_t u)
{
	return u == SEV_USAGE_ARK || u == SEV_USAGE_ASK || u == SEV_USAGE_OCA ||
	       u == SEV_USAGE_PEK || u == SEV_USAGE_CEK;
}

/* The public key area: ECC (curve, qx, qy) or RSA (bits, pubexp, modulus). */
static const char *check_pubkey(const struct sev_cert *c)
{
	const uint8_t *k = c->pubkey;

	if (algo_is_rsa(c->pubkey_algo)) {
		uint32_t bits = get_le32(k);
		if (bits != 2048 && bits != 3072 && bits != 4096)
			return "RSA modulus size is not 2048, 3072 or 4096 bits";
		if (!all_zero(k + 4 + 512 + bits / 8, 512 - bits / 8))
			return "RSA modulus is larger than its declared size";
		return NULL;
	}
	size_t cb = curve_bytes(get_le32(k));
	if (cb == 0)
		return "ECC curve is neither P-256 nor P-384";
	if (!all_zero(k + 4 + cb, SEV_ECC_COORD_SIZE - cb) ||
	    !all_zero(k + 4 + SEV_ECC_COORD_SIZE + cb, SEV_ECC_COORD_SIZE - cb))
		return "ECC coordinate is larger than the curve";
	return NULL;
}

static const char *check_sig_slot(const struct sev_cert_sig *s)
{
	if (s->usage == SEV_USAGE_NONE)
		return NULL; /* empty slot (a CSR, or a cert with one signer) */
	if (!usage_is_signer(s->usage))
		return "signature slot names an unknown signer usage";
	if (!algo_is_rsa(s->algo) && !algo_is_ecdsa(s->algo))
		return "signature slot has an unknown signature algorithm";
	return NULL;
}

int attest_sev_cert_parse(const uint8_t *buf, size_t len, struct sev_cert *ret,
			  struct attest_verdict *v)
{
	const char *why = NULL;
	struct sev_cert c;

	if (len != SEV_CERT_SIZE)
		return attest_verdict_reject(
		    v, "size is not 2084 bytes (0x824), the size of a SEV certificate", -EBADMSG);
	memcpy(&c, buf, sizeof(c));
	if (c.version != 1)
		why = "version is not 1";
	else if (!usage_is_subject(c.pubkey_usage))
		why = "key usage is not OCA, PEK, PDH or CEK";
	else if (!algo_is_rsa(c.pubkey_algo) && !algo_is_ecdsa(c.pubkey_algo) &&
		 !algo_is_ecdh(c.pubkey_algo))
		why = "key algorithm is unknown";
	else if ((c.pubkey_usage == SEV_USAGE_PDH) != algo_is_ecdh(c.pubkey_algo))
		why = "key algorithm does not fit the usage (a PDH is ECDH, other keys sign)";
	else if (c.pubkey_usage != SEV_USAGE_OCA && algo_is_rsa(c.pubkey_algo))
		why = "only an OCA may have an RSA key";
	else if (!(why = check_pubkey(&c)) && !(why = check_sig_slot(&c.sig[0])))
		why = check_sig_slot(&c.sig[1]);
	if (why)
		return attest_verdict_reject(v, why, -EBADMSG);
	*ret = c;
	return 0;
}

int attest_sev_cert_pubkey(const struct sev_cert *c, EVP_PKEY **ret)
{
	const uint8_t *k = c->pubkey;

	if (algo_is_rsa(c->pubkey_algo)) {
		uint32_t bits = get_le32(k);
		if (bits == 0 || bits > 4096 || bits % 8)
			return -EBADMSG;
		return attest_rsa_pubkey_from_le(k + 4, RSA_MAX_BYTES, k + 4 + RSA_MAX_BYTES, bits / 8,
						 ret);
	}
	if (algo_is_ecdsa(c->pubkey_algo) || algo_is_ecdh(c->pubkey_algo))
		return attest_ec_pubkey_from_le(get_le32(k), k + 4, k + 4 + SEV_ECC_COORD_SIZE, ret);
	return -EBADMSG;
}

/* ---- building and signing ---- */

static int fill_pubkey(struct sev_cert *c, EVP_PKEY *pub)
{
	uint8_t *k = c->pubkey;

	if (EVP_PKEY_is_a(pub, "RSA")) {
		int bits = EVP_PKEY_get_bits(pub);
		if (bits <= 0 || bits > 4096 || bits % 8)
			return -EINVAL;
		put_le32(k, (uint32_t)bits);
		int r = attest_key_bn_le(pub, OSSL_PKEY_PARAM_RSA_E, k + 4, RSA_MAX_BYTES);
		return r < 0 ? r
			     : attest_key_bn_le(pub, OSSL_PKEY_PARAM_RSA_N, k + 4 + RSA_MAX_BYTES,
						RSA_MAX_BYTES);
	}
	if (EVP_PKEY_is_a(pub, "EC")) {
		char group[32];
		uint32_t curve;
		if (EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group,
						   sizeof(group), NULL) != 1)
			return -EINVAL;
		if (strcmp(group, "P-384") == 0 || strcmp(group, "secp384r1") == 0)
			curve = SEV_ECC_CURVE_P384;
		else if (strcmp(group, "P-256") == 0 || strcmp(group, "prime256v1") == 0)
			curve = SEV_ECC_CURVE_P256;
		else
			return -EOPNOTSUPP;
		put_le32(k, curve);
		int r = attest_key_bn_le(pub, OSSL_PKEY_PARAM_EC_PUB_X, k + 4, curve_bytes(curve));
		return r < 0 ? r
			     : attest_key_bn_le(pub, OSSL_PKEY_PARAM_EC_PUB_Y,
						k + 4 + SEV_ECC_COORD_SIZE, curve_bytes(curve));
	}
	return -EOPNOTSUPP;
}

int attest_sev_cert_init(struct sev_cert *c, uint8_t api_major, uint8_t api_minor,
			 uint32_t usage, uint32_t algo, EVP_PKEY *pub)
{
	int r;

	if (!usage_is_subject(usage) || !attest_sev_algo_md(algo))
		return -EINVAL;
	if (algo_is_rsa(algo) != EVP_PKEY_is_a(pub, "RSA"))
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->version = 1;
	c->api_major = api_major;
	c->api_minor = api_minor;
	c->pubkey_usage = usage;
	c->pubkey_algo = algo;
	/* Empty slots read "usage none, algorithm invalid", as firmware leaves them. */
	c->sig[0].usage = c->sig[1].usage = SEV_USAGE_NONE;
	r = fill_pubkey(c, pub);
	if (r < 0)
		ERR_clear_error();
	return r;
}

int attest_sev_cert_sign(struct sev_cert *c, int slot, uint32_t signer_usage, uint32_t algo,
			 EVP_PKEY *signer_key)
{
	const EVP_MD *md = attest_sev_algo_md(algo);
	struct sev_cert_sig *s;
	int r;

	if (slot < 0 || slot > 1 || !md || !usage_is_signer(signer_usage))
		return -EINVAL;
	s = &c->sig[slot];
	memset(s, 0, sizeof(*s));
	if (algo_is_rsa(algo)) {
		size_t n = (size_t)EVP_PKEY_get_size(signer_key);
		if (n == 0 || n > sizeof(s->sig))
			return -EINVAL;
		r = attest_rsa_pss_sign_le(signer_key, md, (const uint8_t *)c, SEV_CERT_SIGNED_LEN,
					   s->sig, n);
	} else if (algo_is_ecdsa(algo)) {
		r = attest_ecdsa_sign_le(signer_key, md, (const uint8_t *)c, SEV_CERT_SIGNED_LEN,
					 s->sig, s->sig + SEV_ECC_COORD_SIZE);
	} else
		return -EINVAL;
	if (r < 0) {
		memset(s, 0, sizeof(*s));
		s->usage = SEV_USAGE_NONE;
		return r;
	}
	s->usage = signer_usage;
	s->algo = algo;
	return 0;
}

/* ---- verification ---- */

static const struct sev_cert_sig *find_slot(const struct sev_cert *c, uint32_t usage)
{
	for (size_t i = 0; i < ELEMENTSOF(c->sig); i++)
		if (c->sig[i].usage == usage)
			return &c->sig[i];
	return NULL;
}

int attest_sev_cert_verify(const struct sev_cert *c, uint32_t signer_usage, EVP_PKEY *signer_key,
			   struct attest_verdict *v)
{
	const struct sev_cert_sig *s = find_slot(c, signer_usage);
	int r;

	if (!s || signer_usage == SEV_USAGE_NONE)
		return attest_verdict_reject(v, "no signature slot names this signer", 0);
	if (algo_is_rsa(s->algo)) {
		if (!EVP_PKEY_is_a(signer_key, "RSA"))
			return attest_verdict_reject(
			    v, "signature is RSA but the signer's key is not", 0);
		size_t n = (size_t)EVP_PKEY_get_size(signer_key);
		r = n <= sizeof(s->sig) ? attest_rsa_pss_verify_le(signer_key,
								   attest_sev_algo_md(s->algo),
								   (const uint8_t *)c,
								   SEV_CERT_SIGNED_LEN, s->sig, n)
					: 0;
	} else if (algo_is_ecdsa(s->algo)) {
		if (!EVP_PKEY_is_a(signer_key, "EC"))
			return attest_verdict_reject(
			    v, "signature is ECDSA but the signer's key is not EC", 0);
		r = attest_ecdsa_verify_le(signer_key, attest_sev_algo_md(s->algo),
					   (const uint8_t *)c, SEV_CERT_SIGNED_LEN, s->sig,
					   s->sig + SEV_ECC_COORD_SIZE);
	} else {
		return attest_verdict_reject(v, "signature slot has no signing algorithm", 0);
	}
	if (r < 0)
		return r;
	if (r == 0)
		return attest_verdict_reject(v, "signature does not verify", 0);
	return 1;
}
