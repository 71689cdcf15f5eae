/* Unit tests of the guest journal (daemon/core/journal.h) on real files: replay order, a torn tail
 * (half a record, a garbled last record) truncated, corruption in the middle refused with its
 * offset and skipped only with recover, a bad header refused, compaction keeping exactly the
 * snapshot (and a leftover temporary file ignored), records that survive reopen after
 * truncation. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "daemon/core/journal.h"
#include "tests/testutil.h"

struct seen {
	unsigned n;
	struct sevd_jrec rec[64];
};

static int collect(void *userdata, const struct sevd_jrec *rec)
{
	struct seen *s = userdata;

	if (s->n < 64)
		s->rec[s->n] = *rec;
	s->n++;
	return 0;
}

static struct sevd_jrec put(uint32_t handle, uint32_t asid)
{
	struct sevd_jrec r = {.type = SEVD_JREC_PUT,
			      .state = 3,
			      .handle = handle,
			      .asid = asid,
			      .policy = 0x1,
			      .memory_size = 1u << 24,
			      .created = 1000 + handle,
			      .generation = handle};

	snprintf(r.name, sizeof(r.name), "guest-%u", handle);
	snprintf(r.tenant, sizeof(r.tenant), "tenant-a");
	memset(r.measure, (int)handle, sizeof(r.measure));
	return r;
}

static char *jpath(const char *dir)
{
	return path_join(dir, SEVD_JOURNAL_FILE);
}

static off_t file_size(const char *path)
{
	struct stat st;

	TU_CHECK(stat(path, &st) == 0, "stat %s", path);
	return st.st_size;
}

/* A journal with n PUT records for handles 1..n. */
static void write_n(const char *dir, unsigned n)
{
	struct sevd_journal *j = NULL;
	struct seen s = {0};

	TU_CHECK(sevd_journal_open(dir, false, collect, &s, &j) == 0, "open %s", dir);
	for (unsigned i = 1; i <= n; i++) {
		struct sevd_jrec r = put(i, 100 + i);

		TU_CHECK(sevd_journal_append(j, &r) == 0, "append %u", i);
	}
	TU_CHECK_EQ(sevd_journal_records(j), n);
	sevd_journal_free(j);
}

static int reopen(const char *dir, bool recover, struct seen *s)
{
	struct sevd_journal *j = NULL;
	int r;

	memset(s, 0, sizeof(*s));
	r = sevd_journal_open(dir, recover, collect, s, &j);
	sevd_journal_free(j);
	return r;
}

static void test_replay(void)
{
	char *dir = tu_mkdtemp();
	struct sevd_journal *j = NULL;
	struct sevd_jrec del = {.type = SEVD_JREC_DEL, .handle = 1};
	struct seen s = {0};

	write_n(dir, 2);
	TU_CHECK(sevd_journal_open(dir, false, collect, &s, &j) == 0, "reopen");
	TU_CHECK_EQ(s.n, 2);
	TU_CHECK(sevd_journal_append(j, &del) == 0, "append DEL");
	sevd_journal_free(j);
	TU_CHECK(reopen(dir, false, &s) == 0, "reopen");
	TU_CHECK_EQ(s.n, 3);
	TU_CHECK_EQ(s.rec[0].handle, 1);
	TU_CHECK_EQ(s.rec[1].asid, 102);
	TU_CHECK(strcmp(s.rec[1].name, "guest-2") == 0, "name %s", s.rec[1].name);
	TU_CHECK(strcmp(s.rec[1].tenant, "tenant-a") == 0, "tenant");
	TU_CHECK_EQ(s.rec[1].measure[31], 2);
	TU_CHECK_EQ(s.rec[2].type, SEVD_JREC_DEL);
	tu_rmtree(dir);
	free(dir);
}

