/* sevadm session: the guest owner's LAUNCH_START inputs for one platform, offline. Files as
 * sevctl session writes them, so a user can switch tools: NAME_godh.b64 and NAME_session.b64
 * (base64 of the 0x824-byte GODH cert and the 0x80-byte session blob, no newline),
 * NAME_tek.bin and NAME_tik.bin (16 raw bytes each, mode 0600). Trusts the PDH it is given:
 * verify the platform's chain first (sevadm verify chain). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attest/session.h"
#include "cli/owner.h"
#include "cli/sevadm.h"
#include "common/secret.h"
#include "common/util.h"

static const char verb[] = "session";

static int help(void)
{
	printf("Usage: sevadm session [--name NAME] PDH_CERT POLICY\n"
	       "\n"
	       "Make a launch session for the platform whose PDH is given: a fresh guest owner\n"
	       "Diffie-Hellman key, fresh TEK and TIK, wrapped for that platform (SEV API 6.2).\n"
	       "  PDH_CERT     the PDH certificate: a bare pdh.cert, a chain file that starts\n"
	       "               with the PDH (sevadm export FILE), or a directory with pdh.cert\n"
	       "  POLICY       the guest policy, decimal or 0x hex\n"
	       "  -n, --name   prefix of the output files (default \"vm\"): NAME_godh.b64,\n"
	       "               NAME_session.b64, NAME_tek.bin, NAME_tik.bin (keys: mode 0600)\n"
	       "Verify the platform's certificate chain first (sevadm verify chain).\n");
	return SEVADM_EXIT_OK;
}

/* The PDH from a bare cert, a chain file (PDH first) or a directory holding pdh.cert. */
static int read_pdh(const char *arg, struct sev_cert *ret)
{
	_cleanup_free_ char *dir_pdh = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	struct attest_verdict v = {0};
	const char *path = arg;
	struct stat st;
	size_t len = 0;
	int r;

	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
		dir_pdh = path_join(arg, "pdh.cert");
		if (!dir_pdh)
			return sevadm_fail(verb, "out of memory");
		path = dir_pdh;
	}
	r = owner_read_file(verb, "PDH certificate", path, 16 * SEV_CERT_SIZE, &buf, &len);
	if (r != 0)
		return r;
	if (len < SEV_CERT_SIZE)
		return sevadm_fail(verb, "%s is %zu bytes, too short for a SEV certificate (%u)", path,
				   len, SEV_CERT_SIZE);
	if (attest_sev_cert_parse(buf, SEV_CERT_SIZE, ret, &v) < 0)
		return sevadm_fail(verb, "%s is not a SEV certificate: %s", path,
				   attest_verdict_why(&v, "malformed"));
	if (ret->pubkey_usage != SEV_USAGE_PDH)
		return sevadm_fail(verb, "%s starts with a %s certificate, not a PDH — pass pdh.cert "
				   "or the chain as 'sevadm export' writes it", path,
				   attest_sev_usage_name(ret->pubkey_usage));
	return 0;
}

static int out_b64(struct owner_out *o, const char *name, const char *suffix, const void *buf,
		   size_t len)
{
	_cleanup_free_ char *path = NULL, *text = base64_encode(buf, len);

	if (!text || asprintf(&path, "%s%s", name, suffix) < 0)
		return sevadm_fail(verb, "out of memory");
	return owner_out_add(o, path, text, strlen(text), 0644);
}

static int out_key(struct owner_out *o, const char *name, const char *suffix, const uint8_t *key)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s%s", name, suffix) < 0)
		return sevadm_fail(verb, "out of memory");
	return owner_out_add(o, path, key, ATTEST_TK_KEY_SIZE, 0600);
}

static int write_session(const char *name, const struct sev_cert *godh,
			 const struct sev_session_blob *blob, const struct attest_tk *tk)
{
	struct owner_out o = { .verb = verb };
	int r;

	if ((r = out_b64(&o, name, "_godh.b64", godh, sizeof *godh)) != 0 ||
	    (r = out_b64(&o, name, "_session.b64", blob, sizeof *blob)) != 0 ||
	    (r = out_key(&o, name, "_tek.bin", tk->tek)) != 0 ||
	    (r = out_key(&o, name, "_tik.bin", tk->tik)) != 0) {
		owner_out_abort(&o);
		return r;
	}
	return owner_out_commit(&o);
}

int verb_session(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *name = "vm";
	struct sev_cert pdh, godh;
	struct sev_session_blob blob;
	struct attest_tk tk;
	uint32_t policy;
	int c, r;

	(void)ctx;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:n:h", options, NULL)) >= 0) {
		switch (c) {
		case 'n': name = optarg; break;
		case 'h': return help();
		case ':': return sevadm_usage(verb, "option '%s' needs an argument", argv[optind - 1]);
		default: return sevadm_usage(verb, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return sevadm_usage(verb, "expected PDH_CERT and POLICY");
	if (!*name)
		return sevadm_usage(verb, "--name must not be empty");
	r = owner_parse_num(verb, "POLICY", argv[optind + 1], UINT32_MAX, &policy);
	if (r != 0)
		return r;
	r = read_pdh(argv[optind], &pdh);
	if (r != 0)
		return r;
	r = attest_session_build(&pdh, policy, NULL, &godh, &blob, &tk);
	if (r < 0)
		return sevadm_fail(verb, "cannot build a session for %s: %s", argv[optind],
				   r == -EBADMSG || r == -EINVAL ? "its PDH key is unusable"
								 : strerror(-r));
	r = write_session(name, &godh, &blob, &tk);
	secret_wipe(&tk, sizeof tk);
	return r;
}
