/* The guest journal (journal.h): record codec, replay with torn-tail truncation and
 * middle-corruption detection, fsync'ed appends, atomic snapshot compaction. Trusts nothing
 * read from the file; checksums through EVP (SHA-256, first 8 bytes). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/util.h"
#include "daemon/core/crash.h"
#include "daemon/core/journal.h"

#define JREC_MAGIC 0x4a445653u /* "SVDJ" */
#define JOURNAL_VERSION 1u
#define JOURNAL_MAX_SIZE (256u * 1024u * 1024u)
static const char header_magic[8] = {'S', 'E', 'V', 'D', 'J', 'R', 'N', 'L'};

/* No file descriptor stays open between appends: the kernel refuses to remount a filesystem
 * read-only while a file on it is open for writing (EBUSY), and an admin who does that to the
 * state dir must get a sevd that refuses changes (EROFS), not a failed remount. */
struct sevd_journal {
	char *dir, *path, *tmp_path;
	off_t size; /* end of the last durable record: appends go there, whatever follows it */
	size_t records;
};

static int checksum(const uint8_t *buf, size_t len, uint8_t out[8])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (!EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL) || n < 8)
		return -EIO;
	memcpy(out, md, 8);
	return 0;
}

void sevd_journal_header(uint8_t out[SEVD_JOURNAL_HEADER])
{
	memcpy(out, header_magic, 8);
	put_le32(out + 8, JOURNAL_VERSION);
	put_le32(out + 12, 0);
}

/* Payload layout (little-endian): type, state, flags, 0, handle, asid, policy, memory_size,
 * data_bytes, mem_base, created, updated, generation, measure[32], mnonce[16], name[64],
 * tenant[64] = 240 bytes. */
void sevd_jrec_encode(const struct sevd_jrec *rec, uint8_t out[SEVD_JREC_SIZE])
{
	uint8_t *p = out + 8;
	const uint64_t u64s[] = {rec->memory_size, rec->data_bytes, rec->mem_base,
				 rec->created,	   rec->updated,    rec->generation};

	memset(out, 0, SEVD_JREC_SIZE);
	put_le32(out, JREC_MAGIC);
	put_le32(out + 4, SEVD_JREC_PAYLOAD);
	p[0] = rec->type;
	p[1] = rec->state;
	p[2] = rec->flags;
	put_le32(p + 4, rec->handle);
	put_le32(p + 8, rec->asid);
	put_le32(p + 12, rec->policy);
	for (size_t i = 0; i < ELEMENTSOF(u64s); i++)
		put_le64(p + 16 + 8 * i, u64s[i]);
	memcpy(p + 64, rec->measure, 32);
	memcpy(p + 96, rec->mnonce, 16);
	memcpy(p + 112, rec->name, strnlen(rec->name, SEVD_JREC_NAME_MAX - 1));
	memcpy(p + 176, rec->tenant, strnlen(rec->tenant, SEVD_JREC_NAME_MAX - 1));
	if (checksum(out, 8 + SEVD_JREC_PAYLOAD, out + 8 + SEVD_JREC_PAYLOAD) < 0)
		memset(out + 8 + SEVD_JREC_PAYLOAD, 0, 8); /* fails the check on replay */
}

/* A name field: NUL-terminated with only zeros after the NUL (the one encoding of it). */
static bool name_canonical(const uint8_t *p)
{
	size_t n = strnlen((const char *)p, SEVD_JREC_NAME_MAX);

	if (n == SEVD_JREC_NAME_MAX)
		return false;
	for (size_t i = n; i < SEVD_JREC_NAME_MAX; i++)
		if (p[i])
			return false;
	return true;
}

/* 0 and *rec filled when buf (at least SEVD_JREC_SIZE bytes) holds a valid record. */
static int jrec_decode(const uint8_t *buf, struct sevd_jrec *rec)
{
	const uint8_t *p = buf + 8;
	uint64_t *u64s[] = {&rec->memory_size, &rec->data_bytes, &rec->mem_base,
			    &rec->created,     &rec->updated,	 &rec->generation};
	uint8_t sum[8];

	if (get_le32(buf) != JREC_MAGIC || get_le32(buf + 4) != SEVD_JREC_PAYLOAD)
		return -EBADMSG;
	if (checksum(buf, 8 + SEVD_JREC_PAYLOAD, sum) < 0 ||
	    memcmp(sum, buf + 8 + SEVD_JREC_PAYLOAD, 8) != 0)
		return -EBADMSG;
	if (p[0] < SEVD_JREC_PUT || p[0] > SEVD_JREC_ID || p[3] != 0 ||
	    !name_canonical(p + 112) || !name_canonical(p + 176))
		return -EBADMSG;
	memset(rec, 0, sizeof(*rec));
	rec->type = p[0];
	rec->state = p[1];
	rec->flags = p[2];
	rec->handle = get_le32(p + 4);
	rec->asid = get_le32(p + 8);
	rec->policy = get_le32(p + 12);
	for (size_t i = 0; i < ELEMENTSOF(u64s); i++)
		*u64s[i] = get_le64(p + 16 + 8 * i);
	memcpy(rec->measure, p + 64, 32);
	memcpy(rec->mnonce, p + 96, 16);
	memcpy(rec->name, p + 112, SEVD_JREC_NAME_MAX);
	memcpy(rec->tenant, p + 176, SEVD_JREC_NAME_MAX);
	return 0;
}

