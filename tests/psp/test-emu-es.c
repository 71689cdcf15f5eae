/* sev-psp-emu, SEV-ES's TMR and LAUNCH_UPDATE_VMSA as AMD's firmware has them (AMD-ASPFW
 * sev_es.c sev_es_reserve_trusted_region, sev_es_init_trusted_region, sev_es_setup_vmsa;
 * pool_u32.c; x86_copy.c validate_address_range; sev_mcmd.c launch_update_common,
 * mcmd_decommission_common): from INIT the TMR is firmware's (INVALID_ADDRESS to commands);
 * each VMSA is measured as the host wrote it, then takes a block of the vCPU pool in the TMR
 * whose CRC address firmware writes into the page (0x388; 0 at 0x380) before encrypting it;
 * 65536 blocks, RESOURCE_LIMIT after, the page measured all the same; DECOMMISSION gives the
 * blocks back to the pool's tail. Runs the real emulator. */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/ossl.h"
#include "psp/commands.h"
#include "tests/psp/test-emu-guest-util.h"

#define TMR_SIZE (1u << 20)
#define POOL_BLOCKS 65536u
#define ES_ASID 5u

static int status_of(int e, int pr)
{
	TU_CHECK(e == 0 || e == -EIO, "command did not reach firmware: %s", strerror(-e));
	return e == 0 ? SEV_STATUS_SUCCESS : pr;
}
#define ST(call)                                                                                   \
	({                                                                                         \
		int pr_ = SEV_STATUS_NO_FW_CALL;                                                   \
		int e_ = (call);                                                                   \
		status_of(e_, pr_);                                                                \
	})
#define PR (&pr_)

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* INIT with SEV-ES on a TMR of our own (its base is what the CRC addresses point into). */
static void es_ready(struct psp_transport *t, struct gt_mem *tmr)
{
	struct sev_cmd_init init = { .flags = SEV_INIT_FLAGS_SEV_ES };

	GT_EXPECT(fw(t, SEV_CMD_SHUTDOWN, NULL), SEV_STATUS_SUCCESS);
	gt_mem_new(t, TMR_SIZE, tmr);
	init.tmr_paddr = tmr->base;
	init.tmr_len = TMR_SIZE;
	GT_EXPECT(fw(t, SEV_CMD_INIT, &init), SEV_STATUS_SUCCESS);
	ctl_ok(t, "wbinvd");
	GT_EXPECT(fw(t, SEV_CMD_DF_FLUSH, NULL), SEV_STATUS_SUCCESS);
}

/* The TMR is firmware's from INIT on, the host's again after SHUTDOWN. */
static void test_tmr_protected(struct psp_transport *t)
{
	struct sev_cmd_get_id id;
	struct gt_mem tmr;

	es_ready(t, &tmr);
	id = (struct sev_cmd_get_id){ tmr.base, SEV_GET_ID_SIZE };
	GT_EXPECT(fw(t, SEV_CMD_GET_ID, &id), SEV_STATUS_INVALID_ADDRESS);
	id = (struct sev_cmd_get_id){ tmr.base + TMR_SIZE - 32, SEV_GET_ID_SIZE }; /* runs in */
	GT_EXPECT(fw(t, SEV_CMD_GET_ID, &id), SEV_STATUS_INVALID_ADDRESS);
	struct sev_cmd_pek_csr csr = { tmr.base + 4096, SEV_CERT_SIZE };
	GT_EXPECT(fw(t, SEV_CMD_PEK_CSR, &csr), SEV_STATUS_INVALID_ADDRESS);
	GT_EXPECT(fw(t, SEV_CMD_SHUTDOWN, NULL), SEV_STATUS_SUCCESS);
	id = (struct sev_cmd_get_id){ tmr.base, SEV_GET_ID_SIZE };
	GT_EXPECT(fw(t, SEV_CMD_GET_ID, &id), SEV_STATUS_SUCCESS);
	gt_mem_free(&tmr);
}

/* One LAUNCH_UPDATE_VMSA of the page at off, hashing the host's bytes into md first. */
static int vmsa(struct psp_transport *t, uint32_t h, const struct gt_mem *m, size_t off,
		EVP_MD_CTX *md)
{
	TU_CHECK(EVP_DigestUpdate(md, m->ptr + off, SEV_VMSA_SIZE) == 1, "digest");
	return ST(psp_cmd_launch_update_vmsa(t, h, m->base + off, SEV_VMSA_SIZE, PR));
}

