/* sevadm: the operator and guest-owner CLI of sevd. This file only parses the global options
 * and dispatches to one verb (cli/verb-*.c) through the table below, as wireguard-tools' wg.c
 * does. It trusts nothing: the verbs validate what the daemon answers. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/secure-heap.h"
#include "cli/sevadm.h"

#define DEFAULT_SOCKET "unix:" SEVD_RUN_DIR "/sevd.sock"

/* One row per verb; add rows here (and the prototype in cli/sevadm.h). Order = --help order. */
static const struct sevadm_verb verbs[] = {
	{ "ok", verb_ok, "check the platform, the daemon and the certificate chain", true },
	{ "show", verb_show, "show platform | asids | guests", true },
	{ "export", verb_export, "export the certificate chain (--full DIR: one file per cert)", true },
	{ "generate", verb_generate, "write a PEK certificate signing request to a file", true },
	{ "provision", verb_provision, "import a signed PEK and the OCA (take ownership)", true },
	{ "rotate", verb_rotate, "generate a new PDH (platform Diffie-Hellman key)", true },
	{ "reset", verb_reset, "factory-reset the platform (new PEK, PDH, self-signed OCA)", true },
	{ "launch", verb_launch, "launch a guest (or --count N): LAUNCH_START + streamed image (prints handles)", true },
	{ "measure", verb_measure, "fetch (and verify) a guest's launch measurement", true },
	{ "finish", verb_finish, "finish a guest's launch (LSECRET -> RUNNING)", true },
	{ "activate", verb_activate, "bind a guest to an ASID (prints the ASID)", true },
	{ "deactivate", verb_deactivate, "unbind a guest from its ASID (DEACTIVATE)", true },
	{ "attest", verb_attest, "get a guest's attestation report for a nonce", true },
	{ "decommission", verb_decommission, "deactivate and decommission a guest", true },
	{ "migrate", verb_migrate, "move a running guest to another sevd (--to TARGET)", true },
	{ "snapshot", verb_snapshot, "write a guest to a file for a target's PDH (--target DIR)", true },
	{ "restore", verb_restore, "receive a guest from a snapshot file", true },
	{ "session", verb_session, "make a launch session for a PDH (offline, as sevctl)", false },
	{ "measurement", verb_measurement, "build|verify an expected launch measurement (offline)", false },
	{ "vmsa", verb_vmsa, "build a vCPU's initial VMSA page as QEMU/KVM set it up (offline)", false },
	{ "snp", verb_snp, "the SEV-SNP platform (show, commit, config, vlek, certs, fetch); id-block (offline)", false },
	{ "secret", verb_secret, "build a LAUNCH_SECRET packet (offline); inject it into a guest", false },
	{ "verify", verb_verify, "verify chain DIR | report REPORT (SEV and SEV-SNP, offline)", false },
	{ "fetch", verb_fetch, "fetch ca|vcek|cek from AMD's key distribution service", false },
};

static void help(FILE *f)
{
	fprintf(f,
		"Usage: sevadm [--daemon unix:PATH|http(s)://HOST:PORT] [--token FILE]\n"
		"              [--ca-file FILE] [--json] COMMAND [ARGS...]\n"
		"\n"
		"Operate AMD SEV through sevd, and do guest-owner work offline.\n"
		"\n"
		"Options:\n"
		"  --daemon ADDR   the sevd to talk to (default $SEVD_SOCKET, else %s)\n"
		"  --token FILE    read a bearer token from FILE (for TCP)\n"
		"  --ca-file FILE  CA certificates (PEM) to verify an https:// daemon\n"
		"  --json          stable JSON on stdout instead of human output\n"
		"  -h, --help      this help\n"
		"  --version       print the version\n"
		"\n"
		"Commands (through sevd):\n",
		DEFAULT_SOCKET);
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (verbs[i].needs_daemon)
			fprintf(f, "  %-14s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\nGuest-owner commands (no daemon needed):\n");
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (!verbs[i].needs_daemon)
			fprintf(f, "  %-14s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f, "\n'sevadm COMMAND --help' describes a command. Exit status: 0 ok, 1 failed, "
		   "2 usage error.\n");
}

static const struct sevadm_verb *find_verb(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

/* Global options stop at the first non-option (the verb): its flags are its own. */
static int parse_argv(int argc, char **argv, struct sevadm_ctx *ctx)
{
	enum { ARG_DAEMON = 0x100, ARG_TOKEN, ARG_CA_FILE, ARG_JSON, ARG_VERSION };
	static const struct option options[] = {
		{ "daemon", required_argument, NULL, ARG_DAEMON },
		{ "token", required_argument, NULL, ARG_TOKEN },
		{ "ca-file", required_argument, NULL, ARG_CA_FILE },
		{ "json", no_argument, NULL, ARG_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{},
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0) {
		switch (c) {
		case ARG_DAEMON: ctx->daemon = optarg; break;
		case ARG_TOKEN: ctx->token_file = optarg; break;
		case ARG_CA_FILE: ctx->ca_file = optarg; break;
		case ARG_JSON: ctx->json = true; break;
		case 'h': help(stdout); exit(SEVADM_EXIT_OK);
		case ARG_VERSION: printf("sevadm %s\n", SEVD_VERSION); exit(SEVADM_EXIT_OK);
		case ':':
			fprintf(stderr, "sevadm: option '%s' needs an argument\n", argv[optind - 1]);
			return -1;
		default:
			fprintf(stderr, "sevadm: unknown option '%s'\nTry 'sevadm --help'.\n",
				argv[optind - 1]);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sevadm_ctx ctx = {};
	const struct sevadm_verb *verb;

	/* Private keys (session GODH, OCA) in OpenSSL's locked secure heap; log lines
	 * (only that heap's warning) as "sevadm: ..." on stderr. */
	log_setup("sevadm", NULL, LOG_INFO);
	(void)secure_heap_init(SECURE_HEAP_CLI);
	/* A daemon that hangs up mid-request is an error to report, not a signal to die of
	 * (OpenSSL writes without MSG_NOSIGNAL). */
	signal(SIGPIPE, SIG_IGN);
	if (parse_argv(argc, argv, &ctx) < 0)
		return SEVADM_EXIT_USAGE;
	if (optind >= argc) {
		fprintf(stderr, "sevadm: no command given\nTry 'sevadm --help'.\n");
		return SEVADM_EXIT_USAGE;
	}
	verb = find_verb(argv[optind]);
	if (!verb) {
		fprintf(stderr, "sevadm: unknown command '%s'\nTry 'sevadm --help'.\n",
			argv[optind]);
		return SEVADM_EXIT_USAGE;
	}
	if (!ctx.daemon) {
		const char *env = getenv("SEVD_SOCKET");
		ctx.daemon = env && *env ? env : DEFAULT_SOCKET;
	}
	ctx.tty = isatty(STDERR_FILENO);

	/* The verb parses its own argv from 0 (its name) with a fresh getopt run. */
	int first = optind;
	optind = 0;
	opterr = 0; /* verbs report bad options themselves (sevadm_bad_option) */
	return verb->run(&ctx, argc - first, argv + first);
}
