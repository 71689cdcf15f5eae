/* No secret in any log line: a whole guest launch with KNOWN secrets through
 * the real binaries (sev-psp-emu --verbose and sevd, both with SEVD_LOG_LEVEL=debug; sevadm for
 * every step), then every place a host user could read them is searched:
 *
 *   - the complete stdout+stderr logs of sevd and of the emulator,
 *   - /proc/PID/environ of sevd and of the emulator (read while they run),
 *   - the stdout and stderr of every sevadm run,
 *
 * for the TEK and TIK (from `sevadm session`'s NAME_tek.bin/NAME_tik.bin), the secret's
 * plaintext (given to `sevadm secret build`), the three bearer tokens and an unknown token
 * a client presented (refused with 401), each as raw bytes,
 * lower- and upper-case hex and base64 (at the three byte alignments; every needle searched is
 * at least 9 bytes of secret, so a hit is no coincidence). Any hit fails, naming what and where.
 *
 * Not dumpable: the kernel gives a task's /proc/PID/ files (not the directory itself) the task's
 * euid:egid while it is dumpable and root:root once PR_SET_DUMPABLE is 0 (fs/proc/base.c,
 * task_dump_owner()); the same dumpable flag is what makes __ptrace_may_access refuse a
 * same-uid ptrace or /proc/PID/{mem,environ} read without CAP_SYS_PTRACE, and what stops core
 * dumps. So /proc/PID/status of sevd and of the emulator must be owned by root:root while that
 * of a dumpable control process started with the same credentials is not (as root, the
 * daemons and the control run with egid 65534 so the two differ; as another user, the uid
 * differs). RLIMIT_CORE is checked as 0 in /proc/PID/limits too.
 *
 * Locked memory: VmLck in /proc/PID/status of sevd and of the emulator is above zero (OpenSSL's
 * secure heap, common/secure-heap.h), the emulator's grows by at least a page while the guest
 * lives (its context with TEK, TIK and VEK is secret memory) and is back where it was after
 * DECOMMISSION (unlocked and released, not leaked). These checks are a test case of their own,
 * `--locking` (meson: secrets-locked), which needs root or an RLIMIT_MEMLOCK of at least 1 MiB
 * (the daemons inherit ours) and SKIPs, saying so, where neither holds. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "common/macros.h"
#include "common/util.h"
#include "tests/cli/test-cli-guest-util.h"

#define POLICY "0x1"
#define IMAGE_SIZE (64u << 10)
#define SECRET_GPA_S "0x100000"
#define WRONG_TOKEN "not-a-known-token-4f1c2a"
#define SECRET_GUID "736869e5-84f0-4973-92ec-06879ce3da0b"

static struct tg_daemon d;

#define AS_LAUNCHER(...) TG_CLI("--daemon", d.tcp_ep, "--token", d.launcher_token, __VA_ARGS__)
#define AS_OWNER(...) TG_CLI("--daemon", d.tcp_ep, "--token", d.owner_token, __VA_ARGS__)
#define AS_OPERATOR(...) TG_CLI(__VA_ARGS__)

/* ---- what is searched, and for what ---- */

struct needle {
	const char *what;
	uint8_t *buf;
	size_t len;
};
static struct needle needles[8];
static size_t n_needles;

static void add_needle(const char *what, const void *buf, size_t len)
{
	TU_CHECK(n_needles < ELEMENTSOF(needles) && len >= 8, "needle %s", what);
	needles[n_needles].what = what;
	needles[n_needles].buf = malloc(len);
	TU_CHECK(needles[n_needles].buf, "out of memory");
	memcpy(needles[n_needles].buf, buf, len);
	needles[n_needles++].len = len;
}

/* Haystacks (sevadm's outputs, logs, environments): kept until the end, searched once all the
 * needles are known. */
struct hay {
	char *where;
	uint8_t *buf;
	size_t len;
};
static struct hay hays[128];
static size_t n_hays;

