/* sev-psp-emu's fault plans (psp/emu/README.md "Fault plans"), seen through the emu transport
 * as sevd sees them: a failed command answers its named status on exactly the Nth call; a
 * hang makes the client time out and go dead with -ETIMEDOUT while the emulator stays
 * killable; a garbage reply length gives -EPROTO; a dying emulator gives -ECONNRESET and,
 * restarted on the same NV file, holds what reached flash; a dropped connection gives
 * -ECONNRESET and a fresh one works; bad rules are refused by name (exit 2 on the command
 * line, an error reply on CTL); rules never outlive the process. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/commands.h"
#include "tests/psp/test-emu-util.h"

/* The rig's own connection waits long enough for any stall below; short timeouts are set
 * per connection. */
#define RIG_TIMEOUT "10000"

static struct psp_transport *connect_emu(const char *sock, const char *timeout_ms)
{
	struct psp_transport *t = NULL;
	char spec[4200];
	int e;

	setenv("SEV_PSP_EMU_TIMEOUT_MS", timeout_ms, 1);
	snprintf(spec, sizeof(spec), "emu:%s", sock);
	e = psp_open(spec, &t);
	setenv("SEV_PSP_EMU_TIMEOUT_MS", RIG_TIMEOUT, 1);
	TU_CHECK(e == 0, "psp_open(%s): %s", spec, strerror(-e));
	return t;
}

/* A CTL line that must answer want_err; the reply text (caller frees). */
static char *ctl(struct psp_transport *t, const char *line, int want_err)
{
	uint8_t *reply = NULL;
	int e = psp_emu_ctl(t, line, &reply, NULL);

	TU_CHECK(e == want_err, "CTL '%s' answered %d (%s), expected %d", line, e,
		 reply ? (char *)reply : "", want_err);
	return (char *)reply;
}

static void ctl_expect(struct psp_transport *t, const char *line, int want_err,
		       const char *want_text)
{
	_cleanup_free_ char *reply = ctl(t, line, want_err);

	TU_CHECK(strstr(reply, want_text), "CTL '%s' answered '%s', expected it to say '%s'", line,
		 reply, want_text);
}

/* Wait (bounded) for the emulator to end on its own; its wait status. */
static int reap(pid_t pid)
{
	int st = 0;

	for (int waited = 0; waited < 10000; waited += 10) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		usleep(10 * 1000);
	}
	TU_CHECK(false, "sev-psp-emu (pid %d) still runs 10 s after it should have died", pid);
	return -1;
}

static uint8_t *pek_csr(struct psp_transport *t, size_t *ret_len)
{
	uint8_t *csr = NULL;
	int pr, e = psp_cmd_pek_csr(t, &csr, ret_len, &pr);

	TU_CHECK(e == 0, "PEK_CSR: %s (%s)", strerror(-e), sev_status_name(pr));
	return csr;
}

/* "regions=N" from CTL status: the connection-owned DMA regions show whether a dropped
 * connection was cleaned up. */
static unsigned regions(struct psp_transport *t)
{
	_cleanup_free_ char *s = ctl(t, "status", 0);
	const char *p = strstr(s, "regions=");

	TU_CHECK(p, "status without regions: %s", s);
	return (unsigned)strtoul(p + 8, NULL, 10);
}

/* fail=STATUS on the Nth call of its command, K times, and not before or after; other
 * commands do not count; a failed command does not run; each rule counts from its install. */
