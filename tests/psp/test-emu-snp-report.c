/* sev-psp-emu --snp, SNP_GUEST_REQUEST through the emu transport. The test
 * is the guest: it reads its secrets page (CTL snp-secrets, what the guest sees of its own
 * encrypted page), builds MSG_REPORT_REQ / MSG_KEY_REQ messages with its own AES-256-GCM under
 * VMPCK0 (header, AAD 0x30..0x5F, IV = sequence number), and the host passes them with
 * SNP_GUEST_REQUEST. The report that comes back is checked with the project's SNP report
 * verifier (attest/snp-report.h) against the VCEK public key (CTL snp-vcek): it verifies; it
 * fails with one byte flipped and with the VCEK of another TCB; its fields are the launch's
 * (the measurement is the digest this test computes itself). A replayed sequence number
 * answers AEAD_OFLOW, a bad tag BAD_MEASUREMENT. Runs the real emulator. */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attest/snp-chain.h"
#include "attest/snp-msg.h"
#include "attest/kdf.h"
#include "attest/session.h"
#include "attest/snp-report.h"
#include "common/ossl.h"
#include "common/util.h"
#include "psp/emu/nv.h"
#include "tests/psp/test-emu-snp-appraise.h"
#include "tests/psp/test-emu-snp-util.h"

#define OK SEV_STATUS_SUCCESS
#define POLICY 0x30000ull
#define HDR 0x60u
/* pages of the host memory */
enum { P_STATUS, P_GCTX, P_REQ, P_RSP, P_DATA, P_SECRETS, P_ID, N_PAGES = 8 };

struct guest {
	struct psp_transport *t;
	struct gt_mem m;
	uint64_t gctx;
	uint8_t vmpck[4][32];
	uint8_t ld[48]; /* computed here */
	uint64_t seqno[4]; /* per VMPCK: the last sequence number used (requests are odd) */
	uint32_t fms;	   /* the part's CPUID Fn0000_0001 EAX, as the secrets page says */
};

static uint64_t pa(const struct guest *g, unsigned page)
{
	return g->m.base + (uint64_t)page * SEV_PAGE_SIZE;
}

static void sha384(const void *p, size_t n, uint8_t out[48])
{
	unsigned len = 48;

	TU_CHECK(EVP_Digest(p, n, out, &len, EVP_sha384(), NULL) == 1, "sha384");
}

static void ld_update(struct guest *g, uint8_t type, uint64_t gpa, const uint8_t *page)
{
	uint8_t pi[0x70] = { 0 };

	memcpy(pi, g->ld, 48);
	if (page)
		sha384(page, SEV_PAGE_SIZE, pi + 0x30);
	pi[0x60] = 0x70;
	pi[0x62] = type;
	put_le64(pi + 0x68, gpa);
	sha384(pi, sizeof(pi), g->ld);
}

static void update(struct guest *g, unsigned page, unsigned type, uint64_t gpa)
{
	struct sev_snp_cmd_launch_update b = { .gctx_paddr = g->gctx,
					       .flags = SEV_SNP_UPDATE_FLAGS(type, false, false),
					       .address = pa(g, page) };

	TU_CHECK_EQ(snp_rmpupdate(g->t, "0x%llx,assigned=1,asid=5,gpa=0x%llx,immutable=1",
				  (unsigned long long)pa(g, page), (unsigned long long)gpa), 0);
	ld_update(g, (uint8_t)type, gpa, type == SEV_SNP_PAGE_NORMAL ?
						 g->m.ptr + (size_t)page * SEV_PAGE_SIZE : NULL);
	GT_EXPECT(fw(g->t, SEV_CMD_SNP_LAUNCH_UPDATE, &b), OK);
}

/* The version 3 fields of the secrets page (AMD-ASPFW snp_launch_update_secrets_page_t, Linux
 * struct snp_secrets_page): VMSA_TWEAK_BITMAP at 0x100, one bit per VMSA quadword — the GPRs
 * computed here from the VMSA save-area offsets of AMD's APM vol. 2 (RIP 0x178, RSP 0x1D8, RAX
 * 0x1F8, RCX 0x308, RDX 0x310, RBX 0x318, RBP 0x328, RSI 0x330, RDI 0x338, R8..R15 0x340..0x378),
 * the FPU part compared with firmware's table — and TSC_FACTOR at 0x160 (200). */
static void secrets_v3(const uint8_t *sp)
{
	static const uint16_t gpr[] = { 0x178, 0x1D8, 0x1F8, 0x308, 0x310, 0x318, 0x328, 0x330,
					0x338, 0x340, 0x348, 0x350, 0x358, 0x360, 0x368, 0x370,
					0x378 };
	uint8_t want[64] = { 0 };
	const uint8_t *bm = sp + 0x100;

	for (size_t i = 0; i < ELEMENTSOF(gpr); i++)
		want[gpr[i] / 8 / 8] |= (uint8_t)(1u << (gpr[i] / 8 % 8));
	TU_CHECK_MEM(bm, want, 16); /* quadwords 0..127: the GPRs only */
	TU_CHECK_EQ(bm[16], 0xF0); /* FPU state from 0x420 */
	for (unsigned i = 17; i < 25; i++)
		TU_CHECK_EQ(bm[i], 0xFF);
	TU_CHECK_EQ(bm[25], 0x3F);
	for (unsigned i = 26; i < 38; i++)
		TU_CHECK_EQ(bm[i], 0);
	for (unsigned i = 38; i < 63; i++)
		TU_CHECK_EQ(bm[i], 0xFF);
	TU_CHECK_EQ(bm[63], 0);
	TU_CHECK_EQ(get_le32(sp + 0x160), 200);
	for (unsigned i = 0x140; i < 0x160; i++)
		TU_CHECK_EQ(sp[i], 0); /* for the guest OS (SVSM fields): left zero */
}

/* GCTX_CREATE, LAUNCH_START, ACTIVATE (ASID 5), a NORMAL and a SECRETS page, LAUNCH_FINISH
 * with HOST_DATA; then the guest reads its VMPCKs from the secrets page. */
