/* libFuzzer target: the SEV-SNP report decoder (attest/snp-report.h) on untrusted bytes — as raw
 * 0x4A0-byte reports and as hex text — then every rendering, the KDS path and a signature check
 * with an unrelated key, which must never accept. */
#include <openssl/evp.h>
#include <stdlib.h>

#include "attest/snp-chain.h"
#include "attest/snp-report.h"
#include "common/ossl.h"

static EVP_PKEY *fuzz_key(void)
{
	static EVP_PKEY *key;

	if (!key)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	return key;
}

static void exercise(const uint8_t *raw, enum snp_gen hint)
{
	struct snp_report r;
	struct attest_verdict v = {0};
	_cleanup_(json_object_putp) json_object *j = NULL;
	_cleanup_free_ char *text = NULL, *path = NULL;

	if (attest_snp_report_parse(raw, SNP_REPORT_SIZE, hint, &r, &v) < 0)
		return;
	if (attest_snp_report_to_json(&r, &j) == 0)
		(void)json_object_to_json_string(j);
	(void)attest_snp_report_to_text(&r, &text);
	(void)attest_snp_vcek_kds_path(&r, hint, &path, &v);
	if (attest_snp_report_verify(&r, fuzz_key(), &v) == 1)
		abort(); /* a signature by a key made here cannot be in the input */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t raw[SNP_REPORT_SIZE];
	struct attest_verdict v = {0};

	if (attest_snp_report_bytes(data, size, raw, &v) < 0)
		return 0;
	for (int g = SNP_GEN_UNKNOWN; g <= SNP_GEN_TURIN; g++)
		exercise(raw, (enum snp_gen)g);
	return 0;
}
