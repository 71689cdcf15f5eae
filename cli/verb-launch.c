/* sevadm launch: start a guest's launch through sevd — LAUNCH_START with the guest owner's
 * session (GODH certificate and session blob, as `sevadm session` or sevctl write them, or
 * none: then the firmware makes its own TEK/TIK), then LAUNCH_UPDATE_DATA of the image,
 * streamed (and LAUNCH_UPDATE_VMSA for SEV-ES). Prints the guest handle. A launch that fails
 * after LAUNCH_START is decommissioned, so nothing is left behind. With --count, many guests
 * of the same image, policy and session (cli/launch-storm.c). Trusts the session files as
 * the owner's; checks only their sizes. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"
#include "cli/guest.h"
#include "cli/launch.h"
#include "policy/guest-policy.h"
#include "psp/sev-abi.h"

static const char verb[] = "launch";
#define B64_FILE_MAX 8192
#define COUNT_MAX 4096	 /* more than any part's ASIDs (Genoa: 1006) */
#define PARALLEL_MAX 64
#define PARALLEL_DEFAULT 8
#define DELETE_TRIES 100 /* x 100 ms: sevd notices an aborted upload before it lets go */

static int help(void)
{
	printf("Usage: sevadm launch IMAGE [--policy P] [--name N] [--tenant T]\n"
	       "           [--session-dir DIR [--session-name S] | --godh FILE --session FILE]\n"
	       "           [--vmsa FILE] [--memory-size BYTES] [--asid N]\n"
	       "           [--count N [--parallel K]]\n"
	       "       sevadm launch --snp IMAGE --policy P [--name N] [--tenant T] [--vmsa FILE]\n"
	       "           [--memory-size BYTES] [--id-block DIR] [--host-data HEX64]\n"
	       "           [--secrets-gpa GPA]\n"
	       "\n"
	       "Launch a guest through sevd: LAUNCH_START with the guest owner's session, then\n"
	       "LAUNCH_UPDATE_DATA of IMAGE (streamed; '-' reads stdin). Prints the guest handle.\n"
	       "  --policy P        guest policy: a number (decimal or 0x) or words joined by ','\n"
	       "                    (nodbg,noks,es,nosend,domain,sev); default 0x1 (NODBG). It must\n"
	       "                    be the policy the session was made for (sevadm session)\n"
	       "  --name N          the guest's name in sevd (default \"vm\")\n"
	       "  --tenant T        the tenant whose guest quota the guest counts against\n"
	       "  --session-dir DIR read DIR/S_godh.b64 and DIR/S_session.b64 as 'sevadm session\n"
	       "                    --name S' writes them (S: --session-name, default the --name)\n"
	       "  --godh, --session the two files given one by one (base64 as sevctl writes them,\n"
	       "                    or raw)\n"
	       "                    Without a session the firmware makes its own keys: the owner\n"
	       "                    then cannot verify the measurement or inject secrets.\n"
	       "  --vmsa FILE       SEV-ES: the VMSA page to measure after the image\n"
	       "  --memory-size N   guest memory in bytes, a multiple of 4096 (sevd's default:\n"
	       "                    16 MiB); the image must fit\n"
	       "  --asid N          bind this ASID instead of the pool's choice (sevd binds one at\n"
	       "                    launch, as KVM does)\n"
	       "  --count N         launch N guests (1..%d) of this image, policy and session,\n"
	       "                    named NAME-1..NAME-N; prints their handles, one a line, in\n"
	       "                    that order (--json: an array). Exit 0 only when all launched;\n"
	       "                    each failure is named, and leaves nothing behind. Ctrl-C stops:\n"
	       "                    launches in flight are undone, the launched ones are listed\n"
	       "  --parallel K      with --count: K launches at a time (1..%d, default %d)\n"
	       "  --snp             an SEV-SNP guest: SNP_LAUNCH_START with --policy P (the 64-bit\n"
	       "                    SNP guest policy, decimal or 0x hex; required), IMAGE as normal\n"
	       "                    pages from GPA 0, --vmsa as a VMSA page, then SNP_LAUNCH_FINISH\n"
	       "                    and activate. Prints the handle, then the launch digest (96 hex\n"
	       "                    digits). Not with --session-dir, --godh, --session, --asid,\n"
	       "                    --count\n"
	       "  --id-block DIR    --snp: DIR/id-block.bin and DIR/id-auth.bin as 'sevadm snp\n"
	       "                    id-block --out DIR' writes them, sent at finish (firmware\n"
	       "                    refuses one made for another launch digest)\n"
	       "  --host-data HEX64 --snp: the guest's HOST_DATA, 64 hex digits (32 bytes)\n"
	       "  --secrets-gpa GPA --snp: a SECRETS page at GPA (page-aligned, after the image),\n"
	       "                    where firmware writes the guest's VMPCKs: what a guest needs\n"
	       "                    for guest requests (sev-run --snp-report)\n"
	       "A progress bar is shown on stderr when it is a terminal. Then: sevadm measure HANDLE\n"
	       "(SEV), or attest from inside the guest (SNP).\n",
	       COUNT_MAX, PARALLEL_MAX, PARALLEL_DEFAULT);
	return SEVADM_EXIT_OK;
}

