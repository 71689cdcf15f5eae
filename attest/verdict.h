/* How attest/ says why a check failed. A parser returns -EBADMSG and a verifier 0, each with
 * *reason (when the caller passed one) pointing at a static sentence naming what was wrong;
 * checks whose reason needs the caller's names or values (chains, reports) fill a struct
 * attest_verdict (chain.h) instead. The firmware-side checks of session.h and secret.h, which
 * the emulator answers with a firmware status, name the failed check with their enum (with a
 * _name() and a _status() for it). attest_reject() sets the reason and gives back the return
 * value, so a check reads as one line per rule. Pure code. */
#pragma once

#include <stddef.h>

static inline int attest_reject(const char **reason, const char *why, int ret)
{
	if (reason)
		*reason = why;
	return ret;
}
