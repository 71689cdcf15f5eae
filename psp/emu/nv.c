/* NV file encoding and decoding for sev-psp-emu (see nv.h). Trusts nothing in the file: every
 * length is bounded, every certificate is parsed by attest/ and every private key must match
 * the public key of its certificate before the store is accepted. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"
#include "psp/emu/nv.h"

#define NV_MAGIC "SEVEMUNV"
#define NV_VERSION 1u
#define NV_HDR_SIZE 64u
#define NV_SUM_OFF 24u

enum nv_tag {
	NV_CUK = 1, NV_ARK_KEY, NV_ASK_KEY, NV_CEK_KEY, NV_ARK_CERT, NV_ASK_CERT, NV_CEK_CERT,
	NV_OWNER_FLAGS = 16, NV_OCA_KEY, NV_PEK_KEY, NV_PDH_KEY, NV_OCA_CERT, NV_PEK_CERT,
	NV_PDH_CERT,
	NV_COUNTERS = 32,
	NV_TAG_MAX_ = 33,
};
#define OWNER_VALID 1u
#define OWNER_EXT 2u

/* ---- encoding ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

/* The image holds private keys: build and read it in OpenSSL's secure heap (locked, not in core
 * dumps), or the ordinary heap when that is full or absent; OPENSSL_secure_clear_free wipes
 * and frees either. */
static void *nv_zalloc(size_t n)
{
	void *p = OPENSSL_secure_zalloc(n);

	return p ? p : OPENSSL_zalloc(n);
}

static void put(struct wbuf *w, uint16_t tag, const void *data, size_t len)
{
	uint8_t *np;

	if (w->err)
		return;
	if (w->len + 8 + len > w->cap) {
		size_t cap = (w->len + 8 + len) * 2;

		/* grow by copy so the old (secret) contents can be wiped */
		np = nv_zalloc(cap);
		if (!np) {
			w->err = -ENOMEM;
			return;
		}
		if (w->p)
			memcpy(np, w->p, w->len);
		OPENSSL_secure_clear_free(w->p, w->cap);
		w->p = np;
		w->cap = cap;
	}
	put_le16(w->p + w->len, tag);
	put_le16(w->p + w->len + 2, 0);
	put_le32(w->p + w->len + 4, (uint32_t)len);
	memcpy(w->p + w->len + 8, data, len);
	w->len += 8 + len;
}

static void put_key(struct wbuf *w, uint16_t tag, EVP_PKEY *k)
{
	uint8_t *der = NULL;
	size_t len;
	int r;

	if (!k)
		return;
	r = emu_key_to_der(k, &der, &len);
	if (r < 0) {
		w->err = r;
		return;
	}
	put(w, tag, der, len);
	OPENSSL_secure_clear_free(der, len);
}

static void put_amd(struct wbuf *w, uint16_t tag, const struct amd_cert *c)
{
	uint8_t buf[AMD_CERT_MAX_SIZE];
	size_t len;
	int r = attest_amd_cert_encode(c, buf, sizeof(buf), &len);

	if (r < 0)
		w->err = r;
	else
		put(w, tag, buf, len);
}

static void encode_payload(struct wbuf *w, const struct emu_nv_state *st)
{
	const struct emu_owner *o = &st->owner;
	uint8_t flags[4], counters[16];

	put_key(w, NV_CUK, st->chip.cuk);
	put_key(w, NV_ARK_KEY, st->chip.ark_key);
	put_key(w, NV_ASK_KEY, st->chip.ask_key);
	put_key(w, NV_CEK_KEY, st->chip.cek_key);
	put_amd(w, NV_ARK_CERT, &st->chip.ark);
	put_amd(w, NV_ASK_CERT, &st->chip.ask);
	put(w, NV_CEK_CERT, &st->chip.cek, sizeof(st->chip.cek));
	put_le32(flags, (o->valid ? OWNER_VALID : 0) | (o->ext_owned ? OWNER_EXT : 0));
	put(w, NV_OWNER_FLAGS, flags, sizeof(flags));
	if (o->valid) {
		put_key(w, NV_OCA_KEY, o->oca_key); /* absent when externally owned */
		put_key(w, NV_PEK_KEY, o->pek_key);
		put_key(w, NV_PDH_KEY, o->pdh_key);
		put(w, NV_OCA_CERT, &o->oca, sizeof(o->oca));
		put(w, NV_PEK_CERT, &o->pek, sizeof(o->pek));
		put(w, NV_PDH_CERT, &o->pdh, sizeof(o->pdh));
	}
	put_le64(counters, st->generation);
	put_le64(counters + 8, st->factory_resets);
	put(w, NV_COUNTERS, counters, sizeof(counters));
}

