/* Single certificates against real AMD data (../shared/vectors, MANIFEST.md): the AMD roots
 * of all five generations, the Naples/Rome/Milan platform certificates link by link, reversed
 * pairs, cross-generation CEKs, flipped bytes; and round trips of certificates built here. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "attest/amd-cert.h"
#include "attest/sev-cert.h"
#include "common/ossl.h"
#include "tests/testutil.h"

static const char *const gens[] = { "naples", "rome", "milan", "genoa", "turin" };

static void load_amd(const char *rel, struct amd_cert *c, uint8_t **raw, size_t *raw_len)
{
	struct attest_verdict why = {0};
	size_t len, used = 0;
	uint8_t *buf = tu_read_vector(rel, &len);

	TU_CHECK(attest_amd_cert_parse(buf, len, c, &used, &why) == 0, "%s: %s", rel, why.reason);
	TU_CHECK_EQ(used, len);
	if (raw) {
		*raw = buf;
		*raw_len = len;
	} else
		free(buf);
}

static void load_sev(const char *rel, struct sev_cert *c)
{
	struct attest_verdict why = {0};
	size_t len;
	uint8_t *buf = tu_read_vector(rel, &len);

	TU_CHECK(attest_sev_cert_parse(buf, len, c, &why) == 0, "%s: %s", rel, why.reason);
	free(buf);
}

/* MANIFEST amd-roots/sev: self-signature, ARK->ASK, reversed fails, byte-exact round trip. */
static void test_amd_roots(void)
{
	for (size_t i = 0; i < ELEMENTSOF(gens); i++) {
		char p[128];
		struct amd_cert ark, ask;
		uint8_t *raw, out[AMD_CERT_MAX_SIZE];
		size_t raw_len, out_len;
		struct attest_verdict why = {0};

		snprintf(p, sizeof(p), "amd-roots/sev/%s/ark.cert", gens[i]);
		load_amd(p, &ark, &raw, &raw_len);
		TU_CHECK(attest_amd_cert_encode(&ark, out, sizeof(out), &out_len) == 0, "encode");
		TU_CHECK(out_len == raw_len && memcmp(out, raw, raw_len) == 0, "%s round trip", p);
		TU_CHECK_EQ(attest_amd_cert_size(&ark), raw_len);
		free(raw);
		snprintf(p, sizeof(p), "amd-roots/sev/%s/ask.cert", gens[i]);
		load_amd(p, &ask, &raw, &raw_len);
		TU_CHECK(attest_amd_cert_encode(&ask, out, sizeof(out), &out_len) == 0, "encode");
		TU_CHECK(out_len == raw_len && memcmp(out, raw, raw_len) == 0, "%s round trip", p);
		free(raw);

		TU_CHECK_EQ(ark.key_usage, 0x00);
		TU_CHECK_EQ(ask.key_usage, 0x13);
		TU_CHECK(attest_amd_cert_verify(&ark, &ark, &why) == 1, "%s ARK self: %s", gens[i],
			 why.reason);
		TU_CHECK(attest_amd_cert_verify(&ask, &ark, &why) == 1, "%s ARK->ASK: %s", gens[i],
			 why.reason);
		why = (struct attest_verdict){0};
		TU_CHECK(attest_amd_cert_verify(&ark, &ask, &why) == 0 && why.reason[0],
			 "%s reversed", gens[i]);
		TU_CHECK(strstr(why.reason, "ARK") != NULL, "reason names the signer role: %s",
			 why.reason);
		/* Same ids but a flipped modulus byte: the signature must catch it. */
		struct amd_cert bad = ask;
		bad.modulus[17] ^= 0x01;
		why = (struct attest_verdict){0};
		TU_CHECK(attest_amd_cert_verify(&bad, &ark, &why) == 0 && why.reason[0],
			 "flipped ASK");
		TU_CHECK(strstr(why.reason, "signature") != NULL, "%s", why.reason);
		/* Every root must fail under every other generation's ARK. */
		for (size_t j = 0; j < ELEMENTSOF(gens); j++) {
			struct amd_cert other;
			if (j == i)
				continue;
			snprintf(p, sizeof(p), "amd-roots/sev/%s/ark.cert", gens[j]);
			load_amd(p, &other, NULL, NULL);
			TU_CHECK(attest_amd_cert_verify(&ask, &other, &why) == 0,
				 "%s ASK verified under %s ARK", gens[i], gens[j]);
		}
	}
}

