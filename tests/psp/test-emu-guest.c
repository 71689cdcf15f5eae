/* sev-psp-emu, guest commands through the emu transport against the real emulator process:
 * a whole launch with a guest owner's session (the measurement and the secret packet made
 * here with OpenSSL alone, independent of attest/, which the emulator uses; the secret
 * injected, the report verified with the exported PEK), the two views of guest memory (the
 * host's memfd holds ciphertext only; CTL guest-memfd hands out the plaintext view), contexts
 * that survive a client reconnect, tampered session blobs and secret packets, NODBG, the ASID
 * rules (ranges, owners, DEACTIVATE → DF_FLUSH → WBINVD), the write-back rules, COPY, C-bit
 * addresses and guests in several regions. Statuses per AMD-ASPFW sev_mcmd.c. */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "attest/sev-report.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "psp/commands.h"
#include "psp/psp-emu.h"
#include "tests/psp/test-emu-guest-util.h"

#define IMAGE_SIZE (64u * 1024u)
#define SECRET_OFF IMAGE_SIZE /* the secret page follows the image */
#define MEM_SIZE (IMAGE_SIZE + 4096u)
#define POLICY_OWNER (SEV_POLICY_NODBG | SEV_POLICY_NOKS)

static const char secret_text[] = "sevd-guest-secret-0123456789abcdef-xyz!!"; /* 40 bytes + NUL */

static int status_of(int e, int pr)
{
	TU_CHECK(e == 0 || e == -EIO, "command did not reach firmware: %s", strerror(-e));
	return e == 0 ? SEV_STATUS_SUCCESS : pr;
}

/* Status of a command issued through a typed wrapper. */
#define ST(call)                                                                                   \
	({                                                                                         \
		int pr_ = SEV_STATUS_NO_FW_CALL;                                                   \
		int e_ = (call);                                                                   \
		status_of(e_, pr_);                                                                \
	})
#define PR (&pr_)

static void sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
	TU_CHECK(EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL) == 1, "EVP_Digest");
}

/* HMAC-SHA256 under key over the concatenation of parts (OpenSSL's EVP_MAC directly: these
 * checks must not share code with attest/, which the emulator itself uses). */
static void hmac(const uint8_t *key, size_t klen, const uint8_t *const *parts, const size_t *lens,
		 size_t n, uint8_t out[32])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
				OSSL_PARAM_construct_end() };
	size_t got = 0;
	bool ok = c && EVP_MAC_init(c, key, klen, params) == 1;

	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_MAC_update(c, parts[i], lens[i]) == 1;
	ok = ok && EVP_MAC_final(c, out, &got, 32) == 1 && got == 32;
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(mac);
	TU_CHECK(ok, "HMAC-SHA256");
}

/* The measurement the guest owner expects, computed here from the image alone, as AMD-ASPFW
 * sev_guest.c sev_guest_measure does: HMAC(TIK, 0x04 ‖ API major ‖ minor ‖ build ‖ policy
 * (le32) ‖ SHA-256 of the launched data ‖ MNONCE), the prefix from API 0.17 on. */
static void check_measurement(struct psp_transport *t, const struct attest_tk *tk, uint32_t policy,
			      const uint8_t *image, size_t len,
			      const uint8_t blob[SEV_MEASURE_BLOB_SIZE])
{
	struct sev_cmd_platform_status ps = platform_status(t);
	uint8_t prefix[4] = { 0x04, ps.api_major, ps.api_minor, ps.build }, pol[4], digest[32];
	uint8_t want[32];
	const uint8_t *parts[] = { prefix, pol, digest, blob + SEV_MEASURE_SIZE };
	const size_t lens[] = { 4, 4, 32, SEV_MNONCE_SIZE };

	TU_CHECK(ps.api_major > 0 || ps.api_minor >= 17, "these checks assume API 0.17 or later");
	memcpy(pol, &policy, 4); /* little-endian host, as the command buffers */
	sha256(image, len, digest);
	hmac(tk->tik, sizeof(tk->tik), parts, lens, ELEMENTSOF(parts), want);
	TU_CHECK_MEM(want, blob, 32);
}

/* The guest owner's LAUNCH_SECRET packet, built here without attest/secret.h, as AMD-ASPFW
 * sev_channel.c sev_channel_extract takes it apart: the payload AES-128-CTR under the TEK with
 * the header's IV, the MAC HMAC(TIK, 0x01 ‖ flags ‖ IV ‖ guest length ‖ transport length
 * (u32 each, the PSP's size_t) ‖ ciphertext ‖ measurement) (sev_channel_hmac). */
static void seal_secret(const struct attest_tk *tk, const uint8_t measure[32], const uint8_t *plain,
			size_t len, struct sev_secret_header *hdr, uint8_t *cipher)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t ctx = 0x01;
	uint32_t l = (uint32_t)len;
	int n = 0, f = 0;

	memset(hdr, 0, sizeof(*hdr));
	TU_CHECK(RAND_bytes(hdr->iv, sizeof(hdr->iv)) == 1, "IV");
	TU_CHECK(c && EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, tk->tek, hdr->iv) == 1 &&
			 EVP_EncryptUpdate(c, cipher, &n, plain, (int)len) == 1 &&
			 EVP_EncryptFinal_ex(c, cipher + n, &f) == 1 && (size_t)(n + f) == len,
		 "AES-128-CTR");
	EVP_CIPHER_CTX_free(c);
	const uint8_t *parts[] = { &ctx, (const uint8_t *)&hdr->flags, hdr->iv, (const uint8_t *)&l,
				   (const uint8_t *)&l, cipher, measure };
	const size_t lens[] = { 1, 4, 16, 4, 4, len, 32 };
	hmac(tk->tik, sizeof(tk->tik), parts, lens, ELEMENTSOF(parts), hdr->mac);
}

static void *map_view(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	TU_CHECK(p != MAP_FAILED, "mmap of the plaintext view: %m");
	return p;
}

