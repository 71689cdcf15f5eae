/* sev-psp-emu, platform commands through the emu transport: every command in every platform
 * state (table below, SEV-FACTS.md §4 checked against AMD-ASPFW sev_mcmd.c), the length-query
 * convention, address checks, INIT's SEV-ES TMR checks, DF_FLUSH's WBINVD rule, the Milan
 * defaults. Runs the real emulator process. */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "attest/sev-cert.h"
#include "common/ossl.h"
#include "psp/commands.h"
#include "tests/psp/test-emu-util.h"

#define U SEV_PSTATE_UNINIT
#define I SEV_PSTATE_INIT
#define W SEV_PSTATE_WORKING
#define OK SEV_STATUS_SUCCESS
#define IPS SEV_STATUS_INVALID_PLATFORM_STATE
#define SAME (-1)

/* Expected status and platform state afterwards, per starting state (UNINIT, INIT, WORKING). */
static const struct row {
	uint32_t cmd;
	int status[3];
	int after[3];
} state_table[] = {
	{ SEV_CMD_INIT, { OK, IPS, IPS }, { I, SAME, SAME } },
	{ SEV_CMD_INIT_EX, { OK, IPS, IPS }, { I, SAME, SAME } },
	{ SEV_CMD_SHUTDOWN, { OK, OK, OK }, { U, U, U } },
	{ SEV_CMD_FACTORY_RESET, { OK, IPS, IPS }, { SAME, SAME, SAME } },
	{ SEV_CMD_PLATFORM_STATUS, { OK, OK, OK }, { SAME, SAME, SAME } },
	{ SEV_CMD_PEK_GEN, { IPS, OK, IPS }, { SAME, SAME, SAME } },
	{ SEV_CMD_PEK_CSR, { IPS, OK, OK }, { SAME, SAME, SAME } },
	/* zeroed certificates: past the state check, the OCA does not parse */
	{ SEV_CMD_PEK_CERT_IMPORT,
	  { IPS, SEV_STATUS_INVALID_CERTIFICATE, IPS },
	  { SAME, SAME, SAME } },
	{ SEV_CMD_PDH_CERT_EXPORT, { IPS, OK, OK }, { SAME, SAME, SAME } },
	{ SEV_CMD_PDH_GEN, { IPS, OK, OK }, { SAME, SAME, SAME } },
	{ SEV_CMD_GET_ID, { OK, OK, OK }, { SAME, SAME, SAME } },
	{ SEV_CMD_DF_FLUSH, { OK, OK, OK }, { SAME, SAME, SAME } }, /* after CTL wbinvd */
	{ SEV_CMD_NOP, { OK, OK, OK }, { SAME, SAME, SAME } },	    /* sev_mcmd_nop */
};

/* A well-formed buffer for cmd whose addresses point at big enough DMA memory. */
static void build_buf(uint32_t cmd, uint8_t *buf, const struct psp_buf *a, const struct psp_buf *b)
{
	memset(buf, 0, 64);
	switch (cmd) {
	case SEV_CMD_INIT_EX:
		((struct sev_cmd_init_ex *)buf)->length = sizeof(struct sev_cmd_init_ex);
		break;
	case SEV_CMD_PEK_CSR:
		*(struct sev_cmd_pek_csr *)buf = (struct sev_cmd_pek_csr){ a->addr, SEV_CERT_SIZE };
		break;
	case SEV_CMD_PEK_CERT_IMPORT:
		memset(a->ptr, 0, a->size);
		*(struct sev_cmd_pek_cert_import *)buf = (struct sev_cmd_pek_cert_import){
			.pek_cert_address = a->addr, .pek_cert_len = SEV_CERT_SIZE,
			.oca_cert_address = b->addr, .oca_cert_len = SEV_CERT_SIZE };
		break;
	case SEV_CMD_PDH_CERT_EXPORT:
		*(struct sev_cmd_pdh_cert_export *)buf = (struct sev_cmd_pdh_cert_export){
			.pdh_cert_address = a->addr, .pdh_cert_len = SEV_CERT_SIZE,
			.cert_chain_address = b->addr, .cert_chain_len = SEV_CERT_CHAIN_SIZE };
		break;
	case SEV_CMD_GET_ID:
		*(struct sev_cmd_get_id *)buf = (struct sev_cmd_get_id){ a->addr, SEV_GET_ID_SIZE };
		break;
	}
}

