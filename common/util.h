/* Byte, text and file helpers shared by every component (no logging, negative errno). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Little-endian field access for firmware structures. */
static inline uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}
static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}
/* Reverse a byte string in place (little-endian <-> big-endian numbers). */
void memrev(uint8_t *p, size_t n);

/* *ts = the time on clock (CLOCK_MONOTONIC, CLOCK_REALTIME) ms milliseconds from now: an
 * absolute deadline for pthread_cond_timedwait, sem_timedwait and the like. */
void timespec_after_ms(clockid_t clock, unsigned ms, struct timespec *ts);

/* Hex: lower-case encoding; decoding accepts upper/lower case, rejects odd length and
 * non-hex characters (-EINVAL), and requires exactly `len` bytes when exact_len is set. */
/* The value of one hex digit (either case), or -1. */
int hex_digit(char c);
char *hex_encode(const void *buf, size_t len);
int hex_decode(const char *s, uint8_t **ret, size_t *ret_len);
int hex_decode_exact(const char *s, uint8_t *out, size_t len);

/* Base64 (RFC 4648, with padding). Decoding ignores whitespace and rejects anything else. */
char *base64_encode(const void *buf, size_t len);
int base64_decode(const char *s, size_t slen, uint8_t **ret, size_t *ret_len);

/* Numbers as users type them: decimal or 0x-prefixed hex, whole string, range checked. */
int parse_u32(const char *s, uint32_t *ret);
int parse_u64(const char *s, uint64_t *ret);

/* Read or write the whole of a file descriptor, retrying on EINTR and short transfers. */
ssize_t loop_read(int fd, void *buf, size_t len);
int loop_write(int fd, const void *buf, size_t len);

/* Read a whole file (at most max bytes, else -EFBIG). The buffer is sized by what was read, not
 * by max, and the byte at (*ret)[*ret_len] is a NUL (text files read as C strings). */
int read_full_file(const char *path, size_t max, uint8_t **ret, size_t *ret_len);
/* Write a file atomically: temp file in the same directory, fsync, rename, fsync(dir). */
int write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode);
/* Create a file exclusively (O_EXCL) — fails with -EEXIST rather than overwrite. */
int write_file_new(const char *path, const void *buf, size_t len, mode_t mode);

/* *ret_error = a new string from fmt (NULL when out of memory; the old value is not freed);
 * returns r, so that a failing path reads `return errorf(ret_error, -EIO, "...", ...)`. */
int errorf(char **ret_error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Join a directory and a file name into a new string. */
char *path_join(const char *dir, const char *name);
/* true when s ends with suffix */
bool endswith(const char *s, const char *suffix);
