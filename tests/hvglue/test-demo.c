/* The demo (owner and VMM in one process) end to end: the real sev-psp-emu and sevd, and `sev-run
 * --daemon unix:… --demo` as the guest owner and the VMM. The emulator models a part with one
 * plain-SEV ASID (CPUID 8000_001F ECX = EDX = 4), so the second guest can only run on the first
 * one's ASID.
 *
 *   1. sev-run --demo with a random secret: exit 0, and its stdout holds
 *      `SECRET-SHA256 <hex>` equal to OpenSSL's SHA-256 of the secret (the guest computed it
 *      under KVM from the page LAUNCH_SECRET wrote).
 *   2. host-visible memory: every guest memfd sevd holds (read through /proc) contains no
 *      16-byte window of the secret page or of the image; the emulator's plaintext view (CTL
 *      guest-memfd, the guest's side) does — so the search can find what it looks for.
 *   3. a VMM of our own subscribed to sevd's grant stream: GRANT(handle, ASID) arrives; a VMCB
 *      bound through it passes the gate (first entry flushes the TLB, the next one does not).
 *   4. DELETE the guest: REVOKE arrives before it is gone; the same VMCB and grant are refused
 *      by the gate (grant-revoked), and the KVM runner refuses to enter (no KVM_RUN at all).
 *   5. the ASID waits for DF_FLUSH (listed pending); a second sev-run --demo gets the same ASID
 *      only after sevd's flush count rose, under a newer grant generation, and binding the
 *      SAME VMCB on the same CPU to it requests TLB_CONTROL = FLUSH_ASID.
 *   6. the migration leg: a second emulator (another chip: its own keys) and sevd, B. A third
 *      demo guest with a fresh secret runs on A; `sevadm migrate` moves it to B (A's sevd.conf
 *      names B's ASK and ARK as its emulated migration root); A's grant stream REVOKEs it and A
 *      holds no guest; `sev-run --demo --attach` on B (B's grant stream, B's plaintext view)
 *      runs the moved guest under KVM and it prints the digest of the secret injected on A.
 * argv[1] = sev-guest.bin. Skips (77) without /dev/kvm (fails with --require-kvm). */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/macros.h"
#include "common/util.h"
#include "hv-glue/binding.h"
#include "hv-glue/gate.h"
#include "hv-glue/guest/layout.h"
#include "hv-glue/kvm-runner.h"
#include "hv-glue/vmcb.h"
#include "psp/emu-wire.h"
#include "tests/cli/test-cli-guest-util.h"

#define THE_ASID 4 /* --cpuid-ecx 4 --cpuid-edx 4: ES ASIDs 1..3, plain SEV only 4 */
#define CPU 0

static struct tg_daemon d;
static struct tg_daemon B; /* the migration's target */
static char *b_dir;	   /* B's files (tg_dir while B started) */
static const char *image_path;

/* ---- sev-run ---- */

static char *sha256_hex(const uint8_t *buf, size_t len)
{
	uint8_t md[32];
	unsigned mdlen = 0;

	TU_CHECK(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32,
		 "sha256");
	return hex_encode(md, 32);
}

/* sev-run with the NULL-terminated arguments tail; stdout and stderr captured. Returns the exit
 * code. */
static int sev_run_argv(const char *const *tail, char **out, char **err)
{
	_cleanup_free_ char *errp = path_join(tg_dir, "sev-run.err");
	char *argv[32];
	int n = 0, rc, saved, fd;
	size_t len = 0;

	argv[n++] = (char *)tu_exe("SEV_RUN_EXE");
	for (size_t i = 0; tail[i] && n < 31; i++)
		argv[n++] = (char *)tail[i];
	argv[n] = NULL;
	/* stderr to a file for the duration of the run (tu_run captures stdout only) */
	fflush(stderr);
	fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	saved = dup(STDERR_FILENO);
	TU_CHECK(fd >= 0 && saved >= 0 && dup2(fd, STDERR_FILENO) == STDERR_FILENO, "stderr: %m");
	close(fd);
	rc = tu_run(argv, out, NULL);
	TU_CHECK(dup2(saved, STDERR_FILENO) == STDERR_FILENO, "stderr back: %m");
	close(saved);
	_cleanup_free_ uint8_t *raw = tu_read_file(errp, &len);
	*err = strndup((const char *)raw, len); /* the file's bytes are not NUL-terminated */
	TU_CHECK(*err, "out of memory");
	fprintf(stderr, "%s", *err); /* the steps, in the test's log */
	return rc;
}

