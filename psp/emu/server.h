/* sev-psp-emu's socket side: a single-threaded poll loop over a SOCK_SEQPACKET listening
 * socket and any number of client connections, speaking psp/emu-wire.h. One request is
 * handled to completion before the next, so the firmware sees one command at a time; the
 * loop records how many connections had a command pending at once (emu_info). Malformed
 * messages end their connection; nothing a client sends can end the process. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "psp/emu/firmware.h"

struct emu_server;

int emu_server_new(struct emu_fw *fw, const char *socket_path, struct emu_server **ret);
/* Serve until SIGTERM or SIGINT (blocked by the caller and passed as a signalfd). */
int emu_server_run(struct emu_server *s, int signal_fd);
/* Closes every connection and unlinks the socket. */
void emu_server_free(struct emu_server *s);

/* Handle one request datagram of connection conn_id; fd is the descriptor that came with it
 * (or -1) and is always consumed. Writes the reply into reply[cap]: returns its length, or
 * -EBADMSG when the message is malformed (the caller ends the connection). Exposed for the
 * fuzz target. */
ssize_t emu_handle_request(struct emu_fw *fw, uint64_t conn_id, const uint8_t *msg, size_t len,
			   int fd, uint8_t *reply, size_t cap);

/* EMU_MSG_CTL: one text line (see README.md). Writes the reply payload (text, or a binary
 * certificate for get-cert) into out[cap], sets *out_len, returns 0 or a negative errno. */
int emu_ctl(struct emu_fw *fw, const char *line, uint8_t *out, size_t cap, size_t *out_len);
