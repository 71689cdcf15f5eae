/* libFuzzer target: the certificate table of an SEV-SNP extended report
 * (attest_snp_cert_table_parse), as `sevadm verify report --cert-table FILE` reads what a host
 * handed the guest and sevd's core reads a PUT /v1/snp/certs (daemon/core/snp-certs.c). Input:
 * the table bytes. Every outcome is 0 or -EBADMSG with a reason; each entry found lies inside
 * the buffer, after the table, and is not empty; the entries listed of an accepted table
 * (attest_snp_cert_table_entries) are its entries, and rebuilding a table from them
 * (attest_snp_cert_table_build) gives one the parser accepts with the same entries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attest/snp-appraise.h"
#include "attest/snp-cert-table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snp_cert_table t;
	struct attest_verdict v = {};
	int r = attest_snp_cert_table_parse(data, size, &t, &v);

	if (r < 0) {
		if (r != -EBADMSG || !v.reason[0])
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
	{
		struct snp_cert_entry e[SNP_CERT_TABLE_ENTRIES_MAX], e2[SNP_CERT_TABLE_ENTRIES_MAX];
		size_t n = attest_snp_cert_table_entries(data, size, e, SNP_CERT_TABLE_ENTRIES_MAX);
		uint8_t *b = NULL;
		size_t blen = 0;

		if (n != (t.n_entries < SNP_CERT_TABLE_ENTRIES_MAX ? t.n_entries
								  : SNP_CERT_TABLE_ENTRIES_MAX))
			abort();
		for (size_t i = 0; i < n; i++)
			if (e[i].data < data || e[i].data + e[i].len > data + size || !e[i].len)
				abort();
		if (attest_snp_cert_table_build(e, n, &b, &blen, &v) == 0) {
			struct snp_cert_table t2;

			if (attest_snp_cert_table_parse(b, blen, &t2, &v) < 0 ||
			    attest_snp_cert_table_entries(b, blen, e2, n) != n)
				abort();
			for (size_t i = 0; i < n; i++)
				if (e2[i].len != e[i].len || memcmp(e2[i].guid, e[i].guid, 16) ||
				    memcmp(e2[i].data, e[i].data, e[i].len))
					abort();
		}
		free(b);
	}
	return 0;
}
