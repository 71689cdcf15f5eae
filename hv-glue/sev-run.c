/* sev-run: run the tiny guest (or any flat 32-bit image) under /dev/kvm through the VMRUN gate,
 * with the guest's secret page filled from a file, and copy its serial output to stdout.
 * The ASID comes from a local grant (--asid/--handle) or from a grant stream on an inherited
 * file descriptor (--grant-fd), the format the daemon will send. Exit 0 only when the guest
 * halted cleanly. With --daemon/--demo it plays the whole sevd story instead (hv-glue/demo.c).
 * Trusts: its command line; the image and secret are just bytes for the guest. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "hv-glue/binding.h"
#include "hv-glue/demo.h"
#include "hv-glue/gate.h"
#include "hv-glue/guest/layout.h"
#include "hv-glue/kvm-runner.h"
#include "hv-glue/snp-report.h"
#include "hv-glue/vmcb.h"

static const char *arg_image;
static const char *arg_secret;
static uint32_t arg_asid;
static uint32_t arg_handle = 1;
static uint32_t arg_max_asid = 509;	/* CPUID 8000_001F[ECX] of the modelled part (Milan) */
static uint32_t arg_min_sev_asid = 100; /* CPUID 8000_001F[EDX] */
static uint32_t arg_max_exits = 100000;
static uint32_t arg_timeout_ms = 10000;
static int arg_grant_fd = -1;
static bool arg_verbose;
/* --demo */
static bool arg_demo;
static const char *arg_daemon, *arg_token, *arg_emu, *arg_control, *arg_emulator_root, *arg_roots;
static uint32_t arg_policy = 0x1; /* NODBG */
/* --snp-report, --snp-guest */
static bool arg_snp_report, arg_snp_guest;
static uint32_t arg_snp_handle;
static const char *arg_nonce, *arg_outfile, *arg_certs, *arg_vmm;
static uint32_t arg_attach;

