/* The tiny guest on the real /dev/kvm: a random secret goes into the secret page, the guest
 * prints "SECRET-SHA256 <hex>" and that must equal OpenSSL's SHA-256 of the same bytes. Along
 * the way the VMCB model must hold the right SVM exit codes (IOIO with its EXITINFO1 encoding,
 * VMGEXIT with the GHCB MSR value, NPF with the GPA, HLT). Then the same through the sev-run
 * binary, and a guest that refuses a bad secret length through the GHCB termination request.
 * argv[1] = the guest image. Skips (77) where /dev/kvm is missing or not accessible. */
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "hv-glue/binding.h"
#include "hv-glue/gate.h"
#include "hv-glue/guest/layout.h"
#include "hv-glue/kvm-runner.h"
#include "hv-glue/vmcb.h"
#include "tests/testutil.h"

#define HANDLE 3
#define ASID 120

static const char *image_path;

struct guest {
	int mem_fd, serial_fd;
	struct hv_platform plat;
	struct hv_bindings *b;
	struct hv_runner *r;
};

static void guest_start(struct guest *g, const uint8_t *secret, uint32_t declared_len, size_t len)
{
	size_t img_len;
	uint8_t *img = tu_read_file(image_path, &img_len);
	uint8_t *mem;
	int k;

	g->mem_fd = memfd_create("guest-ram", MFD_CLOEXEC);
	g->serial_fd = memfd_create("guest-serial", MFD_CLOEXEC);
	TU_CHECK(g->mem_fd >= 0 && g->serial_fd >= 0, "memfd");
	TU_CHECK_EQ(ftruncate(g->mem_fd, HV_GUEST_MEM_SIZE), 0);
	mem = mmap(NULL, HV_GUEST_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g->mem_fd, 0);
	TU_CHECK(mem != MAP_FAILED, "mmap");
	TU_CHECK(img_len > 0 && img_len <= HV_GUEST_IMAGE_MAX, "image size %zu", img_len);
	memcpy(mem + HV_GUEST_IMAGE_GPA, img, img_len);
	put_le32(mem + HV_GUEST_SECRET_GPA, declared_len);
	memcpy(mem + HV_GUEST_SECRET_GPA + 4, secret, len);
	munmap(mem, HV_GUEST_MEM_SIZE);
	free(img);

	hv_platform_init(&g->plat, 509, 100);
	TU_CHECK_EQ(hv_bindings_new(509, 1, &g->b), 0);
	TU_CHECK_EQ(hv_bindings_grant(g->b, HANDLE, ASID, false, 1), 0);
	k = hv_runner_new(&(struct hv_runner_config){.mem_fd = g->mem_fd,
						     .mem_size = HV_GUEST_MEM_SIZE,
						     .mode = HV_MODE_PROT32,
						     .entry = HV_GUEST_IMAGE_GPA,
						     .stack = HV_GUEST_STACK_TOP,
						     .handle = HANDLE,
						     .bindings = g->b,
						     .platform = &g->plat,
						     .grant_fd = -1,
						     .serial_fd = g->serial_fd,
						     .max_exits = 1,
						     .timeout_ms = 10000,
						     .cpu = 0},
			  &g->r);
	TU_CHECK(k == 0, "hv_runner_new: %s", strerror(-k));
}

static char *serial_text(struct guest *g)
{
	off_t n = lseek(g->serial_fd, 0, SEEK_END);
	char *s = calloc(1, (size_t)n + 1);
	TU_CHECK_EQ(pread(g->serial_fd, s, (size_t)n, 0), n);
	return s;
}

static void guest_stop(struct guest *g)
{
	hv_runner_free(g->r);
	hv_bindings_free(g->b);
	close(g->mem_fd);
	close(g->serial_fd);
}

