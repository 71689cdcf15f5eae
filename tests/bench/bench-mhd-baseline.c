/* bench-mhd-baseline: the REST benchmark's baseline — the least a libmicrohttpd server can do
 * per request, with the threading model of sevd (daemon/worker/http.c: one MHD daemon per listen
 * socket, an internal polling thread and a thread per connection, the same connection limit
 * and timeout). It answers every GET with a fixed JSON body of the size and headers of
 * sevd's GET /v1/platform answer; no routing, no auth, no firmware. sevd / this = the share of
 * the HTTP library's speed that sevd keeps. Listens on loopback TCP and a Unix socket only;
 * runs until SIGTERM/SIGINT. Trusts nobody and reads nothing but the request line. */
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Same as daemon/worker/http.c. */
#define CONNECTIONS_MAX 512
#define CONN_TIMEOUT_S 60

/* The shape and size of sevd's GET /v1/platform answer on the emulator. */
static const char body[] =
    "{\"api_major\":1,\"api_minor\":55,\"build\":21,\"state\":\"INIT\",\"owner\":\"self\","
    "\"es\":true,\"guest_count\":0,\"flags\":256,\"transport\":\"emu\",\"asids\":{\"max\":509,"
    "\"min_sev\":100,\"es_range\":[1,99],\"sev_range\":[100,509]}}";

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;

	if (!*con_cls) { /* first call: headers only, as sevd's request_start */
		*con_cls = conn;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	mr =
	    MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!mr)
		return MHD_NO;
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(mr, "Cache-Control", "no-store");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, mr);
	MHD_destroy_response(mr);
	return ret;
}

static struct MHD_Daemon *start(int fd)
{
	return MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0,
	    NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
	    MHD_OPTION_END);
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	(void)unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
		return -errno;
	return fd;
}

/* Loopback only: the benchmark never listens beyond this machine. */
static int listen_tcp(unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0)
		return -errno;
	return fd;
}

int main(int argc, char **argv)
{
	const char *unix_path = NULL;
	unsigned port = 0;
	struct MHD_Daemon *d[2] = {};
	sigset_t set;
	int sig, c, fd;

	while ((c = getopt(argc, argv, "u:p:h")) >= 0) {
		if (c == 'u')
			unix_path = optarg;
		else if (c == 'p')
			port = (unsigned)strtoul(optarg, NULL, 10);
		else {
			printf("Usage: bench-mhd-baseline -u UNIX_PATH -p TCP_PORT (127.0.0.1)\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!unix_path || !port || port > 65535) {
		fprintf(stderr, "bench-mhd-baseline: need -u UNIX_PATH and -p PORT\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* MHD's threads inherit the mask */
	fd = listen_unix(unix_path);
	if (fd < 0 || !(d[0] = start(fd))) {
		fprintf(stderr, "bench-mhd-baseline: cannot serve %s: %s\n", unix_path,
			strerror(fd < 0 ? -fd : EIO));
		return 1;
	}
	fd = listen_tcp(port);
	if (fd < 0 || !(d[1] = start(fd))) {
		fprintf(stderr, "bench-mhd-baseline: cannot serve 127.0.0.1:%u: %s\n", port,
			strerror(fd < 0 ? -fd : EIO));
		MHD_stop_daemon(d[0]);
		return 1;
	}
	fprintf(stderr, "bench-mhd-baseline: serving %s and 127.0.0.1:%u\n", unix_path, port);
	sigwait(&set, &sig);
	MHD_stop_daemon(d[1]);
	MHD_stop_daemon(d[0]);
	(void)unlink(unix_path);
	return 0;
}
