/* Client memory regions of sev-psp-emu (see memory.h). The address space is sparse: region i
 * lives at (i + 1) << 40 and a fresh region takes a fresh index, so a stale address from an
 * unmapped region never silently lands in a new one (until the index space wraps, 2^23 maps). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>

#include "common/macros.h"
#include "psp/emu-wire.h"
#include "psp/emu/memory.h"
#include "psp/sev-abi.h"

struct emu_region {
	uint64_t base, size, owner;
	uint64_t creator; /* the connection that mapped it; 0: none known */
	uint8_t *map;
	bool fixed;	/* sealed against shrinking: its pages cannot vanish (no SIGBUS) */
	bool abandoned; /* the creator's connection closed (emu_mem_conn_gone) */
};

struct emu_mem {
	struct emu_region regions[EMU_MEM_MAX_REGIONS];
	unsigned n;
	uint64_t next_index; /* region index for the next map, only grows */
	uint64_t prot_base, prot_len; /* firmware's range (the TMR), 0 = none */
	uint64_t cbit_mask;	       /* the C-bit, ignored in every address */
};

/* SIGBUS guard: a client may truncate its memfd after mapping; touching the vanished pages
 * raises SIGBUS, which must become INVALID_ADDRESS rather than kill the firmware. */
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	if (bus_armed)
		siglongjmp(bus_jmp, 1);
	signal(sig, SIG_DFL); /* a SIGBUS outside a guarded copy is a real bug: die loudly */
	raise(sig);
}

int emu_mem_new(struct emu_mem **ret)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_NODEFER };
	struct emu_mem *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) < 0) {
		free(m);
		return negative_errno();
	}
	*ret = m;
	return 0;
}

static void region_drop(struct emu_mem *m, unsigned i)
{
	munmap(m->regions[i].map, m->regions[i].size);
	m->regions[i] = m->regions[--m->n];
}

void emu_mem_free(struct emu_mem *m)
{
	if (!m)
		return;
	while (m->n > 0)
		region_drop(m, m->n - 1);
	free(m);
}

int emu_mem_map(struct emu_mem *m, int fd, uint64_t size, uint64_t owner, uint64_t *ret_base)
{
	return emu_mem_map_by(m, fd, size, owner, 0, ret_base);
}

int emu_mem_map_by(struct emu_mem *m, int fd, uint64_t size, uint64_t owner, uint64_t creator,
		   uint64_t *ret_base)
{
	struct stat st;
	int seals;
	void *p;

	if (size == 0 || size % SEV_PAGE_SIZE || size > EMU_MEM_MAX_REGION_SIZE)
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < size)
		return -EINVAL;
	if (m->n >= EMU_MEM_MAX_REGIONS || m->next_index >= (1ull << (64 - EMU_REGION_SHIFT)) - 2)
		return -ENOSPC;
	/* Best effort: forbid shrinking (memfds created with MFD_ALLOW_SEALING); the SIGBUS
	 * guard covers the rest. */
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
	seals = fcntl(fd, F_GET_SEALS);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return negative_errno();
	/* no base with the C-bit: stripping it must not make one region's address another's */
	while ((((m->next_index + 1) << EMU_REGION_SHIFT) & m->cbit_mask) &&
	       m->next_index < (1ull << (64 - EMU_REGION_SHIFT)) - 2)
		m->next_index++;
	m->regions[m->n++] = (struct emu_region){
		.base = (m->next_index + 1) << EMU_REGION_SHIFT,
		.size = size,
		.owner = owner,
		.creator = creator,
		.map = p,
		.fixed = seals >= 0 && (seals & F_SEAL_SHRINK),
	};
	m->next_index++;
	*ret_base = m->regions[m->n - 1].base;
	return 0;
}

int emu_mem_unmap(struct emu_mem *m, uint64_t base)
{
	for (unsigned i = 0; i < m->n; i++)
		if (m->regions[i].base == base) {
			region_drop(m, i);
			return 0;
		}
	return -ENOENT;
}

void emu_mem_unmap_owner(struct emu_mem *m, uint64_t owner)
{
	for (unsigned i = m->n; i-- > 0;)
		if (owner != 0 && m->regions[i].owner == owner)
			region_drop(m, i);
}

