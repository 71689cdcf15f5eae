/* libFuzzer target: the firmware side of LAUNCH_START (attest_session_open) on untrusted GODH
 * certificates and session blobs. Every outcome must be a verdict: accepted with the OK check,
 * or rejected naming a check (v.check, v.reason) with the keys zeroed — never an error, never a
 * crash. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attest/session.h"
#include "common/util.h"
#include "fuzz-launch.h"

static EVP_PKEY *pdh_key(void)
{
	static EVP_PKEY *key;

	if (!key && attest_p384_key_from_scalar(fuzz_pdh_scalar, &key) < 0)
		abort();
	return key;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct attest_tk zero;
	struct attest_verdict v = {0};
	struct attest_tk tk;
	size_t godh_len = size, blob_len = 0;
	uint32_t policy = 0;
	int r;

	if (size >= FUZZ_SESSION_INPUT_SIZE) {
		godh_len = 0x824;
		blob_len = 0x80;
		policy = get_le32(data + 0x824 + 0x80);
	}
	r = attest_session_open(pdh_key(), data, godh_len, data + godh_len, blob_len, policy, &tk,
				&v);
	if (r < 0 && r != -ENOMEM)
		abort(); /* hostile input must get a verdict, not an error */
	if (r == 0 && (v.ok || v.check == ATTEST_SESSION_OK || !v.reason[0] ||
		       memcmp(&tk, &zero, sizeof tk) != 0))
		abort();
	if (r == 1 && (!v.ok || v.check != ATTEST_SESSION_OK))
		abort();
	return 0;
}
