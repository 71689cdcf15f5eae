/* Launch measurements and digests against the vectors: sev-tool's calc_measurement runs
 * (cases.tsv/results.tsv CM1–CM7, including the API < 0.17 rule), sevctl's measurement cases
 * 1–3 and its SEV-ES case, and the launch-digest images (direct kernel boot via the OVMF
 * footer's hashes table; OvmfX64 has none and must refuse a kernel). */
#include <stdio.h>
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "attest/guid.h"
#include "attest/measurement.h"
#include "launch-util.h"

static void sha256(const void *p, size_t len, uint8_t out[32])
{
	TU_CHECK(EVP_Digest(p, len, out, NULL, EVP_sha256(), NULL) == 1, "sha256");
}

/* One row of cases.tsv: id ctx maj min build policy digest mnonce tik. */
static int run_cm_row(char *line, char **results)
{
	char id[8], ctx[4], maj[4], min[4], build[4], pol[12], dig[65], mn[33], tikh[33];
	struct attest_measure_input in = {};
	uint8_t tik[16], out[32];
	uint32_t policy;

	if (line[0] == '#' || sscanf(line, "%7s %3s %3s %3s %3s %11s %64s %32s %32s", id, ctx, maj,
				     min, build, pol, dig, mn, tikh) != 9)
		return 0;
	hexb(ctx, &in.ctx, 1);
	hexb(maj, &in.api_major, 1);
	hexb(min, &in.api_minor, 1);
	hexb(build, &in.build, 1);
	TU_CHECK(strlen(pol) % 2 == 0 && strlen(pol) <= 8, "%s: policy %s", id, pol);
	policy = (uint32_t)strtoul(pol, NULL, 16);
	in.policy = policy;
	hexb(dig, in.digest, 32);
	hexb(mn, in.mnonce, 16);
	hexb(tikh, tik, 16);
	TU_CHECK(attest_measurement_compute(tik, &in, out) == 0, "%s compute", id);
	for (char **r = results; *r; r++) {
		char rid[8], want[65];
		if (sscanf(*r, "%7s %64s", rid, want) == 2 && strcmp(rid, id) == 0) {
			check_hex(out, 32, want);
			TU_CHECK(attest_measurement_verify(tik, &in, out) == 1, "%s verify", id);
			out[31] ^= 1;
			TU_CHECK(attest_measurement_verify(tik, &in, out) == 0, "%s flipped", id);
			return 1;
		}
	}
	TU_CHECK(0, "%s: no row in results.tsv", id);
	return 0;
}

static char **split_lines(char *text)
{
	size_t n = 0;
	char **v = calloc(256, sizeof *v);

	for (char *s = strtok(text, "\n"); s && n < 255; s = strtok(NULL, "\n"))
		v[n++] = s;
	return v;
}

static void test_sev_tool_cases(void)
{
	size_t l1, l2;
	char *cases = (char *)tu_read_vector("sev-tool/cases.tsv", &l1);
	char *results = (char *)tu_read_vector("sev-tool/results.tsv", &l2);
	char *c = strndup(cases, l1), *r = strndup(results, l2);
	char **res = split_lines(r), **rows = split_lines(c);
	int n = 0;

	for (char **row = rows; *row; row++)
		n += run_cm_row(*row, res);
	TU_CHECK_EQ(n, 7); /* CM1..CM7 */
	free(cases), free(results), free(c), free(r), free(res), free(rows);
}

/* The API < 0.17 rule at its boundary: 0.16 leaves the prefix out, so build and ctx do not
 * change the result; from 0.17 on they do. */
static void test_api_boundary(void)
{
	struct attest_measure_input a = { .ctx = 4, .api_major = 0, .api_minor = 16, .build = 1 };
	struct attest_measure_input b = a;
	uint8_t tik[16] = { 1 }, ma[32], mb[32];

	b.build = 2;
	b.ctx = 1;
	TU_CHECK(attest_measurement_compute(tik, &a, ma) == 0 &&
		 attest_measurement_compute(tik, &b, mb) == 0, "compute");
	TU_CHECK_MEM(ma, mb, 32);
	a.api_minor = b.api_minor = 17;
	TU_CHECK(attest_measurement_compute(tik, &a, ma) == 0 &&
		 attest_measurement_compute(tik, &b, mb) == 0, "compute");
	TU_CHECK(memcmp(ma, mb, 32) != 0, "prefix hashed from 0.17 on");
	TU_CHECK(attest_api_at_least(1, 0, 0, 17) && !attest_api_at_least(0, 16, 0, 17), "cmp");
}

