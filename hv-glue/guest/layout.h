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

/* The SNP tiny guest (guest/snp-main.c, sev-snp-guest.bin): its pages beside the image.
 * SECRETS: the SNP secrets page firmware writes at launch (PAGE_TYPE_SECRETS, VMPCK0 at 0x20);
 * REQ / RSP: the guest's request and response message pages; GHCB: the page whose GPA the
 * guest writes to the GHCB port pair for a full exit (GHCB spec 56421: SW_EXITCODE at 0x390,
 * SW_EXITINFO1 at 0x398, SW_EXITINFO2 at 0x3A0). The guest request exit is the GHCB's SNP
 * guest request (SW_EXITCODE 0x8000_0011, SW_EXITINFO1 = the request page's GPA, SW_EXITINFO2
 * = the response page's), answered in SW_EXITINFO2 (0 = served; else firmware's status in
 * bits 31:0, the VMM's error in 63:32). What the two message pages hold: hv-glue/README.md. */
#define HV_SNP_SECRETS_GPA HV_U(0x31000)
#define HV_SNP_REQ_GPA HV_U(0x32000)
#define HV_SNP_RSP_GPA HV_U(0x33000)
#define HV_SNP_GHCB_GPA HV_U(0x34000)
#define HV_GHCB_PAGE_SIZE HV_U(0x1000)
#define HV_GHCB_SW_EXITCODE HV_U(0x390)
#define HV_GHCB_SW_EXITINFO1 HV_U(0x398)
#define HV_GHCB_SW_EXITINFO2 HV_U(0x3a0)
#define HV_GHCB_SNP_GUEST_REQUEST HV_U(0x80000011)
/* The extended request (GHCB spec 56421, "SNP Extended Guest Request", NAE event 0x8000_0012):
 * as the guest request, plus RAX = the GPA of the guest's certificate buffer and RBX = its
 * size in pages, both marked in the GHCB's valid bitmap (0x3F0: bit = offset / 8). A buffer too
 * small for the host's table is answered SW_EXITINFO2 = INVALID_LEN << 32 with RBX = the pages
 * needed, and the request did not reach firmware (the guest sends the same message again). */
#define HV_GHCB_SNP_EXT_GUEST_REQUEST HV_U(0x80000012)
#define HV_GHCB_RAX HV_U(0x1f8)
#define HV_GHCB_RBX HV_U(0x318)
#define HV_GHCB_VALID_BITMAP HV_U(0x3f0)
#define HV_GHCB_VMM_ERR_INVALID_LEN HV_U(1)
/* The tiny guest's certificate buffer: up to 16 pages, after its GHCB page. */
#define HV_SNP_CERTS_GPA HV_U(0x40000)
#define HV_SNP_CERTS_PAGES_MAX HV_U(16)
/* The plaintext pages the guest and its VMM-side helper exchange: REQ holds MSG_REPORT_REQ
 * (REPORT_DATA at 0, VMPL u32 at 0x40, 0x60 bytes), RSP MSG_REPORT_RSP (STATUS u32 at 0,
 * REPORT_SIZE u32 at 4, the report at 0x20); in the report, REPORT_DATA at 0x50, MEASUREMENT
 * at 0x90 (48 bytes). */
#define HV_SNP_REPORT_SIZE HV_U(1184)