/* --count and --parallel: bounded numbers, and what cannot go with many guests. */
static int parse_storm_args(struct launch_args *a)
{
	uint32_t v;

	if (a->parallel_s && !a->count_s)
		return sevadm_usage(verb, "--parallel needs --count");
	if (!a->count_s)
		return 0;
	if (parse_u32(a->count_s, &v) < 0 || v < 1 || v > COUNT_MAX)
		return sevadm_usage(verb, "--count %s: not a number of guests (1..%d)", a->count_s,
				    COUNT_MAX);
	a->count = v;
	a->parallel = PARALLEL_DEFAULT;
	if (a->parallel_s) {
		if (parse_u32(a->parallel_s, &v) < 0 || v < 1 || v > PARALLEL_MAX)
			return sevadm_usage(verb, "--parallel %s: not a number of launches at a "
					    "time (1..%d)", a->parallel_s, PARALLEL_MAX);
		a->parallel = v;
	}
	if (a->asid_s)
		return sevadm_usage(verb, "--asid binds one ASID: it cannot go with --count");
	if (strcmp(a->image, "-") == 0 || (a->vmsa && strcmp(a->vmsa, "-") == 0))
		return sevadm_usage(verb, "--count reads the image once per guest: give a file, "
				    "not '-'");
	return 0;
}

/* --snp: the SNP policy (required, 64 bits) and no option of an SEV launch. */
static int parse_snp_args(struct launch_args *a)
{
	const struct {
		const char *set, *name, *why;
	} sev_only[] = {
		{ a->dir, "--session-dir", "an SNP guest has no SEV launch session" },
		{ a->sname, "--session-name", "an SNP guest has no SEV launch session" },
		{ a->godh, "--godh", "an SNP guest has no SEV launch session" },
		{ a->session, "--session", "an SNP guest has no SEV launch session" },
		{ a->asid_s, "--asid", "sevd picks an SNP guest's ASID from the pool" },
		{ a->count_s, "--count", "launch SNP guests one at a time" },
		{ a->parallel_s, "--parallel", "launch SNP guests one at a time" },
	};

	for (size_t i = 0; i < ELEMENTSOF(sev_only); i++)
		if (sev_only[i].set)
			return sevadm_usage(verb, "%s is an SEV option, not for --snp (%s)",
					    sev_only[i].name, sev_only[i].why);
	if (!a->policy_s)
		return sevadm_usage(verb, "--snp needs --policy P: the 64-bit SNP guest policy "
				    "(hex or decimal, e.g. 0x30000: bit 17, which must be 1, and SMT)");
	if (parse_u64(a->policy_s, &a->snp_policy) < 0)
		return sevadm_usage(verb, "--policy %s: not an SNP guest policy (a 64-bit number, "
				    "decimal or 0x hex)", a->policy_s);
	if (a->host_data && (strlen(a->host_data) != 64 ||
			     strspn(a->host_data, "0123456789abcdefABCDEF") != 64))
		return sevadm_usage(verb, "--host-data %s: not HOST_DATA (exactly 64 hex digits, "
				    "32 bytes)", a->host_data);
	if (a->mem && parse_u64(a->mem, &a->memory_size) < 0)
		return sevadm_usage(verb, "--memory-size %s: not a number of bytes", a->mem);
	if (a->secrets_gpa_s &&
	    (parse_u64(a->secrets_gpa_s, &a->secrets_gpa) < 0 || a->secrets_gpa % 4096))
		return sevadm_usage(verb, "--secrets-gpa %s: not a page-aligned guest physical "
				    "address (decimal or 0x hex, a multiple of 4096)", a->secrets_gpa_s);
	return 0;
}

