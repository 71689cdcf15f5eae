/* libFuzzer target: the core's parser and verifier of a TLS client's certificate chain as
 * the worker forwards it (op CONN_CERT, daemon/core/client-cert.c): DER certificates one
 * after the other, every byte the worker's. Checks, beyond "no crash": the answer is 0,
 * -EBADMSG, -EPERM or -ENAMETOOLONG, a refusal names its reason, and the subject strings
 * are NUL-terminated and empty on a refusal. The store is empty: every chain that parses
 * goes through OpenSSL's verification (and is refused there). Seeds: tests/fuzz/corpus/client-chain
 * (a self-signed certificate, a leaf with its CA, truncated and trailing bytes); tests/daemon
 * replays them with mutations in every build (daemon-fuzz-client-chain). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "daemon/core/client-cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* For the replay test (tests/daemon/test-fuzz-replay.c): inputs that parsed as DER
 * certificates (whatever the verification said). */
uint64_t fuzz_replay_accepted(void);

static uint64_t accepted;

uint64_t fuzz_replay_accepted(void)
{
	return accepted;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static X509_STORE *store;
	char dn[256], cn[256], err[200];
	uint8_t *copy = malloc(size ? size : 1);
	int r;

	if (!store)
		store = X509_STORE_new();
	if (!copy || !store)
		abort();
	memcpy(copy, data, size); /* exactly size bytes: ASan sees an overread */
	err[0] = '\0';
	r = sevd_client_chain_verify(store, copy, size, dn, cn, sizeof(dn), err, sizeof(err));
	if (r != 0 && r != -EBADMSG && r != -EPERM && r != -ENAMETOOLONG && r != -ENOMEM)
		abort();
	if (!memchr(dn, '\0', sizeof(dn)) || !memchr(cn, '\0', sizeof(cn)))
		abort();
	if (r < 0 && (!err[0] || !memchr(err, '\0', sizeof(err)) || dn[0] || cn[0]))
		abort();
	if (r != -EBADMSG)
		accepted++;
	free(copy);
	return 0;
}
