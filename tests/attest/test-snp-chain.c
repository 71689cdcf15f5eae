/* SEV-SNP X.509 chain known answers (vectors MANIFEST "amd-roots/snp" and "snp/"): every ARK is
 * self-signed and signs its ASK; Milan ARK → ASK → VCEK holds; the Turin VCEK holds under the
 * Turin roots only; the VCEK extensions decode to the MANIFEST values and bind the VCEK to the
 * report (REPORTED_TCB, 64-byte or Turin's 8-byte hwID); any flipped byte of the VCEK breaks it. */
#include <errno.h>
#include <openssl/x509.h>
#include <string.h>

#include "attest/snp-chain.h"
#include "attest/snp-report.h"
#include "common/ossl.h"
#include "common/util.h"
#include "tests/testutil.h"

static const char *const gens[] = { "milan", "genoa", "turin" };

static X509 *load_cert(const char *rel)
{
	size_t len;
	_cleanup_free_ uint8_t *b = tu_read_vector(rel, &len);
	struct attest_verdict why = {0};
	X509 *x = NULL;

	TU_CHECK(attest_snp_cert_parse(b, len, &x, &why) == 0, "%s: %s", rel, why.reason);
	return x;
}

static X509 *root(const char *gen, const char *which)
{
	char rel[64];

	snprintf(rel, sizeof rel, "amd-roots/snp/%s/%s.pem", gen, which);
	return load_cert(rel);
}

static void test_roots(void)
{
	struct attest_verdict why = {0};

	for (size_t i = 0; i < ELEMENTSOF(gens); i++) {
		_cleanup_(X509_freep) X509 *ark = root(gens[i], "ark");
		_cleanup_(X509_freep) X509 *ask = root(gens[i], "ask");
		_cleanup_(X509_freep) X509 *other = root(gens[(i + 1) % 3], "ark");
		struct snp_chain_verdict v;

		TU_CHECK(attest_snp_verify_link(ark, ark, "ARK", &why) == 1, "%s ARK: %s",
			 gens[i], why.reason);
		TU_CHECK(attest_snp_verify_link(ask, ark, "ASK", &why) == 1, "%s ASK: %s",
			 gens[i], why.reason);
		TU_CHECK(attest_snp_verify_link(ark, ask, "reversed", &why) == 0,
			 "%s: ASK must not sign ARK", gens[i]);
		TU_CHECK(attest_snp_verify_link(ask, other, "ASK", &why) == 0,
			 "%s ASK must not verify under %s ARK", gens[i], gens[(i + 1) % 3]);
		TU_CHECK(attest_snp_chain_verify(ark, ask, NULL, &v) == 1, "%s chain: %s", gens[i],
			 v.verdict.reason);
		TU_CHECK(v.ark_self_signed == 1 && v.ask_by_ark == 1 && v.leaf_by_ask == -1,
			 "links as checked");
		TU_CHECK_EQ(v.gen, attest_snp_gen_from_name(gens[i]));
		TU_CHECK_EQ(attest_snp_cert_gen(ask), attest_snp_gen_from_name(gens[i]));
		TU_CHECK(attest_snp_chain_verify(other, ask, NULL, &v) == 0 && v.ask_by_ark == 0,
			 "%s ASK under another ARK", gens[i]);
		TU_CHECK(strstr(v.verdict.reason, "ASK"), "reason names the ASK: %s",
			 v.verdict.reason);
	}
}

static void load_stack(const char *rel, X509 **ask, X509 **ark)
{
	size_t len;
	_cleanup_free_ uint8_t *b = tu_read_vector(rel, &len);
	struct attest_verdict why = {0};

	TU_CHECK(attest_snp_cert_chain_parse(b, len, ask, ark, &why) == 0, "%s: %s", rel,
		 why.reason);
}