/* Half of the last record (a crash mid-write): replayed without it, truncated, appendable. */
static void test_torn_tail(void)
{
	char *dir = tu_mkdtemp(), *path = jpath(dir);
	struct sevd_journal *j = NULL;
	struct sevd_jrec r = put(9, 109);
	struct seen s;

	write_n(dir, 3);
	TU_CHECK(truncate(path, SEVD_JOURNAL_HEADER + 2 * SEVD_JREC_SIZE + SEVD_JREC_SIZE / 2) == 0,
		 "truncate");
	TU_CHECK(reopen(dir, false, &s) == 0, "a torn tail must not refuse the start");
	TU_CHECK_EQ(s.n, 2);
	TU_CHECK_EQ(file_size(path), SEVD_JOURNAL_HEADER + 2 * SEVD_JREC_SIZE);
	TU_CHECK(sevd_journal_open(dir, false, NULL, NULL, &j) == 0, "open");
	TU_CHECK(sevd_journal_append(j, &r) == 0, "append after truncation");
	sevd_journal_free(j);
	TU_CHECK(reopen(dir, false, &s) == 0, "reopen");
	TU_CHECK_EQ(s.n, 3);
	TU_CHECK_EQ(s.rec[2].handle, 9);
	/* A few stray bytes after the last record (a torn header) are a tail too. */
	{
		int fd = open(path, O_WRONLY | O_APPEND);

		TU_CHECK(fd >= 0 && write(fd, "SVDJ\xf0", 5) == 5, "append garbage");
		close(fd);
	}
	TU_CHECK(reopen(dir, false, &s) == 0, "stray tail bytes");
	TU_CHECK_EQ(s.n, 3);
	TU_CHECK_EQ(file_size(path), SEVD_JOURNAL_HEADER + 3 * SEVD_JREC_SIZE);
	tu_rmtree(dir);
	free(dir);
	free(path);
}

static void flip(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	TU_CHECK(fd >= 0 && pread(fd, &b, 1, off) == 1, "read %s", path);
	b ^= 0x40;
	TU_CHECK(pwrite(fd, &b, 1, off) == 1, "write %s", path);
	close(fd);
}

/* A garbled LAST record (its checksum fails, nothing valid after it) is a torn tail. */
static void test_garbled_tail(void)
{
	char *dir = tu_mkdtemp(), *path = jpath(dir);
	struct seen s;

	write_n(dir, 3);
	flip(path, SEVD_JOURNAL_HEADER + 2 * SEVD_JREC_SIZE + 40);
	TU_CHECK(reopen(dir, false, &s) == 0, "garbled tail");
	TU_CHECK_EQ(s.n, 2);
	TU_CHECK_EQ(file_size(path), SEVD_JOURNAL_HEADER + 2 * SEVD_JREC_SIZE);
	tu_rmtree(dir);
	free(dir);
	free(path);
}

/* A bad record with valid ones after it: refused (file untouched) unless recover. */
static void test_middle(void)
{
	char *dir = tu_mkdtemp(), *path = jpath(dir);
	size_t end = 0, bad = 0;
	unsigned skipped = 0;
	uint8_t *buf = NULL;
	size_t len = 0;
	off_t size;
	struct seen s;

	write_n(dir, 4);
	size = file_size(path);
	flip(path, SEVD_JOURNAL_HEADER + 1 * SEVD_JREC_SIZE + 100); /* record 2's payload */
	TU_CHECK_EQ(reopen(dir, false, &s), -EBADMSG);
	TU_CHECK_EQ(file_size(path), size);
	TU_CHECK(read_full_file(path, 1 << 20, &buf, &len) == 0, "read");
	TU_CHECK_EQ(sevd_journal_scan(buf, len, false, NULL, NULL, &end, &bad, &skipped), -EBADMSG);
	TU_CHECK_EQ(bad, SEVD_JOURNAL_HEADER + SEVD_JREC_SIZE);
	free(buf);
	/* The length field of record 3 garbled: same verdict. */
	flip(path, SEVD_JOURNAL_HEADER + 1 * SEVD_JREC_SIZE + 100);
	flip(path, SEVD_JOURNAL_HEADER + 2 * SEVD_JREC_SIZE + 5);
	TU_CHECK_EQ(reopen(dir, false, &s), -EBADMSG);
	TU_CHECK(reopen(dir, true, &s) == 0, "recover");
	TU_CHECK_EQ(s.n, 3);
	TU_CHECK_EQ(s.rec[2].handle, 4);
	tu_rmtree(dir);
	free(dir);
	free(path);
}

