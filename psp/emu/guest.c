/* Guest contexts of the emulated SEV firmware: the handle table, the two views of guest
 * memory (see guest.h), GUEST_STATUS, DECOMMISSION, SHUTDOWN's cleanup, the command table
 * and the CTL `guest-memfd`. Trusts nothing from clients: every handle, address and length is
 * checked; keys (TEK, TIK, VEK) are wiped when a context goes and never logged. */
#include <endian.h>
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
#include "common/secret.h"
#include "common/util.h"
#include "psp/emu-wire.h"
#include "psp/emu/guest.h"

struct emu_guests *emu_guests_get(struct emu_fw *fw)
{
	struct emu_guests *gs = fw->guests;

	if (gs)
		return gs;
	gs = calloc(1, sizeof(*gs));
	if (!gs)
		return NULL;
	gs->reply_fd = -1;
	fw->guests = gs;
	fw->guests_shutdown = emu_guests_shutdown;
	return gs;
}

struct emu_guest *emu_guest_find(struct emu_fw *fw, uint32_t handle)
{
	struct emu_guests *gs = fw->guests;

	/* handle_is_valid: 1..SEV_GUEST_COUNT_MAX and not free */
	if (!gs || handle < 1 || handle > EMU_GUEST_MAX)
		return NULL;
	return gs->slot[handle - 1];
}

int emu_guest_alloc(struct emu_fw *fw, struct emu_guest **ret)
{
	struct emu_guests *gs = emu_guests_get(fw);
	struct emu_guest *g;

	if (!gs)
		return SEV_STATUS_HWERROR_PLATFORM;
	for (uint32_t i = 0; i < EMU_GUEST_MAX; i++) {
		if (gs->slot[i])
			continue;
		g = secret_alloc(sizeof(*g)); /* holds TEK, TIK and VEK: locked, wiped on free */
		if (!g || !(g->ld = EVP_MD_CTX_new()) ||
		    !EVP_DigestInit_ex(g->ld, EVP_sha256(), NULL)) {
			if (g)
				EVP_MD_CTX_free(g->ld);
			secret_free(g, sizeof(*g));
			return SEV_STATUS_HWERROR_PLATFORM;
		}
		g->handle = i + 1;
		g->view_fd = -1;
		gs->slot[i] = g;
		*ret = g;
		return SEV_STATUS_SUCCESS;
	}
	return SEV_STATUS_RESOURCE_LIMIT; /* find_free_guest_handle */
}

void emu_guest_free(struct emu_fw *fw, struct emu_guest *g)
{
	struct emu_guests *gs = fw->guests;

	if (!g)
		return;
	if (gs && g->handle >= 1 && g->handle <= EMU_GUEST_MAX && gs->slot[g->handle - 1] == g)
		gs->slot[g->handle - 1] = NULL;
	EVP_MD_CTX_free(g->ld);
	if (g->view) {
		/* the plaintext of a decommissioned guest does not linger in our memory; a VMM
		 * that still maps the memfd keeps its own (now stale) copy */
		OPENSSL_cleanse(g->view, g->region_size);
		munmap(g->view, g->region_size);
	}
	if (g->view_fd >= 0)
		close(g->view_fd);
	secret_free(g, sizeof(*g)); /* TEK, TIK, VEK, measurement (sev_guest_clear) */
}

void emu_guests_shutdown(struct emu_fw *fw)
{
	struct emu_guests *gs = fw->guests;

	if (!gs)
		return;
	for (uint32_t i = 0; i < EMU_GUEST_MAX; i++)
		emu_guest_free(fw, gs->slot[i]);
	if (gs->reply_fd >= 0)
		close(gs->reply_fd);
	free(gs);
	fw->guests = NULL;
	fw->guest_count = 0;
}

/* ---- memory ---- */

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

static int view_create(struct emu_guest *g, uint64_t size)
{
	char name[32];
	int fd;
	void *p;

	snprintf(name, sizeof(name), "sev-guest-%u-plain", g->handle);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -errno;
	}
	/* a VMM that maps it must not be able to shrink it under us (SIGBUS) */
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	g->view_fd = fd;
	g->view = p;
	return 0;
}

int emu_guest_mem_bind(struct emu_fw *fw, struct emu_guest *g, uint64_t addr, uint64_t len)
{
	uint64_t base = addr & ~((1ull << EMU_REGION_SHIFT) - 1), size;
	int st = emu_mem_check(fw->mem, addr, len);

	if (st)
		return st;
	if (g->view)
		return base == g->region_base && addr - base + len <= g->region_size
			   ? SEV_STATUS_SUCCESS
			   : SEV_STATUS_INVALID_ADDRESS;
	size = region_size(fw, base, addr - base + len);
	if (view_create(g, size) < 0) {
		log_error("Failed to create the plaintext view of guest %u (%llu bytes)", g->handle,
			  (unsigned long long)size);
		return SEV_STATUS_HWERROR_PLATFORM;
	}
	g->region_base = base;
	g->region_size = size;
	return SEV_STATUS_SUCCESS;
}