static void test_fail(void)
{
	const char *const extra[] = {"--fault",
				     "PLATFORM_STATUS:fail=HWERROR_PLATFORM:nth=3:count=2",
				     "--fault", "DF_FLUSH:fail=UNSUPPORTED", NULL};
	struct sev_cmd_platform_status ps;
	struct emu_rig r;
	size_t id_len;
	int pr, e;

	rig_up(&r, extra);
	for (int call = 1; call <= 6; call++) {
		bool fails = call == 3 || call == 4;
		_cleanup_free_ uint8_t *id = NULL;

		pr = 0x55;
		e = psp_cmd_platform_status(r.t, &ps, &pr);
		TU_CHECK(e == (fails ? -EIO : 0) &&
			     pr == (fails ? SEV_STATUS_HWERROR_PLATFORM : SEV_STATUS_SUCCESS),
			 "PLATFORM_STATUS call %d: %s, firmware %s", call, strerror(-e),
			 sev_status_name(pr));
		/* GET_ID between the calls is another command: it does not count */
		TU_CHECK_EQ(psp_cmd_get_id(r.t, &id, &id_len, &pr), 0);
	}
	ctl_expect(r.t, "fault list", 0,
		   "PLATFORM_STATUS:fail=HWERROR_PLATFORM:nth=3:count=2 calls=6 fired=2\n"
		   "DF_FLUSH:fail=UNSUPPORTED:nth=1:count=1 calls=0 fired=0");
	/* --fault is repeatable: the second rule is there too */
	TU_CHECK_EQ(psp_cmd_df_flush(r.t, &pr), -EIO);
	CHECK_STATUS(pr, SEV_STATUS_UNSUPPORTED);

	/* A rule installed now counts from now: its 2nd call is this rule's 2nd. By hex id. */
	ctl_expect(r.t, "fault 0x4:fail=RESOURCE_LIMIT:nth=2", 0,
		   "ok PLATFORM_STATUS:fail=RESOURCE_LIMIT:nth=2:count=1");
	CHECK_STATUS(fw(r.t, SEV_CMD_PLATFORM_STATUS, &ps), SEV_STATUS_SUCCESS);
	CHECK_STATUS(fw(r.t, SEV_CMD_PLATFORM_STATUS, &ps), SEV_STATUS_RESOURCE_LIMIT);
	CHECK_STATUS(fw(r.t, SEV_CMD_PLATFORM_STATUS, &ps), SEV_STATUS_SUCCESS);

	/* The failed command does not run: INIT refused leaves UNINIT; SHUTDOWN refused every
	 * time (count=all) leaves INIT. Lower-case names are accepted. */
	ctl_ok(r.t, "fault init:fail=invalid_config");
	TU_CHECK_EQ(psp_cmd_init(r.t, 0, &pr), -EIO);
	CHECK_STATUS(pr, SEV_STATUS_INVALID_CONFIG);
	TU_CHECK_EQ(platform_status(r.t).state, SEV_PSTATE_UNINIT);
	TU_CHECK_EQ(psp_cmd_init(r.t, 0, &pr), 0);
	ctl_ok(r.t, "fault SHUTDOWN:fail=HWERROR_UNSAFE:count=all");
	for (int i = 0; i < 3; i++) {
		TU_CHECK_EQ(psp_cmd_shutdown(r.t, &pr), -EIO);
		CHECK_STATUS(pr, SEV_STATUS_HWERROR_UNSAFE);
	}
	TU_CHECK_EQ(platform_status(r.t).state, SEV_PSTATE_INIT);

	/* clear: no rule left, the command works */
	ctl_expect(r.t, "fault clear", 0, "ok");
	_cleanup_free_ char *list = ctl(r.t, "fault list", 0);
	TU_CHECK(list[0] == 0, "rules left after clear: %s", list);
	TU_CHECK_EQ(psp_cmd_shutdown(r.t, &pr), 0);
	rig_down(&r);
}

/* hang=SECONDS: the command runs, the emulator stalls; the client times out, its transport
 * is dead with -ETIMEDOUT; afterwards the emulator serves again with the change made. A long
 * hang still ends cleanly on SIGTERM. */
