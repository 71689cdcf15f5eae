/* Shared by the guest-lifecycle tests (tests/cli/test-cli-guest-util.h): run the real sevadm,
 * start the real sevd and sev-psp-emu. Loopback only; every wait is bounded. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "common/macros.h"
#include "common/util.h"
#include "hv-glue/util.h"
#include "psp/emu-wire.h"
#include "tests/cli/test-cli-guest-util.h"

const char *tg_sevadm;
char *tg_dir;
static struct tg_daemon *running[2]; /* the daemons a test has up (a source and a target) */

void tg_run_clear(struct tg_run *r)
{
	free(r->out);
	free(r->err);
	*r = (struct tg_run){};
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

static void build_argv(const char *const *args, const char **argv, size_t cap)
{
	size_t n = 1;

	argv[0] = tg_sevadm;
	for (; args[n - 1] && n < cap - 1; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
}

static int wait_bounded(pid_t pid, const char *what)
{
	int status = 0;

	for (int waited = 0; waitpid(pid, &status, WNOHANG) == 0; waited += 10) {
		if (waited > 120000) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			TU_CHECK(false, "sevadm %s did not finish within 120 s", what);
		}
		usleep(10000);
	}
	TU_CHECK(WIFEXITED(status), "sevadm %s died by signal %d", what, WTERMSIG(status));
	return WEXITSTATUS(status);
}

struct tg_run tg_cli_argv(const char *const *args)
{
	return tg_cli_stdin_argv("/dev/null", args);
}

struct tg_run tg_cli_stdin_argv(const char *in_path, const char *const *args)
{
	_cleanup_free_ char *outp = path_join(tg_dir, "cli.out"), *errp = path_join(tg_dir, "cli.err");
	const char *argv[64];
	struct tg_run r = {};
	pid_t pid;

	build_argv(args, argv, ELEMENTSOF(argv));
	pid = fork();
	TU_CHECK(pid >= 0, "fork: %m");
	if (pid == 0) {
		int in = open(in_path, O_RDONLY), o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600),
		    e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(in, 0);
		dup2(o, 1);
		dup2(e, 2);
		execv(tg_sevadm, (char *const *)argv);
		_exit(127);
	}
	r.rc = wait_bounded(pid, args[0] ? args[0] : "");
	r.out = slurp(outp);
	r.err = slurp(errp);
	return r;
}

/* Everything the terminal shows until the child closes it. */
static char *read_terminal(int master)
{
	size_t len = 0, cap = 1 << 16;
	char *screen = calloc(1, cap);

	TU_CHECK(screen, "out of memory");
	for (int idle = 0; idle < 120000;) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		if (poll(&p, 1, 100) == 0) {
			idle += 100;
			continue;
		}
		if (len + 1 >= cap) {
			screen = realloc(screen, cap *= 2);
			TU_CHECK(screen, "out of memory");
		}
		ssize_t n = read(master, screen + len, cap - 1 - len);
		if (n <= 0)
			break; /* EIO: the child closed the terminal */
		len += (size_t)n;
		screen[len] = 0;
	}
	return screen;
}

struct tg_run tg_cli_tty_argv(const char *const *args)
{
	_cleanup_free_ char *outp = path_join(tg_dir, "cli-tty.out");
	const char *argv[64];
	struct tg_run r = {};
	int master;
	pid_t pid;

	build_argv(args, argv, ELEMENTSOF(argv));
	pid = forkpty(&master, NULL, NULL, NULL);
	TU_CHECK(pid >= 0, "forkpty: %m");
	if (pid == 0) {
		/* stderr stays the terminal; stdout goes to a file as in `H=$(sevadm launch ...)`. */
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(o, 1);
		execv(tg_sevadm, (char *const *)argv);
		_exit(127);
	}
	r.err = read_terminal(master);
	close(master);
	r.rc = wait_bounded(pid, args[0] ? args[0] : "");
	r.out = slurp(outp);
	return r;
}

