/* The VMRUN gate: the checks a processor makes before it enters a guest (AMD64 APM vol. 2
 * §15.5.1 "canonicalization and consistency checks", §15.20 event injection, §15.34 SEV,
 * §15.35 SEV-ES), plus the binding check that only sevd's grants may put an ASID into a VMCB.
 * A pure function over a VMCB and a platform model; no I/O. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct vmcb;
struct hv_bindings;

/* What VMRUN depends on outside the VMCB. */
struct hv_platform {
	uint32_t cpuid_8000001f[4]; /* EAX, EBX, ECX (max SEV ASID), EDX (min plain-SEV ASID) */
	unsigned phys_addr_bits;    /* CPUID 8000_0008 EAX[7:0]: first address bit that is MBZ */
	bool long_mode;		    /* CPUID 8000_0001 EDX[29] */
	bool mem_encrypt;	    /* MSR SYSCFG[23] MemEncryptionModEn */
	bool smm_lock;		    /* MSR HWCR[0] SmmLock */
	bool host_64bit;	    /* the host executes VMRUN in 64-bit mode */
	bool host_svme;		    /* the host's EFER.SVME (else VMRUN is #UD) */
};

/* CPUID 8000_001F EAX bits (APM vol. 3, E.4.17). */
#define HV_CPUID_SEV (1u << 1)
#define HV_CPUID_SEV_ES (1u << 3)
#define HV_CPUID_SEV_REQ_64BIT_HOST (1u << 11) /* Req64BitHypervisor */

enum hv_gate_reason {
	HV_GATE_PASS = 0,
	/* VMRUN itself faults (#UD) before any check: */
	HV_GATE_HOST_SVME_OFF,
	/* APM 15.5.1 general checks: */
	HV_GATE_GUEST_SVME_OFF,
	HV_GATE_CR0_NW_WITHOUT_CD,
	HV_GATE_CR0_HIGH_BITS,
	HV_GATE_CR3_MBZ,
	HV_GATE_CR4_MBZ,
	HV_GATE_DR6_HIGH_BITS,
	HV_GATE_DR7_HIGH_BITS,
	HV_GATE_EFER_MBZ,
	HV_GATE_LONG_MODE_UNSUPPORTED,
	HV_GATE_LME_PG_WITHOUT_PAE,
	HV_GATE_LME_PG_WITHOUT_PE,
	HV_GATE_LONG_CS_L_AND_D,
	HV_GATE_VMRUN_NOT_INTERCEPTED,
	HV_GATE_PERMISSION_MAP_RANGE,
	HV_GATE_ASID_ZERO,
	HV_GATE_EVENTINJ_BAD_TYPE,
	HV_GATE_EVENTINJ_BAD_VECTOR,
	/* APM 15.34 / 15.35, SEV-FACTS §6-§7: */
	HV_GATE_SEV_NEEDS_NP,
	HV_GATE_ES_NEEDS_SEV,
	HV_GATE_SEV_UNSUPPORTED,
	HV_GATE_ES_UNSUPPORTED,
	HV_GATE_MEM_ENCRYPT_OFF,
	HV_GATE_SMM_UNLOCKED,
	HV_GATE_HOST_NOT_64BIT,
	HV_GATE_ASID_ABOVE_MAX,
	HV_GATE_ES_ASID_OUT_OF_RANGE,
	HV_GATE_SEV_ASID_IN_ES_RANGE,
	HV_GATE_ES_NO_VMSA,
	/* Binding (sevd owns the ASIDs; not a hardware check): */
	HV_GATE_NO_GRANT,
	HV_GATE_GRANT_REVOKED,
	HV_GATE_GRANT_OTHER_GUEST,
	HV_GATE_GRANT_ES_MISMATCH,
	_HV_GATE_REASON_MAX,
};

/* Decide whether VMRUN of this VMCB, on behalf of guest `handle`, would enter the guest.
 * bindings may be NULL only for a VMCB without SEV_ENABLE. */
enum hv_gate_reason hv_gate_check(const struct vmcb *vmcb, const struct hv_platform *plat,
				  const struct hv_bindings *bindings, uint32_t handle);

/* hv_gate_check, and on refusal do what the processor does: EXITCODE = VMEXIT_INVALID (-1),
 * EXITINFO1/2 = 0 (except for HV_GATE_HOST_SVME_OFF, a #UD, which leaves the VMCB alone). */
enum hv_gate_reason hv_gate_vmrun(struct vmcb *vmcb, const struct hv_platform *plat,
				  const struct hv_bindings *bindings, uint32_t handle);

/* Short stable identifier ("asid-zero") and a sentence naming the rule and its source. */
const char *hv_gate_reason_name(enum hv_gate_reason r);
const char *hv_gate_reason_text(enum hv_gate_reason r);

/* A platform model with SEV and SEV-ES on and the given ASID ranges (ECX, EDX). */
void hv_platform_init(struct hv_platform *plat, uint32_t max_asid, uint32_t min_sev_asid);
