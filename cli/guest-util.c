/* Helpers of the guest lifecycle verbs (cli/guest.h). A refusal from sevd becomes one sentence
 * that names the guest, carries sevd's reason and the firmware status by name, and adds the
 * next step; for INVALID_GUEST_STATE it asks sevd which state the guest is in. Uploads are
 * streamed from the file in fixed chunks: an image is never held in memory whole. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"
#include "cli/guest.h"
#include "cli/progress.h"

/* The guest named on the command line by its stable id (sevd's "id": 32 lowercase hex
 * digits, the first 8 its handle): the paths to that handle name the id instead, so that sevd
 * acts on that guest only, never on a later guest given the same handle. */
static char named_id[2 * GUEST_ID_SIZE + 1];
static uint32_t named_handle;

static bool is_guest_id(const char *arg)
{
	return strlen(arg) == 2 * GUEST_ID_SIZE &&
	       strspn(arg, "0123456789abcdef") == 2 * GUEST_ID_SIZE;
}

int guest_parse_handle(const char *verb, const char *arg, uint32_t *ret)
{
	if (is_guest_id(arg)) {
		char hex[9];

		memcpy(hex, arg, 8);
		hex[8] = '\0';
		*ret = (uint32_t)strtoul(hex, NULL, 16);
		memcpy(named_id, arg, sizeof(named_id));
		named_handle = *ret;
		return 0;
	}
	if (parse_u32(arg, ret) < 0 || *ret == 0)
		return sevadm_usage(verb, "'%s' is not a guest handle or id (a number > 0, or the "
				    "guest's 32-digit id, as 'sevadm launch' printed it and 'sevadm "
				    "show guests' lists it)", arg);
	return 0;
}

const char *guest_ref(char buf[GUEST_REF_MAX], uint32_t handle)
{
	if (named_id[0] && handle == named_handle)
		return named_id;
	snprintf(buf, GUEST_REF_MAX, "%" PRIu32, handle);
	return buf;
}

int guest_handle_args(const char *verb, int argc, char **argv, int (*help)(void),
		      uint32_t *ret)
{
	static const struct option options[] = { { "help", no_argument, NULL, 'h' }, {} };
	int o;

	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		if (o == 'h')
			return help(), -1;
		return sevadm_bad_option(verb, argv);
	}
	if (argc - optind != 1)
		return sevadm_usage(verb, "needs exactly one HANDLE");
	return guest_parse_handle(verb, argv[optind], ret);
}

int guest_parse_options(const char *verb, int argc, char **argv, const struct option *options,
			int (*help)(void), int (*on)(int o, const char *arg, void *a), void *a)
{
	int o, r;

	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		if (o == 'h')
			return help(), -1;
		if (o == ':')
			return sevadm_usage(verb, "option '%s' needs an argument",
					    argv[optind - 1]);
		r = o == '?' ? -1 : on(o, optarg, a);
		if (r < 0)
			return sevadm_bad_option(verb, argv);
		if (r > 0)
			return r;
	}
	return 0;
}

uint32_t guest_policy_value(json_object *obj, const char *key, uint32_t def)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v) || !v)
		return def;
	if (json_object_is_type(v, json_type_object))
		return (uint32_t)sevadm_json_int(v, "value", def);
	return (uint32_t)sevadm_json_int(obj, key, def);
}

const char *guest_path_handle(char *buf, size_t len, uint32_t handle, const char *suffix)
{
	snprintf(buf, len, "/v1/guests/%" PRIu32 "%s", handle, suffix);
	return buf;
}

const char *guest_path(char *buf, size_t len, uint32_t handle, const char *suffix)
{
	char ref[GUEST_REF_MAX];

	snprintf(buf, len, "/v1/guests/%s%s", guest_ref(ref, handle), suffix);
	return buf;
}

/* What each verb needs, for the hint after INVALID_GUEST_STATE (SEV API §5.1 guest states). */
static const struct {
	const char *verb, *needs, *next;
} state_hints[] = {
	{ "launch", "LUPDATE", "launch a new guest" },
	{ "measure", "LUPDATE (or LSECRET once measured)", "a guest is measured once, after its "
							   "image is launched" },
	{ "secret", "LSECRET", "run 'sevadm measure HANDLE' first, and inject before 'finish'" },
	{ "finish", "LSECRET", "run 'sevadm measure HANDLE' first" },
	{ "activate", "any state but SENT", "see 'sevadm show guests'" },
	{ "deactivate", "an activated guest", "see 'sevadm show guests'" },
	{ "attest", "LSECRET or RUNNING", "measure (and finish) the guest first" },
	{ "decommission", "any state", "see 'sevadm show guests'" },
};

