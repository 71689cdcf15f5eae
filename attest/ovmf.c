/* OVMF's SEV-ES reset block and SEV metadata (edk2 OvmfPkg/ResetVector: Ia16/ResetVectorVtf0.asm
 * for the footer GUIDs, X64/OvmfSevMetadata.asm for the "ASEV" layout; QEMU hw/i386/pc_sysfw_ovmf.c
 * and target/i386/sev.c for how a VMM reads them). Every offset and length from the image is
 * bounds-checked before use. */
#include "attest/ovmf.h"

#include <errno.h>
#include <string.h>

#include "attest/guid.h"
#include "common/util.h"

static const char reset_block_guid[] = "00f771de-1a7e-4fcb-890e-68c77e2fb44e";
static const char metadata_guid[] = "dc886566-984a-4798-a75e-5585a7bf67cc";
static const char hashes_guid[] = "7255371f-3a3b-4b04-927b-1da6efa8d454";
/* COCONUT-SVSM's footer entry: the entry point's offset in the image (coconut-svsm QEMU
 * target/i386/sev.c; virtee/sev-snp-measure's SVSM class). */
static const char svsm_info_guid[] = "a789a612-0597-4c4b-a49f-cbb1fe9d1ddd";

/* Header: signature "ASEV", u32 size (header and items), u32 version (1), u32 item count;
 * items: u32 gpa, u32 size, u32 type. The footer entry holds the header's offset from the
 * end of the image. */
#define META_HDR_SIZE 16u
#define META_ITEM_SIZE 12u

const char *attest_ovmf_section_name(uint32_t type)
{
	switch (type) {
	case ATTEST_OVMF_SNP_SEC_MEMORY: return "SNP_SEC_MEMORY";
	case ATTEST_OVMF_SNP_SECRETS: return "SNP_SECRETS";
	case ATTEST_OVMF_CPUID: return "CPUID";
	case ATTEST_OVMF_SVSM_CAA: return "SVSM_CAA";
	case ATTEST_OVMF_KERNEL_HASHES: return "KERNEL_HASHES";
	default: return "unknown";
	}
}

/* The data of one footer entry: 1 found, 0 absent, -EBADMSG when the table is malformed. */
static int footer_entry(const uint8_t *fw, size_t len, const char *guid_s, size_t min_len,
			const uint8_t **ret, struct attest_verdict *v, const char *what)
{
	uint8_t guid[ATTEST_GUID_SIZE];
	size_t n;
	int r = attest_guid_parse(guid_s, guid);

	if (r < 0)
		return r;
	r = attest_ovmf_footer_find(fw, len, guid, ret, &n);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return attest_verdict_reject(v, "the OVMF footer GUID table (96b582de-1fb2-45f7-"
					     "baea-a366c55a082d) is malformed or truncated", r);
	if (n < min_len)
		return attest_verdict_reject(v, what, -EBADMSG);
	return 1;
}

static const char *misaligned_reason(uint32_t type)
{
	switch (type) {
	case ATTEST_OVMF_SNP_SEC_MEMORY:
		return "the SEV metadata section SNP_SEC_MEMORY is empty or not page-aligned";
	case ATTEST_OVMF_SNP_SECRETS:
		return "the SEV metadata section SNP_SECRETS is empty or not page-aligned";
	case ATTEST_OVMF_CPUID:
		return "the SEV metadata section CPUID is empty or not page-aligned";
	case ATTEST_OVMF_SVSM_CAA:
		return "the SEV metadata section SVSM_CAA is empty or not page-aligned";
	default:
		return "the SEV metadata section KERNEL_HASHES is empty or not page-aligned";
	}
}

