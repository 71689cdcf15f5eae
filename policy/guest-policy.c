/* Guest policy decoding: see guest-policy.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/macros.h"
#include "common/util.h"
#include "policy/guest-policy.h"
#include "psp/sev-abi.h"

static const struct {
	uint32_t bit;
	const char *name;
} policy_flags[] = {
	{ SEV_POLICY_NODBG, "NODBG" },	   { SEV_POLICY_NOKS, "NOKS" },
	{ SEV_POLICY_ES, "ES" },	   { SEV_POLICY_NOSEND, "NOSEND" },
	{ SEV_POLICY_DOMAIN, "DOMAIN" }, { SEV_POLICY_SEV, "SEV" },
};

char *policy_describe(uint32_t policy)
{
	char buf[128] = "";
	size_t n = 0;
	char *s;

	for (size_t i = 0; i < ELEMENTSOF(policy_flags); i++)
		if (policy & policy_flags[i].bit)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? " " : "",
					      policy_flags[i].name);
	if (SEV_POLICY_API_MAJOR(policy) || SEV_POLICY_API_MINOR(policy))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sAPI>=%u.%u", n ? " " : "",
				      SEV_POLICY_API_MAJOR(policy), SEV_POLICY_API_MINOR(policy));
	if (policy & POLICY_RESERVED_MASK)
		snprintf(buf + n, sizeof(buf) - n, "%sRESERVED(0x%x)", n ? " " : "",
			 policy & POLICY_RESERVED_MASK);
	s = strdup(n || (policy & POLICY_RESERVED_MASK) ? buf : "none");
	return s;
}

json_object *policy_to_json(uint32_t policy)
{
	json_object *o = json_object_new_object(), *flags = json_object_new_array();
	char hex[16], api[16];

	for (size_t i = 0; i < ELEMENTSOF(policy_flags); i++)
		if (policy & policy_flags[i].bit)
			json_object_array_add(flags, json_object_new_string(policy_flags[i].name));
	snprintf(hex, sizeof(hex), "0x%08x", policy);
	snprintf(api, sizeof(api), "%u.%u", SEV_POLICY_API_MAJOR(policy),
		 SEV_POLICY_API_MINOR(policy));
	json_object_object_add(o, "value", json_object_new_int64(policy));
	json_object_object_add(o, "hex", json_object_new_string(hex));
	json_object_object_add(o, "flags", flags);
	json_object_object_add(o, "api_min", json_object_new_string(api));
	return o;
}

static int policy_flag_bit(const char *word, size_t len, uint32_t *ret)
{
	for (size_t i = 0; i < ELEMENTSOF(policy_flags); i++)
		if (strlen(policy_flags[i].name) == len &&
		    strncasecmp(word, policy_flags[i].name, len) == 0) {
			*ret = policy_flags[i].bit;
			return 0;
		}
	return -EINVAL;
}

int policy_parse(const char *s, uint32_t *ret)
{
	uint32_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	if (parse_u32(s, &v) == 0) {
		if (v & POLICY_RESERVED_MASK)
			return -EINVAL;
		*ret = v;
		return 0;
	}
	while (*s) {
		size_t len = strcspn(s, ",|");
		uint32_t bit;

		if (len == 0 || policy_flag_bit(s, len, &bit) < 0)
			return -EINVAL;
		v |= bit;
		s += len;
		if (*s)
			s++;
	}
	*ret = v;
	return 0;
}
