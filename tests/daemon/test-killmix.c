/* Kill test under a mixed workload: the real sevd on the real emulator (with SEV-SNP on),
 * several client threads at once launching SEV, SEV-ES and SEV-SNP guests (POST /v1/guests, an
 * image of random size uploaded in 1 MiB LAUNCH_UPDATE_DATA or SNP_LAUNCH_UPDATE chunks, a
 * VMSA for SEV-ES and some SNP guests, measurement, finish, activate; some launches left
 * half-done on purpose), deactivating and re-activating, decommissioning and reading, SNP
 * guest requests on sevd's VMM socket (so that sevd holds its request pages), while
 * the main thread SIGKILLs sevd at a random moment. Then sevd is started again on the same
 * state dir and emulator, and the invariants hold (reliability-util.h): sevd's guest list and
 * the journal equal firmware's (GUEST_STATUS for every SEV handle, the emulator's CTL
 * snp-guests for SNP guests), the ASID pool holds exactly the running guests' ASIDs (none
 * lost, none held twice), no RMP page is assigned to a guest that is gone (nor left a
 * Firmware page in memory of the killed sevd, such as its request pages), and nothing is
 * left half-launched but what reconciliation keeps for its owner (a launch the kill
 * interrupted is finished and listed, kept as an unfinished SEV launch in LUPDATE/LSECRET
 * with its ASID, or cleaned up). Guests survive from one iteration to the next, so kills
 * also land on a daemon with history; the clients finish the half-done launches they adopt
 * (measure, finish, activate), so a kept launch is shown to finish.
 *
 * Usage: test-daemon-killmix [--iterations N] [--seed S] [--clients K] [--max-delay-ms M]
 * The seed (printed first; default: the time) fixes every client's sequence of operations and
 * every kill delay; the interleaving of the threads with sevd is the scheduler's, so a rerun
 * with the same seed repeats the workload and the kill times, not the exact instructions hit.
 * tests/soak/killmix runs the long version (200 iterations). */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "hv-glue/vmm-msg.h"
#include "psp/sev-abi.h"
#include "tests/daemon/reliability-util.h"
#include "tests/testutil.h"

#define CLIENTS_MAX 8
#define OWN_MAX 3 /* guests a client keeps at once */
#define IMAGE_MAX (2u * 1024 * 1024 + 4096)

enum op {
	OP_LAUNCH,
	OP_UPLOAD,
	OP_VMSA,
	OP_MEASURE,
	OP_FINISH,
	OP_ACTIVATE,
	OP_DEACTIVATE,
	OP_DELETE,
	OP_READ,
	OP_GUEST_REQUEST,
	OP_MAX_
};
static const char *const op_names[OP_MAX_] = {"launch",	  "upload",	"vmsa",
					      "measure",  "finish",	"activate",
					      "deactivate", "delete",	"read",
					      "guest-request"};

struct own {
	uint32_t handle;
	bool running, bound, snp; /* snp: bound from create to DELETE (SNP has no DEACTIVATE) */
};

struct client {
	pthread_t thread;
	unsigned id, iteration;
	unsigned seed; /* rand_r state */
	const char *sock;
	const char *vmm_sock; /* STATE_DIR/vmm.sock */
	struct own g[OWN_MAX];
	unsigned n;
	atomic_int in_flight; /* enum op of the request on the wire, -1 none */
	unsigned done[OP_MAX_];
	bool dead;	      /* sevd stopped answering (the kill): expected */
	char unexpected[768]; /* an answer nobody should get */
};

static uint8_t image[IMAGE_MAX], vmsa_page[4096];

static unsigned rnd(struct client *c, unsigned n)
{
	return (unsigned)rand_r(&c->seed) % n;
}

/* One request expecting `want`; false when the workload of this client must stop (sevd died,
 * or something unexpected was answered: recorded). */
