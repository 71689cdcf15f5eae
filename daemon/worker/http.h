/* The HTTP front: one libmicrohttpd daemon per listening socket (Unix or TCP), a thread per
 * connection, requests routed through the table of api.c after the caller's role is known.
 * Part of the unprivileged side of the seam (core.h). Trusts nothing a client sends. */
#pragma once

#include <stdbool.h>

struct sevd_core;
struct sevd_config;
struct sevd_http;

/* core: passed to the handlers, which reach it through sevd_api_core_fn (api.h); NULL in the
 * worker, whose calls go over the core channels (ipc.h). */
int sevd_http_new(struct sevd_core *core, const struct sevd_config *cfg, struct sevd_http **ret);
/* Add a listening socket (ownership passes to the server): recorded, and for TLS the
 * certificate and key read now; served from sevd_http_start. is_unix: roles from peer
 * credentials; otherwise from bearer tokens. */
int sevd_http_listen(struct sevd_http *h, int fd, bool is_unix);
/* The same over TLS (tls.h: certificate, key and client CA from the config); roles from a
 * bearer token or, without one, a verified client certificate. */
int sevd_http_listen_tls(struct sevd_http *h, int fd);
/* The core's Unix connections (core/conns.h): handoff is the socket on which the core sends
 * each accepted connection with its connection id (ownership passes to the server); served
 * from sevd_http_start, roles from the peer credentials the core read. */
int sevd_http_listen_handoff(struct sevd_http *h, int handoff);
/* A socket passed by systemd: TCP is served with TLS when tls_cert is set, else plain only on
 * loopback with allow_plain_tcp. *ret_kind: "unix", "tls" or "tcp", for the log. */
int sevd_http_listen_activated(struct sevd_http *h, int fd, bool is_unix, const char **ret_kind);
/* Start serving every listener added so far (and the header-deadline thread). The first
 * thread of the server starts here: the worker drops its privileges and installs its seccomp
 * filter before, while it is single-threaded. */
int sevd_http_start(struct sevd_http *h);
/* Stop every listener (waits for running requests), then free. */
void sevd_http_free(struct sevd_http *h);

/* Listening sockets from a spec: "unix:/PATH" (mode 0666: roles come from credentials, not
 * file modes), "tls:ADDR:PORT" or "tcp:ADDR:PORT" ("[::1]:PORT" for IPv6); plain tcp: only
 * on a loopback address and with cfg->allow_plain_tcp (else -EPERM, logged). */
int sevd_listen_socket(const struct sevd_config *cfg, const char *spec, bool *ret_is_unix,
		       bool *ret_is_tls);