static void add_hay(const char *where, const void *buf, size_t len)
{
	TU_CHECK(n_hays < ELEMENTSOF(hays), "too many outputs");
	hays[n_hays].where = strdup(where);
	hays[n_hays].buf = malloc(len + 1);
	TU_CHECK(hays[n_hays].where && hays[n_hays].buf, "out of memory");
	memcpy(hays[n_hays].buf, buf, len);
	hays[n_hays++].len = len;
}

/* One sevadm run: its exit code checked, both its streams kept for the search. */
static void keep(struct tg_run *r, int code, const char *what)
{
	char where[160];

	TG_EXPECT(*r, code, NULL, NULL);
	snprintf(where, sizeof(where), "stdout of sevadm %s", what);
	add_hay(where, r->out, strlen(r->out));
	snprintf(where, sizeof(where), "stderr of sevadm %s", what);
	add_hay(where, r->err, strlen(r->err));
}

static void upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'f')
			*s = (char)(*s - 'a' + 'A');
}

/* The base64 characters that depend on needle bytes alone when the needle starts at byte
 * offset 'shift' (mod 3) of the encoded stream: whole 4-character groups, without the first
 * group (shared with earlier bytes) when shift > 0 and without a last partial group. */
static char *base64_inner(const uint8_t *buf, size_t len, unsigned shift)
{
	_cleanup_free_ uint8_t *tmp = calloc(1, len + 3);
	_cleanup_free_ char *enc = NULL;
	size_t skip = shift ? 4 : 0, end;

	TU_CHECK(tmp, "out of memory");
	memcpy(tmp + shift, buf, len);
	enc = base64_encode(tmp, len + shift);
	TU_CHECK(enc, "base64");
	end = ((len + shift) / 3) * 4; /* whole groups only */
	TU_CHECK(end > skip + 8, "needle too short for base64 at shift %u", shift);
	return strndup(enc + skip, end - skip);
}

/* Which encoding of the needle occurs in buf (NULL: none). */
static const char *hit(const uint8_t *buf, size_t len, const struct needle *n)
{
	_cleanup_free_ char *lo = hex_encode(n->buf, n->len), *up = hex_encode(n->buf, n->len);

	TU_CHECK(lo && up, "hex");
	upper(up);
	if (memmem(buf, len, n->buf, n->len))
		return "raw bytes";
	if (memmem(buf, len, lo, strlen(lo)))
		return "lower-case hex";
	if (memmem(buf, len, up, strlen(up)))
		return "upper-case hex";
	for (unsigned s = 0; s < 3; s++) {
		_cleanup_free_ char *b = base64_inner(n->buf, n->len, s);
		if (memmem(buf, len, b, strlen(b)))
			return s == 0	? "base64"
			       : s == 1 ? "base64 (offset 1)"
					: "base64 (offset 2)";
	}
	return NULL;
}

/* The search must find what it looks for: every needle, planted in a line of text in each
 * encoding (base64 after 0, 1 and 2 other bytes), is hit. */
static void search_self_test(void)
{
	for (size_t j = 0; j < n_needles; j++) {
		const struct needle *n = &needles[j];
		_cleanup_free_ char *lo = hex_encode(n->buf, n->len),
				    *up = hex_encode(n->buf, n->len);
		uint8_t raw[128] = "key=";

		upper(up);
		TU_CHECK(n->len <= 100, "needle too long");
		memcpy(raw + 4, n->buf, n->len);
		TU_CHECK(hit(raw, 4 + n->len, n), "raw %s not found", n->what);
		TU_CHECK(hit((uint8_t *)lo, strlen(lo), n), "hex %s not found", n->what);
		TU_CHECK(hit((uint8_t *)up, strlen(up), n), "HEX %s not found", n->what);
		for (unsigned s = 0; s < 3; s++) {
			uint8_t tmp[128] = {'a', 'b'};
			memcpy(tmp + s, n->buf, n->len);
			_cleanup_free_ char *b = base64_encode(tmp, s + n->len);
			TU_CHECK(hit((uint8_t *)b, strlen(b), n), "base64 (+%u) %s not found", s,
				 n->what);
		}
	}
}

