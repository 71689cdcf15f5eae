/* Key generation and certificate building for sev-psp-emu (see identity.h). All crypto goes
 * through OpenSSL 3 EVP and the attest/ certificate code, so the chains this emulator makes
 * are checked by the same verifier as real AMD chains. */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <string.h>

#include "common/ossl.h"
#include "psp/emu/identity.h"

static int keygen_ec(const char *curve, EVP_PKEY **ret)
{
	*ret = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	return *ret ? 0 : -EIO;
}

static int keygen_rsa(unsigned bits, EVP_PKEY **ret)
{
	*ret = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	return *ret ? 0 : -EIO;
}

/* Public key fields, both signature slots empty as firmware's sev_cert_init leaves them. */
static int cert_init(struct sev_cert *c, uint8_t major, uint8_t minor, uint32_t usage,
		     uint32_t algo, EVP_PKEY *pub)
{
	int r;

	memset(c, 0, sizeof(*c));
	r = attest_sev_cert_init(c, major, minor, usage, algo, pub);
	if (r < 0)
		return r;
	for (int i = 0; i < 2; i++) {
		memset(&c->sig[i], 0, sizeof(c->sig[i]));
		c->sig[i].usage = SEV_USAGE_NONE;
		c->sig[i].algo = SEV_ALGO_INVALID;
	}
	return 0;
}

void emu_cert_unsigned(const struct sev_cert *src, struct sev_cert *ret)
{
	memcpy(ret, src, sizeof(*ret));
	for (int i = 0; i < 2; i++) {
		memset(&ret->sig[i], 0, sizeof(ret->sig[i]));
		ret->sig[i].usage = SEV_USAGE_NONE;
		ret->sig[i].algo = SEV_ALGO_INVALID;
	}
}

static int amd_root_generate(struct emu_chip *c, unsigned bits)
{
	uint8_t ark_id[16], ask_id[16];
	int r;

	if (RAND_bytes(ark_id, sizeof(ark_id)) != 1 || RAND_bytes(ask_id, sizeof(ask_id)) != 1)
		return -EIO;
	r = keygen_rsa(bits, &c->ark_key);
	if (r < 0)
		return r;
	r = keygen_rsa(bits, &c->ask_key);
	if (r < 0)
		return r;
	r = attest_amd_cert_init(&c->ark, ark_id, ark_id, 0x00, c->ark_key);
	if (r < 0)
		return r;
	r = attest_amd_cert_sign(&c->ark, c->ark_key);
	if (r < 0)
		return r;
	r = attest_amd_cert_init(&c->ask, ask_id, ark_id, 0x13, c->ask_key);
	if (r < 0)
		return r;
	return attest_amd_cert_sign(&c->ask, c->ark_key);
}

int emu_chip_generate(struct emu_chip *c, uint8_t api_major, uint8_t api_minor,
		      unsigned root_bits)
{
	int r;

	if (root_bits != 2048 && root_bits != 4096)
		return -EINVAL;

	memset(c, 0, sizeof(*c));
	r = keygen_ec("secp256k1", &c->cuk);
	if (r < 0)
		goto fail;
	r = amd_root_generate(c, root_bits);
	if (r < 0)
		goto fail;
	r = keygen_ec("P-384", &c->cek_key);
	if (r < 0)
		goto fail;
	r = cert_init(&c->cek, api_major, api_minor, SEV_USAGE_CEK, SEV_ALGO_ECDSA_SHA256,
		      c->cek_key);
	if (r < 0)
		goto fail;
	/* The ASK signs with RSA-PSS SHA-256 (2048) or SHA-384 (4096), as the Naples and Rome
	 * CEKs in vectors/sev-chains. */
	r = attest_sev_cert_sign(&c->cek, 0, SEV_USAGE_ASK,
				 root_bits == 4096 ? SEV_ALGO_RSA_SHA384 : SEV_ALGO_RSA_SHA256,
				 c->ask_key);
	if (r < 0)
		goto fail;
	return 0;
fail:
	emu_chip_clear(c);
	return r;
}

void emu_chip_clear(struct emu_chip *c)
{
	EVP_PKEY_free(c->cuk);
	EVP_PKEY_free(c->ark_key);
	EVP_PKEY_free(c->ask_key);
	EVP_PKEY_free(c->cek_key);
	memset(c, 0, sizeof(*c));
}

int emu_chip_get_id(const struct emu_chip *c, uint8_t ret[64])
{
	uint8_t pt[65];
	size_t len = 0;

	/* Uncompressed point 0x04 ‖ x ‖ y, big-endian: firmware's sev_get_id reverses its
	 * little-endian coordinates into the same order. */
	if (!c->cuk || EVP_PKEY_get_octet_string_param(c->cuk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
						       pt, sizeof(pt), &len) != 1)
		return -EIO;
	if (len != sizeof(pt) || pt[0] != 0x04)
		return -EIO;
	memcpy(ret, pt + 1, 64);
	return 0;
}