/* sevctl measurement cases: TIK tik1.bin, API 1.40 build 40, policy 3, fixed mnonce. */
static void sevctl_case(const uint8_t digest[32], const char *want_b64)
{
	struct attest_measure_input in = { ATTEST_MEASURE_CTX, 1, 40, 40, 0x03 };
	size_t tlen, wlen, nlen;
	uint8_t *tik = tu_read_vector("sevctl/measurement/tik1.bin", &tlen);
	uint8_t *nonce = b64("wxP6tRHCFrFQWxsuqZA8QA==", &nlen);
	uint8_t *want = b64(want_b64, &wlen);
	uint8_t out[32];

	TU_CHECK(tlen == 16 && nlen == 16 && wlen == 48, "vector sizes");
	memcpy(in.digest, digest, 32);
	memcpy(in.mnonce, nonce, 16);
	TU_CHECK(attest_measurement_compute(tik, &in, out) == 0, "compute");
	TU_CHECK_MEM(out, want, 32);
	TU_CHECK_MEM(want + 32, nonce, 16);
	free(tik), free(nonce), free(want);
}

static void test_sevctl_cases(void)
{
	size_t n, fwlen, klen, ilen;
	uint8_t *d = b64("xkvRAfyaSizgonxAjZIAkR8TmolUabBKQKb6KJCDDSM=", &n);
	uint8_t *fw = tu_read_vector("sevctl/OVMF.amdsev.fd_trimmed", &fwlen);
	uint8_t *k = tu_read_vector("sevctl/measurement/vmlinuz-fake", &klen);
	uint8_t *i = tu_read_vector("sevctl/measurement/initrd-fake", &ilen);
	uint8_t digest[32], kh[32], ih[32];
	struct attest_digest_input in = { .firmware = fw, .firmware_len = fwlen, .policy = 3 };
	struct attest_verdict v = {};

	TU_CHECK_EQ(n, 32);
	sevctl_case(d, "lswbxWxI9gckya16JQvdFtpYmNO4b+3inAPpqsgoBI7DE/q1EcIWsVBbGy6pkDxA");
	TU_CHECK(attest_launch_digest(&in, digest, &v) == 0, "case 2: %s", v.reason);
	sevctl_case(digest, "oMDewIouJSpbpNRHj7Mk3p08H2dPZQdsZMU14qIymBnDE/q1EcIWsVBbGy6pkDxA");
	sha256(k, klen, kh);
	sha256(i, ilen, ih);
	in.kernel_sha256 = kh;
	in.initrd_sha256 = ih;
	in.cmdline = "foo bar baz fake kernel=cmdline";
	TU_CHECK(attest_launch_digest(&in, digest, &v) == 0, "case 3: %s", v.reason);
	sevctl_case(digest, "h3auYbWQnVW7EGLWN4Hf9SN0oEYMPU2sK4bLnefWPwvDE/q1EcIWsVBbGy6pkDxA");
	free(d), free(fw), free(k), free(i);
}

/* sevctl's SEV-ES case: digest = SHA-256(firmware ‖ vmsa0 ‖ vmsa1 × 3); the blob X is what
 * the platform returned, its nonce feeds the recomputation, which must give X again. */
static void test_sev_es(void)
{
	size_t fwlen, l0, l1, tlen, xlen;
	uint8_t *fw = tu_read_vector("sevctl/OVMF.amdsev.fd_trimmed", &fwlen);
	uint8_t *v0 = tu_read_vector("sevctl/es/vmsa0.bin", &l0);
	uint8_t *v1 = tu_read_vector("sevctl/es/vmsa1.bin", &l1);
	uint8_t *tik = tu_read_vector("sevctl/measurement/tik1.bin", &tlen);
	uint8_t *x = b64("/o0nzDKE5XgtVnUZWPhUea/WZYrTKLExR7KCwuMdbActvpWfXTFk21KMZIAAhQny", &xlen);
	struct attest_digest_input in = { .firmware = fw, .firmware_len = fwlen, .policy = 0x05,
					  .num_cpus = 4, .vmsa_cpu0 = v0, .vmsa_cpu1 = v1,
					  .vmsa_cpu0_len = l0, .vmsa_cpu1_len = l1 };
	struct attest_measure_input m = { ATTEST_MEASURE_CTX, 1, 49, 6, 0x05 };
	struct attest_verdict v = {};
	uint8_t out[32];

	TU_CHECK_EQ(xlen, 48);
	TU_CHECK(attest_launch_digest(&in, m.digest, &v) == 0, "ES digest: %s", v.reason);
	memcpy(m.mnonce, x + 32, 16);
	TU_CHECK(attest_measurement_compute(tik, &m, out) == 0, "compute");
	TU_CHECK_MEM(out, x, 32);
	TU_CHECK(attest_measurement_verify(tik, &m, x) == 1, "verify");
	/* Without VMSAs, or with one CPU fewer, it must not match or must be refused. */
	in.num_cpus = 3;
	TU_CHECK(attest_launch_digest(&in, m.digest, &v) == 0, "3 cpus");
	TU_CHECK(attest_measurement_verify(tik, &m, x) == 0, "3 CPUs must not match");
	in.vmsa_cpu0 = NULL;
	TU_CHECK(attest_launch_digest(&in, m.digest, &v) == -EINVAL && v.reason[0], "no VMSA");
	in.vmsa_cpu0 = v0;
	in.vmsa_cpu0_len = 4095;
	v = (struct attest_verdict){};
	TU_CHECK(attest_launch_digest(&in, m.digest, &v) == -EINVAL && v.reason[0], "short VMSA");
	free(fw), free(v0), free(v1), free(tik), free(x);
}