/* AES-128-XTS under the VEK, one 16-byte data unit per block with the block's offset in the
 * region as the tweak: the same plaintext at two addresses gives different ciphertext, as
 * with SEV's address-tweaked memory encryption. An XTS data unit of one block is XEX
 * (IEEE 1619-2007 §5.3.1 with j = 0, so no GF(2^128) multiplication):
 *	T = AES(K2, le64(offset) ‖ 0^64),  C = AES(K1, P ⊕ T) ⊕ T
 * with K1 the first and K2 the second half of the VEK (OpenSSL's XTS key order). One XTS call
 * per block ran at ~100 MB/s; here each batch takes one ECB call over all its tweak blocks and
 * one over its data, 2-3 GB/s alone (tests/psp/test-emu-cipher.c proves the same bytes as
 * OpenSSL's XTS). */
#define VEK_BATCH 0x10000u /* bytes of data (and of tweaks) per pair of ECB calls */

static EVP_CIPHER_CTX *ecb_new(const uint8_t key[16], bool encrypt)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

	if (!c || !EVP_CipherInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL, encrypt ? 1 : 0) ||
	    !EVP_CIPHER_CTX_set_padding(c, 0)) {
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	return c;
}

static void xor_into(uint8_t *dst, const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t x, y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		x ^= y;
		memcpy(dst + i, &x, 8);
	}
}

/* One batch (len a multiple of 16, at most VEK_BATCH); tw is len bytes of scratch. */
static int vek_batch(EVP_CIPHER_CTX *k1, EVP_CIPHER_CTX *k2, uint64_t off, const uint8_t *in,
		     uint8_t *out, size_t len, uint64_t *tw)
{
	int n;

	/* le64(offset) ‖ 0^64 per block, as whole words: byte-wise put_le64 cost more than AES */
	for (size_t i = 0; i < len / 8; i += 2) {
		tw[i] = htole64(off + i * 8);
		tw[i + 1] = 0;
	}
	if (!EVP_EncryptUpdate(k2, (uint8_t *)tw, &n, (uint8_t *)tw, (int)len) || (size_t)n != len)
		return -EIO;
	xor_into(out, in, (uint8_t *)tw, len);
	if (!EVP_CipherUpdate(k1, out, &n, out, (int)len) || (size_t)n != len)
		return -EIO;
	xor_into(out, out, (uint8_t *)tw, len);
	return 0;
}

int emu_vek_crypt(const uint8_t vek[EMU_VEK_SIZE], uint64_t off, const uint8_t *in, uint8_t *out,
		  size_t len, bool encrypt)
{
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *k1 = NULL, *k2 = NULL;
	size_t cap = MIN(len, (size_t)VEK_BATCH);
	uint64_t *tw;
	int r = 0;

	if (len % 16)
		return -EINVAL;
	if (len == 0)
		return 0;
	k1 = ecb_new(vek, encrypt);
	k2 = ecb_new(vek + 16, true); /* the tweak is always encrypted */
	tw = malloc(cap);
	if (!k1 || !k2 || !tw) {
		free(tw);
		return -ENOMEM;
	}
	for (size_t done = 0; r == 0 && done < len; done += cap) {
		size_t n = MIN(len - done, cap);

		r = vek_batch(k1, k2, off + done, in + done, out + done, n, tw);
	}
	OPENSSL_cleanse(tw, cap); /* the tweaks are E(K2, ·): key-derived */
	free(tw);
	return r;
}

int emu_guest_mem_put(struct emu_fw *fw, struct emu_guest *g, uint64_t addr, const uint8_t *plain,
		      size_t len)
{
	uint64_t off = addr - g->region_base;
	uint8_t *cipher;
	int st;

	if (len % 16 || !g->view || addr < g->region_base || off + len > g->region_size)
		return SEV_STATUS_INVALID_ADDRESS;
	cipher = malloc(len ? len : 1);
	if (!cipher)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (emu_vek_crypt(g->vek, off, plain, cipher, len, true) < 0) {
		free(cipher);
		return SEV_STATUS_HWERROR_PLATFORM;
	}
	st = emu_mem_write(fw->mem, addr, cipher, len);
	free(cipher);
	if (st == SEV_STATUS_SUCCESS)
		memcpy(g->view + off, plain, len);
	return st;
}

int emu_guest_mem_get(struct emu_guest *g, uint64_t addr, uint8_t *ret, size_t len)
{
	uint64_t off = addr - g->region_base;

	if (!g->view || addr < g->region_base || off + len > g->region_size)
		return SEV_STATUS_INVALID_ADDRESS;
	memcpy(ret, g->view + off, len);
	return SEV_STATUS_SUCCESS;
}

/* ---- GUEST_STATUS, DECOMMISSION ---- */

