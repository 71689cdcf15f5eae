/* LAUNCH_SECRET packets against the vectors: sevctl's secret table cases (one secret, two
 * secrets, the 16 KiB boundary of secret3/secret4) and sev-tool's raw packages PS1 (API 0.22),
 * PS2 (API 0.16: the measurement is not MACed) and PS4 (37 bytes); then the firmware side:
 * valid packets open to the plaintext, every tampered or malformed one names its check. */
#include <errno.h>
#include <string.h>

#include "attest/guid.h"
#include "attest/measurement.h"
#include "attest/secret.h"
#include "common/secret.h"
#include "launch-util.h"

static const char measure_blob_b64[] =
	"TLeA7607lZQntLjRY1/i+sbtdSZ+75zxpz4Px9hzpBLwItF5Q2o4prA++3ZZv9ZS";

static void load_tk(struct attest_tk *tk)
{
	size_t l1, l2;
	uint8_t *tek = tu_read_vector("sevctl/secret/tek1.bin", &l1);
	uint8_t *tik = tu_read_vector("sevctl/secret/tik1.bin", &l2);

	TU_CHECK(l1 == 16 && l2 == 16, "TEK/TIK sizes");
	memcpy(tk->tek, tek, 16);
	memcpy(tk->tik, tik, 16);
	free(tek), free(tik);
}

/* Build and seal a table of files as `sevctl secret build` does (API unknown: MAC with it). */
static void seal_table(const char *const guids[], const char *const files[], size_t n,
		       struct sev_secret_header *hdr, uint8_t **cipher, size_t *len)
{
	struct attest_secret s[4] = {};
	uint8_t *data[4] = {}, *table = NULL, *iv, *blob;
	struct attest_tk tk;
	size_t ivlen, bloblen;

	TU_CHECK(n <= 4, "n");
	load_tk(&tk);
	for (size_t i = 0; i < n; i++) {
		TU_CHECK(attest_guid_parse(guids[i], s[i].guid) == 0, "guid %s", guids[i]);
		s[i].data = data[i] = tu_read_vector(files[i], &s[i].len);
	}
	TU_CHECK(attest_secret_table(s, n, &table, len) == 0, "table");
	iv = b64("rFR07U3TLH2YnsUj2SVZ7A==", &ivlen);
	blob = b64(measure_blob_b64, &bloblen);
	*cipher = malloc(*len);
	TU_CHECK(attest_secret_seal(&(struct attest_secret_key){&tk, blob, 0xff, 0xff}, iv, table,
				    *len, hdr, *cipher) == 0,
		 "seal");
	secret_free(table, *len);
	for (size_t i = 0; i < n; i++)
		free(data[i]);
	free(iv), free(blob);
}

static void check_b64(const void *p, size_t len, const char *want)
{
	char *got = base64_encode(p, len);
	TU_CHECK(got && strcmp(got, want) == 0, "got %s, expected %s", got, want);
	free(got);
}

static void test_sevctl_case4(void)
{
	const char *g[] = { "736869e5-84f0-4973-92ec-06879ce3da0b" };
	const char *f[] = { "sevctl/secret/secret1.txt" };
	struct sev_secret_header h;
	uint8_t *c;
	size_t len;

	seal_table(g, f, 1, &h, &c, &len);
	check_b64(&h, sizeof h, "AAAAAKxUdO1N0yx9mJ7FI9klWey8FSzeYQ4X8K71VzNKLU/KQsIsQxLjtbhaPUewqshX5Q==");
	check_b64(c, len, "0U3e5PcXv0UW+H4tSBFKOdCYfKE1+j38Bc2fuO16mYiyI+sWx7INfn+lgYj56GL12yyinDa+lVfCCwD/2w5cPA==");
	free(c);
}

static void test_sevctl_two_secrets(void)
{
	const char *g[] = { "736869e5-84f0-4973-92ec-06879ce3da0b",
			    "736869e5-aaaa-4973-92ec-06879ce3da0b" };
	const char *f[] = { "sevctl/secret/secret1.txt", "sevctl/secret/secret2.txt" };
	struct sev_secret_header h;
	uint8_t *c;
	size_t len;

	seal_table(g, f, 2, &h, &c, &len);
	check_b64(&h, sizeof h, "AAAAAKxUdO1N0yx9mJ7FI9klWeyZ3r0dOEKHUOhIRqzGYYvTJgdMtBPL1nK6GD9aGET7Ng==");
	free(c);
}

static void test_table_boundary(void)
{
	const char *g[] = { "736869e5-84f0-4973-92ec-06879ce3da0b" };
	const char *f3[] = { "sevctl/secret/secret3.txt" }, *f4[] = { "sevctl/secret/secret4.txt" };
	struct sev_secret_header h;
	uint8_t *c3, *c4;
	size_t l3, l4;

	seal_table(g, f3, 1, &h, &c3, &l3);
	seal_table(g, f4, 1, &h, &c4, &l4);
	TU_CHECK(l3 <= 16384 && l3 % 16 == 0 && l3 == l4, "secret3 %zu, secret4 %zu", l3, l4);
	TU_CHECK_EQ(l4, 16384);
	free(c3), free(c4);
}

