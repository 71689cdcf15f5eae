/* The emulator's side channel: one request, one reply, on a fresh SOCK_SEQPACKET connection. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "common/macros.h"
#include "daemon/core/emu-ctl.h"

static int emu_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 30 };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = negative_errno();
		close(fd);
		return r;
	}
	return fd;
}

/* Wait for the reply on fd, or for stop_fd to become readable (-ECANCELED); the same 30 s
 * bound as SO_RCVTIMEO (-EAGAIN). */
static int wait_reply(int fd, int stop_fd)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = stop_fd, .events = POLLIN } };
	int n;

	do
		n = poll(p, 2, 30000);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	if (n == 0)
		return -EAGAIN;
	if (p[1].revents)
		return -ECANCELED;
	return 0;
}

/* One request of `type` with payload; the reply payload is copied into out (cap bytes).
 * stop_fd >= 0: a readable stop_fd ends the wait for the reply (-ECANCELED). */
static int emu_request(const char *path, uint16_t type, const void *payload, uint32_t len,
		       void *out, size_t cap, size_t *ret_len, int stop_fd)
{
	uint8_t msg[sizeof(struct emu_msg_hdr) + EMU_WIRE_MAX_PAYLOAD];
	uint8_t rep[sizeof(struct emu_reply_hdr) + EMU_WIRE_MAX_PAYLOAD];
	struct emu_msg_hdr h = { .magic = EMU_WIRE_MAGIC, .version = EMU_WIRE_VERSION,
				 .type = type, .len = len, .seq = 1 };
	struct emu_reply_hdr rh;
	_cleanup_close_ int fd = -1;
	ssize_t n;

	if (len > EMU_WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	fd = emu_connect(path);
	if (fd < 0)
		return fd;
	memcpy(msg, &h, sizeof(h));
	if (len)
		memcpy(msg + sizeof(h), payload, len);
	if (send(fd, msg, sizeof(h) + len, MSG_NOSIGNAL) < 0)
		return negative_errno();
	if (stop_fd >= 0) {
		int r = wait_reply(fd, stop_fd);

		if (r < 0)
			return r;
	}
	n = recv(fd, rep, sizeof(rep), 0);
	if (n < 0)
		return negative_errno();
	if ((size_t)n < sizeof(rh))
		return -EBADMSG;
	memcpy(&rh, rep, sizeof(rh));
	if (rh.magic != EMU_WIRE_MAGIC || rh.seq != 1 || rh.len != (size_t)n - sizeof(rh))
		return -EBADMSG;
	*ret_len = MIN((size_t)rh.len, cap);
	memcpy(out, rep + sizeof(rh), *ret_len); /* on an error, the emulator's reason */
	return rh.error < 0 ? rh.error : 0;
}

int sevd_emu_ctl(const char *socket_path, const char *line, char *reply, size_t reply_size)
{
	size_t n = 0;
	int r;

	if (reply_size == 0)
		return -EINVAL;
	r = emu_request(socket_path, EMU_MSG_CTL, line, (uint32_t)strlen(line), reply,
			reply_size - 1, &n, -1);
	reply[r < 0 ? 0 : n] = '\0';
	return r;
}

int sevd_emu_ctl_bin(const char *socket_path, const char *line, void *out, size_t cap,
		     size_t *ret_len)
{
	*ret_len = 0;
	return emu_request(socket_path, EMU_MSG_CTL, line, (uint32_t)strlen(line), out, cap,
			   ret_len, -1);
}

int sevd_emu_ctl_bin_stoppable(const char *socket_path, const char *line, void *out, size_t cap,
			       size_t *ret_len, int stop_fd)
{
	*ret_len = 0;
	return emu_request(socket_path, EMU_MSG_CTL, line, (uint32_t)strlen(line), out, cap,
			   ret_len, stop_fd);
}

int sevd_emu_info(const char *socket_path, struct emu_info *ret)
{
	size_t n = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = emu_request(socket_path, EMU_MSG_INFO, NULL, 0, ret, sizeof(*ret), &n, -1);
	if (r < 0)
		return r;
	return n == sizeof(*ret) ? 0 : -EBADMSG;
}