static void load_milan_report(struct snp_report *r)
{
	size_t len;
	_cleanup_free_ uint8_t *hex = tu_read_vector("snp/report_milan.hex", &len);
	uint8_t raw[SNP_REPORT_SIZE];
	struct attest_verdict why = {0};

	TU_CHECK(attest_snp_report_bytes(hex, len, raw, &why) == 0, "%s", why.reason);
	TU_CHECK(attest_snp_report_parse(raw, sizeof raw, SNP_GEN_MILAN, r, &why) == 0, "%s",
		 why.reason);
}

static void test_milan_vcek(void)
{
	_cleanup_(X509_freep) X509 *ask = NULL, *ark = NULL;
	_cleanup_(X509_freep) X509 *vcek = load_cert("snp/vcek_milan.der");
	_cleanup_(X509_freep) X509 *root_ark = root("milan", "ark");
	_cleanup_(X509_freep) X509 *root_ask = root("milan", "ask");
	struct snp_chain_verdict v;
	struct snp_vcek_info info;
	struct snp_report r;
	struct attest_verdict why = {0};
	bool hw;

	load_stack("snp/cert_chain_milan", &ask, &ark);
	TU_CHECK(X509_cmp(ark, root_ark) == 0, "cert_chain's ARK is the Milan ARK");
	TU_CHECK(X509_cmp(ask, root_ask) == 0, "cert_chain's ASK is the Milan ASK");
	TU_CHECK(attest_snp_chain_verify(root_ark, ask, vcek, &v) == 1, "%s", v.verdict.reason);
	TU_CHECK(v.ark_self_signed == 1 && v.ask_by_ark == 1 && v.leaf_by_ask == 1, "all links");

	TU_CHECK(attest_snp_vcek_info(vcek, &info, &why) == 0, "%s", why.reason);
	TU_CHECK(strcmp(info.product_name, "Milan-B0") == 0, "productName %s", info.product_name);
	TU_CHECK_EQ(info.gen, SNP_GEN_MILAN);
	TU_CHECK(!info.is_vlek, "a VCEK");
	TU_CHECK(info.has_bl && info.bl == 3, "blSPL");
	TU_CHECK(info.has_tee && info.tee == 0, "teeSPL");
	TU_CHECK(info.has_snp && info.snp == 8, "snpSPL");
	TU_CHECK(info.has_ucode && info.ucode == 0x73, "ucodeSPL");
	TU_CHECK(!info.has_fmc, "no fmcSPL on Milan");
	TU_CHECK_EQ(info.hwid_len, 64);

	load_milan_report(&r);
	TU_CHECK(memcmp(info.hwid, r.chip_id, 64) == 0, "hwID = chip_id");
	TU_CHECK(attest_snp_vcek_check_report(&info, &r, &hw, &why) == 1, "%s", why.reason);
	TU_CHECK(hw, "hwID was compared");
}

/* The binding uses REPORTED_TCB (snpguest#32): a report whose CURRENT_TCB moved on still binds;
 * one whose REPORTED_TCB differs does not; a different chip id does not. */
static void test_binding(void)
{
	_cleanup_(X509_freep) X509 *vcek = load_cert("snp/vcek_milan.der");
	struct snp_vcek_info info;
	struct snp_report r, t;
	struct attest_verdict why = {0};
	bool hw;

	TU_CHECK(attest_snp_vcek_info(vcek, &info, &why) == 0, "%s", why.reason);
	load_milan_report(&r);
	t = r;
	t.current_tcb.microcode = 0x99;
	TU_CHECK(attest_snp_vcek_check_report(&info, &t, &hw, &why) == 1,
		 "CURRENT_TCB is not what the VCEK certifies: %s", why.reason);
	t = r;
	t.reported_tcb.raw ^= 0x0100000000000000ull; /* microcode 0x73 → 0x72 */
	TU_CHECK(attest_snp_vcek_check_report(&info, &t, &hw, &why) == 0, "ucode");
	TU_CHECK(strstr(why.reason, "ucodeSPL") && strstr(why.reason, "REPORTED_TCB"), "reason: %s",
		 why.reason);
	t = r;
	t.reported_tcb.raw ^= 1; /* bootloader */
	TU_CHECK(attest_snp_vcek_check_report(&info, &t, &hw, &why) == 0, "bl");
	TU_CHECK(strstr(why.reason, "blSPL"), "reason: %s", why.reason);
	t = r;
	t.chip_id[63] ^= 1;
	TU_CHECK(attest_snp_vcek_check_report(&info, &t, &hw, &why) == 0, "chip");
	TU_CHECK(strstr(why.reason, "hwID"), "reason: %s", why.reason);
	t = r;
	memset(t.chip_id, 0, sizeof t.chip_id);
	TU_CHECK(attest_snp_vcek_check_report(&info, &t, &hw, &why) == 0, "masked");
	TU_CHECK(strstr(why.reason, "masked"), "reason: %s", why.reason);
	t = r;
	t.gen = SNP_GEN_TURIN;
	TU_CHECK(attest_snp_vcek_check_report(&info, &t, &hw, &why) == 0, "gen");
	TU_CHECK(strstr(why.reason, "Turin"), "reason: %s", why.reason);
}

