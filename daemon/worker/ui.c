/* The status page (daemon/worker/ui/README.md): the HTML shell and its assets, embedded at
 * build time (ui-assets.h), and GET /ui/state, one JSON snapshot of everything the page shows:
 * health, platform, the ASID pool cell by cell, the recent firmware failures and, when asked
 * (?guests=1), the guests. The guest list costs one GUEST_STATUS per guest (daemon/core/guest.c),
 * so the page asks for it only every few polls and when the pool or the firmware's guest count
 * changed; everything else costs at most one PLATFORM_STATUS a poll. Unprivileged side of the seam:
 * every piece comes from a core call (core.h), as for the REST routes. A section whose core call
 * fails is null with its error beside it, so that one refused firmware command (an unhealthy PSP)
 * leaves the rest of the page working. */
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/macros.h"
#include "common/ossl.h"
#include "daemon/worker/api-internal.h"
#include "daemon/core/core.h"
#include "daemon/worker/ui-assets.h"
#include "daemon/worker/ui.h"
#include "policy/guest-policy.h"

/* The page runs only its own script and style (no inline code, no other origin), cannot be
 * framed, and browsers must not guess types. The data route gets the same headers. */
static const char *const ui_headers[] = {
    "Content-Security-Policy",
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options",
    "nosniff",
    "Referrer-Policy",
    "no-referrer",
    "X-Frame-Options",
    "DENY",
    NULL,
};

static void asset(struct sevd_api_response *resp, const char *name)
{
	for (size_t i = 0; i < sevd_ui_n_assets; i++) {
		const struct sevd_ui_asset *a = &sevd_ui_assets[i];

		if (strcmp(a->name, name) != 0)
			continue;
		resp->body = malloc(a->len + 1);
		if (!resp->body)
			break;
		memcpy(resp->body, a->data, a->len + 1);
		resp->len = a->len;
		resp->status = 200;
		resp->content_type = a->content_type;
		resp->headers = ui_headers;
		return;
	}
	/* Only when the build embedded another set of files than ui.c expects, or out of
	 * memory: the route exists, its content does not. */
	sevd_api_error(resp, 503, "internal", "the status page's files are missing from this build",
		       -1);
}

void sevd_ui_page(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	(void)req;
	asset(resp, "index.html");
}

void sevd_ui_css(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	(void)req;
	asset(resp, "ui.css");
}

void sevd_ui_js(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	(void)req;
	asset(resp, "ui.js");
}

/* ---- the snapshot ---- */

/* One core call for a section; NULL (and errors[key] = the error object) when it failed. */
static struct sevd_reply *section(const struct sevd_api_request *req, uint32_t op,
				  json_object *errors, const char *key)
{
	struct sevd_request creq = {.op = op};
	struct sevd_api_response scratch = {0};
	struct sevd_reply *rep = sevd_api_call_core(req, &creq, &scratch);
	json_object *e, *inner;

	if (rep)
		return rep;
	e = scratch.body ? json_tokener_parse(scratch.body) : NULL;
	if (e && json_object_object_get_ex(e, "error", &inner))
		json_object_object_add(errors, key, json_object_get(inner));
	else
		json_object_object_add(errors, key,
				       json_object_new_string("the core did not answer"));
	json_object_put(e);
	free(scratch.body);
	return NULL;
}

