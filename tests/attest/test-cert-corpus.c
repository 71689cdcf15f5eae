/* Seed corpora of the certificate fuzz targets (tests/fuzz/corpus/{sev-cert,amd-cert,
 * sev-report}/), made from keys generated here — never from the shared vectors.
 *   test-cert-corpus --write SRCDIR/tests/fuzz/corpus   (re)generates the seeds;
 *   test-cert-corpus                                     (the test) checks that every
 * committed "valid-*" seed still parses, so the fuzzers start from inputs that reach deep. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "attest/amd-cert.h"
#include "attest/chain.h"
#include "attest/sev-cert.h"
#include "attest/sev-report.h"
#include "common/ossl.h"
#include "common/util.h"
#include "tests/testutil.h"

static void put(const char *dir, const char *sub, const char *name, const void *buf, size_t len)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	(void)mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
	TU_CHECK(write_file_atomic(p, buf, len, 0644) == 0, "write %s", p);
}

static EVP_PKEY *ec(const char *curve)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	TU_CHECK(k != NULL, "EC keygen");
	return k;
}

static EVP_PKEY *rsa(size_t bits)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);
	TU_CHECK(k != NULL, "RSA keygen");
	return k;
}

static void write_amd(const char *dir, struct amd_cert *ark, struct amd_cert *ask, size_t bits)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *kark = rsa(bits), *kask = rsa(bits);
	uint8_t id1[16] = { 0x5e, 0x7d, 1 }, id2[16] = { 0x5e, 0x7d, 2 };
	uint8_t buf[2 * AMD_CERT_MAX_SIZE];
	size_t n1, n2;
	char name[64];

	TU_CHECK(attest_amd_cert_init(ark, id1, id1, 0x00, kark) == 0 &&
			 attest_amd_cert_sign(ark, kark) == 0 &&
			 attest_amd_cert_init(ask, id2, id1, 0x13, kask) == 0 &&
			 attest_amd_cert_sign(ask, kark) == 0,
		 "AMD certs");
	TU_CHECK(attest_amd_cert_encode(ask, buf, sizeof(buf), &n1) == 0 &&
			 attest_amd_cert_encode(ark, buf + n1, sizeof(buf) - n1, &n2) == 0,
		 "encode");
	snprintf(name, sizeof(name), "valid-ask-ark-%zu.bin", bits);
	put(dir, "amd-cert", name, buf, n1 + n2);
	snprintf(name, sizeof(name), "valid-ark-%zu.bin", bits);
	put(dir, "amd-cert", name, buf + n1, n2);
	snprintf(name, sizeof(name), "invalid-ark-nosig-%zu.bin", bits);
	put(dir, "amd-cert", name, buf + n1, n2 - bits / 8);
}

static void write_sev(const char *dir, EVP_PKEY *kask)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *kcek = ec("P-384"), *koca = ec("P-384"),
				     *kpek = ec("P-384"), *kpdh = ec("P-384"), *k256 = ec("P-256");
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *krsa = rsa(2048);
	struct sev_cert cek, oca, pek, pdh, p256, rsaoca;
	uint8_t blob[SEV_CERT_CHAIN_SIZE];

	TU_CHECK(attest_sev_cert_init(&cek, 0, 24, SEV_USAGE_CEK, SEV_ALGO_ECDSA_SHA256, kcek) == 0 &&
			 attest_sev_cert_sign(&cek, 0, SEV_USAGE_ASK, SEV_ALGO_RSA_SHA384, kask) == 0,
		 "cek");
	TU_CHECK(attest_sev_cert_init(&oca, 1, 55, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, koca) == 0 &&
			 attest_sev_cert_sign(&oca, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, koca) == 0,
		 "oca");
	TU_CHECK(attest_sev_cert_init(&pek, 1, 55, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256, kpek) == 0 &&
			 attest_sev_cert_sign(&pek, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, koca) == 0 &&
			 attest_sev_cert_sign(&pek, 1, SEV_USAGE_CEK, SEV_ALGO_ECDSA_SHA256, kcek) == 0,
		 "pek");
	TU_CHECK(attest_sev_cert_init(&pdh, 1, 55, SEV_USAGE_PDH, SEV_ALGO_ECDH_SHA256, kpdh) == 0 &&
			 attest_sev_cert_sign(&pdh, 0, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256, kpek) == 0,
		 "pdh");
	TU_CHECK(attest_sev_cert_init(&p256, 0, 17, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA384, k256) == 0 &&
			 attest_sev_cert_sign(&p256, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA384, koca) == 0,
		 "p256");
	TU_CHECK(attest_sev_cert_init(&rsaoca, 0, 17, SEV_USAGE_OCA, SEV_ALGO_RSA_SHA256, krsa) == 0 &&
			 attest_sev_cert_sign(&rsaoca, 0, SEV_USAGE_OCA, SEV_ALGO_RSA_SHA256, krsa) == 0,
		 "rsa oca");
	put(dir, "sev-cert", "valid-cek.bin", &cek, sizeof(cek));
	put(dir, "sev-cert", "valid-oca.bin", &oca, sizeof(oca));
	put(dir, "sev-cert", "valid-pek.bin", &pek, sizeof(pek));
	put(dir, "sev-cert", "valid-pdh.bin", &pdh, sizeof(pdh));
	put(dir, "sev-cert", "valid-pek-p256.bin", &p256, sizeof(p256));
	put(dir, "sev-cert", "valid-oca-rsa.bin", &rsaoca, sizeof(rsaoca));
	memcpy(blob, &pek, SEV_CERT_SIZE);
	memcpy(blob + SEV_CERT_SIZE, &oca, SEV_CERT_SIZE);
	memcpy(blob + 2 * SEV_CERT_SIZE, &cek, SEV_CERT_SIZE);
	put(dir, "sev-cert", "chain-export.bin", blob, sizeof(blob));

	struct sev_attestation_report rep = { .policy = 0x1 };
	memset(rep.mnonce, 0x11, sizeof(rep.mnonce));
	memset(rep.launch_digest, 0x22, sizeof(rep.launch_digest));
	TU_CHECK(attest_sev_report_sign(&rep, kpek) == 0, "report");
	put(dir, "sev-report", "valid-report.bin", &rep, sizeof(rep));
	rep.sig_algo = SEV_ALGO_ECDSA_SHA384;
	put(dir, "sev-report", "valid-report-sha384-field.bin", &rep, sizeof(rep));
	rep.sig_algo = SEV_ALGO_RSA_SHA256;
	put(dir, "sev-report", "invalid-report-rsa.bin", &rep, sizeof(rep));
}

static int generate(const char *dir)
{
	struct amd_cert ark, ask;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *kask = rsa(4096); /* signs the CEK seed */

	(void)mkdir(dir, 0755);
	write_amd(dir, &ark, &ask, 2048);
	write_amd(dir, &ark, &ask, 4096);
	write_sev(dir, kask);
	tu_done("test-cert-corpus --write");
}

