/* sev-psp-emu's guest memory model (psp/emu/guest-mem.c, README-guest.md "Guest memory"),
 * against the real emulator process through the emu transport: an image launched in pieces
 * whose boundaries fall inside pages is measured as one SHA-256 over the image; the host's
 * memfd holds no plaintext where firmware wrote and is untouched around it (the bytes after
 * the image in its last page, the pages never launched); DBG_DECRYPT reads across pages the
 * host alone holds (as ciphertext) and pages already in the view; DBG_ENCRYPT of part of a page
 * keeps the rest of the page; the plaintext view handed out by CTL guest-memfd holds the whole
 * image and zeros elsewhere, and reflects a host that changed launched ciphertext before it
 * was made (one garbled block, as with SEV memory); after that the view is authoritative
 * (a VMM's write is what DBG_DECRYPT reads); DECOMMISSION leaves zeros in a view a VMM still
 * maps. All of it twice: host memory that can shrink under the emulator (ciphertext copied in
 * under the SIGBUS guard) and memory the emulator sealed (the cipher writes straight into it),
 * which a shrink is refused for. A guest whose host region was unmapped before its view was
 * made cannot be handed out (guest-memfd -EIO naming the region), and is still decommissioned
 * cleanly. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/macros.h"
#include "psp/commands.h"
#include "tests/psp/test-emu-guest-util.h"

#define PG 4096u
#define MEM_PAGES 16u
#define MEM_SIZE (MEM_PAGES * PG)
#define IMAGE_LEN (10u * PG + 16u) /* ends 16 bytes into page 10 */
#define TAMPER_PAGE 7u

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

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Launch the image in three pieces, boundaries inside pages 1 and 3. */
static void launch_pieces(struct psp_transport *t, uint32_t h, const struct gt_mem *m)
{
	static const uint32_t cut[] = {0, PG + 48, 3 * PG + 32, IMAGE_LEN};

	for (size_t i = 0; i + 1 < ELEMENTSOF(cut); i++)
		GT_EXPECT(
		    ST(psp_cmd_launch_update_data(t, h, m->base + cut[i], cut[i + 1] - cut[i], PR)),
		    SEV_STATUS_SUCCESS);
}

