/* AMD certificates (ARK, ASK) in AMD's "CA certificate" format (SEV API 55766, appendix B.1):
 * a 0x40-byte header (version, key_id, certifying_id, key_usage, reserved, pubexp_bits,
 * modulus_bits), then pubexp, modulus and signature, each little-endian and sized by the
 * header's bit counts. Signatures are RSASSA-PSS over everything before the signature, MGF1
 * with the same hash, salt = digest length, the hash chosen by the signer's key size.
 * Also verifies a SEV-format CEK under an ASK. Trusts nothing it parses. */
#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>

#include "attest/amd-cert.h"
#include "attest/sev-cert.h"
#include "attest/verdict.h"
#include "common/ossl.h"
#include "common/util.h"

#define OFF_KEY_ID 0x04
#define OFF_CERT_ID 0x14
#define OFF_USAGE 0x24
#define OFF_PUBEXP_BITS 0x38
#define OFF_MODULUS_BITS 0x3C

static size_t pe_bytes(const struct amd_cert *c)
{
	return c->pubexp_bits / 8;
}
static size_t mod_bytes(const struct amd_cert *c)
{
	return c->modulus_bits / 8;
}

/* The bytes the signature covers: header, pubexp, modulus. */
static size_t signed_len(const struct amd_cert *c)
{
	return AMD_CERT_HDR_SIZE + pe_bytes(c) + mod_bytes(c);
}

size_t attest_amd_cert_size(const struct amd_cert *c)
{
	return signed_len(c) + mod_bytes(c);
}

/* 2048-bit keys (Naples) sign with SHA-256, 4096-bit keys (Rome on) with SHA-384. */
static const EVP_MD *md_for_bits(uint32_t modulus_bits)
{
	return modulus_bits <= 2048 ? EVP_sha256() : EVP_sha384();
}

static const char *check_header(const uint8_t *buf)
{
	uint32_t usage = get_le32(buf + OFF_USAGE);
	uint32_t pe = get_le32(buf + OFF_PUBEXP_BITS), mb = get_le32(buf + OFF_MODULUS_BITS);

	if (get_le32(buf) != 1)
		return "AMD certificate version is not 1";
	if (usage != 0x00 && usage != 0x13)
		return "AMD certificate key usage is neither ARK (0x0) nor ASK (0x13)";
	if (mb != 2048 && mb != 4096)
		return "AMD certificate modulus size is neither 2048 nor 4096 bits";
	if (pe == 0 || pe > 4096 || pe % 8)
		return "AMD certificate public exponent size is not a whole number of bytes <= 4096 bits";
	return NULL;
}

int attest_amd_cert_parse(const uint8_t *buf, size_t len, struct amd_cert *ret, size_t *consumed,
			  struct attest_verdict *v)
{
	struct amd_cert c = {};
	const char *why;

	if (len < AMD_CERT_HDR_SIZE)
		return attest_verdict_reject(
		    v, "AMD certificate is shorter than its 64-byte header", -EBADMSG);
	why = check_header(buf);
	if (why)
		return attest_verdict_reject(v, why, -EBADMSG);
	c.version = 1;
	memcpy(c.key_id, buf + OFF_KEY_ID, 16);
	memcpy(c.certifying_id, buf + OFF_CERT_ID, 16);
	c.key_usage = get_le32(buf + OFF_USAGE);
	memcpy(c.reserved, buf + 0x28, 16);
	c.pubexp_bits = get_le32(buf + OFF_PUBEXP_BITS);
	c.modulus_bits = get_le32(buf + OFF_MODULUS_BITS);
	/* AMD once published the Naples ARK without its signature: name that case exactly. */
	if (len == signed_len(&c))
		return attest_verdict_reject(
		    v, "AMD certificate has no signature (it ends after the modulus)", -EBADMSG);
	if (len > signed_len(&c) && len < attest_amd_cert_size(&c))
		return attest_verdict_reject(v, "AMD certificate is truncated inside its signature",
					     -EBADMSG);
	if (len < signed_len(&c))
		return attest_verdict_reject(
		    v, "AMD certificate is truncated before the end of its key", -EBADMSG);
	const uint8_t *p = buf + AMD_CERT_HDR_SIZE;
	memcpy(c.pubexp, p, pe_bytes(&c));
	memcpy(c.modulus, p + pe_bytes(&c), mod_bytes(&c));
	memcpy(c.sig, p + pe_bytes(&c) + mod_bytes(&c), mod_bytes(&c));
	*ret = c;
	if (consumed)
		*consumed = attest_amd_cert_size(&c);
	return 0;
}

static void encode_signed(const struct amd_cert *c, uint8_t *out)
{
	memset(out, 0, AMD_CERT_HDR_SIZE);
	put_le32(out, c->version);
	memcpy(out + OFF_KEY_ID, c->key_id, 16);
	memcpy(out + OFF_CERT_ID, c->certifying_id, 16);
	put_le32(out + OFF_USAGE, c->key_usage);
	memcpy(out + 0x28, c->reserved, 16);
	put_le32(out + OFF_PUBEXP_BITS, c->pubexp_bits);
	put_le32(out + OFF_MODULUS_BITS, c->modulus_bits);
	memcpy(out + AMD_CERT_HDR_SIZE, c->pubexp, pe_bytes(c));
	memcpy(out + AMD_CERT_HDR_SIZE + pe_bytes(c), c->modulus, mod_bytes(c));
}

