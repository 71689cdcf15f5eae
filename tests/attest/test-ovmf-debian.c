/* Real firmware: Debian's ovmf package (scripts/deps test installs it). SEV, SEV-ES and SEV-SNP
 * launch digests of /usr/share/ovmf/OVMF.fd and /usr/share/OVMF/OVMF_CODE.fd for several vCPU
 * counts, types, VMMs and guest features against tests/attest/ovmf-debian.tsv (its header
 * says where the answers come from), the SNP ones also through the real sevadm; then the
 * refusals, each naming the section: a kernel (no SEV hashes table, no KERNEL_HASHES), an image
 * without SEV metadata (OVMF_CODE_4M.fd), truncated and damaged copies. Skips (77) when the
 * package is not installed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "attest/guid.h"
#include "attest/measurement.h"
#include "attest/ovmf.h"
#include "attest/snp-measure.h"
#include "attest/vmsa.h"
#include "common/macros.h"
#include "launch-util.h"

#define FD "/usr/share/ovmf/OVMF.fd"
#define CODE "/usr/share/OVMF/OVMF_CODE.fd"
#define CODE_4M "/usr/share/OVMF/OVMF_CODE_4M.fd"

struct image {
	const char *name, *path;
	uint8_t *data;
	size_t len;
	bool same; /* the file the answers were computed for (its "sev" row matches) */
};

static struct image images[] = { { "FD", FD }, { "CODE", CODE } };

static struct image *image_by_name(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(images); i++)
		if (strcmp(images[i].name, name) == 0)
			return &images[i];
	return NULL;
}

static void hex_of(const uint8_t *d, size_t n, char *out)
{
	char *h = hex_encode(d, n);
	TU_CHECK(h != NULL, "hex");
	snprintf(out, 2 * n + 1, "%s", h ? h : "");
	free(h);
}

/* SEV-ES: firmware ‖ VMSA(CPU 0) ‖ VMSA(AP) × (n - 1), VMSAs generated. */
static int es_digest(const struct image *im, unsigned n, uint32_t sig, uint8_t out[32])
{
	struct attest_vmsa_params p = { .eip = ATTEST_VMSA_BSP_EIP, .cpu_sig = sig };
	struct attest_ovmf o;
	uint8_t v0[4096], v1[4096];
	struct attest_digest_input in = { .firmware = im->data, .firmware_len = im->len,
					  .policy = 0x4, .num_cpus = n, .vmsa_cpu0 = v0,
					  .vmsa_cpu1 = v1, .vmsa_cpu0_len = 4096,
					  .vmsa_cpu1_len = 4096 };

	TU_CHECK(attest_ovmf_parse(im->data, im->len, &o, NULL) == 0 && o.has_reset_eip,
		 "%s: SEV-ES reset block", im->path);
	attest_vmsa_build(&p, v0);
	p.eip = o.reset_eip;
	attest_vmsa_build(&p, v1);
	return attest_launch_digest(&in, out, NULL);
}

/* The same SNP digest through sevadm, as a user runs it. */
static void snp_cli(const struct image *im, const char *n, const char *type, const char *vmm,
		    const char *gf, const char *want)
{
	char *argv[16] = { (char *)tu_exe("SEVADM_EXE"), "measurement", "build", "--snp",
			   "--firmware", (char *)im->path, "--vcpus", (char *)n, "--vmm-type",
			   (char *)vmm, "--guest-features", (char *)gf };
	char *out = NULL;
	size_t len;
	int k = 12;

	if (strcmp(type, "-") != 0)
		argv[k++] = "--vcpu-type", argv[k++] = (char *)type;
	TU_CHECK_EQ(tu_run(argv, &out, &len), 0);
	TU_CHECK(out && len == 97 && strncmp(out, want, 96) == 0, "sevadm printed %s, expected %s",
		 out ? out : "", want);
	free(out);
}

