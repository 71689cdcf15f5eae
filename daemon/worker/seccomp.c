/* The worker's seccomp filter, as classic BPF (seccomp.h), in three parts:
 *  1. the architecture (another ABI, x32 included, kills);
 *  2. a denylist of what an escape from a compromised HTTP worker needs, killed or refused
 *     whatever else is allowed: other processes' memory, new namespaces or mounts, kernel
 *     modules/kexec/bpf/perf, io_uring (which would bypass this filter), keyrings, a new uid,
 *     exec, processes (threads only), signals to anything but itself, dumpable again;
 *  3. outside sanitizer builds, an allowlist (below, with how it was made): anything not on
 *     it answers EPERM. Sanitizer builds stop after 2 and allow the rest: ASan's runtime
 *     (its own mmap/madvise/sigaltstack/... use, a symbolizer it forks) varies by version,
 *     so CI's ASan runs test the denylist and the normal builds the allowlist.
 * The allowlist is the part that can be wrong by omission: a call a rare path of glibc,
 * GnuTLS or OpenSSL makes and the tests never reached fails with EPERM (softly, not with a
 * dead worker). Trusts nothing. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/macros.h"
#include "daemon/worker/seccomp.h"

#if defined(__x86_64__)
#define SEVD_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SEVD_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* Sanitizer builds (CI) keep fork and exec: ASan starts llvm-symbolizer for its reports. */
#if defined(__SANITIZE_ADDRESS__)
#define SEVD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SEVD_SANITIZER 1
#endif
#endif

#define KILL SECCOMP_RET_KILL_PROCESS
#define EPERM_ (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
#define ALLOW SECCOMP_RET_ALLOW

struct deny {
	int nr;
	uint32_t action;
};

#define D(name, action)                                                                            \
	{                                                                                          \
		__NR_##name, action                                                                \
	}

/* Kernel attack surface and other processes: a call here is an attack, the process dies
 * (SIGSYS; the core logs the signal and starts a new worker). Identity and process creation:
 * EPERM, so that a library probing them fails softly. */
static const struct deny deny[] = {
    /* other processes' memory and state */
    D(ptrace, KILL),
    D(process_vm_readv, KILL),
    D(process_vm_writev, KILL),
    D(kcmp, KILL),
    D(pidfd_getfd, KILL),
    D(process_madvise, KILL),
    /* mounts, namespaces, root */
    D(mount, KILL),
    D(umount2, KILL),
    D(pivot_root, KILL),
    D(chroot, KILL),
    D(move_mount, KILL),
    D(open_tree, KILL),
    D(fsopen, KILL),
    D(fsconfig, KILL),
    D(fsmount, KILL),
    D(fspick, KILL),
    D(mount_setattr, KILL),
    D(unshare, KILL),
    D(setns, KILL),
    /* the kernel itself */
    D(kexec_load, KILL),
    D(kexec_file_load, KILL),
    D(init_module, KILL),
    D(finit_module, KILL),
    D(delete_module, KILL),
    D(bpf, KILL),
    D(perf_event_open, KILL),
    D(reboot, KILL),
    D(swapon, KILL),
    D(swapoff, KILL),
    D(open_by_handle_at, KILL),
    D(name_to_handle_at, KILL),
    D(userfaultfd, KILL),
    D(acct, KILL),
    D(quotactl, KILL),
    D(syslog, KILL),
    D(settimeofday, KILL),
    D(clock_settime, KILL),
    D(clock_adjtime, KILL),
    D(adjtimex, KILL),
    D(sethostname, KILL),
    D(setdomainname, KILL),
    D(vhangup, KILL),
    D(io_uring_setup, KILL),
    D(io_uring_enter, KILL),
    D(io_uring_register, KILL),
#ifdef __NR_iopl
    D(iopl, KILL),
    D(ioperm, KILL),
#endif
#ifdef __NR_uselib
    D(uselib, KILL),
#endif
    /* listening sockets: the core owns the Unix listener and hands the worker its
     * connections (core/conns.h), and the TCP/TLS listeners come bound and listening; a
     * worker that binds or listens is serving something the core did not give it */
    D(bind, KILL),
    D(listen, KILL),
    /* keyrings */
    D(add_key, EPERM_),
    D(request_key, EPERM_),
    D(keyctl, EPERM_),
    /* identity: dropped for good before the filter */
    D(setuid, EPERM_),
    D(setgid, EPERM_),
    D(setreuid, EPERM_),
    D(setregid, EPERM_),
    D(setresuid, EPERM_),
    D(setresgid, EPERM_),
    D(setgroups, EPERM_),
    D(setfsuid, EPERM_),
    D(setfsgid, EPERM_),
    D(capset, EPERM_),
    D(personality, EPERM_),
    D(mknodat, EPERM_),
#ifdef __NR_mknod
    D(mknod, EPERM_),
#endif
    /* other processes by pidfd, and thread-id signals (tgkill below is checked) */
    D(pidfd_open, EPERM_),
    D(pidfd_send_signal, EPERM_),
    D(tkill, EPERM_),
#ifndef SEVD_SANITIZER
    /* no new programs, no new processes (threads only: clone below) */
    D(execve, EPERM_),
    D(execveat, EPERM_),
#ifdef __NR_fork
    D(fork, EPERM_),
    D(vfork, EPERM_),
#endif
#endif
};

