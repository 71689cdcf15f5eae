/* Crash safety of sevd: a busy launch sequence (launches with multi-chunk uploads, an
 * owner session and a LAUNCH_SECRET, measurement, finish, activate, an SEV-ES guest with its
 * VMSA, deactivate/re-activate, a half-done launch, decommissions; compaction every few
 * records) runs against the real sevd
 * and the real emulator, and sevd is killed with a real SIGKILL at 50 or more distinct points
 * of it: SEVD_TEST_CRASH_AT=N makes sevd stop itself (SIGSTOP) at its Nth journal/firmware
 * checkpoint (daemon/core/crash.h), the test sees it stopped and kills it there. Some checkpoints
 * leave half a journal record behind (a torn write). After each restart the invariants hold:
 *   - sevd starts (a torn tail is truncated, never a refusal);
 *   - the guests sevd lists are exactly the firmware's (GUEST_STATUS over every handle, asked
 *     directly through the PSP transport), with the same state and ASID, and the platform's
 *     guest_count agrees;
 *   - no guest is half-launched: every guest left is RUNNING, or an unfinished SEV/SEV-ES
 *     launch kept with its ASID (LUPDATE, or LSECRET measured) that its owner can still
 *     measure and finish (the test does, after the checks);
 *   - the ASID pool holds exactly the ASIDs of those guests, each once, and
 *     used + free + pending = total for both types (none lost).
 * The points are a seeded sample (SEVD_CRASH_SEED, printed) of all checkpoints a reference
 * run reports (SEVD_TEST_CRASH_LOG=1): reproducible. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "attest/secret.h"
#include "attest/sev-cert.h"
#include "attest/session.h"
#include "common/util.h"
#include "psp/commands.h"
#include "psp/transport.h"
#include "tests/daemon/guest-client.h"
#include "tests/daemon/reliability-util.h"
#include "tests/testutil.h"

#define MIN_POINTS 60
#define MAX_HANDLE 64

static struct gc_daemon D;
static struct tu_emu E;
/* The owner's session for alpha (built once, before the runs). */
static char *godh_b64, *session_b64;
static struct attest_tk tk;

/* ---- the workload (runs in a child; any surprise ends it with a non-zero status) ---- */

static json_object *call(const char *method, const char *path, const char *body, long want)
{
	struct gc_resp r;
	json_object *o;

	gc_request(&D, method, path, body, body ? strlen(body) : 0, NULL, &r);
	if (r.status != want) {
		fprintf(stderr, "workload: %s %s answered %ld: %s\n", method, path, r.status,
			r.body);
		exit(2);
	}
	o = json_object_get(r.json);
	gc_resp_free(&r);
	return o;
}

static uint32_t w_launch(uint32_t policy, const char *name)
{
	char body[128];
	json_object *o;
	uint32_t h;

	snprintf(body, sizeof(body), "{\"policy\": %u, \"name\": \"%s\"}", policy, name);
	o = call("POST", "/v1/guests", body, 201);
	h = (uint32_t)gc_int(o, "handle");
	json_object_put(o);
	return h;
}

static void w_op(const char *method, uint32_t h, const char *what, long want)
{
	char path[96];

	snprintf(path, sizeof(path), "/v1/guests/%u%s", h, what);
	json_object_put(call(method, path, NULL, want));
}

static void w_upload(uint32_t h, size_t len)
{
	uint8_t *img = malloc(len);
	struct gc_resp r;
	char path[64];

	for (size_t i = 0; i < len; i++)
		img[i] = (uint8_t)(i * 13 + h);
	snprintf(path, sizeof(path), "/v1/guests/%u/data", h);
	gc_upload_chunked(&D, path, img, len, 200000, &r);
	free(img);
	if (r.status != 200) {
		fprintf(stderr, "workload: upload answered %ld: %s\n", r.status, r.body);
		exit(2);
	}
	gc_resp_free(&r);
}

