/* SNP launch digest (SNP ABI 56860 §8.17.2 PAGE_INFO; the sequence of pages as QEMU's
 * sev_snp_launch_update / snp_populate_metadata_pages issues them; the EC2 and GCE variants
 * as virtee/sev-snp-measure documents them). */
#include "attest/snp-measure.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "attest/measurement.h"
#include "attest/ovmf.h"
#include "common/util.h"

#define PAGE 4096u
#define PAGE_INFO_SIZE 0x70u

int attest_snp_page_info(uint8_t digest[ATTEST_SNP_DIGEST_SIZE], uint8_t type, uint64_t gpa,
			 const uint8_t contents[ATTEST_SNP_DIGEST_SIZE])
{
	uint8_t pi[PAGE_INFO_SIZE] = {};

	/* digest_cur[48] ‖ contents[48] ‖ length u16 ‖ page_type ‖ imi_page ‖ vmpl3_perms ‖
	 * vmpl2_perms ‖ vmpl1_perms ‖ reserved ‖ gpa u64 */
	memcpy(pi, digest, ATTEST_SNP_DIGEST_SIZE);
	memcpy(pi + 48, contents, ATTEST_SNP_DIGEST_SIZE);
	put_le16(pi + 96, PAGE_INFO_SIZE);
	pi[98] = type;
	put_le64(pi + 104, gpa);
	return EVP_Digest(pi, sizeof pi, digest, NULL, EVP_sha384(), NULL) == 1 ? 0 : -EIO;
}

int attest_snp_page_update(uint8_t digest[ATTEST_SNP_DIGEST_SIZE], uint8_t type, uint64_t gpa,
			   const uint8_t page[PAGE])
{
	uint8_t h[ATTEST_SNP_DIGEST_SIZE];

	if (EVP_Digest(page, PAGE, h, NULL, EVP_sha384(), NULL) != 1)
		return -EIO;
	return attest_snp_page_info(digest, type, gpa, h);
}

/* `size` bytes from gpa, each page of one type with zero contents. */
static int update_empty(uint8_t *d, uint8_t type, uint32_t gpa, uint32_t size)
{
	static const uint8_t zero[ATTEST_SNP_DIGEST_SIZE];
	int r = 0;

	for (uint64_t off = 0; r == 0 && off < size; off += PAGE)
		r = attest_snp_page_info(d, type, gpa + off, zero);
	return r;
}

/* The KERNEL_HASHES section: with a kernel, one page holding the padded SEV hashes table at
 * the offset the footer's descriptor gives; without one, zero pages. */
static int update_hashes(uint8_t *d, const struct attest_snp_input *in, const struct attest_ovmf *o,
			 const struct attest_ovmf_section *s, struct attest_verdict *v)
{
	uint8_t page[PAGE] = {}, *table;
	uint32_t off = o->hashes_gpa & (PAGE - 1);
	int r;

	if (!in->kernel_sha256)
		return update_empty(d, ATTEST_SNP_PAGE_ZERO, s->gpa, s->size);
	if (s->size != PAGE || o->hashes_gpa == 0 || off + ATTEST_SEV_HASHES_TABLE_SIZE > PAGE)
		return attest_verdict_reject(v, "the SEV metadata section KERNEL_HASHES is not one "
					     "page holding the SEV hashes table its footer descriptor "
					     "(7255371f-3a3b-4b04-927b-1da6efa8d454) places", -EBADMSG);
	table = page + off;
	r = attest_sev_hashes_table(in->kernel_sha256, in->initrd_sha256, in->cmdline, table);
	return r < 0 ? r : attest_snp_page_update(d, ATTEST_SNP_PAGE_NORMAL, s->gpa, page);
}

static int update_section(uint8_t *d, const struct attest_snp_input *in,
			  const struct attest_ovmf *o, const struct attest_ovmf_section *s,
			  struct attest_verdict *v)
{
	enum attest_vmm vmm = in->vmsa.vmm;

