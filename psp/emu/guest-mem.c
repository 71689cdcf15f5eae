/* Guest memory of the emulated SEV firmware: the guest's binding to a host region, the memory
 * cipher (AES-128-XTS under the guest's VEK), and the plaintext view ("CPU side").
 *
 * As on hardware there is one authoritative copy of a launched page: the ciphertext in the
 * host's region. The plaintext view holds a page's plaintext only once something needs it as
 * plaintext: a write that covers part of a page, DBG_DECRYPT, or the CTL `guest-memfd` that
 * hands the view to a VMM (from then on every page is there and the view is authoritative,
 * since the guest writes to it and nothing re-encrypts). LAUNCH_UPDATE_DATA of whole pages
 * therefore does what firmware does — hash the plaintext, encrypt it in place — and does not
 * allocate a second copy of the image; a guest that never runs never gets one. Decryption of a
 * page reads the host's ciphertext as it is then: a host that changed it in between gives the
 * guest garbage there, as with real SEV memory (no integrity without SNP).
 *
 * Trusts nothing of the host's memory: every copy goes through emu_mem_read/emu_mem_write
 * (range checks, SIGBUS guard). Plaintext in scratch buffers is wiped after use; the view is
 * wiped where it holds data before it is released (DECOMMISSION, SHUTDOWN). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "common/ossl.h"
#include "common/util.h"
#include "psp/emu-wire.h"
#include "psp/emu/guest.h"

/* Where a page's plaintext lives (r->page[], one entry per page of the region). */
enum {
	PAGE_NONE = 0, /* never written by firmware: the view reads zeros (a hole) */
	PAGE_HOST = 1, /* whole page launched: only as ciphertext in the host's region */
	PAGE_VIEW = 2, /* the view holds it (and the host the ciphertext of what firmware wrote) */
};

#define PAGE EMU_VEK_UNIT
#define LAUNCH_CHUNK 0x20000u /* bytes per LAUNCH_UPDATE_DATA pass (64-256 KiB: alike) */

/* ---- binding ---- */

/* The size of the region starting at base that contains [base, known): the largest page
 * multiple the memory map accepts (memory.h has no size query; regions are few, this runs once
 * per guest). */
static uint64_t region_size(struct emu_fw *fw, uint64_t base, uint64_t known)
{
	uint64_t lo = (known + SEV_PAGE_SIZE - 1) / SEV_PAGE_SIZE,
		 hi = EMU_MEM_MAX_REGION_SIZE / SEV_PAGE_SIZE;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2;

		if (emu_mem_check(fw->mem, base, mid * SEV_PAGE_SIZE) == SEV_STATUS_SUCCESS)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo * SEV_PAGE_SIZE;
}

/* The view: a sealed memfd of the region's size, mapped shared. No page is allocated until
 * written. The page table is calloc'ed: one byte per page, untouched parts stay unbacked. */
static int view_create(struct emu_guest *g, struct emu_guest_region *r, uint64_t size)
{
	char name[48];
	int fd;
	void *p;

	snprintf(name, sizeof(name), "sev-guest-%u-plain-%u", g->handle, g->n_reg);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -errno;
	}
	/* a VMM that maps it must not be able to shrink it under us (SIGBUS) */
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	r->page = calloc(size / PAGE, 1);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED || !r->page) {
		if (p != MAP_FAILED)
			munmap(p, size);
		free(r->page);
		r->page = NULL;
		close(fd);
		return -ENOMEM;
	}
	r->view_fd = fd;
	r->view = p;
	r->size = size;
	return 0;
}

struct emu_guest_region *emu_guest_region_of(struct emu_fw *fw, struct emu_guest *g,
					     uint64_t caddr)
{
	uint64_t addr = emu_mem_strip_cbit(fw->mem, caddr);

	for (uint32_t i = 0; i < g->n_reg; i++)
		if (addr >= g->reg[i].base && addr - g->reg[i].base < g->reg[i].size)
			return &g->reg[i];
	return NULL;
}

