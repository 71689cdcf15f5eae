/* The published lists (daemon/README.md "Reply cache", daemon/ipc/cache-region.h): the core
 * publishes the ASID pool's table and the guest list in its read-only region, and the
 * worker answers GET /v1/asids and GET /v1/guests from there, against the real sevd with its
 * unprivileged worker on the real sev-psp-emu:
 *   1. repeated GETs of each list are answered by the worker (sevd_worker_cache_hits_total
 *      {command="ASIDS"|"GUEST_LIST"}) with the same body, at most one core call per started
 *      second (the age bound);
 *   2. read-your-writes: a change is visible in the very next GET of the client that made it:
 *      create then list (the new guest is there), delete then list (gone), deactivate then
 *      asids (the ASID is pending flush, no longer held), activate then asids (held again);
 *      each list compared with firmware's own GUEST_STATUS of every guest it shows;
 *   3. the same under concurrency: reader threads poll both lists without pause while the
 *      main thread creates, deactivates, activates and deletes guests, and after each of its
 *      writes its own next GETs show the write; every reader answer is a whole, consistent
 *      list (valid JSON, counts that match the entries).
 * Loopback Unix socket only; every loop is bounded. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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

#define ROUNDS 6	  /* create / deactivate / activate / delete rounds under load */
#define READERS 3	  /* polling threads */
#define READER_MAX 20000 /* requests per reader at most (bounded) */

static struct psp_transport *emu; /* the test's own connection to the emulator */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void guest_post(struct gc_daemon *d, uint32_t h, const char *what, long want)
{
	char path[96];
	struct gc_resp r;

	snprintf(path, sizeof(path), "/v1/guests/%u/%s", h, what);
	TU_CHECK(gc_json(d, "POST", path, "{}", &r) == want, "POST %s: %ld %s", path, r.status,
		 r.body);
	gc_resp_free(&r);
}

static void guest_delete(struct gc_daemon *d, uint32_t h)
{
	char path[64];
	struct gc_resp r;

	snprintf(path, sizeof(path), "/v1/guests/%u", h);
	TU_CHECK(gc_json(d, "DELETE", path, NULL, &r) == 200, "DELETE %s: %ld %s", path, r.status,
		 r.body);
	gc_resp_free(&r);
}

/* GET /v1/guests: the entry of handle h (NULL: not listed); the list checked to be whole. */
static json_object *listed(json_object *list, uint32_t h)
{
	json_object *a = NULL;

	TU_CHECK(list && json_object_object_get_ex(list, "guests", &a) &&
			 json_object_is_type(a, json_type_array),
		 "GET /v1/guests without a guests array");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		json_object *g = json_object_array_get_idx(a, i);

		if ((uint32_t)gc_int(g, "handle") == h)
			return g;
	}
	return NULL;
}

/* Every guest the list shows is one firmware has, in the state and with the ASID firmware
 * reports for it. */
static void list_matches_firmware(json_object *list)
{
	json_object *a = NULL;

	if (!json_object_object_get_ex(list, "guests", &a))
		return;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *g = json_object_array_get_idx(a, i);
		uint32_t h = (uint32_t)gc_int(g, "handle");
		struct sev_cmd_guest_status st = {0};

		TU_CHECK(psp_cmd_guest_status(emu, h, &st, NULL) == 0,
			 "GUEST_STATUS of listed guest %u failed: firmware has no such guest", h);
		TU_CHECK_EQ((int64_t)st.asid, gc_int(g, "asid"));
	}
}

/* GET /v1/asids: the holder of asid (its "holders" entry), and whether it is pending. */
static void asid_state(json_object *o, uint32_t asid, bool *held, bool *pending)
{
	json_object *holders = NULL, *pend = NULL;

	*held = *pending = false;
	TU_CHECK(o && json_object_object_get_ex(o, "holders", &holders) &&
			 json_object_object_get_ex(o, "pending", &pend),
		 "GET /v1/asids without holders/pending");
	for (size_t i = 0; holders && i < json_object_array_length(holders); i++)
		if ((uint32_t)gc_int(json_object_array_get_idx(holders, i), "asid") == asid)
			*held = true;
	for (size_t i = 0; pend && i < json_object_array_length(pend); i++)
		if ((uint32_t)json_object_get_int64(json_object_array_get_idx(pend, i)) == asid)
			*pending = true;
}

