/* LAUNCH_START session, guest owner and firmware sides (SEV API §2.2, §6.2). The owner trusts
 * the PDH it is given (the caller verified its chain); the firmware side trusts its own PDH
 * private key and nothing in the GODH cert or blob, which come from the host. The derivation
 * order and checks follow AMD's firmware (AMD-ASPFW sev_channel.c) and sev-tool. */
#include "attest/session.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>

#include "attest/kdf.h"
#include "attest/verdict.h"
#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EC_GROUP *, EC_GROUP_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EC_POINT *, EC_POINT_free)

/* The uncompressed public point d·G, for EVP_PKEY_fromdata (which does not derive it). */
static int p384_public_point(const BIGNUM *d, uint8_t pub[97])
{
	_cleanup_(EC_GROUP_freep) EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_secp384r1);
	_cleanup_(EC_POINT_freep) EC_POINT *p = NULL;

	if (!g)
		return -ENOMEM;
	p = EC_POINT_new(g);
	if (!p)
		return -ENOMEM;
	if (EC_POINT_mul(g, p, d, NULL, NULL, NULL) != 1 ||
	    EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, pub, 97, NULL) != 97)
		return -EIO;
	return 0;
}

int attest_p384_key_from_scalar(const uint8_t scalar[ATTEST_P384_SCALAR_SIZE], EVP_PKEY **ret)
{
	_cleanup_(BN_clear_freep) BIGNUM *d = BN_bin2bn(scalar, ATTEST_P384_SCALAR_SIZE, NULL);
	_cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	_cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	uint8_t pub[97];
	int r;

	if (!d || !bld)
		return -ENOMEM;
	if (BN_is_zero(d))
		return -EINVAL;
	r = p384_public_point(d, pub);
	if (r < 0)
		return r;
	if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-384", 0) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub) != 1)
		return -ENOMEM;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!params || !ctx)
		return -ENOMEM;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1)
		return -EINVAL;
	*ret = pkey;
	return 0;
}

int attest_ecdh_z(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t z[ATTEST_ECDH_Z_SIZE])
{
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	size_t len = ATTEST_ECDH_Z_SIZE;

	if (!ctx)
		return -ENOMEM;
	if (EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer) != 1)
		return -EINVAL; /* different curves, or a peer point OpenSSL rejects */
	if (EVP_PKEY_derive(ctx, NULL, &len) != 1 || len != ATTEST_ECDH_Z_SIZE)
		return -EINVAL; /* not P-384 */
	if (EVP_PKEY_derive(ctx, z, &len) != 1 || len != ATTEST_ECDH_Z_SIZE) {
		secret_wipe(z, ATTEST_ECDH_Z_SIZE);
		return -EIO;
	}
	return 0;
}

int attest_session_keys_derive(const uint8_t *z, size_t z_len,
			       const uint8_t nonce[ATTEST_NONCE_SIZE],
			       struct attest_session_keys *ret)
{
	int r;

	r = attest_kdf(z, z_len, "sev-master-secret", nonce, ATTEST_NONCE_SIZE, ret->master,
		       sizeof ret->master);
	if (r >= 0)
		r = attest_kdf(ret->master, sizeof ret->master, "sev-kek", NULL, 0, ret->kek,
			       sizeof ret->kek);
	if (r >= 0)
		r = attest_kdf(ret->master, sizeof ret->master, "sev-kik", NULL, 0, ret->kik,
			       sizeof ret->kik);
	if (r < 0)
		secret_wipe(ret, sizeof *ret);
	return r;
}

static int policy_mac(const uint8_t tik[ATTEST_TK_KEY_SIZE], uint32_t policy, uint8_t out[32])
{
	uint8_t p[4];
	struct attest_part part = { p, sizeof p };

	put_le32(p, policy);
	return attest_hmac_sha256(tik, ATTEST_TK_KEY_SIZE, &part, 1, out);
}

int attest_session_wrap(const struct attest_session_keys *keys, const struct attest_tk *tk,
			uint32_t policy, const uint8_t nonce[ATTEST_NONCE_SIZE],
			const uint8_t wrap_iv[16], struct sev_session_blob *ret)
{
	struct sev_session_blob b = {};
	int r;

	_Static_assert(sizeof(struct attest_tk) == sizeof b.wrap_tk, "TEK ‖ TIK is wrap_tk");
	memcpy(b.nonce, nonce, sizeof b.nonce);
	memcpy(b.wrap_iv, wrap_iv, sizeof b.wrap_iv);
	r = attest_aes128_ctr(keys->kek, wrap_iv, (const uint8_t *)tk, sizeof *tk, b.wrap_tk);
	if (r < 0)
		return r;
	r = attest_hmac_sha256(keys->kik, sizeof keys->kik,
			       &(struct attest_part){ b.wrap_tk, sizeof b.wrap_tk }, 1, b.wrap_mac);
	if (r < 0)
		return r;
	r = policy_mac(tk->tik, policy, b.policy_mac);
	if (r < 0)
		return r;
	*ret = b;
	return 0;
}

