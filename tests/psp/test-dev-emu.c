/* libsev-dev-emu.so against the real sev-psp-emu: the Linux uapi of /dev/sev as a program sees
 * it. The test starts the emulator, then runs itself again under
 * LD_PRELOAD=$SEV_DEV_EMU_PRELOAD SEV_EMU_SOCKET=... ("client" mode), where every check is a
 * raw open()/ioctl(SEV_ISSUE_CMD) with the kernel's user structs (linux/psp-sev.h), and the
 * emulator's own view comes from a second connection (the emu transport) for comparison.
 * What it pins (sev-dev.c, the version psp/sev-dev-emu/kernel.h names): EINVAL for another
 * request or sub-command, EFAULT for bad pointers, EPERM on a read-only descriptor, the
 * length query (EIO, INVALID_LEN, the needed lengths), the implicit INIT/SHUTDOWN around
 * commands (the platform stays UNINIT), FACTORY_RESET's reading of the cached state, SNP's
 * ENODEV, and that dup/fork/close need no help. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/psp-sev.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/commands.h"
#include "psp/psp-emu.h"
#include "psp/sev-abi.h"
#include "psp/transport.h"
#include "tests/testutil.h"

#define SUB_SNP_PLATFORM_STATUS 9 /* upstream uapi; the installed 6.1 header lacks these */
#define SUB_SNP_COMMIT 10
#define SUB_SNP_SET_CONFIG 11
#define SUB_MAX 13
#define SENTINEL 0xdeadbeefu
#define PEK_USAGE 0x1002u

static struct psp_transport *emu; /* the emulator's view, beside the "kernel" */

/* ioctl(SEV_ISSUE_CMD): the return value (0 or -errno), the firmware status in *error. */
static int issue(int fd, uint32_t sub, void *data, uint32_t *error)
{
	struct sev_issue_cmd io = { .cmd = sub, .data = (uint64_t)(uintptr_t)data,
				    .error = SENTINEL };
	int r = ioctl(fd, SEV_ISSUE_CMD, &io);

	if (error)
		*error = io.error;
	return r < 0 ? -errno : r;
}

static int emu_state(void)
{
	struct sev_cmd_platform_status st;
	int pr;

	TU_CHECK_EQ(psp_cmd_platform_status(emu, &st, &pr), 0);
	return st.state;
}

static void check_status(int fd)
{
	struct sev_user_data_status st;
	struct emu_info info;
	uint32_t err;

	memset(&st, 0xff, sizeof(st));
	TU_CHECK_EQ(issue(fd, SEV_PLATFORM_STATUS, &st, &err), 0);
	TU_CHECK_EQ(err, 0);
	TU_CHECK_EQ(psp_emu_info(emu, &info), 0);
	TU_CHECK_EQ(st.api_major, info.api_major);
	TU_CHECK_EQ(st.api_minor, info.api_minor);
	TU_CHECK_EQ(st.build, info.build);
	TU_CHECK_EQ(st.state, emu_state());
}

