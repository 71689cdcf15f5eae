/* sevd's settings: defaults, then the config file (/etc/sevd/sevd.conf, INI-like `key = value`
 * lines, '#' comments), then command-line flags, which win. Tokens are stored only as
 * SHA-256 hashes: `token = <role>:sha256:<64 hex>`. Trusts nothing in the file: every value
 * is checked and an error names the file, line and key. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "daemon/auth.h"

#define SEVD_LISTEN_MAX 8
#define SEVD_TOKENS_MAX 32

struct sevd_token {
	enum sevd_role role;
	uint8_t hash[32]; /* SHA-256 of the bearer token */
};

struct sevd_config {
	char *psp;	 /* "emu", "emu:PATH", "dev", "dev:PATH" */
	char *state_dir;
	char *listen[SEVD_LISTEN_MAX]; /* "unix:PATH", "tcp:ADDR:PORT" */
	unsigned n_listen;
	char *admin_group; /* Unix peers in this group are admins (root always is) */
	char *roots_dir;   /* ask.cert / ark.cert of the platform's root */
	char *emu_exe;	   /* sev-psp-emu to start for --psp emu */
	struct sevd_token tokens[SEVD_TOKENS_MAX];
	unsigned n_tokens;
	bool auto_init, init_es;
	unsigned queue_max, queue_wait_ms;
	uint32_t flush_threshold;
	uint32_t emu_cpuid_ecx, emu_cpuid_edx; /* 0 = the emulator's default */
	unsigned max_body;		       /* default request body limit, bytes */
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
