/* sev-run --snp-report (snp-report.h): the guest's and the VMM's side of an SNP guest request
 * against a running sevd on sev-psp-emu. Steps: GET /v1/guests/H (an SNP guest, RUNNING);
 * GUEST_INFO on the VMM socket (the context page, the emulator's socket); CTL snp-secrets on
 * the emulator (the guest's plaintext view of its secrets page: VMPCK0 at 0x20, SNP ABI 56860
 * "Secrets Page"); MSG_REPORT_REQ with REPORT_DATA = the nonce, sealed under VMPCK0 with
 * message sequence number 1, as a guest's first request (Linux sev-guest keeps the count in
 * the secrets page's OS area, which this one-shot guest has no use for); the request, extended
 * with --certs, through the VMM socket; the response opened with VMPCK0 and checked (type,
 * sequence number 2, status 0, 1184 bytes). Trusts nothing it reads until checked. */
#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>

#include "attest/snp-appraise.h"
#include "attest/snp-cert-table.h"
#include "attest/snp-msg.h"
#include "attest/snp-report.h"
#include "common/http-client.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"
#include "hv-glue/snp-report.h"
#include "hv-glue/util.h"
#include "hv-glue/vmm-msg.h"
#include "psp/emu-ctl.h"
#include "psp/emu-wire.h"
#include "psp/sev-abi.h"

#define SECRETS_VMPCK0 0x20u
#define FIRST_SEQNO 1u

/* GET /v1/guests/H: an SNP guest in RUNNING state, or the reason it is not. */
int hv_snp_check_guest(const struct hv_snp_report_opts *o)
{
	struct http_client_opts ho = {.timeout_ms = 30000};
	_cleanup_(json_object_putp) json_object *j = NULL;
	struct http_client *c = NULL;
	struct http_response r = {};
	json_object *type = NULL, *state = NULL;
	char path[48];
	int k = http_client_new(o->daemon, &ho, &c);

	if (k < 0)
		return hv_say(k, "--daemon %s: %s", o->daemon, c ? http_client_error(c) : strerror(-k));
	snprintf(path, sizeof(path), "/v1/guests/%u", o->handle);
	k = http_request(c, "GET", path, NULL, NULL, 0, &r);
	if (k < 0) {
		hv_say(k, "GET %s: %s", path, http_client_error(c));
		http_client_free(c);
		return k;
	}
	http_client_free(c);
	if (r.status != 200) {
		hv_say(-ENOENT, "GET %s: sevd answered HTTP %d: %s", path, r.status, (char *)r.body);
		http_response_clear(&r);
		return -ENOENT;
	}
	j = json_tokener_parse((const char *)r.body);
	http_response_clear(&r);
	if (!j || !json_object_object_get_ex(j, "type", &type) ||
	    !json_object_object_get_ex(j, "state", &state))
		return hv_say(-EBADMSG, "GET %s: no type and state in sevd's answer", path);
	if (strcmp(json_object_get_string(type), "snp") != 0)
		return hv_say(-EPROTOTYPE, "guest %u is an %s guest, not SEV-SNP: --snp-report is for "
			   "SNP guests (an SEV guest's report: sevadm attest %u)", o->handle,
			   json_object_get_string(type), o->handle);
	if (strcmp(json_object_get_string(state), "RUNNING") != 0)
		return hv_say(-EBUSY, "guest %u is %s, not RUNNING: finish and activate it first "
			   "(sevadm finish/activate, or sevadm launch --snp)", o->handle,
			   json_object_get_string(state));
	return 0;
}

/* One request on the VMM socket fd; the answer parsed into *a (pointing into buf). */
int hv_snp_vmm_call(int fd, const struct hv_vmm_req *q, uint8_t *buf, struct hv_vmm_ans *a)
{
	_cleanup_free_ uint8_t *out = malloc(HV_VMM_REQ_MAX);
	const char *why = "?";
	int n;

	if (!out)
		return -ENOMEM;
	n = loop_write(fd, out, hv_vmm_req_build(q, out));
	if (n < 0)
		return hv_say(n, "VMM socket: cannot send the request: %s", strerror(-n));
	n = hv_vmm_read_frame(fd, true, buf, HV_VMM_ANS_MAX, &why);
	if (n == 0)
		return hv_say(-EPIPE, "VMM socket: sevd closed the connection without an answer");
	if (n < 0 || hv_vmm_ans_parse(buf, (size_t)n, a, &why) < 0)
		return hv_say(-EBADMSG, "VMM socket: a malformed answer: %s",
			   n < 0 && n != -EBADMSG ? strerror(-n) : why);
	if (a->type != q->type || a->handle != q->handle)
		return hv_say(-EBADMSG, "VMM socket: the answer is for another request");
	return 0;
}

