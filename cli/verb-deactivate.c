/* sevadm deactivate: DEACTIVATE through sevd (SEV API §6.10) — unbind the guest from its ASID,
 * which goes to sevd's pending-flush set (WBINVD + DF_FLUSH before reuse). The guest keeps its
 * keys; 'sevadm activate' binds it to an ASID again. */
#include <stdio.h>

#include "common/ossl.h"
#include "cli/guest.h"

static const char verb[] = "deactivate";

static int help(void)
{
	printf("Usage: sevadm deactivate HANDLE\n"
	       "\n"
	       "Unbind the guest from its ASID (DEACTIVATE). The guest keeps its keys and state;\n"
	       "'sevadm activate HANDLE' binds a new ASID, 'sevadm decommission' ends it.\n");
	return SEVADM_EXIT_OK;
}

int verb_deactivate(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	_cleanup_(json_object_putp) json_object *res = NULL;
	uint32_t h;
	int r = guest_handle_args(verb, argc, argv, help, &h);

	if (r != 0)
		return r < 0 ? SEVADM_EXIT_OK : r;
	r = guest_simple_verb(ctx, verb, h, "POST", "/deactivate", NULL, &res);
	if (r != 0)
		return r;
	if (ctx->json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();
		json_object_object_add(o, "handle", json_object_new_int64(h));
		json_object_object_add(o, "state",
				       json_object_new_string(sevadm_json_str(res, "state", "?")));
		sevadm_print_json(o);
	} else
		printf("Guest %u deactivated (state %s); its ASID awaits DF_FLUSH.\n", h,
		       sevadm_json_str(res, "state", "?"));
	return SEVADM_EXIT_OK;
}
