/* sevadm verify report REPORT --ref REFERENCE.json, run as a user runs it:
 * - the real Milan report of the vectors with its real VCEK and AMD's chain, against a
 *   reference built here from the report's own decoded fields: every check holds, exit 0;
 * - the same reference with one value changed per case: exactly that check fails (by name),
 *   with the expected and the found value, in --json and on stderr; exit 1;
 * - unknown keys (top level and nested), wrong types and wrong lengths refused, naming the key;
 *   and at each level the parser knows exactly the keys man/sevadm-reference.schema.json lists;
 * - the certificates from an extended report's certificate table (--cert-table): VCEK, ASK and
 *   ARK by GUID, the VCEK alone, a flipped VCEK byte, and malformed tables refused;
 * - the VCEK fetched from the stand-in KDS (--fetch-vcek) at the report's path;
 * - the ARK's CRL, for a PKI made here with OpenSSL (ARK → ASK → VCEK, a report signed by the
 *   VCEK): a CRL listing nothing holds; one listing the ASK or the VCEK refuses; one signed by
 *   another key, one out of date and garbage are refused; the same CRL fetched from the
 *   stand-in KDS (kds-server, argv[1]) at /vcek/v1/Milan/crl, and a 404 there.
 * AMD's own CRL is not among the vectors, so the real ARK's CRL is not exercised here. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attest/snp-report.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"
#include "tests/testutil.h"

#define MILAN_MEASUREMENT                                                                          \
	"7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480" \
	"cd81841f"

static const char *sevadm;
static char *tmp;

struct result {
	int status;
	char *out, *err;
};

static void result_clear(struct result *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof *r);
}

static char *slurp(const char *path)
{
	uint8_t *b = NULL;
	size_t n;

	if (read_full_file(path, 1 << 22, &b, &n) < 0)
		return strdup("");
	return (char *)b;
}

/* sevadm with args; stdout and stderr to files, read back. */
static struct result run(const char *const *args)
{
	_cleanup_free_ char *o = path_join(tmp, "out.txt"), *e = path_join(tmp, "err.txt");
	char *argv[40];
	struct result r = {};
	size_t n = 0;
	pid_t pid;

	argv[n++] = (char *)sevadm;
	for (; *args && n < ELEMENTSOF(argv) - 1; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	pid = fork();
	TU_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fo, 1);
		dup2(fe, 2);
		unsetenv("SEVADM_KDS_URL");
		setenv("XDG_CACHE_HOME", tmp, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	waitpid(pid, &r.status, 0);
	r.status = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : 128 + WTERMSIG(r.status);
	r.out = slurp(o);
	r.err = slurp(e);
	return r;
}

#define RUN(...) run((const char *const[]){ __VA_ARGS__, NULL })

static char *put(const char *name, const void *buf, size_t len)
{
	char *p = path_join(tmp, name);

	TU_CHECK(p && write_file_atomic(p, buf, len, 0644) == 0, "write %s", name);
	return p;
}

static char *put_json(const char *name, json_object *j)
{
	const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);

	return put(name, s, strlen(s));
}

/* ---- the reference built from a report's own fields ---- */

static void add_hex(json_object *o, const char *key, const uint8_t *b, size_t n)
{
	_cleanup_free_ char *h = hex_encode(b, n);

	json_object_object_add(o, key, json_object_new_string(h));
}

static json_object *tcb_json(const struct snp_tcb *t)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "bootloader", json_object_new_int(t->bootloader));
	json_object_object_add(o, "tee", json_object_new_int(t->tee));
	json_object_object_add(o, "snp", json_object_new_int(t->snp));
	json_object_object_add(o, "microcode", json_object_new_int(t->microcode));
	return o;
}

static json_object *reference_of(const struct snp_report *r)
{
	json_object *ref = json_object_new_object(), *pol = json_object_new_object(),
		    *tcb = json_object_new_object(), *plat = json_object_new_object();
	char buf[64];

	add_hex(ref, "measurement", r->measurement, 48);
	add_hex(ref, "report_data", r->report_data, 64);
	add_hex(ref, "host_data", r->host_data, 32);
	/* the policy bits above SMT (bit 16) that are set: SMT is left to the must_clear case */
	snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)(r->policy & ~0x1ffffull));
	json_object_object_add(pol, "must_set", json_object_new_string(buf));
	json_object_object_add(pol, "must_clear", json_object_new_int64(1 << 19)); /* DEBUG */
	snprintf(buf, sizeof buf, "%u.%u", (unsigned)(r->policy >> 8) & 0xff,
		 (unsigned)r->policy & 0xff);
	json_object_object_add(pol, "min_abi", json_object_new_string(buf));
	json_object_object_add(ref, "policy", pol);
	snprintf(buf, sizeof buf, "%u.%u.%u", r->current_major, r->current_minor,
		 r->current_build);
	json_object_object_add(ref, "min_firmware", json_object_new_string(buf));
	json_object_object_add(ref, "vmpl", json_object_new_int((int)r->vmpl));
	json_object_object_add(ref, "signing_key", json_object_new_string("vcek"));
	add_hex(ref, "id_key_digest", r->id_key_digest, 48);
	add_hex(ref, "author_key_digest", r->author_key_digest, 48);
	add_hex(ref, "family_id", r->family_id, 16);
	add_hex(ref, "image_id", r->image_id, 16);
	json_object_object_add(ref, "min_guest_svn", json_object_new_int64(r->guest_svn));
	json_object_object_add(tcb, "reported", tcb_json(&r->reported_tcb));
	json_object_object_add(tcb, "committed", tcb_json(&r->committed_tcb));
	json_object_object_add(tcb, "current", tcb_json(&r->current_tcb));
	json_object_object_add(tcb, "launch", tcb_json(&r->launch_tcb));
	json_object_object_add(ref, "min_tcb", tcb);
	add_hex(ref, "chip_id", r->chip_id, 64);
	json_object_object_add(plat, "smt_enabled", json_object_new_boolean(r->plat_info & 1));
	json_object_object_add(plat, "tsme_enabled", json_object_new_boolean(r->plat_info & 2));
	json_object_object_add(plat, "ecc_enabled", json_object_new_boolean(r->plat_info & 4));
	json_object_object_add(ref, "platform_info", plat);
	return ref;
}

