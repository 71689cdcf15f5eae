/* sevadm verify report REPORT (--chain DIR | --pek PEK_CERT | --vcek FILE | --certs DIR)
 *                             [--nonce HEX] [--measurement HEX] [--gen GEN] [--json]
 *                             [--ref REFERENCE.json] [--crl FILE | --fetch-crl [--kds-url URL]]
 * The format is told by size: 0xD0 bytes = legacy SEV ATTESTATION report (signed by the PEK,
 * attest/sev-report.h), 0x4A0 bytes = SEV-SNP report (signed by the VCEK/VLEK,
 * attest/snp-report.h); hex or base64 text of either is accepted. Every check is listed with
 * its result, and the exit status is 0 only when all of them hold. The report and every
 * certificate given are untrusted; only the roots directory (or a named emulator root) is.
 * With --ref, the SEV-SNP report is also appraised against the owner's reference values
 * (attest/snp-appraise.h does the comparing; this file reads the files and asks the KDS). */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/sev-report.h"
#include "attest/snp-appraise.h"
#include "attest/snp-chain.h"
#include "attest/snp-report.h"
#include "cli/kds.h"
#include "cli/sevadm.h"
#include "cli/verb-verify.h"
#include "common/ossl.h"
#include "common/util.h"

#define VERB "verify"
#define REPORT_FILE_MAX (64u * 1024)

struct report_opts {
	struct verify_opts v;
	const char *chain_dir, *pek, *vcek, *certs_dir, *nonce_hex, *measurement_hex, *gen;
	const char *ref, *crl, *kds_url, *cert_table;
	bool fetch_crl, fetch_vcek;
	const char *ca_file; /* the global --ca-file, for the KDS over TLS */
};

static void help_report(void)
{
	printf("Usage: sevadm verify report REPORT (--chain DIR | --pek PEK_CERT | --vcek FILE |\n"
	       "                                   --certs DIR | --cert-table FILE | --fetch-vcek)\n"
	       "                                   [--nonce HEX]\n"
	       "                                   [--measurement HEX]\n"
	       "                                   [--ref FILE] [--crl FILE | --fetch-crl]\n"
	       "\n"
	       "Verify an attestation report: its signature, the certificate chain up to a trusted\n"
	       "root, the nonce and the expected measurement; for SEV-SNP also the values of a\n"
	       "reference file and the ARK's revocation list. REPORT is a legacy SEV report (208\n"
	       "bytes) or an SEV-SNP report (1184 bytes), raw or as hex/base64 text.\n"
	       "\n"
	       "  --chain DIR        SEV: the chain as `export --full` writes it (the PEK signs);\n"
	       "                     SEV-SNP: same as --certs\n"
	       "  --pek FILE         SEV: the PEK certificate alone (the chain is then not checked)\n"
	       "  --vcek FILE        SEV-SNP: the VCEK or VLEK (DER or PEM); ASK/ARK from the roots\n"
	       "  --certs DIR        SEV-SNP: vcek.der|vcek.pem|vlek.* and optionally cert_chain or\n"
	       "                     ask.pem/ark.pem\n"
	       "  --cert-table FILE  SEV-SNP: the certificate table an extended report carried\n"
	       "                     (VCEK or VLEK, ASK, ARK by GUID)\n"
	       "  --nonce HEX        SEV: the 16-byte MNONCE; SEV-SNP: REPORT_DATA (up to 64 bytes,\n"
	       "                     zero-padded)\n"
	       "  --measurement HEX  SEV: the 32-byte launch digest; SEV-SNP: the 48-byte measurement\n"
	       "  --gen GEN          SEV-SNP: Milan, Genoa or Turin when neither report nor VCEK says\n"
	       "  --ref FILE         SEV-SNP: appraise the report against the reference values in\n"
	       "                     FILE (JSON; see sevadm(1), REFERENCE FILE)\n"
	       "  --crl FILE         SEV-SNP: the ARK's certificate revocation list (DER or PEM);\n"
	       "                     a revoked ASK or VCEK/VLEK fails\n"
	       "  --fetch-crl        SEV-SNP: get that CRL from the KDS (/vcek/v1/GEN/crl)\n"
	       "  --fetch-vcek       SEV-SNP: get the VCEK of the report's CHIP_ID and REPORTED_TCB\n"
	       "                     from the KDS (a version 2 report needs --gen); ASK and ARK\n"
	       "                     from the roots\n"
	       "  --kds-url URL      the KDS for --fetch-crl, --fetch-vcek (default\n"
	       "                     $SEVADM_KDS_URL, else\n"
	       "                     https://kdsintf.amd.com)\n"
	       "  --roots DIR, --emulator-root FILE, --json   as for 'verify chain'\n");
}

