/* The Virtual Machine Control Block as AMD64 APM vol. 2 appendix B lays it out (table B-1,
 * control area, 1024 bytes; table B-2, state save area at offset 0x400, 744 bytes), plus the
 * SVM exit codes of appendix C that the runner records. This is a model: nothing here touches
 * hardware. Every offset the gate, the binding code or the daemon reads is pinned below by
 * _Static_assert, so a mistyped field breaks the build instead of the checks. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Intercept vector words (APM B-1, offsets 0x00-0x14). Bit numbers are within the word. */
enum {
	VMCB_INTERCEPT_CR = 0,	  /* 0x00: CR reads 15:0, CR writes 31:16 */
	VMCB_INTERCEPT_DR = 1,	  /* 0x04: DR reads / writes */
	VMCB_INTERCEPT_EXC = 2,	  /* 0x08: exception vectors 0..31 */
	VMCB_INTERCEPT_MISC1 = 3, /* 0x0C: INTR .. SHUTDOWN */
	VMCB_INTERCEPT_MISC2 = 4, /* 0x10: VMRUN .. XSETBV, EFER/CR write traps */
	VMCB_INTERCEPT_MISC3 = 5, /* 0x14: INVLPGB .. TLBSYNC */
	VMCB_INTERCEPT_WORDS = 6,
};
#define VMCB_MISC1_CPUID (1u << 18)
#define VMCB_MISC1_HLT (1u << 24)
#define VMCB_MISC1_IOIO_PROT (1u << 27)
#define VMCB_MISC1_MSR_PROT (1u << 28)
#define VMCB_MISC1_SHUTDOWN (1u << 31)
#define VMCB_MISC2_VMRUN (1u << 0) /* APM 15.5.1: VMRUN refuses a VMCB with this bit clear */
#define VMCB_MISC2_VMMCALL (1u << 1)

/* TLB_CONTROL values (APM 15.16.1). */
#define VMCB_TLB_NOTHING 0
#define VMCB_TLB_FLUSH_ALL 1
#define VMCB_TLB_FLUSH_ASID 3
#define VMCB_TLB_FLUSH_ASID_LOCAL 7

/* 0x90 (nested_ctl): APM B-1 and 15.34.1 (SEV), 15.35 (SEV-ES). */
#define VMCB_NP_ENABLE (1ull << 0)
#define VMCB_SEV_ENABLE (1ull << 1)
#define VMCB_SEV_ES_ENABLE (1ull << 2)

/* VMCB clean bits (APM 15.15.3); bit 2 covers ASID, so a new ASID must clear it. */
#define VMCB_CLEAN_ASID (1u << 2)

/* EVENTINJ / EXITINTINFO (APM 15.20). */
#define VMCB_EVENT_VECTOR_MASK 0xffu
#define VMCB_EVENT_TYPE_SHIFT 8
#define VMCB_EVENT_TYPE_MASK (7u << VMCB_EVENT_TYPE_SHIFT)
#define VMCB_EVENT_TYPE_INTR 0u
#define VMCB_EVENT_TYPE_NMI 2u
#define VMCB_EVENT_TYPE_EXCEPTION 3u
#define VMCB_EVENT_TYPE_SOFT_INT 4u
#define VMCB_EVENT_EV (1u << 11)
#define VMCB_EVENT_VALID (1u << 31)

/* IOIO EXITINFO1 (APM 15.10.2): bit 0 IN, 2 string, 3 REP, 4/5/6 operand size 8/16/32,
 * 7/8/9 address size 16/32/64, 12:10 segment, 31:16 port. */
#define VMCB_IOIO_IN (1u << 0)
#define VMCB_IOIO_STR (1u << 2)
#define VMCB_IOIO_REP (1u << 3)
#define VMCB_IOIO_SZ8 (1u << 4)
#define VMCB_IOIO_SZ16 (1u << 5)
#define VMCB_IOIO_SZ32 (1u << 6)
#define VMCB_IOIO_A16 (1u << 7)
#define VMCB_IOIO_A32 (1u << 8)
#define VMCB_IOIO_A64 (1u << 9)
#define VMCB_IOIO_PORT_SHIFT 16

