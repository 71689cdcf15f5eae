/* sevadm fetch ca|vcek|cek: get AMD's certificates from the Key Distribution Service (AMD spec
 * 57230 ch. 4) into a directory, through a cache (cli/kds.h) so repeated fetches stay offline.
 *   fetch ca GEN DIR             SEV-SNP: /vcek/v1/{Gen}/cert_chain → cert_chain, ask.pem, ark.pem
 *                                legacy SEV (naples, rome, or --sev): ask_ark_<gen>.cert
 *   fetch vcek --report R DIR    /vcek/v1/{Gen}/{hwid}?blSPL..ucodeSPL(&fmcSPL on Turin) from the
 *                                report's REPORTED_TCB and CHIP_ID (8 bytes on Turin) → vcek.der
 *                                (+ cert_chain)
 *   fetch cek --id HEX DIR       /cek/id/{ID} (legacy SEV, GET_ID's 64 bytes) → cek.cert
 *   snp fetch [--out DIR]        as fetch vcek, the chip id from sevd's GET /v1/platform/id and
 *                                the TCB from GET /v1/snp/platform's reported_tcb → vcek.der,
 *                                vcek.pem, cert_chain, ask.pem, ark.pem
 * Everything fetched is parsed and checked before it is written or cached; the trust decision
 * (which root) stays with `sevadm verify`. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attest/roots.h"
#include "attest/snp-appraise.h"
#include "attest/sev-cert.h"
#include "attest/snp-chain.h"
#include "attest/snp-report.h"
#include "cli/kds.h"
#include "cli/progress.h"
#include "cli/sevadm.h"
#include "cli/verb-fetch.h"
#include "cli/verify-util.h"
#include "common/http-client.h"
#include "common/ossl.h"
#include "common/util.h"

/* "snp" while serving `sevadm snp fetch`, so messages name the command the user typed. */
static const char *fetch_verb = "fetch";
#define VERB fetch_verb
#define SEV_CA_DEFAULT_URL "https://developer.amd.com/wp-content/resources"

struct fetch_opts {
	const char *kds_url, *cache, *report, *gen, *id_hex, *id_file, *ca_url;
	bool sev;
	char **pos; /* positional arguments */
	int npos;
};

static void help(void)
{
	printf("Usage: sevadm fetch ca GEN DIR [--sev] [--ca-url URL]\n"
	       "       sevadm fetch vcek --report REPORT [--gen GEN] DIR\n"
	       "       sevadm fetch cek (--id HEX | --id-file FILE) DIR\n"
	       "\n"
	       "Fetch AMD certificates from the Key Distribution Service into DIR.\n"
	       "  ca     the ASK and ARK of a generation (milan, genoa, turin: SEV-SNP X.509;\n"
	       "         naples, rome or --sev: legacy ask_ark_<gen>.cert from --ca-url)\n"
	       "  vcek   the VCEK that signed REPORT (chosen by its REPORTED_TCB and CHIP_ID)\n"
	       "  cek    the legacy SEV CEK of a chip, by its GET_ID identifier\n"
	       "\n"
	       "  --kds-url URL   KDS base URL (default $SEVADM_KDS_URL, else %s)\n"
	       "  --ca-url URL    legacy ask_ark base URL (default $SEVADM_SEV_CA_URL, else\n"
	       "                  %s)\n"
	       "  --cache DIR     cache (default $XDG_CACHE_HOME/sevadm, else /var/cache/sevd for\n"
	       "                  root, else ~/.cache/sevadm)\n"
	       "  --gen GEN       Milan, Genoa or Turin when the report does not say (version 2)\n"
	       "\n"
	       "On a terminal, stderr shows each document of the chain as it arrives (bytes, or\n"
	       "'from the cache'); nothing when stderr is a pipe or with --json.\n",
	       KDS_DEFAULT_URL, SEV_CA_DEFAULT_URL);
}

