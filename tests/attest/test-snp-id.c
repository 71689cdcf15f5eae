/* SEV-SNP ID block and ID authentication (attest/snp-id.h): the block layout against
 * virtee/sev-snp-measure's known answer (tests/test_id_block.py at 8f2b337: its launch digest,
 * zero ids, version 1, SVN 0, policy 0x30000 give that base64), round trips with fresh P-384
 * keys, with and without an author key, and every byte of the block, of both signatures and of
 * both public keys flipped alone: each one refused, naming the field. Non-P-384 keys refused. */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "attest/snp-id.h"
#include "common/ossl.h"
#include "launch-util.h"

static const char sev_snp_measure_ld[] =
	"B28FLQi9p6cAqipgjFyqawDrrSl7bWioWkWx5mmlWLZ+G5HShKMB/mPE+gdQRn7t";
static const char sev_snp_measure_block[] =
	"B28FLQi9p6cAqipgjFyqawDrrSl7bWioWkWx5mmlWLZ+G5HShKMB/mPE+gdQRn7t"
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAwAAAAAA";

static void test_block_layout(void)
{
	struct snp_id_block b = { .version = 1, .policy = 0x30000 }, back;
	uint8_t out[SNP_ID_BLOCK_SIZE], *ld, *want;
	size_t n, wn;
	struct attest_verdict why = {0};

	ld = b64(sev_snp_measure_ld, &n);
	TU_CHECK_EQ(n, 48);
	memcpy(b.ld, ld, 48);
	attest_snp_id_block_encode(&b, out);
	want = b64(sev_snp_measure_block, &wn);
	TU_CHECK(wn == sizeof out && memcmp(out, want, wn) == 0, "ID block bytes");
	TU_CHECK(attest_snp_id_block_decode(out, sizeof out, &back, &why) == 0, "decode");
	TU_CHECK(memcmp(&back, &b, sizeof b) == 0, "round trip");
	out[0x50] = 2;
	TU_CHECK(attest_snp_id_block_decode(out, sizeof out, &back, &why) == -EBADMSG, "version 2");
	TU_CHECK(strstr(why.reason, "VERSION"), "names VERSION: %s", why.reason);
	TU_CHECK(attest_snp_id_block_decode(out, 95, &back, &why) == -EBADMSG, "short");
	free(ld), free(want);
}

static EVP_PKEY *p384(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	TU_CHECK(k != NULL, "P-384 keygen");
	return k;
}

static int verify(const uint8_t *block, const uint8_t *auth, bool author,
		  struct attest_verdict *why)
{
	uint8_t d1[48], d2[48];

	*why = (struct attest_verdict){0};
	return attest_snp_id_verify(block, SNP_ID_BLOCK_SIZE, auth, SNP_ID_AUTH_SIZE, author, d1,
				    d2, why);
}

/* Flip each byte of [off, off + len) of buf alone: verification must fail naming `field`. */
static void flip_range(uint8_t *block, uint8_t *auth, uint8_t *buf, size_t off, size_t len,
		       const char *field)
{
	for (size_t i = off; i < off + len; i++) {
		struct attest_verdict why;
		buf[i] ^= 0x01;
		int r = verify(block, auth, true, &why);
		buf[i] ^= 0x01;
		TU_CHECK(r == 0 && strstr(why.reason, field), "byte %#zx flipped (%s): %d %s", i,
			 field, r, why.reason);
	}
}

static void test_round_trip(void)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *id = p384(), *author = p384();
	struct snp_id_block b = { .version = 1, .guest_svn = 7, .policy = 0x30000 };
	uint8_t block[SNP_ID_BLOCK_SIZE], auth[SNP_ID_AUTH_SIZE], d1[48], d2[48], want[48];
	struct attest_verdict why = {0};

	memset(b.ld, 0xa5, sizeof b.ld);
	memset(b.family_id, 0x11, 16), memset(b.image_id, 0x22, 16);
	attest_snp_id_block_encode(&b, block);
	/* Without an author key. */
	TU_CHECK(attest_snp_id_auth_build(block, id, NULL, auth) == 0, "build");
	TU_CHECK(verify(block, auth, false, &why) == 1, "verifies: %s", why.reason);
	TU_CHECK(verify(block, auth, true, &why) == 0 && strstr(why.reason, "AUTH_KEY_ALGO"),
		 "author key enabled without one: %s", why.reason);
	/* With one; the digests are those of the keys. */
	TU_CHECK(attest_snp_id_auth_build(block, id, author, auth) == 0, "build with author");
	TU_CHECK(attest_snp_id_verify(block, sizeof block, auth, sizeof auth, true, d1, d2, &why) == 1,
		 "verifies with author: %s", why.reason);
	TU_CHECK(attest_snp_pubkey_digest(id, want) == 0 && memcmp(d1, want, 48) == 0, "ID digest");
	TU_CHECK(attest_snp_pubkey_digest(author, want) == 0 && memcmp(d2, want, 48) == 0,
		 "author digest");
	/* Every byte of what is signed and of what signs it. */
	flip_range(block, auth, block, 0, 0x50, "ID_BLOCK_SIG");
	flip_range(block, auth, block, 0x50, 4, "VERSION");
	flip_range(block, auth, block, 0x54, 0x0c, "ID_BLOCK_SIG");
	flip_range(block, auth, auth, 0x040, 0x90, "ID_BLOCK_SIG");      /* R, S */
	flip_range(block, auth, auth, 0x244, 0x90, "ID_");               /* ID_KEY QX, QY */
	flip_range(block, auth, auth, 0x680, 0x90, "ID_KEY_SIG");        /* R, S */
	flip_range(block, auth, auth, 0x884, 0x90, "AUTHOR_KEY");        /* QX, QY */
	flip_range(block, auth, auth, 0x000, 4, "ID_KEY_ALGO");
	flip_range(block, auth, auth, 0x004, 4, "AUTH_KEY_ALGO");
	flip_range(block, auth, auth, 0x240, 4, "ID_KEY");               /* curve */
	flip_range(block, auth, auth, 0x880, 4, "AUTHOR_KEY");           /* curve */
	/* Reserved bytes of a signature and a key must stay zero. */
	flip_range(block, auth, auth, 0x040 + 0x90, 8, "ID_BLOCK_SIG");
	flip_range(block, auth, auth, 0x240 + 0x94, 8, "ID_KEY");
}

static void test_wrong_keys(void)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	uint8_t block[SNP_ID_BLOCK_SIZE] = {}, auth[SNP_ID_AUTH_SIZE], pk[SNP_PUBKEY_SIZE];

	TU_CHECK(p256 && rsa, "keygen");
	TU_CHECK(attest_snp_pubkey_encode(p256, pk) == -EINVAL, "P-256 refused");
	TU_CHECK(attest_snp_pubkey_encode(rsa, pk) == -EINVAL, "RSA refused");
	TU_CHECK(attest_snp_id_auth_build(block, p256, NULL, auth) == -EINVAL, "P-256 ID key");
}

int main(void)
{
	test_block_layout();
	test_round_trip();
	test_wrong_keys();
	tu_done("test-snp-id");
}
