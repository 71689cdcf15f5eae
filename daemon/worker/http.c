/* The HTTP front over libmicrohttpd. Per request: find the route (404/405), decide the role
 * (Unix peer credentials or bearer token), check it (401/403), collect the body under the
 * route's limit (413), call the handler, send its answer. Trusts no client: connections are
 * bounded overall, per TCP address and per Unix uid, headers have a deadline, TCP addresses
 * a request rate (429), raw paths are checked before unescaping (README.md, "Hostile and
 * slow clients"; tests/daemon/test-hostile.c). Runs in sevd's unprivileged worker
 * (worker.h): listeners are added (TLS files read) first, served from sevd_http_start, after
 * the worker has dropped its privileges. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"
#include "common/util.h"
#include "daemon/core/conns.h"
#include "daemon/worker/api.h"
#include "daemon/worker/auth.h"
#include "daemon/sevd-config.h"
#include "daemon/worker/http.h"
#include "daemon/worker/tls.h"

#define SEVD_LISTENERS_MAX 16
#define SEVD_CONN_MEMORY (32u * 1024u) /* request line + headers per connection (MHD's pool) */
#define SEVD_RATE_SLOTS 1024	       /* TCP client addresses tracked by the rate limiter */
#define SEVD_RATE_PROBE 8
#define SEVD_DISCARD_MIN (64u * 1024u) /* over-limit body bytes read before hanging up */
/* Listen backlog: a burst of connects beyond it loses SYNs (clients retry after 1 s, 3 s...),
 * and connections over connection_limit wait here. The kernel caps it at somaxconn. */
#define SEVD_BACKLOG 4096

struct listener {
	struct sevd_http *http;
	struct MHD_Daemon *mhd;
	int fd;
	bool is_unix;
	bool is_tls; /* roles also from a verified client certificate */
	/* The Unix connections the core accepted (core/conns.h): their handoff socket (fd is
	 * then -1: the worker listens on no Unix socket), the thread that takes them. */
	int handoff;
	pthread_t taker;
	bool taker_running;
};

/* Connections taken from the handoff and not yet seen by on_connection: fd -> connection id
 * (an fd number is unique while it is open). */
#define PENDING_MAX 64
static struct {
	pthread_mutex_t lock;
	int fd[PENDING_MAX];
	uint64_t conn[PENDING_MAX];
} pending = {.lock = PTHREAD_MUTEX_INITIALIZER};

struct sevd_http {
	struct sevd_core *core;
	const struct sevd_config *cfg;
	gid_t admin_gid;
	bool have_admin_gid;
	struct sevd_tls tls; /* loaded with the first TLS listener */
	bool tls_loaded;
	struct listener l[SEVD_LISTENERS_MAX];
	unsigned n;
	/* Header deadline (against slowloris: MHD's own timeout is an idle timeout, reset by
	 * every byte): connections still sending a request's headers past it are shut down. */
	pthread_mutex_t track_lock;
	pthread_cond_t track_cond;
	pthread_t reaper;
	bool reaper_running, stopping;
	struct conn_track *tracked;
	/* Requests per second per TCP client address: a token bucket per address, for every
	 * caller (rate_limit) and for callers without credentials (public_rate_limit). */
	pthread_mutex_t rate_lock;
	struct rate_slot {
		uint8_t addr[16]; /* IPv4 as v4-mapped IPv6 */
		bool used;
		double tokens;
		uint64_t last_ms;
	} rate[SEVD_RATE_SLOTS], rate_public[SEVD_RATE_SLOTS];
	/* The key of the per-connection token memo's digests (tok_digest), random per process. */
	uint8_t tok_salt[32];
	bool tok_salted;
};

struct conn_track {
	struct conn_track *next, *prev;
	int fd;
	uint64_t deadline_ms; /* 0: headers complete (or already shut down) */
	/* The request's body (header_timeout did not cover it, and a body trickled at
	 * a byte per 5 s stayed open): from the end of its headers until its answer. */
	uint64_t body_start_ms; /* 0: no request between its headers and its answer */
	uint64_t body_bytes;
	bool is_unix;
	uid_t uid; /* the Unix peer */
	uint64_t conn; /* a Unix connection's id from the core, or 0 */
	/* TLS: the id the core gave the client's verified chain (CONN_CERT), once asked */
	uint64_t cert_conn;
	bool cert_asked;
	/* The core's WHOAMI answer for the bearer token last sent on this connection, keyed by
	 * a salted digest of the token (tok_digest; the worker keeps no token past its request
	 * nor anything the core's token hashes could be matched with). The core reads its token
	 * hashes once at start, so an answer holds while the connection lives. Only this
	 * connection's thread reads or writes it. The core still checks the token itself on
	 * every op it serves; this spares the WHOAMI round trip of each keep-alive request. */
	uint8_t tok[32];
	bool tok_held;
	bool tok_known;
	bool tok_untenanted;
	enum sevd_role tok_role;
};

/* Per-request state, kept in MHD's con_cls between the calls of one request. */
struct request {
	struct conn_track *track; /* the connection's, or NULL */
	const struct sevd_route *route;
	enum sevd_role role;
	struct sevd_caller caller; /* the evidence of role, for the core (wiped at the end) */
	bool core_untenanted; /* the core's WHOAMI said the token's principal has no tenant */
	char param[64];
	char *body;
	size_t len;
	bool too_large;
	size_t discarded;      /* over-limit bytes dropped so far */
	unsigned early_status; /* an answer decided before the body arrived */
	unsigned retry_after;  /* seconds, with a 429 */
	bool close;	       /* framing in doubt: answer with Connection: close */
	struct sevd_api_response early;
	void *stream; /* the open state of a streamed body (route->stream) */
};

