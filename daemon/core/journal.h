/* The guest journal (crash safety): an append-only file under the state dir where
 * the core records every guest state change before it answers the HTTP request. Each record
 * carries its length and a checksum (the first 8 bytes of SHA-256 over magic ‖ length ‖
 * payload, through EVP), and is fsync'ed before sevd_journal_append() returns. When the file
 * grows past a bound, sevd_journal_compact() rewrites it atomically as a snapshot (one record
 * per live guest), so restart time follows the number of guests, not the history.
 *
 * Replay rules: a torn or garbled TAIL (nothing valid after it: what a crash mid-append
 * leaves) is truncated with a warning; a bad record with valid records after it is corruption
 * in the middle and refuses the start with the file and offset named, unless `recover` is set,
 * in which case the bad bytes are skipped and reported. Nothing is skipped silently.
 * Trusts nothing in the file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEVD_JOURNAL_FILE "guests.journal"
#define SEVD_JREC_NAME_MAX 64u
#define SEVD_JREC_PAYLOAD 240u
#define SEVD_JREC_SIZE (8u + SEVD_JREC_PAYLOAD + 8u) /* magic, length, payload, checksum */
#define SEVD_JOURNAL_HEADER 16u			     /* "SEVDJRNL" ‖ u32 version ‖ u32 0 */

enum sevd_jrec_type {
	SEVD_JREC_PUT = 1,    /* the whole state of one guest (insert or replace by handle) */
	SEVD_JREC_DEL = 2,    /* the guest is decommissioned */
	SEVD_JREC_INTENT = 3, /* a LAUNCH_START is about to run with memory at mem_base */
	SEVD_JREC_META = 4,   /* daemon counters (generation) */
	/* SEV-ES: guest `handle` has a VMSA page at guest address `mem_base` (the address its
	 * LAUNCH_UPDATE_VMSA or RECEIVE_UPDATE_VMSA took; one record per page, after the
	 * guest's first PUT). A restart needs them to migrate the guest again: SEND_UPDATE_VMSA
	 * names each page, and the memory packets skip them. A DEL drops them with the guest. */
	SEVD_JREC_VMSA = 5,
	/* A LAUNCH_SECRET packet seen for guest `handle`, recorded before firmware runs it:
	 * mnonce holds the packet's IV, measure its MAC (struct sev_secret_header). sevd refuses
	 * a packet whose IV or MAC it has seen for that guest (a replay), after a restart too.
	 * With flags SEVD_JREC_F_REFUSED: firmware refused that packet, so it is not seen. */
	SEVD_JREC_SECRET = 6,
	/* Guest `handle`'s stable id (core.h SEVD_GUEST_ID_SIZE) in mnonce, after its first PUT
	 * (and in every snapshot); a DEL drops it with the guest. A guest replayed without one
	 * (a journal from before ids, or a crash between the two records of a launch, which
	 * never answered) is given a new one at start. */
	SEVD_JREC_ID = 7,
};

#define SEVD_JREC_F_MEASURED 0x1u /* measure/mnonce valid */
#define SEVD_JREC_F_ES 0x2u	  /* SEV-ES policy */
#define SEVD_JREC_F_GRANTED 0x4u  /* announced to grant-stream subscribers */
/* SEV-SNP guests: policy holds the SNP policy (bits 32..63 are reserved), the
 * context page is the page at mem_base + memory_size, measure ‖ mnonce hold the 48-byte launch
 * digest so far (final with F_MEASURED, after SNP_LAUNCH_FINISH). An INTENT with F_SNP names
 * the region and its memory_size, so that the context page of a launch that never reached its
 * PUT is found. */
#define SEVD_JREC_F_SNP 0x8u
#define SEVD_JREC_F_SNP_ID 0x10u /* finished with an ID block */
#define SEVD_JREC_F_REFUSED 0x1u /* SECRET records: firmware refused the packet */

struct sevd_jrec {
	uint8_t type;  /* enum sevd_jrec_type */
	uint8_t state; /* the guest state as sevd last saw it (SEV_GSTATE_*) */
	uint8_t flags; /* SEVD_JREC_F_* */
	uint32_t handle, asid, policy;
	uint64_t memory_size, data_bytes, mem_base; /* VMSA records: mem_base = the page's GPA */
	uint64_t created, updated; /* Unix time, seconds */
	uint64_t generation;	   /* grant generation of the current ASID binding */
	uint8_t measure[32], mnonce[16];
	char name[SEVD_JREC_NAME_MAX], tenant[SEVD_JREC_NAME_MAX]; /* NUL-terminated */
};

struct sevd_journal;

/* Called for every valid record in file order during open. A negative return stops the
 * replay and fails the open. */
typedef int (*sevd_journal_apply_fn)(void *userdata, const struct sevd_jrec *rec);

/* Open (create) DIR/guests.journal and replay it. -EBADMSG for corruption in the middle
 * (logged with the file and offset) unless recover; other negative errnos for I/O. */
int sevd_journal_open(const char *dir, bool recover, sevd_journal_apply_fn apply, void *userdata,
		      struct sevd_journal **ret);
void sevd_journal_free(struct sevd_journal *j);
/* Append one record after the last durable one and fdatasync it. On failure nothing of the
 * record stays in the file (cut off at once, or before the next append at the latest). */
int sevd_journal_append(struct sevd_journal *j, const struct sevd_jrec *rec);
/* For a full or read-only state dir: before a change, check that the journal can be opened
 * for writing and reserve room for n more records behind its end (fallocate KEEP_SIZE), so
 * that the appends the change needs cannot run out of space half-way. -ENOSPC, -EROFS, ... */
int sevd_journal_reserve(struct sevd_journal *j, unsigned n);
/* Replace the file atomically by these records (a snapshot): write a temporary file, fsync,
 * rename over the journal, fsync the directory. */
int sevd_journal_compact(struct sevd_journal *j, const struct sevd_jrec *recs, size_t n);
/* Records in the file now (for the compaction bound). */
size_t sevd_journal_records(const struct sevd_journal *j);
const char *sevd_journal_path(const struct sevd_journal *j);

/* The codec, for the tests and the fuzz target. encode writes SEVD_JREC_SIZE bytes. */
void sevd_jrec_encode(const struct sevd_jrec *rec, uint8_t out[SEVD_JREC_SIZE]);
void sevd_journal_header(uint8_t out[SEVD_JOURNAL_HEADER]);
/* Scan a whole journal image. Returns the number of valid records (>= 0) with *ret_end the
 * length of its valid prefix (the tail after it is torn), or -EBADMSG for a bad header or
 * middle corruption (*ret_bad = its offset) when !recover. With recover, bad regions in the
 * middle are skipped and counted in *ret_skipped. */
int sevd_journal_scan(const uint8_t *buf, size_t len, bool recover, sevd_journal_apply_fn apply,
		      void *userdata, size_t *ret_end, size_t *ret_bad, unsigned *ret_skipped);
