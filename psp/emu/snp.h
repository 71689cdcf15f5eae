/* The SEV-SNP side of the emulated firmware (SNP ABI 56860; behaviour checked against AMD's
 * open-source firmware, github.com/amd/AMD-ASPFW sev_uapp/src sev_mcmd.c snp_mcmd_*,
 * sev_rmp.c, sev_plat.c). On only with `sev-psp-emu --snp`; without it every SNP command id
 * answers INVALID_COMMAND, as an SEV-only firmware does. Shared by:
 *   snp-platform.c  SNP_INIT(_EX), SNP_SHUTDOWN(_EX), SNP_PLATFORM_STATUS, SNP_DF_FLUSH,
 *                   SNP_CONFIG, SNP_COMMIT, SNP_FEATURE_INFO; the command table
 *   snp-rmp.c       the reverse map table, and RMPUPDATE as the host's operation (CTL)
 *   snp-guest.c     guest contexts: GCTX_CREATE, LAUNCH_*, ACTIVATE, DECOMMISSION, ...
 *   snp-report.c    the VCEK, SNP_GUEST_REQUEST, MSG_REPORT_REQ and MSG_KEY_REQ
 * See README-snp.md. */
#pragma once

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "psp/emu/firmware.h"

/* The part modelled (--snp-product): its CPUID family/model/stepping, report version, VCEK
 * certificate product name and TCB layout. */
enum emu_snp_product {
	EMU_SNP_MILAN = 0,
	EMU_SNP_GENOA = 1,
	EMU_SNP_TURIN = 2,
};
struct emu_snp_product_info {
	const char *gen;	  /* "Milan": the KDS path, the root's CNs (ARK-Milan, SEV-Milan) */
	const char *product_name; /* the VCEK's productName */
	uint32_t fms;		  /* CPUID Fn0000_0001 EAX */
	uint32_t report_version;  /* 2: no CPUID fields; 3: with them */
	uint8_t struct_version;	  /* the VCEK's structVersion */
	bool turin_tcb;		  /* TCB layout with FMC; hwID is 8 bytes */
};
const struct emu_snp_product_info *emu_snp_product_info(int product);
/* "milan", "genoa", "turin" (any case): the product, or -EINVAL. */
int emu_snp_product_parse(const char *s);

/* TCB_VERSION (a u64): Milan/Genoa bytes [bl, tee, 0, 0, 0, 0, snp, ucode], Turin
 * [fmc, bl, tee, snp, 0, 0, 0, ucode] (Linux sev_snp_tcb_version_genoa_milan/_turin). */
struct emu_snp_tcb {
	uint8_t fmc, bl, tee, snp, ucode;
};
uint64_t emu_snp_tcb_pack(const struct emu_snp_tcb *t, bool turin);
void emu_snp_tcb_unpack(uint64_t v, bool turin, struct emu_snp_tcb *t);
/* "bl=3,tee=0,snp=8,ucode=115[,fmc=N]": 0, or -EINVAL. */
int emu_snp_tcb_parse(const char *s, struct emu_snp_tcb *ret);

/* ---- the RMP (snp-rmp.c) ---- */
enum emu_rmp_state { /* AMD-ASPFW sev_rmp.h snp_page_state_t */
	EMU_RMP_INVALID = 0,
	EMU_RMP_HYPERVISOR = 2,
	EMU_RMP_HV_FIXED = 3, /* not assigned, immutable: SNP_PAGE_SET_STATE's */
	EMU_RMP_FIRMWARE = 4,
	EMU_RMP_RECLAIM = 6,
	EMU_RMP_CONTEXT = 7,
	EMU_RMP_PRE_GUEST = 9,
	EMU_RMP_GUEST_INVALID = 11,
	EMU_RMP_GUEST_VALID = 12,
};
struct emu_rmp_entry {
	uint64_t pfn; /* system physical address >> 12 */
	bool assigned, validated, immutable, vmsa, big; /* big: a 2 MiB entry */
	uint32_t asid;
	uint64_t gpa; /* page aligned */
	uint8_t vmpl_perms[3]; /* VMPL1..3 */
};
struct emu_rmp;
int emu_rmp_new(struct emu_rmp **ret);
void emu_rmp_free(struct emu_rmp *r);
/* Every page back to the hypervisor state (RMP initialization). */
void emu_rmp_clear(struct emu_rmp *r);
/* The entry covering the page at paddr (a 2 MiB entry covers its 512 pages): INVALID_ADDRESS
 * when paddr is outside the mapped memory, else SUCCESS with *ret (zeroed = hypervisor). */
