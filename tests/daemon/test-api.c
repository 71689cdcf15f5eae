/* Integration test of sevd: the real sev-psp-emu and the real sevd, spoken to over HTTP on the
 * Unix socket and on 127.0.0.1 TCP with libcurl. Covers every endpoint, the role matrix
 * (role x route x socket kind, refusals leave firmware untouched), malformed and oversized
 * bodies, unknown routes and wrong methods, responses against daemon/openapi.yaml, the ASID
 * ranges at emulator sizes 15, 509 and 1006, 64 concurrent clients with firmware seeing one
 * command at a time (the emulator's INFO max_concurrent_seen), the busy answer of a full
 * queue, the embedded emulator and a clean stop on SIGTERM. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attest/amd-cert.h"
#include "attest/sev-cert.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"
#include "daemon/worker/api.h"
#include "daemon/worker/auth.h"
#include "daemon/core/emu-ctl.h"
#include "tests/daemon/openapi-check.h"
#include "tests/curlutil.h"
#include "tests/testutil.h"

#define TOKEN_ADMIN "admin-token-5f1c0e"
#define TOKEN_READER "reader-token-77ab12"
#define TOKEN_LAUNCHER "launcher-token-9c3d44"
#define TOKEN_BAD "not-a-configured-token"

enum via { VIA_UNIX, VIA_UNIX_NOBODY, VIA_TCP };

struct daemon {
	char *dir;
	struct tu_emu emu;
	pid_t pid;
	char *unix_path;
	int port;
};

static json_object *doc;
static struct daemon D;

struct resp {
	long status;
	union { /* what tu_curl_collect fills, under the names the test reads */
		struct tu_curl_buf buf;
		struct {
			char *body;
			size_t len;
		};
	};
	char ctype[64];
};

/* One request in this process. */
static void do_request(enum via via, const char *token, const char *method, const char *path,
		       const char *body, size_t body_len, struct resp *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[256], auth[128];
	const char *ct = NULL;
	CURLcode cr;

	memset(out, 0, sizeof(*out));
	TU_CHECK(c != NULL, "curl_easy_init");
	if (via == VIA_TCP)
		snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", D.port, path);
	else {
		snprintf(url, sizeof(url), "http://localhost%s", path);
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, D.unix_path);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tu_curl_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->buf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
		h = curl_slist_append(h, "Content-Type: application/json");
	} else if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	cr = curl_easy_perform(c);
	TU_CHECK(cr == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(cr));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(out->ctype, sizeof(out->ctype), "%s", ct);
	if (!out->body)
		out->body = strdup("");
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

/* The same from a child that dropped to uid nobody with the given gid and supplementary
 * groups: the Unix socket's role from peer credentials. */
static gid_t as_gid = 65534;
static gid_t as_groups[4];
static size_t as_ngroups;

static void request_as_nobody(const char *method, const char *path, struct resp *out)
{
	int p[2], st;
	pid_t pid;
	FILE *f;

	TU_CHECK(pipe(p) == 0, "pipe");
	pid = fork();
	TU_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		struct resp r;

		close(p[0]);
		if (setgroups(as_ngroups, as_groups) < 0 || setgid(as_gid) < 0 || setuid(65534) < 0)
			_exit(3);
		do_request(VIA_UNIX, NULL, method, path, NULL, 0, &r);
		f = fdopen(p[1], "w");
		fprintf(f, "%ld\n%s\n%s", r.status, r.ctype, r.body);
		fclose(f);
		_exit(0);
	}
	close(p[1]);
	memset(out, 0, sizeof(*out));
	f = fdopen(p[0], "r");
	{
		char line[128];
		size_t cap = 0;
		ssize_t n;

		TU_CHECK(fgets(line, sizeof(line), f) != NULL, "child wrote no status");
		out->status = strtol(line, NULL, 10);
		TU_CHECK(fgets(line, sizeof(line), f) != NULL, "child wrote no content type");
		line[strcspn(line, "\n")] = '\0';
		snprintf(out->ctype, sizeof(out->ctype), "%.63s", line);
		n = getdelim(&out->body, &cap, '\0', f);
		out->len = n > 0 ? (size_t)n : 0;
		if (!out->body)
			out->body = strdup("");
	}
	fclose(f);
	TU_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		 "request child failed (status 0x%x)", st);
}

/* A request whose answer must have `expect` status and match the OpenAPI document (for
 * documented operations); returns the parsed JSON body (NULL for text). */
static json_object *call(enum via via, const char *token, const char *method, const char *path,
			 const char *body, long expect)
{
	struct resp r;
	json_object *o = NULL;
	char err[256];

	if (via == VIA_UNIX_NOBODY)
		request_as_nobody(method, path, &r);
	else
		do_request(via, token, method, path, body, body ? strlen(body) : 0, &r);
	TU_CHECK(r.status == expect, "%s %s via %d: HTTP %ld, expected %ld: %s", method, path, via,
		 r.status, expect, r.body);
	if (oa_has_operation(doc, path, method))
		TU_CHECK(oa_check_response(doc, path, method, (unsigned)r.status, r.ctype, r.body, err,
					   sizeof(err)) == 0,
			 "OpenAPI mismatch: %s (body %s)", err, r.body);
	if (!strncmp(r.ctype, "application/json", 16)) {
		o = json_tokener_parse(r.body);
		TU_CHECK(o != NULL, "%s %s: body is not JSON: %s", method, path, r.body);
	}
	free(r.body);
	return o;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	TU_CHECK(json_object_object_get_ex(o, k, &v), "field %s missing", k);
	return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *k)
{
	json_object *v;

	TU_CHECK(json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int),
		 "integer field %s missing", k);
	return json_object_get_int64(v);
}

static json_object *jobj(json_object *o, const char *k)
{
	json_object *v;

	TU_CHECK(json_object_object_get_ex(o, k, &v) && v, "field %s missing", k);
	return v;
}

/* The error body: {"error":{"code","message","fw_status"}} with the given code. */
static void check_error(json_object *o, const char *code)
{
	json_object *e = jobj(o, "error");

	TU_CHECK(!strcmp(jstr(e, "code"), code), "error code %s, expected %s", jstr(e, "code"), code);
	TU_CHECK(strlen(jstr(e, "message")) > 10, "error message too short");
	TU_CHECK(json_object_object_get_ex(e, "fw_status", NULL), "fw_status missing");
}

static void check_range(json_object *o, const char *k, int64_t first, int64_t last)
{
	json_object *a = jobj(o, k);

	TU_CHECK(json_object_array_length(a) == 2, "%s has %zu items", k,
		 json_object_array_length(a));
	TU_CHECK_EQ(json_object_get_int64(json_object_array_get_idx(a, 0)), first);
	TU_CHECK_EQ(json_object_get_int64(json_object_array_get_idx(a, 1)), last);
}

static uint8_t *b64field(json_object *o, const char *k, size_t *len)
{
	uint8_t *buf = NULL;
	const char *s = jstr(o, k);

	TU_CHECK(base64_decode(s, strlen(s), &buf, len) == 0, "field %s is not base64", k);
	return buf;
}

