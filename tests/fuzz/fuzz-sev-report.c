/* libFuzzer target: the legacy SEV attestation report (attest/sev-report.h) on untrusted bytes:
 * parse, then verify against a PEK whose key was made here — no input can carry a valid
 * signature by it, so acceptance is a bug. */
#include <stdlib.h>

#include "attest/sev-report.h"
#include "common/ossl.h"

static const struct sev_cert *fuzz_pek(void)
{
	static struct sev_cert pek;
	static int ready;

	if (!ready) {
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		if (!k || attest_sev_cert_init(&pek, 1, 55, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256,
					       k) < 0)
			abort();
		EVP_PKEY_free(k);
		ready = 1;
	}
	return &pek;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sev_attestation_report rep;
	struct attest_verdict v;
	struct attest_verdict why = {0};

	if (attest_sev_report_parse(data, size, &rep, &why) < 0) {
		if (!why.reason[0])
			abort();
		return 0;
	}
	if (attest_sev_report_verify(&rep, fuzz_pek(), rep.mnonce, rep.launch_digest, &v) != 0)
		abort();
	return 0;
}
