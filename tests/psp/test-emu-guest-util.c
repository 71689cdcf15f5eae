/* Helpers of the emu guest tests (see test-emu-guest-util.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/macros.h"
#include "psp/commands.h"
#include "psp/emu-ctl.h"
#include "psp/emu-wire.h"
#include "tests/psp/test-emu-guest-util.h"

#define TMR_SIZE (1u << 20)

void gt_platform_ready(struct psp_transport *t, bool es)
{
	struct sev_cmd_init init = {0};

	GT_EXPECT(fw(t, SEV_CMD_SHUTDOWN, NULL), SEV_STATUS_SUCCESS);
	if (es) {
		/* the TMR: a 1 MiB region (region bases are 1 TiB aligned); kept mapped */
		struct gt_mem tmr;

		gt_mem_new(t, TMR_SIZE, &tmr);
		init.flags = SEV_INIT_FLAGS_SEV_ES;
		init.tmr_paddr = tmr.base;
		init.tmr_len = TMR_SIZE;
		munmap(tmr.ptr, tmr.size);
		close(tmr.fd);
	}
	GT_EXPECT(fw(t, SEV_CMD_INIT, &init), SEV_STATUS_SUCCESS);
	ctl_ok(t, "wbinvd");
	GT_EXPECT(fw(t, SEV_CMD_DF_FLUSH, NULL), SEV_STATUS_SUCCESS);
}

static void mem_new(struct psp_transport *t, size_t size, unsigned flags, struct gt_mem *ret)
{
	int e;

	ret->size = size;
	ret->fd = memfd_create("gt-guest", MFD_CLOEXEC | flags);
	TU_CHECK(ret->fd >= 0, "memfd_create: %m");
	TU_CHECK(ftruncate(ret->fd, (off_t)size) == 0, "ftruncate: %m");
	ret->ptr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ret->fd, 0);
	TU_CHECK(ret->ptr != MAP_FAILED, "mmap: %m");
	e = psp_map_memfd(t, ret->fd, size, &ret->base);
	TU_CHECK(e == 0, "psp_map_memfd: %s", strerror(-e));
}

void gt_mem_new(struct psp_transport *t, size_t size, struct gt_mem *ret)
{
	mem_new(t, size, 0, ret);
}

void gt_mem_new_sealable(struct psp_transport *t, size_t size, struct gt_mem *ret)
{
	mem_new(t, size, MFD_ALLOW_SEALING, ret);
}

void gt_mem_free(struct gt_mem *m)
{
	munmap(m->ptr, m->size);
	close(m->fd);
}

void gt_platform_certs(struct psp_transport *t, struct sev_cert *pdh, struct sev_cert *pek)
{
	_cleanup_free_ uint8_t *p = NULL, *chain = NULL;
	size_t plen = 0, clen = 0;
	int pr, e = psp_cmd_pdh_cert_export(t, &p, &plen, &chain, &clen, &pr);

	TU_CHECK(e == 0, "PDH_CERT_EXPORT: %s", sev_status_name(pr));
	TU_CHECK(plen == SEV_CERT_SIZE && clen == 3 * SEV_CERT_SIZE, "cert sizes %zu %zu", plen,
		 clen);
	memcpy(pdh, p, SEV_CERT_SIZE);
	memcpy(pek, chain, SEV_CERT_SIZE); /* chain: PEK ‖ OCA ‖ CEK */
}

int gt_launch(struct psp_transport *t, uint32_t policy, const struct sev_cert *pdh,
	      struct attest_tk *ret_tk, uint32_t *ret_handle)
{
	struct sev_cert godh;
	struct sev_session_blob blob;
	struct attest_tk tk;
	int pr = SEV_STATUS_SUCCESS, e;

