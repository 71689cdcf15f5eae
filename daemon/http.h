/* The HTTP front: one libmicrohttpd daemon per listening socket (Unix or TCP), a thread per
 * connection, requests routed through the table of api.c after the caller's role is known.
 * Part of the unprivileged side of the seam (core.h). Trusts nothing a client sends. */
#pragma once

#include <stdbool.h>

struct sevd_core;
struct sevd_config;
struct sevd_http;

int sevd_http_new(struct sevd_core *core, const struct sevd_config *cfg, struct sevd_http **ret);
/* Serve on a listening socket (ownership passes to the server). is_unix: roles from peer
 * credentials; otherwise from bearer tokens. */
int sevd_http_listen(struct sevd_http *h, int fd, bool is_unix);
/* Stop every listener (waits for running requests), then free. */
void sevd_http_free(struct sevd_http *h);

/* Listening sockets from a spec: "unix:/PATH" (mode 0666: roles come from credentials, not
 * file modes) or "tcp:ADDR:PORT" ("[::1]:PORT" for IPv6). */
int sevd_listen_socket(const char *spec, bool *ret_is_unix);
