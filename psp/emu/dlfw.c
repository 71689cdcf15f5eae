/* DOWNLOAD_FIRMWARE (SEV API §5.11) in the emulated SEV firmware, and the emulator's own
 * firmware image format. AMD-ASPFW sev_mcmd.c sev_mcmd_download_firmware: legal only in
 * UNINIT (the row), the image address 32-byte aligned (INVALID_ADDRESS), its header read from
 * memory (INVALID_ADDRESS), then the boot loader checks and loads the image
 * (sev_hal_cache_new_image, not in the published source) and the committed version becomes
 * the image's. AMD's images are signed by AMD; the emulator's are signed by its own emulated
 * ASK, and CTL `firmware-image MAJOR.MINOR BUILD` is its model of AMD publishing one.
 *
 * Image (little-endian):
 *   0  "SEVEMUFW"   8  u32 format (1)   12 u8 api_major, api_minor, build, 0
 *   16 u32 payload length   20 u32 signature length   24..63 zero
 *   64 payload, then the signature: RSA-PSS (SHA-256, salt 32) by the emulated ASK over
 *      bytes [0, 64 + payload length), little-endian, as long as the ASK's modulus.
 * A length that does not add up is INVALID_LEN; an image that is not this format, unsigned
 * or changed anywhere is BAD_SIGNATURE. A loaded image lasts until the emulator exits (as a
 * downloaded firmware lasts until the next reset): the version reported, the API the keys
 * and measurements use. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/emu/firmware.h"

#define IMAGE_MAGIC "SEVEMUFW"
#define IMAGE_FORMAT 1u
#define IMAGE_HDR 64u
#define IMAGE_MAX (64u * 1024u) /* the emulator's images are tiny; AMD's are ~64 KiB */
#define PAYLOAD "sev-psp-emu firmware image\n"

struct image_hdr {
	char magic[8];
	uint32_t format;
	uint8_t api_major, api_minor, build, reserved0;
	uint32_t payload_len;
	uint32_t sig_len;
	uint8_t reserved[40];
} __attribute__((packed));
_Static_assert(sizeof(struct image_hdr) == IMAGE_HDR, "image header is 64 bytes");

static int image_verify(struct emu_fw *fw, const uint8_t *img, size_t len,
			const struct image_hdr *h)
{
	EVP_PKEY *ask = fw->nv.chip.ask_key;
	uint8_t zero[sizeof(h->reserved)] = { 0 };

	if (memcmp(h->magic, IMAGE_MAGIC, 8) != 0 || h->format != IMAGE_FORMAT ||
	    h->reserved0 || memcmp(h->reserved, zero, sizeof(zero)) != 0 || !ask ||
	    h->sig_len != (uint32_t)EVP_PKEY_get_size(ask))
		return SEV_STATUS_BAD_SIGNATURE;
	return attest_rsa_pss_verify_le(ask, EVP_sha256(), img, IMAGE_HDR + h->payload_len,
					img + IMAGE_HDR + h->payload_len, h->sig_len) == 1
		       ? SEV_STATUS_SUCCESS
		       : SEV_STATUS_BAD_SIGNATURE;
}

int emu_cmd_download_firmware(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_download_firmware *b = buf;
	_cleanup_free_ uint8_t *img = NULL;
	struct image_hdr h;
	int st;

	if (b->address % 32)
		return SEV_STATUS_INVALID_ADDRESS;
	st = emu_mem_read(fw->mem, b->address, &h, sizeof(h));
	if (st)
		return st;
	if (b->len < IMAGE_HDR || b->len > IMAGE_MAX || h.payload_len > IMAGE_MAX ||
	    h.sig_len > IMAGE_MAX || b->len != (uint64_t)IMAGE_HDR + h.payload_len + h.sig_len)
		return SEV_STATUS_INVALID_LEN;
	img = malloc(b->len);
	if (!img)
		return SEV_STATUS_HWERROR_PLATFORM;
	st = emu_mem_read(fw->mem, b->address, img, b->len);
	if (!st)
		st = image_verify(fw, img, b->len, (const struct image_hdr *)img);
	if (st)
		return st;
	/* update_committed_versions: from now on this is the firmware */
	fw->cfg.api_major = h.api_major;
	fw->cfg.api_minor = h.api_minor;
	fw->cfg.build = h.build;
	return SEV_STATUS_SUCCESS;
}

int emu_fw_image_make(struct emu_fw *fw, uint8_t api_major, uint8_t api_minor, uint8_t build,
		      uint8_t *out, size_t cap, size_t *ret_len)
{
	EVP_PKEY *ask = fw->nv.chip.ask_key;
	struct image_hdr h = { .format = IMAGE_FORMAT, .api_major = api_major,
			       .api_minor = api_minor, .build = build };
	size_t sig = ask ? (size_t)EVP_PKEY_get_size(ask) : 0,
	       len = IMAGE_HDR + sizeof(PAYLOAD) - 1 + sig;

	if (!sig)
		return -EIO;
	if (cap < len)
		return -ENOBUFS;
	memcpy(h.magic, IMAGE_MAGIC, 8);
	h.payload_len = sizeof(PAYLOAD) - 1;
	h.sig_len = (uint32_t)sig;
	memcpy(out, &h, sizeof(h));
	memcpy(out + IMAGE_HDR, PAYLOAD, h.payload_len);
	if (attest_rsa_pss_sign_le(ask, EVP_sha256(), out, IMAGE_HDR + h.payload_len,
				   out + IMAGE_HDR + h.payload_len, sig) < 0)
		return -EIO;
	*ret_len = len;
	return 0;
}