static int parse_opts(int argc, char **argv, struct fetch_opts *o)
{
	enum { ARG_KDS = 0x100, ARG_CACHE, ARG_REPORT, ARG_GEN, ARG_ID, ARG_ID_FILE, ARG_SEV,
	       ARG_CA_URL };
	static const struct option options[] = {
		{ "kds-url", required_argument, NULL, ARG_KDS },
		{ "cache", required_argument, NULL, ARG_CACHE },
		{ "report", required_argument, NULL, ARG_REPORT },
		{ "gen", required_argument, NULL, ARG_GEN },
		{ "id", required_argument, NULL, ARG_ID },
		{ "id-file", required_argument, NULL, ARG_ID_FILE },
		{ "sev", no_argument, NULL, ARG_SEV },
		{ "ca-url", required_argument, NULL, ARG_CA_URL },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case 'h': help(); return -1;
		case ARG_KDS: o->kds_url = optarg; break;
		case ARG_CACHE: o->cache = optarg; break;
		case ARG_REPORT: o->report = optarg; break;
		case ARG_GEN: o->gen = optarg; break;
		case ARG_ID: o->id_hex = optarg; break;
		case ARG_ID_FILE: o->id_file = optarg; break;
		case ARG_SEV: o->sev = true; break;
		case ARG_CA_URL: o->ca_url = optarg; break;
		default: return sevadm_usage(VERB, "unknown option");
		}
	}
	o->pos = argv + optind;
	o->npos = argc - optind;
	return 0;
}

static int ensure_dir(const char *dir)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return sevadm_fail(VERB, "cannot create %s: %s", dir, strerror(errno));
	return 0;
}

static int write_out(const char *dir, const char *name, const void *buf, size_t len)
{
	_cleanup_free_ char *p = path_join(dir, name);
	int r;

	if (!p)
		return sevadm_fail(VERB, "out of memory");
	r = write_file_atomic(p, buf, len, 0644);
	if (r < 0)
		return sevadm_fail(VERB, "cannot write %s: %s", p, strerror(-r));
	printf("wrote %s\n", p);
	return 0;
}

static int write_pem(const char *dir, const char *name, X509 *x)
{
	_cleanup_(BIO_free_allp) BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;

	if (!b || PEM_write_bio_X509(b, x) != 1)
		return sevadm_fail(VERB, "cannot encode %s", name);
	n = BIO_get_mem_data(b, &data);
	return write_out(dir, name, data, (size_t)n);
}

/* Where a fetch is in its chain of documents, for the progress lines on a terminal:
 * "[2/2] fetching VCEK from kdsintf.amd.com: 1,360/1,360 bytes done". */
struct fetch_ui {
	bool enabled; /* stderr is a terminal and no --json */
	int step, steps;
};

static struct fetch_ui fetch_ui(const struct sevadm_ctx *ctx, int steps)
{
	return (struct fetch_ui){ .enabled = ctx->tty && !ctx->json, .steps = steps };
}

static void on_body(void *userdata, uint64_t done, uint64_t total)
{
	struct progress *p = userdata;

	progress_set_total(p, total);
	progress_update(p, done);
}

/* GET what (a document: "VCEK") through the cache; prints where the answer came from. A cache
 * hit is shown as such and costs no request. */
static int get(struct kds *k, struct fetch_ui *ui, const char *what, const char *path,
	       uint8_t **body, size_t *len)
{
	_cleanup_free_ char *err = NULL;
	struct progress *p;
	char label[160];
	bool cached;
	int r;

	ui->step++;
	if (kds_cache_get(k, path, body, len) == 0) {
		snprintf(label, sizeof(label), "[%d/%d] %s from the cache", ui->step, ui->steps, what);
		p = progress_new_unit(label, PROGRESS_BYTES, 0, ui->enabled);
		progress_update(p, *len);
		progress_finish_tail(p, ", no request");
		printf("cached %s%s\n", k->base, path);
		return 0;
	}
	snprintf(label, sizeof(label), "[%d/%d] fetching %s from %s", ui->step, ui->steps, what,
		 k->host);
	p = progress_new_unit(label, PROGRESS_BYTES, 0, ui->enabled);
	k->on_body = p ? on_body : NULL;
	k->on_body_userdata = p;
	r = kds_get(k, path, body, len, &cached, &err);
	k->on_body = NULL;
	progress_finish(p, r >= 0);
	if (r < 0)
		return sevadm_fail(VERB, "%s", err ? err : strerror(-r));
	printf("%s %s%s\n", cached ? "cached" : "fetched", k->base, path);
	return 0;
}

