/* sev-psp-emu --snp: every SNP guest command in every SNP guest state and in both SNP platform
 * states, by status name, with well-formed buffers (the SEV model of this test is
 * test-emu-guest-states.c). Guest states as the ABI's SNP_GUEST_STATUS names them (56860
 * table "Guest States": GSTATE_INIT after SNP_GCTX_CREATE, GSTATE_LAUNCH after SNP_LAUNCH_START,
 * GSTATE_RUNNING after SNP_LAUNCH_FINISH), plus the two cases the firmware tells apart inside
 * LAUNCH (an ASID bound or not: AMD-ASPFW snp_mcmd_launch_update's INACTIVE) and a page that
 * is no guest context at all (INVALID_GUEST). Each cell starts from a fresh guest on fresh pages
 * and checks SNP_GUEST_STATUS afterwards. Then every SNP platform command with a well-formed
 * buffer, each on a fresh emulator, in SNP UNINIT and INIT (no handler but the guest and page
 * ones checks the platform state in AMD-ASPFW; the zeroed-buffer table is in
 * test-emu-snp-platform.c). Runs the real emulator. */
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "tests/psp/test-emu-snp-util.h"

enum col { NONE, GINIT, INACT, LAUNCH, RUN, NCOLS };
static const char *const col_name[] = { "no context", "INIT", "LAUNCH (no ASID)", "LAUNCH",
					"RUNNING" };

#define OK SEV_STATUS_SUCCESS
#define IG SEV_STATUS_INVALID_GUEST
#define IGS SEV_STATUS_INVALID_GUEST_STATE
#define IPS SEV_STATUS_INVALID_PLATFORM_STATE
#define IPG SEV_STATUS_INVALID_PAGE_STATE
#define IPARAM SEV_STATUS_INVALID_PARAM
#define INA SEV_STATUS_INACTIVE
#define IPO SEV_STATUS_INVALID_PAGE_OWNER
#define ACT SEV_STATUS_ACTIVE
#define GONE (-1) /* SNP_GUEST_STATUS answers INVALID_GUEST: no context there */
#define S_I SEV_SNP_GSTATE_INIT
#define S_L SEV_SNP_GSTATE_LAUNCH
#define S_R SEV_SNP_GSTATE_RUNNING
#define MB2 (2u << 20)
#define PAGES_PER_CELL 5u
/* SMT allowed, bit 17 (reserved, must be 1), DEBUG (bit 19) so that the DBG commands can pass */
#define POLICY (0x30000ull | 1ull << 19)

static const struct row {
	uint32_t cmd;
	int status[NCOLS];
	int after[NCOLS];
} table[] = {
	/* the context page must be a Firmware page: a Context page is not */
	{ SEV_CMD_SNP_GCTX_CREATE, { OK, IPG, IPG, IPG, IPG }, { S_I, S_I, S_L, S_L, S_R } },
	{ SEV_CMD_SNP_LAUNCH_START, { IG, OK, IGS, IGS, IGS }, { GONE, S_L, S_L, S_L, S_R } },
	{ SEV_CMD_SNP_LAUNCH_UPDATE, { IG, IGS, INA, OK, IGS }, { GONE, S_I, S_L, S_L, S_R } },
	{ SEV_CMD_SNP_LAUNCH_FINISH, { IG, IGS, INA, OK, IGS }, { GONE, S_I, S_L, S_R, S_R } },
	/* a second ASID for a bound guest */
	{ SEV_CMD_SNP_ACTIVATE, { IG, IGS, OK, ACT, ACT }, { GONE, S_I, S_L, S_L, S_R } },
	{ SEV_CMD_SNP_DECOMMISSION, { IG, OK, OK, OK, OK }, { GONE, GONE, GONE, GONE, GONE } },
	{ SEV_CMD_SNP_GUEST_STATUS, { IG, OK, OK, OK, OK }, { GONE, S_I, S_L, S_L, S_R } },
	/* a zeroed request message: past the state check its header is refused */
	{ SEV_CMD_SNP_GUEST_REQUEST, { IG, IGS, IGS, IGS, IPARAM }, { GONE, S_I, S_L, S_L, S_R } },
	{ SEV_CMD_SNP_DBG_DECRYPT, { IG, IPG, IPG, OK, OK }, { GONE, S_I, S_L, S_L, S_R } },
	/* the page's owner before activation: a guest without an ASID owns no page */
	{ SEV_CMD_SNP_DBG_ENCRYPT, { IG, IPO, IPO, OK, OK }, { GONE, S_I, S_L, S_L, S_R } },
};

struct ctx {
	struct psp_transport *t;
	struct gt_mem m; /* page 0: the status page; then PAGES_PER_CELL pages per cell */
	unsigned next_page;
	uint32_t next_asid;
};

