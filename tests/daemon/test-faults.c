/* sevd's reaction to PSP faults, with the real sevd on the real sev-psp-emu and its
 * fault plans (psp/emu/README.md "Fault plans"):
 *   1. fail=HWERROR_PLATFORM on PDH_GEN: the REST error names the status (error.fw_status),
 *      so does sevadm's message; the ASID pool does not change.
 *   2. hang on PEK_GEN past command_timeout_ms: 503 psp_unavailable; /healthz 503
 *      psp_unhealthy with the reason, sevd_psp_healthy 0, `sevadm ok` fails its PSP line,
 *      new firmware requests are refused at once (503 psp_unavailable naming the reason);
 *      once the stall ends sevd reconnects and is healthy again; the guest launched before
 *      survives with its ASID.
 *   3. drop-socket: same recovery, the guest and the pool unchanged.
 *   4. garbage-len: a protocol error, the transport reopened, healthy again.
 *   5. die with emu:SOCKET: the test restarts the emulator on the same NV file; sevd
 *      reconnects, finds the platform reset, re-INITs it and drops the lost guest from the
 *      journal (logged); pool and journal agree, also after a restart of sevd.
 *   6. die with the embedded emulator (--psp emu; the rule given over CTL): sevd restarts its
 *      emulator itself and recovers the same way.
 * Timeouts are small (command_timeout_ms = 2000: INIT under ASan takes longer than 300 ms)
 * and every wait is bounded. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/psp-emu.h"
#include "psp/transport.h"
#include "tests/daemon/guest-client.h"
#include "tests/testutil.h"

static char *cfg_path;

static void sleep_ms(unsigned ms)
{
	nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L },
		  NULL);
}

static const char *err_msg(const struct gc_resp *r)
{
	json_object *e, *m;

	if (r->json && json_object_object_get_ex(r->json, "error", &e) &&
	    json_object_object_get_ex(e, "message", &m))
		return json_object_get_string(m);
	return "";
}

/* The pool as JSON text (used, free, pending, holders), to compare before/after. */
static char *asids_text(struct gc_daemon *d)
{
	struct gc_resp r;
	char *s;

	TU_CHECK_EQ(gc_json(d, "GET", "/v1/asids", NULL, &r), 200);
	s = strdup(r.body ? r.body : "");
	gc_resp_free(&r);
	return s;
}

static bool healthy(struct gc_daemon *d)
{
	struct gc_resp r;
	bool ok = gc_json(d, "GET", "/healthz", NULL, &r) == 200;

	gc_resp_free(&r);
	return ok;
}

/* Bounded wait for recovery (the recovery thread retries every <= 2 s). */
static bool wait_healthy(struct gc_daemon *d, unsigned ms)
{
	for (unsigned t = 0; t < ms; t += 100) {
		if (healthy(d))
			return true;
		sleep_ms(100);
	}
	return false;
}

static bool metrics_has(struct gc_daemon *d, const char *line)
{
	struct gc_resp r;
	bool has;

	TU_CHECK_EQ(gc_json(d, "GET", "/metrics", NULL, &r), 200);
	has = r.body && strstr(r.body, line);
	gc_resp_free(&r);
	return has;
}

/* sevadm's combined stdout and stderr, and its exit status. */
static int sevadm(struct gc_daemon *d, const char *verb, char **out)
{
	_cleanup_free_ char *cmd = NULL;
	size_t len;

	TU_CHECK(asprintf(&cmd, "exec '%s' --daemon 'unix:%s' %s 2>&1", tu_exe("SEVADM_EXE"),
			  d->sock, verb) > 0,
		 "asprintf");
	return tu_run((char *const[]){ (char *)"/bin/sh", (char *)"-c", cmd, NULL }, out, &len);
}

static bool log_has(struct gc_daemon *d, const char *what)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;

	buf = tu_read_file(d->log, &len);
	return buf && memmem(buf, len, what, strlen(what));
}

