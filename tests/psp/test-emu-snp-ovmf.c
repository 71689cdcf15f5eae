/* Debian's OVMF launched as SEV-SNP guest through sev-psp-emu --snp, the test acting as QEMU
 * and KVM: the emulator, launched with these pages, gives exactly the digest computed offline,
 * and an ID block makes the round trip.
 *
 * The pages go to SNP_LAUNCH_UPDATE in QEMU's order (target/i386/sev.c, v9.x):
 * sev_encrypt_flash() queues the whole flash image as NORMAL pages when the machine maps it (at
 * the top of 4 GiB); at launch finish snp_populate_metadata_pages() queues OVMF's SEV metadata
 * sections in their table order with snp_metadata_desc_to_page_type(): SNP_SEC_MEM as ZERO,
 * SNP_SECRETS as SECRETS, CPUID as CPUID (the page QEMU fills from KVM_GET_CPUID2; its contents
 * are not measured), KERNEL_HASHES as NORMAL with a kernel, else ZERO; sev_snp_launch_finish()
 * then issues the queue in that order. KVM (arch/x86/kvm/svm/sev.c, snp_launch_update_vmsa)
 * adds one VMSA per vCPU in vCPU order at INITIAL_VMSA_GPA in KVM_SEV_SNP_LAUNCH_FINISH, before
 * SNP_LAUNCH_FINISH. Every page is made Pre-Guest by RMPUPDATE first and updated 4 KiB at a
 * time, as KVM's sev_gmem_post_populate does.
 *
 * The VMSAs are the real `sevadm vmsa build` output; the expected digest is what the real
 * `sevadm measurement build --snp` prints; the compared digest is the MEASUREMENT of a report
 * the emulator signs for a guest request (the guest's AES-GCM through attest/snp-msg.h). The
 * ID block and its auth structure are the real `sevadm snp id-block` output: SNP_LAUNCH_FINISH
 * takes them and refuses each byte of the block, and each byte of the auth structure the ABI
 * gives a meaning, flipped alone; the report then carries the ID and
 * author key digests sevadm printed, and `sevadm measurement verify --snp --report` takes it
 * (and refuses it for another vCPU count). */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/ovmf.h"
#include "attest/snp-msg.h"
#include "attest/snp-report.h"
#include "common/ossl.h"
#include "common/util.h"
#include "tests/psp/test-emu-snp-util.h"

#define OK SEV_STATUS_SUCCESS
#define OVMF_PATH "/usr/share/ovmf/OVMF.fd"
#define POLICY 0x30000ull /* QEMU's default SNP policy: SMT allowed, bit 17 */
#define ASID 1u
#define MAX_VCPUS 4u
/* host pages: fixed ones, then the VMSAs, then the guest's launch pages */
enum { P_STATUS, P_GCTX, P_REQ, P_RSP, P_IDB, P_AUTH, P_VMSA, P_GUEST = P_VMSA + MAX_VCPUS };

struct fwimg {
	uint8_t *bytes;
	size_t len;
	struct attest_ovmf o;
};

struct guest {
	struct emu_rig r;
	struct gt_mem m;
	unsigned next; /* next free host page for launch pages */
	uint64_t secrets_gpa;
	uint8_t vmpck0[32];
	uint64_t seqno;
};

static uint64_t pa(const struct guest *g, unsigned page)
{
	return g->m.base + (uint64_t)page * SEV_PAGE_SIZE;
}

static uint8_t *hva(const struct guest *g, unsigned page)
{
	return g->m.ptr + (size_t)page * SEV_PAGE_SIZE;
}