static void check_refusals(int fd, int ro)
{
	struct sev_user_data_status st;
	struct sev_issue_cmd io = { .cmd = SEV_PLATFORM_STATUS, .data = 0, .error = SENTINEL };
	uint32_t err;

	TU_CHECK(ioctl(fd, _IOWR('S', 0x1, struct sev_issue_cmd), &io) < 0 && errno == EINVAL,
		 "another request: %m");
	TU_CHECK_EQ(issue(fd, SUB_MAX, &st, &err), -EINVAL);
	TU_CHECK_EQ(err, SENTINEL); /* the default case copies nothing back */
	TU_CHECK_EQ(issue(fd, 200, &st, &err), -EINVAL);
	TU_CHECK(ioctl(fd, SEV_ISSUE_CMD, (void *)16) < 0 && errno == EFAULT, "bad header: %m");
	TU_CHECK_EQ(issue(fd, SEV_PLATFORM_STATUS, (void *)16, &err), -EFAULT);
	TU_CHECK_EQ(err, 0); /* firmware answered; only the copy-out failed */
	/* Read-only: everything that changes the platform or needs INIT is EPERM. */
	TU_CHECK_EQ(issue(ro, SEV_PEK_GEN, NULL, &err), -EPERM);
	TU_CHECK_EQ(err, SENTINEL);
	TU_CHECK_EQ(issue(ro, SEV_PDH_GEN, NULL, &err), -EPERM);
	TU_CHECK_EQ(issue(ro, SEV_FACTORY_RESET, NULL, &err), -EPERM);
	struct sev_user_data_pek_csr csr = { 0 };
	TU_CHECK_EQ(issue(ro, SEV_PEK_CSR, &csr, &err), -EPERM);
	struct sev_user_data_pdh_cert_export ex = { 0 };
	TU_CHECK_EQ(issue(ro, SEV_PDH_CERT_EXPORT, &ex, &err), -EPERM); /* UNINIT: needs INIT */
	TU_CHECK_EQ(issue(ro, SUB_SNP_SET_CONFIG, &st, &err), -EPERM);
	check_status(ro); /* allowed read-only */
	/* SNP: this host has none (the emulator models no SNP command). */
	TU_CHECK_EQ(issue(fd, SUB_SNP_PLATFORM_STATUS, NULL, &err), -EINVAL);
	TU_CHECK_EQ(issue(fd, SUB_SNP_PLATFORM_STATUS, &st, &err), -ENODEV);
	TU_CHECK_EQ(err, SEV_STATUS_INVALID_PLATFORM_STATE);
	TU_CHECK_EQ(issue(fd, SUB_SNP_COMMIT, NULL, &err), -ENODEV);
	/* PEK_CERT_IMPORT's blobs: none is EINVAL, an unreadable one EFAULT. */
	struct sev_user_data_pek_cert_import im = { 0 };
	TU_CHECK_EQ(issue(fd, SEV_PEK_CERT_IMPORT, &im, &err), -EINVAL);
	im = (struct sev_user_data_pek_cert_import){ .pek_cert_address = 16,
						     .pek_cert_len = SEV_CERT_SIZE };
	TU_CHECK_EQ(issue(fd, SEV_PEK_CERT_IMPORT, &im, &err), -EFAULT);
	TU_CHECK_EQ(emu_state(), SEV_PSTATE_UNINIT);
}

/* PEK_CSR: the length query, a too-small buffer, the real thing; INIT and SHUTDOWN around. */
static void check_csr(int fd)
{
	struct sev_user_data_pek_csr q = { 0 };
	uint8_t buf[SEV_CERT_SIZE + 16];
	uint32_t err;

	TU_CHECK_EQ(issue(fd, SEV_PEK_CSR, &q, &err), -EIO);
	TU_CHECK_EQ(err, SEV_STATUS_INVALID_LEN);
	TU_CHECK_EQ(q.length, SEV_CERT_SIZE);
	TU_CHECK_EQ(emu_state(), SEV_PSTATE_UNINIT);
	memset(buf, 0xa5, sizeof(buf));
	q = (struct sev_user_data_pek_csr){ .address = (uint64_t)(uintptr_t)buf, .length = 100 };
	TU_CHECK_EQ(issue(fd, SEV_PEK_CSR, &q, &err), -EIO);
	TU_CHECK_EQ(err, SEV_STATUS_INVALID_LEN);
	TU_CHECK_EQ(q.length, SEV_CERT_SIZE);
	TU_CHECK_EQ(buf[100], 0xa5); /* nothing written past the caller's 100 bytes */
	q = (struct sev_user_data_pek_csr){ .address = (uint64_t)(uintptr_t)buf,
					    .length = sizeof(buf) };
	TU_CHECK_EQ(issue(fd, SEV_PEK_CSR, &q, &err), 0);
	TU_CHECK_EQ(err, 0);
	TU_CHECK_EQ(q.length, SEV_CERT_SIZE);
	TU_CHECK_EQ(get_le32(buf + 8), PEK_USAGE);
	TU_CHECK_EQ(buf[SEV_CERT_SIZE], 0xa5);
	TU_CHECK_EQ(emu_state(), SEV_PSTATE_UNINIT);
}