/* The plaintext view of a running guest holds the image and the secret; the host's does not. */
static void check_views(struct emu_rig *r, uint32_t h, const struct gt_mem *m, const uint8_t *image,
			const uint8_t *secret, size_t slen)
{
	char text[256], want[128];
	int fd = -1;
	uint8_t *view;

	TU_CHECK(gt_ctl_memfd(r->emu.socket, h, &fd, text, sizeof(text)) == 0, "guest-memfd: %s",
		 text);
	snprintf(want, sizeof(want), "handle=%u asid=%u base=0x%llx size=%zu region=0 regions=1",
		 h, GT_MIN_SEV_ASID, (unsigned long long)m->base, m->size);
	TU_CHECK(strcmp(text, want) == 0, "guest-memfd answered '%s', expected '%s'", text, want);
	/* through psp_emu_ctl() (recv() without a control buffer): the text arrives, the
	 * descriptor is dropped by the kernel */
	{
		_cleanup_free_ uint8_t *reply = NULL;
		char line[32];

		snprintf(line, sizeof(line), "guest-memfd %u", h);
		TU_CHECK(psp_emu_ctl(r->t, line, &reply, NULL) == 0, "psp_emu_ctl guest-memfd");
		TU_CHECK(strcmp((char *)reply, want) == 0, "psp_emu_ctl answered '%s'", reply);
	}
	view = map_view(fd, m->size);
	TU_CHECK_MEM(view, image, IMAGE_SIZE);
	TU_CHECK_MEM(view + SECRET_OFF, secret, slen);
	TU_CHECK(!gt_any_window_in(m->ptr, m->size, image, IMAGE_SIZE),
		 "the host memfd holds a plaintext window of the image");
	TU_CHECK(!gt_any_window_in(m->ptr, m->size, secret, slen),
		 "the host memfd holds a plaintext window of the secret");
	munmap(view, m->size);
	close(fd);
}

static void test_owner_launch(struct emu_rig *r)
{
	struct psp_transport *t = r->t;
	struct sev_cert pdh, pek;
	struct attest_tk tk;
	struct gt_mem m;
	struct sev_secret_header hdr;
	struct sev_attestation_report rep;
	struct attest_verdict v = {0};
	uint8_t image[IMAGE_SIZE], blob[SEV_MEASURE_BLOB_SIZE], secret[48] = {0}, cipher[48];
	uint8_t nonce[16], digest[32], snap[IMAGE_SIZE];
	char text[256];
	uint32_t h = 0;
	int fd;

	gt_platform_ready(t, false);
	gt_platform_certs(t, &pdh, &pek);
	gt_mem_new(t, MEM_SIZE, &m);
	TU_CHECK(RAND_bytes(image, sizeof(image)) == 1, "RAND_bytes");
	memcpy(m.ptr, image, sizeof(image));
	memcpy(secret, secret_text, sizeof(secret_text));

	GT_EXPECT(gt_launch(t, POLICY_OWNER, &pdh, &tk, &h), SEV_STATUS_SUCCESS);
	TU_CHECK(h != 0, "handle 0");
	TU_CHECK_EQ(platform_status(t).state, SEV_PSTATE_WORKING);
	TU_CHECK_EQ(gt_guest_count(t), 1);
	/* KVM's order: ACTIVATE right after LAUNCH_START; pending until LAUNCH_FINISH */
	GT_EXPECT(ST(psp_cmd_activate(t, h, GT_MIN_SEV_ASID, PR)), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_status(t, h).state, SEV_GSTATE_LUPDATE);
	TU_CHECK_EQ(gt_guest_status(t, h).asid, GT_MIN_SEV_ASID);
	TU_CHECK_EQ(gt_guest_status(t, h).policy, POLICY_OWNER);

	GT_EXPECT(ST(psp_cmd_launch_update_data(t, h, m.base, IMAGE_SIZE, PR)), SEV_STATUS_SUCCESS);
	TU_CHECK(!gt_any_window_in(m.ptr, m.size, image, IMAGE_SIZE),
		 "after LAUNCH_UPDATE_DATA the host memfd still holds plaintext");
	memcpy(snap, m.ptr, sizeof(snap));
	TU_CHECK(memcmp(snap, image, sizeof(snap)) != 0, "memfd unchanged");

	GT_EXPECT(ST(psp_cmd_launch_measure(t, h, blob, PR)), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_status(t, h).state, SEV_GSTATE_LSECRET);
	check_measurement(t, &tk, POLICY_OWNER, image, IMAGE_SIZE, blob);

	/* the secret, sealed by the owner against this measurement */
	seal_secret(&tk, blob, secret, sizeof(secret), &hdr, cipher);
	GT_EXPECT(ST(psp_cmd_launch_secret(t, h, &hdr, m.base + SECRET_OFF, sizeof(secret), cipher,
					   sizeof(cipher), PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK(!gt_any_window_in(m.ptr, m.size, secret, sizeof(secret)),
		 "the host memfd holds the secret in plaintext");

	/* the report: mnonce, launch digest, policy, signed by the exported PEK */
	TU_CHECK(RAND_bytes(nonce, sizeof(nonce)) == 1, "RAND_bytes");
	GT_EXPECT(ST(psp_cmd_attestation(t, h, nonce, &rep, PR)), SEV_STATUS_SUCCESS);
	sha256(image, sizeof(image), digest);
	TU_CHECK(attest_sev_report_verify(&rep, &pek, nonce, digest, &v) == 1,
		 "report does not verify: %s", v.reason);
	TU_CHECK_EQ(rep.policy, POLICY_OWNER);
	TU_CHECK_EQ(rep.sig_usage, 0x1002);
	TU_CHECK_EQ(rep.sig_algo, 0x2);

	/* not running yet: no CPU side */
	TU_CHECK(gt_ctl_memfd(r->emu.socket, h, &fd, text, sizeof(text)) == -EBUSY, "%s", text);
	GT_EXPECT(ST(psp_cmd_launch_finish(t, h, PR)), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_status(t, h).state, SEV_GSTATE_RUNNING);
	check_views(r, h, &m, image, secret, sizeof(secret));

	/* sevd restarts: a new connection sees the same guest, memory and all */
	psp_close(r->t);
	char spec[4200];
	snprintf(spec, sizeof(spec), "emu:%s", r->emu.socket);
	TU_CHECK(psp_open(spec, &r->t) == 0, "reconnect");
	t = r->t;
	TU_CHECK_EQ(gt_guest_status(t, h).state, SEV_GSTATE_RUNNING);
	TU_CHECK_EQ(gt_guest_status(t, h).asid, GT_MIN_SEV_ASID);
	TU_CHECK_EQ(gt_guest_count(t), 1);
	check_views(r, h, &m, image, secret, sizeof(secret));
	/* NODBG */
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, m.base, snap, 16, PR)), SEV_STATUS_POLICY_FAILURE);

	GT_EXPECT(ST(psp_cmd_deactivate(t, h, PR)), SEV_STATUS_SUCCESS);
	TU_CHECK(gt_ctl_memfd(r->emu.socket, h, &fd, text, sizeof(text)) == -EBUSY, "%s", text);
	GT_EXPECT(ST(psp_cmd_decommission(t, h, PR)), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_count(t), 0);
	TU_CHECK_EQ(platform_status(t).state, SEV_PSTATE_INIT);
	TU_CHECK_EQ(gt_guest_status(t, h).state, 0); /* gone: state INVALID, status SUCCESS */
	TU_CHECK(gt_ctl_memfd(r->emu.socket, h, &fd, text, sizeof(text)) == -ENOENT, "%s", text);
	gt_mem_free(&m);
}

