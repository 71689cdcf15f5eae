/* The guest lifecycle end to end, as a guest owner, an orchestrator and a host operator do it,
 * through the real binaries only (sevadm, sevd, sev-psp-emu; no library shortcut):
 *
 *   operator:      sevadm export --full certs         (Unix socket, admin)
 *   owner:         sevadm verify chain certs --emulator-root ARK   (the emulator's root, taken
 *                  from the emulator itself, not from what sevd exported)
 *                  sevadm session --name owner certs/pdh.cert POLICY
 *   orchestrator:  sevadm launch IMAGE --session-dir . --name owner   (TCP, launcher token)
 *   owner:         sevadm measure H                   (TCP, owner token)
 *                  recompute: sevadm measurement build with the TIK, --launch-digest = SHA-256
 *                  of the image computed here (EVP), API version and build from `sevadm show
 *                  platform --json`; compare byte for byte
 *                  sevadm secret build (sevctl format) → orchestrator: sevadm secret inject
 *   orchestrator:  sevadm finish, sevadm activate
 *   operator:      sevadm show guests → RUNNING with the ASID
 *   owner:         sevadm attest H --nonce N → sevadm verify report against the exported chain
 *   host memory:   every memfd sevd holds for guests (read through /proc/PID/fd) contains no
 *                  16-byte window of the image or of the secret; the emulator's plaintext view
 *                  (CTL guest-memfd: the guest's side) does contain both — so the search works
 *   operator:      sevadm decommission H → show guests: gone; the ASID awaits DF_FLUSH. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/emu-wire.h"
#include "psp/sev-abi.h"
#include "tests/cli/test-cli-guest-util.h"

#define POLICY "0x1" /* NODBG */
#define IMAGE_SIZE ((2u << 20) + 4096u) /* three 1 MiB LAUNCH_UPDATE_DATA chunks; 16-aligned */
#define SECRET_GPA 0x300000u /* after the image: where this guest's firmware wants its secret */
#define SECRET_GPA_S "0x300000"
#define SECRET_GUID "736869e5-84f0-4973-92ec-06879ce3da0b"

static struct tg_daemon d;

/* sevadm as the orchestrator (launcher token over TCP) or the owner (owner token over TCP). */
#define AS_LAUNCHER(...) TG_CLI("--daemon", d.tcp_ep, "--token", d.launcher_token, __VA_ARGS__)
#define AS_OWNER(...) TG_CLI("--daemon", d.tcp_ep, "--token", d.owner_token, __VA_ARGS__)
/* The operator: root on the Unix socket ($SEVD_SOCKET). */
#define AS_OPERATOR(...) TG_CLI(__VA_ARGS__)

static char *first_line(struct tg_run *r)
{
	r->out[strcspn(r->out, "\n")] = 0;
	return r->out;
}

/* ---- memory ---- */

static uint8_t *map_fd(int fd, size_t *ret_len)
{
	struct stat st;
	uint8_t *p;

	TU_CHECK(fstat(fd, &st) == 0 && st.st_size > 0, "fstat memfd: %m");
	p = malloc((size_t)st.st_size);
	TU_CHECK(p, "out of memory");
	TU_CHECK(pread(fd, p, (size_t)st.st_size, 0) == st.st_size, "read memfd: %m");
	*ret_len = (size_t)st.st_size;
	return p;
}

