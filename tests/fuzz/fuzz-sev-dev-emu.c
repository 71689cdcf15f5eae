/* libsev-dev-emu.so's ioctl marshalling (psp/sev-dev-emu/kernel.c, included below for coverage):
 * the user's struct sev_issue_cmd and sub-command structs, the user pointers in them, and what
 * "firmware" answers (statuses, lengths, blob bytes), all from the input. Firmware here is a
 * scripted transport of this file (psp-internal.h's ops): it writes only inside the buffers
 * the model allocated, as the emulator checks addresses; everything it returns is untrusted.
 * User memory is the header, the user struct and an arena, each its own allocation; with
 * SDE_FUZZ the model copies with plain memcpy inside ranges this file vouches for, so ASan
 * catches any copy past a bounce buffer or a caller's buffer, and others read as EFAULT.
 *
 * Input: byte 0 = the descriptor's write access (bit 0); then up to four calls, each
 *   u8 sub-command, u8 pointer mode (bit 0: header pointer valid, bit 1: data pointer valid),
 *   32 bytes of the user struct (address fields that are below 2^63 point into the arena,
 *   taken modulo its size; others stay as given), the `error` word's 4 bytes;
 * every firmware answer takes bytes from what follows (see fake_issue). Under REPLAY_MAIN
 * (tests/psp, every build) a main() replays the seed corpus given as arguments. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SDE_FUZZ 1
#include "psp/sev-dev-emu/kernel.c"

#include "psp/psp-internal.h"

#define ARENA 4096
#define MAX_BLOBS 8
#define MAX_CALLS 4

struct input {
	const uint8_t *p;
	size_t n;
};

static struct input in;
static struct psp_buf blobs[MAX_BLOBS];
static struct {
	const uint8_t *p;
	size_t n;
} user_ranges[3]; /* the header, the user struct, the arena of the call in progress */

bool sde_fuzz_user_ok(uint64_t uaddr, size_t len)
{
	for (size_t i = 0; i < 3; i++) {
		uint64_t b = (uint64_t)(uintptr_t)user_ranges[i].p;

		if (user_ranges[i].p && uaddr >= b && len <= user_ranges[i].n &&
		    uaddr - b <= user_ranges[i].n - len)
			return true;
	}
	return false;
}

static uint8_t take(void)
{
	if (!in.n)
		return 0;
	in.n--;
	return *in.p++;
}

static uint32_t take32(void)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)take() << (8 * i);
	return v;
}

/* Firmware: byte 0xff = no answer (the transport dies); else a status (< 0x80: SUCCESS, else
 * the low 6 bits), then the command buffer's bytes rewritten from the input where a flag
 * byte says so, and every live blob filled with input bytes. */
static int fake_issue(struct psp_transport *t, uint32_t cmd, void *buf, size_t len, int *status)
{
	uint8_t b = take();

	if (b == 0xff)
		return -ETIMEDOUT;
	*status = b < 0x80 ? SEV_STATUS_SUCCESS : b & 0x3f;
	if (len && (take() & 1))
		for (size_t i = 0; i < len; i++)
			((uint8_t *)buf)[i] = take();
	for (size_t i = 0; i < MAX_BLOBS; i++)
		if (blobs[i].ptr && (take() & 1))
			memset(blobs[i].ptr, take(), blobs[i].size);
	return 0;
}

static int fake_dma_alloc(struct psp_transport *t, size_t size, struct psp_buf *ret)
{
	for (size_t i = 0; i < MAX_BLOBS; i++) {
		if (blobs[i].ptr)
			continue;
		void *p = calloc(1, size);

		if (!p)
			return -ENOMEM;
		blobs[i] = (struct psp_buf){ .ptr = p, .addr = (uint64_t)(uintptr_t)p, .size = size };
		*ret = blobs[i];
		return 0;
	}
	return -ENOMEM;
}

static void fake_dma_free(struct psp_transport *t, struct psp_buf *b)
{
	for (size_t i = 0; i < MAX_BLOBS; i++)
		if (blobs[i].ptr == b->ptr) {
			free(blobs[i].ptr);
			blobs[i] = (struct psp_buf){ 0 };
		}
}

static int fake_cpuid(struct psp_transport *t, struct psp_cpuid *ret)
{
	return -EOPNOTSUPP;
}

static void fake_close(struct psp_transport *t)
{
}