	switch (s->type) {
	case ATTEST_OVMF_SNP_SEC_MEMORY:
		/* GCE leaves the SEC memory unmeasured (sev-snp-measure). */
		return update_empty(d, vmm == ATTEST_VMM_GCE ? ATTEST_SNP_PAGE_UNMEASURED
							   : ATTEST_SNP_PAGE_ZERO, s->gpa, s->size);
	case ATTEST_OVMF_SNP_SECRETS:
		return update_empty(d, ATTEST_SNP_PAGE_SECRETS, s->gpa, PAGE);
	case ATTEST_OVMF_CPUID:
		/* EC2 adds the CPUID page after all the other sections. */
		return vmm == ATTEST_VMM_EC2 ? 0 : update_empty(d, ATTEST_SNP_PAGE_CPUID, s->gpa, PAGE);
	case ATTEST_OVMF_SVSM_CAA:
		return update_empty(d, ATTEST_SNP_PAGE_ZERO, s->gpa, s->size);
	default:
		return update_hashes(d, in, o, s, v);
	}
}

static int update_sections(uint8_t *d, const struct attest_snp_input *in,
			   const struct attest_ovmf *o, struct attest_verdict *v)
{
	bool hashes = false;
	int r = 0;

	for (size_t i = 0; r == 0 && i < o->n_sections; i++) {
		hashes |= o->sections[i].type == ATTEST_OVMF_KERNEL_HASHES;
		r = update_section(d, in, o, &o->sections[i], v);
	}
	for (size_t i = 0; r == 0 && in->vmsa.vmm == ATTEST_VMM_EC2 && i < o->n_sections; i++)
		if (o->sections[i].type == ATTEST_OVMF_CPUID)
			r = update_empty(d, ATTEST_SNP_PAGE_CPUID, o->sections[i].gpa, PAGE);
	if (r == 0 && in->kernel_sha256 && !hashes)
		return attest_verdict_reject(v, "the firmware's SEV metadata has no KERNEL_HASHES "
					     "section: it cannot measure a kernel (use an AmdSev "
					     "OVMF build for direct kernel boot)", -ENOENT);
	return r;
}

static int update_vmsas(uint8_t *d, const struct attest_snp_input *in, const struct attest_ovmf *o,
			struct attest_verdict *v)
{
	struct attest_vmsa_params p = in->vmsa;
	uint8_t bsp[ATTEST_VMSA_SIZE], ap[ATTEST_VMSA_SIZE];
	int r;

	if (in->vcpus > 1 && !o->has_reset_eip)
		return attest_verdict_reject(v, "the firmware has no SEV-ES reset block (00f771de-"
					     "1a7e-4fcb-890e-68c77e2fb44e): its APs cannot start",
					     -ENOENT);
	p.eip = ATTEST_VMSA_BSP_EIP;
	attest_vmsa_build(&p, bsp);
	p.eip = o->reset_eip;
	attest_vmsa_build(&p, ap);
	r = attest_snp_page_update(d, ATTEST_SNP_PAGE_VMSA, ATTEST_SNP_VMSA_GPA, bsp);
	for (unsigned i = 1; r == 0 && i < in->vcpus; i++)
		r = attest_snp_page_update(d, ATTEST_SNP_PAGE_VMSA, ATTEST_SNP_VMSA_GPA, ap);
	return r;
}

/* COCONUT-SVSM: every vCPU starts at the SVSM's entry point, in protected mode. */
static int update_vmsas_svsm(uint8_t *d, const struct attest_snp_input *in, uint64_t svsm_gpa,
			     const struct attest_ovmf *o, struct attest_verdict *v)
{
	struct attest_vmsa_params p = in->vmsa;
	uint8_t page[ATTEST_VMSA_SIZE];
	int r = 0;

	if (!o->has_svsm_info || o->svsm_entry >= in->svsm_len)
		return attest_verdict_reject(v, "the SVSM image has no SVSM info entry (a789a612-"
					     "0597-4c4b-a49f-cbb1fe9d1ddd) with an entry point "
					     "inside it", -ENOENT);
	p.eip = (uint32_t)(svsm_gpa + o->svsm_entry);
	attest_vmsa_build_svsm(&p, page);
	for (unsigned i = 0; r == 0 && i < in->vcpus; i++)
		r = attest_snp_page_update(d, ATTEST_SNP_PAGE_VMSA, ATTEST_SNP_VMSA_GPA, page);
	return r;
}

