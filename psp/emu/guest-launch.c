/* The launch commands of the emulated SEV firmware (SEV API §6.2-§6.7): LAUNCH_START,
 * LAUNCH_UPDATE_DATA/VMSA, LAUNCH_MEASURE, LAUNCH_SECRET, LAUNCH_FINISH. Each check and the
 * status it answers follow AMD-ASPFW sev_mcmd.c (sev_mcmd_launch_*, launch_update_common) in
 * the firmware's order; the session and secret cryptography is attest/session.h and
 * attest/secret.h (firmware side). Trusts no byte of the command buffers or client memory. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "attest/measurement.h"
#include "attest/secret.h"
#include "common/ossl.h"
#include "common/secret.h"
#include "psp/emu/guest.h"

#define ALIGNED16(x) (((x)&15u) == 0)

/* Policy bits 6..15 are reserved (AMD-ASPFW sev_guest.h SEV_GUEST_POLICY_RESERVED_MASK). */
#define POLICY_RESERVED_MASK 0xffc0u

/* The session's checks (sev_mcmd_launch_start, sev_mcmd_receive_start): lengths and copies in
 * firmware order (session, then certificate), then the channel (the other end's DH certificate,
 * wrap MAC), the policy MAC, and the policy's API minimum and reserved bits
 * (sev_guest_verify_policy: POLICY_FAILURE). */
