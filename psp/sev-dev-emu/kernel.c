/* The /dev/sev driver model (kernel.h): sev_ioctl() and its helpers from Linux's
 * drivers/crypto/ccp/sev-dev.c, in the same order of checks, over a psp_transport.
 * Each helper below names the kernel function it follows; the kernel's kzalloc'd bounce
 * buffers are DMA buffers of the transport, and __psp_pa() is their firmware address. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/psp-sev.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/psp-emu.h"
#include "psp/sev-abi.h"
#include "psp/sev-dev-emu/kernel.h"

#define TMR_SIZE (1u << 20)	   /* SEV_TMR_SIZE: 1 MiB, 1 MiB aligned (sev_fw_alloc's order) */
#define ID_BLOB_MAX (4u << 20)	   /* kzalloc's limit, 1 << (PAGE_SHIFT + MAX_PAGE_ORDER) */
#define GET_ID_USER_SIZE 128u	   /* struct sev_user_data_get_id: two sockets' 64-byte IDs */
#define SNP_CONFIG_USER_SIZE 64u   /* struct sev_user_data_snp_config */
#define SNP_VLEK_LOAD_USER_SIZE 16u /* struct sev_user_data_snp_vlek_load */
#define SNP_HASHSTICK_SIZE 432u	   /* struct sev_user_data_snp_wrapped_vlek_hashstick */

_Static_assert(sizeof(struct sev_issue_cmd) == 16, "Linux sev_issue_cmd");

/* struct sev_issue_cmd (packed: cmd u32 @0, data u64 @4, error u32 @12) as the helpers use it. */
struct issue {
	uint32_t cmd;
	uint64_t data;
	uint32_t error;
};
_Static_assert(sizeof(struct sev_user_data_status) == sizeof(struct sev_cmd_platform_status),
	       "PLATFORM_STATUS: Linux hands the user struct to firmware as is");

/* ---- user memory (copy_from_user / copy_to_user) ---- */

#ifdef SDE_FUZZ
/* The fuzz target (tests/fuzz/fuzz-sev-dev-emu.c includes this file) says which user ranges
 * exist, and the copies are plain ones, so that ASan sees every byte moved. */
bool sde_fuzz_user_ok(uint64_t uaddr, size_t len);

static int user_copy(void *local, uint64_t uaddr, size_t len, bool to_user)
{
	if (len == 0)
		return 0;
	if (!sde_fuzz_user_ok(uaddr, len))
		return -EFAULT;
	memcpy(to_user ? (void *)(uintptr_t)uaddr : local,
	       to_user ? local : (void *)(uintptr_t)uaddr, len);
	return 0;
}
#else
/* process_vm_*v on ourselves checks the range as the kernel does (EFAULT, not SIGSEGV). Where a
 * sandbox refuses the call, fall back to plain copies. */
static int user_copy(void *local, uint64_t uaddr, size_t len, bool to_user)
{
	struct iovec l = { local, len }, u = { (void *)(uintptr_t)uaddr, len };
	ssize_t n;

	if (len == 0)
		return 0;
	n = to_user ? process_vm_writev(getpid(), &l, 1, &u, 1, 0) :
		      process_vm_readv(getpid(), &l, 1, &u, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
		if (!uaddr)
			return -EFAULT;
		memcpy(to_user ? u.iov_base : local, to_user ? local : u.iov_base, len);
		return 0;
	}
	return -EFAULT;
}
#endif

static int copy_from_user(void *dst, uint64_t uaddr, size_t len)
{
	return user_copy(dst, uaddr, len, false);
}

static int copy_to_user(uint64_t uaddr, const void *src, size_t len)
{
	return user_copy((void *)src, uaddr, len, true);
}

/* ---- bounce buffers ---- */

static int blob_alloc(struct sde_kernel *k, size_t len, struct psp_buf *ret)
{
	return psp_dma_alloc(k->t, len ? len : 1, ret) < 0 ? -ENOMEM : 0;
}

static void blob_free(struct sde_kernel *k, struct psp_buf *b)
{
	if (b->ptr)
		psp_dma_free(k->t, b);
}

