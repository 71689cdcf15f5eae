/* The tiny guest's memory map and device ports, shared by the guest (freestanding, 32-bit)
 * and the host-side runner. Only macros: this file is compiled into both worlds. */
#pragma once

#define HV_GUEST_MEM_SIZE 0x100000u /* 1 MiB of guest RAM at GPA 0 */
#define HV_GUEST_IMAGE_GPA 0x10000u /* the flat image is loaded here; entry = first byte */
#define HV_GUEST_IMAGE_MAX 0x10000u /* at most 64 KiB */
#define HV_GUEST_STACK_TOP 0x80000u /* initial ESP */

/* The secret page: where LAUNCH_SECRET will place the owner's secret (its GUEST_PADDR).
 * Layout: u32 little-endian length N, then N bytes (N <= HV_GUEST_SECRET_MAX). The guest
 * hashes exactly those N bytes. */
#define HV_GUEST_SECRET_GPA 0x30000u
#define HV_GUEST_SECRET_PAGE 0x1000u
#define HV_GUEST_SECRET_MAX (HV_GUEST_SECRET_PAGE - 4u)

#define HV_GUEST_SERIAL_PORT 0x3f8u /* 16550-style THR; LSR at +5 always reads "empty" */

/* GHCB-MSR-style hypercall over I/O ports (GHCB spec §2.3.1 MSR protocol, carried by OUT/IN
 * because this guest is not SEV-ES): write the high half to HV_GUEST_GHCB_PORT_HI, then the
 * low half to HV_GUEST_GHCB_PORT_LO — that write is the VMGEXIT. Read the response back from
 * the same two ports. */
#define HV_GUEST_GHCB_PORT_LO 0x0ee0u
#define HV_GUEST_GHCB_PORT_HI 0x0ee4u
#define HV_GHCB_MSR_SEV_INFO_REQ 0x002u
#define HV_GHCB_MSR_SEV_INFO_RESP 0x001u
#define HV_GHCB_MSR_CPUID_REQ 0x004u
#define HV_GHCB_MSR_CPUID_RESP 0x005u
#define HV_GHCB_MSR_TERM_REQ 0x100u

/* An MMIO status register outside RAM (a nested page fault for the VMM): the guest writes
 * HV_GUEST_STATUS_DONE after printing its digest. */
#define HV_GUEST_STATUS_MMIO 0xf0000000u
#define HV_GUEST_STATUS_DONE 0x600du
