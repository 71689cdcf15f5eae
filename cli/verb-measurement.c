/* sevadm measurement build|verify: the launch measurement a guest owner expects, with
 * sevctl's flags and output (base64 of MEASURE ‖ MNONCE, or --outfile with the binary), and a
 * verdict on the measurement the platform returned. Offline; inputs are the owner's files. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/measurement.h"
#include "cli/measurement.h"
#include "cli/owner.h"
#include "cli/sevadm.h"
#include "common/secret.h"
#include "common/util.h"
#include "psp/sev-abi.h"

static const char verb[] = "measurement";
#define FIRMWARE_MAX (64u << 20)

static int help(void)
{
	printf("Usage: sevadm measurement build|verify --api-major N --api-minor N --build-id N\n"
	       "           --policy N --tik TIK (--nonce NONCE | --launch-measure-blob BLOB)\n"
	       "           (--launch-digest DIGEST | --firmware FILE [--kernel FILE [--initrd FILE]\n"
	       "           [--cmdline TEXT]] [--num-cpus N [--vmsa-cpu0 FILE --vmsa-cpu1 FILE |\n"
	       "           VCPU]]) [--outfile FILE]\n"
	       "       sevadm measurement build|verify --snp --firmware FILE [--kernel FILE\n"
	       "           [--initrd FILE] [--cmdline TEXT]] --vcpus N VCPU [--guest-features HEX]\n"
	       "           [--svsm FILE --vars-size N] [--report REPORT | --launch-digest DIGEST]\n"
	       "           [--outfile FILE]\n"
	       "  VCPU: (--vcpu-type TYPE | --vcpu-sig N | --vcpu-family N --vcpu-model N\n"
	       "        --vcpu-stepping N) [--vmm-type QEMU|ec2|gce] [--zero-x87]\n"
	       "\n"
	       "build   print the expected launch measurement as base64 of MEASURE ‖ MNONCE (as\n"
	       "        sevctl), or write it to --outfile; with --snp the SEV-SNP launch digest\n"
	       "        (SHA-384) in hex, or its 48 bytes to --outfile\n"
	       "verify  compare with the measurement the platform returned (--launch-measure-blob;\n"
	       "        with --snp the MEASUREMENT of --report or --launch-digest): exit 0 only\n"
	       "        when they are equal\n"
	       "Numbers are decimal or 0x hex. TIK, NONCE and BLOB are files, base64 or hex (the\n"
	       "measurement and mnonce of sevd's answer concatenated); DIGEST is base64 (with\n"
	       "--snp: hex or base64 of 48 bytes). The API version and build are the platform's\n"
	       "(PLATFORM_STATUS); below API 0.17 the firmware does not hash them. An SEV-ES\n"
	       "policy (bit 2) measures the VMSA pages: CPU 0's, then CPU 1's for each further\n"
	       "CPU; without --vmsa-cpu0/1 sevadm generates them as QEMU and KVM set them up\n"
	       "(VCPU flags, the AP reset vector from the firmware).\n"
	       "--snp measures the firmware at the top of 4 GiB, its SEV metadata sections\n"
	       "(SNP_SEC_MEMORY, SNP_SECRETS, CPUID, SVSM_CAA, KERNEL_HASHES) and one VMSA per\n"
	       "vCPU, as QEMU feeds them to SNP_LAUNCH_UPDATE.\n"
	       "--vcpus N         number of vCPUs (the same as --num-cpus)\n"
	       "--vcpu-type TYPE  QEMU CPU model: EPYC, EPYC-Rome, EPYC-Milan, EPYC-Genoa,\n"
	       "                  EPYC-Turin (or a -vN version of one)\n"
	       "--vcpu-sig N      the CPUID 1 EAX signature instead of a model\n"
	       "--vmm-type        QEMU (default), ec2 or gce: their initial registers differ\n"
	       "--guest-features  SNP sev_features in hex (default 0x1, SNPActive)\n"
	       "--zero-x87        x87 FCW and MXCSR left zero in the VMSA (older KVM, and\n"
	       "                  sevctl's VMSAs); default their reset values\n"
	       "--svsm FILE       a COCONUT-SVSM image loaded below OVMF's variable store of\n"
	       "                  --vars-size bytes (the size of OVMF_VARS.fd): its metadata\n"
	       "                  and entry point are measured instead of OVMF's\n");
	return SEVADM_EXIT_OK;
}

static int parse_args(int argc, char **argv, struct margs *a)
{
	static const struct option options[] = {
		{ "api-major", required_argument, NULL, 'A' },
		{ "api-minor", required_argument, NULL, 'a' },
		{ "build-id", required_argument, NULL, 'b' },
		{ "policy", required_argument, NULL, 'p' },
		{ "tik", required_argument, NULL, 't' },
		{ "nonce", required_argument, NULL, 'n' },
		{ "launch-measure-blob", required_argument, NULL, 'm' },
		{ "launch-digest", required_argument, NULL, 'd' },
		{ "firmware", required_argument, NULL, 'f' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "num-cpus", required_argument, NULL, 'N' },
		{ "vmsa-cpu0", required_argument, NULL, '0' },
		{ "vmsa-cpu1", required_argument, NULL, '1' },
		{ "outfile", required_argument, NULL, 'o' },
		{ "snp", no_argument, NULL, 's' },
		{ "vcpus", required_argument, NULL, 'N' },
		{ "vcpu-type", required_argument, NULL, 'T' },
		{ "vcpu-sig", required_argument, NULL, 'S' },
		{ "vcpu-family", required_argument, NULL, 'F' },
		{ "vcpu-model", required_argument, NULL, 'M' },
		{ "vcpu-stepping", required_argument, NULL, 'P' },
		{ "vmm-type", required_argument, NULL, 'V' },
		{ "guest-features", required_argument, NULL, 'g' },
		{ "zero-x87", no_argument, NULL, 'z' },
		{ "report", required_argument, NULL, 'r' },
		{ "svsm", required_argument, NULL, 'Y' },
		{ "vars-size", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char **slot[128] = {
		['A'] = &a->api_major, ['a'] = &a->api_minor, ['b'] = &a->build, ['p'] = &a->policy,
		['t'] = &a->tik, ['n'] = &a->nonce, ['m'] = &a->blob, ['d'] = &a->digest,
		['f'] = &a->firmware, ['k'] = &a->kernel, ['i'] = &a->initrd, ['c'] = &a->cmdline,
		['N'] = &a->num_cpus, ['0'] = &a->vmsa0, ['1'] = &a->vmsa1, ['o'] = &a->outfile,
		['T'] = &a->vcpu.type, ['S'] = &a->vcpu.sig, ['F'] = &a->vcpu.family,
		['M'] = &a->vcpu.model, ['P'] = &a->vcpu.stepping, ['V'] = &a->vcpu.vmm,
		['g'] = &a->vcpu.features, ['r'] = &a->report, ['Y'] = &a->svsm,
		['v'] = &a->vars_size,
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
		if (c == 'h')
			return help() - 1; /* -1: stop, exit 0 */
		if (c == 's' || c == 'z') {
			*(c == 's' ? &a->snp : &a->vcpu.zero_x87) = true;
			continue;
		}
		if (c == ':' || c <= 0 || c >= 128 || !slot[c])
			return sevadm_usage(verb, "unknown option or missing argument: '%s'",
					    argv[optind - 1]);
		*slot[c] = optarg;
	}
	if (optind != argc)
		return sevadm_usage(verb, "unexpected argument '%s'", argv[optind]);
	if (a->snp)
		return 0; /* measurement_snp checks its own flags */
	if (a->report || a->svsm || a->vars_size)
		return sevadm_usage(verb, "--report, --svsm and --vars-size are for SEV-SNP: they "
				    "need --snp");
	if (!a->api_major || !a->api_minor || !a->build || !a->policy || !a->tik)
		return sevadm_usage(verb, "--api-major, --api-minor, --build-id, --policy and --tik "
				    "are required");
	if (!!a->nonce == !!a->blob)
		return sevadm_usage(verb, "give one of --nonce or --launch-measure-blob");
	if (!!a->digest == !!a->firmware)
		return sevadm_usage(verb, "give one of --launch-digest or --firmware");
	if (a->digest && (a->kernel || a->initrd || a->cmdline || a->num_cpus || a->vmsa0 ||
			  a->vmsa1 || a->vcpu.type || a->vcpu.sig || a->vcpu.family))
		return sevadm_usage(verb, "--launch-digest is already the digest: --kernel, "
				    "--initrd, --cmdline and the VMSA flags need --firmware");
	return 0;
}