static void test_state_table(struct psp_transport *t)
{
	struct psp_buf a, b;
	uint8_t buf[64];

	TU_CHECK_EQ(psp_dma_alloc(t, SEV_CERT_CHAIN_SIZE, &a), 0);
	TU_CHECK_EQ(psp_dma_alloc(t, SEV_CERT_CHAIN_SIZE, &b), 0);
	for (size_t i = 0; i < ELEMENTSOF(state_table); i++) {
		const struct row *row = &state_table[i];

		for (int s = U; s <= W; s++) {
			int got, want = row->status[s];

			/* every column runs: WORKING is INIT + LAUNCH_START, which the emulator
			 * implements (it used to skip this column quietly) */
			TU_CHECK(to_state(t, s), "%s: cannot reach %s", sev_cmd_name(row->cmd),
				 sev_platform_state_name(s));
			if (row->cmd == SEV_CMD_DF_FLUSH)
				ctl_ok(t, "wbinvd");
			build_buf(row->cmd, buf, &a, &b);
			got = fw(t, row->cmd, sev_cmd_buffer_size(row->cmd) ? buf : NULL);
			TU_CHECK(got == want, "%s in %s: firmware answered %s, expected %s",
				 sev_cmd_name(row->cmd), sev_platform_state_name(s),
				 sev_status_name(got), sev_status_name(want));
			TU_CHECK_EQ(platform_status(t).state, row->after[s] == SAME ? s : row->after[s]);
		}
	}
	psp_dma_free(t, &a);
	psp_dma_free(t, &b);
}

static void test_defaults(struct psp_transport *t)
{
	struct psp_cpuid c;
	struct emu_info info;
	struct sev_cmd_platform_status ps;

	TU_CHECK_EQ(psp_get_cpuid(t, &c), 0);
	TU_CHECK_EQ(c.eax, 0xf); /* SME, SEV, PageFlushMsr, SEV-ES */
	TU_CHECK_EQ(c.ebx & 0x3f, 51);
	TU_CHECK_EQ((c.ebx >> 6) & 0x3f, 1);
	TU_CHECK_EQ(c.ecx, 509);
	TU_CHECK_EQ(c.edx, 100);
	TU_CHECK_EQ(strcmp(psp_transport_kind(t), "emu"), 0);
	TU_CHECK_EQ(to_state(t, U), true);
	ps = platform_status(t);
	TU_CHECK_EQ(ps.api_major, 1);
	TU_CHECK_EQ(ps.api_minor, 55);
	TU_CHECK_EQ(ps.build, 21);
	TU_CHECK_EQ(ps.state, SEV_PSTATE_UNINIT);
	TU_CHECK_EQ(ps.flags, 0);
	TU_CHECK_EQ(ps.guest_count, 0);
	TU_CHECK_EQ(psp_emu_info(t, &info), 0);
	TU_CHECK_EQ(info.cpuid_ecx, 509);
	TU_CHECK_EQ(info.api_minor, 55);
	TU_CHECK(info.commands_served > 0, "commands counted");
}

/* PEK_CSR, PDH_CERT_EXPORT, GET_ID: too small → INVALID_LEN with the needed length. */
static void test_length_queries(struct psp_transport *t)
{
	struct sev_cmd_pek_csr csr = { 0, 0 };
	struct sev_cmd_pdh_cert_export ex = { 0 };
	struct sev_cmd_get_id id = { 0, 0 };
	struct psp_buf a;

	TU_CHECK(to_state(t, I), "INIT");
	CHECK_STATUS(fw(t, SEV_CMD_PEK_CSR, &csr), SEV_STATUS_INVALID_LEN);
	TU_CHECK_EQ(csr.len, SEV_CERT_SIZE);
	csr.len = SEV_CERT_SIZE - 1;
	CHECK_STATUS(fw(t, SEV_CMD_PEK_CSR, &csr), SEV_STATUS_INVALID_LEN);
	TU_CHECK_EQ(csr.len, SEV_CERT_SIZE);
	CHECK_STATUS(fw(t, SEV_CMD_PDH_CERT_EXPORT, &ex), SEV_STATUS_INVALID_LEN);
	TU_CHECK_EQ(ex.pdh_cert_len, SEV_CERT_SIZE);
	TU_CHECK_EQ(ex.cert_chain_len, SEV_CERT_CHAIN_SIZE);
	ex.cert_chain_len = SEV_CERT_CHAIN_SIZE - 1; /* pdh big enough, chain not */
	CHECK_STATUS(fw(t, SEV_CMD_PDH_CERT_EXPORT, &ex), SEV_STATUS_INVALID_LEN);
	TU_CHECK_EQ(ex.cert_chain_len, SEV_CERT_CHAIN_SIZE);
	CHECK_STATUS(fw(t, SEV_CMD_GET_ID, &id), SEV_STATUS_INVALID_LEN);
	TU_CHECK_EQ(id.len, SEV_GET_ID_SIZE);
	/* room for two sockets: one socket's 64 bytes, and the length says so */
	TU_CHECK_EQ(psp_dma_alloc(t, 128, &a), 0);
	memset(a.ptr, 0xee, 128);
	id = (struct sev_cmd_get_id){ a.addr, 128 };
	CHECK_STATUS(fw(t, SEV_CMD_GET_ID, &id), OK);
	TU_CHECK_EQ(id.len, SEV_GET_ID_SIZE);
	TU_CHECK(((uint8_t *)a.ptr)[64] == 0xee, "nothing written past 64 bytes");
	psp_dma_free(t, &a);
}

