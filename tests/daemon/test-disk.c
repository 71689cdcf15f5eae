/* Disk faults on sevd's state dir, for real: the state dir is a small tmpfs mounted
 * by the test (root only; skipped with the reason otherwise), sevd and the emulator are the real
 * processes, sevd's sockets and log live outside the tmpfs.
 *   1. Full (ENOSPC): after the tmpfs is filled, every guest change is refused with 507
 *      state_not_durable naming the journal and "No space left on device" before anything
 *      reaches firmware (sevd list, journal and ASID pool = firmware, checked directly);
 *      reads (/v1/platform, /v1/guests, /v1/asids, /healthz, a guest, its measurement) keep
 *      working; once space is freed changes work again; a restart recovers the state. sevd
 *      also starts on a full state dir (serving reads, refusing changes) and writes the journal
 *      snapshot it owes before its first change once there is room.
 *   2. Read-only remount (EROFS): the same refusals ("Read-only file system"); the remount
 *      itself succeeds while sevd runs (sevd keeps no file open for writing there); sevd
 *      restarts on the read-only dir; read-write again, changes work.
 *   3. A journal write that fails AFTER firmware acted (the remount happens while the emulator
 *      stalls inside the command: its fault plan `hang=2`): a launch is rolled back (507,
 *      "rolled back": no firmware guest, no ASID held), a deactivation is reported (507; sevd's
 *      answers follow firmware, the journal is behind until the snapshot sevd writes before
 *      its next change; a restart in between recovers from firmware).
 *   4. A truncated and a bit-flipped journal tail on the tmpfs (the record of the last change
 *      before a SIGKILL): sevd starts, truncates the tail with a warning, and reconciliation
 *      with firmware restores the state (the journal unit cases are in test-journal.c,
 *      corruption in the middle at the daemon level in test-guest.c).
 * After each step the invariants of reliability-util.h are checked against firmware. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "daemon/core/journal.h"
#include "psp/commands.h"
#include "psp/psp-emu.h"
#include "psp/transport.h"
#include "tests/daemon/openapi-check.h"
#include "tests/daemon/reliability-util.h"
#include "tests/testutil.h"

#define TMPFS_SIZE "size=256k,mode=0700"

static struct tu_emu E;
static struct ru_sevd D;
static char *base, *state, *jpath;
static json_object *openapi;

static void sleep_ms(unsigned ms)
{
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L},
		  NULL);
}

static long call(const char *method, const char *path, const void *body, size_t len,
		 const char *ctype, struct gc_resp *out)
{
	TU_CHECK(ru_request(D.sock, method, path, body, len, ctype, 60, out) == 0,
		 "%s %s: no answer (log %s)", method, path, D.log);
	return out->status;
}

static void expect(const char *method, const char *path, const char *body, long want)
{
	struct gc_resp r;

	TU_CHECK(call(method, path, body, body ? strlen(body) : 0, NULL, &r) == want,
		 "%s %s answered %ld, want %ld: %s", method, path, r.status, want, r.body);
	gc_resp_free(&r);
}

static const char *err_msg(const struct gc_resp *r)
{
	json_object *e, *m;

	if (r->json && json_object_object_get_ex(r->json, "error", &e) &&
	    json_object_object_get_ex(e, "message", &m))
		return json_object_get_string(m);
	return "";
}

/* 507 state_not_durable, naming the journal, the errno text and the next step, as
 * daemon/openapi.yaml documents it for the route (method, tpl). */
static void check_refusal(const struct gc_resp *r, const char *method, const char *tpl,
			  const char *what, const char *errtext)
{
	const char *m = err_msg(r);
	char err[512];

	TU_CHECK(oa_check_response(openapi, tpl, method, (unsigned)r->status, "application/json",
				   r->body, err, sizeof(err)) == 0,
		 "%s: the answer is not as daemon/openapi.yaml says: %s", what, err);

	TU_CHECK(r->status == 507 && !strcmp(gc_err_code(r), "state_not_durable"),
		 "%s: want 507 state_not_durable, got %ld: %s", what, r->status, r->body);
	TU_CHECK(strstr(m, jpath) && strstr(m, errtext) &&
		     (strstr(m, "Free space") || strstr(m, "free space")),
		 "%s: the message must name %s, '%s' and the next step: %s", what, jpath, errtext,
		 m);
}

