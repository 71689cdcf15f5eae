/* THE PRIVILEGE-SEPARATION SEAM. Everything that touches the PSP, the ASID pool or the
 * firmware queue is "the core"; the HTTP server, JSON, authentication and roles
 * (http.c, api.c, auth.c) reach it only through sevd_core_call() below, with a fixed-size
 * request (op code + arguments) and a fixed-size reply (status + result). No pointers cross
 * this line. With privilege separation (worker.h) the HTTP side runs in sevd's
 * unprivileged worker and these two structs are the messages of the core<->worker channels
 * (ipc.h: a body length per op, from the op table daemon/ipc/ops.h), so the core must
 * keep treating every request field as untrusted (lengths are checked in core.c).
 *
 * Inside the core every firmware command runs as a job of the one queue (queue.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "attest/amd-cert.h"
#include "daemon/core/asid.h"
#include "daemon/ipc/ops.h"
#include "policy/admission.h"
#include "psp/sev-abi.h"

#define SEVD_GUEST_NAME_MAX 64u
/* A guest's stable id: the handle (big-endian) then 12 random bytes, drawn at launch and
 * journaled, never reused for another guest (a reused handle gets new random bytes). Shown
 * as 32 lowercase hex digits ("id" in JSON, accepted wherever a route takes a handle). */
#define SEVD_GUEST_ID_SIZE 16u
#define SEVD_GUEST_PIECE_MAX (64u * 1024u) /* bytes of an upload per core call */
/* The staged upload of sevd's worker (ipc.h, "Staged uploads"): a sealed memfd of
 * SEVD_STAGE_SLOTS slots of SEVD_STAGE_SLOT_SIZE bytes that the core maps read-only and the
 * worker fills; a GUEST_DATA_SLOT request names a slot. A full slot is 4 chunks of 1 MiB,
 * measured by one LAUNCH_UPDATE_DATA (guest.c): per-command round trips through the
 * emulator's socket cost ~90 µs each on a 2-core VM, 8 % of a 1 MiB command's time. */
#define SEVD_GUEST_CHUNK (1u << 20) /* an upload is measured in whole chunks (guest.c) */
#define SEVD_STAGE_SLOTS 2u
#define SEVD_STAGE_SLOT_SIZE (4u << 20)
/* The host's SEV-SNP certificate table (daemon/core/snp-certs.h): Linux's SEV_FW_BLOB_MAX_SIZE */
#define SEVD_SNP_CERTS_MAX (16u * 1024u)
enum sevd_snp_certs_source {
	SEVD_SNP_CERTS_NONE = 0,
	SEVD_SNP_CERTS_KDS,	/* fetched at start: the chip's VCEK for its reported TCB */
	SEVD_SNP_CERTS_UPLOAD,	/* PUT /v1/snp/certs, kept in the state directory */
};
/* SNP_CERTS_KDS (snp-certs.h): an attempt of the worker's fetch from sevd.conf kds_url. */
enum sevd_snp_kds_stage {
	SEVD_SNP_KDS_BEGIN = 0, /* an attempt starts: the reply has the chip id, TCB and gen */
	SEVD_SNP_KDS_FAILED,	/* it failed: error says why; the reply has the retry */
	SEVD_SNP_KDS_CERTS,	/* it got the VCEK and the cert_chain: the core checks them */
};
#define SEVD_PACKET_MAX 4096u /* guest memory per migration packet: one page, as KVM sends */
#define SEVD_VCPUS_MAX 256u   /* VMSAs sevd keeps per SEV-ES guest (for SEND_VMSA) */
/* Packets per GUEST_SEND_BATCH / GUEST_RECEIVE_BATCH: the core runs their firmware commands
 * back to back on its firmware thread (still one page per command, as KVM sends), so the
 * worker <-> core round trip is paid once per batch instead of once per page. */
#define SEVD_MIG_BATCH 16u

/* One migration packet of a batch: where it belongs in guest memory, its header, its bytes. */
struct sevd_mig_packet {
	uint64_t offset;
	uint32_t len; /* bytes in data */
	uint8_t hdr[sizeof(struct sev_packet_header)];
	uint8_t data[SEVD_PACKET_MAX];
};

