/* The worker's end of the core channels (ipc.h): a pool of sockets, one request in flight on
 * each, so that a long upload or firmware command on one MHD thread does not hold up /healthz
 * or /metrics on another. An MHD thread takes a free channel (or waits for one), sends the
 * request, reads the reply, gives the channel back. An image upload holds one channel for its
 * whole length and streams through the staging buffer the core maps with it (ipc.h, staged
 * uploads). Trusts the core, but still checks every
 * reply's framing: a reply that does not fit means the core is gone or broken, and the
 * worker ends (the core, if it lives, starts a new one). Cached reads are answered from the
 * core's read-only region when it allows (cache-region.h): no channel, no core wake-up.
 *
 * Sixteen slow uploads held all sixteen channels and every other call waited
 * without end. A call now takes a channel by its use: reads and health (read_op below) may
 * take any free channel; other calls and held uploads leave `reserved_channels` free for
 * them; and no one waits longer than `channel_wait`: then the call is answered -EBUSY (503
 * "busy") with what held the channels. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/util.h"
#include "daemon/ipc/cache-region.h"
#include "daemon/ipc/ipc.h"

#define IPC_CLIENT_MAX 64

enum use {
	USE_READ, /* reads and health: any free channel */
	USE_CALL, /* any other call: not the reserved ones */
	USE_HOLD, /* a staged upload, held to its end: not the reserved ones */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int fd[IPC_CLIENT_MAX];
	bool busy[IPC_CLIENT_MAX];
	unsigned n;
	unsigned n_busy, n_held; /* channels taken; of them, held by uploads */
	unsigned reserved;	 /* kept for USE_READ */
	unsigned wait_ms;	 /* the longest wait for a channel */
	uint64_t timeouts;	 /* waits that ended in -EBUSY */
	struct sevd_region *region;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .reserved = 0, .wait_ms = 5000};

int sevd_ipc_client_init(const int *fds, unsigned n)
{
	if (n == 0 || n > IPC_CLIENT_MAX || pool.n)
		return -EINVAL;
	pthread_condattr_t a;

	for (unsigned i = 0; i < n; i++)
		pool.fd[i] = fds[i];
	pool.n = n;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&pool.cond, &a);
	pthread_condattr_destroy(&a);
	return 0;
}

void sevd_ipc_client_limits(unsigned reserved, unsigned wait_ms)
{
	pthread_mutex_lock(&pool.lock);
	pool.reserved = reserved;
	pool.wait_ms = wait_ms;
	pthread_mutex_unlock(&pool.lock);
}

void sevd_ipc_client_use_region(struct sevd_region *r)
{
	pool.region = r;
}

/* The worker's own series after the core's /metrics text (the core cannot count answers it
 * never saw). Dropped, not truncated, when it does not fit. */
static void append_worker_metrics(struct sevd_reply *rep)
{
	size_t len = rep->u.metrics.len, size = sizeof(rep->u.metrics.text);
	uint64_t platform, guest, asids, list, timeouts;
	unsigned held, busy;
	int m;

	if (len >= size)
		return;
	sevd_region_hits(pool.region, &platform, &guest);
	sevd_region_list_hits(pool.region, &asids, &list);
	pthread_mutex_lock(&pool.lock);
	held = pool.n_held;
	busy = pool.n_busy;
	timeouts = pool.timeouts;
	pthread_mutex_unlock(&pool.lock);
	m = snprintf(rep->u.metrics.text + len, size - len,
		     "# HELP sevd_worker_cache_hits_total Answers the HTTP worker served from the "
		     "core's shared reply cache, without a core call or a firmware command.\n"
		     "# TYPE sevd_worker_cache_hits_total counter\n"
		     "sevd_worker_cache_hits_total{command=\"PLATFORM_STATUS\"} %" PRIu64 "\n"
		     "sevd_worker_cache_hits_total{command=\"GUEST_STATUS\"} %" PRIu64 "\n"
		     "sevd_worker_cache_hits_total{command=\"ASIDS\"} %" PRIu64 "\n"
		     "sevd_worker_cache_hits_total{command=\"GUEST_LIST\"} %" PRIu64 "\n"
		     "# HELP sevd_worker_core_channels The worker's core channels by use: held by "
		     "image uploads, taken by other calls (this scrape's included), free.\n"
		     "# TYPE sevd_worker_core_channels gauge\n"
		     "sevd_worker_core_channels{use=\"upload\"} %u\n"
		     "sevd_worker_core_channels{use=\"call\"} %u\n"
		     "sevd_worker_core_channels{use=\"free\"} %u\n"
		     "# HELP sevd_worker_channel_timeouts_total Calls answered 503 busy because no "
		     "core channel came free within channel_wait.\n"
		     "# TYPE sevd_worker_channel_timeouts_total counter\n"
		     "sevd_worker_channel_timeouts_total %" PRIu64 "\n",
		     platform, guest, asids, list, held, busy - held, pool.n - busy, timeouts);
	if (m > 0 && (size_t)m < size - len)
		rep->u.metrics.len = (uint32_t)(len + (size_t)m);
	else
		rep->u.metrics.text[len] = '\0';
}

