/* The local Key Distribution Service of sev-kds-emu: AMD's KDS URL rules (AMD "Versioned Chip
 * Endorsement Key" spec 57230, and what kdsintf.amd.com answers): GET
 *   /vcek/v1/{product}/cert_chain                  the ASK then the ARK, PEM
 *   /vcek/v1/{product}/{hwid}?blSPL=N&teeSPL=N&snpSPL=N&ucodeSPL=N[&fmcSPL=N]
 *                                                  the VCEK certificate, DER
 *   /vlek/v1/{product}/cert_chain                  the ASVK then the ARK, PEM
 *   /vcek/v1/{product}/crl, /vlek/v1/{product}/crl  the ARK's CRL, DER
 * (KDS spec 57230 rev 1.x, and the chain kdsintf.amd.com serves: SEV-VLEK-Milan, ARK-Milan).
 * VLEK certificates themselves are issued to the cloud provider with its wrapped VLEK, not
 * served per chip: any other /vlek/v1/ path is 404.
 * product: Milan, Genoa, Turin; hwid: 128 hex digits (Turin: 16); each SPL a decimal 0..255,
 * every one required, none other allowed (fmcSPL only and always on Turin). A malformed
 * request is 400; a well-formed one for another product or chip is 404. Pure parser here
 * (untrusted input: fuzzed by tests/fuzz/fuzz-kds-url.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct emu_kds_req {
	char product[8];
	bool vlek;	 /* a /vlek/v1/ path (only its cert_chain exists) */
	bool cert_chain; /* else a VCEK ... */
	bool crl;	 /* ... or the ARK's CRL */
	uint8_t hwid[64];
	size_t hwid_len;
	uint8_t fmc, bl, tee, snp, ucode;
};

/* path: the request path; query: "k=v&k=v" in the client's order ("" for none). 0, or an HTTP
 * status (400 malformed, 404 not a KDS path) with *why. */
int emu_kds_parse(const char *path, const char *query, struct emu_kds_req *ret, const char **why);