/* sev-run --demo with the secret file sf and roots: the emulator's ARK (ark) or a roots
 * directory (roots_dir); stdout and stderr captured. Returns the exit code. */
static int sev_run(const char *sf, const char *ark, const char *roots_dir, char **out, char **err)
{
	_cleanup_free_ char *emu = NULL, *ctl = NULL;

	TU_CHECK(asprintf(&emu, "unix:%s", d.emu.socket) > 0, "asprintf");
	TU_CHECK(asprintf(&ctl, "unix:%s/state/control.sock", tg_dir) > 0, "asprintf");
	return sev_run_argv((const char *const[]){"--daemon", d.unix_ep, "--demo", "--secret-file",
						  sf, "--emu", emu, "--control", ctl,
						  ark ? "--emulator-root" : "--roots",
						  ark ? ark : roots_dir, "--image", image_path,
						  NULL},
			    out, err);
}

/* sev-run --demo with a fresh random secret of len bytes; returns the secret. */
static uint8_t *run_demo(const char *ark, const char *name, size_t len)
{
	_cleanup_free_ char *sf = path_join(tg_dir, name), *want = NULL;
	_cleanup_free_ char *out = NULL, *err = NULL, *hex = NULL;
	uint8_t *secret = malloc(len);
	int rc;

	TU_CHECK(secret && RAND_bytes(secret, (int)len) == 1, "random secret");
	TU_CHECK(write_file_new(sf, secret, len, 0600) == 0, "write %s", sf);
	rc = sev_run(sf, ark, NULL, &out, &err);
	if (rc != 0)
		tg_dump_log(d.log);
	TU_CHECK(rc == 0, "sev-run --demo exited %d (its steps are above); stdout: %s", rc, out);
	TU_CHECK(strstr(err, "every step held"), "sev-run did not report success");
	hex = sha256_hex(secret, len);
	TU_CHECK(asprintf(&want, "SECRET-SHA256 %s\n", hex) > 0, "asprintf");
	TU_CHECK(strstr(out, want), "the guest printed\n%s\nbut SHA-256 of the secret is %s", out,
		 hex);
	return secret;
}

/* ---- sevd, through sevadm as the operator (root on the Unix socket) ---- */

static json_object *operator_json(const char *a, const char *b)
{
	struct tg_run r = TG_CLI("--json", a, b);
	json_object *j;

	TG_EXPECT(r, 0, NULL, NULL);
	j = tg_json(&r);
	tg_run_clear(&r);
	return j;
}

/* The one guest sevd holds: its handle; its ASID and state checked. */
static unsigned the_guest(void)
{
	json_object *j = operator_json("show", "guests");
	json_object *list = tg_get(j, "guests", json_type_array), *g;
	unsigned h;

	TU_CHECK_EQ(json_object_array_length(list), 1);
	g = json_object_array_get_idx(list, 0);
	h = (unsigned)json_object_get_int(tg_get(g, "handle", json_type_int));
	TU_CHECK_EQ(json_object_get_int(tg_get(g, "asid", json_type_int)), THE_ASID);
	TU_CHECK(strcmp(json_object_get_string(tg_get(g, "state", json_type_string)), "RUNNING") ==
		     0,
		 "guest %u is not RUNNING: %s", h, json_object_to_json_string(g));
	json_object_put(j);
	return h;
}

static bool asid_pending(json_object *asids, unsigned asid)
{
	json_object *p = tg_get(asids, "pending", json_type_array);

	for (size_t i = 0; i < json_object_array_length(p); i++)
		if ((unsigned)json_object_get_int(json_object_array_get_idx(p, i)) == asid)
			return true;
	return false;
}

/* ---- host memory ---- */

static uint8_t *read_fd(int fd, size_t *ret_len)
{
	struct stat st;
	uint8_t *p;

	TU_CHECK(fstat(fd, &st) == 0 && st.st_size > 0, "fstat: %m");
	p = malloc((size_t)st.st_size);
	TU_CHECK(p && pread(fd, p, (size_t)st.st_size, 0) == st.st_size, "read memfd: %m");
	*ret_len = (size_t)st.st_size;
	return p;
}