/* The launch digest in the report is SHA-256 over the image as launched. */
static void check_digest(struct psp_transport *t, uint32_t h, const uint8_t *image)
{
	uint8_t blob[SEV_MEASURE_BLOB_SIZE], nonce[16] = {1}, want[32];
	struct sev_attestation_report rep;

	GT_EXPECT(ST(psp_cmd_launch_measure(t, h, blob, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_attestation(t, h, nonce, &rep, PR)), SEV_STATUS_SUCCESS);
	TU_CHECK(EVP_Digest(image, IMAGE_LEN, want, NULL, EVP_sha256(), NULL) == 1, "EVP_Digest");
	TU_CHECK_MEM(rep.launch_digest, want, 32);
}

/* sealable: the memfd allows sealing, as sevd's guest memory does; the emulator seals it
 * against shrinking and its cipher writes straight into it (emu_mem_write_with); else the
 * ciphertext is built aside and copied in under the SIGBUS guard. The model is the same. */
static void test_memory_model(struct emu_rig *r, bool sealable)
{
	struct psp_transport *t = r->t;
	struct gt_mem m;
	uint8_t *host0 = malloc(MEM_SIZE), *image = malloc(MEM_SIZE), back[2 * PG], patch[32];
	uint8_t *view;
	uint32_t h = 0;
	char text[256];
	int fd = -1;

	TU_CHECK(host0 && image, "malloc");
	gt_platform_ready(t, false);
	(sealable ? gt_mem_new_sealable : gt_mem_new)(t, MEM_SIZE, &m);
	/* the emulator sealed what it could: only a sealable memfd can no longer shrink */
	TU_CHECK_EQ(ftruncate(m.fd, MEM_SIZE - PG) == 0 ? 0 : -errno, sealable ? -EPERM : 0);
	if (!sealable)
		TU_CHECK_EQ(ftruncate(m.fd, MEM_SIZE), 0);
	TU_CHECK(RAND_bytes(host0, MEM_SIZE) == 1 && RAND_bytes(patch, sizeof(patch)) == 1, "RAND");
	memcpy(m.ptr, host0, MEM_SIZE);
	memcpy(image, host0, MEM_SIZE); /* the guest's memory as it should be: image, then zeros */
	memset(image + IMAGE_LEN, 0, MEM_SIZE - IMAGE_LEN);

	GT_EXPECT(gt_launch(t, 0, NULL, NULL, &h), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_activate(t, h, GT_MIN_SEV_ASID, PR)), SEV_STATUS_SUCCESS);
	launch_pieces(t, h, &m);
	TU_CHECK(!gt_any_window_in(m.ptr, IMAGE_LEN, image, IMAGE_LEN),
		 "the host memfd holds plaintext of the image");
	TU_CHECK_MEM(m.ptr + IMAGE_LEN, host0 + IMAGE_LEN, MEM_SIZE - IMAGE_LEN);
	check_digest(t, h, image);

	/* across a page the host alone holds and one in the view (page 1 was cut) */
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, m.base + PG - 32, back, PG + 64, PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK_MEM(back, image + PG - 32, PG + 64);
	/* part of a page the host alone holds: the rest of that page stays the image */
	GT_EXPECT(ST(psp_cmd_dbg_encrypt(t, h, patch, m.base + 5 * PG + 1024, sizeof(patch), PR)),
		  SEV_STATUS_SUCCESS);
	memcpy(image + 5 * PG + 1024, patch, sizeof(patch));
	TU_CHECK(!gt_any_window_in(m.ptr, MEM_SIZE, patch, sizeof(patch)),
		 "the host memfd holds the DBG_ENCRYPT plaintext");
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, m.base + 5 * PG, back, 2 * PG, PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK_MEM(back, image + 5 * PG, 2 * PG);
	/* the end of one such page and the start of the next */
	GT_EXPECT(ST(psp_cmd_dbg_encrypt(t, h, patch, m.base + 9 * PG - 16, sizeof(patch), PR)),
		  SEV_STATUS_SUCCESS);
	memcpy(image + 9 * PG - 16, patch, sizeof(patch));
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, m.base + 8 * PG, back, 2 * PG, PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK_MEM(back, image + 8 * PG, 2 * PG);

	/* the host changes one launched block before the CPU side exists */
	m.ptr[TAMPER_PAGE * PG + 64] ^= 0x01;
	GT_EXPECT(ST(psp_cmd_launch_finish(t, h, PR)), SEV_STATUS_SUCCESS);
	TU_CHECK(gt_ctl_memfd(r->emu.socket, h, &fd, text, sizeof(text)) == 0, "guest-memfd: %s",
		 text);
	view = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TU_CHECK(view != MAP_FAILED, "mmap of the plaintext view: %m");
	TU_CHECK_MEM(view, image, TAMPER_PAGE * PG + 64);
	TU_CHECK(memcmp(view + TAMPER_PAGE * PG + 64, image + TAMPER_PAGE * PG + 64, 16) != 0,
		 "a changed ciphertext block decrypted to the image");
	TU_CHECK_MEM(view + TAMPER_PAGE * PG + 80, image + TAMPER_PAGE * PG + 80,
		     IMAGE_LEN - TAMPER_PAGE * PG - 80);
	TU_CHECK(all_zero(view + IMAGE_LEN, MEM_SIZE - IMAGE_LEN),
		 "the view is not zero where nothing was launched");

	/* from now on the view is the guest's memory: a VMM's write, then firmware's */
	memset(view + 12 * PG, 0xc3, 64);
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, m.base + 12 * PG, back, 64, PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK(back[0] == 0xc3 && back[63] == 0xc3, "DBG_DECRYPT does not see the VMM's write");
	GT_EXPECT(ST(psp_cmd_dbg_encrypt(t, h, patch, m.base + 13 * PG + 16, sizeof(patch), PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK_MEM(view + 13 * PG + 16, patch, sizeof(patch));
	TU_CHECK(!gt_any_window_in(m.ptr, MEM_SIZE, patch, sizeof(patch)),
		 "the host memfd holds the DBG_ENCRYPT plaintext");

	GT_EXPECT(ST(psp_cmd_deactivate(t, h, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_decommission(t, h, PR)), SEV_STATUS_SUCCESS);
	TU_CHECK(all_zero(view, MEM_SIZE), "the view still holds plaintext after DECOMMISSION");
	munmap(view, MEM_SIZE);
	close(fd);
	gt_mem_free(&m);
	free(host0);
	free(image);
}

/* The host drops the region while launched pages exist only as its ciphertext. */
static void test_region_gone(struct emu_rig *r)
{
	struct psp_transport *t = r->t;
	struct gt_mem m;
	uint32_t h = 0;
	char text[256];
	int fd = -1;

	gt_platform_ready(t, false);
	gt_mem_new(t, 4 * PG, &m);
	memset(m.ptr, 0x3c, 4 * PG);
	GT_EXPECT(gt_launch(t, 0, NULL, NULL, &h), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_activate(t, h, GT_MIN_SEV_ASID, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_launch_update_data(t, h, m.base, 2 * PG, PR)), SEV_STATUS_SUCCESS);
	uint8_t blob[SEV_MEASURE_BLOB_SIZE];
	GT_EXPECT(ST(psp_cmd_launch_measure(t, h, blob, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_launch_finish(t, h, PR)), SEV_STATUS_SUCCESS);
	TU_CHECK(psp_unmap_memfd(t, m.base) == 0, "unmap the guest's region");
	TU_CHECK(gt_ctl_memfd(r->emu.socket, h, &fd, text, sizeof(text)) == -EIO,
		 "guest-memfd without the host region: %s", text);
	TU_CHECK(strstr(text, "host region") != NULL, "the refusal does not say why: %s", text);
	GT_EXPECT(ST(psp_cmd_deactivate(t, h, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_decommission(t, h, PR)), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_count(t), 0);
	gt_mem_free(&m);
}

int main(void)
{
	struct emu_rig r;

	rig_up(&r, NULL);
	test_memory_model(&r, false);
	test_memory_model(&r, true);
	test_region_gone(&r);
	rig_down(&r);
	tu_done("emu-guest-mem");
}
