/* Helpers for test programs: assertions that say where and why, temp dirs that clean up,
 * real processes (the emulator, the daemon, the CLI) started and stopped, vectors read in
 * place from ../shared/vectors (SEV_VECTORS). Every failed check exits non-zero. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

extern int tu_checks; /* number of checks run; tu_done() fails a test that checked nothing */

#define TU_CHECK(cond, ...)                                                                        \
	do {                                                                                       \
		tu_checks++;                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);  \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)
#define TU_CHECK_EQ(a, b)                                                                          \
	TU_CHECK((long long)(a) == (long long)(b), "%s = %lld, expected %lld", #a, (long long)(a), \
		 (long long)(b))
#define TU_CHECK_MEM(a, b, n) TU_CHECK(memcmp((a), (b), (n)) == 0, "bytes differ")

/* Print "name: N checks passed" and exit 0; exit 1 if no check ran. */
_Noreturn void tu_done(const char *name);
/* Skip the whole test with a reason (exit 77: meson counts it as skipped). */
_Noreturn void tu_skip(const char *reason);

/* $SEV_VECTORS/rel, read whole. Exits with a clear message when the vectors are missing. */
char *tu_vector_path(const char *rel);
uint8_t *tu_read_vector(const char *rel, size_t *ret_len);
uint8_t *tu_read_file(const char *path, size_t *ret_len);
/* The files of a corpus directory (dot files left out), at most max, each read whole. */
struct tu_seed {
	uint8_t *p;
	size_t len;
};
size_t tu_load_seeds(const char *dir, struct tu_seed *seeds, size_t max);
/* xorshift64, the replay tests' reproducible random stream (*state must not be 0). */
uint32_t tu_xorshift(uint64_t *state);

/* A fresh directory under $TMPDIR, removed recursively by tu_rmtree(). */
char *tu_mkdtemp(void);
void tu_rmtree(const char *path);

/* Path of a built binary from the environment (SEV_PSP_EMU_EXE, SEVD_EXE, SEVADM_EXE, ...). */
const char *tu_exe(const char *env_name);

/* Spawn argv[0] with argv; stdout/stderr to log_path when non-NULL. Returns the pid. */
pid_t tu_spawn(char *const argv[], const char *log_path);
/* Wait until a Unix socket at path accepts connections (bounded; false on timeout). */
bool tu_wait_socket(const char *path, int timeout_ms);
/* A TCP port on 127.0.0.1 that was free a moment ago (bound, read, closed). */
int tu_free_port(void);
/* A connected stream socket to the Unix socket at path; fails the test otherwise. */
int tu_unix_connect(const char *path);
/* sevd's HTTP worker: the child of the core `core` with "--worker" in its argv, or 0. */
pid_t tu_find_worker(pid_t core);
/* SIGTERM, then SIGKILL after timeout; returns the exit status as waitpid reports it. */
int tu_stop(pid_t pid, int timeout_ms);
/* Run a command to completion, capturing stdout (NUL-terminated) into *out when non-NULL.
 * Returns the exit code (or 128+signal). */
int tu_run(char *const argv[], char **out, size_t *out_len);

/* sev-psp-emu started on dir/emu.sock with NV file dir/nv.bin (extra args may be NULL). */
struct tu_emu {
	pid_t pid;
	char *socket;
	char *nv;
	char *log;
};
int tu_emu_start(const char *dir, const char *const extra_args[], struct tu_emu *ret);
void tu_emu_stop(struct tu_emu *e);

/* Connect to 127.0.0.1:port until something listens (bounded); true when it did. */
bool tu_wait_tcp(int port, int timeout_ms);

/* sevd started for a test: --psp, --state-dir DIR/state, a Unix listener, optionally one TCP
 * listener on 127.0.0.1 (tcp_scheme "tcp" or "tls", on tcp_port), --config (when set) and any
 * extra arguments; its log is DIR/sevd.log. Returns once the Unix socket (and the TCP port)
 * accept connections; fails the test otherwise. */
struct tu_sevd_opts {
	const char *dir;       /* state and log go here */
	const char *psp;       /* --psp value */
	const char *unix_path; /* --listen unix:PATH */
	const char *tcp_scheme; /* NULL: no TCP listener */
	int tcp_port;
	const char *config;    /* --config PATH, or NULL */
	const char *const *extra_args; /* NULL-terminated, or NULL */
};
pid_t tu_sevd_start(const struct tu_sevd_opts *o);
