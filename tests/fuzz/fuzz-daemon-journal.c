/* libFuzzer target: sevd's guest journal replay (daemon/core/journal.c, sevd_journal_scan) over
 * arbitrary file images, the input a crashed or tampered state directory gives the daemon at
 * start. Checks, beyond "no crash": without recover, either -EBADMSG (corruption in the middle
 * or a bad header) or a valid prefix made of whole records (the rest is a torn tail); every
 * record replayed encodes back to the exact bytes it was read from; recover never fails and
 * replays at least as many records. Seeds: tests/fuzz/corpus/daemon-journal (a journal
 * header followed by records; tests/daemon/gen-fuzz-seeds writes them; regression-* are inputs
 * libFuzzer found). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/core/journal.h"

struct ctx {
	const uint8_t *data;
	size_t len, at; /* where the next applied record is expected to come from (no recover) */
	int n;
	bool strict;
};

static int apply(void *userdata, const struct sevd_jrec *rec)
{
	struct ctx *c = userdata;
	uint8_t buf[SEVD_JREC_SIZE];

	sevd_jrec_encode(rec, buf);
	if (c->strict) {
		if (c->at + SEVD_JREC_SIZE > c->len || memcmp(buf, c->data + c->at, SEVD_JREC_SIZE))
			abort(); /* a replayed record must be exactly what was written */
		c->at += SEVD_JREC_SIZE;
	}
	c->n++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* For the replay test (tests/daemon/test-fuzz-replay.c): records the strict scan applied. */
uint64_t fuzz_replay_accepted(void);

static uint64_t accepted;

uint64_t fuzz_replay_accepted(void)
{
	return accepted;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx strict = {.data = data, .len = size, .at = SEVD_JOURNAL_HEADER, .strict = true};
	struct ctx loose = {.data = data, .len = size};
	size_t end = 0, bad = 0;
	unsigned skipped = 0;
	int r;

	r = sevd_journal_scan(data, size, false, apply, &strict, &end, &bad, &skipped);
	if (r == -EBADMSG) {
		if (bad >= size && size)
			abort();
	} else if (r < 0 || r != strict.n || end > size || skipped) {
		abort();
	} else if (size && (end < SEVD_JOURNAL_HEADER ||
			    (end - SEVD_JOURNAL_HEADER) != (size_t)r * SEVD_JREC_SIZE)) {
		abort(); /* the valid prefix is the header and whole records */
	}
	accepted += (uint64_t)strict.n;
	r = sevd_journal_scan(data, size, true, apply, &loose, &end, &bad, &skipped);
	if ((r < 0 && size >= SEVD_JOURNAL_HEADER) || (r >= 0 && r < strict.n))
		abort();
	return 0;
}
