/* The core's admission of the worker's requests: each request's caller evidence
 * (core.h, struct sevd_caller) is mapped to a role by the core's own copy of the
 * credentials, and the op table's roles column (daemon/ipc/ops.h) decides. Core side. */
#pragma once

#include "daemon/core/core.h"

struct sevd_authz;

int sevd_authz_new(const struct sevd_core_config *cfg, struct sevd_authz **ret);
void sevd_authz_free(struct sevd_authz *a);
/* 0, or -EACCES with rep->r, rep->message and rep->rule ("core_refused:REASON") set. */
int sevd_authz_check(struct sevd_authz *a, struct sevd_request *req, struct sevd_reply *rep);
/* A refusal an op made itself (guest.c: another tenant's guest, rule "core_refused:tenant"; a
 * migrator's DELETE of a guest it is not receiving, "forbidden:role", answered 403 forbidden):
 * counted and logged like the others. */
void sevd_authz_note(struct sevd_authz *a, uint32_t op, const struct sevd_reply *rep);
/* WHOAMI: the role of the caller's bearer token in rep->u.whoami (known = 0 and public for
 * a token no line configures, and for any other evidence). Never a refusal. */
void sevd_authz_whoami(struct sevd_authz *a, const struct sevd_caller *cl, struct sevd_reply *rep);
/* CONN_CERT: verify the chain of req->u.cert_chain against tls_client_ca; rep->u.conn: the
 * id CERT evidence then carries and the role its subject maps to; or a refusal (counted,
 * reason bad_certificate) in rep. CONN_END: that id ends. reset: every id ends (a new
 * worker: the old one's connections are gone). */
void sevd_authz_conn_cert(struct sevd_authz *a, const struct sevd_request *req,
			  struct sevd_reply *rep);
void sevd_authz_conn_end(struct sevd_authz *a, uint64_t id);
void sevd_authz_conns_reset(struct sevd_authz *a);
/* sevd_core_refusals_total{op,reason} appended at text + n; the new length. */
int sevd_authz_render(struct sevd_authz *a, char *text, size_t size, int n);
/* The op's name in the op table ("FACTORY_RESET"), "unknown" when there is none. */
const char *sevd_op_name(uint32_t op);
