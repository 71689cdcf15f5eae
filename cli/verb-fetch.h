/* sevadm fetch ca|vcek|cek and sevadm snp fetch (verb-fetch.c). */
#pragma once

#include "cli/verbs.h"

/* sevadm snp fetch [--out DIR] [--kds-url URL] [--cache DIR]: argv[0] is "fetch". */
int sevadm_snp_fetch(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_fetch(const struct sevadm_ctx *ctx, int argc, char **argv);
