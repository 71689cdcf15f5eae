/* Client certificate chains (client-cert.h). Trusts the CA file alone; every byte of the
 * chain is the worker's, so a compromised one as much as a client's. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/macros.h"
#include "daemon/core/client-cert.h"

X509_STORE *sevd_client_ca_load(const char *path, char *err, size_t err_size)
{
	X509_STORE *store = X509_STORE_new();

	if (!store || X509_STORE_load_file(store, path) != 1) {
		snprintf(err, err_size, "cannot load the CA certificates of %s: %s", path,
			 ERR_reason_error_string(ERR_peek_last_error())
				 ? ERR_reason_error_string(ERR_peek_last_error())
				 : "no certificate");
		ERR_clear_error();
		X509_STORE_free(store);
		return NULL;
	}
	return store;
}

/* The subject as RFC 2253 prints it (UTF-8 kept as is), and its first CN. */
static int subject_strings(X509 *leaf, char *dn, char *cn, size_t size)
{
	X509_NAME *name = X509_get_subject_name(leaf);
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;
	int k, r = 0;

	if (!b)
		return -ENOMEM;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
		r = -EBADMSG;
	n = BIO_get_mem_data(b, &p);
	if (r == 0 && (n < 0 || (size_t)n >= size || (p && memchr(p, '\0', (size_t)n))))
		r = -ENAMETOOLONG;
	if (r == 0) {
		memcpy(dn, p, (size_t)n);
		dn[n] = '\0';
	}
	BIO_free(b);
	cn[0] = '\0';
	k = r == 0 ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
	if (k >= 0) {
		const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, k));
		int l = v ? ASN1_STRING_length(v) : -1;

		if (l < 0 || (size_t)l >= size || memchr(ASN1_STRING_get0_data(v), '\0', (size_t)l))
			return -ENAMETOOLONG;
		memcpy(cn, ASN1_STRING_get0_data(v), (size_t)l);
		cn[l] = '\0';
	}
	return r;
}

int sevd_client_chain_verify(X509_STORE *store, const uint8_t *der, size_t len, char *dn,
			     char *cn, size_t size, char *err, size_t err_size)
{
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509 *certs[SEVD_CLIENT_CHAIN_CERTS] = {0}, *leaf;
	X509_STORE_CTX *ctx = NULL;
	const uint8_t *p = der;
	unsigned n = 0;
	int r = 0;

	dn[0] = cn[0] = '\0';
	while (untrusted && p < der + len && n < SEVD_CLIENT_CHAIN_CERTS) {
		certs[n] = d2i_X509(NULL, &p, (long)(der + len - p));
		if (!certs[n])
			break;
		if (n > 0 && !sk_X509_push(untrusted, certs[n])) {
			X509_free(certs[n]);
			certs[n] = NULL;
			break;
		}
		n++;
	}
	leaf = certs[0];
	if (!untrusted || !leaf || p != der + len) {
		snprintf(err, err_size, "the client's certificate chain is not %s",
			 !leaf ? "a DER certificate" : "DER certificates only (or more than 8)");
		r = -EBADMSG;
	} else if (!store) {
		snprintf(err, err_size, "no tls_client_ca to verify client certificates against");
		r = -EPERM;
	} else if (!(ctx = X509_STORE_CTX_new()) ||
		   X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1 ||
		   X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) != 1) {
		snprintf(err, err_size, "cannot set up the verification of a client certificate");
		r = -ENOMEM;
	} else if (X509_verify_cert(ctx) != 1) {
		snprintf(err, err_size, "the client certificate does not verify against "
					"tls_client_ca: %s",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		r = -EPERM;
	} else if ((r = subject_strings(leaf, dn, cn, size)) < 0) {
		snprintf(err, err_size, "the client certificate's subject is malformed or longer "
					"than %zu bytes",
			 size - 1);
	}
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted); /* the elements are freed through certs[] */
	for (unsigned i = 0; i < n; i++)
		X509_free(certs[i]);
	if (r < 0)
		dn[0] = cn[0] = '\0';
	return r;
}
