/* libFuzzer target: the guest's reader of SNP guest message responses (attest/snp-msg.h,
 * attest_snp_msg_open) on untrusted bytes. Byte 0 picks the expected VMPCK id, message type
 * and sequence number; the rest is the response page. Half the inputs are first sealed with the
 * fixed key (so the reader gets past the tag and checks the payload size), then mutated only in
 * the header fields the fuzzer supplies. Must never crash or read past the buffer. */
#include <stdlib.h>
#include <string.h>

#include "attest/snp-msg.h"
#include "common/macros.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[ATTEST_SNP_VMPCK_SIZE] = { 0x5a, 1, 2, 3 };
	uint8_t page[4096], id, type;
	const uint8_t *payload;
	size_t n, len;
	uint64_t seqno;

	if (size < 2)
		return 0;
	id = data[0] & 3;
	type = (data[0] >> 2) & 0x1f;
	seqno = data[1];
	len = MIN(size - 2, sizeof(page));
	memcpy(page, data + 2, len);
	if ((data[0] & 0x80) && len > ATTEST_SNP_MSG_HDR_SIZE + 16) {
		size_t plen = (len - ATTEST_SNP_MSG_HDR_SIZE) & ~(size_t)15;

		if (attest_snp_msg_seal(key, id, seqno, type, page + ATTEST_SNP_MSG_HDR_SIZE, plen,
					page, sizeof(page)) < 0)
			abort();
		if (data[0] & 0x40) /* keep the fuzzer's header bytes outside the AAD */
			memcpy(page + 0x20, data + 2 + 0x20, 8);
	}
	if (attest_snp_msg_open(key, id, seqno, type, page, len, &payload, &n, NULL) == 0 &&
	    (payload != page + ATTEST_SNP_MSG_HDR_SIZE || n > len - ATTEST_SNP_MSG_HDR_SIZE))
		abort();
	return 0;
}
