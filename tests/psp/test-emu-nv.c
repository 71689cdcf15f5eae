/* sev-psp-emu's NV file and process life: keys and owner state survive a restart; a torn or
 * corrupt NV file is refused with a message naming the file and the problem, and is left as
 * it was; a missing one is created; SIGTERM exits cleanly and removes the socket; a stale
 * socket is replaced but a live emulator's is not; bad command lines are refused; the CPUID
 * and firmware version options reach the client. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attest/sev-cert.h"
#include "common/ossl.h"
#include "common/util.h"
#include "psp/commands.h"
#include "tests/psp/test-emu-util.h"

struct snap {
	uint8_t pdh[SEV_CERT_SIZE], chain[SEV_CERT_CHAIN_SIZE], id[64];
	uint32_t flags;
};

static void snapshot(struct psp_transport *t, struct snap *s)
{
	_cleanup_free_ uint8_t *pdh = NULL, *chain = NULL, *id = NULL;
	size_t a, b, c;

	TU_CHECK(to_state(t, SEV_PSTATE_INIT), "INIT");
	TU_CHECK_EQ(psp_cmd_pdh_cert_export(t, &pdh, &a, &chain, &b, NULL), 0);
	TU_CHECK_EQ(psp_cmd_get_id(t, &id, &c, NULL), 0);
	memcpy(s->pdh, pdh, sizeof(s->pdh));
	memcpy(s->chain, chain, sizeof(s->chain));
	memcpy(s->id, id, sizeof(s->id));
	s->flags = platform_status(t).flags;
}

/* Take ownership with a fresh OCA, so that the owner state has something to persist. */
static void take_ownership(struct psp_transport *t)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	_cleanup_free_ uint8_t *csr = NULL;
	struct sev_cert oca, pek;
	size_t len;

	TU_CHECK(k, "key");
	TU_CHECK_EQ(psp_cmd_pek_csr(t, &csr, &len, NULL), 0);
	memset(&oca, 0, sizeof(oca));
	TU_CHECK_EQ(attest_sev_cert_init(&oca, 1, 55, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, k), 0);
	TU_CHECK_EQ(attest_sev_cert_sign(&oca, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, k), 0);
	memcpy(&pek, csr, sizeof(pek));
	TU_CHECK_EQ(attest_sev_cert_sign(&pek, 0, SEV_USAGE_OCA, SEV_ALGO_ECDSA_SHA256, k), 0);
	TU_CHECK_EQ(psp_cmd_pek_cert_import(t, (uint8_t *)&pek, sizeof(pek), (uint8_t *)&oca,
					    sizeof(oca), NULL),
		    0);
}

static char *read_text(const char *path)
{
	size_t len = 0;
	uint8_t *p = tu_read_file(path, &len);
	char *s = malloc(len + 1);

	TU_CHECK(s, "malloc");
	memcpy(s, p, len);
	s[len] = 0;
	free(p);
	return s;
}

/* Run the emulator to completion (it must exit by itself within 20 s); its log in *ret_log. */
static int run_emu(const char *dir, const char *const extra[], char **ret_log)
{
	_cleanup_free_ char *sock = path_join(dir, "emu.sock"), *nv = path_join(dir, "nv.bin");
	_cleanup_free_ char *log = path_join(dir, "run.log");
	char *argv[16] = { (char *)tu_exe("SEV_PSP_EMU_EXE"), "--socket", sock, "--nv", nv };
	int n = 5, status = 0;
	pid_t pid;

	for (int i = 0; extra && extra[i]; i++)
		argv[n++] = (char *)extra[i];
	unlink(log);
	pid = tu_spawn(argv, log);
	for (int waited = 0; waitpid(pid, &status, WNOHANG) != pid; waited += 10) {
		if (waited > 20000) {
			tu_stop(pid, 1000);
			TU_CHECK(false, "sev-psp-emu did not exit by itself");
		}
		usleep(10 * 1000);
	}
	*ret_log = read_text(log);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void write_bytes(const char *path, const uint8_t *p, size_t n)
{
	TU_CHECK_EQ(write_file_atomic(path, p, n, 0600), 0);
}

/* Each damage must be refused with its reason, and the file left exactly as it was. */
static void test_corrupt(const char *dir, const uint8_t *good, size_t len)
{
	static const struct {
		const char *what;
		long off; /* byte to flip; negative: truncate to -off bytes */
		const char *reason;
	} cases[] = {
		{ "flipped payload byte", 200, "checksum mismatch" },
		{ "flipped last byte", -1000000, "checksum mismatch" },
		{ "flipped magic", 0, "bad magic" },
		{ "flipped version", 8, "unsupported NV format version" },
		{ "flipped checksum", 30, "checksum mismatch" },
		{ "torn: half the file", -2, "does not match the file size" },
		{ "torn: 10 bytes", -3, "shorter than its header" },
		{ "empty file", -4, "shorter than its header" },
	};
	_cleanup_free_ char *nv = path_join(dir, "nv.bin"), *sock = path_join(dir, "emu.sock");
	_cleanup_free_ uint8_t *buf = malloc(len);

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *log = NULL;
		_cleanup_free_ uint8_t *after = NULL;
		size_t n = len, after_len = 0;
		long off = cases[i].off;

		memcpy(buf, good, len);
		if (off == -1000000)
			buf[len - 1] ^= 0x01;
		else if (off >= 0)
			buf[off] ^= 0x10;
		else
			n = off == -2 ? len / 2 : off == -3 ? 10 : 0;
		write_bytes(nv, buf, n);
		TU_CHECK(run_emu(dir, NULL, &log) == 1, "%s: emulator did not refuse", cases[i].what);
		TU_CHECK(strstr(log, nv) && strstr(log, cases[i].reason) &&
				 strstr(log, "--erase-corrupt-nv"),
			 "%s: log does not name the file and '%s':\n%s", cases[i].what,
			 cases[i].reason, log);
		after = tu_read_file(nv, &after_len);
		TU_CHECK(after_len == n && memcmp(after, buf, n) == 0, "%s: NV file was changed",
			 cases[i].what);
		TU_CHECK(access(sock, F_OK) < 0, "%s: socket left behind", cases[i].what);
	}
	write_bytes(nv, good, len);
}

