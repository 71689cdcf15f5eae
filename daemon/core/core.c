/* The privileged core: owns the PSP transport, the firmware queue, the ASID pool and the
 * metrics. Serves fixed-size requests (core.h) from the HTTP side, which it does not trust:
 * every op code and length is checked here. Firmware ops run as jobs on the queue's single
 * worker, so firmware sees one command at a time whatever the number of clients. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "attest/snp-report.h"
#include "common/util.h"
#include "daemon/ipc/cache-region.h"
#include "daemon/core/authz.h"
#include "daemon/core/core-internal.h"
#include "daemon/core/core.h"
#include "daemon/core/emu-ctl.h"
#include "daemon/core/fwerrors.h"
#include "daemon/core/guest.h"
#include "daemon/core/metrics.h"
#include "daemon/core/queue.h"
#include "daemon/core/snp-certs.h"
#include "psp/commands.h"
#include "psp/psp-emu.h"
#include "psp/transport.h"

/* Reply caches. GET /v1/platform and GET /v1/guests/{h} are read far more often
 * than firmware state changes, and each used to cost a firmware command through the queue.
 * The rule that keeps a cached answer as fresh as asking firmware, as far as sevd can change
 * firmware state: an entry is served only while no job has started on the firmware queue
 * since it was taken (sevd_queue_started() unchanged; every firmware command sevd issues runs
 * in a job). So every queued job -- any command, whether it succeeded or failed, an ASID
 * flush, a recovery or reconnection, the guest table's reconciliation -- invalidates every
 * entry; a failed PLATFORM_STATUS or GUEST_STATUS also drops its entry; nothing is served
 * while the PSP is unhealthy (refused before the cache is looked at). What sevd cannot see --
 * the kernel's own SEV commands on a host, another client of the emulator, a PSP that died
 * while idle -- is bounded by age: an entry older than SEVD_CACHE_MAX_MS is asked again.
 * A job that finds an entry taken by the job just before it (nothing ran in between) answers
 * from it too, so a burst of queued GETs costs one command. daemon/README.md "Reply cache".
 *
 * Every change of an entry (taken, renewed, dropped) and of the PSP's health is published,
 * under the same lock, to the region the worker maps read-only (cache-region.h; the queue
 * keeps its started counter there), so that the worker answers cached GETs itself under this
 * same rule. The core never reads the region: the entries below are the authority.
 * SEVD_CACHE_MAX_MS and SEVD_GUEST_CACHE_SLOTS are in cache-region.h. */

struct cache_entry {
	bool valid;
	uint64_t gen; /* sevd_queue_started() while it was taken (on the firmware thread) */
	uint64_t ms;  /* CLOCK_MONOTONIC when taken */
};

struct reply_cache {
	pthread_mutex_t lock;
	struct cache_entry platform_e;
	struct sevd_platform_info platform;
	struct {
		struct cache_entry e;
		struct sevd_guest_info info;
	} guest[SEVD_GUEST_CACHE_SLOTS];
	uint64_t hits_platform, hits_guest;
	struct sevd_region *region; /* the worker's read-only mirror; NULL: none */
	/* GET /v1/platform/certs (each public GET ran a PDH_CERT_EXPORT). The export
	 * changes only with the owner's keys, so the entry's gen is certs_gen, which every op
	 * that can change them (certs_changing) and every PSP recovery move before touching
	 * firmware; changes behind sevd's back are bounded by SEVD_CACHE_MAX_MS as above. Core
	 * only (not in the worker's region). */
	struct cache_entry certs_e;
	typeof(((struct sevd_reply *)0)->u.certs) certs;
	uint64_t hits_certs;
	/* GUEST_LIST as a principal without a tenant sees it (every tenant's guests), under the
	 * rule above; published to the region too. Tenant principals' lists are not kept. */
	struct cache_entry list_e;
	typeof(((struct sevd_reply *)0)->u.guests) *list; /* allocated on first use */
	uint64_t hits_list;
};

struct sevd_core {
	struct psp_transport *psp;
	struct sevd_queue *queue;
	struct sevd_asid_pool *pool;
	struct sevd_metrics *metrics;
	struct psp_cpuid cpuid;
	char *emu_socket; /* control channel for WBINVD; NULL on hardware */
	bool snp_certs_no_fetch; /* kds_url = off */
	char *kds_url;		 /* kds_url when a URL (the worker fetches), else NULL */
	char *roots_dir;
	int tmr_fd; /* the SEV-ES TMR given to firmware at INIT, or -1 */
	uint64_t tmr_base;
	struct sevd_guests *guests; /* NULL without a state dir */
	/* PSP health: a lost or stuck transport marks the PSP unhealthy; firmware
	 * requests are then refused at once, and the recovery thread reconnects. */
	char *psp_spec;
	pthread_mutex_t health_lock;
	pthread_cond_t health_cond;
	bool unhealthy, recover_stop, have_recover;
	char unhealthy_reason[160];
	uint64_t recoveries;
	pthread_t recover_thread;
	bool auto_init, init_es;
	bool snp_cfg;	    /* sevd.conf snp */
	uint8_t snp_start; /* enum sevd_snp_start: what the start did */
	uint8_t snp_gen;   /* enum snp_gen */
	int (*restart_psp)(void *userdata);
	void *restart_userdata;
	/* The platform state last seen (worker only): a platform found UNINIT on reconnection
	 * that was not UNINIT before was reset under us. reset_pending keeps that until the
	 * re-INIT and the guest clean-up have both succeeded. */
	uint8_t last_pstate;
	bool reset_pending;
	struct reply_cache cache;
	_Atomic uint64_t certs_gen; /* reply_cache.certs_e */
	_Atomic uint64_t calls[SEVD_OP_MAX_]; /* sevd_core_requests_total{op} */
	struct sevd_authz *authz; /* who may do what (authz.h) */
	struct sevd_snp_certs *snp_certs; /* the host's SNP certificate table (snp-certs.h) */
};

/* Set while this thread runs a job (on the firmware thread, or inline on a caller's thread:
 * queue.h), so that a flush asked for from inside a job runs directly instead of queueing behind
 * itself. */
static _Thread_local bool on_fw_thread;

/* A job's body with on_fw_thread set, restored after (an inline job runs on a caller's thread). */
#define AS_JOB(call)                                                                               \
	do {                                                                                       \
		bool _was = on_fw_thread;                                                             \
		on_fw_thread = true;                                                                  \
		call;                                                                              \
		on_fw_thread = _was;                                                                  \
	} while (0)

typedef void (*op_fn)(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep);

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Under cache.lock. in_job: called from a job on the firmware thread, which itself counts as
 * started: the entry may then be one generation older (taken by the job just before) and is renewed
 * to this job's generation. */
static bool cache_fresh(struct sevd_core *c, struct cache_entry *e, bool in_job)
{
	uint64_t started = sevd_queue_started(c->queue);

	if (!e->valid || now_ms() - e->ms >= SEVD_CACHE_MAX_MS)
		return false;
	if (e->gen == started)
		return true;
	if (in_job && e->gen + 1 == started) {
		e->gen = started;
		return true;
	}
	return false;
}

/* On the worker, at the end of the job that asked firmware. */
static void cache_take(struct sevd_core *c, struct cache_entry *e)
{
	e->valid = true;
	e->gen = sevd_queue_started(c->queue);
	e->ms = now_ms();
}

/* Mirror an entry into the worker's region (under cache.lock, after every change). */
static void publish_platform(struct reply_cache *k)
{
	sevd_region_put_platform(k->region, k->platform_e.valid, k->platform_e.gen,
				 k->platform_e.ms, &k->platform);
}

static void publish_list(struct reply_cache *k)
{
	sevd_region_put_list(k->region, k->list_e.valid && k->list, k->list_e.gen, k->list_e.ms,
			     k->list);
}

/* The counted part of a guest list (its count, then the entries it says). */
static void copy_list(typeof(((struct sevd_reply *)0)->u.guests) *dst,
		      const typeof(((struct sevd_reply *)0)->u.guests) *src)
{
	uint32_t n = src->n <= SEVD_GUESTS_MAX ? src->n : SEVD_GUESTS_MAX;

	dst->n = n;
	memcpy(dst->g, src->g, (size_t)n * sizeof(src->g[0]));
}

static void publish_guest(struct reply_cache *k, unsigned slot)
{
	sevd_region_put_guest(k->region, slot, k->guest[slot].e.valid, k->guest[slot].e.gen,
			      k->guest[slot].e.ms, &k->guest[slot].info);
}

/* Answer PLATFORM_STATUS or GUEST_INFO from the cache: true when rep is filled. */
static bool cache_answer(struct sevd_core *c, const struct sevd_request *req,
			 struct sevd_reply *rep, bool in_job)
{
	struct reply_cache *k = &c->cache;
	bool hit = false;