/* ---- starting and stopping ---- */

static void token_line(FILE *f, const char *role, const char *token)
{
	uint8_t h[32];
	_cleanup_free_ char *hex = NULL;

	TU_CHECK(sevd_auth_hash(token, h) == 0, "hash");
	hex = hex_encode(h, sizeof(h));
	fprintf(f, "token = %s:sha256:%s\n", role, hex);
}

static void write_config(const char *path, const char *extra)
{
	FILE *f = fopen(path, "w");

	TU_CHECK(f != NULL, "cannot write %s", path);
	fprintf(f, "# sevd test configuration\n\n");
	/* The route matrix runs every destructive route many times a minute: no limit here
	 * (daemon-destructive-rate tests it). */
	fprintf(f, "destructive_rate = 0\n");
	token_line(f, "admin", TOKEN_ADMIN);
	token_line(f, "reader", TOKEN_READER);
	token_line(f, "launcher", TOKEN_LAUNCHER);
	if (extra)
		fputs(extra, f);
	fclose(f);
}

/* sevd on the running emulator (or with psp_spec, e.g. "emu" for the embedded one). */
static void sevd_start(const char *psp_spec, const char *extra_conf)
{
	_cleanup_free_ char *conf = path_join(D.dir, "sevd.conf");
	char psp[512];
	static const char *const plain[] = {"--allow-plain-tcp", NULL};

	write_config(conf, extra_conf);
	D.port = tu_free_port();
	snprintf(psp, sizeof(psp), "%s", psp_spec ? psp_spec : "");
	if (!psp_spec)
		snprintf(psp, sizeof(psp), "emu:%s", D.emu.socket);
	D.pid = tu_sevd_start(&(struct tu_sevd_opts){.dir = D.dir, .psp = psp,
		.unix_path = D.unix_path, .tcp_scheme = "tcp", .tcp_port = D.port, .config = conf,
		.extra_args = plain});
}

/* SIGTERM: sevd must stop cleanly (exit 0). */
static void sevd_stop(void)
{
	int st = tu_stop(D.pid, 20000);

	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sevd did not exit cleanly: 0x%x", st);
	D.pid = 0;
}

static void emu_start(const char *ecx, const char *edx)
{
	const char *args[] = { "--cpuid-ecx", ecx, "--cpuid-edx", edx, NULL };

	TU_CHECK(tu_emu_start(D.dir, ecx ? args : NULL, &D.emu) == 0, "emulator did not start");
}

static struct emu_info emu_info(void)
{
	struct emu_info info;

	TU_CHECK(sevd_emu_info(D.emu.socket, &info) == 0, "emulator INFO");
	return info;
}

/* ---- the OpenAPI document against the route table ---- */

static void test_openapi_covers_routes(void)
{
	json_object *paths = jobj(doc, "paths");
	size_t documented = 0;

	for (size_t i = 0; i < sevd_n_routes; i++)
		TU_CHECK(oa_has_operation(doc, sevd_routes[i].path, sevd_routes[i].method),
			 "route %s %s is not in daemon/openapi.yaml", sevd_routes[i].method,
			 sevd_routes[i].path);
	/* ... and the document promises nothing the server does not answer. */
	json_object_object_foreach(paths, path, item) {
		json_object_object_foreach(item, method, op) {
			bool found = false;

			(void)op;
			for (size_t i = 0; i < sevd_n_routes; i++)
				found |= !strcmp(sevd_routes[i].path, path) &&
					 !strcasecmp(sevd_routes[i].method, method);
			TU_CHECK(found, "documented %s %s is not served", method, path);
			documented++;
		}
	}
	TU_CHECK_EQ(documented, sevd_n_routes);
}

/* ---- every endpoint, as admin over the Unix socket ---- */

static json_object *platform(void)
{
	return call(VIA_UNIX, NULL, "GET", "/v1/platform", NULL, 200);
}

static void check_platform_state(const char *state)
{
	json_object *p = platform();

	TU_CHECK(!strcmp(jstr(p, "state"), state), "state %s, expected %s", jstr(p, "state"), state);
	json_object_put(p);
}

/* The pdh (or pek) certificate as exported now. */
static uint8_t *exported(const char *which)
{
	json_object *c = call(VIA_UNIX, NULL, "GET", "/v1/platform/certs", NULL, 200);
	size_t len;
	uint8_t *buf = b64field(c, which, &len);

	TU_CHECK_EQ(len, SEV_CERT_SIZE);
	json_object_put(c);
	return buf;
}

/* GET /v1/inventory against GET /v1/asids: the same counts per type, SNP present
 * with zeros, the capabilities from the ranges and the platform (as reader over TCP). */
static void check_inventory(void)
{
	json_object *a = call(VIA_UNIX, NULL, "GET", "/v1/asids", NULL, 200);
	json_object *inv = call(VIA_TCP, TOKEN_READER, "GET", "/v1/inventory", NULL, 200);
	json_object *p = platform(), *caps = jobj(inv, "capabilities"), *v;
	static const char *const keys[] = { "total", "used", "free", "flush_pending" };

	for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
		TU_CHECK_EQ(jint(jobj(inv, "sev"), keys[k]), jint(jobj(a, "sev"), keys[k]));
		TU_CHECK_EQ(jint(jobj(inv, "sev_es"), keys[k]), jint(jobj(a, "es"), keys[k]));
		TU_CHECK_EQ(jint(jobj(inv, "snp"), keys[k]), 0);
	}
	TU_CHECK(json_object_get_boolean(jobj(caps, "sev")) == (jint(jobj(a, "sev"), "total") > 0),
		 "capabilities.sev");
	TU_CHECK(json_object_get_boolean(jobj(caps, "sev_es")) ==
			 (jint(jobj(a, "es"), "total") > 0 &&
			  json_object_get_boolean(jobj(p, "es"))),
		 "capabilities.sev_es");
	TU_CHECK(!json_object_get_boolean(jobj(caps, "snp")), "capabilities.snp on a non-SNP emulator");
	TU_CHECK_EQ(jint(caps, "api_major"), jint(p, "api_major"));
	TU_CHECK_EQ(jint(caps, "api_minor"), jint(p, "api_minor"));
	TU_CHECK_EQ(jint(caps, "build"), jint(p, "build"));
	TU_CHECK(!strcmp(jstr(caps, "platform_state"), jstr(p, "state")), "platform_state");
	TU_CHECK(json_object_object_get_ex(caps, "tcb", &v) && v == NULL, "tcb is not null");
	json_object_put(a);
	json_object_put(inv);
	json_object_put(p);
}

