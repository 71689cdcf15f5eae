/* sevadm verify chain|report and sevadm fetch ca|vcek|cek, run as a user runs them, against the
 * real AMD data of the vectors (read in place) and a stand-in KDS on 127.0.0.1 (kds-server,
 * argv[1]) that logs every request: the URL asked for, the files written and verified, the
 * cache hit on a second run (no new request), and clear errors for 404s and flipped bytes;
 * the fetch's progress lines on a terminal (each document, its bytes, cache hits), and none on
 * a pipe or with --json.
 * Exit statuses are asserted: 0 only when every check holds. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
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

static char *drain(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t k;

	while (buf && (k = read(fd, buf + len, cap - len - 1)) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			break;
		len += (size_t)k;
		if (len + 1 == cap)
			buf = realloc(buf, cap *= 2);
	}
	if (buf)
		buf[len] = 0;
	close(fd);
	return buf;
}

/* Run sevadm with args (NULL-terminated), extra env "K=V" (may be NULL); stdout and stderr
 * are captured separately (stderr via a temp file so neither pipe can fill up). */
static struct result run_env(const char *env1, const char *const *args)
{
	char *argv[32];
	size_t n = 0;
	int out[2], errfd;
	_cleanup_free_ char *errpath = path_join(tmp, "stderr.txt");
	struct result r = {};
	pid_t pid;

