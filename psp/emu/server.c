/* The socket loop of sev-psp-emu (see server.h). Trusts no client: every header field is
 * checked, every descriptor that arrives is accounted for, replies never block the loop
 * (a client that does not read its replies loses its connection, not the emulator). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "psp/emu-wire.h"
#include "psp/emu/fault.h"
#include "psp/emu/guest.h"
#include "psp/emu/server.h"

#define MAX_CONNS 1024u
#define MAX_FDS_PER_MSG 8

struct conn {
	int fd;
	uint64_t id;
};

struct emu_server {
	struct emu_fw *fw;
	char *path;
	int listen_fd;
	int spare_fd; /* held back so that a connection can be refused when out of fds */
	struct conn conns[MAX_CONNS];
	unsigned n;
	uint64_t next_id;
	int signal_fd; /* SIGTERM/SIGINT, watched during a fault plan's hang too */
	bool quit;     /* a signal came during a hang: stop serving, let the loop exit */
};

/* ---- one request ---- */

static void reply_init(struct emu_reply_hdr *r, const struct emu_msg_hdr *h)
{
	memset(r, 0, sizeof(*r));
	r->magic = EMU_WIRE_MAGIC;
	r->version = EMU_WIRE_VERSION;
	r->type = h->type;
	r->seq = h->seq;
}

static size_t do_cmd(struct emu_fw *fw, const struct emu_msg_hdr *h, const uint8_t *payload,
		     struct emu_reply_hdr *r, uint8_t *out)
{
	int st;

	memcpy(out, payload, h->len);
	st = emu_fw_command(fw, h->cmd, out, h->len);
	if (st < 0) { /* shorter than the command's buffer: not firmware's to answer */
		log_debug("%s with %u bytes refused: its buffer is %d bytes", sev_cmd_name(h->cmd),
			  h->len, sev_cmd_buffer_size(h->cmd));
		r->error = st;
		return 0;
	}
	r->status = st;
	log_debug("%s (0x%x, %u bytes) -> %s", sev_cmd_name(h->cmd) ?: "unknown command",
		  h->cmd, h->len, sev_status_name(r->status));
	return h->len;
}

/* EMU_MSG_BATCH (emu-wire.h): N firmware commands in one message, each run as its own
 * EMU_MSG_CMD would be (the same checks, fault rules and status), in order, stopping after the
 * first that fails. Only the message boundary differs: firmware still sees one command at a
 * time. The whole message is checked first, so a malformed one runs nothing. */
static size_t do_batch(struct emu_fw *fw, const struct emu_msg_hdr *h, const uint8_t *payload,
		       struct emu_reply_hdr *r, uint8_t *out)
{
	struct emu_batch_item it;
	size_t at = 0, need = 0, n = 0;

	if (h->cmd == 0 || h->cmd > EMU_BATCH_MAX) {
		r->error = -EINVAL;
		return 0;
	}
	for (uint32_t i = 0; i < h->cmd; i++) {
		if (h->len - at < sizeof(it)) {
			r->error = -EINVAL;
			return 0;
		}
		memcpy(&it, payload + at, sizeof(it));
		at += sizeof(it);
		if (it.len > h->len - at) {
			r->error = -EINVAL;
			return 0;
		}
		at += it.len;
		need += sizeof(struct emu_batch_result) + it.len;
	}
	if (at != h->len || need > EMU_WIRE_MAX_PAYLOAD) {
		r->error = at != h->len ? -EINVAL : -EMSGSIZE;
		return 0;
	}
	at = 0;
	for (uint32_t i = 0; i < h->cmd; i++) {
		struct emu_msg_hdr ih = { .type = EMU_MSG_CMD };
		struct emu_reply_hdr ir = { 0 };
		struct emu_batch_result res;

		memcpy(&it, payload + at, sizeof(it));
		at += sizeof(it);
		ih.cmd = it.cmd;
		ih.len = it.len;
		res = (struct emu_batch_result){ .cmd = it.cmd };
		res.len = (uint32_t)do_cmd(fw, &ih, payload + at, &ir, out + n + sizeof(res));
		at += it.len;
		res.status = ir.status;
		res.error = ir.error;
		memcpy(out + n, &res, sizeof(res));
		n += sizeof(res) + res.len;
		r->status = ir.status;
		r->error = ir.error;
		if (ir.status || ir.error)
			break;
	}
	return n;
}

static size_t do_map(struct emu_fw *fw, uint64_t conn_id, const struct emu_msg_hdr *h,
		     const uint8_t *payload, int fd, struct emu_reply_hdr *r, uint8_t *out)
{
	struct emu_map_req req;
	struct emu_map_reply rep = { 0 };
	uint64_t owner = (h->cmd & EMU_MAP_F_CONNECTION) ? conn_id : 0, base = 0;

	memcpy(&req, payload, sizeof(req));
	r->error = emu_mem_map_by(fw->mem, fd, req.size, owner, conn_id, &base);
	rep.base = base;
	if (r->error < 0) {
		log_info("Refused to map a region of %llu bytes: %s", (unsigned long long)req.size,
			 strerror(-r->error));
		return 0;
	}
	memcpy(out, &rep, sizeof(rep));
	return sizeof(rep);
}

