/* The VMRUN gate as a table of checks, evaluated in order; the first violated one is the
 * reason. Sources: AMD64 APM vol. 2 §15.5.1 (illegal guest state), §15.20 (event injection),
 * §15.34.1-3 (SEV enable, ASID ranges, SYSCFG/HWCR prerequisites), §15.35 (SEV-ES, VMSA), and
 * SEV-FACTS.md §6-§7. Trusts nothing in the VMCB; the platform model and the binding table are
 * the host's own state. Pure: no I/O, no allocation. */
#include <stddef.h>

#include "common/macros.h"
#include "hv-glue/binding.h"
#include "hv-glue/gate.h"
#include "hv-glue/vmcb.h"

struct gate_ctx {
	const struct vmcb *v;
	const struct hv_platform *p;
	const struct hv_bindings *b;
	uint32_t handle;
};

#define CPUID_EAX(c) ((c)->p->cpuid_8000001f[0])
#define CPUID_ECX(c) ((c)->p->cpuid_8000001f[2])
#define CPUID_EDX(c) ((c)->p->cpuid_8000001f[3])

/* EFER bits this model implements (APM 3.1.7): SCE, LME, LMA, NXE, SVME, LMSLE, FFXSR, TCE,
 * MCOMMIT, INTWB, UAIE, AIBRSE. Everything else is MBZ. */
#define EFER_DEFINED (0x1ull | (0xfdull << 8) | (1ull << 17) | (1ull << 18) | (3ull << 20))
/* CR4 bits defined on AMD (APM 3.1.3): 0-12, FSGSBASE 16, PCIDE 17, OSXSAVE 18, SMEP 20,
 * SMAP 21, PKE 22, CET 23. Bits 13-15, 19 and 24-63 are MBZ. */
#define CR4_DEFINED (0x1fffull | (7ull << 16) | (0xfull << 20))

static bool sev_on(const struct gate_ctx *c)
{
	return c->v->control.nested_ctl & VMCB_SEV_ENABLE;
}

static bool es_on(const struct gate_ctx *c)
{
	return c->v->control.nested_ctl & VMCB_SEV_ES_ENABLE;
}

static bool lme_pg(const struct gate_ctx *c)
{
	return (c->v->save.efer & X86_EFER_LME) && (c->v->save.cr0 & X86_CR0_PG);
}

static uint64_t above_phys(const struct gate_ctx *c)
{
	unsigned bits = c->p->phys_addr_bits;
	return bits >= 64 ? 0 : ~0ull << bits;
}

static bool host_svme_off(const struct gate_ctx *c)
{
	return !c->p->host_svme;
}
static bool guest_svme_off(const struct gate_ctx *c)
{
	return !(c->v->save.efer & X86_EFER_SVME);
}

static bool cr0_nw_without_cd(const struct gate_ctx *c)
{
	return !(c->v->save.cr0 & X86_CR0_CD) && (c->v->save.cr0 & X86_CR0_NW);
}

static bool cr0_high(const struct gate_ctx *c)
{
	return c->v->save.cr0 >> 32;
}

/* In long mode CR3 holds a physical address: bits at or above MAXPHYADDR are MBZ. Outside
 * long mode CR3 is 32 bits wide and bits 63:32 are MBZ. */
static bool cr3_mbz(const struct gate_ctx *c)
{
	if (lme_pg(c) || (c->v->save.efer & X86_EFER_LMA))
		return c->v->save.cr3 & above_phys(c);
	return c->v->save.cr3 >> 32;
}

static bool cr4_mbz(const struct gate_ctx *c)
{
	return c->v->save.cr4 & ~CR4_DEFINED;
}
static bool dr6_high(const struct gate_ctx *c)
{
	return c->v->save.dr6 >> 32;
}
static bool dr7_high(const struct gate_ctx *c)
{
	return c->v->save.dr7 >> 32;
}
static bool efer_mbz(const struct gate_ctx *c)
{
	return c->v->save.efer & ~EFER_DEFINED;
}

static bool long_mode_unsupported(const struct gate_ctx *c)
{
	return !c->p->long_mode && (c->v->save.efer & (X86_EFER_LME | X86_EFER_LMA));
}

