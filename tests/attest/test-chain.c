/* Whole SEV chains and trust anchors: the roots directory layouts, the real Naples/Rome/Milan
 * chains up to AMD's roots, the failing link named in each rejection, cross-generation refusal,
 * the Naples ARK without signature, PDH_CERT_EXPORT blobs, and an emulator root that counts
 * only when named explicitly. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "attest/chain.h"
#include "attest/roots.h"
#include "common/ossl.h"
#include "common/util.h"
#include "tests/testutil.h"

static struct attest_roots *vector_roots(void)
{
	_cleanup_free_ char *dir = tu_vector_path("amd-roots");
	struct attest_roots *r = NULL;
	struct attest_verdict rv = {0};

	TU_CHECK(attest_roots_load(dir, &r, &rv) == 0, "roots: %s", attest_verdict_why(&rv, "?"));
	return r;
}

static void expect_fail(const struct attest_sev_chain *c, const struct attest_roots *roots,
			unsigned flags, const char *needle)
{
	struct attest_verdict v;
	int r = attest_sev_chain_verify(c, roots, flags, &v);

	TU_CHECK(r == 0 && !v.ok, "chain accepted, expected failure \"%s\"", needle);
	TU_CHECK(strstr(v.reason, needle) != NULL, "reason \"%s\" lacks \"%s\"", v.reason, needle);
}

static void expect_ok(const struct attest_sev_chain *c, const struct attest_roots *roots,
		      const char *gen)
{
	struct attest_verdict v;
	int r = attest_sev_chain_verify(c, roots, 0, &v);

	TU_CHECK(r == 1 && v.ok, "%s chain rejected: %s", gen, v.reason);
	TU_CHECK(strcmp(v.root_gen, gen) == 0, "reached %s, expected %s", v.root_gen, gen);
}

static void load_chain(const char *gen, struct attest_sev_chain *c)
{
	char rel[64];
	struct attest_verdict v;

	snprintf(rel, sizeof(rel), "sev-chains/%s", gen);
	_cleanup_free_ char *dir = tu_vector_path(rel);
	attest_sev_chain_init(c);
	TU_CHECK(attest_sev_chain_load_dir(c, dir, &v) == 0, "%s: %s", gen, v.reason);
}

static void test_roots_layouts(void)
{
	_cleanup_(attest_roots_freep) struct attest_roots *r = vector_roots();
	const char *order[] = { "naples", "rome", "milan", "genoa", "turin" };

	TU_CHECK_EQ(attest_roots_sev_count(r), 5);
	for (size_t i = 0; i < 5; i++) {
		const struct attest_sev_root *root = attest_roots_sev_get(r, i);
		TU_CHECK(strcmp(root->gen, order[i]) == 0, "root %zu is %s", i, root->gen);
		TU_CHECK(root->has_ask && root->amd_known && !root->emulated, "%s flags", root->gen);
	}
	TU_CHECK(strcmp(attest_roots_sev_list(r), "naples, rome, milan, genoa, turin") == 0, "%s",
		 attest_roots_sev_list(r));
	TU_CHECK_EQ(attest_roots_snp_count(r), 3);
	_cleanup_free_ char *p = attest_roots_snp_path(r, "Milan", "ark.pem");
	TU_CHECK(p && endswith(p, "/snp/milan/ark.pem"), "snp path %s", p ? p : "(none)");
	TU_CHECK(attest_roots_snp_path(r, "naples", "ark.pem") == NULL, "no SNP naples");
	TU_CHECK(attest_roots_snp_path(r, "milan", "../x") == NULL, "no path escape");
	TU_CHECK(strcmp(attest_roots_default_dir(), "") != 0, "default dir");
}

/* A roots directory with only SNP roots (or nothing) loads: no SEV roots, SNP paths found. */
static void test_roots_snp_only(void)
{
	_cleanup_free_ char *snp = tu_vector_path("amd-roots/snp");
	char *tmp = tu_mkdtemp();
	struct attest_verdict rv = {0};
	_cleanup_free_ char *link = path_join(tmp, "snp");
	struct attest_roots *r = NULL;

	TU_CHECK(symlink(snp, link) == 0, "symlink %s", link);
	TU_CHECK(attest_roots_load(tmp, &r, &rv) == 0, "SNP-only roots: %s",
		 attest_verdict_why(&rv, "?"));
	TU_CHECK_EQ(attest_roots_sev_count(r), 0);
	TU_CHECK_EQ(attest_roots_snp_count(r), 3);
	attest_roots_free(r);
	r = NULL;
	unlink(link);
	TU_CHECK(attest_roots_load(tmp, &r, &rv) == 0, "empty roots dir: %s",
		 attest_verdict_why(&rv, "?"));
	TU_CHECK_EQ(attest_roots_sev_count(r) + attest_roots_snp_count(r), 0);
	attest_roots_free(r);
	tu_rmtree(tmp);
	free(tmp);
}