static void test_header(void)
{
	char *dir = tu_mkdtemp(), *path = jpath(dir);
	struct seen s;

	write_n(dir, 2);
	flip(path, 3);
	TU_CHECK_EQ(reopen(dir, false, &s), -EBADMSG);
	TU_CHECK(reopen(dir, true, &s) == 0, "recover past a bad header");
	TU_CHECK_EQ(s.n, 2);
	tu_rmtree(dir);
	free(dir);
	free(path);
}

/* Compaction keeps exactly the snapshot; a leftover temporary file is ignored and removed. */
static void test_compact(void)
{
	char *dir = tu_mkdtemp(), *path = jpath(dir),
	     *tmp = path_join(dir, SEVD_JOURNAL_FILE ".tmp");
	struct sevd_journal *j = NULL;
	struct sevd_jrec snap[2] = {put(7, 107), put(8, 108)}, r = put(11, 111);
	struct seen s = {0};

	write_n(dir, 10);
	TU_CHECK(sevd_journal_open(dir, false, collect, &s, &j) == 0, "open");
	TU_CHECK_EQ(s.n, 10);
	TU_CHECK(sevd_journal_compact(j, snap, 2) == 0, "compact");
	TU_CHECK_EQ(sevd_journal_records(j), 2);
	TU_CHECK(sevd_journal_append(j, &r) == 0, "append after compaction");
	sevd_journal_free(j);
	TU_CHECK(access(tmp, F_OK) != 0, "no temporary file left");
	TU_CHECK_EQ(file_size(path), SEVD_JOURNAL_HEADER + 3 * SEVD_JREC_SIZE);
	TU_CHECK(write_file_atomic(tmp, "garbage", 7, 0600) == 0, "leftover tmp");
	TU_CHECK(reopen(dir, false, &s) == 0, "reopen");
	TU_CHECK_EQ(s.n, 3);
	TU_CHECK_EQ(s.rec[0].handle, 7);
	TU_CHECK_EQ(s.rec[1].asid, 108);
	TU_CHECK_EQ(s.rec[2].handle, 11);
	TU_CHECK(access(tmp, F_OK) != 0, "the leftover temporary file is removed");
	tu_rmtree(dir);
	free(dir);
	free(path);
	free(tmp);
}

/* The codec: every field survives, and every single-byte change of a record is caught. */
static void test_codec(void)
{
	uint8_t img[SEVD_JOURNAL_HEADER + SEVD_JREC_SIZE];
	struct sevd_jrec r = put(5, 105);
	size_t end, bad;
	unsigned skipped;
	struct seen s;

	r.mem_base = 0x10000000000ull;
	r.data_bytes = 12345;
	r.flags = SEVD_JREC_F_MEASURED | SEVD_JREC_F_GRANTED;
	sevd_journal_header(img);
	sevd_jrec_encode(&r, img + SEVD_JOURNAL_HEADER);
	memset(&s, 0, sizeof(s));
	TU_CHECK_EQ(sevd_journal_scan(img, sizeof(img), false, collect, &s, &end, &bad, &skipped),
		    1);
	TU_CHECK(memcmp(&s.rec[0], &r, sizeof(r)) == 0 ||
		     (s.rec[0].mem_base == r.mem_base && s.rec[0].data_bytes == r.data_bytes &&
		      s.rec[0].flags == r.flags && s.rec[0].generation == r.generation),
		 "fields survive");
	for (size_t i = SEVD_JOURNAL_HEADER; i < sizeof(img); i++) {
		img[i] ^= 1;
		memset(&s, 0, sizeof(s));
		TU_CHECK_EQ(
		    sevd_journal_scan(img, sizeof(img), false, collect, &s, &end, &bad, &skipped),
		    0);
		TU_CHECK_EQ(end, SEVD_JOURNAL_HEADER);
		img[i] ^= 1;
	}
}

