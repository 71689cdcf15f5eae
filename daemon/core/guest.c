/* The guest lifecycle in the core (guest.h). Order of every state change, so that a crash at
 * any point leaves something reconciliation can finish deterministically (see daemon/README.md
 * "Crash safety"): firmware first, then the journal record (fsync'ed), then the answer; an
 * INTENT record before LAUNCH_START names the memory region of a launch that may not reach the
 * journal. At start the journal is replayed and every guest is checked with GUEST_STATUS:
 * firmware's RUNNING guests are kept with the ASID firmware says they hold, so are unfinished
 * SEV/SEV-ES launches the owner can still finish (LUPDATE, measured LSECRET: resumable()),
 * any other launch not yet RUNNING is deactivated and decommissioned, and firmware guests the
 * journal does not know are decommissioned too.
 * Runs on the firmware thread only. Trusts the request fields no more than core.c does. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/util.h"
#include "attest/chain.h"
#include "attest/roots.h"
#include "attest/snp-measure.h"
#include "daemon/core/core-internal.h"
#include "daemon/core/crash.h"
#include "daemon/core/guest.h"
#include "daemon/core/guest-snp.h"
#include "daemon/core/vmm.h"
#include "daemon/core/journal.h"
#include "hv-glue/binding.h"
#include "psp/commands.h"
#include "psp/transport.h"

#define GUEST_MEM_DEFAULT (16ull << 20)
#define GUEST_MEM_MAX (1ull << 30)
#define GUEST_CHUNK SEVD_GUEST_CHUNK /* an aborted upload keeps its whole chunks */
/* Whole chunks one LAUNCH_UPDATE_DATA covers when they are there together (a staged slot). */
#define GUEST_CMD_CHUNKS (SEVD_STAGE_SLOT_SIZE / GUEST_CHUNK)
_Static_assert(SEVD_STAGE_SLOT_SIZE % GUEST_CHUNK == 0, "a full slot is whole chunks");
#define SECRET_ADDR_DEFAULT 0x30000u /* hv-glue/guest/layout.h: the tiny guest's secret page */
#define SUBSCRIBERS_MAX 32
#define SECRETS_MAX 64 /* LAUNCH_SECRET packets one launch may take */

struct guest {
	struct sevd_jrec rec; /* what the journal holds (type PUT) */
	uint8_t id[SEVD_GUEST_ID_SIZE]; /* its stable id (core.h); all zero until drawn */
	bool id_journaled;		/* its ID record is in the journal */
	int memfd;	      /* -1 after a restart (the memory died with the old process) */
	bool mapped;	      /* rec.mem_base is a region of ours in the emulator */
	uint64_t next_addr;   /* default address of the next upload */
	bool uploading, upload_failed;
	uint64_t up_start, up_pos, up_chunk; /* offsets in guest memory */
	uint32_t up_chunks;
	/* SEV-ES: the guest addresses of its VMSAs (LAUNCH_UPDATE_VMSA's, or RECEIVE_UPDATE_VMSA's
	 * on a target), in their order: what SEND_VMSA moves. Not journaled: after a restart an
	 * ES guest has none known here and cannot be sent (op_send_start says so). */
	uint64_t *vmsa;
	uint32_t n_vmsa, cap_vmsa;
	uint32_t vmsa_expected; /* a target: the VMSAs RECEIVE_START was told to wait for */
	/* The LAUNCH_SECRET packets seen for this guest (IV, MAC), journaled (SEVD_JREC_SECRET)
	 * while it launches; dropped at LAUNCH_FINISH, after which firmware takes no secret. */
	struct secret_seen {
		uint8_t iv[16], mac[32];
	} *seen;
	uint32_t n_seen;
	uint8_t up_type;  /* SNP: the page type of the running upload (SEV_SNP_PAGE_*) */
	uint64_t snp_hi;  /* SNP: guest memory below this may hold pages made private */
};

struct sevd_guests {
	/* The tenant of the request being served (its principal_tenant: core/authz.c), or
	 * NULL/"" for any; set by sevd_guests_op around the op (firmware thread). */
	const char *principal;
	/* The stable id the request named its guest by (caller.guest_id), or NULL for a
	 * handle; set there too. */
	const uint8_t *want_id;
	struct sevd_core *core;
	struct psp_transport *psp;
	struct sevd_asid_pool *pool;
	struct sevd_journal *journal;
	struct policy_rules rules;
	unsigned compact_after;
	struct guest *g[SEVD_GUESTS_MAX];
	unsigned n;
	uint64_t generation;
	uint64_t intents[16]; /* mem_base of INTENT records not followed by their PUT (replay) */
	unsigned n_intents;
	uint64_t intent_snp[16]; /* SNP INTENTs: the memory_size (context page after it), else 0 */
	char *mig_roots, *mig_emu_root; /* Roots a migration target must reach */
	bool snapshot_due; /* the journal is behind the table: snapshot before the next change */
	atomic_bool not_durable; /* the last change could not be made durable (for /metrics) */
	int journal_err;   /* errno of the last failed append, for the answer */
	/* grant stream */
	int ctl_fd;
	char *ctl_path;
	pthread_t ctl_thread;
	bool ctl_running;
	struct sevd_vmm *vmm; /* SNP guest requests from VMMs: vmm.c */
	pthread_mutex_t sub_lock;
	int subs[SUBSCRIBERS_MAX];
	unsigned n_subs;
	struct live_grant {
		uint32_t handle, asid;
		bool es;
		uint64_t generation;
		uint8_t id[SEVD_GUEST_ID_SIZE]; /* the guest's stable id (version 2 frames) */
	} live[SEVD_GUESTS_MAX]; /* under sub_lock: what a new subscriber is told first */
	unsigned n_live;
	/* A staged piece's copy into guest memory, run beside the firmware command of the chunk
	 * before it (sevd_guests_data); one at a time, as jobs are. */
	struct copier {
		pthread_t thread;
		pthread_mutex_t lock;
		pthread_cond_t cond;
		bool started, stop, busy;
		int fd, r;
		const uint8_t *buf;
		size_t len;
		uint64_t off;
	} copier;
};

/* ---- helpers ---- */

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

_printf_(3, 4) static int fail(struct sevd_reply *rep, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep->message, sizeof(rep->message), fmt, ap);
	va_end(ap);
	rep->fw_status = SEV_STATUS_NO_FW_CALL;
	return rep->r = r;
}

/* A firmware command of the guest lifecycle, with a crash checkpoint on each side (crash.h):
 * gfw_begin() before the psp_cmd_*() call, gfw_done() with its result after it. The caller
 * declares psp_ret and t0 (core-internal.h, sevd_fw_begin()). */
static void gfw_begin(uint32_t cmd, int *psp_ret, struct timespec *t0)
{
	sevd_crash_point_cmd("before", cmd);
	sevd_fw_begin(psp_ret, t0);
}

static int gfw_done(struct sevd_guests *gs, struct sevd_reply *rep, uint32_t cmd, int r,
		    int psp_ret, const struct timespec *t0)
{
	r = sevd_core_fw_done(gs->core, rep, cmd, r, psp_ret, t0);
	sevd_crash_point_cmd("after", cmd);
	return r;
}

/* A firmware command whose only argument is the guest's handle: DEACTIVATE, DECOMMISSION,
 * LAUNCH_FINISH, SEND_FINISH, SEND_CANCEL, RECEIVE_FINISH. */
static int fw_on_handle(struct sevd_guests *gs, uint32_t cmd,
			int (*fn)(struct psp_transport *, uint32_t, int *), uint32_t handle,
			struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;

	gfw_begin(cmd, &psp_ret, &t0);
	r = fn(gs->psp, handle, &psp_ret);
	return gfw_done(gs, rep, cmd, r, psp_ret, &t0);
}

static struct guest *find(struct sevd_guests *gs, uint32_t handle)
{
	for (unsigned i = 0; i < gs->n; i++)
		if (gs->g[i]->rec.handle == handle)
			return gs->g[i];
	return NULL;
}

/* May the request's principal see this guest? Its tenant's only (admin: every one). */
static bool visible(const struct sevd_guests *gs, const struct guest *g)
{
	return !gs->principal || !gs->principal[0] || !strcmp(g->rec.tenant, gs->principal);
}

