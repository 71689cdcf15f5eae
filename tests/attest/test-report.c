/* Legacy SEV ATTESTATION reports: sev-tool's known answer verifies with its PEK, the .bad copy
 * (one policy bit flipped) and every flipped signed byte are rejected, nonce and launch digest
 * expectations are enforced, and reports signed here round-trip. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "attest/sev-report.h"
#include "common/ossl.h"
#include "tests/testutil.h"

static void load_pek(const char *rel, struct sev_cert *pek)
{
	size_t len;
	struct attest_verdict why = {0};
	_cleanup_free_ uint8_t *b = tu_read_vector(rel, &len);
	TU_CHECK(attest_sev_cert_parse(b, len, pek, &why) == 0, "%s: %s", rel, why.reason);
}

static void load_report(const char *rel, struct sev_attestation_report *rep)
{
	size_t len;
	struct attest_verdict why = {0};
	_cleanup_free_ uint8_t *b = tu_read_vector(rel, &len);
	TU_CHECK(attest_sev_report_parse(b, len, rep, &why) == 0, "%s: %s", rel, why.reason);
}

static void expect(const struct sev_attestation_report *rep, const struct sev_cert *pek,
		   const uint8_t *nonce, const uint8_t *digest, int want, const char *needle)
{
	struct attest_verdict v;
	int r = attest_sev_report_verify(rep, pek, nonce, digest, &v);
	TU_CHECK(r == want && v.ok == (want == 1), "verify = %d (%s), expected %d", r, v.reason,
		 want);
	if (needle)
		TU_CHECK(strstr(v.reason, needle) != NULL, "\"%s\" lacks \"%s\"", v.reason, needle);
}

static void test_sev_tool(void)
{
	struct sev_attestation_report rep, bad;
	struct sev_cert pek, rome_pek;
	uint8_t nonce[16], digest[32];

	load_pek("sev-tool/attestation/pek.cert", &pek);
	load_pek("sev-chains/rome/pek.cert", &rome_pek);
	load_report("sev-tool/attestation/attestation_report.bin", &rep);
	load_report("sev-tool/attestation/attestation_report.bad.bin", &bad);
	for (int i = 0; i < 16; i++)
		nonce[i] = (uint8_t)(0x40 + i); /* the nonce sev-tool was given: "@ABC...O" */
	memcpy(digest, rep.launch_digest, 32);

	expect(&rep, &pek, NULL, NULL, 1, "signed by the PEK");
	expect(&rep, &pek, nonce, digest, 1, "nonce matches");
	expect(&bad, &pek, NULL, NULL, 0, "signature does not verify");
	expect(&rep, &rome_pek, NULL, NULL, 0, "signature does not verify");
	nonce[3] ^= 1;
	expect(&rep, &pek, nonce, NULL, 0, "nonce");
	nonce[3] ^= 1;
	digest[31] ^= 1;
	expect(&rep, &pek, nonce, digest, 0, "launch digest");

	/* Every byte in the signed range [0, 0x34), and the signature itself. */
	for (size_t off = 0; off < SEV_ATTESTATION_SIGNED_LEN; off++) {
		struct sev_attestation_report f = rep;
		((uint8_t *)&f)[off] ^= 0x01;
		expect(&f, &pek, NULL, NULL, 0, "does not verify");
	}
	for (size_t off = 0x40; off < 0x40 + 48; off += 5) {
		struct sev_attestation_report f = rep;
		((uint8_t *)&f)[off] ^= 0x20;
		expect(&f, &pek, NULL, NULL, 0, "does not verify");
	}
	/* The certificate given must be a PEK. */
	struct sev_cert oca;
	load_pek("sev-chains/rome/oca.cert", &oca);
	expect(&rep, &oca, NULL, NULL, 0, "OCA certificate");
}

static void test_parse_rejects(void)
{
	size_t len;
	struct attest_verdict why = {0};
	struct sev_attestation_report rep;
	_cleanup_free_ uint8_t *b = tu_read_vector("sev-tool/attestation/attestation_report.bin",
						   &len);

	TU_CHECK(attest_sev_report_parse(b, len - 1, &rep, &why) == -EBADMSG, "short");
	TU_CHECK(strstr(why.reason, "0xD0"), "%s", why.reason);
	b[0x34] = 0x01; /* sig usage OCA */
	TU_CHECK(attest_sev_report_parse(b, len, &rep, &why) == -EBADMSG, "usage");
	TU_CHECK(strstr(why.reason, "PEK"), "%s", why.reason);
	b[0x34] = 0x02;
	b[0x38] = 0x01; /* RSA */
	TU_CHECK(attest_sev_report_parse(b, len, &rep, &why) == -EBADMSG, "algo");
	TU_CHECK(strstr(why.reason, "ECDSA"), "%s", why.reason);
}

static void test_roundtrip(void)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	struct sev_attestation_report rep = {}, back;
	struct sev_cert pek, other;
	struct attest_verdict why = {0};

	TU_CHECK(k && k2, "keygen");
	TU_CHECK(attest_sev_cert_init(&pek, 1, 55, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256, k) == 0, "i");
	TU_CHECK(attest_sev_cert_init(&other, 1, 55, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256, k2) == 0,
		 "i");
	memset(rep.mnonce, 0xa5, 16);
	memset(rep.launch_digest, 0x5a, 32);
	rep.policy = 0x1;
	TU_CHECK(attest_sev_report_sign(&rep, k) == 0, "sign");
	TU_CHECK(attest_sev_report_parse((const uint8_t *)&rep, sizeof(rep), &back, &why) == 0, "%s",
		 why.reason);
	expect(&back, &pek, rep.mnonce, rep.launch_digest, 1, NULL);
	expect(&back, &other, NULL, NULL, 0, "does not verify");
	back.policy ^= 1u << 31;
	expect(&back, &pek, NULL, NULL, 0, "does not verify");
}

int main(void)
{
	test_sev_tool();
	test_parse_rejects();
	test_roundtrip();
	tu_done("test-report");
}