/* One cell's pages: the context, a launched guest page, a hypervisor page, a Firmware page for
 * outputs, a Pre-Guest page for LAUNCH_UPDATE and DBG_ENCRYPT. */
struct cell {
	uint64_t gctx, launched, hv, out, pre;
	uint32_t asid;
};

static uint64_t page(struct ctx *c)
{
	TU_CHECK(c->next_page < c->m.size / SEV_PAGE_SIZE, "out of pages");
	return c->m.base + (uint64_t)c->next_page++ * SEV_PAGE_SIZE;
}

static void pre_guest(struct ctx *c, uint64_t addr, uint32_t asid, uint64_t gpa)
{
	TU_CHECK_EQ(snp_rmpupdate(c->t, "0x%llx,assigned=1,asid=%u,gpa=0x%llx,immutable=1",
				  (unsigned long long)addr, asid, (unsigned long long)gpa),
		    0);
}

static int update(struct ctx *c, uint64_t gctx, uint64_t addr)
{
	struct sev_snp_cmd_launch_update b = {
		.gctx_paddr = gctx,
		.flags = SEV_SNP_UPDATE_FLAGS(SEV_SNP_PAGE_NORMAL, false, false),
		.address = addr,
	};

	return fw(c->t, SEV_CMD_SNP_LAUNCH_UPDATE, &b);
}

static int guest_state(struct ctx *c, uint64_t gctx, uint64_t out)
{
	struct sev_snp_cmd_guest_status b = { gctx, out };
	int st = fw(c->t, SEV_CMD_SNP_GUEST_STATUS, &b);

	if (st == IG)
		return GONE;
	TU_CHECK(st == OK, "SNP_GUEST_STATUS: %s", sev_status_name(st));
	return ((struct sev_snp_guest_status *)(c->m.ptr + (out - c->m.base)))->state;
}

/* A fresh guest in the column's state, on fresh pages. */
static void make_guest(struct ctx *c, enum col col, struct cell *g)
{
	struct sev_snp_cmd_launch_start ls = { .policy = POLICY };
	struct sev_snp_cmd_launch_finish lf = { 0 };
	struct sev_snp_cmd_activate a;

	g->gctx = page(c);
	g->launched = page(c);
	g->hv = page(c);
	g->out = page(c);
	g->pre = page(c);
	g->asid = c->next_asid++;
	snp_fw_page(c->t, g->gctx);
	snp_fw_page(c->t, g->out);
	if (col != NONE)
		GT_EXPECT(fw(c->t, SEV_CMD_SNP_GCTX_CREATE, &(struct sev_snp_cmd_addr){ g->gctx }),
			  OK);
	ls.gctx_paddr = g->gctx;
	if (col >= INACT)
		GT_EXPECT(fw(c->t, SEV_CMD_SNP_LAUNCH_START, &ls), OK);
	a = (struct sev_snp_cmd_activate){ g->gctx, g->asid };
	if (col >= LAUNCH) /* before the pages: ACTIVATE refuses an ASID owning pages */
		GT_EXPECT(fw(c->t, SEV_CMD_SNP_ACTIVATE, &a), OK);
	/* KVM's order: the pages go Pre-Guest once the guest has its ASID */
	pre_guest(c, g->launched, g->asid, 0x1000);
	pre_guest(c, g->pre, g->asid, 0x2000);
	if (col < LAUNCH)
		return;
	GT_EXPECT(update(c, g->gctx, g->launched), OK);
	if (col == RUN) {
		lf.gctx_paddr = g->gctx;
		GT_EXPECT(fw(c->t, SEV_CMD_SNP_LAUNCH_FINISH, &lf), OK);
	}
	TU_CHECK_EQ(guest_state(c, g->gctx, g->out), col == RUN ? S_R : S_L);
}

