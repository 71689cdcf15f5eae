/* The emulator's side channel: one request, one reply (emu-ctl.h). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/secret.h"
#include "psp/emu-ctl.h"
#include "psp/emu-wire.h"

#define EMU_CTL_SEQ 1

int emu_ctl_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = negative_errno();

		close(fd);
		return r;
	}
	return fd;
}

/* Wait for the reply on fd, or for stop_fd to become readable (-ECANCELED); -EAGAIN after
 * EMU_CTL_TIMEOUT_MS. */
static int wait_reply(int fd, int stop_fd)
{
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
	int n;

	do
		n = poll(p, 2, EMU_CTL_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	if (n == 0)
		return -EAGAIN;
	if (p[1].revents)
		return -ECANCELED;
	return 0;
}

int emu_ctl_exchange(int fd, uint16_t type, const void *payload, uint32_t len, void *out,
		     size_t cap, size_t *ret_len, int *ret_error, int *ret_fd, int stop_fd)
{
	struct emu_msg_hdr h = {.magic = EMU_WIRE_MAGIC,
				.version = EMU_WIRE_VERSION,
				.type = type,
				.len = len,
				.seq = EMU_CTL_SEQ};
	uint8_t msg[sizeof(h) + EMU_WIRE_MAX_PAYLOAD];
	uint8_t in[sizeof(struct emu_reply_hdr) + EMU_WIRE_MAX_PAYLOAD];
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = in, .iov_len = sizeof(in)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof(cm.b)};
	_cleanup_close_ int passed = -1;
	struct emu_reply_hdr rh;
	struct cmsghdr *c;
	ssize_t n;
	int r;

	*ret_len = 0;
	*ret_error = 0;
	if (ret_fd)
		*ret_fd = -1;
	if (len > EMU_WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	memcpy(msg, &h, sizeof(h));
	if (len)
		memcpy(msg + sizeof(h), payload, len);
	if (send(fd, msg, sizeof(h) + len, MSG_NOSIGNAL) != (ssize_t)(sizeof(h) + len))
		return negative_errno();
	r = wait_reply(fd, stop_fd);
	if (r < 0)
		return r;
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return negative_errno();
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&passed, CMSG_DATA(c), sizeof(int));
	if (n == 0)
		return -ENODATA;
	if ((size_t)n < sizeof(rh)) {
		secret_wipe(in, (size_t)n);
		return -EBADMSG;
	}
	memcpy(&rh, in, sizeof(rh));
	if (rh.magic != EMU_WIRE_MAGIC || rh.type != type || rh.seq != EMU_CTL_SEQ ||
	    rh.len != (size_t)n - sizeof(rh)) {
		secret_wipe(in, (size_t)n);
		return -EBADMSG;
	}
	*ret_len = rh.len;
	memcpy(out, in + sizeof(rh), MIN((size_t)rh.len, cap));
	secret_wipe(in, (size_t)n);
	*ret_error = rh.error < 0 ? rh.error : 0;
	if (ret_fd)
		*ret_fd = TAKE_FD(passed);
	return 0;
}

int emu_ctl_call(const char *path, uint16_t type, const void *payload, uint32_t len, void *out,
		 size_t cap, size_t *ret_len, int *ret_fd, int stop_fd)
{
	_cleanup_close_ int fd = emu_ctl_connect(path);
	int r, error;

	*ret_len = 0;
	if (ret_fd)
		*ret_fd = -1;
	if (fd < 0)
		return fd;
	r = emu_ctl_exchange(fd, type, payload, len, out, cap, ret_len, &error, ret_fd, stop_fd);
	return r < 0 ? r : error;
}
