/* sevadm generate: fetch the PEK certificate signing request (PEK_CSR, GET /v1/platform/pek-csr)
 * and write it to a file for the platform owner to sign with the OCA key. The CSR is checked to
 * be one well-formed SEV certificate with PEK usage before it is written (SEV API appendix C). */
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
	printf("Usage: sevadm generate [--force] FILE\n"
	       "\n"
	       "Write the platform's PEK certificate signing request (PEK_CSR, one %u-byte SEV\n"
	       "certificate) to FILE. Sign it with your OCA key, then import both with\n"
	       "'sevadm provision PEK_CERT OCA_CERT'.\n"
	       "\n"
	       "  -f, --force   replace FILE if it exists\n",
	       SEV_CERT_SIZE);
	return SEVADM_EXIT_OK;
}

static int fetch_csr(struct http_client *c, uint8_t **ret, size_t *ret_len)
{
	_cleanup_(json_object_putp) json_object *res = NULL;
	_cleanup_free_ uint8_t *csr = NULL;
	struct sev_cert cert;
	struct attest_verdict v = {0};
	const char *b64;
	size_t len = 0;
	bool was_uninit;
	int r;

	r = sevadm_platform_prepare(c, "generate", &was_uninit);
	if (r != 0)
		return r;
	r = sevadm_call(c, "generate", "GET", "/v1/platform/pek-csr", NULL, &res, NULL);
	int r2 = sevadm_platform_restore(c, "generate", was_uninit);
	if (r != 0 || r2 != 0)
		return r ? r : r2;
	b64 = sevadm_json_str(res, "pek_csr", NULL);
	if (!b64 || base64_decode(b64, strlen(b64), &csr, &len) < 0)
		return sevadm_fail("generate", "sevd's answer has no valid base64 'pek_csr' field");
	if (attest_sev_cert_parse(csr, len, &cert, &v) < 0)
		return sevadm_fail("generate", "the PEK CSR from sevd is not a valid SEV certificate: "
					       "%s", attest_verdict_why(&v, "malformed"));
	if (cert.pubkey_usage != SEV_USAGE_PEK)
		return sevadm_fail("generate", "the CSR from sevd holds a %s key, not a PEK",
				   attest_sev_usage_name(cert.pubkey_usage));
	*ret = TAKE_PTR(csr);
	*ret_len = len;
	return 0;
}

int verb_generate(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "force", no_argument, NULL, 'f' },
		{},
	};
	struct http_client *c = NULL;
	_cleanup_free_ uint8_t *csr = NULL;
	size_t len = 0;
	bool force = false;
	int o, r;

	while ((o = getopt_long(argc, argv, "hf", options, NULL)) >= 0) {
		if (o == 'h')
			return help();
		if (o == 'f')
			force = true;
		else
			return sevadm_bad_option("generate", argv);
	}
	if (argc - optind != 1)
		return sevadm_usage("generate", "needs exactly one FILE to write the PEK CSR to");
	const char *path = argv[optind];

	r = sevadm_connect(ctx, "generate", &c);
	if (r != 0)
		return r;
	r = fetch_csr(c, &csr, &len);
	http_client_free(c);
	if (r != 0)
		return r;
	r = force ? write_file_atomic(path, csr, len, 0644) : write_file_new(path, csr, len, 0644);
	if (r == -EEXIST)
		return sevadm_fail("generate", "%s exists; not replacing it (use --force)", path);
	if (r < 0)
		return sevadm_fail("generate", "cannot write %s: %s", path, strerror(-r));
	if (ctx->json) {
		_cleanup_(json_object_putp) json_object *j = json_object_new_object();
		json_object_object_add(j, "file", json_object_new_string(path));
		json_object_object_add(j, "size", json_object_new_int64((int64_t)len));
		sevadm_print_json(j);
	} else
		printf("PEK CSR written to %s (%zu bytes). Sign it with the OCA key, then run "
		       "'sevadm provision PEK_CERT OCA_CERT'.\n", path, len);
	return SEVADM_EXIT_OK;
}
