/* The embedded emulator: with `--psp emu` and no socket, sevd starts its own sev-psp-emu
 * (NV file and socket under the state dir) and stops it on exit. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Which binary: $SEV_PSP_EMU_EXE, else sev-psp-emu next to the running sevd, else
 * SEVD_LIBEXEC_EMU (config.h). exe_override (config emu_exe) wins over all. */
char *sevd_emu_find_exe(const char *exe_override);
/* Start it and wait (bounded) until its socket accepts connections. */
int sevd_emu_start(const char *exe, const char *socket_path, const char *nv_path, uint32_t ecx,
		   uint32_t edx, bool snp, pid_t *ret_pid);
/* SIGTERM, wait (bounded), SIGKILL. */
void sevd_emu_stop(pid_t pid);
