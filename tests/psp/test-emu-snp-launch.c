/* sev-psp-emu --snp, an SNP guest launch through the emu transport: the
 * RMP and the host's RMPUPDATE, SNP_GCTX_CREATE, SNP_LAUNCH_START (policy), SNP_ACTIVATE (the
 * ASID split: SNP guests take ASIDs below MIN_SEV_ASID), SNP_LAUNCH_UPDATE with every page type
 * (NORMAL, VMSA, ZERO, UNMEASURED, SECRETS, CPUID; 4 KiB and 2 MiB), SNP_LAUNCH_FINISH with an
 * ID block signed by an ID key and an author key, SNP_GUEST_STATUS, SNP_DECOMMISSION and
 * SNP_PAGE_RECLAIM, the host's RMPUPDATE of a range of pages in one CTL line (`pages=N`), and
 * the misuse cases by status name.
 *
 * The launch digest is computed here independently (the PAGE_INFO chaining of the SNP ABI,
 * written from the spec's table and virtee/sev's gctx.rs, with OpenSSL's SHA-384) and checked
 * by the emulator itself: LAUNCH_FINISH compares the ID block's digest with its own and answers
 * BAD_MEASUREMENT on any difference. Runs the real emulator. */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ossl.h"
#include "common/util.h"
#include "tests/psp/test-emu-snp-util.h"

#define OK SEV_STATUS_SUCCESS
#define PAGES 32u
#define MB2 (2u << 20)
#define POLICY 0x30000ull /* SMT allowed, bit 17 set: what QEMU passes by default */

/* ---- the independent launch digest ---- */
static uint8_t ld[48];

static void ld_update(uint8_t type, uint64_t gpa, const uint8_t contents[48])
{
	uint8_t pi[0x70] = { 0 };
	unsigned len = 48;

	memcpy(pi, ld, 48);
	memcpy(pi + 0x30, contents, 48);
	pi[0x60] = 0x70; /* LENGTH, u16 */
	pi[0x62] = type;
	/* IMI_PAGE, VMPL permissions: all zero here */
	put_le64(pi + 0x68, gpa);
	TU_CHECK(EVP_Digest(pi, sizeof(pi), ld, &len, EVP_sha384(), NULL) == 1, "sha384");
}

static void ld_page(uint8_t type, uint64_t gpa, const uint8_t *page)
{
	uint8_t c[48] = { 0 };
	unsigned len = 48;

	if (page) /* NORMAL and VMSA: SHA-384 of the page; the other types: 48 zero bytes */
		TU_CHECK(EVP_Digest(page, SEV_PAGE_SIZE, c, &len, EVP_sha384(), NULL) == 1, "sha");
	ld_update(type, gpa, c);
}

/* ---- ID key, author key: AMD-format public keys and signatures (own code) ---- */
static void le_bn(EVP_PKEY *k, const char *name, uint8_t out[72])
{
	BIGNUM *b = NULL;

	TU_CHECK(EVP_PKEY_get_bn_param(k, name, &b) == 1, "%s", name);
	TU_CHECK(BN_bn2lebinpad(b, out, 72) == 72, "bn");
	BN_free(b);
}

static void amd_pubkey(EVP_PKEY *k, uint8_t out[0x404])
{
	memset(out, 0, 0x404);
	put_le32(out, 2); /* P-384 */
	le_bn(k, OSSL_PKEY_PARAM_EC_PUB_X, out + 4);
	le_bn(k, OSSL_PKEY_PARAM_EC_PUB_Y, out + 4 + 72);
}

static void amd_sign(EVP_PKEY *k, const void *data, size_t len, uint8_t out[0x200])
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t der[160];
	const uint8_t *p = der;
	size_t n = sizeof(der);
	ECDSA_SIG *sig;

	TU_CHECK(c && EVP_DigestSignInit(c, NULL, EVP_sha384(), NULL, k) == 1 &&
			 EVP_DigestSign(c, der, &n, data, len) == 1, "sign");
	sig = d2i_ECDSA_SIG(NULL, &p, (long)n);
	TU_CHECK(sig, "der");
	memset(out, 0, 0x200);
	TU_CHECK(BN_bn2lebinpad(ECDSA_SIG_get0_r(sig), out, 72) == 72 &&
			 BN_bn2lebinpad(ECDSA_SIG_get0_s(sig), out + 72, 72) == 72, "r s");
	ECDSA_SIG_free(sig);
}

/* ---- the host's side ---- */
struct host {
	struct psp_transport *t;
	struct gt_mem m; /* page 0: status page (firmware), 1..: contexts and guest pages */
};

static uint64_t pa(const struct host *h, unsigned page)
{
	return h->m.base + (uint64_t)page * SEV_PAGE_SIZE;
}

static int update(struct host *h, uint64_t gctx, uint64_t addr, unsigned type, bool big)
{
	struct sev_snp_cmd_launch_update b = { .gctx_paddr = gctx,
					       .flags = SEV_SNP_UPDATE_FLAGS(type, big, false),
					       .address = addr };

	return fw(h->t, SEV_CMD_SNP_LAUNCH_UPDATE, &b);
}