static void fw_name(uint32_t st, char *buf, size_t n)
{
	if (st == HV_VMM_NO_FW_CALL)
		snprintf(buf, n, "no firmware command");
	else
		snprintf(buf, n, "firmware status %s", sev_status_name((int)st));
}

/* CTL snp-secrets CTX: the guest's view of its secrets page (4096 bytes into page). */
static int emu_secrets(const char *sock, uint64_t ctx, uint8_t *page)
{
	_cleanup_free_ uint8_t *in = malloc(EMU_WIRE_MAX_PAYLOAD);
	int fd = emu_ctl_connect(sock), r, error = 0;
	char line[64];
	size_t n = 0;

	if (fd < 0)
		return hv_say(fd, "emulator %s: %s; give its socket with --emu unix:PATH", sock,
			      strerror(-fd));
	if (!in) {
		close(fd);
		return -ENOMEM;
	}
	snprintf(line, sizeof(line), "snp-secrets 0x%llx", (unsigned long long)ctx);
	r = emu_ctl_exchange(fd, EMU_MSG_CTL, line, (uint32_t)strlen(line), in,
			     EMU_WIRE_MAX_PAYLOAD, &n, &error, NULL, -1);
	close(fd);
	if (r == -EBADMSG)
		return hv_say(-EPROTO, "emulator %s: a malformed answer to snp-secrets", sock);
	if (r < 0)
		return hv_say(-EPROTO, "emulator %s: no answer to snp-secrets", sock);
	if (error < 0 || n != SEV_PAGE_SIZE) {
		hv_say(error < 0 ? error : -EPROTO,
		       "emulator %s: snp-secrets 0x%llx refused: "
		       "%.*s (has the guest a secrets page? upload one: ?type=secrets)",
		       sock, (unsigned long long)ctx, error < 0 ? (int)n : 0, (const char *)in);
		secret_wipe(in, EMU_WIRE_MAX_PAYLOAD);
		return -EPROTO;
	}
	memcpy(page, in, SEV_PAGE_SIZE);
	secret_wipe(in, EMU_WIRE_MAX_PAYLOAD);
	return 0;
}

static int write_pem(const char *dir, const char *name, const uint8_t *der, size_t len)
{
	_cleanup_free_ char *path = path_join(dir, name);
	const uint8_t *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	FILE *f;
	int ok;

	if (!path || !x || p != der + len) {
		X509_free(x);
		return hv_say(-EBADMSG, "certificate table: the %s entry is not one DER certificate",
			   name);
	}
	f = fopen(path, "we");
	ok = f && PEM_write_X509(f, x) == 1;
	if (f && fclose(f) != 0)
		ok = 0;
	X509_free(x);
	return ok ? 0 : hv_say(-EIO, "cannot write %s: %m", path);
}

/* The table's entries as snphost names them, the unknown ones as GUID.bin, and the raw table
 * as cert-table.bin. The ASK entry holds the ASVK when the leaf is a VLEK (snp-certs.h). */
