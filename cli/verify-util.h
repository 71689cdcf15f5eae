/* Shared by `sevadm verify` and `sevadm fetch`: a checklist that records which checks held and
 * which failed (printed for people, or as JSON), and the SEV-SNP file handling around
 * attest/snp-chain.h — finding vcek/vlek, ask.pem/ark.pem or cert_chain in a directory, and
 * the trusted ARK/ASK of a generation from the roots directory (or an emulator root the user
 * named). Files are untrusted; only the roots directory and a named emulator root are trusted. */
#pragma once

#include <json-c/json.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>

#include "attest/roots.h"
#include "attest/snp-chain.h"

/* ---- checklist ---- */
enum check_state { CHECK_FAILED = 0, CHECK_OK = 1, CHECK_SKIPPED = -1 };

struct check {
	char name[64];
	enum check_state state;
	char detail[400];
	/* A comparison's values (empty for checks that are not one): shown in --json, and in
	 * the detail of a failed one. */
	char expected[1600];
	char found[160];
};

struct checklist {
	struct check items[64];
	size_t n;
};

void checklist_add(struct checklist *l, const char *name, enum check_state state,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A comparison: ok when pass, with the expected and the found value (the detail of a failed
 * one says both). */
void checklist_add_values(struct checklist *l, const char *name, enum check_state state,
			  const char *expected, const char *found);
/* true when nothing failed and at least one check held */
bool checklist_ok(const struct checklist *l);
/* The first failed check, or NULL. */
const struct check *checklist_first_failure(const struct checklist *l);
void checklist_print(const struct checklist *l, FILE *f);
json_object *checklist_json(const struct checklist *l);

/* ---- SEV-SNP files ---- */
struct snp_files {
	X509 *leaf;	/* vcek.der / vcek.pem / vlek.der / vlek.pem, or --vcek FILE */
	char *leaf_path;
	X509 *ask, *ark; /* from cert_chain or ask.pem / ark.pem in the directory */
	char *chain_path;
};

void snp_files_done(struct snp_files *f);
bool snp_files_any(const struct snp_files *f);
/* Load what dir holds (absent files are fine; a present but malformed one is an error naming
 * it, in *ret_error). */
int snp_files_load_dir(struct snp_files *f, const char *dir, char **ret_error);
int snp_files_load_leaf(struct snp_files *f, const char *path, char **ret_error);
/* The generation of what was loaded: the leaf's, else the ASK's, else the ARK's. */
enum snp_gen snp_files_gen(const struct snp_files *f);

/* Trusted anchors of one generation. */
struct snp_trust {
	X509 *ark;
	X509 *ask; /* may be NULL: then the chain must bring its ASK */
	char origin[300];
	bool emulated;
};

void snp_trust_done(struct snp_trust *t);
/* From an emulator root FILE the user named (X.509 ARK, or a PEM stack) when emulator_root is
 * given, else from roots: <roots>/snp/<gen>/{ark,ask}.pem or cert_chain. -ENOENT with a
 * message telling where to put AMD's files when the roots have nothing for gen. */
int snp_trust_load(struct snp_trust *t, const struct attest_roots *roots, const char *roots_dir,
		   enum snp_gen gen, const char *emulator_root, char **ret_error);

/* Check the chain of f against t into l: ARK self-signed, ARK given = trusted ARK, ASK signed
 * by ARK, leaf signed by ASK. Returns true when every link held. */
bool snp_check_chain(const struct snp_files *f, const struct snp_trust *t, struct checklist *l);

/* Read a whole file given on the command line, with a message naming it on failure. */
int read_user_file(const char *what, const char *path, size_t max, uint8_t **ret, size_t *ret_len,
		   char **ret_error);

/* A report file's bytes: raw (0xD0 legacy SEV or 0x4A0 SEV-SNP), else hex text, else base64
 * text of either (whitespace ignored). -EBADMSG when it is none of these. */
int report_decode(const uint8_t *buf, size_t len, uint8_t **ret, size_t *ret_len);