/* " — the guest is in state X; VERB needs Y: NEXT" (empty when sevd cannot say). */
static char *state_hint(struct http_client *c, const char *verb, uint32_t handle)
{
	_cleanup_(json_object_putp) json_object *g = NULL;
	_cleanup_free_ char *err = NULL;
	char path[64], *out = NULL;

	if (sevadm_call_quiet(c, "GET", guest_path(path, sizeof(path), handle, ""), NULL, &g,
			      &err) < 0)
		return strdup("");
	for (size_t i = 0; i < ELEMENTSOF(state_hints); i++)
		if (strcmp(state_hints[i].verb, verb) == 0) {
			if (asprintf(&out, " — guest %u is in state %s; %s needs %s: %s", handle,
				     sevadm_json_str(g, "state", "?"), verb, state_hints[i].needs,
				     state_hints[i].next) < 0)
				out = NULL;
			return out;
		}
	return strdup("");
}

int guest_fail(struct http_client *c, const char *verb, uint32_t handle, int r, const char *err)
{
	_cleanup_free_ char *hint = NULL;
	const char *why = err ? err : "out of memory";

	if (r == -404)
		hint = strdup(" — no such guest: 'sevadm show guests' lists the guests sevd knows");
	else if (err && strstr(err, "INVALID_GUEST_STATE") && handle)
		hint = state_hint(c, verb, handle);
	if (!handle)
		return sevadm_fail(verb, "%s%s", why, hint ? hint : "");
	return sevadm_fail(verb, "guest %u: %s%s", handle, why, hint ? hint : "");
}

int guest_call(struct http_client *c, const char *verb, uint32_t handle, const char *method,
	       const char *path, json_object *body, json_object **ret)
{
	_cleanup_free_ char *err = NULL;
	int r = sevadm_call_quiet(c, method, path, body, ret, &err);

	if (r < 0)
		return guest_fail(c, verb, handle, r, err);
	if (!json_object_is_type(*ret, json_type_object)) {
		json_object_put(*ret);
		*ret = NULL;
		return sevadm_fail(verb, "sevd answered %s %s with something other than a JSON "
				   "object", method, path);
	}
	return 0;
}

int guest_simple_verb(const struct sevadm_ctx *ctx, const char *verb, uint32_t handle,
		      const char *method, const char *suffix, json_object *body,
		      json_object **ret)
{
	struct http_client *c = NULL;
	char path[80];
	int r;

	r = sevadm_connect(ctx, verb, &c);
	if (r != 0)
		return r;
	r = guest_call(c, verb, handle, method, guest_path(path, sizeof(path), handle, suffix),
		       body, ret);
	http_client_free(c);
	return r;
}

/* ---- streamed upload ---- */

struct upload {
	int fd;
	uint64_t sent;
	struct progress *bar;
	const volatile sig_atomic_t *cancel;
};

static ssize_t upload_read(void *userdata, uint8_t *buf, size_t len)
{
	struct upload *u = userdata;
	ssize_t n;

	if (u->cancel && *u->cancel)
		return -ECANCELED; /* Ctrl-C: the request ends here, the caller undoes the launch */
	do
		n = read(u->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	u->sent += (uint64_t)n;
	progress_update(u->bar, u->sent);
	return n;
}

static int open_image(const char *verb, const char *file, int *ret_fd, int64_t *ret_len)
{
	struct stat st;
	int fd = strcmp(file, "-") == 0 ? dup(STDIN_FILENO) : open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return sevadm_fail(verb, "cannot open the image %s: %s", file, strerror(errno));
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return sevadm_fail(verb, "cannot read the image %s: %s", file, strerror(e));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return sevadm_fail(verb, "the image %s is a directory: give a file", file);
	}
	*ret_len = S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
	if (*ret_len == 0) {
		close(fd);
		return sevadm_fail(verb, "the image %s is empty: nothing to launch", file);
	}
	*ret_fd = fd;
	return 0;
}

int guest_upload(const struct sevadm_ctx *ctx, struct http_client *c, const char *verb,
		 uint32_t handle, const char *suffix, const char *file, json_object **ret,
		 uint64_t *ret_bytes)
{
	_cleanup_free_ char *err = NULL;
	struct upload u = { .cancel = ctx->cancel };
	char path[80], label[40];
	int64_t len;
	int r;

	r = open_image(verb, file, &u.fd, &len);
	if (r != 0)
		return r;
	snprintf(label, sizeof(label), "%s %s", strcmp(suffix, "/vmsa") ? "image" : "VMSA",
		 strcmp(file, "-") ? "upload" : "(stdin)");
	u.bar = progress_new(label, len > 0 ? (uint64_t)len : 0, ctx->tty && !ctx->json);
	r = sevadm_call_stream_quiet(c, "POST", guest_path(path, sizeof(path), handle, suffix),
				     len, upload_read, &u, ret, &err);
	progress_finish(u.bar, r >= 0);
	close(u.fd);
	*ret_bytes = u.sent;
	if (r < 0)
		return guest_fail(c, verb, handle, r, err);
	return 0;
}
