/* sevadm provision: take ownership of the platform by importing the owner-signed PEK and the OCA
 * certificate (PEK_CERT_IMPORT, POST /v1/platform/pek-cert). Both files are checked here first
 * (SEV certificates with PEK and OCA usage, the OCA self-signed, the PEK signed by that OCA) so
 * that a mix-up is named before firmware answers a bare status. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/sev-cert.h"
#include "common/ossl.h"
#include "common/util.h"
#include "cli/sevadm.h"

static int help(void)
{
	printf("Usage: sevadm provision PEK_CERT OCA_CERT\n"
	       "\n"
	       "Import the PEK certificate signed by your OCA key (from 'sevadm generate') and the\n"
	       "OCA certificate (PEK_CERT_IMPORT). The platform is then owned externally; a\n"
	       "platform that already has an external owner must be reset first.\n");
	return SEVADM_EXIT_OK;
}

static int load_cert(const char *path, uint32_t usage, uint8_t **ret, struct sev_cert *cert)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct attest_verdict v = {0};
	size_t len = 0;
	int r;

	r = read_full_file(path, SEV_CERT_SIZE, &buf, &len);
	if (r == -EFBIG)
		return sevadm_fail("provision", "%s is larger than one SEV certificate (%u bytes)",
				   path, SEV_CERT_SIZE);
	if (r < 0)
		return sevadm_fail("provision", "cannot read %s: %s", path, strerror(-r));
	if (attest_sev_cert_parse(buf, len, cert, &v) < 0)
		return sevadm_fail("provision", "%s is not a SEV certificate: %s", path,
				   attest_verdict_why(&v, "malformed"));
	if (cert->pubkey_usage != usage)
		return sevadm_fail("provision", "%s holds a %s certificate, expected %s", path,
				   attest_sev_usage_name(cert->pubkey_usage),
				   attest_sev_usage_name(usage));
	*ret = TAKE_PTR(buf);
	return 0;
}

/* The OCA signs itself and the PEK (SEV API appendix C); firmware would refuse otherwise. */
static int check_signatures(const char *pek_path, const struct sev_cert *pek,
			    const char *oca_path, const struct sev_cert *oca)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	struct attest_verdict v = {0};

	if (attest_sev_cert_pubkey(oca, &key) < 0)
		return sevadm_fail("provision", "cannot use the key in %s", oca_path);
	if (attest_sev_cert_verify(oca, SEV_USAGE_OCA, key, &v) != 1)
		return sevadm_fail("provision", "%s is not self-signed: %s", oca_path,
				   attest_verdict_why(&v, "bad signature"));
	if (attest_sev_cert_verify(pek, SEV_USAGE_OCA, key, &v) != 1)
		return sevadm_fail("provision", "%s is not signed by the OCA in %s: %s — sign the "
						"CSR from 'sevadm generate' with this OCA's key",
				   pek_path, oca_path, attest_verdict_why(&v, "bad signature"));
	return 0;
}

static int import(const struct sevadm_ctx *ctx, const uint8_t *pek, const uint8_t *oca,
		  json_object **ret)
{
	_cleanup_(json_object_putp) json_object *body = json_object_new_object();
	_cleanup_free_ char *pek64 = base64_encode(pek, SEV_CERT_SIZE);
	_cleanup_free_ char *oca64 = base64_encode(oca, SEV_CERT_SIZE);
	struct http_client *c = NULL;
	bool was_uninit;
	int r;

	if (!body || !pek64 || !oca64)
		return sevadm_fail("provision", "out of memory");
	json_object_object_add(body, "pek_cert", json_object_new_string(pek64));
	json_object_object_add(body, "oca_cert", json_object_new_string(oca64));
	r = sevadm_connect(ctx, "provision", &c);
	if (r != 0)
		return r;
	r = sevadm_platform_prepare(c, "provision", &was_uninit);
	if (r == 0) {
		r = sevadm_call(c, "provision", "POST", "/v1/platform/pek-cert", body, ret, NULL);
		int r2 = sevadm_platform_restore(c, "provision", was_uninit);
		r = r ? r : r2;
	}
	http_client_free(c);
	return r;
}

int verb_provision(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = { { "help", no_argument, NULL, 'h' }, {} };
	_cleanup_free_ uint8_t *pek = NULL, *oca = NULL;
	_cleanup_(json_object_putp) json_object *res = NULL;
	struct sev_cert pek_cert, oca_cert;
	int o, r;

	while ((o = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		if (o == 'h')
			return help();
		return sevadm_bad_option("provision", argv);
	}
	if (argc - optind != 2)
		return sevadm_usage("provision", "needs two files: PEK_CERT OCA_CERT");
	r = load_cert(argv[optind], SEV_USAGE_PEK, &pek, &pek_cert);
	if (r == 0)
		r = load_cert(argv[optind + 1], SEV_USAGE_OCA, &oca, &oca_cert);
	if (r == 0)
		r = check_signatures(argv[optind], &pek_cert, argv[optind + 1], &oca_cert);
	if (r == 0)
		r = import(ctx, pek, oca, &res);
	if (r != 0)
		return r;
	if (ctx->json)
		sevadm_print_json(res);
	else
		printf("PEK and OCA imported: the platform is now owned by the OCA in %s.\n",
		       argv[optind + 1]);
	return SEVADM_EXIT_OK;
}