	if (!pdh) {
		e = psp_cmd_launch_start(t, policy, NULL, 0, NULL, 0, ret_handle, &pr);
		TU_CHECK(e == 0 || e == -EIO, "LAUNCH_START: %s", strerror(-e));
		return pr;
	}
	e = attest_session_build(pdh, policy, NULL, &godh, &blob, &tk);
	TU_CHECK(e == 0, "attest_session_build: %s", strerror(-e));
	e = psp_cmd_launch_start(t, policy, (const uint8_t *)&godh, sizeof(godh), &blob,
				 sizeof(blob), ret_handle, &pr);
	TU_CHECK(e == 0 || e == -EIO, "LAUNCH_START: %s", strerror(-e));
	if (ret_tk)
		*ret_tk = tk;
	return pr;
}

struct sev_cmd_guest_status gt_guest_status(struct psp_transport *t, uint32_t handle)
{
	struct sev_cmd_guest_status gs = {.handle = handle};

	GT_EXPECT(fw(t, SEV_CMD_GUEST_STATUS, &gs), SEV_STATUS_SUCCESS);
	return gs;
}

uint32_t gt_guest_count(struct psp_transport *t)
{
	return platform_status(t).guest_count;
}

int gt_ctl_memfd(const char *socket_path, uint32_t handle, int *ret_fd, char *text, size_t cap)
{
	return gt_ctl_memfd_region(socket_path, handle, -1, ret_fd, text, cap);
}

int gt_ctl_memfd_region(const char *socket_path, uint32_t handle, int region, int *ret_fd,
			char *text, size_t cap)
{
	char line[64];
	uint8_t reply[EMU_WIRE_MAX_PAYLOAD];
	int s = emu_ctl_connect(socket_path), r, err = 0;
	size_t len = 0;

	TU_CHECK(s >= 0, "connect %s: %s", socket_path, strerror(-s));
	if (region < 0)
		snprintf(line, sizeof(line), "guest-memfd %u", handle);
	else
		snprintf(line, sizeof(line), "guest-memfd %u %d", handle, region);
	/* the client checks the reply: its magic, type, sequence number and length */
	r = emu_ctl_exchange(s, EMU_MSG_CTL, line, (uint32_t)strlen(line), reply, sizeof(reply),
			     &len, &err, ret_fd, -1);
	close(s);
	TU_CHECK(r == 0, "CTL %s: %s", line, strerror(-r));
	snprintf(text, cap, "%.*s", (int)len, (const char *)reply);
	TU_CHECK((err == 0) == (*ret_fd >= 0), "descriptor %d with error %d (%s)", *ret_fd, err,
		 text);
	return err;
}

/* Open addressing over every 16-byte window of hay; O(hay + needle). */
static uint64_t win_hash(const uint8_t *p)
{
	uint64_t a, b;

	memcpy(&a, p, 8);
	memcpy(&b, p + 8, 8);
	return (a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
}

bool gt_any_window_in(const uint8_t *hay, size_t hay_len, const uint8_t *needle, size_t len)
{
	size_t cap = 1, mask;
	uint32_t *tab;
	bool found = false;

	if (hay_len < 16 || len < 16)
		return false;
	while (cap < 2 * hay_len)
		cap <<= 1;
	mask = cap - 1;
	tab = calloc(cap, sizeof(*tab)); /* offset + 1; 0 = empty */
	TU_CHECK(tab && hay_len < UINT32_MAX, "calloc");
	for (size_t i = 0; i + 16 <= hay_len; i++) {
		size_t k = win_hash(hay + i) & mask;
		bool dup = false;

		/* equal windows (runs of zeros) are stored once, or the probes would pile up */
		while (tab[k] && !(dup = memcmp(hay + tab[k] - 1, hay + i, 16) == 0))
			k = (k + 1) & mask;
		if (!dup)
			tab[k] = (uint32_t)i + 1;
	}
	for (size_t j = 0; !found && j + 16 <= len; j++)
		for (size_t k = win_hash(needle + j) & mask; tab[k] && !found; k = (k + 1) & mask)
			found = memcmp(hay + tab[k] - 1, needle + j, 16) == 0;
	free(tab);
	return found;
}
