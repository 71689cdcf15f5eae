/* sev-run --demo: owner and VMM in one process, against a running sevd.
 *
 *   owner:  GET /v1/platform/certs → verify PDH←PEK←CEK←ASK←ARK up to an explicitly named root
 *           → LAUNCH_START session for that PDH (attest_session_build) → POST /v1/guests
 *           → POST …/data?address=0x10000 (the tiny guest, padded to 16) → GET …/measurement,
 *           recomputed here from the TIK and SHA-256 of exactly the uploaded bytes (a mismatch
 *           stops everything: no secret for an unverified guest) → LAUNCH_SECRET packet for
 *           GPA 0x30000 (u32 length ‖ secret, padded to 16) → POST …/secret → …/finish
 *   VMM:    subscribed to sevd's grant stream before the launch → POST …/activate → the GRANT
 *           for this handle must arrive and name the ASID /activate answered → CTL
 *           guest-memfd from the emulator (the plaintext view, "CPU side"), checked to hold
 *           the measured image → hv_runner over /dev/kvm, the gate before every entry, the
 *           grant stream drained before every entry (a REVOKE stops the guest).
 *   attach: the VMM's steps alone for a guest launched elsewhere and moved here (--attach).
 *
 * Trusts: the roots named on the command line. sevd's answers are checked (chain, measurement,
 * grant vs /activate); the emulator socket is the host's trust boundary for guest memory
 * (psp/emu/README-guest.md), as root with KVM is on hardware. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "attest/chain.h"
#include "attest/measurement.h"
#include "attest/roots.h"
#include "attest/secret.h"
#include "attest/session.h"
#include "common/http-client.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"
#include "hv-glue/binding.h"
#include "hv-glue/demo.h"
#include "hv-glue/gate.h"
#include "hv-glue/guest/layout.h"
#include "hv-glue/kvm-runner.h"
#include "hv-glue/util.h"
#include "hv-glue/vmcb.h"
#include "psp/emu-wire.h"

#define NSTEPS 12
#define NSTEPS_ATTACH 5 /* --attach: the platform, then the VMM's four steps */
#define GRANT_WAIT_MS 10000

struct demo {
	const struct hv_demo_opts *o;
	struct http_client *http;
	unsigned step, nsteps;
	uint8_t api_major, api_minor, build;
	uint32_t max_asid, min_sev;
	struct sev_cert pdh;
	struct attest_tk tk; /* wiped in demo_done() */
	uint32_t handle, asid;
	uint8_t *image; /* padded to 16: exactly what was uploaded and measured */
	size_t image_len;
	uint8_t measure[ATTEST_MEASURE_SIZE];
	int grant_fd, mem_fd;
	struct hv_bindings *b;
};

static void step(struct demo *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void step(struct demo *d, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sev-run: [%u/%u] ", ++d->step, d->nsteps);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- sevd's REST API ---- */

/* The error sentence of a sevd error body ({"error": {"message", "fw_status"}}), or the body. */
static void api_error(const char *method, const char *path, const struct http_response *r)
{
	_cleanup_(json_object_putp) json_object *o = json_tokener_parse((const char *)r->body);
	json_object *e = NULL, *m = NULL, *fw = NULL;

	if (o && json_object_object_get_ex(o, "error", &e)) {
		json_object_object_get_ex(e, "message", &m);
		json_object_object_get_ex(e, "fw_status", &fw);
	}
	hv_say(0, "%s %s: sevd answered HTTP %d: %s%s%s", method, path, r->status,
	    m ? json_object_get_string(m) : (const char *)r->body, fw ? "; firmware status " : "",
	    fw ? json_object_get_string(fw) : "");
	if (r->status == 404 && strncmp(path, "/v1/guests", 10) == 0 && !m)
		hv_say(0, "this sevd has no guest lifecycle routes (%s); run a sevd built with them",
		    path);
}

/* One request; *ret = the JSON object of a 2xx answer. */
static int api(struct demo *d, const char *method, const char *path, const char *ctype,
	       const void *body, size_t len, json_object **ret)
{
	struct http_response r = {};
	int k = http_request(d->http, method, path, ctype, body, len, &r);

	if (k < 0)
		return hv_say(k, "%s %s: %s", method, path, http_client_error(d->http));
	if (r.status < 200 || r.status > 299) {
		api_error(method, path, &r);
		http_response_clear(&r);
		return -EIO;
	}
	*ret = json_tokener_parse((const char *)r.body);
	http_response_clear(&r);
	if (!*ret || !json_object_is_type(*ret, json_type_object)) {
		json_object_put(*ret);
		*ret = NULL;
		return hv_say(-EBADMSG, "%s %s: sevd's answer is not a JSON object", method, path);
	}
	return 0;
}

static int api_json(struct demo *d, const char *method, const char *path, json_object *body,
		    json_object **ret)
{
	const char *s = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : "";

	return api(d, method, path, body ? "application/json" : NULL, body ? s : NULL, strlen(s),
		   ret);
}

/* A member of a sevd answer, of the type the OpenAPI document gives it. */
static json_object *member(json_object *o, const char *key, json_type t, const char *what)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t)) {
		hv_say(0, "%s: sevd's answer lacks '%s' (%s)", what, key, json_type_to_name(t));
		return NULL;
	}
	return v;
}

