/* sevadm migrate HANDLE --to TARGET: move a running guest to another sevd (issue 23).
 * The target's certificates come from its GET /v1/platform/certs; the source's sevd checks
 * them against its migration roots before SEND_START. Then the guest's memory moves in pieces
 * of PIECE bytes (GET /send/stream?offset&length on the source, POST /receive on the target:
 * at most one piece in memory), RECEIVE_FINISH on the target, SEND_FINISH on the source.
 * On any failure after SEND_START: the half-received guest is deleted on the target and the
 * send cancelled on the source, whose guest keeps running. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/guest.h"
#include "cli/progress.h"
#include "common/http-client.h"
#include "common/macros.h"
#include "common/ossl.h"

#define VERB "migrate"
#define PIECE (1u << 20) /* guest memory per round trip */

static int help(void)
{
	printf("Usage: sevadm migrate HANDLE --to https://TARGET:PORT [--token FILE]\n"
	       "                      [--ca-file FILE]\n\n"
	       "Move a running guest to the sevd at TARGET (SEND_* here, RECEIVE_* there; the\n"
	       "guest's memory travels encrypted under transport keys wrapped for the target's\n"
	       "PDH). Both daemons need the admin role. The target's PDH chain must reach a root\n"
	       "this sevd trusts for migration (sevd.conf: migration_roots,\n"
	       "migration_emulated_root). On failure the guest keeps running here and nothing\n"
	       "is left on the target.\n\n"
	       "Options:\n"
	       "  --to ADDR       the target sevd: https://HOST:PORT, http://HOST:PORT, unix:PATH\n"
	       "  --token FILE    bearer token for the target (the global --token is the source's)\n"
	       "  --ca-file FILE  CA certificates (PEM) to verify an https:// target\n"
	       "  -h, --help      this help\n");
	return SEVADM_EXIT_OK;
}

struct mig {
	const struct sevadm_ctx *ctx;
	struct http_client *src, *dst;
	uint32_t hs, hd; /* source and target handles; hd 0 until RECEIVE_START */
	uint64_t size;
};

/* A body from memory for POST /receive. */
struct buf_reader {
	const uint8_t *p;
	size_t left;
};

static ssize_t buf_read(void *userdata, uint8_t *buf, size_t len)
{
	struct buf_reader *b = userdata;
	size_t n = MIN(len, b->left);

	memcpy(buf, b->p, n);
	b->p += n;
	b->left -= n;
	return (ssize_t)n;
}

/* One piece: [off, off + PIECE) of the guest's memory from the source into the target. */
static int move_piece(struct mig *m, uint64_t off)
{
	_cleanup_(json_object_putp) json_object *res = NULL;
	_cleanup_free_ char *err = NULL;
	struct http_response resp = {};
	struct buf_reader b;
	char path[128];
	int r;

	snprintf(path, sizeof(path), "/v1/guests/%" PRIu32 "/send/stream?offset=%" PRIu64
		 "&length=%u", m->hs, off, PIECE);
	r = http_request(m->src, "GET", path, NULL, NULL, 0, &resp);
	if (r < 0)
		return sevadm_fail(VERB, "guest %" PRIu32 ": reading its memory at %" PRIu64
				   " failed: %s", m->hs, off, http_client_error(m->src));
	if (resp.status != 200) {
		r = sevadm_fail(VERB, "guest %" PRIu32 ": the source refused to send its memory at "
				"offset %" PRIu64 ": %.200s", m->hs, off,
				resp.body ? (char *)resp.body : "(no answer body)");
		http_response_clear(&resp);
		return r;
	}
	b = (struct buf_reader){resp.body, resp.body_len};
	guest_path(path, sizeof(path), m->hd, "/receive");
	r = sevadm_call_stream_quiet(m->dst, "POST", path, (int64_t)resp.body_len, buf_read, &b,
				     &res, &err);
	http_response_clear(&resp);
	if (r < 0)
		return sevadm_fail(VERB, "the target refused guest memory at %" PRIu64 ": %s", off,
				   err ? err : "out of memory");
	return 0;
}

static json_object *target_certs(struct mig *m)
{
	json_object *certs = NULL;

	if (sevadm_call(m->dst, VERB, "GET", "/v1/platform/certs", NULL, &certs, NULL) != 0)
		return NULL;
	return certs;
}

