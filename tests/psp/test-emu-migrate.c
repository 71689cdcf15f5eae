/* sev-psp-emu, migration between two real emulator processes with different chip identities
 * (two NV files): a guest launched with an owner's secret on A is sent to B page by page
 * (SEND_START with B's PDH, SEND_UPDATE_DATA, SEND_FINISH; RECEIVE_START with A's PDH and the
 * session, RECEIVE_UPDATE_DATA, RECEIVE_FINISH); B's plaintext view equals A's, every host
 * buffer on the way (both memfds, the packets) holds only ciphertext. Then the refusals, by
 * status name, as AMD-ASPFW sev_mcmd.c answers them: NOSEND, DOMAIN with another owner, SEV
 * with a broken chain, a tampered packet (data or MAC: BAD_MEASUREMENT, nothing written), a
 * session opened with the wrong PDH, every command in a wrong guest state, and the length
 * queries. Last an SEV-ES guest: its VMSA page moves too, into an ES ASID on the target. */
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "attest/secret.h"
#include "common/macros.h"
#include "psp/commands.h"
#include "psp/psp-emu.h"
#include "tests/psp/test-emu-guest-util.h"

#define IMAGE_SIZE (32u * 1024u)
#define SECRET_OFF IMAGE_SIZE
#define MEM_SIZE (IMAGE_SIZE + 4096u)
#define PAGES (MEM_SIZE / 4096u)
#define POLICY_MOVE SEV_POLICY_NODBG
#define ASID_A GT_MIN_SEV_ASID
#define ASID_B (GT_MIN_SEV_ASID + 7)

/* Scratch layout in each side's buffer memfd (the host's command blobs). */
#define OFF_SESSION 0x0000u
#define OFF_PDH 0x1000u
#define OFF_CHAIN 0x2000u /* PEK ‖ OCA ‖ CEK */
#define OFF_AMD 0x5000u	  /* ASK ‖ ARK */
#define OFF_HDR 0x7000u
#define OFF_TRANS 0x8000u
#define BUF_SIZE 0x10000u

static const char secret_text[] = "migrated-secret-0123456789abcdef-owner!!"; /* 40 + NUL */

struct side {
	struct emu_rig r;
	struct gt_mem buf; /* command blobs */
	struct sev_cert pdh, chain[3];
};

struct packet {
	struct sev_packet_header hdr;
	uint8_t data[4096];
};

static void side_up(struct side *s)
{
	_cleanup_free_ uint8_t *p = NULL, *chain = NULL;
	size_t pl = 0, cl = 0;

	rig_up(&s->r, NULL);
	gt_platform_ready(s->r.t, false);
	gt_mem_new(s->r.t, BUF_SIZE, &s->buf);
	TU_CHECK_EQ(psp_cmd_pdh_cert_export(s->r.t, &p, &pl, &chain, &cl, NULL), 0);
	TU_CHECK(pl == SEV_CERT_SIZE && cl == SEV_CERT_CHAIN_SIZE, "export sizes");
	memcpy(&s->pdh, p, SEV_CERT_SIZE);
	memcpy(s->chain, chain, SEV_CERT_CHAIN_SIZE);
}

static void side_down(struct side *s)
{
	gt_mem_free(&s->buf);
	rig_down(&s->r);
}

/* The CTL certificate (the signed CEK, ASK, ARK: what AMD's key server hands out). */
static size_t get_cert(struct side *s, const char *which, uint8_t *out, size_t cap)
{
	_cleanup_free_ uint8_t *reply = NULL;
	char line[32];
	size_t len = 0;

	snprintf(line, sizeof(line), "get-cert %s", which);
	TU_CHECK(psp_emu_ctl(s->r.t, line, &reply, &len) == 0 && len <= cap, "CTL %s", line);
	memcpy(out, reply, len);
	return len;
}

