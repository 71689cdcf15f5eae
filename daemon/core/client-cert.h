/* A TLS client's certificate chain as the worker forwards it (op CONN_CERT): parsed and
 * verified in the core against tls_client_ca with OpenSSL, independently of the worker's
 * GnuTLS. Pure code over untrusted bytes (tests/fuzz/fuzz-client-chain.c). Core side. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509_vfy.h>

#define SEVD_CLIENT_CHAIN_CERTS 8 /* the client's own and at most 7 intermediates */

/* der: DER certificates one after the other, the client's own first. 0 when it verifies
 * against store for TLS client use (signatures, validity now, purpose); dn (RFC 2253 form,
 * "CN=a,O=b", most specific first, as client_cert_role names it) and cn (the first CN, or "")
 * are then filled, each at most size - 1 bytes (-ENAMETOOLONG past that). Else -EBADMSG
 * (not DER certificates), -EPERM (does not verify) with the reason in err. */
int sevd_client_chain_verify(X509_STORE *store, const uint8_t *der, size_t len, char *dn,
			     char *cn, size_t size, char *err, size_t err_size);
/* The store of a PEM CA file (tls_client_ca), or NULL with the reason in err. */
X509_STORE *sevd_client_ca_load(const char *path, char *err, size_t err_size);
