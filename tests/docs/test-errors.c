/* Every user-facing error names the thing and the reason: reads the sources
 * ($SEVD_SOURCE_ROOT) and collects the format strings of every user-facing error — sevadm's
 * fprintf(stderr, ...), sevadm_fail, sevadm_usage and checklist_add in cli/; log_error* and
 * log_warning* in daemon/, psp/ and psp/emu/; the "message" of the JSON errors sevd answers
 * (sevd_api_error, and snprintf into a msg/why/err buffer, in daemon/api*.c; fail() in
 * daemon/core/guest.c) — and fails on any that
 *
 *   - is a bare number: a numeric conversion and nothing else but words like "error",
 *     "failed", "status", "errno", "r" ("%d", "error %d", "failed: %d", "r=%d");
 *   - prints an errno value as a number (an argument errno, r, -r, ret, rc) instead of %m or
 *     strerror();
 *   - prints a firmware status as a number (an argument named status, fw_status, fw_err,
 *     psp_ret, or a "status %u"-like text) instead of by name (sev_status_name/psp_strerror).
 *
 * The checker is run on known-bad and known-good samples first: it can fail. Format strings
 * that are not literals (a variable) cannot be read here and are counted, not judged. */
#include <ctype.h>
#include <dirent.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"

struct site {
	const char *dir;    /* folder, relative to the source root */
	const char *prefix; /* file name prefix ("" = every .c) */
	const char *fn;
	unsigned fmt_arg; /* index of the format argument */
};

static const struct site sites[] = {
    {"cli", "", "fprintf", 1},
    {"cli", "", "sevadm_fail", 1},
    {"cli", "", "sevadm_usage", 1},
    {"cli", "", "checklist_add", 3},
    {"daemon", "", "log_error", 0},
    {"daemon", "", "log_warning", 0},
    {"daemon", "", "log_error_errno", 1},
    {"daemon", "", "log_warning_errno", 1},
    {"daemon/core", "", "log_error", 0},
    {"daemon/core", "", "log_warning", 0},
    {"daemon/core", "", "log_error_errno", 1},
    {"daemon/core", "", "log_warning_errno", 1},
    {"daemon/worker", "", "log_error", 0},
    {"daemon/worker", "", "log_warning", 0},
    {"daemon/worker", "", "log_error_errno", 1},
    {"daemon/worker", "", "log_warning_errno", 1},
    {"daemon/ipc", "", "log_error", 0},
    {"daemon/ipc", "", "log_warning", 0},
    {"daemon/ipc", "", "log_error_errno", 1},
    {"daemon/ipc", "", "log_warning_errno", 1},
    {"daemon/worker", "api", "sevd_api_error", 3},
    {"daemon/core", "guest.c", "fail", 2},
    {"daemon/worker", "api", "snprintf", 2}, /* into msg/why/err...: messages for sevd_api_error */
    {"psp", "", "log_error", 0},
    {"psp", "", "log_warning", 0},
    {"psp", "", "log_error_errno", 1},
    {"psp", "", "log_warning_errno", 1},
    {"psp/emu", "", "log_error", 0},
    {"psp/emu", "", "log_warning", 0},
    {"psp/emu", "", "log_error_errno", 1},
    {"psp/emu", "", "log_warning_errno", 1},
};

static unsigned n_messages, n_unreadable, n_violations;
static regex_t re_conv, re_errno_text, re_status_text, re_status_arg, re_errno_arg, re_named,
    re_msg_buf;

#define CONV "%[-#0 +']*[0-9*]*(\\.[0-9*]+)?(hh|h|ll|l|j|z|t)?[a-zA-Z%]"
#define NUMCONV "%[-#0 +']*[0-9*]*(\\.[0-9*]+)?(hh|h|ll|l|j|z|t)?[diouxX]"

static void compile(regex_t *re, const char *pattern)
{
	TU_CHECK(regcomp(re, pattern, REG_EXTENDED | REG_ICASE) == 0, "regcomp %s", pattern);
}

static bool matches(regex_t *re, const char *s)
{
	return regexec(re, s, 0, NULL, 0) == 0;
}

/* ---- the rules, on one format string and its arguments ---- */

/* Words that say nothing about the thing or the reason. */
static bool empty_word(const char *w)
{
	static const char *const words[] = {
	    "error", "errors", "failed", "failure",  "fail",   "status", "errno", "err", "r", "ret",
	    "rc",    "code",   "return", "returned", "result", "value",	 "x",	  "0x",	 "e"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(w, words[i]) == 0)
			return true;
	return false;
}

static bool is_bare_number(const char *fmt)
{
	char w[64];
	size_t n = 0;
	bool numeric = false, words = false;

	for (const char *p = fmt;;) {
		regmatch_t m;
		if (*p == '%' && regexec(&re_conv, p, 1, &m, 0) == 0 && m.rm_so == 0) {
			char c = p[m.rm_eo - 1];
			numeric |= strchr("diouxX", c) != NULL;
			words |= c == 's' || c == 'm'; /* a string may say something */
			p += m.rm_eo;
			continue;
		}
		if (isalpha((unsigned char)*p) || *p == '_') {
			if (n < sizeof(w) - 1)
				w[n++] = *p;
		} else if (n) {
			w[n] = 0;
			words |= !empty_word(w);
			n = 0;
		}
		if (!*p)
			break;
		p++;
	}
	return numeric && !words;
}