/* psp_copy_user_blob(): a user blob into a bounce buffer; EINVAL for none or too long. */
static int copy_user_blob(struct sde_kernel *k, uint64_t uaddr, uint32_t len, struct psp_buf *ret)
{
	int r;

	if (!uaddr || !len || len > SEV_FW_BLOB_MAX_SIZE)
		return -EINVAL;
	r = blob_alloc(k, len, ret);
	if (r < 0)
		return r;
	r = copy_from_user(ret->ptr, uaddr, len);
	if (r < 0)
		blob_free(k, ret);
	return r;
}

/* Copy a bounce buffer's answer out: `answered` bytes as the kernel does, but never more than
 * the caller's buffer holds (kernel.h: the one deliberate difference). */
static int blob_to_user(const struct psp_buf *b, uint64_t uaddr, uint32_t caller_len,
			uint32_t answered)
{
	return b->ptr ? copy_to_user(uaddr, b->ptr, MIN(MIN(answered, caller_len), b->size)) : 0;
}

/* ---- firmware commands ---- */

/* __sev_do_cmd_locked(): the firmware status into *error whenever firmware answered; a PSP
 * that stops answering is dead for good (psp_dead: EBUSY from then on). */
static int do_cmd(struct sde_kernel *k, uint32_t cmd, void *buf, uint32_t *error)
{
	int st = SEV_STATUS_NO_FW_CALL, r;

	if (k->dead)
		return -EBUSY;
	r = psp_issue(k->t, cmd, buf, &st);
	if (r == 0 || r == -EIO) {
		if (error)
			*error = (uint32_t)st;
		return r;
	}
	if (r == -ETIMEDOUT || r == -ECONNRESET || r == -EPROTO) {
		if (error)
			*error = 0;
		k->dead = true;
		return -ETIMEDOUT;
	}
	return r;
}

static void tmr_free(struct sde_kernel *k)
{
	blob_free(k, &k->tmr);
	k->tmr_addr = 0;
}

/* __sev_platform_init_handle_tmr(): a 1 MiB-aligned MiB; without it INIT goes without ES. */
static void tmr_alloc(struct sde_kernel *k)
{
	if (k->tmr.ptr)
		return;
	if (psp_dma_alloc(k->t, 2 * TMR_SIZE, &k->tmr) < 0)
		return;
	k->tmr_addr = (k->tmr.addr + TMR_SIZE - 1) & ~(uint64_t)(TMR_SIZE - 1);
}

/* __sev_init_locked() */
static int do_init(struct sde_kernel *k, uint32_t *psp_ret)
{
	struct sev_cmd_init data = { 0 };

	if (k->tmr.ptr) {
		data.flags = SEV_INIT_FLAGS_SEV_ES;
		data.tmr_paddr = k->tmr_addr;
		data.tmr_len = TMR_SIZE;
	}
	return do_cmd(k, SEV_CMD_INIT, &data, psp_ret);
}

/* __sev_platform_init_locked(): INIT (once more after SECURE_DATA_INVALID), then WBINVD on
 * all CPUs and DF_FLUSH. */
static int platform_init(struct sde_kernel *k, uint32_t *error)
{
	uint32_t psp_ret = (uint32_t)SEV_STATUS_NO_FW_CALL, df_error;
	int r;

	if (k->state == SEV_PSTATE_INIT)
		return 0;
	tmr_alloc(k);
	r = do_init(k, &psp_ret);
	if (r < 0 && psp_ret == SEV_STATUS_SECURE_DATA_INVALID)
		r = do_init(k, &psp_ret);
	if (error)
		*error = psp_ret;
	if (r < 0)
		return r;
	k->state = SEV_PSTATE_INIT;
	(void)psp_emu_ctl(k->t, "wbinvd", NULL, NULL); /* wbinvd_on_all_cpus() cannot fail */
	return do_cmd(k, SEV_CMD_DF_FLUSH, NULL, &df_error);
}

/* __sev_platform_shutdown_locked() */
static int platform_shutdown(struct sde_kernel *k, uint32_t *error)
{
	int r;

	if (k->state == SEV_PSTATE_UNINIT)
		return 0;
	r = do_cmd(k, SEV_CMD_SHUTDOWN, NULL, error);
	if (r < 0)
		return r;
	k->state = SEV_PSTATE_UNINIT;
	return 0;
}

/* __sev_firmware_shutdown(sev, false): SHUTDOWN (its status goes nowhere), the TMR freed
 * whatever SHUTDOWN answered; no SNP to shut down on this host. */
static void firmware_shutdown(struct sde_kernel *k)
{
	uint32_t error;

	(void)platform_shutdown(k, &error);
	tmr_free(k);
}

