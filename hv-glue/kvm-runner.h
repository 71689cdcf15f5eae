/* A minimal VMM over /dev/kvm that runs one vCPU through the VMRUN gate. Before every KVM_RUN
 * it fills the vCPU's VMCB model from KVM's state, binds the ASID from the daemon's grant
 * (hv_bindings_pre_run) and asks the gate; a refusal ends the run without entering the guest.
 * Every exit is recorded in the VMCB model with its SVM exit code. Guest memory is a memfd the
 * caller provides (the "plaintext view" of the guest's memory). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "hv-glue/gate.h"

struct hv_runner;
struct hv_bindings;
struct vmcb;

enum hv_cpu_mode {
	HV_MODE_REAL,	/* CS:IP from entry (CS base = entry & ~0xf), 16-bit */
	HV_MODE_PROT32, /* flat 4 GiB code/data segments, CR0.PE=1, paging off */
};

struct hv_runner_config {
	int mem_fd; /* guest RAM at GPA 0 .. mem_size (mapped shared) */
	uint64_t mem_size;
	enum hv_cpu_mode mode;
	uint64_t entry;	 /* guest-physical address of the first instruction */
	uint64_t stack;	 /* initial RSP */
	uint32_t handle; /* the guest handle whose grant this vCPU runs under */
	struct hv_bindings *bindings;
	const struct hv_platform *platform;
	int grant_fd;	     /* grant/revoke stream, drained before every entry; -1 = none */
	int serial_fd;	     /* UART bytes go here; -1 = discard */
	unsigned max_exits;  /* stop after this many exits (0 = 100000) */
	unsigned timeout_ms; /* stop after this long (0 = 10 s) */
	int cpu;	     /* physical CPU for the TLB model; -1 = sched_getcpu() */
	bool model_cpu;	     /* no KVM: the model vCPU interprets the guest (model-cpu.h; real
			      * mode only), for the runner's loop on hosts without /dev/kvm */
	/* A GHCB page exit: the guest wrote a page-aligned GPA (a GHCB, not an MSR-protocol
	 * request) to the GHCB port pair. Called with the guest's RAM and that GPA; answers in
	 * the GHCB (SW_EXITINFO2). A negative errno stops the run (HV_STOP_ERROR). NULL: such an
	 * exit stops the run as an unknown request. */
	int (*ghcb_exit)(void *arg, uint8_t *mem, uint64_t mem_size, uint64_t ghcb_gpa);
	void *ghcb_arg;
};

enum hv_run_stop {
	HV_STOP_HALT,	    /* the guest executed HLT: a clean end */
	HV_STOP_GATE,	    /* the gate refused VMRUN (result.gate says why) */
	HV_STOP_TERMINATE,  /* the guest sent a GHCB termination request */
	HV_STOP_SHUTDOWN,   /* triple fault */
	HV_STOP_FAIL_ENTRY, /* KVM could not enter the guest */
	HV_STOP_EXIT_LIMIT,
	HV_STOP_TIMEOUT,
	HV_STOP_GRANT_STREAM, /* the grant stream was malformed or closed: no safe way on */
	HV_STOP_ERROR,	      /* result.error holds -errno */
};

struct hv_run_result {
	enum hv_run_stop stop;
	enum hv_gate_reason gate;
	int error;
	const char *why;   /* extra detail for GRANT_STREAM / ERROR, static string */
	unsigned kvm_runs; /* KVM_RUN ioctls issued */
	unsigned exits;	   /* exits recorded */
	unsigned n_ioio, n_hlt, n_npf, n_vmgexit, n_other;
	unsigned tlb_flushes;  /* entries that requested TLB_CONTROL = FLUSH_ASID */
	uint32_t guest_status; /* last value written to HV_GUEST_STATUS_MMIO */
	uint64_t term_request; /* the GHCB termination request, when stop == TERMINATE */
};

/* Opens /dev/kvm, creates the VM, the memory slot and the vCPU. -ENOENT / -EACCES when
 * /dev/kvm is missing or not accessible (callers may skip), other -errno on failure. With
 * cfg->model_cpu, no KVM is opened: -EOPNOTSUPP unless the mode is HV_MODE_REAL. */
int hv_runner_new(const struct hv_runner_config *cfg, struct hv_runner **ret);
struct hv_runner *hv_runner_free(struct hv_runner *r);

/* Run until a stop condition; 0 with *ret filled (whatever the stop), -errno only when the
 * runner itself failed before it could decide. Can be called again to resume. */
int hv_runner_run(struct hv_runner *r, struct hv_run_result *ret);

/* The VMCB model of the vCPU (what the gate saw last; the last exit recorded). */
const struct vmcb *hv_runner_vmcb(const struct hv_runner *r);
/* Let tests break the model on purpose: hv_runner_run() keeps caller changes to the control
 * area's intercepts/nested_ctl/eventinj, and re-derives the rest from KVM. */
struct vmcb *hv_runner_vmcb_mut(struct hv_runner *r);

const char *hv_run_stop_name(enum hv_run_stop s);
/* 0 if /dev/kvm can be opened read-write, else -errno. */
int hv_kvm_available(void);