/* Each committed valid-* seed must still be accepted by its parser. */
static size_t check_dir(const char *root, const char *sub)
{
	_cleanup_free_ char *dir = NULL;
	size_t n = 0;
	DIR *d;
	struct dirent *de;

	TU_CHECK(asprintf(&dir, "%s/tests/fuzz/corpus/%s", root, sub) > 0, "asprintf");
	d = opendir(dir);
	TU_CHECK(d != NULL, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "valid-", 6) != 0)
			continue;
		_cleanup_free_ char *p = path_join(dir, de->d_name);
		size_t len, used;
		_cleanup_free_ uint8_t *b = tu_read_file(p, &len);
		struct attest_verdict v = {0};
		struct sev_cert c;
		struct amd_cert a;
		struct sev_attestation_report r;
		int k = strcmp(sub, "sev-cert") == 0 ? attest_sev_cert_parse(b, len, &c, &v)
			: strcmp(sub, "amd-cert") == 0
			    ? attest_amd_cert_parse(b, len, &a, &used, &v)
			    : attest_sev_report_parse(b, len, &r, &v);
		TU_CHECK(k == 0, "%s: %s", p, v.reason);
		n++;
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write") == 0)
		return generate(argv[2]);
	const char *root = getenv("SEVD_SOURCE_ROOT");
	if (!root)
		tu_skip("SEVD_SOURCE_ROOT is not set (run through meson test)");
	TU_CHECK(check_dir(root, "sev-cert") >= 6, "sev-cert seeds");
	TU_CHECK(check_dir(root, "amd-cert") >= 4, "amd-cert seeds");
	TU_CHECK(check_dir(root, "sev-report") >= 2, "sev-report seeds");
	tu_done("test-cert-corpus");
}
