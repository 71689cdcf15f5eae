/* Migration through sevd's HTTP routes: two sev-psp-emu (two chips, each its own
 * keys) and two sevd, driven over their Unix sockets (as root: the admin role). A launches a
 * guest whose image is random bytes and whose owner injected a secret (LAUNCH_SECRET) (B
 * also listens with TLS on loopback, which sevadm migrate uses with a migrator's bearer
 * token); A refuses B as a target until A's sevd.conf names B's root (migration_emulated_root); NOSEND is refused by firmware; a tampered packet is refused
 * by B (the half-received guest deleted, A's send cancelled, A's guest RUNNING again); then
 * the guest moves: GET /send/stream on A into POST /receive on B, RECEIVE_FINISH, SEND_FINISH.
 * B's guest view equals A's as it was, A's guest is gone, the ASIDs in use add up. An SEV-ES
 * guest moves with its VMSAs (test_es; and through sevadm snapshot/restore). sevadm migrate
 * failing mid-stream on B cleans up with the migrator's token: nothing left on B. A SIGKILL of
 * either daemon mid-stream, of a plain and of an SEV-ES guest (its VMSAs journaled), leaves
 * A's guest intact and movable and nothing half-received on B (test_kills, test_kills_es). */
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/secret.h"
#include "attest/session.h"
#include "attest/sev-cert.h"
#include "common/macros.h"
#include "common/util.h"
#include "psp/psp-emu.h"
#include "psp/sev-abi.h"
#include "tests/daemon/guest-client.h"
#include "tests/daemon/pki-util.h"
#include "tests/psp/test-emu-guest-util.h"
#include "tests/testutil.h"

#define MEM (256u * 1024u) /* guest memory: 64 packets */
#define IMAGE (64u * 1024u)
#define REC_HDR (8u + 4u + sizeof(struct sev_packet_header))

struct side {
	struct tu_emu emu;
	struct gc_daemon d;
	char *conf;
};

static struct side A, B;
static void side_start(struct side *s, const char *name)
{
	_cleanup_free_ char *top = tu_mkdtemp();

	s->d.dir = path_join(top, name);
	TU_CHECK(mkdir(s->d.dir, 0700) == 0, "mkdir %s", s->d.dir);
	TU_CHECK(tu_emu_start(top, NULL, &s->emu) == 0, "emulator for %s", name);
	s->d.emu_sock = s->emu.socket;
	s->conf = path_join(top, "sevd.conf");
}

static void conf_write(struct side *s, const char *text)
{
	FILE *f = fopen(s->conf, "w");

	TU_CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", s->conf);
	s->d.config = s->conf;
}

static void restart(struct side *s)
{
	if (s->d.pid)
		gc_stop(&s->d, false);
	TU_CHECK(gc_start(&s->d, true), "sevd did not start (log %s)", s->d.log);
}

static char tls_dir[600], tls_ca[700], token_file[700];
static int tls_port;

#define TOKEN "migrate-migrator-token"

/* ---- B's TLS listener: a CA and a server certificate for 127.0.0.1 (pki-util.h) ---- */

/* B's sevd.conf: a migrator's token (what sevadm migrate uses on B), TLS on
 * 127.0.0.1:tls_port (gc_start's extra argument). */
static void tls_setup(void)
{
	struct pki_ident ca = pki_ident_make(NULL, NULL, "migrate test CA", PKI_CA);
	struct pki_ident srv = pki_ident_make(&ca, NULL, "localhost", PKI_SERVER);
	static char listen[64];
	char conf[2048], hex[65];
	FILE *f;

	snprintf(tls_dir, sizeof(tls_dir), "%s", B.d.dir);
	pki_ident_write(&ca, tls_dir, "ca");
	pki_ident_write(&srv, tls_dir, "server");
	pki_ident_free(&ca);
	pki_ident_free(&srv);
	snprintf(tls_ca, sizeof(tls_ca), "%s/ca.crt", tls_dir);
	snprintf(token_file, sizeof(token_file), "%s/token", tls_dir);
	f = fopen(token_file, "w");
	TU_CHECK(f && fputs(TOKEN "\n", f) >= 0 && fclose(f) == 0, "write %s", token_file);
	pki_token_hash(TOKEN, hex);
	snprintf(conf, sizeof(conf),
		 "token = migrator:sha256:%s\ntls_cert = %s/server.crt\ntls_key = %s/server.key\n",
		 hex, tls_dir, tls_dir);
	conf_write(&B, conf);
	tls_port = tu_free_port();
	snprintf(listen, sizeof(listen), "--listen=tls:127.0.0.1:%d", tls_port);
	B.d.extra_arg = listen;
}

static void expect(struct gc_resp *r, long status, const char *code, const char *what)
{
	TU_CHECK(r->status == status, "%s: HTTP %ld, expected %ld: %.*s", what, r->status, status,
		 (int)MIN(r->len, (size_t)400), r->body ? r->body : "");
	if (code)
		TU_CHECK(!strcmp(gc_err_code(r), code), "%s: code %s, expected %s", what,
			 gc_err_code(r), code);
}

static json_object *call(struct side *s, const char *method, const char *path, const char *body,
			 long status, const char *code)
{
	struct gc_resp r;
	json_object *o;

	gc_request(&s->d, method, path, body, body ? strlen(body) : 0, NULL, &r);
	expect(&r, status, code, path);
	o = r.json ? json_object_get(r.json) : NULL;
	gc_resp_free(&r);
	return o;
}

#define SECRET_TEXT "owner secret: for A, then B"
#define SECRET_ADDR 0x30000u

static char *b64_of(const void *p, size_t n)
{
	char *s = base64_encode(p, n);

	TU_CHECK(s, "base64");
	return s;
}

