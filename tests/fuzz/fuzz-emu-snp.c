/* libFuzzer target: sev-psp-emu's SNP input: SNP command buffers, the host's
 * RMPUPDATE lines, guest messages and ID blocks. Each input starts from the same platform:
 * SNP initialized, guest A running (context page 1, secrets page 2), guest B launched and
 * activated but not finished (context page 5), pages 0 and 4 firmware pages, all in one
 * mapped region of REGION_PAGES pages at EMU_FUZZ_BASE. Byte 0 picks the kind (mod 3):
 *   0 command: byte 1 = number of RMPUPDATE ops (bits 1:0), then the ops (4 bytes each:
 *     page, flags bit 0 assigned / 1 immutable / 2 2 MiB, ASID, GPA page; sent as CTL
 *     lines), then the SNP command (an index into the id table), its buffer (exact size,
 *     zero-padded), then bytes copied into pages 8..;
 *   1 guest message: byte 1 bit 0 = seal it with guest A's VMPCK0 and the right sequence
 *     number, then the request page (header from 0x30 on, and payload); SNP_GUEST_REQUEST;
 *   2 ID block: byte 1 = LAUNCH_FINISH flags, then the ID block (0x60) and the ID
 *     authentication structure (4 KiB) for guest B.
 * The emulator must answer everything without crashing. */
#include <fcntl.h>
#include <stdarg.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/macros.h"
#include "tests/fuzz/fuzz-tmpdir.h"
#include "common/util.h"
#include "psp/emu-wire.h"
#include "psp/emu/server.h"
#include "psp/emu/snp.h"

#define REGION_PAGES 64u
#define REGION_SIZE (REGION_PAGES * SEV_PAGE_SIZE)
#define EMU_FUZZ_BASE (1ull << EMU_REGION_SHIFT)
#define PA(p) (EMU_FUZZ_BASE + (uint64_t)(p) * SEV_PAGE_SIZE)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct emu_fw *fw;
static uint8_t *region;

static const uint32_t snp_ids[] = {
	SEV_CMD_SNP_INIT,	    SEV_CMD_SNP_SHUTDOWN,      SEV_CMD_SNP_PLATFORM_STATUS,
	SEV_CMD_SNP_DF_FLUSH,	    SEV_CMD_SNP_INIT_EX,       SEV_CMD_SNP_SHUTDOWN_EX,
	SEV_CMD_SNP_DECOMMISSION,   SEV_CMD_SNP_ACTIVATE,      SEV_CMD_SNP_GUEST_STATUS,
	SEV_CMD_SNP_GCTX_CREATE,    SEV_CMD_SNP_GUEST_REQUEST, SEV_CMD_SNP_LAUNCH_START,
	SEV_CMD_SNP_LAUNCH_UPDATE,  SEV_CMD_SNP_LAUNCH_FINISH, SEV_CMD_SNP_PAGE_RECLAIM,
	SEV_CMD_SNP_CONFIG,	    SEV_CMD_SNP_COMMIT,	       SEV_CMD_SNP_FEATURE_INFO,
	SEV_CMD_SNP_PAGE_UNSMASH,   SEV_CMD_SNP_VLEK_LOAD,
};

static int cmd(uint32_t id, void *buf)
{
	int n = sev_cmd_buffer_size(id);

	return emu_fw_command(fw, id, buf, n > 0 ? (size_t)n : 0);
}

static void ctl(const char *fmt, ...) _printf_(1, 2);
static void ctl(const char *fmt, ...)
{
	uint8_t out[EMU_WIRE_MAX_PAYLOAD];
	char line[200];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	(void)emu_ctl(fw, line, out, sizeof(out), &n);
}

static void must(int st)
{
	if (st != SEV_STATUS_SUCCESS)
		abort();
}

/* A guest launched on context page ctx with ASID asid; with a secrets page when finished. */
static void guest(unsigned ctx, uint32_t asid, unsigned secrets, bool finish)
{
	struct sev_snp_cmd_addr gc = { PA(ctx) };
	struct sev_snp_cmd_launch_start ls = { .gctx_paddr = PA(ctx), .policy = 0x30000 };
	struct sev_snp_cmd_activate ac = { PA(ctx), asid };
	struct sev_snp_cmd_launch_update lu = {
		.gctx_paddr = PA(ctx), .address = PA(secrets),
		.flags = SEV_SNP_UPDATE_FLAGS(SEV_SNP_PAGE_SECRETS, false, false)
	};
	struct sev_snp_cmd_launch_finish lf = { .gctx_paddr = PA(ctx) };

	ctl("rmpupdate 0x%llx,assigned=1,immutable=1", (unsigned long long)PA(ctx));
	must(cmd(SEV_CMD_SNP_GCTX_CREATE, &gc));
	must(cmd(SEV_CMD_SNP_LAUNCH_START, &ls));
	must(cmd(SEV_CMD_SNP_ACTIVATE, &ac));
	if (!finish)
		return;
	ctl("rmpupdate 0x%llx,assigned=1,asid=%u,gpa=0x1000,immutable=1",
	    (unsigned long long)PA(secrets), asid);
	must(cmd(SEV_CMD_SNP_LAUNCH_UPDATE, &lu));
	must(cmd(SEV_CMD_SNP_LAUNCH_FINISH, &lf));
}

