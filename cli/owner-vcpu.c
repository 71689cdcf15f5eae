/* vCPU flags of the offline verbs that generate VMSAs (sevadm measurement, sevadm vmsa):
 * the CPU signature (QEMU puts it in RDX at reset), the VMM, the SEV features, and the AP
 * reset vector read from the firmware (attest/ovmf.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attest/ovmf.h"
#include "cli/owner.h"
#include "cli/sevadm.h"
#include "common/util.h"

static int parse_features(const char *verb, const char *s, uint64_t *ret)
{
	char *end = NULL;
	const char *p = s;

	if (strncmp(p, "0x", 2) == 0 || strncmp(p, "0X", 2) == 0)
		p += 2;
	errno = 0;
	*ret = strtoull(p, &end, 16);
	if (!*p || *end || errno || *p == '-' || *p == '+' || *p == ' ')
		return sevadm_usage(verb, "--guest-features=%s must be hexadecimal (e.g. 0x1: "
				    "SNPActive; 0x21: SNPActive and DebugSwap)", s);
	return 0;
}

static int parse_sig(const char *verb, const struct owner_vcpu_args *a, uint32_t *ret)
{
	uint32_t f, m, s;
	int r;

	if (a->type) {
		if (attest_vcpu_type_sig(a->type, ret) < 0)
			return sevadm_usage(verb, "unknown --vcpu-type %s (EPYC, EPYC-Rome, "
					    "EPYC-Milan, EPYC-Genoa, EPYC-Turin, or one of their -vN "
					    "versions)", a->type);
		return 0;
	}
	if (a->sig)
		return owner_parse_num(verb, "--vcpu-sig", a->sig, UINT32_MAX, ret);
	if (!a->family || !a->model || !a->stepping)
		return sevadm_usage(verb, "--vcpu-family, --vcpu-model and --vcpu-stepping go "
				    "together");
	if ((r = owner_parse_num(verb, "--vcpu-family", a->family, 0xff + 0xf, &f)) != 0 ||
	    (r = owner_parse_num(verb, "--vcpu-model", a->model, 0xff, &m)) != 0 ||
	    (r = owner_parse_num(verb, "--vcpu-stepping", a->stepping, 0xf, &s)) != 0)
		return r;
	*ret = attest_cpu_sig(f, m, s);
	return 0;
}

int owner_vcpu_params(const char *verb, const struct owner_vcpu_args *a, uint64_t def_features,
		      struct attest_vmsa_params *ret)
{
	int given = !!a->type + !!a->sig + !!(a->family || a->model || a->stepping);
	int r;

	memset(ret, 0, sizeof *ret);
	ret->sev_features = def_features;
	ret->zero_x87 = a->zero_x87;
	if (a->vmm && attest_vmm_parse(a->vmm, &ret->vmm) < 0)
		return sevadm_usage(verb, "unknown --vmm-type %s (QEMU, ec2 or gce)", a->vmm);
	if (given > 1)
		return sevadm_usage(verb, "give one of --vcpu-type, --vcpu-sig or "
				    "--vcpu-family/--vcpu-model/--vcpu-stepping");
	if (given == 0 && ret->vmm == ATTEST_VMM_QEMU)
		return sevadm_usage(verb, "QEMU puts the vCPU signature in the VMSA: give "
				    "--vcpu-type, --vcpu-sig or --vcpu-family/--vcpu-model/"
				    "--vcpu-stepping");
	if (given && (r = parse_sig(verb, a, &ret->cpu_sig)) != 0)
		return r;
	if (a->features && (r = parse_features(verb, a->features, &ret->sev_features)) != 0)
		return r;
	return 0;
}

int owner_ap_reset_eip(const char *verb, const char *path, const uint8_t *fw, size_t len,
		       unsigned vcpus, uint32_t *ret)
{
	struct attest_ovmf o;
	struct attest_verdict v = {};

	*ret = ATTEST_VMSA_BSP_EIP;
	if (attest_ovmf_parse(fw, len, &o, &v) < 0)
		return sevadm_fail(verb, "%s: %s", path, attest_verdict_why(&v, "malformed firmware"));
	if (vcpus > 1 && !o.has_reset_eip)
		return sevadm_fail(verb, "%s has no SEV-ES reset block (OVMF footer GUID "
				   "00f771de-1a7e-4fcb-890e-68c77e2fb44e): its APs cannot start "
				   "under SEV-ES; use an OVMF built with SEV support", path);
	if (o.has_reset_eip)
		*ret = o.reset_eip;
	return 0;
}