/* RMPUPDATE to Pre-Guest (rmp_make_private(..., immutable)) and one 4 KiB SNP_LAUNCH_UPDATE. */
static int launch_page(struct guest *g, unsigned page, uint64_t gpa, unsigned type)
{
	struct sev_snp_cmd_launch_update b = { .gctx_paddr = pa(g, P_GCTX),
					       .flags = SEV_SNP_UPDATE_FLAGS(type, false, false),
					       .address = pa(g, page) };
	int e = snp_rmpupdate(g->r.t, "0x%llx,assigned=1,asid=%u,gpa=0x%llx,immutable=1",
			      (unsigned long long)pa(g, page), ASID, (unsigned long long)gpa);

	TU_CHECK(e == 0, "rmpupdate gpa 0x%llx: %s", (unsigned long long)gpa, strerror(-e));
	return fw(g->r.t, SEV_CMD_SNP_LAUNCH_UPDATE, &b);
}

/* len bytes at gpa from src (NULL: the host's pages are left zero), all of one type. */
static void launch_range(struct guest *g, uint64_t gpa, const uint8_t *src, size_t len,
			 unsigned type)
{
	for (size_t off = 0; off < len; off += SEV_PAGE_SIZE) {
		unsigned p = g->next++;

		TU_CHECK((size_t)(p + 1) * SEV_PAGE_SIZE <= g->m.size, "guest memory too small");
		memset(hva(g, p), 0, SEV_PAGE_SIZE);
		if (src)
			memcpy(hva(g, p), src + off, SEV_PAGE_SIZE);
		GT_EXPECT(launch_page(g, p, gpa + off, type), OK);
	}
}

static void launch_sections(struct guest *g, const struct fwimg *f)
{
	for (size_t i = 0; i < f->o.n_sections; i++) {
		const struct attest_ovmf_section *s = &f->o.sections[i];

		switch (s->type) {
		case ATTEST_OVMF_SNP_SECRETS:
			g->secrets_gpa = s->gpa;
			launch_range(g, s->gpa, NULL, SEV_PAGE_SIZE, SEV_SNP_PAGE_SECRETS);
			break;
		case ATTEST_OVMF_CPUID: /* zero functions: valid, and not measured either way */
			launch_range(g, s->gpa, NULL, SEV_PAGE_SIZE, SEV_SNP_PAGE_CPUID);
			break;
		default: /* SNP_SEC_MEM, SVSM_CAA, KERNEL_HASHES without a kernel: ZERO */
			launch_range(g, s->gpa, NULL, s->size, SEV_SNP_PAGE_ZERO);
			break;
		}
	}
}

static size_t sections_bytes(const struct fwimg *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->o.n_sections; i++)
		n += (f->o.sections[i].size + SEV_PAGE_SIZE - 1) & ~(size_t)(SEV_PAGE_SIZE - 1);
	return n;
}

/* ---- the real sevadm ---- */
static char *sevadm_out(char *const argv[])
{
	char *out = NULL;
	int st = tu_run(argv, &out, NULL);

	TU_CHECK(st == 0, "%s %s exited %d: %s", argv[1], argv[2], st, out ? out : "");
	return out;
}

static void sevadm_digest(const char *type, unsigned vcpus, uint8_t ret[48])
{
	char n[16];
	char *argv[] = { (char *)tu_exe("SEVADM_EXE"), "measurement", "build", "--snp",
			 "--firmware", OVMF_PATH, "--vcpus", n, "--vcpu-type", (char *)type, NULL };
	_cleanup_free_ char *out = NULL;

	snprintf(n, sizeof(n), "%u", vcpus);
	out = sevadm_out(argv);
	out[strcspn(out, "\n")] = 0;
	TU_CHECK(hex_decode_exact(out, ret, 48) == 0, "digest: %s", out);
}

static void sevadm_vmsa(const char *dir, const char *type, unsigned cpu, uint8_t *page)
{
	char c[16];
	_cleanup_free_ char *file = path_join(dir, "vmsa.bin");
	char *argv[] = { (char *)tu_exe("SEVADM_EXE"), "vmsa", "build", file, "--cpu", c,
			 "--vcpu-type", (char *)type, "--firmware", OVMF_PATH,
			 "--guest-features", "0x1", NULL };
	_cleanup_free_ char *out = NULL;
	_cleanup_free_ uint8_t *b = NULL;
	size_t n = 0;

	snprintf(c, sizeof(c), "%u", cpu);
	out = sevadm_out(argv);
	b = tu_read_file(file, &n);
	TU_CHECK(b && n == SEV_PAGE_SIZE, "%s: %zu bytes", file, n);
	memcpy(page, b, SEV_PAGE_SIZE);
}