static void test_hang(void)
{
	struct psp_transport *t;
	struct sev_cmd_platform_status ps;
	struct emu_rig r;
	int pr, st;

	rig_up(&r, NULL);
	ctl_ok(r.t, "fault INIT:hang=2");
	t = connect_emu(r.emu.socket, "300");
	pr = 0x55;
	TU_CHECK_EQ(psp_cmd_init(t, 0, &pr), -ETIMEDOUT);
	TU_CHECK_EQ(pr, SEV_STATUS_NO_FW_CALL);
	TU_CHECK_EQ(psp_cmd_platform_status(t, &ps, &pr), -ETIMEDOUT); /* dead for good */
	psp_close(t);
	/* The rig's connection waits out the stall; INIT ran before it. */
	TU_CHECK_EQ(platform_status(r.t).state, SEV_PSTATE_INIT);
	ctl_expect(r.t, "fault list", 0, "INIT:hang=2:nth=1:count=1 calls=1 fired=1");

	ctl_ok(r.t, "fault PLATFORM_STATUS:hang=3600");
	t = connect_emu(r.emu.socket, "300");
	TU_CHECK_EQ(psp_cmd_platform_status(t, &ps, &pr), -ETIMEDOUT);
	psp_close(t);
	st = tu_stop(r.emu.pid, 5000); /* SIGKILLs after 5 s: then the check below fails */
	r.emu.pid = 0;
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		 "a hung emulator did not exit cleanly on SIGTERM (wait status 0x%x)", st);
	TU_CHECK(access(r.emu.socket, F_OK) < 0, "socket left behind by a clean exit");
	rig_down(&r);
}

/* garbage-len: a reply whose payload is not the command buffer: -EPROTO, the transport is
 * dead, the client intact; the emulator goes on serving other connections. */
static void test_garbage_len(void)
{
	struct psp_transport *t;
	struct sev_cmd_platform_status ps;
	struct emu_rig r;
	int pr;

	rig_up(&r, NULL);
	ctl_ok(r.t, "fault PLATFORM_STATUS:garbage-len:nth=2");
	t = connect_emu(r.emu.socket, RIG_TIMEOUT);
	TU_CHECK_EQ(psp_cmd_platform_status(t, &ps, &pr), 0);
	TU_CHECK_EQ(psp_cmd_platform_status(t, &ps, &pr), -EPROTO);
	TU_CHECK_EQ(psp_cmd_platform_status(t, &ps, &pr), -EPROTO); /* dead for good */
	psp_close(t);
	/* a command without a buffer gets a payload where there should be none */
	ctl_ok(r.t, "fault SHUTDOWN:garbage-len");
	t = connect_emu(r.emu.socket, RIG_TIMEOUT);
	TU_CHECK_EQ(psp_cmd_shutdown(t, &pr), -EPROTO);
	psp_close(t);
	TU_CHECK_EQ(platform_status(r.t).state, SEV_PSTATE_UNINIT);
	rig_down(&r);
}

/* One die rule on PEK_GEN; returns the PEK after a restart on the same NV file. */
static uint8_t *die_in_pek_gen(struct emu_rig *r, const char *rule, size_t *ret_len)
{
	struct sev_cmd_platform_status ps;
	int pr, st;

	ctl_ok(r->t, rule);
	TU_CHECK_EQ(psp_cmd_pek_gen(r->t, &pr), -ECONNRESET);
	st = reap(r->emu.pid);
	r->emu.pid = 0;
	TU_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		 "'%s': the emulator did not die by SIGKILL (wait status 0x%x)", rule, st);
	TU_CHECK_EQ(psp_cmd_platform_status(r->t, &ps, &pr), -ECONNRESET); /* dead for good */
	rig_restart(r, NULL); /* same NV file; the stale socket is replaced */
	/* Platform state is not on flash: a restarted PSP is UNINIT. Rules are not either. */
	TU_CHECK_EQ(platform_status(r->t).state, SEV_PSTATE_UNINIT);
	_cleanup_free_ char *list = ctl(r->t, "fault list", 0);
	TU_CHECK(list[0] == 0, "rules survived a restart: %s", list);
	TU_CHECK(to_state(r->t, SEV_PSTATE_INIT), "INIT after restart");
	return pek_csr(r->t, ret_len);
}