static const char *query_arg(const struct sevd_api_request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

static void api_request(struct listener *l, struct MHD_Connection *conn, struct request *rq,
			struct sevd_api_request *areq)
{
	*areq = (struct sevd_api_request){ .core = l->http->core, .role = rq->role, .caller = &rq->caller,
					   .body = rq->body ? rq->body : "", .len = rq->len,
					   .param = rq->param, .arg = query_arg, .conn = conn,
					   .core_untenanted = rq->core_untenanted };
}

/* A streamed body: open the route's stream before the first byte; a refusal is answered at
 * once (also to "Expect: 100-continue"). */
static void stream_open(struct listener *l, struct MHD_Connection *conn, struct request *rq)
{
	struct sevd_api_request areq;

	api_request(l, conn, rq, &areq);
	if (rq->route->stream->open(&areq, &rq->stream, &rq->early) < 0) {
		rq->stream = NULL;
		rq->early_status = rq->early.status ? rq->early.status : 500;
	}
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct sevd_api_response *r,
				     const char *allow, unsigned retry_after, bool close)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;
	char ra[16];

	if (r->reader) {
		mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, r->reader,
						       r->reader_state, r->reader_free);
		if (!mr)
			r->reader_free(r->reader_state);
		r->reader = NULL;
		if (!mr)
			return MHD_NO;
		goto headers;
	}
	if (!r->body) {
		r->body = strdup("");
		r->len = 0;
	}
	mr = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
	if (!mr) {
		free(r->body);
		r->body = NULL;
		return MHD_NO;
	}
	r->body = NULL; /* MHD owns it now */
headers:
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	MHD_add_response_header(mr, "Cache-Control", "no-store");
	for (const char *const *h = r->headers; h && h[0] && h[1]; h += 2)
		MHD_add_response_header(mr, h[0], h[1]);
	if (allow)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, allow);
	if (r->status == 401)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"sevd\"");
	if (r->status == 429) {
		snprintf(ra, sizeof(ra), "%u", retry_after ? retry_after : 1);
		MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	/* The rest of a refused body is not read (or its framing is in doubt): the connection
	 * cannot carry another request. */
	if (r->status == 413 || close)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, r->status, mr);
	MHD_destroy_response(mr);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *code,
				  const char *message, const char *allow)
{
	struct sevd_api_response r = { 0 };

	sevd_api_error(&r, status, code, message, -1);
	return send_response(conn, &r, allow, 0, false);
}

/* "GET, POST": the methods the path has, for 405's Allow header. */
static void allowed_methods(const char *path, char *buf, size_t size)
{
	bool known;
	char param[64];

	buf[0] = '\0';
	for (size_t i = 0; i < sevd_n_routes; i++) {
		const struct sevd_route *rt = sevd_route_find(sevd_routes[i].method, path, &known,
							      param, sizeof(param));
		if (rt == &sevd_routes[i] && !strstr(buf, rt->method)) {
			if (buf[0])
				strncat(buf, ", ", size - strlen(buf) - 1);
			strncat(buf, rt->method, size - strlen(buf) - 1);
		}
	}
}

/* A bearer token's role, as the core says (WHOAMI): the token hashes are the core's alone
 * (core/authz.c), so the worker never hashes a token nor holds what it would compare with.
 * A core that cannot be asked makes the caller public (fail closed), and says so in the log. */
static enum sevd_role core_token_role(struct sevd_http *h, const struct sevd_caller *cl,
				      bool *ret_known, bool *ret_untenanted, bool *ret_answered)
{
	_cleanup_free_ struct sevd_request *rq = calloc(1, sizeof(*rq));
	_cleanup_free_ struct sevd_reply *rep = calloc(1, sizeof(*rep));
	enum sevd_role role = SEVD_ROLE_PUBLIC;

	*ret_known = false;
	if (!rq || !rep)
		return role;
	rq->op = SEVD_OP_WHOAMI;
	rq->caller = *cl;
	if (sevd_api_core_fn(h->core, rq, rep) < 0) {
		*ret_known = true; /* not a bad token: a caller without a role this time */
		log_warning("Cannot ask the core who a bearer token is: %s; the request is served "
			    "as public", rep->message[0] ? rep->message : "no answer");
	} else if (rep->u.whoami.known && rep->u.whoami.role < SEVD_ROLE_MAX_) {
		*ret_known = *ret_answered = true;
		role = (enum sevd_role)rep->u.whoami.role;
		*ret_untenanted = rep->u.whoami.untenanted == 1;
	} else {
		*ret_known = false;
		*ret_answered = true;
	}
	secret_wipe(&rq->caller, sizeof(rq->caller));
	return role;
}

static struct conn_track *conn_track_of(struct MHD_Connection *conn);

/* SHA-256 of the process's salt and the token: what the connection's memo compares; false
 * when there is no salt or no digest (the request then asks the core, as without a memo). */
static bool tok_digest(const struct sevd_http *h, const char *token, uint8_t d[32])
{
	EVP_MD_CTX *ctx;
	unsigned n = 0;
	bool ok;

	if (!h->tok_salted || !(ctx = EVP_MD_CTX_new()))
		return false;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, h->tok_salt, sizeof(h->tok_salt)) == 1 &&
	     EVP_DigestUpdate(ctx, token, strlen(token)) == 1 &&
	     EVP_DigestFinal_ex(ctx, d, &n) == 1 && n == 32;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* The client certificate's connection id: the chain goes to the core once per connection
 * (CONN_CERT), which verifies it against tls_client_ca itself; 0 when it refused it or there
 * is none (the caller is then public to the core). */
static uint64_t core_cert_conn(struct sevd_http *h, struct conn_track *t, void *session)
{
	_cleanup_free_ struct sevd_request *rq = NULL;
	_cleanup_free_ struct sevd_reply *rep = NULL;

	if (!t || t->cert_asked)
		return t ? t->cert_conn : 0;
	t->cert_asked = true;
	rq = calloc(1, sizeof(*rq));
	rep = calloc(1, sizeof(*rep));
	if (!rq || !rep)
		return 0;
	rq->op = SEVD_OP_CONN_CERT;
	rq->u.cert_chain.len = (uint32_t)sevd_tls_client_chain(session, rq->u.cert_chain.der,
								sizeof(rq->u.cert_chain.der));
	if (!rq->u.cert_chain.len)
		return 0;
	if (sevd_api_core_fn(h->core, rq, rep) < 0) {
		log_warning("The core did not accept a client certificate: %s; the connection is "
			    "served as public",
			    rep->message[0] ? rep->message : "no answer");
		return 0;
	}
	t->cert_conn = rep->u.conn.id;
	return t->cert_conn;
}

/* The caller's role; *bad_token when a bearer token was given but matches no configured hash
 * (answered 401 whatever the route). A Unix caller's evidence is the core's connection id
 * (the core maps it to the peer it accepted); the worker's own SO_PEERCRED read only decides
 * the early 403s. */