/* Set "a.b.c" in a copy of ref to the JSON value text. */
static json_object *with(json_object *ref, const char *path, const char *value)
{
	json_object *copy = NULL, *o, *next;
	char key[128], *dot, *k = key;

	TU_CHECK(json_object_deep_copy(ref, &copy, NULL) == 0, "copy");
	snprintf(key, sizeof key, "%s", path);
	o = copy;
	while ((dot = strchr(k, '.'))) {
		*dot = 0;
		TU_CHECK(json_object_object_get_ex(o, k, &next), "%s in the reference", k);
		o = next;
		k = dot + 1;
	}
	json_object_object_add(o, k, json_tokener_parse(value));
	return copy;
}

/* ---- the real Milan report ---- */

struct milan {
	char *report, *certs, *roots;
	struct snp_report r;
};

static void milan_setup(struct milan *m)
{
	_cleanup_free_ uint8_t *hex = NULL, *vcek = NULL, *chain = NULL;
	uint8_t raw[SNP_REPORT_SIZE];
	struct attest_verdict why = {0};
	size_t n, vn, cn;

	hex = tu_read_vector("snp/report_milan.hex", &n);
	vcek = tu_read_vector("snp/vcek_milan.der", &vn);
	chain = tu_read_vector("snp/cert_chain_milan", &cn);
	TU_CHECK(attest_snp_report_bytes(hex, n, raw, &why) == 0, "%s", why.reason);
	TU_CHECK(attest_snp_report_parse(raw, sizeof raw, SNP_GEN_MILAN, &m->r, &why) == 0, "%s",
		 why.reason);
	_cleanup_free_ char *h = hex_encode(m->r.measurement, 48);
	TU_CHECK(strcmp(h, MILAN_MEASUREMENT) == 0, "the vector's measurement: %s", h);
	m->report = tu_vector_path("snp/report_milan.hex");
	m->certs = path_join(tmp, "milan");
	TU_CHECK(mkdir(m->certs, 0755) == 0, "mkdir");
	_cleanup_free_ char *v = path_join(m->certs, "vcek.der"), *c = path_join(m->certs,
										 "cert_chain");
	TU_CHECK(write_file_atomic(v, vcek, vn, 0644) == 0 &&
			 write_file_atomic(c, chain, cn, 0644) == 0, "certs");
	m->roots = tu_vector_path("amd-roots");
}

static json_object *checks_of(const struct result *x)
{
	json_object *j = json_tokener_parse(x->out), *checks = NULL;

	TU_CHECK(j && json_object_object_get_ex(j, "checks", &checks), "--json output (exit %d): %.300s %.300s",
		 x->status, x->out, x->err);
	json_object_get(checks);
	json_object_put(j);
	return checks;
}

