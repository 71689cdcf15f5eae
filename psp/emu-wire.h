/* The wire protocol between the emu transport (psp/psp-emu.c) and sev-psp-emu (psp/emu/).
 * SOCK_SEQPACKET Unix socket; one message per request and one per reply, each a fixed header
 * followed by `len` payload bytes. Anything malformed (bad magic/version, len over the cap or
 * not matching the datagram) ends the connection: the emulator trusts no client byte.
 *
 * Memory: the client hands the emulator memfds with SCM_RIGHTS (EMU_MSG_MAP); the emulator
 * maps them and answers a base address. Addresses in command buffers are base + offset; the
 * emulator checks every (address, length) against its mapped regions as firmware checks
 * physical addresses (INVALID_ADDRESS), so a buffer never reaches outside a region.
 * Regions stay mapped in the emulator until unmapped or the emulator exits — so guest memory
 * and guest contexts survive a restart of sevd, as on hardware. */
#pragma once

#include <stdint.h>

#define EMU_WIRE_MAGIC 0x45564553u /* "SEVE" little-endian */
#define EMU_WIRE_VERSION 1u
#define EMU_WIRE_MAX_PAYLOAD 4096u /* command buffers are < 100 bytes; info/ctl fit easily */
#define EMU_REGION_SHIFT 40	   /* region i has base (i + 1) << 40; address 0 is never valid */

enum emu_msg_type {
	EMU_MSG_CMD = 1,   /* payload: command buffer; hdr.cmd = firmware command id. Shorter
			    * than the command's buffer: reply error -EMSGSIZE, no status */
	EMU_MSG_MAP = 2,   /* payload: struct emu_map_req; one memfd in SCM_RIGHTS */
	EMU_MSG_UNMAP = 3, /* payload: struct emu_unmap_req */
	EMU_MSG_INFO = 4,  /* no payload; reply payload: struct emu_info */
	EMU_MSG_CTL = 5,   /* payload: text control line (fault plans etc., see psp/emu) */
	EMU_MSG_BATCH = 6, /* hdr.cmd = N (1..EMU_BATCH_MAX) firmware commands, each a struct
			    * emu_batch_item then its buffer, run in order as N EMU_MSG_CMDs would
			    * be, stopping after the first whose status or error is not 0. Reply
			    * payload: a struct emu_batch_result and the updated buffer for each
			    * command that ran; hdr.status/error those of the last one. The sum of
			    * sizeof(struct emu_batch_result) + len over the N must fit
			    * EMU_WIRE_MAX_PAYLOAD, else error -EMSGSIZE and none runs */
};

#define EMU_BATCH_MAX 64u

struct emu_batch_item {
	uint32_t cmd; /* firmware command id */
	uint32_t len; /* its buffer's bytes, which follow */
} __attribute__((packed));

struct emu_batch_result {
	uint32_t cmd;
	int32_t status; /* as emu_reply_hdr's for one EMU_MSG_CMD */
	int32_t error;
	uint32_t len; /* the updated buffer's bytes, which follow (0 when error) */
} __attribute__((packed));

struct emu_msg_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t cmd;
	uint32_t len; /* payload bytes that follow */
	uint64_t seq; /* echoed in the reply */
} __attribute__((packed));

struct emu_reply_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	int32_t status; /* firmware status (SEV_STATUS_*) for EMU_MSG_CMD; 0 otherwise */
	int32_t error;	/* 0, or a negative errno when the request itself was refused */
	uint32_t len;	/* payload bytes that follow: the updated command buffer, or info */
	uint32_t reserved;
	uint64_t seq;
} __attribute__((packed));

struct emu_map_req {
	uint64_t size; /* bytes of the memfd to map, a multiple of 4096 */
} __attribute__((packed));
/* EMU_MSG_MAP flags, in hdr.cmd (0 = a region that outlives the connection, e.g. guest
 * memory): the region is unmapped when this connection closes (a client's private DMA
 * region, so a restarting client does not leak one region per run). */
#define EMU_MAP_F_CONNECTION 0x1u

struct emu_map_reply {
	uint64_t base;
} __attribute__((packed));

struct emu_unmap_req {
	uint64_t base;
} __attribute__((packed));

struct emu_info {
	uint32_t cpuid_eax, cpuid_ebx, cpuid_ecx, cpuid_edx; /* Fn8000_001F */
	uint8_t api_major, api_minor, build, reserved;
	uint32_t pid;
	uint64_t commands_served;
	uint32_t max_concurrent_seen; /* commands in flight at once ever observed (must stay 1) */
} __attribute__((packed));

_Static_assert(sizeof(struct emu_msg_hdr) == 24, "emu_msg_hdr is 24 bytes");
_Static_assert(sizeof(struct emu_reply_hdr) == 32, "emu_reply_hdr is 32 bytes");
