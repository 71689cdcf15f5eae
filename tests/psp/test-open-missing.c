/* Robustness of psp_open() for an emulator that is not there: a missing socket path gives
 * -ENOENT, a path nobody listens on gives -ECONNREFUSED (never a hang, a crash or success),
 * and psp_strerror() says to start sev-psp-emu. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/commands.h"
#include "psp/transport.h"
#include "tests/testutil.h"

/* The body, so that its cleanups run before tu_done() exits. */
static void run(void)
{
	_cleanup_free_ char *dir = tu_mkdtemp();
	_cleanup_free_ char *dead = path_join(dir, "dead.sock");
	_cleanup_free_ char *spec = NULL;
	struct psp_transport *t = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[512];
	int r, fd;

	r = psp_open("emu:/nonexistent", &t);
	TU_CHECK(r == -ENOENT || r == -ECONNREFUSED, "emu:/nonexistent gave %d (%s)", r,
		 strerror(-r));
	TU_CHECK(t == NULL, "no transport returned");
	psp_strerror(r, -1, buf, sizeof(buf));
	TU_CHECK(strstr(buf, "sev-psp-emu"), "'%s'", buf);

	/* a socket that was bound and closed: nobody listens */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	TU_CHECK(fd >= 0, "socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", dead);
	TU_CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind %s", dead);
	close(fd);
	TU_CHECK(asprintf(&spec, "emu:%s", dead) > 0, "spec");
	r = psp_open(spec, &t);
	TU_CHECK_EQ(r, -ECONNREFUSED);
	psp_strerror(r, -1, buf, sizeof(buf));
	TU_CHECK(strstr(buf, "start sev-psp-emu"), "'%s'", buf);

	tu_rmtree(dir);
}

int main(void)
{
	run();
	tu_done("test-open-missing");
}
