/* SEV-SNP attestation report: the real Milan report of the vectors (snp/report_milan.hex)
 * decodes to the values of MANIFEST.md, its signature verifies with its VCEK, and any single
 * flipped byte of the signed part or of the signature is rejected with a reason that names the
 * signature. Synthetic reports cover what the vectors lack: Turin's TCB layout, version 3
 * CPUID fields, version 5 mitigation vectors, malformed input. */
#include <errno.h>
#include <openssl/x509.h>
#include <string.h>

#include "attest/snp-chain.h"
#include "attest/snp-report.h"
#include "common/ossl.h"
#include "common/util.h"
#include "tests/testutil.h"

#define MILAN_MEASUREMENT                                                                          \
	"7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480" \
	"cd81841f"

static void load_milan(uint8_t raw[SNP_REPORT_SIZE])
{
	size_t len;
	_cleanup_free_ uint8_t *hex = tu_read_vector("snp/report_milan.hex", &len);
	struct attest_verdict why = {0};

	TU_CHECK(attest_snp_report_bytes(hex, len, raw, &why) == 0, "hex text: %s", why.reason);
}

static EVP_PKEY *milan_vcek_key(void)
{
	size_t len;
	_cleanup_free_ uint8_t *der = tu_read_vector("snp/vcek_milan.der", &len);
	_cleanup_(X509_freep) X509 *x = NULL;
	struct attest_verdict why = {0};
	EVP_PKEY *k;

	TU_CHECK(attest_snp_cert_parse(der, len, &x, &why) == 0, "VCEK: %s", why.reason);
	k = X509_get_pubkey(x);
	TU_CHECK(k != NULL, "VCEK has a public key");
	return k;
}

static void check_tcb(const struct snp_tcb *t, const char *name)
{
	TU_CHECK(t->raw == 0x7308000000000003ull, "%s raw 0x%llx", name, (unsigned long long)t->raw);
	TU_CHECK_EQ(t->bootloader, 3);
	TU_CHECK_EQ(t->tee, 0);
	TU_CHECK_EQ(t->snp, 8);
	TU_CHECK_EQ(t->microcode, 0x73);
	TU_CHECK(!t->has_fmc, "%s: no FMC on Milan", name);
}

static void test_milan_fields(const uint8_t raw[SNP_REPORT_SIZE])
{
	struct snp_report r;
	struct attest_verdict why = {0};
	_cleanup_free_ char *m = NULL, *chip = NULL;

	TU_CHECK(attest_snp_report_parse(raw, SNP_REPORT_SIZE, SNP_GEN_UNKNOWN, &r, &why) == 0,
		 "parse: %s", why.reason);
	TU_CHECK_EQ(r.version, 2);
	TU_CHECK_EQ(r.policy, 0x30000);
	TU_CHECK_EQ(r.vmpl, 0);
	TU_CHECK_EQ(r.sig_algo, 1);
	TU_CHECK_EQ(r.key_info, 0);
	TU_CHECK_EQ(attest_snp_report_signing_key(&r), SNP_KEY_VCEK);
	TU_CHECK_EQ(r.guest_svn, 0);
	TU_CHECK_EQ(r.plat_info, 1);
	TU_CHECK(!r.has_cpuid, "version 2 has no CPUID fields");
	TU_CHECK_EQ(r.gen, SNP_GEN_UNKNOWN);
	check_tcb(&r.current_tcb, "current");
	check_tcb(&r.reported_tcb, "reported");
	check_tcb(&r.committed_tcb, "committed");
	check_tcb(&r.launch_tcb, "launch");
	TU_CHECK_EQ(r.current_major, 1);
	TU_CHECK_EQ(r.current_minor, 52);
	TU_CHECK_EQ(r.current_build, 4);
	TU_CHECK_EQ(r.committed_major, 1);
	TU_CHECK_EQ(r.committed_minor, 52);
	TU_CHECK_EQ(r.committed_build, 4);
	m = hex_encode(r.measurement, sizeof r.measurement);
	TU_CHECK(strcmp(m, MILAN_MEASUREMENT) == 0, "measurement %s", m);
	chip = hex_encode(r.chip_id, 8);
	TU_CHECK(strcmp(chip, "d49554ec717f4e5b") == 0, "chip_id starts %s", chip);
	TU_CHECK(r.report_id_ma[0] == 0xff && r.report_id_ma[31] == 0xff, "report_id_ma all ff");
}

