/* Logging backend: plain "ident: message" lines on stderr, or journald with CODE_FILE/LINE/FUNC
 * fields through the sender common/log-journal.c installs. Only that file needs libsystemd, so
 * a tool that logs to stderr (sevadm, the emulators) does not load it and its compression
 * libraries at every start. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static const char *log_ident = "sevd";
static log_journal_send_fn journal_send; /* NULL: no journal backend linked */
static int log_max_level = LOG_INFO;

void log_setup(const char *ident, log_journal_send_fn journal, int max_level)
{
	const char *lvl = getenv("SEVD_LOG_LEVEL");

	if (ident)
		log_ident = ident;
	journal_send = journal;
	log_max_level = max_level;
	if (lvl && strcmp(lvl, "debug") == 0)
		log_max_level = LOG_DEBUG;
}

void log_set_max_level(int level)
{
	log_max_level = level;
}

int log_get_max_level(void)
{
	return log_max_level;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
		 const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	int e = error < 0 ? -error : error;

	if (level > log_max_level)
		return e ? -e : 0;

	errno = e; /* so that %m names this error */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (journal_send)
		journal_send(level, e, file, line, func, log_ident, msg);
	else
		fprintf(stderr, "%s: %s\n", log_ident, msg);
	return e ? -e : 0;
}