static int checksum(const uint8_t *hdr, const uint8_t *payload, size_t len, uint8_t ret[32])
{
	uint8_t h[NV_HDR_SIZE];
	unsigned n = 0;
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	memcpy(h, hdr, sizeof(h));
	memset(h + NV_SUM_OFF, 0, 32);
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, h, sizeof(h)) != 1 || EVP_DigestUpdate(ctx, payload, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, ret, &n) != 1 || n != 32)
		return -EIO;
	return 0;
}

int emu_nv_save(const char *path, struct emu_nv_state *st)
{
	struct wbuf w = { 0 };
	uint8_t *hdr;
	int r;

	st->generation++;
	w.cap = 16384; /* the header goes first; records follow */
	w.p = nv_zalloc(w.cap);
	if (!w.p)
		return -ENOMEM;
	w.len = NV_HDR_SIZE;
	encode_payload(&w, st);
	r = w.err;
	if (r < 0)
		goto out;
	hdr = w.p;
	memset(hdr, 0, NV_HDR_SIZE);
	memcpy(hdr, NV_MAGIC, 8);
	put_le32(hdr + 8, NV_VERSION);
	put_le32(hdr + 12, NV_HDR_SIZE);
	put_le64(hdr + 16, w.len - NV_HDR_SIZE);
	r = checksum(hdr, hdr + NV_HDR_SIZE, w.len - NV_HDR_SIZE, hdr + NV_SUM_OFF);
	if (r >= 0)
		r = write_file_atomic(path, w.p, w.len, 0600);
out:
	OPENSSL_secure_clear_free(w.p, w.cap);
	return r;
}

/* ---- decoding ---- */

struct rec {
	const uint8_t *p;
	size_t len;
	bool seen;
};

static int split_records(const uint8_t *p, size_t len, struct rec recs[NV_TAG_MAX_],
			 const char **reason)
{
	while (len > 0) {
		uint16_t tag;
		uint32_t rlen;

		if (len < 8)
			return *reason = "a record header is cut short", -EBADMSG;
		tag = get_le16(p);
		rlen = get_le32(p + 4);
		if (tag == 0 || tag >= NV_TAG_MAX_ || get_le16(p + 2) != 0)
			return *reason = "a record has an unknown tag", -EBADMSG;
		if (rlen > len - 8)
			return *reason = "a record runs past the end of the file", -EBADMSG;
		if (recs[tag].seen)
			return *reason = "a record appears twice", -EBADMSG;
		recs[tag] = (struct rec){ .p = p + 8, .len = rlen, .seen = true };
		p += 8 + rlen;
		len -= 8 + rlen;
	}
	return 0;
}

static int get_key(const struct rec *r, EVP_PKEY **ret, const char **reason)
{
	if (!r->seen)
		return *reason = "a private key is missing", -EBADMSG;
	if (emu_key_from_der(r->p, r->len, ret) < 0)
		return *reason = "a private key does not decode", -EBADMSG;
	return 0;
}

