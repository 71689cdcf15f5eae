/* Helpers of sevadm's guest lifecycle verbs (launch, measure, secret inject, finish, activate,
 * attest, decommission): one way to name a guest, to call sevd about it, and to turn a refusal
 * into a sentence with the guest, the reason, the firmware status by name and the next step.
 * Daemon answers are untrusted (sevadm_json_* type-checks every field). */
#pragma once

#include <getopt.h>
#include <stdint.h>
#include <json-c/json.h>

#include "cli/sevadm.h"

/* HANDLE as the user typed it (decimal or 0x hex, > 0); usage error (exit 2) otherwise. */
/* A guest named by its handle or by its stable id (32 lowercase hex digits); *ret = its
 * handle. A guest named by id is then reached by that id (guest_ref, guest_path). */
int guest_parse_handle(const char *verb, const char *arg, uint32_t *ret);
#define GUEST_ID_SIZE 16
#define GUEST_REF_MAX (2 * GUEST_ID_SIZE + 1)
/* The {h} of a guest route: the id the command line named this handle by, else the handle. */
const char *guest_ref(char buf[GUEST_REF_MAX], uint32_t handle);

/* For verbs whose only argument is HANDLE (and --help): parse argv. Returns 0 with *ret set,
 * -1 after printing help (exit 0), or SEVADM_EXIT_USAGE. */
int guest_handle_args(const char *verb, int argc, char **argv, int (*help)(void),
		      uint32_t *ret);

/* A verb's options: getopt_long over OPTIONS (and -h), from argv[1]. Each option the table names
 * goes to on(its letter, its argument, a): 0 when on took it, > 0 a usage error of on's (the
 * answer), < 0 an option on does not know. Returns 0 with optind at the first operand, -1
 * after printing help (exit 0), or SEVADM_EXIT_USAGE for a missing argument or an unknown
 * option, as the verb's parse_args answers. */
int guest_parse_options(const char *verb, int argc, char **argv, const struct option *options,
			int (*help)(void), int (*on)(int o, const char *arg, void *a), void *a);

/* The policy word of a guest object: sevd sends {"value": N, "hex": ...} (GuestPolicy) in
 * guest answers and a bare integer in measurement answers; def when neither. */
uint32_t guest_policy_value(json_object *obj, const char *key, uint32_t def);

/* "/v1/guests/H" + suffix ("" or "/finish"...), into buf. */
const char *guest_path(char *buf, size_t len, uint32_t handle, const char *suffix);
/* As guest_path, by the handle alone (a guest on another sevd: a migration's target). */
const char *guest_path_handle(char *buf, size_t len, uint32_t handle, const char *suffix);

/* One JSON call about guest `handle` (0: no guest yet). On failure prints
 * "sevadm: VERB: guest H: <why> (firmware status NAME) — <next step>" and returns
 * SEVADM_EXIT_FAIL; on success *ret is the answer (caller puts it). */
int guest_call(struct http_client *c, const char *verb, uint32_t handle, const char *method,
	       const char *path, json_object *body, json_object **ret);
/* Print a call failure the same way (used by streamed calls). */
int guest_fail(struct http_client *c, const char *verb, uint32_t handle, int r, const char *err);

/* Stream the file at path (or stdin for "-") to POST path_suffix of the guest: Content-Length
 * for a regular file, chunked otherwise; a progress bar on a terminal. *ret_bytes = bytes
 * sent. Failure printed, SEVADM_EXIT_FAIL. */
int guest_upload(const struct sevadm_ctx *ctx, struct http_client *c, const char *verb,
		 uint32_t handle, const char *suffix, const char *file, json_object **ret,
		 uint64_t *ret_bytes);

/* Connect, run one call about a guest, print the result. The shared body of finish, activate,
 * decommission. */
int guest_simple_verb(const struct sevadm_ctx *ctx, const char *verb, uint32_t handle,
		      const char *method, const char *suffix, json_object *body,
		      json_object **ret);
