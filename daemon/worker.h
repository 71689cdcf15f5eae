/* Privilege separation (daemon/README.md): sevd's unprivileged HTTP worker and the core's
 * supervision of it.
 *
 * The core (the process systemd starts) keeps the PSP transport, the ASID pool, the journal,
 * the queue, the embedded emulator, the grant socket, the watchdog and sd_notify; it never
 * parses HTTP or JSON. The worker is started by fork + exec of /proc/self/exe --worker L,C,R
 * (a fresh image: none of the core's memory, keys or fds). It inherits, at fixed numbers
 * (--worker L,C,R,H):
 *   fd 3 .. 3+L-1     the TCP and TLS listening sockets (the core's --listen sockets or
 *                     systemd's); never a Unix one: the core accepts those (core/conns.h),
 *   fd 3+L            a pipe on which it writes "R" once it serves,
 *   fd 3+L+1 .. +C    its ends of the C core channels (ipc.h),
 *   fd 3+L+1+C        when R is 1: the reply cache's sealed region (cache-region.h), which it
 *                     maps read-only and closes before the drop,
 *   fd 3+L+1+C+R      when H is 1: the handoff socket (SOCK_SEQPACKET) on which the core
 *                     sends each accepted Unix connection with its connection id.
 * It reads the config and the TLS files, drops to the worker user, drops every capability
 * (bounding set too), sets no_new_privs, becomes non-dumpable, installs its seccomp filter
 * (seccomp.h), and only then starts libmicrohttpd. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct sevd_config;
struct sevd_core;
struct sevd_ipc_server;
struct sevd_conns;

#define SEVD_WORKER_CHANNELS 16
#define SEVD_WORKER_FD_START 3

/* ---- the worker (worker.c) ---- */

struct sevd_worker_args {
	unsigned n_listen, n_channels, n_region, n_handoff; /* n_region, n_handoff: 0 or 1 */
	const char *user; /* --worker-user, or NULL: cfg->worker_user, else the default */
};

/* The worker's user: name given, else the first of "sevd-worker", "sevd" that exists and is
 * not the core's own uid, else "nobody". */
int sevd_worker_user(const char *name, uid_t *ret_uid, gid_t *ret_gid, const char **ret_name);
/* Run the worker until SIGTERM; returns the exit status. */
int sevd_worker_main(const struct sevd_config *cfg, const struct sevd_worker_args *a);

/* ---- the core's side (daemon/core/worker-supervisor.c) ---- */

struct sevd_worker_ctl;

struct sevd_worker_ctl_config {
	struct sevd_ipc_server *server;
	char *const *argv;     /* sevd's own argv, passed on to every worker */
	const int *listen_fds; /* kept open by the core for restarts, never served by it */
	unsigned n_listen;
	struct sevd_conns *conns; /* the core's Unix listener (core/conns.h), or NULL */
	int region_fd;		 /* core.h sevd_core_region_fd (kept by the core), or -1 */
	const char *worker_user; /* --worker-user, or NULL */
	void (*ping)(void);	 /* the watchdog, while waiting for a worker */
};

int sevd_worker_ctl_new(const struct sevd_worker_ctl_config *cfg, struct sevd_worker_ctl **ret);
/* Start the first worker and wait until it serves (bounded); its failure is sevd's. */
int sevd_worker_ctl_start(struct sevd_worker_ctl *w);
/* From the main loop: reap a worker that ended and start a new one. At most
 * SEVD_WORKER_RESTARTS restarts within SEVD_WORKER_RESTART_WINDOW_S: beyond that -EMLINK
 * (sevd exits non-zero and systemd's Restart= takes over). */
#define SEVD_WORKER_RESTARTS 5
#define SEVD_WORKER_RESTART_WINDOW_S 10
int sevd_worker_ctl_check(struct sevd_worker_ctl *w);
pid_t sevd_worker_ctl_pid(const struct sevd_worker_ctl *w);
/* SIGTERM to the worker, wait for it (SIGKILL after a bound), then free. */
void sevd_worker_ctl_free(struct sevd_worker_ctl *w);
