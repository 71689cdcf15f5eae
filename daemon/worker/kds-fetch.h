/* The worker's fetch of the host's SEV-SNP certificate table from sevd.conf kds_url: the core
 * (privileged) never speaks HTTP to the network, so the worker asks the core what the VCEK's
 * KDS path is made of (SNP_CERTS_KDS, stage BEGIN: chip id, reported TCB, generation), GETs
 * the VCEK (DER) and the generation's cert_chain (ASK and ARK, PEM) through common/kds-url,
 * and hands them to the core (stage CERTS), which builds the table and checks it as a PUT's;
 * a failure goes to the core too (stage FAILED), which keeps the backoff (1 s doubling to
 * 60 s) and answers when to try again. Ends when the core says nothing is pending (a table is
 * held or was PUT). Trusts the KDS for nothing: the core checks what it sent. */
#pragma once

struct sevd_kds_fetch;

/* Before the sandbox (the seccomp filter leaves no DNS): url split and its host resolved to
 * the address every attempt connects to. -EINVAL or -EHOSTUNREACH, logged naming kds_url and
 * the fix. */
int sevd_kds_fetch_new(const char *url, struct sevd_kds_fetch **ret);
/* After the sandbox: the fetch runs in a thread of its own. */
int sevd_kds_fetch_start(struct sevd_kds_fetch *f);
/* Stops the thread (an attempt in flight is waited for a few seconds at most) and frees.
 * NULL is fine. */
void sevd_kds_fetch_free(struct sevd_kds_fetch *f);
