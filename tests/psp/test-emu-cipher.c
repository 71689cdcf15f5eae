/* The emulator's guest-memory cipher (emu_vek_crypt / emu_vek_ctx_crypt, psp/emu/guest-mem.c)
 * is plain AES-128-XTS with one data unit per 4 KiB page of the region and the page's offset
 * as the tweak. The reference below is one OpenSSL XTS call per whole page, computed over
 * every page a range touches; the cipher must give exactly the reference's bytes for that
 * range, whatever the range's start and length (sub-page starts and ends included), in both
 * directions and in place. Also: IEEE 1619-2007 vector 4 (data unit 0), whose first blocks a
 * page at offset 0 must reproduce, also when only a middle part of them is asked for; equal
 * plaintext blocks at different addresses give different ciphertext; a context keyed once
 * serves many calls; lengths and offsets that are not multiples of 16 are refused. Trusts only
 * OpenSSL's XTS. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "common/ossl.h"
#include "common/util.h"
#include "psp/emu/guest.h"
#include "tests/testutil.h"

#define PG EMU_VEK_UNIT

/* The reference: whole pages [first, first + n), one XTS data unit each, tweak = the page's
 * byte offset (le64 in the first 8 IV bytes). */
static void ref_pages(const uint8_t key[32], uint64_t first, size_t n, const uint8_t *in,
		      uint8_t *out, bool encrypt)
{
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t tweak[16] = {0};
	int got;

	TU_CHECK(c && EVP_CipherInit_ex(c, EVP_aes_128_xts(), NULL, key, NULL, encrypt),
		 "XTS init");
	for (size_t i = 0; i < n; i++) {
		put_le64(tweak, (first + i) * PG);
		TU_CHECK(EVP_CipherInit_ex(c, NULL, NULL, NULL, tweak, -1) &&
			     EVP_CipherUpdate(c, out + i * PG, &got, in + i * PG, PG) && got == PG,
			 "XTS page %zu", i);
	}
}

static void random_key(uint8_t key[32])
{
	do
		TU_CHECK(RAND_bytes(key, 32) == 1, "RAND_bytes");
	while (memcmp(key, key + 16, 16) == 0); /* XTS refuses equal halves */
}

static uint64_t rnd64(void)
{
	uint64_t v;

	TU_CHECK(RAND_bytes((uint8_t *)&v, sizeof(v)) == 1, "RAND_bytes");
	return v;
}

/* IEEE 1619-2007 Annex B vector 4 (XTS-AES-128, data unit 0, plaintext 00 01 02 ...): the
 * first four ciphertext blocks. */
static void test_ieee_vector(void)
{
	static const uint8_t key[32] = {0x27, 0x18, 0x28, 0x18, 0x28, 0x45, 0x90, 0x45,
					0x23, 0x53, 0x60, 0x28, 0x74, 0x71, 0x35, 0x26,
					0x31, 0x41, 0x59, 0x26, 0x53, 0x58, 0x97, 0x93,
					0x23, 0x84, 0x62, 0x64, 0x33, 0x83, 0x27, 0x95};
	static const uint8_t want[64] = {
	    0x27, 0xa7, 0x47, 0x9b, 0xef, 0xa1, 0xd4, 0x76, 0x48, 0x9f, 0x30, 0x8c, 0xd4,
	    0xcf, 0xa6, 0xe2, 0xa9, 0x6e, 0x4b, 0xbe, 0x32, 0x08, 0xff, 0x25, 0x28, 0x7d,
	    0xd3, 0x81, 0x96, 0x16, 0xe8, 0x9c, 0xc7, 0x8c, 0xf7, 0xf5, 0xe5, 0x43, 0x44,
	    0x5f, 0x83, 0x33, 0xd8, 0xfa, 0x7f, 0x56, 0x00, 0x00, 0x05, 0x27, 0x9f, 0xa5,
	    0xd8, 0xb5, 0xe4, 0xad, 0x40, 0xe7, 0x36, 0xdd, 0xb4, 0xd3, 0x54, 0x12};
	uint8_t p[64], c[64], r[64];

	for (int i = 0; i < 64; i++)
		p[i] = (uint8_t)i;
	TU_CHECK_EQ(emu_vek_crypt(key, 0, p, c, 64, true), 0);
	TU_CHECK_MEM(c, want, 64);
	/* a range that starts inside the page: blocks 1..2 alone, and block 3 alone */
	TU_CHECK_EQ(emu_vek_crypt(key, 16, p + 16, c, 32, true), 0);
	TU_CHECK_MEM(c, want + 16, 32);
	TU_CHECK_EQ(emu_vek_crypt(key, 48, p + 48, c, 16, true), 0);
	TU_CHECK_MEM(c, want + 48, 16);
	TU_CHECK_EQ(emu_vek_crypt(key, 16, want + 16, r, 48, false), 0);
	TU_CHECK_MEM(r, p + 16, 48);
}

