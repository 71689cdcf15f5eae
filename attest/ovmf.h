/* What an OVMF image tells the VMM that launches it under SEV-ES and SEV-SNP, read from the
 * footer GUID table (attest/guid.h's walk): the SEV-ES AP reset vector (GUID
 * 00f771de-1a7e-4fcb-890e-68c77e2fb44e) and the SEV metadata (GUID
 * dc886566-984a-4798-a75e-5585a7bf67cc → "ASEV" header and its sections, edk2
 * OvmfPkg/ResetVector/X64/OvmfSevMetadata.asm), which QEMU (target/i386/sev.c) feeds to
 * SNP_LAUNCH_UPDATE. Pure code; the image is untrusted input. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/verdict.h"

/* Section types of the SEV metadata (OvmfSevMetadata.asm). */
enum attest_ovmf_section_type {
	ATTEST_OVMF_SNP_SEC_MEMORY = 1,
	ATTEST_OVMF_SNP_SECRETS = 2,
	ATTEST_OVMF_CPUID = 3,
	ATTEST_OVMF_SVSM_CAA = 4,
	ATTEST_OVMF_KERNEL_HASHES = 0x10,
};

struct attest_ovmf_section {
	uint32_t gpa, size, type;
};

#define ATTEST_OVMF_SECTIONS_MAX 64u
#define ATTEST_OVMF_SECTIONS_BYTES_MAX (256ull << 20)

struct attest_ovmf {
	bool has_reset_eip;      /* the SEV-ES reset block entry exists */
	uint32_t reset_eip;      /* where QEMU starts the APs (CS base | IP) */
	bool has_metadata;       /* the SEV metadata entry exists */
	size_t n_sections;
	struct attest_ovmf_section sections[ATTEST_OVMF_SECTIONS_MAX];
	uint32_t hashes_gpa;     /* SEV hashes table descriptor (7255371f-…): 0 when absent */
	uint32_t hashes_size;
	bool has_svsm_info;      /* an SVSM image's info entry (a789a612-…) exists */
	uint32_t svsm_entry;     /* its entry point, an offset into the image */
};

/* Reads the footer table and the SEV metadata. 0, or -EBADMSG with v->reason naming the
 * malformed part (the footer table, the SEV-ES reset block, the SEV metadata or one of its
 * sections). A missing entry is not an error here: the has_ flags say what was found. */
int attest_ovmf_parse(const uint8_t *fw, size_t fw_len, struct attest_ovmf *ret,
		      struct attest_verdict *v);

/* "SNP_SEC_MEMORY", "SNP_SECRETS", "CPUID", "SVSM_CAA", "KERNEL_HASHES" or "unknown". */
const char *attest_ovmf_section_name(uint32_t type);
