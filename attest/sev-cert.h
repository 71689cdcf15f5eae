/* SEV certificates (PDH, PEK, OCA, CEK; SEV API appendix C "Certificate Format"): the fixed
 * 0x824-byte layout, parsing with validation, building and signing (for the emulator), and
 * verification of one certificate by its signer. Pure code: no I/O. */
#pragma once

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/verdict.h"
#include "psp/sev-abi.h" /* SEV_CERT_SIZE */

enum sev_cert_usage {
	SEV_USAGE_ARK = 0x0000,
	SEV_USAGE_ASK = 0x0013,
	SEV_USAGE_NONE = 0x1000,
	SEV_USAGE_OCA = 0x1001,
	SEV_USAGE_PEK = 0x1002,
	SEV_USAGE_PDH = 0x1003,
	SEV_USAGE_CEK = 0x1004,
};

enum sev_cert_algo {
	SEV_ALGO_INVALID = 0x0000,
	SEV_ALGO_RSA_SHA256 = 0x0001,
	SEV_ALGO_ECDSA_SHA256 = 0x0002,
	SEV_ALGO_ECDH_SHA256 = 0x0003,
	SEV_ALGO_RSA_SHA384 = 0x0101,
	SEV_ALGO_ECDSA_SHA384 = 0x0102,
	SEV_ALGO_ECDH_SHA384 = 0x0103,
};

#define SEV_CERT_SIGNED_LEN 0x414u
#define SEV_ECC_CURVE_P256 1u
#define SEV_ECC_CURVE_P384 2u

struct sev_cert_sig {
	uint32_t usage;
	uint32_t algo;
	uint8_t sig[512]; /* ECDSA: r[72] LE ‖ s[72] LE ‖ zeros; RSA: signature LE */
} __attribute__((packed));

struct sev_cert {
	uint32_t version; /* 1 */
	uint8_t api_major;
	uint8_t api_minor;
	uint16_t reserved;
	uint32_t pubkey_usage;
	uint32_t pubkey_algo;
	uint8_t pubkey[1028]; /* ECC: curve u32, qx[72] LE, qy[72] LE, zeros; RSA: bits u32,
				 pubexp[512] LE, modulus[512] LE */
	struct sev_cert_sig sig[2];
} __attribute__((packed));
_Static_assert(sizeof(struct sev_cert) == SEV_CERT_SIZE, "SEV cert is 0x824 bytes");

/* Parse and validate (version 1, a known usage and algorithm, a well-formed key): 0, or
 * -EBADMSG with v->reason naming what was wrong (v may be NULL). */
int attest_sev_cert_parse(const uint8_t *buf, size_t len, struct sev_cert *ret,
			  struct attest_verdict *v);
/* The certificate's public key as an OpenSSL key (EC P-256/P-384 or RSA). */
int attest_sev_cert_pubkey(const struct sev_cert *c, EVP_PKEY **ret);
/* Fill the public key fields from an OpenSSL key (for the emulator and GODH building). */
int attest_sev_cert_init(struct sev_cert *c, uint8_t api_major, uint8_t api_minor,
			 uint32_t usage, uint32_t algo, EVP_PKEY *pub);
/* Sign bytes [0, 0x414) into signature slot `slot` (0 or 1) with the signer's private key. */
int attest_sev_cert_sign(struct sev_cert *c, int slot, uint32_t signer_usage, uint32_t algo,
			 EVP_PKEY *signer_key);
/* Verify c under a signer key whose usage is signer_usage: picks the signature slot whose
 * usage matches. 1 = valid, 0 = invalid (with v->reason), negative errno on error. */
int attest_sev_cert_verify(const struct sev_cert *c, uint32_t signer_usage, EVP_PKEY *signer_key,
			   struct attest_verdict *v);
const char *attest_sev_usage_name(uint32_t usage);

/* ---- building blocks shared by the AMD cert, the chain and the report verifiers ----
 * Numbers arrive little-endian in every SEV structure; these convert at the OpenSSL boundary. */

/* An RSA public key from little-endian exponent and modulus. */
int attest_rsa_pubkey_from_le(const uint8_t *pubexp, size_t pubexp_len, const uint8_t *modulus,
			      size_t modulus_len, EVP_PKEY **ret);
/* An EC public key (curve SEV_ECC_CURVE_P256/P384) from little-endian coordinates of
 * SEV_ECC_COORD_SIZE bytes; -EBADMSG when the point is not on the curve. */
#define SEV_ECC_COORD_SIZE 72u
/* le[0, cap) = the BIGNUM parameter name of key, little-endian: 0, -EINVAL, -E2BIG. */
int attest_key_bn_le(EVP_PKEY *key, const char *name, uint8_t *le, size_t cap);
int attest_ec_pubkey_from_le(uint32_t curve, const uint8_t *qx, const uint8_t *qy, EVP_PKEY **ret);
/* RSA-PSS (MGF1 with md, salt = digest length) over data; sig_le little-endian, sig_len bytes.
 * 1 = valid, 0 = invalid, negative errno on error. */
int attest_rsa_pss_verify_le(EVP_PKEY *key, const EVP_MD *md, const uint8_t *data, size_t len,
			     const uint8_t *sig_le, size_t sig_len);
int attest_rsa_pss_sign_le(EVP_PKEY *key, const EVP_MD *md, const uint8_t *data, size_t len,
			   uint8_t *sig_le, size_t sig_len);
/* ECDSA over data with md; r and s little-endian, SEV_ECC_COORD_SIZE bytes each. */
int attest_ecdsa_verify_le(EVP_PKEY *key, const EVP_MD *md, const uint8_t *data, size_t len,
			   const uint8_t r_le[72], const uint8_t s_le[72]);
int attest_ecdsa_sign_le(EVP_PKEY *key, const EVP_MD *md, const uint8_t *data, size_t len,
			 uint8_t r_le[72], uint8_t s_le[72]);
/* The digest of a SEV signature algorithm (SHA-256 or SHA-384), NULL if none. */
const EVP_MD *attest_sev_algo_md(uint32_t algo);
const char *attest_sev_algo_name(uint32_t algo);
