/* sevd's settings: a table of keys, each with a setter; the same table serves the config
 * file and the command line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"
#include "common/util.h"
#include "daemon/sevd-config.h"

void sevd_config_init(struct sevd_config *c)
{
	memset(c, 0, sizeof(*c));
	c->auto_init = true;
	c->init_es = true;
	c->snp = true;
	c->queue_max = 256;
	c->queue_wait_ms = 30000;
	c->flush_threshold = 0;
	c->max_body = 64 * 1024;
	policy_rules_init(&c->policy);
	c->journal_compact = 1024;
	c->connection_limit = 512;
	c->per_ip_connection_limit = 256; /* one address never takes every slot */
	c->connection_timeout_s = 60;
	c->header_timeout_s = 10;
	/* Issue 27: a body must keep up with body_min_rate after body_timeout; unauthenticated
	 * TCP callers have a rate of their own; /metrics is for the reader role. */
	c->body_timeout_s = 30;
	c->body_min_rate = 64 * 1024;
	/* 8 uploads + 4 reserved of the 16 channels: 4 left for launches and other calls. */
	c->upload_limit = 8;
	c->upload_limit_per_principal = 4;
	c->reserved_channels = 4;
	c->channel_wait_s = 5;
	c->public_rate_limit = 20;
	c->public_rate_burst = 100;
	c->destructive_rate = 6;
	c->destructive_period_s = 60;
}

void sevd_config_done(struct sevd_config *c)
{
	free(c->psp);
	free(c->state_dir);
	for (unsigned i = 0; i < c->n_listen; i++)
		free(c->listen[i]);
	free(c->admin_group);
	free(c->worker_user);
	free(c->roots_dir);
	free(c->migration_roots);
	free(c->migration_emulated_root);
	free(c->emu_exe);
	free(c->inventory_file);
	free(c->control);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_client_ca);
	for (unsigned i = 0; i < c->n_cert_roles; i++)
		free(c->cert_roles[i].subject);
	secret_wipe(c->tokens, sizeof(c->tokens));
	memset(c, 0, sizeof(*c));
}

static int set_str(char **dst, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int set_bool(bool *dst, const char *v)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
		*dst = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
		*dst = false;
	else
		return -EINVAL;
	return 0;
}

static int set_uint(unsigned *dst, const char *v)
{
	uint32_t u;
	int r = parse_u32(v, &u);

	if (r >= 0)
		*dst = u;
	return r;
}

/* `<role>:sha256:<64 hex>[:tenant=NAME]`: only the hash of a token ever sits in the file;
 * NAME is the tenant whose guests alone the token's principal may launch and act on (the core
 * enforces it: core/authz.c, guest.c). */
static int set_token(struct sevd_config *c, const char *v, const char **reason)
{
	const char *p = strchr(v, ':');
	char role[16];
	struct sevd_token *t;
	int r;

	if (c->n_tokens >= SEVD_TOKENS_MAX) {
		*reason = "too many tokens";
		return -EINVAL;
	}
	t = &c->tokens[c->n_tokens];
	if (!p || (size_t)(p - v) >= sizeof(role)) {
		*reason = "expected <role>:sha256:<hex>";
		return -EINVAL;
	}
	memcpy(role, v, (size_t)(p - v));
	role[p - v] = '\0';
	if (sevd_role_from_name(role, &t->role) < 0 || t->role == SEVD_ROLE_PUBLIC) {
		*reason = "role must be reader, owner, launcher, migrator or admin";
		return -EINVAL;
	}
	{
		const char *tn = strstr(p + 1, ":tenant=");
		char hex[65];

		if (tn) {
			if (!policy_tenant_name_valid(tn + 8) ||
			    strlen(tn + 8) >= sizeof(t->tenant)) {
				*reason = "tenant=NAME: 1..63 of [A-Za-z0-9._-], not starting "
					  "with '.'";
				return -EINVAL;
			}
			snprintf(t->tenant, sizeof(t->tenant), "%s", tn + 8);
			if (strncmp(p + 1, "sha256:", 7) != 0 || tn < p + 8 ||
			    (size_t)(tn - (p + 8)) != 64) {
				*reason = "expected sha256: and 64 hex digits (sha256sum of the "
					  "token)";
				return -EINVAL;
			}
			memcpy(hex, p + 8, 64);
			hex[64] = '\0';
			r = hex_decode_exact(hex, t->hash, 32);
			secret_wipe(hex, sizeof(hex)); /* no copy of a hash left on the stack */
			if (r < 0) {
				*reason = "expected sha256: and 64 hex digits (sha256sum of the "
					  "token)";
				return -EINVAL;
			}
			c->n_tokens++;
			return 0;
		}
	}
	if (strncmp(p + 1, "sha256:", 7) != 0 || hex_decode_exact(p + 8, t->hash, 32) < 0) {
		*reason = "expected sha256: and 64 hex digits (sha256sum of the token)";
		return -EINVAL;
	}
	c->n_tokens++;
	return 0;
}