/* sev_move_to_init_state(): _sev_platform_init_locked() (SNP first: -ENODEV here, skipped),
 * then INIT; any failure reads as INVALID_PLATFORM_STATE. */
static int move_to_init(struct sde_kernel *k, struct issue *argp, bool *shutdown)
{
	uint32_t error = 0;
	int r = platform_init(k, &error);

	if (r < 0) {
		argp->error = SEV_STATUS_INVALID_PLATFORM_STATE;
		return r;
	}
	*shutdown = true;
	return 0;
}

/* ---- the sub-commands ---- */

/* sev_ioctl_do_reset() */
static int do_reset(struct sde_kernel *k, struct issue *argp, bool writable)
{
	struct sev_cmd_platform_status st = { 0 };
	int r;

	if (!writable)
		return -EPERM;
	r = do_cmd(k, SEV_CMD_PLATFORM_STATUS, &st, &argp->error); /* the firmware's own state */
	if (r < 0)
		return r;
	if (st.state == SEV_PSTATE_WORKING)
		return -EBUSY;
	if (st.state == SEV_PSTATE_INIT) {
		r = platform_shutdown(k, &argp->error);
		if (r < 0)
			return r;
	}
	return do_cmd(k, SEV_CMD_FACTORY_RESET, NULL, &argp->error);
}

/* sev_ioctl_do_platform_status() */
static int do_platform_status(struct sde_kernel *k, struct issue *argp)
{
	struct sev_cmd_platform_status data = { 0 };
	int r = do_cmd(k, SEV_CMD_PLATFORM_STATUS, &data, &argp->error);

	return r < 0 ? r : copy_to_user(argp->data, &data, sizeof(data));
}

/* sev_ioctl_do_pek_pdh_gen() */
static int do_pek_pdh_gen(struct sde_kernel *k, uint32_t cmd, struct issue *argp,
			  bool writable)
{
	bool shutdown = false;
	int r;

	if (!writable)
		return -EPERM;
	if (k->state == SEV_PSTATE_UNINIT) {
		r = move_to_init(k, argp, &shutdown);
		if (r < 0)
			return r;
	}
	r = do_cmd(k, cmd, NULL, &argp->error);
	if (shutdown)
		firmware_shutdown(k);
	return r;
}

/* sev_ioctl_do_pek_csr(): address 0 or length 0 is the length query. */
static int do_pek_csr(struct sde_kernel *k, struct issue *argp, bool writable)
{
	struct sev_user_data_pek_csr in;
	struct sev_cmd_pek_csr data = { 0 };
	struct psp_buf blob = { 0 };
	bool shutdown = false;
	uint32_t caller_len;
	int r;

	if (!writable)
		return -EPERM;
	if (copy_from_user(&in, argp->data, sizeof(in)) < 0)
		return -EFAULT;
	caller_len = in.length;
	if (in.address && in.length) {
		if (in.length > SEV_FW_BLOB_MAX_SIZE)
			return -EFAULT;
		r = blob_alloc(k, in.length, &blob);
		if (r < 0)
			return r;
		data.address = blob.addr;
		data.len = in.length;
	}
	if (k->state == SEV_PSTATE_UNINIT) {
		r = move_to_init(k, argp, &shutdown);
		if (r < 0)
			goto out;
	}
	r = do_cmd(k, SEV_CMD_PEK_CSR, &data, &argp->error);
	in.length = data.len;
	if (copy_to_user(argp->data, &in, sizeof(in)) < 0) {
		r = -EFAULT;
		goto out;
	}
	if (blob_to_user(&blob, in.address, caller_len, in.length) < 0)
		r = -EFAULT;
out:
	if (shutdown)
		firmware_shutdown(k);
	blob_free(k, &blob);
	return r;
}