static void launch(struct guest *g)
{
	struct sev_snp_cmd_launch_start ls = { .policy = POLICY };
	struct sev_snp_cmd_launch_finish lf = { 0 };
	struct sev_snp_cmd_activate ac = { .asid = 5 };
	struct sev_snp_cmd_addr gc;
	_cleanup_free_ uint8_t *sp = NULL;
	char line[64];
	size_t n = 0;

	g->gctx = gc.address = ls.gctx_paddr = ac.gctx_paddr = lf.gctx_paddr = pa(g, P_GCTX);
	snp_fw_page(g->t, g->gctx);
	snp_fw_page(g->t, pa(g, P_STATUS));
	snp_fw_page(g->t, pa(g, P_RSP)); /* KVM hands firmware a firmware page for responses */
	GT_EXPECT(fw(g->t, SEV_CMD_SNP_GCTX_CREATE, &gc), OK);
	GT_EXPECT(fw(g->t, SEV_CMD_SNP_LAUNCH_START, &ls), OK);
	GT_EXPECT(fw(g->t, SEV_CMD_SNP_ACTIVATE, &ac), OK);
	memset(g->ld, 0, 48);
	memset(g->m.ptr + P_DATA * SEV_PAGE_SIZE, 0x3c, SEV_PAGE_SIZE);
	update(g, P_DATA, SEV_SNP_PAGE_NORMAL, 0x100000);
	update(g, P_SECRETS, SEV_SNP_PAGE_SECRETS, 0x101000);
	memset(lf.host_data, 0x4d, sizeof(lf.host_data));
	GT_EXPECT(fw(g->t, SEV_CMD_SNP_LAUNCH_FINISH, &lf), OK);
	snprintf(line, sizeof(line), "snp-secrets 0x%llx", (unsigned long long)g->gctx);
	TU_CHECK_EQ(psp_emu_ctl(g->t, line, &sp, &n), 0);
	TU_CHECK_EQ(n, SEV_PAGE_SIZE);
	TU_CHECK_EQ(get_le32(sp), 3); /* secrets page version (AMD-ASPFW, ABI 1.55) */
	TU_CHECK_EQ(get_le32(sp + 8), g->fms);
	secrets_v3(sp);
	memcpy(g->vmpck, sp + 0x20, sizeof(g->vmpck));
	TU_CHECK(memcmp(g->vmpck[0], g->vmpck[1], 32) != 0, "four different VMPCKs");
}

/* The guest's side of the message protocol: attest/snp-msg.h (not the emulator's code). */
static void seal(struct guest *g, uint8_t type, uint8_t vmpck, uint64_t seqno, const void *payload,
		 uint16_t len)
{
	uint8_t *page = g->m.ptr + P_REQ * SEV_PAGE_SIZE;

	memset(page, 0, SEV_PAGE_SIZE);
	TU_CHECK_EQ(attest_snp_msg_seal(g->vmpck[vmpck], vmpck, seqno, type, payload, len, page,
					SEV_PAGE_SIZE),
		    0);
}

/* Decrypt the response in place; returns its payload, checking the header. */
static uint8_t *open_rsp(struct guest *g, uint8_t type, uint8_t vmpck, uint64_t seqno)
{
	uint8_t *h = g->m.ptr + P_RSP * SEV_PAGE_SIZE;
	const uint8_t *payload = NULL;
	struct attest_verdict why = {0};
	size_t n = 0;

	TU_CHECK(attest_snp_msg_open(g->vmpck[vmpck], vmpck, seqno, type, h, SEV_PAGE_SIZE,
				     &payload, &n, &why) == 0,
		 "response: %s", why.reason);
	TU_CHECK(payload == h + HDR, "payload after the header");
	return h + HDR;
}

static int request(struct guest *g)
{
	struct sev_snp_cmd_guest_request b = { g->gctx, pa(g, P_REQ), pa(g, P_RSP) };

	return fw(g->t, SEV_CMD_SNP_GUEST_REQUEST, &b);
}

/* One MSG_REPORT_REQ with the next sequence number; the 0x4A0-byte report into out. */
static uint32_t get_report(struct guest *g, uint32_t vmpl, uint32_t key_sel, uint8_t vmpck,
			   uint8_t out[SNP_REPORT_SIZE])
{
	struct sev_snp_report_req q = { .vmpl = vmpl, .key_sel = key_sel };
	uint8_t *rsp;

	for (unsigned i = 0; i < sizeof(q.report_data); i++)
		q.report_data[i] = (uint8_t)(0xd0 + i);
	seal(g, SEV_SNP_MSG_REPORT_REQ, vmpck, ++g->seqno[vmpck], &q, sizeof(q));
	GT_EXPECT(request(g), OK);
	rsp = open_rsp(g, SEV_SNP_MSG_REPORT_RSP, vmpck, ++g->seqno[vmpck]);
	TU_CHECK_EQ(get_le32(rsp + 4), SNP_REPORT_SIZE);
	memcpy(out, rsp + 0x20, SNP_REPORT_SIZE);
	return get_le32(rsp);
}

/* The project's SNP report decoder (attest/snp-report.h) must take it. */
static void parse(const uint8_t raw[SNP_REPORT_SIZE], enum snp_gen hint, struct snp_report *r)
{
	struct attest_verdict why = {0};

	TU_CHECK(attest_snp_report_parse(raw, SNP_REPORT_SIZE, hint, r, &why) == 0, "%s",
		 why.reason);
}

static EVP_PKEY *vcek(struct guest *g, uint64_t tcb)
{
	_cleanup_free_ uint8_t *der = NULL;
	const uint8_t *p;
	char line[64];
	size_t n = 0;

	snprintf(line, sizeof(line), tcb ? "snp-vcek 0x%llx" : "snp-vcek", (unsigned long long)tcb);
	TU_CHECK_EQ(psp_emu_ctl(g->t, line, &der, &n), 0);
	p = der;
	return d2i_PUBKEY(NULL, &p, (long)n);
}

