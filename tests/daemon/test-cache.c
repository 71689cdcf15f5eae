/* sevd's reply cache (daemon/core/core.c "Reply caches", daemon/ipc/cache-region.h) against
 * the real sevd with its unprivileged worker on the real sev-psp-emu, counting what reaches
 * firmware with the emulator's own command counter (CTL "status": commands=N, every firmware
 * command it was handed) and what reaches the core with sevd_core_requests_total{op}:
 *   1. repeated GET /v1/platform and GET /v1/guests/{h} reach neither firmware nor the core:
 *      the worker answers them from the core's read-only region
 *      (sevd_worker_cache_hits_total); exactly 0 of each while less than the age bound has
 *      passed since the entry was taken, else at most one refresh per started second, each
 *      one core call and one firmware command;
 *   2. a mutating call through sevd is visible in the very next GET: a launch raises
 *      guest_count, a delete lowers it, SHUTDOWN/INIT change the state, PEK_GEN keeps it
 *      consistent; GET measurement and finish move the guest's state, seen at once;
 *   3. a failed command (PEK_CERT_IMPORT of garbage, refused by firmware) invalidates too: the
 *      next GET reaches firmware;
 *   4. a change sevd cannot see (SHUTDOWN sent to the emulator by another client) shows
 *      within the age bound (bounded wait);
 *   5. a PSP marked unhealthy (a PDH_GEN hanging past command_timeout_ms) makes the very
 *      next GETs refused (503 psp_unavailable), not served from the cache, until sevd has
 *      reconnected.
 * Every "next GET" after a change is checked to be one core call and one firmware command.
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

#define SEVD_CACHE_MAX_S 1.0 /* the age bound, daemon/ipc/cache-region.h SEVD_CACHE_MAX_MS */
/* For 5: PDH_GEN hangs longer than sevd waits for a command. */
#define COMMAND_TIMEOUT_MS "2000"
#define PDH_HANG_S "4"