/* MANIFEST: flip byte 40 of the VCEK DER → the chain fails; and so for every other byte. */
static void test_vcek_flips(void)
{
	size_t len;
	_cleanup_free_ uint8_t *der = tu_read_vector("snp/vcek_milan.der", &len);
	_cleanup_(X509_freep) X509 *ark = root("milan", "ark");
	_cleanup_(X509_freep) X509 *ask = root("milan", "ask");
	int parse_fail = 0, chain_fail = 0;

	for (size_t pos = 0; pos < len; pos++) {
		_cleanup_(X509_freep) X509 *x = NULL;
		struct snp_chain_verdict v;
		struct attest_verdict why = {0};

		der[pos] ^= pos == 40 ? 0x80 : 0x01;
		if (attest_snp_cert_parse(der, len, &x, &why) < 0) {
			TU_CHECK(strstr(why.reason, "certificate"), "parse reason at %zu", pos);
			parse_fail++;
		} else {
			TU_CHECK(attest_snp_chain_verify(ark, ask, x, &v) == 0,
				 "VCEK with byte %zu flipped was accepted", pos);
			TU_CHECK(v.leaf_by_ask == 0 && strstr(v.verdict.reason, "VCEK"),
				 "reason names the VCEK link at %zu: %s", pos, v.verdict.reason);
			chain_fail++;
		}
		der[pos] ^= pos == 40 ? 0x80 : 0x01;
	}
	TU_CHECK_EQ((size_t)(parse_fail + chain_fail), len);
	TU_CHECK(chain_fail > 0, "some flips parse and must fail the signature");
}

static void test_turin(void)
{
	_cleanup_(X509_freep) X509 *vcek = load_cert("snp/turin/vcek_turin.der");
	_cleanup_(X509_freep) X509 *ask = NULL, *ark = NULL;
	struct snp_chain_verdict v;
	struct snp_vcek_info info;
	struct attest_verdict why = {0};

	load_stack("snp/turin/cert_chain_turin", &ask, &ark);
	for (size_t i = 0; i < ELEMENTSOF(gens); i++) {
		_cleanup_(X509_freep) X509 *rark = root(gens[i], "ark");
		_cleanup_(X509_freep) X509 *rask = root(gens[i], "ask");
		int want = strcmp(gens[i], "turin") == 0;

		TU_CHECK(attest_snp_chain_verify(rark, rask, vcek, &v) == want,
			 "Turin VCEK under %s roots: %s", gens[i], v.verdict.reason);
		TU_CHECK(attest_snp_chain_verify(rark, ask, vcek, &v) == want,
			 "Turin VCEK with its cert_chain ASK under %s ARK: %s", gens[i],
			 v.verdict.reason);
	}
	TU_CHECK(attest_snp_vcek_info(vcek, &info, &why) == 0, "%s", why.reason);
	TU_CHECK_EQ(info.gen, SNP_GEN_TURIN);
	TU_CHECK(strcmp(info.product_name, "Turin") == 0, "productName %s", info.product_name);
	TU_CHECK_EQ(info.hwid_len, 8);
	TU_CHECK(memcmp(info.hwid, "\x1e\x55\x0a\x8e\xe5\xcf\x9f\x4d", 8) == 0, "hwID");
	TU_CHECK(info.has_fmc && info.fmc == 0, "fmcSPL 0");
	TU_CHECK(info.has_ucode && info.ucode == 9, "ucodeSPL 9");
}