static void cache_put(struct kds *k, const char *path, const uint8_t *b, size_t n)
{
	int r = kds_cache_put(k, path, b, n);

	if (r < 0)
		fprintf(stderr, "sevadm: fetch: warning: cannot cache %s in %s: %s\n", path,
			k->cache_dir, strerror(-r));
}

static int kds_open(const struct sevadm_ctx *ctx, const struct fetch_opts *o, const char *url,
		    struct kds *k)
{
	_cleanup_free_ char *err = NULL;
	int r = kds_init(k, url, o->cache, ctx->ca_file, &err);

	if (r < 0)
		return sevadm_fail(VERB, "%s", err ? err : strerror(-r));
	return 0;
}

/* The SNP cert_chain of gen, checked (ARK self-signed, ARK signs ASK, both of gen). */
static int get_cert_chain(struct kds *k, struct fetch_ui *ui, enum snp_gen gen, X509 **ask,
			  X509 **ark, uint8_t **ret_body, size_t *ret_len)
{
	_cleanup_free_ char *path = NULL, *what = NULL;
	_cleanup_free_ uint8_t *body = NULL;
	struct snp_chain_verdict v;
	struct attest_verdict why = {0};
	size_t len;
	int r;

	if (!(path = kds_url_cert_chain_path(attest_snp_gen_name(gen))) ||
	    asprintf(&what, "%s ASK+ARK", attest_snp_gen_name(gen)) < 0)
		return sevadm_fail(VERB, "out of memory");
	if ((r = get(k, ui, what, path, &body, &len)) != 0)
		return r;
	if (attest_snp_cert_chain_parse(body, len, ask, ark, &why) < 0)
		return sevadm_fail(VERB, "the KDS answer for %s is not a cert_chain: %s", path,
				   why.reason);
	if (attest_snp_chain_verify(*ark, *ask, NULL, &v) != 1)
		return sevadm_fail(VERB, "the KDS answer for %s does not hold: %s", path,
				   v.verdict.reason);
	if (v.gen != gen)
		return sevadm_fail(VERB, "the KDS answer for %s is the %s chain, not %s", path,
				   attest_snp_gen_name(v.gen), attest_snp_gen_name(gen));
	cache_put(k, path, body, len);
	*ret_body = TAKE_PTR(body);
	*ret_len = len;
	return 0;
}

static void print_fingerprint(X509 *ark)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (X509_digest(ark, EVP_sha256(), md, &n) == 1) {
		_cleanup_free_ char *h = hex_encode(md, n);
		printf("ARK SHA-256 fingerprint %s — compare it with AMD's before trusting it\n",
		       h ? h : "?");
	}
}

static int fetch_ca_sev(const struct sevadm_ctx *ctx, const struct fetch_opts *o,
			const char *gen, const char *dir)
{
	_cleanup_(attest_roots_freep) struct attest_roots *roots = NULL;
	_cleanup_free_ char *path = NULL, *name = NULL, *what = NULL;
	_cleanup_free_ uint8_t *body = NULL;
	const char *url = o->ca_url ? o->ca_url : getenv("SEVADM_SEV_CA_URL");
	struct attest_verdict v = {0};
	struct fetch_ui ui = fetch_ui(ctx, 1);
	struct kds k;
	size_t len;
	int r;

	if ((r = kds_open(ctx, o, url && *url ? url : SEV_CA_DEFAULT_URL, &k)) != 0)
		return r;
	if (asprintf(&name, "ask_ark_%s.cert", gen) < 0 || asprintf(&path, "/%s", name) < 0 ||
	    asprintf(&what, "%s ASK+ARK", gen) < 0 || attest_roots_new(&roots) < 0) {
		kds_done(&k);
		return sevadm_fail(VERB, "out of memory");
	}
	r = get(&k, &ui, what, path, &body, &len);
	/* The same checks the roots directory applies: ARK self-signed, ASK by ARK, key ids. */
	if (r == 0 && attest_roots_add_sev(roots, gen, body, len, false, path, &v) < 0)
		r = sevadm_fail(VERB, "the answer for %s is not a valid AMD ASK/ARK pair: %s", path,
				attest_verdict_why(&v, "?"));
	if (r == 0)
		cache_put(&k, path, body, len);
	kds_done(&k);
	if (r == 0 && (r = ensure_dir(dir)) == 0)
		r = write_out(dir, name, body, len);
	return r;
}

