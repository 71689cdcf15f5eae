/* The emulator's side channel for sevd's core: psp/emu-ctl.h's client, with the core's answers. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/macros.h"
#include "daemon/core/emu-ctl.h"
#include "psp/emu-ctl.h"

/* One request on a connection of its own (psp/emu-ctl.h); *ret_len the bytes of the reply in
 * out (a longer reply is cut to cap); -EBADMSG for no reply or a malformed one. */
static int emu_request(const char *path, uint16_t type, const void *payload, uint32_t len,
		       void *out, size_t cap, size_t *ret_len, int stop_fd)
{
	int r = emu_ctl_call(path, type, payload, len, out, cap, ret_len, NULL, stop_fd);

	*ret_len = MIN(*ret_len, cap);
	return r == -ENODATA ? -EBADMSG : r;
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
