/* The core<->worker messages (privilege separation; daemon/README.md). The
 * unprivileged worker (HTTP, JSON, auth) sends a `struct sevd_request` to the privileged core
 * and gets a `struct sevd_reply` back, over one of a pool of socketpairs (SOCK_STREAM), one
 * request in flight per socket (a staged upload, below, queues its slot requests on the
 * channel it holds; the core answers them in order). Every message is a fixed header and a
 * body whose length is set per op and direction by a table (ipc.c): only the union member the
 * op uses travels, never the whole 250 KB reply, and of a table reply (ASIDS, GUEST_LIST,
 * METRICS) only the entries it uses: a fixed prefix holding a uint32_t count, then exactly
 * that many elements. Both sides check magic, version, direction, op and the exact length
 * (for a counted body: the prefix is read first, then the count must give the header's length
 * exactly); the core treats anything else as an attack by the worker (it kills and restarts
 * it), the worker treats a bad reply as a broken core (it exits). The receivers trust nothing
 * but the table; the core still checks every request field (core.c, guest.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/core/core.h"

#define SEVD_IPC_MAGIC 0x53564449u /* "SVDI" */
#define SEVD_IPC_VERSION 3u /* 2: requests carry the caller's evidence; 3: a connection id */
/* A request's body is the caller's evidence (struct sevd_caller, core.h) and then the op's
 * body by the op table's rule; the header's len counts both. */
#define SEVD_IPC_CALLER_SIZE sizeof(struct sevd_caller)

enum sevd_ipc_kind {
	SEVD_IPC_REQUEST = 1,
	SEVD_IPC_REPLY = 2,
};

struct sevd_ipc_hdr {
	uint32_t magic;	  /* SEVD_IPC_MAGIC */
	uint16_t version; /* SEVD_IPC_VERSION */
	uint16_t kind;	  /* enum sevd_ipc_kind */
	uint32_t op;	  /* enum sevd_op; a reply repeats its request's */
	uint32_t len;	  /* body bytes; exactly what the op's rule gives (sevd_ipc_msg_body_len) */
};
_Static_assert(sizeof(struct sevd_ipc_hdr) == 16, "the IPC header is 16 bytes, no padding");

/* The longest body of a message: requests carry the first N bytes of the request's union,
 * replies the first N bytes of struct sevd_reply (status, message, rule, then the op's
 * member); for a counted body, its prefix and the most elements. The exact length for ops
 * of a fixed length. 0 for an op that does not exist (a zero-length request is only valid
 * for ops in the table). */
size_t sevd_ipc_body_len(enum sevd_ipc_kind kind, uint32_t op);
/* The part of a body always sent (the whole body for ops of a fixed length; the prefix up to
 * the elements for a counted one). */
size_t sevd_ipc_body_fixed(enum sevd_ipc_kind kind, uint32_t op);
/* The length `body` (a request's union or a struct sevd_reply) is sent with: -EPROTO for an
 * unknown op, -EMSGSIZE when its count exceeds the op's maximum. */
ssize_t sevd_ipc_msg_body_len(enum sevd_ipc_kind kind, uint32_t op, const void *body);
/* Is op a row of the table? */
int sevd_ipc_op_known(uint32_t op);

/* Errors of the receivers (the reason, for the log, goes to err):
 *   -EPIPE   the peer closed the socket between two messages (a clean end)
 *   -EBADMSG wrong magic, version or direction
 *   -EPROTO  unknown op, or a reply for another op
 *   -EMSGSIZE the length is not the op's (or not what a counted body's count gives)
 *   -ENODATA the stream ended inside a message (truncated)
 *   other    a read error */
#define SEVD_IPC_ERR_MAX 160

/* A source of bytes: a socket (fd >= 0), or a buffer (fd < 0; for tests and the fuzzer). */
struct sevd_ipc_src {
	int fd;
	const uint8_t *buf;
	size_t len, pos;
};