static bool req(struct client *c, enum op op, const char *method, const char *path,
		const void *body, size_t len, const char *ctype, long want, struct gc_resp *out)
{
	struct gc_resp r;
	int cr;

	atomic_store(&c->in_flight, (int)op);
	cr = ru_request(c->sock, method, path, body, len, ctype, 60, &r);
	atomic_store(&c->in_flight, -1);
	if (cr != 0) {
		c->dead = true;
		gc_resp_free(&r);
		return false;
	}
	if (r.status != want) {
		snprintf(c->unexpected, sizeof(c->unexpected),
			 "%s %s answered %ld (want %ld): %.500s", method, path, r.status, want,
			 r.body);
		gc_resp_free(&r);
		return false;
	}
	c->done[op]++;
	if (out)
		*out = r;
	else
		gc_resp_free(&r);
	return true;
}

static bool guest_op(struct client *c, enum op op, const char *method, uint32_t h, const char *what)
{
	char path[96];

	snprintf(path, sizeof(path), "/v1/guests/%u%s", h, what);
	return req(c, op, method, path, NULL, 0, NULL, 200, NULL);
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* An SNP guest request for guest h on sevd's VMM socket, as a VMM forwards one: a message
 * page of zeros, which firmware refuses (INVALID_PARAM: header version 0) after sevd has made
 * (or reused) the request pages it keeps in the emulator, so kills also land on a sevd that
 * holds them. */
static bool guest_request(struct client *c, uint32_t h)
{
	_cleanup_free_ uint8_t *page = calloc(1, HV_VMM_PAGE), *out = malloc(HV_VMM_REQ_MAX),
			       *in = malloc(HV_VMM_ANS_MAX);
	struct hv_vmm_req q = {.type = HV_VMM_GUEST_REQUEST, .handle = h, .page = page};
	struct hv_vmm_ans a;
	const char *why = "?";
	int fd, n;

	TU_CHECK(page && out && in, "out of memory");
	atomic_store(&c->in_flight, (int)OP_GUEST_REQUEST);
	fd = unix_connect(c->vmm_sock);
	n = fd < 0 ? -1 : loop_write(fd, out, hv_vmm_req_build(&q, out));
	n = n < 0 ? n : hv_vmm_read_frame(fd, true, in, HV_VMM_ANS_MAX, &why);
	if (fd >= 0)
		close(fd);
	atomic_store(&c->in_flight, -1);
	if (n <= 0) { /* sevd is gone (the kill) */
		c->dead = true;
		return false;
	}
	if (hv_vmm_ans_parse(in, (size_t)n, &a, &why) < 0 || a.error >= 0 ||
	    a.fw_status != SEV_STATUS_INVALID_PARAM) {
		snprintf(c->unexpected, sizeof(c->unexpected),
			 "guest request for SNP guest %u: error %d fw_status 0x%x (want firmware's "
			 "INVALID_PARAM): %s", h, a.error, a.fw_status, a.reason);
		return false;
	}
	c->done[OP_GUEST_REQUEST]++;
	return true;
}

static void forget(struct client *c, unsigned i)
{
	c->g[i] = c->g[--c->n];
}

/* A launch of an SEV, SEV-ES or SEV-SNP guest (one in four each of ES and SNP), finished or
 * (one time in five) left half-done. An SNP guest's image is whole pages (SNP_LAUNCH_UPDATE),
 * its launch digest is read after finish, and its policy is sometimes given by name. */
static bool launch(struct client *c)
{
	unsigned kind = rnd(c, 4);
	bool es = kind == 0, snp = kind == 1, half = rnd(c, 5) == 0;
	size_t len = 1 + rnd(c, IMAGE_MAX);
	char body[200], path[96];
	struct gc_resp r;
	uint32_t h;

	if (snp) {
		len = 4096 * (1 + len % (IMAGE_MAX / 4096));
		snprintf(body, sizeof(body),
			 "{\"type\": \"snp\", \"policy\": %s, \"name\": \"km-%u-%u-%u\", "
			 "\"memory_size\": 4194304}",
			 rnd(c, 2) ? "196608" : "{\"flags\": [\"SMT\"]}", c->iteration, c->id,
			 c->done[OP_LAUNCH]);
	} else
		snprintf(body, sizeof(body),
			 "{\"policy\": %u, \"name\": \"km-%u-%u-%u\", \"memory_size\": 4194304}",
			 es ? 0x5u : 0x1u, c->iteration, c->id, c->done[OP_LAUNCH]);
	if (!req(c, OP_LAUNCH, "POST", "/v1/guests", body, strlen(body), NULL, 201, &r))
		return false;
	h = (uint32_t)gc_int(r.json, "handle");
	gc_resp_free(&r);
	c->g[c->n++] = (struct own){.handle = h, .bound = true, .snp = snp};
	snprintf(path, sizeof(path), "/v1/guests/%u/data", h);
	if (!req(c, OP_UPLOAD, "POST", path, image, len, "application/octet-stream", 200, NULL))
		return false;
	if (snp) {
		if (rnd(c, 2)) {
			snprintf(path, sizeof(path), "/v1/guests/%u/vmsa", h);
			if (!req(c, OP_VMSA, "POST", path, vmsa_page, sizeof(vmsa_page),
				 "application/octet-stream", 200, NULL))
				return false;
		}
		if (half)
			return true;
		if (!guest_op(c, OP_FINISH, "POST", h, "/finish") ||
		    !guest_op(c, OP_MEASURE, "GET", h, "/measurement"))
			return false;
		c->g[c->n - 1].running = true;
		return guest_op(c, OP_ACTIVATE, "POST", h, "/activate");
	}
	if (es) {
		snprintf(path, sizeof(path), "/v1/guests/%u/vmsa", h);
		if (!req(c, OP_VMSA, "POST", path, vmsa_page, sizeof(vmsa_page),
			 "application/octet-stream", 200, NULL))
			return false;
	}
	if (half)
		return true;
	if (!guest_op(c, OP_MEASURE, "GET", h, "/measurement") ||
	    !guest_op(c, OP_FINISH, "POST", h, "/finish"))
		return false;
	c->g[c->n - 1].running = true;
	return guest_op(c, OP_ACTIVATE, "POST", h, "/activate");
}

static bool step(struct client *c)
{
	unsigned x = rnd(c, 100), i = c->n ? rnd(c, c->n) : 0;

	if (c->n < OWN_MAX && x < 35)
		return launch(c);
	if (c->n && x < 45 && !c->g[i].running) { /* finish a half-done launch, kept or not */
		bool ok = c->g[i].snp /* SNP: the launch digest is read after finish */
			      ? guest_op(c, OP_FINISH, "POST", c->g[i].handle, "/finish") &&
				    guest_op(c, OP_MEASURE, "GET", c->g[i].handle, "/measurement")
			      : guest_op(c, OP_MEASURE, "GET", c->g[i].handle, "/measurement") &&
				    guest_op(c, OP_FINISH, "POST", c->g[i].handle, "/finish");
		if (!ok)
			return false;
		c->g[i].running = true;
		return guest_op(c, OP_ACTIVATE, "POST", c->g[i].handle, "/activate");
	}
	if (c->n && x < 55 && c->g[i].running) {
		if (c->g[i].bound && !c->g[i].snp) {
			if (!guest_op(c, OP_DEACTIVATE, "POST", c->g[i].handle, "/deactivate"))
				return false;
			c->g[i].bound = false;
		}
		if (!guest_op(c, OP_ACTIVATE, "POST", c->g[i].handle, "/activate"))
			return false;
		c->g[i].bound = true;
		return true;
	}
	if (c->n && x < 75 && c->g[i].running && c->g[i].snp)
		return guest_request(c, c->g[i].handle);
	if (c->n && (x < 80 || c->n == OWN_MAX)) {
		if (!guest_op(c, OP_DELETE, "DELETE", c->g[i].handle, ""))
			return false;
		forget(c, i);
		return true;
	}
	if (c->n)
		return guest_op(c, OP_READ, "GET", c->g[i].handle, "");
	return req(c, OP_READ, "GET", "/v1/asids", NULL, 0, NULL, 200, NULL);
}

/* The guests the restarted sevd lists, dealt out to the clients before any of them starts
 * (so that a guest launched meanwhile can never be owned twice). */
static void adopt(const char *sock, struct client *cl, unsigned nclients, unsigned it)
{
	struct gc_resp r;
	json_object *list;

	TU_CHECK(ru_request(sock, "GET", "/v1/guests", NULL, 0, NULL, 30, &r) == 0 &&
		     r.status == 200,
		 "iteration %u: GET /v1/guests", it);
	list = json_object_object_get(r.json, "guests");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *o = json_object_array_get_idx(list, i);
		struct client *c = &cl[i % nclients];

		TU_CHECK(c->n < OWN_MAX, "iteration %u: more guests than the clients keep", it);
		c->g[c->n++] = (struct own){.handle = (uint32_t)gc_int(o, "handle"),
					    .running = !strcmp(gc_str(o, "state"), "RUNNING"),
					    .bound = !gc_is_null(o, "asid"),
					    .snp = !strcmp(gc_str(o, "type"), "snp")};
	}
	gc_resp_free(&r);
}