static const char *field(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static void test_milan_passes(struct milan *m, json_object *ref)
{
	_cleanup_free_ char *path = put_json("ref.json", ref);
	struct result x = RUN("verify", "report", m->report, "--certs", m->certs, "--roots",
			      m->roots, "--ref", path, "--json");
	json_object *checks = checks_of(&x);
	size_t compared = 0;

	TU_CHECK(x.status == 0, "the reference of the report itself holds: %s", x.err);
	for (size_t i = 0; i < json_object_array_length(checks); i++) {
		json_object *c = json_object_array_get_idx(checks, i), *pass;

		TU_CHECK(json_object_object_get_ex(c, "pass", &pass) &&
				 json_object_get_boolean(pass), "%s holds", field(c, "name"));
		compared += field(c, "expected")[0] != 0;
	}
	/* 12 single fields, 3 of the policy, 16 TCB components, 3 platform flags */
	TU_CHECK_EQ(compared, 34);
	json_object_put(checks);
	result_clear(&x);

	/* The text form says the same, and one of several measurements is enough. */
	json_object *two = with(ref, "measurement", "[\"" "00" MILAN_MEASUREMENT "\", \""
				MILAN_MEASUREMENT "\"]");
	_cleanup_free_ char *p2 = put_json("ref2.json", two);
	json_object_put(two);
	x = RUN("verify", "report", m->report, "--certs", m->certs, "--roots", m->roots, "--ref",
		p2);
	/* the first is 49 bytes: refused by name */
	TU_CHECK(x.status != 0 && strstr(x.err, "measurement: 49 bytes"), "%s", x.err);
	result_clear(&x);
	two = with(ref, "measurement", "[\"" "ff" "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb424"
				       "64bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd8184\", \""
				MILAN_MEASUREMENT "\"]");
	free(p2);
	p2 = put_json("ref2.json", two);
	json_object_put(two);
	x = RUN("verify", "report", m->report, "--certs", m->certs, "--roots", m->roots, "--ref",
		p2);
	TU_CHECK(x.status == 0, "one of two measurements: %s", x.err);
	TU_CHECK(strstr(x.out, "report verified"), "%s", x.out);
	result_clear(&x);
}

struct fail_case {
	const char *path, *value; /* the reference key changed, to this JSON */
	const char *check;	  /* the one check that must fail */
	const char *expected, *found; /* substrings of its values */
};

static const struct fail_case fail_cases[] = {
	{ "measurement", "\"" "ff" "1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d"
			 "3e1a0dc39b2c60bd95b9c480cd81841f\"",
	  "measurement", "ff1e5c", MILAN_MEASUREMENT },
	{ "measurement", "[\"" "ff" "1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea15"
			 "8d3e1a0dc39b2c60bd95b9c480cd81841f\", \"" "ee" "1e5c266c0108dbc9bb94fa926951"
			 "320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f\"]",
	  "measurement", "one of ff1e5c", MILAN_MEASUREMENT },
	{ "report_data", "\"d447\"", "report_data", "d4470000", "d447b55d" },
	{ "host_data", "\"0100000000000000000000000000000000000000000000000000000000000000\"",
	  "host_data", "0100", "0000" },
	{ "policy.must_set", "\"0x100000\"", "policy.must_set", "0x100000 set", "0x30000" },
	{ "policy.must_clear", "\"0x10000\"", "policy.must_clear", "0x10000 clear", "set: 0x10000" },
	{ "policy.min_abi", "\"1.51\"", "policy.min_abi", ">= 1.51", "0.0" },
	{ "min_firmware", "\"1.55\"", "min_firmware", ">= 1.55.0", "1.52.4" },
	{ "min_firmware", "\"1.52.5\"", "min_firmware", ">= 1.52.5", "1.52.4" },
	{ "vmpl", "1", "vmpl", "1", "0" },
	{ "signing_key", "\"vlek\"", "signing_key", "vlek", "vcek" },
	{ "id_key_digest", "\"01" "0000000000000000000000000000000000000000000000000000000000000000"
			   "000000000000000000000000000000\"", "id_key_digest", "01", "0000" },
	{ "author_key_digest", "\"02" "00000000000000000000000000000000000000000000000000000000000"
			       "00000000000000000000000000000000000\"", "author_key_digest", "02",
	  "0000" },
	{ "family_id", "\"03000000000000000000000000000000\"", "family_id", "03", "0000" },
	{ "image_id", "\"04000000000000000000000000000000\"", "image_id", "04", "0000" },
	{ "min_guest_svn", "1", "min_guest_svn", ">= 1", "0" },
	{ "min_tcb.reported.bootloader", "4", "min_tcb.reported.bootloader", ">= 4", "3" },
	{ "min_tcb.reported.tee", "1", "min_tcb.reported.tee", ">= 1", "0" },
	{ "min_tcb.reported.snp", "9", "min_tcb.reported.snp", ">= 9", "8" },
	{ "min_tcb.reported.microcode", "\"0x74\"", "min_tcb.reported.microcode", ">= 116", "115" },
	{ "min_tcb.reported.fmc", "0", "min_tcb.reported.fmc", ">= 0", "none" },
	{ "min_tcb.committed.bootloader", "4", "min_tcb.committed.bootloader", ">= 4", "3" },
	{ "min_tcb.committed.tee", "1", "min_tcb.committed.tee", ">= 1", "0" },
	{ "min_tcb.committed.snp", "9", "min_tcb.committed.snp", ">= 9", "8" },
	{ "min_tcb.committed.microcode", "116", "min_tcb.committed.microcode", ">= 116", "115" },
	{ "min_tcb.current.bootloader", "4", "min_tcb.current.bootloader", ">= 4", "3" },
	{ "min_tcb.current.tee", "1", "min_tcb.current.tee", ">= 1", "0" },
	{ "min_tcb.current.snp", "9", "min_tcb.current.snp", ">= 9", "8" },
	{ "min_tcb.current.microcode", "116", "min_tcb.current.microcode", ">= 116", "115" },
	{ "min_tcb.launch.bootloader", "4", "min_tcb.launch.bootloader", ">= 4", "3" },
	{ "min_tcb.launch.tee", "1", "min_tcb.launch.tee", ">= 1", "0" },
	{ "min_tcb.launch.snp", "9", "min_tcb.launch.snp", ">= 9", "8" },
	{ "min_tcb.launch.microcode", "116", "min_tcb.launch.microcode", ">= 116", "115" },
	{ "chip_id", "\"e49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db"
		     "757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6\"", "chip_id",
	  "e49554ec", "d49554ec" },
	{ "platform_info.smt_enabled", "false", "platform_info.smt_enabled", "false", "true" },
	{ "platform_info.tsme_enabled", "true", "platform_info.tsme_enabled", "true", "false" },
	{ "platform_info.ecc_enabled", "true", "platform_info.ecc_enabled", "true", "false" },
	{ "platform_info.rapl_disabled", "true", "platform_info.rapl_disabled", "true", "false" },
	{ "platform_info.ciphertext_hiding_enabled", "true",
	  "platform_info.ciphertext_hiding_enabled", "true", "false" },
	{ "platform_info.alias_check_complete", "true", "platform_info.alias_check_complete",
	  "true", "false" },
	{ "platform_info.tio_enabled", "true", "platform_info.tio_enabled", "true", "false" },
};

/* Exactly one check failed, and it is c->check with its values. */
static void expect_only(const struct fail_case *c, const struct result *x)
{
	json_object *checks = checks_of(x);
	size_t failed = 0;

	TU_CHECK(x->status == 1, "%s changed: exit %d", c->path, x->status);
	for (size_t i = 0; i < json_object_array_length(checks); i++) {
		json_object *o = json_object_array_get_idx(checks, i);

		if (strcmp(field(o, "result"), "failed") != 0)
			continue;
		failed++;
		TU_CHECK(strcmp(field(o, "name"), c->check) == 0, "%s changed: %s failed",
			 c->path, field(o, "name"));
		TU_CHECK(strstr(field(o, "expected"), c->expected), "%s: expected '%s'", c->path,
			 field(o, "expected"));
		TU_CHECK(strstr(field(o, "found"), c->found), "%s: found '%s'", c->path,
			 field(o, "found"));
	}
	TU_CHECK(failed == 1, "%s changed: %zu checks failed", c->path, failed);
	TU_CHECK(strstr(x->err, c->check) && strstr(x->err, "expected") &&
			 strstr(x->err, c->found), "%s: stderr names it: %s", c->path, x->err);
	json_object_put(checks);
}

static void test_milan_fails_alone(struct milan *m, json_object *ref)
{
	for (size_t i = 0; i < ELEMENTSOF(fail_cases); i++) {
		const struct fail_case *c = &fail_cases[i];
		json_object *changed = with(ref, c->path, c->value);
		_cleanup_free_ char *path = put_json("ref-case.json", changed);
		struct result x = RUN("verify", "report", m->report, "--certs", m->certs, "--roots",
				      m->roots, "--ref", path, "--json");

		json_object_put(changed);
		expect_only(c, &x);
		result_clear(&x);
	}
}

static void test_refused(struct milan *m, json_object *ref)
{
	static const struct {
		const char *path, *value, *message;
	} cases[] = {
		{ "bogus", "1", "unknown key 'bogus'" },
		/* not objects where objects belong (the fuzzer's first find: a walk of a number) */
		{ "policy", "1", "policy: an object is expected" },
		{ "min_tcb", "[]", "min_tcb: an object is expected" },
		{ "min_tcb.launch", "\"x\"", "min_tcb.launch: an object is expected" },
		{ "platform_info", "true", "platform_info: an object is expected" },
		{ "policy.must_be", "1", "unknown key 'policy.must_be'" },
		{ "min_tcb.reported.ucode", "1", "unknown key 'min_tcb.reported.ucode'" },
		{ "min_tcb.reportd", "{}", "unknown key 'min_tcb.reportd'" },
		{ "platform_info.smt", "true", "unknown key 'platform_info.smt'" },
		{ "host_data", "\"00\"", "host_data: 1 bytes given, 32 expected" },
		{ "measurement", "\"xyz\"", "measurement: 'xyz' is not hex" },
		{ "measurement", "[]", "measurement: a hex string or an array" },
		{ "vmpl", "4", "vmpl: 4 is out of range" },
		{ "vmpl", "-1", "vmpl: -1 is out of range" },
		{ "min_tcb.launch.snp", "256", "min_tcb.launch.snp: 256 is out of range" },
		{ "platform_info.smt_enabled", "1", "platform_info.smt_enabled: true or false" },
		{ "policy.min_abi", "\"1\"", "policy.min_abi: \"MAJOR.MINOR\"" },
		{ "signing_key", "\"ark\"", "signing_key: \"vcek\" or \"vlek\"" },
		{ "policy.must_clear", "\"0x30000\"", "must_set and must_clear share bits 0x20000" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		json_object *changed = with(ref, cases[i].path, cases[i].value);
		_cleanup_free_ char *path = put_json("ref-bad.json", changed);
		struct result x = RUN("verify", "report", m->report, "--certs", m->certs, "--roots",
				      m->roots, "--ref", path);

		json_object_put(changed);
		TU_CHECK(x.status != 0 && strstr(x.err, "is refused") &&
				 strstr(x.err, cases[i].message), "%s = %s: %s", cases[i].path,
			 cases[i].value, x.err);
		result_clear(&x);
	}
	_cleanup_free_ char *notjson = put("ref-bad.json", "{\"vmpl\": 0", 10);
	struct result x = RUN("verify", "report", m->report, "--certs", m->certs, "--roots",
			      m->roots, "--ref", notjson);
	TU_CHECK(x.status != 0 && strstr(x.err, "not JSON"), "%s", x.err);
	result_clear(&x);
	_cleanup_free_ char *array = put("ref-bad.json", "[]", 2);
	x = RUN("verify", "report", m->report, "--certs", m->certs, "--roots", m->roots, "--ref",
		array);
	TU_CHECK(x.status != 0 && strstr(x.err, "must be a JSON object"), "%s", x.err);
	result_clear(&x);
	/* An empty reference compares nothing and is no failure; the chain still is checked. */
	_cleanup_free_ char *empty = put("ref-empty.json", "{}", 2);
	x = RUN("verify", "report", m->report, "--certs", m->certs, "--roots", m->roots, "--ref",
		empty);
	TU_CHECK(x.status == 0 && strstr(x.out, "VCEK signed by ASK"), "%s", x.err);
	result_clear(&x);
}

/* The schema in man/ and the parser agree: at each level, the keys the schema lists are the
 * keys the parser names as known when it refuses an unknown one. */
static json_object *schema_props(json_object *schema, const char *const *path)
{
	json_object *o = schema;

	for (; *path; path++)
		TU_CHECK(json_object_object_get_ex(o, *path, &o), "schema: %s", *path);
	return o;
}

static void test_schema(struct milan *m, json_object *ref)
{
	_cleanup_free_ char *src = NULL;
	static const struct {
		const char *where; /* the unknown key set in the reference */
		const char *const path[6];
	} levels[] = {
		{ "zz_unknown", { "properties", NULL } },
		{ "policy.zz_unknown", { "properties", "policy", "properties", NULL } },
		{ "min_tcb.zz_unknown", { "properties", "min_tcb", "properties", NULL } },
		{ "min_tcb.reported.zz_unknown", { "$defs", "tcb", "properties", NULL } },
		{ "platform_info.zz_unknown", { "properties", "platform_info", "properties", NULL } },
	};
	const char *root = getenv("SEVD_SOURCE_ROOT");

	TU_CHECK(root, "SEVD_SOURCE_ROOT is set");
	src = path_join(root, "man/sevadm-reference.schema.json");
	json_object *schema = json_object_from_file(src);
	TU_CHECK(schema, "%s is JSON", src);
	for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
		json_object *props = schema_props(schema, levels[i].path);
		json_object *changed = with(ref, levels[i].where, "1");
		_cleanup_free_ char *p = put_json("ref-schema.json", changed);
		struct result x = RUN("verify", "report", m->report, "--certs", m->certs, "--roots",
				      m->roots, "--ref", p);
		const char *known = strstr(x.err, "known here: ");
		size_t n_known = 1, n_schema = 0;

		json_object_put(changed);
		TU_CHECK(x.status != 0 && known, "%s refused: %s", levels[i].where, x.err);
		known += strlen("known here: ");
		for (const char *c = known; *c && *c != ')'; c++)
			n_known += *c == ',';
		json_object_object_foreach(props, key, val) {
			char needle[64];

			(void)val;
			if (strcmp(key, "$schema") == 0 || strcmp(key, "comment") == 0)
				continue;
			n_schema++;
			snprintf(needle, sizeof needle, "%s", key);
			const char *hit = strstr(known, needle);
			TU_CHECK(hit && (hit[strlen(key)] == ',' || hit[strlen(key)] == ')'),
				 "the schema's %s.%s is known to the parser: %s", levels[i].where, key,
				 known);
		}
		TU_CHECK(n_known == n_schema, "%s: the parser knows %zu keys, the schema %zu: %s",
			 levels[i].where, n_known, n_schema, known);
		result_clear(&x);
	}
	json_object_put(schema);
}

/* ---- the certificate table of an extended report ---- */

static const uint8_t GUID_VCEK[16] = { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
				       0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd };
static const uint8_t GUID_ASK[16] = { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
				      0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82 };
static const uint8_t GUID_ARK[16] = { 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
				      0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae };
static const uint8_t GUID_OTHER[16] = { 0x11, 0x22, 0x33, 0x44 };

struct blob {
	const uint8_t *guid;
	const uint8_t *data;
	size_t len;
};

/* Entries in order, then the terminator (unless cut), then the blobs; a table as a host hands
 * it to SNP_GET_EXT_REPORT. */
static char *put_table(const char *name, const struct blob *b, size_t n, bool terminate,
		       uint32_t bump_last_len)
{
	size_t head = (n + (terminate ? 1 : 0)) * 24, total = head;
	uint8_t *buf;

	for (size_t i = 0; i < n; i++)
		total += b[i].len;
	buf = calloc(1, total);
	TU_CHECK(buf, "alloc");
	for (size_t i = 0, off = head; i < n; off += b[i].len, i++) {
		memcpy(buf + i * 24, b[i].guid, 16);
		put_le32(buf + i * 24 + 16, (uint32_t)off);
		put_le32(buf + i * 24 + 20, (uint32_t)b[i].len + (i + 1 == n ? bump_last_len : 0));
		memcpy(buf + off, b[i].data, b[i].len);
	}
	char *path = put(name, buf, total);
	free(buf);
	return path;
}

static uint8_t *der_of(X509 *x, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	TU_CHECK(n > 0, "i2d_X509");
	*len = (size_t)n;
	return der;
}

static void test_cert_table(struct milan *m, json_object *ref)
{
	_cleanup_free_ uint8_t *pem = NULL;
	_cleanup_free_ uint8_t *vcek = NULL;
	_cleanup_free_ char *refp = put_json("ref.json", ref);
	size_t pn, vn, askn, arkn;
	BIO *bio;
	X509 *ask, *ark;

	vcek = tu_read_vector("snp/vcek_milan.der", &vn);
	pem = tu_read_vector("snp/cert_chain_milan", &pn);
	bio = BIO_new_mem_buf(pem, (int)pn);
	ask = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	ark = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	TU_CHECK(ask && ark, "the vector's ASK and ARK");
	uint8_t *askd = der_of(ask, &askn), *arkd = der_of(ark, &arkn);
	uint8_t *bad_vcek = malloc(vn);
	memcpy(bad_vcek, vcek, vn);
	bad_vcek[40] ^= 1; /* MANIFEST: byte 40 of the VCEK flipped, the chain fails */

	const struct blob full[] = { { GUID_VCEK, vcek, vn }, { GUID_OTHER, askd, 8 },
				     { GUID_ASK, askd, askn }, { GUID_ARK, arkd, arkn } };
	_cleanup_free_ char *good = put_table("table-good.bin", full, 4, true, 0);
	struct result x = RUN("verify", "report", m->report, "--cert-table", good, "--roots",
			      m->roots, "--ref", refp);
	TU_CHECK(x.status == 0, "the table's VCEK, ASK and ARK: %s", x.err);
	TU_CHECK(strstr(x.out, "VCEK signed by ASK") && strstr(x.out, "every check holds"), "%s",
		 x.out);
	result_clear(&x);

	const struct blob only[] = { { GUID_VCEK, vcek, vn } };
	_cleanup_free_ char *leaf_only = put_table("table-vcek.bin", only, 1, true, 0);
	x = RUN("verify", "report", m->report, "--cert-table", leaf_only, "--roots", m->roots);
	TU_CHECK(x.status == 0 && strstr(x.out, "ASK from the roots"), "VCEK only: %s%s", x.out,
		 x.err);
	result_clear(&x);

	const struct blob flipped[] = { { GUID_VCEK, bad_vcek, vn }, { GUID_ASK, askd, askn } };
	_cleanup_free_ char *fl = put_table("table-flipped.bin", flipped, 2, true, 0);
	x = RUN("verify", "report", m->report, "--cert-table", fl, "--roots", m->roots);
	TU_CHECK(x.status == 1 && strstr(x.err, "VCEK"), "a flipped VCEK byte: %s", x.err);
	result_clear(&x);

	const struct {
		const char *name;
		const struct blob *b;
		size_t n;
		bool terminate;
		uint32_t bump;
		const char *why;
	} bad[] = {
		{ "table-noterm.bin", full, 4, false, 0, "no all-zero terminating entry" },
		{ "table-past.bin", full, 4, true, 1, "runs past" },
		{ "table-twice.bin", (const struct blob[]){ { GUID_VCEK, vcek, vn },
							     { GUID_VCEK, vcek, vn } }, 2, true, 0,
		  "two VCEK entries" },
		{ "table-noleaf.bin", (const struct blob[]){ { GUID_ASK, askd, askn } }, 1, true, 0,
		  "has no VCEK entry" },
		{ "table-junk.bin", (const struct blob[]){ { GUID_VCEK, askd, 20 } }, 1, true, 0,
		  "VCEK entry of the certificate table" },
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_free_ char *p = put_table(bad[i].name, bad[i].b, bad[i].n, bad[i].terminate,
						   bad[i].bump);

		x = RUN("verify", "report", m->report, "--cert-table", p, "--roots", m->roots);
		TU_CHECK(x.status != 0 && strstr(x.err, bad[i].why), "%s: %s", bad[i].name, x.err);
		result_clear(&x);
	}
	OPENSSL_free(askd);
	OPENSSL_free(arkd);
	free(bad_vcek);
	X509_free(ask);
	X509_free(ark);
}

/* The VCEK fetched by verify report itself (--fetch-vcek), at the KDS path of the report's
 * CHIP_ID and REPORTED_TCB; the ASK and ARK from the roots. */
static void test_fetch_vcek(struct milan *m, json_object *ref, const char *kds_exe)
{
	_cleanup_free_ char *vcek = tu_vector_path("snp/vcek_milan.der");
	_cleanup_free_ char *chip = hex_encode(m->r.chip_id, 64), *target = NULL, *url = NULL;
	_cleanup_free_ char *log = NULL, *lines = NULL, *refp = put_json("ref.json", ref);
	_cleanup_free_ char *portfile = path_join(tmp, "kds.port"), *out = NULL;
	uint8_t *port = NULL;
	size_t plen;

	TU_CHECK(asprintf(&target, "/vcek/v1/Milan/%s?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115=%s",
			  chip, vcek) > 0, "route");
	unlink(portfile);
	log = path_join(tmp, "kds-vcek.log");
	out = path_join(tmp, "kds-server.out");
	char *argv[] = { (char *)kds_exe, portfile, log, target, NULL };
	pid_t pid = tu_spawn(argv, out);
	for (int i = 0; i < 500 && read_full_file(portfile, 16, &port, &plen) < 0; i++)
		usleep(10000);
	TU_CHECK(port, "kds-server wrote its port");
	TU_CHECK(asprintf(&url, "http://127.0.0.1:%.*s", (int)plen, (char *)port) > 0, "url");
	free(port);

	struct result x = RUN("verify", "report", m->report, "--fetch-vcek", "--gen", "Milan",
			      "--kds-url", url, "--roots", m->roots, "--ref", refp);
	TU_CHECK(x.status == 0 && strstr(x.out, "VCEK matches the report"), "%s%s", x.out, x.err);
	result_clear(&x);
	lines = slurp(log);
	TU_CHECK(strstr(lines, "GET /vcek/v1/Milan/") && strstr(lines, chip), "asked: %s", lines);
	/* a version 2 report does not say its generation: --gen is asked for */
	x = RUN("verify", "report", m->report, "--fetch-vcek", "--kds-url", url, "--roots",
		m->roots);
	TU_CHECK(x.status != 0 && strstr(x.err, "--gen"), "%s", x.err);
	result_clear(&x);
	/* Another TCB: no such VCEK at the KDS, and the message says what was asked */
	x = RUN("verify", "report", m->report, "--fetch-vcek", "--gen", "Genoa", "--kds-url", url,
		"--roots", m->roots);
	TU_CHECK(x.status != 0 && strstr(x.err, "404"), "%s", x.err);
	result_clear(&x);
	tu_stop(pid, 5000);
}

/* ---- a PKI of this test's own, for the CRL ---- */

struct pki {
	EVP_PKEY *ark_key, *ask_key, *vcek_key;
	X509 *ark, *ask, *vcek;
	char *dir, *ark_path, *report;
};

static void add_ext(X509 *x, const char *oid, const uint8_t *der, size_t len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e;

	TU_CHECK(obj && os && ASN1_OCTET_STRING_set(os, der, (int)len), "ext %s", oid);
	e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	TU_CHECK(e && X509_add_ext(x, e, -1), "add ext %s", oid);
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
}

/* RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48: AMD's scheme for the SNP chain and its CRL. */
static EVP_MD_CTX *pss_ctx(EVP_PKEY *key)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	TU_CHECK(md && EVP_DigestSignInit(md, &pctx, EVP_sha384(), NULL, key) == 1 &&
			 EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
			 EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1 &&
			 EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1, "PSS context");
	return md;
}

