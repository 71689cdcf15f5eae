/* CTL `snp-memfd GCTX_PADDR`: the CPU side of a running SNP guest's memory, for a VMM on a host
 * without SNP hardware (hv-glue's runner maps it at GPA 0 and runs the guest under /dev/kvm).
 * Every 4 KiB page the RMP assigns to the guest's ASID with a GPA below VIEW_MAX is decrypted
 * with the guest's memory key (its tweak, the page's system address, as SNP_LAUNCH_UPDATE
 * encrypted it) and placed at its GPA in a new memfd; VMSA pages are left out (they are
 * register state, not memory). The memfd is a copy made now: what the guest writes to it
 * stays in it (the emulator's model has no CPU writing through the guest's key), and the
 * secrets page in it is the guest's own, VMPCK0 included, as on hardware the guest reads it.
 * Refused for a guest that is not RUNNING and activated. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/secret.h"
#include "common/util.h"
#include "psp/emu/guest.h"
#include "psp/emu/snp.h"

#define VIEW_MAX (64ull << 20) /* the highest GPA + 1 a view holds */
#define VIEW_ROUND (1ull << 20)

static int fail(uint8_t *out, size_t cap, size_t *len, int err, const char *msg)
{
	*len = (size_t)snprintf((char *)out, cap, "snp-memfd: %s", msg);
	if (*len >= cap)
		*len = cap ? cap - 1 : 0;
	return err;
}

int emu_snp_ctl_memfd(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	struct emu_guests *gs = emu_guests_get(fw);
	const struct emu_rmp_entry *e;
	struct emu_snp_guest *g;
	uint8_t page[SEV_PAGE_SIZE];
	WIPE_ON_EXIT(page, sizeof(page));
	uint64_t paddr, top = 0;
	unsigned pages = 0;
	size_t n;
	int fd, st;

	if (!emu_snp_get(fw))
		return fail(out, cap, len, -EOPNOTSUPP, "SNP is off (--snp)");
	if (!gs)
		return -ENOMEM;
	if (!arg || parse_u64(arg, &paddr) < 0 || !(g = emu_snp_guest_find(fw, paddr)))
		return fail(out, cap, len, -EINVAL, "takes the guest context page address of a "
			    "live SNP guest");
	if (g->state != SEV_SNP_GSTATE_RUNNING || !g->asid)
		return fail(out, cap, len, -EBUSY, "the guest is not RUNNING and activated "
			    "(SNP_LAUNCH_FINISH first)");
	n = emu_rmp_entries(fw, &e);
	for (size_t i = 0; i < n; i++)
		if (e[i].assigned && !e[i].big && !e[i].vmsa && e[i].asid == g->asid &&
		    e[i].gpa < VIEW_MAX)
			top = MAX(top, e[i].gpa + SEV_PAGE_SIZE);
	if (!top)
		return fail(out, cap, len, -ENOENT, "the guest has no memory pages "
			    "(SNP_LAUNCH_UPDATE)");
	fd = memfd_create("snp-guest-view", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)((top + VIEW_ROUND - 1) / VIEW_ROUND * VIEW_ROUND)) < 0) {
		if (fd >= 0)
			close(fd);
		return fail(out, cap, len, -ENOMEM, "no memory for the view");
	}
	for (size_t i = 0; i < n; i++) {
		if (!e[i].assigned || e[i].big || e[i].vmsa || e[i].asid != g->asid ||
		    e[i].gpa >= VIEW_MAX)
			continue;
		st = emu_mem_read(fw->mem, e[i].pfn << 12, page, sizeof(page));
		if (st == SEV_STATUS_SUCCESS &&
		    emu_vek_crypt(g->vek, e[i].pfn << 12, page, page, sizeof(page), false) < 0)
			st = SEV_STATUS_HWERROR_PLATFORM;
		if (st != SEV_STATUS_SUCCESS ||
		    pwrite(fd, page, sizeof(page), (off_t)e[i].gpa) != (ssize_t)sizeof(page)) {
			close(fd);
			return fail(out, cap, len, -EIO, "a guest page could not be read back from "
				    "its host region (unmapped or shrunk since launch)");
		}
		pages++;
	}
	if (gs->reply_fd >= 0)
		close(gs->reply_fd);
	gs->reply_fd = fd;
	*len = (size_t)snprintf((char *)out, cap, "asid=%u pages=%u size=%llu", g->asid, pages,
				(unsigned long long)((top + VIEW_ROUND - 1) / VIEW_ROUND * VIEW_ROUND));
	if (*len >= cap)
		*len = cap ? cap - 1 : 0;
	return 0;
}
