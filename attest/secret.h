/* LAUNCH_SECRET packets (SEV API §6.6), both ends. Guest owner side: the OVMF SEV secret table
 * (as sevctl builds it) or one raw secret (as sev-tool packages it), encrypted with the TEK
 * (AES-128-CTR) and MACed with the TIK over 0x01 ‖ flags ‖ iv ‖ u32le(guest_len) ‖
 * u32le(trans_len) ‖ ciphertext ‖ measurement — without the measurement for firmware API
 * < 0.17. Firmware side (for sev-psp-emu): check lengths and MAC, then decrypt. Pure code. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "attest/session.h" /* struct attest_tk */
#include "attest/verdict.h"
#include "psp/sev-abi.h"

#define ATTEST_SECRET_CTX 0x01u
#define ATTEST_SECRET_FLAG_COMPRESSED 0x1u
/* The firmware's scratch buffer bounds one packet (AMD-ASPFW SEV_SCRATCH_BUF_LEN). */
#define ATTEST_SECRET_MAX_LEN 0x5000u
/* sev-tool refuses a raw secret shorter than this. */
#define ATTEST_SECRET_RAW_MIN_LEN 8u
#define ATTEST_SECRET_TABLE_GUID "1e74f542-71dd-4d66-963e-ef4287ff173b"

struct attest_secret {
	uint8_t guid[16]; /* EFI byte order (attest_guid_parse) */
	const uint8_t *data;
	size_t len;
};

/* The OVMF secret table: table GUID ‖ u32 total ‖ entries (guid ‖ u32(len + 20) ‖ data), zero
 * padded to a multiple of 16. *ret is from secret_alloc(): free with secret_free(*ret, *ret_len). */
int attest_secret_table(const struct attest_secret *secrets, size_t n, uint8_t **ret,
			size_t *ret_len);

/* The packet MAC. measure = NULL leaves the measurement out (firmware API < 0.17). */
int attest_secret_mac(const uint8_t tik[16], uint32_t flags, const uint8_t iv[16],
		      uint32_t guest_len, const uint8_t *cipher, size_t trans_len,
		      const uint8_t *measure, uint8_t ret[32]);

/* What both ends of a packet share: the transport keys, the launch measurement (32 bytes) and
 * the firmware API version, which decides whether the measurement enters the MAC (≥ 0.17,
 * sev-tool's rule). */
struct attest_secret_key {
	const struct attest_tk *tk;
	const uint8_t *measure;
	uint8_t api_major;
	uint8_t api_minor;
};

/* A packet as the firmware receives it: the header bytes and the transport (cipher) bytes. */
struct attest_secret_packet {
	const uint8_t *hdr;
	size_t hdr_len;
	const uint8_t *trans;
	size_t trans_len;
	uint32_t guest_len;
};

/* Seal len bytes: ret_cipher (len bytes) and the header. iv NULL = a fresh random IV. */
int attest_secret_seal(const struct attest_secret_key *k, const uint8_t *iv, const uint8_t *plain,
		       size_t len, struct sev_secret_header *ret_hdr, uint8_t *ret_cipher);

/* Firmware side: the checks in the order AMD's firmware makes them (sev_mcmd.c); a rejection
 * carries its check in v->check and attest_secret_check_name() of it in v->reason. */
enum attest_secret_check {
	ATTEST_SECRET_OK = 0,
	ATTEST_SECRET_BAD_LENGTH, /* header ≠ 52 bytes; guest_len ≠ trans_len, 0, not a multiple
				     of 16 or above ATTEST_SECRET_MAX_LEN: INVALID_LEN */
	ATTEST_SECRET_BAD_MAC,	  /* BAD_MEASUREMENT */
	ATTEST_SECRET_COMPRESSED, /* flags ask for compression: UNSUPPORTED */
};
const char *attest_secret_check_name(enum attest_secret_check c);
int attest_secret_check_status(enum attest_secret_check c);

/* Open a packet: 1 = accepted, ret_plain (trans_len bytes) holds the plaintext (v->ok,
 * v->check = ATTEST_SECRET_OK); 0 = rejected, v names the check and ret_plain is zeroed;
 * negative errno on error. v may be NULL. */
int attest_secret_open(const struct attest_secret_key *k, const struct attest_secret_packet *p,
		       uint8_t *ret_plain, struct attest_verdict *v);
