/* sevadm ok: is this host ready to run SEV guests? One line per check, PASS or FAIL with the
 * reason, exit 1 if any failed (as sevctl ok). Checks go from the daemon outward: reachable,
 * platform status, the CPUID SEV/SEV-ES ranges (AMD APM vol. 2 §15.34, CPUID 8000_001F), the
 * platform state, the exported certificate chain verified link by link (SEV API appendix B/C),
 * and the ASID pool's arithmetic. The chain's root is the platform's own ARK: whether that is
 * AMD's root is `sevadm verify chain`'s job. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/amd-cert.h"
#include "attest/sev-cert.h"
#include "common/ossl.h"
#include "cli/sevadm.h"

struct ok_state {
	const struct sevadm_ctx *ctx;
	struct http_client *c;
	json_object *platform; /* GET /v1/platform, NULL when unreadable */
	json_object *results;  /* --json: [{"check","pass","reason"}] */
	int failed;
};

static int help(void)
{
	printf("Usage: sevadm ok\n"
	       "\n"
	       "Check that sevd answers, the platform status is readable, the CPU reports SEV and\n"
	       "SEV-ES ASID ranges, the platform is INIT or WORKING, the certificate chain\n"
	       "(PDH, PEK, OCA, CEK, ASK, ARK) verifies, and the ASID pool adds up.\n"
	       "One line per check: PASS or FAIL with the reason. Exit status 1 if any failed.\n");
	return SEVADM_EXIT_OK;
}

static void result(struct ok_state *s, const char *check, bool pass, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void result(struct ok_state *s, const char *check, bool pass, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (!pass)
		s->failed++;
	if (!s->ctx->json) {
		printf("[ %s ] %s: %s\n", pass ? "PASS" : "FAIL", check, reason);
		return;
	}
	json_object *r = json_object_new_object();
	json_object_object_add(r, "check", json_object_new_string(check));
	json_object_object_add(r, "pass", json_object_new_boolean(pass));
	json_object_object_add(r, "reason", json_object_new_string(reason));
	json_object_array_add(s->results, r);
}

static bool check_daemon(struct ok_state *s)
{
	_cleanup_(json_object_putp) json_object *h = NULL;
	_cleanup_free_ char *err = NULL;

	if (sevadm_call_quiet(s->c, "GET", "/healthz", NULL, &h, &err) < 0) {
		result(s, "daemon reachable", false, "%s", err ? err : "no answer");
		return false;
	}
	result(s, "daemon reachable", true, "sevd at %s answers (PSP transport %s, queue depth %lld)",
	       s->ctx->daemon, sevadm_json_str(h, "transport", "?"),
	       sevadm_json_int(h, "queue_depth", 0));
	return true;
}

static void check_platform(struct ok_state *s)
{
	_cleanup_free_ char *err = NULL;
	json_object *p = NULL;

	if (sevadm_call_quiet(s->c, "GET", "/v1/platform", NULL, &p, &err) < 0) {
		result(s, "platform status", false, "PLATFORM_STATUS through sevd failed: %s",
		       err ? err : "no answer");
		return;
	}
	s->platform = p;
	result(s, "platform status", true, "SEV API %lld.%lld build %lld",
	       sevadm_json_int(p, "api_major", -1), sevadm_json_int(p, "api_minor", -1),
	       sevadm_json_int(p, "build", -1));
}

/* CPUID 8000_001F: ECX = number of encrypted guests (max ASID), EDX = lowest non-ES ASID. */
static void check_cpuid(struct ok_state *s)
{
	json_object *a = NULL;

	if (!s->platform || !json_object_object_get_ex(s->platform, "asids", &a)) {
		result(s, "SEV", false, "no ASID ranges known (platform status unreadable)");
		result(s, "SEV-ES", false, "no ASID ranges known (platform status unreadable)");
		return;
	}
	long long max = sevadm_json_int(a, "max", 0), min_sev = sevadm_json_int(a, "min_sev", 0);
	if (max < 1 || min_sev < 1 || min_sev > max + 1)
		result(s, "SEV", false, "CPUID 8000_001F reports no usable SEV ASIDs (ECX=%lld, "
					"EDX=%lld)", max, min_sev);
	else if (min_sev > max)
		result(s, "SEV", false, "all %lld ASIDs are SEV-ES only (CPUID 8000_001F EDX=%lld): "
					"plain SEV guests cannot run", max, min_sev);
	else
		result(s, "SEV", true, "ASIDs %lld..%lld for SEV guests (CPUID 8000_001F ECX=%lld, "
				       "EDX=%lld)", min_sev, max, max, min_sev);
	if (min_sev > 1 && min_sev <= max + 1)
		result(s, "SEV-ES", true, "ASIDs 1..%lld for SEV-ES guests", min_sev - 1);
	else
		result(s, "SEV-ES", false, "CPUID 8000_001F EDX=%lld leaves no ASID for SEV-ES guests",
		       min_sev);
}

static void check_state(struct ok_state *s)
{
	const char *st = sevadm_json_str(s->platform, "state", NULL);

	if (!st)
		result(s, "platform state", false, "unknown (platform status unreadable)");
	else if (strcmp(st, "INIT") == 0 || strcmp(st, "WORKING") == 0)
		result(s, "platform state", true, "%s, %lld guest(s), owner %s%s", st,
		       sevadm_json_int(s->platform, "guest_count", 0),
		       sevadm_json_str(s->platform, "owner", "?"),
		       sevadm_json_bool(s->platform, "es", false) ? ", SEV-ES enabled" : "");
	else
		result(s, "platform state", false, "%s: the firmware is not initialized, so no guest "
						    "can launch — check sevd's log (it runs INIT at "
						    "start)", st);
}

/* Verify `c` with the key of `signer` (signer_usage); NULL when valid, else why not. */
static const char *verify_sev_link(const struct sev_cert *c, const struct sev_cert *signer,
				   uint32_t signer_usage)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	const char *reason = NULL;

	if (attest_sev_cert_pubkey(signer, &key) < 0)
		return "the signer's public key is unusable";
	if (attest_sev_cert_verify(c, signer_usage, key, &reason) != 1)
		return reason ? reason : "bad signature";
	return NULL;
}

