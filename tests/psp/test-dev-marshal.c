/* The dev transport's marshalling, without hardware.
 *
 * How: this executable is linked with -Wl,--wrap=ioctl, so every ioctl() call in it and in
 * libpsp.a goes to __wrap_ioctl() below — the syscall boundary. The production library has
 * no test seam (no writable function pointer in the process that holds the PSP); the double
 * exists only in this binary. The transport opens a plain temp file as its "device"; the
 * double recognises that fd, reads the raw bytes of struct sev_issue_cmd and of the Linux
 * user struct it points at (offsets written out here by hand, not taken from the header),
 * and answers as the kernel + firmware would: SUCCESS, INVALID_LEN with the needed length,
 * a failing status with -EIO, or a bare errno when firmware is not reached. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <cpuid.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/commands.h"
#include "psp/sev-abi.h"
#include "psp/transport.h"
#include "tests/testutil.h"

/* _IOWR('S', 0, 16 bytes) spelt out, so the test does not trust the header it checks. */
#define SEV_ISSUE_CMD_NR 0xC0105300ul
#define NO_FW_CALL_U32 0xFFFFFFFFu

/* One expected ioctl: the firmware side plays it. `user` is the Linux struct (NULL when
 * the issue carries no data); it returns the errno for the ioctl (0 = success) and sets
 * *error as the kernel would (left at the sentinel when firmware is not reached). */
typedef int (*play_fn)(uint32_t sub, uint8_t *user, uint32_t *error);

static play_fn script[4]; /* the steps the next command(s) should make, in order */
static int script_len, script_pos;
static int ioctl_calls;
static ino_t fake_ino;
static dev_t fake_dev;

/* Concurrency mode: every issue is a PLATFORM_STATUS; the double checks that no two are
 * ever inside "firmware" at once (psp_issue's lock, like Linux's sev_cmd_mutex). */
static int concurrent;
static int in_flight, max_in_flight, concurrent_calls;

static int play_concurrent(uint8_t *io)
{
	uint8_t *u = (uint8_t *)(uintptr_t)get_le64(io + 4);
	int now = __atomic_add_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);

	if (now > __atomic_load_n(&max_in_flight, __ATOMIC_SEQ_CST))
		__atomic_store_n(&max_in_flight, now, __ATOMIC_SEQ_CST);
	usleep(200); /* widen the window a second command would have to overlap */
	u[2] = SEV_PSTATE_WORKING;
	put_le32(io + 12, 0);
	__atomic_add_fetch(&concurrent_calls, 1, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
	return 0;
}

int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	struct stat st;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fstat(fd, &st) < 0 || st.st_ino != fake_ino || st.st_dev != fake_dev)
		return __real_ioctl(fd, req, arg);

	TU_CHECK_EQ(req, SEV_ISSUE_CMD_NR);
	uint8_t *io = arg; /* struct sev_issue_cmd: u32 cmd @0, u64 data @4, u32 error @12 */
	if (concurrent)
		return play_concurrent(io);
	TU_CHECK(script_pos < script_len, "unexpected ioctl (no firmware step scripted)");
	ioctl_calls++;

	uint32_t error = get_le32(io + 12);
	TU_CHECK_EQ(error, NO_FW_CALL_U32); /* the transport's "not reached" sentinel */
	play_fn play = script[script_pos++];
	int e = play(get_le32(io), (uint8_t *)(uintptr_t)get_le64(io + 4), &error);
	put_le32(io + 12, error);
	if (e) {
		errno = e;
		return -1;
	}
	return 0;
}

/* ---- firmware steps ---- */

static int fw_status(uint32_t sub, uint8_t *u, uint32_t *error)
{
	TU_CHECK_EQ(sub, 1); /* SEV_PLATFORM_STATUS */
	TU_CHECK(u != NULL, "PLATFORM_STATUS needs a user struct");
	for (int i = 0; i < 12; i++)
		TU_CHECK_EQ(u[i], 0);
	u[0] = 1;		/* api_major */
	u[1] = 55;		/* api_minor */
	u[2] = SEV_PSTATE_INIT; /* state */
	put_le32(u + 3, SEV_PLATFORM_FLAG_OWNER | SEV_PLATFORM_FLAG_CONFIG_ES);
	u[7] = 0x2a;		/* build */
	put_le32(u + 8, 7);	/* guest_count */
	*error = 0;
	return 0;
}