static X509 *make_cert(const char *cn, long serial, X509 *issuer, EVP_PKEY *pub)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	TU_CHECK(x && n, "alloc");
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400L);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_set_pubkey(x, pub);
	X509_NAME_free(n);
	return x;
}

static void sign_cert(X509 *x, EVP_PKEY *key)
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = pss_ctx(key);

	TU_CHECK(X509_sign_ctx(x, md) > 0, "X509_sign_ctx");
}

static void vcek_exts(X509 *x)
{
	static const uint8_t name[] = { 0x16, 0x08, 'M', 'i', 'l', 'a', 'n', '-', 'B', '0' };
	static const uint8_t bl[] = { 2, 1, 3 }, tee[] = { 2, 1, 0 }, snp[] = { 2, 1, 8 },
			     ucode[] = { 2, 1, 0x73 };
	uint8_t hw[64];

	memset(hw, 0x5a, sizeof hw);
	add_ext(x, "1.3.6.1.4.1.3704.1.2", name, sizeof name);
	add_ext(x, "1.3.6.1.4.1.3704.1.3.1", bl, sizeof bl);
	add_ext(x, "1.3.6.1.4.1.3704.1.3.2", tee, sizeof tee);
	add_ext(x, "1.3.6.1.4.1.3704.1.3.3", snp, sizeof snp);
	add_ext(x, "1.3.6.1.4.1.3704.1.3.8", ucode, sizeof ucode);
	add_ext(x, "1.3.6.1.4.1.3704.1.4", hw, sizeof hw);
}

