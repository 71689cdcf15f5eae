/* The core's supervision of its HTTP worker (worker.h): fork + exec /proc/self/exe --worker
 * with the listening sockets, a ready pipe and fresh core channels at fixed fd numbers, wait
 * until it serves, restart it when it ends (within a bound), stop it with the core. Runs on
 * the core's main thread only (the worker's parent-death signal follows the thread that
 * forked it). Trusts the worker with nothing: its channels are served by daemon/ipc/core-side.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "daemon/core/conns.h"
#include "daemon/ipc/ipc.h"
#include "daemon/core/metrics.h"
#include "daemon/worker.h"

#define READY_TIMEOUT_MS 60000 /* a worker under ASan on a loaded CI host is slow to start */
#define STOP_TIMEOUT_MS 10000  /* SIGTERM, then SIGKILL */
#define FD_MAX (SEVD_WORKER_FD_START + 64 + 1 + SEVD_WORKER_CHANNELS + 2)

extern char **environ;

struct sevd_worker_ctl {
	struct sevd_worker_ctl_config cfg;
	pid_t pid;
	int pidfd;
	int lifeline; /* read end of the worker's ready pipe: open while it lives (worker.c) */
	time_t restarts[SEVD_WORKER_RESTARTS];
	unsigned n_restarts;
	bool served;	 /* a worker served once: sevd sent READY=1 */
	bool unkillable; /* the core may not signal it (no CAP_KILL): sevd must exit */
};

int sevd_worker_ctl_new(const struct sevd_worker_ctl_config *cfg, struct sevd_worker_ctl **ret)
{
	struct sevd_worker_ctl *w;

	if (cfg->n_listen > 64)
		return -E2BIG;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cfg = *cfg;
	w->pidfd = w->lifeline = -1;
	*ret = w;
	return 0;
}

pid_t sevd_worker_ctl_pid(const struct sevd_worker_ctl *w)
{
	return w ? w->pid : 0;
}

/* The worker's environment: sevd's, without what belongs to the core alone (sd_notify,
 * the watchdog, socket activation). */
static char **worker_env(void)
{
	static const char *const drop[] = {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
					   "LISTEN_PID=",    "LISTEN_FDS=",    "LISTEN_FDNAMES="};
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 1, sizeof(char *));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool keep = true;

		for (size_t d = 0; d < ELEMENTSOF(drop); d++)
			keep &= strncmp(environ[i], drop[d], strlen(drop[d])) != 0;
		if (keep)
			env[k++] = environ[i];
	}
	return env;
}

/* argv: sevd's own name, --worker L,C,R, then sevd's own arguments (the worker reads the same
 * config and flags). */
static char **worker_argv(const struct sevd_worker_ctl *w, char *spec)
{
	size_t n = 0;
	char **argv;

	while (w->cfg.argv[n])
		n++;
	argv = calloc(n + 3, sizeof(char *));
	if (!argv)
		return NULL;
	argv[0] = w->cfg.argv[0];
	argv[1] = (char *)"--worker";
	argv[2] = spec;
	for (size_t i = 1; i < n; i++)
		argv[i + 2] = w->cfg.argv[i];
	return argv;
}

/* In the child, between fork and exec: async-signal-safe calls only. The inherited fds go to
 * 3.. in order (through copies above the target range, so no source is overwritten before it
 * is copied); everything above is closed, whatever its close-on-exec flag. */
_Noreturn static void child_exec(const int *src, unsigned n, char **argv, char **env, pid_t parent)
{
	int tmp[FD_MAX];
	sigset_t none;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		_exit(126);
	for (unsigned i = 0; i < n; i++)
		if ((tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, SEVD_WORKER_FD_START + (int)n)) < 0)
			_exit(126);
	for (unsigned i = 0; i < n; i++)
		if (dup2(tmp[i], SEVD_WORKER_FD_START + (int)i) < 0) /* clears close-on-exec */
			_exit(126);
	if (close_range(SEVD_WORKER_FD_START + n, ~0u, 0) < 0)
		_exit(126);
	/* SIGTERM/SIGINT stay blocked (the worker waits for them); nothing else. */
	sigemptyset(&none);
	sigaddset(&none, SIGTERM);
	sigaddset(&none, SIGINT);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve("/proc/self/exe", argv, env);
	_exit(127);
}