/* Outside sanitizer builds, after the checks above, an ALLOWLIST: what the worker (glibc,
 * libmicrohttpd, GnuTLS, OpenSSL, json-c, libsystemd's journal logging) was seen to call
 * under the test suite (strace of daemon-roles-tls, daemon-guest, daemon-hostile: 31
 * distinct calls after the filter) plus the ordinary calls of the same code paths not
 * exercised there (file reads for lazily loaded library config, journald's socket and
 * memfd, time, sleeps, signal delivery). Anything else answers EPERM (a soft failure rather
 * than a dead worker for a rare path this list missed). socket() is AF_UNIX only (journald),
 * and AF_INET/AF_INET6 too only when sevd.conf kds_url is a URL (the SNP certificate table's
 * fetch, worker/kds-fetch.c: it connects to the address resolved before the filter, so no
 * DNS runs under it); ioctl() the terminal/FIONREAD/FIONBIO
 * requests only, prctl() the thread-name options only. Sanitizer builds keep the denylist
 * alone: ASan's runtime makes calls of its own that vary by version. */
#ifndef SEVD_SANITIZER
#define SEVD_ALLOWLIST 1
static const int allow[] = {
    /* memory */
    __NR_brk,
    __NR_mmap,
    __NR_munmap,
    __NR_mprotect,
    __NR_mremap,
    __NR_madvise,
    __NR_mlock,
    __NR_munlock,
    __NR_mincore,
    __NR_membarrier,
    /* descriptors */
    __NR_read,
    __NR_write,
    __NR_readv,
    __NR_writev,
    __NR_pread64,
    __NR_pwrite64,
    __NR_lseek,
    __NR_close,
    __NR_dup,
    __NR_dup3,
    __NR_fcntl,
    __NR_ftruncate,
    __NR_memfd_create,
    __NR_pipe2,
    __NR_eventfd2,
    __NR_signalfd4,
    __NR_timerfd_create,
    __NR_timerfd_settime,
    __NR_timerfd_gettime,
    /* files (what the uid may read: library config, /proc/self) */
    __NR_openat,
    __NR_newfstatat,
    __NR_fstat,
    __NR_statx,
    __NR_readlinkat,
    __NR_getdents64,
    __NR_faccessat,
    __NR_faccessat2,
    __NR_getcwd,
    /* sockets: accept4 on the TCP/TLS listeners it inherits (libmicrohttpd); recvmsg on
     * the core's handoff of Unix connections (SCM_RIGHTS) and the staging fd; recv/send*
     * on connections and core channels; shutdown (header deadline, handed-off connections
     * at their end); get/setsockopt (SO_PEERCRED for the early role, TCP options);
     * getsockname (socket activation); connect + sendmsg to journald. Not accept,
     * getpeername or sendmmsg: no path uses them (strace of the TLS, upload, migration,
     * SNP and API tests), and no bind or listen (denylist above) */
    __NR_accept4,
    __NR_recvfrom,
    __NR_recvmsg,
    __NR_sendto,
    __NR_sendmsg,
    __NR_shutdown,
    __NR_getsockname,
    __NR_getsockopt,
    __NR_setsockopt,
    __NR_connect,
    /* waiting */
    __NR_ppoll,
    __NR_pselect6,
    __NR_epoll_create1,
    __NR_epoll_ctl,
    __NR_epoll_pwait,
    __NR_epoll_pwait2,
    __NR_futex,
    __NR_nanosleep,
    __NR_clock_nanosleep,
    __NR_sched_yield,
    /* threads, signals, exit */
    __NR_set_robust_list,
    __NR_get_robust_list,
    __NR_rseq,
    __NR_set_tid_address,
    __NR_sched_getaffinity,
    __NR_gettid,
    __NR_getpid,
    __NR_getppid,
    __NR_exit,
    __NR_exit_group,
    __NR_rt_sigaction,
    __NR_rt_sigprocmask,
    __NR_rt_sigreturn,
    __NR_rt_sigtimedwait,
    __NR_rt_sigpending,
    __NR_sigaltstack,
    __NR_restart_syscall,
    /* time, identity (read), limits, randomness */
    __NR_clock_gettime,
    __NR_clock_getres,
    __NR_gettimeofday,
    __NR_getuid,
    __NR_geteuid,
    __NR_getgid,
    __NR_getegid,
    __NR_getgroups,
    __NR_getresuid,
    __NR_getresgid,
    __NR_uname,
    __NR_sysinfo,
    __NR_prlimit64,
    __NR_getrusage,
    __NR_getrandom,
#ifdef __x86_64__
    /* the x86-64 forms of the same (aarch64 has only the *at / p* ones) */
    __NR_open,
    __NR_stat,
    __NR_lstat,
    __NR_access,
    __NR_readlink,
    __NR_pipe,
    __NR_dup2,
    __NR_poll,
    __NR_select,
    __NR_epoll_create,
    __NR_epoll_wait,
    __NR_eventfd,
    __NR_time,
    __NR_getrlimit,
    __NR_arch_prctl,
#endif
};

