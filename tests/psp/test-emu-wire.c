/* sev-psp-emu's wire protocol from a hostile or broken client: malformed messages end only
 * their own connection; unknown command ids answer INVALID_COMMAND; a buffer shorter than
 * its command's is refused with -EMSGSIZE, a longer one answered on its first bytes (never
 * INVALID_LEN); bad MAP requests are refused; a memfd shrunk under the emulator gives
 * INVALID_ADDRESS, not a crash; region lifetimes; CTL errors; batches of commands (one message,
 * run in order, stopping at the first failure; malformed ones run nothing). And the
 * transport's side: a hung emulator gives -ETIMEDOUT and a dead transport, a vanished one
 * -ECONNRESET; concurrently pending commands are counted in max_concurrent_seen. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macros.h"
#include "psp/emu-wire.h"
#include "tests/psp/test-emu-util.h"

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	TU_CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect");
	return fd;
}

/* Send raw bytes with up to two descriptors attached. */
static void raw_sendv(int fd, const void *msg, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} cm = { 0 };
	struct iovec iov = { (void *)msg, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), fds, nfds * sizeof(int));
	}
	TU_CHECK(sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)len, "sendmsg: %m");
}

static void raw_send(int fd, uint16_t type, uint32_t cmd, const void *payload, uint32_t len,
		     int pass_fd)
{
	uint8_t msg[sizeof(struct emu_msg_hdr) + 8192];
	struct emu_msg_hdr h = { EMU_WIRE_MAGIC, EMU_WIRE_VERSION, type, cmd, len, 0x1234 + len };

	memcpy(msg, &h, sizeof(h));
	if (len)
		memcpy(msg + sizeof(h), payload, len);
	raw_sendv(fd, msg, sizeof(h) + len, &pass_fd, pass_fd >= 0);
}

/* The reply (payload into out); 0 when the emulator closed the connection. */
static ssize_t raw_recv(int fd, struct emu_reply_hdr *h, void *out, size_t cap)
{
	uint8_t buf[sizeof(*h) + EMU_WIRE_MAX_PAYLOAD];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	TU_CHECK(poll(&p, 1, 10000) == 1, "no reply in 10 s");
	n = recv(fd, buf, sizeof(buf), 0);
	if (n <= 0)
		return 0;
	TU_CHECK((size_t)n >= sizeof(*h), "short reply");
	memcpy(h, buf, sizeof(*h));
	TU_CHECK(h->magic == EMU_WIRE_MAGIC && h->len == n - sizeof(*h) && h->len <= cap,
		 "malformed reply");
	memcpy(out, buf + sizeof(*h), h->len);
	return n;
}

static void expect_closed(int fd, const char *what)
{
	struct emu_reply_hdr h;
	uint8_t out[EMU_WIRE_MAX_PAYLOAD];

	TU_CHECK(raw_recv(fd, &h, out, sizeof(out)) == 0, "%s: connection not closed", what);
	close(fd);
}

