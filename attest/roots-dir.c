/* The file and directory loading of attest/: the one file here that does I/O (opendir, stat,
 * read). It reads the roots directory (roots.h has the layouts) and the certificate files of a
 * SEV chain (chain.h), and hands the bytes to the pure code in roots.c and chain.c, which
 * checks them. Reads only the paths its caller names (or the compiled-in roots default). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/chain.h"
#include "attest/roots-private.h"
#include "attest/roots.h"
#include "common/macros.h"
#include "common/util.h"

#define ROOT_FILE_MAX (64u * 1024u)
#define CHAIN_FILE_MAX (64u * 1024u)

/* ---- roots ---- */

static int read_file(const char *path, uint8_t **buf, size_t *len, struct attest_verdict *v)
{
	int k = read_full_file(path, ROOT_FILE_MAX, buf, len);
	if (k < 0)
		return attest_verdict_fail(v, k, "%s: cannot read: %s", path, strerror(-k));
	return 0;
}

int attest_roots_add_sev_file(struct attest_roots *r, const char *gen, const char *path,
			      bool emulated, struct attest_verdict *v)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int k = read_file(path, &buf, &len, v);
	return k < 0 ? k : attest_roots_add_sev(r, gen, buf, len, emulated, path, v);
}

static bool exists(const char *dir, const char *name)
{
	_cleanup_free_ char *p = path_join(dir, name);
	struct stat st;
	return p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* <gendir>/ark.cert [+ ask.cert]: read both, hand them over as one buffer. */
static int load_gen_dir(struct attest_roots *r, const char *gendir, const char *dirname,
			struct attest_verdict *v)
{
	char gen[32];
	_cleanup_free_ char *ark_path = path_join(gendir, "ark.cert");
	_cleanup_free_ char *ask_path = path_join(gendir, "ask.cert");
	_cleanup_free_ uint8_t *ark = NULL, *ask = NULL, *both = NULL;
	size_t ark_len = 0, ask_len = 0;
	int k;

	if (!ark_path || !ask_path)
		return -ENOMEM;
	if (strlen(dirname) >= sizeof(gen))
		return 0; /* not a generation directory */
	for (k = 0; dirname[k]; k++)
		gen[k] = (char)tolower((unsigned char)dirname[k]);
	gen[k] = 0;
	if (exists(gendir, "ark.pem") && attest_roots_push_str(&r->snp, &r->n_snp, gen) < 0)
		return -ENOMEM;
	if (!exists(gendir, "ark.cert")) {
		if (exists(gendir, "ask.cert"))
			return attest_verdict_fail(v, -EBADMSG, "%s: ask.cert without ark.cert",
						   gendir);
		return 0; /* not a SEV root directory */
	}
	k = read_file(ark_path, &ark, &ark_len, v);
	if (k >= 0 && exists(gendir, "ask.cert"))
		k = read_file(ask_path, &ask, &ask_len, v);
	if (k < 0)
		return k;
	both = malloc(ark_len + ask_len);
	if (!both)
		return -ENOMEM;
	memcpy(both, ark, ark_len);
	if (ask_len)
		memcpy(both + ark_len, ask, ask_len);
	return attest_roots_add_sev(r, gen, both, ark_len + ask_len, false, gendir, v);
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Each subdirectory of dir is a generation (sev/<gen>, snp/<gen> or <gen>). */
static int scan_gens(struct attest_roots *r, const char *dir, struct attest_verdict *v)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int k = 0;

	if (!d) {
		k = negative_errno();
		return attest_verdict_fail(v, k, "%s: cannot open: %s", dir, strerror(-k));
	}
	while (k >= 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *sub = path_join(dir, de->d_name);
		if (!sub)
			k = -ENOMEM;
		else if (is_dir(sub))
			k = load_gen_dir(r, sub, de->d_name, v);
	}
	closedir(d);
	return k;
}

static int load_entry(struct attest_roots *r, const char *dir, const char *name,
		      struct attest_verdict *v)
{
	_cleanup_free_ char *p = path_join(dir, name);
	size_t n = strlen(name);

	if (!p)
		return -ENOMEM;
	if (is_dir(p)) {
		if (strcmp(name, "sev") == 0 || strcmp(name, "snp") == 0)
			return scan_gens(r, p, v);
		return load_gen_dir(r, p, name, v);
	}
	/* ask_ark_<gen>.cert, as AMD publishes it. */
	if (n > strlen("ask_ark_.cert") && strncmp(name, "ask_ark_", 8) == 0 &&
	    endswith(name, ".cert")) {
		char gen[32];
		size_t gl = n - 8 - 5;
		if (gl >= sizeof(gen))
			return attest_verdict_fail(v, -EINVAL, "%s: generation name too long", p);
		memcpy(gen, name + 8, gl);
		gen[gl] = 0;
		return attest_roots_add_sev_file(r, gen, p, false, v);
	}
	return 0;
}

int attest_roots_load_dir(struct attest_roots *r, const char *dir, struct attest_verdict *v)
{
	DIR *d;
	struct dirent *de;
	int k = 0;

	if (!dir)
		dir = attest_roots_default_dir();
	d = opendir(dir);
	if (!d) {
		k = negative_errno();
		return attest_verdict_fail(
		    v, k,
		    "roots directory %s: %s; put AMD's ask_ark_<gen>.cert files there "
		    "(or name another directory)",
		    dir, strerror(-k));
	}
	while (k >= 0 && (de = readdir(d)))
		if (de->d_name[0] != '.')
			k = load_entry(r, dir, de->d_name, v);
	closedir(d);
	if (k < 0)
		return k;
	attest_roots_sort(r);
	return attest_roots_push_str(&r->dirs, &r->n_dirs, dir);
}

int attest_roots_load(const char *dir, struct attest_roots **ret, struct attest_verdict *v)
{
	struct attest_roots *r;
	int k = attest_roots_new(&r);

	if (k < 0)
		return k;
	k = attest_roots_load_dir(r, dir, v);
	if (k < 0) {
		attest_roots_free(r);
		return k;
	}
	*ret = r;
	return 0;
}

char *attest_roots_snp_path(const struct attest_roots *r, const char *gen, const char *name)
{
	char lower[32];
	size_t i;

	if (!r || !gen || !name || strlen(gen) >= sizeof(lower) || strchr(name, '/') ||
	    strchr(gen, '/'))
		return NULL;
	for (i = 0; gen[i]; i++)
		lower[i] = (char)tolower((unsigned char)gen[i]);
	lower[i] = 0;
	for (size_t d = 0; d < r->n_dirs; d++) {
		const char *fmts[] = { "%s/snp/%s/%s", "%s/%s/%s" };
		for (size_t f = 0; f < ELEMENTSOF(fmts); f++) {
			char *p = NULL;
			struct stat st;
			if (asprintf(&p, fmts[f], r->dirs[d], lower, name) < 0)
				return NULL;
			if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
				return p;
			free(p);
		}
	}
	return NULL;
}

/* ---- SEV chain files ---- */

int attest_sev_chain_add_file(struct attest_sev_chain *c, const char *path,
			      struct attest_verdict *v)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r = read_full_file(path, CHAIN_FILE_MAX, &buf, &len);

	if (r < 0)
		return attest_verdict_fail(v, r, "%s: cannot read: %s", path, strerror(-r));
	return attest_sev_chain_add_blob(c, buf, len, path, v);
}

