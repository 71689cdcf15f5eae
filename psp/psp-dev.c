/* The "dev" transport: firmware commands through Linux's /dev/sev (ioctl SEV_ISSUE_CMD).
 * Linux lets user space send only a few platform commands, each through its own
 * sub-command with its own user struct (include/uapi/linux/psp-sev.h), and sends the
 * firmware command itself (drivers/crypto/ccp/sev-dev.c, sev_ioctl()). This file marshals
 * our firmware-ABI command buffers (sev-abi.h, with reserved fields) into those user structs
 * (without them) and back, and reports both channels: the ioctl's errno and the firmware
 * status the kernel puts in `error`.
 * Everything else (INIT, SHUTDOWN, DF_FLUSH, every guest command) only KVM can send on a
 * stock kernel (SEV-FACTS §2): answered -EOPNOTSUPP without touching the device.
 * The kernel also adds platform transitions of its own (sev-dev.c): PEK_GEN, PDH_GEN,
 * PEK_CSR, PEK_CERT_IMPORT and PDH_CERT_EXPORT first INIT an UNINIT platform (and since
 * Linux 6.15 SHUT it DOWN again after), and FACTORY_RESET first SHUTs DOWN an INIT one and
 * refuses (-EBUSY) a WORKING one, so the firmware states seen through dev are the kernel's,
 * not only the commands sent here. psp/sev-dev-emu/ models that kernel over the emulator
 * (libsev-dev-emu.so), which is how the tests run this file against real firmware logic.
 * Trusts: the kernel. Blob addresses are user virtual addresses from dev_dma_alloc(); the
 * kernel copies them to and from its own bounce buffers. */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/psp-sev.h>

#include "common/log.h"
#include "common/macros.h"
#include "psp/psp-internal.h"
#include "psp/sev-abi.h"

/* Linux-internal ENOTSUPP (include/linux/errno.h), which GET_ID2 leaks to user space when
 * the firmware is older than API 0.16. */
#define LINUX_ENOTSUPP 524

/* The SNP sub-commands and user structs of upstream include/uapi/linux/psp-sev.h (Linux
 * 6.11+: SNP_PLATFORM_STATUS = 9, SNP_COMMIT, SNP_SET_CONFIG, SNP_VLEK_LOAD = 12); the
 * installed 6.1 header lacks them, so they are spelt out here, field for field (the uapi's
 * bit-fields as the flag words they pack into, little-endian), sizes pinned below. */
enum { DEV_SNP_PLATFORM_STATUS = 9, DEV_SNP_COMMIT, DEV_SNP_SET_CONFIG, DEV_SNP_VLEK_LOAD };

struct dev_snp_status { /* struct sev_user_data_snp_status */
	uint8_t api_major, api_minor, state;
	uint8_t is_rmp_initialized; /* :1, rsvd:7 */
	uint32_t build_id;
	uint32_t flags; /* mask_chip_id:1, mask_chip_key:1, vlek_en:1, feature_info:1, ... */
	uint32_t guest_count;
	uint64_t current_tcb_version;
	uint64_t reported_tcb_version;
} __attribute__((packed));

struct dev_snp_config { /* struct sev_user_data_snp_config */
	uint64_t reported_tcb;
	uint32_t flags; /* mask_chip_id:1, mask_chip_key:1, rsvd:30 */
	uint8_t rsvd1[52];
} __attribute__((packed));

struct dev_snp_vlek_load { /* struct sev_user_data_snp_vlek_load */
	uint32_t len;
	uint8_t vlek_wrapped_version;
	uint8_t rsvd[3];
	uint64_t vlek_wrapped_address; /* struct sev_user_data_snp_wrapped_vlek_hashstick */
} __attribute__((packed));

_Static_assert(sizeof(struct dev_snp_status) == 32, "Linux SNP_PLATFORM_STATUS struct");
_Static_assert(sizeof(struct dev_snp_status) == sizeof(struct sev_snp_platform_status),
	       "the firmware writes the uapi struct as it is");
_Static_assert(sizeof(struct dev_snp_config) == 64, "Linux SNP_SET_CONFIG struct");
_Static_assert(sizeof(struct dev_snp_vlek_load) == 16, "Linux SNP_VLEK_LOAD struct");
_Static_assert(sizeof(struct sev_snp_vlek_wrapped) == 432,
	       "Linux sev_user_data_snp_wrapped_vlek_hashstick");

struct dev_state {
	int fd;
	int read_only; /* write access was denied: only PLATFORM_STATUS/GET_ID/... work */
};

