/* Guest policy words (SEV API §3 "Guest Policy"): decode the 32-bit policy into names for
 * humans and JSON, and check its reserved bits. Pure code. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

/* Bits 6..15 are reserved and must be zero. */
#define POLICY_RESERVED_MASK 0x0000ffc0u

/* "NODBG NOKS ES API>=1.0" style text (newly allocated); "none" for 0. */
char *policy_describe(uint32_t policy);
/* {"value": N, "hex": "0x..", "flags": ["NODBG", ...], "api_min": "1.0"} */
json_object *policy_to_json(uint32_t policy);
/* Parse what users type: a number (decimal or 0x) or flag words joined by ',' or '|'
 * ("nodbg,es"). -EINVAL for unknown words or reserved bits. */
int policy_parse(const char *s, uint32_t *ret);
