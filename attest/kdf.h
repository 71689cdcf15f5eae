/* The symmetric building blocks of the SEV launch channel (SEV API §2.2 "Key Derivation",
 * §6.2 LAUNCH_START, §6.6 LAUNCH_SECRET): the SP 800-108 counter-mode KDF with HMAC-SHA256,
 * HMAC-SHA256 over several parts, and AES-128-CTR. Pure code over OpenSSL's EVP_MAC and
 * EVP_CIPHER; trusts nothing but its arguments. Keys are never logged. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define ATTEST_HMAC_SIZE 32u
#define ATTEST_AES128_KEY_SIZE 16u
#define ATTEST_AES_IV_SIZE 16u

/* One input part of a MAC: HMAC is taken over the concatenation of the parts in order. */
struct attest_part {
	const void *p;
	size_t len;
};

/* SP 800-108 §5.1 KDF in counter mode, PRF = HMAC-SHA256, as the SEV firmware computes it:
 * K(i) = HMAC(key, u32le(i) ‖ label ‖ 0x00 ‖ context ‖ u32le(out_len * 8)), i = 1, 2, ...
 * (little-endian counter and length, unlike OpenSSL's KBKDF; see kdf.c). */
int attest_kdf(const uint8_t *key, size_t key_len, const char *label, const uint8_t *context,
	       size_t context_len, uint8_t *out, size_t out_len);

/* HMAC-SHA256(key, parts[0] ‖ ... ‖ parts[n-1]) into out[32]. */
int attest_hmac_sha256(const uint8_t *key, size_t key_len, const struct attest_part *parts,
		       size_t n_parts, uint8_t out[ATTEST_HMAC_SIZE]);

/* AES-128-CTR with a 16-byte initial counter block; encrypts or decrypts len bytes (in and
 * out may be the same buffer). */
int attest_aes128_ctr(const uint8_t key[ATTEST_AES128_KEY_SIZE],
		      const uint8_t iv[ATTEST_AES_IV_SIZE], const uint8_t *in, size_t len,
		      uint8_t *out);