static void test_malformed(const char *sock, struct psp_transport *t)
{
	struct emu_msg_hdr h = { EMU_WIRE_MAGIC, EMU_WIRE_VERSION, EMU_MSG_INFO, 0, 0, 1 };
	struct emu_map_req mr = { 4096 };
	int fd, pipefd[2];
	static uint8_t big[sizeof(struct emu_msg_hdr) + EMU_WIRE_MAX_PAYLOAD + 64];
	struct emu_msg_hdr bad;

	fd = raw_connect(sock);
	raw_sendv(fd, &h, 10, NULL, 0);
	expect_closed(fd, "short header");
	const struct {
		const char *what;
		size_t off;
		uint32_t val;
	} flips[] = {
		{ "bad magic", offsetof(struct emu_msg_hdr, magic), 0x12345678 },
		{ "bad version", offsetof(struct emu_msg_hdr, version), 7 },
		{ "unknown type", offsetof(struct emu_msg_hdr, type), 99 },
		{ "len beyond the datagram", offsetof(struct emu_msg_hdr, len), 8 },
		{ "len over the cap", offsetof(struct emu_msg_hdr, len), 0xfffffff0 },
	};
	for (size_t i = 0; i < ELEMENTSOF(flips); i++) {
		bad = h;
		if (flips[i].off == offsetof(struct emu_msg_hdr, version) ||
		    flips[i].off == offsetof(struct emu_msg_hdr, type))
			memcpy((uint8_t *)&bad + flips[i].off, &flips[i].val, 2);
		else
			memcpy((uint8_t *)&bad + flips[i].off, &flips[i].val, 4);
		fd = raw_connect(sock);
		raw_sendv(fd, &bad, sizeof(bad), NULL, 0);
		expect_closed(fd, flips[i].what);
	}
	fd = raw_connect(sock);
	raw_send(fd, EMU_MSG_INFO, 0, "xx", 2, -1);
	expect_closed(fd, "INFO with a payload");
	fd = raw_connect(sock);
	raw_send(fd, EMU_MSG_MAP, 0, &mr, sizeof(mr), -1);
	expect_closed(fd, "MAP without a descriptor");
	TU_CHECK_EQ(pipe(pipefd), 0);
	fd = raw_connect(sock);
	raw_send(fd, EMU_MSG_CMD, SEV_CMD_SHUTDOWN, NULL, 0, pipefd[0]);
	expect_closed(fd, "CMD with a descriptor");
	fd = raw_connect(sock);
	{
		uint8_t msg[sizeof(h) + sizeof(mr)];
		struct emu_msg_hdr mh = { EMU_WIRE_MAGIC, EMU_WIRE_VERSION, EMU_MSG_MAP, 0,
					  sizeof(mr), 2 };

		memcpy(msg, &mh, sizeof(mh));
		memcpy(msg + sizeof(mh), &mr, sizeof(mr));
		raw_sendv(fd, msg, sizeof(msg), pipefd, 2);
	}
	expect_closed(fd, "MAP with two descriptors");
	close(pipefd[0]);
	close(pipefd[1]);
	memset(big, 0, sizeof(big));
	memcpy(big, &h, sizeof(h));
	fd = raw_connect(sock);
	raw_sendv(fd, big, sizeof(big), NULL, 0);
	expect_closed(fd, "oversized datagram");
	/* the emulator is fine */
	TU_CHECK_EQ(platform_status(t).api_major, 1);
}

