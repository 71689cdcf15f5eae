/* sev-psp-emu's key hierarchy, verified by the same chain verifier as real AMD chains
 * (attest/chain.h): PDH → PEK → CEK → ASK → ARK and PEK ← OCA; a flipped byte breaks it; the
 * emulated root is not one of AMD's. Then platform ownership (PEK_CSR signed by an owner OCA,
 * PEK_CERT_IMPORT with every refusal firmware makes), PEK_GEN, and FACTORY_RESET
 * regenerating the owner keys while the chip identity stays. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "attest/chain.h"
#include "attest/roots.h"
#include "attest/sev-cert.h"
#include "common/ossl.h"
#include "common/util.h"
#include "psp/commands.h"
#include "tests/psp/test-emu-util.h"

struct exported {
	uint8_t pdh[SEV_CERT_SIZE], pek[SEV_CERT_SIZE], oca[SEV_CERT_SIZE], cek_unsigned[SEV_CERT_SIZE];
	uint8_t cek[SEV_CERT_SIZE], ask[2048], ark[2048];
	size_t ask_len, ark_len;
	uint8_t id[64];
};

static void get_cert(struct psp_transport *t, const char *which, uint8_t *out, size_t cap,
		     size_t *ret_len)
{
	_cleanup_free_ uint8_t *reply = NULL;
	char line[32];
	size_t len = 0;
	int e;

	snprintf(line, sizeof(line), "get-cert %s", which);
	e = psp_emu_ctl(t, line, &reply, &len);
	TU_CHECK(e == 0 && len <= cap, "CTL %s: %s", line, strerror(-e));
	memcpy(out, reply, len);
	*ret_len = len;
}

static void export_all(struct psp_transport *t, struct exported *x)
{
	_cleanup_free_ uint8_t *pdh = NULL, *chain = NULL, *id = NULL;
	size_t lp, lc, li, l;

	TU_CHECK_EQ(psp_cmd_pdh_cert_export(t, &pdh, &lp, &chain, &lc, NULL), 0);
	TU_CHECK(lp == SEV_CERT_SIZE && lc == SEV_CERT_CHAIN_SIZE, "export sizes");
	memcpy(x->pdh, pdh, SEV_CERT_SIZE);
	memcpy(x->pek, chain, SEV_CERT_SIZE);
	memcpy(x->oca, chain + SEV_CERT_SIZE, SEV_CERT_SIZE);
	memcpy(x->cek_unsigned, chain + 2 * SEV_CERT_SIZE, SEV_CERT_SIZE);
	get_cert(t, "cek", x->cek, sizeof(x->cek), &l);
	TU_CHECK_EQ(l, SEV_CERT_SIZE);
	get_cert(t, "ask", x->ask, sizeof(x->ask), &x->ask_len);
	get_cert(t, "ark", x->ark, sizeof(x->ark), &x->ark_len);
	TU_CHECK_EQ(psp_cmd_get_id(t, &id, &li, NULL), 0);
	memcpy(x->id, id, 64);
}

static struct attest_roots *emu_roots(const struct exported *x)
{
	struct attest_roots *roots = NULL;
	struct attest_verdict v = {0};
	uint8_t both[4096];

	memcpy(both, x->ask, x->ask_len);
	memcpy(both + x->ask_len, x->ark, x->ark_len);
	TU_CHECK_EQ(attest_roots_new(&roots), 0);
	TU_CHECK(attest_roots_add_sev(roots, "emu", both, x->ask_len + x->ark_len, true,
				      "sev-psp-emu", &v) == 0,
		 "emulated root refused: %s", attest_verdict_why(&v, "?"));
	return roots;
}

/* 1 = verifies. The chain is built from separate certificates (the export's CEK is unsigned,
 * the signed one comes from `get-cert cek`, as from AMD's key server). */
static int verify(const struct exported *x, const struct attest_roots *roots, const uint8_t *cek,
		  struct attest_verdict *v)
{
	struct attest_sev_chain c;
	const struct {
		const uint8_t *p;
		size_t len;
		const char *name;
	} parts[] = {
		{ x->pdh, SEV_CERT_SIZE, "pdh" }, { x->pek, SEV_CERT_SIZE, "pek" },
		{ x->oca, SEV_CERT_SIZE, "oca" }, { cek, SEV_CERT_SIZE, "cek" },
		{ x->ask, x->ask_len, "ask" },	  { x->ark, x->ark_len, "ark" },
	};

	memset(v, 0, sizeof(*v));
	attest_sev_chain_init(&c);
	for (size_t i = 0; i < ELEMENTSOF(parts); i++)
		if (attest_sev_chain_add_blob(&c, parts[i].p, parts[i].len, parts[i].name, v) < 0)
			return 0;
	return attest_sev_chain_verify(&c, roots, 0, v);
}

