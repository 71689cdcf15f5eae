/* The emu transport: a client of sev-psp-emu over its SOCK_SEQPACKET socket (emu-wire.h).
 * Each call is one request and one reply, matched by sequence number, bounded by a timeout;
 * a timeout, a lost connection or a malformed reply kills the transport for good (as Linux
 * marks a PSP dead after a command timeout). Firmware-addressable memory comes from one
 * private memfd region mapped into the emulator for the connection's lifetime, carved up by
 * a page bitmap. Trusts the emulator for statuses only: every reply is checked for shape.
 * Called with t->lock held (transport.c), so there is one request in flight at a time. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/util.h"
#include "psp/emu-wire.h"
#include "psp/psp-emu.h"
#include "psp/psp-internal.h"
#include "psp/sev-abi.h"

#define DMA_SIZE (16u << 20) /* a sparse memfd: pages cost only when touched */
#define DMA_PAGES (DMA_SIZE / SEV_PAGE_SIZE)
#define DEFAULT_TIMEOUT_MS 30000

struct emu_client {
	int fd;
	uint64_t seq;
	int dead; /* 0, or the errno every later call fails with */
	int timeout_ms;
	struct emu_info info; /* from EMU_MSG_INFO at open */
	int dma_fd;
	uint8_t *dma_map;
	uint64_t dma_base;
	uint8_t dma_used[DMA_PAGES]; /* 1 = page allocated */
};

struct reply {
	struct emu_reply_hdr h;
	uint8_t payload[EMU_WIRE_MAX_PAYLOAD];
};

static int kill_transport(struct emu_client *c, int r, const char *why)
{
	log_debug("psp-emu: transport dead: %s (%s)", why, strerror(-r));
	c->dead = r;
	return r;
}