/* The ops, numbered in the order of the op table's rows (daemon/ipc/ops.h, the one place an
 * op is defined): 0 is no op. */
enum sevd_op {
	SEVD_OP_NONE_ = 0,
#define SEVD_OP_ENUM(name, fn, gfn, fw, req, rep, roles, guest) SEVD_OP_##name,
	SEVD_OPS(SEVD_OP_ENUM)
#undef SEVD_OP_ENUM
	SEVD_OP_MAX_,
};

/* Who a request is for, as evidence the core checks itself (core/authz.c), never a role
 * the worker claims. TOKEN: the bearer token as the client sent it (the core hashes it and
 * compares with its own copy of the configured hashes); UNIX: the connection id the core gave
 * the connection when it accepted it (core/conns.h; the core maps it to the SO_PEERCRED and
 * SO_PEERGROUPS it read itself, uid/gid/groups here are ignored); CERT: the connection id the
 * core answered when it verified the client's chain itself (CONN_CERT; text/cn, the DN and
 * first CN, are then the core's, the worker's ignored); NONE: a caller without credentials
 * (public). What the core must trust the worker for (that a CERT client holds its key):
 * daemon/README.md "The seam and the op table". */
#define SEVD_EVIDENCE_MAX 256u /* a longer token or DN is never matched: refused */
#define SEVD_EVIDENCE_GROUPS 32u
#define SEVD_CERT_CHAIN_MAX 16384u /* a TLS client's certificate chain, DER (CONN_CERT) */
enum sevd_evidence {
	SEVD_EVIDENCE_NONE = 0,
	SEVD_EVIDENCE_UNIX,
	SEVD_EVIDENCE_TOKEN,
	SEVD_EVIDENCE_CERT,
};

struct sevd_caller {
	uint32_t kind;	  /* enum sevd_evidence */
	uint32_t uid, gid; /* UNIX */
	uint32_t n_groups; /* UNIX: supplementary groups in groups[] */
	uint32_t groups[SEVD_EVIDENCE_GROUPS];
	char text[SEVD_EVIDENCE_MAX]; /* TOKEN: the token; CERT: the DN; NUL-terminated */
	char cn[SEVD_EVIDENCE_MAX];   /* CERT: the first CN */
	/* UNIX: the core's connection id (core/conns.h); CERT: the id CONN_CERT answered */
	uint64_t conn;
	/* Not evidence: the stable id the client named the guest by (a route's {h} written as
	 * an id), all zero when it gave a handle. The core's guest lookup answers no_such_guest
	 * unless the guest with the op's handle has this id (core/guest.c). */
	uint8_t guest_id[SEVD_GUEST_ID_SIZE];
};

/* The core's own copy of the credentials sevd.conf configures (sevd-config.h parses them):
 * `token = ROLE:sha256:HEX` and `client_cert_role = ROLE:SUBJECT`. */
struct sevd_token {
	enum sevd_role role;
	uint8_t hash[32]; /* SHA-256 of the bearer token */
	char tenant[SEVD_GUEST_NAME_MAX]; /* `...:tenant=NAME`: the principal's tenant, or "" */
};

/* `client_cert_role = <role>:<subject>[:tenant=NAME]`: a verified client certificate whose
 * subject DN (RFC 4514 string, "CN=x,O=y") or, for a subject without '=', whose CN equals it;
 * its principal belongs to tenant NAME ("" = not restricted to one), as a token's. */
struct sevd_cert_role {
	enum sevd_role role;
	char *subject;
	bool is_dn;
	char tenant[SEVD_GUEST_NAME_MAX];
};