static bool lme_pg_no_pae(const struct gate_ctx *c)
{
	return lme_pg(c) && !(c->v->save.cr4 & X86_CR4_PAE);
}

static bool lme_pg_no_pe(const struct gate_ctx *c)
{
	return lme_pg(c) && !(c->v->save.cr0 & X86_CR0_PE);
}

static bool long_cs_l_and_d(const struct gate_ctx *c)
{
	uint16_t a = c->v->save.cs.attrib;
	return lme_pg(c) && (c->v->save.cr4 & X86_CR4_PAE) && (a & VMCB_SEG_L) && (a & VMCB_SEG_DB);
}

static bool vmrun_not_intercepted(const struct gate_ctx *c)
{
	return !(c->v->control.intercepts[VMCB_INTERCEPT_MISC2] & VMCB_MISC2_VMRUN);
}

/* The IOPM is 12 KiB and the MSRPM 8 KiB (APM 15.10.1, 15.11); both must end below
 * MAXPHYADDR. */
static bool permission_map_range(const struct gate_ctx *c)
{
	uint64_t lim = above_phys(c);
	return ((c->v->control.iopm_base_pa + 12 * 1024 - 1) & lim) ||
	       ((c->v->control.msrpm_base_pa + 8 * 1024 - 1) & lim);
}

static bool asid_zero(const struct gate_ctx *c)
{
	return c->v->control.asid == 0;
}

static unsigned event_type(const struct gate_ctx *c)
{
	return (c->v->control.eventinj & VMCB_EVENT_TYPE_MASK) >> VMCB_EVENT_TYPE_SHIFT;
}

static bool event_valid(const struct gate_ctx *c)
{
	return c->v->control.eventinj & VMCB_EVENT_VALID;
}

/* APM 15.20: types 1, 5, 6, 7 are reserved. */
static bool eventinj_bad_type(const struct gate_ctx *c)
{
	unsigned t = event_type(c);
	return event_valid(c) && t != VMCB_EVENT_TYPE_INTR && t != VMCB_EVENT_TYPE_NMI &&
	       t != VMCB_EVENT_TYPE_EXCEPTION && t != VMCB_EVENT_TYPE_SOFT_INT;
}

/* APM 15.20: an exception-type injection whose vector is not an exception (2 is the NMI;
 * 15, 22-27 and 31 are reserved; 32 and above are interrupts) is illegal. */
static bool eventinj_bad_vector(const struct gate_ctx *c)
{
	unsigned v = c->v->control.eventinj & VMCB_EVENT_VECTOR_MASK;
	if (!event_valid(c) || event_type(c) != VMCB_EVENT_TYPE_EXCEPTION)
		return false;
	return v == 2 || v == 15 || (v >= 22 && v <= 27) || v >= 31;
}

static bool sev_needs_np(const struct gate_ctx *c)
{
	return sev_on(c) && !(c->v->control.nested_ctl & VMCB_NP_ENABLE);
}

static bool es_needs_sev(const struct gate_ctx *c)
{
	return es_on(c) && !sev_on(c);
}
static bool sev_unsupported(const struct gate_ctx *c)
{
	return sev_on(c) && (!(CPUID_EAX(c) & HV_CPUID_SEV) || CPUID_ECX(c) == 0);
}
static bool es_unsupported(const struct gate_ctx *c)
{
	return es_on(c) && !(CPUID_EAX(c) & HV_CPUID_SEV_ES);
}
static bool mem_encrypt_off(const struct gate_ctx *c)
{
	return sev_on(c) && !c->p->mem_encrypt;
}
static bool smm_unlocked(const struct gate_ctx *c)
{
	return sev_on(c) && !c->p->smm_lock;
}

static bool host_not_64bit(const struct gate_ctx *c)
{
	return sev_on(c) && (CPUID_EAX(c) & HV_CPUID_SEV_REQ_64BIT_HOST) && !c->p->host_64bit;
}

static bool asid_above_max(const struct gate_ctx *c)
{
	return sev_on(c) && c->v->control.asid > CPUID_ECX(c);
}

/* SEV-ES guests use ASIDs 1 .. EDX-1 (none when EDX <= 1); plain SEV guests EDX .. ECX. */
static bool es_asid_out_of_range(const struct gate_ctx *c)
{
	return es_on(c) && c->v->control.asid >= CPUID_EDX(c);
}