/* The PSP is marked unhealthy after a failed firmware request: every face of it. */
static void check_unhealthy(struct gc_daemon *d, const char *cmd)
{
	_cleanup_free_ char *out = NULL;
	struct gc_resp r;

	TU_CHECK_EQ(gc_json(d, "GET", "/healthz", NULL, &r), 503);
	TU_CHECK(r.json && !strcmp(gc_str(r.json, "status"), "psp_unhealthy"), "healthz: %s",
		 r.body);
	TU_CHECK(r.json && strstr(gc_str(r.json, "reason"), cmd), "reason names %s: %s", cmd,
		 r.body);
	gc_resp_free(&r);
	TU_CHECK(metrics_has(d, "\nsevd_psp_healthy 0\n"), "sevd_psp_healthy 0");
	/* Refused at once, not queued: the answer names the state. */
	TU_CHECK_EQ(gc_json(d, "GET", "/v1/platform", NULL, &r), 503);
	TU_CHECK(!strcmp(gc_err_code(&r), "psp_unavailable"), "code %s", gc_err_code(&r));
	TU_CHECK(strstr(err_msg(&r), "unhealthy"), "message: %s", r.body);
	gc_resp_free(&r);
	/* Reads that need no firmware still work. */
	free(asids_text(d));
	TU_CHECK_EQ(sevadm(d, "ok", &out), 1);
	TU_CHECK(out && strstr(out, "[ PASS ] daemon reachable") &&
		     strstr(out, "[ FAIL ] PSP health") && strstr(out, "unhealthy"),
		 "sevadm ok: %s", out);
}

static void check_recovered(struct gc_daemon *d, unsigned recoveries)
{
	char line[64];
	struct gc_resp r;

	TU_CHECK(wait_healthy(d, 15000), "sevd did not become healthy again (log %s)", d->log);
	TU_CHECK(metrics_has(d, "\nsevd_psp_healthy 1\n"), "sevd_psp_healthy 1");
	snprintf(line, sizeof(line), "\nsevd_psp_recoveries_total %u\n", recoveries);
	TU_CHECK(metrics_has(d, line), "metrics: %s", line);
	TU_CHECK_EQ(gc_json(d, "GET", "/v1/platform", NULL, &r), 200);
	gc_resp_free(&r);
}

static void write_config(const char *dir)
{
	cfg_path = path_join(dir, "sevd.conf");
	TU_CHECK(cfg_path && write_file_atomic(cfg_path, "command_timeout_ms = 2000\n", 26, 0600) >= 0,
		 "config");
}

