/* The embedded emulator process. Trusts the binary it finds (same install as sevd). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/util.h"
#include "config.h"
#include "daemon/core/emu-child.h"

char *sevd_emu_find_exe(const char *exe_override)
{
	const char *env = getenv("SEV_PSP_EMU_EXE");
	char self[PATH_MAX];
	ssize_t n;

	if (exe_override)
		return strdup(exe_override);
	if (env && *env)
		return strdup(env);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash, *p;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			p = path_join(self, "sev-psp-emu");
			if (p && access(p, X_OK) == 0)
				return p;
			free(p);
			/* In a build tree sevd sits in daemon/ and the emulator in psp/emu/. */
			p = path_join(self, "../psp/emu/sev-psp-emu");
			if (p && access(p, X_OK) == 0)
				return p;
			free(p);
		}
	}
	return strdup(SEVD_LIBEXEC_EMU);
}

static bool socket_ready(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
		return false;
	strcpy(sa.sun_path, path);
	return connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

int sevd_emu_start(const char *exe, const char *socket_path, const char *nv_path, uint32_t ecx,
		   uint32_t edx, bool snp, pid_t *ret_pid)
{
	char ecx_s[16], edx_s[16];
	const char *argv[13];
	size_t i = 0;
	pid_t pid;

	argv[i++] = exe;
	argv[i++] = "--socket";
	argv[i++] = socket_path;
	argv[i++] = "--nv";
	argv[i++] = nv_path;
	if (ecx) {
		snprintf(ecx_s, sizeof(ecx_s), "%u", ecx);
		argv[i++] = "--cpuid-ecx";
		argv[i++] = ecx_s;
	}
	if (edx) {
		snprintf(edx_s, sizeof(edx_s), "%u", edx);
		argv[i++] = "--cpuid-edx";
		argv[i++] = edx_s;
	}
	if (snp)
		argv[i++] = "--snp";
	argv[i] = NULL;
	(void)unlink(socket_path);
	pid = fork();
	if (pid < 0)
		return log_error_errno(errno, "fork: %m");
	if (pid == 0) {
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL); /* sevd blocks signals for sigwait */
		execv(exe, (char *const *)argv);
		fprintf(stderr, "sevd: cannot run %s: %m\n", exe);
		_exit(127);
	}
	/* The first start generates the emulated chip's RSA-4096 root: allow time for it. */
	for (int ms = 0; ms < 120000; ms += 20) {
		int st;

		if (socket_ready(socket_path)) {
			*ret_pid = pid;
			log_info("Started %s (pid %d) on %s", exe, (int)pid, socket_path);
			return 0;
		}
		if (waitpid(pid, &st, WNOHANG) == pid)
			return log_error_errno(ECHILD, "%s exited during start-up (status 0x%x); "
						       "see its messages above",
					       exe, st);
		nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
	}
	sevd_emu_stop(pid);
	return log_error_errno(ETIMEDOUT, "%s did not open %s in time", exe, socket_path);
}

void sevd_emu_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int ms = 0; ms < 10000; ms += 20) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