/* An address outside every mapped region, or running off the end of one. */
static void test_invalid_address(struct psp_transport *t)
{
	struct psp_buf a;
	uint64_t bad[] = { 0, 1ull << 20, 0xffffffffffff0000ull, 0 /* filled: region end */ };
	struct sev_cmd_pek_csr csr;
	struct sev_cmd_get_id id;
	struct sev_cmd_pdh_cert_export ex;
	struct sev_cmd_pek_cert_import im;

	TU_CHECK(to_state(t, I), "INIT");
	TU_CHECK_EQ(psp_dma_alloc(t, (16 << 20) + 1, &a), -ENOMEM); /* larger than the region */
	TU_CHECK_EQ(psp_dma_alloc(t, SEV_CERT_CHAIN_SIZE, &a), 0);
	bad[3] = a.addr - (a.addr & ((1ull << 40) - 1)) + (16 << 20) - 32;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		csr = (struct sev_cmd_pek_csr){ bad[i], SEV_CERT_SIZE };
		CHECK_STATUS(fw(t, SEV_CMD_PEK_CSR, &csr), SEV_STATUS_INVALID_ADDRESS);
		id = (struct sev_cmd_get_id){ bad[i], SEV_GET_ID_SIZE };
		CHECK_STATUS(fw(t, SEV_CMD_GET_ID, &id), SEV_STATUS_INVALID_ADDRESS);
		ex = (struct sev_cmd_pdh_cert_export){ a.addr, SEV_CERT_SIZE, 0, bad[i],
						       SEV_CERT_CHAIN_SIZE };
		CHECK_STATUS(fw(t, SEV_CMD_PDH_CERT_EXPORT, &ex), SEV_STATUS_INVALID_ADDRESS);
		im = (struct sev_cmd_pek_cert_import){ a.addr, SEV_CERT_SIZE, 0, bad[i],
						       SEV_CERT_SIZE };
		CHECK_STATUS(fw(t, SEV_CMD_PEK_CERT_IMPORT, &im), SEV_STATUS_INVALID_ADDRESS);
	}
	psp_dma_free(t, &a);
}

/* INIT with SEV-ES needs a 1 MiB, 1 MiB-aligned TMR in mapped memory (sev_es.c). */
static void test_init_es(struct psp_transport *t)
{
	int fd = memfd_create("tmr", MFD_CLOEXEC);
	struct sev_cmd_init init = { .flags = SEV_INIT_FLAGS_SEV_ES };
	uint64_t base;

	TU_CHECK(fd >= 0 && ftruncate(fd, 2 << 20) == 0, "memfd");
	TU_CHECK_EQ(psp_map_memfd(t, fd, 2 << 20, &base), 0);
	TU_CHECK(to_state(t, U), "UNINIT");
	init.tmr_paddr = base + 4096, init.tmr_len = 1 << 20;
	CHECK_STATUS(fw(t, SEV_CMD_INIT, &init), SEV_STATUS_INVALID_ADDRESS);
	init.tmr_paddr = base, init.tmr_len = 4096;
	CHECK_STATUS(fw(t, SEV_CMD_INIT, &init), SEV_STATUS_INVALID_LEN);
	init.tmr_paddr = base + (8ull << 30), init.tmr_len = 1 << 20; /* aligned, unmapped */
	CHECK_STATUS(fw(t, SEV_CMD_INIT, &init), SEV_STATUS_INVALID_ADDRESS);
	TU_CHECK_EQ(platform_status(t).state, U);
	init.tmr_paddr = base + (1 << 20);
	CHECK_STATUS(fw(t, SEV_CMD_INIT, &init), OK);
	TU_CHECK_EQ(platform_status(t).flags, SEV_PLATFORM_FLAG_CONFIG_ES);
	/* UNINIT hides CONFIG.ES */
	CHECK_STATUS(fw(t, SEV_CMD_SHUTDOWN, NULL), OK);
	TU_CHECK_EQ(platform_status(t).flags, 0);
	TU_CHECK_EQ(psp_unmap_memfd(t, base), 0);
	TU_CHECK_EQ(psp_unmap_memfd(t, base), -ENOENT);
	close(fd);
}

