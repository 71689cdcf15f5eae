/* sevadm measurement: the parsed flags, shared by the SEV/SEV-ES path (verb-measurement.c)
 * and the SEV-SNP path (verb-measurement-snp.c). */
#pragma once

#include <stdbool.h>

#include "cli/owner.h"

struct margs {
	const char *api_major, *api_minor, *build, *policy, *tik, *nonce, *blob, *digest;
	const char *firmware, *kernel, *initrd, *cmdline, *num_cpus, *vmsa0, *vmsa1, *outfile;
	const char *report, *svsm, *vars_size;
	bool snp;
	struct owner_vcpu_args vcpu;
};

/* --snp: build prints the SNP launch digest (hex, or 48 bytes to --outfile); verify compares
 * it with --report's MEASUREMENT or --launch-digest. Returns the exit status. */
int measurement_snp(const struct margs *a, bool verify);
