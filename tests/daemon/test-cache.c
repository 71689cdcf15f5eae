/* sevd's reply cache (issue 8; daemon/core.c "Reply caches") against the real sevd on the real
 * sev-psp-emu, counting what reaches firmware with the emulator's own command counter (CTL
 * "status": commands=N, every firmware command it was handed):
 *   1. repeated GET /v1/platform and GET /v1/guests/{h} do not reach firmware (at most one
 *      refresh per second of the test's own wall time: the cache's age bound), and are
 *      counted in sevd_cache_hits_total;
 *   2. a mutating call through sevd is visible in the very next GET: a launch raises
 *      guest_count, a delete lowers it, SHUTDOWN/INIT change the state, PEK_GEN keeps it
 *      consistent; GET measurement and finish move the guest's state, seen at once;
 *   3. a failed command (PEK_CERT_IMPORT of garbage, refused by firmware) invalidates too: the
 *      next GET reaches firmware;
 *   4. a change sevd cannot see (SHUTDOWN sent to the emulator by another client) shows
 *      within the age bound (bounded wait).
 * Loopback Unix sockets only; every wait is bounded. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/commands.h"
#include "psp/psp-emu.h"
#include "psp/transport.h"
#include "tests/daemon/guest-client.h"
#include "tests/testutil.h"

static struct psp_transport *emu; /* the test's own connection to the emulator */

static long req(struct gc_daemon *d, const char *method, const char *path, const char *body,
		struct gc_resp *out)
{
	gc_request(d, method, path, body, body ? strlen(body) : 0, NULL, out);
	return out->status;
}

/* The emulator's count of firmware commands handed to it. */
static uint64_t fw_commands(void)
{
	_cleanup_free_ uint8_t *reply = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	const char *p;

	TU_CHECK_EQ(psp_emu_ctl(emu, "status", &reply, &len), 0);
	text = strndup((const char *)reply, len);
	p = text ? strstr(text, "commands=") : NULL;
	TU_CHECK(p, "emulator status without commands=: %s", text ? text : "");
	return p ? strtoull(p + 9, NULL, 10) : 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* GET path; its JSON kept in *out (caller frees). */
static void get(struct gc_daemon *d, const char *path, struct gc_resp *out)
{
	TU_CHECK(req(d, "GET", path, NULL, out) == 200 && out->json, "GET %s: %ld %s", path,
		 out->status, out->body ? out->body : "");
}

static int64_t guest_count(struct gc_daemon *d)
{
	struct gc_resp r;
	int64_t n;

	get(d, "/v1/platform", &r);
	n = r.json ? gc_int(r.json, "guest_count") : -1;
	gc_resp_free(&r);
	return n;
}

static char *str_field(struct gc_daemon *d, const char *path, const char *key)
{
	struct gc_resp r;
	char *s;

	get(d, path, &r);
	s = strdup(r.json ? gc_str(r.json, key) : "");
	gc_resp_free(&r);
	return s;
}

static uint64_t cache_hits(struct gc_daemon *d, const char *command)
{
	char key[96];
	struct gc_resp r;
	const char *p;
	uint64_t n = 0;

	snprintf(key, sizeof(key), "sevd_cache_hits_total{command=\"%s\"} ", command);
	TU_CHECK_EQ(req(d, "GET", "/metrics", NULL, &r), 200);
	p = r.body ? strstr(r.body, key) : NULL;
	TU_CHECK(p, "metrics lack %s", key);
	if (p)
		n = strtoull(p + strlen(key), NULL, 10);
	gc_resp_free(&r);
	return n;
}

/* n identical GETs: the same body each time, and at most one firmware command per started
 * second (the age bound), whatever the machine's speed. */
static void repeated(struct gc_daemon *d, const char *path, const char *command, unsigned n)
{
	struct gc_resp first, r;
	uint64_t c0, c1, h0, h1, allowed;
	double t0, secs;

	get(d, path, &first); /* takes the entry if it was not there */
	h0 = cache_hits(d, command);
	c0 = fw_commands();
	t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		get(d, path, &r);
		TU_CHECK(r.body && first.body && !strcmp(r.body, first.body),
			 "GET %s changed with nothing done: %s / %s", path, first.body, r.body);
		gc_resp_free(&r);
	}
	secs = now_s() - t0;
	c1 = fw_commands();
	h1 = cache_hits(d, command);
	allowed = (uint64_t)secs + 1;
	TU_CHECK(c1 - c0 <= allowed,
		 "%u x GET %s reached firmware %llu times in %.2f s (at most %llu refreshes)", n,
		 path, (unsigned long long)(c1 - c0), secs, (unsigned long long)allowed);
	TU_CHECK(h1 - h0 + (c1 - c0) >= n, "hits %llu + misses %llu < %u GETs",
		 (unsigned long long)(h1 - h0), (unsigned long long)(c1 - c0), n);
	printf("%u x GET %s: %llu firmware commands, %llu cache hits, %.2f s\n", n, path,
	       (unsigned long long)(c1 - c0), (unsigned long long)(h1 - h0), secs);
	gc_resp_free(&first);
}