static enum sevd_role caller_role(struct listener *l, struct MHD_Connection *conn,
				  struct sevd_caller *cl, bool *bad_token, bool *untenanted)
{
	const union MHD_ConnectionInfo *ci;
	struct conn_track *t;
	const char *auth;
	bool known, answered = false, have;
	enum sevd_role role;
	uint8_t d[32];

	*bad_token = false;
	if (l->is_unix) {
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!ci)
			return SEVD_ROLE_PUBLIC;
		sevd_auth_unix_evidence(ci->connect_fd, cl);
		if (conn_track_of(conn))
			cl->conn = conn_track_of(conn)->conn;
		return sevd_auth_unix_peer(ci->connect_fd, l->http->admin_gid,
					   l->http->have_admin_gid);
	}
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	/* Over TLS without a token: the client certificate's role (a token, when sent, decides
	 * alone, so one connection never mixes two identities). */
	if (!auth && l->is_tls) {
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		sevd_tls_client_evidence(ci ? ci->tls_session : NULL, cl);
		if (cl->kind == SEVD_EVIDENCE_CERT)
			cl->conn = core_cert_conn(l->http, conn_track_of(conn),
						  ci ? ci->tls_session : NULL);
		return sevd_tls_client_role(l->http->cfg, ci ? ci->tls_session : NULL);
	}
	if (!auth)
		return SEVD_ROLE_PUBLIC;
	if (strncasecmp(auth, "Bearer ", 7) != 0) {
		*bad_token = true;
		return SEVD_ROLE_PUBLIC;
	}
	sevd_auth_token_evidence(auth + 7, cl);
	t = conn_track_of(conn);
	have = t && tok_digest(l->http, cl->text, d);
	if (have && t->tok_held && !secret_memcmp(t->tok, d, sizeof(d))) {
		*untenanted = t->tok_untenanted;
		*bad_token = !t->tok_known;
		secret_wipe(d, sizeof(d));
		return t->tok_role;
	}
	role = core_token_role(l->http, cl, &known, untenanted, &answered);
	*bad_token = !known;
	if (have && answered) {
		memcpy(t->tok, d, sizeof(t->tok));
		t->tok_held = true;
		t->tok_known = known;
		t->tok_untenanted = *untenanted;
		t->tok_role = role;
	}
	secret_wipe(d, sizeof(d));
	return role;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The client's address as 16 bytes (IPv4 v4-mapped); false for anything else. */
static bool client_addr(struct MHD_Connection *conn, uint8_t key[16])
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (sa && sa->sa_family == AF_INET) {
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

/* Take a token from the client's bucket: 0 when the request may run, else the seconds after
 * which one will be there (Retry-After). A full table evicts the least recently seen of
 * SEVD_RATE_PROBE slots: an evicted address starts again with a full burst. */
static unsigned rate_take(struct sevd_http *h, struct rate_slot *table, unsigned per_s,
			  unsigned burst_n, const uint8_t key[16])
{
	double rate = per_s, tokens, burst = burst_n ? burst_n : per_s;
	uint64_t hash = 1469598103934665603ull, now = now_ms();
	struct rate_slot *slot = NULL;
	unsigned retry = 0;

	for (unsigned i = 0; i < 16; i++)
		hash = (hash ^ key[i]) * 1099511628211ull;
	pthread_mutex_lock(&h->rate_lock);
	for (unsigned i = 0; i < SEVD_RATE_PROBE; i++) {
		struct rate_slot *s = &table[(hash + i) % SEVD_RATE_SLOTS];

		if (s->used && !memcmp(s->addr, key, 16)) {
			slot = s;
			break;
		}
		if (!slot || (slot->used && (!s->used || s->last_ms < slot->last_ms)))
			slot = s;
	}
	if (!slot->used || memcmp(slot->addr, key, 16)) {
		memcpy(slot->addr, key, 16);
		slot->used = true;
		slot->tokens = burst;
		slot->last_ms = now;
	}
	tokens = slot->tokens + (double)(now - slot->last_ms) * rate / 1000.0;
	tokens = tokens > burst ? burst : tokens;
	slot->last_ms = now;
	if (tokens >= 1.0)
		tokens -= 1.0;
	else
		retry = (unsigned)((1.0 - tokens) / rate) + 1;
	slot->tokens = tokens;
	pthread_mutex_unlock(&h->rate_lock);
	return retry;
}

/* The header deadline of a connection: set when it opens and after each answer, cleared
 * when a request's headers are complete. */
static void track_deadline(struct sevd_http *h, struct MHD_Connection *conn, bool waiting)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_track *t = ci ? ci->socket_context : NULL;

	if (!t)
		return;
	pthread_mutex_lock(&h->track_lock);
	t->deadline_ms = waiting && h->cfg->header_timeout_s
				 ? now_ms() + h->cfg->header_timeout_s * 1000ull
				 : 0;
	pthread_mutex_unlock(&h->track_lock);
}

static struct conn_track *conn_track_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* The body phase of a request: begun (headers complete), bytes received, ended (answered). */
static void body_begin(struct sevd_http *h, struct conn_track *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&h->track_lock);
	t->body_start_ms = now_ms();
	t->body_bytes = 0;
	pthread_mutex_unlock(&h->track_lock);
}

static void body_progress(struct sevd_http *h, struct conn_track *t, size_t n)
{
	if (!t)
		return;
	pthread_mutex_lock(&h->track_lock);
	t->body_bytes += n;
	pthread_mutex_unlock(&h->track_lock);
}

static void body_end(struct sevd_http *h, struct conn_track *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&h->track_lock);
	t->body_start_ms = 0;
	pthread_mutex_unlock(&h->track_lock);
}

/* Under track_lock: the body's deadline has passed (body_timeout after its headers, plus a
 * second per body_min_rate bytes that arrived: a large upload that keeps the rate never
 * meets it). */
static bool body_late(const struct sevd_config *cfg, const struct conn_track *t, uint64_t now)
{
	uint64_t limit;

	if (!t->body_start_ms || !cfg->body_timeout_s)
		return false;
	limit = t->body_start_ms + cfg->body_timeout_s * 1000ull;
	if (cfg->body_min_rate)
		limit += t->body_bytes * 1000u / cfg->body_min_rate;
	return now > limit;
}

/* MHD's per-address limit does not see Unix peers: one uid other than root may hold at
 * most per_ip_connection_limit connections there; a further one is shut down at once. */
