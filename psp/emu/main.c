/* sev-psp-emu: a software AMD Secure Processor (SEV firmware) as its own process. Parses its
 * command line, loads (or creates) the NV file, and serves the emu wire protocol on a Unix
 * socket until SIGTERM/SIGINT. The defaults model an EPYC 7003 "Milan" part; see README.md. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/secure-heap.h"
#include "common/util.h"
#include "psp/emu/fault.h"
#include "psp/emu/server.h"
#include "psp/emu/snp.h"

/* CPUID Fn8000_001F of a Milan host:
 * EAX: bit 0 SME, 1 SEV, 2 PageFlushMsr, 3 SEV-ES (SNP, bit 4, is not modelled).
 * EBX: C-bit position 51 in bits 5:0, physical address reduction 1 in bits 11:6.
 * ECX: 509 encrypted guests at once (ASIDs 1..509).
 * EDX: minimum SEV (non-ES) ASID 100. Milan BIOSes default the "SEV-ES ASID Space Limit" to
 *      100, so ASIDs 1..99 are SEV-ES only and 100..509 plain SEV; Linux then reports
 *      "SEV supported: 410 ASIDs" and "SEV-ES supported: 99 ASIDs".
 * Firmware: SEV API 1.55 build 21, AMD's Milan firmware release 1.55.21 (the vectors'
 *      Milan SNP report shows 1.52 build 4; pass --api 1.52 --build 4 to model that host). */
#define MILAN_CPUID_EAX 0x0000000fu
#define MILAN_CPUID_EBX ((1u << 6) | 51u)
#define MILAN_CPUID_ECX 509u
#define MILAN_CPUID_EDX 100u
#define MILAN_API_MAJOR 1
#define MILAN_API_MINOR 55
#define MILAN_BUILD 21
#define MAX_ASIDS 65535u /* far above any part (Genoa: 1006) */
/* The SNP TCB of the vectors' Milan report (bootloader 3, TEE 0, SNP 8, microcode 0x73). */
#define MILAN_TCB { .bl = 3, .tee = 0, .snp = 8, .ucode = 0x73 }

static const char *arg_socket;
static const char *arg_nv;
static bool arg_verbose;
static bool arg_create_only;
static struct emu_faults *arg_faults; /* --fault rules, handed to the firmware core */
static bool arg_bad_fault;	      /* exit 2: a --fault rule was refused */
static struct emu_snp_tcb arg_tcb = MILAN_TCB;
static struct emu_config arg_cfg = {
	.cpuid_eax = MILAN_CPUID_EAX,
	.cpuid_ebx = MILAN_CPUID_EBX,
	.cpuid_ecx = MILAN_CPUID_ECX,
	.cpuid_edx = MILAN_CPUID_EDX,
	.api_major = MILAN_API_MAJOR,
	.api_minor = MILAN_API_MINOR,
	.build = MILAN_BUILD,
	.amd_root_bits = EMU_AMD_ROOT_BITS_DEFAULT,
	.ccx_count = 1,
};

static void help(void)
{
	printf("Usage: sev-psp-emu --socket PATH --nv FILE [OPTIONS]\n"
	       "A software AMD Secure Processor (SEV firmware) serving the emu transport.\n\n"
	       "  --socket PATH      Unix socket to serve (SOCK_SEQPACKET)\n"
	       "  --nv FILE          non-volatile store (keys, owner); created when missing\n"
	       "  --cpuid-eax N      CPUID 8000_001F EAX (default 0x%x: SME, SEV, SEV-ES)\n"
	       "  --cpuid-ebx N      CPUID 8000_001F EBX (default 0x%x: C-bit 51, reduction 1)\n"
	       "  --cpuid-ecx N      encrypted guests at once = max ASID (default %u)\n"
	       "  --cpuid-edx N      minimum SEV (non-ES) ASID (default %u)\n"
	       "  --api MAJOR.MINOR  SEV API version reported (default %d.%d)\n"
	       "  --build N          firmware build (default %d)\n"
	       "  --ccx N            core complexes (CCXs), 1..%u (default 1): DF_FLUSH and the\n"
	       "                     WBINVD flags per CCX, ACTIVATE_EX's APIC IDs (16 per CCX)\n"
	       "  --amd-root-bits N  RSA size of the emulated AMD root when a new NV file is\n"
	       "                     made: 2048 (Naples format, default) or 4096 (Rome+)\n"
	       "  --snp              SEV-SNP on (CPUID EAX bit 4, the SNP commands; README-snp)\n"
	       "  --tcb LIST         SNP TCB running: bl=N,tee=N,snp=N,ucode=N (default\n"
	       "                     bl=3,tee=0,snp=8,ucode=115; Turin also fmc=N)\n"
	       "  --snp-product P    SNP part: milan (default), genoa or turin (report version,\n"
	       "                     CPUID, TCB layout, VCEK certificate)\n"
	       "  --snp-cert-refuse  test-only: CTL snp-cert (the key server) answers EAGAIN\n"
	       "                     until CTL 'snp-cert-refuse off', as a slow start would\n"
	       "  --create-only      create the NV file if missing (new chip identity), then exit\n"
	       "  --erase-corrupt-nv start on a corrupt NV file: the first INIT answers\n"
	       "                     SECURE_DATA_INVALID and erases it (kept as FILE.corrupt),\n"
	       "                     as firmware does; without it a corrupt file is refused\n"
	       "  --fault RULE       fault plan rule CMD:ACTION[:OPTION...] (repeatable; see\n"
	       "                     README.md \"Fault plans\"; a bad rule exits 2)\n"
	       "  -v, --verbose      log every command\n"
	       "  -h, --help         show this help\n",
	       MILAN_CPUID_EAX, MILAN_CPUID_EBX, MILAN_CPUID_ECX, MILAN_CPUID_EDX, MILAN_API_MAJOR,
	       MILAN_API_MINOR, MILAN_BUILD, EMU_CCX_MAX);
}