static void test_read_endpoints(int64_t max, int64_t min_sev)
{
	json_object *o, *a;
	struct sev_cert cek;
	struct amd_cert ask, ark;
	struct attest_verdict why = {0};
	struct attest_verdict v = {0};
	size_t len, used;
	_cleanup_free_ uint8_t *cek_raw = NULL, *ask_raw = NULL, *ark_raw = NULL;

	o = platform();
	TU_CHECK(!strcmp(jstr(o, "state"), "INIT"), "auto INIT did not run: %s", jstr(o, "state"));
	TU_CHECK(json_object_get_boolean(jobj(o, "es")), "INIT with SEV-ES expected");
	TU_CHECK(!strcmp(jstr(o, "owner"), "self"), "owner");
	TU_CHECK(!strcmp(jstr(o, "transport"), "emu"), "transport");
	TU_CHECK_EQ(jint(o, "guest_count"), 0);
	a = jobj(o, "asids");
	TU_CHECK_EQ(jint(a, "max"), max);
	TU_CHECK_EQ(jint(a, "min_sev"), min_sev);
	check_range(a, "es_range", 1, min_sev - 1);
	check_range(a, "sev_range", min_sev, max);
	json_object_put(o);

	o = call(VIA_UNIX, NULL, "GET", "/healthz", NULL, 200);
	TU_CHECK(!strcmp(jstr(o, "status"), "ok"), "healthz");
	json_object_put(o);

	o = call(VIA_UNIX, NULL, "GET", "/v1/platform/id", NULL, 200);
	TU_CHECK(strlen(jstr(o, "id")) >= 128, "id too short");
	TU_CHECK(json_object_array_length(jobj(o, "sockets")) >= 1, "no socket ids");
	json_object_put(o);

	/* The chain is the real one: the CEK verifies under the exported ASK, the ASK under ARK. */
	o = call(VIA_UNIX, NULL, "GET", "/v1/platform/certs", NULL, 200);
	free(b64field(o, "pdh", &len));
	TU_CHECK_EQ(len, SEV_CERT_SIZE);
	free(b64field(o, "pek", &len));
	TU_CHECK_EQ(len, SEV_CERT_SIZE);
	free(b64field(o, "oca", &len));
	TU_CHECK_EQ(len, SEV_CERT_SIZE);
	cek_raw = b64field(o, "cek", &len);
	TU_CHECK(attest_sev_cert_parse(cek_raw, len, &cek, &why) == 0, "cek: %s", why.reason);
	ask_raw = b64field(o, "ask", &len);
	TU_CHECK(attest_amd_cert_parse(ask_raw, len, &ask, &used, &v) == 0, "ask: %s", v.reason);
	ark_raw = b64field(o, "ark", &len);
	TU_CHECK(attest_amd_cert_parse(ark_raw, len, &ark, &used, &v) == 0, "ark: %s", v.reason);
	TU_CHECK(attest_amd_cert_verify(&ask, &ark, &v) == 1, "ARK does not sign ASK: %s",
		 v.reason);
	TU_CHECK(attest_amd_verify_cek(&cek, &ask, &v) == 1, "ASK does not sign CEK: %s", v.reason);
	json_object_put(o);

	o = call(VIA_UNIX, NULL, "GET", "/v1/asids", NULL, 200);
	TU_CHECK_EQ(jint(o, "max"), max);
	TU_CHECK_EQ(jint(o, "min_sev"), min_sev);
	TU_CHECK_EQ(jint(o, "used"), 0);
	TU_CHECK_EQ(jint(o, "free"), max);
	TU_CHECK_EQ(jint(o, "flush_pending"), 0);
	TU_CHECK_EQ(jint(jobj(o, "es"), "total"), min_sev - 1);
	TU_CHECK_EQ(jint(jobj(o, "sev"), "total"), max - min_sev + 1);
	TU_CHECK_EQ(json_object_array_length(jobj(o, "holders")), 0);
	json_object_put(o);
	check_inventory();
}

static void test_metrics(void)
{
	struct resp r;
	char line[128];

	do_request(VIA_UNIX, NULL, "GET", "/metrics", NULL, 0, &r);
	TU_CHECK_EQ(r.status, 200);
	TU_CHECK(!strncmp(r.ctype, "text/plain", 10), "metrics content type %s", r.ctype);
	TU_CHECK(strstr(r.body, "sevd_commands_total{command=\"PLATFORM_STATUS\",status=\"SUCCESS\"}"),
		 "no PLATFORM_STATUS counter");
	TU_CHECK(strstr(r.body, "sevd_commands_total{command=\"INIT\",status=\"SUCCESS\"} 1"),
		 "auto INIT not counted");
	TU_CHECK(strstr(r.body, "sevd_command_duration_seconds_bucket{le=\"+Inf\"}"), "histogram");
	TU_CHECK(strstr(r.body, "sevd_queue_depth 0"), "queue depth");
	snprintf(line, sizeof(line), "sevd_asids{type=\"es\",state=\"free\"} %d", 99);
	TU_CHECK(strstr(r.body, line), "ASID gauge: %s", line);
	free(r.body);
}

/* PEK_CSR, signed by an OCA of our own, imported: the platform becomes externally owned. */
static void test_pek_import(void)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *koca = EVP_EC_gen("P-384");
	_cleanup_free_ uint8_t *csr = NULL;
	_cleanup_free_ char *pek_b64 = NULL, *oca_b64 = NULL, *bad_b64 = NULL;
	json_object *o, *p;
	struct sev_cert oca, pek;
	char body[8192];
	size_t len;
	int major, minor;

	p = platform();
	major = (int)jint(p, "api_major");
	minor = (int)jint(p, "api_minor");
	json_object_put(p);
	o = call(VIA_UNIX, NULL, "GET", "/v1/platform/pek-csr", NULL, 200);
	csr = b64field(o, "pek_csr", &len);
	TU_CHECK_EQ(len, SEV_CERT_SIZE);
	json_object_put(o);
	TU_CHECK(koca && attest_sev_cert_init(&oca, (uint8_t)major, (uint8_t)minor, SEV_USAGE_OCA,
					      SEV_ALGO_ECDSA_SHA256, koca) == 0 &&
			 attest_sev_cert_sign(&oca, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, koca) == 0,
		 "building the OCA");
	memcpy(&pek, csr, sizeof(pek));
	TU_CHECK(attest_sev_cert_sign(&pek, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, koca) == 0,
		 "signing the PEK");
	oca_b64 = base64_encode(&oca, sizeof(oca));
	/* A PEK whose OCA signature was tampered with: firmware refuses, nothing changes. */
	pek.sig[0].sig[5] ^= 0x40;
	bad_b64 = base64_encode(&pek, sizeof(pek));
	pek.sig[0].sig[5] ^= 0x40;
	pek_b64 = base64_encode(&pek, sizeof(pek));
	snprintf(body, sizeof(body), "{\"pek_cert\":\"%s\",\"oca_cert\":\"%s\"}", bad_b64, oca_b64);
	o = call(VIA_UNIX, NULL, "POST", "/v1/platform/pek-cert", body, 400);
	check_error(o, "bad_request");
	TU_CHECK(!json_object_is_type(jobj(jobj(o, "error"), "fw_status"), json_type_null),
		 "firmware status missing from a firmware refusal");
	json_object_put(o);
	p = platform();
	TU_CHECK(!strcmp(jstr(p, "owner"), "self"), "a refused import changed the owner");
	json_object_put(p);

	snprintf(body, sizeof(body), "{\"pek_cert\":\"%s\",\"oca_cert\":\"%s\"}", pek_b64, oca_b64);
	o = call(VIA_UNIX, NULL, "POST", "/v1/platform/pek-cert", body, 200);
	TU_CHECK(!strcmp(jstr(o, "command"), "PEK_CERT_IMPORT"), "command");
	TU_CHECK(!strcmp(jstr(jobj(o, "platform"), "owner"), "external"), "owner after import");
	json_object_put(o);
	/* The exported OCA is now ours. */
	{
		_cleanup_free_ uint8_t *got = exported("oca");

		TU_CHECK_MEM(got, &oca, SEV_CERT_SIZE);
	}
}

