/* The guest side of the emulated SEV firmware (SEV API §6; behaviour checked against AMD's
 * open-source firmware, github.com/amd/AMD-ASPFW sev_uapp/src/sev_mcmd.c, sev_guest.c,
 * sev_es.c). Guest contexts live in the emulator process, so they outlive any client.
 * Shared by guest.c (contexts, GUEST_STATUS, DECOMMISSION, the CTL), guest-mem.c (guest
 * memory: binding, cipher, plaintext view), guest-launch.c (LAUNCH_*) and guest-run.c
 * (ACTIVATE, DEACTIVATE, DBG_*, ATTESTATION); see README-guest.md.
 *
 * Guest memory, two views. The caller's memfd (a region from EMU_MSG_MAP) is what the host
 * sees: after LAUNCH_UPDATE_DATA it holds ciphertext under the guest's memory key (VEK, a
 * random AES-128-XTS key per guest, one data unit per 4 KiB page tweaked with the page's
 * offset in the region). The emulator's own memfd of the same size holds the plaintext at the
 * same offsets: the "CPU side" a VMM runs the guest from (CTL `guest-memfd HANDLE`), filled as
 * guest-mem.c says. */
#pragma once

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "attest/session.h"
#include "psp/emu/firmware.h"

/* Handles 1..EMU_GUEST_MAX, as firmware (AMD-ASPFW sev_plat.h SEV_GUEST_COUNT_MAX). */
#define EMU_GUEST_MAX 1024u
#define EMU_VEK_SIZE 32u	/* AES-128-XTS: two AES-128 keys */
#define EMU_VEK_UNIT 4096u	/* XTS data unit: one page of guest memory */
#define EMU_VMSA_SIZE 4096u	/* LAUNCH_UPDATE_VMSA takes exactly one page (VMSA_SIZE) */
#define EMU_GUEST_CHUNK 0x5000u /* work buffer, as firmware's scratch (SEV_SCRATCH_BUF_LEN) */

/* One host region (EMU_MSG_MAP) a guest's memory lies in, and its plaintext view: a memfd of
 * the region's size, the plaintext at the same offsets. */
struct emu_guest_region {
	uint64_t base, size;
	int view_fd;
	uint8_t *view;
	uint8_t *page; /* per page of the region: where its plaintext is (guest-mem.c) */
};

struct emu_guest {
	uint32_t handle;
	uint32_t policy;
	int state; /* enum sev_guest_state */
	/* Activation (sev_guest_activate): pending until LAUNCH_FINISH, then active. */
	uint32_t asid; /* 0 = none */
	uint32_t ccxs; /* the CCXs it is activated on (ACTIVATE: all; ACTIVATE_EX: chosen) */
	bool pending, active;
	struct attest_tk tk;	   /* TEK/TIK; wiped at LAUNCH_FINISH (sev_channel_close) */
	uint8_t vek[EMU_VEK_SIZE]; /* memory key; wiped at DECOMMISSION */
	EVP_MD_CTX *ld;		   /* running launch digest (SHA-256) */
	bool ld_finalized;	   /* a LAUNCH_MEASURE consumed ld (guest-launch.c) */
	/* SEV-ES: the ES pool blocks of its VMSAs (sev_es_setup_vmsa's per-guest list), in
	 * order; malloc'ed, given back to the pool at DECOMMISSION. */
	uint32_t *vmsa_blocks;
	uint32_t n_vmsa, cap_vmsa;
	uint8_t launch_digest[32]; /* final digest, from LAUNCH_MEASURE */
	uint8_t measure[32];	   /* measurement, for LAUNCH_SECRET's MAC */
	/* Its guest memory: every region a command touched, in that order, each with its
	 * plaintext view (guest-mem.c: which pages it holds, and when). */
	struct emu_guest_region *reg;
	uint32_t n_reg;
	bool cpu_side; /* the views were handed out: they hold every page and are authoritative */
};

struct emu_guests {
	struct emu_guest *slot[EMU_GUEST_MAX]; /* slot[h - 1] */
	int reply_fd; /* a descriptor the current CTL reply carries, or -1 */
	/* One packet's plaintext (SEV_PACKET_MAX_LEN) for SEND_UPDATE_* and RECEIVE_UPDATE_*:
	 * secret_alloc'ed once (locked, never dumped) instead of per packet, which cost an
	 * mmap, mlock, munlock and munmap for every 4 KiB; wiped after each packet. */
	uint8_t *packet;
};

