/* The worker's end of the core channels (ipc.h): a pool of sockets, one request in flight on
 * each, so that a long upload or firmware command on one MHD thread does not hold up /healthz
 * or /metrics on another. An MHD thread takes a free channel (or waits for one), sends the
 * request, reads the reply, gives the channel back. An image upload holds one channel for its
 * whole length and streams through the staging buffer the core maps with it (ipc.h, staged
 * uploads). Trusts the core, but still checks every
 * reply's framing: a reply that does not fit means the core is gone or broken, and the
 * worker ends (the core, if it lives, starts a new one). Cached reads are answered from the
 * core's read-only region when it allows (cache-region.h): no channel, no core wake-up. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/util.h"
#include "daemon/ipc/cache-region.h"
#include "daemon/ipc/ipc.h"

#define IPC_CLIENT_MAX 64

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int fd[IPC_CLIENT_MAX];
	bool busy[IPC_CLIENT_MAX];
	unsigned n;
	struct sevd_region *region;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

int sevd_ipc_client_init(const int *fds, unsigned n)
{
	if (n == 0 || n > IPC_CLIENT_MAX || pool.n)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		pool.fd[i] = fds[i];
	pool.n = n;
	return 0;
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
	uint64_t platform, guest;
	int m;

	if (len >= size)
		return;
	sevd_region_hits(pool.region, &platform, &guest);
	m = snprintf(rep->u.metrics.text + len, size - len,
		     "# HELP sevd_worker_cache_hits_total Answers the HTTP worker served from the "
		     "core's shared reply cache, without a core call or a firmware command.\n"
		     "# TYPE sevd_worker_cache_hits_total counter\n"
		     "sevd_worker_cache_hits_total{command=\"PLATFORM_STATUS\"} %" PRIu64 "\n"
		     "sevd_worker_cache_hits_total{command=\"GUEST_STATUS\"} %" PRIu64 "\n",
		     platform, guest);
	if (m > 0 && (size_t)m < size - len)
		rep->u.metrics.len = (uint32_t)(len + (size_t)m);
	else
		rep->u.metrics.text[len] = '\0';
}

static unsigned take(void)
{
	unsigned i;

	pthread_mutex_lock(&pool.lock);
	for (;;) {
		for (i = 0; i < pool.n && pool.busy[i]; i++)
			;
		if (i < pool.n)
			break;
		pthread_cond_wait(&pool.cond, &pool.lock);
	}
	pool.busy[i] = true;
	pthread_mutex_unlock(&pool.lock);
	return i;
}

static void give_back(unsigned i)
{
	pthread_mutex_lock(&pool.lock);
	pool.busy[i] = false;
	pthread_cond_signal(&pool.cond);
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

/* 0: go to the core; 1: answered here from the region (rep filled); < 0: refused (rep->r). */
static int check_call(const struct sevd_request *req, struct sevd_reply *rep)
{
	rep->fw_status = SEV_STATUS_NO_FW_CALL;
	rep->rule[0] = '\0';
	if (!sevd_ipc_op_known(req->op)) {
		snprintf(rep->message, sizeof(rep->message), "unknown core operation %u", req->op);
		return rep->r = -EOPNOTSUPP;
	}
	/* A guest's status for a token or certificate holder goes to the core, which checks
	 * the principal's tenant (core/authz.c); the region's copy would show any tenant's. */
	if ((req->op != SEVD_OP_GUEST_INFO || req->caller.kind == SEVD_EVIDENCE_UNIX ||
	     req->caller.kind == SEVD_EVIDENCE_NONE) &&
	    sevd_region_answer(pool.region, req, rep))
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
	i = take();
	send_on(i, req);
	recv_on(i, req->op, rep);
	give_back(i);
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
	u->ch = take();
	send_on(u->ch, req);
	if (sevd_ipc_recv_reply_fd(pool.fd[u->ch], req->op, rep, &fd, err, sizeof(err)) < 0)
		channel_broken(u->ch, err);
	if (rep->r < 0) {
		give_back(u->ch);
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
		give_back(u->ch);
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
	give_back(u->ch);
	free(u->scratch);
	free(u);
}