static void test_chain_links(const char *gen, bool has_cek_sig_384)
{
	struct sev_cert pdh, pek, oca, cek;
	struct amd_cert ask;
	char p[128];
	struct attest_verdict why = {0};
	struct attest_verdict v = {0};
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *kpek = NULL, *koca = NULL, *kcek = NULL, *kpdh = NULL;

#define LOAD(x) snprintf(p, sizeof(p), "sev-chains/%s/" #x ".cert", gen), load_sev(p, &x)
	LOAD(pdh);
	LOAD(pek);
	LOAD(oca);
	LOAD(cek);
#undef LOAD
	snprintf(p, sizeof(p), "amd-roots/sev/%s/ask.cert", gen);
	load_amd(p, &ask, NULL, NULL);
	TU_CHECK_EQ(pdh.pubkey_usage, SEV_USAGE_PDH);
	TU_CHECK_EQ(cek.sig[0].algo, has_cek_sig_384 ? SEV_ALGO_RSA_SHA384 : SEV_ALGO_RSA_SHA256);
	TU_CHECK(attest_sev_cert_pubkey(&pek, &kpek) == 0, "PEK key");
	TU_CHECK(attest_sev_cert_pubkey(&oca, &koca) == 0, "OCA key");
	TU_CHECK(attest_sev_cert_pubkey(&cek, &kcek) == 0, "CEK key");
	TU_CHECK(attest_sev_cert_pubkey(&pdh, &kpdh) == 0, "PDH key");
	TU_CHECK_EQ(EVP_PKEY_get_bits(kpdh), 384);

	TU_CHECK(attest_sev_cert_verify(&oca, SEV_USAGE_OCA, koca, &why) == 1, "%s OCA: %s", gen,
		 why.reason);
	TU_CHECK(attest_sev_cert_verify(&pek, SEV_USAGE_OCA, koca, &why) == 1, "%s OCA->PEK: %s", gen,
		 why.reason);
	TU_CHECK(attest_sev_cert_verify(&pek, SEV_USAGE_CEK, kcek, &why) == 1, "%s CEK->PEK: %s", gen,
		 why.reason);
	TU_CHECK(attest_sev_cert_verify(&pdh, SEV_USAGE_PEK, kpek, &why) == 1, "%s PEK->PDH: %s", gen,
		 why.reason);
	TU_CHECK(attest_amd_verify_cek(&cek, &ask, &v) == 1, "%s ASK->CEK: %s", gen, v.reason);

	/* Reversed pairs: no slot names the reversed signer, so each fails with a reason. */
	why = (struct attest_verdict){0};
	TU_CHECK(attest_sev_cert_verify(&cek, SEV_USAGE_PEK, kpek, &why) == 0 && why.reason[0],
		 "PEK->CEK");
	why = (struct attest_verdict){0};
	TU_CHECK(attest_sev_cert_verify(&oca, SEV_USAGE_PEK, kpek, &why) == 0 && why.reason[0],
		 "PEK->OCA");
	why = (struct attest_verdict){0};
	TU_CHECK(attest_sev_cert_verify(&pek, SEV_USAGE_PDH, kpdh, &why) == 0 && why.reason[0],
		 "PDH->PEK");
	/* Right slot, wrong key: the signature itself must fail. */
	why = (struct attest_verdict){0};
	TU_CHECK(attest_sev_cert_verify(&pek, SEV_USAGE_OCA, kcek, &why) == 0 && why.reason[0],
		 "CEK as OCA");
	TU_CHECK(strstr(why.reason, "does not verify") != NULL, "%s", why.reason);
}

