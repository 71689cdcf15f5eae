/* The worker's system-call filter (privilege separation): a classic BPF program
 * written here with <linux/seccomp.h> (no libseccomp). Installed last, after the worker has
 * dropped its uid, groups and capabilities and set no_new_privs; inherited by every thread
 * the worker starts afterwards (so it must be installed while the worker is single-threaded).
 * A denylist of what an escape needs (kills or EPERM), then, outside sanitizer builds, an
 * allowlist of what the worker was seen to call (anything else: EPERM); seccomp.c says why. */
#pragma once

#include <stdbool.h>

/* Install the filter on the calling (only) thread. The architecture is checked (a syscall
 * from another ABI kills the process); -EOPNOTSUPP on an architecture this file does not
 * know (the worker then refuses to serve). inet: socket() may open AF_INET and AF_INET6
 * sockets too (sevd.conf kds_url is a URL: the worker fetches from it); else AF_UNIX only. */
int sevd_seccomp_install(bool inet);
/* Build without installing (tests): the number of BPF instructions, or a negative errno. */
int sevd_seccomp_program_len(bool inet);
/* Does this build's filter end in the allowlist (false: sanitizer builds, denylist only)? */
bool sevd_seccomp_allowlist(void);
