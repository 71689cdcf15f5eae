/* Seed corpora for the launch fuzz targets (session-open, secret-open, ovmf-footer,
 * ovmf-metadata): valid
 * packets for the fixed keys of fuzz-launch.h plus one of each malformed kind, so the fuzzer
 * starts deep. `gen-launch-corpus DIR` writes DIR/<target>/<seed>; without DIR (as a test) it
 * writes to a temporary directory and checks that every valid seed is accepted by the code the
 * fuzz targets call, and every malformed one is refused with the expected check. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "attest/guid.h"
#include "attest/measurement.h"
#include "attest/ovmf.h"
#include "attest/snp-measure.h"
#include "attest/secret.h"
#include "attest/session.h"
#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"
#include "fuzz-launch.h"
#include "tests/testutil.h"

static const char *root;

static void put(const char *target, const char *name, const void *buf, size_t len)
{
	char path[1024];

	snprintf(path, sizeof path, "%s/%s", root, target);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
	TU_CHECK(write_file_atomic(path, buf, len, 0644) == 0, "write %s", path);
}

static void session_seed(EVP_PKEY *pdh_priv, const struct sev_cert *pdh, uint32_t policy,
			 const char *name, int tamper_at, enum attest_session_check want)
{
	uint8_t in[FUZZ_SESSION_INPUT_SIZE];
	struct sev_cert godh;
	struct sev_session_blob blob;
	struct attest_tk tk, got;
	struct attest_verdict v = {0};

	TU_CHECK(attest_session_build(pdh, policy, NULL, &godh, &blob, &tk) == 0, "build");
	memcpy(in, &godh, sizeof godh);
	memcpy(in + sizeof godh, &blob, sizeof blob);
	put_le32(in + sizeof godh + sizeof blob, policy);
	if (tamper_at >= 0)
		in[tamper_at] ^= 0x01;
	put("session-open", name, in, sizeof in);
	int r = attest_session_open(pdh_priv, in, sizeof godh, in + sizeof godh, sizeof blob,
				    policy, &got, &v);
	TU_CHECK(r == (want == ATTEST_SESSION_OK) && v.check == (int)want, "%s: %d %s", name, r,
		 attest_session_check_name(v.check));
}

static void gen_session(void)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	struct sev_cert pdh;

	TU_CHECK(attest_p384_key_from_scalar(fuzz_pdh_scalar, &key) == 0, "PDH key");
	TU_CHECK(attest_sev_cert_init(&pdh, 1, 0, SEV_USAGE_PDH, SEV_ALGO_ECDH_SHA256, key) == 0,
		 "PDH cert");
	session_seed(key, &pdh, 0, "valid-policy-0", -1, ATTEST_SESSION_OK);
	session_seed(key, &pdh, 0x30005, "valid-policy-30005", -1, ATTEST_SESSION_OK);
	session_seed(key, &pdh, 1, "bad-wrap-mac", 0x824 + 0x40, ATTEST_SESSION_BAD_WRAP_MAC);
	session_seed(key, &pdh, 1, "bad-policy-mac", 0x824 + 0x7f, ATTEST_SESSION_BAD_POLICY_MAC);
	session_seed(key, &pdh, 1, "bad-godh-point", 0x14, ATTEST_SESSION_BAD_GODH);
	put("session-open", "short", &pdh, sizeof pdh);
}

static void secret_seed(const char *name, uint8_t mode, const uint8_t *plain, size_t len)
{
	struct attest_tk tk;
	struct sev_secret_header h;
	uint8_t *in = malloc(1 + sizeof h + len), *out = malloc(len);
	struct attest_verdict v = {0};
	uint8_t minor = (mode & 1) ? 16 : 0;

	memcpy(&tk, fuzz_tk, sizeof tk);
	TU_CHECK(in && out, "oom");
	TU_CHECK(
	    attest_secret_seal(&(struct attest_secret_key){&tk, fuzz_measure, minor ? 0 : 1, minor},
			       NULL, plain, len, &h, in + 1 + sizeof h) == 0,
	    "seal");
	in[0] = mode;
	memcpy(in + 1, &h, sizeof h);
	put("secret-open", name, in, 1 + sizeof h + len);
	int r = attest_secret_open(
	    &(struct attest_secret_key){&tk, fuzz_measure, minor ? 0 : 1, minor},
	    &(struct attest_secret_packet){in + 1, sizeof h, in + 1 + sizeof h, len,
					   (uint32_t)len + ((mode & 2) ? 16 : 0)},
	    out, &v);
	TU_CHECK(r == ((mode & 2) || len % 16 ? 0 : 1), "%s: %d %s", name, r,
		 attest_verdict_why(&v, "accepted"));
	free(in), free(out);
}

static void gen_secret(void)
{
	struct attest_secret s = { .data = (const uint8_t *)"passphrase-0123456789", .len = 21 };
	uint8_t *table, *big = calloc(1, ATTEST_SECRET_MAX_LEN);
	size_t len;

	TU_CHECK(big && attest_guid_parse("736869e5-84f0-4973-92ec-06879ce3da0b", s.guid) == 0, "guid");
	TU_CHECK(attest_secret_table(&s, 1, &table, &len) == 0, "table");
	secret_seed("valid-table", 0, table, len);
	secret_seed("valid-table-api-0.16", 1, table, len);
	secret_seed("guest-len-mismatch", 2, table, len);
	secret_seed("valid-raw-16", 0, (const uint8_t *)"0123456789abcdef", 16);
	secret_seed("unaligned-37", 0, (const uint8_t *)"a 37-byte secret, not block aligned!!", 37);
	secret_seed("valid-max", 0, big, ATTEST_SECRET_MAX_LEN);
	secret_free(table, len);
	free(big);
}

/* A 4 KiB image ending like OvmfPkg's reset vector: footer table with a hashes area entry
 * (base, size), preceded by a filler entry, then the footer GUID and 0x20 bytes of vector. */