/* PDH_CERT_EXPORT through the device; lengths answered on the query. */
static void export_pdh(int fd, uint8_t pdh[SEV_CERT_SIZE], uint8_t chain[SEV_CERT_CHAIN_SIZE])
{
	struct sev_user_data_pdh_cert_export ex = { 0 };
	uint32_t err;

	TU_CHECK_EQ(issue(fd, SEV_PDH_CERT_EXPORT, &ex, &err), -EIO);
	TU_CHECK_EQ(err, SEV_STATUS_INVALID_LEN);
	TU_CHECK_EQ(ex.pdh_cert_len, SEV_CERT_SIZE);
	TU_CHECK_EQ(ex.cert_chain_len, SEV_CERT_CHAIN_SIZE);
	ex = (struct sev_user_data_pdh_cert_export){
		.pdh_cert_address = (uint64_t)(uintptr_t)pdh, .pdh_cert_len = SEV_CERT_SIZE,
		.cert_chain_address = (uint64_t)(uintptr_t)chain,
		.cert_chain_len = SEV_CERT_CHAIN_SIZE };
	TU_CHECK_EQ(issue(fd, SEV_PDH_CERT_EXPORT, &ex, &err), 0);
	TU_CHECK_EQ(err, 0);
	TU_CHECK_EQ(emu_state(), SEV_PSTATE_UNINIT);
}

static void check_pdh_gen(int fd)
{
	uint8_t pdh1[SEV_CERT_SIZE], pdh2[SEV_CERT_SIZE], chain[SEV_CERT_CHAIN_SIZE];
	_cleanup_free_ uint8_t *epdh = NULL, *echain = NULL;
	size_t lp = 0, lc = 0;
	uint32_t err;
	int pr;

	export_pdh(fd, pdh1, chain);
	/* The emulator's view of the same chain (it needs INIT for that; back to UNINIT after). */
	TU_CHECK_EQ(psp_cmd_init(emu, 0, &pr), 0);
	TU_CHECK_EQ(psp_cmd_pdh_cert_export(emu, &epdh, &lp, &echain, &lc, &pr), 0);
	TU_CHECK_EQ(psp_cmd_shutdown(emu, &pr), 0);
	TU_CHECK(lp == SEV_CERT_SIZE && memcmp(epdh, pdh1, lp) == 0, "dev and emu PDH differ");
	TU_CHECK(lc == SEV_CERT_CHAIN_SIZE && memcmp(echain, chain, lc) == 0, "chains differ");
	TU_CHECK_EQ(issue(fd, SEV_PDH_GEN, NULL, &err), 0);
	TU_CHECK_EQ(emu_state(), SEV_PSTATE_UNINIT);
	export_pdh(fd, pdh2, chain);
	TU_CHECK(memcmp(pdh1, pdh2, SEV_CERT_SIZE) != 0, "PDH_GEN kept the PDH");
	TU_CHECK_EQ(issue(fd, SEV_PEK_GEN, NULL, &err), 0);
	TU_CHECK_EQ(emu_state(), SEV_PSTATE_UNINIT);
}

/* GET_ID2 (any state, read-only is enough) and the deprecated fixed-size GET_ID: the bytes
 * the emulator gives its own client. */