static void test_persistence(struct emu_rig *r)
{
	_cleanup_free_ uint8_t *good = NULL;
	_cleanup_free_ char *nv = path_join(r->dir, "nv.bin");
	struct snap a, b;
	size_t len;

	TU_CHECK(to_state(r->t, SEV_PSTATE_INIT), "INIT");
	take_ownership(r->t);
	CHECK_STATUS(fw(r->t, SEV_CMD_PDH_GEN, NULL), SEV_STATUS_SUCCESS);
	snapshot(r->t, &a);
	TU_CHECK_EQ(a.flags & SEV_PLATFORM_FLAG_OWNER, SEV_PLATFORM_FLAG_OWNER);
	rig_restart(r, NULL);
	/* firmware state is volatile: a restarted PSP is UNINIT, its flash is not */
	TU_CHECK_EQ(platform_status(r->t).state, SEV_PSTATE_UNINIT);
	snapshot(r->t, &b);
	TU_CHECK_MEM(&a, &b, sizeof(a));
	rig_stop(r);
	good = tu_read_file(nv, &len);
	test_corrupt(r->dir, good, len);
	/* the good file still works after all that */
	rig_restart(r, NULL);
	snapshot(r->t, &b);
	TU_CHECK_MEM(&a, &b, sizeof(a));
}

static void get_id(struct psp_transport *t, uint8_t id[64])
{
	_cleanup_free_ uint8_t *p = NULL;
	size_t n;

	TU_CHECK_EQ(psp_cmd_get_id(t, &p, &n, NULL), 0);
	memcpy(id, p, 64);
}

/* --erase-corrupt-nv: the operator lets the emulator start on a corrupt file; as firmware
 * (AMD-ASPFW sev_mcmd.c sev_mcmd_init_common) the first INIT / INIT_EX answers
 * SECURE_DATA_INVALID and erases the store, the retry (as Linux's) succeeds on a blank store.
 * The corrupt bytes are kept in FILE.corrupt; the new chip identity is the one GET_ID showed
 * before INIT, and it is what a restart without the flag loads. */
