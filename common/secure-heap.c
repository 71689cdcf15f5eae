/* OpenSSL's secure heap: set up once per process, one log line when it is not what was asked
 * for (see secure-heap.h). */
#include <errno.h>
#include <openssl/crypto.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/secure-heap.h"

/* Smallest block the arena hands out (a power of two): a P-384 scalar is 48 bytes. */
#define SECURE_HEAP_MINSIZE 16

int secure_heap_init(size_t size)
{
	int r;

	if (CRYPTO_secure_malloc_initialized())
		return 1;
	errno = 0;
	r = CRYPTO_secure_malloc_init(size, SECURE_HEAP_MINSIZE);
	if (r == 1) {
		log_debug("OpenSSL secure heap of %zu KiB, locked in memory", size / 1024);
		return 1;
	}
	if (r == 2) {
		/* OpenSSL does not say which step failed; mlock is the one that does in practice */
		secret_lock_failed("OpenSSL's secure heap", size, errno ? errno : ENOMEM);
		return 0;
	}
	log_warning("OpenSSL secure heap (%zu KiB) could not be set up (out of memory or "
		    "address space?); private keys stay in the ordinary heap",
		    size / 1024);
	return -ENOMEM;
}