/* One row per firmware command Linux exposes: its sub-command and the marshalling between
 * the firmware buffer and the Linux user struct (same field order, minus reserved fields). */
struct dev_cmd {
	uint32_t fw_cmd;
	uint32_t sub;
	size_t user_size;
	void (*to_user)(const void *fw, void *user);
	void (*from_user)(const void *user, void *fw);
	/* SNP_PLATFORM_STATUS: `data` is the status buffer itself, whose address the firmware
	 * buffer holds (the kernel bounces it through a Firmware page of its own). */
	bool data_is_address;
};

static void snp_config_to_user(const void *fw, void *user)
{
	const struct sev_snp_cmd_config *f = fw;
	struct dev_snp_config *u = user;

	u->reported_tcb = f->reported_tcb;
	u->flags = f->flags;
}

static void snp_vlek_to_user(const void *fw, void *user)
{
	const struct sev_snp_cmd_vlek_load *f = fw;
	struct dev_snp_vlek_load *u = user;

	u->len = sizeof(*u);
	u->vlek_wrapped_version = f->vlek_wrapped_version;
	u->vlek_wrapped_address = f->vlek_wrapped_address;
}

static void status_from_user(const void *user, void *fw)
{
	const struct sev_user_data_status *u = user;
	struct sev_cmd_platform_status *f = fw;

	f->api_major = u->api_major;
	f->api_minor = u->api_minor;
	f->state = u->state;
	f->flags = u->flags;
	f->build = u->build;
	f->guest_count = u->guest_count;
}

static void csr_to_user(const void *fw, void *user)
{
	const struct sev_cmd_pek_csr *f = fw;
	struct sev_user_data_pek_csr *u = user;

	u->address = f->address;
	u->length = f->len;
}

static void csr_from_user(const void *user, void *fw)
{
	((struct sev_cmd_pek_csr *)fw)->len = ((const struct sev_user_data_pek_csr *)user)->length;
}

static void import_to_user(const void *fw, void *user)
{
	const struct sev_cmd_pek_cert_import *f = fw;
	struct sev_user_data_pek_cert_import *u = user;

	u->pek_cert_address = f->pek_cert_address;
	u->pek_cert_len = f->pek_cert_len;
	u->oca_cert_address = f->oca_cert_address;
	u->oca_cert_len = f->oca_cert_len;
}

static void export_to_user(const void *fw, void *user)
{
	const struct sev_cmd_pdh_cert_export *f = fw;
	struct sev_user_data_pdh_cert_export *u = user;

	u->pdh_cert_address = f->pdh_cert_address;
	u->pdh_cert_len = f->pdh_cert_len;
	u->cert_chain_address = f->cert_chain_address;
	u->cert_chain_len = f->cert_chain_len;
}

/* Linux copies both lengths back, on success and on INVALID_LEN (the length query). */
static void export_from_user(const void *user, void *fw)
{
	const struct sev_user_data_pdh_cert_export *u = user;
	struct sev_cmd_pdh_cert_export *f = fw;

	f->pdh_cert_len = u->pdh_cert_len;
	f->cert_chain_len = u->cert_chain_len;
}

static void id_to_user(const void *fw, void *user)
{
	const struct sev_cmd_get_id *f = fw;
	struct sev_user_data_get_id2 *u = user;

	u->address = f->address;
	u->length = f->len;
}

static void id_from_user(const void *user, void *fw)
{
	((struct sev_cmd_get_id *)fw)->len = ((const struct sev_user_data_get_id2 *)user)->length;
}