static void limit_unix_peer(struct sevd_http *h, struct conn_track *t)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	unsigned n = 0;

	if (!h->cfg->per_ip_connection_limit ||
	    getsockopt(t->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return;
	t->uid = cred.uid;
	if (t->uid == 0)
		return;
	for (struct conn_track *o = h->tracked; o; o = o->next)
		n += o != t && o->is_unix && o->uid == t->uid;
	if (n >= h->cfg->per_ip_connection_limit) {
		(void)shutdown(t->fd, SHUT_RDWR);
		t->deadline_ms = 0;
	}
}

static void core_conn_end(struct sevd_http *h, uint64_t id)
{
	struct sevd_request *rq = calloc(1, sizeof(*rq));
	struct sevd_reply *rep = calloc(1, sizeof(*rep));

	if (rq && rep) {
		rq->op = SEVD_OP_CONN_END;
		rq->u.conn.id = id;
		(void)sevd_api_core_fn(h->core, rq, rep);
	}
	free(rq);
	free(rep);
}

static void pending_put(int fd, uint64_t conn)
{
	pthread_mutex_lock(&pending.lock);
	for (unsigned i = 0; i < PENDING_MAX; i++)
		if (!pending.conn[i]) {
			pending.fd[i] = fd;
			pending.conn[i] = conn;
			break;
		}
	pthread_mutex_unlock(&pending.lock);
}

static uint64_t pending_take(int fd)
{
	uint64_t id = 0;

	pthread_mutex_lock(&pending.lock);
	for (unsigned i = 0; i < PENDING_MAX && !id; i++)
		if (pending.conn[i] && pending.fd[i] == fd) {
			id = pending.conn[i];
			pending.conn[i] = 0;
		}
	pthread_mutex_unlock(&pending.lock);
	return id;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct listener *l = cls;
	struct sevd_http *h = l->http;
	const union MHD_ConnectionInfo *ci;
	struct conn_track *t = *socket_context;
	uint64_t cert_end = 0;

	pthread_mutex_lock(&h->track_lock);
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		t = ci ? calloc(1, sizeof(*t)) : NULL;
		if (t) {
			t->fd = ci->connect_fd;
			t->is_unix = l->is_unix;
			t->deadline_ms = h->cfg->header_timeout_s
						 ? now_ms() + h->cfg->header_timeout_s * 1000ull
						 : 0;
			t->conn = l->handoff >= 0 ? pending_take(t->fd) : 0;
			t->next = h->tracked;
			if (t->next)
				t->next->prev = t;
			h->tracked = t;
			if (t->is_unix)
				limit_unix_peer(h, t);
		}
		*socket_context = t;
	} else if (t) {
		/* MHD notifies CLOSED before it closes the socket: the fd is never reused here.
		 * A handed-off connection is shut down too: the core holds a reference to it and
		 * ends its connection id when it sees both directions shut, or the id given back. */
		if (l->handoff >= 0) {
			struct sevd_handoff_msg m = { .magic = SEVD_HANDOFF_MAGIC, .conn = t->conn };

			(void)shutdown(t->fd, SHUT_RDWR);
			if (t->conn) /* the id back: the core ends it now */
				(void)send(l->handoff, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL);
		}
		if (t->prev)
			t->prev->next = t->next;
		else
			h->tracked = t->next;
		if (t->next)
			t->next->prev = t->prev;
		cert_end = t->cert_conn;
		free(t);
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&h->track_lock);
	if (cert_end) /* the core ends the certificate's id with the connection */
		core_conn_end(h, cert_end);
}

/* Shut down connections past their header deadline; their MHD thread then sees EOF. */
static void *reaper_main(void *arg)
{
	struct sevd_http *h = arg;
	struct timespec ts;

	pthread_mutex_lock(&h->track_lock);
	while (!h->stopping) {
		uint64_t now = now_ms();

		for (struct conn_track *t = h->tracked; t; t = t->next)
			if ((t->deadline_ms && t->deadline_ms <= now) || body_late(h->cfg, t, now)) {
				(void)shutdown(t->fd, SHUT_RDWR);
				t->deadline_ms = 0;
				t->body_start_ms = 0;
			}
		timespec_after_ms(CLOCK_REALTIME, 250, &ts);
		pthread_cond_timedwait(&h->track_cond, &h->track_lock, &ts);
	}
	pthread_mutex_unlock(&h->track_lock);
	return NULL;
}

/* The raw request target, before libmicrohttpd unescapes it (which turns %2f into a segment
 * separator and truncates at %00): no API name contains '/', '\\', a control character or
 * a dot segment, so a path that encodes or contains one is refused whole (400). The query
 * ("?nonce=...") is left to the handlers. */
static bool uri_path_clean(const char *uri)
{
	size_t seg = 0; /* decoded bytes of the current segment, dots only so far: dots */
	unsigned dots = 0;

	for (const char *p = uri; *p && *p != '?'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '%') {
			char hex[3] = { p[0] ? p[1] : 0, p[1] ? p[2] : 0, 0 };
			char *end;

			if (!hex[0] || !hex[1] || strchr("+- ", hex[0]))
				return false;
			c = (unsigned char)strtoul(hex, &end, 16);
			if (*end || c == '/')
				return false;
			p += 2;
		}
		if (c < 0x20 || c == 0x7f || c == '\\')
			return false;
		if (c == '/') {
			if (seg && seg == dots && dots <= 2)
				return false;
			seg = dots = 0;
			continue;
		}
		seg++;
		dots += c == '.';
	}
	return !(seg && seg == dots && dots <= 2);
}

/* Headers a proxy in front of sevd and sevd could read differently: libmicrohttpd
 * answers the first of two Authorization headers and frames the body by the first of two
 * Content-Lengths (the rest of the bytes became a second request); and a Transfer-Encoding
 * other than plain "chunked" (RFC 9112 §6.1: chunked must be last, and sevd decodes no other
 * coding) left the connection waiting for a body it never framed. A NUL inside a header line
 * ("Bearer <token>\0xyz") cannot be seen here: libmicrohttpd 0.9.75 measures header values
 * with strlen() and drops what follows the NUL before sevd is called (value_size is the
 * truncated length); the size test below refuses it on a libmicrohttpd that passes the wire
 * length. */