/* Links of SEV API appendix C: PDH <- PEK <- {OCA, CEK}, OCA self-signed, CEK <- ASK <- ARK. */
static void check_chain_links(struct ok_state *s, const struct sevadm_certs *certs)
{
	struct sev_cert sc[4];
	struct amd_cert ask, ark;
	const char *why = NULL, *link = NULL;
	size_t used;

	for (size_t i = 0; i < 4; i++)
		if (attest_sev_cert_parse(certs->buf[i], certs->len[i], &sc[i], &why) < 0)
			return result(s, "certificate chain", false, "%s: %s",
				      sevadm_cert_names[i], why ? why : "malformed");
	if ((why = verify_sev_link(&sc[SEVADM_CERT_PDH], &sc[SEVADM_CERT_PEK], SEV_USAGE_PEK)))
		link = "PDH not signed by the PEK";
	else if ((why = verify_sev_link(&sc[SEVADM_CERT_PEK], &sc[SEVADM_CERT_OCA], SEV_USAGE_OCA)))
		link = "PEK not signed by the OCA";
	else if ((why = verify_sev_link(&sc[SEVADM_CERT_OCA], &sc[SEVADM_CERT_OCA], SEV_USAGE_OCA)))
		link = "OCA not self-signed";
	else if ((why = verify_sev_link(&sc[SEVADM_CERT_PEK], &sc[SEVADM_CERT_CEK], SEV_USAGE_CEK)))
		link = "PEK not signed by the CEK";
	if (link)
		return result(s, "certificate chain", false, "%s: %s", link, why);
	if (!certs->buf[SEVADM_CERT_ASK] || !certs->buf[SEVADM_CERT_ARK])
		return result(s, "certificate chain", false,
			      "PDH, PEK, OCA and CEK verify, but sevd does not know the AMD ASK/ARK "
			      "of this platform — install AMD's ask_ark file in sevd's roots "
			      "directory");
	if (attest_amd_cert_parse(certs->buf[SEVADM_CERT_ASK], certs->len[SEVADM_CERT_ASK], &ask,
				  &used, &why) < 0 ||
	    attest_amd_cert_parse(certs->buf[SEVADM_CERT_ARK], certs->len[SEVADM_CERT_ARK], &ark,
				  &used, &why) < 0)
		return result(s, "certificate chain", false, "ASK/ARK: %s", why ? why : "malformed");
	if (attest_amd_cert_verify(&ark, &ark, &why) != 1)
		link = "ARK not self-signed";
	else if (attest_amd_cert_verify(&ask, &ark, &why) != 1)
		link = "ASK not signed by the ARK";
	else if (attest_amd_verify_cek(&sc[SEVADM_CERT_CEK], &ask, &why) != 1)
		link = "CEK not signed by the ASK";
	if (link)
		return result(s, "certificate chain", false, "%s: %s", link, why ? why : "invalid");
	result(s, "certificate chain", true, "PDH <- PEK <- OCA, CEK <- ASK <- ARK all verify "
					     "(is the ARK AMD's? see 'sevadm verify chain')");
}