static void guest_path(const struct demo *d, const char *tail, char *buf, size_t cap)
{
	snprintf(buf, cap, "/v1/guests/%u%s", d->handle, tail);
}

/* ---- owner: platform, chain, session ---- */

static int platform(struct demo *d)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	json_object *maj, *min, *bld, *as, *mx, *ms;
	int k = api_json(d, "GET", "/v1/platform", NULL, &o);

	if (k < 0)
		return k;
	if (!(maj = member(o, "api_major", json_type_int, "platform")) ||
	    !(min = member(o, "api_minor", json_type_int, "platform")) ||
	    !(bld = member(o, "build", json_type_int, "platform")) ||
	    !(as = member(o, "asids", json_type_object, "platform")) ||
	    !(mx = member(as, "max", json_type_int, "platform asids")) ||
	    !(ms = member(as, "min_sev", json_type_int, "platform asids")))
		return -EBADMSG;
	d->api_major = (uint8_t)json_object_get_int(maj);
	d->api_minor = (uint8_t)json_object_get_int(min);
	d->build = (uint8_t)json_object_get_int(bld);
	d->max_asid = (uint32_t)json_object_get_int64(mx);
	d->min_sev = (uint32_t)json_object_get_int64(ms);
	if (d->max_asid == 0 || d->min_sev == 0 || d->min_sev > d->max_asid)
		return hv_say(-EBADMSG, "platform: ASID range max %u, min_sev %u makes no sense",
			   d->max_asid, d->min_sev);
	return 0;
}

static int load_roots(const struct hv_demo_opts *o, struct attest_roots **ret)
{
	struct attest_verdict v = {0};
	int k = o->roots ? attest_roots_load(o->roots, ret, &v) : attest_roots_new(ret);

	if (k < 0)
		return hv_say(k, "trusted roots %s: %s", o->roots ? o->roots : "(none)",
			      attest_verdict_why(&v, strerror(-k)));
	if (!o->emulator_root)
		return 0;
	v = (struct attest_verdict){0};
	k = attest_roots_add_sev_file(*ret, "emulator", o->emulator_root, true, &v);
	if (k < 0)
		return hv_say(k, "emulator root %s: %s; give the ARK the emulator itself hands out",
			      o->emulator_root, attest_verdict_why(&v, strerror(-k)));
	return 0;
}

/* The platform's certificates from sevd, verified up to a root we were told to trust. */
static int chain(struct demo *d)
{
	static const char *const names[] = {"pdh", "pek", "oca", "cek", "ask", "ark"};
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_(attest_roots_freep) struct attest_roots *roots = NULL;
	struct attest_sev_chain c;
	struct attest_verdict v = {};
	int k = api_json(d, "GET", "/v1/platform/certs", NULL, &o);

	if (k < 0 || (k = load_roots(d->o, &roots)) < 0)
		return k;
	attest_sev_chain_init(&c);
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		json_object *b = NULL;
		_cleanup_free_ uint8_t *buf = NULL;
		size_t len = 0;

		if (!json_object_object_get_ex(o, names[i], &b) || !b)
			continue; /* ask/ark may be null: the roots' own ASK is tried */
		if (!json_object_is_type(b, json_type_string) ||
		    base64_decode(json_object_get_string(b), (size_t)json_object_get_string_len(b),
				  &buf, &len) < 0)
			return hv_say(-EBADMSG, "platform certs: '%s' is not base64", names[i]);
		if (attest_sev_chain_add_blob(&c, buf, len, names[i], &v) < 0)
			return hv_say(-EBADMSG, "platform certs: %s", v.reason);
	}
	k = attest_sev_chain_verify(&c, roots, 0, &v);
	if (k <= 0)
		return hv_say(
		    k < 0 ? k : -EPERM,
		    "the platform's certificate chain does not hold: %s; refusing to build a "
		    "session for its PDH",
		    v.reason);
	fprintf(stderr, "sev-run:       PDH ← PEK ← CEK ← ASK ← ARK holds, root %s%s\n", v.root_gen,
		v.root_emulated ? " (EMULATED: trusted only because it was named)" : "");
	d->pdh = c.pdh;
	return 0;
}