struct sevd_request {
	uint32_t op; /* enum sevd_op */
	struct sevd_caller caller; /* travels ahead of the op's body (ipc.h) */
	/* Set by the core's admission from the verified credential, never read from the wire:
	 * the tenant whose guests alone the caller may act on ("" = any: admin, in-process). */
	char principal_tenant[SEVD_GUEST_NAME_MAX];
	/* Set there too: the caller's role (enum sevd_role) for the ops whose rule depends on
	 * the guest as well (a migrator DELETEs only a guest it is receiving: guest.c). */
	uint32_t principal_role;
	/* Worker-local, not on the wire (the core never sees it): the core's WHOAMI answer for
	 * this request's token said untenanted, so the worker may answer GUEST_LIST from the
	 * core's region (ipc/worker-side.c). */
	uint8_t worker_untenanted;
	union {
		struct {
			uint8_t es; /* INIT flags bit 0 */
		} init;
		struct {
			uint64_t reported_tcb; /* 0: the committed TCB */
			uint32_t flags;	       /* SEV_SNP_CONFIG_MASK_CHIP_ID / _KEY */
		} snp_config;
		struct sev_snp_vlek_wrapped vlek; /* one hashstick */
		struct {
			uint32_t len; /* bytes of der */
			/* CONN_CERT: a TLS client's certificates as it sent them, DER, one after
			 * the other, its own first */
			uint8_t der[SEVD_CERT_CHAIN_MAX];
		} cert_chain;
		struct {
			uint64_t id; /* CONN_END: the connection id CONN_CERT answered */
		} conn;
		struct {
			uint32_t len; /* bytes of table */
			uint8_t table[SEVD_SNP_CERTS_MAX]; /* SNP_CERTS_PUT: GHCB format */
		} snp_certs;
		struct {
			uint32_t stage; /* enum sevd_snp_kds_stage */
			uint32_t vcek_len, chain_len; /* CERTS: data = VCEK (DER) ‖ cert_chain */
			char error[256]; /* FAILED: why the attempt failed, for GET /v1/snp/certs */
			uint8_t data[SEVD_SNP_CERTS_MAX];
		} snp_kds; /* SNP_CERTS_KDS: the worker's fetch from sevd.conf kds_url */
		struct {
			/* SHUTDOWN, FACTORY_RESET: 1 = go ahead while sevd holds guests and drop
			 * them all (firmware loses them); 0 = refuse while any exist */
			uint8_t force;
		} reset;
		struct {
			uint32_t pek_len, oca_len; /* each must be SEV_CERT_SIZE */
			uint8_t pek[SEV_CERT_SIZE];
			uint8_t oca[SEV_CERT_SIZE];
		} pek_cert;
		struct {
			uint32_t policy;
			uint32_t godh_len, session_len; /* both 0, or SEV_CERT_SIZE and 128 */
			uint8_t godh[SEV_CERT_SIZE];
			uint8_t session[sizeof(struct sev_session_blob)];
			char name[SEVD_GUEST_NAME_MAX];	  /* "" = guest-HANDLE */
			char tenant[SEVD_GUEST_NAME_MAX]; /* "" = default */
			uint64_t memory_size;		  /* 0 = default */
			uint32_t asid;			  /* 0 = the pool's choice */
			uint8_t snp;		/* an SEV-SNP guest; then snp_policy */
			uint64_t snp_policy;	/* the 64-bit SNP guest policy (ABI "Guest Policy") */
		} create;
		struct {
			uint32_t handle;
			uint32_t asid;	      /* ACTIVATE: 0 = the pool's choice */
			uint8_t have_address; /* DATA_BEGIN, VMSA, SECRET */
			uint64_t address;     /* guest-physical */
			uint32_t len;	      /* bytes in data */
			uint8_t hdr[sizeof(struct sev_secret_header)]; /* SECRET */
			uint8_t nonce[SEV_MNONCE_SIZE];		     /* ATTEST */
			/* SNP: DATA_BEGIN's page type (SEV_SNP_PAGE_*, 0 = NORMAL);
			 * SNP_FINISH: ID block (data holds the 4 KiB ID auth), HOST_DATA. */
			uint8_t page_type;
			uint8_t snp_id_block, snp_author; /* ID_BLOCK_EN, AUTH_KEY_EN */
			uint8_t id_block[sizeof(struct sev_snp_id_block)];
			uint8_t host_data[32];
			uint8_t data[SEVD_GUEST_PIECE_MAX];
		} guest;
		struct {
			uint32_t handle;   /* all but RECEIVE_START */
			uint32_t policy;   /* RECEIVE_START: the policy the session was made for */
			uint64_t memory_size; /* RECEIVE_START: the source guest's (0 = default) */
			uint32_t asid;	      /* RECEIVE_START: 0 = the pool's choice */
			char name[SEVD_GUEST_NAME_MAX];	  /* RECEIVE_START: "" = guest-HANDLE */
			char tenant[SEVD_GUEST_NAME_MAX]; /* RECEIVE_START: "" = default */
			uint64_t offset;		  /* *_DATA: offset in guest memory */
			uint32_t len;			  /* *_DATA: bytes in data */
			uint32_t plat_len, amd_len;	  /* SEND_START: 0 or the chains' sizes */
			uint32_t vcpu;	 /* SEND_VMSA: which of the guest's VMSAs (0..vcpus-1) */
			uint32_t vcpus;	 /* RECEIVE_START: the VMSAs the source sends (SEV-ES) */
			uint8_t pdh[SEV_CERT_SIZE]; /* SEND_START: target's; RECEIVE_START: source's */
			uint8_t plat[SEV_CERT_CHAIN_SIZE]; /* PEK ‖ OCA ‖ CEK (CEK signed) */
			uint8_t amd[2 * AMD_CERT_MAX_SIZE]; /* ASK ‖ ARK */
			uint8_t session[sizeof(struct sev_session_blob)]; /* RECEIVE_START */
			uint8_t hdr[sizeof(struct sev_packet_header)];	   /* RECEIVE_DATA */
			uint8_t data[SEVD_PACKET_MAX];			   /* RECEIVE_DATA */
		} migrate;
		struct {
			uint32_t handle;
			uint32_t len;	 /* SEND_BATCH: bytes from offset (<= SEVD_MIG_BATCH pages) */
			uint64_t offset; /* SEND_BATCH: a page-aligned offset in guest memory */
			uint32_t n;	 /* RECEIVE_BATCH: packets in p */
			struct sevd_mig_packet p[SEVD_MIG_BATCH]; /* RECEIVE_BATCH */
		} migrate_batch; /* GUEST_SEND_BATCH, GUEST_RECEIVE_BATCH */
		struct {
			uint32_t handle;
			uint32_t slot; /* < the staging's slots */
			uint32_t len;  /* bytes at the slot's start, <= its size */
		} slot;		       /* GUEST_DATA_SLOT */
	} u;
};

