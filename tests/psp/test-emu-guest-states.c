/* sev-psp-emu: every guest command in every guest state, by status name (SEV-FACTS.md §5,
 * checked against AMD-ASPFW sev_mcmd.c and sev_guest.c state_tbl_sev), and in the platform
 * states where it is not legal (§4). Each cell starts from a fresh guest driven to its state
 * on a platform kept WORKING by one guest that stays, and checks the state afterwards. */
#include <string.h>

#include "common/macros.h"
#include "psp/commands.h"
#include "tests/psp/test-emu-guest-util.h"

enum col { NONE, INACT, LUPD, LSEC, RUN, NCOLS };
static const char *const col_name[] = {"unknown handle", "LUPDATE (not activated)", "LUPDATE",
				       "LSECRET", "RUNNING"};

#define OK SEV_STATUS_SUCCESS
#define IG SEV_STATUS_INVALID_GUEST
#define IGS SEV_STATUS_INVALID_GUEST_STATE
#define IPS SEV_STATUS_INVALID_PLATFORM_STATE
#define INA SEV_STATUS_INACTIVE
#define ACT SEV_STATUS_ACTIVE
#define UNS SEV_STATUS_UNSUPPORTED
#define BAD SEV_STATUS_BAD_MEASUREMENT
#define GONE 0 /* GUEST_STATUS state of a handle that does not exist */
#define S_L SEV_GSTATE_LUPDATE
#define S_S SEV_GSTATE_LSECRET
#define S_R SEV_GSTATE_RUNNING

static const struct row {
	uint32_t cmd;
	int status[NCOLS];
	int after[NCOLS]; /* GUEST_STATUS state afterwards (NONE: always GONE) */
} table[] = {
    {SEV_CMD_LAUNCH_UPDATE_DATA, {IG, INA, OK, IGS, IGS}, {GONE, S_L, S_L, S_S, S_R}},
    /* a non-ES guest: the state check comes first, then UNSUPPORTED (before INACTIVE) */
    {SEV_CMD_LAUNCH_UPDATE_VMSA, {IG, UNS, UNS, IGS, IGS}, {GONE, S_L, S_L, S_S, S_R}},
    /* MEASURE does not need the ASID */
    {SEV_CMD_LAUNCH_MEASURE, {IG, OK, OK, IGS, IGS}, {GONE, S_S, S_S, S_S, S_R}},
    /* an all-zero packet: past the state checks its MAC fails */
    {SEV_CMD_LAUNCH_UPDATE_SECRET, {IG, IGS, IGS, BAD, IGS}, {GONE, S_L, S_L, S_S, S_R}},
    {SEV_CMD_LAUNCH_FINISH, {IG, IGS, IGS, OK, IGS}, {GONE, S_L, S_L, S_R, S_R}},
    {SEV_CMD_ACTIVATE, {IG, OK, ACT, ACT, ACT}, {GONE, S_L, S_L, S_S, S_R}},
    {SEV_CMD_DEACTIVATE, {IG, INA, OK, OK, OK}, {GONE, S_L, S_L, S_S, S_R}},
    {SEV_CMD_DECOMMISSION, {IG, OK, ACT, ACT, ACT}, {GONE, GONE, S_L, S_S, S_R}},
    {SEV_CMD_GUEST_STATUS, {OK, OK, OK, OK, OK}, {GONE, S_L, S_L, S_S, S_R}},
    {SEV_CMD_ATTESTATION, {IG, IGS, IGS, OK, OK}, {GONE, S_L, S_L, S_S, S_R}},
    {SEV_CMD_DBG_DECRYPT, {IG, INA, OK, OK, OK}, {GONE, S_L, S_L, S_S, S_R}},
    {SEV_CMD_DBG_ENCRYPT, {IG, INA, OK, OK, OK}, {GONE, S_L, S_L, S_S, S_R}},
};

/* Platform states: every guest command is refused in UNINIT; in INIT only LAUNCH_START and
 * GUEST_STATUS are legal. */
