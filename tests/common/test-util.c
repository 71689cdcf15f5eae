/* common/util: numbers as users type them, hex and base64 round trips and refusals. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "tests/testutil.h"

static void test_parse(void)
{
	static const struct {
		const char *s;
		int r;
		uint64_t v;
	} rows[] = {
		{ "0", 0, 0 },		{ "42", 0, 42 },	  { "0x2a", 0, 42 },
		{ "0X2A", 0, 42 },	{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 },	  { "", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },	{ "+1", -EINVAL, 0 },	  { " 1", -EINVAL, 0 },
		{ "1 ", -EINVAL, 0 },	{ "0x", -EINVAL, 0 },	  { "0x-5", -EINVAL, 0 },
		{ "0x 5", -EINVAL, 0 }, { "0x+5", -EINVAL, 0 },	  { "12a", -EINVAL, 0 },
		{ "0xg", -EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t v = 0;
		int r = parse_u64(rows[i].s, &v);
		TU_CHECK(r == rows[i].r, "parse_u64(\"%s\") = %d, expected %d", rows[i].s, r,
			 rows[i].r);
		if (r == 0)
			TU_CHECK(v == rows[i].v, "parse_u64(\"%s\") value", rows[i].s);
	}
	uint32_t v32;
	TU_CHECK_EQ(parse_u32("4294967295", &v32), 0);
	TU_CHECK_EQ(parse_u32("4294967296", &v32), -ERANGE);
	TU_CHECK_EQ(parse_u32(NULL, &v32), -EINVAL);
}

static void test_hex_base64(void)
{
	uint8_t bin[] = { 0x00, 0x01, 0xab, 0xff, 0x10 };
	char *h = hex_encode(bin, sizeof(bin));
	uint8_t *out;
	size_t n;

	TU_CHECK(strcmp(h, "0001abff10") == 0, "hex %s", h);
	TU_CHECK_EQ(hex_decode("0001ABff10", &out, &n), 0);
	TU_CHECK(n == sizeof(bin) && memcmp(out, bin, n) == 0, "hex round trip");
	free(out);
	free(h);
	TU_CHECK_EQ(hex_decode("abc", &out, &n), -EINVAL);
	TU_CHECK_EQ(hex_decode("zz", &out, &n), -EINVAL);
	uint8_t exact[2];
	TU_CHECK_EQ(hex_decode_exact("0102", exact, 2), 0);
	TU_CHECK_EQ(hex_decode_exact("010203", exact, 2), -EINVAL);

	char *b = base64_encode(bin, sizeof(bin));
	TU_CHECK(strcmp(b, "AAGr/xA=") == 0, "base64 %s", b);
	TU_CHECK_EQ(base64_decode(b, strlen(b), &out, &n), 0);
	TU_CHECK(n == sizeof(bin) && memcmp(out, bin, n) == 0, "base64 round trip");
	free(out);
	free(b);
	TU_CHECK_EQ(base64_decode("AAGr\n/xA=", 9, &out, &n), 0);
	free(out);
	TU_CHECK_EQ(base64_decode("AA=A", 4, &out, &n), -EINVAL);
	TU_CHECK_EQ(base64_decode("AAG", 3, &out, &n), -EINVAL);
	TU_CHECK_EQ(base64_decode("AA*A", 4, &out, &n), -EINVAL);
	TU_CHECK_EQ(base64_decode("", 0, &out, &n), 0);
	TU_CHECK_EQ(n, 0);
	free(out);
}

static void write_bytes(const char *path, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	TU_CHECK(fd >= 0, "create %s: %m", path);
	for (size_t i = 0; i < n; i++) {
		uint8_t b = (uint8_t)(i * 7 + 1);
		TU_CHECK(write(fd, &b, 1) == 1, "write %s: %m", path);
	}
	close(fd);
}

/* read_full_file sizes its buffer by the file: a 10-byte file read with a 1 GiB limit in a
 * process whose address space is capped at 256 MiB works (a buffer of limit + 1 bytes cannot
 * be had there), the content is exact with a spare byte after it, and the limit still holds
 * for regular files and for pipes, whose size is not known in advance. */
