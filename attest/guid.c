/* GUIDed tables (OVMF's SEV hashes and secret tables) and the OVMF footer table. The footer
 * walk trusts nothing in the image: every length is bounds-checked before use. */
#include "attest/guid.h"

#include <errno.h>
#include <string.h>

#include "common/util.h"

int attest_guid_parse(const char *s, uint8_t ret[ATTEST_GUID_SIZE])
{
	uint8_t be[ATTEST_GUID_SIZE];
	size_t n = 0;

	if (!s || strlen(s) != 36)
		return -EINVAL;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			continue;
		}
		int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		be[n++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	/* EFI GUID: u32, u16, u16 little-endian, then 8 bytes as written. */
	memcpy(ret, be, sizeof be);
	memrev(ret, 4);
	memrev(ret + 4, 2);
	memrev(ret + 6, 2);
	return 0;
}

size_t attest_guid_entry_size(size_t payload_len, size_t len_size)
{
	size_t total = ATTEST_GUID_SIZE + len_size + payload_len;
	size_t max = len_size == 2 ? UINT16_MAX : UINT32_MAX;

	if ((len_size != 2 && len_size != 4) || payload_len > max || total > max)
		return 0;
	return total;
}

size_t attest_guid_entry_put(uint8_t *out, const uint8_t guid[ATTEST_GUID_SIZE], size_t len_size,
			     const uint8_t *payload, size_t payload_len)
{
	size_t total = attest_guid_entry_size(payload_len, len_size);

	if (total == 0)
		return 0;
	memcpy(out, guid, ATTEST_GUID_SIZE);
	if (len_size == 2)
		put_le16(out + ATTEST_GUID_SIZE, (uint16_t)total);
	else
		put_le32(out + ATTEST_GUID_SIZE, (uint32_t)total);
	if (payload_len)
		memcpy(out + ATTEST_GUID_SIZE + len_size, payload, payload_len);
	return total;
}

/* OvmfPkg/ResetVector: the table ends 0x20 bytes before the image end (the reset vector
 * follows). Its last entry is the footer: u16 total table length, then the footer GUID.
 * Every entry is laid out data ‖ u16 length ‖ GUID, walked from the end backwards. */
#define OVMF_FOOTER_END_OFFSET 0x20u
static const uint8_t ovmf_footer_guid[ATTEST_GUID_SIZE] = { /* 96b582de-1fb2-45f7-baea-a366c55a082d */
	0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45,
	0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d,
};

int attest_ovmf_footer_find(const uint8_t *fw, size_t fw_len, const uint8_t guid[ATTEST_GUID_SIZE],
			    const uint8_t **ret_data, size_t *ret_len)
{
	const size_t hdr = ATTEST_GUID_SIZE + 2;
	size_t end, start, table_len;

	if (!fw || fw_len < OVMF_FOOTER_END_OFFSET + hdr)
		return -ENOENT;
	end = fw_len - OVMF_FOOTER_END_OFFSET; /* one past the footer GUID */
	if (memcmp(fw + end - ATTEST_GUID_SIZE, ovmf_footer_guid, ATTEST_GUID_SIZE) != 0)
		return -ENOENT;
	table_len = get_le16(fw + end - hdr);
	if (table_len < hdr || table_len > end)
		return -EBADMSG;
	start = end - table_len;
	end -= hdr; /* the entries sit before the footer entry */
	while (end > start) {
		size_t len;

		if (end - start < hdr)
			return -EBADMSG;
		len = get_le16(fw + end - hdr);
		if (len < hdr || len > end - start)
			return -EBADMSG;
		if (memcmp(fw + end - ATTEST_GUID_SIZE, guid, ATTEST_GUID_SIZE) == 0) {
			*ret_data = fw + end - len;
			*ret_len = len - hdr;
			return 0;
		}
		end -= len;
	}
	return -ENOENT;
}