static void write_tmp(const char *dir, const char *name, const uint8_t *a, size_t alen,
		      const uint8_t *b, size_t blen)
{
	_cleanup_free_ char *p = path_join(dir, name);
	_cleanup_free_ uint8_t *buf = malloc(alen + blen);
	memcpy(buf, a, alen);
	if (blen)
		memcpy(buf + alen, b, blen);
	TU_CHECK(write_file_atomic(p, buf, alen + blen, 0644) == 0, "write %s", p);
}

/* AMD's ask_ark_<gen>.cert and <gen>/{ark,ask}.cert, made here from the split vectors. */
static void test_roots_amd_download_layout(void)
{
	_cleanup_free_ char *tmp = tu_mkdtemp();
	size_t ark_len, ask_len, mark_len, mask_len;
	_cleanup_free_ uint8_t *ark = tu_read_vector("amd-roots/sev/rome/ark.cert", &ark_len);
	_cleanup_free_ uint8_t *ask = tu_read_vector("amd-roots/sev/rome/ask.cert", &ask_len);
	_cleanup_free_ uint8_t *mark = tu_read_vector("amd-roots/sev/milan/ark.cert", &mark_len);
	_cleanup_free_ uint8_t *mask = tu_read_vector("amd-roots/sev/milan/ask.cert", &mask_len);
	_cleanup_free_ char *milan = path_join(tmp, "milan");
	struct attest_roots *r = NULL;
	struct attest_verdict rv = {0};

	write_tmp(tmp, "ask_ark_rome.cert", ask, ask_len, ark, ark_len);
	TU_CHECK(mkdir(milan, 0755) == 0, "mkdir");
	write_tmp(milan, "ark.cert", mark, mark_len, NULL, 0);
	write_tmp(milan, "ask.cert", mask, mask_len, NULL, 0);
	TU_CHECK(attest_roots_load(tmp, &r, &rv) == 0, "load: %s", rv.reason);
	TU_CHECK(strcmp(attest_roots_sev_list(r), "rome, milan") == 0, "%s",
		 attest_roots_sev_list(r));

	/* The Rome chain (no ASK/ARK files) reaches the Rome root from ask_ark_rome.cert. */
	struct attest_sev_chain c;
	load_chain("rome", &c);
	expect_ok(&c, r, "rome");

	/* A chain directory holding AMD's ask_ark_rome.cert next to the platform certificates. */
	_cleanup_free_ char *chaindir = path_join(tmp, "chain");
	const char *names[] = { "pdh.cert", "pek.cert", "oca.cert", "cek.cert" };
	struct attest_verdict v;
	TU_CHECK(mkdir(chaindir, 0755) == 0, "mkdir");
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		char rel[64];
		size_t n;
		snprintf(rel, sizeof(rel), "sev-chains/rome/%s", names[i]);
		_cleanup_free_ uint8_t *b = tu_read_vector(rel, &n);
		write_tmp(chaindir, names[i], b, n, NULL, 0);
	}
	write_tmp(chaindir, "ask_ark_rome.cert", ask, ask_len, ark, ark_len);
	attest_sev_chain_init(&c);
	TU_CHECK(attest_sev_chain_load_dir(&c, chaindir, &v) == 0, "%s", v.reason);
	TU_CHECK(c.have_ask && c.have_ark && c.have_pdh, "ask_ark file loaded into the chain");
	expect_ok(&c, r, "rome");
	attest_roots_free(r);

	/* An ARK-only root: a chain must then bring its own ASK, signed by that ARK. */
	struct attest_roots *arkonly = NULL;
	_cleanup_free_ char *ark_only_dir = path_join(tmp, "arkonly");
	_cleanup_free_ char *milan2 = path_join(ark_only_dir, "milan");
	TU_CHECK(mkdir(ark_only_dir, 0755) == 0 && mkdir(milan2, 0755) == 0, "mkdir");
	write_tmp(milan2, "ark.cert", mark, mark_len, NULL, 0);
	TU_CHECK(attest_roots_load(ark_only_dir, &arkonly, &rv) == 0, "load: %s", rv.reason);
	TU_CHECK(!attest_roots_sev_get(arkonly, 0)->has_ask, "ARK only");
	load_chain("milan", &c);
	expect_ok(&c, arkonly, "milan");
	c.have_ask = c.have_ark = false;
	expect_fail(&c, arkonly, 0, "no ASK (neither in the chain nor in the root)");
	attest_roots_free(arkonly);

	/* Milan's pair under the Rome name: refused, naming the file and the mismatch. */
	write_tmp(tmp, "ask_ark_rome.cert", mask, mask_len, mark, mark_len);
	r = NULL;
	TU_CHECK(attest_roots_load(tmp, &r, &rv) < 0, "milan as rome accepted");
	TU_CHECK(strstr(rv.reason, "ask_ark_rome.cert") &&
		     strstr(rv.reason, "not AMD's rome ARK") && strstr(rv.reason, "milan"),
		 "%s", rv.reason);
	rv = (struct attest_verdict){0};

	/* A flipped byte in a root's signature: refused at load. */
	ask[ask_len - 9] ^= 0x10;
	write_tmp(tmp, "ask_ark_rome.cert", ask, ask_len, ark, ark_len);
	TU_CHECK(attest_roots_load(tmp, &r, &rv) < 0, "bad ASK accepted");
	TU_CHECK(strstr(rv.reason, "ASK is not signed by the ARK"), "%s", rv.reason);
	rv = (struct attest_verdict){0};

	/* A missing directory says where to put the files. */
	_cleanup_free_ char *none = path_join(tmp, "nope");
	TU_CHECK(attest_roots_load(none, &r, &rv) == -ENOENT, "missing dir");
	TU_CHECK(strstr(rv.reason, "ask_ark_<gen>.cert"), "%s", rv.reason);
	tu_rmtree(tmp);
}