/* The certificate must parse and carry exactly the public half of key. */
static int get_sev_cert(const struct rec *r, EVP_PKEY *key, struct sev_cert *ret,
			const char **reason)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;

	if (!r->seen || r->len != SEV_CERT_SIZE)
		return *reason = "a SEV certificate is missing or has the wrong size", -EBADMSG;
	if (attest_sev_cert_parse(r->p, r->len, ret, NULL) < 0)
		return *reason = "a SEV certificate does not parse", -EBADMSG;
	if (attest_sev_cert_pubkey(ret, &pub) < 0 || EVP_PKEY_eq(pub, key) != 1)
		return *reason = "a SEV certificate does not match its private key", -EBADMSG;
	return 0;
}

static int get_amd_cert(const struct rec *r, EVP_PKEY *key, struct amd_cert *ret,
			const char **reason)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
	size_t used = 0;

	if (!r->seen || attest_amd_cert_parse(r->p, r->len, ret, &used, NULL) < 0 || used != r->len)
		return *reason = "an AMD root certificate is missing or does not parse", -EBADMSG;
	if (attest_amd_cert_pubkey(ret, &pub) < 0 || EVP_PKEY_eq(pub, key) != 1)
		return *reason = "an AMD root certificate does not match its private key", -EBADMSG;
	return 0;
}

static int decode_chip(const struct rec *recs, struct emu_chip *c, const char **reason)
{
	int r;

	if ((r = get_key(&recs[NV_CUK], &c->cuk, reason)) < 0 ||
	    (r = get_key(&recs[NV_ARK_KEY], &c->ark_key, reason)) < 0 ||
	    (r = get_key(&recs[NV_ASK_KEY], &c->ask_key, reason)) < 0 ||
	    (r = get_key(&recs[NV_CEK_KEY], &c->cek_key, reason)) < 0)
		return r;
	if (!EVP_PKEY_is_a(c->cuk, "EC"))
		return *reason = "the chip-unique key is not an EC key", -EBADMSG;
	if ((r = get_amd_cert(&recs[NV_ARK_CERT], c->ark_key, &c->ark, reason)) < 0 ||
	    (r = get_amd_cert(&recs[NV_ASK_CERT], c->ask_key, &c->ask, reason)) < 0)
		return r;
	return get_sev_cert(&recs[NV_CEK_CERT], c->cek_key, &c->cek, reason);
}

static int decode_owner(const struct rec *recs, struct emu_owner *o, const char **reason)
{
	const struct rec *f = &recs[NV_OWNER_FLAGS];
	uint32_t flags;
	int r;

	if (!f->seen || f->len != 4 || (get_le32(f->p) & ~(OWNER_VALID | OWNER_EXT)))
		return *reason = "the owner flags record is missing or malformed", -EBADMSG;
	flags = get_le32(f->p);
	o->valid = flags & OWNER_VALID;
	o->ext_owned = flags & OWNER_EXT;
	if (!o->valid)
		return 0;
	if ((r = get_key(&recs[NV_PEK_KEY], &o->pek_key, reason)) < 0 ||
	    (r = get_key(&recs[NV_PDH_KEY], &o->pdh_key, reason)) < 0 ||
	    (r = get_sev_cert(&recs[NV_PEK_CERT], o->pek_key, &o->pek, reason)) < 0 ||
	    (r = get_sev_cert(&recs[NV_PDH_CERT], o->pdh_key, &o->pdh, reason)) < 0)
		return r;
	if (o->ext_owned) {
		/* The owner's OCA: we have no key for it, only its (parsed) certificate. */
		if (recs[NV_OCA_KEY].seen || !recs[NV_OCA_CERT].seen ||
		    recs[NV_OCA_CERT].len != SEV_CERT_SIZE ||
		    attest_sev_cert_parse(recs[NV_OCA_CERT].p, SEV_CERT_SIZE, &o->oca, NULL) < 0)
			return *reason = "the imported OCA certificate is malformed", -EBADMSG;
		return 0;
	}
	if ((r = get_key(&recs[NV_OCA_KEY], &o->oca_key, reason)) < 0)
		return r;
	return get_sev_cert(&recs[NV_OCA_CERT], o->oca_key, &o->oca, reason);
}

