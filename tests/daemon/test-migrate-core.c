/* sevd's core, migration ops, with two real emulators of different chips and two
 * cores (each its own state dir and journal): a guest launched through the core on A moves to
 * B page by page (GUEST_SEND_START with B's PDH from B's CERTS, GUEST_RECEIVE_START with A's
 * PDH and the session, SEND_DATA → RECEIVE_DATA, RECEIVE_FINISH, SEND_FINISH); B's plaintext
 * view (CTL guest-memfd) equals A's, A's guest and its ASID are gone, B's runs on an ASID of
 * its pool. First of all the target's chain must reach a trusted root (none, then B's
 * emulated root named by the operator), or SEND_START never reaches firmware. Then the crash rules:
 * a core restarted mid-send finds its guest in SUPDATE and cancels (the source keeps it, RUNNING),
 * a core restarted mid-receive decommissions the half-received guest (nothing left in firmware); a
 * tampered packet is refused by name; NOSEND is refused. */
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"
#include "daemon/core/core.h"
#include "tests/psp/test-emu-guest-util.h"
#include "tests/testutil.h"

#define MEM (64u * 1024u)
#define IMAGE (32u * 1024u)

struct node {
	char *dir, spec[512], state[512], roots[600], emu_root[600];
	struct tu_emu emu;
	struct sevd_core *core;
	struct sevd_request *req;
	struct sevd_reply *rep;
};

static void node_core(struct node *n)
{
	struct sevd_core_config cfg = {.auto_init = true, .queue_max = 8};

	cfg.psp_spec = n->spec;
	cfg.emu_socket = n->emu.socket;
	cfg.state_dir = n->state;
	cfg.migration_roots = n->roots; /* absent: no AMD root is trusted here */
	cfg.migration_emulated_root = n->emu_root[0] ? n->emu_root : NULL;
	TU_CHECK_EQ(sevd_core_new(&cfg, &n->core), 0);
}

static void node_up(struct node *n)
{
	n->dir = tu_mkdtemp();
	TU_CHECK(tu_emu_start(n->dir, NULL, &n->emu) == 0, "emulator");
	snprintf(n->spec, sizeof(n->spec), "emu:%s", n->emu.socket);
	snprintf(n->state, sizeof(n->state), "%s/state", n->dir);
	snprintf(n->roots, sizeof(n->roots), "%s/no-roots", n->dir);
	TU_CHECK(mkdir(n->state, 0700) == 0, "mkdir %s: %m", n->state);
	n->req = calloc(1, sizeof(*n->req));
	n->rep = calloc(1, sizeof(*n->rep));
	TU_CHECK(n->req && n->rep, "calloc");
	node_core(n);
}

static void node_down(struct node *n)
{
	sevd_core_free(n->core);
	tu_emu_stop(&n->emu);
	tu_rmtree(n->dir);
	free(n->dir);
	free(n->req);
	free(n->rep);
}

/* One core call with n->req (op set here); the reply's r. */
static int call(struct node *n, uint32_t op)
{
	n->req->op = op;
	memset(n->rep, 0, sizeof(*n->rep));
	return sevd_core_call(n->core, n->req, n->rep);
}

static void call_ok(struct node *n, uint32_t op)
{
	int r = call(n, op);

	TU_CHECK(r == 0, "op %u: %s (%s)", op, strerror(-r), n->rep->message);
}

static void clear(struct node *n)
{
	memset(n->req, 0, sizeof(*n->req));
}

/* A guest launched through the core (no owner session), image at 0, RUNNING. */
static uint32_t launch(struct node *n, uint32_t policy, const uint8_t *image)
{
	uint32_t h;

	clear(n);
	n->req->u.create.policy = policy;
	n->req->u.create.memory_size = MEM;
	call_ok(n, SEVD_OP_GUEST_CREATE);
	h = n->rep->u.guest.info.handle;
	clear(n);
	n->req->u.guest.handle = h;
	n->req->u.guest.have_address = 1;
	call_ok(n, SEVD_OP_GUEST_DATA_BEGIN);
	n->req->u.guest.len = IMAGE;
	memcpy(n->req->u.guest.data, image, IMAGE);
	call_ok(n, SEVD_OP_GUEST_DATA);
	call_ok(n, SEVD_OP_GUEST_DATA_END);
	call_ok(n, SEVD_OP_GUEST_MEASURE);
	call_ok(n, SEVD_OP_GUEST_FINISH);
	TU_CHECK_EQ(n->rep->u.guest.info.state, SEV_GSTATE_RUNNING);
	return h;
}