/* Well-formed messages with bad contents get an answer, not a hang-up. */
static void test_bad_commands(const char *sock)
{
	static const uint32_t unknown[] = { 0x010, 0x026, 0x07f, 0x0ff, 0x100, 0xffff, 0xffffffff, 0 };
	struct emu_reply_hdr h;
	uint8_t out[EMU_WIRE_MAX_PAYLOAD], buf[64] = { 0 };
	int fd = raw_connect(sock);

	for (size_t i = 0; i < ELEMENTSOF(unknown); i++) {
		raw_send(fd, EMU_MSG_CMD, unknown[i], buf, 12, -1);
		TU_CHECK(raw_recv(fd, &h, out, sizeof(out)) > 0, "reply");
		TU_CHECK(h.status == SEV_STATUS_INVALID_COMMAND, "command 0x%x: %s", unknown[i],
			 sev_status_name(h.status));
		TU_CHECK_EQ(h.seq, 0x1234 + 12);
	}
	/* The mailbox has no length (AMD-ASPFW sev_dispatch.c): firmware reads its buffer size
	 * from the address. Shorter than that: refused below firmware (-EMSGSIZE, no status);
	 * longer: firmware's answer on the first bytes, the rest echoed untouched; a command
	 * without a buffer ignores whatever came. Never INVALID_LEN for the wire's length. */
	const struct {
		uint32_t cmd, len;
	} short_lens[] = {
		{ SEV_CMD_PLATFORM_STATUS, 11 }, { SEV_CMD_PLATFORM_STATUS, 0 },
		{ SEV_CMD_INIT, 19 },		 { SEV_CMD_LAUNCH_START, 35 },
	};
	for (size_t i = 0; i < ELEMENTSOF(short_lens); i++) {
		raw_send(fd, EMU_MSG_CMD, short_lens[i].cmd, buf, short_lens[i].len, -1);
		TU_CHECK(raw_recv(fd, &h, out, sizeof(out)) > 0, "reply");
		TU_CHECK(h.error == -EMSGSIZE && h.len == 0, "%s with %u bytes: error %d, status %s",
			 sev_cmd_name(short_lens[i].cmd), short_lens[i].len, h.error,
			 sev_status_name(h.status));
	}
	memset(buf, 0x5a, sizeof(buf));
	raw_send(fd, EMU_MSG_CMD, SEV_CMD_PLATFORM_STATUS, buf, 13, -1);
	TU_CHECK(raw_recv(fd, &h, out, sizeof(out)) > 0, "reply");
	TU_CHECK(h.status == SEV_STATUS_SUCCESS && h.len == 13 && out[0] == 1 && out[12] == 0x5a,
		 "PLATFORM_STATUS with 13 bytes: %s, %u bytes", sev_status_name(h.status), h.len);
	raw_send(fd, EMU_MSG_CMD, SEV_CMD_SHUTDOWN, "abcd", 4, -1);
	TU_CHECK(raw_recv(fd, &h, out, sizeof(out)) > 0, "reply");
	TU_CHECK(h.status == SEV_STATUS_SUCCESS && h.len == 4 && memcmp(out, "abcd", 4) == 0,
		 "SHUTDOWN with 4 bytes: %s", sev_status_name(h.status));
	raw_send(fd, EMU_MSG_CMD, SEV_CMD_PEK_CSR, buf, 64, -1); /* UNINIT: the state first */
	TU_CHECK(raw_recv(fd, &h, out, sizeof(out)) > 0, "reply");
	TU_CHECK(h.status == SEV_STATUS_INVALID_PLATFORM_STATE && h.len == 64 &&
			 memcmp(out, buf, 64) == 0,
		 "PEK_CSR with 64 bytes in UNINIT: %s", sev_status_name(h.status));
	memset(buf, 0, sizeof(buf));
	buf[0] = 0x2; /* INIT, 24 bytes, flag bit 1: the buffer's own fault, not the length */
	raw_send(fd, EMU_MSG_CMD, SEV_CMD_INIT, buf, 24, -1);
	TU_CHECK(raw_recv(fd, &h, out, sizeof(out)) > 0, "reply");
	TU_CHECK(h.status == SEV_STATUS_INVALID_CONFIG && h.len == 24,
		 "INIT with 24 bytes and flag 0x2: %s", sev_status_name(h.status));
	memset(buf, 0, sizeof(buf));
	raw_send(fd, EMU_MSG_CTL, 0, "wbinvd\0x", 8, -1); /* embedded NUL */
	TU_CHECK(raw_recv(fd, &h, out, sizeof(out)) > 0 && h.error == -EINVAL, "CTL with NUL");
	close(fd);
}

static int map_raw(const char *sock, int memfd, uint64_t size, uint64_t *ret_base)
{
	struct emu_map_req mr = { size };
	struct emu_reply_hdr h;
	uint8_t out[EMU_WIRE_MAX_PAYLOAD];
	int fd = raw_connect(sock);

	raw_send(fd, EMU_MSG_MAP, 0, &mr, sizeof(mr), memfd);
	TU_CHECK(raw_recv(fd, &h, out, sizeof(out)) > 0, "MAP reply");
	if (h.error == 0 && ret_base)
		memcpy(ret_base, out, 8);
	close(fd);
	return h.error;
}

