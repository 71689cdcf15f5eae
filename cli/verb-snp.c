/* sevadm snp id-block: the ID block and ID authentication structure a guest owner hands to
 * SNP_LAUNCH_FINISH (attest/snp-id.h), as snp-create-id-block makes them: written to --out
 * DIR (id-block.bin, id-auth.bin), printed as QEMU's sev-snp-guest id-block=/id-auth=
 * properties (base64) with the key digests the report will carry. Offline. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "attest/snp-id.h"
#include "cli/owner.h"
#include "cli/sevadm.h"
#include "common/ossl.h"
#include "common/util.h"

static const char verb[] = "snp";

static int help(void)
{
	printf("Usage: sevadm snp id-block --measurement DIGEST --policy P --family-id X\n"
	       "           --image-id Y --svn N --id-key KEY.pem [--author-key KEY.pem]\n"
	       "           --out DIR\n"
	       "       sevadm snp show [--json]\n"
	       "       sevadm snp commit\n"
	       "       sevadm snp config set [--tcb bl=N,tee=N,snp=N,ucode=N[,fmc=N]]\n"
	       "           [--mask-chip-id] [--mask-chip-key]\n"
	       "       sevadm snp config reset\n"
	       "       sevadm snp vlek load FILE\n"
	       "       sevadm snp certs import DIR [--der] | export DIR [--der] | show [--json]\n"
	       "       sevadm snp fetch [--out DIR] [--kds-url URL] [--cache DIR]\n"
	       "\n"
	       "show      the SEV-SNP platform through sevd (SNP_PLATFORM_STATUS): state, RMP,\n"
	       "          masks, VLEK, guests, the running and reported TCB\n"
	       "commit    SNP_COMMIT: the running firmware and TCB become the committed ones\n"
	       "          (no rollback below them)\n"
	       "config    set: SNP_SET_CONFIG with the reported TCB (default: the committed\n"
	       "          one) and masks (default: off); reset: the defaults\n"
	       "vlek      load FILE: SNP_VLEK_LOAD of a wrapped VLEK hashstick (432 bytes)\n"
	       "certs     the host's certificate table (GET/PUT /v1/snp/certs) as snphost's\n"
	       "          files: ark.pem, ask.pem, vcek.pem or vlek.pem, asvk.pem (--der: *.der);\n"
	       "          show: each entry's GUID, name, subject, validity, SHA-384 fingerprint\n"
	       "fetch     this chip's VCEK for its reported TCB and the ASK/ARK from the KDS\n"
	       "          (through the cache of 'sevadm fetch'), checked, into --out DIR\n"
	       "          (default .): vcek.der, vcek.pem, cert_chain, ask.pem, ark.pem\n"
	       "--json    show: the daemon's JSON (\"state\" as firmware names it)\n"
	       "--tcb LIST       config set: bl, tee, snp, ucode (and fmc on Turin), 0..255\n"
	       "--mask-chip-id   config set: reports carry a zero CHIP_ID\n"
	       "--mask-chip-key  config set: reports are not signed\n"
	       "\n"
	       "id-block  write the SEV-SNP ID block (DIR/id-block.bin, 96 bytes) and its ID\n"
	       "          authentication structure (DIR/id-auth.bin, 4096 bytes) for\n"
	       "          SNP_LAUNCH_FINISH, and print them as QEMU's id-block=/id-auth= (base64)\n"
	       "          with the SHA-384 digests of the keys (the report's ID_KEY_DIGEST and\n"
	       "          AUTHOR_KEY_DIGEST)\n"
	       "--measurement DIGEST  the SNP launch digest (48 bytes: hex, base64 or a file)\n"
	       "--policy P            the guest policy (64-bit number, decimal or 0x hex)\n"
	       "--family-id X, --image-id Y  16 bytes each (hex, base64 or a file)\n"
	       "--svn N               the guest SVN\n"
	       "--id-key KEY.pem      EC P-384 private key that signs the ID block\n"
	       "--author-key KEY.pem  EC P-384 private key that signs the ID key (then launch\n"
	       "                      with AUTHOR_KEY_EN: QEMU's author-key-enabled=on)\n");
	return SEVADM_EXIT_OK;
}

struct iargs {
	const char *measurement, *policy, *family, *image, *svn, *id_key, *author_key, *out;
};

static int parse_args(int argc, char **argv, struct iargs *a)
{
	static const struct option options[] = {
		{ "measurement", required_argument, NULL, 'm' },
		{ "policy", required_argument, NULL, 'p' },
		{ "family-id", required_argument, NULL, 'f' },
		{ "image-id", required_argument, NULL, 'i' },
		{ "svn", required_argument, NULL, 's' },
		{ "id-key", required_argument, NULL, 'k' },
		{ "author-key", required_argument, NULL, 'a' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char **slot[128] = {
		['m'] = &a->measurement, ['p'] = &a->policy, ['f'] = &a->family, ['i'] = &a->image,
		['s'] = &a->svn, ['k'] = &a->id_key, ['a'] = &a->author_key, ['o'] = &a->out,
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
		if (c == 'h')
			return help() - 1; /* -1: stop, exit 0 */
		if (c == ':' || c <= 0 || c >= 128 || !slot[c])
			return sevadm_usage(verb, "unknown option or missing argument: '%s'",
					    argv[optind - 1]);
		*slot[c] = optarg;
	}
	if (optind != argc)
		return sevadm_usage(verb, "unexpected argument '%s'", argv[optind]);
	if (!a->measurement || !a->policy || !a->family || !a->image || !a->svn || !a->id_key ||
	    !a->out)
		return sevadm_usage(verb, "id-block needs --measurement, --policy, --family-id, "
				    "--image-id, --svn, --id-key and --out");
	return 0;
}

