/* Secret memory: buffers of their own pages, locked in RAM, out of core dumps, with a guard page
 * behind them, wiped (OPENSSL_cleanse) before they are unmapped; constant-time compare.
 *
 * Why whole pages: mlock() and munlock() work on pages and do not count, so two secrets that
 * shared a heap page would unlock each other when the first is freed (and the heap would keep
 * freed pages locked). Each buffer therefore gets its own anonymous mapping:
 *
 *	[ header | ... | buffer ][ guard page, PROT_NONE ]
 *	 <----- locked, MADV_DONTDUMP ----->
 *
 * The buffer ends (to 16 bytes) where the guard page starts, so running off its end faults at
 * once instead of reading the next secret. Locking is best effort: when RLIMIT_MEMLOCK is
 * exhausted the buffer still works and one warning says so, once per process. mlock/munlock
 * are issued as raw syscalls: the sanitizers' interceptors turn the libc calls into no-ops, and
 * the ASan build must lock what the normal build locks (as OpenSSL's secure heap does, which
 * uses the raw mlock2 syscall). */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/secret.h"

#define SECRET_ALIGN 16u
#define SECRET_MAGIC 0x7365637265746d6dull /* "secretmm" */

struct secret_hdr {
	uint64_t magic;
	uint32_t data_len; /* locked part (header, slack, buffer), a page multiple */
	uint32_t offset;   /* buffer start - mapping start */
};
_Static_assert(sizeof(struct secret_hdr) == SECRET_ALIGN, "header keeps the alignment");

static atomic_bool warned;

static size_t page_size(void)
{
	static size_t ps;

	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

void secret_lock_failed(const char *what, size_t bytes, int error)
{
	struct rlimit rl = {0};

	if (atomic_exchange(&warned, true))
		return;
	(void)getrlimit(RLIMIT_MEMLOCK, &rl);
	if (rl.rlim_cur == RLIM_INFINITY)
		log_warning_errno(error,
				  "Could not lock %s (%zu KiB) in memory: %m; keys may be "
				  "swapped out",
				  what, bytes / 1024);
	else
		log_warning_errno(
		    error,
		    "Could not lock %s (%zu KiB) in memory: %m; RLIMIT_MEMLOCK is "
		    "%llu KiB, so keys may be swapped out. Raise it (LimitMEMLOCK= in "
		    "the unit, ulimit -l); further failures are not logged",
		    what, bytes / 1024, (unsigned long long)rl.rlim_cur / 1024);
}

void *secret_alloc(size_t size)
{
	size_t ps = page_size(), n, data;
	struct secret_hdr *h;
	uint8_t *base, *p;

	n = ((size ? size : 1) + SECRET_ALIGN - 1) & ~(size_t)(SECRET_ALIGN - 1);
	if (n > UINT32_MAX - sizeof(*h) - ps)
		return NULL;
	data = (n + sizeof(*h) + ps - 1) & ~(ps - 1);
	base = mmap(NULL, data + ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	if (mprotect(base + data, ps, PROT_NONE) < 0) {
		munmap(base, data + ps);
		return NULL;
	}
	(void)madvise(base, data, MADV_DONTDUMP);
	if (syscall(SYS_mlock, base, data) < 0)
		secret_lock_failed("secret memory", data, errno);
	p = base + data - n; /* zero-filled by mmap */
	h = (struct secret_hdr *)(void *)(p - sizeof(*h));
	*h = (struct secret_hdr){
	    .magic = SECRET_MAGIC, .data_len = (uint32_t)data, .offset = (uint32_t)(p - base)};
	return p;
}

void secret_free(void *p, size_t size)
{
	struct secret_hdr *h;
	uint8_t *base;
	size_t data;

	(void)size; /* the header knows: callers' sizes need not match to the byte */
	if (!p)
		return;
	h = (struct secret_hdr *)(void *)((uint8_t *)p - sizeof(*h));
	if (h->magic != SECRET_MAGIC)
		abort(); /* not from secret_alloc, or its header was overwritten */
	base = (uint8_t *)p - h->offset;
	data = h->data_len;
	OPENSSL_cleanse(base, data);
	(void)syscall(SYS_munlock, base, data);
	munmap(base, data + page_size());
}

void secret_wipe(void *p, size_t size)
{
	if (p && size)
		OPENSSL_cleanse(p, size);
}

int secret_memcmp(const void *a, const void *b, size_t size)
{
	return CRYPTO_memcmp(a, b, size) == 0 ? 0 : 1;
}
