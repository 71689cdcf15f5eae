/* The worker's system-call filter (privilege separation, issue 7): a classic BPF program
 * written here with <linux/seccomp.h> (no libseccomp). Installed last, after the worker has
 * dropped its uid, groups and capabilities and set no_new_privs; inherited by every thread
 * the worker starts afterwards (so it must be installed while the worker is single-threaded).
 * It is a denylist, not an allowlist: see seccomp.c for the list and why. */
#pragma once

/* Install the filter on the calling (only) thread. The architecture is checked (a syscall
 * from another ABI kills the process); -EOPNOTSUPP on an architecture this file does not
 * know (the worker then refuses to serve). */
int sevd_seccomp_install(void);
/* Build without installing (tests): the number of BPF instructions, or a negative errno. */
int sevd_seccomp_program_len(void);
