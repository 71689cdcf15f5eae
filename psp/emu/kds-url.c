/* sev-kds-emu's request parser (see kds.h). Everything here is untrusted input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/emu/kds.h"

static int fail(const char **why, const char *msg, int code)
{
	*why = msg;
	return code;
}

/* A decimal 0..255 without sign, spaces or leading zeros beyond one digit. */
static int spl(const char *s, size_t n, uint8_t *ret)
{
	unsigned v = 0;

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 255)
		return -1;
	*ret = (uint8_t)v;
	return 0;
}

static int parse_query(const char *q, bool turin, struct emu_kds_req *r, const char **why)
{
	static const char *const names[] = { "blSPL", "teeSPL", "snpSPL", "ucodeSPL", "fmcSPL" };
	uint8_t *dst[] = { &r->bl, &r->tee, &r->snp, &r->ucode, &r->fmc };
	unsigned seen = 0, want = turin ? 0x1f : 0x0f;

	while (*q) {
		const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);
		const char *eq = memchr(q, '=', (size_t)(end - q));
		size_t i;

		if (!eq)
			return fail(why, "a query parameter without a value", 400);
		for (i = 0; i < ELEMENTSOF(names); i++)
			if (strlen(names[i]) == (size_t)(eq - q) && !memcmp(q, names[i], (size_t)(eq - q)))
				break;
		if (i == ELEMENTSOF(names) || !(want & (1u << i)))
			return fail(why, "an unknown query parameter", 400);
		if (seen & (1u << i))
			return fail(why, "a query parameter given twice", 400);
		if (spl(eq + 1, (size_t)(end - eq - 1), dst[i]) < 0)
			return fail(why, "an SPL that is not a decimal 0..255", 400);
		seen |= 1u << i;
		q = amp ? amp + 1 : end;
	}
	if (seen != want)
		return fail(why, turin ? "blSPL, teeSPL, snpSPL, ucodeSPL and fmcSPL are required" :
					 "blSPL, teeSPL, snpSPL and ucodeSPL are required",
			    400);
	return 0;
}

int emu_kds_parse(const char *path, const char *query, struct emu_kds_req *r, const char **why)
{
	const char *p, *slash;
	size_t n;

	memset(r, 0, sizeof(*r));
	r->vlek = strncmp(path, "/vlek/v1/", 9) == 0;
	if (!r->vlek && strncmp(path, "/vcek/v1/", 9) != 0)
		return fail(why, "not a /vcek/v1/ or /vlek/v1/ path", 404);
	p = path + 9;
	slash = strchr(p, '/');
	if (!slash || slash == p || (size_t)(slash - p) >= sizeof(r->product))
		return fail(why, "no product name", 404);
	memcpy(r->product, p, (size_t)(slash - p));
	if (strcmp(r->product, "Milan") && strcmp(r->product, "Genoa") &&
	    strcmp(r->product, "Turin"))
		return fail(why, "an unknown product name (Milan, Genoa, Turin)", 404);
	p = slash + 1;
	if (strcmp(p, "cert_chain") == 0) {
		if (*query)
			return fail(why, "cert_chain takes no query", 400);
		r->cert_chain = true;
		return 0;
	}
	if (strcmp(p, "crl") == 0) {
		if (*query)
			return fail(why, "crl takes no query", 400);
		r->crl = true;
		return 0;
	}
	if (r->vlek)
		return fail(why, "VLEK certificates are not served per chip (the cloud provider "
				 "receives its VLEK certificate with the wrapped VLEK)",
			    404);
	n = strlen(p);
	r->hwid_len = strcmp(r->product, "Turin") == 0 ? 8 : 64;
	if (n != 2 * r->hwid_len)
		return fail(why, "a hwid of the wrong length (128 hex digits; Turin 16)", 400);
	for (size_t i = 0; i < r->hwid_len; i++) {
		int hi = hex_digit(p[2 * i]), lo = hex_digit(p[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return fail(why, "a hwid that is not hexadecimal", 400);
		r->hwid[i] = (uint8_t)(hi << 4 | lo);
	}
	return parse_query(query, r->hwid_len == 8, r, why);
}