static void check_id(int ro)
{
	struct sev_user_data_get_id2 q = { 0 };
	struct sev_user_data_get_id id1;
	_cleanup_free_ uint8_t *eid = NULL;
	uint8_t id2[256];
	size_t len = 0;
	uint32_t err;
	int pr;

	TU_CHECK_EQ(psp_cmd_get_id(emu, &eid, &len, &pr), 0);
	TU_CHECK(len >= SEV_GET_ID_SIZE && len <= sizeof(id1), "emulator ID of %zu bytes", len);
	TU_CHECK_EQ(issue(ro, SEV_GET_ID2, &q, &err), -EIO);
	TU_CHECK_EQ(err, SEV_STATUS_INVALID_LEN);
	TU_CHECK_EQ(q.length, len);
	q = (struct sev_user_data_get_id2){ .address = (uint64_t)(uintptr_t)id2,
					    .length = sizeof(id2) };
	TU_CHECK_EQ(issue(ro, SEV_GET_ID2, &q, &err), 0);
	TU_CHECK_EQ(q.length, len);
	TU_CHECK_MEM(id2, eid, len);
	memset(&id1, 0, sizeof(id1));
	TU_CHECK_EQ(issue(ro, SEV_GET_ID, &id1, &err), 0);
	TU_CHECK_MEM(&id1, eid, len);
}

/* FACTORY_RESET reads the firmware's state but SHUTs DOWN only what the driver itself
 * INITed (its cached state): a platform someone else INITed answers INVALID_PLATFORM_STATE. */
static void check_reset(int fd)
{
	struct sev_cmd_platform_status st;
	uint32_t err;
	int pr;

	uint32_t handle = 0;

	TU_CHECK_EQ(psp_cmd_init(emu, 0, &pr), 0);
	TU_CHECK_EQ(issue(fd, SEV_FACTORY_RESET, NULL, &err), -EIO);
	TU_CHECK_EQ(err, SEV_STATUS_INVALID_PLATFORM_STATE);
	/* A guest makes the platform WORKING: EBUSY, firmware not asked to reset. */
	TU_CHECK_EQ(psp_cmd_launch_start(emu, SEV_POLICY_NODBG, NULL, 0, NULL, 0, &handle, &pr), 0);
	TU_CHECK_EQ(emu_state(), SEV_PSTATE_WORKING);
	TU_CHECK_EQ(issue(fd, SEV_FACTORY_RESET, NULL, &err), -EBUSY);
	TU_CHECK_EQ(err, 0); /* PLATFORM_STATUS answered */
	TU_CHECK_EQ(psp_cmd_decommission(emu, handle, &pr), 0);
	TU_CHECK_EQ(psp_cmd_shutdown(emu, &pr), 0);
	TU_CHECK_EQ(issue(fd, SEV_FACTORY_RESET, NULL, &err), 0);
	TU_CHECK_EQ(err, 0);
	TU_CHECK_EQ(psp_cmd_platform_status(emu, &st, &pr), 0);
	TU_CHECK_EQ(st.state, SEV_PSTATE_UNINIT);
	TU_CHECK_EQ(st.flags & SEV_PLATFORM_FLAG_OWNER, 0);
}

