/* Writes the seed corpora of the daemon's fuzz targets: `gen-daemon-fuzz-seeds DIR` fills
 * DIR/daemon-journal (journal images: empty, header only, records of every type (SECRET ones
 * in secret-records), a torn tail, a garbled middle, a bad header), DIR/daemon-guest-json (route byte, {h} byte, body) and the
 * reply frames of DIR/daemon-ipc (reply-*: fixed and counted bodies, written by the real
 * encoder, and counted ones whose count disagrees with the length; the request seeds there are
 * not generated).
 * As a test (no argument) it writes them into a temporary directory and checks that the
 * committed corpus holds the same files. */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "daemon/ipc/ipc.h"
#include "daemon/core/journal.h"
#include "psp/sev-abi.h"
#include "tests/testutil.h"

static void put(const char *dir, const char *name, const void *buf, size_t len)
{
	char *p = path_join(dir, name);

	TU_CHECK(write_file_atomic(p, buf, len, 0644) == 0, "write %s", p);
	free(p);
}

/* An unfinished launch with the LAUNCH_SECRET packets it has seen (IV in mnonce, MAC in
 * measure), one of them refused by firmware and so forgotten again. */
static void secret_seed(const char *dir)
{
	uint8_t img[SEVD_JOURNAL_HEADER + 4 * SEVD_JREC_SIZE];
	struct sevd_jrec recs[4] = {
	    {.type = SEVD_JREC_PUT, .state = 2, .flags = 1, .handle = 3, .asid = 2,
	     .name = "c", .tenant = "default"},
	    {.type = SEVD_JREC_SECRET, .handle = 3, .mnonce = {1}, .measure = {2}},
	    {.type = SEVD_JREC_SECRET, .handle = 3, .mnonce = {3}, .measure = {4}},
	    {.type = SEVD_JREC_SECRET, .flags = SEVD_JREC_F_REFUSED, .handle = 3, .mnonce = {3},
	     .measure = {4}},
	};

	sevd_journal_header(img);
	for (int i = 0; i < 4; i++)
		sevd_jrec_encode(&recs[i], img + SEVD_JOURNAL_HEADER + (size_t)i * SEVD_JREC_SIZE);
	put(dir, "secret-records", img, sizeof(img));
}

static void journal_seeds(const char *dir)
{
	uint8_t img[SEVD_JOURNAL_HEADER + 6 * SEVD_JREC_SIZE];
	struct sevd_jrec recs[6] = {
	    {.type = SEVD_JREC_META, .generation = 7},
	    {.type = SEVD_JREC_INTENT, .mem_base = 0x20000000000ull},
	    {.type = SEVD_JREC_PUT,
	     .state = 1,
	     .handle = 1,
	     .asid = 100,
	     .policy = 1,
	     .memory_size = 1u << 24,
	     .mem_base = 0x20000000000ull,
	     .created = 1,
	     .updated = 2,
	     .name = "alpha",
	     .tenant = "default"},
	    {.type = SEVD_JREC_PUT,
	     .state = 3,
	     .flags = 7,
	     .handle = 1,
	     .asid = 100,
	     .policy = 5,
	     .memory_size = 1u << 24,
	     .data_bytes = 4096,
	     .generation = 8,
	     .name = "alpha",
	     .tenant = "t"},
	    {.type = SEVD_JREC_DEL, .handle = 1},
	    {.type = SEVD_JREC_PUT, .state = 2, .handle = 2, .asid = 1, .name = "b", .tenant = "x"},
	};
	size_t full = sizeof(img);

	sevd_journal_header(img);
	for (int i = 0; i < 6; i++)
		sevd_jrec_encode(&recs[i], img + SEVD_JOURNAL_HEADER + (size_t)i * SEVD_JREC_SIZE);
	put(dir, "empty", "", 0);
	put(dir, "header-only", img, SEVD_JOURNAL_HEADER);
	put(dir, "six-records", img, full);
	put(dir, "torn-tail", img, full - SEVD_JREC_SIZE / 2);
	put(dir, "one-record", img, SEVD_JOURNAL_HEADER + SEVD_JREC_SIZE);
	img[SEVD_JOURNAL_HEADER + 2 * SEVD_JREC_SIZE + 50] ^= 0x10;
	put(dir, "middle-corrupt", img, full);
	img[SEVD_JOURNAL_HEADER + 2 * SEVD_JREC_SIZE + 50] ^= 0x10;
	img[2] ^= 1;
	put(dir, "bad-header", img, full);
	{ /* an SEV-ES guest with its two VMSA records */
		uint8_t es[SEVD_JOURNAL_HEADER + 3 * SEVD_JREC_SIZE];
		struct sevd_jrec er[3] = {
		    {.type = SEVD_JREC_PUT,
		     .state = 3,
		     .flags = SEVD_JREC_F_ES,
		     .handle = 3,
		     .asid = 2,
		     .policy = 5,
		     .memory_size = 1u << 18,
		     .name = "es",
		     .tenant = "default"},
		    {.type = SEVD_JREC_VMSA, .handle = 3, .mem_base = 0x20000},
		    {.type = SEVD_JREC_VMSA, .handle = 3, .mem_base = 0x21000},
		};

		sevd_journal_header(es);
		for (int i = 0; i < 3; i++)
			sevd_jrec_encode(&er[i], es + SEVD_JOURNAL_HEADER + (size_t)i * SEVD_JREC_SIZE);
		put(dir, "es-vmsa", es, sizeof(es));
	}
	secret_seed(dir);
}

