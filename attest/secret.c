/* LAUNCH_SECRET packets: sealing by the guest owner (sevctl's table format, sev-tool's raw
 * mode) and opening by the firmware (AMD-ASPFW sev_mcmd.c launch_secret, sev_channel.c). The
 * owner trusts its TEK/TIK and measurement; the firmware side trusts nothing in the packet. */
#include "attest/secret.h"

#include <errno.h>
#include <string.h>

#include <openssl/rand.h>

#include "attest/guid.h"
#include "attest/kdf.h"
#include "attest/measurement.h"
#include "common/secret.h"
#include "common/util.h"

int attest_secret_table(const struct attest_secret *secrets, size_t n, uint8_t **ret,
			size_t *ret_len)
{
	uint8_t guid[16];
	size_t total = 16 + 4, off, padded;
	uint8_t *t;
	int r;

	for (size_t i = 0; i < n; i++) {
		size_t e = attest_guid_entry_size(secrets[i].len, 4);
		if (e == 0 || e > ATTEST_SECRET_MAX_LEN)
			return -EFBIG;
		total += e;
	}
	if (total > ATTEST_SECRET_MAX_LEN)
		return -EFBIG;
	padded = (total + 15) & ~(size_t)15;
	t = secret_alloc(padded);
	if (!t)
		return -ENOMEM;
	r = attest_guid_parse(ATTEST_SECRET_TABLE_GUID, guid);
	if (r < 0) {
		secret_free(t, padded);
		return r;
	}
	/* The header's length counts the entries but not the padding (sevctl build_table). */
	off = attest_guid_entry_put(t, guid, 4, NULL, 0);
	put_le32(t + 16, (uint32_t)total);
	for (size_t i = 0; i < n; i++)
		off += attest_guid_entry_put(t + off, secrets[i].guid, 4, secrets[i].data,
					     secrets[i].len);
	*ret = t;
	*ret_len = padded;
	return 0;
}

int attest_secret_mac(const uint8_t tik[16], uint32_t flags, const uint8_t iv[16],
		      uint32_t guest_len, const uint8_t *cipher, size_t trans_len,
		      const uint8_t *measure, uint8_t ret[32])
{
	uint8_t ctx = ATTEST_SECRET_CTX, f[4], glen[4], tlen[4];
	struct attest_part parts[] = {
		{ &ctx, 1 }, { f, 4 }, { iv, 16 }, { glen, 4 }, { tlen, 4 },
		{ cipher, trans_len }, { measure, measure ? 32 : 0 },
	};

	if (trans_len > UINT32_MAX)
		return -EFBIG;
	put_le32(f, flags);
	put_le32(glen, guest_len);
	put_le32(tlen, (uint32_t)trans_len);
	return attest_hmac_sha256(tik, 16, parts, ELEMENTSOF(parts), ret);
}

static const uint8_t *mac_measure(const struct attest_secret_key *k)
{
	/* sev-tool create_launch_secret_header: only firmware from API 0.17 on MACs it. */
	return attest_api_at_least(k->api_major, k->api_minor, 0, 17) ? k->measure : NULL;
}

int attest_secret_seal(const struct attest_secret_key *k, const uint8_t *iv, const uint8_t *plain,
		       size_t len, struct sev_secret_header *ret_hdr, uint8_t *ret_cipher)
{
	struct sev_secret_header h = {};
	int r;

	if (len == 0 || len > UINT32_MAX)
		return -EINVAL;
	if (iv)
		memcpy(h.iv, iv, sizeof h.iv);
	else if (RAND_bytes(h.iv, sizeof h.iv) != 1)
		return -EIO;
	r = attest_aes128_ctr(k->tk->tek, h.iv, plain, len, ret_cipher);
	if (r < 0)
		return r;
	/* sevctl and sev-tool send guest_len = trans_len: nothing is compressed. */
	r = attest_secret_mac(k->tk->tik, h.flags, h.iv, (uint32_t)len, ret_cipher, len,
			      mac_measure(k), h.mac);
	if (r < 0) {
		secret_wipe(ret_cipher, len);
		return r;
	}
	*ret_hdr = h;
	return 0;
}

static const char *const check_names[] = {
	[ATTEST_SECRET_OK] = "ok",
	[ATTEST_SECRET_BAD_LENGTH] = ("packet lengths are invalid (header must be 52 bytes; guest "
				      "and transport lengths equal, non-zero, a multiple of 16, at "
				      "most 0x5000)"),
	[ATTEST_SECRET_BAD_MAC] = ("packet MAC does not match (wrong TIK, measurement or "
				   "tampered packet)"),
	[ATTEST_SECRET_COMPRESSED] = "compressed secret packets are not supported",
};

const char *attest_secret_check_name(enum attest_secret_check c)
{
	if ((unsigned)c >= ELEMENTSOF(check_names))
		return "unknown check";
	return check_names[c];
}

int attest_secret_check_status(enum attest_secret_check c)
{
	static const int status[] = {
		[ATTEST_SECRET_OK] = SEV_STATUS_SUCCESS,
		[ATTEST_SECRET_BAD_LENGTH] = SEV_STATUS_INVALID_LEN,
		[ATTEST_SECRET_BAD_MAC] = SEV_STATUS_BAD_MEASUREMENT,
		[ATTEST_SECRET_COMPRESSED] = SEV_STATUS_UNSUPPORTED,
	};
	if ((unsigned)c >= ELEMENTSOF(status))
		return SEV_STATUS_INVALID_PARAM;
	return status[c];
}

/* v names check c; returns 0 (rejected). */
static int secret_reject(struct attest_verdict *v, enum attest_secret_check c)
{
	if (v)
		v->check = c;
	return attest_verdict_reject(v, attest_secret_check_name(c), 0);
}

int attest_secret_open(const struct attest_secret_key *k, const struct attest_secret_packet *p,
		       uint8_t *ret_plain, struct attest_verdict *v)
{
	struct sev_secret_header h;
	uint8_t mac[32];
	int r;

	if (!p->hdr || !p->trans || p->hdr_len != sizeof h || p->trans_len != p->guest_len ||
	    p->guest_len == 0 || p->guest_len % 16 != 0 || p->guest_len > ATTEST_SECRET_MAX_LEN)
		return secret_reject(v, ATTEST_SECRET_BAD_LENGTH);
	memcpy(&h, p->hdr, sizeof h);
	h.flags = get_le32(p->hdr); /* the packet is little-endian whatever the host is */
	memset(ret_plain, 0, p->trans_len);
	r = attest_secret_mac(k->tk->tik, h.flags, h.iv, p->guest_len, p->trans, p->trans_len,
			      mac_measure(k), mac);
	if (r < 0)
		return r;
	if (secret_memcmp(mac, h.mac, sizeof mac) != 0)
		return secret_reject(v, ATTEST_SECRET_BAD_MAC);
	/* The firmware decrypts before it looks at the flags; refusing first is equivalent. */
	if (h.flags & ATTEST_SECRET_FLAG_COMPRESSED)
		return secret_reject(v, ATTEST_SECRET_COMPRESSED);
	r = attest_aes128_ctr(k->tk->tek, h.iv, p->trans, p->trans_len, ret_plain);
	if (r < 0) {
		secret_wipe(ret_plain, p->trans_len);
		return r;
	}
	if (v) {
		v->ok = true;
		v->check = ATTEST_SECRET_OK;
	}
	return 1;
}
