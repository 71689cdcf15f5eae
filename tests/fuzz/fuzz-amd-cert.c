/* libFuzzer target: AMD certificates (attest/amd-cert.h) and the roots loader's pair splitter
 * (attest/roots.h) on untrusted bytes: parse a sequence of certificates, check that encoding
 * gives back exactly the bytes consumed, verify each under itself, and offer the whole input as
 * an emulated root (it must never be accepted unless it is a genuinely signed ARK/ASK pair). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attest/amd-cert.h"
#include "attest/roots.h"
#include "common/ossl.h"

static void exercise_one(const struct amd_cert *c, const uint8_t *raw, size_t used)
{
	uint8_t out[AMD_CERT_MAX_SIZE];
	size_t out_len = 0;
	struct attest_verdict why = {0};
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;

	if (attest_amd_cert_encode(c, out, sizeof(out), &out_len) < 0 || out_len != used ||
	    memcmp(out, raw, used) != 0)
		abort(); /* decode then encode must round-trip byte for byte */
	if (attest_amd_cert_pubkey(c, &key) == 0)
		(void)attest_amd_cert_verify(c, c, &why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	struct attest_roots *roots = NULL;
	struct attest_verdict v = {0};

	for (int n = 0; n < 4 && off < size; n++) {
		struct amd_cert c;
		struct attest_verdict why = {0};
		size_t used = 0;
		if (attest_amd_cert_parse(data + off, size - off, &c, &used, &why) < 0) {
			if (!why.reason[0])
				abort();
			break;
		}
		if (used == 0 || used > size - off)
			abort();
		exercise_one(&c, data + off, used);
		off += used;
	}
	if (attest_roots_new(&roots) == 0) {
		int k = attest_roots_add_sev(roots, "fuzz", data, size, true, "fuzz", &v);
		attest_roots_free(roots);
		if (k < 0 && k != -ENOMEM && !v.reason[0])
			abort(); /* a refused root says why */
	}
	return 0;
}