static bool sev_asid_in_es_range(const struct gate_ctx *c)
{
	return sev_on(c) && !es_on(c) && c->v->control.asid < CPUID_EDX(c);
}

/* SEV-ES: the guest state is the VMSA page (APM 15.35.2); it must be a page-aligned
 * physical address below MAXPHYADDR. */
static bool es_no_vmsa(const struct gate_ctx *c)
{
	uint64_t pa = c->v->control.vmsa_pa;
	return es_on(c) && (pa == 0 || (pa & 0xfff) || (pa & above_phys(c)));
}

static const struct hv_grant *grant_of(const struct gate_ctx *c)
{
	return c->b ? hv_bindings_lookup(c->b, c->v->control.asid) : NULL;
}

static bool no_grant(const struct gate_ctx *c)
{
	return sev_on(c) && !grant_of(c);
}
static bool grant_revoked(const struct gate_ctx *c)
{
	return sev_on(c) && !grant_of(c)->live;
}
static bool grant_other_guest(const struct gate_ctx *c)
{
	return sev_on(c) && grant_of(c)->handle != c->handle;
}
static bool grant_es_mismatch(const struct gate_ctx *c)
{
	return sev_on(c) && grant_of(c)->es != es_on(c);
}

/* Order matters only for which reason is named when several rules fail; the binding rules
 * come last because they dereference the grant the earlier ones proved to exist. */
static const struct {
	enum hv_gate_reason reason;
	bool (*violated)(const struct gate_ctx *c);
} checks[] = {
    {HV_GATE_HOST_SVME_OFF, host_svme_off},
    {HV_GATE_GUEST_SVME_OFF, guest_svme_off},
    {HV_GATE_CR0_NW_WITHOUT_CD, cr0_nw_without_cd},
    {HV_GATE_CR0_HIGH_BITS, cr0_high},
    {HV_GATE_CR3_MBZ, cr3_mbz},
    {HV_GATE_CR4_MBZ, cr4_mbz},
    {HV_GATE_DR6_HIGH_BITS, dr6_high},
    {HV_GATE_DR7_HIGH_BITS, dr7_high},
    {HV_GATE_EFER_MBZ, efer_mbz},
    {HV_GATE_LONG_MODE_UNSUPPORTED, long_mode_unsupported},
    {HV_GATE_LME_PG_WITHOUT_PAE, lme_pg_no_pae},
    {HV_GATE_LME_PG_WITHOUT_PE, lme_pg_no_pe},
    {HV_GATE_LONG_CS_L_AND_D, long_cs_l_and_d},
    {HV_GATE_VMRUN_NOT_INTERCEPTED, vmrun_not_intercepted},
    {HV_GATE_PERMISSION_MAP_RANGE, permission_map_range},
    {HV_GATE_ASID_ZERO, asid_zero},
    {HV_GATE_EVENTINJ_BAD_TYPE, eventinj_bad_type},
    {HV_GATE_EVENTINJ_BAD_VECTOR, eventinj_bad_vector},
    {HV_GATE_ES_NEEDS_SEV, es_needs_sev},
    {HV_GATE_SEV_NEEDS_NP, sev_needs_np},
    {HV_GATE_SEV_UNSUPPORTED, sev_unsupported},
    {HV_GATE_ES_UNSUPPORTED, es_unsupported},
    {HV_GATE_MEM_ENCRYPT_OFF, mem_encrypt_off},
    {HV_GATE_SMM_UNLOCKED, smm_unlocked},
    {HV_GATE_HOST_NOT_64BIT, host_not_64bit},
    {HV_GATE_ASID_ABOVE_MAX, asid_above_max},
    {HV_GATE_ES_ASID_OUT_OF_RANGE, es_asid_out_of_range},
    {HV_GATE_SEV_ASID_IN_ES_RANGE, sev_asid_in_es_range},
    {HV_GATE_ES_NO_VMSA, es_no_vmsa},
    {HV_GATE_NO_GRANT, no_grant},
    {HV_GATE_GRANT_REVOKED, grant_revoked},
    {HV_GATE_GRANT_OTHER_GUEST, grant_other_guest},
    {HV_GATE_GRANT_ES_MISMATCH, grant_es_mismatch},
};
_Static_assert(ELEMENTSOF(checks) == _HV_GATE_REASON_MAX - 1, "every reason has a check");