static uint64_t win_hash(const uint8_t *p)
{
	uint64_t a, b;

	memcpy(&a, p, 8);
	memcpy(&b, p + 8, 8);
	return (a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
}

/* Does any 16-byte-aligned 16-byte block of needle occur anywhere in hay, at any offset? (Any
 * copy of 32 or more needle bytes contains such a block.) The needle's blocks go into a hash
 * table; every offset of hay is looked up once: O(hay + needle). */
static bool any_window(const uint8_t *hay, size_t hay_len, const uint8_t *needle, size_t len)
{
	size_t cap = 1, mask;
	uint32_t *tab; /* block index + 1; 0 = empty */
	bool found = false;

	if (hay_len < 16 || len < 16)
		return false;
	while (cap < 4 * (len / 16))
		cap <<= 1;
	mask = cap - 1;
	tab = calloc(cap, sizeof(*tab));
	TU_CHECK(tab, "out of memory");
	for (size_t j = 0; j + 16 <= len; j += 16) {
		size_t k = win_hash(needle + j) & mask;
		while (tab[k])
			k = (k + 1) & mask;
		tab[k] = (uint32_t)(j / 16) + 1;
	}
	for (size_t i = 0; !found && i + 16 <= hay_len; i++)
		for (size_t k = win_hash(hay + i) & mask; tab[k] && !found; k = (k + 1) & mask)
			found = memcmp(needle + (size_t)(tab[k] - 1) * 16, hay + i, 16) == 0;
	free(tab);
	return found;
}

/* Every memfd sevd holds for guest memory ("/memfd:sevd-guest"), read through /proc. */
static unsigned check_host_memory(const uint8_t *image, size_t image_len, const uint8_t *secret,
				  size_t secret_len)
{
	char dirp[64], link[PATH_MAX], target[256];
	unsigned seen = 0;
	struct dirent *e;
	DIR *dir;

	snprintf(dirp, sizeof(dirp), "/proc/%d/fd", (int)d.pid);
	dir = opendir(dirp);
	TU_CHECK(dir, "opendir %s: %m", dirp);
	while ((e = readdir(dir))) {
		ssize_t n;
		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dirp, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		if (!strstr(target, "memfd:sevd-guest"))
			continue;
		int fd = open(link, O_RDONLY | O_CLOEXEC);
		TU_CHECK(fd >= 0, "open %s (%s): %m", link, target);
		size_t len = 0;
		_cleanup_free_ uint8_t *mem = map_fd(fd, &len);
		close(fd);
		TU_CHECK(!any_window(mem, len, image, image_len),
			 "sevd's guest memory %s holds plaintext of the image", link);
		TU_CHECK(!any_window(mem, len, secret, secret_len),
			 "sevd's guest memory %s holds plaintext of the secret", link);
		seen++;
	}
	closedir(dir);
	return seen;
}

/* The guest's own view (the emulator's plaintext copy, for hv-glue): image and secret there. */
static void check_guest_view(unsigned handle, const uint8_t *image, size_t image_len,
			     const uint8_t *secret, size_t secret_len)
{
	char line[64], text[256] = "";
	int fd = -1;

	snprintf(line, sizeof(line), "guest-memfd %u", handle);
	tg_emu_ctl(&d, line, (uint8_t *)text, sizeof(text) - 1, &fd);
	TU_CHECK(fd >= 0, "guest-memfd sent no descriptor: %s", text);
	size_t len = 0;
	_cleanup_free_ uint8_t *view = map_fd(fd, &len);
	close(fd);
	TU_CHECK(len >= image_len && memcmp(view, image, image_len) == 0,
		 "the guest's view (%zu bytes: %s) does not start with the image", len, text);
	/* The search that found nothing in sevd's memory finds both here: it can fail. */
	TU_CHECK(any_window(view, len, image, image_len) && any_window(view, len, secret, secret_len),
		 "the plaintext search misses plaintext");
	TU_CHECK(len > SECRET_GPA + 4096 && memmem(view + SECRET_GPA, 4096, secret, secret_len),
		 "the injected secret is not in the guest's memory at " SECRET_GPA_S);
}

/* ---- the steps ---- */

static void sha256_file(const char *path, uint8_t md[32])
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = tu_read_file(path, &len);
	unsigned mdlen = 0;

	TU_CHECK(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32, "sha256");
}

struct platform {
	char api_major[8], api_minor[8], build[8];
};

static struct platform platform_version(void)
{
	struct tg_run r = AS_OWNER("--json", "show", "platform");
	struct platform p;
	json_object *j;

