/* PEK_CERT_IMPORT (SEV API §5.8): the platform owner hands back the PEK CSR signed by its OCA,
 * plus the OCA certificate. Checked as AMD-ASPFW sev_mcmd_pek_cert_import does: exact lengths,
 * the OCA self-signed, the PEK signed by that OCA and carrying exactly this platform's PEK
 * (its body unchanged), then the CEK signature is carried over, the owner flag set, a new PDH
 * made and everything stored. Trusts nothing in the two certificates. */
#include <string.h>

#include "common/ossl.h"
#include "psp/emu/firmware.h"

/* Parse one certificate of the expected usage and check that signer_key signed it. */
static int check_cert(const uint8_t *raw, uint32_t usage, uint32_t signer_usage,
		      EVP_PKEY *signer_key, struct sev_cert *ret)
{
	const char *why = NULL;
	int v;

	if (attest_sev_cert_parse(raw, SEV_CERT_SIZE, ret, &why) < 0 ||
	    ret->pubkey_usage != usage)
		return SEV_STATUS_INVALID_CERTIFICATE;
	if (!signer_key)
		return SEV_STATUS_SUCCESS;
	v = attest_sev_cert_verify(ret, signer_usage, signer_key, &why);
	if (v < 0)
		return SEV_STATUS_INVALID_CERTIFICATE;
	return v == 1 ? SEV_STATUS_SUCCESS : SEV_STATUS_BAD_SIGNATURE;
}

static int check_oca(const uint8_t *raw, struct sev_cert *ret, EVP_PKEY **ret_key)
{
	int st = check_cert(raw, SEV_USAGE_OCA, 0, NULL, ret);

	if (st)
		return st;
	if (attest_sev_cert_pubkey(ret, ret_key) < 0)
		return SEV_STATUS_INVALID_CERTIFICATE;
	return check_cert(raw, SEV_USAGE_OCA, SEV_USAGE_OCA, *ret_key, ret);
}

/* Put the CEK's signature of our PEK into the slot the owner left free. */
static int carry_cek_sig(const struct sev_cert *ours, struct sev_cert *pek)
{
	const struct sev_cert_sig *cek_sig = NULL;

	for (int i = 0; i < 2; i++)
		if (ours->sig[i].usage == SEV_USAGE_CEK)
			cek_sig = &ours->sig[i];
	if (!cek_sig)
		return SEV_STATUS_INVALID_CERTIFICATE;
	for (int i = 0; i < 2; i++)
		if (pek->sig[i].usage != SEV_USAGE_OCA) {
			pek->sig[i] = *cek_sig;
			return SEV_STATUS_SUCCESS;
		}
	return SEV_STATUS_INVALID_CERTIFICATE; /* both slots claim the OCA */
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
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *oca_key = NULL;
	uint8_t pek_raw[SEV_CERT_SIZE], oca_raw[SEV_CERT_SIZE];
	struct sev_cert oca, pek;
	int st;

	if (fw->nv.owner.ext_owned)
		return SEV_STATUS_ALREADY_OWNED;
	if (b->pek_cert_len != SEV_CERT_SIZE || b->oca_cert_len != SEV_CERT_SIZE)
		return SEV_STATUS_INVALID_LEN;
	st = emu_mem_read(fw->mem, b->pek_cert_address, pek_raw, sizeof(pek_raw));
	if (!st)
		st = emu_mem_read(fw->mem, b->oca_cert_address, oca_raw, sizeof(oca_raw));
	if (!st)
		st = check_oca(oca_raw, &oca, &oca_key);
	if (!st)
		st = check_cert(pek_raw, SEV_USAGE_PEK, SEV_USAGE_OCA, oca_key, &pek);
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
