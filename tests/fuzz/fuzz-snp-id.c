/* libFuzzer target: SEV-SNP ID block and ID authentication parsing and verification
 * (attest/snp-id.h), as SNP_LAUNCH_FINISH would run them on what a host hands in. Input: the
 * ID block (96 bytes), then the ID auth structure (the rest, padded or cut to 4096 bytes);
 * the first byte's low bit sets AUTHOR_KEY_EN. Every outcome is 1, 0 with a reason, or an
 * internal error; a public key that decodes encodes back to the same bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attest/snp-id.h"

static void check_pubkey(const uint8_t *pk)
{
	EVP_PKEY *key = NULL;
	struct attest_verdict why = {0};
	uint8_t back[SNP_PUBKEY_SIZE];
	int r = attest_snp_pubkey_decode(pk, &key, &why);

	if (r == 0 && (attest_snp_pubkey_encode(key, back) != 0 ||
		       memcmp(back, pk, SNP_PUBKEY_SIZE) != 0))
		abort(); /* a decoded key is canonical */
	if (r == -EBADMSG && !why.reason[0])
		abort();
	EVP_PKEY_free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t auth[SNP_ID_AUTH_SIZE] = {}, d1[48], d2[48];
	struct attest_verdict why = {0};
	struct snp_id_block b;
	size_t blen = size < SNP_ID_BLOCK_SIZE ? size : SNP_ID_BLOCK_SIZE;
	int r;

	if (size > SNP_ID_BLOCK_SIZE)
		memcpy(auth, data + SNP_ID_BLOCK_SIZE, size - SNP_ID_BLOCK_SIZE > sizeof auth ?
			     sizeof auth : size - SNP_ID_BLOCK_SIZE);
	if (attest_snp_id_block_decode(data, blen, &b, &why) < 0 && !why.reason[0])
		abort();
	check_pubkey(auth + 0x240);
	check_pubkey(auth + 0x880);
	why = (struct attest_verdict){0};
	r = attest_snp_id_verify(data, blen, auth, sizeof auth, size > 0 && (data[0] & 1), d1, d2,
				 &why);
	if (r == 0 && !why.reason[0])
		abort(); /* every refusal names the field */
	if (r > 1)
		abort();
	return 0;
}