/* KVM's order for a launch page: RMPUPDATE to Pre-Guest (rmp_make_private(..., true)). */
static void private_page(struct host *h, uint64_t addr, uint32_t asid, uint64_t gpa, bool big)
{
	int e = snp_rmpupdate(h->t, "0x%llx,assigned=1,asid=%u,gpa=0x%llx,immutable=1,size=%s",
			      (unsigned long long)addr, asid, (unsigned long long)gpa,
			      big ? "2m" : "4k");

	TU_CHECK(e == 0, "rmpupdate 0x%llx: %s", (unsigned long long)addr, strerror(-e));
}

static uint64_t new_guest(struct host *h, unsigned page)
{
	struct sev_snp_cmd_addr b = { pa(h, page) };

	snp_fw_page(h->t, b.address);
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_GCTX_CREATE, &b), OK);
	TU_CHECK(strcmp(snp_rmp_state(h->t, b.address), "CONTEXT") == 0, "context page");
	return b.address;
}

static int launch_start(struct host *h, uint64_t gctx, uint64_t policy, uint32_t flags)
{
	struct sev_snp_cmd_launch_start b = { .gctx_paddr = gctx, .policy = policy,
					      .flags = flags };

	return fw(h->t, SEV_CMD_SNP_LAUNCH_START, &b);
}

static int activate(struct host *h, uint64_t gctx, uint32_t asid)
{
	struct sev_snp_cmd_activate b = { gctx, asid };

	return fw(h->t, SEV_CMD_SNP_ACTIVATE, &b);
}

static void test_create_start(struct host *h)
{
	struct sev_snp_cmd_addr b = { pa(h, 1) + 8 };
	uint64_t g;

	GT_EXPECT(fw(h->t, SEV_CMD_SNP_GCTX_CREATE, &b), SEV_STATUS_INVALID_PARAM);
	b.address = pa(h, 1);
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_GCTX_CREATE, &b), SEV_STATUS_INVALID_PAGE_STATE); /* HV */
	b.address = h->m.base + h->m.size;
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_GCTX_CREATE, &b), SEV_STATUS_INVALID_ADDRESS);
	g = new_guest(h, 1);
	b.address = g;
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_GCTX_CREATE, &b), SEV_STATUS_INVALID_PAGE_STATE); /* taken */
	GT_EXPECT(launch_start(h, pa(h, 2), POLICY, 0), SEV_STATUS_INVALID_GUEST); /* no context */
	GT_EXPECT(launch_start(h, g, 0x10000, 0), SEV_STATUS_POLICY_FAILURE); /* bit 17 clear */
	GT_EXPECT(launch_start(h, g, 0x20000, 0), SEV_STATUS_POLICY_FAILURE); /* SMT refused */
	GT_EXPECT(launch_start(h, g, POLICY | (1ull << 22), 0), SEV_STATUS_POLICY_FAILURE);
	GT_EXPECT(launch_start(h, g, POLICY | 0x0200, 0), SEV_STATUS_POLICY_FAILURE); /* ABI 2.0 */
	GT_EXPECT(launch_start(h, g, POLICY, SEV_SNP_START_MA_EN), SEV_STATUS_UNSUPPORTED);
	GT_EXPECT(launch_start(h, g, POLICY, 1u << 2), SEV_STATUS_INVALID_PARAM);
	GT_EXPECT(launch_start(h, g, POLICY | 0x0137, 0), OK); /* needs ABI 1.55 at least */
	GT_EXPECT(launch_start(h, g, POLICY, 0), SEV_STATUS_INVALID_GUEST_STATE);
}

/* SEV guests beside SNP ones (SEV INIT after SNP_INIT): one ASID, one guest, either way. */
static void test_sev_beside(struct host *h, uint64_t g2)
{
	struct sev_cmd_init init = { 0 };
	struct sev_cmd_launch_start ls = { .policy = 0 }; /* plain SEV: ASIDs 100.. */
	struct sev_cmd_activate a;

	GT_EXPECT(fw(h->t, SEV_CMD_INIT, &init), OK);
	ctl_ok(h->t, "wbinvd"); /* INIT marks every ASID dirty again */
	GT_EXPECT(fw(h->t, SEV_CMD_DF_FLUSH, NULL), OK);
	GT_EXPECT(fw(h->t, SEV_CMD_LAUNCH_START, &ls), OK);
	a = (struct sev_cmd_activate){ ls.handle, 1 }; /* the SNP guest g1 holds ASID 1 */
	GT_EXPECT(fw(h->t, SEV_CMD_ACTIVATE, &a), SEV_STATUS_ASID_OWNED);
	a.asid = SNP_MIN_SEV_ASID;
	GT_EXPECT(fw(h->t, SEV_CMD_ACTIVATE, &a), OK);
	/* an SEV guest holds 100: owned comes before the SNP range check */
	GT_EXPECT(activate(h, g2, SNP_MIN_SEV_ASID), SEV_STATUS_ASID_OWNED);
	GT_EXPECT(fw(h->t, SEV_CMD_SHUTDOWN, NULL), OK);	 /* SEV guests gone; SNP's stay */
	TU_CHECK(strcmp(snp_rmp_state(h->t, g2), "CONTEXT") == 0, "SNP guest kept");
}