static void test_milan_signature(const uint8_t raw[SNP_REPORT_SIZE], EVP_PKEY *key)
{
	struct snp_report r;
	uint8_t bad[SNP_REPORT_SIZE];
	struct attest_verdict why = {0};

	TU_CHECK(attest_snp_report_parse(raw, SNP_REPORT_SIZE, SNP_GEN_MILAN, &r, &why) == 0,
		 "parse: %s", why.reason);
	TU_CHECK(attest_snp_report_verify(&r, key, &why) == 1, "signature verifies: %s",
		 why.reason);

	/* MANIFEST: flip byte 21 (xor 0x80) → the signature fails. */
	memcpy(bad, raw, sizeof bad);
	bad[21] ^= 0x80;
	TU_CHECK(attest_snp_report_parse(bad, sizeof bad, SNP_GEN_MILAN, &r, &why) == 0, "parse");
	why = (struct attest_verdict){0};
	TU_CHECK(attest_snp_report_verify(&r, key, &why) == 0, "flipped byte 21 must fail");
	TU_CHECK(strstr(why.reason, "signature"), "reason names the signature: %s", why.reason);
}

/* Every byte of the signed range and of r and s, flipped alone, must make verification fail
 * with a reason naming the signature (bit 0x01 and bit 0x80 at each position). */
static void test_every_flip(const uint8_t raw[SNP_REPORT_SIZE], EVP_PKEY *key)
{
	uint8_t bad[SNP_REPORT_SIZE];
	struct snp_report r;
	struct attest_verdict why = {0};
	int rejected = 0;

	for (size_t pos = 0; pos < 0x2A0 + 2 * 72; pos++) {
		for (int b = 0; b < 2; b++) {
			memcpy(bad, raw, sizeof bad);
			bad[pos] ^= b ? 0x80 : 0x01;
			why = (struct attest_verdict){0};
			if (attest_snp_report_parse(bad, sizeof bad, SNP_GEN_MILAN, &r, &why) < 0) {
				TU_CHECK(why.reason[0], "parse rejection at %zu names a reason",
					 pos);
				rejected++;
				continue;
			}
			TU_CHECK(attest_snp_report_verify(&r, key, &why) == 0,
				 "flip at byte %zu (bit %d) was accepted", pos, b);
			TU_CHECK(strstr(why.reason, "signature"), "reason at %zu: %s", pos,
				 why.reason);
			rejected++;
		}
	}
	TU_CHECK_EQ(rejected, 2 * (0x2A0 + 2 * 72));
}

static void test_json_text(const uint8_t raw[SNP_REPORT_SIZE])
{
	struct snp_report r;
	_cleanup_(json_object_putp) json_object *j = NULL;
	_cleanup_free_ char *text = NULL;
	json_object *o, *t;
	struct attest_verdict why = {0};

	TU_CHECK(attest_snp_report_parse(raw, SNP_REPORT_SIZE, SNP_GEN_MILAN, &r, &why) == 0, "p");
	TU_CHECK(attest_snp_report_to_json(&r, &j) == 0, "json");
	TU_CHECK(json_object_object_get_ex(j, "measurement", &o) &&
			 strcmp(json_object_get_string(o), MILAN_MEASUREMENT) == 0,
		 "json measurement");
	TU_CHECK(json_object_object_get_ex(j, "policy", &o) &&
			 json_object_object_get_ex(o, "raw", &t) &&
			 strcmp(json_object_get_string(t), "0x30000") == 0,
		 "json policy.raw");
	TU_CHECK(json_object_object_get_ex(o, "smt_allowed", &t) && json_object_get_boolean(t),
		 "policy bit 16 decoded as smt_allowed");
	TU_CHECK(json_object_object_get_ex(o, "debug_allowed", &t) && !json_object_get_boolean(t),
		 "policy debug off");
	TU_CHECK(json_object_object_get_ex(j, "reported_tcb", &o) &&
			 json_object_object_get_ex(o, "microcode", &t) &&
			 json_object_get_int(t) == 0x73,
		 "json reported_tcb.microcode");
	TU_CHECK(json_object_object_get_ex(j, "current_version", &o) &&
			 json_object_object_get_ex(o, "minor", &t) && json_object_get_int(t) == 52,
		 "json current_version.minor");
	TU_CHECK(json_object_object_get_ex(j, "key_info", &o) &&
			 json_object_object_get_ex(o, "signing_key", &t) &&
			 strcmp(json_object_get_string(t), "VCEK") == 0,
		 "json key_info.signing_key");
	TU_CHECK(attest_snp_report_to_text(&r, &text) == 0, "text");
	TU_CHECK(strstr(text, "1.52 build 4"), "text firmware version:\n%s", text);
	TU_CHECK(strstr(text, MILAN_MEASUREMENT), "text measurement");
	TU_CHECK(strstr(text, "bootloader 3, tee 0, snp 8, microcode 115"), "text TCB:\n%s", text);
}

