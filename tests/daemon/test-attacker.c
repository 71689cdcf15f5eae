/* What an attacker found, each finding replayed against the real emulator and sevd
 * over sevd's Unix socket, with the invariants of reliability-util.h (sevd's guest list and
 * journal = firmware's GUEST_STATUS, the ASID pool = the guests' ASIDs) checked against
 * firmware after every platform op:
 *   - reset: X in LUPDATE, Y RUNNING; SHUTDOWN and FACTORY_RESET refused (409 guests_exist)
 *     while they exist; ?force=1 drops both, journalled; INIT, a new guest Z, DELETE Z: table,
 *     pool and firmware agree at every step and after a restart;
 *   - delete409: a DELETE answered 409 during an upload, then SIGKILL of the worker: the core
 *     still ends that upload, so the guest can be measured and deleted again;
 *   - unseparated: sevd as a uid without CAP_SETUID refuses to start (its worker would keep
 *     the core's uid) unless allow_unseparated_worker = yes, and sevadm ok reports that
 *     worker as a FAIL line (a root sevd's as a PASS line);
 *   - memquota: policy.default_memory_quota and tenant.NAME.memory_quota: a launch whose
 *     memory_size would pass the tenant's quota is refused (403 policy_refused, rule
 *     memory_quota), a deactivated guest still counts, a DELETE makes room, and a restart
 *     counts the same;
 *   - replay: a LAUNCH_SECRET packet injected once is refused the second time (409
 *     secret_replayed, nothing reaches firmware) while the owner's fresh packets go in; a
 *     packet firmware refused (tampered payload) does not block the genuine one with its
 *     header; after a SIGKILL and restart (and a journal compaction) the guest is still in
 *     LSECRET, the old packets are still refused, a fresh one goes in, and it finishes and
 *     activates;
 *   - lupdate: a guest in LUPDATE (data uploaded, not measured) survives a SIGKILL of sevd
 *     with its ASID; more data is refused with the reason, the owner measures it as it is
 *     (the measurement recomputed from the image and the owner's TIK), finishes, activates.
 * Usage: test-daemon-attacker [reset|delete409|...] (default: all). */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <openssl/evp.h>

#include "attest/measurement.h"
#include "attest/secret.h"
#include "attest/sev-cert.h"
#include "attest/session.h"
#include "common/macros.h"
#include "common/util.h"
#include "tests/daemon/reliability-util.h"
#include "tests/testutil.h"

#define MIB (1024u * 1024u)

static struct tu_emu E;
static struct ru_sevd D;
static char *dir;

static void at_exit(void)
{
	ru_sevd_stop(&D, false);
	tu_emu_stop(&E);
	if (dir)
		tu_rmtree(dir);
	free(D.sock);
	free(D.log);
	free((char *)D.config);
	free(dir);
}