static int fetch_ca(const struct sevadm_ctx *ctx, const struct fetch_opts *o)
{
	_cleanup_(X509_freep) X509 *ask = NULL, *ark = NULL;
	_cleanup_free_ uint8_t *body = NULL;
	struct fetch_ui ui = fetch_ui(ctx, 1);
	struct kds k;
	size_t len;
	int r;

	if (o->npos != 3)
		return sevadm_usage(VERB, "fetch ca needs GEN and DIR");
	const char *gen_name = o->pos[1], *dir = o->pos[2];
	enum snp_gen gen = attest_snp_gen_from_name(gen_name);
	if (o->sev || strcasecmp(gen_name, "naples") == 0 || strcasecmp(gen_name, "rome") == 0) {
		_cleanup_free_ char *lower = strdup(gen_name);
		for (char *c = lower; c && *c; c++)
			*c = (char)tolower((unsigned char)*c);
		return lower ? fetch_ca_sev(ctx, o, lower, dir) : SEVADM_EXIT_FAIL;
	}
	if (gen == SNP_GEN_UNKNOWN)
		return sevadm_usage(VERB, "unknown generation '%s' (milan, genoa, turin; naples or "
				    "rome for legacy SEV)", gen_name);
	if ((r = kds_open(ctx, o, o->kds_url, &k)) != 0)
		return r;
	r = get_cert_chain(&k, &ui, gen, &ask, &ark, &body, &len);
	kds_done(&k);
	if (r == 0 && (r = ensure_dir(dir)) == 0 && (r = write_out(dir, "cert_chain", body, len)) == 0 &&
	    (r = write_pem(dir, "ask.pem", ask)) == 0)
		r = write_pem(dir, "ark.pem", ark);
	if (r == 0)
		print_fingerprint(ark);
	return r;
}

static int load_report(const struct fetch_opts *o, struct snp_report *r)
{
	_cleanup_free_ uint8_t *buf = NULL, *raw = NULL;
	_cleanup_free_ char *err = NULL;
	enum snp_gen hint = attest_snp_gen_from_name(o->gen);
	struct attest_verdict why = {0};
	size_t len, raw_len;

	if (o->gen && hint == SNP_GEN_UNKNOWN)
		return sevadm_usage(VERB, "--gen: '%s' is not Milan, Genoa or Turin", o->gen);
	if (read_user_file("report", o->report, 64 * 1024, &buf, &len, &err) < 0)
		return sevadm_fail(VERB, "%s", err);
	if (report_decode(buf, len, &raw, &raw_len) < 0 || raw_len != SNP_REPORT_SIZE)
		return sevadm_fail(VERB, "%s is not an SEV-SNP report (1184 bytes, raw or hex)",
				   o->report);
	if (attest_snp_report_parse(raw, raw_len, hint, r, &why) < 0)
		return sevadm_fail(VERB, "%s: %s", o->report, why.reason);
	return 0;
}

/* The answer must be the VCEK of this chip at this TCB, and signed by the chain's ASK. */
static int check_vcek(const char *path, const uint8_t *der, size_t len, const struct snp_report *r,
		      X509 *ask, X509 *ark)
{
	_cleanup_(X509_freep) X509 *x = NULL;
	struct snp_chain_verdict v;
	struct snp_vcek_info info;
	struct attest_verdict why = {0};
	bool hw;

	if (attest_snp_cert_parse(der, len, &x, &why) < 0)
		return sevadm_fail(VERB, "the KDS answer for %s is not a certificate: %s", path,
				   why.reason);
	if (attest_snp_vcek_info(x, &info, &why) < 0 ||
	    attest_snp_vcek_check_report(&info, r, &hw, &why) != 1)
		return sevadm_fail(VERB, "the KDS answered a certificate that is not this report's "
				   "VCEK: %s", why.reason);
	if (attest_snp_chain_verify(ark, ask, x, &v) != 1)
		return sevadm_fail(VERB, "the fetched VCEK does not verify: %s", v.verdict.reason);
	return 0;
}

