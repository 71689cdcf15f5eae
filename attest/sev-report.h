/* The legacy SEV ATTESTATION report (SEV API 55766 §6.8, "ATTESTATION"; 0xD0 bytes, struct
 * sev_attestation_report in psp/sev-abi.h): parse it and verify it — the PEK's ECDSA signature
 * over SHA-256 of bytes [0, 0x34) (mnonce, launch digest, policy), then the caller's expected
 * nonce and launch digest. Two other tools got the signed bytes or the signature size wrong
 * (SEV-FACTS.md §10); this one is pinned by sev-tool's known answer. Pure code. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "attest/chain.h"
#include "attest/sev-cert.h"
#include "psp/sev-abi.h"

/* Exactly SEV_ATTESTATION_REPORT_SIZE bytes; -EBADMSG with v->reason otherwise, or when the
 * signature fields are not a PEK's ECDSA signature (v may be NULL). */
int attest_sev_report_parse(const uint8_t *buf, size_t len, struct sev_attestation_report *ret,
			    struct attest_verdict *v);
/* 1 = the report is signed by pek and matches the expectations given (nonce: 16 bytes, digest:
 * 32 bytes, each NULL to skip; v->reason sums up what held), 0 = not (v->reason says which
 * check failed), <0 on error. v may be NULL.
 * pek must itself have been verified (attest_sev_chain_verify) for the result to mean much. */
int attest_sev_report_verify(const struct sev_attestation_report *rep, const struct sev_cert *pek,
			     const uint8_t *nonce, const uint8_t *digest,
			     struct attest_verdict *v);
/* Sign a report with a PEK private key (the emulator's ATTESTATION): fills sig_usage = PEK,
 * sig_algo = ECDSA_SHA256 and the signature. */
int attest_sev_report_sign(struct sev_attestation_report *rep, EVP_PKEY *pek_key);