static struct psp_transport *emu; /* the test's own connection to the emulator */

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
	TU_CHECK(gc_json(d, "GET", path, NULL, out) == 200 && out->json, "GET %s: %ld %s", path,
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

/* Where a GET /v1/platform or /v1/guests/{h} was answered: by the worker from the region,
 * by the core (a core call: from the core's own cache or from firmware), by firmware. */
struct counts {
	uint64_t worker, core_calls, core_hits, fw;
};

static const char *op_of(const char *command)
{
	return !strcmp(command, "PLATFORM_STATUS") ? "PLATFORM_STATUS" : "GUEST_INFO";
}

static void counts(struct gc_daemon *d, const char *command, struct counts *c)
{
	char s[128];

	snprintf(s, sizeof(s), "sevd_worker_cache_hits_total{command=\"%s\"}", command);
	c->worker = gc_metric_value(d, s);
	snprintf(s, sizeof(s), "sevd_core_requests_total{op=\"%s\"}", op_of(command));
	c->core_calls = gc_metric_value(d, s);
	snprintf(s, sizeof(s), "sevd_cache_hits_total{command=\"%s\"}", command);
	c->core_hits = gc_metric_value(d, s);
	c->fw = fw_commands();
}

/* n identical GETs: the same body each time, answered by the worker. The entry is taken anew
 * first (GET /v1/platform/id is a job: every entry is stale after it), so while less than the
 * age bound has passed since, not one GET may reach the core or firmware; on a slower run at
 * most one refresh per started second, each exactly one core call and one firmware command. */
static void repeated(struct gc_daemon *d, const char *path, const char *command, unsigned n)
{
	struct gc_resp first, r;
	struct counts a, b;
	uint64_t allowed, fw, calls, worker;
	double t0, secs;

	get(d, "/v1/platform/id", &r); /* a GET_ID job: the entries are stale now */
	gc_resp_free(&r);
	counts(d, command, &a);
	t0 = now_s();
	get(d, path, &first); /* takes the entry: one core call, one firmware command */
	counts(d, command, &b);
	TU_CHECK(b.core_calls - a.core_calls == 1 && b.fw - a.fw == 1 && b.worker == a.worker,
		 "GET %s after a job: %llu core calls, %llu firmware commands, %llu worker hits "
		 "(1, 1, 0 expected)", path, (unsigned long long)(b.core_calls - a.core_calls),
		 (unsigned long long)(b.fw - a.fw), (unsigned long long)(b.worker - a.worker));
	for (unsigned i = 0; i < n; i++) {
		get(d, path, &r);
		TU_CHECK(r.body && first.body && !strcmp(r.body, first.body),
			 "GET %s changed with nothing done: %s / %s", path, first.body, r.body);
		gc_resp_free(&r);
	}
	secs = now_s() - t0;
	counts(d, command, &a);
	fw = a.fw - b.fw;
	calls = a.core_calls - b.core_calls;
	worker = a.worker - b.worker;
	allowed = secs < SEVD_CACHE_MAX_S ? 0 : (uint64_t)(secs / SEVD_CACHE_MAX_S) + 1;
	printf("%u x GET %s: %llu firmware commands, %llu core calls, %llu worker hits, %.2f s\n",
	       n, path, (unsigned long long)fw, (unsigned long long)calls,
	       (unsigned long long)worker, secs);
	TU_CHECK(fw <= allowed && calls <= allowed,
		 "%u x GET %s in %.2f s: %llu firmware commands, %llu core calls (at most %llu)", n,
		 path, secs, (unsigned long long)fw, (unsigned long long)calls,
		 (unsigned long long)allowed);
	/* Each core call was a refresh (no answer from the core's cache behind the worker's
	 * back), and every GET was answered by one or the other. */
	TU_CHECK_EQ(calls, fw);
	TU_CHECK_EQ(a.core_hits, b.core_hits);
	TU_CHECK_EQ(worker + calls, (uint64_t)n);
	gc_resp_free(&first);
}

/* The next GET of path after a change: exactly one core call and one firmware command, no
 * answer from the worker's region. */
static void next_get_asks_firmware(struct gc_daemon *d, const char *path, const char *command,
				   const char *after)
{
	struct gc_resp r;
	struct counts a, b;

	counts(d, command, &a);
	TU_CHECK(gc_json(d, "GET", path, NULL, &r) < 500, "GET %s: %ld", path, r.status);
	gc_resp_free(&r);
	counts(d, command, &b);
	TU_CHECK(b.fw - a.fw == 1 && b.core_calls - a.core_calls == 1 && b.worker == a.worker,
		 "after %s, GET %s: %llu firmware commands, %llu core calls, %llu worker hits "
		 "(1, 1, 0 expected)", after, path, (unsigned long long)(b.fw - a.fw),
		 (unsigned long long)(b.core_calls - a.core_calls),
		 (unsigned long long)(b.worker - a.worker));
	printf("after %s: the next GET %s asked the core and firmware\n", after, path);
}

static void post_ok(struct gc_daemon *d, const char *path)
{
	struct gc_resp r;

	TU_CHECK(gc_json(d, "POST", path, NULL, &r) == 200, "POST %s: %ld %s", path, r.status,
		 r.body);
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
	h = gc_launch(d, "cache-a");
	next_get_asks_firmware(d, "/v1/platform", "PLATFORM_STATUS", "a launch");
	TU_CHECK_EQ(guest_count(d), n0 + 1); /* the entry the next GET took: after the launch */
	snprintf(path, sizeof(path), "/v1/guests/%u", h);
	TU_CHECK_EQ(gc_json(d, "DELETE", path, NULL, &r), 200);
	gc_resp_free(&r);
	next_get_asks_firmware(d, "/v1/platform", "PLATFORM_STATUS", "DELETE");
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
		TU_CHECK(gc_json(d, "POST", "/v1/platform/pek-cert", body, &r) >= 400,
			 "garbage PEK_CERT_IMPORT accepted: %ld %s", r.status, r.body);
		gc_resp_free(&r);
		TU_CHECK(fw_commands() > c0, "the refused import reached firmware");
	}
	next_get_asks_firmware(d, "/v1/platform", "PLATFORM_STATUS", "a refused PEK_CERT_IMPORT");
}