/* The next offset >= from where a valid record starts, or len. */
static size_t next_valid(const uint8_t *buf, size_t len, size_t from)
{
	struct sevd_jrec rec;

	for (size_t o = from; o + SEVD_JREC_SIZE <= len; o++)
		if (get_le32(buf + o) == JREC_MAGIC && jrec_decode(buf + o, &rec) == 0)
			return o;
	return len;
}

int sevd_journal_scan(const uint8_t *buf, size_t len, bool recover, sevd_journal_apply_fn apply,
		      void *userdata, size_t *ret_end, size_t *ret_bad, unsigned *ret_skipped)
{
	uint8_t hdr[SEVD_JOURNAL_HEADER];
	size_t off = SEVD_JOURNAL_HEADER;
	unsigned skipped = 0;
	int n = 0, r;

	*ret_end = 0;
	*ret_bad = 0;
	*ret_skipped = 0;
	if (len == 0)
		return 0;
	sevd_journal_header(hdr);
	if (len < SEVD_JOURNAL_HEADER || memcmp(buf, hdr, SEVD_JOURNAL_HEADER) != 0) {
		if (!recover || len < SEVD_JOURNAL_HEADER)
			return -EBADMSG; /* *ret_bad = 0: the header itself */
		skipped++;
	}
	while (off < len) {
		struct sevd_jrec rec;
		size_t next;

		if (len - off >= SEVD_JREC_SIZE && jrec_decode(buf + off, &rec) == 0) {
			if (apply && (r = apply(userdata, &rec)) < 0)
				return r;
			n++;
			off += SEVD_JREC_SIZE;
			continue;
		}
		next = next_valid(buf, len, off + 1);
		if (next == len)
			break; /* nothing valid after it: a torn tail */
		if (!recover) {
			*ret_bad = off;
			return -EBADMSG;
		}
		skipped++;
		off = next;
	}
	*ret_end = off < len ? off : len;
	*ret_skipped = skipped;
	return n;
}

static int fsync_dir(const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return negative_errno();
	return 0;
}

/* Replay the existing file: truncate a torn tail, refuse middle corruption. */
static int journal_replay(struct sevd_journal *j, bool recover, sevd_journal_apply_fn apply,
			  void *userdata)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0, end = 0, bad = 0;
	unsigned skipped = 0;
	int n;

	n = read_full_file(j->path, JOURNAL_MAX_SIZE, &buf, &len);
	if (n == -ENOENT)
		return 0;
	if (n < 0)
		return log_error_errno(n, "Cannot read the journal %s: %m", j->path);
	n = sevd_journal_scan(buf, len, recover, apply, userdata, &end, &bad, &skipped);
	if (n == -EBADMSG)
		return log_error_errno(
		    EBADMSG,
		    "Journal %s is corrupt at offset %zu (%s, with valid records "
		    "after it): refusing to start. Keep a copy of the file, then "
		    "start with --journal-recover to skip the bad bytes",
		    j->path, bad, bad == 0 ? "bad header" : "bad record");
	if (n < 0)
		return n;
	if (skipped)
		log_warning(
		    "Journal %s: --journal-recover skipped %u corrupt region(s); the guests "
		    "recorded there are reconciled from firmware only",
		    j->path, skipped);
	if (end < len) {
		log_warning("Journal %s: torn tail of %zu bytes at offset %zu (a crash mid-write); "
			    "truncating it",
			    j->path, len - end, end);
		if (truncate(j->path, (off_t)end) < 0) /* e.g. EROFS: the next append retries */
			log_warning_errno(errno,
					  "Cannot truncate %s now (%m): the torn tail is cut off "
					  "before the next append",
					  j->path);
	}
	j->size = (off_t)end;
	j->records = (size_t)n;
	return 1;
}

