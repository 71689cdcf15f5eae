/* SEV-SNP report appraisal: a guest owner's reference values (a JSON file, every field optional,
 * unknown keys refused; the format is man/sevadm-reference.schema.json) compared with a decoded
 * report field by field, each comparison one named check with the expected and the found value;
 * and the ARK's certificate revocation list checked against the ASK and VCEK/VLEK. Pure code:
 * the reference text, the CRL bytes and the report come in as memory; all of them are
 * untrusted except the ARK the caller trusts. Field meanings: SNP ABI 56860, ATTESTATION_REPORT
 * table, guest policy (SNP_GUEST_POLICY), PLATFORM_INFO and TCB_VERSION. */
#pragma once

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/snp-report.h"
#include "attest/verdict.h"

#define SNP_REF_MEASUREMENTS_MAX 16u
#define SNP_REF_TEXT_MAX (64u * 1024)

/* Minimum TCB components; a component is compared only when its has_ bit is set. */
struct snp_ref_tcb {
	bool has_fmc, has_bl, has_tee, has_snp, has_ucode;
	uint8_t fmc, bl, tee, snp, ucode;
};

enum snp_ref_tcb_kind { SNP_TCB_REPORTED, SNP_TCB_COMMITTED, SNP_TCB_CURRENT, SNP_TCB_LAUNCH,
			SNP_TCB_KINDS };

struct snp_ref {
	size_t n_measurements; /* 0: not compared; else the report's must be one of them */
	uint8_t measurements[SNP_REF_MEASUREMENTS_MAX][48];
	bool has_report_data, has_host_data, has_id_key, has_author_key, has_family_id,
		has_image_id, has_chip_id;
	uint8_t report_data[64]; /* shorter hex is zero-padded, as the guest pads it */
	uint8_t host_data[32];
	uint8_t id_key_digest[48], author_key_digest[48];
	uint8_t family_id[16], image_id[16];
	uint8_t chip_id[64];
	bool has_policy_set, has_policy_clear, has_min_abi, has_min_firmware;
	uint64_t policy_set, policy_clear; /* bits that must be 1, bits that must be 0 */
	uint8_t min_abi_major, min_abi_minor; /* the policy's ABI_MAJOR.ABI_MINOR at least */
	uint8_t min_fw_major, min_fw_minor, min_fw_build; /* CURRENT_MAJOR.MINOR.BUILD at least */
	bool has_vmpl, has_min_svn, has_signing_key;
	uint32_t vmpl, min_guest_svn;
	enum snp_signing_key signing_key;
	struct snp_ref_tcb min_tcb[SNP_TCB_KINDS];
	uint64_t plat_mask, plat_value; /* PLATFORM_INFO bits given, and their wanted values */
};

/* Parse a reference file. 0, or -EBADMSG with v->reason naming the key and what was wrong
 * (an unknown key, a wrong type, hex of the wrong length). */
int attest_snp_ref_parse(const char *text, size_t len, struct snp_ref *ret,
			 struct attest_verdict *v);

struct snp_check {
	char name[48]; /* the reference key: "measurement", "min_tcb.reported.snp", ... */
	bool pass;
	bool skipped;   /* not comparable (a masked CHIP_ID): neither passed nor failed */
	char expected[16 * 100];
	char found[160];
};

struct snp_appraisal {
	struct snp_check checks[64];
	size_t n;
};

/* One check per field the reference gives, in the order of the schema. */
void attest_snp_appraise(const struct snp_report *r, const struct snp_ref *ref,
			 struct snp_appraisal *ret);

/* The ARK's CRL (DER or PEM) against a chain: issued by trusted_ark (name and RSASSA-PSS
 * signature), not past its nextUpdate, and neither the ASK's nor the leaf's serial listed
 * (leaf may be NULL). 1 holds (v->ok, v->reason saying what was checked), 0 refused
 * (v->reason names the revoked certificate or the fault), negative errno on internal
 * errors. */
int attest_snp_crl_check(const uint8_t *crl, size_t len, X509 *trusted_ark, X509 *ask,
			 X509 *leaf, struct attest_verdict *v);

/* The certificate table an extended report carries (SNP_GET_EXT_REPORT's certs buffer; GHCB
 * spec, "SNP Extended Guest Request"): 24-byte entries {GUID, u32 offset, u32 length} ending
 * with an all-zero entry, offsets from the start of the buffer. GUIDs in RFC 4122 byte order,
 * as AMD's sev-guest tool writes them (uuid_parse). Entries of other GUIDs are skipped. */
enum snp_cert_kind { SNP_CERT_VCEK, SNP_CERT_VLEK, SNP_CERT_ASK, SNP_CERT_ARK, SNP_CERT_CRL,
		     SNP_CERT_KINDS };

struct snp_cert_table {
	bool has[SNP_CERT_KINDS];
	uint32_t offset[SNP_CERT_KINDS], length[SNP_CERT_KINDS];
	size_t n_entries; /* all entries before the terminator, known or not */
};

/* 0, or -EBADMSG with v->reason (no terminator, an entry outside the buffer or overlapping
 * the table, a kind given twice, an empty entry). */
int attest_snp_cert_table_parse(const uint8_t *buf, size_t len, struct snp_cert_table *ret,
				struct attest_verdict *v);
const char *attest_snp_cert_kind_name(enum snp_cert_kind k);