static void launch_digest(struct psp_transport *t, uint32_t h, uint8_t ret[32])
{
	struct sev_attestation_report rep;
	uint8_t blob[SEV_MEASURE_BLOB_SIZE], mnonce[16] = { 7 };

	GT_EXPECT(ST(psp_cmd_launch_measure(t, h, blob, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_attestation(t, h, mnonce, &rep, PR)), SEV_STATUS_SUCCESS);
	memcpy(ret, rep.launch_digest, 32);
}

static void test_vmsa_pool(struct psp_transport *t)
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *mda = EVP_MD_CTX_new(), *mdb = EVP_MD_CTX_new();
	static uint8_t orig[2 * SEV_VMSA_SIZE], back[SEV_VMSA_SIZE];
	uint8_t want[32], got[32];
	struct gt_mem tmr, m;
	uint64_t crc0;
	uint32_t a = 0, b = 0, n;

	TU_CHECK(mda && mdb && EVP_DigestInit_ex(mda, EVP_sha256(), NULL) == 1 &&
			 EVP_DigestInit_ex(mdb, EVP_sha256(), NULL) == 1,
		 "digests");
	es_ready(t, &tmr);
	crc0 = tmr.base + TMR_SIZE / 2;
	gt_mem_new(t, 4 * SEV_VMSA_SIZE, &m);
	TU_CHECK(RAND_bytes(orig, sizeof(orig)) == 1, "RAND_bytes");
	memset(orig + 0x380, 0xaa, 16); /* the reserved quadwords firmware fills */
	memcpy(m.ptr, orig, sizeof(orig));
	GT_EXPECT(gt_launch(t, SEV_POLICY_ES, NULL, NULL, &a), SEV_STATUS_SUCCESS);
	GT_EXPECT(gt_launch(t, SEV_POLICY_ES, NULL, NULL, &b), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_activate(t, a, ES_ASID, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_activate(t, b, ES_ASID + 1, PR)), SEV_STATUS_SUCCESS);

	/* two VMSAs of a: blocks 0 and 1; the guest sees their CRC addresses, the rest as given */
	GT_EXPECT(vmsa(t, a, &m, 0, mda), SEV_STATUS_SUCCESS);
	GT_EXPECT(vmsa(t, a, &m, SEV_VMSA_SIZE, mda), SEV_STATUS_SUCCESS);
	for (int i = 0; i < 2; i++) {
		GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, a, m.base + i * SEV_VMSA_SIZE, back, sizeof(back),
						 PR)),
			  SEV_STATUS_SUCCESS);
		TU_CHECK_EQ(le64_at(back + 0x380), 0);
		TU_CHECK_EQ(le64_at(back + 0x388), crc0 + 8 * i);
		TU_CHECK_MEM(back, orig + i * SEV_VMSA_SIZE, 0x380);
		TU_CHECK_MEM(back + 0x390, orig + i * SEV_VMSA_SIZE + 0x390, SEV_VMSA_SIZE - 0x390);
	}
	/* the measurement is of the pages as the host wrote them */
	TU_CHECK(EVP_DigestFinal_ex(mda, want, NULL) == 1, "digest");
	launch_digest(t, a, got);
	TU_CHECK_MEM(got, want, 32);

	/* b takes the other 65534 blocks; one more is RESOURCE_LIMIT, measured all the same */
	for (n = 2; n < POOL_BLOCKS; n++)
		GT_EXPECT(vmsa(t, b, &m, 2 * SEV_VMSA_SIZE, mdb), SEV_STATUS_SUCCESS);
	GT_EXPECT(vmsa(t, b, &m, 2 * SEV_VMSA_SIZE, mdb), SEV_STATUS_RESOURCE_LIMIT);
	/* a's DECOMMISSION gives blocks 0 and 1 back; b's next VMSA gets block 0 */
	GT_EXPECT(ST(psp_cmd_deactivate(t, a, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_decommission(t, a, PR)), SEV_STATUS_SUCCESS);
	memcpy(m.ptr + 3 * SEV_VMSA_SIZE, orig, SEV_VMSA_SIZE);
	GT_EXPECT(vmsa(t, b, &m, 3 * SEV_VMSA_SIZE, mdb), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, b, m.base + 3 * SEV_VMSA_SIZE, back, sizeof(back), PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(le64_at(back + 0x388), crc0);
	TU_CHECK(EVP_DigestFinal_ex(mdb, want, NULL) == 1, "digest");
	launch_digest(t, b, got);
	TU_CHECK_MEM(got, want, 32);
	GT_EXPECT(fw(t, SEV_CMD_SHUTDOWN, NULL), SEV_STATUS_SUCCESS);
	gt_mem_free(&m);
	gt_mem_free(&tmr);
}

int main(void)
{
	struct emu_rig r;

	rig_up(&r, NULL);
	test_tmr_protected(r.t);
	test_vmsa_pool(r.t);
	rig_down(&r);
	tu_done("emu-es");
}
