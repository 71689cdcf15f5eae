/* The sending side of migration in the emulated SEV firmware (SEV API §6.11-§6.15):
 * SEND_START, SEND_UPDATE_DATA, SEND_UPDATE_VMSA, SEND_FINISH, SEND_CANCEL, and the transport
 * packet both ends use. Checks and statuses in the order of AMD-ASPFW sev_mcmd.c
 * (sev_mcmd_send_start, validate_platform, validate_domain, sev_mcmd_send_update,
 * sev_mcmd_send_finish/cancel); the channel is sev_channel.c's sev_channel_open_client, built
 * from attest/session.h; the packet formula is in psp/sev-abi.h (struct sev_cmd_transfer).
 * Trusts no byte of the command buffers or client memory; TEK/TIK live in the guest context
 * (secret memory) from SEND_START to SEND_FINISH/CANCEL and are never logged.
 *
 * One deliberate difference: the emulated firmware has no fused AMD root key, so with policy
 * SEV the target's ARK must be self-signed and sign the ASK (every link is checked), but which
 * ARK it is is the host's business (sevd verifies the chain to its configured roots first). */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "attest/amd-cert.h"
#include "attest/kdf.h"
#include "attest/measurement.h"
#include "attest/sev-cert.h"
#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"
#include "psp/emu/guest.h"

#define ALIGNED16(x) (((x)&15u) == 0)

/* ---- the transport packet ---- */

static int packet_mac(const struct attest_tk *tk, const struct sev_packet_header *hdr,
		      const uint8_t *cipher, size_t len, uint8_t mac[32])
{
	uint8_t ctx = SEV_CHANNEL_CTX_DATA, flags[4], glen[4], tlen[4];
	struct attest_part parts[] = {
	    {&ctx, 1}, {flags, 4}, {hdr->iv, 16}, {glen, 4}, {tlen, 4}, {cipher, len},
	};

	put_le32(flags, hdr->flags);
	put_le32(glen, (uint32_t)len); /* uncompressed size = trans size: no compression */
	put_le32(tlen, (uint32_t)len);
	return attest_hmac_sha256(tk->tik, sizeof(tk->tik), parts, ELEMENTSOF(parts), mac);
}

