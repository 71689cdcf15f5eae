/* SEV-SNP attestation report: decoding from fixed offsets (SNP ABI 56860, ATTESTATION_REPORT;
 * SEV-FACTS §9), signature verification (ECDSA P-384, SHA-384 over [0, 0x2A0), r and s stored
 * as 72-byte little-endian numbers) and renderings. Trusts nothing in the buffer: the size is
 * checked before any field is read, and every field is a fixed-width copy. */
#include <ctype.h>
#include <errno.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

#include "attest/snp-report.h"
#include "common/ossl.h"
#include "common/util.h"

/* Field offsets (ABI 56860 table 23 "ATTESTATION_REPORT Structure"). */
enum {
	OFF_VERSION = 0x00,
	OFF_GUEST_SVN = 0x04,
	OFF_POLICY = 0x08,
	OFF_FAMILY_ID = 0x10,
	OFF_IMAGE_ID = 0x20,
	OFF_VMPL = 0x30,
	OFF_SIG_ALGO = 0x34,
	OFF_CURRENT_TCB = 0x38,
	OFF_PLAT_INFO = 0x40,
	OFF_KEY_INFO = 0x48,
	OFF_REPORT_DATA = 0x50,
	OFF_MEASUREMENT = 0x90,
	OFF_HOST_DATA = 0xC0,
	OFF_ID_KEY_DIGEST = 0xE0,
	OFF_AUTHOR_KEY_DIGEST = 0x110,
	OFF_REPORT_ID = 0x140,
	OFF_REPORT_ID_MA = 0x160,
	OFF_REPORTED_TCB = 0x180,
	OFF_CPUID_FAM = 0x188,
	OFF_CPUID_MOD = 0x189,
	OFF_CPUID_STEP = 0x18A,
	OFF_CHIP_ID = 0x1A0,
	OFF_COMMITTED_TCB = 0x1E0,
	OFF_CURRENT_VER = 0x1E8, /* build, minor, major, reserved */
	OFF_COMMITTED_VER = 0x1EC,
	OFF_LAUNCH_TCB = 0x1F0,
	OFF_LAUNCH_MIT = 0x1F8, /* version >= 5 */
	OFF_CURRENT_MIT = 0x200,
	OFF_SIG_R = 0x2A0,
	OFF_SIG_S = 0x2E8,
};

static const char *const gen_names[] = {
	[SNP_GEN_UNKNOWN] = "unknown",
	[SNP_GEN_MILAN] = "Milan",
	[SNP_GEN_GENOA] = "Genoa",
	[SNP_GEN_TURIN] = "Turin",
};

const char *attest_snp_gen_name(enum snp_gen gen)
{
	if ((size_t)gen >= ELEMENTSOF(gen_names))
		return "unknown";
	return gen_names[gen];
}

enum snp_gen attest_snp_gen_from_name(const char *name)
{
	if (!name)
		return SNP_GEN_UNKNOWN;
	for (size_t i = SNP_GEN_MILAN; i < ELEMENTSOF(gen_names); i++)
		if (strcasecmp(name, gen_names[i]) == 0)
			return (enum snp_gen)i;
	return SNP_GEN_UNKNOWN;
}

/* Family 19h models 0-Fh are Milan, 10h-1Fh and A0h-AFh Genoa (incl. Bergamo/Siena);
 * family 1Ah models 0-11h Turin (the mapping virtee/sev uses for KDS product names). */
enum snp_gen attest_snp_gen_from_cpuid(uint8_t family, uint8_t model)
{
	if (family == 0x19 && model <= 0x0F)
		return SNP_GEN_MILAN;
	if (family == 0x19 && ((model >= 0x10 && model <= 0x1F) || (model >= 0xA0 && model <= 0xAF)))
		return SNP_GEN_GENOA;
	if (family == 0x1A && model <= 0x11)
		return SNP_GEN_TURIN;
	return SNP_GEN_UNKNOWN;
}

void attest_snp_tcb_decode(uint64_t raw, enum snp_gen gen, struct snp_tcb *ret)
{
	uint8_t b[8];

	put_le64(b, raw);
	*ret = (struct snp_tcb){ .raw = raw, .microcode = b[7] };
	if (gen == SNP_GEN_TURIN) {
		ret->has_fmc = true;
		ret->fmc = b[0];
		ret->bootloader = b[1];
		ret->tee = b[2];
		ret->snp = b[3];
	} else {
		ret->bootloader = b[0];
		ret->tee = b[1];
		ret->snp = b[6];
	}
}

/* The generation: the CPUID fields win when present (version >= 3); a caller's hint that
 * contradicts them is an error, because it would decode every TCB with the wrong layout. */
