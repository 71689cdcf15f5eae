/* The guest lifecycle through the REST API, as a guest owner and an operator would do it:
 * the real sev-psp-emu (a small one: ASIDs ES 1, SEV 2..3) and the real sevd, HTTP over the
 * Unix socket with libcurl. The owner builds a session for the platform's PDH
 * (attest/session.h), sevd launches a multi-MiB image streamed in chunks, the measurement is
 * recomputed independently from the image's SHA-256 and the TIK (attest/measurement.h), a
 * secret packet (attest/secret.h) is injected, the guest finishes and is activated, a grant
 * arrives on the control socket, the attestation report verifies with the PEK
 * (attest/sev-report.h), the host-visible guest memfd holds no plaintext, and DELETE sends a
 * revoke and leaves 404. Then every wrong-state transition by status name, a tampered session
 * blob, a tampered secret packet, a forbidden policy, a full ASID pool and a full tenant quota,
 * each with a clear error and nothing left behind; bad inputs; a restart that keeps a running
 * guest and an unfinished launch (which takes no more data). Every answer is checked against
 * daemon/openapi.yaml. */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "attest/measurement.h"
#include "attest/secret.h"
#include "attest/sev-cert.h"
#include "attest/sev-report.h"
#include "attest/session.h"
#include "common/macros.h"
#include "common/util.h"
#include "hv-glue/binding.h"
#include "tests/daemon/guest-client.h"
#include "tests/daemon/openapi-check.h"
#include "tests/testutil.h"

#define POLICY_OK 0x1u /* NODBG: the host requires it */
#define MARKER "PLAINTEXT-IMAGE-MARKER-7f3a"
#define SECRET_TEXT "SECRET-PAYLOAD-do-not-leak-1234" /* 32 bytes with the NUL */

static struct gc_daemon D;
static struct tu_emu E;
static json_object *doc;

/* Check the answer against daemon/openapi.yaml. */
static void oa(const struct gc_resp *r, const char *path, const char *method)
{
	char err[256];

	TU_CHECK(oa_check_response(doc, path, method, (unsigned)r->status, "application/json",
				   r->body, err, sizeof(err)) == 0,
		 "%s %s answered %ld, not as documented: %s (%s)", method, path, r->status, err,
		 r->body);
}

static void req(const char *method, const char *path, const char *tmpl, const char *body,
		struct gc_resp *r)
{
	gc_request(&D, method, path, body, body ? strlen(body) : 0, NULL, r);
	oa(r, tmpl, method);
}

static void expect(const struct gc_resp *r, long status, const char *code, const char *fw)
{
	TU_CHECK(r->status == status, "status %ld, expected %ld: %s", r->status, status, r->body);
	if (code)
		TU_CHECK(!strcmp(gc_err_code(r), code), "code '%s', expected '%s': %s",
			 gc_err_code(r), code, r->body);
	if (fw)
		TU_CHECK(!strcmp(gc_err_fw(r), fw), "fw_status '%s', expected '%s': %s",
			 gc_err_fw(r), fw, r->body);
}

static char *b64(const void *buf, size_t len)
{
	char *s = base64_encode(buf, len);

	TU_CHECK(s != NULL, "base64");
	return s;
}

/* (guest_count, used ASIDs, free + pending ASIDs): what "nothing left behind" compares. */
struct snapshot {
	int64_t guests, used, free_pending;
};

static struct snapshot snap(void)
{
	struct gc_resp p, a;
	struct snapshot s;

	req("GET", "/v1/platform", "/v1/platform", NULL, &p);
	req("GET", "/v1/asids", "/v1/asids", NULL, &a);
	s.guests = gc_int(p.json, "guest_count");
	s.used = gc_int(a.json, "used");
	s.free_pending = gc_int(a.json, "free") + gc_int(a.json, "flush_pending");
	gc_resp_free(&p);
	gc_resp_free(&a);
	return s;
}

static void same_snapshot(struct snapshot a, struct snapshot b, const char *what)
{
	TU_CHECK(a.guests == b.guests && a.used == b.used && a.free_pending == b.free_pending,
		 "%s left something behind: guests %lld→%lld, used ASIDs %lld→%lld", what,
		 (long long)a.guests, (long long)b.guests, (long long)a.used, (long long)b.used);
}