/* A version 2 report whose REPORTED_TCB and CHIP_ID are the VCEK's, signed by the VCEK
 * (r and s little-endian, SNP ABI 56860 "SIGNATURE"). */
static void signed_report(EVP_PKEY *key, uint8_t raw[SNP_REPORT_SIZE])
{
	const uint8_t tcb[8] = { 3, 0, 0, 0, 0, 0, 8, 0x73 };
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	_cleanup_(ECDSA_SIG_freep) ECDSA_SIG *sig = NULL;
	unsigned char der[256];
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	size_t len = sizeof der;

	memset(raw, 0, SNP_REPORT_SIZE);
	put_le32(raw, 2);
	put_le64(raw + 0x08, 0x30000);
	put_le32(raw + 0x34, 1);
	memcpy(raw + 0x38, tcb, 8);
	memcpy(raw + 0x180, tcb, 8);
	memset(raw + 0x1A0, 0x5a, 64);
	TU_CHECK(EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) == 1 &&
			 EVP_DigestSign(md, der, &len, raw, SNP_REPORT_SIGNED_LEN) == 1,
		 "sign the report");
	sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	TU_CHECK(sig, "DER signature");
	ECDSA_SIG_get0(sig, &r, &s);
	BN_bn2lebinpad(r, raw + 0x2A0, 72);
	BN_bn2lebinpad(s, raw + 0x2E8, 72);
}

