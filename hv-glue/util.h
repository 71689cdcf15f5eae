/* What sev-run's modes (demo.c, snp-report.c, snp-guest.c) share: the error line on stderr,
 * socket addresses as given on the command line, a Unix socket connection, the emulator's CTL
 * lines. Its own library (hvglue-util), which the tests that ask the emulator link too. */
#pragma once

#include <stddef.h>

#include "common/macros.h"

/* "sev-run: " and the sentence on stderr; returns err, so a caller can `return hv_say(-E, ...)`. */
_printf_(2, 3) int hv_say(int err, const char *fmt, ...);
/* A socket argument without its "unix:" prefix (PATH as it is). */
const char *hv_sock_path(const char *s);
/* A connected Unix socket of this type (SOCK_STREAM, SOCK_SEQPACKET), close-on-exec, or -errno
 * (-ENAMETOOLONG for a path that does not fit sun_path). */
int hv_unix_connect(const char *path, int type);
/* The longest CTL line hv_emu_ctl() sends (the emulator's lines are short: "guest-memfd 3"). */
#define HV_EMU_CTL_LINE_MAX 256u
/* One CTL line on the emulator's socket, on a connection of its own: the emulator's error
 * (negative errno) or 0; its reply payload, as sent (binary: "get-cert ark" answers a
 * certificate), in out (cap bytes, -EMSGSIZE when larger) and its length in *ret_len (on the
 * emulator's error, its reason text); a descriptor passed in SCM_RIGHTS in *ret_fd (-1 when
 * none came; ret_fd NULL: closed). A negative errno from the socket, -EPROTO for a malformed
 * answer (a reply of another sequence number, a length that differs from the bytes read). */
int hv_emu_ctl(const char *sock, const char *line, void *out, size_t cap, size_t *ret_len,
	       int *ret_fd);
/* One CTL line on the emulator's socket whose answer carries a descriptor in SCM_RIGHTS
 * (guest-memfd, snp-memfd): the emulator's error (negative errno) or 0, its text reply in
 * text (cap bytes), the descriptor in *ret_fd (-1 when none came); -EPROTO for a malformed
 * answer or a success without a descriptor. */
int hv_emu_ctl_fd(const char *sock, const char *line, char *text, size_t cap, int *ret_fd);
