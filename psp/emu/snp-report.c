/* The emulated SNP firmware's keys and guest messages: the VCEK (derived from the chip seed and
 * a TCB as AMD's firmware derives it), SNP_GUEST_REQUEST with the guest message protocol
 * (AES-256-GCM under the VMPCK, sequence numbers), MSG_REPORT_REQ (a signed attestation
 * report), MSG_KEY_REQ (a derived key), and SNP_LAUNCH_FINISH's ID block checks. Every
 * check in the order of AMD-ASPFW sev_mcmd.c snp_mcmd_guest_request and
 * snp_mcmd_launch_finish; the key derivations as sev_plat.c vcek_hash_derive/key_from_hash.
 * Everything arriving from the guest (the request) or the host (ID block) is untrusted. */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "attest/kdf.h"
#include "attest/session.h"
#include "attest/sev-cert.h"
#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"
#include "psp/emu/snp.h"

#define VCEK_LABEL "sev-versioned-chip-endorsement-key" /* AMD-ASPFW sev_plat.c */
#define VLEK_LABEL "sev-versioned-loaded-attestation-key" /* AMD-ASPFW sev_plat.c */
#define VLEK_WK_LABEL "vlek-wrapping-key"		   /* AMD-ASPFW sev_mcmd.c */
#define KEY_REQ_LABEL "gmsg-keyreq"			   /* AMD-ASPFW sev_rmp.h */
#define HDR_SIZE sizeof(struct sev_snp_msg_hdr)
#define GCM_TAG 16u
#define PLATFORM_SMT_EN 1u /* the modelled host runs SMT */
#define GUEST_FIELD_ALL 0x3full /* policy, image id, family id, measurement, SVN, TCB */
#define GUEST_FIELD_SVN (1ull << 4)
#define GUEST_FIELD_TCB (1ull << 5)
#define ECC_CURVE_P384 2u

DEFINE_TRIVIAL_CLEANUP_FUNC(EC_GROUP *, EC_GROUP_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BN_CTX *, BN_CTX_free)

static int sha384(const void *p, size_t n, uint8_t out[48])
{
	unsigned int len = 48;

	return EVP_Digest(p, n, out, &len, EVP_sha384(), NULL) == 1 ? 0 : -EIO;
}

/* The hash sticks (AMD "Versioned Chip Endorsement Key" algorithm; AMD-ASPFW sev_plat.c
 * recompute_hash_stick, compute_next_stick_base): for each TCB byte i = 0..7 in turn, with
 * SVN v: d = SHA-384^(255 - v)(base_i); base_{i+1} = SHA-384(8 zero bytes ‖ d); stick_i =
 * SHA-384(d). The chip seed is base_0; the VCEK seed is stick_7. A lower SVN hashes further,
 * so a key for an older TCB can be derived from a newer one and never the reverse. */
static int vcek_hash(const uint8_t seed[EMU_SNP_SEED_SIZE], uint64_t tcb, uint8_t out[48])
{
	uint8_t base[48], d[56];
	WIPE_ON_EXIT(base, sizeof(base));
	WIPE_ON_EXIT(d, sizeof(d));

	memcpy(base, seed, sizeof(base));
	for (int i = 0; i < 8; i++) {
		uint8_t v = (uint8_t)(tcb >> (8 * i));

		memcpy(d + 8, base, 48);
		for (int k = 255; k > v; k--)
			if (sha384(d + 8, 48, d + 8) < 0)
				return -EIO;
		memset(d, 0, 8);
		if (i < 7 ? sha384(d, sizeof(d), base) < 0 : sha384(d + 8, 48, out) < 0)
			return -EIO;
	}
	return 0;
}

/* key_from_hash: 56 bytes of SP 800-108 KDF output read as a little-endian number c, then
 * d = c mod (n - 1) + 1 (ecc_keypair_from_extra_bits). */