static const uint32_t guest_cmds[] = {
    SEV_CMD_LAUNCH_START,   SEV_CMD_LAUNCH_UPDATE_DATA,	  SEV_CMD_LAUNCH_UPDATE_VMSA,
    SEV_CMD_LAUNCH_MEASURE, SEV_CMD_LAUNCH_UPDATE_SECRET, SEV_CMD_LAUNCH_FINISH,
    SEV_CMD_ACTIVATE,	    SEV_CMD_DEACTIVATE,		  SEV_CMD_DECOMMISSION,
    SEV_CMD_GUEST_STATUS,   SEV_CMD_ATTESTATION,	  SEV_CMD_DBG_DECRYPT,
    SEV_CMD_DBG_ENCRYPT,
};

struct ctx {
	struct psp_transport *t;
	struct gt_mem mem;	 /* guest memory */
	struct psp_buf out, hdr; /* DMA: command outputs, a zeroed secret header */
	uint32_t next_asid;
};

/* A well-formed buffer for cmd on guest h, with every address inside mapped memory. */
static void build(struct ctx *c, uint32_t cmd, uint32_t h, uint8_t *buf)
{
	memset(buf, 0, 64);
	memset(c->hdr.ptr, 0, c->hdr.size);
	switch (cmd) {
	case SEV_CMD_LAUNCH_UPDATE_DATA:
		*(struct sev_cmd_launch_update *)buf =
		    (struct sev_cmd_launch_update){.handle = h, .address = c->mem.base, .len = 64};
		break;
	case SEV_CMD_LAUNCH_UPDATE_VMSA:
		*(struct sev_cmd_launch_update *)buf = (struct sev_cmd_launch_update){
		    .handle = h, .address = c->mem.base + 4096, .len = 4096};
		break;
	case SEV_CMD_LAUNCH_MEASURE:
		*(struct sev_cmd_launch_measure *)buf = (struct sev_cmd_launch_measure){
		    .handle = h, .address = c->out.addr, .len = SEV_MEASURE_BLOB_SIZE};
		break;
	case SEV_CMD_LAUNCH_UPDATE_SECRET:
		*(struct sev_cmd_launch_secret *)buf =
		    (struct sev_cmd_launch_secret){.handle = h,
						   .hdr_address = c->hdr.addr,
						   .hdr_len = sizeof(struct sev_secret_header),
						   .guest_address = c->mem.base,
						   .guest_len = 16,
						   .trans_address = c->hdr.addr + 64,
						   .trans_len = 16};
		break;
	case SEV_CMD_ACTIVATE:
		*(struct sev_cmd_activate *)buf =
		    (struct sev_cmd_activate){.handle = h, .asid = c->next_asid++};
		break;
	case SEV_CMD_ATTESTATION:
		*(struct sev_cmd_attestation *)buf = (struct sev_cmd_attestation){
		    .handle = h, .address = c->out.addr, .len = SEV_ATTESTATION_REPORT_SIZE};
		break;
	case SEV_CMD_DBG_DECRYPT:
		*(struct sev_cmd_dbg *)buf = (struct sev_cmd_dbg){
		    .handle = h, .src_addr = c->mem.base, .dst_addr = c->out.addr, .len = 32};
		break;
	case SEV_CMD_DBG_ENCRYPT:
		*(struct sev_cmd_dbg *)buf = (struct sev_cmd_dbg){
		    .handle = h, .src_addr = c->out.addr, .dst_addr = c->mem.base, .len = 32};
		break;
	default: /* handle-only buffers; GUEST_STATUS; LAUNCH_START (no session) */
		memcpy(buf, &h, sizeof(h));
		break;
	}
}

/* A fresh guest in the column's state. */
static uint32_t make_guest(struct ctx *c, enum col col)
{
	uint8_t blob[SEV_MEASURE_BLOB_SIZE];
	uint32_t h = 0;
	int pr;

	if (col == NONE)
		return 1000; /* in the handle range, never allocated here */
	GT_EXPECT(gt_launch(c->t, 0, NULL, NULL, &h), OK);
	if (col == INACT)
		return h;
	TU_CHECK(psp_cmd_activate(c->t, h, c->next_asid++, &pr) == 0, "ACTIVATE: %s",
		 sev_status_name(pr));
	if (col >= LSEC)
		TU_CHECK(psp_cmd_launch_measure(c->t, h, blob, &pr) == 0, "MEASURE");
	if (col >= RUN)
		TU_CHECK(psp_cmd_launch_finish(c->t, h, &pr) == 0, "FINISH");
	TU_CHECK_EQ(gt_guest_status(c->t, h).state, col == RUN ? S_R : col == LSEC ? S_S : S_L);
	return h;
}