/* The calls that only read sevd's or firmware's state, and health: what a frozen API
 * must still answer (/healthz, /v1/asids, /v1/guests, /v1/platform, /metrics). */
static bool read_op(uint32_t op)
{
	switch (op) {
	case SEVD_OP_PLATFORM_STATUS:
	case SEVD_OP_CERTS:
	case SEVD_OP_GET_ID:
	case SEVD_OP_ASIDS:
	case SEVD_OP_HEALTH:
	case SEVD_OP_METRICS:
	case SEVD_OP_GUEST_INFO:
	case SEVD_OP_GUEST_LIST:
	case SEVD_OP_FW_ERRORS:
	case SEVD_OP_SNP_STATUS:
	case SEVD_OP_WHOAMI: /* every token caller's first call: must not wait on uploads */
		return true;
	default:
		return false;
	}
}

static bool may_take(enum use use)
{
	unsigned free_n = pool.n - pool.n_busy;
	unsigned keep = use == USE_READ ? 0 : (pool.reserved < pool.n ? pool.reserved : pool.n - 1);

	return free_n > keep;
}

/* Take a channel for use within pool.wait_ms (0: no limit); -EBUSY with the reason in rep
 * when none came. */
static int take(enum use use, unsigned *ret, struct sevd_reply *rep)
{
	struct timespec dl;
	bool timed_out = false;
	unsigned i;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	pthread_mutex_lock(&pool.lock);
	dl.tv_sec += pool.wait_ms / 1000;
	dl.tv_nsec += (long)(pool.wait_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	while (!may_take(use)) {
		if (timed_out) {
			rep->fw_status = SEV_STATUS_NO_FW_CALL;
			rep->rule[0] = '\0';
			snprintf(rep->message, sizeof(rep->message),
				 "no core channel came free in %u ms: %u of %u busy (%u held by image "
				 "uploads, %u by other calls; %u kept for reads and health); retry "
				 "later, or lower upload_limit or body_timeout in sevd.conf",
				 pool.wait_ms, pool.n_busy, pool.n, pool.n_held,
				 pool.n_busy - pool.n_held, pool.reserved);
			pool.timeouts++;
			pthread_mutex_unlock(&pool.lock);
			return rep->r = -EBUSY;
		}
		if (pool.wait_ms)
			timed_out = pthread_cond_timedwait(&pool.cond, &pool.lock, &dl) == ETIMEDOUT;
		else
			pthread_cond_wait(&pool.cond, &pool.lock);
	}
	for (i = 0; i < pool.n && pool.busy[i]; i++)
		;
	pool.busy[i] = true;
	pool.n_busy++;
	pool.n_held += use == USE_HOLD;
	pthread_mutex_unlock(&pool.lock);
	*ret = i;
	return 0;
}

static void give_back(unsigned i, bool held)
{
	pthread_mutex_lock(&pool.lock);
	pool.busy[i] = false;
	pool.n_busy--;
	pool.n_held -= held;
	/* Waiters of every use: the one woken must be one that may take it. */
	pthread_cond_broadcast(&pool.cond);
	pthread_mutex_unlock(&pool.lock);
}

/* The channel is out of step or the core is gone: nothing more can be trusted on it. End the
 * process without running exit handlers in the middle of other threads' requests; their
 * clients see the connection close. */
_Noreturn static void channel_broken(unsigned i, const char *err)
{
	log_error("Core channel %u: %s; the worker ends (the core starts a new one)", i, err);
	_exit(3);
}

/* The region's guest list holds every tenant's guests, its ASID table every holder (which
 * names guests) and its guest entries any tenant's guest: only for a caller the core vouched
 * has no tenant. A Unix peer has none (core/authz.c: tenants come with tokens); a token's
 * principal when the core's WHOAMI said so for that token on this connection (http.c). The
 * core answers such a caller's GUEST_INFO from the cache the region mirrors (core.c op_guest:
 * no principal_tenant). Certificate holders and a tenant's tokens go to the core, which
 * checks the tenant (core/guest.c). */
static bool untenanted(const struct sevd_request *req)
{
	return req->caller.kind == SEVD_EVIDENCE_UNIX ||
	       (req->caller.kind == SEVD_EVIDENCE_TOKEN && req->worker_untenanted == 1);
}

/* May the region answer this request at all (then sevd_region_answer decides freshness)? */
static bool region_may_answer(const struct sevd_request *req)
{
	switch (req->op) {
	case SEVD_OP_GUEST_INFO:
		return req->caller.kind == SEVD_EVIDENCE_NONE || untenanted(req);
	case SEVD_OP_GUEST_LIST:
	case SEVD_OP_ASIDS:
		return untenanted(req);
	default:
		return true;
	}
}

/* 0: go to the core; 1: answered here from the region (rep filled); < 0: refused (rep->r). */
static int check_call(const struct sevd_request *req, struct sevd_reply *rep)
{
	rep->fw_status = SEV_STATUS_NO_FW_CALL;
	rep->rule[0] = '\0';
	if (!sevd_ipc_op_known(req->op)) {
		snprintf(rep->message, sizeof(rep->message), "unknown core operation %u", req->op);
		return rep->r = -EOPNOTSUPP;
	}
	if (region_may_answer(req) && sevd_region_answer(pool.region, req, rep))
		return 1;
	if (pool.n == 0) {
		snprintf(rep->message, sizeof(rep->message), "no channel to the privileged core");
		return rep->r = -ENOTCONN;
	}
	return 0;
}

static void send_on(unsigned i, const struct sevd_request *req)
{
	char err[SEVD_IPC_ERR_MAX];
	int r = sevd_ipc_send_request(pool.fd[i], req);

	if (r < 0) {
		snprintf(err, sizeof(err), "cannot send op %u: %s", req->op, strerror(-r));
		channel_broken(i, err);
	}
}

static void recv_on(unsigned i, uint32_t op, struct sevd_reply *rep)
{
	struct sevd_ipc_src src = {.fd = pool.fd[i]};
	char err[SEVD_IPC_ERR_MAX];

	if (sevd_ipc_recv_reply(&src, op, rep, err, sizeof(err)) < 0)
		channel_broken(i, err);
}

int sevd_ipc_client_call(struct sevd_core *unused, const struct sevd_request *req,
			 struct sevd_reply *rep)
{
	unsigned i;

	if (check_call(req, rep) != 0)
		return rep->r;
	if (take(read_op(req->op) ? USE_READ : USE_CALL, &i, rep) < 0)
		return rep->r;
	send_on(i, req);
	recv_on(i, req->op, rep);
	give_back(i, false);
	if (req->op == SEVD_OP_METRICS && rep->r == 0)
		append_worker_metrics(rep);
	return rep->r;
}

/* ---- staged uploads (ipc.h) ---- */

struct sevd_ipc_upload {
	unsigned ch;	    /* the held channel */
	uint8_t *map;	    /* slots * slot_size, shared with the core */
	uint32_t slots, slot_size;
	uint32_t handle;
	uint32_t cur;	    /* the slot being filled */
	uint32_t fill;	    /* bytes in it */
	uint32_t in_flight; /* SLOT requests sent and not yet answered: the slots before cur */
	bool failed;	    /* an answer failed: nothing more is sent */
	struct sevd_reply *scratch; /* answers after a failure, or nobody wants */
	struct sevd_request req; /* op and u.slot only: the request is small */
};

int sevd_ipc_upload_open(uint32_t handle, const struct sevd_caller *caller, struct sevd_reply *rep,
			 struct sevd_ipc_upload **ret)
{
	struct sevd_request *req = calloc(1, sizeof(*req));
	struct sevd_ipc_upload *u = calloc(1, sizeof(*u));
	struct sevd_reply *scratch = malloc(sizeof(*scratch));
	char err[SEVD_IPC_ERR_MAX];
	struct stat st;
	int fd = -1;

	*ret = NULL;
	if (!req || !u || !scratch) {
		free(req);
		free(u);
		free(scratch);
		snprintf(rep->message, sizeof(rep->message), "out of memory");
		return rep->r = -ENOMEM;
	}
	req->op = SEVD_OP_GUEST_DATA_STAGE;
	req->caller = *caller;
	req->u.guest.handle = handle;
	if (check_call(req, rep) < 0)
		goto fail;
	if (take(USE_HOLD, &u->ch, rep) < 0)
		goto fail;
	send_on(u->ch, req);
	if (sevd_ipc_recv_reply_fd(pool.fd[u->ch], req->op, rep, &fd, err, sizeof(err)) < 0)
		channel_broken(u->ch, err);
	if (rep->r < 0) {
		give_back(u->ch, true);
		goto fail;
	}
	u->slots = rep->u.stage.slots;
	u->slot_size = rep->u.stage.slot_size;
	if (fd < 0 || u->slots == 0 || u->slot_size == 0 || fstat(fd, &st) < 0 ||
	    (uint64_t)st.st_size < (uint64_t)u->slots * u->slot_size)
		channel_broken(u->ch, "the core's staging buffer is missing or too small");
	u->map = mmap(NULL, (size_t)u->slots * u->slot_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fd, 0);
	close(fd);
	if (u->map == MAP_FAILED) {
		/* Not the channel's fault: give it back (the core drops the staging with the
		 * next request on it) and let the caller upload without one. */
		rep->r = negative_errno();
		snprintf(rep->message, sizeof(rep->message), "cannot map the staging buffer: %s",
			 strerror(-rep->r));
		give_back(u->ch, true);
		goto fail;
	}
	u->handle = handle;
	u->scratch = scratch;
	u->req.op = SEVD_OP_GUEST_DATA_SLOT;
	u->req.caller = *caller;
	free(req);
	*ret = u;
	return 0;
fail:
	free(req);
	free(u);
	free(scratch);
	return rep->r;
}

/* Read the oldest answer in flight (the core answers in order). The first failure stops
 * the upload and stays in rep; answers after it go to the scratch reply. */
static int upload_settle_one(struct sevd_ipc_upload *u, struct sevd_reply *rep)
{
	struct sevd_reply *into = u->failed ? u->scratch : rep;

	if (!u->in_flight)
		return 0;
	u->in_flight--;
	recv_on(u->ch, SEVD_OP_GUEST_DATA_SLOT, into);
	if (!u->failed && into->r < 0) {
		u->failed = true;
		return into->r;
	}
	return 0;
}

/* Every answer in flight: 0, or the failure among them (in rep). */
static int upload_settle(struct sevd_ipc_upload *u, struct sevd_reply *rep)
{
	int r = 0, k;

	while (u->in_flight)
		if ((k = upload_settle_one(u, rep)) < 0)
			r = k;
	return r;
}

/* Send the slot being filled and move on to the next one, which is free once its last
 * answer is read: with every slot in flight, wait for the oldest. The requests queue on
 * the channel, so the core takes the next one as soon as it answered one. */
static int upload_send(struct sevd_ipc_upload *u, struct sevd_reply *rep)
{
	int r;

	u->req.u.slot.handle = u->handle;
	u->req.u.slot.slot = u->cur;
	u->req.u.slot.len = u->fill;
	send_on(u->ch, &u->req);
	u->in_flight++;
	u->cur = (u->cur + 1) % u->slots;
	u->fill = 0;
	if (u->in_flight == u->slots && (r = upload_settle_one(u, rep)) < 0) {
		(void)upload_settle(u, rep); /* the rest: into scratch */
		return r;
	}
	return 0;
}

int sevd_ipc_upload_write(struct sevd_ipc_upload *u, const void *buf, size_t len,
			  struct sevd_reply *rep)
{
	const uint8_t *p = buf;

	if (u->failed)
		return -EIO;
	while (len) {
		uint32_t n = (uint32_t)MIN(len, (size_t)(u->slot_size - u->fill));

		memcpy(u->map + (size_t)u->cur * u->slot_size + u->fill, p, n);
		u->fill += n;
		p += n;
		len -= n;
		if (u->fill == u->slot_size && upload_send(u, rep) < 0)
			return rep->r;
	}
	return 0;
}

int sevd_ipc_upload_flush(struct sevd_ipc_upload *u, uint32_t unit, struct sevd_reply *rep)
{
	if (u->failed)
		return -EIO;
	if (unit > 1)
		u->fill -= u->fill % unit;
	if (u->fill && upload_send(u, rep) < 0)
		return rep->r;
	return upload_settle(u, rep);
}

int sevd_ipc_upload_call(struct sevd_ipc_upload *u, const struct sevd_request *req,
			 struct sevd_reply *rep)
{
	if (check_call(req, rep) < 0)
		return rep->r;
	(void)upload_settle(u, u->scratch); /* answers nobody wants any more (the upload ends) */
	send_on(u->ch, req);
	recv_on(u->ch, req->op, rep);
	return rep->r;
}

void sevd_ipc_upload_close(struct sevd_ipc_upload *u)
{
	if (!u)
		return;
	(void)upload_settle(u, u->scratch);
	munmap(u->map, (size_t)u->slots * u->slot_size);
	give_back(u->ch, true);
	free(u->scratch);
	free(u);
}