static json_object *get_json(struct gc_daemon *d, const char *path)
{
	struct gc_resp r;
	json_object *o;

	TU_CHECK(gc_json(d, "GET", path, NULL, &r) == 200 && r.json, "GET %s: %ld %s", path,
		 r.status, r.body ? r.body : "");
	o = r.json ? json_object_get(r.json) : NULL;
	gc_resp_free(&r);
	return o;
}

static uint32_t asid_of(struct gc_daemon *d, uint32_t h)
{
	json_object *l = get_json(d, "/v1/guests"), *g = listed(l, h);
	uint32_t a = g ? (uint32_t)gc_int(g, "asid") : 0;

	json_object_put(l);
	return a;
}

/* One write and the writer's own next GETs. */
static void check_created(struct gc_daemon *d, uint32_t h)
{
	json_object *l = get_json(d, "/v1/guests");

	TU_CHECK(listed(l, h), "guest %u created but not in the next GET /v1/guests", h);
	list_matches_firmware(l);
	json_object_put(l);
}

static void check_deleted(struct gc_daemon *d, uint32_t h)
{
	json_object *l = get_json(d, "/v1/guests");

	TU_CHECK(!listed(l, h), "guest %u deleted but still in the next GET /v1/guests", h);
	list_matches_firmware(l);
	json_object_put(l);
}

static void check_asid(struct gc_daemon *d, uint32_t asid, bool want_held, const char *after)
{
	json_object *o = get_json(d, "/v1/asids");
	bool held, pending;

	asid_state(o, asid, &held, &pending);
	TU_CHECK(held == want_held && (want_held || pending),
		 "after %s, GET /v1/asids shows ASID %u %s%s", after, asid,
		 held ? "held" : "not held", pending ? ", pending flush" : "");
	json_object_put(o);
}

/* 1: repeated GETs from the worker, the same body, few core calls. */
static void repeated(struct gc_daemon *d, const char *path, const char *command, const char *op,
		     unsigned n)
{
	char hits[128], calls[128];
	struct gc_resp first, r;
	uint64_t h0, c0, h1, c1, allowed;
	double t0, secs;

	snprintf(hits, sizeof(hits), "sevd_worker_cache_hits_total{command=\"%s\"}", command);
	snprintf(calls, sizeof(calls), "sevd_core_requests_total{op=\"%s\"}", op);
	/* takes the entry */
	TU_CHECK(gc_json(d, "GET", path, NULL, &first) == 200, "GET %s", path);
	h0 = gc_metric_value(d, hits);
	c0 = gc_metric_value(d, calls);
	t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		TU_CHECK(gc_json(d, "GET", path, NULL, &r) == 200, "GET %s: %ld", path, r.status);
		TU_CHECK(r.body && first.body && !strcmp(r.body, first.body),
			 "GET %s changed with nothing done: %s / %s", path, first.body, r.body);
		gc_resp_free(&r);
	}
	secs = now_s() - t0;
	h1 = gc_metric_value(d, hits);
	c1 = gc_metric_value(d, calls);
	/* The first GET may have been answered before the entry was published (a job ran
	 * between): one more refresh. */
	allowed = (uint64_t)secs + 2;
	printf("%u x GET %s: %llu worker hits, %llu core calls, %.2f s\n", n, path,
	       (unsigned long long)(h1 - h0), (unsigned long long)(c1 - c0), secs);
	TU_CHECK(c1 - c0 <= allowed, "%u x GET %s in %.2f s: %llu core calls (at most %llu)", n,
		 path, secs, (unsigned long long)(c1 - c0), (unsigned long long)allowed);
	TU_CHECK_EQ(h1 - h0 + c1 - c0, (uint64_t)n);
	gc_resp_free(&first);
}