/* The next GET /v1/platform after the last mutation reached firmware exactly once. */
static void next_get_asks_firmware(struct gc_daemon *d, const char *after)
{
	struct gc_resp r;
	uint64_t c0 = fw_commands();

	get(d, "/v1/platform", &r);
	gc_resp_free(&r);
	TU_CHECK_EQ(fw_commands() - c0, 1);
	printf("after %s: the next GET /v1/platform asked firmware\n", after);
}

static uint32_t launch(struct gc_daemon *d, const char *name)
{
	char body[96];
	struct gc_resp r;
	uint32_t h = 0;

	snprintf(body, sizeof(body), "{\"policy\": 0, \"name\": \"%s\"}", name);
	TU_CHECK(req(d, "POST", "/v1/guests", body, &r) == 201, "launch %s: %ld %s", name, r.status,
		 r.body);
	if (r.status == 201)
		h = (uint32_t)gc_int(r.json, "handle");
	gc_resp_free(&r);
	return h;
}

static void post_ok(struct gc_daemon *d, const char *path)
{
	struct gc_resp r;

	TU_CHECK(req(d, "POST", path, NULL, &r) == 200, "POST %s: %ld %s", path, r.status, r.body);
	gc_resp_free(&r);
}

static void test_platform(struct gc_daemon *d)
{
	_cleanup_free_ char *state = NULL;
	struct gc_resp r;
	int64_t n0;
	uint32_t h;
	char path[64];

	repeated(d, "/v1/platform", "PLATFORM_STATUS", 40);
	n0 = guest_count(d);
	h = launch(d, "cache-a");
	TU_CHECK_EQ(guest_count(d), n0 + 1); /* the launch, seen by the very next GET */
	snprintf(path, sizeof(path), "/v1/guests/%u", h);
	TU_CHECK_EQ(req(d, "DELETE", path, NULL, &r), 200);
	gc_resp_free(&r);
	next_get_asks_firmware(d, "DELETE");
	TU_CHECK_EQ(guest_count(d), n0);
	/* Platform mutations answer the state after them and leave it cached: correct at once. */
	post_ok(d, "/v1/platform/shutdown");
	state = str_field(d, "/v1/platform", "state");
	TU_CHECK(!strcmp(state, "UNINIT"), "state after SHUTDOWN: %s", state);
	free(state);
	post_ok(d, "/v1/platform/init");
	state = str_field(d, "/v1/platform", "state");
	TU_CHECK(!strcmp(state, "INIT"), "state after INIT: %s", state);
	post_ok(d, "/v1/platform/pek");
	TU_CHECK_EQ(guest_count(d), n0);
	repeated(d, "/v1/platform", "PLATFORM_STATUS", 20);
	/* A command that firmware refused invalidates as well. */
	{
		/* Well-formed sizes, garbage content: firmware itself refuses it. */
		_cleanup_free_ uint8_t *zero = calloc(1, 2084);
		_cleanup_free_ char *b64 = zero ? base64_encode(zero, 2084) : NULL, *body = NULL;
		uint64_t c0;

		TU_CHECK(b64 && asprintf(&body, "{\"pek_cert\": \"%s\", \"oca_cert\": \"%s\"}", b64,
					 b64) > 0, "body");
		c0 = fw_commands();
		TU_CHECK(req(d, "POST", "/v1/platform/pek-cert", body, &r) >= 400,
			 "garbage PEK_CERT_IMPORT accepted: %ld %s", r.status, r.body);
		gc_resp_free(&r);
		TU_CHECK(fw_commands() > c0, "the refused import reached firmware");
	}
	next_get_asks_firmware(d, "a refused PEK_CERT_IMPORT");
}

