/* The VMRUN gate, one rule at a time: start from a VMCB that passes (plain SEV, SEV-ES, or a
 * long-mode SEV guest), break exactly one thing, and the gate must name exactly that rule and
 * leave VMEXIT_INVALID in EXITCODE. Every reason the gate knows is exercised by some case. */
#include <string.h>

#include "common/macros.h"
#include "hv-glue/binding.h"
#include "hv-glue/gate.h"
#include "hv-glue/vmcb.h"
#include "tests/testutil.h"

#define MAX_ASID 509 /* CPUID 8000_001F[ECX] */
#define MIN_SEV 100  /* CPUID 8000_001F[EDX] */
#define H_SEV 7	     /* plain SEV guest: ASID 100 */
#define H_ES 9	     /* SEV-ES guest: ASID 5 */

enum base { PLAIN, ES, LONG };

struct fx {
	struct vmcb v;
	struct hv_platform p;
	struct hv_bindings *b;
	uint32_t handle;
};

static void fx_init(struct fx *f, enum base base)
{
	memset(f, 0, sizeof(*f));
	hv_platform_init(&f->p, MAX_ASID, MIN_SEV);
	/* Req64BitHypervisor set and the host in 64-bit mode: passes, and lets one flip fail. */
	f->p.cpuid_8000001f[0] |= HV_CPUID_SEV_REQ_64BIT_HOST;
	TU_CHECK(hv_bindings_new(MAX_ASID, 4, &f->b) == 0, "bindings");
	TU_CHECK(hv_bindings_grant(f->b, H_SEV, MIN_SEV, false, 1) == 0, "grant SEV");
	TU_CHECK(hv_bindings_grant(f->b, H_ES, 5, true, 1) == 0, "grant ES");

	f->v.control.intercepts[VMCB_INTERCEPT_MISC2] = VMCB_MISC2_VMRUN;
	f->v.control.iopm_base_pa = 0x10000000;
	f->v.control.msrpm_base_pa = 0x10004000;
	f->v.control.nested_ctl = VMCB_NP_ENABLE | VMCB_SEV_ENABLE;
	f->v.control.asid = MIN_SEV;
	f->v.save.efer = X86_EFER_SVME;
	f->v.save.cr0 = X86_CR0_PE | X86_CR0_ET;
	f->v.save.dr6 = 0xffff0ff0;
	f->v.save.dr7 = 0x400;
	f->v.save.cs.attrib = VMCB_SEG_P | VMCB_SEG_S | 0xb | VMCB_SEG_DB;
	f->handle = H_SEV;
	if (base == ES) {
		f->v.control.nested_ctl |= VMCB_SEV_ES_ENABLE;
		f->v.control.asid = 5;
		f->v.control.vmsa_pa = 0x20000000;
		f->handle = H_ES;
	} else if (base == LONG) {
		f->v.save.efer |= X86_EFER_LME | X86_EFER_LMA;
		f->v.save.cr0 |= X86_CR0_PG;
		f->v.save.cr4 = X86_CR4_PAE;
		f->v.save.cr3 = 0x000000ff00001000ull; /* high but below MAXPHYADDR (48) */
		f->v.save.cs.attrib = VMCB_SEG_P | VMCB_SEG_S | 0xb | VMCB_SEG_L;
	}
}

