/* Byte, text and file helpers. Pure functions plus plain POSIX I/O; no logging. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/macros.h"
#include "common/util.h"

void memrev(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		uint8_t t = p[i];
		p[i] = p[n - 1 - i];
		p[n - 1 - i] = t;
	}
}

char *hex_encode(const void *buf, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *b = buf;
	char *s = malloc(len * 2 + 1);

	if (!s)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		s[2 * i] = digits[b[i] >> 4];
		s[2 * i + 1] = digits[b[i] & 15];
	}
	s[len * 2] = 0;
	return s;
}

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *s, uint8_t **ret, size_t *ret_len)
{
	size_t n = strlen(s);
	uint8_t *out;

	if (n % 2)
		return -EINVAL;
	out = malloc(n / 2 + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(out);
			return -EINVAL;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*ret = out;
	*ret_len = n / 2;
	return 0;
}

int hex_decode_exact(const char *s, uint8_t *out, size_t len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t n;
	int r = hex_decode(s, &buf, &n);

	if (r < 0)
		return r;
	if (n != len)
		return -EINVAL;
	memcpy(out, buf, len);
	return 0;
}

char *base64_encode(const void *buf, size_t len)
{
	char *s = malloc(4 * ((len + 2) / 3) + 1);

	if (!s)
		return NULL;
	EVP_EncodeBlock((unsigned char *)s, buf, (int)len);
	return s;
}

int base64_decode(const char *s, size_t slen, uint8_t **ret, size_t *ret_len)
{
	_cleanup_free_ char *clean = malloc(slen + 1);
	_cleanup_free_ uint8_t *out = NULL;
	size_t n = 0, pad = 0;
	int r;

	if (!clean)
		return -ENOMEM;
	for (size_t i = 0; i < slen; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isspace(c))
			continue;
		if (!(isalnum(c) || c == '+' || c == '/' || c == '='))
			return -EINVAL;
		if (c != '=' && pad)
			return -EINVAL; /* data after padding */
		if (c == '=')
			pad++;
		clean[n++] = (char)c;
	}
	if (n % 4 || pad > 2)
		return -EINVAL;
	out = malloc(n / 4 * 3 + 1);
	if (!out)
		return -ENOMEM;
	r = n ? EVP_DecodeBlock(out, (unsigned char *)clean, (int)n) : 0;
	if (r < 0)
		return -EINVAL;
	*ret_len = (size_t)r - pad;
	*ret = TAKE_PTR(out);
	return 0;
}

int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;
	int base = 10;

	if (!s || !isdigit((unsigned char)*s)) /* no sign, space or empty string */
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!isxdigit((unsigned char)*s)) /* strtoull would take "0x-5" */
			return -EINVAL;
	}
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int parse_u32(const char *s, uint32_t *ret)
{
	uint64_t v;
	int r = parse_u64(s, &v);

	if (r < 0)
		return r;
	if (v > UINT32_MAX)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

ssize_t loop_read(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t k = read(fd, (uint8_t *)buf + done, len - done);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (k == 0)
			break;
		done += (size_t)k;
	}
	return (ssize_t)done;
}

int loop_write(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t k = write(fd, (const uint8_t *)buf + done, len - done);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		done += (size_t)k;
	}
	return 0;
}

int read_full_file(const char *path, size_t max, uint8_t **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ uint8_t *buf = NULL;
	struct stat st;
	size_t cap, len = 0;

	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISREG(st.st_mode) && (size_t)st.st_size > max)
		return -EFBIG;
	/* The buffer follows the file, not the limit: a regular file's size plus one byte (to
	 * see it grow), else 4 KiB, doubled as needed up to max + 1. Allocating max + 1 up front
	 * made every read of a small file fault in (or, with MALLOC_PERTURB_, fill) the whole
	 * limit — 64 MiB per file for the tests. The byte after the data is a NUL. */
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
	if (cap > max + 1)
		cap = max + 1;
	for (;;) {
		uint8_t *nb = realloc(buf, cap);
		ssize_t n;

		if (!nb)
			return -ENOMEM;
		buf = nb;
		n = loop_read(fd, buf + len, cap - len);
		if (n < 0)
			return (int)n;
		len += (size_t)n;
		if (len > max)
			return -EFBIG;
		if (len < cap)
			break; /* end of file */
		cap = cap > (max + 1) / 2 ? max + 1 : cap * 2;
	}
	buf[len] = 0; /* len < cap: callers may treat the data as a C string */
	*ret_len = len;
	*ret = TAKE_PTR(buf);
	return 0;
}

int write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
	_cleanup_free_ char *tmp = NULL, *dir = NULL;
	_cleanup_close_ int fd = -1, dfd = -1;
	char *slash;
	int r;

	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return negative_errno();
	r = loop_write(fd, buf, len);
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r >= 0 && rename(tmp, path) < 0)
		r = negative_errno();
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = 0;
	dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		(void)fsync(dfd);
	return 0;
}

int write_file_new(const char *path, const void *buf, size_t len, mode_t mode)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	int r;

	if (fd < 0)
		return negative_errno();
	r = loop_write(fd, buf, len);
	if (r < 0) {
		unlink(path);
		return r;
	}
	return 0;
}

char *path_join(const char *dir, const char *name)
{
	char *s;
	size_t n = strlen(dir);

	if (asprintf(&s, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return s;
}

bool endswith(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

int errorf(char **ret_error, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(ret_error, fmt, ap) < 0)
		*ret_error = NULL;
	va_end(ap);
	return r;
}

void timespec_after_ms(clockid_t clock, unsigned ms, struct timespec *ts)
{
	clock_gettime(clock, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}
