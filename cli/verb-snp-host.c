/* sevadm snp show | commit | config set|reset | vlek load (fetch: verb-fetch.c): the SNP platform through sevd
 * (GET /v1/snp/platform, POST /v1/snp/platform/{commit,config,vlek}), with the verbs of virtee
 * snphost (show, commit, config set/reset, vlek-load). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sevadm.h"
#include "cli/verb-fetch.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"
#include "common/http-client.h"

static const char verb[] = "snp";

static void print_tcb(const char *what, json_object *p)
{
	json_object *t = NULL;

	json_object_object_get_ex(p, what, &t);
	printf("%-13s %s (", what, sevadm_json_str(t, "raw", "?"));
	if (json_object_object_get_ex(t, "fmc", NULL))
		printf("fmc %lld, ", sevadm_json_int(t, "fmc", 0));
	printf("bootloader %lld, tee %lld, snp %lld, microcode %lld)\n",
	       sevadm_json_int(t, "bootloader", 0), sevadm_json_int(t, "tee", 0),
	       sevadm_json_int(t, "snp", 0), sevadm_json_int(t, "microcode", 0));
}

static void print_status(const struct sevadm_ctx *ctx, json_object *p)
{
	if (ctx->json)
		return sevadm_print_json(p);
	printf("state         %s\n", sevadm_json_str(p, "state", "?"));
	printf("api           %lld.%lld build %lld\n", sevadm_json_int(p, "api_major", 0),
	       sevadm_json_int(p, "api_minor", 0), sevadm_json_int(p, "build", 0));
	printf("generation    %s\n", sevadm_json_str(p, "generation", "?"));
	printf("rmp           %s\n",
	       sevadm_json_bool(p, "rmp_initialized", false) ? "initialized" : "not initialized");
	printf("mask_chip_id  %s\n", sevadm_json_bool(p, "mask_chip_id", false) ? "yes" : "no");
	printf("mask_chip_key %s\n", sevadm_json_bool(p, "mask_chip_key", false) ? "yes" : "no");
	printf("vlek          %s\n", sevadm_json_bool(p, "vlek_en", false) ? "loaded" : "none");
	printf("guests        %lld\n", sevadm_json_int(p, "guests", 0));
	print_tcb("current_tcb", p);
	print_tcb("reported_tcb", p);
	printf("committed_tcb not in SNP_PLATFORM_STATUS: a guest's report carries it (sevadm "
	       "verify report)\n");
	printf("sevd_start    %s\n", sevadm_json_str(p, "sevd_start", "?"));
}

static int call(const struct sevadm_ctx *ctx, const char *method, const char *path,
		json_object *body)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	struct http_client *c = NULL;
	json_object *p = NULL;
	int r = sevadm_connect(ctx, verb, &c);

	if (r != 0)
		return r;
	r = sevadm_call(c, verb, method, path, body, &o, NULL);
	http_client_free(c);
	if (r != 0)
		return r;
	print_status(ctx, json_object_object_get_ex(o, "platform", &p) ? p : o);
	return SEVADM_EXIT_OK;
}

/* --tcb bl=N,tee=N,snp=N,ucode=N[,fmc=N] (the names sev-psp-emu --tcb uses). */
static int parse_tcb(const char *arg, json_object *t)
{
	_cleanup_free_ char *s = strdup(arg);
	static const char *const in[] = { "bl", "tee", "snp", "ucode", "fmc" };
	static const char *const out[] = { "bootloader", "tee", "snp", "microcode", "fmc" };
	char *save = NULL;

	if (!s)
		return -ENOMEM;
	for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;
		size_t i = 0;

		if (!eq)
			return -EINVAL;
		*eq = 0;
		while (i < ELEMENTSOF(in) && strcmp(tok, in[i]))
			i++;
		long v = strtol(eq + 1, &end, 10);
		if (i == ELEMENTSOF(in) || *end || end == eq + 1 || v < 0 || v > 255)
			return -EINVAL;
		json_object_object_add(t, out[i], json_object_new_int((int)v));
	}
	return 0;
}