	pthread_mutex_lock(&k->lock);
	if (req->op == SEVD_OP_PLATFORM_STATUS && cache_fresh(c, &k->platform_e, in_job)) {
		rep->u.platform = k->platform;
		k->hits_platform++;
		hit = true;
		if (in_job)
			publish_platform(k); /* cache_fresh may have renewed its generation */
	} else if (req->op == SEVD_OP_GUEST_LIST) {
		if (k->list && cache_fresh(c, &k->list_e, in_job)) {
			copy_list(&rep->u.guests, k->list);
			k->hits_list++;
			hit = true;
			if (in_job)
				publish_list(k);
		}
	} else if (req->op == SEVD_OP_GUEST_INFO) {
		uint32_t h = req->u.guest.handle;
		typeof(k->guest[0]) *g = &k->guest[h % SEVD_GUEST_CACHE_SLOTS];

		if (g->info.handle == h &&
		    sevd_guest_id_matches(req->caller.guest_id, g->info.id) &&
		    cache_fresh(c, &g->e, in_job)) {
			rep->u.guest.command = 0;
			rep->u.guest.info = g->info;
			k->hits_guest++;
			hit = true;
			if (in_job)
				publish_guest(k, h % SEVD_GUEST_CACHE_SLOTS);
		}
	}
	pthread_mutex_unlock(&k->lock);
	return hit;
}

/* On the worker after GUEST_INFO ran: keep a success, drop anything else. */
static void cache_guest_done(struct sevd_core *c, const struct sevd_request *req,
			     const struct sevd_reply *rep)
{
	struct reply_cache *k = &c->cache;
	typeof(k->guest[0]) *g = &k->guest[req->u.guest.handle % SEVD_GUEST_CACHE_SLOTS];

	pthread_mutex_lock(&k->lock);
	if (rep->r == 0 && rep->u.guest.info.handle == req->u.guest.handle) {
		g->info = rep->u.guest.info;
		cache_take(c, &g->e);
	} else if (g->info.handle == req->u.guest.handle)
		g->e.valid = false;
	publish_guest(k, req->u.guest.handle % SEVD_GUEST_CACHE_SLOTS);
	pthread_mutex_unlock(&k->lock);
}

/* On the firmware thread after GUEST_LIST ran for a principal without a tenant: keep a
 * success (taken at this job's generation, as cache_take does), drop anything else. */
static void cache_list_done(struct sevd_core *c, const struct sevd_reply *rep)
{
	struct reply_cache *k = &c->cache;

	pthread_mutex_lock(&k->lock);
	if (!k->list)
		k->list = malloc(sizeof(*k->list));
	if (rep->r == 0 && k->list) {
		copy_list(k->list, &rep->u.guests);
		cache_take(c, &k->list_e);
	} else
		k->list_e.valid = false;
	publish_list(k);
	pthread_mutex_unlock(&k->lock);
}

static double since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Errors by which a transport says the PSP itself is gone or stuck, not that one command
 * failed: psp-emu.c kills its connection on each (a timeout as Linux's sev-dev marks the PSP
 * dead after its command timeout), and every later call answers the same error. */
static bool transport_lost(int r)
{
	return r == -ETIMEDOUT || r == -EPROTO || r == -ECONNRESET || r == -EPIPE ||
	       r == -ECONNREFUSED || r == -ENOTCONN || r == -ESHUTDOWN;
}

static void mark_unhealthy(struct sevd_core *c, uint32_t cmd, int r)
{
	bool was;

	pthread_mutex_lock(&c->health_lock);
	was = c->unhealthy;
	if (!was) {
		c->unhealthy = true;
		sevd_region_set_unhealthy(c->cache.region, true);
		snprintf(c->unhealthy_reason, sizeof(c->unhealthy_reason), "%s: %s", sev_cmd_name(cmd),
			 r == -ETIMEDOUT ? "no answer within command_timeout_ms"
			 : r == -EPROTO	 ? "malformed reply (protocol error)"
					 : "connection to the PSP lost");
		pthread_cond_signal(&c->health_cond);
	}
	pthread_mutex_unlock(&c->health_lock);
	if (!was)
		log_error("PSP marked unhealthy: %s: %s (%s); refusing firmware commands until "
			  "sevd reconnects",
			  sev_cmd_name(cmd),
			  r == -ETIMEDOUT ? "no answer within command_timeout_ms"
			  : r == -EPROTO  ? "malformed reply (protocol error)"
					  : "connection to the PSP lost",
			  strerror(-r));
}

/* Record one firmware command's outcome in the metrics and in the reply (when it failed). */
static int fw_done(struct sevd_core *c, struct sevd_reply *rep, uint32_t cmd, int r, int psp_ret,
		   const struct timespec *t0)
{
	char buf[200];

	sevd_metrics_command(c->metrics, cmd, r == 0 ? SEV_STATUS_SUCCESS : psp_ret, since(t0));
	sevd_fwerrors_note(cmd, r, psp_ret); /* the status page's recent failures */
	if (r < 0 && transport_lost(r))
		mark_unhealthy(c, cmd, r);
	if (r < 0 && rep) {
		rep->r = r;
		rep->fw_status = r == -EIO ? psp_ret : SEV_STATUS_NO_FW_CALL;
		snprintf(rep->message, sizeof(rep->message), "%s failed: %s", sev_cmd_name(cmd),
			 psp_strerror(r, psp_ret, buf, sizeof(buf)));
	}
	return r;
}

/* WBINVD on every core, then DF_FLUSH (SEV API §5.x DF_FLUSH: WBINVD_REQUIRED otherwise).
 * On the emulator WBINVD is a control message; on hardware it is the kernel's business
 * (sev-dev.c runs wbinvd_on_all_cpus() before DF_FLUSH, and /dev/sev does not offer DF_FLUSH
 * to user space at all), so there this answers -EOPNOTSUPP. Runs on the firmware thread. */
static int flush_cmd_on_fw_thread(struct sevd_core *c, struct sevd_reply *rep, bool snp)
{
	struct timespec t0;
	int psp_ret;
	char reply[128];
	int r;

	if (!c->emu_socket) {
		if (rep)
			snprintf(rep->message, sizeof(rep->message),
				 "DF_FLUSH: on hardware the kernel flushes ASIDs, not sevd");
		return -EOPNOTSUPP;
	}
	r = sevd_emu_ctl(c->emu_socket, "wbinvd", reply, sizeof(reply));
	if (r < 0) {
		log_warning_errno(r, "WBINVD through the emulator's control channel failed: %m");
		return r;
	}
	sevd_fw_begin(&psp_ret, &t0);
	r = snp ? psp_cmd_snp_df_flush(c->psp, &psp_ret) : psp_cmd_df_flush(c->psp, &psp_ret);
	r = fw_done(c, rep, snp ? SEV_CMD_SNP_DF_FLUSH : SEV_CMD_DF_FLUSH, r, psp_ret, &t0);
	if (r < 0)
		log_warning("ASID flush: DF_FLUSH failed: %s", rep ? rep->message : "see metrics");
	return r;
}

static int flush_on_fw_thread(struct sevd_core *c, struct sevd_reply *rep)
{
	/* With SNP up the flush is SNP_DF_FLUSH (KVM sev_flush_asids): ASIDs SNP guests ran on
	 * are clean only after it. */
	return flush_cmd_on_fw_thread(c, rep,
				      c->snp_start == SEVD_SNP_INITIALIZED ||
					  c->snp_start == SEVD_SNP_FOUND);
}

struct flush_job {
	struct sevd_core *c;
	int r;
};

static void flush_job_run(void *arg)
{
	struct flush_job *j = arg;

	AS_JOB(j->r = flush_on_fw_thread(j->c, NULL));
}

/* The pool's flush callback: direct on the firmware thread, queued from anywhere else. */
static int pool_flush(void *userdata)
{
	struct flush_job j = { .c = userdata };
	int r;

	if (on_fw_thread)
		return flush_on_fw_thread(j.c, NULL);
	r = sevd_queue_run(j.c->queue, flush_job_run, &j);
	return r < 0 ? r : j.r;
}

static void fill_platform(struct sevd_core *c, const struct sev_cmd_platform_status *st,
			  struct sevd_platform_info *p)
{
	memset(p, 0, sizeof(*p));
	c->last_pstate = st->state;
	p->status = *st;
	p->cpuid_max = c->cpuid.ecx;
	p->cpuid_min_sev = c->cpuid.edx;
	sevd_asid_range(c->pool, true, &p->es_first, &p->es_last);
	sevd_asid_range(c->pool, false, &p->sev_first, &p->sev_last);
	snprintf(p->transport, sizeof(p->transport), "%s", psp_transport_kind(c->psp));
}

/* PLATFORM_STATUS from firmware, kept in the cache (dropped when it failed). It must be the
 * last firmware command of its job: the next job may answer from the entry (cache_fresh). */
static void platform_status_fw(struct sevd_core *c, struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret;
	struct sev_cmd_platform_status st;
	int r;

	sevd_fw_begin(&psp_ret, &t0);
	r = psp_cmd_platform_status(c->psp, &st, &psp_ret);
	r = fw_done(c, rep, SEV_CMD_PLATFORM_STATUS, r, psp_ret, &t0);
	pthread_mutex_lock(&c->cache.lock);
	if (r >= 0) {
		fill_platform(c, &st, &c->cache.platform);
		rep->u.platform = c->cache.platform;
		cache_take(c, &c->cache.platform_e);
	} else
		c->cache.platform_e.valid = false;
	publish_platform(&c->cache);
	pthread_mutex_unlock(&c->cache.lock);
}