/* SNP guests are SEV-ES guests for the ASID split: 1..MIN_SEV_ASID-1 only. */
static void test_activate(struct host *h, uint64_t g1, uint64_t g2)
{
	GT_EXPECT(activate(h, g2, 1), SEV_STATUS_INVALID_GUEST_STATE); /* g2 not launched */
	GT_EXPECT(launch_start(h, g2, POLICY, 0), OK);
	GT_EXPECT(activate(h, g1, 0), SEV_STATUS_INVALID_ASID);
	GT_EXPECT(activate(h, g1, SNP_MIN_SEV_ASID), SEV_STATUS_INVALID_ASID);
	GT_EXPECT(activate(h, g1, 510), SEV_STATUS_INVALID_ASID);
	GT_EXPECT(activate(h, g1, 1), OK);
	GT_EXPECT(activate(h, g2, 1), SEV_STATUS_ASID_OWNED);
	GT_EXPECT(activate(h, g1, 2), SEV_STATUS_ACTIVE);
	test_sev_beside(h, g2);
	GT_EXPECT(activate(h, g2, SNP_MIN_SEV_ASID - 1), OK);
}

/* Misuse of SNP_LAUNCH_UPDATE, each by its status; none changes the digest. */
static void test_update_misuse(struct host *h, uint64_t g1, uint64_t g3)
{
	GT_EXPECT(update(h, g1, pa(h, 8), SEV_SNP_PAGE_NORMAL, false),
		  SEV_STATUS_INVALID_PAGE_STATE); /* still the host's */
	private_page(h, pa(h, 8), SNP_MIN_SEV_ASID - 1, 0x8000, false); /* g2's ASID */
	GT_EXPECT(update(h, g1, pa(h, 8), SEV_SNP_PAGE_NORMAL, false),
		  SEV_STATUS_INVALID_PAGE_OWNER);
	GT_EXPECT(update(h, g1, pa(h, 8), SEV_SNP_PAGE_NORMAL, true), SEV_STATUS_INVALID_PAGE_SIZE);
	GT_EXPECT(update(h, g1, pa(h, 8), 0, false), SEV_STATUS_INVALID_PARAM);
	GT_EXPECT(update(h, g1, pa(h, 8), 7, false), SEV_STATUS_INVALID_PARAM);
	GT_EXPECT(update(h, g3, pa(h, 8), SEV_SNP_PAGE_NORMAL, false),
		  SEV_STATUS_INVALID_GUEST_STATE);
	/* a Pre-Guest page is immutable: the host cannot take it back ... */
	TU_CHECK_EQ(snp_rmpupdate(h->t, "0x%llx,assigned=0", (unsigned long long)pa(h, 8)), -EPERM);
	/* ... until SNP_PAGE_RECLAIM makes it Guest-Invalid */
	struct sev_snp_cmd_addr r = { pa(h, 8) | 1 };
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_PAGE_RECLAIM, &r), SEV_STATUS_INVALID_PAGE_SIZE);
	r.address = pa(h, 8);
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_PAGE_RECLAIM, &r), OK);
	TU_CHECK(strcmp(snp_rmp_state(h->t, pa(h, 8)), "GUEST_INVALID") == 0, "reclaimed");
	TU_CHECK_EQ(snp_rmpupdate(h->t, "0x%llx,assigned=0", (unsigned long long)pa(h, 8)), 0);
	r.address = g1; /* a context page stays until DECOMMISSION */
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_PAGE_RECLAIM, &r), SEV_STATUS_INVALID_PAGE_STATE);
}

/* A CPUID page with one function, Fn8000_001F, claiming the given EAX. */
static void cpuid_page(uint8_t *p, uint32_t eax)
{
	memset(p, 0, SEV_PAGE_SIZE);
	put_le32(p, 1);
	put_le32(p + 16, 0x8000001F);
	put_le32(p + 16 + 24, eax);
	put_le32(p + 16 + 28, 0x73);
	put_le32(p + 16 + 32, 509);
	put_le32(p + 16 + 36, 100);
}

/* Function i of a CPUID page: leaf, subleaf and the four output registers. */
static void cpuid_fn(uint8_t *p, unsigned i, uint32_t leaf, uint32_t eax, uint32_t ebx,
		     uint32_t ecx, uint32_t edx)
{
	uint8_t *f = p + 16 + 48 * i;

	put_le32(f, leaf);
	put_le32(f + 24, eax);
	put_le32(f + 28, ebx);
	put_le32(f + 32, ecx);
	put_le32(f + 36, edx);
}

/* The CPUID page check over every leaf it covers (AMD-ASPFW sanitize_cpuid_list): one page
 * with a bad value in each of Fn8000_001F, Fn0000_0000 and Fn0000_0001 has all three corrected
 * in the page written back; a hypervisor leaf (0x4000_0000, outside both ranges) is left as
 * given; a function's reserved word is refused without a correction. */