int emu_packet_seal(const struct attest_tk *tk, const uint8_t *plain, size_t len, uint8_t *out,
		    struct sev_packet_header *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	if (RAND_bytes(hdr->iv, sizeof(hdr->iv)) != 1 ||
	    attest_aes128_ctr(tk->tek, hdr->iv, plain, len, out) < 0 ||
	    packet_mac(tk, hdr, out, len, hdr->mac) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	return SEV_STATUS_SUCCESS;
}

int emu_packet_open(const struct attest_tk *tk, const struct sev_packet_header *hdr,
		    const uint8_t *cipher, size_t len, uint8_t *out)
{
	uint8_t mac[32];

	if (packet_mac(tk, hdr, cipher, len, mac) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (CRYPTO_memcmp(mac, hdr->mac, sizeof(mac)) != 0)
		return SEV_STATUS_BAD_MEASUREMENT; /* aesctr_hmac256_decrypt: nothing decrypted */
	if (attest_aes128_ctr(tk->tek, hdr->iv, cipher, len, out) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	return SEV_STATUS_SUCCESS;
}

/* ---- SEND_START ---- */

struct send_certs {
	struct sev_cert pdh;
	struct sev_cert chain[3]; /* PEK ‖ OCA ‖ CEK */
};

/* The target's certificates, read once (lengths first, as validate_platform/validate_domain
 * check them before copying). */
static int read_target_certs(struct emu_fw *fw, const struct sev_cmd_send_start *b,
			     struct send_certs *c)
{
	int st;

	if (b->plat_certs_len != sizeof(c->chain) || b->pdh_cert_len != sizeof(c->pdh))
		return SEV_STATUS_INVALID_LEN;
	st = emu_mem_read(fw->mem, b->plat_certs_address, c->chain, sizeof(c->chain));
	if (!st)
		st = emu_mem_read(fw->mem, b->pdh_cert_address, &c->pdh, sizeof(c->pdh));
	return st;
}

/* signed_cert is signed by signer (a SEV cert of usage signer_usage): INVALID_CERTIFICATE
 * otherwise, as sev_cert_validate answers. */
static int sev_signed_by(const struct sev_cert *signed_cert, const struct sev_cert *signer,
			 uint32_t signer_usage)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;

	if (signer->pubkey_usage != signer_usage || attest_sev_cert_pubkey(signer, &key) < 0)
		return SEV_STATUS_INVALID_CERTIFICATE;
	return attest_sev_cert_verify(signed_cert, signer_usage, key, NULL) == 1
		       ? SEV_STATUS_SUCCESS
		       : SEV_STATUS_INVALID_CERTIFICATE;
}

/* validate_platform: ASK ‖ ARK, then ARK (self), ASK by ARK, CEK by ASK, PEK by CEK, PDH by
 * PEK; then the target's PEK API version against the policy minimum (POLICY_FAILURE). */
static int validate_platform(struct emu_fw *fw, const struct sev_cmd_send_start *b,
			     const struct send_certs *c, uint32_t policy)
{
	_cleanup_free_ uint8_t *amd = NULL;
	struct amd_cert ask, ark;
	size_t used = 0, used2 = 0;
	int st;

	if (b->amd_certs_len == 0 || b->amd_certs_len > SEV_FW_BLOB_MAX_SIZE)
		return SEV_STATUS_INVALID_LEN;
	amd = malloc(b->amd_certs_len);
	if (!amd)
		return SEV_STATUS_HWERROR_PLATFORM;
	st = emu_mem_read(fw->mem, b->amd_certs_address, amd, b->amd_certs_len);
	if (st)
		return st;
	if (attest_amd_cert_parse(amd, b->amd_certs_len, &ask, &used, NULL) < 0 ||
	    attest_amd_cert_parse(amd + used, b->amd_certs_len - used, &ark, &used2, NULL) < 0 ||
	    attest_amd_cert_verify(&ark, &ark, NULL) != 1 ||
	    attest_amd_cert_verify(&ask, &ark, NULL) != 1 ||
	    attest_amd_verify_cek(&c->chain[2], &ask, NULL) != 1)
		return SEV_STATUS_INVALID_CERTIFICATE;
	st = sev_signed_by(&c->chain[0], &c->chain[2], SEV_USAGE_CEK);
	if (!st)
		st = sev_signed_by(&c->pdh, &c->chain[0], SEV_USAGE_PEK);
	if (st)
		return st;
	if (!attest_api_at_least(c->chain[0].api_major, c->chain[0].api_minor,
				 SEV_POLICY_API_MAJOR(policy), SEV_POLICY_API_MINOR(policy)))
		return SEV_STATUS_POLICY_FAILURE;
	return SEV_STATUS_SUCCESS;
}

/* validate_domain: OCA self-signed, PEK by OCA, PDH by PEK, and the target's OCA is this
 * platform's own (POLICY_FAILURE otherwise: the same owner domain). */
static int validate_domain(struct emu_fw *fw, const struct send_certs *c)
{
	int st = sev_signed_by(&c->chain[1], &c->chain[1], SEV_USAGE_OCA);

	if (!st)
		st = sev_signed_by(&c->chain[0], &c->chain[1], SEV_USAGE_OCA);
	if (!st)
		st = sev_signed_by(&c->pdh, &c->chain[0], SEV_USAGE_PEK);
	if (st)
		return st;
	if (memcmp(&c->chain[1], &fw->nv.owner.oca, sizeof(c->chain[1])) != 0)
		return SEV_STATUS_POLICY_FAILURE;
	return SEV_STATUS_SUCCESS;
}

/* sev_channel_open_client: the target's PDH must be a P-384 ECDH PDH key
 * (INVALID_CERTIFICATE); fresh TEK/TIK/nonce/IV; the blob LAUNCH_START's format. */
static int open_client(struct emu_fw *fw, const struct sev_cert *pdh, uint32_t policy,
		       struct attest_tk *tk, struct sev_session_blob *blob)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *peer = NULL;
	struct {
		uint8_t z[ATTEST_ECDH_Z_SIZE];
		struct attest_session_keys keys;
	} *k = NULL;
	uint8_t nonce[ATTEST_NONCE_SIZE], iv[16];
	int st = SEV_STATUS_HWERROR_PLATFORM;

	if (pdh->pubkey_usage != SEV_USAGE_PDH ||
	    (pdh->pubkey_algo != SEV_ALGO_ECDH_SHA256 && pdh->pubkey_algo != SEV_ALGO_ECDH_SHA384) ||
	    get_le32(pdh->pubkey) != SEV_ECC_CURVE_P384 || attest_sev_cert_pubkey(pdh, &peer) < 0)
		return SEV_STATUS_INVALID_CERTIFICATE;
	if (!fw->nv.owner.pdh_key)
		return SEV_STATUS_HWERROR_PLATFORM;
	k = secret_alloc(sizeof(*k));
	if (!k)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (RAND_priv_bytes((uint8_t *)tk, sizeof(*tk)) == 1 &&
	    RAND_bytes(nonce, sizeof(nonce)) == 1 && RAND_bytes(iv, sizeof(iv)) == 1 &&
	    attest_ecdh_z(fw->nv.owner.pdh_key, peer, k->z) >= 0 &&
	    attest_session_keys_derive(k->z, sizeof(k->z), nonce, &k->keys) >= 0 &&
	    attest_session_wrap(&k->keys, tk, policy, nonce, iv, blob) >= 0)
		st = SEV_STATUS_SUCCESS;
	secret_free(k, sizeof(*k));
	if (st)
		OPENSSL_cleanse(tk, sizeof(*tk));
	return st;
}

/* RUNNING → SUPDATE. Order of sev_mcmd_send_start: handle, session length (answered with the
 * length), state, NOSEND, SEV (platform chain, API), DOMAIN (owner domain), the PDH, the
 * channel; the guest's policy is written back to the command buffer. */
int emu_cmd_send_start(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_send_start *b = buf;
	struct emu_guest *g = emu_guest_find(fw, b->handle);
	struct sev_session_blob blob;
	struct send_certs *c = NULL;
	struct attest_tk *tk = NULL;
	bool have_certs = false;
	int st;

	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (b->session_len != sizeof(blob)) {
		b->session_len = sizeof(blob);
		return SEV_STATUS_INVALID_LEN;
	}
	if (g->state != SEV_GSTATE_RUNNING)
		return SEV_STATUS_INVALID_GUEST_STATE;
	if (g->policy & SEV_POLICY_NOSEND)
		return SEV_STATUS_POLICY_FAILURE;
	c = malloc(sizeof(*c));
	tk = secret_alloc(sizeof(*tk));
	st = c && tk ? SEV_STATUS_SUCCESS : SEV_STATUS_HWERROR_PLATFORM;
	if (!st && (g->policy & (SEV_POLICY_SEV | SEV_POLICY_DOMAIN))) {
		st = read_target_certs(fw, b, c);
		have_certs = !st;
	}
	if (!st && (g->policy & SEV_POLICY_SEV))
		st = validate_platform(fw, b, c, g->policy);
	if (!st && (g->policy & SEV_POLICY_DOMAIN))
		st = validate_domain(fw, c);
	if (!st && !have_certs) {
		if (b->pdh_cert_len != sizeof(c->pdh))
			st = SEV_STATUS_INVALID_LEN;
		else
			st = emu_mem_read(fw->mem, b->pdh_cert_address, &c->pdh, sizeof(c->pdh));
	}
	if (!st)
		st = open_client(fw, &c->pdh, g->policy, tk, &blob);
	if (!st)
		st = emu_mem_write(fw->mem, b->session_address, &blob, sizeof(blob));
	if (!st) {
		b->policy = g->policy;
		g->tk = *tk;
		g->state = SEV_GSTATE_SUPDATE;
	}
	free(c);
	secret_free(tk, sizeof(*tk));
	return st;
}

/* ---- SEND_UPDATE_DATA / SEND_UPDATE_VMSA ---- */

/* sev_mcmd_send_update: header size (answered with the size), handle, SUPDATE, ES for a VMSA,
 * an active or pending ASID, lengths, alignment; then the guest's plaintext is sealed. */
static int send_update(struct emu_fw *fw, struct sev_cmd_transfer *b, bool vmsa)
{
	struct emu_guest *g;
	struct sev_packet_header hdr;
	uint8_t *plain = NULL, cipher[SEV_PACKET_MAX_LEN];
	int st;

	if (b->hdr_len < sizeof(hdr)) {
		b->hdr_len = sizeof(hdr);
		return SEV_STATUS_INVALID_LEN;
	}
	g = emu_guest_find(fw, b->handle);
	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (g->state != SEV_GSTATE_SUPDATE)
		return SEV_STATUS_INVALID_GUEST_STATE;
	if (vmsa && !(g->policy & SEV_POLICY_ES))
		return SEV_STATUS_UNSUPPORTED;
	if (!g->asid || (!g->pending && !g->active))
		return SEV_STATUS_INACTIVE;
	if (b->guest_len == 0 || b->guest_len > SEV_PACKET_MAX_LEN || !ALIGNED16(b->guest_len) ||
	    b->trans_len == 0 || b->trans_len < b->guest_len)
		return SEV_STATUS_INVALID_LEN;
	if (!ALIGNED16(b->guest_address))
		return SEV_STATUS_INVALID_ADDRESS;
	if (vmsa && b->guest_len != EMU_VMSA_SIZE)
		return SEV_STATUS_INVALID_PARAM; /* sev_es_validate_vmsa fails: INVALID_PARAM */
	plain = emu_guests_packet(fw);
	if (!plain)
		return SEV_STATUS_HWERROR_PLATFORM;
	st = emu_guest_mem_bind(fw, g, b->guest_address, b->guest_len);
	if (!st)
		st = emu_guest_mem_get(fw, g, b->guest_address, plain, b->guest_len);
	if (!st)
		st = emu_packet_seal(&g->tk, plain, b->guest_len, cipher, &hdr);
	OPENSSL_cleanse(plain, b->guest_len);
	if (!st)
		st = emu_mem_write(fw->mem, b->trans_address, cipher, b->guest_len);
	if (!st)
		st = emu_mem_write(fw->mem, b->hdr_address, &hdr, sizeof(hdr));
	b->hdr_len = sizeof(hdr);
	return st;
}

int emu_cmd_send_update_data(struct emu_fw *fw, void *buf)
{
	return send_update(fw, buf, false);
}

int emu_cmd_send_update_vmsa(struct emu_fw *fw, void *buf)
{
	return send_update(fw, buf, true);
}

/* ---- SEND_FINISH / SEND_CANCEL ---- */

/* Both close the channel (sev_channel_close); FINISH → SENT (the guest may not run here
 * again: ACTIVATE answers INVALID_GUEST_STATE), CANCEL → RUNNING (it keeps running). */
static int send_end(struct emu_fw *fw, void *buf, int next)
{
	struct sev_cmd_handle *b = buf;
	struct emu_guest *g = emu_guest_find(fw, b->handle);

	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (g->state != SEV_GSTATE_SUPDATE)
		return SEV_STATUS_INVALID_GUEST_STATE;
	OPENSSL_cleanse(&g->tk, sizeof(g->tk));
	g->state = next;
	return SEV_STATUS_SUCCESS;
}

int emu_cmd_send_finish(struct emu_fw *fw, void *buf)
{
	return send_end(fw, buf, SEV_GSTATE_SENT);
}

int emu_cmd_send_cancel(struct emu_fw *fw, void *buf)
{
	return send_end(fw, buf, SEV_GSTATE_RUNNING);
}