static int parse_u8(const char *s, uint8_t *ret)
{
	uint32_t v;
	int r = parse_u32(s, &v);

	if (r < 0 || v > 255)
		return -EINVAL;
	*ret = (uint8_t)v;
	return 0;
}

static int parse_api(const char *s)
{
	_cleanup_free_ char *copy = strdup(s);
	char *dot = copy ? strchr(copy, '.') : NULL;

	if (!dot)
		return -EINVAL;
	*dot = 0;
	if (parse_u8(copy, &arg_cfg.api_major) < 0 || parse_u8(dot + 1, &arg_cfg.api_minor) < 0)
		return -EINVAL;
	return 0;
}

/* One --fault rule, installed in order (the first rule that fires on a call wins). */
static int parse_fault(const char *val)
{
	char msg[EMU_FAULT_MAX_TEXT + 256];
	int r;

	if (!arg_faults && emu_faults_new(&arg_faults) < 0)
		return log_error_errno(-ENOMEM, "Out of memory");
	r = emu_faults_add(arg_faults, val, msg, sizeof(msg));
	if (r < 0) {
		arg_bad_fault = true;
		return log_error_errno(r, "Invalid --fault rule: %s", msg);
	}
	log_info("Fault plan rule installed: %s", msg);
	return 0;
}

static int parse_opt(int c, const char *val)
{
	switch (c) {
	case 's': arg_socket = val; return 0;
	case 'n': arg_nv = val; return 0;
	case 'A': return parse_u32(val, &arg_cfg.cpuid_eax);
	case 'B': return parse_u32(val, &arg_cfg.cpuid_ebx);
	case 'C': return parse_u32(val, &arg_cfg.cpuid_ecx);
	case 'D': return parse_u32(val, &arg_cfg.cpuid_edx);
	case 'a': return parse_api(val);
	case 'b': return parse_u8(val, &arg_cfg.build);
	case 'R': return parse_u32(val, &arg_cfg.amd_root_bits);
	case 'X': return parse_u32(val, &arg_cfg.ccx_count);
	case 'v': arg_verbose = true; return 0;
	case 'O': arg_create_only = true; return 0;
	case 'E': arg_cfg.erase_corrupt_nv = true; return 0;
	case 'F': return parse_fault(val);
	case 'S': arg_cfg.snp = true; return 0;
	case 'T': return emu_snp_tcb_parse(val, &arg_tcb);
	case 'K': arg_cfg.snp_cert_refuse = true; return 0;
	case 'P': return (arg_cfg.snp_product = emu_snp_product_parse(val)) < 0 ? -EINVAL : 0;
	default: return -EINVAL;
	}
}

/* CPUID Fn8000_001F EAX bit 4 says SNP; it follows --snp, and only --snp turns SNP on. */
static int check_snp(void)
{
	if ((arg_cfg.cpuid_eax & SEV_CPUID_EAX_SNP) && !arg_cfg.snp)
		return log_error_errno(-EINVAL, "--cpuid-eax has bit 4 (SNP) set: use --snp to "
				       "turn SEV-SNP on");
	if (arg_cfg.snp)
		arg_cfg.cpuid_eax |= SEV_CPUID_EAX_SNP;
	arg_cfg.snp_tcb = emu_snp_tcb_pack(&arg_tcb,
					   emu_snp_product_info(arg_cfg.snp_product)->turin_tcb);
	return 1;
}

