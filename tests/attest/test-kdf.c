/* The launch channel's KDF and key wrap against virtee/sev's inline known answers (vectors
 * MANIFEST "Inline known answers"): SP 800-108 counter mode with little-endian counter and
 * length, and the session wrap with Z = 0, nonce = iv = 0, TEK = TIK = 0, policy 0. */
#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>

#include "attest/kdf.h"
#include "attest/session.h"
#include "launch-util.h"

static void test_kdf_vector(void)
{
	uint8_t key[16] = {}, ctx[16] = {}, out[16];

	TU_CHECK(attest_kdf(key, sizeof key, "sev-master-secret", ctx, sizeof ctx, out, 16) == 0,
		 "kdf");
	check_hex(out, 16, "ab4d269fcc62bedb4511d56c386ce706");
}

/* L (the output length in bits) is hashed into every block, so a 48-byte output differs
 * from a 16-byte one from its first byte on; the label and the counter matter too. */
static void test_kdf_lengths(void)
{
	uint8_t key[16] = {}, a[16], b[48], c[48];

	TU_CHECK(attest_kdf(key, 16, "sev-kek", NULL, 0, a, sizeof a) == 0, "kdf 16");
	TU_CHECK(attest_kdf(key, 16, "sev-kek", NULL, 0, b, sizeof b) == 0, "kdf 48");
	TU_CHECK(memcmp(a, b, 16) != 0, "L must be part of the PRF input");
	TU_CHECK(attest_kdf(key, 16, "sev-kik", NULL, 0, c, sizeof c) == 0, "kdf 48 kik");
	TU_CHECK(memcmp(b, c, 48) != 0, "the label must be part of the PRF input");
	TU_CHECK(memcmp(b, b + 32, 16) != 0, "blocks 1 and 2 must differ (counter)");
	TU_CHECK(attest_kdf(key, 0, "x", NULL, 0, a, 16) == -EINVAL, "empty key refused");
}

/* Why attest_kdf is not OpenSSL's KBKDF: same key, label and context through EVP_KDF "KBKDF"
 * (counter mode, HMAC-SHA256) encode i and L big-endian and miss the firmware's answer. */
static void test_kbkdf_differs(void)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	uint8_t key[16] = {}, ctxt[16] = {}, out[16];
	char mode[] = "counter", mac[] = "HMAC", md[] = "SHA256", label[] = "sev-master-secret";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, mode, 0),
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, mac, 0),
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, md, 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, key, sizeof key),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, label, strlen(label)),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, ctxt, sizeof ctxt),
		OSSL_PARAM_construct_end(),
	};
	uint8_t want[16];

	if (!ctx)
		return; /* no KBKDF in this OpenSSL: nothing to contrast */
	TU_CHECK(EVP_KDF_derive(ctx, out, sizeof out, params) == 1, "KBKDF derive");
	hexb("ab4d269fcc62bedb4511d56c386ce706", want, sizeof want);
	TU_CHECK(memcmp(out, want, 16) != 0, "KBKDF (big-endian i, L) must not match the firmware");
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
}

static void test_zero_session(void)
{
	uint8_t z[16] = {}, nonce[16] = {}, iv[16] = {};
	struct attest_session_keys keys;
	struct attest_tk tk = {};
	struct sev_session_blob blob;

	TU_CHECK(attest_session_keys_derive(z, sizeof z, nonce, &keys) == 0, "derive");
	check_hex(keys.master, 16, "ab4d269fcc62bedb4511d56c386ce706");
	TU_CHECK(attest_session_wrap(&keys, &tk, 0, nonce, iv, &blob) == 0, "wrap");
	check_hex(blob.wrap_tk, 32,
		  "2137bc7f9bb8bd7c3e55a576a15d3454b3856b8ba27afadf46dcfee9f02c02c4");
	check_hex(blob.wrap_mac, 32,
		  "3176c0752738bd9d5e86689534020f528c088f16238826b000b327dee6aeed7d");
	check_hex(blob.policy_mac, 32,
		  "aa7855e13839dd767cd5da7c1ff5036540c9264b7a803029315e55375287b4af");
	check_hex(blob.nonce, 16, "00000000000000000000000000000000");
	check_hex(blob.wrap_iv, 16, "00000000000000000000000000000000");
}

/* AES-128-CTR is its own inverse, and runs on in place. */
static void test_ctr_roundtrip(void)
{
	uint8_t key[16], iv[16], buf[37], orig[37];

	for (size_t i = 0; i < sizeof buf; i++)
		orig[i] = buf[i] = (uint8_t)(i * 7);
	memset(key, 0x11, sizeof key);
	memset(iv, 0x22, sizeof iv);
	TU_CHECK(attest_aes128_ctr(key, iv, buf, sizeof buf, buf) == 0, "encrypt");
	TU_CHECK(memcmp(buf, orig, sizeof buf) != 0, "ciphertext differs");
	TU_CHECK(attest_aes128_ctr(key, iv, buf, sizeof buf, buf) == 0, "decrypt");
	TU_CHECK_MEM(buf, orig, sizeof buf);
}

int main(void)
{
	test_kdf_vector();
	test_kdf_lengths();
	test_kbkdf_differs();
	test_zero_session();
	test_ctr_roundtrip();
	tu_done("test-kdf");
}