/* Inputs of the digest as files: freed by digest_files_free. */
struct digest_files {
	uint8_t *fw, *v0, *v1;
	size_t fw_len, v0_len, v1_len;
	uint8_t kernel[32], initrd[32];
};

static void digest_files_free(struct digest_files *f)
{
	free(f->fw), free(f->v0), free(f->v1);
}

/* SEV-ES without VMSA files: CPU 0's at the x86 reset vector, CPU 1's at the firmware's
 * SEV-ES reset block, as QEMU and KVM prepare them (sev_features 0). */
static int generate_vmsas(const struct margs *a, struct digest_files *f, uint32_t cpus)
{
	struct attest_vmsa_params p;
	uint32_t ap_eip;
	int r;

	if ((r = owner_vcpu_params(verb, &a->vcpu, 0, &p)) != 0 ||
	    (r = owner_ap_reset_eip(verb, a->firmware, f->fw, f->fw_len, cpus, &ap_eip)) != 0)
		return r;
	f->v0 = malloc(ATTEST_VMSA_SIZE), f->v1 = malloc(ATTEST_VMSA_SIZE);
	if (!f->v0 || !f->v1)
		return sevadm_fail(verb, "out of memory");
	p.eip = ATTEST_VMSA_BSP_EIP;
	attest_vmsa_build(&p, f->v0);
	p.eip = ap_eip;
	attest_vmsa_build(&p, f->v1);
	f->v0_len = f->v1_len = ATTEST_VMSA_SIZE;
	return 0;
}