void emu_mem_conn_gone(struct emu_mem *m, uint64_t id)
{
	emu_mem_unmap_owner(m, id);
	for (unsigned i = 0; id != 0 && i < m->n; i++)
		if (m->regions[i].creator == id)
			m->regions[i].abandoned = true;
}

bool emu_mem_abandoned(const struct emu_mem *m, uint64_t addr)
{
	addr &= ~m->cbit_mask;
	if (m->prot_len && addr >= m->prot_base && addr - m->prot_base < m->prot_len)
		return false; /* the TMR: firmware's while the platform is INIT, whoever mapped it */
	for (unsigned i = 0; i < m->n; i++)
		if (addr >= m->regions[i].base && addr - m->regions[i].base < m->regions[i].size)
			return m->regions[i].abandoned;
	return false;
}

unsigned emu_mem_count(const struct emu_mem *m)
{
	return m->n;
}

void emu_mem_set_cbit(struct emu_mem *m, unsigned bit)
{
	m->cbit_mask = bit >= EMU_REGION_SHIFT && bit < 64 ? 1ull << bit : 0;
}

uint64_t emu_mem_strip_cbit(const struct emu_mem *m, uint64_t addr)
{
	return addr & ~m->cbit_mask;
}

void emu_mem_protect(struct emu_mem *m, uint64_t base, uint64_t len)
{
	m->prot_base = base;
	m->prot_len = len;
}

static uint8_t *lookup_region(struct emu_mem *m, uint64_t addr, uint64_t len, bool *fixed)
{
	if (len == 0)
		return NULL;
	addr &= ~m->cbit_mask; /* validate_address_range: "exclude the c-bit" */
	/* AMD-ASPFW x86_copy.c validate_address_range: no range in a TMR (reserved or valid) */
	if (m->prot_len && (addr >= m->prot_base ? addr - m->prot_base < m->prot_len
						  : m->prot_base - addr < len))
		return NULL;
	for (unsigned i = 0; i < m->n; i++) {
		const struct emu_region *r = &m->regions[i];

		if (addr < r->base || addr - r->base >= r->size)
			continue;
		if (len > r->size - (addr - r->base))
			return NULL; /* runs off the end of its region */
		if (fixed)
			*fixed = r->fixed;
		return r->map + (addr - r->base);
	}
	return NULL;
}

static uint8_t *lookup(struct emu_mem *m, uint64_t addr, uint64_t len)
{
	return lookup_region(m, addr, len, NULL);
}

int emu_mem_check(struct emu_mem *m, uint64_t addr, uint64_t len)
{
	return lookup(m, addr, len) ? SEV_STATUS_SUCCESS : SEV_STATUS_INVALID_ADDRESS;
}

static int guarded_copy(void *dst, const void *src, size_t len)
{
	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		return SEV_STATUS_INVALID_ADDRESS;
	}
	bus_armed = 1;
	memcpy(dst, src, len);
	bus_armed = 0;
	return SEV_STATUS_SUCCESS;
}

int emu_mem_read(struct emu_mem *m, uint64_t addr, void *dst, size_t len)
{
	uint8_t *p = lookup(m, addr, len);

	return p ? guarded_copy(dst, p, len) : SEV_STATUS_INVALID_ADDRESS;
}

int emu_mem_write(struct emu_mem *m, uint64_t addr, const void *src, size_t len)
{
	uint8_t *p = lookup(m, addr, len);

	return p ? guarded_copy(p, src, len) : SEV_STATUS_INVALID_ADDRESS;
}

int emu_mem_write_with(struct emu_mem *m, uint64_t addr, size_t len, uint8_t *scratch,
		       int (*fn)(uint8_t *dst, void *arg), void *arg)
{
	bool fixed = false;
	uint8_t *p = lookup_region(m, addr, len, &fixed);

	if (!p)
		return SEV_STATUS_INVALID_ADDRESS;
	if (fixed) /* no guard: a SIGBUS here is not the client's doing, and kills us loudly */
		return fn(p, arg) < 0 ? SEV_STATUS_HWERROR_PLATFORM : SEV_STATUS_SUCCESS;
	if (fn(scratch, arg) < 0)
		return SEV_STATUS_HWERROR_PLATFORM;
	return guarded_copy(p, scratch, len);
}
