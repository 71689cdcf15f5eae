/* The SEV-SNP guest message protocol, the guest's side (SNP ABI 56860 "Guest Messages";
 * AMD-ASPFW snp_mcmd_guest_request; Linux drivers/virt/coco/sev-guest): a request is the
 * 0x60-byte header (psp/sev-abi.h struct sev_snp_msg_hdr) then the payload, AES-256-GCM under
 * the VMPCK the header names, IV = MSG_SEQNO (u64 little-endian) then 4 zero bytes, AAD =
 * header bytes 0x30..0x5F, the 16-byte tag at offset 0. Requests carry odd sequence numbers,
 * the response the next one. For tests and hosts that act as the guest (the emulator hands out
 * the secrets page with the VMPCKs). Pure code; a response is untrusted input. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "attest/verdict.h"

#define ATTEST_SNP_MSG_HDR_SIZE 0x60u
#define ATTEST_SNP_VMPCK_SIZE 32u

/* Build a request of type msg_type (version 1) with payload into page[0 .. 0x60 + len):
 * 0, or -EINVAL (len not a non-zero multiple of 16, or the message does not fit cap), -EIO. */
int attest_snp_msg_seal(const uint8_t vmpck[ATTEST_SNP_VMPCK_SIZE], uint8_t vmpck_id,
			uint64_t seqno, uint8_t msg_type, const void *payload, size_t len,
			uint8_t *page, size_t cap);
/* Check and decrypt a response in place: header version 1, size 0x60, AES-256-GCM, the
 * expected type, VMPCK id and sequence number, a payload inside len, a tag that verifies.
 * 0 with *payload / *payload_len pointing into page, or -EBADMSG with v->reason (v may be
 * NULL); -EIO when OpenSSL fails. */
int attest_snp_msg_open(const uint8_t vmpck[ATTEST_SNP_VMPCK_SIZE], uint8_t vmpck_id,
			uint64_t seqno, uint8_t msg_type, uint8_t *page, size_t len,
			const uint8_t **payload, size_t *payload_len, struct attest_verdict *v);
