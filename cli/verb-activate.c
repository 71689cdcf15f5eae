/* sevadm activate: ACTIVATE through sevd — bind the guest to an ASID. sevd picks the ASID from
 * its pool (the SEV-ES range for an ES policy, the SEV range otherwise) unless --asid asks for
 * one; the firmware refuses an ASID in use (ASID_OWNED), out of range (INVALID_ASID) or not yet
 * flushed (DFFLUSH_REQUIRED). Prints the ASID. */
#include <getopt.h>
#include <stdio.h>

#include "common/ossl.h"
#include "common/util.h"
#include "cli/guest.h"

static const char verb[] = "activate";

static int help(void)
{
	printf("Usage: sevadm activate HANDLE [--asid N]\n"
	       "\n"
	       "Bind the guest to an ASID (ACTIVATE) and print the ASID. Without --asid sevd picks\n"
	       "a free one of the right range (SEV-ES guests: 1..min_sev-1, SEV guests:\n"
	       "min_sev..max; see 'sevadm show asids').\n");
	return SEVADM_EXIT_OK;
}

static int on_option(int o, const char *arg, void *p)
{
	uint32_t *asid = p;

	if (o != 'a')
		return -1;
	if (parse_u32(arg, asid) < 0 || *asid == 0)
		return sevadm_usage(verb, "--asid %s: not an ASID (a number > 0)", arg);
	return 0;
}

static int parse_args(int argc, char **argv, uint32_t *handle, uint32_t *asid)
{
	static const struct option options[] = {
		{ "asid", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int r = guest_parse_options(verb, argc, argv, options, help, on_option, asid);

	if (r != 0)
		return r;
	if (argc - optind != 1)
		return sevadm_usage(verb, "needs exactly one HANDLE");
	return guest_parse_handle(verb, argv[optind], handle);
}

int verb_activate(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	_cleanup_(json_object_putp) json_object *res = NULL, *body = NULL;
	uint32_t h = 0, asid = 0;
	long long got;
	int r = parse_args(argc, argv, &h, &asid);

	if (r != 0)
		return r < 0 ? SEVADM_EXIT_OK : r;
	if (asid) {
		body = json_object_new_object();
		if (!body)
			return sevadm_fail(verb, "out of memory");
		json_object_object_add(body, "asid", json_object_new_int64(asid));
	}
	r = guest_simple_verb(ctx, verb, h, "POST", "/activate", body, &res);
	if (r != 0)
		return r;
	got = sevadm_json_int(res, "asid", 0);
	if (got <= 0)
		return sevadm_fail(verb, "guest %u: sevd answered ACTIVATE without a valid ASID", h);
	if (ctx->json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();
		json_object_object_add(o, "handle", json_object_new_int64(h));
		json_object_object_add(o, "asid", json_object_new_int64(got));
		sevadm_print_json(o);
	} else
		printf("%lld\n", got);
	return SEVADM_EXIT_OK;
}