/* A synthetic Turin report made to match the Turin VCEK: the 8-byte hwID is compared (not
 * skipped), and the Turin TCB layout is used. */
static void test_turin_binding(void)
{
	_cleanup_(X509_freep) X509 *vcek = load_cert("snp/turin/vcek_turin.der");
	_cleanup_(X509_freep) X509 *milan = load_cert("snp/vcek_milan.der");
	struct snp_vcek_info info, minfo;
	uint8_t raw[SNP_REPORT_SIZE] = { 0 };
	struct snp_report r;
	struct attest_verdict why = {0};
	bool hw;

	TU_CHECK(attest_snp_vcek_info(vcek, &info, &why) == 0, "%s", why.reason);
	TU_CHECK(attest_snp_vcek_info(milan, &minfo, &why) == 0, "%s", why.reason);
	put_le32(raw, 3);
	raw[0x188] = 0x1A;
	raw[0x189] = 0x02;
	raw[0x180] = info.fmc;
	raw[0x181] = info.bl;
	raw[0x182] = info.tee;
	raw[0x183] = info.snp;
	raw[0x187] = info.ucode;
	memcpy(raw + 0x1A0, info.hwid, 8);
	TU_CHECK(attest_snp_report_parse(raw, sizeof raw, SNP_GEN_UNKNOWN, &r, NULL) == 0, "p");
	TU_CHECK(attest_snp_vcek_check_report(&info, &r, &hw, &why) == 1, "%s", why.reason);
	TU_CHECK(hw, "Turin hwID compared, not skipped");
	r.chip_id[5] ^= 0x10;
	TU_CHECK(attest_snp_vcek_check_report(&info, &r, &hw, &why) == 0, "hwID 8");
	TU_CHECK(strstr(why.reason, "hwID"), "reason: %s", why.reason);
	r.chip_id[5] ^= 0x10;
	TU_CHECK(attest_snp_vcek_check_report(&minfo, &r, &hw, &why) == 0,
		 "Milan VCEK for a Turin report");
	TU_CHECK(strstr(why.reason, "Milan") && strstr(why.reason, "Turin"), "reason: %s",
		 why.reason);
	/* Same bytes in the Milan layout would mean other SPLs: the layout matters. */
	raw[0x188] = 0x19;
	raw[0x189] = 0x01;
	TU_CHECK(attest_snp_report_parse(raw, sizeof raw, SNP_GEN_UNKNOWN, &r, NULL) == 0, "p");
	TU_CHECK(attest_snp_vcek_check_report(&minfo, &r, &hw, &why) == 0, "layout");
}

static void test_bad_input(void)
{
	X509 *a = NULL, *b = NULL;
	struct attest_verdict why = {0};
	size_t len;
	_cleanup_free_ uint8_t *one = tu_read_vector("amd-roots/snp/milan/ark.pem", &len);

	TU_CHECK(attest_snp_cert_parse((const uint8_t *)"hello", 5, &a, &why) == -EBADMSG, "junk");
	TU_CHECK(attest_snp_cert_chain_parse(one, len, &a, &b, &why) == -EBADMSG,
		 "a single PEM is not a cert_chain");
	TU_CHECK(strstr(why.reason, "two"), "reason: %s", why.reason);
}

int main(void)
{
	test_roots();
	test_milan_vcek();
	test_binding();
	test_vcek_flips();
	test_turin();
	test_turin_binding();
	test_bad_input();
	tu_done("test-snp-chain");
}