static void op_platform_status(struct sevd_core *c, const struct sevd_request *req,
			       struct sevd_reply *rep)
{
	if (!cache_answer(c, req, rep, true))
		platform_status_fw(c, rep);
}

/* Mutating platform ops answer the platform status after the change (asked anew: the cache
 * may hold the state before it). */
static void after_change(struct sevd_core *c, struct sevd_reply *rep)
{
	platform_status_fw(c, rep);
}

/* The ops after which PDH_CERT_EXPORT may answer something else: new keys (PEK_GEN, PDH_GEN,
 * PEK_CERT_IMPORT), a deleted owner store (FACTORY_RESET) and the INIT that makes a new one
 * (psp/emu/platform.c: INIT generates what is missing), and SHUTDOWN, which precedes both. */
static bool certs_changing(uint32_t op)
{
	return op == SEVD_OP_INIT || op == SEVD_OP_SHUTDOWN || op == SEVD_OP_FACTORY_RESET ||
	       op == SEVD_OP_PEK_GEN || op == SEVD_OP_PDH_GEN || op == SEVD_OP_PEK_CERT_IMPORT;
}

static bool certs_answer(struct sevd_core *c, struct sevd_reply *rep)
{
	struct reply_cache *k = &c->cache;
	struct cache_entry *e = &k->certs_e;
	bool hit;

	pthread_mutex_lock(&k->lock);
	hit = e->valid && now_ms() - e->ms < SEVD_CACHE_MAX_MS &&
	      e->gen == atomic_load(&c->certs_gen);
	if (hit) {
		rep->u.certs = k->certs;
		k->hits_certs++;
	}
	pthread_mutex_unlock(&k->lock);
	return hit;
}

/* After a successful export (on the firmware thread, whose jobs run one at a time: no op moved
 * certs_gen since this job began). */
static void certs_take(struct sevd_core *c, const struct sevd_reply *rep)
{
	struct reply_cache *k = &c->cache;

	pthread_mutex_lock(&k->lock);
	k->certs = rep->u.certs;
	k->certs_e = (struct cache_entry){
		.valid = true, .gen = atomic_load(&c->certs_gen), .ms = now_ms()
	};
	pthread_mutex_unlock(&k->lock);
}

/* SEV-ES needs a Trusted Memory Region for INIT (SEV API §5.1.2 INIT: TMR_PADDR/TMR_LEN,
 * 1 MiB, 1 MiB aligned); Linux allocates it in sev_es_reserve_trusted_region(). On the
 * emulator the core gives it a memfd of its own (region bases are 1 TiB aligned); it stays
 * firmware's for the core's lifetime. On hardware the kernel has done INIT already. */
#define SEVD_TMR_SIZE (1u << 20)

static bool snp_up(const struct sevd_core *c)
{
	return c->snp_start == SEVD_SNP_INITIALIZED || c->snp_start == SEVD_SNP_FOUND;
}

/* With SNP up, the TMR must be Firmware pages (AMD-ASPFW INIT: check_page_range_firmware_
 * writable; Linux allocates it with __snp_alloc_firmware_pages). Host RMPUPDATE per 4 KiB. */
static int tmr_to_firmware(struct sevd_core *c)
{
	char line[96];
	int r;

	for (uint64_t off = 0; off < SEVD_TMR_SIZE; off += SEV_PAGE_SIZE) {
		snprintf(line, sizeof(line), "rmpupdate 0x%llx,assigned=1,immutable=1",
			 (unsigned long long)(c->tmr_base + off));
		r = psp_emu_ctl(c->psp, line, NULL, NULL);
		if (r < 0)
			return log_error_errno(r, "RMPUPDATE of the SEV-ES TMR to Firmware failed: %m");
	}
	return 0;
}

static int init_with_tmr(struct sevd_core *c, uint32_t flags, int *psp_ret)
{
	struct sev_cmd_init b = { .flags = flags };
	int r;

	if ((flags & SEV_INIT_FLAGS_SEV_ES) && c->emu_socket && c->tmr_fd < 0) {
		_cleanup_close_ int fd = memfd_create("sevd-tmr", MFD_CLOEXEC);

		if (fd < 0 || ftruncate(fd, SEVD_TMR_SIZE) < 0)
			return negative_errno();
		r = psp_map_memfd(c->psp, fd, SEVD_TMR_SIZE, &c->tmr_base);
		if (r >= 0 && snp_up(c))
			r = tmr_to_firmware(c);
		if (r < 0)
			return r;
		c->tmr_fd = TAKE_FD(fd);
	}
	if (c->tmr_fd >= 0 && (flags & SEV_INIT_FLAGS_SEV_ES)) {
		b.tmr_paddr = c->tmr_base;
		b.tmr_len = SEVD_TMR_SIZE;
	}
	r = psp_issue(c->psp, SEV_CMD_INIT, &b, psp_ret);
	/* Firmware that finds its NV store corrupt erases it and answers SECURE_DATA_INVALID;
	 * Linux (__sev_platform_init_locked) then retries INIT once, on the blank store. */
	if (r == -EIO && *psp_ret == SEV_STATUS_SECURE_DATA_INVALID) {
		log_warning("INIT answered SECURE_DATA_INVALID: firmware erased its corrupt NV "
			    "store; retrying INIT once (new owner keys)");
		r = psp_issue(c->psp, SEV_CMD_INIT, &b, psp_ret);
	}
	return r;
}

static void op_init(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;
	uint32_t flags = req->u.init.es ? SEV_INIT_FLAGS_SEV_ES : 0;

	sevd_fw_begin(&psp_ret, &t0);
	r = init_with_tmr(c, flags, &psp_ret);
	if (fw_done(c, rep, SEV_CMD_INIT, r, psp_ret, &t0) < 0)
		return;
	/* Linux's __sev_platform_init_locked: INIT, then WBINVD on all CPUs and DF_FLUSH, so
	 * that no ASID is dirty afterwards — the legacy DF_FLUSH also with SNP up ("Prepare for
	 * first SEV guest launch after INIT"): it is the one that sets up SEV-ES's trusted memory
	 * region, without which LAUNCH_UPDATE_VMSA answers RESOURCE_LIMIT. */
	if (c->emu_socket && flush_cmd_on_fw_thread(c, rep, false) < 0)
		return;
	sevd_asid_mark_all_clean(c->pool);
	after_change(c, rep);
}

static void op_simple(struct sevd_core *c, struct sevd_reply *rep, uint32_t cmd,
		      int (*fn)(struct psp_transport *, int *))
{
	struct timespec t0;
	int psp_ret, r;

	sevd_fw_begin(&psp_ret, &t0);
	r = fn(c->psp, &psp_ret);
	if (fw_done(c, rep, cmd, r, psp_ret, &t0) < 0)
		return;
	after_change(c, rep);
}

/* SHUTDOWN destroys every guest context in firmware (the emulator's cmd_shutdown; Linux
 * refuses FACTORY_RESET with guests running, sev_ioctl_do_reset). With guests in sevd's table
 * both are refused unless the admin forces them (the table, the ASID pool and
 * firmware disagreed after a SHUTDOWN); forced, every guest is dropped through the path a PSP
 * reset takes, journalled. -ENOTEMPTY with the count and the way out when refused. */
static int refuse_with_guests(struct sevd_core *c, const struct sevd_request *req,
			      struct sevd_reply *rep, const char *command, const char *route)
{
	unsigned n = c->guests ? sevd_guests_count(c->guests) : 0;

	if (n == 0 || req->u.reset.force)
		return 0;
	snprintf(rep->message, sizeof(rep->message),
		 "%s would destroy the %u guest(s) sevd holds: delete them first, or POST "
		 "%s?force=1 to drop them all",
		 command, n, route);
	return rep->r = -ENOTEMPTY;
}

static void drop_guests(struct sevd_core *c, const char *command)
{
	if (c->guests && sevd_guests_count(c->guests))
		sevd_guests_after_shutdown(c->guests, command);
}

static void op_shutdown(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;

	if (refuse_with_guests(c, req, rep, "SHUTDOWN", "/v1/platform/shutdown") < 0)
		return;
	sevd_fw_begin(&psp_ret, &t0);
	r = psp_cmd_shutdown(c->psp, &psp_ret);
	if (fw_done(c, rep, SEV_CMD_SHUTDOWN, r, psp_ret, &t0) < 0)
		return;
	drop_guests(c, "SHUTDOWN");
	after_change(c, rep);
}

/* FACTORY_RESET is valid in UNINIT only (SEV API 55766 FACTORY_RESET); forced with guests,
 * the platform is shut down first, as Linux's sev_ioctl_do_reset does in INIT. */
static void op_factory_reset(struct sevd_core *c, const struct sevd_request *req,
			     struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;

	if (refuse_with_guests(c, req, rep, "FACTORY_RESET", "/v1/platform/factory-reset") < 0)
		return;
	if (c->guests && sevd_guests_count(c->guests)) {
		sevd_fw_begin(&psp_ret, &t0);
		r = psp_cmd_shutdown(c->psp, &psp_ret);
		if (fw_done(c, rep, SEV_CMD_SHUTDOWN, r, psp_ret, &t0) < 0)
			return;
		drop_guests(c, "FACTORY_RESET");
	}
	op_simple(c, rep, SEV_CMD_FACTORY_RESET, psp_cmd_factory_reset);
}