static void json_seed(const char *dir, const char *name, uint8_t route, uint8_t param,
		      const char *body)
{
	size_t len = strlen(body);
	uint8_t *buf = malloc(len + 2);

	buf[0] = route;
	buf[1] = param;
	memcpy(buf + 2, body, len);
	put(dir, name, buf, len + 2);
	free(buf);
}

/* POST /v1/platform/pek-cert (route byte 11): two whole SEV certificates, base64. */
static void pek_cert_seed(const char *dir)
{
	uint8_t *cert = calloc(1, SEV_CERT_SIZE);
	char *b64, *body;

	TU_CHECK(cert, "out of memory");
	put_le32(cert, 1); /* version */
	b64 = base64_encode(cert, SEV_CERT_SIZE);
	TU_CHECK(b64 &&
		     asprintf(&body, "{\"pek_cert\": \"%s\", \"oca_cert\": \"%s\"}", b64, b64) > 0,
		 "out of memory");
	json_seed(dir, "pek-cert", 11, 0, body);
	free(body);
	free(b64);
	free(cert);
}

/* The migration routes (route bytes 12..17): POST /v1/guests with "receive", the
 * target's certificates for /send, and two records of the /receive stream (offset ‖ length ‖
 * 52-byte header ‖ data), the second cut short. */
static void migrate_seeds(const char *dir)
{
	uint8_t *cert = calloc(1, SEV_CERT_SIZE), rec[2 + 2 * (12 + 52) + 4096 + 10] = {16, 0};
	size_t at = 2;
	char *b64, *body, *sess;

	TU_CHECK(cert, "out of memory");
	put_le32(cert, 1);
	b64 = base64_encode(cert, SEV_CERT_SIZE);
	TU_CHECK(b64 &&
		     asprintf(&body,
			      "{\"pdh\": \"%s\", \"pek\": \"%s\", \"oca\": \"%s\", \"cek\": \"%s\", "
			      "\"ask\": \"AAAA\", \"ark\": \"AAAA\"}",
			      b64, b64, b64, b64) > 0,
		 "out of memory");
	json_seed(dir, "send-certs", 12, 0, body);
	free(body);
	sess = base64_encode(cert, sizeof(struct sev_session_blob));
	TU_CHECK(sess &&
		     asprintf(&body,
			      "{\"name\": \"moved\", \"receive\": {\"pdh\": \"%s\", \"session\": "
			      "\"%s\", \"policy\": 1, \"memory_size\": 1048576}}",
			      b64, sess) > 0,
		 "out of memory");
	free(sess);
	json_seed(dir, "create-receive", 0, 0, body);
	free(body);
	json_seed(dir, "send-stream", 13, 0, "");
	put_le32(rec + at + 8, 4096); /* offset 0, a whole page */
	at += 12 + 52 + 4096;
	rec[at + 1] = 0x10; /* offset 4096 */
	put_le32(rec + at + 8, 100);
	at += 12 + 10; /* inside the second record's header */
	put(dir, "receive-records", rec, at);
	free(b64);
	free(cert);
}