static uint32_t launch(const char *body)
{
	struct gc_resp r;
	uint32_t h;

	req("POST", "/v1/guests", "/v1/guests", body, &r);
	expect(&r, 201, NULL, NULL);
	TU_CHECK(!strcmp(gc_str(r.json, "state"), "LUPDATE"), "state after launch");
	h = (uint32_t)gc_int(r.json, "handle");
	gc_resp_free(&r);
	return h;
}

static void guest_path(char *buf, size_t n, uint32_t h, const char *suffix)
{
	snprintf(buf, n, "/v1/guests/%u%s", h, suffix);
}

/* POST /v1/guests/{h}/<what> with an optional body; status expected. */
static void post(uint32_t h, const char *what, const char *body, long status, const char *code,
		 const char *fw, struct gc_resp *out)
{
	char path[128], tmpl[128];
	struct gc_resp r;

	guest_path(path, sizeof(path), h, what);
	snprintf(tmpl, sizeof(tmpl), "/v1/guests/{h}%s", what);
	req("POST", path, tmpl, body, &r);
	expect(&r, status, code, fw);
	if (out)
		*out = r;
	else
		gc_resp_free(&r);
}

static void del(uint32_t h)
{
	char path[64];
	struct gc_resp r;

	guest_path(path, sizeof(path), h, "");
	req("DELETE", path, "/v1/guests/{h}", NULL, &r);
	expect(&r, 200, NULL, NULL);
	gc_resp_free(&r);
	req("GET", path, "/v1/guests/{h}", NULL, &r);
	expect(&r, 404, "not_found", NULL);
	gc_resp_free(&r);
}

static uint8_t *make_image(size_t len)
{
	uint8_t *img = malloc(len);

	TU_CHECK(img != NULL, "malloc");
	for (size_t i = 0; i < len; i++)
		img[i] = (uint8_t)(i * 7 + (i >> 13));
	for (size_t off = 0; off + sizeof(MARKER) <= len; off += 4096)
		memcpy(img + off, MARKER, sizeof(MARKER) - 1);
	return img;
}

/* The guest's memfd as the host sees it: sevd's descriptor, read through /proc. */
static uint8_t *host_memory(size_t len)
{
	char dir[64], link[512], target[512];
	struct dirent *de;
	uint8_t *buf = NULL;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)D.pid);
	d = opendir(dir);
	TU_CHECK(d != NULL, "opendir %s", dir);
	while ((de = readdir(d)) && !buf) {
		ssize_t n;
		int fd;

		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (!strstr(target, "memfd:sevd-guest"))
			continue;
		fd = open(link, O_RDONLY);
		TU_CHECK(fd >= 0, "open %s", link);
		buf = calloc(1, len);
		TU_CHECK(buf && pread(fd, buf, len, 0) == (ssize_t)len, "read the guest memfd");
		close(fd);
	}
	closedir(d);
	TU_CHECK(buf != NULL, "no memfd:sevd-guest among sevd's descriptors");
	return buf;
}

static int control_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char *path = path_join(D.dir, "control.sock");
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	TU_CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s",
		 path);
	free(path);
	return fd;
}

/* The guest's stable id in a frame (version 2) as its JSON "id" spells it. */
static void frame_id_hex(const struct hv_grant_msg *m, char out[2 * HV_GUEST_ID_SIZE + 1])
{
	for (unsigned i = 0; i < HV_GUEST_ID_SIZE; i++)
		snprintf(out + 2 * i, 3, "%02x", m->id[i]);
}

static struct hv_grant_msg read_frame(int fd, enum hv_grant_type type, uint32_t handle,
				      uint32_t asid)
{
	struct hv_grant_msg m = {0};
	const char *why = NULL;
	struct timeval tv = {.tv_sec = 5};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	TU_CHECK(hv_grant_stream_read(fd, &m, &why) == 1, "grant stream: %s", why ? why : "EOF");
	TU_CHECK(m.type == type && m.handle == handle && m.asid == asid,
		 "frame type %d handle %u asid %u, expected %d %u %u", m.type, m.handle, m.asid,
		 type, handle, asid);
	return m;
}

