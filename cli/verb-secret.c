/* sevadm secret build: a LAUNCH_SECRET packet (SEV API §6.6) for the guest, offline.
 * Table mode (sevctl's format): --secret GUID:PATH ... builds OVMF's SEV secret table.
 * Raw mode (sev-tool's package_secret): --raw PATH sends one file as it is. Writes
 * HEADER_FILE (52 bytes: flags ‖ iv ‖ mac) and PAYLOAD_FILE (the ciphertext), together or
 * not at all. Secrets and keys are wiped after use. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/guid.h"
#include "attest/secret.h"
#include "cli/owner.h"
#include "cli/sevadm.h"
#include "common/secret.h"
#include "common/util.h"

static const char verb[] = "secret";
#define MAX_SECRETS 64

static int help(void)
{
	printf("Usage: sevadm secret build (--tik TIK --tek TEK | --tk TK_FILE)\n"
	       "           --launch-measure-blob BLOB [--iv IV] [--api-major N --api-minor N |\n"
	       "           --pek PEK_CERT] (--secret GUID:PATH ... | --raw PATH)\n"
	       "           HEADER_FILE PAYLOAD_FILE\n"
	       "\n"
	       "Package secrets for LAUNCH_SECRET, encrypted with the TEK and MACed with the TIK\n"
	       "over the launch measurement.\n"
	       "  --secret GUID:PATH  add PATH under GUID to OVMF's secret table (sevctl format;\n"
	       "                      repeat for more secrets)\n"
	       "  --raw PATH          send PATH alone, as sev-tool package_secret (at least 8\n"
	       "                      bytes; the firmware wants a multiple of 16)\n"
	       "  --tk TK_FILE        TEK ‖ TIK in one file (sev-tool's tmp_tk.bin)\n"
	       "  --launch-measure-blob  MEASURE ‖ MNONCE from the platform, or just MEASURE\n"
	       "  --iv IV             fix the IV (base64; default: random)\n"
	       "  --api-major/--api-minor, --pek  the platform's API version (default: 0.17 or\n"
	       "                      later); below 0.17 the firmware does not MAC the measurement\n"
	       "TIK, TEK, BLOB are files, base64 or hex.\n"
	       "\n"
	       "       sevadm secret inject HANDLE --header HEADER_FILE --payload PAYLOAD_FILE\n"
	       "Send a built packet to a measured guest through sevd (LAUNCH_SECRET); see\n"
	       "'sevadm secret inject --help'.\n");
	return SEVADM_EXIT_OK;
}

struct sargs {
	const char *tik, *tek, *tk, *blob, *iv, *api_major, *api_minor, *pek, *raw;
	const char *secret[MAX_SECRETS];
	size_t n_secrets;
	const char *header, *payload;
};

static int parse_args(int argc, char **argv, struct sargs *a)
{
	static const struct option options[] = {
		{ "tik", required_argument, NULL, 't' },
		{ "tek", required_argument, NULL, 'e' },
		{ "tk", required_argument, NULL, 'k' },
		{ "launch-measure-blob", required_argument, NULL, 'm' },
		{ "iv", required_argument, NULL, 'i' },
		{ "api-major", required_argument, NULL, 'A' },
		{ "api-minor", required_argument, NULL, 'a' },
		{ "pek", required_argument, NULL, 'p' },
		{ "raw", required_argument, NULL, 'r' },
		{ "secret", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char **slot[128] = {
		['t'] = &a->tik, ['e'] = &a->tek, ['k'] = &a->tk, ['m'] = &a->blob, ['i'] = &a->iv,
		['A'] = &a->api_major, ['a'] = &a->api_minor, ['p'] = &a->pek, ['r'] = &a->raw,
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
		if (c == 'h')
			return help() - 1;
		if (c == 's') {
			if (a->n_secrets >= MAX_SECRETS)
				return sevadm_usage(verb, "at most %d --secret", MAX_SECRETS);
			a->secret[a->n_secrets++] = optarg;
			continue;
		}
		if (c <= 0 || c >= 128 || !slot[c])
			return sevadm_usage(verb, "unknown option or missing argument: '%s'",
					    argv[optind - 1]);
		*slot[c] = optarg;
	}
	if (argc - optind != 2)
		return sevadm_usage(verb, "expected HEADER_FILE and PAYLOAD_FILE");
	a->header = argv[optind];
	a->payload = argv[optind + 1];
	if (!a->blob)
		return sevadm_usage(verb, "--launch-measure-blob is required");
	if (!!a->tk == !!(a->tik || a->tek) || (!a->tk && !(a->tik && a->tek)))
		return sevadm_usage(verb, "give --tik and --tek, or --tk");
	if (!!a->raw == !!a->n_secrets)
		return sevadm_usage(verb, "give --secret GUID:PATH (one or more) or --raw PATH");
	if ((a->api_major || a->api_minor) && (a->pek || !a->api_major || !a->api_minor))
		return sevadm_usage(verb, "give both --api-major and --api-minor, or --pek");
	return 0;
}

static int load_keys(const struct sargs *a, struct attest_tk *tk)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (a->tk) {
		r = owner_read_arg(verb, "--tk", a->tk, sizeof *tk, 0, &buf, &len);
		if (r == 0)
			memcpy(tk, buf, sizeof *tk);
		owner_free_wiped(buf, len);
		return r;
	}
	r = owner_read_arg(verb, "--tek", a->tek, 16, 0, &buf, &len);
	if (r != 0)
		return r;
	memcpy(tk->tek, buf, 16);
	owner_free_wiped(buf, len);
	r = owner_read_arg(verb, "--tik", a->tik, 16, 0, &buf, &len);
	if (r != 0)
		return r;
	memcpy(tk->tik, buf, 16);
	owner_free_wiped(buf, len);
	return 0;
}

/* The platform's API version: given, read from its PEK (as sev-tool does), or "new enough". */
static int api_version(const struct sargs *a, uint8_t *major, uint8_t *minor)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct attest_verdict why = {0};
	struct sev_cert pek;
	uint32_t v;
	size_t len;
	int r;

	*major = 0xff, *minor = 0xff;
	if (a->api_major) {
		if ((r = owner_parse_num(verb, "--api-major", a->api_major, 255, &v)) != 0)
			return r;
		*major = (uint8_t)v;
		if ((r = owner_parse_num(verb, "--api-minor", a->api_minor, 255, &v)) != 0)
			return r;
		*minor = (uint8_t)v;
	} else if (a->pek) {
		r = owner_read_file(verb, "--pek", a->pek, SEV_CERT_SIZE, &buf, &len);
		if (r != 0)
			return r;
		if (attest_sev_cert_parse(buf, len, &pek, &why) < 0)
			return sevadm_fail(verb, "--pek %s is not a SEV certificate: %s", a->pek,
					   attest_verdict_why(&why, "malformed"));
		*major = pek.api_major, *minor = pek.api_minor;
	}
	return 0;
}

