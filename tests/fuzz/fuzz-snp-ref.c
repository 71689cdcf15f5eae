/* libFuzzer target: the SEV-SNP reference file parser and the appraisal over it
 * (attest/snp-appraise.h), as `sevadm verify report --ref FILE` runs them on a file the user
 * names. Input: the reference text. Every outcome is 0 or -EBADMSG with a reason; a parsed
 * reference appraises a fixed report (the seeds' Milan-shaped one) into named checks, each with
 * an expected value, and never more checks than the reference can ask for. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attest/snp-appraise.h"
#include "common/macros.h"
#include "common/util.h"

static struct snp_report report;
static struct snp_appraisal appraisal;
static struct snp_ref ref;

static void init_report(void)
{
	static bool done;
	uint8_t raw[SNP_REPORT_SIZE] = {};
	const uint8_t tcb[8] = { 3, 0, 0, 0, 0, 0, 8, 0x73 };

	if (done)
		return;
	put_le32(raw, 2);
	put_le64(raw + 0x08, 0x30000);
	put_le32(raw + 0x34, 1);
	memcpy(raw + 0x38, tcb, 8);
	put_le64(raw + 0x40, 1);
	memcpy(raw + 0x180, tcb, 8);
	memset(raw + 0x1A0, 0x5a, 64);
	if (attest_snp_report_parse(raw, sizeof raw, SNP_GEN_MILAN, &report, NULL) < 0)
		abort();
	done = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attest_verdict v = {};
	int r;

	init_report();
	r = attest_snp_ref_parse((const char *)data, size, &ref, &v);
	if (r < 0) {
		if (r != -EBADMSG && r != -ENOMEM)
			abort();
		if (r == -EBADMSG && !v.reason[0])
			abort(); /* every refusal says why */
		return 0;
	}
	if (ref.n_measurements > SNP_REF_MEASUREMENTS_MAX || (ref.policy_set & ref.policy_clear))
		abort();
	attest_snp_appraise(&report, &ref, &appraisal);
	if (appraisal.n > ELEMENTSOF(appraisal.checks))
		abort();
	for (size_t i = 0; i < appraisal.n; i++)
		if (!appraisal.checks[i].name[0] || !appraisal.checks[i].expected[0] ||
		    !appraisal.checks[i].found[0])
			abort();
	return 0;
}