/* sev_ioctl_do_pek_import() */
static int do_pek_import(struct sde_kernel *k, struct issue *argp, bool writable)
{
	struct sev_user_data_pek_cert_import in;
	struct sev_cmd_pek_cert_import data = { 0 };
	struct psp_buf pek = { 0 }, oca = { 0 };
	bool shutdown = false;
	int r;

	if (!writable)
		return -EPERM;
	if (copy_from_user(&in, argp->data, sizeof(in)) < 0)
		return -EFAULT;
	r = copy_user_blob(k, in.pek_cert_address, in.pek_cert_len, &pek);
	if (r < 0)
		return r;
	data.pek_cert_address = pek.addr;
	data.pek_cert_len = in.pek_cert_len;
	r = copy_user_blob(k, in.oca_cert_address, in.oca_cert_len, &oca);
	if (r < 0)
		goto out;
	data.oca_cert_address = oca.addr;
	data.oca_cert_len = in.oca_cert_len;
	if (k->state != SEV_PSTATE_INIT) {
		r = move_to_init(k, argp, &shutdown);
		if (r < 0)
			goto out;
	}
	r = do_cmd(k, SEV_CMD_PEK_CERT_IMPORT, &data, &argp->error);
out:
	if (shutdown)
		firmware_shutdown(k);
	blob_free(k, &oca);
	blob_free(k, &pek);
	return r;
}

static bool api_at_least(const struct sde_kernel *k, uint8_t major, uint8_t minor)
{
	return k->api_major > major || (k->api_major == major && k->api_minor >= minor);
}

/* sev_ioctl_do_get_id2(): any platform state, no write access needed. */
static int do_get_id2(struct sde_kernel *k, struct issue *argp)
{
	struct sev_user_data_get_id2 in;
	struct sev_cmd_get_id data = { 0 };
	struct psp_buf blob = { 0 };
	uint32_t caller_len;
	int r;

	if (!api_at_least(k, 0, 16))
		return -SDE_ENOTSUPP;
	if (copy_from_user(&in, argp->data, sizeof(in)) < 0)
		return -EFAULT;
	caller_len = in.length;
	if (in.address && in.length) {
		if (in.length > ID_BLOB_MAX)
			return -ENOMEM;
		r = blob_alloc(k, in.length, &blob);
		if (r < 0)
			return r;
		data.address = blob.addr;
		data.len = in.length;
	}
	r = do_cmd(k, SEV_CMD_GET_ID, &data, &argp->error);
	in.length = data.len;
	if (copy_to_user(argp->data, &in, sizeof(in)) < 0)
		r = -EFAULT;
	else if (blob_to_user(&blob, in.address, caller_len, data.len) < 0)
		r = -EFAULT;
	blob_free(k, &blob);
	return r;
}

/* sev_ioctl_do_get_id(): deprecated; a fixed 2 x 64 bytes, copied out on success only. */
static int do_get_id(struct sde_kernel *k, struct issue *argp)
{
	struct sev_cmd_get_id data = { 0 };
	struct psp_buf blob = { 0 };
	int r;

	if (!api_at_least(k, 0, 16))
		return -SDE_ENOTSUPP;
	r = blob_alloc(k, GET_ID_USER_SIZE, &blob);
	if (r < 0)
		return r;
	data.address = blob.addr;
	data.len = GET_ID_USER_SIZE;
	r = do_cmd(k, SEV_CMD_GET_ID, &data, &argp->error);
	if (r == 0 && blob_to_user(&blob, argp->data, GET_ID_USER_SIZE, data.len) < 0)
		r = -EFAULT;
	blob_free(k, &blob);
	return r;
}

/* sev_ioctl_do_pdh_export(): any of the PDH address, its length or the chain address 0 is the
 * length query; a read-only descriptor may export only from an INIT platform. */
static int do_pdh_export(struct sde_kernel *k, struct issue *argp, bool writable)
{
	struct sev_user_data_pdh_cert_export in;
	struct sev_cmd_pdh_cert_export data = { 0 };
	struct psp_buf pdh = { 0 }, chain = { 0 };
	bool shutdown = false;
	uint32_t pdh_len, chain_len;
	int r;

	if (copy_from_user(&in, argp->data, sizeof(in)) < 0)
		return -EFAULT;
	pdh_len = in.pdh_cert_len;
	chain_len = in.cert_chain_len;
	if (in.pdh_cert_address && in.pdh_cert_len && in.cert_chain_address) {
		if (in.pdh_cert_len > SEV_FW_BLOB_MAX_SIZE || in.cert_chain_len > SEV_FW_BLOB_MAX_SIZE)
			return -EFAULT;
		r = blob_alloc(k, in.pdh_cert_len, &pdh);
		if (r < 0)
			return r;
		data.pdh_cert_address = pdh.addr;
		data.pdh_cert_len = in.pdh_cert_len;
		r = blob_alloc(k, in.cert_chain_len, &chain);
		if (r < 0)
			goto out;
		data.cert_chain_address = chain.addr;
		data.cert_chain_len = in.cert_chain_len;
	}
	if (k->state != SEV_PSTATE_INIT) {
		r = writable ? move_to_init(k, argp, &shutdown) : -EPERM;
		if (r < 0)
			goto out;
	}
	r = do_cmd(k, SEV_CMD_PDH_CERT_EXPORT, &data, &argp->error);
	in.cert_chain_len = data.cert_chain_len;
	in.pdh_cert_len = data.pdh_cert_len;
	if (copy_to_user(argp->data, &in, sizeof(in)) < 0 ||
	    blob_to_user(&pdh, in.pdh_cert_address, pdh_len, in.pdh_cert_len) < 0 ||
	    blob_to_user(&chain, in.cert_chain_address, chain_len, in.cert_chain_len) < 0)
		r = -EFAULT;
out:
	if (shutdown)
		firmware_shutdown(k);
	blob_free(k, &chain);
	blob_free(k, &pdh);
	return r;
}

