/* bench-verify: verifications per second in-process, with attest/ as `sevadm verify` uses it,
 * and how many signatures each verification checks (so the rate can be set against
 * `openssl speed` for the same signature mix). Two rates per case:
 *   warm — trust anchors loaded once; each verification parses the certificates/report from
 *          memory and checks everything sevadm checks;
 *   cold — each verification also reads the files and loads (and checks) the roots directory,
 *          as one sevadm process does, minus exec and the dynamic loader.
 * Signatures are counted by wrapping EVP_DigestVerify and X509_verify at link time
 * (-Wl,--wrap), by key type: the count is what the code did, not what we think it does. Two
 * counts: every verification made (sigs_*), and the distinct signatures among them
 * (sigs_unique_*, by the signature bytes): the work a verifier cannot avoid, the limit the
 * run script sets the rate against.
 * `bench-verify once CASE ARGS...` is the process floor of `sevadm verify`: it does one cold
 * verification (read the files, load the roots, check everything) and exits 0 if it holds, 1
 * if not; nothing is printed, nothing counted beyond what the wrappers do.
 * Reads only the files named on the command line (the vectors, an exported chain).
 * Prints one JSON object. Exit 1 when a verification that should hold does not. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attest/chain.h"
#include "attest/roots.h"
#include "attest/sev-cert.h"
#include "attest/sev-report.h"
#include "attest/snp-chain.h"
#include "attest/snp-report.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"

#define FILE_MAX (1024 * 1024)

/* ---- signature counting ---- */

enum sig_kind { SIG_RSA2048, SIG_RSA4096, SIG_ECDSAP384, SIG_ECDSAP256, SIG_OTHER, SIG_MAX_ };
static const char *const sig_names[SIG_MAX_] = {"rsa2048", "rsa4096", "ecdsap384", "ecdsap256",
						"other"};
static unsigned long sig_count[SIG_MAX_], sig_unique[SIG_MAX_];

/* The signatures seen in one verification (FNV-1a of their bytes; a benchmark's bookkeeping,
 * not a security decision). */
#define SEEN_MAX 64
static uint64_t seen[SEEN_MAX];
static unsigned n_seen;

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	while (n--)
		h = (h ^ *p++) * 1099511628211ull;
	return h;
}

int __real_EVP_DigestVerify(EVP_MD_CTX *ctx, const unsigned char *sig, size_t siglen,
			    const unsigned char *tbs, size_t tbslen);
int __wrap_EVP_DigestVerify(EVP_MD_CTX *ctx, const unsigned char *sig, size_t siglen,
			    const unsigned char *tbs, size_t tbslen);
int __real_X509_verify(X509 *a, EVP_PKEY *r);
int __wrap_X509_verify(X509 *a, EVP_PKEY *r);

static void count_key(const EVP_PKEY *k, const unsigned char *sig, size_t siglen)
{
	uint64_t h = fnv1a(sig, siglen);
	bool again = false;

	enum sig_kind kind = SIG_OTHER;
	int bits = k ? EVP_PKEY_get_bits(k) : 0;

	if (k && EVP_PKEY_is_a(k, "RSA"))
		kind = bits == 2048 ? SIG_RSA2048 : bits == 4096 ? SIG_RSA4096 : SIG_OTHER;
	else if (k && EVP_PKEY_is_a(k, "EC"))
		kind = bits == 384 ? SIG_ECDSAP384 : bits == 256 ? SIG_ECDSAP256 : SIG_OTHER;
	sig_count[kind]++;
	for (unsigned i = 0; i < n_seen; i++)
		again |= seen[i] == h;
	if (!again) {
		sig_unique[kind]++;
		if (n_seen < SEEN_MAX)
			seen[n_seen++] = h;
	}
}

int __wrap_EVP_DigestVerify(EVP_MD_CTX *ctx, const unsigned char *sig, size_t siglen,
			    const unsigned char *tbs, size_t tbslen)
{
	EVP_PKEY_CTX *pctx = EVP_MD_CTX_get_pkey_ctx(ctx);

	count_key(pctx ? EVP_PKEY_CTX_get0_pkey(pctx) : NULL, sig, siglen);
	return __real_EVP_DigestVerify(ctx, sig, siglen, tbs, tbslen);
}

int __wrap_X509_verify(X509 *a, EVP_PKEY *r)
{
	const ASN1_BIT_STRING *sig = NULL;

	X509_get0_signature(&sig, NULL, a);
	count_key(r, sig ? ASN1_STRING_get0_data(sig) : NULL,
		  sig ? (size_t)ASN1_STRING_length(sig) : 0);
	return __real_X509_verify(a, r);
}

/* ---- the cases ---- */

