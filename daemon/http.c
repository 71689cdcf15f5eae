/* The HTTP front over libmicrohttpd. Per request: find the route (404/405), decide the role
 * (Unix peer credentials or bearer token), check it (401/403), collect the body under the
 * route's limit (413), call the handler, send its answer. */
#include <errno.h>
#include <grp.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "common/log.h"
#include "common/macros.h"
#include "daemon/api.h"
#include "daemon/auth.h"
#include "daemon/sevd-config.h"
#include "daemon/http.h"

#define SEVD_LISTENERS_MAX 16
#define SEVD_CONNECTIONS_MAX 512
#define SEVD_CONN_TIMEOUT_S 60

struct listener {
	struct sevd_http *http;
	struct MHD_Daemon *mhd;
	int fd;
	bool is_unix;
};

struct sevd_http {
	struct sevd_core *core;
	const struct sevd_config *cfg;
	gid_t admin_gid;
	bool have_admin_gid;
	struct listener l[SEVD_LISTENERS_MAX];
	unsigned n;
};

/* Per-request state, kept in MHD's con_cls between the calls of one request. */
struct request {
	const struct sevd_route *route;
	enum sevd_role role;
	char param[64];
	char *body;
	size_t len;
	bool too_large;
	unsigned early_status; /* an answer decided before the body arrived */
	struct sevd_api_response early;
};

static enum MHD_Result send_response(struct MHD_Connection *conn, struct sevd_api_response *r,
				     const char *allow)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;

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
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	MHD_add_response_header(mr, "Cache-Control", "no-store");
	if (allow)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, allow);
	if (r->status == 401)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"sevd\"");
	ret = MHD_queue_response(conn, r->status, mr);
	MHD_destroy_response(mr);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *code,
				  const char *message, const char *allow)
{
	struct sevd_api_response r = { 0 };

	sevd_api_error(&r, status, code, message, -1);
	return send_response(conn, &r, allow);
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

/* The caller's role; *bad_token when a bearer token was given but matches no configured hash
 * (answered 401 whatever the route). */
static enum sevd_role caller_role(struct listener *l, struct MHD_Connection *conn, bool *bad_token)
{
	const union MHD_ConnectionInfo *ci;
	const char *auth;
	bool known;
	enum sevd_role role;

	*bad_token = false;
	if (l->is_unix) {
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!ci)
			return SEVD_ROLE_PUBLIC;
		return sevd_auth_unix_peer(ci->connect_fd, l->http->admin_gid,
					   l->http->have_admin_gid);
	}
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!auth)
		return SEVD_ROLE_PUBLIC;
	if (strncasecmp(auth, "Bearer ", 7) != 0) {
		*bad_token = true;
		return SEVD_ROLE_PUBLIC;
	}
	role = sevd_auth_token(l->http->cfg, auth + 7, &known);
	*bad_token = !known;
	return role;
}

/* First call of a request: route, role, early refusals. Returns the request state or NULL
 * after queueing an error answer in *ret. */
