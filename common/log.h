/* Logging for daemons and tools: to stderr, or for the daemon under systemd to the journal
 * (structured; common/log-journal.h).
 * Libraries log at debug level at most. Never pass key bytes to these functions. */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "common/macros.h"

/* Where a message goes instead of stderr: the journal, through common/log-journal.h's
 * log_setup_journal (the only sender; the daemon's). */
typedef void (*log_journal_send_fn)(int level, int error, const char *file, int line,
				    const char *func, const char *ident, const char *msg);

/* ident prefixes each stderr line; journal NULL: stderr (tools and the emulators). */
void log_setup(const char *ident, log_journal_send_fn journal, int max_level);
void log_set_max_level(int level);
int log_get_max_level(void);

/* Log at `level`; returns -abs(error) (or 0 when error is 0) so that callers can write
 * `return log_error_errno(r, "Failed to open %s: %m", path);` — %m expands to strerror(error). */
int log_internal(int level, int error, const char *file, int line, const char *func,
		 const char *fmt, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...)                                                          \
	log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)
