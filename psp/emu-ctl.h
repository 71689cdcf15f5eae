/* The emulator's side channel (emu-wire.h EMU_MSG_CTL, EMU_MSG_INFO): one request, one reply,
 * on a SOCK_SEQPACKET connection of its own to sev-psp-emu's socket. The one client of it:
 * sevd's core (daemon/core/emu-ctl.c: WBINVD, certificates, the self-report) and sev-run and the
 * tests (hv-glue/util.c: guest memory descriptors, SNP secrets) call it. Firmware commands never
 * go this way: they use the transport (psp-emu.c). Trusts the emulator's socket. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The bound on the wait for a reply: -EAGAIN after it. */
#define EMU_CTL_TIMEOUT_MS 30000

/* A SOCK_SEQPACKET connection to the emulator's socket at path, close-on-exec, or -errno
 * (-ENAMETOOLONG for a path that does not fit sun_path). */
int emu_ctl_connect(const char *path);

/* One request of type with payload on fd (from emu_ctl_connect) and its reply. 0 when a
 * well-formed reply came: the emulator's error (a negative errno, or 0) in *ret_error, the
 * reply payload's length in *ret_len and its first cap bytes in out (on the emulator's error,
 * its reason text), a descriptor passed with it (SCM_RIGHTS) in *ret_fd (-1 when none came;
 * ret_fd NULL: closed). Otherwise a negative errno: the socket's, -EMSGSIZE for a payload over
 * EMU_WIRE_MAX_PAYLOAD, -ENODATA when the emulator closed the connection without a reply,
 * -EBADMSG for a malformed one (short, another type or sequence number than the request's, a
 * length other than the bytes read), -EAGAIN after EMU_CTL_TIMEOUT_MS, -ECANCELED when stop_fd
 * (>= 0; -1: none) became readable first. The reply's copy here is wiped (it may be secret). */
int emu_ctl_exchange(int fd, uint16_t type, const void *payload, uint32_t len, void *out,
		     size_t cap, size_t *ret_len, int *ret_error, int *ret_fd, int stop_fd);

/* emu_ctl_connect then emu_ctl_exchange: the emulator's error or the socket's, in one return. */
int emu_ctl_call(const char *path, uint16_t type, const void *payload, uint32_t len, void *out,
		 size_t cap, size_t *ret_len, int *ret_fd, int stop_fd);
