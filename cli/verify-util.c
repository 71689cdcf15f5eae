/* Checklist and SEV-SNP file handling for `sevadm verify` and `sevadm fetch` (verify-util.h).
 * Every certificate read from a user directory is untrusted until snp_check_chain() has tied
 * it to the ARK of the roots directory (or to an emulator root the user named). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attest/snp-report.h"
#include "cli/verify-util.h"
#include "psp/sev-abi.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"

#define CERT_FILE_MAX (256u * 1024)

/* ---- checklist ---- */

void checklist_add(struct checklist *l, const char *name, enum check_state state,
		   const char *fmt, ...)
{
	struct check *c;
	va_list ap;

	if (l->n >= ELEMENTSOF(l->items))
		return;
	c = &l->items[l->n++];
	snprintf(c->name, sizeof c->name, "%s", name);
	c->state = state;
	c->detail[0] = c->expected[0] = c->found[0] = 0;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(c->detail, sizeof c->detail, fmt, ap);
		va_end(ap);
	}
}

void checklist_add_values(struct checklist *l, const char *name, enum check_state state,
			  const char *expected, const char *found)
{
	struct check *c;

	if (state == CHECK_FAILED)
		checklist_add(l, name, state, "expected %s, found %s", expected, found);
	else if (state == CHECK_SKIPPED)
		checklist_add(l, name, state, "found %s", found);
	else
		checklist_add(l, name, state, "%s", found);
	if (l->n == 0 || strcmp(l->items[l->n - 1].name, name) != 0)
		return; /* the list is full */
	c = &l->items[l->n - 1];
	snprintf(c->expected, sizeof c->expected, "%s", expected);
	snprintf(c->found, sizeof c->found, "%s", found);
}

bool checklist_ok(const struct checklist *l)
{
	bool any = false;

	for (size_t i = 0; i < l->n; i++) {
		if (l->items[i].state == CHECK_FAILED)
			return false;
		any = any || l->items[i].state == CHECK_OK;
	}
	return any;
}

const struct check *checklist_first_failure(const struct checklist *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].state == CHECK_FAILED)
			return &l->items[i];
	return NULL;
}

static const char *state_word(enum check_state s)
{
	return s == CHECK_OK ? "ok" : s == CHECK_FAILED ? "FAILED" : "not checked";
}

void checklist_print(const struct checklist *l, FILE *f)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct check *c = &l->items[i];

		fprintf(f, "  %-28s %s%s%s\n", c->name, state_word(c->state), c->detail[0] ? ": " : "",
			c->detail);
	}
}

json_object *checklist_json(const struct checklist *l)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < l->n; i++) {
		const struct check *c = &l->items[i];
		json_object *o = json_object_new_object();

		if (!o)
			break;
		json_object_object_add(o, "check", json_object_new_string(c->name));
		json_object_object_add(o, "name", json_object_new_string(c->name));
		json_object_object_add(o, "result", json_object_new_string(
						c->state == CHECK_OK ? "ok" :
						c->state == CHECK_FAILED ? "failed" : "not checked"));
		json_object_object_add(o, "detail", json_object_new_string(c->detail));
		json_object_object_add(o, "pass", json_object_new_boolean(c->state == CHECK_OK));
		if (c->expected[0] || c->found[0]) {
			json_object_object_add(o, "expected", json_object_new_string(c->expected));
			json_object_object_add(o, "found", json_object_new_string(c->found));
		}
		json_object_array_add(a, o);
	}
	return a;
}

/* ---- files ---- */

int read_user_file(const char *what, const char *path, size_t max, uint8_t **ret, size_t *ret_len,
		   char **ret_error)
{
	int r = read_full_file(path, max, ret, ret_len);

	if (r == -EFBIG)
		return errorf(ret_error, r, "%s %s is larger than %zu bytes: not what was expected",
			      what, path, max);
	if (r < 0)
		return errorf(ret_error, r, "cannot read %s %s: %s", what, path, strerror(-r));
	return 0;
}

void snp_files_done(struct snp_files *f)
{
	X509_free(f->leaf);
	X509_free(f->ask);
	X509_free(f->ark);
	free(f->leaf_path);
	free(f->chain_path);
	memset(f, 0, sizeof *f);
}

bool snp_files_any(const struct snp_files *f)
{
	return f->leaf || f->ask || f->ark;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int load_one(const char *path, X509 **ret, char **ret_error)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct attest_verdict why = {0};
	size_t len;
	int r;

	r = read_user_file("certificate", path, CERT_FILE_MAX, &buf, &len, ret_error);
	if (r < 0)
		return r;
	r = attest_snp_cert_parse(buf, len, ret, &why);
	if (r < 0)
		return errorf(ret_error, r, "%s: %s", path, attest_verdict_why(&why, strerror(-r)));
	return 0;
}