static void test_cpuid_leaves(struct host *h, uint64_t g1, uint8_t *page, uint64_t addr)
{
	cpuid_page(page, 0x3f);
	put_le32(page, 4);
	cpuid_fn(page, 1, 0x00000000, 0x20, 0x68747541, 0x444D4163, 0x69746E65); /* max leaf */
	cpuid_fn(page, 2, 0x00000001, 0x00B00F21, 0, 0, 0); /* a Turin FMS on a Milan part */
	cpuid_fn(page, 3, 0x40000000, 0xdeadbeef, 1, 2, 3);
	GT_EXPECT(update(h, g1, addr, SEV_SNP_PAGE_CPUID, false), SEV_STATUS_INVALID_PARAM);
	TU_CHECK_EQ(get_le32(page + 16 + 24), 0x1f);
	TU_CHECK_EQ(get_le32(page + 16 + 28), 0x73); /* a right EBX stays */
	/* Fn8000_001F EBX: C-bit 50 (the platform's is 51), 5 VMPLs, bit 16 → 51, 4 VMPLs, 0;
	 * ECX and EDX are not checked by firmware (AMD-ASPFW FN8000001F_CUSTOM) */
	cpuid_fn(page, 0, 0x8000001F, 0x1f, 0x15072, 1000, 7);
	GT_EXPECT(update(h, g1, addr, SEV_SNP_PAGE_CPUID, false), SEV_STATUS_INVALID_PARAM);
	TU_CHECK_EQ(get_le32(page + 16 + 28), 0x4073);
	TU_CHECK_EQ(get_le32(page + 16 + 32), 1000);
	TU_CHECK_EQ(get_le32(page + 16 + 36), 7);
	TU_CHECK_EQ(get_le32(page + 64 + 24), 0x10);
	TU_CHECK_EQ(get_le32(page + 64 + 28), 0x68747541); /* unchecked, kept */
	TU_CHECK_EQ(get_le32(page + 112 + 24), 0x00A00F10); /* Milan B0's */
	TU_CHECK_EQ(get_le32(page + 160 + 24), 0xdeadbeef);
	/* the corrected page passes but for a reserved word, which is not "corrected" */
	cpuid_fn(page, 2, 0x00000001, 0x00A00F00, 0, 0, 0); /* an older stepping: allowed */
	put_le64(page + 64 + 40, 1);
	GT_EXPECT(update(h, g1, addr, SEV_SNP_PAGE_CPUID, false), SEV_STATUS_INVALID_PARAM);
	TU_CHECK_EQ(get_le64(page + 64 + 40), 1);
	TU_CHECK_EQ(get_le32(page + 112 + 24), 0x00A00F00);
	cpuid_fn(page, 2, 0x00000001, 0xF0A00F10, 0, 0, 0); /* reserved EAX bits 31:28 */
	put_le64(page + 64 + 40, 0);
	GT_EXPECT(update(h, g1, addr, SEV_SNP_PAGE_CPUID, false), SEV_STATUS_INVALID_PARAM);
	TU_CHECK_EQ(get_le32(page + 112 + 24), 0x00A00F10);
}