static json_object *platform_json(const struct sevd_platform_info *p)
{
	static const char *const states[] = {"UNINIT", "INIT", "WORKING"};
	json_object *o = json_object_new_object();
	uint32_t flags = p->status.flags;

	json_object_object_add(o, "state",
			       json_object_new_string(p->status.state < ELEMENTSOF(states)
							  ? states[p->status.state]
							  : "UNKNOWN"));
	json_object_object_add(o, "api_major", json_object_new_int(p->status.api_major));
	json_object_object_add(o, "api_minor", json_object_new_int(p->status.api_minor));
	json_object_object_add(o, "build", json_object_new_int(p->status.build));
	json_object_object_add(
	    o, "owner",
	    json_object_new_string(flags & SEV_PLATFORM_FLAG_OWNER ? "external" : "self"));
	json_object_object_add(o, "es",
			       json_object_new_boolean(!!(flags & SEV_PLATFORM_FLAG_CONFIG_ES)));
	json_object_object_add(o, "guest_count", json_object_new_int64(p->status.guest_count));
	json_object_object_add(o, "transport",
			       json_object_new_string_len(
				   p->transport, (int)strnlen(p->transport, sizeof(p->transport))));
	return o;
}

/* The pool as one character per ASID ("cells"[i] is ASID i+1: 'f' free, 'u' bound to a guest,
 * 'p' awaiting WBINVD + DF_FLUSH or in the flush running now), so that 1006 ASIDs cost 1006
 * bytes a poll and the page can diff them; holders by ASID for the hover text. */
static json_object *asids_json(const struct sevd_reply *rep)
{
	const struct sevd_asid_stats *s = &rep->u.asids.stats;
	uint32_t max = s->max < SEVD_ASID_LIMIT ? s->max : SEVD_ASID_LIMIT;
	_cleanup_free_ char *cells = malloc(max + 1);
	json_object *o = json_object_new_object(), *holders = json_object_new_object();

	if (!cells)
		return o;
	memset(cells, 'f', max);
	cells[max] = '\0';
	for (uint32_t i = 0; i < rep->u.asids.n && i < SEVD_ASID_LIMIT; i++) {
		const struct sevd_asid_entry *e = &rep->u.asids.entry[i];
		char key[16];

		if (e->asid == 0 || e->asid > max)
			continue;
		cells[e->asid - 1] = e->state == SEVD_ASID_USED ? 'u' : 'p';
		if (!e->holder[0])
			continue;
		snprintf(key, sizeof(key), "%u", e->asid);
		json_object_object_add(holders, key,
				       json_object_new_string_len(
					   e->holder, (int)strnlen(e->holder, sizeof(e->holder))));
	}
	sevd_api_asid_ranges_json(o, &rep->u.asids);
	json_object_object_add(o, "es", sevd_api_asid_counts_json(&s->es));
	json_object_object_add(o, "sev", sevd_api_asid_counts_json(&s->sev));
	json_object_object_add(o, "flushes", json_object_new_int64((int64_t)s->flushes));
	json_object_object_add(o, "cells", json_object_new_string(cells));
	json_object_object_add(o, "holders", holders);
	return o;
}

static const char *guest_state_name(uint8_t s)
{
	static const char *const names[] = {"UNINIT",  "LUPDATE", "LSECRET", "RUNNING",
					    "SUPDATE", "RUPDATE", "SENT"};

	return s < ELEMENTSOF(names) ? names[s] : "UNKNOWN";
}

static json_object *guest_json(const struct sevd_guest_info *g, time_t now)
{
	json_object *o = json_object_new_object();
	_cleanup_free_ char *words = policy_describe(g->policy);
	char hex[16];

	char id[2 * SEVD_GUEST_ID_SIZE + 1];

	snprintf(hex, sizeof(hex), "0x%08x", g->policy);
	for (unsigned i = 0; i < SEVD_GUEST_ID_SIZE; i++)
		snprintf(id + 2 * i, 3, "%02x", g->id[i]);
	json_object_object_add(o, "handle", json_object_new_int64(g->handle));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(
	    o, "name", json_object_new_string_len(g->name, (int)strnlen(g->name, sizeof(g->name))));
	json_object_object_add(
	    o, "tenant",
	    json_object_new_string_len(g->tenant, (int)strnlen(g->tenant, sizeof(g->tenant))));
	json_object_object_add(o, "state", json_object_new_string(guest_state_name(g->state)));
	json_object_object_add(o, "policy", json_object_new_string(hex));
	json_object_object_add(o, "policy_words", json_object_new_string(words ? words : "?"));
	json_object_object_add(o, "asid", g->asid ? json_object_new_int64(g->asid) : NULL);
	json_object_object_add(o, "es", json_object_new_boolean(g->es));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)g->created));
	json_object_object_add(o, "uptime_s",
			       json_object_new_int64((uint64_t)now > g->created
							 ? (int64_t)((uint64_t)now - g->created)
							 : 0));
	return o;
}