static void help(void)
{
	printf(
	    "Usage: sev-run --image FILE --secret-file FILE [OPTIONS]\n"
	    "Run a flat 32-bit guest image under /dev/kvm through the SEV VMRUN gate.\n\n"
	    "  --image FILE         flat image, loaded at GPA 0x%x (max %u bytes)\n"
	    "  --secret-file FILE   bytes placed in the secret page at GPA 0x%x (max %u)\n"
	    "  --asid N             ASID of the local grant (default: the smallest plain-SEV "
	    "ASID)\n"
	    "  --handle H           guest handle of the grant (default 1)\n"
	    "  --grant-fd FD        take grants from this grant stream instead of a local grant\n"
	    "  --max-asid N         model CPUID 8000_001F[ECX] (default 509)\n"
	    "  --min-sev-asid N     model CPUID 8000_001F[EDX] (default 100)\n"
	    "  --max-exits N        stop after N exits (default 100000)\n"
	    "  --timeout-ms N       stop after N milliseconds (default 10000)\n"
	    "  --verbose            print the exit statistics to stderr\n"
	    "\n"
	    "       sev-run --daemon unix:PATH --demo --secret-file FILE --emu unix:SOCKET\n"
	    "               --emulator-root FILE [--control unix:PATH] [--policy P] [--image "
	    "FILE]\n"
	    "Play the guest owner and the VMM against a running sevd: verify the platform's\n"
	    "chain, build a session, launch the tiny guest, check its measurement, inject the\n"
	    "secret, finish, activate, take the ASID from sevd's grant stream and the guest's\n"
	    "memory from the emulator, and run it. Each step is printed on stderr.\n\n"
	    "  --daemon ENDPOINT    sevd: unix:PATH, or http(s)://HOST:PORT with --token\n"
	    "  --token FILE         bearer token for a TCP endpoint\n"
	    "  --emu unix:SOCKET    the emulator's socket (CTL guest-memfd: the plaintext view)\n"
	    "  --control unix:PATH  sevd's grant stream (default: STATE_DIR/control.sock next to\n"
	    "                       the emulator socket, as 'sevd --psp emu' lays them out)\n"
	    "  --emulator-root FILE trust this ARK (the emulator's, AMD format) for the chain\n"
	    "  --roots DIR          trust AMD's roots from DIR as well\n"
	    "  --policy P           guest policy, plain SEV only (default 0x1: NODBG)\n"
	    "  --image FILE         the guest image (default: $SEV_GUEST_IMAGE, else the\n"
	    "                       sev-guest.bin built beside sev-run, else the installed\n"
	    "                       " SEV_GUEST_BIN_INSTALLED ")\n"
	    "  --attach HANDLE      the VMM's half only, for guest HANDLE that is RUNNING on\n"
	    "                       this sevd already, launched elsewhere and moved here\n"
	    "                       (sevadm migrate, sevadm restore): no --secret-file and no\n"
	    "                       root, since its owner's checks happened at its launch\n"
	    "\n"
	    "       sev-run --daemon unix:PATH --snp-report HANDLE --nonce HEX --outfile FILE\n"
	    "               [--certs DIR] [--vmm unix:PATH] [--emu unix:SOCKET]\n"
	    "Play the SEV-SNP guest HANDLE (RUNNING, with a secrets page) asking for its\n"
	    "attestation report, where there is no /dev/kvm: VMPCK0 from the guest's view of its\n"
	    "secrets page (the emulator's CTL snp-secrets; sevd never holds it), MSG_REPORT_REQ\n"
	    "sealed with it, sent through sevd's VMM socket, the response opened. Prints the\n"
	    "report's MEASUREMENT on stdout.\n\n"
	    "  --snp-report HANDLE  the SNP guest (sevd's handle)\n"
	    "  --nonce HEX          REPORT_DATA: exactly 64 bytes (128 hex digits)\n"
	    "  --outfile FILE       the 1184-byte report\n"
	    "  --certs DIR          an extended request: the host's certificate table into DIR\n"
	    "                       (ark.pem, ask.pem or asvk.pem, vcek.pem or vlek.pem, any\n"
	    "                       other entry as GUID.bin, the raw table as cert-table.bin)\n"
	    "  --vmm unix:PATH      sevd's VMM socket (default: vmm.sock beside --daemon's socket;\n"
	    "                       sevd makes it as STATE_DIR/vmm.sock, root only)\n"
	    "  --emu unix:SOCKET    the emulator (default: the one sevd's VMM socket names)\n"
	    "\n"
	    "       sev-run --daemon unix:PATH --snp-guest HANDLE --image FILE --outfile FILE\n"
	    "               [--certs DIR] [--vmm unix:PATH] [--emu unix:SOCKET] [--timeout-ms N]\n"
	    "Run the SNP tiny guest HANDLE (launched with sev-snp-guest.bin at 0x10000 and a\n"
	    "secrets page at 0x%x) under /dev/kvm on its memory from the emulator (CTL\n"
	    "snp-memfd): it asks for its report with the GHCB's SNP guest request exit; sev-run\n"
	    "plays its kernel (VMPCK0 from the secrets page in the guest's memory, the request\n"
	    "sealed, sent through sevd's VMM socket, the response opened into the guest's page)\n"
	    "and its VMM. The guest prints SNP-NONCE and SNP-MEASUREMENT on stdout; the report\n"
	    "goes to --outfile, the host's certificate table to --certs (an extended request).\n",
	    HV_GUEST_IMAGE_GPA, HV_GUEST_IMAGE_MAX, HV_GUEST_SECRET_GPA, HV_GUEST_SECRET_MAX,
	    HV_SNP_SECRETS_GPA);
}

static int parse_num(const char *opt, const char *val, uint32_t *ret)
{
	if (parse_u32(val, ret) < 0) {
		fprintf(stderr, "sev-run: %s: '%s' is not a number (decimal or 0x hex)\n", opt,
			val);
		return -EINVAL;
	}
	return 0;
}

/* The demo's image when --image is not given: $SEV_GUEST_IMAGE; else, when this sev-run runs
 * from its build tree, the sev-guest.bin meson built beside it (hv-glue/); else the installed
 * image (<datadir>/sevd/sev-guest.bin, SEV_GUEST_BIN_INSTALLED). An installed sev-run has no
 * sev-guest.bin beside it in bindir, so it never picks a build tree's copy. */
