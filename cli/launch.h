/* What `sevadm launch` (cli/verb-launch.c) shares with its storm mode (cli/launch-storm.c,
 * --count): the parsed arguments, one launch as the plain verb does it (LAUNCH_START, the
 * image, the VMSA, undone on failure), and the fields of a launched guest in --json. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "cli/sevadm.h"

struct launch_args {
	const char *image, *policy_s, *name, *tenant, *dir, *sname, *godh, *session, *vmsa, *mem;
	const char *asid_s, *count_s, *parallel_s;
	const char *id_block_dir, *host_data; /* --snp: sevadm snp id-block's --out DIR, HEX64 */
	const char *secrets_gpa_s;	      /* --snp: GPA of a SECRETS page, or NULL */
	uint64_t secrets_gpa;
	bool snp;			      /* --snp: an SEV-SNP guest (cli/launch-snp.c) */
	uint64_t snp_policy;		      /* --snp: the 64-bit SNP guest policy */
	uint32_t policy, asid;
	uint64_t memory_size;
	unsigned count, parallel; /* --count (0: one guest, the plain verb), --parallel */
};

/* LAUNCH_START with body, then the image (and VMSA) streamed. A failure after LAUNCH_START
 * decommissions the guest. Messages go to sevadm_stderr(). On success *ret_res is sevd's
 * last answer (caller puts it). Exit status as a verb's. */
int launch_one(const struct sevadm_ctx *ctx, struct http_client *c, const struct launch_args *a,
	       json_object *body, uint32_t *ret_handle, json_object **ret_res, uint64_t *ret_bytes);

/* handle, name, policy, state, bytes, asid: the --json object of a launched guest. */
void launch_json_fields(json_object *o, const struct launch_args *a, uint32_t handle,
			json_object *res, uint64_t bytes);

/* --count: a->count guests NAME-1..NAME-N launched from body (whose "name" is replaced),
 * a->parallel at a time. */
int launch_storm(const struct sevadm_ctx *ctx, const struct launch_args *a, json_object *body);

/* After a failure past LAUNCH_START (or SNP_LAUNCH_START): decommission guest handle, so no
 * half-launched guest stays behind; says which happened on sevadm_stderr(). */
void launch_cleanup_guest(struct http_client *c, uint32_t handle);

/* --snp: create the SNP guest, stream the image as normal pages from GPA 0 (and the VMSA),
 * SNP_LAUNCH_FINISH with the optional ID block / ID auth / HOST_DATA, activate, and print the
 * handle and the launch digest. Undone on failure. Exit status as a verb's. */
int launch_snp(const struct sevadm_ctx *ctx, const struct launch_args *a);