static void run_row(char *line, int *compared)
{
	char img[8], mode[8], type[16], vmm[8], want[97], got[97];
	unsigned n, gf;
	uint8_t d[48];
	uint32_t sig = 0;
	enum attest_vmm v = ATTEST_VMM_QEMU;
	struct image *im;

	if (line[0] == '#' || sscanf(line, "%7s %7s %u %15s %7s %x %96s", img, mode, &n, type, vmm,
				     &gf, want) != 7)
		return;
	TU_CHECK((im = image_by_name(img)) != NULL, "image %s", img);
	if (!im || !im->same)
		return;
	if (strcmp(type, "-") != 0)
		TU_CHECK(attest_vcpu_type_sig(type, &sig) == 0, "type %s", type);
	TU_CHECK(attest_vmm_parse(vmm, &v) == 0, "vmm %s", vmm);
	if (strcmp(mode, "sev") == 0) {
		struct attest_digest_input in = { .firmware = im->data, .firmware_len = im->len };
		TU_CHECK(attest_launch_digest(&in, d, NULL) == 0, "SEV digest");
		hex_of(d, 32, got);
	} else if (strcmp(mode, "seves") == 0) {
		TU_CHECK(es_digest(im, n, sig, d) == 0, "SEV-ES digest");
		hex_of(d, 32, got);
	} else {
		struct attest_snp_input in = { .firmware = im->data, .firmware_len = im->len,
					       .vcpus = n, .vmsa = { .cpu_sig = sig,
								     .sev_features = gf, .vmm = v } };
		struct attest_verdict why = {};
		TU_CHECK(attest_snp_launch_digest(&in, d, &why) == 0, "SNP digest: %s", why.reason);
		hex_of(d, 48, got);
		if (n == 4 || v != ATTEST_VMM_QEMU) {
			char ns[8], gfs[12];
			snprintf(ns, sizeof ns, "%u", n), snprintf(gfs, sizeof gfs, "0x%x", gf);
			snp_cli(im, ns, type, vmm, gfs, want);
		}
	}
	TU_CHECK(strcmp(got, want) == 0, "%s %s %u %s %s %x: got %s, expected %s", img, mode, n,
		 type, vmm, gf, got, want);
	(*compared)++;
}

static void test_known_answers(void)
{
	size_t len;
	char path[1024], *text;
	int compared = 0;

	snprintf(path, sizeof path, "%s/tests/attest/ovmf-debian.tsv",
		 tu_exe("SEVD_SOURCE_ROOT"));
	text = (char *)tu_read_file(path, &len);
	TU_CHECK(text != NULL, "read %s", path);
	for (size_t i = 0; i < ELEMENTSOF(images); i++) {
		char want[80], got[65], *row;
		uint8_t h[32];

		snprintf(want, sizeof want, "%s sev 0 - QEMU 0x0 ", images[i].name);
		row = strstr(text, want);
		TU_CHECK(row != NULL, "sev row of %s", images[i].name);
		TU_CHECK(EVP_Digest(images[i].data, images[i].len, h, NULL, EVP_sha256(), NULL),
			 "sha256");
		hex_of(h, 32, got);
		images[i].same = row && strncmp(row + strlen(want), got, 64) == 0;
		if (!images[i].same)
			printf("note: %s is not the file of ovmf-debian.tsv (sha256 %s): its known "
			       "answers are not compared\n", images[i].path, got);
	}
	char *copy = strndup(text, len);
	for (char *l = strtok(copy, "\n"); l; l = strtok(NULL, "\n"))
		run_row(l, &compared);
	printf("%d known answers compared\n", compared);
	free(copy), free(text);
}