/* Calls allowed with their argument `arg` (low 32 bits) in a set only: socket_ok's first
 * entry alone, or all three with the KDS fetch. */
static const uint32_t socket_ok[] = {AF_UNIX, AF_INET, AF_INET6};
static const uint32_t ioctl_ok[] = {TCGETS, FIONREAD, FIONBIO, FIOCLEX};
static const uint32_t prctl_ok[] = {
    PR_SET_NAME,
    PR_GET_NAME,
    PR_GET_DUMPABLE,
#ifdef PR_SET_VMA
    PR_SET_VMA,
#endif
};
#endif

#define NS_FLAGS                                                                                   \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |             \
	 CLONE_NEWPID | CLONE_NEWNET)
#define ARG0_LO offsetof(struct seccomp_data, args[0])
#define ARG0_HI (offsetof(struct seccomp_data, args[0]) + 4) /* little endian only (both) */

#define STMT(code, k) ((struct sock_filter)BPF_STMT(code, k))
#define JUMP(code, k, jt, jf) ((struct sock_filter)BPF_JUMP(code, k, jt, jf))

#ifdef SEVD_ALLOWLIST
/* `nr` with args[arg] (low 32 bits) in vals: ALLOW, else EPERM. Every path returns. */
static unsigned arg_in(struct sock_filter *p, unsigned n, int nr, unsigned arg,
		       const uint32_t *vals, unsigned nvals)
{
	p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, (uint8_t)(nvals + 3));
	p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[arg]));
	for (unsigned j = 0; j < nvals; j++)
		p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, vals[j], (uint8_t)(nvals - j), 0);
	p[n++] = STMT(BPF_RET | BPF_K, EPERM_);
	p[n++] = STMT(BPF_RET | BPF_K, ALLOW);
	return n;
}
#endif

/* Writes the program into p (at least PROG_MAX slots) and returns its length. */
static unsigned build(struct sock_filter *p, pid_t self, bool inet)
{
	unsigned n = 0;

	p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, SEVD_AUDIT_ARCH, 1, 0);
	p[n++] = STMT(BPF_RET | BPF_K, KILL);
	p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#ifdef __x86_64__
	/* x32 syscalls share AUDIT_ARCH_X86_64 and differ by this bit: none are legitimate. */
	p[n++] = JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1);
	p[n++] = STMT(BPF_RET | BPF_K, KILL);
