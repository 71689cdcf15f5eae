/* The dev transport against a real /dev/sev: PLATFORM_STATUS and GET_ID, which Linux allows
 * even on a read-only fd. Skips (77) with the reason when the host has no /dev/sev or the
 * test may not open it. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "common/macros.h"
#include "psp/commands.h"
#include "psp/transport.h"
#include "tests/testutil.h"

/* The body, so that its cleanups run before tu_done() exits. */
static void run(void)
{
	struct psp_transport *t = NULL;
	struct sev_cmd_platform_status st;
	_cleanup_free_ uint8_t *id = NULL;
	size_t id_len = 0;
	char buf[512];
	int r, pr;

	if (access("/dev/sev", F_OK) != 0)
		tu_skip("no /dev/sev on this host (no SEV-capable AMD PSP, ccp driver not loaded, "
			"or SEV disabled in the firmware setup); the marshalling is covered by "
			"test-dev-marshal");
	r = psp_open("dev", &t);
	if (r == -EACCES)
		tu_skip("/dev/sev exists but this user may not open it");
	TU_CHECK(r == 0, "psp_open(dev): %s", psp_strerror(r, -1, buf, sizeof(buf)));

	r = psp_cmd_platform_status(t, &st, &pr);
	TU_CHECK(r == 0, "PLATFORM_STATUS: %s", psp_strerror(r, pr, buf, sizeof(buf)));
	TU_CHECK(st.state <= SEV_PSTATE_WORKING, "state %u", st.state);
	printf("API %u.%u build %u, state %s, flags %#x, %u guests\n", st.api_major, st.api_minor,
	       st.build, sev_platform_state_name(st.state), st.flags, st.guest_count);

	r = psp_cmd_get_id(t, &id, &id_len, &pr);
	TU_CHECK(r == 0 || r == -EOPNOTSUPP, "GET_ID: %s", psp_strerror(r, pr, buf, sizeof(buf)));
	if (r == 0)
		TU_CHECK(id_len >= SEV_GET_ID_SIZE, "ID of %zu bytes", id_len);
	psp_close(t);
}

int main(void)
{
	run();
	tu_done("test-dev-real");
}