static void expect_fw_conflict(const char *path, const char *body)
{
	json_object *o = call(VIA_UNIX, NULL, "POST", path, body, 409);

	check_error(o, "wrong_state");
	TU_CHECK(!strcmp(jstr(jobj(o, "error"), "fw_status"), "INVALID_PLATFORM_STATE"),
		 "fw_status %s", jstr(jobj(o, "error"), "fw_status"));
	json_object_put(o);
}

static void test_mutations(void)
{
	_cleanup_free_ uint8_t *pdh0 = exported("pdh"), *pek0 = exported("pek");
	_cleanup_free_ uint8_t *pdh1 = NULL, *pek1 = NULL;
	json_object *o;

	o = call(VIA_UNIX, NULL, "POST", "/v1/platform/pdh", NULL, 200);
	TU_CHECK(!strcmp(jstr(o, "command"), "PDH_GEN"), "command");
	json_object_put(o);
	pdh1 = exported("pdh");
	TU_CHECK(memcmp(pdh0, pdh1, SEV_CERT_SIZE) != 0, "PDH_GEN did not change the PDH");
	o = call(VIA_UNIX, NULL, "POST", "/v1/platform/pek", "{}", 200);
	TU_CHECK(!strcmp(jstr(o, "command"), "PEK_GEN"), "command");
	json_object_put(o);
	pek1 = exported("pek");
	TU_CHECK(memcmp(pek0, pek1, SEV_CERT_SIZE) != 0, "PEK_GEN did not change the PEK");
	test_pek_import();

	/* Wrong states answer 409 with the firmware status by name. */
	expect_fw_conflict("/v1/platform/init", NULL);
	expect_fw_conflict("/v1/platform/factory-reset", NULL);
	o = call(VIA_UNIX, NULL, "POST", "/v1/platform/shutdown", NULL, 200);
	TU_CHECK(!strcmp(jstr(jobj(o, "platform"), "state"), "UNINIT"), "after SHUTDOWN");
	json_object_put(o);
	o = call(VIA_UNIX, NULL, "GET", "/v1/platform/certs", NULL, 409);
	check_error(o, "wrong_state");
	json_object_put(o);
	expect_fw_conflict("/v1/platform/pek", NULL);
	o = call(VIA_UNIX, NULL, "POST", "/v1/platform/factory-reset", NULL, 200);
	TU_CHECK(!strcmp(jstr(o, "command"), "FACTORY_RESET"), "command");
	json_object_put(o);
	o = call(VIA_UNIX, NULL, "POST", "/v1/platform/init", "{\"es\": false}", 200);
	TU_CHECK(!strcmp(jstr(jobj(o, "platform"), "state"), "INIT"), "after INIT");
	TU_CHECK(!json_object_get_boolean(jobj(jobj(o, "platform"), "es")), "INIT without ES");
	TU_CHECK(!strcmp(jstr(jobj(o, "platform"), "owner"), "self"), "owner after reset");
	json_object_put(o);
	json_object_put(call(VIA_UNIX, NULL, "POST", "/v1/platform/shutdown", NULL, 200));
	o = call(VIA_UNIX, NULL, "POST", "/v1/platform/init", NULL, 200);
	TU_CHECK(json_object_get_boolean(jobj(jobj(o, "platform"), "es")), "INIT with ES");
	json_object_put(o);
}

/* ---- bad input ---- */

static void expect_error(enum via via, const char *token, const char *method, const char *path,
			 const char *body, size_t body_len, long status, const char *code)
{
	struct resp r;
	json_object *o;

	do_request(via, token, method, path, body, body_len, &r);
	TU_CHECK(r.status == status, "%s %s: HTTP %ld, expected %ld (%s)", method, path, r.status,
		 status, r.body);
	o = json_tokener_parse(r.body);
	TU_CHECK(o != NULL, "error body is not JSON: %s", r.body);
	check_error(o, code);
	json_object_put(o);
	free(r.body);
}

static void test_bad_input(enum via via, const char *token)
{
	static const char *const bad[] = {
		"{bad", "[1,2]", "\"text\"", "{\"es\": \"yes\"}", "{\"es\": true} trailing", "{\"es\":",
	};
	static const char *const bad_certs[] = {
		"{}",
		"{\"pek_cert\": 5, \"oca_cert\": \"AAAA\"}",
		"{\"pek_cert\": \"!!!!\", \"oca_cert\": \"AAAA\"}",
		"{\"pek_cert\": \"AAAA\", \"oca_cert\": \"AAAA\"}", /* 3 bytes, not a certificate */
		"not json at all",
	};
	_cleanup_free_ char *big = malloc(20000);

	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		expect_error(via, token, "POST", "/v1/platform/init", bad[i], strlen(bad[i]), 400,
			     "bad_request");
	for (size_t i = 0; i < ELEMENTSOF(bad_certs); i++)
		expect_error(via, token, "POST", "/v1/platform/pek-cert", bad_certs[i],
			     strlen(bad_certs[i]), 400, "bad_request");
	/* Over the route's limit: 413, whether announced by Content-Length or not. */
	TU_CHECK(big != NULL, "malloc");
	memset(big, ' ', 20000);
	big[0] = '{';
	big[19999] = '}';
	expect_error(via, token, "POST", "/v1/platform/init", big, 5000, 413, "too_large");
	expect_error(via, token, "POST", "/v1/platform/pek-cert", big, 20000, 413, "too_large");
	expect_error(via, token, "GET", "/v1/nope", NULL, 0, 404, "not_found");
	expect_error(via, token, "GET", "/v1/platform/init/extra", NULL, 0, 404, "not_found");
	expect_error(via, token, "GET", "/", NULL, 0, 404, "not_found");
	expect_error(via, token, "DELETE", "/v1/platform", NULL, 0, 405, "method_not_allowed");
	expect_error(via, token, "GET", "/v1/platform/init", NULL, 0, 405, "method_not_allowed");
	expect_error(via, token, "POST", "/v1/asids", NULL, 0, 405, "method_not_allowed");
	/* Nothing of that reached firmware: the platform is as it was. */
	check_platform_state("INIT");
}

/* ---- the role matrix ---- */

enum min_role { R_PUBLIC, R_READER, R_ADMIN };