static const struct dev_cmd dev_cmds[] = {
	{ SEV_CMD_FACTORY_RESET, SEV_FACTORY_RESET, 0, NULL, NULL },
	{ SEV_CMD_PLATFORM_STATUS, SEV_PLATFORM_STATUS, sizeof(struct sev_user_data_status), NULL,
	  status_from_user },
	{ SEV_CMD_PEK_GEN, SEV_PEK_GEN, 0, NULL, NULL },
	{ SEV_CMD_PEK_CSR, SEV_PEK_CSR, sizeof(struct sev_user_data_pek_csr), csr_to_user,
	  csr_from_user },
	{ SEV_CMD_PDH_GEN, SEV_PDH_GEN, 0, NULL, NULL },
	{ SEV_CMD_PDH_CERT_EXPORT, SEV_PDH_CERT_EXPORT, sizeof(struct sev_user_data_pdh_cert_export),
	  export_to_user, export_from_user },
	{ SEV_CMD_PEK_CERT_IMPORT, SEV_PEK_CERT_IMPORT,
	  sizeof(struct sev_user_data_pek_cert_import), import_to_user, NULL },
	/* Firmware GET_ID through GET_ID2, which takes an address and length (GET_ID, sub 7,
	 * is deprecated and fixed at 2 x 64 bytes). */
	{ SEV_CMD_GET_ID, SEV_GET_ID2, sizeof(struct sev_user_data_get_id2), id_to_user,
	  id_from_user },
	{ SEV_CMD_SNP_PLATFORM_STATUS, DEV_SNP_PLATFORM_STATUS, 0, NULL, NULL, true },
	{ SEV_CMD_SNP_COMMIT, DEV_SNP_COMMIT, 0, NULL, NULL },
	{ SEV_CMD_SNP_CONFIG, DEV_SNP_SET_CONFIG, sizeof(struct dev_snp_config),
	  snp_config_to_user, NULL },
	{ SEV_CMD_SNP_VLEK_LOAD, DEV_SNP_VLEK_LOAD, sizeof(struct dev_snp_vlek_load),
	  snp_vlek_to_user, NULL },
};

/* The user structs must be what the kernel copies: pinned here, as the kernel's uapi. */
_Static_assert(sizeof(struct sev_user_data_status) == 12, "Linux PLATFORM_STATUS struct");
_Static_assert(sizeof(struct sev_user_data_pek_csr) == 12, "Linux PEK_CSR struct");
_Static_assert(sizeof(struct sev_user_data_pek_cert_import) == 24, "Linux PEK_CERT_IMPORT");
_Static_assert(sizeof(struct sev_user_data_pdh_cert_export) == 24, "Linux PDH_CERT_EXPORT");
_Static_assert(sizeof(struct sev_user_data_get_id2) == 12, "Linux GET_ID2 struct");
_Static_assert(sizeof(struct sev_issue_cmd) == 16, "Linux sev_issue_cmd");

static const struct dev_cmd *dev_cmd_find(uint32_t fw_cmd)
{
	for (size_t i = 0; i < ELEMENTSOF(dev_cmds); i++)
		if (dev_cmds[i].fw_cmd == fw_cmd)
			return &dev_cmds[i];
	return NULL;
}

/* Turn the ioctl's two channels into ours. Firmware statuses are 16 bits (the mailbox's
 * CMDRESP[15:0]); the kernel writes `error` only when firmware answered, so the sentinel
 * NO_FW_CALL we put there tells "not reached" from "answered". */
static int dev_result(const struct dev_state *s, uint32_t cmd, int rc, int err, uint32_t error,
		      int *status)
{
	int fw = error == (uint32_t)SEV_STATUS_NO_FW_CALL ? SEV_STATUS_NO_FW_CALL : (int)error;

	log_debug("psp-dev: %s: ioctl %s, firmware status %s", sev_cmd_name(cmd),
		  rc == 0 ? "ok" : strerror(err), sev_status_name(fw));
	if (rc == 0) {
		*status = SEV_STATUS_SUCCESS;
		return 0;
	}
	if (err == EIO && fw != SEV_STATUS_NO_FW_CALL && fw != SEV_STATUS_SUCCESS) {
		*status = fw;
		return 0;
	}
	if (err == LINUX_ENOTSUPP)
		return -EOPNOTSUPP; /* GET_ID before API 0.16 */
	if (err == EPERM && s->read_only)
		log_debug("psp-dev: %s needs /dev/sev opened for writing", sev_cmd_name(cmd));
	return err > 0 ? -err : -EIO;
}

static int dev_issue(struct psp_transport *t, uint32_t cmd, void *buf, size_t len, int *status)
{
	const struct dev_state *s = t->priv;
	const struct dev_cmd *c = dev_cmd_find(cmd);
	uint8_t user[64] = { 0 };
	struct sev_issue_cmd io = { 0 };
	int rc, err;

	if (!c) {
		log_debug("psp-dev: %s cannot be sent through /dev/sev: on a stock kernel only KVM "
			  "sends it (KVM_MEMORY_ENCRYPT_OP); use the emu transport",
			  sev_cmd_name(cmd));
		return -EOPNOTSUPP;
	}
	if (c->to_user)
		c->to_user(buf, user);
	io.cmd = c->sub;
	io.data = c->user_size ? (uint64_t)(uintptr_t)user : 0;
	if (c->data_is_address)
		io.data = ((const struct sev_snp_cmd_addr *)buf)->address;
	io.error = (uint32_t)SEV_STATUS_NO_FW_CALL;

	rc = ioctl(s->fd, SEV_ISSUE_CMD, &io);
	err = rc < 0 ? errno : 0;
	/* Copy out on failure too: the length query's answer comes back with -EIO. */
	if (c->from_user && (rc == 0 || err == EIO))
		c->from_user(user, buf);
	return dev_result(s, cmd, rc, err, io.error, status);
}