/* An SEV-ES guest's VMSA record: type, handle and the page's guest address (mem_base) survive
 * the codec. */
static void test_vmsa_record(void)
{
	uint8_t img[SEVD_JOURNAL_HEADER + 2 * SEVD_JREC_SIZE];
	struct sevd_jrec p = put(7, 107), v = {.type = SEVD_JREC_VMSA, .handle = 7,
					       .mem_base = 0x21000, .updated = 99};
	size_t end, bad;
	unsigned skipped;
	struct seen s = {0};

	p.flags = SEVD_JREC_F_ES;
	sevd_journal_header(img);
	sevd_jrec_encode(&p, img + SEVD_JOURNAL_HEADER);
	sevd_jrec_encode(&v, img + SEVD_JOURNAL_HEADER + SEVD_JREC_SIZE);
	TU_CHECK_EQ(sevd_journal_scan(img, sizeof(img), false, collect, &s, &end, &bad, &skipped),
		    2);
	TU_CHECK(s.rec[1].type == SEVD_JREC_VMSA && s.rec[1].handle == 7 &&
		     s.rec[1].mem_base == 0x21000 && s.rec[1].updated == 99,
		 "VMSA record: type %u handle %u at 0x%llx", s.rec[1].type, s.rec[1].handle,
		 (unsigned long long)s.rec[1].mem_base);
}

/* A SECRET record (a LAUNCH_SECRET packet's IV and MAC) and an ID record survive the codec; a
 * type past the last is no record. */
static void test_secret_record(void)
{
	uint8_t img[SEVD_JOURNAL_HEADER + SEVD_JREC_SIZE];
	struct sevd_jrec r = {.type = SEVD_JREC_SECRET, .flags = SEVD_JREC_F_REFUSED, .handle = 9};
	size_t end, bad;
	unsigned skipped;
	struct seen s;

	memset(r.mnonce, 0xa5, sizeof(r.mnonce));
	memset(r.measure, 0x5a, sizeof(r.measure));
	sevd_journal_header(img);
	sevd_jrec_encode(&r, img + SEVD_JOURNAL_HEADER);
	memset(&s, 0, sizeof(s));
	TU_CHECK_EQ(sevd_journal_scan(img, sizeof(img), false, collect, &s, &end, &bad, &skipped),
		    1);
	TU_CHECK(s.rec[0].type == SEVD_JREC_SECRET && s.rec[0].handle == 9 &&
		     s.rec[0].flags == SEVD_JREC_F_REFUSED &&
		     !memcmp(s.rec[0].mnonce, r.mnonce, sizeof(r.mnonce)) &&
		     !memcmp(s.rec[0].measure, r.measure, sizeof(r.measure)),
		 "the packet's IV and MAC survive");
	/* An ID record (a guest's stable id in mnonce) survives it too. */
	r = (struct sevd_jrec){.type = SEVD_JREC_ID, .handle = 9};
	memset(r.mnonce, 0x3c, sizeof(r.mnonce));
	sevd_jrec_encode(&r, img + SEVD_JOURNAL_HEADER);
	memset(&s, 0, sizeof(s));
	TU_CHECK_EQ(sevd_journal_scan(img, sizeof(img), false, collect, &s, &end, &bad, &skipped),
		    1);
	TU_CHECK(s.rec[0].type == SEVD_JREC_ID && s.rec[0].handle == 9 &&
		     !memcmp(s.rec[0].mnonce, r.mnonce, sizeof(r.mnonce)),
		 "the guest's id survives");
	r.type = SEVD_JREC_ID + 1;
	sevd_jrec_encode(&r, img + SEVD_JOURNAL_HEADER);
	memset(&s, 0, sizeof(s));
	TU_CHECK_EQ(sevd_journal_scan(img, sizeof(img), false, collect, &s, &end, &bad, &skipped),
		    0);
}

int main(void)
{
	test_replay();
	test_torn_tail();
	test_garbled_tail();
	test_middle();
	test_header();
	test_compact();
	test_codec();
	test_vmsa_record();
	test_secret_record();
	tu_done("daemon-journal");
}