/* Does any 16-byte window of needle (all-zero windows left out: unwritten memory is zero)
 * occur in hay? */
/* A window of the needle with fewer than 8 non-zero bytes proves nothing: host memory is zeros
 * next to ciphertext, so "15 zeros and one byte" matches by chance once in 256 boundaries.
 * With 8 or more fixed non-zero bytes a chance match is about 2^-64. */
static bool window_is_telling(const uint8_t *w)
{
	unsigned nonzero = 0;

	for (size_t i = 0; i < 16; i++)
		nonzero += w[i] != 0;
	return nonzero >= 8;
}

static bool any_window(const uint8_t *hay, size_t hay_len, const uint8_t *needle, size_t len)
{
	unsigned telling = 0;

	for (size_t j = 0; j + 16 <= len; j++) {
		if (!window_is_telling(needle + j))
			continue;
		telling++;
		if (memmem(hay, hay_len, needle + j, 16))
			return true;
	}
	TU_CHECK(telling > 0, "the needle has no window that could be recognised");
	return false;
}

/* Every memfd sevd holds for guest memory: neither the image nor the secret page in clear. */
static unsigned check_host_memory(const uint8_t *img, size_t img_len, const uint8_t *page,
				  size_t page_len)
{
	char dirp[64], link[PATH_MAX], target[256];
	unsigned seen = 0;
	struct dirent *e;
	DIR *dir;

	snprintf(dirp, sizeof(dirp), "/proc/%d/fd", (int)d.pid);
	TU_CHECK((dir = opendir(dirp)), "opendir %s: %m", dirp);
	while ((e = readdir(dir))) {
		ssize_t n;
		size_t len = 0;
		int fd;

		snprintf(link, sizeof(link), "%s/%s", dirp, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (e->d_name[0] == '.' || n <= 0)
			continue;
		target[n] = 0;
		if (!strstr(target, "memfd:sevd-guest"))
			continue;
		TU_CHECK((fd = open(link, O_RDONLY | O_CLOEXEC)) >= 0, "open %s: %m", link);
		_cleanup_free_ uint8_t *mem = read_fd(fd, &len);
		close(fd);
		TU_CHECK(!any_window(mem, len, img, img_len), "%s (%s) holds the image in clear",
			 link, target);
		TU_CHECK(!any_window(mem, len, page, page_len),
			 "%s (%s) holds the secret page in clear", link, target);
		seen++;
	}
	closedir(dir);
	return seen;
}

/* The guest's side (the emulator's plaintext view): both are there, where the guest reads. */
static void check_guest_view(unsigned h, const uint8_t *img, size_t img_len, const uint8_t *page,
			     size_t page_len)
{
	char line[64], text[256] = "";
	size_t len = 0;
	int fd = -1;

	snprintf(line, sizeof(line), "guest-memfd %u", h);
	tg_emu_ctl(&d, line, (uint8_t *)text, sizeof(text) - 1, &fd);
	TU_CHECK(fd >= 0, "guest-memfd sent no descriptor: %s", text);
	_cleanup_free_ uint8_t *view = read_fd(fd, &len);
	close(fd);
	TU_CHECK(len >= HV_GUEST_MEM_SIZE, "plaintext view of %zu bytes", len);
	TU_CHECK(memcmp(view + HV_GUEST_IMAGE_GPA, img, img_len) == 0,
		 "the plaintext view lacks the image at 0x%x", HV_GUEST_IMAGE_GPA);
	TU_CHECK(memcmp(view + HV_GUEST_SECRET_GPA, page, page_len) == 0,
		 "the plaintext view lacks the secret page at 0x%x", HV_GUEST_SECRET_GPA);
}

/* ---- our own VMM on the grant stream ---- */

struct vmm {
	int fd;
	struct hv_bindings *b;
	struct hv_platform plat;
	struct vmcb v; /* one VMCB at one address for the whole test */
	int last_cpu;
	struct hv_runner *r; /* a KVM runner of ours: the guest again, then the revoke */
	int mem_fd, serial_fd;
};

static void vmm_open(struct vmm *m)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(m, 0, sizeof(*m));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/state/control.sock", tg_dir);
	m->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	TU_CHECK(m->fd >= 0 && connect(m->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
		 "sevd's grant stream %s: %m", sa.sun_path);
	hv_platform_init(&m->plat, THE_ASID, THE_ASID);
	TU_CHECK_EQ(hv_bindings_new(THE_ASID, 1, &m->b), 0);
	m->last_cpu = -1;
	/* A VMCB that passes every hardware check of the gate (tests/hvglue/test-gate.c). */
	m->v.control.intercepts[VMCB_INTERCEPT_MISC2] = VMCB_MISC2_VMRUN;
	m->v.control.iopm_base_pa = 0x10000000;
	m->v.control.msrpm_base_pa = 0x10004000;
	m->v.control.nested_ctl = VMCB_NP_ENABLE | VMCB_SEV_ENABLE;
	m->v.save.efer = X86_EFER_SVME;
	m->v.save.cr0 = X86_CR0_PE | X86_CR0_ET;
	m->v.save.dr6 = 0xffff0ff0;
	m->v.save.dr7 = 0x400;
	m->v.save.cs.attrib = VMCB_SEG_P | VMCB_SEG_S | 0xb | VMCB_SEG_DB;
}

/* The next frame (bounded wait), applied to the table. */
static struct hv_grant_msg vmm_next(struct vmm *m, enum hv_grant_type want)
{
	struct pollfd p = {.fd = m->fd, .events = POLLIN};
	struct hv_grant_msg msg;
	const char *why = NULL;

	TU_CHECK(poll(&p, 1, 10000) == 1, "no frame on the grant stream within 10 s");
	TU_CHECK(hv_grant_stream_read(m->fd, &msg, &why) == 1, "grant stream: %s",
		 why ? why : "closed");
	TU_CHECK(msg.type == want, "grant stream sent type %d, expected %d", msg.type, want);
	TU_CHECK_EQ(hv_bindings_apply(m->b, &msg), 0);
	return msg;
}

static void vmm_no_frame(struct vmm *m)
{
	struct pollfd p = {.fd = m->fd, .events = POLLIN};

	TU_CHECK(poll(&p, 1, 200) == 0, "an unexpected frame is waiting on the grant stream");
}

/* Bind the VMCB for handle (KVM's pre_sev_run) and ask the gate. Returns the flush decision
 * (1 = TLB_CONTROL FLUSH_ASID), or -ENOENT when the handle holds no live grant. */
static int vmm_enter(struct vmm *m, uint32_t handle, enum hv_gate_reason *ret_gate)
{
	int k = hv_bindings_pre_run(m->b, handle, CPU, &m->last_cpu, &m->v);

	*ret_gate = hv_gate_vmrun(&m->v, &m->plat, m->b, handle);
	if (*ret_gate != HV_GATE_PASS)
		hv_bindings_entry_refused(&m->last_cpu);
	return k;
}

/* Our VMM runs the same guest again under KVM from the emulator's plaintext view, through
 * the gate and the grant it received: the guest halts after printing the digest again. */
static void kvm_runs_guest(struct vmm *m, uint32_t handle, const char *hex)
{
	char line[64], text[256] = "", serial[512] = "", want[96];
	struct hv_run_result res;
	ssize_t n;

	snprintf(line, sizeof(line), "guest-memfd %u", handle);
	tg_emu_ctl(&d, line, (uint8_t *)text, sizeof(text) - 1, &m->mem_fd);
	m->serial_fd = memfd_create("serial", MFD_CLOEXEC);
	TU_CHECK(m->mem_fd >= 0 && m->serial_fd >= 0, "guest-memfd / serial memfd");
	TU_CHECK_EQ(hv_runner_new(&(struct hv_runner_config){.mem_fd = m->mem_fd,
							     .mem_size = HV_GUEST_MEM_SIZE,
							     .mode = HV_MODE_PROT32,
							     .entry = HV_GUEST_IMAGE_GPA,
							     .stack = HV_GUEST_STACK_TOP,
							     .handle = handle,
							     .bindings = m->b,
							     .platform = &m->plat,
							     .grant_fd = -1,
							     .serial_fd = m->serial_fd,
							     .cpu = CPU},
				  &m->r),
		    0);
	TU_CHECK_EQ(hv_runner_run(m->r, &res), 0);
	TU_CHECK(res.stop == HV_STOP_HALT, "our VMM's run stopped: %s (gate %s)",
		 hv_run_stop_name(res.stop), hv_gate_reason_name(res.gate));
	TU_CHECK(res.kvm_runs > 0 && res.tlb_flushes >= 1, "%u KVM_RUN, %u flushes", res.kvm_runs,
		 res.tlb_flushes);
	n = pread(m->serial_fd, serial, sizeof(serial) - 1, 0);
	TU_CHECK(n > 0, "no serial output");
	snprintf(want, sizeof(want), "SECRET-SHA256 %s", hex);
	TU_CHECK(strstr(serial, want), "our VMM's run printed %s", serial);
}

/* The same runner (the same VMCB) after the REVOKE: refused at the gate, no KVM_RUN. */
static void kvm_refuses(struct vmm *m, enum hv_gate_reason want)
{
	struct hv_run_result res;

	TU_CHECK_EQ(hv_runner_run(m->r, &res), 0);
	TU_CHECK(res.stop == HV_STOP_GATE, "the runner stopped with %s, not at the gate",
		 hv_run_stop_name(res.stop));
	TU_CHECK(res.gate == want, "gate said %s, expected %s", hv_gate_reason_name(res.gate),
		 hv_gate_reason_name(want));
	TU_CHECK_EQ(res.kvm_runs, 0);
	TU_CHECK_EQ(hv_runner_vmcb(m->r)->control.exitcode, (uint64_t)SVM_EXIT_INVALID);
}

static void kvm_close(struct vmm *m)
{
	m->r = hv_runner_free(m->r);
	close(m->mem_fd);
	close(m->serial_fd);
}

/* How many guests sevd holds. */
static size_t guest_count(void)
{
	json_object *j = operator_json("show", "guests");
	size_t n = json_object_array_length(tg_get(j, "guests", json_type_array));

	json_object_put(j);
	return n;
}

/* Refusals: a chain that reaches no trusted root (AMD's roots only: the emulator's ARK is
 * not among them) stops before any launch; a failure after the launch (a secret too big
 * for the secret page) leaves no guest behind. Neither prints a digest. */
static void refusals(void)
{
	_cleanup_free_ char *roots = tu_vector_path("amd-roots"), *big = path_join(tg_dir, "big");
	_cleanup_free_ char *ok = path_join(tg_dir, "secret-1"),
			    *ark = path_join(tg_dir, "emu-ark.cert");
	_cleanup_free_ uint8_t *zero = calloc(1, HV_GUEST_SECRET_MAX + 1);
	char *out = NULL, *err = NULL;

	TU_CHECK_EQ(sev_run(ok, NULL, roots, &out, &err), 1);
	TU_CHECK(strstr(err, "certificate chain does not hold") && !strstr(out, "SECRET-SHA256"),
		 "untrusted chain: %s", err);
	TU_CHECK(!strstr(err, "POST /v1/guests"), "sev-run launched for an untrusted chain");
	TU_CHECK_EQ(guest_count(), 0);
	free(out);
	free(err);

	TU_CHECK(zero && write_file_new(big, zero, HV_GUEST_SECRET_MAX + 1, 0600) == 0, "write");
	TU_CHECK_EQ(sev_run(big, ark, NULL, &out, &err), 1);
	TU_CHECK(strstr(err, "at most 4092 bytes") &&
		     strstr(err, "decommissioned after the failure"),
		 "oversized secret: %s", err);
	TU_CHECK(!strstr(out, "SECRET-SHA256"), "a digest was printed: %s", out);
	TU_CHECK_EQ(guest_count(), 0);
	free(out);
	free(err);
}

/* ---- the story ---- */

static uint8_t *secret_page(const uint8_t *secret, size_t len, size_t *ret_len)
{
	uint8_t *p = calloc(1, 4 + len);

	TU_CHECK(p, "out of memory");
	put_le32(p, (uint32_t)len);
	memcpy(p + 4, secret, len);
	*ret_len = 4 + len;
	return p;
}

static void first_guest(struct vmm *m, const char *ark, const uint8_t *img, size_t img_len,
			unsigned *ret_h, uint64_t *ret_gen)
{
	enum hv_gate_reason gate;
	size_t page_len = 0;
	_cleanup_free_ uint8_t *secret = run_demo(ark, "secret-1", 48);
	_cleanup_free_ uint8_t *page = secret_page(secret, 48, &page_len);
	unsigned h = the_guest();
	struct hv_grant_msg g = vmm_next(m, HV_GRANT);

	TU_CHECK(check_host_memory(img, img_len, page, page_len) >= 1,
		 "sevd holds no guest memfd (memfd:sevd-guest) for a RUNNING guest");
	check_guest_view(h, img, img_len, page, page_len);
	TU_CHECK(g.handle == h && g.asid == THE_ASID && !g.es, "GRANT handle %u ASID %u es %d",
		 g.handle, g.asid, g.es);
	/* sevd's version 2 frame: the guest's stable id, its handle first (big-endian) */
	TU_CHECK(((uint32_t)g.id[0] << 24 | (uint32_t)g.id[1] << 16 | (uint32_t)g.id[2] << 8 |
		  g.id[3]) == h && memcmp(g.id + 4, (uint8_t[12]){0}, 12) != 0,
		 "the GRANT carries no id of guest %u", h);
	_cleanup_free_ char *hex = sha256_hex(secret, 48);
	kvm_runs_guest(m, h, hex);
	TU_CHECK_EQ(vmm_enter(m, h, &gate), 1); /* first entry with this ASID on the CPU */
	TU_CHECK(gate == HV_GATE_PASS, "gate: %s", hv_gate_reason_name(gate));
	TU_CHECK_EQ(m->v.control.asid, THE_ASID);
	TU_CHECK_EQ(vmm_enter(m, h, &gate), 0); /* same VMCB, same CPU: no flush */
	TU_CHECK(gate == HV_GATE_PASS && m->v.control.tlb_control == 0, "second entry");
	*ret_h = h;
	*ret_gen = g.generation;
}

static void delete_first(struct vmm *m, unsigned h, uint64_t gen)
{
	enum hv_gate_reason gate;
	char hs[16];
	struct tg_run r;
	struct hv_grant_msg rv;

	snprintf(hs, sizeof(hs), "%u", h);
	r = TG_CLI("decommission", hs);
	TG_EXPECT(r, 0, "decommissioned", NULL);
	tg_run_clear(&r);
	rv = vmm_next(m, HV_REVOKE);
	TU_CHECK(rv.handle == h && rv.asid == THE_ASID && rv.generation == gen, "REVOKE %u/%u/%llu",
		 rv.handle, rv.asid, (unsigned long long)rv.generation);
	/* the same VMCB, the same grant: never again */
	TU_CHECK_EQ(vmm_enter(m, h, &gate), -ENOENT);
	TU_CHECK(gate == HV_GATE_GRANT_REVOKED, "gate after REVOKE: %s", hv_gate_reason_name(gate));
	TU_CHECK_EQ(m->v.control.exitcode, (uint64_t)SVM_EXIT_INVALID);
	kvm_refuses(m, HV_GATE_GRANT_REVOKED);
}

static void second_guest(struct vmm *m, const char *ark, unsigned h1, uint64_t gen1,
			 unsigned *ret_h2)
{
	enum hv_gate_reason gate;
	json_object *a = operator_json("show", "asids");
	int64_t flushes = json_object_get_int64(tg_get(a, "flushes", json_type_int));

	/* freed, not free: the ASID waits for DF_FLUSH */
	TU_CHECK(asid_pending(a, THE_ASID), "ASID %d is not waiting for a flush after DELETE: %s",
		 THE_ASID, json_object_to_json_string(a));
	json_object_put(a);
	vmm_no_frame(m);

	free(run_demo(ark, "secret-2", 100));
	unsigned h2 = the_guest();
	struct hv_grant_msg g = vmm_next(m, HV_GRANT);

	a = operator_json("show", "asids");
	TU_CHECK(json_object_get_int64(tg_get(a, "flushes", json_type_int)) == flushes + 1,
		 "ASID %d was handed out again without one DF_FLUSH: %s", THE_ASID,
		 json_object_to_json_string(a));
	TU_CHECK(!asid_pending(a, THE_ASID), "ASID still pending after reuse");
	json_object_put(a);
	/* firmware may hand out the freed handle number again; the generation tells them apart */
	TU_CHECK(g.handle == h2 && g.asid == THE_ASID && g.generation > gen1,
		 "GRANT %u/%u/%llu after %u/%llu", g.handle, g.asid,
		 (unsigned long long)g.generation, h1, (unsigned long long)gen1);
	/* the SAME VMCB (same address) on the same CPU: reused ASID, new generation → flush */
	TU_CHECK_EQ(vmm_enter(m, h2, &gate), 1);
	TU_CHECK(gate == HV_GATE_PASS && m->v.control.tlb_control == VMCB_TLB_FLUSH_ASID,
		 "reuse: gate %s, TLB_CONTROL %u", hv_gate_reason_name(gate),
		 m->v.control.tlb_control);
	/* The old guest's handle, when firmware gave the new guest another number, cannot enter
	 * on the ASID. (Firmware may reuse the number; the grant stream then cannot tell a new
	 * guest from the same guest re-activated, so a VMM must drop a guest's VMCB and memory
	 * when sevd decommissions it: see hv-glue/README.md.) */
	if (h1 != h2)
		kvm_refuses(m, HV_GATE_GRANT_OTHER_GUEST);
	kvm_close(m);
	*ret_h2 = h2;
}

/* Leave nothing: the second guest goes too, announced by its REVOKE. */
static void delete_second(struct vmm *m, unsigned h2)
{
	char hs[16];
	struct tg_run r;

	snprintf(hs, sizeof(hs), "%u", h2);
	r = TG_CLI("decommission", hs);
	TG_EXPECT(r, 0, "decommissioned", NULL);
	tg_run_clear(&r);
	TU_CHECK_EQ(vmm_next(m, HV_REVOKE).handle, h2);
}

/* ---- the migration leg ---- */

/* B, another chip, started in its own directory before A; returns the file of B's ASK ‖ ARK
 * that A's sevd.conf names as its emulated migration root. */
static char *start_target(const char *const *emu_args)
{
	char *top = tg_dir, *root;
	uint8_t ask[EMU_WIRE_MAX_PAYLOAD], ark[EMU_WIRE_MAX_PAYLOAD];
	size_t ask_len, ark_len;
	FILE *f;

	b_dir = path_join(top, "b");
	TU_CHECK(mkdir(b_dir, 0700) == 0, "mkdir %s: %m", b_dir);
	tg_dir = b_dir;
	tg_daemon_start(&B, emu_args, NULL);
	tg_dir = top;
	ask_len = tg_emu_ctl(&B, "get-cert ask", ask, sizeof(ask), NULL);
	ark_len = tg_emu_ctl(&B, "get-cert ark", ark, sizeof(ark), NULL);
	root = path_join(b_dir, "b-ask-ark.cert");
	f = fopen(root, "wb");
	TU_CHECK(f && fwrite(ask, 1, ask_len, f) == ask_len &&
		     fwrite(ark, 1, ark_len, f) == ark_len && fclose(f) == 0,
		 "write %s", root);
	return root;
}

/* A guest with a secret launched and run on A, moved to B by sevadm migrate, run on B under
 * KVM by sev-run --demo --attach: it prints the digest of the secret A's owner injected. */
static void migrated_guest(struct vmm *m, const char *ark)
{
	_cleanup_free_ uint8_t *secret = run_demo(ark, "secret-3", 64);
	_cleanup_free_ char *hex = sha256_hex(secret, 64), *emu = NULL, *ctl = NULL, *want = NULL;
	char hs[16], hbs[16], *out = NULL, *err = NULL;
	unsigned h = the_guest(), hb;
	struct hv_grant_msg g = vmm_next(m, HV_GRANT), rv;
	struct tg_run r;
	json_object *j;

	snprintf(hs, sizeof(hs), "%u", h);
	r = TG_CLI("--json", "migrate", hs, "--to", B.unix_ep);
	TG_EXPECT(r, 0, NULL, NULL);
	j = tg_json(&r);
	tg_run_clear(&r);
	TU_CHECK_EQ(json_object_get_int(tg_get(j, "handle", json_type_int)), (int)h);
	hb = (unsigned)json_object_get_int(tg_get(j, "target_handle", json_type_int));
	json_object_put(j);
	/* gone from A: its ASID revoked before DEACTIVATE, as for a DELETE */
	rv = vmm_next(m, HV_REVOKE);
	TU_CHECK(rv.handle == h && rv.asid == g.asid && rv.generation == g.generation,
		 "REVOKE %u/%u/%llu after the migration of %u/%u/%llu", rv.handle, rv.asid,
		 (unsigned long long)rv.generation, g.handle, g.asid,
		 (unsigned long long)g.generation);
	TU_CHECK_EQ(guest_count(), 0);

	TU_CHECK(asprintf(&emu, "unix:%s", B.emu.socket) > 0 &&
		     asprintf(&ctl, "unix:%s/state/control.sock", b_dir) > 0,
		 "asprintf");
	snprintf(hbs, sizeof(hbs), "%u", hb);
	TU_CHECK_EQ(sev_run_argv((const char *const[]){"--daemon", B.unix_ep, "--demo", "--attach",
						       hbs, "--emu", emu, "--control", ctl,
						       "--image", image_path, NULL},
				 &out, &err),
		    0);
	TU_CHECK(strstr(err, "every step held") && strstr(err, "[5/5]"),
		 "sev-run --attach on B did not report success");
	TU_CHECK(!strstr(err, "POST /v1/guests (") && !strstr(err, "/secret"),
		 "sev-run --attach launched or injected on B: %s", err);
	TU_CHECK(asprintf(&want, "SECRET-SHA256 %s\n", hex) > 0, "asprintf");
	TU_CHECK(strstr(out, want), "the moved guest printed\n%s\nbut SHA-256 of the secret is %s",
		 out, hex);
	free(out);
	free(err);
	r = TG_CLI("--daemon", B.unix_ep, "decommission", hbs);
	TG_EXPECT(r, 0, "decommissioned", NULL);
	tg_run_clear(&r);
}

int main(int argc, char *argv[])
{
	static const char *const emu_args[] = {"--cpuid-ecx", "4", "--cpuid-edx", "4", NULL};
	_cleanup_free_ char *ark = NULL, *b_root = NULL, *conf = NULL;
	_cleanup_free_ uint8_t *img = NULL;
	size_t img_len = 0;
	bool require_kvm = argc > 2 && strcmp(argv[2], "--require-kvm") == 0;
	struct vmm m;
	unsigned h1, h2;
	uint64_t gen1;
	int k;

	TU_CHECK(argc >= 2, "usage: test-hvglue-demo SEV-GUEST-BIN [--require-kvm]");
	image_path = argv[1];
	k = hv_kvm_available();
	if (k < 0 && !require_kvm) {
		fprintf(stderr, "/dev/kvm: %s\n", strerror(-k));
		tu_skip("/dev/kvm is missing or not accessible: the demo runs its guest under KVM");
	}
	TU_CHECK(k == 0, "/dev/kvm: %s (required)", strerror(-k));
	if (!getenv("SEV_RUN_EXE") || !*getenv("SEV_RUN_EXE"))
		tu_skip("sev-run is not built ($SEV_RUN_EXE unset)");
	tg_init("test-hvglue-demo");
	img = tu_read_file(image_path, &img_len);
	b_root = start_target(emu_args);
	TU_CHECK(asprintf(&conf, "migration_emulated_root = %s\n", b_root) > 0, "asprintf");
	tg_daemon_start(&d, emu_args, conf);
	{ /* the guest routes must exist: this test is about them */
		struct tg_run r = TG_CLI("--json", "show", "guests");
		TU_CHECK(r.rc == 0,
			 "sevd does not answer GET /v1/guests (the guest lifecycle "
			 "routes are missing?): %s",
			 r.err);
		tg_run_clear(&r);
	}
	ark = tg_emulator_root(&d);
	vmm_open(&m);
	vmm_no_frame(&m);
	first_guest(&m, ark, img, img_len, &h1, &gen1);
	delete_first(&m, h1, gen1);
	second_guest(&m, ark, h1, gen1, &h2);
	delete_second(&m, h2);
	refusals();
	vmm_no_frame(&m);
	migrated_guest(&m, ark);
	close(m.fd);
	hv_bindings_free(m.b);
	tg_daemon_stop(&d);
	tg_daemon_stop(&B);
	tu_rmtree(tg_dir);
	free(TAKE_PTR(img)); /* tu_done() exits: cleanup attributes would not run */
	free(TAKE_PTR(ark));
	free(TAKE_PTR(b_root));
	free(TAKE_PTR(conf));
	free(TAKE_PTR(b_dir));
	tu_done("test-hvglue-demo");
}