/* Nested page fault EXITINFO1 (APM 15.25.6): the #PF error code bits, plus bit 32 when the
 * fault happened on the final guest-physical address. */
#define VMCB_NPF_PRESENT (1ull << 0)
#define VMCB_NPF_WRITE (1ull << 1)
#define VMCB_NPF_FINAL_GPA (1ull << 32)

/* SVM exit codes (APM appendix C). EXITCODE is 64 bits; VMEXIT_INVALID is -1. */
#define SVM_EXIT_CPUID 0x072ull
#define SVM_EXIT_HLT 0x078ull
#define SVM_EXIT_IOIO 0x07bull
#define SVM_EXIT_MSR 0x07cull
#define SVM_EXIT_SHUTDOWN 0x07full
#define SVM_EXIT_VMRUN 0x080ull
#define SVM_EXIT_VMMCALL 0x081ull
#define SVM_EXIT_NPF 0x400ull
#define SVM_EXIT_VMGEXIT 0x403ull
#define SVM_EXIT_INVALID ((uint64_t)-1)

/* Segment register image (APM B-2): attrib packs the descriptor's type/S/DPL/P/AVL/L/DB/G. */
struct vmcb_seg {
	uint16_t selector;
	uint16_t attrib;
	uint32_t limit;
	uint64_t base;
} __attribute__((packed));
#define VMCB_SEG_TYPE_MASK 0xfu
#define VMCB_SEG_S (1u << 4)
#define VMCB_SEG_DPL_SHIFT 5
#define VMCB_SEG_P (1u << 7)
#define VMCB_SEG_AVL (1u << 8)
#define VMCB_SEG_L (1u << 9)
#define VMCB_SEG_DB (1u << 10)
#define VMCB_SEG_G (1u << 11)

struct vmcb_control {
	uint32_t intercepts[VMCB_INTERCEPT_WORDS]; /* 0x000 */
	uint8_t reserved_018[0x3c - 0x18];
	uint16_t pause_filter_thresh; /* 0x03C */
	uint16_t pause_filter_count;  /* 0x03E */
	uint64_t iopm_base_pa;	      /* 0x040 */
	uint64_t msrpm_base_pa;	      /* 0x048 */
	uint64_t tsc_offset;	      /* 0x050 */
	uint32_t asid;		      /* 0x058 */
	uint8_t tlb_control;	      /* 0x05C */
	uint8_t reserved_05d[3];
	uint32_t int_ctl;    /* 0x060 */
	uint32_t int_vector; /* 0x064 */
	uint32_t int_state;  /* 0x068 */
	uint8_t reserved_06c[4];
	uint64_t exitcode;	 /* 0x070 */
	uint64_t exitinfo1;	 /* 0x078 */
	uint64_t exitinfo2;	 /* 0x080 */
	uint64_t exitintinfo;	 /* 0x088 */
	uint64_t nested_ctl;	 /* 0x090: NP_ENABLE, SEV_ENABLE, SEV_ES_ENABLE */
	uint64_t avic_vapic_bar; /* 0x098 */
	uint64_t ghcb_gpa;	 /* 0x0A0: for SEV-ES, the guest's GHCB MSR value */
	uint64_t eventinj;	 /* 0x0A8 */
	uint64_t n_cr3;		 /* 0x0B0 */
	uint64_t virt_ext;	 /* 0x0B8: LBR virtualization, virtual VMLOAD/VMSAVE */
	uint32_t vmcb_clean;	 /* 0x0C0 */
	uint32_t reserved_0c4;
	uint64_t nrip;		    /* 0x0C8 */
	uint8_t insn_len;	    /* 0x0D0 */
	uint8_t insn_bytes[15];	    /* 0x0D1 */
	uint64_t avic_backing_page; /* 0x0E0 */
	uint8_t reserved_0e8[8];
	uint64_t avic_logical_id;  /* 0x0F0 */
	uint64_t avic_physical_id; /* 0x0F8 */
	uint8_t reserved_100[8];
	uint64_t vmsa_pa; /* 0x108: SEV-ES guest save area (VMSA) */
	uint8_t reserved_110[0x3e0 - 0x110];
	uint8_t reserved_sw[32]; /* 0x3E0: for software use */
} __attribute__((packed));