enum hv_gate_reason hv_gate_check(const struct vmcb *vmcb, const struct hv_platform *plat,
				  const struct hv_bindings *bindings, uint32_t handle)
{
	const struct gate_ctx c = {.v = vmcb, .p = plat, .b = bindings, .handle = handle};

	for (size_t i = 0; i < ELEMENTSOF(checks); i++)
		if (checks[i].violated(&c))
			return checks[i].reason;
	return HV_GATE_PASS;
}

enum hv_gate_reason hv_gate_vmrun(struct vmcb *vmcb, const struct hv_platform *plat,
				  const struct hv_bindings *bindings, uint32_t handle)
{
	enum hv_gate_reason r = hv_gate_check(vmcb, plat, bindings, handle);

	if (r != HV_GATE_PASS && r != HV_GATE_HOST_SVME_OFF) {
		vmcb->control.exitcode = SVM_EXIT_INVALID;
		vmcb->control.exitinfo1 = 0;
		vmcb->control.exitinfo2 = 0;
	}
	return r;
}

static const struct {
	const char *name;
	const char *text;
} reasons[_HV_GATE_REASON_MAX] = {
    [HV_GATE_PASS] = {"pass", "all VMRUN checks passed"},
    [HV_GATE_HOST_SVME_OFF] = {"host-svme-off",
			       "host EFER.SVME is clear: VMRUN raises #UD (APM 15.4)"},
    [HV_GATE_GUEST_SVME_OFF] = {"guest-svme-off", "guest EFER.SVME is zero (APM 15.5.1)"},
    [HV_GATE_CR0_NW_WITHOUT_CD] = {"cr0-nw-without-cd",
				   "CR0.CD is zero while CR0.NW is set (APM 15.5.1)"},
    [HV_GATE_CR0_HIGH_BITS] = {"cr0-high-bits", "CR0[63:32] are not zero (APM 15.5.1)"},
    [HV_GATE_CR3_MBZ] = {"cr3-mbz", "a must-be-zero bit of CR3 is set (APM 15.5.1)"},
    [HV_GATE_CR4_MBZ] = {"cr4-mbz", "a must-be-zero bit of CR4 is set (APM 15.5.1)"},
    [HV_GATE_DR6_HIGH_BITS] = {"dr6-high-bits", "DR6[63:32] are not zero (APM 15.5.1)"},
    [HV_GATE_DR7_HIGH_BITS] = {"dr7-high-bits", "DR7[63:32] are not zero (APM 15.5.1)"},
    [HV_GATE_EFER_MBZ] = {"efer-mbz", "a must-be-zero bit of EFER is set (APM 15.5.1)"},
    [HV_GATE_LONG_MODE_UNSUPPORTED] =
	{"long-mode-unsupported",
	 "EFER.LME/LMA set but the processor has no long mode (APM 15.5.1)"},
    [HV_GATE_LME_PG_WITHOUT_PAE] = {"lme-pg-without-pae",
				    "EFER.LME and CR0.PG set with CR4.PAE clear (APM 15.5.1)"},
    [HV_GATE_LME_PG_WITHOUT_PE] = {"lme-pg-without-pe",
				   "EFER.LME and CR0.PG set with CR0.PE clear (APM 15.5.1)"},
    [HV_GATE_LONG_CS_L_AND_D] = {"long-cs-l-and-d",
				 "EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D all set (APM 15.5.1)"},
    [HV_GATE_VMRUN_NOT_INTERCEPTED] = {"vmrun-not-intercepted",
				       "the VMRUN intercept bit is clear (APM 15.5.1)"},
    [HV_GATE_PERMISSION_MAP_RANGE] =
	{"permission-map-range",
	 "the IOPM or MSRPM extends past the maximum physical address (APM 15.5.1)"},
    [HV_GATE_ASID_ZERO] = {"asid-zero", "the VMCB's ASID is 0, the host's (APM 15.5.1)"},
    [HV_GATE_EVENTINJ_BAD_TYPE] = {"eventinj-bad-type",
				   "EVENTINJ uses a reserved event type (APM 15.20)"},
    [HV_GATE_EVENTINJ_BAD_VECTOR] =
	{"eventinj-bad-vector",
	 "EVENTINJ injects an exception with a vector that is not an exception (APM 15.20)"},
    [HV_GATE_SEV_NEEDS_NP] = {"sev-needs-np",
			      "SEV_ENABLE is set but nested paging is off (APM 15.34.1)"},
    [HV_GATE_ES_NEEDS_SEV] = {"es-needs-sev",
			      "SEV_ES_ENABLE is set without SEV_ENABLE (APM 15.35)"},
    [HV_GATE_SEV_UNSUPPORTED] =
	{"sev-unsupported",
	 "SEV is not supported: CPUID 8000_001F EAX[1] clear or ECX 0 (APM 15.34.1)"},
    [HV_GATE_ES_UNSUPPORTED] =
	{"es-unsupported", "SEV-ES is not supported: CPUID 8000_001F EAX[3] clear (APM 15.35)"},
    [HV_GATE_MEM_ENCRYPT_OFF] = {"mem-encrypt-off",
				 "SYSCFG.MemEncryptionModEn is clear: the platform has memory "
				 "encryption off (APM 15.34.1)"},
    [HV_GATE_SMM_UNLOCKED] = {"smm-unlocked", "HWCR.SmmLock is clear (APM 15.34.1)"},
    [HV_GATE_HOST_NOT_64BIT] = {"host-not-64bit",
				"CPUID 8000_001F EAX[11] requires a 64-bit host and VMRUN ran "
				"outside 64-bit mode (APM 15.34.1)"},
    [HV_GATE_ASID_ABOVE_MAX] =
	{"asid-above-max",
	 "the ASID is above CPUID 8000_001F[ECX], the largest SEV ASID (APM 15.34.2)"},
    [HV_GATE_ES_ASID_OUT_OF_RANGE] =
	{"es-asid-out-of-range",
	 "an SEV-ES guest needs an ASID below CPUID 8000_001F[EDX] (APM 15.35)"},
    [HV_GATE_SEV_ASID_IN_ES_RANGE] =
	{"sev-asid-in-es-range",
	 "a plain SEV guest needs an ASID of at least CPUID 8000_001F[EDX] (APM 15.34.2)"},
    [HV_GATE_ES_NO_VMSA] = {"es-no-vmsa", "an SEV-ES VMCB needs a page-aligned VMSA_PA below the "
					  "maximum physical address (APM 15.35.2)"},
    [HV_GATE_NO_GRANT] =
	{"no-grant",
	 "sevd never granted this ASID: only ASIDs bound by sevd after ACTIVATE may enter"},
    [HV_GATE_GRANT_REVOKED] = {"grant-revoked", "this ASID's grant was revoked (guest deactivated "
						"or decommissioned): it can never enter again"},
    [HV_GATE_GRANT_OTHER_GUEST] = {"grant-other-guest",
				   "this ASID is granted to another guest handle"},
    [HV_GATE_GRANT_ES_MISMATCH] = {"grant-es-mismatch",
				   "the VMCB's SEV-ES bit differs from the grant's SEV-ES flag"},
};

const char *hv_gate_reason_name(enum hv_gate_reason r)
{
	return (unsigned)r < _HV_GATE_REASON_MAX && reasons[r].name ? reasons[r].name : "unknown";
}

const char *hv_gate_reason_text(enum hv_gate_reason r)
{
	return (unsigned)r < _HV_GATE_REASON_MAX && reasons[r].text ? reasons[r].text
								    : "unknown gate reason";
}

void hv_platform_init(struct hv_platform *plat, uint32_t max_asid, uint32_t min_sev_asid)
{
	/* EAX: SME, SEV, SEV-ES; EBX: C-bit 51, physical address reduction 1 (a Milan-like part).
	 */
	*plat = (struct hv_platform){
	    .cpuid_8000001f = {0x1u | HV_CPUID_SEV | HV_CPUID_SEV_ES, 51u | (1u << 6), max_asid,
			       min_sev_asid},
	    .phys_addr_bits = 48,
	    .long_mode = true,
	    .mem_encrypt = true,
	    .smm_lock = true,
	    .host_64bit = true,
	    .host_svme = true,
	};
}
