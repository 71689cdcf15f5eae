/* The tiny guest: asks the host for SEV information over the GHCB-MSR-style port, reads the
 * secret LAUNCH_SECRET placed at HV_GUEST_SECRET_GPA, prints "SECRET-SHA256 <hex>" on the
 * serial port, reports DONE through an MMIO register, and returns to the entry stub, which
 * halts. Freestanding 32-bit code: guest software, not the product's crypto (the SHA-256 below
 * only lets the guest prove which bytes it saw; FIPS 180-4 §6.2). Trusts nothing: a bad
 * secret length ends the guest through the GHCB termination request. */
#include <stdint.h>

#include "layout.h"

void guest_main(void);
void *memset(void *d, int c, unsigned n);
void *memcpy(void *d, const void *s, unsigned n);

/* gcc may emit calls to these for struct copies; there is no libc here. */
void *memset(void *d, int c, unsigned n)
{
	uint8_t *p = d;
	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *memcpy(void *d, const void *s, unsigned n)
{
	uint8_t *p = d;
	const uint8_t *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void puts_serial(const char *s)
{
	while (*s)
		outb(HV_GUEST_SERIAL_PORT, (uint8_t)*s++);
}

static void put_hex(const uint8_t *p, unsigned n)
{
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; i < n; i++) {
		outb(HV_GUEST_SERIAL_PORT, (uint8_t)digits[p[i] >> 4]);
		outb(HV_GUEST_SERIAL_PORT, (uint8_t)digits[p[i] & 15]);
	}
}

static void put_dec(uint32_t v)
{
	char buf[11];
	int i = 10;
	buf[i] = 0;
	do
		buf[--i] = (char)('0' + v % 10);
	while (v /= 10);
	puts_serial(buf + i);
}

/* One GHCB MSR protocol exchange: high half first, the low-half write is the VMGEXIT. */
static uint64_t ghcb_msr_call(uint64_t req)
{
	outl(HV_GUEST_GHCB_PORT_HI, (uint32_t)(req >> 32));
	outl(HV_GUEST_GHCB_PORT_LO, (uint32_t)req);
	return ((uint64_t)inl(HV_GUEST_GHCB_PORT_HI) << 32) | inl(HV_GUEST_GHCB_PORT_LO);
}

static void terminate(unsigned code)
{
	/* reason set 0 (general), reason code in bits 23:16 (GHCB spec, termination request) */
	ghcb_msr_call(HV_GHCB_MSR_TERM_REQ | ((uint64_t)code << 16));
	for (;;)
		__asm__ volatile("hlt");
}

/* ---- SHA-256 (FIPS 180-4), byte-at-a-time, sized for a guest of a few KiB ---- */
struct sha256 {
	uint32_t h[8];
	uint8_t block[64];
	uint32_t fill;
	uint32_t total;
};

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void sha256_block(struct sha256 *s)
{
	uint32_t w[64], v[8];
	for (unsigned i = 0; i < 16; i++)
		w[i] = (uint32_t)s->block[4 * i] << 24 | (uint32_t)s->block[4 * i + 1] << 16 |
		       (uint32_t)s->block[4 * i + 2] << 8 | s->block[4 * i + 3];
	for (unsigned i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	for (unsigned i = 0; i < 8; i++)
		v[i] = s->h[i];
	for (unsigned i = 0; i < 64; i++) {
		uint32_t t1 = v[7] + (ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25)) +
			      ((v[4] & v[5]) ^ (~v[4] & v[6])) + K[i] + w[i];
		uint32_t t2 = (ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22)) +
			      ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
		for (unsigned j = 7; j > 0; j--)
			v[j] = v[j - 1];
		v[4] += t1;
		v[0] = t1 + t2;
	}
	for (unsigned i = 0; i < 8; i++)
		s->h[i] += v[i];
}

static void sha256_byte(struct sha256 *s, uint8_t b)
{
	s->block[s->fill++] = b;
	if (s->fill == 64) {
		sha256_block(s);
		s->fill = 0;
	}
}

static void sha256(const uint8_t *p, uint32_t n, uint8_t out[32])
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	struct sha256 s = {.fill = 0, .total = n};
	uint64_t bits = (uint64_t)s.total * 8;

	for (unsigned i = 0; i < 8; i++)
		s.h[i] = iv[i];
	for (uint32_t i = 0; i < n; i++)
		sha256_byte(&s, p[i]);
	sha256_byte(&s, 0x80);
	while (s.fill != 56)
		sha256_byte(&s, 0);
	for (int i = 7; i >= 0; i--)
		sha256_byte(&s, (uint8_t)(bits >> (8 * i)));
	for (unsigned i = 0; i < 32; i++)
		out[i] = (uint8_t)(s.h[i / 4] >> (24 - 8 * (i % 4)));
}

void guest_main(void)
{
	const volatile uint8_t *page = (const volatile uint8_t *)HV_GUEST_SECRET_GPA;
	uint32_t len =
	    page[0] | (uint32_t)page[1] << 8 | (uint32_t)page[2] << 16 | (uint32_t)page[3] << 24;
	uint64_t info = ghcb_msr_call(HV_GHCB_MSR_SEV_INFO_REQ);
	uint8_t digest[32];

	if ((info & 0xfff) == HV_GHCB_MSR_SEV_INFO_RESP) {
		puts_serial("GHCB-SEV-INFO cbit=");
		put_dec((uint32_t)(info >> 24) & 0xff);
		puts_serial("\n");
	}
	if (len > HV_GUEST_SECRET_MAX) {
		puts_serial("SECRET-ERROR length ");
		put_dec(len);
		puts_serial(" exceeds the secret page\n");
		terminate(1);
	}
	sha256((const uint8_t *)HV_GUEST_SECRET_GPA + 4, len, digest);
	puts_serial("SECRET-SHA256 ");
	put_hex(digest, sizeof(digest));
	puts_serial("\n");
	*(volatile uint32_t *)HV_GUEST_STATUS_MMIO = HV_GUEST_STATUS_DONE;
}
