/* sevadm decommission: DELETE the guest in sevd — DEACTIVATE (when it holds an ASID) and
 * DECOMMISSION (SEV API §6.10, §6.12). The firmware forgets the guest's keys; sevd returns the
 * ASID to its pool (to be flushed before reuse) and answers 404 for the handle afterwards. */
#include <stdio.h>

#include "common/ossl.h"
#include "cli/guest.h"

static const char verb[] = "decommission";

static int help(void)
{
	printf("Usage: sevadm decommission HANDLE\n"
	       "\n"
	       "Deactivate the guest if it holds an ASID, then DECOMMISSION it: the firmware drops\n"
	       "its keys, the ASID goes back to sevd's pool. This cannot be undone.\n");
	return SEVADM_EXIT_OK;
}

int verb_decommission(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	_cleanup_(json_object_putp) json_object *res = NULL;
	uint32_t h;
	int r = guest_handle_args(verb, argc, argv, help, &h);

	if (r != 0)
		return r < 0 ? SEVADM_EXIT_OK : r;
	r = guest_simple_verb(ctx, verb, h, "DELETE", "", NULL, &res);
	if (r != 0)
		return r;
	if (ctx->json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();
		json_object_object_add(o, "handle", json_object_new_int64(h));
		json_object_object_add(o, "decommissioned", json_object_new_boolean(1));
		sevadm_print_json(o);
	} else
		printf("Guest %u decommissioned.\n", h);
	return SEVADM_EXIT_OK;
}