static json_object *guests_json(const struct sevd_reply *rep, time_t now)
{
	json_object *a = json_object_new_array();

	for (uint32_t i = 0; i < rep->u.guests.n && i < SEVD_GUESTS_MAX; i++)
		json_object_array_add(a, guest_json(&rep->u.guests.g[i], now));
	return a;
}

/* Firmware statuses by name, never by number (HELPERS.md); a transport failure says so. */
static json_object *fw_errors_json(const struct sevd_reply *rep)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	for (uint32_t i = 0; i < rep->u.fw_errors.n && i < SEVD_FW_ERRORS_MAX; i++) {
		const struct sevd_fw_error *e = &rep->u.fw_errors.e[i];
		json_object *x = json_object_new_object();

		json_object_object_add(x, "time_ms", json_object_new_int64((int64_t)e->time_ms));
		json_object_object_add(x, "command",
				       json_object_new_string(sev_cmd_name(e->command)));
		json_object_object_add(x, "status",
				       json_object_new_string(e->r == -EIO
								  ? sev_status_name(e->status)
								  : "NO_FW_CALL"));
		json_object_object_add(x, "transport_error",
				       e->r == -EIO ? NULL
						    : json_object_new_string(strerror(-e->r)));
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "total", json_object_new_int64((int64_t)rep->u.fw_errors.total));
	json_object_object_add(o, "recent", a);
	return o;
}

static json_object *health_json(const struct sevd_reply *rep)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "psp_healthy",
			       json_object_new_boolean(rep->u.health.psp_healthy));
	json_object_object_add(
	    o, "reason",
	    json_object_new_string_len(
		rep->u.health.reason,
		(int)strnlen(rep->u.health.reason, sizeof(rep->u.health.reason))));
	json_object_object_add(o, "queue_depth", json_object_new_int64(rep->u.health.queue_depth));
	return o;
}

static bool want_guests(const struct sevd_api_request *req)
{
	const char *v = req->arg ? req->arg(req, "guests") : NULL;

	return v && !strcmp(v, "1");
}

void sevd_ui_state(const struct sevd_api_request *req, struct sevd_api_response *resp)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	json_object *errors = json_object_new_object();
	struct sevd_reply *rep;
	time_t now = time(NULL);

	json_object_object_add(o, "time_ms", json_object_new_int64((int64_t)now * 1000));
	rep = section(req, SEVD_OP_HEALTH, errors, "health");
	json_object_object_add(o, "health", rep ? health_json(rep) : NULL);
	free(rep);
	rep = section(req, SEVD_OP_PLATFORM_STATUS, errors, "platform");
	json_object_object_add(o, "platform", rep ? platform_json(&rep->u.platform) : NULL);
	free(rep);
	rep = section(req, SEVD_OP_ASIDS, errors, "asids");
	json_object_object_add(o, "asids", rep ? asids_json(rep) : NULL);
	free(rep);
	if (want_guests(req)) {
		rep = section(req, SEVD_OP_GUEST_LIST, errors, "guests");
		json_object_object_add(o, "guests", rep ? guests_json(rep, now) : NULL);
		free(rep);
	}
	rep = section(req, SEVD_OP_FW_ERRORS, errors, "fw_errors");
	json_object_object_add(o, "fw_errors", rep ? fw_errors_json(rep) : NULL);
	free(rep);
	json_object_object_add(o, "errors", errors);
	sevd_api_respond_json(resp, 200, o);
	resp->headers = ui_headers;
}