/* sev-tool package_secret: raw secret, TEK‖TIK from tmp_tk.bin, API from the PEK. */
static void check_ps(const char *dir, const char *want_mac_hex)
{
	char rel[128];
	size_t slen, tklen, mlen, plen, hlen, clen;
	struct attest_tk tk;
	struct sev_cert pek;
	struct sev_secret_header h;
	struct attest_verdict reason = {0};
	uint8_t iv[16], *secret, *tkb, *meas, *pekb, *want_h, *want_c, *c, *plain;
	struct attest_verdict v = {0};

#define RD(var, name, lenvar)                                                                      \
	snprintf(rel, sizeof rel, "sev-tool/package_secret/%s/" name, dir);                        \
	var = tu_read_vector(rel, &lenvar)
	RD(secret, "secret.txt", slen);
	RD(tkb, "tmp_tk.bin", tklen);
	RD(meas, "calc_measurement_out.bin", mlen);
	RD(pekb, "pek.cert", plen);
	RD(want_h, "packaged_secret_header.bin", hlen);
	RD(want_c, "packaged_secret.bin", clen);
#undef RD
	TU_CHECK(tklen == 32 && mlen == 32 && hlen == 52 && clen == slen, "%s sizes", dir);
	TU_CHECK(attest_sev_cert_parse(pekb, plen, &pek, &reason) == 0, "PEK: %s", reason.reason);
	memcpy(&tk, tkb, 32);
	hexb("303132333435363738393a3b3c3d3e3f", iv, 16);
	c = malloc(slen);
	TU_CHECK(
	    attest_secret_seal(&(struct attest_secret_key){&tk, meas, pek.api_major, pek.api_minor},
			       iv, secret, slen, &h, c) == 0,
	    "%s seal", dir);
	TU_CHECK(memcmp(&h, want_h, 52) == 0, "%s: header differs", dir);
	TU_CHECK(memcmp(c, want_c, slen) == 0, "%s: payload differs", dir);
	if (want_mac_hex)
		check_hex(h.mac, 32, want_mac_hex);

	/* Firmware side. A 16-byte multiple opens; a measurement change matters only ≥ 0.17. */
	plain = malloc(slen);
	if (slen % 16 == 0) {
		TU_CHECK(
		    attest_secret_open(
			&(struct attest_secret_key){&tk, meas, pek.api_major, pek.api_minor},
			&(struct attest_secret_packet){want_h, 52, want_c, clen, (uint32_t)clen},
			plain, &v) == 1,
		    "%s open: %s", dir, attest_verdict_why(&v, "an internal error"));
		TU_CHECK_MEM(plain, secret, slen);
		meas[0] ^= 1;
		v = (struct attest_verdict){0};
		int r = attest_secret_open(
		    &(struct attest_secret_key){&tk, meas, pek.api_major, pek.api_minor},
		    &(struct attest_secret_packet){want_h, 52, want_c, clen, (uint32_t)clen}, plain,
		    &v);
		if (attest_api_at_least(pek.api_major, pek.api_minor, 0, 17))
			TU_CHECK(r == 0 && v.check == ATTEST_SECRET_BAD_MAC,
				 "%s: other measurement", dir);
		else
			TU_CHECK(r == 1, "%s: API < 0.17 does not MAC the measurement", dir);
		meas[0] ^= 1;
	} else {
		/* AMD's firmware refuses lengths that are not a multiple of 16 (INVALID_LEN). */
		TU_CHECK(
		    attest_secret_open(
			&(struct attest_secret_key){&tk, meas, pek.api_major, pek.api_minor},
			&(struct attest_secret_packet){want_h, 52, want_c, clen, (uint32_t)clen},
			plain, &v) == 0 &&
			v.check == ATTEST_SECRET_BAD_LENGTH,
		    "%s: unaligned length", dir);
	}
	free(secret), free(tkb), free(meas), free(pekb), free(want_h), free(want_c), free(c),
		free(plain);
}

static void expect_open(const struct attest_tk *tk, const uint8_t *meas, const uint8_t *hdr,
			size_t hlen, const uint8_t *c, size_t clen, uint32_t glen,
			enum attest_secret_check want, const char *what)
{
	uint8_t plain[64];
	struct attest_verdict v = {0};
	int r =
	    attest_secret_open(&(struct attest_secret_key){tk, meas, 1, 0},
			       &(struct attest_secret_packet){hdr, hlen, c, clen, glen}, plain, &v);