static void test_report(struct guest *g)
{
	uint8_t raw[SNP_REPORT_SIZE], id[64];
	struct sev_cmd_get_id gi;
	struct psp_buf idb;
	struct snp_report r;
	struct attest_verdict why = {0};
	EVP_PKEY *k = vcek(g, 0), *other = vcek(g, 0x7300000000000002ull), *again = vcek(g, 0);

	TU_CHECK(k && other && again, "VCEK public keys");
	TU_CHECK(EVP_PKEY_eq(k, again) == 1, "the same TCB gives the same VCEK");
	TU_CHECK(EVP_PKEY_eq(k, other) != 1, "another TCB gives another VCEK");
	TU_CHECK_EQ(get_report(g, 0, 0, 0, raw), OK);
	parse(raw, SNP_GEN_MILAN, &r);
	TU_CHECK_EQ(attest_snp_report_verify(&r, k, &why), 1);
	TU_CHECK_EQ(attest_snp_report_verify(&r, other, &why), 0); /* the VCEK of another TCB */
	TU_CHECK_EQ(r.version, 2);
	TU_CHECK_EQ(r.policy, POLICY);
	TU_CHECK_EQ(r.vmpl, 0);
	TU_CHECK_EQ(r.sig_algo, 1);
	TU_CHECK_EQ(attest_snp_report_signing_key(&r), SNP_KEY_VCEK);
	TU_CHECK_MEM(r.measurement, g->ld, 48); /* the digest computed by this test */
	TU_CHECK_EQ(r.report_data[0], 0xd0);
	TU_CHECK_EQ(r.report_data[63], (uint8_t)(0xd0 + 63));
	TU_CHECK_EQ(r.host_data[31], 0x4d);
	TU_CHECK_EQ(r.current_tcb.raw, 0x7308000000000003ull); /* bl 3, tee 0, snp 8, ucode 0x73 */
	TU_CHECK_EQ(r.reported_tcb.raw, r.current_tcb.raw);
	TU_CHECK_EQ(r.committed_tcb.raw, r.current_tcb.raw);
	TU_CHECK_EQ(r.launch_tcb.raw, r.current_tcb.raw);
	TU_CHECK_EQ(r.current_tcb.snp, 8);
	TU_CHECK_EQ(r.current_major, 1);
	TU_CHECK_EQ(r.current_minor, 55);
	TU_CHECK_EQ(r.current_build, 21);
	TU_CHECK_EQ(r.plat_info & 1, 1); /* SMT */
	/* CHIP_ID is GET_ID's 64 bytes */
	TU_CHECK_EQ(psp_dma_alloc(g->t, 64, &idb), 0);
	snp_fw_page(g->t, idb.addr); /* SNP is up: SEV commands write Firmware pages only */
	gi = (struct sev_cmd_get_id){ idb.addr, 64 };
	GT_EXPECT(fw(g->t, SEV_CMD_GET_ID, &gi), OK);
	memcpy(id, idb.ptr, 64);
	psp_dma_free(g->t, &idb);
	TU_CHECK_MEM(r.chip_id, id, 64);
	/* one byte flipped anywhere in the signed part: refused */
	raw[0x50] ^= 0x80;
	parse(raw, SNP_GEN_MILAN, &r);
	TU_CHECK_EQ(attest_snp_report_verify(&r, k, &why), 0);
	/* VMPL 1 with VMPCK0: fine; VMPL 0 with VMPCK1: more privileged than the key, refused */
	TU_CHECK_EQ(get_report(g, 1, 0, 0, raw), OK);
	TU_CHECK_EQ(get_report(g, 0, 0, 1, raw), SEV_STATUS_INVALID_PARAM);
	TU_CHECK_EQ(get_report(g, 0, 2, 0, raw), SEV_STATUS_INVALID_KEY); /* no VLEK loaded */
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
	EVP_PKEY_free(again);
}

/* The reported TCB moves with SNP_CONFIG and the report is signed by that TCB's VCEK. */
static void test_config_tcb(struct guest *g)
{
	const uint64_t lower = 0x7007000000000002ull; /* bl 2, snp 7, ucode 0x70 */
	struct sev_snp_cmd_config cf = { .reported_tcb = lower };
	uint8_t raw[SNP_REPORT_SIZE];
	struct snp_report r;
	struct attest_verdict why = {0};
	EVP_PKEY *k = vcek(g, lower), *cur = vcek(g, 0);
	char *path = NULL;

	GT_EXPECT(fw(g->t, SEV_CMD_SNP_CONFIG, &cf), OK);
	TU_CHECK_EQ(get_report(g, 0, 1, 0, raw), OK);
	parse(raw, SNP_GEN_MILAN, &r);
	TU_CHECK_EQ(r.reported_tcb.raw, lower);
	TU_CHECK_EQ(r.current_tcb.raw, 0x7308000000000003ull);
	TU_CHECK_EQ(attest_snp_report_verify(&r, k, NULL), 1);
	TU_CHECK_EQ(attest_snp_report_verify(&r, cur, NULL), 0);
	TU_CHECK(attest_snp_vcek_kds_path(&r, SNP_GEN_MILAN, &path, &why) == 0, "%s", why.reason);
	TU_CHECK(strstr(path, "/vcek/v1/Milan/") &&
			 strstr(path, "blSPL=2&teeSPL=0&snpSPL=7&ucodeSPL=112"),
		 "%s", path);
	free(path);
	/* MASK_CHIP_ID: zeros; MASK_CHIP_KEY: no signature, signing key NONE */
	cf.flags = SEV_SNP_CONFIG_MASK_CHIP_ID | SEV_SNP_CONFIG_MASK_CHIP_KEY;
	GT_EXPECT(fw(g->t, SEV_CMD_SNP_CONFIG, &cf), OK);
	TU_CHECK_EQ(get_report(g, 0, 0, 0, raw), OK);
	parse(raw, SNP_GEN_MILAN, &r);
	TU_CHECK_EQ(attest_snp_report_signing_key(&r), SNP_KEY_NONE);
	for (unsigned i = 0; i < 64; i++)
		TU_CHECK_EQ(r.chip_id[i], 0);
	cf = (struct sev_snp_cmd_config){ 0 };
	GT_EXPECT(fw(g->t, SEV_CMD_SNP_CONFIG, &cf), OK);
	EVP_PKEY_free(k);
	EVP_PKEY_free(cur);
}

/* Sequence numbers must go up by one per message; a replay answers AEAD_OFLOW, a changed tag
 * BAD_MEASUREMENT, and neither moves the count. */
static void test_protocol(struct guest *g)
{
	struct sev_snp_report_req q = { 0 };
	struct sev_snp_cmd_guest_request b = { g->gctx, pa(g, P_REQ), pa(g, P_REQ) };
	uint8_t raw[SNP_REPORT_SIZE];

	seal(g, SEV_SNP_MSG_REPORT_REQ, 0, g->seqno[0] - 1, &q, sizeof(q)); /* the last one again */
	GT_EXPECT(request(g), SEV_STATUS_AEAD_OFLOW);
	seal(g, SEV_SNP_MSG_REPORT_REQ, 0, g->seqno[0] + 3, &q, sizeof(q)); /* one skipped */
	GT_EXPECT(request(g), SEV_STATUS_AEAD_OFLOW);
	seal(g, SEV_SNP_MSG_REPORT_REQ, 0, g->seqno[0] + 1, &q, sizeof(q));
	g->m.ptr[P_REQ * SEV_PAGE_SIZE + 5] ^= 1; /* the tag */
	GT_EXPECT(request(g), SEV_STATUS_BAD_MEASUREMENT);
	seal(g, SEV_SNP_MSG_REPORT_REQ, 0, g->seqno[0] + 1, &q, sizeof(q));
	g->m.ptr[P_REQ * SEV_PAGE_SIZE + 0x3d] = 1; /* reserved header byte: in the AAD */
	GT_EXPECT(request(g), SEV_STATUS_BAD_MEASUREMENT);
	seal(g, SEV_SNP_MSG_REPORT_REQ, 0, g->seqno[0] + 1, &q, sizeof(q));
	g->m.ptr[P_REQ * SEV_PAGE_SIZE + 0x31] = 2; /* header version */
	GT_EXPECT(request(g), SEV_STATUS_INVALID_PARAM);
	seal(g, 0x33, 0, g->seqno[0] + 1, &q, sizeof(q)); /* not a message type */
	GT_EXPECT(request(g), SEV_STATUS_INVALID_PARAM);
	seal(g, SEV_SNP_MSG_REPORT_REQ, 0, g->seqno[0] + 1, &q, sizeof(q));
	GT_EXPECT(fw(g->t, SEV_CMD_SNP_GUEST_REQUEST, &b), SEV_STATUS_INVALID_PAGE_STATE);
	/* the count did not move: the next message is still seqno[0] + 1 */
	TU_CHECK_EQ(get_report(g, 0, 0, 0, raw), OK);
	/* each VMPCK counts for itself: VMPCK3's first message is number 1 */
	TU_CHECK_EQ(g->seqno[3], 0);
	TU_CHECK_EQ(get_report(g, 3, 0, 3, raw), OK);
	TU_CHECK_EQ(get_report(g, 2, 0, 1, raw), OK); /* VMPCK1 used once before */
}