static void search_all(void)
{
	search_self_test();
	for (size_t i = 0; i < n_hays; i++)
		for (size_t j = 0; j < n_needles; j++) {
			const char *how = hit(hays[i].buf, hays[i].len, &needles[j]);
			TU_CHECK(!how, "%s holds the %s (%s)", hays[i].where, needles[j].what, how);
		}
}

static void add_file_hay(const char *where, const char *path)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = tu_read_file(path, &len);

	add_hay(where, buf, len);
}

/* ---- the processes ---- */

/* /proc/PID/environ of a daemon, read by this test (root: CAP_SYS_PTRACE reads it even though
 * the daemon is not dumpable). Without the capability the read is refused: nothing to search,
 * and nobody else of this uid can read it either. Returns whether it was read. */
static bool add_environ_hay(const char *who, pid_t pid)
{
	char path[64], where[128];
	uint8_t buf[65536];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	snprintf(where, sizeof(where), "%s of %s", path, who);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		TU_CHECK(errno == EACCES || errno == EPERM, "open %s: %m", path);
		return false;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	TU_CHECK(n > 0, "read %s: %m", path);
	/* the search can only find things in an environment that is there */
	TU_CHECK(memmem(buf, (size_t)n, "SEVD_LOG_LEVEL=debug", 20), "%s lacks SEVD_LOG_LEVEL",
		 where);
	add_hay(where, buf, (size_t)n);
	return true;
}

/* Owner of /proc/PID/status. The kernel (fs/proc/base.c, task_dump_owner()) gives a task's
 * /proc files its euid:egid when it is dumpable and root:root when it is not. */
static void proc_owner(pid_t pid, uid_t *ret_uid, gid_t *ret_gid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	TU_CHECK(stat(path, &st) == 0, "stat %s: %m", path);
	*ret_uid = st.st_uid;
	*ret_gid = st.st_gid;
}

static void check_core_limit(const char *who, pid_t pid)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	uint8_t *b = tu_read_file(path, &len);
	text = realloc(b, len + 1);
	TU_CHECK(text, "out of memory");
	text[len] = 0;
	char *l = strstr(text, "Max core file size");
	TU_CHECK(l, "%s has no core limit line", path);
	unsigned long soft = 99, hard = 99;
	TU_CHECK(sscanf(l + strlen("Max core file size"), " %lu %lu", &soft, &hard) == 2 &&
		     soft == 0 && hard == 0,
		 "%s may write a core file: %.60s", who, l);
}

/* A dumpable process with the daemons' credentials: the control of the ownership check. */
static pid_t control = -1;

static void kill_control(void)
{
	if (control > 0) {
		kill(control, SIGKILL);
		waitpid(control, NULL, 0);
		control = -1;
	}
}

static void start_control(void)
{
	control = fork();
	TU_CHECK(control >= 0, "fork: %m");
	if (control == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		dup2(null, 1);
		dup2(null, 2);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* the gid change made this test (and so its fork) non-dumpable: undo it here */
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		pause();
		_exit(0);
	}
	atexit(kill_control);
}

/* sevd and the emulator: not dumpable (their /proc files owned by root:root where a dumpable
 * process of the same credentials, the control, shows its own), no core files. */