static void *client_main(void *arg)
{
	struct client *c = arg;

	while (step(c))
		;
	return NULL;
}

/* ---- the runs ---- */

struct totals {
	unsigned kept, cleaned, unknown, gone, resumed, torn, interrupted[OP_MAX_ + 1],
	    done[OP_MAX_];
};

static void count_reconcile(const char *log, struct totals *t)
{
	const char *p = strstr(log, "Reconciled the journal with firmware: ");
	unsigned k, c, u, g, r;

	if (p && sscanf(p,
			"Reconciled the journal with firmware: %u guest(s) kept, %u half-done "
			"launch(es) cleaned up, %u unknown firmware guest(s) decommissioned, "
			"%u gone from firmware, %u unfinished",
			&k, &c, &u, &g, &r) == 5) {
		t->kept += k;
		t->cleaned += c;
		t->unknown += u;
		t->gone += g;
		t->resumed += r;
	}
	t->torn += strstr(log, "torn tail") != NULL;
}

static void restart_and_check(struct ru_sevd *d, unsigned it, unsigned seed, unsigned iters,
			      struct totals *t)
{
	char why[1024], *log;

	unlink(d->log ? d->log : "");
	TU_CHECK(ru_sevd_start(d, true),
		 "iteration %u: sevd does not start after the kill (seed %u; log %s)", it, seed,
		 d->log);
	log = ru_sevd_log(d);
	TU_CHECK(strstr(log, "Reconciled the journal with firmware") != NULL,
		 "iteration %u: no reconciliation logged", it);
	count_reconcile(log, t);
	free(log);
	TU_CHECK(ru_check_invariants(d->emu_sock, d->sock, d->state_dir, true, true, why,
				     sizeof(why)) == 0,
		 "iteration %u after the kill: %s (reproduce: --seed %u --iterations %u; log %s)",
		 it, why, seed, iters, d->log);
}