static int parse_opts(const struct sevadm_ctx *ctx, int argc, char **argv, struct report_opts *o)
{
	enum { ARG_CHAIN = VERIFY_ARG_FIRST_OWN, ARG_PEK, ARG_VCEK, ARG_CERTS, ARG_NONCE, ARG_MEAS,
	       ARG_GEN, ARG_REF, ARG_CRL, ARG_KDS, ARG_TABLE, ARG_FETCH_CRL, ARG_FETCH_VCEK };
	static const struct option options[] = {
		VERIFY_COMMON_OPTIONS,
		{ "chain", required_argument, NULL, ARG_CHAIN },
		{ "pek", required_argument, NULL, ARG_PEK },
		{ "vcek", required_argument, NULL, ARG_VCEK },
		{ "certs", required_argument, NULL, ARG_CERTS },
		{ "nonce", required_argument, NULL, ARG_NONCE },
		{ "measurement", required_argument, NULL, ARG_MEAS },
		{ "gen", required_argument, NULL, ARG_GEN },
		{ "ref", required_argument, NULL, ARG_REF },
		{ "crl", required_argument, NULL, ARG_CRL },
		{ "kds-url", required_argument, NULL, ARG_KDS },
		{ "cert-table", required_argument, NULL, ARG_TABLE },
		{ "fetch-crl", no_argument, NULL, ARG_FETCH_CRL },
		{ "fetch-vcek", no_argument, NULL, ARG_FETCH_VCEK },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char **slot[] = {
		[ARG_CHAIN - ARG_CHAIN] = &o->chain_dir, [ARG_PEK - ARG_CHAIN] = &o->pek,
		[ARG_VCEK - ARG_CHAIN] = &o->vcek, [ARG_CERTS - ARG_CHAIN] = &o->certs_dir,
		[ARG_NONCE - ARG_CHAIN] = &o->nonce_hex, [ARG_MEAS - ARG_CHAIN] = &o->measurement_hex,
		[ARG_GEN - ARG_CHAIN] = &o->gen, [ARG_REF - ARG_CHAIN] = &o->ref,
		[ARG_CRL - ARG_CHAIN] = &o->crl, [ARG_KDS - ARG_CHAIN] = &o->kds_url,
		[ARG_TABLE - ARG_CHAIN] = &o->cert_table,
	};
	int c;

	o->v.json = ctx->json;
	o->ca_file = ctx->ca_file;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		if (c == 'h') {
			help_report();
			return -1;
		}
		if (verify_parse_common(c, &o->v))
			continue;
		if (c == ARG_FETCH_CRL || c == ARG_FETCH_VCEK) {
			*(c == ARG_FETCH_CRL ? &o->fetch_crl : &o->fetch_vcek) = true;
			continue;
		}
		if (c < ARG_CHAIN || c > ARG_TABLE)
			return sevadm_usage(VERB, "unknown option");
		*slot[c - ARG_CHAIN] = optarg;
	}
	if (optind + 1 != argc)
		return sevadm_usage(VERB, "verify report needs exactly one REPORT file");
	if (!!o->chain_dir + !!o->pek + !!o->vcek + !!o->certs_dir + !!o->cert_table +
		    o->fetch_vcek != 1)
		return sevadm_usage(VERB, "give exactly one of --chain, --pek, --vcek, --certs, "
				    "--cert-table, --fetch-vcek");
	if (o->crl && o->fetch_crl)
		return sevadm_usage(VERB, "give --crl FILE or --fetch-crl, not both");
	if (o->kds_url && !o->fetch_crl && !o->fetch_vcek)
		return sevadm_usage(VERB, "--kds-url is for --fetch-crl and --fetch-vcek");
	return 0;
}