/* AMD's ask_ark_<gen>.cert beside the platform certificates (sevctl users often keep it there). */
static int load_ask_ark(struct attest_sev_chain *c, const char *dir, struct attest_verdict *v)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return attest_verdict_fail(v, negative_errno(), "%s: cannot open: %s", dir, strerror(errno));
	while (r >= 0 && (de = readdir(d))) {
		if (strncmp(de->d_name, "ask_ark_", 8) != 0 || !endswith(de->d_name, ".cert"))
			continue;
		_cleanup_free_ char *p = path_join(dir, de->d_name);
		r = p ? attest_sev_chain_add_file(c, p, v) : -ENOMEM;
	}
	closedir(d);
	return r;
}

int attest_sev_chain_load_dir(struct attest_sev_chain *c, const char *dir,
			      struct attest_verdict *v)
{
	static const char *const names[] = { "pdh.cert", "pek.cert", "oca.cert",
					     "cek.cert", "ask.cert", "ark.cert" };

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		_cleanup_free_ char *p = path_join(dir, names[i]);
		if (!p)
			return -ENOMEM;
		if (access(p, F_OK) < 0 && errno == ENOENT)
			continue;
		int r = attest_sev_chain_add_file(c, p, v);
		if (r < 0)
			return r;
	}
	return load_ask_ark(c, dir, v);
}