/* die: SIGKILL in the middle of the command (after it ran, so its NV write stands; with
 * `before`, before it ran); the client gets -ECONNRESET; restarted, the NV file holds
 * exactly what was persisted. */
static void test_die(void)
{
	_cleanup_free_ uint8_t *pek0 = NULL, *pek1 = NULL, *pek2 = NULL, *pek3 = NULL;
	size_t n0, n1, n2, n3;
	struct emu_rig r;
	int pr;

	rig_up(&r, NULL);
	TU_CHECK(to_state(r.t, SEV_PSTATE_INIT), "INIT");
	pek0 = pek_csr(r.t, &n0);
	pek1 = die_in_pek_gen(&r, "fault PEK_GEN:die", &n1);
	TU_CHECK(n0 == n1 && memcmp(pek0, pek1, n0) != 0,
		 "PEK_GEN ran before the death and reached the NV file: the PEK must be new");
	TU_CHECK_EQ(psp_cmd_pek_gen(r.t, &pr), 0); /* no rule after the restart */
	pek2 = pek_csr(r.t, &n2);
	pek3 = die_in_pek_gen(&r, "fault PEK_GEN:die:before", &n3);
	TU_CHECK(n2 == n3 && memcmp(pek2, pek3, n2) == 0,
		 "PEK_GEN:die:before must die before the command ran: the PEK must be kept");
	rig_down(&r);
}

/* drop-socket: that connection is closed without a reply (-ECONNRESET) and its DMA region
 * dropped; the command ran (or, with `before`, did not); other and fresh connections work. */
static void test_drop_socket(void)
{
	struct psp_transport *t;
	struct sev_cmd_platform_status ps;
	struct emu_rig r;
	unsigned base;
	int pr;

	rig_up(&r, NULL);
	base = regions(r.t);
	ctl_ok(r.t, "fault INIT:drop-socket");
	t = connect_emu(r.emu.socket, RIG_TIMEOUT);
	TU_CHECK_EQ(regions(r.t), base + 1);
	TU_CHECK_EQ(psp_cmd_init(t, 0, &pr), -ECONNRESET);
	TU_CHECK_EQ(psp_cmd_platform_status(t, &ps, &pr), -ECONNRESET); /* dead for good */
	psp_close(t);
	TU_CHECK_EQ(regions(r.t), base);
	TU_CHECK_EQ(platform_status(r.t).state, SEV_PSTATE_INIT);

	ctl_ok(r.t, "fault SHUTDOWN:drop-socket:before");
	t = connect_emu(r.emu.socket, RIG_TIMEOUT);
	TU_CHECK_EQ(psp_cmd_platform_status(t, &ps, &pr), 0);
	TU_CHECK_EQ(psp_cmd_shutdown(t, &pr), -ECONNRESET);
	psp_close(t);
	TU_CHECK_EQ(platform_status(r.t).state, SEV_PSTATE_INIT);
	t = connect_emu(r.emu.socket, RIG_TIMEOUT); /* a fresh connection works */
	TU_CHECK_EQ(psp_cmd_shutdown(t, &pr), 0);
	TU_CHECK_EQ(psp_cmd_platform_status(t, &ps, &pr), 0);
	TU_CHECK_EQ(ps.state, SEV_PSTATE_UNINIT);
	psp_close(t);
	rig_down(&r); /* checks the emulator still exits 0 on SIGTERM */
}