/* The same starting platform for every input. */
static void prepare(void)
{
	struct sev_snp_cmd_init_ex ex = { .flags = SEV_SNP_INIT_INIT_RMP };

	emu_snp_free(fw);
	fw->state = SEV_PSTATE_UNINIT;
	memset(region, 0, REGION_SIZE);
	must(cmd(SEV_CMD_SNP_INIT_EX, &ex));
	fw->wbinvd_done = true;
	must(cmd(SEV_CMD_SNP_DF_FLUSH, NULL));
	ctl("rmpupdate 0x%llx,assigned=1,immutable=1", (unsigned long long)PA(0));
	ctl("rmpupdate 0x%llx,assigned=1,immutable=1", (unsigned long long)PA(4));
	guest(1, 1, 2, true);
	guest(5, 2, 0, false);
}

/* The SNP state lives in secret memory (mmap'd pages LeakSanitizer does not scan): free it
 * before the leak check at exit, which would otherwise miss the pointers kept there. */
static void teardown(void)
{
	emu_fw_free(fw);
	fw = NULL;
}

static void setup(void)
{
	struct emu_config cfg = { .cpuid_eax = 0x1f, .cpuid_ebx = 0x73, .cpuid_ecx = 509,
				  .cpuid_edx = 100, .api_major = 1, .api_minor = 55, .build = 21,
				  .amd_root_bits = 2048, .snp = true,
				  .snp_tcb = 0x7308000000000003ull };
	char nv[300];
	uint64_t base;
	int fd;

	snprintf(nv, sizeof(nv), "%s/nv.bin", fuzz_tmpdir_make("fuzz-emu-snp"));
	if (emu_fw_new(&cfg, nv, &fw) < 0)
		abort();
	fd = memfd_create("fuzz-snp", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, REGION_SIZE) < 0 ||
	    emu_mem_map(fw->mem, fd, REGION_SIZE, 0, &base) < 0 || base != EMU_FUZZ_BASE)
		abort();
	region = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (region == MAP_FAILED)
		abort();
	atexit(teardown);
}

static void fuzz_command(const uint8_t *d, size_t n)
{
	uint8_t buf[64] = { 0 };
	unsigned ops;
	uint32_t id;
	int len;

	if (n < 2)
		return;
	ops = MIN(d[0] & 3u, (unsigned)((n - 2) / 4));
	d++;
	n--;
	for (unsigned i = 0; i < ops; i++, d += 4, n -= 4) {
		const uint8_t *o = d;

		ctl("rmpupdate 0x%llx,assigned=%d,immutable=%d,asid=%u,gpa=0x%llx,size=%s",
		    (unsigned long long)PA(o[0] % REGION_PAGES), o[1] & 1, (o[1] >> 1) & 1, o[2],
		    (unsigned long long)o[3] << 12, (o[1] & 4) ? "2m" : "4k");
	}
	id = snp_ids[d[0] % ELEMENTSOF(snp_ids)];
	d++;
	n--;
	len = sev_cmd_buffer_size(id);
	memcpy(buf, d, MIN((size_t)len, n));
	d += MIN((size_t)len, n);
	n -= MIN((size_t)len, n);
	memcpy(region + 8 * SEV_PAGE_SIZE, d, MIN(n, (size_t)(REGION_SIZE - 8 * SEV_PAGE_SIZE)));
	(void)emu_fw_command(fw, id, buf, (size_t)len);
}

/* Seal the request page as guest A would (AES-256-GCM, VMPCK0, the next sequence number). */
static void seal(uint8_t *h)
{
	struct emu_snp_guest *g = emu_snp_guest_find(fw, PA(1));
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint16_t len = MIN(get_le16(h + 0x36), (uint16_t)(SEV_PAGE_SIZE - 0x60));
	uint8_t iv[12] = { 0 };
	int k;

	if (!g || !c)
		abort();
	put_le64(h + 0x20, g->msg_count[0] + 1);
	h[0x3c] = 0;
	put_le64(iv, g->msg_count[0] + 1);
	if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, g->vmpck[0], iv) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &k, h + 0x30, 0x30) != 1 ||
	    EVP_EncryptUpdate(c, h + 0x60, &k, h + 0x60, len) != 1 ||
	    EVP_EncryptFinal_ex(c, h + 0x60 + k, &k) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, h) != 1)
		abort();
	EVP_CIPHER_CTX_free(c);
}

static void fuzz_message(const uint8_t *d, size_t n)
{
	struct sev_snp_cmd_guest_request gr = { PA(1), PA(3), PA(4) };
	uint8_t *h = region + 3 * SEV_PAGE_SIZE;

	if (n < 1)
		return;
	memcpy(h + 0x30, d + 1, MIN(n - 1, (size_t)(SEV_PAGE_SIZE - 0x30)));
	if (d[0] & 1)
		seal(h);
	else if (n > 1)
		memcpy(h, d + 1, MIN(n - 1, (size_t)0x30)); /* a raw tag and sequence number */
	(void)cmd(SEV_CMD_SNP_GUEST_REQUEST, &gr);
}

static void fuzz_id_block(const uint8_t *d, size_t n)
{
	struct sev_snp_cmd_launch_finish lf = { .gctx_paddr = PA(5), .id_block_paddr = PA(6),
						.id_auth_paddr = PA(7) };

	if (n < 1)
		return;
	lf.flags = d[0] & 7u;
	memcpy(region + 6 * SEV_PAGE_SIZE, d + 1, MIN(n - 1, (size_t)(2 * SEV_PAGE_SIZE)));
	(void)cmd(SEV_CMD_SNP_LAUNCH_FINISH, &lf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fw)
		setup();
	if (size == 0)
		return 0;
	prepare();
	switch (data[0] % 3) {
	case 0: fuzz_command(data + 1, size - 1); break;
	case 1: fuzz_message(data + 1, size - 1); break;
	default: fuzz_id_block(data + 1, size - 1); break;
	}
	return 0;
}