static const char *default_image(void)
{
	static char beside[PATH_MAX];
	const char *env = getenv("SEV_GUEST_IMAGE");
	ssize_t n;
	char *slash;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", beside, sizeof(beside) - 1);
	if (n > 0) {
		beside[n] = '\0';
		slash = strrchr(beside, '/');
		if (slash &&
		    (size_t)(slash + 1 - beside) + sizeof("sev-guest.bin") <= sizeof(beside)) {
			strcpy(slash + 1, "sev-guest.bin");
			if (access(beside, R_OK) == 0)
				return beside;
		}
	}
	return SEV_GUEST_BIN_INSTALLED;
}

/* --demo: the daemon, the emulator, a root and the secret are all needed; the grant stream
 * defaults to sevd's STATE_DIR/control.sock beside STATE_DIR/emu.sock. */
static int check_demo_args(int argc)
{
	static char control[PATH_MAX];
	const char *emu = arg_emu && strncmp(arg_emu, "unix:", 5) == 0 ? arg_emu + 5 : arg_emu;
	const char *slash = emu ? strrchr(emu, '/') : NULL;

	if (!arg_demo || !arg_daemon || (!arg_secret && !arg_attach) || !arg_emu ||
	    optind < argc) {
		fprintf(stderr,
			"sev-run: the demo needs --daemon ENDPOINT --demo --secret-file FILE "
			"--emu unix:SOCKET, or --attach HANDLE instead of --secret-file (see "
			"--help)\n");
		return -EINVAL;
	}
	if (!arg_emulator_root && !arg_roots && !arg_attach) {
		fprintf(stderr, "sev-run: name the root the platform's chain must reach: "
				"--emulator-root FILE (the emulator's ARK) or --roots DIR\n");
		return -EINVAL;
	}
	if (!arg_control) {
		snprintf(control, sizeof(control), "%.*scontrol.sock",
			 slash ? (int)(slash - emu + 1) : 0, emu);
		arg_control = control;
	}
	if (!arg_image) {
		arg_image = default_image();
		if (access(arg_image, R_OK) < 0) {
			fprintf(
			    stderr,
			    "sev-run: no guest image: %s: %m (install sevd's sev-guest.bin there, "
			    "or give --image FILE or SEV_GUEST_IMAGE=FILE)\n",
			    arg_image);
			return -EINVAL;
		}
	}
	return 0;
}

/* --snp-guest: the daemon, the guest, its image and the output file; no nonce (the guest
 * makes its own). */
static int check_snp_guest_args(int argc)
{
	if (!arg_daemon || !arg_image || !arg_outfile || arg_nonce || arg_demo ||
	    arg_snp_report || optind < argc) {
		fprintf(stderr, "sev-run: an SNP guest run needs --daemon unix:PATH --snp-guest "
				"HANDLE --image FILE --outfile FILE, and no --nonce, --demo or "
				"--snp-report (see --help)\n");
		return -EINVAL;
	}
	return 0;
}

/* --snp-report: the daemon, the guest, the nonce and the output file are all needed. */
static int check_snp_report_args(int argc)
{
	if (!arg_snp_report || !arg_daemon || !arg_nonce || !arg_outfile || arg_demo ||
	    optind < argc) {
		fprintf(stderr, "sev-run: an SNP report needs --daemon unix:PATH --snp-report HANDLE "
				"--nonce HEX --outfile FILE, and no --demo (see --help)\n");
		return -EINVAL;
	}
	if (strlen(arg_nonce) != 128 || hex_decode_exact(arg_nonce, (uint8_t[64]){0}, 64) < 0) {
		fprintf(stderr, "sev-run: --nonce %s: REPORT_DATA is exactly 64 bytes, 128 hex "
				"digits\n", arg_nonce);
		return -EINVAL;
	}
	return 0;
}

