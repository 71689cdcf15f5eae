/* sev-psp-emu's "system physical memory": the memfds clients hand over (EMU_MSG_MAP), each
 * mapped at base (i + 1) << EMU_REGION_SHIFT. Firmware code reaches client memory only through
 * emu_mem_read()/emu_mem_write(), which check (address, length) against the regions as the PSP
 * checks physical addresses (INVALID_ADDRESS) and survive a client that shrinks its memfd
 * under us (SIGBUS is caught and becomes INVALID_ADDRESS). Trusts nothing a client sends. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct emu_mem;

#define EMU_MEM_MAX_REGIONS 1024u
#define EMU_MEM_MAX_REGION_SIZE (1ull << 36) /* 64 GiB: far above any test guest */

int emu_mem_new(struct emu_mem **ret);
void emu_mem_free(struct emu_mem *m);

/* Map `size` bytes (a non-zero multiple of 4096) of fd. owner != 0 tags the region so that
 * emu_mem_unmap_owner() drops it (a connection's private DMA region). Returns 0 and the base,
 * or -EINVAL (bad size, fd smaller than size), -ENOSPC (too many regions), -errno of mmap. */
int emu_mem_map(struct emu_mem *m, int fd, uint64_t size, uint64_t owner, uint64_t *ret_base);
int emu_mem_unmap(struct emu_mem *m, uint64_t base);
void emu_mem_unmap_owner(struct emu_mem *m, uint64_t owner);
unsigned emu_mem_count(const struct emu_mem *m);

/* Copy between firmware memory and client memory. Return a firmware status: SEV_STATUS_SUCCESS
 * or SEV_STATUS_INVALID_ADDRESS (range not inside one region, overflow, or the pages vanished). */
int emu_mem_read(struct emu_mem *m, uint64_t addr, void *dst, size_t len);
int emu_mem_write(struct emu_mem *m, uint64_t addr, const void *src, size_t len);
/* Is [addr, addr+len) inside one region? (for checks without copying, e.g. the TMR) */
int emu_mem_check(struct emu_mem *m, uint64_t addr, uint64_t len);
