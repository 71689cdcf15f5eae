/* A progress line for sevadm's long operations (image uploads, chain fetches, launch storms):
 * drawn on stderr, and only when stderr is a terminal, so pipes, logs and scripts see nothing
 * of it. Redraws of byte counts are throttled; the last draw ends the line. Knows nothing
 * about what it counts beyond the unit. Not thread-safe: callers that share one serialize. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct progress;

enum progress_unit {
	PROGRESS_SIZE,	/* "image upload [####....]  42% 2.5 MiB / 6.0 MiB" */
	PROGRESS_BYTES, /* "fetching VCEK from HOST [2/2]: 1,360/1,360 bytes" */
	PROGRESS_COUNT, /* "guests [####....] 3/8 NOTE" (NOTE e.g. "launched (1 failed)") */
};

/* total 0 = unknown (a pipe, an answer without Content-Length): then only the amount so far
 * is shown. enabled false (stderr is no tty, or --json) makes every call a no-op. Returns
 * NULL only when enabled and out of memory; a NULL progress is accepted by the other calls.
 * progress_new is progress_new_unit with PROGRESS_SIZE. */
struct progress *progress_new(const char *label, uint64_t total, bool enabled);
struct progress *progress_new_unit(const char *label, enum progress_unit unit, uint64_t total,
				   bool enabled);
/* The total once it is known (an answer's Content-Length). */
void progress_set_total(struct progress *p, uint64_t total);
/* Text after the figures ("launched (1 failed)"); drawn by the next update. */
void progress_note(struct progress *p, const char *note);
void progress_update(struct progress *p, uint64_t done);
/* Erase the line, so that other output can be written to the terminal; the next update or
 * note draws it again. */
void progress_clear(struct progress *p);
/* Draw the final state with " done" or " failed" and end the line; then free. NULL ok. */
void progress_finish(struct progress *p, bool ok);
/* The same with the caller's tail ("" for none) instead of " done"/" failed". */
void progress_finish_tail(struct progress *p, const char *tail);