static void check_not_dumpable(void)
{
	uid_t cu, u;
	gid_t cg, g;

	proc_owner(control, &cu, &cg);
	TU_CHECK(cu != 0 || cg != 0, "control: a dumpable process here shows root:root too, so "
				     "the check would prove nothing");
	proc_owner(d.pid, &u, &g);
	TU_CHECK(u == 0 && g == 0,
		 "sevd is dumpable: /proc/%d/status owned by %u:%u like the "
		 "dumpable control (%u:%u), not root:root",
		 (int)d.pid, (unsigned)u, (unsigned)g, (unsigned)cu, (unsigned)cg);
	proc_owner(d.emu.pid, &u, &g);
	TU_CHECK(u == 0 && g == 0,
		 "sev-psp-emu is dumpable: /proc/%d/status owned by %u:%u "
		 "like the dumpable control (%u:%u), not root:root",
		 (int)d.emu.pid, (unsigned)u, (unsigned)g, (unsigned)cu, (unsigned)cg);
	kill_control();
	check_core_limit("sevd", d.pid);
	check_core_limit("sev-psp-emu", d.emu.pid);
}

/* ---- locked memory ---- */

static long vmlck_kib(const char *who, pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	TU_CHECK(f, "open %s (%s): %m", path, who);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kib) == 1)
			break;
	fclose(f);
	TU_CHECK(kib >= 0, "no VmLck in %s (%s)", path, who);
	return kib;
}

static bool can_lock(void)
{
	struct rlimit rl;

	if (geteuid() == 0)
		return true;
	return getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
	       (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (1u << 20));
}

static long emu_lck_before; /* the emulator's VmLck with no guest */
static bool locking;	    /* --locking: the VmLck checks run (secrets-locked) */

static void check_locked_idle(void)
{
	if (!locking)
		return;
	emu_lck_before = vmlck_kib("sev-psp-emu", d.emu.pid);
	TU_CHECK(emu_lck_before > 0, "sev-psp-emu locks no memory (VmLck 0): no secure heap?");
	TU_CHECK(vmlck_kib("sevd", d.pid) > 0, "sevd locks no memory (VmLck 0): no secure heap?");
}

/* While the guest lives (after = false), and after DECOMMISSION (after = true). */
static void check_locked_guest(bool after)
{
	long page = sysconf(_SC_PAGESIZE) / 1024, now;

	if (!locking)
		return;
	now = vmlck_kib("sev-psp-emu", d.emu.pid);
	if (after)
		TU_CHECK(now == emu_lck_before,
			 "sev-psp-emu VmLck %ld kB after DECOMMISSION, %ld kB before the launch: "
			 "the guest's key memory was not released",
			 now, emu_lck_before);
	else
		TU_CHECK(now >= emu_lck_before + page,
			 "sev-psp-emu VmLck %ld kB with a guest, %ld kB without: the guest's TEK, "
			 "TIK and VEK are not in locked memory",
			 now, emu_lck_before);
	TU_CHECK(vmlck_kib("sevd", d.pid) > 0, "sevd locks no memory (VmLck 0)");
}

/* ---- the guest's life, every sevadm output kept ---- */

static void owner_prepares(void)
{
	struct tg_run r = AS_OPERATOR("export", "--full", "certs");
	size_t len = 0;

	keep(&r, 0, "export");
	tg_run_clear(&r);
	r = TG_CLI("session", "--name", "owner", "certs/pdh.cert", POLICY);
	keep(&r, 0, "session");
	tg_run_clear(&r);
	_cleanup_free_ uint8_t *tek = tu_read_file("owner_tek.bin", &len);
	TU_CHECK_EQ(len, 16);
	add_needle("TEK", tek, len);
	_cleanup_free_ uint8_t *tik = tu_read_file("owner_tik.bin", &len);
	TU_CHECK_EQ(len, 16);
	add_needle("TIK", tik, len);
}