static int measurement(const struct sargs *a, uint8_t out[32])
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = owner_read_arg(verb, "--launch-measure-blob", a->blob, 0, SEV_MEASURE_BLOB_SIZE,
			       &buf, &len);

	if (r != 0)
		return r;
	if (len != 32 && len != SEV_MEASURE_BLOB_SIZE) {
		free(buf);
		return sevadm_fail(verb, "--launch-measure-blob must be 48 bytes (MEASURE ‖ MNONCE) "
				   "or 32 (MEASURE), got %zu", len);
	}
	memcpy(out, buf, 32);
	free(buf);
	return 0;
}

/* One --secret GUID:PATH into an entry (data owned by the caller, wiped after use). */
static int parse_secret(const char *arg, struct attest_secret *s)
{
	const char *colon = strchr(arg, ':');
	char guid[40];
	uint8_t *data = NULL;
	int r;

	if (!colon || colon - arg >= (long)sizeof guid)
		return sevadm_usage(verb, "--secret %s: expected GUID:PATH", arg);
	memcpy(guid, arg, (size_t)(colon - arg));
	guid[colon - arg] = 0;
	if (attest_guid_parse(guid, s->guid) < 0)
		return sevadm_usage(verb, "--secret %s: '%s' is not a GUID "
				    "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", arg, guid);
	r = owner_read_file(verb, "secret", colon + 1, ATTEST_SECRET_MAX_LEN, &data, &s->len);
	s->data = data;
	return r;
}