/* The owner's session for the platform's PDH: the launch body's godh_cert and session. */
static void owner_session(struct side *s, uint32_t policy, struct attest_tk *tk, char *body,
			  size_t size)
{
	json_object *c = call(s, "GET", "/v1/platform/certs", NULL, 200, NULL);
	_cleanup_free_ char *godh_b64 = NULL, *sess_b64 = NULL;
	_cleanup_free_ uint8_t *raw = NULL;
	struct sev_session_blob sess;
	struct sev_cert pdh, godh;
	size_t n;

	TU_CHECK(base64_decode(gc_str(c, "pdh"), strlen(gc_str(c, "pdh")), &raw, &n) == 0 &&
		     attest_sev_cert_parse(raw, n, &pdh, NULL) == 0,
		 "PDH");
	json_object_put(c);
	TU_CHECK(attest_session_build(&pdh, policy, NULL, &godh, &sess, tk) == 0, "session");
	godh_b64 = b64_of(&godh, sizeof(godh));
	sess_b64 = b64_of(&sess, sizeof(sess));
	snprintf(body, size,
		 "{\"policy\": %u, \"name\": \"mover\", \"memory_size\": %u, \"godh_cert\": "
		 "\"%s\", \"session\": \"%s\"}",
		 policy, MEM, godh_b64, sess_b64);
}

/* LAUNCH_SECRET of SECRET_TEXT at SECRET_ADDR, sealed for the measurement. */
static void inject_secret(struct side *s, uint32_t h, const struct attest_tk *tk)
{
	uint8_t measure[32], secret[32] = SECRET_TEXT, cipher[32];
	_cleanup_free_ char *hdr_b64 = NULL, *pl_b64 = NULL;
	struct sev_secret_header hdr;
	char path[64], body[512];
	json_object *o;
	int major, minor;

	snprintf(path, sizeof(path), "/v1/guests/%u/measurement", h);
	o = call(s, "GET", path, NULL, 200, NULL);
	TU_CHECK(hex_decode_exact(gc_str(o, "measurement"), measure, 32) == 0, "measurement");
	major = (int)gc_int(o, "api_major");
	minor = (int)gc_int(o, "api_minor");
	json_object_put(o);
	TU_CHECK(attest_secret_seal(&(struct attest_secret_key){.tk = tk, .measure = measure,
								.api_major = (uint8_t)major,
								.api_minor = (uint8_t)minor},
				    NULL, secret, sizeof(secret), &hdr, cipher) == 0,
		 "seal");
	hdr_b64 = b64_of(&hdr, sizeof(hdr));
	pl_b64 = b64_of(cipher, sizeof(cipher));
	snprintf(body, sizeof(body), "{\"header\": \"%s\", \"payload\": \"%s\"}", hdr_b64,
		 pl_b64);
	snprintf(path, sizeof(path), "/v1/guests/%u/secret", h);
	json_object_put(call(s, "POST", path, body, 200, NULL));
}

static uint32_t launch_as(struct side *s, uint32_t policy, const uint8_t *image, bool secret)
{
	char body[8192], path[64];
	struct attest_tk tk;
	json_object *o;
	struct gc_resp r;
	uint32_t h;

	if (secret)
		owner_session(s, policy, &tk, body, sizeof(body));
	else
		snprintf(body, sizeof(body),
			 "{\"policy\": %u, \"name\": \"mover\", \"memory_size\": %u}", policy,
			 MEM);
	o = call(s, "POST", "/v1/guests", body, 201, NULL);
	h = (uint32_t)gc_int(o, "handle");
	json_object_put(o);
	snprintf(path, sizeof(path), "/v1/guests/%u/data", h);
	gc_upload_chunked(&s->d, path, image, IMAGE, 10000, &r);
	expect(&r, 200, NULL, "data");
	gc_resp_free(&r);
	if (secret) {
		inject_secret(s, h, &tk);
		OPENSSL_cleanse(&tk, sizeof(tk));
	} else {
		snprintf(path, sizeof(path), "/v1/guests/%u/measurement", h);
		json_object_put(call(s, "GET", path, NULL, 200, NULL));
	}
	snprintf(path, sizeof(path), "/v1/guests/%u/finish", h);
	json_object_put(call(s, "POST", path, NULL, 200, NULL));
	return h;
}

static uint32_t launch(struct side *s, uint32_t policy, const uint8_t *image)
{
	return launch_as(s, policy, image, false);
}

static void view(struct side *s, uint32_t h, uint8_t *out)
{
	char text[256];
	int fd = -1;
	uint8_t *v;

	TU_CHECK(gt_ctl_memfd(s->emu.socket, h, &fd, text, sizeof(text)) == 0, "memfd: %s", text);
	v = mmap(NULL, MEM, PROT_READ, MAP_SHARED, fd, 0);
	TU_CHECK(v != MAP_FAILED, "mmap");
	memcpy(out, v, MEM);
	munmap(v, MEM);
	close(fd);
}

static int64_t asids_used(struct side *s)
{
	json_object *o = call(s, "GET", "/v1/asids", NULL, 200, NULL), *v;
	int64_t n;

	TU_CHECK(json_object_object_get_ex(o, "used", &v), "asids.used");
	n = json_object_get_int64(v);
	json_object_put(o);
	return n;
}

/* The body of POST /v1/guests/{h}/send: B's certificates as B's GET /v1/platform/certs. */
static char *target_body(struct side *t)
{
	json_object *o = call(t, "GET", "/v1/platform/certs", NULL, 200, NULL);
	char *s = strdup(json_object_to_json_string(o));

	json_object_put(o);
	return s;
}

/* SEND_START on A for B; the answer (status expected) or NULL. */
static json_object *send_start(uint32_t h, long status, const char *code)
{
	_cleanup_free_ char *body = target_body(&B);
	char path[64];

	snprintf(path, sizeof(path), "/v1/guests/%u/send", h);
	return call(&A, "POST", path, body, status, code);
}

static uint32_t receive_start(json_object *sent)
{
	json_object *body = json_object_new_object(), *rcv, *o;
	uint32_t h;

	TU_CHECK(json_object_object_get_ex(sent, "receive", &rcv), "send answers receive");
	json_object_object_add(body, "name", json_object_new_string("moved"));
	json_object_object_add(body, "receive", json_object_get(rcv));
	o = call(&B, "POST", "/v1/guests", json_object_to_json_string(body), 201, NULL);
	json_object_put(body);
	TU_CHECK(!strcmp(gc_str(o, "state"), "RUPDATE"), "state %s", gc_str(o, "state"));
	h = (uint32_t)gc_int(o, "handle");
	json_object_put(o);
	return h;
}