/* Worker side: send a request (its op selects the body). */
int sevd_ipc_send_request(int fd, const struct sevd_request *req);
/* Core side: read one request into *req (zeroed first: bytes not sent are 0). */
int sevd_ipc_recv_request(struct sevd_ipc_src *src, struct sevd_request *req, char *err,
			  size_t err_size);
/* Core side, for one request buffer reused message after message: the same, but only the
 * bytes of req->u from the body's end up to *dirty are cleared (those an earlier body may
 * have written; the rest must already be 0), not the whole 64 KiB. *dirty: 0 for a zeroed
 * buffer (calloc), sizeof(req->u) for one of unknown content; kept true by every call, also
 * a failed one. A request received is byte for byte that of sevd_ipc_recv_request. */
int sevd_ipc_recv_request_reuse(struct sevd_ipc_src *src, struct sevd_request *req,
				size_t *dirty, char *err, size_t err_size);
/* Core side: send the reply of op (-EMSGSIZE: a count above the op's maximum; nothing sent). */
int sevd_ipc_send_reply(int fd, uint32_t op, const struct sevd_reply *rep);
/* Worker side: read the reply of op into *rep (message and rule NUL-terminated). */
int sevd_ipc_recv_reply(struct sevd_ipc_src *src, uint32_t op, struct sevd_reply *rep, char *err,
			size_t err_size);

/* ---- staged uploads ----
 * An image upload does not cross the channel in 64 KiB GUEST_DATA pieces but through a
 * staging buffer shared with the core: GUEST_DATA_STAGE makes the core create a memfd of
 * SEVD_STAGE_SLOTS slots of SEVD_STAGE_SLOT_SIZE bytes, sealed against shrinking and growing
 * (F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL: the worker can never make the core's read-only map
 * of it fault), and send it with the reply (SCM_RIGHTS). The worker maps it, copies the
 * client's bytes into a slot and sends GUEST_DATA_SLOT {handle, slot, len}; it fills the
 * next slot while the core works and reads an answer only when it needs that slot again (every
 * slot may be in flight on the held channel; the core answers in order). The core
 * copies the slot's bytes into guest memory once (they are image bytes, read for nothing
 * else) and runs GUEST_DATA's rules on them (guest.c). The staging is the channel's: it
 * lives until the next request on that channel that is not a SLOT (or the channel's end),
 * then the core unmaps it. A SLOT without a staging, with a slot index or a length outside
 * it, is a malformed message (sevd_ipc_check_slot): the worker is killed. */

/* Core side: the reply of op with pass_fd attached (none when pass_fd < 0). */
int sevd_ipc_send_reply_fd(int fd, uint32_t op, const struct sevd_reply *rep, int pass_fd);
/* Worker side: sevd_ipc_recv_reply on a socket, also taking an fd passed with the reply
 * (*ret_fd, O_CLOEXEC; -1 when none came). */
int sevd_ipc_recv_reply_fd(int fd, uint32_t op, struct sevd_reply *rep, int *ret_fd, char *err,
			   size_t err_size);
/* Core side: 0 for any request that is not a SLOT, or a SLOT that fits a staging of `slots`
 * slots of slot_size bytes (slots 0: the channel has none); else the reason, and -EPROTO
 * (no staging), -ERANGE (slot index) or -EMSGSIZE (length). */
int sevd_ipc_check_slot(const struct sevd_request *req, uint32_t slots, uint32_t slot_size,
			char *err, size_t err_size);

/* Worker side: an upload over a held channel and its staging buffer (daemon/ipc/worker-side.c). */
struct sevd_ipc_upload;
/* Take a channel and hold it (not one of the reserved; -EBUSY after the bounded wait), ask
 * for a staging buffer, map it. */
int sevd_ipc_upload_open(uint32_t handle, const struct sevd_caller *caller, struct sevd_reply *rep,
			 struct sevd_ipc_upload **ret);
