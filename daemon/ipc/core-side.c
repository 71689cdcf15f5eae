/* The core's end of the worker channels (ipc.h). One thread per channel reads a request,
 * runs it with sevd_core_call (which checks every field again and enforces the admission
 * policy: guest.c) and writes the reply. The worker is untrusted: a malformed message is
 * logged with what was wrong, the worker is killed through its pidfd and all its channels are
 * shut down; sevd.c's supervisor then starts a new worker. Guests, ASIDs and the journal are
 * the core's and are untouched by that.
 *
 * The host admission rules are enforced in the core, not in the worker (guest.c, behind
 * sevd_core_call, on the request's own fields): a check the worker ran could be skipped by a
 * compromised worker, one the core runs cannot. The worker only turns JSON into the fixed
 * request. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"
#include "daemon/ipc/ipc.h"

struct sevd_ipc_server {
	struct sevd_core *core;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned threads; /* channel threads alive, all workers */
	unsigned bad_workers;
	struct generation *gens; /* those with a thread alive */
	_Atomic uint64_t health_ms; /* CLOCK_MONOTONIC ms of the last HEALTH answered, or 0 */
};

#define UPLOADS_MAX 64

/* One worker's channels; freed by the last of its threads. */
struct generation {
	struct generation *next, *prev;
	struct sevd_ipc_server *srv;
	int pidfd;
	pid_t pid;
	unsigned n, refs;
	atomic_bool killed;
	/* Guests with an upload this worker began and has not ended: a worker that dies
	 * mid-upload never sends GUEST_DATA_ABORT, so the core sends it for it. */
	uint32_t uploads[UPLOADS_MAX];
	unsigned n_uploads;
	int fd[];
};

/* Follow the uploads of a generation from the ops it runs (under the server lock). */
static void track_upload(struct generation *g, const struct sevd_request *req,
			 const struct sevd_reply *rep)
{
	uint32_t h = req->u.guest.handle;
	unsigned i;

	if (req->op != SEVD_OP_GUEST_DATA_BEGIN && req->op != SEVD_OP_GUEST_DATA_END &&
	    req->op != SEVD_OP_GUEST_DATA_ABORT && req->op != SEVD_OP_GUEST_DELETE)
		return;
	pthread_mutex_lock(&g->srv->lock);
	for (i = 0; i < g->n_uploads && g->uploads[i] != h; i++)
		;
	if (req->op == SEVD_OP_GUEST_DATA_BEGIN && rep->r == 0 && i == g->n_uploads &&
	    i < UPLOADS_MAX)
		g->uploads[g->n_uploads++] = h;
	else if (req->op != SEVD_OP_GUEST_DATA_BEGIN && i < g->n_uploads &&
		 (req->op != SEVD_OP_GUEST_DELETE || rep->r == 0))
		/* END and ABORT end the upload whatever they answer (guest.c); a DELETE only
		 * when it succeeded: one refused (409, "an upload into guest N is running")
		 * leaves the upload running, and the core must still end it if this worker
		 * dies (the guest stayed undeletable until the core restarted). */
		g->uploads[i] = g->uploads[--g->n_uploads];
	pthread_mutex_unlock(&g->srv->lock);
}

static void abort_uploads(struct generation *g)
{
	struct sevd_request *req;
	struct sevd_reply *rep;

	if (!g->n_uploads)
		return;
	req = calloc(1, sizeof(*req));
	rep = calloc(1, sizeof(*rep));
	for (unsigned i = 0; req && rep && i < g->n_uploads; i++) {
		req->op = SEVD_OP_GUEST_DATA_ABORT;
		req->u.guest.handle = g->uploads[i];
		(void)sevd_core_call(g->srv->core, req, rep);
		log_notice("Ended the upload into guest %u that worker %d left open", g->uploads[i],
			   (int)g->pid);
	}
	free(req);
	free(rep);
}

struct channel {
	struct generation *g;
	unsigned i;
};

/* A channel's staging buffer (ipc.h, "staged uploads"): the core's read-only map of it; the
 * fd went to the worker and is not kept. slots 0: none. */
struct staging {
	const uint8_t *map;
	uint32_t slots, slot_size;
};

static void staging_drop(struct staging *st)
{
	if (st->slots)
		(void)munmap((void *)st->map, (size_t)st->slots * st->slot_size);
	*st = (struct staging){0};
}

/* A sealed memfd of SEVD_STAGE_SLOTS slots, mapped read-only here: the worker gets the fd
 * (read-write), but with SHRINK, GROW and SEAL sealed it can never truncate it under this map
 * (no SIGBUS in the core). Returns the fd to pass, or a negative errno (reason in rep). */