static void key(struct guest *g, uint32_t flags, uint64_t gfs, uint8_t out[32], uint32_t *status)
{
	struct sev_snp_key_req q = { .flags = flags, .guest_field_select = gfs };
	uint8_t *rsp;

	seal(g, SEV_SNP_MSG_KEY_REQ, 0, ++g->seqno[0], &q, sizeof(q));
	GT_EXPECT(request(g), OK);
	rsp = open_rsp(g, SEV_SNP_MSG_KEY_RSP, 0, ++g->seqno[0]);
	*status = get_le32(rsp);
	memcpy(out, rsp + 0x20, 32);
}

/* MSG_KEY_REQ: the same inputs give the same key; any mixed-in field or root changes it. */
static void test_keys(struct guest *g)
{
	uint8_t a[32], b[32], c[32], d[32];
	uint32_t st;

	key(g, 0, 0, a, &st);
	TU_CHECK_EQ(st, OK);
	key(g, 0, 0, b, &st);
	TU_CHECK_EQ(st, OK);
	TU_CHECK_MEM(a, b, 32);
	key(g, 0, 1u << 3, c, &st); /* the measurement mixed in */
	TU_CHECK_EQ(st, OK);
	TU_CHECK(memcmp(a, c, 32) != 0, "measurement changes the key");
	key(g, 1, 0, d, &st); /* the VMRK instead of the VCEK */
	TU_CHECK_EQ(st, OK);
	TU_CHECK(memcmp(a, d, 32) != 0 && memcmp(c, d, 32) != 0, "root changes the key");
	key(g, 0, 1u << 5, d, &st); /* TCB 0: an older TCB than the committed one */
	TU_CHECK_EQ(st, OK);
	TU_CHECK(memcmp(a, d, 32) != 0, "the TCB changes the key");
	key(g, 0, 1u << 6, d, &st);
	TU_CHECK_EQ(st, SEV_STATUS_INVALID_PARAM); /* not a field this ABI defines */
	key(g, 3u << 1, 0, d, &st);
	TU_CHECK_EQ(st, SEV_STATUS_INVALID_KEY);
}

static X509 *emu_cert(struct guest *g, const char *which)
{
	_cleanup_free_ uint8_t *der = NULL;
	const uint8_t *p;
	char line[64];
	size_t n = 0;

	snprintf(line, sizeof(line), "snp-cert %s", which);
	TU_CHECK_EQ(psp_emu_ctl(g->t, line, &der, &n), 0);
	p = der;
	return d2i_X509(NULL, &p, (long)n);
}

static void put_file(const char *dir, const char *name, const void *p, size_t n)
{
	_cleanup_free_ char *path = path_join(dir, name);

	TU_CHECK(path && write_file_atomic(path, p, n, 0600) == 0, "write %s", name);
}

static void put_der(const char *dir, const char *name, X509 *x)
{
	uint8_t *der = NULL;
	int n = i2d_X509(x, &der);

	TU_CHECK(n > 0, "i2d");
	put_file(dir, name, der, (size_t)n);
	OPENSSL_free(der);
}

/* sevadm verify report DIR/REPORT --certs DIR/CERTS [--emulator-root DIR/ark.der]; CERTS holds
 * vcek.der and cert_chain as `sevadm fetch` leaves them. */
static int sevadm_verify(const char *dir, const char *report, const char *certs, bool emu_root)
{
	_cleanup_free_ char *rp = path_join(dir, report), *cd = path_join(dir, certs),
			    *ap = path_join(dir, "ark.der");
	char *argv[] = { (char *)tu_exe("SEVADM_EXE"), "verify", "report", rp, "--certs", cd,
			 emu_root ? "--emulator-root" : NULL, ap, NULL };
	_cleanup_free_ char *out = NULL;

	return tu_run(argv, &out, NULL);
}

/* `sevadm fetch vcek` against a stand-in KDS (tests/cli/kds-server) serving the emulator's
 * VCEK and cert_chain at AMD's URLs: the URL it asks for is the one for the report's
 * REPORTED_TCB and CHIP_ID, it accepts the certificates, and verify takes what it fetched. */
static void test_fetch(const char *dir, const struct snp_report *r)
{
	const char *build = getenv("SEVD_BUILD_ROOT");
	_cleanup_free_ char *exe = build ? path_join(build, "tests/cli/kds-server") : NULL;
	_cleanup_free_ char *portfile = path_join(dir, "kds.port"), *log = path_join(dir, "kds.log");
	_cleanup_free_ char *r1 = NULL, *r2 = NULL, *url = NULL, *path = NULL, *out = NULL;
	_cleanup_free_ char *rep = path_join(dir, "report.bin"), *dst = path_join(dir, "fetched");
	_cleanup_free_ char *cache = path_join(dir, "cache"), *ark = path_join(dir, "ark.der");
	uint8_t *port = NULL;
	struct attest_verdict why = {0};
	size_t plen = 0;
	pid_t pid;

	if (!exe || access(exe, X_OK) < 0) {
		printf("tests/cli/kds-server not built: sevadm fetch against the emulator skipped\n");
		return;
	}
	TU_CHECK(attest_snp_vcek_kds_path(r, SNP_GEN_MILAN, &path, &why) == 0, "%s", why.reason);
	TU_CHECK(asprintf(&r1, "%s=%s/good/vcek.der", path, dir) > 0 &&
			 asprintf(&r2, "/vcek/v1/Milan/cert_chain=%s/good/cert_chain", dir) > 0,
		 "routes");
	{
		char *argv[] = { exe, portfile, log, r1, r2, NULL };

		pid = tu_spawn(argv, NULL);
	}
	for (int i = 0; i < 500 && read_full_file(portfile, 16, &port, &plen) < 0; i++)
		usleep(10000);
	TU_CHECK(port, "kds-server wrote its port");
	TU_CHECK(asprintf(&url, "http://127.0.0.1:%.*s", (int)plen, (char *)port) > 0, "url");
	free(port);
	{
		char *fetch[] = { (char *)tu_exe("SEVADM_EXE"), "fetch", "vcek", "--report", rep,
				  "--gen", "Milan", /* a version 2 report does not say */
				  "--kds-url", url, "--cache", cache, dst, NULL };
		char *verify[] = { (char *)tu_exe("SEVADM_EXE"), "verify", "report", rep, "--certs",
				   dst, "--emulator-root", ark, NULL };

		TU_CHECK_EQ(tu_run(fetch, &out, NULL), 0);
		free(out);
		out = NULL;
		TU_CHECK_EQ(tu_run(verify, &out, NULL), 0);
	}
	tu_stop(pid, 5000);
}