	TG_EXPECT(r, 0, NULL, NULL);
	j = tg_json(&r);
	snprintf(p.api_major, sizeof(p.api_major), "%d",
		 json_object_get_int(tg_get(j, "api_major", json_type_int)));
	snprintf(p.api_minor, sizeof(p.api_minor), "%d",
		 json_object_get_int(tg_get(j, "api_minor", json_type_int)));
	snprintf(p.build, sizeof(p.build), "%d", json_object_get_int(tg_get(j, "build", json_type_int)));
	json_object_put(j);
	tg_run_clear(&r);
	return p;
}

static json_object *guest_entry(unsigned handle)
{
	struct tg_run r = AS_OPERATOR("--json", "show", "guests");
	json_object *j, *list, *found = NULL;

	TG_EXPECT(r, 0, NULL, NULL);
	j = tg_json(&r);
	list = tg_get(j, "guests", json_type_array);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *g = json_object_array_get_idx(list, i);
		if ((unsigned)json_object_get_int(tg_get(g, "handle", json_type_int)) == handle)
			found = json_object_get(g);
	}
	json_object_put(j);
	tg_run_clear(&r);
	return found;
}

/* Operator exports, owner verifies the chain and makes a session for the PDH. */
static void owner_prepares(const char *roots, const char *ark)
{
	struct tg_run r = AS_OPERATOR("export", "--full", "certs");

	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
	/* Without the emulator's root named, the chain reaches no trusted root. */
	r = TG_CLI("verify", "chain", "certs", "--roots", roots);
	TG_EXPECT(r, 1, NULL, NULL);
	tg_run_clear(&r);
	r = TG_CLI("verify", "chain", "certs", "--roots", roots, "--emulator-root", ark);
	TG_EXPECT(r, 0, "PDH signed by PEK", NULL);
	tg_run_clear(&r);
	r = TG_CLI("session", "--name", "owner", "certs/pdh.cert", POLICY);
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
	TU_CHECK(access("owner_godh.b64", R_OK) == 0 && access("owner_session.b64", R_OK) == 0 &&
			 access("owner_tik.bin", R_OK) == 0 && access("owner_tek.bin", R_OK) == 0,
		 "session files missing");
}

static unsigned orchestrator_launches(const char *image)
{
	struct tg_run r = AS_LAUNCHER("--json", "launch", image, "--session-dir", ".", "--name",
				      "owner", "--policy", POLICY, "--tenant", "acme");
	json_object *j;
	unsigned h;

	TG_EXPECT(r, 0, NULL, NULL);
	j = tg_json(&r);
	h = (unsigned)json_object_get_int(tg_get(j, "handle", json_type_int));
	TU_CHECK(h > 0, "handle");
	TU_CHECK_EQ(json_object_get_int64(tg_get(j, "bytes", json_type_int)), IMAGE_SIZE);
	json_object_put(j);
	tg_run_clear(&r);
	return h;
}

/* The owner's measurement check: fetch it, then recompute it offline from the image digest
 * (computed here), the TIK and the platform's version; the two must be equal. */
static char *owner_verifies_measurement(unsigned h, const char *image, uint8_t digest[32])
{
	char hs[16];
	struct platform p = platform_version();
	struct tg_run r;

	snprintf(hs, sizeof(hs), "%u", h);
	r = AS_OWNER("measure", hs, "--outfile", "owner.blob");
	TG_EXPECT(r, 0, NULL, NULL);
	char *measured = strdup(first_line(&r));
	tg_run_clear(&r);
	TU_CHECK(measured && strlen(measured) == 64, "measure printed '%s'", measured);

	sha256_file(image, digest);
	_cleanup_free_ char *d64 = base64_encode(digest, 32);
	r = TG_CLI("measurement", "build", "--api-major", p.api_major, "--api-minor", p.api_minor,
		   "--build-id", p.build, "--policy", POLICY, "--tik", "owner_tik.bin",
		   "--launch-measure-blob", "owner.blob", "--launch-digest", d64);
	TG_EXPECT(r, 0, NULL, NULL);
	TU_CHECK(strcmp(first_line(&r), measured) == 0,
		 "recomputed measurement %s differs from the platform's %s", r.out, measured);
	tg_run_clear(&r);
	/* and sevadm measure's own verification agrees */
	r = AS_OWNER("measure", hs, "--tik", "owner_tik.bin", "--launch-digest", d64);
	TG_EXPECT(r, 0, measured, "Measurement verified");
	tg_run_clear(&r);
	return measured;
}