/* ---- owner: launch, data, measurement ---- */

static int launch(struct demo *d, struct sev_cert *godh, struct sev_session_blob *blob)
{
	_cleanup_(json_object_putp) json_object *req = json_object_new_object(), *o = NULL;
	_cleanup_free_ char *g64 = base64_encode(godh, sizeof(*godh));
	_cleanup_free_ char *s64 = base64_encode(blob, sizeof(*blob));
	json_object *h;
	int k;

	if (!req || !g64 || !s64)
		return hv_say(-ENOMEM, "out of memory");
	json_object_object_add(req, "policy", json_object_new_int64(d->o->policy));
	json_object_object_add(req, "name", json_object_new_string("sev-run-demo"));
	json_object_object_add(req, "godh_cert", json_object_new_string(g64));
	json_object_object_add(req, "session", json_object_new_string(s64));
	json_object_object_add(req, "memory_size", json_object_new_int64(HV_GUEST_MEM_SIZE));
	k = api_json(d, "POST", "/v1/guests", req, &o);
	if (k < 0)
		return k;
	if (!(h = member(o, "handle", json_type_int, "launch")) || json_object_get_int64(h) <= 0)
		return -EBADMSG;
	d->handle = (uint32_t)json_object_get_int64(h);
	return 0;
}

static int upload(struct demo *d)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	char path[96];
	json_object *a;
	int k;

	snprintf(path, sizeof(path), "/v1/guests/%u/data?address=0x%x", d->handle,
		 HV_GUEST_IMAGE_GPA);
	k = api(d, "POST", path, "application/octet-stream", d->image, d->image_len, &o);
	if (k < 0)
		return k;
	a = NULL;
	if (json_object_object_get_ex(o, "address", &a) && a &&
	    json_object_get_int64(a) != HV_GUEST_IMAGE_GPA)
		return hv_say(-EBADMSG, "sevd placed the image at 0x%llx, not at 0x%x",
			   (unsigned long long)json_object_get_int64(a), HV_GUEST_IMAGE_GPA);
	return 0;
}

static int hex_member(json_object *o, const char *key, uint8_t *out, size_t len)
{
	json_object *v = member(o, key, json_type_string, "measurement");

	if (!v || hex_decode_exact(json_object_get_string(v), out, len) < 0)
		return hv_say(-EBADMSG, "measurement: '%s' is not %zu bytes of hex", key, len);
	return 0;
}

/* The owner's check: HMAC(TIK, 0x04 ‖ api ‖ build ‖ policy ‖ SHA-256(uploaded) ‖ mnonce). */
static int measurement(struct demo *d)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	struct attest_measure_input in = {.ctx = ATTEST_MEASURE_CTX,
					  .api_major = d->api_major,
					  .api_minor = d->api_minor,
					  .build = d->build,
					  .policy = d->o->policy};
	unsigned mdlen = 0;
	char path[64];
	int k;

	guest_path(d, "/measurement", path, sizeof(path));
	if ((k = api_json(d, "GET", path, NULL, &o)) < 0 ||
	    (k = hex_member(o, "measurement", d->measure, sizeof(d->measure))) < 0 ||
	    (k = hex_member(o, "mnonce", in.mnonce, sizeof(in.mnonce))) < 0)
		return k;
	if (EVP_Digest(d->image, d->image_len, in.digest, &mdlen, EVP_sha256(), NULL) != 1)
		return hv_say(-EIO, "SHA-256 of the image failed");
	k = attest_measurement_verify(d->tk.tik, &in, d->measure);
	if (k < 0)
		return hv_say(k, "recomputing the measurement failed: %s", strerror(-k));
	if (k == 0)
		return hv_say(-EPERM,
			   "guest %u's launch measurement does not match the one recomputed from "
			   "the TIK and SHA-256 of the %zu bytes uploaded: the platform did not "
			   "load what was sent; refusing to send the secret",
			   d->handle, d->image_len);
	return 0;
}