static void w_vmsa(uint32_t h)
{
	static uint8_t page[4096];
	struct gc_resp r;
	char path[64];

	snprintf(path, sizeof(path), "/v1/guests/%u/vmsa", h);
	gc_request(&D, "POST", path, page, sizeof(page), "application/octet-stream", &r);
	if (r.status != 200)
		exit(2);
	gc_resp_free(&r);
}

/* LAUNCH_SECRET with the session's keys over the measurement just taken. */
static void w_secret(uint32_t h, json_object *m)
{
	uint8_t measure[32], plain[32] = "crash-test secret", cipher[32];
	struct sev_secret_header hdr;
	char path[64], *hb, *pb, *body;

	if (hex_decode_exact(gc_str(m, "measurement"), measure, 32) < 0 ||
	    attest_secret_seal(&(struct attest_secret_key){&tk, measure,
							   (uint8_t)gc_int(m, "api_major"),
							   (uint8_t)gc_int(m, "api_minor")},
			       NULL, plain, sizeof(plain), &hdr, cipher) < 0)
		exit(3);
	hb = base64_encode(&hdr, sizeof(hdr));
	pb = base64_encode(cipher, sizeof(cipher));
	if (!hb || !pb || asprintf(&body, "{\"header\": \"%s\", \"payload\": \"%s\"}", hb, pb) < 0)
		exit(3);
	snprintf(path, sizeof(path), "/v1/guests/%u/secret", h);
	json_object_put(call("POST", path, body, 200));
	free(hb);
	free(pb);
	free(body);
}

static void w_full_launch(uint32_t h, size_t len, bool es, bool secret)
{
	char path[64];
	json_object *m;

	w_upload(h, len);
	if (es)
		w_vmsa(h);
	snprintf(path, sizeof(path), "/v1/guests/%u/measurement", h);
	m = call("GET", path, NULL, 200);
	if (secret)
		w_secret(h, m);
	json_object_put(m);
	w_op("POST", h, "/finish", 200);
	w_op("POST", h, "/activate", 200);
}

static void workload(void)
{
	uint32_t a, b, c, d;

	{
		char *body;
		json_object *o;

		if (asprintf(&body,
			     "{\"policy\": 1, \"name\": \"alpha\", \"godh_cert\": \"%s\", "
			     "\"session\": \"%s\"}",
			     godh_b64, session_b64) < 0)
			exit(3);
		o = call("POST", "/v1/guests", body, 201);
		a = (uint32_t)gc_int(o, "handle");
		json_object_put(o);
		free(body);
	}
	w_full_launch(a, 2 * 1024 * 1024 + 100, false, true);
	b = w_launch(0x1, "bravo"); /* stays half-launched */
	w_upload(b, 70000);
	w_op("GET", b, "/measurement", 200);
	c = w_launch(0x1, "charlie");
	w_full_launch(c, 5000, false, false);
	w_op("POST", a, "/deactivate", 200);
	w_op("POST", a, "/activate", 200);
	w_op("DELETE", c, "", 200);
	d = w_launch(0x5, "delta-es"); /* NODBG | ES */
	w_full_launch(d, 40000, true, false);
	w_op("DELETE", a, "", 200);
	w_op("POST", d, "/deactivate", 200);
	w_op("DELETE", b, "", 200);
	exit(0);
}

/* ---- invariants ---- */

struct fw_guest {
	uint32_t handle, asid;
	uint8_t state;
};

static unsigned firmware_guests(struct fw_guest *out, uint32_t *ret_count)
{
	struct psp_transport *t = NULL;
	struct sev_cmd_platform_status ps;
	char spec[512];
	unsigned n = 0;

	snprintf(spec, sizeof(spec), "emu:%s", E.socket);
	TU_CHECK(psp_open(spec, &t) == 0, "open %s", spec);
	TU_CHECK(psp_cmd_platform_status(t, &ps, NULL) == 0, "PLATFORM_STATUS");
	for (uint32_t h = 1; h <= MAX_HANDLE; h++) {
		struct sev_cmd_guest_status st;

		TU_CHECK(psp_cmd_guest_status(t, h, &st, NULL) == 0, "GUEST_STATUS %u", h);
		if (st.state != SEV_GSTATE_UNINIT)
			out[n++] =
			    (struct fw_guest){.handle = h, .asid = st.asid, .state = st.state};
	}
	psp_close(t);
	*ret_count = ps.guest_count;
	return n;
}