static void pdh_of(struct node *n, uint8_t pdh[SEV_CERT_SIZE])
{
	clear(n);
	call_ok(n, SEVD_OP_CERTS);
	memcpy(pdh, n->rep->u.certs.pdh, SEV_CERT_SIZE);
}

/* dst's PDH, PEK ‖ OCA ‖ CEK (signed) and ASK ‖ ARK into src's request; chain_of names whose
 * chain goes along (dst's own, or another node's to make a wrong one). */
static void target_of(struct node *src, struct node *dst, struct node *chain_of)
{
	typeof(src->req->u.migrate) *m = &src->req->u.migrate;
	const typeof(dst->rep->u.certs) *c;

	clear(chain_of); /* may be src itself: first */
	call_ok(chain_of, SEVD_OP_CERTS);
	c = &chain_of->rep->u.certs;
	TU_CHECK(c->chain_len == SEV_CERT_CHAIN_SIZE && c->ask_len && c->ark_len, "certs");
	memcpy(m->plat, c->chain, SEV_CERT_CHAIN_SIZE);
	m->plat_len = SEV_CERT_CHAIN_SIZE;
	memcpy(m->amd, c->ask, c->ask_len);
	memcpy(m->amd + c->ask_len, c->ark, c->ark_len);
	m->amd_len = c->ask_len + c->ark_len;
	pdh_of(dst, m->pdh);
}

static int send_start_via(struct node *src, uint32_t h, struct node *dst, struct node *chain_of,
			  struct sev_session_blob *session)
{
	int r;

	clear(src);
	target_of(src, dst, chain_of);
	TU_CHECK(src->req->u.migrate.amd_len, "target chain");
	src->req->u.migrate.handle = h;
	r = call(src, SEVD_OP_GUEST_SEND_START);
	if (r == 0)
		memcpy(session, src->rep->u.migrate.session, sizeof(*session));
	return r;
}

static int send_start(struct node *src, uint32_t h, struct node *dst,
		      struct sev_session_blob *session)
{
	return send_start_via(src, h, dst, dst, session);
}

static uint32_t receive_start(struct node *dst, struct node *src, uint32_t policy,
			      const struct sev_session_blob *session)
{
	uint8_t pdh[SEV_CERT_SIZE];

	pdh_of(src, pdh);
	clear(dst);
	dst->req->u.migrate.policy = policy;
	dst->req->u.migrate.memory_size = MEM;
	snprintf(dst->req->u.migrate.name, sizeof(dst->req->u.migrate.name), "moved");
	memcpy(dst->req->u.migrate.pdh, pdh, sizeof(pdh));
	memcpy(dst->req->u.migrate.session, session, sizeof(*session));
	call_ok(dst, SEVD_OP_GUEST_RECEIVE_START);
	TU_CHECK_EQ(dst->rep->u.migrate.info.state, SEV_GSTATE_RUPDATE);
	return dst->rep->u.migrate.info.handle;
}

/* Page i from src's guest hs into dst's guest hd; tamper flips a ciphertext bit. */
static int move_page(struct node *src, uint32_t hs, struct node *dst, uint32_t hd, uint32_t i,
		     bool tamper)
{
	clear(src);
	src->req->u.migrate.handle = hs;
	src->req->u.migrate.offset = i * 4096ull;
	src->req->u.migrate.len = 4096;
	call_ok(src, SEVD_OP_GUEST_SEND_DATA);
	clear(dst);
	dst->req->u.migrate.handle = hd;
	dst->req->u.migrate.offset = i * 4096ull;
	dst->req->u.migrate.len = 4096;
	memcpy(dst->req->u.migrate.hdr, src->rep->u.migrate.hdr, sizeof(dst->req->u.migrate.hdr));
	memcpy(dst->req->u.migrate.data, src->rep->u.migrate.data, 4096);
	if (tamper)
		dst->req->u.migrate.data[77] ^= 0x04;
	return call(dst, SEVD_OP_GUEST_RECEIVE_DATA);
}

static int handle_op(struct node *n, uint32_t op, uint32_t h)
{
	clear(n);
	n->req->u.migrate.handle = h;
	return call(n, op);
}