static int fw_pek_gen_bad_state(uint32_t sub, uint8_t *u, uint32_t *error)
{
	TU_CHECK_EQ(sub, 2); /* SEV_PEK_GEN */
	TU_CHECK(u == NULL, "PEK_GEN carries no data");
	*error = SEV_STATUS_INVALID_PLATFORM_STATE;
	return EIO;
}

static uint8_t csr_pattern[SEV_CERT_SIZE];

static int fw_csr_query(uint32_t sub, uint8_t *u, uint32_t *error)
{
	TU_CHECK_EQ(sub, 3); /* SEV_PEK_CSR: {u64 address @0, u32 length @8} */
	TU_CHECK_EQ(get_le64(u), 0);
	TU_CHECK_EQ(get_le32(u + 8), 0);
	put_le32(u + 8, SEV_CERT_SIZE);
	*error = SEV_STATUS_INVALID_LEN;
	return EIO;
}

static int fw_csr_fetch(uint32_t sub, uint8_t *u, uint32_t *error)
{
	uint64_t addr = get_le64(u);

	TU_CHECK_EQ(sub, 3);
	TU_CHECK(addr != 0 && addr % SEV_PAGE_SIZE == 0, "CSR buffer at %#llx",
		 (unsigned long long)addr);
	TU_CHECK_EQ(get_le32(u + 8), SEV_CERT_SIZE);
	memcpy((void *)(uintptr_t)addr, csr_pattern, SEV_CERT_SIZE);
	*error = 0;
	return 0;
}

/* PDH_CERT_EXPORT user struct: pdh addr @0, pdh len @8, chain addr @12, chain len @20
 * (24 bytes; the firmware buffer has a reserved u32 at 12 and is 28). */
static uint64_t want_pdh_addr, want_chain_addr;

static int fw_export_exact(uint32_t sub, uint8_t *u, uint32_t *error)
{
	TU_CHECK_EQ(sub, 5); /* SEV_PDH_CERT_EXPORT */
	TU_CHECK_EQ(get_le64(u), want_pdh_addr);
	TU_CHECK_EQ(get_le32(u + 8), 0x10);
	TU_CHECK_EQ(get_le64(u + 12), want_chain_addr);
	TU_CHECK_EQ(get_le32(u + 20), 0x20);
	for (int i = 0; i + 4 <= 24; i++)
		TU_CHECK(get_le32(u + i) != 0xdeadbeefu, "reserved field leaked at %d", i);
	put_le32(u + 8, SEV_CERT_SIZE);
	put_le32(u + 20, SEV_CERT_CHAIN_SIZE);
	*error = SEV_STATUS_INVALID_LEN;
	return EIO;
}

static int fw_export_query(uint32_t sub, uint8_t *u, uint32_t *error)
{
	TU_CHECK_EQ(sub, 5);
	for (int i = 0; i < 24; i++)
		TU_CHECK_EQ(u[i], 0);
	put_le32(u + 8, SEV_CERT_SIZE);
	put_le32(u + 20, SEV_CERT_CHAIN_SIZE);
	*error = SEV_STATUS_INVALID_LEN;
	return EIO;
}

static int fw_export_fetch(uint32_t sub, uint8_t *u, uint32_t *error)
{
	uint8_t *pdh = (uint8_t *)(uintptr_t)get_le64(u);
	uint8_t *chain = (uint8_t *)(uintptr_t)get_le64(u + 12);

	TU_CHECK_EQ(sub, 5);
	TU_CHECK(pdh && chain, "both addresses set");
	TU_CHECK_EQ(get_le32(u + 8), SEV_CERT_SIZE);
	TU_CHECK_EQ(get_le32(u + 20), SEV_CERT_CHAIN_SIZE);
	memset(pdh, 0xA1, SEV_CERT_SIZE);
	memset(chain, 0xC3, SEV_CERT_CHAIN_SIZE);
	*error = 0;
	return 0;
}

