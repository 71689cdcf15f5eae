/* The REST API v1 (daemon/openapi.yaml): a table of routes, each
 * {method, path pattern, roles allowed, handler, body limit}. Handlers turn JSON into core
 * requests (core.h) and core replies into JSON; they are the unprivileged side of the seam
 * and see only the fixed-size request/reply structs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/worker/auth.h"

struct sevd_core;
struct sevd_request;
struct sevd_reply;
struct sevd_caller;

/* How every handler reaches the core (core.h): sevd_core_call by default (tests, fuzzers);
 * in sevd's unprivileged worker, the call over its core channels (ipc.h). Set once, before
 * the first request. */
extern int (*sevd_api_core_fn)(struct sevd_core *c, const struct sevd_request *req,
			       struct sevd_reply *rep);

/* How the image upload reaches the core in sevd's worker: through a staging buffer shared
 * with the core (ipc.h, "staged uploads"; the sevd_ipc_upload_* functions). NULL (tests,
 * fuzzers, and whenever open fails) sends the image in GUEST_DATA pieces instead. */
struct sevd_ipc_upload;
struct sevd_api_stager {
	int (*open)(uint32_t handle, const struct sevd_caller *caller, struct sevd_reply *rep,
		    struct sevd_ipc_upload **ret);
	int (*write)(struct sevd_ipc_upload *u, const void *buf, size_t len,
		     struct sevd_reply *rep);
	int (*flush)(struct sevd_ipc_upload *u, uint32_t unit, struct sevd_reply *rep);
	int (*call)(struct sevd_ipc_upload *u, const struct sevd_request *req,
		    struct sevd_reply *rep);
	void (*close)(struct sevd_ipc_upload *u);
};
extern const struct sevd_api_stager *sevd_api_stager;

/* Whether sevd's HTTP worker kept the core's uid (allow_unseparated_worker): 1 yes,
 * 0 no, -1 not known (one process: tests, fuzzers). Set by worker.c after the drop; shown by
 * GET /healthz to callers with a role (sevadm ok). */
extern int sevd_api_worker_shares_uid;

/* What a handler answers: HTTP status, content type and a malloc'd body. */
struct sevd_api_response {
	unsigned status;
	const char *content_type;
	char *body;
	size_t len;
	/* NULL, or extra headers {name, value, ..., NULL} in static storage (the status page's
	 * Content-Security-Policy and nosniff, daemon/worker/ui.c). */
	const char *const *headers;
	/* A body made while the client reads it (chunked, length unknown), instead of body:
	 * reader fills buf with up to max bytes and answers their count, SEVD_API_READ_END at
	 * the end or SEVD_API_READ_ERROR (the connection is closed mid-body); reader_free
	 * frees reader_state when the answer is done or dropped. */
	ssize_t (*reader)(void *state, uint64_t pos, char *buf, size_t max);
	void (*reader_free)(void *state);
	void *reader_state;
};
#define SEVD_API_READ_END ((ssize_t)-1)   /* MHD_CONTENT_READER_END_OF_STREAM */
#define SEVD_API_READ_ERROR ((ssize_t)-2) /* MHD_CONTENT_READER_END_WITH_ERROR */

struct sevd_api_request {
	struct sevd_core *core;
	enum sevd_role role;
	/* The evidence role came from, forwarded with every core request (core.h). */
	const struct sevd_caller *caller;
	const char *body; /* NUL-terminated; len bytes (may be 0) */
	size_t len;
	const char *param; /* the {x} segment of the path, when the pattern has one */
	/* Query arguments ("?nonce=..."): the value or NULL. */
	const char *(*arg)(const struct sevd_api_request *req, const char *key);
	void *conn; /* for arg() */
	/* The core's WHOAMI answer for the token said untenanted (http.c): core requests carry
	 * it, worker-local, so the worker may answer the guest list from the core's region. */
	bool core_untenanted;
};

typedef void (*sevd_api_handler)(const struct sevd_api_request *req,
				 struct sevd_api_response *resp);

/* A route whose body is streamed (never buffered whole): open before the first byte (0, or an
 * answer in resp), data per piece (negative: stop; the answer comes from close), close at the
 * end (complete: answer into resp) or when the client left (resp NULL). close frees state. */
struct sevd_api_stream {
	int (*open)(const struct sevd_api_request *req, void **state, struct sevd_api_response *resp);
	int (*data)(void *state, const char *buf, size_t len);
	void (*close)(void *state, bool complete, struct sevd_api_response *resp);
};

struct sevd_route {
	const char *method;
	const char *path; /* "/v1/platform", "/v1/guests/{h}" */
	unsigned roles;	  /* SEVD_ROLE_BIT()s allowed; admin is always allowed */
	sevd_api_handler handler;
	size_t max_body;			/* ignored for streamed bodies */
	const struct sevd_api_stream *stream; /* NULL: the body is collected first */
};

extern const struct sevd_route sevd_routes[];
extern const size_t sevd_n_routes;

/* Find the route for method + path. Returns the route, or NULL with *ret_path_known telling
 * whether the path exists with another method (405) or not at all (404). `param` receives the
 * {x} segment (size bytes). */
const struct sevd_route *sevd_route_find(const char *method, const char *path, bool *ret_path_known,
					 char *param, size_t size);
/* Is `role` allowed on the route? */
bool sevd_route_allows(const struct sevd_route *rt, enum sevd_role role);

/* An error answer {"error":{"code","message","fw_status"}}; fw_status < 0 gives null. */
void sevd_api_error(struct sevd_api_response *resp, unsigned status, const char *code,
		    const char *message, int fw_status);