static const char *const states[] = {"UNINIT",	"LUPDATE", "LSECRET", "RUNNING",
				     "SUPDATE", "RUPDATE", "SENT"};

/* An unfinished launch the restart kept can still be finished by its owner: measured (again,
 * the same answer), LAUNCH_FINISH, RUNNING. */
static unsigned resumed;

static void finish_unfinished(unsigned point, uint32_t h)
{
	char path[64];
	struct gc_resp r;

	snprintf(path, sizeof(path), "/v1/guests/%u/measurement", h);
	gc_request(&D, "GET", path, NULL, 0, NULL, &r);
	TU_CHECK(r.status == 200 && !gc_is_null(r.json, "measurement"),
		 "point %u: the kept guest %u cannot be measured: %s", point, h, r.body);
	gc_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/guests/%u/finish", h);
	gc_request(&D, "POST", path, NULL, 0, NULL, &r);
	TU_CHECK(r.status == 200 && !strcmp(gc_str(r.json, "state"), "RUNNING"),
		 "point %u: the kept guest %u cannot finish its launch: %s", point, h, r.body);
	gc_resp_free(&r);
	resumed++;
}

static void check_invariants(unsigned point)
{
	struct fw_guest fw[MAX_HANDLE];
	struct gc_resp g, a;
	json_object *list, *holders;
	uint32_t count, held[64] = {0}, unfinished[MAX_HANDLE];
	unsigned nfw = firmware_guests(fw, &count), n, nheld = 0, nunfinished = 0;

	gc_request(&D, "GET", "/v1/guests", NULL, 0, NULL, &g);
	TU_CHECK(g.status == 200, "point %u: GET /v1/guests %ld", point, g.status);
	list = json_object_object_get(g.json, "guests");
	n = (unsigned)json_object_array_length(list);
	TU_CHECK(n == nfw && count == nfw,
		 "point %u: sevd lists %u guests, firmware has %u (guest_count %u)", point, n, nfw,
		 count);
	for (unsigned i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(list, i);
		uint32_t h = (uint32_t)gc_int(o, "handle");
		int64_t asid = gc_is_null(o, "asid") ? 0 : gc_int(o, "asid");
		bool found = false;

		if (strcmp(gc_str(o, "state"), "RUNNING")) { /* kept for its owner to finish */
			TU_CHECK((!strcmp(gc_str(o, "state"), "LUPDATE") ||
				  !strcmp(gc_str(o, "state"), "LSECRET")) &&
				     !gc_is_null(o, "asid") && nunfinished < MAX_HANDLE,
				 "point %u: guest %u is %s after the restart (half-launched, not "
				 "an unfinished launch kept with its ASID)",
				 point, h, gc_str(o, "state"));
			unfinished[nunfinished++] = h;
		}
		for (unsigned k = 0; k < nfw; k++)
			if (fw[k].handle == h) {
				found = true;
				TU_CHECK(
				    fw[k].asid == asid && fw[k].state < 7 &&
					!strcmp(states[fw[k].state], gc_str(o, "state")),
				    "point %u: guest %u: sevd says %s/ASID %lld, firmware %u/%u",
				    point, h, gc_str(o, "state"), (long long)asid, fw[k].state,
				    fw[k].asid);
			}
		TU_CHECK(found, "point %u: sevd lists guest %u, firmware does not know it", point,
			 h);
		if (asid)
			held[nheld++] = (uint32_t)asid;
	}
	gc_request(&D, "GET", "/v1/asids", NULL, 0, NULL, &a);
	TU_CHECK(a.status == 200, "point %u: GET /v1/asids", point);
	holders = json_object_object_get(a.json, "holders");
	TU_CHECK_EQ(json_object_array_length(holders), nheld);
	TU_CHECK_EQ(gc_int(a.json, "used"), nheld);
	for (size_t i = 0; i < json_object_array_length(holders); i++) {
		uint32_t x = (uint32_t)gc_int(json_object_array_get_idx(holders, i), "asid");
		unsigned seen = 0;

		for (unsigned k = 0; k < nheld; k++)
			seen += held[k] == x;
		TU_CHECK(seen == 1, "point %u: the pool holds ASID %u for %u guests", point, x,
			 seen);
	}
	for (int k = 0; k < 2; k++) {
		json_object *c = json_object_object_get(a.json, k ? "sev" : "es");

		TU_CHECK(gc_int(c, "used") + gc_int(c, "free") + gc_int(c, "flush_pending") ==
			     gc_int(c, "total"),
			 "point %u: %s ASIDs lost: %s", point, k ? "sev" : "es", a.body);
	}
	gc_resp_free(&g);
	gc_resp_free(&a);
	for (unsigned i = 0; i < nunfinished; i++)
		finish_unfinished(point, unfinished[i]);
}