/* The HTTP status of GET target at 127.0.0.1:port (one plain HTTP/1.0 request). */
static int http_status(const char *port, const char *target)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	char req[512], buf[64] = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), code = -1;
	ssize_t n;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	TU_CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0, "connect");
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", target);
	TU_CHECK(loop_write(fd, req, strlen(req)) == 0, "send");
	n = loop_read(fd, buf, sizeof(buf) - 1);
	if (n > 12)
		sscanf(buf, "HTTP/1.%*d %d", &code);
	close(fd);
	return code;
}

/* GET target at 127.0.0.1:port (HTTP/1.0): the whole response (headers and body) into buf,
 * NUL-terminated; its length. */
static size_t http_get(const char *port, const char *target, char *buf, size_t cap)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char req[512];
	size_t len = 0;
	ssize_t n;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	TU_CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0, "connect");
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", target);
	TU_CHECK(loop_write(fd, req, strlen(req)) == 0, "send");
	while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(fd);
	return len;
}

/* /vlek/v1/{product}/cert_chain as AMD's KDS serves it: 200, PEM, the ASVK (CN=SEV-VLEK-Milan,
 * signed by the ARK with RSASSA-PSS) then the ARK (the emulator's, ark_der); a query on it is
 * 400, another product 404, a per-chip VLEK path 404 (VLEK certificates go to the cloud
 * provider, KDS spec 57230). */
static void test_kds_vlek(const char *port, const char *ark_der, const char *vcek_path)
{
	static char resp[32768];
	_cleanup_(BIO_free_allp) BIO *b = NULL;
	_cleanup_free_ uint8_t *ark_buf = NULL;
	_cleanup_free_ char *bad = NULL;
	X509 *asvk, *ark_pem, *ark;
	const uint8_t *p;
	size_t n = http_get(port, "/vlek/v1/Milan/cert_chain", resp, sizeof(resp)), alen = 0;
	const char *body = strstr(resp, "\r\n\r\n");
	char cn[64] = "";

	TU_CHECK(strncmp(resp, "HTTP/1.0 200", 12) == 0 || strncmp(resp, "HTTP/1.1 200", 12) == 0,
		 "/vlek/v1/Milan/cert_chain: %.40s", resp);
	TU_CHECK(strcasestr(resp, "Content-Type: application/x-pem-file") != NULL, "PEM type");
	TU_CHECK(body && n > 0, "a body");
	b = BIO_new_mem_buf(body + 4, (int)(n - (size_t)(body + 4 - resp)));
	asvk = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	ark_pem = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	TU_CHECK(asvk && ark_pem, "two PEM certificates");
	X509_NAME_get_text_by_NID(X509_get_subject_name(asvk), NID_commonName, cn, sizeof(cn));
	TU_CHECK(strcmp(cn, "SEV-VLEK-Milan") == 0, "ASVK CN '%s'", cn);
	TU_CHECK(read_full_file(ark_der, 8192, &ark_buf, &alen) == 0, "read %s", ark_der);
	p = ark_buf;
	ark = d2i_X509(NULL, &p, (long)alen);
	TU_CHECK(ark && X509_cmp(ark, ark_pem) == 0, "the chain ends in the emulator's ARK");
	TU_CHECK(X509_verify(asvk, X509_get0_pubkey(ark)) == 1, "the ARK signed the ASVK");
	TU_CHECK(X509_get_signature_nid(asvk) == NID_rsassaPss, "RSASSA-PSS");
	X509_free(asvk);
	X509_free(ark_pem);
	X509_free(ark);
	TU_CHECK_EQ(http_status(port, "/vlek/v1/Milan/cert_chain?blSPL=1"), 400);
	TU_CHECK_EQ(http_status(port, "/vlek/v1/Turin/cert_chain"), 404);
	TU_CHECK(asprintf(&bad, "/vlek/v1/%s", vcek_path + strlen("/vcek/v1/")) > 0, "path");
	TU_CHECK_EQ(http_status(port, bad), 404);
	/* the VCEK's chain is still the ASK's */
	n = http_get(port, "/vcek/v1/Milan/cert_chain", resp, sizeof(resp));
	TU_CHECK(n > 0 && strstr(resp, "\r\n\r\n"), "vcek cert_chain");
	BIO_free_all(b);
	b = BIO_new_mem_buf(strstr(resp, "\r\n\r\n") + 4, -1);
	asvk = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	TU_CHECK(asvk, "vcek cert_chain PEM");
	X509_NAME_get_text_by_NID(X509_get_subject_name(asvk), NID_commonName, cn, sizeof(cn));
	TU_CHECK(strcmp(cn, "SEV-Milan") == 0, "ASK CN '%s'", cn);
	X509_free(asvk);
	/* the VCEK itself is DER */
	n = http_get(port, vcek_path, resp, sizeof(resp));
	TU_CHECK(strcasestr(resp, "Content-Type: application/octet-stream") != NULL, "DER type");
}

/* sev-kds-emu on the emulator's NV file: sevadm fetch vcek gets the VCEK and cert_chain from it
 * and verify takes them; AMD's URL rules: 400 for a malformed query, 404 for another chip or
 * product. */