static void check_chain(struct ok_state *s)
{
	_cleanup_(sevadm_certs_clear) struct sevadm_certs certs = {};

	/* sevadm_get_certs prints its failure; the check line says where to look. */
	if (sevadm_get_certs(s->c, "ok", &certs) != 0)
		return result(s, "certificate chain", false, "cannot export it (see above)");
	check_chain_links(s, &certs);
}

/* used + free + flush-pending = all ASIDs, per class and in total; holders within range. */
static void check_asids(struct ok_state *s)
{
	_cleanup_(json_object_putp) json_object *a = NULL;
	_cleanup_free_ char *err = NULL;
	json_object *es = NULL, *sev = NULL, *holders = NULL;

	if (sevadm_call_quiet(s->c, "GET", "/v1/asids", NULL, &a, &err) < 0)
		return result(s, "ASID pool", false, "cannot read it: %s", err ? err : "no answer");
	long long max = sevadm_json_int(a, "max", -1), min_sev = sevadm_json_int(a, "min_sev", -1);
	long long used = sevadm_json_int(a, "used", -1), fr = sevadm_json_int(a, "free", -1);
	long long pend = sevadm_json_int(a, "flush_pending", -1);
	json_object_object_get_ex(a, "es", &es);
	json_object_object_get_ex(a, "sev", &sev);
	if (used < 0 || fr < 0 || pend < 0 || used + fr + pend != max)
		return result(s, "ASID pool", false, "used %lld + free %lld + flush-pending %lld != "
						     "%lld ASIDs", used, fr, pend, max);
	if (sevadm_json_int(es, "total", -1) != MAX(min_sev - 1, 0) ||
	    sevadm_json_int(sev, "total", -1) != max - min_sev + 1)
		return result(s, "ASID pool", false, "class sizes SEV-ES %lld / SEV %lld do not match "
						     "CPUID (min_sev %lld, max %lld)",
			      sevadm_json_int(es, "total", -1), sevadm_json_int(sev, "total", -1),
			      min_sev, max);
	if (json_object_object_get_ex(a, "holders", &holders) &&
	    json_object_is_type(holders, json_type_array))
		for (size_t i = 0; i < json_object_array_length(holders); i++) {
			long long asid = sevadm_json_int(json_object_array_get_idx(holders, i), "asid", 0);
			if (asid < 1 || asid > max)
				return result(s, "ASID pool", false, "ASID %lld is held but outside "
								     "1..%lld", asid, max);
		}
	result(s, "ASID pool", true, "%lld ASIDs: %lld used, %lld free, %lld awaiting DF_FLUSH", max,
	       used, fr, pend);
}

int verb_ok(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = { { "help", no_argument, NULL, 'h' }, {} };
	struct ok_state s = { .ctx = ctx };
	int o, r;

	while ((o = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		if (o == 'h')
			return help();
		return sevadm_bad_option("ok", argv);
	}
	if (optind != argc)
		return sevadm_usage("ok", "takes no arguments ('%s' given)", argv[optind]);
	r = sevadm_connect(ctx, "ok", &s.c);
	if (r != 0)
		return r;
	s.results = ctx->json ? json_object_new_array() : NULL;
	if (check_daemon(&s)) {
		check_platform(&s);
		check_cpuid(&s);
		check_state(&s);
		check_chain(&s);
		check_asids(&s);
	} else
		/* Every other check asks sevd: one line naming why they did not run. */
		result(&s, "remaining checks", false, "not run: sevd is unreachable");
	if (ctx->json) {
		json_object *out = json_object_new_object();
		json_object_object_add(out, "ok", json_object_new_boolean(s.failed == 0));
		json_object_object_add(out, "checks", s.results);
		sevadm_print_json(out);
		json_object_put(out);
	}
	json_object_put(s.platform);
	http_client_free(s.c);
	return s.failed ? SEVADM_EXIT_FAIL : SEVADM_EXIT_OK;
}