/* The SNP sub-commands: their argument checks, then snp_move_to_init_state() on a host
 * without SNP: ENODEV, INVALID_PLATFORM_STATE. */
static int snp_unavailable(struct issue *argp)
{
	argp->error = SEV_STATUS_INVALID_PLATFORM_STATE;
	return -ENODEV;
}

/* __sev_snp_init_locked(): WBINVD, SNP_INIT_EX (INIT_RMP: the emulator's RMP), WBINVD,
 * SNP_DF_FLUSH. */
static int snp_init_locked(struct sde_kernel *k, uint32_t *error)
{
	struct sev_snp_cmd_init_ex data = { .flags = SEV_SNP_INIT_INIT_RMP };
	int r;

	if (k->snp_initialized)
		return 0;
	(void)psp_emu_ctl(k->t, "wbinvd", NULL, NULL);
	r = do_cmd(k, SEV_CMD_SNP_INIT_EX, &data, error);
	if (r < 0)
		return r;
	(void)psp_emu_ctl(k->t, "wbinvd", NULL, NULL);
	r = do_cmd(k, SEV_CMD_SNP_DF_FLUSH, NULL, error);
	if (r < 0)
		return r;
	k->snp_initialized = true;
	return 0;
}

/* __sev_snp_shutdown_locked(): WBINVD, SNP_DF_FLUSH, SNP_SHUTDOWN_EX with the IOMMU's. */
static void snp_shutdown_locked(struct sde_kernel *k)
{
	struct sev_snp_cmd_shutdown_ex data = { .length = sizeof(data),
						 .flags = SEV_SNP_SHUTDOWN_IOMMU };
	uint32_t error;

	if (!k->snp_initialized)
		return;
	(void)psp_emu_ctl(k->t, "wbinvd", NULL, NULL);
	if (do_cmd(k, SEV_CMD_SNP_DF_FLUSH, NULL, &error) < 0 ||
	    do_cmd(k, SEV_CMD_SNP_SHUTDOWN_EX, &data, &error) < 0)
		return;
	k->snp_initialized = false;
}

/* snp_move_to_init_state(): any failure reads as INVALID_PLATFORM_STATE. */
static int snp_move_to_init(struct sde_kernel *k, struct issue *argp, bool *shutdown)
{
	uint32_t error = 0;
	int r;

	if (!k->snp)
		return snp_unavailable(argp);
	if (k->snp_initialized)
		return 0;
	r = snp_init_locked(k, &error);
	if (r < 0) {
		argp->error = SEV_STATUS_INVALID_PLATFORM_STATE;
		return r;
	}
	*shutdown = true;
	return 0;
}

static int rmp_update(struct sde_kernel *k, uint64_t pa, bool firmware)
{
	char line[96];

	snprintf(line, sizeof(line), "rmpupdate 0x%llx,assigned=%d,immutable=%d",
		 (unsigned long long)pa, firmware, firmware);
	return psp_emu_ctl(k->t, line, NULL, NULL);
}

/* snp_reclaim_pages(): SNP_PAGE_RECLAIM, then rmp_make_shared(). */
static int snp_reclaim(struct sde_kernel *k, uint64_t pa)
{
	struct sev_snp_cmd_addr data = { pa };
	uint32_t error;

	if (do_cmd(k, SEV_CMD_SNP_PAGE_RECLAIM, &data, &error) < 0)
		return -EFAULT;
	return rmp_update(k, pa, false) < 0 ? -EFAULT : 0;
}