/* Every page type; the independent digest follows each successful update. */
static void test_updates(struct host *h, uint64_t g1)
{
	uint8_t *page;
	unsigned i;

	memset(ld, 0, sizeof(ld));
	for (i = 0; i < 2; i++) { /* NORMAL at GPA 0x0 and 0x1000 */
		page = h->m.ptr + (size_t)(10 + i) * SEV_PAGE_SIZE;
		for (unsigned k = 0; k < SEV_PAGE_SIZE; k++)
			page[k] = (uint8_t)(k * 7 + i);
		private_page(h, pa(h, 10 + i), 1, 0x1000ull * i, false);
		ld_page(SEV_SNP_PAGE_NORMAL, 0x1000ull * i, page);
		GT_EXPECT(update(h, g1, pa(h, 10 + i), SEV_SNP_PAGE_NORMAL, false), OK);
		TU_CHECK(strcmp(snp_rmp_state(h->t, pa(h, 10 + i)), "GUEST_VALID") == 0, "valid");
	}
	/* encrypted in place: the host no longer sees the plaintext */
	TU_CHECK(h->m.ptr[10 * SEV_PAGE_SIZE + 1] != 7 || h->m.ptr[10 * SEV_PAGE_SIZE + 2] != 14,
		 "page 10 still plaintext");
	GT_EXPECT(update(h, g1, pa(h, 10), SEV_SNP_PAGE_NORMAL, false),
		  SEV_STATUS_INVALID_PAGE_STATE);
	private_page(h, pa(h, 12), 1, 0x2000, false); /* ZERO: the host's bytes are ignored */
	memset(h->m.ptr + 12 * SEV_PAGE_SIZE, 0x5a, SEV_PAGE_SIZE);
	ld_page(SEV_SNP_PAGE_ZERO, 0x2000, NULL);
	GT_EXPECT(update(h, g1, pa(h, 12), SEV_SNP_PAGE_ZERO, false), OK);
	private_page(h, pa(h, 13), 1, 0x3000, false);
	ld_page(SEV_SNP_PAGE_UNMEASURED, 0x3000, NULL);
	GT_EXPECT(update(h, g1, pa(h, 13), SEV_SNP_PAGE_UNMEASURED, false), OK);
	private_page(h, pa(h, 14), 1, 0x4000, false);
	ld_page(SEV_SNP_PAGE_SECRETS, 0x4000, NULL);
	GT_EXPECT(update(h, g1, pa(h, 14), SEV_SNP_PAGE_SECRETS, false), OK);
	/* CPUID: a feature the platform lacks is refused and the page corrected in place */
	page = h->m.ptr + 15 * SEV_PAGE_SIZE;
	cpuid_page(page, 0x3f);
	private_page(h, pa(h, 15), 1, 0x5000, false);
	GT_EXPECT(update(h, g1, pa(h, 15), SEV_SNP_PAGE_CPUID, false), SEV_STATUS_INVALID_PARAM);
	TU_CHECK_EQ(get_le32(page + 16 + 24), 0x1f);
	test_cpuid_leaves(h, g1, page, pa(h, 15));
	ld_page(SEV_SNP_PAGE_CPUID, 0x5000, NULL);
	GT_EXPECT(update(h, g1, pa(h, 15), SEV_SNP_PAGE_CPUID, false), OK);
	/* VMSA: measured with GUEST_TSC_SCALE/OFFSET (0x2F0, 0x2F8) as zero, at KVM's VMSA GPA */
	page = h->m.ptr + 16 * SEV_PAGE_SIZE;
	memset(page, 0x11, SEV_PAGE_SIZE);
	{
		uint8_t m[SEV_PAGE_SIZE];

		memcpy(m, page, sizeof(m));
		memset(m + 0x2F0, 0, 16);
		ld_page(SEV_SNP_PAGE_VMSA, SEV_SNP_VMSA_GPA, m);
	}
	private_page(h, pa(h, 16), 1, SEV_SNP_VMSA_GPA, false);
	GT_EXPECT(update(h, g1, pa(h, 16), SEV_SNP_PAGE_VMSA, false), OK);
	TU_CHECK(strstr(snp_rmp_state(h->t, pa(h, 16)), "GUEST_VALID"), "vmsa page valid");
	/* a 2 MiB NORMAL page: 512 PAGE_INFOs of 4 KiB, GPAs in order */
	page = h->m.ptr + MB2;
	for (unsigned k = 0; k < MB2; k += 64)
		page[k] = (uint8_t)(k >> 12);
	GT_EXPECT(update(h, g1, h->m.base + MB2, SEV_SNP_PAGE_VMSA, true),
		  SEV_STATUS_INVALID_PAGE_STATE);
	private_page(h, h->m.base + MB2, 1, 0x200000, true);
	GT_EXPECT(update(h, g1, h->m.base + MB2, SEV_SNP_PAGE_VMSA, true),
		  SEV_STATUS_INVALID_PAGE_SIZE);
	for (unsigned u = 0; u < 512; u++)
		ld_page(SEV_SNP_PAGE_NORMAL, 0x200000ull + u * SEV_PAGE_SIZE,
			page + (size_t)u * SEV_PAGE_SIZE);
	GT_EXPECT(update(h, g1, h->m.base + MB2, SEV_SNP_PAGE_NORMAL, true), OK);
}

struct id_keys {
	EVP_PKEY *id, *author;
};

/* The ID block for ld_want with the policy, signed by the ID key, whose public key is signed
 * by the author key; at pages 20 (block) and 21 (auth). */
static void id_block(struct host *h, const struct id_keys *k, const uint8_t ld_want[48],
		     uint64_t policy)
{
	struct sev_snp_id_block *blk = (void *)(h->m.ptr + 20 * SEV_PAGE_SIZE);
	struct sev_snp_id_auth *auth = (void *)(h->m.ptr + 21 * SEV_PAGE_SIZE);

	memset(blk, 0, sizeof(*blk));
	memcpy(blk->ld, ld_want, 48);
	memset(blk->family_id, 0xf1, 16);
	memset(blk->image_id, 0x1d, 16);
	blk->version = 1;
	blk->guest_svn = 7;
	blk->policy = policy;
	memset(auth, 0, sizeof(*auth));
	auth->id_key_algo = auth->auth_key_algo = 1;
	amd_pubkey(k->id, auth->id_key);
	amd_sign(k->id, blk, sizeof(*blk), auth->id_block_sig);
	amd_pubkey(k->author, auth->author_key);
	amd_sign(k->author, auth->id_key, sizeof(auth->id_key), auth->id_key_sig);
}

static int finish(struct host *h, uint64_t g, uint64_t flags)
{
	struct sev_snp_cmd_launch_finish b = { .gctx_paddr = g, .id_block_paddr = pa(h, 20),
					       .id_auth_paddr = pa(h, 21), .flags = flags };

	memset(b.host_data, 0x4d, sizeof(b.host_data));
	return fw(h->t, SEV_CMD_SNP_LAUNCH_FINISH, &b);
}