/* One broken thing per case. */
static void host_svme(struct fx *f)
{
	f->p.host_svme = false;
}
static void guest_svme(struct fx *f)
{
	f->v.save.efer &= ~X86_EFER_SVME;
}
static void cr0_nw(struct fx *f)
{
	f->v.save.cr0 |= X86_CR0_NW;
}
static void cr0_cd_nw(struct fx *f)
{
	f->v.save.cr0 |= X86_CR0_NW | X86_CR0_CD | (1ull << 32);
}
static void cr0_hi(struct fx *f)
{
	f->v.save.cr0 |= 1ull << 32;
}
static void cr3_legacy_hi(struct fx *f)
{
	f->v.save.cr3 = 1ull << 32;
}
static void cr3_long_phys(struct fx *f)
{
	f->v.save.cr3 |= 1ull << 48;
}
static void cr4_bit13(struct fx *f)
{
	f->v.save.cr4 |= 1ull << 13;
}
static void cr4_bit63(struct fx *f)
{
	f->v.save.cr4 |= 1ull << 63;
}
static void dr6_hi(struct fx *f)
{
	f->v.save.dr6 |= 1ull << 40;
}
static void dr7_hi(struct fx *f)
{
	f->v.save.dr7 |= 1ull << 32;
}
static void efer_bit9(struct fx *f)
{
	f->v.save.efer |= 1ull << 9;
}
static void efer_bit63(struct fx *f)
{
	f->v.save.efer |= 1ull << 63;
}
static void no_long_mode(struct fx *f)
{
	f->p.long_mode = false;
}
static void no_pae(struct fx *f)
{
	f->v.save.cr4 &= ~X86_CR4_PAE;
}
static void no_pe(struct fx *f)
{
	f->v.save.cr0 &= ~X86_CR0_PE;
}
static void cs_l_and_d(struct fx *f)
{
	f->v.save.cs.attrib |= VMCB_SEG_DB;
}
static void no_vmrun_icpt(struct fx *f)
{
	f->v.control.intercepts[VMCB_INTERCEPT_MISC2] = 0;
}
static void iopm_high(struct fx *f)
{
	f->v.control.iopm_base_pa = (1ull << 48) - 0x1000;
}
static void msrpm_high(struct fx *f)
{
	f->v.control.msrpm_base_pa = (1ull << 48) - 0x1000;
}
static void asid0(struct fx *f)
{
	f->v.control.asid = 0;
}
static void ev_type1(struct fx *f)
{
	f->v.control.eventinj = VMCB_EVENT_VALID | (1u << 8) | 14;
}
static void ev_type6(struct fx *f)
{
	f->v.control.eventinj = VMCB_EVENT_VALID | (6u << 8);
}
static void ev_exc_nmi(struct fx *f)
{
	f->v.control.eventinj = VMCB_EVENT_VALID | (3u << 8) | 2;
}
static void ev_exc_32(struct fx *f)
{
	f->v.control.eventinj = VMCB_EVENT_VALID | (3u << 8) | 32;
}
static void no_np(struct fx *f)
{
	f->v.control.nested_ctl &= ~VMCB_NP_ENABLE;
}
static void es_only(struct fx *f)
{
	f->v.control.nested_ctl &= ~VMCB_SEV_ENABLE;
}
static void cpuid_no_sev(struct fx *f)
{
	f->p.cpuid_8000001f[0] &= ~HV_CPUID_SEV;
}
static void cpuid_no_es(struct fx *f)
{
	f->p.cpuid_8000001f[0] &= ~HV_CPUID_SEV_ES;
}
static void sme_off(struct fx *f)
{
	f->p.mem_encrypt = false;
}
static void smm_open(struct fx *f)
{
	f->p.smm_lock = false;
}
static void host32(struct fx *f)
{
	f->p.host_64bit = false;
}
static void asid_510(struct fx *f)
{
	f->v.control.asid = MAX_ASID + 1;
}
static void es_asid_100(struct fx *f)
{
	f->v.control.asid = MIN_SEV;
}
static void sev_asid_5(struct fx *f)
{
	f->v.control.asid = 5;
}
static void vmsa0(struct fx *f)
{
	f->v.control.vmsa_pa = 0;
}
static void vmsa_odd(struct fx *f)
{
	f->v.control.vmsa_pa += 0x10;
}
static void vmsa_high(struct fx *f)
{
	f->v.control.vmsa_pa = 1ull << 50;
}
static void asid_200(struct fx *f)
{
	f->v.control.asid = 200;
}
static void revoked(struct fx *f)
{
	TU_CHECK_EQ(hv_bindings_revoke(f->b, H_SEV, MIN_SEV, 1), 0);
}
static void other_handle(struct fx *f)
{
	f->handle = 8;
}
static void es_grant_plain(struct fx *f)
{
	TU_CHECK_EQ(hv_bindings_revoke(f->b, H_ES, 5, 1), 0);
	TU_CHECK_EQ(hv_bindings_grant(f->b, H_ES, 5, false, 2), 0);
}

