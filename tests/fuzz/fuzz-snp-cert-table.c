/* libFuzzer target: the certificate table of an SEV-SNP extended report
 * (attest_snp_cert_table_parse), as `sevadm verify report --cert-table FILE` reads what a host
 * handed the guest. Input: the table bytes. Every outcome is 0 or -EBADMSG with a reason; each
 * entry found lies inside the buffer, after the table, and is not empty. */
#include <errno.h>
#include <stdlib.h>

#include "attest/snp-appraise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snp_cert_table t;
	char why[300] = "";
	int r = attest_snp_cert_table_parse(data, size, &t, why, sizeof why);

	if (r < 0) {
		if (r != -EBADMSG || !why[0])
			abort();
		return 0;
	}
	for (int k = 0; k < SNP_CERT_KINDS; k++) {
		if (!t.has[k])
			continue;
		if (t.length[k] == 0 || t.offset[k] < (t.n_entries + 1) * 24 ||
		    (uint64_t)t.offset[k] + t.length[k] > size)
			abort();
	}
	return 0;
}