static void test_kds(const char *dir, const struct snp_report *r)
{
	const char *build = getenv("SEVD_BUILD_ROOT");
	_cleanup_free_ char *exe = build ? path_join(build, "psp/emu/sev-kds-emu") : NULL;
	_cleanup_free_ char *nv = path_join(dir, "nv.bin"), *pf = path_join(dir, "kds2.port");
	_cleanup_free_ char *rep = path_join(dir, "report.bin"), *dst = path_join(dir, "kdsfetch");
	_cleanup_free_ char *cache = path_join(dir, "cache2"), *ark = path_join(dir, "ark.der");
	_cleanup_free_ char *url = NULL, *path = NULL, *bad = NULL, *out = NULL;
	struct attest_verdict why = {0};
	uint8_t *port = NULL;
	size_t plen = 0;
	pid_t pid;

	TU_CHECK(exe && access(exe, X_OK) == 0, "sev-kds-emu is built (%s)", exe ? exe : "?");
	{
		char *argv[] = { exe, "--nv", nv, "--port-file", pf, NULL };

		pid = tu_spawn(argv, NULL);
	}
	for (int i = 0; i < 500 && read_full_file(pf, 16, &port, &plen) < 0; i++)
		usleep(10000);
	TU_CHECK(port, "sev-kds-emu wrote its port");
	port[plen] = 0;
	TU_CHECK(asprintf(&url, "http://127.0.0.1:%s", (char *)port) > 0, "url");
	{
		char *fetch[] = { (char *)tu_exe("SEVADM_EXE"), "fetch", "vcek", "--report", rep,
				  "--gen", "Milan", "--kds-url", url, "--cache", cache, dst, NULL };
		char *verify[] = { (char *)tu_exe("SEVADM_EXE"), "verify", "report", rep, "--certs",
				   dst, "--emulator-root", ark, NULL };

		TU_CHECK_EQ(tu_run(fetch, &out, NULL), 0);
		free(out);
		out = NULL;
		TU_CHECK_EQ(tu_run(verify, &out, NULL), 0);
	}
	TU_CHECK(attest_snp_vcek_kds_path(r, SNP_GEN_MILAN, &path, &why) == 0, "%s", why.reason);
	TU_CHECK_EQ(http_status((char *)port, path), 200);
	TU_CHECK_EQ(http_status((char *)port, "/vcek/v1/Milan/cert_chain"), 200);
	TU_CHECK(asprintf(&bad, "%.*s", (int)(strchr(path, '?') - path), path) > 0, "path");
	TU_CHECK_EQ(http_status((char *)port, bad), 400); /* no SPLs */
	free(bad);
	TU_CHECK(asprintf(&bad, "%s&fmcSPL=1", path) > 0, "path");
	TU_CHECK_EQ(http_status((char *)port, bad), 400); /* fmcSPL is Turin's */
	free(bad);
	TU_CHECK(asprintf(&bad, "%s", path) > 0, "path");
	bad[strlen("/vcek/v1/Milan/")] ^= 1; /* another chip */
	TU_CHECK_EQ(http_status((char *)port, bad), strchr("0123456789abcdef", bad[15]) ? 404 : 400);
	TU_CHECK_EQ(http_status((char *)port, "/vcek/v1/Turin/cert_chain"), 404);
	TU_CHECK_EQ(http_status((char *)port, "/vcek/v1/Milan/cert_chain?x=1"), 400);
	test_kds_vlek((char *)port, ark, path);
	free(port);
	TU_CHECK(WIFEXITED(tu_stop(pid, 5000)), "sev-kds-emu stops on SIGTERM");
}

/* The emulator's VCEK certificate chain (CTL snp-cert, what the KDS serves) verifies with the
 * project's SNP chain verifier and binds to the report; `sevadm verify report` accepts the
 * report with --emulator-root and only then, and refuses a flipped byte and another TCB's
 * VCEK certificate. */
static void test_chain(struct guest *g, const char *dir)
{
	X509 *ark = emu_cert(g, "ark"), *ask = emu_cert(g, "ask"), *vc = emu_cert(g, "vcek");
	X509 *other = emu_cert(g, "vcek:0x7300000000000002");
	_cleanup_(BIO_free_allp) BIO *b = BIO_new(BIO_s_mem());
	uint8_t raw[SNP_REPORT_SIZE];
	struct snp_chain_verdict v;
	struct snp_vcek_info info;
	struct snp_report r;
	struct attest_verdict buf = {0};
	char *pem = NULL;
	bool hw = false;
	long n;

	TU_CHECK(ark && ask && vc && other && b, "certificates");
	TU_CHECK_EQ(attest_snp_chain_verify(ark, ask, vc, &v), 1);
	TU_CHECK_EQ(attest_snp_chain_verify(ask, ask, vc, &v), 0); /* the ASK is no root */
	TU_CHECK_EQ(get_report(g, 0, 1, 0, raw), OK);
	parse(raw, SNP_GEN_MILAN, &r);
	TU_CHECK(attest_snp_vcek_info(vc, &info, &buf) == 0, "%s", buf.reason);
	TU_CHECK(strcmp(info.product_name, "Milan-B0") == 0, "%s", info.product_name);
	TU_CHECK_EQ(info.gen, SNP_GEN_MILAN);
	TU_CHECK_EQ(info.hwid_len, 64);
	TU_CHECK_EQ(attest_snp_vcek_check_report(&info, &r, &hw, &buf), 1);
	TU_CHECK(hw, "the hwID was compared");
	TU_CHECK(attest_snp_vcek_info(other, &info, &buf) == 0, "%s", buf.reason);
	TU_CHECK_EQ(attest_snp_vcek_check_report(&info, &r, &hw, &buf), 0);
	/* the files a host would have: the report, and per VCEK a directory with vcek.der and
	 * cert_chain (PEM: ASK then ARK), as `sevadm fetch` writes them; the trusted ARK apart */
	TU_CHECK(PEM_write_bio_X509(b, ask) == 1 && PEM_write_bio_X509(b, ark) == 1, "pem");
	n = BIO_get_mem_data(b, &pem);
	for (int i = 0; i < 2; i++) {
		_cleanup_free_ char *sub = path_join(dir, i ? "other" : "good");

		TU_CHECK(sub && mkdir(sub, 0700) == 0, "mkdir");
		put_file(sub, "cert_chain", pem, (size_t)n);
		put_der(sub, "vcek.der", i ? other : vc);
	}
	put_der(dir, "ark.der", ark);
	put_file(dir, "report.bin", raw, sizeof(raw));
	raw[0x90] ^= 1; /* the measurement */
	put_file(dir, "flipped.bin", raw, sizeof(raw));
	TU_CHECK_EQ(sevadm_verify(dir, "report.bin", "good", true), 0);
	emu_appraise(dir, &r); /* sevadm verify report --ref, each field failing alone */
	TU_CHECK(sevadm_verify(dir, "report.bin", "good", false) != 0, "AMD's roots only");
	TU_CHECK(sevadm_verify(dir, "flipped.bin", "good", true) != 0, "one byte flipped");
	TU_CHECK(sevadm_verify(dir, "report.bin", "other", true) != 0, "another TCB's VCEK");
	raw[0x90] ^= 1;
	parse(raw, SNP_GEN_MILAN, &r);
	test_fetch(dir, &r);
	test_kds(dir, &r);
	X509_free(ark);
	X509_free(ask);
	X509_free(vc);
	X509_free(other);
}

/* ---- "AMD": the VLEK hashstick, wrapped for this chip (own implementation of AMD's
 * derivations: hash sticks, key_from_hash; the chip's fused seed read from its NV file, as
 * AMD knows its chips' secrets). ---- */

static void hmac384(const uint8_t *key, size_t klen, const void *msg, size_t n, uint8_t out[48])
{
	size_t len = 48;

	TU_CHECK(EVP_Q_mac(NULL, "HMAC", NULL, "SHA384", NULL, key, klen, msg, n, out, 48, &len) &&
			 len == 48, "hmac");
}

