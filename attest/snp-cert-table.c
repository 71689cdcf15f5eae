/* The SEV-SNP certificate table: building one from named entries, listing a checked one's
 * entries (snp-cert-table.h). Pure code; the bytes listed were checked by
 * attest_snp_cert_table_parse first, and are still bounded here. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/snp-cert-table.h"
#include "common/macros.h"
#include "common/util.h"

/* GHCB spec 56421 "SNP Extended Guest Request" (and virtee sev's CertType), in the byte
 * order uuid_parse gives (the text's digits in order). */
static const struct {
	enum snp_cert_kind kind;
	uint8_t guid[16];
} kind_guids[] = {
	{ SNP_CERT_VCEK, /* 63da758d-e664-4564-adc5-f4b93be8accd */
	  { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd } },
	{ SNP_CERT_VLEK, /* a8074bc2-a25a-483e-aae6-39c045a0b8a1 */
	  { 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1 } },
	{ SNP_CERT_ASK, /* 4ab7b379-bbac-4fe4-a02f-05aef327c782 */
	  { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82 } },
	{ SNP_CERT_ARK, /* c0b406a4-a803-4952-9743-3fb6014cd0ae */
	  { 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae } },
	{ SNP_CERT_CRL, /* 92f81bc3-5811-4d3d-97ff-d19f88dc67ea */
	  { 0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d, 0x97, 0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67, 0xea } },
};

int attest_snp_guid_parse(const char *s, uint8_t ret[16])
{
	size_t o = 0;

	for (size_t i = 0; i < 36; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			continue;
		}
		hi = hex_digit(s[i]);
		lo = hi < 0 ? -1 : hex_digit(s[i + 1]);
		if (hi < 0 || lo < 0 || o >= 16)
			return -EINVAL;
		ret[o++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return s[36] == '\0' && o == 16 ? 0 : -EINVAL;
}

void attest_snp_guid_format(const uint8_t g[16], char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", g[0], g[1],
		 g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14],
		 g[15]);
}

const uint8_t *attest_snp_cert_kind_guid(enum snp_cert_kind k)
{
	for (size_t i = 0; i < ELEMENTSOF(kind_guids); i++)
		if (kind_guids[i].kind == k)
			return kind_guids[i].guid;
	return NULL;
}

enum snp_cert_kind attest_snp_cert_guid_kind(const uint8_t guid[16])
{
	for (int k = 0; k < SNP_CERT_KINDS; k++)
		if (memcmp(attest_snp_cert_kind_guid((enum snp_cert_kind)k), guid, 16) == 0)
			return (enum snp_cert_kind)k;
	return SNP_CERT_KINDS;
}

int attest_snp_cert_table_build(const struct snp_cert_entry *e, size_t n, uint8_t **ret,
				size_t *ret_len, struct attest_verdict *v)
{
	static const uint8_t zero[16];
	size_t total = (n + 1) * SNP_CERT_TABLE_ENTRY, off;
	uint8_t *buf;

	if (n > SNP_CERT_TABLE_ENTRIES_MAX)
		return attest_verdict_fail(v, -E2BIG, "a certificate table holds at most %u entries "
					   "(%zu given)", SNP_CERT_TABLE_ENTRIES_MAX, n);
	for (size_t i = 0; i < n; i++) {
		char g[37];

		attest_snp_guid_format(e[i].guid, g);
		if (memcmp(e[i].guid, zero, 16) == 0 || e[i].len == 0)
			return attest_verdict_fail(v, -EINVAL, "certificate table entry %s: %s", g,
						   e[i].len ? "the all-zero GUID ends a table"
							    : "it is empty");
		for (size_t j = 0; j < i; j++)
			if (memcmp(e[i].guid, e[j].guid, 16) == 0)
				return attest_verdict_fail(v, -EINVAL, "certificate table entry %s "
							   "is given twice", g);
		total += e[i].len;
		if (total > SNP_CERT_TABLE_MAX)
			return attest_verdict_fail(v, -E2BIG, "the certificate table would be over "
						   "%u bytes (Linux's SEV_FW_BLOB_MAX_SIZE)",
						   SNP_CERT_TABLE_MAX);
	}
	buf = calloc(1, total);
	if (!buf)
		return -ENOMEM;
	off = (n + 1) * SNP_CERT_TABLE_ENTRY;
	for (size_t i = 0; i < n; i++) {
		uint8_t *t = buf + i * SNP_CERT_TABLE_ENTRY;

		memcpy(t, e[i].guid, 16);
		put_le32(t + 16, (uint32_t)off);
		put_le32(t + 20, e[i].len);
		memcpy(buf + off, e[i].data, e[i].len);
		off += e[i].len;
	}
	*ret = buf;
	*ret_len = total;
	return 0;
}

size_t attest_snp_cert_table_entries(const uint8_t *buf, size_t len, struct snp_cert_entry *ret,
				     size_t max)
{
	static const uint8_t zero[SNP_CERT_TABLE_ENTRY];
	size_t n = 0;

	for (size_t i = 0; (i + 1) * SNP_CERT_TABLE_ENTRY <= len && n < max; i++) {
		const uint8_t *t = buf + i * SNP_CERT_TABLE_ENTRY;
		uint32_t off = get_le32(t + 16), l = get_le32(t + 20);

		if (memcmp(t, zero, SNP_CERT_TABLE_ENTRY) == 0)
			break;
		if (off > len || l > len - off)
			break; /* not a table parse accepted */
		memcpy(ret[n].guid, t, 16);
		ret[n].data = buf + off;
		ret[n].len = l;
		n++;
	}
	return n;
}