/* The guest state of fw, created on first use (also sets fw->guests_shutdown). NULL only
 * when out of memory. */
struct emu_guests *emu_guests_get(struct emu_fw *fw);
/* The packet plaintext buffer above (created on first use); NULL when out of memory. The
 * caller wipes what it wrote (OPENSSL_cleanse) before it returns: commands run one at a time. */
uint8_t *emu_guests_packet(struct emu_fw *fw);
/* The context of a live handle, or NULL (the caller answers INVALID_GUEST). */
struct emu_guest *emu_guest_find(struct emu_fw *fw, uint32_t handle);
/* A new context in the lowest free slot (RESOURCE_LIMIT when none, HWERROR_PLATFORM on
 * allocation failure), not yet counted in guest_count. */
int emu_guest_alloc(struct emu_fw *fw, struct emu_guest **ret);
/* Wipe and free a context and its slot. */
void emu_guest_free(struct emu_fw *fw, struct emu_guest *g);
/* Drop every context and the guest state itself (SHUTDOWN, and when the firmware is freed). */
void emu_guests_shutdown(struct emu_fw *fw);

/* Guest memory: [addr, addr + len) must lie in one mapped region (INVALID_ADDRESS); the
 * guest is bound to it (a view made) on its first use. A guest may span any number of
 * regions, as a KVM guest spans pages all over physical memory. */
int emu_guest_mem_bind(struct emu_fw *fw, struct emu_guest *g, uint64_t addr, uint64_t len);
/* Place plaintext at guest address addr (already bound): into the plaintext view, and as
 * ciphertext under the VEK into the host-visible region (only the blocks written). */
int emu_guest_mem_put(struct emu_fw *fw, struct emu_guest *g, uint64_t addr, const uint8_t *plain,
		      size_t len);
/* LAUNCH_UPDATE_DATA/VMSA's data path (addr already bound): copy the host's plaintext at addr
 * into the plaintext view, hash it into md, and write it back encrypted under the VEK. */
int emu_guest_mem_launch(struct emu_fw *fw, struct emu_guest *g, uint64_t addr, size_t len,
			 EVP_MD_CTX *md);
/* The guest memory cipher: AES-128-XTS under vek, one data unit per EMU_VEK_UNIT-byte page of
 * the region with the page's offset in the region (little-endian, first 8 tweak bytes) as the
 * tweak, so every 16-byte block has its own tweak (guest.c says why sub-page ranges work).
 * emu_vek_ctx_new keys a context once (NULL on failure); emu_vek_ctx_crypt then encrypts or
 * decrypts len bytes at region offset off (both multiples of 16, else -EINVAL) from in to out
 * (may be the same buffer): 0, or -EIO. emu_vek_crypt does both in one call (-ENOMEM when no
 * context can be made). */
EVP_CIPHER_CTX *emu_vek_ctx_new(const uint8_t vek[EMU_VEK_SIZE], bool encrypt);
int emu_vek_ctx_crypt(EVP_CIPHER_CTX *c, uint64_t off, const uint8_t *in, uint8_t *out, size_t len);
int emu_vek_crypt(const uint8_t vek[EMU_VEK_SIZE], uint64_t off, const uint8_t *in, uint8_t *out,
		  size_t len, bool encrypt);
/* Read the guest's plaintext at addr (already bound): from the plaintext view, after
 * decrypting into it the pages that are only in the host's ciphertext. */
int emu_guest_mem_get(struct emu_fw *fw, struct emu_guest *g, uint64_t addr, uint8_t *ret,
		      size_t len);
/* Make the plaintext view whole (every launched page decrypted into it) and authoritative from
 * now on: before it goes to a VMM (CTL guest-memfd). A firmware status. */
int emu_guest_mem_cpu_side(struct emu_fw *fw, struct emu_guest *g);
/* The region guest memory at addr lies in, or NULL. */
struct emu_guest_region *emu_guest_region_of(struct emu_fw *fw, struct emu_guest *g,
					     uint64_t addr);
/* Wipe the views where they hold data, unmap and close them (emu_guest_free). */
void emu_guest_mem_release(struct emu_guest *g);

extern const struct emu_cmd_row emu_guest_cmds[];
extern const size_t emu_guest_cmds_n;
/* What LAUNCH_START and RECEIVE_START share (SEV API §6.2, §6.16: one layout): the guest
 * whose key to share (0 = a fresh key), the policy, the other end's DH certificate (GODH or
 * source PDH) and the session blob. The checks both make, in firmware order (guest-launch.c). */