static void amd_seed(const char *dir, uint8_t seed[48])
{
	_cleanup_free_ char *nv = path_join(dir, "nv.bin");
	struct emu_nv_state st = { 0 };
	const char *why = NULL;
	BIGNUM *d = NULL;
	uint8_t k[32];

	TU_CHECK(emu_nv_load(nv, &st, &why) == 0, "NV file: %s", why ? why : "?");
	TU_CHECK(EVP_PKEY_get_bn_param(st.chip.cuk, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1 &&
			 BN_bn2binpad(d, k, 32) == 32, "CUK");
	hmac384(k, 32, "sev-psp-emu snp chip seed", 25, seed);
	BN_free(d);
	emu_nv_state_clear(&st);
}

/* AMD's Stick_Create over TCB bytes 0..7: d = SHA-384^(255-v)(base); base' = SHA-384(0^8 ‖ d);
 * the last stick SHA-384(d). */
static void amd_vcek_hash(const uint8_t seed[48], uint64_t tcb, uint8_t out[48])
{
	uint8_t base[48], d[56] = { 0 };

	memcpy(base, seed, 48);
	for (int i = 0; i < 8; i++) {
		memcpy(d + 8, base, 48);
		for (int k = 255; k > (int)((tcb >> (8 * i)) & 0xff); k--)
			sha384(d + 8, 48, d + 8);
		if (i < 7)
			sha384(d, 56, base);
		else
			sha384(d + 8, 48, out);
	}
}

static EVP_PKEY *amd_key_from_hash(const uint8_t h[48], const char *label)
{
	EC_GROUP *grp = EC_GROUP_new_by_curve_name(NID_secp384r1);
	BIGNUM *c, *n1 = BN_dup(EC_GROUP_get0_order(grp)), *d = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	uint8_t rdata[56], scalar[48];
	EVP_PKEY *k = NULL;

	TU_CHECK(attest_kdf(h, 48, label, NULL, 0, rdata, sizeof(rdata)) == 0, "kdf");
	c = BN_lebin2bn(rdata, sizeof(rdata), NULL);
	TU_CHECK(c && n1 && d && ctx && BN_sub_word(n1, 1) && BN_mod(d, c, n1, ctx) &&
			 BN_add_word(d, 1) && BN_bn2binpad(d, scalar, 48) == 48, "d");
	TU_CHECK(attest_p384_key_from_scalar(scalar, &k) == 0, "key");
	BN_free(c);
	BN_free(n1);
	BN_free(d);
	BN_CTX_free(ctx);
	EC_GROUP_free(grp);
	return k;
}

/* The wrapped VLEK for tcb, at page P_DATA + 1 (which is the host's). */
static void amd_wrap(struct guest *g, const uint8_t seed[48], uint64_t tcb,
		     const uint8_t sticks[8][48])
{
	struct sev_snp_vlek_wrapped *w = (void *)(g->m.ptr + (P_DATA + 1) * SEV_PAGE_SIZE);
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t h[48], key[32];
	int n;

	amd_vcek_hash(seed, tcb, h);
	TU_CHECK(attest_kdf(h, 48, "vlek-wrapping-key", NULL, 0, key, 32) == 0, "kdf");
	memset(w, 0, sizeof(*w));
	memset(w->iv, 0x17, sizeof(w->iv));
	w->tcb_version = tcb;
	TU_CHECK(c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, w->iv) == 1 &&
			 EVP_EncryptUpdate(c, NULL, &n, (uint8_t *)&w->tcb_version, 16) == 1 &&
			 EVP_EncryptUpdate(c, w->vlek_wrapped, &n, &sticks[0][0], 8 * 48) == 1 &&
			 EVP_EncryptFinal_ex(c, w->vlek_wrapped + n, &n) == 1 &&
			 EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, w->tag) == 1,
		 "wrap");
}

static int vlek_load(struct guest *g, uint32_t length)
{
	struct sev_snp_cmd_vlek_load b = { .length = length,
					   .vlek_wrapped_address = pa(g, P_DATA + 1) };

	return fw(g->t, SEV_CMD_SNP_VLEK_LOAD, &b);
}

/* The VCEK as "AMD" derives it is the emulator's; a VLEK wrapped for this chip and its reported
 * TCB loads (BAD_SVN for another TCB, BAD_MEASUREMENT when tampered) and then signs reports
 * (KEY_SEL 0 and 2; 1 stays the VCEK). */
static void test_vlek(struct guest *g, const char *dir)
{
	const uint64_t tcb = 0x7308000000000003ull;
	uint8_t seed[48], h[48], sticks[8][48], raw[SNP_REPORT_SIZE];
	struct sev_snp_platform_status ps;
	EVP_PKEY *vc = vcek(g, 0), *mine, *vlek;
	struct snp_report r;
	struct attest_verdict why = {0};

	amd_seed(dir, seed);
	amd_vcek_hash(seed, tcb, h);
	mine = amd_key_from_hash(h, "sev-versioned-chip-endorsement-key");
	TU_CHECK(EVP_PKEY_eq(vc, mine) == 1, "the emulator's VCEK is the one AMD derives");
	for (int i = 0; i < 8; i++)
		memset(sticks[i], 0x60 + i, 48);
	vlek = amd_key_from_hash(sticks[7], "sev-versioned-loaded-attestation-key");
	amd_wrap(g, seed, tcb - 1, sticks);
	GT_EXPECT(vlek_load(g, sizeof(struct sev_snp_cmd_vlek_load)), SEV_STATUS_BAD_SVN);
	amd_wrap(g, seed, tcb, sticks);
	GT_EXPECT(vlek_load(g, 15), SEV_STATUS_INVALID_PARAM);
	g->m.ptr[(P_DATA + 1) * SEV_PAGE_SIZE + 0x20] ^= 1;
	GT_EXPECT(vlek_load(g, sizeof(struct sev_snp_cmd_vlek_load)), SEV_STATUS_BAD_MEASUREMENT);
	TU_CHECK_EQ(get_report(g, 0, 2, 0, raw), SEV_STATUS_INVALID_KEY); /* none loaded yet */
	amd_wrap(g, seed, tcb, sticks);
	GT_EXPECT(vlek_load(g, sizeof(struct sev_snp_cmd_vlek_load)), OK);
	GT_EXPECT(snp_platform_status(g->t, &g->m, 0, &ps), OK);
	TU_CHECK(ps.flags & SEV_SNP_STATUS_VLEK_EN, "VLEK_EN");
	for (uint32_t sel = 0; sel < 3; sel++) {
		TU_CHECK_EQ(get_report(g, 0, sel, 0, raw), OK);
		parse(raw, SNP_GEN_MILAN, &r);
		TU_CHECK_EQ(attest_snp_report_signing_key(&r),
			    sel == 1 ? SNP_KEY_VCEK : SNP_KEY_VLEK);
		TU_CHECK_EQ(attest_snp_report_verify(&r, sel == 1 ? vc : vlek, &why), 1);
		TU_CHECK_EQ(attest_snp_report_verify(&r, sel == 1 ? vlek : vc, &why), 0);
	}
	EVP_PKEY_free(vc);
	EVP_PKEY_free(mine);
	EVP_PKEY_free(vlek);
}

