/* sevadm vmsa build: one vCPU's initial VMSA page as QEMU and KVM set it up at reset
 * (attest/vmsa.h), the way `sevctl vmsa build` writes it: CPU 0 at the x86 reset vector, the
 * others at the reset vector of the firmware's SEV-ES reset block. Offline. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/vmsa.h"
#include "cli/owner.h"
#include "cli/sevadm.h"
#include "common/util.h"

static const char verb[] = "vmsa";
#define FIRMWARE_MAX (64u << 20)

static int help(void)
{
	printf("Usage: sevadm vmsa build FILE --cpu N (--vcpu-type TYPE | --vcpu-sig N |\n"
	       "           --vcpu-family N --vcpu-model N --vcpu-stepping N) [--firmware FILE]\n"
	       "           [--vmm-type QEMU|ec2|gce] [--guest-features HEX] [--zero-x87]\n"
	       "\n"
	       "Write the initial VMSA page (4096 bytes) of vCPU N to FILE, as QEMU and KVM set\n"
	       "it up and LAUNCH_UPDATE_VMSA / SNP_LAUNCH_UPDATE measure it (as sevctl vmsa build).\n"
	       "--cpu N           0: the boot CPU (reset vector 0xfffffff0); any other: an AP,\n"
	       "                  started at the SEV-ES reset block of --firmware (required)\n"
	       "--vcpu-type TYPE  QEMU CPU model: EPYC, EPYC-Rome, EPYC-Milan, EPYC-Genoa,\n"
	       "                  EPYC-Turin (or a -vN version); or --vcpu-sig, or family,\n"
	       "                  model and stepping (also spelled --family/--model/--stepping)\n"
	       "--vmm-type        QEMU (default), ec2 or gce\n"
	       "--guest-features  sev_features in hex: 0 for SEV-ES (default), 0x1 or more for SNP\n"
	       "--zero-x87        x87 FCW and MXCSR left zero (older KVM; sevctl's VMSAs)\n");
	return SEVADM_EXIT_OK;
}

struct vargs {
	const char *file, *cpu, *firmware;
	struct owner_vcpu_args vcpu;
};

static int parse_args(int argc, char **argv, struct vargs *a)
{
	static const struct option options[] = {
		{ "cpu", required_argument, NULL, 'c' },
		{ "firmware", required_argument, NULL, 'f' },
		{ "vcpu-type", required_argument, NULL, 'T' },
		{ "vcpu-sig", required_argument, NULL, 'S' },
		{ "vcpu-family", required_argument, NULL, 'F' },
		{ "vcpu-model", required_argument, NULL, 'M' },
		{ "vcpu-stepping", required_argument, NULL, 'P' },
		{ "family", required_argument, NULL, 'F' },
		{ "model", required_argument, NULL, 'M' },
		{ "stepping", required_argument, NULL, 'P' },
		{ "vmm-type", required_argument, NULL, 'V' },
		{ "guest-features", required_argument, NULL, 'g' },
		{ "zero-x87", no_argument, NULL, 'z' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char **slot[128] = {
		['c'] = &a->cpu, ['f'] = &a->firmware, ['T'] = &a->vcpu.type, ['S'] = &a->vcpu.sig,
		['F'] = &a->vcpu.family, ['M'] = &a->vcpu.model, ['P'] = &a->vcpu.stepping,
		['V'] = &a->vcpu.vmm, ['g'] = &a->vcpu.features,
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		if (c == 'h')
			return help() - 1; /* -1: stop, exit 0 */
		if (c == 'z') {
			a->vcpu.zero_x87 = true;
			continue;
		}
		if (c == ':' || c <= 0 || c >= 128 || !slot[c])
			return sevadm_usage(verb, "unknown option or missing argument: '%s'",
					    argv[optind - 1]);
		*slot[c] = optarg;
	}
	if (optind + 1 != argc)
		return sevadm_usage(verb, optind == argc ? "expected the output FILE"
					  : "unexpected argument after FILE");
	a->file = argv[optind];
	if (!a->cpu)
		return sevadm_usage(verb, "--cpu is required (0 for the boot CPU)");
	return 0;
}

int verb_vmsa(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	struct vargs a = {};
	struct attest_vmsa_params p;
	uint8_t page[ATTEST_VMSA_SIZE], *fw = NULL;
	size_t len = 0;
	uint32_t cpu;
	int r;

	(void)ctx;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return argc < 2 ? sevadm_usage(verb, "expected 'build'") : help();
	if (strcmp(argv[1], "build") != 0)
		return sevadm_usage(verb, "unknown subcommand '%s' (build)", argv[1]);
	optind = 0;
	if ((r = parse_args(argc - 1, argv + 1, &a)) != 0)
		return r < 0 ? SEVADM_EXIT_OK : r;
	if ((r = owner_parse_num(verb, "--cpu", a.cpu, 4095, &cpu)) != 0 ||
	    (r = owner_vcpu_params(verb, &a.vcpu, 0, &p)) != 0)
		return r;
	p.eip = ATTEST_VMSA_BSP_EIP;
	if (cpu > 0 && !a.firmware)
		return sevadm_usage(verb, "an AP (--cpu %u) starts at the firmware's SEV-ES reset "
				    "vector: give --firmware", cpu);
	if (cpu > 0) {
		r = owner_read_file(verb, "firmware", a.firmware, FIRMWARE_MAX, &fw, &len);
		if (r == 0)
			r = owner_ap_reset_eip(verb, a.firmware, fw, len, 2, &p.eip);
		free(fw);
		if (r != 0)
			return r;
	}
	attest_vmsa_build(&p, page);
	if ((r = write_file_atomic(a.file, page, sizeof page, 0644)) < 0)
		return sevadm_fail(verb, "cannot write %s: %s", a.file, strerror(-r));
	return 0;
}