int snp_files_load_leaf(struct snp_files *f, const char *path, char **ret_error)
{
	int r = load_one(path, &f->leaf, ret_error);

	if (r < 0)
		return r;
	f->leaf_path = strdup(path);
	return f->leaf_path ? 0 : -ENOMEM;
}

static int load_stack(struct snp_files *f, const char *path, char **ret_error)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct attest_verdict why = {0};
	size_t len;
	int r;

	r = read_user_file("certificate chain", path, CERT_FILE_MAX, &buf, &len, ret_error);
	if (r < 0)
		return r;
	r = attest_snp_cert_chain_parse(buf, len, &f->ask, &f->ark, &why);
	if (r < 0)
		return errorf(ret_error, r, "%s: %s", path, attest_verdict_why(&why, strerror(-r)));
	f->chain_path = strdup(path);
	return f->chain_path ? 0 : -ENOMEM;
}

int snp_files_load_dir(struct snp_files *f, const char *dir, char **ret_error)
{
	static const char *const leaves[] = { "vcek.der", "vcek.pem", "vlek.der", "vlek.pem" };
	int r;

	for (size_t i = 0; !f->leaf && i < ELEMENTSOF(leaves); i++) {
		_cleanup_free_ char *p = path_join(dir, leaves[i]);

		if (!p)
			return -ENOMEM;
		if (exists(p) && (r = snp_files_load_leaf(f, p, ret_error)) < 0)
			return r;
	}
	_cleanup_free_ char *stack = path_join(dir, "cert_chain");
	_cleanup_free_ char *ask = path_join(dir, "ask.pem"), *ark = path_join(dir, "ark.pem");
	if (!stack || !ask || !ark)
		return -ENOMEM;
	if (exists(stack))
		return load_stack(f, stack, ret_error);
	if (exists(ask) && (r = load_one(ask, &f->ask, ret_error)) < 0)
		return r;
	if (exists(ark) && (r = load_one(ark, &f->ark, ret_error)) < 0)
		return r;
	if (f->ask || f->ark)
		f->chain_path = strdup(dir);
	return 0;
}

enum snp_gen snp_files_gen(const struct snp_files *f)
{
	enum snp_gen g = SNP_GEN_UNKNOWN;

	if (f->leaf)
		g = attest_snp_cert_gen(f->leaf);
	if (g == SNP_GEN_UNKNOWN && f->ask)
		g = attest_snp_cert_gen(f->ask);
	if (g == SNP_GEN_UNKNOWN && f->ark)
		g = attest_snp_cert_gen(f->ark);
	return g;
}

/* ---- trust ---- */

void snp_trust_done(struct snp_trust *t)
{
	X509_free(t->ark);
	X509_free(t->ask);
	memset(t, 0, sizeof *t);
}

static int trust_from_emulator(struct snp_trust *t, const char *path, char **ret_error)
{
	struct snp_files f = {};
	int r;

	/* An emulator root is one X.509 ARK, or a cert_chain stack (ASK then ARK). */
	r = load_one(path, &t->ark, ret_error);
	if (r < 0) {
		free(*ret_error);
		*ret_error = NULL;
		r = load_stack(&f, path, ret_error);
		if (r < 0)
			return errorf(ret_error, r,
				      "the emulator root %s is neither an X.509 ARK nor "
				      "a PEM stack ASK, ARK",
				      path);
		t->ark = TAKE_PTR(f.ark);
		t->ask = TAKE_PTR(f.ask);
		snp_files_done(&f);
	}
	t->emulated = true;
	snprintf(t->origin, sizeof t->origin, "emulator root %s (not AMD's; trusted because "
		 "--emulator-root named it)", path);
	return 0;
}

int snp_trust_load(struct snp_trust *t, const struct attest_roots *roots, const char *roots_dir,
		   enum snp_gen gen, const char *emulator_root, char **ret_error)
{
	const char *g = attest_snp_gen_name(gen);
	_cleanup_free_ char *ark = NULL, *ask = NULL, *stack = NULL;
	int r;

