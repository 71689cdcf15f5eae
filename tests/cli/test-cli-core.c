/* sevadm as an operator runs it: the real sevadm binary against the real sevd and the real
 * sev-psp-emu (separate processes, loopback only), over the Unix socket and over TCP with
 * bearer tokens. Every core verb's success path (ok, show, export, generate, provision,
 * rotate, reset), its --help, its usage errors (exit 2) and its failures (exit 1 with a
 * message naming what and why): daemon down, missing or wrong token, firmware refusals shown
 * by status name, files that exist. --json output is parsed and its shape checked. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "attest/sev-cert.h"
#include "common/macros.h"
#include "common/util.h"
#include "tests/testutil.h"

static const char *sevadm;
static char *dir;
static const char *d_unix_ep; /* the daemon's unix:PATH once it runs */

/* The output of one sevadm run. */
struct run {
	int rc;
	char *out, *err;
};

static void run_clear(struct run *r)
{
	free(r->out);
	free(r->err);
	*r = (struct run){};
}

static char *slurp(const char *path)
{
	size_t len = 0;
	uint8_t *b = tu_read_file(path, &len);
	char *s = realloc(b, len + 1);

	TU_CHECK(s, "out of memory");
	s[len] = 0;
	return s;
}

/* Run sevadm with the NULL-terminated arguments; stdin is /dev/null; bounded to 60 s. */
static struct run cli_argv(const char *const *args)
{
	_cleanup_free_ char *outp = path_join(dir, "cli.out"), *errp = path_join(dir, "cli.err");
	const char *argv[64] = { sevadm };
	struct run r = {};
	int status = 0, n = 1;
	pid_t pid;

	for (; args[n - 1] && n < 63; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	pid = fork();
	TU_CHECK(pid >= 0, "fork: %m");
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY), o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600),
		    e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(in, 0);
		dup2(o, 1);
		dup2(e, 2);
		execv(sevadm, (char *const *)argv);
		_exit(127);
	}
	for (int waited = 0; waitpid(pid, &status, WNOHANG) == 0; waited += 10) {
		if (waited > 60000) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			TU_CHECK(false, "sevadm %s did not finish within 60 s", args[0]);
		}
		usleep(10000);
	}
	TU_CHECK(WIFEXITED(status), "sevadm %s died by signal %d", args[0], WTERMSIG(status));
	r.rc = WEXITSTATUS(status);
	r.out = slurp(outp);
	r.err = slurp(errp);
	return r;
}

#define CLI(...) cli_argv((const char *const[]){ __VA_ARGS__, NULL })

/* Assert exit code and that stdout/stderr contain the given text (NULL: not checked). */
static void expect(const struct run *r, int code, const char *out_has, const char *err_has,
		   int line)
{
	TU_CHECK(r->rc == code, "line %d: exit %d, expected %d; stdout: %s; stderr: %s", line, r->rc,
		 code, r->out, r->err);
	if (out_has)
		TU_CHECK(strstr(r->out, out_has), "line %d: stdout lacks '%s': %s", line, out_has,
			 r->out);
	if (err_has)
		TU_CHECK(strstr(r->err, err_has), "line %d: stderr lacks '%s': %s", line, err_has,
			 r->err);
}
#define EXPECT(r, code, out_has, err_has) expect(&(r), (code), (out_has), (err_has), __LINE__)

static json_object *parse_json(const struct run *r)
{
	json_object *j = json_tokener_parse(r->out);

	TU_CHECK(j && json_object_is_type(j, json_type_object), "--json output is no JSON object: %s",
		 r->out);
	return j;
}

static json_object *get(json_object *o, const char *key, json_type type)
{
	json_object *v = NULL;

	TU_CHECK(json_object_object_get_ex(o, key, &v), "JSON lacks '%s': %s", key,
		 json_object_to_json_string(o));
	TU_CHECK(json_object_is_type(v, type), "JSON '%s' has the wrong type", key);
	return v;
}

/* ---- the daemon under test ---- */

struct daemon {
	struct tu_emu emu;
	pid_t pid;
	char unix_ep[256], tcp_ep[64];
	char *admin_token, *reader_token, *log;
};

static char *sha256_hex(const char *s)
{
	uint8_t md[32];
	unsigned len = 0;

	TU_CHECK(EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL) == 1, "sha256");
	return hex_encode(md, sizeof(md));
}

