/* The worker's end of the core channels (ipc.h): a pool of sockets, one request in flight on
 * each, so that a long upload or firmware command on one MHD thread does not hold up /healthz
 * or /metrics on another. An MHD thread takes a free channel (or waits for one), sends the
 * request, reads the reply, gives the channel back. Trusts the core, but still checks every
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
#include <unistd.h>

#include "common/log.h"
#include "daemon/cache-region.h"
#include "daemon/ipc.h"

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

int sevd_ipc_client_call(struct sevd_core *unused, const struct sevd_request *req,
			 struct sevd_reply *rep)
{
	struct sevd_ipc_src src = {.fd = -1};
	char err[SEVD_IPC_ERR_MAX];
	unsigned i;
	int r;

	rep->fw_status = SEV_STATUS_NO_FW_CALL;
	rep->rule[0] = '\0';
	if (!sevd_ipc_op_known(req->op)) {
		snprintf(rep->message, sizeof(rep->message), "unknown core operation %u", req->op);
		return rep->r = -EOPNOTSUPP;
	}
	if (sevd_region_answer(pool.region, req, rep))
		return rep->r;
	if (pool.n == 0) {
		snprintf(rep->message, sizeof(rep->message), "no channel to the privileged core");
		return rep->r = -ENOTCONN;
	}
	i = take();
	src.fd = pool.fd[i];
	r = sevd_ipc_send_request(src.fd, req);
	if (r < 0)
		snprintf(err, sizeof(err), "cannot send op %u: %s", req->op, strerror(-r));
	else
		r = sevd_ipc_recv_reply(&src, req->op, rep, err, sizeof(err));
	if (r < 0) {
		/* The channel is out of step or the core is gone: nothing more can be trusted on
		 * it. End the process without running exit handlers in the middle of other
		 * threads' requests; their clients see the connection close. */
		log_error("Core channel %u: %s; the worker ends (the core starts a new one)", i,
			  err);
		_exit(3);
	}
	give_back(i);
	if (req->op == SEVD_OP_METRICS && rep->r == 0)
		append_worker_metrics(rep);
	return rep->r;
}
