/* sevd's settings: defaults, then the config file (/etc/sevd/sevd.conf, INI-like `key = value`
 * lines, '#' comments), then command-line flags, which win. Tokens are stored only as
 * SHA-256 hashes: `token = <role>:sha256:<64 hex>`. Trusts nothing in the file: every value
 * is checked and an error names the file, line and key. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "daemon/core/core.h"
#include "daemon/worker/auth.h"
#include "policy/admission.h"

#define SEVD_LISTEN_MAX 8
#define SEVD_TOKENS_MAX 32
#define SEVD_CERT_ROLES_MAX 32
#define SEVD_KDS_DEFAULT_URL "https://kdsintf.amd.com" /* AMD's KDS */

/* struct sevd_token, struct sevd_cert_role: core.h (the core keeps its own copy). */

struct sevd_config {
	char *psp;	 /* "emu", "emu:PATH", "dev", "dev:PATH" */
	char *state_dir;
	char *listen[SEVD_LISTEN_MAX]; /* "unix:PATH", "tcp:ADDR:PORT", "tls:ADDR:PORT" */
	unsigned n_listen;
	char *admin_group; /* Unix peers in this group are admins (root always is) */
	char *worker_user; /* the HTTP worker's user (NULL: sevd-worker, sevd, nobody) */
	char *roots_dir;   /* ask.cert / ark.cert of the platform's root */
	/* The roots a migration target's PDH chain must reach (an attest/roots.h
	 * directory of AMD roots; NULL: the compiled-in default) and one non-AMD root file
	 * (ASK ‖ ARK, e.g. sev-psp-emu's) trusted for migration only (NULL: none). */
	char *migration_roots, *migration_emulated_root;
	char *emu_exe;	   /* sev-psp-emu to start for --psp emu */
	/* `kds_url`: the Key Distribution Service the SNP certificate table is fetched from at
	 * start (scheme://host[:port][/prefix]), "off" for no fetch; NULL: not set (the dev
	 * transport then uses SEVD_KDS_DEFAULT_URL, the emulator its own key server). */
	char *kds_url;
	char *inventory_file; /* NFD feature file the core keeps (inventory.h), or NULL */
	struct sevd_token tokens[SEVD_TOKENS_MAX];
	unsigned n_tokens;
	bool auto_init, init_es;
	bool snp; /* SNP_INIT_EX before INIT where the platform has SNP ("snp = off": SEV only) */
	unsigned queue_max, queue_wait_ms;
	unsigned command_timeout_ms; /* 0 = the transport's own (emu: 30 s) */
	uint32_t flush_threshold;
	uint32_t emu_cpuid_ecx, emu_cpuid_edx; /* 0 = the emulator's default */
	bool emu_snp;			       /* the embedded emulator with --snp */
	unsigned max_body;		       /* default request body limit, bytes */
	/* Guests: host admission rules (`policy.KEY = VALUE`, policy/admission.h),
	 * journal compaction bound, grant-stream socket (`control = PATH`, default
	 * STATE_DIR/control.sock), and --journal-recover. */
	struct policy_rules policy;
	unsigned journal_compact;
	char *control;
	bool journal_recover;
	/* Against hostile or slow clients (http.c): connections per listener and per TCP client
	 * address, idle timeout, deadline for a request's headers, requests per second per TCP
	 * client address (0 = off) with its burst. */
	unsigned connection_limit, per_ip_connection_limit;
	unsigned connection_timeout_s, header_timeout_s;
	unsigned rate_limit, rate_burst;
	/* Requests per second (and burst) per TCP client address for callers without
	 * credentials (no token, no mapped client certificate, or a bad token; 0 = off); the
	 * deadline of a request body: body_timeout seconds after the headers plus one second per
	 * body_min_rate bytes received (0 = no deadline); GET /metrics for public callers too. */
	unsigned public_rate_limit, public_rate_burst;
	unsigned body_timeout_s, body_min_rate;
	/* Image uploads at once, in all and per principal (each holds one of the 16
	 * core channels while it runs); channels kept for reads and health; the longest wait
	 * of a call for a channel, seconds (then 503 busy). */
	unsigned upload_limit, upload_limit_per_principal, reserved_channels, channel_wait_s;
	bool metrics_public;
	/* Remote access (tls.h): server certificate and key files (PEM), the CA file client
	 * certificates are verified against, their subject-to-role map; plain TCP only on
	 * loopback and only with allow_plain_tcp. */
	char *tls_cert, *tls_key, *tls_client_ca;
	struct sevd_cert_role cert_roles[SEVD_CERT_ROLES_MAX];
	unsigned n_cert_roles;
	bool allow_plain_tcp;
	/* Start even when the HTTP worker must keep the core's uid (a non-root sevd
	 * without CAP_SETUID/CAP_SETGID, or worker_user = the core's user); default no. */
	bool allow_unseparated_worker;
	/* Destructive platform ops (core/authz.c) the core admits per period, e.g.
	 * `destructive_rate = 6/min` (the default; a burst of that many, refilled evenly);
	 * `0` = no limit. */
	unsigned destructive_rate, destructive_period_s;
};

void sevd_config_init(struct sevd_config *c);
void sevd_config_done(struct sevd_config *c);
/* Parse one `key = value` assignment (from the file or a flag); 0, -EINVAL or -ENOMEM. */
int sevd_config_set(struct sevd_config *c, const char *key, const char *value,
		    const char **reason);
/* Read a config file; -ENOENT when it does not exist (the caller decides whether that is
 * fine), -EINVAL with the offending line logged. */
int sevd_config_load(struct sevd_config *c, const char *path);
/* Parse text (for tests and the fuzz target); `origin` names it in messages. */
int sevd_config_parse(struct sevd_config *c, const char *text, const char *origin);
