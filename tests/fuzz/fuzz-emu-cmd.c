/* libFuzzer target: sev-psp-emu's command input. Two kinds of input, chosen by bit 7 of the
 * first byte:
 *   command (bit 7 clear): byte 0 = platform state (mod 3) | bit 6 "WBINVD done",
 *     bytes 1..4 = command id (LE), byte 5 = command buffer length, then that many buffer
 *     bytes, then bytes copied into the one mapped region (base EMU_FUZZ_BASE) — so buffers
 *     can point at attacker-chosen certificates, CSRs and lengths;
 *   wire (bit 7 set): bytes 1.. are one raw request datagram for emu_handle_request().
 * The emulator must answer everything without crashing, and a command's reply is its buffer
 * length. State is restored after each input so runs are reproducible. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/macros.h"
#include "tests/fuzz/fuzz-tmpdir.h"
#include "psp/emu-wire.h"
#include "psp/emu/server.h"

#define REGION_SIZE (64u * 1024u)
#define EMU_FUZZ_BASE (1ull << EMU_REGION_SHIFT) /* the first region */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Commands the firmware core has served so far (its own counter): the replay test
 * (tests/psp/test-emu-fuzz-replay.c) checks that its inputs reached firmware. */
uint64_t fuzz_emu_cmd_served(void);

static struct emu_fw *fw;
static struct emu_owner saved_owner;
static uint8_t *region;

static void setup(void)
{
	struct emu_config cfg = { .cpuid_eax = 0xf, .cpuid_ebx = 0x73, .cpuid_ecx = 509,
				  .cpuid_edx = 100, .api_major = 1, .api_minor = 55, .build = 21,
				  .amd_root_bits = 2048 };
	struct sev_cmd_init init = { 0 };
	char nv[300];
	uint64_t base;
	int fd;

	snprintf(nv, sizeof(nv), "%s/nv.bin", fuzz_tmpdir_make("fuzz-emu"));
	if (emu_fw_new(&cfg, nv, &fw) < 0)
		abort();
	fd = memfd_create("fuzz-region", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, REGION_SIZE) < 0 ||
	    emu_mem_map(fw->mem, fd, REGION_SIZE, 0, &base) < 0 || base != EMU_FUZZ_BASE)
		abort();
	region = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (region == MAP_FAILED || emu_fw_command(fw, SEV_CMD_INIT, &init, sizeof(init)) != 0)
		abort();
	emu_owner_copy(&saved_owner, &fw->nv.owner);
}

/* Undo what the previous input changed (in memory; the NV file is only ever written). */
static void restore(void)
{
	if (fw->guests_shutdown)
		fw->guests_shutdown(fw); /* guest contexts (the guest side sets this hook) */
	memset(fw->asid_dirty, 0, ((size_t)fw->cfg.cpuid_ecx + 1) * sizeof(*fw->asid_dirty));
	emu_owner_clear(&fw->nv.owner);
	emu_owner_copy(&fw->nv.owner, &saved_owner);
	fw->state = SEV_PSTATE_INIT;
	fw->config_flags = 0;
	fw->guest_count = 0;
	fw->wbinvd_done = 0;
	emu_es_release(fw); /* an ES INIT's TMR and pool */
}

static void fuzz_command(const uint8_t *data, size_t size)
{
	uint8_t buf[256];
	uint32_t cmd;
	size_t len;

	if (size < 6)
		return;
	fw->state = (data[0] & 0x3f) % 3;
	fw->wbinvd_done = (data[0] & 0x40) ? fw->ccx_all : 0;
	memcpy(&cmd, data + 1, 4);
	len = data[5];
	if (size < 6 + len)
		return;
	memcpy(buf, data + 6, len);
	memset(region, 0, REGION_SIZE);
	memcpy(region, data + 6 + len, MIN(size - 6 - len, (size_t)REGION_SIZE));
	(void)emu_fw_command(fw, cmd, buf, len);
}

static void fuzz_wire(const uint8_t *data, size_t size)
{
	static uint8_t reply[sizeof(struct emu_reply_hdr) + EMU_WIRE_MAX_PAYLOAD];
	struct emu_msg_hdr h;
	ssize_t n;

	if (size >= sizeof(h)) {
		memcpy(&h, data, sizeof(h));
		if (h.type == EMU_MSG_UNMAP)
			return; /* would drop the fuzz region and change later runs */
	}
	n = emu_handle_request(fw, 1, data, size, -1, reply, sizeof(reply));
	if (n >= 0 && ((size_t)n < sizeof(struct emu_reply_hdr) || (size_t)n > sizeof(reply)))
		abort();
}

uint64_t fuzz_emu_cmd_served(void)
{
	return fw ? fw->commands_served : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fw)
		setup();
	if (size == 0)
		return 0;
	if (data[0] & 0x80)
		fuzz_wire(data + 1, size - 1);
	else
		fuzz_command(data, size);
	restore();
	return 0;
}
