/* PEK_CERT_IMPORT (SEV API §5.8): the platform owner hands back the PEK CSR signed by its OCA,
 * plus the OCA certificate. Checked as AMD-ASPFW sev_mcmd_pek_cert_import does: exact lengths,
 * the OCA self-signed, the PEK signed by that OCA (both by sev_cert_validate, modelled below in
 * its order, with its statuses) and carrying exactly this platform's PEK (its body unchanged),
 * then the CEK signature is carried over, the owner flag set, a new PDH made and everything
 * stored. Trusts nothing in the two certificates. What sevadm and sevd check on top (the
 * stricter attest_sev_cert_parse) is theirs, not firmware's. */
#include <string.h>

#include "common/ossl.h"
#include "psp/emu/firmware.h"

/* AMD-ASPFW sev_cert.c pubkey_is_valid: a known usage, a known algorithm, a key that reads
 * as that algorithm's (here: as attest_sev_cert_pubkey reads it). Nothing ties the algorithm
 * to the usage. The key, when wanted, goes to *ret. */
static bool fw_pubkey_valid(const struct sev_cert *c, EVP_PKEY **ret)
{
	EVP_PKEY *k = NULL;

	switch (c->pubkey_usage) {
	case SEV_USAGE_ARK: case SEV_USAGE_ASK: case SEV_USAGE_OCA:
	case SEV_USAGE_PEK: case SEV_USAGE_PDH: case SEV_USAGE_CEK:
		break;
	default:
		return false;
	}
	switch (c->pubkey_algo) {
	case SEV_ALGO_RSA_SHA256: case SEV_ALGO_RSA_SHA384: case SEV_ALGO_ECDSA_SHA256:
	case SEV_ALGO_ECDH_SHA256: case SEV_ALGO_ECDSA_SHA384: case SEV_ALGO_ECDH_SHA384:
		break;
	default:
		return false;
	}
	if (attest_sev_cert_pubkey(c, &k) < 0)
		return false;
	if (ret)
		*ret = k;
	else
		EVP_PKEY_free(k);
	return true;
}

/* One signature slot under the signer's key: the slot alone in a copy (the signature covers
 * [0, 0x414), not the other slot). BAD_SIGNATURE when it does not verify. */
static int fw_slot_verify(const struct sev_cert *c, int i, EVP_PKEY *key)
{
	struct sev_cert one = *c;
	int v;

	memset(&one.sig[1 - i], 0, sizeof(one.sig[1 - i]));
	one.sig[1 - i].usage = SEV_USAGE_NONE;
	v = attest_sev_cert_verify(&one, c->sig[i].usage, key, NULL);
	return v == 1 ? SEV_STATUS_SUCCESS : SEV_STATUS_BAD_SIGNATURE;
}

/* sev_cert_validate_sig: every slot is looked at; one whose algorithm and usage are not
 * both set or both empty is BAD_SIGNATURE at once; one made by the signer's (algorithm,
 * usage) is verified, and the last such slot decides; none such: INVALID_CERTIFICATE; an
 * ECDH signer cannot sign: UNSUPPORTED. */
static int fw_validate_sig(const struct sev_cert *c, const struct sev_cert *signer, EVP_PKEY *key)
{
	int st = SEV_STATUS_INVALID_CERTIFICATE;

	for (int i = 0; i < 2; i++) {
		const struct sev_cert_sig *s = &c->sig[i];

		if ((s->algo == SEV_ALGO_INVALID) != (s->usage == SEV_USAGE_NONE))
			return SEV_STATUS_BAD_SIGNATURE;
		if (s->algo != signer->pubkey_algo || s->usage != signer->pubkey_usage)
			continue;
		if (s->algo == SEV_ALGO_ECDH_SHA256 || s->algo == SEV_ALGO_ECDH_SHA384)
			return SEV_STATUS_UNSUPPORTED;
		st = fw_slot_verify(c, i, key);
	}
	return st;
}

/* AMD-ASPFW sev_cert.c sev_cert_validate, in its order: the signer's key, the signature,
 * the body (version 1, a valid key), then only that the usages fit each other (a PEK signed
 * by an OCA or the CEK, an OCA by itself...). It does not ask which usage the caller
 * expected: PEK_CERT_IMPORT's OCA is whatever validates as self-signed (only an OCA can),
 * its PEK whatever the OCA signed (the body compare pins it to this platform's PEK). */