static int report_gen(const uint8_t *b, uint32_t version, enum snp_gen hint, enum snp_gen *ret,
		      struct attest_verdict *v)
{
	enum snp_gen from_cpuid = SNP_GEN_UNKNOWN;

	if (version >= 3)
		from_cpuid = attest_snp_gen_from_cpuid(b[OFF_CPUID_FAM], b[OFF_CPUID_MOD]);
	if (from_cpuid != SNP_GEN_UNKNOWN && hint != SNP_GEN_UNKNOWN && hint != from_cpuid)
		return attest_verdict_reject(v,
					     "the report's CPUID family/model names a different "
					     "product generation than the certificate or option "
					     "given",
					     -EBADMSG);
	*ret = from_cpuid != SNP_GEN_UNKNOWN ? from_cpuid : hint;
	return 0;
}

static void parse_versions(const uint8_t *b, struct snp_report *r)
{
	r->current_build = b[OFF_CURRENT_VER];
	r->current_minor = b[OFF_CURRENT_VER + 1];
	r->current_major = b[OFF_CURRENT_VER + 2];
	r->committed_build = b[OFF_COMMITTED_VER];
	r->committed_minor = b[OFF_COMMITTED_VER + 1];
	r->committed_major = b[OFF_COMMITTED_VER + 2];
}

static void parse_blobs(const uint8_t *b, struct snp_report *r)
{
	memcpy(r->family_id, b + OFF_FAMILY_ID, sizeof r->family_id);
	memcpy(r->image_id, b + OFF_IMAGE_ID, sizeof r->image_id);
	memcpy(r->report_data, b + OFF_REPORT_DATA, sizeof r->report_data);
	memcpy(r->measurement, b + OFF_MEASUREMENT, sizeof r->measurement);
	memcpy(r->host_data, b + OFF_HOST_DATA, sizeof r->host_data);
	memcpy(r->id_key_digest, b + OFF_ID_KEY_DIGEST, sizeof r->id_key_digest);
	memcpy(r->author_key_digest, b + OFF_AUTHOR_KEY_DIGEST, sizeof r->author_key_digest);
	memcpy(r->report_id, b + OFF_REPORT_ID, sizeof r->report_id);
	memcpy(r->report_id_ma, b + OFF_REPORT_ID_MA, sizeof r->report_id_ma);
	memcpy(r->chip_id, b + OFF_CHIP_ID, sizeof r->chip_id);
	memcpy(r->sig_r, b + OFF_SIG_R, sizeof r->sig_r);
	memcpy(r->sig_s, b + OFF_SIG_S, sizeof r->sig_s);
}

int attest_snp_report_parse(const uint8_t *buf, size_t len, enum snp_gen gen_hint,
			    struct snp_report *ret, struct attest_verdict *v)
{
	struct snp_report *r = ret;
	int k;

	if (!buf || len != SNP_REPORT_SIZE)
		return attest_verdict_reject(
		    v, "an SEV-SNP attestation report is exactly 1184 (0x4A0) bytes", -EBADMSG);
	memset(r, 0, sizeof *r);
	memcpy(r->raw, buf, SNP_REPORT_SIZE);
	r->version = get_le32(buf + OFF_VERSION);
	/* Version 1 never shipped in released firmware; 2 is Milan/Genoa's, 3+ add CPUID. */
	if (r->version < 2)
		return attest_verdict_reject(v, "unsupported report version (expected 2 or later)",
					     -EBADMSG);
	k = report_gen(buf, r->version, gen_hint, &r->gen, v);
	if (k < 0)
		return k;
	r->guest_svn = get_le32(buf + OFF_GUEST_SVN);
	r->policy = get_le64(buf + OFF_POLICY);
	r->vmpl = get_le32(buf + OFF_VMPL);
	r->sig_algo = get_le32(buf + OFF_SIG_ALGO);
	r->plat_info = get_le64(buf + OFF_PLAT_INFO);
	r->key_info = get_le32(buf + OFF_KEY_INFO);
	attest_snp_tcb_decode(get_le64(buf + OFF_CURRENT_TCB), r->gen, &r->current_tcb);
	attest_snp_tcb_decode(get_le64(buf + OFF_REPORTED_TCB), r->gen, &r->reported_tcb);
	attest_snp_tcb_decode(get_le64(buf + OFF_COMMITTED_TCB), r->gen, &r->committed_tcb);
	attest_snp_tcb_decode(get_le64(buf + OFF_LAUNCH_TCB), r->gen, &r->launch_tcb);
	if (r->version >= 3) {
		r->has_cpuid = true;
		r->cpuid_fam_id = buf[OFF_CPUID_FAM];
		r->cpuid_mod_id = buf[OFF_CPUID_MOD];
		r->cpuid_step = buf[OFF_CPUID_STEP];
	}
	if (r->version >= 5) {
		r->has_mit_vector = true;
		r->launch_mit_vector = get_le64(buf + OFF_LAUNCH_MIT);
		r->current_mit_vector = get_le64(buf + OFF_CURRENT_MIT);
	}
	parse_versions(buf, r);
	parse_blobs(buf, r);
	return 0;
}