static void test_real_chains(void)
{
	_cleanup_(attest_roots_freep) struct attest_roots *r = vector_roots();
	const char *gens[] = { "naples", "rome", "milan" };

	for (size_t i = 0; i < ELEMENTSOF(gens); i++) {
		struct attest_sev_chain c;
		load_chain(gens[i], &c);
		TU_CHECK(c.have_pdh && c.have_pek && c.have_oca && c.have_cek, "%s files", gens[i]);
		expect_ok(&c, r, gens[i]);
	}
	/* Milan brings its own ASK and ARK; they must be the trusted ones. */
	struct attest_sev_chain m;
	load_chain("milan", &m);
	TU_CHECK(m.have_ask && m.have_ark, "milan ask/ark loaded");
}

/* A chain verified under roots of other generations only must fail, naming the link. */
static void test_cross_generation(void)
{
	_cleanup_free_ char *tmp = tu_mkdtemp();
	_cleanup_(attest_roots_freep) struct attest_roots *all = vector_roots();
	struct attest_roots *rome = NULL;
	struct attest_verdict rv = {0};
	struct attest_sev_chain c;

	TU_CHECK(attest_roots_new(&rome) == 0, "new");
	_cleanup_free_ uint8_t *buf = NULL;
	size_t ark_len, ask_len;
	_cleanup_free_ uint8_t *ark = tu_read_vector("amd-roots/sev/rome/ark.cert", &ark_len);
	_cleanup_free_ uint8_t *ask = tu_read_vector("amd-roots/sev/rome/ask.cert", &ask_len);
	buf = malloc(ark_len + ask_len);
	memcpy(buf, ask, ask_len);
	memcpy(buf + ask_len, ark, ark_len);
	TU_CHECK(attest_roots_add_sev(rome, "rome", buf, ask_len + ark_len, false, "test", &rv) ==
		     0,
		 "%s", rv.reason);

	load_chain("naples", &c);
	expect_fail(&c, rome, 0, "the CEK is not signed by the ASK");
	/* Naples CEK with the Rome ASK supplied in the chain, all five roots trusted. */
	struct attest_verdict v;
	TU_CHECK(attest_sev_chain_add_blob(&c, ask, ask_len, "rome ask", &v) == 0, "%s", v.reason);
	expect_fail(&c, all, 0, "the CEK is not signed by the ASK");
	/* The Milan chain (with its ARK) under a Rome-only trust store. */
	load_chain("milan", &c);
	expect_fail(&c, rome, 0, "is not one of the trusted roots");
	/* Rome chain without ASK/ARK, roots without Rome. */
	struct attest_roots *no_rome = NULL;
	TU_CHECK(attest_roots_new(&no_rome) == 0, "new");
	_cleanup_free_ uint8_t *mark = NULL, *mask = NULL;
	size_t ml, sl;
	mark = tu_read_vector("amd-roots/sev/milan/ark.cert", &ml);
	mask = tu_read_vector("amd-roots/sev/milan/ask.cert", &sl);
	_cleanup_free_ uint8_t *pair = malloc(ml + sl);
	memcpy(pair, mark, ml);
	memcpy(pair + ml, mask, sl);
	TU_CHECK(attest_roots_add_sev(no_rome, "milan", pair, ml + sl, false, "t", &rv) == 0, "%s",
		 rv.reason);
	TU_CHECK(attest_roots_add_sev(no_rome, "naples", pair, ml + sl, false, "t", &rv) < 0,
		 "milan keys accepted as naples");
	load_chain("rome", &c);
	expect_fail(&c, no_rome, 0, "the CEK is not signed by the ASK");
	expect_fail(&c, NULL, 0, "no trusted SEV roots");
	attest_roots_free(no_rome);
	attest_roots_free(rome);
	tu_rmtree(tmp);
}

