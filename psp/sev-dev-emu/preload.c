/* libsev-dev-emu.so: LD_PRELOAD=.../libsev-dev-emu.so SEV_EMU_SOCKET=/path/psp.sock program
 * makes the program's /dev/sev a device served by the sev-psp-emu on that socket, with
 * ioctl(SEV_ISSUE_CMD) answered as Linux's ccp driver answers it (kernel.h says which version
 * and how), and /dev/cpu/N/cpuid answering the emulator's CPUID Fn8000_001F and, with SNP,
 * Fn0000_0001 EAX (the family, model and stepping of the part it models).
 *
 * How a descriptor is "ours": open("/dev/sev") returns a fresh open of one private memfd
 * (through /proc/self/fd, with the caller's access mode), so the descriptor is a real one:
 * close, dup, dup2, fcntl, fork and poll need no interposition and cannot get out of step
 * with a table. ioctl() recognises it by the memfd's device and inode (fstat), and takes
 * FMODE_WRITE from its access mode (fcntl F_GETFL), as the kernel takes it from the file.
 * Interposed (dlsym RTLD_NEXT for the real ones): open, open64, openat, openat64, their
 * _FORTIFY_SOURCE forms __open_2, __open64_2, __openat_2, __openat64_2, and ioctl. Paths are
 * matched as spelt ("/dev/sev", "/dev/cpu/<n>/cpuid"); everything else passes through.
 * The emulator connection (the emu transport of libpsp) opens at the first open of /dev/sev
 * and stays for the process; a forked child that uses the device opens its own. Without
 * SEV_EMU_SOCKET, or when the emulator does not answer, open fails with ENXIO and one line on
 * stderr saying why. */
/* The interposers define open and open64 (etc.) themselves: the header redirections that
 * _FILE_OFFSET_BITS=64 and _FORTIFY_SOURCE make (open -> open64, inline wrappers) stay off. */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"
#include "psp/psp-emu.h"
#include "psp/sev-dev-emu/kernel.h"
#include "psp/transport.h"

#define EXPORT __attribute__((visibility("default")))
#define CPUID_LEAF 0x8000001Fu

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*ioctl_fn)(int, unsigned long, ...);

static struct {
	pthread_mutex_t lock;
	open_fn open;
	openat_fn openat;
	ioctl_fn ioctl;
	struct sde_kernel *kernel;
	pid_t pid;	       /* the process the kernel's connection belongs to */
	int dev_fd, cpuid_fd;  /* the memfds behind /dev/sev and /dev/cpu/N/cpuid, or -1 */
	dev_t dev_dev;
	ino_t dev_ino;
	bool have_dev;	       /* dev_dev/dev_ino are set (read without the lock by ioctl) */
} g = { .lock = PTHREAD_MUTEX_INITIALIZER, .dev_fd = -1, .cpuid_fd = -1 };

static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;

static void resolve(void)
{
	g.open = (open_fn)dlsym(RTLD_NEXT, "open");
	g.openat = (openat_fn)dlsym(RTLD_NEXT, "openat");
	g.ioctl = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
}

static void say(const char *what, int err)
{
	fprintf(stderr, "libsev-dev-emu: cannot serve /dev/sev: %s%s%s\n", what,
		err ? ": " : "", err ? strerror(err) : "");
}

/* The kernel for this process: probed at the first open (again in a forked child). */
static int kernel_get(struct sde_kernel **ret)
{
	const char *sock = getenv("SEV_EMU_SOCKET");
	struct psp_transport *t = NULL;
	char spec[4096];
	int r;

	if (g.kernel && g.pid == getpid()) {
		*ret = g.kernel;
		return 0;
	}
	sde_kernel_free(g.kernel); /* a parent's: closes only this process's copies */
	g.kernel = NULL;
	if (!sock || !*sock) {
		say("SEV_EMU_SOCKET is not set (set it to the socket a sev-psp-emu listens on)", 0);
		return -ENXIO;
	}
	snprintf(spec, sizeof(spec), "emu:%s", sock);
	r = psp_open(spec, &t);
	if (r < 0) {
		say("the emulator at SEV_EMU_SOCKET does not answer (is sev-psp-emu running?)", -r);
		return -ENXIO;
	}
	r = sde_kernel_new(t, &g.kernel);
	if (r < 0) {
		psp_close(t);
		say("PLATFORM_STATUS at probe failed", -r);
		return -ENXIO;
	}
	g.pid = getpid();
	*ret = g.kernel;
	return 0;
}

/* Leaf 1 as the part the emulator models would answer it: its EAX (CTL cpuid-fms, SNP only),
 * the rest the host's; the host's whole leaf when the emulator models no part. */
static void leaf1(struct sde_kernel *k, uint32_t regs[4])
{
	_cleanup_free_ uint8_t *reply = NULL;
	unsigned fms;
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		a = b = c = d = 0;
	regs[0] = a, regs[1] = b, regs[2] = c, regs[3] = d;
	if (psp_emu_ctl(k->t, "cpuid-fms", &reply, NULL) == 0 && reply &&
	    sscanf((const char *)reply, "%x", &fms) == 1)
		regs[0] = fms;
}