static void owner_injects_secret(unsigned h, const char *secret_file)
{
	char hs[16], spec[128];
	struct tg_run r;

	snprintf(hs, sizeof(hs), "%u", h);
	snprintf(spec, sizeof(spec), "%s:%s", SECRET_GUID, secret_file);
	r = TG_CLI("secret", "build", "--tik", "owner_tik.bin", "--tek", "owner_tek.bin",
		   "--launch-measure-blob", "owner.blob", "--pek", "certs/pek.cert", "--secret", spec,
		   "secret.hdr", "secret.pay");
	TG_EXPECT(r, 0, "Wrote header to: secret.hdr", NULL);
	tg_run_clear(&r);
	r = AS_LAUNCHER("secret", "inject", hs, "--header", "secret.hdr", "--payload", "secret.pay",
			"--address", SECRET_GPA_S);
	TG_EXPECT(r, 0, "Secret injected", NULL);
	tg_run_clear(&r);
}

static unsigned orchestrator_runs(unsigned h)
{
	char hs[16];
	struct tg_run r;
	unsigned asid;

	snprintf(hs, sizeof(hs), "%u", h);
	r = AS_LAUNCHER("finish", hs);
	TG_EXPECT(r, 0, "state RUNNING", NULL);
	tg_run_clear(&r);
	r = AS_LAUNCHER("activate", hs);
	TG_EXPECT(r, 0, NULL, NULL);
	asid = (unsigned)atoi(r.out);
	tg_run_clear(&r);
	TU_CHECK(asid >= 5 && asid <= 15, "ASID %u outside the SEV range 5..15", asid);

	json_object *g = guest_entry(h);
	TU_CHECK(g, "guest %u not listed", h);
	TU_CHECK(strcmp(json_object_get_string(tg_get(g, "state", json_type_string)), "RUNNING") == 0,
		 "state: %s", json_object_to_json_string(g));
	TU_CHECK_EQ(json_object_get_int(tg_get(g, "asid", json_type_int)), asid);
	TU_CHECK(strcmp(json_object_get_string(tg_get(g, "tenant", json_type_string)), "acme") == 0,
		 "tenant");
	json_object_put(g);
	r = AS_OPERATOR("show", "guests");
	TG_EXPECT(r, 0, "RUNNING", NULL);
	TU_CHECK(strstr(r.out, "owner") && strstr(r.out, "NODBG") && strstr(r.out, "acme"),
		 "show guests: %s", r.out);
	tg_run_clear(&r);
	return asid;
}