static void drop_guest(struct ctx *c, uint32_t h)
{
	int pr;

	(void)psp_cmd_deactivate(c->t, h, &pr);
	(void)psp_cmd_decommission(c->t, h, &pr);
	TU_CHECK_EQ(gt_guest_status(c->t, h).state, GONE);
}

static void guest_states(struct ctx *c)
{
	uint8_t buf[64];

	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		for (int col = 0; col < NCOLS; col++) {
			uint32_t h = make_guest(c, col), cmd = table[i].cmd;
			int st, after;

			build(c, cmd, h, buf);
			st = fw(c->t, cmd, buf);
			TU_CHECK(st == table[i].status[col], "%s on a guest in %s: %s, expected %s",
				 sev_cmd_name(cmd), col_name[col], sev_status_name(st),
				 sev_status_name(table[i].status[col]));
			after = gt_guest_status(c->t, h).state;
			TU_CHECK(after == table[i].after[col],
				 "%s on %s: state %s afterwards, expected %s", sev_cmd_name(cmd),
				 col_name[col], sev_guest_state_name(after),
				 sev_guest_state_name(table[i].after[col]));
			if (col != NONE)
				drop_guest(c, h);
			TU_CHECK_EQ(gt_guest_count(c->t), 1); /* only the keeper */
		}
}

static void platform_states(struct ctx *c)
{
	uint8_t buf[64];

	for (size_t i = 0; i < ELEMENTSOF(guest_cmds); i++) {
		uint32_t cmd = guest_cmds[i];
		int st;

		TU_CHECK(to_state(c->t, SEV_PSTATE_UNINIT), "UNINIT");
		build(c, cmd, 1, buf);
		st = fw(c->t, cmd, buf);
		TU_CHECK(st == IPS, "%s in UNINIT: %s", sev_cmd_name(cmd), sev_status_name(st));
		TU_CHECK(to_state(c->t, SEV_PSTATE_INIT), "INIT");
		build(c, cmd, cmd == SEV_CMD_LAUNCH_START ? 0 : 1, buf); /* 0: a new context */
		st = fw(c->t, cmd, buf);
		if (cmd == SEV_CMD_LAUNCH_START || cmd == SEV_CMD_GUEST_STATUS)
			TU_CHECK(st == OK, "%s in INIT: %s", sev_cmd_name(cmd),
				 sev_status_name(st));
		else
			TU_CHECK(st == IPS, "%s in INIT: %s", sev_cmd_name(cmd),
				 sev_status_name(st));
		TU_CHECK_EQ(platform_status(c->t).state,
			    cmd == SEV_CMD_LAUNCH_START ? SEV_PSTATE_WORKING : SEV_PSTATE_INIT);
	}
}

int main(void)
{
	struct emu_rig r;
	struct ctx c = {.next_asid = GT_MIN_SEV_ASID};
	uint32_t keeper = 0;

	rig_up(&r, NULL);
	c.t = r.t;
	gt_platform_ready(c.t, false);
	gt_mem_new(c.t, 2 * 4096, &c.mem);
	TU_CHECK(psp_dma_alloc(c.t, 4096, &c.out) == 0 && psp_dma_alloc(c.t, 4096, &c.hdr) == 0,
		 "dma");
	GT_EXPECT(gt_launch(c.t, 0, NULL, NULL, &keeper), OK); /* keeps the platform WORKING */
	guest_states(&c);
	TU_CHECK(c.next_asid <= GT_MAX_ASID, "ran out of ASIDs (%u)", c.next_asid);
	platform_states(&c);
	psp_dma_free(c.t, &c.out);
	psp_dma_free(c.t, &c.hdr);
	gt_mem_free(&c.mem);
	rig_down(&r);
	tu_done("emu-guest-states");
}
