/* sevadm ok: is this host ready to run SEV guests? One line per check, PASS or FAIL with the
 * reason, exit 1 if any failed (as sevctl ok). Checks go from the daemon outward: reachable,
 * the HTTP worker's own uid (shown to callers with a role), platform status, the CPUID SEV/SEV-ES
 * ranges (AMD APM vol. 2 §15.34, CPUID 8000_001F), the platform state, the exported certificate
 * chain verified link by link up to a trusted root (attest/chain.h: AMD's roots installed on the
 * host; on the emulator its own root, named as such), and the ASID pool's arithmetic. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/chain.h"
#include "attest/roots.h"
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
	       "Check that sevd answers (and its HTTP worker runs as a uid of its own), the\n"
	       "platform status is readable, the CPU reports SEV and SEV-ES ASID ranges, the\n"
	       "platform is INIT or WORKING, the certificate chain (PDH, PEK, OCA, CEK, ASK,\n"
	       "ARK) verifies, and the ASID pool adds up. On a platform with SEV-SNP: SNP is\n"
	       "INIT with the RMP initialized (or off in sevd.conf), the reported TCB is not\n"
	       "above the running one, and the host's certificate table holds the ARK, ASK\n"
	       "and VCEK (or ASVK and VLEK) sevd verified for this chip.\n"
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

/* /healthz says to callers with a role whether sevd's HTTP worker runs as a uid of its own:
 * one that kept the core's uid (allow_unseparated_worker = yes) could open the
 * core's state, journal and sockets. Not shown to public callers: no line then. */