struct sevd_platform_info {
	struct sev_cmd_platform_status status;
	uint32_t cpuid_max, cpuid_min_sev;
	uint32_t es_first, es_last, sev_first, sev_last; /* empty when first > last */
	char transport[8];				 /* "emu" / "dev" */
};

#define SEVD_ID_MAX 256u
#define SEVD_GUESTS_MAX 1024u /* firmware's SEV_GUEST_COUNT_MAX (AMD-ASPFW sev_plat.h) */

/* SEV-SNP as GET /v1/snp/platform shows it. */
enum sevd_snp_start {
	SEVD_SNP_UNSUPPORTED = 0, /* CPUID 8000_001F EAX bit 4 clear */
	SEVD_SNP_OFF,		  /* "snp = off" (or auto_init off): sevd left SNP alone */
	SEVD_SNP_INITIALIZED,	  /* sevd ran SNP_INIT_EX (INIT_RMP), WBINVD, SNP_DF_FLUSH */
	SEVD_SNP_FOUND,		  /* SNP was INIT already (the kernel's, or an earlier sevd's) */
	SEVD_SNP_FAILED,	  /* sevd tried and firmware refused: see the log */
};
struct sevd_snp_info {
	struct sev_snp_platform_status status;
	uint8_t start; /* enum sevd_snp_start */
	uint8_t gen;   /* enum snp_gen (attest/snp-report.h) from CPUID Fn0000_0001: the TCB layout */
	uint8_t reserved[6];
};

/* May a cached answer about guest info_id serve a request that named guest want (its
 * caller.guest_id)? Yes for a request by handle (want all zero), else only for that guest. */
static inline bool sevd_guest_id_matches(const uint8_t want[SEVD_GUEST_ID_SIZE],
					 const uint8_t info_id[SEVD_GUEST_ID_SIZE])
{
	uint8_t any = 0, diff = 0;

	for (unsigned i = 0; i < SEVD_GUEST_ID_SIZE; i++) {
		any |= want[i];
		diff |= want[i] ^ info_id[i];
	}
	return !any || !diff;
}