static const struct {
	const char *method, *path;
	enum min_role role;
	long served; /* the answer once authorized (0: 200) */
} matrix_routes[] = {
	{ "GET", "/v1/platform", R_READER },
	{ "POST", "/v1/platform/init", R_ADMIN },
	{ "POST", "/v1/platform/shutdown", R_ADMIN },
	{ "POST", "/v1/platform/factory-reset", R_ADMIN },
	{ "POST", "/v1/platform/pek", R_ADMIN },
	{ "POST", "/v1/platform/pdh", R_ADMIN },
	{ "GET", "/v1/platform/pek-csr", R_ADMIN },
	{ "POST", "/v1/platform/pek-cert", R_ADMIN },
	{ "GET", "/v1/platform/certs", R_PUBLIC },
	{ "GET", "/v1/platform/id", R_PUBLIC },
	{ "GET", "/v1/asids", R_READER },
	{ "GET", "/v1/inventory", R_READER },
	{ "GET", "/v1/snp/platform", R_READER, 501 }, /* past the role: no --snp here */
	{ "POST", "/v1/snp/platform/commit", R_ADMIN },
	{ "POST", "/v1/snp/platform/config", R_ADMIN },
	{ "POST", "/v1/snp/platform/vlek", R_ADMIN },
	{ "GET", "/healthz", R_PUBLIC },
	{ "GET", "/metrics", R_READER }, /* public only with metrics_public */
	{ "GET", "/ui", R_PUBLIC },
	{ "GET", "/ui/ui.css", R_PUBLIC },
	{ "GET", "/ui/ui.js", R_PUBLIC },
	{ "GET", "/ui/state", R_READER },
	/* Migration: admin only; refused before the handle is looked at. */
	{ "POST", "/v1/guests/1/send", R_ADMIN },
	{ "GET", "/v1/guests/1/send/stream", R_ADMIN },
	{ "POST", "/v1/guests/1/send/finish", R_ADMIN },
	{ "POST", "/v1/guests/1/send/cancel", R_ADMIN },
	{ "POST", "/v1/guests/1/receive", R_ADMIN },
	{ "POST", "/v1/guests/1/receive/finish", R_ADMIN },
};

static const struct {
	const char *name;
	enum via via;
	const char *token;
	int level;	/* 0 public, 1 reader, 2 admin; -1 bad token */
	bool tcp_anon; /* refusals are 401 (no or bad credentials) rather than 403 */
} callers[] = {
	{ "unix/root", VIA_UNIX, NULL, 2, false },
	{ "unix/nobody", VIA_UNIX_NOBODY, NULL, 1, false },
	{ "tcp/none", VIA_TCP, NULL, 0, true },
	{ "tcp/reader", VIA_TCP, TOKEN_READER, 1, false },
	{ "tcp/launcher", VIA_TCP, TOKEN_LAUNCHER, 1, false },
	{ "tcp/admin", VIA_TCP, TOKEN_ADMIN, 2, false },
	{ "tcp/bad-token", VIA_TCP, TOKEN_BAD, -1, true },
};

/* The firmware-command counters of the mutating commands: refused calls must not move them. */
static char *mutation_counters(void)
{
	static const char *const cmds[] = { "INIT", "SHUTDOWN", "FACTORY_RESET", "PEK_GEN",
					    "PDH_GEN", "PEK_CSR", "PEK_CERT_IMPORT" };
	struct resp r;
	char *out = calloc(1, 8192), *line, *save = NULL;

	do_request(VIA_UNIX, NULL, "GET", "/metrics", NULL, 0, &r);
	for (line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		for (size_t i = 0; i < ELEMENTSOF(cmds); i++) {
			char key[64];

			snprintf(key, sizeof(key), "command=\"%s\"", cmds[i]);
			if (strstr(line, "sevd_commands_total") && strstr(line, key) &&
			    strlen(out) + strlen(line) + 2 < 8192) {
				strcat(out, line);
				strcat(out, "\n");
			}
		}
	free(r.body);
	return out;
}

static void test_role_matrix(void)
{
	_cleanup_free_ char *before = mutation_counters(), *after = NULL;
	_cleanup_free_ uint8_t *pdh0 = exported("pdh"), *pdh1 = NULL;
	unsigned refused = 0, served = 0;

	for (size_t c = 0; c < ELEMENTSOF(callers); c++)
		for (size_t i = 0; i < ELEMENTSOF(matrix_routes); i++) {
			int need = (int)matrix_routes[i].role;
			bool allowed = callers[c].level >= need;
			bool mutating = !strcmp(matrix_routes[i].method, "POST") ||
					matrix_routes[i].role == R_ADMIN;
			long expect;
			json_object *o;

			if (allowed && mutating)
				continue; /* the admin's mutations are tested in test_mutations */
			expect = !allowed		   ? (callers[c].tcp_anon ? 401 : 403)
				 : matrix_routes[i].served ? matrix_routes[i].served
							   : 200;
			o = call(callers[c].via, callers[c].token, matrix_routes[i].method,
				 matrix_routes[i].path,
				 !strcmp(matrix_routes[i].method, "POST") ? "{}" : NULL, expect);
			if (!allowed) {
				check_error(o, expect == 401 ? "unauthorized" : "forbidden");
				refused++;
			} else
				served++;
			json_object_put(o);
		}
	/* Refused calls did nothing: no mutating firmware command ran, state and keys unchanged. */
	after = mutation_counters();
	TU_CHECK(!strcmp(before, after), "refused calls reached firmware:\n%s---\n%s", before, after);
	pdh1 = exported("pdh");
	TU_CHECK_MEM(pdh0, pdh1, SEV_CERT_SIZE);
	check_platform_state("INIT");
	TU_CHECK(refused >= 40 && served >= 25, "matrix too small: %u refused, %u served", refused,
		 served);
	/* POST /v1/guests is the launcher's, but receiving a migrated guest is the admin's. */
	{
		json_object *o = call(VIA_TCP, TOKEN_LAUNCHER, "POST", "/v1/guests",
				      "{\"receive\": {}}", 403);

		check_error(o, "forbidden");
		json_object_put(o);
	}
	/* The admin token over TCP may mutate. */
	json_object_put(call(VIA_TCP, TOKEN_ADMIN, "POST", "/v1/platform/pdh", NULL, 200));
	json_object_put(call(VIA_TCP, TOKEN_ADMIN, "GET", "/v1/platform/pek-csr", NULL, 200));
}

/* ---- 64 concurrent clients ---- */

#define CLIENTS 64
#define ROUNDS 6

struct client {
	int id;
	unsigned ok, busy, bad;
	char why[256];
};

/* One client: GET /v1/platform mostly, POST /v1/platform/pdh every third round; half of
 * them over TCP with the admin token, half over the Unix socket. */
static void *client_main(void *arg)
{
	struct client *cl = arg;
	enum via via = cl->id % 2 ? VIA_TCP : VIA_UNIX;
	const char *token = via == VIA_TCP ? TOKEN_ADMIN : NULL;

	for (int i = 0; i < ROUNDS; i++) {
		bool mutate = (i + cl->id) % 3 == 0;
		const char *path = mutate ? "/v1/platform/pdh" : "/v1/platform";
		json_object *o, *p, *v;
		struct resp r;

		do_request(via, token, mutate ? "POST" : "GET", path, NULL, 0, &r);
		o = json_tokener_parse(r.body);
		if (r.status == 503 && o && json_object_object_get_ex(o, "error", &v) &&
		    json_object_object_get_ex(v, "code", &v) && !strcmp(json_object_get_string(v), "busy"))
			cl->busy++;
		else if (r.status == 200 && o) {
			p = mutate && json_object_object_get_ex(o, "platform", &v) ? v : o;
			if (json_object_object_get_ex(p, "state", &v) &&
			    !strcmp(json_object_get_string(v), "INIT") &&
			    json_object_object_get_ex(p, "asids", &v) &&
			    json_object_object_get_ex(v, "max", &v) && json_object_get_int(v) == 509)
				cl->ok++;
			else {
				cl->bad++;
				snprintf(cl->why, sizeof(cl->why), "wrong answer: %s", r.body);
			}
		} else {
			cl->bad++;
			snprintf(cl->why, sizeof(cl->why), "HTTP %ld: %s", r.status, r.body);
		}
		json_object_put(o);
		free(r.body);
	}
	return NULL;
}

static void hammer(unsigned *ok, unsigned *busy)
{
	struct client cl[CLIENTS];
	pthread_t th[CLIENTS];

	*ok = *busy = 0;
	for (int i = 0; i < CLIENTS; i++) {
		cl[i] = (struct client){ .id = i };
		TU_CHECK(pthread_create(&th[i], NULL, client_main, &cl[i]) == 0, "pthread_create");
	}
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(th[i], NULL);
		TU_CHECK(cl[i].bad == 0, "client %d: %s", i, cl[i].why);
		*ok += cl[i].ok;
		*busy += cl[i].busy;
	}
	TU_CHECK_EQ(*ok + *busy, CLIENTS * ROUNDS);
}