/* Decommission everything, so that every run starts from the same firmware state. */
static void cleanup_guests(void)
{
	struct gc_resp g;
	json_object *list;

	gc_request(&D, "GET", "/v1/guests", NULL, 0, NULL, &g);
	list = json_object_object_get(g.json, "guests");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		char path[64];
		struct gc_resp r;

		snprintf(path, sizeof(path), "/v1/guests/%lld",
			 (long long)gc_int(json_object_array_get_idx(list, i), "handle"));
		gc_request(&D, "DELETE", path, NULL, 0, NULL, &r);
		TU_CHECK(r.status == 200, "cleanup DELETE %s: %s", path, r.body);
		gc_resp_free(&r);
	}
	gc_resp_free(&g);
}

/* ---- the runs ---- */

/* The reference run: how many checkpoints does the workload pass? */
static unsigned reference_run(void)
{
	pid_t w;
	int st;
	unsigned max = 0;
	char *log, *p;
	size_t len;

	D.extra_env = "SEVD_TEST_CRASH_LOG=1";
	TU_CHECK(gc_start(&D, true), "sevd starts");
	w = ru_fork_workload(workload, false);
	TU_CHECK(w > 0, "fork");
	TU_CHECK(waitpid(w, &st, 0) == w && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		 "the workload fails without a crash (status 0x%x; log %s)", st, D.log);
	check_invariants(0);
	cleanup_guests();
	gc_stop(&D, false);
	log = (char *)tu_read_file(D.log, &len);
	for (p = log; (p = strstr(p, "sevd-crash-point ")); p++)
		max = MAX(max, (unsigned)strtoul(p + 17, NULL, 10));
	free(log);
	unlink(D.log);
	return max;
}

/* Start with SEVD_TEST_CRASH_AT=point, run the workload until sevd stops itself, SIGKILL it.
 * Returns true when the point was reached. */
static bool crash_run(unsigned point)
{
	static char env[64];
	bool stopped = false;
	pid_t w;
	int st;

	snprintf(env, sizeof(env), "SEVD_TEST_CRASH_AT=%u", point);
	D.extra_env = env;
	TU_CHECK(gc_start(&D, true), "sevd starts for point %u (log %s)", point, D.log);
	w = ru_fork_workload(workload, true);
	TU_CHECK(w > 0, "fork");
	stopped = ru_wait_checkpoint(D.pid, &w, point, D.log);
	kill(D.pid, SIGKILL);
	waitpid(D.pid, &st, 0);
	D.pid = 0;
	if (w)
		waitpid(w, &st, 0);
	return stopped;
}

