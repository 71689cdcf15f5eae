/* sev-psp-emu's "system physical memory": the memfds clients hand over (EMU_MSG_MAP), each
 * mapped at base (i + 1) << EMU_REGION_SHIFT. Firmware code reaches client memory only through
 * emu_mem_read()/emu_mem_write(), which check (address, length) against the regions as the PSP
 * checks physical addresses (INVALID_ADDRESS) and survive a client that shrinks its memfd
 * under us (SIGBUS is caught and becomes INVALID_ADDRESS). Trusts nothing a client sends. */
#pragma once

#include <stdbool.h>
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
/* The same, remembering which connection mapped the region (creator, 0: none): a region that
 * outlives its connection (owner 0) is "abandoned" once emu_mem_conn_gone(creator) ran. */
int emu_mem_map_by(struct emu_mem *m, int fd, uint64_t size, uint64_t owner, uint64_t creator,
		   uint64_t *ret_base);
int emu_mem_unmap(struct emu_mem *m, uint64_t base);
void emu_mem_unmap_owner(struct emu_mem *m, uint64_t owner);
/* Connection id closed: its private regions unmapped (emu_mem_unmap_owner), the regions it
 * mapped to outlive it marked abandoned. */
void emu_mem_conn_gone(struct emu_mem *m, uint64_t id);
/* addr lies in a region whose creator connection is gone (a restarted client may have taken
 * it over: guest memory named in its journal; or nobody knows it any more). */
bool emu_mem_abandoned(const struct emu_mem *m, uint64_t addr);
unsigned emu_mem_count(const struct emu_mem *m);

/* Copy between firmware memory and client memory. Return a firmware status: SEV_STATUS_SUCCESS
 * or SEV_STATUS_INVALID_ADDRESS (range not inside one region, overflow, or the pages vanished). */
int emu_mem_read(struct emu_mem *m, uint64_t addr, void *dst, size_t len);
int emu_mem_write(struct emu_mem *m, uint64_t addr, const void *src, size_t len);
/* Let fn(dst, arg) produce the len bytes for client memory at addr (0, or a negative errno)
 * straight into it, where firmware would otherwise build them in a buffer and copy that in
 * (emu_mem_write): in a region whose memfd is sealed against shrinking (F_SEAL_SHRINK, which
 * emu_mem_map adds where the memfd allows sealing) the pages cannot vanish, so fn writes there
 * and never runs under the SIGBUS guard. Elsewhere fn writes to scratch (len bytes, the
 * caller's) and that is copied under the guard. Returns SEV_STATUS_SUCCESS,
 * SEV_STATUS_INVALID_ADDRESS, or SEV_STATUS_HWERROR_PLATFORM when fn failed. */
int emu_mem_write_with(struct emu_mem *m, uint64_t addr, size_t len, uint8_t *scratch,
		       int (*fn)(uint8_t *dst, void *arg), void *arg);
/* Is [addr, addr+len) inside one region? (for checks without copying, e.g. the TMR) */
int emu_mem_check(struct emu_mem *m, uint64_t addr, uint64_t len);
/* Firmware's own memory inside client memory (SEV-ES's TMR from INIT on): every range that
 * overlaps [base, base+len) is INVALID_ADDRESS to all the calls above, as firmware's
 * validate_address_range refuses ranges in a TMR. len 0 ends the protection. */
void emu_mem_protect(struct emu_mem *m, uint64_t base, uint64_t len);
/* The C-bit (CPUID 8000_001F EBX[5:0]): hosts may send addresses with it set, as KVM does
 * (__sme_page_pa); firmware ignores it in address checks (validate_address_range "exclude the
 * c-bit"), so every call above does too, and no region base ever has it set. */
void emu_mem_set_cbit(struct emu_mem *m, unsigned bit);
uint64_t emu_mem_strip_cbit(const struct emu_mem *m, uint64_t addr);
