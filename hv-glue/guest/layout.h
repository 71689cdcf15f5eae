/* The tiny guest's memory map and device ports, shared by the guest (freestanding, 32-bit)
 * and the host-side runner. Only macros: this file is compiled into both worlds. */
#pragma once

/* Unsigned constants in C; plain numbers for the assembler (clang's integrated assembler
 * rejects a "u" suffix). */
#ifdef __ASSEMBLER__
#define HV_U(x) x
#else
#define HV_U(x) x##u
#endif

#define HV_GUEST_MEM_SIZE HV_U(0x100000) /* 1 MiB of guest RAM at GPA 0 */
#define HV_GUEST_IMAGE_GPA HV_U(0x10000) /* the flat image is loaded here; entry = first byte */
#define HV_GUEST_IMAGE_MAX HV_U(0x10000) /* at most 64 KiB */
#define HV_GUEST_STACK_TOP HV_U(0x80000) /* initial ESP */

/* The secret page: where LAUNCH_SECRET will place the owner's secret (its GUEST_PADDR).
 * Layout: u32 little-endian length N, then N bytes (N <= HV_GUEST_SECRET_MAX). The guest
 * hashes exactly those N bytes. */
#define HV_GUEST_SECRET_GPA HV_U(0x30000)
#define HV_GUEST_SECRET_PAGE HV_U(0x1000)
#define HV_GUEST_SECRET_MAX (HV_GUEST_SECRET_PAGE - HV_U(4))

#define HV_GUEST_SERIAL_PORT HV_U(0x3f8) /* 16550-style THR; LSR at +5 always reads "empty" */

/* GHCB-MSR-style hypercall over I/O ports (GHCB spec §2.3.1 MSR protocol, carried by OUT/IN
 * because this guest is not SEV-ES): write the high half to HV_GUEST_GHCB_PORT_HI, then the
 * low half to HV_GUEST_GHCB_PORT_LO — that write is the VMGEXIT. Read the response back from
 * the same two ports. */
#define HV_GUEST_GHCB_PORT_LO HV_U(0x0ee0)
#define HV_GUEST_GHCB_PORT_HI HV_U(0x0ee4)
#define HV_GHCB_MSR_SEV_INFO_REQ HV_U(0x002)
#define HV_GHCB_MSR_SEV_INFO_RESP HV_U(0x001)
#define HV_GHCB_MSR_CPUID_REQ HV_U(0x004)
#define HV_GHCB_MSR_CPUID_RESP HV_U(0x005)
#define HV_GHCB_MSR_TERM_REQ HV_U(0x100)

/* An MMIO status register outside RAM (a nested page fault for the VMM): the guest writes
 * HV_GUEST_STATUS_DONE after printing its digest. */
#define HV_GUEST_STATUS_MMIO HV_U(0xf0000000)
#define HV_GUEST_STATUS_DONE HV_U(0x600d)
