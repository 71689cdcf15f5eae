/* sev-run --snp-guest (snp-report.h): the SNP tiny guest (guest/snp-main.c) run under /dev/kvm
 * as a plain KVM guest whose memory is the emulated SNP guest's own, asking its VMM for an
 * attestation report. This host has no SNP hardware, so what the CPU and the guest's kernel do
 * on one is played here, and said where:
 *   - memory: the emulator's CTL snp-memfd, the guest's pages decrypted with its memory key at
 *     their GPAs (what the CPU shows the guest), checked to hold the image at 0x10000;
 *   - the exit: the guest writes its GHCB page's GPA to the GHCB port pair (a VMGEXIT in the
 *     runner's model) with SW_EXITCODE = SNP guest request or SNP extended guest request,
 *     SW_EXITINFO1/2 = its request and response pages, and for the extended one RAX / RBX =
 *     its certificate buffer's GPA and pages, each field marked in the valid bitmap (GHCB spec
 *     56421);
 *   - sealing: on hardware the guest's kernel seals MSG_REPORT_REQ with VMPCK0 from its
 *     secrets page and puts the ciphertext in the request page. The tiny guest cannot run
 *     AES-GCM, so it writes the plaintext MSG_REPORT_REQ, and this file, playing its kernel,
 *     reads VMPCK0 from the secrets page *in the guest's memory* (GPA HV_SNP_SECRETS_GPA, never
 *     from sevd, which holds none), seals it (sequence number 1), sends it through sevd's VMM
 *     socket as the VMM would, opens the response and writes the plaintext MSG_REPORT_RSP into
 *     the guest's response page, answering SW_EXITINFO2 = 0 (or the firmware status / the
 *     VMM's error when it failed);
 *   - the extended request goes to sevd as one with the guest's buffer size: a buffer too
 *     small for the host's table is answered to the guest SW_EXITINFO2 = INVALID_LEN << 32
 *     and RBX = the pages needed (sevd did not pass the message to firmware, so the guest
 *     sends the same one again), as KVM does; served, the table is written into the guest's
 *     buffer, the rest of it zeroed;
 *   - the guest checks the status, the size and its nonce in REPORT_DATA, walks the table and
 *     prints the report's MEASUREMENT. The report also goes to --outfile (and the host's
 *     certificate table to --certs), for the verifier. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "attest/snp-msg.h"
#include "attest/snp-report.h"
#include "common/http-client.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"
#include "hv-glue/binding.h"
#include "hv-glue/gate.h"
#include "hv-glue/guest/layout.h"
#include "hv-glue/kvm-runner.h"
#include "hv-glue/snp-report.h"
#include "hv-glue/util.h"
#include "hv-glue/vmm-msg.h"
#include "psp/sev-abi.h"

#define SECRETS_VMPCK0 0x20u
#define FIRST_SEQNO 1u

_Static_assert(HV_SNP_REPORT_SIZE == sizeof(struct sev_snp_report), "the report's size");

struct snp_guest {
	const struct hv_snp_guest_opts *o;
	int vmm_fd;
	uint8_t *buf; /* HV_VMM_ANS_MAX */
	unsigned served;
};

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void wr64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* GET /v1/platform: CPUID 8000_001F ECX/EDX as sevd reports them (asids.max, .min_sev). */
static int platform_asids(const char *daemon, uint32_t *max, uint32_t *min_sev)
{
	struct http_client_opts ho = {.timeout_ms = 30000};
	_cleanup_(json_object_putp) json_object *j = NULL;
	struct http_client *c = NULL;
	struct http_response r = {};
	json_object *as = NULL, *mx = NULL, *ms = NULL;
	int k = http_client_new(daemon, &ho, &c);

	if (k < 0)
		return hv_say(k, "--daemon %s: %s", daemon, c ? http_client_error(c) : strerror(-k));
	k = http_request(c, "GET", "/v1/platform", NULL, NULL, 0, &r);
	if (k < 0)
		hv_say(k, "GET /v1/platform: %s", http_client_error(c));
	http_client_free(c);
	if (k < 0)
		return k;
	if (r.status == 200)
		j = json_tokener_parse((const char *)r.body);
	http_response_clear(&r);
	if (!j || !json_object_object_get_ex(j, "asids", &as) ||
	    !json_object_object_get_ex(as, "max", &mx) ||
	    !json_object_object_get_ex(as, "min_sev", &ms))
		return hv_say(-EBADMSG, "GET /v1/platform: no asids.max and asids.min_sev in "
			      "sevd's answer");
	*max = (uint32_t)json_object_get_int64(mx);
	*min_sev = (uint32_t)json_object_get_int64(ms);
	if (*max == 0 || *min_sev == 0 || *min_sev > *max)
		return hv_say(-EBADMSG, "platform: ASID range max %u, min_sev %u makes no sense",
			      *max, *min_sev);
	return 0;
}