/* SEND_START here, RECEIVE_START there. */
static int start(struct mig *m, bool *sending)
{
	_cleanup_(json_object_putp) json_object *certs = target_certs(m), *sent = NULL,
						*body = NULL, *made = NULL;
	json_object *rcv;
	char path[64];

	if (!certs)
		return SEVADM_EXIT_FAIL;
	guest_path(path, sizeof(path), m->hs, "/send");
	if (guest_call(m->src, VERB, m->hs, "POST", path, certs, &sent) != 0)
		return SEVADM_EXIT_FAIL;
	*sending = true;
	if (!json_object_object_get_ex(sent, "receive", &rcv) ||
	    !json_object_is_type(rcv, json_type_object))
		return sevadm_fail(VERB, "the source's send answer has no 'receive' object");
	m->size = (uint64_t)sevadm_json_int(rcv, "memory_size", 0);
	body = json_object_new_object();
	json_object_object_add(body, "name",
			       json_object_new_string(sevadm_json_str(sent, "name", "migrated")));
	json_object_object_add(body, "receive", json_object_get(rcv));
	if (guest_call(m->dst, VERB, 0, "POST", "/v1/guests", body, &made) != 0)
		return SEVADM_EXIT_FAIL;
	m->hd = (uint32_t)sevadm_json_int(made, "handle", 0);
	return m->hd ? 0 : sevadm_fail(VERB, "the target answered no guest handle");
}

/* Nothing left behind: the target's guest deleted, the source's send cancelled. */
static void undo(struct mig *m, bool sending)
{
	_cleanup_(json_object_putp) json_object *a = NULL, *b = NULL;
	char path[64];

	if (m->hd) {
		guest_path(path, sizeof(path), m->hd, "");
		if (guest_call(m->dst, VERB, m->hd, "DELETE", path, NULL, &a) == 0)
			fprintf(sevadm_stderr(), "sevadm: migrate: the half-received guest %" PRIu32
				" on the target was deleted\n", m->hd);
	}
	if (sending) {
		guest_path(path, sizeof(path), m->hs, "/send/cancel");
		if (guest_call(m->src, VERB, m->hs, "POST", path, NULL, &b) == 0)
			fprintf(sevadm_stderr(), "sevadm: migrate: the send was cancelled; guest %" PRIu32
				" runs here again\n", m->hs);
	}
}

static int run(struct mig *m)
{
	_cleanup_(json_object_putp) json_object *a = NULL, *b = NULL;
	struct progress *p = NULL;
	bool sending = false;
	char path[64];
	int r = start(m, &sending);

	if (r == 0) {
		p = progress_new("migrating", m->size, m->ctx->tty && !m->ctx->json);
		for (uint64_t off = 0; r == 0 && off < m->size; off += PIECE) {
			if (m->ctx->cancel && *m->ctx->cancel)
				r = sevadm_fail(VERB, "interrupted");
			else
				r = move_piece(m, off);
			progress_update(p, MIN(off + PIECE, m->size));
		}
		progress_finish(p, r == 0);
	}
	if (r == 0) {
		guest_path(path, sizeof(path), m->hd, "/receive/finish");
		r = guest_call(m->dst, VERB, m->hd, "POST", path, NULL, &a);
	}
	if (r != 0) {
		undo(m, sending);
		return SEVADM_EXIT_FAIL;
	}
	/* The target runs the guest: from here on the source's copy must go, not come back. */
	guest_path(path, sizeof(path), m->hs, "/send/finish");
	if (guest_call(m->src, VERB, m->hs, "POST", path, NULL, &b) != 0)
		return sevadm_fail(VERB, "guest %" PRIu32 " runs on the target as %" PRIu32
				   ", but SEND_FINISH failed here: run 'sevadm decommission %" PRIu32
				   "' on this host", m->hs, m->hd, m->hs);
	if (m->ctx->json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();

		json_object_object_add(o, "handle", json_object_new_int64(m->hs));
		json_object_object_add(o, "target_handle", json_object_new_int64(m->hd));
		json_object_object_add(o, "bytes", json_object_new_int64((int64_t)m->size));
		sevadm_print_json(o);
	} else {
		printf("Guest %" PRIu32 " migrated: it runs on the target as guest %" PRIu32
		       " (%" PRIu64 " bytes of memory moved).\n", m->hs, m->hd, m->size);
	}
	return SEVADM_EXIT_OK;
}

int verb_migrate(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "token", required_argument, NULL, 'k' },
		{ "ca-file", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct sevadm_ctx tctx = { .json = ctx->json, .tty = ctx->tty, .cancel = ctx->cancel };
	struct mig m = { .ctx = ctx };
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 't')
			tctx.daemon = optarg;
		else if (c == 'k')
			tctx.token_file = optarg;
		else if (c == 'c')
			tctx.ca_file = optarg;
		else if (c == 'h')
			return help();
		else
			return sevadm_bad_option(VERB, argv);
	}
	if (optind + 1 != argc)
		return sevadm_usage(VERB, "expected one HANDLE");
	if (!tctx.daemon)
		return sevadm_usage(VERB, "--to https://TARGET:PORT is required");
	r = guest_parse_handle(VERB, argv[optind], &m.hs);
	if (r == 0)
		r = sevadm_connect(ctx, VERB, &m.src);
	if (r == 0)
		r = sevadm_connect(&tctx, VERB, &m.dst);
	if (r == 0)
		r = run(&m);
	http_client_free(m.src);
	http_client_free(m.dst);
	return r;
}
