/* The KVM runner: one VM, one memory slot backed by the caller's memfd, one vCPU, and a loop
 * of "drain grant stream -> fill VMCB model -> bind ASID -> gate -> KVM_RUN -> record exit".
 * Devices: a UART transmit register at 0x3F8, a GHCB-MSR-style hypercall port pair
 * (guest/layout.h), an MMIO status register. The shape follows the kernel's KVM selftests
 * (tools/testing/selftests/kvm/lib/kvm_util.c: KVM_CREATE_VM, KVM_SET_USER_MEMORY_REGION,
 * KVM_CREATE_VCPU, mmap of kvm_run, KVM_RUN loop). Trusts: KVM; not the guest (every value a
 * guest hands over is bounded before use). */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "hv-glue/binding.h"
#include "hv-glue/guest/layout.h"
#include "hv-glue/kvm-runner.h"
#include "hv-glue/model-cpu.h"
#include "hv-glue/vmcb.h"

/* Model host-physical addresses for the structures a real VMM would allocate (IOPM, MSRPM,
 * nested page table root, VMSA). Only the gate reads them. */
#define MODEL_IOPM_PA 0x100000000ull
#define MODEL_MSRPM_PA 0x100003000ull
#define MODEL_NCR3_PA 0x100010000ull
#define MODEL_VMSA_PA 0x100020000ull

/* Interrupts a KVM_RUN that a guest spins in, so the deadline is checked (periodic, so a
 * signal landing just before KVM_RUN only delays the check by one period). */
#define RUNNER_SIGNAL (SIGRTMIN + 3)
#define RUNNER_TICK_NS 100000000L

struct hv_runner {
	struct hv_runner_config cfg;
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *mem;
	struct vmcb vmcb;
	int last_cpu;
	uint32_t ghcb_hi_in; /* high half latched by the guest before the VMGEXIT write */
	uint64_t ghcb_resp;  /* response the guest reads back */
	struct timespec deadline;
	struct hv_run_result res;
	bool stop;
	struct hv_model_cpu model; /* cfg.model_cpu: the vCPU's state */
};