/* Hex text as tools write it (report_milan.hex, snpguest's --hex): whitespace ignored. */
int attest_snp_report_bytes(const uint8_t *buf, size_t len, uint8_t ret_raw[SNP_REPORT_SIZE],
			    struct attest_verdict *v)
{
	size_t n = 0;
	int hi = -1;

	if (len == SNP_REPORT_SIZE) {
		memcpy(ret_raw, buf, SNP_REPORT_SIZE);
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		int d;

		if (isspace(buf[i]))
			continue;
		if (!isxdigit(buf[i]) || n >= SNP_REPORT_SIZE)
			return attest_verdict_reject(
			    v, "neither a 1184-byte binary SEV-SNP report nor its hex text",
			    -EBADMSG);
		d = isdigit(buf[i]) ? buf[i] - '0' : (tolower(buf[i]) - 'a' + 10);
		if (hi < 0) {
			hi = d;
		} else {
			ret_raw[n++] = (uint8_t)(hi << 4 | d);
			hi = -1;
		}
	}
	if (n != SNP_REPORT_SIZE || hi >= 0)
		return attest_verdict_reject(
		    v, "neither a 1184-byte binary SEV-SNP report nor its hex text (wrong length)",
		    -EBADMSG);
	return 0;
}

enum snp_signing_key attest_snp_report_signing_key(const struct snp_report *r)
{
	return (enum snp_signing_key)((r->key_info >> 2) & 0x7);
}

/* ECDSA verification with r and s given little-endian (the firmware's byte order). */
static int ecdsa_p384_verify(EVP_PKEY *key, const uint8_t *data, size_t len,
			     const uint8_t r_le[72], const uint8_t s_le[72])
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	_cleanup_(ECDSA_SIG_freep) ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_lebin2bn(r_le, 72, NULL), *s = BN_lebin2bn(s_le, 72, NULL);
	unsigned char *der = NULL;
	int der_len, ok;

	if (!mctx || !sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
		BN_free(r);
		BN_free(s);
		return -ENOMEM;
	}
	der_len = i2d_ECDSA_SIG(sig, &der);
	if (der_len <= 0)
		return -ENOMEM;
	if (EVP_DigestVerifyInit(mctx, NULL, EVP_sha384(), NULL, key) != 1) {
		OPENSSL_free(der);
		ERR_clear_error();
		return -EIO;
	}
	ok = EVP_DigestVerify(mctx, der, (size_t)der_len, data, len) == 1;
	OPENSSL_free(der);
	ERR_clear_error();
	return ok;
}

static bool key_is_p384(EVP_PKEY *key)
{
	char curve[64];

	if (!EVP_PKEY_is_a(key, "EC"))
		return false;
	if (EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof curve, NULL) != 1)
		return false;
	return strcmp(curve, "secp384r1") == 0 || strcmp(curve, "P-384") == 0;
}

int attest_snp_report_verify(const struct snp_report *r, EVP_PKEY *key, struct attest_verdict *v)
{
	int k;

	if (r->sig_algo != SNP_SIG_ALGO_ECDSA_P384_SHA384)
		return attest_verdict_reject(v,
					     "report signature: unsupported SIGNATURE_ALGO (only "
					     "1, ECDSA P-384 with SHA-384, is defined)",
					     0);
	if (attest_snp_report_signing_key(r) == SNP_KEY_NONE)
		return attest_verdict_reject(v,
					     "report signature: the report says it is not signed "
					     "(KEY_INFO signing key = none)",
					     0);
	if (!key || !key_is_p384(key))
		return attest_verdict_reject(
		    v, "report signature: the certificate's key is not an EC P-384 key", 0);
	k = ecdsa_p384_verify(key, r->raw, SNP_REPORT_SIGNED_LEN, r->sig_r, r->sig_s);
	if (k == 0)
		return attest_verdict_reject(v,
					     "report signature: ECDSA P-384/SHA-384 over bytes "
					     "[0, 0x2A0) does not verify with the VCEK/VLEK key "
					     "(report altered or wrong certificate)",
					     0);
	return k;
}