/* A new binding: the region that holds [addr, addr + len), with a view of its size. */
static int region_add(struct emu_fw *fw, struct emu_guest *g, uint64_t addr, uint64_t len)
{
	uint64_t base = addr & ~((1ull << EMU_REGION_SHIFT) - 1);
	uint64_t size = region_size(fw, base, addr - base + len);
	struct emu_guest_region *reg = realloc(g->reg, (g->n_reg + 1) * sizeof(*reg));

	if (!reg)
		return SEV_STATUS_HWERROR_PLATFORM;
	g->reg = reg;
	reg[g->n_reg] = (struct emu_guest_region){ .base = base, .view_fd = -1 };
	if (view_create(g, &reg[g->n_reg], size) < 0) {
		log_error("Failed to create the plaintext view of guest %u (%llu bytes)", g->handle,
			  (unsigned long long)size);
		return SEV_STATUS_HWERROR_PLATFORM;
	}
	g->n_reg++;
	return SEV_STATUS_SUCCESS;
}

int emu_guest_mem_bind(struct emu_fw *fw, struct emu_guest *g, uint64_t caddr, uint64_t len)
{
	uint64_t addr = emu_mem_strip_cbit(fw->mem, caddr);
	struct emu_guest_region *r;
	int st = emu_mem_check(fw->mem, addr, len);

	if (st)
		return st;
	r = emu_guest_region_of(fw, g, addr);
	if (r) /* emu_mem_check: the range lies in one region, so in this one */
		return len <= r->size - (addr - r->base) ? SEV_STATUS_SUCCESS
							 : SEV_STATUS_INVALID_ADDRESS;
	return region_add(fw, g, addr, len);
}

/* Wipe what a view holds (only the ranges that have pages: SEEK_DATA/SEEK_HOLE, so a large
 * mostly empty region is not allocated just to be zeroed), then drop it. A VMM that still maps
 * the memfd sees zeros. */
static void view_release(struct emu_guest_region *r)
{
	if (r->view) {
		off_t end = (off_t)r->size, a = 0, b;

		while (a < end && (a = lseek(r->view_fd, a, SEEK_DATA)) >= 0 && a < end) {
			b = lseek(r->view_fd, a, SEEK_HOLE);
			if (b < 0 || b > end)
				b = end;
			OPENSSL_cleanse(r->view + a, (size_t)(b - a));
			a = b;
		}
		if (a < 0 && errno != ENXIO) /* no SEEK_DATA: wipe it all */
			OPENSSL_cleanse(r->view, r->size);
		munmap(r->view, r->size);
		r->view = NULL;
	}
	if (r->view_fd >= 0)
		close(r->view_fd);
	r->view_fd = -1;
	free(r->page);
	r->page = NULL;
}

void emu_guest_mem_release(struct emu_guest *g)
{
	for (uint32_t i = 0; i < g->n_reg; i++)
		view_release(&g->reg[i]);
	free(g->reg);
	g->reg = NULL;
	g->n_reg = 0;
}

/* ---- the cipher ---- */

/* AES-128-XTS under the VEK (IEEE 1619-2007) with one data unit per 4 KiB page of the region,
 * the page's offset in the region (its guest-physical address: hv-glue maps the region at
 * guest address 0) as the tweak, le64 in the first 8 IV bytes. Within a page XTS multiplies
 * the tweak by alpha^j for block j, so every 16-byte block of guest memory is enciphered
 * under its own tweak: the same plaintext at two addresses gives different ciphertext, as with
 * SEV's address-tweaked memory encryption. Whole pages are one EVP call each on a context
 * keyed once per command (only the IV is reset per page): the speed of `openssl speed -evp
 * aes-128-xts`. Without ciphertext stealing (lengths are multiples of 16) block j's output
 * depends only on its own input, the key, the tweak and j, so a range that starts inside a
 * page is enciphered as the page's prefix up to its end, with zeros before it, and only its
 * own blocks are kept: sub-page writes (LAUNCH_SECRET, DBG_ENCRYPT, unaligned
 * LAUNCH_UPDATE_DATA) never touch the host's bytes around them, and give exactly the blocks a
 * whole-page call would (tests/psp/test-emu-cipher.c checks both against plain EVP XTS). */