struct blob {
	uint8_t *buf;
	size_t len;
};

struct ctx {
	const char *roots_dir, *emu_root;
	struct attest_roots *roots; /* warm: loaded once */
	/* sev-chain */
	const char *dir;
	struct blob certs[6];
	/* snp-report */
	const char *report_path, *leaf_path;
	struct blob report, leaf;
	X509 *ark, *ask;
	/* sev-report */
	const char *pek_path;
	struct blob pek;
};

static const char *const chain_files[6] = {"pdh.cert", "pek.cert", "oca.cert",
					   "cek.cert", "ask.cert", "ark.cert"};

static int load(const char *path, struct blob *b)
{
	int r = read_full_file(path, FILE_MAX, &b->buf, &b->len);

	if (r < 0)
		fprintf(stderr, "bench-verify: cannot read %s: %s\n", path, strerror(-r));
	return r;
}

static int roots_load(struct ctx *c, struct attest_roots **ret)
{
	struct attest_verdict v = {0};
	int r = attest_roots_load(c->roots_dir, ret, &v);

	if (r == 0 && c->emu_root)
		r = attest_roots_add_sev_file(*ret, "emulator", c->emu_root, true, &v);
	if (r < 0)
		fprintf(stderr, "bench-verify: roots %s: %s\n", c->roots_dir,
			attest_verdict_why(&v, "?"));
	return r;
}

/* What `sevadm verify chain DIR` checks for a SEV chain (cli/verb-verify.c): the chain, then
 * each platform link its checklist lists (verified there only if the chain's check did not). */
static bool sev_chain_check(const struct attest_sev_chain *ch, const struct attest_roots *roots)
{
	struct attest_sev_link_result links[ATTEST_LINK_MAX_] = {};
	struct attest_verdict v;
	bool ok = true;

	if (attest_sev_chain_verify_links(ch, roots, 0, &v, links) != 1) {
		fprintf(stderr, "bench-verify: chain: %s\n", v.reason);
		return false;
	}
	if (ch->have_oca)
		ok &= attest_sev_chain_link(ch, ATTEST_LINK_OCA_SELF, &links[ATTEST_LINK_OCA_SELF]) == 1;
	if (ch->have_pek && ch->have_oca)
		ok &= attest_sev_chain_link(ch, ATTEST_LINK_PEK_BY_OCA,
					    &links[ATTEST_LINK_PEK_BY_OCA]) == 1;
	if (ch->have_pek && ch->have_cek)
		ok &= attest_sev_chain_link(ch, ATTEST_LINK_PEK_BY_CEK,
					    &links[ATTEST_LINK_PEK_BY_CEK]) == 1;
	if (ch->have_pdh && ch->have_pek)
		ok &= attest_sev_chain_link(ch, ATTEST_LINK_PDH_BY_PEK,
					    &links[ATTEST_LINK_PDH_BY_PEK]) == 1;
	return ok;
}

static bool sev_chain_warm(struct ctx *c)
{
	struct attest_sev_chain ch;
	struct attest_verdict v;

	attest_sev_chain_init(&ch);
	for (size_t i = 0; i < ELEMENTSOF(c->certs); i++)
		if (c->certs[i].buf &&
		    attest_sev_chain_add_blob(&ch, c->certs[i].buf, c->certs[i].len, chain_files[i],
					      &v) < 0)
			return false;
	return sev_chain_check(&ch, c->roots);
}

static bool sev_chain_cold(struct ctx *c)
{
	_cleanup_(attest_roots_freep) struct attest_roots *roots = NULL;
	struct attest_sev_chain ch;
	struct attest_verdict v;

	if (roots_load(c, &roots) < 0)
		return false;
	attest_sev_chain_init(&ch);
	if (attest_sev_chain_load_dir(&ch, c->dir, &v) < 0)
		return false;
	return sev_chain_check(&ch, roots);
}

/* What `sevadm verify report R --vcek V` checks for an SNP report: the signature, the chain
 * ARK (self) → ASK → VCEK, and that the VCEK belongs to the report. */
static bool snp_check(const struct blob *report, const struct blob *leaf, X509 *ark, X509 *ask)
{
	_cleanup_(X509_freep) X509 *vcek = NULL;
	uint8_t raw[SNP_REPORT_SIZE];
	struct snp_report r;
	struct snp_chain_verdict cv;
	struct snp_vcek_info info;
	bool hw;

	if (attest_snp_report_bytes(report->buf, report->len, raw, NULL) < 0 ||
	    attest_snp_cert_parse(leaf->buf, leaf->len, &vcek, NULL) < 0 ||
	    attest_snp_report_parse(raw, sizeof(raw), attest_snp_cert_gen(vcek), &r, NULL) < 0)
		return false;
	if (attest_snp_report_verify(&r, X509_get0_pubkey(vcek), NULL) != 1 ||
	    attest_snp_chain_verify(ark, ask, vcek, &cv) != 1 ||
	    attest_snp_vcek_info(vcek, &info, NULL) < 0 ||
	    attest_snp_vcek_check_report(&info, &r, &hw, NULL) != 1)
		return false;
	return true;
}