static void test_chain(struct psp_transport *t, struct exported *x, unsigned bits)
{
	_cleanup_(attest_roots_freep) struct attest_roots *roots = NULL, *amd = NULL;
	_cleanup_free_ char *amd_dir = tu_vector_path("amd-roots");
	struct attest_verdict v;
	struct amd_cert ark, ask;
	const struct sev_cert *cek = (const struct sev_cert *)x->cek;
	size_t used;

	TU_CHECK(to_state(t, SEV_PSTATE_INIT), "INIT");
	export_all(t, x);
	roots = emu_roots(x);
	TU_CHECK(verify(x, roots, x->cek, &v) == 1, "emulated chain does not verify: %s", v.reason);
	TU_CHECK(v.root_emulated && !v.root_amd_known, "root reported as emulated");
	/* the AMD root: RSA-2048/PSS SHA-256 (Naples format) or RSA-4096/PSS SHA-384 (Rome+);
	 * the ASK certified by the ARK */
	TU_CHECK_EQ(attest_amd_cert_parse(x->ark, x->ark_len, &ark, &used, NULL), 0);
	TU_CHECK_EQ(attest_amd_cert_parse(x->ask, x->ask_len, &ask, &used, NULL), 0);
	TU_CHECK_EQ(ark.modulus_bits, bits);
	TU_CHECK_EQ(ask.modulus_bits, bits);
	TU_CHECK_EQ(ask.key_usage, 0x13);
	TU_CHECK_MEM(ask.certifying_id, ark.key_id, 16);
	TU_CHECK(cek->sig[0].usage == SEV_USAGE_ASK &&
			 cek->sig[0].algo == (bits == 4096 ? SEV_ALGO_RSA_SHA384 : SEV_ALGO_RSA_SHA256),
		 "CEK signed by the ASK with RSA-SHA%d", bits == 4096 ? 384 : 256);
	/* The export's CEK is unsigned: it cannot stand in for the ASK-signed one. */
	TU_CHECK(verify(x, roots, x->cek_unsigned, &v) != 1, "unsigned CEK accepted");
	/* one flipped byte in any certificate breaks it (SEV certs: inside signature slot 0;
	 * AMD certs: the last byte of the signature) */
	for (int which = 0; which < 6; which++) {
		struct exported y = *x;
		uint8_t *sev[] = { y.pdh, y.pek, y.oca, y.cek };

		if (which < 4)
			sev[which][0x414 + 8 + 5] ^= 0x01;
		else if (which == 4)
			y.ask[y.ask_len - 1] ^= 0x01;
		else
			y.ark[y.ark_len - 1] ^= 0x01;
		TU_CHECK(verify(&y, roots, y.cek, &v) != 1, "flipped byte in cert %d accepted",
			 which);
	}
	/* Real AMD roots do not vouch for the emulator's chip. */
	TU_CHECK_EQ(attest_roots_load(amd_dir, &amd, NULL), 0);
	TU_CHECK(verify(x, amd, x->cek, &v) != 1, "emulated chain verified under AMD's roots");
}

/* ---- ownership ---- */

static EVP_PKEY *p384(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");

	TU_CHECK(k, "P-384 key");
	return k;
}

static void owner_oca(EVP_PKEY *key, struct sev_cert *oca)
{
	memset(oca, 0, sizeof(*oca));
	TU_CHECK_EQ(attest_sev_cert_init(oca, 1, 55, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, key), 0);
	TU_CHECK_EQ(attest_sev_cert_sign(oca, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, key), 0);
}

static void sign_csr(const uint8_t *csr, EVP_PKEY *oca_key, struct sev_cert *pek)
{
	memcpy(pek, csr, SEV_CERT_SIZE);
	TU_CHECK_EQ(attest_sev_cert_sign(pek, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, oca_key), 0);
}

static int import(struct psp_transport *t, const void *pek, size_t pl, const void *oca, size_t ol)
{
	int ret = SEV_STATUS_NO_FW_CALL;
	int e = psp_cmd_pek_cert_import(t, pek, pl, oca, ol, &ret);

	TU_CHECK(e == 0 || e == -EIO, "import did not reach firmware: %s", strerror(-e));
	return ret;
}

/* AMD-ASPFW sev_cert.c sev_cert_validate checks the signature before the body and the
 * usages, never which usage the caller meant, and a malformed signature slot anywhere is
 * BAD_SIGNATURE; sev_cert_set_sig needs an empty slot for the CEK's signature. */