static void check_worker(struct ok_state *s, json_object *h)
{
	json_object *v;

	if (!json_object_object_get_ex(h, "worker_separated", &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return;
	if (json_object_get_boolean(v))
		result(s, "worker separation", true,
		       "the HTTP worker runs as a uid of its own, without capabilities");
	else
		result(s, "worker separation", false,
		       "the HTTP worker shares the core's uid (allow_unseparated_worker = yes): it "
		       "could open the core's files; run sevd as root or with CAP_SETUID and "
		       "CAP_SETGID, and give the worker a user of its own");
}

static bool check_daemon(struct ok_state *s)
{
	_cleanup_(json_object_putp) json_object *h = NULL;
	_cleanup_free_ char *err = NULL;

	int r = sevadm_call_quiet(s->c, "GET", "/healthz", NULL, &h, &err);

	if (r == -503) {
		/* sevd answers, but has marked the PSP unhealthy (a command timeout or a lost
		 * transport): the daemon passes, the PSP line fails with the reason. */
		result(s, "daemon reachable", true, "sevd at %s answers", s->ctx->daemon);
		result(s, "PSP health", false, "%s; check the PSP (or the emulator) and sevd's log",
		       err ? err : "the PSP is unhealthy");
		return true;
	}
	if (r < 0) {
		result(s, "daemon reachable", false, "%s", err ? err : "no answer");
		return false;
	}
	result(s, "daemon reachable", true, "sevd at %s answers (PSP transport %s, queue depth %lld)",
	       s->ctx->daemon, sevadm_json_str(h, "transport", "?"),
	       sevadm_json_int(h, "queue_depth", 0));
	check_worker(s, h);
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
	else if (strcmp(sevadm_json_str(s->platform, "transport", ""), "dev") == 0)
		/* Only the kernel INITs through /dev/sev: KVM when kvm_amd loads (Linux >= 6.15;
		 * before, the ccp driver at probe). Commands sevd sends still work (the kernel
		 * INITs around them), guests do not. */
		result(s, "platform state", false, "%s: the kernel has not initialized the firmware, "
						    "so no guest can launch (KVM does when kvm_amd "
						    "loads; see dmesg for SEV INIT errors)", st);
	else
		result(s, "platform state", false, "%s: the firmware is not initialized, so no guest "
						    "can launch — check sevd's log (it runs INIT at "
						    "start)", st);
}

static bool tcb_above(json_object *a, json_object *b)
{
	static const char *const parts[] = { "fmc", "bootloader", "tee", "snp", "microcode" };

	for (size_t i = 0; i < ELEMENTSOF(parts); i++)
		if (sevadm_json_int(a, parts[i], 0) > sevadm_json_int(b, parts[i], 0))
			return true;
	return false;
}

/* The host's certificate table (GET /v1/snp/certs): complete, as snphost ok wants it: the ARK,
 * the ASK (or ASVK) and the VCEK (or VLEK). sevd kept it only after checking the chain to the
 * configured root and the VCEK against this chip and its reported TCB (daemon/core/snp-certs.c). */
static void check_snp_certs(struct ok_state *s)
{
	_cleanup_(json_object_putp) json_object *t = NULL;
	_cleanup_free_ char *err = NULL;
	json_object *a = NULL;
	bool ark = false, ask = false, leaf = false;
	int r = sevadm_call_quiet(s->c, "GET", "/v1/snp/certs", NULL, &t, &err);

	if (r < 0)
		return result(s, "SNP certificates", false, "GET /v1/snp/certs failed: %s",
			      err ? err : "no answer");
	json_object_object_get_ex(t, "entries", &a);
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		const char *n = sevadm_json_str(json_object_array_get_idx(a, i), "name", "");

		ark |= strcmp(n, "ark") == 0;
		ask |= strcmp(n, "ask") == 0 || strcmp(n, "asvk") == 0;
		leaf |= strcmp(n, "vcek") == 0 || strcmp(n, "vlek") == 0;
	}
	if (!ark || !ask || !leaf)
		return result(s, "SNP certificates", false, "the host's certificate table lacks %s%s%s"
			      "(guests' extended reports come without a chain): import this chip's "
			      "with 'sevadm snp certs import DIR' (ark.pem, ask.pem, vcek.pem from "
			      "'sevadm fetch ca' and 'sevadm fetch vcek')", ark ? "" : "the ARK ",
			      ask ? "" : "the ASK ", leaf ? "" : "the VCEK or VLEK ");
	result(s, "SNP certificates", true, "ARK, ASK and VCEK/VLEK, verified by sevd for this chip "
	       "and its reported TCB (source %s)", sevadm_json_str(t, "source", "?"));
}

/* SEV-SNP, as snphost ok: enabled, RMP initialized, TCB consistent. No line on a platform
 * without SNP (sevd answers 501 there). */
static void check_snp(struct ok_state *s)
{
	_cleanup_(json_object_putp) json_object *p = NULL;
	_cleanup_free_ char *err = NULL;
	json_object *cur = NULL, *rep = NULL;
	int r = sevadm_call_quiet(s->c, "GET", "/v1/snp/platform", NULL, &p, &err);

	if (r == -501 || r == -404) /* no SNP here; a sevd older than the route */
		return;
	if (r < 0)
		return result(s, "SEV-SNP", false, "SNP_PLATFORM_STATUS through sevd failed: %s",
			      err ? err : "no answer");
	const char *st = sevadm_json_str(p, "state", "?"), *start = sevadm_json_str(p, "sevd_start", "?");
	if (strcmp(st, "INIT") != 0) {
		if (strcmp(start, "off") == 0)
			return result(s, "SEV-SNP", true, "off: sevd.conf has snp = off (SEV and SEV-ES "
							  "only; remove it and restart sevd for SNP)");
		return result(s, "SEV-SNP", false, "%s: SNP is not initialized (%s) — check sevd's log; "
						   "SEV must be shut down before SNP_INIT_EX, so restart "
						   "sevd on an UNINIT platform; on /dev/sev the kernel "
						   "initializes SNP (BIOS SNP on, kvm_amd sev_snp=1)", st,
			      strcmp(start, "failed") == 0 ? "sevd tried and firmware refused" : start);
	}
	if (!sevadm_json_bool(p, "rmp_initialized", false))
		return result(s, "SEV-SNP", false, "INIT but the RMP is not initialized: shut SNP down "
						   "and restart sevd (SNP_INIT_EX with INIT_RMP)");
	result(s, "SEV-SNP", true, "INIT, RMP initialized, SNP API %lld.%lld build %lld (%s), %lld "
				   "SNP guest(s)", sevadm_json_int(p, "api_major", -1),
	       sevadm_json_int(p, "api_minor", -1), sevadm_json_int(p, "build", -1),
	       sevadm_json_str(p, "generation", "?"), sevadm_json_int(p, "guests", 0));
	json_object_object_get_ex(p, "current_tcb", &cur);
	json_object_object_get_ex(p, "reported_tcb", &rep);
	if (tcb_above(rep, cur))
		result(s, "SNP TCB", false, "the reported TCB %s is above the running TCB %s: set it "
					    "to the committed TCB (SNP_SET_CONFIG)",
		       sevadm_json_str(rep, "raw", "?"), sevadm_json_str(cur, "raw", "?"));
	else
		result(s, "SNP TCB", true, "reported %s, running %s", sevadm_json_str(rep, "raw", "?"),
		       sevadm_json_str(cur, "raw", "?"));
	check_snp_certs(s);
}

/* The trust anchors: AMD's roots installed on this host; on the emulator (the daemon says so)
 * also the emulator's own root, marked emulated so the verdict never calls it AMD's. */
static int load_roots(struct ok_state *s, const struct sevadm_certs *certs,
		      struct attest_roots **ret)
{
	_cleanup_free_ char *err = NULL;
	bool emu = strcmp(sevadm_json_str(s->platform, "transport", ""), "emu") == 0;
	int r;

	r = attest_roots_load(NULL, ret, &err);
	if (r == -ENOENT)
		r = attest_roots_new(ret);
	if (r < 0) {
		result(s, "certificate chain", false, "cannot load the AMD roots: %s",
		       err ? err : strerror(-r));
		return r;
	}
	if (!emu || !certs->buf[SEVADM_CERT_ASK] || !certs->buf[SEVADM_CERT_ARK])
		return 0;
	size_t n = certs->len[SEVADM_CERT_ASK] + certs->len[SEVADM_CERT_ARK];
	_cleanup_free_ uint8_t *askark = malloc(n);
	if (!askark)
		return -ENOMEM;
	memcpy(askark, certs->buf[SEVADM_CERT_ASK], certs->len[SEVADM_CERT_ASK]);
	memcpy(askark + certs->len[SEVADM_CERT_ASK], certs->buf[SEVADM_CERT_ARK],
	       certs->len[SEVADM_CERT_ARK]);
	free(TAKE_PTR(err));
	r = attest_roots_add_sev(*ret, "emulated", askark, n, true, "sev-psp-emu via sevd", &err);
	if (r < 0)
		result(s, "certificate chain", false, "the emulator's root is unusable: %s",
		       err ? err : strerror(-r));
	return r;
}

/* Every link of SEV API 55766 §2.2 (PDH <- PEK <- OCA, PEK <- CEK <- ASK <- ARK) and the root,
 * by attest/chain.h. */
static void check_chain(struct ok_state *s)
{
	_cleanup_(sevadm_certs_clear) struct sevadm_certs certs = {};
	struct attest_roots *roots = NULL;
	struct attest_sev_chain chain;
	struct attest_verdict v = {};
	int r;

	/* sevadm_get_certs prints its failure; the check line says where to look. */
	if (sevadm_get_certs(s->c, "ok", &certs) != 0)
		return result(s, "certificate chain", false, "cannot export it (see above)");
	attest_sev_chain_init(&chain);
	for (size_t i = 0; i < _SEVADM_CERT_MAX; i++)
		if (certs.buf[i] && attest_sev_chain_add_blob(&chain, certs.buf[i], certs.len[i],
							      sevadm_cert_names[i], &v) < 0)
			return result(s, "certificate chain", false, "%s", v.reason);
	if (load_roots(s, &certs, &roots) < 0) {
		attest_roots_free(roots);
		return;
	}
	r = attest_sev_chain_verify(&chain, roots, 0, &v);
	if (r == 1)
		result(s, "certificate chain", true, "PDH, PEK, OCA, CEK, ASK and ARK verify; root: %s "
						     "(%s)", v.root_gen,
		       v.root_emulated	   ? "sev-psp-emu's own root, not AMD's"
		       : v.root_amd_known ? "AMD's published ARK"
					  : "an installed root");
	else if (r == 0)
		result(s, "certificate chain", false, "%s%s%s", v.reason,
		       attest_roots_sev_count(roots) ? "" : " — no AMD roots are installed in ",
		       attest_roots_sev_count(roots) ? "" : attest_roots_default_dir());
	else
		result(s, "certificate chain", false, "cannot verify it: %s", strerror(-r));
	attest_roots_free(roots);
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
		check_snp(&s);
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
