/* sevadm verbs: one file per verb (cli/verb-*.c), one row per verb in the table of sevadm.c.
 * A verb gets the global options already parsed and its own argv (argv[0] = the verb name),
 * parses its own flags (getopt_long, with --help), and returns the process exit status:
 * 0 success, 1 failed (a message on stderr naming what and why), 2 usage error. */
#pragma once

#include <signal.h>
#include <stdbool.h>

struct sevadm_ctx {
	const char *daemon; /* "unix:PATH" or "http(s)://HOST:PORT" */
	const char *token_file;
	bool json;	    /* --json: stable JSON on stdout */
	bool tty;	    /* stderr is a terminal (progress bars) */
	const char *ca_file; /* --ca-file: PEM CA bundle for https:// (NULL: system store) */
	/* Set (non-zero) by a signal handler to stop long work: uploads end early. NULL: never. */
	const volatile sig_atomic_t *cancel;
};

struct sevadm_verb {
	const char *name;
	int (*run)(const struct sevadm_ctx *ctx, int argc, char **argv);
	const char *summary; /* one line for `sevadm --help` */
	bool needs_daemon;   /* false for offline guest-owner verbs */
};

#define SEVADM_EXIT_OK 0
#define SEVADM_EXIT_FAIL 1
#define SEVADM_EXIT_USAGE 2
