/* sevadm measure: LAUNCH_MEASURE of a launched guest through sevd. Prints MEASURE ‖ MNONCE as
 * base64, as sevctl prints a measurement, so the blob feeds `sevadm secret build
 * --launch-measure-blob` and sevctl alike; --outfile writes the 48 raw bytes. With the TIK and
 * the expected launch digest (or the firmware image) it verifies the measurement the platform
 * returned (SEV API §6.5) with attest/measurement.h, using the platform's API version and
 * build from sevd. sevd's answer is untrusted: sizes are checked, values only compared. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/measurement.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"
#include "cli/guest.h"
#include "cli/owner.h"
#include "policy/guest-policy.h"
#include "psp/sev-abi.h"

static const char verb[] = "measure";
#define FIRMWARE_MAX (64u << 20)

static int help(void)
{
	printf("Usage: sevadm measure HANDLE [--outfile FILE]\n"
	       "           [--tik TIK (--launch-digest DIGEST | --firmware FILE) [--policy P]]\n"
	       "\n"
	       "Ask the firmware for the guest's launch measurement (LAUNCH_MEASURE; the guest moves\n"
	       "from LUPDATE to LSECRET) and print MEASURE ‖ MNONCE as base64, as sevctl does.\n"
	       "  --outfile FILE       also write the 48 raw bytes (for 'sevadm secret build\n"
	       "                       --launch-measure-blob')\n"
	       "  --tik TIK            the session's TIK (NAME_tik.bin; a file, base64 or hex):\n"
	       "                       verify the measurement, exit 1 when it does not match\n"
	       "  --launch-digest D    the expected launch digest: SHA-256 of what was launched\n"
	       "                       (base64 or hex)\n"
	       "  --firmware FILE      or the launched image itself: its SHA-256 is the digest\n"
	       "                       (SEV-ES guests also measure their VMSA pages: compute their\n"
	       "                       digest with 'sevadm measurement build' and its flags)\n"
	       "  --policy P           the policy you launched with (default: the one sevd reports)\n"
	       "The API version and build come from the platform (GET /v1/platform).\n");
	return SEVADM_EXIT_OK;
}

struct margs {
	uint32_t handle;
	const char *outfile, *tik, *digest, *firmware, *policy_s;
	uint32_t policy;
};

static int on_option(int o, const char *arg, void *p)
{
	struct margs *a = p;

	switch (o) {
	case 'o': a->outfile = arg; break;
	case 't': a->tik = arg; break;
	case 'd': a->digest = arg; break;
	case 'f': a->firmware = arg; break;
	case 'p': a->policy_s = arg; break;
	default: return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct margs *a)
{
	static const struct option options[] = {
		{ "outfile", required_argument, NULL, 'o' },
		{ "tik", required_argument, NULL, 't' },
		{ "launch-digest", required_argument, NULL, 'd' },
		{ "firmware", required_argument, NULL, 'f' },
		{ "policy", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int r = guest_parse_options(verb, argc, argv, options, help, on_option, a);

	if (r != 0)
		return r;
	if (argc - optind != 1)
		return sevadm_usage(verb, "needs exactly one HANDLE");
	if (a->tik && !!a->digest == !!a->firmware)
		return sevadm_usage(verb, "--tik needs --launch-digest or --firmware (one of them)");
	if (!a->tik && (a->digest || a->firmware || a->policy_s))
		return sevadm_usage(verb, "--launch-digest, --firmware and --policy need --tik");
	if (a->policy_s && policy_parse(a->policy_s, &a->policy) < 0)
		return sevadm_usage(verb, "--policy %s: not a policy (a number, or words such as "
				    "nodbg,es)", a->policy_s);
	return guest_parse_handle(verb, argv[optind], &a->handle);
}

/* MEASURE ‖ MNONCE from sevd's {"measurement": hex, "mnonce": hex}. */
static int parse_blob(json_object *res, uint32_t handle, uint8_t blob[SEV_MEASURE_BLOB_SIZE])
{
	const char *m = sevadm_json_str(res, "measurement", NULL);
	const char *n = sevadm_json_str(res, "mnonce", NULL);

	if (!m || !n || hex_decode_exact(m, blob, SEV_MEASURE_SIZE) < 0 ||
	    hex_decode_exact(n, blob + SEV_MEASURE_SIZE, SEV_MNONCE_SIZE) < 0)
		return sevadm_fail(verb, "guest %u: sevd's answer lacks a 32-byte measurement and a "
				   "16-byte mnonce (hex) — is sevd too old for this sevadm?", handle);
	return 0;
}