EVP_CIPHER_CTX *emu_vek_ctx_new(const uint8_t vek[EMU_VEK_SIZE], bool encrypt)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

	if (!c || !EVP_CipherInit_ex(c, EVP_aes_128_xts(), NULL, vek, NULL, encrypt ? 1 : 0)) {
		EVP_CIPHER_CTX_free(c); /* the provider wipes its key schedule */
		return NULL;
	}
	return c;
}

/* One data unit's blocks [s, s + n) (s, n multiples of 16, s + n <= PAGE). */
static int vek_unit(EVP_CIPHER_CTX *c, uint64_t page, size_t s, const uint8_t *in, uint8_t *out,
		    size_t n)
{
	uint8_t iv[16] = {0}, tmp[PAGE];
	int got, r = 0;

	put_le64(iv, page);
	if (!EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, -1))
		return -EIO;
	if (s == 0) /* the page's first n bytes: blocks 0.. of the unit, straight through */
		return EVP_CipherUpdate(c, out, &got, in, (int)n) && (size_t)got == n ? 0 : -EIO;
	memset(tmp, 0, s);
	memcpy(tmp + s, in, n);
	if (!EVP_CipherUpdate(c, tmp, &got, tmp, (int)(s + n)) || (size_t)got != s + n)
		r = -EIO;
	else
		memcpy(out, tmp + s, n);
	OPENSSL_cleanse(tmp, s + n); /* plaintext of a secret page, or its ciphertext */
	return r;
}

int emu_vek_ctx_crypt(EVP_CIPHER_CTX *c, uint64_t off, const uint8_t *in, uint8_t *out, size_t len)
{
	if (len % 16 || off % 16)
		return -EINVAL;
	while (len > 0) {
		uint64_t page = off & ~(uint64_t)(PAGE - 1);
		size_t s = (size_t)(off - page), n = MIN(len, PAGE - s);
		int r = vek_unit(c, page, s, in, out, n);

		if (r < 0)
			return r;
		off += n, in += n, out += n, len -= n;
	}
	return 0;
}

int emu_vek_crypt(const uint8_t vek[EMU_VEK_SIZE], uint64_t off, const uint8_t *in, uint8_t *out,
		  size_t len, bool encrypt)
{
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *c = NULL;

	if (len % 16 || off % 16)
		return -EINVAL;
	if (len == 0)
		return 0;
	c = emu_vek_ctx_new(vek, encrypt);
	return c ? emu_vek_ctx_crypt(c, off, in, out, len) : -ENOMEM;
}

/* ---- pages ---- */

/* Pages [first, end) whose plaintext is only in the host's ciphertext: decrypt them into the
 * view, in runs of up to LAUNCH_CHUNK bytes (one guarded copy, one cipher call per run). *dec
 * is made on first need (the caller frees it). */
static int pages_to_view(struct emu_fw *fw, struct emu_guest *g, struct emu_guest_region *r,
			 uint64_t first, uint64_t end, EVP_CIPHER_CTX **dec)
{
	for (uint64_t a = first, b; a < end; a = b) {
		uint8_t *v = r->view + a * PAGE;
		int st;

		if (r->page[a] != PAGE_HOST) {
			b = a + 1;
			continue;
		}
		for (b = a + 1; b < end && b - a < LAUNCH_CHUNK / PAGE && r->page[b] == PAGE_HOST;)
			b++;
		if (!*dec && !(*dec = emu_vek_ctx_new(g->vek, false)))
			return SEV_STATUS_HWERROR_PLATFORM;
		st = emu_mem_read(fw->mem, r->base + a * PAGE, v, (b - a) * PAGE);
		if (st)
			return st;
		if (emu_vek_ctx_crypt(*dec, a * PAGE, v, v, (b - a) * PAGE) < 0)
			return SEV_STATUS_HWERROR_PLATFORM;
		memset(r->page + a, PAGE_VIEW, b - a);
	}
	return SEV_STATUS_SUCCESS;
}