static void refused(const char *method, const char *path, const char *tpl, const char *body,
		    const char *errtext)
{
	struct gc_resp r;
	char what[128];

	snprintf(what, sizeof(what), "%s %s", method, path);
	call(method, path, body, body ? strlen(body) : 0, NULL, &r);
	check_refusal(&r, method, tpl, what, errtext);
	gc_resp_free(&r);
}

static void reads_work(uint32_t h)
{
	static const char *const paths[] = {"/v1/platform", "/v1/guests", "/v1/asids", "/healthz"};
	char path[64];

	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		expect("GET", paths[i], NULL, 200);
	snprintf(path, sizeof(path), "/v1/guests/%u", h);
	expect("GET", path, NULL, 200);
	snprintf(path, sizeof(path), "/v1/guests/%u/measurement", h); /* measured: a read */
	expect("GET", path, NULL, 200);
}

static void invariants(bool restart, bool journal, const char *when)
{
	char why[1024];

	TU_CHECK(ru_check_invariants(E.socket, D.sock, state, restart, journal, why, sizeof(why)) ==
		     0,
		 "%s: %s (log %s)", when, why, D.log);
}

static uint32_t create(const char *name)
{
	char body[128];
	struct gc_resp r;
	uint32_t h;

	snprintf(body, sizeof(body), "{\"policy\": 1, \"name\": \"%s\", \"memory_size\": 1048576}",
		 name);
	TU_CHECK(call("POST", "/v1/guests", body, strlen(body), NULL, &r) == 201,
		 "launch %s: %ld %s", name, r.status, r.body);
	h = (uint32_t)gc_int(r.json, "handle");
	gc_resp_free(&r);
	return h;
}

static uint32_t launch_full(const char *name)
{
	static uint8_t img[8192];
	uint32_t h = create(name);
	char path[96];
	struct gc_resp r;

	snprintf(path, sizeof(path), "/v1/guests/%u/data", h);
	TU_CHECK(call("POST", path, img, sizeof(img), "application/octet-stream", &r) == 200,
		 "upload: %s", r.body);
	gc_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/guests/%u/measurement", h);
	expect("GET", path, NULL, 200);
	snprintf(path, sizeof(path), "/v1/guests/%u/finish", h);
	expect("POST", path, NULL, 200);
	snprintf(path, sizeof(path), "/v1/guests/%u/activate", h);
	expect("POST", path, NULL, 200);
	return h;
}

static bool log_has(const char *what)
{
	char *log = ru_sevd_log(&D);
	bool r = strstr(log, what) != NULL;

	free(log);
	return r;
}

static void start(const char *when)
{
	TU_CHECK(ru_sevd_start(&D, true), "sevd starts %s (log %s)", when, D.log);
}

/* ---- the state dir ---- */

static int remount(bool ro)
{
	return mount(NULL, state, NULL, MS_REMOUNT | (ro ? MS_RDONLY : 0), TMPFS_SIZE) < 0 ? -errno
											   : 0;
}

/* Fill the tmpfs to the last byte; returns the filler's path. */
static char *fill(void)
{
	char *p = path_join(state, "filler");
	static uint8_t block[4096];
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t total = 0;
	ssize_t w;

	TU_CHECK(fd >= 0, "create %s", p);
	while ((w = write(fd, block, sizeof(block))) > 0)
		total += (size_t)w;
	TU_CHECK(w < 0 && errno == ENOSPC, "filling the tmpfs ends with ENOSPC (%m)");
	while (write(fd, block, 1) == 1) /* the last bytes of a partial page */
		total++;
	close(fd);
	TU_CHECK(total > 0, "the filler wrote nothing");
	return p;
}

static uint32_t path_handle_status(const char *path_fmt, uint32_t h, const char *method, long want)
{
	char path[96];

	snprintf(path, sizeof(path), path_fmt, h);
	expect(method, path, NULL, want);
	return h;
}

/* ---- 1. ENOSPC ---- */

