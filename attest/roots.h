/* Trust anchors for SEV and SEV-SNP: AMD's published root keys, read from a roots directory
 * (default SEVD_ROOTS_DIR = <prefix>/share/sevd/roots, configurable). The repository ships no
 * AMD files; an operator copies them in. Accepted layouts, all at once:
 *   <dir>/ask_ark_<gen>.cert          AMD's download: ASK then ARK, concatenated
 *   <dir>/<gen>/{ark,ask}.cert        one file each (ask.cert optional)
 *   <dir>/sev/<gen>/{ark,ask}.cert    the layout of shared/vectors/amd-roots
 *   <dir>/snp/<gen>/{ark,ask}.pem, <dir>/<gen>/{ark,ask}.pem, cert_chain: SNP (X.509) roots,
 *   only located here (attest_roots_snp_path); the SNP verifier reads and checks them.
 * Every SEV root is checked when loaded (ARK self-signed, ASK signed by that ARK, and for the
 * five known generations the ARK key id AMD published); a bad file is an error naming it, never
 * skipped. A root that is not AMD's (the emulator's) enters only through attest_roots_add_sev()
 * with emulated = true, called because a user named it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/amd-cert.h"
#include "attest/verdict.h"
#include "common/macros.h"

struct attest_roots;

struct attest_sev_root {
	char gen[32];	    /* "naples", "rome", "milan", "genoa", "turin", or the caller's name */
	struct amd_cert ark;
	struct amd_cert ask;
	bool has_ask;	    /* false: only the ARK was given; the chain must bring its ASK */
	bool emulated;	    /* added by the caller as a non-AMD root (sev-psp-emu) */
	bool amd_known;	    /* ARK key id is the one AMD published for gen */
	char origin[256];   /* file it came from */
};

/* The compiled-in default directory (SEVD_ROOTS_DIR). */
const char *attest_roots_default_dir(void);

int attest_roots_new(struct attest_roots **ret);
void attest_roots_free(struct attest_roots *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct attest_roots *, attest_roots_free)
/* Loading from files (attest/roots-dir.c, the part of attest/ that does I/O). */
/* New set loaded from dir (NULL: the default). On failure (a negative errno) v, which may be
 * NULL, names the file and what is wrong with it; an out-of-memory failure names nothing. A
 * missing directory is -ENOENT. The same holds for each loader below. */
int attest_roots_load(const char *dir, struct attest_roots **ret, struct attest_verdict *v);
/* Add every root found in dir to r. */
int attest_roots_load_dir(struct attest_roots *r, const char *dir, struct attest_verdict *v);
/* Add one SEV root from AMD-format bytes: ASK ‖ ARK (AMD's ask_ark file), ARK ‖ ASK, or an ARK
 * alone. emulated = true marks a root that is not AMD's; the caller must have been told to
 * trust it (a flag or path the user gave). origin names it in messages. */
int attest_roots_add_sev(struct attest_roots *r, const char *gen, const uint8_t *buf, size_t len,
			 bool emulated, const char *origin, struct attest_verdict *v);
int attest_roots_add_sev_file(struct attest_roots *r, const char *gen, const char *path,
			      bool emulated, struct attest_verdict *v);

size_t attest_roots_sev_count(const struct attest_roots *r);
const struct attest_sev_root *attest_roots_sev_get(const struct attest_roots *r, size_t i);
/* "naples, rome, milan" (static buffer inside r; for messages). */
const char *attest_roots_sev_list(const struct attest_roots *r);

/* (roots-dir.c: looks at the file system.) The SNP file `name` ("ark.pem", "ask.pem", "cert_chain")
 * of generation gen (any case) in the loaded directories: <dir>/snp/<gen>/name, then
 * <dir>/<gen>/name. malloc'd path, or NULL when absent. */
char *attest_roots_snp_path(const struct attest_roots *r, const char *gen, const char *name);
/* SNP generations found (directories holding ark.pem), lower case. */
size_t attest_roots_snp_count(const struct attest_roots *r);
const char *attest_roots_snp_gen(const struct attest_roots *r, size_t i);

/* The generation AMD published ark's key id for ("naples" ...), or NULL. */
const char *attest_amd_ark_gen(const struct amd_cert *ark);
