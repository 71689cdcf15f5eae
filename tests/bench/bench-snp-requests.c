/* bench-snp-requests VMM_SOCKET HANDLE SECONDS ROUNDS: SEV-SNP guest requests (MSG_REPORT_REQ)
 * per second for one running SNP guest of sevd's, through sevd's VMM socket (hv-glue/vmm-msg.h)
 * and straight to the emulator (SNP_GUEST_REQUEST through the emu transport, on two pages of
 * this process's own, the response page Firmware, as sevd does it), alternating within each
 * round so that load from elsewhere hits both alike. The guest's side is the same in both:
 * VMPCK0 from the guest's view of its secrets page (CTL snp-secrets), each request sealed
 * with the next sequence number and each response opened and checked (status 0, 1184-byte
 * report), so the two differ only in the path. Prints one JSON object: per-round rates, their
 * medians and the median of the per-round ratios sevd / emulator alone. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "attest/snp-msg.h"
#include "common/util.h"
#include "hv-glue/vmm-msg.h"
#include "psp/psp-emu.h"
#include "psp/sev-abi.h"
#include "psp/transport.h"

#define ROUNDS_MAX 32

static struct psp_transport *t;
static int vmm_fd = -1;
static uint32_t handle;
static uint64_t ctx, seqno = 1, base;
static uint8_t vmpck[32], *pages, *frame_in;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-snp-requests: %s\n", what);
	exit(1);
}

static int vmm_call(const struct hv_vmm_req *q, struct hv_vmm_ans *a)
{
	static uint8_t out[HV_VMM_REQ_MAX];
	const char *why = NULL;
	int n;

	if (loop_write(vmm_fd, out, hv_vmm_req_build(q, out)) < 0)
		return -EIO;
	n = hv_vmm_read_frame(vmm_fd, true, frame_in, HV_VMM_ANS_MAX, &why);
	if (n <= 0 || hv_vmm_ans_parse(frame_in, (size_t)n, a, &why) < 0)
		return -EBADMSG;
	return a->error;
}

/* One MSG_REPORT_REQ, sealed, sent one way or the other, opened: 0 or -1. */
static int one(bool via_sevd)
{
	struct sev_snp_report_req rq = {.report_data = {1, 2, 3}};
	uint8_t req[HV_VMM_PAGE] = {0}, rsp[HV_VMM_PAGE];
	const uint8_t *payload;
	size_t n;
	int psp_ret = 0;

	if (attest_snp_msg_seal(vmpck, 0, seqno, SEV_SNP_MSG_REPORT_REQ, &rq, sizeof(rq), req,
				sizeof(req)) < 0)
		return -1;
	if (via_sevd) {
		struct hv_vmm_req q = {.type = HV_VMM_GUEST_REQUEST, .handle = handle, .page = req};
		struct hv_vmm_ans a;

		if (vmm_call(&q, &a) < 0 || !a.page)
			return -1;
		memcpy(rsp, a.page, sizeof(rsp));
	} else {
		struct sev_snp_cmd_guest_request b = {ctx, base, base + HV_VMM_PAGE};

		memcpy(pages, req, sizeof(req));
		if (psp_issue(t, SEV_CMD_SNP_GUEST_REQUEST, &b, &psp_ret) < 0)
			return -1;
		memcpy(rsp, pages + HV_VMM_PAGE, sizeof(rsp));
	}
	if (attest_snp_msg_open(vmpck, 0, seqno + 1, SEV_SNP_MSG_REPORT_RSP, rsp, sizeof(rsp),
				&payload, &n, NULL) < 0 ||
	    n < sizeof(struct sev_snp_report_rsp) ||
	    ((const struct sev_snp_report_rsp *)payload)->status != 0)
		return -1;
	seqno += 2;
	return 0;
}

static double rate(bool via_sevd, double seconds)
{
	double t0 = now_s(), t1;
	unsigned long n = 0;

	do {
		if (one(via_sevd) < 0)
			die(via_sevd ? "a request through sevd failed" : "a request to the emulator failed");
		n++;
		t1 = now_s();
	} while (t1 - t0 < seconds);
	return n / (t1 - t0);
}