static void iteration(struct ru_sevd *d, unsigned it, unsigned seed, unsigned nclients,
		      unsigned max_delay_ms, unsigned iters, struct totals *t)
{
	static struct client cl[CLIENTS_MAX];
	unsigned kseed = seed ^ (it * 2654435761u);
	unsigned delay = 10 + (unsigned)rand_r(&kseed) % max_delay_ms;
	static char vmm_sock[256];

	snprintf(vmm_sock, sizeof(vmm_sock), "%s/vmm.sock", d->state_dir);

	for (unsigned i = 0; i < nclients; i++) {
		memset(&cl[i], 0, sizeof(cl[i]));
		cl[i].id = i;
		cl[i].iteration = it;
		cl[i].seed = seed + it * 131u + i * 7919u;
		cl[i].sock = d->sock;
		cl[i].vmm_sock = vmm_sock;
		atomic_store(&cl[i].in_flight, -1);
	}
	adopt(d->sock, cl, nclients, it);
	for (unsigned i = 0; i < nclients; i++)
		TU_CHECK(pthread_create(&cl[i].thread, NULL, client_main, &cl[i]) == 0, "thread");
	usleep(delay * 1000u);
	for (unsigned i = 0; i < nclients; i++) {
		int op = atomic_load(&cl[i].in_flight);

		t->interrupted[op < 0 ? OP_MAX_ : op]++;
	}
	ru_sevd_stop(d, true);
	for (unsigned i = 0; i < nclients; i++) {
		pthread_join(cl[i].thread, NULL);
		TU_CHECK(cl[i].unexpected[0] == '\0',
			 "iteration %u, client %u: %s (seed %u; log %s)", it, i, cl[i].unexpected,
			 seed, d->log);
		for (unsigned k = 0; k < OP_MAX_; k++)
			t->done[k] += cl[i].done[k];
	}
	restart_and_check(d, it, seed, iters, t);
}