/* A synthetic version 3 Turin report: CPUID family 1Ah model 02h, TCB in Turin's layout. */
static void test_turin_layout(void)
{
	uint8_t raw[SNP_REPORT_SIZE] = { 0 };
	const uint8_t tcb[8] = { 1, 2, 3, 4, 0, 0, 0, 9 }; /* fmc, bl, tee, snp, 0, 0, 0, ucode */
	struct snp_report r;
	struct attest_verdict v = {0};
	_cleanup_free_ char *path = NULL;

	put_le32(raw, 3);
	raw[0x188] = 0x1A;
	raw[0x189] = 0x02;
	raw[0x18A] = 0x01;
	memcpy(raw + 0x180, tcb, 8);
	memcpy(raw + 0x38, tcb, 8);
	memcpy(raw + 0x1A0, "\x1e\x55\x0a\x8e\xe5\xcf\x9f\x4d", 8);
	TU_CHECK(attest_snp_report_parse(raw, sizeof raw, SNP_GEN_UNKNOWN, &r, &v) == 0, "%s",
		 v.reason);
	TU_CHECK_EQ(r.gen, SNP_GEN_TURIN);
	TU_CHECK(r.has_cpuid && r.cpuid_fam_id == 0x1A && r.cpuid_step == 1, "cpuid decoded");
	TU_CHECK(r.reported_tcb.has_fmc, "Turin TCB has FMC");
	TU_CHECK_EQ(r.reported_tcb.fmc, 1);
	TU_CHECK_EQ(r.reported_tcb.bootloader, 2);
	TU_CHECK_EQ(r.reported_tcb.tee, 3);
	TU_CHECK_EQ(r.reported_tcb.snp, 4);
	TU_CHECK_EQ(r.reported_tcb.microcode, 9);
	TU_CHECK(attest_snp_vcek_kds_path(&r, SNP_GEN_UNKNOWN, &path, &v) == 0, "%s", v.reason);
	TU_CHECK(strcmp(path, "/vcek/v1/Turin/1e550a8ee5cf9f4d?blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=9"
			      "&fmcSPL=1") == 0,
		 "Turin KDS path %s", path);
	/* The caller's generation must not contradict the report's CPUID. */
	v = (struct attest_verdict){0};
	TU_CHECK(attest_snp_report_parse(raw, sizeof raw, SNP_GEN_MILAN, &r, &v) == -EBADMSG,
		 "Milan hint on a Turin report is refused");
	TU_CHECK(strstr(v.reason, "generation"), "reason: %s", v.reason);
	/* Version 5 carries mitigation vectors. */
	put_le32(raw, 5);
	put_le64(raw + 0x1F8, 0x11);
	put_le64(raw + 0x200, 0x22);
	TU_CHECK(attest_snp_report_parse(raw, sizeof raw, SNP_GEN_UNKNOWN, &r, &v) == 0, "%s",
		 v.reason);
	TU_CHECK(r.has_mit_vector && r.launch_mit_vector == 0x11 && r.current_mit_vector == 0x22,
		 "v5 mitigation vectors");
}