	if (want == ATTEST_SECRET_OK) {
		TU_CHECK(r == 1, "%s: %s", what, attest_verdict_why(&v, "an internal error"));
		TU_CHECK(v.ok && v.check == ATTEST_SECRET_OK, "%s: the verdict says accepted",
			 what);
	} else {
		TU_CHECK(r == 0 && !v.ok && v.check == (int)want, "%s: got %d/%s, want %s", what, r,
			 attest_secret_check_name(v.check), attest_secret_check_name(want));
		TU_CHECK(strcmp(v.reason, attest_secret_check_name(want)) == 0, "%s: reason \"%s\"",
			 what, v.reason);
	}
}

static void test_firmware_open(void)
{
	const char *g[] = { "736869e5-84f0-4973-92ec-06879ce3da0b" };
	const char *f[] = { "sevctl/secret/secret1.txt" };
	struct sev_secret_header h;
	struct attest_tk tk;
	uint8_t *c, *meas, hdr[52], mac[32];
	size_t len, mlen;

	load_tk(&tk);
	meas = b64(measure_blob_b64, &mlen);
	seal_table(g, f, 1, &h, &c, &len);
	TU_CHECK_EQ(len, 64);
	memcpy(hdr, &h, 52);
	expect_open(&tk, meas, hdr, 52, c, len, (uint32_t)len, ATTEST_SECRET_OK, "case 4 opens");
	for (size_t i = 0; i < 52; i++) {
		hdr[i] ^= 0x40;
		expect_open(&tk, meas, hdr, 52, c, len, (uint32_t)len, ATTEST_SECRET_BAD_MAC,
			    "header byte");
		hdr[i] ^= 0x40;
	}
	for (size_t i = 0; i < len; i++) {
		c[i] ^= 0x02;
		expect_open(&tk, meas, hdr, 52, c, len, (uint32_t)len, ATTEST_SECRET_BAD_MAC,
			    "payload byte");
		c[i] ^= 0x02;
	}
	tk.tik[3] ^= 1;
	expect_open(&tk, meas, hdr, 52, c, len, (uint32_t)len, ATTEST_SECRET_BAD_MAC, "wrong TIK");
	tk.tik[3] ^= 1;
	expect_open(&tk, meas, hdr, 51, c, len, (uint32_t)len, ATTEST_SECRET_BAD_LENGTH, "hdr 51");
	expect_open(&tk, meas, hdr, 52, c, len, 48, ATTEST_SECRET_BAD_LENGTH, "guest ≠ trans");
	expect_open(&tk, meas, hdr, 52, c, 0, 0, ATTEST_SECRET_BAD_LENGTH, "empty");
	/* A correctly MACed packet that asks for compression: UNSUPPORTED, after the MAC. */
	put_le32(hdr, ATTEST_SECRET_FLAG_COMPRESSED);
	TU_CHECK(attest_secret_mac(tk.tik, ATTEST_SECRET_FLAG_COMPRESSED, h.iv, (uint32_t)len, c,
				   len, meas, mac) == 0, "mac");
	memcpy(hdr + 20, mac, 32);
	expect_open(&tk, meas, hdr, 52, c, len, (uint32_t)len, ATTEST_SECRET_COMPRESSED,
		    "compressed");
	TU_CHECK_EQ(attest_secret_check_status(ATTEST_SECRET_BAD_MAC), SEV_STATUS_BAD_MEASUREMENT);
	TU_CHECK_EQ(attest_secret_check_status(ATTEST_SECRET_BAD_LENGTH), SEV_STATUS_INVALID_LEN);
	free(c), free(meas);
}

static void test_guid_parse(void)
{
	uint8_t g[16];

	TU_CHECK(attest_guid_parse("1e74f542-71dd-4d66-963e-ef4287ff173b", g) == 0, "guid");
	check_hex(g, 16, "42f5741edd71664d963eef4287ff173b");
	TU_CHECK(attest_guid_parse("1E74F542-71DD-4D66-963E-EF4287FF173B", g) == 0, "upper");
	TU_CHECK(attest_guid_parse("1e74f542-71dd-4d66-963e-ef4287ff173", g) < 0, "short");
	TU_CHECK(attest_guid_parse("1e74f542x71dd-4d66-963e-ef4287ff173b", g) < 0, "dash");
	TU_CHECK(attest_guid_parse("1e74f542-71dd-4d66-963e-ef4287ff17zb", g) < 0, "hex");
}

int main(void)
{
	test_guid_parse();
	test_sevctl_case4();
	test_sevctl_two_secrets();
	test_table_boundary();
	check_ps("PS1", NULL);
	check_ps("PS2", NULL);
	check_ps("PS4", "75f13faee78b91cf977dfda487078843578c853f3afb1fa07fa13ad13597336a");
	test_firmware_open();
	tu_done("test-secret");
}
