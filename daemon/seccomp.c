/* The worker's seccomp filter, as classic BPF (seccomp.h). A denylist: everything is allowed
 * except the calls listed below. Why not an allowlist: the worker runs glibc, libmicrohttpd
 * (threads, epoll/poll), GnuTLS and OpenSSL (getrandom, lazily read config files, CPU
 * probing), json-c, and in CI AddressSanitizer (its own mmap/madvise/sigaltstack/... use);
 * the set of calls those make changes between versions and build options, and a missing one
 * kills a production worker at a random request. What the denylist does give, with the
 * uid/capability drop and no_new_privs before it (worker.c), is that a compromised HTTP
 * worker cannot use the kernel interfaces an escape needs: other processes' memory, new
 * namespaces or mounts, kernel modules/kexec/bpf/perf, io_uring (which would bypass this
 * filter), keyrings, a new uid, exec, or signals to anything but itself. Trusts nothing. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/macros.h"
#include "daemon/seccomp.h"

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

#define NS_FLAGS                                                                                   \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |             \
	 CLONE_NEWPID | CLONE_NEWNET)
#define ARG0_LO offsetof(struct seccomp_data, args[0])
#define ARG0_HI (offsetof(struct seccomp_data, args[0]) + 4) /* little endian only (both) */

#define STMT(code, k) ((struct sock_filter)BPF_STMT(code, k))
#define JUMP(code, k, jt, jf) ((struct sock_filter)BPF_JUMP(code, k, jt, jf))

/* Writes the program into p (at least 256 slots) and returns its length. */
static unsigned build(struct sock_filter *p, pid_t self)
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
	p[n++] = STMT(BPF_RET | BPF_K, ALLOW);
	return n;
}

#define PROG_MAX 256
_Static_assert(2 * ELEMENTSOF(deny) + 40 < PROG_MAX, "the filter fits its buffer");

int sevd_seccomp_program_len(void)
{
#ifdef SEVD_AUDIT_ARCH
	struct sock_filter p[PROG_MAX];

	return (int)build(p, getpid());
#else
	return -EOPNOTSUPP;
#endif
}

int sevd_seccomp_install(void)
{
#ifdef SEVD_AUDIT_ARCH
	struct sock_filter p[PROG_MAX];
	struct sock_fprog prog = {.filter = p};

	prog.len = (unsigned short)build(p, getpid());
	/* no_new_privs is set by the caller already; it is a precondition of an unprivileged
	 * filter, so a caller that forgot gets EACCES here rather than a silent success. */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return negative_errno();
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}
