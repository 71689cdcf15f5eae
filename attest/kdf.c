/* SEV launch-channel primitives: the firmware's KDF, HMAC-SHA256 and AES-128-CTR, all through
 * OpenSSL's EVP interfaces. Inputs are trusted to be the caller's own keys and data.
 *
 * Why not EVP_KDF "KBKDF": OpenSSL's KBKDF encodes the counter i and the length L big-endian
 * (and OpenSSL 3.0 cannot shorten the counter), while AMD's firmware (AMD-ASPFW nist_kdf.c),
 * sev-tool and virtee/sev feed both as little-endian u32 — the known answers in the vectors'
 * MANIFEST (KDF, LB1 master/KEK/KIK) only come out that way. So each PRF block is one EVP_MAC
 * HMAC-SHA256 over the SP 800-108 §5.1 input string. */
#include "attest/kdf.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"

static int hmac_ctx_new(const uint8_t *key, size_t key_len, EVP_MAC_CTX **ret)
{
	_cleanup_(EVP_MAC_freep) EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	_cleanup_(EVP_MAC_CTX_freep) EVP_MAC_CTX *ctx = NULL;
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};

	if (key_len == 0)
		return -EINVAL; /* every SEV key has 16 or 48 bytes; 0 would mean "reuse" to OpenSSL */
	if (!mac)
		return -EIO;
	ctx = EVP_MAC_CTX_new(mac);
	if (!ctx)
		return -ENOMEM;
	if (EVP_MAC_init(ctx, key, key_len, params) != 1)
		return -EIO;
	*ret = TAKE_PTR(ctx);
	return 0;
}

int attest_hmac_sha256(const uint8_t *key, size_t key_len, const struct attest_part *parts,
		       size_t n_parts, uint8_t out[ATTEST_HMAC_SIZE])
{
	_cleanup_(EVP_MAC_CTX_freep) EVP_MAC_CTX *ctx = NULL;
	size_t out_len = 0;
	int r;

	r = hmac_ctx_new(key, key_len, &ctx);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_parts; i++)
		if (parts[i].len > 0 && EVP_MAC_update(ctx, parts[i].p, parts[i].len) != 1)
			return -EIO;
	if (EVP_MAC_final(ctx, out, &out_len, ATTEST_HMAC_SIZE) != 1 || out_len != ATTEST_HMAC_SIZE)
		return -EIO;
	return 0;
}

int attest_kdf(const uint8_t *key, size_t key_len, const char *label, const uint8_t *context,
	       size_t context_len, uint8_t *out, size_t out_len)
{
	uint8_t counter[4], lbits[4], zero = 0, block[ATTEST_HMAC_SIZE];
	WIPE_ON_EXIT(block, sizeof block);
	size_t done = 0;

	if (!label || (!out && out_len > 0) || out_len > UINT32_MAX / 8)
		return -EINVAL;
	put_le32(lbits, (uint32_t)(out_len * 8));
	for (uint32_t i = 1; done < out_len; i++) {
		struct attest_part parts[] = {
			{ counter, sizeof counter }, { label, strlen(label) }, { &zero, 1 },
			{ context, context ? context_len : 0 }, { lbits, sizeof lbits },
		};
		size_t n = MIN(out_len - done, (size_t)ATTEST_HMAC_SIZE);
		int r;

		put_le32(counter, i);
		r = attest_hmac_sha256(key, key_len, parts, ELEMENTSOF(parts), block);
		if (r < 0) {
			secret_wipe(out, out_len);
			return r;
		}
		memcpy(out + done, block, n);
		done += n;
	}
	return 0;
}

int attest_aes128_ctr(const uint8_t key[ATTEST_AES128_KEY_SIZE],
		      const uint8_t iv[ATTEST_AES_IV_SIZE], const uint8_t *in, size_t len,
		      uint8_t *out)
{
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl = 0, finl = 0;

	if (!ctx)
		return -ENOMEM;
	if (len > INT32_MAX)
		return -EFBIG;
	if (len == 0)
		return 0;
	/* CTR is a stream mode: no padding, output length = input length. */
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), NULL, key, iv) != 1 ||
	    EVP_EncryptUpdate(ctx, out, &outl, in, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, out + outl, &finl) != 1 || (size_t)(outl + finl) != len)
		return -EIO;
	return 0;
}