/* One guest as the HTTP side shows it. */
struct sevd_guest_info {
	uint32_t handle, asid, policy;
	uint8_t state; /* SEV_GSTATE_* from GUEST_STATUS (or sevd's record when not asked) */
	uint8_t es, measured;
	char name[SEVD_GUEST_NAME_MAX], tenant[SEVD_GUEST_NAME_MAX];
	uint64_t memory_size, data_bytes, created, updated;
	uint8_t measure[SEV_MEASURE_SIZE], mnonce[SEV_MNONCE_SIZE];
	/* SNP: policy is the SNP policy (bits 32..63 are reserved, zero); measure ‖
	 * mnonce hold the 48-byte launch digest, final when measured is set (after finish). */
	uint8_t snp, snp_id_block;
	uint8_t id[SEVD_GUEST_ID_SIZE]; /* its stable id (SEVD_GUEST_ID_SIZE above) */
};
#define SEVD_METRICS_MAX (64u * 1024u)

struct sevd_asid_entry {
	uint32_t asid;
	uint8_t state; /* enum sevd_asid_state: USED or PENDING/FLUSHING */
	uint8_t es;
	char holder[SEVD_ASID_HOLDER_MAX];
};

/* One firmware command that answered a status other than SUCCESS (status page). */
#define SEVD_FW_ERRORS_MAX 32u
struct sevd_fw_error {
	uint64_t time_ms; /* CLOCK_REALTIME, milliseconds since the epoch */
	uint32_t command; /* SEV_CMD_* */
	int32_t status;	  /* SEV_STATUS_*; SEV_STATUS_NO_FW_CALL when the transport failed */
	int32_t r;	  /* -EIO: firmware answered status; else the transport's errno */
	uint32_t reserved; /* 0; keeps the struct free of implicit padding */
};

