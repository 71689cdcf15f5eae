/* sevadm export: the platform's certificate chain from GET /v1/platform/certs. `export FILE`
 * writes PDH, PEK, OCA and CEK concatenated (the SEV chain, as sevctl export writes it);
 * `export --full DIR` writes one file per certificate under sevctl's names. Files appear all or
 * none: each is written to a temporary name first and renamed only when all are written. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/amd-cert.h"
#include "attest/chain.h"
#include "attest/sev-cert.h"
#include "common/ossl.h"
#include "common/util.h"
#include "cli/sevadm.h"

const char *const sevadm_cert_names[_SEVADM_CERT_MAX] = { "pdh", "pek", "oca", "cek", "ask", "ark" };

static int help(void)
{
	printf("Usage: sevadm export [--force] [--from CHAIN]... FILE\n"
	       "       sevadm export --full [--force] [--from CHAIN]... DIR\n"
	       "\n"
	       "Export the platform's certificate chain.\n"
	       "  FILE          the SEV chain PDH, PEK, OCA, CEK concatenated (as sevctl export)\n"
	       "  --full DIR    one file per certificate: pdh.cert pek.cert oca.cert cek.cert\n"
	       "                ask.cert ark.cert (DIR is created if missing)\n"
	       "  --from CHAIN  offline: take the certificates from local files instead of sevd\n"
	       "                (any concatenation: a sevctl chain, PDH_CERT_EXPORT's PEK+OCA+CEK,\n"
	       "                AMD's ask_ark_<gen>.cert); with --full, each certificate found is\n"
	       "                written to its own file, so single certs can be extracted\n"
	       "  -f, --force   replace existing files\n");
	return SEVADM_EXIT_OK;
}

void sevadm_certs_clear(struct sevadm_certs *certs)
{
	for (size_t i = 0; i < _SEVADM_CERT_MAX; i++)
		free(certs->buf[i]);
	*certs = (struct sevadm_certs){};
}

/* Each SEV certificate must parse with the usage of its slot; AMD certs must parse. */
static int check_cert(const char *verb, size_t i, const uint8_t *buf, size_t len)
{
	static const uint32_t usage[] = { SEV_USAGE_PDH, SEV_USAGE_PEK, SEV_USAGE_OCA, SEV_USAGE_CEK };

	if (i < ELEMENTSOF(usage)) {
		struct attest_verdict cv = {0};
		struct sev_cert c;
		if (attest_sev_cert_parse(buf, len, &c, &cv) < 0 || len != SEV_CERT_SIZE)
			return sevadm_fail(verb, "sevd sent a malformed %s certificate: %s",
					   sevadm_cert_names[i],
					   attest_verdict_why(&cv, "wrong size"));
		if (c.pubkey_usage != usage[i])
			return sevadm_fail(verb, "sevd sent a %s certificate as the %s",
					   attest_sev_usage_name(c.pubkey_usage), sevadm_cert_names[i]);
		return 0;
	}
	struct amd_cert a;
	struct attest_verdict v = {0};
	size_t used = 0;
	if (attest_amd_cert_parse(buf, len, &a, &used, &v) < 0 || used != len)
		return sevadm_fail(verb, "sevd sent a malformed %s certificate: %s",
				   sevadm_cert_names[i], attest_verdict_why(&v, "trailing bytes"));
	return 0;
}

int sevadm_get_certs(struct http_client *c, const char *verb, struct sevadm_certs *ret)
{
	_cleanup_(json_object_putp) json_object *res = NULL;
	struct sevadm_certs certs = {};
	int r;

	r = sevadm_call(c, verb, "GET", "/v1/platform/certs", NULL, &res, NULL);
	if (r != 0)
		return r;
	for (size_t i = 0; i < _SEVADM_CERT_MAX; i++) {
		const char *b64 = sevadm_json_str(res, sevadm_cert_names[i], NULL);
		if (!b64 && i >= SEVADM_CERT_ASK)
			continue; /* the daemon may not know the AMD roots of this platform */
		if (!b64 || base64_decode(b64, strlen(b64), &certs.buf[i], &certs.len[i]) < 0) {
			sevadm_certs_clear(&certs);
			return sevadm_fail(verb, "sevd's answer has no valid base64 '%s' certificate",
					   sevadm_cert_names[i]);
		}
		r = check_cert(verb, i, certs.buf[i], certs.len[i]);
		if (r != 0) {
			sevadm_certs_clear(&certs);
			return r;
		}
	}
	*ret = certs;
	return 0;
}

/* Write to DIR/.NAME.tmp, fsynced; the caller renames. */
static int write_tmp(const char *dir, const char *name, const uint8_t *buf, size_t len, char **ret_tmp)
{
	_cleanup_free_ char *tmpname = NULL, *tmp = NULL;
	_cleanup_close_ int fd = -1;

	if (asprintf(&tmpname, ".%s.sevadm-tmp", name) < 0)
		return -ENOMEM;
	tmp = path_join(dir, tmpname);
	if (!tmp)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return negative_errno();
	if (loop_write(fd, buf, len) < 0 || fsync(fd) < 0) {
		int r = negative_errno();
		unlink(tmp);
		return r;
	}
	*ret_tmp = TAKE_PTR(tmp);
	return 0;
}