/* A guest launched on s with the owner's secret and RUNNING on ASID_A; the image in *image. */
static uint32_t launch_running(struct side *s, struct gt_mem *m, uint32_t policy, uint8_t *image,
			       uint8_t *secret)
{
	struct psp_transport *t = s->r.t;
	struct sev_cmd_platform_status ps = platform_status(t);
	struct attest_tk tk;
	struct sev_secret_header hdr;
	uint8_t blob[SEV_MEASURE_BLOB_SIZE], cipher[48];
	uint32_t h = 0;
	int pr = 0;

	gt_mem_new(t, MEM_SIZE, m);
	TU_CHECK(RAND_bytes(image, IMAGE_SIZE) == 1, "RAND_bytes");
	memcpy(m->ptr, image, IMAGE_SIZE);
	memset(secret, 0, 48);
	memcpy(secret, secret_text, sizeof(secret_text));
	GT_EXPECT(gt_launch(t, policy, &s->pdh, &tk, &h), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(psp_cmd_activate(t, h, ASID_A, &pr), 0);
	TU_CHECK_EQ(psp_cmd_launch_update_data(t, h, m->base, IMAGE_SIZE, &pr), 0);
	TU_CHECK_EQ(psp_cmd_launch_measure(t, h, blob, &pr), 0);
	TU_CHECK(
	    attest_secret_seal(&(struct attest_secret_key){&tk, blob, ps.api_major, ps.api_minor},
			       NULL, secret, 48, &hdr, cipher) == 0,
	    "seal");
	TU_CHECK_EQ(psp_cmd_launch_secret(t, h, &hdr, m->base + SECRET_OFF, 48, cipher, 48, &pr),
		    0);
	TU_CHECK_EQ(psp_cmd_launch_finish(t, h, &pr), 0);
	TU_CHECK_EQ(gt_guest_status(t, h).state, SEV_GSTATE_RUNNING);
	return h;
}

/* SEND_START on src for dst's PDH (and chain, when chain is set); the session lands in
 * *session. */
static int send_start(struct side *src, uint32_t h, const struct side *dst, bool chain,
		      struct sev_session_blob *session)
{
	struct gt_mem *b = &src->buf;
	struct sev_cmd_send_start c = {
	    .handle = h,
	    .pdh_cert_address = b->base + OFF_PDH,
	    .pdh_cert_len = SEV_CERT_SIZE,
	    .session_address = b->base + OFF_SESSION,
	    .session_len = sizeof(*session),
	};
	int st;

	memcpy(b->ptr + OFF_PDH, &dst->pdh, SEV_CERT_SIZE);
	if (chain) {
		c.plat_certs_address = b->base + OFF_CHAIN;
		c.plat_certs_len = SEV_CERT_CHAIN_SIZE;
		c.amd_certs_address = b->base + OFF_AMD;
		c.amd_certs_len = (uint32_t)get_cert((struct side *)dst, "ask", b->ptr + OFF_AMD,
						     0x1000);
		c.amd_certs_len += (uint32_t)get_cert((struct side *)dst, "ark",
						      b->ptr + OFF_AMD + c.amd_certs_len, 0x1000);
		memcpy(b->ptr + OFF_CHAIN, dst->chain, SEV_CERT_CHAIN_SIZE);
		/* PDH_CERT_EXPORT's CEK is unsigned: the signed one comes from the key server */
		get_cert((struct side *)dst, "cek", b->ptr + OFF_CHAIN + 2 * SEV_CERT_SIZE,
			 SEV_CERT_SIZE);
	}
	st = fw(src->r.t, SEV_CMD_SEND_START, &c);
	if (st == SEV_STATUS_SUCCESS) {
		memcpy(session, b->ptr + OFF_SESSION, sizeof(*session));
		TU_CHECK_EQ(c.policy, gt_guest_status(src->r.t, h).policy);
	}
	return st;
}

/* One transfer command (SEND_UPDATE_* or RECEIVE_UPDATE_*) through s's buffer. */
static int transfer(struct side *s, uint32_t cmd, uint32_t h, uint64_t gaddr, uint32_t len,
		    struct packet *p)
{
	struct gt_mem *b = &s->buf;
	struct sev_cmd_transfer c = {
	    .handle = h,
	    .hdr_address = b->base + OFF_HDR,
	    .hdr_len = SEV_PACKET_HDR_SIZE,
	    .guest_address = gaddr,
	    .guest_len = len,
	    .trans_address = b->base + OFF_TRANS,
	    .trans_len = len,
	};
	int st;

	if (cmd == SEV_CMD_RECEIVE_UPDATE_DATA || cmd == SEV_CMD_RECEIVE_UPDATE_VMSA) {
		memcpy(b->ptr + OFF_HDR, &p->hdr, sizeof(p->hdr));
		memcpy(b->ptr + OFF_TRANS, p->data, len);
	}
	st = fw(s->r.t, cmd, &c);
	if (st == SEV_STATUS_SUCCESS && cmd == SEV_CMD_SEND_UPDATE_DATA) {
		memcpy(&p->hdr, b->ptr + OFF_HDR, sizeof(p->hdr));
		memcpy(p->data, b->ptr + OFF_TRANS, len);
	}
	return st;
}

static int receive_start(struct side *dst, const struct side *src, uint32_t policy,
			 const struct sev_session_blob *session, uint32_t *ret_h)
{
	struct gt_mem *b = &dst->buf;
	struct sev_cmd_receive_start c = {
	    .policy = policy,
	    .pdh_cert_address = b->base + OFF_PDH,
	    .pdh_cert_len = SEV_CERT_SIZE,
	    .session_address = b->base + OFF_SESSION,
	    .session_len = sizeof(*session),
	};
	int st;

	memcpy(b->ptr + OFF_PDH, &src->pdh, SEV_CERT_SIZE);
	memcpy(b->ptr + OFF_SESSION, session, sizeof(*session));
	st = fw(dst->r.t, SEV_CMD_RECEIVE_START, &c);
	*ret_h = c.handle;
	return st;
}

static int cmd_handle(struct side *s, uint32_t cmd, uint32_t h)
{
	struct sev_cmd_handle c = {.handle = h};

	return fw(s->r.t, cmd, &c);
}

static uint8_t *view_of(struct side *s, uint32_t h, size_t size)
{
	char text[256];
	int fd = -1;
	uint8_t *v;

	TU_CHECK(gt_ctl_memfd(s->r.emu.socket, h, &fd, text, sizeof(text)) == 0, "guest-memfd: %s",
		 text);
	v = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	TU_CHECK(v != MAP_FAILED, "mmap view: %m");
	close(fd);
	return v;
}

static void no_plaintext(const uint8_t *hay, size_t n, const uint8_t *image, const uint8_t *secret,
			 const char *what)
{
	TU_CHECK(!gt_any_window_in(hay, n, image, IMAGE_SIZE), "%s holds image plaintext", what);
	TU_CHECK(!gt_any_window_in(hay, n, secret, 48), "%s holds the secret in plaintext", what);
}

/* A → B end to end, with a tampered packet refused on the way (then the genuine one taken). */
static void test_migrate(struct side *a, struct side *b)
{
	struct gt_mem ma, mb;
	struct sev_session_blob session;
	_cleanup_free_ struct packet *pk = calloc(PAGES, sizeof(*pk));
	_cleanup_free_ uint8_t *all = malloc(PAGES * 4096u);
	uint8_t image[IMAGE_SIZE], secret[48], before[4096], *va, *vb;
	uint32_t ha, hb = 0;

	TU_CHECK(pk && all, "calloc");
	TU_CHECK(memcmp(&a->pdh, &b->pdh, SEV_CERT_SIZE) != 0, "the two chips share a PDH");
	ha = launch_running(a, &ma, POLICY_MOVE, image, secret);
	va = view_of(a, ha, MEM_SIZE);

	GT_EXPECT(send_start(a, ha, b, false, &session), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_status(a->r.t, ha).state, SEV_GSTATE_SUPDATE);
	for (uint32_t i = 0; i < PAGES; i++) {
		GT_EXPECT(transfer(a, SEV_CMD_SEND_UPDATE_DATA, ha, ma.base + i * 4096u, 4096, &pk[i]),
			  SEV_STATUS_SUCCESS);
		memcpy(all + i * 4096u, pk[i].data, 4096);
	}
	no_plaintext(all, PAGES * 4096u, image, secret, "the packets");
	no_plaintext(ma.ptr, ma.size, image, secret, "A's host memory");
	GT_EXPECT(cmd_handle(a, SEV_CMD_SEND_FINISH, ha), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_status(a->r.t, ha).state, SEV_GSTATE_SENT);

	gt_mem_new(b->r.t, MEM_SIZE, &mb);
	GT_EXPECT(receive_start(b, a, POLICY_MOVE, &session, &hb), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_status(b->r.t, hb).state, SEV_GSTATE_RUPDATE);
	/* KVM's order: the ASID right after RECEIVE_START; before it, INACTIVE */
	GT_EXPECT(transfer(b, SEV_CMD_RECEIVE_UPDATE_DATA, hb, mb.base, 4096, &pk[0]),
		  SEV_STATUS_INACTIVE);
	{
		struct sev_cmd_activate act = {.handle = hb, .asid = ASID_B};

		GT_EXPECT(fw(b->r.t, SEV_CMD_ACTIVATE, &act), SEV_STATUS_SUCCESS);
	}
	for (uint32_t i = 0; i < PAGES; i++) {
		uint64_t ga = mb.base + i * 4096u;

		if (i == 1) { /* a flipped ciphertext bit, then a flipped MAC bit: refused */
			struct packet bad = pk[i];

			memcpy(before, mb.ptr + i * 4096u, 4096);
			bad.data[100] ^= 0x01;
			GT_EXPECT(transfer(b, SEV_CMD_RECEIVE_UPDATE_DATA, hb, ga, 4096, &bad),
				  SEV_STATUS_BAD_MEASUREMENT);
			bad = pk[i];
			bad.hdr.mac[0] ^= 0x80;
			GT_EXPECT(transfer(b, SEV_CMD_RECEIVE_UPDATE_DATA, hb, ga, 4096, &bad),
				  SEV_STATUS_BAD_MEASUREMENT);
			bad = pk[i];
			bad.hdr.flags = 1; /* compressed */
			GT_EXPECT(transfer(b, SEV_CMD_RECEIVE_UPDATE_DATA, hb, ga, 4096, &bad),
				  SEV_STATUS_UNSUPPORTED);
			TU_CHECK_MEM(mb.ptr + i * 4096u, before, 4096);
			TU_CHECK_EQ(gt_guest_status(b->r.t, hb).state, SEV_GSTATE_RUPDATE);
		}
		GT_EXPECT(transfer(b, SEV_CMD_RECEIVE_UPDATE_DATA, hb, ga, 4096, &pk[i]),
			  SEV_STATUS_SUCCESS);
	}
	GT_EXPECT(cmd_handle(b, SEV_CMD_RECEIVE_FINISH, hb), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_status(b->r.t, hb).state, SEV_GSTATE_RUNNING);
	TU_CHECK_EQ(gt_guest_status(b->r.t, hb).asid, ASID_B);
	TU_CHECK_EQ(gt_guest_status(b->r.t, hb).policy, POLICY_MOVE);
	no_plaintext(mb.ptr, mb.size, image, secret, "B's host memory");
	vb = view_of(b, hb, MEM_SIZE);
	TU_CHECK_MEM(vb, va, MEM_SIZE);
	TU_CHECK_MEM(vb, image, IMAGE_SIZE);
	TU_CHECK_MEM(vb + SECRET_OFF, secret, sizeof(secret));
	/* the same plaintext under B's own memory key: B's ciphertext is not A's */
	TU_CHECK(memcmp(mb.ptr, ma.ptr, IMAGE_SIZE) != 0, "B's ciphertext equals A's");

	/* A's sent guest may not run again; it goes away as any guest does */
	{
		struct sev_cmd_activate act = {.handle = ha, .asid = ASID_A + 1};

		GT_EXPECT(fw(a->r.t, SEV_CMD_DEACTIVATE, &(struct sev_cmd_handle){.handle = ha}),
			  SEV_STATUS_SUCCESS);
		GT_EXPECT(fw(a->r.t, SEV_CMD_ACTIVATE, &act), SEV_STATUS_INVALID_GUEST_STATE);
	}
	GT_EXPECT(cmd_handle(a, SEV_CMD_DECOMMISSION, ha), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_count(a->r.t), 0);
	TU_CHECK_EQ(gt_guest_count(b->r.t), 1);
	munmap(va, MEM_SIZE);
	munmap(vb, MEM_SIZE);
	GT_EXPECT(cmd_handle(b, SEV_CMD_DEACTIVATE, hb), SEV_STATUS_SUCCESS);
	GT_EXPECT(cmd_handle(b, SEV_CMD_DECOMMISSION, hb), SEV_STATUS_SUCCESS);
	gt_mem_free(&ma);
	gt_mem_free(&mb);
}

/* Policy refusals on the source, and a session that does not open on the target. */
static void test_policies(struct side *a, struct side *b)
{
	struct gt_mem m;
	struct sev_session_blob session;
	uint8_t image[IMAGE_SIZE], secret[48];
	uint32_t h, hb = 0;

	gt_platform_ready(a->r.t, false);
	gt_platform_ready(b->r.t, false);
	h = launch_running(a, &m, POLICY_MOVE | SEV_POLICY_NOSEND, image, secret);
	GT_EXPECT(send_start(a, h, b, false, &session), SEV_STATUS_POLICY_FAILURE);
	TU_CHECK_EQ(gt_guest_status(a->r.t, h).state, SEV_GSTATE_RUNNING);
	gt_platform_ready(a->r.t, false);
	gt_mem_free(&m);

	/* DOMAIN: B's OCA is its own, not A's → POLICY_FAILURE; to A itself it holds */
	h = launch_running(a, &m, POLICY_MOVE | SEV_POLICY_DOMAIN, image, secret);
	GT_EXPECT(send_start(a, h, b, true, &session), SEV_STATUS_POLICY_FAILURE);
	GT_EXPECT(send_start(a, h, a, true, &session), SEV_STATUS_SUCCESS);
	GT_EXPECT(cmd_handle(a, SEV_CMD_SEND_CANCEL, h), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_status(a->r.t, h).state, SEV_GSTATE_RUNNING);
	gt_platform_ready(a->r.t, false);
	gt_mem_free(&m);

	/* SEV: B's whole chain verifies; a flipped bit in B's PDH signature does not */
	h = launch_running(a, &m, POLICY_MOVE | SEV_POLICY_SEV, image, secret);
	GT_EXPECT(send_start(a, h, b, true, &session), SEV_STATUS_SUCCESS);
	GT_EXPECT(cmd_handle(a, SEV_CMD_SEND_CANCEL, h), SEV_STATUS_SUCCESS);
	{
		struct side bad = *b;

		((uint8_t *)&bad.pdh)[0x430] ^= 0x01; /* r of signature slot 1 */
		GT_EXPECT(send_start(a, h, &bad, true, &session), SEV_STATUS_INVALID_CERTIFICATE);
		bad = *b;
		((uint8_t *)&bad.chain[0])[0x430] ^= 0x01; /* r of both of the PEK's signatures */
		((uint8_t *)&bad.chain[0])[0x630] ^= 0x01;
		GT_EXPECT(send_start(a, h, &bad, true, &session), SEV_STATUS_INVALID_CERTIFICATE);
	}
	gt_platform_ready(a->r.t, false);
	gt_mem_free(&m);

	/* the session opens only with A's PDH, and only for the policy it was made for */
	h = launch_running(a, &m, POLICY_MOVE, image, secret);
	GT_EXPECT(send_start(a, h, b, false, &session), SEV_STATUS_SUCCESS);
	GT_EXPECT(receive_start(b, b, POLICY_MOVE, &session, &hb), SEV_STATUS_BAD_MEASUREMENT);
	GT_EXPECT(receive_start(b, a, POLICY_MOVE | SEV_POLICY_NOKS, &session, &hb),
		  SEV_STATUS_BAD_MEASUREMENT);
	TU_CHECK_EQ(gt_guest_count(b->r.t), 0);
	GT_EXPECT(receive_start(b, a, POLICY_MOVE, &session, &hb), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_count(b->r.t), 1);
	TU_CHECK_EQ(platform_status(b->r.t).state, SEV_PSTATE_WORKING);
	gt_platform_ready(a->r.t, false);
	gt_platform_ready(b->r.t, false);
	gt_mem_free(&m);
}

/* Every SEND_* / RECEIVE_* in a guest state it is not legal in, unknown handles, length
 * queries, and the platform states the dispatcher refuses. */
static void test_states(struct side *a, struct side *b)
{
	struct psp_transport *t = a->r.t;
	struct gt_mem m;
	struct sev_session_blob session;
	struct packet p = {0};
	uint8_t image[IMAGE_SIZE], secret[48];
	uint32_t h, hl = 0, hb = 0;

	/* INIT: only RECEIVE_START may start there (and fails here on the session) */
	GT_EXPECT(send_start(a, 1, b, false, &session), SEV_STATUS_INVALID_PLATFORM_STATE);
	GT_EXPECT(cmd_handle(a, SEV_CMD_RECEIVE_FINISH, 1), SEV_STATUS_INVALID_PLATFORM_STATE);
	h = launch_running(a, &m, POLICY_MOVE, image, secret);
	GT_EXPECT(gt_launch(t, POLICY_MOVE, NULL, NULL, &hl), SEV_STATUS_SUCCESS); /* LUPDATE */

	GT_EXPECT(send_start(a, 999, b, false, &session), SEV_STATUS_INVALID_GUEST);
	GT_EXPECT(send_start(a, hl, b, false, &session), SEV_STATUS_INVALID_GUEST_STATE);
	{ /* session length query */
		struct sev_cmd_send_start c = {.handle = h};

		GT_EXPECT(fw(t, SEV_CMD_SEND_START, &c), SEV_STATUS_INVALID_LEN);
		TU_CHECK_EQ(c.session_len, sizeof(struct sev_session_blob));
	}
	{ /* header length query */
		struct sev_cmd_transfer c = {.handle = h};

		GT_EXPECT(fw(t, SEV_CMD_SEND_UPDATE_DATA, &c), SEV_STATUS_INVALID_LEN);
		TU_CHECK_EQ(c.hdr_len, SEV_PACKET_HDR_SIZE);
	}
	/* RUNNING: no SEND_UPDATE/FINISH/CANCEL yet, no RECEIVE_* at all */
	GT_EXPECT(transfer(a, SEV_CMD_SEND_UPDATE_DATA, h, m.base, 4096, &p),
		  SEV_STATUS_INVALID_GUEST_STATE);
	GT_EXPECT(cmd_handle(a, SEV_CMD_SEND_FINISH, h), SEV_STATUS_INVALID_GUEST_STATE);
	GT_EXPECT(cmd_handle(a, SEV_CMD_SEND_CANCEL, h), SEV_STATUS_INVALID_GUEST_STATE);
	GT_EXPECT(transfer(a, SEV_CMD_RECEIVE_UPDATE_DATA, h, m.base, 4096, &p),
		  SEV_STATUS_INVALID_GUEST_STATE);
	GT_EXPECT(cmd_handle(a, SEV_CMD_RECEIVE_FINISH, h), SEV_STATUS_INVALID_GUEST_STATE);
	GT_EXPECT(cmd_handle(a, SEV_CMD_SEND_FINISH, 999), SEV_STATUS_INVALID_GUEST);
	GT_EXPECT(cmd_handle(a, SEV_CMD_RECEIVE_FINISH, 999), SEV_STATUS_INVALID_GUEST);

	/* SUPDATE: no LAUNCH_*, no second SEND_START, VMSA only for SEV-ES, lengths */
	GT_EXPECT(send_start(a, h, b, false, &session), SEV_STATUS_SUCCESS);
	GT_EXPECT(send_start(a, h, b, false, &session), SEV_STATUS_INVALID_GUEST_STATE);
	GT_EXPECT(transfer(a, SEV_CMD_SEND_UPDATE_VMSA, h, m.base, 4096, &p),
		  SEV_STATUS_UNSUPPORTED);
	GT_EXPECT(transfer(a, SEV_CMD_SEND_UPDATE_DATA, h, m.base, 0, &p), SEV_STATUS_INVALID_LEN);
	GT_EXPECT(transfer(a, SEV_CMD_SEND_UPDATE_DATA, h, m.base, 24, &p),
		  SEV_STATUS_INVALID_LEN);
	GT_EXPECT(transfer(a, SEV_CMD_SEND_UPDATE_DATA, h, m.base + 8, 16, &p),
		  SEV_STATUS_INVALID_ADDRESS);
	GT_EXPECT(transfer(a, SEV_CMD_SEND_UPDATE_DATA, h, m.base + m.size, 16, &p),
		  SEV_STATUS_INVALID_ADDRESS);
	GT_EXPECT(transfer(a, SEV_CMD_RECEIVE_UPDATE_DATA, h, m.base, 4096, &p),
		  SEV_STATUS_INVALID_GUEST_STATE);
	GT_EXPECT(cmd_handle(a, SEV_CMD_LAUNCH_FINISH, h), SEV_STATUS_INVALID_GUEST_STATE);
	GT_EXPECT(cmd_handle(a, SEV_CMD_SEND_CANCEL, h), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(gt_guest_status(t, h).state, SEV_GSTATE_RUNNING);
	/* SEND_CANCEL wiped the channel: a new SEND_START makes a new session */
	{
		struct sev_session_blob again;

		GT_EXPECT(send_start(a, h, b, false, &again), SEV_STATUS_SUCCESS);
		TU_CHECK(memcmp(&again, &session, sizeof(again)) != 0, "the same session twice");
		session = again;
	}
	GT_EXPECT(cmd_handle(a, SEV_CMD_SEND_FINISH, h), SEV_STATUS_SUCCESS);
	/* SENT: nothing more to send */
	GT_EXPECT(transfer(a, SEV_CMD_SEND_UPDATE_DATA, h, m.base, 4096, &p),
		  SEV_STATUS_INVALID_GUEST_STATE);
	GT_EXPECT(cmd_handle(a, SEV_CMD_SEND_CANCEL, h), SEV_STATUS_INVALID_GUEST_STATE);
	GT_EXPECT(send_start(a, h, b, false, &session), SEV_STATUS_INVALID_GUEST_STATE);

	/* RUPDATE on B: no SEND_*, no LAUNCH_*; lengths of RECEIVE_UPDATE_DATA */
	GT_EXPECT(receive_start(b, a, POLICY_MOVE, &session, &hb), SEV_STATUS_SUCCESS);
	{
		struct sev_cmd_activate act = {.handle = hb, .asid = ASID_B};

		GT_EXPECT(fw(b->r.t, SEV_CMD_ACTIVATE, &act), SEV_STATUS_SUCCESS);
	}
	GT_EXPECT(send_start(b, hb, a, false, &session), SEV_STATUS_INVALID_GUEST_STATE);
	GT_EXPECT(cmd_handle(b, SEV_CMD_SEND_FINISH, hb), SEV_STATUS_INVALID_GUEST_STATE);
	GT_EXPECT(transfer(b, SEV_CMD_SEND_UPDATE_DATA, hb, m.base, 4096, &p),
		  SEV_STATUS_INVALID_GUEST_STATE);
	GT_EXPECT(cmd_handle(b, SEV_CMD_LAUNCH_FINISH, hb), SEV_STATUS_INVALID_GUEST_STATE);
	GT_EXPECT(transfer(b, SEV_CMD_RECEIVE_UPDATE_VMSA, hb, 0, 4096, &p),
		  SEV_STATUS_UNSUPPORTED);
	{
		struct sev_cmd_transfer c = {.handle = hb, .guest_len = 32, .trans_len = 16,
					     .hdr_len = SEV_PACKET_HDR_SIZE};

		GT_EXPECT(fw(b->r.t, SEV_CMD_RECEIVE_UPDATE_DATA, &c), SEV_STATUS_INVALID_LEN);
		c.trans_len = 32;
		c.hdr_len = 8;
		GT_EXPECT(fw(b->r.t, SEV_CMD_RECEIVE_UPDATE_DATA, &c), SEV_STATUS_INVALID_LEN);
	}
	GT_EXPECT(cmd_handle(b, SEV_CMD_RECEIVE_FINISH, hb), SEV_STATUS_SUCCESS);
	GT_EXPECT(cmd_handle(b, SEV_CMD_RECEIVE_FINISH, hb), SEV_STATUS_INVALID_GUEST_STATE);
	TU_CHECK_EQ(gt_guest_status(b->r.t, hb).asid, ASID_B);
	gt_platform_ready(a->r.t, false);
	gt_platform_ready(b->r.t, false);
	gt_mem_free(&m);
}

/* SEV-ES: the data pages and one VMSA page move; the target's ASID comes from the ES range
 * (an SEV ASID answers INVALID_ASID), and B's view holds the VMSA where A's did. */
static void test_es(struct side *a, struct side *b)
{
	struct psp_transport *t = a->r.t;
	struct gt_mem ma, mb;
	struct sev_session_blob session;
	struct packet pk[2];
	uint8_t vmsa[4096], blob[SEV_MEASURE_BLOB_SIZE], *va, *vb;
	uint32_t policy = POLICY_MOVE | SEV_POLICY_ES, h = 0, hb = 0;
	int pr = 0;

	gt_platform_ready(t, true);
	gt_platform_ready(b->r.t, true);
	gt_mem_new(t, 2 * 4096u, &ma);
	TU_CHECK(RAND_bytes(ma.ptr, 4096) == 1 && RAND_bytes(vmsa, sizeof(vmsa)) == 1, "RAND");
	memcpy(ma.ptr + 4096, vmsa, sizeof(vmsa));
	GT_EXPECT(gt_launch(t, policy, &a->pdh, NULL, &h), SEV_STATUS_SUCCESS);
	TU_CHECK_EQ(psp_cmd_activate(t, h, 1, &pr), 0);
	TU_CHECK_EQ(psp_cmd_launch_update_data(t, h, ma.base, 4096, &pr), 0);
	TU_CHECK_EQ(psp_cmd_launch_update_vmsa(t, h, ma.base + 4096, 4096, &pr), 0);
	TU_CHECK_EQ(psp_cmd_launch_measure(t, h, blob, &pr), 0);
	TU_CHECK_EQ(psp_cmd_launch_finish(t, h, &pr), 0);
	va = view_of(a, h, ma.size);

	GT_EXPECT(send_start(a, h, b, false, &session), SEV_STATUS_SUCCESS);
	GT_EXPECT(transfer(a, SEV_CMD_SEND_UPDATE_VMSA, h, ma.base + 4096, 2048, &pk[1]),
		  SEV_STATUS_INVALID_PARAM);
	GT_EXPECT(transfer(a, SEV_CMD_SEND_UPDATE_DATA, h, ma.base, 4096, &pk[0]),
		  SEV_STATUS_SUCCESS);
	{ /* SEND_UPDATE_VMSA: the packet comes back like a data packet */
		struct gt_mem *bb = &a->buf;
		struct sev_cmd_transfer c = {.handle = h, .hdr_address = bb->base + OFF_HDR,
					     .hdr_len = SEV_PACKET_HDR_SIZE,
					     .guest_address = ma.base + 4096, .guest_len = 4096,
					     .trans_address = bb->base + OFF_TRANS, .trans_len = 4096};

		GT_EXPECT(fw(t, SEV_CMD_SEND_UPDATE_VMSA, &c), SEV_STATUS_SUCCESS);
		memcpy(&pk[1].hdr, bb->ptr + OFF_HDR, sizeof(pk[1].hdr));
		memcpy(pk[1].data, bb->ptr + OFF_TRANS, 4096);
	}
	TU_CHECK(!gt_any_window_in(pk[1].data, 4096, vmsa, sizeof(vmsa)), "VMSA packet is plain");
	GT_EXPECT(cmd_handle(a, SEV_CMD_SEND_FINISH, h), SEV_STATUS_SUCCESS);

	gt_mem_new(b->r.t, 2 * 4096u, &mb);
	GT_EXPECT(receive_start(b, a, policy, &session, &hb), SEV_STATUS_SUCCESS);
	{
		struct sev_cmd_activate act = {.handle = hb, .asid = GT_MIN_SEV_ASID};

		GT_EXPECT(fw(b->r.t, SEV_CMD_ACTIVATE, &act), SEV_STATUS_INVALID_ASID);
		act.asid = 2;
		GT_EXPECT(fw(b->r.t, SEV_CMD_ACTIVATE, &act), SEV_STATUS_SUCCESS);
	}
	GT_EXPECT(transfer(b, SEV_CMD_RECEIVE_UPDATE_DATA, hb, mb.base, 4096, &pk[0]),
		  SEV_STATUS_SUCCESS);
	GT_EXPECT(transfer(b, SEV_CMD_RECEIVE_UPDATE_VMSA, hb, mb.base + 4096, 4096, &pk[1]),
		  SEV_STATUS_SUCCESS);
	GT_EXPECT(cmd_handle(b, SEV_CMD_RECEIVE_FINISH, hb), SEV_STATUS_SUCCESS);
	TU_CHECK(!gt_any_window_in(mb.ptr, mb.size, vmsa, sizeof(vmsa)), "B's host holds the VMSA");
	vb = view_of(b, hb, mb.size);
	TU_CHECK_MEM(vb, va, 2 * 4096u);
	/* the VMSA as launched, but for the 16 bytes at 0x380 LAUNCH_UPDATE_VMSA writes after
	 * measuring it (0, then the page's vCPU pool CRC address: README-guest.md) */
	TU_CHECK_MEM(vb + 4096, vmsa, 0x380);
	TU_CHECK_MEM(vb + 4096 + 0x390, vmsa + 0x390, sizeof(vmsa) - 0x390);
	munmap(va, ma.size);
	munmap(vb, mb.size);
	gt_platform_ready(t, false);
	gt_platform_ready(b->r.t, false);
	gt_mem_free(&ma);
	gt_mem_free(&mb);
}

/* The same move through psp/commands.h's typed wrappers (what sevd uses: blobs in DMA
 * memory), with policy SEV so the target's whole chain goes along. */
static void test_typed(struct side *a, struct side *b)
{
	struct gt_mem ma, mb;
	struct sev_session_blob session;
	struct sev_packet_header hdr;
	uint8_t image[IMAGE_SIZE], secret[48], plat[SEV_CERT_CHAIN_SIZE], amd[0x2000], pkt[4096];
	uint8_t *va, *vb;
	uint32_t policy = POLICY_MOVE | SEV_POLICY_SEV, ha, hb = 0, echoed = 0;
	size_t amd_len;
	int pr = 0;

	gt_platform_ready(a->r.t, false);
	gt_platform_ready(b->r.t, false);
	ha = launch_running(a, &ma, policy, image, secret);
	va = view_of(a, ha, MEM_SIZE);
	memcpy(plat, b->chain, sizeof(plat));
	get_cert(b, "cek", plat + 2 * SEV_CERT_SIZE, SEV_CERT_SIZE);
	amd_len = get_cert(b, "ask", amd, 0x1000);
	amd_len += get_cert(b, "ark", amd + amd_len, 0x1000);
	struct psp_send_target tg = {(const uint8_t *)&b->pdh, SEV_CERT_SIZE, plat, sizeof(plat),
				     amd, amd_len};
	struct psp_send_target bare = {(const uint8_t *)&b->pdh, SEV_CERT_SIZE, NULL, 0, NULL, 0};

	TU_CHECK(psp_cmd_send_start(a->r.t, ha, &bare, &session, NULL, &pr) == -EIO, "no chain");
	CHECK_STATUS(pr, SEV_STATUS_INVALID_LEN);
	TU_CHECK_EQ(psp_cmd_send_start(a->r.t, ha, &tg, &session, &echoed, &pr), 0);
	TU_CHECK_EQ(echoed, policy);
	gt_mem_new(b->r.t, MEM_SIZE, &mb);
	TU_CHECK_EQ(psp_cmd_receive_start(b->r.t, policy, (const uint8_t *)&a->pdh, SEV_CERT_SIZE,
					  &session, &hb, &pr),
		    0);
	TU_CHECK_EQ(psp_cmd_activate(b->r.t, hb, ASID_B, &pr), 0);
	for (uint32_t i = 0; i < PAGES; i++) {
		TU_CHECK_EQ(psp_cmd_send_update_data(a->r.t, ha, ma.base + i * 4096u, 4096, &hdr,
						     pkt, &pr),
			    0);
		TU_CHECK(!gt_any_window_in(pkt, 4096, image, IMAGE_SIZE), "plain packet");
		TU_CHECK_EQ(psp_cmd_receive_update_data(b->r.t, hb, &hdr, mb.base + i * 4096u, pkt,
							4096, &pr),
			    0);
	}
	TU_CHECK_EQ(psp_cmd_send_finish(a->r.t, ha, &pr), 0);
	TU_CHECK(psp_cmd_send_cancel(a->r.t, ha, &pr) == -EIO, "cancel after finish");
	CHECK_STATUS(pr, SEV_STATUS_INVALID_GUEST_STATE);
	TU_CHECK_EQ(psp_cmd_receive_finish(b->r.t, hb, &pr), 0);
	vb = view_of(b, hb, MEM_SIZE);
	TU_CHECK_MEM(vb, va, MEM_SIZE);
	TU_CHECK_MEM(vb + SECRET_OFF, secret, sizeof(secret));
	munmap(va, MEM_SIZE);
	munmap(vb, MEM_SIZE);
	gt_platform_ready(a->r.t, false);
	gt_platform_ready(b->r.t, false);
	gt_mem_free(&ma);
	gt_mem_free(&mb);
}

int main(void)
{
	struct side a, b;

	side_up(&a);
	side_up(&b);
	test_migrate(&a, &b);
	test_policies(&a, &b);
	test_states(&a, &b);
	test_es(&a, &b);
	test_typed(&a, &b);
	side_down(&a);
	side_down(&b);
	tu_done("emu-migrate");
}