static int load_x509(const char *path, X509 **ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;

	if (!path || read_full_file(path, FILE_MAX, &buf, &len) < 0)
		return -ENOENT;
	return attest_snp_cert_parse(buf, len, ret, NULL);
}

static int snp_anchors(struct ctx *c, X509 **ark, X509 **ask)
{
	_cleanup_(X509_freep) X509 *leaf = NULL;
	_cleanup_free_ char *ark_path = NULL, *ask_path = NULL;
	const char *g;

	if (load_x509(c->leaf_path, &leaf) < 0)
		return -EBADMSG;
	g = attest_snp_gen_name(attest_snp_cert_gen(leaf));
	ark_path = attest_roots_snp_path(c->roots, g, "ark.pem");
	ask_path = attest_roots_snp_path(c->roots, g, "ask.pem");
	if (load_x509(ark_path, ark) < 0 || load_x509(ask_path, ask) < 0)
		return -ENOENT;
	return 0;
}

static bool snp_warm(struct ctx *c)
{
	return snp_check(&c->report, &c->leaf, c->ark, c->ask);
}

static bool snp_cold(struct ctx *c)
{
	_cleanup_(attest_roots_freep) struct attest_roots *roots = NULL;
	_cleanup_(X509_freep) X509 *ark = NULL, *ask = NULL;
	struct blob rep = {}, leaf = {};
	struct attest_roots *saved = c->roots;
	bool ok = false;

	if (roots_load(c, &roots) < 0)
		return false;
	c->roots = roots;
	if (load(c->report_path, &rep) == 0 && load(c->leaf_path, &leaf) == 0 &&
	    snp_anchors(c, &ark, &ask) == 0)
		ok = snp_check(&rep, &leaf, ark, ask);
	c->roots = saved;
	free(rep.buf);
	free(leaf.buf);
	return ok;
}

/* `sevadm verify report R --pek P` for a legacy SEV report: the PEK's signature only. */
static bool sev_report_check(const struct blob *report, const struct blob *pekb)
{
	struct sev_attestation_report rep;
	struct sev_cert pek;
	struct attest_verdict v;

	return attest_sev_report_parse(report->buf, report->len, &rep, NULL) == 0 &&
	       attest_sev_cert_parse(pekb->buf, pekb->len, &pek, NULL) == 0 &&
	       attest_sev_report_verify(&rep, &pek, NULL, NULL, &v) == 1;
}

static bool sev_report_warm(struct ctx *c)
{
	return sev_report_check(&c->report, &c->pek);
}

static bool sev_report_cold(struct ctx *c)
{
	struct blob rep = {}, pek = {};
	bool ok = load(c->report_path, &rep) == 0 && load(c->pek_path, &pek) == 0 &&
		  sev_report_check(&rep, &pek);

	free(rep.buf);
	free(pek.buf);
	return ok;
}

/* ---- timing ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run fn for `seconds`; the rate, and the signatures of one call in counts[]. */
static int measure(bool (*fn)(struct ctx *), struct ctx *c, double seconds, double *ret_rate,
		   unsigned long counts[SIG_MAX_], unsigned long unique[SIG_MAX_])
{
	unsigned long n = 0;
	double t0, t;

	memset(sig_count, 0, sizeof(sig_count));
	memset(sig_unique, 0, sizeof(sig_unique));
	n_seen = 0;
	if (!fn(c))
		return -EBADMSG;
	memcpy(counts, sig_count, sizeof(sig_count));
	memcpy(unique, sig_unique, sizeof(sig_unique));
	t0 = now_s();
	do {
		if (!fn(c))
			return -EBADMSG;
		n++;
		t = now_s();
	} while (t - t0 < seconds);
	*ret_rate = (double)n / (t - t0);
	return 0;
}

static void print_counts(const char *name, const unsigned long counts[SIG_MAX_])
{
	unsigned long total = 0;

	printf("\"%s\":{", name);
	for (int i = 0; i < SIG_MAX_; i++) {
		printf("\"%s\":%lu,", sig_names[i], counts[i]);
		total += counts[i];
	}
	printf("\"total\":%lu}", total);
}

