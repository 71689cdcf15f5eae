/* How attest/ says why a check failed: struct attest_verdict, the check that failed and a
 * sentence naming what was wrong. A parser returns -EBADMSG and a verifier 0 (a negative errno
 * stays an internal error), each filling the verdict the caller passed (NULL: no reason
 * wanted); the caller starts from a zeroed verdict and reads reason only after a failure.
 * attest_verdict_fail() (a format) and attest_verdict_reject() (a fixed sentence) fill it and
 * give back the return value, so a check reads as one line per rule. Every file of attest/
 * says why this way; where a file numbers its checks (session.c, secret.c), v->check holds the
 * number and v->reason its sentence. Pure code. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/macros.h"

struct attest_verdict {
	bool ok;
	int check; /* the failed check where its file numbers them (0: not numbered) */
	char reason[512];
	/* Chain verification (chain.h): the generation whose trusted root was reached. */
	char root_gen[32];
	bool root_emulated;  /* the root was one the caller added as emulated */
	bool root_amd_known; /* the root's ARK key id is AMD's for root_gen */
};

/* v->ok = false, v->reason from fmt (v may be NULL); returns r. */
_printf_(3, 4) static inline int attest_verdict_fail(struct attest_verdict *v, int r,
						     const char *fmt, ...)
{
	va_list ap;

	if (!v)
		return r;
	v->ok = false;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
	return r;
}

/* The same with a fixed sentence. */
static inline int attest_verdict_reject(struct attest_verdict *v, const char *why, int r)
{
	return attest_verdict_fail(v, r, "%s", why);
}

/* v's reason, or otherwise where the failure named none (an internal error). */
static inline const char *attest_verdict_why(const struct attest_verdict *v, const char *otherwise)
{
	return v->reason[0] ? v->reason : otherwise;
}