/* An unknown handle is not an error here: firmware answers SUCCESS with state INVALID (0)
 * (AMD-ASPFW sev_mcmd_guest_status), which is how a host asks "does this handle exist?". */
static int cmd_guest_status(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_guest_status *b = buf;
	struct emu_guest *g = emu_guest_find(fw, b->handle);

	b->state = g ? (uint8_t)g->state : 0;
	b->asid = g && (g->pending || g->active) ? g->asid : 0;
	b->policy = g ? g->policy : 0;
	return SEV_STATUS_SUCCESS;
}

/* ACTIVE while the guest holds an ASID (pending or active: DEACTIVATE first); the last guest
 * takes the platform back to INIT (mcmd_decommission_common, sev_mcmd_decommission). */
static int cmd_decommission(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_handle *b = buf;
	struct emu_guest *g = emu_guest_find(fw, b->handle);

	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (g->asid && (g->pending || g->active))
		return SEV_STATUS_ACTIVE;
	emu_guest_free(fw, g);
	if (fw->guest_count > 0)
		fw->guest_count--;
	if (fw->guest_count == 0)
		fw->state = SEV_PSTATE_INIT;
	return SEV_STATUS_SUCCESS;
}

#define W EMU_IN_WORKING
const struct emu_cmd_row emu_guest_cmds[] = {
    {SEV_CMD_LAUNCH_START, EMU_IN_INIT | W, emu_cmd_launch_start},
    {SEV_CMD_LAUNCH_UPDATE_DATA, W, emu_cmd_launch_update_data},
    {SEV_CMD_LAUNCH_UPDATE_VMSA, W, emu_cmd_launch_update_vmsa},
    {SEV_CMD_LAUNCH_MEASURE, W, emu_cmd_launch_measure},
    {SEV_CMD_LAUNCH_UPDATE_SECRET, W, emu_cmd_launch_secret},
    {SEV_CMD_LAUNCH_FINISH, W, emu_cmd_launch_finish},
    {SEV_CMD_ACTIVATE, W, emu_cmd_activate},
    {SEV_CMD_DEACTIVATE, W, emu_cmd_deactivate},
    {SEV_CMD_DECOMMISSION, W, cmd_decommission},
    {SEV_CMD_GUEST_STATUS, EMU_IN_INIT | W, cmd_guest_status},
    {SEV_CMD_ATTESTATION, W, emu_cmd_attestation},
    {SEV_CMD_DBG_DECRYPT, W, emu_cmd_dbg_decrypt},
    {SEV_CMD_DBG_ENCRYPT, W, emu_cmd_dbg_encrypt},
};
#undef W
const size_t emu_guest_cmds_n = ELEMENTSOF(emu_guest_cmds);

/* ---- CTL ---- */

static int ctl_reply(uint8_t *out, size_t cap, size_t *len, const char *text)
{
	int n = snprintf((char *)out, cap, "%s", text);

	*len = n < 0 ? 0 : MIN((size_t)n, cap - 1);
	return 0;
}

int emu_guest_ctl_memfd(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	struct emu_guests *gs = emu_guests_get(fw);
	struct emu_guest *g;
	uint32_t handle;
	int fd, n;

	if (!gs)
		return -ENOMEM;
	if (gs->reply_fd >= 0) { /* never sent (a caller without a socket, e.g. a fuzzer) */
		close(gs->reply_fd);
		gs->reply_fd = -1;
	}
	if (!arg || parse_u32(arg, &handle) < 0) {
		ctl_reply(out, cap, len, "guest-memfd takes one guest handle");
		return -EINVAL;
	}
	g = emu_guest_find(fw, handle);
	if (!g) {
		ctl_reply(out, cap, len, "guest-memfd: no guest with this handle");
		return -ENOENT;
	}
	/* The CPU side exists only for a guest that may run: launched and activated. */
	if (g->state != SEV_GSTATE_RUNNING || !g->active) {
		ctl_reply(out, cap, len,
			  "guest-memfd: the guest is not RUNNING and activated "
			  "(LAUNCH_FINISH and ACTIVATE first)");
		return -EBUSY;
	}
	if (!g->view) {
		ctl_reply(out, cap, len,
			  "guest-memfd: the guest has no memory (no LAUNCH_UPDATE_DATA)");
		return -ENOENT;
	}
	fd = fcntl(g->view_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	gs->reply_fd = fd;
	n = snprintf((char *)out, cap, "handle=%u asid=%u base=0x%llx size=%llu", g->handle,
		     g->asid, (unsigned long long)g->region_base,
		     (unsigned long long)g->region_size);
	*len = n < 0 ? 0 : MIN((size_t)n, cap - 1);
	return 0;
}

int emu_guest_take_reply_fd(struct emu_fw *fw)
{
	struct emu_guests *gs = fw->guests;
	int fd;

	if (!gs)
		return -1;
	fd = gs->reply_fd;
	gs->reply_fd = -1;
	return fd;
}