/* sevd_journal_durable on /metrics: 1, 0, or -1 when the series is missing. */
static int durable_metric(void)
{
	struct gc_resp r;
	const char *l;
	int v = -1;

	call("GET", "/metrics", NULL, 0, NULL, &r);
	TU_CHECK(r.status == 200, "GET /metrics: %ld", r.status);
	l = strstr(r.body, "\nsevd_journal_durable ");
	if (l)
		v = atoi(l + strlen("\nsevd_journal_durable "));
	gc_resp_free(&r);
	return v;
}

static void test_full(uint32_t *ret_a)
{
	char *filler, path[96];
	uint32_t a, b, c, extra[32];
	unsigned n_extra = 0;
	struct gc_resp r;
	bool refused_launch = false;

	a = launch_full("alpha");
	b = create("bravo"); /* half-launched (LUPDATE) */
	invariants(false, true, "before the disk is full");
	TU_CHECK(durable_metric() == 1, "sevd_journal_durable before the disk is full");
	filler = fill();
	/* The room reserved behind the journal may take a few changes; then refusals. */
	for (unsigned i = 0; i < ELEMENTSOF(extra) && !refused_launch; i++) {
		char body[96];

		snprintf(body, sizeof(body), "{\"policy\": 1, \"name\": \"full-%u\"}", i);
		call("POST", "/v1/guests", body, strlen(body), NULL, &r);
		if (r.status == 201)
			extra[n_extra++] = (uint32_t)gc_int(r.json, "handle");
		else {
			check_refusal(&r, "POST", "/v1/guests", "a launch on a full state dir",
				      "No space left on device");
			refused_launch = true;
		}
		gc_resp_free(&r);
	}
	TU_CHECK(refused_launch, "no launch refused on a full state dir after %u", n_extra);
	printf("disk full: %u launch(es) fit in the reserved journal room, then 507\n", n_extra);
	invariants(false, true, "after a launch refused for ENOSPC");
	snprintf(path, sizeof(path), "/v1/guests/%u", b);
	refused("DELETE", path, "/v1/guests/{h}", NULL, "No space left on device");
	snprintf(path, sizeof(path), "/v1/guests/%u/deactivate", a);
	refused("POST", path, "/v1/guests/{h}/deactivate", NULL, "No space left on device");
	snprintf(path, sizeof(path), "/v1/guests/%u/data", b);
	{
		static uint8_t img[4096];

		call("POST", path, img, sizeof(img), "application/octet-stream", &r);
		check_refusal(&r, "POST", "/v1/guests/{h}/data", "an upload on a full state dir",
			      "No space left on device");
		gc_resp_free(&r);
	}
	reads_work(a);
	invariants(false, true, "after the refusals on a full state dir");
	TU_CHECK(durable_metric() == 0, "sevd_journal_durable on a full state dir");
	/* Space again: changes work. */
	TU_CHECK(unlink(filler) == 0, "unlink the filler");
	path_handle_status("/v1/guests/%u", b, "DELETE", 200);
	for (unsigned i = 0; i < n_extra; i++)
		path_handle_status("/v1/guests/%u", extra[i], "DELETE", 200);
	c = launch_full("charlie");
	invariants(false, true, "after space was freed");
	TU_CHECK(durable_metric() == 1, "sevd_journal_durable after space was freed");
	/* A restart recovers the state. */
	ru_sevd_stop(&D, false);
	start("after the disk was full");
	invariants(true, true, "restart after the disk was full");

	/* A start on a full state dir: reads served, changes refused, the snapshot owed is
	 * written before the first change once there is room. */
	filler = (free(filler), fill());
	ru_sevd_stop(&D, true);
	unlink(D.log);
	start("on a full state dir");
	TU_CHECK(log_has("Cannot rewrite the journal"), "the failed start-up snapshot is logged");
	reads_work(a);
	invariants(true, true, "a start on a full state dir");
	snprintf(path, sizeof(path), "/v1/guests/%u", c);
	refused("DELETE", path, "/v1/guests/{h}", NULL, "No space left on device");
	TU_CHECK(unlink(filler) == 0, "unlink the filler");
	path_handle_status("/v1/guests/%u", c, "DELETE", 200);
	TU_CHECK(log_has("rewritten from the guest table"), "the owed snapshot is written first");
	invariants(false, true, "changes after a start on a full state dir");
	free(filler);
	*ret_a = a;
}