static uint32_t guest_count(struct node *n)
{
	clear(n);
	call_ok(n, SEVD_OP_GUEST_LIST);
	return n->rep->u.guests.n;
}

static uint32_t fw_guest_count(struct node *n)
{
	clear(n);
	call_ok(n, SEVD_OP_PLATFORM_STATUS);
	return n->rep->u.platform.status.guest_count;
}

/* The guest's plaintext view, copied. */
static void view_copy(struct node *n, uint32_t h, uint8_t *out)
{
	char text[256];
	int fd = -1;
	uint8_t *v;

	TU_CHECK(gt_ctl_memfd(n->emu.socket, h, &fd, text, sizeof(text)) == 0, "guest-memfd: %s",
		 text);
	v = mmap(NULL, MEM, PROT_READ, MAP_SHARED, fd, 0);
	TU_CHECK(v != MAP_FAILED, "mmap: %m");
	memcpy(out, v, MEM);
	munmap(v, MEM);
	close(fd);
}

/* The target's root must be trusted before firmware sees anything: A trusts no root at
 * first (refused, the guest untouched), then B's emulated root (the operator named its
 * ASK ‖ ARK file); a chain that is not B's for B's PDH stays refused. */
static void test_trust(struct node *a, struct node *b)
{
	_cleanup_free_ uint8_t *image = malloc(IMAGE);
	struct sev_session_blob session;
	const typeof(b->rep->u.certs) *c;
	uint32_t h;
	FILE *f;

	TU_CHECK(image && RAND_bytes(image, IMAGE) == 1, "setup");
	h = launch(a, 0, image);
	TU_CHECK(send_start(a, h, b, &session) == -EPERM, "untrusted: %s (%s)", a->rep->message, sev_status_name(a->rep->fw_status));
	TU_CHECK(strstr(a->rep->message, "not trusted"), "message: %s", a->rep->message);
	TU_CHECK_EQ(a->rep->fw_status, SEV_STATUS_NO_FW_CALL);
	clear(a);
	a->req->u.guest.handle = h;
	call_ok(a, SEVD_OP_GUEST_INFO);
	TU_CHECK_EQ(a->rep->u.guest.info.state, SEV_GSTATE_RUNNING);
	/* the operator names B's root (ASK ‖ ARK) as an emulated one */
	clear(b);
	call_ok(b, SEVD_OP_CERTS);
	c = &b->rep->u.certs;
	snprintf(a->emu_root, sizeof(a->emu_root), "%s/b-ask-ark.cert", a->dir);
	f = fopen(a->emu_root, "wb");
	TU_CHECK(f && fwrite(c->ask, 1, c->ask_len, f) == c->ask_len &&
		     fwrite(c->ark, 1, c->ark_len, f) == c->ark_len && fclose(f) == 0,
		 "write %s", a->emu_root);
	sevd_core_free(a->core);
	node_core(a);
	TU_CHECK(send_start_via(a, h, b, a, &session) == -EPERM, "A's chain for B's PDH: %s", a->rep->message);
	TU_CHECK_EQ(send_start(a, h, b, &session), 0);
	TU_CHECK_EQ(handle_op(a, SEVD_OP_GUEST_SEND_CANCEL, h), 0);
	clear(a);
	a->req->u.guest.handle = h;
	call_ok(a, SEVD_OP_GUEST_DELETE);
}

static void test_move(struct node *a, struct node *b)
{
	_cleanup_free_ uint8_t *image = malloc(IMAGE), *va = malloc(MEM), *vb = malloc(MEM);
	struct sev_session_blob session;
	uint32_t ha, hb;

	TU_CHECK(image && va && vb && RAND_bytes(image, IMAGE) == 1, "setup");
	ha = launch(a, 0, image);
	view_copy(a, ha, va);
	TU_CHECK_MEM(va, image, IMAGE);
	TU_CHECK_EQ(send_start(a, ha, b, &session), 0);
	hb = receive_start(b, a, 0, &session);
	for (uint32_t i = 0; i < MEM / 4096u; i++) {
		if (i == 2) { /* a tampered packet: refused by name, the genuine one then taken */
			TU_CHECK_EQ(move_page(a, ha, b, hb, i, true), -EIO);
			TU_CHECK(b->rep->fw_status == SEV_STATUS_BAD_MEASUREMENT, "status %s",
				 sev_status_name(b->rep->fw_status));
		}
		TU_CHECK(move_page(a, ha, b, hb, i, false) == 0, "page %u: %s", i, b->rep->message);
	}
	call_ok(b, SEVD_OP_GUEST_RECEIVE_FINISH);
	TU_CHECK_EQ(b->rep->u.migrate.info.state, SEV_GSTATE_RUNNING);
	TU_CHECK(b->rep->u.migrate.info.asid != 0, "B's guest has no ASID");
	TU_CHECK_EQ(handle_op(a, SEVD_OP_GUEST_SEND_FINISH, ha), 0);
	TU_CHECK_EQ(guest_count(a), 0);
	TU_CHECK_EQ(fw_guest_count(a), 0);
	TU_CHECK_EQ(guest_count(b), 1);
	view_copy(b, hb, vb);
	TU_CHECK_MEM(vb, va, MEM);
	/* tidy B for the next test */
	clear(b);
	b->req->u.guest.handle = hb;
	call_ok(b, SEVD_OP_GUEST_DELETE);
}