struct header_scan {
	size_t line_bytes; /* of the header lines, without their line ends */
	unsigned lines;
	bool unplaced;	   /* a value not in its key's line: no byte count */
	unsigned auth, clen, te;
	const char *clen_value;
	bool clen_differs, nul;
	const char *te_value;
};

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
				   size_t key_size, const char *value, size_t value_size)
{
	struct header_scan *h = cls;

	if (!key)
		return MHD_YES;
	if (strlen(key) != key_size || (value && strlen(value) != value_size))
		h->nul = true;
	/* libmicrohttpd parses the header block in place: the value follows its key in the same
	 * line, after the ':' and any whitespace (so value - key counts them exactly). */
	if (!value || value < key || value - key > SEVD_CONN_MEMORY)
		h->unplaced = true;
	else
		h->line_bytes += (size_t)(value - key) + value_size;
	h->lines++;
	if (!strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION))
		h->auth++;
	else if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
		if (h->clen++ && (!value || !h->clen_value || strcmp(value, h->clen_value)))
			h->clen_differs = true;
		h->clen_value = value;
	} else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		h->te++;
		h->te_value = value;
	}
	return MHD_YES;
}

/* Where the raw request target's C string ends (on_uri), for request_start on the same
 * connection thread (libmicrohttpd runs a connection's callbacks on its thread, in order). */
static __thread const char *uri_end;

/* Bytes of the header block libmicrohttpd parsed but did not pass on: the wire size
 * (MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE) against the most the request line and the header
 * lines account for with a CRLF after each line and after the block. What is left was cut by
 * a NUL (C strings end there) or skipped (spaces after the HTTP version): either way sevd
 * would not see what a proxy saw. 0 when unknown. */
static size_t header_unseen(struct MHD_Connection *conn, const struct header_scan *h,
			    const char *method, const char *version)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	size_t line, most;

	/* The count rests on the in-place parser of the libmicrohttpd it was checked against
	 * (0.9.75, Debian 12: scripts/deps); another version is not second-guessed here, and
	 * test-hostile's NUL cases say whether it needs to be. */
	if (MHD_VERSION != 0x00097500)
		return 0;
	if (!ci || h->unplaced || !method || !version || version < method ||
	    version - method > SEVD_CONN_MEMORY)
		return 0;
	line = (size_t)(version - method) + strlen(version);
	most = line + 2 + h->line_bytes + 2 * (size_t)h->lines + 2;
	/* The target ends where libmicrohttpd cut the line before the version; a NUL in it ends
	 * its C string earlier (the bytes are in the line's count, so only this sees them). */
	if (uri_end && uri_end > method && uri_end < version - 1)
		return (size_t)(version - 1 - uri_end);
	return ci->header_size > most ? ci->header_size - most : 0;
}

/* 0 when the headers are unambiguous, else the status (400, 501) with msg filled. */
static unsigned header_problem(struct MHD_Connection *conn, const char *method,
			       const char *version, char *msg, size_t size)
{
	struct header_scan h = { 0 };
	size_t unseen;

	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, scan_header, &h);
	unseen = header_unseen(conn, &h, method, version);
	uri_end = NULL;
	if (h.nul || unseen)
		snprintf(msg, size, "the request line or a header holds a NUL byte (or spaces "
				    "after the HTTP version): %zu byte(s) of it cannot be read; send "
				    "plain header lines",
			 unseen);
	else if (h.auth > 1)
		snprintf(msg, size, "%u Authorization headers: send exactly one", h.auth);
	else if (h.clen_differs)
		snprintf(msg, size, "Content-Length headers with different values: send one");
	else if (h.te > 1 || (h.te && h.clen))
		snprintf(msg, size, "%s: send either one Content-Length or "
				    "'Transfer-Encoding: chunked'",
			 h.te > 1 ? "several Transfer-Encoding headers"
				  : "both Content-Length and Transfer-Encoding");
	else if (h.te && (!h.te_value || strcasecmp(h.te_value, "chunked"))) {
		snprintf(msg, size, "Transfer-Encoding '%.40s' is not implemented: sevd takes "
				    "'chunked' alone (or a Content-Length)",
			 h.te_value ? h.te_value : "");
		return 501;
	} else
		return 0;
	return 400;
}

/* A marker in con_cls: the URI log callback refused the path; on_request answers 400. */
static char uri_refused;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	uri_end = uri ? uri + strlen(uri) : NULL;
	return uri_path_clean(uri) ? NULL : &uri_refused;
}

static struct request *rate_limited(struct request *rq, const char *whose)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "too many requests %s: wait for Retry-After seconds", whose);
	rq->early_status = 429;
	sevd_api_error(&rq->early, 429, "rate_limited", msg, -1);
	return rq;
}

/* The route table's roles, and GET /metrics for public callers when metrics_public is set
 * (its counters and ASID use are the reader's by default). */
static bool route_allows(struct sevd_http *h, const struct sevd_route *rt, enum sevd_role role)
{
	if (role == SEVD_ROLE_PUBLIC && h->cfg->metrics_public && !strcmp(rt->path, "/metrics"))
		return true;
	return sevd_route_allows(rt, role);
}

/* First call of a request: route, role, early refusals. Returns the request state or NULL
 * after queueing an error answer in *ret. */