/* One batch item (cmd, len bytes of fill) appended at *at of msg. */
static void batch_item(uint8_t *msg, size_t *at, uint32_t cmd, uint32_t len, uint8_t fill)
{
	struct emu_batch_item it = { cmd, len };

	memcpy(msg + *at, &it, sizeof(it));
	memset(msg + *at + sizeof(it), fill, len);
	*at += sizeof(it) + len;
}

/* EMU_MSG_BATCH (emu-wire.h): a malformed batch runs nothing and is refused with an error (the
 * connection stays); a good one runs its commands in order and stops at the first that fails,
 * a refused length included; with a descriptor the message is malformed. */
static void test_batches(const char *sock)
{
	struct emu_reply_hdr h;
	struct emu_batch_result res;
	uint8_t msg[EMU_WIRE_MAX_PAYLOAD], out[EMU_WIRE_MAX_PAYLOAD];
	int fd = raw_connect(sock), pipefd[2];
	size_t at = 0;

	batch_item(msg, &at, SEV_CMD_PLATFORM_STATUS, 12, 0);
	const struct {
		uint32_t count, len;
		int error;
		const char *what;
	} bad[] = {
		{ 0, (uint32_t)at, -EINVAL, "no command" },
		{ EMU_BATCH_MAX + 1, (uint32_t)at, -EINVAL, "more than EMU_BATCH_MAX" },
		{ 2, (uint32_t)at, -EINVAL, "fewer items than the count" },
		{ 1, (uint32_t)at - 1, -EINVAL, "a buffer running past the message" },
		{ 1, (uint32_t)at + 4, -EINVAL, "bytes after the last item" },
	};
	memset(msg + at, 0, 4);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		raw_send(fd, EMU_MSG_BATCH, bad[i].count, msg, bad[i].len, -1);
		TU_CHECK(raw_recv(fd, &h, out, sizeof(out)) > 0, "%s: reply", bad[i].what);
		TU_CHECK(h.error == bad[i].error && h.len == 0, "batch with %s: error %d, %u bytes",
			 bad[i].what, h.error, h.len);
	}
	/* 64 commands of 56 bytes fit a message (4096) but not their results (64 * 72) */
	at = 0;
	for (unsigned i = 0; i < EMU_BATCH_MAX; i++)
		batch_item(msg, &at, SEV_CMD_PLATFORM_STATUS, 56, 0);
	raw_send(fd, EMU_MSG_BATCH, EMU_BATCH_MAX, msg, (uint32_t)at, -1);
	TU_CHECK(raw_recv(fd, &h, out, sizeof(out)) > 0 && h.error == -EMSGSIZE && h.len == 0,
		 "a batch whose results do not fit: error %d", h.error);
	/* UNINIT: PLATFORM_STATUS runs, PEK_CSR answers its state, the third never runs */
	at = 0;
	batch_item(msg, &at, SEV_CMD_PLATFORM_STATUS, 12, 0x5a);
	batch_item(msg, &at, SEV_CMD_PEK_CSR, 64, 0);
	batch_item(msg, &at, SEV_CMD_PLATFORM_STATUS, 12, 0);
	raw_send(fd, EMU_MSG_BATCH, 3, msg, (uint32_t)at, -1);
	TU_CHECK(raw_recv(fd, &h, out, sizeof(out)) > 0, "reply");
	TU_CHECK(h.error == 0 && h.status == SEV_STATUS_INVALID_PLATFORM_STATE &&
			 h.len == 2 * sizeof(res) + 12 + 64,
		 "batch stopped at PEK_CSR: status %s, %u bytes", sev_status_name(h.status), h.len);
	memcpy(&res, out, sizeof(res));
	TU_CHECK(res.cmd == SEV_CMD_PLATFORM_STATUS && res.status == SEV_STATUS_SUCCESS &&
			 res.len == 12 && out[sizeof(res)] == 1 /* API major */,
		 "first result: %s", sev_status_name(res.status));
	memcpy(&res, out + sizeof(res) + 12, sizeof(res));
	TU_CHECK(res.cmd == SEV_CMD_PEK_CSR && res.status == SEV_STATUS_INVALID_PLATFORM_STATE &&
			 res.len == 64,
		 "second result: %s", sev_status_name(res.status));
	/* a length its command refuses (-EMSGSIZE) stops the batch too */
	at = 0;
	batch_item(msg, &at, SEV_CMD_PLATFORM_STATUS, 11, 0);
	batch_item(msg, &at, SEV_CMD_PLATFORM_STATUS, 12, 0);
	raw_send(fd, EMU_MSG_BATCH, 2, msg, (uint32_t)at, -1);
	TU_CHECK(raw_recv(fd, &h, out, sizeof(out)) > 0 && h.error == -EMSGSIZE &&
			 h.len == sizeof(res),
		 "batch with a short buffer first: error %d, %u bytes", h.error, h.len);
	memcpy(&res, out, sizeof(res));
	TU_CHECK(res.error == -EMSGSIZE && res.len == 0, "short buffer's result: %d", res.error);
	/* the connection still serves; a descriptor makes the message malformed */
	raw_send(fd, EMU_MSG_CMD, SEV_CMD_PLATFORM_STATUS, msg, 12, -1);
	TU_CHECK(raw_recv(fd, &h, out, sizeof(out)) > 0 && h.status == SEV_STATUS_SUCCESS,
		 "a command after the batches");
	TU_CHECK(pipe(pipefd) == 0, "pipe");
	raw_send(fd, EMU_MSG_BATCH, 2, msg, (uint32_t)at, pipefd[0]);
	expect_closed(fd, "batch with a descriptor");
	close(pipefd[0]);
	close(pipefd[1]);
}

