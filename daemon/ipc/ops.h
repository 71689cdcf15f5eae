/* THE OP TABLE: one row per core op, the only place an op is defined. Everything else is
 * derived from it: enum sevd_op (core.h), the op names of /metrics and the log, the core's
 * dispatch (core.c), the guest dispatch (guest.c), the request/reply length rules of the
 * seam (ipc.c) and the roles the core admits (core/authz.c). A row has every column or sevd
 * does not build; the order of the rows is the wire number of the op (keep appending).
 *
 *   X(NAME, core handler, guest handler, firmware, request rule, reply rule, roles, guest)
 *
 * - core handler: core.c's function (op_guest for guest ops), NULL for the ops the core's
 *   channel threads serve themselves (staging).
 * - guest handler: guest.c's function, NULL for a platform op.
 * - firmware: 1 = runs as a job of the firmware thread (queue.h); 0 = reads memory.
 * - request/reply rule: ipc.c's body rules (FIXED(member) or REP_VAR(member, count, array)).
 * - roles: SEVD_ROLES_* below: who the core serves this op for, from the evidence the worker
 *   forwards with the request (authz.c). 0 = nobody: a row whose roles are not yet decided
 *   is refused for every caller, admin included (fail closed).
 * - guest: 1 = the op names a guest by its handle (the core's tenant checks apply).
 *
 * Adding an op: append a row here and write its handlers; nothing else needs to list it. */
#pragma once

enum sevd_role {
	SEVD_ROLE_PUBLIC = 0,
	SEVD_ROLE_READER,
	SEVD_ROLE_OWNER,    /* a guest owner: its guests' measurement and attestation */
	SEVD_ROLE_LAUNCHER, /* launches and runs guests */
	SEVD_ROLE_ADMIN,
	SEVD_ROLE_MIGRATOR, /* reads as a reader; sends and receives guests (migration) */
	SEVD_ROLE_MAX_,
};

#define SEVD_ROLE_BIT(r) (1u << (r))
#define SEVD_ROLES_ADMIN SEVD_ROLE_BIT(SEVD_ROLE_ADMIN)
#define SEVD_ROLES_LAUNCHER (SEVD_ROLE_BIT(SEVD_ROLE_LAUNCHER) | SEVD_ROLES_ADMIN)
#define SEVD_ROLES_OWNER (SEVD_ROLE_BIT(SEVD_ROLE_OWNER) | SEVD_ROLES_ADMIN)
#define SEVD_ROLES_MIGRATOR (SEVD_ROLE_BIT(SEVD_ROLE_MIGRATOR) | SEVD_ROLES_ADMIN)
#define SEVD_ROLES_READER                                                                          \
	(SEVD_ROLE_BIT(SEVD_ROLE_READER) | SEVD_ROLE_BIT(SEVD_ROLE_OWNER) |                        \
	 SEVD_ROLE_BIT(SEVD_ROLE_LAUNCHER) | SEVD_ROLES_MIGRATOR)
#define SEVD_ROLES_PUBLIC (SEVD_ROLE_BIT(SEVD_ROLE_PUBLIC) | SEVD_ROLES_READER)

/* Destructive platform ops: the admin's alone (core/authz.c checks at build time
 * that each row above says SEVD_ROLES_ADMIN) and rate-limited in the core (sevd.conf
 * `destructive_rate`, default 6/min): over the limit, refused with reason "rate" (429). */
#define SEVD_DESTRUCTIVE_OPS(D)                                                                     \
	D(SHUTDOWN) D(FACTORY_RESET) D(PEK_GEN) D(PDH_GEN) D(PEK_CERT_IMPORT) D(SNP_COMMIT)         \
	D(SNP_CONFIG) D(SNP_VLEK)

/* The roles are the union of the routes that send the op (worker/api.c's route table, the
 * status page's /ui/state, the upload stream's abort). */
