/* The emulator's guest-memory cipher (emu_vek_crypt, psp/emu/guest.c) gives exactly the bytes
 * of the per-block OpenSSL AES-128-XTS it replaced: one XTS call per 16-byte block, tweak =
 * the block's offset (le64 in the first 8 IV bytes). The reference below is that old path,
 * kept here on purpose. Checked: IEEE 1619-2007 vector 2's first block (a one-block data unit
 * is XEX: no GF multiplication), the XEX formula against XTS, random keys, lengths crossing
 * the batch size, random 16-aligned offsets (low and near 2^64), both directions, in place,
 * and refusal of a length that is not a multiple of 16. Trusts only OpenSSL's XTS. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "common/ossl.h"
#include "common/util.h"
#include "psp/emu/guest.h"
#include "tests/testutil.h"

/* The old path: one EVP AES-128-XTS data unit per block. */
static void ref_xts(const uint8_t key[32], uint64_t off, const uint8_t *in, uint8_t *out,
		    size_t len, bool encrypt)
{
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t tweak[16] = {0};
	int n;

	TU_CHECK(c && EVP_CipherInit_ex(c, EVP_aes_128_xts(), NULL, key, NULL, encrypt),
		 "XTS init");
	for (size_t i = 0; i < len; i += 16) {
		put_le64(tweak, off + i);
		TU_CHECK(EVP_CipherInit_ex(c, NULL, NULL, NULL, tweak, -1) &&
			     EVP_CipherUpdate(c, out + i, &n, in + i, 16) && n == 16,
			 "XTS block at %zu", i);
	}
}

static void ecb1(const uint8_t key[16], const uint8_t in[16], uint8_t out[16], bool encrypt)
{
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n;

	TU_CHECK(c && EVP_CipherInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL, encrypt) &&
		     EVP_CIPHER_CTX_set_padding(c, 0) && EVP_CipherUpdate(c, out, &n, in, 16) &&
		     n == 16,
		 "ECB block");
}

static void random_key(uint8_t key[32])
{
	do
		TU_CHECK(RAND_bytes(key, 32) == 1, "RAND_bytes");
	while (memcmp(key, key + 16, 16) == 0); /* XTS refuses equal halves */
}

/* IEEE 1619-2007 Annex B vector 2 (XTS-AES-128): key1 = 11.., key2 = 22.., data unit
 * 0x3333333333, plaintext 44..; the first ciphertext block is the j = 0 block, i.e. the
 * one-block data unit this cipher uses. */
static void test_ieee_vector(void)
{
	static const uint8_t want[16] = {0xc4, 0x54, 0x18, 0x5e, 0x6a, 0x16, 0x93, 0x6e,
					 0x39, 0x33, 0x40, 0x38, 0xac, 0xef, 0x83, 0x8b};
	uint8_t key[32], p[16], c[16], r[16];

	memset(key, 0x11, 16);
	memset(key + 16, 0x22, 16);
	memset(p, 0x44, 16);
	TU_CHECK_EQ(emu_vek_crypt(key, 0x3333333333ull, p, c, 16, true), 0);
	TU_CHECK_MEM(c, want, 16);
	ref_xts(key, 0x3333333333ull, p, r, 16, true);
	TU_CHECK_MEM(r, want, 16);
	TU_CHECK_EQ(emu_vek_crypt(key, 0x3333333333ull, c, r, 16, false), 0);
	TU_CHECK_MEM(r, p, 16);
}

/* The claim the fast path rests on: XTS over one block = AES(K1, P ^ T) ^ T, T = AES(K2, tweak). */
static void test_xex_claim(void)
{
	for (int k = 0; k < 64; k++) {
		uint8_t key[32], tw[16] = {0}, t[16], p[16], x[16], c[16], ref[16];
		uint64_t off;

		random_key(key);
		TU_CHECK(RAND_bytes(p, 16) == 1 && RAND_bytes((uint8_t *)&off, 8) == 1, "RAND");
		off &= ~15ull;
		put_le64(tw, off);
		ecb1(key + 16, tw, t, true);
		for (int i = 0; i < 16; i++)
			x[i] = p[i] ^ t[i];
		ecb1(key, x, c, true);
		for (int i = 0; i < 16; i++)
			c[i] ^= t[i];
		ref_xts(key, off, p, ref, 16, true);
		TU_CHECK_MEM(c, ref, 16);
	}
}

static uint64_t rnd64(void)
{
	uint64_t v;

	TU_CHECK(RAND_bytes((uint8_t *)&v, sizeof(v)) == 1, "RAND_bytes");
	return v;
}

/* One random case: both paths, both directions, in place. */
static void one_case(size_t len, uint64_t off)
{
	uint8_t key[32], *p = malloc(len + 1), *a = malloc(len + 1), *b = malloc(len + 1);

	TU_CHECK(p && a && b, "malloc %zu", len);
	random_key(key);
	TU_CHECK(len == 0 || RAND_bytes(p, (int)len) == 1, "RAND_bytes");
	ref_xts(key, off, p, a, len, true);
	TU_CHECK_EQ(emu_vek_crypt(key, off, p, b, len, true), 0);
	TU_CHECK(memcmp(a, b, len) == 0, "encrypt differs: len %zu off 0x%llx", len,
		 (unsigned long long)off);
	ref_xts(key, off, a, b, len, false);
	TU_CHECK(memcmp(b, p, len) == 0, "reference round trip: len %zu", len);
	TU_CHECK_EQ(emu_vek_crypt(key, off, a, b, len, false), 0);
	TU_CHECK(memcmp(b, p, len) == 0, "decrypt differs: len %zu off 0x%llx", len,
		 (unsigned long long)off);
	memcpy(b, p, len); /* in place (in == out is allowed) */
	TU_CHECK_EQ(emu_vek_crypt(key, off, b, b, len, true), 0);
	TU_CHECK(memcmp(a, b, len) == 0, "in-place encrypt differs: len %zu", len);
	TU_CHECK_EQ(emu_vek_crypt(key, off, b, b, len, false), 0);
	TU_CHECK(memcmp(b, p, len) == 0, "in-place decrypt differs: len %zu", len);
	free(p);
	free(a);
	free(b);
}

static void test_random(void)
{
	/* around the 64 KiB batch and the 0x5000 chunk LAUNCH_UPDATE_DATA uses */
	static const size_t edges[] = {0,	16,	 32,	  0x5000,  0xfff0,
				       0x10000, 0x10010, 0x20000, 0x30030, 3u << 20};

	for (size_t i = 0; i < ELEMENTSOF(edges); i++)
		one_case(edges[i], (rnd64() % (1ull << 40)) & ~15ull);
	for (int k = 0; k < 200; k++) {
		size_t len = (size_t)(rnd64() % (0x28000 / 16)) * 16;
		uint64_t off = rnd64() & ~15ull;

		if (k % 4 == 0)
			off %= 1ull << 30; /* realistic region offsets */
		one_case(len, off);
	}
	one_case(0x30000, UINT64_MAX - 0x10000 + 1 - 0x10); /* the tweak wraps past 2^64 */
}

static void test_refusals(void)
{
	uint8_t key[32] = {1}, buf[32] = {0};

	TU_CHECK_EQ(emu_vek_crypt(key, 0, buf, buf, 17, true), -EINVAL);
	TU_CHECK_EQ(emu_vek_crypt(key, 0, buf, buf, 8, false), -EINVAL);
}

int main(void)
{
	test_ieee_vector();
	test_xex_claim();
	test_random();
	test_refusals();
	tu_done("emu-cipher");
}