static void test_import_fw_order(struct psp_transport *t, const uint8_t *csr, EVP_PKEY *k1,
				 const struct sev_cert *oca, const struct sev_cert *pek)
{
	struct sev_cert bad;

	/* a "PEK" offered as OCA, self-signed: the broken signature is found first ... */
	TU_CHECK_EQ(attest_sev_cert_init(&bad, 1, 55, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256, k1), 0);
	TU_CHECK_EQ(attest_sev_cert_sign(&bad, 0, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256, k1), 0);
	bad.sig[0].sig[5] ^= 0x01;
	CHECK_STATUS(import(t, pek, SEV_CERT_SIZE, &bad, SEV_CERT_SIZE), SEV_STATUS_BAD_SIGNATURE);
	/* ... and with a good one, the usages do not fit (a PEK is not self-signed) */
	TU_CHECK_EQ(attest_sev_cert_sign(&bad, 0, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256, k1), 0);
	CHECK_STATUS(import(t, pek, SEV_CERT_SIZE, &bad, SEV_CERT_SIZE),
		     SEV_STATUS_INVALID_CERTIFICATE);
	/* the right OCA with a second slot that has an algorithm but no usage */
	bad = *oca;
	bad.sig[1].algo = SEV_ALGO_ECDSA_SHA256;
	CHECK_STATUS(import(t, pek, SEV_CERT_SIZE, &bad, SEV_CERT_SIZE), SEV_STATUS_BAD_SIGNATURE);
	/* a PEK whose free slot is taken (by a claimed CEK signature): nowhere for the CEK's */
	sign_csr(csr, k1, &bad);
	bad.sig[1].usage = SEV_USAGE_CEK;
	bad.sig[1].algo = SEV_ALGO_ECDSA_SHA384;
	memset(bad.sig[1].sig, 0x11, 144);
	CHECK_STATUS(import(t, &bad, SEV_CERT_SIZE, oca, SEV_CERT_SIZE),
		     SEV_STATUS_INVALID_CERTIFICATE);
}

static void test_import_refusals(struct psp_transport *t, const uint8_t *csr, EVP_PKEY *k1,
				 const struct sev_cert *oca)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k2 = p384();
	struct sev_cert pek, bad;
	uint8_t big[SEV_CERT_SIZE + 1];

	sign_csr(csr, k1, &pek);
	memcpy(big, oca, SEV_CERT_SIZE);
	CHECK_STATUS(import(t, &pek, SEV_CERT_SIZE - 1, oca, SEV_CERT_SIZE), SEV_STATUS_INVALID_LEN);
	CHECK_STATUS(import(t, &pek, SEV_CERT_SIZE, big, sizeof(big)), SEV_STATUS_INVALID_LEN);
	bad = *oca; /* OCA whose self-signature is broken */
	bad.sig[0].sig[3] ^= 0x40;
	CHECK_STATUS(import(t, &pek, SEV_CERT_SIZE, &bad, SEV_CERT_SIZE), SEV_STATUS_BAD_SIGNATURE);
	sign_csr(csr, k2, &bad); /* PEK signed by another OCA than the one given */
	CHECK_STATUS(import(t, &bad, SEV_CERT_SIZE, oca, SEV_CERT_SIZE), SEV_STATUS_BAD_SIGNATURE);
	memcpy(&bad, csr, SEV_CERT_SIZE); /* not this platform's PEK: body changed, signed */
	bad.api_minor ^= 1;
	TU_CHECK_EQ(attest_sev_cert_sign(&bad, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, k1), 0);
	CHECK_STATUS(import(t, &bad, SEV_CERT_SIZE, oca, SEV_CERT_SIZE),
		     SEV_STATUS_INVALID_CERTIFICATE);
	CHECK_STATUS(import(t, &pek, SEV_CERT_SIZE, &pek, SEV_CERT_SIZE), /* a PEK as OCA */
		     SEV_STATUS_INVALID_CERTIFICATE);
	memset(&bad, 0, sizeof(bad));
	CHECK_STATUS(import(t, &pek, SEV_CERT_SIZE, &bad, SEV_CERT_SIZE),
		     SEV_STATUS_INVALID_CERTIFICATE);
	test_import_fw_order(t, csr, k1, oca, &pek);
	TU_CHECK_EQ(platform_status(t).flags & SEV_PLATFORM_FLAG_OWNER, 0);
}