/* 2 and 3: writes, each checked by the writer's own next GETs. */
static void write_rounds(struct gc_daemon *d, unsigned rounds)
{
	for (unsigned i = 0; i < rounds; i++) {
		char name[32];
		uint32_t h, asid;

		snprintf(name, sizeof(name), "lists-%u", i);
		h = gc_launch(d, name);
		check_created(d, h);
		asid = asid_of(d, h);
		TU_CHECK(asid != 0, "guest %u listed without an ASID", h);
		check_asid(d, asid, true, "a launch");
		guest_post(d, h, "deactivate", 200);
		check_asid(d, asid, false, "a deactivate");
		guest_post(d, h, "activate", 200);
		check_asid(d, asid_of(d, h), true, "an activate");
		guest_delete(d, h);
		check_deleted(d, h);
	}
}

struct reader {
	struct gc_daemon *d;
	atomic_bool *stop;
	unsigned answers, bad;
	char why[256];
};

/* Poll both lists until told to stop; every answer must be a whole list. */
static void *reader_main(void *arg)
{
	struct reader *rd = arg;

	for (unsigned i = 0; i < READER_MAX && !atomic_load(rd->stop); i++) {
		struct gc_resp r;
		const char *path = i % 2 ? "/v1/asids" : "/v1/guests";
		json_object *a = NULL, *used = NULL;

		gc_request(rd->d, "GET", path, NULL, 0, NULL, &r);
		rd->answers++;
		if (r.status != 200 || !r.json)
			snprintf(rd->why, sizeof(rd->why), "GET %s: %ld", path, r.status);
		else if (i % 2 == 0 && !json_object_object_get_ex(r.json, "guests", &a))
			snprintf(rd->why, sizeof(rd->why), "GET /v1/guests without guests");
		else if (i % 2 && (!json_object_object_get_ex(r.json, "holders", &a) ||
				   !json_object_object_get_ex(r.json, "used", &used) ||
				   json_object_get_int64(used) != (int64_t)json_object_array_length(a)))
			snprintf(rd->why, sizeof(rd->why), "GET /v1/asids: used != holders: %s",
				 r.body);
		else
			a = NULL;
		if (rd->why[0] && !rd->bad++)
			fprintf(stderr, "reader: %s\n", rd->why);
		gc_resp_free(&r);
		(void)a;
		rd->why[0] = '\0';
	}
	return NULL;
}

static void test_concurrent(struct gc_daemon *d)
{
	struct reader rd[READERS];
	pthread_t t[READERS];
	atomic_bool stop = false;
	unsigned total = 0;

	for (unsigned i = 0; i < READERS; i++) {
		rd[i] = (struct reader){.d = d, .stop = &stop};
		TU_CHECK_EQ(pthread_create(&t[i], NULL, reader_main, &rd[i]), 0);
	}
	write_rounds(d, ROUNDS);
	atomic_store(&stop, true);
	for (unsigned i = 0; i < READERS; i++) {
		pthread_join(t[i], NULL);
		TU_CHECK(rd[i].bad == 0, "reader %u: %u bad answers of %u", i, rd[i].bad,
			 rd[i].answers);
		total += rd[i].answers;
	}
	printf("%u rounds of writes, each seen by the writer's next GETs, under %u list reads\n",
	       ROUNDS, total);
}

static void run(void)
{
	_cleanup_free_ char *dir = tu_mkdtemp(), *spec = NULL;
	struct gc_daemon d = {0};
	struct tu_emu e;
	uint32_t keep;

	TU_CHECK(tu_emu_start(dir, NULL, &e) == 0, "emulator");
	TU_CHECK(asprintf(&spec, "emu:%s", e.socket) > 0, "asprintf");
	TU_CHECK_EQ(psp_open(spec, &emu), 0);
	d.dir = dir;
	d.emu_sock = e.socket;
	TU_CHECK(gc_start(&d, true), "sevd start (log %s)", d.log);
	keep = gc_launch(&d, "lists-kept");
	check_created(&d, keep);
	repeated(&d, "/v1/guests", "GUEST_LIST", "GUEST_LIST", 60);
	repeated(&d, "/v1/asids", "ASIDS", "ASIDS", 60);
	write_rounds(&d, 2);
	test_concurrent(&d);
	check_created(&d, keep);
	gc_stop(&d, false);
	psp_close(emu);
	tu_emu_stop(&e);
	free(d.sock);
	free(d.log);
	tu_rmtree(dir);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	run();
	tu_done("daemon-lists");
}