/* The plaintext: OVMF's secret table, or the raw file. Free with secret_free(*ret, *len). */
static int plaintext(const struct sargs *a, uint8_t **ret, size_t *ret_len)
{
	struct attest_secret s[MAX_SECRETS] = {};
	uint8_t *raw = NULL;
	size_t len = 0;
	int r = 0;

	if (a->raw) {
		r = owner_read_file(verb, "--raw", a->raw, ATTEST_SECRET_MAX_LEN, &raw, &len);
		if (r != 0)
			return r;
		if (len < ATTEST_SECRET_RAW_MIN_LEN) {
			owner_free_wiped(raw, len);
			return sevadm_fail(verb, "--raw %s is %zu bytes; a secret needs at least %u "
					   "(as sev-tool requires)", a->raw, len,
					   ATTEST_SECRET_RAW_MIN_LEN);
		}
		if (len % 16)
			fprintf(stderr, "sevadm: %s: warning: %zu bytes is not a multiple of 16; AMD "
					"firmware answers INVALID_LEN to such a packet\n", verb, len);
		*ret = secret_alloc(len);
		if (*ret)
			memcpy(*ret, raw, len);
		owner_free_wiped(raw, len);
		*ret_len = len;
		return *ret ? 0 : sevadm_fail(verb, "out of memory");
	}
	for (size_t i = 0; r == 0 && i < a->n_secrets; i++)
		r = parse_secret(a->secret[i], &s[i]);
	if (r == 0 && (r = attest_secret_table(s, a->n_secrets, ret, ret_len)) < 0)
		r = sevadm_fail(verb, "the secrets do not fit in one packet (at most %u bytes)",
				ATTEST_SECRET_MAX_LEN);
	for (size_t i = 0; i < a->n_secrets; i++)
		owner_free_wiped((uint8_t *)s[i].data, s[i].len);
	return r;
}

static int write_packet(const struct sargs *a, const struct sev_secret_header *h,
			const uint8_t *cipher, size_t len)
{
	struct owner_out o = { .verb = verb };
	int r;

	if ((r = owner_out_add(&o, a->header, h, sizeof *h, 0644)) != 0 ||
	    (r = owner_out_add(&o, a->payload, cipher, len, 0644)) != 0) {
		owner_out_abort(&o);
		return r;
	}
	r = owner_out_commit(&o);
	if (r == 0) {
		printf("Wrote header to: %s\n", a->header);
		printf("Wrote payload to: %s\n", a->payload);
	}
	return r;
}

static int build(const struct sargs *a)
{
	struct attest_tk tk;
	struct sev_secret_header h;
	uint8_t measure[32], iv[16], *plain = NULL, *iv_buf = NULL, major, minor;
	_cleanup_free_ uint8_t *cipher = NULL;
	size_t len = 0, ivlen = 0;
	int r;

	if ((r = api_version(a, &major, &minor)) != 0 || (r = measurement(a, measure)) != 0)
		return r;
	if (a->iv) {
		if (base64_decode(a->iv, strlen(a->iv), &iv_buf, &ivlen) < 0 || ivlen != 16) {
			free(iv_buf);
			return sevadm_usage(verb, "--iv must be base64 of 16 bytes");
		}
		memcpy(iv, iv_buf, 16);
		free(iv_buf);
	}
	if ((r = load_keys(a, &tk)) != 0)
		goto out;
	if ((r = plaintext(a, &plain, &len)) != 0)
		goto out;
	cipher = malloc(len);
	if (!cipher) {
		r = sevadm_fail(verb, "out of memory");
		goto out;
	}
	if (attest_secret_seal(&(struct attest_secret_key){&tk, measure, major, minor},
			       a->iv ? iv : NULL, plain, len, &h, cipher) < 0) {
		r = sevadm_fail(verb, "cannot encrypt the secret packet");
		goto out;
	}
	r = write_packet(a, &h, cipher, len);
out:
	secret_wipe(&tk, sizeof tk);
	if (plain)
		secret_free(plain, len);
	return r;
}

int verb_secret(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	struct sargs a = {};
	int r;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return argc < 2 ? sevadm_usage(verb, "expected 'build' or 'inject'") : help();
	if (strcmp(argv[1], "inject") == 0) /* cli/verb-guest-secret.c: through sevd */
		return verb_secret_inject(ctx, argc - 1, argv + 1);
	if (strcmp(argv[1], "build") != 0)
		return sevadm_usage(verb, "unknown subcommand '%s' (build, inject)", argv[1]);
	optind = 0;
	r = parse_args(argc - 1, argv + 1, &a);
	if (r != 0)
		return r < 0 ? SEVADM_EXIT_OK : r;
	return build(&a);
}