static void test_concurrency(void)
{
	struct emu_info before = emu_info(), after;
	unsigned ok, busy;

	hammer(&ok, &busy);
	TU_CHECK_EQ(busy, 0); /* the default queue holds all 64 */
	TU_CHECK_EQ(ok, CLIENTS * ROUNDS);
	after = emu_info();
	/* Each POST /v1/platform/pdh is PDH_GEN and the PLATFORM_STATUS after it; a GET may be
	 * answered from sevd's cache (daemon/core/core.c "Reply caches"), so only those are counted. */
	TU_CHECK(after.commands_served >= before.commands_served + 2 * (CLIENTS * ROUNDS / 3),
		 "emulator served %llu commands, expected at least %d more",
		 (unsigned long long)(after.commands_served - before.commands_served),
		 2 * (CLIENTS * ROUNDS / 3));
	TU_CHECK_EQ(after.max_concurrent_seen, 1);
}

/* A queue of one: some callers get 503 busy, the others correct answers, firmware still one
 * command at a time. */
static void test_busy(void)
{
	unsigned ok, busy;
	struct resp r;

	sevd_start(NULL, "queue_max = 1\nqueue_wait_ms = 5000\n");
	hammer(&ok, &busy);
	TU_CHECK(busy > 0, "a queue of one never answered busy to 64 clients");
	TU_CHECK(ok > 0, "nobody got through");
	TU_CHECK_EQ(emu_info().max_concurrent_seen, 1);
	do_request(VIA_UNIX, NULL, "GET", "/metrics", NULL, 0, &r);
	TU_CHECK(strstr(r.body, "sevd_queue_rejected_total 0\n") == NULL, "rejections not counted");
	free(r.body);
	sevd_stop();
}

/* ---- ASID ranges at the emulator's sizes ---- */

/* The ASID table of GET /v1/asids with guests at its edges (the IPC sends only the
 * entries in use): SEV-ES ASIDs 1 and min_sev - 1, SEV ASIDs min_sev, the middle and max, each
 * listed once with its type and holder; a deleted guest's ASID leaves the holders; the counts
 * agree with the lists. */
static void check_asid_holders(int64_t max, int64_t min_sev)
{
	struct {
		int64_t asid;
		unsigned policy; /* 4: SEV-ES */
		const char *name;
		int64_t handle;
	} g[] = {{1, 4, "es-first"},	     {min_sev - 1, 4, "es-last"}, {min_sev, 0, "sev-first"},
		 {(min_sev + max) / 2, 0, "mid"}, {max, 0, "sev-last"}};
	json_object *o, *holders, *pending;
	char body[128], path[64];

	for (size_t i = 0; i < ELEMENTSOF(g); i++) {
		snprintf(body, sizeof(body), "{\"policy\": %u, \"name\": \"%s\", \"asid\": %lld}",
			 g[i].policy, g[i].name, (long long)g[i].asid);
		o = call(VIA_UNIX, NULL, "POST", "/v1/guests", body, 201);
		g[i].handle = jint(o, "handle");
		TU_CHECK_EQ(jint(o, "asid"), g[i].asid);
		json_object_put(o);
	}
	for (int round = 0; round < 2; round++) {
		size_t found = 0;

		o = call(VIA_UNIX, NULL, "GET", "/v1/asids", NULL, 200);
		holders = jobj(o, "holders");
		pending = jobj(o, "pending");
		TU_CHECK_EQ(json_object_array_length(holders), jint(o, "used"));
		TU_CHECK_EQ(json_object_array_length(pending), jint(o, "flush_pending"));
		for (size_t k = 0; k < json_object_array_length(holders); k++) {
			json_object *h = json_object_array_get_idx(holders, k);

			for (size_t i = 0; i < ELEMENTSOF(g); i++) {
				char want[64];

				if (jint(h, "asid") != g[i].asid)
					continue;
				TU_CHECK(round == 0 || i != 3, "the deleted guest's ASID is held");
				found++;
				snprintf(want, sizeof(want), "guest %lld %s", (long long)g[i].handle,
					 g[i].name);
				TU_CHECK(!strcmp(jstr(h, "holder"), want), "ASID %lld holder %s (%s)",
					 (long long)g[i].asid, jstr(h, "holder"), want);
				TU_CHECK(!strcmp(jstr(h, "type"), g[i].policy ? "es" : "sev"),
					 "ASID %lld type %s", (long long)g[i].asid, jstr(h, "type"));
			}
		}
		TU_CHECK_EQ(found, round == 0 ? ELEMENTSOF(g) : ELEMENTSOF(g) - 1);
		json_object_put(o);
		check_inventory(); /* with guests of both types held, then one pending */
		if (round == 0) { /* the middle one goes */
			snprintf(path, sizeof(path), "/v1/guests/%lld", (long long)g[3].handle);
			json_object_put(call(VIA_UNIX, NULL, "DELETE", path, NULL, 200));
		}
	}
	for (size_t i = 0; i < ELEMENTSOF(g); i++) {
		if (i == 3)
			continue;
		snprintf(path, sizeof(path), "/v1/guests/%lld", (long long)g[i].handle);
		json_object_put(call(VIA_UNIX, NULL, "DELETE", path, NULL, 200));
	}
}