/* Longer than most: one case per option, kept in one place so the options read as a list. */
static int parse_argv(int argc, char *argv[])
{
	enum {
		O_IMAGE = 256,
		O_SECRET,
		O_ASID,
		O_HANDLE,
		O_GRANT_FD,
		O_MAX_ASID,
		O_MIN_SEV,
		O_EXITS,
		O_TIMEOUT,
		O_VERBOSE,
		O_DAEMON,
		O_DEMO,
		O_TOKEN,
		O_EMU,
		O_CONTROL,
		O_EROOT,
		O_ROOTS,
		O_POLICY,
		O_SNP_REPORT,
		O_SNP_GUEST,
		O_NONCE,
		O_OUTFILE,
		O_CERTS,
		O_VMM,
		O_ATTACH,
		O_HELP
	};
	static const struct option opts[] = {{"image", required_argument, NULL, O_IMAGE},
					     {"secret-file", required_argument, NULL, O_SECRET},
					     {"asid", required_argument, NULL, O_ASID},
					     {"handle", required_argument, NULL, O_HANDLE},
					     {"grant-fd", required_argument, NULL, O_GRANT_FD},
					     {"max-asid", required_argument, NULL, O_MAX_ASID},
					     {"min-sev-asid", required_argument, NULL, O_MIN_SEV},
					     {"max-exits", required_argument, NULL, O_EXITS},
					     {"timeout-ms", required_argument, NULL, O_TIMEOUT},
					     {"verbose", no_argument, NULL, O_VERBOSE},
					     {"daemon", required_argument, NULL, O_DAEMON},
					     {"demo", no_argument, NULL, O_DEMO},
					     {"token", required_argument, NULL, O_TOKEN},
					     {"emu", required_argument, NULL, O_EMU},
					     {"control", required_argument, NULL, O_CONTROL},
					     {"emulator-root", required_argument, NULL, O_EROOT},
					     {"roots", required_argument, NULL, O_ROOTS},
					     {"policy", required_argument, NULL, O_POLICY},
					     {"snp-report", required_argument, NULL, O_SNP_REPORT},
					     {"snp-guest", required_argument, NULL, O_SNP_GUEST},
					     {"nonce", required_argument, NULL, O_NONCE},
					     {"outfile", required_argument, NULL, O_OUTFILE},
					     {"certs", required_argument, NULL, O_CERTS},
					     {"vmm", required_argument, NULL, O_VMM},
					     {"attach", required_argument, NULL, O_ATTACH},
					     {"help", no_argument, NULL, O_HELP},
					     {}};
	uint32_t fd;
	int c, k = 0;

	while (k == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (c) {
		case O_IMAGE:
			arg_image = optarg;
			break;
		case O_SECRET:
			arg_secret = optarg;
			break;
		case O_ASID:
			k = parse_num("--asid", optarg, &arg_asid);
			break;
		case O_HANDLE:
			k = parse_num("--handle", optarg, &arg_handle);
			break;
		case O_MAX_ASID:
			k = parse_num("--max-asid", optarg, &arg_max_asid);
			break;
		case O_MIN_SEV:
			k = parse_num("--min-sev-asid", optarg, &arg_min_sev_asid);
			break;
		case O_EXITS:
			k = parse_num("--max-exits", optarg, &arg_max_exits);
			break;
		case O_TIMEOUT:
			k = parse_num("--timeout-ms", optarg, &arg_timeout_ms);
			break;
		case O_VERBOSE:
			arg_verbose = true;
			break;
		case O_GRANT_FD:
			k = parse_num("--grant-fd", optarg, &fd);
			arg_grant_fd = (int)fd;
			break;
		case O_DAEMON:
			arg_daemon = optarg;
			break;
		case O_DEMO:
			arg_demo = true;
			break;
		case O_TOKEN:
			arg_token = optarg;
			break;
		case O_EMU:
			arg_emu = optarg;
			break;
		case O_CONTROL:
			arg_control = optarg;
			break;
		case O_EROOT:
			arg_emulator_root = optarg;
			break;
		case O_ROOTS:
			arg_roots = optarg;
			break;
		case O_POLICY:
			k = parse_num("--policy", optarg, &arg_policy);
			break;
		case O_SNP_REPORT:
			arg_snp_report = true;
			k = parse_num("--snp-report", optarg, &arg_snp_handle);
			break;
		case O_SNP_GUEST:
			arg_snp_guest = true;
			k = parse_num("--snp-guest", optarg, &arg_snp_handle);
			break;
		case O_NONCE:
			arg_nonce = optarg;
			break;
		case O_OUTFILE:
			arg_outfile = optarg;
			break;
		case O_CERTS:
			arg_certs = optarg;
			break;
		case O_VMM:
			arg_vmm = optarg;
			break;
		case O_ATTACH:
			k = parse_num("--attach", optarg, &arg_attach);
			if (k == 0 && arg_attach == 0) {
				fprintf(stderr, "sev-run: --attach: guest handles start at 1\n");
				k = -EINVAL;
			}
			break;
		case O_HELP:
			help();
			exit(EXIT_SUCCESS);
		default:
			return -EINVAL;
		}
	}
	if (k < 0)
		return k;
	if (arg_snp_guest)
		return check_snp_guest_args(argc);
	if (arg_snp_report || arg_nonce || arg_outfile || arg_certs || arg_vmm)
		return check_snp_report_args(argc);
	if (arg_demo || arg_daemon)
		return check_demo_args(argc);
	if (!arg_image || !arg_secret || optind < argc) {
		fprintf(stderr, "sev-run: --image and --secret-file are required (see --help)\n");
		return -EINVAL;
	}
	if (arg_asid == 0)
		arg_asid = arg_min_sev_asid;
	return 0;
}