/* Copy bytes into the slot being filled; a full slot is sent (after the answer for the one
 * before it: that slot is then free again). Returns rep->r of the first failed answer (that
 * answer in rep), or 0. */
int sevd_ipc_upload_write(struct sevd_ipc_upload *u, const void *buf, size_t len,
			  struct sevd_reply *rep);
/* Send the partly filled slot, its bytes rounded down to a multiple of unit (1: all of them;
 * SEVD_GUEST_CHUNK when the client left: whole chunks are measured, the rest is dropped), and
 * wait for every answer: 0 or the first failure (in rep). */
int sevd_ipc_upload_flush(struct sevd_ipc_upload *u, uint32_t unit, struct sevd_reply *rep);
/* A core call on the held channel (after flush; e.g. GUEST_DATA_END: the core then unmaps the
 * staging at once). */
int sevd_ipc_upload_call(struct sevd_ipc_upload *u, const struct sevd_request *req,
			 struct sevd_reply *rep);
/* Unmap, give the channel back (an answer still in flight is read first). NULL is fine. */
void sevd_ipc_upload_close(struct sevd_ipc_upload *u);

/* ---- the worker's pool of channels (daemon/ipc/worker-side.c) ---- */

/* Take over the worker's ends of n channels. Once. */
int sevd_ipc_client_init(const int *fds, unsigned n);
/* `reserved` channels stay free for reads and health (PLATFORM_STATUS, CERTS,
 * GET_ID, ASIDS, HEALTH, METRICS, GUEST_INFO, GUEST_LIST, FW_ERRORS, SNP_STATUS): other calls
 * and staged uploads take only the rest; no call waits longer than wait_ms for a channel
 * (0: no limit), then it is answered -EBUSY naming what held them. Defaults: 0, 5000. */
void sevd_ipc_client_limits(unsigned reserved, unsigned wait_ms);
struct sevd_region;
/* Answer cached PLATFORM_STATUS/GUEST_INFO from the core's read-only region (cache-region.h)
 * without a round trip, under the core's own freshness rule; anything else, and a miss, goes
 * over a channel. The worker's hits are appended to the core's /metrics text
 * (sevd_worker_cache_hits_total{command}). Once, before the first call; NULL: none. */
void sevd_ipc_client_use_region(struct sevd_region *r);
/* sevd_core_call through a free channel (waits for one, bounded); the signature of sevd_core_call so
 * that the HTTP side calls either (api.c: sevd_api_core_fn). A broken channel (core gone,
 * malformed reply) ends the worker: the core, if alive, starts a new one. */
int sevd_ipc_client_call(struct sevd_core *unused, const struct sevd_request *req,
			 struct sevd_reply *rep);

/* ---- the core's end (daemon/ipc/core-side.c) ---- */

struct sevd_ipc_server;

int sevd_ipc_server_new(struct sevd_core *core, struct sevd_ipc_server **ret);
/* Serve the core's ends of n channels of the worker whose pidfd is given (dup'ed here): one
 * thread per channel runs sevd_core_call. A malformed message is logged, the worker is sent
 * SIGKILL through the pidfd (no pid-reuse race) and every channel of it is shut down. The
 * fds are owned by the server from here on, also on failure. */
int sevd_ipc_server_serve(struct sevd_ipc_server *s, int pidfd, pid_t pid, const int *fds,
			  unsigned n);
/* CLOCK_MONOTONIC milliseconds of the last HEALTH the core answered a worker (its heartbeat
 * or GET /healthz), 0 before the first: sevd.c feeds systemd's watchdog only while they come,
 * so that a frozen API is restarted even while the core's own loop runs. */
uint64_t sevd_ipc_server_health_ms(struct sevd_ipc_server *s);
/* How many workers so far sent a malformed message (for the log and tests). */
unsigned sevd_ipc_server_bad_workers(struct sevd_ipc_server *s);
/* Wait until every channel thread has ended (call after the worker is gone), then free. */
void sevd_ipc_server_free(struct sevd_ipc_server *s);
