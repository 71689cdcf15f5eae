/* sevadm ok: is this host ready to run SEV guests? One line per check, PASS or FAIL with the
 * reason, exit 1 if any failed (as sevctl ok). Checks go from the daemon outward: reachable,
 * the HTTP worker's own uid (shown to callers with a role), platform status, the CPUID SEV/SEV-ES
 * ranges (AMD APM vol. 2 §15.34, CPUID 8000_001F), the platform state, the exported certificate
 * chain verified link by link up to a trusted root (attest/chain.h: AMD's roots installed on the
 * host; on the emulator its own root, named as such), and the ASID pool's arithmetic. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/chain.h"
#include "attest/roots.h"
#include "attest/snp-chain.h"
#include "common/ossl.h"
#include "common/util.h"
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
	       "above the running one (decoded for the generation), the host's certificate\n"
	       "table holds the ARK, ASK and VCEK (or ASVK and VLEK), its chain verifies here\n"
	       "against the installed SNP root (on the emulator: its own ARK), and the VCEK's\n"
	       "extensions name this chip (GET_ID) and its reported TCB.\n"
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

static const char *const tcb_parts[] = { "fmc", "bootloader", "tee", "snp", "microcode" };

/* The components of a above b's, as "snp 9 > 8, microcode 116 > 115" (empty: none). Both are
 * decoded in the platform's generation (Turin's layout has an FMC SVN). */
static bool tcb_above(json_object *a, json_object *b, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < ELEMENTSOF(tcb_parts) && n < size; i++) {
		long long x = sevadm_json_int(a, tcb_parts[i], 0), y = sevadm_json_int(b, tcb_parts[i], 0);

		if (x > y)
			n += (size_t)snprintf(buf + n, size - n, "%s%s %lld > %lld", n ? ", " : "",
					      tcb_parts[i], x, y);
	}
	return buf[0] != 0;
}

/* SNP_PLATFORM_STATUS holds the running (current) and the reported TCB; the committed one lies
 * between them (SNP ABI "TCB Version": SNP_COMMIT raises it to the current, SNP_CONFIG may pin
 * the reported TCB no higher than it), so reported <= current in every component, in the
 * layout of this generation. */
static void check_snp_tcb(struct ok_state *s, json_object *p)
{
	json_object *cur = NULL, *rep = NULL;
	const char *gen = sevadm_json_str(p, "generation", "?");
	char above[160], lag[160];

	if (!json_object_object_get_ex(p, "current_tcb", &cur) ||
	    !json_object_object_get_ex(p, "reported_tcb", &rep))
		return result(s, "SNP TCB", false, "sevd's GET /v1/snp/platform has no current_tcb or "
						   "reported_tcb: update sevd");
	if (attest_snp_gen_from_name(gen) == SNP_GEN_UNKNOWN)
		return result(s, "SNP TCB", false, "the generation of this SNP part is unknown ('%s'), "
						   "so its TCB cannot be decoded: check 'sevadm snp "
						   "show' and sevd's log", gen);
	if (tcb_above(rep, cur, above, sizeof(above)))
		return result(s, "SNP TCB", false, "the reported TCB %s is above the running TCB %s "
						   "(%s; %s layout): set it back to the committed TCB "
						   "with 'sevadm snp config reset'",
			      sevadm_json_str(rep, "raw", "?"), sevadm_json_str(cur, "raw", "?"), above,
			      gen);
	if (tcb_above(cur, rep, lag, sizeof(lag)))
		return result(s, "SNP TCB", true, "reported %s below running %s (%s; %s layout): the "
						  "running firmware is not committed yet or SNP_CONFIG "
						  "pins the reported TCB lower; commit it with 'sevadm "
						  "snp commit' once proven, then import its VCEK",
			      sevadm_json_str(rep, "raw", "?"), sevadm_json_str(cur, "raw", "?"), lag,
			      gen);
	result(s, "SNP TCB", true, "reported = committed = running %s (%s layout)",
	       sevadm_json_str(cur, "raw", "?"), gen);
}