void tg_expect(const struct tg_run *r, int code, const char *out_has, const char *err_has,
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

json_object *tg_json(const struct tg_run *r)
{
	json_object *j = json_tokener_parse(r->out);

	TU_CHECK(j && json_object_is_type(j, json_type_object), "--json output is no JSON object: %s",
		 r->out);
	return j;
}

json_object *tg_get(json_object *o, const char *key, json_type type)
{
	json_object *v = NULL;

	TU_CHECK(json_object_object_get_ex(o, key, &v), "JSON lacks '%s': %s", key,
		 json_object_to_json_string(o));
	TU_CHECK(json_object_is_type(v, type), "JSON '%s' has the wrong type: %s", key,
		 json_object_to_json_string(o));
	return v;
}

/* ---- the daemon ---- */

void tg_init(const char *name)
{
	const char *need[] = { "SEVADM_EXE", "SEVD_EXE", "SEV_PSP_EMU_EXE" };

	for (size_t i = 0; i < ELEMENTSOF(need); i++)
		if (!getenv(need[i]) || !*getenv(need[i])) {
			fprintf(stderr, "%s: $%s is not set (run through meson test)\n", name,
				need[i]);
			tu_skip("sevadm, sevd or sev-psp-emu is not built");
		}
	tg_sevadm = tu_exe("SEVADM_EXE");
	tg_dir = tu_mkdtemp();
}

static char *sha256_hex(const char *s)
{
	uint8_t md[32];
	unsigned len = 0;

	TU_CHECK(EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL) == 1, "sha256");
	return hex_encode(md, sizeof(md));
}

static char *write_token(const char *name, const char *token)
{
	char *p = path_join(tg_dir, name);

	TU_CHECK(write_file_new(p, token, strlen(token), 0600) == 0, "write %s", p);
	return p;
}

void tg_dump_log(const char *path)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *log = tu_read_file(path, &len);

	fprintf(stderr, "---- %s ----\n%.*s---- end ----\n", path, (int)MIN(len, (size_t)20000),
		(char *)log);
}

static void kill_leftovers(void)
{
	for (size_t i = 0; i < ELEMENTSOF(running); i++) {
		if (!running[i])
			continue;
		if (running[i]->pid > 0) {
			kill(running[i]->pid, SIGKILL);
			waitpid(running[i]->pid, NULL, 0);
		}
		if (running[i]->emu.pid > 0) {
			kill(running[i]->emu.pid, SIGKILL);
			waitpid(running[i]->emu.pid, NULL, 0);
		}
	}
}

static void write_conf(const char *conf, const char *extra)
{
	_cleanup_free_ char *hl = sha256_hex("launcher-0123456789"), *ho = sha256_hex("owner-0123456789");
	_cleanup_free_ char *hr = sha256_hex("reader-0123456789"), *text = NULL;

	TU_CHECK(asprintf(&text, "# written by the guest-lifecycle tests\n"
				 "token = launcher:sha256:%s\ntoken = owner:sha256:%s\n"
				 "token = reader:sha256:%s\n%s", hl, ho, hr, extra ? extra : "") > 0,
		 "asprintf");
	TU_CHECK(write_file_new(conf, text, strlen(text), 0600) == 0, "write %s", conf);
}

/* meson's timeout sends SIGTERM: take the daemon and the emulator down with us. */
static void on_term(int sig)
{
	(void)sig;
	kill_leftovers();
	_exit(1);
}

