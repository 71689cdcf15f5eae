/* attest/snp-appraise.h on reports made here (no signatures needed: the comparisons are pure):
 * a Turin report (version 3, CPUID family 0x1A) whose TCB has an FMC field, compared per
 * component in the Turin layout; a masked CHIP_ID is "not checked" (neither passed nor
 * failed) and says so; a chip id of zeros wanted and found passes; numbers as strings; the
 * checks come in the schema's order, one per field given; reference text limits (trailing
 * bytes, size, duplicate GUIDs in a certificate table). */
#include <errno.h>
#include <string.h>

#include "attest/snp-appraise.h"
#include "common/util.h"
#include "tests/testutil.h"

/* Version 3 Turin report: TCB bytes [fmc, bl, tee, snp, 0, 0, 0, ucode]. */
static void turin_report(struct snp_report *r, bool masked)
{
	uint8_t raw[SNP_REPORT_SIZE] = { 0 };
	const uint8_t tcb[8] = { 1, 4, 0, 22, 0, 0, 0, 0x4b };
	struct attest_verdict why = {0};

	put_le32(raw, 3);
	put_le64(raw + 0x08, 0x30000);
	put_le32(raw + 0x34, 1);
	memcpy(raw + 0x38, tcb, 8);
	memcpy(raw + 0x180, tcb, 8);
	raw[0x188] = 0x1A; /* CPUID family: Turin */
	raw[0x189] = 0x02;
	if (!masked)
		memset(raw + 0x1A0, 0xab, 64);
	memcpy(raw + 0x1E0, tcb, 8);
	memcpy(raw + 0x1F0, tcb, 8);
	TU_CHECK(attest_snp_report_parse(raw, sizeof raw, SNP_GEN_UNKNOWN, r, &why) == 0, "%s",
		 why.reason);
	TU_CHECK_EQ(r->gen, SNP_GEN_TURIN);
}

static void appraise(const struct snp_report *r, const char *text, struct snp_appraisal *a)
{
	struct snp_ref ref;
	struct attest_verdict v = {};

	TU_CHECK(attest_snp_ref_parse(text, strlen(text), &ref, &v) == 0, "%s: %s", text,
		 v.reason);
	attest_snp_appraise(r, &ref, a);
}

static const struct snp_check *find(const struct snp_appraisal *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->checks[i].name, name) == 0)
			return &a->checks[i];
	TU_CHECK(false, "no check %s", name);
	return NULL;
}

static void test_turin_fmc(void)
{
	static struct snp_appraisal a;
	struct snp_report r;

	turin_report(&r, false);
	appraise(&r, "{\"min_tcb\": {\"reported\": {\"fmc\": 1, \"bootloader\": 4, \"snp\": \"22\","
		     " \"microcode\": \"0x4b\"}, \"launch\": {\"fmc\": 2}}}", &a);
	TU_CHECK_EQ(a.n, 5);
	TU_CHECK(find(&a, "min_tcb.reported.fmc")->pass, "fmc 1 >= 1");
	TU_CHECK(find(&a, "min_tcb.reported.bootloader")->pass, "bl 4 in the Turin layout");
	TU_CHECK(find(&a, "min_tcb.reported.snp")->pass, "snp 22");
	TU_CHECK(find(&a, "min_tcb.reported.microcode")->pass, "ucode 0x4b");
	const struct snp_check *c = find(&a, "min_tcb.launch.fmc");
	TU_CHECK(!c->pass && !c->skipped && strcmp(c->expected, ">= 2") == 0 &&
			 strcmp(c->found, "1") == 0, "launch fmc: %s / %s", c->expected, c->found);
	/* the order of the schema: reported before launch, fmc before bootloader */
	TU_CHECK(strcmp(a.checks[0].name, "min_tcb.reported.fmc") == 0 &&
			 strcmp(a.checks[4].name, "min_tcb.launch.fmc") == 0, "order");
}

