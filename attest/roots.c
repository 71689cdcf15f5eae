/* Trust anchors (see roots.h for the layouts). Reads only the roots directory the caller names
 * (or the compiled-in default); trusts its files as anchors only after checking each ARK's
 * self-signature and each ASK's signature, and for AMD's five generations the ARK key id AMD
 * published (so that a Milan root copied into the Rome slot is refused, not trusted as Rome). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "attest/roots.h"
#include "common/macros.h"
#include "common/util.h"
#include "config.h"

#define ROOT_FILE_MAX (64u * 1024u)

struct attest_roots {
	struct attest_sev_root *sev;
	size_t n_sev;
	char **dirs; /* loaded directories, searched for SNP files */
	size_t n_dirs;
	char **snp;  /* SNP generations found */
	size_t n_snp;
	char list[256];
};

/* ARK key ids as AMD published them in ask_ark_<gen>.cert (SEV API appendix B.1 header). */
static const struct {
	const char *gen;
	uint8_t key_id[16];
} amd_arks[] = {
	{ "naples", { 0x1b, 0xb9, 0x87, 0xc3, 0x59, 0x49, 0x46, 0x06,
		      0xb1, 0x74, 0x94, 0x56, 0x01, 0xc9, 0xea, 0x5b } },
	{ "rome", { 0xe6, 0x00, 0x21, 0x22, 0xfb, 0x58, 0x41, 0x93,
		    0x99, 0xd1, 0x5f, 0xee, 0x7b, 0x13, 0x13, 0x51 } },
	{ "milan", { 0x94, 0xc3, 0x8e, 0x41, 0x77, 0xd0, 0x47, 0x92,
		     0x92, 0xa7, 0xae, 0x67, 0x1d, 0x08, 0x3f, 0xb6 } },
	{ "genoa", { 0x9f, 0x9d, 0x4a, 0x8f, 0xe7, 0x61, 0x45, 0x65,
		     0x99, 0xf6, 0x94, 0x6c, 0x4c, 0x01, 0x0f, 0x3a } },
	{ "turin", { 0xd0, 0x5c, 0x3a, 0x8b, 0xde, 0x48, 0x49, 0x04,
		     0xb4, 0x95, 0x52, 0x42, 0x2c, 0xeb, 0x39, 0x42 } },
};

const char *attest_roots_default_dir(void)
{
	return SEVD_ROOTS_DIR;
}

const char *attest_amd_ark_gen(const struct amd_cert *ark)
{
	for (size_t i = 0; i < ELEMENTSOF(amd_arks); i++)
		if (memcmp(ark->key_id, amd_arks[i].key_id, 16) == 0)
			return amd_arks[i].gen;
	return NULL;
}

static int known_rank(const char *gen)
{
	for (size_t i = 0; i < ELEMENTSOF(amd_arks); i++)
		if (strcmp(gen, amd_arks[i].gen) == 0)
			return (int)i;
	return -1;
}

static int fail(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(char **ret_error, int r, const char *fmt, ...)
{
	va_list ap;

	if (ret_error) {
		free(*ret_error);
		*ret_error = NULL;
		va_start(ap, fmt);
		if (vasprintf(ret_error, fmt, ap) < 0)
			*ret_error = NULL;
		va_end(ap);
	}
	return r;
}

int attest_roots_new(struct attest_roots **ret)
{
	struct attest_roots *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	*ret = r;
	return 0;
}

void attest_roots_free(struct attest_roots *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_dirs; i++)
		free(r->dirs[i]);
	for (size_t i = 0; i < r->n_snp; i++)
		free(r->snp[i]);
	free(r->dirs);
	free(r->snp);
	free(r->sev);
	free(r);
}