static void test_asid_size(const char *ecx, const char *edx)
{
	int64_t max = atoi(ecx), min_sev = atoi(edx);
	json_object *o;

	tu_emu_stop(&D.emu);
	emu_start(ecx, edx);
	sevd_start(NULL, NULL);
	o = call(VIA_UNIX, NULL, "GET", "/v1/asids", NULL, 200);
	TU_CHECK_EQ(jint(o, "max"), max);
	TU_CHECK_EQ(jint(o, "min_sev"), min_sev);
	check_range(o, "es_range", 1, min_sev - 1);
	check_range(o, "sev_range", min_sev, max);
	TU_CHECK_EQ(jint(o, "free"), max);
	TU_CHECK_EQ(jint(jobj(o, "es"), "total"), min_sev - 1);
	TU_CHECK_EQ(jint(jobj(o, "sev"), "total"), max - min_sev + 1);
	json_object_put(o);
	o = call(VIA_TCP, TOKEN_READER, "GET", "/v1/platform", NULL, 200);
	TU_CHECK_EQ(jint(jobj(o, "asids"), "max"), max);
	check_range(jobj(o, "asids"), "es_range", 1, min_sev - 1);
	check_range(jobj(o, "asids"), "sev_range", min_sev, max);
	json_object_put(o);
	check_asid_holders(max, min_sev);
	sevd_stop();
}

/* ---- sevd --psp emu: its own emulator under the state dir, stopped with sevd ---- */

static void test_embedded_emulator(void)
{
	_cleanup_free_ char *state = path_join(D.dir, "state");
	_cleanup_free_ char *nv = path_join(state, "nv.bin");
	_cleanup_free_ char *sock = path_join(state, "emu.sock");
	_cleanup_free_ char *nv0 = path_join(D.dir, "nv.bin");
	uint8_t *buf;
	size_t len;
	json_object *o;

	/* Reuse the chip identity made earlier (saves the RSA-4096 key generation). */
	mkdir(state, 0700);
	buf = tu_read_file(nv0, &len);
	TU_CHECK(write_file_atomic(nv, buf, len, 0600) == 0, "copy NV file");
	free(buf);
	sevd_start("emu", NULL);
	o = call(VIA_UNIX, NULL, "GET", "/v1/platform", NULL, 200);
	TU_CHECK(!strcmp(jstr(o, "transport"), "emu"), "transport");
	json_object_put(o);
	TU_CHECK(tu_wait_socket(sock, 1000), "embedded emulator socket missing");
	sevd_stop();
	TU_CHECK(!tu_wait_socket(sock, 200), "the embedded emulator outlived sevd");
}

/* admin_group: a non-root Unix peer in that group (primary or supplementary) is admin; the
 * same peer without it stays reader. */
static void test_admin_group(void)
{
	struct group *g = getgrgid(65534);
	char conf[128];
	json_object *o;

	if (!g) {
		fprintf(stderr, "no group 65534: admin_group not tested\n");
		return;
	}
	snprintf(conf, sizeof(conf), "admin_group = %s\n", g->gr_name);
	sevd_start(NULL, conf);
	as_gid = 65534; /* primary group */
	as_ngroups = 0;
	o = call(VIA_UNIX_NOBODY, NULL, "GET", "/v1/platform/pek-csr", NULL, 200);
	json_object_put(o);
	as_gid = 1; /* supplementary group only (SO_PEERGROUPS) */
	as_groups[0] = 65534;
	as_ngroups = 1;
	o = call(VIA_UNIX_NOBODY, NULL, "GET", "/v1/platform/pek-csr", NULL, 200);
	json_object_put(o);
	as_gid = 1; /* not in the group: reader */
	as_ngroups = 0;
	o = call(VIA_UNIX_NOBODY, NULL, "GET", "/v1/platform/pek-csr", NULL, 403);
	check_error(o, "forbidden");
	json_object_put(o);
	o = call(VIA_UNIX_NOBODY, NULL, "GET", "/v1/asids", NULL, 200);
	json_object_put(o);
	as_gid = 65534;
	sevd_stop();
}

/* ---- the process: command line, sd_notify, socket activation ---- */

static void test_command_line(void)
{
	char *help[] = { (char *)tu_exe("SEVD_EXE"), (char *)"--help", NULL };
	char *version[] = { (char *)tu_exe("SEVD_EXE"), (char *)"--version", NULL };
	char *bogus[] = { (char *)tu_exe("SEVD_EXE"), (char *)"--bogus", NULL };
	char *extra[] = { (char *)tu_exe("SEVD_EXE"), (char *)"stray", NULL };
	char *bad_listen[] = { (char *)tu_exe("SEVD_EXE"), (char *)"--config", (char *)"/dev/null",
			       (char *)"--listen", (char *)"http:1.2.3.4", NULL };
	char *no_conf[] = { (char *)tu_exe("SEVD_EXE"), (char *)"--config",
			    (char *)"/nonexistent/sevd.conf", NULL };
	char *out = NULL;
	size_t len;

	TU_CHECK_EQ(tu_run(help, &out, &len), 0);
	TU_CHECK(strstr(out, "Usage: sevd") && strstr(out, "--listen"), "help: %s", out);
	free(out);
	TU_CHECK_EQ(tu_run(version, &out, &len), 0);
	TU_CHECK(!strncmp(out, "sevd ", 5), "version: %s", out);
	free(out);
	TU_CHECK_EQ(tu_run(bogus, NULL, NULL), 1);
	TU_CHECK_EQ(tu_run(extra, NULL, NULL), 1);
	TU_CHECK_EQ(tu_run(bad_listen, NULL, NULL), 1);
	TU_CHECK_EQ(tu_run(no_conf, NULL, NULL), 1);
}

/* Read notify datagrams for up to timeout_ms into buf (appended, '|' separated) until one
 * contains `until`. */
static bool notify_wait(int fd, char *buf, size_t size, const char *until, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		char msg[512];
		ssize_t n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);

		if (n > 0) {
			msg[n] = '\0';
			strncat(buf, msg, size - strlen(buf) - 2);
			strcat(buf, "|");
			if (strstr(msg, until))
				return true;
			continue;
		}
		usleep(10000);
	}
	return false;
}

static void test_sd_notify(void)
{
	_cleanup_free_ char *path = path_join(D.dir, "notify.sock");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char got[4096] = "";
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	TU_CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "notify socket");
	setenv("NOTIFY_SOCKET", path, 1);
	sevd_start(NULL, NULL);
	unsetenv("NOTIFY_SOCKET");
	TU_CHECK(notify_wait(fd, got, sizeof(got), "READY=1", 30000), "no READY=1: %s", got);
	TU_CHECK(strstr(got, "STATUS="), "no STATUS= line: %s", got);
	sevd_stop();
	TU_CHECK(notify_wait(fd, got, sizeof(got), "STOPPING=1", 5000), "no STOPPING=1: %s", got);
	TU_CHECK(strstr(got, "READY=1") < strstr(got, "STOPPING=1"), "order: %s", got);
	close(fd);
}

/* systemd-socket-activate hands sevd a listening Unix socket (LISTEN_FDS) instead of
 * --listen: the API serves on it with peer-credential roles. */
