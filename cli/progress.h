/* A progress bar for sevadm's long operations (image uploads): drawn on stderr, and only when
 * stderr is a terminal, so pipes, logs and scripts see nothing of it. Redraws are throttled;
 * the last draw ends the line. Knows nothing about what it counts. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct progress;

/* total 0 = unknown (a pipe): then only the bytes so far are shown. enabled false (stderr is
 * no tty, or --json) makes every call a no-op. Returns NULL only when enabled and out of
 * memory; a NULL progress is accepted by the other calls. */
struct progress *progress_new(const char *label, uint64_t total, bool enabled);
void progress_update(struct progress *p, uint64_t done);
/* Draw the final state ("done" or "failed") and end the line; then free. NULL ok. */
void progress_finish(struct progress *p, bool ok);
