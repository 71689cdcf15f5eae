/* Test helpers: see testutil.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "tests/testutil.h"

int tu_checks;

/* Nothing a test started outlives it. A failed TU_CHECK exits at once, past the test's own
 * clean-up, and would leave its sevd, worker and emulators running (and their temp dirs in
 * use) for the rest of the suite. So every test process is a child subreaper (orphans of the
 * daemons it started come back to it, not to init) and, at exit, SIGKILLs every process
 * still below it: the whole tree is collected from /proc first, then killed. Forked children
 * of a test do not inherit the subreaper flag; one that calls exit() kills only its own
 * descendants. */
#define TU_DESCENDANTS_MAX 4096

static size_t collect_children(pid_t pid, pid_t *out, size_t n)
{
	char path[64];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return n;
	while ((e = readdir(d)) && n < TU_DESCENDANTS_MAX) {
		char cpath[320];
		FILE *f;
		int c;

		if (e->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", (int)pid, e->d_name);
		f = fopen(cpath, "re");
		if (!f)
			continue;
		while (n < TU_DESCENDANTS_MAX && fscanf(f, "%d", &c) == 1)
			out[n++] = (pid_t)c;
		fclose(f);
	}
	closedir(d);
	return n;
}

static void kill_descendants(void)
{
	static pid_t tree[TU_DESCENDANTS_MAX];
	size_t n = collect_children(getpid(), tree, 0);

	for (size_t i = 0; i < n; i++) /* breadth first: the list grows as it is walked */
		n = collect_children(tree[i], tree, n);
	for (size_t i = 0; i < n; i++)
		kill(tree[i], SIGKILL);
	for (size_t i = 0; i < n; i++)
		(void)waitpid(tree[i], NULL, WNOHANG);
}

__attribute__((constructor)) static void tu_reaper_init(void)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == 0)
		atexit(kill_descendants);
}

void tu_done(const char *name)
{
	if (tu_checks == 0) {
		fprintf(stderr, "%s: no check ran — a test must assert something\n", name);
		exit(1);
	}
	printf("%s: %d checks passed\n", name, tu_checks);
	exit(0);
}

void tu_skip(const char *reason)
{
	printf("SKIP: %s\n", reason);
	exit(77);
}

char *tu_vector_path(const char *rel)
{
	const char *base = getenv("SEV_VECTORS");
	struct stat st;
	char *p;

	if (!base || stat(base, &st) < 0) {
		fprintf(stderr, "test vectors not found: set SEV_VECTORS (expected ../shared/vectors "
				"beside the source tree)\n");
		exit(1);
	}
	p = path_join(base, rel);
	if (!p)
		abort();
	return p;
}

uint8_t *tu_read_file(const char *path, size_t *ret_len)
{
	uint8_t *buf;
	int r = read_full_file(path, 64u << 20, &buf, ret_len);

	if (r < 0) {
		fprintf(stderr, "cannot read %s: %s\n", path, strerror(-r));
		exit(1);
	}
	return buf;
}

uint8_t *tu_read_vector(const char *rel, size_t *ret_len)
{
	char *p = tu_vector_path(rel);
	uint8_t *b = tu_read_file(p, ret_len);
	free(p);
	return b;
}

