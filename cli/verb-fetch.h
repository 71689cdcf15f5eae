/* sevadm fetch ca|vcek|cek (verb-fetch.c). */
#pragma once

#include "cli/verbs.h"

int verb_fetch(const struct sevadm_ctx *ctx, int argc, char **argv);
