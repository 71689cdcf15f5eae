/* Initial VMSA pages. Offsets: AMD APM vol. 2 table B-4 (VMSA layout, state save area) as
 * Linux arch/x86/include/asm/svm.h names them; reset values: Intel/AMD x86 reset state as KVM
 * (arch/x86/kvm/svm/sev.c, svm.c init_vmcb) and QEMU (target/i386/cpu.c x86_cpu_reset_hold)
 * set them; the per-VMM differences and CPU signatures follow virtee/sev-snp-measure and
 * QEMU's builtin_x86_defs. */
#include "attest/vmsa.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "common/macros.h"
#include "common/util.h"

/* Segment registers: selector u16, attrib u16, limit u32, base u64, 16 bytes each. */
enum {
	SEG_ES = 0x00, SEG_CS = 0x10, SEG_SS = 0x20, SEG_DS = 0x30, SEG_FS = 0x40, SEG_GS = 0x50,
	SEG_GDTR = 0x60, SEG_LDTR = 0x70, SEG_IDTR = 0x80, SEG_TR = 0x90,
	OFF_EFER = 0xd0, OFF_CR4 = 0x148, OFF_CR0 = 0x158, OFF_DR7 = 0x160, OFF_DR6 = 0x168,
	OFF_RFLAGS = 0x170, OFF_RIP = 0x178, OFF_G_PAT = 0x268, OFF_RDX = 0x310,
	OFF_SEV_FEATURES = 0x3b0, OFF_XCR0 = 0x3e8, OFF_MXCSR = 0x408, OFF_X87_FCW = 0x410,
};

static void put_seg(uint8_t *page, unsigned off, uint16_t sel, uint16_t attrib, uint32_t limit,
		    uint64_t base)
{
	put_le16(page + off, sel);
	put_le16(page + off + 2, attrib);
	put_le32(page + off + 4, limit);
	put_le64(page + off + 8, base);
}

void attest_vmsa_build(const struct attest_vmsa_params *p, uint8_t page[ATTEST_VMSA_SIZE])
{
	/* EC2 marks the BSP's CS not accessed, its SS and TR differ, and both EC2 and GCE put
	 * the bare family 6 signature (0x600) in RDX; GCE programs its own PAT. */
	bool qemu = p->vmm == ATTEST_VMM_QEMU, ec2 = p->vmm == ATTEST_VMM_EC2;
	uint16_t cs = ec2 && p->eip == ATTEST_VMSA_BSP_EIP ? 0x9a : 0x9b;
	uint64_t pat = p->vmm == ATTEST_VMM_GCE ? 0x00070106ull : 0x0007040600070406ull;

	memset(page, 0, ATTEST_VMSA_SIZE);
	put_seg(page, SEG_ES, 0, 0x93, 0xffff, 0);
	put_seg(page, SEG_CS, 0xf000, cs, 0xffff, p->eip & 0xffff0000u);
	put_seg(page, SEG_SS, 0, ec2 ? 0x92 : 0x93, 0xffff, 0);
	put_seg(page, SEG_DS, 0, 0x93, 0xffff, 0);
	put_seg(page, SEG_FS, 0, 0x93, 0xffff, 0);
	put_seg(page, SEG_GS, 0, 0x93, 0xffff, 0);
	put_seg(page, SEG_GDTR, 0, 0, 0xffff, 0);
	put_seg(page, SEG_LDTR, 0, 0x82, 0xffff, 0);
	put_seg(page, SEG_IDTR, 0, 0, 0xffff, 0);
	put_seg(page, SEG_TR, 0, ec2 ? 0x83 : 0x8b, 0xffff, 0);
	put_le64(page + OFF_EFER, 0x1000);   /* EFER.SVME: KVM sets it for SEV-ES guests */
	put_le64(page + OFF_CR4, 0x40);      /* CR4.MCE */
	put_le64(page + OFF_CR0, 0x10);      /* CR0.ET */
	put_le64(page + OFF_DR7, 0x400);
	put_le64(page + OFF_DR6, 0xffff0ff0);
	put_le64(page + OFF_RFLAGS, 0x2);
	put_le64(page + OFF_RIP, p->eip & 0xffffu);
	put_le64(page + OFF_G_PAT, pat);
	put_le64(page + OFF_RDX, qemu ? p->cpu_sig : 0x600);
	put_le64(page + OFF_SEV_FEATURES, p->sev_features);
	put_le64(page + OFF_XCR0, 0x1);
	if (qemu && !p->zero_x87) {
		put_le32(page + OFF_MXCSR, 0x1f80);
		put_le16(page + OFF_X87_FCW, 0x37f);
	}
}