/* `sevadm measurement verify --snp --report DIR/report.bin` for these inputs: exit want. */
static void sevadm_verify_report(const char *dir, const char *type, unsigned vcpus, int want)
{
	char n[16];
	_cleanup_free_ char *rp = path_join(dir, "report.bin"), *out = NULL;
	char *argv[] = { (char *)tu_exe("SEVADM_EXE"), "measurement", "verify", "--snp",
			 "--firmware", OVMF_PATH, "--vcpus", n, "--vcpu-type", (char *)type,
			 "--report", rp, NULL };
	int st;

	snprintf(n, sizeof(n), "%u", vcpus);
	st = tu_run(argv, &out, NULL);
	TU_CHECK(st == want, "measurement verify --snp, %u vCPU %s: exit %d, expected %d: %s",
		 vcpus, type, st, want, out ? out : "");
}

struct id_digests {
	uint8_t id[48], author[48];
};

static void hex_line(const char *out, const char *key, uint8_t ret[48])
{
	const char *p = strstr(out, key);
	char h[97];

	TU_CHECK(p, "no %s in: %.300s", key, out);
	p += strlen(key);
	while (*p == ' ')
		p++;
	snprintf(h, sizeof(h), "%.96s", p);
	TU_CHECK(hex_decode_exact(h, ret, 48) == 0, "%s %s", key, h);
}

static void write_key(const char *path)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	FILE *f = fopen(path, "w");

	TU_CHECK(k && f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1, "%s", path);
	fclose(f);
	EVP_PKEY_free(k);
}

/* sevadm snp id-block for the digest; id-block.bin and id-auth.bin copied to their pages. */
static void sevadm_id_block(struct guest *g, const uint8_t ld[48], struct id_digests *ret)
{
	_cleanup_free_ char *id = path_join(g->r.dir, "id.pem"),
			    *au = path_join(g->r.dir, "author.pem"),
			    *out_dir = path_join(g->r.dir, "idb"), *d = hex_encode(ld, 48),
			    *bp = path_join(out_dir, "id-block.bin"),
			    *ap = path_join(out_dir, "id-auth.bin"), *out = NULL;
	char *argv[] = { (char *)tu_exe("SEVADM_EXE"), "snp", "id-block", "--measurement", d,
			 "--policy", "0x30000", "--family-id", "f1f2f3f4f5f6f7f8f9fafbfcfdfeff00",
			 "--image-id", "0102030405060708090a0b0c0d0e0f10", "--svn", "7",
			 "--id-key", id, "--author-key", au, "--out", out_dir, NULL };
	_cleanup_free_ uint8_t *blk = NULL, *auth = NULL;
	size_t nb = 0, na = 0;

	write_key(id);
	write_key(au);
	TU_CHECK(mkdir(out_dir, 0700) == 0, "mkdir %s", out_dir);
	out = sevadm_out(argv);
	hex_line(out, "id_key_digest:", ret->id);
	hex_line(out, "author_key_digest:", ret->author);
	blk = tu_read_file(bp, &nb);
	auth = tu_read_file(ap, &na);
	TU_CHECK(blk && nb == 96 && auth && na == SEV_PAGE_SIZE, "id block %zu, auth %zu", nb, na);
	memcpy(hva(g, P_IDB), blk, nb);
	memcpy(hva(g, P_AUTH), auth, na);
}