int emu_rmp_get(struct emu_fw *fw, uint64_t paddr, struct emu_rmp_entry *ret);
/* Write an entry as firmware does (no checks); a hypervisor-state entry is dropped. */
int emu_rmp_set(struct emu_rmp *r, const struct emu_rmp_entry *e);
enum emu_rmp_state emu_rmp_state_of(const struct emu_rmp_entry *e);
const char *emu_rmp_state_name(enum emu_rmp_state s);
/* Pages assigned to asid anywhere in the RMP (SNP_ACTIVATE requires none). */
unsigned emu_rmp_count_asid(const struct emu_rmp *r, uint32_t asid);
/* SNP_PAGE_RECLAIM: an immutable Firmware or Pre-Guest page back to the host's reach. */
/* SNP_PAGE_SET_STATE 0xC6 (AMD-ASPFW sev_mcmd.h snp_mcmd_page_set_state_t). */
struct emu_snp_cmd_page_set_state {
	uint32_t length; /* must be 16 */
	uint32_t reserved;
	uint64_t list_paddr; /* RANGE_LIST: u32 count, u32 0, then {u64 base, u32 pages, u32 0} */
} SEV_PACKED;
_Static_assert(sizeof(struct emu_snp_cmd_page_set_state) == 16, "SNP_PAGE_SET_STATE buffer");
int emu_snp_page_set_state(struct emu_fw *fw, void *buf);
int emu_snp_page_reclaim(struct emu_fw *fw, void *buf);
/* SNP_PAGE_UNSMASH: 512 matching 4 KiB guest entries back into one 2 MiB entry. */
int emu_snp_page_unsmash(struct emu_fw *fw, void *buf);
/* CTL `rmpupdate SPEC`, `rmp PADDR` (ctl.c rows). */
int emu_snp_ctl_rmpupdate(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len);
int emu_snp_ctl_rmp(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len);
/* CTL `snp-guests`: the launched guests and the RMP's orphaned pages (crash tests). */
int emu_snp_ctl_guests(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len);

/* ---- guests (snp-guest.c) ---- */
#define EMU_SNP_VMPCK_SIZE 32u
#define EMU_SNP_GUEST_MAX 1024u
struct emu_snp_guest {
	uint64_t gctx_paddr;
	int state; /* enum sev_snp_guest_state */
	uint64_t policy;
	uint32_t asid; /* 0: not activated */
	uint8_t ld[48]; /* launch digest */
	uint8_t gosvw[16];
	uint8_t vmpck[4][EMU_SNP_VMPCK_SIZE];
	uint64_t msg_count[4]; /* per VMPCK: the last response's sequence number */
	uint8_t vek[32];       /* memory key: AES-128-XTS over the page's system address */
	uint8_t vmrk[32];      /* VM root key (MSG_KEY_REQ ROOT_KEY_SELECT 1) */
	uint8_t report_id[32];
	uint8_t host_data[32];
	uint8_t id_key_digest[48], author_key_digest[48];
	struct sev_snp_id_block id_block; /* zero unless ID_BLOCK_EN */
	bool author_key_en, vcek_dis;
	uint64_t launch_tcb;
	uint64_t secrets_paddr; /* 0: no secrets page yet */
};
struct emu_snp_guest *emu_snp_guest_find(struct emu_fw *fw, uint64_t gctx_paddr);
/* The guest's secrets page as firmware wrote it (plaintext: what the guest reads). */
void emu_snp_secrets_build(struct emu_fw *fw, const struct emu_snp_guest *g,
			   struct sev_snp_secrets_page *ret);
/* Drop every SNP guest (SNP_SHUTDOWN, teardown). */
void emu_snp_guests_drop(struct emu_fw *fw);
/* Is this ASID bound to an SNP guest? (the SEV side's ACTIVATE asks too) */
bool emu_snp_asid_held(struct emu_fw *fw, uint32_t asid);
/* Is this ASID bound to an SEV guest (pending or active)? */
bool emu_sev_asid_held(struct emu_fw *fw, uint32_t asid);
/* SNP_LAUNCH_FINISH's ID block and ID authentication structure (snp-report.c): the block's
 * digest, policy and signature by the ID key, the ID key's by the author key; fills the
 * guest's ID fields. A firmware status. */
int emu_snp_id_check(struct emu_fw *fw, struct emu_snp_guest *g,
		     const struct sev_snp_cmd_launch_finish *b);
/* CTL `snp-secrets GCTX_PADDR`: the plaintext secrets page (4096 bytes), as the guest sees it. */
int emu_snp_ctl_secrets(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len);
/* CTL `snp-memfd GCTX`: a running guest's decrypted memory as a memfd (snp-view.c). */
int emu_snp_ctl_memfd(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len);
/* The RMP's stored entries (sorted by pfn; hypervisor-state pages are not stored). */
size_t emu_rmp_entries(struct emu_fw *fw, const struct emu_rmp_entry **ret);

