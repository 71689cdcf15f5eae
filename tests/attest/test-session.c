/* LAUNCH_START sessions against AMD sev-tool's pinned runs (vectors sev-tool/launch_blob):
 * LB1 — our owner side, given sev-tool's fixed GODH scalar, nonce, TEK/TIK and IV, must
 * reproduce launch_blob.bin, tmp_tk.bin, the intermediates and godh.cert (all but its random
 * signature); LB2 — our firmware side, holding the synthetic PDH's private key, must unwrap
 * exactly that TEK/TIK, and name the failing check for every tampered input. */
#include <errno.h>
#include <string.h>

#include "attest/session.h"
#include "common/ossl.h"
#include "launch-util.h"

static const char scalar_hex[] =
	"0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30";
static uint8_t scalar[48], nonce[16], tek[16], tik[16], iv[16];

static void load_fixed(void)
{
	hexb(scalar_hex, scalar, sizeof scalar);
	hexb("00112233445566778899aabbccddeeff", nonce, 16);
	hexb("000102030405060708090a0b0c0d0e0f", tek, 16);
	hexb("101112131415161718191a1b1c1d1e1f", tik, 16);
	hexb("202122232425262728292a2b2c2d2e2f", iv, 16);
}

static void read_cert(const char *rel, struct sev_cert *c, uint8_t **raw)
{
	size_t len;
	struct attest_verdict reason = {0};
	uint8_t *buf = tu_read_vector(rel, &len);

	TU_CHECK(attest_sev_cert_parse(buf, len, c, &reason) == 0, "%s: %s", rel,
		 attest_verdict_why(&reason, "?"));
	if (raw)
		*raw = buf;
	else
		free(buf);
}

/* master/KEK/KIK from the GODH scalar and a platform PDH, as both ends compute them. */
static void check_intermediates(const char *pdh_rel, const char *master, const char *kek,
				const char *kik)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *godh = NULL, *pdh = NULL;
	struct sev_cert c;
	struct attest_session_keys keys;
	uint8_t z[48];

	read_cert(pdh_rel, &c, NULL);
	TU_CHECK(attest_sev_cert_pubkey(&c, &pdh) == 0, "PDH key");
	TU_CHECK(attest_p384_key_from_scalar(scalar, &godh) == 0, "GODH from scalar");
	TU_CHECK(attest_ecdh_z(godh, pdh, z) == 0, "ECDH");
	TU_CHECK(attest_session_keys_derive(z, sizeof z, nonce, &keys) == 0, "derive");
	check_hex(keys.master, 16, master);
	check_hex(keys.kek, 16, kek);
	check_hex(keys.kik, 16, kik);
}

static void check_build(const char *dir)
{
	char rel[128];
	struct sev_cert pdh, godh;
	struct sev_session_blob blob;
	struct attest_tk tk;
	struct attest_session_params p = { scalar, nonce, tek, tik, iv };
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *godh_key = NULL;
	uint8_t *want;
	size_t len;
	struct attest_verdict reason = {0};

	snprintf(rel, sizeof rel, "sev-tool/launch_blob/%s/pdh.cert", dir);
	read_cert(rel, &pdh, NULL);
	TU_CHECK(attest_session_build(&pdh, 1, &p, &godh, &blob, &tk) == 0, "build %s", dir);

	snprintf(rel, sizeof rel, "sev-tool/launch_blob/%s/launch_blob.bin", dir);
	want = tu_read_vector(rel, &len);
	TU_CHECK_EQ(len, sizeof blob);
	TU_CHECK(memcmp(&blob, want, len) == 0, "%s: launch_blob.bin differs", dir);
	free(want);

	snprintf(rel, sizeof rel, "sev-tool/launch_blob/%s/tmp_tk.bin", dir);
	want = tu_read_vector(rel, &len);
	TU_CHECK(len == sizeof tk && memcmp(&tk, want, len) == 0, "%s: TEK‖TIK differ", dir);
	free(want);

	/* godh.cert: every byte but the ECDSA r‖s of slot 0 (0x41c..0x4ab), which is random. */
	snprintf(rel, sizeof rel, "sev-tool/launch_blob/%s/godh.cert", dir);
	want = tu_read_vector(rel, &len);
	TU_CHECK_EQ(len, sizeof godh);
	TU_CHECK(memcmp(&godh, want, 0x41c) == 0, "%s: GODH cert body differs", dir);
	TU_CHECK(memcmp((uint8_t *)&godh + 0x4ac, want + 0x4ac, len - 0x4ac) == 0,
		 "%s: GODH cert tail differs", dir);
	free(want);
	/* Our own signature must verify under the GODH key itself. */
	TU_CHECK(attest_p384_key_from_scalar(scalar, &godh_key) == 0, "GODH key");
	TU_CHECK(attest_sev_cert_verify(&godh, SEV_USAGE_PEK, godh_key, &reason) == 1,
		 "GODH self-signature: %s", attest_verdict_why(&reason, "?"));
}