/* An expected value given in hex: exact length, or for the SNP nonce up to max, zero-padded. */
static int parse_expected(const char *opt, const char *hex, size_t want, bool pad, uint8_t *out)
{
	_cleanup_free_ uint8_t *b = NULL;
	size_t n;

	if (hex_decode(hex, &b, &n) < 0)
		return sevadm_usage(VERB, "%s: '%s' is not hex", opt, hex);
	if (n != want && !(pad && n > 0 && n < want))
		return sevadm_usage(VERB, "%s: %zu bytes given, %s%zu expected", opt, n,
				    pad ? "at most " : "", want);
	memset(out, 0, want);
	memcpy(out, b, n);
	return 0;
}

static void check_value(struct checklist *l, const char *name, const char *opt,
			const uint8_t *got, const uint8_t *want, size_t n)
{
	_cleanup_free_ char *g = hex_encode(got, n), *w = hex_encode(want, n);

	if (CRYPTO_memcmp(got, want, n) == 0)
		checklist_add(l, name, CHECK_OK, "%s", "");
	else
		checklist_add(l, name, CHECK_FAILED, "the report has %s, %s expects %s", g ? g : "?",
			      opt, w ? w : "?");
}

static int finish(const struct report_opts *o, const char *type, json_object *fields,
		  const char *text, const struct checklist *l)
{
	bool ok = checklist_ok(l);

	if (o->v.json) {
		_cleanup_(json_object_putp) json_object *j = json_object_new_object();

		json_object_object_add(j, "type", json_object_new_string(type));
		json_object_object_add(j, "report", json_object_get(fields));
		json_object_object_add(j, "checks", checklist_json(l));
		json_object_object_add(j, "ok", json_object_new_boolean(ok));
		sevadm_print_json(j);
	} else {
		printf("%s report:\n%s\nchecks:\n", type, text ? text : "");
		checklist_print(l, stdout);
		printf("%s\n", ok ? "report verified: every check holds" : "report NOT verified");
	}
	if (ok)
		return SEVADM_EXIT_OK;
	const struct check *c = checklist_first_failure(l);
	return sevadm_fail(VERB, "the report does not verify: %s%s%s",
			   c ? c->name : "nothing could be checked", c && c->detail[0] ? ": " : "",
			   c ? c->detail : "");
}

/* ---- SEV-SNP ---- */

static void snp_signature(const struct snp_report *r, const struct snp_files *f,
			  struct checklist *l)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = X509_get_pubkey(f->leaf);
	struct attest_verdict why = {0};
	char cn[32] = "";
	bool vlek;

	X509_NAME_get_text_by_NID(X509_get_subject_name(f->leaf), NID_commonName, cn, sizeof cn);
	vlek = strcmp(cn, "SEV-VLEK") == 0;
	if (attest_snp_report_signing_key(r) == SNP_KEY_VLEK && !vlek) {
		checklist_add(l, "signature", CHECK_FAILED, "the report is signed with a VLEK (KEY_INFO) "
			      "but %s is a VCEK", f->leaf_path);
		return;
	}
	if (attest_snp_report_signing_key(r) == SNP_KEY_VCEK && vlek) {
		checklist_add(l, "signature", CHECK_FAILED, "the report is signed with the VCEK "
			      "(KEY_INFO) but %s is a VLEK", f->leaf_path);
		return;
	}
	int k = attest_snp_report_verify(r, key, &why);
	checklist_add(l, "signature", k == 1 ? CHECK_OK : CHECK_FAILED, "%s",
		      k == 1 ? (vlek ? "ECDSA P-384 by the VLEK" : "ECDSA P-384 by the VCEK") :
			       attest_verdict_why(&why, strerror(-k)));
}