/* ---- 2. EROFS ---- */

static void test_readonly(uint32_t a)
{
	char path[96];
	uint32_t d;
	int r;

	r = remount(true);
	TU_CHECK(r == 0,
		 "remount %s read-only while sevd runs: %s (does sevd hold a file open "
		 "for writing there?)",
		 state, strerror(-r));
	refused("POST", "/v1/guests", "/v1/guests", "{\"policy\": 1, \"name\": \"ro\"}",
		"Read-only file system");
	snprintf(path, sizeof(path), "/v1/guests/%u/deactivate", a);
	refused("POST", path, "/v1/guests/{h}/deactivate", NULL, "Read-only file system");
	snprintf(path, sizeof(path), "/v1/guests/%u", a);
	refused("DELETE", path, "/v1/guests/{h}", NULL, "Read-only file system");
	reads_work(a);
	invariants(false, true, "after refusals on a read-only state dir");
	/* A restart on the read-only dir: reads served, changes refused. */
	ru_sevd_stop(&D, false);
	start("on a read-only state dir");
	reads_work(a);
	invariants(true, true, "a start on a read-only state dir");
	refused("POST", "/v1/guests", "/v1/guests", "{\"policy\": 1, \"name\": \"ro2\"}",
		"Read-only file system");
	TU_CHECK(remount(false) == 0, "remount read-write");
	d = launch_full("delta");
	path_handle_status("/v1/guests/%u", d, "DELETE", 200);
	invariants(false, true, "changes after the read-write remount");
}

/* ---- 3. the journal fails after firmware acted ---- */

struct bg_call {
	pthread_t t;
	const char *method;
	char path[96];
	const char *body;
	struct gc_resp r;
	int cr;
};

static void *bg_main(void *arg)
{
	struct bg_call *b = arg;

	b->cr = ru_request(D.sock, b->method, b->path, b->body, b->body ? strlen(b->body) : 0, NULL,
			   60, &b->r);
	return NULL;
}

/* True while the emulator stalls (a hang rule fired): a PLATFORM_STATUS of our own times out. */
static bool emu_stalled(void)
{
	struct psp_transport *t = NULL;
	struct sev_cmd_platform_status ps;
	char spec[600];
	bool stalled;

	snprintf(spec, sizeof(spec), "emu:%s", E.socket);
	setenv("SEV_PSP_EMU_TIMEOUT_MS", "150", 1);
	stalled = psp_open(spec, &t) < 0 || psp_cmd_platform_status(t, &ps, NULL) < 0;
	unsetenv("SEV_PSP_EMU_TIMEOUT_MS");
	psp_close(t);
	return stalled;
}

/* Run the request with `rule` armed in the emulator; when the emulator stalls (the command ran,
 * its answer is held for 2 s), remount the state dir read-only. */
static void call_with_ro_in_stall(const char *rule, const char *method, const char *path,
				  const char *body, struct gc_resp *out)
{
	struct psp_transport *t = NULL;
	struct bg_call b = {.method = method, .body = body};
	char spec[600];
	uint8_t *reply = NULL;
	size_t len = 0;
	bool stalled = false;

	snprintf(spec, sizeof(spec), "emu:%s", E.socket);
	TU_CHECK(psp_open(spec, &t) == 0, "open %s", spec);
	TU_CHECK(psp_emu_ctl(t, rule, &reply, &len) == 0, "CTL %s", rule);
	free(reply);
	psp_close(t);
	snprintf(b.path, sizeof(b.path), "%s", path);
	TU_CHECK(pthread_create(&b.t, NULL, bg_main, &b) == 0, "thread");
	for (unsigned i = 0; i < 200 && !stalled; i++) {
		stalled = emu_stalled();
		if (!stalled)
			sleep_ms(20);
	}
	TU_CHECK(stalled, "the emulator never stalled on %s", rule);
	TU_CHECK(remount(true) == 0, "remount read-only during the stall");
	pthread_join(b.t, NULL);
	TU_CHECK(b.cr == 0, "%s %s: no answer", method, path);
	*out = b.r;
	/* The rule struck once; clear it so that nothing else stalls. */
	TU_CHECK(psp_open(spec, &t) == 0, "open %s", spec);
	TU_CHECK(psp_emu_ctl(t, "fault clear", &reply, &len) == 0, "CTL fault clear");
	free(reply);
	psp_close(t);
}

