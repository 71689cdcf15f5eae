/* The journal backend of common/log.h, for the daemon alone (it links libsystemd): structured
 * entries when stderr is connected to the journal, stderr lines otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include "common/log-journal.h"

static void send_entry(int level, int error, const char *file, int line, const char *func,
		       const char *ident, const char *msg)
{
	char cf[512], cl[32];

	snprintf(cf, sizeof(cf), "CODE_FILE=%s", file);
	snprintf(cl, sizeof(cl), "CODE_LINE=%d", line);
	sd_journal_send_with_location(cf, cl, func, "MESSAGE=%s", msg, "PRIORITY=%d", level,
				      "SYSLOG_IDENTIFIER=%s", ident, "ERRNO=%d", error, NULL);
}

/* systemd sets JOURNAL_STREAM=dev:ino for a service whose stderr goes to the journal. */
bool log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long dev, ino;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void log_setup_journal(const char *ident, int max_level)
{
	log_setup(ident, log_stderr_is_journal() ? send_entry : NULL, max_level);
}