/* ---- the launch ---- */
static void guest_up(struct guest *g, const struct fwimg *f)
{
	static const char *const args[] = { "--snp", NULL };
	struct sev_snp_cmd_launch_start ls = { .gctx_paddr = 0, .policy = POLICY };
	struct sev_snp_cmd_activate ac = { .asid = ASID };
	struct sev_snp_cmd_addr gc;
	size_t pages = P_GUEST + (f->len + sections_bytes(f)) / SEV_PAGE_SIZE + 1;

	memset(g, 0, sizeof(*g));
	rig_up(&g->r, args);
	gt_mem_new(g->r.t, (pages + 511) / 512 * 512 * SEV_PAGE_SIZE, &g->m);
	snp_ready(g->r.t);
	snp_fw_page(g->r.t, pa(g, P_STATUS));
	snp_fw_page(g->r.t, pa(g, P_GCTX));
	snp_fw_page(g->r.t, pa(g, P_RSP)); /* KVM gives firmware a firmware page for responses */
	gc.address = ls.gctx_paddr = ac.gctx_paddr = pa(g, P_GCTX);
	GT_EXPECT(fw(g->r.t, SEV_CMD_SNP_GCTX_CREATE, &gc), OK);
	GT_EXPECT(fw(g->r.t, SEV_CMD_SNP_LAUNCH_START, &ls), OK);
	GT_EXPECT(fw(g->r.t, SEV_CMD_SNP_ACTIVATE, &ac), OK);
	g->next = P_GUEST;
}

/* QEMU's queue, then KVM's VMSAs: everything up to SNP_LAUNCH_FINISH. */
static void launch_pages(struct guest *g, const struct fwimg *f, const char *type, unsigned vcpus)
{
	launch_range(g, (1ull << 32) - f->len, f->bytes, f->len, SEV_SNP_PAGE_NORMAL);
	launch_sections(g, f);
	TU_CHECK(g->secrets_gpa, "OVMF has no SNP_SECRETS section");
	for (unsigned i = 0; i < vcpus; i++) {
		sevadm_vmsa(g->r.dir, type, i, hva(g, P_VMSA + i));
		GT_EXPECT(launch_page(g, P_VMSA + i, SEV_SNP_VMSA_GPA, SEV_SNP_PAGE_VMSA), OK);
	}
}

static int finish(struct guest *g, uint64_t flags)
{
	struct sev_snp_cmd_launch_finish b = { .gctx_paddr = pa(g, P_GCTX),
					       .id_block_paddr = pa(g, P_IDB),
					       .id_auth_paddr = pa(g, P_AUTH), .flags = flags };

	return fw(g->r.t, SEV_CMD_SNP_LAUNCH_FINISH, &b);
}

/* The guest reads VMPCK0 from its secrets page and asks for a report (MSG_REPORT_REQ); the
 * report is also written to DIR/report.bin. */
static void report(struct guest *g, struct snp_report *ret)
{
	struct sev_snp_cmd_guest_request b = { pa(g, P_GCTX), pa(g, P_REQ), pa(g, P_RSP) };
	struct sev_snp_report_req q = { .vmpl = 0 };
	_cleanup_free_ char *rp = path_join(g->r.dir, "report.bin");
	_cleanup_free_ uint8_t *sp = NULL;
	const uint8_t *payload = NULL;
	struct attest_verdict why = {0};
	char line[64];
	size_t n = 0;

	snprintf(line, sizeof(line), "snp-secrets 0x%llx", (unsigned long long)pa(g, P_GCTX));
	TU_CHECK_EQ(psp_emu_ctl(g->r.t, line, &sp, &n), 0);
	TU_CHECK_EQ(n, SEV_PAGE_SIZE);
	memcpy(g->vmpck0, sp + 0x20, 32);
	memset(hva(g, P_REQ), 0, SEV_PAGE_SIZE);
	TU_CHECK_EQ(attest_snp_msg_seal(g->vmpck0, 0, ++g->seqno, SEV_SNP_MSG_REPORT_REQ, &q,
					sizeof(q), hva(g, P_REQ), SEV_PAGE_SIZE), 0);
	GT_EXPECT(fw(g->r.t, SEV_CMD_SNP_GUEST_REQUEST, &b), OK);
	TU_CHECK(attest_snp_msg_open(g->vmpck0, 0, ++g->seqno, SEV_SNP_MSG_REPORT_RSP,
				     hva(g, P_RSP), SEV_PAGE_SIZE, &payload, &n, &why) == 0,
		 "response: %s", why.reason);
	TU_CHECK_EQ(get_le32(payload), OK);
	TU_CHECK(attest_snp_report_parse(payload + 0x20, SNP_REPORT_SIZE, SNP_GEN_MILAN, ret,
					 &why) == 0, "report: %s", why.reason);
	TU_CHECK(write_file_atomic(rp, payload + 0x20, SNP_REPORT_SIZE, 0600) == 0, "%s", rp);
	OPENSSL_cleanse(g->vmpck0, sizeof(g->vmpck0));
}

