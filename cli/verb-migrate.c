/* sevadm migrate HANDLE --to TARGET: move a running guest to another sevd.
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
#include <unistd.h>

#include "cli/guest.h"
#include "cli/progress.h"
#include "common/http-client.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"

#define VERB "migrate"
#define PIECE (1u << 20) /* guest memory per round trip */

static int help(void)
{
	printf("Usage: sevadm migrate HANDLE --to https://TARGET:PORT [--token FILE]\n"
	       "                      [--ca-file FILE]\n\n"
	       "Move a running guest to the sevd at TARGET (SEND_* here, RECEIVE_* there; the\n"
	       "guest's memory travels encrypted under transport keys wrapped for the target's\n"
	       "PDH; an SEV-ES guest's VMSAs follow its memory). Both daemons need the\n"
	       "migrator or the admin role. The target's PDH chain must reach a root this sevd\n"
	       "trusts for migration (sevd.conf: migration_roots, migration_emulated_root). On\n"
	       "failure the guest keeps running here and nothing is left on the target.\n\n"
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

	char ref[GUEST_REF_MAX];

	snprintf(path, sizeof(path), "/v1/guests/%s/send/stream?offset=%" PRIu64 "&length=%u",
		 guest_ref(ref, m->hs), off, PIECE);
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
	guest_path_handle(path, sizeof(path), m->hd, "/receive");
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
		guest_path_handle(path, sizeof(path), m->hd, "");
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
		guest_path_handle(path, sizeof(path), m->hd, "/receive/finish");
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

/* ---- sevadm snapshot HANDLE FILE --target DIR / sevadm restore FILE (a cold migration) ----
 * The file: SNAP_MAGIC, one line of JSON (the source's "receive" object and the guest's
 * name), then the records of GET /send/stream as they came. Only the target named by DIR
 * (its certificates, as `sevadm export --full DIR` writes them) can restore it. */
#define SNAP_MAGIC "sevadm-snapshot 1\n"
#define SNAP_HEADER_MAX 8192u

static int snapshot_help(void)
{
	printf("Usage: sevadm snapshot HANDLE FILE --target DIR [--keep]\n\n"
	       "Write a running guest to FILE for the platform whose certificates are in DIR\n"
	       "(pdh.cert pek.cert oca.cert cek.cert ask.cert ark.cert, as 'sevadm export --full'\n"
	       "writes them on it): SEND_START for that PDH, the memory as migration packets,\n"
	       "then SEND_FINISH, so the guest leaves this host (with --keep: SEND_CANCEL, it\n"
	       "keeps running here). Only that platform can read FILE: 'sevadm restore FILE'\n"
	       "on its sevd.\n\n"
	       "Options:\n"
	       "  --target DIR  the target platform's certificates (required)\n"
	       "  --keep        cancel the send at the end: the guest keeps running here\n"
	       "  -h, --help    this help\n");
	return SEVADM_EXIT_OK;
}

static int restore_help(void)
{
	printf("Usage: sevadm restore FILE\n\n"
	       "Receive the guest a 'sevadm snapshot' wrote to FILE into this sevd (RECEIVE_START,\n"
	       "RECEIVE_UPDATE_DATA per packet, RECEIVE_UPDATE_VMSA per SEV-ES VMSA,\n"
	       "RECEIVE_FINISH). FILE must have been made for this platform's PDH. On failure\n"
	       "the half-received guest is deleted.\n\n"
	       "Options:\n"
	       "  -h, --help  this help\n");
	return SEVADM_EXIT_OK;
}

/* DIR's six certificates as the body of POST /send. */
static json_object *certs_from_dir(const char *dir)
{
	json_object *o = json_object_new_object();

	for (unsigned i = 0; i < _SEVADM_CERT_MAX; i++) {
		_cleanup_free_ char *path = NULL, *b64 = NULL;
		_cleanup_free_ uint8_t *buf = NULL;
		size_t len = 0;

		if (asprintf(&path, "%s/%s.cert", dir, sevadm_cert_names[i]) < 0 ||
		    read_full_file(path, 64 * 1024, &buf, &len) < 0 || !len ||
		    !(b64 = base64_encode(buf, len))) {
			sevadm_fail("snapshot", "cannot read %s: export the target's certificates "
				    "there with 'sevadm export --full DIR' on the target",
				    path ? path : dir);
			json_object_put(o);
			return NULL;
		}
		json_object_object_add(o, sevadm_cert_names[i], json_object_new_string(b64));
	}
	return o;
}

static int snap_piece(struct mig *m, FILE *f, uint64_t off)
{
	struct http_response resp = {};
	char path[128];
	int r;

	char ref[GUEST_REF_MAX];

	snprintf(path, sizeof(path), "/v1/guests/%s/send/stream?offset=%" PRIu64 "&length=%u",
		 guest_ref(ref, m->hs), off, PIECE);
	r = http_request(m->src, "GET", path, NULL, NULL, 0, &resp);
	if (r < 0 || resp.status != 200)
		r = sevadm_fail("snapshot", "guest %" PRIu32 ": its memory at offset %" PRIu64
				" could not be read: %.200s", m->hs, off,
				r < 0 ? http_client_error(m->src)
				      : resp.body ? (char *)resp.body : "(no answer body)");
	else if (fwrite(resp.body, 1, resp.body_len, f) != resp.body_len)
		r = sevadm_fail("snapshot", "cannot write the snapshot: %s", strerror(errno));
	else
		r = 0;
	http_response_clear(&resp);
	return r;
}

static int snapshot_run(struct mig *m, const char *dir, const char *file, bool keep)
{
	_cleanup_(json_object_putp) json_object *certs = certs_from_dir(dir), *sent = NULL,
						*hdr = NULL, *end = NULL;
	json_object *rcv;
	char path[64];
	FILE *f;
	int r = 0;

	if (!certs)
		return SEVADM_EXIT_FAIL;
	f = fopen(file, "wxe");
	if (!f)
		return sevadm_fail("snapshot", "cannot create %s: %s (it must not exist yet)", file,
				   strerror(errno));
	guest_path(path, sizeof(path), m->hs, "/send");
	if (guest_call(m->src, "snapshot", m->hs, "POST", path, certs, &sent) != 0) {
		fclose(f);
		unlink(file);
		return SEVADM_EXIT_FAIL;
	}
	if (!json_object_object_get_ex(sent, "receive", &rcv))
		r = sevadm_fail("snapshot", "the send answer has no 'receive' object");
	m->size = (uint64_t)sevadm_json_int(rcv, "memory_size", 0);
	hdr = json_object_new_object();
	json_object_object_add(hdr, "name",
			       json_object_new_string(sevadm_json_str(sent, "name", "restored")));
	json_object_object_add(hdr, "receive", json_object_get(rcv));
	if (r == 0 && fprintf(f, "%s%s\n", SNAP_MAGIC, json_object_to_json_string(hdr)) < 0)
		r = sevadm_fail("snapshot", "cannot write %s: %s", file, strerror(errno));
	for (uint64_t off = 0; r == 0 && off < m->size; off += PIECE)
		r = snap_piece(m, f, off);
	if (fclose(f) != 0 && r == 0)
		r = sevadm_fail("snapshot", "cannot write %s: %s", file, strerror(errno));
	guest_path(path, sizeof(path), m->hs, r == 0 && !keep ? "/send/finish" : "/send/cancel");
	if (guest_call(m->src, "snapshot", m->hs, "POST", path, NULL, &end) != 0 && r == 0)
		r = SEVADM_EXIT_FAIL;
	if (r != 0) {
		unlink(file);
		return SEVADM_EXIT_FAIL;
	}
	printf("Guest %" PRIu32 " written to %s (%" PRIu64 " bytes of memory)%s.\n", m->hs, file,
	       m->size, keep ? "; it keeps running here" : "; it has left this host");
	return SEVADM_EXIT_OK;
}

int verb_snapshot(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "keep", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct mig m = { .ctx = ctx };
	const char *dir = NULL;
	bool keep = false;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 't')
			dir = optarg;
		else if (c == 'k')
			keep = true;
		else if (c == 'h')
			return snapshot_help();
		else
			return sevadm_bad_option("snapshot", argv);
	}
	if (optind + 2 != argc)
		return sevadm_usage("snapshot", "expected HANDLE FILE");
	if (!dir)
		return sevadm_usage("snapshot", "--target DIR (the target's certificates) is required");
	r = guest_parse_handle("snapshot", argv[optind], &m.hs);
	if (r == 0)
		r = sevadm_connect(ctx, "snapshot", &m.src);
	if (r == 0)
		r = snapshot_run(&m, dir, argv[optind + 1], keep);
	http_client_free(m.src);
	return r;
}