/* 1-4 on one emulator: the rules count PEK_GEN calls (hang, drop-socket, garbage-len). */
static void test_status_hang_drop_garbage(void)
{
	_cleanup_free_ char *dir = tu_mkdtemp(), *before = NULL, *after = NULL, *out = NULL;
	static const char *const plan[] = {
		"--fault", "PDH_GEN:fail=HWERROR_PLATFORM:count=2", "--fault", "PEK_GEN:hang=6:nth=1",
		"--fault", "PEK_GEN:drop-socket:nth=2",	    "--fault", "PEK_GEN:garbage-len:nth=3",
		NULL
	};
	struct gc_daemon d = { 0 };
	struct tu_emu e;
	struct gc_resp r;
	char path[64];
	uint32_t h;

	TU_CHECK(tu_emu_start(dir, plan, &e) == 0, "emulator");
	write_config(dir);
	d.dir = dir;
	d.emu_sock = e.socket;
	d.config = cfg_path;
	TU_CHECK(gc_start(&d, true), "sevd start (log %s)", d.log);
	h = gc_launch(&d, "survivor");
	snprintf(path, sizeof(path), "/v1/guests/%u", h);
	before = asids_text(&d);

	/* 1: a firmware status by name; nothing in the pool changes; still healthy. */
	TU_CHECK_EQ(gc_json(&d, "POST", "/v1/platform/pdh", NULL, &r), 502);
	TU_CHECK(!strcmp(gc_err_fw(&r), "HWERROR_PLATFORM"), "fw_status: %s", r.body);
	TU_CHECK(strstr(err_msg(&r), "PDH_GEN") && strstr(err_msg(&r), "HWERROR_PLATFORM"),
		 "message: %s", r.body);
	gc_resp_free(&r);
	after = asids_text(&d);
	TU_CHECK(!strcmp(before, after), "pool changed: %s -> %s", before, after);
	TU_CHECK(healthy(&d), "healthy after a firmware status");
	TU_CHECK_EQ(sevadm(&d, "rotate", &out), 1);
	TU_CHECK(out && strstr(out, "HWERROR_PLATFORM"), "sevadm rotate: %s", out);

	/* 2: a hang hits the command timeout. A request that arrives while the command hangs
	 * (a child, 200 ms later) waits behind it, then is refused as unhealthy too. */
	{
		pid_t kid = fork();
		int st = -1;

		TU_CHECK(kid >= 0, "fork");
		if (kid == 0) {
			sleep_ms(200);
			gc_request(&d, "GET", "/v1/platform/id", NULL, 0, NULL, &r);
			_exit(r.status == 503 && !strcmp(gc_err_code(&r), "psp_unavailable") &&
					  strstr(err_msg(&r), "unhealthy")
				      ? 0
				      : 1);
		}
		TU_CHECK_EQ(gc_json(&d, "POST", "/v1/platform/pek", NULL, &r), 503);
		TU_CHECK(!strcmp(gc_err_code(&r), "psp_unavailable"), "code %s: %s",
			 gc_err_code(&r), r.body);
		gc_resp_free(&r);
		TU_CHECK(waitpid(kid, &st, 0) == kid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
			 "the request queued behind the hang was not refused as unhealthy (0x%x)",
			 st);
	}
	check_unhealthy(&d, "PEK_GEN");
	check_recovered(&d, 1);
	TU_CHECK_EQ(gc_json(&d, "GET", path, NULL, &r), 200);
	gc_resp_free(&r);
	free(after);
	after = asids_text(&d);
	TU_CHECK(!strcmp(before, after), "pool changed by the hang: %s -> %s", before, after);

	/* 3: the emulator drops the connection: reconnected, guest and pool unchanged. */
	TU_CHECK_EQ(gc_json(&d, "POST", "/v1/platform/pek", NULL, &r), 503);
	TU_CHECK(!strcmp(gc_err_code(&r), "psp_unavailable"), "drop: %s", r.body);
	gc_resp_free(&r);
	check_recovered(&d, 2);
	TU_CHECK_EQ(gc_json(&d, "GET", path, NULL, &r), 200);
	gc_resp_free(&r);
	free(after);
	after = asids_text(&d);
	TU_CHECK(!strcmp(before, after), "pool changed by the drop: %s -> %s", before, after);

	/* 4: a malformed reply: a protocol error, the transport reopened. */
	TU_CHECK_EQ(gc_json(&d, "POST", "/v1/platform/pek", NULL, &r), 503);
	TU_CHECK(strstr(err_msg(&r), "PEK_GEN"), "garbage: %s", r.body);
	TU_CHECK(strstr(err_msg(&r), "malformed"), "garbage: %s", r.body);
	gc_resp_free(&r);
	check_recovered(&d, 3);
	TU_CHECK(log_has(&d, "PEK_GEN: malformed reply (protocol error)"), "log names it");
	TU_CHECK_EQ(gc_json(&d, "GET", "/v1/platform/id", NULL, &r), 200); /* GET_ID, firmware */
	gc_resp_free(&r);
	TU_CHECK_EQ(gc_json(&d, "GET", path, NULL, &r), 200);
	gc_resp_free(&r);

	gc_stop(&d, false);
	tu_emu_stop(&e);
	free(d.sock);
	free(d.log);
	free(cfg_path);
	tu_rmtree(dir);
}

static int64_t used_asids(struct gc_daemon *d)
{
	struct gc_resp r;
	int64_t used = -1;

	if (gc_json(d, "GET", "/v1/asids", NULL, &r) == 200)
		used = gc_int(r.json, "used");
	gc_resp_free(&r);
	return used;
}

static int64_t n_guests(struct gc_daemon *d)
{
	struct gc_resp r;
	json_object *a;
	int64_t n = -1;

	if (gc_json(d, "GET", "/v1/guests", NULL, &r) == 200 && r.json &&
	    json_object_object_get_ex(r.json, "guests", &a))
		n = (int64_t)json_object_array_length(a);
	gc_resp_free(&r);
	return n;
}

/* After a PSP reset: the lost guests are gone from sevd, the pool holds nothing, the journal
 * agrees (a restarted sevd finds the same), and a new launch works. */
