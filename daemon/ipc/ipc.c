/* The core<->worker message codec (ipc.h): the per-op body lengths and the exact-length
 * framing (a fixed length per op, or a fixed prefix whose element count gives the rest). Used by both sides; the core's receiver is the parser of untrusted bytes (fuzzed:
 * tests/fuzz/fuzz-daemon-ipc.c). Trusts nothing it reads. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "daemon/ipc/ipc.h"

typedef struct sevd_request req_t;
typedef struct sevd_reply rep_t;

/* Request bodies: the first N bytes of req->u. */
#define REQ_NONE 0
#define REQ_INIT sizeof(((req_t *)0)->u.init)
#define REQ_RESET sizeof(((req_t *)0)->u.reset)
#define REQ_SNP_CONFIG sizeof(((req_t *)0)->u.snp_config)
#define REQ_VLEK sizeof(((req_t *)0)->u.vlek)
#define REQ_SNP_CERTS sizeof(((req_t *)0)->u.snp_certs)
#define REQ_SNP_KDS sizeof(((req_t *)0)->u.snp_kds)
#define REQ_PEK_CERT sizeof(((req_t *)0)->u.pek_cert)
#define REQ_CREATE sizeof(((req_t *)0)->u.create)
/* Guest ops that carry no bytes of data stop before the 64 KiB array. */
#define REQ_GUEST_HDR offsetof(typeof(((req_t *)0)->u.guest), data)
#define REQ_GUEST_DATA sizeof(((req_t *)0)->u.guest)
#define REQ_SLOT sizeof(((req_t *)0)->u.slot)
#define REQ_MIGRATE sizeof(((req_t *)0)->u.migrate)
#define REQ_CERT_CHAIN sizeof(((req_t *)0)->u.cert_chain)
#define REQ_CONN sizeof(((req_t *)0)->u.conn)
/* A migration batch's request without packets (SEND_BATCH names a range only). */
#define REQ_BATCH_HDR offsetof(typeof(((req_t *)0)->u.migrate_batch), p)

/* Reply bodies: the first N bytes of struct sevd_reply (status fields, then u's member). */
#define REP_HDR offsetof(rep_t, u)
#define REP(member) (REP_HDR + sizeof(((rep_t *)0)->u.member))

/* A body's length: `fixed` bytes, then (elem > 0) as many elements of elem bytes as the
 * uint32_t at offset count_at says, at most max: only the entries a table reply uses travel
 * (GET /v1/asids used to send all 4096 ASID entries, 229 KB, every time). */
struct body_rule {
	uint32_t fixed, count_at, elem, max;
};
#define FIXED(n) {.fixed = (n)}
/* u.member's array `arr` of at most ELEMENTSOF entries, counted by u.member.count. */
#define REP_VAR(member, count, arr)                                                                \
	{.fixed = REP_HDR + offsetof(typeof(((rep_t *)0)->u.member), arr),                        \
	 .count_at = REP_HDR + offsetof(typeof(((rep_t *)0)->u.member), count),                   \
	 .elem = sizeof(((rep_t *)0)->u.member.arr[0]),                                            \
	 .max = ELEMENTSOF(((rep_t *)0)->u.member.arr)}
/* The same for a request: req->u.member's array `arr`, counted by u.member.count. */
#define REQ_VAR(member, count, arr)                                                                \
	{.fixed = offsetof(typeof(((req_t *)0)->u.member), arr),                                  \
	 .count_at = offsetof(typeof(((req_t *)0)->u.member), count),                             \
	 .elem = sizeof(((req_t *)0)->u.member.arr[0]),                                            \
	 .max = ELEMENTSOF(((req_t *)0)->u.member.arr)}
/* The array must end the member (nothing after it but the member's trailing padding), and
 * the count, a uint32_t, come before it: the longest body is all of the member's data, and
 * the count is in the prefix the receiver reads first. */