static void stream(uint32_t ha, struct gc_resp *out)
{
	char path[64];

	snprintf(path, sizeof(path), "/v1/guests/%u/send/stream", ha);
	gc_request(&A.d, "GET", path, NULL, 0, NULL, out);
	expect(out, 200, NULL, "send/stream");
	TU_CHECK_EQ(out->len, (MEM / 4096u) * (REC_HDR + 4096u));
}

static void hand_over(uint32_t hb, const uint8_t *buf, size_t len, struct gc_resp *out)
{
	char path[64];

	snprintf(path, sizeof(path), "/v1/guests/%u/receive", hb);
	gc_upload_chunked(&B.d, path, buf, len, 7000, out);
}

static void op(struct side *s, uint32_t h, const char *what, long status)
{
	char path[80];

	snprintf(path, sizeof(path), "/v1/guests/%u%s%s", h, what[0] ? "/" : "", what);
	json_object_put(call(s, !strcmp(what, "") ? "DELETE" : "POST", path, NULL, status, NULL));
}

static int guest_count(struct side *s)
{
	json_object *o = call(s, "GET", "/v1/guests", NULL, 200, NULL), *a;
	int n;

	TU_CHECK(json_object_object_get_ex(o, "guests", &a), "guests");
	n = (int)json_object_array_length(a);
	json_object_put(o);
	return n;
}

/* sevadm --daemon unix:A migrate H --to https://127.0.0.1:PORT --token FILE --ca-file CA;
 * its exit code, stdout into *out. */
static int sevadm_migrate(uint32_t h, char **out)
{
	char src[600], dst[600], hs[16];
	char *argv[] = { (char *)tu_exe("SEVADM_EXE"), (char *)"--daemon", src, (char *)"--json",
			 (char *)"migrate", hs, (char *)"--to", dst, (char *)"--token", token_file,
			 (char *)"--ca-file", tls_ca, NULL };
	size_t len;

	snprintf(src, sizeof(src), "unix:%s", A.d.sock);
	snprintf(dst, sizeof(dst), "https://127.0.0.1:%d", tls_port);
	snprintf(hs, sizeof(hs), "%u", h);
	return tu_run(argv, out, &len);
}

/* sevadm migrate: a NOSEND guest fails with nothing left on B and the guest RUNNING on A;
 * a plain one moves (B's view equals A's), A's copy gone. */
static void test_sevadm(const uint8_t *image, uint8_t *va, uint8_t *vb)
{
	int na = guest_count(&A), nb = guest_count(&B);
	_cleanup_free_ char *out = NULL;
	json_object *o;
	uint32_t h, hb;
	char path[64];

	h = launch(&A, SEV_POLICY_NODBG | SEV_POLICY_NOSEND, image);
	TU_CHECK(sevadm_migrate(h, &out) == 1, "sevadm migrate of a NOSEND guest: %s", out);
	free(out);
	out = NULL;
	TU_CHECK_EQ(guest_count(&B), nb);
	snprintf(path, sizeof(path), "/v1/guests/%u", h);
	o = call(&A, "GET", path, NULL, 200, NULL);
	TU_CHECK(!strcmp(gc_str(o, "state"), "RUNNING"), "NOSEND guest: %s", gc_str(o, "state"));
	json_object_put(o);
	op(&A, h, "", 200);

	h = launch(&A, SEV_POLICY_NODBG, image);
	view(&A, h, va);
	TU_CHECK(sevadm_migrate(h, &out) == 0, "sevadm migrate failed: %s", out);
	o = json_tokener_parse(out);
	TU_CHECK(o && gc_int(o, "handle") == h, "sevadm's answer: %s", out);
	hb = (uint32_t)gc_int(o, "target_handle");
	TU_CHECK_EQ(gc_int(o, "bytes"), MEM);
	json_object_put(o);
	view(&B, hb, vb);
	TU_CHECK(!memcmp(va, vb, MEM), "sevadm: B's guest memory differs from A's");
	TU_CHECK_EQ(guest_count(&A), na);
	TU_CHECK_EQ(guest_count(&B), nb + 1);
}

/* One CTL line to a side's emulator (its own connection beside sevd's). */
static void emu_ctl(struct side *s, const char *line)
{
	_cleanup_free_ char *spec = NULL;
	struct psp_transport *t = NULL;
	uint8_t *reply = NULL;
	size_t len = 0;

	TU_CHECK(asprintf(&spec, "emu:%s", s->emu.socket) > 0, "asprintf");
	TU_CHECK_EQ(psp_open(spec, &t), 0);
	TU_CHECK(psp_emu_ctl(t, line, &reply, &len) == 0, "CTL %s: %.*s", line, (int)len,
		 reply ? (char *)reply : "");
	free(reply);
	psp_close(t);
}

/* sevadm migrate fails mid-stream with FAULTY's firmware refusing a packet (rule: the
 * emulator's fault line): its clean-up deletes the half-received guest on B with the
 * migrator's token (the migrator deletes a guest it is receiving, nothing else) and cancels on
 * A. Nothing is left on B, the ASIDs on B are back, A's guest is RUNNING with its memory as it
 * was. */
static void migrate_fails(struct side *faulty, const char *rule, const char *what,
			  const uint8_t *image, uint8_t *va, uint8_t *vb)
{
	int nb = guest_count(&B);
	int64_t used_b = asids_used(&B);
	_cleanup_free_ char *out = NULL;
	uint32_t h = launch(&A, SEV_POLICY_NODBG, image);
	char path[64], line[128];
	json_object *o;

	view(&A, h, va);
	snprintf(line, sizeof(line), "fault %s", rule);
	emu_ctl(faulty, line);
	TU_CHECK(sevadm_migrate(h, &out) == 1, "sevadm migrate with %s: %s", what, out);
	emu_ctl(faulty, "fault clear");
	TU_CHECK_EQ(guest_count(&B), nb);
	TU_CHECK_EQ(asids_used(&B), used_b);
	snprintf(path, sizeof(path), "/v1/guests/%u", h);
	o = call(&A, "GET", path, NULL, 200, NULL);
	TU_CHECK(!strcmp(gc_str(o, "state"), "RUNNING"), "A after the migration with %s: %s",
		 what, gc_str(o, "state"));
	json_object_put(o);
	view(&A, h, vb);
	TU_CHECK(!memcmp(va, vb, MEM), "A's guest memory changed across the migration with %s",
		 what);
	op(&A, h, "", 200);
}