/* ---- owner: secret, finish ---- */

/* The secret page's layout (guest/layout.h): u32le length ‖ bytes, padded to 16. */
static int secret_page(const char *file, uint8_t **ret, size_t *ret_len)
{
	_cleanup_free_ uint8_t *raw = NULL;
	size_t len = 0, plen;
	uint8_t *p;
	int k = read_full_file(file, HV_GUEST_SECRET_MAX, &raw, &len);

	if (k < 0)
		return hv_say(k, "secret file %s: %s; at most %u bytes", file, strerror(-k),
			   HV_GUEST_SECRET_MAX);
	plen = (4 + len + 15) / 16 * 16;
	p = secret_alloc(plen);
	if (!p) {
		OPENSSL_cleanse(raw, len);
		return hv_say(-ENOMEM, "out of memory");
	}
	memset(p, 0, plen);
	put_le32(p, (uint32_t)len);
	memcpy(p + 4, raw, len);
	OPENSSL_cleanse(raw, len);
	*ret = p;
	*ret_len = plen;
	return 0;
}

static int inject_secret(struct demo *d)
{
	_cleanup_(json_object_putp) json_object *req = json_object_new_object(), *o = NULL;
	_cleanup_free_ uint8_t *cipher = NULL;
	_cleanup_free_ char *h64 = NULL, *p64 = NULL;
	struct sev_secret_header hdr;
	uint8_t *plain = NULL;
	size_t len = 0;
	char path[64];
	int k = secret_page(d->o->secret_file, &plain, &len);

	if (k < 0)
		return k;
	cipher = malloc(len);
	k = cipher ? attest_secret_seal(&(struct attest_secret_key){&d->tk, d->measure,
								    d->api_major, d->api_minor},
					NULL, plain, len, &hdr, cipher)
		   : -ENOMEM;
	secret_free(plain, len);
	if (k < 0)
		return hv_say(k, "sealing the secret failed: %s", strerror(-k));
	h64 = base64_encode(&hdr, sizeof(hdr));
	p64 = base64_encode(cipher, len);
	if (!req || !h64 || !p64)
		return hv_say(-ENOMEM, "out of memory");
	json_object_object_add(req, "header", json_object_new_string(h64));
	json_object_object_add(req, "payload", json_object_new_string(p64));
	json_object_object_add(req, "guest_address", json_object_new_int64(HV_GUEST_SECRET_GPA));
	guest_path(d, "/secret", path, sizeof(path));
	return api_json(d, "POST", path, req, &o);
}

static int finish(struct demo *d)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	json_object *st;
	char path[64];
	int k;

	guest_path(d, "/finish", path, sizeof(path));
	if ((k = api_json(d, "POST", path, NULL, &o)) < 0)
		return k;
	if (!(st = member(o, "state", json_type_string, "finish")))
		return -EBADMSG;
	if (strcmp(json_object_get_string(st), "RUNNING") != 0)
		return hv_say(-EBADMSG, "guest %u is %s after LAUNCH_FINISH, not RUNNING", d->handle,
			   json_object_get_string(st));
	return 0;
}

/* ---- VMM: grant stream, activate, plaintext view ---- */

static int subscribe(struct demo *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *p = hv_sock_path(d->o->control);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(p) >= sizeof(sa.sun_path))
		return hv_say(-EINVAL, "grant stream %s: cannot open a socket for it", p);
	strcpy(sa.sun_path, p);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return hv_say(-errno, "grant stream %s: %m; is sevd running with --control there?", p);
	d->grant_fd = TAKE_FD(fd);
	return 0;
}

static int activate(struct demo *d)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	json_object *a;
	char path[64];
	int k;

	guest_path(d, "/activate", path, sizeof(path));
	if ((k = api_json(d, "POST", path, NULL, &o)) < 0)
		return k;
	if (!(a = member(o, "asid", json_type_int, "activate")) || json_object_get_int64(a) <= 0)
		return -EBADMSG;
	d->asid = (uint32_t)json_object_get_int64(a);
	return 0;
}