/* Each broken link is named. Offsets: 5 = api_minor (signed, not the key), 0x61C + 8 + 10 = a
 * byte inside the second signature slot (the PEK's CEK signature). */
static void test_named_links(void)
{
	_cleanup_(attest_roots_freep) struct attest_roots *r = vector_roots();
	struct attest_sev_chain c;

	load_chain("milan", &c);
	((uint8_t *)&c.pek)[5] ^= 1;
	expect_fail(&c, r, 0, "the PEK is not signed by the OCA");
	load_chain("milan", &c);
	((uint8_t *)&c.oca)[5] ^= 1;
	expect_fail(&c, r, 0, "the OCA is not self-signed");
	load_chain("milan", &c);
	((uint8_t *)&c.pdh)[5] ^= 1;
	expect_fail(&c, r, 0, "the PDH is not signed by the PEK");
	load_chain("milan", &c);
	((uint8_t *)&c.pek)[0x61C + 8 + 10] ^= 1;
	expect_fail(&c, r, 0, "the PEK is not signed by the CEK");
	load_chain("milan", &c);
	((uint8_t *)&c.cek)[5] ^= 1;
	expect_fail(&c, r, 0, "the CEK is not signed by the ASK");
	load_chain("milan", &c);
	c.ask.modulus[100] ^= 1;
	expect_fail(&c, r, 0, "the ASK is not signed by the ARK");
	load_chain("milan", &c);
	c.ark.sig[100] ^= 1;
	expect_fail(&c, r, 0, "the ARK is not self-signed");
	load_chain("milan", &c);
	c.have_pdh = false;
	expect_fail(&c, r, 0, "no PDH certificate");
	struct attest_verdict v;
	TU_CHECK(attest_sev_chain_verify(&c, r, ATTEST_CHAIN_PDH_OPTIONAL, &v) == 1, "%s", v.reason);
	c.have_oca = false;
	expect_fail(&c, r, ATTEST_CHAIN_PDH_OPTIONAL, "no OCA certificate");

	/* Any flipped bit in the signed part of the Milan PEK file fails the whole chain. */
	size_t len;
	_cleanup_free_ uint8_t *pek = tu_read_vector("sev-chains/milan/pek.cert", &len);
	for (size_t off = 0; off < SEV_CERT_SIGNED_LEN; off += 3) {
		struct attest_sev_chain f;
		load_chain("milan", &f);
		pek[off] ^= (uint8_t)(0x80u >> (off % 8));
		f.have_pek = false;
		if (attest_sev_chain_add_blob(&f, pek, len, "pek.cert", &v) == 0) {
			TU_CHECK(attest_sev_chain_verify(&f, r, 0, &v) == 0 && !v.ok,
				 "flip at 0x%zx accepted", off);
			TU_CHECK(strstr(v.reason, "PEK") != NULL, "0x%zx: %s", off, v.reason);
		} else
			TU_CHECK(strstr(v.reason, "pek.cert") != NULL, "0x%zx: %s", off, v.reason);
		pek[off] ^= (uint8_t)(0x80u >> (off % 8));
	}
}