static void owner_attests(unsigned h, const char *roots, const char *ark, const uint8_t digest[32])
{
	const char *nonce = "00112233445566778899aabbccddeeff";
	_cleanup_free_ char *dhex = hex_encode(digest, 32);
	char hs[16];
	struct tg_run r;

	snprintf(hs, sizeof(hs), "%u", h);
	r = AS_OWNER("attest", hs, "--nonce", nonce, "--outfile", "report.bin");
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
	r = TG_CLI("verify", "report", "report.bin", "--chain", "certs", "--roots", roots,
		   "--emulator-root", ark, "--nonce", nonce, "--measurement", dhex);
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
	/* Against the exported PEK alone (the signature, nonce and digest; no chain). */
	r = TG_CLI("verify", "report", "report.bin", "--pek", "certs/pek.cert", "--nonce", nonce,
		   "--measurement", dhex);
	TG_EXPECT(r, 0, NULL, NULL);
	tg_run_clear(&r);
	/* A flipped byte of the signed report: the signature no longer holds. */
	size_t len = 0;
	_cleanup_free_ uint8_t *rep = tu_read_file("report.bin", &len);
	TU_CHECK_EQ(len, sizeof(struct sev_attestation_report));
	rep[0x20] ^= 1;
	TU_CHECK(write_file_new("report-flipped.bin", rep, len, 0644) == 0, "write");
	r = TG_CLI("verify", "report", "report-flipped.bin", "--pek", "certs/pek.cert");
	TG_EXPECT(r, 1, NULL, NULL);
	tg_run_clear(&r);
	/* Another nonce than the one asked for: refused (the report is bound to its nonce). */
	r = TG_CLI("verify", "report", "report.bin", "--chain", "certs", "--roots", roots,
		   "--emulator-root", ark, "--nonce", "ffeeddccbbaa99887766554433221100");
	TG_EXPECT(r, 1, NULL, "mnonce");
	tg_run_clear(&r);
}

static void operator_decommissions(unsigned h, unsigned asid)
{
	char hs[16];
	struct tg_run r;

	snprintf(hs, sizeof(hs), "%u", h);
	r = AS_OPERATOR("decommission", hs);
	TG_EXPECT(r, 0, "decommissioned", NULL);
	tg_run_clear(&r);
	TU_CHECK(!guest_entry(h), "guest %u still listed after decommission", h);
	r = AS_OPERATOR("show", "guests");
	TG_EXPECT(r, 0, "No guests.", NULL);
	tg_run_clear(&r);
	r = AS_OWNER("measure", hs);
	TG_EXPECT(r, 1, NULL, "no such guest");
	tg_run_clear(&r);
	/* The ASID is not lost: free again, or waiting for the next DF_FLUSH. */
	r = AS_OPERATOR("--json", "show", "asids");
	TG_EXPECT(r, 0, NULL, NULL);
	json_object *j = tg_json(&r);
	TU_CHECK_EQ(json_object_get_int(tg_get(j, "used", json_type_int)), 0);
	(void)asid;
	json_object_put(j);
	tg_run_clear(&r);
}

/* The whole story; returns so its cleanups run before tu_done() exits (LSan). */
static void run(void)
{
	_cleanup_free_ char *roots = NULL, *ark = NULL, *image = NULL, *secret_file = NULL;
	uint8_t digest[32];
	size_t image_len = 0, secret_len = 0;

	roots = tu_vector_path("amd-roots");
	tg_daemon_start(&d, NULL, NULL);
	ark = tg_emulator_root(&d);
	image = tg_make_image("guest.img", IMAGE_SIZE);
	secret_file = tg_make_image("disk-passphrase", 48);
	_cleanup_free_ uint8_t *img = tu_read_file(image, &image_len);
	_cleanup_free_ uint8_t *sec = tu_read_file(secret_file, &secret_len);

	owner_prepares(roots, ark);
	unsigned h = orchestrator_launches(image);
	TU_CHECK(check_host_memory(img, image_len, sec, secret_len) >= 1,
		 "sevd holds no guest memfd (/memfd:sevd-guest) after a launch");
	_cleanup_free_ char *measured = owner_verifies_measurement(h, image, digest);
	owner_injects_secret(h, secret_file);
	unsigned asid = orchestrator_runs(h);
	owner_attests(h, roots, ark, digest);
	TU_CHECK(check_host_memory(img, image_len, sec, secret_len) >= 1,
		 "sevd holds no guest memfd after activate");
	check_guest_view(h, img, image_len, sec, secret_len);
	operator_decommissions(h, asid);
	tg_daemon_stop(&d);
}

int main(void)
{
	tg_init("test-e2e-guest");
	TU_CHECK(chdir(tg_dir) == 0, "chdir %s: %m", tg_dir);
	run();
	tu_rmtree(tg_dir);
	free(tg_dir);
	tu_done("test-e2e-guest");
}