static void test_lifecycle(void)
{
	const size_t len = 3 * 1024 * 1024 + 12345, padded = (len + 15) / 16 * 16;
	_cleanup_free_ uint8_t *img = make_image(padded), *pdh_raw = NULL, *pek_raw = NULL,
			       *host = NULL, *blob = NULL, *rep_raw = NULL;
	_cleanup_free_ char *body = NULL, *godh_b64 = NULL, *sess_b64 = NULL, *hdr_b64 = NULL,
			    *pl_b64 = NULL, *bad_b64 = NULL;
	struct sev_cert pdh, pek, godh;
	struct sev_session_blob sess;
	struct attest_tk tk;
	struct attest_measure_input in = {.ctx = ATTEST_MEASURE_CTX, .policy = POLICY_OK};
	struct sev_secret_header hdr;
	struct sev_attestation_report report;
	struct attest_verdict v;
	uint8_t measure[32], secret[32], cipher[32], nonce[16];
	struct gc_resp r;
	size_t n;
	uint32_t h, asid;
	char path[128];
	int ctl;
	struct snapshot before = snap();

	/* The owner: the platform's PDH and PEK, a session for them. */
	req("GET", "/v1/platform/certs", "/v1/platform/certs", NULL, &r);
	expect(&r, 200, NULL, NULL);
	TU_CHECK(base64_decode(gc_str(r.json, "pdh"), strlen(gc_str(r.json, "pdh")), &pdh_raw,
			       &n) == 0 &&
		     attest_sev_cert_parse(pdh_raw, n, &pdh, NULL) == 0,
		 "PDH");
	TU_CHECK(base64_decode(gc_str(r.json, "pek"), strlen(gc_str(r.json, "pek")), &pek_raw,
			       &n) == 0 &&
		     attest_sev_cert_parse(pek_raw, n, &pek, NULL) == 0,
		 "PEK");
	gc_resp_free(&r);
	TU_CHECK(attest_session_build(&pdh, POLICY_OK, NULL, &godh, &sess, &tk) == 0, "session");
	godh_b64 = b64(&godh, sizeof(godh));
	sess_b64 = b64(&sess, sizeof(sess));
	TU_CHECK(asprintf(&body,
			  "{\"policy\": %u, \"name\": \"e2e\", \"godh_cert\": \"%s\", "
			  "\"session\": \"%s\"}",
			  POLICY_OK, godh_b64, sess_b64) > 0,
		 "body");
	h = launch(body);

	/* The image, streamed in 100000-byte chunks (4 LAUNCH_UPDATE_DATA of 1 MiB at most). */
	guest_path(path, sizeof(path), h, "/data");
	gc_upload_chunked(&D, path, img, len, 100000, &r);
	oa(&r, "/v1/guests/{h}/data", "POST");
	expect(&r, 200, NULL, NULL);
	TU_CHECK_EQ(gc_int(r.json, "uploaded"), len);
	TU_CHECK_EQ(gc_int(r.json, "chunks"), 4);
	TU_CHECK_EQ(gc_int(r.json, "data_bytes"), padded);
	gc_resp_free(&r);

	/* The host-visible memory: ciphertext, never the image. */
	host = host_memory(padded);
	TU_CHECK(memmem(host, padded, MARKER, sizeof(MARKER) - 1) == NULL,
		 "the image's plaintext is visible in the host's guest memory");
	TU_CHECK(memcmp(host, img, 4096) != 0, "first page unchanged");

	/* Measurement, recomputed from SHA-256(image ‖ zero padding) and the TIK. */
	guest_path(path, sizeof(path), h, "/measurement");
	req("GET", path, "/v1/guests/{h}/measurement", NULL, &r);
	expect(&r, 200, NULL, NULL);
	TU_CHECK(hex_decode_exact(gc_str(r.json, "measurement"), measure, 32) == 0, "measurement");
	TU_CHECK(hex_decode_exact(gc_str(r.json, "mnonce"), in.mnonce, 16) == 0, "mnonce");
	TU_CHECK(base64_decode(gc_str(r.json, "blob"), strlen(gc_str(r.json, "blob")), &blob, &n) ==
			 0 &&
		     n == 48 && !memcmp(blob, measure, 32) && !memcmp(blob + 32, in.mnonce, 16),
		 "blob = measure ‖ mnonce");
	in.api_major = (uint8_t)gc_int(r.json, "api_major");
	in.api_minor = (uint8_t)gc_int(r.json, "api_minor");
	in.build = (uint8_t)gc_int(r.json, "build");
	gc_resp_free(&r);
	memset(img + len, 0, padded - len);
	TU_CHECK(EVP_Digest(img, padded, in.digest, NULL, EVP_sha256(), NULL) == 1, "sha256");
	TU_CHECK_EQ(attest_measurement_verify(tk.tik, &in, measure), 1);
	req("GET", path, "/v1/guests/{h}/measurement", NULL, &r); /* idempotent */
	TU_CHECK(!strcmp(gc_str(r.json, "measurement"), gc_str(r.json, "measurement")) &&
		     hex_decode_exact(gc_str(r.json, "measurement"), cipher, 32) == 0 &&
		     !memcmp(cipher, measure, 32),
		 "a second GET answers the same measurement");
	gc_resp_free(&r);

	/* The secret: a tampered packet first (refused, nothing changes), then the real one. */
	memset(secret, 0, sizeof(secret));
	memcpy(secret, SECRET_TEXT, sizeof(SECRET_TEXT));
	TU_CHECK(attest_secret_seal(
		     &(struct attest_secret_key){&tk, measure, in.api_major, in.api_minor}, NULL,
		     secret, sizeof(secret), &hdr, cipher) == 0,
		 "seal");
	hdr_b64 = b64(&hdr, sizeof(hdr));
	pl_b64 = b64(cipher, sizeof(cipher));
	cipher[3] ^= 1;
	bad_b64 = b64(cipher, sizeof(cipher));
	cipher[3] ^= 1;
	free(body);
	TU_CHECK(asprintf(&body, "{\"header\": \"%s\", \"payload\": \"%s\"}", hdr_b64, bad_b64) > 0,
		 "body");
	post(h, "/secret", body, 400, "bad_request", "BAD_MEASUREMENT", NULL);
	free(body);
	TU_CHECK(asprintf(&body, "{\"header\": \"%s\", \"payload\": \"%s\"}", hdr_b64, pl_b64) > 0,
		 "body");
	post(h, "/secret", body, 200, NULL, NULL, &r);
	TU_CHECK_EQ(gc_int(r.json, "address"), 0x30000);
	TU_CHECK(!strcmp(gc_str(r.json, "state"), "LSECRET"), "state after the secret");
	gc_resp_free(&r);
	free(host);
	host = host_memory(padded);
	TU_CHECK(memmem(host, padded, SECRET_TEXT, 16) == NULL,
		 "the secret's plaintext is visible in the host's guest memory");

	/* Finish, activate (a GRANT on the control socket), GET. */
	ctl = control_connect();
	post(h, "/finish", NULL, 200, NULL, NULL, &r);
	TU_CHECK(!strcmp(gc_str(r.json, "state"), "RUNNING"), "state after finish");
	gc_resp_free(&r);
	post(h, "/activate", NULL, 200, NULL, NULL, &r);
	asid = (uint32_t)gc_int(r.json, "asid");
	TU_CHECK(asid >= 2 && asid <= 3, "a plain SEV guest gets an ASID of 2..3, not %u", asid);
	gc_resp_free(&r);
	struct hv_grant_msg gm = read_frame(ctl, HV_GRANT, h, asid);
	char gm_id[2 * HV_GUEST_ID_SIZE + 1];
	guest_path(path, sizeof(path), h, "");
	req("GET", path, "/v1/guests/{h}", NULL, &r);
	TU_CHECK(!strcmp(gc_str(r.json, "state"), "RUNNING") && gc_int(r.json, "asid") == asid &&
		     !strcmp(gc_str(r.json, "name"), "e2e"),
		 "GET after activate: %s", r.body);
	/* The GRANT (a version 2 frame, read by hv-glue's reader) carries the guest's id. */
	frame_id_hex(&gm, gm_id);
	TU_CHECK(!strcmp(gc_str(r.json, "id"), gm_id), "the GRANT's id %s, the guest's %s", gm_id,
		 gc_str(r.json, "id"));
	gc_resp_free(&r);
	req("GET", "/v1/guests", "/v1/guests", NULL, &r);
	TU_CHECK(json_object_array_length(json_object_object_get(r.json, "guests")) == 1, "list");
	gc_resp_free(&r);

	/* Attestation over a fresh nonce, verified with the PEK. */
	TU_CHECK(RAND_bytes(nonce, sizeof(nonce)) == 1, "nonce");
	{
		_cleanup_free_ char *hexn = hex_encode(nonce, sizeof(nonce));

		snprintf(path, sizeof(path), "/v1/guests/%u/attestation?nonce=%s", h, hexn);
	}
	gc_request(&D, "GET", path, NULL, 0, NULL, &r);
	oa(&r, "/v1/guests/{h}/attestation", "GET");
	expect(&r, 200, NULL, NULL);
	TU_CHECK(base64_decode(gc_str(r.json, "report"), strlen(gc_str(r.json, "report")), &rep_raw,
			       &n) == 0 &&
		     attest_sev_report_parse(rep_raw, n, &report, NULL) == 0,
		 "report");
	TU_CHECK_EQ(attest_sev_report_verify(&report, &pek, nonce, in.digest, &v), 1);
	gc_resp_free(&r);

	/* DELETE: the revoke is in the stream before the answer; then 404. */
	del(h);
	{
		struct hv_grant_msg m;
		const char *why;
		int fl = fcntl(ctl, F_GETFL);

		fcntl(ctl, F_SETFL, fl | O_NONBLOCK);
		TU_CHECK(hv_grant_stream_read(ctl, &m, &why) == 1 && m.type == HV_REVOKE &&
			     m.handle == h && m.asid == asid &&
			     !memcmp(m.id, gm.id, sizeof(m.id)),
			 "REVOKE (with the guest's id) before DELETE answered");
	}
	close(ctl);
	same_snapshot(before, snap(), "a launched and decommissioned guest");
	OPENSSL_cleanse(&tk, sizeof(tk));
}