static int check_header(const uint8_t *buf, size_t len, const char **reason)
{
	uint8_t sum[32];

	if (len < NV_HDR_SIZE)
		return *reason = "the file is shorter than its header (torn write?)", -EBADMSG;
	if (memcmp(buf, NV_MAGIC, 8) != 0)
		return *reason = "bad magic: not a sev-psp-emu NV file", -EBADMSG;
	if (get_le32(buf + 8) != NV_VERSION || get_le32(buf + 12) != NV_HDR_SIZE)
		return *reason = "unsupported NV format version", -EBADMSG;
	if (get_le64(buf + 16) != len - NV_HDR_SIZE)
		return *reason = "the payload length does not match the file size (torn write?)",
		       -EBADMSG;
	if (checksum(buf, buf + NV_HDR_SIZE, len - NV_HDR_SIZE, sum) < 0)
		return *reason = "cannot compute the checksum", -EIO;
	if (CRYPTO_memcmp(sum, buf + NV_SUM_OFF, 32) != 0)
		return *reason = "checksum mismatch (corrupted or torn)", -EBADMSG;
	return 0;
}

int emu_nv_decode(const uint8_t *buf, size_t len, struct emu_nv_state *ret, const char **reason)
{
	struct rec recs[NV_TAG_MAX_] = { 0 };
	struct emu_nv_state st = { 0 };
	int r;

	r = check_header(buf, len, reason);
	if (r < 0)
		return r;
	r = split_records(buf + NV_HDR_SIZE, len - NV_HDR_SIZE, recs, reason);
	if (r >= 0)
		r = decode_chip(recs, &st.chip, reason);
	if (r >= 0)
		r = decode_owner(recs, &st.owner, reason);
	if (r >= 0 && (!recs[NV_COUNTERS].seen || recs[NV_COUNTERS].len != 16))
		*reason = "the counters record is missing or malformed", r = -EBADMSG;
	if (r < 0) {
		emu_nv_state_clear(&st);
		return r;
	}
	st.generation = get_le64(recs[NV_COUNTERS].p);
	st.factory_resets = get_le64(recs[NV_COUNTERS].p + 8);
	*ret = st;
	return 0;
}

/* read_full_file, but into nv_zalloc memory sized by the file (the secure heap is small). */
static int read_secure(const char *path, uint8_t **ret, size_t *ret_len, size_t *ret_cap)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;
	size_t cap;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0)
		return negative_errno();
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > EMU_NV_MAX_SIZE)
		return -EFBIG;
	/* one byte more than expected, to see a file that grew; non-files: the maximum */
	cap = (S_ISREG(st.st_mode) ? (size_t)st.st_size : EMU_NV_MAX_SIZE) + 1;
	buf = nv_zalloc(cap);
	if (!buf)
		return -ENOMEM;
	n = loop_read(fd, buf, cap);
	if (n < 0 || (size_t)n > EMU_NV_MAX_SIZE) {
		OPENSSL_secure_clear_free(buf, cap);
		return n < 0 ? (int)n : -EFBIG;
	}
	*ret = buf;
	*ret_len = (size_t)n;
	*ret_cap = cap;
	return 0;
}

int emu_nv_load(const char *path, struct emu_nv_state *ret, const char **reason)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int r;

	r = read_secure(path, &buf, &len, &cap);
	if (r == -EFBIG)
		return *reason = "the file is larger than any NV image", -EBADMSG;
	if (r < 0)
		return *reason = "cannot read it", r;
	r = emu_nv_decode(buf, len, ret, reason);
	OPENSSL_secure_clear_free(buf, cap);
	return r;
}

void emu_nv_state_clear(struct emu_nv_state *st)
{
	emu_chip_clear(&st->chip);
	emu_owner_clear(&st->owner);
	memset(st, 0, sizeof(*st));
}
