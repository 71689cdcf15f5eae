/* psp_open() spec parsing ("emu:PATH", "dev:PATH", "dev") and how the dev transport opens
 * its device: read-write, falling back to read-only when write is denied, -EACCES when
 * neither works. Linked with -Wl,--wrap=ioctl: the double below only reports the access
 * mode of the fd the transport issues on, and answers EPERM for a write command on a
 * read-only fd as Linux's sev_ioctl() does. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/commands.h"
#include "psp/transport.h"
#include "tests/testutil.h"

static int last_accmode = -1;

int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req != 0xC0105300ul)
		return __real_ioctl(fd, req, arg);
	last_accmode = fcntl(fd, F_GETFL) & O_ACCMODE;
	if (last_accmode == O_RDONLY) {
		errno = EPERM;
		return -1;
	}
	return 0; /* PEK_GEN on a writable fd: SUCCESS, error left as is */
}

static void check_bad(const char *spec)
{
	struct psp_transport *t = (struct psp_transport *)0x1;

	TU_CHECK(psp_open(spec, &t) == -EINVAL, "spec '%s' must be refused", spec ? spec : "NULL");
	TU_CHECK(t == (struct psp_transport *)0x1, "spec '%s': *ret untouched", spec);
}

/* Open `path` as a dev transport and issue PEK_GEN; returns the fd's access mode seen. */
static int open_and_issue(const char *path, int *ret_r)
{
	_cleanup_free_ char *spec = NULL;
	struct psp_transport *t = NULL;
	int r;

	TU_CHECK(asprintf(&spec, "dev:%s", path) > 0, "spec");
	r = psp_open(spec, &t);
	if (r < 0) {
		*ret_r = r;
		return -1;
	}
	TU_CHECK(strcmp(psp_transport_kind(t), "dev") == 0, "kind dev");
	last_accmode = -1;
	*ret_r = psp_cmd_pek_gen(t, NULL);
	psp_close(t);
	return last_accmode;
}

/* The body, so that its cleanups run before tu_done() exits. */
static void run(void)
{
	_cleanup_free_ char *dir = tu_mkdtemp();
	_cleanup_free_ char *rw = path_join(dir, "rw-dev"), *ro = path_join(dir, "ro-dev");
	_cleanup_free_ char *none = path_join(dir, "no-access-dev");
	struct psp_transport *t = NULL;
	int r, mode;

	/* malformed specs */
	const char *bad[] = { NULL, "", "emu", "emu:", "dev:", "devX", "dev/dev/sev", "DEV",
			      "kvm:/dev/kvm", ":/dev/sev", " dev", "emu/tmp/sock", "dev :/x" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		check_bad(bad[i]);
	TU_CHECK_EQ(psp_open("dev", NULL), -EINVAL);

	/* well-formed specs whose target is missing: the error is about the target */
	r = psp_open("dev:/nonexistent/sev", &t);
	TU_CHECK_EQ(r, -ENOENT);
	if (access("/dev/sev", F_OK) != 0) {
		r = psp_open("dev", &t); /* = /dev/sev */
		TU_CHECK_EQ(r, -ENOENT);
	}
	r = psp_open("emu:/nonexistent/emu.sock", &t);
	TU_CHECK(r != -EINVAL && r < 0, "emu spec parsed, target missing: %d", r);

	/* read-write when allowed */
	TU_CHECK(write_file_new(rw, "", 0, 0600) == 0, "create");
	mode = open_and_issue(rw, &r);
	TU_CHECK_EQ(mode, O_RDWR);
	TU_CHECK_EQ(r, 0);

	/* read-only fallback when write is denied; write commands then get EPERM */
	const char *ro_path = ro;
	if (geteuid() == 0)
		/* root passes file modes; sysfs refuses a write open of a read-only attribute */
		ro_path = "/sys/devices/system/cpu/possible";
	else
		TU_CHECK(write_file_new(ro, "", 0, 0444) == 0, "create read-only");
	mode = open_and_issue(ro_path, &r);
	TU_CHECK_EQ(mode, O_RDONLY);
	TU_CHECK_EQ(r, -EPERM);

	/* neither: -EACCES, which psp_strerror turns into "group / udev rule" advice */
	const char *none_path = none;
	if (geteuid() == 0)
		none_path = "/sys/bus/cpu/drivers_probe"; /* write-only attribute, read refused */
	else
		TU_CHECK(write_file_new(none, "", 0, 0000) == 0, "create no-access");
	if (access(none_path, F_OK) == 0) {
		mode = open_and_issue(none_path, &r);
		TU_CHECK_EQ(r, -EACCES);
		char buf[512];
		psp_strerror(r, -1, buf, sizeof(buf));
		TU_CHECK(strstr(buf, "group") && strstr(buf, "udev"), "'%s'", buf);
	} else {
		printf("note: %s missing, no-access case not exercised\n", none_path);
	}

	tu_rmtree(dir);
}

int main(void)
{
	run();
	tu_done("test-open-spec");
}