static void test_wrong_states(void)
{
	struct snapshot before = snap();
	uint8_t vmsa[4096] = {0}, data[64] = {1};
	char path[128];
	struct gc_resp r;
	uint32_t h = launch("{\"policy\": 1, \"name\": \"states\"}"), asid;

	post(h, "/finish", NULL, 409, "wrong_state", "INVALID_GUEST_STATE", NULL);
	post(h, "/secret",
	     "{\"header\": "
	     "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\", "
	     "\"payload\": \"AAAAAAAAAAAAAAAAAAAAAA==\"}",
	     409, "wrong_state", "INVALID_GUEST_STATE", NULL);
	post(h, "/activate", NULL, 409, "wrong_state", "INVALID_GUEST_STATE", NULL);
	guest_path(path, sizeof(path), h, "/vmsa");
	gc_request(&D, "POST", path, vmsa, sizeof(vmsa), "application/octet-stream", &r);
	oa(&r, "/v1/guests/{h}/vmsa", "POST");
	expect(&r, 400, "bad_request", "UNSUPPORTED"); /* no ES in the policy */
	gc_resp_free(&r);
	snprintf(path, sizeof(path),
		 "/v1/guests/%u/attestation?nonce=00112233445566778899aabbccddeeff", h);
	gc_request(&D, "GET", path, NULL, 0, NULL, &r);
	expect(&r, 409, "wrong_state", "INVALID_GUEST_STATE");
	gc_resp_free(&r);
	guest_path(path, sizeof(path), h, "/measurement");
	req("GET", path, "/v1/guests/{h}/measurement", NULL, &r);
	expect(&r, 200, NULL, NULL);
	gc_resp_free(&r);
	guest_path(path, sizeof(path), h, "/data");
	gc_request(&D, "POST", path, data, sizeof(data), "application/octet-stream", &r);
	oa(&r, "/v1/guests/{h}/data", "POST");
	expect(&r, 409, "wrong_state", "INVALID_GUEST_STATE");
	gc_resp_free(&r);
	post(h, "/finish", "{}", 200, NULL, NULL, NULL);
	post(h, "/finish", NULL, 409, "wrong_state", "INVALID_GUEST_STATE", NULL);
	post(h, "/secret",
	     "{\"header\": "
	     "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\", "
	     "\"payload\": \"AAAAAAAAAAAAAAAAAAAAAA==\"}",
	     409, "wrong_state", "INVALID_GUEST_STATE", NULL);
	guest_path(path, sizeof(path), h, "/data");
	gc_request(&D, "POST", path, data, sizeof(data), "application/octet-stream", &r);
	expect(&r, 409, "wrong_state", "INVALID_GUEST_STATE"); /* never writes a running guest */
	gc_resp_free(&r);
	post(h, "/deactivate", NULL, 200, NULL, NULL, &r);
	TU_CHECK(gc_is_null(r.json, "asid"), "no ASID after deactivate");
	gc_resp_free(&r);
	post(h, "/deactivate", NULL, 409, "wrong_state", "INACTIVE", NULL);
	post(h, "/activate", "{}", 200, NULL, NULL, &r); /* a new ASID (after a flush) */
	asid = (uint32_t)gc_int(r.json, "asid");
	gc_resp_free(&r);
	snprintf(path, sizeof(path), "{\"asid\": %u}", asid == 2 ? 3 : 2);
	post(h, "/activate", path, 409, "wrong_state", NULL, NULL);
	post(h, "/activate", "{\"asid\": \"two\"}", 400, "bad_request", NULL, NULL);
	del(h);
	req("GET", "/v1/guests/999", "/v1/guests/{h}", NULL, &r);
	expect(&r, 404, "not_found", NULL);
	gc_resp_free(&r);
	post(999, "/finish", NULL, 404, "not_found", NULL, NULL);
	gc_request(&D, "POST", "/v1/guests/abc/finish", NULL, 0, NULL, &r);
	expect(&r, 404, "not_found", NULL);
	gc_resp_free(&r);
	same_snapshot(before, snap(), "the wrong-state walk");
}