struct sevd_reply {
	int32_t r;	   /* 0 or a negative errno; -EIO: firmware answered fw_status */
	int32_t fw_status; /* SEV_STATUS_*, or SEV_STATUS_NO_FW_CALL */
	char message[256]; /* what failed and why, for the user (no secrets) */
	char rule[64];	   /* -EPERM: the admission rule that refused (policy/admission.h) */
	union {
		struct sevd_platform_info platform; /* PLATFORM_STATUS and every mutating op */
		struct sevd_snp_info snp;	    /* SNP_STATUS */
		struct {
			uint32_t source; /* enum sevd_snp_certs_source */
			/* With none held and none PUT: the background fetch (snp-certs.c). */
			uint32_t pending;     /* 1: a fetch is running or its retry is due */
			uint32_t fetching;    /* 1: an attempt is running now */
			uint32_t retry_in_ms; /* not fetching: until the next attempt */
			uint32_t attempts;    /* attempts made so far */
			char last_error[256]; /* why the last attempt failed ("" none yet) */
			char from[128];	      /* where it fetches from */
			/* SNP_CERTS_KDS's BEGIN: what the VCEK's KDS path is made of. */
			uint32_t gen;	       /* enum snp_gen */
			uint64_t reported_tcb; /* SNP_PLATFORM_STATUS's */
			uint8_t chip_id[64];   /* GET_ID's */
			uint32_t len;	 /* bytes of table; 0: none */
			uint8_t table[SEVD_SNP_CERTS_MAX];
		} snp_certs; /* SNP_CERTS_GET/PUT/DELETE (snp-certs.h) */
		struct {
			uint32_t len;
			uint8_t csr[SEV_CERT_SIZE];
		} csr;
		struct {
			uint32_t pdh_len, chain_len, ask_len, ark_len;
			uint8_t pdh[SEV_CERT_SIZE];
			uint8_t chain[SEV_CERT_CHAIN_SIZE]; /* PEK ‖ OCA ‖ CEK */
			uint8_t ask[AMD_CERT_MAX_SIZE];
			uint8_t ark[AMD_CERT_MAX_SIZE];
		} certs;
		struct {
			uint32_t len;
			uint8_t id[SEVD_ID_MAX];
		} id;
		struct {
			struct sevd_asid_stats stats;
			uint32_t es_first, es_last, sev_first, sev_last;
			uint32_t n; /* entries used */
			struct sevd_asid_entry entry[SEVD_ASID_LIMIT];
		} asids;
		struct {
			uint32_t queue_depth;
			char transport[8];
			uint8_t psp_healthy;
			uint64_t recoveries;
			char reason[160]; /* why unhealthy; "" when healthy */
		} health;
		struct {
			uint32_t len;
			char text[SEVD_METRICS_MAX];
		} metrics;
		struct {
			struct sevd_guest_info info;
			uint32_t command; /* SEV_CMD_* that ran */
			uint32_t policy;  /* SEND_START: the guest's, as firmware echoed it */
			uint64_t offset;  /* SEND_DATA */
			uint32_t len;	  /* SEND_DATA: bytes in data (0: a VMSA page, not sent) */
			uint32_t vcpus;	  /* SEND_START, SEND_VMSA: the guest's VMSAs (SEV-ES) */
			uint8_t session[sizeof(struct sev_session_blob)]; /* SEND_START */
			uint8_t hdr[sizeof(struct sev_packet_header)];	   /* SEND_DATA */
			uint8_t data[SEVD_PACKET_MAX];			   /* SEND_DATA */
		} migrate;
		struct {
			struct sevd_guest_info info;
			uint32_t command; /* SEV_CMD_* that ran last */
			/* SEND: the offset after the last page done (a failure: the page that
			 * failed); RECEIVE: packets of the request done (a failure: the one that
			 * failed is p[done]) */
			uint64_t next;
			uint32_t done;
			uint32_t n; /* SEND: packets in p (VMSA pages are skipped, not sent) */
			struct sevd_mig_packet p[SEVD_MIG_BATCH]; /* SEND */
		} migrate_batch; /* GUEST_SEND_BATCH, GUEST_RECEIVE_BATCH */
		struct {
			struct sevd_guest_info info;
			uint32_t command;	 /* SEV_CMD_* that ran */
			uint64_t uploaded, address; /* DATA_END, VMSA, SECRET */
			uint32_t chunks;
			uint8_t deactivated;	 /* DELETE */
			uint32_t released_asid;	 /* DELETE: 0 = none */
			uint8_t api_major, api_minor, build; /* MEASURE */
			uint8_t report[sizeof(struct sev_attestation_report)]; /* ATTEST */
		} guest;
		struct {
			uint32_t n;
			struct sevd_guest_info g[SEVD_GUESTS_MAX];
		} guests;
		struct {
			uint32_t slots, slot_size; /* GUEST_DATA_STAGE: the geometry of the fd */
		} stage;
		struct {
			uint32_t n; /* entries used, newest first */
			uint64_t total; /* failures seen since sevd started */
			struct sevd_fw_error e[SEVD_FW_ERRORS_MAX];
		} fw_errors;
		struct {
			uint32_t role; /* enum sevd_role; SEVD_ROLE_PUBLIC when not known */
			uint8_t known; /* 1: the token matched a configured hash */
			/* 1: its principal acts on every tenant's guests (admin, or no tenant):
			 * the worker may answer it the guest list from the shared region */
			uint8_t untenanted;
		} whoami; /* WHOAMI */
		struct {
			uint64_t id;   /* CONN_CERT: the connection id for CERT evidence */
			uint32_t role; /* enum sevd_role the subject maps to (public: none) */
		} conn; /* CONN_CERT, CONN_END */
	} u;
};

struct sevd_core;