static int64_t asids_used(void)
{
	struct gc_resp r;
	int64_t n;

	TU_CHECK(call("GET", "/v1/asids", NULL, 0, NULL, &r) == 200, "GET /v1/asids");
	n = gc_int(r.json, "used");
	gc_resp_free(&r);
	return n;
}

static void test_after_firmware(uint32_t a)
{
	struct gc_resp r;
	struct ru_fw_guest fw[16];
	uint32_t count;
	char why[256], path[96];
	int64_t used = asids_used();
	int nfw;

	/* A launch whose PUT fails after LAUNCH_START and ACTIVATE: rolled back. */
	call_with_ro_in_stall("fault ACTIVATE:hang=2", "POST", "/v1/guests",
			      "{\"policy\": 1, \"name\": \"rollback\"}", &r);
	check_refusal(&r, "POST", "/v1/guests", "a launch whose record fails after firmware",
		      "Read-only file system");
	TU_CHECK(strstr(err_msg(&r), "rolled back"), "the launch says it was rolled back: %s",
		 r.body);
	gc_resp_free(&r);
	nfw = ru_firmware_guests(E.socket, fw, ELEMENTSOF(fw), &count, why, sizeof(why));
	TU_CHECK(nfw == 1 && fw[0].handle == a, "firmware keeps only guest %u (has %d)", a, nfw);
	TU_CHECK_EQ(asids_used(), used);
	invariants(false, true, "after a rolled-back launch");
	reads_work(a);
	TU_CHECK(remount(false) == 0, "remount read-write");

	/* A deactivation whose record fails after DEACTIVATE: reported; sevd follows firmware. */
	snprintf(path, sizeof(path), "/v1/guests/%u/deactivate", a);
	call_with_ro_in_stall("fault DEACTIVATE:hang=2", "POST", path, NULL, &r);
	check_refusal(&r, "POST", "/v1/guests/{h}/deactivate",
		      "a deactivation whose record fails after firmware", "Read-only file system");
	TU_CHECK(strstr(err_msg(&r), "made in firmware"), "the answer says firmware acted: %s",
		 r.body);
	gc_resp_free(&r);
	invariants(false, false, "after a deactivation the journal missed");
	TU_CHECK_EQ(asids_used(), used - 1);
	/* A restart before the journal catches up recovers from firmware. */
	ru_sevd_stop(&D, true);
	unlink(D.log);
	start("after a deactivation the journal missed (read-only)");
	invariants(true, false, "restart with the journal behind firmware");
	TU_CHECK_EQ(asids_used(), used - 1);
	TU_CHECK(remount(false) == 0, "remount read-write");
	snprintf(path, sizeof(path), "/v1/guests/%u/activate", a);
	expect("POST", path, NULL, 200);
	TU_CHECK(log_has("rewritten from the guest table"),
		 "the snapshot owed since the start is written before the change");
	invariants(false, true, "re-activated");
	ru_sevd_stop(&D, false);
	start("after the re-activation");
	invariants(true, true, "restart after the re-activation");
	TU_CHECK_EQ(asids_used(), used);
}

/* ---- 4. a torn or flipped tail ---- */

static void damage_tail(bool flip)
{
	struct stat st;
	int fd;

	TU_CHECK(stat(jpath, &st) == 0 &&
		     st.st_size >= (off_t)(SEVD_JOURNAL_HEADER + SEVD_JREC_SIZE),
		 "journal size");
	if (!flip) {
		TU_CHECK(truncate(jpath, st.st_size - SEVD_JREC_SIZE / 2) == 0, "truncate");
		return;
	}
	fd = open(jpath, O_RDWR | O_CLOEXEC);
	{
		off_t off = st.st_size - SEVD_JREC_SIZE + 60;
		uint8_t b;

		TU_CHECK(fd >= 0 && pread(fd, &b, 1, off) == 1, "read the tail");
		b ^= 0x10;
		TU_CHECK(pwrite(fd, &b, 1, off) == 1, "flip a bit of the tail");
	}
	close(fd);
}