/* A CEK verifies only under its own generation's ASK. */
static void test_cross_generation(void)
{
	const char *chains[] = { "naples", "rome", "milan" };

	for (size_t i = 0; i < ELEMENTSOF(chains); i++) {
		struct sev_cert cek;
		char p[128];
		snprintf(p, sizeof(p), "sev-chains/%s/cek.cert", chains[i]);
		load_sev(p, &cek);
		for (size_t j = 0; j < ELEMENTSOF(gens); j++) {
			struct amd_cert ask;
			struct attest_verdict why = {0};
			snprintf(p, sizeof(p), "amd-roots/sev/%s/ask.cert", gens[j]);
			load_amd(p, &ask, NULL, NULL);
			int r = attest_amd_verify_cek(&cek, &ask, &why);
			if (strcmp(chains[i], gens[j]) == 0)
				TU_CHECK(r == 1, "%s CEK under own ASK: %s", chains[i], why.reason);
			else
				TU_CHECK(r == 0 && why.reason[0],
					 "%s CEK verified under the %s ASK", chains[i], gens[j]);
		}
	}
}

/* Any flipped byte in [0, 0x414) of the Milan PEK: parse rejects it or both signatures fail. */
static void test_flipped_pek(void)
{
	struct sev_cert oca, cek;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *koca = NULL, *kcek = NULL;
	size_t len;
	uint8_t *raw = tu_read_vector("sev-chains/milan/pek.cert", &len);

	load_sev("sev-chains/milan/oca.cert", &oca);
	load_sev("sev-chains/milan/cek.cert", &cek);
	TU_CHECK(attest_sev_cert_pubkey(&oca, &koca) == 0, "OCA key");
	TU_CHECK(attest_sev_cert_pubkey(&cek, &kcek) == 0, "CEK key");
	for (size_t off = 0; off < SEV_CERT_SIGNED_LEN; off += 7) {
		for (int bit = 0; bit < 8; bit += 7) {
			struct sev_cert pek;
			struct attest_verdict why = {0};
			raw[off] ^= (uint8_t)(1u << bit);
			if (attest_sev_cert_parse(raw, len, &pek, &why) == 0) {
				TU_CHECK(attest_sev_cert_verify(&pek, SEV_USAGE_OCA, koca, &why) == 0,
					 "flip at 0x%zx verified under the OCA", off);
				TU_CHECK(why.reason[0], "reason at 0x%zx", off);
				why = (struct attest_verdict){0};
				TU_CHECK(attest_sev_cert_verify(&pek, SEV_USAGE_CEK, kcek, &why) == 0,
					 "flip at 0x%zx verified under the CEK", off);
			}
			TU_CHECK(why.reason[0], "no reason for flip at 0x%zx", off);
			raw[off] ^= (uint8_t)(1u << bit);
		}
	}
	free(raw);
}