/* Descriptors are real ones: dup, close and fork need no interposition. */
static void check_descriptors(int fd)
{
	int d = dup(fd), st;
	pid_t pid;

	TU_CHECK(d >= 0, "dup: %m");
	TU_CHECK_EQ(fcntl(d, F_GETFL) & O_ACCMODE, O_RDWR);
	check_status(d);
	pid = fork();
	TU_CHECK(pid >= 0, "fork: %m");
	if (pid == 0) {
		struct sev_user_data_status s;

		_exit(issue(d, SEV_PLATFORM_STATUS, &s, NULL) == 0 && issue(d, SEV_PDH_GEN, NULL,
									       NULL) == 0 ? 0 : 1);
	}
	TU_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		 "the forked child's ioctls failed (status 0x%x)", st);
	TU_CHECK_EQ(close(d), 0);
	check_status(fd);
	/* A closed descriptor's number reused by a plain file is not the device any more. */
	int n = open("/dev/sev", O_RDWR), plain;
	TU_CHECK(n >= 0, "open: %m");
	TU_CHECK_EQ(close(n), 0);
	plain = open("/proc/self/stat", O_RDONLY);
	TU_CHECK_EQ(plain, n);
	TU_CHECK_EQ(issue(plain, SEV_PLATFORM_STATUS, NULL, NULL), -ENOTTY);
	/* dup2 onto another number carries the device there. */
	TU_CHECK_EQ(dup2(fd, plain), plain);
	check_status(plain);
	close(plain);
	int w = openat(AT_FDCWD, "/dev/sev", O_WRONLY | O_CLOEXEC);
	TU_CHECK(w >= 0, "openat O_WRONLY: %m");
	TU_CHECK_EQ(issue(w, SEV_PEK_GEN, NULL, NULL), 0); /* O_WRONLY is FMODE_WRITE */
	close(w);
	TU_CHECK(open("/dev/sev", O_RDONLY | O_DIRECTORY) < 0 && errno == ENOTDIR, "O_DIRECTORY");
}

static void check_cpuid(void)
{
	uint32_t regs[4];
	int fd = open("/dev/cpu/0/cpuid", O_RDONLY);

	TU_CHECK(fd >= 0, "/dev/cpu/0/cpuid: %m");
	TU_CHECK_EQ(pread(fd, regs, sizeof(regs), 0x8000001F), sizeof(regs));
	TU_CHECK_EQ(regs[2], 509);
	TU_CHECK_EQ(regs[3], 100);
	close(fd);
}

static int client(const char *socket)
{
	char spec[300];
	int fd, ro;

	snprintf(spec, sizeof(spec), "emu:%s", socket);
	TU_CHECK_EQ(psp_open(spec, &emu), 0);
	fd = open("/dev/sev", O_RDWR | O_CLOEXEC);
	TU_CHECK(fd >= 0, "open /dev/sev under the preload library: %m");
	ro = open("/dev/sev", O_RDONLY | O_CLOEXEC);
	TU_CHECK(ro >= 0, "open /dev/sev read-only: %m");
	check_status(fd);
	check_refusals(fd, ro);
	check_csr(fd);
	check_pdh_gen(fd);
	check_id(ro);
	check_reset(fd);
	check_descriptors(fd);
	check_cpuid();
	close(ro);
	close(fd);
	psp_close(emu);
	tu_done("test-dev-emu (client)");
}

int main(int argc, char **argv)
{
	static const char *emu_args[] = { "--cpuid-ecx", "509", "--cpuid-edx", "100", NULL };
	const char *preload = getenv("SEV_DEV_EMU_PRELOAD");
	char *dir, out_log[512];
	struct tu_emu e;
	int st;

	if (argc == 3 && strcmp(argv[1], "client") == 0)
		return client(argv[2]);
	if (!preload || !*preload)
		tu_skip("SEV_DEV_EMU_PRELOAD is not set (run through meson test)");
	dir = tu_mkdtemp();
	TU_CHECK_EQ(tu_emu_start(dir, emu_args, &e), 0);
	snprintf(out_log, sizeof(out_log), "%s/client.log", dir);
	setenv("LD_PRELOAD", preload, 1);
	setenv("SEV_EMU_SOCKET", e.socket, 1);
	char *cargv[] = { "/proc/self/exe", "client", e.socket, NULL };
	pid_t pid = tu_spawn(cargv, out_log);
	unsetenv("LD_PRELOAD");
	TU_CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %m");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		size_t n = 0;
		_cleanup_free_ uint8_t *log = tu_read_file(out_log, &n);
		fprintf(stderr, "---- client ----\n%.*s---- end ----\n", (int)n, (char *)log);
	}
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "client under the preload library failed "
							 "(status 0x%x)", st);
	tu_emu_stop(&e);
	tu_rmtree(dir);
	free(dir);
	tu_done("test-dev-emu");
}
