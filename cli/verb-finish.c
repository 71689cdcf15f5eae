/* sevadm finish: LAUNCH_FINISH through sevd. The guest moves from LSECRET to RUNNING (SEV API
 * §6.7); from then on no secret can be injected and the launch can no longer change. */
#include <stdio.h>

#include "common/ossl.h"
#include "cli/guest.h"

static const char verb[] = "finish";

static int help(void)
{
	printf("Usage: sevadm finish HANDLE\n"
	       "\n"
	       "Finish the guest's launch (LAUNCH_FINISH): LSECRET -> RUNNING. Measure the guest\n"
	       "first ('sevadm measure'), and inject secrets before this. Then: sevadm activate.\n");
	return SEVADM_EXIT_OK;
}

int verb_finish(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	_cleanup_(json_object_putp) json_object *res = NULL;
	uint32_t h;
	int r = guest_handle_args(verb, argc, argv, help, &h);

	if (r != 0)
		return r < 0 ? SEVADM_EXIT_OK : r;
	r = guest_simple_verb(ctx, verb, h, "POST", "/finish", NULL, &res);
	if (r != 0)
		return r;
	if (ctx->json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();
		json_object_object_add(o, "handle", json_object_new_int64(h));
		json_object_object_add(o, "state",
				       json_object_new_string(sevadm_json_str(res, "state", "RUNNING")));
		sevadm_print_json(o);
	} else
		printf("Guest %u finished its launch (state %s). Next: sevadm activate %u\n", h,
		       sevadm_json_str(res, "state", "RUNNING"), h);
	return SEVADM_EXIT_OK;
}
