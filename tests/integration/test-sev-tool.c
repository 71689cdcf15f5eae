/* AMD's sev-tool, unmodified, as a client of our firmware through the Linux uapi: its source
 * (../shared/sev-tool beside the repository, or $SEV_TOOL_SRC; never part of this repository)
 * is copied into the build directory and built there once (autoreconf, configure, make), then
 * run under libsev-dev-emu.so against sev-psp-emu, beside sevd --psp dev:/dev/sev on the same
 * emulator. Each step is checked against sevd's view (sevadm) and the emulator's own
 * (a second connection): --platform_status, --pek_gen, --pdh_gen, --pek_csr,
 * --pdh_cert_export, --get_id, --sign_pek_csr then --pek_cert_import with sev-tool's own OCA,
 * --set_self_owned (a no-op on an UNINIT platform: see step_own), --factory_reset. Skips (77)
 * with the reason when the sources or the build tools (autoconf, automake, g++, uuid-dev;
 * `scripts/deps test`) or the openssl CLI are missing. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

#define CHAIN_SIZE (4 * SEV_CERT_SIZE)

static char *dir, *out_dir, *sevtool;
static struct psp_transport *emu;

static char *read_text(const char *path)
{
	size_t len = 0;
	char *s = (char *)tu_read_file(path, &len);

	s = realloc(s, len + 1);
	TU_CHECK(s, "out of memory");
	s[len] = 0;
	return s;
}

/* Run argv (argv[0] a full path) with stdout+stderr into dir/name.log; the exit code, and the
 * output in *ret_out when given. */