/* What the guest asked for in its GHCB. */
struct guest_req {
	uint64_t req_gpa, rsp_gpa;
	bool ext;
	uint64_t certs_gpa;
	uint32_t certs_pages; /* in; out: the pages needed after INVALID_LEN */
};

/* The message page to sevd (extended with the guest's buffer size); refusals said. 1 when
 * sevd answered INVALID_LEN (g->certs_pages set to what the table needs). */
static int to_sevd(struct snp_guest *s, struct guest_req *g, const uint8_t *page,
		   struct hv_vmm_ans *a)
{
	struct hv_vmm_req q = {.type = g->ext ? HV_VMM_EXT_GUEST_REQUEST : HV_VMM_GUEST_REQUEST,
			       .handle = s->o->r.handle,
			       .certs_len = g->ext ? g->certs_pages * HV_VMM_PAGE : 0,
			       .page = page};
	int k = hv_snp_vmm_call(s->vmm_fd, &q, s->buf, a);

	if (k < 0)
		return k;
	if (g->ext && a->vmm_error == HV_VMM_ERR_INVALID_LEN) {
		g->certs_pages = (a->certs_len + HV_VMM_PAGE - 1) / HV_VMM_PAGE;
		fprintf(stderr, "sev-run: the guest's certificate buffer of %u page(s) is too "
			"small: the host's table needs %u bytes (%u pages)\n",
			q.certs_len / HV_VMM_PAGE, a->certs_len, g->certs_pages);
		return 1;
	}
	if (a->error < 0 || !a->page)
		return hv_say(a->error < 0 ? a->error : -EBADMSG, "sevd refused the guest request: "
			      "%s", a->reason[0] ? a->reason : strerror(-a->error));
	return 0;
}

/* The report request, as the guest's kernel and its VMM serve it; *exitinfo2 what the guest
 * reads back (0: served). A negative errno only when the run cannot go on. */
