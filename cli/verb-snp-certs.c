/* sevadm snp certs import DIR | export DIR | show: the host's SEV-SNP certificate table through
 * sevd (PUT/GET /v1/snp/certs), with the file names virtee snphost uses: ark.pem, ask.pem,
 * vcek.pem or vlek.pem, asvk.pem (PEM by default; with --der DER in ark.der, ...). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cli/sevadm.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"
#include "common/http-client.h"

static const char verb[] = "snp";

/* The certificate names of the table (api-snp-certs.c's entry names), in snphost's order. */
static const char *const names[] = { "ark", "ask", "asvk", "vcek", "vlek", "crl" };

/* One entry's description from its DER: subject, validity, SHA-384 fingerprint. */
static int describe(const uint8_t *der, size_t len, json_object *x)
{
	const uint8_t *p = der;
	X509 *c = d2i_X509(NULL, &p, (long)len);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char buf[512];

	if (!c)
		return -EBADMSG;
	X509_NAME_oneline(X509_get_subject_name(c), buf, sizeof buf);
	json_object_object_add(x, "subject", json_object_new_string(buf));
	const ASN1_TIME *t[2] = { X509_get0_notBefore(c), X509_get0_notAfter(c) };
	const char *key[2] = { "not_before", "not_after" };
	for (int i = 0; i < 2; i++) {
		BIO *b = BIO_new(BIO_s_mem());
		char *s = NULL;
		long n;

		if (b && ASN1_TIME_print_ex(b, t[i], ASN1_DTFLGS_ISO8601) == 1 &&
		    (n = BIO_get_mem_data(b, &s)) > 0)
			json_object_object_add(x, key[i], json_object_new_string_len(s, (int)n));
		BIO_free(b);
	}
	if (X509_digest(c, EVP_sha384(), md, &mdlen) == 1) {
		_cleanup_free_ char *h = hex_encode(md, mdlen);

		if (h)
			json_object_object_add(x, "sha384", json_object_new_string(h));
	}
	X509_free(c);
	return 0;
}

static int get_table(const struct sevadm_ctx *ctx, json_object **ret)
{
	struct http_client *c = NULL;
	int r = sevadm_connect(ctx, verb, &c);

	if (r != 0)
		return r;
	r = sevadm_call(c, verb, "GET", "/v1/snp/certs", NULL, ret, NULL);
	http_client_free(c);
	return r;
}

static int show(const struct sevadm_ctx *ctx)
{
	_cleanup_(json_object_putp) json_object *o = NULL, *out = NULL;
	json_object *a = NULL, *list;
	int r = get_table(ctx, &o);

	if (r != 0)
		return r;
	json_object_object_get_ex(o, "entries", &a);
	out = json_object_new_object();
	list = json_object_new_array();
	json_object_object_add(out, "source", json_object_new_string(sevadm_json_str(o, "source", "none")));
	json_object_object_add(out, "size", json_object_new_int64(sevadm_json_int(o, "size", 0)));
	json_object_object_add(out, "entries", list);
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i), *x = json_object_new_object();
		_cleanup_free_ uint8_t *der = NULL;
		size_t len = 0;
		const char *b64 = sevadm_json_str(e, "der", "");

		json_object_object_add(x, "guid", json_object_new_string(sevadm_json_str(e, "guid", "?")));
		json_object_object_add(x, "name", json_object_new_string(sevadm_json_str(e, "name", "?")));
		json_object_object_add(x, "length", json_object_new_int64(sevadm_json_int(e, "length", 0)));
		if (strcmp(sevadm_json_str(e, "name", ""), "extra") != 0 &&
		    strcmp(sevadm_json_str(e, "name", ""), "crl") != 0 &&
		    base64_decode(b64, strlen(b64), &der, &len) >= 0)
			describe(der, len, x);
		json_object_array_add(list, x);
	}
	if (ctx->json) {
		sevadm_print_json(out);
		return SEVADM_EXIT_OK;
	}
	printf("source %s, %lld bytes, %zu entries\n", sevadm_json_str(o, "source", "none"),
	       sevadm_json_int(o, "size", 0), json_object_array_length(list));
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *x = json_object_array_get_idx(list, i);

		printf("\n%s  %s  (%lld bytes)\n", sevadm_json_str(x, "name", "?"),
		       sevadm_json_str(x, "guid", "?"), sevadm_json_int(x, "length", 0));
		if (!json_object_object_get_ex(x, "subject", NULL))
			continue;
		printf("  subject     %s\n", sevadm_json_str(x, "subject", "?"));
		printf("  not before  %s\n", sevadm_json_str(x, "not_before", "?"));
		printf("  not after   %s\n", sevadm_json_str(x, "not_after", "?"));
		printf("  sha384      %s\n", sevadm_json_str(x, "sha384", "?"));
	}
	if (json_object_array_length(list) == 0)
		printf("no certificate table: import one with 'sevadm snp certs import DIR' (or "
		       "restart sevd to fetch the VCEK from the configured KDS)\n");
	return SEVADM_EXIT_OK;
}

