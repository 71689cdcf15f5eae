/* libFuzzer target: SEV certificates (attest/sev-cert.h) and chain assembly (attest/chain.h) on
 * untrusted bytes: parse, extract the key, verify against itself and against a fixed unrelated
 * key (which must never accept), and feed the bytes to the chain collector as a blob. */
#include <stdlib.h>

#include "attest/chain.h"
#include "attest/sev-cert.h"
#include "common/ossl.h"

static EVP_PKEY *unrelated_key(void)
{
	static EVP_PKEY *key;

	if (!key)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	return key;
}

static void exercise_cert(const uint8_t *data, size_t size)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	struct attest_verdict why = {0};
	struct sev_cert c;

	if (attest_sev_cert_parse(data, size, &c, &why) < 0) {
		if (!why.reason[0])
			abort(); /* every rejection names its reason */
		return;
	}
	if (attest_sev_cert_pubkey(&c, &key) == 0) {
		for (int i = 0; i < 2; i++)
			(void)attest_sev_cert_verify(&c, c.sig[i].usage, key, &why);
	}
	/* A random key never signed anything this input holds. */
	if (attest_sev_cert_verify(&c, SEV_USAGE_OCA, unrelated_key(), &why) == 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attest_sev_chain chain;
	struct attest_verdict v;

	exercise_cert(data, size);
	if (size > SEV_CERT_SIZE)
		exercise_cert(data, SEV_CERT_SIZE);
	attest_sev_chain_init(&chain);
	if (attest_sev_chain_add_blob(&chain, data, size, "fuzz", &v) == 0 && chain.have_pek)
		(void)attest_sev_chain_verify(&chain, NULL, ATTEST_CHAIN_PDH_OPTIONAL, &v);
	return 0;
}