static char *write_token(const char *name, const char *token)
{
	char *p = path_join(dir, name);

	TU_CHECK(write_file_new(p, token, strlen(token), 0600) == 0, "write %s", p);
	return p;
}

static void dump_log(const char *path)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *log = tu_read_file(path, &len);

	fprintf(stderr, "---- %s ----\n%.*s---- end ----\n", path, (int)MIN(len, (size_t)20000),
		(char *)log);
}

/* A failed check exits: take the daemon and the emulator down with the test, never leave them
 * running. */
static struct daemon *running;

static void kill_leftovers(void)
{
	if (!running)
		return;
	if (running->pid > 0) {
		kill(running->pid, SIGKILL);
		waitpid(running->pid, NULL, 0);
	}
	if (running->emu.pid > 0) {
		kill(running->emu.pid, SIGKILL);
		waitpid(running->emu.pid, NULL, 0);
	}
}

/* sevd with two tokens (admin, reader) in its config, on dir/sevd.sock and 127.0.0.1:PORT. */
static void daemon_start(struct daemon *d)
{
	static const char *emu_args[] = { "--cpuid-ecx", "509", "--cpuid-edx", "100", NULL };
	_cleanup_free_ char *conf = path_join(dir, "sevd.conf");
	_cleanup_free_ char *sock = path_join(dir, "sevd.sock"), *ha = sha256_hex("admin-0123456789");
	_cleanup_free_ char *hr = sha256_hex("reader-0123456789"), *text = NULL;
	static const char *const extra[] = {"--allow-plain-tcp", NULL};
	char psp[300];
	unsigned port = tu_free_port();

	running = d;
	atexit(kill_leftovers);
	TU_CHECK_EQ(tu_emu_start(dir, emu_args, &d->emu), 0);
	/* Every platform verb runs here, many destructive ones a minute: no limit
	 * (daemon-destructive-rate tests it). */
	TU_CHECK(asprintf(&text, "# written by test-cli-core\ntoken = admin:sha256:%s\n"
				 "token = reader:sha256:%s\ndestructive_rate = 0\n", ha, hr) > 0,
		 "asprintf");
	TU_CHECK(write_file_new(conf, text, strlen(text), 0600) == 0, "write %s", conf);
	d->admin_token = write_token("admin.token", "admin-0123456789\n");
	d->reader_token = write_token("reader.token", "reader-0123456789");
	d->log = path_join(dir, "sevd.log");
	snprintf(psp, sizeof(psp), "emu:%s", d->emu.socket);
	snprintf(d->unix_ep, sizeof(d->unix_ep), "unix:%s", sock);
	snprintf(d->tcp_ep, sizeof(d->tcp_ep), "http://127.0.0.1:%u", port);
	d->pid = tu_sevd_start(&(struct tu_sevd_opts){.dir = dir,
						      .psp = psp,
						      .unix_path = sock,
						      .tcp_scheme = "tcp",
						      .tcp_port = (int)port,
						      .config = conf,
						      .extra_args = extra});
	setenv("SEVD_SOCKET", d->unix_ep, 1);
	d_unix_ep = d->unix_ep;
}

static void daemon_stop(struct daemon *d)
{
	int st = tu_stop(d->pid, 10000);

	d->pid = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		dump_log(d->log);
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sevd did not exit cleanly on SIGTERM "
							 "(status 0x%x)", st);
	tu_emu_stop(&d->emu);
	running = NULL;
	free(d->admin_token);
	free(d->reader_token);
	free(d->log);
}

/* ---- tests that need no daemon ---- */

static const char *const core_verbs[] = { "ok", "show", "export", "generate", "provision",
					  "rotate", "reset" };

static void test_help(void)
{
	struct run r = CLI("--help");

	EXPECT(r, 0, "Usage: sevadm", NULL);
	for (size_t i = 0; i < ELEMENTSOF(core_verbs); i++) {
		char line[32];
		snprintf(line, sizeof(line), "\n  %s ", core_verbs[i]);
		TU_CHECK(strstr(r.out, line), "--help does not list '%s'", core_verbs[i]);
	}
	run_clear(&r);
	for (size_t i = 0; i < ELEMENTSOF(core_verbs); i++) {
		char usage[64];
		snprintf(usage, sizeof(usage), "Usage: sevadm %s", core_verbs[i]);
		r = CLI(core_verbs[i], "--help");
		EXPECT(r, 0, usage, NULL);
		TU_CHECK(r.err[0] == 0, "%s --help wrote to stderr: %s", core_verbs[i], r.err);
		run_clear(&r);
	}
	r = CLI("--version");
	EXPECT(r, 0, "sevadm ", NULL);
	run_clear(&r);
}