static void test_tail(uint32_t a)
{
	char path[96];
	int64_t used;

	for (int flip = 0; flip < 2; flip++) {
		/* The last change's record is the tail; a SIGKILL, then the tail damaged. */
		snprintf(path, sizeof(path), "/v1/guests/%u/%s", a,
			 flip ? "activate" : "deactivate");
		expect("POST", path, NULL, 200);
		used = asids_used();
		ru_sevd_stop(&D, true);
		damage_tail(flip);
		unlink(D.log);
		start(flip ? "with a bit-flipped journal tail" : "with a truncated journal tail");
		TU_CHECK(log_has("torn tail"), "the damaged tail is reported");
		invariants(true, true, flip ? "flipped tail" : "truncated tail");
		TU_CHECK_EQ(asids_used(),
			    used); /* firmware's binding, though its record was lost */
	}
	path_handle_status("/v1/guests/%u", a, "DELETE", 200);
	invariants(false, true, "the end");
}

/* A failed check exits at once: leave no daemon, emulator or mount behind. */
static void at_exit(void)
{
	if (D.pid > 0)
		ru_sevd_stop(&D, true);
	if (E.pid > 0)
		kill(E.pid, SIGKILL);
	if (state)
		(void)umount2(state, MNT_DETACH);
}

int main(void)
{
	char *conf, *ctl;
	uint32_t a = 0;
	int r;

	if (!getenv("SEVD_EXE") || !getenv("SEV_PSP_EMU_EXE"))
		tu_skip("SEVD_EXE or SEV_PSP_EMU_EXE not set (run through meson test)");
	if (geteuid() != 0)
		tu_skip("mounting a tmpfs as the state dir needs root");
	{
		const char *root = getenv("SEVD_SOURCE_ROOT");
		char *p;

		TU_CHECK(root != NULL, "SEVD_SOURCE_ROOT not set");
		p = path_join(root, "daemon/openapi.yaml");
		openapi = oa_load(p);
		TU_CHECK(openapi != NULL, "cannot read %s", p);
		free(p);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	signal(SIGPIPE, SIG_IGN);
	base = tu_mkdtemp();
	state = path_join(base, "state");
	TU_CHECK(mkdir(state, 0700) == 0, "mkdir %s", state);
	if (mount("tmpfs", state, "tmpfs", MS_NOSUID | MS_NODEV, TMPFS_SIZE) < 0) {
		char why[300];

		snprintf(why, sizeof(why), "cannot mount a tmpfs on %s: %s", state,
			 strerror(errno));
		tu_rmtree(base);
		tu_skip(why);
	}
	atexit(at_exit);
	jpath = path_join(state, SEVD_JOURNAL_FILE);
	TU_CHECK(tu_emu_start(base, NULL, &E) == 0, "emulator");
	conf = path_join(base, "sevd.conf");
	ctl = path_join(base, "control.sock");
	{
		char text[700];

		/* The grant-stream socket outside the tmpfs (a socket cannot be made on a
		 * read-only dir); a command timeout well above the 2 s stalls of part 3. */
		snprintf(text, sizeof(text), "control = %s\ncommand_timeout_ms = 30000\n", ctl);
		TU_CHECK(write_file_atomic(conf, text, strlen(text), 0600) == 0, "config");
	}
	D = (struct ru_sevd){
	    .state_dir = state, .run_dir = base, .emu_sock = E.socket, .config = conf};
	start("on the tmpfs");
	test_full(&a);
	test_readonly(a);
	test_after_firmware(a);
	test_tail(a);
	ru_sevd_stop(&D, false);
	tu_emu_stop(&E);
	E.pid = 0;
	r = umount2(state, MNT_DETACH);
	TU_CHECK(r == 0, "umount %s", state);
	tu_rmtree(base);
	free(conf);
	free(ctl);
	free(jpath);
	free(state);
	state = NULL;
	free(D.sock);
	free(D.log);
	json_object_put(openapi);
	tu_done("daemon-disk");
}
