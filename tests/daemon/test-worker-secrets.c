/* The worker holds no token hash and no token config line ("Bearer tokens: the core
 * alone holds the token hashes"). Against a real sevd (root, privilege-separated, on its own
 * sev-psp-emu) with four `token =` lines: authenticated requests over TCP with each token (and
 * a bad one), then, as root, every readable mapping of the worker process read through
 * /proc/PID/maps + /proc/PID/mem and searched for each configured SHA-256, as raw bytes and
 * as hex (lower and upper case): none may be there. The same scan of the core must find the
 * raw hashes (it keeps them to decide), so the scanner is shown to see what it looks for.
 * Fails on a worker that parses the token lines into its config, checks tokens itself, or
 * leaves the config file's text in freed memory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "common/macros.h"
#include "common/util.h"
#include "tests/curlutil.h"
#include "tests/daemon/guest-client.h"
#include "tests/testutil.h"

#define N_TOKENS 4
#define REGION_MAX (512ul << 20) /* larger mappings are sanitizer shadow or reserves */

static const char *const tokens[N_TOKENS] = {
	"secrets-admin-token-1",
	"secrets-reader-token-2",
	"secrets-launcher-acme-3",
	"secrets-migrator-4",
};
static const char *const roles[N_TOKENS] = {"admin", "reader", "launcher:tenant", "migrator"};

struct needle {
	uint8_t raw[32];
	char lower[65], upper[65];
};

static void make_needle(const char *token, struct needle *n)
{
	unsigned int len = 0;

	TU_CHECK(EVP_Digest(token, strlen(token), n->raw, &len, EVP_sha256(), NULL) == 1 &&
			 len == 32,
		 "sha256");
	for (unsigned i = 0; i < 32; i++) {
		snprintf(n->lower + 2 * i, 3, "%02x", n->raw[i]);
		snprintf(n->upper + 2 * i, 3, "%02X", n->raw[i]);
	}
}

static pid_t find_worker(pid_t core)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	TU_CHECK(d, "opendir /proc");
	while ((e = readdir(d)) && !found) {
		char path[64], buf[4096];
		pid_t pid = (pid_t)atoi(e->d_name), ppid = 0;
		FILE *f;
		size_t n;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if (!(f = fopen(path, "re")))
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		if (!strrchr(buf, ')') || sscanf(strrchr(buf, ')') + 2, "%*c %d", &ppid) != 1 ||
		    ppid != core)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		if (!(f = fopen(path, "re")))
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (size_t i = 0; i + 1 < n; i++)
			if (buf[i] == '\0' && !strncmp(buf + i + 1, "--worker", 9))
				found = pid;
	}
	closedir(d);
	return found;
}

struct hits {
	unsigned raw[N_TOKENS], hex[N_TOKENS];
	size_t scanned;
};

/* Search buf for every needle; a region's chunks overlap by 64 bytes so nothing straddles. */
static void search(const uint8_t *buf, size_t len, const struct needle *nd, struct hits *h)
{
	for (unsigned t = 0; t < N_TOKENS; t++) {
		if (memmem(buf, len, nd[t].raw, 32))
			h->raw[t]++;
		if (memmem(buf, len, nd[t].lower, 64) || memmem(buf, len, nd[t].upper, 64))
			h->hex[t]++;
	}
}

/* Every readable mapping of pid, through /proc/PID/mem, in 1 MiB reads that overlap by 64
 * bytes so that no needle straddles two reads unseen. */
static void scan(pid_t pid, const struct needle *nd, struct hits *h)
{
	const size_t chunk = 1u << 20, overlap = 64;
	/* The reads go through buf, not through owner: the cleanup takes owner's address, so
	 * the compiler cannot keep its checked value and would see a NULL reach memmem. */
	_cleanup_free_ uint8_t *owner = malloc(chunk + overlap);
	uint8_t *const buf = owner;
	char path[64], line[512];
	FILE *maps;
	int mem;

	TU_CHECK(buf, "alloc");
	memset(h, 0, sizeof(*h));
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "re");
	TU_CHECK(maps, "open %s: %m", path);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	TU_CHECK(mem >= 0, "open %s: %m", path);
	while (fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[8] = "";

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r')
			continue;
		if (strstr(line, "[vvar") || strstr(line, "[vsyscall]") || hi - lo > REGION_MAX)
			continue;
		for (unsigned long a = lo; a < hi; a += chunk) {
			unsigned long from = a > lo + overlap ? a - overlap : lo;
			size_t want = (size_t)(MIN(hi, a + chunk) - from);
			ssize_t n = pread(mem, buf, want, (off_t)from);

			if (n <= 0)
				continue; /* an unreadable part (guard pages): nothing to find there */
			search(buf, (size_t)n, nd, h);
			h->scanned += (size_t)n;
		}
	}
	close(mem);
	fclose(maps);
}