static void op_pek_gen(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	op_simple(c, rep, SEV_CMD_PEK_GEN, psp_cmd_pek_gen);
}

static void op_pdh_gen(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	op_simple(c, rep, SEV_CMD_PDH_GEN, psp_cmd_pdh_gen);
}

static void op_pek_csr(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;
	_cleanup_free_ uint8_t *csr = NULL;
	size_t len = 0;

	sevd_fw_begin(&psp_ret, &t0);
	r = psp_cmd_pek_csr(c->psp, &csr, &len, &psp_ret);
	if (fw_done(c, rep, SEV_CMD_PEK_CSR, r, psp_ret, &t0) < 0)
		return;
	if (len > sizeof(rep->u.csr.csr)) {
		rep->r = -EBADMSG;
		snprintf(rep->message, sizeof(rep->message),
			 "PEK_CSR: firmware returned %zu bytes, more than one certificate", len);
		return;
	}
	memcpy(rep->u.csr.csr, csr, len);
	rep->u.csr.len = (uint32_t)len;
}

static void op_pek_cert_import(struct sevd_core *c, const struct sevd_request *req,
			       struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;

	/* Untrusted lengths: the message carries fixed arrays, the lengths must match them. */
	if (req->u.pek_cert.pek_len != SEV_CERT_SIZE || req->u.pek_cert.oca_len != SEV_CERT_SIZE) {
		rep->r = -EINVAL;
		snprintf(rep->message, sizeof(rep->message),
			 "PEK_CERT_IMPORT: the PEK and OCA certificates must be %u bytes each",
			 SEV_CERT_SIZE);
		return;
	}
	sevd_fw_begin(&psp_ret, &t0);
	r = psp_cmd_pek_cert_import(c->psp, req->u.pek_cert.pek, SEV_CERT_SIZE, req->u.pek_cert.oca,
				    SEV_CERT_SIZE, &psp_ret);
	if (fw_done(c, rep, SEV_CMD_PEK_CERT_IMPORT, r, psp_ret, &t0) < 0)
		return;
	after_change(c, rep);
}

/* The platform's AMD root (ASK, ARK in AMD's format): firmware does not hand them out (AMD's
 * key server does). From roots_dir (ask.cert, ark.cert) when configured; on the emulator, from
 * its control channel ("get-cert ask|ark", its model of the key server). Missing ones leave
 * the lengths 0 ("unknown"). */
static void read_roots(struct sevd_core *c, struct sevd_reply *rep)
{
	static const char *const names[] = { "ask.cert", "ark.cert" };
	static const char *const ctl[] = { "get-cert ask", "get-cert ark" };
	uint8_t *dst[] = { rep->u.certs.ask, rep->u.certs.ark };
	uint32_t *dst_len[] = { &rep->u.certs.ask_len, &rep->u.certs.ark_len };

	if (!c->roots_dir && c->emu_socket) {
		for (size_t i = 0; i < ELEMENTSOF(ctl); i++) {
			size_t len = 0;
			int r = sevd_emu_ctl_bin(c->emu_socket, ctl[i], dst[i], AMD_CERT_MAX_SIZE, &len);

			if (r < 0)
				log_warning_errno(r, "Emulator control '%s' failed: %m", ctl[i]);
			*dst_len[i] = r < 0 ? 0 : (uint32_t)len;
		}
		return;
	}
	if (!c->roots_dir)
		return;
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		_cleanup_free_ char *path = path_join(c->roots_dir, names[i]);
		_cleanup_free_ uint8_t *buf = NULL;
		size_t len = 0;
		int r;

		if (!path)
			continue;
		r = read_full_file(path, AMD_CERT_MAX_SIZE, &buf, &len);
		if (r < 0) {
			if (r != -ENOENT)
				log_warning_errno(r, "Cannot read %s: %m", path);
			continue;
		}
		memcpy(dst[i], buf, len);
		*dst_len[i] = (uint32_t)len;
	}
}

static void op_certs(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;
	_cleanup_free_ uint8_t *pdh = NULL, *chain = NULL;
	size_t pdh_len = 0, chain_len = 0;

	if (certs_answer(c, rep)) /* taken by a job queued just before this one */
		return;
	sevd_fw_begin(&psp_ret, &t0);
	r = psp_cmd_pdh_cert_export(c->psp, &pdh, &pdh_len, &chain, &chain_len, &psp_ret);
	if (fw_done(c, rep, SEV_CMD_PDH_CERT_EXPORT, r, psp_ret, &t0) < 0)
		return;
	if (pdh_len != SEV_CERT_SIZE || chain_len != SEV_CERT_CHAIN_SIZE) {
		rep->r = -EBADMSG;
		snprintf(rep->message, sizeof(rep->message),
			 "PDH_CERT_EXPORT: firmware returned %zu + %zu bytes, expected %u + %u",
			 pdh_len, chain_len, SEV_CERT_SIZE, SEV_CERT_CHAIN_SIZE);
		return;
	}
	memcpy(rep->u.certs.pdh, pdh, pdh_len);
	memcpy(rep->u.certs.chain, chain, chain_len);
	rep->u.certs.pdh_len = (uint32_t)pdh_len;
	rep->u.certs.chain_len = (uint32_t)chain_len;
	/* Firmware exports the CEK unsigned (AMD-ASPFW pdh_cert_chain_init); the ASK-signed one
	 * comes from AMD's key server, which the emulator models with "get-cert cek". */
	if (c->emu_socket) {
		uint8_t cek[SEV_CERT_SIZE];
		size_t len = 0;

		if (sevd_emu_ctl_bin(c->emu_socket, "get-cert cek", cek, sizeof(cek), &len) >= 0 &&
		    len == SEV_CERT_SIZE)
			memcpy(rep->u.certs.chain + 2 * SEV_CERT_SIZE, cek, SEV_CERT_SIZE);
	}
	read_roots(c, rep);
	if (rep->r == 0)
		certs_take(c, rep);
}

static void op_get_id(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;
	_cleanup_free_ uint8_t *id = NULL;
	size_t len = 0;

	sevd_fw_begin(&psp_ret, &t0);
	r = psp_cmd_get_id(c->psp, &id, &len, &psp_ret);
	if (fw_done(c, rep, SEV_CMD_GET_ID, r, psp_ret, &t0) < 0)
		return;
	len = MIN(len, (size_t)SEVD_ID_MAX);
	memcpy(rep->u.id.id, id, len);
	rep->u.id.len = (uint32_t)len;
}

static void op_asids(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	char holder[SEVD_ASID_HOLDER_MAX];
	uint32_t es_first, es_last;
	uint64_t ver = sevd_asid_version(c->pool);

	sevd_asid_stats(c->pool, &rep->u.asids.stats);
	sevd_asid_range(c->pool, true, &es_first, &es_last);
	rep->u.asids.es_first = es_first;
	rep->u.asids.es_last = es_last;
	sevd_asid_range(c->pool, false, &rep->u.asids.sev_first, &rep->u.asids.sev_last);
	rep->u.asids.n = 0;
	for (uint32_t a = 1; a <= c->cpuid.ecx && rep->u.asids.n < SEVD_ASID_LIMIT; a++) {
		enum sevd_asid_state s = sevd_asid_get(c->pool, a, holder);
		struct sevd_asid_entry *e;

		if (s == SEVD_ASID_FREE)
			continue;
		e = &rep->u.asids.entry[rep->u.asids.n++];
		memset(e, 0, sizeof(*e)); /* padding too: the IPC sends the entries as they are */
		e->asid = a;
		e->state = (uint8_t)s;
		e->es = a >= es_first && a <= es_last;
		/* A principal of a tenant gets no holders: they name other tenants' guests (its
		 * own guests' ASIDs are in its guest list, GUEST_LIST filters by tenant). */
		if (!req->principal_tenant[0])
			memcpy(e->holder, holder, sizeof(e->holder));
	}
	/* Published for the worker only when the pool did not change while the table was read
	 * (every change moves the version under the pool's lock): one consistent state; and only
	 * the table with its holders, which the worker answers to untenanted callers alone. */
	if (c->cache.region && !req->principal_tenant[0] && sevd_asid_version(c->pool) == ver) {
		pthread_mutex_lock(&c->cache.lock);
		sevd_region_put_asids(c->cache.region, true, ver, now_ms(), &rep->u.asids);
		pthread_mutex_unlock(&c->cache.lock);
	}
}

static void op_health(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	struct sevd_queue_stats q;

	sevd_queue_stats(c->queue, &q);
	rep->u.health.queue_depth = q.depth;
	pthread_mutex_lock(&c->health_lock);
	snprintf(rep->u.health.transport, sizeof(rep->u.health.transport), "%s",
		 psp_transport_kind(c->psp));
	rep->u.health.psp_healthy = !c->unhealthy;
	rep->u.health.recoveries = c->recoveries;
	snprintf(rep->u.health.reason, sizeof(rep->u.health.reason), "%s",
		 c->unhealthy ? c->unhealthy_reason : "");
	pthread_mutex_unlock(&c->health_lock);
}