/* `N/s`, `N/min`, `N/h` (N 1..1000), or `0` for no limit. */
static int set_rate(unsigned *n, unsigned *period_s, const char *v, const char **reason)
{
	static const struct {
		const char *unit;
		unsigned s;
	} units[] = {{"s", 1}, {"sec", 1}, {"min", 60}, {"h", 3600}, {"hour", 3600}};
	char num[16];
	const char *slash = strchr(v, '/');
	uint32_t u;

	*reason = "expected N/s, N/min or N/h (N from 1 to 1000), or 0 for no limit";
	if (!strcmp(v, "0")) {
		*n = 0;
		return 0;
	}
	if (!slash || (size_t)(slash - v) >= sizeof(num))
		return -EINVAL;
	memcpy(num, v, (size_t)(slash - v));
	num[slash - v] = '\0';
	if (parse_u32(num, &u) < 0 || u == 0 || u > 1000)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if (!strcmp(slash + 1, units[i].unit)) {
			*n = u;
			*period_s = units[i].s;
			return 0;
		}
	return -EINVAL;
}

/* `<role>:<subject DN or CN>` for client certificates (tls.c compares). */
static int set_cert_role(struct sevd_config *c, const char *v, const char **reason)
{
	const char *p = strchr(v, ':');
	char role[16];
	struct sevd_cert_role *cr;

	if (c->n_cert_roles >= SEVD_CERT_ROLES_MAX) {
		*reason = "too many client_cert_role lines";
		return -EINVAL;
	}
	cr = &c->cert_roles[c->n_cert_roles];
	if (!p || p == v || (size_t)(p - v) >= sizeof(role) || !p[1]) {
		*reason = "expected <role>:<subject DN or CN>";
		return -EINVAL;
	}
	memcpy(role, v, (size_t)(p - v));
	role[p - v] = '\0';
	if (sevd_role_from_name(role, &cr->role) < 0 || cr->role == SEVD_ROLE_PUBLIC) {
		*reason = "role must be reader, owner, launcher, migrator or admin";
		return -EINVAL;
	}
	cr->subject = strdup(p + 1);
	if (!cr->subject)
		return -ENOMEM;
	cr->is_dn = strchr(cr->subject, '=') != NULL;
	c->n_cert_roles++;
	return 0;
}

static int set_listen(struct sevd_config *c, const char *v, const char **reason)
{
	if (strncmp(v, "unix:/", 6) != 0 && strncmp(v, "tcp:", 4) != 0 &&
	    strncmp(v, "tls:", 4) != 0) {
		*reason = "expected unix:/PATH, tls:ADDR:PORT or tcp:ADDR:PORT";
		return -EINVAL;
	}
	if (c->n_listen >= SEVD_LISTEN_MAX) {
		*reason = "too many listen addresses";
		return -EINVAL;
	}
	c->listen[c->n_listen] = strdup(v);
	if (!c->listen[c->n_listen])
		return -ENOMEM;
	c->n_listen++;
	return 0;
}

