/* sevd's settings: a table of keys, each with a setter; the same table serves the config
 * file and the command line. */
#include <errno.h>
#include <stddef.h>
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
	/* A body must keep up with body_min_rate after body_timeout; unauthenticated
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
	free(c->kds_url);
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

/* `<role>:<subject DN or CN>[:tenant=NAME]` for client certificates (worker/tls.c and
 * core/authz.c compare the subject; the core alone uses the tenant, as a token's). The
 * last ":tenant=" starts the tenant, so a subject may hold one itself only with a tenant. */
static int set_cert_role(struct sevd_config *c, const char *v, const char **reason)
{
	const char *p = strchr(v, ':'), *tn = NULL, *end;
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
	for (const char *q = p + 1; (q = strstr(q, ":tenant=")); q++)
		tn = q;
	end = tn ? tn : p + 1 + strlen(p + 1);
	if (end == p + 1) {
		*reason = "expected <role>:<subject DN or CN>";
		return -EINVAL;
	}
	memset(cr->tenant, 0, sizeof(cr->tenant));
	if (tn) {
		if (!policy_tenant_name_valid(tn + 8) || strlen(tn + 8) >= sizeof(cr->tenant)) {
			*reason = "tenant=NAME: 1..63 of [A-Za-z0-9._-], not starting with '.'";
			return -EINVAL;
		}
		snprintf(cr->tenant, sizeof(cr->tenant), "%s", tn + 8);
	}
	cr->subject = strndup(p + 1, (size_t)(end - (p + 1)));
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

/* `psp = emu[:SOCKET] | dev[:PATH]`. */
static int set_psp(struct sevd_config *c, const char *v, const char **reason)
{
	(void)reason;
	return strncmp(v, "emu", 3) && strncmp(v, "dev", 3) ? -EINVAL : set_str(&c->psp, v);
}

/* `kds_url = off | http[s]://HOST[:PORT][/PREFIX]`: where the SNP certificate table is fetched
 * from at start. Only the scheme and a host are checked here; the fetch names what fails. */
static int set_kds_url(struct sevd_config *c, const char *v, const char **reason)
{
	const char *h = !strncmp(v, "https://", 8) ? v + 8 : !strncmp(v, "http://", 7) ? v + 7 : NULL;

	if (strcmp(v, "off") != 0 && (!h || !*h || *h == '/' || *h == ':' ||
				      strpbrk(v, " \t\r\n?#@"))) {
		*reason = "expected off or http[s]://HOST[:PORT][/PREFIX] (a KDS, e.g. "
			  SEVD_KDS_DEFAULT_URL ")";
		return -EINVAL;
	}
	return set_str(&c->kds_url, v);
}

/* `control = [unix:]PATH`, the grant-stream socket. */
static int set_control(struct sevd_config *c, const char *v, const char **reason)
{
	(void)reason;
	return set_str(&c->control, strncmp(v, "unix:", 5) == 0 ? v + 5 : v);
}

/* `destructive_rate = N/s|N/min|N/h|0`: the core's bucket for destructive platform ops
 * (core/authz.c). */
static int set_destructive_rate(struct sevd_config *c, const char *v, const char **reason)
{
	return set_rate(&c->destructive_rate, &c->destructive_period_s, v, reason);
}

/* What a key's value is. SIZE (bytes) and DURATION (seconds, or milliseconds for a *_ms key)
 * parse as UINT: the type says what the number counts. ABS_DIR is an absolute path, ABS_FILE
 * one that does not end in '/'. SPECIAL keys have a setter of their own. */
enum config_type {
	CONFIG_BOOL,
	CONFIG_UINT,
	CONFIG_SIZE,
	CONFIG_DURATION,
	CONFIG_STRING,
	CONFIG_ABS_DIR,
	CONFIG_ABS_FILE,
	CONFIG_SPECIAL,
};

struct config_key {
	const char *key;
	enum config_type type;
	size_t offset;	/* of the field in struct sevd_config (not for SPECIAL) */
	uint32_t min, max; /* accepted range of a number; max 0: no upper bound */
	const char *reason; /* why a bad value is refused; NULL: "invalid value" */
	int (*set)(struct sevd_config *c, const char *v, const char **reason); /* SPECIAL */
};

#define OF(field) offsetof(struct sevd_config, field)
#define BOOL(k, field) { k, CONFIG_BOOL, OF(field), 0, 0, NULL, NULL }
#define NUM(k, type, field, min, max) { k, CONFIG_##type, OF(field), min, max, NULL, NULL }
#define STR(k, field) { k, CONFIG_STRING, OF(field), 0, 0, NULL, NULL }
#define PATH(k, type, field, why) { k, CONFIG_##type, OF(field), 0, 0, why, NULL }
#define SPECIAL(k, fn) { k, CONFIG_SPECIAL, 0, 0, 0, NULL, fn }

/* Every key of [sevd] (the "policy." keys of [policy] go to policy_rules_set()); each has an
 * entry in man/sevd.conf.5 (tests/docs/test-manuals.sh reads this table). */
static const struct config_key config_keys[] = {
	SPECIAL("psp", set_psp),
	STR("state_dir", state_dir),
	SPECIAL("listen", set_listen),
	STR("admin_group", admin_group),
	STR("worker_user", worker_user),
	STR("roots_dir", roots_dir),
	PATH("migration_roots", ABS_DIR, migration_roots,
	     "migration_roots must be an absolute path to a directory"),
	PATH("migration_emulated_root", ABS_FILE, migration_emulated_root,
	     "migration_emulated_root must be an absolute path to an ASK/ARK file"),
	STR("emu_exe", emu_exe),
	SPECIAL("kds_url", set_kds_url),
	PATH("inventory_file", ABS_FILE, inventory_file,
	     "inventory_file must be an absolute path to a file"),
	SPECIAL("token", set_token),
	STR("tls_cert", tls_cert),
	STR("tls_key", tls_key),
	STR("tls_client_ca", tls_client_ca),
	SPECIAL("client_cert_role", set_cert_role),
	BOOL("allow_plain_tcp", allow_plain_tcp),
	BOOL("allow_unseparated_worker", allow_unseparated_worker),
	BOOL("auto_init", auto_init),
	BOOL("init_es", init_es),
	BOOL("snp", snp),
	NUM("queue_max", UINT, queue_max, 1, 0),
	NUM("queue_wait_ms", DURATION, queue_wait_ms, 0, 0),
	NUM("command_timeout_ms", DURATION, command_timeout_ms, 0, 0),
	NUM("asid_flush_threshold", UINT, flush_threshold, 0, 0),
	NUM("emu_cpuid_ecx", UINT, emu_cpuid_ecx, 0, 0),
	NUM("emu_cpuid_edx", UINT, emu_cpuid_edx, 0, 0),
	BOOL("emu_snp", emu_snp),
	NUM("max_body", SIZE, max_body, 1, 0),
	NUM("connection_limit", UINT, connection_limit, 1, 0),
	NUM("per_ip_connection_limit", UINT, per_ip_connection_limit, 0, 0),
	NUM("connection_timeout", DURATION, connection_timeout_s, 0, 0),
	NUM("header_timeout", DURATION, header_timeout_s, 0, 0),
	NUM("rate_limit", UINT, rate_limit, 0, 0),
	NUM("rate_burst", UINT, rate_burst, 0, 0),
	NUM("public_rate_limit", UINT, public_rate_limit, 0, 0),
	NUM("public_rate_burst", UINT, public_rate_burst, 0, 0),
	NUM("body_timeout", DURATION, body_timeout_s, 0, 0),
	NUM("body_min_rate", SIZE, body_min_rate, 0, 0),
	/* Each upload and each reserved channel holds one of the core's 16 channels. */
	NUM("upload_limit", UINT, upload_limit, 1, 15),
	NUM("upload_limit_per_principal", UINT, upload_limit_per_principal, 1, 15),
	NUM("reserved_channels", UINT, reserved_channels, 1, 15),
	NUM("channel_wait", DURATION, channel_wait_s, 1, 600),
	BOOL("metrics_public", metrics_public),
	NUM("journal_compact", UINT, journal_compact, 2, 0),
	SPECIAL("destructive_rate", set_destructive_rate),
	SPECIAL("control", set_control),
};

/* The fields NUM rows point at are all 32-bit unsigned. */
_Static_assert(sizeof(unsigned) == sizeof(uint32_t), "NUM fields are unsigned/uint32_t");

static int set_number(uint32_t *dst, const char *v, uint32_t min, uint32_t max)
{
	uint32_t u;
	int r = parse_u32(v, &u);

	if (r < 0)
		return r;
	if (u < min || (max && u > max))
		return -EINVAL;
	*dst = u;
	return 0;
}

static int set_key(struct sevd_config *c, const struct config_key *k, const char *v,
		   const char **reason)
{
	void *field = (char *)c + k->offset;

	if (k->reason)
		*reason = k->reason;
	switch (k->type) {
	case CONFIG_BOOL:
		return set_bool(field, v);
	case CONFIG_UINT:
	case CONFIG_SIZE:
	case CONFIG_DURATION:
		return set_number(field, v, k->min, k->max);
	case CONFIG_STRING:
		return set_str(field, v);
	case CONFIG_ABS_DIR:
		return v[0] != '/' ? -EINVAL : set_str(field, v);
	case CONFIG_ABS_FILE:
		return v[0] != '/' || endswith(v, "/") ? -EINVAL : set_str(field, v);
	case CONFIG_SPECIAL:
		return k->set(c, v, reason);
	}
	return -EINVAL;
}

int sevd_config_set(struct sevd_config *c, const char *key, const char *v, const char **reason)
{
	int r;

	*reason = "invalid value";
	for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
		if (!strcmp(key, config_keys[i].key))
			return set_key(c, &config_keys[i], v, reason);
	if (!strncmp(key, "policy.", 7)) {
		r = policy_rules_set(&c->policy, key + 7, v, reason);
		if (r == -ENOENT) {
			*reason = "unknown policy rule (see policy/admission.h)";
			r = -EINVAL;
		}
		return r;
	}
	*reason = "unknown key";
	return -EINVAL;
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
