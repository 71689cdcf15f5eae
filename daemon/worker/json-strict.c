/* The strict JSON front check (json-strict.h): a recursive descent over RFC 8259's grammar
 * (§2 values and whitespace, §4 objects, §5 arrays, §6 numbers, §7 strings, §8.1 UTF-8),
 * with sevd's narrowings. Reads only buf[0..len); never allocates. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "daemon/worker/json-strict.h"

struct jp {
	const unsigned char *start, *p, *end;
	char *why;
	size_t whylen;
	unsigned depth;
};

struct key {
	const unsigned char *p;
	size_t len;
};

static int value(struct jp *j);

__attribute__((format(printf, 3, 4))) static int fail(struct jp *j, const unsigned char *at,
						      const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!j->whylen)
		return -EINVAL;
	n = snprintf(j->why, j->whylen, "byte %zu: ", (size_t)(at - j->start));
	if (n >= 0 && (size_t)n < j->whylen) {
		va_start(ap, fmt);
		vsnprintf(j->why + n, j->whylen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* 'c' or 0xNN, for messages. */
static const char *show(unsigned char c, char buf[8])
{
	if (c > 0x20 && c < 0x7f)
		snprintf(buf, 8, "'%c'", c);
	else
		snprintf(buf, 8, "0x%02x", c);
	return buf;
}

static void ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool at_end(const struct jp *j)
{
	return j->p >= j->end;
}

static int hex4(struct jp *j, uint32_t *ret)
{
	uint32_t v = 0;

	if (j->end - j->p < 4)
		return fail(j, j->p, "a \\u escape needs 4 hex digits");
	for (int i = 0; i < 4; i++) {
		unsigned char c = j->p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return fail(j, j->p + i, "a \\u escape needs 4 hex digits");
	}
	j->p += 4;
	*ret = v;
	return 0;
}

/* After "\u": one code point, a surrogate pair counted as one. */
static int unicode_escape(struct jp *j)
{
	const unsigned char *at = j->p - 2;
	uint32_t cp, lo;

	if (hex4(j, &cp) < 0)
		return -EINVAL;
	if (cp == 0)
		return fail(j, at, "\\u0000 (NUL) in a string: no API string holds one");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(j, at, "a lone low surrogate \\u%04X", (unsigned)cp);
	if (cp < 0xd800 || cp > 0xdbff)
		return 0;
	if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
		return fail(j, at, "a high surrogate \\u%04X without its low half", (unsigned)cp);
	j->p += 2;
	if (hex4(j, &lo) < 0)
		return -EINVAL;
	if (lo < 0xdc00 || lo > 0xdfff)
		return fail(j, at, "a high surrogate \\u%04X without its low half", (unsigned)cp);
	return 0;
}

static int escape(struct jp *j)
{
	char b[8];

	j->p++; /* the backslash */
	if (at_end(j))
		return fail(j, j->p, "the body ends inside an escape");
	if (strchr("\"\\/bfnrt", *j->p) && *j->p) {
		j->p++;
		return 0;
	}
	if (*j->p == 'u') {
		j->p++;
		return unicode_escape(j);
	}
	return fail(j, j->p - 1, "\\%s is not a JSON escape", show(*j->p, b));
}

static bool cont(const unsigned char *p, const unsigned char *end, int k)
{
	for (int i = 1; i <= k; i++)
		if (p + i >= end || (p[i] & 0xc0) != 0x80)
			return false;
	return true;
}

/* One UTF-8 sequence starting at a byte >= 0x80 (RFC 3629 §4: shortest form, no surrogates,
 * at most U+10FFFF). */