/* sev_ioctl_do_snp_platform_status() */
static int do_snp_status(struct sde_kernel *k, struct issue *argp)
{
	struct psp_buf page = { 0 };
	struct sev_snp_cmd_addr data;
	bool shutdown = false;
	int r;

	if (!argp->data)
		return -EINVAL;
	r = blob_alloc(k, SEV_PAGE_SIZE, &page);
	if (r < 0)
		return r;
	r = snp_move_to_init(k, argp, &shutdown);
	if (r >= 0 && rmp_update(k, page.addr, true) < 0)
		r = -EFAULT;
	if (r >= 0) {
		data.address = page.addr;
		r = do_cmd(k, SEV_CMD_SNP_PLATFORM_STATUS, &data, &argp->error);
		if (snp_reclaim(k, page.addr) < 0)
			r = -EFAULT;
		if (r >= 0)
			r = copy_to_user(argp->data, page.ptr, sizeof(struct sev_snp_platform_status));
	}
	if (shutdown)
		snp_shutdown_locked(k);
	blob_free(k, &page);
	return r;
}

/* sev_ioctl_do_snp_commit() */
static int do_snp_commit(struct sde_kernel *k, struct issue *argp)
{
	struct sev_snp_cmd_commit data = { .length = sizeof(data) };
	bool shutdown = false;
	int r = snp_move_to_init(k, argp, &shutdown);

	if (r < 0)
		return r;
	r = do_cmd(k, SEV_CMD_SNP_COMMIT, &data, &argp->error);
	if (shutdown)
		snp_shutdown_locked(k);
	return r;
}

/* sev_ioctl_do_snp_set_config(): the user struct goes to firmware as it is. */
static int do_snp_config(struct sde_kernel *k, struct issue *argp, const uint8_t *user)
{
	struct sev_snp_cmd_config data;
	bool shutdown = false;
	int r;

	_Static_assert(sizeof(data) == SNP_CONFIG_USER_SIZE, "SNP_CONFIG: the uapi struct");
	memcpy(&data, user, sizeof(data));
	r = snp_move_to_init(k, argp, &shutdown);
	if (r < 0)
		return r;
	r = do_cmd(k, SEV_CMD_SNP_CONFIG, &data, &argp->error);
	if (shutdown)
		snp_shutdown_locked(k);
	return r;
}

/* sev_ioctl_do_snp_vlek_load(): the hashstick copied in, its kernel address to firmware. */
static int do_snp_vlek(struct sde_kernel *k, struct issue *argp, struct psp_buf *blob)
{
	struct sev_snp_cmd_vlek_load data = { .length = sizeof(data),
					       .vlek_wrapped_address = blob->addr };
	bool shutdown = false;
	int r = snp_move_to_init(k, argp, &shutdown);

	if (r < 0)
		return r;
	r = do_cmd(k, SEV_CMD_SNP_VLEK_LOAD, &data, &argp->error);
	if (shutdown)
		snp_shutdown_locked(k);
	return r;
}

static int do_snp(struct sde_kernel *k, struct issue *argp, bool writable)
{
	uint8_t user[SNP_CONFIG_USER_SIZE];
	struct psp_buf blob = { 0 };
	int r;

	if (argp->cmd == SDE_SNP_COMMIT)
		return do_snp_commit(k, argp);
	if (!argp->data)
		return -EINVAL;
	if (argp->cmd == SDE_SNP_PLATFORM_STATUS)
		return do_snp_status(k, argp);
	if (!writable)
		return -EPERM;
	if (argp->cmd == SDE_SNP_SET_CONFIG)
		return copy_from_user(user, argp->data, SNP_CONFIG_USER_SIZE) < 0 ?
			       -EFAULT : do_snp_config(k, argp, user);
	/* SNP_VLEK_LOAD: len u32, wrapped version u8, 3 reserved, wrapped address u64 */
	if (copy_from_user(user, argp->data, SNP_VLEK_LOAD_USER_SIZE) < 0)
		return -EFAULT;
	if (get_le32(user) != SNP_VLEK_LOAD_USER_SIZE || user[4] != 0)
		return -EINVAL;
	r = copy_user_blob(k, get_le64(user + 8), SNP_HASHSTICK_SIZE, &blob);
	if (r < 0)
		return r;
	r = do_snp_vlek(k, argp, &blob);
	blob_free(k, &blob);
	return r;
}