int sevd_config_set(struct sevd_config *c, const char *key, const char *v, const char **reason)
{
	int r = -EINVAL;

	*reason = "invalid value";
	if (!strcmp(key, "psp"))
		r = strncmp(v, "emu", 3) && strncmp(v, "dev", 3) ? -EINVAL : set_str(&c->psp, v);
	else if (!strcmp(key, "state_dir"))
		r = set_str(&c->state_dir, v);
	else if (!strcmp(key, "listen"))
		r = set_listen(c, v, reason);
	else if (!strcmp(key, "admin_group"))
		r = set_str(&c->admin_group, v);
	else if (!strcmp(key, "worker_user"))
		r = set_str(&c->worker_user, v);
	else if (!strcmp(key, "roots_dir"))
		r = set_str(&c->roots_dir, v);
	else if (!strcmp(key, "migration_roots")) { /* issue 23 */
		*reason = "migration_roots must be an absolute path to a directory";
		r = v[0] != '/' ? -EINVAL : set_str(&c->migration_roots, v);
	} else if (!strcmp(key, "migration_emulated_root")) {
		*reason = "migration_emulated_root must be an absolute path to an ASK/ARK file";
		r = v[0] != '/' || endswith(v, "/") ? -EINVAL
						     : set_str(&c->migration_emulated_root, v);
	} else if (!strcmp(key, "emu_exe"))
		r = set_str(&c->emu_exe, v);
	else if (!strcmp(key, "inventory_file")) { /* issue 26, daemon/core/inventory.h */
		*reason = "inventory_file must be an absolute path to a file";
		r = v[0] != '/' || endswith(v, "/") ? -EINVAL : set_str(&c->inventory_file, v);
	}
	else if (!strcmp(key, "token"))
		r = set_token(c, v, reason);
	else if (!strcmp(key, "tls_cert"))
		r = set_str(&c->tls_cert, v);
	else if (!strcmp(key, "tls_key"))
		r = set_str(&c->tls_key, v);
	else if (!strcmp(key, "tls_client_ca"))
		r = set_str(&c->tls_client_ca, v);
	else if (!strcmp(key, "client_cert_role"))
		r = set_cert_role(c, v, reason);
	else if (!strcmp(key, "allow_plain_tcp"))
		r = set_bool(&c->allow_plain_tcp, v);
	else if (!strcmp(key, "allow_unseparated_worker"))
		r = set_bool(&c->allow_unseparated_worker, v);
	else if (!strcmp(key, "auto_init"))
		r = set_bool(&c->auto_init, v);
	else if (!strcmp(key, "init_es"))
		r = set_bool(&c->init_es, v);
	else if (!strcmp(key, "snp"))
		r = set_bool(&c->snp, v);
	else if (!strcmp(key, "queue_max"))
		r = set_uint(&c->queue_max, v) < 0 || c->queue_max == 0 ? -EINVAL : 0;
	else if (!strcmp(key, "queue_wait_ms"))
		r = set_uint(&c->queue_wait_ms, v);
	else if (!strcmp(key, "command_timeout_ms"))
		r = set_uint(&c->command_timeout_ms, v);
	else if (!strcmp(key, "asid_flush_threshold"))
		r = parse_u32(v, &c->flush_threshold);
	else if (!strcmp(key, "emu_cpuid_ecx"))
		r = parse_u32(v, &c->emu_cpuid_ecx);
	else if (!strcmp(key, "emu_cpuid_edx"))
		r = parse_u32(v, &c->emu_cpuid_edx);
	else if (!strcmp(key, "emu_snp"))
		r = set_bool(&c->emu_snp, v);
	else if (!strcmp(key, "max_body"))
		r = set_uint(&c->max_body, v) < 0 || c->max_body == 0 ? -EINVAL : 0;
	else if (!strcmp(key, "connection_limit"))
		r = set_uint(&c->connection_limit, v) < 0 || c->connection_limit == 0 ? -EINVAL : 0;
	else if (!strcmp(key, "per_ip_connection_limit"))
		r = set_uint(&c->per_ip_connection_limit, v);
	else if (!strcmp(key, "connection_timeout"))
		r = set_uint(&c->connection_timeout_s, v);
	else if (!strcmp(key, "header_timeout"))
		r = set_uint(&c->header_timeout_s, v);
	else if (!strcmp(key, "rate_limit"))
		r = set_uint(&c->rate_limit, v);
	else if (!strcmp(key, "rate_burst"))
		r = set_uint(&c->rate_burst, v);
	else if (!strcmp(key, "public_rate_limit"))
		r = set_uint(&c->public_rate_limit, v);
	else if (!strcmp(key, "public_rate_burst"))
		r = set_uint(&c->public_rate_burst, v);
	else if (!strcmp(key, "body_timeout"))
		r = set_uint(&c->body_timeout_s, v);
	else if (!strcmp(key, "body_min_rate"))
		r = set_uint(&c->body_min_rate, v);
	else if (!strcmp(key, "upload_limit"))
		r = set_uint(&c->upload_limit, v) < 0 || c->upload_limit == 0 ||
			    c->upload_limit > 15 ? -EINVAL : 0;
	else if (!strcmp(key, "upload_limit_per_principal"))
		r = set_uint(&c->upload_limit_per_principal, v) < 0 ||
			    c->upload_limit_per_principal == 0 ||
			    c->upload_limit_per_principal > 15 ? -EINVAL : 0;
	else if (!strcmp(key, "reserved_channels"))
		r = set_uint(&c->reserved_channels, v) < 0 || c->reserved_channels == 0 ||
			    c->reserved_channels > 15 ? -EINVAL : 0;
	else if (!strcmp(key, "channel_wait"))
		r = set_uint(&c->channel_wait_s, v) < 0 || c->channel_wait_s == 0 ||
			    c->channel_wait_s > 600 ? -EINVAL : 0;
	else if (!strcmp(key, "destructive_rate")) /* issue 24, core/authz.c */
		r = set_rate(&c->destructive_rate, &c->destructive_period_s, v, reason);
	else if (!strcmp(key, "metrics_public"))
		r = set_bool(&c->metrics_public, v);
	else if (!strcmp(key, "journal_compact"))
		r = set_uint(&c->journal_compact, v) < 0 || c->journal_compact < 2 ? -EINVAL : 0;
	else if (!strcmp(key, "control"))
		r = set_str(&c->control, strncmp(v, "unix:", 5) == 0 ? v + 5 : v);
	else if (!strncmp(key, "policy.", 7)) {
		r = policy_rules_set(&c->policy, key + 7, v, reason);
		if (r == -ENOENT) {
			*reason = "unknown policy rule (see policy/admission.h)";
			r = -EINVAL;
		}
	} else
		*reason = "unknown key";
	return r;
}