static const struct psp_transport_ops fake_ops = {
	.kind = "fuzz",
	.issue = fake_issue,
	.dma_alloc = fake_dma_alloc,
	.dma_free = fake_dma_free,
	.get_cpuid = fake_cpuid,
	.close = fake_close,
};

/* Where the sub-command's user struct holds user addresses (linux/psp-sev.h). */
static void point_into(uint8_t *user, uint8_t sub, uint8_t *arena)
{
	static const struct {
		uint8_t sub;
		uint8_t offs[2];
		uint8_t n;
	} addrs[] = {
		{ SDE_PEK_CSR, { 0 }, 1 },	     { SDE_PDH_CERT_EXPORT, { 0, 12 }, 2 },
		{ SDE_PEK_CERT_IMPORT, { 0, 12 }, 2 }, { SDE_GET_ID2, { 0 }, 1 },
		{ SDE_SNP_VLEK_LOAD, { 8 }, 1 },
	};

	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		if (addrs[i].sub != sub)
			continue;
		for (uint8_t j = 0; j < addrs[i].n; j++) {
			uint64_t v = get_le64(user + addrs[i].offs[j]);

			if (!(v >> 63))
				put_le64(user + addrs[i].offs[j],
					 (uint64_t)(uintptr_t)(arena + v % ARENA));
		}
	}
}

static void one_call(struct sde_kernel *k, bool writable)
{
	uint8_t sub = take(), mode = take();
	uint8_t *arena = calloc(1, ARENA), *user = calloc(1, 32), *hdr = calloc(1, 16);

	if (!arena || !user || !hdr)
		abort();
	for (size_t i = 0; i < 32; i++)
		user[i] = take();
	point_into(user, sub, arena);
	put_le32(hdr, sub);
	put_le64(hdr + 4, (mode & 2) ? (uint64_t)(uintptr_t)user : get_le64(user + 24));
	put_le32(hdr + 12, take32());
	user_ranges[0].p = hdr, user_ranges[0].n = 16;
	user_ranges[1].p = user, user_ranges[1].n = 32;
	user_ranges[2].p = arena, user_ranges[2].n = ARENA;
	(void)sde_ioctl(k, writable, SDE_SEV_ISSUE_CMD, (mode & 1) ? (void *)hdr : (void *)16);
	memset(user_ranges, 0, sizeof(user_ranges));
	free(hdr);
	free(user);
	free(arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct psp_transport t = { .ops = &fake_ops };
	struct sde_kernel *k = NULL;
	bool writable;

	in = (struct input){ data, size };
	writable = take() & 1;
	pthread_mutex_init(&t.lock, NULL);
	if (sde_kernel_new(&t, &k) == 0) {
		for (int i = 0; i < MAX_CALLS && in.n; i++)
			one_call(k, writable);
		k->t = NULL; /* ours, on the stack: not for psp_close */
		for (size_t i = 0; i < MAX_BLOBS; i++)
			if (blobs[i].ptr)
				fake_dma_free(&t, &blobs[i]);
		sde_kernel_free(k);
	}
	pthread_mutex_destroy(&t.lock);
	return 0;
}

#ifdef REPLAY_MAIN
#include <dirent.h>

/* Replays each seed of the directory given, then each with every byte flipped in turn, so the
 * normal build runs the same code over the seeds and their neighbours. */
int main(int argc, char **argv)
{
	DIR *d = argc == 2 ? opendir(argv[1]) : NULL;
	struct dirent *de;
	int seeds = 0, n = 0;

	if (!d) {
		fprintf(stderr, "usage: %s CORPUS_DIR (a readable directory of seeds)\n", argv[0]);
		return 1;
	}
	while ((de = readdir(d))) {
		uint8_t buf[4096];
		char path[4096];
		FILE *f;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
		f = fopen(path, "rb");
		if (!f) {
			fprintf(stderr, "cannot open seed %s\n", path);
			return 1;
		}
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);
		for (size_t j = 0; j < len; j++, n++) {
			buf[j] ^= 0xff;
			LLVMFuzzerTestOneInput(buf, len);
			buf[j] ^= 0xff;
		}
		seeds++;
	}
	closedir(d);
	printf("fuzz-sev-dev-emu replay: %d seeds, %d mutations, no crash\n", seeds, n);
	return seeds ? 0 : 1;
}
#endif