static struct request *request_start(struct listener *l, struct MHD_Connection *conn,
				     const char *url, const char *method, const char *version,
				     bool bad_uri, enum MHD_Result *ret)
{
	struct request *rq = calloc(1, sizeof(*rq));
	const char *clen;
	bool path_known, bad_token;
	char allow[64], msg[200];
	uint8_t key[16];

	if (!rq) {
		*ret = MHD_NO;
		return NULL;
	}
	track_deadline(l->http, conn, false);
	rq->track = conn_track_of(conn);
	body_begin(l->http, rq->track);
	if (!l->is_unix && l->http->cfg->rate_limit && client_addr(conn, key) &&
	    (rq->retry_after = rate_take(l->http, l->http->rate, l->http->cfg->rate_limit,
					 l->http->cfg->rate_burst, key)))
		return rate_limited(rq, "from this address");
	if ((rq->early_status = header_problem(conn, method, version, msg, sizeof(msg)))) {
		rq->close = true;
		sevd_api_error(&rq->early, rq->early_status,
			       rq->early_status == 501 ? "unsupported" : "bad_request", msg, -1);
		return rq;
	}
	if (bad_uri) {
		rq->early_status = 400;
		sevd_api_error(&rq->early, 400, "bad_request",
			       "the path encodes '/', '\\', NUL or a control character, or has a "
			       "'.' or '..' segment: API names never do",
			       -1);
		return rq;
	}
	rq->route = sevd_route_find(method, url, &path_known, rq->param, sizeof(rq->param));
	if (!rq->route) {
		allowed_methods(url, allow, sizeof(allow));
		rq->early_status = path_known ? 405 : 404;
		sevd_api_error(&rq->early, rq->early_status,
			       path_known ? "method_not_allowed" : "not_found",
			       path_known ? "this path does not take this method (see Allow)"
					  : "no such API route (see daemon/openapi.yaml)",
			       -1);
		return rq;
	}
	rq->role = caller_role(l, conn, &rq->caller, &bad_token, &rq->core_untenanted);
	/* Without credentials (or with a bad token) a TCP caller has a rate of its own (issue
	 * 27: public GETs made firmware work at the rate a client could send them). */
	if (!l->is_unix && (bad_token || rq->role == SEVD_ROLE_PUBLIC) &&
	    l->http->cfg->public_rate_limit && client_addr(conn, key) &&
	    (rq->retry_after = rate_take(l->http, l->http->rate_public,
					 l->http->cfg->public_rate_limit,
					 l->http->cfg->public_rate_burst, key)))
		return rate_limited(rq, "without credentials from this address");
	if (bad_token || !route_allows(l->http, rq->route, rq->role)) {
		bool anon = !l->is_unix && (bad_token || rq->role == SEVD_ROLE_PUBLIC);

		snprintf(msg, sizeof(msg),
			 bad_token ? "the bearer token is not valid for this daemon"
			 : anon	   ? "%s %s needs credentials: send 'Authorization: Bearer <token>'%s"
				   : "%s %s is not allowed for the role '%s'",
			 method, rq->route->path,
			 anon ? (l->is_tls ? " or a mapped client certificate" : "")
			      : sevd_role_name(rq->role));
		rq->early_status = anon ? 401 : 403;
		sevd_api_error(&rq->early, rq->early_status, anon ? "unauthorized" : "forbidden",
			       msg, -1);
		return rq;
	}
	clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (rq->route->stream)
		stream_open(l, conn, rq);
	else if (clen && strtoull(clen, NULL, 10) > rq->route->max_body)
		rq->too_large = true;
	return rq;
}

static void request_free(struct request *rq)
{
	if (!rq)
		return;
	if (rq->stream) /* the client left before the end of the body */
		rq->route->stream->close(rq->stream, false, NULL);
	free(rq->body);
	free(rq->early.body);
	secret_wipe(&rq->caller, sizeof(rq->caller));
	free(rq);
}

/* Collect body bytes under the route's limit. Beyond it (a chunked body: a declared length is
 * refused before any byte is read) the bytes are dropped and 413 answered at the end, as
 * MHD 0.9 cannot answer in the middle of a body; a body that goes on for more than the limit
 * again (at least SEVD_DISCARD_MIN) is cut off: false closes the connection. */
static bool request_data(struct request *rq, const char *data, size_t size)
{
	size_t slack;
	char *nb;

	if (rq->early_status)
		return true;
	if (rq->stream) {
		(void)rq->route->stream->data(rq->stream, data, size); /* failures: at close */
		return true;
	}
	if (!rq->too_large && (!rq->route || size > rq->route->max_body - rq->len))
		rq->too_large = true;
	if (rq->too_large) {
		slack = rq->route && rq->route->max_body > SEVD_DISCARD_MIN ? rq->route->max_body
									    : SEVD_DISCARD_MIN;
		rq->discarded += size < slack ? size : slack;
		return rq->discarded < slack;
	}
	nb = realloc(rq->body, rq->len + size + 1);
	if (!nb) {
		rq->too_large = true;
		return true;
	}
	memcpy(nb + rq->len, data, size);
	rq->len += size;
	nb[rq->len] = '\0';
	rq->body = nb;
	return true;
}

static enum MHD_Result request_finish(struct listener *l, struct MHD_Connection *conn,
				      struct request *rq, const char *url)
{
	struct sevd_api_response resp = { 0 };
	struct sevd_api_request areq = { 0 };
	char allow[64], msg[120];

	body_end(l->http, rq->track);
	if (rq->early_status) {
		allowed_methods(url, allow, sizeof(allow));
		return send_response(conn, &rq->early, rq->early_status == 405 ? allow : NULL,
				     rq->retry_after, rq->close);
	}
	if (rq->too_large) {
		snprintf(msg, sizeof(msg), "the request body is over this route's limit of %zu bytes",
			 rq->route->max_body);
		return send_error(conn, 413, "too_large", msg, NULL);
	}
	if (rq->stream) {
		void *st = rq->stream;

		rq->stream = NULL;
		rq->route->stream->close(st, true, &resp);
	} else {
		api_request(l, conn, rq, &areq);
		rq->route->handler(&areq, &resp);
	}
	if (!resp.status)
		sevd_api_error(&resp, 500, "internal", "the handler gave no answer", -1);
	return send_response(conn, &resp, NULL, 0, false);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct listener *l = cls;
	struct request *rq = *con_cls;
	enum MHD_Result ret = MHD_YES;
	bool bad_uri = rq == (void *)&uri_refused;

	if (!rq || bad_uri) {
		*con_cls = NULL;
		rq = request_start(l, conn, url, method, version, bad_uri, &ret);
		if (!rq)
			return ret;
		*con_cls = rq;
		/* Refuse before reading a body we would refuse anyway (also answers curl's
		 * "Expect: 100-continue" with the final status). */
		if (rq->early_status || rq->too_large)
			return request_finish(l, conn, rq, url);
		return MHD_YES;
	}
	if (*upload_data_size) {
		bool more;

		body_progress(l->http, rq->track, *upload_data_size);
		more = request_data(rq, upload_data, *upload_data_size);

		*upload_data_size = 0;
		return more ? MHD_YES : MHD_NO;
	}
	return request_finish(l, conn, rq, url);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct listener *l = cls;

	if (*con_cls != &uri_refused)
		request_free(*con_cls);
	*con_cls = NULL;
	body_end(l->http, conn_track_of(conn));
	/* A kept-alive connection gets the header deadline again for its next request. */
	track_deadline(l->http, conn, true);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("libmicrohttpd: %s", buf);
}