static ssize_t file_read(void *userdata, uint8_t *buf, size_t len)
{
	size_t n = fread(buf, 1, len, userdata);

	return n == 0 && ferror((FILE *)userdata) ? -EIO : (ssize_t)n;
}

/* The header line after the magic: {"name", "receive"}. */
static json_object *snap_header(FILE *f, const char *file)
{
	char magic[sizeof(SNAP_MAGIC)], *line = malloc(SNAP_HEADER_MAX);
	json_object *o = NULL;

	if (line && fread(magic, 1, sizeof(magic) - 1, f) == sizeof(magic) - 1 &&
	    !memcmp(magic, SNAP_MAGIC, sizeof(magic) - 1) && fgets(line, SNAP_HEADER_MAX, f) &&
	    strchr(line, '\n'))
		o = json_tokener_parse(line);
	free(line);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		sevadm_fail("restore", "%s is not a snapshot of 'sevadm snapshot'", file);
		return NULL;
	}
	return o;
}

int verb_restore(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	_cleanup_(json_object_putp) json_object *hdr = NULL, *made = NULL, *res = NULL,
						*fin = NULL, *del = NULL;
	_cleanup_free_ char *err = NULL;
	struct mig m = { .ctx = ctx };
	char path[64];
	FILE *f = NULL;
	int r;

	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, {} };
	const char *file;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h')
			return restore_help();
		return sevadm_bad_option("restore", argv);
	}
	if (optind + 1 != argc)
		return sevadm_usage("restore", "expected FILE");
	file = argv[optind];
	r = 0;
	f = fopen(file, "re");
	if (!f)
		return sevadm_fail("restore", "cannot open %s: %s", file, strerror(errno));
	hdr = snap_header(f, file);
	if (!hdr)
		r = SEVADM_EXIT_FAIL;
	if (r == 0)
		r = sevadm_connect(ctx, "restore", &m.dst);
	if (r == 0)
		r = guest_call(m.dst, "restore", 0, "POST", "/v1/guests", hdr, &made);
	if (r == 0) {
		m.hd = (uint32_t)sevadm_json_int(made, "handle", 0);
		guest_path_handle(path, sizeof(path), m.hd, "/receive");
		if (sevadm_call_stream_quiet(m.dst, "POST", path, -1, file_read, f, &res, &err) < 0)
			r = sevadm_fail("restore", "guest %" PRIu32 ": the packets were refused: %s",
					m.hd, err ? err : "out of memory");
	}
	if (r == 0) {
		guest_path_handle(path, sizeof(path), m.hd, "/receive/finish");
		r = guest_call(m.dst, "restore", m.hd, "POST", path, NULL, &fin);
	}
	if (r != 0 && m.hd) {
		guest_path_handle(path, sizeof(path), m.hd, "");
		(void)guest_call(m.dst, "restore", m.hd, "DELETE", path, NULL, &del);
	}
	if (r == 0)
		printf("Guest restored from %s: guest %" PRIu32 ", %s.\n", file, m.hd,
		       sevadm_json_str(fin, "state", "RUNNING"));
	fclose(f);
	http_client_free(m.dst);
	return r;
}