/* The expected digest: given, or SHA-256 of the launched image. */
static int expected_digest(const struct margs *a, uint8_t digest[32])
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (a->firmware)
		return owner_sha256_file(verb, "--firmware", a->firmware, digest);
	r = owner_read_arg(verb, "--launch-digest", a->digest, 32, 0, &buf, &len);
	if (r == 0)
		memcpy(digest, buf, 32);
	free(buf);
	return r;
}

/* 0 when the measurement matches, SEVADM_EXIT_FAIL (printed) when not. */
static int verify(struct http_client *c, const struct margs *a, uint32_t policy,
		  const uint8_t blob[SEV_MEASURE_BLOB_SIZE])
{
	_cleanup_(json_object_putp) json_object *plat = NULL;
	struct attest_measure_input in = { .ctx = ATTEST_MEASURE_CTX, .policy = policy };
	uint8_t *tik = NULL;
	size_t tik_len = 0;
	int r;

	if ((r = expected_digest(a, in.digest)) != 0)
		return r;
	if ((r = guest_call(c, verb, 0, "GET", "/v1/platform", NULL, &plat)) != 0)
		return r;
	in.api_major = (uint8_t)sevadm_json_int(plat, "api_major", 0);
	in.api_minor = (uint8_t)sevadm_json_int(plat, "api_minor", 0);
	in.build = (uint8_t)sevadm_json_int(plat, "build", 0);
	memcpy(in.mnonce, blob + SEV_MEASURE_SIZE, SEV_MNONCE_SIZE);
	if ((r = owner_read_arg(verb, "--tik", a->tik, 16, 0, &tik, &tik_len)) != 0)
		return r;
	r = attest_measurement_verify(tik, &in, blob);
	owner_free_wiped(tik, tik_len);
	if (r < 0)
		return sevadm_fail(verb, "cannot compute the expected measurement (OpenSSL failed)");
	if (r == 0)
		return sevadm_fail(verb, "guest %u: the measurement does NOT match the expected one "
				   "(API %u.%u build %u, policy 0x%x) — the launched image or policy "
				   "differs, or --tik is not this session's TIK: do not trust this "
				   "guest with secrets", a->handle, in.api_major, in.api_minor,
				   in.build, policy);
	return 0;
}

static int write_blob(const char *path, const uint8_t *blob)
{
	struct owner_out o = { .verb = verb };
	int r = owner_out_add(&o, path, blob, SEV_MEASURE_BLOB_SIZE, 0644);

	if (r != 0) {
		owner_out_abort(&o);
		return r;
	}
	return owner_out_commit(&o);
}

static void print_result(const struct sevadm_ctx *ctx, const struct margs *a,
			 const uint8_t *blob, bool verified)
{
	_cleanup_free_ char *b64 = base64_encode(blob, SEV_MEASURE_BLOB_SIZE);
	_cleanup_free_ char *mh = hex_encode(blob, SEV_MEASURE_SIZE);
	_cleanup_free_ char *nh = hex_encode(blob + SEV_MEASURE_SIZE, SEV_MNONCE_SIZE);

	if (!ctx->json) {
		printf("%s\n", b64 ? b64 : "?");
		if (verified)
			fprintf(stderr, "Measurement verified: guest %u runs what was expected.\n",
				a->handle);
		return;
	}
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	json_object_object_add(o, "handle", json_object_new_int64(a->handle));
	json_object_object_add(o, "measurement", json_object_new_string(mh ? mh : ""));
	json_object_object_add(o, "mnonce", json_object_new_string(nh ? nh : ""));
	json_object_object_add(o, "blob", json_object_new_string(b64 ? b64 : ""));
	json_object_object_add(o, "verified", a->tik ? json_object_new_boolean(verified) : NULL);
	sevadm_print_json(o);
}

int verb_measure(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	_cleanup_(json_object_putp) json_object *res = NULL;
	struct http_client *c = NULL;
	struct margs a = {};
	uint8_t blob[SEV_MEASURE_BLOB_SIZE];
	char path[80];
	int r;

	r = parse_args(argc, argv, &a);
	if (r != 0)
		return r < 0 ? SEVADM_EXIT_OK : r;
	if ((r = sevadm_connect(ctx, verb, &c)) != 0)
		return r;
	r = guest_call(c, verb, a.handle, "GET",
		       guest_path(path, sizeof(path), a.handle, "/measurement"), NULL, &res);
	if (r == 0)
		r = parse_blob(res, a.handle, blob);
	/* The policy the firmware hashed: the owner's own when given, else what sevd reports. */
	if (r == 0 && a.tik)
		r = verify(c, &a, a.policy_s ? a.policy : guest_policy_value(res, "policy", 0), blob);
	http_client_free(c);
	if (r == 0 && a.outfile)
		r = write_blob(a.outfile, blob);
	if (r == 0)
		print_result(ctx, &a, blob, a.tik != NULL);
	return r;
}