/* One range [off, off + len) of a region: the cipher against the reference over the pages it
 * touches, both directions, out of place and in place, one-shot and with a kept context. */
static void one_case(uint64_t off, size_t len, EVP_CIPHER_CTX *enc, EVP_CIPHER_CTX *dec,
		     const uint8_t key[32])
{
	uint64_t first = off / PG, s = off % PG;
	size_t pages = (size_t)((off + len + PG - 1) / PG - first), span = pages * PG;
	uint8_t *p = malloc(span), *ref = malloc(span), *b = malloc(len + 16);

	TU_CHECK(p && ref && b, "malloc %zu", span);
	TU_CHECK(RAND_bytes(p, (int)span) == 1, "RAND_bytes");
	ref_pages(key, first, pages, p, ref, true);
	TU_CHECK_EQ(emu_vek_crypt(key, off, p + s, b, len, true), 0);
	TU_CHECK(memcmp(b, ref + s, len) == 0, "encrypt differs: off 0x%llx len %zu",
		 (unsigned long long)off, len);
	TU_CHECK_EQ(emu_vek_ctx_crypt(enc, off, p + s, b, len), 0);
	TU_CHECK(memcmp(b, ref + s, len) == 0, "encrypt (kept context) differs: off 0x%llx",
		 (unsigned long long)off);
	TU_CHECK_EQ(emu_vek_crypt(key, off, ref + s, b, len, false), 0);
	TU_CHECK(memcmp(b, p + s, len) == 0, "decrypt differs: off 0x%llx len %zu",
		 (unsigned long long)off, len);
	memcpy(b, p + s, len); /* in place (in == out is allowed) */
	TU_CHECK_EQ(emu_vek_ctx_crypt(enc, off, b, b, len), 0);
	TU_CHECK(memcmp(b, ref + s, len) == 0, "in-place encrypt differs: len %zu", len);
	TU_CHECK_EQ(emu_vek_ctx_crypt(dec, off, b, b, len), 0);
	TU_CHECK(memcmp(b, p + s, len) == 0, "in-place decrypt differs: len %zu", len);
	free(p);
	free(ref);
	free(b);
}

static void test_random(void)
{
	uint8_t key[32];
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *enc = NULL, *dec = NULL;
	/* whole pages, a page and a block, ends inside a page, the launch chunk and beyond */
	static const uint64_t offs[] = {0, 16, 4080, 4096, 0x10000 - 32, 0x3ff000};
	static const size_t lens[] = {16, 32, 4096, 4112, 8192 - 16, 0x40000, 0x40000 + 48};

	random_key(key);
	enc = emu_vek_ctx_new(key, true);
	dec = emu_vek_ctx_new(key, false);
	TU_CHECK(enc && dec, "emu_vek_ctx_new");
	for (size_t i = 0; i < ELEMENTSOF(offs); i++)
		for (size_t j = 0; j < ELEMENTSOF(lens); j++)
			one_case(offs[i], lens[j], enc, dec, key);
	for (int k = 0; k < 200; k++) {
		uint64_t off = (rnd64() % (1ull << 36)) & ~15ull;
		size_t len = (size_t)(1 + rnd64() % (3 * PG / 16)) * 16;

		if (k % 4 == 0)
			off &= ~(uint64_t)(PG - 1); /* page-aligned starts, as most launches */
		one_case(off, len, enc, dec, key);
	}
}

/* Equal plaintext at different addresses (another block of the page, the same block of
 * another page) never gives equal ciphertext: every block has its own tweak. */
static void test_distinct(void)
{
	uint8_t key[32], p[2 * PG], c[2 * PG];

	random_key(key);
	memset(p, 0x5a, sizeof(p));
	TU_CHECK_EQ(emu_vek_crypt(key, 0x100000, p, c, sizeof(c), true), 0);
	for (size_t i = 0; i < sizeof(c); i += 16)
		for (size_t j = i + 16; j < sizeof(c); j += 16)
			TU_CHECK(memcmp(c + i, c + j, 16) != 0, "blocks %zu and %zu alike", i, j);
}

static void test_refusals(void)
{
	uint8_t key[32] = {1}, buf[32] = {0};

	TU_CHECK_EQ(emu_vek_crypt(key, 0, buf, buf, 17, true), -EINVAL);
	TU_CHECK_EQ(emu_vek_crypt(key, 0, buf, buf, 8, false), -EINVAL);
	TU_CHECK_EQ(emu_vek_crypt(key, 8, buf, buf, 16, true), -EINVAL);
	TU_CHECK_EQ(emu_vek_crypt(key, 0, buf, buf, 0, true), 0);
}

int main(void)
{
	test_ieee_vector();
	test_random();
	test_distinct();
	test_refusals();
	tu_done("emu-cipher");
}