static int parse_args(int argc, char **argv, struct launch_args *a)
{
	static const struct option options[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "tenant", required_argument, NULL, 't' },
		{ "session-dir", required_argument, NULL, 'd' },
		{ "session-name", required_argument, NULL, 's' },
		{ "godh", required_argument, NULL, 'g' },
		{ "session", required_argument, NULL, 'S' },
		{ "vmsa", required_argument, NULL, 'v' },
		{ "memory-size", required_argument, NULL, 'm' },
		{ "asid", required_argument, NULL, 'a' },
		{ "count", required_argument, NULL, 'c' },
		{ "parallel", required_argument, NULL, 'P' },
		{ "snp", no_argument, NULL, 'X' },
		{ "id-block", required_argument, NULL, 'I' },
		{ "host-data", required_argument, NULL, 'H' },
		{ "secrets-gpa", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char **slot[128] = {
		['p'] = &a->policy_s, ['n'] = &a->name, ['t'] = &a->tenant, ['d'] = &a->dir,
		['s'] = &a->sname, ['g'] = &a->godh, ['S'] = &a->session, ['v'] = &a->vmsa,
		['m'] = &a->mem, ['a'] = &a->asid_s, ['c'] = &a->count_s, ['P'] = &a->parallel_s,
		['I'] = &a->id_block_dir, ['H'] = &a->host_data, ['G'] = &a->secrets_gpa_s,
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		if (c == 'h')
			return help(), -1;
		if (c == 'X') {
			a->snp = true;
			continue;
		}
		if (c == ':')
			return sevadm_usage(verb, "option '%s' needs an argument", argv[optind - 1]);
		if (c <= 0 || c >= 128 || !slot[c])
			return sevadm_bad_option(verb, argv);
		*slot[c] = optarg;
	}
	if (argc - optind != 1)
		return sevadm_usage(verb, "needs exactly one IMAGE (a file, or '-' for stdin)");
	a->image = argv[optind];
	if (a->snp)
		return parse_snp_args(a);
	if (a->id_block_dir || a->host_data || a->secrets_gpa_s)
		return sevadm_usage(verb, "%s is for SEV-SNP guests: add --snp (and an SNP --policy)",
				    a->id_block_dir ? "--id-block"
				    : a->host_data  ? "--host-data"
						    : "--secrets-gpa");
	if (a->dir && (a->godh || a->session))
		return sevadm_usage(verb, "give --session-dir, or --godh and --session, not both");
	if (!!a->godh != !!a->session)
		return sevadm_usage(verb, "--godh and --session go together");
	if (a->sname && !a->dir)
		return sevadm_usage(verb, "--session-name needs --session-dir");
	a->policy = SEV_POLICY_NODBG;
	if (a->policy_s && policy_parse(a->policy_s, &a->policy) < 0)
		return sevadm_usage(verb, "--policy %s: not a policy (a number, or words such as "
				    "nodbg,es; reserved bits 6..15 must be 0)", a->policy_s);
	if (a->mem && parse_u64(a->mem, &a->memory_size) < 0)
		return sevadm_usage(verb, "--memory-size %s: not a number of bytes", a->mem);
	if (a->asid_s && (parse_u32(a->asid_s, &a->asid) < 0 || a->asid == 0))
		return sevadm_usage(verb, "--asid %s: not an ASID (a number > 0)", a->asid_s);
	return parse_storm_args(a);
}

/* One session file: base64 text (sevctl's .b64, newline tolerated) or the raw bytes; exactly
 * want bytes once decoded. Returns base64 for the JSON body. */
static int read_b64_file(const char *what, const char *path, size_t want, char **ret)
{
	_cleanup_free_ uint8_t *buf = NULL, *raw = NULL;
	size_t len = 0, rlen = 0;
	int r = read_full_file(path, B64_FILE_MAX, &buf, &len);

	if (r < 0)
		return sevadm_fail(verb, "cannot read the %s %s: %s%s", what, path,
				   r == -EFBIG ? "too large" : strerror(-r),
				   r == -ENOENT ? " — make it with 'sevadm session'" : "");
	if (len == want)
		raw = TAKE_PTR(buf), rlen = len;
	else {
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
			len--;
		if (base64_decode((const char *)buf, len, &raw, &rlen) < 0 || rlen != want)
			return sevadm_fail(verb, "the %s %s is neither %zu raw bytes nor their base64",
					   what, path, want);
	}
	*ret = base64_encode(raw, rlen);
	return *ret ? 0 : sevadm_fail(verb, "out of memory");
}

static int session_paths(const struct launch_args *a, char **godh, char **session)
{
	/* sevadm session's default prefix is "vm" too */
	const char *s = a->sname ? a->sname : a->name ? a->name : "vm";
	_cleanup_free_ char *g = NULL, *b = NULL;

	if (!a->dir) {
		*godh = a->godh ? strdup(a->godh) : NULL;
		*session = a->session ? strdup(a->session) : NULL;
		return 0;
	}
	if (asprintf(&g, "%s_godh.b64", s) < 0 || asprintf(&b, "%s_session.b64", s) < 0)
		return -ENOMEM;
	*godh = path_join(a->dir, g);
	*session = path_join(a->dir, b);
	return *godh && *session ? 0 : -ENOMEM;
}

static int start_body(const struct launch_args *a, json_object **ret)
{
	_cleanup_free_ char *gp = NULL, *sp = NULL, *g64 = NULL, *s64 = NULL;
	_cleanup_(json_object_putp) json_object *b = json_object_new_object();
	int r;

	if (!b || session_paths(a, &gp, &sp) < 0)
		return sevadm_fail(verb, "out of memory");
	if (gp) {
		if ((r = read_b64_file("GODH certificate", gp, SEV_CERT_SIZE, &g64)) != 0 ||
		    (r = read_b64_file("session blob", sp, sizeof(struct sev_session_blob), &s64)) != 0)
			return r;
	}
	json_object_object_add(b, "policy", json_object_new_int64(a->policy));
	json_object_object_add(b, "name", json_object_new_string(a->name ? a->name : "vm"));
	if (g64) {
		json_object_object_add(b, "godh_cert", json_object_new_string(g64));
		json_object_object_add(b, "session", json_object_new_string(s64));
	}
	if (a->tenant)
		json_object_object_add(b, "tenant", json_object_new_string(a->tenant));
	if (a->mem)
		json_object_object_add(b, "memory_size", json_object_new_int64((int64_t)a->memory_size));
	if (a->asid)
		json_object_object_add(b, "asid", json_object_new_int64(a->asid));
	*ret = TAKE_PTR(b);
	return 0;
}

/* sevd still finishing an upload the client left (409 "an upload into guest H is running")
 * lets go of the guest once it notices; anything else is final. */
static bool upload_still_running(int r, const char *err)
{
	return r == -409 && err && strstr(err, "upload into guest") && strstr(err, "is running");
}

/* After a failure past LAUNCH_START: decommission, so no half-launched guest stays behind. */
void launch_cleanup_guest(struct http_client *c, uint32_t handle)
{
	_cleanup_(json_object_putp) json_object *res = NULL;
	_cleanup_free_ char *err = NULL;
	char path[64];
	int r;

	guest_path(path, sizeof(path), handle, "");
	for (int i = 0;; i++) {
		r = sevadm_call_quiet(c, "DELETE", path, NULL, &res, &err);
		if (r >= 0 || !upload_still_running(r, err) || i + 1 >= DELETE_TRIES)
			break;
		free(err);
		err = NULL;
		usleep(100000);
	}
	if (r >= 0)
		fprintf(sevadm_stderr(), "sevadm: %s: guest %u was decommissioned; nothing is left "
					 "behind\n", verb, handle);
	else
		fprintf(sevadm_stderr(), "sevadm: %s: guest %u could not be decommissioned either: "
					 "%s — run 'sevadm decommission %u'\n", verb, handle,
			err ? err : "?", handle);
}

void launch_json_fields(json_object *o, const struct launch_args *a, uint32_t handle,
			json_object *res, uint64_t bytes)
{
	json_object_object_add(o, "handle", json_object_new_int64(handle));
	json_object_object_add(o, "name", json_object_new_string(sevadm_json_str(res, "name", "")));
	json_object_object_add(o, "policy", json_object_new_int64(a->policy));
	json_object_object_add(o, "state",
			       json_object_new_string(sevadm_json_str(res, "state", "LUPDATE")));
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)bytes));
	json_object_object_add(o, "asid", sevadm_json_int(res, "asid", 0) > 0
			       ? json_object_new_int64(sevadm_json_int(res, "asid", 0)) : NULL);
}

