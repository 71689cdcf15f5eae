/* The core's Unix listener and its connection ids (conns.h). Trusts the kernel for who a
 * peer is (SO_PEERCRED, SO_PEERGROUPS at accept()), and the worker with nothing: an id is 64
 * random bits, valid from the accept until the connection ends (the core keeps its own
 * reference to the socket and sees the hang-up; a request in flight then has LINGER_MS to
 * finish), until the worker gives it back, or until the worker that got it ends. A
 * compromised worker can therefore act only with the rights of a client connected now (or
 * that left less than LINGER_MS ago). One
 * thread (accept_main) accepts, hands off and watches the connections; authz.c looks ids up
 * from the channel threads under the lock. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "daemon/core/conns.h"

#define CONNS_MAX 4096 /* above sevd.conf's connection_limit default (512); more wait */
#define LISTEN_MAX 16

/* A request in flight when its client left (an upload the worker still flushes and ends)
 * is finished on the id for at most this long after the hang-up, unless the worker gives
 * the id back first (it does when libmicrohttpd closes the connection). */
#define LINGER_MS 10000

struct entry {
	uint64_t id;
	int fd; /* the core's reference to the client's socket */
	uint64_t hup_ms; /* CLOCK_MONOTONIC ms the core saw both directions shut; 0: open */
	struct sevd_conn_peer peer;
};

struct sevd_conns {
	pthread_t thread;
	bool running;
	atomic_bool stop;
	int wake; /* eventfd: the table or the handoff changed */
	int listen[LISTEN_MAX];
	unsigned n_listen;
	pthread_mutex_t lock;
	int handoff; /* the current worker's, or -1: no accepting */
	struct entry *e;
	unsigned n;
	unsigned full_logged;
};

/* authz.c's lookups reach the one instance of the process. */
static pthread_mutex_t the_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sevd_conns *the_conns;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void wake(struct sevd_conns *c)
{
	uint64_t one = 1;

	(void)!write(c->wake, &one, sizeof(one));
}

/* Under c->lock: end connection i (the client sees EOF even though the worker may still hold
 * its copy), forget its id. */
static void drop(struct sevd_conns *c, unsigned i)
{
	(void)shutdown(c->e[i].fd, SHUT_RDWR);
	close(c->e[i].fd);
	c->e[i] = c->e[--c->n];
}

static void drop_all(struct sevd_conns *c)
{
	while (c->n)
		drop(c, c->n - 1);
}

static int find(struct sevd_conns *c, uint64_t id)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->e[i].id == id)
			return (int)i;
	return -1;
}

static uint64_t new_id(struct sevd_conns *c)
{
	uint64_t id = 0;

	while (id == 0 || find(c, id) >= 0)
		if (getrandom(&id, sizeof(id), 0) != sizeof(id))
			return 0;
	return id;
}

static void read_peer(int fd, struct sevd_conn_peer *p)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[256];
	socklen_t glen = sizeof(groups);

	memset(p, 0, sizeof(*p));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred)) {
		p->uid = p->gid = (uint32_t)-1; /* unknown: nobody's rights (authz.c) */
		return;
	}
	p->uid = (uint32_t)cred.uid;
	p->gid = (uint32_t)cred.gid;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0)
		for (size_t i = 0; i < glen / sizeof(gid_t) && p->n_groups < SEVD_EVIDENCE_GROUPS;
		     i++)
			p->groups[p->n_groups++] = (uint32_t)groups[i];
}

/* Under c->lock: the message and the fd to the worker; never blocks (a worker that does not
 * take its connections must not stall the core): the connection is refused then. */