/* Crashes: restart each core mid-migration. */
static void test_restart(struct node *a, struct node *b)
{
	_cleanup_free_ uint8_t *image = malloc(IMAGE);
	struct sev_session_blob session;
	uint32_t ha, hb;

	TU_CHECK(image && RAND_bytes(image, IMAGE) == 1, "setup");
	ha = launch(a, 0, image);
	TU_CHECK_EQ(send_start(a, ha, b, &session), 0);
	hb = receive_start(b, a, 0, &session);
	TU_CHECK_EQ(move_page(a, ha, b, hb, 0, false), 0);
	sevd_core_free(a->core);
	sevd_core_free(b->core);
	node_core(a);
	node_core(b);
	clear(a);
	a->req->u.guest.handle = ha;
	call_ok(a, SEVD_OP_GUEST_INFO);
	TU_CHECK_EQ(a->rep->u.guest.info.state, SEV_GSTATE_RUNNING); /* SEND_CANCEL'ed */
	TU_CHECK_EQ(guest_count(b), 0);
	TU_CHECK_EQ(fw_guest_count(b), 0); /* the half-received guest is decommissioned */
	/* and it can be sent again */
	TU_CHECK_EQ(send_start(a, ha, b, &session), 0);
	TU_CHECK_EQ(handle_op(a, SEVD_OP_GUEST_SEND_CANCEL, ha), 0);
	TU_CHECK_EQ(a->rep->u.migrate.info.state, SEV_GSTATE_RUNNING);
	clear(a);
	a->req->u.guest.handle = ha;
	call_ok(a, SEVD_OP_GUEST_DELETE);
}

static void test_refusals(struct node *a, struct node *b)
{
	_cleanup_free_ uint8_t *image = malloc(IMAGE);
	struct sev_session_blob session;
	uint32_t h;

	TU_CHECK(image && RAND_bytes(image, IMAGE) == 1, "setup");
	h = launch(a, SEV_POLICY_NOSEND, image);
	TU_CHECK_EQ(send_start(a, h, b, &session), -EIO);
	TU_CHECK(a->rep->fw_status == SEV_STATUS_POLICY_FAILURE, "NOSEND: %s",
		 sev_status_name(a->rep->fw_status));
	TU_CHECK_EQ(handle_op(a, SEVD_OP_GUEST_SEND_FINISH, h), -EIO);
	TU_CHECK(a->rep->fw_status == SEV_STATUS_INVALID_GUEST_STATE, "finish: %s",
		 sev_status_name(a->rep->fw_status));
	TU_CHECK_EQ(handle_op(a, SEVD_OP_GUEST_SEND_FINISH, 999), -ENOENT);
	clear(a);
	a->req->u.migrate.handle = h;
	a->req->u.migrate.offset = MEM - 16;
	a->req->u.migrate.len = 32; /* past the guest's memory */
	TU_CHECK_EQ(call(a, SEVD_OP_GUEST_SEND_DATA), -EINVAL);
	TU_CHECK_EQ(guest_count(a), 1);
	clear(a);
	a->req->u.guest.handle = h;
	call_ok(a, SEVD_OP_GUEST_DELETE);
}

int main(void)
{
	struct node a = {0}, b = {0};

	node_up(&a);
	node_up(&b);
	test_trust(&a, &b);
	test_move(&a, &b);
	test_restart(&a, &b);
	test_refusals(&a, &b);
	node_down(&a);
	node_down(&b);
	tu_done("daemon-migrate-core");
}
