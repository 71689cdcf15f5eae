/* A user-space model of what Linux's ccp driver does for /dev/sev (drivers/crypto/ccp/sev-dev.c,
 * sev_ioctl() and the sev_ioctl_do_*() helpers), with the PSP behind it reached through a
 * psp_transport (in libsev-dev-emu.so: the emu transport to a running sev-psp-emu).
 *
 * Modelled: sev-dev.c as in linux-next 281a569adbea, the behaviour since ceac7fb89e8d ("crypto:
 * ccp - Ensure implicit SEV/SNP init and shutdown in ioctls", Linux 6.15): a command that needs
 * the platform INIT and finds it UNINIT gets INIT (with the SEV-ES TMR) + WBINVD + DF_FLUSH
 * first and SHUTDOWN after, so user space sees the same platform state before and after the
 * ioctl; a failed implicit INIT answers INVALID_PLATFORM_STATE in `error`. FACTORY_RESET
 * refuses a WORKING platform (EBUSY) and SHUTs DOWN an INIT one first. The state those checks
 * read is the driver's cached copy (sev->sev_plat_status.state: read at probe, then changed
 * only by the driver's own INIT and SHUTDOWN), as in the kernel. One sde_kernel is one
 * "kernel": each process preloading the library has its own, probed at its first open.
 * One deliberate difference: where the kernel copies the firmware's answered length back
 * into the caller's buffer (PEK_CSR, PDH_CERT_EXPORT, GET_ID2 after INVALID_LEN with a
 * too-small, non-zero buffer), this model copies at most the caller's own length, so a
 * length query never writes past the program's buffer.
 * SNP: on an emulator without --snp the host is one without CC_ATTR_HOST_SEV_SNP: the SNP
 * ioctls check their arguments as the kernel does, then answer ENODEV with
 * INVALID_PLATFORM_STATE (snp_move_to_init_state() on such a host). With --snp they are
 * served as sev_ioctl_do_snp_platform_status/_commit/_set_config/_vlek_load do: SNP brought
 * up implicitly when the driver has not (__sev_snp_init_locked: WBINVD, SNP_INIT_EX with
 * INIT_RMP, WBINVD, SNP_DF_FLUSH) and shut down after (__sev_snp_shutdown_locked: WBINVD,
 * SNP_DF_FLUSH, SNP_SHUTDOWN_EX with IOMMU_SNP_SHUTDOWN); the status page made a Firmware
 * page (rmp_mark_pages_firmware) and reclaimed after (snp_reclaim_pages: SNP_PAGE_RECLAIM,
 * then RMPUPDATE back to the hypervisor). The legacy implicit INIT does not bring SNP up
 * first (the kernel's _sev_platform_init_locked does): SEV commands here never run with
 * SNP initialized by this model.
 * User memory: copied with process_vm_readv/writev on this process, so a bad user pointer
 * answers EFAULT as copy_from_user() does instead of crashing.
 * Trusts: the transport for statuses; nothing of the caller's struct or pointers. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "psp/transport.h"

/* Linux uapi (include/uapi/linux/psp-sev.h): the ioctl and its sub-commands. The installed
 * 6.1 header lacks the SNP ones, so they are spelt out here. */
#define SDE_SEV_ISSUE_CMD 0xC0105300ul /* _IOWR('S', 0x0, struct sev_issue_cmd) */
enum {
	SDE_FACTORY_RESET = 0,
	SDE_PLATFORM_STATUS = 1,
	SDE_PEK_GEN = 2,
	SDE_PEK_CSR = 3,
	SDE_PDH_GEN = 4,
	SDE_PDH_CERT_EXPORT = 5,
	SDE_PEK_CERT_IMPORT = 6,
	SDE_GET_ID = 7,
	SDE_GET_ID2 = 8,
	SDE_SNP_PLATFORM_STATUS = 9,
	SDE_SNP_COMMIT = 10,
	SDE_SNP_SET_CONFIG = 11,
	SDE_SNP_VLEK_LOAD = 12,
	SDE_SEV_MAX = 13,
};

/* Linux-internal ENOTSUPP (include/linux/errno.h), which GET_ID/GET_ID2 return before API
 * 0.16. */
#define SDE_ENOTSUPP 524

struct sde_kernel {
	pthread_mutex_t lock;	/* sev_cmd_mutex */
	struct psp_transport *t;
	bool dead;		/* psp_dead: a command timed out / the PSP went away */
	int state;		/* sev->sev_plat_status.state */
	uint8_t api_major, api_minor, build;
	bool snp;		/* CC_ATTR_HOST_SEV_SNP: CPUID 8000_001F EAX bit 4 */
	bool snp_initialized;	/* sev->snp_initialized */
	struct psp_buf tmr;	/* sev_es_tmr (allocated at INIT, freed at SHUTDOWN) */
	uint64_t tmr_addr;	/* its 1 MiB-aligned 1 MiB inside tmr */
};

/* Take over t (closed by sde_kernel_free) and probe: PLATFORM_STATUS into the cache, as
 * sev_pci_init() -> sev_get_api_version(). Returns 0 or a negative errno. */
int sde_kernel_new(struct psp_transport *t, struct sde_kernel **ret);
void sde_kernel_free(struct sde_kernel *k);

/* ioctl(fd, request, argp) on /dev/sev: 0 or a negative errno, as sev_ioctl() returns it.
 * `writable` is the descriptor's FMODE_WRITE (opened O_WRONLY or O_RDWR). */
int sde_ioctl(struct sde_kernel *k, bool writable, unsigned long request, void *argp);