/* The Naples ARK as AMD once published it (no signature): rejected, naming the file and the
 * missing signature. Decision: no repair — the trusted Naples ARK comes from the roots
 * directory, and a chain file that carries a broken ARK is an error the user should see. */
static void test_naples_bad_ark(void)
{
	_cleanup_free_ char *tmp = tu_mkdtemp();
	const char *names[] = { "pdh.cert", "pek.cert", "oca.cert", "cek.cert" };
	struct attest_sev_chain c;
	struct attest_verdict v;
	size_t len;

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "sev-chains/naples/%s", names[i]);
		_cleanup_free_ uint8_t *b = tu_read_vector(rel, &len);
		write_tmp(tmp, names[i], b, len, NULL, 0);
	}
	_cleanup_free_ uint8_t *bad = tu_read_vector("sev-chains/naples/ark.cert.bad", &len);
	write_tmp(tmp, "ark.cert", bad, len, NULL, 0);
	attest_sev_chain_init(&c);
	TU_CHECK(attest_sev_chain_load_dir(&c, tmp, &v) == -EBADMSG, "bad ARK loaded");
	TU_CHECK(strstr(v.reason, "ark.cert") && strstr(v.reason, "no signature"), "%s", v.reason);

	/* ark.cert.bad ‖ ark.cert.sig is the real ARK: then the chain verifies. */
	size_t slen;
	_cleanup_free_ uint8_t *sig = tu_read_vector("sev-chains/naples/ark.cert.sig", &slen);
	write_tmp(tmp, "ark.cert", bad, len, sig, slen);
	attest_sev_chain_init(&c);
	TU_CHECK(attest_sev_chain_load_dir(&c, tmp, &v) == 0, "%s", v.reason);
	_cleanup_(attest_roots_freep) struct attest_roots *r = vector_roots();
	expect_ok(&c, r, "naples");
	tu_rmtree(tmp);
}