/* Read frames (bounded in time) until this handle holds a live grant; it must name the ASID
 * /activate answered. A malformed frame or a closed stream ends the demo. */
static int await_grant(struct demo *d)
{
	const struct hv_grant *g;
	struct hv_grant_msg m;
	const char *why = NULL;

	for (int waited = 0; !(g = hv_bindings_find_handle(d->b, d->handle)); waited += 100) {
		struct pollfd p = {.fd = d->grant_fd, .events = POLLIN};
		int k = poll(&p, 1, 100);

		if (k == 0 && waited >= GRANT_WAIT_MS)
			return hv_say(-ETIMEDOUT,
				   "no GRANT for guest %u on the grant stream within %d "
				   "s of /activate",
				   d->handle, GRANT_WAIT_MS / 1000);
		if (k <= 0)
			continue;
		k = hv_grant_stream_read(d->grant_fd, &m, &why);
		if (k == 0)
			return hv_say(-EPIPE, "sevd closed the grant stream");
		if (k < 0)
			return hv_say(k, "grant stream: %s", why ? why : strerror(-k));
		k = hv_bindings_apply(d->b, &m);
		if (k < 0)
			return hv_say(
			    k, "grant stream: a %s of ASID %u contradicts the binding table (%s)",
			    m.type == HV_GRANT ? "GRANT" : "REVOKE", m.asid, strerror(-k));
	}
	if (g->asid != d->asid || g->es)
		return hv_say(-EBADMSG, "the grant stream gives guest %u ASID %u%s, /activate said %u",
			   d->handle, g->asid, g->es ? " (SEV-ES)" : "", d->asid);
	char id[2 * HV_GUEST_ID_SIZE + 1];

	for (unsigned i = 0; i < HV_GUEST_ID_SIZE; i++)
		snprintf(id + 2 * i, 3, "%02x", g->id[i]);
	fprintf(stderr, "sev-run:       GRANT handle %u ↔ ASID %u, generation %llu, guest id %s\n",
		g->handle, g->asid, (unsigned long long)g->generation, id);
	return 0;
}

/* The plaintext view: offset = GPA (sevd's guest address 0 is the region's start). It must
 * be the RUNNING guest on our ASID and hold, at the load address, what the owner measured. */
static int plaintext_view(struct demo *d)
{
	const char *sock = hv_sock_path(d->o->emu);
	char text[256] = "", want[32];
	_cleanup_close_ int fd = -1;
	struct stat st;
	uint8_t *mem;
	bool same;
	char line[32];
	int k;

	snprintf(line, sizeof(line), "guest-memfd %u", d->handle);
	k = hv_emu_ctl_fd(sock, line, text, sizeof(text), &fd);

	if (k < 0)
		return hv_say(k, "emulator %s: guest-memfd %u refused: %s (%s)", sock, d->handle,
			   strerror(-k), text);
	snprintf(want, sizeof(want), " asid=%u ", d->asid);
	if (!strstr(text, want))
		return hv_say(-EBADMSG, "emulator: guest %u is not on ASID %u: %s", d->handle, d->asid,
			   text);
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < HV_GUEST_MEM_SIZE)
		return hv_say(-EBADMSG, "emulator: guest %u's memory is smaller than %u bytes",
			   d->handle, HV_GUEST_MEM_SIZE);
	mem = mmap(NULL, HV_GUEST_MEM_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return hv_say(-errno, "mapping guest %u's plaintext view: %m", d->handle);
	same = memcmp(mem + HV_GUEST_IMAGE_GPA, d->image, d->image_len) == 0;
	munmap(mem, HV_GUEST_MEM_SIZE);
	if (!same)
		return hv_say(-EBADMSG,
			   "the guest's plaintext view does not hold the measured image "
			   "at GPA 0x%x",
			   HV_GUEST_IMAGE_GPA);
	fprintf(stderr, "sev-run:       %s\n", text);
	d->mem_fd = TAKE_FD(fd);
	return 0;
}

/* ---- VMM: run ---- */