struct sevd_core_config {
	const char *psp_spec;	 /* "emu:PATH" or "dev[:PATH]" */
	const char *emu_socket;	 /* for the emulator's control channel (WBINVD), or NULL */
	const char *roots_dir;	 /* ask.cert + ark.cert of the platform's root, or NULL */
	bool snp_certs_no_fetch; /* sevd.conf kds_url = off: no SNP certificate fetch at start */
	const char *kds_url;	 /* sevd.conf kds_url when a URL: the worker fetches from it */
	bool auto_init;		 /* INIT at start when the platform is UNINIT */
	bool init_es;		 /* ... with SEV-ES */
	bool snp;		 /* ... after SNP_INIT_EX where CPUID has SNP (auto_init) */
	unsigned queue_max;	 /* waiting jobs */
	unsigned queue_wait_ms;	 /* bound on the wait before a job starts */
	uint32_t flush_threshold; /* flush when free ASIDs of a type <= this */
	/* Guests: */
	const char *state_dir;		     /* the journal lives here; NULL: no guest support */
	const struct policy_rules *policy;   /* host admission rules (copied), or NULL */
	bool journal_recover;		     /* skip corrupt journal records (reported) */
	unsigned journal_compact;	     /* compact past this many records (0: 1024) */
	const char *control;		     /* grant-stream socket path, or NULL: none */
	/* A migration target's chain (PDH ← PEK ← CEK ← ASK ← ARK) must reach a root
	 * in migration_roots (an attest/roots.h directory; NULL: the default) or the non-AMD root
	 * of migration_emulated_root (an ASK ‖ ARK file the operator named, e.g. sev-psp-emu's;
	 * NULL: none) before SEND_START runs. */
	const char *migration_roots;
	const char *migration_emulated_root;
	/* Before each reconnection attempt, restart the PSP if sevd owns it (the
	 * embedded emulator); NULL otherwise. Runs on the firmware thread. */
	int (*restart_psp)(void *userdata);
	void *restart_userdata;
	/* What the core admits requests of the worker on (core/authz.c; copied): the token
	 * hashes, the certificate subjects, the admin group of Unix peers, and whether
	 * METRICS is public. */
	const struct sevd_token *tokens;
	unsigned n_tokens;
	const struct sevd_cert_role *cert_roles;
	unsigned n_cert_roles;
	uint32_t admin_gid;
	bool have_admin_gid;
	bool metrics_public;
	unsigned destructive_rate, destructive_period_s; /* authz.c; rate 0 = no limit */
	const char *tls_client_ca; /* PEM file CONN_CERT verifies client chains against, or NULL */
};

int sevd_core_new(const struct sevd_core_config *cfg, struct sevd_core **ret);
void sevd_core_free(struct sevd_core *c);
/* Serve one request; also returned in rep->r. Safe from many threads at once. */
int sevd_core_call(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep);
/* Is the request's caller allowed its op (the op table's roles, from the evidence in
 * req->caller)? 0, or -EACCES with rep filled, the refusal counted in
 * sevd_core_refusals_total{op,reason} and logged as a security event. The core's channel
 * threads call it on every request of the worker before anything else. */
/* A new worker is about to serve: the TLS connection ids of the one before end (authz.c). */
void sevd_core_worker_started(struct sevd_core *c);
int sevd_core_authorize(struct sevd_core *c, struct sevd_request *req, struct sevd_reply *rep);
/* The pool, for the guest code of the core; not for the HTTP side. */
struct sevd_asid_pool *sevd_core_asids(struct sevd_core *c);
/* The PSP's health as GET /healthz reports it, without a request (the core's inventory file,
 * inventory.h); not for the HTTP side. */
bool sevd_core_psp_healthy(struct sevd_core *c);
/* GUEST_DATA with the bytes at buf (the core's own read-only map of a staging slot,
 * daemon/ipc/core-side.c), len <= SEVD_STAGE_SLOT_SIZE: a firmware job like sevd_core_call's.
 * Core side only. The bytes are copied into guest memory once and read for nothing else. */
int sevd_core_guest_data(struct sevd_core *c, uint32_t handle, const uint8_t *buf, uint32_t len,
			 const char *tenant, struct sevd_reply *rep);
/* GUEST_DATA_STAGE (daemon/ipc/core-side.c): the guest the staging is for must be one of
 * the principal's tenant's ("" = any), else -EACCES (core_refused:tenant, counted under
 * op). Core side only. */
int sevd_core_guest_tenant(struct sevd_core *c, uint32_t op, uint32_t handle, const char *tenant,
			   struct sevd_reply *rep);
/* For sevd.c, which hands it to the worker: the memfd of the reply cache's read-only region
 * (cache-region.h), or -1 when there is none. Owned by the core. */
int sevd_core_region_fd(struct sevd_core *c);
