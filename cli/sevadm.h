/* sevadm internals shared by the verb files: the prototype of every verb (one line per verb,
 * next to its row in the table of sevadm.c) and the few helpers verbs use to talk to sevd
 * and to report errors the same way. Trusts nothing that comes back from the daemon: every
 * field is type-checked before it is printed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>

#include "common/http-client.h"
#include "cli/verbs.h"

/* --- verbs: one prototype per verb; add yours here and a row in sevadm.c --- */
int verb_ok(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_show(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_export(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_generate(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_provision(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_rotate(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_reset(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_session(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_measurement(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_vmsa(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_snp(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_secret(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_verify(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_fetch(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_launch(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_measure(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_finish(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_activate(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_decommission(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_deactivate(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_attest(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_migrate(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_snapshot(const struct sevadm_ctx *ctx, int argc, char **argv);
int verb_restore(const struct sevadm_ctx *ctx, int argc, char **argv);
/* `secret inject` (cli/verb-guest-secret.c), reached from verb_secret's subcommand switch. */
int verb_secret_inject(const struct sevadm_ctx *ctx, int argc, char **argv);
/* --- end of verb prototypes --- */

/* Where sevadm_fail, sevadm_usage and the verbs' own messages go: stderr, unless this thread
 * set another stream (a launch storm's worker collects each guest's messages to report them
 * whole, named after the guest). NULL sets stderr back. */
FILE *sevadm_stderr(void);
void sevadm_set_stderr(FILE *f);

/* "sevadm: VERB: message" on stderr. Returns SEVADM_EXIT_FAIL so verbs can `return` it. */
int sevadm_fail(const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), nonnull(2)));
/* "sevadm: VERB: message" + "Try 'sevadm VERB --help'." on stderr; returns SEVADM_EXIT_USAGE. */
int sevadm_usage(const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), nonnull(2)));

/* For a verb's getopt loop on '?': "sevadm: VERB: unknown option 'X'" + hint; returns 2. */
int sevadm_bad_option(const char *verb, char **argv);

/* Open a client for ctx->daemon (with the token and CA file); on failure prints why and
 * returns SEVADM_EXIT_FAIL (SEVADM_EXIT_USAGE for a malformed address), else 0. */
int sevadm_connect(const struct sevadm_ctx *ctx, const char *verb, struct http_client **ret);

/* One JSON API call: method + path, optional JSON request body (NULL for none). On a 2xx
 * answer *ret is the parsed JSON body (an empty object when the body is empty) and 0 is
 * returned. Otherwise the failure is printed ("sevadm: VERB: message (firmware status X)")
 * and SEVADM_EXIT_FAIL is returned; *ret_http_status (may be NULL) gets the HTTP status or 0
 * when no answer came. */
int sevadm_call(struct http_client *c, const char *verb, const char *method, const char *path,
		json_object *body, json_object **ret, int *ret_http_status);
/* As sevadm_call but quiet: the error message goes into *ret_error (malloc'd) instead. */
int sevadm_call_quiet(struct http_client *c, const char *method, const char *path,
		      json_object *body, json_object **ret, char **ret_error);

/* sevadm snp show|commit|config|vlek (verb-snp-host.c); -ENOENT for another subcommand. */
int sevadm_snp_host(const struct sevadm_ctx *ctx, int argc, char **argv);
/* sevadm snp certs import DIR | export DIR | show (verb-snp-certs.c). */
int sevadm_snp_certs(const struct sevadm_ctx *ctx, int argc, char **argv);
/* As sevadm_call_quiet with len raw bytes as the body (application/octet-stream). */
int sevadm_call_bytes_quiet(struct http_client *c, const char *method, const char *path,
			    const void *body, size_t len, json_object **ret, char **ret_error);
/* As sevadm_call_quiet with a body streamed from cb (application/octet-stream; body_len -1:
 * chunked). Negative HTTP status or -errno; *ret_error says why. */
int sevadm_call_stream_quiet(struct http_client *c, const char *method, const char *path,
			     int64_t body_len, http_body_cb cb, void *userdata, json_object **ret,
			     char **ret_error);

/* Print obj as stable, pretty JSON (sorted keys as given, 2-space indent) + newline. */
void sevadm_print_json(json_object *obj);

/* Typed field access on daemon answers; defaults when the field is missing or mistyped (a
 * string holding control characters counts as mistyped). */
const char *sevadm_json_str(json_object *obj, const char *key, const char *def);
long long sevadm_json_int(json_object *obj, const char *key, long long def);
bool sevadm_json_bool(json_object *obj, const char *key, bool def);

/* The platform's certificates as GET /v1/platform/certs serves them (decoded; ask/ark may be
 * absent: len 0). Names and order as sevctl's export --full writes them. */
enum { SEVADM_CERT_PDH, SEVADM_CERT_PEK, SEVADM_CERT_OCA, SEVADM_CERT_CEK, SEVADM_CERT_ASK,
       SEVADM_CERT_ARK, _SEVADM_CERT_MAX };
struct sevadm_certs {
	uint8_t *buf[_SEVADM_CERT_MAX];
	size_t len[_SEVADM_CERT_MAX];
};
extern const char *const sevadm_cert_names[_SEVADM_CERT_MAX]; /* "pdh" ... "ark" */
int sevadm_get_certs(struct http_client *c, const char *verb, struct sevadm_certs *ret);
void sevadm_certs_clear(struct sevadm_certs *certs);

/* Commands that need the platform in INIT (PEK_CSR, PEK_CERT_IMPORT, PDH_GEN): like Linux'
 * sev-dev.c, INIT an UNINIT platform first and SHUTDOWN again afterwards. *ret_was_uninit
 * tells sevadm_platform_restore whether to shut down. Exit codes as sevadm_call. */
int sevadm_platform_prepare(struct http_client *c, const char *verb, bool *ret_was_uninit);
int sevadm_platform_restore(struct http_client *c, const char *verb, bool was_uninit);

/* Ask "PROMPT [y/N] " on the terminal; true only for y/yes. false when stdin is no tty. */
bool sevadm_confirm(const char *prompt);
