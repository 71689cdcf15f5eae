/* Every firmware status code has a name and a one-line meaning, and the names are the spec's
 * (SEV API "Status Codes", SNP ABI 56860 table; SEV-FACTS §3, written out here as the
 * independent source). Unknown codes render as UNKNOWN_STATUS_0x.. ; psp_strerror() renders
 * statuses and errnos the way every user-facing message shows them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "psp/commands.h"
#include "psp/sev-abi.h"
#include "tests/testutil.h"

static const char *const spec_names[0x28] = {
	[0x00] = "SUCCESS",
	[0x01] = "INVALID_PLATFORM_STATE",
	[0x02] = "INVALID_GUEST_STATE",
	[0x03] = "INVALID_CONFIG",
	[0x04] = "INVALID_LEN",
	[0x05] = "ALREADY_OWNED",
	[0x06] = "INVALID_CERTIFICATE",
	[0x07] = "POLICY_FAILURE",
	[0x08] = "INACTIVE",
	[0x09] = "INVALID_ADDRESS",
	[0x0A] = "BAD_SIGNATURE",
	[0x0B] = "BAD_MEASUREMENT",
	[0x0C] = "ASID_OWNED",
	[0x0D] = "INVALID_ASID",
	[0x0E] = "WBINVD_REQUIRED",
	[0x0F] = "DFFLUSH_REQUIRED",
	[0x10] = "INVALID_GUEST",
	[0x11] = "INVALID_COMMAND",
	[0x12] = "ACTIVE",
	[0x13] = "HWERROR_PLATFORM",
	[0x14] = "HWERROR_UNSAFE",
	[0x15] = "UNSUPPORTED",
	[0x16] = "INVALID_PARAM",
	[0x17] = "RESOURCE_LIMIT",
	[0x18] = "SECURE_DATA_INVALID",
	[0x19] = "INVALID_PAGE_SIZE",
	[0x1A] = "INVALID_PAGE_STATE",
	[0x1B] = "INVALID_MDATA_ENTRY",
	[0x1C] = "INVALID_PAGE_OWNER",
	[0x1D] = "AEAD_OFLOW",
	/* 0x1E is not assigned */
	[0x1F] = "EXIT_RING_BUFFER",
	[0x20] = "RMP_INIT_REQUIRED",
	[0x21] = "BAD_SVN",
	[0x22] = "BAD_VERSION",
	[0x23] = "SHUTDOWN_REQUIRED",
	[0x24] = "UPDATE_FAILED",
	[0x25] = "RESTORE_REQUIRED",
	[0x26] = "RMP_INITIALIZATION_FAILED",
	[0x27] = "INVALID_KEY",
};

static void check_unknown(int code)
{
	char want[32];

	snprintf(want, sizeof(want), "UNKNOWN_STATUS_0x%x", (unsigned)code);
	TU_CHECK(strcmp(sev_status_name(code), want) == 0, "code %#x named '%s'", code,
		 sev_status_name(code));
	TU_CHECK(strlen(sev_status_meaning(code)) > 0, "code %#x has a meaning", code);
}

int main(void)
{
	char buf[512], want[512];

	for (int code = 0; code < 0x28; code++) {
		const char *meaning = sev_status_meaning(code);

		if (!spec_names[code]) {
			check_unknown(code);
			continue;
		}
		TU_CHECK(strcmp(sev_status_name(code), spec_names[code]) == 0,
			 "code %#x is %s, not %s", code, spec_names[code], sev_status_name(code));
		TU_CHECK(meaning && strlen(meaning) >= 8 &&
				 strcmp(meaning, sev_status_meaning(0x1E)) != 0,
			 "code %#x (%s) has a real one-line meaning", code, spec_names[code]);
		TU_CHECK(!strchr(meaning, '\n'), "one line");

		/* the rendering every user-facing error uses */
		snprintf(want, sizeof(want), "firmware answered %s (%s)", spec_names[code], meaning);
		psp_strerror(-EIO, code, buf, sizeof(buf));
		TU_CHECK(strcmp(buf, want) == 0, "'%s' != '%s'", buf, want);
	}
	check_unknown(0x1E);
	check_unknown(0x28);
	check_unknown(0xff);
	check_unknown(0xffff);
	TU_CHECK(strcmp(sev_status_name(SEV_STATUS_NO_FW_CALL), "NO_FW_CALL") == 0, "-1");
	psp_strerror(-EIO, 0x1E, buf, sizeof(buf));
	TU_CHECK(strstr(buf, "UNKNOWN_STATUS_0x1e"), "'%s'", buf);

	/* errno channel: the errno text, with what it means for the PSP */
	psp_strerror(-EACCES, SEV_STATUS_NO_FW_CALL, buf, sizeof(buf));
	TU_CHECK(strstr(buf, "Permission denied") && strstr(buf, "udev"), "'%s'", buf);
	psp_strerror(-EIO, SEV_STATUS_NO_FW_CALL, buf, sizeof(buf));
	TU_CHECK(strstr(buf, "Input/output error") && !strstr(buf, "firmware answered"), "'%s'",
		 buf);
	psp_strerror(-ECONNREFUSED, SEV_STATUS_NO_FW_CALL, buf, sizeof(buf));
	TU_CHECK(strstr(buf, "sev-psp-emu"), "'%s'", buf);
	psp_strerror(-ENOSPC, SEV_STATUS_NO_FW_CALL, buf, sizeof(buf));
	TU_CHECK(strcmp(buf, "No space left on device") == 0, "'%s'", buf);
	/* truncation is safe and NUL-terminated */
	psp_strerror(-EIO, SEV_STATUS_INVALID_PLATFORM_STATE, buf, 10);
	TU_CHECK(strcmp(buf, "firmware ") == 0, "'%s'", buf);
	tu_done("test-status");
}