static int digest_from_files(const struct margs *a, uint32_t policy, uint8_t out[32])
{
	struct digest_files f = {};
	struct attest_digest_input in = { .policy = policy, .cmdline = a->cmdline };
	struct attest_verdict v = {};
	uint32_t cpus = 0;
	int r;

	if ((a->initrd || a->cmdline) && !a->kernel)
		return sevadm_usage(verb, "--initrd and --cmdline need --kernel");
	if (!(policy & SEV_POLICY_ES) && (a->num_cpus || a->vmsa0 || a->vmsa1 || a->vcpu.type ||
					  a->vcpu.sig || a->vcpu.family))
		fprintf(stderr, "sevadm: %s: the policy has no ES bit: ignoring --num-cpus, the "
				"vCPU flags and the VMSA files\n", verb);
	if ((policy & SEV_POLICY_ES) && !a->num_cpus)
		return sevadm_usage(verb, "an SEV-ES policy (bit 2) needs --num-cpus");
	if ((policy & SEV_POLICY_ES) && !!a->vmsa0 != !!a->vmsa1)
		return sevadm_usage(verb, "give both --vmsa-cpu0 and --vmsa-cpu1, or neither (then "
				    "sevadm generates them from --vcpu-type and the firmware)");
	if ((policy & SEV_POLICY_ES) &&
	    ((r = owner_parse_num(verb, "--num-cpus", a->num_cpus, 4096, &cpus)) != 0 ||
	     (cpus == 0 && (r = sevadm_usage(verb, "--num-cpus must be at least 1")) != 0)))
		return r;
	r = owner_read_file(verb, "firmware", a->firmware, FIRMWARE_MAX, &f.fw, &f.fw_len);
	if (r == 0 && a->kernel)
		r = owner_sha256_file(verb, "kernel", a->kernel, f.kernel);
	if (r == 0 && a->initrd)
		r = owner_sha256_file(verb, "initrd", a->initrd, f.initrd);
	if (r == 0 && cpus && !a->vmsa0)
		r = generate_vmsas(a, &f, cpus);
	else if (r == 0 && cpus)
		r = owner_read_file(verb, "VMSA", a->vmsa0, 2 * SEV_VMSA_SIZE, &f.v0, &f.v0_len);
	if (r == 0 && cpus && a->vmsa1)
		r = owner_read_file(verb, "VMSA", a->vmsa1, 2 * SEV_VMSA_SIZE, &f.v1, &f.v1_len);
	if (r != 0)
		goto out;
	in.firmware = f.fw;
	in.firmware_len = f.fw_len;
	in.kernel_sha256 = a->kernel ? f.kernel : NULL;
	in.initrd_sha256 = a->initrd ? f.initrd : NULL;
	in.num_cpus = cpus;
	in.vmsa_cpu0 = f.v0, in.vmsa_cpu0_len = f.v0_len;
	in.vmsa_cpu1 = f.v1, in.vmsa_cpu1_len = f.v1_len;
	r = attest_launch_digest(&in, out, &v);
	if (r < 0)
		r = sevadm_fail(verb, "cannot compute the launch digest of %s: %s", a->firmware,
				attest_verdict_why(&v, "internal digest error"));
out:
	digest_files_free(&f);
	return r;
}

static int launch_digest(const struct margs *a, uint32_t policy, uint8_t out[32])
{
	uint8_t *d = NULL;
	size_t len = 0;

	if (!a->digest)
		return digest_from_files(a, policy, out);
	if (base64_decode(a->digest, strlen(a->digest), &d, &len) < 0 || len != 32) {
		free(d);
		return sevadm_usage(verb, "--launch-digest must be base64 of 32 bytes");
	}
	memcpy(out, d, 32);
	free(d);
	return 0;
}