static void expect_snp_refusal(const uint8_t *fw, size_t len, bool kernel, int want_r,
			       const char *want_text, const char *what)
{
	static const uint8_t k[32] = { 1 };
	struct attest_snp_input in = { .firmware = fw, .firmware_len = len, .vcpus = 2,
				       .kernel_sha256 = kernel ? k : NULL };
	struct attest_verdict why = {};
	uint8_t d[48];

	TU_CHECK_EQ(attest_snp_launch_digest(&in, d, &why), want_r);
	TU_CHECK(strstr(why.reason, want_text), "%s: the reason names %s: %s", what, want_text,
		 attest_verdict_why(&why, "(none)"));
}

static void test_refusals(void)
{
	static const uint8_t k[32] = { 1 };
	const struct image *im = &images[0];
	struct attest_digest_input sev = { .firmware = im->data, .firmware_len = im->len,
					   .kernel_sha256 = k };
	struct attest_verdict why = {};
	uint8_t d[48], *copy, *data4m;
	size_t len4m;

	/* A kernel: Debian's OVMF has the SEV hashes descriptor but zero (no slot) and no
	 * KERNEL_HASHES section. */
	TU_CHECK_EQ(attest_launch_digest(&sev, d, &why), -ENOENT);
	TU_CHECK(strstr(why.reason, "7255371f"), "SEV kernel refusal names the table: %s",
		 why.reason);
	expect_snp_refusal(im->data, im->len, true, -ENOENT, "KERNEL_HASHES", "SNP kernel");
	/* Truncated: half the image has no footer, hence no SEV metadata; a partial page. */
	expect_snp_refusal(im->data, im->len / 2, false, -ENOENT, "SEV metadata", "half image");
	expect_snp_refusal(im->data, im->len - 100, false, -EINVAL, "4 KiB pages", "partial page");
	/* No SEV metadata at all: OVMF_CODE_4M.fd. */
	data4m = tu_read_file(CODE_4M, &len4m);
	if (data4m)
		expect_snp_refusal(data4m, len4m, false, -ENOENT, "SEV metadata", CODE_4M);
	free(data4m);
	/* Damaged copies: the footer table's length, the metadata header, a section's type. */
	copy = malloc(im->len);
	TU_CHECK(copy != NULL, "malloc");
	memcpy(copy, im->data, im->len);
	put_le16(copy + im->len - 0x20 - 18, 5); /* shorter than its own header */
	expect_snp_refusal(copy, im->len, false, -EBADMSG, "footer GUID table", "footer length");
	memcpy(copy, im->data, im->len);
	uint8_t guid[16];
	const uint8_t *e;
	size_t elen;
	TU_CHECK(attest_guid_parse("dc886566-984a-4798-a75e-5585a7bf67cc", guid) == 0 &&
		 attest_ovmf_footer_find(copy, im->len, guid, &e, &elen) == 0, "metadata entry");
	uint8_t *h = copy + im->len - get_le32(e);
	h[3] ^= 0x20;
	expect_snp_refusal(copy, im->len, false, -EBADMSG, "ASEV", "metadata signature");
	h[3] ^= 0x20;
	put_le32(h + 16 + 8, 0x77);
	expect_snp_refusal(copy, im->len, false, -EBADMSG, "unknown type", "section type");
	put_le32(h + 16 + 8, ATTEST_OVMF_SNP_SEC_MEMORY);
	put_le32(h + 16 + 4, 0x123);
	expect_snp_refusal(copy, im->len, false, -EBADMSG, "SNP_SEC_MEMORY", "section size");
	free(copy);
}

int main(void)
{
	for (size_t i = 0; i < ELEMENTSOF(images); i++) {
		if (access(images[i].path, R_OK) != 0) {
			printf("SKIP: %s is missing: install Debian's ovmf package (scripts/deps "
			       "test)\n", images[i].path);
			return 77;
		}
		images[i].data = tu_read_file(images[i].path, &images[i].len);
		TU_CHECK(images[i].data != NULL, "read %s", images[i].path);
	}
	test_known_answers();
	test_refusals();
	for (size_t i = 0; i < ELEMENTSOF(images); i++)
		free(images[i].data);
	tu_done("test-ovmf-debian");
}