static void test_map(const char *sock, struct psp_transport *t)
{
	int fd = memfd_create("m", MFD_CLOEXEC), pipefd[2];
	struct sev_cmd_get_id id;
	uint64_t base;

	TU_CHECK(fd >= 0 && ftruncate(fd, 64 * 1024) == 0, "memfd");
	TU_CHECK_EQ(map_raw(sock, fd, 100, NULL), -EINVAL);		 /* not pages */
	TU_CHECK_EQ(map_raw(sock, fd, 0, NULL), -EINVAL);
	TU_CHECK_EQ(map_raw(sock, fd, 128 * 1024, NULL), -EINVAL);	 /* larger than the fd */
	TU_CHECK_EQ(map_raw(sock, fd, 1ull << 62, NULL), -EINVAL);
	TU_CHECK_EQ(pipe(pipefd), 0);
	TU_CHECK_EQ(map_raw(sock, pipefd[0], 4096, NULL), -EINVAL); /* not a file */
	close(pipefd[0]);
	close(pipefd[1]);
	TU_CHECK_EQ(psp_unmap_memfd(t, 5ull << 40), -ENOENT);
	/* A region mapped by a connection that has gone stays (guest memory outlives sevd). */
	TU_CHECK_EQ(map_raw(sock, fd, 64 * 1024, &base), 0);
	TU_CHECK(base % (1ull << 40) == 0, "region base 0x%llx", (unsigned long long)base);
	id = (struct sev_cmd_get_id){ base + 4096, 64 };
	CHECK_STATUS(fw(t, SEV_CMD_GET_ID, &id), SEV_STATUS_SUCCESS);
	/* Shrink the memfd under the emulator (not sealable: created without ALLOW_SEALING). */
	TU_CHECK_EQ(ftruncate(fd, 0), 0);
	CHECK_STATUS(fw(t, SEV_CMD_GET_ID, &id), SEV_STATUS_INVALID_ADDRESS);
	TU_CHECK_EQ(psp_unmap_memfd(t, base), 0);
	CHECK_STATUS(fw(t, SEV_CMD_GET_ID, &id), SEV_STATUS_INVALID_ADDRESS);
	close(fd);
}