static void put_pem(const char *path, X509 *a, X509 *b)
{
	BIO *bio = BIO_new_file(path, "w");

	TU_CHECK(bio && PEM_write_bio_X509(bio, a) && (!b || PEM_write_bio_X509(bio, b)), "%s",
		 path);
	BIO_free(bio);
}

static void pki_setup(struct pki *p)
{
	uint8_t raw[SNP_REPORT_SIZE];

	p->ark_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	p->ask_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	p->vcek_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	TU_CHECK(p->ark_key && p->ask_key && p->vcek_key, "keys");
	p->ark = make_cert("ARK-Milan", 1, NULL, p->ark_key);
	sign_cert(p->ark, p->ark_key);
	p->ask = make_cert("SEV-Milan", 2, p->ark, p->ask_key);
	sign_cert(p->ask, p->ark_key);
	p->vcek = make_cert("SEV-VCEK", 3, p->ask, p->vcek_key);
	vcek_exts(p->vcek);
	sign_cert(p->vcek, p->ask_key);
	p->dir = path_join(tmp, "own");
	TU_CHECK(mkdir(p->dir, 0755) == 0, "mkdir");
	_cleanup_free_ char *v = path_join(p->dir, "vcek.pem"), *c = path_join(p->dir,
										 "cert_chain");
	put_pem(v, p->vcek, NULL);
	put_pem(c, p->ask, p->ark);
	p->ark_path = path_join(tmp, "own-ark.pem");
	put_pem(p->ark_path, p->ark, NULL);
	signed_report(p->vcek_key, raw);
	p->report = put("own-report.bin", raw, sizeof raw);
}