/* Every user-facing error: the thing, the reason, the next step. Returns err. */
static int fail(int err, const char *what, const char *name, const char *hint)
{
	fprintf(stderr, "sev-run: %s %s: %s; %s\n", what, name, strerror(-err), hint);
	return err;
}

/* A memfd holding guest RAM: the image at HV_GUEST_IMAGE_GPA, the secret page filled. */
static int build_memory(int *ret_fd)
{
	_cleanup_free_ uint8_t *img = NULL, *sec = NULL;
	_cleanup_close_ int fd = -1;
	size_t img_len, sec_len;
	uint8_t *mem;
	int k;

	k = read_full_file(arg_image, HV_GUEST_IMAGE_MAX, &img, &img_len);
	if (k < 0)
		return fail(k, "guest image", arg_image, "a flat image of at most 64 KiB");
	k = read_full_file(arg_secret, HV_GUEST_SECRET_MAX, &sec, &sec_len);
	if (k < 0)
		return fail(k, "secret file", arg_secret, "at most 4092 bytes");
	fd = memfd_create("sev-guest-plaintext", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, HV_GUEST_MEM_SIZE) < 0)
		return fail(-errno, "guest memory", "memfd", "check memory limits");
	mem = mmap(NULL, HV_GUEST_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return fail(-errno, "guest memory", "mmap", "check memory limits");
	memcpy(mem + HV_GUEST_IMAGE_GPA, img, img_len);
	put_le32(mem + HV_GUEST_SECRET_GPA, (uint32_t)sec_len);
	memcpy(mem + HV_GUEST_SECRET_GPA + 4, sec, sec_len);
	explicit_bzero(sec, sec_len);
	munmap(mem, HV_GUEST_MEM_SIZE);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static void report(const struct hv_run_result *res, const struct vmcb *v,
		   const struct hv_bindings *b)
{
	if (res->stop == HV_STOP_GATE && !hv_bindings_find_handle(b, arg_handle))
		fprintf(stderr,
			"sev-run: guest handle %u holds no live ASID grant (never granted, "
			"or revoked by DEACTIVATE/DECOMMISSION)\n",
			arg_handle);
	if (res->stop == HV_STOP_GATE)
		fprintf(stderr,
			"sev-run: VMRUN refused (EXITCODE VMEXIT_INVALID) for handle %u, "
			"ASID %u: %s [%s]\n",
			arg_handle, v->control.asid, hv_gate_reason_text(res->gate),
			hv_gate_reason_name(res->gate));
	else if (res->stop != HV_STOP_HALT)
		fprintf(stderr, "sev-run: guest stopped: %s%s%s (last exit code 0x%llx)\n",
			hv_run_stop_name(res->stop), res->why ? ": " : "", res->why ? res->why : "",
			(unsigned long long)v->control.exitcode);
	if (res->stop == HV_STOP_TERMINATE)
		fprintf(stderr, "sev-run: GHCB termination request 0x%llx (reason code %llu)\n",
			(unsigned long long)res->term_request,
			(unsigned long long)(res->term_request >> 16) & 0xff);
	if (arg_verbose || res->stop != HV_STOP_HALT)
		fprintf(stderr,
			"sev-run: %u KVM_RUN, %u exits (IOIO %u, HLT %u, NPF %u, VMGEXIT %u, "
			"other %u), %u TLB flushes requested, guest status 0x%x\n",
			res->kvm_runs, res->exits, res->n_ioio, res->n_hlt, res->n_npf,
			res->n_vmgexit, res->n_other, res->tlb_flushes, res->guest_status);
}

/* The VM over /dev/kvm, on guest RAM mem_fd, running under handle arg_handle's grant. */
static int runner_open(int mem_fd, struct hv_bindings *b, const struct hv_platform *plat,
		       struct hv_runner **ret)
{
	const struct hv_runner_config cfg = {
	    .mem_fd = mem_fd,
	    .mem_size = HV_GUEST_MEM_SIZE,
	    .mode = HV_MODE_PROT32,
	    .entry = HV_GUEST_IMAGE_GPA,
	    .stack = HV_GUEST_STACK_TOP,
	    .handle = arg_handle,
	    .bindings = b,
	    .platform = plat,
	    .grant_fd = arg_grant_fd,
	    .serial_fd = STDOUT_FILENO,
	    .max_exits = arg_max_exits,
	    .timeout_ms = arg_timeout_ms,
	    .cpu = -1,
	};
	int k = hv_runner_new(&cfg, ret);

	if (k == -ENOENT || k == -EACCES)
		return fail(
		    k, "virtual machine on", "/dev/kvm",
		    "this host offers no usable KVM (run as a user with access to /dev/kvm)");
	if (k < 0)
		return fail(k, "virtual machine on", "/dev/kvm", "KVM refused to create it");
	return 0;
}

static int run(void)
{
	struct hv_bindings *b = NULL;
	struct hv_runner *r = NULL;
	struct hv_platform plat;
	struct hv_run_result res;
	_cleanup_close_ int mem_fd = -1;
	int k;

	hv_platform_init(&plat, arg_max_asid, arg_min_sev_asid);
	k = build_memory(&mem_fd);
	if (k < 0)
		return k;
	k = hv_bindings_new(arg_max_asid, (unsigned)sysconf(_SC_NPROCESSORS_CONF), &b);
	if (k < 0)
		return fail(k, "binding table for", "the modelled ASID range", "check --max-asid");
	if (arg_grant_fd < 0) {
		k = hv_bindings_grant(b, arg_handle, arg_asid, false, 1);
		if (k < 0) {
			fprintf(stderr,
				"sev-run: cannot grant ASID %u to handle %u: the ASID must be "
				"1..%u (--max-asid)\n",
				arg_asid, arg_handle, arg_max_asid);
			goto out;
		}
	}
	k = runner_open(mem_fd, b, &plat, &r);
	if (k < 0)
		goto out;
	k = hv_runner_run(r, &res);
	if (k < 0) {
		fail(k, "running the guest on", "/dev/kvm", "KVM refused an ioctl");
		goto out;
	}
	report(&res, hv_runner_vmcb(r), b);
	k = res.stop == HV_STOP_HALT ? 0 : -ECANCELED;
out:
	hv_runner_free(r);
	hv_bindings_free(b);
	return k;
}

int main(int argc, char *argv[])
{
	int k = parse_argv(argc, argv);
	if (k < 0)
		return 2;
	setvbuf(stdout, NULL, _IONBF, 0);
	if (arg_snp_report) {
		struct hv_snp_report_opts o = {.daemon = arg_daemon, .vmm = arg_vmm, .emu = arg_emu,
					       .handle = arg_snp_handle, .outfile = arg_outfile,
					       .certs_dir = arg_certs};

		(void)hex_decode_exact(arg_nonce, o.nonce, sizeof(o.nonce));
		return hv_snp_report_run(&o) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	if (arg_snp_guest) {
		const struct hv_snp_guest_opts o = {
		    .r = {.daemon = arg_daemon, .vmm = arg_vmm, .emu = arg_emu,
			  .handle = arg_snp_handle, .outfile = arg_outfile, .certs_dir = arg_certs},
		    .image = arg_image,
		    .max_exits = arg_max_exits,
		    .timeout_ms = arg_timeout_ms,
		};

		return hv_snp_guest_run(&o) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	if (arg_demo) {
		const struct hv_demo_opts o = {
		    .daemon = arg_daemon,
		    .token_file = arg_token,
		    .emu = arg_emu,
		    .control = arg_control,
		    .emulator_root = arg_emulator_root,
		    .roots = arg_roots,
		    .image = arg_image,
		    .secret_file = arg_secret,
		    .policy = arg_policy,
		    .max_exits = arg_max_exits,
		    .timeout_ms = arg_timeout_ms,
		    .cpu = -1,
		    .attach = arg_attach,
		};
		return hv_demo_run(&o) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	return run() < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