int emu_start_session(struct emu_fw *fw, const struct emu_start *b, struct attest_tk *ret_tk)
{
	struct sev_session_blob blob;
	struct sev_cert cert;
	struct attest_verdict v = {0};
	uint32_t p = b->policy;
	int st, r;

	if (b->session_len != sizeof(blob))
		return SEV_STATUS_INVALID_LEN;
	st = emu_mem_read(fw->mem, b->session_address, &blob, sizeof(blob));
	if (st)
		return st;
	if (b->cert_len != SEV_CERT_SIZE)
		return SEV_STATUS_INVALID_LEN;
	st = emu_mem_read(fw->mem, b->cert_address, &cert, sizeof(cert));
	if (st)
		return st;
	if (!fw->nv.owner.pdh_key)
		return SEV_STATUS_HWERROR_PLATFORM;
	r = attest_session_open(fw->nv.owner.pdh_key, (const uint8_t *)&cert, sizeof(cert),
				(const uint8_t *)&blob, sizeof(blob), p, ret_tk, &v);
	OPENSSL_cleanse(&blob, sizeof(blob));
	if (r < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (r == 0)
		return attest_session_check_status(v.check);
	if (!attest_api_at_least(fw->cfg.api_major, fw->cfg.api_minor, SEV_POLICY_API_MAJOR(p),
				 SEV_POLICY_API_MINOR(p)) ||
	    (p & POLICY_RESERVED_MASK)) {
		OPENSSL_cleanse(ret_tk, sizeof(*ret_tk));
		return SEV_STATUS_POLICY_FAILURE;
	}
	return SEV_STATUS_SUCCESS;
}

/* The memory key: fresh (handle 0), or shared with an existing guest of the same policy that
 * allows key sharing (NOKS clear), as sev_mcmd_launch_start and sev_mcmd_receive_start do. */
int emu_start_vek(struct emu_fw *fw, const struct emu_start *b, uint8_t vek[EMU_VEK_SIZE])
{
	struct emu_guest *shared;

	if (b->handle == 0) {
		/* two equal halves would be refused by XTS: draw until they differ */
		do {
			if (RAND_priv_bytes(vek, EMU_VEK_SIZE) != 1)
				return SEV_STATUS_HWERROR_PLATFORM;
		} while (CRYPTO_memcmp(vek, vek + 16, 16) == 0);
		return SEV_STATUS_SUCCESS;
	}
	shared = emu_guest_find(fw, b->handle);
	if (!shared)
		return SEV_STATUS_INVALID_GUEST;
	if (b->policy != shared->policy || (shared->policy & SEV_POLICY_NOKS))
		return SEV_STATUS_POLICY_FAILURE;
	memcpy(vek, shared->vek, EMU_VEK_SIZE);
	return SEV_STATUS_SUCCESS;
}

/* Without a GODH certificate a launch has no owner channel: firmware's own random TEK/TIK. A
 * nonzero session address with dh_cert_address = 0 is ignored, as in firmware (a receive
 * always has the source's PDH certificate). The keys are made in secret memory (locked,
 * wiped) and copied into the context, itself secret memory. */
int emu_start_guest(struct emu_fw *fw, void *buf, int state)
{
	struct sev_cmd_launch_start *b = buf;
	const struct emu_start start = {
	    .handle = b->handle,
	    .policy = b->policy,
	    .cert_address = b->dh_cert_address,
	    .cert_len = b->dh_cert_len,
	    .session_address = b->session_address,
	    .session_len = b->session_len,
	};
	const struct emu_start *s = &start;
	bool launch = state == SEV_GSTATE_LUPDATE;
	bool es_ok = !(s->policy & SEV_POLICY_ES) || (fw->config_flags & SEV_INIT_FLAGS_SEV_ES);
	struct {
		struct attest_tk tk;
		uint8_t vek[EMU_VEK_SIZE];
	} *k = secret_alloc(sizeof(*k));
	struct emu_guest *g = NULL;
	int st;

	if (!k)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (!launch || s->cert_address != 0)
		st = emu_start_session(fw, s, &k->tk);
	else
		st = RAND_priv_bytes((uint8_t *)&k->tk, sizeof(k->tk)) == 1
			 ? SEV_STATUS_SUCCESS
			 : SEV_STATUS_HWERROR_PLATFORM;
	if (!st)
		st = emu_start_vek(fw, s, k->vek);
	/* A launch takes the handle (find_free_guest_handle: RESOURCE_LIMIT) before it looks at
	 * SEV-ES, which needs a platform initialized with ES (sev_es_platform_enabled:
	 * UNSUPPORTED); a receive looks at SEV-ES first — AMD-ASPFW sev_mcmd.c
	 * sev_mcmd_launch_start, sev_mcmd_receive_start. */
	if (!st && !launch && !es_ok)
		st = SEV_STATUS_UNSUPPORTED;
	if (!st)
		st = emu_guest_alloc(fw, &g);
	if (!st && launch && !es_ok) {
		emu_guest_free(fw, g);
		st = SEV_STATUS_UNSUPPORTED;
	}
	if (!st) {
		g->policy = s->policy;
		g->state = state;
		g->tk = k->tk;
		memcpy(g->vek, k->vek, sizeof(k->vek));
		fw->state = SEV_PSTATE_WORKING;
		fw->guest_count++;
		b->handle = g->handle;
	}
	secret_free(k, sizeof(*k));
	return st;
}

int emu_cmd_launch_start(struct emu_fw *fw, void *buf)
{
	return emu_start_guest(fw, buf, SEV_GSTATE_LUPDATE);
}

#define VMSA_ZEROS_OFF 0x380 /* AMD-ASPFW sev_es.c vmcb_save_area_t: reserved in the VMSA */
#define VMSA_CRC_PADDR_OFF 0x388

static int vmsa_block_keep(struct emu_guest *g, uint32_t index)
{
	if (g->n_vmsa == g->cap_vmsa) {
		uint32_t cap = g->cap_vmsa ? 2 * g->cap_vmsa : 4;
		uint32_t *p = realloc(g->vmsa_blocks, cap * sizeof(*p));

		if (!p)
			return SEV_STATUS_HWERROR_PLATFORM;
		g->vmsa_blocks = p;
		g->cap_vmsa = cap;
	}
	g->vmsa_blocks[g->n_vmsa++] = index;
	return SEV_STATUS_SUCCESS;
}

/* LAUNCH_UPDATE_VMSA's page, in launch_update_common's order: read, measured as it is, then
 * sev_es_setup_vmsa takes a block of the ES pool (RESOURCE_LIMIT when none; the page is
 * measured already) and writes into the reserved quadwords the guest sees: 0 at 0x380, the
 * block's CRC address in the TMR at 0x388; then the page is encrypted. (The CRC itself,
 * crc64_vmsa over the first 0xFC0 bytes kept in the TMR for SEND/RECEIVE's
 * sev_es_validate_vmsa, is not computed: nothing here reads it, and on hardware the host
 * cannot read the TMR.) */
static int launch_vmsa(struct emu_fw *fw, struct emu_guest *g, uint64_t addr)
{
	uint8_t page[EMU_VMSA_SIZE]; /* guest register state: wiped below */
	uint64_t zero = 0, crc;
	uint32_t block;
	int st;

	st = emu_mem_read(fw->mem, addr, page, EMU_VMSA_SIZE);
	if (!st && !EVP_DigestUpdate(g->ld, page, EMU_VMSA_SIZE))
		st = SEV_STATUS_HWERROR_PLATFORM;
	if (!st)
		st = emu_es_pool_alloc(fw, &block);
	if (!st) {
		crc = emu_es_pool_crc_addr(fw, block);
		memcpy(page + VMSA_ZEROS_OFF, &zero, sizeof(zero));
		memcpy(page + VMSA_CRC_PADDR_OFF, &crc, sizeof(crc));
		st = vmsa_block_keep(g, block);
		if (st)
			emu_es_pool_free(fw, block);
	}
	if (!st)
		st = emu_guest_mem_put(fw, g, addr, page, EMU_VMSA_SIZE);
	OPENSSL_cleanse(page, sizeof(page));
	return st;
}

/* launch_update_common: measure the plaintext, leave only ciphertext in the caller's memory
 * (guest-mem.c: when the plaintext view gets it). The guest must be activated (ACTIVATE after
 * LAUNCH_START, as KVM does): the encryption uses the key installed for its ASID (INACTIVE
 * otherwise). */
static int launch_update(struct emu_fw *fw, struct sev_cmd_launch_update *b, bool vmsa)
{
	struct emu_guest *g = emu_guest_find(fw, b->handle);
	int st;

	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (g->state != SEV_GSTATE_LUPDATE)
		return SEV_STATUS_INVALID_GUEST_STATE;
	if (vmsa && !(g->policy & SEV_POLICY_ES))
		return SEV_STATUS_UNSUPPORTED;
	if (!g->pending && !g->active)
		return SEV_STATUS_INACTIVE;
	if (!ALIGNED16(b->address))
		return SEV_STATUS_INVALID_ADDRESS;
	if (!ALIGNED16(b->len) || b->len == 0)
		return SEV_STATUS_INVALID_LEN;
	st = emu_guest_mem_bind(fw, g, b->address, b->len);
	if (!st)
		st = vmsa ? launch_vmsa(fw, g, b->address)
			  : emu_guest_mem_launch(fw, g, b->address, b->len, g->ld);
	return st;
}

int emu_cmd_launch_update_data(struct emu_fw *fw, void *buf)
{
	return launch_update(fw, buf, false);
}

/* One VMSA page. AMD-ASPFW sev_mcmd.c sev_mcmd_launch_update_vmsa checks the length before
 * launch_update_common looks at anything, the platform state included: the row's `pre`. */
int emu_cmd_launch_update_vmsa_len(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_launch_update *b = buf;

	return b->len != EMU_VMSA_SIZE ? SEV_STATUS_INVALID_LEN : SEV_STATUS_SUCCESS;
}

/* Measured like data. */
int emu_cmd_launch_update_vmsa(struct emu_fw *fw, void *buf)
{
	return launch_update(fw, buf, true);
}

/* The launch digest as sev_mcmd_launch_measure takes it: SW_SHA256_Final on the guest's own
 * context, before the measurement is written, so a write that fails (guest still LUPDATE)
 * has consumed it. Firmware's context is then a finished SHA-256 state that later data and a
 * second Final keep hashing into; its exact bytes need SHA-256's compression function, which
 * EVP does not expose, so the emulator stands in for it with a context that starts from the
 * finished digest: SHA-256(D ‖ data since). Either way a guest whose LAUNCH_MEASURE failed
 * after the length check never again measures to its honest launch digest. */
static int launch_digest_final(struct emu_guest *g, uint8_t digest[32])
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *copy = NULL;
	unsigned dlen = 0;

	if (!g->ld_finalized) {
		if (!EVP_DigestFinal_ex(g->ld, digest, &dlen) || dlen != 32 ||
		    !EVP_DigestInit_ex(g->ld, EVP_sha256(), NULL) ||
		    !EVP_DigestUpdate(g->ld, digest, 32))
			return SEV_STATUS_HWERROR_PLATFORM;
		g->ld_finalized = true;
		return SEV_STATUS_SUCCESS;
	}
	copy = EVP_MD_CTX_new();
	if (!copy || !EVP_MD_CTX_copy_ex(copy, g->ld) || !EVP_DigestFinal_ex(copy, digest, &dlen) ||
	    dlen != 32)
		return SEV_STATUS_HWERROR_PLATFORM;
	return SEV_STATUS_SUCCESS;
}