static int hand_off(struct sevd_conns *c, const struct entry *e)
{
	struct sevd_handoff_msg m = {.magic = SEVD_HANDOFF_MAGIC, .uid = e->peer.uid,
				     .conn = e->id};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	memset(u.buf, 0, sizeof(u.buf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &e->fd, sizeof(int));
	return sendmsg(c->handoff, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof(m)
		       ? 0
		       : negative_errno();
}

static void accept_one(struct sevd_conns *c, int lfd)
{
	struct entry e = {.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)};
	int r;

	if (e.fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warning_errno(errno, "accept() on the Unix API socket: %m");
		return;
	}
	read_peer(e.fd, &e.peer);
	pthread_mutex_lock(&c->lock);
	e.id = new_id(c);
	if (c->handoff < 0 || c->n >= CONNS_MAX || !e.id) {
		pthread_mutex_unlock(&c->lock);
		close(e.fd);
		return;
	}
	c->e[c->n++] = e;
	r = hand_off(c, &e);
	if (r < 0) {
		drop(c, c->n - 1);
		if (!c->full_logged++)
			log_warning_errno(r, "Cannot hand a Unix API connection (uid %u) to the "
					     "worker: %m; it was closed (the worker does not take "
					     "its connections: is it stuck?)",
					  e.peer.uid);
	}
	pthread_mutex_unlock(&c->lock);
}

/* Under c->lock: the ids the worker gives back on the handoff socket (sevd_handoff_msg
 * without an fd: libmicrohttpd closed that connection). Anything else is ignored. */
static void take_back(struct sevd_conns *c)
{
	struct sevd_handoff_msg m;
	int at;

	for (unsigned n = 0; n < 256; n++) {
		ssize_t k = recv(c->handoff, &m, sizeof(m), MSG_DONTWAIT);

		if (k != (ssize_t)sizeof(m))
			return;
		if (m.magic == SEVD_HANDOFF_MAGIC && (at = find(c, m.conn)) >= 0)
			drop(c, (unsigned)at);
	}
}

/* Under c->lock: end the ids whose client left more than LINGER_MS ago; the poll timeout
 * until the next one is due (-1: none). */
static int expire(struct sevd_conns *c, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (unsigned i = c->n; i-- > 0;) {
		if (!c->e[i].hup_ms)
			continue;
		if (now - c->e[i].hup_ms >= LINGER_MS)
			drop(c, i);
		else if (c->e[i].hup_ms + LINGER_MS < next)
			next = c->e[i].hup_ms + LINGER_MS;
	}
	return next == UINT64_MAX ? -1 : (int)(next - now) + 1;
}

/* One poll set: the wake eventfd, the handoff socket (ids given back; its hang-up: the
 * worker is gone), the listeners while a worker takes connections, and every open
 * connection (events 0: the kernel reports POLLHUP once both directions are shut, i.e. the
 * client left or the worker ended it). */
static void *accept_main(void *arg)
{
	struct sevd_conns *c = arg;
	struct pollfd *p = calloc(2 + LISTEN_MAX + CONNS_MAX, sizeof(*p));
	uint64_t *ids = calloc(2 + LISTEN_MAX + CONNS_MAX, sizeof(*ids));
	unsigned k, first_conn, n_l;
	int handoff, timeout;

	while (p && ids && !atomic_load(&c->stop)) {
		pthread_mutex_lock(&c->lock);
		timeout = expire(c, mono_ms());
		k = 0;
		p[k++] = (struct pollfd){.fd = c->wake, .events = POLLIN};
		handoff = c->handoff;
		p[k++] = (struct pollfd){.fd = handoff, .events = POLLIN};
		n_l = handoff >= 0 && c->n < CONNS_MAX ? c->n_listen : 0;
		for (unsigned i = 0; i < n_l; i++)
			p[k++] = (struct pollfd){.fd = c->listen[i], .events = POLLIN};
		first_conn = k;
		for (unsigned i = 0; i < c->n; i++) {
			if (c->e[i].hup_ms)
				continue;
			ids[k] = c->e[i].id;
			p[k++] = (struct pollfd){.fd = c->e[i].fd};
		}
		pthread_mutex_unlock(&c->lock);
		if (poll(p, k, timeout) < 0 && errno != EINTR) {
			log_error_errno(errno, "poll() in the Unix API listener: %m");
			break;
		}
		if (p[0].revents & POLLIN) {
			uint64_t v;

			(void)!read(c->wake, &v, sizeof(v));
		}
		pthread_mutex_lock(&c->lock);
		for (unsigned i = first_conn; i < k; i++) {
			int at;

			if (!(p[i].revents & (POLLHUP | POLLERR | POLLNVAL)))
				continue;
			at = find(c, ids[i]);
			if (at >= 0 && c->e[at].fd == p[i].fd && !c->e[at].hup_ms)
				c->e[at].hup_ms = mono_ms() ? mono_ms() : 1;
		}
		if (handoff >= 0 && c->handoff == handoff && (p[1].revents & POLLIN))
			take_back(c);
		if (handoff >= 0 && c->handoff == handoff &&
		    (p[1].revents & (POLLHUP | POLLERR | POLLNVAL))) {
			/* The worker is gone: its connections end with it. */
			drop_all(c);
			close(c->handoff);
			c->handoff = -1;
		}
		pthread_mutex_unlock(&c->lock);
		for (unsigned i = 0; i < n_l; i++)
			if (p[2 + i].revents & POLLIN)
				accept_one(c, p[2 + i].fd);
	}
	if (!p || !ids)
		log_error("The Unix API listener is out of memory; it stops accepting");
	free(p);
	free(ids);
	return NULL;
}

int sevd_conns_new(const int *listen_fds, unsigned n, struct sevd_conns **ret)
{
	struct sevd_conns *c;
	int r;

	if (n > LISTEN_MAX)
		return -E2BIG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->e = calloc(CONNS_MAX, sizeof(*c->e));
	c->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->handoff = -1;
	pthread_mutex_init(&c->lock, NULL);
	for (unsigned i = 0; i < n; i++) {
		c->listen[c->n_listen++] = listen_fds[i];
		(void)fcntl(listen_fds[i], F_SETFL, fcntl(listen_fds[i], F_GETFL) | O_NONBLOCK);
		(void)fcntl(listen_fds[i], F_SETFD, FD_CLOEXEC);
	}
	r = !c->e ? -ENOMEM : c->wake < 0 ? negative_errno() : 0;
	if (r == 0)
		r = -pthread_create(&c->thread, NULL, accept_main, c);
	if (r < 0) {
		sevd_conns_free(c);
		return log_error_errno(r, "Cannot start the Unix API listener: %m");
	}
	c->running = true;
	pthread_mutex_lock(&the_lock);
	the_conns = c;
	pthread_mutex_unlock(&the_lock);
	*ret = c;
	return 0;
}

void sevd_conns_worker(struct sevd_conns *c, int handoff)
{
	if (!c) {
		if (handoff >= 0)
			close(handoff);
		return;
	}
	pthread_mutex_lock(&c->lock);
	drop_all(c);
	if (c->handoff >= 0)
		close(c->handoff);
	c->handoff = handoff;
	c->full_logged = 0;
	pthread_mutex_unlock(&c->lock);
	wake(c);
}

int sevd_conns_peer(uint64_t id, struct sevd_conn_peer *ret)
{
	int r = -ENOENT, at;

	if (!id)
		return -ENOENT;
	pthread_mutex_lock(&the_lock);
	if (the_conns) {
		pthread_mutex_lock(&the_conns->lock);
		at = find(the_conns, id);
		if (at >= 0) {
			*ret = the_conns->e[at].peer;
			r = 0;
		}
		pthread_mutex_unlock(&the_conns->lock);
	}
	pthread_mutex_unlock(&the_lock);
	return r;
}

unsigned sevd_conns_live(struct sevd_conns *c)
{
	unsigned n;

	pthread_mutex_lock(&c->lock);
	n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void sevd_conns_free(struct sevd_conns *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&the_lock);
	if (the_conns == c)
		the_conns = NULL;
	pthread_mutex_unlock(&the_lock);
	if (c->running) {
		atomic_store(&c->stop, true);
		wake(c);
		pthread_join(c->thread, NULL);
	}
	if (c->e)
		drop_all(c);
	if (c->handoff >= 0)
		close(c->handoff);
	for (unsigned i = 0; i < c->n_listen; i++)
		close(c->listen[i]);
	if (c->wake >= 0)
		close(c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c->e);
	free(c);
}