static void test_init_ex(struct psp_transport *t)
{
	struct sev_cmd_init_ex ex = { .length = 35 };
	struct psp_buf nv;

	TU_CHECK(to_state(t, U), "UNINIT");
	CHECK_STATUS(fw(t, SEV_CMD_INIT_EX, &ex), SEV_STATUS_INVALID_LEN);
	TU_CHECK_EQ(psp_dma_alloc(t, 32 * 1024, &nv), 0);
	ex = (struct sev_cmd_init_ex){ .length = sizeof(ex), .nv_paddr = nv.addr + 16,
				       .nv_len = 32 * 1024 };
	CHECK_STATUS(fw(t, SEV_CMD_INIT_EX, &ex), SEV_STATUS_INVALID_ADDRESS);
	ex.nv_paddr = nv.addr, ex.nv_len = 4096;
	CHECK_STATUS(fw(t, SEV_CMD_INIT_EX, &ex), SEV_STATUS_INVALID_LEN);
	ex.nv_len = 32 * 1024;
	CHECK_STATUS(fw(t, SEV_CMD_INIT_EX, &ex), OK);
	TU_CHECK_EQ(platform_status(t).state, I);
	psp_dma_free(t, &nv);
}

/* INIT_EX with SEV-ES: a TMR overlapping the host NV buffer is INVALID_ADDRESS, judged on the
 * TMR's full 1 MiB before its length is checked (AMD-ASPFW sev_mcmd.c sev_mcmd_init_common). */
static void test_init_ex_tmr_overlap(struct psp_transport *t)
{
	const uint64_t M = 1 << 20, nvlen = 32 * 1024;
	int fd = memfd_create("tmr-nv", MFD_CLOEXEC);
	struct sev_cmd_init_ex ex = { .length = sizeof(ex), .flags = SEV_INIT_FLAGS_SEV_ES,
				      .tmr_len = 1 << 20, .nv_len = 32 * 1024 };
	const struct {
		uint64_t tmr, tmr_len, nv;
		int want;
	} cases[] = {
		{ M, M, M + 64 * 1024, SEV_STATUS_INVALID_ADDRESS },	/* NV inside the TMR */
		{ M, M, M - 16 * 1024, SEV_STATUS_INVALID_ADDRESS },	/* NV runs into it */
		{ M, M, 2 * M - 4096, SEV_STATUS_INVALID_ADDRESS },	/* NV from its last page */
		{ M, 4096, M + 8192, SEV_STATUS_INVALID_ADDRESS },	/* overlap beats a bad length */
		{ M, 4096, 2 * M + 8192, SEV_STATUS_INVALID_LEN },	/* no overlap: the length */
		{ M, M, M - nvlen, OK },				/* NV ends where it starts */
		{ M, M, 2 * M, OK },					/* NV right after it */
	};
	uint64_t base;

	TU_CHECK(fd >= 0 && ftruncate(fd, 4 << 20) == 0, "memfd");
	TU_CHECK_EQ(psp_map_memfd(t, fd, 4 << 20, &base), 0);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		TU_CHECK(to_state(t, U), "UNINIT");
		ex.tmr_paddr = base + cases[i].tmr;
		ex.tmr_len = (uint32_t)cases[i].tmr_len;
		ex.nv_paddr = base + cases[i].nv;
		TU_CHECK(fw(t, SEV_CMD_INIT_EX, &ex) == cases[i].want, "case %zu: expected %s", i,
			 sev_status_name(cases[i].want));
		TU_CHECK_EQ(platform_status(t).state, cases[i].want == OK ? I : U);
	}
	TU_CHECK(to_state(t, U), "UNINIT");
	TU_CHECK_EQ(psp_unmap_memfd(t, base), 0);
	close(fd);
}