static void close_all(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Wait for "R" on the ready pipe, pinging the watchdog; -EPIPE when the worker ended first. */
static int wait_ready(struct sevd_worker_ctl *w, int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;

	for (int waited = 0; waited < READY_TIMEOUT_MS; waited += 250) {
		/* systemd's watchdog runs from READY=1 on: the first start sends no pings. */
		if (w->cfg.ping && w->served)
			w->cfg.ping();
		int k = poll(&p, 1, 250);

		if (k < 0 && errno != EINTR)
			return negative_errno();
		if (k <= 0)
			continue;
		k = (int)read(fd, &c, 1);
		return k == 1 && c == 'R' ? 0 : -EPIPE;
	}
	return -ETIMEDOUT;
}

static void reap(struct sevd_worker_ctl *w, bool log)
{
	int st;

	if (w->pid <= 0)
		return;
	if (waitpid(w->pid, &st, 0) == w->pid && log) {
		if (WIFSIGNALED(st))
			log_error("The worker (pid %d) was killed by %s%s", (int)w->pid,
				  strsignal(WTERMSIG(st)),
				  WTERMSIG(st) == SIGSYS
				      ? " (a system call its seccomp filter forbids)"
				      : "");
		else
			log_error("The worker (pid %d) exited with status %d", (int)w->pid,
				  WEXITSTATUS(st));
	}
	if (w->pidfd >= 0)
		close(w->pidfd);
	if (w->lifeline >= 0)
		close(w->lifeline);
	w->pidfd = w->lifeline = -1;
	w->pid = 0;
}

/* SIGTERM and the lifeline closed, SIGKILL after a bound, then reaped. A worker the core may
 * not signal (no CAP_KILL) ends by itself when its lifeline closes; if even that does not
 * happen it is left (it has no channel to the core any more) rather than waited for. */
static void stop(struct sevd_worker_ctl *w)
{
	struct pollfd p = {.fd = w->pidfd, .events = POLLIN};

	if (w->pid <= 0)
		return;
	(void)pidfd_send_signal(w->pidfd, SIGTERM, NULL, 0);
	if (w->lifeline >= 0)
		close(w->lifeline);
	w->lifeline = -1;
	if (poll(&p, 1, STOP_TIMEOUT_MS) <= 0) {
		log_warning("The worker (pid %d) did not stop in %u s; killing it", (int)w->pid,
			    STOP_TIMEOUT_MS / 1000);
		if (pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0) < 0 && errno == EPERM) {
			log_error("Cannot kill the worker (pid %d): no CAP_KILL", (int)w->pid);
			close(w->pidfd);
			w->pidfd = -1;
			w->pid = 0;
			return;
		}
	}
	reap(w, false);
}