/* One entry of the table (GET /v1/snp/certs) as an X509, NULL when absent or unreadable (then
 * why->reason says why). */
static X509 *table_cert(json_object *t, const char *name, struct attest_verdict *why)
{
	_cleanup_free_ uint8_t *der = NULL;
	json_object *a = NULL;
	size_t len = 0;
	X509 *x = NULL;

	json_object_object_get_ex(t, "entries", &a);
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		const char *b64 = sevadm_json_str(e, "der", "");

		if (strcmp(sevadm_json_str(e, "name", ""), name) != 0)
			continue;
		if (base64_decode(b64, strlen(b64), &der, &len) < 0)
			return attest_verdict_reject(why, "its DER is not base64", 0), NULL;
		if (attest_snp_cert_parse(der, len, &x, why) < 0)
			return NULL;
		return x;
	}
	return NULL;
}

/* This host as a report would name it: generation, reported TCB, chip id (GET /v1/platform/id,
 * the first socket's 64 bytes). */
static int host_identity(struct ok_state *s, json_object *p, struct snp_report *r)
{
	_cleanup_(json_object_putp) json_object *id = NULL;
	_cleanup_free_ uint8_t *chip = NULL;
	_cleanup_free_ char *err = NULL;
	json_object *tcb = NULL;
	const char *raw;
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	r->gen = attest_snp_gen_from_name(sevadm_json_str(p, "generation", ""));
	if (!json_object_object_get_ex(p, "reported_tcb", &tcb) ||
	    !(raw = sevadm_json_str(tcb, "raw", NULL)))
		return -EBADMSG;
	r->reported_tcb.raw = strtoull(raw, NULL, 16);
	attest_snp_tcb_decode(r->reported_tcb.raw, r->gen, &r->reported_tcb);
	if (sevadm_call_quiet(s->c, "GET", "/v1/platform/id", NULL, &id, &err) < 0 ||
	    hex_decode(sevadm_json_str(id, "id", ""), &chip, &n) < 0 || n < sizeof(r->chip_id))
		return -EBADMSG;
	memcpy(r->chip_id, chip, sizeof(r->chip_id));
	return 0;
}

/* The VCEK (or VLEK) of the table is this chip's for its reported TCB: sevadm reads the
 * certificate's own extensions (hwID, blSPL/teeSPL/snpSPL/ucodeSPL/fmcSPL) and compares them
 * with GET_ID and SNP_PLATFORM_STATUS, as a verifier of this host's reports will. */
static void check_snp_leaf(struct ok_state *s, json_object *p, X509 *leaf, const char *entry)
{
	const char *name = strcmp(entry, "vlek") ? "VCEK" : "VLEK";
	struct snp_vcek_info info;
	struct snp_report r;
	struct attest_verdict why = {0};
	bool hw = false;

	if (attest_snp_vcek_info(leaf, &info, &why) < 0)
		return result(s, "SNP VCEK", false, "the table's %s has malformed extensions (%s): "
						    "import this chip's from 'sevadm snp fetch'",
			      name, why.reason);
	if (host_identity(s, p, &r) < 0)
		return result(s, "SNP VCEK", false, "cannot read this chip's id and reported TCB "
						    "(GET /v1/platform/id, /v1/snp/platform): check "
						    "sevd's log");
	if (sevadm_json_bool(p, "mask_chip_id", false) && !info.is_vlek)
		memset(r.chip_id, 0, sizeof(r.chip_id));
	if (attest_snp_vcek_check_report(&info, &r, &hw, &why) != 1)
		return result(s, "SNP VCEK", false, "the table's %s does not match this chip: %s — "
						    "guests' reports would not verify with it; fetch "
						    "this chip's for its reported TCB with 'sevadm snp "
						    "fetch --out DIR' and import it with 'sevadm snp certs "
						    "import DIR'",
			      name, why.reason);
	result(s, "SNP VCEK", true, "the table's %s is this %s chip's for its reported TCB %s%s",
	       name, attest_snp_gen_name(r.gen), sevadm_json_str(json_object_object_get(p,
								"reported_tcb"), "raw", "?"),
	       hw ? " (hwID = GET_ID)" : " (a VLEK: bound to its provider, not to a chip id)");
}