static void check_after_reset(struct gc_daemon *d)
{
	struct gc_resp r;

	TU_CHECK_EQ(n_guests(d), 0);
	TU_CHECK_EQ(used_asids(d), 0);
	/* No ASID lost: every one is free again (a reset leaves none dirty). */
	TU_CHECK_EQ(gc_json(d, "GET", "/v1/asids", NULL, &r), 200);
	TU_CHECK(r.json && gc_int(r.json, "free") == gc_int(r.json, "max"), "pool: %s", r.body);
	gc_resp_free(&r);
	TU_CHECK(log_has(d, "PSP reset: guest"), "the dropped guest is logged (%s)", d->log);
	TU_CHECK_EQ(gc_json(d, "GET", "/v1/platform", NULL, &r), 200);
	TU_CHECK(r.json && !strcmp(gc_str(r.json, "state"), "INIT"), "re-INIT: %s", r.body);
	gc_resp_free(&r);
	gc_stop(d, false);
	TU_CHECK(gc_start(d, true), "sevd restart (log %s)", d->log);
	TU_CHECK_EQ(n_guests(d), 0);
	TU_CHECK_EQ(used_asids(d), 0);
	TU_CHECK(gc_launch(d, "after") > 0, "launch after the reset");
	TU_CHECK_EQ(used_asids(d), 1);
}

/* 5: the external emulator dies; the test restarts it on the same NV file. */
static void test_die_external(void)
{
	_cleanup_free_ char *dir = tu_mkdtemp();
	static const char *const plan[] = { "--fault", "PEK_GEN:die", NULL };
	struct gc_daemon d = { 0 };
	struct tu_emu e;
	struct gc_resp r;

	TU_CHECK(tu_emu_start(dir, plan, &e) == 0, "emulator");
	write_config(dir);
	d.dir = dir;
	d.emu_sock = e.socket;
	d.config = cfg_path;
	TU_CHECK(gc_start(&d, true), "sevd start (log %s)", d.log);
	TU_CHECK(gc_launch(&d, "lost") > 0, "launch");
	TU_CHECK_EQ(used_asids(&d), 1);
	TU_CHECK_EQ(gc_json(&d, "POST", "/v1/platform/pek", NULL, &r), 503);
	gc_resp_free(&r);
	check_unhealthy(&d, "PEK_GEN");
	tu_stop(e.pid, 2000); /* reaps the dead emulator */
	free(e.log);
	free(e.nv);
	TU_CHECK(tu_emu_start(dir, NULL, &e) == 0, "emulator restart");
	TU_CHECK(wait_healthy(&d, 15000), "sevd did not reconnect (log %s)", d.log);
	check_after_reset(&d);
	gc_stop(&d, false);
	tu_emu_stop(&e);
	free(d.sock);
	free(d.log);
	free(cfg_path);
	tu_rmtree(dir);
}

/* 6: the embedded emulator dies; sevd restarts it. */
static void test_die_embedded(void)
{
	_cleanup_free_ char *dir = tu_mkdtemp(), *esock = NULL;
	struct psp_transport *t = NULL;
	struct gc_daemon d = { 0 };
	struct gc_resp r;
	uint8_t *reply = NULL;
	size_t len = 0;

	write_config(dir);
	esock = path_join(dir, "emu.sock");
	d.dir = dir;
	d.emu_sock = esock; /* overridden below */
	d.config = cfg_path;
	d.extra_arg = "--psp=emu";
	TU_CHECK(gc_start(&d, true), "sevd start (log %s)", d.log);
	TU_CHECK(gc_launch(&d, "lost") > 0, "launch");
	{
		_cleanup_free_ char *spec = NULL;

		TU_CHECK(asprintf(&spec, "emu:%s", esock) > 0, "asprintf");
		TU_CHECK_EQ(psp_open(spec, &t), 0);
		TU_CHECK_EQ(psp_emu_ctl(t, "fault PEK_GEN:die", &reply, &len), 0);
		free(reply);
		psp_close(t);
	}
	TU_CHECK_EQ(gc_json(&d, "POST", "/v1/platform/pek", NULL, &r), 503);
	gc_resp_free(&r);
	TU_CHECK(wait_healthy(&d, 20000), "sevd did not restart its emulator (log %s)", d.log);
	TU_CHECK(log_has(&d, "restarting it on the same NV file"), "restart logged");
	check_after_reset(&d);
	gc_stop(&d, false);
	free(d.sock);
	free(d.log);
	free(cfg_path);
	tu_rmtree(dir);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_status_hang_drop_garbage();
	test_die_external();
	test_die_embedded();
	tu_done("daemon-faults");
}
