/* Building and walking the SEV-SNP certificate table (GHCB spec 56421, "SNP Extended Guest
 * Request": 24-byte entries {GUID, u32 offset, u32 length}, an all-zero entry last, then the
 * certificates; offsets from the table's start). attest_snp_cert_table_parse (snp-appraise.h)
 * checks a table; these build one from named entries and list every entry of a checked table,
 * GUIDs of other kinds included (the host's GUID-keyed extra entries). Pure code. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "attest/snp-appraise.h"
#include "attest/verdict.h"

#define SNP_CERT_TABLE_ENTRY 24u
/* Linux's SEV_FW_BLOB_MAX_SIZE (include/linux/psp-sev.h), the bound of the certificate blob
 * SNP_SET_EXT_CONFIG took; sevd keeps its host table within it. */
#define SNP_CERT_TABLE_MAX (16u * 1024u)
#define SNP_CERT_TABLE_ENTRIES_MAX 32u

struct snp_cert_entry {
	uint8_t guid[16]; /* RFC 4122 byte order (uuid_parse) */
	const uint8_t *data;
	uint32_t len;
};

/* The GUID of a known kind (VCEK, VLEK, ASK, ARK, CRL). */
const uint8_t *attest_snp_cert_kind_guid(enum snp_cert_kind k);
/* The kind of a GUID, or SNP_CERT_KINDS for one of no known kind. */
enum snp_cert_kind attest_snp_cert_guid_kind(const uint8_t guid[16]);
/* "63da758d-e664-4564-adc5-f4b93be8accd" (37 bytes with the NUL) and back (any case;
 * -EINVAL when malformed). */
void attest_snp_guid_format(const uint8_t guid[16], char out[37]);
int attest_snp_guid_parse(const char *s, uint8_t ret[16]);

/* A table of n entries (none empty, no GUID twice, none all-zero): malloc'd *ret of *ret_len
 * bytes. -EINVAL with v->reason for a bad entry, -E2BIG (with v->reason) beyond
 * SNP_CERT_TABLE_MAX bytes or SNP_CERT_TABLE_ENTRIES_MAX entries, -ENOMEM. */
int attest_snp_cert_table_build(const struct snp_cert_entry *e, size_t n, uint8_t **ret,
				size_t *ret_len, struct attest_verdict *v);
/* Every entry of a table attest_snp_cert_table_parse accepted, in table order (data points
 * into buf): at most max; the count. */
size_t attest_snp_cert_table_entries(const uint8_t *buf, size_t len, struct snp_cert_entry *ret,
				     size_t max);