static const struct {
	const char *name;
	enum base base;
	void (*breaks)(struct fx *f);
	enum hv_gate_reason want;
} cases[] = {
    {"host EFER.SVME clear", PLAIN, host_svme, HV_GATE_HOST_SVME_OFF},
    {"guest EFER.SVME clear", PLAIN, guest_svme, HV_GATE_GUEST_SVME_OFF},
    {"CR0.NW without CR0.CD", PLAIN, cr0_nw, HV_GATE_CR0_NW_WITHOUT_CD},
    {"CR0[63:32] set (CD+NW legal)", PLAIN, cr0_cd_nw, HV_GATE_CR0_HIGH_BITS},
    {"CR0[32] set", PLAIN, cr0_hi, HV_GATE_CR0_HIGH_BITS},
    {"CR3[32] outside long mode", PLAIN, cr3_legacy_hi, HV_GATE_CR3_MBZ},
    {"CR3 at MAXPHYADDR in long mode", LONG, cr3_long_phys, HV_GATE_CR3_MBZ},
    {"CR4[13] reserved", PLAIN, cr4_bit13, HV_GATE_CR4_MBZ},
    {"CR4[63] reserved", LONG, cr4_bit63, HV_GATE_CR4_MBZ},
    {"DR6[40]", PLAIN, dr6_hi, HV_GATE_DR6_HIGH_BITS},
    {"DR7[32]", PLAIN, dr7_hi, HV_GATE_DR7_HIGH_BITS},
    {"EFER[9] reserved", PLAIN, efer_bit9, HV_GATE_EFER_MBZ},
    {"EFER[63] reserved", LONG, efer_bit63, HV_GATE_EFER_MBZ},
    {"LME/LMA without long mode", LONG, no_long_mode, HV_GATE_LONG_MODE_UNSUPPORTED},
    {"LME+PG without PAE", LONG, no_pae, HV_GATE_LME_PG_WITHOUT_PAE},
    {"LME+PG without PE", LONG, no_pe, HV_GATE_LME_PG_WITHOUT_PE},
    {"long mode with CS.L and CS.D", LONG, cs_l_and_d, HV_GATE_LONG_CS_L_AND_D},
    {"VMRUN intercept clear", PLAIN, no_vmrun_icpt, HV_GATE_VMRUN_NOT_INTERCEPTED},
    {"IOPM past MAXPHYADDR", PLAIN, iopm_high, HV_GATE_PERMISSION_MAP_RANGE},
    {"MSRPM past MAXPHYADDR", PLAIN, msrpm_high, HV_GATE_PERMISSION_MAP_RANGE},
    {"ASID 0", PLAIN, asid0, HV_GATE_ASID_ZERO},
    {"EVENTINJ type 1", PLAIN, ev_type1, HV_GATE_EVENTINJ_BAD_TYPE},
    {"EVENTINJ type 6", PLAIN, ev_type6, HV_GATE_EVENTINJ_BAD_TYPE},
    {"EVENTINJ exception vector 2", PLAIN, ev_exc_nmi, HV_GATE_EVENTINJ_BAD_VECTOR},
    {"EVENTINJ exception vector 32", PLAIN, ev_exc_32, HV_GATE_EVENTINJ_BAD_VECTOR},
    {"SEV without nested paging", PLAIN, no_np, HV_GATE_SEV_NEEDS_NP},
    {"SEV-ES without SEV", ES, es_only, HV_GATE_ES_NEEDS_SEV},
    {"CPUID without SEV", PLAIN, cpuid_no_sev, HV_GATE_SEV_UNSUPPORTED},
    {"CPUID without SEV-ES", ES, cpuid_no_es, HV_GATE_ES_UNSUPPORTED},
    {"SYSCFG.MemEncryptionModEn clear", PLAIN, sme_off, HV_GATE_MEM_ENCRYPT_OFF},
    {"HWCR.SmmLock clear", PLAIN, smm_open, HV_GATE_SMM_UNLOCKED},
    {"32-bit host with Req64BitHypervisor", PLAIN, host32, HV_GATE_HOST_NOT_64BIT},
    {"ASID above CPUID ECX", PLAIN, asid_510, HV_GATE_ASID_ABOVE_MAX},
    {"SEV-ES guest with ASID >= EDX", ES, es_asid_100, HV_GATE_ES_ASID_OUT_OF_RANGE},
    {"SEV guest with ASID < EDX", PLAIN, sev_asid_5, HV_GATE_SEV_ASID_IN_ES_RANGE},
    {"SEV-ES without VMSA", ES, vmsa0, HV_GATE_ES_NO_VMSA},
    {"SEV-ES with unaligned VMSA", ES, vmsa_odd, HV_GATE_ES_NO_VMSA},
    {"SEV-ES with VMSA past MAXPHYADDR", ES, vmsa_high, HV_GATE_ES_NO_VMSA},
    {"ASID never granted", PLAIN, asid_200, HV_GATE_NO_GRANT},
    {"grant revoked", PLAIN, revoked, HV_GATE_GRANT_REVOKED},
    {"ASID granted to another handle", PLAIN, other_handle, HV_GATE_GRANT_OTHER_GUEST},
    {"ES VMCB, non-ES grant", ES, es_grant_plain, HV_GATE_GRANT_ES_MISMATCH},
};