static int journal_create(struct sevd_journal *j)
{
	uint8_t hdr[SEVD_JOURNAL_HEADER];
	_cleanup_close_ int fd = open(j->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return log_error_errno(errno, "Cannot create the journal %s: %m", j->path);
	sevd_journal_header(hdr);
	if (loop_write(fd, hdr, sizeof(hdr)) < 0 || fsync(fd) < 0 || fsync_dir(j->dir) < 0)
		return log_error_errno(errno ? errno : EIO, "Cannot write the journal %s: %m",
				       j->path);
	j->size = SEVD_JOURNAL_HEADER;
	return 0;
}

int sevd_journal_open(const char *dir, bool recover, sevd_journal_apply_fn apply, void *userdata,
		      struct sevd_journal **ret)
{
	struct sevd_journal *j = calloc(1, sizeof(*j));
	struct stat st;
	int r;

	if (!j)
		return -ENOMEM;
	j->dir = strdup(dir);
	j->path = path_join(dir, SEVD_JOURNAL_FILE);
	j->tmp_path = path_join(dir, SEVD_JOURNAL_FILE ".tmp");
	if (!j->dir || !j->path || !j->tmp_path) {
		sevd_journal_free(j);
		return -ENOMEM;
	}
	(void)unlink(j->tmp_path); /* an unfinished compaction: the journal itself is intact */
	r = journal_replay(j, recover, apply, userdata);
	if (r >= 0 && (stat(j->path, &st) < 0 || st.st_size < (off_t)SEVD_JOURNAL_HEADER))
		r = journal_create(j);
	if (r < 0) {
		sevd_journal_free(j);
		return r;
	}
	*ret = j;
	return 0;
}

void sevd_journal_free(struct sevd_journal *j)
{
	if (!j)
		return;
	free(j->dir);
	free(j->path);
	free(j->tmp_path);
	free(j);
}

/* The journal open for writing, with anything after the last durable record cut off (a
 * record a failed append left half-written, or a torn tail the start could not truncate), so
 * that a valid record never follows garbage (which the next start would call corruption in
 * the middle). */
static int open_for_append(struct sevd_journal *j)
{
	_cleanup_close_ int fd = open(j->path, O_WRONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return negative_errno();
	if (st.st_size != j->size) {
		if (ftruncate(fd, j->size) < 0)
			return negative_errno();
		log_warning("Journal %s: cut %lld byte(s) after the last durable record", j->path,
			    (long long)(st.st_size - j->size));
	}
	return TAKE_FD(fd);
}

int sevd_journal_reserve(struct sevd_journal *j, unsigned n)
{
	_cleanup_close_ int fd = open_for_append(j);

	if (fd < 0)
		return fd;
	/* KEEP_SIZE: blocks behind the end of the file, the size (and so replay) unchanged. A
	 * filesystem without fallocate (EOPNOTSUPP) gets the writability check only. */
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, j->size, (off_t)n * SEVD_JREC_SIZE) < 0 &&
	    errno != EOPNOTSUPP)
		return negative_errno();
	return 0;
}

int sevd_journal_append(struct sevd_journal *j, const struct sevd_jrec *rec)
{
	uint8_t buf[SEVD_JREC_SIZE];
	_cleanup_close_ int fd = -1;
	ssize_t w = 0;
	int r = 0;

	sevd_jrec_encode(rec, buf);
	sevd_crash_point("journal-append");
	fd = open_for_append(j);
	if (fd < 0)
		return log_error_errno(
		    fd, "Cannot open the journal %s (the change is not durable): %m", j->path);
	if (sevd_crash_due("journal-torn-write")) {
		ssize_t half = pwrite(fd, buf, SEVD_JREC_SIZE / 2, j->size);

		(void)half;
		sevd_crash_stop();
	}
	w = pwrite(fd, buf, sizeof(buf), j->size);
	if (w != (ssize_t)sizeof(buf) || fdatasync(fd) < 0) {
		r = w < 0 || w == (ssize_t)sizeof(buf) ? negative_errno() : -ENOSPC;
		if (ftruncate(fd, j->size) < 0) /* else open_for_append() cuts it next time */
			log_warning_errno(errno, "Cannot cut %s back to %lld bytes now (%m)",
					  j->path, (long long)j->size);
		return log_error_errno(
		    r, "Cannot write the journal %s (the change is not durable): %m", j->path);
	}
	j->size += SEVD_JREC_SIZE;
	j->records++;
	sevd_crash_point("journal-synced");
	return 0;
}

int sevd_journal_compact(struct sevd_journal *j, const struct sevd_jrec *recs, size_t n)
{
	uint8_t hdr[SEVD_JOURNAL_HEADER], buf[SEVD_JREC_SIZE];
	_cleanup_close_ int fd = open(j->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int r = 0;

	if (fd < 0)
		return log_error_errno(errno, "Cannot create %s: %m", j->tmp_path);
	sevd_journal_header(hdr);
	r = loop_write(fd, hdr, sizeof(hdr)); /* -ENOSPC on a full disk: named in the answer */
	for (size_t i = 0; r >= 0 && i < n; i++) {
		sevd_jrec_encode(&recs[i], buf);
		r = loop_write(fd, buf, sizeof(buf));
	}
	if (r > 0)
		r = 0;
	if (r == 0 && fsync(fd) < 0)
		r = negative_errno();
	sevd_crash_point("compact-written");
	if (r == 0 && rename(j->tmp_path, j->path) < 0)
		r = negative_errno();
	sevd_crash_point("compact-renamed");
	if (r == 0)
		r = fsync_dir(j->dir);
	if (r < 0) {
		(void)unlink(j->tmp_path);
		return log_error_errno(r, "Cannot compact the journal %s: %m", j->path);
	}
	j->size = (off_t)(SEVD_JOURNAL_HEADER + n * SEVD_JREC_SIZE);
	j->records = n;
	return 0;
}

size_t sevd_journal_records(const struct sevd_journal *j)
{
	return j->records;
}

const char *sevd_journal_path(const struct sevd_journal *j)
{
	return j->path;
}
