/* SEV-SNP launch digests and VMSA pages against known answers.
 * - SNP and SEV-ES digests of the launch-digest images: the expected values are those of
 *   virtee/sev-snp-measure's own unit tests (tests/test_guest.py at commit 8f2b337, the same
 *   fixture files), for 1 and 4 vCPUs, guest features 0x1 and 0x21, QEMU, EC2 and GCE,
 *   with and without a kernel; OvmfX64 has no KERNEL_HASHES section and must refuse one.
 * - VMSA pages: sevctl's `vmsa build --cpu 0|1 --family 25 --model 1 --stepping 1
 *   --userspace qemu --firmware OVMF.amdsev.fd_trimmed` (virtee/sevctl tests/vmsabuild.rs),
 *   i.e. EPYC-Milan with the x87 state zero, byte for byte.
 * - The OVMF metadata parser on damaged copies: each refusal names the part. */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "attest/guid.h"
#include "attest/measurement.h"
#include "attest/ovmf.h"
#include "attest/snp-measure.h"
#include "attest/vmsa.h"
#include "common/macros.h"
#include "launch-util.h"

static const uint8_t *empty_sha256(void)
{
	static uint8_t h[32];
	TU_CHECK(EVP_Digest("", 0, h, NULL, EVP_sha256(), NULL) == 1, "sha256");
	return h;
}

struct snp_case {
	const char *fw;
	unsigned vcpus;
	bool kernel;
	const char *cmdline;
	uint64_t features;
	enum attest_vmm vmm;
	const char *want;
};

static void run_snp_case(const struct snp_case *c)
{
	size_t len;
	uint8_t *fw = tu_read_vector(c->fw, &len), d[48];
	struct attest_snp_input in = { .firmware = fw, .firmware_len = len, .vcpus = c->vcpus,
				       .cmdline = c->cmdline };
	struct attest_verdict v = {};
	int r;

	TU_CHECK(attest_vcpu_type_sig("EPYC-v4", &in.vmsa.cpu_sig) == 0, "EPYC-v4 known");
	in.vmsa.sev_features = c->features;
	in.vmsa.vmm = c->vmm;
	if (c->kernel)
		in.kernel_sha256 = empty_sha256(), in.initrd_sha256 = empty_sha256();
	r = attest_snp_launch_digest(&in, d, &v);
	TU_CHECK(r == 0, "%s %u vCPUs: %s", c->fw, c->vcpus, attest_verdict_why(&v, "?"));
	if (r == 0)
		check_hex(d, sizeof d, c->want);
	free(fw);
}

#define AMD "launch-digest/ovmf_AmdSev_suffix.bin"
#define X64 "launch-digest/ovmf_OvmfX64_suffix.bin"
#define CON "console=ttyS0 loglevel=7"