static int fetch_vcek(const struct sevadm_ctx *ctx, const struct fetch_opts *o)
{
	_cleanup_(X509_freep) X509 *ask = NULL, *ark = NULL;
	_cleanup_free_ uint8_t *der = NULL, *chain = NULL;
	_cleanup_free_ char *path = NULL;
	struct snp_report r;
	struct attest_verdict why = {0};
	size_t der_len, chain_len;
	struct fetch_ui ui = fetch_ui(ctx, 2);
	struct kds k;
	int rc;

	if (!o->report || o->npos != 2)
		return sevadm_usage(VERB, "fetch vcek needs --report REPORT and DIR");
	const char *dir = o->pos[1];
	if ((rc = load_report(o, &r)) != 0)
		return rc;
	if (attest_snp_vcek_kds_path(&r, SNP_GEN_UNKNOWN, &path, &why) < 0)
		return sevadm_fail(VERB, "cannot choose the VCEK for %s: %s%s", o->report,
				   why.reason,
				   r.gen == SNP_GEN_UNKNOWN ? " (--gen)" : "");
	if ((rc = kds_open(ctx, o, o->kds_url, &k)) != 0)
		return rc;
	rc = get_cert_chain(&k, &ui, r.gen, &ask, &ark, &chain, &chain_len);
	if (rc == 0)
		rc = get(&k, &ui, "VCEK", path, &der, &der_len);
	if (rc == 0)
		rc = check_vcek(path, der, der_len, &r, ask, ark);
	if (rc == 0)
		cache_put(&k, path, der, der_len);
	kds_done(&k);
	if (rc == 0 && (rc = ensure_dir(dir)) == 0 &&
	    (rc = write_out(dir, "vcek.der", der, der_len)) == 0)
		rc = write_out(dir, "cert_chain", chain, chain_len);
	if (rc == 0)
		printf("verify with: sevadm verify report %s --certs %s\n", o->report, dir);
	return rc;
}

static int read_chip_id(const struct fetch_opts *o, uint8_t id[64])
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ char *err = NULL;
	size_t len;

	if (!!o->id_hex == !!o->id_file)
		return sevadm_usage(VERB, "fetch cek needs exactly one of --id HEX or --id-file FILE");
	if (o->id_hex) {
		if (hex_decode(o->id_hex, &buf, &len) < 0 || (len != 64 && len != 128))
			return sevadm_usage(VERB, "--id: the chip id is 64 bytes (128 hex digits), "
					    "as GET_ID returns it");
	} else if (read_user_file("chip id", o->id_file, 4096, &buf, &len, &err) < 0) {
		return sevadm_fail(VERB, "%s", err);
	} else if (len != 64 && len != 128) {
		return sevadm_fail(VERB, "%s holds %zu bytes; GET_ID's answer is 64 (or 128 on two "
				   "sockets)", o->id_file, len);
	}
	memcpy(id, buf, 64); /* the first socket's id, as sevctl uses it */
	return 0;
}