static void test_finish(struct host *h, uint64_t g1)
{
	const uint64_t both = SEV_SNP_FINISH_ID_BLOCK_EN | SEV_SNP_FINISH_AUTH_KEY_EN;
	struct id_keys k = { EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"),
			     EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384") };
	struct sev_snp_id_auth *auth = (void *)(h->m.ptr + 21 * SEV_PAGE_SIZE);
	struct sev_snp_cmd_guest_status gs = { g1, pa(h, 0) };
	struct sev_snp_guest_status *out = (void *)h->m.ptr;
	uint8_t wrong[48];

	TU_CHECK(k.id && k.author, "keygen");
	memcpy(wrong, ld, 48);
	wrong[47] ^= 1;
	id_block(h, &k, wrong, POLICY | 0x0137);
	GT_EXPECT(finish(h, g1, both), SEV_STATUS_BAD_MEASUREMENT); /* one bit of the digest */
	id_block(h, &k, ld, POLICY);
	GT_EXPECT(finish(h, g1, both), SEV_STATUS_POLICY_FAILURE);
	id_block(h, &k, ld, POLICY | 0x0137);
	auth->id_block_sig[3] ^= 1;
	GT_EXPECT(finish(h, g1, both), SEV_STATUS_BAD_SIGNATURE);
	id_block(h, &k, ld, POLICY | 0x0137);
	auth->id_key_sig[3] ^= 1;
	GT_EXPECT(finish(h, g1, both), SEV_STATUS_BAD_SIGNATURE); /* the author key's */
	GT_EXPECT(finish(h, g1, SEV_SNP_FINISH_AUTH_KEY_EN), SEV_STATUS_INVALID_PARAM);
	GT_EXPECT(finish(h, g1, 1ull << 3), SEV_STATUS_INVALID_PARAM);
	id_block(h, &k, ld, POLICY | 0x0137);
	GT_EXPECT(finish(h, g1, both), OK); /* the emulator's digest is the one computed here */
	GT_EXPECT(finish(h, g1, both), SEV_STATUS_INVALID_GUEST_STATE);
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_GUEST_STATUS, &gs), OK);
	TU_CHECK_EQ(out->state, SEV_SNP_GSTATE_RUNNING);
	TU_CHECK_EQ(out->asid, 1);
	TU_CHECK_EQ(out->policy, POLICY | 0x0137);
	EVP_PKEY_free(k.id);
	EVP_PKEY_free(k.author);
}

/* RMPUPDATE back to the hypervisor (Linux rmp_make_shared). */
static int shared(struct host *h, uint64_t addr)
{
	return snp_rmpupdate(h->t, "0x%llx,assigned=0", (unsigned long long)addr);
}

static int dbg(struct host *h, uint32_t cmd, uint64_t g, unsigned src, unsigned dst)
{
	struct sev_snp_cmd_dbg b = { g, pa(h, src), pa(h, dst) };

	return fw(h->t, cmd, &b);
}

/* SNP_DBG_DECRYPT / ENCRYPT for a guest whose policy allows debugging (g3, ASID 1): a launched
 * page reads back as its plaintext into a Firmware page; a page the debugger encrypts reads
 * back the same; POLICY.DEBUG clear (g2) answers POLICY_FAILURE. */
static void test_dbg(struct host *h, uint64_t g3)
{
	uint8_t *plain = h->m.ptr + 22 * SEV_PAGE_SIZE;

	for (unsigned k = 0; k < SEV_PAGE_SIZE; k++)
		plain[k] = (uint8_t)(k ^ 0x5c);
	memcpy(h->m.ptr + 10 * SEV_PAGE_SIZE, plain, SEV_PAGE_SIZE);
	private_page(h, pa(h, 10), 1, 0, false);
	GT_EXPECT(update(h, g3, pa(h, 10), SEV_SNP_PAGE_NORMAL, false), OK);
	TU_CHECK(memcmp(h->m.ptr + 10 * SEV_PAGE_SIZE, plain, SEV_PAGE_SIZE) != 0, "encrypted");
	GT_EXPECT(dbg(h, SEV_CMD_SNP_DBG_DECRYPT, g3, 10, 23), SEV_STATUS_INVALID_PAGE_STATE);
	snp_fw_page(h->t, pa(h, 23));
	GT_EXPECT(dbg(h, SEV_CMD_SNP_DBG_DECRYPT, g3, 10, 23), OK);
	TU_CHECK_MEM(h->m.ptr + 23 * SEV_PAGE_SIZE, plain, SEV_PAGE_SIZE);
	GT_EXPECT(dbg(h, SEV_CMD_SNP_DBG_DECRYPT, g3, 11, 23), SEV_STATUS_INVALID_PAGE_STATE);
	/* encrypt into a Pre-Guest page, reclaim it (Guest-Invalid), decrypt it back */
	private_page(h, pa(h, 11), 1, 0x1000, false);
	GT_EXPECT(dbg(h, SEV_CMD_SNP_DBG_ENCRYPT, g3, 22, 11), OK);
	TU_CHECK(memcmp(h->m.ptr + 11 * SEV_PAGE_SIZE, plain, SEV_PAGE_SIZE) != 0, "encrypted");
	struct sev_snp_cmd_addr rc = { pa(h, 11) };
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_PAGE_RECLAIM, &rc), OK);
	memset(h->m.ptr + 23 * SEV_PAGE_SIZE, 0, SEV_PAGE_SIZE);
	GT_EXPECT(dbg(h, SEV_CMD_SNP_DBG_DECRYPT, g3, 11, 23), OK);
	TU_CHECK_MEM(h->m.ptr + 23 * SEV_PAGE_SIZE, plain, SEV_PAGE_SIZE);
	GT_EXPECT(dbg(h, SEV_CMD_SNP_DBG_ENCRYPT, g3, 22, 11), SEV_STATUS_INVALID_PAGE_STATE);
	/* g2 (context page 2, ASID 99) was launched without POLICY.DEBUG */
	private_page(h, pa(h, 12), SNP_MIN_SEV_ASID - 1, 0, false);
	GT_EXPECT(dbg(h, SEV_CMD_SNP_DBG_ENCRYPT, pa(h, 2), 22, 12), SEV_STATUS_POLICY_FAILURE);
	GT_EXPECT(dbg(h, SEV_CMD_SNP_DBG_ENCRYPT, g3, 22, 12), SEV_STATUS_INVALID_PAGE_OWNER);
	rc.address = pa(h, 12);
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_PAGE_RECLAIM, &rc), OK);
	for (unsigned p = 10; p <= 12; p++)
		TU_CHECK_EQ(shared(h, pa(h, p)), 0);
}