/* Before firmware writes [off, off + len): a page it covers only in part keeps plaintext
 * around the write, so if that is still only in the host's ciphertext it goes to the view
 * first, before the host's copy changes. */
static int edges_to_view(struct emu_fw *fw, struct emu_guest *g, struct emu_guest_region *r,
			 uint64_t off, uint64_t len, EVP_CIPHER_CTX **dec)
{
	uint64_t first = off / PAGE, last = (off + len - 1) / PAGE;
	int st = SEV_STATUS_SUCCESS;

	if (off % PAGE)
		st = pages_to_view(fw, g, r, first, first + 1, dec);
	if (!st && (off + len) % PAGE)
		st = pages_to_view(fw, g, r, last, last + 1, dec);
	return st;
}

/* Firmware wrote plain to [off, off + n) (ciphertext to the host already). Whole pages of a
 * launch stay in the host's ciphertext alone while nothing needs their plaintext; anything
 * else goes to the view. */
static void place(struct emu_guest *g, struct emu_guest_region *r, uint64_t off,
		  const uint8_t *plain, size_t n, bool launch)
{
	while (n > 0) {
		uint64_t pg = off / PAGE;
		size_t s = (size_t)(off % PAGE), k = MIN(n, PAGE - s);

		if (launch && k == PAGE && !g->cpu_side && r->page[pg] != PAGE_VIEW) {
			r->page[pg] = PAGE_HOST;
		} else {
			memcpy(r->view + off, plain, k);
			r->page[pg] = PAGE_VIEW;
		}
		off += k, plain += k, n -= k;
	}
}

/* The bound region that holds [addr, addr + len) (len a multiple of 16), or NULL. */
static struct emu_guest_region *range_region(struct emu_fw *fw, struct emu_guest *g,
					     uint64_t addr, size_t len)
{
	struct emu_guest_region *r = emu_guest_region_of(fw, g, addr);

	if (len % 16 || !r || len > r->size - (addr - r->base))
		return NULL;
	return r;
}

