/* sev-run's shared helpers (util.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "hv-glue/util.h"
#include "psp/emu-wire.h"

int hv_say(int err, const char *fmt, ...)
{
	va_list ap;

	fputs("sev-run: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return err;
}

const char *hv_sock_path(const char *s)
{
	return strncmp(s, "unix:", 5) == 0 ? s + 5 : s;
}

int hv_unix_connect(const char *path, int type)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

int hv_emu_ctl(const char *sock, const char *line, void *out, size_t cap, size_t *ret_len,
	       int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct emu_msg_hdr h = {.magic = EMU_WIRE_MAGIC,
				.version = EMU_WIRE_VERSION,
				.type = EMU_MSG_CTL,
				.len = (uint32_t)strlen(line),
				.seq = 6};
	uint8_t msg[sizeof(h) + HV_EMU_CTL_LINE_MAX];
	uint8_t in[sizeof(struct emu_reply_hdr) + EMU_WIRE_MAX_PAYLOAD];
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = in, .iov_len = sizeof(in)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof(cm.b)};
	_cleanup_close_ int s = -1, fd = -1;
	struct emu_reply_hdr rh;
	struct cmsghdr *c;
	ssize_t n;

	*ret_len = 0;
	if (ret_fd)
		*ret_fd = -1;
	if (strlen(sock) >= sizeof(sa.sun_path) || h.len >= HV_EMU_CTL_LINE_MAX)
		return -EINVAL;
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	strcpy(sa.sun_path, sock);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), line, h.len);
	if (send(s, msg, sizeof(h) + h.len, 0) != (ssize_t)(sizeof(h) + h.len))
		return -errno;
	n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (n < (ssize_t)sizeof(rh))
		return -EPROTO;
	memcpy(&rh, in, sizeof(rh));
	if (rh.magic != EMU_WIRE_MAGIC || rh.seq != h.seq || rh.len != (size_t)n - sizeof(rh))
		return -EPROTO;
	if (rh.len > cap)
		return -EMSGSIZE;
	memcpy(out, in + sizeof(rh), rh.len);
	*ret_len = rh.len;
	if (ret_fd)
		*ret_fd = TAKE_FD(fd);
	return rh.error;
}

int hv_emu_ctl_fd(const char *sock, const char *line, char *text, size_t cap, int *ret_fd)
{
	uint8_t reply[EMU_WIRE_MAX_PAYLOAD];
	size_t len = 0;
	int r = hv_emu_ctl(sock, line, reply, sizeof(reply), &len, ret_fd);

	if (cap)
		snprintf(text, cap, "%.*s", (int)len, (const char *)reply);
	if (r == 0 && *ret_fd < 0)
		return -EPROTO;
	return r;
}
