/* Roles and how a caller gets one (man/sevd.8, "Roles"): on the Unix socket the peer's
 * credentials (SO_PEERCRED, SO_PEERGROUPS): uid 0 or a member of admin_group is admin,
 * anyone else reader; on TCP a bearer token whose SHA-256 matches a configured hash (the core
 * compares, with CRYPTO_memcmp against every hash, so timing says nothing) gives the token's role, and
 * without a token a TCP caller is public. Trusts the kernel's peer credentials only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/ipc/ops.h"

/* enum sevd_role and SEVD_ROLE_BIT: the op table (daemon/ipc/ops.h), which the core enforces. */

const char *sevd_role_name(enum sevd_role r);
int sevd_role_from_name(const char *s, enum sevd_role *ret);

struct sevd_config;

struct sevd_caller;
/* The evidence the core decides on (core.h, struct sevd_caller): the Unix peer's
 * credentials; a bearer token as presented (at most SEVD_EVIDENCE_MAX - 1 bytes: a longer
 * one is forwarded empty and the core refuses it). */
void sevd_auth_unix_evidence(int fd, struct sevd_caller *cl);
void sevd_auth_token_evidence(const char *token, struct sevd_caller *cl);
/* Role of the peer on a connected Unix socket. */
enum sevd_role sevd_auth_unix_peer(int fd, gid_t admin_gid, bool have_admin_gid);
/* A bearer token's role is the core's answer (op WHOAMI, core/authz.c): the worker holds no
 * token hash (sevd.c wipes the worker's parsed copy). */
/* SHA-256 of a token (for config and tests). */
int sevd_auth_hash(const char *token, uint8_t ret[32]);