static int sevadm_on(struct side *s, char **argv_tail, char **out)
{
	char daemon[600];
	char *argv[16] = { (char *)tu_exe("SEVADM_EXE"), (char *)"--daemon", daemon };
	size_t len, n = 3;

	snprintf(daemon, sizeof(daemon), "unix:%s", s->d.sock);
	for (size_t i = 0; argv_tail[i] && n < 15; i++)
		argv[n++] = argv_tail[i];
	argv[n] = NULL;
	return tu_run(argv, out, &len);
}

/* sevadm snapshot on A for B's certificates (from sevadm export --full on B), sevadm restore
 * on B: B's guest view equals A's, A's copy gone; the same file restored on A (not its PDH)
 * fails and leaves nothing. */
static uint32_t launch_es(const uint8_t *image);
static bool is_true(json_object *o, const char *key);

/* es: an SEV-ES guest, its VMSAs in the file after the memory (B's certificates exported
 * by the first call). */
static void test_snapshot(const uint8_t *image, uint8_t *va, uint8_t *vb, bool es)
{
	_cleanup_free_ char *dir = path_join(A.d.dir, "b-certs");
	_cleanup_free_ char *file = path_join(A.d.dir, es ? "es-guest.snap" : "guest.snap");
	char hs[16], *out = NULL;
	char *exp[] = { (char *)"export", (char *)"--full", dir, NULL };
	char *snap[] = { (char *)"snapshot", hs, file, (char *)"--target", dir, NULL };
	char *rest[] = { (char *)"restore", file, NULL };
	int na = guest_count(&A), nb = guest_count(&B);
	uint32_t h = es ? launch_es(image) : launch(&A, SEV_POLICY_NODBG, image);
	json_object *o, *g;

	view(&A, h, va);
	snprintf(hs, sizeof(hs), "%u", h);
	if (!es) {
		TU_CHECK(sevadm_on(&B, exp, &out) == 0, "export --full: %s", out);
		free(out);
	}
	TU_CHECK(sevadm_on(&A, snap, &out) == 0, "snapshot: %s", out);
	free(out);
	TU_CHECK_EQ(guest_count(&A), na);
	TU_CHECK(sevadm_on(&A, rest, &out) == 1, "restore on the wrong platform: %s", out);
	free(out);
	TU_CHECK_EQ(guest_count(&A), na);
	TU_CHECK(sevadm_on(&B, rest, &out) == 0, "restore: %s", out);
	free(out);
	TU_CHECK_EQ(guest_count(&B), nb + 1);
	o = call(&B, "GET", "/v1/guests", NULL, 200, NULL);
	TU_CHECK(json_object_object_get_ex(o, "guests", &g), "guests");
	g = json_object_array_get_idx(g, json_object_array_length(g) - 1);
	view(&B, (uint32_t)gc_int(g, "handle"), vb);
	TU_CHECK(!strcmp(gc_str(g, "state"), "RUNNING"), "restored: %s", gc_str(g, "state"));
	TU_CHECK(is_true(g, "es") == es, "restored: es %d", is_true(g, "es"));
	json_object_put(o);
	TU_CHECK(!memcmp(va, vb, MEM), "the restored guest's memory differs from A's");
}

/* ---- SEV-ES (its VMSAs after the memory) ---- */
#define VMSA_A 0x20000u
#define VMSA_B 0x21000u

/* An ES guest on A: the image, two VMSAs of random bytes at VMSA_A and VMSA_B, finished. */
static uint32_t launch_es(const uint8_t *image)
{
	uint8_t page[4096];
	char body[160], path[80];
	struct gc_resp r;
	json_object *o;
	uint32_t h;

	snprintf(body, sizeof(body), "{\"policy\": %u, \"name\": \"es\", \"memory_size\": %u}",
		 SEV_POLICY_NODBG | SEV_POLICY_ES, MEM);
	o = call(&A, "POST", "/v1/guests", body, 201, NULL);
	h = (uint32_t)gc_int(o, "handle");
	json_object_put(o);
	snprintf(path, sizeof(path), "/v1/guests/%u/data", h);
	gc_upload_chunked(&A.d, path, image, IMAGE, 10000, &r);
	expect(&r, 200, NULL, "data");
	gc_resp_free(&r);
	for (unsigned i = 0; i < 2; i++) {
		TU_CHECK(RAND_bytes(page, sizeof(page)) == 1, "random VMSA");
		snprintf(path, sizeof(path), "/v1/guests/%u/vmsa?address=%u", h, i ? VMSA_B : VMSA_A);
		gc_request(&A.d, "POST", path, page, sizeof(page), "application/octet-stream", &r);
		expect(&r, 200, NULL, "vmsa");
		gc_resp_free(&r);
	}
	snprintf(path, sizeof(path), "/v1/guests/%u/measurement", h);
	json_object_put(call(&A, "GET", path, NULL, 200, NULL));
	snprintf(path, sizeof(path), "/v1/guests/%u/finish", h);
	json_object_put(call(&A, "POST", path, NULL, 200, NULL));
	return h;
}

/* The record at index i of a stream: its length word. */
static uint32_t rec_word(const uint8_t *p, unsigned i)
{
	const uint8_t *w = p + (size_t)i * (REC_HDR + 4096u) + 8;

	return (uint32_t)w[0] | (uint32_t)w[1] << 8 | (uint32_t)w[2] << 16 | (uint32_t)w[3] << 24;
}