#define REP_VAR_OK(member, count, arr)                                                             \
	_Static_assert(sizeof(((rep_t *)0)->u.member) -                                            \
				   (offsetof(typeof(((rep_t *)0)->u.member), arr) +                 \
				    sizeof(((rep_t *)0)->u.member.arr)) <                            \
			       _Alignof(typeof(((rep_t *)0)->u.member)) &&                         \
			   offsetof(typeof(((rep_t *)0)->u.member), count) + sizeof(uint32_t) <=   \
			       offsetof(typeof(((rep_t *)0)->u.member), arr) &&                    \
			   sizeof(((rep_t *)0)->u.member.count) == sizeof(uint32_t),               \
		       "daemon/ipc/ipc.c: " #member "." #arr " must end " #member                      \
		       " and be counted by a uint32_t " #count " before it")
REP_VAR_OK(asids, n, entry);
REP_VAR_OK(guests, n, g);
REP_VAR_OK(metrics, len, text);
REP_VAR_OK(snp_certs, len, table);
REP_VAR_OK(migrate_batch, n, p);
_Static_assert(sizeof(((req_t *)0)->u.migrate_batch) -
			       (offsetof(typeof(((req_t *)0)->u.migrate_batch), p) +
				sizeof(((req_t *)0)->u.migrate_batch.p)) <
			   _Alignof(typeof(((req_t *)0)->u.migrate_batch)),
	       "daemon/ipc/ipc.c: migrate_batch.p must end the request's migrate_batch");

static const struct {
	struct body_rule req, rep;
} ipc_ops[] = {
#define IPC_ROW(name, fn, gfn, fw, req, rep, roles, guest) [SEVD_OP_##name] = {req, rep},
    SEVD_OPS(IPC_ROW)
#undef IPC_ROW
};
/* Every row of the op table (daemon/ipc/ops.h) names its request and reply rule, so every
 * op has one here. */
_Static_assert(ELEMENTSOF(ipc_ops) == SEVD_OP_MAX_,
	       "daemon/ipc/ipc.c: every enum sevd_op needs a row in ipc_ops (request and reply size)");

int sevd_ipc_op_known(uint32_t op)
{
	return op > 0 && op < ELEMENTSOF(ipc_ops) && ipc_ops[op].rep.fixed != 0;
}

static const struct body_rule *rule_of(enum sevd_ipc_kind kind, uint32_t op)
{
	return kind == SEVD_IPC_REQUEST ? &ipc_ops[op].req : &ipc_ops[op].rep;
}

size_t sevd_ipc_body_len(enum sevd_ipc_kind kind, uint32_t op)
{
	const struct body_rule *b;

	if (!sevd_ipc_op_known(op))
		return 0;
	b = rule_of(kind, op);
	return b->fixed + (size_t)b->max * b->elem;
}

size_t sevd_ipc_body_fixed(enum sevd_ipc_kind kind, uint32_t op)
{
	return sevd_ipc_op_known(op) ? rule_of(kind, op)->fixed : 0;
}

/* The length of this body by its rule: -EMSGSIZE when its count exceeds the rule's max. */
static ssize_t body_len_of(const struct body_rule *b, const void *body)
{
	uint32_t n;

	if (!b->elem)
		return b->fixed;
	memcpy(&n, (const uint8_t *)body + b->count_at, sizeof(n));
	if (n > b->max)
		return -EMSGSIZE;
	return (ssize_t)(b->fixed + (size_t)n * b->elem);
}

ssize_t sevd_ipc_msg_body_len(enum sevd_ipc_kind kind, uint32_t op, const void *body)
{
	if (!sevd_ipc_op_known(op))
		return -EPROTO;
	return body_len_of(rule_of(kind, op), body);
}

/* Header and body in one writev (one syscall, one wakeup of the peer, for a round trip that
 * dominates cached GETs); a short write (signal, full socket buffer) continues where it
 * stopped, EINTR retries, so the stream never carries part of a message and then another. */
static int writev_all(int fd, const void *hdr, size_t hdr_len, const void *body, size_t body_len)
{
	struct iovec iov[2] = {
	    {.iov_base = (void *)hdr, .iov_len = hdr_len},
	    {.iov_base = (void *)body, .iov_len = body_len},
	};
	struct iovec *v = iov;
	int cnt = body_len ? 2 : 1;

	while (cnt > 0) {
		ssize_t k = writev(fd, v, cnt);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (k == 0)
			return -EIO; /* cannot happen for a nonzero count; never spin on it */
		for (; cnt > 0 && (size_t)k >= v->iov_len; v++, cnt--)
			k -= (ssize_t)v->iov_len;
		if (cnt > 0) {
			v->iov_base = (uint8_t *)v->iov_base + k;
			v->iov_len -= (size_t)k;
		}
	}
	return 0;
}

/* The same with one fd attached to the message's first byte (SCM_RIGHTS); a short write
 * resumes without it (the kernel passed it with the bytes that went). */
static int sendmsg_fd(int fd, const void *hdr, size_t hdr_len, const void *body, size_t body_len,
		      int pass_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm = {0};
	struct iovec iov[2] = {
	    {.iov_base = (void *)hdr, .iov_len = hdr_len},
	    {.iov_base = (void *)body, .iov_len = body_len},
	};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = body_len ? 2 : 1,
			   .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	ssize_t k;

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	do
		k = sendmsg(fd, &m, MSG_NOSIGNAL);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return negative_errno();
	if ((size_t)k < hdr_len) /* the rest, plainly */
		return writev_all(fd, (const uint8_t *)hdr + k, hdr_len - (size_t)k, body, body_len);
	k -= (ssize_t)hdr_len;
	return (size_t)k < body_len ? writev_all(fd, (const uint8_t *)body + k, body_len - (size_t)k,
						 NULL, 0)
				    : 0;
}

static int send_msg(int fd, enum sevd_ipc_kind kind, uint32_t op, const void *body)
{
	struct sevd_ipc_hdr h = {
	    .magic = SEVD_IPC_MAGIC, .version = SEVD_IPC_VERSION, .kind = (uint16_t)kind, .op = op};
	ssize_t len = sevd_ipc_msg_body_len(kind, op, body);

	if (len < 0)
		return (int)len; /* never a frame the receiver would refuse */
	h.len = (uint32_t)len;
	return writev_all(fd, &h, sizeof(h), body, h.len);
}

/* A request: the caller's evidence, then the op's body, in one write. */
int sevd_ipc_send_request(int fd, const struct sevd_request *req)
{
	struct sevd_ipc_hdr h = {.magic = SEVD_IPC_MAGIC,
				 .version = SEVD_IPC_VERSION,
				 .kind = SEVD_IPC_REQUEST,
				 .op = req->op};
	ssize_t len = sevd_ipc_msg_body_len(SEVD_IPC_REQUEST, req->op, &req->u);
	uint8_t head[sizeof(h) + sizeof(req->caller)];

	if (len < 0)
		return (int)len;
	h.len = (uint32_t)(sizeof(req->caller) + (size_t)len);
	memcpy(head, &h, sizeof(h));
	memcpy(head + sizeof(h), &req->caller, sizeof(req->caller));
	return writev_all(fd, head, sizeof(head), &req->u, (size_t)len);
}

int sevd_ipc_send_reply(int fd, uint32_t op, const struct sevd_reply *rep)
{
	return send_msg(fd, SEVD_IPC_REPLY, op, rep);
}

int sevd_ipc_send_reply_fd(int fd, uint32_t op, const struct sevd_reply *rep, int pass_fd)
{
	struct sevd_ipc_hdr h = {.magic = SEVD_IPC_MAGIC,
				 .version = SEVD_IPC_VERSION,
				 .kind = SEVD_IPC_REPLY,
				 .op = op};

	if (!sevd_ipc_op_known(op))
		return -EPROTO;
	if (pass_fd < 0)
		return send_msg(fd, SEVD_IPC_REPLY, op, rep);
	{
		ssize_t len = sevd_ipc_msg_body_len(SEVD_IPC_REPLY, op, rep);

		if (len < 0)
			return (int)len;
		h.len = (uint32_t)len;
	}
	return sendmsg_fd(fd, &h, sizeof(h), rep, h.len, pass_fd);
}

/* Exactly n bytes: 0, -ENODATA when the source ends first, -EPIPE when it ends before the
 * first byte and at_start is set (a clean end between messages). */
static int src_read(struct sevd_ipc_src *s, void *p, size_t n, bool at_start)
{
	ssize_t k;

	if (s->fd < 0) {
		size_t avail = s->len - s->pos;

		if (avail == 0 && at_start)
			return -EPIPE;
		if (avail < n)
			return -ENODATA;
		memcpy(p, s->buf + s->pos, n);
		s->pos += n;
		return 0;
	}
	k = loop_read(s->fd, p, n);
	if (k < 0)
		return (int)k;
	if (k == 0 && at_start && n)
		return -EPIPE;
	return (size_t)k == n ? 0 : -ENODATA;
}

static int fail(char *err, size_t size, int r, const char *fmt, ...) _printf_(4, 5);
static int fail(char *err, size_t size, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && size) {
		va_start(ap, fmt);
		vsnprintf(err, size, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* Header of a message of `kind`; want_op > 0: a reply must be for that op. Returns the body
 * length (within the op's rule: its fixed length, or fixed + a whole number of elements up to
 * the max; recv_tail checks it against the count) or an error. */
static int recv_hdr(struct sevd_ipc_src *src, enum sevd_ipc_kind kind, uint32_t want_op,
		    struct sevd_ipc_hdr *h, char *err, size_t size)
{
	const struct body_rule *b;
	size_t max;
	int r;

	r = src_read(src, h, sizeof(*h), true);
	if (r == -EPIPE)
		return fail(err, size, r, "the peer closed the channel");
	if (r == -ENODATA)
		return fail(err, size, r, "truncated header (the stream ended inside it)");
	if (r < 0)
		return fail(err, size, r, "read error: %s", strerror(-r));
	if (h->magic != SEVD_IPC_MAGIC)
		return fail(err, size, -EBADMSG, "bad magic 0x%08x (expected 0x%08x)", h->magic,
			    SEVD_IPC_MAGIC);
	if (h->version != SEVD_IPC_VERSION)
		return fail(err, size, -EBADMSG, "protocol version %u (expected %u)", h->version,
			    SEVD_IPC_VERSION);
	if (h->kind != kind)
		return fail(err, size, -EBADMSG, "message kind %u (expected %u)", h->kind, kind);
	if (!sevd_ipc_op_known(h->op))
		return fail(err, size, -EPROTO, "unknown op %u", h->op);
	if (want_op && h->op != want_op)
		return fail(err, size, -EPROTO, "reply for op %u to a request of op %u", h->op,
			    want_op);
	/* A request carries its caller's evidence ahead of the op's body. */
	if (kind == SEVD_IPC_REQUEST) {
		if (h->len < SEVD_IPC_CALLER_SIZE)
			return fail(err, size, -EMSGSIZE,
				    "op %u: request of %u bytes, shorter than the caller's evidence "
				    "(%zu)",
				    h->op, h->len, (size_t)SEVD_IPC_CALLER_SIZE);
		h->len -= (uint32_t)SEVD_IPC_CALLER_SIZE;
	}
	b = rule_of(kind, h->op);
	if (!b->elem && h->len != b->fixed)
		return fail(err, size, -EMSGSIZE,
			    "op %u: body of %u bytes (this op has exactly %u)", h->op, h->len,
			    b->fixed);
	max = b->fixed + (size_t)b->max * b->elem;
	if (b->elem && (h->len < b->fixed || h->len > max || (h->len - b->fixed) % b->elem))
		return fail(err, size, -EMSGSIZE,
			    "op %u: body of %u bytes (this op has %u + n x %u, n <= %u)", h->op,
			    h->len, b->fixed, b->elem, b->max);
	return (int)h->len;
}

static int read_part(struct sevd_ipc_src *src, void *dst, size_t len, uint32_t op, char *err,
		     size_t size)
{
	int r = len ? src_read(src, dst, len, false) : 0;

	if (r == -ENODATA)
		return fail(err, size, r, "op %u: truncated body (the stream ended inside it)", op);
	if (r < 0)
		return fail(err, size, r, "op %u: read error: %s", op, strerror(-r));
	return 0;
}

/* The body of a header recv_hdr accepted (len bytes): the fixed prefix first, then, for a
 * counted body, the rest only once the count in that prefix gives exactly len. The stream
 * is left inside the message on -EMSGSIZE: the caller drops the channel either way. */
static int recv_body(struct sevd_ipc_src *src, enum sevd_ipc_kind kind, const struct sevd_ipc_hdr *h,
		     void *dst, size_t len, char *err, size_t size)
{
	const struct body_rule *b = rule_of(kind, h->op);
	ssize_t want;
	int r;

	if (!b->elem)
		return read_part(src, dst, len, h->op, err, size);
	r = read_part(src, dst, b->fixed, h->op, err, size);
	if (r < 0)
		return r;
	want = body_len_of(b, dst);
	if (want < 0 || (size_t)want != len) {
		uint32_t n;

		memcpy(&n, (const uint8_t *)dst + b->count_at, sizeof(n));
		return fail(err, size, -EMSGSIZE,
			    "op %u: body of %zu bytes for %u entries of %u bytes (at most %u; "
			    "%u + n x %u expected)",
			    h->op, len, n, b->elem, b->max, b->fixed, b->elem);
	}
	return read_part(src, (uint8_t *)dst + b->fixed, len - b->fixed, h->op, err, size);
}

int sevd_ipc_recv_request_reuse(struct sevd_ipc_src *src, struct sevd_request *req,
				size_t *dirty, char *err, size_t err_size)
{
	struct sevd_ipc_hdr h;
	int n, r;

	n = recv_hdr(src, SEVD_IPC_REQUEST, 0, &h, err, err_size);
	if (n < 0)
		return n;
	/* Bytes the body does not cover must be 0 (as in a fresh request), not what an earlier
	 * request left there: only [n, *dirty) can hold such bytes. A 64 KiB upload piece is
	 * cleared once by the next smaller request, not 64 KiB on every message. */
	if (*dirty > sizeof(req->u))
		*dirty = sizeof(req->u);
	if (*dirty > (size_t)n)
		memset((uint8_t *)&req->u + n, 0, *dirty - (size_t)n);
	*dirty = (size_t)n; /* also if the body read fails: it writes no further than n */
	req->op = h.op;
	r = read_part(src, &req->caller, sizeof(req->caller), h.op, err, err_size);
	if (r < 0)
		return r;
	return recv_body(src, SEVD_IPC_REQUEST, &h, &req->u, (size_t)n, err, err_size);
}

int sevd_ipc_recv_request(struct sevd_ipc_src *src, struct sevd_request *req, char *err,
			  size_t err_size)
{
	size_t dirty = 0;

	memset(req, 0, sizeof(*req));
	return sevd_ipc_recv_request_reuse(src, req, &dirty, err, err_size);
}

int sevd_ipc_recv_reply_fd(int fd, uint32_t op, struct sevd_reply *rep, int *ret_fd, char *err,
			   size_t err_size)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct sevd_ipc_hdr h;
	uint8_t hb[sizeof(h)];
	struct iovec iov = {.iov_base = hb, .iov_len = sizeof(hb)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf)};
	struct sevd_ipc_src src;
	ssize_t k;
	int r, got = -1;

	*ret_fd = -1;
	do
		k = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return fail(err, err_size, negative_errno(), "read error: %s", strerror(errno));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&got, CMSG_DATA(c), sizeof(int));
	if (k == 0) {
		r = fail(err, err_size, -EPIPE, "the peer closed the channel");
		goto out;
	}
	/* The header's first k bytes came with the fd; the rest of the message as any reply. */
	if ((size_t)k < sizeof(hb) && loop_read(fd, hb + k, sizeof(hb) - (size_t)k) !=
					  (ssize_t)(sizeof(hb) - (size_t)k)) {
		r = fail(err, err_size, -ENODATA, "truncated header (the stream ended inside it)");
		goto out;
	}
	src = (struct sevd_ipc_src){.fd = -1, .buf = hb, .len = sizeof(hb)};
	r = recv_hdr(&src, SEVD_IPC_REPLY, op, &h, err, err_size);
	if (r < 0)
		goto out;
	src = (struct sevd_ipc_src){.fd = fd};
	r = recv_body(&src, SEVD_IPC_REPLY, &h, rep, (size_t)r, err, err_size);
	if (r < 0)
		goto out;
	rep->message[sizeof(rep->message) - 1] = '\0';
	rep->rule[sizeof(rep->rule) - 1] = '\0';
	*ret_fd = got;
	got = -1;
out:
	if (got >= 0)
		close(got);
	return r;
}

