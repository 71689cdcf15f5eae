/* libFuzzer target: the firmware side of LAUNCH_SECRET (attest_secret_open) on untrusted
 * packet headers and transport data. Every outcome is a verdict; an accepted packet must seal
 * back to the same header (same IV, keys and measurement), so acceptance means authenticity. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attest/secret.h"
#include "fuzz-launch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attest_verdict v = {0};
	struct attest_tk tk;
	struct sev_secret_header h, again;
	uint8_t *plain, *cipher;
	size_t hdr_len, trans_len;
	uint8_t minor;
	uint32_t guest_len;
	int r;

	if (size < 1)
		return 0;
	minor = (data[0] & 1) ? 16 : 0;
	hdr_len = size - 1 < 52 ? size - 1 : 52;
	trans_len = size - 1 - hdr_len;
	guest_len = (uint32_t)trans_len + ((data[0] & 2) ? 16 : 0);
	memcpy(&tk, fuzz_tk, sizeof tk);
	plain = malloc(trans_len + 1);
	cipher = malloc(trans_len + 1);
	if (!plain || !cipher)
		abort();
	r = attest_secret_open(&(struct attest_secret_key){&tk, fuzz_measure, minor ? 0 : 1, minor},
			       &(struct attest_secret_packet){data + 1, hdr_len, data + 1 + hdr_len,
							      trans_len, guest_len},
			       plain, &v);
	if (r < 0 && r != -ENOMEM)
		abort();
	if ((r == 0) == (v.check == ATTEST_SECRET_OK) || (r == 0) == v.ok ||
	    (r == 0 && !v.reason[0]))
		abort();
	if (r == 1) {
		memcpy(&h, data + 1, sizeof h);
		if (attest_secret_seal(
			&(struct attest_secret_key){&tk, fuzz_measure, minor ? 0 : 1, minor}, h.iv,
			plain, trans_len, &again, cipher) < 0 ||
		    memcmp(&again, &h, sizeof h) != 0 ||
		    memcmp(cipher, data + 1 + hdr_len, trans_len))
			abort();
	}
	free(plain);
	free(cipher);
	return 0;
}
