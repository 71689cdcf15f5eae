/* SEV platform certificate chains (SEV API 55766 §2.2 "key hierarchy"):
 *   PDH ← PEK ← OCA (self-signed),  PEK ← CEK ← ASK ← ARK (self-signed, a trusted root).
 * Collect the certificates from whatever the user has (sevctl `export --full` files, AMD's
 * ask_ark_<gen>.cert, a PDH_CERT_EXPORT blob PEK ‖ OCA ‖ CEK, any concatenation), then verify
 * every link and that the chain ends at a root of struct attest_roots. The verdict names the
 * exact link that failed and the generation whose root was reached. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/amd-cert.h"
#include "attest/sev-cert.h"
#include "attest/verdict.h"

struct attest_roots;

struct attest_sev_chain {
	struct sev_cert pdh, pek, oca, cek;
	struct amd_cert ask, ark;
	bool have_pdh, have_pek, have_oca, have_cek, have_ask, have_ark;
};

/* Loading and verifying fill a struct attest_verdict (verdict.h): ok, or a reason for a human
 * ("PEK is not signed by the CEK: signature does not verify"), and root_gen, the generation
 * whose trusted root was reached. */

enum {
	ATTEST_CHAIN_PDH_OPTIONAL = 1 << 0, /* verify up to the PEK (e.g. for an attestation report) */
};

void attest_sev_chain_init(struct attest_sev_chain *c);
/* Add the certificates in buf: a single SEV or AMD certificate, or any concatenation of them
 * (PEK ‖ OCA ‖ CEK as PDH_CERT_EXPORT returns it; ASK ‖ ARK as AMD publishes it). Each is
 * placed by its key usage; a second, different certificate for the same role is an error.
 * name labels buf in messages. -EBADMSG with v->reason on malformed input. */
int attest_sev_chain_add_blob(struct attest_sev_chain *c, const uint8_t *buf, size_t len,
			      const char *name, struct attest_verdict *v);
/* attest_sev_chain_add_file and _load_dir read files: they live in attest/roots-dir.c. */
int attest_sev_chain_add_file(struct attest_sev_chain *c, const char *path,
			      struct attest_verdict *v);
/* The files `sevctl export --full` writes (pdh.cert pek.cert oca.cert cek.cert ask.cert
 * ark.cert) and any ask_ark_<gen>.cert in dir; absent files are left out (verify then says
 * which is missing). A present but unreadable/malformed file is an error naming it. */
int attest_sev_chain_load_dir(struct attest_sev_chain *c, const char *dir,
			      struct attest_verdict *v);
/* Verify every link, then the root: 1 = chain holds and reaches a root in roots, 0 = it does
 * not (v->reason names the first failing link), negative errno on internal error.
 * Without ASK/ARK in the chain, the roots' own ASKs are tried for the CEK. */
int attest_sev_chain_verify(const struct attest_sev_chain *c, const struct attest_roots *roots,
			    unsigned flags, struct attest_verdict *v);

/* The platform's own links one by one, for a caller that lists each (sevadm's checklist), with
 * every signature verified once: pass the same array to attest_sev_chain_verify_links (which
 * records each link it verifies) and to attest_sev_chain_link (which verifies a link only if
 * it is not recorded yet: the chain's own check stops at a missing certificate or at the
 * first failure). */
enum attest_sev_link {
	ATTEST_LINK_OCA_SELF,	/* the OCA is self-signed */
	ATTEST_LINK_PEK_BY_OCA, /* the PEK is signed by the OCA */
	ATTEST_LINK_PEK_BY_CEK, /* the PEK is signed by the CEK */
	ATTEST_LINK_PDH_BY_PEK, /* the PDH is signed by the PEK */
	ATTEST_LINK_MAX_,
};

struct attest_sev_link_result {
	bool done;	 /* verified: r and why hold the outcome */
	int r;		 /* 1 holds, 0 does not (why), negative errno */
	char why[128];	 /* "" unless r == 0 */
};

/* attest_sev_chain_verify, recording the platform links it verifies in links[] (zeroed by the
 * caller before the first use; entries already done are not verified again). */
int attest_sev_chain_verify_links(const struct attest_sev_chain *c,
				  const struct attest_roots *roots, unsigned flags,
				  struct attest_verdict *v,
				  struct attest_sev_link_result links[ATTEST_LINK_MAX_]);
/* One platform link (both certificates must be in the chain): the recorded outcome, else
 * verified now and recorded. A signer whose public key is unusable answers 0 with why "the
 * signer's public key is unusable". Returns res->r. */
int attest_sev_chain_link(const struct attest_sev_chain *c, enum attest_sev_link link,
			  struct attest_sev_link_result *res);