static int fetch_cek(const struct sevadm_ctx *ctx, const struct fetch_opts *o)
{
	_cleanup_free_ uint8_t *body = NULL;
	_cleanup_free_ char *path = NULL, *hex = NULL;
	struct sev_cert cek;
	struct attest_verdict why = {0};
	uint8_t id[64];
	struct fetch_ui ui = fetch_ui(ctx, 1);
	struct kds k;
	size_t len;
	int rc;

	if (o->npos != 2)
		return sevadm_usage(VERB, "fetch cek needs DIR");
	if ((rc = read_chip_id(o, id)) != 0)
		return rc;
	/* The KDS spells the id in upper-case hex (as sevctl and virtee/sev do). */
	hex = hex_encode(id, sizeof id);
	for (char *c = hex; c && *c; c++)
		*c = (char)toupper((unsigned char)*c);
	if (!hex || asprintf(&path, "/cek/id/%s", hex) < 0)
		return sevadm_fail(VERB, "out of memory");
	if ((rc = kds_open(ctx, o, o->kds_url, &k)) != 0)
		return rc;
	rc = get(&k, &ui, "CEK", path, &body, &len);
	if (rc == 0 && attest_sev_cert_parse(body, len, &cek, &why) < 0)
		rc = sevadm_fail(VERB, "the KDS answer for %s is not a SEV certificate: %s", path,
				 why.reason);
	if (rc == 0 && cek.pubkey_usage != SEV_USAGE_CEK)
		rc = sevadm_fail(VERB, "the KDS answer for %s is a %s certificate, not a CEK", path,
				 attest_sev_usage_name(cek.pubkey_usage));
	if (rc == 0)
		cache_put(&k, path, body, len);
	kds_done(&k);
	if (rc == 0 && (rc = ensure_dir(o->pos[1])) == 0)
		rc = write_out(o->pos[1], "cek.cert", body, len);
	return rc;
}

static const struct {
	const char *name;
	int (*run)(const struct sevadm_ctx *ctx, const struct fetch_opts *o);
} subverbs[] = {
	{ "ca", fetch_ca },
	{ "vcek", fetch_vcek },
	{ "cek", fetch_cek },
};

int verb_fetch(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	struct fetch_opts o = {};
	int r = parse_opts(argc, argv, &o);

	if (r < 0)
		return SEVADM_EXIT_OK;
	if (r > 0)
		return r;
	if (o.npos < 1)
		return sevadm_usage(VERB, "say what to fetch: ca, vcek or cek");
	for (size_t i = 0; i < ELEMENTSOF(subverbs); i++)
		if (strcmp(o.pos[0], subverbs[i].name) == 0)
			return subverbs[i].run(ctx, &o);
	return sevadm_usage(VERB, "unknown subcommand '%s' (ca, vcek or cek)", o.pos[0]);
}

/* sevadm snp fetch: this host's chip id and reported TCB from sevd, as a report would carry
 * them, so that the KDS path and the checks are those of `fetch vcek --report`. */
static int host_identity(const struct sevadm_ctx *ctx, struct snp_report *r)
{
	_cleanup_(json_object_putp) json_object *plat = NULL, *id = NULL;
	_cleanup_free_ uint8_t *chip = NULL;
	struct http_client *c = NULL;
	json_object *tcb = NULL;
	const char *gen, *raw;
	size_t chip_len = 0;
	char *end = NULL;
	int rc = sevadm_connect(ctx, VERB, &c);

	if (rc != 0)
		return rc;
	rc = sevadm_call(c, VERB, "GET", "/v1/snp/platform", NULL, &plat, NULL);
	if (rc == 0)
		rc = sevadm_call(c, VERB, "GET", "/v1/platform/id", NULL, &id, NULL);
	http_client_free(c);
	if (rc != 0)
		return rc;
	memset(r, 0, sizeof *r);
	gen = sevadm_json_str(plat, "generation", NULL);
	r->gen = attest_snp_gen_from_name(gen);
	if (r->gen == SNP_GEN_UNKNOWN)
		return sevadm_fail(VERB, "sevd does not name this host's SEV-SNP generation ('%s', "
				   "state %s): is SNP on? see 'sevadm snp show'", gen ? gen : "none",
				   sevadm_json_str(plat, "state", "?"));
	if (!json_object_object_get_ex(plat, "reported_tcb", &tcb) ||
	    !(raw = sevadm_json_str(tcb, "raw", NULL)) || (errno = 0, r->reported_tcb.raw =
	    strtoull(raw, &end, 16), errno != 0 || end == raw || *end))
		return sevadm_fail(VERB, "sevd's GET /v1/snp/platform has no reported_tcb.raw; "
				   "check 'sevadm snp show --json'");
	attest_snp_tcb_decode(r->reported_tcb.raw, r->gen, &r->reported_tcb);
	if (hex_decode(sevadm_json_str(id, "id", ""), &chip, &chip_len) < 0 || chip_len < 64)
		return sevadm_fail(VERB, "sevd's GET /v1/platform/id is not a 64-byte chip id "
				   "(GET_ID); check sevd's log and 'sevadm ok'");
	memcpy(r->chip_id, chip, sizeof r->chip_id); /* the first socket's, as snphost does */
	return 0;
}