struct out_file {
	const char *name; /* final name in dir */
	const uint8_t *buf;
	size_t len;
};

/* Move the temporaries to their names. Without force, RENAME_NOREPLACE closes the race with
 * a file that appeared after the check, and a failure takes back the files this run already
 * placed, so the directory ends as it was. With force, replaced files cannot be restored. */
static int publish(const char *dir, const struct out_file *f, char **tmp, size_t n, bool force)
{
	size_t done = 0;
	int r = 0;

	for (; done < n && r == 0; done++) {
		_cleanup_free_ char *p = path_join(dir, f[done].name);
		if (!p)
			r = sevadm_fail("export", "out of memory");
		else if (renameat2(AT_FDCWD, tmp[done], AT_FDCWD, p, force ? 0 : RENAME_NOREPLACE) < 0)
			r = sevadm_fail("export", errno == EEXIST ? "%s appeared meanwhile; not replacing "
								     "it (use --force)"
								   : "cannot create %s: %m",
					p);
		else
			free(TAKE_PTR(tmp[done]));
	}
	if (r != 0 && !force)
		for (size_t i = 0; i + 1 < done; i++) {
			_cleanup_free_ char *p = path_join(dir, f[i].name);
			if (p)
				unlink(p);
		}
	return r;
}

/* All files or none: existing targets are refused up front (unless force), every temporary is
 * written and synced before any rename, and a failure removes every temporary. */
static int write_all(const char *dir, const struct out_file *f, size_t n, bool force)
{
	char *tmp[_SEVADM_CERT_MAX] = {};
	int r = 0;

	for (size_t i = 0; i < n && !force; i++) {
		_cleanup_free_ char *p = path_join(dir, f[i].name);
		if (p && access(p, F_OK) == 0)
			return sevadm_fail("export", "%s exists; not replacing it (use --force)", p);
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		r = write_tmp(dir, f[i].name, f[i].buf, f[i].len, &tmp[i]);
		if (r < 0)
			r = sevadm_fail("export", "cannot write %s in %s: %s", f[i].name, dir,
					strerror(-r));
	}
	if (r == 0)
		r = publish(dir, f, tmp, n, force);
	for (size_t i = 0; i < n; i++)
		if (tmp[i]) {
			unlink(tmp[i]);
			free(tmp[i]);
		}
	if (r == 0) {
		/* The renames themselves reach the disk with the directory. */
		_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) < 0)
			r = sevadm_fail("export", "cannot sync the directory %s: %m", dir);
	}
	return r;
}

/* partial: write the certificates present (offline extraction from chain files). */
static int export_full(const char *dir, const struct sevadm_certs *certs, bool force,
		       bool partial)
{
	struct out_file f[_SEVADM_CERT_MAX];
	char names[_SEVADM_CERT_MAX][16];
	size_t n = 0;

	if (!partial && (!certs->buf[SEVADM_CERT_ASK] || !certs->buf[SEVADM_CERT_ARK]))
		return sevadm_fail("export", "sevd does not know this platform's AMD ASK/ARK, so the "
					     "full chain cannot be written; export the SEV chain "
					     "without --full, or install AMD's ask_ark file in sevd's "
					     "roots directory");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return sevadm_fail("export", "cannot create the directory %s: %m", dir);
	for (size_t i = 0; i < _SEVADM_CERT_MAX; i++) {
		if (!certs->buf[i])
			continue;
		snprintf(names[n], sizeof(names[n]), "%s.cert", sevadm_cert_names[i]);
		f[n] = (struct out_file){ names[n], certs->buf[i], certs->len[i] };
		n++;
	}
	return write_all(dir, f, n, force);
}

static int copy_cert(struct sevadm_certs *certs, size_t i, const void *buf, size_t len)
{
	certs->buf[i] = malloc(len);
	if (!certs->buf[i])
		return sevadm_fail("export", "out of memory");
	memcpy(certs->buf[i], buf, len);
	certs->len[i] = len;
	return 0;
}