static void test_parse_rejects(void)
{
	size_t len;
	uint8_t *raw = tu_read_vector("sev-chains/rome/pek.cert", &len);
	struct sev_cert c;
	struct attest_verdict why = {0};

	TU_CHECK(attest_sev_cert_parse(raw, len - 1, &c, &why) == -EBADMSG && why.reason[0],
		 "short");
	raw[0] = 2;
	TU_CHECK(attest_sev_cert_parse(raw, len, &c, &why) == -EBADMSG, "version 2");
	TU_CHECK(strstr(why.reason, "version") != NULL, "%s", why.reason);
	raw[0] = 1;
	raw[0x10] = 7; /* curve */
	TU_CHECK(attest_sev_cert_parse(raw, len, &c, &why) == -EBADMSG, "curve 7");
	TU_CHECK(strstr(why.reason, "curve") != NULL, "%s", why.reason);
	raw[0x10] = 2;
	raw[0x0C] = 3; /* a PEK with an ECDH key */
	TU_CHECK(attest_sev_cert_parse(raw, len, &c, &why) == -EBADMSG, "PEK with ECDH");
	TU_CHECK(strstr(why.reason, "usage") != NULL, "%s", why.reason);
	raw[0x0C] = 2;
	raw[0x14 + 47] ^= 0x40; /* qx: the point leaves the curve */
	TU_CHECK(attest_sev_cert_parse(raw, len, &c, &why) == 0, "parse is structural");
	EVP_PKEY *k = NULL;
	TU_CHECK(attest_sev_cert_pubkey(&c, &k) == -EBADMSG, "off-curve point accepted");
	free(raw);

	/* The Naples ARK as AMD once published it: no signature. */
	struct amd_cert a;
	struct attest_verdict v = {0};
	raw = tu_read_vector("sev-chains/naples/ark.cert.bad", &len);
	TU_CHECK(attest_amd_cert_parse(raw, len, &a, NULL, &v) == -EBADMSG, "ark.cert.bad parsed");
	TU_CHECK(strstr(v.reason, "no signature"), "%s", v.reason);
	free(raw);
}

/* Certificates built and signed here, as the emulator builds its hierarchy. */
static EVP_PKEY *gen_key(const char *type, const char *arg)
{
	EVP_PKEY *k = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)atoi(arg))
						 : EVP_PKEY_Q_keygen(NULL, NULL, "EC", arg);
	TU_CHECK(k != NULL, "keygen %s %s", type, arg);
	return k;
}

static void test_build_roundtrip(int bits)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *kark = gen_key("RSA", bits == 2048 ? "2048" : "4096");
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *kask = gen_key("RSA", bits == 2048 ? "2048" : "4096");
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *kcek = gen_key("EC", "P-384");
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *kpek = gen_key("EC", "P-384");
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *kpdh = gen_key("EC", "P-384");
	uint8_t id_ark[16] = { 1, 2, 3 }, id_ask[16] = { 4, 5, 6 };
	struct amd_cert ark, ask, ark2;
	struct sev_cert cek, pek, pdh, back;
	uint8_t enc[AMD_CERT_MAX_SIZE];
	size_t enc_len, used;
	struct attest_verdict why = {0};
	struct attest_verdict v = {0};
	uint32_t rsa_algo = bits == 2048 ? SEV_ALGO_RSA_SHA256 : SEV_ALGO_RSA_SHA384;

	TU_CHECK(attest_amd_cert_init(&ark, id_ark, id_ark, 0x00, kark) == 0, "ark init");
	TU_CHECK(attest_amd_cert_sign(&ark, kark) == 0, "ark sign");
	TU_CHECK(attest_amd_cert_init(&ask, id_ask, id_ark, 0x13, kask) == 0, "ask init");
	TU_CHECK(attest_amd_cert_sign(&ask, kark) == 0, "ask sign");
	TU_CHECK(attest_amd_cert_verify(&ark, &ark, &v) == 1, "ark self: %s", v.reason);
	TU_CHECK(attest_amd_cert_verify(&ask, &ark, &v) == 1, "ark->ask: %s", v.reason);
	TU_CHECK(attest_amd_cert_encode(&ark, enc, sizeof(enc), &enc_len) == 0, "encode");
	TU_CHECK_EQ(enc_len, 0x40 + 3 * (size_t)bits / 8);
	TU_CHECK(attest_amd_cert_parse(enc, enc_len, &ark2, &used, &v) == 0, "reparse: %s",
		 v.reason);
	TU_CHECK(memcmp(&ark, &ark2, sizeof(ark)) == 0, "AMD cert round trip");

	TU_CHECK(attest_sev_cert_init(&cek, 0, 14, SEV_USAGE_CEK, SEV_ALGO_ECDSA_SHA256, kcek) == 0,
		 "cek init");
	TU_CHECK(attest_sev_cert_sign(&cek, 0, SEV_USAGE_ASK, rsa_algo, kask) == 0, "cek sign");
	TU_CHECK(attest_amd_verify_cek(&cek, &ask, &v) == 1, "ask->cek: %s", v.reason);
	TU_CHECK(attest_amd_verify_cek(&cek, &ark, &v) == 0, "ARK as CEK signer");
	TU_CHECK(attest_sev_cert_init(&pek, 1, 51, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256, kpek) == 0,
		 "pek init");
	TU_CHECK(attest_sev_cert_sign(&pek, 1, SEV_USAGE_CEK, SEV_ALGO_ECDSA_SHA256, kcek) == 0, "s");
	TU_CHECK(attest_sev_cert_init(&pdh, 1, 51, SEV_USAGE_PDH, SEV_ALGO_ECDH_SHA256, kpdh) == 0,
		 "pdh init");
	TU_CHECK(attest_sev_cert_sign(&pdh, 0, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256, kpek) == 0, "s");
	TU_CHECK(attest_sev_cert_parse((const uint8_t *)&pdh, sizeof(pdh), &back, &why) == 0, "%s",
		 why.reason);
	TU_CHECK(attest_sev_cert_verify(&pek, SEV_USAGE_CEK, kcek, &why) == 1, "cek->pek: %s",
		 why.reason);
	TU_CHECK(attest_sev_cert_verify(&back, SEV_USAGE_PEK, kpek, &why) == 1, "pek->pdh: %s",
		 why.reason);
	TU_CHECK(attest_sev_cert_verify(&back, SEV_USAGE_PEK, kcek, &why) == 0, "wrong key");

	/* The public key survives the little-endian encoding unchanged. */
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *kback = NULL;
	TU_CHECK(attest_sev_cert_pubkey(&back, &kback) == 0, "pdh key back");
	TU_CHECK(EVP_PKEY_eq(kback, kpdh) == 1, "PDH key round trip");
}