static int key_from_hash(const uint8_t h[48], const char *label, EVP_PKEY **ret)
{
	_cleanup_(EC_GROUP_freep) EC_GROUP *grp = EC_GROUP_new_by_curve_name(NID_secp384r1);
	_cleanup_(BN_clear_freep) BIGNUM *c = NULL, *d = BN_secure_new();
	_cleanup_(BN_freep) BIGNUM *n1 = NULL;
	_cleanup_(BN_CTX_freep) BN_CTX *ctx = BN_CTX_secure_new();
	uint8_t rdata[56], scalar[48];
	WIPE_ON_EXIT(rdata, sizeof(rdata));
	WIPE_ON_EXIT(scalar, sizeof(scalar));

	if (!grp || !d || !ctx || attest_kdf(h, 48, label, NULL, 0, rdata, sizeof(rdata)) < 0)
		return -EIO;
	c = BN_lebin2bn(rdata, sizeof(rdata), BN_secure_new());
	n1 = BN_dup(EC_GROUP_get0_order(grp));
	if (!c || !n1 || !BN_sub_word(n1, 1) || !BN_mod(d, c, n1, ctx) || !BN_add_word(d, 1) ||
	    BN_bn2binpad(d, scalar, sizeof(scalar)) != (int)sizeof(scalar))
		return -EIO;
	return attest_p384_key_from_scalar(scalar, ret);
}

int emu_snp_vcek(const uint8_t seed[EMU_SNP_SEED_SIZE], uint64_t tcb, EVP_PKEY **ret)
{
	uint8_t h[48];
	WIPE_ON_EXIT(h, sizeof(h));

	if (vcek_hash(seed, tcb, h) < 0)
		return -EIO;
	return key_from_hash(h, VCEK_LABEL, ret);
}

void emu_snp_vlek_wipe(struct emu_snp *s)
{
	OPENSSL_cleanse(s->vlek_sticks, sizeof(s->vlek_sticks));
	EVP_PKEY_free(s->vlek);
	s->vlek = NULL;
}

/* SNP_VLEK_LOAD (AMD-ASPFW snp_mcmd_vlek_load): LENGTH, version 0 and reserved bytes
 * (INVALID_PARAM); the wrapped TCB must be the reported one (BAD_SVN); the wrapping key is the
 * KDF "vlek-wrapping-key" over the VCEK seed of that TCB; a tag that does not verify →
 * BAD_MEASUREMENT. The last stick gives the VLEK (label "sev-versioned-loaded-attestation-key").
 * No SNP state check in firmware. */
int emu_snp_vlek_load(struct emu_fw *fw, void *buf)
{
	struct sev_snp_cmd_vlek_load *b = buf;
	struct emu_snp *s = emu_snp_get(fw);
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *c = NULL;
	struct sev_snp_vlek_wrapped w;
	uint8_t h[48], key[32], sticks[8][48];
	WIPE_ON_EXIT(h, sizeof(h));
	WIPE_ON_EXIT(key, sizeof(key));
	WIPE_ON_EXIT(sticks, sizeof(sticks));
	EVP_PKEY *vlek = NULL;
	int st, len;

	if (!s)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (b->length != sizeof(*b) || b->vlek_wrapped_version != 0 || b->reserved[0] ||
	    b->reserved[1] || b->reserved[2])
		return SEV_STATUS_INVALID_PARAM;
	st = emu_mem_read(fw->mem, b->vlek_wrapped_address, &w, sizeof(w));
	if (st)
		return st;
	if (w.tcb_version != emu_snp_reported_tcb(s))
		return SEV_STATUS_BAD_SVN;
	if (vcek_hash(s->seed, w.tcb_version, h) < 0 ||
	    attest_kdf(h, sizeof(h), VLEK_WK_LABEL, NULL, 0, key, sizeof(key)) < 0 ||
	    !(c = EVP_CIPHER_CTX_new()))
		return SEV_STATUS_HWERROR_PLATFORM;
	if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, w.iv) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &len, (const uint8_t *)&w.tcb_version, 16) != 1 ||
	    EVP_DecryptUpdate(c, &sticks[0][0], &len, w.vlek_wrapped, sizeof(w.vlek_wrapped)) !=
		    1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, w.tag) != 1)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (EVP_DecryptFinal_ex(c, &sticks[0][0] + len, &len) != 1)
		return SEV_STATUS_BAD_MEASUREMENT;
	if (key_from_hash(sticks[7], VLEK_LABEL, &vlek) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	emu_snp_vlek_wipe(s);
	memcpy(s->vlek_sticks, sticks, sizeof(sticks));
	s->vlek = vlek;
	return SEV_STATUS_SUCCESS;
}