static void test_guest(struct gc_daemon *d)
{
	_cleanup_free_ char *state = NULL;
	struct gc_resp r;
	char path[64], mpath[96], fpath[96];
	uint32_t h = launch(d, "cache-b");

	snprintf(path, sizeof(path), "/v1/guests/%u", h);
	snprintf(mpath, sizeof(mpath), "%s/measurement", path);
	snprintf(fpath, sizeof(fpath), "%s/finish", path);
	state = str_field(d, path, "state");
	TU_CHECK(!strcmp(state, "LUPDATE"), "state after launch: %s", state);
	free(state);
	repeated(d, path, "GUEST_STATUS", 40);
	get(d, mpath, &r); /* LAUNCH_MEASURE: LUPDATE -> LSECRET */
	gc_resp_free(&r);
	state = str_field(d, path, "state");
	TU_CHECK(!strcmp(state, "LSECRET"), "state after measure: %s", state);
	free(state);
	repeated(d, path, "GUEST_STATUS", 20);
	post_ok(d, fpath);
	state = str_field(d, path, "state");
	TU_CHECK(!strcmp(state, "RUNNING"), "state after finish: %s", state);
	/* Two guests: each its own entry. */
	{
		uint32_t h2 = launch(d, "cache-c");
		_cleanup_free_ char *s2 = NULL;
		char p2[64];

		snprintf(p2, sizeof(p2), "/v1/guests/%u", h2);
		s2 = str_field(d, p2, "state");
		TU_CHECK(!strcmp(s2, "LUPDATE"), "second guest: %s", s2);
		free(state);
		state = str_field(d, path, "state");
		TU_CHECK(!strcmp(state, "RUNNING"), "first guest after the second's launch: %s",
			 state);
	}
	TU_CHECK_EQ(req(d, "DELETE", path, NULL, &r), 200);
	gc_resp_free(&r);
	TU_CHECK_EQ(req(d, "GET", path, NULL, &r), 404); /* deleted: not from a cache */
	gc_resp_free(&r);
}

/* SHUTDOWN sent to the emulator behind sevd's back: shown within the age bound. */
static void test_outside_change(struct gc_daemon *d)
{
	int psp_ret = 0;
	bool seen = false;

	TU_CHECK_EQ(psp_cmd_shutdown(emu, &psp_ret), 0);
	for (int i = 0; i < 50 && !seen; i++) {
		_cleanup_free_ char *state = str_field(d, "/v1/platform", "state");

		seen = !strcmp(state, "UNINIT");
		if (!seen)
			nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000000L }, NULL);
	}
	TU_CHECK(seen, "a SHUTDOWN by another client did not show within 5 s");
}

int main(void)
{
	_cleanup_free_ char *dir = tu_mkdtemp(), *spec = NULL;
	struct gc_daemon d = { 0 };
	struct tu_emu e;

	signal(SIGPIPE, SIG_IGN);
	TU_CHECK(tu_emu_start(dir, NULL, &e) == 0, "emulator");
	TU_CHECK(asprintf(&spec, "emu:%s", e.socket) > 0, "asprintf");
	TU_CHECK_EQ(psp_open(spec, &emu), 0);
	d.dir = dir;
	d.emu_sock = e.socket;
	TU_CHECK(gc_start(&d, true), "sevd start (log %s)", d.log);
	test_platform(&d);
	test_guest(&d);
	test_outside_change(&d);
	gc_stop(&d, false);
	psp_close(emu);
	tu_emu_stop(&e);
	free(d.sock);
	free(d.log);
	tu_rmtree(dir);
	tu_done("daemon-cache");
}