#endif
	for (size_t i = 0; i < ELEMENTSOF(deny); i++) {
		p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)deny[i].nr, 0, 1);
		p[n++] = STMT(BPF_RET | BPF_K, deny[i].action);
	}
	/* clone3 passes its flags in memory, out of a filter's reach: ENOSYS makes glibc fall
	 * back to clone, whose flags are checked below. */
	p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1);
	p[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
	/* clone: threads only (no namespace flags; outside sanitizer builds CLONE_THREAD). */
	p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 5);
	p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO);
	p[n++] = JUMP(BPF_JMP | BPF_JSET | BPF_K, NS_FLAGS, 2, 0);
#ifdef SEVD_SANITIZER
	p[n++] = JUMP(BPF_JMP | BPF_JSET | BPF_K, 0, 0, 0); /* no-op: same length */
#else
	p[n++] = JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1);
#endif
	p[n++] = STMT(BPF_RET | BPF_K, ALLOW);
	p[n++] = STMT(BPF_RET | BPF_K, EPERM_);
	/* kill and tgkill: to itself only (raise, abort, pthread_kill), never to other
	 * processes of the same uid ("nobody" may run other services). */
	for (int k = 0; k < 2; k++) {
		p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, k ? __NR_tgkill : __NR_kill, 0, 6);
		p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO);
		p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)self, 0, 3);
		p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_HI);
		p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1);
		p[n++] = STMT(BPF_RET | BPF_K, ALLOW);
		p[n++] = STMT(BPF_RET | BPF_K, EPERM_);
	}
#ifdef SEVD_ALLOWLIST
	n = arg_in(p, n, __NR_socket, 0, socket_ok, inet ? ELEMENTSOF(socket_ok) : 1);
	n = arg_in(p, n, __NR_ioctl, 1, ioctl_ok, ELEMENTSOF(ioctl_ok));
	n = arg_in(p, n, __NR_prctl, 0, prctl_ok, ELEMENTSOF(prctl_ok));
	for (size_t i = 0; i < ELEMENTSOF(allow); i++) {
		p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)allow[i], 0, 1);
		p[n++] = STMT(BPF_RET | BPF_K, ALLOW);
	}
	p[n++] = STMT(BPF_RET | BPF_K, EPERM_);
#else
	/* prctl: never dumpable again, never a ptracer exception (Yama). */
	p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_prctl, 0, 5);
	p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO);
	p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_DUMPABLE, 2, 0);
	p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_PTRACER, 1, 0);
	p[n++] = STMT(BPF_RET | BPF_K, ALLOW);
	p[n++] = STMT(BPF_RET | BPF_K, EPERM_);
	p[n++] = STMT(BPF_RET | BPF_K, ALLOW);
	(void)inet; /* the denylist leaves socket() alone */
#endif
	return n;
}

bool sevd_seccomp_allowlist(void)
{
#ifdef SEVD_ALLOWLIST
	return true;
#else
	return false;
#endif
}

#define PROG_MAX 512
#ifdef SEVD_ALLOWLIST
_Static_assert(2 * (ELEMENTSOF(deny) + ELEMENTSOF(allow)) + 80 < PROG_MAX,
	       "the filter fits its buffer");
#endif

int sevd_seccomp_program_len(bool inet)
{
#ifdef SEVD_AUDIT_ARCH
	struct sock_filter p[PROG_MAX];

	return (int)build(p, getpid(), inet);
#else
	return -EOPNOTSUPP;
#endif
}

int sevd_seccomp_install(bool inet)
{
#ifdef SEVD_AUDIT_ARCH
	struct sock_filter p[PROG_MAX];
	struct sock_fprog prog = {.filter = p};

	prog.len = (unsigned short)build(p, getpid(), inet);
	/* no_new_privs is set by the caller already; it is a precondition of an unprivileged
	 * filter, so a caller that forgot gets EACCES here rather than a silent success. */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return negative_errno();
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}