static unsigned launch_and_measure(const char *image)
{
	struct tg_run r = AS_LAUNCHER("--json", "launch", image, "--session-dir", ".", "--name",
				      "owner", "--policy", POLICY);
	json_object *j;
	unsigned h;
	char hs[16];

	keep(&r, 0, "launch");
	j = tg_json(&r);
	h = (unsigned)json_object_get_int(tg_get(j, "handle", json_type_int));
	json_object_put(j);
	tg_run_clear(&r);
	TU_CHECK(h > 0, "handle");
	snprintf(hs, sizeof(hs), "%u", h);
	r = AS_OWNER("measure", hs, "--outfile", "owner.blob");
	keep(&r, 0, "measure");
	tg_run_clear(&r);
	/* sevadm handling the TIK itself: the measurement rebuilt and checked */
	size_t len = 0;
	uint8_t md[32];
	unsigned mdlen = 0;
	_cleanup_free_ uint8_t *img = tu_read_file(image, &len);
	TU_CHECK(EVP_Digest(img, len, md, &mdlen, EVP_sha256(), NULL) == 1, "sha256");
	_cleanup_free_ char *d64 = base64_encode(md, sizeof(md));
	r = AS_OWNER("measure", hs, "--tik", "owner_tik.bin", "--launch-digest", d64);
	keep(&r, 0, "measure --tik");
	tg_run_clear(&r);
	return h;
}

static void inject_secret(unsigned h, const char *secret_file)
{
	char hs[16], spec[256];
	struct tg_run r;

	snprintf(hs, sizeof(hs), "%u", h);
	snprintf(spec, sizeof(spec), "%s:%s", SECRET_GUID, secret_file);
	r = TG_CLI("secret", "build", "--tik", "owner_tik.bin", "--tek", "owner_tek.bin",
		   "--launch-measure-blob", "owner.blob", "--pek", "certs/pek.cert", "--secret",
		   spec, "secret.hdr", "secret.pay");
	keep(&r, 0, "secret build");
	tg_run_clear(&r);
	r = AS_LAUNCHER("secret", "inject", hs, "--header", "secret.hdr", "--payload", "secret.pay",
			"--address", SECRET_GPA_S);
	keep(&r, 0, "secret inject");
	tg_run_clear(&r);
}

static void run_attest_decommission(unsigned h)
{
	char hs[16];
	struct tg_run r;

	snprintf(hs, sizeof(hs), "%u", h);
	r = AS_LAUNCHER("finish", hs);
	keep(&r, 0, "finish");
	tg_run_clear(&r);
	r = AS_LAUNCHER("activate", hs);
	keep(&r, 0, "activate");
	tg_run_clear(&r);
	r = AS_OWNER("attest", hs, "--nonce", "00112233445566778899aabbccddeeff", "--outfile",
		     "report.bin");
	keep(&r, 0, "attest");
	tg_run_clear(&r);
	r = AS_OPERATOR("show", "guests");
	keep(&r, 0, "show guests");
	tg_run_clear(&r);
	/* While both run: their environments, and that nobody else can read them. */
	bool read_env = add_environ_hay("sevd", d.pid);
	read_env = add_environ_hay("sev-psp-emu", d.emu.pid) && read_env;
	if (!read_env)
		fprintf(stderr, "note: the daemons' environments are not readable here (no "
				"CAP_SYS_PTRACE): not dumpable, nothing to search\n");
	check_not_dumpable();
	/* A token of the wrong role, and an unknown token, are refused without being echoed. */
	r = TG_CLI("--daemon", d.tcp_ep, "--token", d.reader_token, "decommission", hs);
	keep(&r, 1, "decommission as reader");
	tg_run_clear(&r);
	TU_CHECK(write_file_new("wrong.token", WRONG_TOKEN "\n", strlen(WRONG_TOKEN) + 1, 0600) ==
		     0,
		 "write wrong.token");
	r = TG_CLI("--daemon", d.tcp_ep, "--token", "wrong.token", "decommission", hs);
	keep(&r, 1, "decommission with an unknown token");
	tg_run_clear(&r);
	r = AS_OPERATOR("decommission", hs);
	keep(&r, 0, "decommission");
	tg_run_clear(&r);
}