static char *expected_line(const uint8_t *p, size_t n)
{
	uint8_t md[32];
	unsigned int mdlen = 0;
	char *hex, *line;

	TU_CHECK(EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32, "digest");
	hex = hex_encode(md, 32);
	TU_CHECK(asprintf(&line, "SECRET-SHA256 %s\n", hex) > 0, "asprintf");
	free(hex);
	return line;
}

/* Step one exit at a time through the first exits and check each is recorded as SVM would. */
static void check_first_exits(struct guest *g)
{
	const struct vmcb *v = hv_runner_vmcb(g->r);
	struct hv_run_result res;

	TU_CHECK_EQ(hv_runner_run(g->r, &res), 0);
	TU_CHECK_EQ(res.stop, HV_STOP_EXIT_LIMIT);
	TU_CHECK_EQ(res.exits, 1);
	TU_CHECK(res.kvm_runs >= 1, "entered"); /* more if a timer tick interrupted KVM_RUN */
	TU_CHECK_EQ(res.tlb_flushes, 1);	/* first entry with this ASID on this CPU */
	TU_CHECK_EQ(v->control.asid, ASID);
	TU_CHECK(v->control.nested_ctl == (VMCB_NP_ENABLE | VMCB_SEV_ENABLE), "NP+SEV");
	/* OUT to the GHCB high port, 32-bit operand, 32-bit address size */
	TU_CHECK_EQ(v->control.exitcode, SVM_EXIT_IOIO);
	TU_CHECK_EQ(v->control.exitinfo1,
		    ((uint64_t)HV_GUEST_GHCB_PORT_HI << 16) | VMCB_IOIO_SZ32 | VMCB_IOIO_A32);

	TU_CHECK_EQ(hv_runner_run(g->r, &res), 0); /* the low-half write: the VMGEXIT */
	TU_CHECK_EQ(res.tlb_flushes, 0);	   /* same VMCB, same CPU: no flush */
	TU_CHECK_EQ(v->control.tlb_control, VMCB_TLB_NOTHING);
	TU_CHECK_EQ(v->control.exitcode, SVM_EXIT_VMGEXIT);
	TU_CHECK_EQ(v->control.ghcb_gpa, HV_GHCB_MSR_SEV_INFO_REQ);
	TU_CHECK_EQ(res.n_vmgexit, 1);

	TU_CHECK_EQ(hv_runner_run(g->r, &res), 0); /* IN of the response, high half */
	TU_CHECK_EQ(v->control.exitcode, SVM_EXIT_IOIO);
	TU_CHECK_EQ(v->control.exitinfo1, ((uint64_t)HV_GUEST_GHCB_PORT_HI << 16) | VMCB_IOIO_SZ32 |
					      VMCB_IOIO_A32 | VMCB_IOIO_IN);
}