/* Exit 2 and a message that names the problem; nothing reaches the daemon. */
static void test_usage_errors(void)
{
	static const struct {
		const char *args[6];
		const char *err;
	} cases[] = {
		{ { NULL }, "no command given" },
		{ { "frobnicate" }, "unknown command 'frobnicate'" },
		{ { "--bogus", "ok" }, "unknown option '--bogus'" },
		{ { "--daemon" }, "needs an argument" },
		{ { "--daemon", "tcp:1.2.3.4", "show", "platform" }, "is not a daemon address" },
		{ { "ok", "extra" }, "takes no arguments" },
		{ { "ok", "--fast" }, "Try 'sevadm ok --help'" },
		{ { "show" }, "needs one of: platform, asids, guests" },
		{ { "show", "everything" }, "unknown 'everything'" },
		{ { "show", "platform", "asids" }, "needs one of" },
		{ { "export" }, "needs one FILE" },
		{ { "export", "--full" }, "--full needs one DIR" },
		{ { "export", "a", "b" }, "needs one FILE" },
		{ { "generate" }, "needs exactly one FILE" },
		{ { "provision", "pek.cert" }, "needs two files: PEK_CERT OCA_CERT" },
		{ { "rotate", "now" }, "takes no arguments" },
		{ { "reset" }, "stdin is not a terminal, pass --yes" },
		{ { "reset", "--yes", "please" }, "takes no arguments" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const char *argv[8] = {};
		for (size_t k = 0; k < 6 && cases[i].args[k]; k++)
			argv[k] = cases[i].args[k];
		struct run r = cli_argv(argv);
		TU_CHECK(r.rc == 2, "case %zu (%s): exit %d, expected 2: %s", i,
			 cases[i].args[0] ? cases[i].args[0] : "-", r.rc, r.err);
		TU_CHECK(strstr(r.err, cases[i].err), "case %zu: stderr lacks '%s': %s", i, cases[i].err,
			 r.err);
		TU_CHECK(strncmp(r.err, "sevadm: ", 8) == 0, "case %zu: message not prefixed: %s", i,
			 r.err);
		run_clear(&r);
	}
}

/* Daemon down: exit 1, the address, the reason and the next step. */
static void test_daemon_down(void)
{
	_cleanup_free_ char *gone = path_join(dir, "nothing-here.sock"), *ep = NULL;
	struct run r;

	TU_CHECK(asprintf(&ep, "unix:%s", gone) > 0, "asprintf");
	r = CLI("--daemon", ep, "show", "platform");
	EXPECT(r, 1, NULL, "cannot connect to sevd at unix:");
	TU_CHECK(strstr(r.err, gone) && strstr(r.err, "No such file or directory") &&
			 strstr(r.err, "is sevd running? set --daemon or SEVD_SOCKET"),
		 "down message: %s", r.err);
	run_clear(&r);

	setenv("SEVD_SOCKET", ep, 1); /* the environment is the default */
	r = CLI("ok");
	EXPECT(r, 1, "[ FAIL ] daemon reachable: cannot connect to sevd at unix:", NULL);
	TU_CHECK(strstr(r.out, gone), "ok names the socket from SEVD_SOCKET: %s", r.out);
	run_clear(&r);
	r = CLI("--json", "ok");
	EXPECT(r, 1, NULL, NULL);
	json_object *j = parse_json(&r);
	TU_CHECK(!json_object_get_boolean(get(j, "ok", json_type_boolean)), "ok true while down");
	json_object_put(j);
	run_clear(&r);
	unsetenv("SEVD_SOCKET");

	const char *verbs[][3] = { { "rotate" }, { "export", "x" }, { "generate", "x" },
				   { "reset", "--yes" }, { "show", "asids" } };
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
		r = cli_argv((const char *const[]){ "--daemon", "http://127.0.0.1:1", verbs[i][0],
						    verbs[i][1], NULL });
		EXPECT(r, 1, NULL, "cannot connect to sevd at http://127.0.0.1:1: Connection refused");
		run_clear(&r);
	}
	r = CLI("--daemon", ep, "--token", "/nonexistent/token", "show", "platform");
	EXPECT(r, 1, NULL, "cannot read the token file /nonexistent/token");
	run_clear(&r);
}

/* ---- with the daemon ---- */