static void print_result(const struct sevadm_ctx *ctx, const struct launch_args *a, uint32_t handle,
			 json_object *res, uint64_t bytes)
{
	_cleanup_free_ char *words = policy_describe(a->policy);

	if (ctx->json) {
		_cleanup_(json_object_putp) json_object *o = json_object_new_object();
		launch_json_fields(o, a, handle, res, bytes);
		sevadm_print_json(o);
		return;
	}
	printf("%u\n", handle);
	fprintf(stderr, "Guest '%s' launched: handle %u, policy 0x%x (%s), ASID %lld, %llu bytes "
			"of %s measured. Next: sevadm measure %u\n", sevadm_json_str(res, "name", "?"),
		handle, a->policy,
		words ? words : "?", sevadm_json_int(res, "asid", 0), (unsigned long long)bytes,
		a->image, handle);
}

int launch_one(const struct sevadm_ctx *ctx, struct http_client *c, const struct launch_args *a,
	       json_object *body, uint32_t *ret_handle, json_object **ret_res, uint64_t *ret_bytes)
{
	_cleanup_(json_object_putp) json_object *res = NULL, *up = NULL, *vm = NULL;
	uint64_t bytes = 0, vbytes = 0;
	long long h;
	int r;

	r = guest_call(c, verb, 0, "POST", "/v1/guests", body, &res);
	if (r != 0)
		return r;
	h = sevadm_json_int(res, "handle", 0);
	if (h <= 0 || h > UINT32_MAX)
		return sevadm_fail(verb, "sevd accepted the launch but sent no valid handle");
	if (ctx->cancel && *ctx->cancel)
		r = sevadm_fail(verb, "guest %lld: stopped (interrupted) before its image was sent",
				h);
	if (r == 0)
		r = guest_upload(ctx, c, verb, (uint32_t)h, "/data", a->image, &up, &bytes);
	if (r == 0 && a->vmsa)
		r = guest_upload(ctx, c, verb, (uint32_t)h, "/vmsa", a->vmsa, &vm, &vbytes);
	if (r != 0) {
		launch_cleanup_guest(c, (uint32_t)h);
		return r;
	}
	*ret_handle = (uint32_t)h;
	*ret_res = vm ? TAKE_PTR(vm) : TAKE_PTR(up);
	*ret_bytes = bytes;
	return 0;
}

int verb_launch(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	_cleanup_(json_object_putp) json_object *body = NULL, *res = NULL;
	struct http_client *c = NULL;
	struct launch_args a = {};
	uint64_t bytes = 0;
	uint32_t h = 0;
	int r;

	r = parse_args(argc, argv, &a);
	if (r != 0)
		return r < 0 ? SEVADM_EXIT_OK : r;
	if (a.snp)
		return launch_snp(ctx, &a);
	if ((r = start_body(&a, &body)) != 0)
		return r;
	if (a.count)
		return launch_storm(ctx, &a, body);
	if ((r = sevadm_connect(ctx, verb, &c)) != 0)
		return r;
	r = launch_one(ctx, c, &a, body, &h, &res, &bytes);
	if (r == 0)
		print_result(ctx, &a, h, res, bytes);
	http_client_free(c);
	return r;
}