/* A guest without an owner session (firmware's own TEK/TIK) and without NODBG: DBG_* see
 * and change the plaintext; the host memfd still holds only ciphertext. */
static void test_debug(struct emu_rig *r)
{
	struct psp_transport *t = r->t;
	struct gt_mem m;
	uint8_t image[8192], back[8192], patch[64];
	uint32_t h = 0, h2 = 0;

	gt_platform_ready(t, false);
	gt_mem_new(t, 3 * 4096, &m);
	TU_CHECK(RAND_bytes(image, sizeof(image)) == 1 && RAND_bytes(patch, sizeof(patch)) == 1,
		 "rand");
	memcpy(m.ptr, image, sizeof(image));
	GT_EXPECT(gt_launch(t, 0, NULL, NULL, &h), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, m.base, back, 16, PR)), SEV_STATUS_INACTIVE);
	GT_EXPECT(ST(psp_cmd_activate(t, h, GT_MIN_SEV_ASID + 1, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_launch_update_data(t, h, m.base, sizeof(image), PR)),
		  SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, m.base, back, sizeof(back), PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK_MEM(back, image, sizeof(image));
	GT_EXPECT(ST(psp_cmd_dbg_encrypt(t, h, patch, m.base + 4096, sizeof(patch), PR)),
		  SEV_STATUS_SUCCESS);
	memcpy(image + 4096, patch, sizeof(patch));
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, m.base, back, sizeof(back), PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK_MEM(back, image, sizeof(image));
	TU_CHECK(!gt_any_window_in(m.ptr, m.size, image, sizeof(image)), "plaintext in host memfd");
	/* alignment and length rules, then an address outside the guest's region */
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, m.base + 8, back, 16, PR)),
		  SEV_STATUS_INVALID_ADDRESS);
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, m.base, back, 24, PR)), SEV_STATUS_INVALID_LEN);
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, m.base + m.size, back, 16, PR)),
		  SEV_STATUS_INVALID_ADDRESS);
	GT_EXPECT(ST(psp_cmd_launch_update_data(t, h, m.base + 8, 16, PR)),
		  SEV_STATUS_INVALID_ADDRESS);
	GT_EXPECT(ST(psp_cmd_launch_update_data(t, h, m.base, 20, PR)), SEV_STATUS_INVALID_LEN);
	GT_EXPECT(ST(psp_cmd_launch_update_data(t, h, m.base, 0, PR)), SEV_STATUS_INVALID_LEN);
	GT_EXPECT(ST(psp_cmd_launch_update_data(t, h, m.base + m.size - 16, 32, PR)),
		  SEV_STATUS_INVALID_ADDRESS);
	/* a key-sharing launch (handle ≠ 0) needs the same policy and NOKS clear */
	struct sev_cmd_launch_start ls = {.handle = h, .policy = 0};
	GT_EXPECT(fw(t, SEV_CMD_LAUNCH_START, &ls), SEV_STATUS_SUCCESS);
	h2 = ls.handle;
	TU_CHECK(h2 != h && h2 != 0, "shared launch got handle %u", h2);
	ls = (struct sev_cmd_launch_start){.handle = h, .policy = SEV_POLICY_NOKS};
	GT_EXPECT(fw(t, SEV_CMD_LAUNCH_START, &ls), SEV_STATUS_POLICY_FAILURE);
	ls = (struct sev_cmd_launch_start){.handle = 999, .policy = 0};
	GT_EXPECT(fw(t, SEV_CMD_LAUNCH_START, &ls), SEV_STATUS_INVALID_GUEST);
	TU_CHECK_EQ(gt_guest_count(t), 2);
	/* NODBG: both directions refused */
	uint32_t h3 = 0;
	GT_EXPECT(gt_launch(t, SEV_POLICY_NODBG, NULL, NULL, &h3), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_activate(t, h3, GT_MIN_SEV_ASID + 2, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h3, m.base, back, 16, PR)), SEV_STATUS_POLICY_FAILURE);
	GT_EXPECT(ST(psp_cmd_dbg_encrypt(t, h3, patch, m.base, 16, PR)), SEV_STATUS_POLICY_FAILURE);
	gt_mem_free(&m);
}