static void test_ok(void)
{
	struct run r = CLI("ok");

	EXPECT(r, 0, "[ PASS ] daemon reachable", NULL);
	static const char *checks[] = { "daemon reachable", "worker separation", "platform status",
					"SEV:", "SEV-ES:", "platform state: INIT",
					"certificate chain", "ASID pool: 509 ASIDs" };
	for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
		char line[80];
		snprintf(line, sizeof(line), "[ PASS ] %s", checks[i]);
		TU_CHECK(strstr(r.out, line), "ok lacks '%s': %s", line, r.out);
	}
	TU_CHECK(!strstr(r.out, "FAIL"), "ok has a FAIL: %s", r.out);
	/* The emulator's root is trusted only as what it is. */
	TU_CHECK(strstr(r.out, "sev-psp-emu's own root, not AMD's"), "root named: %s", r.out);
	run_clear(&r);

	r = CLI("--json", "ok");
	EXPECT(r, 0, NULL, NULL);
	json_object *j = parse_json(&r), *checks_j = get(j, "checks", json_type_array);
	TU_CHECK(json_object_get_boolean(get(j, "ok", json_type_boolean)), "ok false: %s", r.out);
	TU_CHECK_EQ(json_object_array_length(checks_j), ELEMENTSOF(checks));
	for (size_t i = 0; i < json_object_array_length(checks_j); i++) {
		json_object *c = json_object_array_get_idx(checks_j, i);
		get(c, "check", json_type_string);
		get(c, "reason", json_type_string);
		TU_CHECK(json_object_get_boolean(get(c, "pass", json_type_boolean)), "check %zu", i);
	}
	json_object_put(j);
	run_clear(&r);
}

static json_object *show_json(const char *what)
{
	struct run r = CLI("--json", "show", what);
	json_object *j;

	EXPECT(r, 0, NULL, NULL);
	j = parse_json(&r);
	run_clear(&r);
	return j;
}

/* The documented keys, in the documented order: the shape scripts rely on. */
static void check_keys(json_object *j, const char *const *keys, size_t n)
{
	size_t i = 0;

	json_object_object_foreach(j, k, v) {
		(void)v;
		TU_CHECK(i < n && strcmp(k, keys[i]) == 0, "key %zu is '%s', expected '%s'", i, k,
			 i < n ? keys[i] : "(none)");
		i++;
	}
	TU_CHECK_EQ(i, n);
}

static void test_show(void)
{
	static const char *const pkeys[] = { "api_major", "api_minor", "build", "state", "owner", "es",
					     "guest_count", "flags", "transport", "asids" };
	static const char *const akeys[] = { "max", "min_sev", "es_range", "sev_range", "used", "free",
					     "flush_pending", "flushes", "es", "sev", "holders",
					     "pending" };
	json_object *p = show_json("platform"), *a;
	struct run r;

	check_keys(p, pkeys, ELEMENTSOF(pkeys));
	TU_CHECK(strcmp(json_object_get_string(get(p, "state", json_type_string)), "INIT") == 0,
		 "state");
	TU_CHECK(strcmp(json_object_get_string(get(p, "transport", json_type_string)), "emu") == 0,
		 "transport");
	a = get(p, "asids", json_type_object);
	TU_CHECK_EQ(json_object_get_int(get(a, "max", json_type_int)), 509);
	TU_CHECK_EQ(json_object_get_int(get(a, "min_sev", json_type_int)), 100);
	json_object_put(p);

	a = show_json("asids");
	check_keys(a, akeys, ELEMENTSOF(akeys));
	TU_CHECK_EQ(json_object_get_int(get(get(a, "es", json_type_object), "total", json_type_int)), 99);
	TU_CHECK_EQ(json_object_get_int(get(get(a, "sev", json_type_object), "total", json_type_int)), 410);
	TU_CHECK_EQ(json_object_get_int(get(a, "free", json_type_int)), 509);
	json_object_put(a);

	r = CLI("show", "platform");
	EXPECT(r, 0, "state            INIT", NULL);
	TU_CHECK(strstr(r.out, "API version      1.55 (build 21)") &&
			 strstr(r.out, "ASIDs            1..509 (SEV-ES 1..99, SEV 100..509)"),
		 "show platform: %s", r.out);
	run_clear(&r);
	/* SEVD_SOCKET as a bare path, as systemd units write it. */
	setenv("SEVD_SOCKET", d_unix_ep + strlen("unix:"), 1);
	r = CLI("show", "asids");
	setenv("SEVD_SOCKET", d_unix_ep, 1);
	EXPECT(r, 0, "SEV-ES  1..99", NULL);
	TU_CHECK(strstr(r.out, "SEV     100..509") && strstr(r.out, "FLUSH-PENDING"), "asids: %s", r.out);
	run_clear(&r);
}