static void snp_binding(const struct snp_report *r, const struct snp_files *f,
			struct checklist *l)
{
	struct snp_vcek_info info;
	struct attest_verdict why = {0};
	bool hw = false;

	if (attest_snp_vcek_info(f->leaf, &info, &why) < 0) {
		checklist_add(l, "VCEK matches the report", CHECK_FAILED, "%s", why.reason);
		return;
	}
	if (attest_snp_vcek_check_report(&info, r, &hw, &why) != 1) {
		checklist_add(l, "VCEK matches the report", CHECK_FAILED, "%s", why.reason);
		return;
	}
	checklist_add(l, "VCEK matches the report", CHECK_OK,
		      "REPORTED_TCB = certificate TCB (%s%s); %s", attest_snp_gen_name(info.gen),
		      info.has_fmc ? ", with fmcSPL" : "",
		      hw ? (info.hwid_len == 8 ? "hwID = first 8 bytes of CHIP_ID (Turin)" :
						 "hwID = CHIP_ID (64 bytes)") :
			   "VLEK: bound to a cloud provider, no hwID to compare");
}

static int table_cert(const char *path, const uint8_t *buf, const struct snp_cert_table *t,
		      enum snp_cert_kind k, X509 **ret)
{
	struct attest_verdict why = {0};

	if (!t->has[k])
		return 0;
	if (attest_snp_cert_parse(buf + t->offset[k], t->length[k], ret, &why) < 0)
		return sevadm_fail(VERB, "the %s entry of the certificate table %s is not a "
				   "certificate: %s", attest_snp_cert_kind_name(k), path,
				   why.reason);
	return 0;
}

/* The leaf the report names (KEY_INFO: VCEK or VLEK), the ASK and the ARK from the table of
 * an extended report. All of it untrusted: the chain checks tie it to the trusted ARK. */
static int snp_load_table(const char *path, enum snp_signing_key key, struct snp_files *f)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ char *err = NULL;
	enum snp_cert_kind leaf = key == SNP_KEY_VLEK ? SNP_CERT_VLEK : SNP_CERT_VCEK;
	struct snp_cert_table t;
	struct attest_verdict v = {};
	size_t len;
	int k;

	if (read_user_file("certificate table", path, 1u << 20, &buf, &len, &err) < 0)
		return sevadm_fail(VERB, "%s", err);
	if (attest_snp_cert_table_parse(buf, len, &t, &v) < 0)
		return sevadm_fail(VERB, "%s: %s", path, v.reason);
	if (!t.has[leaf])
		return sevadm_fail(VERB, "the certificate table %s has no %s entry, and the report "
				   "is signed with the %s: give it with --vcek FILE (sevadm fetch vcek "
				   "--report REPORT DIR)", path, attest_snp_cert_kind_name(leaf),
				   attest_snp_cert_kind_name(leaf));
	if ((k = table_cert(path, buf, &t, leaf, &f->leaf)) != 0 ||
	    (k = table_cert(path, buf, &t, SNP_CERT_ASK, &f->ask)) != 0 ||
	    (k = table_cert(path, buf, &t, SNP_CERT_ARK, &f->ark)) != 0)
		return k;
	if (asprintf(&f->leaf_path, "%s (%s entry)", path, attest_snp_cert_kind_name(leaf)) < 0 ||
	    !(f->chain_path = strdup(path)))
		return sevadm_fail(VERB, "out of memory");
	return 0;
}

/* The report's VCEK from the KDS, at the path `sevadm fetch vcek` uses (CHIP_ID and
 * REPORTED_TCB). The answer is untrusted: the chain and binding checks judge it. */
static int snp_fetch_leaf(const struct report_opts *o, const uint8_t *raw, enum snp_gen gen,
			  struct snp_files *f)
{
	_cleanup_free_ uint8_t *der = NULL;
	_cleanup_free_ char *path = NULL, *err = NULL;
	struct snp_report r;
	struct attest_verdict v = {0};
	struct kds k;
	size_t len;
	bool cached;
	int rc;