/* The arguments that numeric conversions print (in order), and whether the rule holds. */
static const char *judge(const char *fmt, char **args, size_t n_args)
{
	size_t a = 0;
	bool has_m = strstr(fmt, "%m") != NULL, named = false;

	for (size_t i = 0; i < n_args; i++)
		named |= matches(&re_named, args[i]);
	if (is_bare_number(fmt))
		return "a bare number: say what failed, why, and what to do";
	if (!has_m && matches(&re_errno_text, fmt))
		return "an errno value printed as a number: use %m or strerror()";
	if (!named && matches(&re_status_text, fmt))
		return "a firmware status printed as a number: use sev_status_name()";
	for (const char *p = fmt; *p; p++) {
		regmatch_t m;
		if (*p != '%' || regexec(&re_conv, p, 1, &m, 0) != 0 || m.rm_so != 0)
			continue;
		char c = p[m.rm_eo - 1];
		for (const char *q = p + 1; q < p + m.rm_eo; q++)
			a += *q == '*'; /* a '*' width or precision takes an argument */
		if (c != '%' && c != 'm') {
			if (strchr("diouxX", c) && a < n_args) {
				if (matches(&re_errno_arg, args[a]))
					return "an errno value printed as a number: use %m or "
					       "strerror()";
				if (matches(&re_status_arg, args[a]) &&
				    !matches(&re_named, args[a]))
					return "a firmware status printed as a number: use "
					       "sev_status_name()";
			}
			a++;
		}
		p += m.rm_eo - 1;
	}
	return NULL;
}

/* ---- reading C ---- */

/* The source with comments blanked (strings and characters kept). */
static void strip_comments(char *s)
{
	for (char *p = s; *p; p++) {
		if (*p == '"' || *p == '\'') {
			char q = *p;
			for (p++; *p && *p != q; p++)
				if (*p == '\\' && p[1])
					p++;
			if (!*p)
				return;
		} else if (p[0] == '/' && p[1] == '*') {
			for (; *p && !(p[0] == '*' && p[1] == '/'); p++)
				if (*p != '\n')
					*p = ' ';
			if (!*p)
				return;
			p[0] = p[1] = ' ';
		} else if (p[0] == '/' && p[1] == '/') {
			for (; *p && *p != '\n'; p++)
				*p = ' ';
			if (!*p)
				return;
		}
	}
}

/* The top-level arguments of the call whose '(' is at *p; *p moves past its ')'. */
static size_t split_args(const char **pp, char **args, size_t cap)
{
	const char *p = *pp + 1, *start = p;
	size_t n = 0;
	int depth = 0;

	for (; *p; p++) {
		if (*p == '"' || *p == '\'') {
			char q = *p;
			for (p++; *p && *p != q; p++)
				if (*p == '\\' && p[1])
					p++;
			if (!*p)
				break;
		} else if (*p == '(' || *p == '[' || *p == '{') {
			depth++;
		} else if ((*p == ')' || *p == ']' || *p == '}') && depth > 0) {
			depth--;
		} else if ((*p == ',' && depth == 0) || *p == ')') {
			if (n < cap)
				args[n++] = strndup(start, (size_t)(p - start));
			start = p + 1;
			if (*p == ')')
				break;
		}
	}
	*pp = *p ? p + 1 : p;
	return n;
}

/* The concatenated literal of an argument ("a" "b" PRIu64 ...), or NULL if it is no literal. */
static char *literal(const char *arg)
{
	size_t len = strlen(arg), n = 0;
	char *out = malloc(len * 2 + 8);
	bool any = false;

	TU_CHECK(out, "out of memory");
	for (const char *p = arg; *p;) {
		if (isspace((unsigned char)*p)) {
			p++;
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1]) {
					out[n++] = p[1] == 'n' ? ' ' : p[1];
					p++;
				} else {
					out[n++] = *p;
				}
			}
			p += *p == '"';
			any = true;
		} else if (strncmp(p, "PRI", 3) == 0) { /* "%" PRIu64: a numeric conversion */
			for (p += 3; isalnum((unsigned char)*p); p++)
				;
			out[n++] = 'u';
		} else {
			free(out);
			return NULL;
		}
	}
	out[n] = 0;
	if (!any) {
		free(out);
		return NULL;
	}
	return out;
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static void scan_file(const char *root, const char *rel, const struct site *s)
{
	char path[1024];
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	char *text = (char *)tu_read_file(path, &len);
	text = realloc(text, len + 1);
	TU_CHECK(text, "out of memory");
	text[len] = 0;
	strip_comments(text);
	size_t fl = strlen(s->fn);
	const char *counted = text;
	unsigned line = 1;
	for (const char *p = text; (p = strstr(p, s->fn));) {
		const char *q = p + fl;
		if ((p > text && (ident_char(p[-1]) || p[-1] == '.' || p[-1] == '>')) ||
		    ident_char(*q)) {
			p = q;
			continue;
		}
		while (isspace((unsigned char)*q))
			q++;
		if (*q != '(') {
			p = q;
			continue;
		}
		for (; counted < p; counted++)
			line += *counted == '\n';
		char *args[32];
		size_t n = split_args(&q, args, 32);
		p = q;
		if (strcmp(s->fn, "fprintf") == 0 && (n < 1 || !strstr(args[0], "stderr")))
			goto next;
		if (strcmp(s->fn, "snprintf") == 0 && (n < 1 || !matches(&re_msg_buf, args[0])))
			goto next;
		if (n <= s->fmt_arg)
			goto next;
		char *fmt = literal(args[s->fmt_arg]);
		if (!fmt) {
			n_unreadable++;
			goto next;
		}
		n_messages++;
		const char *why = judge(fmt, args + s->fmt_arg + 1, n - s->fmt_arg - 1);
		if (why) {
			n_violations++;
			fprintf(stderr, "%s:%u: %s(\"%s\"): %s\n", rel, line, s->fn, fmt, why);
		}
		free(fmt);
	next:
		for (size_t i = 0; i < n; i++)
			free(args[i]);
	}
	free(text);
}