int hv_snp_write_certs(const char *dir, const uint8_t *table, size_t len)
{
	struct snp_cert_entry e[SNP_CERT_TABLE_ENTRIES_MAX];
	struct snp_cert_table t;
	_cleanup_free_ char *raw = path_join(dir, "cert-table.bin");
	struct attest_verdict v = {};
	char name[48];
	size_t n;
	int k;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return hv_say(-errno, "--certs %s: %m", dir);
	if (!raw)
		return -ENOMEM;
	if (attest_snp_cert_table_parse(table, len, &t, &v) < 0)
		return hv_say(-EBADMSG, "sevd's certificate table does not parse: %s", v.reason);
	k = write_file_atomic(raw, table, len, 0644);
	if (k < 0)
		return hv_say(k, "cannot write %s: %s", raw, strerror(-k));
	n = attest_snp_cert_table_entries(table, len, e, ELEMENTSOF(e));
	for (size_t i = 0; i < n; i++) {
		enum snp_cert_kind kind = attest_snp_cert_guid_kind(e[i].guid);
		const char *fn = kind == SNP_CERT_VCEK ? "vcek.pem"
				 : kind == SNP_CERT_VLEK ? "vlek.pem"
				 : kind == SNP_CERT_ARK	 ? "ark.pem"
				 : kind == SNP_CERT_ASK	 ? (t.has[SNP_CERT_VLEK] ? "asvk.pem" : "ask.pem")
							 : NULL;

		if (fn) {
			k = write_pem(dir, fn, e[i].data, e[i].len);
		} else {
			_cleanup_free_ char *p = NULL;

			attest_snp_guid_format(e[i].guid, name);
			strcat(name, ".bin");
			p = path_join(dir, name);
			k = p ? write_file_atomic(p, e[i].data, e[i].len, 0644) : -ENOMEM;
		}
		if (k < 0)
			return k;
	}
	fprintf(stderr, "sev-run: %zu certificate(s) of the host's table written to %s\n", n, dir);
	return 0;
}

/* Open the response and write the report. */
static int take_report(const struct hv_snp_report_opts *o, const uint8_t *vmpck,
		       const struct hv_vmm_ans *a)
{
	_cleanup_free_ uint8_t *page = malloc(SEV_PAGE_SIZE);
	const struct sev_snp_report_rsp *rsp;
	_cleanup_free_ char *m = NULL;
	const uint8_t *payload = NULL;
	struct attest_verdict why = {0};
	size_t n = 0;
	int k;

	if (!page)
		return -ENOMEM;
	memcpy(page, a->page, SEV_PAGE_SIZE);
	if (attest_snp_msg_open(vmpck, 0, FIRST_SEQNO + 1, SEV_SNP_MSG_REPORT_RSP, page,
				SEV_PAGE_SIZE, &payload, &n, &why) < 0)
		return hv_say(-EBADMSG, "the response does not open under VMPCK0: %s",
			      attest_verdict_why(&why, "?"));
	if (n < sizeof(*rsp))
		return hv_say(-EBADMSG, "MSG_REPORT_RSP of %zu bytes, not %zu", n, sizeof(*rsp));
	rsp = (const void *)payload;
	if (rsp->status != 0)
		return hv_say(-EIO, "MSG_REPORT_RSP status %s (0x%x)", sev_status_name((int)rsp->status),
			   rsp->status);
	if (rsp->report_size != SNP_REPORT_SIZE)
		return hv_say(-EBADMSG, "MSG_REPORT_RSP holds %u bytes, not a %u-byte report",
			   rsp->report_size, SNP_REPORT_SIZE);
	k = write_file_atomic(o->outfile, &rsp->report, SNP_REPORT_SIZE, 0644);
	if (k < 0)
		return hv_say(k, "--outfile %s: %s", o->outfile, strerror(-k));
	fprintf(stderr, "sev-run: attestation report of guest %u (%u bytes) written to %s\n",
		o->handle, SNP_REPORT_SIZE, o->outfile);
	m = hex_encode(rsp->report.measurement, 48);
	if (m)
		printf("%s\n", m); /* the launch digest firmware signed */
	return 0;
}

/* The request, extended with --certs: a one-page certificate buffer first, grown to what
 * sevd names when it is too small (the request did not reach firmware then, so the same
 * message, sequence number and all, goes again). */
int hv_snp_send_request(int fd, const struct hv_snp_report_opts *o, const uint8_t *page,
			uint8_t *buf, struct hv_vmm_ans *a)
{
	struct hv_vmm_req q = {.type = o->certs_dir ? HV_VMM_EXT_GUEST_REQUEST
						    : HV_VMM_GUEST_REQUEST,
			       .handle = o->handle,
			       .certs_len = o->certs_dir ? HV_VMM_PAGE : 0,
			       .page = page};
	char fw[64];
	int k;

	for (int tries = 0; tries < 2; tries++) {
		k = hv_snp_vmm_call(fd, &q, buf, a);
		if (k < 0)
			return k;
		if (a->vmm_error != HV_VMM_ERR_INVALID_LEN || q.type != HV_VMM_EXT_GUEST_REQUEST)
			break;
		q.certs_len = (a->certs_len + HV_VMM_PAGE - 1) / HV_VMM_PAGE * HV_VMM_PAGE;
		fprintf(stderr, "sev-run: the host's certificate table needs %u bytes: asking again "
			"with a %u-page buffer\n", a->certs_len, q.certs_len / HV_VMM_PAGE);
	}
	if (a->error < 0 || !a->page) {
		fw_name(a->fw_status, fw, sizeof(fw));
		return hv_say(a->error < 0 ? a->error : -EBADMSG, "sevd refused the guest request "
			   "(%s): %s", fw, a->reason[0] ? a->reason : strerror(-a->error));
	}
	return 0;
}