static void test_ownership(struct psp_transport *t, const struct exported *before)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k1 = p384();
	_cleanup_(attest_roots_freep) struct attest_roots *roots = NULL;
	_cleanup_free_ uint8_t *csr = NULL;
	struct sev_cert oca, pek;
	struct exported x;
	struct attest_verdict v;
	const struct sev_cert *got;
	size_t len;

	TU_CHECK(to_state(t, SEV_PSTATE_INIT), "INIT");
	TU_CHECK_EQ(psp_cmd_pek_csr(t, &csr, &len, NULL), 0);
	owner_oca(k1, &oca);
	test_import_refusals(t, csr, k1, &oca);
	sign_csr(csr, k1, &pek);
	CHECK_STATUS(import(t, &pek, SEV_CERT_SIZE, &oca, SEV_CERT_SIZE), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(platform_status(t).flags & SEV_PLATFORM_FLAG_OWNER, SEV_PLATFORM_FLAG_OWNER);
	CHECK_STATUS(import(t, &pek, SEV_CERT_SIZE, &oca, SEV_CERT_SIZE), SEV_STATUS_ALREADY_OWNED);
	export_all(t, &x);
	TU_CHECK_MEM(x.oca, &oca, SEV_CERT_SIZE);
	TU_CHECK(memcmp(x.pdh, before->pdh, SEV_CERT_SIZE) != 0, "import made a new PDH");
	got = (const struct sev_cert *)x.pek;
	TU_CHECK(got->sig[0].usage == SEV_USAGE_OCA && got->sig[1].usage == SEV_USAGE_CEK,
		 "imported PEK carries the owner's and the CEK's signatures");
	roots = emu_roots(&x);
	TU_CHECK(verify(&x, roots, x.cek, &v) == 1, "owned chain does not verify: %s", v.reason);
	/* PEK_GEN takes the platform back to self-owned */
	CHECK_STATUS(fw(t, SEV_CMD_PEK_GEN, NULL), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(platform_status(t).flags & SEV_PLATFORM_FLAG_OWNER, 0);
	export_all(t, &x);
	TU_CHECK(memcmp(x.oca, &oca, SEV_CERT_SIZE) != 0, "self-signed OCA again");
	TU_CHECK(verify(&x, roots, x.cek, &v) == 1, "chain after PEK_GEN: %s", v.reason);
}

/* FACTORY_RESET deletes the owner store; the next INIT makes new OCA/PEK/PDH; the chip's
 * CEK, AMD root and ID stay. */
static void test_factory_reset(struct psp_transport *t)
{
	_cleanup_(attest_roots_freep) struct attest_roots *roots = NULL;
	struct exported a, b;
	struct attest_verdict v;

	TU_CHECK(to_state(t, SEV_PSTATE_INIT), "INIT");
	export_all(t, &a);
	CHECK_STATUS(fw(t, SEV_CMD_FACTORY_RESET, NULL), SEV_STATUS_INVALID_PLATFORM_STATE);
	TU_CHECK(to_state(t, SEV_PSTATE_UNINIT), "UNINIT");
	CHECK_STATUS(fw(t, SEV_CMD_FACTORY_RESET, NULL), SEV_STATUS_SUCCESS);
	TU_CHECK(to_state(t, SEV_PSTATE_INIT), "INIT");
	export_all(t, &b);
	TU_CHECK(memcmp(a.pdh, b.pdh, SEV_CERT_SIZE) != 0, "new PDH");
	TU_CHECK(memcmp(a.pek, b.pek, SEV_CERT_SIZE) != 0, "new PEK");
	TU_CHECK(memcmp(a.oca, b.oca, SEV_CERT_SIZE) != 0, "new OCA");
	TU_CHECK_MEM(a.cek, b.cek, SEV_CERT_SIZE);
	TU_CHECK_MEM(a.ark, b.ark, a.ark_len);
	TU_CHECK_MEM(a.id, b.id, 64);
	roots = emu_roots(&b);
	TU_CHECK(verify(&b, roots, b.cek, &v) == 1, "chain after FACTORY_RESET: %s", v.reason);
}

/* The Rome+ root format: the NV file is made first (--create-only; RSA-4096 key generation can
 * take longer than the harness waits for a socket), then the emulator starts on it. */
static void test_rome_format(void)
{
	static const char *const bits[] = { "--amd-root-bits", "4096", NULL };
	struct emu_rig r;
	struct exported x;
	char *dir = tu_mkdtemp(), *nv = path_join(dir, "nv.bin");
	char *argv[] = { (char *)tu_exe("SEV_PSP_EMU_EXE"), "--nv", nv, "--create-only",
			 "--amd-root-bits", "4096", NULL };

	TU_CHECK_EQ(tu_run(argv, NULL, NULL), 0);
	memset(&r, 0, sizeof(r));
	r.dir = dir;
	rig_restart(&r, bits);
	test_chain(r.t, &x, 4096);
	rig_down(&r);
	free(nv);
}

int main(void)
{
	struct emu_rig r;
	struct exported x;

	rig_up(&r, NULL);
	test_chain(r.t, &x, 2048);
	test_ownership(r.t, &x);
	test_factory_reset(r.t);
	rig_down(&r);
	test_rome_format();
	tu_done("emu-chain");
}