/* PDH_CERT_EXPORT returns PEK ‖ OCA ‖ CEK; AMD publishes ASK ‖ ARK. */
static void test_blobs(void)
{
	_cleanup_(attest_roots_freep) struct attest_roots *r = vector_roots();
	const char *names[] = { "pek", "oca", "cek" };
	uint8_t blob[SEV_CERT_CHAIN_SIZE];
	struct attest_sev_chain c;
	struct attest_verdict v;
	size_t len;

	for (size_t i = 0; i < 3; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "sev-chains/rome/%s.cert", names[i]);
		_cleanup_free_ uint8_t *b = tu_read_vector(rel, &len);
		TU_CHECK_EQ(len, SEV_CERT_SIZE);
		memcpy(blob + i * SEV_CERT_SIZE, b, len);
	}
	_cleanup_free_ uint8_t *pdh = tu_read_vector("sev-chains/rome/pdh.cert", &len);
	attest_sev_chain_init(&c);
	TU_CHECK(attest_sev_chain_add_blob(&c, blob, sizeof(blob), "export", &v) == 0, "%s",
		 v.reason);
	TU_CHECK(attest_sev_chain_add_blob(&c, pdh, len, "pdh", &v) == 0, "%s", v.reason);
	expect_ok(&c, r, "rome");
	/* A second, different PEK is refused. */
	_cleanup_free_ uint8_t *npek = tu_read_vector("sev-chains/naples/pek.cert", &len);
	TU_CHECK(attest_sev_chain_add_blob(&c, npek, len, "other", &v) == -EBADMSG, "second PEK");
	TU_CHECK(strstr(v.reason, "second, different PEK"), "%s", v.reason);
	/* Truncated export blob: the reason names the offset. */
	attest_sev_chain_init(&c);
	TU_CHECK(attest_sev_chain_add_blob(&c, blob, sizeof(blob) - 1, "export", &v) == -EBADMSG,
		 "truncated");
	TU_CHECK(strstr(v.reason, "export: at byte 4168"), "%s", v.reason);

	/* ASK ‖ ARK concatenated joins a chain. */
	size_t al, kl;
	_cleanup_free_ uint8_t *ask = tu_read_vector("amd-roots/sev/rome/ask.cert", &al);
	_cleanup_free_ uint8_t *ark = tu_read_vector("amd-roots/sev/rome/ark.cert", &kl);
	_cleanup_free_ uint8_t *pair = malloc(al + kl);
	memcpy(pair, ask, al);
	memcpy(pair + al, ark, kl);
	attest_sev_chain_init(&c);
	TU_CHECK(attest_sev_chain_add_blob(&c, blob, sizeof(blob), "export", &v) == 0, "export");
	TU_CHECK(attest_sev_chain_add_blob(&c, pdh, SEV_CERT_SIZE, "pdh", &v) == 0, "pdh");
	TU_CHECK(attest_sev_chain_add_blob(&c, pair, al + kl, "ask_ark_rome.cert", &v) == 0, "%s",
		 v.reason);
	TU_CHECK(c.have_ask && c.have_ark, "ask+ark");
	expect_ok(&c, r, "rome");
}

static EVP_PKEY *keygen(const char *type, const char *arg)
{
	EVP_PKEY *k = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096)
					       : EVP_PKEY_Q_keygen(NULL, NULL, "EC", arg);
	TU_CHECK(k != NULL, "keygen");
	return k;
}