static void footer_image(const char *name, uint32_t base, uint32_t size, bool with_area)
{
	uint8_t img[4096] = {}, area_guid[16], other[16], footer[16];
	size_t end = sizeof img - 0x20, off = end;
	uint16_t total = 18;

	TU_CHECK(attest_guid_parse("7255371f-3a3b-4b04-927b-1da6efa8d454", area_guid) == 0 &&
		 attest_guid_parse("00f771de-1a7e-4fcb-890e-68c77e2fb44e", other) == 0 &&
		 attest_guid_parse("96b582de-1fb2-45f7-baea-a366c55a082d", footer) == 0, "guids");
	memcpy(img + (off -= 16), footer, 16);
	off -= 2; /* total length, filled below */
	size_t len_at = off;
	if (with_area) {
		memcpy(img + (off -= 16), area_guid, 16);
		put_le16(img + (off -= 2), 26);
		put_le32(img + (off -= 4), size);
		put_le32(img + (off -= 4), base);
		total += 26;
	}
	memcpy(img + (off -= 16), other, 16);
	put_le16(img + (off -= 2), 22);
	put_le32(img + (off -= 4), 0x80b004);
	total += 22;
	put_le16(img + len_at, total);
	put("ovmf-footer", name, img, sizeof img);
	uint32_t b, s;
	int r = attest_ovmf_hashes_area(img, sizeof img, &b, &s);
	TU_CHECK(with_area && base && size ? r == 0 && b == base && s == size : r == -ENOENT,
		 "%s: %d", name, r);
}

static void gen_footer(void)
{
	footer_image("amdsev-like", 0x810c00, 0x400, true);
	footer_image("ovmfx64-like", 0, 0, true);
	footer_image("no-area-entry", 0, 0, false);
	footer_image("area-too-small", 0x810c00, 0x20, true);
}

/* An 8 KiB image with OVMF's footer entries (SEV metadata offset, SEV-ES reset block, hashes
 * area) and an "ASEV" header at 0x100 with SNP_SEC_MEMORY, SNP_SECRETS, CPUID and
 * KERNEL_HASHES sections; `damage` spoils one part. */
