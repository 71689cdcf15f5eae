/* sevadm verify chain|report: offline verification for a guest owner (no daemon).
 *   verify chain DIR [--roots DIR] [--emulator-root FILE] [--json]
 * checks whatever chain DIR holds — SEV files as `export --full` writes them (attest/chain.h)
 * and/or SEV-SNP files (vcek/vlek with ask.pem/ark.pem, a KDS cert_chain, or only the roots) —
 * and prints which links held and which failed; exit 0 only when every chain found reaches a
 * trusted root. `verify report` is in verb-verify-report.c. Trusts only the roots directory and
 * an emulator root the user names. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/chain.h"
#include "attest/roots.h"
#include "attest/sev-cert.h"
#include "cli/sevadm.h"
#include "cli/verify-util.h"
#include "cli/verb-verify.h"
#include "common/ossl.h"
#include "common/util.h"

#define VERB "verify"

static void help_chain(void)
{
	printf("Usage: sevadm verify chain DIR [--roots DIR] [--emulator-root FILE] [--json]\n"
	       "\n"
	       "Verify the certificate chain in DIR up to a trusted root:\n"
	       "  SEV:     pdh.cert pek.cert oca.cert cek.cert [ask.cert ark.cert] (export --full)\n"
	       "  SEV-SNP: vcek.der|vcek.pem|vlek.der|vlek.pem with ask.pem/ark.pem, or a KDS\n"
	       "           cert_chain (ASK then ARK), or neither (the roots' ASK/ARK are used)\n"
	       "\n"
	       "  --roots DIR           trusted AMD roots (default %s)\n"
	       "  --emulator-root FILE  also trust this non-AMD root (sev-psp-emu's ARK)\n"
	       "  --json                JSON on stdout\n"
	       "Exit status 0 only when every chain found reaches a trusted root.\n",
	       attest_roots_default_dir());
}

int verify_parse_common(int c, struct verify_opts *o)
{
	switch (c) {
	case VERIFY_ARG_ROOTS:
		o->roots = optarg;
		return 1;
	case VERIFY_ARG_EMU_ROOT:
		o->emulator_root = optarg;
		return 1;
	case VERIFY_ARG_JSON:
		o->json = true;
		return 1;
	}
	return 0;
}

static bool is_x509_file(const char *path)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_(X509_freep) X509 *x = NULL;
	struct snp_files f = {};
	size_t len;
	bool ok;

	if (read_full_file(path, 256 * 1024, &buf, &len) < 0)
		return false;
	if (attest_snp_cert_parse(buf, len, &x, NULL) == 0)
		return true;
	ok = attest_snp_cert_chain_parse(buf, len, &f.ask, &f.ark, NULL) == 0;
	snp_files_done(&f);
	return ok;
}

int verify_load_roots(const struct verify_opts *o, struct attest_roots **ret)
{
	const char *dir = o->roots ? o->roots : attest_roots_default_dir();
	struct attest_verdict v = {0};
	int r;

	r = attest_roots_load(dir, ret, &v);
	if (r == -ENOENT) {
		/* No roots directory: only an explicitly named emulator root can anchor. */
		r = attest_roots_new(ret);
		if (r < 0)
			return sevadm_fail(VERB, "out of memory");
		if (!o->emulator_root)
			fprintf(stderr, "sevadm: verify: warning: the roots directory %s does not "
					"exist; put AMD's roots there or give --roots DIR\n", dir);
	} else if (r < 0) {
		return sevadm_fail(VERB, "cannot load the trusted roots from %s: %s", dir,
				   attest_verdict_why(&v, strerror(-r)));
	}
	/* An AMD-format emulator root is a SEV root; an X.509 one is used for SNP (verify-util). */
	if (o->emulator_root && !is_x509_file(o->emulator_root)) {
		v = (struct attest_verdict){0};
		r = attest_roots_add_sev_file(*ret, "emulator", o->emulator_root, true, &v);
		if (r < 0) {
			attest_roots_free(*ret);
			*ret = NULL;
			return sevadm_fail(VERB, "cannot use the emulator root %s: %s",
					   o->emulator_root, attest_verdict_why(&v, strerror(-r)));
		}
	}
	return 0;
}

