/* Fault plans of sev-psp-emu: the rule parser, the rule table, and the per-command hit test
 * called from the firmware dispatcher (see fault.h and README.md "Fault plans"). Rule text
 * comes from the command line or from any socket client; it is checked byte by byte and every
 * refusal names the token at fault. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/util.h"
#include "psp/emu/fault.h"
#include "psp/sev-abi.h"

struct emu_faults {
	struct emu_fault_rule rules[EMU_FAULT_MAX_RULES];
	unsigned n;
	struct emu_fault_action action; /* left by the last hit for the socket side */
};

static const struct {
	const char *name;
	enum emu_fault_kind kind;
	const char *value; /* what its value is, or NULL when it takes none */
} actions[] = {
    {"fail", EMU_FAULT_FAIL, "STATUS"},		  {"hang", EMU_FAULT_HANG, "SECONDS"},
    {"garbage-len", EMU_FAULT_GARBAGE_LEN, NULL}, {"die", EMU_FAULT_DIE, NULL},
    {"drop-socket", EMU_FAULT_DROP_SOCKET, NULL},
};

#define K(kind) (1u << (kind))
/* The options after the action, and the actions each applies to: `count` makes no sense for
 * die (the process is gone after the first), `before` none for fail (a failed command never
 * runs) nor hang (the command runs, then the emulator stalls). */
enum { OPT_NTH, OPT_COUNT, OPT_BEFORE };
static const struct {
	const char *name;
	bool has_value;
	unsigned kinds;
} options[] = {
    [OPT_NTH] = {"nth", true, ~0u},
    [OPT_COUNT] = {"count", true,
		   K(EMU_FAULT_FAIL) | K(EMU_FAULT_HANG) | K(EMU_FAULT_GARBAGE_LEN) |
		       K(EMU_FAULT_DROP_SOCKET)},
    [OPT_BEFORE] = {"before", false,
		    K(EMU_FAULT_GARBAGE_LEN) | K(EMU_FAULT_DIE) | K(EMU_FAULT_DROP_SOCKET)},
};

