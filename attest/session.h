/* The LAUNCH_START session (SEV API §6.2 and §2.2 "Key Derivation"), both ends of it.
 * Guest owner side: a fresh guest owner Diffie-Hellman (GODH) P-384 key as a SEV certificate,
 * ECDH with the platform's PDH, master secret, KEK/KIK, TEK‖TIK wrapped and MACed, the policy
 * MAC: the session blob a tenant hands to the host. Firmware side (for sev-psp-emu): with the
 * PDH private key, open a GODH cert and session blob, check both MACs, recover TEK/TIK.
 * Pure code; the PDH given to the owner side is trusted to have been verified by the caller. */
#pragma once

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/sev-cert.h"
#include "attest/verdict.h"
#include "psp/sev-abi.h"

#define ATTEST_TK_KEY_SIZE 16u
#define ATTEST_NONCE_SIZE 16u
#define ATTEST_ECDH_Z_SIZE 48u	   /* P-384 shared X, big-endian */
#define ATTEST_P384_SCALAR_SIZE 48u /* big-endian */

/* The transport keys, laid out as sev-tool's tmp_tk.bin: TEK ‖ TIK. Wipe after use. */
struct attest_tk {
	uint8_t tek[ATTEST_TK_KEY_SIZE];
	uint8_t tik[ATTEST_TK_KEY_SIZE];
};

/* Fixed inputs for known-answer tests; every NULL field (or a NULL params) means fresh
 * randomness (EVP_PKEY_keygen / RAND_priv_bytes), which is what production uses. */
struct attest_session_params {
	const uint8_t *godh_scalar; /* ATTEST_P384_SCALAR_SIZE bytes, big-endian */
	const uint8_t *nonce;	    /* 16 */
	const uint8_t *tek;	    /* 16 */
	const uint8_t *tik;	    /* 16 */
	const uint8_t *wrap_iv;	    /* 16 */
};

/* The keys of the channel (SEV API §2.2.2): master = KDF(Z, "sev-master-secret", nonce),
 * KEK = KDF(master, "sev-kek"), KIK = KDF(master, "sev-kik"). */
struct attest_session_keys {
	uint8_t master[16];
	uint8_t kek[16];
	uint8_t kik[16];
};

/* A P-384 private key from a big-endian scalar (1 ≤ d < n), with its public point. */
int attest_p384_key_from_scalar(const uint8_t scalar[ATTEST_P384_SCALAR_SIZE], EVP_PKEY **ret);
/* ECDH: Z = the shared point's X coordinate, 48 bytes big-endian. */
int attest_ecdh_z(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t z[ATTEST_ECDH_Z_SIZE]);
int attest_session_keys_derive(const uint8_t *z, size_t z_len,
			       const uint8_t nonce[ATTEST_NONCE_SIZE],
			       struct attest_session_keys *ret);
/* Wrap TEK‖TIK under KEK with wrap_iv, MAC it with KIK, MAC the policy (LE32) with TIK. */
int attest_session_wrap(const struct attest_session_keys *keys, const struct attest_tk *tk,
			uint32_t policy, const uint8_t nonce[ATTEST_NONCE_SIZE],
			const uint8_t wrap_iv[16], struct sev_session_blob *ret);

/* Guest owner: everything LAUNCH_START needs for this PDH and policy. The GODH cert is
 * version 1, usage PDH, ECDH_SHA256, P-384, self-signed in slot 0 as sev-tool does. */
int attest_session_build(const struct sev_cert *pdh, uint32_t policy,
			 const struct attest_session_params *params, struct sev_cert *ret_godh,
			 struct sev_session_blob *ret_blob, struct attest_tk *ret_tk);

/* Firmware side. The checks, in the order AMD's firmware makes them (AMD-ASPFW
 * sev_channel.c, sev_guest.c), and the status it answers for each; a rejection carries its
 * check in v->check and attest_session_check_name() of it in v->reason. */
enum attest_session_check {
	ATTEST_SESSION_OK = 0,
	ATTEST_SESSION_BAD_LENGTH,     /* GODH cert ≠ 0x824 or blob ≠ 0x80 bytes: INVALID_LEN */
	ATTEST_SESSION_BAD_GODH,       /* not a PDH/ECDH P-384 key on the curve: INVALID_CERTIFICATE */
	ATTEST_SESSION_BAD_WRAP_MAC,   /* HMAC(KIK, wrap_tk) differs: BAD_MEASUREMENT */
	ATTEST_SESSION_BAD_POLICY_MAC, /* HMAC(TIK, policy) differs: BAD_MEASUREMENT */
};
const char *attest_session_check_name(enum attest_session_check c);
/* The SEV_STATUS_* the firmware answers for a failed check (SUCCESS for OK). */
int attest_session_check_status(enum attest_session_check c);

/* Open a session with the platform's PDH private key: 1 = accepted (*ret_tk holds TEK/TIK,
 * v->ok, v->check = ATTEST_SESSION_OK), 0 = rejected (v names the check; *ret_tk zeroed),
 * negative errno on error. v may be NULL. MACs are compared in constant time; intermediate
 * keys are wiped. */
int attest_session_open(EVP_PKEY *pdh_priv, const uint8_t *godh, size_t godh_len,
			const uint8_t *blob, size_t blob_len, uint32_t policy,
			struct attest_tk *ret_tk, struct attest_verdict *v);