/* LUPDATE → LSECRET. HMAC(TIK, ...) over the launch digest and a fresh MNONCE, with the
 * API < 0.17 rule of attest/measurement.h; length query as in firmware. A failed write leaves
 * the guest in LUPDATE, its digest finalized (launch_digest_final). */
int emu_cmd_launch_measure(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_launch_measure *b = buf;
	struct emu_guest *g = emu_guest_find(fw, b->handle);
	struct attest_measure_input in = {.ctx = ATTEST_MEASURE_CTX};
	uint8_t out[SEV_MEASURE_BLOB_SIZE];
	int st;

	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (g->state != SEV_GSTATE_LUPDATE)
		return SEV_STATUS_INVALID_GUEST_STATE;
	if (b->len < SEV_MEASURE_BLOB_SIZE) {
		b->len = SEV_MEASURE_BLOB_SIZE;
		return SEV_STATUS_INVALID_LEN;
	}
	st = launch_digest_final(g, in.digest);
	if (st)
		return st;
	if (RAND_bytes(in.mnonce, sizeof(in.mnonce)) != 1)
		return SEV_STATUS_HWERROR_PLATFORM;
	in.api_major = fw->cfg.api_major;
	in.api_minor = fw->cfg.api_minor;
	in.build = fw->cfg.build;
	in.policy = g->policy;
	if (attest_measurement_compute(g->tk.tik, &in, out) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	memcpy(out + SEV_MEASURE_SIZE, in.mnonce, SEV_MNONCE_SIZE);
	st = emu_mem_write(fw->mem, b->address, out, sizeof(out));
	if (st)
		return st;
	b->len = SEV_MEASURE_BLOB_SIZE;
	memcpy(g->measure, out, SEV_MEASURE_SIZE);
	memcpy(g->launch_digest, in.digest, sizeof(in.digest));
	g->state = SEV_GSTATE_LSECRET;
	return SEV_STATUS_SUCCESS;
}

/* Checks in sev_mcmd_launch_secret's order; the MAC covers the measurement from 0.17 on
 * (attest_secret_open). The plaintext goes to the plaintext view, ciphertext under the VEK
 * to the host-visible memory at guest_address. */
int emu_cmd_launch_secret(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_launch_secret *b = buf;
	struct emu_guest *g = emu_guest_find(fw, b->handle);
	struct sev_secret_header hdr;
	struct attest_verdict v = {0};
	uint8_t trans[ATTEST_SECRET_MAX_LEN], *plain;
	struct attest_secret_key key;
	struct attest_secret_packet pkt = {(const uint8_t *)&hdr, sizeof(hdr), trans, b->trans_len,
					   b->guest_len};
	int st, r;

	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	key = (struct attest_secret_key){&g->tk, g->measure, fw->cfg.api_major, fw->cfg.api_minor};
	if (!ALIGNED16(b->guest_address))
		return SEV_STATUS_INVALID_ADDRESS;
	if (b->hdr_len != sizeof(hdr) || !ALIGNED16(b->guest_len) || b->guest_len == 0 ||
	    b->guest_len > ATTEST_SECRET_MAX_LEN || b->guest_len != b->trans_len)
		return SEV_STATUS_INVALID_LEN;
	if (g->state != SEV_GSTATE_LSECRET)
		return SEV_STATUS_INVALID_GUEST_STATE;
	if (!g->pending && !g->active)
		return SEV_STATUS_INACTIVE;
	st = emu_mem_read(fw->mem, b->hdr_address, &hdr, sizeof(hdr));
	if (!st)
		st = emu_guest_mem_bind(fw, g, b->guest_address, b->guest_len);
	if (!st)
		st = emu_mem_read(fw->mem, b->trans_address, trans, b->trans_len);
	if (st)
		return st;
	plain = secret_alloc(ATTEST_SECRET_MAX_LEN); /* the owner's secret: locked, wiped */
	if (!plain)
		return SEV_STATUS_HWERROR_PLATFORM;
	r = attest_secret_open(&key, &pkt, plain, &v);
	if (r < 0)
		st = SEV_STATUS_HWERROR_PLATFORM;
	else if (r == 0)
		st = attest_secret_check_status(v.check);
	else
		st = emu_guest_mem_put(fw, g, b->guest_address, plain, b->guest_len);
	secret_free(plain, ATTEST_SECRET_MAX_LEN);
	return st;
}

int emu_finish_guest(struct emu_fw *fw, void *buf, int from)
{
	struct sev_cmd_handle *b = buf;
	struct emu_guest *g = emu_guest_find(fw, b->handle);

	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (g->state != from)
		return SEV_STATUS_INVALID_GUEST_STATE;
	if (g->pending) {
		g->pending = false;
		g->active = true;
	}
	OPENSSL_cleanse(&g->tk, sizeof(g->tk));
	g->state = SEV_GSTATE_RUNNING;
	return SEV_STATUS_SUCCESS;
}

/* LSECRET → RUNNING; a pending activation becomes active; the transport keys are gone
 * (sev_channel_close). */
int emu_cmd_launch_finish(struct emu_fw *fw, void *buf)
{
	return emu_finish_guest(fw, buf, SEV_GSTATE_LSECRET);
}
