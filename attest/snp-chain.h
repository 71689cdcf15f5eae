/* SEV-SNP certificate chain (X.509): ARK (self-signed) → ASK → VCEK or VLEK, every link
 * RSASSA-PSS with SHA-384, MGF1-SHA-384 and salt 48 (AMD "Versioned Chip Endorsement Key"
 * spec 57230; SEV-FACTS §9), the VCEK's TCB and hwID extensions under 1.3.6.1.4.1.3704.1, and
 * the binding of a VCEK to a report (its TCB = the report's REPORTED_TCB, its hwID = the
 * report's CHIP_ID: 64 bytes, or the first 8 on Turin). Pure code: certificates come in as
 * bytes or X509 objects; which ARK is trusted is the caller's decision (a roots directory). */
#pragma once

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/snp-report.h"
#include "attest/verdict.h"

#define SNP_HWID_MAX 64u

/* What a VCEK/VLEK certificate says about itself (its extensions). */
struct snp_vcek_info {
	bool is_vlek;	   /* subject CN is SEV-VLEK */
	enum snp_gen gen;  /* from productName (…1.2), else the issuer's CN "SEV-<Gen>" */
	char product_name[32];
	bool has_bl, has_tee, has_snp, has_ucode, has_fmc;
	uint8_t bl, tee, snp, ucode, fmc; /* blSPL …1.3.1, teeSPL …1.3.2, snpSPL …1.3.3,
					     ucodeSPL …1.3.8, fmcSPL …1.3.9 */
	uint8_t hwid[SNP_HWID_MAX];	  /* …1.4, raw bytes (not DER) */
	size_t hwid_len;		  /* 64; 8 on Turin; 0 when absent (VLEK) */
};

/* Which links of a chain held. Each is 1 (held), 0 (failed) or -1 (not checked). */
struct snp_chain_verdict {
	enum snp_gen gen;
	int ark_self_signed;
	int ask_by_ark;
	int leaf_by_ask;
	struct attest_verdict verdict; /* the first failure: reason names the link and why */
};

/* One certificate in DER or PEM. -EBADMSG with v->reason when it is neither (v may be NULL,
 * as for every function here that takes one). */
int attest_snp_cert_parse(const uint8_t *buf, size_t len, X509 **ret, struct attest_verdict *v);
/* A PEM stack as AMD's KDS serves cert_chain (ASK then ARK; the order is not relied on: the
 * self-signed one is the ARK). Exactly two certificates: -EBADMSG with v->reason otherwise. */
int attest_snp_cert_chain_parse(const uint8_t *buf, size_t len, X509 **ret_ask, X509 **ret_ark,
				struct attest_verdict *v);
/* The generation a certificate belongs to, from its subject CN ("ARK-Milan", "SEV-Genoa"),
 * or for a VCEK from its issuer CN. */
enum snp_gen attest_snp_cert_gen(X509 *cert);

/* One link: cert is signed by issuer with RSASSA-PSS/SHA-384/MGF1-SHA-384/salt 48, the issuer
 * name matches, the issuer key is RSA-4096 and cert is within its validity period.
 * 1 held, 0 failed (v->reason, naming the thing), negative errno on internal errors. */
int attest_snp_verify_link(X509 *cert, X509 *issuer, const char *what, struct attest_verdict *v);
/* The whole chain against a trusted ARK. leaf may be NULL (then ARK → ASK only). Returns 1 when
 * every checked link held, 0 otherwise (ret->verdict.reason says which failed). */
int attest_snp_chain_verify(X509 *trusted_ark, X509 *ask, X509 *leaf,
			    struct snp_chain_verdict *ret);

/* Read a VCEK's or VLEK's extensions. -EBADMSG with v->reason when an extension is malformed. */
int attest_snp_vcek_info(X509 *vcek, struct snp_vcek_info *ret, struct attest_verdict *v);
/* The VCEK fits the report: same generation, TCB extensions equal the REPORTED_TCB (not the
 * current TCB), hwID equal to CHIP_ID. A VLEK has no hwID: *ret_hwid_checked says whether
 * the hwID was compared, so callers can say so. 1 fits, 0 not (why->reason). */
int attest_snp_vcek_check_report(const struct snp_vcek_info *v, const struct snp_report *r,
				 bool *ret_hwid_checked, struct attest_verdict *why);
/* KDS path of the VCEK for this report:
 * /vcek/v1/{Gen}/{hwid hex}?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..(&fmcSPL=.. on Turin),
 * from the REPORTED_TCB and CHIP_ID (the first 8 bytes on Turin). gen overrides r->gen when
 * not UNKNOWN. -EINVAL (with v->reason) when the generation is unknown or the chip id is
 * masked (zero). */
int attest_snp_vcek_kds_path(const struct snp_report *r, enum snp_gen gen, char **ret,
			     struct attest_verdict *v);
