/* sevd's sd_notify protocol without systemd as PID 1: the test binds its
 * own NOTIFY_SOCKET (an AF_UNIX datagram socket with SO_PASSCRED, so every message carries
 * its sender's pid), starts the real sevd with its own embedded sev-psp-emu, NOTIFY_SOCKET,
 * WATCHDOG_USEC=500000 and WATCHDOG_PID set to sevd's own pid (in the child, before exec, as
 * systemd does), and asserts that READY=1, STATUS= lines, at least two WATCHDOG=1 pings within
 * ~2 s, none while the HTTP worker is stopped (SIGSTOP: the API cannot answer) and
 * again after SIGCONT, and, after SIGTERM, STOPPING=1 arrive in that order, all from sevd's
 * pid. Trusts only the kernel's SCM_CREDENTIALS. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "tests/testutil.h"

#define WATCHDOG_USEC 500000

static char *dir;
static int notify_fd = -1;

/* A bound SOCK_DGRAM socket at path that receives its senders' credentials. */
static int notify_listen(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

	TU_CHECK(fd >= 0, "socket: %s", strerror(errno));
	TU_CHECK(strlen(path) < sizeof(sa.sun_path), "socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	TU_CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind %s: %s", path,
		 strerror(errno));
	TU_CHECK(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == 0, "SO_PASSCRED: %s",
		 strerror(errno));
	return fd;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* One datagram within timeout_ms into buf (NUL-terminated), its sender's pid in *ret_pid;
 * false on timeout. */
static bool notify_recv(char *buf, size_t size, pid_t *ret_pid, int timeout_ms)
{
	struct pollfd p = {.fd = notify_fd, .events = POLLIN};
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = size - 1};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *c;
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return false;
	n = recvmsg(notify_fd, &mh, MSG_CMSG_CLOEXEC);
	TU_CHECK(n >= 0, "recvmsg: %s", strerror(errno));
	buf[n] = '\0';
	*ret_pid = 0;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cr;

			memcpy(&cr, CMSG_DATA(c), sizeof(cr));
			*ret_pid = cr.pid;
		}
	return true;
}

/* sevd --psp emu (its own emulator) with the notify environment; WATCHDOG_PID is the child's
 * own pid, so sd_watchdog_enabled() in sevd accepts it. */