/* ---- the VCEK and guest requests (snp-report.c) ---- */
#define EMU_SNP_SEED_SIZE 48u
/* The VCEK for a TCB, derived as AMD's firmware derives it (sev_plat.c vcek_hash_derive,
 * key_from_hash): hash sticks over the TCB's SVNs from the chip seed, then the SP 800-108 KDF
 * with the label "sev-versioned-chip-endorsement-key" and d = c mod (n - 1) + 1. */
int emu_snp_vcek(const uint8_t seed[EMU_SNP_SEED_SIZE], uint64_t tcb, EVP_PKEY **ret);
int emu_snp_guest_request(struct emu_fw *fw, void *buf);
int emu_snp_vlek_load(struct emu_fw *fw, void *buf);
void emu_snp_vlek_wipe(struct emu_snp *s);
/* CTL `snp-vcek [TCB_HEX]`: the VCEK public key (SubjectPublicKeyInfo DER) for the reported
 * TCB, or for the TCB given; what AMD's KDS certifies. */
int emu_snp_ctl_vcek(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len);

/* ---- the emulated SNP root and VCEK certificates (snp-cert.c) ---- */
struct emu_snp_root;
void emu_snp_root_free(struct emu_snp_root *r);
/* CTL `snp-cert ark|ask|asvk|vcek[:TCB]|crl[:revoke-ask]`: the certificate (or the ARK's CRL)
 * in DER. */
int emu_snp_ctl_cert(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len);
int emu_snp_ctl_cert_refuse(struct emu_fw *fw, char *arg, uint8_t *out, size_t cap, size_t *len);

/* ---- the platform (snp-platform.c) ---- */
struct emu_snp {
	int state; /* enum sev_snp_platform_state */
	bool rmp_initialized;
	struct emu_rmp *rmp;
	const struct emu_snp_product_info *product; /* --snp-product */
	struct emu_snp_tcb current; /* --tcb: what runs (bootloader, TEE, SNP firmware, ucode) */
	uint64_t committed_tcb;	    /* SNP_COMMIT */
	uint64_t config_tcb;	    /* SNP_CONFIG's REPORTED_TCB; 0: the committed TCB */
	bool mask_chip_id, mask_chip_key;
	uint8_t committed_build, committed_minor, committed_major;
	uint8_t seed[EMU_SNP_SEED_SIZE]; /* the chip's VCEK seed, from its chip-unique key */
	EVP_PKEY *vcek;			 /* for the reported TCB ... */
	uint64_t vcek_tcb;		 /* ... which is this one */
	struct emu_snp_root *root;	 /* ARK, ASK: made or loaded on first use */
	uint8_t vlek_sticks[8][48];	 /* SNP_VLEK_LOAD; wiped by SNP_SHUTDOWN */
	EVP_PKEY *vlek;			 /* NULL: no VLEK loaded */
	struct emu_snp_guest *guest[EMU_SNP_GUEST_MAX];
	uint32_t guest_count; /* launched guests (SNP_LAUNCH_START .. SNP_DECOMMISSION) */
};
/* fw->snp, created on first use with --snp (NULL without it, or out of memory). */
struct emu_snp *emu_snp_get(struct emu_fw *fw);
void emu_snp_free(struct emu_fw *fw);
/* Is cmd an SNP command id (0x81..0xCE)? Without --snp they answer INVALID_COMMAND. */
bool emu_snp_cmd_id(uint32_t cmd);
uint64_t emu_snp_reported_tcb(const struct emu_snp *s);
/* Firmware pages (SNP_PLATFORM_STATUS, SNP_GUEST_STATUS outputs, ...): once SNP is initialized
 * the page at paddr must be in the Firmware state (INVALID_PAGE_STATE otherwise). */
int emu_snp_check_fw_page(struct emu_fw *fw, uint64_t paddr);

/* SEV commands while SNP is initialized: their output ranges must be Firmware pages
 * (INVALID_PAGE_STATE); the dispatcher asks before an SEV handler runs. */
int emu_snp_sev_check(struct emu_fw *fw, uint32_t cmd, const void *buf, size_t len);

extern const struct emu_cmd_row emu_snp_cmds[];
extern const size_t emu_snp_cmds_n;
int emu_snp_gctx_create(struct emu_fw *fw, void *buf);
int emu_snp_launch_start(struct emu_fw *fw, void *buf);
int emu_snp_launch_update(struct emu_fw *fw, void *buf);
int emu_snp_launch_finish(struct emu_fw *fw, void *buf);
int emu_snp_activate(struct emu_fw *fw, void *buf);
int emu_snp_decommission(struct emu_fw *fw, void *buf);
int emu_snp_guest_status(struct emu_fw *fw, void *buf);
int emu_snp_dbg_decrypt(struct emu_fw *fw, void *buf);
int emu_snp_dbg_encrypt(struct emu_fw *fw, void *buf);