static int run_logged(char *const argv[], const char *name, char **ret_out)
{
	_cleanup_free_ char *log = NULL;
	int st;
	pid_t pid;

	TU_CHECK(asprintf(&log, "%s/%s.log", dir, name) > 0, "asprintf");
	(void)unlink(log); /* tu_spawn appends */
	pid = tu_spawn(argv, log);
	TU_CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %m");
	if (ret_out)
		*ret_out = read_text(log);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- building sev-tool in the build directory ---- */

static bool have(const char *path)
{
	return access(path, X_OK) == 0;
}

static void build_sevtool(void)
{
	const char *src = getenv("SEV_TOOL_SRC"), *root = getenv("SEVD_SOURCE_ROOT");
	const char *broot = getenv("SEVD_BUILD_ROOT");
	_cleanup_free_ char *def = NULL, *dst = NULL, *script = NULL, *out = NULL;

	if (!src || !*src) {
		TU_CHECK(root, "SEVD_SOURCE_ROOT is not set");
		def = path_join(root, "../shared/sev-tool");
		src = def;
	}
	if (access(src, R_OK) != 0 || !broot)
		tu_skip("no sev-tool source at ../shared/sev-tool beside the repository (or set "
			"SEV_TOOL_SRC to a checkout of github.com/AMDESE/sev-tool)");
	if (!have("/usr/bin/autoreconf") || !have("/usr/bin/automake") || !have("/usr/bin/g++") ||
	    access("/usr/include/uuid/uuid.h", R_OK) != 0)
		tu_skip("building sev-tool needs autoconf, automake, g++ and uuid-dev: run "
			"scripts/deps test");
	if (!have("/usr/bin/openssl"))
		tu_skip("the openssl CLI (the OCA key for --sign_pek_csr) is missing: scripts/deps "
			"test");
	dst = path_join(broot, "tests/integration/sev-tool");
	sevtool = path_join(dst, "src/sevtool");
	if (have(sevtool))
		return; /* built once per build directory */
	/* A fresh copy each build: autoreconf writes into the tree it runs in. */
	TU_CHECK(asprintf(&script, "set -e; rm -rf '%s'; mkdir -p '%s'; cp -R '%s/.' '%s'; cd '%s';"
				   " autoreconf -if; ./configure; make -j2",
			  dst, dst, src, dst, dst) > 0, "asprintf");
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	int rc = run_logged(argv, "sev-tool-build", &out);
	if (rc != 0)
		fprintf(stderr, "---- sev-tool build ----\n%s\n---- end ----\n",
			strlen(out) > 6000 ? out + strlen(out) - 6000 : out);
	TU_CHECK(rc == 0 && have(sevtool), "building sev-tool in %s failed (exit %d)", dst, rc);
}

/* ---- the tools ---- */

/* sev-tool --ofolder OUT/ ARGS... under the preload library; its output. */
static char *sev_tool(int want_rc, const char *name, const char *a1, const char *a2,
		      const char *a3)
{
	_cleanup_free_ char *ofolder = NULL;
	char *out = NULL;
	int rc;

	TU_CHECK(asprintf(&ofolder, "%s/", out_dir) > 0, "asprintf");
	char *argv[] = { sevtool, "--ofolder", ofolder, (char *)a1, (char *)a2, (char *)a3, NULL };
	_cleanup_free_ char *asan = getenv("ASAN_OPTIONS") ? strdup(getenv("ASAN_OPTIONS")) : NULL;

	/* gcc's ASan runtime comes first in SEV_DEV_EMU_PRELOAD there; sev-tool's own leaks
	 * are not ours to report. */
	setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
	setenv("LD_PRELOAD", getenv("SEV_DEV_EMU_PRELOAD"), 1);
	rc = run_logged(argv, name, &out);
	unsetenv("LD_PRELOAD");
	if (asan)
		setenv("ASAN_OPTIONS", asan, 1);
	else
		unsetenv("ASAN_OPTIONS");
	TU_CHECK(rc == want_rc, "sevtool %s: exit %d, expected %d: %s", a1, rc, want_rc, out);
	if (want_rc == 0)
		TU_CHECK(strstr(out, "Command Successful"), "sevtool %s: %s", a1, out);
	return out;
}

static char *sevadm(const char *a1, const char *a2, const char *a3)
{
	char *argv[] = { (char *)tu_exe("SEVADM_EXE"), (char *)a1, (char *)a2, (char *)a3, NULL };
	char *out = NULL;
	int rc = run_logged(argv, "sevadm", &out);

	TU_CHECK(rc == 0, "sevadm %s %s: exit %d: %s", a1, a2 ? a2 : "", rc, out);
	return out;
}

/* `sevadm export`: PDH ‖ PEK ‖ OCA ‖ CEK. */
static void sevd_chain(uint8_t chain[CHAIN_SIZE])
{
	_cleanup_free_ char *path = path_join(dir, "sevd.chain"), *out = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;

	out = sevadm("export", "--force", path);
	buf = tu_read_file(path, &len);
	TU_CHECK_EQ(len, CHAIN_SIZE);
	memcpy(chain, buf, len);
}

static uint8_t *out_file(const char *name, size_t want)
{
	_cleanup_free_ char *p = path_join(out_dir, name);
	size_t len = 0;
	uint8_t *b = tu_read_file(p, &len);

	TU_CHECK(len == want, "%s: %zu bytes, expected %zu", name, len, want);
	return b;
}

/* The emulator's PLATFORM_STATUS, and its owner flag as firmware reports it once INIT. */
static bool emu_owned(struct sev_cmd_platform_status *ret)
{
	struct sev_cmd_platform_status st;
	int pr;

	TU_CHECK_EQ(psp_cmd_platform_status(emu, ret, &pr), 0);
	TU_CHECK_EQ(psp_cmd_init(emu, 0, &pr), 0);
	TU_CHECK_EQ(psp_cmd_platform_status(emu, &st, &pr), 0);
	TU_CHECK_EQ(psp_cmd_shutdown(emu, &pr), 0);
	return st.flags & SEV_PLATFORM_FLAG_OWNER;
}

/* "key:\tVALUE" in sev-tool's --platform_status output. */
static long field(const char *out, const char *key)
{
	const char *p = strstr(out, key);

	TU_CHECK(p, "sevtool output lacks '%s': %s", key, out);
	return strtol(p + strlen(key), NULL, 10);
}

/* ---- the steps ---- */

static void step_status(bool owned)
{
	_cleanup_free_ char *out = sev_tool(0, "status", "--platform_status", NULL, NULL);
	_cleanup_free_ char *js = sevadm("--json", "show", "platform");
	json_object *j = json_tokener_parse(js), *v;
	struct sev_cmd_platform_status st;

	TU_CHECK(j, "sevadm JSON: %s", js);
	TU_CHECK_EQ(emu_owned(&st), owned);
	TU_CHECK_EQ(field(out, "api_major:"), st.api_major);
	TU_CHECK_EQ(field(out, "api_minor:"), st.api_minor);
	TU_CHECK_EQ(field(out, "build:"), st.build);
	TU_CHECK_EQ(field(out, "platform_state:"), st.state);
	TU_CHECK_EQ(field(out, "platform_state:"), SEV_PSTATE_UNINIT); /* the kernel undid INIT */
	/* OWNER reads 0 in UNINIT (AMD-ASPFW's PLATFORM_STATUS), whoever owns the platform. */
	TU_CHECK_EQ(field(out, "owner:"), 0);
	TU_CHECK(json_object_object_get_ex(j, "api_major", &v) &&
		 json_object_get_int(v) == st.api_major, "sevd api_major");
	TU_CHECK(json_object_object_get_ex(j, "build", &v) && json_object_get_int(v) == st.build,
		 "sevd build");
	TU_CHECK(json_object_object_get_ex(j, "state", &v) &&
		 strcmp(json_object_get_string(v), "UNINIT") == 0, "sevd state");
	json_object_put(j);
}

/* sevd's chain once it differs from prev in the cert at offset at: sevd answers the chain
 * from a cache whose entries live at most 1 s (daemon/README.md, "Reply cache"), and a change
 * made behind its back (sev-tool on the same device) shows within that bound. Bounded: 5 s. */
static void sevd_chain_after(const uint8_t prev[CHAIN_SIZE], size_t at, uint8_t chain[CHAIN_SIZE])
{
	for (int i = 0; i < 50; i++) {
		sevd_chain(chain);
		if (memcmp(prev + at, chain + at, SEV_CERT_SIZE) != 0)
			return;
		usleep(100 * 1000);
	}
}

/* PEK_GEN and PDH_GEN: sevd's chain changes where it should, and only there. */
static void step_gen(void)
{
	uint8_t a[CHAIN_SIZE], b[CHAIN_SIZE], c[CHAIN_SIZE];

	sevd_chain(a);
	free(sev_tool(0, "pek-gen", "--pek_gen", NULL, NULL));
	sevd_chain_after(a, SEV_CERT_SIZE, b);
	TU_CHECK(memcmp(a + SEV_CERT_SIZE, b + SEV_CERT_SIZE, SEV_CERT_SIZE) != 0, "PEK unchanged");
	TU_CHECK(memcmp(a, b, SEV_CERT_SIZE) != 0, "PEK_GEN makes a new PDH too (signed by the PEK)");
	free(sev_tool(0, "pdh-gen", "--pdh_gen", NULL, NULL));
	sevd_chain_after(b, 0, c);
	TU_CHECK(memcmp(b, c, SEV_CERT_SIZE) != 0, "PDH unchanged by --pdh_gen");
	TU_CHECK_MEM(b + SEV_CERT_SIZE, c + SEV_CERT_SIZE, SEV_CERT_SIZE);
}

/* PEK_CSR carries the PEK's public key; PDH_CERT_EXPORT is byte for byte sevd's export. */
static void step_csr_and_export(void)
{
	uint8_t chain[CHAIN_SIZE];
	_cleanup_free_ uint8_t *csr = NULL, *pdh = NULL, *certs = NULL;
	struct sev_cert c;
	struct attest_verdict why = {0};

	free(sev_tool(0, "pek-csr", "--pek_csr", NULL, NULL));
	free(sev_tool(0, "pdh-export", "--pdh_cert_export", NULL, NULL));
	sevd_chain(chain);
	csr = out_file("pek_csr.cert", SEV_CERT_SIZE);
	TU_CHECK(attest_sev_cert_parse(csr, SEV_CERT_SIZE, &c, &why) == 0, "CSR: %s", why.reason);
	TU_CHECK_EQ(c.pubkey_usage, SEV_USAGE_PEK);
	TU_CHECK_MEM(c.pubkey, chain + SEV_CERT_SIZE + offsetof(struct sev_cert, pubkey),
		     sizeof(c.pubkey));
	pdh = out_file("pdh.cert", SEV_CERT_SIZE);
	TU_CHECK_MEM(pdh, chain, SEV_CERT_SIZE);
	certs = out_file("cert_chain.cert", 3 * SEV_CERT_SIZE);
	TU_CHECK_MEM(certs, chain + SEV_CERT_SIZE, 3 * SEV_CERT_SIZE);
}

static void step_get_id(void)
{
	_cleanup_free_ char *sock = path_join(dir, "sevd.sock"), *body = NULL, *s0 = NULL;
	_cleanup_free_ char *p0 = path_join(out_dir, "getid_s0_out.txt");
	char *argv[] = { "/usr/bin/curl", "-sf", "--unix-socket", sock, "http://sevd/v1/platform/id",
			 NULL };
	json_object *j, *a;

	free(sev_tool(0, "get-id", "--get_id", NULL, NULL));
	s0 = read_text(p0);
	TU_CHECK_EQ(tu_run(argv, &body, NULL), 0);
	j = json_tokener_parse(body);
	TU_CHECK(j && json_object_object_get_ex(j, "sockets", &a), "GET /v1/platform/id: %s", body);
	TU_CHECK(strcmp(json_object_get_string(json_object_array_get_idx(a, 0)), s0) == 0,
		 "sev-tool's socket 0 ID %s is not sevd's %s", s0, body);
	json_object_put(j);
}

/* sev-tool signs the CSR with its own OCA (a P-384 key from openssl) and imports both. */
static void step_own(void)
{
	_cleanup_free_ char *key = path_join(dir, "oca_key.pem"), *csr = path_join(out_dir,
										    "pek_csr.cert");
	_cleanup_free_ char *signed_pek = path_join(out_dir, "pek_csr.signed.cert");
	_cleanup_free_ char *oca_path = path_join(out_dir, "oca.cert");
	_cleanup_free_ uint8_t *oca_raw = NULL;
	char *kargv[] = { "/usr/bin/openssl", "ecparam", "-genkey", "-name", "secp384r1", "-noout",
			  "-out", key, NULL };
	uint8_t chain[CHAIN_SIZE];
	struct sev_cert oca, pek;
	struct sev_cmd_platform_status st;
	EVP_PKEY *oca_key = NULL;
	struct attest_verdict why = {0};

	uint8_t before[CHAIN_SIZE];

	TU_CHECK_EQ(run_logged(kargv, "openssl", NULL), 0);
	sevd_chain(before);
	free(sev_tool(0, "sign", "--sign_pek_csr", csr, key));
	free(sev_tool(0, "import", "--pek_cert_import", signed_pek, oca_path));
	TU_CHECK(emu_owned(&st), "the platform is not externally owned after --pek_cert_import");
	sevd_chain_after(before, 2 * SEV_CERT_SIZE, chain);
	oca_raw = out_file("oca.cert", SEV_CERT_SIZE);
	TU_CHECK_MEM(chain + 2 * SEV_CERT_SIZE, oca_raw, SEV_CERT_SIZE);
	TU_CHECK(attest_sev_cert_parse(oca_raw, SEV_CERT_SIZE, &oca, &why) == 0, "OCA: %s",
		 why.reason);
	TU_CHECK(attest_sev_cert_parse(chain + SEV_CERT_SIZE, SEV_CERT_SIZE, &pek, &why) == 0,
		 "PEK: %s", why.reason);
	TU_CHECK_EQ(attest_sev_cert_pubkey(&oca, &oca_key), 0);
	TU_CHECK(attest_sev_cert_verify(&pek, SEV_USAGE_OCA, oca_key, &why) == 1,
		 "the imported PEK does not verify under sev-tool's OCA: %s",
		 attest_verdict_why(&why, "?"));
	TU_CHECK(attest_sev_cert_verify(&oca, SEV_USAGE_OCA, oca_key, &why) == 1,
		 "sev-tool's OCA is not self-signed: %s", attest_verdict_why(&why, "?"));
	EVP_PKEY_free(oca_key);
	step_status(true);
	/* sev-tool's --set_self_owned decides from PLATFORM_STATUS's OWNER bit, which firmware
	 * clears in UNINIT (AMD-ASPFW sev_mcmd_platform_status) -- the state Linux >= 6.15
	 * leaves the platform in: it sees "self-owned", succeeds and changes nothing. Pinned so
	 * that an emulator reporting OWNER in UNINIT (unlike AMD's firmware) shows up here. */
	free(sev_tool(0, "self-owned", "--set_self_owned", NULL, NULL));
	TU_CHECK(emu_owned(&st), "--set_self_owned changed the owner");
}

static void step_reset(void)
{
	uint8_t before[CHAIN_SIZE], after[CHAIN_SIZE];

	sevd_chain(before);
	free(sev_tool(0, "reset", "--factory_reset", NULL, NULL));
	sevd_chain_after(before, 2 * SEV_CERT_SIZE, after);
	TU_CHECK(memcmp(before + 2 * SEV_CERT_SIZE, after + 2 * SEV_CERT_SIZE, SEV_CERT_SIZE) != 0,
		 "FACTORY_RESET kept the OCA");
	step_status(false);
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
	build_sevtool();
	out_dir = path_join(dir, "out");
	TU_CHECK(mkdir(out_dir, 0700) == 0, "mkdir %s: %m", out_dir);
	TU_CHECK_EQ(tu_emu_start(dir, emu_args, &e), 0);
	snprintf(spec, sizeof(spec), "emu:%s", e.socket);
	TU_CHECK_EQ(psp_open(spec, &emu), 0);
	setenv("SEV_EMU_SOCKET", e.socket, 1);
	pid_t sevd = sevd_start(e.socket);

	step_status(false);
	step_gen();
	step_csr_and_export();
	step_get_id();
	step_own();
	step_reset();

	st = tu_stop(sevd, 10000);
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sevd did not stop cleanly (0x%x)", st);
	psp_close(emu);
	tu_emu_stop(&e);
	tu_rmtree(dir);
	tu_done("test-sev-tool");
}