/* INIT and INIT_EX: a flag other than CONFIG.ES, or a non-zero reserved byte, is
 * INVALID_CONFIG (AMD-ASPFW sev_mcmd.c init_cmd_buf_valid, init_ex_cmd_buf_valid), checked
 * after the platform state and, for INIT_EX, before its length field; the platform stays
 * UNINIT. */
static void test_init_flags(struct psp_transport *t)
{
	static const struct {
		uint32_t flags, reserved;
	} bad[] = { { 0x2, 0 }, { 0x8000, 0 }, { 0x10000, 0 }, { 0x80000001u, 0 },
		    { 0, 1 },	{ 1, 0x01000000u } };
	struct sev_cmd_init init;
	struct sev_cmd_init_ex ex;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		TU_CHECK(to_state(t, U), "UNINIT");
		init = (struct sev_cmd_init){ .flags = bad[i].flags, .reserved = bad[i].reserved };
		CHECK_STATUS(fw(t, SEV_CMD_INIT, &init), SEV_STATUS_INVALID_CONFIG);
		/* a wrong length field as well: the buffer check comes first */
		ex = (struct sev_cmd_init_ex){ .length = 35, .flags = bad[i].flags,
					       .reserved = bad[i].reserved };
		CHECK_STATUS(fw(t, SEV_CMD_INIT_EX, &ex), SEV_STATUS_INVALID_CONFIG);
		TU_CHECK_EQ(platform_status(t).state, U);
	}
	/* the state check comes before the buffer's */
	TU_CHECK(to_state(t, I), "INIT");
	init = (struct sev_cmd_init){ .flags = 0x2 };
	CHECK_STATUS(fw(t, SEV_CMD_INIT, &init), SEV_STATUS_INVALID_PLATFORM_STATE);
	ex = (struct sev_cmd_init_ex){ .length = sizeof(ex), .reserved = 1 };
	CHECK_STATUS(fw(t, SEV_CMD_INIT_EX, &ex), SEV_STATUS_INVALID_PLATFORM_STATE);
}

/* DF_FLUSH answers WBINVD_REQUIRED unless every core did WBINVD since INIT cleared the flags;
 * the host says so with CTL `wbinvd`. */
static void test_df_flush(struct psp_transport *t)
{
	TU_CHECK(to_state(t, I), "INIT");
	CHECK_STATUS(fw(t, SEV_CMD_DF_FLUSH, NULL), SEV_STATUS_WBINVD_REQUIRED);
	ctl_ok(t, "wbinvd");
	CHECK_STATUS(fw(t, SEV_CMD_DF_FLUSH, NULL), OK);
	CHECK_STATUS(fw(t, SEV_CMD_DF_FLUSH, NULL), OK);
	TU_CHECK(to_state(t, I), "INIT again");
	CHECK_STATUS(fw(t, SEV_CMD_DF_FLUSH, NULL), SEV_STATUS_WBINVD_REQUIRED);
}