/* A sparse memfd whose bytes at offset LEAF are the leaf's EAX..EDX, as the cpuid driver's
 * pread(fd, buf, 16, leaf) answers (leaves 1 and 8000_001F; the others read as zeros). */
static int cpuid_memfd(struct sde_kernel *k)
{
	struct psp_cpuid c;
	uint32_t regs[4], l1[4];
	int fd, r = psp_get_cpuid(k->t, &c);

	if (r < 0)
		return r;
	regs[0] = c.eax, regs[1] = c.ebx, regs[2] = c.ecx, regs[3] = c.edx;
	leaf1(k, l1);
	fd = memfd_create("sev-dev-emu-cpuid", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)CPUID_LEAF + sizeof(regs)) < 0 ||
	    pwrite(fd, l1, sizeof(l1), 1) != (ssize_t)sizeof(l1) ||
	    pwrite(fd, regs, sizeof(regs), CPUID_LEAF) != (ssize_t)sizeof(regs)) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int dev_memfd(void)
{
	struct stat st;
	int fd = memfd_create("sev-dev-emu", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	g.dev_dev = st.st_dev;
	g.dev_ino = st.st_ino;
	__atomic_store_n(&g.have_dev, true, __ATOMIC_RELEASE);
	return fd;
}

/* A new open file description of memfd `fd` with the caller's access mode and flags. */
static int reopen(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return g.open(path, flags & (O_ACCMODE | O_CLOEXEC | O_NONBLOCK));
}

static bool is_cpuid_path(const char *p)
{
	const char *n = p + strlen("/dev/cpu/");

	if (strncmp(p, "/dev/cpu/", strlen("/dev/cpu/")) != 0 || *n < '0' || *n > '9')
		return false;
	while (*n >= '0' && *n <= '9')
		n++;
	return strcmp(n, "/cpuid") == 0;
}

/* -1 when the path is not ours (the caller passes it through), else the open's result. */
static int open_emulated(const char *path, int flags)
{
	bool cpuid = path && is_cpuid_path(path);
	struct sde_kernel *k;
	int r, *fd;

	if (!path || (!cpuid && strcmp(path, "/dev/sev") != 0))
		return -1;
	if (flags & O_DIRECTORY) {
		errno = ENOTDIR;
		return -2;
	}
	pthread_mutex_lock(&g.lock);
	r = kernel_get(&k);
	fd = cpuid ? &g.cpuid_fd : &g.dev_fd;
	if (r >= 0 && *fd < 0) {
		r = cpuid ? cpuid_memfd(k) : dev_memfd();
		if (r >= 0)
			*fd = r;
	}
	if (r >= 0)
		r = reopen(*fd, cpuid ? (flags & ~O_ACCMODE) | O_RDONLY : flags);
	else
		errno = -r;
	pthread_mutex_unlock(&g.lock);
	return r < 0 ? -2 : r;
}

static int do_open(const char *path, int flags, mode_t mode)
{
	int r;

	pthread_once(&resolve_once, resolve);
	r = open_emulated(path, flags);
	if (r == -1)
		return g.open(path, flags, mode);
	return r == -2 ? -1 : r;
}

static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	int r;

	pthread_once(&resolve_once, resolve);
	r = path && path[0] == '/' ? open_emulated(path, flags) : -1;
	if (r == -1)
		return g.openat(dirfd, path, flags, mode);
	return r == -2 ? -1 : r;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(path, flags, mode);
}

EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(path, flags, mode);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_openat(dirfd, path, flags, mode);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return do_openat(dirfd, path, flags, mode);
}

/* glibc declares these only under _FORTIFY_SOURCE (bits/fcntl2.h). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

EXPORT int __open_2(const char *path, int flags)
{
	return do_open(path, flags, 0);
}

EXPORT int __open64_2(const char *path, int flags)
{
	return do_open(path, flags, 0);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return do_openat(dirfd, path, flags, 0);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return do_openat(dirfd, path, flags, 0);
}

static bool is_ours(int fd)
{
	struct stat st;

	if (!__atomic_load_n(&g.have_dev, __ATOMIC_ACQUIRE) || fstat(fd, &st) < 0)
		return false;
	return st.st_dev == g.dev_dev && st.st_ino == g.dev_ino;
}

EXPORT int ioctl(int fd, unsigned long request, ...)
{
	struct sde_kernel *k;
	va_list ap;
	void *arg;
	int r, fl, saved = errno;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	pthread_once(&resolve_once, resolve);
	if (!is_ours(fd)) {
		errno = saved;
		return g.ioctl(fd, request, arg);
	}
	fl = fcntl(fd, F_GETFL);
	pthread_mutex_lock(&g.lock);
	r = kernel_get(&k);
	pthread_mutex_unlock(&g.lock);
	if (r >= 0)
		r = sde_ioctl(k, (fl & O_ACCMODE) != O_RDONLY, request, arg);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	errno = saved;
	return 0;
}