/* A hierarchy built here as sev-psp-emu builds its own: trusted only when named explicitly. */
static void test_emulator_root(void)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *kark = keygen("RSA", NULL), *kask = keygen("RSA", NULL);
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *kcek = keygen("EC", "P-384"),
				     *koca = keygen("EC", "P-384"), *kpek = keygen("EC", "P-384"),
				     *kpdh = keygen("EC", "P-384");
	_cleanup_(attest_roots_freep) struct attest_roots *r = vector_roots();
	uint8_t id_ark[16] = { 0xee, 1 }, id_ask[16] = { 0xee, 2 };
	struct attest_sev_chain c;
	struct attest_verdict v;
	struct attest_verdict rv = {0};

	attest_sev_chain_init(&c);
	TU_CHECK(attest_amd_cert_init(&c.ark, id_ark, id_ark, 0x00, kark) == 0 &&
			 attest_amd_cert_sign(&c.ark, kark) == 0 &&
			 attest_amd_cert_init(&c.ask, id_ask, id_ark, 0x13, kask) == 0 &&
			 attest_amd_cert_sign(&c.ask, kark) == 0,
		 "AMD-format root");
	TU_CHECK(attest_sev_cert_init(&c.cek, 0, 24, SEV_USAGE_CEK, SEV_ALGO_ECDSA_SHA256, kcek) ==
				 0 &&
			 attest_sev_cert_sign(&c.cek, 0, SEV_USAGE_ASK, SEV_ALGO_RSA_SHA384, kask) ==
				 0,
		 "CEK");
	TU_CHECK(attest_sev_cert_init(&c.oca, 1, 55, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, koca) ==
				 0 &&
			 attest_sev_cert_sign(&c.oca, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, koca) ==
				 0,
		 "OCA");
	TU_CHECK(attest_sev_cert_init(&c.pek, 1, 55, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256, kpek) ==
				 0 &&
			 attest_sev_cert_sign(&c.pek, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, koca) ==
				 0 &&
			 attest_sev_cert_sign(&c.pek, 1, SEV_USAGE_CEK, SEV_ALGO_ECDSA_SHA256, kcek) ==
				 0,
		 "PEK");
	TU_CHECK(attest_sev_cert_init(&c.pdh, 1, 55, SEV_USAGE_PDH, SEV_ALGO_ECDH_SHA256, kpdh) ==
				 0 &&
			 attest_sev_cert_sign(&c.pdh, 0, SEV_USAGE_PEK, SEV_ALGO_ECDSA_SHA256, kpek) ==
				 0,
		 "PDH");
	c.have_pdh = c.have_pek = c.have_oca = c.have_cek = c.have_ask = c.have_ark = true;

	/* Under AMD's roots alone: never accepted. */
	expect_fail(&c, r, 0, "is not one of the trusted roots");
	c.have_ark = false;
	expect_fail(&c, r, 0, "the ASK is not signed by any trusted ARK");
	c.have_ask = false;
	expect_fail(&c, r, 0, "the CEK is not signed by any trusted ASK");

	/* Named explicitly as the emulator's root: accepted, and the verdict says so. */
	uint8_t pair[2 * AMD_CERT_MAX_SIZE];
	size_t n1, n2;
	TU_CHECK(attest_amd_cert_encode(&c.ask, pair, sizeof(pair), &n1) == 0 &&
			 attest_amd_cert_encode(&c.ark, pair + n1, sizeof(pair) - n1, &n2) == 0,
		 "encode");
	TU_CHECK(attest_roots_add_sev(r, "emulator", pair, n1 + n2, true, "emu-root", &rv) == 0,
		 "%s", rv.reason);
	TU_CHECK(attest_sev_chain_verify(&c, r, 0, &v) == 1, "%s", v.reason);
	TU_CHECK(v.root_emulated && !v.root_amd_known && strcmp(v.root_gen, "emulator") == 0,
		 "emulated verdict");
	TU_CHECK(strstr(v.reason, "EMULATED") != NULL, "%s", v.reason);
	/* The real chains still reach their own generation with the emulator root present. */
	struct attest_sev_chain m;
	load_chain("milan", &m);
	expect_ok(&m, r, "milan");
	/* An emulator root claiming an AMD generation name without being marked emulated fails. */
	TU_CHECK(attest_roots_add_sev(r, "rome", pair, n1 + n2, false, "fake", &rv) < 0,
		 "fake rome");
	TU_CHECK(strstr(rv.reason, "not AMD's rome ARK"), "%s", rv.reason);
}

int main(void)
{
	test_roots_layouts();
	test_roots_snp_only();
	test_roots_amd_download_layout();
	test_real_chains();
	test_cross_generation();
	test_named_links();
	test_naples_bad_ark();
	test_blobs();
	test_emulator_root();
	tu_done("test-chain");
}
