/* Memory for keys, in this process as the daemons use it: common/secret.c and
 * common/secure-heap.c.
 *
 *   - secret_alloc: zeroed, 16-byte aligned, usable to its last byte, locked (VmLck in
 *     /proc/self/status grows by its pages and falls back when it is freed), a guard page right
 *     behind it (a write past the end kills a child with SIGSEGV); two secrets never unlock each
 *     other (freeing one leaves the other's pages locked); freeing with a size that is not the
 *     allocated one still releases everything;
 *   - the secure heap: set up and locked, and a private key made afterwards (EC P-384, as the
 *     emulator's PEK/PDH) has its private part in it (CRYPTO_secure_used grows);
 *   - a small RLIMIT_MEMLOCK (a child without CAP_IPC_LOCK, limit 0): everything still works,
 *     unlocked, and exactly one warning names the limit.
 * The locking checks (VmLck) are their own test case, `--locking` (meson: emu-secret-mem-locked):
 * it needs root (CAP_IPC_LOCK) or an RLIMIT_MEMLOCK of at least 1 MiB and SKIPs, saying so,
 * where neither holds; the plain run checks everything else. */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/secure-heap.h"
#include "tests/testutil.h"

static long vmlck_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "re");

	TU_CHECK(f, "open /proc/self/status: %m");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kib) == 1)
			break;
	fclose(f);
	TU_CHECK(kib >= 0, "no VmLck line in /proc/self/status");
	return kib;
}

static bool can_lock(void)
{
	struct rlimit rl;

	if (geteuid() == 0)
		return true;
	return getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
	       (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (1u << 20));
}

static long page_kib(void)
{
	return sysconf(_SC_PAGESIZE) / 1024;
}

static void test_alloc(bool locking)
{
	static const size_t sizes[] = {1, 15, 16, 17, 100, 4080, 4096, 5000, 20480};

	for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
		size_t n = sizes[i], pages = (n + 16 + (size_t)sysconf(_SC_PAGESIZE) - 1) /
					     (size_t)sysconf(_SC_PAGESIZE);
		long before = vmlck_kib();
		uint8_t *p = secret_alloc(n);

		TU_CHECK(p != NULL, "secret_alloc(%zu)", n);
		TU_CHECK(((uintptr_t)p & 15) == 0, "secret_alloc(%zu) = %p: not 16-aligned", n, p);
		for (size_t j = 0; j < n; j++)
			TU_CHECK(p[j] == 0, "secret_alloc(%zu): byte %zu not zero", n, j);
		memset(p, 0xa5, n);
		if (locking)
			TU_CHECK(vmlck_kib() - before >= (long)pages * page_kib(),
				 "secret_alloc(%zu): VmLck %ld -> %ld kB, expected %zu more pages",
				 n, before, vmlck_kib(), pages);
		secret_free(p, i % 2 ? 1 : n); /* the size need not match */
		if (locking)
			TU_CHECK_EQ(vmlck_kib(), before);
	}
	secret_free(NULL, 10);
}

/* Freeing one secret must not unlock another (mlock/munlock work on pages, not buffers). */
static void test_independent(bool locking)
{
	long base = vmlck_kib();
	uint8_t *a = secret_alloc(32), *b = secret_alloc(32);

	TU_CHECK(a && b, "secret_alloc");
	if (locking)
		TU_CHECK(vmlck_kib() - base >= 2 * page_kib(), "two secrets: VmLck %ld -> %ld kB",
			 base, vmlck_kib());
	secret_free(a, 32);
	if (locking)
		TU_CHECK(vmlck_kib() - base >= page_kib(),
			 "freeing one secret unlocked the other: VmLck %ld -> %ld kB", base,
			 vmlck_kib());
	secret_free(b, 32);
	if (locking)
		TU_CHECK_EQ(vmlck_kib(), base);
}

