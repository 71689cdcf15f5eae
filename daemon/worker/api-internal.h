/* Helpers shared by the handlers of api.c (platform) and api-guest.c (guests). Unprivileged
 * side of the seam (core.h). */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include <json-c/json.h>

#include "daemon/worker/api.h"
#include "daemon/core/core.h"

void sevd_api_respond_json(struct sevd_api_response *resp, unsigned status, json_object *o);

/* The body rendered for the last identical answer (the bytes of a reply's member that its
 * count covers): GET /v1/asids, the guest list and GET /v1/guests/{h} answer it again
 * without building JSON. */
struct sevd_api_memo {
	pthread_mutex_t lock;
	void *key;
	size_t len;
	char *body;
};
#define SEVD_API_MEMO_INIT { .lock = PTHREAD_MUTEX_INITIALIZER }
/* true with a 200 copy of the body in resp when key matches the last one kept. */
bool sevd_api_memo_answer(struct sevd_api_memo *m, const void *key, size_t len,
			  struct sevd_api_response *resp);
/* Keep resp's body (a 200) for key. */
void sevd_api_memo_keep(struct sevd_api_memo *m, const void *key, size_t len,
			const struct sevd_api_response *resp);
/* {total, used, free, flush_pending} of one ASID class (/v1/asids, /v1/platform, /ui/state). */
json_object *sevd_api_asid_counts_json(const struct sevd_asid_counts *c);
/* Run one core request; on failure the error answer is already in resp (returns NULL).
 * The reply is malloc'd. */
struct sevd_reply *sevd_api_call_core(const struct sevd_api_request *req,
				      struct sevd_request *creq,
				      struct sevd_api_response *resp);
/* A route's {h} segment written as a guest's id (32 lowercase hex digits): true with id. */
bool sevd_api_guest_id_arg(const char *param, uint8_t id[SEVD_GUEST_ID_SIZE]);
/* Put the id the request's {h} names (or zeros for a handle) into c->guest_id, for the core's
 * check that the op reaches that guest only (core.h). */
void sevd_api_name_guest(const struct sevd_api_request *req, struct sevd_caller *c);
/* A failed core reply as an HTTP error. */
void sevd_api_core_error(struct sevd_api_response *resp, const struct sevd_reply *rep);
/* Parse the body as one JSON object (an empty body gives NULL). false: resp has the 400. */
bool sevd_api_parse_body(const struct sevd_api_request *req, struct sevd_api_response *resp,
			 json_object **ret);

/* [first, last] as a JSON array, or [] when the range is empty (first > last). */
json_object *sevd_api_range_json(uint32_t first, uint32_t last);
/* The ASID space of a SEVD_OP_ASIDS reply into o: max, min_sev, es_range, sev_range (/v1/asids,
 * /ui/state). */
void sevd_api_asid_ranges_json(json_object *o, const typeof(((struct sevd_reply *)0)->u.asids) *a);

/* Guest routes (api-guest.c). */
void sevd_api_guests_list(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_guest_create(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_guest_get(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_guest_delete(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_guest_vmsa(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_guest_measure(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_guest_secret(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_guest_finish(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_guest_activate(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_guest_deactivate(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_guest_attest(const struct sevd_api_request *req, struct sevd_api_response *resp);
extern const struct sevd_api_stream sevd_api_guest_data_stream;
void sevd_api_guest_data_unused(const struct sevd_api_request *req, struct sevd_api_response *resp);
/* Migration (api-guest.c "migration"). */
void sevd_api_guest_send(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_guest_send_stream(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_guest_send_finish(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_guest_send_cancel(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_guest_receive_create(const struct sevd_api_request *req, json_object *o,
				   struct sevd_api_response *resp);
void sevd_api_guest_receive_finish(const struct sevd_api_request *req,
				   struct sevd_api_response *resp);
extern const struct sevd_api_stream sevd_api_guest_receive_stream;
/* The host's SNP certificate table (api-snp-certs.c). */
void sevd_api_snp_certs_get(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_snp_certs_put(const struct sevd_api_request *req, struct sevd_api_response *resp);
void sevd_api_snp_certs_delete(const struct sevd_api_request *req, struct sevd_api_response *resp);