static void guest_down(struct guest *g)
{
	gt_mem_free(&g->m);
	rig_down(&g->r);
}

/* Each byte of [from, to) of the page flipped alone: refused with a status naming why (want
 * when it is not negative), never SUCCESS. Returns how many answered BAD_SIGNATURE. */
static unsigned flip_refused(struct guest *g, unsigned page, size_t from, size_t to,
			     uint64_t flags, int want)
{
	unsigned sig = 0;

	for (size_t off = from; off < to; off++) {
		int st;

		hva(g, page)[off] ^= 0x01;
		st = finish(g, flags);
		hva(g, page)[off] ^= 0x01;
		TU_CHECK(st != OK, "%s byte 0x%zx flipped: SNP_LAUNCH_FINISH accepted it",
			 page == P_IDB ? "ID block" : "ID auth", off);
		TU_CHECK(st == SEV_STATUS_BAD_SIGNATURE || st == SEV_STATUS_BAD_MEASUREMENT ||
				 st == SEV_STATUS_POLICY_FAILURE || st == SEV_STATUS_INVALID_PARAM ||
				 st == SEV_STATUS_UNSUPPORTED,
			 "byte 0x%zx flipped: %s", off, sev_status_name(st));
		TU_CHECK(want < 0 || st == want, "byte 0x%zx flipped: %s, expected %s", off,
			 sev_status_name(st), sev_status_name(want));
		sig += st == SEV_STATUS_BAD_SIGNATURE;
	}
	return sig;
}

/* The ID block (96 bytes, all signed) and the bytes of the ID authentication structure
 * (SNP ABI 56860 table "ID_AUTH", psp/sev-abi.h struct sev_snp_id_auth) that the ABI gives a
 * meaning: both algorithm fields, each signature's R and S (72 bytes each, little endian), the
 * whole ID key (the author key signs all 0x404 bytes of it) and the author key's curve, QX and
 * QY. The reserved bytes (0x08..0x3F, the rest of each signature and of the author key, the
 * areas between and after) are not checked by firmware: flipping one changes nothing signed. */
static void flip_all(struct guest *g, uint64_t both)
{
	static const struct {
		size_t from, to;
		int want;
	} auth[] = { { 0x000, 0x008, SEV_STATUS_INVALID_PARAM },
		     { 0x040, 0x0d0, SEV_STATUS_BAD_SIGNATURE },
		     { 0x240, 0x644, SEV_STATUS_BAD_SIGNATURE },
		     { 0x680, 0x710, SEV_STATUS_BAD_SIGNATURE },
		     { 0x880, 0x914, SEV_STATUS_BAD_SIGNATURE } };

	/* the digest, the version, the policy each have their own status; any refusal will do */
	TU_CHECK(flip_refused(g, P_IDB, 0, 96, both, -1) > 0, "no ID block flip: BAD_SIGNATURE");
	for (size_t i = 0; i < sizeof(auth) / sizeof(auth[0]); i++)
		flip_refused(g, P_AUTH, auth[i].from, auth[i].to, both, auth[i].want);
}

/* One launch: the report's MEASUREMENT is sevadm's digest; with id_block, sevadm's ID block
 * is taken, every flipped byte refused first, and the key digests reported. */
