/* What roots.c, chain.c and roots-dir.c share; not for callers outside attest/. roots-dir.c
 * reads the files and fills a struct attest_roots through these; the checks stay in roots.c. */
#pragma once

#include <stddef.h>

#include "attest/chain.h"
#include "attest/roots.h"
#include "common/macros.h"

struct attest_roots {
	struct attest_sev_root *sev;
	size_t n_sev;
	char **dirs; /* loaded directories, searched for SNP files */
	size_t n_dirs;
	char **snp;  /* SNP generations found */
	size_t n_snp;
	char list[256];
};

/* Appends a copy of s to *arr unless it is there already. */
int attest_roots_push_str(char ***arr, size_t *n, const char *s);
/* Orders the SEV roots: AMD's generations oldest first, then the others by name. */
void attest_roots_sort(struct attest_roots *r);