/* Every certificate of the vectors, any flipped byte of its signed part (sampled with a stride
 * that visits every field): rejected by the parser or by its signer, each time with a reason. */
static void flip_sev(const char *gen, const char *name, uint32_t signer_usage, EVP_PKEY *signer,
		     const struct amd_cert *ask)
{
	char rel[96];
	size_t len;

	snprintf(rel, sizeof(rel), "sev-chains/%s/%s.cert", gen, name);
	uint8_t *raw = tu_read_vector(rel, &len);
	for (size_t off = 0; off < SEV_CERT_SIGNED_LEN; off += 11) {
		struct sev_cert c;
		struct attest_verdict v = {0};
		int r;
		raw[off] ^= 0x10;
		if (attest_sev_cert_parse(raw, len, &c, &v) == 0)
			r = ask ? attest_amd_verify_cek(&c, ask, &v)
				: attest_sev_cert_verify(&c, signer_usage, signer, &v);
		else
			r = 0;
		TU_CHECK(r == 0 && v.reason[0], "%s: flip at 0x%zx accepted", rel, off);
		raw[off] ^= 0x10;
	}
	free(raw);
}

static void test_flip_every_vector(void)
{
	const char *chains[] = { "naples", "rome", "milan" };

	for (size_t i = 0; i < ELEMENTSOF(chains); i++) {
		struct sev_cert pek, oca;
		struct amd_cert ask;
		char p[96];
		_cleanup_(EVP_PKEY_freep) EVP_PKEY *kpek = NULL, *koca = NULL;

		snprintf(p, sizeof(p), "sev-chains/%s/pek.cert", chains[i]);
		load_sev(p, &pek);
		snprintf(p, sizeof(p), "sev-chains/%s/oca.cert", chains[i]);
		load_sev(p, &oca);
		snprintf(p, sizeof(p), "amd-roots/sev/%s/ask.cert", chains[i]);
		load_amd(p, &ask, NULL, NULL);
		TU_CHECK(attest_sev_cert_pubkey(&pek, &kpek) == 0 &&
				 attest_sev_cert_pubkey(&oca, &koca) == 0,
			 "keys");
		flip_sev(chains[i], "pdh", SEV_USAGE_PEK, kpek, NULL);
		flip_sev(chains[i], "oca", SEV_USAGE_OCA, koca, NULL);
		flip_sev(chains[i], "cek", 0, NULL, &ask);
	}
	for (size_t i = 0; i < ELEMENTSOF(gens); i++) {
		char p[96];
		struct amd_cert ark, ask;
		uint8_t *raw;
		size_t len;
		snprintf(p, sizeof(p), "amd-roots/sev/%s/ark.cert", gens[i]);
		load_amd(p, &ark, NULL, NULL);
		snprintf(p, sizeof(p), "amd-roots/sev/%s/ask.cert", gens[i]);
		load_amd(p, &ask, &raw, &len);
		for (size_t off = 0; off < len; off += 13) {
			struct amd_cert c;
			struct attest_verdict why = {0};
			size_t used;
			raw[off] ^= 0x01;
			int r = attest_amd_cert_parse(raw, len, &c, &used, &why) == 0 && used == len
					? attest_amd_cert_verify(&c, &ark, &why)
					: 0;
			TU_CHECK(r == 0 && why.reason[0], "%s ASK: flip at 0x%zx accepted", gens[i],
				 off);
			raw[off] ^= 0x01;
		}
		free(raw);
	}
}