	if (attest_snp_report_parse(raw, SNP_REPORT_SIZE, gen, &r, &v) < 0)
		return sevadm_fail(VERB, "the SEV-SNP report is malformed: %s", v.reason);
	if (attest_snp_vcek_kds_path(&r, gen, &path, &v) < 0)
		return sevadm_fail(VERB, "cannot choose the VCEK to fetch: %s%s", v.reason,
				   r.gen == SNP_GEN_UNKNOWN ? " (give --gen)" : "");
	if ((rc = kds_init(&k, o->kds_url, NULL, o->ca_file, &err)) < 0)
		return sevadm_fail(VERB, "%s", err ? err : strerror(-rc));
	rc = kds_get(&k, path, &der, &len, &cached, &err);
	kds_done(&k);
	if (rc < 0)
		return sevadm_fail(VERB, "%s", err ? err : strerror(-rc));
	if (attest_snp_cert_parse(der, len, &f->leaf, &v) < 0)
		return sevadm_fail(VERB, "the KDS answer for %s is not a certificate: %s", path,
				   v.reason);
	if (asprintf(&f->leaf_path, "the KDS's VCEK (%s)", path) < 0)
		return sevadm_fail(VERB, "out of memory");
	return 0;
}

static int snp_load_leaf(const struct report_opts *o, enum snp_signing_key key,
			 struct snp_files *f)
{
	_cleanup_free_ char *err = NULL;
	const char *dir = o->certs_dir ? o->certs_dir : o->chain_dir;
	int r;

	if (o->pek)
		return sevadm_usage(VERB, "--pek is for legacy SEV reports; an SEV-SNP report is "
				    "signed by a VCEK/VLEK: give --vcek FILE or --certs DIR");
	if (o->cert_table)
		return snp_load_table(o->cert_table, key, f);
	r = o->vcek ? snp_files_load_leaf(f, o->vcek, &err) : snp_files_load_dir(f, dir, &err);
	if (r < 0)
		return sevadm_fail(VERB, "%s", err ? err : strerror(-r));
	if (!f->leaf)
		return sevadm_fail(VERB, "%s holds no vcek.der, vcek.pem, vlek.der or vlek.pem — "
				   "get it with 'sevadm fetch vcek --report REPORT %s'", dir, dir);
	return 0;
}

/* The ARK's CRL: from --crl FILE, or from the KDS at /vcek/v1/{Gen}/crl (AMD serves it in
 * DER there; VCEK spec 57230). Its bytes are untrusted: attest_snp_crl_check ties them to the
 * trusted ARK. */
static int crl_get(const struct report_opts *o, enum snp_gen gen, uint8_t **ret, size_t *ret_len,
		   char **ret_error)
{
	_cleanup_free_ char *path = NULL;
	struct kds k;
	bool cached;
	int r;

	if (o->crl)
		return read_user_file("CRL", o->crl, 1u << 20, ret, ret_len, ret_error);
	if (gen == SNP_GEN_UNKNOWN) {
		*ret_error = strdup("the generation of the ARK is unknown: no KDS path for its CRL");
		return -EINVAL;
	}
	if (asprintf(&path, "/vcek/v1/%s/crl", attest_snp_gen_name(gen)) < 0)
		return -ENOMEM;
	if ((r = kds_init(&k, o->kds_url, NULL, o->ca_file, ret_error)) < 0)
		return r;
	r = kds_get(&k, path, ret, ret_len, &cached, ret_error);
	kds_done(&k);
	return r;
}

static void snp_crl_check(const struct report_opts *o, const struct snp_files *f,
			  const struct snp_trust *t, struct checklist *l)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ char *err = NULL;
	struct attest_verdict v = {};
	size_t len;
	int r;

	r = crl_get(o, attest_snp_cert_gen(t->ark), &buf, &len, &err);
	if (r < 0) {
		checklist_add(l, "ARK CRL", CHECK_FAILED, "%s%s", err ? err : strerror(-r),
			      o->crl ? "" : " (or give the CRL with --crl FILE)");
		return;
	}
	r = attest_snp_crl_check(buf, len, t->ark, f->ask ? f->ask : t->ask, f->leaf, &v);
	checklist_add(l, "ARK CRL", r == 1 ? CHECK_OK : CHECK_FAILED, "%s: %s",
		      o->crl ? o->crl : "from the KDS", r < 0 ? strerror(-r) : v.reason);
}