void tg_daemon_start(struct tg_daemon *d, const char *const *emu_args, const char *extra_conf)
{
	static const char *def_emu[] = { "--cpuid-ecx", "15", "--cpuid-edx", "5", NULL };
	_cleanup_free_ char *conf = path_join(tg_dir, "sevd.conf"), *state = path_join(tg_dir, "state");
	_cleanup_free_ char *sock = path_join(tg_dir, "sevd.sock");
	static const char *const extra[] = {"--allow-plain-tcp", NULL};
	char psp[300];
	unsigned port = tu_free_port();
	static bool hooked;

	TU_CHECK(!running[0] || !running[1], "at most %zu daemons at a time",
		 ELEMENTSOF(running));
	running[running[0] ? 1 : 0] = d;
	if (!hooked)
		atexit(kill_leftovers);
	hooked = true;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	TU_CHECK(mkdir(state, 0700) == 0, "mkdir %s: %m", state);
	TU_CHECK_EQ(tu_emu_start(tg_dir, emu_args ? emu_args : def_emu, &d->emu), 0);
	write_conf(conf, extra_conf);
	d->launcher_token = write_token("launcher.token", "launcher-0123456789\n");
	d->owner_token = write_token("owner.token", "owner-0123456789\n");
	d->reader_token = write_token("reader.token", "reader-0123456789\n");
	d->log = path_join(tg_dir, "sevd.log");
	snprintf(psp, sizeof(psp), "emu:%s", d->emu.socket);
	snprintf(d->unix_ep, sizeof(d->unix_ep), "unix:%s", sock);
	snprintf(d->tcp_ep, sizeof(d->tcp_ep), "http://127.0.0.1:%u", port);
	d->pid = tu_sevd_start(&(struct tu_sevd_opts){.dir = tg_dir,
						      .psp = psp,
						      .unix_path = sock,
						      .tcp_scheme = "tcp",
						      .tcp_port = (int)port,
						      .config = conf,
						      .extra_args = extra});
	setenv("SEVD_SOCKET", d->unix_ep, 1);
}

void tg_daemon_stop(struct tg_daemon *d)
{
	int st = tu_stop(d->pid, 10000);

	d->pid = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		tg_dump_log(d->log);
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sevd did not exit cleanly on SIGTERM "
							 "(status 0x%x)", st);
	tu_emu_stop(&d->emu);
	for (size_t i = 0; i < ELEMENTSOF(running); i++)
		if (running[i] == d)
			running[i] = NULL;
	free(d->launcher_token);
	free(d->owner_token);
	free(d->reader_token);
	free(d->log);
}

char *tg_make_image(const char *name, size_t len)
{
	char *p = path_join(tg_dir, name);
	uint8_t *buf = malloc(len), key[32] = {}, iv[16] = {};
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int outl = 0;

	/* AES-CTR keystream of a key from the name: random-looking, reproducible, and no 16-byte
	 * window repeats (so a plaintext search cannot match by accident). */
	TU_CHECK(buf && c, "out of memory");
	snprintf((char *)key, sizeof(key), "%s", name);
	memset(buf, 0, len);
	TU_CHECK(EVP_EncryptInit_ex(c, EVP_aes_256_ctr(), NULL, key, iv) == 1 &&
			 EVP_EncryptUpdate(c, buf, &outl, buf, (int)len) == 1, "keystream");
	EVP_CIPHER_CTX_free(c);
	TU_CHECK(write_file_new(p, buf, len, 0644) == 0, "write %s", p);
	free(buf);
	return p;
}

/* ---- the emulator's control socket (its own channel, not sevd's) ---- */

/* One CTL line (hv-glue/util.c, the code sev-run asks the emulator with); the reply payload
 * into buf (len returned), a descriptor into *ret_fd. */
size_t tg_emu_ctl(const struct tg_daemon *d, const char *line, uint8_t *buf, size_t cap,
		  int *ret_fd)
{
	size_t len = 0;
	int r = hv_emu_ctl(d->emu.socket, line, buf, cap, &len, ret_fd);

	TU_CHECK(r == 0, "CTL '%s' on %s failed (%s): %.*s", line, d->emu.socket, strerror(-r),
		 (int)len, (char *)buf);
	return len;
}

/* The emulator's ARK, as an operator of an emulated host gets it: from the emulator. */
char *tg_emulator_root(const struct tg_daemon *d)
{
	uint8_t buf[EMU_WIRE_MAX_PAYLOAD];
	size_t len = tg_emu_ctl(d, "get-cert ark", buf, sizeof(buf), NULL);
	char *p = path_join(tg_dir, "emu-ark.cert");

	TU_CHECK(len > 64, "get-cert ark answered %zu bytes", len);
	TU_CHECK(write_file_new(p, buf, len, 0644) == 0, "write %s", p);
	return p;
}