/* sevd answers GET /v1/guests once guests exist (guest lifecycle); until then it is a 404 and
 * sevadm must say so as an error, not print an empty table. */
static void test_show_guests(void)
{
	struct run r = CLI("--json", "show", "guests");

	if (r.rc == 0) {
		json_object *j = parse_json(&r);
		get(j, "guests", json_type_array);
		json_object_put(j);
		run_clear(&r);
		r = CLI("show", "guests");
		EXPECT(r, 0, NULL, NULL);
	} else
		EXPECT(r, 1, NULL, "sevadm: show: ");
	run_clear(&r);
}

static size_t file_size(const char *path)
{
	struct stat st;

	TU_CHECK(stat(path, &st) == 0, "stat %s: %m", path);
	return (size_t)st.st_size;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static uint8_t *export_cert(const char *name, const char *which)
{
	_cleanup_free_ char *d = path_join(dir, name), *p = NULL;
	char fname[16];
	size_t len;
	struct run r = CLI("export", "--full", "--force", d);

	EXPECT(r, 0, NULL, NULL);
	run_clear(&r);
	snprintf(fname, sizeof(fname), "%s.cert", which);
	p = path_join(d, fname);
	return tu_read_file(p, &len);
}

static void test_export(void)
{
	static const char *names[] = { "pdh", "pek", "oca", "cek", "ask", "ark" };
	_cleanup_free_ char *full = path_join(dir, "chain"), *file = path_join(dir, "chain.bin");
	_cleanup_free_ char *blocked = path_join(dir, "blocked"), *ark = path_join(blocked, "ark.cert");
	struct run r = CLI("export", "--full", full);

	EXPECT(r, 0, "Certificate chain written to", NULL);
	run_clear(&r);
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		char fname[16];
		snprintf(fname, sizeof(fname), "%s.cert", names[i]);
		_cleanup_free_ char *p = path_join(full, fname);
		size_t sz = file_size(p);
		TU_CHECK(i < 4 ? sz == SEV_CERT_SIZE : sz > 0x40, "%s is %zu bytes", fname, sz);
	}
	_cleanup_free_ char *pdh_path = path_join(full, "pdh.cert");
	size_t pdh_len = 0;
	_cleanup_free_ uint8_t *pdh = tu_read_file(pdh_path, &pdh_len);

	/* Existing files are kept unless --force. */
	r = CLI("export", "--full", full);
	EXPECT(r, 1, NULL, "exists; not replacing it (use --force)");
	run_clear(&r);
	r = CLI("--json", "export", "--full", "--force", full);
	EXPECT(r, 0, NULL, NULL);
	json_object *j = parse_json(&r);
	TU_CHECK_EQ(json_object_array_length(get(j, "files", json_type_array)), 6);
	json_object_put(j);
	run_clear(&r);

	/* All or nothing: one file in the way, and none of the others appears. */
	TU_CHECK(mkdir(blocked, 0755) == 0 && write_file_new(ark, "x", 1, 0644) == 0, "setup");
	r = CLI("export", "--full", blocked);
	EXPECT(r, 1, NULL, "ark.cert exists");
	run_clear(&r);
	for (size_t i = 0; i < 5; i++) {
		char fname[16];
		snprintf(fname, sizeof(fname), "%s.cert", names[i]);
		_cleanup_free_ char *p = path_join(blocked, fname);
		TU_CHECK(!exists(p), "partial export left %s", p);
	}
	TU_CHECK_EQ(file_size(ark), 1);
	/* A directory that cannot be made: nothing written, a clear reason. */
	r = CLI("export", "--full", "/proc/sevadm-cannot-be-here");
	EXPECT(r, 1, NULL, "cannot create the directory /proc/sevadm-cannot-be-here");
	run_clear(&r);

	/* The SEV chain file: PDH, PEK, OCA, CEK as sevctl export writes it. */
	r = CLI("export", file);
	EXPECT(r, 0, "SEV chain (PDH, PEK, OCA, CEK) written to", NULL);
	run_clear(&r);
	size_t len = 0;
	_cleanup_free_ uint8_t *chain = tu_read_file(file, &len);
	TU_CHECK_EQ(len, 4 * SEV_CERT_SIZE);
	TU_CHECK_MEM(chain, pdh, SEV_CERT_SIZE);
	r = CLI("export", file);
	EXPECT(r, 1, NULL, "exists; not replacing it (use --force)");
	run_clear(&r);
}