static const uint8_t pek_bytes[] = "owner-signed PEK";
static const uint8_t oca_bytes[] = "the OCA certificate, longer";

static int fw_import(uint32_t sub, uint8_t *u, uint32_t *error)
{
	TU_CHECK_EQ(sub, 6); /* SEV_PEK_CERT_IMPORT: pek @0/@8, oca @12/@20 (24 bytes) */
	TU_CHECK_EQ(get_le32(u + 8), sizeof(pek_bytes));
	TU_CHECK_EQ(get_le32(u + 20), sizeof(oca_bytes));
	TU_CHECK_MEM((void *)(uintptr_t)get_le64(u), pek_bytes, sizeof(pek_bytes));
	TU_CHECK_MEM((void *)(uintptr_t)get_le64(u + 12), oca_bytes, sizeof(oca_bytes));
	*error = 0;
	return 0;
}

static int fw_import_owned(uint32_t sub, uint8_t *u, uint32_t *error)
{
	TU_CHECK_EQ(sub, 6);
	*error = SEV_STATUS_ALREADY_OWNED;
	return EIO;
}

static int fw_id_query(uint32_t sub, uint8_t *u, uint32_t *error)
{
	TU_CHECK_EQ(sub, 8); /* SEV_GET_ID2 (not the deprecated GET_ID = 7) */
	TU_CHECK_EQ(get_le64(u), 0);
	TU_CHECK_EQ(get_le32(u + 8), 0);
	put_le32(u + 8, 2 * SEV_GET_ID_SIZE);
	*error = SEV_STATUS_INVALID_LEN;
	return EIO;
}

static int fw_id_fetch(uint32_t sub, uint8_t *u, uint32_t *error)
{
	uint8_t *p = (uint8_t *)(uintptr_t)get_le64(u);

	TU_CHECK_EQ(sub, 8);
	TU_CHECK_EQ(get_le32(u + 8), 2 * SEV_GET_ID_SIZE);
	for (unsigned i = 0; i < 2 * SEV_GET_ID_SIZE; i++)
		p[i] = (uint8_t)i;
	*error = 0;
	return 0;
}

static int fw_query_absurd(uint32_t sub, uint8_t *u, uint32_t *error)
{
	put_le32(u + 8, 0x7fffffff);
	*error = SEV_STATUS_INVALID_LEN;
	return EIO;
}

static int fw_fetch_overlong(uint32_t sub, uint8_t *u, uint32_t *error)
{
	put_le32(u + 8, get_le32(u + 8) + 1); /* claims to have written past our buffer */
	*error = 0;
	return 0;
}

/* FACTORY_RESET while WORKING: the kernel ran PLATFORM_STATUS (error = 0) and refused. */
static int kernel_reset_busy(uint32_t sub, uint8_t *u, uint32_t *error)
{
	TU_CHECK_EQ(sub, 0);
	TU_CHECK(u == NULL, "FACTORY_RESET carries no data");
	*error = 0;
	return EBUSY;
}

static int kernel_eperm(uint32_t sub, uint8_t *u, uint32_t *error)
{
	return EPERM; /* read-only fd: firmware not reached, error untouched */
}

static int kernel_enotsupp(uint32_t sub, uint8_t *u, uint32_t *error)
{
	return 524; /* Linux ENOTSUPP: GET_ID2 on firmware < API 0.16 */
}

/* ---- tests ---- */

/* Script the (at most two) firmware steps the next call must make, in order. */
static void expect(play_fn a, play_fn b)
{
	script[0] = a;
	script[1] = b;
	script_len = b ? 2 : a ? 1 : 0;
	script_pos = 0;
}

/* Every scripted step was used: the wrapper made exactly the ioctls expected. */
static void expect_done(void)
{
	TU_CHECK(script_pos == script_len, "%d of %d scripted ioctls made", script_pos, script_len);
}

