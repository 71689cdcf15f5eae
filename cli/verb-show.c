/* sevadm show platform|asids|guests: the daemon's view as human tables, or with --json as JSON
 * of a stable shape: the documented fields in a fixed order (null when the daemon did not send
 * one), so scripts do not break when sevd adds fields. Daemon values are type-checked. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/ossl.h"
#include "cli/guest.h"
#include "cli/sevadm.h"
#include "policy/guest-policy.h"

static int help(void)
{
	printf("Usage: sevadm show platform|asids|guests\n"
	       "\n"
	       "  platform   firmware API version and build, platform state, owner, SEV-ES,\n"
	       "             guest count and the CPUID-derived ASID ranges\n"
	       "  asids      the ASID pool: ranges, used/free/flush-pending counts, holders\n"
	       "  guests     the guests sevd knows: handle, name, state, policy, ASID\n"
	       "\n"
	       "With the global --json option the output is JSON with a stable shape.\n");
	return SEVADM_EXIT_OK;
}

/* A copy of `in` holding exactly `keys`, in that order; a key holding an object is reshaped by
 * the matching entry of `sub` (NULL: copied as is). */
struct shape {
	const char *key;
	const struct shape *sub; /* for objects */
	bool array_of_sub;	 /* sub applies to each element of an array */
};

static json_object *reshape(json_object *in, const struct shape *s)
{
	json_object *out = json_object_new_object();

	for (; out && s->key; s++) {
		json_object *v = NULL, *nv = NULL;
		if (!json_object_object_get_ex(in, s->key, &v) || !v)
			nv = NULL;
		else if (s->sub && !s->array_of_sub && json_object_is_type(v, json_type_object))
			nv = reshape(v, s->sub);
		else if (s->sub && s->array_of_sub && json_object_is_type(v, json_type_array)) {
			nv = json_object_new_array();
			for (size_t i = 0; nv && i < json_object_array_length(v); i++)
				json_object_array_add(nv, reshape(json_object_array_get_idx(v, i),
								  s->sub));
		} else
			nv = json_object_get(v);
		json_object_object_add(out, s->key, nv);
	}
	return out;
}

static const struct shape shape_ranges[] = {
	{ "max" }, { "min_sev" }, { "es_range" }, { "sev_range" }, {},
};
static const struct shape shape_platform[] = {
	{ "api_major" }, { "api_minor" }, { "build" }, { "state" }, { "owner" }, { "es" },
	{ "guest_count" }, { "flags" }, { "transport" }, { "asids", shape_ranges }, {},
};
static const struct shape shape_class[] = {
	{ "total" }, { "used" }, { "free" }, { "flush_pending" }, {},
};
static const struct shape shape_holder[] = { { "asid" }, { "type" }, { "holder" }, {} };
static const struct shape shape_asids[] = {
	{ "max" }, { "min_sev" }, { "es_range" }, { "sev_range" }, { "used" }, { "free" },
	{ "flush_pending" }, { "flushes" }, { "es", shape_class }, { "sev", shape_class },
	{ "holders", shape_holder, true }, { "pending" }, {},
};
static const struct shape shape_guest[] = {
	{ "handle" }, { "name" }, { "state" }, { "policy" }, { "asid" }, { "tenant" }, { "es" },
	{ "memory_size" }, { "data_bytes" }, { "measurement" }, { "mnonce" }, { "created" },
	{ "updated" }, { "id" }, {},
};
static const struct shape shape_guests[] = { { "guests", shape_guest, true }, {} };

/* "1..99" from a [first, last] array, "none" for []. */
static const char *range_str(json_object *obj, const char *key, char *buf, size_t len)
{
	json_object *a;

	if (!json_object_object_get_ex(obj, key, &a) || !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) != 2)
		return "none";
	snprintf(buf, len, "%d..%d", json_object_get_int(json_object_array_get_idx(a, 0)),
		 json_object_get_int(json_object_array_get_idx(a, 1)));
	return buf;
}

static void print_platform(json_object *p)
{
	json_object *asids = NULL;
	char es[32], sev[32];

	json_object_object_get_ex(p, "asids", &asids);
	printf("API version      %lld.%lld (build %lld)\n", sevadm_json_int(p, "api_major", -1),
	       sevadm_json_int(p, "api_minor", -1), sevadm_json_int(p, "build", -1));
	printf("state            %s\n", sevadm_json_str(p, "state", "?"));
	printf("owner            %s\n", strcmp(sevadm_json_str(p, "owner", ""), "external") == 0
					     ? "external (owner certificate imported)"
					     : "self-owned");
	printf("SEV-ES           %s\n", sevadm_json_bool(p, "es", false) ? "initialized with ES"
									 : "not initialized with ES");
	printf("guests           %lld\n", sevadm_json_int(p, "guest_count", 0));
	printf("flags            0x%llx\n", sevadm_json_int(p, "flags", 0));
	printf("PSP transport    %s\n", sevadm_json_str(p, "transport", "?"));
	printf("ASIDs            1..%lld (SEV-ES %s, SEV %s)\n", sevadm_json_int(asids, "max", 0),
	       range_str(asids, "es_range", es, sizeof(es)),
	       range_str(asids, "sev_range", sev, sizeof(sev)));
}

