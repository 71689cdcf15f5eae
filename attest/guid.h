/* GUIDed tables as OVMF reads them (the SEV hashes table, the SEV secret table) and the OVMF
 * footer table in the last bytes of a firmware image. GUIDs are stored in EFI byte order
 * (first three fields little-endian). Pure code; the firmware image is untrusted input. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define ATTEST_GUID_SIZE 16u

/* "1e74f542-71dd-4d66-963e-ef4287ff173b" (any case) → EFI byte order. -EINVAL if malformed. */
int attest_guid_parse(const char *s, uint8_t ret[ATTEST_GUID_SIZE]);

/* One table entry: guid ‖ length ‖ payload, where length (len_size = 2 or 4 bytes,
 * little-endian) counts the whole entry. entry_size() is its size (0 if it overflows the
 * length field); entry_put() writes it to out and returns the bytes written. */
size_t attest_guid_entry_size(size_t payload_len, size_t len_size);
size_t attest_guid_entry_put(uint8_t *out, const uint8_t guid[ATTEST_GUID_SIZE], size_t len_size,
			     const uint8_t *payload, size_t payload_len);

/* The OVMF footer table (OvmfPkg ResetVector, "96b582de-1fb2-45f7-baea-a366c55a082d" at
 * 0x30 bytes before the end): find the entry with this GUID. 0 and its data (inside fw),
 * -ENOENT when the image has no footer table or no such entry, -EBADMSG when it is malformed. */
int attest_ovmf_footer_find(const uint8_t *fw, size_t fw_len, const uint8_t guid[ATTEST_GUID_SIZE],
			    const uint8_t **ret_data, size_t *ret_len);
