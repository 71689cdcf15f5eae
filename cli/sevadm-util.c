/* Helpers every sevadm verb shares: one way to connect to sevd, to make a JSON call, to turn
 * the daemon's error object into a sentence, and to ask for confirmation. Daemon answers are
 * untrusted: strings are sanitised before they reach the terminal. */
#include <ctype.h>
#include <getopt.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"
#include "cli/sevadm.h"

#define MAX_TOKEN_FILE 4096

static _Thread_local FILE *err_stream;

FILE *sevadm_stderr(void)
{
	return err_stream ? err_stream : stderr;
}

void sevadm_set_stderr(FILE *f)
{
	err_stream = f;
}

/* "sevadm: VERB: " and the sentence, without its end of line, on f. */
_printf_(3, 0) static void say(FILE *f, const char *verb, const char *fmt, va_list ap)
{
	fprintf(f, "sevadm: %s: ", verb);
	vfprintf(f, fmt, ap);
}

int sevadm_fail(const char *verb, const char *fmt, ...)
{
	FILE *f = sevadm_stderr();
	va_list ap;

	va_start(ap, fmt);
	say(f, verb, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	return SEVADM_EXIT_FAIL;
}

int sevadm_usage(const char *verb, const char *fmt, ...)
{
	FILE *f = sevadm_stderr();
	va_list ap;

	va_start(ap, fmt);
	say(f, verb, fmt, ap);
	va_end(ap);
	fprintf(f, "\nTry 'sevadm %s --help'.\n", verb);
	return SEVADM_EXIT_USAGE;
}

int sevadm_bad_option(const char *verb, char **argv)
{
	/* getopt left optind past the offending word; sevadm.c turned its own message off. */
	return sevadm_usage(verb, "unknown option '%s'", optind > 0 ? argv[optind - 1] : "?");
}

/* The token file holds one line; surrounding whitespace is not part of the token. */
static int read_token(const char *verb, const char *path, char **ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0, start = 0;
	int r;

	r = read_full_file(path, MAX_TOKEN_FILE, &buf, &len);
	if (r < 0)
		return sevadm_fail(verb, "cannot read the token file %s: %s — check --token", path,
				   strerror(-r));
	while (len > 0 && isspace(buf[len - 1]))
		len--;
	while (start < len && isspace(buf[start]))
		start++;
	char *t = strndup((char *)buf + start, len - start);
	OPENSSL_cleanse(buf, len);
	if (!t)
		return sevadm_fail(verb, "out of memory");
	bool printable = *t != 0;
	for (const char *p = t; *p; p++)
		printable = printable && isgraph((unsigned char)*p);
	if (!printable) {
		free(t);
		return sevadm_fail(verb, "the token file %s must hold one token (printable ASCII, "
					   "no spaces) on one line", path);
	}
	*ret = t;
	return 0;
}

int sevadm_connect(const struct sevadm_ctx *ctx, const char *verb, struct http_client **ret)
{
	struct http_client_opts opts = { .ca_file = ctx->ca_file };
	char *token = NULL;
	int r;

	if (ctx->token_file) {
		r = read_token(verb, ctx->token_file, &token);
		if (r != 0)
			return r;
		opts.token = token;
	}
	r = http_client_new(ctx->daemon, &opts, ret);
	if (token) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
	if (r == -EINVAL) /* from --daemon or SEVD_SOCKET: a usage error */
		return sevadm_usage(verb, "'%s' is not a daemon address: use unix:PATH, "
					  "http://HOST:PORT or https://HOST:PORT",
				    ctx->daemon);
	if (r < 0)
		return sevadm_fail(verb, "cannot set up a client: %s", strerror(-r));
	return 0;
}

/* Control characters from the daemon never reach the terminal. */
static char *sanitize(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	char *o = strndup(s, n);

	if (o)
		for (char *p = o; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	return o;
}

static const char *auth_hint(int status, const char *code)
{
	/* A host admission refusal is a 403 too, but about the guest, not the caller's role. */
	if (code && strcmp(code, "policy_refused") == 0)
		return " — change the guest's policy, or ask the operator about the host's rules";
	if (status == 401)
		return " — pass a token with --token FILE";
	if (status == 403)
		return " — your role may not do this: use an admin token, or run as root or a "
		       "member of sevd's admin group on the Unix socket";
	return "";
}

static const char *json_raw_str(json_object *obj, const char *key)
{
	json_object *v;

	if (json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/* The daemon's {"error":{...}} as one sentence; a non-JSON answer is described too. */
static char *error_message(const struct http_response *resp)
{
	_cleanup_(json_object_putp) json_object *j = json_tokener_parse((char *)resp->body);
	json_object *e = NULL;
	_cleanup_free_ char *msg = NULL, *fw = NULL;
	const char *code = NULL;
	char *out = NULL;

	if (j && json_object_object_get_ex(j, "error", &e) && json_object_is_type(e, json_type_object)) {
		/* Raw strings here: sanitize() below masks control characters one by one. */
		const char *m = json_raw_str(e, "message");
		code = json_raw_str(e, "code");
		const char *f = json_raw_str(e, "fw_status");
		msg = sanitize(m ? m : code ? code : "no message", 1024);
		if (f && *f)
			fw = sanitize(f, 64);
	} else
		msg = sanitize(resp->body_len ? (char *)resp->body : "empty answer", 200);
	if (!msg)
		return NULL;
	if (fw && asprintf(&out, "%s (firmware status %s)%s", msg, fw,
			   auth_hint(resp->status, code)) < 0)
		out = NULL;
	else if (!fw && asprintf(&out, "%s (HTTP %d)%s", msg, resp->status,
				 auth_hint(resp->status, code)) < 0)
		out = NULL;
	return out;
}

static int parse_answer(const struct http_response *resp, json_object **ret, char **ret_error)
{
	json_tokener *tok;
	json_object *j;

	if (resp->body_len == 0) {
		*ret = json_object_new_object();
		return *ret ? 0 : -ENOMEM;
	}
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	j = json_tokener_parse_ex(tok, (char *)resp->body, (int)resp->body_len);
	bool ok = j && json_tokener_get_error(tok) == json_tokener_success &&
		  json_tokener_get_parse_end(tok) == resp->body_len;
	json_tokener_free(tok);
	if (!ok) {
		json_object_put(j);
		if (asprintf(ret_error, "sevd sent an answer that is not JSON (HTTP %d) — is "
					"--daemon pointing at sevd?", resp->status) < 0)
			*ret_error = NULL;
		return -EBADMSG;
	}
	*ret = j;
	return 0;
}

/* What a request's outcome (r from http_request*, the response) means for the caller: the
 * client's error, the daemon's error message for a non-2xx status (-status), or the JSON. */
static int call_answer(struct http_client *c, int r, struct http_response *resp, json_object **ret,
		       char **ret_error)
{
	if (r < 0) {
		*ret_error = strdup(http_client_error(c));
		return r;
	}
	if (resp->status < 200 || resp->status > 299) {
		*ret_error = error_message(resp);
		r = -resp->status;
	} else
		r = parse_answer(resp, ret, ret_error);
	http_response_clear(resp);
	return r;
}

int sevadm_call_quiet(struct http_client *c, const char *method, const char *path,
		      json_object *body, json_object **ret, char **ret_error)
{
	struct http_response resp = {};
	const char *b = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL;
	int r;

	*ret_error = NULL;
	r = http_request(c, method, path, b ? "application/json" : NULL, b, b ? strlen(b) : 0,
			 &resp);
	return call_answer(c, r, &resp, ret, ret_error);
}

/* As sevadm_call_quiet, with the request body streamed from cb (image uploads). */
int sevadm_call_bytes_quiet(struct http_client *c, const char *method, const char *path,
			    const void *body, size_t len, json_object **ret, char **ret_error)
{
	struct http_response resp = {};
	int r;

	*ret_error = NULL;
	r = http_request(c, method, path, "application/octet-stream", body, len, &resp);
	if (r < 0) {
		*ret_error = strdup(http_client_error(c));
		return r;
	}
	if (resp.status < 200 || resp.status > 299) {
		*ret_error = error_message(&resp);
		r = -resp.status;
	} else
		r = parse_answer(&resp, ret, ret_error);
	http_response_clear(&resp);
	return r;
}

int sevadm_call_stream_quiet(struct http_client *c, const char *method, const char *path,
			     int64_t body_len, http_body_cb cb, void *userdata, json_object **ret,
			     char **ret_error)
{
	struct http_response resp = {};
	int r;

	*ret_error = NULL;
	r = http_request_stream(c, method, path, "application/octet-stream", body_len, cb,
				userdata, &resp);
	return call_answer(c, r, &resp, ret, ret_error);
}

int sevadm_call(struct http_client *c, const char *verb, const char *method, const char *path,
		json_object *body, json_object **ret, int *ret_http_status)
{
	_cleanup_free_ char *err = NULL;
	int r;

	r = sevadm_call_quiet(c, method, path, body, ret, &err);
	if (ret_http_status)
		*ret_http_status = r <= -100 ? -r : r == 0 ? 200 : 0;
	if (r < 0)
		return sevadm_fail(verb, "%s", err ? err : "out of memory");
	return 0;
}

void sevadm_print_json(json_object *obj)
{
	puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_SPACED |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
}

const char *sevadm_json_str(json_object *obj, const char *key, const char *def)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return def;
	/* Control characters (terminal escapes) from the daemon never reach the terminal. */
	for (const char *p = json_object_get_string(v); *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return def;
	return json_object_get_string(v);
}

long long sevadm_json_int(json_object *obj, const char *key, long long def)
{
	json_object *v;

	if (obj && json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_int))
		return (long long)json_object_get_int64(v);
	return def;
}

bool sevadm_json_bool(json_object *obj, const char *key, bool def)
{
	json_object *v;

	if (obj && json_object_object_get_ex(obj, key, &v) &&
	    json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v);
	return def;
}

bool sevadm_confirm(const char *prompt)
{
	char line[16];

	if (!isatty(STDIN_FILENO))
		return false;
	fprintf(stderr, "%s [y/N] ", prompt);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	line[strcspn(line, "\n")] = 0;
	return strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}

int sevadm_platform_prepare(struct http_client *c, const char *verb, bool *ret_was_uninit)
{
	_cleanup_(json_object_putp) json_object *p = NULL, *res = NULL;
	int r;

	*ret_was_uninit = false;
	r = sevadm_call(c, verb, "GET", "/v1/platform", NULL, &p, NULL);
	if (r != 0)
		return r;
	if (strcmp(sevadm_json_str(p, "state", ""), "UNINIT") != 0)
		return 0;
	/* Through /dev/sev user space cannot send INIT: the kernel INITs an UNINIT platform
	 * around each command that needs it (and SHUTs it DOWN after since Linux 6.15:
	 * sev-dev.c sev_move_to_init_state). */
	if (strcmp(sevadm_json_str(p, "transport", ""), "dev") == 0)
		return 0;
	r = sevadm_call(c, verb, "POST", "/v1/platform/init", NULL, &res, NULL);
	if (r != 0)
		return r;
	*ret_was_uninit = true;
	return 0;
}

int sevadm_platform_restore(struct http_client *c, const char *verb, bool was_uninit)
{
	_cleanup_(json_object_putp) json_object *res = NULL;

	if (!was_uninit)
		return 0;
	return sevadm_call(c, verb, "POST", "/v1/platform/shutdown", NULL, &res, NULL);
}
