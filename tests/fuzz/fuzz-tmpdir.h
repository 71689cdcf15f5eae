/* A scratch directory for a fuzz target's files (the emulator's NV file), made once per
 * process and removed with what it holds when the process exits, so repeated fuzz and replay
 * runs leave nothing in $TMPDIR. */
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char fuzz_tmpdir_path[256];

static void fuzz_tmpdir_remove(void)
{
	DIR *d = opendir(fuzz_tmpdir_path);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			(void)unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	(void)rmdir(fuzz_tmpdir_path);
}

/* Make $TMPDIR/PREFIX.XXXXXX (or /tmp/...), register its removal at exit; abort on failure
 * (a fuzz target has no one to report to). Returns the directory's path. */
static const char *fuzz_tmpdir_make(const char *prefix)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(fuzz_tmpdir_path, sizeof(fuzz_tmpdir_path), "%s/%s.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp", prefix);
	if (!mkdtemp(fuzz_tmpdir_path))
		abort();
	atexit(fuzz_tmpdir_remove);
	return fuzz_tmpdir_path;
}
