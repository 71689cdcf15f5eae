/* Legacy SEV ATTESTATION reports (see sev-report.h). The report comes from the platform via an
 * untrusted host; only the PEK's signature (and the PEK's own chain, checked elsewhere) makes
 * it worth anything. Signed bytes: [0, 0x34) = mnonce ‖ launch_digest ‖ policy, hashed with
 * SHA-256; signature r ‖ s, 72 bytes little-endian each (sev-tool's known answer agrees). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "attest/sev-report.h"
#include "attest/verdict.h"
#include "common/ossl.h"
#include "common/util.h"

int attest_sev_report_parse(const uint8_t *buf, size_t len, struct sev_attestation_report *ret,
			    struct attest_verdict *v)
{
	struct sev_attestation_report r;

	if (len != SEV_ATTESTATION_REPORT_SIZE)
		return attest_verdict_reject(
		    v, "size is not 208 bytes (0xD0), the size of a SEV attestation report",
		    -EBADMSG);
	memcpy(&r, buf, sizeof(r));
	if (r.sig_usage != SEV_USAGE_PEK)
		return attest_verdict_reject(v, "signature usage is not PEK (0x1002)", -EBADMSG);
	if (r.sig_algo != SEV_ALGO_ECDSA_SHA256 && r.sig_algo != SEV_ALGO_ECDSA_SHA384)
		return attest_verdict_reject(v, "signature algorithm is not ECDSA", -EBADMSG);
	*ret = r;
	return 0;
}

int attest_sev_report_verify(const struct sev_attestation_report *rep, const struct sev_cert *pek,
			     const uint8_t *nonce, const uint8_t *digest,
			     struct attest_verdict *v)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	const EVP_MD *md = attest_sev_algo_md(rep->sig_algo);
	int r;

	if (v)
		*v = (struct attest_verdict){ 0 };
	if (pek->pubkey_usage != SEV_USAGE_PEK)
		return attest_verdict_fail(v, 0,
					   "the certificate given as the PEK is a %s certificate",
					   attest_sev_usage_name(pek->pubkey_usage));
	if (rep->sig_usage != SEV_USAGE_PEK || !md || rep->sig_algo == SEV_ALGO_RSA_SHA256 ||
	    rep->sig_algo == SEV_ALGO_RSA_SHA384)
		return attest_verdict_reject(
		    v, "the report's signature fields do not name a PEK ECDSA signature", 0);
	r = attest_sev_cert_pubkey(pek, &key);
	if (r == -EBADMSG)
		return attest_verdict_reject(v, "the PEK's public key is malformed", 0);
	if (r < 0)
		return r;
	r = attest_ecdsa_verify_le(key, md, (const uint8_t *)rep, SEV_ATTESTATION_SIGNED_LEN,
				   rep->sig_r, rep->sig_s);
	if (r < 0)
		return r;
	if (r == 0)
		return attest_verdict_reject(v,
					     "the report's signature does not verify with the PEK "
					     "(report or PEK altered, or a different platform)",
					     0);
	/* Nonce and digest are public values; plain comparison would do, but stay uniform. */
	if (nonce && CRYPTO_memcmp(nonce, rep->mnonce, sizeof(rep->mnonce)) != 0)
		return attest_verdict_reject(
		    v, "the report's nonce is not the one requested (a replayed report?)", 0);
	if (digest && CRYPTO_memcmp(digest, rep->launch_digest, sizeof(rep->launch_digest)) != 0)
		return attest_verdict_reject(
		    v, "the report's launch digest is not the expected measurement", 0);
	if (v) {
		v->ok = true;
		snprintf(v->reason, sizeof(v->reason), "report signed by the PEK%s%s",
			 nonce ? ", nonce matches" : "", digest ? ", launch digest matches" : "");
	}
	return 1;
}

int attest_sev_report_sign(struct sev_attestation_report *rep, EVP_PKEY *pek_key)
{
	rep->sig_usage = SEV_USAGE_PEK;
	rep->sig_algo = SEV_ALGO_ECDSA_SHA256;
	rep->reserved = 0;
	memset(rep->sig_r, 0, sizeof(rep->sig_r));
	memset(rep->sig_s, 0, sizeof(rep->sig_s));
	return attest_ecdsa_sign_le(pek_key, EVP_sha256(), (const uint8_t *)rep,
				    SEV_ATTESTATION_SIGNED_LEN, rep->sig_r, rep->sig_s);
}