/* A fixed value when the caller pinned one, else fresh random bytes (private bytes for keys). */
static int fill(uint8_t *out, size_t len, const uint8_t *fixed, int is_key)
{
	if (fixed) {
		memcpy(out, fixed, len);
		return 0;
	}
	if ((is_key ? RAND_priv_bytes(out, (int)len) : RAND_bytes(out, (int)len)) != 1)
		return -EIO;
	return 0;
}

static int godh_new(const struct attest_session_params *params, EVP_PKEY **ret_key,
		    struct sev_cert *ret_cert)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	int r;

	if (params && params->godh_scalar)
		r = attest_p384_key_from_scalar(params->godh_scalar, &key);
	else
		r = (key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384")) ? 0 : -EIO;
	if (r < 0)
		return r;
	/* The API version of a GODH does not matter to the firmware; sev-tool writes 0.0. */
	r = attest_sev_cert_init(ret_cert, 0, 0, SEV_USAGE_PDH, SEV_ALGO_ECDH_SHA256, key);
	if (r < 0)
		return r;
	/* Self-signed with the GODH key, in slot 0 under usage PEK, as sev-tool does. */
	r = attest_sev_cert_sign(ret_cert, 0, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256, key);
	if (r < 0)
		return r;
	*ret_key = TAKE_PTR(key);
	return 0;
}

int attest_session_build(const struct sev_cert *pdh, uint32_t policy,
			 const struct attest_session_params *params, struct sev_cert *ret_godh,
			 struct sev_session_blob *ret_blob, struct attest_tk *ret_tk)
{
	const struct attest_session_params none = {};
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *godh_key = NULL, *pdh_key = NULL;
	struct attest_session_keys keys;
	struct attest_tk tk;
	uint8_t z[ATTEST_ECDH_Z_SIZE], nonce[16], iv[16];
	WIPE_ON_EXIT(z, sizeof z);
	int r;

	if (!params)
		params = &none;
	if (pdh->pubkey_usage != SEV_USAGE_PDH || (pdh->pubkey_algo != SEV_ALGO_ECDH_SHA256 &&
						   pdh->pubkey_algo != SEV_ALGO_ECDH_SHA384))
		return -EBADMSG;
	r = attest_sev_cert_pubkey(pdh, &pdh_key);
	if (r < 0)
		return r;
	r = godh_new(params, &godh_key, ret_godh);
	if (r < 0)
		return r;
	r = attest_ecdh_z(godh_key, pdh_key, z);
	if (r < 0)
		return r;
	if ((r = fill(nonce, sizeof nonce, params->nonce, 0)) < 0 ||
	    (r = fill(tk.tek, sizeof tk.tek, params->tek, 1)) < 0 ||
	    (r = fill(tk.tik, sizeof tk.tik, params->tik, 1)) < 0 ||
	    (r = fill(iv, sizeof iv, params->wrap_iv, 0)) < 0)
		goto out;
	r = attest_session_keys_derive(z, sizeof z, nonce, &keys);
	if (r < 0)
		goto out;
	r = attest_session_wrap(&keys, &tk, policy, nonce, iv, ret_blob);
	if (r >= 0)
		*ret_tk = tk;
out:
	secret_wipe(&keys, sizeof keys);
	secret_wipe(&tk, sizeof tk);
	return r;
}

/* ---- firmware side ---- */

static const char *const check_names[] = {
	[ATTEST_SESSION_OK] = "ok",
	[ATTEST_SESSION_BAD_LENGTH] = "GODH certificate or session blob has the wrong length",
	[ATTEST_SESSION_BAD_GODH] = "GODH certificate is not a P-384 ECDH (PDH usage) public key",
	[ATTEST_SESSION_BAD_WRAP_MAC] = "wrap MAC does not match the wrapped TEK/TIK",
	[ATTEST_SESSION_BAD_POLICY_MAC] = "policy MAC does not match the guest policy",
};

const char *attest_session_check_name(enum attest_session_check c)
{
	if ((unsigned)c >= ELEMENTSOF(check_names))
		return "unknown check";
	return check_names[c];
}

