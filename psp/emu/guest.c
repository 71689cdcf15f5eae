/* Guest contexts of the emulated SEV firmware: the handle table, GUEST_STATUS, DECOMMISSION,
 * SHUTDOWN's cleanup, the command table and the CTL `guest-memfd` (guest memory itself is
 * guest-mem.c). Trusts nothing from clients: every handle, address and length is
 * checked; keys (TEK, TIK, VEK) are wiped when a context goes and never logged. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ossl.h"
#include "common/secret.h"
#include "common/util.h"
#include "psp/emu-wire.h"
#include "psp/emu/guest.h"

struct emu_guests *emu_guests_get(struct emu_fw *fw)
{
	struct emu_guests *gs = fw->guests;

	if (gs)
		return gs;
	gs = calloc(1, sizeof(*gs));
	if (!gs)
		return NULL;
	gs->reply_fd = -1;
	fw->guests = gs;
	fw->guests_shutdown = emu_guests_shutdown;
	return gs;
}

uint8_t *emu_guests_packet(struct emu_fw *fw)
{
	struct emu_guests *gs = emu_guests_get(fw);

	if (gs && !gs->packet)
		gs->packet = secret_alloc(SEV_PACKET_MAX_LEN);
	return gs ? gs->packet : NULL;
}

struct emu_guest *emu_guest_find(struct emu_fw *fw, uint32_t handle)
{
	struct emu_guests *gs = fw->guests;

	/* handle_is_valid: 1..SEV_GUEST_COUNT_MAX and not free */
	if (!gs || handle < 1 || handle > EMU_GUEST_MAX)
		return NULL;
	return gs->slot[handle - 1];
}

int emu_guest_alloc(struct emu_fw *fw, struct emu_guest **ret)
{
	struct emu_guests *gs = emu_guests_get(fw);
	struct emu_guest *g;

	if (!gs)
		return SEV_STATUS_HWERROR_PLATFORM;
	for (uint32_t i = 0; i < EMU_GUEST_MAX; i++) {
		if (gs->slot[i])
			continue;
		g = secret_alloc(sizeof(*g)); /* holds TEK, TIK and VEK: locked, wiped on free */
		if (!g || !(g->ld = EVP_MD_CTX_new()) ||
		    !EVP_DigestInit_ex(g->ld, EVP_sha256(), NULL)) {
			if (g)
				EVP_MD_CTX_free(g->ld);
			secret_free(g, sizeof(*g));
			return SEV_STATUS_HWERROR_PLATFORM;
		}
		g->handle = i + 1;
		gs->slot[i] = g;
		*ret = g;
		return SEV_STATUS_SUCCESS;
	}
	return SEV_STATUS_RESOURCE_LIMIT; /* find_free_guest_handle */
}

void emu_guest_free(struct emu_fw *fw, struct emu_guest *g)
{
	struct emu_guests *gs = fw->guests;

	if (!g)
		return;
	if (gs && g->handle >= 1 && g->handle <= EMU_GUEST_MAX && gs->slot[g->handle - 1] == g)
		gs->slot[g->handle - 1] = NULL;
	EVP_MD_CTX_free(g->ld);
	free(g->vmsa_blocks);
	emu_guest_mem_release(g);
	secret_free(g, sizeof(*g)); /* TEK, TIK, VEK, measurement (sev_guest_clear) */
}

void emu_guests_shutdown(struct emu_fw *fw)
{
	struct emu_guests *gs = fw->guests;

	if (!gs)
		return;
	for (uint32_t i = 0; i < EMU_GUEST_MAX; i++)
		emu_guest_free(fw, gs->slot[i]);
	if (gs->reply_fd >= 0)
		close(gs->reply_fd);
	secret_free(gs->packet, SEV_PACKET_MAX_LEN);
	free(gs);
	fw->guests = NULL;
	fw->guest_count = 0;
}

/* ---- GUEST_STATUS, DECOMMISSION ---- */