static size_t do_info(struct emu_fw *fw, uint8_t *out)
{
	struct emu_info info = {
		.cpuid_eax = fw->cfg.cpuid_eax,
		.cpuid_ebx = fw->cfg.cpuid_ebx,
		.cpuid_ecx = fw->cfg.cpuid_ecx,
		.cpuid_edx = fw->cfg.cpuid_edx,
		.api_major = fw->cfg.api_major,
		.api_minor = fw->cfg.api_minor,
		.build = fw->cfg.build,
		.pid = (uint32_t)getpid(),
		.commands_served = fw->commands_served,
		.max_concurrent_seen = fw->max_concurrent_seen,
	};

	memcpy(out, &info, sizeof(info));
	return sizeof(info);
}

static size_t do_ctl(struct emu_fw *fw, const struct emu_msg_hdr *h, const uint8_t *payload,
		     struct emu_reply_hdr *r, uint8_t *out, size_t cap)
{
	char line[EMU_WIRE_MAX_PAYLOAD + 1];
	size_t n = 0;

	memcpy(line, payload, h->len);
	line[h->len] = 0;
	if (strlen(line) != h->len) {
		r->error = -EINVAL; /* embedded NUL */
		return 0;
	}
	r->error = emu_ctl(fw, line, out, cap, &n);
	log_debug("CTL '%s' -> %s", line, r->error ? strerror(-r->error) : "ok");
	return n;
}

/* Each message type's fixed payload size (-1: variable) and whether it carries an fd. */
static bool shape_ok(const struct emu_msg_hdr *h, int fd)
{
	switch (h->type) {
	case EMU_MSG_CMD:
	case EMU_MSG_CTL:
	case EMU_MSG_BATCH:
		return fd < 0;
	case EMU_MSG_MAP:
		return fd >= 0 && h->len == sizeof(struct emu_map_req);
	case EMU_MSG_UNMAP:
		return fd < 0 && h->len == sizeof(struct emu_unmap_req);
	case EMU_MSG_INFO:
		return fd < 0 && h->len == 0;
	default:
		return false;
	}
}

ssize_t emu_handle_request(struct emu_fw *fw, uint64_t conn_id, const uint8_t *msg, size_t len,
			   int fd, uint8_t *reply, size_t cap)
{
	const size_t hs = sizeof(struct emu_msg_hdr), rs = sizeof(struct emu_reply_hdr);
	struct emu_msg_hdr h;
	struct emu_reply_hdr r;
	uint8_t *out = reply + rs;
	size_t n = 0;

	if (cap < rs + EMU_WIRE_MAX_PAYLOAD || len < hs)
		goto bad;
	memcpy(&h, msg, hs);
	if (h.magic != EMU_WIRE_MAGIC || h.version != EMU_WIRE_VERSION ||
	    h.len > EMU_WIRE_MAX_PAYLOAD || h.len != len - hs || !shape_ok(&h, fd))
		goto bad;
	reply_init(&r, &h);
	switch (h.type) {
	case EMU_MSG_CMD:
		n = do_cmd(fw, &h, msg + hs, &r, out);
		break;
	case EMU_MSG_BATCH:
		n = do_batch(fw, &h, msg + hs, &r, out);
		break;
	case EMU_MSG_MAP:
		n = do_map(fw, conn_id, &h, msg + hs, fd, &r, out);
		break;
	case EMU_MSG_UNMAP:
		r.error = emu_mem_unmap(fw->mem, ((const struct emu_unmap_req *)(msg + hs))->base);
		break;
	case EMU_MSG_INFO:
		n = do_info(fw, out);
		break;
	case EMU_MSG_CTL:
		n = do_ctl(fw, &h, msg + hs, &r, out, EMU_WIRE_MAX_PAYLOAD);
		break;
	}
	if (fd >= 0)
		close(fd); /* a mapping keeps its own reference */
	r.len = (uint32_t)n;
	memcpy(reply, &r, rs);
	return (ssize_t)(rs + n);
bad:
	if (fd >= 0)
		close(fd);
	return -EBADMSG;
}

/* ---- sockets ---- */

/* A socket file left by a dead emulator is replaced; one with a live emulator is not. */
static int prepare_path(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (r == 0)
		return -EADDRINUSE;
	return unlink(path) < 0 ? negative_errno() : 0;
}