static int export(const struct sevadm_ctx *ctx, const char *dir, bool der)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	json_object *a = NULL;
	size_t n = 0;
	int r = get_table(ctx, &o);

	if (r != 0)
		return r;
	json_object_object_get_ex(o, "entries", &a);
	if (!a || json_object_array_length(a) == 0)
		return sevadm_fail(verb, "certs export: this host holds no SNP certificate table: "
				   "import one with 'sevadm snp certs import DIR'");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return sevadm_fail(verb, "certs export: cannot create %s: %s", dir, strerror(errno));
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		const char *name = sevadm_json_str(e, "name", "extra");
		const char *b64 = sevadm_json_str(e, "der", "");
		bool extra = strcmp(name, "extra") == 0;
		_cleanup_free_ uint8_t *bytes = NULL;
		_cleanup_free_ char *file = NULL, *path = NULL;
		json_object *pv = NULL;
		/* Written to a file, never to the terminal: the PEM's newlines are wanted. */
		const char *pem = json_object_object_get_ex(e, "pem", &pv) &&
					  json_object_is_type(pv, json_type_string)
				  ? json_object_get_string(pv)
				  : NULL;
		size_t len = 0;

		/* Extra entries (not certificates) keep their bytes, named by their GUID. */
		if (asprintf(&file, "%s.%s", extra ? sevadm_json_str(e, "guid", "?") : name,
			     extra ? "bin" : der || !pem ? "der" : "pem") < 0 ||
		    !(path = path_join(dir, file)))
			return sevadm_fail(verb, "out of memory");
		if (!extra && !der && pem)
			r = write_file_atomic(path, pem, strlen(pem), 0644);
		else if (base64_decode(b64, strlen(b64), &bytes, &len) < 0)
			return sevadm_fail(verb, "certs export: sevd sent the %s entry not in base64",
					   name);
		else
			r = write_file_atomic(path, bytes, len, 0644);
		if (r < 0)
			return sevadm_fail(verb, "certs export: cannot write %s: %s", path, strerror(-r));
		printf("%s\n", path);
		n++;
	}
	fprintf(stderr, "sevadm: snp: certs export: %zu file(s) in %s (source %s)\n", n, dir,
		sevadm_json_str(o, "source", "?"));
	return SEVADM_EXIT_OK;
}

static int import(const struct sevadm_ctx *ctx, const char *dir, bool der)
{
	_cleanup_(json_object_putp) json_object *body = json_object_new_object(), *o = NULL;
	_cleanup_free_ char *err = NULL;
	struct http_client *c = NULL;
	size_t found = 0;
	int r;

	if (!body)
		return sevadm_fail(verb, "out of memory");
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		_cleanup_free_ char *file = NULL, *path = NULL;
		_cleanup_free_ uint8_t *buf = NULL;
		size_t len = 0;

		if (asprintf(&file, "%s.%s", names[i], der ? "der" : "pem") < 0 ||
		    !(path = path_join(dir, file)))
			return sevadm_fail(verb, "out of memory");
		r = read_full_file(path, 16 * 1024, &buf, &len);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return sevadm_fail(verb, "certs import: cannot read %s: %s", path, strerror(-r));
		if (der) {
			_cleanup_free_ char *b = base64_encode(buf, len);

			if (!b)
				return sevadm_fail(verb, "out of memory");
			json_object_object_add(body, names[i], json_object_new_string(b));
		} else {
			if (len == 0 || !memmem(buf, len, "-----BEGIN ", 11))
				return sevadm_fail(verb, "certs import: %s is not PEM (for DER files "
						   "named %s.der use --der)", path, names[i]);
			json_object_object_add(body, names[i],
					       json_object_new_string_len((char *)buf, (int)len));
		}
		found++;
	}
	if (!found)
		return sevadm_fail(verb, "certs import: %s holds none of ark.%s, ask.%s, vcek.%s, "
				   "vlek.%s, asvk.%s%s", dir, der ? "der" : "pem", der ? "der" : "pem",
				   der ? "der" : "pem", der ? "der" : "pem", der ? "der" : "pem",
				   der ? "" : " (DER files: use --der)");
	r = sevadm_connect(ctx, verb, &c);
	if (r != 0)
		return r;
	r = sevadm_call_quiet(c, "PUT", "/v1/snp/certs", body, &o, &err);
	http_client_free(c);
	if (r == -422)
		return sevadm_fail(verb, "certs import %s: sevd refused the chain: %s — import the "
				   "ARK, ASK and VCEK this chip's KDS serves for its reported TCB "
				   "('sevadm snp fetch --out DIR')", dir, err ? err : "?");
	if (r < 0)
		return sevadm_fail(verb, "certs import %s: %s", dir, err ? err : strerror(-r));
	fprintf(stderr, "sevadm: snp: certs import: %zu certificate(s) from %s, the table now "
		"holds %zu entries\n", found, dir,
		json_object_object_get_ex(o, "entries", NULL)
			? json_object_array_length(json_object_object_get(o, "entries"))
			: 0);
	return SEVADM_EXIT_OK;
}

int sevadm_snp_certs(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	struct sevadm_ctx j = *ctx;
	const char *sub = argc > 1 ? argv[1] : NULL, *dir = NULL;
	bool der = false;

	if (!sub || (strcmp(sub, "import") && strcmp(sub, "export") && strcmp(sub, "show")))
		return sevadm_usage(verb, "certs takes 'import DIR', 'export DIR' or 'show'");
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--der") == 0 && strcmp(sub, "show"))
			der = true;
		else if (strcmp(argv[i], "--json") == 0 && strcmp(sub, "show") == 0)
			j.json = true;
		else if (argv[i][0] != '-' && !dir && strcmp(sub, "show"))
			dir = argv[i];
		else
			return sevadm_usage(verb, "certs %s: unexpected '%s'", sub, argv[i]);
	}
	if (strcmp(sub, "show") == 0)
		return show(&j);
	if (!dir)
		return sevadm_usage(verb, "certs %s takes a directory (DIR)", sub);
	return strcmp(sub, "import") == 0 ? import(ctx, dir, der) : export(ctx, dir, der);
}
