/* THE PRIVILEGE-SEPARATION SEAM. Everything that touches the PSP, the ASID pool or the
 * firmware queue is "the core"; the HTTP server, JSON, authentication and roles
 * (http.c, api.c, auth.c) reach it only through sevd_core_call() below, with a fixed-size
 * request (op code + arguments) and a fixed-size reply (status + result). No pointers cross
 * this line. Today the call is a function call inside one process; with privilege separation
 * (issue 7) the same two structs become the messages of the core<->worker socketpair, so the
 * core must keep treating every request field as untrusted (lengths are checked in core.c).
 *
 * Inside the core every firmware command runs as a job of the one queue (queue.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "attest/amd-cert.h"
#include "daemon/asid.h"
#include "psp/sev-abi.h"

enum sevd_op {
	SEVD_OP_PLATFORM_STATUS = 1, /* PLATFORM_STATUS + the CPUID ranges */
	SEVD_OP_INIT,		     /* INIT, then WBINVD + DF_FLUSH */
	SEVD_OP_SHUTDOWN,
	SEVD_OP_FACTORY_RESET,
	SEVD_OP_PEK_GEN,
	SEVD_OP_PDH_GEN,
	SEVD_OP_PEK_CSR,
	SEVD_OP_PEK_CERT_IMPORT,
	SEVD_OP_CERTS, /* PDH_CERT_EXPORT + ASK/ARK */
	SEVD_OP_GET_ID,
	SEVD_OP_ASIDS,	 /* pool snapshot; no firmware */
	SEVD_OP_HEALTH,	 /* no firmware */
	SEVD_OP_METRICS, /* Prometheus text; no firmware */
	SEVD_OP_MAX_,
};

struct sevd_request {
	uint32_t op; /* enum sevd_op */
	union {
		struct {
			uint8_t es; /* INIT flags bit 0 */
		} init;
		struct {
			uint32_t pek_len, oca_len; /* each must be SEV_CERT_SIZE */
			uint8_t pek[SEV_CERT_SIZE];
			uint8_t oca[SEV_CERT_SIZE];
		} pek_cert;
	} u;
};

struct sevd_platform_info {
	struct sev_cmd_platform_status status;
	uint32_t cpuid_max, cpuid_min_sev;
	uint32_t es_first, es_last, sev_first, sev_last; /* empty when first > last */
	char transport[8];				 /* "emu" / "dev" */
};

#define SEVD_ID_MAX 256u
#define SEVD_METRICS_MAX (64u * 1024u)

struct sevd_asid_entry {
	uint32_t asid;
	uint8_t state; /* enum sevd_asid_state: USED or PENDING/FLUSHING */
	uint8_t es;
	char holder[SEVD_ASID_HOLDER_MAX];
};

struct sevd_reply {
	int32_t r;	   /* 0 or a negative errno; -EIO: firmware answered fw_status */
	int32_t fw_status; /* SEV_STATUS_*, or SEV_STATUS_NO_FW_CALL */
	char message[256]; /* what failed and why, for the user (no secrets) */
	union {
		struct sevd_platform_info platform; /* PLATFORM_STATUS and every mutating op */
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
		} health;
		struct {
			uint32_t len;
			char text[SEVD_METRICS_MAX];
		} metrics;
	} u;
};

struct sevd_core;

struct sevd_core_config {
	const char *psp_spec;	 /* "emu:PATH" or "dev[:PATH]" */
	const char *emu_socket;	 /* for the emulator's control channel (WBINVD), or NULL */
	const char *roots_dir;	 /* ask.cert + ark.cert of the platform's root, or NULL */
	bool auto_init;		 /* INIT at start when the platform is UNINIT */
	bool init_es;		 /* ... with SEV-ES */
	unsigned queue_max;	 /* waiting jobs */
	unsigned queue_wait_ms;	 /* bound on the wait before a job starts */
	uint32_t flush_threshold; /* flush when free ASIDs of a type <= this */
};

int sevd_core_new(const struct sevd_core_config *cfg, struct sevd_core **ret);
void sevd_core_free(struct sevd_core *c);
/* Serve one request; also returned in rep->r. Safe from many threads at once. */
int sevd_core_call(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep);
/* The pool, for the guest code of the core (issue 4); not for the HTTP side. */
struct sevd_asid_pool *sevd_core_asids(struct sevd_core *c);