enum meta_damage { META_OK, META_BAD_SIG, META_HUGE_COUNT, META_MISALIGNED, META_NO_HASHES };

static size_t footer_put(uint8_t *img, size_t off, const char *guid_s, const void *d, size_t n)
{
	uint8_t guid[16];

	TU_CHECK(attest_guid_parse(guid_s, guid) == 0, "guid");
	memcpy(img + (off -= 16), guid, 16);
	put_le16(img + (off -= 2), (uint16_t)(n + 18));
	memcpy(img + (off -= n), d, n);
	return off;
}

static void meta_image(const char *name, enum meta_damage damage, int want)
{
	static const uint32_t sec[][3] = { { 0x800000, 0x9000, 1 }, { 0x80d000, 0x1000, 2 },
					   { 0x80e000, 0x1000, 3 }, { 0x80f000, 0x1000, 0x10 } };
	uint8_t img[8192] = {}, d[8], *h = img + 0x100;
	uint32_t n = damage == META_NO_HASHES ? 3 : 4;
	size_t end = sizeof img - 0x20, off = end - 18;
	uint8_t footer[16];
	struct attest_ovmf o;

	memcpy(h, damage == META_BAD_SIG ? "ASEW" : "ASEV", 4);
	put_le32(h + 4, 16 + n * 12);
	put_le32(h + 8, 1);
	put_le32(h + 12, damage == META_HUGE_COUNT ? 100000 : n);
	for (uint32_t i = 0; i < n; i++) {
		put_le32(h + 16 + i * 12, sec[i][0] + (damage == META_MISALIGNED && i == 1 ? 8 : 0));
		put_le32(h + 20 + i * 12, sec[i][1]);
		put_le32(h + 24 + i * 12, sec[i][2]);
	}
	put_le32(d, (uint32_t)(sizeof img - 0x100));
	off = footer_put(img, off, "dc886566-984a-4798-a75e-5585a7bf67cc", d, 4);
	put_le32(d, 0x80b004);
	off = footer_put(img, off, "00f771de-1a7e-4fcb-890e-68c77e2fb44e", d, 4);
	put_le32(d, 0x80fc00), put_le32(d + 4, 0x400);
	off = footer_put(img, off, "7255371f-3a3b-4b04-927b-1da6efa8d454", d, 8);
	TU_CHECK(attest_guid_parse("96b582de-1fb2-45f7-baea-a366c55a082d", footer) == 0, "guid");
	memcpy(img + end - 16, footer, 16);
	put_le16(img + end - 18, (uint16_t)(end - off));
	put("ovmf-metadata", name, img, sizeof img);
	TU_CHECK_EQ(attest_ovmf_parse(img, sizeof img, &o, NULL), want);
	if (want == 0) {
		static const uint8_t k[32] = { 1 };
		struct attest_snp_input in = { .firmware = img, .firmware_len = sizeof img,
					       .vcpus = 2, .kernel_sha256 = k };
		uint8_t dg[48];
		TU_CHECK(o.n_sections == n && o.has_reset_eip && o.hashes_gpa == 0x80fc00,
			 "%s parsed", name);
		TU_CHECK_EQ(attest_snp_launch_digest(&in, dg, NULL),
			    damage == META_NO_HASHES ? -ENOENT : 0);
	}
}

static void gen_metadata(void)
{
	meta_image("valid", META_OK, 0);
	meta_image("no-kernel-hashes", META_NO_HASHES, 0);
	meta_image("bad-signature", META_BAD_SIG, -EBADMSG);
	meta_image("huge-count", META_HUGE_COUNT, -EBADMSG);
	meta_image("misaligned-secrets", META_MISALIGNED, -EBADMSG);
}

int main(int argc, char **argv)
{
	char *tmp = NULL;

	root = argc > 1 ? argv[1] : (tmp = tu_mkdtemp());
	gen_session();
	gen_secret();
	gen_footer();
	gen_metadata();
	if (tmp)
		tu_rmtree(tmp);
	tu_done("gen-launch-corpus");
}