/* Every way LAUNCH_START refuses a session; each leaves no context behind. */
static void test_tampered_session(struct emu_rig *r)
{
	struct psp_transport *t = r->t;
	struct sev_cert pdh, pek, godh;
	struct sev_session_blob blob;
	struct attest_tk tk;
	struct psp_buf dg, ds;
	static const struct {
		const char *what;
		size_t off; /* in the blob, or 0x1000 + offset in the GODH cert */
		int status;
	} cases[] = {
	    {"nonce", 0x00, SEV_STATUS_BAD_MEASUREMENT},
	    {"wrap_tk", 0x10, SEV_STATUS_BAD_MEASUREMENT},
	    {"wrap_tk end", 0x2f, SEV_STATUS_BAD_MEASUREMENT},
	    {"wrap_iv", 0x30, SEV_STATUS_BAD_MEASUREMENT},
	    {"wrap_mac", 0x40, SEV_STATUS_BAD_MEASUREMENT},
	    {"policy_mac", 0x60, SEV_STATUS_BAD_MEASUREMENT},
	    {"policy_mac end", 0x7f, SEV_STATUS_BAD_MEASUREMENT},
	    {"GODH usage", 0x1000 + 0x08, SEV_STATUS_INVALID_CERTIFICATE},
	    {"GODH algo", 0x1000 + 0x0c, SEV_STATUS_INVALID_CERTIFICATE},
	    {"GODH curve", 0x1000 + 0x10, SEV_STATUS_INVALID_CERTIFICATE},
	    {"GODH qx", 0x1000 + 0x14, SEV_STATUS_INVALID_CERTIFICATE},
	    {"GODH qy", 0x1000 + 0x5c, SEV_STATUS_INVALID_CERTIFICATE},
	};
	uint32_t policy = SEV_POLICY_NODBG;

	gt_platform_ready(t, false);
	gt_platform_certs(t, &pdh, &pek);
	TU_CHECK(attest_session_build(&pdh, policy, NULL, &godh, &blob, &tk) == 0, "session");
	TU_CHECK(psp_dma_alloc(t, 4096, &dg) == 0 && psp_dma_alloc(t, 4096, &ds) == 0, "dma");

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct sev_cmd_launch_start ls = {.policy = policy,
						  .dh_cert_address = dg.addr,
						  .dh_cert_len = SEV_CERT_SIZE,
						  .session_address = ds.addr,
						  .session_len = sizeof(blob)};
		uint8_t *p;

		memcpy(dg.ptr, &godh, sizeof(godh));
		memcpy(ds.ptr, &blob, sizeof(blob));
		p = cases[i].off >= 0x1000 ? (uint8_t *)dg.ptr + cases[i].off - 0x1000
					   : (uint8_t *)ds.ptr + cases[i].off;
		*p ^= 0x01;
		int st = fw(t, SEV_CMD_LAUNCH_START, &ls);
		TU_CHECK(st == cases[i].status, "tampered %s: %s, expected %s", cases[i].what,
			 sev_status_name(st), sev_status_name(cases[i].status));
		TU_CHECK_EQ(gt_guest_count(t), 0);
		TU_CHECK_EQ(platform_status(t).state, SEV_PSTATE_INIT);
	}
	/* a policy other than the MAC'd one */
	struct sev_cmd_launch_start ls = {.policy = 0,
					  .dh_cert_address = dg.addr,
					  .dh_cert_len = SEV_CERT_SIZE,
					  .session_address = ds.addr,
					  .session_len = sizeof(blob)};
	memcpy(dg.ptr, &godh, sizeof(godh));
	memcpy(ds.ptr, &blob, sizeof(blob));
	GT_EXPECT(fw(t, SEV_CMD_LAUNCH_START, &ls), SEV_STATUS_BAD_MEASUREMENT);
	/* lengths and addresses, in firmware order */
	ls.policy = policy;
	ls.session_len = sizeof(blob) - 1;
	GT_EXPECT(fw(t, SEV_CMD_LAUNCH_START, &ls), SEV_STATUS_INVALID_LEN);
	ls.session_len = sizeof(blob);
	ls.dh_cert_len = SEV_CERT_SIZE + 16;
	GT_EXPECT(fw(t, SEV_CMD_LAUNCH_START, &ls), SEV_STATUS_INVALID_LEN);
	ls.dh_cert_len = SEV_CERT_SIZE;
	ls.session_address = 0x1000;
	GT_EXPECT(fw(t, SEV_CMD_LAUNCH_START, &ls), SEV_STATUS_INVALID_ADDRESS);
	ls.session_address = ds.addr;
	ls.dh_cert_address = 0x2000; /* below every region */
	GT_EXPECT(fw(t, SEV_CMD_LAUNCH_START, &ls), SEV_STATUS_INVALID_ADDRESS);
	TU_CHECK_EQ(gt_guest_count(t), 0);
	/* MAC'd policies the firmware refuses: API minimum above its own, reserved bits */
	uint32_t bad[] = {policy | (0xffu << 16), policy | (1u << 6)};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		uint32_t h = 0;

		GT_EXPECT(gt_launch(t, bad[i], &pdh, NULL, &h), SEV_STATUS_POLICY_FAILURE);
	}
	/* SEV-ES on a platform initialized without it */
	{
		uint32_t h = 0;

		GT_EXPECT(gt_launch(t, SEV_POLICY_ES, &pdh, NULL, &h), SEV_STATUS_UNSUPPORTED);
	}
	TU_CHECK_EQ(gt_guest_count(t), 0);
	/* and the untampered session works */
	ls.dh_cert_address = dg.addr;
	GT_EXPECT(fw(t, SEV_CMD_LAUNCH_START, &ls), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_count(t), 1);
	psp_dma_free(t, &dg);
	psp_dma_free(t, &ds);
}

