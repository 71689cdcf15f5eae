/* libFuzzer target: the SEV-SNP certificate readers (attest/snp-chain.h) on untrusted bytes —
 * one DER/PEM certificate with its AMD extensions (TCB SPLs, hwID, productName), and a KDS
 * cert_chain PEM stack. */
#include <stdlib.h>

#include "attest/snp-chain.h"
#include "common/ossl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(X509_freep) X509 *x = NULL, *ask = NULL, *ark = NULL;
	struct snp_vcek_info info;
	struct snp_chain_verdict v;
	struct attest_verdict buf = {0};

	if (attest_snp_cert_parse(data, size, &x, NULL) == 0) {
		(void)attest_snp_vcek_info(x, &info, &buf);
		(void)attest_snp_cert_gen(x);
		/* A lone certificate as its own root: must not crash whatever it holds. */
		(void)attest_snp_chain_verify(x, x, x, &v);
	}
	if (attest_snp_cert_chain_parse(data, size, &ask, &ark, NULL) == 0)
		(void)attest_snp_chain_verify(ark, ask, NULL, &v);
	return 0;
}