static pid_t sevd_spawn(const char *notify_path, const char *sock, const char *log)
{
	_cleanup_free_ char *state = path_join(dir, "state");
	char listen[512];
	pid_t pid;

	snprintf(listen, sizeof(listen), "unix:%s", sock);
	pid = fork();
	TU_CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		char wpid[32];
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		snprintf(wpid, sizeof(wpid), "%d", (int)getpid());
		setenv("NOTIFY_SOCKET", notify_path, 1);
		setenv("WATCHDOG_USEC", "500000", 1);
		setenv("WATCHDOG_PID", wpid, 1);
		execl(tu_exe("SEVD_EXE"), "sevd", "--psp", "emu", "--state-dir", state, "--listen",
		      listen, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* sevd's child named sevd-worker (the other may be its embedded emulator), or -1. */
static pid_t worker_of(pid_t sevd)
{
	char path[96], comm[64];
	_cleanup_free_ uint8_t *kids = NULL;
	char *save = NULL, *tok;
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)sevd, (int)sevd);
	kids = tu_read_file(path, &len);
	if (!kids)
		return -1;
	for (tok = strtok_r((char *)kids, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		_cleanup_free_ uint8_t *c = NULL;
		size_t n = 0;

		snprintf(path, sizeof(path), "/proc/%s/comm", tok);
		c = tu_read_file(path, &n);
		snprintf(comm, sizeof(comm), "%.*s", (int)n, c ? (const char *)c : "");
		if (!strncmp(comm, "sevd-worker", 11))
			return (pid_t)atoi(tok);
	}
	return -1;
}

enum stage { S_START, S_READY, S_STOPPING };

int main(void)
{
	char *npath, *sock, *log;
	char buf[4096];
	unsigned statuses = 0, pings = 0, pings_after_ready = 0, stopping = 0;
	long ready_at = 0, second_ping_at = 0;
	enum stage stage = S_START;
	pid_t pid, from;
	int st;

	if (!getenv("SEVD_EXE") || !getenv("SEV_PSP_EMU_EXE"))
		tu_skip("SEVD_EXE or SEV_PSP_EMU_EXE not set (run through meson test)");
	dir = tu_mkdtemp();
	npath = path_join(dir, "notify.sock");
	sock = path_join(dir, "api.sock");
	log = path_join(dir, "sevd.log");
	notify_fd = notify_listen(npath);
	pid = sevd_spawn(npath, sock, log);

	/* Until READY=1 (bounded: startup includes the emulator and, under ASan, is slow). */
	while (stage == S_START) {
		TU_CHECK(notify_recv(buf, sizeof(buf), &from, 60000),
			 "no READY=1 within 60 s (log %s)", log);
		TU_CHECK(from == pid, "notification from pid %d, not sevd's %d: %s", (int)from,
			 (int)pid, buf);
		TU_CHECK(!strstr(buf, "WATCHDOG=1"), "a watchdog ping before READY=1: %s", buf);
		TU_CHECK(!strstr(buf, "STOPPING=1"), "STOPPING=1 before READY=1: %s", buf);
		if (strstr(buf, "STATUS="))
			statuses++;
		if (strstr(buf, "READY=1")) {
			stage = S_READY;
			ready_at = now_ms();
		}
	}
	TU_CHECK(statuses >= 1, "no STATUS= line up to READY=1");
	TU_CHECK(strstr(buf, "STATUS=Serving") != NULL, "READY=1 without a serving STATUS=: %s",
		 buf);
	TU_CHECK(tu_wait_socket(sock, 10000), "READY=1 but the API socket does not accept");

	/* The watchdog: the main loop pings at WATCHDOG_USEC/2; two pings well within 2 s. */
	while (pings_after_ready < 2 && now_ms() - ready_at < 2000) {
		if (!notify_recv(buf, sizeof(buf), &from, 2000))
			break;
		TU_CHECK(from == pid, "notification from pid %d: %s", (int)from, buf);
		TU_CHECK(!strstr(buf, "STOPPING=1"), "STOPPING=1 before SIGTERM: %s", buf);
		TU_CHECK(!strstr(buf, "READY=1"), "a second READY=1: %s", buf);
		if (strstr(buf, "WATCHDOG=1") && ++pings_after_ready == 2)
			second_ping_at = now_ms();
	}
	TU_CHECK(pings_after_ready >= 2, "%u WATCHDOG=1 pings in 2 s after READY=1 (log %s)",
		 pings_after_ready, log);
	(void)second_ping_at;
	pings = pings_after_ready;

	/* The watchdog follows the API, not the core's main loop alone. With the worker
	 * stopped (SIGSTOP) no health round trip reaches the core, and the pings stop (after
	 * at most WATCHDOG_USEC/2 and one 250 ms loop: 0.8 s are drained first); SIGCONT and
	 * they come again. Before, the core kept pinging with its API frozen. */
	{
		pid_t worker = worker_of(pid);
		long t0;
		unsigned during = 0, after = 0;

		TU_CHECK(worker > 0, "no sevd-worker child of sevd %d", (int)pid);
		TU_CHECK(kill(worker, SIGSTOP) == 0, "SIGSTOP: %s", strerror(errno));
		t0 = now_ms();
		while (now_ms() - t0 < 800)
			(void)notify_recv(buf, sizeof(buf), &from, 100);
		t0 = now_ms();
		while (now_ms() - t0 < 1500)
			if (notify_recv(buf, sizeof(buf), &from, 100) && strstr(buf, "WATCHDOG=1"))
				during++;
		TU_CHECK(kill(worker, SIGCONT) == 0, "SIGCONT: %s", strerror(errno));
		TU_CHECK(during == 0, "%u WATCHDOG=1 pings in 1.5 s while the worker was stopped",
			 during);
		t0 = now_ms();
		while (!after && now_ms() - t0 < 10000)
			if (notify_recv(buf, sizeof(buf), &from, 500) && strstr(buf, "WATCHDOG=1"))
				after++;
		TU_CHECK(after == 1, "no WATCHDOG=1 within 10 s of SIGCONT to the worker");
		printf("worker %d stopped: no WATCHDOG=1 for 1.5 s; pings again %ld ms after "
		       "SIGCONT\n",
		       (int)worker, now_ms() - t0);
	}

	/* SIGTERM: STOPPING=1 next (maybe after a last ping), then sevd exits cleanly. */
	TU_CHECK(kill(pid, SIGTERM) == 0, "kill: %s", strerror(errno));
	while (!stopping && notify_recv(buf, sizeof(buf), &from, 30000)) {
		TU_CHECK(from == pid, "notification from pid %d: %s", (int)from, buf);
		TU_CHECK(!strstr(buf, "READY=1"), "READY=1 while stopping: %s", buf);
		if (strstr(buf, "WATCHDOG=1"))
			pings++;
		if (strstr(buf, "STOPPING=1"))
			stopping++;
	}
	TU_CHECK(stopping == 1, "no STOPPING=1 after SIGTERM (log %s)", log);
	stage = S_STOPPING;
	st = tu_stop(pid, 30000);
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sevd did not exit cleanly: 0x%x (log %s)",
		 st, log);
	/* Nothing after STOPPING=1 but perhaps a final STATUS=. */
	while (notify_recv(buf, sizeof(buf), &from, 100))
		TU_CHECK(!strstr(buf, "WATCHDOG=1") && !strstr(buf, "READY=1"),
			 "after STOPPING=1: %s", buf);
	printf(
	    "READY=1 after %u STATUS= message(s); %u WATCHDOG=1 ping(s); STOPPING=1 (stage %d)\n",
	    statuses, pings, (int)stage);
	close(notify_fd);
	tu_rmtree(dir);
	free(dir);
	free(npath); /* by hand: tu_done() exits */
	free(sock);
	free(log);
	tu_done("daemon-notify");
}
