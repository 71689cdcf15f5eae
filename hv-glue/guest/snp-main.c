/* The SNP tiny guest: makes a 64-byte nonce, writes MSG_REPORT_REQ with it into its request
 * page, asks its VMM for an attestation report and the host's certificates with the GHCB's SNP
 * extended guest request exit, as a Linux guest does: first with an empty certificate buffer,
 * which its VMM answers INVALID_LEN with the pages the table needs, then again with that many.
 * It reads the report its VMM-side helper placed in its response page, checks the status, the
 * size and that REPORT_DATA is its nonce, walks the certificate table its VMM wrote into its
 * buffer (GHCB spec 56421: 24-byte entries {GUID, offset, length} ending with an all-zero one,
 * each certificate inside the buffer and DER), and prints on the serial port "SNP-NONCE <hex>",
 * "SNP-CERTS-PAGES <n>", one "SNP-CERT <guid bytes hex> <length> <first 8 bytes hex>" per
 * entry, "SNP-CERTS <count>" and "SNP-MEASUREMENT <hex>" (the launch digest firmware signed);
 * then reports DONE through the MMIO register and returns to its entry code (entry.S), which
 * halts. Any
 * error: "SNP-ERROR ..." and a GHCB termination request. Freestanding 32-bit code (layout.h).
 * The nonce mixes RDTSC readings: a test nonce, not a secret (a real guest takes it from its
 * verifier). */
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

static void put_dec(uint32_t v)
{
	char d[10];
	unsigned n = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		outb(HV_GUEST_SERIAL_PORT, (uint8_t)d[--n]);
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

static void fail(const char *what);

/* Mark a GHCB field valid (the valid bitmap: bit offset / 8). */
static void ghcb_valid(volatile uint8_t *ghcb, uint32_t off)
{
	ghcb[HV_GHCB_VALID_BITMAP + off / 64] |= (uint8_t)(1u << (off / 8 % 8));
}

/* One extended guest request with a buffer of npages; SW_EXITINFO2's halves into *lo, *hi,
 * RBX (the pages the VMM needs, after INVALID_LEN) into *pages. */
static void ext_request(volatile uint8_t *ghcb, uint32_t npages, uint32_t *lo, uint32_t *hi,
			uint32_t *pages)
{
	for (unsigned i = 0; i < HV_GHCB_PAGE_SIZE; i++)
		ghcb[i] = 0;
	wr64(ghcb + HV_GHCB_SW_EXITCODE, HV_GHCB_SNP_EXT_GUEST_REQUEST, 0);
	wr64(ghcb + HV_GHCB_SW_EXITINFO1, HV_SNP_REQ_GPA, 0);
	wr64(ghcb + HV_GHCB_SW_EXITINFO2, HV_SNP_RSP_GPA, 0);
	wr64(ghcb + HV_GHCB_RAX, HV_SNP_CERTS_GPA, 0);
	wr64(ghcb + HV_GHCB_RBX, npages, 0);
	ghcb_valid(ghcb, HV_GHCB_SW_EXITCODE);
	ghcb_valid(ghcb, HV_GHCB_SW_EXITINFO1);
	ghcb_valid(ghcb, HV_GHCB_SW_EXITINFO2);
	ghcb_valid(ghcb, HV_GHCB_RAX);
	ghcb_valid(ghcb, HV_GHCB_RBX);
	vmgexit(HV_SNP_GHCB_GPA);
	*lo = rd32(ghcb + HV_GHCB_SW_EXITINFO2);
	*hi = rd32(ghcb + HV_GHCB_SW_EXITINFO2 + 4);
	*pages = rd32(ghcb + HV_GHCB_RBX);
}

/* The certificate table in the buffer of npages: each entry printed and checked; the count. */
static uint32_t walk_certs(uint32_t npages)
{
	const volatile uint8_t *t = (const volatile uint8_t *)HV_SNP_CERTS_GPA;
	uint32_t size = npages * HV_GHCB_PAGE_SIZE, n = 0;

	for (;; n++) {
		const volatile uint8_t *e = t + 24 * n;
		uint32_t off, len, zero = 1;

		if (24 * (n + 1) > size)
			fail("the certificate table has no terminating entry in its buffer");
		for (unsigned i = 0; i < 24; i++)
			zero &= e[i] == 0;
		if (zero)
			return n;
		off = rd32(e + 16);
		len = rd32(e + 20);
		if (off < 24 * (n + 1) || len < 8 || off > size || len > size - off)
			fail("a certificate table entry points outside the buffer");
		if (t[off] != 0x30)
			fail("a certificate in the table is not DER (no SEQUENCE)");
		puts_serial("SNP-CERT ");
		put_hex(e, 16);
		puts_serial(" ");
		put_dec(len);
		puts_serial(" ");
		put_hex(t + off, 8);
		puts_serial("\n");
	}
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
	uint32_t x = 0x9e3779b9u, lo = 0, hi = 0, pages = 0, need = 0, n;

	for (unsigned i = 0; i < 0x1000; i++)
		req[i] = rsp[i] = ghcb[i] = 0;
	for (unsigned i = 0; i < 64; i++) { /* REPORT_DATA */
		x = (x ^ rdtsc_lo()) * 0x01000193u + i;
		req[i] = (uint8_t)(x >> 13);
	}
	puts_serial("SNP-NONCE ");
	put_hex(req, 64);
	puts_serial("\n");
	/* An empty buffer first: the VMM names the pages the host's table needs. */
	ext_request(ghcb, 0, &lo, &hi, &pages);
	if (lo == 0 && hi == 0) {
		pages = 0; /* served: the host holds no table */
	} else if (lo != 0 || hi != HV_GHCB_VMM_ERR_INVALID_LEN) {
		fail("the VMM answered the extended guest request with an error (SW_EXITINFO2)");
	} else if (pages == 0 || pages > HV_SNP_CERTS_PAGES_MAX) {
		fail("the VMM asks for a certificate buffer of 0 or more than 16 pages");
	} else {
		ext_request(ghcb, pages, &lo, &hi, &need);
		if (lo || hi)
			fail("the VMM answered the extended guest request with an error "
			     "(SW_EXITINFO2)");
	}
	puts_serial("SNP-CERTS-PAGES ");
	put_dec(pages);
	puts_serial("\n");
	if (rd32(rsp) != 0)
		fail("MSG_REPORT_RSP status is not 0");
	if (rd32(rsp + 4) != HV_SNP_REPORT_SIZE)
		fail("MSG_REPORT_RSP report size is not 1184");
	for (unsigned i = 0; i < 64; i++)
		if (report[0x50 + i] != req[i])
			fail("the report's REPORT_DATA is not this guest's nonce");
	n = pages ? walk_certs(pages) : 0;
	puts_serial("SNP-CERTS ");
	put_dec(n);
	puts_serial("\n");
	puts_serial("SNP-MEASUREMENT ");
	put_hex(report + 0x90, 48);
	puts_serial("\n");
	*(volatile uint32_t *)HV_GUEST_STATUS_MMIO = HV_GUEST_STATUS_DONE;
}