void emu_owner_clear(struct emu_owner *o)
{
	EVP_PKEY_free(o->oca_key);
	EVP_PKEY_free(o->pek_key);
	EVP_PKEY_free(o->pdh_key);
	memset(o, 0, sizeof(*o));
}

static EVP_PKEY *ref(EVP_PKEY *k)
{
	if (k)
		EVP_PKEY_up_ref(k);
	return k;
}

void emu_owner_copy(struct emu_owner *dst, const struct emu_owner *src)
{
	*dst = *src;
	dst->oca_key = ref(src->oca_key);
	dst->pek_key = ref(src->pek_key);
	dst->pdh_key = ref(src->pdh_key);
}

static void set_key(EVP_PKEY **slot, EVP_PKEY *k)
{
	EVP_PKEY_free(*slot);
	*slot = k;
}

int emu_owner_gen_oca(struct emu_owner *o, uint8_t major, uint8_t minor)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
	struct sev_cert cert;
	int r;

	r = keygen_ec("P-384", &k);
	if (r < 0)
		return r;
	r = cert_init(&cert, major, minor, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, k);
	if (r < 0)
		return r;
	r = attest_sev_cert_sign(&cert, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, k);
	if (r < 0)
		return r;
	set_key(&o->oca_key, TAKE_PTR(k));
	o->oca = cert;
	o->ext_owned = false;
	return 0;
}

int emu_owner_gen_pek(struct emu_owner *o, const struct emu_chip *c, uint8_t major,
		      uint8_t minor)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
	struct sev_cert cert;
	int r;

	if (!o->oca_key || !c->cek_key)
		return -EINVAL; /* firmware: a PEK needs the self-owned OCA and the CEK */
	r = keygen_ec("P-384", &k);
	if (r < 0)
		return r;
	r = cert_init(&cert, major, minor, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256, k);
	if (r < 0)
		return r;
	/* Slot 0 by the OCA, slot 1 by the CEK, as on real Naples/Rome chains. */
	r = attest_sev_cert_sign(&cert, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, o->oca_key);
	if (r < 0)
		return r;
	r = attest_sev_cert_sign(&cert, 1, SEV_USAGE_CEK, SEV_ALGO_ECDSA_SHA256, c->cek_key);
	if (r < 0)
		return r;
	set_key(&o->pek_key, TAKE_PTR(k));
	o->pek = cert;
	return 0;
}

int emu_owner_gen_pdh(struct emu_owner *o, uint8_t major, uint8_t minor)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
	struct sev_cert cert;
	int r;

	if (!o->pek_key)
		return -EINVAL;
	r = keygen_ec("P-384", &k);
	if (r < 0)
		return r;
	r = cert_init(&cert, major, minor, SEV_USAGE_PDH, SEV_ALGO_ECDH_SHA256, k);
	if (r < 0)
		return r;
	r = attest_sev_cert_sign(&cert, 0, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256, o->pek_key);
	if (r < 0)
		return r;
	set_key(&o->pdh_key, TAKE_PTR(k));
	o->pdh = cert;
	return 0;
}

/* Into OpenSSL's secure heap when there is room (i2d_PrivateKey's own buffer would be the
 * ordinary heap); free with OPENSSL_secure_clear_free. */
int emu_key_to_der(EVP_PKEY *k, uint8_t **ret, size_t *ret_len)
{
	int n = i2d_PrivateKey(k, NULL);
	unsigned char *der, *p;

	if (n <= 0)
		return -EIO;
	der = OPENSSL_secure_malloc((size_t)n);
	if (!der)
		der = OPENSSL_malloc((size_t)n);
	if (!der)
		return -ENOMEM;
	p = der;
	if (i2d_PrivateKey(k, &p) != n) {
		OPENSSL_secure_clear_free(der, (size_t)n);
		return -EIO;
	}
	*ret = der;
	*ret_len = (size_t)n;
	return 0;
}

int emu_key_from_der(const uint8_t *der, size_t len, EVP_PKEY **ret)
{
	const unsigned char *p = der;
	EVP_PKEY *k;

	if (len == 0 || len > 16384)
		return -EBADMSG;
	k = d2i_AutoPrivateKey(NULL, &p, (long)len);
	if (!k || p != der + len) {
		EVP_PKEY_free(k);
		return -EBADMSG;
	}
	*ret = k;
	return 0;
}
