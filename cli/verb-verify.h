/* Internals shared by the `sevadm verify` files (verb-verify.c: dispatch and `verify chain`;
 * verb-verify-report.c: `verify report`). */
#pragma once

#include <getopt.h>
#include <stdbool.h>

#include "attest/chain.h"
#include "attest/roots.h"
#include "cli/verbs.h"
#include "cli/verify-util.h"

struct verify_opts {
	const char *roots;	   /* --roots DIR (NULL: the compiled-in default) */
	const char *emulator_root; /* --emulator-root FILE */
	bool json;
};

enum { VERIFY_ARG_ROOTS = 0x200, VERIFY_ARG_EMU_ROOT, VERIFY_ARG_JSON, VERIFY_ARG_FIRST_OWN };
#define VERIFY_COMMON_OPTIONS                                                                      \
	{ "roots", required_argument, NULL, VERIFY_ARG_ROOTS },                                    \
	{ "emulator-root", required_argument, NULL, VERIFY_ARG_EMU_ROOT },                         \
	{ "json", no_argument, NULL, VERIFY_ARG_JSON }

/* 1 when getopt's c was one of the common options (stored in o), else 0. */
int verify_parse_common(int c, struct verify_opts *o);
/* The roots of o (plus an AMD-format emulator root); prints the failure, returns an exit code
 * (0 on success). */
int verify_load_roots(const struct verify_opts *o, struct attest_roots **ret);
/* The emulator root when it is X.509 (an SNP root), else NULL. */
const char *verify_snp_emulator_root(const struct verify_opts *o);
/* One line per SEV link into l, then the AMD part (CEK → ASK → trusted ARK). */
bool verify_sev_chain(const struct attest_sev_chain *c, const struct attest_roots *roots,
		      unsigned flags, struct checklist *l);

int verify_report(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_verify(const struct sevadm_ctx *ctx, int argc, char **argv);