static void test_read_full_file(void)
{
	char *dir = tu_mkdtemp(), path[512];
	uint8_t *buf = NULL;
	size_t len = 0;
	int fds[2];

	snprintf(path, sizeof(path), "%s/f", dir);
	for (size_t n = 0; n <= 9000; n += 4500) { /* empty, across 4 KiB, 9000 bytes */
		write_bytes(path, n);
		TU_CHECK_EQ(read_full_file(path, 9000, &buf, &len), 0);
		TU_CHECK_EQ(len, n);
		for (size_t i = 0; i < n; i++)
			TU_CHECK(buf[i] == (uint8_t)(i * 7 + 1), "byte %zu of %zu", i, n);
		TU_CHECK(buf[len] == 0, "a NUL follows the %zu bytes read", n);
		free(buf);
	}
	TU_CHECK_EQ(read_full_file(path, 8999, &buf, &len), -EFBIG);

	write_bytes(path, 10);
	pid_t pid = fork();
	TU_CHECK(pid >= 0, "fork: %m");
	if (pid == 0) {
		struct rlimit rl = {256u << 20, 256u << 20};
		if (setrlimit(RLIMIT_AS, &rl) < 0)
			_exit(2);
		int r = read_full_file(path, (size_t)1 << 30, &buf, &len);
		_exit(r == 0 && len == 10 ? 0 : 1);
	}
	int st = 0;
	TU_CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %m");
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		 "reading 10 bytes with a 1 GiB limit under a 256 MiB address space failed "
		 "(status %d): the buffer follows the limit, not the file", st);

	/* A pipe: grows past the first 4 KiB; over the limit is -EFBIG. */
	for (size_t n = 10000; n <= 10001; n++) {
		TU_CHECK(pipe(fds) == 0, "pipe: %m");
		pid = fork();
		TU_CHECK(pid >= 0, "fork: %m");
		if (pid == 0) {
			close(fds[0]);
			for (size_t i = 0; i < n; i++) {
				uint8_t b = (uint8_t)(i * 7 + 1);
				if (write(fds[1], &b, 1) != 1)
					_exit(1);
			}
			_exit(0);
		}
		close(fds[1]);
		char fdpath[64];
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fds[0]);
		int r = read_full_file(fdpath, 10000, &buf, &len);
		close(fds[0]);
		waitpid(pid, NULL, 0);
		if (n == 10000) {
			TU_CHECK_EQ(r, 0);
			TU_CHECK_EQ(len, n);
			TU_CHECK(buf[9999] == (uint8_t)(9999 * 7 + 1), "last byte from the pipe");
			free(buf);
		} else {
			TU_CHECK_EQ(r, -EFBIG);
		}
	}
	unlink(path);
	rmdir(dir);
	free(dir);
}

/* The deadline is normalized (tv_nsec below one second) and not before now + ms: a carry into
 * tv_sec from 999 ms of nanoseconds, whatever the clock's own nanoseconds are. */
static void test_timespec_after_ms(void)
{
	static const unsigned rows[] = {0, 1, 999, 1000, 1999, 61001};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct timespec before, ts;
		long long d;

		clock_gettime(CLOCK_MONOTONIC, &before);
		timespec_after_ms(CLOCK_MONOTONIC, rows[i], &ts);
		d = (long long)(ts.tv_sec - before.tv_sec) * 1000000000LL +
		    (ts.tv_nsec - before.tv_nsec);
		TU_CHECK(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L, "%u ms: tv_nsec %ld", rows[i],
			 ts.tv_nsec);
		TU_CHECK(d >= (long long)rows[i] * 1000000LL, "%u ms: the deadline is %lld ns away",
			 rows[i], d);
	}
}

int main(void)
{
	test_parse();
	test_timespec_after_ms();
	test_hex_base64();
	test_read_full_file();
	tu_done("common-util");
}