static int spawn(struct sevd_worker_ctl *w)
{
	unsigned nl = w->cfg.n_listen, nc = SEVD_WORKER_CHANNELS, nr = w->cfg.region_fd >= 0;
	unsigned nh = w->cfg.conns != NULL, n = nl + 1 + nc + nr + nh;
	int src[FD_MAX], core_end[SEVD_WORKER_CHANNELS], ready[2] = {-1, -1}, r;
	int handoff[2] = {-1, -1};
	_cleanup_free_ char **argv = NULL, **env = NULL;
	char spec[32];
	pid_t pid, self = getpid();

	for (unsigned i = 0; i < nc; i++)
		core_end[i] = src[nl + 1 + i] = -1;
	memcpy(src, w->cfg.listen_fds, nl * sizeof(int));
	r = pipe2(ready, O_CLOEXEC) < 0 ? negative_errno() : 0;
	src[nl] = ready[1];
	for (unsigned i = 0; i < nc && r == 0; i++) {
		int sp[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
			r = negative_errno();
			break;
		}
		core_end[i] = sp[0];
		src[nl + 1 + i] = sp[1];
	}
	if (nr) /* the region, read-only for the worker by its seals; the core keeps its fd */
		src[nl + 1 + nc] = w->cfg.region_fd;
	/* The handoff socket: the core's Unix listener sends the worker its connections. */
	if (nh && r == 0 &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, handoff) < 0)
		r = negative_errno();
	if (nh)
		src[nl + 1 + nc + nr] = handoff[1];
	snprintf(spec, sizeof(spec), "%u,%u,%u,%u", nl, nc, nr, nh);
	argv = worker_argv(w, spec);
	env = worker_env();
	if (r == 0 && (!argv || !env))
		r = -ENOMEM;
	pid = r == 0 ? fork() : -1;
	if (pid == 0)
		child_exec(src, n, argv, env, self);
	if (r == 0 && pid < 0)
		r = negative_errno();
	close_all(src + nl, 1 + nc); /* the worker's ends: its own now */
	close_all(handoff + 1, 1);
	if (r < 0) {
		close_all(core_end, nc);
		close_all(ready, 1);
		close_all(handoff, 1);
		return log_error_errno(r, "Cannot start the worker: %m");
	}
	w->pid = pid;
	w->pidfd = pidfd_open(pid, 0);
	if (w->pidfd < 0) {
		r = log_error_errno(errno, "pidfd_open(worker %d): %m", (int)pid);
		close_all(core_end, nc);
	} else {
		r = sevd_ipc_server_serve(w->cfg.server, w->pidfd, pid, core_end, nc);
	}
	if (r == 0)
		r = wait_ready(w, ready[0]);
	if (r == 0 && pidfd_send_signal(w->pidfd, 0, NULL, 0) < 0 && errno == EPERM)
		/* A core that is not root signals a worker of another uid (which it has now) only
		 * with CAP_KILL; without it a malformed message could not end the worker. (The
		 * worker still dies with the core: the parent-death signal needs no permission.) */
		r = log_error_errno(EPERM,
				    "sevd (uid %u) cannot signal its worker, which runs as "
				    "another uid: give sevd CAP_KILL (sevd.service does) or run "
				    "it as root",
				    (unsigned)getuid());
	w->lifeline = ready[0];
	if (r < 0)
		close_all(handoff, 1);
	if (r == -EPERM) {
		stop(w); /* it ends itself once the lifeline is closed */
		w->unkillable = true;
		return r;
	}
	if (r < 0) {
		log_error_errno(r,
				r == -ETIMEDOUT ? "The worker (pid %d) did not start serving in "
						  "time"
						: "The worker (pid %d) ended before serving",
				(int)pid);
		kill(pid, SIGKILL);
		reap(w, true);
		return r;
	}
	/* Unix clients wait in the backlog until the worker serves, then go to it. */
	sevd_conns_worker(w->cfg.conns, handoff[0]);
	handoff[0] = -1;
	log_info("Worker pid %d serves the API", (int)pid);
	w->served = true;
	return 0;
}

int sevd_worker_ctl_start(struct sevd_worker_ctl *w)
{
	return spawn(w);
}

/* Room for one more restart in the window? */
static bool restart_allowed(struct sevd_worker_ctl *w)
{
	time_t now = time(NULL);
	unsigned k = 0;

	for (unsigned i = 0; i < w->n_restarts; i++)
		if (now - w->restarts[i] < SEVD_WORKER_RESTART_WINDOW_S)
			w->restarts[k++] = w->restarts[i];
	w->n_restarts = k;
	if (k >= SEVD_WORKER_RESTARTS)
		return false;
	w->restarts[w->n_restarts++] = now;
	return true;
}

int sevd_worker_ctl_check(struct sevd_worker_ctl *w)
{
	siginfo_t si = {0};

	if (w->unkillable)
		return -EPERM;
	if (w->pid > 0) {
		if (waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
		    si.si_pid != w->pid)
			return 0; /* alive */
		reap(w, true);
	}
	/* A worker that dies at once would be restarted in a loop: bounded here. */
	if (!restart_allowed(w)) {
		log_error(
		    "The worker ended %u times within %u s; giving up (systemd restarts sevd)",
		    SEVD_WORKER_RESTARTS, SEVD_WORKER_RESTART_WINDOW_S);
		return -EMLINK;
	}
	log_notice("Starting a new worker (guests, ASIDs and the journal are the core's and "
		   "unchanged)");
	sevd_metrics_worker_restarted();
	/* On failure the next check counts another restart, unless it cannot be undone. */
	return spawn(w) == -EPERM ? -EPERM : 0;
}

void sevd_worker_ctl_free(struct sevd_worker_ctl *w)
{
	if (!w)
		return;
	stop(w);
	free(w);
}