static void json_seeds(const char *dir)
{
	json_seed(dir, "create-min", 0, 0, "{\"policy\": 1}");
	json_seed(dir, "create-full", 0, 0,
		  "{\"policy\": 5, \"name\": \"web-1\", \"tenant\": \"acme\", \"memory_size\": "
		  "16777216, \"asid\": 3, \"godh_cert\": \"AAAA\", \"session\": \"AAAA\"}");
	json_seed(dir, "create-bad-types", 0, 0, "{\"policy\": \"1\", \"name\": 5}");
	json_seed(dir, "create-not-object", 0, 0, "[1, 2, 3]");
	json_seed(dir, "secret", 1, 0,
		  "{\"header\": "
		  "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\", "
		  "\"payload\": \"AAAAAAAAAAAAAAAAAAAAAA==\", \"guest_address\": 196608}");
	json_seed(dir, "activate-asid", 2, 0, "{\"asid\": 2}");
	json_seed(dir, "activate-negative", 2, 6, "{\"asid\": -1}");
	json_seed(dir, "finish-empty-object", 3, 0, "{}");
	json_seed(dir, "deactivate-bad-handle", 4, 4, "{}");
	json_seed(dir, "delete", 5, 1, "");
	json_seed(dir, "attest-nonce", 7, 0, "00112233445566778899aabbccddeeff");
	json_seed(dir, "attest-short-nonce", 7, 2, "0011");
	json_seed(dir, "get", 8, 0, "");
	json_seed(dir, "measure", 9, 0, "");
	json_seed(dir, "list", 10, 0, "");
	pek_cert_seed(dir);
	migrate_seeds(dir);
}

/* One reply frame as the core's encoder writes it; `patch` (if not NULL) then overwrites the
 * uint32_t at body offset `at` (a count that no longer matches the header). */
