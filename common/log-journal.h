/* The journal backend of common/log.h (common/log-journal.c, in libcommon-journal: the one part
 * of common/ that links libsystemd). */
#pragma once

#include <stdbool.h>

#include "common/log.h"

/* stderr is the journal's stream (JOURNAL_STREAM names its device and inode). */
bool log_stderr_is_journal(void);

/* log_setup(ident, ...) to the journal when stderr is connected to it, to stderr otherwise. */
void log_setup_journal(const char *ident, int max_level);
