/* Remote access over TLS: the server certificate, key and
 * client-CA files read for libmicrohttpd's GnuTLS backend, the subject-to-role map for client
 * certificates, and the rule that plain TCP is only for loopback with allow_plain_tcp. Trusts
 * a client certificate only after GnuTLS verified it against tls_client_ca. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "daemon/worker/auth.h"

struct sevd_config;

/* The PEM files of a TLS listener, held in memory (the key in wiped memory) while it runs. */
struct sevd_tls {
	char *cert, *key, *client_ca; /* NUL-terminated PEM; client_ca NULL without one */
	size_t key_len;
};

/* Read tls_cert, tls_key and tls_client_ca; an error names the missing key or file. */
int sevd_tls_load(const struct sevd_config *cfg, struct sevd_tls *ret);
void sevd_tls_done(struct sevd_tls *t);
/* The GnuTLS priority string: TLS 1.2 and 1.3 only. */
extern const char sevd_tls_priorities[];

/* The role of a connection's client certificate (session: a gnutls_session_t from
 * MHD_CONNECTION_INFO_GNUTLS_SESSION): public without one, when it does not verify against
 * the CA, or when no client_cert_role line names its subject. */
/* The verified client certificate's subject (DN, first CN) as the core's evidence; nothing
 * (kind NONE) without a verified certificate. */
void sevd_tls_client_evidence(void *session, struct sevd_caller *cl);
/* The certificates the client sent, DER one after the other (its own first), into buf: the
 * bytes written, 0 for none (or more than size). For the core, which verifies them itself
 * (op CONN_CERT). */
size_t sevd_tls_client_chain(void *session, uint8_t *buf, size_t size);
enum sevd_role sevd_tls_client_role(const struct sevd_config *cfg, void *session);

/* May plain TCP (no TLS) listen on this address? Only on loopback and with
 * allow_plain_tcp; otherwise logs why not and what to do, and returns -EPERM. */
int sevd_plain_tcp_check(const struct sevd_config *cfg, const struct sockaddr *sa,
			 const char *what);