/* The command's buffer for cell g: every address mapped and in the state the command needs. */
static void build(struct ctx *c, uint32_t cmd, const struct cell *g, uint8_t *buf)
{
	memset(buf, 0, 64);
	memset(c->m.ptr + (g->hv - c->m.base), 0, SEV_PAGE_SIZE);
	switch (cmd) {
	case SEV_CMD_SNP_LAUNCH_START:
		*(struct sev_snp_cmd_launch_start *)buf = (struct sev_snp_cmd_launch_start){
			.gctx_paddr = g->gctx,
			.policy = POLICY,
		};
		break;
	case SEV_CMD_SNP_LAUNCH_UPDATE:
		*(struct sev_snp_cmd_launch_update *)buf = (struct sev_snp_cmd_launch_update){
			.gctx_paddr = g->gctx,
			.flags = SEV_SNP_UPDATE_FLAGS(SEV_SNP_PAGE_NORMAL, false, false),
			.address = g->pre,
		};
		break;
	case SEV_CMD_SNP_ACTIVATE:
		*(struct sev_snp_cmd_activate *)buf =
			(struct sev_snp_cmd_activate){ g->gctx, c->next_asid++ };
		break;
	case SEV_CMD_SNP_GUEST_STATUS:
		*(struct sev_snp_cmd_guest_status *)buf =
			(struct sev_snp_cmd_guest_status){ g->gctx, g->out };
		break;
	case SEV_CMD_SNP_GUEST_REQUEST:
		*(struct sev_snp_cmd_guest_request *)buf =
			(struct sev_snp_cmd_guest_request){ g->gctx, g->hv, g->out };
		break;
	case SEV_CMD_SNP_DBG_DECRYPT:
		*(struct sev_snp_cmd_dbg *)buf = (struct sev_snp_cmd_dbg){ g->gctx, g->launched,
									  g->out };
		break;
	case SEV_CMD_SNP_DBG_ENCRYPT:
		*(struct sev_snp_cmd_dbg *)buf = (struct sev_snp_cmd_dbg){ g->gctx, g->hv, g->pre };
		break;
	default: /* GCTX_CREATE, LAUNCH_FINISH (no ID block), DECOMMISSION: the context only */
		memcpy(buf, &g->gctx, sizeof(g->gctx));
		break;
	}
}

static void drop_guest(struct ctx *c, const struct cell *g)
{
	(void)fw(c->t, SEV_CMD_SNP_DECOMMISSION, &(struct sev_snp_cmd_addr){ g->gctx });
	TU_CHECK_EQ(guest_state(c, g->gctx, g->out), GONE);
}

static void guest_states(struct ctx *c)
{
	unsigned wrong = 0;
	uint8_t buf[64];

	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		for (int col = 0; col < NCOLS; col++) {
			uint32_t cmd = table[i].cmd;
			struct cell g;
			int st, after;

			make_guest(c, col, &g);
			build(c, cmd, &g, buf);
			st = fw(c->t, cmd, buf);
			after = guest_state(c, g.gctx, g.out);
			if (st != table[i].status[col] || after != table[i].after[col]) {
				fprintf(stderr, "%s on a guest in %s: %s, state %d afterwards; "
					"expected %s, state %d\n", sev_cmd_name(cmd), col_name[col],
					sev_status_name(st), after,
					sev_status_name(table[i].status[col]),
					table[i].after[col]);
				wrong++;
			}
			drop_guest(c, &g);
		}
	TU_CHECK(wrong == 0, "%u of %zu cells answered otherwise", wrong,
		 ELEMENTSOF(table) * NCOLS);
}

/* SNP UNINIT: every guest command, with the buffer it would take in INIT, answers
 * INVALID_PLATFORM_STATE and leaves the platform UNINIT (AMD-ASPFW: each snp_mcmd_* handler
 * checks snp_state before the pages). The pages are left as the host has them: before SNP_INIT
 * there is no RMP to put them in another state. */
static void platform_uninit(struct ctx *c)
{
	struct cell g = { page(c), page(c), page(c), page(c), page(c), 1 };
	struct sev_snp_platform_status ps;
	uint8_t buf[64];

	for (size_t i = 0; i < ELEMENTSOF(table); i++) {
		int st;

		build(c, table[i].cmd, &g, buf);
		st = fw(c->t, table[i].cmd, buf);
		TU_CHECK(st == IPS, "%s in SNP UNINIT: %s, expected %s",
			 sev_cmd_name(table[i].cmd), sev_status_name(st), sev_status_name(IPS));
		GT_EXPECT(snp_platform_status(c->t, &c->m, 0, &ps), OK);
		TU_CHECK_EQ(ps.state, SEV_SNP_PSTATE_UNINIT);
	}
}

/* The platform commands with well-formed buffers, each on a fresh emulator in SNP UNINIT and
 * in SNP INIT (Linux's bring-up: SNP_INIT_EX, WBINVD, SNP_DF_FLUSH). */