/* ARK -> ASK -> VCEK/VLEK verified here, against the root this host trusts for the generation:
 * <roots>/snp/<gen>/ark.pem from the default roots directory; on the emulator, when none is
 * installed, the table's own ARK, named as sev-psp-emu's. */
static void check_snp_chain(struct ok_state *s, json_object *p, json_object *t)
{
	_cleanup_(X509_freep) X509 *ark = NULL, *ask = NULL, *leaf = NULL, *root = NULL;
	_cleanup_(attest_roots_freep) struct attest_roots *roots = NULL;
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	const char *gen = sevadm_json_str(p, "generation", "?"), *lname = "vcek";
	struct attest_verdict why = {0};
	bool emu = strcmp(sevadm_json_str(s->platform, "transport", ""), "emu") == 0;
	struct snp_chain_verdict v;
	size_t len = 0;
	int r;

	ark = table_cert(t, "ark", &why);
	if (!why.reason[0])
		ask = table_cert(t, "ask", &why);
	if (!why.reason[0] && !ask)
		ask = table_cert(t, "asvk", &why);
	if (!why.reason[0])
		leaf = table_cert(t, "vcek", &why);
	if (!why.reason[0] && !leaf)
		leaf = table_cert(t, (lname = "vlek"), &why);
	if (why.reason[0] || !ark || !ask || !leaf)
		return; /* the completeness line said so */
	r = attest_roots_load(NULL, &roots, NULL);
	if (r == -ENOENT)
		r = attest_roots_new(&roots);
	if (r >= 0 && (path = attest_roots_snp_path(roots, gen, "ark.pem")) &&
	    (read_full_file(path, 1 << 16, &buf, &len) < 0 ||
	     attest_snp_cert_parse(buf, len, &root, &why) < 0))
		return result(s, "SNP certificate chain", false, "the installed root %s cannot be "
								 "read (%s): copy AMD's ARK for %s "
								 "there again", path,
			      attest_verdict_why(&why, "unreadable"), gen);
	if (!root && !emu)
		return result(s, "SNP certificate chain", false, "no SNP root for %s is installed in "
								 "%s: copy AMD's ark.pem to %s/snp/%s/",
			      gen, attest_roots_default_dir(), attest_roots_default_dir(), gen);
	if (root && X509_cmp(root, ark) != 0)
		return result(s, "SNP certificate chain", false, "the table's ARK is not the installed "
								 "%s root %s: import the chain this "
								 "chip's KDS serves ('sevadm snp "
								 "fetch')", gen, path);
	if (attest_snp_chain_verify(root ? root : ark, ask, leaf, &v) != 1)
		return result(s, "SNP certificate chain", false, "%s: import a chain that verifies "
								 "('sevadm snp fetch --out DIR', then "
								 "'sevadm snp certs import DIR')",
			      v.verdict.reason);
	result(s, "SNP certificate chain", true, "ARK, ASK and %s verify (RSASSA-PSS SHA-384); root: "
						 "%s", strcmp(lname, "vlek") ? "VCEK" : "VLEK",
	       root ? path : "the table's own ARK, sev-psp-emu's (not AMD's)");
}