static void reply_seed(const char *dir, const char *name, uint32_t op, const struct sevd_reply *rep,
		       const uint32_t *patch, size_t at)
{
	char *p = path_join(dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	TU_CHECK(fd >= 0 && sevd_ipc_send_reply(fd, op, rep) == 0, "write %s", p);
	if (patch)
		TU_CHECK(pwrite(fd, patch, sizeof(*patch), (off_t)(sizeof(struct sevd_ipc_hdr) + at)) ==
			     sizeof(*patch),
			 "patch %s", p);
	close(fd);
	free(p);
}

static void ipc_reply_seeds(const char *dir)
{
	struct sevd_reply *rep = calloc(1, sizeof(*rep));
	const uint32_t four = 4, big = 5000;

	TU_CHECK(rep != NULL, "alloc");
	rep->fw_status = -1;
	rep->u.platform.status.state = 1;
	rep->u.platform.cpuid_max = 509;
	reply_seed(dir, "reply-platform", SEVD_OP_PLATFORM_STATUS, rep, NULL, 0);
	memset(&rep->u, 0, sizeof(rep->u));
	rep->u.asids.sev_first = 100;
	rep->u.asids.sev_last = 509;
	reply_seed(dir, "reply-asids-empty", SEVD_OP_ASIDS, rep, NULL, 0);
	for (uint32_t i = 0; i < 3; i++) {
		rep->u.asids.entry[i].asid = 100 + i;
		rep->u.asids.entry[i].state = 1;
		snprintf(rep->u.asids.entry[i].holder, sizeof(rep->u.asids.entry[i].holder),
			 "guest %u g%u", i + 1, i);
	}
	rep->u.asids.n = 3;
	reply_seed(dir, "reply-asids-3", SEVD_OP_ASIDS, rep, NULL, 0);
	reply_seed(dir, "reply-asids-count-over", SEVD_OP_ASIDS, rep, &four,
		   offsetof(struct sevd_reply, u.asids.n));
	reply_seed(dir, "reply-asids-count-huge", SEVD_OP_ASIDS, rep, &big,
		   offsetof(struct sevd_reply, u.asids.n));
	memset(&rep->u, 0, sizeof(rep->u));
	rep->u.guests.n = 1;
	rep->u.guests.g[0].handle = 7;
	snprintf(rep->u.guests.g[0].name, sizeof(rep->u.guests.g[0].name), "seed");
	reply_seed(dir, "reply-guests-1", SEVD_OP_GUEST_LIST, rep, NULL, 0);
	memset(&rep->u, 0, sizeof(rep->u));
	rep->u.metrics.len = (uint32_t)snprintf(rep->u.metrics.text, sizeof(rep->u.metrics.text),
						"sevd_queue_depth 0\n");
	reply_seed(dir, "reply-metrics", SEVD_OP_METRICS, rep, NULL, 0);
	free(rep);
}

static void gen(const char *root)
{
	char *j = path_join(root, "daemon-journal"), *g = path_join(root, "daemon-guest-json");
	char *i = path_join(root, "daemon-ipc");

	mkdir(j, 0755);
	mkdir(g, 0755);
	mkdir(i, 0755);
	journal_seeds(j);
	json_seeds(g);
	ipc_reply_seeds(i);
	free(j);
	free(g);
	free(i);
}

static void same_dir(const char *a, const char *b, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *pa = path_join(a, names[i]), *pb = path_join(b, names[i]);
		size_t la, lb;
		uint8_t *x = tu_read_file(pa, &la), *y = tu_read_file(pb, &lb);

		TU_CHECK(la == lb && (la == 0 || !memcmp(x, y, la)),
			 "%s differs from the generator: rerun gen-daemon-fuzz-seeds", pb);
		free(x);
		free(y);
		free(pa);
		free(pb);
	}
}

int main(int argc, char *argv[])
{
	static const char *const jn[] = {"empty",      "header-only",	 "six-records", "torn-tail",
					 "one-record", "middle-corrupt", "bad-header", "es-vmsa"};
	static const char *const gn[] = {"create-min", "secret", "activate-asid", "attest-nonce",
					 "pek-cert", "send-certs", "create-receive",
					 "receive-records"};
	static const char *const in[] = {"reply-platform",	   "reply-asids-empty",
					 "reply-asids-3",	   "reply-asids-count-over",
					 "reply-asids-count-huge", "reply-guests-1",
					 "reply-metrics"};
	const char *root = getenv("SEVD_SOURCE_ROOT");
	char *tmp, *a, *b;

	if (argc > 1) {
		gen(argv[1]);
		return 0;
	}
	TU_CHECK(root, "SEVD_SOURCE_ROOT is not set");
	tmp = tu_mkdtemp();
	gen(tmp);
	a = path_join(tmp, "daemon-journal");
	b = path_join(root, "tests/fuzz/corpus/daemon-journal");
	same_dir(a, b, jn, sizeof(jn) / sizeof(jn[0]));
	free(a);
	free(b);
	a = path_join(tmp, "daemon-guest-json");
	b = path_join(root, "tests/fuzz/corpus/daemon-guest-json");
	same_dir(a, b, gn, sizeof(gn) / sizeof(gn[0]));
	free(a);
	free(b);
	a = path_join(tmp, "daemon-ipc");
	b = path_join(root, "tests/fuzz/corpus/daemon-ipc");
	same_dir(a, b, in, sizeof(in) / sizeof(in[0]));
	free(a);
	free(b);
	tu_rmtree(tmp);
	free(tmp);
	tu_done("gen-daemon-fuzz-seeds");
}
