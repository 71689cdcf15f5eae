/* The real sevadm binary against a daemon that misbehaves: answers that are not JSON, fields of
 * the wrong type, terminal escape sequences in strings, malformed certificates, broken chains,
 * ASID counts that do not add up, oversized and truncated answers. The real sevd never sends
 * these, so a small loopback server in this test plays the daemon, answering by route. What is
 * checked is what the operator sees: exit status, a message naming the problem, no escape
 * byte on the terminal, no file left behind. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <json-c/json.h>

#include "common/macros.h"
#include "common/util.h"
#include "tests/testutil.h"

struct route {
	const char *method_path; /* "GET /v1/platform" */
	const char *status_line; /* "200 OK" */
	const char *body;
};

struct fake {
	int lfd;
	const struct route *routes;
	size_t n_routes;
	pthread_t thread;
	char seen[4096]; /* request lines served, one per line */
};

static const char *sevadm;
static char *dir, endpoint[256];

static void serve_one(struct fake *f, int fd)
{
	char req[65536];
	size_t len = 0;
	char *end;

	while (len < sizeof(req) - 1) {
		ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);
		if (n <= 0)
			return;
		len += (size_t)n;
		req[len] = 0;
		if ((end = strstr(req, "\r\n\r\n"))) {
			char *cl = strcasestr(req, "Content-Length: ");
			if (!cl || cl > end || len >= (size_t)(end + 4 - req) + strtoul(cl + 16, NULL, 10))
				break;
		}
	}
	char *sp = strstr(req, " HTTP/1.1\r\n");
	TU_CHECK(sp, "request line: %s", req);
	*sp = 0;
	snprintf(f->seen + strlen(f->seen), sizeof(f->seen) - strlen(f->seen), "%s\n", req);
	const struct route *r = NULL;
	for (size_t i = 0; i < f->n_routes; i++)
		if (strcmp(f->routes[i].method_path, req) == 0)
			r = &f->routes[i];
	_cleanup_free_ char *answer = NULL;
	static const char not_found[] =
		"{\"error\":{\"code\":\"not_found\",\"message\":\"no route\",\"fw_status\":null}}";
	if (!r)
		TU_CHECK(asprintf(&answer, "HTTP/1.1 404 Not Found\r\nContent-Length: %zu\r\n\r\n%s",
				  strlen(not_found), not_found) > 0, "asprintf");
	else if (strncmp(r->status_line, "RAW", 3) == 0)
		answer = strdup(r->body); /* the whole answer, as is */
	else
		TU_CHECK(asprintf(&answer, "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
					   "Content-Length: %zu\r\n\r\n%s", r->status_line,
				  strlen(r->body), r->body) > 0, "asprintf");
	(void)loop_write(fd, answer, strlen(answer));
}

static void *serve(void *userdata)
{
	struct fake *f = userdata;

	for (;;) {
		int fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			return NULL; /* shut down */
		serve_one(f, fd);
		close(fd);
	}
}

static void fake_start(struct fake *f, const struct route *routes, size_t n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_free_ char *path = path_join(dir, "fake.sock");

	memset(f, 0, sizeof(*f));
	unlink(path);
	strcpy(sa.sun_path, path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	TU_CHECK(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(f->lfd, 8) == 0,
		 "listen on %s: %m", path);
	f->routes = routes;
	f->n_routes = n;
	snprintf(endpoint, sizeof(endpoint), "unix:%s", path);
	TU_CHECK(pthread_create(&f->thread, NULL, serve, f) == 0, "thread");
}

static void fake_stop(struct fake *f)
{
	shutdown(f->lfd, SHUT_RDWR);
	pthread_join(f->thread, NULL);
	close(f->lfd);
}

struct run {
	int rc;
	char out[65536], err[65536];
};

static void slurp_into(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? loop_read(fd, buf, cap - 1) : 0;

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/* sevadm --daemon <fake> ARGS..., stdin /dev/null, bounded. */
static void cli(struct run *r, const char *const *args)
{
	_cleanup_free_ char *o = path_join(dir, "out"), *e = path_join(dir, "err");
	const char *argv[32] = { sevadm, "--daemon", endpoint };
	int n = 3, status;

	for (size_t i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	TU_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY), fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0600),
		    fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(in, 0);
		dup2(fo, 1);
		dup2(fe, 2);
		execv(sevadm, (char *const *)argv);
		_exit(127);
	}
	for (int waited = 0; waitpid(pid, &status, WNOHANG) == 0; waited += 10) {
		if (waited > 60000) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			TU_CHECK(false, "sevadm %s hung", args[0]);
		}
		usleep(10000);
	}
	TU_CHECK(WIFEXITED(status), "sevadm %s died by signal %d", args[0], WTERMSIG(status));
	r->rc = WEXITSTATUS(status);
	slurp_into(o, r->out, sizeof(r->out));
	slurp_into(e, r->err, sizeof(r->err));
	/* Whatever the daemon sent, no escape byte reaches the operator's terminal. */
	TU_CHECK(!strchr(r->out, 0x1b) && !strchr(r->err, 0x1b), "escape byte printed: %s %s",
		 r->out, r->err);
}