static void test_refusals(void)
{
	struct snapshot before = snap();
	_cleanup_free_ uint8_t *pdh_raw = NULL;
	_cleanup_free_ char *body = NULL, *godh_b64 = NULL, *sess_b64 = NULL;
	struct sev_cert pdh, godh;
	struct sev_session_blob sess;
	struct attest_tk tk;
	struct gc_resp r;
	size_t n;
	uint32_t a, b;

	/* A tampered session blob (its wrap MAC): firmware refuses, nothing is left. */
	req("GET", "/v1/platform/certs", "/v1/platform/certs", NULL, &r);
	TU_CHECK(base64_decode(gc_str(r.json, "pdh"), strlen(gc_str(r.json, "pdh")), &pdh_raw,
			       &n) == 0 &&
		     attest_sev_cert_parse(pdh_raw, n, &pdh, NULL) == 0,
		 "PDH");
	gc_resp_free(&r);
	TU_CHECK(attest_session_build(&pdh, POLICY_OK, NULL, &godh, &sess, &tk) == 0, "session");
	sess.wrap_mac[0] ^= 0x80;
	godh_b64 = b64(&godh, sizeof(godh));
	sess_b64 = b64(&sess, sizeof(sess));
	TU_CHECK(asprintf(&body, "{\"policy\": 1, \"godh_cert\": \"%s\", \"session\": \"%s\"}",
			  godh_b64, sess_b64) > 0,
		 "body");
	req("POST", "/v1/guests", "/v1/guests", body, &r);
	expect(&r, 400, "bad_request", "BAD_MEASUREMENT");
	gc_resp_free(&r);
	same_snapshot(before, snap(), "a tampered session blob");

	/* A policy the host forbids (require_nodbg): 403 naming the rule. */
	req("POST", "/v1/guests", "/v1/guests", "{\"policy\": 0}", &r);
	expect(&r, 403, "policy_refused", NULL);
	TU_CHECK(strstr(r.body, "require_nodbg") != NULL, "the rule is named: %s", r.body);
	gc_resp_free(&r);
	same_snapshot(before, snap(), "a forbidden policy");

	/* A full pool: plain SEV ASIDs are 2..3 on this emulator. */
	a = launch("{\"policy\": 1, \"name\": \"pool-a\"}");
	b = launch("{\"policy\": 1, \"name\": \"pool-b\"}");
	{
		struct snapshot full = snap();

		req("POST", "/v1/guests", "/v1/guests", "{\"policy\": 1, \"name\": \"pool-c\"}",
		    &r);
		expect(&r, 409, "no_asid", NULL);
		gc_resp_free(&r);
		req("POST", "/v1/guests", "/v1/guests", "{\"policy\": 1, \"asid\": 1}", &r);
		expect(&r, 400, "bad_request", NULL); /* an ES ASID for a plain guest */
		gc_resp_free(&r);
		same_snapshot(full, snap(), "a full ASID pool");
	}
	del(a);
	del(b);

	/* A full tenant quota (policy.tenant.small.quota = 1). */
	a = launch("{\"policy\": 1, \"tenant\": \"small\"}");
	{
		struct snapshot q = snap();

		req("POST", "/v1/guests", "/v1/guests", "{\"policy\": 1, \"tenant\": \"small\"}",
		    &r);
		expect(&r, 403, "policy_refused", NULL);
		TU_CHECK(strstr(r.body, "quota") != NULL, "the quota rule is named: %s", r.body);
		gc_resp_free(&r);
		same_snapshot(q, snap(), "a full tenant quota");
	}
	del(a);

	/* Bad input. */
	req("POST", "/v1/guests", "/v1/guests", "{\"policy\": \"x\"}", &r);
	expect(&r, 400, "bad_request", NULL);
	gc_resp_free(&r);
	req("POST", "/v1/guests", "/v1/guests", "{\"name\": \"no-policy\"}", &r);
	expect(&r, 400, "bad_request", NULL);
	gc_resp_free(&r);
	free(body);
	TU_CHECK(asprintf(&body, "{\"policy\": 1, \"godh_cert\": \"%s\"}", godh_b64) > 0, "body");
	req("POST", "/v1/guests", "/v1/guests", body, &r);
	expect(&r, 400, "bad_request", NULL);
	gc_resp_free(&r);
	req("POST", "/v1/guests", "/v1/guests", "{\"policy\": 1, \"memory_size\": 1000}", &r);
	expect(&r, 400, "bad_request", NULL);
	gc_resp_free(&r);
	req("POST", "/v1/guests", "/v1/guests", "{\"policy\": 1, \"name\": \"../etc\"}", &r);
	expect(&r, 400, "bad_request", NULL);
	gc_resp_free(&r);
	/* An image larger than guest memory. */
	a = launch("{\"policy\": 1, \"memory_size\": 65536}");
	{
		_cleanup_free_ uint8_t *img = make_image(70000);
		char path[64];

		guest_path(path, sizeof(path), a, "/data");
		gc_upload_chunked(&D, path, img, 70000, 30000, &r);
		expect(&r, 400, "bad_request", NULL);
		gc_resp_free(&r);
	}
	del(a);
	/* The same refused in the middle of a staged upload (several 1 MiB slots in flight):
	 * the first failure is the answer, and the guest takes a new upload after it. */
	a = launch("{\"policy\": 1, \"memory_size\": 2097152}");
	{
		const size_t big = 3 * 1024 * 1024 + 5;
		_cleanup_free_ uint8_t *img = make_image(big);
		char path[64];

		guest_path(path, sizeof(path), a, "/data");
		gc_upload_chunked(&D, path, img, big, 100000, &r);
		expect(&r, 400, "bad_request", NULL);
		TU_CHECK(r.body && strstr(r.body, "does not fit"),
			 "names the reason: %s", r.body);
		gc_resp_free(&r);
		gc_upload_chunked(&D, path, img, 4096, 1000, &r);
		expect(&r, 200, NULL, NULL);
		gc_resp_free(&r);
	}
	del(a);
	same_snapshot(before, snap(), "refusals and bad input");
	OPENSSL_cleanse(&tk, sizeof(tk));
}