/* A CRL issued by the ARK's name, signed by signer, listing the given certificates. */
static char *make_crl(const struct pki *p, const char *name, EVP_PKEY *signer, long next_days,
		      X509 *revoke1, X509 *revoke2)
{
	_cleanup_(X509_CRL_freep) X509_CRL *crl = X509_CRL_new();
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = pss_ctx(signer);
	X509 *rev[] = { revoke1, revoke2 };
	ASN1_TIME *t = ASN1_TIME_new();
	unsigned char *der = NULL;
	int len;

	TU_CHECK(crl && t && X509_CRL_set_version(crl, 1) &&
			 X509_CRL_set_issuer_name(crl, X509_get_subject_name(p->ark)), "CRL");
	X509_gmtime_adj(t, -86400L * 10);
	X509_CRL_set1_lastUpdate(crl, t);
	X509_gmtime_adj(t, 86400L * next_days);
	X509_CRL_set1_nextUpdate(crl, t);
	for (size_t i = 0; i < ELEMENTSOF(rev); i++) {
		X509_REVOKED *r;

		if (!rev[i])
			continue;
		r = X509_REVOKED_new();
		TU_CHECK(r && X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(rev[i])) &&
				 X509_REVOKED_set_revocationDate(r, t) && X509_CRL_add0_revoked(crl, r),
			 "revoked entry");
	}
	X509_CRL_sort(crl);
	TU_CHECK(X509_CRL_sign_ctx(crl, md) > 0, "sign the CRL");
	ASN1_TIME_free(t);
	len = i2d_X509_CRL(crl, &der);
	TU_CHECK(len > 0, "DER CRL");
	char *path = put(name, der, (size_t)len);
	OPENSSL_free(der);
	return path;
}

static struct result own_run(const struct pki *p, const char *crl_opt, const char *crl,
			     const char *kds)
{
	_cleanup_free_ char *roots = tu_vector_path("amd-roots");

	if (kds)
		return RUN("verify", "report", p->report, "--certs", p->dir, "--roots", roots,
			   "--emulator-root", p->ark_path, "--fetch-crl", "--kds-url", kds, "--json");
	return RUN("verify", "report", p->report, "--certs", p->dir, "--roots", roots,
		   "--emulator-root", p->ark_path, crl_opt, crl, "--json");
}

static const char *crl_detail(const struct result *x)
{
	static char buf[512];
	json_object *checks = checks_of(x);

	buf[0] = 0;
	for (size_t i = 0; i < json_object_array_length(checks); i++) {
		json_object *o = json_object_array_get_idx(checks, i);

		if (strcmp(field(o, "name"), "ARK CRL") == 0)
			snprintf(buf, sizeof buf, "%s: %s", field(o, "result"), field(o, "detail"));
	}
	json_object_put(checks);
	return buf;
}