static void usage(void)
{
	printf("Usage: bench-verify SECONDS|once sev-chain DIR ROOTS_DIR [EMULATOR_ROOT]\n"
	       "       bench-verify SECONDS|once snp-report REPORT VCEK ROOTS_DIR\n"
	       "       bench-verify SECONDS|once sev-report REPORT PEK_CERT\n");
}

static int setup(struct ctx *c, int argc, char **argv, bool (**warm)(struct ctx *),
		 bool (**cold)(struct ctx *))
{
	const char *mode = argv[2];

	if (!strcmp(mode, "sev-chain") && (argc == 5 || argc == 6)) {
		c->dir = argv[3], c->roots_dir = argv[4], c->emu_root = argc == 6 ? argv[5] : NULL;
		for (size_t i = 0; i < ELEMENTSOF(c->certs); i++) {
			_cleanup_free_ char *p = path_join(c->dir, chain_files[i]);
			if (p && access(p, F_OK) == 0 && load(p, &c->certs[i]) < 0)
				return -EIO;
		}
		*warm = sev_chain_warm, *cold = sev_chain_cold;
		return roots_load(c, &c->roots);
	}
	if (!strcmp(mode, "snp-report") && argc == 6) {
		c->report_path = argv[3], c->leaf_path = argv[4], c->roots_dir = argv[5];
		*warm = snp_warm, *cold = snp_cold;
		if (load(c->report_path, &c->report) < 0 || load(c->leaf_path, &c->leaf) < 0 ||
		    roots_load(c, &c->roots) < 0)
			return -EIO;
		return snp_anchors(c, &c->ark, &c->ask);
	}
	if (!strcmp(mode, "sev-report") && argc == 5) {
		c->report_path = argv[3], c->pek_path = argv[4];
		*warm = sev_report_warm, *cold = sev_report_cold;
		if (load(c->report_path, &c->report) < 0 || load(c->pek_path, &c->pek) < 0)
			return -EIO;
		return 0;
	}
	usage();
	return -EINVAL;
}

/* `once`: only the cold path of one case, as one sevadm process runs it (the paths are set
 * here, nothing is loaded before). */
static int once(int argc, char **argv)
{
	struct ctx c = {};
	const char *mode = argv[2];
	bool ok;

	if (!strcmp(mode, "sev-chain") && (argc == 5 || argc == 6)) {
		c.dir = argv[3], c.roots_dir = argv[4], c.emu_root = argc == 6 ? argv[5] : NULL;
		ok = sev_chain_cold(&c);
	} else if (!strcmp(mode, "snp-report") && argc == 6) {
		c.report_path = argv[3], c.leaf_path = argv[4], c.roots_dir = argv[5];
		ok = snp_cold(&c);
	} else if (!strcmp(mode, "sev-report") && argc == 5) {
		c.report_path = argv[3], c.pek_path = argv[4];
		ok = sev_report_cold(&c);
	} else {
		usage();
		return 2;
	}
	if (!ok)
		fprintf(stderr, "bench-verify: once %s: a verification that must hold failed\n",
			mode);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct ctx c = {};
	bool (*warm)(struct ctx *), (*cold)(struct ctx *);
	unsigned long cw[SIG_MAX_], cc[SIG_MAX_], uw[SIG_MAX_], uc[SIG_MAX_];
	double seconds, rw, rc;

	if (argc < 3) {
		usage();
		return 2;
	}
	if (!strcmp(argv[1], "once"))
		return once(argc, argv);
	seconds = strtod(argv[1], NULL);
	if (seconds <= 0 || setup(&c, argc, argv, &warm, &cold) < 0) {
		fprintf(stderr, "bench-verify: cannot set up %s\n", argv[2]);
		return 2;
	}
	if (measure(warm, &c, seconds, &rw, cw, uw) < 0 ||
	    measure(cold, &c, seconds, &rc, cc, uc) < 0) {
		fprintf(stderr, "bench-verify: %s: a verification that must hold failed\n",
			argv[2]);
		return 1;
	}
	printf("{\"case\":\"%s\",\"warm_per_s\":%.1f,\"cold_per_s\":%.1f,", argv[2], rw, rc);
	print_counts("sigs_warm", cw);
	printf(",");
	print_counts("sigs_cold", cc);
	printf(",");
	print_counts("sigs_unique_warm", uw);
	printf(",");
	print_counts("sigs_unique_cold", uc);
	printf("}\n");
	attest_roots_free(c.roots);
	X509_free(c.ark);
	X509_free(c.ask);
	for (size_t i = 0; i < ELEMENTSOF(c.certs); i++)
		free(c.certs[i].buf);
	free(c.report.buf);
	free(c.leaf.buf);
	free(c.pek.buf);
	return 0;
}
