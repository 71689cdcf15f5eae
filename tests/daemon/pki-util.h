/* Test certificates for the TLS tests: P-256 keys and X.509 certificates made in the test
 * (a CA, servers and clients under it, or self-signed), written as PEM where sevd.conf and the
 * clients read them. Any OpenSSL failure fails the test (TU_CHECK). */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

struct pki_ident {
	EVP_PKEY *key;
	X509 *crt;
};

enum pki_kind {
	PKI_CA,	    /* CA:TRUE, keyCertSign and cRLSign */
	PKI_SERVER, /* CA:FALSE, digitalSignature, serverAuth, IP:127.0.0.1 and DNS:localhost */
	PKI_CLIENT, /* CA:FALSE, digitalSignature, clientAuth */
};

/* A new key and a certificate of that kind for O=org,CN=cn (no O when org is NULL), signed
 * by ca, or self-signed when ca is NULL. */
struct pki_ident pki_ident_make(const struct pki_ident *ca, const char *org, const char *cn,
				enum pki_kind kind);
/* dir/NAME.crt and dir/NAME.key (PEM). */
void pki_ident_write(const struct pki_ident *id, const char *dir, const char *name);
void pki_ident_free(struct pki_ident *id);
