/* libFuzzer target: sev-kds-emu's request parser (psp/emu/kds-url.c, emu_kds_parse) on
 * untrusted request paths and queries: the input is PATH, a NUL byte, then QUERY. Must never
 * crash, and a request it accepts must be one of the KDS forms (a VCEK; the VCEK or the VLEK
 * cert_chain; the VCEK or the VLEK path's CRL), of the path's family. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "psp/emu/kds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool one_form(const struct emu_kds_req *r, const char *path)
{
	if (strncmp(path, r->vlek ? "/vlek/v1/" : "/vcek/v1/", 9) != 0)
		return false;
	if (r->crl || r->cert_chain)
		return !(r->crl && r->cert_chain);
	return !r->vlek && (r->hwid_len == 64 || r->hwid_len == 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 2);
	const char *query, *why = NULL;
	struct emu_kds_req r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = 0;
	query = buf + strlen(buf) + (strlen(buf) < size ? 1 : 0);
	if (emu_kds_parse(buf, query, &r, &why) == 0 && !one_form(&r, buf))
		abort();
	free(buf);
	return 0;
}
