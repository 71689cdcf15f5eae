/* The typed command wrappers (commands.h) against a real sev-psp-emu process over the emu
 * transport: the length-query convention end to end (query answered INVALID_LEN with the
 * needed length, then the fetch), blobs in firmware-addressable memory, both error channels
 * and their rendering. The emulator's own state rules are tested by its author (test-emu*). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/macros.h"
#include "psp/commands.h"
#include "psp/psp-emu.h"
#include "psp/transport.h"
#include "tests/testutil.h"

static void check_state(struct psp_transport *t, int want)
{
	struct sev_cmd_platform_status st;
	int pr;

	TU_CHECK_EQ(psp_cmd_platform_status(t, &st, &pr), 0);
	TU_CHECK_EQ(pr, SEV_STATUS_SUCCESS);
	TU_CHECK(st.state == want, "state %s, want %s", sev_platform_state_name(st.state),
		 sev_platform_state_name(want));
}

static void blobs(struct psp_transport *t)
{
	_cleanup_free_ uint8_t *csr = NULL, *pdh = NULL, *chain = NULL, *id = NULL;
	size_t csr_len = 0, pdh_len = 0, chain_len = 0, id_len = 0;
	struct sev_cmd_pek_csr q = { 0 };
	int pr;

	/* the raw query: INVALID_LEN, needed length written back into the buffer */
	TU_CHECK_EQ(psp_issue(t, SEV_CMD_PEK_CSR, &q, &pr), -EIO);
	TU_CHECK_EQ(pr, SEV_STATUS_INVALID_LEN);
	TU_CHECK_EQ(q.len, SEV_CERT_SIZE);

	TU_CHECK_EQ(psp_cmd_pek_csr(t, &csr, &csr_len, &pr), 0);
	TU_CHECK_EQ(csr_len, SEV_CERT_SIZE);
	TU_CHECK(csr[0] != 0 || csr[4] != 0, "CSR has content");

	TU_CHECK_EQ(psp_cmd_pdh_cert_export(t, &pdh, &pdh_len, &chain, &chain_len, &pr), 0);
	TU_CHECK_EQ(pdh_len, SEV_CERT_SIZE);
	TU_CHECK_EQ(chain_len, SEV_CERT_CHAIN_SIZE);

	/* one socket: 64 bytes (AMD-ASPFW sev_mcmd_get_id writes what sev_get_id made) */
	TU_CHECK_EQ(psp_cmd_get_id(t, &id, &id_len, &pr), 0);
	TU_CHECK_EQ(id_len, SEV_GET_ID_SIZE);
}

static void run(void)
{
	_cleanup_free_ char *dir = tu_mkdtemp(), *spec = NULL;
	static const uint8_t junk[SEV_CERT_SIZE] = { 1, 2, 3 };
	struct psp_transport *t = NULL;
	struct psp_cpuid c;
	struct tu_emu emu;
	char buf[256];
	int pr, r;

	TU_CHECK(tu_emu_start(dir, NULL, &emu) == 0, "sev-psp-emu starts");
	TU_CHECK(asprintf(&spec, "emu:%s", emu.socket) > 0, "spec");
	TU_CHECK_EQ(psp_open(spec, &t), 0);
	TU_CHECK(strcmp(psp_transport_kind(t), "emu") == 0, "kind");

	TU_CHECK_EQ(psp_get_cpuid(t, &c), 0);
	TU_CHECK(c.eax & (1u << 1), "emulated CPU reports SEV (eax %#x)", c.eax);

	check_state(t, SEV_PSTATE_UNINIT);
	/* a wrong-state answer comes back through the wrapper's length query unchanged */
	_cleanup_free_ uint8_t *csr = NULL;
	size_t len;
	r = psp_cmd_pek_csr(t, &csr, &len, &pr);
	TU_CHECK_EQ(r, -EIO);
	TU_CHECK_EQ(pr, SEV_STATUS_INVALID_PLATFORM_STATE);
	TU_CHECK(csr == NULL, "nothing returned");
	psp_strerror(r, pr, buf, sizeof(buf));
	TU_CHECK(strstr(buf, "firmware answered INVALID_PLATFORM_STATE"), "'%s'", buf);

	TU_CHECK_EQ(psp_cmd_init(t, 0, &pr), 0);
	check_state(t, SEV_PSTATE_INIT);
	blobs(t);
	TU_CHECK_EQ(psp_cmd_pek_gen(t, &pr), 0);
	TU_CHECK_EQ(psp_cmd_pdh_gen(t, NULL), 0); /* psp_ret is optional */
	/* INIT cleared every core's WBINVD_DONE: DF_FLUSH answers WBINVD_REQUIRED until the host
	 * reports WBINVD (AMD-ASPFW sev_mcmd.c mcmd_df_flush_common), then SUCCESS */
	r = psp_cmd_df_flush(t, &pr);
	TU_CHECK(r == -EIO && pr == SEV_STATUS_WBINVD_REQUIRED, "DF_FLUSH: %s",
		 psp_strerror(r, pr, buf, sizeof(buf)));
	TU_CHECK_EQ(psp_emu_ctl(t, "wbinvd", NULL, NULL), 0);
	r = psp_cmd_df_flush(t, &pr);
	TU_CHECK(r == 0, "DF_FLUSH after WBINVD: %s", psp_strerror(r, pr, buf, sizeof(buf)));

	/* the junk OCA's key (usage 0, algorithm 0) is no valid signer: sev_cert_validate's
	 * first check, INVALID_CERTIFICATE */
	r = psp_cmd_pek_cert_import(t, junk, sizeof(junk), junk, sizeof(junk), &pr);
	TU_CHECK_EQ(r, -EIO);
	TU_CHECK(pr == SEV_STATUS_INVALID_CERTIFICATE, "junk certs refused by %s",
		 sev_status_name(pr));

	TU_CHECK_EQ(psp_cmd_shutdown(t, &pr), 0);
	check_state(t, SEV_PSTATE_UNINIT);
	TU_CHECK_EQ(psp_cmd_factory_reset(t, &pr), 0);

	psp_close(t);
	tu_emu_stop(&emu);
	tu_rmtree(dir);
}

int main(void)
{
	run();
	tu_done("test-commands-live");
}