static int read_fixed(const char *flag, const char *val, uint8_t *out, size_t n)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = owner_read_arg(verb, flag, val, n, 0, &buf, &len);

	if (r == 0)
		memcpy(out, buf, n);
	free(buf);
	return r;
}

static int block_from_args(const struct iargs *a, struct snp_id_block *b)
{
	int r;

	b->version = 1;
	if ((r = read_fixed("--measurement", a->measurement, b->ld, sizeof b->ld)) != 0 ||
	    (r = read_fixed("--family-id", a->family, b->family_id, 16)) != 0 ||
	    (r = read_fixed("--image-id", a->image, b->image_id, 16)) != 0 ||
	    (r = owner_parse_num(verb, "--svn", a->svn, UINT32_MAX, &b->guest_svn)) != 0)
		return r;
	if (parse_u64(a->policy, &b->policy) < 0)
		return sevadm_usage(verb, "--policy=%s must be a number (decimal or 0x hex)",
				    a->policy);
	return 0;
}

static int load_key(const char *flag, const char *path, EVP_PKEY **ret)
{
	_cleanup_(BIO_free_allp) BIO *bio = BIO_new_file(path, "r");
	uint8_t digest[48];

	if (!bio) {
		ERR_clear_error();
		return sevadm_fail(verb, "cannot open %s %s: %s", flag, path, strerror(errno));
	}
	*ret = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	ERR_clear_error();
	if (!*ret)
		return sevadm_fail(verb, "%s %s is not a PEM private key (make one with 'openssl "
				   "ecparam -name secp384r1 -genkey -noout')", flag, path);
	if (attest_snp_pubkey_digest(*ret, digest) < 0)
		return sevadm_fail(verb, "%s %s is not an EC P-384 key: SEV-SNP ID keys are ECDSA "
				   "P-384", flag, path);
	return 0;
}

static int write_out(const char *dir, const uint8_t *block, const uint8_t *auth)
{
	_cleanup_free_ char *pb = NULL, *pa = NULL;
	struct owner_out o = { .verb = verb };
	int r;

	if (asprintf(&pb, "%s/id-block.bin", dir) < 0 || asprintf(&pa, "%s/id-auth.bin", dir) < 0)
		return sevadm_fail(verb, "out of memory");
	if ((r = owner_out_add(&o, pb, block, SNP_ID_BLOCK_SIZE, 0644)) != 0 ||
	    (r = owner_out_add(&o, pa, auth, SNP_ID_AUTH_SIZE, 0644)) != 0) {
		owner_out_abort(&o);
		return r;
	}
	return owner_out_commit(&o);
}

static int print_result(const uint8_t *block, const uint8_t *auth, EVP_PKEY *id, EVP_PKEY *author)
{
	_cleanup_free_ char *b = base64_encode(block, SNP_ID_BLOCK_SIZE);
	_cleanup_free_ char *a = base64_encode(auth, SNP_ID_AUTH_SIZE), *hid = NULL, *hau = NULL;
	uint8_t d[48];

	if (attest_snp_pubkey_digest(id, d) < 0 || !(hid = hex_encode(d, sizeof d)))
		return sevadm_fail(verb, "cannot hash the ID key");
	if (author && (attest_snp_pubkey_digest(author, d) < 0 || !(hau = hex_encode(d, sizeof d))))
		return sevadm_fail(verb, "cannot hash the author key");
	if (!b || !a)
		return sevadm_fail(verb, "out of memory");
	printf("id-block=%s,id-auth=%s\n", b, a);
	printf("id_key_digest: %s\n", hid);
	if (hau)
		printf("author_key_digest: %s\n", hau);
	return 0;
}

static int id_block(int argc, char **argv)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *id = NULL, *author = NULL;
	struct iargs a = {};
	struct snp_id_block b = {};
	uint8_t block[SNP_ID_BLOCK_SIZE], auth[SNP_ID_AUTH_SIZE];
	int r;

	optind = 0;
	if ((r = parse_args(argc, argv, &a)) != 0)
		return r < 0 ? SEVADM_EXIT_OK : r;
	if ((r = block_from_args(&a, &b)) != 0 || (r = load_key("--id-key", a.id_key, &id)) != 0 ||
	    (a.author_key && (r = load_key("--author-key", a.author_key, &author)) != 0))
		return r;
	attest_snp_id_block_encode(&b, block);
	if (attest_snp_id_auth_build(block, id, author, auth) < 0)
		return sevadm_fail(verb, "signing the ID block failed (ECDSA P-384 SHA-384)");
	if ((r = write_out(a.out, block, auth)) != 0)
		return r;
	return print_result(block, auth, id, author);
}

int verb_snp(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return argc < 2 ? sevadm_usage(verb, "expected 'id-block'") : help();
	if (strcmp(argv[1], "id-block") != 0) {
		int r = sevadm_snp_host(ctx, argc - 1, argv + 1);

		return r != -ENOENT ? r
				    : sevadm_usage(verb, "unknown subcommand '%s' (id-block, show, "
							 "commit, config, vlek, certs, fetch)", argv[1]);
	}
	return id_block(argc - 1, argv + 1);
}