/* A clean restart keeps a RUNNING guest (with its ASID) and an unfinished launch (LUPDATE, its
 * ASID too), which takes no more data. */
static void test_restart(void)
{
	struct gc_resp r;
	char path[64];
	uint32_t run = launch("{\"policy\": 1, \"name\": \"keeps\"}"), half, asid;

	guest_path(path, sizeof(path), run, "/measurement");
	req("GET", path, "/v1/guests/{h}/measurement", NULL, &r);
	expect(&r, 200, NULL, NULL);
	gc_resp_free(&r);
	post(run, "/finish", NULL, 200, NULL, NULL, NULL);
	post(run, "/activate", NULL, 200, NULL, NULL, &r);
	asid = (uint32_t)gc_int(r.json, "asid");
	gc_resp_free(&r);
	half = launch("{\"policy\": 1, \"name\": \"half\"}");
	gc_stop(&D, false);
	TU_CHECK(gc_start(&D, true), "sevd restarts (log %s)", D.log);
	guest_path(path, sizeof(path), run, "");
	req("GET", path, "/v1/guests/{h}", NULL, &r);
	expect(&r, 200, NULL, NULL);
	TU_CHECK(!strcmp(gc_str(r.json, "state"), "RUNNING") && gc_int(r.json, "asid") == asid,
		 "the running guest survives a restart: %s", r.body);
	gc_resp_free(&r);
	/* The unfinished launch is kept with its ASID (its owner may still measure and finish
	 * it), but no more data goes in: the memfd it went through died with the old process. */
	guest_path(path, sizeof(path), half, "");
	req("GET", path, "/v1/guests/{h}", NULL, &r);
	expect(&r, 200, NULL, NULL);
	TU_CHECK(!strcmp(gc_str(r.json, "state"), "LUPDATE") && !gc_is_null(r.json, "asid"),
		 "the unfinished launch is kept in LUPDATE with its ASID: %s", r.body);
	gc_resp_free(&r);
	{
		uint8_t data[64] = {7};

		guest_path(path, sizeof(path), half, "/data");
		gc_request(&D, "POST", path, data, sizeof(data), "application/octet-stream", &r);
		oa(&r, "/v1/guests/{h}/data", "POST");
		expect(&r, 409, "wrong_state", NULL);
		TU_CHECK(strstr(r.body, "earlier sevd process") && strstr(r.body, "measure"),
			 "the refusal says why and what to do: %s", r.body);
		gc_resp_free(&r);
	}
	guest_path(path, sizeof(path), half, "");
	req("DELETE", path, "/v1/guests/{h}", NULL, &r);
	expect(&r, 200, NULL, NULL);
	gc_resp_free(&r);
	{
		struct snapshot s = snap();

		TU_CHECK_EQ(s.guests, 1);
		TU_CHECK_EQ(s.used, 1);
	}

	/* A corrupt record in the middle of the journal (the restart compacted it to META, PUT):
	 * sevd refuses to start and names the file and offset; --journal-recover starts, says
	 * what it skipped, and the guest is still there (its own record is intact). */
	gc_stop(&D, false);
	{
		char *jp = path_join(D.dir, "guests.journal");
		size_t len;
		uint8_t *log;
		int fd = open(jp, O_RDWR);
		uint8_t b = 0;

		TU_CHECK(fd >= 0 && pread(fd, &b, 1, 16 + 100) == 1, "read the journal");
		b ^= 0x20;
		TU_CHECK(pwrite(fd, &b, 1, 16 + 100) == 1, "corrupt the journal");
		close(fd);
		TU_CHECK(!gc_start(&D, true), "sevd started on a journal corrupt in the middle");
		log = tu_read_file(D.log, &len);
		TU_CHECK(memmem(log, len, "guests.journal is corrupt at offset 16", 38) != NULL,
			 "the refusal names the file and offset (log %s)", D.log);
		free(log);
		free(jp);
	}
	D.extra_arg = "--journal-recover";
	TU_CHECK(gc_start(&D, true), "sevd --journal-recover starts (log %s)", D.log);
	D.extra_arg = NULL;
	req("GET", path, "/v1/guests/{h}", NULL, &r);
	expect(&r, 404, "not_found", NULL); /* still the half one */
	gc_resp_free(&r);
	guest_path(path, sizeof(path), run, "");
	req("GET", path, "/v1/guests/{h}", NULL, &r);
	expect(&r, 200, NULL, NULL);
	gc_resp_free(&r);
	del(run);
}