#define SEVD_OPS(X)                                                                                \
	X(PLATFORM_STATUS, op_platform_status, NULL, 1, FIXED(REQ_NONE), FIXED(REP(platform)),     \
	  SEVD_ROLES_READER, 0)                                                                     \
	X(INIT, op_init, NULL, 1, FIXED(REQ_INIT), FIXED(REP(platform)), SEVD_ROLES_ADMIN, 0)     \
	X(SHUTDOWN, op_shutdown, NULL, 1, FIXED(REQ_RESET), FIXED(REP(platform)),                 \
	  SEVD_ROLES_ADMIN, 0)                                                                      \
	X(FACTORY_RESET, op_factory_reset, NULL, 1, FIXED(REQ_RESET), FIXED(REP(platform)),       \
	  SEVD_ROLES_ADMIN, 0)                                                                      \
	X(PEK_GEN, op_pek_gen, NULL, 1, FIXED(REQ_NONE), FIXED(REP(platform)), SEVD_ROLES_ADMIN, 0) \
	X(PDH_GEN, op_pdh_gen, NULL, 1, FIXED(REQ_NONE), FIXED(REP(platform)), SEVD_ROLES_ADMIN, 0) \
	X(PEK_CSR, op_pek_csr, NULL, 1, FIXED(REQ_NONE), FIXED(REP(csr)), SEVD_ROLES_ADMIN, 0)     \
	X(PEK_CERT_IMPORT, op_pek_cert_import, NULL, 1, FIXED(REQ_PEK_CERT), FIXED(REP(platform)), \
	  SEVD_ROLES_ADMIN, 0)                                                                      \
	X(CERTS, op_certs, NULL, 1, FIXED(REQ_NONE), FIXED(REP(certs)), SEVD_ROLES_PUBLIC, 0)      \
	X(GET_ID, op_get_id, NULL, 1, FIXED(REQ_NONE), FIXED(REP(id)), SEVD_ROLES_PUBLIC, 0)       \
	X(ASIDS, op_asids, NULL, 0, FIXED(REQ_NONE), REP_VAR(asids, n, entry), SEVD_ROLES_READER, 0) \
	X(HEALTH, op_health, NULL, 0, FIXED(REQ_NONE), FIXED(REP(health)), SEVD_ROLES_PUBLIC, 0)   \
	/* METRICS: also public when sevd.conf says metrics_public (authz.c) */                    \
	X(METRICS, op_metrics, NULL, 0, FIXED(REQ_NONE), REP_VAR(metrics, len, text),              \
	  SEVD_ROLES_READER, 0)                                                                     \
	X(GUEST_CREATE, op_guest, op_create, 1, FIXED(REQ_CREATE), FIXED(REP(guest)),              \
	  SEVD_ROLES_LAUNCHER, 0)                                                                   \
	X(GUEST_DATA_BEGIN, op_guest, op_data_begin, 1, FIXED(REQ_GUEST_HDR), FIXED(REP(guest)),   \
	  SEVD_ROLES_LAUNCHER, 1)                                                                   \
	X(GUEST_DATA, op_guest, op_data, 1, FIXED(REQ_GUEST_DATA), FIXED(REP(guest)),              \
	  SEVD_ROLES_LAUNCHER, 1)                                                                   \
	X(GUEST_DATA_END, op_guest, op_data_end, 1, FIXED(REQ_GUEST_HDR), FIXED(REP(guest)),       \
	  SEVD_ROLES_LAUNCHER, 1)                                                                   \
	X(GUEST_DATA_ABORT, op_guest, op_data_abort, 1, FIXED(REQ_GUEST_HDR), FIXED(REP(guest)),   \
	  SEVD_ROLES_LAUNCHER, 1)                                                                   \
	X(GUEST_VMSA, op_guest, op_vmsa, 1, FIXED(REQ_GUEST_DATA), FIXED(REP(guest)),              \
	  SEVD_ROLES_LAUNCHER, 1)                                                                   \
	X(GUEST_MEASURE, op_guest, op_measure, 1, FIXED(REQ_GUEST_HDR), FIXED(REP(guest)),         \
	  SEVD_ROLES_OWNER, 1)                                                                      \
	X(GUEST_SECRET, op_guest, op_secret, 1, FIXED(REQ_GUEST_DATA), FIXED(REP(guest)),          \
	  SEVD_ROLES_LAUNCHER, 1)                                                                   \
	X(GUEST_FINISH, op_guest, op_finish, 1, FIXED(REQ_GUEST_HDR), FIXED(REP(guest)),           \
	  SEVD_ROLES_LAUNCHER, 1)                                                                   \
	X(GUEST_ACTIVATE, op_guest, op_activate, 1, FIXED(REQ_GUEST_HDR), FIXED(REP(guest)),       \
	  SEVD_ROLES_LAUNCHER, 1)                                                                   \
	X(GUEST_DEACTIVATE, op_guest, op_deactivate, 1, FIXED(REQ_GUEST_HDR), FIXED(REP(guest)),   \
	  SEVD_ROLES_LAUNCHER, 1)                                                                   \
	/* The migrator DELETEs only a guest in RUPDATE (a half-received one: guest.c op_delete), \
	 * so that sevadm migrate's clean-up works with its token on the target. */               \
	X(GUEST_DELETE, op_guest, op_delete, 1, FIXED(REQ_GUEST_HDR), FIXED(REP(guest)),           \
	  SEVD_ROLES_LAUNCHER | SEVD_ROLE_BIT(SEVD_ROLE_MIGRATOR), 1)                               \
	X(GUEST_INFO, op_guest, op_info, 1, FIXED(REQ_GUEST_HDR), FIXED(REP(guest)),               \
	  SEVD_ROLES_READER, 1)                                                                     \
	X(GUEST_LIST, op_guest, op_list, 1, FIXED(REQ_GUEST_HDR), REP_VAR(guests, n, g),           \
	  SEVD_ROLES_READER, 0)                                                                     \
	X(GUEST_ATTEST, op_guest, op_attest, 1, FIXED(REQ_GUEST_HDR), FIXED(REP(guest)),           \
	  SEVD_ROLES_OWNER, 1)                                                                      \
	X(FW_ERRORS, sevd_fwerrors_op, NULL, 0, FIXED(REQ_NONE), FIXED(REP(fw_errors)),            \
	  SEVD_ROLES_READER, 0)                                                                     \
	/* Staged uploads (ipc.h): the core's channel threads serve these (core-side.c); the     \
	 * STAGE reply carries the staging's fd (SCM_RIGHTS). */                                   \
	X(GUEST_DATA_STAGE, NULL, NULL, 0, FIXED(REQ_GUEST_HDR), FIXED(REP(stage)),                \
	  SEVD_ROLES_LAUNCHER, 1)                                                                   \
	X(GUEST_DATA_SLOT, NULL, NULL, 1, FIXED(REQ_SLOT), FIXED(REP(guest)), SEVD_ROLES_LAUNCHER, 1) \
	/* Migration (guest.c "migration"): the migrator's and the admin's, as its routes are. */  \
	X(GUEST_SEND_START, op_guest, op_send_start, 1, FIXED(REQ_MIGRATE), FIXED(REP(migrate)),   \
	  SEVD_ROLES_MIGRATOR, 1)                                                                  \
	X(GUEST_SEND_DATA, op_guest, op_send_data, 1, FIXED(REQ_MIGRATE), FIXED(REP(migrate)),     \
	  SEVD_ROLES_MIGRATOR, 1)                                                                  \
	X(GUEST_SEND_FINISH, op_guest, op_send_finish, 1, FIXED(REQ_MIGRATE), FIXED(REP(migrate)), \
	  SEVD_ROLES_MIGRATOR, 1)                                                                  \
	X(GUEST_SEND_CANCEL, op_guest, op_send_cancel, 1, FIXED(REQ_MIGRATE), FIXED(REP(migrate)), \
	  SEVD_ROLES_MIGRATOR, 1)                                                                  \
	X(GUEST_RECEIVE_START, op_guest, op_receive_start, 1, FIXED(REQ_MIGRATE),                  \
	  FIXED(REP(migrate)), SEVD_ROLES_MIGRATOR, 0)                                             \
	X(GUEST_RECEIVE_DATA, op_guest, op_receive_data, 1, FIXED(REQ_MIGRATE),                    \
	  FIXED(REP(migrate)), SEVD_ROLES_MIGRATOR, 1)                                             \
	X(GUEST_RECEIVE_FINISH, op_guest, op_receive_finish, 1, FIXED(REQ_MIGRATE),                \
	  FIXED(REP(migrate)), SEVD_ROLES_MIGRATOR, 1)                                             \
	/* SEV-SNP platform: the status for readers, every change the admin's. */                  \
	X(SNP_STATUS, op_snp_status, NULL, 1, FIXED(REQ_NONE), FIXED(REP(snp)), SEVD_ROLES_READER, 0) \
	X(SNP_COMMIT, op_snp_change, NULL, 1, FIXED(REQ_NONE), FIXED(REP(snp)), SEVD_ROLES_ADMIN, 0) \
	X(SNP_CONFIG, op_snp_change, NULL, 1, FIXED(REQ_SNP_CONFIG), FIXED(REP(snp)), SEVD_ROLES_ADMIN, 0) \
	X(SNP_VLEK, op_snp_change, NULL, 1, FIXED(REQ_VLEK), FIXED(REP(snp)), SEVD_ROLES_ADMIN, 0) \
	/* Migration of SEV-ES guests: their VMSAs, after the memory (guest.c "migration"). */    \
	X(GUEST_SEND_VMSA, op_guest, op_send_vmsa, 1, FIXED(REQ_MIGRATE), FIXED(REP(migrate)),     \
	  SEVD_ROLES_MIGRATOR, 1)                                                                  \
	X(GUEST_RECEIVE_VMSA, op_guest, op_receive_vmsa, 1, FIXED(REQ_MIGRATE),                    \
	  FIXED(REP(migrate)), SEVD_ROLES_MIGRATOR, 1)                                             \
	/* The host's SNP certificate table (core/snp-certs.c): readers see it, the admin sets it. */ \
	X(SNP_CERTS_GET, sevd_snp_certs_op, NULL, 0, FIXED(REQ_NONE),                              \
	  REP_VAR(snp_certs, len, table), SEVD_ROLES_READER, 0)                                     \
	X(SNP_CERTS_PUT, sevd_snp_certs_op, NULL, 1, FIXED(REQ_SNP_CERTS),                         \
	  REP_VAR(snp_certs, len, table), SEVD_ROLES_ADMIN, 0)                                      \
	X(SNP_CERTS_DELETE, sevd_snp_certs_op, NULL, 0, FIXED(REQ_NONE),                           \
	  REP_VAR(snp_certs, len, table), SEVD_ROLES_ADMIN, 0)                                      \
	/* Who a bearer token is (core/authz.c): the core alone holds the token hashes, so the     \
	 * worker asks before it checks a route; any evidence may ask, a bad token is an answer. */ \
	X(WHOAMI, op_whoami, NULL, 0, FIXED(REQ_NONE), FIXED(REP(whoami)),              \
	  SEVD_ROLES_PUBLIC, 0)                                                          \
	/* SEV-SNP guests: SNP_LAUNCH_FINISH with an ID block, its ID auth (the 4 KiB  \
	 * in data) and HOST_DATA; the rest of an SNP launch goes through the GUEST_* rows. */     \
	X(GUEST_SNP_FINISH, op_guest, op_snp_finish, 1, FIXED(REQ_GUEST_DATA), FIXED(REP(guest)), \
	  SEVD_ROLES_LAUNCHER, 1)                                                                   \
	/* TLS client certificates (core/authz.c): the worker forwards a connection's chain once; \
	 * the core verifies it against tls_client_ca and answers the id CERT evidence carries    \
	 * (a chain that does not verify: refused, bad_certificate). CONN_END: the worker's        \
	 * connection closed, the id ends. Any evidence may ask: the chain is the evidence. */     \
	X(CONN_CERT, op_conn_cert, NULL, 0, FIXED(REQ_CERT_CHAIN), FIXED(REP(conn)),               \
	  SEVD_ROLES_PUBLIC, 0)                                                                     \
	X(CONN_END, op_conn_end, NULL, 0, FIXED(REQ_CONN), FIXED(REP(conn)), SEVD_ROLES_PUBLIC, 0) \
	/* The worker's own fetch of the SNP certificate table from sevd.conf kds_url (worker/   \
	 * kds-fetch.c; no route sends it, so no caller's evidence: public alone). The core      \
	 * serves it only while a fetch is pending and no table was PUT, and checks the         \
	 * certificates as a PUT's (core/snp-certs.c). */                                        \
	X(SNP_CERTS_KDS, sevd_snp_certs_op, NULL, 1, FIXED(REQ_SNP_KDS),                            \
	  REP_VAR(snp_certs, len, table), SEVD_ROLE_BIT(SEVD_ROLE_PUBLIC), 0)                     \
	/* Migration in batches (guest.c "migration"): up to SEVD_MIG_BATCH pages per op, each  \
	 * still its own SEND_UPDATE_DATA / RECEIVE_UPDATE_DATA, run back to back on the        \
	 * firmware thread; the send and receive streams use these, not the per-page rows. */    \
	X(GUEST_SEND_BATCH, op_guest, op_send_batch, 1, FIXED(REQ_BATCH_HDR),                     \
	  REP_VAR(migrate_batch, n, p), SEVD_ROLES_MIGRATOR, 1)                                    \
	X(GUEST_RECEIVE_BATCH, op_guest, op_receive_batch, 1, REQ_VAR(migrate_batch, n, p),        \
	  REP_VAR(migrate_batch, n, p), SEVD_ROLES_MIGRATOR, 1)