static const struct {
	const char *rule, *says;
} bad_rules[] = {
    {"FROBNICATE:die", "unknown command 'FROBNICATE'"},
    {"0x999:die", "unknown command '0x999'"},
    {"0x80:die", "unknown command '0x80'"},
    {"INIT", "no action after 'INIT'"},
    {"INIT:explode", "unknown action 'explode'"},
    {"INIT:fail=NOT_A_STATUS", "unknown firmware status 'NOT_A_STATUS'"},
    {"INIT:fail=SUCCESS", "not a failure"},
    {"INIT:fail", "fail needs a value (fail=STATUS)"},
    {"INIT:hang=0", "hang=0: seconds must be 1..86400"},
    {"INIT:hang=forever", "hang=forever: seconds"},
    {"INIT:die:count=2", "option count does not apply to die"},
    {"INIT:hang=1:before", "option before does not apply to hang"},
    {"INIT:fail=INVALID_LEN:before", "option before does not apply to fail"},
    {"INIT:die:nth=0", "nth=0: must be a whole number from 1"},
    {"INIT:die:nth=-1", "nth=-1: must be a whole number"},
    {"INIT:drop-socket:nth=1:nth=2", "option nth given twice"},
    {"INIT:die:when=now", "unknown option 'when'"},
    {"INIT::die", "empty field"},
    {"INIT:die=3", "die takes no value"},
};

/* A bad --fault exits 2 before touching anything, naming the problem. */
static void test_bad_cmdline(const char *dir)
{
	_cleanup_free_ char *sock = path_join(dir, "bad.sock"), *nv = path_join(dir, "bad.nv"),
			    *log = path_join(dir, "bad.log");

	for (size_t i = 0; i < ELEMENTSOF(bad_rules); i++) {
		char *argv[] = {(char *)tu_exe("SEV_PSP_EMU_EXE"),
				(char *)"--socket",
				sock,
				(char *)"--nv",
				nv,
				(char *)"--fault",
				(char *)bad_rules[i].rule,
				NULL};
		_cleanup_free_ uint8_t *raw = NULL;
		_cleanup_free_ char *text = NULL;
		size_t raw_len;
		int st;

		unlink(log);
		st = reap(tu_spawn(argv, log));
		raw = tu_read_file(log, &raw_len);
		text = strndup((char *)raw, raw_len); /* the file is not NUL-terminated */
		TU_CHECK(text, "out of memory");
		TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "--fault %s: wait status 0x%x",
			 bad_rules[i].rule, st);
		TU_CHECK(strstr(text, bad_rules[i].says), "--fault %s said: %s", bad_rules[i].rule,
			 text);
		TU_CHECK(access(nv, F_OK) < 0 && access(sock, F_OK) < 0,
			 "--fault %s: files made before the refusal", bad_rules[i].rule);
	}
}

/* Over CTL a bad rule is an -EINVAL reply naming the problem; nothing is installed. */
static void test_bad_ctl(void)
{
	char line[300];
	struct emu_rig r;

	rig_up(&r, NULL);
	test_bad_cmdline(r.dir);
	for (size_t i = 0; i < ELEMENTSOF(bad_rules); i++) {
		snprintf(line, sizeof(line), "fault %s", bad_rules[i].rule);
		ctl_expect(r.t, line, -EINVAL, bad_rules[i].says);
	}
	ctl_expect(r.t, "fault", -EINVAL, "fault takes one of");
	ctl_expect(r.t, "fault INIT:die extra", -EINVAL, "too many arguments");
	_cleanup_free_ char *list = ctl(r.t, "fault list", 0);
	TU_CHECK(list[0] == 0, "a refused rule was installed: %s", list);
	/* the table is bounded */
	for (int i = 0; i < 32; i++)
		ctl_ok(r.t, "fault GET_ID:fail=HWERROR_PLATFORM:nth=1000000");
	ctl_expect(r.t, "fault GET_ID:die", -ENOSPC, "already 32 fault rules");
	ctl_ok(r.t, "fault clear");
	ctl_ok(r.t, "fault GET_ID:fail=HWERROR_PLATFORM:nth=1000000");
	rig_down(&r);
}

int main(void)
{
	if (!getenv("SEV_PSP_EMU_EXE"))
		tu_skip("SEV_PSP_EMU_EXE not set (run through meson test)");
	setenv("SEV_PSP_EMU_TIMEOUT_MS", RIG_TIMEOUT, 1);
	test_fail();
	test_hang();
	test_garbage_len();
	test_die();
	test_drop_socket();
	test_bad_ctl();
	tu_done("emu-fault");
}