static int staging_new(struct staging *st, struct sevd_reply *rep)
{
	size_t size = (size_t)SEVD_STAGE_SLOTS * SEVD_STAGE_SLOT_SIZE;
	int fd = memfd_create("sevd-staging", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p = MAP_FAILED;
	int r;

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
	    (p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		r = negative_errno();
		snprintf(rep->message, sizeof(rep->message),
			 "cannot create an upload staging buffer: %s", strerror(-r));
		if (fd >= 0)
			close(fd);
		return rep->r = r;
	}
	*st = (struct staging){.map = p, .slots = SEVD_STAGE_SLOTS,
			       .slot_size = SEVD_STAGE_SLOT_SIZE};
	rep->u.stage.slots = st->slots;
	rep->u.stage.slot_size = st->slot_size;
	return fd;
}

/* Serve one request of a channel that has (or may get) a staging buffer; returns the fd to
 * pass with the reply (STAGE), -1 for none. */
static int serve_staged(struct sevd_ipc_server *s, struct staging *st,
			const struct sevd_request *req, struct sevd_reply *rep)
{
	int fd;

	if (req->op == SEVD_OP_GUEST_DATA_SLOT) {
		(void)sevd_core_guest_data(s->core, req->u.slot.handle,
					   st->map + (size_t)req->u.slot.slot * st->slot_size,
					   req->u.slot.len, req->principal_tenant, rep);
		return -1;
	}
	staging_drop(st); /* any other request ends the staging */
	if (req->op != SEVD_OP_GUEST_DATA_STAGE) {
		(void)sevd_core_call(s->core, req, rep);
		return -1;
	}
	rep->fw_status = SEV_STATUS_NO_FW_CALL;
	/* a staging for another tenant's guest is refused as its slots would be */
	if (sevd_core_guest_tenant(s->core, req->op, req->u.guest.handle, req->principal_tenant,
				   rep) < 0)
		return -1;
	fd = staging_new(st, rep);
	return fd < 0 ? -1 : fd;
}

static void generation_unref(struct generation *g)
{
	struct sevd_ipc_server *s = g->srv;
	bool last;

	pthread_mutex_lock(&s->lock);
	last = --g->refs == 0;
	if (last) {
		if (g->prev)
			g->prev->next = g->next;
		else
			s->gens = g->next;
		if (g->next)
			g->next->prev = g->prev;
	}
	pthread_mutex_unlock(&s->lock);
	if (!last)
		return;
	abort_uploads(g);
	for (unsigned i = 0; i < g->n; i++)
		close(g->fd[i]);
	close(g->pidfd);
	free(g);
}

/* The worker sent something that is not a valid message: it is compromised or broken. */
static void generation_kill(struct generation *g, unsigned i, const char *why)
{
	if (atomic_exchange(&g->killed, true))
		return;
	log_error("Worker (pid %d) sent a malformed message on core channel %u: %s; killing it "
		  "(a new worker will be started)",
		  (int)g->pid, i, why);
	if (pidfd_send_signal(g->pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
		log_warning_errno(errno, "Cannot kill worker %d: %m", (int)g->pid);
	/* Every channel of it ends now, not when its other threads next write. The fds stay
	 * open until the last thread is done, so none is reused under another thread. */
	for (unsigned k = 0; k < g->n; k++)
		(void)shutdown(g->fd[k], SHUT_RDWR);
	pthread_mutex_lock(&g->srv->lock);
	g->srv->bad_workers++;
	pthread_mutex_unlock(&g->srv->lock);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sevd_ipc_server_health_ms(struct sevd_ipc_server *s)
{
	return atomic_load(&s->health_ms);
}

static void *channel_main(void *arg)
{
	struct channel ch = *(struct channel *)arg;
	struct generation *g = ch.g;
	struct sevd_ipc_server *s = g->srv;
	struct sevd_ipc_src src = {.fd = g->fd[ch.i]};
	/* Zeroed once; from then on the receiver clears only what an earlier body wrote. */
	struct sevd_request *req = calloc(1, sizeof(*req));
	struct sevd_reply *rep = malloc(sizeof(*rep));
	size_t req_dirty = 0;
	struct staging st = {0};
	char err[SEVD_IPC_ERR_MAX];
	int r, pass_fd;

	free(arg);
	while (req && rep) {
		r = sevd_ipc_recv_request_reuse(&src, req, &req_dirty, err, sizeof(err));
		if (r == -EPIPE || r == -ECONNRESET)
			break; /* the worker closed it (exit, crash, restart; a reset when it died
				* with an answer unread: a staged upload's slot) */
		if (r >= 0)
			r = sevd_ipc_check_slot(req, st.slots, st.slot_size, err, sizeof(err));
		if (r < 0) {
			if (!atomic_load(&g->killed))
				generation_kill(g, ch.i, err);
			break;
		}
		/* Only the bytes this op answers travel; none of an earlier reply's: the fixed part
		 * is cleared here, and the ops that fill a counted table (ASIDS, GUEST_LIST,
		 * METRICS) write every byte of the entries they count (core.c, guest.c), so a
		 * 4096-entry table is not cleared per request. */
		memset(rep, 0, sevd_ipc_body_fixed(SEVD_IPC_REPLY, req->op));
		/* The core decides (core/authz.c): the op table's roles against the caller's
		 * evidence, before anything else; a refusal changes nothing here either. */
		pass_fd = -1;
		if (sevd_core_authorize(s->core, req, rep) == 0) {
			pass_fd = serve_staged(s, &st, req, rep);
			track_upload(g, req, rep);
		}
		secret_wipe(&req->caller, sizeof(req->caller)); /* a token, perhaps */
		r = sevd_ipc_send_reply_fd(src.fd, req->op, rep, pass_fd);
		if (pass_fd >= 0)
			close(pass_fd); /* the worker has it now; the core keeps only its map */
		if (r < 0)
			break; /* the worker is gone; the supervisor sees it */
		if (req->op == SEVD_OP_HEALTH && rep->r == 0 && !atomic_load(&g->killed))
			atomic_store(&s->health_ms, mono_ms());
	}
	staging_drop(&st);
	if (!req || !rep)
		log_error("Core channel %u: out of memory; closing it", ch.i);
	free(req);
	free(rep);
	generation_unref(g);
	pthread_mutex_lock(&s->lock);
	s->threads--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int sevd_ipc_server_new(struct sevd_core *core, struct sevd_ipc_server **ret)
{
	struct sevd_ipc_server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->core = core;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	*ret = s;
	return 0;
}

int sevd_ipc_server_serve(struct sevd_ipc_server *s, int pidfd, pid_t pid, const int *fds,
			  unsigned n)
{
	struct generation *g = calloc(1, sizeof(*g) + n * sizeof(int));
	pthread_attr_t attr;
	int r = 0;

	if (!g || (pidfd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3)) < 0) {
		r = g ? negative_errno() : -ENOMEM;
		for (unsigned i = 0; i < n; i++)
			close(fds[i]);
		free(g);
		return r;
	}
	/* The worker before is gone (reaped): its TLS connections with it. */
	sevd_core_worker_started(s->core);
	*g = (struct generation){.srv = s, .pidfd = pidfd, .pid = pid, .n = n, .refs = 1};
	memcpy(g->fd, fds, n * sizeof(int));
	pthread_mutex_lock(&s->lock);
	g->next = s->gens;
	if (g->next)
		g->next->prev = g;
	s->gens = g;
	pthread_mutex_unlock(&s->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (unsigned i = 0; i < n && r == 0; i++) {
		struct channel *ch = malloc(sizeof(*ch));
		pthread_t t;

		if (!ch) {
			r = -ENOMEM;
			break;
		}
		*ch = (struct channel){.g = g, .i = i};
		pthread_mutex_lock(&s->lock);
		g->refs++;
		s->threads++;
		pthread_mutex_unlock(&s->lock);
		r = -pthread_create(&t, &attr, channel_main, ch);
		if (r < 0) {
			free(ch);
			pthread_mutex_lock(&s->lock);
			g->refs--;
			s->threads--;
			pthread_mutex_unlock(&s->lock);
		}
	}
	pthread_attr_destroy(&attr);
	if (r < 0) {
		log_error_errno(r, "Cannot start the core channel threads: %m");
		for (unsigned k = 0; k < n; k++)
			(void)shutdown(g->fd[k], SHUT_RDWR);
	}
	generation_unref(g); /* the threads hold it from here */
	return r;
}

unsigned sevd_ipc_server_bad_workers(struct sevd_ipc_server *s)
{
	unsigned n;

	pthread_mutex_lock(&s->lock);
	n = s->bad_workers;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void sevd_ipc_server_free(struct sevd_ipc_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	/* Normally the workers are gone already; one the core could not stop must not keep
	 * its channel threads (and so the core) waiting. */
	for (struct generation *g = s->gens; g; g = g->next)
		for (unsigned k = 0; k < g->n; k++)
			(void)shutdown(g->fd[k], SHUT_RDWR);
	while (s->threads)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