static void test_masked_chip(void)
{
	static struct snp_appraisal a;
	char ref[300];
	struct snp_report r;

	turin_report(&r, true);
	snprintf(ref, sizeof ref, "{\"chip_id\": \"%0128d\"}", 0);
	appraise(&r, ref, &a); /* zeros wanted, zeros found: an ordinary match */
	TU_CHECK(a.n == 1 && a.checks[0].pass && !a.checks[0].skipped, "zeros = zeros");
	memset(ref, 0, sizeof ref);
	strcpy(ref, "{\"chip_id\": \"");
	for (int i = 0; i < 64; i++)
		strcat(ref, "ab");
	strcat(ref, "\"}");
	appraise(&r, ref, &a);
	TU_CHECK(a.n == 1 && a.checks[0].skipped && !a.checks[0].pass, "masked: not checked");
	TU_CHECK(strstr(a.checks[0].found, "masked"), "%s", a.checks[0].found);
	turin_report(&r, false);
	appraise(&r, ref, &a);
	TU_CHECK(a.n == 1 && a.checks[0].pass && !a.checks[0].skipped, "unmasked, equal");
}

static void test_text_limits(void)
{
	struct snp_ref ref;
	struct attest_verdict v = {};
	static char big[SNP_REF_TEXT_MAX + 2];

	TU_CHECK(attest_snp_ref_parse("{} x", 4, &ref, &v) == -EBADMSG, "trailing");
	v = (struct attest_verdict){};
	TU_CHECK(attest_snp_ref_parse("{}\n \t", 5, &ref, &v) == 0, "%s", v.reason);
	TU_CHECK(attest_snp_ref_parse("{\"comment\": [1, 2], \"$schema\": \"x\"}", 35, &ref,
				      &v) == 0, "annotations: %s", v.reason);
	memset(big, ' ', sizeof big - 1);
	big[0] = '{';
	big[sizeof big - 2] = '}';
	TU_CHECK(attest_snp_ref_parse(big, sizeof big - 1, &ref, &v) == -EBADMSG &&
			 strstr(v.reason, "larger"), "%s", v.reason);
	TU_CHECK(attest_snp_ref_parse("{\"vmpl\": 1.5}", 13, &ref, &v) == -EBADMSG,
		 "a fraction is no VMPL");
	TU_CHECK(attest_snp_ref_parse("{\"min_firmware\": \"1.2.3.4\"}", 27, &ref, &v) ==
			 -EBADMSG, "four parts");
}

static void test_cert_table_limits(void)
{
	struct snp_cert_table t;
	uint8_t buf[24 * 2 + 8] = { 0 };
	struct attest_verdict v = {};

	/* one unknown-GUID entry pointing at the 8 bytes after the terminator: skipped */
	memset(buf, 0x77, 16);
	put_le32(buf + 16, 48);
	put_le32(buf + 20, 8);
	TU_CHECK(attest_snp_cert_table_parse(buf, sizeof buf, &t, &v) == 0, "%s", v.reason);
	TU_CHECK(t.n_entries == 1 && !t.has[SNP_CERT_VCEK], "unknown GUID skipped");
	/* pointing into the table itself */
	put_le32(buf + 16, 8);
	TU_CHECK(attest_snp_cert_table_parse(buf, sizeof buf, &t, &v) == -EBADMSG &&
			 strstr(v.reason, "overlaps"), "%s", v.reason);
	/* offset + length wrapping 32 bits */
	put_le32(buf + 16, 48);
	put_le32(buf + 20, 0xFFFFFFF0u);
	TU_CHECK(attest_snp_cert_table_parse(buf, sizeof buf, &t, &v) == -EBADMSG, "wrap");
	TU_CHECK(attest_snp_cert_table_parse(buf, 0, &t, &v) == -EBADMSG, "empty");
}

int main(void)
{
	test_turin_fmc();
	test_masked_chip();
	test_text_limits();
	test_cert_table_limits();
	tu_done("test-snp-appraise");
}