static int fail_msg(char *err, size_t n, const char *fmt, ...) _printf_(3, 4);
static int fail_msg(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (err && n) {
		va_start(ap, fmt);
		vsnprintf(err, n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *action_name(enum emu_fault_kind kind)
{
	for (size_t i = 0; i < ELEMENTSOF(actions); i++)
		if (actions[i].kind == kind)
			return actions[i].name;
	return "none";
}

/* Decimal, or hex after 0x: digits only (no sign, no space, no suffix). */
static int parse_number(const char *s, uint64_t *ret)
{
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	const char *d = hex ? s + 2 : s;

	if (!*d)
		return -EINVAL;
	for (const char *p = d; *p; p++)
		if (!(hex ? isxdigit((unsigned char)*p) : isdigit((unsigned char)*p)))
			return -EINVAL;
	return parse_u64(s, ret);
}

/* A command by name (PLATFORM_STATUS, any case) or id (0x4). Only ids whose buffer the
 * emulator knows reach the interception point: a rule on anything else would never fire. */
static int parse_cmd(const char *s, uint32_t *ret, char *err, size_t n)
{
	uint64_t id = SEV_CMD_MAX_;

	if (isdigit((unsigned char)s[0])) {
		if (parse_number(s, &id) < 0)
			return fail_msg(err, n,
					"'%s' is not a command id (a name such as "
					"PLATFORM_STATUS or a hex id such as 0x4)",
					s);
	} else {
		for (uint32_t c = 0; c < SEV_CMD_MAX_; c++)
			if (sev_cmd_name(c) && strcasecmp(sev_cmd_name(c), s) == 0)
				id = c;
	}
	if (id >= SEV_CMD_MAX_ || !sev_cmd_name((uint32_t)id))
		return fail_msg(err, n,
				"unknown command '%s' (a name such as PLATFORM_STATUS or "
				"a hex id such as 0x4)",
				s);
	if (sev_cmd_buffer_size((uint32_t)id) < 0)
		return fail_msg(err, n,
				"command %s has no command buffer size, so a fault on "
				"it would never fire",
				sev_cmd_name((uint32_t)id));
	*ret = (uint32_t)id;
	return 0;
}

/* A firmware status by name (INVALID_GUEST, any case); SUCCESS is not a failure. */
static int parse_status(const char *s, int *ret, char *err, size_t n)
{
	for (int st = 0; st < SEV_STATUS_MAX_; st++) {
		const char *name = sev_status_name(st);

		if (strncmp(name, "UNKNOWN_", 8) == 0 || strcasecmp(name, s) != 0)
			continue;
		if (st == SEV_STATUS_SUCCESS)
			return fail_msg(err, n,
					"fail=SUCCESS is not a failure (name a firmware "
					"error status such as HWERROR_PLATFORM)");
		*ret = st;
		return 0;
	}
	return fail_msg(err, n,
			"unknown firmware status '%s' (a name such as "
			"INVALID_PLATFORM_STATE or HWERROR_PLATFORM)",
			s);
}

/* "key" or "key=value": splits tok in place; *value is NULL without '='. */
static void split_kv(char *tok, char **value)
{
	char *eq = strchr(tok, '=');

	*value = NULL;
	if (eq) {
		*eq = 0;
		*value = eq + 1;
	}
}

static int parse_action(char *tok, struct emu_fault_rule *r, char *err, size_t n)
{
	char *val;
	uint64_t v;

	split_kv(tok, &val);
	for (size_t i = 0; i < ELEMENTSOF(actions); i++) {
		if (strcmp(tok, actions[i].name) != 0)
			continue;
		if (actions[i].value && !val)
			return fail_msg(err, n, "%s needs a value (%s=%s)", tok, tok,
					actions[i].value);
		if (!actions[i].value && val)
			return fail_msg(err, n, "%s takes no value", tok);
		r->kind = actions[i].kind;
		if (r->kind == EMU_FAULT_FAIL)
			return parse_status(val, &r->status, err, n);
		if (r->kind == EMU_FAULT_HANG &&
		    (parse_number(val, &v) < 0 || v < 1 || v > EMU_FAULT_MAX_HANG))
			return fail_msg(err, n, "hang=%s: seconds must be 1..%u", val,
					EMU_FAULT_MAX_HANG);
		r->seconds = r->kind == EMU_FAULT_HANG ? (uint32_t)v : 0;
		return 0;
	}
	return fail_msg(err, n,
			"unknown action '%s' (one of fail=STATUS, hang=SECONDS, "
			"garbage-len, die, drop-socket)",
			tok);
}

static int parse_option(char *tok, struct emu_fault_rule *r, unsigned *seen, char *err, size_t n)
{
	char *val;
	uint64_t v = 0;

	split_kv(tok, &val);
	for (unsigned i = 0; i < ELEMENTSOF(options); i++) {
		if (strcmp(tok, options[i].name) != 0)
			continue;
		if (*seen & (1u << i))
			return fail_msg(err, n, "option %s given twice", tok);
		*seen |= 1u << i;
		if (!(options[i].kinds & K(r->kind)))
			return fail_msg(err, n, "option %s does not apply to %s", tok,
					action_name(r->kind));
		if (options[i].has_value && !val)
			return fail_msg(err, n, "%s needs a value (%s=N)", tok, tok);
		if (!options[i].has_value && val)
			return fail_msg(err, n, "%s takes no value", tok);
		if (i == OPT_BEFORE) {
			r->before = true;
			return 0;
		}
		if (i == OPT_COUNT && strcmp(val, "all") == 0) {
			r->count = EMU_FAULT_COUNT_ALL;
			return 0;
		}
		if (parse_number(val, &v) < 0 || v < 1 || v == UINT64_MAX)
			return fail_msg(err, n, "%s=%s: must be a whole number from 1%s", tok, val,
					i == OPT_COUNT ? " (or all)" : "");
		*(i == OPT_NTH ? &r->nth : &r->count) = v;
		return 0;
	}
	return fail_msg(err, n, "unknown option '%s' (nth=N, count=K, before)", tok);
}

/* Printable ASCII only: the text may be echoed in replies and logs. */
static int check_text(const char *text, char *err, size_t n)
{
	size_t len = strlen(text);

	if (len == 0)
		return fail_msg(err, n, "empty fault rule (CMD:ACTION[:OPTION...])");
	if (len > EMU_FAULT_MAX_TEXT) {
		fail_msg(err, n, "fault rule of %zu bytes is too long (at most %u)", len,
			 EMU_FAULT_MAX_TEXT);
		return -E2BIG;
	}
	for (size_t i = 0; i < len; i++)
		if (!isgraph((unsigned char)text[i]))
			return fail_msg(err, n,
					"byte 0x%02x at offset %zu is not allowed in a fault "
					"rule (printable ASCII without spaces)",
					(unsigned char)text[i], i);
	return 0;
}

int emu_fault_parse(const char *text, struct emu_fault_rule *ret, char *err, size_t err_len)
{
	char buf[EMU_FAULT_MAX_TEXT + 1], *save = NULL, *tok;
	struct emu_fault_rule r = {.nth = 1, .count = 1};
	unsigned seen = 0;
	int e = check_text(text, err, err_len);

	if (e < 0)
		return e;
	strcpy(buf, text);
	if (strstr(buf, "::") || buf[0] == ':' || buf[strlen(buf) - 1] == ':')
		return fail_msg(err, err_len, "empty field in '%s' (CMD:ACTION[:OPTION...])", text);
	tok = strtok_r(buf, ":", &save);
	e = parse_cmd(tok, &r.cmd, err, err_len);
	if (e < 0)
		return e;
	tok = strtok_r(NULL, ":", &save);
	if (!tok)
		return fail_msg(err, err_len,
				"no action after '%s' (fail=STATUS, hang=SECONDS, "
				"garbage-len, die, drop-socket)",
				sev_cmd_name(r.cmd));
	e = parse_action(tok, &r, err, err_len);
	while (e >= 0 && (tok = strtok_r(NULL, ":", &save)))
		e = parse_option(tok, &r, &seen, err, err_len);
	if (e < 0)
		return e;
	if (r.count != EMU_FAULT_COUNT_ALL && r.nth > UINT64_MAX - r.count)
		return fail_msg(err, err_len, "nth + count overflows");
	*ret = r;
	return 0;
}

int emu_fault_format(const struct emu_fault_rule *r, char *buf, size_t cap)
{
	char val[48] = "", count[32] = "";

	if (r->kind == EMU_FAULT_FAIL)
		snprintf(val, sizeof(val), "=%s", sev_status_name(r->status));
	else if (r->kind == EMU_FAULT_HANG)
		snprintf(val, sizeof(val), "=%u", r->seconds);
	if (r->kind != EMU_FAULT_DIE) {
		if (r->count == EMU_FAULT_COUNT_ALL)
			snprintf(count, sizeof(count), ":count=all");
		else
			snprintf(count, sizeof(count), ":count=%llu", (unsigned long long)r->count);
	}
	return snprintf(buf, cap, "%s:%s%s:nth=%llu%s%s", sev_cmd_name(r->cmd) ?: "?",
			action_name(r->kind), val, (unsigned long long)r->nth, count,
			r->before ? ":before" : "");
}

int emu_faults_new(struct emu_faults **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

void emu_faults_free(struct emu_faults *f)
{
	free(f);
}

int emu_faults_add(struct emu_faults *f, const char *text, char *msg, size_t msg_len)
{
	struct emu_fault_rule r;
	int e;

	if (f->n >= EMU_FAULT_MAX_RULES) {
		fail_msg(msg, msg_len,
			 "already %u fault rules installed (the most there can be); "
			 "`fault clear` first",
			 EMU_FAULT_MAX_RULES);
		return -ENOSPC;
	}
	e = emu_fault_parse(text, &r, msg, msg_len);
	if (e < 0)
		return e;
	f->rules[f->n++] = r;
	if (msg && msg_len)
		emu_fault_format(&r, msg, msg_len);
	return 0;
}

void emu_faults_clear(struct emu_faults *f)
{
	memset(f, 0, sizeof(*f));
}

size_t emu_faults_list(const struct emu_faults *f, char *buf, size_t cap)
{
	size_t len = 0;

	if (cap)
		buf[0] = 0;
	for (unsigned i = 0; i < f->n && len + 1 < cap; i++) {
		len += (size_t)emu_fault_format(&f->rules[i], buf + len, cap - len);
		if (len + 1 >= cap)
			break;
		len += (size_t)snprintf(buf + len, cap - len, " calls=%llu fired=%llu%s",
					(unsigned long long)f->rules[i].calls,
					(unsigned long long)f->rules[i].fired,
					i + 1 < f->n ? "\n" : "");
	}
	return MIN(len, cap ? cap - 1 : 0);
}

static bool fires(const struct emu_fault_rule *r)
{
	return r->calls >= r->nth &&
	       (r->count == EMU_FAULT_COUNT_ALL || r->calls - r->nth < r->count);
}

const struct emu_fault_rule *emu_faults_hit(struct emu_faults *f, uint32_t cmd)
{
	struct emu_fault_rule *hit = NULL;
	char text[EMU_FAULT_MAX_TEXT + 64];

	if (!f)
		return NULL;
	f->action = (struct emu_fault_action){.kind = EMU_FAULT_NONE};
	/* Every rule on cmd counts the call, even when an earlier rule fires on it, so that
	 * each rule's nth means "the nth call since this rule was installed". */
	for (unsigned i = 0; i < f->n; i++) {
		struct emu_fault_rule *r = &f->rules[i];

		if (r->cmd != cmd)
			continue;
		r->calls++;
		if (!hit && fires(r))
			hit = r;
	}
	if (!hit)
		return NULL;
	hit->fired++;
	emu_fault_format(hit, text, sizeof(text));
	log_info("Fault plan: %s call %llu strikes (%s)", sev_cmd_name(cmd),
		 (unsigned long long)hit->calls, text);
	if (hit->kind != EMU_FAULT_FAIL)
		f->action = (struct emu_fault_action){
		    .kind = hit->kind, .cmd = cmd, .seconds = hit->seconds};
	return hit;
}

struct emu_fault_action emu_faults_take_action(struct emu_faults *f)
{
	struct emu_fault_action a = {.kind = EMU_FAULT_NONE};

	if (f) {
		a = f->action;
		f->action.kind = EMU_FAULT_NONE;
	}
	return a;
}