static void test_socket_activation(void)
{
	_cleanup_free_ char *act = path_join(D.dir, "activated.sock");
	_cleanup_free_ char *conf = path_join(D.dir, "sevd.conf");
	_cleanup_free_ char *state = path_join(D.dir, "state");
	_cleanup_free_ char *log = path_join(D.dir, "activate.log");
	char *saved = D.unix_path, psp[512], listen_arg[600];
	char *argv[16];
	json_object *o;
	int n = 0, st;

	if (access("/usr/bin/systemd-socket-activate", X_OK) != 0) {
		fprintf(stderr, "systemd-socket-activate missing: socket activation not tested\n");
		return;
	}
	write_config(conf, NULL);
	snprintf(psp, sizeof(psp), "emu:%s", D.emu.socket);
	snprintf(listen_arg, sizeof(listen_arg), "--listen=%s", act);
	argv[n++] = (char *)"/usr/bin/systemd-socket-activate";
	argv[n++] = listen_arg;
	argv[n++] = (char *)tu_exe("SEVD_EXE");
	argv[n++] = (char *)"--psp";
	argv[n++] = psp;
	argv[n++] = (char *)"--state-dir";
	argv[n++] = state;
	argv[n++] = (char *)"--config";
	argv[n++] = conf;
	argv[n] = NULL;
	D.pid = tu_spawn(argv, log);
	TU_CHECK(tu_wait_socket(act, 10000), "systemd-socket-activate did not listen (log %s)", log);
	D.unix_path = act;
	o = call(VIA_UNIX, NULL, "GET", "/v1/platform", NULL, 200);
	TU_CHECK(!strcmp(jstr(o, "state"), "INIT"), "state");
	json_object_put(o);
	json_object_put(call(VIA_UNIX, NULL, "POST", "/v1/platform/pdh", NULL, 200));
	D.unix_path = saved;
	st = tu_stop(D.pid, 20000);
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "activated sevd did not exit cleanly: 0x%x", st);
	D.pid = 0;
}

/* sevd with conf (written with extra) must refuse to start: exit 1, log naming `needle`. */
static void refused_start(const char *extra, const char *needle)
{
	_cleanup_free_ char *conf = path_join(D.dir, "refused.conf");
	_cleanup_free_ char *log = path_join(D.dir, "refused.log");
	_cleanup_free_ char *state = path_join(D.dir, "refused-state");
	_cleanup_free_ char *text = NULL;
	char psp[512], listen_arg[600];
	char *argv[] = { (char *)tu_exe("SEVD_EXE"), (char *)"--psp", psp, (char *)"--state-dir",
			 state, (char *)"--config", conf, (char *)"--listen", listen_arg, NULL };
	pid_t pid, w = 0;
	size_t len;
	int st = 0;

	write_config(conf, extra);
	snprintf(psp, sizeof(psp), "emu:%s", D.emu.socket);
	snprintf(listen_arg, sizeof(listen_arg), "unix:%s/refused.sock", D.dir);
	unlink(log);
	pid = tu_spawn(argv, log);
	for (int i = 0; i < 1000 && w == 0; i++) { /* bounded: 10 s */
		w = waitpid(pid, &st, WNOHANG);
		if (w == 0)
			usleep(10000);
	}
	if (w == 0)
		st = tu_stop(pid, 5000);
	text = (char *)tu_read_file(log, &len);
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "sevd started with %s (0x%x)", extra, st);
	TU_CHECK(text && strstr(text, needle), "log lacks '%s': %s", needle, text ? text : "");
}

/* The keys migration_roots and migration_emulated_root of sevd.conf. The platform's own
 * ASK ‖ ARK (from GET /v1/platform/certs) is a usable emulated root and an empty directory
 * usable roots: sevd starts, says which emulated root it trusts, and serves; an unreadable
 * root file, a file that is no root, and a missing roots directory stop it at start. */
static void test_migration_config(void)
{
	_cleanup_free_ char *root = path_join(D.dir, "ask-ark.cert");
	_cleanup_free_ char *junk = path_join(D.dir, "junk.cert");
	_cleanup_free_ char *dir = path_join(D.dir, "migration-roots");
	_cleanup_free_ char *log = NULL, *text = NULL;
	uint8_t *ask, *ark;
	size_t ask_len, ark_len, len;
	char extra[2048];
	json_object *o;
	FILE *f;

	sevd_start(NULL, NULL);
	o = call(VIA_UNIX, NULL, "GET", "/v1/platform/certs", NULL, 200);
	ask = b64field(o, "ask", &ask_len);
	ark = b64field(o, "ark", &ark_len);
	json_object_put(o);
	sevd_stop();
	f = fopen(root, "wb");
	TU_CHECK(f && fwrite(ask, 1, ask_len, f) == ask_len && fwrite(ark, 1, ark_len, f) == ark_len &&
		 fclose(f) == 0, "write %s", root);
	free(ask);
	free(ark);
	f = fopen(junk, "wb");
	TU_CHECK(f && fputs("not a certificate\n", f) >= 0 && fclose(f) == 0, "write %s", junk);
	TU_CHECK(mkdir(dir, 0755) == 0 || errno == EEXIST, "mkdir %s", dir);

	snprintf(extra, sizeof(extra), "migration_roots = %s\nmigration_emulated_root = %s\n", dir,
		 root);
	sevd_start(NULL, extra);
	o = call(VIA_UNIX, NULL, "GET", "/v1/platform", NULL, 200);
	json_object_put(o);
	sevd_stop();
	log = path_join(D.dir, "sevd.log");
	text = (char *)tu_read_file(log, &len);
	TU_CHECK(text && strstr(text, "migration_emulated_root") && strstr(text, root),
		 "no warning about the emulated root in %s", log);

	snprintf(extra, sizeof(extra), "migration_emulated_root = %s\n", junk);
	refused_start(extra, "migration_emulated_root");
	snprintf(extra, sizeof(extra), "migration_emulated_root = %s/absent.cert\n", D.dir);
	refused_start(extra, "migration_emulated_root");
	snprintf(extra, sizeof(extra), "migration_roots = %s/absent-dir\n", D.dir);
	refused_start(extra, "migration_roots");
	refused_start("migration_roots = relative/dir\n", "absolute path");
}

int main(void)
{
	char *openapi;
	const char *root = getenv("SEVD_SOURCE_ROOT");

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
	chmod(D.dir, 0755); /* the nobody client must reach the socket */
	D.unix_path = path_join(D.dir, "api.sock");
	test_openapi_covers_routes();

	emu_start("509", "100");
	sevd_start(NULL, NULL);
	test_read_endpoints(509, 100);
	test_metrics();
	test_mutations();
	test_bad_input(VIA_UNIX, NULL);
	test_bad_input(VIA_TCP, TOKEN_ADMIN);
	test_role_matrix();
	test_concurrency();
	sevd_stop();
	test_busy();
	test_admin_group();
	test_command_line();
	test_sd_notify();
	test_socket_activation();
	test_migration_config();

	test_asid_size("15", "5");
	test_asid_size("509", "100");
	test_asid_size("1006", "507");
	tu_emu_stop(&D.emu);
	test_embedded_emulator();

	if (!getenv("SEVD_TEST_KEEP")) /* keep the logs for a look at them */
		tu_rmtree(D.dir);
	free(D.dir);
	free(D.unix_path);
	json_object_put(doc);
	curl_global_cleanup();
	tu_done("daemon API");
}