/* ---- AES-256-GCM of guest messages ---- */

static void msg_iv(uint64_t seqno, uint8_t iv[12])
{
	memset(iv, 0, 12);
	put_le64(iv, seqno);
}

/* Decrypt the request payload in place: 0, or -EBADMSG when the tag does not verify. */
static int gcm_open(const uint8_t key[32], const struct sev_snp_msg_hdr *h, uint8_t *p, size_t n)
{
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t iv[12], tag[GCM_TAG];
	int len;

	msg_iv(h->msg_seqno, iv);
	memcpy(tag, h->authtag, GCM_TAG);
	if (!c || EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &len, (const uint8_t *)h + SEV_SNP_MSG_AAD_OFFSET,
			      SEV_SNP_MSG_AAD_LEN) != 1 ||
	    EVP_DecryptUpdate(c, p, &len, p, (int)n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG, tag) != 1)
		return -EIO;
	return EVP_DecryptFinal_ex(c, p + len, &len) == 1 ? 0 : -EBADMSG;
}

static int gcm_seal(const uint8_t key[32], struct sev_snp_msg_hdr *h, uint8_t *p, size_t n)
{
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t iv[12];
	int len;

	msg_iv(h->msg_seqno, iv);
	if (!c || EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &len, (const uint8_t *)h + SEV_SNP_MSG_AAD_OFFSET,
			      SEV_SNP_MSG_AAD_LEN) != 1 ||
	    EVP_EncryptUpdate(c, p, &len, p, (int)n) != 1 ||
	    EVP_EncryptFinal_ex(c, p + len, &len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG, h->authtag) != 1)
		return -EIO;
	return 0;
}

/* ---- MSG_REPORT_REQ ---- */

static void report_fill(struct emu_fw *fw, const struct emu_snp_guest *g,
			const struct sev_snp_report_req *q, struct sev_snp_report *r)
{
	const struct emu_snp *s = fw->snp;

	r->version = s->product->report_version;
	if (r->version >= 3) { /* CPUID Fn0000_0001 EAX: extended + base family, model, stepping */
		uint32_t fms = s->product->fms;

		r->cpuid_fam_id = (uint8_t)(((fms >> 20) & 0xff) + ((fms >> 8) & 0xf));
		r->cpuid_mod_id = (uint8_t)(((fms >> 12) & 0xf0) | ((fms >> 4) & 0xf));
		r->cpuid_step = (uint8_t)(fms & 0xf);
	}
	r->guest_svn = g->id_block.guest_svn;
	r->policy = g->policy;
	memcpy(r->family_id, g->id_block.family_id, 16);
	memcpy(r->image_id, g->id_block.image_id, 16);
	r->vmpl = q->vmpl;
	r->sig_algo = 1; /* ECDSA P-384 with SHA-384 */
	r->current_tcb = emu_snp_tcb_pack(&s->current, s->product->turin_tcb);
	r->platform_info = PLATFORM_SMT_EN;
	r->key_info = (g->author_key_en ? 1u : 0u) | (s->mask_chip_key ? 2u : 0u);
	memcpy(r->report_data, q->report_data, sizeof(r->report_data));
	memcpy(r->measurement, g->ld, sizeof(r->measurement));
	memcpy(r->host_data, g->host_data, sizeof(r->host_data));
	memcpy(r->id_key_digest, g->id_key_digest, 48);
	memcpy(r->author_key_digest, g->author_key_digest, 48);
	memcpy(r->report_id, g->report_id, sizeof(r->report_id));
	memset(r->report_id_ma, 0xff, sizeof(r->report_id_ma)); /* no migration agent */
	r->reported_tcb = emu_snp_reported_tcb(s);
	if (!s->mask_chip_id) {
		emu_chip_get_id(&fw->nv.chip, r->chip_id); /* GET_ID's 64 bytes (sev_get_id) */
		if (s->product->turin_tcb) /* Turin's chip id is 8 bytes (its VCEK's hwID) */
			memset(r->chip_id + 8, 0, sizeof(r->chip_id) - 8);
	}
	r->committed_tcb = s->committed_tcb;
	r->current_build = fw->cfg.build;
	r->current_minor = fw->cfg.api_minor;
	r->current_major = fw->cfg.api_major;
	r->committed_build = s->committed_build;
	r->committed_minor = s->committed_minor;
	r->committed_major = s->committed_major;
	r->launch_tcb = g->launch_tcb;
}

