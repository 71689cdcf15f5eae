/* A strict front check of JSON request bodies, run before json-c. json-c
 * takes what RFC 8259 does not ({"a":1,} single quotes, 01, comments) and keeps the last of
 * duplicate keys, so a proxy or a client library that reads the same bytes could see another
 * request than sevd. This accepts RFC 8259 JSON with sevd's own narrowings:
 *   - no duplicate key in an object, and keys without escapes (so two spellings of one key
 *     cannot hide a duplicate);
 *   - numbers are integers: no fraction, no exponent, no leading zero, no "-0", and they fit
 *     in 64 signed bits (no API field takes anything else);
 *   - strings are valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF), with
 *     escapes only as RFC 8259 spells them; a \u escape of a surrogate must pair; no NUL
 *     (raw or \u0000): no API string holds one;
 *   - at most JSON_STRICT_DEPTH nested arrays/objects and JSON_STRICT_KEYS keys per object;
 *   - one value, surrounded by JSON whitespace only.
 * Parses untrusted bytes: fuzzed (tests/fuzz/fuzz-daemon-json-strict.c). */
#pragma once

#include <stddef.h>

#define JSON_STRICT_DEPTH 16
#define JSON_STRICT_KEYS 64

/* 0 when buf[0..len) passes; -EINVAL with `why` naming the first problem and its byte
 * offset ("byte 12: a comma before '}' (trailing commas are not JSON)"). */
int json_strict_check(const char *buf, size_t len, char *why, size_t whylen);