static int serve_request(struct snp_guest *s, uint8_t *mem, struct guest_req *g,
			 uint64_t *exitinfo2)
{
	uint8_t *vmpck = secret_alloc(ATTEST_SNP_VMPCK_SIZE), *page = secret_alloc(HV_VMM_PAGE);
	const uint8_t *payload = NULL;
	const struct sev_snp_report_rsp *rsp;
	struct hv_vmm_ans a = {0};
	struct attest_verdict why = {0};
	size_t n = 0;
	int k = -ENOMEM;

	if (!vmpck || !page)
		goto out;
	/* the guest's own secrets page, in its memory: VMPCK0 */
	memcpy(vmpck, mem + HV_SNP_SECRETS_GPA + SECRETS_VMPCK0, ATTEST_SNP_VMPCK_SIZE);
	k = attest_snp_msg_seal(vmpck, 0, FIRST_SEQNO, SEV_SNP_MSG_REPORT_REQ, mem + g->req_gpa,
				sizeof(struct sev_snp_report_req), page, HV_VMM_PAGE);
	if (k < 0) {
		hv_say(k, "cannot seal the guest's MSG_REPORT_REQ: %s", strerror(-k));
		goto out;
	}
	k = to_sevd(s, g, page, &a);
	if (k == 1) { /* not served: the guest asks again with a larger buffer */
		*exitinfo2 = (uint64_t)HV_GHCB_VMM_ERR_INVALID_LEN << 32;
		k = 0;
		goto out;
	}
	if (k < 0 && a.error < 0) { /* said why; the guest learns it from SW_EXITINFO2 */
		*exitinfo2 = (uint64_t)a.vmm_error << 32 |
			     (a.fw_status && a.fw_status != HV_VMM_NO_FW_CALL ? a.fw_status : 1);
		k = 0;
		goto out;
	}
	if (k < 0)
		goto out;
	memcpy(page, a.page, HV_VMM_PAGE);
	if (attest_snp_msg_open(vmpck, 0, FIRST_SEQNO + 1, SEV_SNP_MSG_REPORT_RSP, page,
				HV_VMM_PAGE, &payload, &n, &why) < 0 || n < sizeof(*rsp)) {
		hv_say(-EBADMSG, "the response does not open under the guest's VMPCK0: %s",
		       n ? "too short" : attest_verdict_why(&why, "?"));
		*exitinfo2 = 1;
		k = 0;
		goto out;
	}
	rsp = (const void *)payload;
	memcpy(mem + g->rsp_gpa, payload, n); /* the plaintext response, in the guest's page */
	if (g->ext) { /* the host's table (or none: all zero), in the guest's buffer */
		uint64_t cap = (uint64_t)g->certs_pages * HV_VMM_PAGE;

		memset(mem + g->certs_gpa, 0, cap);
		if (a.table && a.certs_len <= cap)
			memcpy(mem + g->certs_gpa, a.table, a.certs_len);
	}
	if (rsp->status == 0 && rsp->report_size == SNP_REPORT_SIZE) {
		k = write_file_atomic(s->o->r.outfile, &rsp->report, SNP_REPORT_SIZE, 0644);
		if (k < 0) {
			hv_say(k, "--outfile %s: %s", s->o->r.outfile, strerror(-k));
			goto out;
		}
		fprintf(stderr, "sev-run: attestation report of guest %u (%u bytes) written to %s\n",
			s->o->r.handle, SNP_REPORT_SIZE, s->o->r.outfile);
	}
	if (s->o->r.certs_dir && a.table)
		k = hv_snp_write_certs(s->o->r.certs_dir, a.table, a.certs_len);
	else if (s->o->r.certs_dir)
		k = hv_say(-ENOENT, "sevd's answer carries no certificate table: %s", a.reason);
	*exitinfo2 = 0;
	s->served++;
out:
	secret_free(vmpck, ATTEST_SNP_VMPCK_SIZE); /* VMPCK0 wiped */
	secret_free(page, HV_VMM_PAGE);
	return k;
}

/* Whether the guest marked the GHCB field at off valid (GHCB spec 56421: bitmap at 0x3F0). */
static bool ghcb_valid(const uint8_t *ghcb, uint32_t off)
{
	return ghcb[HV_GHCB_VALID_BITMAP + off / 64] & (1u << (off / 8 % 8));
}

/* The extended request's certificate buffer: RAX and RBX marked valid, whole pages of the
 * guest's memory clear of the message pages. */
static int ext_buffer(const uint8_t *ghcb, uint64_t mem_size, struct guest_req *g)
{
	uint64_t pages = rd64(ghcb + HV_GHCB_RBX), end;

	if (!ghcb_valid(ghcb, HV_GHCB_RAX) || !ghcb_valid(ghcb, HV_GHCB_RBX))
		return hv_say(-EPROTO, "the guest's extended guest request does not mark RAX and "
			      "RBX valid in its GHCB (the certificate buffer's GPA and pages)");
	g->certs_gpa = rd64(ghcb + HV_GHCB_RAX);
	if (g->certs_gpa & (SEV_PAGE_SIZE - 1) || pages > HV_SNP_CERTS_PAGES_MAX ||
	    g->certs_gpa > mem_size)
		return hv_say(-EFAULT, "the guest's certificate buffer 0x%llx (%llu pages) is not "
			      "whole pages of its memory (at most %u)",
			      (unsigned long long)g->certs_gpa, (unsigned long long)pages,
			      HV_SNP_CERTS_PAGES_MAX);
	g->certs_pages = (uint32_t)pages;
	end = g->certs_gpa + pages * SEV_PAGE_SIZE;
	if (end > mem_size || (pages && g->req_gpa < end && g->req_gpa >= g->certs_gpa) ||
	    (pages && g->rsp_gpa < end && g->rsp_gpa >= g->certs_gpa))
		return hv_say(-EFAULT, "the guest's certificate buffer 0x%llx (%u pages) leaves its "
			      "memory or covers its message pages",
			      (unsigned long long)g->certs_gpa, g->certs_pages);
	return 0;
}