static int section_check(const struct attest_ovmf_section *s, struct attest_verdict *v)
{
	if (s->type != ATTEST_OVMF_SNP_SEC_MEMORY && s->type != ATTEST_OVMF_SNP_SECRETS &&
	    s->type != ATTEST_OVMF_CPUID && s->type != ATTEST_OVMF_SVSM_CAA &&
	    s->type != ATTEST_OVMF_KERNEL_HASHES)
		return attest_verdict_reject(v, "the SEV metadata has a section of unknown type",
					     -EBADMSG);
	/* Pages are measured whole; a section must not wrap past 4 GiB. */
	if (s->size == 0 || (s->gpa & 0xfff) || (s->size & 0xfff) ||
	    (uint64_t)s->gpa + s->size > (1ull << 32))
		return attest_verdict_reject(v, misaligned_reason(s->type), -EBADMSG);
	return 0;
}

static int parse_metadata(const uint8_t *fw, size_t len, uint32_t off_from_end,
			  struct attest_ovmf *o, struct attest_verdict *v)
{
	const uint8_t *h;
	uint32_t size, count;
	uint64_t total = 0;

	if (off_from_end > len || off_from_end < META_HDR_SIZE)
		return attest_verdict_reject(v, "the SEV metadata (dc886566-984a-4798-a75e-"
					     "5585a7bf67cc) points outside the firmware image",
					     -EBADMSG);
	h = fw + len - off_from_end;
	size = get_le32(h + 4);
	count = get_le32(h + 12);
	if (memcmp(h, "ASEV", 4) != 0 || get_le32(h + 8) != 1)
		return attest_verdict_reject(v, "the SEV metadata (dc886566-984a-4798-a75e-"
					     "5585a7bf67cc) has no \"ASEV\" version 1 header",
					     -EBADMSG);
	if (count > ATTEST_OVMF_SECTIONS_MAX || size < META_HDR_SIZE + count * META_ITEM_SIZE ||
	    size > off_from_end)
		return attest_verdict_reject(v, "the SEV metadata's size or section count does "
					     "not fit the firmware image", -EBADMSG);
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *it = h + META_HDR_SIZE + i * META_ITEM_SIZE;
		struct attest_ovmf_section *s = &o->sections[i];
		int r;

		s->gpa = get_le32(it), s->size = get_le32(it + 4), s->type = get_le32(it + 8);
		if ((r = section_check(s, v)) < 0)
			return r;
		total += s->size;
	}
	/* Each page is hashed: bound the work an image can ask for (OVMF's are < 1 MiB). */
	if (total > ATTEST_OVMF_SECTIONS_BYTES_MAX)
		return attest_verdict_reject(v, "the SEV metadata sections cover more than 256 MiB",
					     -EBADMSG);
	o->n_sections = count;
	o->has_metadata = true;
	return 0;
}

int attest_ovmf_parse(const uint8_t *fw, size_t fw_len, struct attest_ovmf *ret,
		      struct attest_verdict *v)
{
	const uint8_t *d;
	int r;

	memset(ret, 0, sizeof *ret);
	r = footer_entry(fw, fw_len, reset_block_guid, 4, &d, v,
			 "the SEV-ES reset block (00f771de-1a7e-4fcb-890e-68c77e2fb44e) is shorter than its address");
	if (r > 0)
		ret->has_reset_eip = true, ret->reset_eip = get_le32(d);
	if (r >= 0)
		r = footer_entry(fw, fw_len, hashes_guid, 8, &d, v,
				 "the SEV hashes table descriptor (7255371f-3a3b-4b04-927b-1da6efa8d454) is truncated");
	if (r > 0)
		ret->hashes_gpa = get_le32(d), ret->hashes_size = get_le32(d + 4);
	if (r >= 0)
		r = footer_entry(fw, fw_len, svsm_info_guid, 4, &d, v,
				 "the SVSM info entry (a789a612-0597-4c4b-a49f-cbb1fe9d1ddd) is "
				 "shorter than its offset");
	if (r > 0)
		ret->has_svsm_info = true, ret->svsm_entry = get_le32(d);
	if (r >= 0)
		r = footer_entry(fw, fw_len, metadata_guid, 4, &d, v,
				 "the SEV metadata entry (dc886566-984a-4798-a75e-5585a7bf67cc) is shorter than its offset");
	if (r > 0)
		r = parse_metadata(fw, fw_len, get_le32(d), ret, v);
	return r < 0 ? r : 0;
}