/* rotate: a new PDH under the same PEK. */
static void test_rotate(void)
{
	_cleanup_free_ uint8_t *pdh1 = export_cert("rot", "pdh"), *pek1 = export_cert("rot", "pek");
	struct run r = CLI("rotate");

	EXPECT(r, 0, "New PDH generated", NULL);
	run_clear(&r);
	_cleanup_free_ uint8_t *pdh2 = export_cert("rot", "pdh"), *pek2 = export_cert("rot", "pek");
	TU_CHECK(memcmp(pdh1, pdh2, SEV_CERT_SIZE) != 0, "rotate kept the PDH");
	TU_CHECK_MEM(pek1, pek2, SEV_CERT_SIZE);
	r = CLI("--json", "rotate");
	EXPECT(r, 0, NULL, NULL);
	json_object *j = parse_json(&r);
	get(j, "command", json_type_string);
	get(j, "platform", json_type_object);
	json_object_put(j);
	run_clear(&r);
}

/* ---- ownership: generate, provision, reset ---- */

static EVP_PKEY *new_p384(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");

	TU_CHECK(k, "P-384 key");
	return k;
}

/* A self-signed OCA certificate for key, written to dir/name. */
static char *make_oca(EVP_PKEY *key, const char *name)
{
	struct sev_cert oca = {};
	char *p = path_join(dir, name);

	TU_CHECK_EQ(attest_sev_cert_init(&oca, 1, 55, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, key), 0);
	TU_CHECK_EQ(attest_sev_cert_sign(&oca, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, key), 0);
	TU_CHECK_EQ(write_file_atomic(p, &oca, sizeof(oca), 0644), 0);
	return p;
}

/* The CSR in csr_path signed (slot 0) by the OCA key, written to dir/name. */
static char *sign_csr(const char *csr_path, EVP_PKEY *oca_key, const char *name)
{
	struct sev_cert pek;
	struct attest_verdict why = {0};
	size_t len = 0;
	_cleanup_free_ uint8_t *csr = tu_read_file(csr_path, &len);
	char *p = path_join(dir, name);

	TU_CHECK(attest_sev_cert_parse(csr, len, &pek, &why) == 0, "CSR: %s", why.reason);
	TU_CHECK_EQ(pek.pubkey_usage, SEV_USAGE_PEK);
	TU_CHECK_EQ(attest_sev_cert_sign(&pek, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, oca_key), 0);
	TU_CHECK_EQ(write_file_atomic(p, &pek, sizeof(pek), 0644), 0);
	return p;
}

static const char *platform_owner(void)
{
	static char owner[32];
	json_object *p = show_json("platform");

	snprintf(owner, sizeof(owner), "%s", json_object_get_string(get(p, "owner", json_type_string)));
	json_object_put(p);
	return owner;
}

static void test_generate(const char *csr)
{
	struct run r = CLI("generate", csr);

	EXPECT(r, 0, "PEK CSR written to", NULL);
	run_clear(&r);
	TU_CHECK_EQ(file_size(csr), SEV_CERT_SIZE);
	r = CLI("generate", csr);
	EXPECT(r, 1, NULL, "exists; not replacing it (use --force)");
	run_clear(&r);
	r = CLI("--json", "generate", "--force", csr);
	EXPECT(r, 0, NULL, NULL);
	json_object *j = parse_json(&r);
	TU_CHECK_EQ(json_object_get_int(get(j, "size", json_type_int)), SEV_CERT_SIZE);
	json_object_put(j);
	run_clear(&r);
	r = CLI("generate", "/nonexistent-dir/csr.bin");
	EXPECT(r, 1, NULL, "cannot write /nonexistent-dir/csr.bin");
	run_clear(&r);
}