static void check_digest(void)
{
	uint8_t secret[200];
	struct guest g;
	struct hv_run_result res;
	char *out, *want;
	const struct vmcb *v;

	TU_CHECK(RAND_bytes(secret, sizeof(secret)) == 1, "RAND_bytes");
	guest_start(&g, secret, sizeof(secret), sizeof(secret));
	check_first_exits(&g);
	v = hv_runner_vmcb(g.r);

	/* Now let it run to its HLT. */
	hv_runner_free(g.r);
	g.r = NULL;
	TU_CHECK_EQ(hv_runner_new(&(struct hv_runner_config){.mem_fd = g.mem_fd,
							     .mem_size = HV_GUEST_MEM_SIZE,
							     .mode = HV_MODE_PROT32,
							     .entry = HV_GUEST_IMAGE_GPA,
							     .stack = HV_GUEST_STACK_TOP,
							     .handle = HANDLE,
							     .bindings = g.b,
							     .platform = &g.plat,
							     .grant_fd = -1,
							     .serial_fd = g.serial_fd,
							     .timeout_ms = 10000,
							     .cpu = 0},
				  &g.r),
		    0);
	TU_CHECK_EQ(ftruncate(g.serial_fd, 0), 0);
	TU_CHECK_EQ(lseek(g.serial_fd, 0, SEEK_SET), 0);
	TU_CHECK_EQ(hv_runner_run(g.r, &res), 0);
	v = hv_runner_vmcb(g.r);
	out = serial_text(&g);
	want = expected_line(secret, sizeof(secret));
	TU_CHECK_EQ(res.stop, HV_STOP_HALT);
	TU_CHECK(strstr(out, want) != NULL, "serial output\n%s\nlacks\n%s", out, want);
	TU_CHECK(strstr(out, "GHCB-SEV-INFO cbit=51\n") != NULL, "C-bit from the model: %s", out);
	TU_CHECK_EQ(v->control.exitcode, SVM_EXIT_HLT);
	TU_CHECK_EQ(res.n_hlt, 1);
	TU_CHECK_EQ(res.n_vmgexit, 1);
	TU_CHECK_EQ(res.n_npf, 1);
	TU_CHECK_EQ(res.guest_status, HV_GUEST_STATUS_DONE);
	/* every exit came from a KVM_RUN; a timer tick may add an EINTR'd one */
	TU_CHECK(res.kvm_runs >= res.exits, "%u KVM_RUN, %u exits", res.kvm_runs, res.exits);
	/* one OUT per printed byte, plus the GHCB port accesses */
	TU_CHECK(res.n_ioio >= strlen(out), "%u IOIO exits for %zu bytes", res.n_ioio, strlen(out));
	free(out);
	free(want);
	guest_stop(&g);
}

/* A declared length beyond the page: the guest must refuse and ask to be terminated. */
static void check_terminate(void)
{
	struct guest g;
	struct hv_run_result res;
	char *out;

	guest_start(&g, (const uint8_t *)"x", HV_GUEST_SECRET_MAX + 1, 1);
	hv_runner_free(g.r);
	TU_CHECK_EQ(hv_runner_new(&(struct hv_runner_config){.mem_fd = g.mem_fd,
							     .mem_size = HV_GUEST_MEM_SIZE,
							     .mode = HV_MODE_PROT32,
							     .entry = HV_GUEST_IMAGE_GPA,
							     .stack = HV_GUEST_STACK_TOP,
							     .handle = HANDLE,
							     .bindings = g.b,
							     .platform = &g.plat,
							     .grant_fd = -1,
							     .serial_fd = g.serial_fd,
							     .cpu = 0},
				  &g.r),
		    0);
	TU_CHECK_EQ(hv_runner_run(g.r, &res), 0);
	out = serial_text(&g);
	TU_CHECK_EQ(res.stop, HV_STOP_TERMINATE);
	TU_CHECK_EQ(res.term_request, HV_GHCB_MSR_TERM_REQ | (1u << 16));
	TU_CHECK_EQ(hv_runner_vmcb(g.r)->control.exitcode, SVM_EXIT_VMGEXIT);
	TU_CHECK(strstr(out, "SECRET-ERROR length 4093") != NULL, "guest said why: %s", out);
	TU_CHECK(strstr(out, "SECRET-SHA256") == NULL, "no digest of a bad secret");
	free(out);
	guest_stop(&g);
}

/* The sev-run binary, as a real process. */
static void check_sev_run(void)
{
	char *dir = tu_mkdtemp(), *secret_path = path_join(dir, "secret"), *out = NULL;
	const uint8_t secret[] = "the owner's disk key, 32 bytes!";
	char *want = expected_line(secret, sizeof(secret) - 1);
	char *argv[] = {(char *)tu_exe("SEV_RUN_EXE"),
			"--image",
			(char *)image_path,
			"--secret-file",
			secret_path,
			"--asid",
			"150",
			"--handle",
			"4",
			NULL};
	char *bad_asid[] = {
	    argv[0], "--image", (char *)image_path, "--secret-file", secret_path, "--asid",
	    "5",     NULL};

	TU_CHECK_EQ(write_file_new(secret_path, secret, sizeof(secret) - 1, 0600), 0);
	TU_CHECK_EQ(tu_run(argv, &out, NULL), 0);
	TU_CHECK(strstr(out, want) != NULL, "sev-run printed\n%s", out);
	free(out);
	/* ASID 5 is in the SEV-ES range of the modelled part: the gate refuses, exit non-zero,
	 * and the guest never ran (no serial output at all). */
	TU_CHECK(tu_run(bad_asid, &out, NULL) != 0, "sev-run entered with a plain-SEV ASID < EDX");
	TU_CHECK_EQ(strlen(out), 0);
	free(out);
	free(want);
	free(secret_path);
	tu_rmtree(dir);
	free(dir);
}

