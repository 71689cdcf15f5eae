/* The receiving side of migration in the emulated SEV firmware (SEV API §6.16-§6.19):
 * RECEIVE_START, RECEIVE_UPDATE_DATA, RECEIVE_UPDATE_VMSA, RECEIVE_FINISH. Checks and statuses
 * in the order of AMD-ASPFW sev_mcmd.c (sev_mcmd_receive_start, sev_mcmd_receive_update,
 * sev_mcmd_receive_finish). The channel is opened as LAUNCH_START opens a guest owner's
 * (attest_session_open with this platform's PDH and the source's PDH certificate); packets are
 * checked and decrypted by emu_packet_open (guest-send.c), then placed in guest memory like
 * LAUNCH_SECRET's plaintext: into the plaintext view, and as ciphertext under the guest's own
 * VEK into the host's region, so the host never sees plaintext. A packet whose MAC fails
 * answers BAD_MEASUREMENT and writes nothing (the guest stays RUPDATE, as in firmware). */
#include <openssl/crypto.h>
#include <stddef.h>
#include <string.h>

#include "attest/measurement.h"
#include "psp/emu/guest.h"

#define ALIGNED16(x) (((x)&15u) == 0)

/* RECEIVE_START's buffer is LAUNCH_START's (SEV API §6.16, §6.2): emu_start_guest reads both. */
_Static_assert(sizeof(struct sev_cmd_receive_start) == sizeof(struct sev_cmd_launch_start),
	       "RECEIVE_START and LAUNCH_START buffers differ");
_Static_assert(offsetof(struct sev_cmd_receive_start, pdh_cert_address) ==
		       offsetof(struct sev_cmd_launch_start, dh_cert_address) &&
		   offsetof(struct sev_cmd_receive_start, pdh_cert_len) ==
		       offsetof(struct sev_cmd_launch_start, dh_cert_len) &&
		   offsetof(struct sev_cmd_receive_start, session_address) ==
		       offsetof(struct sev_cmd_launch_start, session_address) &&
		   offsetof(struct sev_cmd_receive_start, session_len) ==
		       offsetof(struct sev_cmd_launch_start, session_len),
	       "RECEIVE_START and LAUNCH_START buffers differ");

/* (new) → RUPDATE, platform → WORKING. Failure leaves no context and guest_count unchanged. */
int emu_cmd_receive_start(struct emu_fw *fw, void *buf)
{
	return emu_start_guest(fw, buf, SEV_GSTATE_RUPDATE);
}

/* sev_mcmd_receive_update: handle, RUPDATE, ES for a VMSA, an ASID (pending: ACTIVATE comes
 * right after RECEIVE_START, as KVM does), lengths, alignment, the guest range, the header,
 * compression (UNSUPPORTED), the packet, its MAC. */
static int receive_update(struct emu_fw *fw, struct sev_cmd_transfer *b, bool vmsa)
{
	struct emu_guest *g = emu_guest_find(fw, b->handle);
	struct sev_packet_header hdr;
	uint8_t cipher[SEV_PACKET_MAX_LEN], *plain;
	int st;

	if (!g)
		return SEV_STATUS_INVALID_GUEST;
	if (g->state != SEV_GSTATE_RUPDATE)
		return SEV_STATUS_INVALID_GUEST_STATE;
	if (vmsa && !(g->policy & SEV_POLICY_ES))
		return SEV_STATUS_UNSUPPORTED;
	if (!g->asid || (!g->pending && !g->active))
		return SEV_STATUS_INACTIVE;
	if (b->trans_len == 0 || b->trans_len > SEV_PACKET_MAX_LEN || b->guest_len == 0 ||
	    b->guest_len != b->trans_len || !ALIGNED16(b->guest_len) || b->hdr_len < sizeof(hdr))
		return SEV_STATUS_INVALID_LEN;
	if (!ALIGNED16(b->guest_address))
		return SEV_STATUS_INVALID_ADDRESS;
	st = emu_guest_mem_bind(fw, g, b->guest_address, b->guest_len);
	if (!st)
		st = emu_mem_read(fw->mem, b->hdr_address, &hdr, sizeof(hdr));
	if (st)
		return st;
	if (hdr.flags & 1u)
		return SEV_STATUS_UNSUPPORTED; /* compressed packets: firmware has none */
	st = emu_mem_read(fw->mem, b->trans_address, cipher, b->trans_len);
	if (st)
		return st;
	if (vmsa && b->guest_len != EMU_VMSA_SIZE)
		return SEV_STATUS_INVALID_PARAM; /* sev_es_setup_vmsa takes one page */
	plain = emu_guests_packet(fw);
	if (!plain)
		return SEV_STATUS_HWERROR_PLATFORM;
	st = emu_packet_open(&g->tk, &hdr, cipher, b->trans_len, plain);
	if (!st)
		st = emu_guest_mem_put(fw, g, b->guest_address, plain, b->guest_len);
	OPENSSL_cleanse(plain, SEV_PACKET_MAX_LEN);
	return st;
}

int emu_cmd_receive_update_data(struct emu_fw *fw, void *buf)
{
	return receive_update(fw, buf, false);
}

int emu_cmd_receive_update_vmsa(struct emu_fw *fw, void *buf)
{
	return receive_update(fw, buf, true);
}

/* RUPDATE → RUNNING; a pending activation becomes active; the channel is closed. */
int emu_cmd_receive_finish(struct emu_fw *fw, void *buf)
{
	return emu_finish_guest(fw, buf, SEV_GSTATE_RUPDATE);
}
