/* A model vCPU for the runner where /dev/kvm is missing: it interprets the handful of real-mode
 * instructions the gate tests' guest uses, so that the runner's loop around entry (draining
 * the grant stream, filling the VMCB model, binding the ASID, asking the gate, recording the
 * exit) runs the same way with and without KVM. It is no emulator of x86: anything else is an
 * instruction it does not interpret, and the run stops with an error naming it. */
#pragma once

#include <stdint.h>

struct hv_model_cpu {
	uint32_t cs_base; /* real mode: linear = cs_base + ip */
	uint16_t ip, dx;
	uint8_t al;
};

enum hv_model_stop {
	HV_MODEL_OUT,	  /* OUT DX, AL: *ret_port and *ret_val set; ip past the instruction */
	HV_MODEL_HLT,	  /* HLT; ip past it */
	HV_MODEL_BUDGET,  /* `budget` instructions ran without an exit (a spinning guest) */
	HV_MODEL_UNKNOWN, /* an opcode it does not interpret, or code outside guest memory */
};

/* Interpret from cs_base:ip in mem (mem_size bytes at GPA 0). */
enum hv_model_stop hv_model_cpu_run(struct hv_model_cpu *c, uint8_t *mem, uint64_t mem_size,
				    unsigned budget, uint16_t *ret_port, uint8_t *ret_val);
