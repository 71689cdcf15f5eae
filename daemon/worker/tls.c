/* TLS material and client-certificate roles (tls.h). GnuTLS is linked directly only to read
 * the verified peer certificate of a libmicrohttpd session; the handshake itself is
 * libmicrohttpd's. Trusts tls_client_ca for client certificates, nothing else. */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"
#include "common/util.h"
#include "daemon/sevd-config.h"
#include "daemon/worker/tls.h"

/* NORMAL minus everything below TLS 1.2 (TLS 1.0/1.1 are deprecated by RFC 8996). */
const char sevd_tls_priorities[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

#define SEVD_PEM_MAX (1024 * 1024)

static int read_pem(const char *key, const char *path, char **ret, size_t *ret_len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	char *s;
	int r;

	if (!path)
		return log_error_errno(EINVAL,
				       "A tls: listener needs '%s' in sevd.conf (a PEM file)", key);
	r = read_full_file(path, SEVD_PEM_MAX, &buf, &len);
	if (r < 0)
		return log_error_errno(r, "Cannot read %s %s: %m", key, path);
	if (memchr(buf, '\0', len) || !memmem(buf, len, "-----BEGIN ", 11)) {
		secret_wipe(buf, len);
		return log_error_errno(EINVAL, "%s %s is not a PEM file", key, path);
	}
	s = secret_alloc(len + 1);
	if (!s) {
		secret_wipe(buf, len);
		return -ENOMEM;
	}
	memcpy(s, buf, len);
	s[len] = '\0';
	secret_wipe(buf, len);
	*ret = s;
	if (ret_len)
		*ret_len = len + 1;
	return 0;
}

int sevd_tls_load(const struct sevd_config *cfg, struct sevd_tls *ret)
{
	struct sevd_tls t = {0};
	size_t len;
	int r;

	r = read_pem("tls_cert", cfg->tls_cert, &t.cert, &len);
	if (r >= 0)
		r = read_pem("tls_key", cfg->tls_key, &t.key, &t.key_len);
	if (r >= 0 && cfg->tls_client_ca)
		r = read_pem("tls_client_ca", cfg->tls_client_ca, &t.client_ca, &len);
	if (r >= 0 && cfg->n_cert_roles && !cfg->tls_client_ca)
		r = log_error_errno(EINVAL, "client_cert_role needs tls_client_ca (the CA file "
					    "client certificates are verified against)");
	if (r < 0) {
		sevd_tls_done(&t);
		return r;
	}
	*ret = t;
	return 0;
}

void sevd_tls_done(struct sevd_tls *t)
{
	if (t->cert)
		secret_free(t->cert, strlen(t->cert) + 1);
	if (t->key)
		secret_free(t->key, t->key_len);
	if (t->client_ca)
		secret_free(t->client_ca, strlen(t->client_ca) + 1);
	memset(t, 0, sizeof(*t));
}

/* The peer's leaf certificate, only when GnuTLS verified the chain against the trust list
 * libmicrohttpd loaded from tls_client_ca (time, signatures, key usage). */
static int verified_peer(gnutls_session_t s, gnutls_x509_crt_t *ret)
{
	const gnutls_datum_t *chain;
	unsigned n = 0, status = 0;
	gnutls_x509_crt_t crt;

	if (gnutls_certificate_type_get(s) != GNUTLS_CRT_X509)
		return -ENOENT;
	chain = gnutls_certificate_get_peers(s, &n);
	if (!chain || n == 0)
		return -ENOENT;
	if (gnutls_certificate_verify_peers2(s, &status) < 0 || status != 0)
		return -EPERM;
	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(crt);
		return -EINVAL;
	}
	*ret = crt;
	return 0;
}

/* Does the certificate's subject match a client_cert_role line? The DN as RFC 4514 prints
 * it ("CN=a,O=b": most specific first), or the CN alone. */
static bool subject_matches(gnutls_x509_crt_t crt, const struct sevd_cert_role *cr)
{
	gnutls_datum_t dn = {0};
	char cn[256];
	size_t cn_len = sizeof(cn);
	bool ok = false;

	if (cr->is_dn) {
		if (gnutls_x509_crt_get_dn3(crt, &dn, 0) < 0)
			return false;
		ok = strlen(cr->subject) == dn.size && !memcmp(dn.data, cr->subject, dn.size);
		gnutls_free(dn.data);
		return ok;
	}
	/* The first CN only: a subject with two CNs cannot match a later one. */
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_len) < 0)
		return false;
	return cn_len == strlen(cr->subject) && !memcmp(cn, cr->subject, cn_len);
}

void sevd_tls_client_evidence(void *session, struct sevd_caller *cl)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t dn = {0};
	size_t cn_len = sizeof(cl->cn) - 1;

	if (!session || verified_peer(session, &crt) < 0)
		return;
	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0 && dn.size < sizeof(cl->text)) {
		cl->kind = SEVD_EVIDENCE_CERT;
		memcpy(cl->text, dn.data, dn.size);
		cl->text[dn.size] = '\0';
		if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cl->cn,
						  &cn_len) < 0 || cn_len >= sizeof(cl->cn))
			cl->cn[0] = '\0';
		else
			cl->cn[cn_len] = '\0';
	}
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
}

size_t sevd_tls_client_chain(void *session, uint8_t *buf, size_t size)
{
	const gnutls_datum_t *chain;
	unsigned n = 0;
	size_t len = 0;

	if (!session || gnutls_certificate_type_get(session) != GNUTLS_CRT_X509)
		return 0;
	chain = gnutls_certificate_get_peers(session, &n);
	for (unsigned i = 0; chain && i < n; i++) {
		if (chain[i].size > size - len)
			return 0; /* too long for the core: no evidence */
		memcpy(buf + len, chain[i].data, chain[i].size);
		len += chain[i].size;
	}
	return len;
}

enum sevd_role sevd_tls_client_role(const struct sevd_config *cfg, void *session)
{
	gnutls_x509_crt_t crt;
	enum sevd_role role = SEVD_ROLE_PUBLIC;

	if (!session || !cfg->n_cert_roles || verified_peer(session, &crt) < 0)
		return SEVD_ROLE_PUBLIC;
	/* The first matching line wins, as in the config file's order. */
	for (unsigned i = 0; i < cfg->n_cert_roles; i++)
		if (subject_matches(crt, &cfg->cert_roles[i])) {
			role = cfg->cert_roles[i].role;
			break;
		}
	gnutls_x509_crt_deinit(crt);
	return role;
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

int sevd_plain_tcp_check(const struct sevd_config *cfg, const struct sockaddr *sa, const char *what)
{
	if (!is_loopback(sa))
		return log_error_errno(EPERM,
				       "Refusing plain TCP on %s: it is not a loopback "
				       "address and plain TCP carries tokens in clear. Use "
				       "tls:ADDR:PORT with tls_cert and tls_key.",
				       what);
	if (!cfg->allow_plain_tcp)
		return log_error_errno(EPERM,
				       "Refusing plain TCP on %s without allow_plain_tcp: set "
				       "'allow_plain_tcp = yes' (or --allow-plain-tcp) for "
				       "loopback-only plain HTTP, or use tls:ADDR:PORT.",
				       what);
	return 0;
}
