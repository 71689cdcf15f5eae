/* The emulator's side channel (psp/emu-wire.h EMU_MSG_INFO and EMU_MSG_CTL) on a connection
 * of its own: what on hardware is not a firmware command but CPU work (WBINVD on every core
 * before DF_FLUSH), and the emulator's self-report (max_concurrent_seen). Firmware commands
 * never go this way: they use the transport, through the daemon's queue.
 * Trusts the emulator's socket (the daemon started it or was pointed at it). */
#pragma once

#include <stddef.h>

#include "psp/emu-wire.h"

/* Send a control line ("wbinvd"); the reply text (if any) lands in reply (NUL-terminated).
 * Returns 0, the emulator's negative error, or a negative errno from the socket. */
int sevd_emu_ctl(const char *socket_path, const char *line, char *reply, size_t reply_size);
/* The same with a binary reply ("get-cert ask" answers the AMD-format certificate). On the
 * emulator's error, out holds its reason text (ret_len bytes, not NUL-terminated). */
int sevd_emu_ctl_bin(const char *socket_path, const char *line, void *out, size_t cap,
		     size_t *ret_len);
/* The same, ended early (-ECANCELED) when stop_fd becomes readable while the reply is awaited
 * (the certificate table's background fetch, stopped at shutdown: snp-certs.c). */
int sevd_emu_ctl_bin_stoppable(const char *socket_path, const char *line, void *out, size_t cap,
			       size_t *ret_len, int stop_fd);
int sevd_emu_info(const char *socket_path, struct emu_info *ret);