/* SNP_PAGE_UNSMASH: 512 matching 4 KiB guest entries of the second 2 MiB become one. */
static void test_unsmash(struct host *h)
{
	struct sev_snp_cmd_addr b = { h->m.base + MB2 + SEV_PAGE_SIZE };
	char *st;

	GT_EXPECT(fw(h->t, SEV_CMD_SNP_PAGE_UNSMASH, &b), SEV_STATUS_INVALID_PARAM); /* unaligned */
	b.address = h->m.base + MB2;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t gpa = 0x400000 + (uint64_t)(i == 300 ? 0 : i) * SEV_PAGE_SIZE;

		TU_CHECK_EQ(snp_rmpupdate(h->t, "0x%llx,assigned=1,asid=7,gpa=0x%llx",
					  (unsigned long long)(b.address + i * SEV_PAGE_SIZE),
					  (unsigned long long)gpa),
			    0);
	}
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_PAGE_UNSMASH, &b), SEV_STATUS_INVALID_PAGE_STATE);
	TU_CHECK_EQ(snp_rmpupdate(h->t, "0x%llx,assigned=1,asid=7,gpa=0x%llx",
				  (unsigned long long)(b.address + 300 * SEV_PAGE_SIZE),
				  (unsigned long long)(0x400000 + 300 * SEV_PAGE_SIZE)), 0);
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_PAGE_UNSMASH, &b), OK);
	st = (char *)snp_rmp_state(h->t, b.address + 77 * SEV_PAGE_SIZE);
	TU_CHECK(strcmp(st, "GUEST_INVALID") == 0, "%s", st);
	TU_CHECK_EQ(snp_rmpupdate(h->t, "0x%llx,assigned=0,size=2m",
				  (unsigned long long)b.address),
		    0);
}

/* The GPA the RMP holds for the page at addr (CTL `rmp`). */
static uint64_t rmp_gpa(struct host *h, uint64_t addr)
{
	_cleanup_free_ uint8_t *reply = NULL;
	char line[64];
	const char *g;

	snprintf(line, sizeof(line), "rmp 0x%llx", (unsigned long long)addr);
	TU_CHECK_EQ(psp_emu_ctl(h->t, line, &reply, NULL), 0);
	g = strstr((const char *)reply, "gpa=");
	TU_CHECK(g, "rmp reply without gpa: %s", reply);
	return strtoull(g + 4, NULL, 16);
}

/* `rmpupdate ...,pages=N`: N consecutive 4 KiB pages, the GPA advancing with them, every page
 * checked before any changes (a refused line changes nothing); 4 KiB pages only. */