static int config(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	static const struct option options[] = {
		{ "tcb", required_argument, NULL, 't' }, { "mask-chip-id", no_argument, NULL, 'i' },
		{ "mask-chip-key", no_argument, NULL, 'k' }, {}
	};
	_cleanup_(json_object_putp) json_object *body = json_object_new_object();
	bool id = false, key = false;
	int o;

	if (argc < 2 || (strcmp(argv[1], "set") && strcmp(argv[1], "reset")))
		return sevadm_usage(verb, "config takes 'set' or 'reset'");
	bool reset = strcmp(argv[1], "reset") == 0;
	argc--, argv++;
	optind = 1;
	while ((o = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		if (reset || o == '?')
			return sevadm_bad_option(verb, argv);
		if (o == 'i')
			id = true;
		else if (o == 'k')
			key = true;
		else {
			json_object *t = json_object_new_object();

			json_object_object_add(body, "reported_tcb", t);
			if (parse_tcb(optarg, t) < 0)
				return sevadm_usage(verb, "--tcb takes bl=N,tee=N,snp=N,ucode=N[,fmc=N] "
							  "(each 0..255), not '%s'", optarg);
		}
	}
	if (optind != argc)
		return sevadm_usage(verb, "config %s: unexpected '%s'", reset ? "reset" : "set",
				    argv[optind]);
	/* reset: the committed TCB reported (reported_tcb 0), no masks, as snphost config reset. */
	json_object_object_add(body, "mask_chip_id", json_object_new_boolean(id));
	json_object_object_add(body, "mask_chip_key", json_object_new_boolean(key));
	return call(ctx, "POST", "/v1/snp/platform/config", body);
}

static int vlek(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct http_client *c = NULL;
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_free_ char *err = NULL;
	size_t len = 0;
	int r;

	if (argc != 3 || strcmp(argv[1], "load"))
		return sevadm_usage(verb, "expected 'vlek load FILE' (a wrapped VLEK hashstick)");
	r = read_full_file(argv[2], 4096, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "sevadm: snp: cannot read the hashstick %s: %s\n", argv[2],
			strerror(-r));
		return SEVADM_EXIT_FAIL;
	}
	r = sevadm_connect(ctx, verb, &c);
	if (r != 0)
		return r;
	r = sevadm_call_bytes_quiet(c, "POST", "/v1/snp/platform/vlek", buf, len, &o, &err);
	http_client_free(c);
	if (r < 0) {
		fprintf(stderr, "sevadm: snp: vlek load %s: %s\n", argv[2], err ? err : strerror(-r));
		return SEVADM_EXIT_FAIL;
	}
	json_object *p = NULL;
	print_status(ctx, json_object_object_get_ex(o, "platform", &p) ? p : o);
	return SEVADM_EXIT_OK;
}

int sevadm_snp_host(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	if (strcmp(argv[0], "show") == 0) {
		struct sevadm_ctx j = *ctx;

		if (argc > 2 || (argc == 2 && strcmp(argv[1], "--json")))
			return sevadm_usage(verb, "show takes only --json");
		j.json = ctx->json || argc == 2;
		return call(&j, "GET", "/v1/snp/platform", NULL);
	}
	if (strcmp(argv[0], "commit") == 0)
		return argc == 1 ? call(ctx, "POST", "/v1/snp/platform/commit", NULL)
				 : sevadm_usage(verb, "commit takes no arguments");
	if (strcmp(argv[0], "config") == 0)
		return config(ctx, argc, argv);
	if (strcmp(argv[0], "vlek") == 0)
		return vlek(ctx, argc, argv);
	if (strcmp(argv[0], "certs") == 0)
		return sevadm_snp_certs(ctx, argc, argv);
	if (strcmp(argv[0], "fetch") == 0)
		return sevadm_snp_fetch(ctx, argc, argv);
	return -ENOENT;
}