/* Every SEV certificate sev-tool produced parses; its GODH carries a signature by its own key
 * in the PEK slot (sev-tool's convention), and its PDH is signed by a PEK. */
static void test_sev_tool_certs(void)
{
	static const char *const certs[] = {
		"sev-tool/attestation/pek_csr.cert",	"sev-tool/attestation/pek.cert",
		"sev-tool/package_secret/PS1/pek.cert", "sev-tool/package_secret/PS2/pek.cert",
		"sev-tool/package_secret/PS4/pek.cert", "sev-tool/launch_blob/synthetic_pdh.cert",
		"sev-tool/launch_blob/LB1/pdh.cert",	"sev-tool/launch_blob/LB1/godh.cert",
		"sev-tool/launch_blob/LB2/pdh.cert",	"sev-tool/launch_blob/LB2/godh.cert",
	};
	for (size_t i = 0; i < ELEMENTSOF(certs); i++) {
		struct sev_cert c;
		_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
		load_sev(certs[i], &c);
		TU_CHECK(attest_sev_cert_pubkey(&c, &k) == 0, "%s key", certs[i]);
	}
	struct sev_cert godh, csr;
	struct attest_verdict why = {0};
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *kg = NULL;
	load_sev("sev-tool/launch_blob/LB1/godh.cert", &godh);
	TU_CHECK(attest_sev_cert_pubkey(&godh, &kg) == 0, "godh key");
	TU_CHECK(attest_sev_cert_verify(&godh, SEV_USAGE_PEK, kg, &why) == 1, "GODH self: %s",
		 why.reason);
	/* A CSR has no signature at all: every signer is refused with a reason. */
	load_sev("sev-tool/attestation/pek_csr.cert", &csr);
	why = (struct attest_verdict){0};
	TU_CHECK(attest_sev_cert_verify(&csr, SEV_USAGE_OCA, kg, &why) == 0 && why.reason[0],
		 "CSR signed?");
	TU_CHECK(strstr(why.reason, "no signature slot") != NULL, "%s", why.reason);
}

int main(void)
{
	test_amd_roots();
	test_chain_links("naples", false);
	test_chain_links("rome", true);
	test_chain_links("milan", true);
	test_cross_generation();
	test_flipped_pek();
	test_flip_every_vector();
	test_parse_rejects();
	test_sev_tool_certs();
	test_build_roundtrip(2048);
	test_build_roundtrip(4096);
	tu_done("test-certs");
}