static void test_provision_and_reset(void)
{
	_cleanup_free_ char *csr = path_join(dir, "pek.csr");
	EVP_PKEY *key = new_p384(), *other = new_p384();
	struct run r;

	test_generate(csr);
	_cleanup_free_ char *oca = make_oca(key, "oca.cert"), *pek = sign_csr(csr, key, "pek.cert");
	_cleanup_free_ char *oca2 = make_oca(other, "oca2.cert");

	/* Mistakes named before firmware sees them. */
	r = CLI("provision", oca, pek);
	EXPECT(r, 1, NULL, "expected PEK");
	run_clear(&r);
	r = CLI("provision", pek, oca2);
	EXPECT(r, 1, NULL, "is not signed by the OCA in");
	run_clear(&r);
	r = CLI("provision", pek, "/nonexistent/oca.cert");
	EXPECT(r, 1, NULL, "cannot read /nonexistent/oca.cert");
	run_clear(&r);
	r = CLI("provision", csr, oca);
	EXPECT(r, 1, NULL, "is not signed by the OCA");
	run_clear(&r);
	TU_CHECK(strcmp(platform_owner(), "self") == 0, "owner changed by failed provisions");

	r = CLI("provision", pek, oca);
	EXPECT(r, 0, "PEK and OCA imported", NULL);
	run_clear(&r);
	TU_CHECK(strcmp(platform_owner(), "external") == 0, "owner after provision");
	_cleanup_free_ uint8_t *exported = export_cert("own", "oca");
	size_t len = 0;
	_cleanup_free_ uint8_t *ours = tu_read_file(oca, &len);
	TU_CHECK_MEM(exported, ours, SEV_CERT_SIZE);
	r = CLI("ok");
	EXPECT(r, 0, "[ PASS ] certificate chain", NULL);
	run_clear(&r);

	/* Firmware's refusal reaches the operator by status name. */
	r = CLI("provision", pek, oca);
	EXPECT(r, 1, NULL, "(firmware status ALREADY_OWNED)");
	TU_CHECK(strncmp(r.err, "sevadm: provision: ", 19) == 0, "prefix: %s", r.err);
	run_clear(&r);

	r = CLI("reset", "--yes");
	EXPECT(r, 0, "Platform factory-reset", NULL);
	run_clear(&r);
	TU_CHECK(strcmp(platform_owner(), "self") == 0, "owner after reset");
	_cleanup_free_ uint8_t *after = export_cert("own", "oca");
	TU_CHECK(memcmp(after, ours, SEV_CERT_SIZE) != 0, "reset kept our OCA");
	json_object *p = show_json("platform");
	TU_CHECK(strcmp(json_object_get_string(get(p, "state", json_type_string)), "INIT") == 0,
		 "reset restores INIT");
	json_object_put(p);
	r = CLI("--json", "reset", "--yes");
	EXPECT(r, 0, NULL, NULL);
	json_object_put(parse_json(&r));
	run_clear(&r);
	r = CLI("ok");
	EXPECT(r, 0, NULL, NULL);
	run_clear(&r);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

/* `reset` on a terminal asks first; the answer decides. Returns sevadm's exit code and what
 * it printed on the terminal. */
static int reset_on_tty(const char *answer, char *screen, size_t cap)
{
	size_t len = 0;
	bool answered = false;
	int master, status;
	pid_t pid = forkpty(&master, NULL, NULL, NULL);

	TU_CHECK(pid >= 0, "forkpty: %m");
	if (pid == 0) {
		execl(sevadm, sevadm, "reset", (char *)NULL);
		_exit(127);
	}
	for (int waited = 0; waited < 60000;) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		if (poll(&p, 1, 100) == 0) {
			waited += 100;
			continue;
		}
		ssize_t n = read(master, screen + len, cap - 1 - len);
		if (n <= 0)
			break; /* EIO: the child closed the terminal */
		len += (size_t)n;
		screen[len] = 0;
		if (!answered && strstr(screen, "[y/N] ")) {
			TU_CHECK(write(master, answer, strlen(answer)) == (ssize_t)strlen(answer), "type");
			answered = true;
		}
	}
	close(master);
	TU_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status), "sevadm reset on a tty");
	TU_CHECK(answered, "reset on a terminal did not ask: %s", screen);
	return WEXITSTATUS(status);
}

static void test_reset_confirm(void)
{
	char screen[8192] = "";
	_cleanup_free_ uint8_t *before = export_cert("confirm", "oca");

	TU_CHECK_EQ(reset_on_tty("n\n", screen, sizeof(screen)), 1);
	TU_CHECK(strstr(screen, "Factory-reset the SEV platform?") &&
			 strstr(screen, "not confirmed; nothing changed"), "declined: %s", screen);
	_cleanup_free_ uint8_t *kept = export_cert("confirm", "oca");
	TU_CHECK_MEM(before, kept, SEV_CERT_SIZE);

	TU_CHECK_EQ(reset_on_tty("y\n", screen, sizeof(screen)), 0);
	TU_CHECK(strstr(screen, "Platform factory-reset"), "confirmed: %s", screen);
	_cleanup_free_ uint8_t *after = export_cert("confirm", "oca");
	TU_CHECK(memcmp(before, after, SEV_CERT_SIZE) != 0, "confirmed reset kept the OCA");
}