int attest_session_check_status(enum attest_session_check c)
{
	static const int status[] = {
		[ATTEST_SESSION_OK] = SEV_STATUS_SUCCESS,
		[ATTEST_SESSION_BAD_LENGTH] = SEV_STATUS_INVALID_LEN,
		[ATTEST_SESSION_BAD_GODH] = SEV_STATUS_INVALID_CERTIFICATE,
		[ATTEST_SESSION_BAD_WRAP_MAC] = SEV_STATUS_BAD_MEASUREMENT,
		[ATTEST_SESSION_BAD_POLICY_MAC] = SEV_STATUS_BAD_MEASUREMENT,
	};
	if ((unsigned)c >= ELEMENTSOF(status))
		return SEV_STATUS_INVALID_PARAM;
	return status[c];
}

/* The GODH public key, if the certificate is a well-formed P-384 ECDH key (what the
 * firmware's sev_cert_sanity_check asks of a DH cert; its signatures are not checked). */
static int godh_pubkey(const uint8_t *godh, EVP_PKEY **ret)
{
	struct sev_cert c;

	if (attest_sev_cert_parse(godh, SEV_CERT_SIZE, &c, NULL) < 0)
		return 0;
	if (c.pubkey_usage != SEV_USAGE_PDH ||
	    (c.pubkey_algo != SEV_ALGO_ECDH_SHA256 && c.pubkey_algo != SEV_ALGO_ECDH_SHA384) ||
	    get_le32(c.pubkey) != SEV_ECC_CURVE_P384)
		return 0;
	if (attest_sev_cert_pubkey(&c, ret) < 0)
		return 0;
	return 1;
}

/* Check the wrap MAC, then unwrap (the firmware never decrypts unauthenticated bytes). */
static int unwrap(const struct attest_session_keys *keys, const struct sev_session_blob *b,
		  struct attest_tk *ret_tk)
{
	uint8_t mac[32];
	int r;

	r = attest_hmac_sha256(keys->kik, sizeof keys->kik,
			       &(struct attest_part){ b->wrap_tk, sizeof b->wrap_tk }, 1, mac);
	if (r < 0)
		return r;
	if (secret_memcmp(mac, b->wrap_mac, sizeof mac) != 0)
		return 0;
	r = attest_aes128_ctr(keys->kek, b->wrap_iv, b->wrap_tk, sizeof b->wrap_tk,
			      (uint8_t *)ret_tk);
	return r < 0 ? r : 1;
}

/* v names check c; returns 0 (rejected). */
static int reject(struct attest_verdict *v, enum attest_session_check c)
{
	if (v)
		v->check = c;
	return attest_verdict_reject(v, attest_session_check_name(c), 0);
}

/* With the channel keys: the wrap MAC, then unwrap into *tk, then the policy MAC. */
static int open_channel(const struct attest_session_keys *keys, const struct sev_session_blob *b,
			uint32_t policy, struct attest_tk *tk, struct attest_verdict *v)
{
	uint8_t mac[32];
	int r;

	r = unwrap(keys, b, tk);
	if (r < 0)
		return r;
	if (r == 0)
		return reject(v, ATTEST_SESSION_BAD_WRAP_MAC);
	r = policy_mac(tk->tik, policy, mac);
	if (r < 0)
		return r;
	if (secret_memcmp(mac, b->policy_mac, sizeof mac) != 0)
		return reject(v, ATTEST_SESSION_BAD_POLICY_MAC);
	return 1;
}

int attest_session_open(EVP_PKEY *pdh_priv, const uint8_t *godh, size_t godh_len,
			const uint8_t *blob, size_t blob_len, uint32_t policy,
			struct attest_tk *ret_tk, struct attest_verdict *v)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *peer = NULL;
	struct sev_session_blob b;
	struct attest_session_keys keys = {};
	struct attest_tk tk = {};
	uint8_t z[ATTEST_ECDH_Z_SIZE];
	WIPE_ON_EXIT(z, sizeof z);
	int r;

	memset(ret_tk, 0, sizeof *ret_tk);
	if (!godh || !blob || godh_len != SEV_CERT_SIZE || blob_len != sizeof b)
		return reject(v, ATTEST_SESSION_BAD_LENGTH);
	memcpy(&b, blob, sizeof b);
	if (!godh_pubkey(godh, &peer))
		return reject(v, ATTEST_SESSION_BAD_GODH);
	r = attest_ecdh_z(pdh_priv, peer, z);
	if (r == -EINVAL)
		return reject(v, ATTEST_SESSION_BAD_GODH);
	if (r < 0)
		return r;
	r = attest_session_keys_derive(z, sizeof z, b.nonce, &keys);
	if (r >= 0)
		r = open_channel(&keys, &b, policy, &tk, v);
	if (r > 0) {
		*ret_tk = tk;
		if (v) {
			v->ok = true;
			v->check = ATTEST_SESSION_OK;
		}
	}
	secret_wipe(&keys, sizeof keys);
	secret_wipe(&tk, sizeof tk);
	return r;
}
