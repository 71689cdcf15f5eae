/* The reverse map table of the emulated SNP platform: one entry per 4 KiB page of the memory
 * clients map (EMU_MSG_MAP), or one per 2 MiB page. Page states follow AMD-ASPFW sev_rmp.c
 * rmp_entry_get_state (assigned, validated, ASID, immutable, VMSA, GPA).
 *
 * The boundary: firmware commands change entries with emu_rmp_set (what the PSP writes into
 * the RMP); the host changes them only through RMPUPDATE, which on hardware is an x86
 * instruction the kernel executes (Linux arch/x86/virt/svm/sev.c rmpupdate, rmp_make_private,
 * rmp_make_shared, rmp_mark_pages_firmware). Here RMPUPDATE is the CTL `rmpupdate`: the
 * transport's host-side operation, with the instruction's rules (AMD APM vol. 3 RMPUPDATE):
 * an immutable entry cannot be changed (FAIL_PERMISSION), a 4 KiB update inside a 2 MiB entry
 * or a 2 MiB update over assigned 4 KiB entries overlaps (FAIL_OVERLAP), and every update
 * clears VALIDATED and VMSA. Only pages in the hypervisor state are not stored. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/emu/snp.h"

#define PFN_2M 512u

struct emu_rmp {
	struct emu_rmp_entry *e; /* sorted by pfn */
	size_t n, cap;
};

