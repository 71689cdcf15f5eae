/* A stand-in for AMD's Key Distribution Service, for tests: libmicrohttpd on 127.0.0.1 (port
 * chosen by the kernel), serving files at exact request targets and 404 for anything else.
 *   kds-server PORT_FILE LOG_FILE TARGET=FILE...
 * TARGET is the path with its query as a client sends it ("/vcek/v1/Milan/ab..?blSPL=3&...").
 * Answers carry the media type AMD's KDS gives: application/pkix-crl for a .../crl target (the
 * ARK's revocation list, DER), application/x-pem-file for cert_chain, else
 * application/octet-stream (a DER certificate).
 * Every request is appended to LOG_FILE as one line "GET TARGET", so a test can assert the URL
 * asked for and count the requests (a cache hit makes none). Runs until SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

struct route {
	const char *target;
	uint8_t *body;
	size_t len;
};

static struct route *routes;
static size_t n_routes;
static int log_fd = -1;

struct query {
	char buf[2048];
	size_t len;
};

/* Rebuild "?k=v&k=v" in the order the client sent the arguments. */
static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct query *q = cls;
	int n = snprintf(q->buf + q->len, sizeof q->buf - q->len, "%c%s%s%s", q->len ? '&' : '?',
			 key, value ? "=" : "", value ? value : "");

	if (n > 0 && (size_t)n < sizeof q->buf - q->len)
		q->len += (size_t)n;
	return MHD_YES;
}

static const char *media_type(const char *target)
{
	const char *q = strchr(target, '?');
	size_t n = q ? (size_t)(q - target) : strlen(target);

	if (n >= 4 && memcmp(target + n - 4, "/crl", 4) == 0)
		return "application/pkix-crl";
	if (n >= 11 && memcmp(target + n - 11, "/cert_chain", 11) == 0)
		return "application/x-pem-file";
	return "application/octet-stream";
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const void *body,
			     size_t len, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	if (type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct query q = { .len = 0 };
	char target[4096], line[4200];
	int n;

	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, &q);
	snprintf(target, sizeof target, "%s%.*s", url, (int)q.len, q.buf);
	n = snprintf(line, sizeof line, "%s %s\n", method, target);
	if (n > 0)
		(void)!write(log_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	if (strcmp(method, "GET") != 0)
		return reply(conn, 405, "method not allowed\n", 19, NULL);
	for (size_t i = 0; i < n_routes; i++)
		if (strcmp(routes[i].target, target) == 0)
			return reply(conn, 200, routes[i].body, routes[i].len,
				     media_type(target));
	return reply(conn, 404, "Not Found\n", 10, NULL);
}

static int load_routes(int argc, char **argv)
{
	routes = calloc((size_t)argc, sizeof *routes);
	if (!routes)
		return -ENOMEM;
	for (int i = 0; i < argc; i++) {
		char *eq = strrchr(argv[i], '='); /* targets hold "=", paths do not */
		int r;

		if (!eq || eq == argv[i]) {
			fprintf(stderr, "kds-server: bad route '%s' (TARGET=FILE)\n", argv[i]);
			return -EINVAL;
		}
		*eq = 0;
		routes[n_routes].target = argv[i];
		r = read_full_file(eq + 1, 1 << 20, &routes[n_routes].body, &routes[n_routes].len);
		if (r < 0) {
			fprintf(stderr, "kds-server: cannot read %s: %s\n", eq + 1, strerror(-r));
			return r;
		}
		n_routes++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = 0 };
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	char port[16];
	sigset_t set;
	int sig;

	/* Die with the test that started us, even when it fails half-way. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() == 1)
		return 1;
	if (argc < 3) {
		fprintf(stderr, "usage: kds-server PORT_FILE LOG_FILE TARGET=FILE...\n");
		return 2;
	}
	if (load_routes(argc - 3, argv + 3) < 0)
		return 1;
	log_fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		perror("kds-server: log file");
		return 1;
	}
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* before MHD's thread starts: it inherits */
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
			     handle, NULL, MHD_OPTION_SOCK_ADDR, &sin, MHD_OPTION_END);
	info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
	if (!info) {
		fprintf(stderr, "kds-server: cannot listen on 127.0.0.1\n");
		return 1;
	}
	snprintf(port, sizeof port, "%u", (unsigned)info->port);
	if (write_file_atomic(argv[1], port, strlen(port), 0644) < 0) {
		perror("kds-server: port file");
		return 1;
	}
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	for (size_t i = 0; i < n_routes; i++)
		free(routes[i].body);
	free(routes);
	close(log_fd);
	return 0;
}