static void snp_fetch_help(void)
{
	printf("Usage: sevadm snp fetch [--out DIR] [--kds-url URL] [--cache DIR] [--crl]\n"
	       "\n"
	       "Fetch the VCEK of this host's chip for its reported TCB (sevd's GET\n"
	       "/v1/platform/id and GET /v1/snp/platform) and its generation's ASK and ARK from\n"
	       "the KDS, check them, and write DIR/vcek.der, vcek.pem, cert_chain, ask.pem and\n"
	       "ark.pem (ready for 'sevadm snp certs import DIR').\n"
	       "\n"
	       "  --out DIR       where to write (default: the current directory)\n"
	       "  --kds-url URL   KDS base URL (default $SEVADM_KDS_URL, else %s)\n"
	       "  --cache DIR     the cache 'sevadm fetch' uses (default $XDG_CACHE_HOME/sevadm,\n"
	       "                  else /var/cache/sevd for root, else ~/.cache/sevadm)\n"
	       "  --crl           also the ARK's CRL (never cached), checked against the ARK,\n"
	       "                  ASK and VCEK: DIR/crl.der and crl.pem (imported with the rest)\n",
	       KDS_DEFAULT_URL);
}

/* The answer must be the VCEK of this chip at its reported TCB, signed by the chain's ASK. */
static int check_host_vcek(const char *path, const uint8_t *der, size_t len,
			   const struct snp_report *r, X509 *ask, X509 *ark, X509 **ret)
{
	_cleanup_(X509_freep) X509 *x = NULL;
	struct snp_chain_verdict v;
	struct snp_vcek_info info;
	struct attest_verdict why = {0};
	bool hw = false;

	if (attest_snp_cert_parse(der, len, &x, &why) < 0)
		return sevadm_fail(VERB, "the answer for %s is not a certificate: %s — remove it "
				   "from the cache and fetch again", path, why.reason);
	if (attest_snp_vcek_info(x, &info, &why) < 0 || info.is_vlek ||
	    attest_snp_vcek_check_report(&info, r, &hw, &why) != 1 || !hw)
		return sevadm_fail(VERB, "the answer for %s is not this chip's VCEK for its "
				   "reported TCB: %s — remove it from the cache (--cache) or check "
				   "--kds-url", path, info.is_vlek ? "it is a VLEK" : why.reason);
	if (attest_snp_chain_verify(ark, ask, x, &v) != 1)
		return sevadm_fail(VERB, "the fetched VCEK does not verify: %s", v.verdict.reason);
	*ret = TAKE_PTR(x);
	return 0;
}

/* --crl: the ARK's CRL of gen (/vcek/v1/{Gen}/crl, DER; never cached: it is re-issued), issued
 * by the fetched ARK, current, listing neither the ASK nor the VCEK; written as crl.der and
 * crl.pem. */