const char *verify_snp_emulator_root(const struct verify_opts *o)
{
	return o->emulator_root && is_x509_file(o->emulator_root) ? o->emulator_root : NULL;
}

/* ---- SEV (legacy) chain: one line per platform link, then the AMD part up to a root ---- */

/* One platform link's line; the signature is verified here only when the chain's own check
 * (attest_sev_chain_verify_links, run first) did not reach it: each once. */
static void sev_link(struct checklist *l, const char *name, const struct attest_sev_chain *c,
		     enum attest_sev_link link, struct attest_sev_link_result *links)
{
	int k = attest_sev_chain_link(c, link, &links[link]);

	checklist_add(l, name, k == 1 ? CHECK_OK : CHECK_FAILED, "%s", k == 1 ? "" : links[link].why);
}

bool verify_sev_chain(const struct attest_sev_chain *c, const struct attest_roots *roots,
		      unsigned flags, struct checklist *l)
{
	struct attest_sev_link_result links[ATTEST_LINK_MAX_] = {};
	struct attest_verdict v;
	int k;

	k = attest_sev_chain_verify_links(c, roots, flags, &v, links);
	if (c->have_oca)
		sev_link(l, "OCA self-signed", c, ATTEST_LINK_OCA_SELF, links);
	if (c->have_pek && c->have_oca)
		sev_link(l, "PEK signed by OCA", c, ATTEST_LINK_PEK_BY_OCA, links);
	if (c->have_pek && c->have_cek)
		sev_link(l, "PEK signed by CEK", c, ATTEST_LINK_PEK_BY_CEK, links);
	if (c->have_pdh && c->have_pek)
		sev_link(l, "PDH signed by PEK", c, ATTEST_LINK_PDH_BY_PEK, links);
	if (k == 1)
		checklist_add(l, "CEK -> ASK -> trusted ARK", CHECK_OK, "%s", v.reason);
	else
		checklist_add(l, "SEV chain to a root", CHECK_FAILED, "%s",
			      k < 0 ? strerror(-k) : v.reason);
	return k == 1 && checklist_ok(l);
}

static bool dir_has_sev(const struct attest_sev_chain *c)
{
	return c->have_pdh || c->have_pek || c->have_oca || c->have_cek || c->have_ask ||
	       c->have_ark;
}

static void snp_part(const struct verify_opts *o, const struct attest_roots *roots,
		     const struct snp_files *f, struct checklist *l)
{
	const char *roots_dir = o->roots ? o->roots : attest_roots_default_dir();
	_cleanup_free_ char *err = NULL;
	struct snp_trust t;
	enum snp_gen gen = snp_files_gen(f);

	if (snp_trust_load(&t, roots, roots_dir, gen, verify_snp_emulator_root(o), &err) < 0) {
		checklist_add(l, "trusted SEV-SNP root", CHECK_FAILED, "%s", err ? err : "?");
		return;
	}
	snp_check_chain(f, &t, l);
	snp_trust_done(&t);
}