static int parse_argv(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "nv", required_argument, NULL, 'n' },
		{ "cpuid-eax", required_argument, NULL, 'A' },
		{ "cpuid-ebx", required_argument, NULL, 'B' },
		{ "cpuid-ecx", required_argument, NULL, 'C' },
		{ "cpuid-edx", required_argument, NULL, 'D' },
		{ "api", required_argument, NULL, 'a' },
		{ "build", required_argument, NULL, 'b' },
		{ "amd-root-bits", required_argument, NULL, 'R' },
		{ "ccx", required_argument, NULL, 'X' },
		{ "create-only", no_argument, NULL, 'O' },
		{ "erase-corrupt-nv", no_argument, NULL, 'E' },
		{ "fault", required_argument, NULL, 'F' },
		{ "snp", no_argument, NULL, 'S' },
		{ "tcb", required_argument, NULL, 'T' },
		{ "snp-product", required_argument, NULL, 'P' },
		{ "snp-cert-refuse", no_argument, NULL, 'K' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) >= 0) {
		if (c == 'h') {
			help();
			return 0;
		}
		if (c == '?' || parse_opt(c, optarg) < 0) {
			for (size_t i = 0; c != '?' && opts[i].name; i++)
				if (opts[i].val == c)
					log_error("Invalid value '%s' for --%s", optarg,
						  opts[i].name);
			return log_error_errno(-EINVAL, "Invalid command line; see --help");
		}
	}
	if (optind < argc)
		return log_error_errno(-EINVAL, "Unexpected argument '%s'; see --help",
				       argv[optind]);
	if (!arg_nv || (!arg_socket && !arg_create_only))
		return log_error_errno(-EINVAL, "--socket PATH and --nv FILE are required; see --help");
	if (arg_cfg.amd_root_bits != 2048 && arg_cfg.amd_root_bits != 4096)
		return log_error_errno(-EINVAL, "--amd-root-bits must be 2048 or 4096");
	if (arg_cfg.ccx_count == 0 || arg_cfg.ccx_count > EMU_CCX_MAX)
		return log_error_errno(-EINVAL, "--ccx must be 1..%u (core complexes)", EMU_CCX_MAX);
	if (arg_cfg.cpuid_ecx == 0 || arg_cfg.cpuid_ecx > MAX_ASIDS)
		return log_error_errno(-EINVAL, "--cpuid-ecx must be 1..%u (the number of ASIDs)",
				       MAX_ASIDS);
	if (arg_cfg.cpuid_edx == 0 || arg_cfg.cpuid_edx > arg_cfg.cpuid_ecx + 1)
		return log_error_errno(-EINVAL, "--cpuid-edx must be 1..%u (ASIDs below it are "
				       "SEV-ES only)", arg_cfg.cpuid_ecx + 1);
	return check_snp();
}

static int run(void)
{
	_cleanup_close_ int sfd = -1;
	struct emu_server *srv = NULL;
	struct emu_fw *fw = NULL;
	sigset_t mask;
	int r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0)
		return log_error_errno(negative_errno(), "Failed to set up signal handling: %m");
	signal(SIGPIPE, SIG_IGN);
	umask(0007); /* socket 0770: the group (sevd) may connect; the NV file is 0600 */
	/* The NV file (and key generation on first start) before the socket: a client that
	 * can connect finds a ready firmware. */
	r = emu_fw_new(&arg_cfg, arg_nv, &fw);
	if (r < 0 || arg_create_only) {
		emu_fw_free(fw);
		return r;
	}
	/* Fault rules live in memory only, never in the NV file. The table exists even without
	 * --fault so that CTL `fault` can add rules later. */
	if (!arg_faults && emu_faults_new(&arg_faults) < 0) {
		emu_fw_free(fw);
		return log_error_errno(-ENOMEM, "Out of memory");
	}
	fw->faults = TAKE_PTR(arg_faults);
	r = emu_server_new(fw, arg_socket, &srv);
	if (r >= 0) {
		log_info("sev-psp-emu serving %s: SEV API %u.%u build %u, %u ASIDs (SEV-ES 1..%u, "
			 "SEV %u..%u)", arg_socket, arg_cfg.api_major, arg_cfg.api_minor,
			 arg_cfg.build, arg_cfg.cpuid_ecx, arg_cfg.cpuid_edx - 1,
			 arg_cfg.cpuid_edx, arg_cfg.cpuid_ecx);
		r = emu_server_run(srv, sfd);
	}
	emu_server_free(srv);
	emu_fw_free(fw);
	return r;
}

int main(int argc, char *argv[])
{
	int r;

	log_setup("sev-psp-emu", NULL, LOG_INFO);
	/* Memory holds TEKs/TIKs, keys and tokens: no core dump, and no same-uid
	 * ptrace or /proc/PID/{mem,environ} reads by processes lacking CAP_SYS_PTRACE. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 });
	/* before any key exists: the chip and owner keys' private parts go to locked memory */
	(void)secure_heap_init(SECURE_HEAP_DAEMON);
	r = parse_argv(argc, argv);
	if (r > 0) {
		if (arg_verbose)
			log_set_max_level(LOG_DEBUG);
		r = run();
	}
	emu_faults_free(arg_faults); /* when run() did not hand them to the firmware core */
	if (arg_bad_fault)
		return 2;
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