static int push_str(char ***arr, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*arr)[i], s) == 0)
			return 0;
	char **a = realloc(*arr, (*n + 1) * sizeof(char *));
	if (!a)
		return -ENOMEM;
	*arr = a;
	a[*n] = strdup(s);
	if (!a[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* Split buf into ARK and (optional) ASK, whatever their order. */
static int split_pair(const uint8_t *buf, size_t len, const char *origin,
		      struct attest_sev_root *root, char **ret_error)
{
	size_t off = 0;
	int n_ark = 0, n_ask = 0;

	while (off < len) {
		struct amd_cert c;
		const char *why = NULL;
		size_t used = 0;
		if (attest_amd_cert_parse(buf + off, len - off, &c, &used, &why) < 0)
			return fail(ret_error, -EBADMSG, "%s: at byte %zu: %s", origin, off, why);
		if (c.key_usage == 0x00 && n_ark++ == 0)
			root->ark = c;
		else if (c.key_usage == 0x13 && n_ask++ == 0)
			root->ask = c;
		else
			return fail(ret_error, -EBADMSG, "%s: holds more than one %s", origin,
				    c.key_usage ? "ASK" : "ARK");
		off += used;
	}
	if (n_ark == 0)
		return fail(ret_error, -EBADMSG, "%s: holds no ARK (key usage 0x0)", origin);
	root->has_ask = n_ask > 0;
	return 0;
}

static int check_root(struct attest_sev_root *root, char **ret_error)
{
	const char *why = NULL, *amd_gen = attest_amd_ark_gen(&root->ark);

	if (attest_amd_cert_verify(&root->ark, &root->ark, &why) != 1)
		return fail(ret_error, -EBADMSG, "%s: the ARK is not self-signed: %s", root->origin,
			    why);
	if (root->has_ask && attest_amd_cert_verify(&root->ask, &root->ark, &why) != 1)
		return fail(ret_error, -EBADMSG, "%s: the ASK is not signed by the ARK: %s",
			    root->origin, why);
	root->amd_known = amd_gen && strcmp(amd_gen, root->gen) == 0;
	/* A known generation's slot must hold that generation's ARK. */
	if (!root->emulated && known_rank(root->gen) >= 0 && !root->amd_known)
		return fail(ret_error, -EBADMSG,
			    "%s: this is not AMD's %s ARK (its key id belongs to %s); put the "
			    "file of the right generation there",
			    root->origin, root->gen, amd_gen ? amd_gen : "no AMD generation");
	return 0;
}

static bool same_key(const struct amd_cert *a, const struct amd_cert *b)
{
	return a->modulus_bits == b->modulus_bits && a->pubexp_bits == b->pubexp_bits &&
	       memcmp(a->modulus, b->modulus, a->modulus_bits / 8) == 0 &&
	       memcmp(a->pubexp, b->pubexp, a->pubexp_bits / 8) == 0 &&
	       memcmp(a->key_id, b->key_id, 16) == 0;
}

/* Same generation twice (e.g. ask_ark_rome.cert and rome/ark.cert): fine when it is the same
 * ARK; two different ARKs for one name is an operator error we refuse to guess about. */
static int merge_root(struct attest_roots *r, const struct attest_sev_root *root,
		      char **ret_error)
{
	for (size_t i = 0; i < r->n_sev; i++) {
		struct attest_sev_root *o = &r->sev[i];
		if (strcmp(o->gen, root->gen) != 0)
			continue;
		if (!same_key(&o->ark, &root->ark) || o->emulated != root->emulated)
			return fail(ret_error, -EEXIST, "%s and %s: two different roots for %s",
				    o->origin, root->origin, root->gen);
		if (root->has_ask && o->has_ask && !same_key(&o->ask, &root->ask))
			return fail(ret_error, -EEXIST, "%s and %s: two different ASKs for %s",
				    o->origin, root->origin, root->gen);
		if (root->has_ask && !o->has_ask) {
			o->ask = root->ask;
			o->has_ask = true;
		}
		return 0;
	}
	struct attest_sev_root *a = realloc(r->sev, (r->n_sev + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	r->sev = a;
	a[r->n_sev++] = *root;
	return 0;
}

int attest_roots_add_sev(struct attest_roots *r, const char *gen, const uint8_t *buf, size_t len,
			 bool emulated, const char *origin, char **ret_error)
{
	_cleanup_free_ struct attest_sev_root *root = calloc(1, sizeof(*root));
	int k;

	if (!root)
		return -ENOMEM;
	if (!gen || !*gen || strlen(gen) >= sizeof(root->gen))
		return fail(ret_error, -EINVAL, "%s: invalid generation name", origin);
	for (size_t i = 0; gen[i]; i++)
		root->gen[i] = (char)tolower((unsigned char)gen[i]);
	snprintf(root->origin, sizeof(root->origin), "%s", origin ? origin : "(buffer)");
	root->emulated = emulated;
	k = split_pair(buf, len, root->origin, root, ret_error);
	if (k < 0)
		return k;
	k = check_root(root, ret_error);
	if (k < 0)
		return k;
	return merge_root(r, root, ret_error);
}

static int read_file(const char *path, uint8_t **buf, size_t *len, char **ret_error)
{
	int k = read_full_file(path, ROOT_FILE_MAX, buf, len);
	if (k < 0)
		return fail(ret_error, k, "%s: cannot read: %s", path, strerror(-k));
	return 0;
}

int attest_roots_add_sev_file(struct attest_roots *r, const char *gen, const char *path,
			      bool emulated, char **ret_error)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int k = read_file(path, &buf, &len, ret_error);
	return k < 0 ? k : attest_roots_add_sev(r, gen, buf, len, emulated, path, ret_error);
}

static bool exists(const char *dir, const char *name)
{
	_cleanup_free_ char *p = path_join(dir, name);
	struct stat st;
	return p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* <gendir>/ark.cert [+ ask.cert]: read both, hand them over as one buffer. */
static int load_gen_dir(struct attest_roots *r, const char *gendir, const char *dirname,
			char **ret_error)
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
	if (exists(gendir, "ark.pem") && push_str(&r->snp, &r->n_snp, gen) < 0)
		return -ENOMEM;
	if (!exists(gendir, "ark.cert")) {
		if (exists(gendir, "ask.cert"))
			return fail(ret_error, -EBADMSG, "%s: ask.cert without ark.cert", gendir);
		return 0; /* not a SEV root directory */
	}
	k = read_file(ark_path, &ark, &ark_len, ret_error);
	if (k >= 0 && exists(gendir, "ask.cert"))
		k = read_file(ask_path, &ask, &ask_len, ret_error);
	if (k < 0)
		return k;
	both = malloc(ark_len + ask_len);
	if (!both)
		return -ENOMEM;
	memcpy(both, ark, ark_len);
	if (ask_len)
		memcpy(both + ark_len, ask, ask_len);
	return attest_roots_add_sev(r, gen, both, ark_len + ask_len, false, gendir, ret_error);
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Each subdirectory of dir is a generation (sev/<gen>, snp/<gen> or <gen>). */
static int scan_gens(struct attest_roots *r, const char *dir, char **ret_error)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int k = 0;

	if (!d) {
		k = negative_errno();
		return fail(ret_error, k, "%s: cannot open: %s", dir, strerror(-k));
	}
	while (k >= 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *sub = path_join(dir, de->d_name);
		if (!sub)
			k = -ENOMEM;
		else if (is_dir(sub))
			k = load_gen_dir(r, sub, de->d_name, ret_error);
	}
	closedir(d);
	return k;
}

static int load_entry(struct attest_roots *r, const char *dir, const char *name,
		      char **ret_error)
{
	_cleanup_free_ char *p = path_join(dir, name);
	size_t n = strlen(name);

	if (!p)
		return -ENOMEM;
	if (is_dir(p)) {
		if (strcmp(name, "sev") == 0 || strcmp(name, "snp") == 0)
			return scan_gens(r, p, ret_error);
		return load_gen_dir(r, p, name, ret_error);
	}
	/* ask_ark_<gen>.cert, as AMD publishes it. */
	if (n > strlen("ask_ark_.cert") && strncmp(name, "ask_ark_", 8) == 0 &&
	    endswith(name, ".cert")) {
		char gen[32];
		size_t gl = n - 8 - 5;
		if (gl >= sizeof(gen))
			return fail(ret_error, -EINVAL, "%s: generation name too long", p);
		memcpy(gen, name + 8, gl);
		gen[gl] = 0;
		return attest_roots_add_sev_file(r, gen, p, false, ret_error);
	}
	return 0;
}

static int cmp_root(const void *a, const void *b)
{
	const struct attest_sev_root *x = a, *y = b;
	int rx = known_rank(x->gen), ry = known_rank(y->gen);
	if (rx != ry)
		return (rx < 0 ? 100 : rx) - (ry < 0 ? 100 : ry);
	return strcmp(x->gen, y->gen);
}

int attest_roots_load_dir(struct attest_roots *r, const char *dir, char **ret_error)
{
	DIR *d;
	struct dirent *de;
	int k = 0;

	if (!dir)
		dir = attest_roots_default_dir();
	d = opendir(dir);
	if (!d) {
		k = negative_errno();
		return fail(ret_error, k,
			    "roots directory %s: %s; put AMD's ask_ark_<gen>.cert files there "
			    "(or name another directory)",
			    dir, strerror(-k));
	}
	while (k >= 0 && (de = readdir(d)))
		if (de->d_name[0] != '.')
			k = load_entry(r, dir, de->d_name, ret_error);
	closedir(d);
	if (k < 0)
		return k;
	if (r->n_sev > 1) /* qsort(NULL, 0, ...) is undefined: SNP-only or empty dirs */
		qsort(r->sev, r->n_sev, sizeof(*r->sev), cmp_root);
	return push_str(&r->dirs, &r->n_dirs, dir);
}

int attest_roots_load(const char *dir, struct attest_roots **ret, char **ret_error)
{
	struct attest_roots *r;
	int k = attest_roots_new(&r);

	if (k < 0)
		return k;
	k = attest_roots_load_dir(r, dir, ret_error);
	if (k < 0) {
		attest_roots_free(r);
		return k;
	}
	*ret = r;
	return 0;
}

size_t attest_roots_sev_count(const struct attest_roots *r)
{
	return r ? r->n_sev : 0;
}

const struct attest_sev_root *attest_roots_sev_get(const struct attest_roots *r, size_t i)
{
	return r && i < r->n_sev ? &r->sev[i] : NULL;
}

const char *attest_roots_sev_list(const struct attest_roots *r)
{
	struct attest_roots *w = (struct attest_roots *)r; /* cache only */
	size_t off = 0;

	if (!r || r->n_sev == 0)
		return "none";
	w->list[0] = 0;
	for (size_t i = 0; i < r->n_sev && off < sizeof(w->list); i++) {
		int n = snprintf(w->list + off, sizeof(w->list) - off, "%s%s%s", i ? ", " : "",
				 r->sev[i].gen, r->sev[i].emulated ? " (emulated)" : "");
		if (n < 0)
			break;
		off += (size_t)n;
	}
	return w->list;
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

size_t attest_roots_snp_count(const struct attest_roots *r)
{
	return r ? r->n_snp : 0;
}

const char *attest_roots_snp_gen(const struct attest_roots *r, size_t i)
{
	return r && i < r->n_snp ? r->snp[i] : NULL;
}