	argv[n++] = (char *)sevadm;
	for (; *args && n < ELEMENTSOF(argv) - 1; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	TU_CHECK(pipe(out) == 0, "pipe");
	errfd = open(errpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	TU_CHECK(errfd >= 0, "stderr file");
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(errfd, 2);
		unsetenv("SEVADM_KDS_URL");
		/* a fetch without --cache must never reach /var/cache/sevd from a test */
		setenv("XDG_CACHE_HOME", tmp, 1);
		if (env1)
			putenv((char *)env1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	r.out = drain(out[0]);
	waitpid(pid, &r.status, 0);
	r.status = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : 128 + WTERMSIG(r.status);
	lseek(errfd, 0, SEEK_SET);
	r.err = drain(errfd);
	return r;
}

#define RUN(...) run_env(NULL, (const char *const[]){ __VA_ARGS__, NULL })

/* The same with stderr on a fresh pseudo-terminal (stdout to a file, as in `x=$(sevadm ...)`):
 * r.err is everything the terminal showed. */
static struct result run_tty(const char *const *args)
{
	_cleanup_free_ char *outpath = path_join(tmp, "stdout-tty.txt");
	char *argv[32], *screen = calloc(1, 1 << 16);
	size_t n = 0, len = 0;
	struct result r = {};
	int master, outfd;
	pid_t pid;

	TU_CHECK(screen, "out of memory");
	argv[n++] = (char *)sevadm;
	for (; *args && n < ELEMENTSOF(argv) - 1; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	pid = forkpty(&master, NULL, NULL, NULL);
	TU_CHECK(pid >= 0, "forkpty: %m");
	if (pid == 0) {
		outfd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(outfd, 1);
		unsetenv("SEVADM_KDS_URL");
		setenv("XDG_CACHE_HOME", tmp, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	/* until the child closes the terminal (EIO); every wait bounded */
	for (int idle = 0; idle < 60000 && len + 1 < (1 << 16);) {
		struct pollfd pfd = { .fd = master, .events = POLLIN };
		if (poll(&pfd, 1, 100) == 0) {
			idle += 100;
			continue;
		}
		ssize_t k = read(master, screen + len, (1 << 16) - 1 - len);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	screen[len] = 0;
	close(master);
	waitpid(pid, &r.status, 0);
	r.status = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : 128 + WTERMSIG(r.status);
	r.err = screen;
	outfd = open(outpath, O_RDONLY);
	TU_CHECK(outfd >= 0, "stdout file");
	r.out = drain(outfd);
	return r;
}

#define RUN_TTY(...) run_tty((const char *const[]){ __VA_ARGS__, NULL })

/* A line of output "  NAME<spaces>VALUE...": the checklist and field layouts. */
static bool line_has(const char *out, const char *name, const char *value)
{
	for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *end = strchr(l, '\n'), *p = l;

		while (*p == ' ')
			p++;
		if (strncmp(p, name, strlen(name)) != 0)
			continue;
		p += strlen(name);
		while (*p == ' ')
			p++;
		if (strncmp(p, value, strlen(value)) == 0 && (!end || p < end))
			return true;
	}
	return false;
}

#define EXPECT_LINE(out, name, value)                                                              \
	TU_CHECK(line_has((out), (name), (value)), "no line '%s ... %s' in:\n%s", (name), (value), \
		 (out))

static void expect(struct result *r, int status, const char *out_has, const char *err_has)
{
	TU_CHECK(r->status == status, "exit %d, expected %d\nstdout:\n%s\nstderr:\n%s", r->status,
		 status, r->out, r->err);
	/* "NAME|VALUE" asks for a line of that name with that value; else a substring. */
	if (out_has && strchr(out_has, '|')) {
		_cleanup_free_ char *name = strndup(out_has, strcspn(out_has, "|"));
		EXPECT_LINE(r->out, name, strchr(out_has, '|') + 1);
	} else if (out_has) {
		TU_CHECK(strstr(r->out, out_has), "stdout lacks '%s':\n%s", out_has, r->out);
	}
	if (err_has)
		TU_CHECK(strstr(r->err, err_has), "stderr lacks '%s':\n%s", err_has, r->err);
	result_clear(r);
}

static char *mkdir_in(const char *name)
{
	char *p = path_join(tmp, name);

	TU_CHECK(mkdir(p, 0755) == 0, "mkdir %s", p);
	return p;
}

static void put(const char *dir, const char *name, const void *buf, size_t len)
{
	_cleanup_free_ char *p = path_join(dir, name);

	TU_CHECK(write_file_atomic(p, buf, len, 0644) == 0, "write %s", p);
}

static void put_vector(const char *dir, const char *name, const char *rel)
{
	size_t len;
	_cleanup_free_ uint8_t *b = tu_read_vector(rel, &len);

	put(dir, name, b, len);
}

static char *roots(void)
{
	return tu_vector_path("amd-roots");
}

/* A legacy SEV root (AMD's ask_ark_milan.cert) in a roots directory. Our SNP-only roots
 * directories get one too: attest/roots.c qsort()s an empty SEV list with a NULL base, which
 * UBSan stops at (reported to the roots' author, not ours to change). */
static void put_sev_root(const char *dir)
{
	_cleanup_free_ char *p = path_join(dir, "ask_ark_milan.cert");
	size_t la, lb;
	_cleanup_free_ uint8_t *ask = tu_read_vector("amd-roots/sev/milan/ask.cert", &la);
	_cleanup_free_ uint8_t *ark = tu_read_vector("amd-roots/sev/milan/ark.cert", &lb);
	_cleanup_free_ uint8_t *both = malloc(la + lb);

	memcpy(both, ask, la);
	memcpy(both + la, ark, lb);
	TU_CHECK(write_file_atomic(p, both, la + lb, 0644) == 0, "write %s", p);
}

/* ---- verify chain ---- */

static void test_chain_snp(void)
{
	_cleanup_free_ char *r = roots(), *a = mkdir_in("c-a"), *b = mkdir_in("c-b"),
			    *c = mkdir_in("c-c"), *d = mkdir_in("c-d"), *only_milan = mkdir_in("m");
	_cleanup_free_ char *m1 = path_join(only_milan, "snp"), *m2 = NULL;
	struct result x;

	/* vcek.der + cert_chain as the KDS serves it */
	put_vector(a, "vcek.der", "snp/vcek_milan.der");
	put_vector(a, "cert_chain", "snp/cert_chain_milan");
	x = RUN("verify", "chain", a, "--roots", r);
	expect(&x, 0, "VCEK signed by ASK|ok", NULL);
	/* vcek.der + ask.pem/ark.pem */
	put_vector(b, "vcek.der", "snp/vcek_milan.der");
	put_vector(b, "ask.pem", "amd-roots/snp/milan/ask.pem");
	put_vector(b, "ark.pem", "amd-roots/snp/milan/ark.pem");
	x = RUN("verify", "chain", b, "--roots", r, "--json");
	TU_CHECK(x.status == 0, "ask/ark: %s", x.err);
	json_object *j = json_tokener_parse(x.out), *ok;
	TU_CHECK(j && json_object_object_get_ex(j, "ok", &ok) && json_object_get_boolean(ok),
		 "JSON ok: %s", x.out);
	json_object_put(j);
	result_clear(&x);
	/* the VCEK alone: the roots give ASK and ARK */
	put_vector(c, "vcek.der", "snp/vcek_milan.der");
	x = RUN("verify", "chain", c, "--roots", r);
	expect(&x, 0, "ASK from the roots", NULL);
	/* MANIFEST: byte 40 of the VCEK flipped → the chain fails, naming the VCEK */
	size_t len;
	_cleanup_free_ uint8_t *der = tu_read_vector("snp/vcek_milan.der", &len);
	der[40] ^= 0x80;
	put(d, "vcek.der", der, len);
	put_vector(d, "cert_chain", "snp/cert_chain_milan");
	x = RUN("verify", "chain", d, "--roots", r);
	expect(&x, 1, "NOT verified", "VCEK");

	/* Turin: verifies under the Turin roots, never under Milan's */
	_cleanup_free_ char *t = mkdir_in("t"), *tm = mkdir_in("tm");
	put_vector(t, "vcek.der", "snp/turin/vcek_turin.der");
	put_vector(t, "cert_chain", "snp/turin/cert_chain_turin");
	x = RUN("verify", "chain", t, "--roots", r);
	expect(&x, 0, "VCEK signed by ASK|ok", NULL);
	TU_CHECK(mkdir(m1, 0755) == 0, "mkdir");
	m2 = path_join(m1, "milan");
	TU_CHECK(mkdir(m2, 0755) == 0, "mkdir");
	put_vector(m2, "ark.pem", "amd-roots/snp/milan/ark.pem");
	put_vector(m2, "ask.pem", "amd-roots/snp/milan/ask.pem");
	put_sev_root(only_milan);
	x = RUN("verify", "chain", t, "--roots", only_milan);
	expect(&x, 1, NULL, "no trusted SEV-SNP root for Turin");
	put_vector(tm, "vcek.der", "snp/turin/vcek_turin.der");
	put_vector(tm, "cert_chain", "snp/cert_chain_milan");
	x = RUN("verify", "chain", tm, "--roots", r);
	expect(&x, 1, NULL, "not the trusted Turin ARK");

	/* An X.509 root trusted only because the user named it, and said so in the output. */
	_cleanup_free_ char *noroots = mkdir_in("no-roots");
	put_sev_root(noroots);
	_cleanup_free_ char *ark = tu_vector_path("amd-roots/snp/milan/ark.pem");
	x = RUN("verify", "chain", a, "--roots", noroots);
	expect(&x, 1, NULL, "no trusted SEV-SNP root for Milan");
	x = RUN("verify", "chain", a, "--roots", noroots, "--emulator-root", ark);
	expect(&x, 0, "not AMD's", NULL);
}

static void test_chain_sev_and_errors(void)
{
	_cleanup_free_ char *r = roots(), *milan = tu_vector_path("sev-chains/milan");
	_cleanup_free_ char *bad = mkdir_in("sev-bad"), *empty = mkdir_in("empty");
	static const char *const files[] = { "pdh.cert", "oca.cert", "cek.cert", "ask.cert",
					     "ark.cert" };
	struct result x;
	char rel[64];
	size_t len;

	x = RUN("verify", "chain", milan, "--roots", r);
	expect(&x, 0, "PEK signed by CEK", NULL);
	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		snprintf(rel, sizeof rel, "sev-chains/milan/%s", files[i]);
		put_vector(bad, files[i], rel);
	}
	_cleanup_free_ uint8_t *pek = tu_read_vector("sev-chains/milan/pek.cert", &len);
	pek[0x100] ^= 1; /* inside the signed [0, 0x414) */
	put(bad, "pek.cert", pek, len);
	x = RUN("verify", "chain", bad, "--roots", r);
	expect(&x, 1, "FAILED", "PEK");
	x = RUN("verify", "chain", empty, "--roots", r);
	expect(&x, 1, NULL, "holds no certificates");
	x = RUN("verify", "chain");
	expect(&x, 2, NULL, "exactly one DIR");
	x = RUN("verify", "bogus");
	expect(&x, 2, NULL, "unknown subcommand");
}

/* ---- verify report ---- */

static char *milan_certs(void)
{
	char *d = mkdir_in("certs");

	put_vector(d, "vcek.der", "snp/vcek_milan.der");
	put_vector(d, "cert_chain", "snp/cert_chain_milan");
	return d;
}

static void test_report_snp(const char *certs)
{
	_cleanup_free_ char *r = roots(), *rep = tu_vector_path("snp/report_milan.hex");
	_cleanup_free_ char *vcek = tu_vector_path("snp/vcek_milan.der");
	struct result x;

	x = RUN("verify", "report", rep, "--certs", certs, "--roots", r, "--measurement",
		MILAN_MEASUREMENT);
	expect(&x, 0, "every check holds", NULL);
	x = RUN("verify", "report", rep, "--vcek", vcek, "--roots", r);
	expect(&x, 0, "every check holds", NULL);
	/* the same report as base64 text (as QEMU's query-sev-attestation-report gives it) */
	{
		size_t len;
		_cleanup_free_ uint8_t *hex = tu_read_vector("snp/report_milan.hex", &len);
		_cleanup_free_ char *text = strndup((char *)hex, len), *b64 = NULL;
		_cleanup_free_ char *p = path_join(tmp, "report.b64");
		uint8_t raw[1184];

		TU_CHECK(hex_decode_exact(text, raw, sizeof raw) == 0, "decode");
		b64 = base64_encode(raw, sizeof raw);
		TU_CHECK(b64 && write_file_atomic(p, b64, strlen(b64), 0644) == 0, "write");
		x = RUN("verify", "report", p, "--vcek", vcek, "--roots", r);
		expect(&x, 0, "every check holds", NULL);
	}
}

static void test_report_snp_output(const char *certs)
{
	_cleanup_free_ char *r = roots(), *rep = tu_vector_path("snp/report_milan.hex");
	struct result x;
	json_object *j, *o, *v;

	x = RUN("verify", "report", rep, "--certs", certs, "--roots", r);
	TU_CHECK(x.status == 0, "%s", x.err);
	EXPECT_LINE(x.out, "current_version", "1.52 build 4");
	EXPECT_LINE(x.out, "policy", "0x30000");
	EXPECT_LINE(x.out, "reported_tcb", "0x7308000000000003 (bootloader 3, tee 0, snp 8");
	TU_CHECK(strstr(x.out, "hwID = CHIP_ID (64 bytes)"), "binding line:\n%s", x.out);
	result_clear(&x);
	x = RUN("--json", "verify", "report", rep, "--certs", certs, "--roots", r);
	TU_CHECK(x.status == 0, "%s", x.err);
	j = json_tokener_parse(x.out);
	TU_CHECK(j && json_object_object_get_ex(j, "report", &o), "JSON report:\n%s", x.out);
	TU_CHECK(json_object_object_get_ex(o, "measurement", &v) &&
			 strcmp(json_object_get_string(v), MILAN_MEASUREMENT) == 0,
		 "JSON measurement");
	TU_CHECK(json_object_object_get_ex(o, "reported_tcb", &v) &&
			 json_object_object_get_ex(v, "microcode", &v) && json_object_get_int(v) == 0x73,
		 "JSON reported_tcb.microcode");
	TU_CHECK(json_object_object_get_ex(j, "ok", &v) && json_object_get_boolean(v), "ok");
	json_object_put(j);
	result_clear(&x);
}

/* Any single flipped byte in a signed field (or in r/s) is rejected, naming the signature;
 * byte 21 with xor 0x80 is the MANIFEST's own case. The library test flips every byte. */
static void test_report_flips(const char *certs)
{
	static const size_t positions[] = { 0x00, 0x08, 0x10, 21, 0x30, 0x38, 0x48, 0x50,
					    0x90, 0xBF, 0xC0, 0xE0, 0x110, 0x140, 0x160, 0x180,
					    0x187, 0x1A0, 0x1DF, 0x1E0, 0x1E8, 0x1F0, 0x29F, 0x2A0,
					    0x2C7, 0x2E8, 0x30F };
	_cleanup_free_ char *r = roots(), *rep = path_join(tmp, "flipped.bin");
	size_t len;
	_cleanup_free_ uint8_t *hex = tu_read_vector("snp/report_milan.hex", &len);
	_cleanup_free_ char *text = strndup((char *)hex, len);
	uint8_t raw[1184];
	struct result x;

	TU_CHECK(text && hex_decode_exact(text, raw, sizeof raw) == 0, "decode the report");
	for (size_t i = 0; i < ELEMENTSOF(positions); i++) {
		uint8_t bit = positions[i] == 21 ? 0x80 : 0x01;

		raw[positions[i]] ^= bit;
		TU_CHECK(write_file_atomic(rep, raw, sizeof raw, 0644) == 0, "write");
		x = RUN("verify", "report", rep, "--certs", certs, "--roots", r);
		expect(&x, 1, "signature|FAILED", "signature");
		raw[positions[i]] ^= bit;
	}
}

static void test_report_expectations(const char *certs)
{
	_cleanup_free_ char *r = roots(), *rep = tu_vector_path("snp/report_milan.hex");
	const char *nonce = "d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c64581"
			    "0b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd";
	char wrong[97];
	struct result x;

	x = RUN("verify", "report", rep, "--certs", certs, "--roots", r, "--nonce", nonce);
	expect(&x, 0, "report_data = --nonce|ok", NULL);
	x = RUN("verify", "report", rep, "--certs", certs, "--roots", r, "--nonce", "d447b55d");
	expect(&x, 1, NULL, "report_data");
	snprintf(wrong, sizeof wrong, "%s", MILAN_MEASUREMENT);
	wrong[0] = '0';
	x = RUN("verify", "report", rep, "--certs", certs, "--roots", r, "--measurement", wrong);
	expect(&x, 1, "measurement|FAILED", "measurement");
	x = RUN("verify", "report", rep, "--certs", certs, "--roots", r, "--measurement", "abcd");
	expect(&x, 2, NULL, "48 expected");
	x = RUN("verify", "report", rep, "--pek", rep);
	expect(&x, 2, NULL, "--pek is for legacy SEV reports");
	/* Turin VCEK for a Milan report: wrong generation/chain, and said so */
	_cleanup_free_ char *turin = tu_vector_path("snp/turin/vcek_turin.der");
	x = RUN("verify", "report", rep, "--vcek", turin, "--roots", r, "--gen", "milan");
	expect(&x, 1, "FAILED", NULL);
	/* A version 3 report whose CPUID says Genoa, checked with the Milan VCEK */
	{
		size_t len;
		_cleanup_free_ uint8_t *hex = tu_read_vector("snp/report_milan.hex", &len);
		_cleanup_free_ char *text = strndup((char *)hex, len);
		_cleanup_free_ char *g = path_join(tmp, "genoa-v3.bin");
		_cleanup_free_ char *mv = tu_vector_path("snp/vcek_milan.der");
		uint8_t raw[1184];

		TU_CHECK(hex_decode_exact(text, raw, sizeof raw) == 0, "decode");
		raw[0] = 3, raw[0x188] = 0x19, raw[0x189] = 0x11;
		TU_CHECK(write_file_atomic(g, raw, sizeof raw, 0644) == 0, "write");
		x = RUN("verify", "report", g, "--vcek", mv, "--roots", r);
		expect(&x, 1, "generation|FAILED: the report comes from Genoa", "Genoa");
	}
	x = RUN("verify", "report", turin, "--vcek", turin);
	expect(&x, 1, NULL, "neither a legacy SEV report");
}

static void test_report_sev(void)
{
	_cleanup_free_ char *rep = tu_vector_path("sev-tool/attestation/attestation_report.bin");
	_cleanup_free_ char *bad = tu_vector_path("sev-tool/attestation/attestation_report.bad.bin");
	_cleanup_free_ char *pek = tu_vector_path("sev-tool/attestation/pek.cert");
	struct result x;

	x = RUN("verify", "report", rep, "--pek", pek, "--nonce",
		"404142434445464748494a4b4c4d4e4f", "--measurement",
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	expect(&x, 0, "chain|not checked", NULL);
	x = RUN("verify", "report", bad, "--pek", pek);
	expect(&x, 1, NULL, "signature");
	x = RUN("verify", "report", rep, "--pek", pek, "--nonce",
		"00000000000000000000000000000000");
	expect(&x, 1, NULL, "mnonce");
}

/* ---- fetch, against the stand-in KDS ---- */

struct server {
	pid_t pid;
	char *url, *log;
};

static struct server server_start(const char *exe, char *const routes[])
{
	_cleanup_free_ char *portfile = path_join(tmp, "kds.port");
	char *argv[16] = { (char *)exe, portfile, NULL };
	struct server s = { .log = path_join(tmp, "kds.log") };
	size_t n = 3, plen;
	uint8_t *port = NULL;

	argv[2] = s.log;
	for (size_t i = 0; routes[i]; i++)
		argv[n++] = routes[i];
	argv[n] = NULL;
	_cleanup_free_ char *out = path_join(tmp, "kds-server.out");
	s.pid = tu_spawn(argv, out);
	for (int i = 0; i < 500 && read_full_file(portfile, 16, &port, &plen) < 0; i++)
		usleep(10000);
	TU_CHECK(port, "kds-server wrote its port");
	TU_CHECK(asprintf(&s.url, "http://127.0.0.1:%.*s", (int)plen, (char *)port) > 0, "url");
	free(port);
	return s;
}

static int log_lines(const struct server *s, char **ret)
{
	uint8_t *b = NULL;
	size_t len = 0;
	int n = 0;

	if (read_full_file(s->log, 1 << 20, &b, &len) < 0)
		b = (uint8_t *)strdup(""), len = 0;
	for (size_t i = 0; i < len; i++)
		n += b[i] == '\n';
	if (ret)
		*ret = (char *)b;
	else
		free(b);
	return n;
}

static char *route(const char *target, const char *rel)
{
	char *p = tu_vector_path(rel), *r;

	TU_CHECK(asprintf(&r, "%s=%s", target, p) > 0, "asprintf");
	free(p);
	return r;
}

static void same_file(const char *dir, const char *name, const char *rel)
{
	_cleanup_free_ char *p = path_join(dir, name);
	size_t a, b;
	_cleanup_free_ uint8_t *x = tu_read_file(p, &a), *y = tu_read_vector(rel, &b);

	TU_CHECK(a == b && memcmp(x, y, a) == 0, "%s equals %s", p, rel);
}

static const char *CHIP =
	"d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efa"
	"cfd08e244324884738c72b082e2f87a44d541eb6";

static void test_fetch_vcek(const struct server *s, const char *cache)
{
	_cleanup_free_ char *r = roots(), *rep = tu_vector_path("snp/report_milan.hex");
	_cleanup_free_ char *out = mkdir_in("fetched"), *log = NULL, *want = NULL;
	struct result x;
	int before = log_lines(s, NULL);

	x = RUN("fetch", "vcek", "--report", rep, "--gen", "milan", out, "--kds-url", s->url,
		"--cache", cache);
	expect(&x, 0, "wrote", NULL);
	TU_CHECK_EQ(log_lines(s, &log) - before, 2);
	TU_CHECK(asprintf(&want, "GET /vcek/v1/Milan/%s?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115\n",
			  CHIP) > 0, "asprintf");
	TU_CHECK(strstr(log, want), "the VCEK URL asked for:\n%s", log);
	TU_CHECK(strstr(log, "GET /vcek/v1/Milan/cert_chain\n"), "cert_chain asked for:\n%s", log);
	same_file(out, "vcek.der", "snp/vcek_milan.der");
	same_file(out, "cert_chain", "snp/cert_chain_milan");
	x = RUN("verify", "report", rep, "--certs", out, "--roots", r);
	expect(&x, 0, "every check holds", NULL);
	/* Second run: served from the cache, the server sees nothing. */
	x = RUN("fetch", "vcek", "--report", rep, "--gen", "Milan", out, "--kds-url", s->url,
		"--cache", cache);
	expect(&x, 0, "cached", NULL);
	TU_CHECK_EQ(log_lines(s, NULL) - before, 2);
	/* A version 2 report does not say its generation */
	x = RUN("fetch", "vcek", "--report", rep, out, "--kds-url", s->url, "--cache", cache);
	expect(&x, 1, NULL, "generation");
}

static void test_fetch_404(const struct server *s, const char *cache)
{
	_cleanup_free_ char *out = mkdir_in("f404"), *rep = path_join(tmp, "other-tcb.hex");
	size_t len;
	_cleanup_free_ uint8_t *hex = tu_read_vector("snp/report_milan.hex", &len);
	_cleanup_free_ char *env = NULL;
	struct result x;
	int before = log_lines(s, NULL);

	/* REPORTED_TCB's microcode byte (0x187) changed: no such VCEK on the server */
	hex[2 * 0x187] = '7', hex[2 * 0x187 + 1] = '4';
	TU_CHECK(write_file_atomic(rep, hex, len, 0644) == 0, "write");
	x = RUN("fetch", "vcek", "--report", rep, "--gen", "milan", out, "--kds-url", s->url,
		"--cache", cache);
	expect(&x, 1, NULL, "HTTP 404");
	_cleanup_free_ char *vcek = path_join(out, "vcek.der");
	TU_CHECK(access(vcek, F_OK) < 0, "nothing written on failure");
	/* $SEVADM_KDS_URL is the default base URL */
	TU_CHECK(asprintf(&env, "SEVADM_KDS_URL=%s", s->url) > 0, "env");
	x = run_env(env, (const char *const[]){ "fetch", "ca", "genoa", out, "--cache", cache,
						NULL });
	expect(&x, 1, NULL, "AMD has no such certificate");
	/* the Milan cert_chain came from the cache: two requests, both answered 404 */
	TU_CHECK_EQ(log_lines(s, NULL) - before, 2);
	/* Nobody listening: the error names the network, not sevd, and nothing is written */
	x = RUN("fetch", "ca", "turin", out, "--kds-url", "http://127.0.0.1:1/", "--cache", cache);
	expect(&x, 1, NULL, "fetching http://127.0.0.1:1/vcek/v1/Turin/cert_chain failed");
	_cleanup_free_ char *chain = path_join(out, "cert_chain");
	TU_CHECK(access(chain, F_OK) < 0, "nothing written when the KDS is unreachable");
}

/* Turin end to end: a version 3 report (CPUID family 1Ah) whose REPORTED_TCB and CHIP_ID are
 * those of the Turin VCEK of the vectors; the URL carries the 8-byte hwID and fmcSPL, and the
 * fetched VCEK binds to the report. Default cache under $XDG_CACHE_HOME without --cache. */
static void test_fetch_turin(const struct server *s)
{
	_cleanup_free_ char *rep = path_join(tmp, "turin-v3.bin"), *out = mkdir_in("turin-out");
	_cleanup_free_ char *xdg = mkdir_in("xdg"), *env = NULL, *log = NULL, *cached = NULL;
	uint8_t raw[1184] = { 0 };
	const uint8_t tcb[8] = { 0, 0, 0, 0, 0, 0, 0, 9 }; /* fmc, bl, tee, snp, 0, 0, 0, ucode */
	struct result x;
	int before = log_lines(s, NULL);

	raw[0] = 3, raw[0x188] = 0x1A, raw[0x189] = 0x02, raw[0x34] = 1;
	memcpy(raw + 0x180, tcb, 8);
	memcpy(raw + 0x38, tcb, 8);
	memcpy(raw + 0x1A0, "\x1e\x55\x0a\x8e\xe5\xcf\x9f\x4d", 8);
	TU_CHECK(write_file_atomic(rep, raw, sizeof raw, 0644) == 0, "write");
	/* no --cache: the default under $XDG_CACHE_HOME (never /var/cache/sevd in a test) */
	TU_CHECK(asprintf(&env, "XDG_CACHE_HOME=%s", xdg) > 0, "env");
	x = run_env(env, (const char *const[]){ "fetch", "vcek", "--report", rep, out, "--kds-url",
						s->url, NULL });
	expect(&x, 0, "wrote", NULL);
	TU_CHECK_EQ(log_lines(s, &log) - before, 2);
	TU_CHECK(strstr(log, "GET /vcek/v1/Turin/1e550a8ee5cf9f4d?blSPL=0&teeSPL=0&snpSPL=0&"
			     "ucodeSPL=9&fmcSPL=0\n"),
		 "Turin VCEK URL (8-byte hwID, fmcSPL):\n%s", log);
	same_file(out, "vcek.der", "snp/turin/vcek_turin.der");
	same_file(out, "cert_chain", "snp/turin/cert_chain_turin");
	TU_CHECK(asprintf(&cached, "%s/sevadm/127.0.0.1_%s/%%2Fvcek%%2Fv1%%2FTurin%%2Fcert_chain",
			  xdg, strrchr(s->url, ':') + 1) > 0, "asprintf");
	TU_CHECK(access(cached, F_OK) == 0, "default cache under $XDG_CACHE_HOME: %s", cached);
}

static void test_fetch_ca_cek(const struct server *s)
{
	_cleanup_free_ char *r = roots(), *cache = mkdir_in("cache2"), *ca = mkdir_in("ca"),
			    *cek = mkdir_in("cek"), *rome = mkdir_in("rome"), *log = NULL;
	struct result x;
	char id[129];
	int before = log_lines(s, NULL);

	x = RUN("fetch", "ca", "milan", ca, "--kds-url", s->url, "--cache", cache);
	expect(&x, 0, "fingerprint", NULL);
	same_file(ca, "cert_chain", "snp/cert_chain_milan");
	same_file(ca, "ark.pem", "amd-roots/snp/milan/ark.pem");
	same_file(ca, "ask.pem", "amd-roots/snp/milan/ask.pem");
	x = RUN("verify", "chain", ca, "--roots", r);
	expect(&x, 0, "ASK signed by ARK", NULL);
	for (int i = 0; i < 64; i++)
		snprintf(id + 2 * i, 3, "%02x", 0xa0 + (i & 0x0f));
	x = RUN("fetch", "cek", "--id", id, cek, "--kds-url", s->url, "--cache", cache);
	expect(&x, 0, "cek.cert", NULL);
	same_file(cek, "cek.cert", "sev-chains/milan/cek.cert");
	x = RUN("fetch", "ca", "rome", rome, "--ca-url", s->url, "--cache", cache);
	expect(&x, 0, "ask_ark_rome.cert", NULL);
	TU_CHECK_EQ(log_lines(s, &log) - before, 3);
	TU_CHECK(strstr(log, "GET /cek/id/A0A1A2A3"), "CEK id in upper case:\n%s", log);
	{
		_cleanup_free_ char *got = path_join(rome, "ask_ark_rome.cert");
		_cleanup_free_ char *served = path_join(tmp, "ask_ark_rome.cert");
		size_t a, b;
		_cleanup_free_ uint8_t *x1 = tu_read_file(got, &a), *x2 = tu_read_file(served, &b);

		TU_CHECK(a == b && a == 1600 * 2 && memcmp(x1, x2, a) == 0, "ask_ark_rome.cert");
	}
}

static char *rome_pair(void)
{
	size_t a, b;
	_cleanup_free_ uint8_t *ask = tu_read_vector("amd-roots/sev/rome/ask.cert", &a);
	_cleanup_free_ uint8_t *ark = tu_read_vector("amd-roots/sev/rome/ark.cert", &b);
	char *p = path_join(tmp, "ask_ark_rome.cert");
	_cleanup_free_ uint8_t *both = malloc(a + b);

	memcpy(both, ask, a);
	memcpy(both + a, ark, b);
	TU_CHECK(write_file_atomic(p, both, a + b, 0644) == 0, "write");
	return p;
}

/* On a terminal, each document of the chain is a step with its bytes ("[2/2] fetching VCEK
 * from HOST: 1,360/1,360 bytes done"); a cache hit says so; a refusal ends its line with
 * "failed". On a pipe or with --json, stderr has none of it. */
static void test_fetch_progress(const struct server *s)
{
	_cleanup_free_ char *rep = tu_vector_path("snp/report_milan.hex"), *cache = mkdir_in("cache-tty");
	_cleanup_free_ char *out = mkdir_in("fetched-tty"), *host = NULL, *chain = NULL, *vcek = NULL;
	_cleanup_free_ char *chain_hit = NULL, *vcek_hit = NULL, *genoa = NULL;
	struct result x;
	int before = log_lines(s, NULL);

	host = strdup(s->url + strlen("http://"));
	TU_CHECK(host && asprintf(&chain, "[1/2] fetching Milan ASK+ARK from %s: 4,602/4,602 bytes "
				  "done", host) > 0 &&
			 asprintf(&vcek, "[2/2] fetching VCEK from %s: 1,360/1,360 bytes done", host) > 0 &&
			 asprintf(&genoa, "[1/1] fetching Genoa ASK+ARK from %s: ", host) > 0,
		 "asprintf");
	chain_hit = strdup("[1/2] Milan ASK+ARK from the cache: 4,602 bytes, no request");
	vcek_hit = strdup("[2/2] VCEK from the cache: 1,360 bytes, no request");
	x = RUN_TTY("fetch", "vcek", "--report", rep, "--gen", "milan", out, "--kds-url", s->url,
		    "--cache", cache);
	TU_CHECK(strstr(x.err, chain) && strstr(x.err, vcek), "the terminal showed:\n%s", x.err);
	TU_CHECK(!strstr(x.err, "from the cache"), "a cache hit on an empty cache:\n%s", x.err);
	expect(&x, 0, "fetched ", NULL);
	TU_CHECK_EQ(log_lines(s, NULL) - before, 2);
	/* the same again: both from the cache, no request */
	x = RUN_TTY("fetch", "vcek", "--report", rep, "--gen", "milan", out, "--kds-url", s->url,
		    "--cache", cache);
	TU_CHECK(strstr(x.err, chain_hit) && strstr(x.err, vcek_hit) && !strstr(x.err, "fetching"),
		 "the terminal showed:\n%s", x.err);
	expect(&x, 0, "cached ", NULL);
	TU_CHECK_EQ(log_lines(s, NULL) - before, 2);
	/* a pipe, or --json on a terminal: nothing of it */
	x = RUN("fetch", "ca", "milan", out, "--kds-url", s->url, "--cache", cache);
	TU_CHECK(!strstr(x.err, "[1/1]") && !strchr(x.err, '\r'), "progress on a pipe:\n%s", x.err);
	expect(&x, 0, "cached ", NULL);
	x = RUN_TTY("--json", "fetch", "ca", "milan", out, "--kds-url", s->url, "--cache", cache);
	TU_CHECK(!strstr(x.err, "[1/1]"), "progress with --json:\n%s", x.err);
	expect(&x, 0, NULL, NULL);
	/* a document the service does not have: its line ends "failed", then the reason */
	x = RUN_TTY("fetch", "ca", "genoa", out, "--kds-url", s->url, "--cache", cache);
	TU_CHECK(strstr(x.err, genoa) && strstr(x.err, " failed") &&
			 strstr(x.err, "AMD has no such certificate"), "the terminal showed:\n%s", x.err);
	expect(&x, 1, NULL, NULL);
}

static void test_fetch(const char *server_exe)
{
	_cleanup_free_ char *cache = NULL, *vcek_target = NULL, *cek_target = NULL;
	_cleanup_free_ char *rome = NULL, *rome_route = NULL;
	char id[129];

	for (int i = 0; i < 64; i++)
		snprintf(id + 2 * i, 3, "%02X", 0xa0 + (i & 0x0f));
	TU_CHECK(asprintf(&vcek_target, "/vcek/v1/Milan/%s?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115",
			  CHIP) > 0, "asprintf");
	TU_CHECK(asprintf(&cek_target, "/cek/id/%s", id) > 0, "asprintf");
	rome = rome_pair();
	TU_CHECK(asprintf(&rome_route, "/ask_ark_rome.cert=%s", rome) > 0, "asprintf");
	char *routes[] = { route(vcek_target, "snp/vcek_milan.der"),
			   route("/vcek/v1/Milan/cert_chain", "snp/cert_chain_milan"),
			   route(cek_target, "sev-chains/milan/cek.cert"),
			   route("/vcek/v1/Turin/1e550a8ee5cf9f4d?blSPL=0&teeSPL=0&snpSPL=0&ucodeSPL=9"
				 "&fmcSPL=0", "snp/turin/vcek_turin.der"),
			   route("/vcek/v1/Turin/cert_chain", "snp/turin/cert_chain_turin"),
			   rome_route, NULL };
	struct server s = server_start(server_exe, routes);
	cache = mkdir_in("cache");
	test_fetch_vcek(&s, cache);
	test_fetch_404(&s, cache);
	test_fetch_ca_cek(&s);
	test_fetch_turin(&s);
	test_fetch_progress(&s);
	TU_CHECK(tu_stop(s.pid, 2000) == 0, "kds-server exits cleanly");
	for (int i = 0; i < 5; i++)
		free(routes[i]);
	free(s.url);
	free(s.log);
}

int main(int argc, char **argv)
{
	sevadm = getenv("SEVADM_EXE");
	if (!sevadm || access(sevadm, X_OK) < 0)
		tu_skip("sevadm is not built (SEVADM_EXE)");
	if (argc < 2 || access(argv[1], X_OK) < 0)
		tu_skip("kds-server test helper not given");
	tmp = tu_mkdtemp();
	test_chain_snp();
	test_chain_sev_and_errors();
	{
		_cleanup_free_ char *certs = milan_certs();

		test_report_snp(certs);
		test_report_snp_output(certs);
		test_report_flips(certs);
		test_report_expectations(certs);
	}
	test_report_sev();
	test_fetch(argv[1]);
	tu_rmtree(tmp);
	free(tmp);
	tu_done("test-cli-verify");
}