int main(void)
{
	const char *root = getenv("SEVD_SOURCE_ROOT");
	static const char *const emu_args[] = {"--cpuid-ecx", "3", "--cpuid-edx", "2", NULL};
	char *openapi, *conf;

	if (!getenv("SEVD_EXE") || !getenv("SEV_PSP_EMU_EXE"))
		tu_skip("SEVD_EXE or SEV_PSP_EMU_EXE not set (run through meson test)");
	TU_CHECK(root != NULL, "SEVD_SOURCE_ROOT not set");
	openapi = path_join(root, "daemon/openapi.yaml");
	doc = oa_load(openapi);
	TU_CHECK(doc != NULL, "cannot read %s", openapi);
	free(openapi);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	signal(SIGPIPE, SIG_IGN);

	D.dir = tu_mkdtemp();
	TU_CHECK(tu_emu_start(D.dir, (const char *const *)emu_args, &E) == 0, "emulator");
	D.emu_sock = E.socket;
	conf = path_join(D.dir, "sevd.conf");
	{
		/* Both spellings of the admission rules: a key with "policy." and a [policy]
		 * section. */
		static const char text[] = "policy.tenant.small.quota = 1\n[policy]\n"
					   "require_nodbg = yes\n";

		TU_CHECK(write_file_atomic(conf, text, strlen(text), 0600) == 0, "conf");
	}
	D.config = conf;
	TU_CHECK(gc_start(&D, true), "sevd starts (log in %s)", D.dir);

	test_lifecycle();
	test_wrong_states();
	test_refusals();
	test_restart();

	gc_stop(&D, false);
	tu_emu_stop(&E);
	tu_rmtree(D.dir);
	tu_done("daemon-guest");
}