static void test_rmp_pages(struct host *h)
{
	uint64_t b = pa(h, 256); /* pages no other test touches, in 4 KiB entries */

	TU_CHECK_EQ(snp_rmpupdate(h->t, "0x%llx,assigned=1,asid=9,gpa=0x800000,immutable=1,pages=8",
				  (unsigned long long)b),
		    0);
	for (unsigned i = 0; i < 8; i++) {
		TU_CHECK(strcmp(snp_rmp_state(h->t, b + i * SEV_PAGE_SIZE), "PRE_GUEST") == 0,
			 "page %u of the range: %s", i, snp_rmp_state(h->t, b + i * SEV_PAGE_SIZE));
		TU_CHECK_EQ(rmp_gpa(h, b + i * SEV_PAGE_SIZE), 0x800000ull + i * SEV_PAGE_SIZE);
	}
	TU_CHECK(strcmp(snp_rmp_state(h->t, b + 8 * SEV_PAGE_SIZE), "HYPERVISOR") == 0,
		 "the page after the range: %s", snp_rmp_state(h->t, b + 8 * SEV_PAGE_SIZE));
	/* page 20 immutable: pages=8 from 16 is refused whole, 16..19 untouched */
	snp_fw_page(h->t, b + 20 * SEV_PAGE_SIZE);
	TU_CHECK_EQ(snp_rmpupdate(h->t, "0x%llx,assigned=1,asid=9,gpa=0x810000,immutable=1,pages=8",
				  (unsigned long long)(b + 16 * SEV_PAGE_SIZE)),
		    -EPERM);
	for (unsigned i = 16; i < 20; i++)
		TU_CHECK(strcmp(snp_rmp_state(h->t, b + i * SEV_PAGE_SIZE), "HYPERVISOR") == 0,
			 "page %u before the refused one: %s", i,
			 snp_rmp_state(h->t, b + i * SEV_PAGE_SIZE));
	TU_CHECK_EQ(snp_rmpupdate(h->t, "0x%llx,assigned=0,size=2m,pages=2",
				  (unsigned long long)b),
		    -EINVAL);
	TU_CHECK_EQ(snp_rmpupdate(h->t, "0x%llx,assigned=0,pages=0",
				  (unsigned long long)(b + 16 * SEV_PAGE_SIZE)),
		    -EINVAL);
	TU_CHECK_EQ(snp_rmpupdate(h->t, "0x%llx,assigned=0,pages=4096", (unsigned long long)b),
		    -EINVAL); /* past the mapped memory */
	TU_CHECK(strcmp(snp_rmp_state(h->t, b), "PRE_GUEST") == 0, "refused lines changed nothing");
}

static void test_decommission(struct host *h, uint64_t g1, uint64_t g3)
{
	struct sev_snp_cmd_addr d = { g1 };
	struct sev_snp_platform_status ps;

	GT_EXPECT(snp_platform_status(h->t, &h->m, 0, &ps), OK);
	TU_CHECK_EQ(ps.guest_count, 2); /* g1, g2 launched; g3 only created */
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_DECOMMISSION, &d), OK);
	TU_CHECK(strcmp(snp_rmp_state(h->t, g1), "FIRMWARE") == 0, "context page back");
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_DECOMMISSION, &d), SEV_STATUS_INVALID_GUEST);
	GT_EXPECT(snp_platform_status(h->t, &h->m, 0, &ps), OK);
	TU_CHECK_EQ(ps.guest_count, 1);
	/* ASID 1 ran: its pages are still assigned to it, and it is dirty */
	GT_EXPECT(launch_start(h, g3, POLICY | SEV_SNP_POLICY_DEBUG, 0), OK);
	GT_EXPECT(activate(h, g3, 1), SEV_STATUS_INVALID_CONFIG);
	for (unsigned p = 10; p <= 16; p++)
		TU_CHECK_EQ(shared(h, pa(h, p)), 0);
	TU_CHECK_EQ(snp_rmpupdate(h->t, "0x%llx,assigned=0,size=2m",
				  (unsigned long long)(h->m.base + MB2)), 0);
	GT_EXPECT(activate(h, g3, 1), SEV_STATUS_DFFLUSH_REQUIRED);
	ctl_ok(h->t, "wbinvd");
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_DF_FLUSH, NULL), OK);
	GT_EXPECT(activate(h, g3, 1), OK);
	test_dbg(h, g3);
	d.address = g1; /* the context page can now go back to the host */
	GT_EXPECT(fw(h->t, SEV_CMD_SNP_PAGE_RECLAIM, &d), OK);
	TU_CHECK(strcmp(snp_rmp_state(h->t, g1), "RECLAIM") == 0, "reclaim state");
	TU_CHECK_EQ(snp_rmpupdate(h->t, "0x%llx,assigned=0", (unsigned long long)g1), 0);
}

int main(void)
{
	static const char *const args[] = { "--snp", NULL };
	struct sev_snp_cmd_addr b;
	struct emu_rig r;
	struct host h;
	uint64_t g1, g2, g3;

	rig_up(&r, args);
	h.t = r.t;
	gt_mem_new(r.t, 2 * MB2, &h.m);
	b.address = pa(&h, 1);
	GT_EXPECT(fw(r.t, SEV_CMD_SNP_GCTX_CREATE, &b), SEV_STATUS_INVALID_PLATFORM_STATE);
	snp_ready(r.t);
	snp_fw_page(r.t, pa(&h, 0));
	test_create_start(&h);
	g1 = pa(&h, 1);
	g2 = new_guest(&h, 2);
	g3 = new_guest(&h, 3);
	GT_EXPECT(update(&h, g2, pa(&h, 9), SEV_SNP_PAGE_NORMAL, false),
		  SEV_STATUS_INVALID_PAGE_STATE);
	test_activate(&h, g1, g2);
	test_update_misuse(&h, g1, g3);
	test_updates(&h, g1);
	test_finish(&h, g1);
	test_decommission(&h, g1, g3);
	test_unsmash(&h);
	test_rmp_pages(&h);
	gt_mem_free(&h.m);
	rig_down(&r);
	tu_done("test-emu-snp-launch");
}