/* An unknown handle is not an error here: firmware answers SUCCESS with state INVALID (0)
 * (AMD-ASPFW sev_mcmd_guest_status), which is how a host asks "does this handle exist?".
 * Only the state is set then: policy and asid keep the caller's bytes (the buffer is copied
 * back whole on SUCCESS). */
static int cmd_guest_status(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_guest_status *b = buf;
	struct emu_guest *g = emu_guest_find(fw, b->handle);

	if (!g) {
		b->state = 0;
		return SEV_STATUS_SUCCESS;
	}
	b->state = (uint8_t)g->state;
	b->asid = g->pending || g->active ? g->asid : 0;
	b->policy = g->policy;
	return SEV_STATUS_SUCCESS;
}

/* ACTIVE while the guest holds an ASID (pending or active: DEACTIVATE first); the last guest
 * takes the platform back to INIT (mcmd_decommission_common, sev_mcmd_decommission). */
static int cmd_decommission(struct emu_fw *fw, void *buf)
{
	struct sev_cmd_handle *b = buf;
	struct emu_guest *g = emu_guest_find(fw, b->handle);

	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (g->asid && (g->pending || g->active))
		return SEV_STATUS_ACTIVE;
	for (uint32_t i = 0; i < g->n_vmsa; i++) /* pool_vcpu_free_list */
		emu_es_pool_free(fw, g->vmsa_blocks[i]);
	emu_guest_free(fw, g);
	if (fw->guest_count > 0)
		fw->guest_count--;
	if (fw->guest_count == 0)
		fw->state = SEV_PSTATE_INIT;
	return SEV_STATUS_SUCCESS;
}

#define W EMU_IN_WORKING
#define NONE NULL, EMU_WB_NONE
#define ON_OK NULL, EMU_WB_ON_SUCCESS
#define ON_OK_LEN NULL, EMU_WB_ON_SUCCESS_OR_LEN
/* write-back per AMD-ASPFW sev_dispatch.c master_handler_table */
const struct emu_cmd_row emu_guest_cmds[] = {
    {SEV_CMD_LAUNCH_START, EMU_IN_INIT | W, emu_cmd_launch_start, ON_OK},
    {SEV_CMD_LAUNCH_UPDATE_DATA, W, emu_cmd_launch_update_data, NONE},
    {SEV_CMD_LAUNCH_UPDATE_VMSA, W, emu_cmd_launch_update_vmsa, emu_cmd_launch_update_vmsa_len,
     EMU_WB_NONE},
    {SEV_CMD_LAUNCH_MEASURE, W, emu_cmd_launch_measure, ON_OK_LEN},
    {SEV_CMD_LAUNCH_UPDATE_SECRET, W, emu_cmd_launch_secret, NONE},
    {SEV_CMD_LAUNCH_FINISH, W, emu_cmd_launch_finish, NONE},
    {SEV_CMD_ACTIVATE, W, emu_cmd_activate, NONE},
    {SEV_CMD_ACTIVATE_EX, W, emu_cmd_activate_ex, NONE},
    {SEV_CMD_COPY, W, emu_cmd_copy, NONE},
    {SEV_CMD_DEACTIVATE, W, emu_cmd_deactivate, NONE},
    {SEV_CMD_DECOMMISSION, W, cmd_decommission, NONE},
    {SEV_CMD_GUEST_STATUS, EMU_IN_INIT | W, cmd_guest_status, ON_OK},
    {SEV_CMD_ATTESTATION, W, emu_cmd_attestation, ON_OK_LEN},
    {SEV_CMD_DBG_DECRYPT, W, emu_cmd_dbg_decrypt, NONE},
    {SEV_CMD_DBG_ENCRYPT, W, emu_cmd_dbg_encrypt, NONE},
    /* migration (guest-send.c, guest-receive.c): the handler's bytes go back as they are */
    {SEV_CMD_SEND_START, W, emu_cmd_send_start},
    {SEV_CMD_SEND_UPDATE_DATA, W, emu_cmd_send_update_data},
    {SEV_CMD_SEND_UPDATE_VMSA, W, emu_cmd_send_update_vmsa},
    {SEV_CMD_SEND_FINISH, W, emu_cmd_send_finish},
    {SEV_CMD_SEND_CANCEL, W, emu_cmd_send_cancel},
    {SEV_CMD_RECEIVE_START, EMU_IN_INIT | W, emu_cmd_receive_start},
    {SEV_CMD_RECEIVE_UPDATE_DATA, W, emu_cmd_receive_update_data},
    {SEV_CMD_RECEIVE_UPDATE_VMSA, W, emu_cmd_receive_update_vmsa},
    {SEV_CMD_RECEIVE_FINISH, W, emu_cmd_receive_finish},
};
#undef NONE
#undef ON_OK
#undef ON_OK_LEN
#undef W
const size_t emu_guest_cmds_n = ELEMENTSOF(emu_guest_cmds);

