/* libFuzzer target: the OVMF footer table walk and the launch digest with direct kernel boot
 * (attest/guid.h, attest/measurement.h) on untrusted firmware images: bounded reads only; a
 * found hashes area lies inside the image's table and yields a digest or a named refusal. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attest/measurement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t kernel[32] = { 1 };
	struct attest_digest_input in = { .firmware = data, .firmware_len = size,
					  .kernel_sha256 = kernel, .cmdline = "console=ttyS0" };
	struct attest_verdict v = {};
	uint8_t digest[32];
	uint32_t base, len;
	int r, a;

	a = attest_ovmf_hashes_area(data, size, &base, &len);
	if (a < 0 && a != -ENOENT && a != -EBADMSG)
		abort();
	if (a == 0 && (base == 0 || len == 0))
		abort();
	r = attest_launch_digest(&in, digest, &v);
	if (r < 0 && r != -ENOMEM && r != -EIO && !v.reason[0])
		abort(); /* every refusal says why */
	if (r == 0 && (a < 0 || len < ATTEST_SEV_HASHES_TABLE_SIZE))
		abort(); /* a kernel is measured only where the firmware has room for the table */
	return 0;
}