#define CLI(r, ...) cli((r), (const char *const[]){ __VA_ARGS__, NULL })

static void expect(const struct run *r, int rc, const char *out_has, const char *err_has, int line)
{
	TU_CHECK(r->rc == rc, "line %d: exit %d, expected %d: %s %s", line, r->rc, rc, r->out, r->err);
	if (out_has)
		TU_CHECK(strstr(r->out, out_has), "line %d: stdout lacks '%s': %s", line, out_has, r->out);
	if (err_has)
		TU_CHECK(strstr(r->err, err_has), "line %d: stderr lacks '%s': %s", line, err_has, r->err);
}
#define EXPECT(r, rc, o, e) expect((r), (rc), (o), (e), __LINE__)

static const char platform_ok[] =
	"{\"api_major\":1,\"api_minor\":55,\"build\":21,\"state\":\"INIT\",\"owner\":\"self\","
	"\"es\":true,\"guest_count\":0,\"flags\":256,\"transport\":\"emu\",\"asids\":{\"max\":15,"
	"\"min_sev\":5,\"es_range\":[1,4],\"sev_range\":[5,15]}}";

static void test_not_json(void)
{
	static const struct route routes[] = {
		{ "GET /v1/platform", "200 OK", "<html>hello</html>" },
		{ "GET /v1/asids", "200 OK", "[1,2,3]" },
		{ "GET /v1/guests", "200 OK", "{\"guests\": [1,2] trailing" },
	};
	struct fake f;
	struct run r;

	fake_start(&f, routes, ELEMENTSOF(routes));
	CLI(&r, "show", "platform");
	EXPECT(&r, 1, NULL, "sevd sent an answer that is not JSON (HTTP 200)");
	CLI(&r, "show", "asids");
	EXPECT(&r, 1, NULL, "something other than a JSON object");
	CLI(&r, "--json", "show", "guests");
	EXPECT(&r, 1, NULL, "not JSON");
	fake_stop(&f);
}

static void test_escapes_and_types(void)
{
	static const struct route routes[] = {
		{ "GET /v1/platform", "200 OK",
		  "{\"api_major\":\"one\",\"state\":\"\\u001b[2J\\u001b]0;pwned\\u0007\",\"owner\":7,"
		  "\"extra\":\"dropped\",\"asids\":{\"max\":15,\"min_sev\":5,\"junk\":1}}" },
		{ "POST /v1/platform/pdh", "409 Conflict",
		  "{\"error\":{\"code\":\"wrong_state\",\"message\":\"PDH_GEN \\u001b[31mrefused\","
		  "\"fw_status\":\"INVALID_PLATFORM_STATE\"}}" },
		{ "GET /v1/guests", "200 OK",
		  "{\"guests\":[{\"handle\":1,\"name\":\"\\u001b[1mevil\",\"state\":\"RUNNING\","
		  "\"policy\":1,\"asid\":3}]}" },
	};
	struct fake f;
	struct run r;

	fake_start(&f, routes, ELEMENTSOF(routes));
	CLI(&r, "show", "platform");
	EXPECT(&r, 0, "state            ?", NULL);
	CLI(&r, "--json", "show", "platform");
	EXPECT(&r, 0, NULL, NULL);
	json_object *j = json_tokener_parse(r.out), *v = NULL;
	TU_CHECK(j, "--json output: %s", r.out);
	TU_CHECK(!json_object_object_get_ex(j, "extra", NULL), "unknown field passed through");
	TU_CHECK(json_object_object_get_ex(j, "build", &v) && v == NULL, "missing field not null");
	TU_CHECK(json_object_object_get_ex(j, "asids", &v) &&
			 !json_object_object_get_ex(v, "junk", NULL) &&
			 json_object_object_get_ex(v, "es_range", NULL),
		 "asids reshaped: %s", r.out);
	json_object_put(j);

	/* rotate: the platform is INIT per GET, then firmware refuses; status by name. */
	CLI(&r, "rotate");
	EXPECT(&r, 1, NULL, "sevadm: rotate: PDH_GEN ?[31mrefused (firmware status INVALID_PLATFORM_STATE)");
	TU_CHECK(strstr(f.seen, "GET /v1/platform\nPOST /v1/platform/pdh\n"), "requests: %s", f.seen);

	CLI(&r, "show", "guests");
	EXPECT(&r, 0, "RUNNING", NULL);
	TU_CHECK(!strstr(r.out, "evil"), "a name with escapes printed: %s", r.out);
	fake_stop(&f);
}