static void id_hex(const uint8_t id[SEVD_GUEST_ID_SIZE], char out[2 * SEVD_GUEST_ID_SIZE + 1])
{
	for (unsigned i = 0; i < SEVD_GUEST_ID_SIZE; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* A request that named its guest by id reaches only that guest: the handle may have been
 * given to another guest since (handles are reused), and that one is not it. */
static struct guest *lookup(struct sevd_guests *gs, uint32_t handle, struct sevd_reply *rep)
{
	struct guest *g = find(gs, handle);

	if (gs->want_id && (!g || CRYPTO_memcmp(g->id, gs->want_id, SEVD_GUEST_ID_SIZE) != 0)) {
		char hex[2 * SEVD_GUEST_ID_SIZE + 1];

		id_hex(gs->want_id, hex);
		fail(rep, -ENOENT,
		     "no guest with id %s: that guest is gone (decommissioned) or was never "
		     "launched here; an id names only its own guest, never a later holder of its "
		     "handle. List the guests (GET /v1/guests) for their ids",
		     hex);
		snprintf(rep->rule, sizeof(rep->rule), "no_such_guest");
		return NULL;
	}
	if (!g) {
		fail(rep, -ENOENT,
		     "no guest with handle %u (never launched here, or decommissioned)", handle);
		return NULL;
	}
	if (!visible(gs, g)) {
		fail(rep, -EACCES,
		     "guest %u belongs to another tenant than this credential's (%s); ask its "
		     "tenant, or an admin",
		     handle, gs->principal);
		snprintf(rep->rule, sizeof(rep->rule), "core_refused:tenant");
		return NULL;
	}
	return g;
}

/* unmap: the guest is gone from firmware, so its memory region in the emulator goes too
 * (not at shutdown: running guests outlive sevd). */
static void guest_free(struct sevd_guests *gs, struct guest *g, bool unmap)
{
	if (!g)
		return;
	if (unmap && g->mapped)
		(void)psp_unmap_memfd(gs->psp, g->rec.mem_base);
	if (g->memfd >= 0)
		close(g->memfd);
	free(g->vmsa);
	free(g->seen);
	free(g);
}

static void table_remove(struct sevd_guests *gs, struct guest *g)
{
	for (unsigned i = 0; i < gs->n; i++)
		if (gs->g[i] == g) {
			gs->g[i] = gs->g[--gs->n];
			break;
		}
	guest_free(gs, g, true);
}

static void holder_of(const struct guest *g, char buf[SEVD_ASID_HOLDER_MAX])
{
	snprintf(buf, SEVD_ASID_HOLDER_MAX, "guest %u %.30s", g->rec.handle, g->rec.name);
}

/* An SEV-SNP guest (guest-snp.h); firmware knows it by its context page, the page
 * after its memory, not by the handle, which is sevd's. */
static bool is_snp(const struct guest *g)
{
	return g->rec.flags & SEVD_JREC_F_SNP;
}

static uint64_t gctx_of(const struct guest *g)
{
	return g->rec.mem_base + g->rec.memory_size;
}

/* ---- journal ---- */

static struct sevd_jrec vmsa_rec(const struct guest *g, uint64_t a)
{
	return (struct sevd_jrec){
	    .type = SEVD_JREC_VMSA, .handle = g->rec.handle, .mem_base = a, .updated = now_s()};
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static struct sevd_jrec id_rec(const struct guest *g)
{
	struct sevd_jrec rec = {.type = SEVD_JREC_ID, .handle = g->rec.handle, .updated = now_s()};

	memcpy(rec.mnonce, g->id, sizeof(g->id));
	return rec;
}

/* Draw a guest's stable id: its handle, then 12 random bytes (never reused: a later guest
 * with the same handle draws others). -EIO when the RNG fails. */
static int id_draw(struct guest *g)
{
	put_be32(g->id, g->rec.handle);
	if (RAND_bytes(g->id + 4, SEVD_GUEST_ID_SIZE - 4) != 1) {
		memset(g->id, 0, sizeof(g->id));
		return -EIO;
	}
	g->id_journaled = false;
	return 0;
}

static bool id_drawn(const struct guest *g)
{
	static const uint8_t zero_id[SEVD_GUEST_ID_SIZE];

	return memcmp(g->id, zero_id, sizeof(zero_id)) != 0;
}

static void secret_rec(const struct guest *g, const struct secret_seen *s, struct sevd_jrec *rec)
{
	*rec = (struct sevd_jrec){.type = SEVD_JREC_SECRET, .handle = g->rec.handle};
	memcpy(rec->mnonce, s->iv, sizeof(s->iv));
	memcpy(rec->measure, s->mac, sizeof(s->mac));
}

/* The snapshot: META, then each guest's PUT followed by its ID record, its VMSA records and
 * the secret packets it has seen. */
static int compact(struct sevd_guests *gs)
{
	_cleanup_free_ struct sevd_jrec *recs = NULL;
	size_t n = 1, total = 1;

	for (unsigned i = 0; i < gs->n; i++)
		total += 2 + gs->g[i]->n_vmsa + gs->g[i]->n_seen;
	recs = calloc(total, sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	recs[0] = (struct sevd_jrec){.type = SEVD_JREC_META, .generation = gs->generation};
	for (unsigned i = 0; i < gs->n; i++) {
		recs[n++] = gs->g[i]->rec;
		if (id_drawn(gs->g[i]))
			recs[n++] = id_rec(gs->g[i]);
		for (uint32_t k = 0; k < gs->g[i]->n_vmsa; k++)
			recs[n++] = vmsa_rec(gs->g[i], gs->g[i]->vmsa[k]);
		for (uint32_t s = 0; s < gs->g[i]->n_seen; s++)
			secret_rec(gs->g[i], &gs->g[i]->seen[s], &recs[n++]);
	}
	return sevd_journal_compact(gs->journal, recs, n);
}

/* A journal append failed after firmware made the change (a full or read-only state
 * dir that the gate below did not catch, or an I/O error). Firmware's effect stays (a
 * LAUNCH_UPDATE_DATA or a DECOMMISSION cannot be undone; a launch is rolled back by its
 * caller), the table keeps it, and the journal is rewritten as a snapshot of the table before
 * the next change is allowed; a restart in between reconciles from firmware, which holds the
 * state and ASID of every guest. */
static int journal_write(struct sevd_guests *gs, const struct sevd_jrec *rec,
			 struct sevd_reply *rep)
{
	int r = sevd_journal_append(gs->journal, rec);

	if (r < 0) { /* -ENOTRECOVERABLE: not -ENOSPC, which means "no ASID" to the HTTP side */
		gs->snapshot_due = true;
		atomic_store(&gs->not_durable, true);
		gs->journal_err = -r;
		return fail(rep, -ENOTRECOVERABLE,
			    "guest %u: the change was made in firmware, but the journal %s could "
			    "not record it (%s). sevd keeps it and refuses further changes until "
			    "the journal can be rewritten; free space in the state directory or "
			    "remount it read-write, then check GET /v1/guests/%u",
			    rec->handle, sevd_journal_path(gs->journal), strerror(-r), rec->handle);
	}
	/* Not right after an INTENT: the snapshot holds guests only, and the INTENT must stay
	 * until its launch is recorded. Nor after the PUT of a launch not yet in the table (a
	 * launch enters it after its PUT): the snapshot is made from the table and would drop
	 * that PUT, leaving a launched guest unknown to the next start. */
	if (rec->type != SEVD_JREC_INTENT &&
	    ((rec->type != SEVD_JREC_PUT && rec->type != SEVD_JREC_ID) || find(gs, rec->handle)) &&
	    sevd_journal_records(gs->journal) > gs->compact_after)
		(void)compact(gs); /* logged; the appended journal stays valid if it fails */
	return 0;
}

/* Records one change can append (a launch: INTENT and PUT), with room to spare. */
#define JOURNAL_RESERVE 16u

/* Before any change to firmware, make sure its record can be made durable: the journal
 * opens for writing (not EROFS) and has room for the change's records (not ENOSPC), and a
 * snapshot owed since an earlier failure is written. Otherwise nothing is done and the caller
 * answers 507 state_not_durable; reads never come here. */
static int durable_gate(struct sevd_guests *gs, struct sevd_reply *rep)
{
	int r = 0;

	if (gs->snapshot_due) {
		r = compact(gs);
		if (r >= 0) {
			gs->snapshot_due = false;
			log_notice("Journal %s rewritten from the guest table: durable again",
				   sevd_journal_path(gs->journal));
		}
	}
	if (r >= 0)
		r = sevd_journal_reserve(gs->journal, JOURNAL_RESERVE);
	atomic_store(&gs->not_durable, r < 0 || gs->snapshot_due);
	if (r >= 0)
		return 0;
	log_warning_errno(r, "Refusing a guest change: the journal %s cannot be written (%m)",
			  sevd_journal_path(gs->journal));
	return fail(rep, -ENOTRECOVERABLE,
		    "the change cannot be made durable: the journal %s cannot be written (%s), so "
		    "nothing was done. Free space in the state directory (or remount it "
		    "read-write), then retry; reads keep working",
		    sevd_journal_path(gs->journal), strerror(-r));
}

/* The guest's PUT; at its first, its stable id is drawn and its ID record follows. */
static int guest_save(struct sevd_guests *gs, struct guest *g, struct sevd_reply *rep)
{
	struct sevd_jrec idr;
	int r;

	if (!id_drawn(g) && id_draw(g) < 0)
		return fail(rep, -EIO, "guest %u: no random bytes for its id (RAND_bytes failed); "
				       "retry, and check the host's entropy source",
			    g->rec.handle);
	g->rec.type = SEVD_JREC_PUT;
	g->rec.updated = now_s();
	r = journal_write(gs, &g->rec, rep);
	if (r < 0 || g->id_journaled)
		return r;
	idr = id_rec(g);
	r = journal_write(gs, &idr, rep);
	if (r >= 0)
		g->id_journaled = true;
	return r;
}

static int guest_forget(struct sevd_guests *gs, uint32_t handle, struct sevd_reply *rep)
{
	struct sevd_jrec rec = {.type = SEVD_JREC_DEL, .handle = handle, .updated = now_s()};

	return journal_write(gs, &rec, rep);
}

/* ---- the grant stream (hv-glue/README.md "The grant stream") ---- */

/* Version 2 frames: the guest's stable id after the 32-byte header (hv-glue/binding.h). */
#define GRANT_FRAME HV_GRANT_MSG_V2_SIZE
_Static_assert(SEVD_GUEST_ID_SIZE == HV_GUEST_ID_SIZE,
	       "one guest id in the journal and on the grant stream");

static void frame_of(enum hv_grant_type type, const struct live_grant *l,
		     uint8_t frame[GRANT_FRAME])
{
	struct hv_grant_msg m = {.type = type,
				 .handle = l->handle,
				 .asid = l->asid,
				 .es = l->es,
				 .generation = l->generation};

	memcpy(m.id, l->id, sizeof(m.id));
	hv_grant_msg_build_v2(&m, frame);
}

/* Send one frame to every subscriber; sub_lock held. Blocking with a send timeout: a revoke
 * must be in the subscriber's socket before DEACTIVATE runs; a subscriber that does not read
 * is dropped (hv-glue stops its guests when the stream closes). */
static void broadcast_locked(struct sevd_guests *gs, const uint8_t frame[GRANT_FRAME])
{
	for (unsigned i = 0; i < gs->n_subs;) {
		if (loop_write(gs->subs[i], frame, GRANT_FRAME) < 0) {
			log_warning("Grant stream: dropping a subscriber that does not read");
			close(gs->subs[i]);
			gs->subs[i] = gs->subs[--gs->n_subs];
			continue;
		}
		i++;
	}
}

/* After ACTIVATE: a new generation, remembered and announced. */
static void grant(struct sevd_guests *gs, struct guest *g)
{
	struct live_grant l = {.handle = g->rec.handle,
			       .asid = g->rec.asid,
			       .es = !!(g->rec.flags & SEVD_JREC_F_ES),
			       .generation = ++gs->generation};
	uint8_t frame[GRANT_FRAME];

	memcpy(l.id, g->id, sizeof(l.id));
	g->rec.generation = l.generation;
	g->rec.flags |= SEVD_JREC_F_GRANTED;
	frame_of(HV_GRANT, &l, frame);
	pthread_mutex_lock(&gs->sub_lock);
	if (gs->n_live < SEVD_GUESTS_MAX)
		gs->live[gs->n_live++] = l;
	broadcast_locked(gs, frame);
	pthread_mutex_unlock(&gs->sub_lock);
}

/* Re-announce a binding that survived a restart (no new generation). */
static void regrant(struct sevd_guests *gs, const struct guest *g)
{
	struct live_grant l = {.handle = g->rec.handle,
			       .asid = g->rec.asid,
			       .es = !!(g->rec.flags & SEVD_JREC_F_ES),
			       .generation = g->rec.generation};

	if (!l.asid || !l.generation)
		return;
	memcpy(l.id, g->id, sizeof(l.id)); /* zero until ids_fill draws one: it fills it in */
	pthread_mutex_lock(&gs->sub_lock);
	if (gs->n_live < SEVD_GUESTS_MAX)
		gs->live[gs->n_live++] = l;
	pthread_mutex_unlock(&gs->sub_lock);
}

/* Before DEACTIVATE / DECOMMISSION. */
static void revoke_binding(struct sevd_guests *gs, struct guest *g)
{
	uint8_t frame[GRANT_FRAME];

	if (!(g->rec.flags & SEVD_JREC_F_GRANTED))
		return;
	pthread_mutex_lock(&gs->sub_lock);
	for (unsigned i = 0; i < gs->n_live; i++)
		if (gs->live[i].handle == g->rec.handle) {
			frame_of(HV_REVOKE, &gs->live[i], frame);
			broadcast_locked(gs, frame);
			gs->live[i] = gs->live[--gs->n_live];
			break;
		}
	pthread_mutex_unlock(&gs->sub_lock);
	g->rec.flags &= ~SEVD_JREC_F_GRANTED;
}

static void *ctl_main(void *arg)
{
	struct sevd_guests *gs = arg;

	for (;;) {
		struct timeval tv = {.tv_sec = 2};
		uint8_t frame[GRANT_FRAME];
		int fd = accept4(gs->ctl_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL; /* the socket was shut down: stopping */
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		pthread_mutex_lock(&gs->sub_lock);
		if (gs->n_subs >= SUBSCRIBERS_MAX) {
			log_warning("Grant stream: more than %d subscribers, refusing one",
				    SUBSCRIBERS_MAX);
			close(fd);
		} else {
			for (unsigned i = 0; i < gs->n_live; i++) {
				frame_of(HV_GRANT, &gs->live[i], frame);
				(void)loop_write(fd, frame, sizeof(frame));
			}
			gs->subs[gs->n_subs++] = fd;
		}
		pthread_mutex_unlock(&gs->sub_lock);
	}
}

static int ctl_start(struct sevd_guests *gs, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error_errno(ENAMETOOLONG, "Control socket path %s is too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(errno, "socket(AF_UNIX): %m");
	(void)unlink(path);
	/* The grant stream tells which guest runs on which ASID: owner only (0600). */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 16) < 0)
		return log_error_errno(errno, "Cannot listen on the control socket %s: %m", path);
	gs->ctl_path = strdup(path);
	gs->ctl_fd = TAKE_FD(fd);
	if (pthread_create(&gs->ctl_thread, NULL, ctl_main, gs) != 0)
		return log_error_errno(EAGAIN, "Cannot start the control socket thread");
	gs->ctl_running = true;
	log_info("Grant stream for VMMs on %s", path);
	return 0;
}

/* The VMM socket: vmm.sock in the directory of the control socket (STATE_DIR by default). */
static int vmm_start(struct sevd_guests *gs, const char *control)
{
	_cleanup_free_ char *dir = strdup(control), *path = NULL;
	char *slash = dir ? strrchr(dir, '/') : NULL;

	if (!dir)
		return -ENOMEM;
	if (slash)
		slash[1] = '\0';
	path = slash ? path_join(dir, "vmm.sock") : strdup("vmm.sock");
	if (!path)
		return -ENOMEM;
	return sevd_vmm_start(gs->core, gs, path, &gs->vmm);
}

void sevd_guests_stop_vmm(struct sevd_guests *gs)
{
	if (gs)
		sevd_vmm_stop(gs->vmm);
}

int sevd_guests_vmm_target(struct sevd_guests *gs, uint32_t handle, struct sevd_vmm_target *ret)
{
	const struct guest *g = find(gs, handle);

	if (!g)
		return -ENOENT;
	ret->snp = is_snp(g);
	ret->asid = g->rec.asid;
	ret->state = g->rec.state;
	ret->ctx = is_snp(g) ? gctx_of(g) : 0;
	return 0;
}

/* ---- answers ---- */

static void info_of(const struct guest *g, uint8_t fw_state, uint32_t fw_asid,
		    struct sevd_guest_info *i)
{
	memset(i, 0, sizeof(*i));
	i->handle = g->rec.handle;
	i->asid = fw_asid;
	i->policy = g->rec.policy;
	i->state = fw_state;
	i->es = !!(g->rec.flags & SEVD_JREC_F_ES);
	i->measured = !!(g->rec.flags & SEVD_JREC_F_MEASURED);
	memcpy(i->name, g->rec.name, sizeof(i->name));
	memcpy(i->tenant, g->rec.tenant, sizeof(i->tenant));
	i->memory_size = g->rec.memory_size;
	i->data_bytes = g->rec.data_bytes;
	i->created = g->rec.created;
	i->updated = g->rec.updated;
	memcpy(i->measure, g->rec.measure, sizeof(i->measure));
	memcpy(i->mnonce, g->rec.mnonce, sizeof(i->mnonce));
	i->snp = is_snp(g);
	i->snp_id_block = !!(g->rec.flags & SEVD_JREC_F_SNP_ID);
	memcpy(i->id, g->id, sizeof(i->id));
}

/* GUEST_STATUS: the state and ASID as firmware has them. */
static int fw_status(struct sevd_guests *gs, uint32_t handle, struct sev_cmd_guest_status *st,
		     struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;

	memset(st, 0, sizeof(*st));
	gfw_begin(SEV_CMD_GUEST_STATUS, &psp_ret, &t0);
	r = psp_cmd_guest_status(gs->psp, handle, st, &psp_ret);
	return gfw_done(gs, rep, SEV_CMD_GUEST_STATUS, r, psp_ret, &t0);
}

/* SNP_DECOMMISSION of the context at gctx. */
static int snp_decommission(struct sevd_guests *gs, uint64_t gctx, struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;

	gfw_begin(SEV_CMD_SNP_DECOMMISSION, &psp_ret, &t0);
	r = sevd_snp_decommission(gs->psp, gctx, &psp_ret);
	return gfw_done(gs, rep, SEV_CMD_SNP_DECOMMISSION, r, psp_ret, &t0);
}

/* SNP_GUEST_STATUS in GUEST_STATUS's shape: LAUNCH as LUPDATE, RUNNING as RUNNING, INIT (a
 * context never launched) as LUPDATE too (a half-done launch); a page that is no context any
 * more (INVALID_GUEST: decommissioned) as UNINIT, the guest gone. */
static int snp_status(struct sevd_guests *gs, uint64_t gctx, struct sev_cmd_guest_status *st,
		      struct sevd_reply *rep)
{
	struct sev_snp_guest_status ss = {0};
	struct timespec t0;
	int psp_ret, r;

	memset(st, 0, sizeof(*st));
	gfw_begin(SEV_CMD_SNP_GUEST_STATUS, &psp_ret, &t0);
	r = sevd_snp_guest_status(gs->psp, gctx, &ss, &psp_ret);
	r = gfw_done(gs, rep, SEV_CMD_SNP_GUEST_STATUS, r, psp_ret, &t0);
	if (r == -EIO && rep->fw_status == SEV_STATUS_INVALID_GUEST) {
		rep->r = 0;
		rep->message[0] = 0;
		st->state = SEV_GSTATE_UNINIT;
		return 0;
	}
	if (r < 0)
		return r;
	st->policy = (uint32_t)ss.policy;
	st->asid = ss.asid;
	st->state = ss.state == SEV_SNP_GSTATE_RUNNING ? SEV_GSTATE_RUNNING : SEV_GSTATE_LUPDATE;
	return 0;
}

static int guest_status(struct sevd_guests *gs, const struct guest *g,
			struct sev_cmd_guest_status *st, struct sevd_reply *rep)
{
	return is_snp(g) ? snp_status(gs, gctx_of(g), st, rep)
			 : fw_status(gs, g->rec.handle, st, rep);
}

/* Answer with the firmware's view of the guest (and remember it). */
static void answer(struct sevd_guests *gs, struct guest *g, uint32_t command,
		   struct sevd_reply *rep)
{
	struct sev_cmd_guest_status st;

	rep->u.guest.command = command;
	if (guest_status(gs, g, &st, rep) < 0)
		return;
	g->rec.state = st.state;
	info_of(g, st.state, st.asid, &rep->u.guest.info);
}

static const char *state_name(uint8_t s)
{
	static const char *const names[] = {"UNINIT",  "LUPDATE", "LSECRET", "RUNNING",
					    "SUPDATE", "RUPDATE", "SENT"};

	return s < ELEMENTSOF(names) ? names[s] : "UNKNOWN";
}

/* The daemon-side precondition of commands that write guest memory before firmware runs
 * (sevd must not scribble over a running guest's memory first): firmware's own status name. */
static int need_lupdate(struct sevd_guests *gs, struct guest *g, uint32_t cmd,
			struct sevd_reply *rep)
{
	struct sev_cmd_guest_status st;

	if (guest_status(gs, g, &st, rep) < 0)
		return rep->r;
	if (st.state == SEV_GSTATE_LUPDATE && g->memfd >= 0)
		return 0;
	if (st.state == SEV_GSTATE_LUPDATE) /* kept across a restart (reconcile_known) */
		return fail(rep, -EALREADY,
			    "%s: guest %u was launched by an earlier sevd process, and the writable "
			    "copy of its memory died with that process, so nothing more can go in. "
			    "Measure it as it is (POST /v1/guests/%u/measure), or DELETE it and "
			    "launch again",
			    sev_cmd_name(cmd), g->rec.handle, g->rec.handle);
	rep->r = -EIO;
	rep->fw_status = SEV_STATUS_INVALID_GUEST_STATE;
	snprintf(rep->message, sizeof(rep->message),
		 "%s needs the guest in LUPDATE; guest %u is %s (data goes in before "
		 "LAUNCH_MEASURE)",
		 sev_cmd_name(cmd), g->rec.handle, state_name(st.state));
	return rep->r;
}

/* ---- launch ---- */

static bool name_ok(const char *s)
{
	return s[0] && policy_tenant_name_valid(s);
}

/* The SEV policy rules, which need the firmware's API version (PLATFORM_STATUS). */
static int sev_rules(struct sevd_guests *gs, uint32_t policy, struct policy_verdict *v,
		     struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;
	struct sev_cmd_platform_status ps;

	gfw_begin(SEV_CMD_PLATFORM_STATUS, &psp_ret, &t0);
	r = psp_cmd_platform_status(gs->psp, &ps, &psp_ret);
	if (gfw_done(gs, rep, SEV_CMD_PLATFORM_STATUS, r, psp_ret, &t0) < 0)
		return rep->r;
	policy_admit(&gs->rules, policy, ps.api_major, ps.api_minor, v);
	return 0;
}

/* Host admission of a guest about to take an ASID (launch, activation, receive): the SEV
 * policy rules, or for an SNP guest the SNP ones (snp_policy_must_set/clear, min_abi; the SEV
 * rules do not apply to an SNP policy), then the tenant's guest quota, which counts every
 * guest the tenant holds, with or without an ASID, in any state (SEV, SEV-ES, SNP, migration
 * targets alike): a deactivated guest still counts, so deactivating does not make room.
 * self is the guest being activated again (already counted, so not counted twice), or NULL
 * for a new one. 0, or the refusal in rep. */
static int admit(struct sevd_guests *gs, bool snp, uint64_t policy, const char *tenant,
		 const struct guest *self, struct sevd_reply *rep)
{
	struct policy_verdict v = {.ok = true};
	uint32_t held = 0;

	if (snp)
		policy_snp_admit(&gs->rules, policy, &v);
	else if (sev_rules(gs, (uint32_t)policy, &v, rep) < 0)
		return rep->r;
	if (v.ok) {
		for (unsigned i = 0; i < gs->n; i++)
			held += gs->g[i] != self && !strcmp(gs->g[i]->rec.tenant, tenant);
		policy_quota_check(&gs->rules, tenant, held, &v);
	}
	if (v.ok)
		return 0;
	snprintf(rep->rule, sizeof(rep->rule), "%s", v.rule ? v.rule : "");
	return fail(rep, -EPERM, "refused by the host admission policy, rule %s: %s",
		    v.rule ? v.rule : "?", v.message);
}

/* The tenant's memory quota: the declared memory (memory_size) of every guest it holds, with
 * or without an ASID (a deactivated guest keeps its memory), plus the new guest's. Uploads
 * cannot pass a guest's memory_size, so this bounds the bytes a tenant can upload too. */
static int memory_admit(struct sevd_guests *gs, const char *tenant, uint64_t want,
			struct sevd_reply *rep)
{
	struct policy_verdict v;
	uint64_t held = 0;

	for (unsigned i = 0; i < gs->n; i++)
		if (!strcmp(gs->g[i]->rec.tenant, tenant))
			held += gs->g[i]->rec.memory_size;
	policy_memory_check(&gs->rules, tenant, held, want, &v);
	if (v.ok)
		return 0;
	snprintf(rep->rule, sizeof(rep->rule), "%s", v.rule);
	log_notice("Launch refused: %s", v.message);
	return fail(rep, -EPERM, "refused by the host admission policy, rule %s: %s", v.rule,
		    v.message);
}

/* An ASID for the guest: the one asked for, or the pool's lowest free of the type. */
static int take_asid(struct sevd_guests *gs, uint32_t want, bool es, const char *holder,
		     uint32_t *ret, struct sevd_reply *rep)
{
	const char *reason = NULL;
	uint32_t first, last;
	int r;

	sevd_asid_range(gs->pool, es, &first, &last);
	if (want) {
		if (sevd_asid_check(gs->pool, want, es, &reason) < 0)
			return fail(rep, -EINVAL, "ASID %u cannot take this guest: %s", want,
				    reason);
		r = sevd_asid_claim(gs->pool, want, es, holder);
		if (r < 0)
			return fail(rep, -ENOSPC, "ASID %u is %s", want,
				    r == -EBUSY ? "held by another guest (GET /v1/asids)"
						: "waiting for a flush that failed");
		*ret = want;
		return 0;
	}
	r = sevd_asid_alloc(gs->pool, es, holder, ret);
	if (r == -ENODEV)
		return fail(rep, -ENOSPC, "this platform has no %s ASIDs (CPUID 8000_001F)",
			    es ? "SEV-ES" : "plain SEV");
	if (r < 0)
		return fail(rep, -ENOSPC,
			    "no free %s ASID: all of %u..%u are in use or waiting for "
			    "a flush; decommission a guest first",
			    es ? "SEV-ES" : "plain SEV", first, last);
	return 0;
}

static int map_memory(struct sevd_guests *gs, struct guest *g, struct sevd_reply *rep)
{
	/* SNP: one more page, the guest's context page (guest-snp.h) */
	uint64_t size = g->rec.memory_size + (is_snp(g) ? SEV_PAGE_SIZE : 0);
	char name[32];
	int r;

	snprintf(name, sizeof(name), "sevd-guest");
	/* sealable: the emulator seals it against shrinking and encrypts straight into it */
	g->memfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (g->memfd < 0 || ftruncate(g->memfd, (off_t)size) < 0)
		return fail(rep, negative_errno(), "cannot create %llu bytes of guest memory: %s",
			    (unsigned long long)g->rec.memory_size, strerror(errno));
	r = psp_map_memfd(gs->psp, g->memfd, size, &g->rec.mem_base);
	if (r == -EOPNOTSUPP)
		return fail(rep, r, "cannot map guest memory for firmware: the %s transport carries "
				    "no guest command (on /dev/sev only KVM can send them, through "
				    "KVM_MEMORY_ENCRYPT_OP); launch guests with sevd --psp emu:SOCKET",
			    psp_transport_kind(gs->psp));
	if (r < 0)
		return fail(rep, r, "cannot map guest memory for firmware: %s", strerror(-r));
	g->mapped = true;
	return 0;
}

static int create_check(const struct sevd_request *req, struct sevd_reply *rep)
{
	const typeof(req->u.create) *c = &req->u.create;

	if (!((c->godh_len == 0 && c->session_len == 0) ||
	      (c->godh_len == SEV_CERT_SIZE && c->session_len == sizeof(struct sev_session_blob))))
		return fail(rep, -EINVAL,
			    "godh_cert (%u bytes) and session (128 bytes) go together, "
			    "or neither",
			    SEV_CERT_SIZE);
	if (memchr(c->name, 0, sizeof(c->name)) == NULL ||
	    memchr(c->tenant, 0, sizeof(c->tenant)) == NULL || (c->name[0] && !name_ok(c->name)) ||
	    (c->tenant[0] && !name_ok(c->tenant)))
		return fail(rep, -EINVAL,
			    "name and tenant: 1..63 of [A-Za-z0-9._-], not starting "
			    "with '.'");
	if (c->memory_size && (c->memory_size % 4096 || c->memory_size > GUEST_MEM_MAX))
		return fail(rep, -EINVAL, "memory_size must be a multiple of 4096 up to %llu",
			    (unsigned long long)GUEST_MEM_MAX);
	return 0;
}

/* Undo a launch that did not reach the journal (nothing is left behind). */
static void launch_undo(struct sevd_guests *gs, struct guest *g, bool started, bool activated)
{
	struct sevd_reply *tmp = calloc(1, sizeof(*tmp));

	if (tmp && activated)
		(void)fw_on_handle(gs, SEV_CMD_DEACTIVATE, psp_cmd_deactivate, g->rec.handle, tmp);
	if (tmp && started)
		(void)fw_on_handle(gs, SEV_CMD_DECOMMISSION, psp_cmd_decommission, g->rec.handle,
				   tmp);
	if (g->rec.asid)
		(void)(activated ? sevd_asid_release(gs->pool, g->rec.asid)
				 : sevd_asid_unclaim(gs->pool, g->rec.asid));
	free(tmp);
	guest_free(gs, g, true);
}

static void snp_create(struct sevd_guests *gs, const struct sevd_request *req,
		       struct sevd_reply *rep);
static void snp_undo(struct sevd_guests *gs, struct guest *g, bool created, bool activated);
static int snp_update(struct sevd_guests *gs, struct guest *g, uint64_t off, uint64_t len,
		      uint8_t type, uint64_t gpa, const uint8_t *page, struct sevd_reply *rep);

/* The start a launch (SEV, SEV-ES, SNP) and a receive share: room for one more guest, the
 * tenant's admission (its guests, then its memory), the durable gate, then the guest made with
 * its memory mapped and an ASID taken (of the ES range for SEV-ES and SNP) under a holder label
 * "VERB NAME". tenant "" is "default", memory_size 0 is GUEST_MEM_DEFAULT. The guest, or NULL
 * with the refusal in rep and nothing left behind. */
static struct guest *guest_begin(struct sevd_guests *gs, bool snp, uint64_t policy,
				 const char *tenant, uint64_t memory_size, uint32_t asid,
				 const char *verb, const char *name, struct sevd_reply *rep)
{
	bool es = snp || (policy & SEV_POLICY_ES);
	char holder[SEVD_ASID_HOLDER_MAX];
	struct guest *g;

	if (!tenant[0])
		tenant = "default";
	if (!memory_size)
		memory_size = GUEST_MEM_DEFAULT;
	if (gs->n >= SEVD_GUESTS_MAX) {
		fail(rep, -ENOSPC, "sevd already holds %u guests", SEVD_GUESTS_MAX);
		return NULL;
	}
	if (admit(gs, snp, policy, tenant, NULL, rep) < 0 ||
	    memory_admit(gs, tenant, memory_size, rep) < 0 || durable_gate(gs, rep) < 0)
		return NULL;
	g = calloc(1, sizeof(*g));
	if (!g) {
		fail(rep, -ENOMEM, "out of memory");
		return NULL;
	}
	g->memfd = -1;
	g->rec.policy = (uint32_t)policy;
	g->rec.flags = (snp ? SEVD_JREC_F_SNP : 0) | (es ? SEVD_JREC_F_ES : 0);
	g->rec.memory_size = memory_size;
	snprintf(g->rec.tenant, sizeof(g->rec.tenant), "%s", tenant);
	snprintf(holder, sizeof(holder), "%s %.30s", verb, name[0] ? name : "(unnamed)");
	if (map_memory(gs, g, rep) < 0 || take_asid(gs, asid, es, holder, &g->rec.asid, rep) < 0) {
		(snp ? snp_undo : launch_undo)(gs, g, false, false);
		return NULL;
	}
	return g;
}

/* The guest's name (NAME, or "guest-HANDLE" without one) once firmware gave it a handle, and
 * its ASID relabelled with both ("guest H NAME"). */
static void guest_named(struct sevd_guests *gs, struct guest *g, const char *name, bool es)
{
	char holder[SEVD_ASID_HOLDER_MAX];

	if (name[0])
		snprintf(g->rec.name, sizeof(g->rec.name), "%s", name);
	else
		snprintf(g->rec.name, sizeof(g->rec.name), "guest-%u", g->rec.handle);
	holder_of(g, holder);
	(void)sevd_asid_unclaim(gs->pool, g->rec.asid);
	(void)sevd_asid_claim(gs->pool, g->rec.asid, es, holder);
}

static void op_create(struct sevd_guests *gs, const struct sevd_request *req,
		      struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret;
	const typeof(req->u.create) *c = &req->u.create;
	struct sevd_jrec intent = {.type = SEVD_JREC_INTENT};
	struct guest *g;
	bool es = c->policy & SEV_POLICY_ES;
	int r;

	if (c->snp) {
		snp_create(gs, req, rep);
		return;
	}
	if (create_check(req, rep) < 0)
		return;
	g = guest_begin(gs, false, c->policy, c->tenant, c->memory_size, c->asid, "launch", c->name,
			rep);
	if (!g)
		return;
	/* The INTENT names the region, so that a crash before the PUT leaves nothing mapped. */
	intent.mem_base = g->rec.mem_base;
	if (journal_write(gs, &intent, rep) < 0) {
		launch_undo(gs, g, false, false);
		snprintf(
		    rep->message, sizeof(rep->message),
		    "the launch cannot be made durable: the journal %s cannot be written (%s), "
		    "so nothing was done. Free space in the state directory (or remount it "
		    "read-write), then retry",
		    sevd_journal_path(gs->journal), strerror(gs->journal_err));
		return;
	}
	gfw_begin(SEV_CMD_LAUNCH_START, &psp_ret, &t0);
	r = psp_cmd_launch_start(gs->psp, c->policy, c->godh_len ? c->godh : NULL, c->godh_len,
				 c->session_len ? c->session : NULL, c->session_len, &g->rec.handle,
				 &psp_ret);
	r = gfw_done(gs, rep, SEV_CMD_LAUNCH_START, r, psp_ret, &t0);
	if (r < 0) {
		launch_undo(gs, g, false, false);
		return;
	}
	guest_named(gs, g, c->name, es);
	/* ACTIVATE now, as KVM's sev_guest_init + LAUNCH_START binding: firmware encrypts
	 * LAUNCH_UPDATE_DATA with the key of the guest's ASID (INACTIVE otherwise). */
	gfw_begin(SEV_CMD_ACTIVATE, &psp_ret, &t0);
	r = psp_cmd_activate(gs->psp, g->rec.handle, g->rec.asid, &psp_ret);
	r = gfw_done(gs, rep, SEV_CMD_ACTIVATE, r, psp_ret, &t0);
	if (r < 0) {
		launch_undo(gs, g, true, false);
		return;
	}
	g->rec.state = SEV_GSTATE_LUPDATE;
	g->rec.created = now_s();
	if (guest_save(gs, g, rep) < 0) {
		log_warning("Launch of guest %u rolled back: its record is not durable",
			    g->rec.handle);
		snprintf(
		    rep->message, sizeof(rep->message),
		    "the launch was rolled back (guest %u deactivated and decommissioned, ASID "
		    "%u to a flush): the journal %s could not record it (%s). Free space in the "
		    "state directory (or remount it read-write), then launch again",
		    g->rec.handle, g->rec.asid, sevd_journal_path(gs->journal),
		    strerror(gs->journal_err));
		launch_undo(gs, g, true, true);
		return;
	}
	gs->g[gs->n++] = g;
	log_info("Guest %u (%s, tenant %s) launched, policy 0x%x, ASID %u", g->rec.handle,
		 g->rec.name, g->rec.tenant, g->rec.policy, g->rec.asid);
	answer(gs, g, SEV_CMD_LAUNCH_START, rep);
}

/* ---- SEV-SNP guests ----
 * A launch as KVM's (sev.c snp_launch_start): the context page (the page after the guest's
 * memory) to Firmware, SNP_GCTX_CREATE, SNP_LAUNCH_START with the policy, SNP_ACTIVATE with an
 * ASID of the ES range (SNP guests are SEV-ES guests for the split: AMD APM 15.34), all after an
 * INTENT that names the region and its size, before the PUT. Each uploaded 4 KiB page is made
 * Pre-Guest (RMPUPDATE asid, gpa, immutable; up to SNP_RMP_RUN pages in one line) and
 * SNP_LAUNCH_UPDATE'd with its type; sevd follows
 * the launch digest as firmware does (the PAGE_INFO chain) and journals it, final after
 * SNP_LAUNCH_FINISH (which, with an ID block, firmware has checked against its own: a different
 * digest answers BAD_MEASUREMENT). DELETE: SNP_DECOMMISSION, every page given back (PAGE_RECLAIM,
 * RMPUPDATE to the hypervisor: firmware refuses SNP_ACTIVATE of an ASID that still owns pages),
 * the ASID pending the flush (WBINVD, SNP_DF_FLUSH with SNP up: KVM sev_flush_asids). */

static void digest_get(const struct guest *g, uint8_t d[48])
{
	memcpy(d, g->rec.measure, sizeof(g->rec.measure));
	memcpy(d + sizeof(g->rec.measure), g->rec.mnonce, sizeof(g->rec.mnonce));
}

static void digest_put(struct guest *g, const uint8_t d[48])
{
	memcpy(g->rec.measure, d, sizeof(g->rec.measure));
	memcpy(g->rec.mnonce, d + sizeof(g->rec.measure), sizeof(g->rec.mnonce));
}

/* The pages [from, end) of guest memory, made Pre-Guest ahead of SNP_LAUNCH_UPDATEs that will
 * not run, back to the hypervisor (as they were before the run). */
static void snp_unrun(struct sevd_guests *gs, struct guest *g, uint64_t from, uint64_t end)
{
	if (from >= end)
		return;
	if (sevd_snp_reclaim(gs->psp, g->rec.mem_base + from, (end - from) / SEV_PAGE_SIZE))
		log_warning("SNP: guest %u: page(s) from 0x%llx made Pre-Guest for an update that "
			    "did not run could not be given back (SNP_PAGE_RECLAIM, RMPUPDATE)",
			    g->rec.handle, (unsigned long long)from);
}

#define SNP_RMP_RUN 256u /* pages made Pre-Guest by one RMPUPDATE line (guest-snp.h) */

/* Make the pages [off, off + n pages) Pre-Guest before their SNP_LAUNCH_UPDATEs: in one
 * RMPUPDATE line when there are several (sevd_snp_rmp_private_range), else, or when that line is
 * refused (it then changed nothing), the first page alone, as KVM does page by page; *ret_end:
 * the end of the pages now Pre-Guest. */
static int snp_private_run(struct sevd_guests *gs, struct guest *g, uint64_t off, uint64_t n,
			   uint64_t gpa, uint64_t *ret_end)
{
	uint64_t hi = g->snp_hi;

	if (n > 1) {
		g->snp_hi = MAX(hi, off + n * SEV_PAGE_SIZE); /* cover them before they change */
		if (sevd_snp_rmp_private_range(gs->psp, g->rec.mem_base + off, g->rec.asid, gpa,
					       n) == 0) {
			*ret_end = off + n * SEV_PAGE_SIZE;
			return 0;
		}
		g->snp_hi = hi;
	}
	g->snp_hi = MAX(g->snp_hi, off + SEV_PAGE_SIZE);
	*ret_end = off + SEV_PAGE_SIZE;
	return sevd_snp_rmp_private(gs->psp, g->rec.mem_base + off, g->rec.asid, gpa);
}

#define SNP_BATCH PSP_BATCH_MAX /* SNP_LAUNCH_UPDATEs sent in one exchange (psp_issue_batch) */

/* The clock of command i of a batch of n that began at t0: its share of the batch's time. */
static void batch_share(const struct timespec *t0, unsigned n, struct timespec *ret)
{
	struct timespec now;
	int64_t el, share;

	clock_gettime(CLOCK_MONOTONIC, &now);
	el = (int64_t)(now.tv_sec - t0->tv_sec) * 1000000000 + (now.tv_nsec - t0->tv_nsec);
	share = el / n;
	el = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - share;
	ret->tv_sec = el / 1000000000;
	ret->tv_nsec = el % 1000000000;
}

/* SNP_LAUNCH_UPDATE of the n Pre-Guest pages at off (n > 1: one exchange with the transport,
 * each page still its own firmware command; one by one on a transport without batches), each
 * command's outcome recorded as if issued alone. *ret_done: the pages that answered SUCCESS. */
static int snp_update_pages(struct sevd_guests *gs, struct guest *g, uint64_t off, unsigned n,
			    uint8_t type, struct sevd_reply *rep, unsigned *ret_done)
{
	int psp_ret[SNP_BATCH], ignored, r = -EOPNOTSUPP;
	uint64_t pa = g->rec.mem_base + off;
	unsigned ran = 0;
	struct timespec t0, ti;

	*ret_done = 0;
	if (n > 1) {
		for (unsigned i = 0; i < n; i++)
			gfw_begin(SEV_CMD_SNP_LAUNCH_UPDATE, &ignored, &t0);
		r = sevd_snp_launch_update_batch(gs->psp, gctx_of(g), pa, n, type, psp_ret, &ran);
	}
	if (r == -EOPNOTSUPP) {
		for (unsigned i = 0; i < n; i++) {
			gfw_begin(SEV_CMD_SNP_LAUNCH_UPDATE, &psp_ret[0], &t0);
			r = sevd_snp_launch_update(gs->psp, gctx_of(g), pa + i * SEV_PAGE_SIZE, type,
						   &psp_ret[0]);
			if (gfw_done(gs, rep, SEV_CMD_SNP_LAUNCH_UPDATE, r, psp_ret[0], &t0) < 0)
				return rep->r;
			*ret_done = i + 1;
		}
		return 0;
	}
	if (ran == 0) /* the exchange failed: the first command's failure, as when issued alone */
		return gfw_done(gs, rep, SEV_CMD_SNP_LAUNCH_UPDATE, r < 0 ? r : -EIO,
				SEV_STATUS_NO_FW_CALL, &t0);
	for (unsigned i = 0; i < ran; i++) {
		batch_share(&t0, n, &ti);
		if (gfw_done(gs, rep, SEV_CMD_SNP_LAUNCH_UPDATE,
			     psp_ret[i] == SEV_STATUS_SUCCESS ? 0 : -EIO, psp_ret[i], &ti) < 0)
			return rep->r;
		*ret_done = i + 1;
	}
	return 0;
}

/* The SHA-384 of n NORMAL pages, for their PAGE_INFOs: on a thread of its own while the
 * firmware thread waits for the emulator's batch (the two hashes of a page, sevd's and
 * firmware's, then run side by side), else inline. */
struct page_hashes {
	const uint8_t *pages;
	unsigned n;
	int r;
	uint8_t h[SNP_BATCH][48];
};

static void *page_hashes_run(void *arg)
{
	struct page_hashes *ph = arg;

	ph->r = 0;
	for (unsigned i = 0; i < ph->n && ph->r == 0; i++)
		if (EVP_Digest(ph->pages + (size_t)i * SEV_PAGE_SIZE, SEV_PAGE_SIZE, ph->h[i], NULL,
			       EVP_sha384(), NULL) != 1)
			ph->r = -EIO;
	return NULL;
}

/* SNP_LAUNCH_UPDATE of the pages [off, off + len) of guest memory as type at gpa (gpa + i for
 * page i; VMSA pages all at SEV_SNP_VMSA_GPA), the digest following each page. page: the
 * plaintext of a one-page update, else it is read from the memfd, up to SNP_BATCH pages of one
 * Pre-Guest run at a time, updated in one batch. A page that fails leaves the pages after it
 * as they were: those already made Pre-Guest with it are given back. */
static int snp_update(struct sevd_guests *gs, struct guest *g, uint64_t off, uint64_t len,
		      uint8_t type, uint64_t gpa, const uint8_t *page, struct sevd_reply *rep)
{
	_cleanup_free_ uint8_t *buf = NULL;
	uint64_t run_end = off; /* guest memory below this (from off) is Pre-Guest already */
	bool batch = !page && type != SEV_SNP_PAGE_VMSA && len > SEV_PAGE_SIZE;
	_cleanup_free_ struct page_hashes *ph = NULL;
	uint64_t left; /* from here on, the Pre-Guest pages of the run go back on a failure */
	bool hashed;
	pthread_t th;
	unsigned k, done;
	uint8_t d[48];
	int r;

	buf = malloc((batch ? SNP_BATCH : 1) * SEV_PAGE_SIZE);
	ph = batch ? malloc(sizeof(*ph)) : NULL;
	if (!buf || (batch && !ph))
		return fail(rep, -ENOMEM, "out of memory for the pages of an SNP launch update");
	for (uint64_t p = 0; p < len; p += (uint64_t)k * SEV_PAGE_SIZE) {
		uint64_t ga = type == SEV_SNP_PAGE_VMSA ? gpa : gpa + p;
		uint64_t n = type == SEV_SNP_PAGE_VMSA ? 1 : MIN((len - p) / SEV_PAGE_SIZE, SNP_RMP_RUN);

		if (off + p >= run_end) {
			r = snp_private_run(gs, g, off + p, MAX(n, 1), ga, &run_end);
			if (r < 0)
				return fail(rep, -EIO,
					    "RMPUPDATE of guest page 0x%llx to Pre-Guest (ASID %u) "
					    "failed: %s",
					    (unsigned long long)ga, g->rec.asid, strerror(-r));
		}
		k = batch ? (unsigned)MIN(MIN(len - p, run_end - off - p) / SEV_PAGE_SIZE, SNP_BATCH)
			  : 1;
		k = MAX(k, 1u);
		errno = 0;
		if (!page && pread(g->memfd, buf, (size_t)k * SEV_PAGE_SIZE, (off_t)(off + p)) !=
				     (ssize_t)k * SEV_PAGE_SIZE) {
			snp_unrun(gs, g, off + p, run_end);
			return fail(rep, -EIO, "cannot read guest memory: %s",
				    strerror(errno ? errno : EIO));
		}
		hashed = batch && type == SEV_SNP_PAGE_NORMAL && k > 1;
		if (hashed) {
			ph->pages = buf;
			ph->n = k;
			hashed = pthread_create(&th, NULL, page_hashes_run, ph) == 0;
		}
		r = snp_update_pages(gs, g, off + p, k, type, rep, &done);
		if (hashed)
			pthread_join(th, NULL);
		/* firmware took [0, done); a refused page stays as firmware left it */
		left = off + p + (uint64_t)(done + (r < 0)) * SEV_PAGE_SIZE;
		digest_get(g, d);
		for (unsigned i = 0; i < done; i++) {
			uint64_t gi = type == SEV_SNP_PAGE_VMSA ? gpa : ga + (uint64_t)i * SEV_PAGE_SIZE;

			if ((hashed ? ph->r < 0 || attest_snp_page_info(d, type, gi, ph->h[i]) < 0 :
				      sevd_snp_digest_page(d, type, gi,
							   page ? page : buf + i * SEV_PAGE_SIZE) < 0)) {
				snp_unrun(gs, g, left, run_end);
				return fail(rep, -ENOMEM, "SHA-384 of the launch digest failed");
			}
		}
		digest_put(g, d);
		if (r < 0) {
			snp_unrun(gs, g, left, run_end);
			snprintf(rep->message + strlen(rep->message),
				 sizeof(rep->message) - strlen(rep->message),
				 " (type=%s page at gpa 0x%llx)", sevd_snp_page_type_name(type),
				 (unsigned long long)(ga + (type == SEV_SNP_PAGE_VMSA ? 0 :
							    (uint64_t)done * SEV_PAGE_SIZE)));
			return rep->r;
		}
	}
	return 0;
}

/* A guest's region back to the hypervisor: its pages below hi and the context page. */
static void snp_reclaim(struct sevd_guests *gs, uint64_t base, uint64_t size, uint64_t hi)
{
	unsigned failed = sevd_snp_reclaim(gs->psp, base, MIN(hi, size) / SEV_PAGE_SIZE);

	failed += sevd_snp_reclaim(gs->psp, base + size, 1);
	if (failed)
		log_warning("SNP: %u page(s) of the region at 0x%llx could not be given back to "
			    "the hypervisor (SNP_PAGE_RECLAIM, RMPUPDATE)",
			    failed, (unsigned long long)base);
}

/* An SNP context that must go (a half-done launch, an unknown one): SNP_DECOMMISSION when it is
 * a context, its ASID through the pool's pending-flush set, its pages reclaimed. False, with
 * nothing done, when firmware cannot reach the context page (INVALID_ADDRESS): the region is
 * unmapped, which sevd does only once its launch was undone (reconcile_status). */
static bool snp_cleanup(struct sevd_guests *gs, uint64_t base, uint64_t size, uint64_t hi,
			struct sevd_reply *rep)
{
	struct sev_cmd_guest_status st;
	int r = snp_status(gs, base + size, &st, rep);
	bool ctx = r == 0 && st.state != SEV_GSTATE_UNINIT;

	if (r == -EIO && rep->fw_status == SEV_STATUS_INVALID_ADDRESS) {
		rep->r = 0;
		rep->message[0] = 0;
		return false;
	}
	if (ctx && snp_decommission(gs, base + size, rep) < 0)
		log_error("Reconcile: SNP_DECOMMISSION of the context at 0x%llx failed: %s",
			  (unsigned long long)(base + size), rep->message);
	if (ctx && st.asid && sevd_asid_claim(gs->pool, st.asid, true, "reconcile") == 0)
		(void)sevd_asid_release(gs->pool, st.asid);
	snp_reclaim(gs, base, size, hi);
	return true;
}

/* Undo an SNP launch that did not reach the journal (nothing is left behind). */
static void snp_undo(struct sevd_guests *gs, struct guest *g, bool created, bool activated)
{
	struct sevd_reply *tmp = calloc(1, sizeof(*tmp));

	if (tmp && created)
		(void)snp_decommission(gs, gctx_of(g), tmp);
	if (g->mapped)
		snp_reclaim(gs, g->rec.mem_base, g->rec.memory_size, g->snp_hi);
	if (g->rec.asid)
		(void)(activated ? sevd_asid_release(gs->pool, g->rec.asid)
				 : sevd_asid_unclaim(gs->pool, g->rec.asid));
	free(tmp);
	guest_free(gs, g, true);
}

/* A handle of sevd's for a new SNP guest: the lowest free one from SEVD_SNP_HANDLE_BASE. */
static uint32_t snp_handle(struct sevd_guests *gs)
{
	uint32_t h = SEVD_SNP_HANDLE_BASE;

	while (find(gs, h)) /* at most SEVD_GUESTS_MAX taken */
		h++;
	return h;
}

static int snp_policy_check(uint64_t policy, struct sevd_reply *rep)
{
	if (policy >> 32)
		return fail(rep, -EINVAL,
			    "policy: bits 32..63 of the SNP guest policy are reserved and must be "
			    "zero (got 0x%llx)",
			    (unsigned long long)policy);
	if (!(policy & SEV_SNP_POLICY_RSVD_MBO))
		return fail(rep, -EINVAL,
			    "policy: bit 17 of the SNP guest policy is reserved and must be one "
			    "(add 0x20000; QEMU's default policy is 0x30000)");
	return 0;
}

static int snp_start(struct sevd_guests *gs, struct guest *g, uint64_t policy, bool *created,
		     struct sevd_reply *rep)
{
	uint64_t gctx = gctx_of(g);
	struct timespec t0;
	int psp_ret;
	int r = sevd_snp_rmp_firmware(gs->psp, gctx);

	if (r < 0)
		return fail(rep, r, "RMPUPDATE of the guest context page to Firmware failed: %s",
			    strerror(-r));
	gfw_begin(SEV_CMD_SNP_GCTX_CREATE, &psp_ret, &t0);
	r = sevd_snp_gctx_create(gs->psp, gctx, &psp_ret);
	if (gfw_done(gs, rep, SEV_CMD_SNP_GCTX_CREATE, r, psp_ret, &t0) < 0)
		return rep->r;
	*created = true;
	gfw_begin(SEV_CMD_SNP_LAUNCH_START, &psp_ret, &t0);
	r = sevd_snp_launch_start(gs->psp, gctx, policy, &psp_ret);
	if (gfw_done(gs, rep, SEV_CMD_SNP_LAUNCH_START, r, psp_ret, &t0) < 0)
		return rep->r;
	gfw_begin(SEV_CMD_SNP_ACTIVATE, &psp_ret, &t0);
	r = sevd_snp_activate(gs->psp, gctx, g->rec.asid, &psp_ret);
	return gfw_done(gs, rep, SEV_CMD_SNP_ACTIVATE, r, psp_ret, &t0);
}

static void snp_create(struct sevd_guests *gs, const struct sevd_request *req,
		       struct sevd_reply *rep)
{
	const typeof(req->u.create) *c = &req->u.create;
	struct sevd_jrec intent = {.type = SEVD_JREC_INTENT, .flags = SEVD_JREC_F_SNP};
	bool created = false;
	struct guest *g;

	if (create_check(req, rep) < 0 || snp_policy_check(c->snp_policy, rep) < 0)
		return;
	if (c->godh_len || c->session_len) {
		fail(rep, -EINVAL, "godh_cert and session are SEV's: an SNP launch takes none");
		return;
	}
	g = guest_begin(gs, true, c->snp_policy, c->tenant, c->memory_size, c->asid, "launch",
			c->name, rep);
	if (!g)
		return;
	intent.mem_base = g->rec.mem_base;
	intent.memory_size = g->rec.memory_size;
	if (journal_write(gs, &intent, rep) < 0) {
		snp_undo(gs, g, false, false);
		return;
	}
	if (snp_start(gs, g, c->snp_policy, &created, rep) < 0) {
		snp_undo(gs, g, created, false);
		return;
	}
	g->rec.handle = snp_handle(gs);
	guest_named(gs, g, c->name, true);
	g->rec.state = SEV_GSTATE_LUPDATE;
	g->rec.created = now_s();
	if (guest_save(gs, g, rep) < 0) {
		snprintf(rep->message, sizeof(rep->message),
			 "the SNP launch was rolled back (decommissioned, ASID %u to a flush): the "
			 "journal %s could not record it (%s). Free space in the state directory (or "
			 "remount it read-write), then launch again",
			 g->rec.asid, sevd_journal_path(gs->journal), strerror(gs->journal_err));
		snp_undo(gs, g, true, true);
		return;
	}
	gs->g[gs->n++] = g;
	log_info("SNP guest %u (%s, tenant %s) launched, policy 0x%llx, ASID %u", g->rec.handle,
		 g->rec.name, g->rec.tenant, (unsigned long long)c->snp_policy, g->rec.asid);
	answer(gs, g, SEV_CMD_SNP_LAUNCH_START, rep);
}

/* allowed_author_keys: the digest is SHA-384 of the ID auth's AUTHOR_KEY (0x404 bytes), as
 * firmware puts it in the report's AUTHOR_KEY_DIGEST (SNP ABI "ATTESTATION_REPORT"). */
static void snp_author_admit(struct sevd_guests *gs, const uint8_t *auth_bytes,
			     struct policy_verdict *v)
{
	const struct sev_snp_id_auth *auth = (const void *)auth_bytes;
	uint8_t d[POLICY_AUTHOR_KEY_DIGEST_SIZE];
	unsigned int n = sizeof(d);

	if (!auth || gs->rules.n_author_keys == 0) {
		policy_snp_author_check(&gs->rules, NULL, v);
		return;
	}
	if (EVP_Digest(auth->author_key, sizeof(auth->author_key), d, &n, EVP_sha384(), NULL) != 1) {
		v->ok = false;
		v->rule = "allowed_author_keys";
		snprintf(v->message, sizeof(v->message),
			 "cannot hash the ID author key (OpenSSL failed): try again");
		return;
	}
	policy_snp_author_check(&gs->rules, d, v);
}

/* SNP_LAUNCH_FINISH; with the request's ID block and ID auth when it has them. */
static void snp_finish(struct sevd_guests *gs, struct guest *g, const struct sevd_request *req,
		       struct sevd_reply *rep)
{
	struct sev_snp_id_block blk;
	struct sev_snp_id_auth *auth = NULL;
	bool id = req && req->u.guest.snp_id_block;
	struct policy_verdict v;
	struct timespec t0;
	int psp_ret, r;

	if (g->uploading) {
		fail(rep, -EALREADY, "an upload into guest %u is running", g->rec.handle);
		return;
	}
	if (id && req->u.guest.len != sizeof(*auth)) {
		fail(rep, -EINVAL, "id_auth: the ID authentication structure is %zu bytes (got %u)",
		     sizeof(*auth), req->u.guest.len);
		return;
	}
	policy_snp_finish_check(&gs->rules, id, &v);
	if (v.ok)
		snp_author_admit(gs, id && req->u.guest.snp_author ? req->u.guest.data : NULL, &v);
	if (!v.ok) {
		snprintf(rep->rule, sizeof(rep->rule), "%s", v.rule);
		fail(rep, -EPERM, "refused by the host admission policy, rule %s: %s", v.rule,
		     v.message);
		return;
	}
	if (durable_gate(gs, rep) < 0)
		return;
	if (id) {
		memcpy(&blk, req->u.guest.id_block, sizeof(blk));
		auth = calloc(1, sizeof(*auth));
		if (!auth) {
			fail(rep, -ENOMEM, "out of memory");
			return;
		}
		memcpy(auth, req->u.guest.data, sizeof(*auth));
	}
	gfw_begin(SEV_CMD_SNP_LAUNCH_FINISH, &psp_ret, &t0);
	r = sevd_snp_launch_finish(gs->psp, gctx_of(g), id ? &blk : NULL, auth,
				   id && req->u.guest.snp_author, req ? req->u.guest.host_data : NULL,
				   &psp_ret);
	if (gfw_done(gs, rep, SEV_CMD_SNP_LAUNCH_FINISH, r, psp_ret, &t0) < 0) {
		free(auth);
		return;
	}
	free(auth);
	g->rec.state = SEV_GSTATE_RUNNING;
	g->rec.flags |= SEVD_JREC_F_MEASURED | (id ? SEVD_JREC_F_SNP_ID : 0);
	if (guest_save(gs, g, rep) < 0)
		return;
	log_info("SNP guest %u (%s) finished its launch%s: RUNNING on ASID %u", g->rec.handle,
		 g->rec.name, id ? " with an ID block" : "", g->rec.asid);
	answer(gs, g, SEV_CMD_SNP_LAUNCH_FINISH, rep);
}

static void op_snp_finish(struct sevd_guests *gs, const struct sevd_request *req,
			  struct sevd_reply *rep)
{
	struct guest *g = lookup(gs, req->u.guest.handle, rep);

	if (!g)
		return;
	if (!is_snp(g)) {
		fail(rep, -EINVAL, "id_block, id_auth and host_data are for SEV-SNP guests; guest %u "
				   "is SEV: POST /finish with {}",
		     g->rec.handle);
		return;
	}
	snp_finish(gs, g, req, rep);
}

/* DECOMMISSION of an SNP guest: revoked, SNP_DECOMMISSION, pages back, ASID pending flush. */
static void snp_delete(struct sevd_guests *gs, struct guest *g, struct sevd_reply *rep)
{
	uint32_t handle = g->rec.handle, asid = g->rec.asid;

	revoke_binding(gs, g);
	if (snp_decommission(gs, gctx_of(g), rep) < 0)
		return;
	snp_reclaim(gs, g->rec.mem_base, g->rec.memory_size, g->snp_hi);
	if (asid)
		(void)sevd_asid_release(gs->pool, asid);
	g->rec.asid = 0;
	rep->u.guest.command = SEV_CMD_SNP_DECOMMISSION;
	rep->u.guest.deactivated = asid != 0;
	rep->u.guest.released_asid = asid;
	info_of(g, 0, 0, &rep->u.guest.info);
	table_remove(gs, g);
	if (guest_forget(gs, handle, rep) < 0)
		return;
	log_info("SNP guest %u decommissioned, its pages reclaimed%s", handle,
		 asid ? "; its ASID waits for a flush" : "");
}

/* What SNP guests do not have, by the route that asked. */
static bool snp_refused(const struct guest *g, const char *what, struct sevd_reply *rep)
{
	if (!is_snp(g))
		return false;
	fail(rep, -EINVAL, "guest %u is an SEV-SNP guest: %s", g->rec.handle, what);
	return true;
}

/* ---- data ---- */

static int upload_address(const struct guest *g, const struct sevd_request *req, uint64_t align,
			  uint64_t len, uint64_t *ret, struct sevd_reply *rep)
{
	uint64_t a = req->u.guest.have_address ? req->u.guest.address
					       : (g->next_addr + align - 1) / align * align;

	if (a % align)
		return fail(rep, -EINVAL, "%s 0x%llx must be %llu-byte aligned",
			    is_snp(g) ? "gpa" : "address", (unsigned long long)a,
			    (unsigned long long)align);
	if (a >= g->rec.memory_size || len > g->rec.memory_size - a)
		return fail(rep, -EFBIG,
			    "address 0x%llx + %llu bytes is outside the guest's "
			    "%llu bytes of memory (memory_size at launch)",
			    (unsigned long long)a, (unsigned long long)len,
			    (unsigned long long)g->rec.memory_size);
	*ret = a;
	return 0;
}

/* The ?type= of an upload: SNP guests only; VMSA pages go through /vmsa. */
static int snp_page_type(const struct guest *g, uint8_t type, struct sevd_reply *rep)
{
	if (!is_snp(g))
		return type ? fail(rep, -EINVAL,
				   "type: page types are for SEV-SNP guests; guest %u is SEV%s",
				   g->rec.handle, g->rec.flags & SEVD_JREC_F_ES ? "-ES" : "")
			    : 0;
	if (type == SEV_SNP_PAGE_VMSA)
		return fail(rep, -EINVAL, "type: VMSA pages go through POST /v1/guests/%u/vmsa",
			    g->rec.handle);
	if (type && !sevd_snp_page_type_name(type))
		return fail(rep, -EINVAL,
			    "type: %u is no page type (normal, zero, unmeasured, secrets, cpuid)",
			    type);
	return 0;
}

static void op_data_begin(struct sevd_guests *gs, const struct sevd_request *req,
			  struct sevd_reply *rep)
{
	struct guest *g = lookup(gs, req->u.guest.handle, rep);
	uint64_t a = 0; /* set by upload_address (gcc -O2 cannot tell) */

	if (!g)
		return;
	if (g->uploading) {
		fail(rep, -EALREADY, "an upload into guest %u is already running", g->rec.handle);
		return;
	}
	if (snp_page_type(g, req->u.guest.page_type, rep) < 0)
		return;
	if (durable_gate(gs, rep) < 0 || need_lupdate(gs, g, SEV_CMD_LAUNCH_UPDATE_DATA, rep) < 0 ||
	    upload_address(g, req, is_snp(g) ? SEV_PAGE_SIZE : 16, 0, &a, rep) < 0)
		return;
	g->up_type = is_snp(g) ? (req->u.guest.page_type ? req->u.guest.page_type
							 : SEV_SNP_PAGE_NORMAL)
			       : 0;
	g->uploading = true;
	g->upload_failed = false;
	g->up_start = g->up_pos = g->up_chunk = a;
	g->up_chunks = 0;
}

/* LAUNCH_UPDATE_DATA over [up_chunk, up_chunk + len). */
static int update_chunk(struct sevd_guests *gs, struct guest *g, uint32_t len,
			struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;

	if (is_snp(g))
		r = snp_update(gs, g, g->up_chunk, len, g->up_type, g->up_chunk, NULL, rep);
	else {
		gfw_begin(SEV_CMD_LAUNCH_UPDATE_DATA, &psp_ret, &t0);
		r = psp_cmd_launch_update_data(gs->psp, g->rec.handle,
					       g->rec.mem_base + g->up_chunk, len, &psp_ret);
		r = gfw_done(gs, rep, SEV_CMD_LAUNCH_UPDATE_DATA, r, psp_ret, &t0);
	}
	if (r < 0)
		return r;
	g->up_chunk += len;
	g->up_chunks += (len + GUEST_CHUNK - 1) / GUEST_CHUNK;
	g->rec.data_bytes += len;
	return 0;
}

static void upload_stop(struct guest *g)
{
	g->uploading = false;
	g->upload_failed = true;
}

/* The running upload takes a piece of len bytes (at most max, and they fit guest memory),
 * else the reason. */
static int data_check(struct guest *g, uint64_t len, uint64_t max, struct sevd_reply *rep)
{
	if (!g->uploading)
		return fail(rep, -EINVAL, "no upload into guest %u is running", g->rec.handle);
	if ((g->up_type == SEV_SNP_PAGE_SECRETS || g->up_type == SEV_SNP_PAGE_CPUID) &&
	    g->up_pos - g->up_start + len > SEV_PAGE_SIZE) {
		upload_stop(g);
		return fail(rep, -EINVAL,
			    "type=%s takes an empty or a one-page (4096-byte) body (SNP ABI "
			    "PAGE_TYPE_%s: one 4 KiB page)",
			    sevd_snp_page_type_name(g->up_type),
			    g->up_type == SEV_SNP_PAGE_SECRETS ? "SECRETS" : "CPUID");
	}
	if (len > max || len > g->rec.memory_size - g->up_pos) {
		upload_stop(g);
		return fail(rep, -EFBIG,
			    "the image does not fit the guest's %llu bytes of memory from "
			    "address 0x%llx (memory_size at launch)",
			    (unsigned long long)g->rec.memory_size,
			    (unsigned long long)g->up_start);
	}
	return 0;
}

/* The first `ready` whole chunks the upload holds that firmware has not measured yet, in
 * commands of up to GUEST_CMD_CHUNKS chunks. */
static int update_chunks(struct sevd_guests *gs, struct guest *g, uint64_t ready,
			 struct sevd_reply *rep)
{
	while (ready) {
		uint64_t n = MIN(ready, (uint64_t)GUEST_CMD_CHUNKS);

		if (update_chunk(gs, g, (uint32_t)(n * GUEST_CHUNK), rep) < 0)
			return rep->r;
		ready -= n;
	}
	return 0;
}

/* Every whole chunk the upload holds that firmware has not measured yet. */
static int update_full_chunks(struct sevd_guests *gs, struct guest *g, struct sevd_reply *rep)
{
	return update_chunks(gs, g, (g->up_pos - g->up_chunk) / GUEST_CHUNK, rep);
}

static int copy_in(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t k = pwrite(fd, buf, len, (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? negative_errno() : -EIO;
		buf += k;
		len -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

static void *copier_main(void *arg)
{
	struct copier *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->busy && !c->stop)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->lock);
		c->r = copy_in(c->fd, c->buf, c->len, c->off);
		pthread_mutex_lock(&c->lock);
		c->busy = false;
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Start a copy on the copier thread (started on first use); false: copy it yourself. */
static bool copier_post(struct sevd_guests *gs, int fd, const uint8_t *buf, size_t len,
			uint64_t off)
{
	struct copier *c = &gs->copier;

	pthread_mutex_lock(&c->lock);
	if (!c->started && pthread_create(&c->thread, NULL, copier_main, c) == 0)
		c->started = true;
	if (c->started) {
		c->fd = fd;
		c->buf = buf;
		c->len = len;
		c->off = off;
		c->busy = true;
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	return c->started;
}

static int copier_wait(struct copier *c)
{
	pthread_mutex_lock(&c->lock);
	while (c->busy)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	return c->r;
}

static void copier_stop(struct copier *c)
{
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (c->started)
		pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

static void op_data(struct sevd_guests *gs, const struct sevd_request *req, struct sevd_reply *rep)
{
	struct guest *g = lookup(gs, req->u.guest.handle, rep);
	uint32_t len = req->u.guest.len;

	if (!g || data_check(g, len, SEVD_GUEST_PIECE_MAX, rep) < 0)
		return;
	if (pwrite(g->memfd, req->u.guest.data, len, (off_t)g->up_pos) != (ssize_t)len) {
		upload_stop(g);
		fail(rep, -EIO, "cannot write guest memory: %s", strerror(errno ? errno : EIO));
		return;
	}
	g->up_pos += len;
	if (update_full_chunks(gs, g, rep) < 0)
		upload_stop(g);
}

/* A staged piece (ipc.h): the chunks earlier pieces completed are measured while the copier
 * thread copies this piece into guest memory behind them (the emulator's command and the copy
 * overlap on two cores); the chunks this piece completes wait for the next piece, END or
 * ABORT. They overlap only when no page holds bytes of both (an upload that starts off a page
 * boundary copies after the command instead). buf is untrusted image bytes: copied, never
 * read for a decision. */
void sevd_guests_principal(struct sevd_guests *gs, const char *tenant)
{
	gs->principal = tenant;
}

void sevd_guests_data(struct sevd_guests *gs, uint32_t handle, const uint8_t *buf, uint32_t len,
		      struct sevd_reply *rep)
{
	struct guest *g = lookup(gs, handle, rep);
	uint64_t ready, end;
	bool beside;
	int r = 0, cr;

	if (!g || data_check(g, len, SEVD_STAGE_SLOT_SIZE, rep) < 0)
		return;
	ready = (g->up_pos - g->up_chunk) / GUEST_CHUNK;
	end = g->up_chunk + ready * GUEST_CHUNK;
	beside = ready && len && (end + 4095) / 4096 <= g->up_pos / 4096 &&
		 copier_post(gs, g->memfd, buf, len, g->up_pos);
	r = update_chunks(gs, g, ready, rep);
	if (beside)
		cr = copier_wait(&gs->copier); /* the slot is the worker's again after the answer */
	else
		cr = r == 0 ? copy_in(g->memfd, buf, len, g->up_pos) : 0;
	if (r < 0) {
		upload_stop(g);
		return;
	}
	if (cr < 0) {
		upload_stop(g);
		fail(rep, -EIO, "cannot write guest memory: %s", strerror(-cr));
		return;
	}
	g->up_pos += len;
}

/* The last chunk, padded with zeros to 16 bytes (LAUNCH_UPDATE_DATA's alignment). */
static void op_data_end(struct sevd_guests *gs, const struct sevd_request *req,
			struct sevd_reply *rep)
{
	static const uint8_t zero[SEV_PAGE_SIZE];
	struct guest *g = lookup(gs, req->u.guest.handle, rep);
	uint64_t rest, padded, align;
	bool one_page;

	if (!g)
		return;
	if (!g->uploading) {
		fail(rep, -EINVAL, "no upload into guest %u is running", g->rec.handle);
		return;
	}
	g->uploading = false;
	if (update_full_chunks(gs, g, rep) < 0) /* staged pieces leave their last chunk here */
		return;
	rest = g->up_pos - g->up_chunk;
	align = is_snp(g) ? SEV_PAGE_SIZE : 16; /* SNP_LAUNCH_UPDATE: whole 4 KiB pages */
	padded = (rest + align - 1) / align * align;
	/* SNP SECRETS and CPUID: an empty body is the one page (firmware fills SECRETS; an empty
	 * CPUID page lists no function) */
	one_page = g->up_type == SEV_SNP_PAGE_SECRETS || g->up_type == SEV_SNP_PAGE_CPUID;
	if (one_page && g->up_pos == g->up_start) {
		if (g->up_start + SEV_PAGE_SIZE > g->rec.memory_size) {
			fail(rep, -EFBIG, "gpa 0x%llx: the page is outside the guest's %llu bytes",
			     (unsigned long long)g->up_start,
			     (unsigned long long)g->rec.memory_size);
			return;
		}
		padded = SEV_PAGE_SIZE;
	} else if (g->up_pos == g->up_start) {
		fail(rep, -EINVAL, "the upload was empty: send the image as the request body");
		return;
	}
	if (padded > rest && pwrite(g->memfd, zero, padded - rest, (off_t)g->up_pos) < 0) {
		fail(rep, -EIO, "cannot write guest memory: %s", strerror(errno));
		return;
	}
	if (padded && update_chunk(gs, g, (uint32_t)padded, rep) < 0)
		return;
	rep->u.guest.uploaded = g->up_pos - g->up_start;
	rep->u.guest.address = g->up_start;
	rep->u.guest.chunks = g->up_chunks;
	g->next_addr = g->up_chunk;
	if (guest_save(gs, g, rep) < 0)
		return;
	answer(gs, g, SEV_CMD_LAUNCH_UPDATE_DATA, rep);
}

int sevd_guests_check_tenant(struct sevd_guests *gs, uint32_t handle, const char *tenant,
			     struct sevd_reply *rep)
{
	struct guest *g = find(gs, handle);

	if (!g || !tenant || !tenant[0])
		return 0;
	gs->principal = tenant;
	(void)lookup(gs, handle, rep);
	gs->principal = NULL;
	return rep->r;
}

static void op_data_abort(struct sevd_guests *gs, const struct sevd_request *req,
			  struct sevd_reply *rep)
{
	struct guest *g = find(gs, req->u.guest.handle);

	if (g && !visible(gs, g)) { /* another tenant's upload is not this principal's to end */
		(void)lookup(gs, req->u.guest.handle, rep);
		return;
	}
	if (g && g->uploading) {
		log_warning(
		    "Guest %u: the client left mid-upload after %llu bytes; what was measured "
		    "stays measured",
		    g->rec.handle, (unsigned long long)(g->up_pos - g->up_start));
		/* As when every whole chunk was measured on arrival: staged pieces leave the
		 * last one they completed for the next call. */
		if (update_full_chunks(gs, g, rep) < 0)
			log_warning("Guest %u: measuring the last whole chunk of the upload "
				    "failed: %s", g->rec.handle, rep->message);
		upload_stop(g);
		rep->r = 0;
	}
}

/* The VMSA at guest address a joins the guest's list (once: a page measured twice is still
 * one vCPU's). */
static bool vmsa_known(const struct guest *g, uint64_t a)
{
	for (uint32_t i = 0; i < g->n_vmsa; i++)
		if (g->vmsa[i] == a)
			return true;
	return false;
}

/* 1 added, 0 known already, -ENOMEM past SEVD_VCPUS_MAX or out of memory. */
static int vmsa_add(struct guest *g, uint64_t a)
{
	if (vmsa_known(g, a))
		return 0;
	if (g->n_vmsa == g->cap_vmsa) {
		uint32_t cap = g->cap_vmsa ? 2 * g->cap_vmsa : 4;
		uint64_t *v = cap <= SEVD_VCPUS_MAX ? reallocarray(g->vmsa, cap, sizeof(*v)) : NULL;

		if (!v)
			return -ENOMEM;
		g->vmsa = v;
		g->cap_vmsa = cap;
	}
	g->vmsa[g->n_vmsa++] = a;
	return 1;
}

/* Keep the VMSA's address in the table and in the journal (SEVD_JREC_VMSA): the table's
 * list dies with sevd, and a restarted sevd must still know the pages to migrate the guest. */
static int vmsa_keep(struct sevd_guests *gs, struct guest *g, uint64_t a, struct sevd_reply *rep)
{
	struct sevd_jrec rec;
	int r = vmsa_add(g, a);

	if (r < 0)
		return fail(rep, -ENOMEM, "guest %u: cannot keep more than %u VMSAs",
			    g->rec.handle, g->cap_vmsa);
	if (r == 0)
		return 0;
	rec = vmsa_rec(g, a);
	return journal_write(gs, &rec, rep);
}

static void op_vmsa(struct sevd_guests *gs, const struct sevd_request *req, struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;
	struct guest *g = lookup(gs, req->u.guest.handle, rep);
	uint32_t len = req->u.guest.len;
	uint64_t a = 0; /* set by upload_address (gcc -O2 cannot tell) */

	if (!g)
		return;
	if (len != 4096) {
		fail(rep, -EINVAL, "a VMSA is one 4096-byte page (got %u bytes)", len);
		return;
	}
	if (g->uploading) {
		fail(rep, -EALREADY, "an upload into guest %u is running", g->rec.handle);
		return;
	}
	if (durable_gate(gs, rep) < 0 || need_lupdate(gs, g, SEV_CMD_LAUNCH_UPDATE_VMSA, rep) < 0 ||
	    upload_address(g, req, 4096, len, &a, rep) < 0)
		return;
	if (pwrite(g->memfd, req->u.guest.data, len, (off_t)a) != (ssize_t)len) {
		fail(rep, -EIO, "cannot write guest memory: %s", strerror(errno ? errno : EIO));
		return;
	}
	if (is_snp(g))
		r = snp_update(gs, g, a, len, SEV_SNP_PAGE_VMSA, SEV_SNP_VMSA_GPA, req->u.guest.data,
			       rep);
	else {
		gfw_begin(SEV_CMD_LAUNCH_UPDATE_VMSA, &psp_ret, &t0);
		r = psp_cmd_launch_update_vmsa(gs->psp, g->rec.handle, g->rec.mem_base + a, len,
					       &psp_ret);
		r = gfw_done(gs, rep, SEV_CMD_LAUNCH_UPDATE_VMSA, r, psp_ret, &t0);
	}
	if (r < 0)
		return;
	g->rec.data_bytes += len;
	g->next_addr = a + len;
	rep->u.guest.address = a;
	if (guest_save(gs, g, rep) < 0 || vmsa_keep(gs, g, a, rep) < 0)
		return;
	answer(gs, g, SEV_CMD_LAUNCH_UPDATE_VMSA, rep);
}

/* ---- measure, secret, finish ---- */

static void op_measure(struct sevd_guests *gs, const struct sevd_request *req,
		       struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;
	struct guest *g = lookup(gs, req->u.guest.handle, rep);
	struct sev_cmd_platform_status ps;
	uint8_t blob[SEV_MEASURE_BLOB_SIZE];

	if (!g)
		return;
	if (g->uploading) {
		fail(rep, -EALREADY, "an upload into guest %u is running", g->rec.handle);
		return;
	}
	if (is_snp(g) && !(g->rec.flags & SEVD_JREC_F_MEASURED)) { /* SNP: no LAUNCH_MEASURE */
		fail(rep, -EALREADY,
		     "SNP guest %u is still launching: its launch digest is final after POST "
		     "/v1/guests/%u/finish",
		     g->rec.handle, g->rec.handle);
		return;
	}
	if (is_snp(g)) {
		answer(gs, g, SEV_CMD_SNP_GUEST_STATUS, rep);
		return;
	}
	gfw_begin(SEV_CMD_PLATFORM_STATUS, &psp_ret, &t0);
	r = psp_cmd_platform_status(gs->psp, &ps, &psp_ret);
	if (gfw_done(gs, rep, SEV_CMD_PLATFORM_STATUS, r, psp_ret, &t0) < 0)
		return;
	if (!(g->rec.flags & SEVD_JREC_F_MEASURED)) {
		if (durable_gate(gs, rep) < 0) /* the first call measures; later ones only read */
			return;
		gfw_begin(SEV_CMD_LAUNCH_MEASURE, &psp_ret, &t0);
		r = psp_cmd_launch_measure(gs->psp, g->rec.handle, blob, &psp_ret);
		if (gfw_done(gs, rep, SEV_CMD_LAUNCH_MEASURE, r, psp_ret, &t0) < 0)
			return;
		memcpy(g->rec.measure, blob, SEV_MEASURE_SIZE);
		memcpy(g->rec.mnonce, blob + SEV_MEASURE_SIZE, SEV_MNONCE_SIZE);
		g->rec.flags |= SEVD_JREC_F_MEASURED;
		g->rec.state = SEV_GSTATE_LSECRET;
		if (guest_save(gs, g, rep) < 0)
			return;
	}
	rep->u.guest.api_major = ps.api_major;
	rep->u.guest.api_minor = ps.api_minor;
	rep->u.guest.build = ps.build;
	answer(gs, g, SEV_CMD_LAUNCH_MEASURE, rep);
}

/* A packet whose IV or MAC this guest has seen is a replay (a fresh packet has a fresh IV, and
 * its MAC covers the IV): 409 secret_replayed. */
static bool secret_replayed(const struct guest *g, const struct sev_secret_header *hdr,
			    struct sevd_reply *rep)
{
	for (uint32_t i = 0; i < g->n_seen; i++)
		if (!CRYPTO_memcmp(g->seen[i].iv, hdr->iv, sizeof(hdr->iv)) ||
		    !CRYPTO_memcmp(g->seen[i].mac, hdr->mac, sizeof(hdr->mac))) {
			fail(rep, -EALREADY,
			     "guest %u took a LAUNCH_SECRET packet with this %s before: a replayed "
			     "packet is refused. The owner builds a fresh packet (a new IV) over "
			     "the guest's measurement",
			     g->rec.handle,
			     CRYPTO_memcmp(g->seen[i].iv, hdr->iv, sizeof(hdr->iv)) ? "MAC" : "IV");
			snprintf(rep->rule, sizeof(rep->rule), "secret_replay");
			log_notice("Guest %u: a replayed LAUNCH_SECRET packet refused", g->rec.handle);
			return true;
		}
	if (g->n_seen >= SECRETS_MAX) {
		fail(rep, -EALREADY,
		     "guest %u took %u LAUNCH_SECRET packets already, the most one launch may; "
		     "finish its launch (POST /v1/guests/%u/finish)",
		     g->rec.handle, SECRETS_MAX, g->rec.handle);
		return true;
	}
	return false;
}

static int seen_add(struct guest *g, const uint8_t iv[16], const uint8_t mac[32])
{
	struct secret_seen *s;

	if (g->n_seen >= SECRETS_MAX)
		return -E2BIG;
	s = reallocarray(g->seen, g->n_seen + 1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	g->seen = s;
	memcpy(s[g->n_seen].iv, iv, 16);
	memcpy(s[g->n_seen].mac, mac, 32);
	g->n_seen++;
	return 0;
}

static void seen_drop(struct guest *g, const uint8_t iv[16], const uint8_t mac[32])
{
	for (uint32_t i = 0; i < g->n_seen; i++)
		if (!CRYPTO_memcmp(g->seen[i].iv, iv, 16) && !CRYPTO_memcmp(g->seen[i].mac, mac, 32)) {
			g->seen[i] = g->seen[--g->n_seen];
			return;
		}
}

/* Seen before firmware runs it: a crash after LAUNCH_SECRET cannot let the packet in twice. A
 * packet firmware refuses (a tampered payload, the wrong state) is forgotten again by
 * secret_refused(), so that the owner's genuine packet with that header still goes in; a crash
 * in between leaves it seen (the owner then builds a fresh packet). */
static int secret_record(struct sevd_guests *gs, struct guest *g,
			 const struct sev_secret_header *hdr, struct sevd_reply *rep)
{
	struct sevd_jrec rec;

	if (seen_add(g, hdr->iv, hdr->mac) < 0)
		return fail(rep, -ENOMEM, "out of memory");
	secret_rec(g, &g->seen[g->n_seen - 1], &rec);
	rec.updated = now_s();
	if (journal_write(gs, &rec, rep) < 0) { /* nothing reached firmware: not seen */
		seen_drop(g, hdr->iv, hdr->mac);
		snprintf(rep->message, sizeof(rep->message),
			 "guest %u: the secret was not injected: the journal %s cannot record the "
			 "packet (%s), so nothing was done. Free space in the state directory (or "
			 "remount it read-write), then retry with the same packet",
			 g->rec.handle, sevd_journal_path(gs->journal), strerror(gs->journal_err));
		return rep->r;
	}
	return 0;
}

static void secret_refused(struct sevd_guests *gs, struct guest *g,
			   const struct sev_secret_header *hdr)
{
	struct sevd_reply *tmp = calloc(1, sizeof(*tmp)); /* the firmware error stays in rep */
	struct secret_seen s;
	struct sevd_jrec rec;

	seen_drop(g, hdr->iv, hdr->mac);
	memcpy(s.iv, hdr->iv, sizeof(s.iv));
	memcpy(s.mac, hdr->mac, sizeof(s.mac));
	secret_rec(g, &s, &rec);
	rec.flags = SEVD_JREC_F_REFUSED;
	rec.updated = now_s();
	if (tmp)
		(void)journal_write(gs, &rec, tmp); /* failed: the snapshot owed leaves it out */
	free(tmp);
}

static void op_secret(struct sevd_guests *gs, const struct sevd_request *req,
		      struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;
	struct guest *g = lookup(gs, req->u.guest.handle, rep);
	uint64_t a = req->u.guest.have_address ? req->u.guest.address : SECRET_ADDR_DEFAULT;
	uint32_t len = req->u.guest.len;
	struct sev_secret_header hdr;

	if (!g || snp_refused(g, "its secrets go in as a SECRETS page (POST /data?type=secrets) "
				 "and to the guest through its own guest messages",
			      rep))
		return;
	if (len == 0 || len > SEVD_GUEST_PIECE_MAX) {
		fail(rep, -EINVAL, "the secret payload is empty or too long");
		return;
	}
	if (a % 16 || a >= g->rec.memory_size || len > g->rec.memory_size - a) {
		fail(rep, -EINVAL,
		     "guest_address 0x%llx: must be 16-byte aligned with the %u-byte "
		     "payload inside the guest's %llu bytes of memory",
		     (unsigned long long)a, len, (unsigned long long)g->rec.memory_size);
		return;
	}
	memcpy(&hdr, req->u.guest.hdr, sizeof(hdr));
	if (secret_replayed(g, &hdr, rep) || durable_gate(gs, rep) < 0 ||
	    secret_record(gs, g, &hdr, rep) < 0)
		return;
	gfw_begin(SEV_CMD_LAUNCH_UPDATE_SECRET, &psp_ret, &t0);
	r = psp_cmd_launch_secret(gs->psp, g->rec.handle, &hdr, g->rec.mem_base + a, len,
				  req->u.guest.data, len, &psp_ret);
	if (gfw_done(gs, rep, SEV_CMD_LAUNCH_UPDATE_SECRET, r, psp_ret, &t0) < 0) {
		if (rep->fw_status >= 0)
			secret_refused(gs, g, &hdr); /* firmware answered: it took nothing */
		return;
	}
	rep->u.guest.address = a;
	if (guest_save(gs, g, rep) < 0)
		return;
	answer(gs, g, SEV_CMD_LAUNCH_UPDATE_SECRET, rep);
}

static void op_finish(struct sevd_guests *gs, const struct sevd_request *req,
		      struct sevd_reply *rep)
{
	struct guest *g = lookup(gs, req->u.guest.handle, rep);

	if (g && is_snp(g)) {
		snp_finish(gs, g, NULL, rep);
		return;
	}
	if (!g || durable_gate(gs, rep) < 0)
		return;
	if (fw_on_handle(gs, SEV_CMD_LAUNCH_FINISH, psp_cmd_launch_finish, g->rec.handle, rep) < 0)
		return;
	g->rec.state = SEV_GSTATE_RUNNING;
	free(g->seen); /* RUNNING: firmware takes no more LAUNCH_SECRET (the next snapshot
			* drops the guest's SECRET records) */
	g->seen = NULL;
	g->n_seen = 0;
	if (guest_save(gs, g, rep) < 0)
		return;
	log_info("Guest %u (%s) finished its launch: RUNNING on ASID %u", g->rec.handle,
		 g->rec.name, g->rec.asid);
	answer(gs, g, SEV_CMD_LAUNCH_FINISH, rep);
}

/* ---- activate, deactivate, delete ---- */

static void op_activate(struct sevd_guests *gs, const struct sevd_request *req,
			struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;
	struct guest *g = lookup(gs, req->u.guest.handle, rep);
	uint32_t want = req->u.guest.asid, asid = 0;
	struct sev_cmd_guest_status st;
	char holder[SEVD_ASID_HOLDER_MAX];
	bool es;

	if (!g || durable_gate(gs, rep) < 0 || guest_status(gs, g, &st, rep) < 0)
		return;
	es = g->rec.flags & SEVD_JREC_F_ES;
	if (st.asid) { /* bound since launch (or an earlier /activate) */
		if (want && want != st.asid) {
			fail(rep, -EALREADY,
			     "guest %u is bound to ASID %u; /deactivate it before "
			     "asking for ASID %u",
			     g->rec.handle, st.asid, want);
			return;
		}
		if (st.state != SEV_GSTATE_RUNNING) {
			rep->r = -EIO;
			rep->fw_status = SEV_STATUS_INVALID_GUEST_STATE;
			snprintf(rep->message, sizeof(rep->message),
				 "guest %u is %s: LAUNCH_FINISH first, then it runs on ASID %u",
				 g->rec.handle, state_name(st.state), st.asid);
			return;
		}
		if (!(g->rec.flags & SEVD_JREC_F_GRANTED)) {
			grant(gs, g);
			if (guest_save(gs, g, rep) < 0)
				return;
		}
		answer(gs, g, SEV_CMD_ACTIVATE, rep);
		return;
	}
	if (snp_refused(g, "it lost its ASID binding; DELETE it and launch it again", rep) ||
	    admit(gs, false, g->rec.policy, g->rec.tenant, g, rep) < 0)
		return;
	holder_of(g, holder);
	if (take_asid(gs, want, es, holder, &asid, rep) < 0)
		return;
	gfw_begin(SEV_CMD_ACTIVATE, &psp_ret, &t0);
	r = psp_cmd_activate(gs->psp, g->rec.handle, asid, &psp_ret);
	if (gfw_done(gs, rep, SEV_CMD_ACTIVATE, r, psp_ret, &t0) < 0) {
		(void)sevd_asid_unclaim(gs->pool, asid);
		return;
	}
	g->rec.asid = asid;
	grant(gs, g);
	if (guest_save(gs, g, rep) < 0)
		return;
	log_info("Guest %u (%s) activated on ASID %u", g->rec.handle, g->rec.name, asid);
	answer(gs, g, SEV_CMD_ACTIVATE, rep);
}

/* REVOKE, DEACTIVATE, ASID to pending flush. */
static int deactivate(struct sevd_guests *gs, struct guest *g, struct sevd_reply *rep)
{
	revoke_binding(gs, g);
	if (fw_on_handle(gs, SEV_CMD_DEACTIVATE, psp_cmd_deactivate, g->rec.handle, rep) < 0)
		return rep->r;
	if (g->rec.asid)
		(void)sevd_asid_release(gs->pool, g->rec.asid);
	g->rec.asid = 0;
	return 0;
}

static void op_deactivate(struct sevd_guests *gs, const struct sevd_request *req,
			  struct sevd_reply *rep)
{
	struct guest *g = lookup(gs, req->u.guest.handle, rep);
	uint32_t asid;

	if (!g || snp_refused(g, "it stays bound to its ASID until DELETE (SNP has no DEACTIVATE)",
			      rep) ||
	    durable_gate(gs, rep) < 0)
		return;
	asid = g->rec.asid;
	if (deactivate(gs, g, rep) < 0 || guest_save(gs, g, rep) < 0)
		return;
	log_info("Guest %u (%s) deactivated; ASID %u waits for a flush", g->rec.handle, g->rec.name,
		 asid);
	answer(gs, g, SEV_CMD_DEACTIVATE, rep);
}

static void op_delete(struct sevd_guests *gs, const struct sevd_request *req,
		      struct sevd_reply *rep)
{
	struct guest *g = lookup(gs, req->u.guest.handle, rep);
	uint32_t handle, asid;

	if (!g)
		return;
	if (req->principal_role == SEVD_ROLE_MIGRATOR && g->rec.state != SEV_GSTATE_RUPDATE) {
		fail(rep, -EACCES,
		     "the migrator role deletes only a guest it is receiving (RUPDATE); guest %u is "
		     "%s: decommission it with a launcher's or the admin's credential",
		     g->rec.handle, state_name(g->rec.state));
		snprintf(rep->rule, sizeof(rep->rule), "forbidden:role");
		return;
	}
	if (g->uploading) {
		fail(rep, -EALREADY, "an upload into guest %u is running", g->rec.handle);
		return;
	}
	if (durable_gate(gs, rep) < 0)
		return;
	if (is_snp(g)) {
		snp_delete(gs, g, rep);
		return;
	}
	handle = g->rec.handle;
	asid = g->rec.asid;
	if (asid && deactivate(gs, g, rep) < 0)
		return;
	if (fw_on_handle(gs, SEV_CMD_DECOMMISSION, psp_cmd_decommission, handle, rep) < 0) {
		if (asid)
			(void)guest_save(gs, g, rep); /* deactivated, still there */
		return;
	}
	rep->u.guest.command = SEV_CMD_DECOMMISSION;
	rep->u.guest.deactivated = asid != 0;
	rep->u.guest.released_asid = asid;
	info_of(g, 0, 0, &rep->u.guest.info);
	table_remove(gs, g);
	if (guest_forget(gs, handle, rep) < 0)
		return;
	log_info("Guest %u decommissioned%s", handle, asid ? "; its ASID waits for a flush" : "");
}

/* ---- migration ----
 * Source: SEND_START (RUNNING → SUPDATE, journaled), SEND_DATA per page (no change of
 * record), then SEND_FINISH + DEACTIVATE + DECOMMISSION (the guest is gone here: the target
 * has it) or SEND_CANCEL (RUNNING again). A restart finds an SUPDATE guest and cancels
 * (reconcile_known): the source guest survives a crash mid-migration. Target: RECEIVE_START
 * (like a launch: admission, ASID, memfd, INTENT, then firmware, ACTIVATE, PUT in RUPDATE),
 * RECEIVE_DATA per page, RECEIVE_FINISH (RUNNING). A restart finds an RUPDATE guest and
 * decommissions it like any half-done launch: nothing half-received stays.
 * The HTTP streams use SEND_BATCH and RECEIVE_BATCH: up to SEVD_MIG_BATCH pages in one op,
 * each page still its own SEND_UPDATE_DATA / RECEIVE_UPDATE_DATA (KVM's sev_send_update_data
 * refuses more than a page), run back to back on the firmware thread, so that the worker <->
 * core round trip is paid once per batch; a failure stops the batch at that page.
 * SEV-ES: the source's SEND_VMSA runs SEND_UPDATE_VMSA on each VMSA the guest has (the pages
 * LAUNCH_UPDATE_VMSA took, by address); the memory packets skip those pages (SEND_DATA answers
 * len 0 for one), so a VMSA reaches the target only as RECEIVE_UPDATE_VMSA. The target's
 * RECEIVE_START learns how many are coming and RECEIVE_FINISH refuses until all came. */

static bool packet_at_ok(const struct guest *g, uint64_t offset, uint32_t len,
			 struct sevd_reply *rep)
{
	if (len == 0 || len > SEVD_PACKET_MAX || len % 16 || offset % 16 ||
	    offset > g->rec.memory_size || len > g->rec.memory_size - offset) {
		fail(rep, -EINVAL,
		     "a packet is 16..%u bytes (a multiple of 16) at a 16-aligned offset inside "
		     "the guest's %llu bytes of memory",
		     SEVD_PACKET_MAX, (unsigned long long)g->rec.memory_size);
		return false;
	}
	return true;
}

/* A memory packet either is one of the guest's VMSA pages or leaves them alone. */
static bool vmsa_at_ok(const struct guest *g, uint64_t offset, uint32_t len,
		       struct sevd_reply *rep)
{
	for (uint32_t i = 0; i < g->n_vmsa; i++) {
		uint64_t v = g->vmsa[i];

		if (offset < v + SEVD_PACKET_MAX && v < offset + len &&
		    (offset != v || len != SEVD_PACKET_MAX)) {
			fail(rep, -EINVAL,
			     "a memory packet at 0x%llx (%u bytes) covers part of the VMSA at "
			     "0x%llx: ask for whole pages",
			     (unsigned long long)offset, len, (unsigned long long)v);
			return false;
		}
	}
	return true;
}

static bool packet_range_ok(const struct guest *g,
			    const typeof(((struct sevd_request *)0)->u.migrate) *m,
			    struct sevd_reply *rep)
{
	return packet_at_ok(g, m->offset, m->len, rep);
}

static bool vmsa_range_ok(const struct guest *g,
			  const typeof(((struct sevd_request *)0)->u.migrate) *m, struct sevd_reply *rep)
{
	return vmsa_at_ok(g, m->offset, m->len, rep);
}

static void migrate_answer(struct sevd_guests *gs, struct guest *g, uint32_t command,
			   struct sevd_reply *rep)
{
	struct sev_cmd_guest_status st;

	rep->u.migrate.command = command;
	if (guest_status(gs, g, &st, rep) < 0)
		return;
	g->rec.state = st.state;
	info_of(g, st.state, st.asid, &rep->u.migrate.info);
}

/* The trusted roots for a migration target: the configured directory (absent: none from
 * there) and the one emulated root the operator named. */
static int migration_roots(struct sevd_guests *gs, struct attest_roots **ret, struct sevd_reply *rep)
{
	_cleanup_(attest_roots_freep) struct attest_roots *roots = NULL;
	struct attest_verdict v = {0};
	int r = attest_roots_new(&roots);

	if (r < 0)
		return fail(rep, r, "out of memory");
	r = attest_roots_load_dir(roots, gs->mig_roots ? gs->mig_roots : attest_roots_default_dir(),
				  &v);
	if (r < 0 && r != -ENOENT)
		return fail(rep, r, "the migration roots cannot be read: %s",
			    attest_verdict_why(&v, strerror(-r)));
	v = (struct attest_verdict){0};
	if (gs->mig_emu_root &&
	    attest_roots_add_sev_file(roots, "emulated", gs->mig_emu_root, true, &v) < 0)
		return fail(rep, -EINVAL, "the emulated migration root %s is not usable: %s",
			    gs->mig_emu_root, attest_verdict_why(&v, "unreadable"));
	*ret = TAKE_PTR(roots);
	return 0;
}

/* Before any firmware call, the target's PDH must chain to a trusted root (PDH ←
 * PEK ← CEK ← ASK ← ARK): SEND_START would otherwise wrap the guest's keys for whatever PDH
 * a caller names. */
static int target_trusted(struct sevd_guests *gs, const typeof(((struct sevd_request *)0)->u.migrate) *m,
			  struct sevd_reply *rep)
{
	_cleanup_(attest_roots_freep) struct attest_roots *roots = NULL;
	struct attest_sev_chain chain;
	struct attest_verdict v = {0};
	int r;

	if (m->plat_len != SEV_CERT_CHAIN_SIZE || m->amd_len == 0 || m->amd_len > sizeof(m->amd))
		return fail(rep, -EINVAL,
			    "the target's chain is required: its PDH, PEK ‖ OCA ‖ CEK (%u bytes, the "
			    "CEK signed) and ASK ‖ ARK",
			    SEV_CERT_CHAIN_SIZE);
	if (migration_roots(gs, &roots, rep) < 0)
		return rep->r;
	attest_sev_chain_init(&chain);
	if (attest_sev_chain_add_blob(&chain, m->pdh, sizeof(m->pdh), "target PDH", &v) < 0 ||
	    attest_sev_chain_add_blob(&chain, m->plat, m->plat_len, "target chain", &v) < 0 ||
	    attest_sev_chain_add_blob(&chain, m->amd, m->amd_len, "target ASK/ARK", &v) < 0)
		return fail(rep, -EINVAL, "the target's certificates are malformed: %s", v.reason);
	r = attest_sev_chain_verify(&chain, roots, 0, &v);
	if (r < 0)
		return fail(rep, r, "the target's chain cannot be checked: %s", strerror(-r));
	if (r == 0) {
		snprintf(rep->rule, sizeof(rep->rule), "migration_target_root");
		return fail(rep, -EPERM,
			    "the target's PDH is not trusted: %s. Nothing was sent; add the "
			    "target's root to the migration roots (or name an emulated one) if it "
			    "is meant to be trusted",
			    v.reason);
	}
	return 0;
}

static void op_send_start(struct sevd_guests *gs, const struct sevd_request *req,
			  struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;
	const typeof(req->u.migrate) *m = &req->u.migrate;
	struct guest *g = lookup(gs, m->handle, rep);
	struct sev_session_blob session;
	struct psp_send_target tg = {m->pdh, sizeof(m->pdh), m->plat_len ? m->plat : NULL,
				     m->plat_len, m->amd_len ? m->amd : NULL, m->amd_len};
	uint32_t policy = 0;

	if (!g || snp_refused(g, "sevd does not migrate SNP guests", rep) ||
	    durable_gate(gs, rep) < 0)
		return;
	if (m->plat_len > sizeof(m->plat) || m->amd_len > sizeof(m->amd)) {
		fail(rep, -EINVAL, "the target's chain is at most %zu + %zu bytes", sizeof(m->plat),
		     sizeof(m->amd));
		return;
	}
	if (g->uploading) {
		fail(rep, -EALREADY, "an upload into guest %u is running", g->rec.handle);
		return;
	}
	if ((g->rec.flags & SEVD_JREC_F_ES) && !g->n_vmsa) {
		fail(rep, -EALREADY,
		     "guest %u is an SEV-ES guest whose VMSAs this sevd does not know (they are "
		     "learnt at LAUNCH_UPDATE_VMSA or RECEIVE_UPDATE_VMSA and not kept across a "
		     "restart of sevd): its register state cannot be sent. Nothing was sent",
		     g->rec.handle);
		return;
	}
	if (target_trusted(gs, m, rep) < 0)
		return;
	gfw_begin(SEV_CMD_SEND_START, &psp_ret, &t0);
	r = psp_cmd_send_start(gs->psp, g->rec.handle, &tg, &session, &policy, &psp_ret);
	if (gfw_done(gs, rep, SEV_CMD_SEND_START, r, psp_ret, &t0) < 0)
		return;
	g->rec.state = SEV_GSTATE_SUPDATE;
	if (guest_save(gs, g, rep) < 0)
		return;
	memcpy(rep->u.migrate.session, &session, sizeof(session));
	rep->u.migrate.policy = policy;
	rep->u.migrate.vcpus = g->n_vmsa;
	log_info("Guest %u (%s): sending started (SUPDATE)", g->rec.handle, g->rec.name);
	migrate_answer(gs, g, SEV_CMD_SEND_START, rep);
}

/* SEND_UPDATE_DATA of len bytes at offset (checked by the caller): one page per command. */
static int send_packet(struct sevd_guests *gs, struct guest *g, uint64_t offset, uint32_t len,
		       struct sev_packet_header *hdr, uint8_t *data, struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;

	gfw_begin(SEV_CMD_SEND_UPDATE_DATA, &psp_ret, &t0);
	r = psp_cmd_send_update_data(gs->psp, g->rec.handle, g->rec.mem_base + offset, len, hdr,
				     data, &psp_ret);
	return gfw_done(gs, rep, SEV_CMD_SEND_UPDATE_DATA, r, psp_ret, &t0);
}

static void op_send_data(struct sevd_guests *gs, const struct sevd_request *req,
			 struct sevd_reply *rep)
{
	const typeof(req->u.migrate) *m = &req->u.migrate;
	struct guest *g = lookup(gs, m->handle, rep);
	struct sev_packet_header hdr;

	if (!g || !packet_range_ok(g, m, rep) || !vmsa_range_ok(g, m, rep))
		return;
	if (vmsa_known(g, m->offset)) { /* SEND_VMSA's: not a memory packet */
		rep->u.migrate.offset = m->offset;
		rep->u.migrate.len = 0;
		rep->u.migrate.command = 0;
		info_of(g, g->rec.state, g->rec.asid, &rep->u.migrate.info);
		return;
	}
	if (send_packet(gs, g, m->offset, m->len, &hdr, rep->u.migrate.data, rep) < 0)
		return;
	memcpy(rep->u.migrate.hdr, &hdr, sizeof(hdr));
	rep->u.migrate.offset = m->offset;
	rep->u.migrate.len = m->len;
	rep->u.migrate.command = SEV_CMD_SEND_UPDATE_DATA;
	info_of(g, g->rec.state, g->rec.asid, &rep->u.migrate.info);
}

/* SEND_UPDATE_VMSA of the guest's VMSA number m->vcpu; past the last one an answer of len 0
 * (the stream's end), with vcpus the count either way. */
static void op_send_vmsa(struct sevd_guests *gs, const struct sevd_request *req,
			 struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;
	const typeof(req->u.migrate) *m = &req->u.migrate;
	struct guest *g = lookup(gs, m->handle, rep);
	struct sev_packet_header hdr;
	uint64_t a;

	if (!g)
		return;
	if (!(g->rec.flags & SEVD_JREC_F_ES)) {
		fail(rep, -EINVAL, "guest %u is not an SEV-ES guest: it has no VMSA to send",
		     g->rec.handle);
		return;
	}
	rep->u.migrate.vcpus = g->n_vmsa;
	rep->u.migrate.len = 0;
	info_of(g, g->rec.state, g->rec.asid, &rep->u.migrate.info);
	if (m->vcpu >= g->n_vmsa)
		return;
	a = g->vmsa[m->vcpu];
	gfw_begin(SEV_CMD_SEND_UPDATE_VMSA, &psp_ret, &t0);
	r = psp_cmd_send_update_vmsa(gs->psp, g->rec.handle, g->rec.mem_base + a, SEVD_PACKET_MAX,
				     &hdr, rep->u.migrate.data, &psp_ret);
	if (gfw_done(gs, rep, SEV_CMD_SEND_UPDATE_VMSA, r, psp_ret, &t0) < 0)
		return;
	memcpy(rep->u.migrate.hdr, &hdr, sizeof(hdr));
	rep->u.migrate.offset = a;
	rep->u.migrate.len = SEVD_PACKET_MAX;
	rep->u.migrate.command = SEV_CMD_SEND_UPDATE_VMSA;
}

/* The target has the guest (its RECEIVE_FINISH came first): end it here for good. */
static void op_send_finish(struct sevd_guests *gs, const struct sevd_request *req,
			   struct sevd_reply *rep)
{
	struct guest *g = lookup(gs, req->u.migrate.handle, rep);
	uint32_t handle, asid;

	if (!g || durable_gate(gs, rep) < 0)
		return;
	handle = g->rec.handle;
	asid = g->rec.asid;
	if (fw_on_handle(gs, SEV_CMD_SEND_FINISH, psp_cmd_send_finish, handle, rep) < 0)
		return;
	g->rec.state = SEV_GSTATE_SENT;
	if ((asid && deactivate(gs, g, rep) < 0) ||
	    fw_on_handle(gs, SEV_CMD_DECOMMISSION, psp_cmd_decommission, handle, rep) < 0) {
		(void)guest_save(gs, g, rep); /* SENT: a restart decommissions it */
		return;
	}
	rep->u.migrate.command = SEV_CMD_SEND_FINISH;
	info_of(g, SEV_GSTATE_SENT, 0, &rep->u.migrate.info);
	table_remove(gs, g);
	if (guest_forget(gs, handle, rep) < 0)
		return;
	log_info("Guest %u sent: SEND_FINISH, decommissioned here%s", handle,
		 asid ? "; its ASID waits for a flush" : "");
}

static void op_send_cancel(struct sevd_guests *gs, const struct sevd_request *req,
			   struct sevd_reply *rep)
{
	struct guest *g = lookup(gs, req->u.migrate.handle, rep);

	if (!g || durable_gate(gs, rep) < 0)
		return;
	if (fw_on_handle(gs, SEV_CMD_SEND_CANCEL, psp_cmd_send_cancel, g->rec.handle, rep) < 0)
		return;
	g->rec.state = SEV_GSTATE_RUNNING;
	if (guest_save(gs, g, rep) < 0)
		return;
	log_info("Guest %u (%s): sending cancelled, RUNNING", g->rec.handle, g->rec.name);
	migrate_answer(gs, g, SEV_CMD_SEND_CANCEL, rep);
}

static int receive_check(const typeof(((struct sevd_request *)0)->u.migrate) *m,
			 struct sevd_reply *rep)
{
	if (memchr(m->name, 0, sizeof(m->name)) == NULL ||
	    memchr(m->tenant, 0, sizeof(m->tenant)) == NULL || (m->name[0] && !name_ok(m->name)) ||
	    (m->tenant[0] && !name_ok(m->tenant)))
		return fail(rep, -EINVAL,
			    "name and tenant: 1..63 of [A-Za-z0-9._-], not starting with '.'");
	if ((m->policy & SEV_POLICY_ES) ? m->vcpus == 0 || m->vcpus > SEVD_VCPUS_MAX : m->vcpus)
		return fail(rep, -EINVAL,
			    (m->policy & SEV_POLICY_ES)
				? "an SEV-ES guest arrives with its VMSAs: receive.vcpus (as the "
				  "source's send answered it) must be 1..256"
				: "receive.vcpus must be 0 for a guest without SEV-ES (no VMSA)");
	if (m->memory_size && (m->memory_size % 4096 || m->memory_size > GUEST_MEM_MAX))
		return fail(rep, -EINVAL, "memory_size must be a multiple of 4096 up to %llu",
			    (unsigned long long)GUEST_MEM_MAX);
	return 0;
}

static void op_receive_start(struct sevd_guests *gs, const struct sevd_request *req,
			     struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;
	const typeof(req->u.migrate) *m = &req->u.migrate;
	struct sevd_jrec intent = {.type = SEVD_JREC_INTENT};
	struct sev_session_blob session;
	bool es = m->policy & SEV_POLICY_ES;
	struct guest *g;

	if (receive_check(m, rep) < 0)
		return;
	g = guest_begin(gs, false, m->policy, m->tenant, m->memory_size, m->asid, "receive",
			m->name, rep);
	if (!g)
		return;
	g->vmsa_expected = m->vcpus;
	intent.mem_base = g->rec.mem_base;
	if (journal_write(gs, &intent, rep) < 0) {
		launch_undo(gs, g, false, false);
		return;
	}
	memcpy(&session, m->session, sizeof(session));
	gfw_begin(SEV_CMD_RECEIVE_START, &psp_ret, &t0);
	r = psp_cmd_receive_start(gs->psp, m->policy, m->pdh, sizeof(m->pdh), &session,
				  &g->rec.handle, &psp_ret);
	if (gfw_done(gs, rep, SEV_CMD_RECEIVE_START, r, psp_ret, &t0) < 0) {
		launch_undo(gs, g, false, false);
		return;
	}
	guest_named(gs, g, m->name, es);
	/* ACTIVATE now, as KVM's sev_receive_start binding: RECEIVE_UPDATE_DATA encrypts
	 * with the key of the guest's ASID (INACTIVE otherwise). */
	gfw_begin(SEV_CMD_ACTIVATE, &psp_ret, &t0);
	r = psp_cmd_activate(gs->psp, g->rec.handle, g->rec.asid, &psp_ret);
	if (gfw_done(gs, rep, SEV_CMD_ACTIVATE, r, psp_ret, &t0) < 0) {
		launch_undo(gs, g, true, false);
		return;
	}
	g->rec.state = SEV_GSTATE_RUPDATE;
	g->rec.created = now_s();
	if (guest_save(gs, g, rep) < 0) {
		launch_undo(gs, g, true, true);
		return;
	}
	gs->g[gs->n++] = g;
	log_info("Guest %u (%s, tenant %s) receiving, policy 0x%x, ASID %u", g->rec.handle,
		 g->rec.name, g->rec.tenant, g->rec.policy, g->rec.asid);
	migrate_answer(gs, g, SEV_CMD_RECEIVE_START, rep);
}

/* RECEIVE_UPDATE_DATA of one packet at offset (checked by the caller). */
static int receive_packet(struct sevd_guests *gs, struct guest *g, uint64_t offset, uint32_t len,
			  const uint8_t *hdr_bytes, const uint8_t *data, struct sevd_reply *rep)
{
	struct sev_packet_header hdr;
	struct timespec t0;
	int psp_ret, r;

	memcpy(&hdr, hdr_bytes, sizeof(hdr));
	gfw_begin(SEV_CMD_RECEIVE_UPDATE_DATA, &psp_ret, &t0);
	r = psp_cmd_receive_update_data(gs->psp, g->rec.handle, &hdr, g->rec.mem_base + offset,
					data, len, &psp_ret);
	if (gfw_done(gs, rep, SEV_CMD_RECEIVE_UPDATE_DATA, r, psp_ret, &t0) < 0)
		return -EIO;
	g->rec.data_bytes += len;
	return 0;
}

static void op_receive_data(struct sevd_guests *gs, const struct sevd_request *req,
			    struct sevd_reply *rep)
{
	const typeof(req->u.migrate) *m = &req->u.migrate;
	struct guest *g = lookup(gs, m->handle, rep);

	if (!g || !packet_range_ok(g, m, rep) || !vmsa_range_ok(g, m, rep))
		return;
	if (vmsa_known(g, m->offset)) {
		fail(rep, -EINVAL, "0x%llx holds a VMSA received already: memory packets come first",
		     (unsigned long long)m->offset);
		return;
	}
	if (receive_packet(gs, g, m->offset, m->len, m->hdr, m->data, rep) < 0)
		return;
	rep->u.migrate.command = SEV_CMD_RECEIVE_UPDATE_DATA;
	info_of(g, g->rec.state, g->rec.asid, &rep->u.migrate.info);
}

/* GUEST_SEND_BATCH: the pages of [offset, offset + len), each its own SEND_UPDATE_DATA, back
 * to back; a VMSA page is skipped (SEND_VMSA's). Stops at the first page that fails, its
 * error in rep and next its offset; the packets before it are in p. */
static void op_send_batch(struct sevd_guests *gs, const struct sevd_request *req,
			  struct sevd_reply *rep)
{
	const typeof(req->u.migrate_batch) *m = &req->u.migrate_batch;
	typeof(rep->u.migrate_batch) *b = &rep->u.migrate_batch;
	struct guest *g = lookup(gs, m->handle, rep);
	struct sev_packet_header hdr;
	uint64_t off = m->offset;

	b->n = 0;
	b->next = off;
	if (!g)
		return;
	if (m->len == 0 || m->len > SEVD_MIG_BATCH * SEVD_PACKET_MAX || off % SEVD_PACKET_MAX) {
		fail(rep, -EINVAL,
		     "a send batch is 1..%u bytes from a page-aligned offset (it was %u bytes "
		     "at 0x%llx)",
		     SEVD_MIG_BATCH * SEVD_PACKET_MAX, m->len, (unsigned long long)off);
		return;
	}
	for (uint64_t end = off + m->len; off < end; off = b->next) {
		uint32_t len = (uint32_t)MIN(end - off, (uint64_t)SEVD_PACKET_MAX);
		struct sevd_mig_packet *p = &b->p[b->n];

		if (!packet_at_ok(g, off, len, rep) || !vmsa_at_ok(g, off, len, rep))
			return;
		if (!vmsa_known(g, off)) { /* SEND_VMSA's: not a memory packet */
			if (send_packet(gs, g, off, len, &hdr, p->data, rep) < 0)
				return;
			memcpy(p->hdr, &hdr, sizeof(hdr));
			p->offset = off;
			p->len = len;
			b->n++;
			b->command = SEV_CMD_SEND_UPDATE_DATA;
		}
		b->next = off + len;
	}
	info_of(g, g->rec.state, g->rec.asid, &b->info);
}

/* GUEST_RECEIVE_BATCH: each packet as GUEST_RECEIVE_DATA takes it, in order, back to back;
 * stops at the first that fails (its error in rep, done the packets taken before it). */
static void op_receive_batch(struct sevd_guests *gs, const struct sevd_request *req,
			     struct sevd_reply *rep)
{
	const typeof(req->u.migrate_batch) *m = &req->u.migrate_batch;
	typeof(rep->u.migrate_batch) *b = &rep->u.migrate_batch;
	struct guest *g = lookup(gs, m->handle, rep);

	b->n = 0;
	b->done = 0;
	if (!g)
		return;
	if (m->n == 0 || m->n > SEVD_MIG_BATCH) {
		fail(rep, -EINVAL, "a receive batch holds 1..%u packets (it held %u)",
		     SEVD_MIG_BATCH, m->n);
		return;
	}
	for (uint32_t i = 0; i < m->n; i++) {
		const struct sevd_mig_packet *p = &m->p[i];

		if (!packet_at_ok(g, p->offset, p->len, rep) ||
		    !vmsa_at_ok(g, p->offset, p->len, rep))
			return;
		if (vmsa_known(g, p->offset)) {
			fail(rep, -EINVAL,
			     "0x%llx holds a VMSA received already: memory packets come first",
			     (unsigned long long)p->offset);
			return;
		}
		if (receive_packet(gs, g, p->offset, p->len, p->hdr, p->data, rep) < 0)
			return;
		b->done = i + 1;
		b->command = SEV_CMD_RECEIVE_UPDATE_DATA;
	}
	info_of(g, g->rec.state, g->rec.asid, &b->info);
}

/* RECEIVE_UPDATE_VMSA of one VMSA packet at its guest address (a page, one per vCPU). */
static void op_receive_vmsa(struct sevd_guests *gs, const struct sevd_request *req,
			    struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;
	const typeof(req->u.migrate) *m = &req->u.migrate;
	struct guest *g = lookup(gs, m->handle, rep);
	struct sev_packet_header hdr;

	if (!g || durable_gate(gs, rep) < 0 || !packet_range_ok(g, m, rep))
		return;
	if (!(g->rec.flags & SEVD_JREC_F_ES)) {
		fail(rep, -EINVAL, "guest %u is not an SEV-ES guest: a VMSA packet has no place",
		     g->rec.handle);
		return;
	}
	if (m->len != SEVD_PACKET_MAX || m->offset % SEVD_PACKET_MAX) {
		fail(rep, -EINVAL, "a VMSA packet is one page (4096 bytes) at a page address");
		return;
	}
	if (vmsa_known(g, m->offset) || g->n_vmsa >= g->vmsa_expected) {
		fail(rep, -EINVAL,
		     "guest %u: the VMSA at 0x%llx is one too many (%u of %u came already)",
		     g->rec.handle, (unsigned long long)m->offset, g->n_vmsa, g->vmsa_expected);
		return;
	}
	memcpy(&hdr, m->hdr, sizeof(hdr));
	gfw_begin(SEV_CMD_RECEIVE_UPDATE_VMSA, &psp_ret, &t0);
	r = psp_cmd_receive_update_vmsa(gs->psp, g->rec.handle, &hdr, g->rec.mem_base + m->offset,
					m->data, m->len, &psp_ret);
	if (gfw_done(gs, rep, SEV_CMD_RECEIVE_UPDATE_VMSA, r, psp_ret, &t0) < 0 ||
	    vmsa_keep(gs, g, m->offset, rep) < 0)
		return;
	g->rec.data_bytes += m->len;
	rep->u.migrate.command = SEV_CMD_RECEIVE_UPDATE_VMSA;
	rep->u.migrate.vcpus = g->n_vmsa;
	info_of(g, g->rec.state, g->rec.asid, &rep->u.migrate.info);
}

static void op_receive_finish(struct sevd_guests *gs, const struct sevd_request *req,
			      struct sevd_reply *rep)
{
	struct guest *g = lookup(gs, req->u.migrate.handle, rep);

	if (!g || durable_gate(gs, rep) < 0)
		return;
	if (g->rec.state == SEV_GSTATE_RUPDATE && g->n_vmsa < g->vmsa_expected) {
		fail(rep, -EALREADY,
		     "guest %u has %u of the %u VMSAs the source sends: the stream was cut before "
		     "its end. Delete this guest and migrate again",
		     g->rec.handle, g->n_vmsa, g->vmsa_expected);
		return;
	}
	if (fw_on_handle(gs, SEV_CMD_RECEIVE_FINISH, psp_cmd_receive_finish, g->rec.handle, rep) < 0)
		return;
	g->rec.state = SEV_GSTATE_RUNNING;
	if (guest_save(gs, g, rep) < 0)
		return;
	log_info("Guest %u (%s) received: RUNNING on ASID %u", g->rec.handle, g->rec.name,
		 g->rec.asid);
	migrate_answer(gs, g, SEV_CMD_RECEIVE_FINISH, rep);
}

/* ---- reading ---- */

static void op_info(struct sevd_guests *gs, const struct sevd_request *req, struct sevd_reply *rep)
{
	struct guest *g = lookup(gs, req->u.guest.handle, rep);

	if (g)
		answer(gs, g, 0, rep);
}

static void op_list(struct sevd_guests *gs, const struct sevd_request *req, struct sevd_reply *rep)
{
	struct sev_cmd_guest_status st;

	rep->u.guests.n = 0;
	for (unsigned i = 0; i < gs->n && i < SEVD_GUESTS_MAX; i++) {
		struct guest *g = gs->g[i];

		if (!visible(gs, g))
			continue; /* another tenant's */
		if (guest_status(gs, g, &st, rep) < 0)
			return;
		info_of(g, st.state, st.asid, &rep->u.guests.g[rep->u.guests.n++]);
	}
}

static void op_attest(struct sevd_guests *gs, const struct sevd_request *req,
		      struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;
	struct guest *g = lookup(gs, req->u.guest.handle, rep);
	struct sev_attestation_report report;

	if (!g || snp_refused(g, "its attestation reports come from inside the guest "
				 "(MSG_REPORT_REQ with its VMPCK), which the host never holds",
			      rep))
		return;
	gfw_begin(SEV_CMD_ATTESTATION, &psp_ret, &t0);
	r = psp_cmd_attestation(gs->psp, g->rec.handle, req->u.guest.nonce, &report, &psp_ret);
	if (gfw_done(gs, rep, SEV_CMD_ATTESTATION, r, psp_ret, &t0) < 0)
		return;
	memcpy(rep->u.guest.report, &report, sizeof(report));
	info_of(g, g->rec.state, g->rec.asid, &rep->u.guest.info);
}

typedef void (*guest_op_fn)(struct sevd_guests *gs, const struct sevd_request *req,
			    struct sevd_reply *rep);

static const guest_op_fn guest_ops[SEVD_OP_MAX_] = {
#define GUEST_ROW(name, fn, gfn, fw, req, rep, roles, guest) [SEVD_OP_##name] = gfn,
	SEVD_OPS(GUEST_ROW)
#undef GUEST_ROW
};

void sevd_guests_op(struct sevd_guests *gs, const struct sevd_request *req, struct sevd_reply *rep)
{
	if (req->op >= SEVD_OP_MAX_ || !guest_ops[req->op]) {
		fail(rep, -EOPNOTSUPP, "unknown guest operation %u", req->op);
		return;
	}
	static const uint8_t zero_id[SEVD_GUEST_ID_SIZE];

	gs->principal = req->principal_tenant;
	gs->want_id = memcmp(req->caller.guest_id, zero_id, sizeof(zero_id)) ? req->caller.guest_id
									      : NULL;
	guest_ops[req->op](gs, req, rep);
	gs->principal = NULL;
	gs->want_id = NULL;
}

/* ---- start: replay and reconcile ---- */

/* After reconcile: a guest kept without an id (a journal from before ids, or a launch that
 * crashed between its PUT and its ID record, so never answered) draws one now, journaled, so
 * that it is the same at every later start. */
static void ids_fill(struct sevd_guests *gs)
{
	for (unsigned i = 0; i < gs->n; i++) {
		struct guest *g = gs->g[i];
		struct sevd_reply rep;
		struct sevd_jrec idr;

		if (id_drawn(g) && g->id_journaled)
			continue;
		if (!id_drawn(g) && id_draw(g) < 0) {
			log_warning("Guest %u: no random bytes for its id; it is reachable by its "
				    "handle only until the next start",
				    g->rec.handle);
			continue;
		}
		pthread_mutex_lock(&gs->sub_lock); /* its binding, kept by regrant, is announced */
		for (unsigned k = 0; k < gs->n_live; k++)
			if (gs->live[k].handle == g->rec.handle)
				memcpy(gs->live[k].id, g->id, sizeof(g->id));
		pthread_mutex_unlock(&gs->sub_lock);
		idr = id_rec(g);
		memset(&rep, 0, sizeof(rep));
		if (journal_write(gs, &idr, &rep) >= 0)
			g->id_journaled = true;
		else
			log_warning("Guest %u: its new id could not be journaled (%s); the snapshot "
				    "owed records it",
				    g->rec.handle, rep.message);
	}
}

static int replay_apply(void *userdata, const struct sevd_jrec *rec)
{
	struct sevd_guests *gs = userdata;
	struct guest *g;

	gs->generation = MAX(gs->generation, rec->generation);
	switch (rec->type) {
	case SEVD_JREC_META:
		return 0;
	case SEVD_JREC_INTENT:
		if (gs->n_intents == ELEMENTSOF(gs->intents)) {
			memmove(gs->intents, gs->intents + 1,
				sizeof(gs->intents) - sizeof(uint64_t));
			memmove(gs->intent_snp, gs->intent_snp + 1,
				sizeof(gs->intent_snp) - sizeof(uint64_t));
		} else {
			gs->n_intents++;
		}
		gs->intents[gs->n_intents - 1] = rec->mem_base;
		gs->intent_snp[gs->n_intents - 1] =
		    rec->flags & SEVD_JREC_F_SNP ? rec->memory_size : 0;
		return 0;
	case SEVD_JREC_VMSA:
		g = find(gs, rec->handle);
		if (!g) { /* its guest's PUT comes first: a journal out of order, not fatal */
			log_warning("Journal: a VMSA record for guest %u, which it does not hold; "
				    "ignored",
				    rec->handle);
			return 0;
		}
		if (rec->mem_base % 4096 || rec->mem_base >= g->rec.memory_size) {
			log_warning("Journal: guest %u's VMSA at 0x%llx is not a page of its "
				    "memory; ignored (it cannot be migrated until relaunched)",
				    rec->handle, (unsigned long long)rec->mem_base);
			return 0;
		}
		return vmsa_add(g, rec->mem_base) < 0 ? -ENOMEM : 0;
	case SEVD_JREC_SECRET: /* after its guest's PUT; a guest RUNNING by now needs none */
		g = find(gs, rec->handle);
		if (g && (rec->flags & SEVD_JREC_F_REFUSED))
			seen_drop(g, rec->mnonce, rec->measure);
		else if (g && g->rec.state != SEV_GSTATE_RUNNING &&
			 seen_add(g, rec->mnonce, rec->measure) == -ENOMEM)
			return -ENOMEM;
		return 0;
	case SEVD_JREC_ID: /* after its guest's PUT */
		g = find(gs, rec->handle);
		if (!g || get_be32(rec->mnonce) != rec->handle) {
			log_warning("Journal: an id record for guest %u, which it does not hold or "
				    "which does not start with its handle; ignored",
				    rec->handle);
			return 0;
		}
		memcpy(g->id, rec->mnonce, sizeof(g->id));
		g->id_journaled = true;
		return 0;
	case SEVD_JREC_DEL:
		g = find(gs, rec->handle);
		if (g) {
			for (unsigned i = 0; i < gs->n; i++)
				if (gs->g[i] == g)
					gs->g[i] = gs->g[--gs->n];
			guest_free(gs, g, false);
		}
		return 0;
	default:
		break;
	}
	for (unsigned i = 0; i < gs->n_intents;) /* every INTENT this region answers */
		if (gs->intents[i] == rec->mem_base) {
			gs->n_intents--;
			gs->intents[i] = gs->intents[gs->n_intents];
			gs->intent_snp[i] = gs->intent_snp[gs->n_intents];
		} else {
			i++;
		}
	g = find(gs, rec->handle);
	if (!g) {
		if (gs->n >= SEVD_GUESTS_MAX || !(g = calloc(1, sizeof(*g))))
			return -ENOMEM;
		gs->g[gs->n++] = g;
	}
	g->rec = *rec;
	g->memfd = -1;
	g->mapped = true;
	g->snp_hi = rec->memory_size; /* which pages were made private died with the old sevd */
	return 0;
}

struct tally {
	unsigned kept, resumed, cleaned, gone, unknown;
};

static void claim_reconciled(struct sevd_guests *gs, struct guest *g, uint32_t asid)
{
	char holder[SEVD_ASID_HOLDER_MAX];

	holder_of(g, holder);
	if (asid && sevd_asid_claim(gs->pool, asid, g->rec.flags & SEVD_JREC_F_ES, holder) < 0)
		log_error("Reconcile: guest %u holds ASID %u in firmware, which the pool cannot "
			  "give it (out of range or held twice)",
			  g->rec.handle, asid);
}

/* An unfinished SEV or SEV-ES launch that firmware still holds and the owner can finish
 * (daemon/README.md "Crash safety"): LUPDATE (measure it as it is: the memfd the data went
 * through died with the old process, so no more data or VMSAs go in), or LSECRET with the
 * measurement in the journal (inject the secret, finish). Not kept: SNP launches (which of
 * their pages firmware made private died with the old process, and SNP_LAUNCH_UPDATE reads
 * each page from the memfd), LSECRET without the measurement recorded (LAUNCH_MEASURE cannot
 * be asked again, so no owner could build a secret for it), RUPDATE (a migration target:
 * the source cancels when its sevd or the stream goes). */
static bool resumable(const struct guest *g, const struct sev_cmd_guest_status *st)
{
	if (is_snp(g) || !st->asid)
		return false;
	return st->state == SEV_GSTATE_LUPDATE ||
	       (st->state == SEV_GSTATE_LSECRET && (g->rec.flags & SEVD_JREC_F_MEASURED));
}

static void keep_unfinished(struct sevd_guests *gs, struct guest *g,
			    const struct sev_cmd_guest_status *st)
{
	g->rec.state = st->state;
	g->rec.asid = st->asid;
	g->rec.flags &= ~SEVD_JREC_F_GRANTED; /* granted only once RUNNING */
	claim_reconciled(gs, g, st->asid);
	log_notice("Reconcile: guest %u (%s) is an unfinished launch (%s, ASID %u): kept, the "
		   "owner can %s",
		   g->rec.handle, g->rec.name, state_name(st->state), st->asid,
		   st->state == SEV_GSTATE_LUPDATE ? "measure it as it is (no more data can go in)"
						   : "inject the secret and finish");
}

/* A firmware guest that must go: DEACTIVATE if it holds an ASID, DECOMMISSION, and its ASID
 * (if any) through the pool's pending-flush set. */
static int cleanup_fw(struct sevd_guests *gs, uint32_t handle,
		      const struct sev_cmd_guest_status *st, bool es, struct sevd_reply *rep)
{
	if (st->asid && fw_on_handle(gs, SEV_CMD_DEACTIVATE, psp_cmd_deactivate, handle, rep) < 0)
		return log_error_errno(rep->r, "Reconcile: DEACTIVATE of guest %u failed: %s",
				       handle, rep->message);
	if (fw_on_handle(gs, SEV_CMD_DECOMMISSION, psp_cmd_decommission, handle, rep) < 0)
		return log_error_errno(rep->r, "Reconcile: DECOMMISSION of guest %u failed: %s",
				       handle, rep->message);
	if (st->asid && sevd_asid_claim(gs->pool, st->asid, es, "reconcile") == 0)
		(void)sevd_asid_release(gs->pool, st->asid);
	return 0;
}

/* GUEST_STATUS of a journal guest at start. An SNP guest whose context page firmware cannot
 * reach at all is gone, with nothing left to undo: SNP_GUEST_STATUS answers INVALID_ADDRESS
 * for a GCTX_PADDR in no memory the emulator maps (psp/emu emu_rmp_get, before the page's RMP
 * state is looked at; a mapped page that is no context is INVALID_GUEST, snp_status), and
 * sevd unmaps an SNP guest's region only once SNP_DECOMMISSION and SNP_PAGE_RECLAIM are done
 * and its ASID released (snp_delete, snp_undo, reconcile_known). The DEL record comes after
 * the unmap, so a kill between the two leaves a record naming unmapped memory. Such a guest
 * answers UNINIT with *unmapped set. */
static int reconcile_status(struct sevd_guests *gs, const struct guest *g,
			    struct sev_cmd_guest_status *st, bool *unmapped, struct sevd_reply *rep)
{
	*unmapped = false;
	if (guest_status(gs, g, st, rep) >= 0)
		return 0;
	if (!is_snp(g) || rep->r != -EIO || rep->fw_status != SEV_STATUS_INVALID_ADDRESS)
		return rep->r;
	rep->r = 0;
	rep->message[0] = 0;
	memset(st, 0, sizeof(*st));
	st->state = SEV_GSTATE_UNINIT;
	*unmapped = true;
	return 0;
}

static int reconcile_known(struct sevd_guests *gs, struct tally *t, struct sevd_reply *rep)
{
	for (unsigned i = 0; i < gs->n;) {
		struct guest *g = gs->g[i];
		struct sev_cmd_guest_status st;
		bool es = g->rec.flags & SEVD_JREC_F_ES, unmapped;

		if (reconcile_status(gs, g, &st, &unmapped, rep) < 0)
			return log_error_errno(rep->r,
					       "Reconcile: GUEST_STATUS %u failed: %s. sevd cannot "
					       "tell whether the guest still holds firmware state; "
					       "check that --psp names the firmware that holds the "
					       "journal's guests, then start sevd again",
					       g->rec.handle, rep->message);
		/* A migration out that the previous sevd did not finish: the source keeps it. */
		if (st.state == SEV_GSTATE_SUPDATE &&
		    fw_on_handle(gs, SEV_CMD_SEND_CANCEL, psp_cmd_send_cancel, g->rec.handle,
				 rep) == 0) {
			log_notice("Reconcile: guest %u (%s) was being sent: SEND_CANCEL",
				   g->rec.handle, g->rec.name);
			st.state = SEV_GSTATE_RUNNING;
		}
		if (st.state == SEV_GSTATE_RUNNING) {
			g->rec.state = st.state;
			g->rec.asid = st.asid;
			claim_reconciled(gs, g, st.asid);
			free(g->seen); /* RUNNING: no more secrets go in */
			g->seen = NULL;
			g->n_seen = 0;
			if (!st.asid)
				g->rec.flags &= ~SEVD_JREC_F_GRANTED;
			if (g->rec.flags & SEVD_JREC_F_GRANTED)
				regrant(gs, g);
			log_info("Reconcile: guest %u (%s) RUNNING on ASID %u: kept", g->rec.handle,
				 g->rec.name, st.asid);
			t->kept++;
			i++;
			continue;
		}
		if (resumable(g, &st)) {
			keep_unfinished(gs, g, &st);
			t->resumed++;
			i++;
			continue;
		}
		if (unmapped) {
			log_notice(
			    "Reconcile: SNP guest %u (%s) was decommissioned already and its "
			    "memory region unmapped (a crash before its DEL record): dropped",
			    g->rec.handle, g->rec.name);
			g->mapped = false;
			t->gone++;
		} else if (is_snp(g)) { /* half-done or decommissioned: its pages back too */
			snp_cleanup(gs, g->rec.mem_base, g->rec.memory_size, g->snp_hi, rep);
			log_notice("Reconcile: SNP guest %u (%s) was %s: %sits pages reclaimed%s",
				   g->rec.handle, g->rec.name,
				   st.state == SEV_GSTATE_UNINIT ? "decommissioned already"
								 : "a half-done launch",
				   st.state == SEV_GSTATE_UNINIT ? "" : "SNP_DECOMMISSION, ",
				   st.asid ? ", ASID pending flush" : "");
			if (st.state == SEV_GSTATE_UNINIT)
				t->gone++;
			else
				t->cleaned++;
		} else if (st.state == SEV_GSTATE_UNINIT) {
			log_warning(
			    "Reconcile: guest %u (%s) is gone from firmware (decommissioned "
			    "just before a crash, or a PSP reset): dropped",
			    g->rec.handle, g->rec.name);
			t->gone++;
		} else {
			if (cleanup_fw(gs, g->rec.handle, &st, es, rep) < 0)
				return rep->r;
			log_notice(
			    "Reconcile: guest %u (%s) was a half-done launch (%s, its memory died "
			    "with the previous sevd): %sDECOMMISSION%s",
			    g->rec.handle, g->rec.name, state_name(st.state),
			    st.asid ? "DEACTIVATE, " : "", st.asid ? ", ASID pending flush" : "");
			t->cleaned++;
		}
		gs->g[i] = gs->g[--gs->n];
		guest_free(gs, g, true);
	}
	return 0;
}

/* Firmware guests the journal does not know (a crash between LAUNCH_START and the journal
 * record): decommissioned. sevd is the only user of the PSP's guest commands on its host, so
 * such a guest has no owner, no memory and no session anyone can use; keeping it would hold a
 * firmware slot and possibly an ASID forever. */
static int reconcile_unknown(struct sevd_guests *gs, struct tally *t, struct sevd_reply *rep)
{
	struct timespec t0;
	int psp_ret, r;
	struct sev_cmd_platform_status ps;
	uint32_t extra, n_sev = 0;

	gfw_begin(SEV_CMD_PLATFORM_STATUS, &psp_ret, &t0);
	r = psp_cmd_platform_status(gs->psp, &ps, &psp_ret);
	if (gfw_done(gs, rep, SEV_CMD_PLATFORM_STATUS, r, psp_ret, &t0) < 0)
		return log_error_errno(rep->r, "Reconcile: PLATFORM_STATUS failed: %s",
				       rep->message);
	for (unsigned i = 0; i < gs->n; i++) /* SNP guests are not in SEV's guest count */
		n_sev += !is_snp(gs->g[i]);
	extra = ps.guest_count > n_sev ? ps.guest_count - n_sev : 0;
	for (uint32_t h = 1; extra && h <= SEVD_GUESTS_MAX; h++) {
		struct sev_cmd_guest_status st;

		if (find(gs, h))
			continue;
		if (fw_status(gs, h, &st, rep) < 0)
			return rep->r;
		if (st.state == SEV_GSTATE_UNINIT)
			continue;
		if (cleanup_fw(gs, h, &st, st.policy & SEV_POLICY_ES, rep) < 0)
			return rep->r;
		log_warning(
		    "Reconcile: firmware guest %u (%s, ASID %u) is not in the journal (a crash "
		    "mid-launch): decommissioned",
		    h, state_name(st.state), st.asid);
		t->unknown++;
		extra--;
	}
	return 0;
}

static int reconcile(struct sevd_guests *gs)
{
	_cleanup_free_ struct sevd_reply *rep = calloc(1, sizeof(*rep));
	struct tally t = {0};
	int r;

	if (!rep)
		return -ENOMEM;
	if (!sevd_core_is_emu(gs->core)) {
		if (gs->n)
			log_warning(
			    "The journal lists %u guests, but %s offers no guest commands to "
			    "user space: kept as recorded",
			    gs->n, psp_transport_kind(gs->psp));
		return 0;
	}
	r = reconcile_known(gs, &t, rep);
	if (r >= 0)
		r = reconcile_unknown(gs, &t, rep);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < gs->n_intents; i++) {
		bool live = false;

		for (unsigned k = 0; k < gs->n; k++)
			live |= gs->g[k]->rec.mem_base == gs->intents[i];
		if (!live && gs->intent_snp[i]) { /* an SNP launch that never reached its PUT */
			if (snp_cleanup(gs, gs->intents[i], gs->intent_snp[i], gs->intent_snp[i],
					rep))
				log_notice(
				    "Reconcile: an SNP launch at 0x%llx did not reach the "
				    "journal: its context decommissioned, its pages reclaimed",
				    (unsigned long long)gs->intents[i]);
			else
				log_info(
				    "Reconcile: an SNP launch at 0x%llx that did not reach the "
				    "journal was undone already (its memory region is unmapped)",
				    (unsigned long long)gs->intents[i]);
		}
		if (!live) /* -ENOENT when it never got mapped or was unmapped already */
			(void)psp_unmap_memfd(gs->psp, gs->intents[i]);
	}
	gs->n_intents = 0;
	/* ASIDs the previous process released may still be dirty in firmware, and the ones
	 * released just now are: one WBINVD + DF_FLUSH makes every non-held ASID clean. */
	if (sevd_core_flush_now(gs->core) >= 0)
		sevd_asid_mark_all_clean(gs->pool);
	r = compact(gs);
	if (r < 0) { /* a full or read-only state dir: serve reads, refuse changes until it works */
		log_warning_errno(r,
				  "Cannot rewrite the journal %s after reconciliation (%m): guest "
				  "changes are refused until it can be written",
				  sevd_journal_path(gs->journal));
		gs->snapshot_due = true;
		atomic_store(&gs->not_durable, true);
	}
	log_info("Reconciled the journal with firmware: %u guest(s) kept, %u half-done launch(es) "
		 "cleaned up, %u unknown firmware guest(s) decommissioned, %u gone from firmware, "
		 "%u unfinished launch(es) kept",
		 t.kept, t.cleaned, t.unknown, t.gone, t.resumed);
	return 0;
}

/* The journal for /metrics, from any thread: its size on disk (a stat, the path is
 * fixed) and whether the last change could be made durable (set on the firmware thread). */
int sevd_guests_render_metrics(struct sevd_guests *gs, char *buf, size_t size)
{
	struct stat st;
	int n;

	n = snprintf(buf, size,
		     "# HELP sevd_journal_size_bytes Size of the guest journal file.\n"
		     "# TYPE sevd_journal_size_bytes gauge\nsevd_journal_size_bytes %lld\n"
		     "# HELP sevd_journal_durable 1 while guest changes are made durable, 0 after "
		     "the journal could not be written (full or read-only state dir) until it "
		     "is rewritten.\n# TYPE sevd_journal_durable gauge\nsevd_journal_durable %d\n",
		     stat(sevd_journal_path(gs->journal), &st) == 0 ? (long long)st.st_size : 0LL,
		     atomic_load(&gs->not_durable) ? 0 : 1);
	if (n >= 0 && (size_t)n < size && gs->vmm) {
		int m = sevd_vmm_render_metrics(gs->vmm, buf + n, size - (size_t)n);

		if (m < 0)
			return m;
		n += m;
	}
	return n < 0 || (size_t)n >= size ? -ENOBUFS : n;
}

unsigned sevd_guests_count(const struct sevd_guests *gs)
{
	return gs->n;
}

void sevd_guests_set_psp(struct sevd_guests *gs, struct psp_transport *psp)
{
	gs->psp = psp;
}

/* Every journal guest is gone from firmware: each is revoked, its ASID released, its DEL
 * journalled and it is dropped, as the reconcile at start drops a guest GUEST_STATUS reports
 * UNINIT. `why` starts each log line; `regions_alive`: the emulator that holds the guests'
 * memory regions still runs (a SHUTDOWN sevd sent), so they are unmapped there too. */
static unsigned drop_all(struct sevd_guests *gs, const char *why, bool regions_alive)
{
	_cleanup_free_ struct sevd_reply *rep = calloc(1, sizeof(*rep));
	unsigned dropped = 0;

	for (unsigned i = gs->n; i-- > 0;) {
		struct guest *g = gs->g[i];

		/* SEV's SHUTDOWN leaves SNP guests in firmware (SNP ABI: SNP_SHUTDOWN is theirs) */
		if (regions_alive && is_snp(g))
			continue;
		revoke_binding(gs, g);
		if (g->rec.asid)
			(void)sevd_asid_release(gs->pool, g->rec.asid);
		/* On a full or read-only state dir the DEL is owed: journal_write() marks the
		 * snapshot due, and a restart before it drops the guest anyway (UNINIT). */
		if (!rep || guest_forget(gs, g->rec.handle, rep) < 0)
			log_warning("%s: the loss of guest %u is not in the journal yet: %s", why,
				    g->rec.handle, rep ? rep->message : "out of memory");
		log_warning("%s: guest %u (%s, ASID %u) is gone from firmware: dropped", why,
			    g->rec.handle, g->rec.name, g->rec.asid);
		gs->g[i] = gs->g[--gs->n];
		g->mapped = g->mapped && regions_alive;
		guest_free(gs, g, true);
		dropped++;
	}
	gs->n_intents = 0;
	return dropped;
}

/* The PSP was reset under us (a restarted emulator is UNINIT and has lost every
 * guest context and memory region). A PSP reset leaves no ASID dirty, so the pool ends with
 * every non-held ASID clean. */
int sevd_guests_after_reset(struct sevd_guests *gs)
{
	unsigned dropped = drop_all(gs, "PSP reset", false);

	sevd_asid_mark_all_clean(gs->pool);
	if (dropped)
		log_notice(
		    "PSP reset: %u guest(s) dropped from the journal; the ASID pool is clean",
		    dropped);
	return 0;
}

/* sevd itself sent SHUTDOWN (or FACTORY_RESET after one) with force: firmware
 * destroyed every guest context (SEV API 55766 §5.4 SHUTDOWN; the emulator's cmd_shutdown).
 * The released ASIDs stay pending flush: the next INIT runs WBINVD + DF_FLUSH (op_init). */
void sevd_guests_after_shutdown(struct sevd_guests *gs, const char *command)
{
	unsigned dropped = drop_all(gs, command, true);

	if (dropped)
		log_notice("%s: %u guest(s) dropped from the journal; their ASIDs are flushed by "
			   "the next INIT",
			   command, dropped);
}

void sevd_guests_free(struct sevd_guests *gs)
{
	if (!gs)
		return;
	sevd_vmm_free(gs->vmm);
	if (gs->ctl_running) {
		shutdown(gs->ctl_fd, SHUT_RDWR);
		pthread_join(gs->ctl_thread, NULL);
	}
	if (gs->ctl_fd >= 0)
		close(gs->ctl_fd);
	if (gs->ctl_path)
		(void)unlink(gs->ctl_path);
	free(gs->ctl_path);
	for (unsigned i = 0; i < gs->n_subs; i++)
		close(gs->subs[i]);
	for (unsigned i = 0; i < gs->n; i++)
		guest_free(gs, gs->g[i], false);
	sevd_journal_free(gs->journal);
	pthread_mutex_destroy(&gs->sub_lock);
	copier_stop(&gs->copier);
	free(gs->mig_roots);
	free(gs->mig_emu_root);
	free(gs);
}

int sevd_guests_new(struct sevd_core *core, const struct sevd_guests_config *cfg,
		    struct sevd_guests **ret)
{
	struct sevd_guests *gs = calloc(1, sizeof(*gs));
	int r;

	if (!gs)
		return -ENOMEM;
	gs->core = core;
	gs->psp = sevd_core_psp(core);
	gs->pool = sevd_core_asids(core);
	gs->ctl_fd = -1;
	gs->compact_after = cfg->journal_compact ? cfg->journal_compact : 1024;
	pthread_mutex_init(&gs->sub_lock, NULL);
	pthread_mutex_init(&gs->copier.lock, NULL);
	pthread_cond_init(&gs->copier.cond, NULL);
	if ((cfg->migration_roots && !(gs->mig_roots = strdup(cfg->migration_roots))) ||
	    (cfg->migration_emulated_root &&
	     !(gs->mig_emu_root = strdup(cfg->migration_emulated_root)))) {
		sevd_guests_free(gs);
		return -ENOMEM;
	}
	if (cfg->policy)
		gs->rules = *cfg->policy;
	else
		policy_rules_init(&gs->rules);
	r = sevd_journal_open(cfg->state_dir, cfg->journal_recover, replay_apply, gs, &gs->journal);
	if (r >= 0)
		r = reconcile(gs);
	if (r >= 0)
		ids_fill(gs);
	if (r >= 0 && cfg->control)
		r = ctl_start(gs, cfg->control);
	if (r >= 0 && cfg->control)
		r = vmm_start(gs, cfg->control);
	if (r < 0) {
		sevd_guests_free(gs);
		return r;
	}
	sevd_crash_enable();
	*ret = gs;
	return 0;
}