/* The runner's GHCB page exit (kvm-runner.h). */
static int ghcb_exit(void *arg, uint8_t *mem, uint64_t mem_size, uint64_t gpa)
{
	struct snp_guest *s = arg;
	uint8_t *ghcb = mem + gpa;
	uint64_t code = rd64(ghcb + HV_GHCB_SW_EXITCODE), info2 = 0;
	struct guest_req g = {.req_gpa = rd64(ghcb + HV_GHCB_SW_EXITINFO1),
			      .rsp_gpa = rd64(ghcb + HV_GHCB_SW_EXITINFO2),
			      .ext = code == HV_GHCB_SNP_EXT_GUEST_REQUEST};
	int k;

	if (code != HV_GHCB_SNP_GUEST_REQUEST && !g.ext)
		return hv_say(-EPROTO, "the guest's GHCB exit 0x%llx is not an SNP guest request",
			      (unsigned long long)code);
	if ((g.req_gpa | g.rsp_gpa) & (SEV_PAGE_SIZE - 1) || g.req_gpa > mem_size - SEV_PAGE_SIZE ||
	    g.rsp_gpa > mem_size - SEV_PAGE_SIZE || g.req_gpa == g.rsp_gpa)
		return hv_say(-EFAULT, "the guest's request/response pages 0x%llx/0x%llx are not "
			      "two pages of its memory", (unsigned long long)g.req_gpa,
			      (unsigned long long)g.rsp_gpa);
	if (g.ext && (k = ext_buffer(ghcb, mem_size, &g)) < 0)
		return k;
	if (s->served)
		return hv_say(-EALREADY, "the guest asked a second time: this one-shot helper "
			      "seals with sequence number 1 only");
	k = serve_request(s, mem, &g, &info2);
	wr64(ghcb + HV_GHCB_SW_EXITINFO2, info2);
	if (g.ext && info2 == (uint64_t)HV_GHCB_VMM_ERR_INVALID_LEN << 32)
		wr64(ghcb + HV_GHCB_RBX, g.certs_pages); /* the pages needed */
	return k;
}

/* The guest's memory: CTL snp-memfd, checked to hold the image at its load address, grown to
 * the runner's RAM size. */