static void setup(const char *vmm)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct hv_vmm_ans a;
	uint8_t *sp = NULL;
	size_t len = 0;
	char spec[300], line[96];
	int fd;

	frame_in = malloc(HV_VMM_ANS_MAX);
	vmm_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", vmm);
	if (!frame_in || vmm_fd < 0 || connect(vmm_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("cannot connect to the VMM socket");
	if (vmm_call(&(struct hv_vmm_req){.type = HV_VMM_GUEST_INFO, .handle = handle}, &a) < 0 ||
	    !a.ctx_paddr || !a.emu_socket[0])
		die("guest-info: not an SNP guest of sevd on the emulator");
	ctx = a.ctx_paddr;
	snprintf(spec, sizeof(spec), "emu:%s", a.emu_socket);
	if (psp_open(spec, &t) < 0)
		die("cannot open the emulator");
	snprintf(line, sizeof(line), "snp-secrets 0x%llx", (unsigned long long)ctx);
	if (psp_emu_ctl(t, line, &sp, &len) < 0 || len != HV_VMM_PAGE)
		die("snp-secrets: the guest has no secrets page");
	memcpy(vmpck, sp + 0x20, sizeof(vmpck));
	free(sp);
	fd = memfd_create("bench-snp-requests", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 2 * HV_VMM_PAGE) < 0 ||
	    (pages = mmap(NULL, 2 * HV_VMM_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
		    MAP_FAILED ||
	    psp_map_memfd(t, fd, 2 * HV_VMM_PAGE, &base) < 0)
		die("cannot map the request pages");
	snprintf(line, sizeof(line), "rmpupdate 0x%llx,assigned=1,immutable=1",
		 (unsigned long long)(base + HV_VMM_PAGE));
	if (psp_emu_ctl(t, line, NULL, NULL) < 0)
		die("RMPUPDATE of the response page failed");
}

static void teardown(void)
{
	struct sev_snp_cmd_addr b = {base + HV_VMM_PAGE};
	char line[96];
	int psp_ret;

	(void)psp_issue(t, SEV_CMD_SNP_PAGE_RECLAIM, &b, &psp_ret);
	snprintf(line, sizeof(line), "rmpupdate 0x%llx,assigned=0", (unsigned long long)b.address);
	(void)psp_emu_ctl(t, line, NULL, NULL);
	(void)psp_unmap_memfd(t, base);
	psp_close(t);
	close(vmm_fd);
	free(frame_in);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	double seconds, emu[ROUNDS_MAX], sevd[ROUNDS_MAX], ratio[ROUNDS_MAX];
	unsigned rounds;

	if (argc != 5 || parse_u32(argv[2], &handle) < 0 || (seconds = atof(argv[3])) <= 0 ||
	    (rounds = (unsigned)atoi(argv[4])) == 0 || rounds > ROUNDS_MAX)
		die("usage: bench-snp-requests VMM_SOCKET HANDLE SECONDS ROUNDS (1..32)");
	setup(argv[1]);
	(void)rate(true, seconds / 4); /* warm both paths up */
	(void)rate(false, seconds / 4);
	printf("{\"rounds\": [");
	for (unsigned i = 0; i < rounds; i++) {
		bool sevd_first = i % 2;

		if (sevd_first)
			sevd[i] = rate(true, seconds);
		emu[i] = rate(false, seconds);
		if (!sevd_first)
			sevd[i] = rate(true, seconds);
		ratio[i] = sevd[i] / emu[i];
		printf("%s{\"sevd_rps\": %.1f, \"emu_rps\": %.1f, \"ratio\": %.3f}", i ? ", " : "",
		       sevd[i], emu[i], ratio[i]);
	}
	printf("], \"sevd_rps\": %.1f, \"emu_rps\": %.1f, \"ratio\": %.3f}\n", median(sevd, rounds),
	       median(emu, rounds), median(ratio, rounds));
	teardown();
	return 0;
}
