/* SNP ID block and ID authentication structure (SNP ABI 56860: table 75 ID_BLOCK, table 76
 * ID_AUTH_INFO, chapter 10 for the ECDSA P-384 public key and signature formats). Offsets are
 * the ABI's; signing and verification are OpenSSL's (attest/sev-cert.h's little-endian
 * ECDSA helpers). */
#include "attest/snp-id.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>

#include "attest/sev-cert.h"
#include "common/ossl.h"
#include "common/util.h"

/* ID_BLOCK */
#define IB_LD 0x00
#define IB_FAMILY 0x30
#define IB_IMAGE 0x40
#define IB_VERSION 0x50
#define IB_SVN 0x54
#define IB_POLICY 0x58
/* ID_AUTH_INFO */
#define IA_ID_ALGO 0x000
#define IA_AUTH_ALGO 0x004
#define IA_BLOCK_SIG 0x040
#define IA_ID_KEY 0x240
#define IA_ID_KEY_SIG 0x680
#define IA_AUTHOR_KEY 0x880
/* Public key and signature */
#define PK_QX 0x04
#define PK_QY 0x4c
#define PK_END 0x94
#define SIG_R 0x00
#define SIG_S 0x48
#define SIG_END 0x90

void attest_snp_id_block_encode(const struct snp_id_block *b, uint8_t out[SNP_ID_BLOCK_SIZE])
{
	memset(out, 0, SNP_ID_BLOCK_SIZE);
	memcpy(out + IB_LD, b->ld, sizeof b->ld);
	memcpy(out + IB_FAMILY, b->family_id, 16);
	memcpy(out + IB_IMAGE, b->image_id, 16);
	put_le32(out + IB_VERSION, b->version);
	put_le32(out + IB_SVN, b->guest_svn);
	put_le64(out + IB_POLICY, b->policy);
}

int attest_snp_id_block_decode(const uint8_t *buf, size_t len, struct snp_id_block *ret,
			       struct attest_verdict *v)
{
	if (len != SNP_ID_BLOCK_SIZE)
		return attest_verdict_reject(v, "an ID block is 96 (0x60) bytes", -EBADMSG);
	memcpy(ret->ld, buf + IB_LD, sizeof ret->ld);
	memcpy(ret->family_id, buf + IB_FAMILY, 16);
	memcpy(ret->image_id, buf + IB_IMAGE, 16);
	ret->version = get_le32(buf + IB_VERSION);
	ret->guest_svn = get_le32(buf + IB_SVN);
	ret->policy = get_le64(buf + IB_POLICY);
	if (ret->version != 1)
		return attest_verdict_reject(v, "the ID block's VERSION is not 1", -EBADMSG);
	return 0;
}

static bool is_p384(EVP_PKEY *key)
{
	char group[32] = "";
	size_t n = 0;

	if (!EVP_PKEY_is_a(key, "EC") ||
	    EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
					   &n) != 1) {
		ERR_clear_error();
		return false;
	}
	return strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0;
}

static int coord_le(EVP_PKEY *key, const char *name, uint8_t out[72])
{
	_cleanup_(BN_freep) BIGNUM *bn = NULL;

	if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
		ERR_clear_error();
		return -EINVAL;
	}
	return BN_bn2lebinpad(bn, out, 72) == 72 ? 0 : -E2BIG;
}

