/* Logging backend: journald with CODE_FILE/LINE/FUNC fields when stderr is connected to the
 * journal (JOURNAL_STREAM) or asked for, plain "ident: message" lines on stderr otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include "common/log.h"

static const char *log_ident = "sevd";
static enum log_target log_target = LOG_TARGET_STDERR;
static int log_max_level = LOG_INFO;

/* systemd sets JOURNAL_STREAM=dev:ino for a service whose stderr goes to the journal. */
static int stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long dev, ino;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return st.st_dev == dev && st.st_ino == ino;
}

void log_setup(const char *ident, enum log_target target, int max_level)
{
	const char *lvl = getenv("SEVD_LOG_LEVEL");

	if (ident)
		log_ident = ident;
	if (target == LOG_TARGET_AUTO)
		target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
	log_target = target;
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

	if (log_target == LOG_TARGET_JOURNAL) {
		char cf[512], cl[32];
		snprintf(cf, sizeof(cf), "CODE_FILE=%s", file);
		snprintf(cl, sizeof(cl), "CODE_LINE=%d", line);
		sd_journal_send_with_location(cf, cl, func, "MESSAGE=%s", msg, "PRIORITY=%d", level,
					      "SYSLOG_IDENTIFIER=%s", log_ident, "ERRNO=%d", e, NULL);
	} else {
		fprintf(stderr, "%s: %s\n", log_ident, msg);
	}
	return e ? -e : 0;
}