static int update_image(uint8_t *d, const uint8_t *img, size_t len, uint64_t gpa)
{
	int r = 0;

	for (size_t off = 0; r == 0 && off < len; off += PAGE)
		r = attest_snp_page_update(d, ATTEST_SNP_PAGE_NORMAL, gpa + off, img + off);
	return r;
}

static int check_svsm(const struct attest_snp_input *in, struct attest_verdict *v)
{
	uint64_t below = (1ull << 32) - in->firmware_len;

	if (in->svsm_len == 0 || in->svsm_len % PAGE || in->vars_size % PAGE ||
	    in->svsm_len + in->vars_size > below)
		return attest_verdict_reject(v, "the SVSM image and the variable store must be "
					     "whole 4 KiB pages that fit below the firmware",
					     -EINVAL);
	if (in->kernel_sha256 || in->vmsa.vmm != ATTEST_VMM_QEMU)
		return attest_verdict_reject(v, "SVSM mode measures no kernel and is QEMU's only",
					     -EINVAL);
	return 0;
}

static int check_input(const struct attest_snp_input *in, struct attest_verdict *v)
{
	if (!in->firmware || in->firmware_len == 0 || in->firmware_len % PAGE ||
	    in->firmware_len > (1ull << 32))
		return attest_verdict_reject(v, "the firmware image must be a whole number of 4 KiB "
					     "pages below 4 GiB", -EINVAL);
	if (in->vcpus == 0)
		return attest_verdict_reject(v, "at least one vCPU", -EINVAL);
	if (!in->kernel_sha256 && (in->initrd_sha256 || in->cmdline))
		return attest_verdict_reject(v, "an initrd or a command line needs a kernel",
					     -EINVAL);
	return in->svsm ? check_svsm(in, v) : 0;
}

/* OVMF, then the SVSM right below its variable store, then the SVSM's metadata sections. */
static int digest_svsm(uint8_t *d, const struct attest_snp_input *in, struct attest_verdict *v)
{
	uint64_t fw_gpa = (1ull << 32) - in->firmware_len;
	uint64_t svsm_gpa = fw_gpa - in->vars_size - in->svsm_len;
	struct attest_ovmf o;
	int r = attest_ovmf_parse(in->svsm, in->svsm_len, &o, v);

	if (r == 0 && !o.has_metadata)
		r = attest_verdict_reject(v, "the SVSM image has no SEV metadata (footer GUID "
					  "dc886566-984a-4798-a75e-5585a7bf67cc)", -ENOENT);
	if (r == 0)
		r = update_image(d, in->firmware, in->firmware_len, fw_gpa);
	if (r == 0)
		r = update_image(d, in->svsm, in->svsm_len, svsm_gpa);
	if (r == 0)
		r = update_sections(d, in, &o, v);
	if (r == 0)
		r = update_vmsas_svsm(d, in, svsm_gpa, &o, v);
	return r;
}

/* OVMF alone: the image ending at 4 GiB, its metadata sections, the VMSAs. */
static int digest_ovmf(uint8_t *d, const struct attest_snp_input *in, struct attest_verdict *v)
{
	struct attest_ovmf o;
	int r = attest_ovmf_parse(in->firmware, in->firmware_len, &o, v);

	if (r == 0 && !o.has_metadata)
		r = attest_verdict_reject(v, "the firmware has no SEV metadata (footer GUID "
					  "dc886566-984a-4798-a75e-5585a7bf67cc): it is not an "
					  "SEV-SNP capable OVMF build", -ENOENT);
	if (r == 0)
		r = update_image(d, in->firmware, in->firmware_len,
				 (1ull << 32) - in->firmware_len);
	if (r == 0)
		r = update_sections(d, in, &o, v);
	if (r == 0)
		r = update_vmsas(d, in, &o, v);
	return r;
}

int attest_snp_launch_digest(const struct attest_snp_input *in,
			     uint8_t ret[ATTEST_SNP_DIGEST_SIZE], struct attest_verdict *v)
{
	uint8_t d[ATTEST_SNP_DIGEST_SIZE] = {};
	int r = check_input(in, v);

	if (r == 0)
		r = in->svsm ? digest_svsm(d, in, v) : digest_ovmf(d, in, v);
	if (r == 0)
		memcpy(ret, d, sizeof d);
	return r;
}
