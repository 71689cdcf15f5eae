/* Helpers of the SNP emu tests (see test-emu-snp-util.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/macros.h"
#include "tests/psp/test-emu-snp-util.h"

int snp_rmpupdate(struct psp_transport *t, const char *fmt, ...)
{
	_cleanup_free_ uint8_t *reply = NULL;
	char line[200] = "rmpupdate ";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line + strlen(line), sizeof(line) - strlen(line), fmt, ap);
	va_end(ap);
	return psp_emu_ctl(t, line, &reply, NULL);
}

void snp_fw_page(struct psp_transport *t, uint64_t addr)
{
	int e = snp_rmpupdate(t, "0x%llx,assigned=1,immutable=1", (unsigned long long)addr);

	TU_CHECK(e == 0, "rmpupdate 0x%llx to firmware: %s", (unsigned long long)addr,
		 strerror(-e));
}

const char *snp_rmp_state(struct psp_transport *t, uint64_t addr)
{
	static char state[32];
	_cleanup_free_ uint8_t *reply = NULL;
	char line[64];
	int e;

	snprintf(line, sizeof(line), "rmp 0x%llx", (unsigned long long)addr);
	e = psp_emu_ctl(t, line, &reply, NULL);
	TU_CHECK(e == 0, "%s: %s", line, strerror(-e));
	TU_CHECK(sscanf((char *)reply, "state=%31s", state) == 1, "rmp reply '%s'", (char *)reply);
	return state;
}

int snp_platform_status(struct psp_transport *t, const struct gt_mem *m, uint64_t off,
			struct sev_snp_platform_status *ret)
{
	struct sev_snp_cmd_addr b = { m->base + off };
	int st;

	memset(m->ptr + off, 0xa5, sizeof(*ret));
	st = fw(t, SEV_CMD_SNP_PLATFORM_STATUS, &b);
	memcpy(ret, m->ptr + off, sizeof(*ret));
	return st;
}

void snp_ready(struct psp_transport *t)
{
	struct sev_snp_cmd_init_ex ex = { .flags = SEV_SNP_INIT_INIT_RMP };

	GT_EXPECT(fw(t, SEV_CMD_SNP_INIT_EX, &ex), SEV_STATUS_SUCCESS);
	ctl_ok(t, "wbinvd");
	GT_EXPECT(fw(t, SEV_CMD_SNP_DF_FLUSH, NULL), SEV_STATUS_SUCCESS);
}