/* A fresh emulator and sevd in a fresh directory, with `conf` as sevd.conf. */
static void start(const char *conf)
{
	_cleanup_free_ char *path = NULL;

	ru_sevd_stop(&D, false);
	tu_emu_stop(&E);
	if (dir)
		tu_rmtree(dir);
	free(dir);
	dir = tu_mkdtemp();
	TU_CHECK(tu_emu_start(dir, NULL, &E) == 0, "emulator");
	path = path_join(dir, "sevd.conf");
	TU_CHECK(write_file_atomic(path, conf, strlen(conf), 0600) == 0, "config");
	free(D.sock);
	free(D.log);
	free((char *)D.config);
	D = (struct ru_sevd){.state_dir = dir, .run_dir = dir, .emu_sock = E.socket};
	D.config = strdup(path);
	TU_CHECK(ru_sevd_start(&D, true), "sevd does not start (log %s)", D.log);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* An upload with Content-Length `total` of which `sent` bytes are written, then silence.
 * Returns the connection. */
static int begin_upload(uint32_t h, size_t total, size_t sent)
{
	_cleanup_free_ uint8_t *img = calloc(1, sent);
	char head[256];
	int fd = tu_unix_connect(D.sock), n;

	TU_CHECK(img, "out of memory");
	n = snprintf(head, sizeof(head),
		     "POST /v1/guests/%u/data HTTP/1.1\r\nHost: x\r\n"
		     "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n\r\n",
		     h, total);
	TU_CHECK(loop_write(fd, head, (size_t)n) == 0 && loop_write(fd, img, sent) == 0, "write");
	return fd;
}

/* Status of one request, without checking it. */
static long status_of(const char *method, const char *path)
{
	struct gc_resp r;
	long st;

	TU_CHECK(ru_request(D.sock, method, path, NULL, 0, NULL, 60, &r) == 0,
		 "%s %s: no answer (log %s)", method, path, D.log);
	st = r.status;
	gc_resp_free(&r);
	return st;
}

static void invariants(bool journal, const char *when)
{
	char why[1024];

	TU_CHECK(ru_check_invariants(E.socket, D.sock, D.state_dir, false, journal, why,
				     sizeof(why)) == 0,
		 "%s: %s (log %s)", when, why, D.log);
}

/* One request; its status must be `want`. The answer is returned (caller frees). */
static struct gc_resp call(const char *method, const char *path, const void *body, size_t len,
			   const char *ctype, long want)
{
	struct gc_resp r;

	TU_CHECK(ru_request(D.sock, method, path, body, len, ctype, 60, &r) == 0,
		 "%s %s: no answer (log %s)", method, path, D.log);
	TU_CHECK(r.status == want, "%s %s answered %ld, want %ld: %s", method, path, r.status,
		 want, r.body);
	return r;
}

static void call_free(const char *method, const char *path, long want)
{
	struct gc_resp r = call(method, path, NULL, 0, NULL, want);

	gc_resp_free(&r);
}

static uint32_t create(const char *name)
{
	char body[160];
	struct gc_resp r;
	uint32_t h;

	snprintf(body, sizeof(body), "{\"policy\": 1, \"name\": \"%s\", \"memory_size\": 16777216}",
		 name);
	r = call("POST", "/v1/guests", body, strlen(body), NULL, 201);
	h = (uint32_t)gc_int(r.json, "handle");
	gc_resp_free(&r);
	return h;
}

static void upload(uint32_t h, size_t len)
{
	_cleanup_free_ uint8_t *img = malloc(len);
	char path[64];
	struct gc_resp r;

	TU_CHECK(img, "out of memory");
	for (size_t i = 0; i < len; i++)
		img[i] = (uint8_t)(i * 13 + 5);
	snprintf(path, sizeof(path), "/v1/guests/%u/data", h);
	r = call("POST", path, img, len, "application/octet-stream", 200);
	gc_resp_free(&r);
}

static void guest_call(const char *method, uint32_t h, const char *what, long want)
{
	char path[96];

	snprintf(path, sizeof(path), "/v1/guests/%u%s", h, what);
	call_free(method, path, want);
}

static const char *guest_state(uint32_t h)
{
	static char state[32];
	char path[64];
	struct gc_resp r;

	snprintf(path, sizeof(path), "/v1/guests/%u", h);
	r = call("GET", path, NULL, 0, NULL, 200);
	snprintf(state, sizeof(state), "%s", gc_str(r.json, "state"));
	gc_resp_free(&r);
	return state;
}

static const char *platform_state(void)
{
	static char state[32];
	struct gc_resp r = call("GET", "/v1/platform", NULL, 0, NULL, 200);

	snprintf(state, sizeof(state), "%s", gc_str(r.json, "state"));
	gc_resp_free(&r);
	return state;
}

static unsigned guests_listed(void)
{
	struct gc_resp r = call("GET", "/v1/guests", NULL, 0, NULL, 200);
	unsigned n = (unsigned)json_object_array_length(json_object_object_get(r.json, "guests"));

	gc_resp_free(&r);
	return n;
}

/* A refused platform op: 409 guests_exist naming ?force=1, nothing changed. */
static void refused(const char *path)
{
	struct gc_resp r = call("POST", path, NULL, 0, NULL, 409);

	TU_CHECK(!strcmp(gc_err_code(&r), "guests_exist"), "%s: code %s", path, gc_err_code(&r));
	TU_CHECK(strstr(r.body, "force=1") && strstr(r.body, "2 guest(s)"),
		 "%s: the refusal does not name the guests and the way out: %s", path, r.body);
	gc_resp_free(&r);
}

/* Item 3: SHUTDOWN / FACTORY_RESET with live guests. */
static void test_reset(void)
{
	uint32_t x, y, z, w;
	struct gc_resp r;
	char *log;

	start("");
	x = create("x");
	upload(x, MIB + 100);
	y = create("y");
	upload(y, 4096);
	guest_call("GET", y, "/measurement", 200);
	guest_call("POST", y, "/finish", 200);
	TU_CHECK(!strcmp(guest_state(x), "LUPDATE"), "X is %s", guest_state(x));
	TU_CHECK(!strcmp(guest_state(y), "RUNNING"), "Y is %s", guest_state(y));
	invariants(true, "X in LUPDATE, Y RUNNING");

	refused("/v1/platform/shutdown");
	refused("/v1/platform/shutdown?force=0");
	refused("/v1/platform/factory-reset");
	r = call("POST", "/v1/platform/shutdown?force=yes", NULL, 0, NULL, 400);
	TU_CHECK(strstr(r.body, "'force'"), "force=yes: %s", r.body);
	gc_resp_free(&r);
	TU_CHECK(!strcmp(platform_state(), "WORKING"), "platform %s after refusals", platform_state());
	TU_CHECK_EQ(guests_listed(), 2);
	invariants(true, "after the refused SHUTDOWN and FACTORY_RESET");

	r = call("POST", "/v1/platform/shutdown?force=1", NULL, 0, NULL, 200);
	TU_CHECK(!strcmp(gc_str(json_object_object_get(r.json, "platform"), "state"), "UNINIT"),
		 "forced SHUTDOWN: %s", r.body);
	gc_resp_free(&r);
	TU_CHECK_EQ(guests_listed(), 0);
	invariants(true, "after the forced SHUTDOWN");
	log = ru_sevd_log(&D);
	TU_CHECK(strstr(log, "SHUTDOWN: guest") && strstr(log, "is gone from firmware: dropped"),
		 "the forced SHUTDOWN did not log the dropped guests");
	free(log);

	r = call("POST", "/v1/platform/init", NULL, 0, NULL, 200);
	gc_resp_free(&r);
	invariants(true, "after INIT");
	z = create("z");
	invariants(true, "after creating Z");
	if (x != z)
		guest_call("DELETE", x, "", 404); /* X is gone: never someone else's guest */
	guest_call("DELETE", z, "", 200);
	TU_CHECK_EQ(guests_listed(), 0);
	invariants(true, "after DELETE of Z");

	/* FACTORY_RESET forced with two guests: SHUTDOWN first, both dropped. */
	w = create("w");
	upload(w, 4096);
	guest_call("GET", w, "/measurement", 200);
	guest_call("POST", w, "/finish", 200);
	(void)create("v");
	refused("/v1/platform/factory-reset");
	invariants(true, "after the refused FACTORY_RESET");
	r = call("POST", "/v1/platform/factory-reset?force=1", NULL, 0, NULL, 200);
	TU_CHECK(!strcmp(gc_str(json_object_object_get(r.json, "platform"), "state"), "UNINIT"),
		 "forced FACTORY_RESET: %s", r.body);
	gc_resp_free(&r);
	TU_CHECK_EQ(guests_listed(), 0);
	invariants(true, "after the forced FACTORY_RESET");
	r = call("POST", "/v1/platform/init", NULL, 0, NULL, 200);
	gc_resp_free(&r);
	w = create("w2");
	upload(w, 4096);
	guest_call("GET", w, "/measurement", 200);
	guest_call("POST", w, "/finish", 200);
	invariants(true, "a guest after FACTORY_RESET and INIT");

	/* What the journal says survives a restart. */
	ru_sevd_stop(&D, true);
	TU_CHECK(ru_sevd_start(&D, true), "sevd does not start again (log %s)", D.log);
	invariants(true, "after a restart");
	TU_CHECK_EQ(guests_listed(), 1);
	guest_call("DELETE", w, "", 200);
	invariants(true, "after the last DELETE");
}

/* The core's map of a staging buffer (ipc.h, "staged uploads"): there once the worker's
 * upload began (GUEST_DATA_BEGIN, then GUEST_DATA_STAGE). */
static bool core_has_staging(void)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)D.pid);
	f = fopen(path, "re");
	TU_CHECK(f, "%s", path);
	while (fgets(line, sizeof(line), f))
		found = found || strstr(line, "sevd-staging");
	fclose(f);
	return found;
}