static void test_launch_digest_vectors(void)
{
	size_t alen, xlen;
	uint8_t *amd = tu_read_vector("launch-digest/ovmf_AmdSev_suffix.bin", &alen);
	uint8_t *x64 = tu_read_vector("launch-digest/ovmf_OvmfX64_suffix.bin", &xlen);
	uint8_t empty[32], out[32], plain[32];
	struct attest_digest_input in = { .firmware = amd, .firmware_len = alen };
	struct attest_verdict v = {};
	uint32_t base = 0, size = 0;

	sha256("", 0, empty);
	TU_CHECK(attest_ovmf_hashes_area(amd, alen, &base, &size) == 0, "AmdSev has an area");
	TU_CHECK(base == 0x810c00 && size == 0x400, "area %#x+%#x", base, size);
	TU_CHECK_EQ(attest_ovmf_hashes_area(x64, xlen, &base, &size), -ENOENT);

	in.kernel_sha256 = empty;
	in.initrd_sha256 = empty;
	in.cmdline = "console=ttyS0 loglevel=7";
	TU_CHECK(attest_launch_digest(&in, out, &v) == 0, "AmdSev: %s", v.reason);
	check_hex(out, 32, "82a3ee5d537c3620628270c292ae30cb40c3c878666a7890ee7ef2a08fb535ff");
	in.initrd_sha256 = NULL;
	in.cmdline = NULL;
	TU_CHECK(attest_launch_digest(&in, out, &v) == 0, "kernel only: %s", v.reason);
	check_hex(out, 32, "77f613d7bbcdf12a73782ea9e88b0172aeda50d1a54201cb903594ff52846898");

	in.firmware = x64;
	in.firmware_len = xlen;
	in.kernel_sha256 = NULL;
	TU_CHECK(attest_launch_digest(&in, out, &v) == 0, "OvmfX64 plain");
	sha256(x64, xlen, plain);
	TU_CHECK_MEM(out, plain, 32);
	in.kernel_sha256 = empty;
	TU_CHECK(attest_launch_digest(&in, out, &v) == -ENOENT, "OvmfX64 with a kernel");
	TU_CHECK(strstr(v.reason, "hashes table"), "reason names the table: %s", v.reason);
	in.kernel_sha256 = NULL;
	in.cmdline = "x";
	TU_CHECK(attest_launch_digest(&in, out, &v) == -EINVAL, "cmdline without kernel");
	free(amd), free(x64);
}

/* The footer walk must survive any image: truncations and a corrupted length. */
static void test_footer_robust(void)
{
	size_t alen;
	uint8_t *amd = tu_read_vector("launch-digest/ovmf_AmdSev_suffix.bin", &alen);
	uint32_t base, size;

	for (size_t cut = 0; cut <= 0x100; cut++) {
		int r = attest_ovmf_hashes_area(amd + cut, alen - cut, &base, &size);
		TU_CHECK(r == 0, "leading bytes do not matter (cut %zu): %d", cut, r);
	}
	for (size_t len = 0; len < 0x60; len++)
		TU_CHECK(attest_ovmf_hashes_area(amd, len, &base, &size) < 0, "tiny image %zu", len);
	amd[alen - 0x32] = 0xff; /* a table length beyond the image start */
	amd[alen - 0x31] = 0xff;
	TU_CHECK_EQ(attest_ovmf_hashes_area(amd, alen, &base, &size), -EBADMSG);
	amd[alen - 0x32] = 0x13; /* a table length that cuts an entry in half */
	amd[alen - 0x31] = 0x00;
	TU_CHECK_EQ(attest_ovmf_hashes_area(amd, alen, &base, &size), -EBADMSG);
	free(amd);
}

int main(void)
{
	test_sev_tool_cases();
	test_api_boundary();
	test_sevctl_cases();
	test_sev_es();
	test_launch_digest_vectors();
	test_footer_robust();
	tu_done("test-measurement");
}