static void launch(const struct fwimg *f, const char *type, unsigned vcpus, bool id_block)
{
	const uint64_t both = SEV_SNP_FINISH_ID_BLOCK_EN | SEV_SNP_FINISH_AUTH_KEY_EN;
	_cleanup_free_ char *hex = NULL;
	struct id_digests kd;
	struct snp_report r;
	struct guest g;
	uint8_t want[48];

	sevadm_digest(type, vcpus, want);
	guest_up(&g, f);
	launch_pages(&g, f, type, vcpus);
	if (id_block) {
		sevadm_id_block(&g, want, &kd);
		flip_all(&g, both);
		GT_EXPECT(finish(&g, both), OK);
	} else {
		GT_EXPECT(finish(&g, 0), OK);
	}
	report(&g, &r);
	TU_CHECK_MEM(r.measurement, want, 48); /* the emulator's digest = sevadm's offline one */
	sevadm_verify_report(g.r.dir, type, vcpus, 0);
	sevadm_verify_report(g.r.dir, type, vcpus == 1 ? 2 : 1, 1); /* another vCPU count */
	TU_CHECK_EQ(r.policy, POLICY);
	if (id_block) {
		TU_CHECK_MEM(r.id_key_digest, kd.id, 48);
		TU_CHECK_MEM(r.author_key_digest, kd.author, 48);
		TU_CHECK_EQ(r.guest_svn, 7);
		TU_CHECK_EQ(r.family_id[0], 0xf1);
		TU_CHECK_EQ(r.image_id[15], 0x10);
		TU_CHECK(r.key_info & 1, "AUTHOR_KEY_EN in the report");
	}
	hex = hex_encode(want, 48);
	printf("ok: OVMF, %u vCPU %s%s: %s\n", vcpus, type, id_block ? ", ID block" : "", hex);
	guest_down(&g);
}

/* Debian's OVMF.fd has no KERNEL_HASHES section (nor has any OVMF_CODE*.fd it ships): sevadm
 * refuses to measure a kernel, initrd and command line for it, naming the missing section. */
static void kernel_refused(const struct fwimg *f)
{
	char *argv[] = { "/bin/sh", "-c", "\"$0\" measurement build --snp --firmware \"$1\" "
			 "--vcpus 1 --vcpu-type EPYC-Milan --kernel \"$1\" --initrd \"$1\" "
			 "--cmdline console=ttyS0 2>&1", (char *)tu_exe("SEVADM_EXE"), OVMF_PATH,
			 NULL };
	_cleanup_free_ char *out = NULL;
	bool slot = false;
	int st;

	for (size_t i = 0; i < f->o.n_sections; i++)
		slot |= f->o.sections[i].type == ATTEST_OVMF_KERNEL_HASHES;
	if (slot) {
		printf("note: this OVMF has a KERNEL_HASHES slot; its kernel launch is not "
		       "covered here\n");
		return;
	}
	st = tu_run(argv, &out, NULL);
	TU_CHECK(st != 0 && out && strstr(out, "KERNEL_HASHES"),
		 "a kernel without a hashes slot: exit %d: %s", st, out ? out : "");
}

int main(void)
{
	struct fwimg f = { 0 };
	struct attest_verdict v = {};

	if (access(OVMF_PATH, R_OK) != 0)
		tu_skip(OVMF_PATH " is absent (Debian package ovmf, see scripts/deps)");
	f.bytes = tu_read_file(OVMF_PATH, &f.len);
	TU_CHECK(f.bytes && f.len % SEV_PAGE_SIZE == 0, "%s", OVMF_PATH);
	TU_CHECK(attest_ovmf_parse(f.bytes, f.len, &f.o, &v) == 0, "%s", v.reason);
	TU_CHECK(f.o.has_metadata && f.o.n_sections > 0, "no SEV metadata in " OVMF_PATH);
	launch(&f, "EPYC-Milan", 1, true);
	launch(&f, "EPYC-Milan", 4, false);
	launch(&f, "EPYC-Genoa", 1, false);
	launch(&f, "EPYC-Genoa", 4, false);
	kernel_refused(&f);
	free(f.bytes);
	tu_done("test-emu-snp-ovmf");
}