static int fw_cert_validate(const struct sev_cert *c, const struct sev_cert *signer)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	uint32_t su = signer->pubkey_usage;
	int st;

	if (!fw_pubkey_valid(signer, &key))
		return SEV_STATUS_INVALID_CERTIFICATE;
	st = fw_validate_sig(c, signer, key);
	if (st)
		return st;
	if (c->version != 1 || !fw_pubkey_valid(c, NULL))
		return SEV_STATUS_INVALID_CERTIFICATE;
	switch (c->pubkey_usage) {
	case SEV_USAGE_PDH: st = su == SEV_USAGE_PEK; break;
	case SEV_USAGE_PEK: st = su == SEV_USAGE_OCA || su == SEV_USAGE_CEK; break;
	case SEV_USAGE_OCA: st = su == SEV_USAGE_OCA; break;
	case SEV_USAGE_CEK: st = su == SEV_USAGE_ASK; break;
	default: st = 0;
	}
	return st ? SEV_STATUS_SUCCESS : SEV_STATUS_INVALID_CERTIFICATE;
}

/* The CEK's signature of our PEK goes into the first empty slot of the owner's PEK
 * (sev_cert_set_sig: usage INVALID = empty); none empty: INVALID_CERTIFICATE. */
static int carry_cek_sig(const struct sev_cert *ours, struct sev_cert *pek)
{
	const struct sev_cert_sig *cek_sig = NULL;

	if (ours->sig[0].usage == SEV_USAGE_CEK) /* sev_mcmd_pek_cert_import: sig1, then sig2 */
		cek_sig = &ours->sig[0];
	else if (ours->sig[1].usage == SEV_USAGE_CEK)
		cek_sig = &ours->sig[1];
	if (!cek_sig)
		return SEV_STATUS_INVALID_CERTIFICATE;
	for (int i = 0; i < 2; i++)
		if (pek->sig[i].usage == SEV_USAGE_NONE) {
			pek->sig[i] = *cek_sig;
			return SEV_STATUS_SUCCESS;
		}
	return SEV_STATUS_INVALID_CERTIFICATE;
}

static int commit_import(struct emu_fw *fw, const struct sev_cert *oca,
			 const struct sev_cert *pek)
{
	struct emu_owner neu;

	emu_owner_copy(&neu, &fw->nv.owner);
	EVP_PKEY_free(neu.oca_key);
	neu.oca_key = NULL; /* the owner keeps its OCA key */
	neu.oca = *oca;
	neu.pek = *pek;
	neu.ext_owned = true;
	if (emu_owner_gen_pdh(&neu, fw->cfg.api_major, fw->cfg.api_minor) < 0) {
		emu_owner_clear(&neu);
		return SEV_STATUS_HWERROR_PLATFORM;
	}
	return emu_fw_commit_owner(fw, &neu);
}

int emu_pek_cert_import(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_pek_cert_import *b = buf;
	struct sev_cert oca, pek;
	int st;

	if (fw->nv.owner.ext_owned)
		return SEV_STATUS_ALREADY_OWNED;
	if (b->pek_cert_len != SEV_CERT_SIZE || b->oca_cert_len != SEV_CERT_SIZE)
		return SEV_STATUS_INVALID_LEN;
	st = emu_mem_read(fw->mem, b->pek_cert_address, &pek, sizeof(pek));
	if (!st)
		st = emu_mem_read(fw->mem, b->oca_cert_address, &oca, sizeof(oca));
	if (!st)
		st = fw_cert_validate(&oca, &oca);
	if (!st)
		st = fw_cert_validate(&pek, &oca);
	if (st)
		return st;
	/* The PEK must be this platform's, unaltered: the body is what the CSR carried. */
	if (memcmp(&pek, &fw->nv.owner.pek, SEV_CERT_SIGNED_LEN) != 0)
		return SEV_STATUS_INVALID_CERTIFICATE;
	st = carry_cek_sig(&fw->nv.owner.pek, &pek);
	if (st)
		return st;
	return commit_import(fw, &oca, &pek);
}
