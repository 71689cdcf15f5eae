/* The SEV-SNP launch digest a guest owner expects (SNP ABI spec 56860 §8.17 SNP_LAUNCH_UPDATE:
 * each page extends the digest as SHA-384 of its PAGE_INFO, table 67), for OVMF launched by
 * QEMU (target/i386/sev.c): the firmware image as normal pages ending at 4 GiB, then the SEV
 * metadata sections (SNP_SEC_MEMORY zero, SNP_SECRETS, CPUID, SVSM_CAA zero, KERNEL_HASHES
 * with the SEV hashes table), then one VMSA per vCPU. Pure code. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/verdict.h"
#include "attest/vmsa.h"

#define ATTEST_SNP_DIGEST_SIZE 48u

/* PAGE_TYPE of SNP_LAUNCH_UPDATE (SNP ABI table 67/68). */
enum attest_snp_page_type {
	ATTEST_SNP_PAGE_NORMAL = 1,
	ATTEST_SNP_PAGE_VMSA = 2,
	ATTEST_SNP_PAGE_ZERO = 3,
	ATTEST_SNP_PAGE_UNMEASURED = 4,
	ATTEST_SNP_PAGE_SECRETS = 5,
	ATTEST_SNP_PAGE_CPUID = 6,
};

/* The GPA recorded for VMSA pages: (u64)-1 page-aligned, bits above 51 clear. */
#define ATTEST_SNP_VMSA_GPA 0xfffffffff000ull

/* digest ← SHA-384(PAGE_INFO{digest, contents, 0x70, type, imi 0, vmpl3..1 perms 0, gpa}).
 * contents: SHA-384 of the page for NORMAL and VMSA pages, zeros for the others. */
int attest_snp_page_info(uint8_t digest[ATTEST_SNP_DIGEST_SIZE], uint8_t type, uint64_t gpa,
			 const uint8_t contents[ATTEST_SNP_DIGEST_SIZE]);
/* One page of data (NORMAL or VMSA): hashes it, then attest_snp_page_info. */
int attest_snp_page_update(uint8_t digest[ATTEST_SNP_DIGEST_SIZE], uint8_t type, uint64_t gpa,
			   const uint8_t page[4096]);

struct attest_snp_input {
	const uint8_t *firmware;
	size_t firmware_len;
	/* Direct kernel boot, as attest_digest_input (NULL kernel: the KERNEL_HASHES section
	 * is measured as zero pages). */
	const uint8_t *kernel_sha256, *initrd_sha256;
	const char *cmdline;
	unsigned vcpus;
	struct attest_vmsa_params vmsa; /* eip is taken from the firmware */
	/* COCONUT-SVSM (NULL: none): the SVSM image, loaded right below OVMF's variable store
	 * of vars_size bytes (which sits below the firmware); its SEV metadata is measured
	 * instead of OVMF's and every vCPU starts at its entry point. QEMU only, no kernel. */
	const uint8_t *svsm;
	size_t svsm_len;
	uint64_t vars_size;
};

/* 0, or -EINVAL / -EBADMSG / -ENOENT with v->reason naming the section that is wrong;
 * another negative errno (v->reason empty) on internal errors. */
int attest_snp_launch_digest(const struct attest_snp_input *in,
			     uint8_t ret[ATTEST_SNP_DIGEST_SIZE], struct attest_verdict *v);