/* PDH_GEN replaces the PDH only; PEK_GEN replaces OCA, PEK and PDH; the CSR is the PEK body. */
static void test_key_rotation(struct psp_transport *t)
{
	_cleanup_free_ uint8_t *pdh1 = NULL, *ch1 = NULL, *pdh2 = NULL, *ch2 = NULL, *pdh3 = NULL,
			       *ch3 = NULL, *csr = NULL;
	size_t l1, l2, l3, l4, l5, l6, lc;
	const struct sev_cert *c;

	TU_CHECK(to_state(t, I), "INIT");
	TU_CHECK_EQ(psp_cmd_pdh_cert_export(t, &pdh1, &l1, &ch1, &l2, NULL), 0);
	TU_CHECK_EQ(l1, SEV_CERT_SIZE);
	TU_CHECK_EQ(l2, SEV_CERT_CHAIN_SIZE);
	CHECK_STATUS(fw(t, SEV_CMD_PDH_GEN, NULL), OK);
	TU_CHECK_EQ(psp_cmd_pdh_cert_export(t, &pdh2, &l3, &ch2, &l4, NULL), 0);
	TU_CHECK(memcmp(pdh1, pdh2, SEV_CERT_SIZE) != 0, "PDH_GEN made a new PDH");
	TU_CHECK_MEM(ch1, ch2, SEV_CERT_CHAIN_SIZE); /* PEK, OCA, CEK unchanged */
	CHECK_STATUS(fw(t, SEV_CMD_PEK_GEN, NULL), OK);
	TU_CHECK_EQ(psp_cmd_pdh_cert_export(t, &pdh3, &l5, &ch3, &l6, NULL), 0);
	TU_CHECK(memcmp(pdh2, pdh3, SEV_CERT_SIZE) != 0, "PEK_GEN made a new PDH");
	TU_CHECK(memcmp(ch2, ch3, SEV_CERT_SIZE) != 0, "PEK_GEN made a new PEK");
	TU_CHECK(memcmp(ch2 + SEV_CERT_SIZE, ch3 + SEV_CERT_SIZE, SEV_CERT_SIZE) != 0, "new OCA");
	TU_CHECK_MEM(ch2 + 2 * SEV_CERT_SIZE, ch3 + 2 * SEV_CERT_SIZE, SEV_CERT_SIZE); /* CEK */
	TU_CHECK_EQ(psp_cmd_pek_csr(t, &csr, &lc, NULL), 0);
	TU_CHECK_EQ(lc, SEV_CERT_SIZE);
	TU_CHECK_MEM(csr, ch3, SEV_CERT_SIGNED_LEN);
	c = (const struct sev_cert *)csr;
	TU_CHECK(c->sig[0].usage == SEV_USAGE_NONE && c->sig[1].usage == SEV_USAGE_NONE &&
			 c->sig[0].algo == 0 && c->sig[1].algo == 0,
		 "CSR carries no signature");
	c = (const struct sev_cert *)(ch3 + 2 * SEV_CERT_SIZE);
	TU_CHECK(c->pubkey_usage == SEV_USAGE_CEK && c->sig[0].usage == SEV_USAGE_NONE,
		 "the exported CEK is unsigned, as firmware exports it");
}

/* GET_ID: 64 bytes, stable, a point on secp256k1 (the chip-unique key's public half). */
static void test_get_id(struct psp_transport *t)
{
	_cleanup_free_ uint8_t *id1 = NULL, *id2 = NULL;
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	_cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	_cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
	uint8_t pt[65] = { 0x04 };
	size_t l1, l2;

	TU_CHECK(to_state(t, U), "GET_ID works in UNINIT");
	TU_CHECK_EQ(psp_cmd_get_id(t, &id1, &l1, NULL), 0);
	TU_CHECK_EQ(psp_cmd_get_id(t, &id2, &l2, NULL), 0);
	TU_CHECK_EQ(l1, 64);
	TU_CHECK_MEM(id1, id2, 64);
	memcpy(pt + 1, id1, 64);
	TU_CHECK(bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
							  "secp256k1", 0) &&
			 OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 65),
		 "params");
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	TU_CHECK(ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
			 EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) == 1,
		 "GET_ID is an EC point");
	chk = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	TU_CHECK(chk && EVP_PKEY_public_check(chk) == 1, "GET_ID is on secp256k1");
}

/* Command ids this firmware knows but does not implement answer INVALID_COMMAND, as a
 * firmware without their handler does (AMD-ASPFW sev_dispatch.c sev_dispatch_master), in any
 * state; the transport sends them with their spec buffer size (sev_mcmd.h). */
static void test_unimplemented(struct psp_transport *t)
{
	static const uint32_t ids[] = { SEV_CMD_RING_BUFFER, SEV_CMD_SWAP_OUT, SEV_CMD_SWAP_IN };
	uint8_t buf[64] = { 0 };

	for (int s = U; s <= I; s++) {
		TU_CHECK(to_state(t, s), "state");
		for (size_t i = 0; i < ELEMENTSOF(ids); i++)
			CHECK_STATUS(fw(t, ids[i], buf), SEV_STATUS_INVALID_COMMAND);
	}
}

/* DOWNLOAD_FIRMWARE (AMD-ASPFW sev_mcmd.c sev_mcmd_download_firmware): UNINIT only, the image
 * 32-byte aligned, then the emulator's own signed format (CTL firmware-image, dlfw.c): a wrong
 * length INVALID_LEN, a changed or unsigned image BAD_SIGNATURE; a good one becomes the
 * firmware version PLATFORM_STATUS reports. */