/* VCEK → ASK → trusted ARK of the VCEK's generation, one line per link. Returns an exit code
 * when the roots cannot be loaded at all, else 0 (failures are in l). */
static int snp_chain_checks(const struct report_opts *o, const struct snp_files *f,
			    struct checklist *l)
{
	_cleanup_(attest_roots_freep) struct attest_roots *roots = NULL;
	_cleanup_free_ char *err = NULL;
	struct snp_trust t;
	int k;

	if ((k = verify_load_roots(&o->v, &roots)) != 0)
		return k;
	if (snp_trust_load(&t, roots, o->v.roots ? o->v.roots : attest_roots_default_dir(),
			   attest_snp_cert_gen(f->leaf), verify_snp_emulator_root(&o->v), &err) < 0) {
		checklist_add(l, "trusted SEV-SNP root", CHECK_FAILED, "%s", err ? err : "?");
		return 0;
	}
	if (snp_check_chain(f, &t, l) && (o->crl || o->fetch_crl))
		snp_crl_check(o, f, &t, l);
	snp_trust_done(&t);
	return 0;
}

static int load_ref(const char *path, struct snp_ref *ref)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ char *err = NULL;
	struct attest_verdict v = {};
	size_t len;

	if (read_user_file("reference", path, SNP_REF_TEXT_MAX, &buf, &len, &err) < 0)
		return sevadm_fail(VERB, "%s", err);
	if (attest_snp_ref_parse((const char *)buf, len, ref, &v) < 0)
		return sevadm_fail(VERB, "the reference %s is refused: %s (the format: sevadm(1), "
				   "REFERENCE FILE)", path, attest_verdict_why(&v, "out of memory"));
	return 0;
}

/* The report against the reference: one line per field the reference gives. */
static int snp_appraise(const struct snp_ref *ref, const struct snp_report *r,
			struct checklist *l)
{
	_cleanup_free_ struct snp_appraisal *a = malloc(sizeof *a);

	if (!a)
		return sevadm_fail(VERB, "out of memory");
	attest_snp_appraise(r, ref, a);
	for (size_t i = 0; i < a->n; i++) {
		const struct snp_check *c = &a->checks[i];

		checklist_add_values(l, c->name, c->skipped ? CHECK_SKIPPED :
							       c->pass ? CHECK_OK : CHECK_FAILED,
				     c->expected, c->found);
	}
	return 0;
}