static bool is_true(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static bool in_range(json_object *asids, const char *key, int64_t asid)
{
	json_object *a;

	TU_CHECK(json_object_object_get_ex(asids, key, &a) && json_object_array_length(a) == 2,
		 "asids.%s", key);
	return asid >= json_object_get_int64(json_object_array_get_idx(a, 0)) &&
	       asid <= json_object_get_int64(json_object_array_get_idx(a, 1));
}

/* An ES guest moves A → B: the memory records skip its two VMSA pages and its VMSAs come
 * last (bit 31 of the length word); a tampered VMSA packet is refused (BAD_MEASUREMENT) and a
 * stream cut before the VMSAs cannot finish, each with nothing left on B; then it moves and
 * B's guest view (its memory and its VMSAs) equals A's, an ES guest on an ES ASID. sevadm
 * migrate moves a second one. */
static void test_es(const uint8_t *image, uint8_t *va, uint8_t *vb)
{
	int64_t used_a = asids_used(&A), used_b = asids_used(&B);
	int na = guest_count(&A), nb = guest_count(&B);
	const unsigned n = MEM / 4096u;
	_cleanup_free_ char *out = NULL;
	json_object *sent, *rcv, *o;
	struct gc_resp r;
	uint8_t *text;
	char path[80];
	uint32_t ha, hb;

	ha = launch_es(image);
	view(&A, ha, va);
	TU_CHECK(!memcmp(va, image, IMAGE), "A's ES guest holds the image");

	/* A tampered VMSA packet: refused by firmware, B's guest deleted, A cancelled. */
	sent = send_start(ha, 200, NULL);
	TU_CHECK(json_object_object_get_ex(sent, "receive", &rcv), "receive");
	TU_CHECK_EQ(gc_int(rcv, "vcpus"), 2);
	hb = receive_start(sent);
	json_object_put(sent);
	stream(ha, &r);
	text = (uint8_t *)r.body;
	r.body = NULL;
	TU_CHECK(text, "send/stream had no body");
	for (unsigned i = 0; i < n; i++)
		TU_CHECK_EQ(rec_word(text, i), i < n - 2 ? 4096u : 0x80000000u | 4096u);
	TU_CHECK(!memmem(text, (size_t)n * (REC_HDR + 4096u), va + VMSA_A + 64, 64) &&
		     !memmem(text, (size_t)n * (REC_HDR + 4096u), va + VMSA_B + 64, 64),
		 "the stream holds a VMSA's plaintext");
	text[(size_t)(n - 1) * (REC_HDR + 4096u) + REC_HDR + 200] ^= 0x01;
	hand_over(hb, text, (size_t)n * (REC_HDR + 4096u), &r);
	expect(&r, 400, NULL, "tampered VMSA");
	TU_CHECK(!strcmp(gc_err_fw(&r), "BAD_MEASUREMENT"), "fw %s", gc_err_fw(&r));
	gc_resp_free(&r);
	op(&B, hb, "", 200);
	op(&A, ha, "send/cancel", 200);
	TU_CHECK_EQ(guest_count(&B), nb);
	TU_CHECK_EQ(asids_used(&B), used_b);
	TU_CHECK_EQ(asids_used(&A), used_a + 1);

	/* Cut before the VMSAs: the memory is taken, RECEIVE_FINISH is refused. */
	sent = send_start(ha, 200, NULL);
	hb = receive_start(sent);
	json_object_put(sent);
	stream(ha, &r);
	free(text);
	text = (uint8_t *)r.body;
	r.body = NULL;
	TU_CHECK(text, "send/stream had no body");
	hand_over(hb, text, (size_t)(n - 2) * (REC_HDR + 4096u), &r);
	expect(&r, 200, NULL, "memory only");
	TU_CHECK_EQ(gc_int(r.json, "vmsas"), 0);
	gc_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/guests/%u/receive/finish", hb);
	o = call(&B, "POST", path, NULL, 409, "wrong_state");
	TU_CHECK(strstr(json_object_to_json_string(o), "0 of the 2 VMSAs"), "%s",
		 json_object_to_json_string(o));
	json_object_put(o);
	op(&B, hb, "", 200);
	op(&A, ha, "send/cancel", 200);
	TU_CHECK_EQ(guest_count(&B), nb);
	TU_CHECK_EQ(asids_used(&B), used_b);

	/* The move. */
	sent = send_start(ha, 200, NULL);
	hb = receive_start(sent);
	json_object_put(sent);
	stream(ha, &r);
	free(text);
	text = (uint8_t *)r.body;
	r.body = NULL;
	TU_CHECK(text, "send/stream had no body");
	hand_over(hb, text, (size_t)n * (REC_HDR + 4096u), &r);
	expect(&r, 200, NULL, "ES receive");
	TU_CHECK_EQ(gc_int(r.json, "packets"), n);
	TU_CHECK_EQ(gc_int(r.json, "vmsas"), 2);
	gc_resp_free(&r);
	free(text);
	op(&B, hb, "receive/finish", 200);
	op(&A, ha, "send/finish", 200);
	view(&B, hb, vb);
	TU_CHECK(!memcmp(vb + VMSA_A, va + VMSA_A, 4096) && !memcmp(vb + VMSA_B, va + VMSA_B, 4096),
		 "B's VMSAs differ from A's");
	TU_CHECK(!memcmp(va, vb, MEM), "B's ES guest memory differs from A's");
	snprintf(path, sizeof(path), "/v1/guests/%u", hb);
	o = call(&B, "GET", path, NULL, 200, NULL);
	TU_CHECK(!strcmp(gc_str(o, "state"), "RUNNING") && is_true(o, "es"), "B's guest: %s",
		 json_object_to_json_string(o));
	{
		json_object *asids = call(&B, "GET", "/v1/asids", NULL, 200, NULL);

		TU_CHECK(in_range(asids, "es_range", gc_int(o, "asid")), "B's ES guest on ASID %lld",
			 (long long)gc_int(o, "asid"));
		json_object_put(asids);
	}
	json_object_put(o);
	TU_CHECK_EQ(asids_used(&A), used_a);
	TU_CHECK_EQ(asids_used(&B), used_b + 1);
	TU_CHECK_EQ(guest_count(&A), na);
	TU_CHECK_EQ(guest_count(&B), nb + 1);

	/* sevadm migrate carries the VMSAs too. */
	ha = launch_es(image);
	view(&A, ha, va);
	TU_CHECK(sevadm_migrate(ha, &out) == 0, "sevadm migrate of an ES guest: %s", out);
	o = json_tokener_parse(out);
	TU_CHECK(o, "sevadm --json: %s", out);
	view(&B, (uint32_t)gc_int(o, "target_handle"), vb);
	json_object_put(o);
	TU_CHECK(!memcmp(va, vb, MEM), "sevadm migrate: B's ES guest differs from A's");
	TU_CHECK_EQ(guest_count(&A), na);
	TU_CHECK_EQ(asids_used(&B), used_b + 2);

	/* The migrator's token moves guests, nothing else: no decommission on B. */
	{
		char dst[600], hs[16];
		char *argv[] = { (char *)tu_exe("SEVADM_EXE"), (char *)"--daemon", dst,
				 (char *)"--token", token_file, (char *)"--ca-file", tls_ca,
				 (char *)"decommission", hs, NULL };
		char *msg = NULL;
		size_t len;

		snprintf(dst, sizeof(dst), "https://127.0.0.1:%d", tls_port);
		snprintf(hs, sizeof(hs), "%u", hb);
		TU_CHECK(tu_run(argv, &msg, &len) != 0, "a migrator decommissioned: %s", msg);
		free(msg);
		TU_CHECK_EQ(guest_count(&B), nb + 2);
	}
}

/* Half a migration: SEND_START, RECEIVE_START and the first 64 KiB moved. */
static void half_move(uint32_t ha, uint32_t *ret_hb)
{
	json_object *sent = send_start(ha, 200, NULL);
	struct gc_resp r, r2;
	char path[96];

	*ret_hb = receive_start(sent);
	json_object_put(sent);
	snprintf(path, sizeof(path), "/v1/guests/%u/send/stream?offset=0&length=65536", ha);
	gc_request(&A.d, "GET", path, NULL, 0, NULL, &r);
	expect(&r, 200, NULL, "partial stream");
	TU_CHECK_EQ(r.len, 16u * (REC_HDR + 4096u));
	hand_over(*ret_hb, (uint8_t *)r.body, r.len, &r2);
	expect(&r2, 200, NULL, "partial receive");
	gc_resp_free(&r2);
	gc_resp_free(&r);
}

struct counts {
	int na, nb;
	int64_t used_a, used_b;
};

static struct counts counts_now(void)
{
	return (struct counts){ guest_count(&A), guest_count(&B), asids_used(&A), asids_used(&B) };
}

/* The source dies mid-stream of ha: its restart cancels the send, ha is RUNNING again with its
 * memory, and the target's client deletes its half (hb), after which B holds what it held. */
static void kill_source(uint32_t ha, bool es, uint8_t *va, uint8_t *vb, const struct counts *c)
{
	const char *what = es ? "A's ES guest" : "A's guest";
	char path[64];
	json_object *o;
	uint32_t hb;

	view(&A, ha, va);
	half_move(ha, &hb);
	gc_stop(&A.d, true);
	restart(&A);
	snprintf(path, sizeof(path), "/v1/guests/%u", ha);
	o = call(&A, "GET", path, NULL, 200, NULL);
	TU_CHECK(!strcmp(gc_str(o, "state"), "RUNNING") && (!es || is_true(o, "es")),
		 "%s after its kill: %s", what, json_object_to_json_string(o));
	json_object_put(o);
	view(&A, ha, vb);
	TU_CHECK(!memcmp(va, vb, MEM), "%s memory changed across the kill", what);
	op(&B, hb, "", 200);
	TU_CHECK_EQ(guest_count(&B), c->nb);
	TU_CHECK_EQ(asids_used(&B), c->used_b);
}

/* The target dies mid-stream of ha: its restart decommissions the half-received guest, its
 * ASIDs are back; the source cancels, ha is as it was, and is deleted. */
static void kill_target(uint32_t ha, bool es, uint8_t *va, uint8_t *vb, const struct counts *c)
{
	const char *what = es ? "A's ES guest" : "A's guest";
	char path[64];
	uint32_t hb;

	view(&A, ha, va);
	half_move(ha, &hb);
	gc_stop(&B.d, true);
	restart(&B);
	snprintf(path, sizeof(path), "/v1/guests/%u", hb);
	json_object_put(call(&B, "GET", path, NULL, 404, "not_found"));
	TU_CHECK_EQ(guest_count(&B), c->nb);
	TU_CHECK_EQ(asids_used(&B), c->used_b);
	op(&A, ha, "send/cancel", 200);
	view(&A, ha, vb);
	TU_CHECK(!memcmp(va, vb, MEM), "%s memory changed across B's kill", what);
	TU_CHECK_EQ(guest_count(&A), c->na + 1);
	TU_CHECK_EQ(asids_used(&A), c->used_a + 1);
	op(&A, ha, "", 200);
}

/* SIGKILL of either daemon mid-migration: the source's guest is RUNNING again with its
 * memory intact, the target holds nothing half-received, the ASIDs are back. */
static void test_kills(const uint8_t *image, uint8_t *va, uint8_t *vb)
{
	struct counts c = counts_now();
	uint32_t ha = launch(&A, SEV_POLICY_NODBG, image);

	kill_source(ha, false, va, vb, &c);
	kill_target(ha, false, va, vb, &c);
}

/* The same for an SEV-ES guest, whose VMSA addresses a restarted sevd knows only from its
 * journal: after A's SIGKILL mid-stream A's guest is RUNNING with its memory and VMSAs, and
 * moves to B in full (SEND_START refuses an ES guest whose VMSAs sevd does not know; the
 * memory packets skip the VMSA pages, which come last); after B's SIGKILL mid-stream B holds
 * nothing, its ASIDs are back, A cancels and its guest is as it was. */
static void test_kills_es(const uint8_t *image, uint8_t *va, uint8_t *vb)
{
	struct counts c = counts_now();
	uint32_t ha = launch_es(image), hb;
	_cleanup_free_ char *out = NULL;
	json_object *o;

	kill_source(ha, true, va, vb, &c);
	/* the VMSAs came back from the journal: the whole guest moves */
	TU_CHECK(sevadm_migrate(ha, &out) == 0, "sevadm migrate of the ES guest after A's kill: %s",
		 out);
	o = json_tokener_parse(out);
	TU_CHECK(o, "sevadm --json: %s", out);
	hb = (uint32_t)gc_int(o, "target_handle");
	json_object_put(o);
	view(&B, hb, vb);
	TU_CHECK(!memcmp(vb + VMSA_A, va + VMSA_A, 4096) && !memcmp(vb + VMSA_B, va + VMSA_B, 4096),
		 "B's VMSAs differ from those of A's ES guest before A's kill");
	TU_CHECK(!memcmp(va, vb, MEM), "B's ES guest differs from A's before A's kill");
	TU_CHECK_EQ(guest_count(&A), c.na);
	TU_CHECK_EQ(asids_used(&A), c.used_a);
	op(&B, hb, "", 200);

	/* the target dies mid-stream of an ES guest: nothing half-received after its restart */
	kill_target(launch_es(image), true, va, vb, &c);
}

/* Core ops of a kind on one side so far: the per-page op and its batch op together. */
static uint64_t core_ops(struct side *s, const char *single, const char *batch)
{
	char a[96], b[96];

	snprintf(a, sizeof(a), "sevd_core_requests_total{op=\"%s\"}", single);
	snprintf(b, sizeof(b), "sevd_core_requests_total{op=\"%s\"}", batch);
	return gc_metric_value(&s->d, a) + gc_metric_value(&s->d, b);
}

/* The memory crosses the worker <-> core seam in batches: on each side, the core ops that
 * carried the move's 64 packets are about 64 / SEVD_MIG_BATCH, not one per page (each
 * packet is still its own SEND_UPDATE_DATA / RECEIVE_UPDATE_DATA, as KVM sends them). */
static void check_batched(uint64_t sent_ops, uint64_t received_ops)
{
	TU_CHECK(sent_ops >= 1 && sent_ops <= MEM / 4096u / 8u,
		 "A's core served %llu send ops for %u packets (batches expected)",
		 (unsigned long long)sent_ops, MEM / 4096u);
	TU_CHECK(received_ops >= 1 && received_ops <= MEM / 4096u / 8u,
		 "B's core served %llu receive ops for %u packets (batches expected)",
		 (unsigned long long)received_ops, MEM / 4096u);
}

int main(void)
{
	_cleanup_free_ uint8_t *image = malloc(IMAGE), *va = malloc(MEM), *vb = malloc(MEM);
	_cleanup_free_ char *root = NULL, *text = NULL;
	json_object *sent, *o;
	struct gc_resp r;
	uint32_t ha, hb, hn;
	int64_t used_a, used_b;
	char path[80];

	if (!getenv("SEVD_EXE") || !getenv("SEV_PSP_EMU_EXE"))
		tu_skip("SEVD_EXE or SEV_PSP_EMU_EXE not set (run through meson test)");
	TU_CHECK(image && va && vb && RAND_bytes(image, IMAGE) == 1, "setup");
	side_start(&A, "a");
	side_start(&B, "b");
	conf_write(&A, "");
	tls_setup();
	restart(&A);
	restart(&B);

	/* B's root is no AMD root: refused before firmware, the guest still RUNNING. */
	ha = launch_as(&A, SEV_POLICY_NODBG, image, true);
	view(&A, ha, va);
	TU_CHECK(!memcmp(va, image, IMAGE), "A's guest view holds the image");
	TU_CHECK(!memcmp(va + SECRET_ADDR, SECRET_TEXT, sizeof(SECRET_TEXT)),
		 "A's guest view holds the owner's secret");
	o = send_start(ha, 403, NULL);
	TU_CHECK(strstr(json_object_to_json_string(o), "not trusted"), "refusal: %s",
		 json_object_to_json_string(o));
	json_object_put(o);
	snprintf(path, sizeof(path), "/v1/guests/%u", ha);
	o = call(&A, "GET", path, NULL, 200, NULL);
	TU_CHECK(!strcmp(gc_str(o, "state"), "RUNNING"), "after refusal: %s", gc_str(o, "state"));
	json_object_put(o);

	/* A's operator names B's ASK ‖ ARK as the emulated migration root. */
	o = call(&B, "GET", "/v1/platform/certs", NULL, 200, NULL);
	{
		uint8_t *ask = NULL, *ark = NULL;
		size_t ask_len, ark_len;
		char conf[1024];
		FILE *f;

		TU_CHECK(base64_decode(gc_str(o, "ask"), strlen(gc_str(o, "ask")), &ask, &ask_len) == 0 &&
			     base64_decode(gc_str(o, "ark"), strlen(gc_str(o, "ark")), &ark, &ark_len) == 0,
			 "certs");
		root = path_join(A.d.dir, "b-ask-ark.cert");
		f = fopen(root, "wb");
		TU_CHECK(f && fwrite(ask, 1, ask_len, f) == ask_len &&
			     fwrite(ark, 1, ark_len, f) == ark_len && fclose(f) == 0,
			 "write %s", root);
		free(ask);
		free(ark);
		snprintf(conf, sizeof(conf), "migration_emulated_root = %s\n", root);
		conf_write(&A, conf);
	}
	json_object_put(o);
	restart(&A);

	/* SEV-ES without a VMSA sevd knows: refused before SEND_START. */
	{
		char body[160];

		snprintf(body, sizeof(body), "{\"policy\": %u, \"memory_size\": %u}",
			 SEV_POLICY_NODBG | SEV_POLICY_ES, MEM);
		o = call(&A, "POST", "/v1/guests", body, 201, NULL);
		hn = (uint32_t)gc_int(o, "handle");
		json_object_put(o);
		o = send_start(hn, 409, "wrong_state");
		TU_CHECK(strstr(json_object_to_json_string(o), "VMSAs"), "%s",
			 json_object_to_json_string(o));
		json_object_put(o);
		snprintf(path, sizeof(path), "/v1/guests/%u", hn);
		o = call(&A, "GET", path, NULL, 200, NULL);
		TU_CHECK(!strcmp(gc_str(o, "state"), "LUPDATE"), "ES guest: %s", gc_str(o, "state"));
		json_object_put(o);
		op(&A, hn, "", 200);
	}

	/* NOSEND: firmware refuses SEND_START. */
	hn = launch(&A, SEV_POLICY_NODBG | SEV_POLICY_NOSEND, image);
	o = send_start(hn, 400, NULL);
	TU_CHECK(strstr(json_object_to_json_string(o), "POLICY_FAILURE"), "NOSEND: %s",
		 json_object_to_json_string(o));
	json_object_put(o);
	op(&A, hn, "", 200);

	/* A tampered packet: B refuses it; the half-received guest is deleted, A cancels. */
	used_a = asids_used(&A);
	used_b = asids_used(&B);
	sent = send_start(ha, 200, NULL);
	TU_CHECK(!strcmp(gc_str(sent, "state"), "SUPDATE"), "state %s", gc_str(sent, "state"));
	hb = receive_start(sent);
	json_object_put(sent);
	{ /* a record claiming 5000 bytes: refused by its framing, before any firmware call */
		uint8_t bad[REC_HDR] = {0};

		bad[8] = 0x88, bad[9] = 0x13;
		hand_over(hb, bad, sizeof(bad), &r);
		expect(&r, 400, "bad_request", "a bad record length");
		TU_CHECK(strstr(r.body, "record 1: a packet length of 5000"), "%s", r.body);
		gc_resp_free(&r);
		hand_over(hb, bad, 7, &r);
		expect(&r, 400, "bad_request", "a cut record");
		TU_CHECK(strstr(r.body, "ends inside record 1"), "%s", r.body);
		gc_resp_free(&r);
	}
	stream(ha, &r);
	text = (char *)r.body; /* hand_over answers into r: the stream is ours to free */
	r.body = NULL;
	text[5 * (REC_HDR + 4096u) + REC_HDR + 99] ^= 0x10;
	hand_over(hb, (uint8_t *)text, r.len, &r);
	free(text);
	text = NULL;
	expect(&r, 400, NULL, "tampered receive");
	TU_CHECK(!strcmp(gc_err_fw(&r), "BAD_MEASUREMENT"), "fw %s", gc_err_fw(&r));
	gc_resp_free(&r);
	op(&B, hb, "", 200);
	op(&A, ha, "send/cancel", 200);
	TU_CHECK_EQ(asids_used(&B), used_b);
	TU_CHECK_EQ(asids_used(&A), used_a);

	/* The move. */
	sent = send_start(ha, 200, NULL);
	hb = receive_start(sent);
	json_object_put(sent);
	TU_CHECK_EQ(asids_used(&B), used_b + 1);
	uint64_t ops_a = core_ops(&A, "GUEST_SEND_DATA", "GUEST_SEND_BATCH");
	uint64_t ops_b = core_ops(&B, "GUEST_RECEIVE_DATA", "GUEST_RECEIVE_BATCH");

	stream(ha, &r);
	char *moved = (char *)r.body;

	TU_CHECK(moved, "send/stream had no body");
	r.body = NULL;
	hand_over(hb, (uint8_t *)moved, r.len, &r);
	expect(&r, 200, NULL, "receive");
	TU_CHECK_EQ(gc_int(r.json, "packets"), MEM / 4096u);
	gc_resp_free(&r);
	check_batched(core_ops(&A, "GUEST_SEND_DATA", "GUEST_SEND_BATCH") - ops_a,
		      core_ops(&B, "GUEST_RECEIVE_DATA", "GUEST_RECEIVE_BATCH") - ops_b);
	op(&B, hb, "receive/finish", 200);
	op(&A, ha, "send/finish", 200);
	snprintf(path, sizeof(path), "/v1/guests/%u", ha);
	json_object_put(call(&A, "GET", path, NULL, 404, "not_found"));
	snprintf(path, sizeof(path), "/v1/guests/%u", hb);
	o = call(&B, "GET", path, NULL, 200, NULL);
	TU_CHECK(!strcmp(gc_str(o, "state"), "RUNNING"), "B's guest: %s", gc_str(o, "state"));
	TU_CHECK(!gc_is_null(o, "asid"), "B's guest has an ASID");
	json_object_put(o);
	view(&B, hb, vb);
	TU_CHECK(!memcmp(va, vb, MEM), "B's guest memory differs from A's");
	TU_CHECK(!memcmp(vb + SECRET_ADDR, SECRET_TEXT, sizeof(SECRET_TEXT)),
		 "the owner's secret is not in B's guest");
	TU_CHECK(!memmem(moved, (MEM / 4096u) * (REC_HDR + 4096u), SECRET_TEXT, 16),
		 "the stream holds the secret's plaintext");
	TU_CHECK(!memmem(moved, (MEM / 4096u) * (REC_HDR + 4096u), image + 1000, 64),
		 "the stream holds plaintext of the image");
	free(moved);
	TU_CHECK_EQ(asids_used(&A), used_a - 1);
	TU_CHECK_EQ(asids_used(&B), used_b + 1);

	test_es(image, va, vb);
	test_sevadm(image, va, vb);
	/* B's firmware refuses the tenth RECEIVE_UPDATE_DATA; then A's the twentieth
	 * SEND_UPDATE_DATA, inside the stream's second batch, where A's stream stops. */
	migrate_fails(&B, "RECEIVE_UPDATE_DATA:fail=INVALID_GUEST_STATE:nth=10",
		      "a failing target", image, va, vb);
	migrate_fails(&A, "SEND_UPDATE_DATA:fail=INVALID_GUEST_STATE:nth=20", "a failing source",
		      image, va, vb);
	test_kills(image, va, vb);
	test_kills_es(image, va, vb);
	test_snapshot(image, va, vb, false);
	test_snapshot(image, va, vb, true);
	gc_stop(&A.d, false);
	gc_stop(&B.d, false);
	tu_emu_stop(&A.emu);
	tu_emu_stop(&B.emu);
	/* tu_done exits: main's _cleanup_ handlers would not run */
	free(image), free(va), free(vb), free(root);
	image = va = vb = NULL;
	root = NULL;
	tu_done("daemon migrate over HTTP");
}
