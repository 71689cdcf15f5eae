/* The evidence the daemon tests present: P-256 keys and X.509 certificates made in the test
 * (a CA, servers and clients under it, or self-signed), written as PEM where sevd.conf and the
 * clients read them or as DER where a test forwards a chain to the core itself, and the hashes
 * sevd.conf's `token` lines name. Any OpenSSL failure fails the test (TU_CHECK). */
#pragma once

#include <stddef.h>
#include <stdint.h>
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
/* dir/NAME.crt alone (PEM): a CA sevd.conf's tls_client_ca names, whose key stays in memory. */
void pki_cert_write(X509 *crt, const char *dir, const char *name);
/* crt's DER into out (cap bytes: the test fails when it does not fit); its length. What the
 * worker forwards to the core for a TLS connection (op CONN_CERT). */
size_t pki_cert_der(X509 *crt, uint8_t *out, size_t cap);
void pki_ident_free(struct pki_ident *id);

/* The lowercase hex SHA-256 of a bearer token, as sevd.conf's `token = ROLE:sha256:HEX` names
 * it. */
void pki_token_hash(const char *token, char out[65]);