static char *strip(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

static int parse_lines(struct sevd_config *c, char *copy, const char *origin)
{
	char *save = NULL, *line, full[160];
	const char *section = ""; /* "[policy]" prefixes its keys with "policy." */
	unsigned lineno = 0;

	/* strtok_r skips empty lines, so count them by hand. */
	for (line = copy; line; line = save) {
		const char *reason = NULL;
		char *eq, *key, *val;
		int r;

		lineno++;
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		key = strip(line);
		if (*key == '\0' || *key == '#' || *key == ';')
			continue;
		if (*key == '[') {
			if (strcmp(key, "[policy]") != 0 && strcmp(key, "[sevd]") != 0) {
				log_error("%s:%u: unknown section %s (known: [sevd], [policy])", origin,
					  lineno, key);
				return -EINVAL;
			}
			section = strcmp(key, "[policy]") == 0 ? "policy." : "";
			continue;
		}
		eq = strchr(key, '=');
		if (!eq) {
			log_error("%s:%u: expected 'key = value'", origin, lineno);
			return -EINVAL;
		}
		*eq = '\0';
		key = strip(key);
		val = strip(eq + 1);
		if (snprintf(full, sizeof(full), "%s%s", section, key) >= (int)sizeof(full)) {
			log_error("%s:%u: key too long", origin, lineno);
			return -EINVAL;
		}
		key = full;
		r = sevd_config_set(c, key, val, &reason);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			/* Never echo a token line's value. */
			log_error("%s:%u: %s: %s", origin, lineno, key, reason);
			return -EINVAL;
		}
	}
	return 0;
}

int sevd_config_parse(struct sevd_config *c, const char *text, const char *origin)
{
	_cleanup_free_ char *copy = strdup(text);
	int r;

	if (!copy)
		return -ENOMEM;
	r = parse_lines(c, copy, origin);
	secret_wipe(copy, strlen(text) + 1); /* token lines: no copy left in freed memory */
	return r;
}

int sevd_config_load(struct sevd_config *c, const char *path)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	r = read_full_file(path, 1024 * 1024, &buf, &len);
	if (r < 0)
		return r;
	text = malloc(len + 1);
	if (text) {
		memcpy(text, buf, len);
		text[len] = '\0';
	}
	/* The file holds token hashes: no copy of it stays in freed memory (a worker parses
	 * it too, and must hold none: sevd.c). */
	secret_wipe(buf, len);
	if (!text)
		return -ENOMEM;
	if (strlen(text) != len) {
		log_error("%s: contains a NUL byte", path);
		r = -EINVAL;
	} else
		r = sevd_config_parse(c, text, path);
	secret_wipe(text, len);
	return r;
}
