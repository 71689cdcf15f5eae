/* The initial VMSA page (SEV-ES save area, AMD APM vol. 2 table B-4; Linux struct
 * sev_es_save_area) of a vCPU as QEMU and KVM set it up at reset and hand it to
 * LAUNCH_UPDATE_VMSA / SNP_LAUNCH_UPDATE: the register state of x86 reset, the CPUID
 * signature in EDX, CS:IP at the reset vector (0xfffffff0 for vCPU 0, OVMF's SEV-ES reset
 * block for the others) and, under SNP, the SEV features in sev_features. Pure code. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define ATTEST_VMSA_SIZE 4096u
#define ATTEST_VMSA_BSP_EIP 0xfffffff0u

/* Which VMM prepared the VMSA (the register state differs slightly between them, as
 * virtee/sev-snp-measure models it). */
enum attest_vmm {
	ATTEST_VMM_QEMU,
	ATTEST_VMM_EC2,
	ATTEST_VMM_GCE,
};

struct attest_vmsa_params {
	uint32_t eip;          /* reset vector: CS base = eip & 0xffff0000, RIP = eip & 0xffff */
	uint32_t cpu_sig;      /* CPUID Fn0000_0001 EAX, in RDX at reset (QEMU) */
	uint64_t sev_features; /* 0 for SEV-ES; the guest features for SNP (bit 0 SNPActive) */
	enum attest_vmm vmm;
	/* KVM versions that leave x87 FCW and MXCSR zero in the VMSA (what sevctl's `vmsa build`
	 * writes); otherwise their reset values 0x37f and 0x1f80 (QEMU only). */
	bool zero_x87;
};

void attest_vmsa_build(const struct attest_vmsa_params *p, uint8_t page[ATTEST_VMSA_SIZE]);
/* The VMSA of every vCPU of an SNP guest that boots COCONUT-SVSM: 32-bit protected mode (flat
 * code selector 8, data 16, CR0.PE) at the SVSM's entry point p->eip (a full address), as
 * virtee/sev-snp-measure's snp:svsm mode builds it (MXCSR 0x1f80 for QEMU, FCW left 0). */
void attest_vmsa_build_svsm(const struct attest_vmsa_params *p, uint8_t page[ATTEST_VMSA_SIZE]);

/* CPUID Fn0000_0001_EAX from family, model, stepping (AMD CPUID spec 25481: families above
 * 0xf put 0xf in the base field and the rest in the extended field). */
uint32_t attest_cpu_sig(unsigned family, unsigned model, unsigned stepping);
/* The signature of one of QEMU's AMD CPU models ("EPYC", "EPYC-Rome", "EPYC-Milan",
 * "EPYC-Genoa", "EPYC-Turin", and their -vN versions). -ENOENT if unknown. */
int attest_vcpu_type_sig(const char *name, uint32_t *ret);
/* "QEMU", "ec2", "gce" (any case). -ENOENT if unknown. */
int attest_vmm_parse(const char *name, enum attest_vmm *ret);