static EVP_PKEY *synthetic_pdh_priv(void)
{
	size_t len;
	uint8_t *hex = tu_read_vector("sev-tool/launch_blob/synthetic_pdh_priv.hex", &len);
	uint8_t d[48];
	EVP_PKEY *k = NULL;
	char buf[97] = {};

	TU_CHECK(len >= 96, "synthetic_pdh_priv.hex too short");
	memcpy(buf, hex, 96);
	hexb(buf, d, sizeof d);
	TU_CHECK(attest_p384_key_from_scalar(d, &k) == 0, "PDH private key");
	free(hex);
	return k;
}

static int open_lb2(EVP_PKEY *pdh, const uint8_t *godh, size_t godh_len, const uint8_t *blob,
		    size_t blob_len, uint32_t policy, struct attest_tk *tk,
		    struct attest_verdict *v)
{
	*v = (struct attest_verdict){0};
	return attest_session_open(pdh, godh, godh_len, blob, blob_len, policy, tk, v);
}

static void expect_reject(EVP_PKEY *pdh, const uint8_t *godh, size_t godh_len,
			  const uint8_t *blob, size_t blob_len, uint32_t policy,
			  enum attest_session_check want, const char *what)
{
	struct attest_tk tk;
	struct attest_verdict v;
	static const struct attest_tk zero;
	int r = open_lb2(pdh, godh, godh_len, blob, blob_len, policy, &tk, &v);

	TU_CHECK(r == 0, "%s: expected rejection, got %d", what, r);
	TU_CHECK(!v.ok && v.check == (int)want, "%s: failed check %s, expected %s", what,
		 attest_session_check_name(v.check), attest_session_check_name(want));
	TU_CHECK(strcmp(v.reason, attest_session_check_name(want)) == 0, "%s: reason \"%s\"", what,
		 v.reason);
	TU_CHECK(memcmp(&tk, &zero, sizeof tk) == 0, "%s: keys must not leak on failure", what);
}

static void test_lb2_firmware(void)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pdh = synthetic_pdh_priv();
	size_t glen, blen, tlen, l1;
	uint8_t *godh = tu_read_vector("sev-tool/launch_blob/LB2/godh.cert", &glen);
	uint8_t *blob = tu_read_vector("sev-tool/launch_blob/LB2/launch_blob.bin", &blen);
	uint8_t *want = tu_read_vector("sev-tool/launch_blob/LB2/tmp_tk.bin", &tlen);
	uint8_t *lb1 = tu_read_vector("sev-tool/launch_blob/LB1/launch_blob.bin", &l1);
	struct attest_tk tk;
	struct attest_verdict v;

	TU_CHECK(open_lb2(pdh, godh, glen, blob, blen, 1, &tk, &v) == 1, "LB2 open: %s", v.reason);
	TU_CHECK(v.ok && v.check == ATTEST_SESSION_OK, "LB2 open: the verdict says accepted");
	TU_CHECK(tlen == sizeof tk && memcmp(&tk, want, tlen) == 0, "LB2 TEK/TIK differ");
	TU_CHECK_MEM(tk.tek, tek, 16);
	TU_CHECK_MEM(tk.tik, tik, 16);

	/* Each field of the blob, tampered, fails the check that covers it. The wrap IV is not
	 * MACed: a wrong IV unwraps a wrong TIK, caught by the policy MAC. */
	for (size_t i = 0; i < blen; i++) {
		enum attest_session_check w = i < 48 ? ATTEST_SESSION_BAD_WRAP_MAC
				: i < 64 ? ATTEST_SESSION_BAD_POLICY_MAC
				: i < 96 ? ATTEST_SESSION_BAD_WRAP_MAC
					 : ATTEST_SESSION_BAD_POLICY_MAC;
		blob[i] ^= 0x01;
		expect_reject(pdh, godh, glen, blob, blen, 1, w, "tampered blob byte");
		blob[i] ^= 0x01;
	}
	expect_reject(pdh, godh, glen, blob, blen, 3, ATTEST_SESSION_BAD_POLICY_MAC,
		      "other policy");
	expect_reject(pdh, godh, glen, lb1, l1, 1, ATTEST_SESSION_BAD_WRAP_MAC,
		      "blob made for another PDH");
	expect_reject(pdh, godh, glen - 1, blob, blen, 1, ATTEST_SESSION_BAD_LENGTH, "short GODH");
	expect_reject(pdh, godh, glen, blob, blen - 1, 1, ATTEST_SESSION_BAD_LENGTH, "short blob");
	godh[0x10] = 1; /* curve P-256 */
	expect_reject(pdh, godh, glen, blob, blen, 1, ATTEST_SESSION_BAD_GODH, "GODH not P-384");
	godh[0x10] = 2;
	godh[0x14] ^= 0x01; /* qx: the point leaves the curve */
	expect_reject(pdh, godh, glen, blob, blen, 1, ATTEST_SESSION_BAD_GODH, "GODH off curve");
	godh[0x14] ^= 0x01;
	godh[0x08] = 0x02; /* usage PEK */
	expect_reject(pdh, godh, glen, blob, blen, 1, ATTEST_SESSION_BAD_GODH, "GODH not a DH key");
	godh[0x08] = 0x03;
	TU_CHECK(open_lb2(pdh, godh, glen, blob, blen, 1, &tk, &v) == 1, "restored");
	TU_CHECK_EQ(attest_session_check_status(ATTEST_SESSION_BAD_WRAP_MAC),
		    SEV_STATUS_BAD_MEASUREMENT);
	TU_CHECK_EQ(attest_session_check_status(ATTEST_SESSION_BAD_GODH),
		    SEV_STATUS_INVALID_CERTIFICATE);
	free(godh);
	free(blob);
	free(want);
	free(lb1);
}