/* Certificates: the JSON is fine, the bytes are not. Nothing may be written. */
static void test_bad_certs(void)
{
	static const struct route routes[] = {
		{ "GET /v1/platform/certs", "200 OK",
		  "{\"pdh\":\"AAAA\",\"pek\":\"AAAA\",\"oca\":\"AAAA\",\"cek\":\"AAAA\",\"ask\":null,"
		  "\"ark\":null}" },
		{ "GET /v1/platform/pek-csr", "200 OK", "{\"pek_csr\":\"not base64!\"}" },
		{ "GET /v1/platform", "200 OK", platform_ok },
		{ "GET /healthz", "200 OK", "{\"status\":\"ok\",\"transport\":\"emu\",\"queue_depth\":0}" },
	};
	_cleanup_free_ char *out = path_join(dir, "export"), *csr = path_join(dir, "csr");
	struct fake f;
	struct run r;

	fake_start(&f, routes, ELEMENTSOF(routes));
	CLI(&r, "export", "--full", out);
	EXPECT(&r, 1, NULL, "sevd sent a malformed pdh certificate");
	TU_CHECK(access(out, F_OK) != 0, "export created %s", out);
	CLI(&r, "export", out);
	EXPECT(&r, 1, NULL, "malformed pdh");
	TU_CHECK(access(out, F_OK) != 0, "export created %s", out);
	CLI(&r, "generate", csr);
	EXPECT(&r, 1, NULL, "no valid base64 'pek_csr'");
	TU_CHECK(access(csr, F_OK) != 0, "generate created %s", csr);
	CLI(&r, "ok");
	EXPECT(&r, 1, "[ FAIL ] certificate chain", "malformed pdh");
	TU_CHECK(strstr(r.out, "[ PASS ] platform state: INIT") &&
			 strstr(r.out, "[ FAIL ] ASID pool: cannot read it: no route (HTTP 404)"),
		 "other checks: %s", r.out);
	fake_stop(&f);
}

/* ASID counts that do not add up, and a holder outside the range. */
static void test_bad_asids(void)
{
	static const struct route routes[] = {
		{ "GET /healthz", "200 OK", "{\"status\":\"ok\",\"transport\":\"emu\",\"queue_depth\":0}" },
		{ "GET /v1/platform", "200 OK", platform_ok },
		{ "GET /v1/asids", "200 OK",
		  "{\"max\":15,\"min_sev\":5,\"used\":1,\"free\":15,\"flush_pending\":0,"
		  "\"es\":{\"total\":4},\"sev\":{\"total\":11},\"holders\":[]}" },
	};
	struct fake f;
	struct run r;

	fake_start(&f, routes, ELEMENTSOF(routes));
	CLI(&r, "ok");
	EXPECT(&r, 1, "[ PASS ] daemon reachable", NULL);
	TU_CHECK(strstr(r.out, "[ PASS ] SEV: ASIDs 5..15") && strstr(r.out, "[ PASS ] SEV-ES: ASIDs 1..4"),
		 "cpuid checks: %s", r.out);
	TU_CHECK(strstr(r.out, "[ FAIL ] ASID pool: used 1 + free 15 + flush-pending 0 != 15 ASIDs"),
		 "asid arithmetic: %s", r.out);
	fake_stop(&f);
}

static void test_transport_limits(void)
{
	static const struct route routes[] = {
		{ "GET /v1/platform", "RAW", "HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n{}" },
		{ "GET /v1/asids", "RAW", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"max\":" },
		{ "GET /v1/guests", "RAW", "\x1b]0;pwned\x07garbage\r\n\r\n" },
	};
	struct fake f;
	struct run r;

	fake_start(&f, routes, ELEMENTSOF(routes));
	CLI(&r, "show", "platform");
	EXPECT(&r, 1, NULL, "is larger than");
	CLI(&r, "show", "asids");
	EXPECT(&r, 1, NULL, "was cut short");
	CLI(&r, "show", "guests");
	EXPECT(&r, 1, NULL, "did not answer in HTTP/1.1");
	fake_stop(&f);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!getenv("SEVADM_EXE"))
		tu_skip("SEVADM_EXE not set: sevadm is not built");
	sevadm = tu_exe("SEVADM_EXE");
	dir = tu_mkdtemp();
	test_not_json();
	test_escapes_and_types();
	test_bad_certs();
	test_bad_asids();
	test_transport_limits();
	tu_rmtree(dir);
	free(dir);
	tu_done("test-cli-core-hostile");
}
