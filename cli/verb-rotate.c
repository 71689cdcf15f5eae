/* sevadm rotate: PDH_GEN through sevd (POST /v1/platform/pdh) — a new platform Diffie-Hellman
 * key, so sessions built for the old PDH no longer start. As sevctl rotate. */
#include <getopt.h>
#include <stdio.h>

#include "common/ossl.h"
#include "cli/sevadm.h"

static int help(void)
{
	printf("Usage: sevadm rotate\n"
	       "\n"
	       "Generate a new PDH (PDH_GEN). Guest owners must fetch the new chain\n"
	       "('sevadm export') before building new launch sessions.\n"
	       "An UNINIT platform is initialized for the command and shut down again.\n");
	return SEVADM_EXIT_OK;
}

int verb_rotate(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = { { "help", no_argument, NULL, 'h' }, {} };
	struct http_client *c = NULL;
	_cleanup_(json_object_putp) json_object *res = NULL;
	bool was_uninit;
	int o, r;

	while ((o = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		if (o == 'h')
			return help();
		return sevadm_bad_option("rotate", argv);
	}
	if (optind != argc)
		return sevadm_usage("rotate", "takes no arguments ('%s' given)", argv[optind]);
	r = sevadm_connect(ctx, "rotate", &c);
	if (r != 0)
		return r;
	r = sevadm_platform_prepare(c, "rotate", &was_uninit);
	if (r == 0)
		r = sevadm_call(c, "rotate", "POST", "/v1/platform/pdh", NULL, &res, NULL);
	if (r == 0)
		r = sevadm_platform_restore(c, "rotate", was_uninit);
	else
		(void)sevadm_platform_restore(c, "rotate", was_uninit);
	http_client_free(c);
	if (r != 0)
		return r;
	if (ctx->json)
		sevadm_print_json(res);
	else
		printf("New PDH generated. Guest owners need the new chain: sevadm export.\n");
	return SEVADM_EXIT_OK;
}
