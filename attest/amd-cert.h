/* AMD certificates (ARK, ASK) in AMD's own "CA certificate" format (SEV API appendix B.1):
 * a 0x40-byte header, then public exponent, modulus and signature, little-endian, sized by the
 * header's bit counts (2048 on Naples, 4096 from Rome on). RSA-PSS, MGF1 with the same hash,
 * salt = digest length: SHA-256 for 2048-bit keys, SHA-384 for 4096-bit keys. Pure code. */
#pragma once

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/verdict.h"

#define AMD_CERT_HDR_SIZE 0x40u
#define AMD_CERT_MAX_SIZE (AMD_CERT_HDR_SIZE + 3 * 512u)

struct amd_cert {
	uint32_t version; /* 1 */
	uint8_t key_id[16];
	uint8_t certifying_id[16]; /* key_id of the signer (ARK: its own) */
	uint32_t key_usage;	   /* 0x00 ARK, 0x13 ASK */
	uint8_t reserved[16];
	uint32_t pubexp_bits;
	uint32_t modulus_bits;
	uint8_t pubexp[512]; /* little-endian, pubexp_bits/8 bytes used */
	uint8_t modulus[512];
	uint8_t sig[512];
};

/* Parse one AMD cert from buf; *consumed = its encoded size, so that AMD's concatenated
 * ask_ark_<gen>.cert (ASK then ARK) can be split. -EBADMSG with v->reason when malformed. */
int attest_amd_cert_parse(const uint8_t *buf, size_t len, struct amd_cert *ret, size_t *consumed,
			  struct attest_verdict *v);
/* Encoded size and encoding (byte-exact round trip of a parsed cert). */
size_t attest_amd_cert_size(const struct amd_cert *c);
int attest_amd_cert_encode(const struct amd_cert *c, uint8_t *out, size_t cap, size_t *ret_len);
int attest_amd_cert_pubkey(const struct amd_cert *c, EVP_PKEY **ret);
/* Build a cert for an RSA key (emulator's own root): fills exponent/modulus and ids. */
int attest_amd_cert_init(struct amd_cert *c, const uint8_t key_id[16],
			 const uint8_t certifying_id[16], uint32_t usage, EVP_PKEY *pub);
int attest_amd_cert_sign(struct amd_cert *c, EVP_PKEY *signer_key);
/* 1 = c is signed by signer (and c->certifying_id == signer->key_id), 0 = not (v->reason). */
int attest_amd_cert_verify(const struct amd_cert *c, const struct amd_cert *signer,
			   struct attest_verdict *v);
/* Verify a SEV CEK (signed by an ASK). 1/0/negative as above. */
struct sev_cert;
int attest_amd_verify_cek(const struct sev_cert *cek, const struct amd_cert *ask,
			  struct attest_verdict *v);
