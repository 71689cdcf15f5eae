/* Crash safety of sevd with SEV-SNP guests: a short SNP workload (a guest launched, its pages
 * uploaded with SNP_LAUNCH_UPDATE and finished; a launch left half-done; a guest launched,
 * finished and decommissioned; the half-done one decommissioned) runs against the real sevd
 * and the real emulator (SNP on), and sevd is killed with a real SIGKILL at EVERY one of its
 * journal/firmware checkpoints (SEVD_TEST_CRASH_AT=N, daemon/core/crash.h; the number of
 * checkpoints comes from a reference run with SEVD_TEST_CRASH_LOG=1). Among them are the points
 * between an SNP guest's decommission (SNP_DECOMMISSION, its pages reclaimed, its memory region
 * unmapped from the emulator) and its DEL record: the journal still names the guest, whose
 * context page firmware no longer maps (SNP_GUEST_STATUS answers INVALID_ADDRESS). After each
 * kill sevd starts again on the same state dir and emulator, and the crash invariants hold
 * (reliability-util.h ru_check_invariants: sevd's list and the journal equal firmware's, the
 * ASID pool holds exactly the live guests' ASIDs, no RMP page is assigned to a guest that is
 * gone, no SNP launch is left half-done), before and after everything is decommissioned.
 * Every point is killed at, in order: the test is deterministic. First, a restart after an SNP
 * launch that firmware refused (SNP_LAUNCH_START: POLICY_FAILURE) and sevd undid (its context
 * decommissioned, its pages reclaimed, its region unmapped) but whose INTENT record is still in
 * the journal: the restart finds the launch undone and reports no pages it could not reclaim. */
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "tests/daemon/reliability-util.h"
#include "tests/testutil.h"

#define MAX_POINTS 400

static struct ru_sevd D;
static struct tu_emu E;
static uint8_t image[3 * 4096];

/* A failed check exits at once: leave no daemon or emulator behind. */
static void at_exit(void)
{
	if (D.pid > 0)
		ru_sevd_stop(&D, true);
	if (E.pid > 0)
		kill(E.pid, SIGKILL);
}

/* ---- the workload (runs in a child; any surprise ends it with a non-zero status) ---- */

/* The child ends without at_exit(), which would kill the parent's sevd and emulator. */
static _Noreturn void w_exit(int status)
{
	fflush(stderr);
	_exit(status);
}

static json_object *w_call(const char *method, const char *path, const void *body, size_t len,
			   const char *ctype, long want)
{
	struct gc_resp r;
	json_object *o;

	if (ru_request(D.sock, method, path, body, len, ctype, 30, &r) != 0) {
		fprintf(stderr, "workload: %s %s: no answer (sevd died)\n", method, path);
		w_exit(3);
	}
	if (r.status != want) {
		fprintf(stderr, "workload: %s %s answered %ld: %s\n", method, path, r.status,
			r.body);
		w_exit(2);
	}
	o = json_object_get(r.json);
	gc_resp_free(&r);
	return o;
}

static void w_op(const char *method, uint32_t h, const char *what)
{
	char path[96];

	snprintf(path, sizeof(path), "/v1/guests/%u%s", h, what);
	json_object_put(w_call(method, path, NULL, 0, NULL, 200));
}

/* An SNP launch with its image uploaded (SNP_LAUNCH_UPDATE); finished when finish. */
static uint32_t w_snp_launch(const char *name, bool finish)
{
	char body[160], path[96];
	json_object *o;
	uint32_t h;

	snprintf(body, sizeof(body),
		 "{\"type\": \"snp\", \"policy\": 196608, \"name\": \"%s\", "
		 "\"memory_size\": 1048576}",
		 name);
	o = w_call("POST", "/v1/guests", body, strlen(body), NULL, 201);
	h = (uint32_t)gc_int(o, "handle");
	json_object_put(o);
	snprintf(path, sizeof(path), "/v1/guests/%u/data", h);
	json_object_put(
	    w_call("POST", path, image, sizeof(image), "application/octet-stream", 200));
	if (finish)
		w_op("POST", h, "/finish");
	return h;
}

static _Noreturn void workload(void)
{
	uint32_t a, b, c;

	a = w_snp_launch("snp-alpha", true);  /* stays RUNNING */
	b = w_snp_launch("snp-bravo", false); /* half-done, then decommissioned */
	c = w_snp_launch("snp-charlie", true);
	w_op("GET", a, "/measurement");
	w_op("DELETE", c, "");
	w_op("DELETE", b, "");
	w_exit(0);
}

/* ---- checks ---- */

static void check(const char *when, unsigned point, bool restart)
{
	char why[1024];

	TU_CHECK(ru_check_invariants(D.emu_sock, D.sock, D.state_dir, restart, restart, why,
				     sizeof(why)) == 0,
		 "%s point %u: %s (log %s)", when, point, why, D.log);
}

/* Decommission everything, so that every run starts from the same firmware state. */
static void cleanup_guests(unsigned point)
{
	struct gc_resp g, r;
	json_object *list;

	TU_CHECK(ru_request(D.sock, "GET", "/v1/guests", NULL, 0, NULL, 30, &g) == 0 &&
		     g.status == 200,
		 "point %u: GET /v1/guests", point);
	list = json_object_object_get(g.json, "guests");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		char path[64];

		snprintf(path, sizeof(path), "/v1/guests/%lld",
			 (long long)gc_int(json_object_array_get_idx(list, i), "handle"));
		TU_CHECK(ru_request(D.sock, "DELETE", path, NULL, 0, NULL, 30, &r) == 0 &&
			     r.status == 200,
			 "point %u: clean-up DELETE %s: %s", point, path, r.body);
		gc_resp_free(&r);
	}
	gc_resp_free(&g);
}

