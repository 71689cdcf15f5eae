/* sevadm attest: an attestation report of a launched guest (ATTESTATION, SEV API §6.8) through
 * sevd, for a fresh nonce: the report carries the launch digest and the nonce, signed with the
 * platform's PEK. Writes the report (raw) for `sevadm verify report --chain DIR --nonce HEX`
 * and prints it as base64. An SEV-SNP guest is refused naming the guest-side path (the host
 * holds no VMPCK). sevd's answer is untrusted: only its size is checked here; the
 * signature is verify report's business. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"
#include "cli/guest.h"
#include "cli/owner.h"
#include "psp/sev-abi.h"

static const char verb[] = "attest";
#define NONCE_SIZE 16

static int help(void)
{
	printf("Usage: sevadm attest HANDLE [--nonce HEX] [--outfile FILE]\n"
	       "\n"
	       "Ask the firmware for an attestation report of the guest (ATTESTATION), signed with\n"
	       "the platform's PEK, and print it as base64.\n"
	       "  --nonce HEX     16 bytes (32 hex digits) to bind the report to; default: random\n"
	       "                  (printed on stderr, or in the JSON)\n"
	       "  --outfile FILE  also write the raw report\n"
	       "Check it with: sevadm verify report FILE --chain DIR --nonce HEX\n");
	return SEVADM_EXIT_OK;
}

struct aargs {
	uint32_t handle;
	const char *nonce, *outfile;
	uint8_t n[NONCE_SIZE];
};

static int on_option(int o, const char *arg, void *p)
{
	struct aargs *a = p;

	switch (o) {
	case 'n': a->nonce = arg; break;
	case 'o': a->outfile = arg; break;
	default: return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct aargs *a)
{
	static const struct option options[] = {
		{ "nonce", required_argument, NULL, 'n' },
		{ "outfile", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int r = guest_parse_options(verb, argc, argv, options, help, on_option, a);

	if (r != 0)
		return r;
	if (argc - optind != 1)
		return sevadm_usage(verb, "needs exactly one HANDLE");
	if (a->nonce && hex_decode_exact(a->nonce, a->n, NONCE_SIZE) < 0)
		return sevadm_usage(verb, "--nonce %s: expected 32 hex digits (16 bytes)", a->nonce);
	if (!a->nonce && RAND_bytes(a->n, NONCE_SIZE) != 1)
		return sevadm_fail(verb, "cannot draw a random nonce (OpenSSL RAND_bytes failed)");
	return guest_parse_handle(verb, argv[optind], &a->handle);
}

/* The report from sevd's {"report": base64}. */
static int parse_report(json_object *res, uint32_t h, uint8_t **ret, size_t *ret_len)
{
	const char *b = sevadm_json_str(res, "report", NULL);

	if (!b || base64_decode(b, strlen(b), ret, ret_len) < 0 ||
	    *ret_len != sizeof(struct sev_attestation_report))
		return sevadm_fail(verb, "guest %u: sevd's answer lacks a %zu-byte report (base64)",
				   h, sizeof(struct sev_attestation_report));
	return 0;
}

static int write_report(const char *path, const uint8_t *rep, size_t len)
{
	struct owner_out o = { .verb = verb };
	int r = owner_out_add(&o, path, rep, len, 0644);

	if (r != 0) {
		owner_out_abort(&o);
		return r;
	}
	return owner_out_commit(&o);
}

/* An SEV-SNP guest's report is the guest's own request (MSG_REPORT_REQ under a VMPCK that
 * only the guest holds): the host cannot ask for one, so refuse and name the guest-side path. */
static int refuse_snp(const struct sevadm_ctx *ctx, uint32_t h)
{
	_cleanup_(json_object_putp) json_object *g = NULL;
	int r = guest_simple_verb(ctx, verb, h, "GET", "", NULL, &g);

	if (r != 0)
		return r;
	if (strcmp(sevadm_json_str(g, "type", ""), "snp") != 0)
		return 0;
	return sevadm_fail(verb, "guest %u is an SEV-SNP guest: its attestation report is its own "
			   "request, sealed with a VMPCK that only the guest holds (the host never "
			   "has one), so sevd and sevadm cannot ask for it. Ask from the guest side: "
			   "snpguest report inside the guest, or 'sev-run --daemon unix:PATH "
			   "--snp-report %u --nonce HEX --outfile FILE [--certs DIR]' playing the "
			   "guest on sev-psp-emu; then 'sevadm verify report FILE'", h, h);
}

int verb_attest(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	_cleanup_(json_object_putp) json_object *res = NULL;
	_cleanup_free_ uint8_t *rep = NULL;
	_cleanup_free_ char *nhex = NULL, *b64 = NULL;
	struct aargs a = {};
	size_t len = 0;
	char suffix[80];
	int r = parse_args(argc, argv, &a);

	if (r != 0)
		return r < 0 ? SEVADM_EXIT_OK : r;
	r = refuse_snp(ctx, a.handle);
	if (r != 0)
		return r;
	nhex = hex_encode(a.n, NONCE_SIZE);
	if (!nhex)
		return sevadm_fail(verb, "out of memory");
	snprintf(suffix, sizeof(suffix), "/attestation?nonce=%s", nhex);
	r = guest_simple_verb(ctx, verb, a.handle, "GET", suffix, NULL, &res);
	if (r == 0)
		r = parse_report(res, a.handle, &rep, &len);
	if (r == 0 && a.outfile)
		r = write_report(a.outfile, rep, len);
	if (r != 0)
		return r;
	b64 = base64_encode(rep, len);
	if (ctx->json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();
		json_object_object_add(o, "handle", json_object_new_int64(a.handle));
		json_object_object_add(o, "nonce", json_object_new_string(nhex));
		json_object_object_add(o, "report", json_object_new_string(b64 ? b64 : ""));
		sevadm_print_json(o);
	} else {
		printf("%s\n", b64 ? b64 : "?");
		if (!a.nonce)
			fprintf(stderr, "nonce: %s\n", nhex);
	}
	return SEVADM_EXIT_OK;
}
