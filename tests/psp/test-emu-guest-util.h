/* Shared by the emu guest tests (tests/psp/test-emu-guest*.c): a platform ready for guests,
 * guest memory as a memfd mapped into the emulator, the platform's PDH and PEK, launches, and
 * the CTL guest-memfd read straight from the socket (psp_emu_ctl() does not take descriptors). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/session.h"
#include "attest/sev-cert.h"
#include "tests/psp/test-emu-util.h"

/* Default CPUID of sev-psp-emu (Milan): ASIDs 1..99 SEV-ES, 100..509 SEV. */
#define GT_MAX_ASID 509u
#define GT_MIN_SEV_ASID 100u

/* CHECK_STATUS evaluates its first argument again for the message: issue the command once. */
#define GT_EXPECT(got, want)                                                                       \
	do {                                                                                       \
		int got_ = (got);                                                                  \
		CHECK_STATUS(got_, want);                                                          \
	} while (0)

struct gt_mem {
	int fd;
	uint8_t *ptr; /* the host's view of the memfd */
	size_t size;
	uint64_t base; /* firmware address of byte 0 */
};

/* SHUTDOWN, INIT (with SEV-ES and a TMR when es), CTL wbinvd, DF_FLUSH: every ASID clean. */
void gt_platform_ready(struct psp_transport *t, bool es);
/* A fresh memfd of size bytes (a multiple of 4096), mapped here and in the emulator. */
void gt_mem_new(struct psp_transport *t, size_t size, struct gt_mem *ret);
/* The same, created with MFD_ALLOW_SEALING, as sevd's guest memory: the emulator seals it
 * against shrinking and writes ciphertext straight into it. */
void gt_mem_new_sealable(struct psp_transport *t, size_t size, struct gt_mem *ret);
void gt_mem_free(struct gt_mem *m);
/* The platform's PDH and PEK certificates (PDH_CERT_EXPORT). */
void gt_platform_certs(struct psp_transport *t, struct sev_cert *pdh, struct sev_cert *pek);
/* LAUNCH_START; with a session built for pdh when pdh != NULL (ret_tk gets TEK/TIK then).
 * Returns the firmware status; *ret_handle on success. */
int gt_launch(struct psp_transport *t, uint32_t policy, const struct sev_cert *pdh,
	      struct attest_tk *ret_tk, uint32_t *ret_handle);
struct sev_cmd_guest_status gt_guest_status(struct psp_transport *t, uint32_t handle);
uint32_t gt_guest_count(struct psp_transport *t);
/* CTL guest-memfd HANDLE over a connection of its own: 0 with *ret_fd (and the text reply in
 * text[cap]), or the negative errno the emulator answered (text says why; *ret_fd = -1). */
int gt_ctl_memfd(const char *socket_path, uint32_t handle, int *ret_fd, char *text, size_t cap);
/* The same for the guest's memory region number region (CTL guest-memfd HANDLE N). */
int gt_ctl_memfd_region(const char *socket_path, uint32_t handle, int region, int *ret_fd,
			char *text, size_t cap);
/* Is any 16-byte window of needle[0..len) (at every offset) found in hay? */
bool gt_any_window_in(const uint8_t *hay, size_t hay_len, const uint8_t *needle, size_t len);