int sevd_http_new(struct sevd_core *core, const struct sevd_config *cfg, struct sevd_http **ret)
{
	struct sevd_http *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->core = core;
	h->cfg = cfg;
	h->tok_salted = RAND_bytes(h->tok_salt, sizeof(h->tok_salt)) == 1;
	if (cfg->admin_group) {
		char buf[4096];
		struct group gr, *res = NULL;

		if (getgrnam_r(cfg->admin_group, &gr, buf, sizeof(buf), &res) != 0 || !res) {
			free(h);
			log_error("admin_group '%s' does not exist: create it or fix sevd.conf",
				  cfg->admin_group);
			return -ENOENT;
		}
		h->admin_gid = res->gr_gid;
		h->have_admin_gid = true;
	}
	pthread_mutex_init(&h->track_lock, NULL);
	pthread_cond_init(&h->track_cond, NULL);
	pthread_mutex_init(&h->rate_lock, NULL);
	*ret = h;
	return 0;
}

/* libmicrohttpd's GnuTLS options for a TLS listener: certificate, key, TLS >= 1.2, and with
 * tls_client_ca a request for a client certificate (verified in tls.c; one without is
 * still served, as public or by bearer token). */
static int tls_options(struct sevd_http *h, struct MHD_OptionItem opts[5])
{
	unsigned n = 0;
	int r;

	if (!h->tls_loaded) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
			return log_error_errno(EOPNOTSUPP,
					       "This libmicrohttpd has no TLS support: install one "
					       "built with GnuTLS");
		r = sevd_tls_load(h->cfg, &h->tls);
		if (r < 0)
			return r;
		h->tls_loaded = true;
	}
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls.cert };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls.key };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
					     (void *)sevd_tls_priorities };
	if (h->tls.client_ca)
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0,
						     h->tls.client_ca };
	opts[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	return 0;
}

/* Record a listener; a TLS one loads the certificate and key now (sevd_http_start may run
 * after the worker has dropped the rights to read them). */
static int http_listen(struct sevd_http *h, int fd, bool is_unix, bool is_tls)
{
	struct MHD_OptionItem tls[5];
	int r;

	if (h->n >= SEVD_LISTENERS_MAX) {
		close(fd);
		return -E2BIG;
	}
	if (is_tls && (r = tls_options(h, tls)) < 0) {
		close(fd);
		return r;
	}
	h->l[h->n++] = (struct listener){ .http = h, .fd = fd, .is_unix = is_unix,
					  .is_tls = is_tls, .handoff = -1 };
	return 0;
}

int sevd_http_listen_handoff(struct sevd_http *h, int handoff)
{
	if (h->n >= SEVD_LISTENERS_MAX) {
		close(handoff);
		return -E2BIG;
	}
	h->l[h->n++] = (struct listener){ .http = h, .fd = -1, .is_unix = true,
					  .handoff = handoff };
	return 0;
}

/* One connection from the core: the message, exactly one fd. 0 (nothing taken: a malformed
 * message is dropped), 1 (*ret_fd, *ret_conn), or < 0 when the core is gone. */
static int handoff_recv(int sock, int *ret_fd, uint64_t *ret_conn)
{
	struct sevd_handoff_msg m;
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	int fds[4], nfd = 0;
	ssize_t k = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

	if (k < 0 && errno == EINTR)
		return 0;
	if (k <= 0)
		return k < 0 ? negative_errno() : -EPIPE;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int) && nfd < 4;
			     i++)
				memcpy(&fds[nfd++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
	if (k != (ssize_t)sizeof(m) || m.magic != SEVD_HANDOFF_MAGIC || !m.conn || nfd != 1 ||
	    (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		for (int i = 0; i < nfd; i++)
			close(fds[i]);
		log_warning("A malformed connection handoff from the core was dropped");
		return 0;
	}
	*ret_fd = fds[0];
	*ret_conn = m.conn;
	return 1;
}

/* Takes the core's Unix connections and gives them to libmicrohttpd until the core closes
 * the handoff (or sevd_http_free shuts it down). */
static void *taker_main(void *arg)
{
	struct listener *l = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t conn;
	int fd, keep, r;

	while ((r = handoff_recv(l->handoff, &fd, &conn)) >= 0) {
		if (r == 0)
			continue;
		/* MHD closes the fd when it refuses the connection (connection_limit): a copy is
		 * kept to shut it down then, or the core's reference would keep the client
		 * waiting. */
		keep = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		pending_put(fd, conn);
		if (MHD_add_connection(l->mhd, fd, (struct sockaddr *)&sa, sizeof(sa)) != MHD_YES) {
			(void)pending_take(fd);
			if (keep >= 0)
				(void)shutdown(keep, SHUT_RDWR);
		}
		if (keep >= 0)
			close(keep);
	}
	return NULL;
}

static int listener_start(struct sevd_http *h, struct listener *l)
{
	struct MHD_OptionItem tls[5] = { { MHD_OPTION_END, 0, NULL } };
	int r;

	if (l->is_tls && (r = tls_options(h, tls)) < 0)
		return r;
	if (l->handoff >= 0) {
		/* The core's Unix connections: no listening socket, each added as it comes. */
		l->mhd = MHD_start_daemon(
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
				MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC,
			0, NULL, NULL, on_request, l, MHD_OPTION_URI_LOG_CALLBACK, on_uri, l,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, l, MHD_OPTION_NOTIFY_CONNECTION,
			on_connection, l, MHD_OPTION_CONNECTION_LIMIT, h->cfg->connection_limit,
			MHD_OPTION_CONNECTION_TIMEOUT, h->cfg->connection_timeout_s,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SEVD_CONN_MEMORY,
			MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_END);
		if (!l->mhd)
			return log_error_errno(EIO, "Cannot start the HTTP server of the Unix "
						    "connections");
		r = pthread_create(&l->taker, NULL, taker_main, l);
		if (r != 0)
			return log_error_errno(r, "Cannot start the Unix connection thread: %m");
		l->taker_running = true;
		return 0;
	}
	/* A thread per connection: a request waiting for its firmware command blocks only its
	 * own thread, while the queue keeps firmware to one command at a time. */
	l->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			MHD_USE_ERROR_LOG | (l->is_tls ? MHD_USE_TLS : 0),
		0, NULL, NULL, on_request, l, MHD_OPTION_LISTEN_SOCKET, l->fd,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, l,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, l, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, l, MHD_OPTION_CONNECTION_LIMIT, h->cfg->connection_limit,
		/* MHD counts IPv4/IPv6 peers only: the Unix socket has just the overall limit. */
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, h->cfg->per_ip_connection_limit,
		MHD_OPTION_CONNECTION_TIMEOUT, h->cfg->connection_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SEVD_CONN_MEMORY,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		MHD_OPTION_ARRAY, tls, /* empty unless is_tls */
		MHD_OPTION_END);
	if (!l->mhd)
		return log_error_errno(EIO, "Cannot start the %s server on fd %d%s",
				       l->is_tls ? "HTTPS" : "HTTP", l->fd,
				       l->is_tls ? " (do tls_cert and tls_key match?)" : "");
	return 0;
}

int sevd_http_start(struct sevd_http *h)
{
	int r;

	if (h->cfg->header_timeout_s && !h->reaper_running) {
		r = pthread_create(&h->reaper, NULL, reaper_main, h);
		if (r != 0)
			return log_error_errno(r, "Cannot start the header-deadline thread: %m");
		h->reaper_running = true;
	}
	for (unsigned i = 0; i < h->n; i++)
		if (!h->l[i].mhd && (r = listener_start(h, &h->l[i])) < 0)
			return r;
	return 0;
}

int sevd_http_listen(struct sevd_http *h, int fd, bool is_unix)
{
	return http_listen(h, fd, is_unix, false);
}

int sevd_http_listen_tls(struct sevd_http *h, int fd)
{
	return http_listen(h, fd, false, true);
}

/* A socket systemd passed: Unix with peer credentials; TCP with TLS when tls_cert is set,
 * else plain only under the plain-TCP rule (sevd_plain_tcp_check). */
int sevd_http_listen_activated(struct sevd_http *h, int fd, bool is_unix, const char **ret_kind)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int r;

	*ret_kind = is_unix ? "unix" : h->cfg->tls_cert ? "tls" : "tcp";
	if (is_unix)
		return http_listen(h, fd, true, false);
	if (h->cfg->tls_cert)
		return http_listen(h, fd, false, true);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		r = log_error_errno(errno, "getsockname on fd %d: %m", fd);
	else
		r = sevd_plain_tcp_check(h->cfg, (struct sockaddr *)&ss, "a socket-activated fd");
	if (r < 0) {
		close(fd);
		return r;
	}
	return http_listen(h, fd, false, false);
}