static int dispatch(struct sde_kernel *k, struct issue *argp, bool writable)
{
	switch (argp->cmd) {
	case SDE_FACTORY_RESET:
		return do_reset(k, argp, writable);
	case SDE_PLATFORM_STATUS:
		return do_platform_status(k, argp);
	case SDE_PEK_GEN:
		return do_pek_pdh_gen(k, SEV_CMD_PEK_GEN, argp, writable);
	case SDE_PDH_GEN:
		return do_pek_pdh_gen(k, SEV_CMD_PDH_GEN, argp, writable);
	case SDE_PEK_CSR:
		return do_pek_csr(k, argp, writable);
	case SDE_PEK_CERT_IMPORT:
		return do_pek_import(k, argp, writable);
	case SDE_PDH_CERT_EXPORT:
		return do_pdh_export(k, argp, writable);
	case SDE_GET_ID:
		return do_get_id(k, argp);
	case SDE_GET_ID2:
		return do_get_id2(k, argp);
	default:
		return do_snp(k, argp, writable);
	}
}

/* sev_ioctl(): the sub-command's answer, then the header (with `error`) copied back, except
 * for an unknown sub-command. */
int sde_ioctl(struct sde_kernel *k, bool writable, unsigned long request, void *argp)
{
	uint8_t raw[sizeof(struct sev_issue_cmd)];
	struct issue in;
	int r;

	if (request != SDE_SEV_ISSUE_CMD)
		return -EINVAL;
	if (copy_from_user(raw, (uint64_t)(uintptr_t)argp, sizeof(raw)) < 0)
		return -EFAULT;
	in = (struct issue){ .cmd = get_le32(raw), .data = get_le64(raw + 4),
			     .error = get_le32(raw + 12) };
	if (in.cmd >= SDE_SEV_MAX)
		return -EINVAL; /* > SEV_MAX, or SEV_MAX itself (the switch's default) */
	pthread_mutex_lock(&k->lock);
	r = dispatch(k, &in, writable);
	put_le32(raw + 12, in.error); /* cmd and data go back as they came */
	if (copy_to_user((uint64_t)(uintptr_t)argp, raw, sizeof(raw)) < 0)
		r = -EFAULT;
	pthread_mutex_unlock(&k->lock);
	return r;
}

/* ---- probe ---- */

/* The SNP state at probe: UNINIT answers the status into a plain page; INIT (someone else's,
 * e.g. sevd on the emu transport) refuses that page as not a Firmware page. */
static void probe_snp(struct sde_kernel *k)
{
	struct psp_buf page = { 0 };
	struct sev_snp_cmd_addr a;
	struct psp_cpuid id;
	uint32_t e = 0;

	k->snp = psp_get_cpuid(k->t, &id) == 0 && (id.eax & SEV_CPUID_EAX_SNP);
	if (!k->snp || blob_alloc(k, SEV_PAGE_SIZE, &page) < 0)
		return;
	a.address = page.addr;
	if (do_cmd(k, SEV_CMD_SNP_PLATFORM_STATUS, &a, &e) == -EIO)
		k->snp_initialized = e == SEV_STATUS_INVALID_PAGE_STATE;
	else
		k->snp_initialized = ((struct sev_snp_platform_status *)page.ptr)->state ==
				     SEV_SNP_PSTATE_INIT;
	blob_free(k, &page);
}

int sde_kernel_new(struct psp_transport *t, struct sde_kernel **ret)
{
	struct sev_cmd_platform_status st = { 0 };
	struct sde_kernel *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return -ENOMEM;
	k->t = t;
	pthread_mutex_init(&k->lock, NULL);
	r = do_cmd(k, SEV_CMD_PLATFORM_STATUS, &st, NULL);
	if (r < 0) {
		k->t = NULL; /* the caller keeps t on failure */
		sde_kernel_free(k);
		return r;
	}
	k->state = st.state;
	probe_snp(k);
	k->api_major = st.api_major;
	k->api_minor = st.api_minor;
	k->build = st.build;
	*ret = k;
	return 0;
}

void sde_kernel_free(struct sde_kernel *k)
{
	if (!k)
		return;
	if (k->t)
		tmr_free(k);
	psp_close(k->t);
	pthread_mutex_destroy(&k->lock);
	free(k);
}
