/* The SNP tiny guest: makes a 64-byte nonce, writes MSG_REPORT_REQ with it into its request
 * page, asks its VMM for an attestation report with the GHCB's SNP guest request exit, reads
 * the report its VMM-side helper placed in its response page, checks the status, the size and
 * that REPORT_DATA is its nonce, prints "SNP-NONCE <hex>" and "SNP-MEASUREMENT <hex>" (the
 * launch digest firmware signed) on the serial port, reports DONE through the MMIO register
 * and returns to the entry stub, which halts. Any error: "SNP-ERROR ..." and a GHCB
 * termination request. Freestanding 32-bit code (layout.h). The nonce mixes RDTSC readings:
 * a test nonce, not a secret (a real guest takes it from its verifier). */
#include <stdint.h>

#include "layout.h"

void guest_main(void);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t rdtsc_lo(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo ^ hi;
}

static void puts_serial(const char *s)
{
	while (*s)
		outb(HV_GUEST_SERIAL_PORT, (uint8_t)*s++);
}

static void put_hex(const volatile uint8_t *p, unsigned n)
{
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; i < n; i++) {
		outb(HV_GUEST_SERIAL_PORT, (uint8_t)digits[p[i] >> 4]);
		outb(HV_GUEST_SERIAL_PORT, (uint8_t)digits[p[i] & 15]);
	}
}

static uint32_t rd32(const volatile uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr64(volatile uint8_t *p, uint32_t lo, uint32_t hi)
{
	for (unsigned i = 0; i < 4; i++) {
		p[i] = (uint8_t)(lo >> (8 * i));
		p[4 + i] = (uint8_t)(hi >> (8 * i));
	}
}

/* The GHCB page's GPA through the port pair: high half, then the low half (the VMGEXIT). */
static void vmgexit(uint32_t ghcb_gpa)
{
	outl(HV_GUEST_GHCB_PORT_HI, 0);
	outl(HV_GUEST_GHCB_PORT_LO, ghcb_gpa);
}

static void fail(const char *what)
{
	puts_serial("SNP-ERROR ");
	puts_serial(what);
	puts_serial("\n");
	outl(HV_GUEST_GHCB_PORT_HI, 0);
	outl(HV_GUEST_GHCB_PORT_LO, HV_GHCB_MSR_TERM_REQ | (2u << 16));
	for (;;)
		__asm__ volatile("hlt");
}

void guest_main(void)
{
	volatile uint8_t *req = (volatile uint8_t *)HV_SNP_REQ_GPA;
	volatile uint8_t *rsp = (volatile uint8_t *)HV_SNP_RSP_GPA;
	volatile uint8_t *ghcb = (volatile uint8_t *)HV_SNP_GHCB_GPA;
	volatile uint8_t *report = rsp + 0x20;
	uint32_t x = 0x9e3779b9u;

	for (unsigned i = 0; i < 0x1000; i++)
		req[i] = rsp[i] = ghcb[i] = 0;
	for (unsigned i = 0; i < 64; i++) { /* REPORT_DATA */
		x = (x ^ rdtsc_lo()) * 0x01000193u + i;
		req[i] = (uint8_t)(x >> 13);
	}
	puts_serial("SNP-NONCE ");
	put_hex(req, 64);
	puts_serial("\n");
	wr64(ghcb + HV_GHCB_SW_EXITCODE, HV_GHCB_SNP_GUEST_REQUEST, 0);
	wr64(ghcb + HV_GHCB_SW_EXITINFO1, HV_SNP_REQ_GPA, 0);
	wr64(ghcb + HV_GHCB_SW_EXITINFO2, HV_SNP_RSP_GPA, 0);
	vmgexit(HV_SNP_GHCB_GPA);
	if (rd32(ghcb + HV_GHCB_SW_EXITINFO2) || rd32(ghcb + HV_GHCB_SW_EXITINFO2 + 4))
		fail("the VMM answered the guest request with an error (SW_EXITINFO2)");
	if (rd32(rsp) != 0)
		fail("MSG_REPORT_RSP status is not 0");
	if (rd32(rsp + 4) != HV_SNP_REPORT_SIZE)
		fail("MSG_REPORT_RSP report size is not 1184");
	for (unsigned i = 0; i < 64; i++)
		if (report[0x50 + i] != req[i])
			fail("the report's REPORT_DATA is not this guest's nonce");
	puts_serial("SNP-MEASUREMENT ");
	put_hex(report + 0x90, 48);
	puts_serial("\n");
	*(volatile uint32_t *)HV_GUEST_STATUS_MMIO = HV_GUEST_STATUS_DONE;
}
