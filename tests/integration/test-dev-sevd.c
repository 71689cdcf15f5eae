/* sevd's dev transport for real: `sevd --psp dev:/dev/sev` runs under libsev-dev-emu.so
 * (LD_PRELOAD, SEV_EMU_SOCKET) against a running sev-psp-emu, and sevadm drives every
 * platform operation through it: ok, show platform, export, rotate (PDH_GEN), PEK_GEN, generate
 * (PEK_CSR), provision (PEK_CERT_IMPORT with our own OCA), reset. Each answer is checked
 * against the emulator's own view (a second connection, the emu transport). Guest routes
 * answer that only KVM can send guest commands. Twice: on a platform nothing INITed (the
 * kernel INITs and SHUTs DOWN around each command), then on one KVM INITed at load. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "attest/sev-cert.h"
#include "common/macros.h"
#include "common/util.h"
#include "psp/commands.h"
#include "psp/transport.h"
#include "tests/testutil.h"

static char *dir;
static struct psp_transport *emu;
/* The state the platform rests in between commands: UNINIT on a host where nothing INITed it
 * (each command gets the kernel's INIT and SHUTDOWN), INIT where KVM did at kvm_amd load. */
static int resting = SEV_PSTATE_UNINIT;

/* sevadm with the arguments; stdout and stderr together in *out. Returns the exit code. */
static int sevadm(char **out, const char *const *args)
{
	_cleanup_free_ char *log = path_join(dir, "sevadm.out");
	const char *argv[32] = { tu_exe("SEVADM_EXE") };
	size_t n = 1, len = 0;
	int st;
	pid_t pid;

	for (; args[n - 1] && n < 31; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	(void)unlink(log); /* tu_spawn appends */
	pid = tu_spawn((char *const *)argv, log);
	TU_CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %m");
	*out = (char *)tu_read_file(log, &len);
	*out = realloc(*out, len + 1);
	(*out)[len] = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* sevadm, which must exit `want` and print `has` (NULL: anything); its output, malloc'd. */
static char *run_expect(int want, const char *has, const char *const *args)
{
	char *out = NULL;
	int rc = sevadm(&out, args);

	TU_CHECK(rc == want, "sevadm %s: exit %d, expected %d: %s", args[0], rc, want, out);
	TU_CHECK(!has || strstr(out, has), "sevadm %s: output lacks '%s': %s", args[0], has, out);
	return out;
}
#define EXPECT(want, has, ...) run_expect(want, has, (const char *const[]){ __VA_ARGS__, NULL })

static struct sev_cmd_platform_status emu_status(void)
{
	struct sev_cmd_platform_status st;
	int pr;

	TU_CHECK_EQ(psp_cmd_platform_status(emu, &st, &pr), 0);
	return st;
}

/* The chain as the emulator's own client reads it: PDH ‖ PEK ‖ OCA ‖ CEK. */
static void emu_chain(uint8_t out[4 * SEV_CERT_SIZE])
{
	_cleanup_free_ uint8_t *pdh = NULL, *chain = NULL;
	size_t lp = 0, lc = 0;
	int pr;

	bool uninit = emu_status().state == SEV_PSTATE_UNINIT;

	if (uninit)
		TU_CHECK_EQ(psp_cmd_init(emu, 0, &pr), 0);
	TU_CHECK_EQ(psp_cmd_pdh_cert_export(emu, &pdh, &lp, &chain, &lc, &pr), 0);
	if (uninit)
		TU_CHECK_EQ(psp_cmd_shutdown(emu, &pr), 0);
	TU_CHECK(lp == SEV_CERT_SIZE && lc == 3 * SEV_CERT_SIZE, "lengths %zu %zu", lp, lc);
	memcpy(out, pdh, lp);
	memcpy(out + lp, chain, lc);
}

/* `sevadm export FILE`, which must be what the emulator holds. */
static void export_checked(const char *name, uint8_t chain[4 * SEV_CERT_SIZE])
{
	_cleanup_free_ char *path = path_join(dir, name), *out = NULL;
	_cleanup_free_ uint8_t *got = NULL;
	size_t len = 0;

	out = EXPECT(0, "SEV chain", "export", "--force", path);
	got = tu_read_file(path, &len);
	TU_CHECK_EQ(len, 4 * SEV_CERT_SIZE);
	emu_chain(chain);
	TU_CHECK_MEM(got, chain, len);
	TU_CHECK_EQ(emu_status().state, resting); /* an implicit INIT was undone */
}

static json_object *platform_json(void)
{
	_cleanup_free_ char *out = NULL;
	json_object *j;

	free(out);
	out = EXPECT(0, NULL, "--json", "show", "platform");
	j = json_tokener_parse(out);
	TU_CHECK(j, "no JSON: %s", out);
	return j;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = NULL;

	TU_CHECK(json_object_object_get_ex(o, key, &v), "no '%s'", key);
	return json_object_get_string(v);
}

/* The owner as firmware reports it once INIT (AMD-ASPFW's PLATFORM_STATUS clears OWNER in
 * UNINIT, the state /dev/sev leaves the platform in, so sevd's own answer cannot say). */
static bool emu_owned(void)
{
	struct sev_cmd_platform_status st = emu_status();
	int pr;

	if (st.state != SEV_PSTATE_UNINIT)
		return st.flags & SEV_PLATFORM_FLAG_OWNER;
	TU_CHECK_EQ(psp_cmd_init(emu, 0, &pr), 0);
	st = emu_status();
	TU_CHECK_EQ(psp_cmd_shutdown(emu, &pr), 0);
	return st.flags & SEV_PLATFORM_FLAG_OWNER;
}

static void check_platform(bool owned)
{
	json_object *p = platform_json(), *a = NULL, *v = NULL;

	TU_CHECK(strcmp(jstr(p, "transport"), "dev") == 0, "transport %s", jstr(p, "transport"));
	TU_CHECK(strcmp(jstr(p, "state"), resting == SEV_PSTATE_INIT ? "INIT" : "UNINIT") == 0,
		 "sevd says %s, the emulator %s", jstr(p, "state"),
		 sev_platform_state_name(emu_status().state));
	TU_CHECK_EQ(emu_owned(), owned);
	TU_CHECK(json_object_object_get_ex(p, "asids", &a), "asids");
	TU_CHECK(json_object_object_get_ex(a, "max", &v) && json_object_get_int(v) == 509, "max");
	TU_CHECK(json_object_object_get_ex(a, "min_sev", &v) && json_object_get_int(v) == 100,
		 "min_sev");
	json_object_put(p);
}

static void check_ok(void)
{
	_cleanup_free_ char *out = NULL;

	/* Everything but the chain's root passes: the emulated CEK has no ASK signature in the
	 * export (as hardware's), and its signed copy lives in no AMD key server. */
	out = EXPECT(1, "[ PASS ] daemon reachable: sevd at", "ok");
	TU_CHECK(strstr(out, "PSP transport dev"), "%s", out);
	TU_CHECK(strstr(out, "[ PASS ] platform status"), "%s", out);
	TU_CHECK(strstr(out, "[ PASS ] ASID pool"), "%s", out);
	TU_CHECK(strstr(out, "[ FAIL ] certificate chain: the CEK carries no ASK signature"), "%s",
		 out);
	if (resting == SEV_PSTATE_INIT) {
		TU_CHECK(strstr(out, "[ PASS ] platform state: INIT"), "%s", out);
		TU_CHECK(!strstr(strstr(out, "[ FAIL ]") + 1, "[ FAIL ]"), "more than one FAIL: %s",
			 out);
	} else {
		/* Nothing but the kernel can INIT through /dev/sev: the check says who. */
		TU_CHECK(strstr(out, "[ FAIL ] platform state: UNINIT: the kernel has not initialized "
				     "the firmware"), "%s", out);
	}
}

static EVP_PKEY *p384(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");

	TU_CHECK(k, "P-384 key");
	return k;
}

/* generate, sign the CSR with a fresh OCA, provision; the PEK in the chain verifies. */
static void check_provision(void)
{
	_cleanup_free_ char *csr = path_join(dir, "pek.csr"), *pekp = path_join(dir, "pek.cert");
	_cleanup_free_ char *ocap = path_join(dir, "oca.cert"), *out = NULL;
	_cleanup_free_ uint8_t *raw = NULL;
	uint8_t chain[4 * SEV_CERT_SIZE];
	struct sev_cert pek, oca = {}, got;
	struct attest_verdict why = {0};
	EVP_PKEY *key = p384();
	size_t len = 0;

	free(out);
	out = EXPECT(0, "PEK CSR written to", "generate", csr);
	raw = tu_read_file(csr, &len);
	TU_CHECK(attest_sev_cert_parse(raw, len, &pek, &why) == 0, "CSR: %s", why.reason);
	TU_CHECK_EQ(pek.pubkey_usage, SEV_USAGE_PEK);
	TU_CHECK_EQ(attest_sev_cert_sign(&pek, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, key), 0);
	TU_CHECK_EQ(attest_sev_cert_init(&oca, 1, 55, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, key), 0);
	TU_CHECK_EQ(attest_sev_cert_sign(&oca, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, key), 0);
	TU_CHECK_EQ(write_file_atomic(pekp, &pek, sizeof(pek), 0644), 0);
	TU_CHECK_EQ(write_file_atomic(ocap, &oca, sizeof(oca), 0644), 0);
	free(out);
	out = EXPECT(0, "PEK and OCA imported", "provision", pekp, ocap);
	check_platform(true);
	export_checked("owned.chain", chain);
	TU_CHECK_MEM(chain + 2 * SEV_CERT_SIZE, &oca, SEV_CERT_SIZE);
	TU_CHECK(attest_sev_cert_parse(chain + SEV_CERT_SIZE, SEV_CERT_SIZE, &got, &why) == 0,
		 "PEK: %s", why.reason);
	TU_CHECK(attest_sev_cert_verify(&got, SEV_USAGE_OCA, key, &why) == 1, "PEK under our OCA: %s",
		 attest_verdict_why(&why, "?"));
	free(out);
	out = EXPECT(1, "ALREADY_OWNED", "provision", pekp, ocap);
	EVP_PKEY_free(key);
}

static void check_rotate_and_pek(void)
{
	uint8_t a[4 * SEV_CERT_SIZE], b[4 * SEV_CERT_SIZE];
	_cleanup_free_ char *out = NULL, *sock = path_join(dir, "sevd.sock");
	_cleanup_free_ char *body = NULL;

	export_checked("a.chain", a);
	free(out);
	out = EXPECT(0, "New PDH generated", "rotate");
	export_checked("b.chain", b);
	TU_CHECK(memcmp(a, b, SEV_CERT_SIZE) != 0, "rotate kept the PDH");
	TU_CHECK_MEM(a + SEV_CERT_SIZE, b + SEV_CERT_SIZE, SEV_CERT_SIZE); /* same PEK */
	/* PEK_GEN has a route and no verb: the route itself, over the Unix socket. */
	char *cargv[] = { "/usr/bin/curl", "-sf", "--unix-socket", sock, "-X", "POST",
			  "http://sevd/v1/platform/pek", NULL };
	int rc = tu_run(cargv, &body, NULL);
	TU_CHECK(rc == 0 && strstr(body, "\"command\":\"PEK_GEN\""), "POST /v1/platform/pek: %d %s",
		 rc, body ? body : "");
	export_checked("c.chain", a);
	TU_CHECK(memcmp(a + SEV_CERT_SIZE, b + SEV_CERT_SIZE, SEV_CERT_SIZE) != 0, "PEK_GEN kept PEK");
}

/* A route over the Unix socket: the HTTP status, the body in *ret_body. */
static int route(const char *method, const char *path, char **ret_body)
{
	_cleanup_free_ char *sock = path_join(dir, "sevd.sock"), *url = NULL;

	TU_CHECK(asprintf(&url, "http://sevd%s", path) > 0, "asprintf");
	char *argv[] = { "/usr/bin/curl", "-s", "-o", "/dev/stdout", "-w", "\n%{http_code}",
			 "--unix-socket", sock, "-X", (char *)method, url, NULL };
	char *out = NULL, *nl;

	TU_CHECK_EQ(tu_run(argv, &out, NULL), 0);
	nl = strrchr(out, '\n');
	TU_CHECK(nl, "curl output: %s", out);
	*nl = 0;
	*ret_body = out;
	return atoi(nl + 1);
}

/* INIT and SHUTDOWN have routes, which /dev/sev cannot serve: 501 naming who can. */
static void check_routes(void)
{
	static const char *const refused[] = { "/v1/platform/init", "/v1/platform/shutdown" };
	_cleanup_free_ char *body = NULL;
	_cleanup_free_ uint8_t *id = NULL;
	size_t len = 0;
	int pr;

	for (size_t i = 0; i < 2; i++) {
		free(TAKE_PTR(body));
		TU_CHECK_EQ(route("POST", refused[i], &body), 501);
		TU_CHECK(strstr(body, "only KVM can send"), "%s: %s", refused[i], body);
	}
	free(TAKE_PTR(body));
	TU_CHECK_EQ(route("GET", "/v1/platform/id", &body), 200);
	TU_CHECK_EQ(psp_cmd_get_id(emu, &id, &len, &pr), 0);
	char hex[2 * 64 + 1];
	for (size_t i = 0; i < 64 && i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	TU_CHECK(strstr(body, hex), "the ID is not the emulator's %s: %s", hex, body);
	TU_CHECK_EQ(emu_status().state, resting);
}

static void check_reset(void)
{
	uint8_t before[4 * SEV_CERT_SIZE], after[4 * SEV_CERT_SIZE];
	_cleanup_free_ char *out = NULL;

	export_checked("r1.chain", before);
	free(out);
	out = EXPECT(0, "Platform factory-reset", "reset", "--yes");
	check_platform(false);
	export_checked("r2.chain", after);
	TU_CHECK(memcmp(before + 2 * SEV_CERT_SIZE, after + 2 * SEV_CERT_SIZE, SEV_CERT_SIZE) != 0,
		 "reset kept the OCA");
}

/* On an INIT platform the kernel SHUTs DOWN for FACTORY_RESET and leaves it UNINIT. */
static void check_host_reset(void)
{
	uint8_t before[4 * SEV_CERT_SIZE], after[4 * SEV_CERT_SIZE];
	_cleanup_free_ char *out = NULL;

	export_checked("h1.chain", before);
	out = EXPECT(0, "Platform factory-reset", "reset", "--yes");
	resting = SEV_PSTATE_UNINIT;
	check_platform(false);
	export_checked("h2.chain", after);
	TU_CHECK(memcmp(before + 2 * SEV_CERT_SIZE, after + 2 * SEV_CERT_SIZE, SEV_CERT_SIZE) != 0,
		 "reset kept the OCA");
}

static void check_guest_refused(void)
{
	_cleanup_free_ char *img = path_join(dir, "img"), *out = NULL;
	uint8_t page[4096] = { 1 };

	TU_CHECK_EQ(write_file_atomic(img, page, sizeof(page), 0644), 0);
	free(out);
	out = EXPECT(1, "only KVM can send them", "launch", img);
	free(out);
	out = EXPECT(0, "No guests", "show", "guests");
}

static pid_t sevd_start(const char *emu_socket)
{
	_cleanup_free_ char *sock = path_join(dir, "sevd.sock");
	struct tu_sevd_opts o = { .dir = dir, .psp = "dev:/dev/sev", .unix_path = sock };
	char listen[300];
	pid_t pid;

	/* Only sevd gets the library: the test's own connection is the emu transport. */
	setenv("LD_PRELOAD", getenv("SEV_DEV_EMU_PRELOAD"), 1);
	setenv("SEV_EMU_SOCKET", emu_socket, 1);
	pid = tu_sevd_start(&o);
	unsetenv("LD_PRELOAD");
	snprintf(listen, sizeof(listen), "unix:%s", sock);
	setenv("SEVD_SOCKET", listen, 1);
	return pid;
}

int main(void)
{
	static const char *emu_args[] = { "--cpuid-ecx", "509", "--cpuid-edx", "100", NULL };
	const char *preload = getenv("SEV_DEV_EMU_PRELOAD");
	char spec[300];
	struct tu_emu e;
	int st;

	if (!preload || !*preload)
		tu_skip("SEV_DEV_EMU_PRELOAD is not set (run through meson test)");
	if (access("/usr/bin/curl", X_OK) != 0)
		tu_skip("/usr/bin/curl is missing (scripts/deps test installs it)");
	dir = tu_mkdtemp();
	TU_CHECK_EQ(tu_emu_start(dir, emu_args, &e), 0);
	snprintf(spec, sizeof(spec), "emu:%s", e.socket);
	TU_CHECK_EQ(psp_open(spec, &emu), 0);
	pid_t sevd = sevd_start(e.socket);

	/* A host where nothing INITed the platform (kvm_amd not loaded). */
	check_platform(false);
	check_ok();
	check_rotate_and_pek();
	check_provision();
	check_routes();
	check_reset();
	check_guest_refused();
	st = tu_stop(sevd, 10000);
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sevd did not stop cleanly (0x%x)", st);

	/* A host where KVM INITed it at kvm_amd load, before sevd (a new process: a new probe). */
	int pr;
	TU_CHECK_EQ(psp_cmd_init(emu, 0, &pr), 0);
	resting = SEV_PSTATE_INIT;
	sevd = sevd_start(e.socket);
	check_platform(false);
	check_ok();
	check_rotate_and_pek();
	check_routes();
	check_host_reset();
	st = tu_stop(sevd, 10000);
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sevd did not stop cleanly (0x%x)", st);
	psp_close(emu);
	tu_emu_stop(&e);
	tu_rmtree(dir);
	free(dir);
	tu_done("test-dev-sevd");
}
