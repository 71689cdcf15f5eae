/* What the guest-lifecycle tests share (tests/cli/test-cli-guest.c and the end-to-end test in
 * tests/integration): the real sevadm run as a user runs it (stdin /dev/null, or stderr on a
 * pseudo-terminal), and the real sevd + sev-psp-emu started for the test, reachable over its
 * Unix socket (root: admin) and over TCP with launcher, owner and reader tokens. A failed check
 * exits; the daemon and the emulator never outlive the test. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "tests/testutil.h"

extern const char *tg_sevadm; /* $SEVADM_EXE */
extern char *tg_dir;	      /* the test's temporary directory */

/* The output of one sevadm run. */
struct tg_run {
	int rc;
	char *out, *err;
};
void tg_run_clear(struct tg_run *r);

/* sevadm with the NULL-terminated args; bounded to 120 s. */
struct tg_run tg_cli_argv(const char *const *args);
#define TG_CLI(...) tg_cli_argv((const char *const[]){ __VA_ARGS__, NULL })
/* The same with stdin read from in_path (a pipe-like stream for `sevadm launch -`). */
struct tg_run tg_cli_stdin_argv(const char *in_path, const char *const *args);
/* The same with stderr on a fresh pseudo-terminal (stdout still to a file): r.err is what
 * the terminal showed. */
struct tg_run tg_cli_tty_argv(const char *const *args);
#define TG_CLI_TTY(...) tg_cli_tty_argv((const char *const[]){ __VA_ARGS__, NULL })

/* Exit code and text expectations (NULL: not checked) with the caller's line. */
void tg_expect(const struct tg_run *r, int code, const char *out_has, const char *err_has,
	       int line);
#define TG_EXPECT(r, code, out_has, err_has) tg_expect(&(r), (code), (out_has), (err_has), __LINE__)

/* stdout parsed as a JSON object (checked), and a typed member of one. */
json_object *tg_json(const struct tg_run *r);
json_object *tg_get(json_object *o, const char *key, json_type type);

/* The daemon under test. emu_args: extra sev-psp-emu flags (NULL-terminated) or NULL. Its files
 * go to tg_dir as it is at the call; two daemons (a migration's source and target) may run at
 * once, each started with tg_dir pointing at its own directory. SEVD_SOCKET (sevadm's default)
 * names the one started last. */
struct tg_daemon {
	struct tu_emu emu;
	pid_t pid;
	char unix_ep[300], tcp_ep[64];
	char *launcher_token, *owner_token, *reader_token, *log;
};
void tg_init(const char *name); /* sets tg_sevadm, tg_dir; skips (77) when binaries miss */
void tg_daemon_start(struct tg_daemon *d, const char *const *emu_args, const char *extra_conf);
void tg_daemon_stop(struct tg_daemon *d);
void tg_dump_log(const char *path);
/* One CTL line to d's emulator (its own channel, not sevd's); the reply payload into buf (its
 * length returned), a passed descriptor into *ret_fd (-1 when none; ret_fd may be NULL). */
size_t tg_emu_ctl(const struct tg_daemon *d, const char *line, uint8_t *buf, size_t cap,
		  int *ret_fd);
/* The emulator's ARK, fetched from d's emulator into a file in tg_dir (path returned): the
 * root an owner of an emulated host names explicitly. */
char *tg_emulator_root(const struct tg_daemon *d);

/* A file of len pseudo-random bytes (a fixed seed per name: reproducible) in tg_dir. */
char *tg_make_image(const char *name, size_t len);
