/* The emulated chip's keys, as the PSP holds them (SEV API §2.2 "Platform Keys", appendix C):
 * the chip part (fused at "manufacturing": the chip-unique key behind GET_ID, the CEK, and the
 * emulator's own AMD root ARK/ASK that signs the CEK) never changes for an NV file; the owner
 * part (OCA, PEK, PDH and the owner flag) is the persistent store that PEK_GEN, PDH_GEN,
 * PEK_CERT_IMPORT and FACTORY_RESET change. Private keys never leave this process except into
 * the NV file (the emulator's SPI flash). */
#pragma once

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "attest/amd-cert.h"
#include "attest/sev-cert.h"

/* The emulated AMD root's RSA size: 2048 (RSA-PSS SHA-256, AMD's Naples format) by default,
 * or 4096 (RSA-PSS SHA-384, the Rome/Milan/Genoa format; vectors/MANIFEST.md). Generating two
 * 4096-bit keys took 0.5-2 s here when idle but over 10 s under a parallel test load, longer
 * than test harnesses wait for the socket; 2048-bit keys take a fraction of that. The format
 * and the verifier are the same either way. */
#define EMU_AMD_ROOT_BITS_DEFAULT 2048

struct emu_chip {
	EVP_PKEY *cuk;	   /* chip-unique key (secp256k1): GET_ID is its public point */
	EVP_PKEY *ark_key; /* the emulator's "AMD root key" */
	EVP_PKEY *ask_key; /* the emulator's "AMD SEV signing key" */
	EVP_PKEY *cek_key; /* chip endorsement key, ECDSA P-384 */
	struct amd_cert ark, ask;
	struct sev_cert cek; /* signed by the ASK (what AMD's key server hands out) */
};

struct emu_owner {
	bool valid;	/* false after FACTORY_RESET until the next INIT regenerates it */
	bool ext_owned; /* PEK_CERT_IMPORT done: the OCA is the owner's */
	EVP_PKEY *oca_key; /* NULL when externally owned (the owner keeps its OCA key) */
	EVP_PKEY *pek_key;
	EVP_PKEY *pdh_key;
	struct sev_cert oca, pek, pdh;
};

int emu_chip_generate(struct emu_chip *c, uint8_t api_major, uint8_t api_minor,
		      unsigned root_bits);
void emu_chip_clear(struct emu_chip *c);
/* GET_ID: the chip-unique key's public point, x ‖ y big-endian (32 bytes each). */
int emu_chip_get_id(const struct emu_chip *c, uint8_t ret[64]);

void emu_owner_clear(struct emu_owner *o);
/* Copy with shared key references (for transactional updates: change the copy, commit). */
void emu_owner_copy(struct emu_owner *dst, const struct emu_owner *src);
/* Generate a self-signed OCA (clears ext_owned), a PEK signed by OCA and CEK, a PDH signed
 * by the PEK — each as firmware does (AMD-ASPFW sev_plat.c: sev_oca/pek/pdh_generate). */
int emu_owner_gen_oca(struct emu_owner *o, uint8_t api_major, uint8_t api_minor);
int emu_owner_gen_pek(struct emu_owner *o, const struct emu_chip *c, uint8_t api_major,
		      uint8_t api_minor);
int emu_owner_gen_pdh(struct emu_owner *o, uint8_t api_major, uint8_t api_minor);

/* A certificate body with both signature slots empty (usage NONE, algo INVALID): the PEK CSR,
 * and the unsigned CEK that PDH_CERT_EXPORT returns (AMD-ASPFW pdh_cert_chain_init). */
void emu_cert_unsigned(const struct sev_cert *src, struct sev_cert *ret);
/* Private keys to/from DER (PKCS#8 via i2d/d2i); the DER is secret: *ret is in OpenSSL's
 * secure heap when there is room and must be freed with OPENSSL_secure_clear_free. */
int emu_key_to_der(EVP_PKEY *k, uint8_t **ret, size_t *ret_len);
int emu_key_from_der(const uint8_t *der, size_t len, EVP_PKEY **ret);
