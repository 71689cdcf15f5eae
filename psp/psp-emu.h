/* Extras of the emu transport beyond transport.h: the emulator's control channel and its
 * self-description. Only for transports opened as "emu:..." (-EOPNOTSUPP otherwise).
 * The emu transport waits SEV_PSP_EMU_TIMEOUT_MS (environment; default 30000) for each
 * reply; after a timeout or a lost connection it is dead and every later call fails with the
 * same error (-ETIMEDOUT / -ECONNRESET): reconnecting is the caller's business. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "psp/emu-wire.h"
#include "psp/transport.h"

/* Send one control line (psp/emu/README.md lists them: "wbinvd", "get-cert cek", ...).
 * *ret_reply (malloc'd, NUL-terminated beyond *ret_len) holds the emulator's answer: text, or
 * a certificate for get-cert. Returns 0, the emulator's negative errno (the reply then says
 * why), or a transport error. ret_reply/ret_len may be NULL. */
int psp_emu_ctl(struct psp_transport *t, const char *line, uint8_t **ret_reply, size_t *ret_len);
/* EMU_MSG_INFO, fresh from the emulator (commands served, max_concurrent_seen, ...). */
int psp_emu_info(struct psp_transport *t, struct emu_info *ret);
/* Once SNP is initialized, firmware writes only into Firmware pages (SNP ABI 56860; AMD-ASPFW
 * check_page_range_firmware_writable). Linux bounces command buffers through pages it marks
 * so (sev-dev.c snp_map_cmd_buf_desc, rmp_mark_pages_firmware); this transport keeps its
 * whole DMA pool in that state instead: RMPUPDATE assigned, immutable, in 2 MiB entries. */
int psp_emu_dma_to_firmware(struct psp_transport *t);
/* psp_map_memfd() for memory of this connection's own (EMU_MAP_F_CONNECTION): the emulator
 * unmaps the region when the connection closes, as it does the DMA pool, so pages a killed
 * client kept there (request pages given to firmware) do not outlive it. -EOPNOTSUPP on
 * another transport. */
int psp_emu_map_private(struct psp_transport *t, int memfd, uint64_t size, uint64_t *ret_base);