/* A launch SNP_LAUNCH_START refuses (ABI minor 255 in the policy: POLICY_FAILURE), undone by
 * sevd; then a restart, which replays its INTENT record. */
static void undone_launch(void)
{
	static const char body[] = "{\"type\": \"snp\", \"policy\": 262143, \"name\": "
				   "\"snp-refused\", \"memory_size\": 1048576}";
	struct gc_resp r;
	char *log;

	unlink(D.log ? D.log : "");
	D.extra_env = NULL;
	TU_CHECK(ru_sevd_start(&D, true), "sevd starts");
	TU_CHECK(ru_request(D.sock, "POST", "/v1/guests", body, strlen(body), NULL, 30, &r) == 0 &&
		     r.status >= 400 && strstr(r.body, "SNP_LAUNCH_START") &&
		     strstr(r.body, "POLICY_FAILURE"),
		 "an SNP launch with ABI minor 255 answered %ld: %s", r.status, r.body);
	gc_resp_free(&r);
	ru_sevd_stop(&D, false);
	unlink(D.log);
	TU_CHECK(ru_sevd_start(&D, true), "sevd starts after an undone SNP launch (log %s)", D.log);
	log = ru_sevd_log(&D);
	TU_CHECK(strstr(log, "was undone already") != NULL,
		 "the restart did not find the refused SNP launch undone (log %s)", D.log);
	TU_CHECK(strstr(log, "could not be given back") == NULL,
		 "the restart tried to reclaim the pages of an unmapped region (log %s)", D.log);
	free(log);
	check("after an undone launch,", 0, true);
	ru_sevd_stop(&D, false);
}

/* The reference run: which checkpoints does the workload pass? */
static unsigned reference_run(void)
{
	unsigned max = 0;
	char *log, *p;
	pid_t w;
	int st;

	unlink(D.log ? D.log : "");
	D.extra_env = "SEVD_TEST_CRASH_LOG=1";
	TU_CHECK(ru_sevd_start(&D, true), "sevd starts");
	w = ru_fork_workload(workload, false);
	TU_CHECK(w > 0, "fork");
	TU_CHECK(waitpid(w, &st, 0) == w && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		 "the workload fails without a crash (status 0x%x; log %s)", st, D.log);
	log = ru_sevd_log(&D); /* the workload's checkpoints, not those of the checks below */
	for (p = log; (p = strstr(p, "sevd-crash-point ")); p++)
		max = MAX(max, (unsigned)strtoul(p + 17, NULL, 10));
	TU_CHECK(strstr(log, "SNP_DECOMMISSION") != NULL,
		 "the reference run passed no SNP_DECOMMISSION checkpoint (log %s)", D.log);
	free(log);
	check("reference run,", 0, false);
	cleanup_guests(0);
	check("reference run, cleaned up,", 0, false);
	ru_sevd_stop(&D, false);
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
	unlink(D.log);
	TU_CHECK(ru_sevd_start(&D, true), "sevd starts for point %u (log %s)", point, D.log);
	w = ru_fork_workload(workload, true);
	TU_CHECK(w > 0, "fork");
	stopped = ru_wait_checkpoint(D.pid, &w, point, D.log);
	ru_sevd_stop(&D, true);
	if (w)
		waitpid(w, &st, 0);
	return stopped;
}

int main(void)
{
	static const char *const emu_args[] = {"--snp", NULL};
	unsigned total, reached = 0, gone = 0;
	char *dir;

	if (!getenv("SEVD_EXE") || !getenv("SEV_PSP_EMU_EXE"))
		tu_skip("SEVD_EXE or SEV_PSP_EMU_EXE not set (run through meson test)");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(image); i++)
		image[i] = (uint8_t)(i * 13 + 5);
	atexit(at_exit);
	ru_world(emu_args, 6, &E, &D, &dir);
	undone_launch();
	total = reference_run();
	TU_CHECK(total >= 20 && total <= MAX_POINTS, "the workload passes %u checkpoints", total);
	printf("crash-snp: %u checkpoints in the workload, killing at every one\n", total);
	fflush(stdout);
	for (unsigned point = 1; point <= total; point++) {
		char *log;

		if (crash_run(point))
			reached++;
		else
			printf("crash-snp: the workload ended before checkpoint %u\n", point);
		D.extra_env = NULL;
		unlink(D.log);
		TU_CHECK(ru_sevd_start(&D, true),
			 "sevd does not start again after a kill at point %u (log %s)", point,
			 D.log);
		log = ru_sevd_log(&D);
		TU_CHECK(strstr(log, "Reconciled the journal with firmware") != NULL,
			 "no reconciliation logged after point %u (log %s)", point, D.log);
		gone += strstr(log, "memory region unmapped") != NULL;
		free(log);
		check("after a kill at", point, true);
		cleanup_guests(point);
		check("cleaned up after a kill at", point, false);
		ru_sevd_stop(&D, false);
	}
	printf("crash-snp: %u of %u kills landed on their checkpoint; %u restarts found an SNP "
	       "guest decommissioned, its memory unmapped, but not its DEL journaled\n",
	       reached, total, gone);
	TU_CHECK(reached == total, "only %u of %u kills landed on their checkpoint", reached,
		 total);
	TU_CHECK(gone > 0, "no kill landed between an SNP decommission and its DEL record");
	tu_emu_stop(&E);
	tu_rmtree(dir);
	free(dir);
	free((char *)D.config);
	free(D.sock);
	free(D.log);
	tu_done("daemon-crash-snp");
}
