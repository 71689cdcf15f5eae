/* The launch measurement (SEV API §6.5 LAUNCH_MEASURE) and the launch digest a guest owner
 * expects: HMAC-SHA256(TIK, 0x04 ‖ api_major ‖ api_minor ‖ build ‖ policy_le32 ‖ digest ‖
 * mnonce), where firmware before API 0.17 leaves out the 4-byte prefix (sev-tool); the digest
 * is SHA-256 of what LAUNCH_UPDATE_DATA/VMSA saw: firmware, QEMU's SEV hashes table for direct
 * kernel boot, and for SEV-ES the VMSA pages. Pure code. Used by sevadm (owner side) and
 * sev-psp-emu (firmware side: attest_measurement_compute over its own digest). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/verdict.h"

#define ATTEST_MEASURE_CTX 0x04u
#define ATTEST_DIGEST_SIZE 32u
#define ATTEST_MEASURE_SIZE 32u
#define ATTEST_MNONCE_SIZE 16u

struct attest_measure_input {
	uint8_t ctx; /* ATTEST_MEASURE_CTX; other values exist only for sev-tool parity */
	uint8_t api_major, api_minor, build;
	uint32_t policy;
	uint8_t digest[ATTEST_DIGEST_SIZE];
	uint8_t mnonce[ATTEST_MNONCE_SIZE];
};

/* major.minor ≥ want_major.want_minor */
bool attest_api_at_least(uint8_t major, uint8_t minor, uint8_t want_major, uint8_t want_minor);

int attest_measurement_compute(const uint8_t tik[16], const struct attest_measure_input *in,
			       uint8_t ret[ATTEST_MEASURE_SIZE]);
/* 1 when measure equals the expected value (constant-time comparison), 0 when not, <0 error. */
int attest_measurement_verify(const uint8_t tik[16], const struct attest_measure_input *in,
			      const uint8_t measure[ATTEST_MEASURE_SIZE]);

/* What the guest's launch was built from. */
struct attest_digest_input {
	const uint8_t *firmware;
	size_t firmware_len;
	/* Direct kernel boot: SHA-256 of the kernel (NULL = no kernel, no hashes table); of the
	 * initrd (NULL = none: hashed as empty); the command line (NULL = none: hashed as "\0",
	 * otherwise with its terminating NUL), as QEMU's sev_add_kernel_loader_hashes does. */
	const uint8_t *kernel_sha256;
	const uint8_t *initrd_sha256;
	const char *cmdline;
	/* SEV-ES (policy bit ES): the VMSA of CPU 0, then num_cpus - 1 copies of CPU 1's. */
	uint32_t policy;
	unsigned num_cpus;
	const uint8_t *vmsa_cpu0, *vmsa_cpu1;
	size_t vmsa_cpu0_len, vmsa_cpu1_len;
};

/* The padded SEV hashes table (QEMU's PaddedSevHashTable, 176 bytes) for these hashes. */
#define ATTEST_SEV_HASHES_TABLE_SIZE 176u
int attest_sev_hashes_table(const uint8_t kernel_sha256[32], const uint8_t *initrd_sha256,
			    const char *cmdline, uint8_t ret[ATTEST_SEV_HASHES_TABLE_SIZE]);
/* Where the firmware's footer table (GUID 7255371f-3a3b-4b04-927b-1da6efa8d454) puts the
 * hashes table: -ENOENT when it has none (base or size 0: e.g. OvmfX64, only AmdSev builds
 * have one), -EBADMSG when malformed. */
int attest_ovmf_hashes_area(const uint8_t *fw, size_t fw_len, uint32_t *ret_base,
			    uint32_t *ret_size);
/* The launch digest. 0, or -EINVAL / -ENOENT / -EBADMSG with v->reason saying what is wrong;
 * another negative errno (v->reason empty) on internal errors. */
int attest_launch_digest(const struct attest_digest_input *in, uint8_t ret[ATTEST_DIGEST_SIZE],
			 struct attest_verdict *v);