/* --snp-product turin: a version 3 report with Turin's CPUID and TCB layout (FMC first), an
 * 8-byte chip id, ARK-Turin/SEV-Turin and a VCEK with fmcSPL and an 8-byte hwID; the project's
 * verifier and sevadm take it with the emulator's Turin root. */
static void test_turin(void)
{
	static const char *const args[] = { "--snp", "--snp-product", "turin", "--tcb",
					     "fmc=1,bl=2,tee=3,snp=4,ucode=9", NULL };
	X509 *ark, *ask, *vc;
	_cleanup_(BIO_free_allp) BIO *b = BIO_new(BIO_s_mem());
	uint8_t raw[SNP_REPORT_SIZE];
	struct snp_chain_verdict v;
	struct snp_vcek_info info;
	struct snp_report r;
	struct guest g = { .fms = 0x00B00F21u }; /* Turin: family 1Ah, model 02h */
	struct emu_rig rig;
	struct attest_verdict buf = {0};
	char *pem = NULL, *sub;
	bool hw = false;
	long n;

	rig_up(&rig, args);
	g.t = rig.t;
	gt_mem_new(rig.t, N_PAGES * SEV_PAGE_SIZE, &g.m);
	snp_ready(rig.t);
	launch(&g);
	TU_CHECK_EQ(get_report(&g, 0, 1, 0, raw), OK);
	parse(raw, SNP_GEN_UNKNOWN, &r);
	TU_CHECK_EQ(r.version, 3);
	TU_CHECK_EQ(r.gen, SNP_GEN_TURIN); /* from the report's own CPUID fields */
	TU_CHECK_EQ(r.cpuid_fam_id, 0x1a);
	TU_CHECK_EQ(r.cpuid_mod_id, 0x02);
	TU_CHECK_EQ(r.current_tcb.raw, 0x0900000004030201ull);
	TU_CHECK_EQ(r.current_tcb.fmc, 1);
	TU_CHECK_EQ(r.current_tcb.bootloader, 2);
	TU_CHECK_EQ(r.current_tcb.snp, 4);
	for (unsigned i = 8; i < 64; i++)
		TU_CHECK_EQ(r.chip_id[i], 0);
	ark = emu_cert(&g, "ark");
	ask = emu_cert(&g, "ask");
	vc = emu_cert(&g, "vcek");
	TU_CHECK(ark && ask && vc && b, "certificates");
	TU_CHECK_EQ(attest_snp_cert_gen(ark), SNP_GEN_TURIN);
	TU_CHECK_EQ(attest_snp_chain_verify(ark, ask, vc, &v), 1);
	TU_CHECK(attest_snp_vcek_info(vc, &info, &buf) == 0, "%s", buf.reason);
	TU_CHECK_EQ(info.hwid_len, 8);
	TU_CHECK(info.has_fmc && info.fmc == 1, "fmcSPL");
	TU_CHECK_EQ(attest_snp_vcek_check_report(&info, &r, &hw, &buf), 1);
	TU_CHECK(PEM_write_bio_X509(b, ask) == 1 && PEM_write_bio_X509(b, ark) == 1, "pem");
	n = BIO_get_mem_data(b, &pem);
	sub = path_join(rig.dir, "good");
	TU_CHECK(sub && mkdir(sub, 0700) == 0, "mkdir");
	put_file(sub, "cert_chain", pem, (size_t)n);
	put_der(sub, "vcek.der", vc);
	put_der(rig.dir, "ark.der", ark);
	put_file(rig.dir, "report.bin", raw, sizeof(raw));
	TU_CHECK_EQ(sevadm_verify(rig.dir, "report.bin", "good", true), 0);
	emu_appraise(rig.dir, &r); /* with the Turin TCB's FMC */
	free(sub);
	X509_free(ark);
	X509_free(ask);
	X509_free(vc);
	gt_mem_free(&g.m);
	rig_down(&rig);
}

/* The real Milan report of the vectors parses with the same verifier: the layout the emulator
 * writes (version 2) is AMD's. */
static void test_vector_layout(void)
{
	const char *root = getenv("SEV_VECTORS");
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ uint8_t *hex = NULL;
	uint8_t raw[SNP_REPORT_SIZE];
	struct snp_report r;
	struct attest_verdict why = {0};
	size_t n = 0;

	if (!root || asprintf(&path, "%s/snp/report_milan.hex", root) < 0 ||
	    read_full_file(path, 1 << 16, &hex, &n) < 0) {
		printf("vector report not found ($SEV_VECTORS/snp/report_milan.hex): layout check "
		       "against it skipped\n");
		return;
	}
	TU_CHECK(attest_snp_report_bytes(hex, n, raw, &why) == 0, "%s", why.reason);
	parse(raw, SNP_GEN_MILAN, &r);
	TU_CHECK_EQ(r.version, 2);
	TU_CHECK_EQ(get_le64(raw + offsetof(struct sev_snp_report, policy)), r.policy);
	TU_CHECK_EQ(get_le64(raw + offsetof(struct sev_snp_report, reported_tcb)),
		    r.reported_tcb.raw);
	TU_CHECK_MEM(raw + offsetof(struct sev_snp_report, measurement), r.measurement, 48);
	TU_CHECK_MEM(raw + offsetof(struct sev_snp_report, chip_id), r.chip_id, 64);
	TU_CHECK_EQ(raw[offsetof(struct sev_snp_report, current_major)], 1);
	TU_CHECK_EQ(raw[offsetof(struct sev_snp_report, current_minor)], 52);
	TU_CHECK_EQ(raw[offsetof(struct sev_snp_report, current_build)], 4);
}

int main(void)
{
	static const char *const args[] = { "--snp", NULL };
	struct emu_rig r;
	struct guest g = { .fms = 0x00A00F10u }; /* Milan B0, as the vectors' VCEK */

	test_vector_layout();
	/* snp-cert makes two RSA-4096 keys inside the emulator on first use: seconds, more on a
	 * loaded machine; the transport must wait longer than its default 30 s for that reply */
	setenv("SEV_PSP_EMU_TIMEOUT_MS", "180000", 1);
	rig_up(&r, args);
	g.t = r.t;
	gt_mem_new(r.t, N_PAGES * SEV_PAGE_SIZE, &g.m);
	snp_ready(r.t);
	launch(&g);
	test_report(&g);
	test_config_tcb(&g);
	test_protocol(&g);
	test_keys(&g);
	test_chain(&g, r.dir);
	test_vlek(&g, r.dir);
	gt_mem_free(&g.m);
	rig_down(&r);
	test_turin();
	tu_done("test-emu-snp-report");
}