static int run_guest(struct demo *d)
{
	struct hv_platform plat;
	struct hv_runner *r = NULL;
	struct hv_run_result res;
	const struct hv_runner_config cfg = {
	    .mem_fd = d->mem_fd,
	    .mem_size = HV_GUEST_MEM_SIZE,
	    .mode = HV_MODE_PROT32,
	    .entry = HV_GUEST_IMAGE_GPA,
	    .stack = HV_GUEST_STACK_TOP,
	    .handle = d->handle,
	    .bindings = d->b,
	    .platform = &plat,
	    .grant_fd = d->grant_fd,
	    .serial_fd = STDOUT_FILENO,
	    .max_exits = d->o->max_exits,
	    .timeout_ms = d->o->timeout_ms,
	    .cpu = d->o->cpu,
	};
	int k;

	hv_platform_init(&plat, d->max_asid, d->min_sev);
	k = hv_runner_new(&cfg, &r);
	if (k < 0)
		return hv_say(k, "virtual machine on /dev/kvm: %s; %s", strerror(-k),
			   k == -ENOENT || k == -EACCES ? "this host offers no usable KVM"
							: "KVM refused to create it");
	k = hv_runner_run(r, &res);
	if (k < 0)
		hv_say(k, "running guest %u on /dev/kvm: %s", d->handle, strerror(-k));
	else if (res.stop == HV_STOP_GATE)
		k = hv_say(-EPERM, "VMRUN refused (EXITCODE VMEXIT_INVALID) for handle %u: %s [%s]",
			d->handle, hv_gate_reason_text(res.gate), hv_gate_reason_name(res.gate));
	else if (res.stop != HV_STOP_HALT)
		k = hv_say(-ECANCELED, "guest %u stopped: %s%s%s", d->handle,
			hv_run_stop_name(res.stop), res.why ? ": " : "", res.why ? res.why : "");
	else
		fprintf(stderr,
			"sev-run:       guest halted: %u KVM_RUN, %u exits (IOIO %u, HLT %u, NPF "
			"%u, VMGEXIT %u), %u TLB flushes requested\n",
			res.kvm_runs, res.exits, res.n_ioio, res.n_hlt, res.n_npf, res.n_vmgexit,
			res.tlb_flushes);
	hv_runner_free(r);
	return k;
}

/* ---- the story ---- */

static int read_image(struct demo *d)
{
	_cleanup_free_ uint8_t *raw = NULL;
	size_t len = 0;
	int k = read_full_file(d->o->image, HV_GUEST_IMAGE_MAX, &raw, &len);

	if (k < 0 || len == 0)
		return hv_say(k < 0 ? k : -EINVAL, "guest image %s: %s; a flat image of 1..%u bytes",
			   d->o->image, k < 0 ? strerror(-k) : "empty", HV_GUEST_IMAGE_MAX);
	/* sevd pads the last chunk with zeros to 16; pad here so that what we hash is exactly
	 * what LAUNCH_UPDATE_DATA sees. */
	d->image_len = (len + 15) / 16 * 16;
	d->image = calloc(1, d->image_len);
	if (!d->image)
		return hv_say(-ENOMEM, "out of memory");
	memcpy(d->image, raw, len);
	return 0;
}

static int platform_step(struct demo *d)
{
	int k;

	step(d, "GET /v1/platform: API version, ASID ranges");
	if ((k = platform(d)) < 0)
		return k;
	fprintf(stderr, "sev-run:       API %u.%u build %u, ASIDs 1..%u (plain SEV from %u)\n",
		d->api_major, d->api_minor, d->build, d->max_asid, d->min_sev);
	k = hv_bindings_new(d->max_asid, (unsigned)sysconf(_SC_NPROCESSORS_CONF), &d->b);
	if (k < 0)
		return hv_say(k, "binding table for ASIDs 1..%u: %s", d->max_asid, strerror(-k));
	return 0;
}