int sevd_ipc_recv_reply(struct sevd_ipc_src *src, uint32_t op, struct sevd_reply *rep, char *err,
			size_t err_size)
{
	struct sevd_ipc_hdr h;
	int n, r;

	n = recv_hdr(src, SEVD_IPC_REPLY, op, &h, err, err_size);
	if (n < 0)
		return n;
	r = recv_body(src, SEVD_IPC_REPLY, &h, rep, (size_t)n, err, err_size);
	if (r < 0)
		return r;
	rep->message[sizeof(rep->message) - 1] = '\0';
	rep->rule[sizeof(rep->rule) - 1] = '\0';
	return 0;
}

int sevd_ipc_check_slot(const struct sevd_request *req, uint32_t slots, uint32_t slot_size,
			char *err, size_t err_size)
{
	if (req->op != SEVD_OP_GUEST_DATA_SLOT)
		return 0;
	if (!slots)
		return fail(err, err_size, -EPROTO,
			    "slot request without a staging buffer (no GUEST_DATA_STAGE on this "
			    "channel since its last other request)");
	if (req->u.slot.slot >= slots)
		return fail(err, err_size, -ERANGE, "slot %u of a staging buffer of %u slots",
			    req->u.slot.slot, slots);
	if (req->u.slot.len > slot_size)
		return fail(err, err_size, -EMSGSIZE, "%u bytes in a slot of %u",
			    req->u.slot.len, slot_size);
	return 0;
}