static void check_snp_table_leaf(struct ok_state *s, json_object *p, json_object *t)
{
	_cleanup_(X509_freep) X509 *leaf = NULL;
	struct attest_verdict why = {0};
	const char *name = "vcek";

	leaf = table_cert(t, name, &why);
	if (!why.reason[0] && !leaf)
		leaf = table_cert(t, (name = "vlek"), &why);
	if (why.reason[0])
		return result(s, "SNP VCEK", false, "the table's certificate is unreadable (%s): "
						    "import this chip's from 'sevadm snp fetch'",
			      why.reason);
	if (leaf)
		check_snp_leaf(s, p, leaf, name);
}

/* The host's certificate table (GET /v1/snp/certs): complete, as snphost ok wants it: the ARK,
 * the ASK (or ASVK) and the VCEK (or VLEK). sevd kept it only after checking the chain to the
 * configured root and the VCEK against this chip and its reported TCB (daemon/core/snp-certs.c). */
static void check_snp_certs(struct ok_state *s, json_object *p)
{
	_cleanup_(json_object_putp) json_object *t = NULL;
	_cleanup_free_ char *err = NULL;
	json_object *a = NULL, *pend = NULL;
	bool ark = false, ask = false, leaf = false;
	int r = sevadm_call_quiet(s->c, "GET", "/v1/snp/certs", NULL, &t, &err);

	if (r < 0)
		return result(s, "SNP certificates", false, "GET /v1/snp/certs failed: %s",
			      err ? err : "no answer");
	if (json_object_object_get_ex(t, "pending", &pend) && pend) {
		const char *e = sevadm_json_str(pend, "last_error", "");
		json_object *n = NULL;
		int64_t in = json_object_object_get_ex(pend, "retry_in_s", &n) ?
				     json_object_get_int64(n) : 0;

		return result(s, "SNP certificates", false, "the host's certificate table is "
			      "pending: sevd is fetching it from %s (%s %" PRId64 " s%s%s); wait for "
			      "the fetch (GET /v1/snp/certs shows it), or import this chip's with "
			      "'sevadm snp fetch' then 'sevadm snp certs import DIR'",
			      sevadm_json_str(pend, "from", "its key server"),
			      strcmp(sevadm_json_str(pend, "state", ""), "fetching") == 0 ?
			      "an attempt is running; retries within" : "next retry in", in,
			      *e ? "; last error: " : "", e);
	}
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
	result(s, "SNP certificates", true, "the table holds the ARK, the ASK and the VCEK/VLEK "
	       "(source %s)", sevadm_json_str(t, "source", "?"));
	check_snp_chain(s, p, t);
	check_snp_table_leaf(s, p, t);
}

/* SEV-SNP, as snphost ok: enabled, RMP initialized, TCB consistent. No line on a platform
 * without SNP (sevd answers 501 there). */
static void check_snp(struct ok_state *s)
{
	_cleanup_(json_object_putp) json_object *p = NULL;
	_cleanup_free_ char *err = NULL;
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
	check_snp_tcb(s, p);
	check_snp_certs(s, p);
}

/* The trust anchors: AMD's roots installed on this host; on the emulator (the daemon says so)
 * also the emulator's own root, marked emulated so the verdict never calls it AMD's. */
static int load_roots(struct ok_state *s, const struct sevadm_certs *certs,
		      struct attest_roots **ret)
{
	struct attest_verdict v = {0};
	bool emu = strcmp(sevadm_json_str(s->platform, "transport", ""), "emu") == 0;
	int r;

	r = attest_roots_load(NULL, ret, &v);
	if (r == -ENOENT)
		r = attest_roots_new(ret);
	if (r < 0) {
		result(s, "certificate chain", false, "cannot load the AMD roots: %s",
		       attest_verdict_why(&v, strerror(-r)));
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
	v = (struct attest_verdict){0};
	r = attest_roots_add_sev(*ret, "emulated", askark, n, true, "sev-psp-emu via sevd", &v);
	if (r < 0)
		result(s, "certificate chain", false, "the emulator's root is unusable: %s",
		       attest_verdict_why(&v, strerror(-r)));
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