static const struct {
	uint32_t cmd;
	int status[2]; /* UNINIT, INIT */
} plat_table[] = {
	{ SEV_CMD_SNP_INIT, { OK, IPS } },
	{ SEV_CMD_SNP_INIT_EX, { OK, IPS } },
	{ SEV_CMD_SNP_SHUTDOWN, { OK, OK } },
	{ SEV_CMD_SNP_SHUTDOWN_EX, { OK, OK } },
	{ SEV_CMD_SNP_PLATFORM_STATUS, { OK, OK } },
	{ SEV_CMD_SNP_DF_FLUSH, { OK, OK } }, /* after a WBINVD */
	{ SEV_CMD_SNP_CONFIG, { OK, OK } },
	{ SEV_CMD_SNP_COMMIT, { OK, OK } },
	{ SEV_CMD_SNP_FEATURE_INFO, { OK, OK } },
	/* a wrapped VLEK for TCB 0: not the reported TCB */
	{ SEV_CMD_SNP_VLEK_LOAD, { SEV_STATUS_BAD_SVN, SEV_STATUS_BAD_SVN } },
	{ SEV_CMD_SNP_PAGE_RECLAIM, { IPS, OK } },
	{ SEV_CMD_SNP_PAGE_SET_STATE, { IPS, OK } },
	/* hypervisor pages: nothing to unsmash */
	{ SEV_CMD_SNP_PAGE_UNSMASH, { IPS, IPG } },
};

static int plat_cell(uint32_t cmd, bool init)
{
	static const char *const args[] = { "--snp", NULL };
	uint8_t buf[64] = { 0 };
	struct emu_rig r;
	struct gt_mem m;
	int st;

	rig_up(&r, args);
	gt_mem_new(r.t, 2 * MB2, &m);
	TU_CHECK(m.base % MB2 == 0, "memory 2 MiB aligned");
	if (init) {
		snp_ready(r.t);
		for (unsigned i = 0; i < 3; i++)
			snp_fw_page(r.t, m.base + i * SEV_PAGE_SIZE);
	}
	switch (cmd) {
	case SEV_CMD_SNP_INIT_EX:
		put_le32(buf, SEV_SNP_INIT_INIT_RMP);
		break;
	case SEV_CMD_SNP_SHUTDOWN_EX:
		put_le32(buf, 8);
		break;
	case SEV_CMD_SNP_PLATFORM_STATUS:
	case SEV_CMD_SNP_PAGE_UNSMASH:
		put_le64(buf, m.base);
		break;
	case SEV_CMD_SNP_PAGE_RECLAIM:
		put_le64(buf, m.base + 2 * SEV_PAGE_SIZE);
		break;
	case SEV_CMD_SNP_COMMIT:
		put_le32(buf, 4);
		break;
	case SEV_CMD_SNP_FEATURE_INFO:
		put_le32(buf, 16);
		put_le64(buf + 8, m.base + SEV_PAGE_SIZE);
		break;
	case SEV_CMD_SNP_VLEK_LOAD:
		put_le32(buf, 16);
		put_le64(buf + 8, m.base + MB2);
		break;
	case SEV_CMD_SNP_PAGE_SET_STATE:
		put_le32(buf, 16);
		put_le64(buf + 8, m.base + MB2);
		put_le32(m.ptr + MB2, 1);
		put_le64(m.ptr + MB2 + 8, m.base);
		put_le32(m.ptr + MB2 + 16, 1);
		break;
	case SEV_CMD_SNP_DF_FLUSH:
		ctl_ok(r.t, "wbinvd");
		break;
	}
	st = fw(r.t, cmd, sev_cmd_buffer_size(cmd) ? buf : NULL);
	gt_mem_free(&m);
	rig_down(&r);
	return st;
}

static void platform_table(void)
{
	unsigned wrong = 0;

	for (size_t i = 0; i < ELEMENTSOF(plat_table); i++)
		for (int s = 0; s < 2; s++) {
			int st = plat_cell(plat_table[i].cmd, s == 1);

			if (st != plat_table[i].status[s]) {
				fprintf(stderr, "%s in SNP %s: %s, expected %s\n",
					sev_cmd_name(plat_table[i].cmd), s ? "INIT" : "UNINIT",
					sev_status_name(st),
					sev_status_name(plat_table[i].status[s]));
				wrong++;
			}
		}
	TU_CHECK(wrong == 0, "%u of %zu platform cells answered otherwise", wrong,
		 2 * ELEMENTSOF(plat_table));
}

int main(void)
{
	static const char *const args[] = { "--snp", NULL };
	struct emu_rig r;
	struct ctx c = { .next_page = 1, .next_asid = 1 };

	rig_up(&r, args);
	c.t = r.t;
	gt_mem_new(r.t, MB2, &c.m);
	platform_uninit(&c);
	c.next_page = 1;
	snp_ready(r.t);
	snp_fw_page(r.t, c.m.base);
	guest_states(&c);
	TU_CHECK(c.next_asid <= SNP_MIN_SEV_ASID, "ran out of SNP ASIDs (%u)", c.next_asid);
	gt_mem_free(&c.m);
	rig_down(&r);
	platform_table();
	tu_done("test-emu-snp-states");
}
