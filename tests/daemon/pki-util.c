/* The daemon tests' evidence: certificates, their DER, token hashes (see pki-util.h). */
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tests/daemon/pki-util.h"
#include "tests/testutil.h"

static void add_ext(X509 *crt, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, crt, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	TU_CHECK(ext && X509_add_ext(crt, ext, -1) == 1, "extension %s", value);
	X509_EXTENSION_free(ext);
}

struct pki_ident pki_ident_make(const struct pki_ident *ca, const char *org, const char *cn,
				enum pki_kind kind)
{
	static long serial = 1;
	struct pki_ident id = {EVP_EC_gen("P-256"), X509_new()};
	X509_NAME *name = X509_NAME_new();
	X509 *issuer;

	TU_CHECK(id.key && id.crt && name, "key or certificate");
	issuer = ca ? ca->crt : id.crt;
	X509_set_version(id.crt, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(id.crt), serial++);
	X509_gmtime_adj(X509_getm_notBefore(id.crt), -3600);
	X509_gmtime_adj(X509_getm_notAfter(id.crt), 86400);
	if (org)
		X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)org, -1,
					   -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(id.crt, name);
	X509_set_issuer_name(id.crt, ca ? X509_get_subject_name(ca->crt) : name);
	X509_set_pubkey(id.crt, id.key);
	X509_NAME_free(name);
	if (kind == PKI_CA) {
		add_ext(id.crt, issuer, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(id.crt, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(id.crt, issuer, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(id.crt, issuer, NID_key_usage, "critical,digitalSignature");
		add_ext(id.crt, issuer, NID_ext_key_usage,
			kind == PKI_SERVER ? "serverAuth" : "clientAuth");
		if (kind == PKI_SERVER)
			add_ext(id.crt, issuer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
	}
	TU_CHECK(X509_sign(id.crt, ca ? ca->key : id.key, EVP_sha256()) > 0, "sign %s", cn);
	return id;
}

void pki_cert_write(X509 *crt, const char *dir, const char *name)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
	f = fopen(path, "we");
	TU_CHECK(f && PEM_write_X509(f, crt) == 1 && fclose(f) == 0, "write %s", path);
}

void pki_ident_write(const struct pki_ident *id, const char *dir, const char *name)
{
	char path[600];
	FILE *f;

	pki_cert_write(id->crt, dir, name);
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	f = fopen(path, "we");
	TU_CHECK(f && PEM_write_PrivateKey(f, id->key, NULL, NULL, 0, NULL, NULL) == 1 &&
			 fclose(f) == 0,
		 "write %s", path);
}

void pki_ident_free(struct pki_ident *id)
{
	EVP_PKEY_free(id->key);
	X509_free(id->crt);
}

size_t pki_cert_der(X509 *crt, uint8_t *out, size_t cap)
{
	int n = i2d_X509(crt, NULL);
	uint8_t *p = out;

	TU_CHECK(n > 0 && (size_t)n <= cap, "DER of %d bytes (room for %zu)", n, cap);
	TU_CHECK(i2d_X509(crt, &p) == n, "i2d_X509");
	return (size_t)n;
}

void pki_token_hash(const char *token, char out[65])
{
	uint8_t h[32];
	unsigned n = 0;

	TU_CHECK(EVP_Digest(token, strlen(token), h, &n, EVP_sha256(), NULL) == 1 && n == 32,
		 "sha256");
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}