int attest_snp_pubkey_encode(EVP_PKEY *key, uint8_t out[SNP_PUBKEY_SIZE])
{
	int r;

	if (!key || !is_p384(key))
		return -EINVAL;
	memset(out, 0, SNP_PUBKEY_SIZE);
	put_le32(out, SNP_CURVE_P384);
	if ((r = coord_le(key, OSSL_PKEY_PARAM_EC_PUB_X, out + PK_QX)) < 0 ||
	    (r = coord_le(key, OSSL_PKEY_PARAM_EC_PUB_Y, out + PK_QY)) < 0)
		return r;
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int attest_snp_pubkey_decode(const uint8_t in[SNP_PUBKEY_SIZE], EVP_PKEY **ret,
			     struct attest_verdict *v)
{
	int r;

	if (get_le32(in) != SNP_CURVE_P384)
		return attest_verdict_reject(v, "the public key's CURVE is not P-384 (2)", -EBADMSG);
	if (!all_zero(in + PK_END, SNP_PUBKEY_SIZE - PK_END))
		return attest_verdict_reject(v, "the public key's reserved bytes are not zero", -EBADMSG);
	r = attest_ec_pubkey_from_le(SEV_ECC_CURVE_P384, in + PK_QX, in + PK_QY, ret);
	if (r == -EBADMSG)
		return attest_verdict_reject(v, "the public key's point is not on P-384", r);
	return r;
}

int attest_snp_pubkey_digest(EVP_PKEY *key, uint8_t out[48])
{
	uint8_t pk[SNP_PUBKEY_SIZE];
	int r = attest_snp_pubkey_encode(key, pk);

	if (r < 0)
		return r;
	return EVP_Digest(pk, sizeof pk, out, NULL, EVP_sha384(), NULL) == 1 ? 0 : -EIO;
}

static int sign(EVP_PKEY *key, const uint8_t *data, size_t len, uint8_t sig[SNP_SIGNATURE_SIZE])
{
	memset(sig, 0, SNP_SIGNATURE_SIZE);
	return attest_ecdsa_sign_le(key, EVP_sha384(), data, len, sig + SIG_R, sig + SIG_S);
}

int attest_snp_id_auth_build(const uint8_t block[SNP_ID_BLOCK_SIZE], EVP_PKEY *id_key,
			     EVP_PKEY *author_key, uint8_t out[SNP_ID_AUTH_SIZE])
{
	int r;

	memset(out, 0, SNP_ID_AUTH_SIZE);
	put_le32(out + IA_ID_ALGO, SNP_ID_ALGO_ECDSA_P384_SHA384);
	if ((r = attest_snp_pubkey_encode(id_key, out + IA_ID_KEY)) < 0 ||
	    (r = sign(id_key, block, SNP_ID_BLOCK_SIZE, out + IA_BLOCK_SIG)) < 0)
		return r;
	if (!author_key)
		return 0;
	put_le32(out + IA_AUTH_ALGO, SNP_ID_ALGO_ECDSA_P384_SHA384);
	if ((r = attest_snp_pubkey_encode(author_key, out + IA_AUTHOR_KEY)) < 0)
		return r;
	return sign(author_key, out + IA_ID_KEY, SNP_PUBKEY_SIZE, out + IA_ID_KEY_SIG);
}

/* One signature of the ABI's format by the encoded key at pk: 1, 0 (reason), <0. */
static int verify_one(const uint8_t *pk, const uint8_t *data, size_t len, const uint8_t *sig,
		      const char *what_key, const char *what_sig, uint8_t digest[48],
		      struct attest_verdict *v)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	int r = attest_snp_pubkey_decode(pk, &key, v);

	if (r == -EBADMSG)
		return attest_verdict_reject(v, what_key, 0);
	if (r < 0)
		return r;
	if (!all_zero(sig + SIG_END, SNP_SIGNATURE_SIZE - SIG_END))
		return attest_verdict_reject(v, what_sig, 0);
	r = attest_ecdsa_verify_le(key, EVP_sha384(), data, len, sig + SIG_R, sig + SIG_S);
	if (r == 0)
		return attest_verdict_reject(v, what_sig, 0);
	if (r == 1 && EVP_Digest(pk, SNP_PUBKEY_SIZE, digest, NULL, EVP_sha384(), NULL) != 1)
		return -EIO;
	return r;
}

int attest_snp_id_verify(const uint8_t *block, size_t block_len, const uint8_t *auth,
			 size_t auth_len, bool author_key_en, uint8_t id_key_digest[48],
			 uint8_t author_key_digest[48], struct attest_verdict *v)
{
	struct snp_id_block b;
	int r;

	memset(author_key_digest, 0, 48);
	if ((r = attest_snp_id_block_decode(block, block_len, &b, v)) < 0)
		return r == -EBADMSG ? 0 : r;
	if (auth_len != SNP_ID_AUTH_SIZE)
		return attest_verdict_reject(v, "an ID authentication structure is 4096 bytes", 0);
	if (get_le32(auth + IA_ID_ALGO) != SNP_ID_ALGO_ECDSA_P384_SHA384)
		return attest_verdict_reject(v, "ID_KEY_ALGO is not ECDSA P-384 with SHA-384 (1)", 0);
	r = verify_one(auth + IA_ID_KEY, block, SNP_ID_BLOCK_SIZE, auth + IA_BLOCK_SIG,
		       "ID_KEY is not a P-384 public key in the ABI's format",
		       "ID_BLOCK_SIG does not verify with ID_KEY", id_key_digest, v);
	if (r != 1 || !author_key_en)
		return r;
	if (get_le32(auth + IA_AUTH_ALGO) != SNP_ID_ALGO_ECDSA_P384_SHA384)
		return attest_verdict_reject(v, "AUTH_KEY_ALGO is not ECDSA P-384 with SHA-384 (1)", 0);
	return verify_one(auth + IA_AUTHOR_KEY, auth + IA_ID_KEY, SNP_PUBKEY_SIZE,
			  auth + IA_ID_KEY_SIG, "AUTHOR_KEY is not a P-384 public key in the "
			  "ABI's format", "ID_KEY_SIG does not verify with AUTHOR_KEY",
			  author_key_digest, v);
}
