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
#include "psp/emu-ctl.h"
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
	_cleanup_close_ int fd = -1;
	size_t n = 0;
	int r;

	*ret_len = 0;
	if (ret_fd)
		*ret_fd = -1;
	if (strlen(sock) >= sizeof(((struct sockaddr_un *)NULL)->sun_path) ||
	    strlen(line) >= HV_EMU_CTL_LINE_MAX)
		return -EINVAL;
	r = emu_ctl_call(sock, EMU_MSG_CTL, line, (uint32_t)strlen(line), out, cap, &n, &fd, -1);
	if (r == -EBADMSG || r == -ENODATA)
		return -EPROTO;
	if (n > cap)
		return -EMSGSIZE;
	*ret_len = n;
	if (ret_fd)
		*ret_fd = TAKE_FD(fd);
	return r;
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