int emu_server_new(struct emu_fw *fw, const char *path, struct emu_server **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct emu_server *s;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error_errno(-ENAMETOOLONG, "Socket path %s is too long", path);
	strcpy(sa.sun_path, path);
	r = prepare_path(path, &sa);
	if (r < 0)
		return log_error_errno(r, "Cannot use %s for the socket (%s): %m", path,
				       r == -EADDRINUSE ? "another emulator is serving it" :
				       r == -EEXIST	 ? "a file that is not a socket is there" :
							   "cannot replace the stale socket");
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fw = fw;
	s->next_id = 1;
	s->signal_fd = -1;
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s->path = strdup(path);
	s->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (!s->path || s->listen_fd < 0 ||
	    bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s->listen_fd, 64) < 0) {
		r = log_error_errno(s->path ? negative_errno() : -ENOMEM,
				    "Failed to listen on %s: %m", path);
		if (s->listen_fd >= 0)
			close(s->listen_fd);
		if (s->spare_fd >= 0)
			close(s->spare_fd);
		free(s->path);
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

static void conn_close(struct emu_server *s, unsigned i, const char *why)
{
	log_debug("Connection %llu closed: %s", (unsigned long long)s->conns[i].id, why);
	emu_mem_conn_gone(s->fw->mem, s->conns[i].id);
	close(s->conns[i].fd);
	s->conns[i] = s->conns[--s->n];
}

void emu_server_free(struct emu_server *s)
{
	if (!s)
		return;
	while (s->n > 0)
		conn_close(s, s->n - 1, "emulator exiting");
	close(s->listen_fd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	unlink(s->path);
	free(s->path);
	free(s);
}

/* Out of descriptors: a waiting connection would keep the listening socket readable and the
 * loop spinning. Give up the spare descriptor to accept it, close it at once, take the spare
 * back (the classic "idle fd" trick). */
static void refuse_one(struct emu_server *s)
{
	int fd;

	if (s->spare_fd < 0)
		return;
	close(s->spare_fd);
	fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		close(fd);
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	log_warning("Out of file descriptors: refused a connection (%u clients connected)", s->n);
}

/* Accept what is waiting (a bounded batch, so that a connection flood cannot starve the
 * clients already connected). */
static void do_accept(struct emu_server *s)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0 && (errno == EMFILE || errno == ENFILE))
			refuse_one(s);
		if (fd < 0)
			return;
		if (s->n >= MAX_CONNS) {
			log_warning("Refusing a connection: %u clients already connected",
				    MAX_CONNS);
			close(fd);
			continue;
		}
		s->conns[s->n++] = (struct conn){ .fd = fd, .id = s->next_id++ };
		log_debug("Connection %llu accepted", (unsigned long long)s->next_id - 1);
	}
}

/* Take the descriptors out of SCM_RIGHTS messages; returns how many (up to max kept). */
static int collect_fds(struct msghdr *mh, int *fds, int max)
{
	int n = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t j = 0; j < k; j++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof(int));
			if (n < max)
				fds[n++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

/* Send a reply, with one descriptor in SCM_RIGHTS when the request produced one (CTL
 * guest-memfd); the descriptor is ours to close either way. */
static int send_reply(int fd, const uint8_t *reply, size_t len, int pass_fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = (void *)reply, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (pass_fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &pass_fd, sizeof(int));
	}
	n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (pass_fd >= 0)
		close(pass_fd);
	return n == (ssize_t)len ? 0 : -EPIPE;
}

/* ---- fault plans (fault.h): the part of a rule that happens on the socket ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* hang: the PSP stops answering. The whole loop waits, as every host command waits on a busy
 * PSP mailbox; SIGTERM/SIGINT still end the process at once (true: a signal came). */
static bool fault_stall(struct emu_server *s, uint32_t seconds)
{
	struct pollfd p = { .fd = s->signal_fd, .events = POLLIN };
	int64_t deadline = now_ms() + (int64_t)seconds * 1000;

	for (;;) {
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0)
			return false;
		r = poll(&p, 1, (int)MIN(left, (int64_t)INT32_MAX));
		if (r > 0)
			return true;
		if (r < 0 && errno != EINTR)
			return false;
	}
}

/* Carry out what a rule that struck the command just run asks of its reply (reply[cap]
 * holds *rl bytes). 0: send the (possibly altered) reply; 1: send nothing; negative: end
 * the connection without a reply. A DIE does not return. */
