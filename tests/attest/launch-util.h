/* Small helpers shared by the launch known-answer tests (tests/attest/test-{kdf,session,
 * measurement,secret}.c): hex and base64 literals that must decode, or the test fails. */
#pragma once

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "tests/testutil.h"

static inline void hexb(const char *hex, uint8_t *out, size_t len)
{
	TU_CHECK(hex_decode_exact(hex, out, len) == 0, "bad hex literal %s", hex);
}

static inline uint8_t *b64(const char *s, size_t *ret_len)
{
	uint8_t *p = NULL;
	size_t n = 0;

	TU_CHECK(base64_decode(s, strlen(s), &p, &n) == 0, "bad base64 literal %s", s);
	if (ret_len)
		*ret_len = n;
	return p;
}

static inline void check_hex(const uint8_t *got, size_t len, const char *want_hex)
{
	char *h = hex_encode(got, len);
	TU_CHECK(h && strcmp(h, want_hex) == 0, "got %s, expected %s", h ? h : "(null)", want_hex);
	free(h);
}