static int verify_snp(const struct report_opts *o, const uint8_t *raw)
{
	_cleanup_(json_object_putp) json_object *fields = NULL;
	_cleanup_free_ struct snp_ref *ref = NULL;
	_cleanup_free_ char *text = NULL;
	struct snp_files f = {};
	struct checklist l = {};
	struct snp_report r;
	uint8_t want[64];
	struct attest_verdict v = {0};
	int k;

	enum snp_gen hint = attest_snp_gen_from_name(o->gen);
	if (o->gen && hint == SNP_GEN_UNKNOWN)
		return sevadm_usage(VERB, "--gen: '%s' is not Milan, Genoa or Turin", o->gen);
	/* the reference first: a refused one stops before any network or chain work */
	if (o->ref && !(ref = malloc(sizeof *ref)))
		return sevadm_fail(VERB, "out of memory");
	if (o->ref && (k = load_ref(o->ref, ref)) != 0)
		return k;
	/* KEY_INFO bits 4:2 (SNP ABI 56860, ATTESTATION_REPORT 0x48) pick the table's leaf */
	k = o->fetch_vcek ? snp_fetch_leaf(o, raw, hint, &f) :
			    snp_load_leaf(o, (get_le32(raw + 0x48) >> 2) & 7, &f);
	if (k != 0)
		goto out;
	if (hint == SNP_GEN_UNKNOWN)
		hint = attest_snp_cert_gen(f.leaf);
	if (attest_snp_report_parse(raw, SNP_REPORT_SIZE, hint, &r, &v) < 0) {
		/* A report whose CPUID names another generation than the VCEK is well formed:
		 * that is a failed check, not a parse error. */
		if (attest_snp_report_parse(raw, SNP_REPORT_SIZE, SNP_GEN_UNKNOWN, &r, &v) < 0) {
			k = sevadm_fail(VERB, "the SEV-SNP report is malformed: %s", v.reason);
			goto out;
		}
		checklist_add(&l, "generation", CHECK_FAILED, "the report comes from %s, the "
			      "certificate or --gen says %s", attest_snp_gen_name(r.gen),
			      attest_snp_gen_name(hint));
	}
	attest_snp_report_to_json(&r, &fields);
	attest_snp_report_to_text(&r, &text);
	snp_signature(&r, &f, &l);
	if ((k = snp_chain_checks(o, &f, &l)) != 0)
		goto out;
	snp_binding(&r, &f, &l);
	if (o->nonce_hex) {
		if ((k = parse_expected("--nonce", o->nonce_hex, 64, true, want)) != 0)
			goto out;
		check_value(&l, "report_data = --nonce", "--nonce", r.report_data, want, 64);
	}
	if (o->measurement_hex) {
		if ((k = parse_expected("--measurement", o->measurement_hex, 48, false, want)) != 0)
			goto out;
		check_value(&l, "measurement", "--measurement", r.measurement, want, 48);
	}
	if (ref && (k = snp_appraise(ref, &r, &l)) != 0)
		goto out;
	k = finish(o, "SEV-SNP", fields, text, &l);
out:
	snp_files_done(&f);
	return k;
}

/* ---- legacy SEV ---- */

static json_object *sev_report_json(const struct sev_attestation_report *rep)
{
	json_object *j = json_object_new_object();
	_cleanup_free_ char *n = hex_encode(rep->mnonce, 16), *d = hex_encode(rep->launch_digest, 32);

	json_object_object_add(j, "mnonce", json_object_new_string(n ? n : ""));
	json_object_object_add(j, "launch_digest", json_object_new_string(d ? d : ""));
	json_object_object_add(j, "policy", json_object_new_int64(rep->policy));
	json_object_object_add(j, "sig_usage", json_object_new_int64(rep->sig_usage));
	json_object_object_add(j, "sig_algo", json_object_new_int64(rep->sig_algo));
	return j;
}

static char *sev_report_text(const struct sev_attestation_report *rep)
{
	_cleanup_free_ char *n = hex_encode(rep->mnonce, 16), *d = hex_encode(rep->launch_digest, 32);
	char *s = NULL;

	if (asprintf(&s, "%-20s %s\n%-20s %s\n%-20s 0x%x\n%-20s 0x%x (%s)\n%-20s 0x%x (%s)\n",
		     "mnonce", n ? n : "?", "launch_digest", d ? d : "?", "policy", rep->policy,
		     "sig_usage", rep->sig_usage, attest_sev_usage_name(rep->sig_usage), "sig_algo",
		     rep->sig_algo, attest_sev_algo_name(rep->sig_algo)) < 0)
		return NULL;
	return s;
}