static int guest_memory(const struct hv_snp_guest_opts *o, const char *emu, uint64_t ctx,
			int *ret_fd)
{
	_cleanup_free_ uint8_t *img = NULL, *seen = NULL;
	_cleanup_close_ int fd = -1;
	char line[64], text[256] = "";
	struct stat st;
	size_t n = 0;
	int k;

	k = read_full_file(o->image, HV_GUEST_IMAGE_MAX, &img, &n);
	if (k < 0 || n == 0)
		return hv_say(k < 0 ? k : -EINVAL, "--image %s: %s", o->image,
			      k < 0 ? strerror(-k) : "empty");
	snprintf(line, sizeof(line), "snp-memfd 0x%llx", (unsigned long long)ctx);
	k = hv_emu_ctl_fd(emu, line, text, sizeof(text), &fd);
	if (k < 0)
		return hv_say(k, "emulator %s: %s refused: %s (%s)", emu, line, strerror(-k), text);
	fprintf(stderr, "sev-run: the guest's memory from the emulator: %s\n", text);
	seen = malloc(n);
	if (!seen)
		return -ENOMEM;
	if (pread(fd, seen, n, HV_GUEST_IMAGE_GPA) != (ssize_t)n || memcmp(seen, img, n) != 0)
		return hv_say(-EBADMSG, "the guest's memory does not hold %s at 0x%x: launch the "
			      "guest with this image there (sevadm launch --snp IMAGE --gpa 0x%x)",
			      o->image, HV_GUEST_IMAGE_GPA, HV_GUEST_IMAGE_GPA);
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < HV_GUEST_MEM_SIZE && ftruncate(fd, HV_GUEST_MEM_SIZE) < 0)
		return hv_say(-errno, "cannot grow the guest's memory to 1 MiB: %m");
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int run_guest(struct snp_guest *s, int mem_fd, uint32_t asid, uint32_t max,
		     uint32_t min_sev)
{
	struct hv_bindings *b = NULL;
	struct hv_runner *r = NULL;
	struct hv_platform plat;
	struct hv_run_result res;
	int k;

	hv_platform_init(&plat, max, min_sev);
	k = hv_bindings_new(max, (unsigned)sysconf(_SC_NPROCESSORS_CONF), &b);
	/* an SNP guest is an SEV-ES guest for the VMCB and the ASID split */
	if (k >= 0)
		k = hv_bindings_grant(b, s->o->r.handle, asid, true, 1);
	if (k < 0) {
		hv_say(k, "cannot bind ASID %u to guest %u in the runner's table: %s", asid,
		       s->o->r.handle, strerror(-k));
		goto out;
	}
	k = hv_runner_new(&(struct hv_runner_config){
			      .mem_fd = mem_fd,
			      .mem_size = HV_GUEST_MEM_SIZE,
			      .mode = HV_MODE_PROT32,
			      .entry = HV_GUEST_IMAGE_GPA,
			      .stack = HV_GUEST_STACK_TOP,
			      .handle = s->o->r.handle,
			      .bindings = b,
			      .platform = &plat,
			      .grant_fd = -1,
			      .serial_fd = STDOUT_FILENO,
			      .max_exits = s->o->max_exits,
			      .timeout_ms = s->o->timeout_ms,
			      .cpu = -1,
			      .ghcb_exit = ghcb_exit,
			      .ghcb_arg = s,
		      },
			  &r);
	if (k == -ENOENT || k == -EACCES) {
		hv_say(k, "/dev/kvm: %s: this host cannot run the guest; without KVM, play it "
		       "with sev-run --snp-report", strerror(-k));
		goto out;
	}
	if (k < 0) {
		hv_say(k, "/dev/kvm: KVM refused to create the VM: %s", strerror(-k));
		goto out;
	}
	k = hv_runner_run(r, &res);
	if (k < 0) {
		hv_say(k, "/dev/kvm: KVM refused an ioctl: %s", strerror(-k));
		goto out;
	}
	fprintf(stderr, "sev-run: guest %s after %u KVM_RUN, %u exits (VMGEXIT %u)%s%s\n",
		hv_run_stop_name(res.stop), res.kvm_runs, res.exits, res.n_vmgexit,
		res.why ? ": " : "", res.why ? res.why : "");
	if (res.stop != HV_STOP_HALT || res.guest_status != HV_GUEST_STATUS_DONE || !s->served)
		k = hv_say(-ECANCELED, "the guest did not get and print its report (stop: %s)",
			   hv_run_stop_name(res.stop));
out:
	hv_runner_free(r);
	hv_bindings_free(b);
	return k;
}

int hv_snp_guest_run(const struct hv_snp_guest_opts *o)
{
	struct snp_guest s = {.o = o, .vmm_fd = -1, .buf = malloc(HV_VMM_ANS_MAX)};
	_cleanup_close_ int mem_fd = -1;
	struct hv_vmm_ans a;
	uint32_t max = 0, min_sev = 0;
	char path[256], emu[256];
	int k;

	if (!s.buf)
		return hv_say(-ENOMEM, "out of memory");
	if ((k = hv_snp_check_guest(&o->r)) < 0 ||
	    (k = platform_asids(o->r.daemon, &max, &min_sev)) < 0 ||
	    (k = s.vmm_fd = hv_snp_vmm_open(&o->r, path, sizeof(path))) < 0)
		goto out;
	k = hv_snp_vmm_call(s.vmm_fd, &(struct hv_vmm_req){.type = HV_VMM_GUEST_INFO,
							     .handle = o->r.handle},
			    s.buf, &a);
	if (k >= 0 && a.error < 0)
		k = hv_say(a.error, "VMM socket %s: guest-info for guest %u refused: %s", path,
			   o->r.handle, a.reason);
	if (k < 0)
		goto out;
	snprintf(emu, sizeof(emu), "%s", o->r.emu ? hv_sock_path(o->r.emu) : a.emu_socket);
	if (!emu[0] || !a.ctx_paddr) {
		k = hv_say(-EOPNOTSUPP, "sevd names no emulator socket (it runs on /dev/sev?): the "
			   "guest's memory is KVM's there; give --emu unix:PATH");
		goto out;
	}
	if ((k = guest_memory(o, emu, a.ctx_paddr, &mem_fd)) < 0)
		goto out;
	k = run_guest(&s, mem_fd, a.asid, max, min_sev);
out:
	if (s.vmm_fd >= 0)
		close(s.vmm_fd);
	free(s.buf);
	return k < 0 ? k : 0;
}