int emu_guest_mem_put(struct emu_fw *fw, struct emu_guest *g, uint64_t caddr, const uint8_t *plain,
		      size_t len)
{
	uint64_t addr = emu_mem_strip_cbit(fw->mem, caddr);
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *dec = NULL;
	struct emu_guest_region *r = range_region(fw, g, addr, len);
	_cleanup_free_ uint8_t *cipher = NULL;
	uint64_t off;
	int st;

	if (!r)
		return SEV_STATUS_INVALID_ADDRESS;
	if (len == 0)
		return SEV_STATUS_SUCCESS;
	off = addr - r->base;
	cipher = malloc(len);
	if (!cipher)
		return SEV_STATUS_HWERROR_PLATFORM;
	st = edges_to_view(fw, g, r, off, len, &dec);
	if (st)
		return st;
	if (emu_vek_crypt(g->vek, off, plain, cipher, len, true) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	st = emu_mem_write(fw->mem, addr, cipher, len);
	if (st == SEV_STATUS_SUCCESS)
		place(g, r, off, plain, len, false);
	return st;
}

struct launch_crypt {
	EVP_CIPHER_CTX *c;
	uint64_t off;
	const uint8_t *plain;
	size_t n;
};

static int launch_crypt_to(uint8_t *dst, void *arg)
{
	const struct launch_crypt *a = arg;

	return emu_vek_ctx_crypt(a->c, a->off, a->plain, dst, a->n);
}

/* LAUNCH_UPDATE_DATA/VMSA in one pass per chunk over cache-hot bytes: the host's plaintext is
 * copied once into a scratch buffer (as the PSP reads a page into its own memory: the digest
 * and the cipher see the same bytes whatever the host does meanwhile); the launch digest and
 * the cipher read it there, and the cipher writes the ciphertext over the host's copy (through
 * a second scratch half where the region could shrink under us; emu_mem_write_with). Chunks
 * end on page boundaries (place() sees whole pages whole). (Prefaulting the host's pages
 * writable with MADV_POPULATE_WRITE first was measured: no gain.) */
int emu_guest_mem_launch(struct emu_fw *fw, struct emu_guest *g, uint64_t caddr, size_t len,
			 EVP_MD_CTX *md)
{
	uint64_t addr = emu_mem_strip_cbit(fw->mem, caddr);
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *c = NULL, *dec = NULL;
	struct emu_guest_region *r = range_region(fw, g, addr, len);
	size_t cap = MIN(len, (size_t)LAUNCH_CHUNK);
	uint8_t *buf = NULL;
	uint64_t off;
	int st;

	if (!r || len == 0)
		return SEV_STATUS_INVALID_ADDRESS;
	off = addr - r->base;
	st = edges_to_view(fw, g, r, off, len, &dec);
	if (st)
		return st;
	c = emu_vek_ctx_new(g->vek, true);
	buf = malloc(2 * cap); /* plaintext, then ciphertext */
	if (!c || !buf) {
		free(buf);
		return SEV_STATUS_HWERROR_PLATFORM;
	}
	for (size_t done = 0, n; st == SEV_STATUS_SUCCESS && done < len; done += n) {
		n = MIN(len - done, LAUNCH_CHUNK - (size_t)((off + done) % PAGE)); /* <= cap */
		struct launch_crypt a = { c, off + done, buf, n };

		st = emu_mem_read(fw->mem, addr + done, buf, n);
		if (st == SEV_STATUS_SUCCESS && !EVP_DigestUpdate(md, buf, n))
			st = SEV_STATUS_HWERROR_PLATFORM;
		if (st == SEV_STATUS_SUCCESS)
			st = emu_mem_write_with(fw->mem, addr + done, n, buf + cap, launch_crypt_to,
						&a);
		if (st == SEV_STATUS_SUCCESS)
			place(g, r, off + done, buf, n, true);
	}
	OPENSSL_cleanse(buf, cap);
	free(buf);
	return st;
}

int emu_guest_mem_get(struct emu_fw *fw, struct emu_guest *g, uint64_t caddr, uint8_t *ret,
		      size_t len)
{
	uint64_t addr = emu_mem_strip_cbit(fw->mem, caddr);
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *dec = NULL;
	struct emu_guest_region *r = range_region(fw, g, addr, len);
	uint64_t off;
	int st;

	if (!r)
		return SEV_STATUS_INVALID_ADDRESS;
	if (len == 0)
		return SEV_STATUS_SUCCESS;
	off = addr - r->base;
	st = pages_to_view(fw, g, r, off / PAGE, (off + len - 1) / PAGE + 1, &dec);
	if (st == SEV_STATUS_SUCCESS)
		memcpy(ret, r->view + off, len);
	return st;
}

int emu_guest_mem_cpu_side(struct emu_fw *fw, struct emu_guest *g)
{
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *dec = NULL;
	int st;

	if (g->n_reg == 0)
		return SEV_STATUS_INVALID_ADDRESS;
	if (g->cpu_side)
		return SEV_STATUS_SUCCESS;
	for (uint32_t i = 0; i < g->n_reg; i++) {
		st = pages_to_view(fw, g, &g->reg[i], 0, g->reg[i].size / PAGE, &dec);
		if (st)
			return st;
	}
	g->cpu_side = true;
	return SEV_STATUS_SUCCESS;
}