int hv_kvm_available(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static void vmcb_control_init(struct vmcb *v)
{
	memset(v, 0, sizeof(*v));
	v->control.intercepts[VMCB_INTERCEPT_MISC1] = VMCB_MISC1_CPUID | VMCB_MISC1_HLT |
						      VMCB_MISC1_IOIO_PROT | VMCB_MISC1_MSR_PROT |
						      VMCB_MISC1_SHUTDOWN;
	v->control.intercepts[VMCB_INTERCEPT_MISC2] = VMCB_MISC2_VMRUN | VMCB_MISC2_VMMCALL;
	v->control.iopm_base_pa = MODEL_IOPM_PA;
	v->control.msrpm_base_pa = MODEL_MSRPM_PA;
	v->control.nested_ctl = VMCB_NP_ENABLE | VMCB_SEV_ENABLE;
	v->control.n_cr3 = MODEL_NCR3_PA;
}

static void seg_init(struct kvm_segment *s, uint16_t sel, uint8_t type, bool big)
{
	*s = (struct kvm_segment){.base = 0,
				  .limit = big ? 0xffffffff : 0xffff,
				  .selector = sel,
				  .type = type,
				  .present = 1,
				  .s = 1,
				  .db = big,
				  .g = big};
}

static int vcpu_setup(struct hv_runner *r)
{
	struct kvm_sregs s;
	struct kvm_regs g = {.rflags = 0x2, .rsp = r->cfg.stack};

	if (ioctl(r->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	if (r->cfg.mode == HV_MODE_PROT32) {
		seg_init(&s.cs, 0x08, 0xb, true); /* execute/read, accessed */
		seg_init(&s.ds, 0x10, 0x3, true); /* read/write, accessed */
		s.es = s.fs = s.gs = s.ss = s.ds;
		s.cr0 |= X86_CR0_PE;
		g.rip = r->cfg.entry;
	} else {
		s.cs.base = r->cfg.entry & 0xffff0;
		s.cs.selector = (uint16_t)(s.cs.base >> 4);
		g.rip = r->cfg.entry & 0xf;
	}
	if (ioctl(r->vcpu_fd, KVM_SET_SREGS, &s) < 0 || ioctl(r->vcpu_fd, KVM_SET_REGS, &g) < 0)
		return -errno;
	return 0;
}

static int vm_create(struct hv_runner *r)
{
	struct kvm_userspace_memory_region slot = {.slot = 0, .guest_phys_addr = 0};
	int sz;

	r->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (r->kvm_fd < 0)
		return -errno;
	if (ioctl(r->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return -EPROTONOSUPPORT;
	r->vm_fd = ioctl(r->kvm_fd, KVM_CREATE_VM, 0);
	if (r->vm_fd < 0)
		return -errno;
	r->mem = mmap(NULL, r->cfg.mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, r->cfg.mem_fd, 0);
	if (r->mem == MAP_FAILED) {
		r->mem = NULL;
		return -errno;
	}
	slot.memory_size = r->cfg.mem_size;
	slot.userspace_addr = (uintptr_t)r->mem;
	if (ioctl(r->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		return -errno;
	r->vcpu_fd = ioctl(r->vm_fd, KVM_CREATE_VCPU, 0);
	if (r->vcpu_fd < 0)
		return -errno;
	sz = ioctl(r->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run))
		return sz < 0 ? -errno : -EPROTO;
	r->run_size = (size_t)sz;
	r->run = mmap(NULL, r->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, r->vcpu_fd, 0);
	if (r->run == MAP_FAILED) {
		r->run = NULL;
		return -errno;
	}
	return vcpu_setup(r);
}

/* The model vCPU's "VM": guest memory mapped, a kvm_run-shaped page the exits are reported
 * in (so that the exit handlers serve both), and the real-mode start vcpu_setup gives KVM. */
static int model_create(struct hv_runner *r)
{
	if (r->cfg.mode != HV_MODE_REAL)
		return -EOPNOTSUPP;
	r->mem = mmap(NULL, r->cfg.mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, r->cfg.mem_fd, 0);
	if (r->mem == MAP_FAILED) {
		r->mem = NULL;
		return -errno;
	}
	r->run_size = 4096;
	r->run = mmap(NULL, r->run_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->run == MAP_FAILED) {
		r->run = NULL;
		return -errno;
	}
	r->model = (struct hv_model_cpu){.cs_base = (uint32_t)(r->cfg.entry & 0xffff0),
					 .ip = (uint16_t)(r->cfg.entry & 0xf)};
	return 0;
}

int hv_runner_new(const struct hv_runner_config *cfg, struct hv_runner **ret)
{
	struct hv_runner *r;
	int k;

	if (cfg->mem_fd < 0 || cfg->mem_size == 0 || (cfg->mem_size & 0xfff) || !cfg->bindings ||
	    !cfg->platform || cfg->entry >= cfg->mem_size)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	if (!r->cfg.max_exits)
		r->cfg.max_exits = 100000;
	if (!r->cfg.timeout_ms)
		r->cfg.timeout_ms = 10000;
	r->kvm_fd = r->vm_fd = r->vcpu_fd = -1;
	r->last_cpu = -1;
	/* the stream is drained between entries and must never block the vCPU */
	if (cfg->grant_fd >= 0 &&
	    fcntl(cfg->grant_fd, F_SETFL, fcntl(cfg->grant_fd, F_GETFL) | O_NONBLOCK) < 0) {
		free(r);
		return -errno;
	}
	vmcb_control_init(&r->vmcb);
	k = r->cfg.model_cpu ? model_create(r) : vm_create(r);
	if (k < 0) {
		hv_runner_free(r);
		return k;
	}
	*ret = r;
	return 0;
}

struct hv_runner *hv_runner_free(struct hv_runner *r)
{
	if (!r)
		return NULL;
	if (r->run)
		munmap(r->run, r->run_size);
	if (r->mem)
		munmap(r->mem, r->cfg.mem_size);
	if (r->vcpu_fd >= 0)
		close(r->vcpu_fd);
	if (r->vm_fd >= 0)
		close(r->vm_fd);
	if (r->kvm_fd >= 0)
		close(r->kvm_fd);
	free(r);
	return NULL;
}

const struct vmcb *hv_runner_vmcb(const struct hv_runner *r)
{
	return &r->vmcb;
}

struct vmcb *hv_runner_vmcb_mut(struct hv_runner *r)
{
	return &r->vmcb;
}

/* ---- the VMCB model from KVM's view of the vCPU ---- */

static void seg_to_vmcb(const struct kvm_segment *k, struct vmcb_seg *v)
{
	v->selector = k->selector;
	v->base = k->base;
	v->limit = k->limit;
	v->attrib =
	    (uint16_t)((k->type & VMCB_SEG_TYPE_MASK) | (k->s ? VMCB_SEG_S : 0) |
		       ((k->dpl & 3u) << VMCB_SEG_DPL_SHIFT) | (k->present ? VMCB_SEG_P : 0) |
		       (k->avl ? VMCB_SEG_AVL : 0) | (k->l ? VMCB_SEG_L : 0) |
		       (k->db ? VMCB_SEG_DB : 0) | (k->g ? VMCB_SEG_G : 0));
}

/* The model vCPU's save area: what KVM reports for the real-mode vCPU vcpu_setup makes (its
 * reset state, kvm_vcpu_reset / svm_vcpu_reset: CR0 ET|CD|NW, DR6 0xffff0ff0, DR7 0x400,
 * 64 KiB segments, TR a busy 16-bit TSS, LDTR an LDT), through the same SVME and CD/NW rules
 * as the KVM path. */
static void model_save_area(struct hv_runner *r)
{
	struct vmcb_save *s = &r->vmcb.save;
	struct kvm_segment data = {.limit = 0xffff, .type = 3, .present = 1, .s = 1},
			   code = {.limit = 0xffff, .type = 0xb, .present = 1, .s = 1},
			   tr = {.limit = 0xffff, .type = 0xb, .present = 1},
			   ldt = {.limit = 0xffff, .type = 2, .present = 1};

	code.base = r->model.cs_base;
	code.selector = (uint16_t)(r->model.cs_base >> 4);
	seg_to_vmcb(&data, &s->es);
	seg_to_vmcb(&code, &s->cs);
	seg_to_vmcb(&data, &s->ss);
	seg_to_vmcb(&data, &s->ds);
	seg_to_vmcb(&data, &s->fs);
	seg_to_vmcb(&data, &s->gs);
	seg_to_vmcb(&ldt, &s->ldtr);
	seg_to_vmcb(&tr, &s->tr);
	s->gdtr = (struct vmcb_seg){.limit = 0xffff};
	s->idtr = (struct vmcb_seg){.limit = 0xffff};
	s->cpl = 0;
	s->efer = X86_EFER_SVME;
	s->cr0 = (X86_CR0_ET | X86_CR0_CD | X86_CR0_NW) & ~(X86_CR0_CD | X86_CR0_NW);
	s->cr2 = s->cr3 = s->cr4 = 0;
	s->dr6 = 0xffff0ff0, s->dr7 = 0x400;
	s->rip = r->model.ip, s->rsp = r->cfg.stack, s->rflags = 0x2, s->rax = r->model.al;
}

static int sync_save_area(struct hv_runner *r)
{
	struct vmcb_save *s = &r->vmcb.save;
	struct kvm_sregs sr;
	struct kvm_regs g;
	struct kvm_debugregs d;

	if (r->cfg.model_cpu) {
		model_save_area(r);
		return 0;
	}
	if (ioctl(r->vcpu_fd, KVM_GET_SREGS, &sr) < 0 || ioctl(r->vcpu_fd, KVM_GET_REGS, &g) < 0 ||
	    ioctl(r->vcpu_fd, KVM_GET_DEBUGREGS, &d) < 0)
		return -errno;
	seg_to_vmcb(&sr.es, &s->es);
	seg_to_vmcb(&sr.cs, &s->cs);
	seg_to_vmcb(&sr.ss, &s->ss);
	seg_to_vmcb(&sr.ds, &s->ds);
	seg_to_vmcb(&sr.fs, &s->fs);
	seg_to_vmcb(&sr.gs, &s->gs);
	seg_to_vmcb(&sr.ldt, &s->ldtr);
	seg_to_vmcb(&sr.tr, &s->tr);
	s->gdtr = (struct vmcb_seg){.limit = sr.gdt.limit, .base = sr.gdt.base};
	s->idtr = (struct vmcb_seg){.limit = sr.idt.limit, .base = sr.idt.base};
	s->cpl = sr.cs.dpl & 3;
	/* As KVM's svm_set_efer / svm_set_cr0 do: the VMCB's EFER always carries SVME, and with
	 * the CD_NW_CLEARED quirk (default) the hardware CR0 has CD and NW cleared. */
	s->efer = sr.efer | X86_EFER_SVME;
	s->cr0 = sr.cr0 & ~(X86_CR0_CD | X86_CR0_NW);
	s->cr2 = sr.cr2, s->cr3 = sr.cr3, s->cr4 = sr.cr4;
	s->dr6 = d.dr6, s->dr7 = d.dr7;
	s->rip = g.rip, s->rsp = g.rsp, s->rflags = g.rflags, s->rax = g.rax;
	return 0;
}

/* ---- devices ---- */

static void serial_out(struct hv_runner *r, const uint8_t *p, size_t n)
{
	if (r->cfg.serial_fd >= 0)
		(void)loop_write(r->cfg.serial_fd, p, n);
}

/* The GHCB MSR protocol (GHCB spec §2.3.1), answered from the platform model; a GHCB page's
 * GPA instead (bits 11:0 zero) is a full exit, served by cfg.ghcb_exit. */
static void ghcb_msr_request(struct hv_runner *r, uint64_t msr)
{
	const uint32_t *c = r->cfg.platform->cpuid_8000001f;
	unsigned info = msr & 0xfff;

	r->vmcb.control.exitcode = SVM_EXIT_VMGEXIT;
	r->vmcb.control.ghcb_gpa = msr;
	r->vmcb.control.exitinfo1 = r->vmcb.control.exitinfo2 = 0;
	r->res.n_vmgexit++;
	if (info == HV_GHCB_MSR_SEV_INFO_REQ) {
		/* protocol versions 1..2, C-bit position from CPUID 8000_001F EBX[5:0] */
		r->ghcb_resp = (2ull << 48) | (1ull << 32) | ((uint64_t)(c[1] & 0x3f) << 24) |
			       HV_GHCB_MSR_SEV_INFO_RESP;
	} else if (info == HV_GHCB_MSR_CPUID_REQ) {
		uint32_t fn = (uint32_t)(msr >> 32), reg = (msr >> 30) & 3, v[4] = {0};
		if (fn == 0x8000001f)
			memcpy(v, c, sizeof(v));
		else
			__cpuid_count(fn, 0, v[0], v[1], v[2], v[3]);
		r->ghcb_resp =
		    ((uint64_t)v[reg] << 32) | ((uint64_t)reg << 30) | HV_GHCB_MSR_CPUID_RESP;
	} else if (info == 0 && msr && r->cfg.ghcb_exit) { /* a GHCB page's GPA: a full exit */
		int k = msr <= r->cfg.mem_size - HV_GHCB_PAGE_SIZE
				? r->cfg.ghcb_exit(r->cfg.ghcb_arg, r->mem, r->cfg.mem_size, msr)
				: -EFAULT;

		r->ghcb_resp = msr;
		if (k < 0) {
			r->res.stop = HV_STOP_ERROR;
			r->res.error = k;
			r->res.why = "the guest's GHCB exit could not be served";
			r->stop = true;
		}
	} else if (info == HV_GHCB_MSR_TERM_REQ) {
		r->res.stop = HV_STOP_TERMINATE;
		r->res.term_request = msr;
		r->stop = true;
	} else {
		r->res.stop = HV_STOP_ERROR;
		r->res.error = -EPROTO;
		r->res.why = "guest sent an unknown GHCB MSR request";
		r->stop = true;
	}
}

/* One I/O access of `size` bytes at data; in = guest reads. */
static void port_access(struct hv_runner *r, uint16_t port, bool in, uint8_t *data, unsigned size)
{
	uint32_t v = 0;

	if (!in)
		memcpy(&v, data, MIN(size, sizeof(v)));
	if (port == HV_GUEST_SERIAL_PORT && !in)
		serial_out(r, data, 1);
	else if (port == HV_GUEST_SERIAL_PORT + 5 && in)
		data[0] = 0x60; /* LSR: transmitter empty, holding register empty */
	else if (port == HV_GUEST_GHCB_PORT_HI && !in)
		r->ghcb_hi_in = v;
	else if (port == HV_GUEST_GHCB_PORT_LO && !in)
		ghcb_msr_request(r, (uint64_t)r->ghcb_hi_in << 32 | v);
	else if ((port == HV_GUEST_GHCB_PORT_LO || port == HV_GUEST_GHCB_PORT_HI) && in) {
		v = (uint32_t)(port == HV_GUEST_GHCB_PORT_LO ? r->ghcb_resp : r->ghcb_resp >> 32);
		memcpy(data, &v, MIN(size, sizeof(v)));
	} else if (in)
		memset(data, 0xff, size); /* nothing decodes this port */
}

/* EXITINFO1 of an IOIO intercept (APM 15.10.2). */
static uint64_t ioio_info(const struct hv_runner *r, const struct kvm_run *run)
{
	uint64_t info = (uint64_t)run->io.port << VMCB_IOIO_PORT_SHIFT;

	info |= run->io.size == 1   ? VMCB_IOIO_SZ8
		: run->io.size == 2 ? VMCB_IOIO_SZ16
				    : VMCB_IOIO_SZ32;
	info |= r->cfg.mode == HV_MODE_REAL ? VMCB_IOIO_A16 : VMCB_IOIO_A32;
	if (run->io.direction == KVM_EXIT_IO_IN)
		info |= VMCB_IOIO_IN;
	if (run->io.count > 1)
		info |= VMCB_IOIO_STR | VMCB_IOIO_REP;
	return info;
}

static void exit_io(struct hv_runner *r)
{
	struct kvm_run *run = r->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned size = run->io.size;
	struct kvm_regs g;

	/* data_offset/size/count come from KVM; still refuse anything outside the page. */
	if (size == 0 || size > 4 ||
	    run->io.data_offset + (uint64_t)size * run->io.count > r->run_size) {
		r->res.stop = HV_STOP_ERROR, r->res.error = -EPROTO, r->stop = true;
		r->res.why = "KVM reported an I/O exit outside the kvm_run page";
		return;
	}
	r->vmcb.control.exitcode = SVM_EXIT_IOIO;
	r->vmcb.control.exitinfo1 = ioio_info(r, run);
	/* EXITINFO2 = rIP of the next instruction; KVM reports the OUT/IN already stepped over */
	if (r->cfg.model_cpu)
		r->vmcb.control.exitinfo2 = r->model.ip;
	else
		r->vmcb.control.exitinfo2 = ioctl(r->vcpu_fd, KVM_GET_REGS, &g) == 0 ? g.rip : 0;
	r->vmcb.control.nrip = r->vmcb.control.exitinfo2;
	r->res.n_ioio++;
	for (unsigned i = 0; i < run->io.count; i++)
		port_access(r, run->io.port, run->io.direction == KVM_EXIT_IO_IN, data + i * size,
			    size);
}

/* MMIO = a guest-physical address with no memory behind it: a nested page fault on a real
 * host (APM 15.25.6): EXITINFO1 is the fault error code, EXITINFO2 the faulting GPA. */
static void exit_mmio(struct hv_runner *r)
{
	struct kvm_run *run = r->run;
	uint32_t v = 0;

	r->vmcb.control.exitcode = SVM_EXIT_NPF;
	r->vmcb.control.exitinfo1 = VMCB_NPF_FINAL_GPA | (run->mmio.is_write ? VMCB_NPF_WRITE : 0);
	r->vmcb.control.exitinfo2 = run->mmio.phys_addr;
	r->res.n_npf++;
	if (!run->mmio.is_write) {
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
		return;
	}
	if (run->mmio.phys_addr == HV_GUEST_STATUS_MMIO && run->mmio.len == 4) {
		memcpy(&v, run->mmio.data, 4);
		r->res.guest_status = v;
	}
}

static void record(struct hv_runner *r, uint64_t code, enum hv_run_stop stop)
{
	r->vmcb.control.exitcode = code;
	r->vmcb.control.exitinfo1 = r->vmcb.control.exitinfo2 = 0;
	r->res.stop = stop;
	r->stop = true;
}

static void handle_exit(struct hv_runner *r)
{
	r->res.exits++;
	switch (r->run->exit_reason) {
	case KVM_EXIT_IO:
		exit_io(r);
		break;
	case KVM_EXIT_MMIO:
		exit_mmio(r);
		break;
	case KVM_EXIT_HLT:
		r->res.n_hlt++;
		record(r, SVM_EXIT_HLT, HV_STOP_HALT);
		break;
	case KVM_EXIT_SHUTDOWN:
		r->res.n_other++;
		record(r, SVM_EXIT_SHUTDOWN, HV_STOP_SHUTDOWN);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		r->res.n_other++;
		record(r, SVM_EXIT_INVALID, HV_STOP_FAIL_ENTRY);
		break;
	case KVM_EXIT_HYPERCALL:
		/* KVM hands user space only KVM_HC_MAP_GPA_RANGE; this guest never asks. */
		r->res.n_other++;
		r->run->hypercall.ret = (uint64_t)-1000; /* -KVM_ENOSYS */
		r->vmcb.control.exitcode = SVM_EXIT_VMMCALL;
		break;
	default:
		r->res.n_other++;
		record(r, SVM_EXIT_INVALID, HV_STOP_ERROR);
		r->res.error = -EPROTO;
		r->res.why = r->cfg.model_cpu ? "the model vCPU met an instruction it does not "
						"interpret (only the gate tests' real-mode code runs "
						"without KVM)"
					      : "unexpected KVM exit reason";
	}
}

/* ---- the loop ---- */

/* Apply every frame already waiting. Returns -1 (with the stop filled in) when the stream can
 * no longer be trusted: malformed, contradicting the table, failing, or closed. */
static int drain_grants(struct hv_runner *r)
{
	struct hv_grant_msg m;
	const char *why = NULL;
	int k;

	if (r->cfg.grant_fd < 0)
		return 0;
	for (;;) {
		k = hv_grant_stream_read(r->cfg.grant_fd, &m, &why);
		if (k == -EAGAIN)
			return 0;
		if (k > 0) {
			k = hv_bindings_apply(r->cfg.bindings, &m);
			if (k >= 0)
				continue;
			why = "a grant/revoke message contradicts the binding table";
		} else if (k == 0) {
			k = -EPIPE;
			why = "the grant stream was closed: revocations could no longer arrive";
		} else if (!why)
			why = "reading the grant stream failed";
		r->res.stop = HV_STOP_GRANT_STREAM;
		r->res.error = k;
		r->res.why = why;
		return -1;
	}
}

static bool past_deadline(const struct hv_runner *r)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > r->deadline.tv_sec ||
	       (now.tv_sec == r->deadline.tv_sec && now.tv_nsec >= r->deadline.tv_nsec);
}

/* Bind and gate; false when VMRUN must not happen. */
static bool prepare_entry(struct hv_runner *r)
{
	const struct hv_grant *g = hv_bindings_find_handle(r->cfg.bindings, r->cfg.handle);
	int cpu = r->cfg.cpu >= 0 ? r->cfg.cpu : sched_getcpu();
	int k;

	if (g) {
		r->vmcb.control.nested_ctl &= ~VMCB_SEV_ES_ENABLE;
		r->vmcb.control.nested_ctl |= g->es ? VMCB_SEV_ES_ENABLE : 0;
		r->vmcb.control.vmsa_pa = g->es ? MODEL_VMSA_PA : 0;
	}
	/* No live grant leaves the old ASID in place: the gate then names the revocation. */
	if (cpu < 0)
		cpu = 0;
	k = hv_bindings_pre_run(r->cfg.bindings, r->cfg.handle, (unsigned)cpu, &r->last_cpu,
				&r->vmcb);
	r->res.gate = hv_gate_vmrun(&r->vmcb, r->cfg.platform, r->cfg.bindings, r->cfg.handle);
	if (r->res.gate == HV_GATE_PASS) {
		r->res.tlb_flushes += k > 0; /* counted only for entries that happen */
		return true;
	}
	hv_bindings_entry_refused(&r->last_cpu);
	r->res.stop = HV_STOP_GATE;
	return false;
}

static void on_tick(int sig)
{
	(void)sig; /* only there to make KVM_RUN return -EINTR */
}

static int timer_start(timer_t *t)
{
	struct sigaction sa = {.sa_handler = on_tick}; /* no SA_RESTART: KVM_RUN must return */
	struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = RUNNER_SIGNAL};
	struct itimerspec its = {.it_value.tv_nsec = RUNNER_TICK_NS,
				 .it_interval.tv_nsec = RUNNER_TICK_NS};

	ev._sigev_un._tid = gettid();
	if (sigaction(RUNNER_SIGNAL, &sa, NULL) < 0 || timer_create(CLOCK_MONOTONIC, &ev, t) < 0)
		return -errno;
	if (timer_settime(*t, 0, &its, NULL) < 0) {
		int k = -errno;
		timer_delete(*t);
		return k;
	}
	return 0;
}

/* One "KVM_RUN" of the model vCPU: interpret until an exit, reported in r->run as KVM would
 * report it; -EINTR after a slice of instructions without one (a spinning guest). */
static int model_enter(struct hv_runner *r)
{
	struct kvm_run *run = r->run;
	uint16_t port = 0;
	uint8_t val = 0;

	switch (hv_model_cpu_run(&r->model, r->mem, r->cfg.mem_size, 1u << 16, &port, &val)) {
	case HV_MODEL_OUT:
		run->exit_reason = KVM_EXIT_IO;
		run->io.direction = KVM_EXIT_IO_OUT;
		run->io.size = 1;
		run->io.port = port;
		run->io.count = 1;
		run->io.data_offset = 1024;
		((uint8_t *)run)[1024] = val;
		return 0;
	case HV_MODEL_HLT:
		run->exit_reason = KVM_EXIT_HLT;
		return 0;
	case HV_MODEL_BUDGET:
		return -EINTR;
	case HV_MODEL_UNKNOWN:
	default:
		run->exit_reason = KVM_EXIT_UNKNOWN;
		return 0;
	}
}

static int run_loop(struct hv_runner *r)
{
	int k;

	while (!r->stop) {
		if (drain_grants(r) < 0)
			break;
		if (r->res.exits >= r->cfg.max_exits) {
			r->res.stop = HV_STOP_EXIT_LIMIT;
			break;
		}
		if (past_deadline(r)) {
			r->res.stop = HV_STOP_TIMEOUT;
			break;
		}
		k = sync_save_area(r);
		if (k < 0)
			return k;
		if (!prepare_entry(r))
			break;
		r->res.kvm_runs++;
		if (r->cfg.model_cpu) {
			if (model_enter(r) < 0)
				continue; /* a spinning guest: the deadline is checked again */
		} else if (ioctl(r->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		handle_exit(r);
	}
	return 0;
}

int hv_runner_run(struct hv_runner *r, struct hv_run_result *ret)
{
	timer_t t;
	int k;

	r->res = (struct hv_run_result){.gate = HV_GATE_PASS};
	r->stop = false;
	timespec_after_ms(CLOCK_MONOTONIC, r->cfg.timeout_ms, &r->deadline);
	k = timer_start(&t);
	if (k < 0)
		return k;
	k = run_loop(r);
	timer_delete(t);
	if (k < 0)
		return k;
	*ret = r->res;
	return 0;
}

const char *hv_run_stop_name(enum hv_run_stop s)
{
	static const char *const names[] = {
	    [HV_STOP_HALT] = "halted",
	    [HV_STOP_GATE] = "VMRUN refused by the gate",
	    [HV_STOP_TERMINATE] = "guest requested termination",
	    [HV_STOP_SHUTDOWN] = "guest shut down (triple fault)",
	    [HV_STOP_FAIL_ENTRY] = "KVM failed to enter the guest",
	    [HV_STOP_EXIT_LIMIT] = "exit limit reached",
	    [HV_STOP_TIMEOUT] = "time limit reached",
	    [HV_STOP_GRANT_STREAM] = "grant stream failed",
	    [HV_STOP_ERROR] = "runner error",
	};
	return (unsigned)s < ELEMENTSOF(names) && names[s] ? names[s] : "unknown";
}
