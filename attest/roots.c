/* Trust anchors (see roots.h for the layouts). Pure code: the files come from roots-dir.c.
 * Trusts bytes as anchors only after checking each ARK's self-signature and each ASK's
 * signature, and for AMD's five generations the ARK key id AMD published (so that a Milan root
 * copied into the Rome slot is refused, not trusted as Rome). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "attest/roots.h"
#include "attest/roots-private.h"
#include "common/macros.h"
#include "common/util.h"
#include "config.h"

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

int attest_roots_push_str(char ***arr, size_t *n, const char *s)
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
		      struct attest_sev_root *root, struct attest_verdict *v)
{
	size_t off = 0;
	int n_ark = 0, n_ask = 0;

	while (off < len) {
		struct amd_cert c;
		struct attest_verdict why = {0};
		size_t used = 0;
		if (attest_amd_cert_parse(buf + off, len - off, &c, &used, &why) < 0)
			return attest_verdict_fail(v, -EBADMSG, "%s: at byte %zu: %s", origin, off,
						   why.reason);
		if (c.key_usage == 0x00 && n_ark++ == 0)
			root->ark = c;
		else if (c.key_usage == 0x13 && n_ask++ == 0)
			root->ask = c;
		else
			return attest_verdict_fail(v, -EBADMSG, "%s: holds more than one %s",
						   origin, c.key_usage ? "ASK" : "ARK");
		off += used;
	}
	if (n_ark == 0)
		return attest_verdict_fail(v, -EBADMSG, "%s: holds no ARK (key usage 0x0)", origin);
	root->has_ask = n_ask > 0;
	return 0;
}

static int check_root(struct attest_sev_root *root, struct attest_verdict *v)
{
	const char *amd_gen = attest_amd_ark_gen(&root->ark);
	struct attest_verdict why = {0};

	if (attest_amd_cert_verify(&root->ark, &root->ark, &why) != 1)
		return attest_verdict_fail(v, -EBADMSG, "%s: the ARK is not self-signed: %s",
					   root->origin, why.reason);
	if (root->has_ask && attest_amd_cert_verify(&root->ask, &root->ark, &why) != 1)
		return attest_verdict_fail(v, -EBADMSG, "%s: the ASK is not signed by the ARK: %s",
					   root->origin, why.reason);
	root->amd_known = amd_gen && strcmp(amd_gen, root->gen) == 0;
	/* A known generation's slot must hold that generation's ARK. */
	if (!root->emulated && known_rank(root->gen) >= 0 && !root->amd_known)
		return attest_verdict_fail(
		    v, -EBADMSG,
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
		      struct attest_verdict *v)
{
	for (size_t i = 0; i < r->n_sev; i++) {
		struct attest_sev_root *o = &r->sev[i];
		if (strcmp(o->gen, root->gen) != 0)
			continue;
		if (!same_key(&o->ark, &root->ark) || o->emulated != root->emulated)
			return attest_verdict_fail(v, -EEXIST,
						   "%s and %s: two different roots for %s",
						   o->origin, root->origin, root->gen);
		if (root->has_ask && o->has_ask && !same_key(&o->ask, &root->ask))
			return attest_verdict_fail(v, -EEXIST,
						   "%s and %s: two different ASKs for %s",
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
			 bool emulated, const char *origin, struct attest_verdict *v)
{
	_cleanup_free_ struct attest_sev_root *root = calloc(1, sizeof(*root));
	int k;

	if (!root)
		return -ENOMEM;
	if (!gen || !*gen || strlen(gen) >= sizeof(root->gen))
		return attest_verdict_fail(v, -EINVAL, "%s: invalid generation name", origin);
	for (size_t i = 0; gen[i]; i++)
		root->gen[i] = (char)tolower((unsigned char)gen[i]);
	snprintf(root->origin, sizeof(root->origin), "%s", origin ? origin : "(buffer)");
	root->emulated = emulated;
	k = split_pair(buf, len, root->origin, root, v);
	if (k < 0)
		return k;
	k = check_root(root, v);
	if (k < 0)
		return k;
	return merge_root(r, root, v);
}

static int cmp_root(const void *a, const void *b)
{
	const struct attest_sev_root *x = a, *y = b;
	int rx = known_rank(x->gen), ry = known_rank(y->gen);
	if (rx != ry)
		return (rx < 0 ? 100 : rx) - (ry < 0 ? 100 : ry);
	return strcmp(x->gen, y->gen);
}

void attest_roots_sort(struct attest_roots *r)
{
	if (r->n_sev > 1) /* qsort(NULL, 0, ...) is undefined: SNP-only or empty dirs */
		qsort(r->sev, r->n_sev, sizeof(*r->sev), cmp_root);
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

size_t attest_roots_snp_count(const struct attest_roots *r)
{
	return r ? r->n_snp : 0;
}

const char *attest_roots_snp_gen(const struct attest_roots *r, size_t i)
{
	return r && i < r->n_snp ? r->snp[i] : NULL;
}