static void test_kds_path_milan(const uint8_t raw[SNP_REPORT_SIZE])
{
	struct snp_report r;
	_cleanup_free_ char *path = NULL, *want = NULL, *chip = NULL;
	struct attest_verdict why = {0};

	TU_CHECK(attest_snp_report_parse(raw, SNP_REPORT_SIZE, SNP_GEN_UNKNOWN, &r, NULL) == 0,
		 "p");
	TU_CHECK(attest_snp_vcek_kds_path(&r, SNP_GEN_UNKNOWN, &path, &why) == -EINVAL,
		 "a version 2 report without a generation cannot name its VCEK");
	TU_CHECK(attest_snp_vcek_kds_path(&r, SNP_GEN_MILAN, &path, &why) == 0, "%s", why.reason);
	chip = hex_encode(r.chip_id, 64);
	TU_CHECK(asprintf(&want, "/vcek/v1/Milan/%s?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115", chip) > 0,
		 "asprintf");
	TU_CHECK(strcmp(path, want) == 0, "Milan KDS path %s", path);
}

static void test_malformed(const uint8_t raw[SNP_REPORT_SIZE])
{
	uint8_t out[SNP_REPORT_SIZE], bad[SNP_REPORT_SIZE];
	struct snp_report r;
	struct attest_verdict why = {0};

	TU_CHECK(attest_snp_report_parse(raw, SNP_REPORT_SIZE - 1, SNP_GEN_UNKNOWN, &r, &why) ==
			 -EBADMSG,
		 "short report refused");
	TU_CHECK(strstr(why.reason, "1184"), "reason names the size: %s", why.reason);
	memcpy(bad, raw, sizeof bad);
	put_le32(bad, 1);
	TU_CHECK(attest_snp_report_parse(bad, sizeof bad, SNP_GEN_UNKNOWN, &r, &why) == -EBADMSG,
		 "version 1 refused");
	TU_CHECK(attest_snp_report_bytes((const uint8_t *)"zz", 2, out, &why) == -EBADMSG, "zz");
	TU_CHECK(attest_snp_report_bytes((const uint8_t *)"0a0b", 4, out, &why) == -EBADMSG,
		 "short hex refused");
	/* sig_algo other than 1 and key "none" are rejected by name, not verified. */
	memcpy(bad, raw, sizeof bad);
	put_le32(bad + 0x34, 2);
	TU_CHECK(attest_snp_report_parse(bad, sizeof bad, SNP_GEN_MILAN, &r, &why) == 0, "parse");
	TU_CHECK(attest_snp_report_verify(&r, NULL, &why) == 0 && strstr(why.reason,
		 "SIGNATURE_ALGO"),
		 "sig_algo 2: %s", why.reason);
	memcpy(bad, raw, sizeof bad);
	put_le32(bad + 0x48, 7 << 2);
	TU_CHECK(attest_snp_report_parse(bad, sizeof bad, SNP_GEN_MILAN, &r, &why) == 0, "parse");
	TU_CHECK(attest_snp_report_verify(&r, NULL, &why) == 0 && strstr(why.reason, "not signed"),
		 "signing key none: %s", why.reason);
	TU_CHECK_EQ(attest_snp_gen_from_name("tUrIn"), SNP_GEN_TURIN);
	TU_CHECK_EQ(attest_snp_gen_from_name("naples"), SNP_GEN_UNKNOWN);
	TU_CHECK_EQ(attest_snp_gen_from_cpuid(0x19, 0x11), SNP_GEN_GENOA);
	TU_CHECK_EQ(attest_snp_gen_from_cpuid(0x19, 0x01), SNP_GEN_MILAN);
	TU_CHECK_EQ(attest_snp_gen_from_cpuid(0x17, 0x31), SNP_GEN_UNKNOWN);
}

int main(void)
{
	uint8_t raw[SNP_REPORT_SIZE];
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;

	load_milan(raw);
	key = milan_vcek_key();
	test_milan_fields(raw);
	test_milan_signature(raw, key);
	test_every_flip(raw, key);
	test_json_text(raw);
	test_turin_layout();
	test_kds_path_milan(raw);
	test_malformed(raw);
	tu_done("test-snp-report");
}
