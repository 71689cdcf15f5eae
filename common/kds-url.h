/* AMD Key Distribution Service addresses and GETs, shared by sevadm (cli/kds.c, with its
 * cache) and sevd's worker (the SNP certificate table's fetch at start): a base URL
 * http[s]://HOST[:PORT][/PREFIX] split into the HTTP client's endpoint and a path prefix, the
 * SEV-SNP paths under it, and one GET through common/http-client. Answers are untrusted
 * bytes: callers parse and verify them. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct http_client_opts;

#define KDS_MAX_ANSWER (1u << 20) /* certificates are a few KiB */
#define KDS_TIMEOUT_MS 30000

struct kds_url {
	char *base;	  /* as given, without a trailing '/', for messages */
	char *host;	  /* host[:port] of base as given: "kdsintf.amd.com", "127.0.0.1:8080" */
	char *hostname;	  /* the host alone, no brackets ("127.0.0.1", "::1") */
	char *port;	  /* the port, 443 or 80 by default */
	char *endpoint;	  /* scheme://host:port for the HTTP client */
	char *prefix;	  /* path prefix ("" or "/x", no trailing '/') */
	char *cache_name; /* "<host>_<port>", ':' '[' ']' as '_': a directory name per server */
	int tls;	  /* https:// */
};

/* 0, or -EINVAL with *ret_error (malloc'd) naming what is wrong with url; -ENOMEM. */
int kds_url_parse(const char *url, struct kds_url *ret, char **ret_error);
void kds_url_done(struct kds_url *u);
/* "/vcek/v1/{Gen}/cert_chain" (AMD's path for the ASK and ARK, PEM) for a generation name as
 * AMD spells it ("Milan"); NULL on out of memory. The VCEK's path is
 * attest_snp_vcek_kds_path (attest/snp-chain.h). */
char *kds_url_cert_chain_path(const char *gen);
/* GET prefix + path (starting with '/'). 0 with the body (NUL-terminated), or a negative
 * errno with *ret_error: a network failure ("fetching URL failed: WHY — FIX"), or an HTTP
 * status other than 200 ("AMD KDS at BASE answered HTTP 404 for PATH — what it means"), -ENOENT
 * for 404. opts: NULL, or the client's (timeout and size limits default to the above). */
int kds_url_get(const struct kds_url *u, const char *path, const struct http_client_opts *opts,
		const char *fix, uint8_t **ret_body, size_t *ret_len, char **ret_error);