/* sev-run fed by a grant stream on an inherited descriptor, as the daemon will feed it. */
static void check_sev_run_stream(void)
{
	char *dir = tu_mkdtemp(), *secret_path = path_join(dir, "secret"), *out = NULL;
	const uint8_t secret[] = "streamed";
	char *want = expected_line(secret, sizeof(secret) - 1);
	uint8_t f[HV_GRANT_MSG_SIZE];
	char fdarg[16];
	int sv[2];
	char *argv[] = {(char *)tu_exe("SEV_RUN_EXE"),
			"--image",
			(char *)image_path,
			"--secret-file",
			secret_path,
			"--handle",
			"21",
			"--grant-fd",
			fdarg,
			NULL};

	TU_CHECK_EQ(write_file_new(secret_path, secret, sizeof(secret) - 1, 0600), 0);
	TU_CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	TU_CHECK_EQ(fcntl(sv[0], F_SETFD, FD_CLOEXEC), 0); /* only the read end is inherited */
	snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);

	/* Granted to handle 21: runs. */
	hv_grant_msg_build(&(struct hv_grant_msg){HV_GRANT, 21, 300, false, 1}, f);
	TU_CHECK_EQ(write(sv[0], f, sizeof(f)), (ssize_t)sizeof(f));
	TU_CHECK_EQ(tu_run(argv, &out, NULL), 0);
	TU_CHECK(strstr(out, want) != NULL, "sev-run --grant-fd printed\n%s", out);
	free(out);
	close(sv[0]);
	close(sv[1]);

	/* Granted, then revoked before the first entry: never runs. */
	TU_CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	TU_CHECK_EQ(fcntl(sv[0], F_SETFD, FD_CLOEXEC), 0);
	snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);
	TU_CHECK_EQ(write(sv[0], f, sizeof(f)), (ssize_t)sizeof(f));
	hv_grant_msg_build(&(struct hv_grant_msg){HV_REVOKE, 21, 300, false, 1}, f);
	TU_CHECK_EQ(write(sv[0], f, sizeof(f)), (ssize_t)sizeof(f));
	TU_CHECK(tu_run(argv, &out, NULL) != 0, "a revoked guest ran");
	TU_CHECK_EQ(strlen(out), 0);
	free(out);
	close(sv[0]);
	close(sv[1]);
	free(want);
	free(secret_path);
	tu_rmtree(dir);
	free(dir);
}

int main(int argc, char *argv[])
{
	bool require_kvm = argc == 3 && strcmp(argv[2], "--require-kvm") == 0;
	int k;

	if (argc != 2 && !require_kvm) {
		fprintf(stderr, "usage: %s GUEST-IMAGE [--require-kvm]\n", argv[0]);
		return 1;
	}
	image_path = argv[1];
	k = hv_kvm_available();
	if (k < 0) {
		char why[256];
		snprintf(why, sizeof(why),
			 "/dev/kvm cannot be opened read-write (%s): the KVM "
			 "runner tests need a host with KVM",
			 strerror(-k));
		if (require_kvm) {
			fprintf(stderr, "%s (and -Dkvm_tests=enabled requires them)\n", why);
			return 1;
		}
		tu_skip(why);
	}
	check_digest();
	check_terminate();
	check_sev_run();
	check_sev_run_stream();
	tu_done("hvglue-kvm-guest");
}