static bool sizes_valid(const struct amd_cert *c)
{
	return c->pubexp_bits > 0 && c->pubexp_bits <= 4096 && c->pubexp_bits % 8 == 0 &&
	       c->modulus_bits > 0 && c->modulus_bits <= 4096 && c->modulus_bits % 8 == 0;
}

int attest_amd_cert_encode(const struct amd_cert *c, uint8_t *out, size_t cap, size_t *ret_len)
{
	if (!sizes_valid(c))
		return -EINVAL;
	size_t n = attest_amd_cert_size(c);
	if (cap < n)
		return -ENOBUFS;
	encode_signed(c, out);
	memcpy(out + signed_len(c), c->sig, mod_bytes(c));
	if (ret_len)
		*ret_len = n;
	return 0;
}

int attest_amd_cert_pubkey(const struct amd_cert *c, EVP_PKEY **ret)
{
	if (!sizes_valid(c))
		return -EBADMSG;
	return attest_rsa_pubkey_from_le(c->pubexp, pe_bytes(c), c->modulus, mod_bytes(c), ret);
}

int attest_amd_cert_init(struct amd_cert *c, const uint8_t key_id[16],
			 const uint8_t certifying_id[16], uint32_t usage, EVP_PKEY *pub)
{
	int bits, r;

	if (!EVP_PKEY_is_a(pub, "RSA") || (usage != 0x00 && usage != 0x13))
		return -EINVAL;
	bits = EVP_PKEY_get_bits(pub);
	if (bits != 2048 && bits != 4096)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->version = 1;
	memcpy(c->key_id, key_id, 16);
	memcpy(c->certifying_id, certifying_id, 16);
	c->key_usage = usage;
	/* AMD's own certificates size the exponent field like the modulus. */
	c->pubexp_bits = c->modulus_bits = (uint32_t)bits;
	r = attest_key_bn_le(pub, OSSL_PKEY_PARAM_RSA_E, c->pubexp, pe_bytes(c));
	if (r >= 0)
		r = attest_key_bn_le(pub, OSSL_PKEY_PARAM_RSA_N, c->modulus, mod_bytes(c));
	return r;
}

int attest_amd_cert_sign(struct amd_cert *c, EVP_PKEY *signer_key)
{
	uint8_t buf[AMD_CERT_MAX_SIZE];
	int bits = EVP_PKEY_get_bits(signer_key);

	if (!sizes_valid(c) || bits <= 0 || (uint32_t)bits != c->modulus_bits)
		return -EINVAL; /* the signature field is as wide as the certified modulus */
	encode_signed(c, buf);
	return attest_rsa_pss_sign_le(signer_key, md_for_bits((uint32_t)bits), buf, signed_len(c),
				      c->sig, mod_bytes(c));
}

int attest_amd_cert_verify(const struct amd_cert *c, const struct amd_cert *signer,
			   struct attest_verdict *v)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	uint8_t buf[AMD_CERT_MAX_SIZE];
	int r;

	if (!sizes_valid(c) || !sizes_valid(signer))
		return attest_verdict_reject(v, "AMD certificate has invalid key sizes", 0);
	if (signer->key_usage != 0x00)
		return attest_verdict_reject(
		    v, "signer is not an ARK (only an ARK signs AMD certificates)", 0);
	if (memcmp(c->certifying_id, signer->key_id, 16) != 0)
		return attest_verdict_reject(v, "certifying id does not match the signer's key id",
					     0);
	if (signer->modulus_bits != c->modulus_bits)
		return attest_verdict_reject(v, "signer's key size differs from the signature size",
					     0);
	r = attest_amd_cert_pubkey(signer, &key);
	if (r < 0)
		return attest_verdict_reject(v, "signer's RSA key is malformed", 0);
	encode_signed(c, buf);
	r = attest_rsa_pss_verify_le(key, md_for_bits(signer->modulus_bits), buf, signed_len(c),
				     c->sig, mod_bytes(c));
	if (r < 0)
		return r;
	if (r == 0)
		return attest_verdict_reject(v, "RSA-PSS signature does not verify", 0);
	return 1;
}

int attest_amd_verify_cek(const struct sev_cert *cek, const struct amd_cert *ask,
			  struct attest_verdict *v)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	struct attest_verdict why = {0};
	int r;

	if (cek->pubkey_usage != SEV_USAGE_CEK)
		return attest_verdict_reject(v, "certificate is not a CEK", 0);
	if (ask->key_usage != 0x13)
		return attest_verdict_reject(v, "signer is not an ASK", 0);
	r = attest_amd_cert_pubkey(ask, &key);
	if (r < 0)
		return attest_verdict_reject(v, "ASK's RSA key is malformed", 0);
	/* attest_sev_cert_verify picks the slot whose usage is ASK and checks it is RSA-PSS
	 * with the hash its algorithm field names (SHA-256 on Naples, SHA-384 from Rome on). */
	r = attest_sev_cert_verify(cek, SEV_USAGE_ASK, key, &why);
	if (r == 0)
		return attest_verdict_reject(
		    v, attest_verdict_why(&why, "the CEK's ASK signature does not verify"), 0);
	return r;
}
