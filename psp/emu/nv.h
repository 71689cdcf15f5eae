/* The emulator's non-volatile store (the PSP's SPI flash): one file holding the chip identity
 * (chip-unique key, emulated AMD root, CEK), the owner store (OCA, PEK, PDH, owner flag) and
 * counters. Layout (all little-endian):
 *   0  magic "SEVEMUNV"        8  u32 format version (1)   12 u32 header size (64)
 *   16 u64 payload length     24 SHA-256 over the header (this field zeroed) ‖ payload
 *   56 u64 reserved (0)       64 payload: records {u16 tag, u16 0, u32 len, len bytes}
 * Written whole and atomically (temp file, fsync, rename, fsync dir). A file that is short,
 * has a bad magic/version/length/checksum or a malformed record is refused with the reason:
 * never silently replaced, since replacing it would change the chip's identity (only with the
 * operator's --erase-corrupt-nv does INIT erase it, as firmware does: firmware.c). */
#pragma once

#include <stdint.h>

#include "psp/emu/identity.h"

#define EMU_NV_MAX_SIZE (256u * 1024u)

struct emu_nv_state {
	struct emu_chip chip;
	struct emu_owner owner;
	uint64_t generation;	 /* number of times the store was written */
	uint64_t factory_resets; /* FACTORY_RESETs over the chip's life */
};

/* 0; -ENOENT when the file does not exist; -EBADMSG with *reason (static text) when it is
 * torn or corrupt; other -errno on I/O errors. */
int emu_nv_load(const char *path, struct emu_nv_state *ret, const char **reason);
/* Serialize and write atomically; bumps st->generation first. */
int emu_nv_save(const char *path, struct emu_nv_state *st);
void emu_nv_state_clear(struct emu_nv_state *st);
/* Decode a file image (exposed for tests and the fuzz target). */
int emu_nv_decode(const uint8_t *buf, size_t len, struct emu_nv_state *ret, const char **reason);