	memset(t, 0, sizeof *t);
	if (emulator_root)
		return trust_from_emulator(t, emulator_root, ret_error);
	if (gen == SNP_GEN_UNKNOWN)
		return errorf(ret_error, -EINVAL,
			      "cannot tell the product generation of these "
			      "certificates (no productName, no SEV-<Gen> issuer)");
	if (roots) {
		ark = attest_roots_snp_path(roots, g, "ark.pem");
		ask = attest_roots_snp_path(roots, g, "ask.pem");
		stack = attest_roots_snp_path(roots, g, "cert_chain");
	}
	if (ark) {
		r = load_one(ark, &t->ark, ret_error);
		if (r == 0 && ask)
			r = load_one(ask, &t->ask, ret_error);
		if (r < 0)
			return r;
		snprintf(t->origin, sizeof t->origin, "%s", ark);
		return 0;
	}
	if (stack) {
		struct snp_files f = {};

		r = load_stack(&f, stack, ret_error);
		if (r < 0)
			return r;
		t->ark = TAKE_PTR(f.ark);
		t->ask = TAKE_PTR(f.ask);
		snp_files_done(&f);
		snprintf(t->origin, sizeof t->origin, "%s", stack);
		return 0;
	}
	return errorf(ret_error, -ENOENT,
		      "no trusted SEV-SNP root for %s in %s: put AMD's ark.pem "
		      "and ask.pem in %s/snp/%s/ (sevadm fetch ca %s %s/snp/%s), or use --roots",
		      g, roots_dir, roots_dir, g, g, roots_dir, g);
}

static const char *leaf_label(X509 *leaf)
{
	char cn[64];

	if (X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn) >
		    0 &&
	    strcmp(cn, "SEV-VLEK") == 0)
		return "VLEK signed by ASK";
	return "VCEK signed by ASK";
}

bool snp_check_chain(const struct snp_files *f, const struct snp_trust *t, struct checklist *l)
{
	struct snp_chain_verdict v;
	X509 *ask = f->ask ? f->ask : t->ask;
	const char *g;
	int k;

	g = attest_snp_gen_name(attest_snp_cert_gen(t->ark));
	if (f->ark && X509_cmp(f->ark, t->ark) != 0) {
		checklist_add(l, "ARK is a trusted root", CHECK_FAILED,
			      "the ARK in %s is not the trusted %s ARK (%s)", f->chain_path, g,
			      t->origin);
		return false;
	}
	if (!ask) {
		checklist_add(l, "ASK signed by ARK", CHECK_FAILED,
			      "no ASK: neither the certificates given nor the roots hold one");
		return false;
	}
	k = attest_snp_chain_verify(t->ark, ask, f->leaf, &v);
	checklist_add(l, "ARK self-signed", v.ark_self_signed == 1 ? CHECK_OK : CHECK_FAILED, "%s",
		      v.ark_self_signed == 1 ? "" : v.verdict.reason);
	if (v.ark_self_signed == 1)
		checklist_add(l, "ARK is a trusted root", CHECK_OK, "%s ARK from %s", g, t->origin);
	if (v.ark_self_signed == 1)
		checklist_add(l, "ASK signed by ARK", v.ask_by_ark == 1 ? CHECK_OK : CHECK_FAILED,
			      "%s", v.ask_by_ark == 1 ? (f->ask ? "" : "ASK from the roots") :
							 v.verdict.reason);
	if (f->leaf && v.ask_by_ark == 1)
		checklist_add(l, leaf_label(f->leaf), v.leaf_by_ask == 1 ? CHECK_OK : CHECK_FAILED,
			      "%s", v.leaf_by_ask == 1 ? "" : v.verdict.reason);
	return k == 1;
}

/* Raw bytes of the expected sizes, else hex text, else base64 text. */
int report_decode(const uint8_t *buf, size_t len, uint8_t **ret, size_t *ret_len)
{
	_cleanup_free_ char *text = NULL;
	size_t n = 0;

	if (len == SEV_ATTESTATION_REPORT_SIZE || len == SNP_REPORT_SIZE) {
		*ret = malloc(len);
		if (!*ret)
			return -ENOMEM;
		memcpy(*ret, buf, len);
		*ret_len = len;
		return 0;
	}
	text = malloc(len + 1);
	if (!text)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		if (!isspace(buf[i]))
			text[n++] = (char)buf[i];
	text[n] = 0;
	if (memchr(text, 0, n))
		return -EBADMSG;
	if (hex_decode(text, ret, ret_len) == 0 &&
	    (*ret_len == SEV_ATTESTATION_REPORT_SIZE || *ret_len == SNP_REPORT_SIZE))
		return 0;
	free(*ret);
	*ret = NULL;
	if (base64_decode(text, n, ret, ret_len) == 0 &&
	    (*ret_len == SEV_ATTESTATION_REPORT_SIZE || *ret_len == SNP_REPORT_SIZE))
		return 0;
	free(*ret);
	*ret = NULL;
	return -EBADMSG;
}