static void run(void)
{
	static const char *emu_args[] = {"--cpuid-ecx", "15",	     "--cpuid-edx",
					 "5",		"--verbose", NULL};
	static const char *tokens[][2] = {{"launcher token", "launcher-0123456789"},
					  {"owner token", "owner-0123456789"},
					  {"reader token", "reader-0123456789"}};
	_cleanup_free_ char *image = NULL, *secret_file = NULL, *sevd_log = NULL, *emu_log = NULL;
	size_t secret_len = 0;

	TU_CHECK(setenv("SEVD_LOG_LEVEL", "debug", 1) == 0, "setenv");
	/* As root, the daemons (and the control) run with gid 65534 (real = effective, or exec
	 * would make them non-dumpable by itself) so that a non-dumpable
	 * process's root:root /proc files differ from a dumpable one's (see check_not_dumpable). */
	if (getuid() == 0)
		TU_CHECK(setresgid(65534, 65534, 65534) == 0, "setresgid: %m");
	tg_daemon_start(&d, emu_args, NULL);
	start_control();
	if (getuid() == 0)
		TU_CHECK(setresgid(0, 0, 0) == 0, "setresgid: %m");
	sevd_log = strdup(d.log);
	emu_log = strdup(d.emu.log);
	TU_CHECK(sevd_log && emu_log, "out of memory");
	add_needle("unknown token presented", WRONG_TOKEN, strlen(WRONG_TOKEN));
	for (size_t i = 0; i < ELEMENTSOF(tokens); i++)
		add_needle(tokens[i][0], tokens[i][1], strlen(tokens[i][1]));
	image = tg_make_image("guest.img", IMAGE_SIZE);
	secret_file = tg_make_image("disk-passphrase", 48);
	_cleanup_free_ uint8_t *sec = tu_read_file(secret_file, &secret_len);
	add_needle("secret plaintext", sec, secret_len);

	owner_prepares();
	check_locked_idle();
	unsigned h = launch_and_measure(image);
	check_locked_guest(false);
	inject_secret(h, secret_file);
	run_attest_decommission(h);
	check_locked_guest(true);
	tg_daemon_stop(&d);

	/* The complete logs, after both exited. Debug logging was on: they say things. */
	add_file_hay("sevd's log (stdout+stderr)", sevd_log);
	add_file_hay("sev-psp-emu's log (stdout+stderr)", emu_log);
	TU_CHECK(hays[n_hays - 2].len > 0 && hays[n_hays - 1].len > 0, "a daemon log is empty");
	TU_CHECK(memmem(hays[n_hays - 1].buf, hays[n_hays - 1].len, "LAUNCH_UPDATE_SECRET", 20),
		 "the emulator's verbose log does not show LAUNCH_UPDATE_SECRET: is --verbose on?");
	TU_CHECK(memmem(hays[n_hays - 2].buf, hays[n_hays - 2].len, "launched", 8),
		 "sevd's log does not tell of the launch");
	search_all();
	fprintf(stderr, "searched %zu outputs and logs for %zu secrets in 7 encodings each\n",
		n_hays, n_needles);
	for (size_t i = 0; i < n_hays; i++) {
		free(hays[i].where);
		free(hays[i].buf);
	}
	for (size_t j = 0; j < n_needles; j++)
		free(needles[j].buf);
}

int main(int argc, char **argv)
{
	locking = argc > 1 && strcmp(argv[1], "--locking") == 0;
	if (locking && !can_lock())
		tu_skip("no CAP_IPC_LOCK and RLIMIT_MEMLOCK below 1 MiB: the daemons cannot lock "
			"memory here (run as root, or raise the limit with ulimit -l 1024)");
	tg_init("test-secrets");
	TU_CHECK(chdir(tg_dir) == 0, "chdir %s: %m", tg_dir);
	run();
	tu_rmtree(tg_dir);
	free(tg_dir);
	tu_done(locking ? "test-secrets-locked" : "test-secrets");
}