static int sev_load_pek(const struct report_opts *o, struct sev_cert *pek, struct checklist *l)
{
	_cleanup_(attest_roots_freep) struct attest_roots *roots = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ char *err = NULL;
	struct attest_sev_chain chain;
	struct attest_verdict v = {};
	size_t len;
	int k;

	if (o->vcek || o->certs_dir || o->cert_table || o->fetch_vcek)
		return sevadm_usage(VERB, "--vcek/--certs/--cert-table/--fetch-vcek are for SEV-SNP "
				    "reports; a legacy SEV report is signed by the PEK: give "
				    "--chain DIR or --pek FILE");
	if (o->pek) {
		if (read_user_file("PEK certificate", o->pek, 64 * 1024, &buf, &len, &err) < 0)
			return sevadm_fail(VERB, "%s", err);
		if (attest_sev_cert_parse(buf, len, pek, &v) < 0)
			return sevadm_fail(VERB, "%s is not a SEV certificate: %s", o->pek,
					   v.reason);
		checklist_add(l, "chain", CHECK_SKIPPED, "only --pek was given: the PEK is trusted "
			      "as is (give --chain DIR to check it up to AMD's root)");
		return 0;
	}
	attest_sev_chain_init(&chain);
	if (attest_sev_chain_load_dir(&chain, o->chain_dir, &v) < 0)
		return sevadm_fail(VERB, "%s", v.reason);
	if (!chain.have_pek)
		return sevadm_fail(VERB, "%s holds no pek.cert: the PEK signs legacy reports",
				   o->chain_dir);
	if ((k = verify_load_roots(&o->v, &roots)) != 0)
		return k;
	verify_sev_chain(&chain, roots, ATTEST_CHAIN_PDH_OPTIONAL, l);
	*pek = chain.pek;
	return 0;
}

static int verify_sev(const struct report_opts *o, const uint8_t *raw)
{
	_cleanup_(json_object_putp) json_object *fields = NULL;
	_cleanup_free_ char *text = NULL;
	struct sev_attestation_report rep;
	struct attest_verdict v = {};
	struct checklist l = {};
	struct sev_cert pek;
	uint8_t want[32];
	int k;

	if (o->gen)
		return sevadm_usage(VERB, "--gen is for SEV-SNP reports");
	if (o->ref || o->crl || o->fetch_crl)
		return sevadm_usage(VERB, "--ref, --crl and --fetch-crl are for SEV-SNP reports");
	if (attest_sev_report_parse(raw, SEV_ATTESTATION_REPORT_SIZE, &rep, &v) < 0)
		return sevadm_fail(VERB, "the SEV attestation report is malformed: %s", v.reason);
	if ((k = sev_load_pek(o, &pek, &l)) != 0)
		return k;
	fields = sev_report_json(&rep);
	text = sev_report_text(&rep);
	k = attest_sev_report_verify(&rep, &pek, NULL, NULL, &v);
	checklist_add(&l, "signature", k == 1 ? CHECK_OK : CHECK_FAILED, "%s",
		      k == 1 ? "ECDSA by the PEK over bytes [0, 0x34)" : v.reason);
	if (o->nonce_hex) {
		if ((k = parse_expected("--nonce", o->nonce_hex, 16, false, want)) != 0)
			return k;
		check_value(&l, "mnonce = --nonce", "--nonce", rep.mnonce, want, 16);
	}
	if (o->measurement_hex) {
		if ((k = parse_expected("--measurement", o->measurement_hex, 32, false, want)) != 0)
			return k;
		check_value(&l, "launch digest", "--measurement", rep.launch_digest, want, 32);
	}
	return finish(o, "SEV", fields, text, &l);
}

int verify_report(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	struct report_opts o = {};
	_cleanup_free_ uint8_t *buf = NULL, *raw = NULL;
	_cleanup_free_ char *err = NULL;
	size_t len, raw_len;
	int k;

	k = parse_opts(ctx, argc, argv, &o);
	if (k < 0)
		return SEVADM_EXIT_OK; /* --help */
	if (k > 0)
		return k;
	const char *path = argv[optind];
	if (read_user_file("report", path, REPORT_FILE_MAX, &buf, &len, &err) < 0)
		return sevadm_fail(VERB, "%s", err);
	if (report_decode(buf, len, &raw, &raw_len) < 0)
		return sevadm_fail(VERB, "%s is %zu bytes: neither a legacy SEV report (208 bytes) "
				   "nor an SEV-SNP report (1184 bytes), nor hex or base64 text of "
				   "one", path, len);
	if (raw_len == SNP_REPORT_SIZE)
		return verify_snp(&o, raw);
	return verify_sev(&o, raw);
}
