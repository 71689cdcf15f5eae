/* sevadm measurement build|verify --snp: the SEV-SNP launch digest of an OVMF launch by QEMU
 * (attest/snp-measure.h), printed in hex like sev-snp-measure, and its comparison with the
 * MEASUREMENT of an attestation report (SNP ABI table 22) or a given digest. Offline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/snp-measure.h"
#include "attest/snp-report.h"
#include "cli/measurement.h"
#include "cli/sevadm.h"
#include "common/secret.h"
#include "common/util.h"

static const char verb[] = "measurement";
#define FIRMWARE_MAX (64u << 20)
#define REPORT_FILE_MAX (64u << 10)

static int check_flags(const struct margs *a, bool verify)
{
	if (a->api_major || a->api_minor || a->build || a->policy || a->tik || a->nonce ||
	    a->blob || a->vmsa0 || a->vmsa1)
		return sevadm_usage(verb, "--snp computes the SEV-SNP launch digest: the API, policy, "
				    "TIK, nonce and VMSA-file flags are for SEV and SEV-ES");
	if (!a->firmware || !a->num_cpus)
		return sevadm_usage(verb, "--snp needs --firmware and --vcpus");
	if ((a->initrd || a->cmdline) && !a->kernel)
		return sevadm_usage(verb, "--initrd and --cmdline need --kernel");
	if (!!a->svsm != !!a->vars_size)
		return sevadm_usage(verb, "--svsm and --vars-size go together (the SVSM sits right "
				    "below OVMF's variable store)");
	if (a->svsm && a->kernel)
		return sevadm_usage(verb, "--svsm measures no kernel: drop --kernel");
	if (verify && !!a->report == !!a->digest)
		return sevadm_usage(verb, "verify --snp needs one of --report (an attestation report) "
				    "or --launch-digest (the expected digest)");
	if (!verify && (a->report || a->digest))
		return sevadm_usage(verb, "--report and --launch-digest are what verify compares "
				    "with: use 'measurement verify --snp'");
	return 0;
}

static int compute(const struct margs *a, uint8_t out[ATTEST_SNP_DIGEST_SIZE])
{
	struct attest_snp_input in = { .cmdline = a->cmdline };
	uint8_t kernel[32], initrd[32], *fw = NULL, *svsm = NULL;
	uint32_t vars = 0;
	struct attest_verdict v = {};
	uint32_t vcpus;
	size_t len = 0;
	int r;

	if ((r = owner_parse_num(verb, "--vcpus", a->num_cpus, 4096, &vcpus)) != 0)
		return r;
	if (vcpus == 0)
		return sevadm_usage(verb, "--vcpus must be at least 1");
	if ((r = owner_vcpu_params(verb, &a->vcpu, 0x1, &in.vmsa)) != 0)
		return r;
	if (a->vars_size && (r = owner_parse_num(verb, "--vars-size", a->vars_size, UINT32_MAX,
						 &vars)) != 0)
		return r;
	if (a->svsm && (r = owner_read_file(verb, "SVSM image", a->svsm, FIRMWARE_MAX, &svsm,
					    &in.svsm_len)) != 0)
		return r;
	in.svsm = svsm, in.vars_size = vars;
	r = owner_read_file(verb, "firmware", a->firmware, FIRMWARE_MAX, &fw, &len);
	if (r == 0 && a->kernel)
		r = owner_sha256_file(verb, "kernel", a->kernel, kernel);
	if (r == 0 && a->initrd)
		r = owner_sha256_file(verb, "initrd", a->initrd, initrd);
	if (r == 0) {
		in.firmware = fw, in.firmware_len = len, in.vcpus = vcpus;
		in.kernel_sha256 = a->kernel ? kernel : NULL;
		in.initrd_sha256 = a->initrd ? initrd : NULL;
		if (attest_snp_launch_digest(&in, out, &v) < 0)
			r = sevadm_fail(verb, "cannot compute the SEV-SNP launch digest of %s: %s",
					a->firmware, attest_verdict_why(&v, "internal digest error"));
	}
	free(fw), free(svsm);
	return r;
}

/* The digest to compare with: the report's MEASUREMENT, or --launch-digest. */
static int expected(const struct margs *a, uint8_t out[ATTEST_SNP_DIGEST_SIZE])
{
	_cleanup_free_ uint8_t *buf = NULL;
	uint8_t raw[SNP_REPORT_SIZE];
	struct snp_report rep;
	struct attest_verdict why = {0};
	size_t len = 0;
	int r;

	if (a->digest) {
		r = owner_read_arg(verb, "--launch-digest", a->digest, ATTEST_SNP_DIGEST_SIZE, 0,
				   &buf, &len);
		if (r == 0)
			memcpy(out, buf, ATTEST_SNP_DIGEST_SIZE);
		return r;
	}
	if ((r = owner_read_file(verb, "report", a->report, REPORT_FILE_MAX, &buf, &len)) != 0)
		return r;
	if (attest_snp_report_bytes(buf, len, raw, &why) < 0 ||
	    attest_snp_report_parse(raw, sizeof raw, SNP_GEN_UNKNOWN, &rep, &why) < 0)
		return sevadm_fail(verb, "%s is not an SEV-SNP attestation report: %s", a->report,
				   attest_verdict_why(&why, "malformed"));
	memcpy(out, rep.measurement, ATTEST_SNP_DIGEST_SIZE);
	return 0;
}

static int emit(const struct margs *a, const uint8_t d[ATTEST_SNP_DIGEST_SIZE])
{
	_cleanup_free_ char *hex = NULL;

	if (a->outfile) {
		int r = write_file_atomic(a->outfile, d, ATTEST_SNP_DIGEST_SIZE, 0644);
		if (r < 0)
			return sevadm_fail(verb, "cannot write --outfile %s: %s", a->outfile,
					   strerror(-r));
		printf("Wrote outfile: %s\n", a->outfile);
		return 0;
	}
	if (!(hex = hex_encode(d, ATTEST_SNP_DIGEST_SIZE)))
		return sevadm_fail(verb, "out of memory");
	printf("%s\n", hex);
	return 0;
}

int measurement_snp(const struct margs *a, bool verify)
{
	uint8_t d[ATTEST_SNP_DIGEST_SIZE], want[ATTEST_SNP_DIGEST_SIZE];
	int r;

	if ((r = check_flags(a, verify)) != 0 || (r = compute(a, d)) != 0)
		return r;
	if (!verify)
		return emit(a, d);
	if ((r = expected(a, want)) != 0)
		return r;
	if (memcmp(d, want, sizeof d) != 0) {
		_cleanup_free_ char *got = hex_encode(want, sizeof want), *exp = hex_encode(d, sizeof d);
		return sevadm_fail(verb, "SEV-SNP measurement mismatch: %s has %s, the inputs give %s "
				   "— check firmware, kernel, initrd, cmdline, vCPU count and type, "
				   "VMM type and guest features", a->report ? a->report : "--launch-digest",
				   got ? got : "?", exp ? exp : "?");
	}
	printf("Measurement verified.\n");
	return 0;
}