static void check_baselines(void)
{
	for (enum base b = PLAIN; b <= LONG; b++) {
		struct fx f;
		fx_init(&f, b);
		f.v.control.exitcode = SVM_EXIT_HLT;
		TU_CHECK(hv_gate_vmrun(&f.v, &f.p, f.b, f.handle) == HV_GATE_PASS,
			 "baseline %d refused: %s", b,
			 hv_gate_reason_name(hv_gate_check(&f.v, &f.p, f.b, f.handle)));
		TU_CHECK_EQ(f.v.control.exitcode, SVM_EXIT_HLT); /* a pass leaves EXITCODE alone */
		hv_bindings_free(f.b);
	}
}

/* Legal corner cases stay legal: CD+NW together, a valid exception injection, an NMI. */
static void check_legal_variants(void)
{
	static const uint64_t inj[] = {
	    VMCB_EVENT_VALID | (3u << 8) | 14 | VMCB_EVENT_EV, VMCB_EVENT_VALID | (2u << 8) | 2,
	    (1u << 8) | 2 /* not valid */, VMCB_EVENT_VALID | (4u << 8) | 0x80};
	struct fx f;

	for (size_t i = 0; i < ELEMENTSOF(inj); i++) {
		fx_init(&f, PLAIN);
		f.v.control.eventinj = inj[i];
		TU_CHECK_EQ(hv_gate_check(&f.v, &f.p, f.b, f.handle), HV_GATE_PASS);
		hv_bindings_free(f.b);
	}
	fx_init(&f, PLAIN);
	f.v.save.cr0 |= X86_CR0_CD | X86_CR0_NW;
	f.p.cpuid_8000001f[0] &= ~HV_CPUID_SEV_REQ_64BIT_HOST;
	f.p.host_64bit = false; /* allowed when EAX[11] is clear */
	TU_CHECK_EQ(hv_gate_check(&f.v, &f.p, f.b, f.handle), HV_GATE_PASS);
	hv_bindings_free(f.b);
}

int main(void)
{
	bool covered[_HV_GATE_REASON_MAX] = {false};

	check_baselines();
	check_legal_variants();
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct fx f;
		enum hv_gate_reason got;

		fx_init(&f, cases[i].base);
		cases[i].breaks(&f);
		got = hv_gate_vmrun(&f.v, &f.p, f.b, f.handle);
		TU_CHECK(got == cases[i].want, "%s: got %s, expected %s", cases[i].name,
			 hv_gate_reason_name(got), hv_gate_reason_name(cases[i].want));
		if (got == HV_GATE_HOST_SVME_OFF)
			TU_CHECK_EQ(f.v.control.exitcode, 0); /* #UD: no VMEXIT at all */
		else
			TU_CHECK(f.v.control.exitcode == SVM_EXIT_INVALID, "%s: EXITCODE not -1",
				 cases[i].name);
		covered[got] = true;
		hv_bindings_free(f.b);
	}
	for (int r = 1; r < _HV_GATE_REASON_MAX; r++) {
		TU_CHECK(covered[r], "no case exercises gate reason %d (%s)", r,
			 hv_gate_reason_name(r));
		TU_CHECK(strcmp(hv_gate_reason_name(r), "unknown") != 0 && hv_gate_reason_text(r),
			 "reason %d has no name", r);
		for (int q = 1; q < r; q++)
			TU_CHECK(strcmp(hv_gate_reason_name(r), hv_gate_reason_name(q)) != 0,
				 "names of %d and %d collide", r, q);
	}
	tu_done("hvglue-gate");
}