/* State save area for legacy and plain SEV guests (APM B-2). For SEV-ES the guest state
 * lives in the encrypted VMSA page instead (vmsa_pa). */
struct vmcb_save {
	struct vmcb_seg es, cs, ss, ds, fs, gs; /* 0x000 .. 0x050 */
	struct vmcb_seg gdtr, ldtr, idtr, tr;	/* 0x060 .. 0x090 */
	uint8_t reserved_0a0[42];
	uint8_t vmpl; /* 0x0CA */
	uint8_t cpl;  /* 0x0CB */
	uint8_t reserved_0cc[4];
	uint64_t efer; /* 0x0D0 */
	uint8_t reserved_0d8[112];
	uint64_t cr4;	 /* 0x148 */
	uint64_t cr3;	 /* 0x150 */
	uint64_t cr0;	 /* 0x158 */
	uint64_t dr7;	 /* 0x160 */
	uint64_t dr6;	 /* 0x168 */
	uint64_t rflags; /* 0x170 */
	uint64_t rip;	 /* 0x178 */
	uint8_t reserved_180[88];
	uint64_t rsp;					     /* 0x1D8 */
	uint64_t s_cet;					     /* 0x1E0 */
	uint64_t ssp;					     /* 0x1E8 */
	uint64_t isst_addr;				     /* 0x1F0 */
	uint64_t rax;					     /* 0x1F8 */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base; /* 0x200 .. 0x220 */
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;    /* 0x228 .. 0x238 */
	uint64_t cr2;					     /* 0x240 */
	uint8_t reserved_248[32];
	uint64_t g_pat;					       /* 0x268 */
	uint64_t dbgctl;				       /* 0x270 */
	uint64_t br_from, br_to, last_excp_from, last_excp_to; /* 0x278 .. 0x290 */
	uint8_t reserved_298[72];
	uint64_t spec_ctrl; /* 0x2E0 */
} __attribute__((packed));

struct vmcb {
	struct vmcb_control control;
	struct vmcb_save save;
	uint8_t reserved_6e8[4096 - 0x400 - 744]; /* the VMCB is one 4 KiB page */
} __attribute__((packed));

#define VMCB_CONTROL_OFF(f) offsetof(struct vmcb_control, f)
#define VMCB_SAVE_OFF(f) (0x400 + offsetof(struct vmcb_save, f))

_Static_assert(sizeof(struct vmcb_seg) == 16, "segment image is 16 bytes");
_Static_assert(sizeof(struct vmcb_control) == 1024, "control area is 1024 bytes (APM B-1)");
_Static_assert(sizeof(struct vmcb_save) == 744, "save area is 744 bytes (APM B-2)");
_Static_assert(offsetof(struct vmcb, save) == 0x400, "save area at 0x400");
_Static_assert(sizeof(struct vmcb) == 4096, "VMCB is one page");

_Static_assert(VMCB_CONTROL_OFF(intercepts[VMCB_INTERCEPT_MISC2]) == 0x10, "VMRUN intercept word");
_Static_assert(VMCB_CONTROL_OFF(pause_filter_count) == 0x3e, "PAUSE filter count");
_Static_assert(VMCB_CONTROL_OFF(iopm_base_pa) == 0x40, "IOPM_BASE_PA");
_Static_assert(VMCB_CONTROL_OFF(msrpm_base_pa) == 0x48, "MSRPM_BASE_PA");
_Static_assert(VMCB_CONTROL_OFF(tsc_offset) == 0x50, "TSC_OFFSET");
_Static_assert(VMCB_CONTROL_OFF(asid) == 0x58, "ASID");
_Static_assert(VMCB_CONTROL_OFF(tlb_control) == 0x5c, "TLB_CONTROL");
_Static_assert(VMCB_CONTROL_OFF(int_ctl) == 0x60, "INT_CTL");
_Static_assert(VMCB_CONTROL_OFF(int_vector) == 0x64, "INT_VECTOR");
_Static_assert(VMCB_CONTROL_OFF(int_state) == 0x68, "INT_STATE");
_Static_assert(VMCB_CONTROL_OFF(exitcode) == 0x70, "EXITCODE");
_Static_assert(VMCB_CONTROL_OFF(exitinfo1) == 0x78, "EXITINFO1");
_Static_assert(VMCB_CONTROL_OFF(exitinfo2) == 0x80, "EXITINFO2");
_Static_assert(VMCB_CONTROL_OFF(exitintinfo) == 0x88, "EXITINTINFO");
_Static_assert(VMCB_CONTROL_OFF(nested_ctl) == 0x90, "NP/SEV/SEV-ES enable");
_Static_assert(VMCB_CONTROL_OFF(ghcb_gpa) == 0xa0, "GHCB_GPA");
_Static_assert(VMCB_CONTROL_OFF(eventinj) == 0xa8, "EVENTINJ");
_Static_assert(VMCB_CONTROL_OFF(n_cr3) == 0xb0, "N_CR3");
_Static_assert(VMCB_CONTROL_OFF(vmcb_clean) == 0xc0, "VMCB_CLEAN");
_Static_assert(VMCB_CONTROL_OFF(nrip) == 0xc8, "NRIP");
_Static_assert(VMCB_CONTROL_OFF(insn_len) == 0xd0, "guest instruction bytes");
_Static_assert(VMCB_CONTROL_OFF(vmsa_pa) == 0x108, "VMSA_PA");
_Static_assert(VMCB_CONTROL_OFF(reserved_sw) == 0x3e0, "software-reserved area");

