/* The host's SEV-SNP certificate table: the ARK, the ASK (or, for a VLEK, the
 * ASVK, in the ASK's entry: the GHCB spec names no ASVK GUID), the VCEK or VLEK and any
 * GUID-keyed extra entry, in the GHCB spec's format (attest/snp-cert-table.h), as VMMs hand it
 * to guests with extended reports. Owned by the core: the worker only forwards. An uploaded
 * table is checked (snp-certs.c) and kept in <state_dir>/snp-certs.bin (atomic write); without
 * one, the chip's VCEK for its reported TCB is fetched at start: from the emulator's key server
 * by the core, or from sevd.conf kds_url by the worker, which hands the certificates to the
 * core (SNP_CERTS_KDS) to be checked as a PUT. Privileged side. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct sevd_core;
struct sevd_request;
struct sevd_reply;
struct sevd_snp_certs;

/* The table kept in state_dir (NULL: none kept), read now when there is one. */
int sevd_snp_certs_new(const char *state_dir, struct sevd_snp_certs **ret);
void sevd_snp_certs_free(struct sevd_snp_certs *s);
/* At start, on the firmware thread, with SNP up: check a kept table against this chip (a
 * warning naming what no longer holds), or without one start the background fetch of the
 * VCEK, ASK and ARK from the key server (the emulator's, on the emu transport): a thread of
 * its own, retrying 1 s after a failure, doubling to 60 s, until a table is held or one is
 * PUT (never overwritten); GET answers it as pending meanwhile. The first failure and the
 * success are logged, not each retry. The install runs as a firmware job (the chip's check).
 * With kds_url a URL no thread starts: the fetch is marked pending from it, for the worker. */
void sevd_snp_certs_start(struct sevd_core *c);
/* Ends the background fetch (an attempt waiting on the emulator is cut short) and joins it;
 * before the firmware queue goes. Idempotent. */
void sevd_snp_certs_stop(struct sevd_snp_certs *s);
/* SNP_CERTS_GET, SNP_CERTS_PUT, SNP_CERTS_DELETE. A PUT that does not verify is -EKEYREJECTED
 * with the reason; a malformed table -EBADMSG. SNP_CERTS_KDS (the worker's fetch, stages
 * enum sevd_snp_kds_stage): -EALREADY unless the fetch from kds_url is pending; else r = 0
 * with the state as GET's (still pending: a failed attempt, message saying why, and the
 * retry) and, for BEGIN, the chip id, reported TCB and generation. */
void sevd_snp_certs_op(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep);
/* A copy of the table held now into buf (cap bytes): its length, 0 when none is held (or s is
 * NULL, or it does not fit). Any thread. */
size_t sevd_snp_certs_copy(struct sevd_snp_certs *s, uint8_t *buf, size_t cap);