/* The numbers, the TIK, the nonce (and the platform's measurement when a blob was given). */
static int measure_input(const struct margs *a, struct attest_measure_input *in, uint8_t tik[16],
			 uint8_t platform[32], bool *has_platform)
{
	uint32_t maj, min, build;
	uint8_t *buf = NULL;
	size_t len;
	int r;

	if ((r = owner_parse_num(verb, "--api-major", a->api_major, 255, &maj)) != 0 ||
	    (r = owner_parse_num(verb, "--api-minor", a->api_minor, 255, &min)) != 0 ||
	    (r = owner_parse_num(verb, "--build-id", a->build, 255, &build)) != 0 ||
	    (r = owner_parse_num(verb, "--policy", a->policy, UINT32_MAX, &in->policy)) != 0)
		return r;
	in->ctx = ATTEST_MEASURE_CTX;
	in->api_major = (uint8_t)maj, in->api_minor = (uint8_t)min, in->build = (uint8_t)build;
	r = owner_read_arg(verb, "--tik", a->tik, 16, 0, &buf, &len);
	if (r != 0)
		return r;
	memcpy(tik, buf, 16);
	owner_free_wiped(buf, len);
	if (a->nonce) {
		r = owner_read_arg(verb, "--nonce", a->nonce, 16, 0, &buf, &len);
		if (r != 0)
			return r;
		memcpy(in->mnonce, buf, 16);
	} else {
		r = owner_read_arg(verb, "--launch-measure-blob", a->blob, SEV_MEASURE_BLOB_SIZE, 0,
				   &buf, &len);
		if (r != 0)
			return r;
		memcpy(platform, buf, 32); /* MEASURE ‖ MNONCE as LAUNCH_MEASURE returns it */
		memcpy(in->mnonce, buf + 32, 16);
		*has_platform = true;
	}
	free(buf);
	return 0;
}

static int emit(const struct margs *a, const uint8_t measure[32], const uint8_t mnonce[16])
{
	uint8_t out[SEV_MEASURE_BLOB_SIZE];
	_cleanup_free_ char *text = NULL;

	memcpy(out, measure, 32);
	memcpy(out + 32, mnonce, 16);
	if (a->outfile) {
		int r = write_file_atomic(a->outfile, out, sizeof out, 0644);
		if (r < 0)
			return sevadm_fail(verb, "cannot write --outfile %s: %s", a->outfile,
					   strerror(-r));
		printf("Wrote outfile: %s\n", a->outfile);
		return 0;
	}
	text = base64_encode(out, sizeof out);
	if (!text)
		return sevadm_fail(verb, "out of memory");
	printf("%s\n", text);
	return 0;
}

int verb_measurement(const struct sevadm_ctx *ctx, int argc, char **argv)
{
	struct margs a = {};
	struct attest_measure_input in = {};
	uint8_t tik[16], measure[32], platform[32];
	WIPE_ON_EXIT(tik, sizeof tik);
	bool has_platform = false, verify;
	int r;

	(void)ctx;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return argc < 2 ? sevadm_usage(verb, "expected 'build' or 'verify'") : help();
	if (strcmp(argv[1], "build") != 0 && strcmp(argv[1], "verify") != 0)
		return sevadm_usage(verb, "unknown subcommand '%s' (build or verify)", argv[1]);
	verify = strcmp(argv[1], "verify") == 0;
	optind = 0;
	r = parse_args(argc - 1, argv + 1, &a);
	if (r != 0)
		return r < 0 ? SEVADM_EXIT_OK : r;
	if (a.snp)
		return measurement_snp(&a, verify);
	if (verify && !a.blob)
		return sevadm_usage(verb, "verify needs --launch-measure-blob: the platform's answer");
	if ((r = measure_input(&a, &in, tik, platform, &has_platform)) != 0 ||
	    (r = launch_digest(&a, in.policy, in.digest)) != 0)
		return r;
	if (attest_measurement_compute(tik, &in, measure) < 0)
		return sevadm_fail(verb, "HMAC-SHA256 failed");
	if (!verify)
		return emit(&a, measure, in.mnonce);
	if (secret_memcmp(measure, platform, sizeof measure) != 0) {
		_cleanup_free_ char *want = base64_encode(measure, 32), *got = base64_encode(platform, 32);
		return sevadm_fail(verb, "measurement mismatch: the platform measured %s, the inputs "
				   "give %s — check firmware, kernel, initrd, cmdline, VMSAs, policy, "
				   "API version and TIK", got ? got : "?", want ? want : "?");
	}
	printf("Measurement verified.\n");
	return 0;
}
