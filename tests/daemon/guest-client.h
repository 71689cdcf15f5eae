/* Test helpers for the guest tests: a real sevd on a real sev-psp-emu, requests over its Unix
 * socket with libcurl, JSON answers parsed with json-c, and a direct PSP connection to ask
 * firmware itself (GUEST_STATUS) what the daemon claims. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tests/curlutil.h"
#include "tests/testutil.h"

struct gc_daemon {
	char *dir;	/* state dir (journal, control.sock) */
	char *sock;	/* API socket */
	char *emu_sock; /* the emulator's socket */
	char *log;
	pid_t pid;
	const char *extra_env; /* "NAME=VALUE" for the daemon, or NULL */
	const char *config;    /* config file path, or NULL */
	const char *extra_arg; /* one more command-line argument, or NULL */
};

struct gc_resp {
	long status;
	union { /* what tu_curl_collect fills, under the names the tests read */
		struct tu_curl_buf buf;
		struct {
			char *body;
			size_t len;
		};
	};
	json_object *json; /* NULL when the body is not JSON */
};

/* Start sevd (--psp emu:EMU_SOCK --state-dir DIR --listen unix:DIR/api.sock); false when it
 * did not come up (it may have exited: *status then). Does not wait for the socket when
 * wait is false. */
bool gc_start(struct gc_daemon *d, bool wait);
/* SIGKILL (kill = true) or SIGTERM; reaps. */
void gc_stop(struct gc_daemon *d, bool kill);

/* One request; body may be NULL. ctype NULL = application/json. */
void gc_request(struct gc_daemon *d, const char *method, const char *path, const void *body,
		size_t len, const char *ctype, struct gc_resp *out);
/* Upload a body with chunked transfer encoding in pieces of `piece` bytes. */
void gc_upload_chunked(struct gc_daemon *d, const char *path, const uint8_t *buf, size_t len,
		       size_t piece, struct gc_resp *out);
void gc_resp_free(struct gc_resp *r);
/* gc_request with a JSON body given as a string (or NULL); returns the HTTP status. */
long gc_json(struct gc_daemon *d, const char *method, const char *path, const char *body,
	     struct gc_resp *out);
/* POST /v1/guests of an SEV guest (policy 0) named name; its handle, 0 (and a failed check)
 * unless sevd answered 201. */
uint32_t gc_launch(struct gc_daemon *d, const char *name);
/* The value of one /metrics series ("name{labels}", as the line writes it): false when the
 * GET failed or the series is not there. */
bool gc_metric(struct gc_daemon *d, const char *series, uint64_t *ret);
/* The same, as a check: the series' value, or 0 and a failed check when it is not there. */
uint64_t gc_metric_value(struct gc_daemon *d, const char *series);

/* JSON accessors (exit the test with a message when the field is missing). */
int64_t gc_int(json_object *o, const char *key);
const char *gc_str(json_object *o, const char *key);
bool gc_is_null(json_object *o, const char *key);
/* The error code of an error answer, or "" */
const char *gc_err_code(const struct gc_resp *r);
const char *gc_err_fw(const struct gc_resp *r);