/* KEY_SEL: 0 the VLEK when one is loaded, else the VCEK; 1 the VCEK; 2 the VLEK; 3 reserved
 * (AMD-ASPFW snp_mcmd_guest_request, MSG_REPORT_REQ). */
static int report_req(struct emu_fw *fw, const struct emu_snp_guest *g, const uint8_t *req,
		      size_t req_len, uint8_t msg_vmpck, struct sev_snp_report_rsp *rsp)
{
	const struct sev_snp_report_req *q = (const void *)req;
	struct emu_snp *s = fw->snp;
	uint32_t sel = q->key_sel & SEV_SNP_KEY_SEL_MASK;
	struct sev_snp_report *r = &rsp->report;
	uint8_t zero[sizeof(q->reserved)] = { 0 };
	EVP_PKEY *key;

	memset(rsp, 0, sizeof(*rsp));
	rsp->report_size = sizeof(*r);
	if (req_len < sizeof(*q))
		return SEV_STATUS_INVALID_PARAM;
	if (memcmp(q->reserved, zero, sizeof(zero)) || (q->key_sel & ~SEV_SNP_KEY_SEL_MASK))
		return SEV_STATUS_INVALID_PARAM;
	if (sel == 3 || (sel == 2 && !s->vlek) || (sel == 1 && g->vcek_dis) ||
	    (sel == 0 && g->vcek_dis && !s->vlek))
		return SEV_STATUS_INVALID_KEY;
	if (q->vmpl < msg_vmpck || q->vmpl > 3)
		return SEV_STATUS_INVALID_PARAM; /* not more privileged than the VMPCK used */
	report_fill(fw, g, q, r);
	if ((sel == 0 || sel == 2) && s->vlek) {
		key = s->vlek;
		r->key_info |= SEV_SNP_SIGNING_KEY_VLEK << 2;
	} else if (!s->mask_chip_key) {
		key = s->vcek;
		r->key_info |= SEV_SNP_SIGNING_KEY_VCEK << 2;
	} else {
		r->key_info |= SEV_SNP_SIGNING_KEY_NONE << 2; /* unsigned: the chip key is masked */
		return SEV_STATUS_SUCCESS;
	}
	if (attest_ecdsa_sign_le(key, EVP_sha384(), (const uint8_t *)r, SEV_SNP_REPORT_SIGNED_LEN,
				 r->sig_r, r->sig_s) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	return SEV_STATUS_SUCCESS;
}

/* ---- MSG_KEY_REQ ---- */

/* The mixing fields (AMD-ASPFW sev_rmp.h snp_mix_data_t): the KDF context. The measurement,
 * host data and ID-block key digest go in truncated to their first 32 bytes, as firmware's. */
struct mix_data {
	uint32_t flags; /* bit 0 ROOT_KEY_SELECT, bits 2:1 IDBLOCK_KEY_SELECT */
	uint32_t reserved;
	uint64_t gfs;
	uint32_t vmpl, guest_svn;
	uint64_t tcb_version, guest_policy;
	uint8_t image_id[16], family_id[16], measurement[32], host_data[32], idblock_key[32];
} SEV_PACKED;
_Static_assert(sizeof(struct mix_data) == 168, "snp_mix_data_t is 168 bytes");

static int key_mix(struct emu_fw *fw, const struct emu_snp_guest *g,
		   const struct sev_snp_key_req *q, struct mix_data *m)
{
	struct emu_snp_tcb want, have;
	unsigned idsel = g->author_key_en ? 2 : g->id_block.version ? 1 : 0;

	memset(m, 0, sizeof(*m));
	m->flags = (q->flags & 1u) | (idsel << 1);
	m->gfs = q->guest_field_select;
	m->vmpl = q->vmpl;
	memcpy(m->host_data, g->host_data, 32);
	if (idsel)
		memcpy(m->idblock_key, idsel == 2 ? g->author_key_digest : g->id_key_digest, 32);
	if (q->guest_field_select & GUEST_FIELD_TCB) {
		bool turin = fw->snp->product->turin_tcb;

		emu_snp_tcb_unpack(q->tcb_version, turin, &want);
		emu_snp_tcb_unpack(fw->snp->committed_tcb, turin, &have);
		if (want.fmc > have.fmc || want.bl > have.bl || want.tee > have.tee ||
		    want.snp > have.snp || want.ucode > have.ucode ||
		    emu_snp_tcb_pack(&want, turin) != q->tcb_version) /* reserved bytes */
			return SEV_STATUS_INVALID_PARAM;
		m->tcb_version = q->tcb_version;
	}
	if (q->guest_field_select & GUEST_FIELD_SVN) {
		if (q->guest_svn > g->id_block.guest_svn)
			return SEV_STATUS_INVALID_PARAM;
		m->guest_svn = q->guest_svn;
	}
	if (q->guest_field_select & (1ull << 3))
		memcpy(m->measurement, g->ld, 32);
	if (q->guest_field_select & (1ull << 2))
		memcpy(m->family_id, g->id_block.family_id, 16);
	if (q->guest_field_select & (1ull << 1))
		memcpy(m->image_id, g->id_block.image_id, 16);
	if (q->guest_field_select & (1ull << 0))
		m->guest_policy = g->policy;
	return SEV_STATUS_SUCCESS;
}

static int key_req(struct emu_fw *fw, const struct emu_snp_guest *g, const uint8_t *req,
		   size_t req_len, uint8_t msg_vmpck, struct sev_snp_key_rsp *rsp)
{
	const struct sev_snp_key_req *q = (const void *)req;
	uint32_t sel = (q->flags >> 1) & 3u;
	uint8_t root[48];
	WIPE_ON_EXIT(root, sizeof(root));
	struct mix_data m;
	size_t root_len = sizeof(root);
	int st;

	memset(rsp, 0, sizeof(*rsp));
	if (req_len < sizeof(*q) || (q->flags & ~7u) || q->reserved)
		return SEV_STATUS_INVALID_PARAM;
	if (!(q->flags & 1u) && fw->snp->mask_chip_key)
		return SEV_STATUS_INVALID_KEY;
	bool vlek = fw->snp->vlek != NULL;

	if (!(q->flags & 1u) && (sel == 3 || (sel == 2 && !vlek) || (sel == 1 && g->vcek_dis) ||
				 (sel == 0 && g->vcek_dis && !vlek)))
		return SEV_STATUS_INVALID_KEY;
	if (q->vmpl < msg_vmpck || (q->guest_field_select & ~GUEST_FIELD_ALL))
		return SEV_STATUS_INVALID_PARAM;
	st = key_mix(fw, g, q, &m);
	if (st)
		return st;
	if (q->flags & 1u) { /* VMRK */
		memcpy(root, g->vmrk, sizeof(g->vmrk));
		root_len = sizeof(g->vmrk);
	} else if (sel != 1 && fw->snp->vlek) { /* the VLEK's last stick */
		memcpy(root, fw->snp->vlek_sticks[7], sizeof(root));
	} else if (vcek_hash(fw->snp->seed, (q->guest_field_select & GUEST_FIELD_TCB) ?
				  q->tcb_version : emu_snp_reported_tcb(fw->snp), root) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (attest_kdf(root, root_len, KEY_REQ_LABEL, (const uint8_t *)&m, sizeof(m), rsp->key,
		       sizeof(rsp->key)) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	return SEV_STATUS_SUCCESS;
}

/* ---- SNP_GUEST_REQUEST ---- */

static int page_4k_state(struct emu_fw *fw, uint64_t paddr, enum emu_rmp_state *state)
{
	struct emu_rmp_entry e;
	int st = emu_rmp_get(fw, paddr, &e);

	if (st)
		return st;
	*state = emu_rmp_state_of(&e);
	return e.big ? SEV_STATUS_INVALID_PAGE_SIZE : SEV_STATUS_SUCCESS;
}

static int request_header(struct emu_fw *fw, uint64_t paddr, struct sev_snp_msg_hdr *h)
{
	int st;

	if (paddr % SEV_PAGE_SIZE > SEV_PAGE_SIZE - HDR_SIZE)
		return SEV_STATUS_INVALID_PARAM;
	st = emu_mem_read(fw->mem, paddr, h, HDR_SIZE);
	if (st)
		return st;
	if (h->hdr_version != 1 || h->hdr_size != HDR_SIZE || h->algo != SEV_SNP_AEAD_AES_256_GCM ||
	    h->msg_size == 0 || h->msg_size % 16 ||
	    paddr % SEV_PAGE_SIZE + HDR_SIZE + h->msg_size > SEV_PAGE_SIZE || h->msg_vmpck > 3)
		return SEV_STATUS_INVALID_PARAM;
	return SEV_STATUS_SUCCESS;
}

/* The payload of the response to one decrypted request; *rsp_len its size. Unknown message
 * types fail the command; known ones the emulator does not model (CPUID, EXPORT, IMPORT,
 * ABSORB, VMRK, TSC_INFO) answer UNSUPPORTED. */
static int dispatch_msg(struct emu_fw *fw, const struct emu_snp_guest *g,
			const struct sev_snp_msg_hdr *q, const uint8_t *req, uint8_t *rsp,
			struct sev_snp_msg_hdr *rh)
{
	if (q->msg_version != 1)
		return SEV_STATUS_INVALID_PARAM;
	rh->msg_version = 1;
	switch (q->msg_type) {
	case SEV_SNP_MSG_REPORT_REQ: {
		struct sev_snp_report_rsp *r = (void *)rsp;

		rh->msg_type = SEV_SNP_MSG_REPORT_RSP;
		rh->msg_size = sizeof(*r);
		r->status = (uint32_t)report_req(fw, g, req, q->msg_size, q->msg_vmpck, r);
		return SEV_STATUS_SUCCESS;
	}
	case SEV_SNP_MSG_KEY_REQ: {
		struct sev_snp_key_rsp *r = (void *)rsp;

		rh->msg_type = SEV_SNP_MSG_KEY_RSP;
		rh->msg_size = sizeof(*r);
		r->status = (uint32_t)key_req(fw, g, req, q->msg_size, q->msg_vmpck, r);
		return SEV_STATUS_SUCCESS;
	}
	default:
		if (q->msg_type >= SEV_SNP_MSG_CPUID_REQ &&
		    q->msg_type <= SEV_SNP_MSG_TSC_INFO_RSP && q->msg_type % 2)
			return SEV_STATUS_UNSUPPORTED; /* a request this emulator does not model */
		return SEV_STATUS_INVALID_PARAM;
	}
}

struct request_work {
	struct sev_snp_msg_hdr q, r;
	uint8_t req[SEV_PAGE_SIZE], rsp[SEV_PAGE_SIZE];
};

static int request_run(struct emu_fw *fw, struct emu_snp_guest *g,
		       const struct sev_snp_cmd_guest_request *b, struct request_work *w)
{
	const uint8_t *vmpck;
	int st = request_header(fw, b->req_paddr, &w->q);

	if (st)
		return st;
	st = emu_mem_read(fw->mem, b->req_paddr + HDR_SIZE, w->req, w->q.msg_size);
	if (st)
		return st;
	vmpck = g->vmpck[w->q.msg_vmpck];
	if (gcm_open(vmpck, &w->q, w->req, w->q.msg_size) < 0)
		return SEV_STATUS_BAD_MEASUREMENT; /* the tag does not verify (aes256gcm_*) */
	if (g->msg_count[w->q.msg_vmpck] == UINT64_MAX - 1 ||
	    w->q.msg_seqno != g->msg_count[w->q.msg_vmpck] + 1)
		return SEV_STATUS_AEAD_OFLOW; /* replayed or out of order */
	st = dispatch_msg(fw, g, &w->q, w->req, w->rsp, &w->r);
	if (st)
		return st;
	w->r.algo = SEV_SNP_AEAD_AES_256_GCM;
	w->r.hdr_version = 1;
	w->r.hdr_size = HDR_SIZE;
	w->r.msg_seqno = w->q.msg_seqno + 1;
	w->r.msg_vmpck = w->q.msg_vmpck;
	if (b->res_paddr % SEV_PAGE_SIZE + HDR_SIZE + w->r.msg_size > SEV_PAGE_SIZE)
		return SEV_STATUS_INVALID_PARAM;
	if (gcm_seal(vmpck, &w->r, w->rsp, w->r.msg_size) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	st = emu_mem_write(fw->mem, b->res_paddr, &w->r, HDR_SIZE);
	if (!st)
		st = emu_mem_write(fw->mem, b->res_paddr + HDR_SIZE, w->rsp, w->r.msg_size);
	if (!st)
		g->msg_count[w->q.msg_vmpck] = w->r.msg_seqno;
	return st;
}

int emu_snp_guest_request(struct emu_fw *fw, void *buf)
{
	struct sev_snp_cmd_guest_request *b = buf;
	struct emu_snp_guest *g;
	struct request_work *w;
	enum emu_rmp_state req_state = EMU_RMP_INVALID, rsp_state = EMU_RMP_INVALID;
	int st;

	if (b->gctx_paddr & 0xfffull)
		return SEV_STATUS_INVALID_PARAM;
	if (!emu_snp_get(fw))
		return SEV_STATUS_HWERROR_PLATFORM;
	if (fw->snp->state != SEV_SNP_PSTATE_INIT)
		return SEV_STATUS_INVALID_PLATFORM_STATE;
	g = emu_snp_guest_find(fw, b->gctx_paddr);
	st = page_4k_state(fw, b->gctx_paddr, &req_state);
	if (st == SEV_STATUS_INVALID_ADDRESS)
		return st;
	if (!g || req_state != EMU_RMP_CONTEXT)
		return SEV_STATUS_INVALID_GUEST;
	st = page_4k_state(fw, b->req_paddr, &req_state);
	if (st == SEV_STATUS_INVALID_ADDRESS)
		return st;
	{
		int st2 = page_4k_state(fw, b->res_paddr, &rsp_state);

		if (st2 == SEV_STATUS_INVALID_ADDRESS)
			return st2;
		if (rsp_state != EMU_RMP_FIRMWARE)
			return SEV_STATUS_INVALID_PAGE_STATE;
		if (st || st2)
			return SEV_STATUS_INVALID_PAGE_SIZE;
	}
	if (g->state != SEV_SNP_GSTATE_RUNNING)
		return SEV_STATUS_INVALID_GUEST_STATE;
	w = secret_alloc(sizeof(*w)); /* plaintext requests and responses: wiped after */
	if (!w)
		return SEV_STATUS_HWERROR_PLATFORM;
	st = request_run(fw, g, b, w);
	secret_free(w, sizeof(*w));
	return st;
}

/* ---- SNP_LAUNCH_FINISH: ID block and ID authentication information ---- */

/* An AMD-format public key (curve u32 ‖ qx[72] ‖ qy[72], little-endian) that must be P-384. */
static int id_pubkey(const uint8_t *k, EVP_PKEY **ret)
{
	if (get_le32(k) != ECC_CURVE_P384)
		return -EBADMSG;
	return attest_ec_pubkey_from_le(ECC_CURVE_P384, k + 4, k + 4 + SEV_ECC_COORD_SIZE, ret);
}

static int sig_check(const uint8_t *key, const uint8_t *sig, const void *data, size_t len)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pk = NULL;

	if (id_pubkey(key, &pk) < 0)
		return SEV_STATUS_BAD_SIGNATURE; /* not a point on P-384 */
	return attest_ecdsa_verify_le(pk, EVP_sha384(), data, len, sig, sig + 72) == 1 ?
		       SEV_STATUS_SUCCESS :
		       SEV_STATUS_BAD_SIGNATURE;
}

int emu_snp_id_check(struct emu_fw *fw, struct emu_snp_guest *g,
		     const struct sev_snp_cmd_launch_finish *b)
{
	bool author = b->flags & SEV_SNP_FINISH_AUTH_KEY_EN;
	struct sev_snp_id_block blk;
	struct sev_snp_id_auth *auth;
	uint8_t idk[48], ak[48] = { 0 };
	int st;

	st = emu_mem_read(fw->mem, b->id_block_paddr, &blk, sizeof(blk));
	if (st)
		return st;
	auth = secret_alloc(sizeof(*auth));
	if (!auth)
		return SEV_STATUS_HWERROR_PLATFORM;
	st = emu_mem_read(fw->mem, b->id_auth_paddr, auth, sizeof(*auth));
	if (!st && memcmp(blk.ld, g->ld, sizeof(blk.ld)) != 0)
		st = SEV_STATUS_BAD_MEASUREMENT;
	if (!st && blk.policy != g->policy)
		st = SEV_STATUS_POLICY_FAILURE;
	if (!st && (blk.version != 1 || auth->id_key_algo != 1 ||
		    (author && auth->auth_key_algo != 1)))
		st = SEV_STATUS_INVALID_PARAM;
	if (!st)
		st = sig_check(auth->id_key, auth->id_block_sig, &blk, sizeof(blk));
	if (!st && sha384(auth->id_key, sizeof(auth->id_key), idk) < 0)
		st = SEV_STATUS_HWERROR_PLATFORM;
	if (!st && author)
		st = sig_check(auth->author_key, auth->id_key_sig, auth->id_key,
			       sizeof(auth->id_key));
	if (!st && author && sha384(auth->author_key, sizeof(auth->author_key), ak) < 0)
		st = SEV_STATUS_HWERROR_PLATFORM;
	secret_free(auth, sizeof(*auth));
	if (st)
		return st;
	g->id_block = blk;
	memcpy(g->id_key_digest, idk, sizeof(idk));
	memcpy(g->author_key_digest, ak, sizeof(ak));
	return SEV_STATUS_SUCCESS;
}

/* ---- CTL ---- */

int emu_snp_ctl_vcek(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	struct emu_snp *s = emu_snp_get(fw);
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
	uint64_t tcb;
	uint8_t *p = out;
	int n;

	if (!s) {
		*len = (size_t)snprintf((char *)out, cap, "snp-vcek: SNP is off (--snp)");
		return -EOPNOTSUPP;
	}
	tcb = emu_snp_reported_tcb(s);
	if (arg && parse_u64(arg, &tcb) < 0) {
		*len = (size_t)snprintf((char *)out, cap, "snp-vcek takes a TCB_VERSION (u64)");
		return -EINVAL;
	}
	if (emu_snp_vcek(s->seed, tcb, &k) < 0)
		return -EIO;
	n = i2d_PUBKEY(k, NULL);
	if (n <= 0 || (size_t)n > cap)
		return -ENOBUFS;
	i2d_PUBKEY(k, &p);
	*len = (size_t)n;
	return 0;
}