/* Item 4: a DELETE answered 409 while an upload runs must not stop the core from ending that
 * upload when the worker dies. */
static void test_delete409(void)
{
	uint32_t h;
	char path[64];
	pid_t w, w2 = 0;
	long st = 0;
	int fd;

	start("");
	h = create("up");
	fd = begin_upload(h, 12 * MIB, 64 * 1024);
	for (int i = 0; i < 1000 && !core_has_staging(); i++)
		sleep_ms(10);
	TU_CHECK(core_has_staging(), "the upload did not begin (log %s)", D.log);
	snprintf(path, sizeof(path), "/v1/guests/%u", h);
	TU_CHECK_EQ(status_of("DELETE", path), 409);
	w = tu_find_worker(D.pid);
	TU_CHECK(w > 0, "no worker under sevd %d", (int)D.pid);
	TU_CHECK(kill(w, SIGKILL) == 0, "kill the worker");
	close(fd);
	for (int i = 0; i < 300 && ((w2 = tu_find_worker(D.pid)) <= 0 || w2 == w ||
				    status_of("GET", "/healthz") != 200);
	     i++)
		sleep_ms(100);
	TU_CHECK(w2 > 0 && w2 != w, "no new worker (log %s)", D.log);
	/* The core ends the upload the dead worker left (bounded: 10 s), then DELETE works. */
	for (int i = 0; i < 100 && (st = status_of("DELETE", path)) == 409; i++)
		sleep_ms(100);
	TU_CHECK(st == 200, "DELETE after the worker's death answered %ld: the upload the dead "
			    "worker left is still running (log %s)",
		 st, D.log);
	invariants(true, "after the worker's death and DELETE");
}