int emu_rmp_new(struct emu_rmp **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

void emu_rmp_free(struct emu_rmp *r)
{
	if (!r)
		return;
	free(r->e);
	free(r);
}

void emu_rmp_clear(struct emu_rmp *r)
{
	r->n = 0;
}

/* Index of the first entry with pfn >= key. */
static size_t lower_bound(const struct emu_rmp *r, uint64_t key)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->e[mid].pfn < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct emu_rmp_entry *find(const struct emu_rmp *r, uint64_t pfn)
{
	size_t i = lower_bound(r, pfn);

	if (i < r->n && r->e[i].pfn == pfn)
		return &r->e[i];
	i = lower_bound(r, pfn & ~(uint64_t)(PFN_2M - 1));
	if (i < r->n && r->e[i].pfn == (pfn & ~(uint64_t)(PFN_2M - 1)) && r->e[i].big)
		return &r->e[i];
	return NULL;
}

static bool is_hypervisor(const struct emu_rmp_entry *e)
{
	return !e->assigned && !e->immutable && !e->validated && !e->asid && !e->big;
}

int emu_rmp_set(struct emu_rmp *r, const struct emu_rmp_entry *e)
{
	size_t i = lower_bound(r, e->pfn);
	bool have = i < r->n && r->e[i].pfn == e->pfn;

	if (is_hypervisor(e)) {
		if (have)
			memmove(&r->e[i], &r->e[i + 1], (r->n - i - 1) * sizeof(*e));
		r->n -= have;
		return 0;
	}
	if (have) {
		r->e[i] = *e;
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct emu_rmp_entry *ne = realloc(r->e, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		r->e = ne;
		r->cap = cap;
	}
	memmove(&r->e[i + 1], &r->e[i], (r->n - i) * sizeof(*e));
	r->e[i] = *e;
	r->n++;
	return 0;
}

/* Room for n more entries, so that n emu_rmp_set calls after it cannot fail. */
static int rmp_reserve(struct emu_rmp *r, size_t n)
{
	struct emu_rmp_entry *ne;
	size_t cap = r->cap ? r->cap : 64;

	if (n > SIZE_MAX / sizeof(*ne) - r->n)
		return -ENOMEM;
	while (cap < r->n + n)
		cap *= 2;
	if (cap == r->cap)
		return 0;
	ne = realloc(r->e, cap * sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	r->e = ne;
	r->cap = cap;
	return 0;
}

size_t emu_rmp_entries(struct emu_fw *fw, const struct emu_rmp_entry **ret)
{
	const struct emu_rmp *r = fw->snp ? fw->snp->rmp : NULL;

	*ret = r ? r->e : NULL;
	return r ? r->n : 0;
}

int emu_rmp_get(struct emu_fw *fw, uint64_t paddr, struct emu_rmp_entry *ret)
{
	const struct emu_rmp_entry *e;
	uint64_t pfn = paddr / SEV_PAGE_SIZE;

	if (emu_mem_check(fw->mem, pfn * SEV_PAGE_SIZE, SEV_PAGE_SIZE))
		return SEV_STATUS_INVALID_ADDRESS;
	e = fw->snp ? find(fw->snp->rmp, pfn) : NULL;
	if (e)
		*ret = *e;
	else
		*ret = (struct emu_rmp_entry){ .pfn = pfn };
	return SEV_STATUS_SUCCESS;
}

enum emu_rmp_state emu_rmp_state_of(const struct emu_rmp_entry *e)
{
	if (!e->assigned) {
		if (e->validated || e->asid)
			return EMU_RMP_INVALID;
		return e->immutable ? EMU_RMP_HV_FIXED : EMU_RMP_HYPERVISOR;
	}
	if (e->asid == 0) {
		if (e->validated)
			return EMU_RMP_INVALID;
		if (!e->immutable)
			return EMU_RMP_RECLAIM;
		if (e->gpa == 0)
			return e->vmsa ? EMU_RMP_CONTEXT : EMU_RMP_FIRMWARE;
		return EMU_RMP_INVALID; /* metadata pages are not modelled */
	}
	if (e->immutable)
		return e->validated ? EMU_RMP_INVALID /* pre-swap: not modelled */ :
				      EMU_RMP_PRE_GUEST;
	return e->validated ? EMU_RMP_GUEST_VALID : EMU_RMP_GUEST_INVALID;
}

const char *emu_rmp_state_name(enum emu_rmp_state s)
{
	switch (s) {
	case EMU_RMP_HYPERVISOR: return "HYPERVISOR";
	case EMU_RMP_HV_FIXED: return "HV_FIXED";
	case EMU_RMP_FIRMWARE: return "FIRMWARE";
	case EMU_RMP_RECLAIM: return "RECLAIM";
	case EMU_RMP_CONTEXT: return "CONTEXT";
	case EMU_RMP_PRE_GUEST: return "PRE_GUEST";
	case EMU_RMP_GUEST_INVALID: return "GUEST_INVALID";
	case EMU_RMP_GUEST_VALID: return "GUEST_VALID";
	default: return "INVALID";
	}
}

unsigned emu_rmp_count_asid(const struct emu_rmp *r, uint32_t asid)
{
	unsigned n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->e[i].assigned && r->e[i].asid == asid;
	return n;
}

static int reply(uint8_t *out, size_t cap, size_t *len, int r, const char *fmt, ...)
	_printf_(5, 6);
static int reply(uint8_t *out, size_t cap, size_t *len, int r, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf((char *)out, cap, fmt, ap);
	va_end(ap);
	*len = n < 0 ? 0 : MIN((size_t)n, cap - 1);
	return r;
}

/* One `name=value` of the new state (Linux struct rmp_state: gpa, assigned, pagesize,
 * immutable, asid). */
static int state_field(struct emu_rmp_entry *e, const char *name, const char *val)
{
	uint64_t v;

	if (strcmp(name, "size") == 0) {
		if (strcmp(val, "4k") && strcmp(val, "2m"))
			return -EINVAL;
		e->big = strcmp(val, "2m") == 0;
		return 0;
	}
	if (parse_u64(val, &v) < 0)
		return -EINVAL;
	if (strcmp(name, "gpa") == 0 && v % SEV_PAGE_SIZE == 0 && v < (1ull << 52))
		e->gpa = v;
	else if (strcmp(name, "assigned") == 0 && v <= 1)
		e->assigned = v;
	else if (strcmp(name, "immutable") == 0 && v <= 1)
		e->immutable = v;
	else if (strcmp(name, "asid") == 0 && v <= UINT32_MAX)
		e->asid = (uint32_t)v;
	else
		return -EINVAL;
	return 0;
}

#define RMPUPDATE_PAGES_MAX (1u << 18) /* 1 GiB of 4 KiB pages in one `pages=` line */

/* PADDR, the fields of the new state, and `pages=N` (not a field: how many consecutive
 * 4 KiB pages, 1 by default). */
static int parse_update(char *arg, uint64_t *paddr, struct emu_rmp_entry *e, uint64_t *pages)
{
	char *save = NULL, *tok = strtok_r(arg, ",", &save);

	*pages = 1;
	if (!tok || parse_u64(tok, paddr) < 0)
		return -EINVAL;
	while ((tok = strtok_r(NULL, ",", &save))) {
		char *eq = strchr(tok, '=');

		if (!eq)
			return -EINVAL;
		*eq = 0;
		if (!strcmp(tok, "pages")) {
			if (parse_u64(eq + 1, pages) < 0 || *pages == 0 ||
			    *pages > RMPUPDATE_PAGES_MAX)
				return -EINVAL;
		} else if (state_field(e, tok, eq + 1) < 0)
			return -EINVAL;
	}
	return e->big && *pages != 1 ? -EINVAL : 0;
}

/* FAIL_OVERLAP: a 2 MiB update over any non-hypervisor 4 KiB entry of its range, or a 4 KiB
 * update inside a 2 MiB entry. */
static bool overlaps(const struct emu_rmp *r, const struct emu_rmp_entry *e)
{
	const struct emu_rmp_entry *cur = find(r, e->pfn);

	if (!e->big)
		return cur && cur->big && cur->pfn != e->pfn;
	size_t i = lower_bound(r, e->pfn + 1);

	if (i < r->n && r->e[i].pfn < e->pfn + PFN_2M)
		return true;
	return cur && !cur->big;
}

/* The checks RMPUPDATE makes of one page's new state e against the RMP (0, or the error in
 * out). */
static int update_check(struct emu_fw *fw, const struct emu_rmp_entry *e, uint8_t *out,
			size_t cap, size_t *len)
{
	uint64_t paddr = e->pfn * SEV_PAGE_SIZE;
	struct emu_rmp_entry cur;

	emu_rmp_get(fw, paddr, &cur);
	if (cur.immutable)
		return reply(out, cap, len, -EPERM, "rmpupdate: FAIL_PERMISSION: the %s page at "
			     "0x%llx is immutable (firmware must release it: SNP_PAGE_RECLAIM)",
			     emu_rmp_state_name(emu_rmp_state_of(&cur)), (unsigned long long)paddr);
	if (overlaps(fw->snp->rmp, e))
		return reply(out, cap, len, -EBUSY, "rmpupdate: FAIL_OVERLAP at 0x%llx (a 2 MiB "
			     "entry and 4 KiB entries of its range)", (unsigned long long)paddr);
	return 0;
}

/* RMPUPDATE of one page, or with `pages=N` of N consecutive 4 KiB pages (the kernel's loop of
 * RMPUPDATE instructions, Linux rmp_make_private over a range; gpa advancing with the page):
 * every page is checked before any is written, so a refused line changes nothing. */
int emu_snp_ctl_rmpupdate(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	struct emu_snp *s = emu_snp_get(fw);
	struct emu_rmp_entry e = { 0 }, pe;
	uint64_t paddr = 0, pages = 1, span;
	int r;

	if (!s)
		return reply(out, cap, len, -EOPNOTSUPP, "rmpupdate: SNP is off (start the "
			     "emulator with --snp)");
	if (!arg || parse_update(arg, &paddr, &e, &pages) < 0)
		return reply(out, cap, len, -EINVAL, "rmpupdate takes PADDR[,gpa=N][,assigned=0|1]"
			     "[,asid=N][,immutable=0|1][,size=4k|2m][,pages=N] (pages: 1 to %u, "
			     "4k only)", RMPUPDATE_PAGES_MAX);
	span = e.big ? SEV_PAGE_SIZE * PFN_2M : pages * SEV_PAGE_SIZE;
	if (paddr % (e.big ? SEV_PAGE_SIZE * PFN_2M : SEV_PAGE_SIZE) ||
	    paddr > UINT64_MAX - span || emu_mem_check(fw->mem, paddr, span))
		return reply(out, cap, len, -EINVAL, "rmpupdate: 0x%llx is not an aligned page of "
			     "mapped memory%s", (unsigned long long)paddr,
			     pages > 1 ? " followed by the pages=N asked" : "");
	if (!e.assigned && (e.asid || e.gpa))
		return reply(out, cap, len, -EINVAL, "rmpupdate: a shared page has no ASID or GPA");
	if (e.assigned && e.gpa + (pages - 1) * SEV_PAGE_SIZE >= (1ull << 52))
		return reply(out, cap, len, -EINVAL, "rmpupdate: the last page's GPA is past 2^52");
	e.pfn = paddr / SEV_PAGE_SIZE;
	for (uint64_t i = 0; i < pages; i++) {
		pe = e;
		pe.pfn += i;
		pe.gpa += e.assigned ? i * SEV_PAGE_SIZE : 0;
		r = update_check(fw, &pe, out, cap, len);
		if (r < 0)
			return r;
	}
	if (rmp_reserve(s->rmp, pages) < 0)
		return reply(out, cap, len, -ENOMEM, "rmpupdate: out of memory");
	for (uint64_t i = 0; i < pages; i++) {
		pe = e;
		pe.pfn += i;
		pe.gpa += e.assigned ? i * SEV_PAGE_SIZE : 0;
		(void)emu_rmp_set(s->rmp, &pe); /* reserved: cannot fail */
	}
	return reply(out, cap, len, 0, "ok %s", emu_rmp_state_name(emu_rmp_state_of(&e)));
}

int emu_snp_ctl_rmp(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	struct emu_rmp_entry e;
	uint64_t paddr;

	if (!emu_snp_get(fw))
		return reply(out, cap, len, -EOPNOTSUPP, "rmp: SNP is off (start the emulator "
			     "with --snp)");
	if (!arg || parse_u64(arg, &paddr) < 0)
		return reply(out, cap, len, -EINVAL, "rmp takes PADDR");
	if (emu_rmp_get(fw, paddr, &e))
		return reply(out, cap, len, -EINVAL, "rmp: 0x%llx is not mapped memory",
			     (unsigned long long)paddr);
	return reply(out, cap, len, 0, "state=%s assigned=%d validated=%d asid=%u gpa=0x%llx "
		     "size=%s immutable=%d vmsa=%d", emu_rmp_state_name(emu_rmp_state_of(&e)),
		     e.assigned, e.validated, e.asid, (unsigned long long)e.gpa,
		     e.big ? "2m" : "4k", e.immutable, e.vmsa);
}

/* SNP_PAGE_RECLAIM (AMD-ASPFW snp_mcmd_page_reclaim): ADDRESS bit 0 is the page size; a page
 * that is not immutable is left alone (SUCCESS); Firmware → Reclaim and Pre-Guest →
 * Guest-Invalid by clearing IMMUTABLE, so the host's RMPUPDATE may take the page back; any
 * other immutable state (Context: decommission the guest first) → INVALID_PAGE_STATE. */
int emu_snp_page_reclaim(struct emu_fw *fw, void *buf)
{
	struct sev_snp_cmd_addr *b = buf;
	struct emu_snp *s = emu_snp_get(fw);
	uint64_t paddr = b->address & ~0xfffull;
	bool big = b->address & 1;
	struct emu_rmp_entry e;
	int st;

	if (b->address & 0xffeull)
		return SEV_STATUS_INVALID_PARAM;
	if (!s)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (s->state != SEV_SNP_PSTATE_INIT)
		return SEV_STATUS_INVALID_PLATFORM_STATE;
	if (emu_mem_check(fw->mem, paddr, big ? SEV_PAGE_SIZE * PFN_2M : SEV_PAGE_SIZE))
		return SEV_STATUS_INVALID_ADDRESS;
	st = emu_rmp_get(fw, paddr, &e);
	if (st)
		return st;
	if (e.big != big)
		return SEV_STATUS_INVALID_PAGE_SIZE;
	if (big && e.pfn != paddr / SEV_PAGE_SIZE)
		return SEV_STATUS_INVALID_ADDRESS;
	if (!e.immutable)
		return SEV_STATUS_SUCCESS;
	switch (emu_rmp_state_of(&e)) {
	case EMU_RMP_FIRMWARE:
	case EMU_RMP_PRE_GUEST:
		e.immutable = false;
		return emu_rmp_set(s->rmp, &e) < 0 ? SEV_STATUS_HWERROR_PLATFORM :
						      SEV_STATUS_SUCCESS;
	default:
		return SEV_STATUS_INVALID_PAGE_STATE;
	}
}

/* SNP_PAGE_SET_STATE's RANGE_LIST (AMD-ASPFW sev_rmp.c walk_reserved_list with
 * SNP_PAGE_SET_STATE_ADDR_RESERVED_MASK): the list must lie in mapped memory (INVALID_ADDRESS)
 * and within its 4 KiB page, its reserved word 0 and at most 255 ranges; each range's reserved
 * word 0 and its base 2 MiB aligned (INVALID_PARAM). Every page of every range must be mapped
 * (INVALID_ADDRESS) and a 4 KiB Firmware page (check_fw: INVALID_PAGE_STATE), all checked before
 * any entry changes. With set, the pages become HV-fixed. */
static int hv_fixed_ranges(struct emu_fw *fw, uint64_t list, bool set)
{
	uint32_t hdr[2];
	int st;

	if (emu_mem_check(fw->mem, list & ~0xfffull, SEV_PAGE_SIZE))
		return SEV_STATUS_INVALID_ADDRESS;
	st = emu_mem_read(fw->mem, list, hdr, sizeof(hdr));
	if (st)
		return st;
	if (hdr[1] || hdr[0] > SEV_PAGE_SIZE / 16 - 1 ||
	    8 + 16ull * hdr[0] + (list & 0xfff) > SEV_PAGE_SIZE)
		return SEV_STATUS_INVALID_PARAM;
	for (uint32_t i = 0; i < hdr[0]; i++) {
		struct {
			uint64_t base;
			uint32_t pages, reserved;
		} SEV_PACKED rg;

		st = emu_mem_read(fw->mem, list + 8 + 16ull * i, &rg, sizeof(rg));
		if (st)
			return st;
		if (rg.reserved || rg.base % (SEV_PAGE_SIZE * PFN_2M))
			return SEV_STATUS_INVALID_PARAM;
		for (uint64_t pg = 0; pg < rg.pages; pg++) {
			struct emu_rmp_entry e;

			st = emu_rmp_get(fw, rg.base + pg * SEV_PAGE_SIZE, &e);
			if (st)
				return st;
			if (e.big || emu_rmp_state_of(&e) != EMU_RMP_FIRMWARE)
				return SEV_STATUS_INVALID_PAGE_STATE;
			e = (struct emu_rmp_entry){ .pfn = e.pfn, .immutable = true };
			if (set && emu_rmp_set(fw->snp->rmp, &e) < 0)
				return SEV_STATUS_HWERROR_PLATFORM;
		}
	}
	return SEV_STATUS_SUCCESS;
}

/* SNP_PAGE_SET_STATE (AMD-ASPFW snp_mcmd_page_set_state, page_set_hv_fixed): the host hands a
 * RANGE_LIST of Firmware pages that become HV-fixed (not assigned, immutable: RMPUPDATE can no
 * longer change them, and no firmware command takes them). LENGTH ≠ 16 → INVALID_LEN;
 * reserved word or list address bits 11:0 → INVALID_PARAM; SNP not INIT →
 * INVALID_PLATFORM_STATE; then the list (hv_fixed_ranges), all or nothing. */
int emu_snp_page_set_state(struct emu_fw *fw, void *buf)
{
	const struct emu_snp_cmd_page_set_state *b = buf;
	struct emu_snp *s = emu_snp_get(fw);
	int st;

	/* AMD-ASPFW SEV_STATUS_INVALID_LENGTH, Linux SEV_RET_INVALID_LEN */
	if (b->length != sizeof(*b))
		return SEV_STATUS_INVALID_LEN;
	if (b->reserved || b->list_paddr & 0xfffull)
		return SEV_STATUS_INVALID_PARAM;
	if (!s)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (s->state != SEV_SNP_PSTATE_INIT)
		return SEV_STATUS_INVALID_PLATFORM_STATE;
	st = hv_fixed_ranges(fw, b->list_paddr, false);
	return st ? st : hv_fixed_ranges(fw, b->list_paddr, true);
}

/* SNP_PAGE_UNSMASH (AMD-ASPFW snp_mcmd_page_unsmash): the 512 4 KiB entries of a 2 MiB-aligned
 * range become one 2 MiB entry again (the reverse of the host's PSMASH). Reserved bits or an
 * unaligned address → INVALID_PARAM; every entry must be a 4 KiB guest page (ASID not 0, not a
 * VMSA), all in the same state with the same ASID and VMPL permissions, and their GPAs
 * consecutive from a 2 MiB-aligned one → INVALID_PAGE_STATE otherwise. */
int emu_snp_page_unsmash(struct emu_fw *fw, void *buf)
{
	struct sev_snp_cmd_addr *b = buf;
	struct emu_snp *s = emu_snp_get(fw);
	struct emu_rmp_entry first, e;
	int st;

	if (b->address & 0xfffull || b->address % (SEV_PAGE_SIZE * PFN_2M))
		return SEV_STATUS_INVALID_PARAM;
	if (!s)
		return SEV_STATUS_HWERROR_PLATFORM;
	if (s->state != SEV_SNP_PSTATE_INIT)
		return SEV_STATUS_INVALID_PLATFORM_STATE;
	if (emu_mem_check(fw->mem, b->address, SEV_PAGE_SIZE * PFN_2M))
		return SEV_STATUS_INVALID_ADDRESS;
	for (unsigned i = 0; i < PFN_2M; i++) {
		st = emu_rmp_get(fw, b->address + (uint64_t)i * SEV_PAGE_SIZE, &e);
		if (st)
			return st;
		if (i == 0)
			first = e;
		if (e.big || !e.assigned || e.vmsa || e.asid == 0 || e.asid != first.asid ||
		    emu_rmp_state_of(&e) != emu_rmp_state_of(&first) ||
		    memcmp(e.vmpl_perms, first.vmpl_perms, sizeof(e.vmpl_perms)) ||
		    e.gpa != first.gpa + (uint64_t)i * SEV_PAGE_SIZE ||
		    first.gpa % (SEV_PAGE_SIZE * PFN_2M))
			return SEV_STATUS_INVALID_PAGE_STATE;
	}
	for (unsigned i = 1; i < PFN_2M; i++) {
		struct emu_rmp_entry gone = { .pfn = first.pfn + i };

		emu_rmp_set(s->rmp, &gone); /* the hypervisor state: not stored */
	}
	first.big = true;
	return emu_rmp_set(s->rmp, &first) < 0 ? SEV_STATUS_HWERROR_PLATFORM : SEV_STATUS_SUCCESS;
}

/* CTL `snp-guests`: what a crash test compares with the daemon's view, one line each:
 *   guests=N (the SNP_PLATFORM_STATUS guest count)
 *   guest gctx=0x.. asid=A state=S   for every launched guest (S: enum sev_snp_guest_state)
 *   orphan paddr=0x.. state=NAME asid=A   an assigned page of no live guest: a guest page
 *     whose ASID no guest holds, or a context page that is no guest's; or a Firmware or
 *     Reclaim page (the host's, given to firmware) in a region whose client connection is
 *     gone (emu_mem_abandoned: memory that outlived a killed client, such as request pages it
 *     kept; the TMR excepted): nobody gives it back to the hypervisor
 *   assigned=N orphans=M   the assigned pages in the RMP and how many are orphans
 * Orphans are listed up to 16; the count is exact. */
int emu_snp_ctl_guests(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len)
{
	struct emu_snp *s = emu_snp_get(fw);
	unsigned assigned = 0, orphans = 0;
	size_t n = 0;

	(void)arg;
	if (!s)
		return reply(out, cap, len, -EOPNOTSUPP, "snp-guests: SNP is off (start the "
			     "emulator with --snp)");
#define PUT(...)                                                                                   \
	do {                                                                                       \
		int k_ = snprintf((char *)out + n, cap - n, __VA_ARGS__);                          \
		if (k_ < 0 || (size_t)k_ >= cap - n)                                               \
			return reply(out, cap, len, -ENOSPC, "snp-guests: too many guests");       \
		n += (size_t)k_;                                                                   \
	} while (0)
	PUT("guests=%u\n", s->guest_count);
	for (uint32_t i = 0; i < EMU_SNP_GUEST_MAX; i++)
		if (s->guest[i])
			PUT("guest gctx=0x%llx asid=%u state=%d\n",
			    (unsigned long long)s->guest[i]->gctx_paddr, s->guest[i]->asid,
			    s->guest[i]->state);
	for (size_t i = 0; s->rmp && i < s->rmp->n; i++) {
		const struct emu_rmp_entry *e = &s->rmp->e[i];
		enum emu_rmp_state st = emu_rmp_state_of(e);
		bool live = false;

		if (!e->assigned)
			continue;
		assigned++;
		if (st == EMU_RMP_FIRMWARE || st == EMU_RMP_RECLAIM)
			live = !emu_mem_abandoned(fw->mem, e->pfn << 12); /* the host's pages */
		else if (st == EMU_RMP_CONTEXT)
			live = emu_snp_guest_find(fw, e->pfn << 12) != NULL;
		else
			live = e->asid && emu_snp_asid_held(fw, e->asid);
		if (live)
			continue;
		if (orphans++ < 16)
			PUT("orphan paddr=0x%llx state=%s asid=%u\n",
			    (unsigned long long)(e->pfn << 12), emu_rmp_state_name(st), e->asid);
	}
	PUT("assigned=%u orphans=%u", assigned, orphans);
#undef PUT
	*len = n;
	return 0;
}