/* Who the caller's evidence is (authz.c); no firmware, no state. */
static void op_whoami(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	sevd_authz_whoami(c->authz, &req->caller, rep);
}

/* A TLS client's chain verified, an id for its connection (authz.c); no firmware. */
static void op_conn_cert(struct sevd_core *c, const struct sevd_request *req,
			 struct sevd_reply *rep)
{
	sevd_authz_conn_cert(c->authz, req, rep);
}

static void op_conn_end(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	sevd_authz_conn_end(c->authz, req->u.conn.id);
	rep->u.conn.id = req->u.conn.id;
}

void sevd_core_worker_started(struct sevd_core *c)
{
	sevd_authz_conns_reset(c->authz);
}

/* sevd_core_requests_total{op}: every request the core served, by op (with privilege
 * separation: every core call of the worker, so a GET the worker answered from the region
 * shows as no request here). Appended at text + n; returns the new length. */
static int render_requests(struct sevd_core *c, char *text, size_t size, int n)
{
	int m = snprintf(text + n, size - (size_t)n,
			 "# HELP sevd_core_requests_total Requests the privileged core served "
			 "(core calls of the HTTP worker), by op.\n"
			 "# TYPE sevd_core_requests_total counter\n");

	for (unsigned op = 1; op < SEVD_OP_MAX_ && m > 0 && (size_t)m < size - (size_t)n; op++) {
		n += m;
		m = snprintf(text + n, size - (size_t)n,
			     "sevd_core_requests_total{op=\"%s\"} %" PRIu64 "\n",
			     sevd_op_name(op), atomic_load(&c->calls[op]));
	}
	if (m > 0 && (size_t)m < size - (size_t)n)
		n += m;
	return n;
}

static void op_metrics(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	struct sevd_queue_stats q;
	struct sevd_asid_stats a;
	int n, m;

	sevd_queue_stats(c->queue, &q);
	sevd_asid_stats(c->pool, &a);
	n = sevd_metrics_render(c->metrics, &q, &a, rep->u.metrics.text,
				sizeof(rep->u.metrics.text));
	if (n < 0) {
		rep->r = n;
		snprintf(rep->message, sizeof(rep->message), "metrics do not fit the reply");
		return;
	}
	pthread_mutex_lock(&c->health_lock);
	m = snprintf(rep->u.metrics.text + n, sizeof(rep->u.metrics.text) - (size_t)n,
		     "# HELP sevd_psp_healthy 1 while the PSP answers, 0 after a timeout or a lost "
		     "transport until sevd reconnects.\n# TYPE sevd_psp_healthy gauge\n"
		     "sevd_psp_healthy %d\n# HELP sevd_psp_recoveries_total Reconnections to the "
		     "PSP after it was unhealthy.\n# TYPE sevd_psp_recoveries_total counter\n"
		     "sevd_psp_recoveries_total %llu\n",
		     c->unhealthy ? 0 : 1, (unsigned long long)c->recoveries);
	pthread_mutex_unlock(&c->health_lock);
	if (m > 0 && (size_t)m < sizeof(rep->u.metrics.text) - (size_t)n)
		n += m;
	pthread_mutex_lock(&c->cache.lock);
	m = snprintf(rep->u.metrics.text + n, sizeof(rep->u.metrics.text) - (size_t)n,
		     "# HELP sevd_cache_hits_total Answers served from the core's reply cache, "
		     "without a firmware command.\n# TYPE sevd_cache_hits_total counter\n"
		     "sevd_cache_hits_total{command=\"PLATFORM_STATUS\"} %" PRIu64 "\n"
		     "sevd_cache_hits_total{command=\"GUEST_STATUS\"} %" PRIu64 "\n"
		     "sevd_cache_hits_total{command=\"PDH_CERT_EXPORT\"} %" PRIu64 "\n",
		     c->cache.hits_platform, c->cache.hits_guest, c->cache.hits_certs);
	pthread_mutex_unlock(&c->cache.lock);
	if (m > 0 && (size_t)m < sizeof(rep->u.metrics.text) - (size_t)n)
		n += m;
	if (c->guests) { /* The journal's size and durability */
		m = sevd_guests_render_metrics(c->guests, rep->u.metrics.text + n,
					       sizeof(rep->u.metrics.text) - (size_t)n);
		if (m > 0)
			n += m;
	}
	n = render_requests(c, rep->u.metrics.text, sizeof(rep->u.metrics.text), n);
	n = sevd_authz_render(c->authz, rep->u.metrics.text, sizeof(rep->u.metrics.text), n);
	rep->u.metrics.len = (uint32_t)n;
}

static void op_guest(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	if (!c->guests) {
		rep->r = -EOPNOTSUPP;
		snprintf(rep->message, sizeof(rep->message),
			 "guest operations need a state directory for the journal");
		return;
	}
	/* A principal of a tenant is not answered from the cache: guest.c checks the tenant. */
	if ((req->op == SEVD_OP_GUEST_INFO || req->op == SEVD_OP_GUEST_LIST) &&
	    !req->principal_tenant[0] && cache_answer(c, req, rep, true))
		return;
	sevd_guests_op(c->guests, req, rep);
	if (req->op == SEVD_OP_GUEST_INFO)
		cache_guest_done(c, req, rep);
	else if (req->op == SEVD_OP_GUEST_LIST && !req->principal_tenant[0])
		cache_list_done(c, rep);
}

static void op_snp_status(struct sevd_core *c, const struct sevd_request *req,
			  struct sevd_reply *rep);
static void op_snp_change(struct sevd_core *c, const struct sevd_request *req,
			  struct sevd_reply *rep);

/* The core's operations: a table, as OpenSSH's monitor dispatch. `firmware` ops run on the
 * queue's worker; the others read in-memory state under its own locks. */
static const struct {
	op_fn fn;
	bool firmware;
} ops[SEVD_OP_MAX_] = {
#define CORE_ROW(name, fn, gfn, fw, req, rep, roles, guest) [SEVD_OP_##name] = { fn, fw },
	SEVD_OPS(CORE_ROW)
#undef CORE_ROW
};

struct op_job {
	struct sevd_core *c;
	const struct sevd_request *req;
	struct sevd_reply *rep;
	op_fn fn;
};

/* -EHOSTDOWN with a message naming the reason while the PSP is unhealthy, else 0. */
static int refuse_if_unhealthy(struct sevd_core *c, struct sevd_reply *rep)
{
	int r = 0;

	pthread_mutex_lock(&c->health_lock);
	if (c->unhealthy) {
		snprintf(rep->message, sizeof(rep->message),
			 "the PSP is unhealthy (%s); firmware commands are refused until sevd "
			 "reconnects (see GET /healthz)",
			 c->unhealthy_reason);
		r = rep->r = -EHOSTDOWN;
	}
	pthread_mutex_unlock(&c->health_lock);
	return r;
}

/* The answer when the queue did not run a job (sevd_queue_run's errors). */
static int queue_refused(struct sevd_reply *rep, int r)
{
	snprintf(rep->message, sizeof(rep->message),
		 r == -EBUSY ? "the firmware command queue is full; retry later"
		 : r == -ETIMEDOUT ? "the firmware command queue did not reach this request in time; retry later"
				   : "the daemon is stopping");
	return rep->r = r == -ETIMEDOUT ? -EBUSY : r;
}

static void op_job_run(void *arg)
{
	struct op_job *j = arg;

	/* Jobs that queued behind the command that hung are refused the same way, not run on
	 * the dead transport. */
	if (refuse_if_unhealthy(j->c, j->rep) < 0)
		return;
	if (certs_changing(j->req->op))
		atomic_fetch_add(&j->c->certs_gen, 1);
	AS_JOB(j->fn(j->c, j->req, j->rep));
}

int sevd_core_authorize(struct sevd_core *c, struct sevd_request *req, struct sevd_reply *rep)
{
	rep->r = 0;
	rep->fw_status = SEV_STATUS_NO_FW_CALL;
	rep->message[0] = '\0';
	rep->rule[0] = '\0';
	return sevd_authz_check(c->authz, req, rep);
}

int sevd_core_call(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	struct op_job j = { .c = c, .req = req, .rep = rep };
	int r;

	rep->r = 0;
	rep->fw_status = SEV_STATUS_NO_FW_CALL;
	rep->message[0] = '\0';
	if (req->op == 0 || req->op >= SEVD_OP_MAX_ || !ops[req->op].fn) {
		snprintf(rep->message, sizeof(rep->message), "unknown core operation %u", req->op);
		return rep->r = -EOPNOTSUPP;
	}
	atomic_fetch_add_explicit(&c->calls[req->op], 1, memory_order_relaxed);
	j.fn = ops[req->op].fn;
	if (!ops[req->op].firmware) {
		j.fn(c, req, rep);
		return rep->r;
	}
	/* An unhealthy PSP: refuse at once rather than let requests pile up behind it. */
	if (refuse_if_unhealthy(c, rep) < 0)
		return rep->r;
	if ((req->op == SEVD_OP_PLATFORM_STATUS ||
	     ((req->op == SEVD_OP_GUEST_INFO || req->op == SEVD_OP_GUEST_LIST) && c->guests &&
	      !req->principal_tenant[0])) &&
	    cache_answer(c, req, rep, false))
		return rep->r;
	if (req->op == SEVD_OP_CERTS && certs_answer(c, rep))
		return rep->r;
	r = sevd_queue_run(c->queue, op_job_run, &j);
	if (r == 0 && rep->r == -EACCES)
		sevd_authz_note(c->authz, req->op, rep); /* guest.c's tenant refusal */
	return r < 0 ? queue_refused(rep, r) : rep->r;
}