char *tu_mkdtemp(void)
{
	const char *t = getenv("TMPDIR");
	char *p;

	if (asprintf(&p, "%s/sevd-test.XXXXXX", t && *t ? t : "/tmp") < 0 || !mkdtemp(p)) {
		perror("mkdtemp");
		exit(1);
	}
	return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void tu_rmtree(const char *path)
{
	if (path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *tu_exe(const char *env_name)
{
	const char *p = getenv(env_name);

	if (!p || !*p) {
		fprintf(stderr, "%s is not set: run this test through meson test\n", env_name);
		exit(1);
	}
	return p;
}

/* sevd refuses a worker without a uid of its own unless allowed (--allow-unseparated-worker);
 * a test suite run by a user other than root cannot give it one, so sevd started from such a
 * run gets the flag (the checks of the separation itself are root-only test cases). */
static char *const *unseparated_if_needed(char *const argv[])
{
	const char *sevd = getenv("SEVD_EXE");
	size_t n = 0;
	char **v;

	if (geteuid() == 0 || !sevd || strcmp(argv[0], sevd) != 0)
		return argv;
	while (argv[n])
		n++;
	v = calloc(n + 2, sizeof(*v));
	if (!v)
		return argv;
	memcpy(v, argv, n * sizeof(*v));
	v[n] = (char *)"--allow-unseparated-worker";
	return v;
}

pid_t tu_spawn(char *const argv[], const char *log_path)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		if (log_path) {
			int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
		}
		execv(argv[0], unseparated_if_needed(argv));
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

bool tu_wait_socket(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	strcpy(sa.sun_path, path);
	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		int types[] = { SOCK_STREAM, SOCK_SEQPACKET };
		for (size_t i = 0; i < 2; i++) {
			int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
			if (fd < 0)
				return false;
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
				close(fd);
				return true;
			}
			close(fd);
		}
		usleep(10 * 1000);
	}
	return false;
}

int tu_stop(pid_t pid, int timeout_ms)
{
	int status = 0;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return status;
}

int tu_run(char *const argv[], char **out, size_t *out_len)
{
	int pipefd[2];
	pid_t pid;
	int status;
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		perror("pipe");
		exit(1);
	}
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
		}
		ssize_t k = read(pipefd[0], buf + len, cap - len - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	close(pipefd[0]);
	buf[len] = 0;
	waitpid(pid, &status, 0);
	if (out) {
		*out = buf;
		if (out_len)
			*out_len = len;
	} else {
		free(buf);
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int tu_emu_start(const char *dir, const char *const extra_args[], struct tu_emu *ret)
{
	char *argv[64];
	int n = 0;

	memset(ret, 0, sizeof(*ret));
	ret->socket = path_join(dir, "emu.sock");
	ret->nv = path_join(dir, "nv.bin");
	ret->log = path_join(dir, "emu.log");
	argv[n++] = (char *)tu_exe("SEV_PSP_EMU_EXE");
	argv[n++] = (char *)"--socket";
	argv[n++] = ret->socket;
	argv[n++] = (char *)"--nv";
	argv[n++] = ret->nv;
	for (int i = 0; extra_args && extra_args[i] && n < 62; i++)
		argv[n++] = (char *)extra_args[i];
	argv[n] = NULL;
	ret->pid = tu_spawn(argv, ret->log);
	if (!tu_wait_socket(ret->socket, 10000)) {
		fprintf(stderr, "sev-psp-emu did not come up on %s (log: %s)\n", ret->socket,
			ret->log);
		tu_stop(ret->pid, 1000);
		return -ETIMEDOUT;
	}
	return 0;
}

void tu_emu_stop(struct tu_emu *e)
{
	if (e->pid > 0)
		tu_stop(e->pid, 5000);
	e->pid = 0;
	free(e->socket);
	free(e->nv);
	free(e->log);
	e->socket = e->nv = e->log = NULL;
}

int tu_unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	TU_CHECK(fd >= 0, "socket: %s", strerror(errno));
	TU_CHECK(strlen(path) < sizeof(sa.sun_path), "socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	TU_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s: %s", path,
		 strerror(errno));
	return fd;
}

/* Read up to size-1 bytes of a /proc file, NUL-terminated; the count, or -1. */
static ssize_t read_proc(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (ssize_t)n;
}

pid_t tu_find_worker(pid_t core)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	TU_CHECK(d, "opendir /proc: %s", strerror(errno));
	while ((e = readdir(d)) && !found) {
		char path[64], buf[4096];
		pid_t pid = (pid_t)atoi(e->d_name), ppid = 0;
		ssize_t n;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		/* "pid (comm) state ppid": comm may hold spaces, so after the last ')'. */
		if (read_proc(path, buf, sizeof(buf)) < 0 || !strrchr(buf, ')') ||
		    sscanf(strrchr(buf, ')') + 2, "%*c %d", &ppid) != 1 || ppid != core)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		n = read_proc(path, buf, sizeof(buf));
		for (ssize_t i = 0; i + 1 < n; i++)
			if (buf[i] == '\0' && !strncmp(buf + i + 1, "--worker", 9))
				found = pid;
	}
	closedir(d);
	return found;
}

int tu_free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	TU_CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		     getsockname(fd, (struct sockaddr *)&sa, &len) == 0,
		 "cannot find a free TCP port on 127.0.0.1: %m");
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

bool tu_wait_tcp(int port, int timeout_ms)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	for (int waited = 0; waited < timeout_ms; waited += 50) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (r == 0)
			return true;
		usleep(50 * 1000);
	}
	return false;
}

pid_t tu_sevd_start(const struct tu_sevd_opts *o)
{
	_cleanup_free_ char *state = path_join(o->dir, "state"), *log = path_join(o->dir, "sevd.log");
	char psp[600], listen_unix[600], listen_tcp[64];
	char *argv[32];
	int n = 0;
	pid_t pid;

	snprintf(psp, sizeof(psp), "%s", o->psp);
	snprintf(listen_unix, sizeof(listen_unix), "unix:%s", o->unix_path);
	argv[n++] = (char *)tu_exe("SEVD_EXE");
	argv[n++] = (char *)"--psp";
	argv[n++] = psp;
	argv[n++] = (char *)"--state-dir";
	argv[n++] = state;
	argv[n++] = (char *)"--listen";
	argv[n++] = listen_unix;
	if (o->tcp_scheme) {
		snprintf(listen_tcp, sizeof(listen_tcp), "%s:127.0.0.1:%d", o->tcp_scheme,
			 o->tcp_port);
		argv[n++] = (char *)"--listen";
		argv[n++] = listen_tcp;
	}
	if (o->config) {
		argv[n++] = (char *)"--config";
		argv[n++] = (char *)o->config;
	}
	for (size_t i = 0; o->extra_args && o->extra_args[i] && n < 31; i++)
		argv[n++] = (char *)o->extra_args[i];
	argv[n] = NULL;
	(void)unlink(o->unix_path);
	pid = tu_spawn(argv, log);
	/* Up to 60 s (sanitizer builds are slow), but stop waiting as soon as sevd has died. */
	for (int waited = 0; !tu_wait_socket(o->unix_path, 100); waited += 100) {
		int st = 0;
		TU_CHECK(waitpid(pid, &st, WNOHANG) != pid,
			 "sevd exited (status 0x%x) before serving %s (log %s)", st, o->unix_path,
			 log);
		TU_CHECK(waited < 60000, "sevd did not come up on %s within 60 s (log %s)",
			 o->unix_path, log);
	}
	/* the listeners start in order: the TCP one may come a moment after the Unix one */
	if (o->tcp_scheme)
		TU_CHECK(tu_wait_tcp(o->tcp_port, 30000), "sevd did not listen on %s (log %s)",
			 listen_tcp, log);
	return pid;
}

size_t tu_load_seeds(const char *dir, struct tu_seed *seeds, size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	TU_CHECK(d, "cannot open corpus %s", dir);
	while ((e = readdir(d)) && n < max) {
		char *p;

		if (e->d_name[0] == '.')
			continue;
		p = path_join(dir, e->d_name);
		seeds[n].p = tu_read_file(p, &seeds[n].len);
		free(p);
		n++;
	}
	closedir(d);
	return n;
}

uint32_t tu_xorshift(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return (uint32_t)*state;
}