/* Drive a guest to LSECRET with an owner session; returns the measurement blob. */
static uint32_t to_lsecret(struct psp_transport *t, const struct sev_cert *pdh,
			   const struct gt_mem *m, uint32_t asid, struct attest_tk *tk,
			   uint8_t blob[SEV_MEASURE_BLOB_SIZE])
{
	uint32_t h = 0;

	GT_EXPECT(gt_launch(t, SEV_POLICY_NODBG, pdh, tk, &h), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_activate(t, h, asid, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_launch_update_data(t, h, m->base, 4096, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_launch_measure(t, h, blob, PR)), SEV_STATUS_SUCCESS);
	return h;
}

static void test_tampered_secret(struct emu_rig *r)
{
	struct psp_transport *t = r->t;
	struct sev_cert pdh, pek;
	struct attest_tk tk;
	struct gt_mem m;
	struct sev_secret_header hdr, bad;
	uint8_t blob[SEV_MEASURE_BLOB_SIZE], plain[32], cipher[32], c2[32];
	uint32_t h;
	uint64_t dst;

	gt_platform_ready(t, false);
	gt_platform_certs(t, &pdh, &pek);
	gt_mem_new(t, 2 * 4096, &m);
	h = to_lsecret(t, &pdh, &m, GT_MIN_SEV_ASID, &tk, blob);
	dst = m.base + 4096;
	memcpy(plain, secret_text, sizeof(plain));
	seal_secret(&tk, blob, plain, sizeof(plain), &hdr, cipher);
	/* every header byte group and the ciphertext: BAD_MEASUREMENT */
	size_t offs[] = {0, 4, 19, 20, 51};
	for (size_t i = 0; i < ELEMENTSOF(offs); i++) {
		bad = hdr;
		((uint8_t *)&bad)[offs[i]] ^= 0x80;
		GT_EXPECT(ST(psp_cmd_launch_secret(t, h, &bad, dst, 32, cipher, 32, PR)),
			  SEV_STATUS_BAD_MEASUREMENT);
	}
	memcpy(c2, cipher, sizeof(c2));
	c2[31] ^= 1;
	GT_EXPECT(ST(psp_cmd_launch_secret(t, h, &hdr, dst, 32, c2, 32, PR)),
		  SEV_STATUS_BAD_MEASUREMENT);
	/* the MAC covers guest_len too; lengths and alignment are checked first */
	GT_EXPECT(ST(psp_cmd_launch_secret(t, h, &hdr, dst, 16, cipher, 32, PR)),
		  SEV_STATUS_INVALID_LEN);
	GT_EXPECT(ST(psp_cmd_launch_secret(t, h, &hdr, dst + 8, 32, cipher, 32, PR)),
		  SEV_STATUS_INVALID_ADDRESS);
	GT_EXPECT(ST(psp_cmd_launch_secret(t, h, &hdr, dst, 24, cipher, 24, PR)),
		  SEV_STATUS_INVALID_LEN);
	GT_EXPECT(ST(psp_cmd_launch_secret(t, h, &hdr, m.base + m.size - 16, 32, cipher, 32, PR)),
		  SEV_STATUS_INVALID_ADDRESS);
	GT_EXPECT(ST(psp_cmd_launch_secret(t, 4242, &hdr, dst, 32, cipher, 32, PR)),
		  SEV_STATUS_INVALID_GUEST);
	TU_CHECK(!gt_any_window_in(m.ptr, m.size, plain, sizeof(plain)), "plaintext leaked");
	/* the untampered packet is accepted, also a second time */
	GT_EXPECT(ST(psp_cmd_launch_secret(t, h, &hdr, dst, 32, cipher, 32, PR)),
		  SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_launch_secret(t, h, &hdr, dst, 32, cipher, 32, PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK(!gt_any_window_in(m.ptr, m.size, plain, sizeof(plain)), "plaintext in host memfd");
	/* sealed against another measurement: refused */
	uint8_t other[SEV_MEASURE_BLOB_SIZE];
	memcpy(other, blob, sizeof(other));
	other[0] ^= 1;
	seal_secret(&tk, other, plain, sizeof(plain), &bad, c2);
	GT_EXPECT(ST(psp_cmd_launch_secret(t, h, &bad, dst, 32, c2, 32, PR)),
		  SEV_STATUS_BAD_MEASUREMENT);
	GT_EXPECT(ST(psp_cmd_launch_finish(t, h, PR)), SEV_STATUS_SUCCESS);
	gt_mem_free(&m);
}

/* ASIDs as firmware keeps them: ranges per guest type, one owner, DEACTIVATE dirties, and
 * DF_FLUSH cleans only after WBINVD. SEV-ES platform: ES guests take 1..99, others 100..509. */
static void test_asids(struct emu_rig *r)
{
	struct psp_transport *t = r->t;
	struct gt_mem m;
	uint8_t blob[SEV_MEASURE_BLOB_SIZE], vmsa[4096] = {0};
	uint32_t a = 0, b = 0, es = 0;

	gt_platform_ready(t, true);
	gt_mem_new(t, 2 * 4096, &m);
	GT_EXPECT(gt_launch(t, 0, NULL, NULL, &a), SEV_STATUS_SUCCESS);
	GT_EXPECT(gt_launch(t, 0, NULL, NULL, &b), SEV_STATUS_SUCCESS);
	GT_EXPECT(gt_launch(t, SEV_POLICY_ES, NULL, NULL, &es), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_count(t), 3);

	GT_EXPECT(ST(psp_cmd_activate(t, a, 0, PR)), SEV_STATUS_INVALID_ASID);
	GT_EXPECT(ST(psp_cmd_activate(t, a, GT_MAX_ASID + 1, PR)), SEV_STATUS_INVALID_ASID);
	GT_EXPECT(ST(psp_cmd_activate(t, a, 5, PR)), SEV_STATUS_INVALID_ASID); /* ES range */
	GT_EXPECT(ST(psp_cmd_activate(t, es, GT_MIN_SEV_ASID, PR)), SEV_STATUS_INVALID_ASID);
	GT_EXPECT(ST(psp_cmd_activate(t, es, GT_MIN_SEV_ASID - 1, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_activate(t, 777, GT_MIN_SEV_ASID, PR)), SEV_STATUS_INVALID_GUEST);
	GT_EXPECT(ST(psp_cmd_activate(t, a, GT_MAX_ASID, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_activate(t, b, GT_MAX_ASID, PR)), SEV_STATUS_ASID_OWNED);
	GT_EXPECT(ST(psp_cmd_activate(t, a, GT_MAX_ASID, PR)), SEV_STATUS_ASID_OWNED);
	GT_EXPECT(ST(psp_cmd_activate(t, a, GT_MAX_ASID - 1, PR)), SEV_STATUS_ACTIVE);
	GT_EXPECT(ST(psp_cmd_activate(t, b, GT_MAX_ASID - 1, PR)), SEV_STATUS_SUCCESS);

	/* VMSA: only for SEV-ES policies, exactly one page */
	memcpy(m.ptr + 4096, vmsa, sizeof(vmsa));
	GT_EXPECT(ST(psp_cmd_launch_update_vmsa(t, a, m.base + 4096, 4096, PR)),
		  SEV_STATUS_UNSUPPORTED);
	GT_EXPECT(ST(psp_cmd_launch_update_vmsa(t, es, m.base + 4096, 2048, PR)),
		  SEV_STATUS_INVALID_LEN);
	GT_EXPECT(ST(psp_cmd_launch_update_vmsa(t, es, m.base + 4096, 4096, PR)),
		  SEV_STATUS_SUCCESS);

	/* a pending activation DEACTIVATEd leaves its ASID clean: b takes it back at once */
	GT_EXPECT(ST(psp_cmd_deactivate(t, b, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_deactivate(t, b, PR)), SEV_STATUS_INACTIVE);
	GT_EXPECT(ST(psp_cmd_activate(t, b, GT_MAX_ASID - 1, PR)), SEV_STATUS_SUCCESS);

	/* a runs; DECOMMISSION while active → ACTIVE */
	GT_EXPECT(ST(psp_cmd_launch_measure(t, a, blob, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_launch_finish(t, a, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_decommission(t, a, PR)), SEV_STATUS_ACTIVE);
	GT_EXPECT(ST(psp_cmd_decommission(t, b, PR)), SEV_STATUS_ACTIVE); /* pending too */

	/* DEACTIVATE after running: the ASID is dirty until WBINVD + DF_FLUSH */
	GT_EXPECT(ST(psp_cmd_deactivate(t, a, PR)), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_status(t, a).asid, 0);
	GT_EXPECT(ST(psp_cmd_activate(t, a, GT_MAX_ASID, PR)), SEV_STATUS_DFFLUSH_REQUIRED);
	GT_EXPECT(fw(t, SEV_CMD_DF_FLUSH, NULL), SEV_STATUS_WBINVD_REQUIRED);
	GT_EXPECT(ST(psp_cmd_activate(t, a, GT_MAX_ASID, PR)), SEV_STATUS_DFFLUSH_REQUIRED);
	ctl_ok(t, "wbinvd");
	GT_EXPECT(fw(t, SEV_CMD_DF_FLUSH, NULL), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_activate(t, a, GT_MAX_ASID, PR)), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_status(t, a).asid, GT_MAX_ASID);

	/* teardown in KVM's order; the last DECOMMISSION takes the platform back to INIT */
	uint32_t all[] = {a, b, es};
	for (size_t i = 0; i < ELEMENTSOF(all); i++) {
		GT_EXPECT(ST(psp_cmd_deactivate(t, all[i], PR)), SEV_STATUS_SUCCESS);
		GT_EXPECT(ST(psp_cmd_decommission(t, all[i], PR)), SEV_STATUS_SUCCESS);
		/* again: an unknown handle, or (after the last) a platform back in INIT */
		GT_EXPECT(ST(psp_cmd_decommission(t, all[i], PR)),
			  i + 1 < ELEMENTSOF(all) ? SEV_STATUS_INVALID_GUEST
						  : SEV_STATUS_INVALID_PLATFORM_STATE);
		TU_CHECK_EQ(gt_guest_count(t), ELEMENTSOF(all) - 1 - i);
	}
	TU_CHECK_EQ(platform_status(t).state, SEV_PSTATE_INIT);
	gt_mem_free(&m);
}

/* LAUNCH_MEASURE and ATTESTATION answer a short buffer with INVALID_LEN and the size they
 * need, and change nothing; an output address outside memory is INVALID_ADDRESS. */
static void test_length_queries(struct emu_rig *r)
{
	struct psp_transport *t = r->t;
	struct psp_buf out;
	uint32_t h = 0;

	gt_platform_ready(t, false);
	TU_CHECK(psp_dma_alloc(t, 4096, &out) == 0, "dma");
	GT_EXPECT(gt_launch(t, 0, NULL, NULL, &h), SEV_STATUS_SUCCESS);
	struct sev_cmd_launch_measure lm = {.handle = h, .address = out.addr, .len = 47};
	GT_EXPECT(fw(t, SEV_CMD_LAUNCH_MEASURE, &lm), SEV_STATUS_INVALID_LEN);
	TU_CHECK_EQ(lm.len, SEV_MEASURE_BLOB_SIZE);
	TU_CHECK_EQ(gt_guest_status(t, h).state, SEV_GSTATE_LUPDATE);
	lm.address = 0x3000;
	GT_EXPECT(fw(t, SEV_CMD_LAUNCH_MEASURE, &lm), SEV_STATUS_INVALID_ADDRESS);
	TU_CHECK_EQ(gt_guest_status(t, h).state, SEV_GSTATE_LUPDATE);
	lm.address = out.addr;
	lm.len = 4096; /* more room than needed: the answer says how much was written */
	GT_EXPECT(fw(t, SEV_CMD_LAUNCH_MEASURE, &lm), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(lm.len, SEV_MEASURE_BLOB_SIZE);
	struct sev_cmd_attestation at = {.handle = h, .address = out.addr, .len = 0};
	GT_EXPECT(fw(t, SEV_CMD_ATTESTATION, &at), SEV_STATUS_INVALID_LEN);
	TU_CHECK_EQ(at.len, SEV_ATTESTATION_REPORT_SIZE);
	at.len = 4096;
	GT_EXPECT(fw(t, SEV_CMD_ATTESTATION, &at), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(at.len, SEV_ATTESTATION_REPORT_SIZE);
	psp_dma_free(t, &out);
}

/* The command buffer comes back changed only where firmware copies it back (AMD-ASPFW
 * sev_dispatch.c master_handler_table): ATTESTATION, LAUNCH_MEASURE, PEK_CSR, GET_ID on
 * SUCCESS or INVALID_LEN only (a failed write keeps the caller's length, though the handler
 * sets it: sev_mcmd_attestation); GUEST_STATUS of an unknown handle sets only the state
 * (sev_mcmd_guest_status); a failed LAUNCH_START keeps the caller's handle. */
static void test_write_back(struct emu_rig *r)
{
	struct psp_transport *t = r->t;
	struct sev_cmd_guest_status gs = { .handle = 999, .policy = 0x1234, .asid = 77, .state = 9 };
	uint32_t h = 0;

	gt_platform_ready(t, false);
	GT_EXPECT(fw(t, SEV_CMD_GUEST_STATUS, &gs), SEV_STATUS_SUCCESS);
	TU_CHECK(gs.handle == 999 && gs.policy == 0x1234 && gs.asid == 77 && gs.state == 0,
		 "GUEST_STATUS of an unknown handle: policy %#x asid %u state %u", gs.policy,
		 gs.asid, gs.state);
	struct sev_cmd_launch_start ls = { .handle = 999 };
	GT_EXPECT(fw(t, SEV_CMD_LAUNCH_START, &ls), SEV_STATUS_INVALID_GUEST);
	TU_CHECK_EQ(ls.handle, 999);
	struct sev_cmd_pek_csr csr = { .address = 0x3000, .len = 4096 };
	GT_EXPECT(fw(t, SEV_CMD_PEK_CSR, &csr), SEV_STATUS_INVALID_ADDRESS);
	TU_CHECK_EQ(csr.len, 4096);
	struct sev_cmd_get_id id = { .address = 0x3000, .len = 4096 };
	GT_EXPECT(fw(t, SEV_CMD_GET_ID, &id), SEV_STATUS_INVALID_ADDRESS);
	TU_CHECK_EQ(id.len, 4096);
	GT_EXPECT(gt_launch(t, 0, NULL, NULL, &h), SEV_STATUS_SUCCESS);
	struct sev_cmd_launch_measure lm = { .handle = h, .address = 0x3000, .len = 4096 };
	GT_EXPECT(fw(t, SEV_CMD_LAUNCH_MEASURE, &lm), SEV_STATUS_INVALID_ADDRESS);
	TU_CHECK_EQ(lm.len, 4096);
	struct psp_buf out;
	TU_CHECK(psp_dma_alloc(t, 4096, &out) == 0, "dma");
	lm.address = out.addr;
	GT_EXPECT(fw(t, SEV_CMD_LAUNCH_MEASURE, &lm), SEV_STATUS_SUCCESS);
	struct sev_cmd_attestation at = { .handle = h, .address = 0x3000, .len = 4096 };
	GT_EXPECT(fw(t, SEV_CMD_ATTESTATION, &at), SEV_STATUS_INVALID_ADDRESS);
	TU_CHECK_EQ(at.len, 4096);
	psp_dma_free(t, &out);
}

/* One guest: LAUNCH_UPDATE_DATA of image at addr, then LAUNCH_MEASURE (first to an unwritable
 * address when fail_first), then ATTESTATION's launch digest. */
static void launch_digest_of(struct psp_transport *t, uint32_t asid, uint64_t addr,
			     bool fail_first, uint8_t ret[32])
{
	struct sev_attestation_report rep;
	uint8_t blob[SEV_MEASURE_BLOB_SIZE], mnonce[16] = { 1 };
	uint32_t h = 0;

	GT_EXPECT(gt_launch(t, 0, NULL, NULL, &h), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_activate(t, h, asid, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_launch_update_data(t, h, addr, IMAGE_SIZE, PR)), SEV_STATUS_SUCCESS);
	if (fail_first) {
		struct sev_cmd_launch_measure lm = { .handle = h, .address = 0x3000, .len = 48 };

		GT_EXPECT(fw(t, SEV_CMD_LAUNCH_MEASURE, &lm), SEV_STATUS_INVALID_ADDRESS);
		TU_CHECK_EQ(gt_guest_status(t, h).state, SEV_GSTATE_LUPDATE);
	}
	GT_EXPECT(ST(psp_cmd_launch_measure(t, h, blob, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_attestation(t, h, mnonce, &rep, PR)), SEV_STATUS_SUCCESS);
	memcpy(ret, rep.launch_digest, 32);
}

/* LAUNCH_MEASURE finalizes the launch digest before it writes the measurement (AMD-ASPFW
 * sev_mcmd.c sev_mcmd_launch_measure: SW_SHA256_Final, then copy_to_x86): after a write that
 * failed, the guest is still LUPDATE but its digest is spent, and a retry no longer reports
 * SHA-256 of the launched data; a guest measured once reports exactly that. */
static void test_measure_unwritable(struct emu_rig *r)
{
	struct psp_transport *t = r->t;
	static uint8_t image[IMAGE_SIZE];
	uint8_t want[32], good[32], retried[32];
	struct gt_mem m;

	gt_platform_ready(t, false);
	gt_mem_new(t, 2 * IMAGE_SIZE, &m);
	TU_CHECK(RAND_bytes(image, sizeof(image)) == 1, "RAND_bytes");
	sha256(image, sizeof(image), want);
	memcpy(m.ptr, image, IMAGE_SIZE);
	memcpy(m.ptr + IMAGE_SIZE, image, IMAGE_SIZE);
	launch_digest_of(t, GT_MIN_SEV_ASID, m.base, false, good);
	TU_CHECK_MEM(good, want, 32);
	launch_digest_of(t, GT_MIN_SEV_ASID + 1, m.base + IMAGE_SIZE, true, retried);
	TU_CHECK(memcmp(retried, want, 32) != 0,
		 "a LAUNCH_MEASURE retried after a failed write reported the honest digest");
	gt_mem_free(&m);
}

/* COPY (AMD-ASPFW sev_mcmd.c sev_mcmd_copy): checks in its order; guest pages moved inside
 * guest memory keep their plaintext (DBG_DECRYPT at the destination) but their ciphertext is
 * the destination's, not the source's bytes; overlapping first pages answer SUCCESS and copy
 * nothing. */
static void test_copy(struct emu_rig *r)
{
	struct psp_transport *t = r->t;
	static uint8_t image[8192], back[8192], snap[2 * IMAGE_SIZE];
	struct sev_cmd_copy c;
	struct gt_mem m;
	uint32_t h = 0, idle = 0;

	gt_platform_ready(t, false);
	gt_mem_new(t, 2 * IMAGE_SIZE, &m);
	TU_CHECK(RAND_bytes(image, sizeof(image)) == 1, "RAND_bytes");
	memcpy(m.ptr, image, sizeof(image));
	GT_EXPECT(gt_launch(t, 0, NULL, NULL, &h), SEV_STATUS_SUCCESS);
	GT_EXPECT(gt_launch(t, 0, NULL, NULL, &idle), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_activate(t, h, GT_MIN_SEV_ASID + 20, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_launch_update_data(t, h, m.base, sizeof(image), PR)),
		  SEV_STATUS_SUCCESS);
	c = (struct sev_cmd_copy){ 999, 0, m.base + 8, m.base };
	GT_EXPECT(fw(t, SEV_CMD_COPY, &c), SEV_STATUS_INVALID_GUEST);
	c.handle = idle; /* not activated: before the length */
	GT_EXPECT(fw(t, SEV_CMD_COPY, &c), SEV_STATUS_INACTIVE);
	c.handle = h; /* the length before the alignment */
	GT_EXPECT(fw(t, SEV_CMD_COPY, &c), SEV_STATUS_INVALID_LEN);
	c.len = 100;
	GT_EXPECT(fw(t, SEV_CMD_COPY, &c), SEV_STATUS_INVALID_LEN);
	c.len = sizeof(image);
	GT_EXPECT(fw(t, SEV_CMD_COPY, &c), SEV_STATUS_INVALID_ADDRESS);
	memcpy(snap, m.ptr, sizeof(snap));
	c.src_addr = m.base; /* src = dst: immediate success, nothing written */
	GT_EXPECT(fw(t, SEV_CMD_COPY, &c), SEV_STATUS_SUCCESS);
	TU_CHECK_MEM(m.ptr, snap, sizeof(snap));
	c.dst_addr = m.base + IMAGE_SIZE;
	GT_EXPECT(fw(t, SEV_CMD_COPY, &c), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, m.base + IMAGE_SIZE, back, sizeof(back), PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK_MEM(back, image, sizeof(image));
	TU_CHECK(memcmp(m.ptr + IMAGE_SIZE, m.ptr, sizeof(image)) != 0,
		 "COPY moved the ciphertext bytes instead of re-encrypting at the destination");
	TU_CHECK(!gt_any_window_in(m.ptr, m.size, image, sizeof(image)),
		 "COPY left plaintext in the host's memory");
	gt_mem_free(&m);
}

/* Addresses as KVM sends them: __sme_page_pa sets the C-bit (CPUID 8000_001F EBX[5:0], 51
 * here), which firmware ignores in its address checks (AMD-ASPFW x86_copy.c
 * validate_address_range); KVM issues one LAUNCH_UPDATE_DATA per run of contiguous physical
 * pages, so a guest's runs are discontiguous. No region base ever has the C-bit set, however
 * many regions come and go. */
static void test_cbit(struct emu_rig *r)
{
	const uint64_t C = 1ull << 51;
	struct psp_transport *t = r->t;
	static uint8_t image[3 * 4096], back[4096];
	struct sev_attestation_report rep;
	uint8_t blob[SEV_MEASURE_BLOB_SIZE], mnonce[16] = { 3 }, want[32];
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct sev_cmd_get_id id;
	struct psp_buf dma;
	struct gt_mem m;
	uint32_t h = 0;

	gt_platform_ready(t, false);
	gt_mem_new(t, sizeof(image), &m);
	TU_CHECK(RAND_bytes(image, sizeof(image)) == 1, "RAND_bytes");
	memcpy(m.ptr, image, sizeof(image));
	GT_EXPECT(gt_launch(t, 0, NULL, NULL, &h), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_activate(t, h, GT_MIN_SEV_ASID + 30, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_launch_update_data(t, h, m.base | C, 4096, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_launch_update_data(t, h, (m.base + 8192) | C, 4096, PR)),
		  SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, m.base + 8192, back, sizeof(back), PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK_MEM(back, image + 8192, sizeof(back));
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, m.base | C, back, sizeof(back), PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK_MEM(back, image, sizeof(back));
	TU_CHECK(md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
			 EVP_DigestUpdate(md, image, 4096) == 1 &&
			 EVP_DigestUpdate(md, image + 8192, 4096) == 1 &&
			 EVP_DigestFinal_ex(md, want, NULL) == 1,
		 "digest");
	GT_EXPECT(ST(psp_cmd_launch_measure(t, h, blob, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_attestation(t, h, mnonce, &rep, PR)), SEV_STATUS_SUCCESS);
	TU_CHECK_MEM(rep.launch_digest, want, 32);
	TU_CHECK_EQ(psp_dma_alloc(t, 4096, &dma), 0);
	memset(dma.ptr, 0, SEV_GET_ID_SIZE);
	id = (struct sev_cmd_get_id){ dma.addr | C, SEV_GET_ID_SIZE };
	GT_EXPECT(fw(t, SEV_CMD_GET_ID, &id), SEV_STATUS_SUCCESS);
	TU_CHECK(memcmp(dma.ptr, (uint8_t[SEV_GET_ID_SIZE]){ 0 }, SEV_GET_ID_SIZE) != 0,
		 "GET_ID through a C-bit address wrote nothing");
	psp_dma_free(t, &dma);
	gt_mem_free(&m);
	for (int i = 0; i < 2100; i++) { /* region index 2048 would be the C-bit */
		int fd = memfd_create("cbit", MFD_CLOEXEC);
		uint64_t base;

		TU_CHECK(fd >= 0 && ftruncate(fd, 4096) == 0, "memfd");
		TU_CHECK_EQ(psp_map_memfd(t, fd, 4096, &base), 0);
		TU_CHECK((base & C) == 0, "region base 0x%llx has the C-bit", (unsigned long long)base);
		TU_CHECK_EQ(psp_unmap_memfd(t, base), 0);
		close(fd);
	}
}

/* A guest's memory in two host regions (as a KVM guest's pages lie all over physical memory,
 * AMD-ASPFW keeps no notion of one region per guest): launched, measured, debugged, COPYed
 * across, and handed out one view per region (CTL guest-memfd HANDLE N). */
static void test_two_regions(struct emu_rig *r)
{
	struct psp_transport *t = r->t;
	static uint8_t a_img[8192], b_img[4096], back[8192];
	uint8_t blob[SEV_MEASURE_BLOB_SIZE], mnonce[16] = { 5 }, want[32];
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct sev_attestation_report rep;
	struct gt_mem a, b;
	struct sev_cmd_copy c;
	char text[256];
	uint32_t h = 0;
	int fd = -1;
	uint8_t *view;

	gt_platform_ready(t, false);
	gt_mem_new(t, 16384, &a);
	gt_mem_new(t, 8192, &b);
	TU_CHECK(RAND_bytes(a_img, sizeof(a_img)) == 1 && RAND_bytes(b_img, sizeof(b_img)) == 1,
		 "RAND_bytes");
	memcpy(a.ptr, a_img, sizeof(a_img));
	memcpy(b.ptr, b_img, sizeof(b_img));
	GT_EXPECT(gt_launch(t, 0, NULL, NULL, &h), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_activate(t, h, GT_MIN_SEV_ASID + 40, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_launch_update_data(t, h, a.base, sizeof(a_img), PR)),
		  SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_launch_update_data(t, h, b.base, sizeof(b_img), PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK(md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
			 EVP_DigestUpdate(md, a_img, sizeof(a_img)) == 1 &&
			 EVP_DigestUpdate(md, b_img, sizeof(b_img)) == 1 &&
			 EVP_DigestFinal_ex(md, want, NULL) == 1,
		 "digest");
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, b.base, back, sizeof(b_img), PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK_MEM(back, b_img, sizeof(b_img));
	/* page 1 of region a to page 1 of region b */
	c = (struct sev_cmd_copy){ h, 4096, a.base + 4096, b.base + 4096 };
	GT_EXPECT(fw(t, SEV_CMD_COPY, &c), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_dbg_decrypt(t, h, b.base + 4096, back, 4096, PR)),
		  SEV_STATUS_SUCCESS);
	TU_CHECK_MEM(back, a_img + 4096, 4096);
	GT_EXPECT(ST(psp_cmd_launch_measure(t, h, blob, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_launch_finish(t, h, PR)), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_attestation(t, h, mnonce, &rep, PR)), SEV_STATUS_SUCCESS);
	TU_CHECK_MEM(rep.launch_digest, want, 32);
	/* one view per region, in the order the guest first touched them */
	TU_CHECK(gt_ctl_memfd_region(r->emu.socket, h, 1, &fd, text, sizeof(text)) == 0,
		 "guest-memfd %u 1: %s", h, text);
	TU_CHECK(strstr(text, " region=1 regions=2"), "reply: %s", text);
	view = map_view(fd, b.size);
	TU_CHECK_MEM(view, b_img, sizeof(b_img));
	TU_CHECK_MEM(view + 4096, a_img + 4096, 4096);
	munmap(view, b.size);
	close(fd);
	TU_CHECK(gt_ctl_memfd_region(r->emu.socket, h, 0, &fd, text, sizeof(text)) == 0,
		 "guest-memfd %u 0: %s", h, text);
	view = map_view(fd, a.size);
	TU_CHECK_MEM(view, a_img, sizeof(a_img));
	munmap(view, a.size);
	close(fd);
	TU_CHECK_EQ(gt_ctl_memfd_region(r->emu.socket, h, 2, &fd, text, sizeof(text)), -ENOENT);
	gt_mem_free(&a);
	gt_mem_free(&b);
}

/* SHUTDOWN drops every context: after INIT again the handles are unknown. */
static void test_shutdown(struct emu_rig *r)
{
	struct psp_transport *t = r->t;
	uint32_t h = 0;

	gt_platform_ready(t, false);
	GT_EXPECT(gt_launch(t, 0, NULL, NULL, &h), SEV_STATUS_SUCCESS);
	GT_EXPECT(ST(psp_cmd_activate(t, h, GT_MIN_SEV_ASID + 7, PR)), SEV_STATUS_SUCCESS);
	gt_platform_ready(t, false);
	TU_CHECK_EQ(gt_guest_count(t), 0);
	TU_CHECK_EQ(gt_guest_status(t, h).state, 0);
	/* a new launch reuses the lowest free handle: a fresh context, its old ASID free */
	uint32_t h2 = 0;
	GT_EXPECT(gt_launch(t, SEV_POLICY_NOKS, NULL, NULL, &h2), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(h2, h);
	TU_CHECK_EQ(gt_guest_status(t, h2).asid, 0);
	TU_CHECK_EQ(gt_guest_status(t, h2).policy, SEV_POLICY_NOKS);
	GT_EXPECT(ST(psp_cmd_deactivate(t, h2, PR)), SEV_STATUS_INACTIVE);
	GT_EXPECT(ST(psp_cmd_activate(t, h2, GT_MIN_SEV_ASID + 7, PR)), SEV_STATUS_SUCCESS);
}

int main(void)
{
	struct emu_rig r;

	rig_up(&r, NULL);
	test_owner_launch(&r);
	test_debug(&r);
	test_tampered_session(&r);
	test_tampered_secret(&r);
	test_asids(&r);
	test_length_queries(&r);
	test_measure_unwritable(&r);
	test_write_back(&r);
	test_copy(&r);
	test_cbit(&r);
	test_two_regions(&r);
	test_shutdown(&r);
	rig_down(&r);
	tu_done("emu-guest");
}