/* --from: place each certificate of the given files by its key usage (attest/chain.h). */
static int certs_from_files(char **files, size_t n, bool need_sev_chain, struct sevadm_certs *ret)
{
	struct attest_sev_chain ch;
	struct attest_verdict v = {};
	const struct sev_cert *sev[] = { &ch.pdh, &ch.pek, &ch.oca, &ch.cek };
	const struct amd_cert *amd[] = { &ch.ask, &ch.ark };
	bool have[_SEVADM_CERT_MAX];
	size_t found = 0;
	int r;

	attest_sev_chain_init(&ch);
	for (size_t i = 0; i < n; i++)
		if (attest_sev_chain_add_file(&ch, files[i], &v) < 0)
			return sevadm_fail("export", "%s", v.reason);
	memcpy(have, (bool[]){ ch.have_pdh, ch.have_pek, ch.have_oca, ch.have_cek, ch.have_ask,
			       ch.have_ark },
	       sizeof(have));
	for (size_t i = 0; i < _SEVADM_CERT_MAX; i++) {
		uint8_t buf[AMD_CERT_MAX_SIZE];
		size_t len = 0;

		if (!have[i]) {
			if (need_sev_chain && i < 4)
				return sevadm_fail("export", "the files hold no %s certificate, so the "
							     "SEV chain cannot be written (use --full DIR "
							     "to extract the certificates they do hold)",
						   sevadm_cert_names[i]);
			continue;
		}
		if (i < 4)
			r = copy_cert(ret, i, sev[i], SEV_CERT_SIZE);
		else if (attest_amd_cert_encode(amd[i - 4], buf, sizeof(buf), &len) < 0)
			r = sevadm_fail("export", "cannot encode the %s certificate",
					sevadm_cert_names[i]);
		else
			r = copy_cert(ret, i, buf, len);
		if (r != 0)
			return r;
		found++;
	}
	if (found == 0)
		return sevadm_fail("export", "the files hold no SEV or AMD certificate");
	return 0;
}

static int export_chain(const char *path, const struct sevadm_certs *certs, bool force)
{
	uint8_t chain[4 * SEV_CERT_SIZE];
	int r;

	for (size_t i = 0; i < 4; i++)
		memcpy(chain + i * SEV_CERT_SIZE, certs->buf[i], SEV_CERT_SIZE);
	r = force ? write_file_atomic(path, chain, sizeof(chain), 0644)
		  : write_file_new(path, chain, sizeof(chain), 0644);
	if (r == -EEXIST)
		return sevadm_fail("export", "%s exists; not replacing it (use --force)", path);
	if (r < 0)
		return sevadm_fail("export", "cannot write %s: %s", path, strerror(-r));
	return 0;
}

static void report(const struct sevadm_ctx *ctx, const char *dest, bool full,
		   const struct sevadm_certs *certs)
{
	_cleanup_(json_object_putp) json_object *j = json_object_new_object();
	json_object *files = json_object_new_array();

	/* j owns files from here on, also on the text-only paths (no leak) */
	json_object_object_add(j, "full", json_object_new_boolean(full));
	json_object_object_add(j, "files", files);
	if (!full) {
		if (!ctx->json) {
			printf("SEV chain (PDH, PEK, OCA, CEK) written to %s\n", dest);
			return;
		}
		json_object_array_add(files, json_object_new_string(dest));
	}
	if (!ctx->json)
		printf("Certificate chain written to %s:", dest);
	for (size_t i = 0; full && i < _SEVADM_CERT_MAX; i++) {
		char name[16];

		if (!certs->buf[i])
			continue;
		snprintf(name, sizeof(name), "%s.cert", sevadm_cert_names[i]);
		_cleanup_free_ char *p = path_join(dest, name);
		if (!ctx->json)
			printf(" %s", name);
		json_object_array_add(files, json_object_new_string(p ? p : ""));
	}
	if (!ctx->json) {
		putchar('\n');
		return;
	}
	sevadm_print_json(j);
}

int verb_export(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "full", no_argument, NULL, 'F' },
		{ "force", no_argument, NULL, 'f' },
		{ "from", required_argument, NULL, 'r' },
		{},
	};
	_cleanup_(sevadm_certs_clear) struct sevadm_certs certs = {};
	_cleanup_free_ char **from = calloc((size_t)argc + 1, sizeof(char *));
	struct http_client *c = NULL;
	bool full = false, force = false;
	size_t n_from = 0;
	int o, r;

	if (!from)
		return sevadm_fail("export", "out of memory");
	while ((o = getopt_long(argc, argv, "hf", options, NULL)) >= 0) {
		if (o == 'h')
			return help();
		else if (o == 'F')
			full = true;
		else if (o == 'f')
			force = true;
		else if (o == 'r')
			from[n_from++] = optarg;
		else
			return sevadm_bad_option("export", argv);
	}
	if (argc - optind != 1)
		return sevadm_usage("export", full ? "--full needs one DIR" : "needs one FILE (or --full DIR)");
	if (n_from) {
		r = certs_from_files(from, n_from, !full, &certs);
	} else {
		r = sevadm_connect(ctx, "export", &c);
		if (r != 0)
			return r;
		r = sevadm_get_certs(c, "export", &certs);
		http_client_free(c);
	}
	if (r == 0)
		r = full ? export_full(argv[optind], &certs, force, n_from > 0)
			 : export_chain(argv[optind], &certs, force);
	if (r == 0)
		report(ctx, argv[optind], full, &certs);
	return r;
}