struct data_job {
	struct sevd_core *c;
	uint32_t handle, len;
	const uint8_t *buf;
	const char *tenant; /* the request's principal_tenant */
	struct sevd_reply *rep;
};

static void data_job_run(void *arg)
{
	struct data_job *j = arg;

	if (refuse_if_unhealthy(j->c, j->rep) < 0)
		return;
	sevd_guests_principal(j->c->guests, j->tenant);
	AS_JOB(sevd_guests_data(j->c->guests, j->handle, j->buf, j->len, j->rep));
	sevd_guests_principal(j->c->guests, NULL);
}

int sevd_core_guest_data(struct sevd_core *c, uint32_t handle, const uint8_t *buf, uint32_t len,
			 const char *tenant, struct sevd_reply *rep)
{
	struct data_job j = { .c = c, .handle = handle, .len = len, .buf = buf, .rep = rep,
			      .tenant = tenant };
	int r;

	rep->r = 0;
	rep->fw_status = SEV_STATUS_NO_FW_CALL;
	rep->message[0] = '\0';
	if (!c->guests) {
		snprintf(rep->message, sizeof(rep->message),
			 "guest operations need a state directory for the journal");
		return rep->r = -EOPNOTSUPP;
	}
	if (len > SEVD_STAGE_SLOT_SIZE) {
		snprintf(rep->message, sizeof(rep->message), "an upload slot holds at most %u bytes",
			 SEVD_STAGE_SLOT_SIZE);
		return rep->r = -EINVAL;
	}
	if (refuse_if_unhealthy(c, rep) < 0)
		return rep->r;
	r = sevd_queue_run(c->queue, data_job_run, &j);
	if (r == 0 && rep->r == -EACCES)
		sevd_authz_note(c->authz, SEVD_OP_GUEST_DATA_SLOT, rep);
	return r < 0 ? queue_refused(rep, r) : rep->r;
}

struct tenant_job {
	struct sevd_core *c;
	uint32_t handle;
	const char *tenant;
	struct sevd_reply *rep;
};

static void tenant_job_run(void *arg)
{
	struct tenant_job *j = arg;

	(void)sevd_guests_check_tenant(j->c->guests, j->handle, j->tenant, j->rep);
}

int sevd_core_guest_tenant(struct sevd_core *c, uint32_t op, uint32_t handle, const char *tenant,
			   struct sevd_reply *rep)
{
	struct tenant_job j = {.c = c, .handle = handle, .tenant = tenant, .rep = rep};

	if (!c->guests || !tenant[0])
		return 0;
	if (sevd_core_run_job(c, tenant_job_run, &j, rep) == -EACCES)
		sevd_authz_note(c->authz, op, rep);
	return rep->r;
}

struct any_job {
	struct sevd_core *c;
	void (*fn)(void *);
	void *arg;
	struct sevd_reply *rep;
};

static void any_job_run(void *arg)
{
	struct any_job *j = arg;

	if (refuse_if_unhealthy(j->c, j->rep) < 0)
		return;
	AS_JOB(j->fn(j->arg));
}

int sevd_core_run_job(struct sevd_core *c, void (*fn)(void *), void *arg, struct sevd_reply *rep)
{
	struct any_job j = { .c = c, .fn = fn, .arg = arg, .rep = rep };
	int r;

	rep->r = 0;
	rep->message[0] = '\0';
	if (refuse_if_unhealthy(c, rep) < 0)
		return rep->r;
	r = sevd_queue_run(c->queue, any_job_run, &j);
	return r < 0 ? queue_refused(rep, r) : rep->r;
}

struct sevd_asid_pool *sevd_core_asids(struct sevd_core *c)
{
	return c->pool;
}

bool sevd_core_psp_healthy(struct sevd_core *c)
{
	bool healthy;

	pthread_mutex_lock(&c->health_lock);
	healthy = !c->unhealthy;
	pthread_mutex_unlock(&c->health_lock);
	return healthy;
}

int sevd_core_region_fd(struct sevd_core *c)
{
	return sevd_region_fd(c->cache.region);
}

struct psp_transport *sevd_core_psp(struct sevd_core *c)
{
	return c->psp;
}

const struct psp_cpuid *sevd_core_cpuid(struct sevd_core *c)
{
	return &c->cpuid;
}

bool sevd_core_is_emu(struct sevd_core *c)
{
	return c->emu_socket != NULL;
}

int sevd_core_fw_done(struct sevd_core *c, struct sevd_reply *rep, uint32_t cmd, int r,
		      int psp_ret, const struct timespec *t0)
{
	return fw_done(c, rep, cmd, r, psp_ret, t0);
}

int sevd_core_flush_now(struct sevd_core *c)
{
	return flush_on_fw_thread(c, NULL);
}

struct sevd_snp_certs *sevd_core_snp_certs(struct sevd_core *c)
{
	return c->snp_certs;
}

const char *sevd_core_emu_socket(struct sevd_core *c)
{
	return c->emu_socket;
}

bool sevd_core_snp_certs_no_fetch(struct sevd_core *c)
{
	return c->snp_certs_no_fetch;
}

const char *sevd_core_kds_url(struct sevd_core *c)
{
	return c->kds_url;
}

const char *sevd_core_roots_dir(struct sevd_core *c)
{
	return c->roots_dir;
}

uint8_t sevd_core_snp_gen(struct sevd_core *c)
{
	return c->snp_gen;
}

bool sevd_core_snp_up(struct sevd_core *c)
{
	return snp_up(c);
}

static void snp_certs_job_run(void *arg)
{
	AS_JOB(sevd_snp_certs_start(arg));
}

/* The SNP certificate table: the kept one, else the chip's VCEK from the key server, fetched
 * in the background (snp-certs.c): the start does not wait for the key server. */
static int start_snp_certs(struct sevd_core *c, const struct sevd_core_config *cfg)
{
	int r = sevd_snp_certs_new(cfg->state_dir, &c->snp_certs);

	if (r < 0)
		return r;
	if (snp_up(c))
		(void)sevd_queue_run(c->queue, snp_certs_job_run, c);
	return 0;
}

/* The guest table is built on the firmware thread: reconciliation issues firmware commands. */
struct guests_job {
	struct sevd_core *c;
	const struct sevd_guests_config *cfg;
	int r;
};

static void guests_job_run(void *arg)
{
	struct guests_job *j = arg;

	AS_JOB(j->r = sevd_guests_new(j->c, j->cfg, &j->c->guests));
}

static int start_guests(struct sevd_core *c, const struct sevd_core_config *cfg)
{
	struct sevd_guests_config gc = { .state_dir = cfg->state_dir, .policy = cfg->policy,
					 .journal_recover = cfg->journal_recover,
					 .journal_compact = cfg->journal_compact,
					 .control = cfg->control,
					 .migration_roots = cfg->migration_roots,
					 .migration_emulated_root = cfg->migration_emulated_root };
	struct guests_job j = { .c = c, .cfg = &gc };
	int r;

	if (!cfg->state_dir)
		return 0;
	r = sevd_queue_run(c->queue, guests_job_run, &j);
	return r < 0 ? r : j.r;
}

/* SNP_COMMIT, SNP_CONFIG, SNP_VLEK_LOAD: admin changes of the SNP platform (the routes under
 * /v1/snp/platform), answered with the status after them. None has a state check in
 * firmware (AMD-ASPFW); a platform without SNP is refused before the command. */
static void op_snp_change(struct sevd_core *c, const struct sevd_request *req,
			  struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret;
	int r;

	if (!(c->cpuid.eax & SEV_CPUID_EAX_SNP))
		return op_snp_status(c, req, rep);
	switch (req->op) {
	case SEVD_OP_SNP_COMMIT:
		sevd_fw_begin(&psp_ret, &t0);
		r = psp_cmd_snp_commit(c->psp, &psp_ret);
		r = fw_done(c, rep, SEV_CMD_SNP_COMMIT, r, psp_ret, &t0);
		break;
	case SEVD_OP_SNP_CONFIG:
		if (req->u.snp_config.flags &
		    ~(SEV_SNP_CONFIG_MASK_CHIP_ID | SEV_SNP_CONFIG_MASK_CHIP_KEY)) {
			snprintf(rep->message, sizeof(rep->message),
				 "SNP_SET_CONFIG flags: only mask_chip_id and mask_chip_key exist");
			rep->r = -EINVAL;
			return;
		}
		sevd_fw_begin(&psp_ret, &t0);
		r = psp_cmd_snp_set_config(c->psp, req->u.snp_config.reported_tcb,
					   req->u.snp_config.flags, &psp_ret);
		r = fw_done(c, rep, SEV_CMD_SNP_CONFIG, r, psp_ret, &t0);
		break;
	default:
		sevd_fw_begin(&psp_ret, &t0);
		r = psp_cmd_snp_vlek_load(c->psp, &req->u.vlek, &psp_ret);
		r = fw_done(c, rep, SEV_CMD_SNP_VLEK_LOAD, r, psp_ret, &t0);
		break;
	}
	if (r < 0)
		return;
	log_notice("%s done", req->op == SEVD_OP_SNP_COMMIT	? "SNP_COMMIT"
			      : req->op == SEVD_OP_SNP_CONFIG ? "SNP_SET_CONFIG"
							      : "SNP_VLEK_LOAD");
	op_snp_status(c, req, rep);
}