static int utf8(struct jp *j)
{
	const unsigned char *p = j->p;
	unsigned char c = p[0], c1 = p + 1 < j->end ? p[1] : 0;
	int k;

	if (c >= 0xc2 && c <= 0xdf)
		k = 1;
	else if ((c == 0xe0 && c1 >= 0xa0) || (c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef ||
		 (c == 0xed && c1 <= 0x9f))
		k = 2;
	else if ((c == 0xf0 && c1 >= 0x90) || (c >= 0xf1 && c <= 0xf3) || (c == 0xf4 && c1 <= 0x8f))
		k = 3;
	else
		return fail(j, p, "invalid UTF-8 (byte 0x%02x)", c);
	if (!cont(p, j->end, k))
		return fail(j, p, "invalid UTF-8 (a truncated sequence from 0x%02x)", c);
	j->p += k + 1;
	return 0;
}

/* A string at j->p ('"'). A key (ret_key set) may not hold escapes. */
static int string(struct jp *j, struct key *ret_key)
{
	const unsigned char *open = j->p++;

	while (!at_end(j)) {
		unsigned char c = *j->p;

		if (c == '"') {
			if (ret_key)
				*ret_key = (struct key){ open + 1, (size_t)(j->p - open - 1) };
			j->p++;
			return 0;
		}
		if (c == '\\') {
			if (ret_key)
				return fail(j, j->p, "an escape in an object key: write keys plainly");
			if (escape(j) < 0)
				return -EINVAL;
		} else if (c == 0) {
			return fail(j, j->p, "a NUL byte in a string");
		} else if (c < 0x20) {
			return fail(j, j->p, "control character 0x%02x in a string (escape it)", c);
		} else if (c >= 0x80) {
			if (utf8(j) < 0)
				return -EINVAL;
		} else {
			j->p++;
		}
	}
	return fail(j, open, "a string that never ends");
}

/* -?(0|[1-9][0-9]*) within int64, not -0. */
static int number(struct jp *j)
{
	static const char max[] = "9223372036854775807", min[] = "9223372036854775808";
	const unsigned char *at = j->p, *d;
	bool neg = *j->p == '-';
	size_t n;

	if (neg)
		j->p++;
	d = j->p;
	if (at_end(j) || *j->p < '0' || *j->p > '9')
		return fail(j, at, "a '-' without digits");
	while (!at_end(j) && *j->p >= '0' && *j->p <= '9')
		j->p++;
	n = (size_t)(j->p - d);
	if (*d == '0' && n > 1)
		return fail(j, at, "a number with a leading zero (%.*s): write it without",
			    (int)(n > 24 ? 24 : n) + neg, (const char *)at);
	if (*d == '0' && neg)
		return fail(j, at, "-0 is not an integer sevd takes (write 0)");
	if (!at_end(j) && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
		return fail(j, at, "a fraction or an exponent: every number sevd takes is an integer");
	if (n > 19 || (n == 19 && memcmp(d, neg ? min : max, 19) > 0))
		return fail(j, at,
			    "the number %.*s%s does not fit in 64 bits (-2^63 .. 2^63-1); no field "
			    "takes one that large",
			    (int)(n > 24 ? 24 : n) + neg, (const char *)at, n > 24 ? "..." : "");
	return 0;
}

static int literal(struct jp *j)
{
	static const char *const words[] = { "true", "false", "null" };

	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(words[i]);

		if ((size_t)(j->end - j->p) >= n && !memcmp(j->p, words[i], n)) {
			j->p += n;
			return 0;
		}
	}
	return fail(j, j->p, "not a JSON value (literals are true, false and null)");
}

static int enter(struct jp *j)
{
	if (++j->depth > JSON_STRICT_DEPTH)
		return fail(j, j->p, "nested deeper than %d arrays/objects", JSON_STRICT_DEPTH);
	j->p++;
	ws(j);
	return 0;
}

/* After a member or element: ',' (not before the close) or the close. 1 when closed. */
static int next_or_close(struct jp *j, unsigned char close, const char *what)
{
	char b[8];

	ws(j);
	if (at_end(j))
		return fail(j, j->p, "the body ends inside an %s", what);
	if (*j->p == close) {
		j->p++;
		j->depth--;
		return 1;
	}
	if (*j->p != ',')
		return fail(j, j->p, "%s after a %s value: expected ',' or '%c'", show(*j->p, b),
			    what, close);
	j->p++;
	ws(j);
	if (!at_end(j) && *j->p == close)
		return fail(j, j->p - 1, "a comma before '%c' (trailing commas are not JSON)", close);
	return 0;
}

static int object(struct jp *j)
{
	struct key keys[JSON_STRICT_KEYS];
	unsigned n = 0;
	int r;

	if (enter(j) < 0)
		return -EINVAL;
	if (!at_end(j) && *j->p == '}') {
		j->p++;
		j->depth--;
		return 0;
	}
	for (;;) {
		const unsigned char *at = j->p;
		struct key k;

		if (at_end(j) || *j->p != '"')
			return fail(j, j->p, at_end(j) || *j->p != '\''
						     ? "an object key must be a string in double quotes"
						     : "single quotes are not JSON: use double quotes");
		if (string(j, &k) < 0)
			return -EINVAL;
		for (unsigned i = 0; i < n; i++)
			if (keys[i].len == k.len && !memcmp(keys[i].p, k.p, k.len))
				return fail(j, at, "the key \"%.*s\" appears twice in one object",
					    (int)(k.len > 40 ? 40 : k.len), (const char *)k.p);
		if (n == JSON_STRICT_KEYS)
			return fail(j, at, "more than %d keys in one object", JSON_STRICT_KEYS);
		keys[n++] = k;
		ws(j);
		if (at_end(j) || *j->p != ':')
			return fail(j, j->p, "expected ':' after an object key");
		j->p++;
		ws(j);
		if (value(j) < 0)
			return -EINVAL;
		r = next_or_close(j, '}', "object");
		if (r != 0)
			return r < 0 ? r : 0;
	}
}

static int array(struct jp *j)
{
	int r;

	if (enter(j) < 0)
		return -EINVAL;
	if (!at_end(j) && *j->p == ']') {
		j->p++;
		j->depth--;
		return 0;
	}
	for (;;) {
		if (value(j) < 0)
			return -EINVAL;
		r = next_or_close(j, ']', "array");
		if (r != 0)
			return r < 0 ? r : 0;
	}
}

static int value(struct jp *j)
{
	char b[8];

	if (at_end(j))
		return fail(j, j->p, "the body ends where a value was expected");
	switch (*j->p) {
	case '{':
		return object(j);
	case '[':
		return array(j);
	case '"':
		return string(j, NULL);
	case '-':
	case '0' ... '9':
		return number(j);
	case 't':
	case 'f':
	case 'n':
		return literal(j);
	case '\'':
		return fail(j, j->p, "single quotes are not JSON: use double quotes");
	case '/':
		return fail(j, j->p, "comments are not JSON");
	default:
		return fail(j, j->p, "%s cannot start a JSON value", show(*j->p, b));
	}
}

int json_strict_check(const char *buf, size_t len, char *why, size_t whylen)
{
	struct jp j = { .start = (const unsigned char *)buf,
			.p = (const unsigned char *)buf,
			.end = (const unsigned char *)buf + len,
			.why = why,
			.whylen = whylen };
	char b[8];

	if (whylen)
		why[0] = '\0';
	ws(&j);
	if (value(&j) < 0)
		return -EINVAL;
	ws(&j);
	if (!at_end(&j))
		return fail(&j, j.p, "%s after the JSON value: send one value only",
			    show(*j.p, b));
	return 0;
}