/* ---- TCP with bearer tokens ---- */

static void test_tcp(const struct daemon *d)
{
	_cleanup_free_ char *wrong = write_token("wrong.token", "not-a-configured-token");
	_cleanup_free_ char *out = path_join(dir, "tcp-chain.bin");
	struct run r;

	r = CLI("--daemon", d->tcp_ep, "--token", d->admin_token, "show", "platform");
	EXPECT(r, 0, "state            INIT", NULL);
	run_clear(&r);
	/* A host name (localhost may resolve to ::1 first; the IPv4 address then answers). */
	char by_name[80];
	snprintf(by_name, sizeof(by_name), "http://localhost:%s/", strrchr(d->tcp_ep, ':') + 1);
	r = CLI("--daemon", by_name, "--token", d->admin_token, "show", "platform");
	EXPECT(r, 0, "state            INIT", NULL);
	run_clear(&r);
	r = CLI("--daemon", d->tcp_ep, "--token", d->admin_token, "ok");
	EXPECT(r, 0, "[ PASS ] ASID pool", NULL);
	run_clear(&r);
	r = CLI("--daemon", d->tcp_ep, "--token", d->admin_token, "--json", "show", "asids");
	EXPECT(r, 0, NULL, NULL);
	json_object_put(parse_json(&r));
	run_clear(&r);
	r = CLI("--daemon", d->tcp_ep, "--token", d->admin_token, "rotate");
	EXPECT(r, 0, "New PDH generated", NULL);
	run_clear(&r);

	/* The chain is public: no token needed. */
	r = CLI("--daemon", d->tcp_ep, "export", out);
	EXPECT(r, 0, NULL, NULL);
	run_clear(&r);

	/* No token, a reader's token, a wrong token: refused with the HTTP status and a hint. */
	r = CLI("--daemon", d->tcp_ep, "show", "platform");
	EXPECT(r, 1, NULL, "(HTTP 401)");
	TU_CHECK(strstr(r.err, "--token FILE"), "401 hint: %s", r.err);
	run_clear(&r);
	r = CLI("--daemon", d->tcp_ep, "--token", d->reader_token, "show", "platform");
	EXPECT(r, 0, NULL, NULL);
	run_clear(&r);
	r = CLI("--daemon", d->tcp_ep, "--token", d->reader_token, "rotate");
	EXPECT(r, 1, NULL, "(HTTP 403)");
	TU_CHECK(strstr(r.err, "admin token"), "403 hint: %s", r.err);
	run_clear(&r);
	r = CLI("--daemon", d->tcp_ep, "--token", d->reader_token, "reset", "--yes");
	EXPECT(r, 1, NULL, "(HTTP 403)");
	run_clear(&r);
	r = CLI("--daemon", d->tcp_ep, "--token", wrong, "show", "asids");
	EXPECT(r, 1, NULL, "(HTTP 401)");
	run_clear(&r);
	r = CLI("--daemon", d->tcp_ep, "ok");
	EXPECT(r, 1, "[ FAIL ] platform status", NULL);
	run_clear(&r);
}

int main(void)
{
	struct daemon d = {};

	signal(SIGPIPE, SIG_IGN);
	if (!getenv("SEVADM_EXE") || !getenv("SEVD_EXE") || !getenv("SEV_PSP_EMU_EXE"))
		tu_skip("SEVADM_EXE, SEVD_EXE or SEV_PSP_EMU_EXE not set: sevadm, sevd or "
			"sev-psp-emu is not built");
	sevadm = tu_exe("SEVADM_EXE");
	dir = tu_mkdtemp();
	unsetenv("SEVD_SOCKET");

	test_help();
	test_usage_errors();
	test_daemon_down();

	daemon_start(&d);
	test_ok();
	test_show();
	test_show_guests();
	test_export();
	test_rotate();
	test_provision_and_reset();
	test_reset_confirm();
	test_tcp(&d);
	daemon_stop(&d);

	tu_rmtree(dir);
	free(dir);
	tu_done("test-cli-core");
}