/* The part, for the TCB layout: CPUID Fn0000_0001 EAX (on the emulator, of the part it models;
 * on dev, the host CPU's, as /dev/cpu/0/cpuid answers it). */
static uint8_t snp_generation(struct sevd_core *c)
{
	_cleanup_free_ uint8_t *reply = NULL;
	uint32_t regs[4];
	unsigned a = 0;

	if (c->emu_socket) {
		if (psp_emu_ctl(c->psp, "cpuid-fms", &reply, NULL) < 0 ||
		    sscanf((char *)reply, "%x", &a) != 1)
			return SNP_GEN_UNKNOWN;
	} else if (psp_host_cpuid(1, regs) < 0) {
		return SNP_GEN_UNKNOWN;
	} else {
		a = regs[0];
	}
	unsigned fam = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
	if (fam == 0xf)
		fam += (a >> 20) & 0xff;
	model |= ((a >> 16) & 0xf) << 4;
	return (uint8_t)attest_snp_gen_from_cpuid((uint8_t)fam, (uint8_t)model);
}

static int snp_bring_up(struct sevd_core *c, bool sev_uninit)
{
	struct sev_snp_platform_status st;
	char reply[128], why[200];
	int psp_ret = 0, r;

	if (!(c->cpuid.eax & SEV_CPUID_EAX_SNP))
		return c->snp_start = SEVD_SNP_UNSUPPORTED, 0;
	c->snp_gen = snp_generation(c);
	if (!c->snp_cfg) {
		log_info("SEV-SNP: off (snp = off in sevd.conf): SEV and SEV-ES only");
		return c->snp_start = SEVD_SNP_OFF, 0;
	}
	r = psp_cmd_snp_platform_status(c->psp, &st, &psp_ret);
	/* SNP INIT already (an earlier sevd): the status page must be a Firmware page first. */
	if (r == -EIO && psp_ret == SEV_STATUS_INVALID_PAGE_STATE && c->emu_socket) {
		r = psp_emu_dma_to_firmware(c->psp);
		if (r >= 0)
			r = psp_cmd_snp_platform_status(c->psp, &st, &psp_ret);
	}
	if (r == 0 && st.state == SEV_SNP_PSTATE_INIT) {
		log_info("SEV-SNP: already initialized (RMP %s)",
			 st.is_rmp_initialized & 1 ? "initialized" : "not initialized");
		return c->snp_start = SEVD_SNP_FOUND, 0;
	}
	if (r < 0 || !c->emu_socket) {
		log_notice("SEV-SNP: %s; the kernel initializes SNP (at probe), not sevd",
			   r < 0 ? psp_strerror(r, psp_ret, why, sizeof(why)) : "UNINIT");
		return c->snp_start = SEVD_SNP_OFF, 0;
	}
	if (!sev_uninit) {
		log_warning("SEV-SNP: not initialized, and SEV is INIT already: SNP_INIT_EX must come "
			    "first, so SNP stays off until the platform is shut down and sevd restarts");
		return c->snp_start = SEVD_SNP_FAILED, 0;
	}
	r = sevd_emu_ctl(c->emu_socket, "wbinvd", reply, sizeof(reply));
	if (r >= 0)
		r = psp_cmd_snp_init_ex(c->psp, SEV_SNP_INIT_INIT_RMP, &psp_ret);
	if (r >= 0)
		r = psp_emu_dma_to_firmware(c->psp);
	if (r >= 0)
		r = sevd_emu_ctl(c->emu_socket, "wbinvd", reply, sizeof(reply));
	if (r >= 0)
		r = psp_cmd_snp_df_flush(c->psp, &psp_ret);
	if (r < 0) {
		log_error("SEV-SNP initialization failed: %s; SEV continues without SNP "
			  "(set snp = off in sevd.conf to skip it)", psp_strerror(r, psp_ret, why, sizeof(why)));
		return c->snp_start = SEVD_SNP_FAILED, 0;
	}
	c->snp_start = SEVD_SNP_INITIALIZED;
	log_info("SEV-SNP initialized (WBINVD, SNP_INIT_EX with INIT_RMP, WBINVD, SNP_DF_FLUSH)");
	return 0;
}

/* Recovery, on the firmware thread so no firmware command runs meanwhile: restart an
 * embedded emulator that died, open the transport anew and ask PLATFORM_STATUS. A platform
 * found UNINIT was reset under us (a restarted emulator: guest contexts and the TMR are gone):
 * INIT it again as at start and reconcile the guest journal with what firmware still knows. */
struct recover_job {
	struct sevd_core *c;
	int r;
};

static int reinit_after_reset(struct sevd_core *c, bool uninit)
{
	int psp_ret = SEV_STATUS_NO_FW_CALL, r;

	if (uninit && c->tmr_fd >= 0) {
		close(c->tmr_fd); /* its mapping died with the old emulator */
		c->tmr_fd = -1;
	}
	/* SNP first again (a restarted emulator), or a new DMA pool into Firmware pages (a new
	 * connection to an emulator that kept SNP INIT). */
	if (c->auto_init && (r = snp_bring_up(c, uninit)) < 0)
		return r;
	if (uninit && c->auto_init) {
		r = init_with_tmr(c, c->init_es ? SEV_INIT_FLAGS_SEV_ES : 0, &psp_ret);
		if (r < 0)
			return log_error_errno(r, "Re-INIT after the PSP reset failed (%s): %m",
					       sev_status_name(psp_ret));
		if (c->emu_socket && flush_on_fw_thread(c, NULL) < 0)
			return -EIO;
		sevd_asid_mark_all_clean(c->pool);
		log_notice("The PSP was reset: platform initialized again");
	}
	return c->guests ? sevd_guests_after_reset(c->guests) : 0;
}

static void recover_job_body(struct recover_job *j)
{
	struct sevd_core *c = j->c;
	struct psp_transport *t = NULL, *old;
	struct sev_cmd_platform_status st;
	int psp_ret = SEV_STATUS_NO_FW_CALL;

	atomic_fetch_add(&c->certs_gen, 1); /* a restarted PSP may hold other keys */
	if (c->restart_psp && (j->r = c->restart_psp(c->restart_userdata)) < 0)
		return;
	j->r = psp_open(c->psp_spec, &t);
	if (j->r >= 0)
		j->r = psp_cmd_platform_status(t, &st, &psp_ret);
	if (j->r < 0) {
		psp_close(t);
		return;
	}
	pthread_mutex_lock(&c->health_lock);
	old = c->psp;
	c->psp = t;
	pthread_mutex_unlock(&c->health_lock);
	psp_close(old);
	if (c->guests)
		sevd_guests_set_psp(c->guests, t);
	if (st.state == SEV_PSTATE_UNINIT &&
	    (c->last_pstate != SEV_PSTATE_UNINIT || (c->guests && sevd_guests_count(c->guests))))
		c->reset_pending = true;
	if (c->reset_pending) {
		j->r = reinit_after_reset(c, st.state == SEV_PSTATE_UNINIT);
		if (j->r < 0)
			return;
		c->reset_pending = false;
		c->last_pstate = c->auto_init ? SEV_PSTATE_INIT : SEV_PSTATE_UNINIT;
	}
	pthread_mutex_lock(&c->health_lock);
	c->unhealthy = false;
	sevd_region_set_unhealthy(c->cache.region, false);
	c->recoveries++;
	pthread_mutex_unlock(&c->health_lock);
	log_notice("PSP reconnected through %s; healthy again", c->psp_spec);
}

static void recover_job_run(void *arg)
{
	AS_JOB(recover_job_body(arg));
}

/* Waits for the PSP to turn unhealthy, then retries recovery with a doubling backoff
 * (100 ms .. 2 s). */
static void *recover_main(void *userdata)
{
	struct sevd_core *c = userdata;
	unsigned backoff = 100;

	pthread_mutex_lock(&c->health_lock);
	while (!c->recover_stop) {
		struct timespec ts;
		struct recover_job j = { .c = c };

		if (!c->unhealthy) {
			backoff = 100;
			pthread_cond_wait(&c->health_cond, &c->health_lock);
			continue;
		}
		timespec_after_ms(CLOCK_MONOTONIC, backoff, &ts);
		pthread_cond_timedwait(&c->health_cond, &c->health_lock, &ts);
		if (c->recover_stop || !c->unhealthy)
			continue;
		pthread_mutex_unlock(&c->health_lock);
		if (sevd_queue_run(c->queue, recover_job_run, &j) < 0 || j.r < 0)
			log_debug("PSP recovery attempt failed (%s); retrying in %u ms",
				  strerror(j.r < 0 ? -j.r : EAGAIN), backoff);
		backoff = backoff >= 1000 ? 2000 : backoff * 2;
		pthread_mutex_lock(&c->health_lock);
	}
	pthread_mutex_unlock(&c->health_lock);
	return NULL;
}