int main(void)
{
	static const char *const emu_args[] = {"--cpuid-ecx", "15", "--cpuid-edx", "5", NULL};
	const char *seed_env = getenv("SEVD_CRASH_SEED");
	unsigned seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 0) : 20261123u;
	unsigned total, points[512], n = 0, reached = 0, torn = 0;
	char *conf;

	if (!getenv("SEVD_EXE") || !getenv("SEV_PSP_EMU_EXE"))
		tu_skip("SEVD_EXE or SEV_PSP_EMU_EXE not set (run through meson test)");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	signal(SIGPIPE, SIG_IGN);
	D.dir = tu_mkdtemp();
	TU_CHECK(tu_emu_start(D.dir, (const char *const *)emu_args, &E) == 0, "emulator");
	D.emu_sock = E.socket;
	conf = ru_compact_conf(D.dir, 6);
	TU_CHECK(conf, "conf");
	D.config = conf;

	/* The owner side of alpha's launch: a session for the platform's PDH. */
	TU_CHECK(gc_start(&D, true), "sevd starts");
	{
		struct gc_resp r;
		struct sev_cert pdh, godh;
		struct sev_session_blob blob;
		uint8_t *raw = NULL;
		size_t len = 0;

		gc_request(&D, "GET", "/v1/platform/certs", NULL, 0, NULL, &r);
		TU_CHECK(r.status == 200 &&
			     base64_decode(gc_str(r.json, "pdh"), strlen(gc_str(r.json, "pdh")),
					   &raw, &len) == 0 &&
			     attest_sev_cert_parse(raw, len, &pdh, NULL) == 0,
			 "the platform's PDH");
		TU_CHECK(attest_session_build(&pdh, 0x1, NULL, &godh, &blob, &tk) == 0, "session");
		godh_b64 = base64_encode(&godh, sizeof(godh));
		session_b64 = base64_encode(&blob, sizeof(blob));
		free(raw);
		gc_resp_free(&r);
	}
	gc_stop(&D, false);
	total = reference_run();
	TU_CHECK(total >= MIN_POINTS, "the workload passes only %u checkpoints", total);
	/* A seeded sample of MIN_POINTS distinct points (all of them when there are few). */
	for (unsigned i = 1; i <= total && i <= ELEMENTSOF(points); i++)
		points[n++] = i;
	srand(seed);
	for (unsigned i = n - 1; i > 0; i--) {
		unsigned j = (unsigned)rand() % (i + 1), t = points[i];

		points[i] = points[j];
		points[j] = t;
	}
	n = MIN(n, (unsigned)MIN_POINTS);
	printf("crash test: %u checkpoints in the workload, seed %u, killing at %u of them\n",
	       total, seed, n);
	for (unsigned i = 0; i < n; i++) {
		char *log;
		size_t len;

		reached += crash_run(points[i]);
		D.extra_env = NULL;
		TU_CHECK(gc_start(&D, true), "sevd restarts after a kill at point %u (log %s)",
			 points[i], D.log);
		check_invariants(points[i]);
		cleanup_guests();
		check_invariants(points[i]);
		gc_stop(&D, false);
		log = (char *)tu_read_file(D.log, &len);
		torn += strstr(log, "torn tail") != NULL;
		TU_CHECK(strstr(log, "Reconciled the journal with firmware") != NULL,
			 "no reconciliation logged after point %u", points[i]);
		free(log);
		unlink(D.log);
	}
	printf(
	    "crash test: %u of %u kills landed on their checkpoint; %u restarts truncated a torn "
	    "journal tail\n",
	    reached, n, torn);
	printf("crash test: %u unfinished launches kept by a restart were then finished\n",
	       resumed);
	TU_CHECK(reached >= 50, "only %u kills landed on a checkpoint", reached);
	TU_CHECK(resumed > 0, "no restart kept an unfinished launch (bravo is one after its "
			      "measurement)");
	tu_emu_stop(&E);
	tu_rmtree(D.dir);
	free(conf);
	tu_done("daemon-crash");
}
