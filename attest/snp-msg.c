/* The SEV-SNP guest message protocol, the guest's side (see snp-msg.h). */
#include "attest/snp-msg.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "common/ossl.h"
#include "common/util.h"

#define AAD_OFF 0x30u
#define AAD_LEN 0x30u
#define TAG_LEN 16u

static void iv_of(uint64_t seqno, uint8_t iv[12])
{
	memset(iv, 0, 12);
	put_le64(iv, seqno);
}

int attest_snp_msg_seal(const uint8_t vmpck[ATTEST_SNP_VMPCK_SIZE], uint8_t vmpck_id,
			uint64_t seqno, uint8_t msg_type, const void *payload, size_t len,
			uint8_t *page, size_t cap)
{
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *c = NULL;
	uint8_t iv[12], *h = page;
	int n;

	if (len == 0 || len % 16 || len > UINT16_MAX || cap < ATTEST_SNP_MSG_HDR_SIZE ||
	    len > cap - ATTEST_SNP_MSG_HDR_SIZE || vmpck_id > 3)
		return -EINVAL;
	memset(h, 0, ATTEST_SNP_MSG_HDR_SIZE);
	put_le64(h + 0x20, seqno);
	h[0x30] = 1; /* AES-256-GCM */
	h[0x31] = 1; /* header version */
	put_le16(h + 0x32, ATTEST_SNP_MSG_HDR_SIZE);
	h[0x34] = msg_type;
	h[0x35] = 1; /* message version */
	put_le16(h + 0x36, (uint16_t)len);
	h[0x3c] = vmpck_id;
	memmove(h + ATTEST_SNP_MSG_HDR_SIZE, payload, len);
	iv_of(seqno, iv);
	c = EVP_CIPHER_CTX_new();
	if (!c || EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, vmpck, iv) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &n, h + AAD_OFF, AAD_LEN) != 1 ||
	    EVP_EncryptUpdate(c, h + ATTEST_SNP_MSG_HDR_SIZE, &n, h + ATTEST_SNP_MSG_HDR_SIZE,
			      (int)len) != 1 ||
	    EVP_EncryptFinal_ex(c, h + ATTEST_SNP_MSG_HDR_SIZE + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, h) != 1)
		return -EIO;
	return 0;
}

int attest_snp_msg_open(const uint8_t vmpck[ATTEST_SNP_VMPCK_SIZE], uint8_t vmpck_id,
			uint64_t seqno, uint8_t msg_type, uint8_t *page, size_t len,
			const uint8_t **payload, size_t *payload_len, struct attest_verdict *v)
{
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *c = NULL;
	uint8_t iv[12], tag[TAG_LEN], *h = page;
	size_t n_payload;
	int n;

	if (len < ATTEST_SNP_MSG_HDR_SIZE)
		return attest_verdict_reject(
		    v, "shorter than the 0x60-byte message header", -EBADMSG);
	if (h[0x30] != 1 || h[0x31] != 1 || get_le16(h + 0x32) != ATTEST_SNP_MSG_HDR_SIZE)
		return attest_verdict_reject(
		    v, "not an AES-256-GCM message with a version 1 header of 0x60 bytes",
		    -EBADMSG);
	if (h[0x34] != msg_type || h[0x35] != 1)
		return attest_verdict_reject(
		    v, "not the expected message type and version", -EBADMSG);
	if (h[0x3c] != vmpck_id || get_le64(h + 0x20) != seqno)
		return attest_verdict_reject(
		    v, "not the expected VMPCK or sequence number (a replay?)", -EBADMSG);
	n_payload = get_le16(h + 0x36);
	if (n_payload == 0 || n_payload > len - ATTEST_SNP_MSG_HDR_SIZE)
		return attest_verdict_reject(
		    v, "the payload size is 0 or runs past the message", -EBADMSG);
	memcpy(tag, h, TAG_LEN);
	iv_of(seqno, iv);
	c = EVP_CIPHER_CTX_new();
	if (!c || EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, vmpck, iv) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &n, h + AAD_OFF, AAD_LEN) != 1 ||
	    EVP_DecryptUpdate(c, h + ATTEST_SNP_MSG_HDR_SIZE, &n, h + ATTEST_SNP_MSG_HDR_SIZE,
			      (int)n_payload) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
		return -EIO;
	if (EVP_DecryptFinal_ex(c, h + ATTEST_SNP_MSG_HDR_SIZE + n, &n) != 1) {
		OPENSSL_cleanse(h + ATTEST_SNP_MSG_HDR_SIZE, n_payload); /* unauthenticated */
		return attest_verdict_reject(
		    v, "the authentication tag does not verify (wrong VMPCK or tampered)",
		    -EBADMSG);
	}
	*payload = h + ATTEST_SNP_MSG_HDR_SIZE;
	*payload_len = n_payload;
	return 0;
}