static void test_crl_files(const struct pki *p)
{
	_cleanup_free_ char *none = make_crl(p, "crl-none.der", p->ark_key, 30, NULL, NULL);
	_cleanup_free_ char *ask = make_crl(p, "crl-ask.der", p->ark_key, 30, p->ask, NULL);
	_cleanup_free_ char *vcek = make_crl(p, "crl-vcek.der", p->ark_key, 30, p->vcek, NULL);
	_cleanup_free_ char *forged = make_crl(p, "crl-forged.der", p->ask_key, 30, NULL, NULL);
	_cleanup_free_ char *old = make_crl(p, "crl-old.der", p->ark_key, -1, NULL, NULL);
	_cleanup_free_ char *junk = put("crl-junk.der", "not a CRL", 9);
	struct result x = own_run(p, "--crl", none, NULL);

	TU_CHECK(x.status == 0, "a CRL listing nothing: %s", x.err);
	TU_CHECK(strstr(crl_detail(&x), "ok: ") && strstr(crl_detail(&x), "signed by the trusted"),
		 "%s", crl_detail(&x));
	result_clear(&x);
	const struct {
		const char *path, *why;
	} bad[] = {
		{ ask, "the ASK is revoked" },
		{ vcek, "the VCEK/VLEK is revoked" },
		{ forged, "does not verify with the trusted ARK" },
		{ old, "out of date" },
		{ junk, "neither a DER nor a PEM" },
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		x = own_run(p, "--crl", bad[i].path, NULL);
		TU_CHECK(x.status == 1, "%s: exit %d", bad[i].path, x.status);
		TU_CHECK(strstr(crl_detail(&x), "failed: ") && strstr(crl_detail(&x), bad[i].why),
			 "%s: %s", bad[i].path, crl_detail(&x));
		TU_CHECK(strstr(x.err, "ARK CRL"), "stderr names the CRL: %s", x.err);
		result_clear(&x);
	}
}

/* ---- the CRL from the stand-in KDS ---- */

static pid_t kds_start(const char *exe, const char *crl, char **ret_url, char **ret_log)
{
	_cleanup_free_ char *portfile = path_join(tmp, "kds.port"), *r = NULL;
	uint8_t *port = NULL;
	size_t plen;
	pid_t pid;

	unlink(portfile);
	*ret_log = path_join(tmp, "kds.log");
	unlink(*ret_log);
	TU_CHECK(asprintf(&r, "/vcek/v1/Milan/crl=%s", crl) > 0, "route");
	char *argv[] = { (char *)exe, portfile, *ret_log, r, NULL };
	_cleanup_free_ char *out = path_join(tmp, "kds-server.out");
	pid = tu_spawn(argv, out);
	for (int i = 0; i < 500 && read_full_file(portfile, 16, &port, &plen) < 0; i++)
		usleep(10000);
	TU_CHECK(port, "kds-server wrote its port");
	TU_CHECK(asprintf(ret_url, "http://127.0.0.1:%.*s", (int)plen, (char *)port) > 0, "url");
	free(port);
	return pid;
}

static void test_crl_fetched(const struct pki *p, const char *kds_exe)
{
	_cleanup_free_ char *none = make_crl(p, "kds-none.der", p->ark_key, 30, NULL, NULL);
	_cleanup_free_ char *vcek = make_crl(p, "kds-vcek.der", p->ark_key, 30, p->vcek, NULL);
	_cleanup_free_ char *lines = NULL;
	char *url = NULL, *log = NULL;
	pid_t pid = kds_start(kds_exe, none, &url, &log);
	struct result x = own_run(p, NULL, NULL, url);

	TU_CHECK(x.status == 0, "the fetched CRL lists nothing: %s", x.err);
	TU_CHECK(strstr(crl_detail(&x), "ok: from the KDS"), "%s", crl_detail(&x));
	result_clear(&x);
	lines = slurp(log);
	TU_CHECK(strcmp(lines, "GET /vcek/v1/Milan/crl\n") == 0, "asked the KDS once: %s", lines);
	tu_stop(pid, 5000);
	free(url);
	free(log);

	pid = kds_start(kds_exe, vcek, &url, &log);
	x = own_run(p, NULL, NULL, url);
	TU_CHECK(x.status == 1 && strstr(crl_detail(&x), "the VCEK/VLEK is revoked"), "%s",
		 crl_detail(&x));
	result_clear(&x);
	tu_stop(pid, 5000);
	free(url);
	free(log);

	/* A KDS that has no CRL: the check fails, saying what the KDS answered and what to do. */
	_cleanup_free_ char *url2 = NULL, *log2 = NULL;
	pid = kds_start(kds_exe, none, &url2, &log2);
	_cleanup_free_ char *wrong = NULL;
	TU_CHECK(asprintf(&wrong, "%s/elsewhere", url2) > 0, "url");
	x = own_run(p, NULL, NULL, wrong);
	TU_CHECK(x.status == 1 && strstr(crl_detail(&x), "404") &&
			 strstr(crl_detail(&x), "--crl FILE"), "%s", crl_detail(&x));
	result_clear(&x);
	tu_stop(pid, 5000);
}

int main(int argc, char **argv)
{
	struct milan m = {};
	struct pki p = {};
	json_object *ref;

	if (argc < 2)
		tu_skip("usage: test-cli-appraise KDS_SERVER");
	sevadm = tu_exe("SEVADM_EXE");
	tmp = tu_mkdtemp();
	milan_setup(&m);
	ref = reference_of(&m.r);
	test_milan_passes(&m, ref);
	test_milan_fails_alone(&m, ref);
	test_refused(&m, ref);
	test_schema(&m, ref);
	test_cert_table(&m, ref);
	test_fetch_vcek(&m, ref, argv[1]);
	json_object_put(ref);
	pki_setup(&p);
	test_crl_files(&p);
	test_crl_fetched(&p, argv[1]);
	tu_rmtree(tmp);
	tu_done("test-cli-appraise");
}