static struct request *request_start(struct listener *l, struct MHD_Connection *conn,
				     const char *url, const char *method, enum MHD_Result *ret)
{
	struct request *rq = calloc(1, sizeof(*rq));
	const char *clen;
	bool path_known, bad_token;
	char allow[64];

	if (!rq) {
		*ret = MHD_NO;
		return NULL;
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
	rq->role = caller_role(l, conn, &bad_token);
	if (bad_token || !sevd_route_allows(rq->route, rq->role)) {
		bool anon = !l->is_unix && (bad_token || rq->role == SEVD_ROLE_PUBLIC);
		char msg[200];

		snprintf(msg, sizeof(msg),
			 bad_token ? "the bearer token is not valid for this daemon"
			 : anon	   ? "%s %s needs credentials: send 'Authorization: Bearer <token>'"
				   : "%s %s is not allowed for the role '%s'",
			 method, rq->route->path, sevd_role_name(rq->role));
		rq->early_status = anon ? 401 : 403;
		sevd_api_error(&rq->early, rq->early_status, anon ? "unauthorized" : "forbidden",
			       msg, -1);
		return rq;
	}
	clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (clen && strtoull(clen, NULL, 10) > rq->route->max_body)
		rq->too_large = true;
	return rq;
}

static void request_free(struct request *rq)
{
	if (!rq)
		return;
	free(rq->body);
	free(rq->early.body);
	free(rq);
}

/* Collect body bytes under the route's limit; beyond it, drop them and answer 413 at the end. */
static void request_data(struct request *rq, const char *data, size_t size)
{
	char *nb;

	if (rq->early_status || rq->too_large)
		return;
	if (!rq->route || size > rq->route->max_body - rq->len) {
		rq->too_large = true;
		return;
	}
	nb = realloc(rq->body, rq->len + size + 1);
	if (!nb) {
		rq->too_large = true;
		return;
	}
	memcpy(nb + rq->len, data, size);
	rq->len += size;
	nb[rq->len] = '\0';
	rq->body = nb;
}

static enum MHD_Result request_finish(struct listener *l, struct MHD_Connection *conn,
				      struct request *rq, const char *url)
{
	struct sevd_api_response resp = { 0 };
	struct sevd_api_request areq = { 0 };
	char allow[64], msg[120];

	if (rq->early_status) {
		allowed_methods(url, allow, sizeof(allow));
		return send_response(conn, &rq->early, rq->early_status == 405 ? allow : NULL);
	}
	if (rq->too_large) {
		snprintf(msg, sizeof(msg), "the request body is over this route's limit of %zu bytes",
			 rq->route->max_body);
		return send_error(conn, 413, "too_large", msg, NULL);
	}
	areq.core = l->http->core;
	areq.role = rq->role;
	areq.body = rq->body ? rq->body : "";
	areq.len = rq->len;
	areq.param = rq->param;
	rq->route->handler(&areq, &resp);
	if (!resp.status)
		sevd_api_error(&resp, 500, "internal", "the handler gave no answer", -1);
	return send_response(conn, &resp, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct listener *l = cls;
	struct request *rq = *con_cls;
	enum MHD_Result ret = MHD_YES;

	if (!rq) {
		rq = request_start(l, conn, url, method, &ret);
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
		request_data(rq, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	return request_finish(l, conn, rq, url);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	request_free(*con_cls);
	*con_cls = NULL;
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
	*ret = h;
	return 0;
}

int sevd_http_listen(struct sevd_http *h, int fd, bool is_unix)
{
	struct listener *l;

	if (h->n >= SEVD_LISTENERS_MAX) {
		close(fd);
		return -E2BIG;
	}
	l = &h->l[h->n];
	*l = (struct listener){ .http = h, .fd = fd, .is_unix = is_unix };
	/* A thread per connection: a request waiting for its firmware command blocks only its
	 * own thread, while the queue keeps firmware to one command at a time. */
	l->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, l, MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)SEVD_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)SEVD_CONN_TIMEOUT_S, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		MHD_OPTION_END);
	if (!l->mhd) {
		close(fd);
		return log_error_errno(EIO, "Cannot start the HTTP server on fd %d", fd);
	}
	h->n++;
	return 0;
}

void sevd_http_free(struct sevd_http *h)
{
	if (!h)
		return;
	/* MHD closes a listen socket it was handed when it stops. */
	for (unsigned i = 0; i < h->n; i++)
		MHD_stop_daemon(h->l[i].mhd);
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
	if (listen(fd, 128) < 0)
		return log_error_errno(errno, "Cannot listen on %s: %m", path);
	return TAKE_FD(fd);
}

/* "ADDR:PORT" or "[V6ADDR]:PORT". */
static int listen_tcp(const char *spec)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	_cleanup_free_ char *host = strdup(spec);
	struct addrinfo *ai = NULL;
	char *port, *h;
	int fd, one = 1, r;

	if (!host)
		return -ENOMEM;
	port = strrchr(host, ':');
	if (!port || port == host)
		return log_error_errno(EINVAL, "Listen address tcp:%s: expected ADDR:PORT", spec);
	*port++ = '\0';
	h = host;
	if (h[0] == '[' && h[strlen(h) - 1] == ']') {
		h[strlen(h) - 1] = '\0';
		h++;
	}
	r = getaddrinfo(h, port, &hints, &ai);
	if (r != 0)
		return log_error_errno(EINVAL, "Listen address tcp:%s: %s", spec, gai_strerror(r));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return log_error_errno(errno, "socket(): %m");
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		r = negative_errno();
		freeaddrinfo(ai);
		close(fd);
		return log_error_errno(r, "Cannot listen on tcp:%s: %m", spec);
	}
	freeaddrinfo(ai);
	return fd;
}

int sevd_listen_socket(const char *spec, bool *ret_is_unix)
{
	if (strncmp(spec, "unix:", 5) == 0) {
		*ret_is_unix = true;
		return listen_unix(spec + 5);
	}
	if (strncmp(spec, "tcp:", 4) == 0) {
		*ret_is_unix = false;
		return listen_tcp(spec + 4);
	}
	return log_error_errno(EINVAL, "Listen address '%s': expected unix:PATH or tcp:ADDR:PORT",
			       spec);
}