static void test_platform_status(struct psp_transport *t)
{
	struct sev_cmd_platform_status st;
	int pr, r;

	expect(fw_status, NULL);
	r = psp_cmd_platform_status(t, &st, &pr);
	expect_done();
	TU_CHECK_EQ(r, 0);
	TU_CHECK_EQ(pr, SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(st.api_major, 1);
	TU_CHECK_EQ(st.api_minor, 55);
	TU_CHECK_EQ(st.state, SEV_PSTATE_INIT);
	TU_CHECK_EQ(st.flags, SEV_PLATFORM_FLAG_OWNER | SEV_PLATFORM_FLAG_CONFIG_ES);
	TU_CHECK_EQ(st.build, 0x2a);
	TU_CHECK_EQ(st.guest_count, 7);
}

/* SNP (uapi sub-commands 9..12, Linux 6.11+): the user structs byte for byte. */
static int fw_snp_status(uint32_t sub, uint8_t *u, uint32_t *error)
{
	TU_CHECK_EQ(sub, 9); /* SNP_PLATFORM_STATUS: data is sev_user_data_snp_status itself */
	TU_CHECK(u != NULL, "SNP_PLATFORM_STATUS needs the status buffer");
	u[0] = 1, u[1] = 55, u[2] = SEV_SNP_PSTATE_INIT, u[3] = 1;
	put_le32(u + 4, 21);
	put_le32(u + 8, SEV_SNP_STATUS_MASK_CHIP_KEY);
	put_le32(u + 12, 3);
	put_le64(u + 16, 0x7300000000000003ull);
	put_le64(u + 24, 0x7300000000000002ull);
	*error = 0;
	return 0;
}

static int fw_snp_commit(uint32_t sub, uint8_t *u, uint32_t *error)
{
	TU_CHECK_EQ(sub, 10);
	TU_CHECK(u == NULL, "SNP_COMMIT takes no user struct");
	*error = 0;
	return 0;
}

static int fw_snp_config(uint32_t sub, uint8_t *u, uint32_t *error)
{
	TU_CHECK_EQ(sub, 11);
	TU_CHECK_EQ(get_le64(u), 0x0800000000000102ull); /* reported_tcb */
	TU_CHECK_EQ(get_le32(u + 8), 3u);		 /* mask_chip_id:1, mask_chip_key:1 */
	for (int i = 12; i < 64; i++)
		TU_CHECK_EQ(u[i], 0);
	*error = SEV_STATUS_INVALID_PARAM;
	return EIO;
}

static int fw_snp_vlek(uint32_t sub, uint8_t *u, uint32_t *error)
{
	TU_CHECK_EQ(sub, 12);
	TU_CHECK_EQ(get_le32(u), 16u); /* len */
	TU_CHECK_EQ(u[4], 0);	       /* vlek_wrapped_version */
	const uint8_t *w = (const uint8_t *)(uintptr_t)get_le64(u + 8);
	for (int i = 0; i < 432; i++)
		TU_CHECK_EQ(w[i], (uint8_t)i);
	*error = SEV_STATUS_BAD_SVN;
	return EIO;
}

static void test_snp(struct psp_transport *t)
{
	struct sev_snp_platform_status st;
	struct sev_snp_vlek_wrapped w;
	int pr;

	expect(fw_snp_status, NULL);
	TU_CHECK_EQ(psp_cmd_snp_platform_status(t, &st, &pr), 0);
	expect_done();
	TU_CHECK(st.api_major == 1 && st.api_minor == 55 && st.state == SEV_SNP_PSTATE_INIT &&
			 st.is_rmp_initialized == 1 && st.build_id == 21 &&
			 st.flags == SEV_SNP_STATUS_MASK_CHIP_KEY && st.guest_count == 3 &&
			 st.current_tcb == 0x7300000000000003ull &&
			 st.reported_tcb == 0x7300000000000002ull,
		 "SNP status fields");
	expect(fw_snp_commit, NULL);
	TU_CHECK_EQ(psp_cmd_snp_commit(t, &pr), 0);
	expect_done();
	expect(fw_snp_config, NULL);
	TU_CHECK_EQ(psp_cmd_snp_set_config(t, 0x0800000000000102ull, 3, &pr), -EIO);
	expect_done();
	TU_CHECK_EQ(pr, SEV_STATUS_INVALID_PARAM);
	for (size_t i = 0; i < sizeof(w); i++)
		((uint8_t *)&w)[i] = (uint8_t)i;
	expect(fw_snp_vlek, NULL);
	TU_CHECK_EQ(psp_cmd_snp_vlek_load(t, &w, &pr), -EIO);
	expect_done();
	TU_CHECK_EQ(pr, SEV_STATUS_BAD_SVN);
}

static void test_failing_status(struct psp_transport *t)
{
	char buf[256];
	int pr, r;

	expect(fw_pek_gen_bad_state, NULL);
	r = psp_cmd_pek_gen(t, &pr);
	expect_done();
	TU_CHECK_EQ(r, -EIO);
	TU_CHECK_EQ(pr, SEV_STATUS_INVALID_PLATFORM_STATE);
	psp_strerror(r, pr, buf, sizeof(buf));
	TU_CHECK(strcmp(buf, "firmware answered INVALID_PLATFORM_STATE (the platform is not in a "
			     "state that allows this command)") == 0,
		 "rendered as '%s'", buf);
}

static void test_pek_csr(struct psp_transport *t)
{
	_cleanup_free_ uint8_t *csr = NULL;
	size_t len = 0;
	int pr, r;

	for (size_t i = 0; i < sizeof(csr_pattern); i++)
		csr_pattern[i] = (uint8_t)(i * 7 + 3);

	/* raw: the length query comes back in the firmware buffer with INVALID_LEN */
	struct sev_cmd_pek_csr q = { 0 };
	expect(fw_csr_query, NULL);
	r = psp_issue(t, SEV_CMD_PEK_CSR, &q, &pr);
	expect_done();
	TU_CHECK_EQ(r, -EIO);
	TU_CHECK_EQ(pr, SEV_STATUS_INVALID_LEN);
	TU_CHECK_EQ(q.len, SEV_CERT_SIZE);
	TU_CHECK_EQ(q.address, 0);

	/* the wrapper: query, then fetch into firmware-addressable memory */
	expect(fw_csr_query, fw_csr_fetch);
	r = psp_cmd_pek_csr(t, &csr, &len, &pr);
	expect_done();
	TU_CHECK_EQ(r, 0);
	TU_CHECK_EQ(pr, SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(len, SEV_CERT_SIZE);
	TU_CHECK_MEM(csr, csr_pattern, SEV_CERT_SIZE);
}

/* The firmware buffer (28 bytes, reserved u32 at 12) becomes the 24-byte Linux struct. */
static void test_pdh_export_bytes(struct psp_transport *t)
{
	struct sev_cmd_pdh_cert_export c = {
		.pdh_cert_address = 0x1122334455667788ull,
		.pdh_cert_len = 0x10,
		.reserved = 0xdeadbeef,
		.cert_chain_address = 0x99aabbccddeeff00ull,
		.cert_chain_len = 0x20,
	};
	int pr, r;

	want_pdh_addr = c.pdh_cert_address;
	want_chain_addr = c.cert_chain_address;
	expect(fw_export_exact, NULL);
	r = psp_issue(t, SEV_CMD_PDH_CERT_EXPORT, &c, &pr);
	expect_done();
	TU_CHECK_EQ(r, -EIO);
	TU_CHECK_EQ(pr, SEV_STATUS_INVALID_LEN);
	/* lengths came back, everything else untouched */
	TU_CHECK_EQ(c.pdh_cert_len, SEV_CERT_SIZE);
	TU_CHECK_EQ(c.cert_chain_len, SEV_CERT_CHAIN_SIZE);
	TU_CHECK_EQ(c.pdh_cert_address, 0x1122334455667788ull);
	TU_CHECK_EQ(c.cert_chain_address, 0x99aabbccddeeff00ull);
	TU_CHECK_EQ(c.reserved, 0xdeadbeef);
}

static void test_pdh_export(struct psp_transport *t)
{
	_cleanup_free_ uint8_t *pdh = NULL, *chain = NULL;
	size_t pdh_len = 0, chain_len = 0;
	int pr, r;

	expect(fw_export_query, fw_export_fetch);
	r = psp_cmd_pdh_cert_export(t, &pdh, &pdh_len, &chain, &chain_len, &pr);
	expect_done();
	TU_CHECK_EQ(r, 0);
	TU_CHECK_EQ(pdh_len, SEV_CERT_SIZE);
	TU_CHECK_EQ(chain_len, SEV_CERT_CHAIN_SIZE);
	TU_CHECK(pdh[0] == 0xA1 && pdh[SEV_CERT_SIZE - 1] == 0xA1, "PDH bytes copied out");
	TU_CHECK(chain[0] == 0xC3 && chain[SEV_CERT_CHAIN_SIZE - 1] == 0xC3, "chain copied out");
}

static void test_pek_import(struct psp_transport *t)
{
	int pr, r;

	expect(fw_import, NULL);
	r = psp_cmd_pek_cert_import(t, pek_bytes, sizeof(pek_bytes), oca_bytes, sizeof(oca_bytes),
				    &pr);
	expect_done();
	TU_CHECK_EQ(r, 0);
	TU_CHECK_EQ(pr, SEV_STATUS_SUCCESS);

	expect(fw_import_owned, NULL);
	r = psp_cmd_pek_cert_import(t, pek_bytes, sizeof(pek_bytes), oca_bytes, sizeof(oca_bytes),
				    &pr);
	expect_done();
	TU_CHECK_EQ(r, -EIO);
	TU_CHECK_EQ(pr, SEV_STATUS_ALREADY_OWNED);
}

static void test_get_id(struct psp_transport *t)
{
	_cleanup_free_ uint8_t *id = NULL;
	size_t len = 0;
	int pr, r;

	expect(fw_id_query, fw_id_fetch);
	r = psp_cmd_get_id(t, &id, &len, &pr);
	expect_done();
	TU_CHECK_EQ(r, 0);
	TU_CHECK_EQ(len, 2 * SEV_GET_ID_SIZE);
	TU_CHECK(id[0] == 0 && id[127] == 127, "ID bytes copied out");
}

/* A firmware that lies about lengths cannot make us allocate or copy past a buffer. */
static void test_bad_lengths(struct psp_transport *t)
{
	_cleanup_free_ uint8_t *csr = NULL;
	size_t len = 0;
	int pr, r;

	expect(fw_query_absurd, NULL);
	r = psp_cmd_pek_csr(t, &csr, &len, &pr);
	expect_done(); /* no second ioctl */
	TU_CHECK_EQ(r, -EBADMSG);
	TU_CHECK(csr == NULL, "nothing returned");

	expect(fw_id_query, fw_fetch_overlong);
	r = psp_cmd_get_id(t, &csr, &len, &pr);
	expect_done();
	TU_CHECK_EQ(r, -EBADMSG);
	TU_CHECK(csr == NULL, "nothing returned");
}

/* The kernel's own errors: firmware not reached, so *psp_ret stays NO_FW_CALL. */
static void test_kernel_errors(struct psp_transport *t)
{
	char buf[512];
	int pr, r;

	expect(kernel_reset_busy, NULL);
	r = psp_cmd_factory_reset(t, &pr);
	expect_done();
	TU_CHECK_EQ(r, -EBUSY);
	TU_CHECK_EQ(pr, SEV_STATUS_NO_FW_CALL);

	expect(kernel_eperm, NULL);
	r = psp_cmd_pdh_gen(t, &pr);
	expect_done();
	TU_CHECK_EQ(r, -EPERM);
	TU_CHECK_EQ(pr, SEV_STATUS_NO_FW_CALL);
	TU_CHECK(strstr(psp_strerror(r, pr, buf, sizeof(buf)), "read-only"), "'%s'", buf);

	_cleanup_free_ uint8_t *id = NULL;
	size_t len;
	expect(kernel_enotsupp, NULL);
	r = psp_cmd_get_id(t, &id, &len, &pr);
	expect_done();
	TU_CHECK_EQ(r, -EOPNOTSUPP);
	TU_CHECK_EQ(pr, SEV_STATUS_NO_FW_CALL);
}

/* Commands only KVM can send never reach the device. */
static void test_kvm_only(struct psp_transport *t)
{
	static const uint8_t mnonce[SEV_MNONCE_SIZE];
	struct sev_cmd_guest_status gs;
	struct sev_attestation_report rep;
	uint8_t blob[SEV_MEASURE_BLOB_SIZE], buf[512];
	uint32_t handle;
	int calls = ioctl_calls, pr, r;
	char msg[512];

	expect(NULL, NULL);
#define NOT_ON_DEV(call)                                                                           \
	do {                                                                                       \
		pr = 1234;                                                                         \
		r = (call);                                                                        \
		TU_CHECK(r == -EOPNOTSUPP, "%s = %d", #call, r);                                   \
		TU_CHECK_EQ(pr, SEV_STATUS_NO_FW_CALL);                                            \
	} while (0)
	NOT_ON_DEV(psp_cmd_init(t, 0, &pr));
	NOT_ON_DEV(psp_cmd_shutdown(t, &pr));
	NOT_ON_DEV(psp_cmd_df_flush(t, &pr));
	NOT_ON_DEV(psp_cmd_launch_start(t, 0, NULL, 0, NULL, 0, &handle, &pr));
	NOT_ON_DEV(psp_cmd_launch_update_data(t, 1, 0x1000, 4096, &pr));
	NOT_ON_DEV(psp_cmd_launch_update_vmsa(t, 1, 0x1000, 4096, &pr));
	NOT_ON_DEV(psp_cmd_launch_measure(t, 1, blob, &pr));
	NOT_ON_DEV(psp_cmd_launch_secret(t, 1, &(struct sev_secret_header){ 0 }, 0x1000, 16, buf,
					 16, &pr));
	NOT_ON_DEV(psp_cmd_launch_finish(t, 1, &pr));
	NOT_ON_DEV(psp_cmd_activate(t, 1, 5, &pr));
	NOT_ON_DEV(psp_cmd_deactivate(t, 1, &pr));
	NOT_ON_DEV(psp_cmd_decommission(t, 1, &pr));
	NOT_ON_DEV(psp_cmd_guest_status(t, 1, &gs, &pr));
	NOT_ON_DEV(psp_cmd_attestation(t, 1, mnonce, &rep, &pr));
	NOT_ON_DEV(psp_cmd_dbg_decrypt(t, 1, 0x1000, buf, 16, &pr));
	NOT_ON_DEV(psp_cmd_dbg_encrypt(t, 1, buf, 0x1000, 16, &pr));
	/* SNP guest commands: KVM's too, refused without an ioctl */
	NOT_ON_DEV(psp_issue(t, SEV_CMD_SNP_GCTX_CREATE, buf, &pr));
	NOT_ON_DEV(psp_cmd_snp_init_ex(t, SEV_SNP_INIT_INIT_RMP, &pr));
#undef NOT_ON_DEV
	TU_CHECK_EQ(ioctl_calls, calls);
	psp_strerror(-EOPNOTSUPP, SEV_STATUS_NO_FW_CALL, msg, sizeof(msg));
	TU_CHECK(strstr(msg, "only KVM can send"), "'%s'", msg);
}

/* psp_issue() checks the buffer against the command table before any transport runs. */
static void test_buffer_checks(struct psp_transport *t)
{
	uint8_t buf[64] = { 0 };
	int calls = ioctl_calls, pr;

	expect(NULL, NULL);
	TU_CHECK_EQ(psp_issue(t, SEV_CMD_PEK_GEN, buf, &pr), -EINVAL);	   /* has no buffer */
	TU_CHECK_EQ(psp_issue(t, SEV_CMD_PLATFORM_STATUS, NULL, &pr), -EINVAL); /* needs one */
	TU_CHECK_EQ(psp_issue(t, 0x10, NULL, &pr), -EINVAL);		   /* not a command (0x0E is NOP) */
	TU_CHECK_EQ(psp_issue(t, 0x12345, buf, &pr), -EINVAL);
	TU_CHECK_EQ(pr, SEV_STATUS_NO_FW_CALL);
	TU_CHECK_EQ(psp_issue(NULL, SEV_CMD_PEK_GEN, NULL, &pr), -EINVAL);
	TU_CHECK_EQ(ioctl_calls, calls);
}

static void test_memory(struct psp_transport *t)
{
	struct psp_buf b;
	struct psp_cpuid c;
	uint64_t base;
	unsigned a, bx, cx, d;
	int r;

	TU_CHECK_EQ(psp_dma_alloc(t, 100, &b), 0);
	TU_CHECK(b.addr == (uintptr_t)b.ptr && b.addr % SEV_PAGE_SIZE == 0, "user VA, aligned");
	TU_CHECK_EQ(b.size, 100);
	psp_dma_free(t, &b);
	TU_CHECK(b.ptr == NULL, "freed buffer cleared");
	TU_CHECK_EQ(psp_map_memfd(t, 0, 4096, &base), -EOPNOTSUPP);

	r = psp_get_cpuid(t, &c);
	if (__get_cpuid(0x8000001F, &a, &bx, &cx, &d)) {
		TU_CHECK_EQ(r, 0);
		TU_CHECK(c.eax == a && c.ebx == bx && c.ecx == cx && c.edx == d, "CPUID leaf");
	} else {
		TU_CHECK_EQ(r, -ENODEV);
	}
}

#define N_THREADS 4
#define N_PER_THREAD 50

static void *status_loop(void *arg)
{
	struct psp_transport *t = arg;
	struct sev_cmd_platform_status st;
	int pr;

	for (int i = 0; i < N_PER_THREAD; i++) {
		TU_CHECK_EQ(psp_cmd_platform_status(t, &st, &pr), 0);
		TU_CHECK_EQ(st.state, SEV_PSTATE_WORKING);
	}
	return NULL;
}

/* Commands from many threads reach firmware one at a time. */
static void test_serialized(struct psp_transport *t)
{
	pthread_t th[N_THREADS];

	concurrent = 1;
	for (int i = 0; i < N_THREADS; i++)
		TU_CHECK(pthread_create(&th[i], NULL, status_loop, t) == 0, "thread");
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(th[i], NULL);
	concurrent = 0;
	TU_CHECK_EQ(concurrent_calls, N_THREADS * N_PER_THREAD);
	TU_CHECK_EQ(max_in_flight, 1);
}

/* The body, so that its cleanups run before tu_done() exits. */
static void run(void)
{
	_cleanup_free_ char *dir = tu_mkdtemp();
	_cleanup_free_ char *dev = path_join(dir, "fake-sev");
	_cleanup_free_ char *spec = NULL;
	struct psp_transport *t = NULL;
	struct stat st;

	TU_CHECK(write_file_new(dev, "", 0, 0600) == 0, "create %s", dev);
	TU_CHECK(stat(dev, &st) == 0, "stat");
	fake_ino = st.st_ino;
	fake_dev = st.st_dev;
	TU_CHECK(asprintf(&spec, "dev:%s", dev) > 0, "spec");
	TU_CHECK_EQ(psp_open(spec, &t), 0);
	TU_CHECK(strcmp(psp_transport_kind(t), "dev") == 0, "kind");

	test_platform_status(t);
	test_failing_status(t);
	test_pek_csr(t);
	test_pdh_export_bytes(t);
	test_pdh_export(t);
	test_pek_import(t);
	test_get_id(t);
	test_bad_lengths(t);
	test_kernel_errors(t);
	test_kvm_only(t);
	test_snp(t);
	test_buffer_checks(t);
	test_memory(t);
	test_serialized(t);

	psp_close(t);
	tu_rmtree(dir);
}

int main(void)
{
	run();
	tu_done("test-dev-marshal");
}