void sevd_core_free(struct sevd_core *c)
{
	if (!c)
		return;
	if (c->have_recover) {
		pthread_mutex_lock(&c->health_lock);
		c->recover_stop = true;
		pthread_cond_signal(&c->health_cond);
		pthread_mutex_unlock(&c->health_lock);
		pthread_join(c->recover_thread, NULL);
	}
	sevd_guests_stop_vmm(c->guests); /* its connections queue jobs */
	sevd_snp_certs_stop(c->snp_certs); /* its fetch queues the install */
	sevd_queue_free(c->queue);
	if (c->pool && c->cache.region)
		sevd_asid_share_version(c->pool, NULL); /* the pool kept its version there */
	sevd_region_free(c->cache.region); /* after the queue: it kept its counter there */
	sevd_guests_free(c->guests);
	sevd_snp_certs_free(c->snp_certs);
	sevd_asid_pool_free(c->pool);
	sevd_metrics_free(c->metrics);
	sevd_authz_free(c->authz);
	psp_close(c->psp);
	if (c->tmr_fd >= 0)
		close(c->tmr_fd);
	free(c->emu_socket);
	free(c->roots_dir);
	free(c->kds_url);
	free(c->psp_spec);
	pthread_cond_destroy(&c->health_cond);
	pthread_mutex_destroy(&c->health_lock);
	pthread_mutex_destroy(&c->cache.lock);
	free(c->cache.list);
	free(c);
}

static void op_snp_status(struct sevd_core *c, const struct sevd_request *req,
			  struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;

	(void)req;
	rep->u.snp.start = c->snp_start;
	rep->u.snp.gen = c->snp_gen;
	if (!(c->cpuid.eax & SEV_CPUID_EAX_SNP)) {
		snprintf(rep->message, sizeof(rep->message),
			 "this platform has no SEV-SNP (CPUID 8000_001F EAX bit 4 is clear): SNP "
			 "needs a part and BIOS with SNP enabled (on sev-psp-emu: --snp)");
		rep->r = -EOPNOTSUPP;
		return;
	}
	sevd_fw_begin(&psp_ret, &t0);
	r = psp_cmd_snp_platform_status(c->psp, &rep->u.snp.status, &psp_ret);
	(void)fw_done(c, rep, SEV_CMD_SNP_PLATFORM_STATUS, r, psp_ret, &t0);
}

/* SNP first, as Linux's _sev_platform_init_locked (SNP, then the legacy INIT) and
 * __sev_snp_init_locked: WBINVD, SNP_INIT_EX with INIT_RMP (the emulator's RMP exists with
 * --snp; the kernel sets it up from the BIOS's RMP table), WBINVD, SNP_DF_FLUSH. Then this
 * transport's DMA pool becomes Firmware pages, which SEV commands must write into now.
 * /dev/sev: the kernel does all of this at probe (sev_pci_init), sevd only looks. */
/* First start of a host daemon: INIT an UNINIT platform, as the kernel does at module load. */
static int auto_init(struct sevd_core *c, bool es)
{
	_cleanup_free_ struct sevd_reply *rep = calloc(1, sizeof(*rep));
	struct sevd_request req = { .op = SEVD_OP_PLATFORM_STATUS };
	int r;

	if (!rep)
		return -ENOMEM;
	if (sevd_core_call(c, &req, rep) < 0)
		return log_error_errno(rep->r, "Cannot read the platform status: %s", rep->message);
	r = snp_bring_up(c, rep->u.platform.status.state == SEV_PSTATE_UNINIT);
	if (r < 0)
		return r;
	if (rep->u.platform.status.state != SEV_PSTATE_UNINIT)
		return 0;
	req = (struct sevd_request){ .op = SEVD_OP_INIT, .u.init.es = es };
	if (sevd_core_call(c, &req, rep) == -EOPNOTSUPP) {
		/* /dev/sev has no INIT: the kernel initializes the platform itself (at probe or
		 * when KVM needs it), so an UNINIT platform is normal there. */
		log_notice("The platform is UNINIT and %s cannot INIT it; the kernel will",
			   psp_transport_kind(c->psp));
		return 0;
	}
	if (rep->r < 0)
		return log_error_errno(rep->r, "Cannot initialize the platform: %s", rep->message);
	log_info("Platform initialized (%sINIT%s, WBINVD, DF_FLUSH)",
		 snp_up(c) ? "after SEV-SNP: " : "", es ? " with SEV-ES" : "");
	return 0;
}

/* The worker's read-only mirror of the reply cache (cache-region.h), before the first job:
 * the queue's started counter moves into it. Without one (a kernel without
 * F_SEAL_FUTURE_WRITE, < 5.1) the worker asks the core for every GET, as before. */
static void share_cache(struct sevd_core *c)
{
	int r = sevd_region_new(&c->cache.region);

	if (r < 0) {
		log_warning_errno(r, "No shared reply cache for the worker (%m); it asks the core "
				    "for every request");
		c->cache.region = NULL;
		return;
	}
	sevd_queue_share_started(c->queue, sevd_region_started(c->cache.region));
	sevd_asid_share_version(c->pool, sevd_region_asid_version(c->cache.region));
}

static int core_open(struct sevd_core *c, const struct sevd_core_config *cfg)
{
	int r;

	r = psp_open(cfg->psp_spec, &c->psp);
	if (r < 0)
		return log_error_errno(r, "Cannot open the PSP transport '%s': %m", cfg->psp_spec);
	r = psp_get_cpuid(c->psp, &c->cpuid);
	if (r < 0)
		return log_error_errno(r, "Cannot read CPUID 8000_001F through '%s': %m",
				       cfg->psp_spec);
	r = sevd_asid_pool_new(c->cpuid.ecx, c->cpuid.edx, &c->pool);
	if (r < 0)
		return log_error_errno(r, "CPUID 8000_001F gives ECX=%u (max ASID), EDX=%u: SEV is "
					  "off or the pool is larger than sevd supports (%u): %m",
				       c->cpuid.ecx, c->cpuid.edx, SEVD_ASID_LIMIT);
	log_info("ASIDs: max %u, min SEV %u (SEV-ES 1..%u, SEV %u..%u)", c->cpuid.ecx, c->cpuid.edx,
		 c->cpuid.edx > 0 ? c->cpuid.edx - 1 : 0, c->cpuid.edx, c->cpuid.ecx);
	return 0;
}

int sevd_core_new(const struct sevd_core_config *cfg, struct sevd_core **ret)
{
	struct sevd_core *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->tmr_fd = -1;
	pthread_mutex_init(&c->health_lock, NULL);
	pthread_mutex_init(&c->cache.lock, NULL);
	{
		pthread_condattr_t attr;

		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&c->health_cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	c->auto_init = cfg->auto_init;
	c->init_es = cfg->init_es;
	c->snp_cfg = cfg->snp;
	c->snp_certs_no_fetch = cfg->snp_certs_no_fetch;
	c->restart_psp = cfg->restart_psp;
	c->restart_userdata = cfg->restart_userdata;
	if (!(c->psp_spec = strdup(cfg->psp_spec)) ||
	    (cfg->emu_socket && !(c->emu_socket = strdup(cfg->emu_socket))) ||
	    (cfg->roots_dir && !(c->roots_dir = strdup(cfg->roots_dir))) ||
	    (cfg->kds_url && !(c->kds_url = strdup(cfg->kds_url)))) {
		sevd_core_free(c);
		return -ENOMEM;
	}
	r = sevd_authz_new(cfg, &c->authz);
	if (r >= 0)
		r = core_open(c, cfg);
	c->snp_start = c->cpuid.eax & SEV_CPUID_EAX_SNP ? SEVD_SNP_OFF : SEVD_SNP_UNSUPPORTED;
	if (r >= 0)
		r = sevd_metrics_new(&c->metrics);
	if (r >= 0)
		r = sevd_queue_new(cfg->queue_max ? cfg->queue_max : 256, cfg->queue_wait_ms,
				   &c->queue);
	if (r >= 0)
		share_cache(c);
	if (r >= 0) {
		sevd_asid_pool_set_flush(c->pool, pool_flush, c, cfg->flush_threshold);
		if (cfg->auto_init)
			r = auto_init(c, cfg->init_es);
		if (r >= 0)
			r = start_guests(c, cfg);
		if (r >= 0)
			r = start_snp_certs(c, cfg);
		if (r >= 0) {
			r = -pthread_create(&c->recover_thread, NULL, recover_main, c);
			c->have_recover = r >= 0;
		}
	}
	if (r < 0) {
		sevd_core_free(c);
		return r;
	}
	*ret = c;
	return 0;
}