static void test_erase_corrupt(struct emu_rig *r, uint32_t init_cmd)
{
	static const char *const erase[] = { "--erase-corrupt-nv", NULL };
	_cleanup_free_ char *nv = path_join(r->dir, "nv.bin");
	_cleanup_free_ char *kept = path_join(r->dir, "nv.bin.corrupt");
	_cleanup_free_ uint8_t *bad = NULL, *saved = NULL;
	struct sev_cmd_init_ex ex = { .length = sizeof(ex) };
	struct sev_cmd_init init = { 0 };
	void *buf = init_cmd == SEV_CMD_INIT ? (void *)&init : (void *)&ex;
	uint8_t id1[64], id2[64];
	size_t len, saved_len;

	rig_stop(r);
	bad = tu_read_file(nv, &len);
	bad[len / 2] ^= 0x20;
	write_bytes(nv, bad, len);
	unlink(kept);
	rig_restart(r, erase);
	TU_CHECK_EQ(platform_status(r->t).state, SEV_PSTATE_UNINIT);
	get_id(r->t, id1);
	CHECK_STATUS(fw(r->t, init_cmd, buf), SEV_STATUS_SECURE_DATA_INVALID);
	TU_CHECK_EQ(platform_status(r->t).state, SEV_PSTATE_UNINIT);
	saved = tu_read_file(kept, &saved_len);
	TU_CHECK(saved_len == len && memcmp(saved, bad, len) == 0, "the corrupt file is kept");
	CHECK_STATUS(fw(r->t, init_cmd, buf), SEV_STATUS_SUCCESS); /* Linux's one retry */
	TU_CHECK_EQ(platform_status(r->t).flags & SEV_PLATFORM_FLAG_OWNER, 0); /* new keys */
	get_id(r->t, id2);
	TU_CHECK_MEM(id1, id2, 64);
	/* the erased-and-rewritten file is a good one: no flag needed, same chip */
	rig_restart(r, NULL);
	get_id(r->t, id2);
	TU_CHECK_MEM(id1, id2, 64);
	CHECK_STATUS(fw(r->t, init_cmd, buf), SEV_STATUS_SUCCESS);
	unlink(kept);
}

/* SIGKILL leaves the socket file; the next emulator replaces it. A live one is not replaced. */
static void test_sockets(struct emu_rig *r)
{
	_cleanup_free_ char *log = NULL, *sock = path_join(r->dir, "emu.sock");
	int st;

	kill(r->emu.pid, SIGKILL);
	waitpid(r->emu.pid, &st, 0);
	r->emu.pid = 0;
	TU_CHECK(access(sock, F_OK) == 0, "SIGKILL leaves the socket");
	rig_restart(r, NULL); /* replaces the stale socket */
	TU_CHECK_EQ(run_emu(r->dir, NULL, &log), 1);
	TU_CHECK(strstr(log, "another emulator"), "second emulator on a live socket: %s", log);
	TU_CHECK_EQ(platform_status(r->t).api_major, 1); /* the first one still serves */
	rig_stop(r);
	TU_CHECK(access(sock, F_OK) < 0, "SIGTERM removes the socket");
}

static void test_command_line(const char *dir)
{
	static const char *const bad[][3] = {
		{ "--cpuid-edx", "0", NULL },	{ "--cpuid-ecx", "0", NULL },
		{ "--cpuid-edx", "600", NULL }, { "--api", "1", NULL },
		{ "--api", "1.256", NULL },	{ "--build", "x", NULL },
		{ "--amd-root-bits", "1024", NULL }, { "stray", NULL, NULL },
	};
	static const char *const help[] = { "--help", NULL };

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_free_ char *log = NULL;

		TU_CHECK_EQ(run_emu(dir, bad[i], &log), 1);
		TU_CHECK(strstr(log, bad[i][0]), "refusal names %s: %s", bad[i][0], log);
	}
	_cleanup_free_ char *log = NULL;
	TU_CHECK_EQ(run_emu(dir, help, &log), 0);
	TU_CHECK(strstr(log, "--cpuid-edx"), "help lists the options");
}

/* A Naples-sized part: 15 ASIDs, no SEV-ES split, API 0.17 build 48. */
static void test_config(void)
{
	static const char *const naples[] = { "--cpuid-ecx", "15", "--cpuid-edx", "1",
					      "--cpuid-eax", "0x3", "--api", "0.17",
					      "--build", "48", NULL };
	struct emu_rig r;
	struct psp_cpuid c;
	struct sev_cmd_platform_status ps;

	rig_up(&r, naples);
	TU_CHECK_EQ(psp_get_cpuid(r.t, &c), 0);
	TU_CHECK(c.eax == 3 && c.ecx == 15 && c.edx == 1 && c.ebx == 0x73, "CPUID %x %x %x %x",
		 c.eax, c.ebx, c.ecx, c.edx);
	ps = platform_status(r.t);
	TU_CHECK(ps.api_major == 0 && ps.api_minor == 17 && ps.build == 48, "version");
	rig_down(&r);
}

int main(void)
{
	struct emu_rig r;
	char *nv;

	rig_up(&r, NULL);
	nv = path_join(r.dir, "nv.bin");
	TU_CHECK(access(nv, F_OK) == 0, "a missing NV file is created");
	free(nv);
	test_persistence(&r);
	test_erase_corrupt(&r, SEV_CMD_INIT);
	test_erase_corrupt(&r, SEV_CMD_INIT_EX);
	test_sockets(&r);
	test_command_line(r.dir);
	rig_down(&r);
	test_config();
	tu_done("emu-nv");
}