/* One request over the TCP listener with a bearer token, through the real worker. */
static long http(int port, const char *method, const char *path, const char *token,
		 const char *body)
{
	return tu_curl_bearer(port, method, path, token, body, NULL, 0);
}

static void run(void)
{
	_cleanup_free_ char *dir = NULL, *esock = NULL, *conf = NULL;
	struct needle nd[N_TOKENS];
	struct gc_daemon d = {0};
	struct tu_emu emu;
	struct hits hw, hc;
	char text[2048], listen[64];
	size_t off = 0;
	int port;
	pid_t w;
	FILE *f;

	dir = tu_mkdtemp();
	TU_CHECK_EQ(tu_emu_start(dir, NULL, &emu), 0);
	esock = strdup(emu.socket);
	port = tu_free_port();
	snprintf(listen, sizeof(listen), "--listen=tcp:127.0.0.1:%d", port);
	conf = path_join(dir, "sevd.conf");
	TU_CHECK(esock && conf, "alloc");
	for (unsigned t = 0; t < N_TOKENS; t++) {
		make_needle(tokens[t], &nd[t]);
		if (!strcmp(roles[t], "launcher:tenant"))
			off += (size_t)snprintf(text + off, sizeof(text) - off,
						"token = launcher:sha256:%s:tenant=acme\n",
						nd[t].lower);
		else
			off += (size_t)snprintf(text + off, sizeof(text) - off,
						"token = %s:sha256:%s\n", roles[t], nd[t].lower);
	}
	snprintf(text + off, sizeof(text) - off, "allow_plain_tcp = yes\n");
	f = fopen(conf, "we");
	TU_CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", conf);
	d = (struct gc_daemon){.dir = dir, .emu_sock = esock, .extra_arg = listen, .config = conf};
	TU_CHECK(gc_start(&d, true), "sevd start (log %s)", d.log);
	TU_CHECK(tu_wait_tcp(port, 10000), "sevd's TCP listener on %d (log %s)", port, d.log);

	/* Authenticated requests: each token as its role allows, a bad token, a launch. */
	for (unsigned t = 0; t < N_TOKENS; t++)
		TU_CHECK(http(port, "GET", "/v1/platform", tokens[t], NULL) == 200,
			 "GET /v1/platform with the %s token (log %s)", roles[t], d.log);
	TU_CHECK(http(port, "GET", "/v1/platform", "secrets-not-a-token", NULL) == 401,
		 "a bad token is answered 401 (log %s)", d.log);
	TU_CHECK(http(port, "POST", "/v1/platform/pdh", tokens[1], NULL) == 403,
		 "the reader's token may not generate a PDH (log %s)", d.log);
	TU_CHECK(http(port, "POST", "/v1/guests", tokens[2], "{\"policy\": 0}") == 201,
		 "the launcher's token launches (log %s)", d.log);
	TU_CHECK(http(port, "GET", "/v1/guests", tokens[2], NULL) == 200, "the launcher lists");
	TU_CHECK(http(port, "GET", "/metrics", tokens[0], NULL) == 200, "the admin's metrics");

	w = find_worker(d.pid);
	TU_CHECK(w > 0, "sevd (pid %d) has a --worker child (log %s)", (int)d.pid, d.log);
	scan(w, nd, &hw);
	scan(d.pid, nd, &hc);
	printf("worker pid %d: %zu bytes scanned; core pid %d: %zu bytes scanned\n", (int)w,
	       hw.scanned, (int)d.pid, hc.scanned);
	TU_CHECK(hw.scanned > (1u << 20), "the worker's memory was read (%zu bytes)", hw.scanned);
	for (unsigned t = 0; t < N_TOKENS; t++) {
		TU_CHECK(hw.raw[t] == 0, "the worker holds the %s token's hash (raw bytes, %u reads)",
			 roles[t], hw.raw[t]);
		TU_CHECK(hw.hex[t] == 0,
			 "the worker holds the %s token's hash as hex (its config line, %u reads)",
			 roles[t], hw.hex[t]);
		/* The control: the core keeps every hash, and the scan finds it there. */
		TU_CHECK(hc.raw[t] > 0, "the scan finds the %s token's hash in the core", roles[t]);
	}
	gc_stop(&d, false);
	tu_emu_stop(&emu);
	tu_rmtree(dir);
	free(d.log);
	free(d.sock);
}

int main(void)
{
	if (geteuid() != 0)
		tu_skip("not root: reading the worker's /proc/PID/mem needs CAP_SYS_PTRACE (CI runs "
			"as root)");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	run();
	curl_global_cleanup();
	tu_done("daemon-worker-secrets");
}