/* Blobs are plain user memory: the kernel copy_from/to_user()s them into bounce buffers. */
static int dev_dma_alloc(struct psp_transport *t, size_t size, struct psp_buf *ret)
{
	size_t rounded = (size + SEV_PAGE_SIZE - 1) & ~(size_t)(SEV_PAGE_SIZE - 1);
	void *p = aligned_alloc(SEV_PAGE_SIZE, rounded);

	if (!p)
		return -ENOMEM;
	memset(p, 0, rounded);
	*ret = (struct psp_buf){ .ptr = p, .addr = (uint64_t)(uintptr_t)p, .size = size };
	return 0;
}

static void dev_dma_free(struct psp_transport *t, struct psp_buf *b)
{
	explicit_bzero(b->ptr, b->size);
	free(b->ptr);
}

static int dev_map_memfd(struct psp_transport *t, int memfd, uint64_t size, uint64_t *ret_base)
{
	return -EOPNOTSUPP; /* guest memory is KVM's to pin and hand to firmware */
}

static int dev_unmap_memfd(struct psp_transport *t, uint64_t base)
{
	return -EOPNOTSUPP;
}

/* The host CPU's own leaf (the PSP and the CPU are one package): read through the kernel's
 * cpuid driver (arch/x86/kernel/cpuid.c: pread at offset = leaf runs CPUID on that CPU, so
 * the same answer) where this process may open it, else by the instruction. The driver's
 * file is also where a user-space stand-in for the host (libsev-dev-emu.so) answers with the
 * emulator's leaves, which the instruction cannot be made to give. */
int psp_host_cpuid(uint32_t leaf, uint32_t regs[4])
{
	int fd = open("/dev/cpu/0/cpuid", O_RDONLY | O_CLOEXEC);
	unsigned a, b, c, d;
	ssize_t n = -1;

	if (fd >= 0) {
		n = pread(fd, regs, 4 * sizeof(uint32_t), leaf);
		close(fd);
	}
	if (n == (ssize_t)(4 * sizeof(uint32_t)))
		return 0;
	if (!__get_cpuid(leaf, &a, &b, &c, &d))
		return -ENODEV; /* a leaf above the CPU's highest */
	regs[0] = a, regs[1] = b, regs[2] = c, regs[3] = d;
	return 0;
}

static int dev_get_cpuid(struct psp_transport *t, struct psp_cpuid *ret)
{
	uint32_t r[4];

	if (psp_host_cpuid(0x8000001F, r) < 0)
		return -ENODEV; /* no leaf 8000_001F: not an AMD CPU with memory encryption */
	*ret = (struct psp_cpuid){ .eax = r[0], .ebx = r[1], .ecx = r[2], .edx = r[3] };
	return 0;
}

static void dev_close(struct psp_transport *t)
{
	struct dev_state *s = t->priv;

	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	t->priv = NULL;
}

static const struct psp_transport_ops dev_ops = {
	.kind = "dev",
	.issue = dev_issue,
	.dma_alloc = dev_dma_alloc,
	.dma_free = dev_dma_free,
	.map_memfd = dev_map_memfd,
	.unmap_memfd = dev_unmap_memfd,
	.get_cpuid = dev_get_cpuid,
	.close = dev_close,
};

/* Open read-write; when write is denied fall back to read-only, which Linux allows for
 * PLATFORM_STATUS, GET_ID2 and (once INIT) PDH_CERT_EXPORT. The caller's error text for
 * -EACCES (psp_strerror) says how to get access: the group owning the device / a udev rule. */
int psp_dev_open(const char *device_path, struct psp_transport *t)
{
	_cleanup_free_ struct dev_state *s = calloc(1, sizeof(*s));
	int fd;

	if (!s)
		return -ENOMEM;
	fd = open(device_path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS)) {
		fd = open(device_path, O_RDONLY | O_CLOEXEC);
		s->read_only = fd >= 0;
	}
	if (fd < 0)
		return log_debug_errno(errno, "psp-dev: cannot open %s: %m", device_path);
	if (s->read_only)
		log_debug("psp-dev: %s opened read-only (write access denied)", device_path);
	s->fd = fd;
	t->ops = &dev_ops;
	t->priv = TAKE_PTR(s);
	return 0;
}
