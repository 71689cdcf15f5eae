/* OpenSSL's secure heap (CRYPTO_secure_malloc_init) for the binaries that hold private keys:
 * sev-psp-emu, sevd and sevadm call secure_heap_init() first thing in main(), so the private
 * parts of keys made or loaded later (OpenSSL allocates them with BN_secure_new: EC scalars,
 * RSA d/p/q, and the temporaries of private-key operations) live in one mmap'ed arena that is
 * locked into RAM, kept out of core dumps and fenced by guard pages, and are wiped on free.
 * Trusts nothing; needs nothing but libcrypto. */
#pragma once

#include <stddef.h>

/* Arena sizes (powers of two, as OpenSSL requires). OpenSSL does NOT fall back to the ordinary
 * heap when a live arena is full (allocations fail), so they are far above what the keys
 * need: the emulator's RSA-4096 root keys with a key generation's temporaries are well under
 * 64 KiB. */
#define SECURE_HEAP_DAEMON (256u * 1024u) /* sev-psp-emu, sevd */
#define SECURE_HEAP_CLI (64u * 1024u)	  /* sevadm: fits a 64 KiB RLIMIT_MEMLOCK */

/* Set up the arena of `size` bytes. Returns 1 when it is locked in RAM; 0 when it exists but is
 * not locked (RLIMIT_MEMLOCK too small: secret_lock_failed()'s one warning, naming the limit
 * and the fix); a negative errno when there is none (one warning; keys then use the ordinary
 * heap, as without this call). Never fatal. Call once, before any key exists; log lines carry
 * the ident of log_setup(). */
int secure_heap_init(size_t size);