/* Production path: fresh randomness every time, and the firmware side opens it. */
static void test_fresh_roundtrip(void)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pdh = synthetic_pdh_priv();
	struct sev_cert pdh_cert, godh1, godh2;
	struct sev_session_blob b1, b2;
	struct attest_tk tk1, tk2, opened;
	struct attest_verdict v;

	read_cert("sev-tool/launch_blob/synthetic_pdh.cert", &pdh_cert, NULL);
	TU_CHECK(attest_session_build(&pdh_cert, 0x30005, NULL, &godh1, &b1, &tk1) == 0, "build 1");
	TU_CHECK(attest_session_build(&pdh_cert, 0x30005, NULL, &godh2, &b2, &tk2) == 0, "build 2");
	TU_CHECK(memcmp(&tk1, &tk2, sizeof tk1) != 0, "TEK/TIK must be fresh");
	TU_CHECK(memcmp(b1.nonce, b2.nonce, 16) != 0, "nonce must be fresh");
	TU_CHECK(memcmp(b1.wrap_iv, b2.wrap_iv, 16) != 0, "IV must be fresh");
	TU_CHECK(memcmp(godh1.pubkey, godh2.pubkey, sizeof godh1.pubkey) != 0, "GODH must be fresh");
	TU_CHECK(open_lb2(pdh, (uint8_t *)&godh1, sizeof godh1, (uint8_t *)&b1, sizeof b1, 0x30005,
			  &opened, &v) == 1,
		 "open fresh: %s", v.reason);
	TU_CHECK_MEM(&opened, &tk1, sizeof tk1);
	/* A PDH that is not a DH key is refused by the owner side. */
	pdh_cert.pubkey_usage = SEV_USAGE_PEK;
	TU_CHECK(attest_session_build(&pdh_cert, 0, NULL, &godh1, &b1, &tk1) == -EBADMSG,
		 "PEK as PDH refused");
}

int main(void)
{
	load_fixed();
	check_intermediates("sev-tool/launch_blob/LB1/pdh.cert", "0177e5c34c8d3be789a0c024bab0acd5",
			    "b9c97c6d171534356234927660efe655", "48a36067685203558eeb2bf63308910a");
	check_intermediates("sev-tool/launch_blob/LB2/pdh.cert", "9abd2b2a6bff9b7531879e5052dcab6a",
			    "2a43cf09fd37dffab277f35254587907", "7926659f4773386bc681831e8210ae19");
	check_build("LB1");
	check_build("LB2");
	test_lb2_firmware();
	test_fresh_roundtrip();
	tu_done("test-session");
}