static void test_guest(struct gc_daemon *d)
{
	_cleanup_free_ char *state = NULL;
	struct gc_resp r;
	char path[64], mpath[96], fpath[96];
	uint32_t h = gc_launch(d, "cache-b");

	snprintf(path, sizeof(path), "/v1/guests/%u", h);
	snprintf(mpath, sizeof(mpath), "%s/measurement", path);
	snprintf(fpath, sizeof(fpath), "%s/finish", path);
	state = str_field(d, path, "state");
	TU_CHECK(!strcmp(state, "LUPDATE"), "state after launch: %s", state);
	free(state);
	repeated(d, path, "GUEST_STATUS", 40);
	get(d, mpath, &r); /* LAUNCH_MEASURE: LUPDATE -> LSECRET */
	gc_resp_free(&r);
	next_get_asks_firmware(d, path, "GUEST_STATUS", "a measure");
	state = str_field(d, path, "state");
	TU_CHECK(!strcmp(state, "LSECRET"), "state after measure: %s", state);
	free(state);
	repeated(d, path, "GUEST_STATUS", 20);
	post_ok(d, fpath);
	next_get_asks_firmware(d, path, "GUEST_STATUS", "a finish");
	state = str_field(d, path, "state");
	TU_CHECK(!strcmp(state, "RUNNING"), "state after finish: %s", state);
	/* Two guests: each its own entry. */
	{
		uint32_t h2 = gc_launch(d, "cache-c");
		_cleanup_free_ char *s2 = NULL;
		char p2[64];

		snprintf(p2, sizeof(p2), "/v1/guests/%u", h2);
		s2 = str_field(d, p2, "state");
		TU_CHECK(!strcmp(s2, "LUPDATE"), "second guest: %s", s2);
		free(state);
		next_get_asks_firmware(d, path, "GUEST_STATUS", "another guest's launch");
		state = str_field(d, path, "state");
		TU_CHECK(!strcmp(state, "RUNNING"), "first guest after the second's launch: %s",
			 state);
	}
	TU_CHECK_EQ(gc_json(d, "DELETE", path, NULL, &r), 200);
	gc_resp_free(&r);
	{
		struct counts a, b;

		counts(d, "GUEST_STATUS", &a);
		TU_CHECK_EQ(gc_json(d, "GET", path, NULL, &r), 404); /* deleted: not from a cache */
		gc_resp_free(&r);
		counts(d, "GUEST_STATUS", &b);
		TU_CHECK(b.worker == a.worker && b.core_calls == a.core_calls + 1,
			 "GET of a deleted guest: %llu worker hits, %llu core calls",
			 (unsigned long long)(b.worker - a.worker),
			 (unsigned long long)(b.core_calls - a.core_calls));
	}
}

/* A GET answered 503 psp_unavailable naming the unhealthy PSP. */
static void refused(struct gc_daemon *d, const char *path)
{
	struct gc_resp r;

	TU_CHECK(gc_json(d, "GET", path, NULL, &r) == 503 &&
		     strstr(r.body ? r.body : "", "unhealthy"),
		 "GET %s with the PSP unhealthy: %ld %s", path, r.status, r.body ? r.body : "");
	gc_resp_free(&r);
}

/* 5: entries warm in the worker, then a PDH_GEN that hangs past command_timeout_ms marks the
 * PSP unhealthy: the next GETs are refused by the core, not served from the region; once the
 * hang is over and sevd has reconnected they are answered again (bounded wait). */
static void test_unhealthy(struct gc_daemon *d)
{
	_cleanup_free_ uint8_t *reply = NULL;
	struct gc_resp r;
	uint32_t h;
	char path[64];
	size_t len = 0;
	bool back = false;

	post_ok(d, "/v1/platform/init"); /* 4 left it UNINIT */
	h = gc_launch(d, "cache-d");
	snprintf(path, sizeof(path), "/v1/guests/%u", h);
	repeated(d, "/v1/platform", "PLATFORM_STATUS", 5);
	repeated(d, path, "GUEST_STATUS", 5);
	TU_CHECK_EQ(psp_emu_ctl(emu, "fault PDH_GEN:hang=" PDH_HANG_S, &reply, &len), 0);
	TU_CHECK_EQ(gc_json(d, "POST", "/v1/platform/pdh", NULL, &r), 503);
	gc_resp_free(&r);
	refused(d, "/v1/platform");
	refused(d, path);
	printf("PSP unhealthy: GET /v1/platform and GET %s refused, not served\n", path);
	for (int i = 0; i < 150 && !back; i++) {
		back = gc_json(d, "GET", "/v1/platform", NULL, &r) == 200;
		gc_resp_free(&r);
		if (!back)
			nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000000L }, NULL);
	}
	TU_CHECK(back, "sevd did not recover within 15 s after the hang");
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
	_cleanup_free_ char *dir = tu_mkdtemp(), *spec = NULL, *cfg = NULL;
	static const char conf[] = "command_timeout_ms = " COMMAND_TIMEOUT_MS "\n";
	struct gc_daemon d = { 0 };
	struct tu_emu e;

	signal(SIGPIPE, SIG_IGN);
	TU_CHECK(tu_emu_start(dir, NULL, &e) == 0, "emulator");
	TU_CHECK(asprintf(&spec, "emu:%s", e.socket) > 0, "asprintf");
	TU_CHECK_EQ(psp_open(spec, &emu), 0);
	d.dir = dir;
	d.emu_sock = e.socket;
	cfg = path_join(dir, "sevd.conf");
	TU_CHECK(cfg && write_file_atomic(cfg, conf, strlen(conf), 0600) >= 0, "config");
	d.config = cfg;
	TU_CHECK(gc_start(&d, true), "sevd start (log %s)", d.log);
	test_platform(&d);
	test_guest(&d);
	test_outside_change(&d);
	test_unhealthy(&d);
	gc_stop(&d, false);
	psp_close(emu);
	tu_emu_stop(&e);
	free(d.sock);
	free(d.log);
	tu_rmtree(dir);
	tu_done("daemon-cache");
}