void attest_vmsa_build_svsm(const struct attest_vmsa_params *p, uint8_t page[ATTEST_VMSA_SIZE])
{
	static const unsigned data_segs[] = { SEG_ES, SEG_SS, SEG_DS, SEG_FS };

	memset(page, 0, ATTEST_VMSA_SIZE);
	for (size_t i = 0; i < ELEMENTSOF(data_segs); i++)
		put_seg(page, data_segs[i], 16, 0xc93, 0xffffffff, 0);
	put_seg(page, SEG_CS, 8, 0xc9b, 0xffffffff, 0);
	put_seg(page, SEG_GS, 0, 0x93, 0xffff, 0);
	put_seg(page, SEG_GDTR, 0, 0, 0xffff, 0);
	put_seg(page, SEG_LDTR, 0, 0x82, 0xffff, 0);
	put_seg(page, SEG_IDTR, 0, 0, 0xffff, 0);
	put_seg(page, SEG_TR, 0, 0x8b, 0xffff, 0);
	put_le64(page + OFF_EFER, 0x1000);
	put_le64(page + OFF_CR4, 0x40);
	put_le64(page + OFF_CR0, 0x11); /* CR0.ET | CR0.PE */
	put_le64(page + OFF_DR7, 0x400);
	put_le64(page + OFF_DR6, 0xffff0ff0);
	put_le64(page + OFF_RFLAGS, 0x2);
	put_le64(page + OFF_RIP, p->eip);
	put_le64(page + OFF_G_PAT, 0x0007040600070406ull);
	put_le64(page + OFF_RDX, p->cpu_sig);
	put_le64(page + OFF_SEV_FEATURES, p->sev_features);
	put_le64(page + OFF_XCR0, 0x1);
	if (p->vmm == ATTEST_VMM_QEMU)
		put_le32(page + OFF_MXCSR, 0x1f80);
}

uint32_t attest_cpu_sig(unsigned family, unsigned model, unsigned stepping)
{
	unsigned fam_lo = family > 0xf ? 0xf : family;
	unsigned fam_hi = family > 0xf ? (family - 0xf) & 0xff : 0;

	return (uint32_t)(fam_hi << 20 | ((model >> 4) & 0xf) << 16 | (fam_lo & 0xf) << 8 |
			  (model & 0xf) << 4 | (stepping & 0xf));
}

/* QEMU target/i386/cpu.c builtin_x86_defs: family, model, stepping of each AMD EPYC model
 * (the -vN versions keep them). */
static const struct {
	const char *name;
	unsigned family, model, stepping;
} vcpu_types[] = {
	{ "EPYC", 23, 1, 2 },
	{ "EPYC-IBPB", 23, 1, 2 },
	{ "EPYC-Rome", 23, 49, 0 },
	{ "EPYC-Milan", 25, 1, 1 },
	{ "EPYC-Genoa", 25, 17, 0 },
	{ "EPYC-Turin", 26, 0, 0 },
};

/* "EPYC-Rome-v2" → length of "EPYC-Rome" when the rest is "-v" and digits, else 0. */
static size_t base_len(const char *name, const char *base)
{
	size_t n = strlen(base);
	const char *v = name + n;

	if (strncmp(name, base, n) != 0)
		return 0;
	if (*v == '\0')
		return n;
	if (v[0] != '-' || v[1] != 'v' || v[2] == '\0')
		return 0;
	for (v += 2; *v; v++)
		if (*v < '0' || *v > '9')
			return 0;
	return n;
}

int attest_vcpu_type_sig(const char *name, uint32_t *ret)
{
	for (size_t i = 0; name && i < ELEMENTSOF(vcpu_types); i++)
		if (base_len(name, vcpu_types[i].name) > 0) {
			*ret = attest_cpu_sig(vcpu_types[i].family, vcpu_types[i].model,
					      vcpu_types[i].stepping);
			return 0;
		}
	return -ENOENT;
}

int attest_vmm_parse(const char *name, enum attest_vmm *ret)
{
	static const char *const names[] = { "QEMU", "ec2", "gce" };

	for (size_t i = 0; name && i < ELEMENTSOF(names); i++)
		if (strcasecmp(name, names[i]) == 0) {
			*ret = (enum attest_vmm)i;
			return 0;
		}
	return -ENOENT;
}