_Static_assert(VMCB_SAVE_OFF(es) == 0x400, "ES");
_Static_assert(VMCB_SAVE_OFF(cs) == 0x410, "CS");
_Static_assert(VMCB_SAVE_OFF(ss) == 0x420, "SS");
_Static_assert(VMCB_SAVE_OFF(ds) == 0x430, "DS");
_Static_assert(VMCB_SAVE_OFF(fs) == 0x440, "FS");
_Static_assert(VMCB_SAVE_OFF(gs) == 0x450, "GS");
_Static_assert(VMCB_SAVE_OFF(gdtr) == 0x460, "GDTR");
_Static_assert(VMCB_SAVE_OFF(ldtr) == 0x470, "LDTR");
_Static_assert(VMCB_SAVE_OFF(idtr) == 0x480, "IDTR");
_Static_assert(VMCB_SAVE_OFF(tr) == 0x490, "TR");
_Static_assert(VMCB_SAVE_OFF(cpl) == 0x4cb, "CPL");
_Static_assert(VMCB_SAVE_OFF(efer) == 0x4d0, "EFER");
_Static_assert(VMCB_SAVE_OFF(cr4) == 0x548, "CR4");
_Static_assert(VMCB_SAVE_OFF(cr3) == 0x550, "CR3");
_Static_assert(VMCB_SAVE_OFF(cr0) == 0x558, "CR0");
_Static_assert(VMCB_SAVE_OFF(dr7) == 0x560, "DR7");
_Static_assert(VMCB_SAVE_OFF(dr6) == 0x568, "DR6");
_Static_assert(VMCB_SAVE_OFF(rflags) == 0x570, "RFLAGS");
_Static_assert(VMCB_SAVE_OFF(rip) == 0x578, "RIP");
_Static_assert(VMCB_SAVE_OFF(rsp) == 0x5d8, "RSP");
_Static_assert(VMCB_SAVE_OFF(rax) == 0x5f8, "RAX");
_Static_assert(VMCB_SAVE_OFF(cr2) == 0x640, "CR2");
_Static_assert(VMCB_SAVE_OFF(g_pat) == 0x668, "G_PAT");
_Static_assert(VMCB_SAVE_OFF(spec_ctrl) == 0x6e0, "SPEC_CTRL");

/* Control-register and EFER bits the gate needs (APM vol. 2 §3.1). */
#define X86_CR0_PE (1ull << 0)
#define X86_CR0_ET (1ull << 4)
#define X86_CR0_NW (1ull << 29)
#define X86_CR0_CD (1ull << 30)
#define X86_CR0_PG (1ull << 31)
#define X86_CR4_PAE (1ull << 5)
#define X86_EFER_SCE (1ull << 0)
#define X86_EFER_LME (1ull << 8)
#define X86_EFER_LMA (1ull << 10)
#define X86_EFER_NXE (1ull << 11)
#define X86_EFER_SVME (1ull << 12)
