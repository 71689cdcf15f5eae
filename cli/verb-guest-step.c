/* sevadm finish | deactivate | decommission: one guest step through sevd each, the same verb
 * shape (a handle in, one request, one line or JSON object out), so one table row each.
 *   finish:       LAUNCH_FINISH (SEV API §6.7): LSECRET -> RUNNING; from then on no secret can
 *                 be injected and the launch can no longer change.
 *   deactivate:   DEACTIVATE (§6.10): the guest leaves its ASID, which goes to sevd's
 *                 pending-flush set (WBINVD + DF_FLUSH before reuse); it keeps its keys and
 *                 'sevadm activate' binds it again.
 *   decommission: DELETE in sevd: DEACTIVATE when it holds an ASID, then DECOMMISSION (§6.12);
 *                 the firmware forgets the keys and sevd answers 404 for the handle after. */
#include <stdio.h>

#include "common/ossl.h"
#include "cli/guest.h"

struct guest_step {
	const char *verb, *usage, *method, *path;
	void (*report)(const struct sevadm_ctx *ctx, uint32_t h, json_object *res);
};

static void report_state(const struct sevadm_ctx *ctx, uint32_t h, json_object *res,
			 const char *fallback, const char *fmt)
{
	const char *state = sevadm_json_str(res, "state", fallback);

	if (ctx->json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();
		json_object_object_add(o, "handle", json_object_new_int64(h));
		json_object_object_add(o, "state", json_object_new_string(state));
		sevadm_print_json(o);
	} else {
		printf(fmt, h, state, h);
	}
}

static void report_finish(const struct sevadm_ctx *ctx, uint32_t h, json_object *res)
{
	report_state(ctx, h, res, "RUNNING",
		     "Guest %u finished its launch (state %s). Next: sevadm activate %u\n");
}

static void report_deactivate(const struct sevadm_ctx *ctx, uint32_t h, json_object *res)
{
	report_state(ctx, h, res, "?", "Guest %u deactivated (state %s); its ASID awaits DF_FLUSH.\n");
}

static void report_decommission(const struct sevadm_ctx *ctx, uint32_t h, json_object *res)
{
	(void)res;
	if (ctx->json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();
		json_object_object_add(o, "handle", json_object_new_int64(h));
		json_object_object_add(o, "decommissioned", json_object_new_boolean(1));
		sevadm_print_json(o);
	} else {
		printf("Guest %u decommissioned.\n", h);
	}
}

static const struct guest_step steps[] = {
    {"finish",
     "Finish the guest's launch (LAUNCH_FINISH): LSECRET -> RUNNING. Measure the guest\n"
     "first ('sevadm measure'), and inject secrets before this. Then: sevadm activate.\n",
     "POST", "/finish", report_finish},
    {"deactivate",
     "Unbind the guest from its ASID (DEACTIVATE). The guest keeps its keys and state;\n"
     "'sevadm activate HANDLE' binds a new ASID, 'sevadm decommission' ends it.\n",
     "POST", "/deactivate", report_deactivate},
    {"decommission",
     "Deactivate the guest if it holds an ASID, then DECOMMISSION it: the firmware drops\n"
     "its keys, the ASID goes back to sevd's pool. This cannot be undone.\n",
     "DELETE", "", report_decommission},
};

static const struct guest_step *current;

static int help(void)
{
	printf("Usage: sevadm %s HANDLE\n\n%s", current->verb, current->usage);
	return SEVADM_EXIT_OK;
}

static int run_step(const struct guest_step *s, const struct sevadm_ctx *ctx, int argc,
		    char **argv)
{
	_cleanup_(json_object_putp) json_object *res = NULL;
	uint32_t h;
	int r;

	current = s;
	r = guest_handle_args(s->verb, argc, argv, help, &h);
	if (r != 0)
		return r < 0 ? SEVADM_EXIT_OK : r;
	r = guest_simple_verb(ctx, s->verb, h, s->method, s->path, NULL, &res);
	if (r != 0)
		return r;
	s->report(ctx, h, res);
	return SEVADM_EXIT_OK;
}

int verb_finish(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	return run_step(&steps[0], ctx, argc, argv);
}

int verb_deactivate(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	return run_step(&steps[1], ctx, argc, argv);
}

int verb_decommission(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	return run_step(&steps[2], ctx, argc, argv);
}
