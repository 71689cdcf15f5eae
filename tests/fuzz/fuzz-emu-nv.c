/* libFuzzer target: the emulator's NV file (psp/emu/nv.c). A torn or corrupt file must be
 * refused with a reason, never crash or be half-loaded. The harness fixes up the header's
 * SHA-256 so that mutations reach the record parser behind the checksum; a second pass
 * feeds the raw bytes so the header checks stay covered too. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "psp/emu/nv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* SHA-256 over the 64-byte header with bytes [24, 56) zeroed, then the payload (nv.h). */
static void fix_checksum(uint8_t *buf, size_t size)
{
	uint8_t zero_hdr[64];
	unsigned int n = 0;
	EVP_MD_CTX *ctx;

	if (size < 64)
		return;
	memcpy(zero_hdr, buf, 64);
	memset(zero_hdr + 24, 0, 32);
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, zero_hdr, 64) == 1 &&
	    EVP_DigestUpdate(ctx, buf + 64, size - 64) == 1)
		EVP_DigestFinal_ex(ctx, buf + 24, &n);
	EVP_MD_CTX_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct emu_nv_state st;
	const char *reason;
	uint8_t *buf;

	if (size > EMU_NV_MAX_SIZE)
		return 0;
	log_set_max_level(-1);
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			if (size >= 24)
				put_le64(buf + 16, size - (size >= 64 ? 64 : size)); /* length field */
			fix_checksum(buf, size);
		}
		memset(&st, 0, sizeof(st));
		reason = NULL;
		if (emu_nv_decode(buf, size, &st, &reason) == 0)
			emu_nv_state_clear(&st);
		else if (!reason)
			abort(); /* every refusal must say why */
	}
	free(buf);
	return 0;
}