static int owner_steps(struct demo *d)
{
	struct sev_cert godh;
	struct sev_session_blob blob;
	int k;

	step(d, "GET /v1/platform/certs: verify the chain");
	if ((k = chain(d)) < 0)
		return k;
	step(d, "session for the verified PDH, policy 0x%x", d->o->policy);
	k = attest_session_build(&d->pdh, d->o->policy, NULL, &godh, &blob, &d->tk);
	if (k < 0)
		return hv_say(k, "building the launch session failed: %s", strerror(-k));
	if ((k = subscribe(d)) < 0)
		return k;
	step(d, "POST /v1/guests (GODH certificate, session blob)");
	k = launch(d, &godh, &blob);
	OPENSSL_cleanse(&blob, sizeof(blob));
	if (k < 0)
		return k;
	fprintf(stderr, "sev-run:       guest handle %u\n", d->handle);
	step(d, "POST /v1/guests/%u/data?address=0x%x: %zu bytes", d->handle, HV_GUEST_IMAGE_GPA,
	     d->image_len);
	if ((k = upload(d)) < 0)
		return k;
	step(d, "GET /v1/guests/%u/measurement: recompute with the TIK", d->handle);
	if ((k = measurement(d)) < 0)
		return k;
	step(d, "POST /v1/guests/%u/secret at GPA 0x%x", d->handle, HV_GUEST_SECRET_GPA);
	if ((k = inject_secret(d)) < 0)
		return k;
	step(d, "POST /v1/guests/%u/finish", d->handle);
	return finish(d);
}

static int vmm_steps(struct demo *d)
{
	int k;

	if (d->o->attach && (k = subscribe(d)) < 0)
		return k;
	step(d, "POST /v1/guests/%u/activate", d->handle);
	if ((k = activate(d)) < 0)
		return k;
	step(d, "grant stream: wait for guest %u's GRANT (ASID %u)", d->handle, d->asid);
	if ((k = await_grant(d)) < 0)
		return k;
	step(d, "emulator: plaintext view of guest %u", d->handle);
	if ((k = plaintext_view(d)) < 0)
		return k;
	step(d, "run guest %u under /dev/kvm through the VMRUN gate", d->handle);
	return run_guest(d);
}

/* Best effort: a guest launched by a failed demo does not stay behind. */
static void decommission(struct demo *d)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	char path[64];

	guest_path(d, "", path, sizeof(path));
	if (api_json(d, "DELETE", path, NULL, &o) == 0)
		hv_say(0, "guest %u decommissioned after the failure", d->handle);
}

static int demo_open(struct demo *d)
{
	struct http_client_opts ho = {.timeout_ms = 60000};
	_cleanup_free_ uint8_t *tok = NULL;
	size_t tlen = 0;
	int k;

	if (d->o->token_file) {
		k = read_full_file(d->o->token_file, 4096, &tok, &tlen);
		if (k < 0)
			return hv_say(k, "token file %s: %s", d->o->token_file, strerror(-k));
		tok[tlen] =
		    0; /* read_full_file leaves room for it (max + 1) but does not write it */
		tok[strcspn((char *)tok, "\r\n")] = 0;
		ho.token = (const char *)tok;
	}
	k = http_client_new(d->o->daemon, &ho, &d->http);
	if (tok)
		OPENSSL_cleanse(tok, tlen);
	if (k < 0)
		return hv_say(k, "sevd endpoint %s: %s", d->o->daemon, strerror(-k));
	return read_image(d);
}

int hv_demo_run(const struct hv_demo_opts *o)
{
	struct demo d = {.o = o,
			 .grant_fd = -1,
			 .mem_fd = -1,
			 .handle = o->attach,
			 .nsteps = o->attach ? NSTEPS_ATTACH : NSTEPS};
	int k;

	if (o->policy & SEV_POLICY_ES)
		return hv_say(-EOPNOTSUPP,
			   "policy 0x%x asks for SEV-ES; this runner keeps guest "
			   "state in KVM (no VMSA): use a plain SEV policy",
			   o->policy);
	k = demo_open(&d);
	if (k >= 0) {
		k = platform_step(&d);
		if (k >= 0 && !o->attach)
			k = owner_steps(&d);
		if (k >= 0)
			k = vmm_steps(&d);
		if (k < 0 && d.handle && !o->attach)
			decommission(&d);
	}
	if (k >= 0)
		fprintf(stderr, "sev-run: every step held; guest %u stays RUNNING on ASID %u\n",
			d.handle, d.asid);
	OPENSSL_cleanse(&d.tk, sizeof(d.tk));
	free(d.image);
	if (d.grant_fd >= 0)
		close(d.grant_fd);
	if (d.mem_fd >= 0)
		close(d.mem_fd);
	hv_bindings_free(d.b);
	http_client_free(d.http);
	return k;
}