static void print_class(const char *name, json_object *asids, const char *key, const char *range)
{
	json_object *cl = NULL;

	json_object_object_get_ex(asids, key, &cl);
	printf("%-7s %-11s %6lld %6lld %6lld %14lld\n", name, range, sevadm_json_int(cl, "total", 0),
	       sevadm_json_int(cl, "used", 0), sevadm_json_int(cl, "free", 0),
	       sevadm_json_int(cl, "flush_pending", 0));
}

static void print_asids(json_object *a)
{
	json_object *holders = NULL, *pending = NULL;
	char es[32], sev[32];

	printf("%-7s %-11s %6s %6s %6s %14s\n", "CLASS", "RANGE", "TOTAL", "USED", "FREE",
	       "FLUSH-PENDING");
	print_class("SEV-ES", a, "es", range_str(a, "es_range", es, sizeof(es)));
	print_class("SEV", a, "sev", range_str(a, "sev_range", sev, sizeof(sev)));
	char all[32];
	snprintf(all, sizeof(all), "1..%lld", sevadm_json_int(a, "max", 0));
	printf("%-7s %-11s %6lld %6lld %6lld %14lld\n", "all", all, sevadm_json_int(a, "max", 0),
	       sevadm_json_int(a, "used", 0), sevadm_json_int(a, "free", 0),
	       sevadm_json_int(a, "flush_pending", 0));
	printf("\nWBINVD + DF_FLUSH batches since start: %lld\n", sevadm_json_int(a, "flushes", 0));
	if (json_object_object_get_ex(a, "holders", &holders) &&
	    json_object_is_type(holders, json_type_array) && json_object_array_length(holders)) {
		printf("\n%-6s %-6s %s\n", "ASID", "TYPE", "HOLDER");
		for (size_t i = 0; i < json_object_array_length(holders); i++) {
			json_object *h = json_object_array_get_idx(holders, i);
			printf("%-6lld %-6s %s\n", sevadm_json_int(h, "asid", 0),
			       sevadm_json_str(h, "type", "?"), sevadm_json_str(h, "holder", "?"));
		}
	}
	if (json_object_object_get_ex(a, "pending", &pending) &&
	    json_object_is_type(pending, json_type_array) && json_object_array_length(pending)) {
		printf("\nawaiting DF_FLUSH:");
		for (size_t i = 0; i < json_object_array_length(pending); i++)
			printf(" %d", json_object_get_int(json_object_array_get_idx(pending, i)));
		printf("\n");
	}
}

static void print_guests(json_object *g)
{
	json_object *list = NULL;
	size_t n = 0;

	if (json_object_object_get_ex(g, "guests", &list) && json_object_is_type(list, json_type_array))
		n = json_object_array_length(list);
	if (n == 0) {
		printf("No guests.\n");
		return;
	}
	printf("%-8s %-20s %-10s %-32s %-6s %s\n", "HANDLE", "NAME", "STATE", "POLICY", "ASID",
	       "TENANT");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(list, i);
		long long asid = sevadm_json_int(e, "asid", 0);
		uint32_t policy = guest_policy_value(e, "policy", 0);
		_cleanup_free_ char *words = policy_describe(policy);
		char asid_s[24] = "-", pol[64];
		if (asid > 0)
			snprintf(asid_s, sizeof(asid_s), "%lld", asid);
		/* The policy as a number and in words (cli/verb-launch.c takes either). */
		snprintf(pol, sizeof(pol), "0x%x %s", policy, words ? words : "");
		printf("%-8lld %-20s %-10s %-32s %-6s %s\n", sevadm_json_int(e, "handle", 0),
		       sevadm_json_str(e, "name", "-"), sevadm_json_str(e, "state", "?"), pol, asid_s,
		       sevadm_json_str(e, "tenant", "-"));
	}
}

static const struct show_what {
	const char *name;
	const char *path;
	const struct shape *shape;
	void (*print)(json_object *obj);
} whats[] = {
	{ "platform", "/v1/platform", shape_platform, print_platform },
	{ "asids", "/v1/asids", shape_asids, print_asids },
	{ "guests", "/v1/guests", shape_guests, print_guests },
};

int verb_show(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = { { "help", no_argument, NULL, 'h' }, {} };
	_cleanup_(json_object_putp) json_object *res = NULL, *out = NULL;
	const struct show_what *w = NULL;
	struct http_client *c = NULL;
	int o, r;

	while ((o = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		if (o == 'h')
			return help();
		return sevadm_bad_option("show", argv);
	}
	if (argc - optind != 1)
		return sevadm_usage("show", "needs one of: platform, asids, guests");
	for (size_t i = 0; i < ELEMENTSOF(whats); i++)
		if (strcmp(argv[optind], whats[i].name) == 0)
			w = &whats[i];
	if (!w)
		return sevadm_usage("show", "unknown '%s': use platform, asids or guests",
				    argv[optind]);
	r = sevadm_connect(ctx, "show", &c);
	if (r != 0)
		return r;
	r = sevadm_call(c, "show", "GET", w->path, NULL, &res, NULL);
	http_client_free(c);
	if (r != 0)
		return r;
	if (!json_object_is_type(res, json_type_object))
		return sevadm_fail("show", "sevd answered %s with something other than a JSON object",
				   w->path);
	if (ctx->json) {
		out = reshape(res, w->shape);
		if (!out)
			return sevadm_fail("show", "out of memory");
		sevadm_print_json(out);
	} else
		w->print(res);
	return SEVADM_EXIT_OK;
}
