/* SEV-SNP attestation report (SNP firmware ABI 56860, table "ATTESTATION_REPORT"; SEV-FACTS §9):
 * the 0x4A0-byte structure a guest gets from MSG_REPORT_REQ, decoded field by field, its
 * ECDSA P-384 signature checked against a VCEK/VLEK public key, and rendered for people and
 * for machines. Pure code: bytes in, verdicts out. The report is untrusted input: every
 * field is decoded from fixed offsets of a buffer whose size was checked first. */
#pragma once

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/verdict.h"

#define SNP_REPORT_SIZE 0x4A0u
#define SNP_REPORT_SIGNED_LEN 0x2A0u /* the signature covers bytes [0, 0x2A0) */
#define SNP_SIG_ALGO_ECDSA_P384_SHA384 1u

/* Product generations with SNP. The TCB_VERSION byte layout changed with Turin. */
enum snp_gen {
	SNP_GEN_UNKNOWN = 0,
	SNP_GEN_MILAN,
	SNP_GEN_GENOA,
	SNP_GEN_TURIN,
};

/* Signing key selected by KEY_INFO bits 4:2. */
enum snp_signing_key {
	SNP_KEY_VCEK = 0,
	SNP_KEY_VLEK = 1,
	SNP_KEY_NONE = 7,
};

/* TCB_VERSION, decoded. Milan/Genoa: [bl, tee, 0, 0, 0, 0, snp, ucode];
 * Turin: [fmc, bl, tee, snp, 0, 0, 0, ucode]. */
struct snp_tcb {
	uint64_t raw; /* the u64 as stored (little-endian) */
	bool has_fmc; /* Turin layout */
	uint8_t fmc;
	uint8_t bootloader;
	uint8_t tee;
	uint8_t snp;
	uint8_t microcode;
};

struct snp_report {
	uint8_t raw[SNP_REPORT_SIZE];
	enum snp_gen gen; /* from CPUID (version >= 3), else the caller's hint, else UNKNOWN */
	uint32_t version;
	uint32_t guest_svn;
	uint64_t policy;
	uint8_t family_id[16];
	uint8_t image_id[16];
	uint32_t vmpl;
	uint32_t sig_algo;
	struct snp_tcb current_tcb;
	uint64_t plat_info;
	uint32_t key_info; /* bit 0 author_key_en, bit 1 mask_chip_key, bits 4:2 signing key */
	uint8_t report_data[64];
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint8_t id_key_digest[48];
	uint8_t author_key_digest[48];
	uint8_t report_id[32];
	uint8_t report_id_ma[32];
	struct snp_tcb reported_tcb;
	bool has_cpuid; /* version >= 3 */
	uint8_t cpuid_fam_id;
	uint8_t cpuid_mod_id;
	uint8_t cpuid_step;
	uint8_t chip_id[64];
	struct snp_tcb committed_tcb;
	uint8_t current_build, current_minor, current_major;
	uint8_t committed_build, committed_minor, committed_major;
	struct snp_tcb launch_tcb;
	bool has_mit_vector; /* version >= 5 */
	uint64_t launch_mit_vector;
	uint64_t current_mit_vector;
	uint8_t sig_r[72]; /* little-endian */
	uint8_t sig_s[72];
};

/* Decode a report. gen_hint is used when the report does not name its generation (version 2
 * has no CPUID fields); pass SNP_GEN_UNKNOWN if unknown (then the Milan/Genoa TCB layout is
 * used). A hint contradicting the report's CPUID fields is an error. 0, or -EBADMSG with
 * v->reason when malformed (v may be NULL, as for every function here). */
int attest_snp_report_parse(const uint8_t *buf, size_t len, enum snp_gen gen_hint,
			    struct snp_report *ret, struct attest_verdict *v);
/* Accept a report as raw bytes (0x4A0) or as hex text (whitespace ignored); the raw bytes go
 * into *ret_raw (SNP_REPORT_SIZE). -EBADMSG with v->reason otherwise. */
int attest_snp_report_bytes(const uint8_t *buf, size_t len, uint8_t ret_raw[SNP_REPORT_SIZE],
			    struct attest_verdict *v);

/* Verify the signature with the VCEK/VLEK public key (EC P-384): 1 valid, 0 invalid (with
 * v->reason), negative errno on internal errors. */
int attest_snp_report_verify(const struct snp_report *r, EVP_PKEY *key, struct attest_verdict *v);

enum snp_signing_key attest_snp_report_signing_key(const struct snp_report *r);

/* Renderings: JSON object with every field (hex strings for byte arrays), and a human
 * multi-line text (malloc'd). */
int attest_snp_report_to_json(const struct snp_report *r, json_object **ret);
int attest_snp_report_to_text(const struct snp_report *r, char **ret);
json_object *attest_snp_tcb_to_json(const struct snp_tcb *t);

/* Generation names: "Milan", "Genoa", "Turin" (the KDS path spelling); parsing ignores case. */
const char *attest_snp_gen_name(enum snp_gen gen);
enum snp_gen attest_snp_gen_from_name(const char *name);
/* Generation from CPUID family/model (as in the report, version >= 3). */
enum snp_gen attest_snp_gen_from_cpuid(uint8_t family, uint8_t model);
/* Decode an 8-byte TCB_VERSION in the layout of gen. */
void attest_snp_tcb_decode(uint64_t raw, enum snp_gen gen, struct snp_tcb *ret);