struct emu_start {
	uint32_t handle;
	uint32_t policy;
	uint64_t cert_address;
	uint32_t cert_len;
	uint64_t session_address;
	uint32_t session_len;
};
int emu_start_session(struct emu_fw *fw, const struct emu_start *s, struct attest_tk *ret_tk);
int emu_start_vek(struct emu_fw *fw, const struct emu_start *s, uint8_t vek[EMU_VEK_SIZE]);
/* The start both make, from the buffer of either (one layout: struct sev_cmd_launch_start): the
 * channel's TEK/TIK (for a launch without a GODH certificate, firmware's own random ones), the
 * VEK, a guest context in state (LUPDATE for LAUNCH_START, RUPDATE for RECEIVE_START), the
 * platform WORKING, the buffer's handle the new guest's. A status; failure leaves no context
 * and guest_count unchanged. */
int emu_start_guest(struct emu_fw *fw, void *buf, int state);
/* What LAUNCH_FINISH and RECEIVE_FINISH share (a struct sev_cmd_handle buffer): the guest in
 * state from (LSECRET, RUPDATE) → RUNNING, a pending activation made active, the transport
 * keys wiped (sev_channel_close). A status. */
int emu_finish_guest(struct emu_fw *fw, void *buf, int from);

/* Handlers in guest-launch.c and guest-run.c. */
int emu_cmd_launch_start(struct emu_fw *fw, void *buf);
int emu_cmd_launch_update_data(struct emu_fw *fw, void *buf);
int emu_cmd_launch_update_vmsa(struct emu_fw *fw, void *buf);
int emu_cmd_launch_update_vmsa_len(struct emu_fw *fw, void *buf); /* its row's `pre` */
int emu_cmd_launch_measure(struct emu_fw *fw, void *buf);
int emu_cmd_launch_secret(struct emu_fw *fw, void *buf);
int emu_cmd_launch_finish(struct emu_fw *fw, void *buf);
int emu_cmd_activate(struct emu_fw *fw, void *buf);
int emu_cmd_activate_ex(struct emu_fw *fw, void *buf);
int emu_cmd_copy(struct emu_fw *fw, void *buf);
int emu_cmd_deactivate(struct emu_fw *fw, void *buf);
int emu_cmd_dbg_decrypt(struct emu_fw *fw, void *buf);
int emu_cmd_dbg_encrypt(struct emu_fw *fw, void *buf);
int emu_cmd_attestation(struct emu_fw *fw, void *buf);
/* Migration, guest-send.c (SEND_*) and guest-receive.c (RECEIVE_*). */
int emu_cmd_send_start(struct emu_fw *fw, void *buf);
int emu_cmd_send_update_data(struct emu_fw *fw, void *buf);
int emu_cmd_send_update_vmsa(struct emu_fw *fw, void *buf);
int emu_cmd_send_finish(struct emu_fw *fw, void *buf);
int emu_cmd_send_cancel(struct emu_fw *fw, void *buf);
int emu_cmd_receive_start(struct emu_fw *fw, void *buf);
int emu_cmd_receive_update_data(struct emu_fw *fw, void *buf);
int emu_cmd_receive_update_vmsa(struct emu_fw *fw, void *buf);
int emu_cmd_receive_finish(struct emu_fw *fw, void *buf);
/* A transport packet (psp/sev-abi.h, struct sev_cmd_transfer): seal len bytes of plaintext
 * under tk with a fresh IV into out and *hdr; open checks the MAC in constant time first
 * (BAD_MEASUREMENT, out untouched), then decrypts. Firmware statuses. */
int emu_packet_seal(const struct attest_tk *tk, const uint8_t *plain, size_t len, uint8_t *out,
		    struct sev_packet_header *hdr);
int emu_packet_open(const struct attest_tk *tk, const struct sev_packet_header *hdr,
		    const uint8_t *cipher, size_t len, uint8_t *out);

/* CTL `guest-memfd HANDLE` (a ctl.c table row): for a RUNNING, active guest, answers
 * "handle=H asid=A base=0x... size=N" and leaves a duplicate of the plaintext-view memfd for
 * the reply (emu_guest_take_reply_fd). */
int emu_guest_ctl_memfd(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len);
/* The descriptor the reply just built must carry (the caller sends and closes it), or -1. */
int emu_guest_take_reply_fd(struct emu_fw *fw);