static int fetch_crl(struct kds *k, struct fetch_ui *ui, enum snp_gen gen, X509 *ark, X509 *ask,
		     X509 *vcek, const char *dir)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ uint8_t *der = NULL;
	_cleanup_(BIO_free_allp) BIO *b = BIO_new(BIO_s_mem());
	struct attest_verdict v = {};
	const uint8_t *p;
	X509_CRL *crl;
	char *pem = NULL;
	size_t len;
	long n;
	int rc;

	if (asprintf(&path, "/vcek/v1/%s/crl", attest_snp_gen_name(gen)) < 0 || !b)
		return sevadm_fail(VERB, "out of memory");
	if ((rc = get(k, ui, "CRL", path, &der, &len)) != 0)
		return rc;
	rc = attest_snp_crl_check(der, len, ark, ask, vcek, &v);
	if (rc != 1)
		return sevadm_fail(VERB, "the KDS answer for %s does not hold: %s", path,
				   rc < 0 ? strerror(-rc) : v.reason);
	p = der;
	if (!(crl = d2i_X509_CRL(NULL, &p, (long)len))) /* checked above: DER or PEM */
		return write_out(dir, "crl.pem", der, len);
	rc = PEM_write_bio_X509_CRL(b, crl) == 1 ? 0 : -EIO;
	X509_CRL_free(crl);
	if (rc < 0)
		return sevadm_fail(VERB, "cannot write the CRL as PEM");
	n = BIO_get_mem_data(b, &pem);
	if ((rc = write_out(dir, "crl.der", der, len)) != 0)
		return rc;
	return write_out(dir, "crl.pem", pem, (size_t)n);
}

int sevadm_snp_fetch(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	enum { ARG_KDS = 0x100, ARG_CACHE, ARG_OUT, ARG_CRL };
	static const struct option options[] = {
		{ "out", required_argument, NULL, ARG_OUT },
		{ "kds-url", required_argument, NULL, ARG_KDS },
		{ "cache", required_argument, NULL, ARG_CACHE },
		{ "crl", no_argument, NULL, ARG_CRL },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool want_crl = false;
	_cleanup_(X509_freep) X509 *ask = NULL, *ark = NULL, *vcek = NULL;
	_cleanup_free_ uint8_t *der = NULL, *chain = NULL;
	_cleanup_free_ char *path = NULL;
	struct fetch_opts o = {};
	struct fetch_ui ui = fetch_ui(ctx, 2);
	struct attest_verdict why = {0};
	const char *dir = ".";
	size_t der_len, chain_len;
	struct snp_report r;
	struct kds k;
	int c, rc;

	fetch_verb = "snp";
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case 'h': snp_fetch_help(); return SEVADM_EXIT_OK;
		case ARG_OUT: dir = optarg; break;
		case ARG_KDS: o.kds_url = optarg; break;
		case ARG_CACHE: o.cache = optarg; break;
		case ARG_CRL: want_crl = true; break;
		default: return sevadm_usage(VERB, "fetch takes --out DIR, --kds-url URL, --cache DIR, "
					     "--crl");
		}
	}
	if (optind != argc)
		return sevadm_usage(VERB, "fetch: unexpected '%s' (the directory is --out DIR)",
				    argv[optind]);
	if ((rc = host_identity(ctx, &r)) != 0)
		return rc;
	if (attest_snp_vcek_kds_path(&r, SNP_GEN_UNKNOWN, &path, &why) < 0)
		return sevadm_fail(VERB, "cannot choose this host's VCEK: %s", why.reason);
	if ((rc = kds_open(ctx, &o, o.kds_url, &k)) != 0)
		return rc;
	rc = get_cert_chain(&k, &ui, r.gen, &ask, &ark, &chain, &chain_len);
	if (rc == 0)
		rc = get(&k, &ui, "VCEK", path, &der, &der_len);
	if (rc == 0)
		rc = check_host_vcek(path, der, der_len, &r, ask, ark, &vcek);
	if (rc == 0)
		cache_put(&k, path, der, der_len);
	if (rc == 0 && (rc = ensure_dir(dir)) == 0 && want_crl)
		rc = fetch_crl(&k, &ui, r.gen, ark, ask, vcek, dir);
	kds_done(&k);
	if (rc == 0 && (rc = write_out(dir, "vcek.der", der, der_len)) == 0 &&
	    (rc = write_pem(dir, "vcek.pem", vcek)) == 0 &&
	    (rc = write_out(dir, "cert_chain", chain, chain_len)) == 0 &&
	    (rc = write_pem(dir, "ask.pem", ask)) == 0)
		rc = write_pem(dir, "ark.pem", ark);
	if (rc == 0)
		printf("load into sevd with: sevadm snp certs import %s\n", dir);
	return rc;
}
