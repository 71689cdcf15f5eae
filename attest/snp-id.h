/* SEV-SNP ID blocks (SNP ABI spec 56860 §8.18 SNP_LAUNCH_FINISH, table 75 ID_BLOCK and
 * table 76 ID_AUTH_INFO): the guest owner's statement of the launch digest, family and image
 * ids, SVN and policy, signed by an ID key (ECDSA P-384 with SHA-384, the ABI's signature
 * format, chapter 10), whose public key may itself be signed by an author key. The report
 * then carries SHA-384 of each public key (ID_KEY_DIGEST, AUTHOR_KEY_DIGEST). Pure code. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "attest/verdict.h"

#define SNP_ID_BLOCK_SIZE 0x60u
#define SNP_ID_AUTH_SIZE 0x1000u
#define SNP_PUBKEY_SIZE 0x404u
#define SNP_SIGNATURE_SIZE 0x200u
#define SNP_ID_ALGO_ECDSA_P384_SHA384 1u
#define SNP_CURVE_P384 2u

struct snp_id_block {
	uint8_t ld[48];
	uint8_t family_id[16], image_id[16];
	uint32_t version; /* 1 */
	uint32_t guest_svn;
	uint64_t policy;
};

void attest_snp_id_block_encode(const struct snp_id_block *b, uint8_t out[SNP_ID_BLOCK_SIZE]);
/* -EBADMSG (with v->reason) when the length or the version is wrong. */
int attest_snp_id_block_decode(const uint8_t *buf, size_t len, struct snp_id_block *ret,
			       struct attest_verdict *v);

/* The ABI's public key format: curve u32 (2 = P-384), QX[72], QY[72] little-endian, zeros. */
int attest_snp_pubkey_encode(EVP_PKEY *key, uint8_t out[SNP_PUBKEY_SIZE]);
/* -EBADMSG (with v->reason) when the curve is not P-384, the point is not on it, or the
 * reserved bytes are not zero. */
int attest_snp_pubkey_decode(const uint8_t in[SNP_PUBKEY_SIZE], EVP_PKEY **ret,
			     struct attest_verdict *v);
/* SHA-384 of the encoded public key, as the report's ID_KEY_DIGEST / AUTHOR_KEY_DIGEST. */
int attest_snp_pubkey_digest(EVP_PKEY *key, uint8_t out[48]);

/* ID_AUTH_INFO for an encoded ID block: signed by id_key; author_key (NULL: none) signs the
 * ID key. */
int attest_snp_id_auth_build(const uint8_t block[SNP_ID_BLOCK_SIZE], EVP_PKEY *id_key,
			     EVP_PKEY *author_key, uint8_t out[SNP_ID_AUTH_SIZE]);

/* What SNP_LAUNCH_FINISH checks of them: the algorithms, the ID key's signature over the
 * block, and with author_key_en the author key's signature over the ID key. 1 valid (the
 * key digests filled in; the author digest zero without author_key_en), 0 invalid with
 * v->reason naming the field, negative errno on internal errors. */
int attest_snp_id_verify(const uint8_t *block, size_t block_len, const uint8_t *auth,
			 size_t auth_len, bool author_key_en, uint8_t id_key_digest[48],
			 uint8_t author_key_digest[48], struct attest_verdict *v);