static int send_request(struct emu_client *c, uint16_t type, uint32_t cmd, const void *payload,
			size_t len, int fd)
{
	struct emu_msg_hdr h = { .magic = EMU_WIRE_MAGIC, .version = EMU_WIRE_VERSION,
				 .type = type, .cmd = cmd, .len = (uint32_t)len, .seq = ++c->seq };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, len } };
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm = { 0 };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };

	if (fd >= 0) {
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &fd, sizeof(int));
	}
	if (sendmsg(c->fd, &mh, MSG_NOSIGNAL) != (ssize_t)(sizeof(h) + len))
		return kill_transport(c, -ECONNRESET, "send failed");
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for the reply to request c->seq; anything else is a protocol error. */
static int recv_reply(struct emu_client *c, uint16_t type, struct reply *ret)
{
	int64_t deadline = now_ms() + c->timeout_ms;
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	ssize_t n;
	int r;

	do {
		int64_t left = deadline - now_ms();

		r = left > 0 ? poll(&p, 1, (int)left) : 0;
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return kill_transport(c, negative_errno(), "poll failed");
	if (r == 0)
		return kill_transport(c, -ETIMEDOUT, "no reply within the timeout");
	n = recv(c->fd, ret, sizeof(*ret), MSG_TRUNC);
	if (n <= 0)
		return kill_transport(c, -ECONNRESET, "emulator closed the connection");
	if ((size_t)n < sizeof(ret->h) || (size_t)n > sizeof(*ret) ||
	    ret->h.magic != EMU_WIRE_MAGIC || ret->h.version != EMU_WIRE_VERSION ||
	    ret->h.type != type || ret->h.seq != c->seq || ret->h.len != n - sizeof(ret->h) ||
	    ret->h.error > 0)
		return kill_transport(c, -EPROTO, "malformed reply");
	return 0;
}

static int exchange(struct emu_client *c, uint16_t type, uint32_t cmd, const void *payload,
		    size_t len, int fd, struct reply *ret)
{
	int r;

	if (c->dead)
		return c->dead;
	if (len > EMU_WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	r = send_request(c, type, cmd, payload, len, fd);
	return r < 0 ? r : recv_reply(c, type, ret);
}

/* ---- ops ---- */

static int emu_issue(struct psp_transport *t, uint32_t cmd, void *buf, size_t len, int *status)
{
	struct emu_client *c = t->priv;
	struct reply rep;
	int r = exchange(c, EMU_MSG_CMD, cmd, buf, len, -1, &rep);

	if (r < 0)
		return r;
	if (rep.h.error < 0)
		return rep.h.error;
	if (rep.h.len != len)
		return kill_transport(c, -EPROTO, "reply buffer has the wrong length");
	if (len)
		memcpy(buf, rep.payload, len);
	*status = rep.h.status;
	return 0;
}

/* EMU_MSG_BATCH (emu-wire.h): the commands in one message, the results checked for shape. */
static int emu_issue_batch(struct psp_transport *t, struct psp_batch_cmd *cmds, const size_t *lens,
			   unsigned n, unsigned *ret_done)
{
	struct emu_client *c = t->priv;
	uint8_t msg[EMU_WIRE_MAX_PAYLOAD];
	size_t at = 0, need = 0;
	struct reply rep;
	unsigned i;
	int r;

	for (i = 0; i < n; i++) {
		struct emu_batch_item it = { .cmd = cmds[i].cmd, .len = (uint32_t)lens[i] };

		need += sizeof(struct emu_batch_result) + lens[i];
		if (need > sizeof(msg) || at + sizeof(it) + lens[i] > sizeof(msg))
			return -EMSGSIZE;
		memcpy(msg + at, &it, sizeof(it));
		if (lens[i])
			memcpy(msg + at + sizeof(it), cmds[i].buf, lens[i]);
		at += sizeof(it) + lens[i];
	}
	r = exchange(c, EMU_MSG_BATCH, n, msg, at, -1, &rep);
	if (r < 0)
		return r;
	if (rep.h.error < 0 && rep.h.len == 0)
		return rep.h.error; /* the batch itself refused: none ran */
	for (at = 0, i = 0; at < rep.h.len; i++) {
		struct emu_batch_result res;

		if (i >= n || rep.h.len - at < sizeof(res))
			return kill_transport(c, -EPROTO, "malformed batch reply");
		memcpy(&res, rep.payload + at, sizeof(res));
		at += sizeof(res);
		if (res.cmd != cmds[i].cmd || res.error > 0 ||
		    res.len != (res.error ? 0 : lens[i]) || res.len > rep.h.len - at ||
		    (i > 0 && cmds[i - 1].psp_ret != SEV_STATUS_SUCCESS))
			return kill_transport(c, -EPROTO, "malformed batch reply");
		if (res.error < 0)
			return res.error;
		if (res.len)
			memcpy(cmds[i].buf, rep.payload + at, res.len);
		at += res.len;
		cmds[i].psp_ret = res.status;
	}
	if (i == 0 || (i < n && cmds[i - 1].psp_ret == SEV_STATUS_SUCCESS))
		return kill_transport(c, -EPROTO, "batch reply stopped early");
	*ret_done = i;
	return 0;
}

static int emu_dma_alloc(struct psp_transport *t, size_t size, struct psp_buf *ret)
{
	struct emu_client *c = t->priv;
	size_t pages = (size + SEV_PAGE_SIZE - 1) / SEV_PAGE_SIZE, run = 0;

	if (size == 0 || pages > DMA_PAGES)
		return -ENOMEM;
	for (size_t i = 0; i < DMA_PAGES; i++) {
		run = c->dma_used[i] ? 0 : run + 1;
		if (run < pages)
			continue;
		size_t first = i + 1 - pages;

		memset(c->dma_used + first, 1, pages);
		*ret = (struct psp_buf){ .ptr = c->dma_map + first * SEV_PAGE_SIZE,
					 .addr = c->dma_base + first * SEV_PAGE_SIZE,
					 .size = size };
		return 0;
	}
	return -ENOMEM;
}

static void emu_dma_free(struct psp_transport *t, struct psp_buf *b)
{
	struct emu_client *c = t->priv;
	size_t first, pages;

	if ((uint8_t *)b->ptr < c->dma_map || (uint8_t *)b->ptr >= c->dma_map + DMA_SIZE)
		return; /* not ours: ignore rather than corrupt the bitmap */
	first = (size_t)((uint8_t *)b->ptr - c->dma_map) / SEV_PAGE_SIZE;
	pages = (b->size + SEV_PAGE_SIZE - 1) / SEV_PAGE_SIZE;
	memset(c->dma_used + first, 0, MIN(pages, DMA_PAGES - first));
}

static int map_fd(struct emu_client *c, int fd, uint64_t size, uint32_t flags, uint64_t *ret)
{
	struct emu_map_req req = { .size = size };
	struct emu_map_reply mr;
	struct reply rep;
	int r = exchange(c, EMU_MSG_MAP, flags, &req, sizeof(req), fd, &rep);

	if (r < 0)
		return r;
	if (rep.h.error < 0)
		return rep.h.error;
	if (rep.h.len != sizeof(mr))
		return kill_transport(c, -EPROTO, "malformed map reply");
	memcpy(&mr, rep.payload, sizeof(mr));
	*ret = mr.base;
	return 0;
}

static int emu_map_memfd(struct psp_transport *t, int memfd, uint64_t size, uint64_t *ret_base)
{
	return map_fd(t->priv, memfd, size, 0, ret_base);
}

static int emu_unmap_memfd(struct psp_transport *t, uint64_t base)
{
	struct emu_unmap_req req = { .base = base };
	struct reply rep;
	int r = exchange(t->priv, EMU_MSG_UNMAP, 0, &req, sizeof(req), -1, &rep);

	return r < 0 ? r : rep.h.error;
}

static int emu_get_cpuid(struct psp_transport *t, struct psp_cpuid *ret)
{
	struct emu_client *c = t->priv;

	*ret = (struct psp_cpuid){ .eax = c->info.cpuid_eax, .ebx = c->info.cpuid_ebx,
				   .ecx = c->info.cpuid_ecx, .edx = c->info.cpuid_edx };
	return 0;
}

static void client_free(struct emu_client *c)
{
	if (!c)
		return;
	if (c->dma_map)
		munmap(c->dma_map, DMA_SIZE);
	if (c->dma_fd >= 0)
		close(c->dma_fd);
	if (c->fd >= 0)
		close(c->fd); /* the emulator drops our DMA region with the connection */
	free(c);
}

static void emu_close(struct psp_transport *t)
{
	client_free(t->priv);
	t->priv = NULL;
}

static const struct psp_transport_ops emu_ops = {
	.kind = "emu",
	.issue = emu_issue,
	.issue_batch = emu_issue_batch,
	.dma_alloc = emu_dma_alloc,
	.dma_free = emu_dma_free,
	.map_memfd = emu_map_memfd,
	.unmap_memfd = emu_unmap_memfd,
	.get_cpuid = emu_get_cpuid,
	.close = emu_close,
};

/* ---- open ---- */

static int query_info(struct emu_client *c, struct emu_info *ret)
{
	struct reply rep;
	int r = exchange(c, EMU_MSG_INFO, 0, NULL, 0, -1, &rep);

	if (r < 0)
		return r;
	if (rep.h.error < 0)
		return rep.h.error;
	if (rep.h.len != sizeof(*ret))
		return kill_transport(c, -EPROTO, "malformed info reply");
	memcpy(ret, rep.payload, sizeof(*ret));
	return 0;
}

static int connect_socket(const char *path, int *ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return negative_errno();
	*ret = TAKE_FD(fd);
	return 0;
}

static int setup_dma(struct emu_client *c)
{
	c->dma_fd = memfd_create("psp-emu-dma", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (c->dma_fd < 0 || ftruncate(c->dma_fd, DMA_SIZE) < 0)
		return negative_errno();
	c->dma_map = mmap(NULL, DMA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, c->dma_fd, 0);
	if (c->dma_map == MAP_FAILED) {
		c->dma_map = NULL;
		return negative_errno();
	}
	return map_fd(c, c->dma_fd, DMA_SIZE, EMU_MAP_F_CONNECTION, &c->dma_base);
}

int psp_emu_open(const char *socket_path, struct psp_transport *t)
{
	struct emu_client *c = calloc(1, sizeof(*c));
	const char *env = getenv("SEV_PSP_EMU_TIMEOUT_MS");
	uint32_t ms;
	int r;

	if (!c)
		return -ENOMEM;
	c->dma_fd = -1;
	c->timeout_ms = env && parse_u32(env, &ms) >= 0 && ms > 0 && ms < INT32_MAX ?
				(int)ms : DEFAULT_TIMEOUT_MS;
	r = connect_socket(socket_path, &c->fd);
	if (r < 0) {
		c->fd = -1;
		log_debug("psp-emu: cannot connect to %s: %s", socket_path, strerror(-r));
		client_free(c);
		return r;
	}
	r = query_info(c, &c->info);
	if (r >= 0)
		r = setup_dma(c);
	if (r < 0) {
		client_free(c);
		return r;
	}
	t->ops = &emu_ops;
	t->priv = c;
	return 0;
}

/* ---- extras (psp-emu.h) ---- */

static struct emu_client *client_of(struct psp_transport *t)
{
	return t && t->ops == &emu_ops ? t->priv : NULL;
}

int psp_emu_ctl(struct psp_transport *t, const char *line, uint8_t **ret_reply, size_t *ret_len)
{
	struct emu_client *c = client_of(t);
	struct reply rep;
	int r;

	if (!c)
		return -EOPNOTSUPP;
	if (!line)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	r = exchange(c, EMU_MSG_CTL, 0, line, strlen(line), -1, &rep);
	pthread_mutex_unlock(&t->lock);
	if (r < 0)
		return r;
	if (ret_reply) {
		*ret_reply = malloc(rep.h.len + 1);
		if (!*ret_reply)
			return -ENOMEM;
		memcpy(*ret_reply, rep.payload, rep.h.len);
		(*ret_reply)[rep.h.len] = 0;
	}
	if (ret_len)
		*ret_len = rep.h.len;
	return rep.h.error;
}

int psp_emu_map_private(struct psp_transport *t, int memfd, uint64_t size, uint64_t *ret_base)
{
	struct emu_client *c = client_of(t);
	int r;

	if (!c)
		return -EOPNOTSUPP;
	if (memfd < 0 || size == 0 || !ret_base)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	r = map_fd(c, memfd, size, EMU_MAP_F_CONNECTION, ret_base);
	pthread_mutex_unlock(&t->lock);
	return r;
}

int psp_emu_info(struct psp_transport *t, struct emu_info *ret)
{
	struct emu_client *c = client_of(t);
	int r;

	if (!c || !ret)
		return c ? -EINVAL : -EOPNOTSUPP;
	pthread_mutex_lock(&t->lock);
	r = query_info(c, ret);
	pthread_mutex_unlock(&t->lock);
	return r;
}

int psp_emu_dma_to_firmware(struct psp_transport *t)
{
	struct emu_client *c = client_of(t);
	char line[96];
	int r;

	if (!c)
		return -EOPNOTSUPP;
	for (uint64_t off = 0; off < DMA_SIZE; off += 2u << 20) {
		snprintf(line, sizeof(line), "rmpupdate 0x%llx,assigned=1,immutable=1,size=2m",
			 (unsigned long long)(c->dma_base + off));
		r = psp_emu_ctl(t, line, NULL, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}