/* A write just past the (16-rounded) end of a secret faults. */
static void test_guard(void)
{
	static const size_t sizes[] = {16, 40, 4096 - 16, 5000};

	for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
		uint8_t *p = secret_alloc(sizes[i]);
		size_t end = (sizes[i] + 15) & ~(size_t)15;
		int status = 0;
		pid_t pid;

		TU_CHECK(p, "secret_alloc");
		fflush(NULL);
		pid = fork();
		TU_CHECK(pid >= 0, "fork: %m");
		if (pid == 0) {
			signal(SIGSEGV,
			       SIG_DFL); /* a sanitizer's handler would turn it into abort */
			p[end - 1] = 1;	 /* the last byte of the buffer is fine */
			((volatile uint8_t *)p)[end] = 1; /* the guard page is not */
			_exit(0);
		}
		TU_CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %m");
		TU_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
			 "writing byte %zu of a %zu-byte secret did not fault (status 0x%x)", end,
			 sizes[i], status);
		secret_free(p, sizes[i]);
	}
}

static void test_secure_heap(bool locking)
{
	long before = vmlck_kib();
	size_t used;
	EVP_PKEY *k;
	int r = secure_heap_init(SECURE_HEAP_DAEMON);

	TU_CHECK(r == 1 || (!locking && r == 0), "secure_heap_init = %d", r);
	TU_CHECK(CRYPTO_secure_malloc_initialized(), "no secure heap");
	if (locking)
		TU_CHECK(vmlck_kib() - before >= (long)(SECURE_HEAP_DAEMON / 1024),
			 "secure heap: VmLck %ld -> %ld kB", before, vmlck_kib());
	TU_CHECK_EQ(secure_heap_init(SECURE_HEAP_DAEMON), 1); /* once is enough */
	used = CRYPTO_secure_used();
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	TU_CHECK(k, "EC P-384 key generation");
	TU_CHECK(CRYPTO_secure_used() > used,
		 "a new private key left the secure heap untouched (%zu bytes used before and "
		 "after)",
		 used);
	EVP_PKEY_free(k);
}

/* In a child without CAP_IPC_LOCK and with RLIMIT_MEMLOCK 0: secrets still work (unlocked),
 * the secure heap exists unlocked, and one warning in all says so, naming the limit. */
static void test_small_limit(void)
{
	char path[] = "/tmp/test-secret-mem.XXXXXX", buf[4096];
	int fd = mkstemp(path), status = 0;
	ssize_t n;
	pid_t pid;

	TU_CHECK(fd >= 0, "mkstemp: %m");
	fflush(NULL);
	pid = fork();
	TU_CHECK(pid >= 0, "fork: %m");
	if (pid == 0) {
		struct rlimit zero = {0, 0};
		uint8_t *a, *b;

		if (dup2(fd, STDERR_FILENO) < 0 || setrlimit(RLIMIT_MEMLOCK, &zero) < 0 ||
		    (geteuid() == 0 && setresuid(65534, 65534, 65534) < 0))
			_exit(10);
		log_setup("child", NULL, LOG_INFO);
		a = secret_alloc(64);
		b = secret_alloc(9000);
		if (!a || !b || vmlck_kib() != 0)
			_exit(11);
		memset(a, 1, 64);
		memset(b, 2, 9000);
		secret_free(a, 64);
		secret_free(b, 9000);
		_exit(secure_heap_init(SECURE_HEAP_CLI) == 0 ? 0 : 12);
	}
	TU_CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %m");
	TU_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status 0x%x)",
		 status);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	TU_CHECK(n > 0, "the child said nothing about RLIMIT_MEMLOCK");
	buf[n] = 0;
	close(fd);
	unlink(path);
	TU_CHECK(strstr(buf, "RLIMIT_MEMLOCK is 0 KiB") && strstr(buf, "LimitMEMLOCK="),
		 "the warning does not name the limit and the fix: %s", buf);
	TU_CHECK(strstr(buf, "Could not lock") &&
		     !strstr(strstr(buf, "Could not lock") + 1, "Could not lock"),
		 "expected exactly one warning, got: %s", buf);
}

int main(int argc, char **argv)
{
	bool locking = argc > 1 && strcmp(argv[1], "--locking") == 0;

	if (locking && !can_lock())
		tu_skip("no CAP_IPC_LOCK and RLIMIT_MEMLOCK below 1 MiB: memory cannot be locked "
			"here (run as root, or raise the limit with ulimit -l 1024)");
	test_small_limit(); /* first: its child must not inherit a secure heap */
	test_alloc(locking);
	test_independent(locking);
	test_guard();
	test_secure_heap(locking);
	tu_done(locking ? "emu-secret-mem-locked" : "emu-secret-mem");
}
