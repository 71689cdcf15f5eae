/* Secret memory helpers: OpenSSL's cleanse and constant-time compare, plus mlock. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "common/secret.h"

void *secret_alloc(size_t size)
{
	void *p = calloc(1, size ? size : 1);
	if (p)
		(void)mlock(p, size); /* best effort: RLIMIT_MEMLOCK may be small */
	return p;
}

void secret_free(void *p, size_t size)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, size);
	(void)munlock(p, size);
	free(p);
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
