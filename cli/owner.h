/* Helpers of the guest owner's offline verbs (session, measurement, secret): arguments as
 * sevctl takes them (a path or base64; decimal or 0x-hex numbers), streaming file hashes, and
 * output files that appear all together or not at all. Every error names the flag or file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attest/vmsa.h"

/* A path when a file of that name exists, else base64 (sevctl's parse_base64_or_path), or hex
 * of exactly `want` bytes (as sevd's JSON answers carry measurements and nonces). The
 * decoded size must be exactly `want` bytes unless want is 0 (then at most `max`). The buffer
 * may hold a key: free it with owner_free_wiped(). */
int owner_read_arg(const char *verb, const char *flag, const char *val, size_t want, size_t max,
		   uint8_t **ret, size_t *ret_len);
void owner_free_wiped(uint8_t *p, size_t len);
/* A whole file, at most max bytes. */
int owner_read_file(const char *verb, const char *what, const char *path, size_t max,
		    uint8_t **ret, size_t *ret_len);
/* SHA-256 of a file, read in chunks (kernels and initrds can be large). */
int owner_sha256_file(const char *verb, const char *what, const char *path, uint8_t out[32]);
/* A number in decimal or 0x-hex, at most max (255 for a byte). */
int owner_parse_num(const char *verb, const char *flag, const char *s, uint32_t max,
		    uint32_t *ret);

/* Output files written to temporary names (O_EXCL, given mode) in their final directory and
 * renamed into place only by owner_out_commit(); owner_out_abort() (also what cleanup does)
 * removes every temporary file. */
#define OWNER_OUT_MAX 4
struct owner_out {
	const char *verb;
	size_t n;
	char *final[OWNER_OUT_MAX];
	char *tmp[OWNER_OUT_MAX];
};
int owner_out_add(struct owner_out *o, const char *path, const void *buf, size_t len, mode_t mode);
int owner_out_commit(struct owner_out *o);
void owner_out_abort(struct owner_out *o);

/* The vCPU and VMM flags that shape generated VMSAs (sevadm measurement, sevadm vmsa):
 * --vcpu-type NAME, --vcpu-sig N, or --vcpu-family/--vcpu-model/--vcpu-stepping (QEMU needs
 * one of them: the signature goes into RDX), --vmm-type QEMU|ec2|gce, --guest-features HEX
 * (sev_features), --zero-x87. Fills everything but the reset vector. */
struct owner_vcpu_args {
	const char *type, *sig, *family, *model, *stepping, *vmm, *features;
	bool zero_x87;
};
int owner_vcpu_params(const char *verb, const struct owner_vcpu_args *a, uint64_t def_features,
		      struct attest_vmsa_params *ret);
/* The reset vectors of the VMSAs of a firmware image: 0, or a failure naming the footer
 * entry (1 vCPU needs none). */
int owner_ap_reset_eip(const char *verb, const char *path, const uint8_t *fw, size_t len,
		       unsigned vcpus, uint32_t *ret);