int hv_snp_vmm_open(const struct hv_snp_report_opts *o, char *path, size_t n)
{
	const char *d = hv_sock_path(o->daemon), *slash = strrchr(d, '/');
	int fd;

	if (o->vmm)
		snprintf(path, n, "%s", hv_sock_path(o->vmm));
	else
		snprintf(path, n, "%.*svmm.sock", slash ? (int)(slash - d + 1) : 0, d);
	fd = hv_unix_connect(path, SOCK_STREAM);
	if (fd < 0)
		return hv_say(fd, "VMM socket %s: %s; give sevd's STATE_DIR/vmm.sock with --vmm "
			   "unix:PATH (root only)", path, strerror(-fd));
	return fd;
}

int hv_snp_report_run(const struct hv_snp_report_opts *o)
{
	_cleanup_free_ uint8_t *buf = malloc(HV_VMM_ANS_MAX), *req = calloc(1, HV_VMM_PAGE);
	struct sev_snp_report_req rq = {0};
	struct hv_vmm_ans a;
	uint8_t *secrets = secret_alloc(SEV_PAGE_SIZE);
	char path[256], emu[256];
	int fd = -1, k;

	if (!buf || !req || !secrets) {
		secret_free(secrets, SEV_PAGE_SIZE);
		return hv_say(-ENOMEM, "out of memory");
	}
	if ((k = hv_snp_check_guest(o)) < 0 || (k = fd = hv_snp_vmm_open(o, path, sizeof(path))) < 0)
		goto out;
	k = hv_snp_vmm_call(fd, &(struct hv_vmm_req){.type = HV_VMM_GUEST_INFO, .handle = o->handle},
		     buf, &a);
	if (k >= 0 && a.error < 0)
		k = hv_say(a.error, "VMM socket %s: guest-info for guest %u refused: %s", path,
			o->handle, a.reason);
	if (k < 0)
		goto out;
	snprintf(emu, sizeof(emu), "%s", o->emu ? hv_sock_path(o->emu) : a.emu_socket);
	if (!emu[0] || !a.ctx_paddr) {
		k = hv_say(-EOPNOTSUPP, "sevd names no emulator socket (it runs on /dev/sev?): this "
			"guest's secrets page is the guest's own there; give --emu unix:PATH");
		goto out;
	}
	if ((k = emu_secrets(emu, a.ctx_paddr, secrets)) < 0)
		goto out;
	memcpy(rq.report_data, o->nonce, sizeof(rq.report_data));
	k = attest_snp_msg_seal(secrets + SECRETS_VMPCK0, 0, FIRST_SEQNO, SEV_SNP_MSG_REPORT_REQ,
				&rq, sizeof(rq), req, HV_VMM_PAGE);
	if (k < 0) {
		hv_say(k, "cannot seal MSG_REPORT_REQ: %s", strerror(-k));
		goto out;
	}
	if ((k = hv_snp_send_request(fd, o, req, buf, &a)) < 0 ||
	    (k = take_report(o, secrets + SECRETS_VMPCK0, &a)) < 0)
		goto out;
	if (o->certs_dir && !a.table)
		k = hv_say(-ENOENT, "sevd's answer carries no certificate table: %s", a.reason);
	else if (o->certs_dir)
		k = hv_snp_write_certs(o->certs_dir, a.table, a.certs_len);
out:
	secret_free(secrets, SEV_PAGE_SIZE); /* VMPCK0 is wiped with it */
	if (fd >= 0)
		close(fd);
	return k < 0 ? k : 0;
}
