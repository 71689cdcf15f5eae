/* sevadm reset: FACTORY_RESET through sevd (POST /v1/platform/factory-reset): new OCA, PEK and
 * PDH, the owner's certificate gone. The firmware takes it only in UNINIT (SEV API 55766, FACTORY_RESET), so an
 * INIT platform is shut down first and initialized again afterwards, as Linux' SEV_FACTORY_RESET
 * ioctl does; a WORKING platform (guests alive) is refused. Destructive: asks first. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/ossl.h"
#include "cli/sevadm.h"

static int help(void)
{
	printf("Usage: sevadm reset [--yes]\n"
	       "\n"
	       "Factory-reset the SEV platform (FACTORY_RESET): the firmware makes a new\n"
	       "self-signed OCA, PEK and PDH; an imported owner certificate is lost and the\n"
	       "exported chain changes. Refused while guests are running.\n"
	       "\n"
	       "  -y, --yes   do not ask for confirmation (needed when stdin is not a terminal)\n");
	return SEVADM_EXIT_OK;
}

static int do_reset(struct http_client *c, json_object **ret)
{
	_cleanup_(json_object_putp) json_object *p = NULL, *tmp = NULL, *init = NULL;
	const char *state;
	int r;

	r = sevadm_call(c, "reset", "GET", "/v1/platform", NULL, &p, NULL);
	if (r != 0)
		return r;
	state = sevadm_json_str(p, "state", "");
	if (strcmp(state, "WORKING") == 0)
		return sevadm_fail("reset", "the platform is WORKING with %lld guest(s): decommission "
					    "them first (FACTORY_RESET would destroy them)",
				   sevadm_json_int(p, "guest_count", 0));
	/* Through /dev/sev the kernel SHUTs an INIT platform DOWN itself before FACTORY_RESET
	 * and user space can send neither SHUTDOWN nor INIT (sev-dev.c sev_ioctl_do_reset): the
	 * platform stays UNINIT after, until the kernel initializes it again. */
	if (strcmp(sevadm_json_str(p, "transport", ""), "dev") == 0)
		return sevadm_call(c, "reset", "POST", "/v1/platform/factory-reset", NULL, ret, NULL);
	if (strcmp(state, "INIT") == 0) {
		r = sevadm_call(c, "reset", "POST", "/v1/platform/shutdown", NULL, &tmp, NULL);
		if (r != 0)
			return r;
	}
	r = sevadm_call(c, "reset", "POST", "/v1/platform/factory-reset", NULL, ret, NULL);
	if (r != 0 || strcmp(state, "INIT") != 0)
		return r;
	/* Back to the state the operator had, with the same SEV-ES setting. */
	init = json_object_new_object();
	if (!init)
		return sevadm_fail("reset", "out of memory");
	json_object_object_add(init, "es", json_object_new_boolean(sevadm_json_bool(p, "es", true)));
	json_object_put(TAKE_PTR(tmp));
	return sevadm_call(c, "reset", "POST", "/v1/platform/init", init, &tmp, NULL);
}

int verb_reset(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "yes", no_argument, NULL, 'y' },
		{},
	};
	struct http_client *c = NULL;
	_cleanup_(json_object_putp) json_object *res = NULL;
	bool yes = false;
	int o, r;

	while ((o = getopt_long(argc, argv, "hy", options, NULL)) >= 0) {
		if (o == 'h')
			return help();
		if (o == 'y')
			yes = true;
		else
			return sevadm_bad_option("reset", argv);
	}
	if (optind != argc)
		return sevadm_usage("reset", "takes no arguments ('%s' given)", argv[optind]);
	if (!yes && !isatty(STDIN_FILENO))
		return sevadm_usage("reset", "refusing to factory-reset without confirmation: stdin "
					     "is not a terminal, pass --yes");
	if (!yes && !sevadm_confirm("Factory-reset the SEV platform? The owner certificate and "
				    "the PEK/PDH are replaced."))
		return sevadm_fail("reset", "not confirmed; nothing changed");
	r = sevadm_connect(ctx, "reset", &c);
	if (r != 0)
		return r;
	r = do_reset(c, &res);
	http_client_free(c);
	if (r != 0)
		return r;
	if (ctx->json)
		sevadm_print_json(res);
	else
		printf("Platform factory-reset: new OCA, PEK and PDH. Export the new chain with "
		       "'sevadm export'.\n");
	return SEVADM_EXIT_OK;
}