/* ---- CTL ---- */

static int ctl_reply(uint8_t *out, size_t cap, size_t *len, const char *text)
{
	int n = snprintf((char *)out, cap, "%s", text);

	*len = n < 0 ? 0 : MIN((size_t)n, cap - 1);
	return 0;
}

int emu_guest_ctl_memfd(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	struct emu_guests *gs = emu_guests_get(fw);
	char *save = NULL, *h = arg ? strtok_r(arg, " \t\r\n", &save) : NULL;
	char *nth = h ? strtok_r(NULL, " \t\r\n", &save) : NULL;
	struct emu_guest_region *r;
	struct emu_guest *g;
	uint32_t handle, idx = 0;
	int fd, n;

	if (!gs)
		return -ENOMEM;
	if (gs->reply_fd >= 0) { /* never sent (a caller without a socket, e.g. a fuzzer) */
		close(gs->reply_fd);
		gs->reply_fd = -1;
	}
	if (!h || parse_u32(h, &handle) < 0 || (nth && parse_u32(nth, &idx) < 0) ||
	    strtok_r(NULL, " \t\r\n", &save)) {
		ctl_reply(out, cap, len, "guest-memfd takes a guest handle and optionally the "
					 "number of one of its memory regions (0 = the first)");
		return -EINVAL;
	}
	g = emu_guest_find(fw, handle);
	if (!g) {
		ctl_reply(out, cap, len, "guest-memfd: no guest with this handle");
		return -ENOENT;
	}
	/* The CPU side exists only for a guest that may run: launched and activated. */
	if (g->state != SEV_GSTATE_RUNNING || !g->active) {
		ctl_reply(out, cap, len,
			  "guest-memfd: the guest is not RUNNING and activated "
			  "(LAUNCH_FINISH and ACTIVATE first)");
		return -EBUSY;
	}
	if (g->n_reg == 0) {
		ctl_reply(out, cap, len,
			  "guest-memfd: the guest has no memory (no LAUNCH_UPDATE_DATA)");
		return -ENOENT;
	}
	if (idx >= g->n_reg) {
		ctl_reply(out, cap, len, "guest-memfd: the guest has fewer memory regions");
		return -ENOENT;
	}
	/* the VMM runs the guest from the view: every launched page must be in it */
	if (emu_guest_mem_cpu_side(fw, g) != SEV_STATUS_SUCCESS) {
		ctl_reply(out, cap, len,
			  "guest-memfd: the guest's memory could not be read back from its host "
			  "region (unmapped or shrunk since launch)");
		return -EIO;
	}
	r = &g->reg[idx];
	fd = fcntl(r->view_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	gs->reply_fd = fd;
	n = snprintf((char *)out, cap, "handle=%u asid=%u base=0x%llx size=%llu region=%u regions=%u",
		     g->handle, g->asid, (unsigned long long)r->base, (unsigned long long)r->size,
		     idx, g->n_reg);
	*len = n < 0 ? 0 : MIN((size_t)n, cap - 1);
	return 0;
}

int emu_guest_take_reply_fd(struct emu_fw *fw)
{
	struct emu_guests *gs = fw->guests;
	int fd;

	if (!gs)
		return -1;
	fd = gs->reply_fd;
	gs->reply_fd = -1;
	return fd;
}