/* The transport's private DMA region lives as long as its connection. */
static void test_dma_scope(const char *sock, struct psp_transport *t)
{
	char spec[4200];
	struct psp_transport *t2;
	struct psp_buf b;
	struct sev_cmd_get_id id;

	snprintf(spec, sizeof(spec), "emu:%s", sock);
	TU_CHECK_EQ(psp_open(spec, &t2), 0);
	TU_CHECK_EQ(psp_dma_alloc(t2, 64, &b), 0);
	id = (struct sev_cmd_get_id){ b.addr, 64 };
	CHECK_STATUS(fw(t2, SEV_CMD_GET_ID, &id), SEV_STATUS_SUCCESS);
	CHECK_STATUS(fw(t, SEV_CMD_GET_ID, &id), SEV_STATUS_SUCCESS); /* one address space */
	psp_dma_free(t2, &b);
	psp_close(t2);
	CHECK_STATUS(fw(t, SEV_CMD_GET_ID, &id), SEV_STATUS_INVALID_ADDRESS);
}

static void test_ctl(struct psp_transport *t)
{
	_cleanup_free_ uint8_t *a = NULL, *b = NULL, *c = NULL, *d = NULL;

	TU_CHECK_EQ(psp_emu_ctl(t, "status", &a, NULL), 0);
	TU_CHECK(strstr((char *)a, "state=") && strstr((char *)a, "max_concurrent="), "%s", a);
	TU_CHECK_EQ(psp_emu_ctl(t, "frobnicate", &b, NULL), -EINVAL);
	TU_CHECK(strstr((char *)b, "unknown control verb"), "%s", b);
	TU_CHECK_EQ(psp_emu_ctl(t, "get-cert pdh", &c, NULL), -EINVAL);
	TU_CHECK_EQ(psp_emu_ctl(t, "fault INIT 0x13", &d, NULL), -EINVAL); /* one rule token */
	TU_CHECK_EQ(psp_emu_ctl(t, "wbinvd now", NULL, NULL), -EINVAL);
}

/* A client that sends and never reads loses its connection once its replies back up; the
 * emulator does not block on it. Many clients at once are served. */
static void test_greedy_and_many(const char *sock, struct psp_transport *t)
{
	struct emu_msg_hdr h = { EMU_WIRE_MAGIC, EMU_WIRE_VERSION, EMU_MSG_INFO, 0, 0, 1 };
	struct psp_transport *many[200];
	char spec[4200];
	int fd = raw_connect(sock), sent = 0;

	for (; sent < 200000; sent++)
		if (send(fd, &h, sizeof(h), MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(h)) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			if (errno != EAGAIN || poll(&p, 1, 5000) != 1 || (p.revents & ~POLLOUT))
				break; /* closed by the emulator */
		}
	TU_CHECK(sent < 200000, "emulator kept a client that never reads");
	close(fd);
	TU_CHECK_EQ(platform_status(t).api_major, 1);
	snprintf(spec, sizeof(spec), "emu:%s", sock);
	for (size_t i = 0; i < ELEMENTSOF(many); i++)
		TU_CHECK(psp_open(spec, &many[i]) == 0, "client %zu", i);
	for (size_t i = 0; i < ELEMENTSOF(many); i++) {
		TU_CHECK_EQ(platform_status(many[i]).api_minor, 55);
		psp_close(many[i]);
	}
}

/* SIGSTOP the emulator and wait until it really is stopped (state T in /proc), so that what
 * is sent next is all waiting when it continues. */
static void stop_emulator(pid_t pid)
{
	char path[64], buf[512], *p;

	kill(pid, SIGSTOP);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(path, "re");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = 0;
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && (p[2] == 'T' || p[2] == 't'))
			return;
		usleep(5000);
	}
	TU_CHECK(false, "sev-psp-emu did not stop");
}

/* Two clients with a command each waiting at the same moment (the emulator is stopped while
 * they send): the emulator sees, and reports, 2. */