/* Item 9: a non-root sevd without CAP_SETUID cannot give its worker a uid of its own. */
#define CORE_UID 4343

/* sevd as core_uid with no capabilities and its own emulator in dir, its worker user nobody;
 * the pid. */
static pid_t spawn_core_as(uid_t core_uid, const char *sdir, const char *conf, const char *sock,
			   const char *log)
{
	char listen[600];
	pid_t pid;

	snprintf(listen, sizeof(listen), "unix:%s", sock);
	TU_CHECK(chown(sdir, core_uid, core_uid) == 0, "chown %s", sdir);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	TU_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(120);
		/* No PR_SET_KEEPCAPS: the uid change from root clears every capability. */
		if (setgroups(0, NULL) < 0 || setresgid(core_uid, core_uid, core_uid) < 0 ||
		    setresuid(core_uid, core_uid, core_uid) < 0)
			_exit(121);
		execl(tu_exe("SEVD_EXE"), "sevd", "--psp", "emu", "--state-dir", sdir, "--listen",
		      listen, "--config", conf, "--worker-user", "nobody", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static pid_t spawn_uncapable_core(const char *sdir, const char *conf, const char *sock,
				  const char *log)
{
	return spawn_core_as(CORE_UID, sdir, conf, sock, log);
}

/* `sevadm ok` against sock: its exit code and output (caller frees). */
static int sevadm_ok(const char *sock, char **out)
{
	char *argv[] = {(char *)tu_exe("SEVADM_EXE"), (char *)"ok", NULL};

	setenv("SEVD_SOCKET", sock, 1);
	return tu_run(argv, out, NULL);
}

static void test_unseparated(void)
{
	_cleanup_free_ char *sdir = NULL, *conf = NULL, *sock = NULL, *log = NULL, *out = NULL;
	int st = 0, rc;
	size_t len = 0;
	pid_t pid;
	bool exited = false;

	if (geteuid() != 0)
		tu_skip("not root: sevd cannot be started as another uid without CAP_SETUID, nor "
			"its worker given a uid of its own (CI runs as root)");
	/* The root sevd of this test: its worker has a uid of its own, and sevadm ok says so. */
	start("");
	rc = sevadm_ok(D.sock, &out);
	TU_CHECK(out && strstr(out, "[ PASS ] worker separation"),
		 "sevadm ok (exit %d) has no PASS line for the worker's uid:\n%s", rc, out);
	free(out);
	out = NULL;

	sdir = tu_mkdtemp();
	conf = path_join(sdir, "sevd.conf");
	sock = path_join(sdir, "api.sock");
	log = path_join(sdir, "sevd.log");
	TU_CHECK(write_file_atomic(conf, "", 0, 0644) == 0, "config");
	pid = spawn_uncapable_core(sdir, conf, sock, log);
	for (int i = 0; i < 600 && !exited; i++) {
		exited = waitpid(pid, &st, WNOHANG) == pid;
		if (!exited)
			sleep_ms(50);
	}
	if (!exited) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	{
		_cleanup_free_ uint8_t *raw = tu_read_file(log, &len);

		out = strndup((const char *)raw, len); /* the file's bytes are not a C string */
		TU_CHECK(out, "out of memory");
	}
	TU_CHECK(exited && WIFEXITED(st) && WEXITSTATUS(st) != 0,
		 "sevd as uid %d without CAP_SETUID started a worker of its own uid (status 0x%x, "
		 "exited %d); log:\n%s",
		 CORE_UID, st, exited, out);
	TU_CHECK(strstr(out, "allow_unseparated_worker"),
		 "the refusal does not name allow_unseparated_worker:\n%s", out);
	free(out);
	out = NULL;

	/* Allowed: it serves, and sevadm ok says what it is. */
	TU_CHECK(write_file_atomic(conf, "allow_unseparated_worker = yes\n", 31, 0644) == 0,
		 "config");
	pid = spawn_uncapable_core(sdir, conf, sock, log);
	for (int i = 0; i < 600 && !tu_wait_socket(sock, 10); i++)
		TU_CHECK(waitpid(pid, &st, WNOHANG) == 0, "sevd with allow_unseparated_worker "
							  "exited: 0x%x (log %s)", st, log);
	rc = sevadm_ok(sock, &out);
	TU_CHECK(rc == 1 && out && strstr(out, "[ FAIL ] worker separation") &&
		     strstr(out, "allow_unseparated_worker"),
		 "sevadm ok (exit %d) does not report the shared uid:\n%s", rc, out);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);

	/* Allowed, and the worker user is the core's own uid (nobody running sevd, as a
	 * developer's run does): nothing to switch, so it must serve, not fail the switch. */
	free(out);
	out = NULL;
	tu_rmtree(sdir);
	free(sdir), free(conf), free(sock), free(log);
	sdir = tu_mkdtemp();
	conf = path_join(sdir, "sevd.conf");
	sock = path_join(sdir, "api.sock");
	log = path_join(sdir, "sevd.log");
	TU_CHECK(write_file_atomic(conf, "allow_unseparated_worker = yes\n", 31, 0644) == 0,
		 "config");
	pid = spawn_core_as(65534, sdir, conf, sock, log);
	for (int i = 0; i < 600 && !tu_wait_socket(sock, 10); i++)
		if (waitpid(pid, &st, WNOHANG) == pid) {
			_cleanup_free_ uint8_t *raw = tu_read_file(log, &len);
			TU_CHECK(false, "sevd as nobody with worker_user nobody and "
					"allow_unseparated_worker exited: 0x%x; log:\n%.*s",
				 st, (int)len, (const char *)raw);
		}
	rc = sevadm_ok(sock, &out);
	TU_CHECK(out && strstr(out, "[ FAIL ] worker separation"),
		 "sevd as nobody, worker nobody: sevadm ok (exit %d) does not report the shared "
		 "uid:\n%s", rc, out ? out : "");
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	tu_rmtree(sdir);
}


/* ---- item: the memory quota ---- */

static struct gc_resp create_in(const char *name, const char *tenant, unsigned mib, long want)
{
	char body[200];

	snprintf(body, sizeof(body),
		 "{\"policy\": 1, \"name\": \"%s\", \"tenant\": \"%s\", \"memory_size\": %u}", name,
		 tenant, mib * MIB);
	return call("POST", "/v1/guests", body, strlen(body), NULL, want);
}

static uint32_t admitted(const char *name, const char *tenant, unsigned mib)
{
	struct gc_resp r = create_in(name, tenant, mib, 201);
	uint32_t h = (uint32_t)gc_int(r.json, "handle");

	gc_resp_free(&r);
	return h;
}

/* Refused by the memory quota: 403 policy_refused, rule memory_quota, the message naming the
 * tenant, what it holds and the quota. */
static void over_quota(const char *name, const char *tenant, unsigned mib, unsigned held_mib,
		       unsigned quota_mib)
{
	struct gc_resp r = create_in(name, tenant, mib, 403);
	json_object *e = json_object_object_get(r.json, "error");
	char held[32], quota[32];

	snprintf(held, sizeof(held), "%llu bytes", (unsigned long long)held_mib * MIB);
	snprintf(quota, sizeof(quota), "%llu bytes", (unsigned long long)quota_mib * MIB);
	TU_CHECK(!strcmp(gc_err_code(&r), "policy_refused") &&
		     !strcmp(gc_str(e, "rule"), "memory_quota"),
		 "%s (%u MiB in %s): %s", name, mib, tenant, r.body);
	TU_CHECK(strstr(r.body, tenant) && strstr(r.body, held) && strstr(r.body, quota),
		 "the refusal does not name the tenant, its %s and its quota of %s: %s", held,
		 quota, r.body);
	gc_resp_free(&r);
}

static void test_memquota(void)
{
	uint32_t a, b, c, big[3];

	start("policy.default_memory_quota = 40M\npolicy.tenant.big.memory_quota = 48M\n"
	      "policy.tenant.big.quota = 8\n");
	a = admitted("a", "acme", 16);
	b = admitted("b", "acme", 16);
	over_quota("c", "acme", 16, 32, 40);
	c = admitted("c", "acme", 8); /* exactly the quota */
	over_quota("d", "acme", 1, 40, 40);
	for (unsigned i = 0; i < 3; i++) /* another tenant has its own */
		big[i] = admitted("big", "big", 16);
	over_quota("big4", "big", 1, 48, 48);
	guest_call("DELETE", c, "", 200);

	/* A deactivated guest holds no ASID but still holds its memory. */
	upload(a, 4096);
	guest_call("GET", a, "/measurement", 200);
	guest_call("POST", a, "/finish", 200);
	guest_call("POST", a, "/deactivate", 200);
	TU_CHECK(!strcmp(guest_state(a), "RUNNING"), "a is %s", guest_state(a));
	over_quota("e", "acme", 16, 32, 40);
	invariants(true, "the memory quota full");

	/* A restart counts the same guests. */
	ru_sevd_stop(&D, true);
	TU_CHECK(ru_sevd_start(&D, true), "sevd does not start again (log %s)", D.log);
	over_quota("e", "acme", 16, 32, 40);
	guest_call("DELETE", a, "", 200); /* room again */
	c = admitted("e", "acme", 16);
	guest_call("DELETE", b, "", 200);
	guest_call("DELETE", c, "", 200);
	for (unsigned i = 0; i < 3; i++)
		guest_call("DELETE", big[i], "", 200);
	invariants(true, "every guest deleted");
}

/* ---- items: secret replay, unfinished launches across a restart ---- */

static struct attest_tk owner_tk;

/* A launch with an owner session for the platform's PDH (owner_tk holds its keys). */
static uint32_t create_owned(const char *name)
{
	struct gc_resp r = call("GET", "/v1/platform/certs", NULL, 0, NULL, 200);
	struct sev_cert pdh, godh;
	struct sev_session_blob blob;
	_cleanup_free_ uint8_t *raw = NULL;
	_cleanup_free_ char *godh_b64 = NULL, *session_b64 = NULL, *body = NULL;
	size_t len = 0;
	uint32_t h;

	TU_CHECK(base64_decode(gc_str(r.json, "pdh"), strlen(gc_str(r.json, "pdh")), &raw,
			       &len) == 0 &&
		     attest_sev_cert_parse(raw, len, &pdh, NULL) == 0,
		 "the platform's PDH");
	gc_resp_free(&r);
	TU_CHECK(attest_session_build(&pdh, 0x1, NULL, &godh, &blob, &owner_tk) == 0, "session");
	godh_b64 = base64_encode(&godh, sizeof(godh));
	session_b64 = base64_encode(&blob, sizeof(blob));
	TU_CHECK(godh_b64 && session_b64 &&
		     asprintf(&body,
			      "{\"policy\": 1, \"name\": \"%s\", \"memory_size\": 16777216, "
			      "\"godh_cert\": \"%s\", \"session\": \"%s\"}",
			      name, godh_b64, session_b64) > 0,
		 "body");
	r = call("POST", "/v1/guests", body, strlen(body), NULL, 201);
	h = (uint32_t)gc_int(r.json, "handle");
	gc_resp_free(&r);
	return h;
}

struct packet {
	char *body; /* {"header", "payload"} */
};

/* A fresh LAUNCH_SECRET packet (a new random IV) over the guest's measurement. tamper: one
 * payload byte flipped after sealing (firmware answers BAD_MEASUREMENT). */
static struct packet seal(uint32_t h, const char *text, bool tamper)
{
	uint8_t measure[32], plain[32] = {0}, cipher[32];
	struct sev_secret_header hdr;
	char path[64];
	_cleanup_free_ char *hb = NULL, *pb = NULL;
	struct packet p = {0};
	struct gc_resp m;

	snprintf(path, sizeof(path), "/v1/guests/%u/measurement", h);
	m = call("GET", path, NULL, 0, NULL, 200);
	snprintf((char *)plain, sizeof(plain), "%s", text);
	TU_CHECK(hex_decode_exact(gc_str(m.json, "measurement"), measure, 32) == 0 &&
		     attest_secret_seal(&(struct attest_secret_key){&owner_tk, measure,
								    (uint8_t)gc_int(m.json, "api_major"),
								    (uint8_t)gc_int(m.json, "api_minor")},
					NULL, plain, sizeof(plain), &hdr, cipher) == 0,
		 "seal a secret for guest %u", h);
	gc_resp_free(&m);
	OPENSSL_cleanse(plain, sizeof(plain));
	cipher[5] ^= tamper;
	hb = base64_encode(&hdr, sizeof(hdr));
	pb = base64_encode(cipher, sizeof(cipher));
	TU_CHECK(hb && pb &&
		     asprintf(&p.body, "{\"header\": \"%s\", \"payload\": \"%s\"}", hb, pb) > 0,
		 "body");
	return p;
}

static void inject(uint32_t h, const struct packet *p, long want, const char *code)
{
	char path[64];
	struct gc_resp r;

	snprintf(path, sizeof(path), "/v1/guests/%u/secret", h);
	r = call("POST", path, p->body, strlen(p->body), NULL, want);
	TU_CHECK(!code || !strcmp(gc_err_code(&r), code), "secret into %u: code %s, want %s: %s",
		 h, gc_err_code(&r), code, r.body);
	if (code && !strcmp(code, "secret_replayed"))
		TU_CHECK(strstr(r.body, "replay") && strstr(r.body, "fresh packet"),
			 "the refusal does not say what is wrong and what to do: %s", r.body);
	gc_resp_free(&r);
}

static unsigned secret_commands(void)
{
	struct gc_resp r = call("GET", "/metrics", NULL, 0, NULL, 200);
	const char *p = strstr(r.body, "command=\"LAUNCH_UPDATE_SECRET\"");
	unsigned n = 0;

	for (; p; p = strstr(p + 1, "command=\"LAUNCH_UPDATE_SECRET\"")) {
		const char *sp = strchr(p, '}');

		if (sp && !strncmp(p - 1, "{", 1))
			n += (unsigned)strtoul(sp + 1, NULL, 10);
	}
	gc_resp_free(&r);
	return n;
}

static void kill_and_restart(const char *when)
{
	char why[1024];

	ru_sevd_stop(&D, true);
	TU_CHECK(ru_sevd_start(&D, true), "sevd does not start after the kill %s (log %s)", when,
		 D.log);
	TU_CHECK(ru_check_invariants(E.socket, D.sock, D.state_dir, true, true, why,
				     sizeof(why)) == 0,
		 "after the kill %s: %s (log %s)", when, why, D.log);
}

static void test_replay(void)
{
	struct packet p1, p2, p3, bad;
	uint32_t h, asid;
	char path[64];
	struct gc_resp r;

	start("journal_compact = 4\n"); /* a snapshot every few records: it keeps the packets */
	h = create_owned("owned");
	upload(h, MIB + 100);
	p1 = seal(h, "first secret", false);
	inject(h, &p1, 200, NULL);
	TU_CHECK(!strcmp(guest_state(h), "LSECRET"), "after the secret: %s", guest_state(h));
	inject(h, &p1, 409, "secret_replayed"); /* the same packet again */
	bad = seal(h, "second secret", true);
	inject(h, &bad, 400, "bad_request"); /* firmware: BAD_MEASUREMENT */
	p2 = seal(h, "second secret", false);
	inject(h, &p2, 200, NULL); /* a fresh packet still goes in */
	inject(h, &p2, 409, "secret_replayed");

	/* A SIGKILL: the guest (measured, LSECRET) stays, and so does what it has seen. */
	snprintf(path, sizeof(path), "/v1/guests/%u", h);
	r = call("GET", path, NULL, 0, NULL, 200);
	asid = (uint32_t)gc_int(r.json, "asid");
	gc_resp_free(&r);
	kill_and_restart("with a guest in LSECRET");
	r = call("GET", path, NULL, 0, NULL, 200);
	TU_CHECK(!strcmp(gc_str(r.json, "state"), "LSECRET") && gc_int(r.json, "asid") == asid &&
		     !gc_is_null(r.json, "measurement"),
		 "the measured guest is not kept in LSECRET on ASID %u: %s", asid, r.body);
	gc_resp_free(&r);
	{
		unsigned before = secret_commands();

		inject(h, &p1, 409, "secret_replayed");
		inject(h, &p2, 409, "secret_replayed");
		TU_CHECK_EQ(secret_commands(), before); /* no replay reached firmware */
	}
	kill_and_restart("again, after the restart's snapshot");
	inject(h, &p1, 409, "secret_replayed");
	p3 = seal(h, "third secret", false);
	{
		unsigned before = secret_commands();

		inject(h, &p3, 200, NULL);
		TU_CHECK_EQ(secret_commands(), before + 1); /* the count above counts */
	}
	guest_call("POST", h, "/finish", 200);
	guest_call("POST", h, "/activate", 200);
	TU_CHECK(!strcmp(guest_state(h), "RUNNING"), "after finish: %s", guest_state(h));
	inject(h, &p3, 409, "wrong_state"); /* RUNNING: firmware takes no secret */
	kill_and_restart("with the guest RUNNING");
	guest_call("DELETE", h, "", 200);
	invariants(true, "after DELETE");
	free(p1.body);
	free(p2.body);
	free(p3.body);
	free(bad.body);
	OPENSSL_cleanse(&owner_tk, sizeof(owner_tk));
}

static void test_lupdate(void)
{
	const size_t len = MIB + 100, padded = (len + 15) / 16 * 16;
	_cleanup_free_ uint8_t *img = calloc(1, padded);
	struct attest_measure_input in = {.ctx = ATTEST_MEASURE_CTX, .policy = 0x1};
	uint8_t more[4096] = {1}, measure[32];
	uint32_t h, asid;
	char path[64];
	struct gc_resp r;

	TU_CHECK(img, "out of memory");
	start("");
	h = create_owned("kept");
	upload(h, len);
	snprintf(path, sizeof(path), "/v1/guests/%u", h);
	r = call("GET", path, NULL, 0, NULL, 200);
	asid = (uint32_t)gc_int(r.json, "asid");
	gc_resp_free(&r);
	kill_and_restart("with a guest in LUPDATE");
	r = call("GET", path, NULL, 0, NULL, 200);
	TU_CHECK(!strcmp(gc_str(r.json, "state"), "LUPDATE") && gc_int(r.json, "asid") == asid,
		 "the guest is not kept in LUPDATE on ASID %u: %s", asid, r.body);
	gc_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/guests/%u/data", h);
	r = call("POST", path, more, sizeof(more), "application/octet-stream", 409);
	TU_CHECK(!strcmp(gc_err_code(&r), "wrong_state") && strstr(r.body, "earlier sevd") &&
		     strstr(r.body, "/measure"),
		 "more data: %s", r.body);
	gc_resp_free(&r);

	/* The owner's measurement covers exactly the image uploaded before the kill. */
	snprintf(path, sizeof(path), "/v1/guests/%u/measurement", h);
	r = call("GET", path, NULL, 0, NULL, 200);
	TU_CHECK(hex_decode_exact(gc_str(r.json, "measurement"), measure, 32) == 0 &&
		     hex_decode_exact(gc_str(r.json, "mnonce"), in.mnonce, 16) == 0,
		 "measurement: %s", r.body);
	in.api_major = (uint8_t)gc_int(r.json, "api_major");
	in.api_minor = (uint8_t)gc_int(r.json, "api_minor");
	in.build = (uint8_t)gc_int(r.json, "build");
	gc_resp_free(&r);
	for (size_t i = 0; i < len; i++) /* upload()'s image */
		img[i] = (uint8_t)(i * 13 + 5);
	TU_CHECK(EVP_Digest(img, padded, in.digest, NULL, EVP_sha256(), NULL) == 1, "sha256");
	TU_CHECK_EQ(attest_measurement_verify(owner_tk.tik, &in, measure), 1);
	TU_CHECK(!strcmp(guest_state(h), "LSECRET"), "after measuring: %s", guest_state(h));
	guest_call("POST", h, "/finish", 200);
	guest_call("POST", h, "/activate", 200);
	TU_CHECK(!strcmp(guest_state(h), "RUNNING"), "after finish: %s", guest_state(h));
	OPENSSL_cleanse(&owner_tk, sizeof(owner_tk));
	kill_and_restart("with the guest RUNNING");
	guest_call("DELETE", h, "", 200);
	invariants(true, "after the DELETE");
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
    {"reset", test_reset},
    {"delete409", test_delete409},
    {"memquota", test_memquota},
    {"replay", test_replay},
    {"lupdate", test_lupdate},
    {"unseparated", test_unseparated},
};

int main(int argc, char **argv)
{
	if (!getenv("SEVD_EXE") || !getenv("SEV_PSP_EMU_EXE"))
		tu_skip("SEVD_EXE or SEV_PSP_EMU_EXE not set (run through meson test)");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	signal(SIGPIPE, SIG_IGN);
	atexit(at_exit);
	/* With no argument: every case but "unseparated", which is a meson case of its own
	 * (daemon-attacker-unseparated) because it needs root and SKIPs visibly without. */
	for (size_t i = 0; i < ELEMENTSOF(tests); i++) {
		if (argc > 1 ? strcmp(argv[1], tests[i].name) != 0
			     : strcmp(tests[i].name, "unseparated") == 0)
			continue;
		printf("attacker: %s\n", tests[i].name);
		fflush(stdout);
		tests[i].fn();
	}
	tu_done(argc > 1 ? argv[1] : "daemon-attacker");
}
