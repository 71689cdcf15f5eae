/* The core's Unix listener (daemon/README.md, "Who the core believes"): the core, not the
 * worker, accepts on the Unix sockets, reads the peer's SO_PEERCRED and SO_PEERGROUPS, gives
 * each connection an unguessable connection id and hands the connection (SCM_RIGHTS) with its
 * id to the worker. The worker's requests on behalf of a Unix client carry the id; the core
 * maps it back to the credentials it read itself (core/authz.c), and refuses an id it never
 * issued or whose connection is closed. Core side. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "daemon/core/core.h"

/* One message per connection on the handoff socket (SOCK_SEQPACKET), the connection's fd
 * attached (SCM_RIGHTS). */
#define SEVD_HANDOFF_MAGIC 0x53564843u /* "SVHC" */
struct sevd_handoff_msg {
	uint32_t magic; /* SEVD_HANDOFF_MAGIC */
	uint32_t uid;	/* the peer's, for the worker's own early route check (advisory) */
	uint64_t conn;	/* the connection id requests on its behalf carry */
};

/* The peer of a live connection, as the core read it at accept(). */
struct sevd_conn_peer {
	uint32_t uid, gid, n_groups;
	uint32_t groups[SEVD_EVIDENCE_GROUPS];
};

struct sevd_conns;

/* Take the listening Unix sockets (owned from here, closed by sevd_conns_free) and start the
 * accept thread. Connections are accepted only while a worker takes them (below); until
 * then clients wait in the backlog, as they do while a worker restarts. One per process. */
int sevd_conns_new(const int *listen_fds, unsigned n, struct sevd_conns **ret);
/* A new worker: handoff is the core's end of its handoff socket (owned from here). Every
 * connection of the worker before ends (shut down, its id refused from now on). -1: none. */
void sevd_conns_worker(struct sevd_conns *c, int handoff);
/* The credentials of live connection `id`: 0, or -ENOENT (never issued, or closed). */
int sevd_conns_peer(uint64_t id, struct sevd_conn_peer *ret);
/* Live connections (for tests and the log). */
unsigned sevd_conns_live(struct sevd_conns *c);
void sevd_conns_free(struct sevd_conns *c);