static int fault_act(struct emu_server *s, const struct emu_fault_action *a, uint8_t *reply,
		     size_t cap, ssize_t *rl)
{
	struct emu_reply_hdr h;

	switch (a->kind) {
	case EMU_FAULT_HANG:
		log_info("Fault plan: not answering %s for %u s", sev_cmd_name(a->cmd), a->seconds);
		s->quit = fault_stall(s, a->seconds);
		return s->quit ? 1 : 0;
	case EMU_FAULT_GARBAGE_LEN:
		/* A well-formed datagram whose payload is not the command buffer it answers. */
		if ((size_t)*rl + EMU_FAULT_GARBAGE_BYTES > cap)
			return -EMSGSIZE;
		memcpy(&h, reply, sizeof(h));
		memset(reply + *rl, 0xa5, EMU_FAULT_GARBAGE_BYTES);
		h.len += EMU_FAULT_GARBAGE_BYTES;
		memcpy(reply, &h, sizeof(h));
		*rl += EMU_FAULT_GARBAGE_BYTES;
		return 0;
	case EMU_FAULT_DIE:
		/* As a crash or an OOM kill: no reply, no cleanup, the socket file stays. */
		log_warning("Fault plan: dying in the middle of %s (SIGKILL)", sev_cmd_name(a->cmd));
		kill(getpid(), SIGKILL);
		_exit(EXIT_FAILURE); /* not reached */
	case EMU_FAULT_DROP_SOCKET:
		return -ECONNABORTED;
	default:
		return 0;
	}
}

/* Receive and answer one request of connection i. Negative: end the connection. */
static int serve_one(struct emu_server *s, unsigned i)
{
	uint8_t msg[sizeof(struct emu_msg_hdr) + EMU_WIRE_MAX_PAYLOAD];
	uint8_t reply[sizeof(struct emu_reply_hdr) + EMU_WIRE_MAX_PAYLOAD];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_MSG)];
	} cm;
	struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };
	int fds[MAX_FDS_PER_MSG], nfds, fd = s->conns[i].fd, r;
	struct emu_fault_action act;
	ssize_t n, rl;

	n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	nfds = collect_fds(&mh, fds, MAX_FDS_PER_MSG);
	if (n == 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || nfds > 1) {
		for (int j = 0; j < nfds; j++)
			close(fds[j]);
		return n == 0 ? -ECONNRESET : -EBADMSG;
	}
	rl = emu_handle_request(s->fw, s->conns[i].id, msg, (size_t)n, nfds ? fds[0] : -1, reply,
				sizeof(reply));
	if (rl < 0)
		return (int)rl;
	act = emu_faults_take_action(s->fw->faults);
	r = fault_act(s, &act, reply, sizeof(reply), &rl);
	if (r != 0)
		return r < 0 ? r : 0;
	return send_reply(fd, reply, (size_t)rl, emu_guest_take_reply_fd(s->fw));
}

static bool cmd_pending(int fd)
{
	struct emu_msg_hdr h;

	return recv(fd, &h, sizeof(h), MSG_PEEK | MSG_DONTWAIT) == (ssize_t)sizeof(h) &&
	       (h.type == EMU_MSG_CMD || h.type == EMU_MSG_BATCH);
}

/* How many connections have a firmware command waiting right now: the PSP sees them one at
 * a time, but more than one waiting means the host did not serialize its commands. */
static void count_pending(struct emu_server *s, const struct pollfd *pfd, unsigned n)
{
	uint32_t pending = 0;

	for (unsigned i = 0; i < n; i++)
		if ((pfd[i].revents & POLLIN) && cmd_pending(pfd[i].fd))
			pending++;
	if (pending > s->fw->max_concurrent_seen)
		s->fw->max_concurrent_seen = pending;
}

static void serve_ready(struct emu_server *s, const struct pollfd *pfd, unsigned n)
{
	/* Downwards: closing connection i moves the last one (already served) into slot i. */
	for (unsigned i = n; i-- > 0;) {
		int r;

		if (s->quit)
			return; /* a signal came during a fault plan's hang */
		if (!pfd[i].revents)
			continue;
		r = (pfd[i].revents & POLLIN) ? serve_one(s, i) : -ECONNRESET;
		if (r < 0)
			conn_close(s, i, r == -EBADMSG	    ? "malformed message" :
					 r == -ECONNABORTED ? "fault plan drop-socket" :
							      strerror(-r));
	}
}

int emu_server_run(struct emu_server *s, int signal_fd)
{
	static struct pollfd pfd[2 + MAX_CONNS];

	s->signal_fd = signal_fd;
	for (;;) {
		unsigned n = s->n;

		pfd[0] = (struct pollfd){ .fd = signal_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
		for (unsigned i = 0; i < n; i++)
			pfd[2 + i] = (struct pollfd){ .fd = s->conns[i].fd, .events = POLLIN };
		if (poll(pfd, 2 + n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return log_error_errno(negative_errno(), "poll failed: %m");
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				log_info("Received %s, exiting", strsignal((int)si.ssi_signo));
			return 0;
		}
		count_pending(s, pfd + 2, n);
		serve_ready(s, pfd + 2, n);
		if (s->quit)
			continue; /* the next poll reads the signal and returns */
		if (pfd[1].revents & POLLIN)
			do_accept(s);
	}
}
