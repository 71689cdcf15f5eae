/* The PSP transport: how one firmware command reaches firmware and its status comes back.
 * Two implementations behind one interface: "dev" (ioctl SEV_ISSUE_CMD on /dev/sev, for the
 * commands Linux lets user space send) and "emu" (a client of sev-psp-emu over a Unix socket,
 * with a shared memfd as the "physical memory" addresses point into).
 *
 * Callers build the firmware-ABI command buffer (sev-abi.h); data it points at must live in
 * memory from psp_dma_alloc() (or a region from psp_map_memfd()), whose `addr` goes into the
 * buffer's address fields. The same marshalling thus serves both transports.
 *
 * Thread safety: every function may be called from any thread; psp_issue() serializes commands
 * with an internal lock (firmware runs one command at a time). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct psp_transport;

/* CPUID Fn8000_001F as the PSP's host sees it (on the emulator: the emulator's config). */
struct psp_cpuid {
	uint32_t eax; /* bit 1 SEV, bit 3 SEV-ES, bit 4 SNP */
	uint32_t ebx; /* [5:0] C-bit position, [11:6] physical address reduction */
	uint32_t ecx; /* number of encrypted guests supported at once (max ASID) */
	uint32_t edx; /* minimum ASID for an SEV guest without ES */
};

/* A buffer that firmware can address: ptr for the caller, addr for the command buffer. */
struct psp_buf {
	void *ptr;
	uint64_t addr;
	size_t size;
};

/* Open a transport from a spec: "emu:SOCKET_PATH", "dev:DEVICE_PATH" or "dev" (= /dev/sev).
 * Returns 0 or a negative errno (-EINVAL for a malformed spec). */
int psp_open(const char *spec, struct psp_transport **ret);
void psp_close(struct psp_transport *t);
/* "emu" or "dev" */
const char *psp_transport_kind(const struct psp_transport *t);

/* Issue one command. `buf` is the command buffer of exactly sev_cmd_buffer_size(cmd) bytes
 * (NULL for commands without one); out fields are written back into it.
 * Returns 0 when firmware answered SUCCESS; -EIO when it answered another status (in
 * *psp_ret); any other negative errno when the command could not reach firmware, with
 * *psp_ret = SEV_STATUS_NO_FW_CALL (-EOPNOTSUPP: the transport cannot send this command,
 * e.g. guest commands through /dev/sev; -ETIMEDOUT; -ECONNRESET: emulator gone). */
int psp_issue(struct psp_transport *t, uint32_t cmd, void *buf, int *psp_ret);

/* One command of psp_issue_batch(): as psp_issue()'s arguments; psp_ret is written. */
struct psp_batch_cmd {
	uint32_t cmd;
	void *buf;
	int psp_ret;
};
#define PSP_BATCH_MAX 64u
/* Issue n (1..PSP_BATCH_MAX) independent commands in one exchange with the transport, in
 * order, stopping after the first that does not answer SUCCESS; each still runs as psp_issue()
 * would run it. Only the emulator's transport has this (psp/README.md: its EMU_MSG_BATCH);
 * /dev/sev has no such thing: -EOPNOTSUPP, nothing sent, and the caller issues them one by
 * one. *ret_done: how many reached firmware (entries after those keep SEV_STATUS_NO_FW_CALL).
 * Returns 0 when all n answered SUCCESS; -EIO when command *ret_done - 1 answered another
 * status; another negative errno as psp_issue() (then *ret_done is 0: a lost exchange says
 * nothing of which ran). */
int psp_issue_batch(struct psp_transport *t, struct psp_batch_cmd *cmds, unsigned n,
		    unsigned *ret_done);

/* Firmware-addressable memory for blobs (certs, CSRs, session blobs, reports). Zeroed. */
int psp_dma_alloc(struct psp_transport *t, size_t size, struct psp_buf *ret);
void psp_dma_free(struct psp_transport *t, struct psp_buf *b);

/* Make a caller-owned memfd addressable by firmware (guest memory for LAUNCH_UPDATE_DATA and
 * LAUNCH_SECRET). Returns its base address; addresses base..base+size-1 then refer to it.
 * Only the emu transport supports this (-EOPNOTSUPP on dev: KVM pins guest pages there). */
int psp_map_memfd(struct psp_transport *t, int memfd, uint64_t size, uint64_t *ret_base);
int psp_unmap_memfd(struct psp_transport *t, uint64_t base);

/* CPUID Fn8000_001F: the CPU's on dev, the emulator's on emu. */
int psp_get_cpuid(struct psp_transport *t, struct psp_cpuid *ret);

/* The host CPU's leaf EAX..EDX into regs: through the kernel's cpuid driver
 * (/dev/cpu/0/cpuid, where libsev-dev-emu.so answers the emulator's) when it opens, else the
 * instruction. -ENODEV for a leaf the CPU does not have. */
int psp_host_cpuid(uint32_t leaf, uint32_t regs[4]);