void sevd_http_free(struct sevd_http *h)
{
	if (!h)
		return;
	/* MHD closes a listen socket it was handed when it stops; one never started is ours. */
	for (unsigned i = 0; i < h->n; i++) {
		struct listener *l = &h->l[i];

		if (l->taker_running) {
			(void)shutdown(l->handoff, SHUT_RDWR); /* ends its recvmsg */
			pthread_join(l->taker, NULL);
		}
		if (l->handoff >= 0)
			close(l->handoff);
		if (l->mhd)
			MHD_stop_daemon(l->mhd);
		else if (l->fd >= 0)
			close(l->fd);
	}
	if (h->reaper_running) {
		pthread_mutex_lock(&h->track_lock);
		h->stopping = true;
		pthread_cond_signal(&h->track_cond);
		pthread_mutex_unlock(&h->track_lock);
		pthread_join(h->reaper, NULL);
	}
	pthread_cond_destroy(&h->track_cond);
	pthread_mutex_destroy(&h->track_lock);
	pthread_mutex_destroy(&h->rate_lock);
	sevd_tls_done(&h->tls);
	free(h);
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error_errno(ENAMETOOLONG, "Socket path %s is too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(errno, "socket(AF_UNIX): %m");
	(void)unlink(path); /* a stale socket from an earlier run */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return log_error_errno(errno, "Cannot bind %s: %m", path);
	/* Everyone may connect: the peer's credentials decide what it may do. */
	if (chmod(path, 0666) < 0)
		return log_error_errno(errno, "Cannot chmod %s: %m", path);
	if (listen(fd, SEVD_BACKLOG) < 0)
		return log_error_errno(errno, "Cannot listen on %s: %m", path);
	return TAKE_FD(fd);
}

/* "tcp:ADDR:PORT", "tls:[V6ADDR]:PORT"...; plain (plain_cfg set) only where
 * sevd_plain_tcp_check allows. */
static int listen_tcp(const char *spec, const struct sevd_config *plain_cfg)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	_cleanup_free_ char *host = strdup(spec + 4); /* after "tcp:" or "tls:" */
	struct addrinfo *ai = NULL;
	char *port, *h;
	int fd, one = 1, r;

	if (!host)
		return -ENOMEM;
	port = strrchr(host, ':');
	if (!port || port == host)
		return log_error_errno(EINVAL, "Listen address %s: expected ADDR:PORT", spec);
	*port++ = '\0';
	h = host;
	if (h[0] == '[' && h[strlen(h) - 1] == ']') {
		h[strlen(h) - 1] = '\0';
		h++;
	}
	r = getaddrinfo(h, port, &hints, &ai);
	if (r != 0)
		return log_error_errno(EINVAL, "Listen address %s: %s", spec, gai_strerror(r));
	if (plain_cfg && (r = sevd_plain_tcp_check(plain_cfg, ai->ai_addr, spec)) < 0) {
		freeaddrinfo(ai);
		return r;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return log_error_errno(errno, "socket(): %m");
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SEVD_BACKLOG) < 0) {
		r = negative_errno();
		freeaddrinfo(ai);
		close(fd);
		return log_error_errno(r, "Cannot listen on %s: %m", spec);
	}
	freeaddrinfo(ai);
	return fd;
}

int sevd_listen_socket(const struct sevd_config *cfg, const char *spec, bool *ret_is_unix,
		       bool *ret_is_tls)
{
	*ret_is_unix = *ret_is_tls = false;
	if (strncmp(spec, "unix:", 5) == 0) {
		*ret_is_unix = true;
		return listen_unix(spec + 5);
	}
	if (strncmp(spec, "tls:", 4) == 0) {
		*ret_is_tls = true;
		return listen_tcp(spec, NULL);
	}
	if (strncmp(spec, "tcp:", 4) == 0)
		return listen_tcp(spec, cfg);
	return log_error_errno(EINVAL, "Listen address '%s': expected unix:PATH, tls:ADDR:PORT or "
				       "tcp:ADDR:PORT", spec);
}