static int print_result(const struct verify_opts *o, const char *dir, bool have_sev,
			const struct checklist *sev, bool have_snp, const struct checklist *snp)
{
	bool ok = (!have_sev || checklist_ok(sev)) && (!have_snp || checklist_ok(snp));

	if (o->json) {
		_cleanup_(json_object_putp) json_object *j = json_object_new_object();

		if (have_sev)
			json_object_object_add(j, "sev", checklist_json(sev));
		if (have_snp)
			json_object_object_add(j, "snp", checklist_json(snp));
		json_object_object_add(j, "ok", json_object_new_boolean(ok));
		sevadm_print_json(j);
	} else {
		if (have_sev) {
			printf("SEV chain in %s:\n", dir);
			checklist_print(sev, stdout);
		}
		if (have_snp) {
			printf("SEV-SNP chain in %s:\n", dir);
			checklist_print(snp, stdout);
		}
		printf("%s\n", ok ? "chain verified: it reaches a trusted root" :
				    "chain NOT verified");
	}
	if (ok)
		return SEVADM_EXIT_OK;
	const struct check *c = checklist_first_failure(have_sev && !checklist_ok(sev) ? sev : snp);
	return sevadm_fail(VERB, "the chain in %s does not reach a trusted root: %s%s%s", dir,
			   c ? c->name : "no link could be checked", c && c->detail[0] ? ": " : "",
			   c ? c->detail : "");
}

static int verify_chain(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = {
		VERIFY_COMMON_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct verify_opts o = { .json = ctx->json };
	_cleanup_(attest_roots_freep) struct attest_roots *roots = NULL;
	_cleanup_free_ char *err = NULL;
	struct checklist sev = {}, snp = {};
	struct attest_sev_chain chain;
	struct attest_verdict v = {};
	struct snp_files f = {};
	int c, r;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		if (c == 'h') {
			help_chain();
			return SEVADM_EXIT_OK;
		}
		if (!verify_parse_common(c, &o))
			return sevadm_usage(VERB, "unknown option");
	}
	if (optind + 1 != argc)
		return sevadm_usage(VERB, "verify chain needs exactly one DIR");
	const char *dir = argv[optind];
	if ((r = verify_load_roots(&o, &roots)) != 0)
		return r;
	attest_sev_chain_init(&chain);
	if (attest_sev_chain_load_dir(&chain, dir, &v) < 0)
		return sevadm_fail(VERB, "%s", v.reason);
	if (snp_files_load_dir(&f, dir, &err) < 0)
		return sevadm_fail(VERB, "%s", err ? err : "cannot read the SEV-SNP files");
	bool have_sev = dir_has_sev(&chain), have_snp = snp_files_any(&f);
	if (!have_sev && !have_snp) {
		snp_files_done(&f);
		return sevadm_fail(VERB, "%s holds no certificates: expected SEV files (pdh.cert "
				   "pek.cert oca.cert cek.cert ...) or SEV-SNP files (vcek.der, "
				   "ask.pem, ark.pem, cert_chain)", dir);
	}
	if (have_sev)
		verify_sev_chain(&chain, roots, 0, &sev);
	if (have_snp)
		snp_part(&o, roots, &f, &snp);
	snp_files_done(&f);
	return print_result(&o, dir, have_sev, &sev, have_snp, &snp);
}

static void help(void)
{
	printf("Usage: sevadm verify chain DIR [OPTIONS]\n"
	       "       sevadm verify report REPORT (--chain DIR | --pek PEK_CERT | --vcek FILE |\n"
	       "                                    --certs DIR) [--nonce HEX] [--measurement HEX]\n"
	       "\n"
	       "Verify certificate chains and attestation reports (SEV and SEV-SNP), offline.\n"
	       "'sevadm verify chain --help' and 'sevadm verify report --help' tell more.\n");
}

static const struct {
	const char *name;
	int (*run)(const struct sevadm_ctx *ctx, int argc, char **argv);
} subverbs[] = {
	{ "chain", verify_chain },
	{ "report", verify_report },
};

int verb_verify(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	if (argc < 2)
		return sevadm_usage(VERB, "say what to verify: chain or report");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help();
		return SEVADM_EXIT_OK;
	}
	for (size_t i = 0; i < ELEMENTSOF(subverbs); i++)
		if (strcmp(argv[1], subverbs[i].name) == 0) {
			optind = 0;
			return subverbs[i].run(ctx, argc - 1, argv + 1);
		}
	return sevadm_usage(VERB, "unknown subcommand '%s' (chain or report)", argv[1]);
}