static void scan_site(const char *root, const struct site *s)
{
	char dirp[1024];
	struct dirent *e;
	DIR *d;

	snprintf(dirp, sizeof(dirp), "%s/%s", root, s->dir);
	d = opendir(dirp);
	TU_CHECK(d, "opendir %s: %m", dirp);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 3 || strcmp(e->d_name + l - 2, ".c") != 0 ||
		    strncmp(e->d_name, s->prefix, strlen(s->prefix)) != 0)
			continue;
		char rel[600];
		snprintf(rel, sizeof(rel), "%s/%s", s->dir, e->d_name);
		scan_file(root, rel, s);
	}
	closedir(d);
}

/* ---- the checker can fail ---- */

static void self_test(void)
{
	static const struct {
		const char *fmt, *arg;
		bool bad;
	} t[] = {
	    {"%d", "r", true},
	    {"error %d", "x", true},
	    {"failed: %d", "n", true},
	    {"status %u", "s", true},
	    {"errno %d", "e", true},
	    {"Cannot open %s: r=%d", "r", true},
	    {"LAUNCH_START failed: firmware status 0x%x", "st", true},
	    {"Cannot read the PDH: %u", "rep->fw_status", true},
	    {"Cannot write %s: %m", "path", false},
	    {"Guest %u not found; list them with 'sevadm show guests'", "h", false},
	    {"LAUNCH_START failed: %s", "sev_status_name(rep->fw_status)", false},
	    {"firmware answered %s (%u)", "sev_status_name(st), st", false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *args[2] = {(char *)t[i].arg, NULL};
		size_t n = 1;
		char *comma = strstr(t[i].arg, ", ");
		char buf[128];
		if (comma) { /* two arguments */
			snprintf(buf, sizeof(buf), "%.*s", (int)(comma - t[i].arg), t[i].arg);
			args[0] = buf;
			args[1] = comma + 2;
			n = 2;
		}
		const char *why = judge(t[i].fmt, args, n);
		TU_CHECK((why != NULL) == t[i].bad, "self-test: \"%s\" judged %s", t[i].fmt,
			 why ? why : "fine");
	}
}

int main(void)
{
	const char *root = getenv("SEVD_SOURCE_ROOT");

	if (!root || !*root)
		tu_skip("$SEVD_SOURCE_ROOT is not set (run through meson test)");
	compile(&re_conv, "^" CONV);
	compile(&re_errno_text,
		"(^|[^a-z_])(errno|r|ret|rc|err|error|error code)[ ]*[=:]?[ ]*\\(?" NUMCONV);
	compile(&re_status_text,
		"(firmware|fw|psp)[a-z _]{0,12}(status|error|answered|returned|said)[ "
		":=(]*(0x)?" NUMCONV);
	compile(&re_status_arg,
		"(^|[^a-z_])(status|fw_status|fw_err|fw_error|psp_ret|fw_ret)[ ]*$");
	compile(&re_errno_arg, "^[ ]*-?[ ]*(errno|r|ret|rc|err)[ ]*$");
	compile(&re_named, "sev_status_name|sev_status_meaning|psp_strerror|strerror");
	compile(&re_msg_buf, "msg|message|why|err|reason|hint");
	self_test();
	for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++)
		scan_site(root, &sites[i]);
	fprintf(stderr,
		"%u error messages read, %u with a non-literal format (not judged), %u "
		"violations\n",
		n_messages, n_unreadable, n_violations);
	TU_CHECK(n_messages > 50, "only %u messages found: is the scan reading the sources?",
		 n_messages);
	TU_CHECK(n_violations == 0, "%u error messages lack a name or a reason (listed above)",
		 n_violations);
	regfree(&re_conv);
	regfree(&re_errno_text);
	regfree(&re_status_text);
	regfree(&re_status_arg);
	regfree(&re_errno_arg);
	regfree(&re_named);
	regfree(&re_msg_buf);
	tu_done("test-errors");
}
