/* libFuzzer target: OVMF's SEV-ES reset block and SEV metadata (attest/ovmf.h) and the SEV-SNP
 * launch digest over them (attest/snp-measure.h) on untrusted firmware images: bounded reads
 * only; a parsed image has at most ATTEST_OVMF_SECTIONS_MAX sections, each non-empty,
 * page-aligned and below 4 GiB; every refusal says why; a digest is computed only for an image
 * whose metadata parsed. */
#include <errno.h>
#include <stdlib.h>

#include "attest/ovmf.h"
#include "attest/snp-measure.h"

static void check_sections(const struct attest_ovmf *o)
{
	uint64_t total = 0;

	if (o->n_sections > ATTEST_OVMF_SECTIONS_MAX || (o->n_sections && !o->has_metadata))
		abort();
	for (size_t i = 0; i < o->n_sections; i++) {
		const struct attest_ovmf_section *s = &o->sections[i];
		if (s->size == 0 || (s->gpa & 0xfff) || (s->size & 0xfff) ||
		    (uint64_t)s->gpa + s->size > (1ull << 32))
			abort();
		total += s->size;
	}
	if (total > ATTEST_OVMF_SECTIONS_BYTES_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t kernel[32] = { 1 };
	struct attest_ovmf o;
	struct attest_verdict v = {};
	uint8_t d[ATTEST_SNP_DIGEST_SIZE];
	int r = attest_ovmf_parse(data, size, &o, &v);

	if (r < 0 && (r != -EBADMSG || !v.reason[0]))
		abort();
	if (r == 0)
		check_sections(&o);
	/* The digest of the image (whole pages only), with a kernel on odd-sized inputs. */
	struct attest_snp_input in = { .firmware = data, .firmware_len = size & ~(size_t)0xfff,
				       .kernel_sha256 = (size & 1) ? kernel : NULL,
				       .vcpus = 1 + (size & 2) / 2,
				       .vmsa = { .cpu_sig = 0x00a00f11, .sev_features = 1 } };
	r = attest_ovmf_parse(data, in.firmware_len, &o, NULL);
	v = (struct attest_verdict){};
	int s = attest_snp_launch_digest(&in, d, &v);
	if (s < 0 && s != -ENOMEM && s != -EIO && !v.reason[0])
		abort(); /* every refusal says why */
	if (s == 0 && (r < 0 || !o.has_metadata || in.firmware_len == 0))
		abort(); /* a digest only for a page-sized image whose metadata parsed */
	return 0;
}