static void test_snp_known_answers(void)
{
	static const struct snp_case cases[] = {
		{ AMD, 1, true, CON, 0x21, ATTEST_VMM_QEMU,
		  "803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb2"
		  "8c653360fe4b3aba7e534442e7e1e17895dfe778d0228977" },
		{ AMD, 1, true, CON, 0x1, ATTEST_VMM_QEMU,
		  "6d287813eb5222d770f75005c664e34c204f385ce832cc2c"
		  "e7d0d6f354454362f390ef83a92046c042e706363b4b08fa" },
		{ AMD, 1, false, NULL, 0x21, ATTEST_VMM_QEMU,
		  "e1e1ca029dd7973ab9513295be68198472dcd4fc834bd9af"
		  "9b63f6e8a1674dbf281a9278a4a2ebe0eed9f22adbcd0e2b" },
		{ AMD, 1, false, NULL, 0x1, ATTEST_VMM_QEMU,
		  "19358ba9a7615534a9a1e2f0dfc29384dcd4dcb7062ff9c6"
		  "013b26869a5fc6ecabe033c48dd6f6db5d6d76e7c5df632d" },
		{ AMD, 4, true, NULL, 0x21, ATTEST_VMM_QEMU,
		  "4953b1fb416fa874980e8442b3706d345926d5f38879134e"
		  "00813c5d7abcbe78eafe7b422907be0b4698e2414a631942" },
		{ AMD, 4, true, "", 0x1, ATTEST_VMM_QEMU,
		  "5061fffb019493a903613d56d54b94912a1a2f9e4502385f"
		  "5c194616753720a92441310ba6c4933de877c36e23046ad5" },
		{ X64, 1, false, NULL, 0x21, ATTEST_VMM_QEMU,
		  "28797ae0afaba4005a81e629acebfb59e6687949d6be4400"
		  "7cd5506823b0dd66f146aaae26ff291eed7b493d8a64c385" },
		{ X64, 1, false, NULL, 0x1, ATTEST_VMM_QEMU,
		  "da0296de8193586a5512078dcd719eccecbd87e2b825ad41"
		  "48c44f665dc87df21e5b49e21523a9ad993afdb6a30b4005" },
		{ AMD, 1, true, NULL, 0x21, ATTEST_VMM_EC2,
		  "0ce9ccc06bab55eebe8abc234f3df6514883977a68a591b7"
		  "1052498ab52b2f1aa415db338033946ef93aa8278c0d67fb" },
		{ AMD, 1, true, NULL, 0x1, ATTEST_VMM_EC2,
		  "0883bd0eeb716e65b7b977a321c278d1e51b33b5c655fab9"
		  "85443bbcc65c086b9c15e8a0bd8811050dec7e24964e5056" },
		{ AMD, 1, true, NULL, 0x1, ATTEST_VMM_GCE,
		  "5da7106cf14cf46b1725ebab123eb9e53bd46a1e9f400cd0"
		  "c08e7827b04b688ea8b4e403c8404efed4397ea5d5d0722e" },
		{ AMD, 4, true, NULL, 0x1, ATTEST_VMM_GCE,
		  "5c5debf100fc339f90276e761ee1f1658d08922c3b20e2a2"
		  "e6c7a6c3370b2452a15a00eae11886a93d6fd1e7ab81e29d" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		run_snp_case(&cases[i]);
}

static void test_snp_refusals(void)
{
	size_t len;
	uint8_t *fw = tu_read_vector(X64, &len), d[48];
	struct attest_snp_input in = { .firmware = fw, .firmware_len = len, .vcpus = 1,
				       .kernel_sha256 = empty_sha256() };
	struct attest_verdict v = {};

	TU_CHECK(attest_snp_launch_digest(&in, d, &v) == -ENOENT, "OvmfX64 + kernel refused");
	TU_CHECK(strstr(v.reason, "KERNEL_HASHES"), "names the section: %s", v.reason);
	in.kernel_sha256 = NULL;
	in.firmware_len = len - 1;
	TU_CHECK(attest_snp_launch_digest(&in, d, &v) == -EINVAL, "partial page refused");
	in.firmware_len = len;
	in.vcpus = 0;
	TU_CHECK(attest_snp_launch_digest(&in, d, &v) == -EINVAL, "0 vCPUs refused");
	free(fw);
}

/* SEV-ES: SHA-256 of firmware ‖ hashes table ‖ the generated VMSAs (sev_features 0). */
static void es_case(unsigned vcpus, const char *want)
{
	size_t len;
	uint8_t *fw = tu_read_vector(AMD, &len), d[32], v0[4096], v1[4096];
	struct attest_vmsa_params p = { .eip = ATTEST_VMSA_BSP_EIP };
	struct attest_ovmf o;
	struct attest_digest_input in = { .firmware = fw, .firmware_len = len,
					  .kernel_sha256 = empty_sha256(),
					  .initrd_sha256 = empty_sha256(), .policy = 0x4,
					  .num_cpus = vcpus, .vmsa_cpu0 = v0, .vmsa_cpu1 = v1,
					  .vmsa_cpu0_len = 4096, .vmsa_cpu1_len = 4096 };

	TU_CHECK(attest_ovmf_parse(fw, len, &o, NULL) == 0 && o.has_reset_eip, "reset block");
	TU_CHECK(attest_vcpu_type_sig("EPYC-v4", &p.cpu_sig) == 0, "EPYC-v4");
	attest_vmsa_build(&p, v0);
	p.eip = o.reset_eip;
	attest_vmsa_build(&p, v1);
	TU_CHECK(attest_launch_digest(&in, d, NULL) == 0, "SEV-ES digest");
	check_hex(d, sizeof d, want);
	free(fw);
}

static void test_es_known_answers(void)
{
	es_case(1, "13810ae661ea11e2bb205621f582fee268f0367c8f97bc297b7fadef3e12002c");
	es_case(4, "0dccbcaba8e90b261bd0d2e1863a2f9da714768b7b2a19363cd6ae35aa90de91");
}

/* sevctl's VMSAs: EPYC-Milan (family 25 model 1 stepping 1), x87 state left zero. */
static void test_vmsa_sevctl(void)
{
	size_t fl, l0, l1;
	uint8_t *fw = tu_read_vector("sevctl/OVMF.amdsev.fd_trimmed", &fl);
	uint8_t *w0 = tu_read_vector("sevctl/es/vmsa0.bin", &l0);
	uint8_t *w1 = tu_read_vector("sevctl/es/vmsa1.bin", &l1);
	struct attest_vmsa_params p = { .eip = ATTEST_VMSA_BSP_EIP, .zero_x87 = true };
	uint8_t v[4096];
	struct attest_ovmf o;
	uint32_t sig;

	TU_CHECK(attest_vcpu_type_sig("EPYC-Milan", &sig) == 0, "EPYC-Milan");
	TU_CHECK_EQ(sig, attest_cpu_sig(25, 1, 1));
	TU_CHECK_EQ(sig, 0x00a00f11u);
	p.cpu_sig = sig;
	attest_vmsa_build(&p, v);
	TU_CHECK(l0 == 4096 && memcmp(v, w0, 4096) == 0, "vmsa0.bin byte for byte");
	TU_CHECK(attest_ovmf_parse(fw, fl, &o, NULL) == 0 && o.has_reset_eip, "reset block");
	TU_CHECK_EQ(o.reset_eip, 0x80b004u);
	p.eip = o.reset_eip;
	attest_vmsa_build(&p, v);
	TU_CHECK(l1 == 4096 && memcmp(v, w1, 4096) == 0, "vmsa1.bin byte for byte");
	p.zero_x87 = false;
	attest_vmsa_build(&p, v);
	TU_CHECK(memcmp(v, w1, 4096) != 0, "with x87 reset values the page differs");
	free(fw), free(w0), free(w1);
}

static void test_vcpu_types(void)
{
	uint32_t s = 0;

	TU_CHECK(attest_vcpu_type_sig("EPYC", &s) == 0 && s == attest_cpu_sig(23, 1, 2), "EPYC");
	TU_CHECK(attest_vcpu_type_sig("EPYC-Rome-v3", &s) == 0 && s == 0x00830f10u, "Rome");
	TU_CHECK(attest_vcpu_type_sig("EPYC-Genoa", &s) == 0 && s == 0x00a10f10u, "Genoa");
	TU_CHECK(attest_vcpu_type_sig("EPYC-Turin", &s) == 0 && s == 0x00b00f00u, "Turin");
	TU_CHECK(attest_vcpu_type_sig("EPYC-Romex", &s) == -ENOENT, "EPYC-Romex unknown");
	TU_CHECK(attest_vcpu_type_sig("EPYC-v", &s) == -ENOENT, "EPYC-v unknown");
	TU_CHECK(attest_vcpu_type_sig("Skylake", &s) == -ENOENT, "Skylake unknown");
}

/* Damaged copies of the AmdSev image: the SEV metadata header, a section, the footer. */
static void test_metadata_damage(void)
{
	size_t len;
	uint8_t *fw = tu_read_vector(AMD, &len);
	struct attest_ovmf o;
	struct attest_verdict v = {};
	uint8_t guid[16];
	const uint8_t *e;
	size_t elen;
	uint32_t off;
	uint8_t *h;
	size_t n;

	TU_CHECK(attest_ovmf_parse(fw, len, &o, &v) == 0 && o.has_metadata, "parses");
	n = o.n_sections;
	TU_CHECK(n >= 4, "sections: %zu", n);
	TU_CHECK(attest_guid_parse("dc886566-984a-4798-a75e-5585a7bf67cc", guid) == 0, "guid");
	TU_CHECK(attest_ovmf_footer_find(fw, len, guid, &e, &elen) == 0, "metadata entry");
	off = get_le32(e);
	h = fw + len - off;
	h[0] ^= 1; /* "ASEV" */
	TU_CHECK(attest_ovmf_parse(fw, len, &o, &v) == -EBADMSG, "bad signature refused");
	TU_CHECK(strstr(v.reason, "ASEV"), "names the header: %s", v.reason);
	h[0] ^= 1;
	put_le32(h + 12, 1000); /* item count */
	v = (struct attest_verdict){};
	TU_CHECK(attest_ovmf_parse(fw, len, &o, &v) == -EBADMSG, "huge count refused");
	TU_CHECK(strstr(v.reason, "SEV metadata"), "names it: %s", v.reason);
	put_le32(h + 12, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		if (get_le32(h + 16 + i * 12 + 8) == ATTEST_OVMF_SNP_SECRETS)
			put_le32(h + 16 + i * 12, get_le32(h + 16 + i * 12) + 1);
	v = (struct attest_verdict){};
	TU_CHECK(attest_ovmf_parse(fw, len, &o, &v) == -EBADMSG, "misaligned refused");
	TU_CHECK(strstr(v.reason, "SNP_SECRETS"), "names SNP_SECRETS: %s", v.reason);
	free(fw);
}

/* A synthetic COCONUT-SVSM image (16 KiB, deterministic filler): footer entries SVSM info
 * (entry point at offset 0x1000), SEV-ES reset block, SEV metadata at 0x100 with
 * SNP_SEC_MEMORY 0x0+0x2000, SNP_SECRETS 0x2000, CPUID 0x3000. */
static size_t svsm_footer_put(uint8_t *img, size_t off, const char *guid_s, uint32_t v)
{
	uint8_t guid[16];

	TU_CHECK(attest_guid_parse(guid_s, guid) == 0, "guid");
	memcpy(img + (off -= 16), guid, 16);
	put_le16(img + (off -= 2), 22);
	put_le32(img + (off -= 4), v);
	return off;
}

static void svsm_image(uint8_t img[16384])
{
	static const uint32_t sec[][3] = { { 0, 0x2000, 1 }, { 0x2000, 0x1000, 2 },
					   { 0x3000, 0x1000, 3 } };
	size_t end = 16384 - 0x20, off = end - 18;
	uint8_t *h = img + 0x100, footer[16];

	for (size_t i = 0; i < 16384; i++)
		img[i] = (uint8_t)(i * 7 + (i >> 12));
	memset(img + 0x100, 0, 0x100);
	memset(img + 16384 - 0x200, 0, 0x200);
	memcpy(h, "ASEV", 4);
	put_le32(h + 4, 16 + 3 * 12);
	put_le32(h + 8, 1);
	put_le32(h + 12, 3);
	for (size_t i = 0; i < 3; i++)
		for (size_t j = 0; j < 3; j++)
			put_le32(h + 16 + i * 12 + j * 4, sec[i][j]);
	off = svsm_footer_put(img, off, "dc886566-984a-4798-a75e-5585a7bf67cc", 16384 - 0x100);
	off = svsm_footer_put(img, off, "00f771de-1a7e-4fcb-890e-68c77e2fb44e", 0xfffffff0);
	off = svsm_footer_put(img, off, "a789a612-0597-4c4b-a49f-cbb1fe9d1ddd", 0x1000);
	TU_CHECK(attest_guid_parse("96b582de-1fb2-45f7-baea-a366c55a082d", footer) == 0, "guid");
	memcpy(img + end - 16, footer, 16);
	put_le16(img + end - 18, (uint16_t)(end - off));
}

/* SVSM mode. The expected digests are virtee/sev-snp-measure's (8f2b337) for this image,
 * written out once with TEST_SNP_MEASURE_DUMP=FILE and measured by `sev-snp-measure.py
 * --mode snp:svsm --ovmf ovmf_AmdSev_suffix.bin --svsm FILE --vars-size 8192 --vcpus N
 * --vcpu-type EPYC-Milan`. (sevadm also gives that tool's two known answers for its own
 * svsm.bin/svsm_ovmf.fd fixtures, which are not among the vectors.) */
static void test_svsm(void)
{
	static const char *const want[] = {
		NULL,
		"de9191c1bed6a23f8a37702c47bb417fd059337cf1166d160368a8266215f52e"
		"39e4539db50161cf3f5d0e8a2496960e",
		"f5d7e95cd1b177bd644fa7a2961e12c51ae0a58428676b0fa20d2b3acf085df3"
		"f39b3b31f9b121a0f23fbcf4c5f23381",
	};
	static uint8_t img[16384];
	size_t len;
	uint8_t *fw = tu_read_vector(AMD, &len), d[48];
	struct attest_snp_input in = { .firmware = fw, .firmware_len = len, .svsm = img,
				       .svsm_len = sizeof img, .vars_size = 8192,
				       .vmsa = { .sev_features = 1 } };
	const char *dump = getenv("TEST_SNP_MEASURE_DUMP");
	struct attest_verdict why = {};

	svsm_image(img);
	if (dump)
		TU_CHECK(write_file_atomic(dump, img, sizeof img, 0644) == 0, "dump");
	TU_CHECK(attest_vcpu_type_sig("EPYC-Milan", &in.vmsa.cpu_sig) == 0, "Milan");
	for (unsigned n = 1; n <= 2; n++) {
		in.vcpus = n;
		TU_CHECK(attest_snp_launch_digest(&in, d, &why) == 0, "SVSM digest: %s", why.reason);
		check_hex(d, sizeof d, want[n]);
	}
	/* A kernel, a variable store that is not whole pages, an image without the info entry. */
	in.kernel_sha256 = empty_sha256();
	TU_CHECK(attest_snp_launch_digest(&in, d, &why) == -EINVAL, "SVSM with a kernel");
	in.kernel_sha256 = NULL;
	in.vars_size = 100;
	why = (struct attest_verdict){};
	TU_CHECK(attest_snp_launch_digest(&in, d, &why) == -EINVAL, "vars size");
	TU_CHECK(strstr(why.reason, "variable store"), "names it: %s", why.reason);
	in.vars_size = 8192;
	img[16384 - 0x20 - 18 - 22 * 2 - 1] ^= 0xff; /* the SVSM info entry's GUID */
	why = (struct attest_verdict){};
	TU_CHECK(attest_snp_launch_digest(&in, d, &why) == -ENOENT, "no SVSM info entry");
	TU_CHECK(strstr(why.reason, "a789a612"), "names the entry: %s", why.reason);
	free(fw);
}

int main(void)
{
	test_snp_known_answers();
	test_snp_refusals();
	test_es_known_answers();
	test_vmsa_sevctl();
	test_vcpu_types();
	test_metadata_damage();
	test_svsm();
	tu_done("test-snp-measure");
}