/* Every guest decommissioned through sevd; firmware ends with none. */
static void final_cleanup(struct ru_sevd *d)
{
	struct gc_resp g, r;
	json_object *list;
	char why[1024];

	TU_CHECK(ru_request(d->sock, "GET", "/v1/guests", NULL, 0, NULL, 30, &g) == 0 &&
		     g.status == 200,
		 "GET /v1/guests");
	list = json_object_object_get(g.json, "guests");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		char path[64];

		snprintf(path, sizeof(path), "/v1/guests/%lld",
			 (long long)gc_int(json_object_array_get_idx(list, i), "handle"));
		TU_CHECK(ru_request(d->sock, "DELETE", path, NULL, 0, NULL, 30, &r) == 0 &&
			     r.status == 200,
			 "DELETE %s: %s", path, r.body);
		gc_resp_free(&r);
	}
	gc_resp_free(&g);
	TU_CHECK(ru_check_invariants(d->emu_sock, d->sock, d->state_dir, false, true, why,
				     sizeof(why)) == 0,
		 "after the final clean-up: %s", why);
}

static unsigned arg_uint(int argc, char **argv, const char *name, unsigned dflt)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], name)) {
			uint32_t v;

			TU_CHECK(parse_u32(argv[i + 1], &v) >= 0, "%s: not a number", name);
			return v;
		}
	return dflt;
}

static struct ru_sevd D;
static struct tu_emu E;

/* A failed check exits at once: leave no daemon or emulator behind. */
static void at_exit(void)
{
	if (D.pid > 0)
		ru_sevd_stop(&D, true);
	if (E.pid > 0)
		kill(E.pid, SIGKILL);
}

int main(int argc, char **argv)
{
	unsigned iters = arg_uint(argc, argv, "--iterations", 20);
	unsigned seed = arg_uint(argc, argv, "--seed", (unsigned)time(NULL));
	unsigned nclients = arg_uint(argc, argv, "--clients", 3);
	unsigned max_delay = arg_uint(argc, argv, "--max-delay-ms", 400);
	static const char *const emu_args[] = {"--snp", NULL};
	struct totals t = {0};
	char *dir;

	if (!getenv("SEVD_EXE") || !getenv("SEV_PSP_EMU_EXE"))
		tu_skip("SEVD_EXE or SEV_PSP_EMU_EXE not set (run through meson test)");
	TU_CHECK(nclients >= 1 && nclients <= CLIENTS_MAX && max_delay >= 1, "bad arguments");
	printf("killmix: seed %u, %u iterations, %u clients, kills 10..%u ms into the workload\n",
	       seed, iters, nclients, 10 + max_delay);
	fflush(stdout);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(image); i++)
		image[i] = (uint8_t)(i * 31 + 7);
	atexit(at_exit);
	ru_world(emu_args, 8, &E, &D, &dir);
	restart_and_check(&D, 0, seed, iters, &t);
	for (unsigned it = 1; it <= iters; it++)
		iteration(&D, it, seed, nclients, max_delay, iters, &t);
	final_cleanup(&D);
	ru_sevd_stop(&D, false);
	printf("killmix: %u kills, invariants held after every restart\n", iters);
	printf("killmix: requests answered:");
	for (unsigned k = 0; k < OP_MAX_; k++)
		printf(" %s %u", op_names[k], t.done[k]);
	printf("\nkillmix: in flight at the kills:");
	for (unsigned k = 0; k < OP_MAX_; k++)
		printf(" %s %u", op_names[k], t.interrupted[k]);
	printf(" (idle %u)\n", t.interrupted[OP_MAX_]);
	printf("killmix: reconciliation at the restarts: %u guests kept, %u unfinished launches "
	       "kept, %u half-done launches cleaned up, %u unknown firmware guests "
	       "decommissioned, %u gone; %u torn journal tails truncated\n",
	       t.kept, t.resumed, t.cleaned, t.unknown, t.gone, t.torn);
	TU_CHECK(t.done[OP_LAUNCH] > 0 && t.done[OP_DELETE] > 0,
		 "the workload did too little to test anything");
	tu_emu_stop(&E);
	tu_rmtree(dir);
	free(dir);
	free((char *)D.config);
	free(D.sock);
	free(D.log);
	tu_done("daemon-killmix");
}