static void test_concurrency(struct emu_rig *r)
{
	struct emu_reply_hdr h;
	uint8_t out[EMU_WIRE_MAX_PAYLOAD], buf[12] = { 0 };
	struct emu_info info;
	int a = raw_connect(r->emu.socket), b = raw_connect(r->emu.socket);

	TU_CHECK_EQ(psp_emu_info(r->t, &info), 0);
	TU_CHECK_EQ(info.max_concurrent_seen, 1);
	/* a round trip on each: both connections are accepted before the emulator stops */
	raw_send(a, EMU_MSG_INFO, 0, NULL, 0, -1);
	raw_send(b, EMU_MSG_INFO, 0, NULL, 0, -1);
	TU_CHECK(raw_recv(a, &h, out, sizeof(out)) > 0 && raw_recv(b, &h, out, sizeof(out)) > 0,
		 "INFO");
	stop_emulator(r->emu.pid);
	raw_send(a, EMU_MSG_CMD, SEV_CMD_PLATFORM_STATUS, buf, 12, -1);
	raw_send(b, EMU_MSG_CMD, SEV_CMD_PLATFORM_STATUS, buf, 12, -1);
	kill(r->emu.pid, SIGCONT);
	TU_CHECK(raw_recv(a, &h, out, sizeof(out)) > 0 && h.status == 0, "a answered");
	TU_CHECK(raw_recv(b, &h, out, sizeof(out)) > 0 && h.status == 0, "b answered");
	TU_CHECK_EQ(psp_emu_info(r->t, &info), 0);
	TU_CHECK_EQ(info.max_concurrent_seen, 2);
	close(a);
	close(b);
}

/* A hung emulator: -ETIMEDOUT, then the transport stays dead; a new one works once the
 * emulator runs again. An emulator that is gone: -ECONNRESET. */
static void test_timeout_and_loss(struct emu_rig *r)
{
	char spec[4200];
	struct psp_transport *t;
	struct sev_cmd_platform_status ps;
	int ret;

	snprintf(spec, sizeof(spec), "emu:%s", r->emu.socket);
	setenv("SEV_PSP_EMU_TIMEOUT_MS", "2000", 1); /* generous: open must not time out */
	TU_CHECK_EQ(psp_open(spec, &t), 0);
	stop_emulator(r->emu.pid);
	TU_CHECK_EQ(psp_issue(t, SEV_CMD_PLATFORM_STATUS, &ps, &ret), -ETIMEDOUT);
	TU_CHECK_EQ(ret, SEV_STATUS_NO_FW_CALL);
	kill(r->emu.pid, SIGCONT);
	TU_CHECK_EQ(psp_issue(t, SEV_CMD_PLATFORM_STATUS, &ps, &ret), -ETIMEDOUT); /* dead */
	psp_close(t);
	TU_CHECK_EQ(psp_open(spec, &t), 0);
	TU_CHECK_EQ(psp_issue(t, SEV_CMD_PLATFORM_STATUS, &ps, &ret), 0);
	unsetenv("SEV_PSP_EMU_TIMEOUT_MS");
	rig_stop(r);
	TU_CHECK_EQ(psp_issue(t, SEV_CMD_PLATFORM_STATUS, &ps, &ret), -ECONNRESET);
	TU_CHECK_EQ(psp_issue(t, SEV_CMD_PLATFORM_STATUS, &ps, &ret), -ECONNRESET);
	psp_close(t);
	TU_CHECK(psp_open(spec, &t) < 0, "open with no emulator fails");
}

int main(void)
{
	struct emu_rig r;

	rig_up(&r, NULL);
	test_malformed(r.emu.socket, r.t);
	test_bad_commands(r.emu.socket);
	test_batches(r.emu.socket);
	test_map(r.emu.socket, r.t);
	test_dma_scope(r.emu.socket, r.t);
	test_ctl(r.t);
	test_greedy_and_many(r.emu.socket, r.t);
	test_concurrency(&r);
	test_timeout_and_loss(&r);
	rig_down(&r);
	tu_done("emu-wire");
}