static void test_download_firmware(struct psp_transport *t)
{
	_cleanup_free_ uint8_t *img = NULL, *back = NULL;
	struct sev_cmd_platform_status ps = platform_status(t);
	struct sev_cmd_download_firmware d;
	struct psp_buf buf;
	size_t len = 0, blen = 0;

	TU_CHECK_EQ(psp_emu_ctl(t, "firmware-image 1.57 9", &img, &len), 0);
	TU_CHECK(len > 64 && len < 4096, "image of %zu bytes", len);
	TU_CHECK_EQ(psp_dma_alloc(t, 8192, &buf), 0);
	uint8_t *p = buf.ptr;
	memcpy(p, img, len);
	d = (struct sev_cmd_download_firmware){ buf.addr, (uint32_t)len };
	TU_CHECK(to_state(t, I), "INIT");
	CHECK_STATUS(fw(t, SEV_CMD_DOWNLOAD_FIRMWARE, &d), SEV_STATUS_INVALID_PLATFORM_STATE);
	TU_CHECK(to_state(t, U), "UNINIT");
	d.address = buf.addr + 16; /* before anything is read */
	CHECK_STATUS(fw(t, SEV_CMD_DOWNLOAD_FIRMWARE, &d), SEV_STATUS_INVALID_ADDRESS);
	d.address = 0x3000;
	CHECK_STATUS(fw(t, SEV_CMD_DOWNLOAD_FIRMWARE, &d), SEV_STATUS_INVALID_ADDRESS);
	d.address = buf.addr;
	d.len = (uint32_t)len - 1;
	CHECK_STATUS(fw(t, SEV_CMD_DOWNLOAD_FIRMWARE, &d), SEV_STATUS_INVALID_LEN);
	d.len = (uint32_t)len;
	p[70] ^= 1; /* the payload */
	CHECK_STATUS(fw(t, SEV_CMD_DOWNLOAD_FIRMWARE, &d), SEV_STATUS_BAD_SIGNATURE);
	p[70] ^= 1;
	p[13] ^= 1; /* the version it claims */
	CHECK_STATUS(fw(t, SEV_CMD_DOWNLOAD_FIRMWARE, &d), SEV_STATUS_BAD_SIGNATURE);
	p[13] ^= 1;
	memset(p + len - 256, 0, 256); /* unsigned */
	CHECK_STATUS(fw(t, SEV_CMD_DOWNLOAD_FIRMWARE, &d), SEV_STATUS_BAD_SIGNATURE);
	TU_CHECK(platform_status(t).api_minor == ps.api_minor && platform_status(t).build == ps.build,
		 "a refused image changed the version");
	memcpy(buf.ptr, img, len);
	CHECK_STATUS(fw(t, SEV_CMD_DOWNLOAD_FIRMWARE, &d), SEV_STATUS_SUCCESS);
	TU_CHECK(platform_status(t).api_major == 1 && platform_status(t).api_minor == 57 &&
			 platform_status(t).build == 9 && platform_status(t).state == U,
		 "after DOWNLOAD_FIRMWARE: %u.%u build %u", platform_status(t).api_major,
		 platform_status(t).api_minor, platform_status(t).build);
	/* back to the version the emulator started with */
	char line[64];
	snprintf(line, sizeof(line), "firmware-image %u.%u %u", ps.api_major, ps.api_minor, ps.build);
	TU_CHECK_EQ(psp_emu_ctl(t, line, &back, &blen), 0);
	memcpy(buf.ptr, back, blen);
	d.len = (uint32_t)blen;
	CHECK_STATUS(fw(t, SEV_CMD_DOWNLOAD_FIRMWARE, &d), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(platform_status(t).build, ps.build);
	psp_dma_free(t, &buf);
}

int main(void)
{
	struct emu_rig r;
	struct emu_info info;

	rig_up(&r, NULL);
	test_defaults(r.t);
	test_state_table(r.t);
	test_length_queries(r.t);
	test_invalid_address(r.t);
	test_init_es(r.t);
	test_init_ex(r.t);
	test_init_flags(r.t);
	test_init_ex_tmr_overlap(r.t);
	test_df_flush(r.t);
	test_key_rotation(r.t);
	test_get_id(r.t);
	test_unimplemented(r.t);
	test_download_firmware(r.t);
	TU_CHECK_EQ(psp_emu_info(r.t, &info), 0);
	TU_CHECK_EQ(info.max_concurrent_seen, 1); /* one client, one command at a time */
	rig_down(&r);
	tu_done("emu-platform");
}
