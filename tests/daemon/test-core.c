/* The daemon's core against the real emulator, below HTTP: the ASID pool's flush runs
 * WBINVD (emulator control) + DF_FLUSH through the firmware queue when the pool runs low,
 * from a caller thread and from inside a firmware job alike; the config parser and the
 * token check that decide roles. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/core/asid.h"
#include "daemon/worker/auth.h"
#include "daemon/core/core.h"
#include "daemon/core/emu-ctl.h"
#include "daemon/sevd-config.h"
#include "common/util.h"
#include "tests/testutil.h"

static uint64_t df_flush_count(struct sevd_core *c)
{
	struct sevd_request req = { .op = SEVD_OP_METRICS };
	struct sevd_reply *rep = calloc(1, sizeof(*rep));
	const char *p;
	uint64_t n = 0;

	TU_CHECK(rep && sevd_core_call(c, &req, rep) == 0, "metrics");
	p = strstr(rep->u.metrics.text, "command=\"DF_FLUSH\",status=\"SUCCESS\"} ");
	if (p)
		n = strtoull(strchr(p, '}') + 2, NULL, 10);
	free(rep);
	return n;
}

static uint32_t emu_max_seen(const char *socket)
{
	struct emu_info info;

	TU_CHECK_EQ(sevd_emu_info(socket, &info), 0);
	return info.max_concurrent_seen;
}

static void test_pool_flush_through_firmware(void)
{
	char *dir = tu_mkdtemp(), spec[512], status[512];
	const char *args[] = { "--cpuid-ecx", "15", "--cpuid-edx", "5", NULL };
	struct tu_emu emu;
	struct sevd_core *core;
	struct sevd_asid_pool *pool;
	struct sevd_core_config cfg = { .auto_init = true, .init_es = true, .queue_max = 8 };
	uint32_t a[11], asid;
	uint64_t flushes0;

	TU_CHECK(tu_emu_start(dir, args, &emu) == 0, "emulator");
	snprintf(spec, sizeof(spec), "emu:%s", emu.socket);
	cfg.psp_spec = spec;
	cfg.emu_socket = emu.socket;
	TU_CHECK_EQ(sevd_core_new(&cfg, &core), 0);
	pool = sevd_core_asids(core);
	flushes0 = df_flush_count(core);
	TU_CHECK_EQ(flushes0, 1); /* INIT's WBINVD + DF_FLUSH */
	/* SEV range 5..15: take all 11, give two back (DEACTIVATE), ask again. */
	for (int i = 0; i < 11; i++)
		TU_CHECK_EQ(sevd_asid_alloc(pool, false, "guest", &a[i]), 0);
	TU_CHECK_EQ(sevd_asid_release(pool, a[3]), 0);
	TU_CHECK_EQ(sevd_asid_release(pool, a[7]), 0);
	TU_CHECK_EQ(df_flush_count(core), flushes0); /* lazily: nothing flushed yet */
	TU_CHECK_EQ(sevd_asid_alloc(pool, false, "guest2", &asid), 0);
	TU_CHECK_EQ(asid, a[3]);
	TU_CHECK_EQ(df_flush_count(core), flushes0 + 1); /* one batch for both */
	TU_CHECK_EQ(sevd_asid_alloc(pool, false, "guest3", &asid), 0);
	TU_CHECK_EQ(asid, a[7]);
	TU_CHECK_EQ(df_flush_count(core), flushes0 + 1);
	/* The emulator saw WBINVD and then DF_FLUSH (which consumes the WBINVD). */
	TU_CHECK_EQ(sevd_emu_ctl(emu.socket, "status", status, sizeof(status)), 0);
	TU_CHECK(strstr(status, "state=INIT"), "emulator status: %s", status);
	TU_CHECK_EQ(sevd_asid_alloc(pool, false, "none-left", &asid), -ENOSPC);
	TU_CHECK_EQ(sevd_asid_alloc(pool, true, "es", &asid), 0); /* ES 1..4 untouched */
	TU_CHECK(asid >= 1 && asid <= 4, "es asid %u", asid);
	TU_CHECK_EQ(emu_max_seen(emu.socket), 1);
	sevd_core_free(core);
	tu_emu_stop(&emu);
	tu_rmtree(dir);
	free(dir);
}

/* An NV store the emulator finds corrupt (started with --erase-corrupt-nv): INIT answers
 * SECURE_DATA_INVALID and erases it; sevd retries INIT once, as Linux's
 * __sev_platform_init_locked does, and comes up INITed on new owner keys. */
static void test_init_retry_secure_data_invalid(void)
{
	char *dir = tu_mkdtemp(), spec[512], status[512], *kept, *nvpath;
	const char *args[] = { "--erase-corrupt-nv", NULL };
	struct sevd_core_config cfg = { .auto_init = true, .queue_max = 8 };
	struct tu_emu emu;
	struct sevd_core *core;
	uint8_t *nv;
	size_t len;

	TU_CHECK(tu_emu_start(dir, NULL, &emu) == 0, "emulator");
	tu_emu_stop(&emu);
	nvpath = path_join(dir, "nv.bin");
	nv = tu_read_file(nvpath, &len);
	nv[len - 1] ^= 1;
	TU_CHECK_EQ(write_file_atomic(nvpath, nv, len, 0600), 0);
	free(nv);
	free(nvpath);
	TU_CHECK(tu_emu_start(dir, args, &emu) == 0, "emulator on the corrupt file");
	snprintf(spec, sizeof(spec), "emu:%s", emu.socket);
	cfg.psp_spec = spec;
	cfg.emu_socket = emu.socket;
	TU_CHECK_EQ(sevd_core_new(&cfg, &core), 0);
	TU_CHECK_EQ(sevd_emu_ctl(emu.socket, "status", status, sizeof(status)), 0);
	TU_CHECK(strstr(status, "state=INIT"), "emulator status: %s", status);
	kept = path_join(dir, "nv.bin.corrupt");
	TU_CHECK(access(kept, F_OK) == 0, "the emulator kept the corrupt file");
	free(kept);
	sevd_core_free(core);
	tu_emu_stop(&emu);
	tu_rmtree(dir);
	free(dir);
}

/* ---- config and tokens ---- */

static const char good_conf[] =
	"# comment\n"
	"\n"
	"  psp = emu:/run/x.sock  \n"
	"state_dir=/var/lib/sevd\n"
	"listen = unix:/run/sevd/api.sock\n"
	"listen = tcp:127.0.0.1:8080\n"
	"admin_group = sevd-admin\n"
	"; another comment\n"
	"auto_init = no\n"
	"queue_max = 0x10\n"
	"asid_flush_threshold = 3\n"
	"migration_roots = /etc/sevd/migration-roots\n"
	"migration_emulated_root = /etc/sevd/lab-ask-ark.cert\n"
	/* sha256("secret-admin") */
	"token = admin:sha256:%s\n"
	"token = reader:sha256:%s\n";

static void test_config(void)
{
	struct sevd_config c;
	uint8_t h1[32], h2[32];
	char text[2048], *x1, *x2;

	TU_CHECK_EQ(sevd_auth_hash("secret-admin", h1), 0);
	TU_CHECK_EQ(sevd_auth_hash("secret-reader", h2), 0);
	x1 = hex_encode(h1, 32);
	x2 = hex_encode(h2, 32);
	snprintf(text, sizeof(text), good_conf, x1, x2);
	sevd_config_init(&c);
	TU_CHECK_EQ(sevd_config_parse(&c, text, "test"), 0);
	TU_CHECK(!strcmp(c.psp, "emu:/run/x.sock"), "psp '%s'", c.psp);
	TU_CHECK(!strcmp(c.state_dir, "/var/lib/sevd"), "state_dir");
	TU_CHECK_EQ(c.n_listen, 2);
	TU_CHECK(!strcmp(c.admin_group, "sevd-admin"), "admin_group");
	TU_CHECK(!c.auto_init, "auto_init");
	TU_CHECK_EQ(c.queue_max, 16);
	TU_CHECK_EQ(c.flush_threshold, 3);
	TU_CHECK(!strcmp(c.migration_roots, "/etc/sevd/migration-roots"), "migration_roots");
	TU_CHECK(!strcmp(c.migration_emulated_root, "/etc/sevd/lab-ask-ark.cert"),
		 "migration_emulated_root");
	TU_CHECK_EQ(c.n_tokens, 2);
	TU_CHECK_EQ(c.destructive_rate, 6); /* the default: 6/min */
	TU_CHECK_EQ(c.destructive_period_s, 60);
	TU_CHECK_EQ(sevd_config_parse(&c, "destructive_rate = 2/h\n", "test"), 0);
	TU_CHECK(c.destructive_rate == 2 && c.destructive_period_s == 3600, "2/h");
	/* The parsed lines: role and hash; the core compares tokens (test-core-distrust). */
	TU_CHECK_EQ(c.tokens[0].role, SEVD_ROLE_ADMIN);
	TU_CHECK_MEM(c.tokens[0].hash, h1, 32);
	TU_CHECK_EQ(c.tokens[1].role, SEVD_ROLE_READER);
	TU_CHECK_MEM(c.tokens[1].hash, h2, 32);
	sevd_config_done(&c);
	free(x1);
	free(x2);
}

static void test_config_errors(void)
{
	static const char *const bad[] = {
		"no equals sign\n",
		"unknown_key = 1\n",
		"auto_init = maybe\n",
		"destructive_rate = 5/day\n",
		"destructive_rate = 0/min\n",
		"destructive_rate = 1001/min\n",
		"destructive_rate = six\n",
		"queue_max = 0\n",
		"queue_max = -1\n",
		"listen = http://x\n",
		"psp = qemu\n",
		"migration_roots = roots\n",
		"migration_emulated_root = ask-ark.cert\n",
		"migration_emulated_root = /etc/sevd/\n",
		"token = admin:abc\n",
		"token = admin:sha256:zz\n",
		"token = public:sha256:00000000000000000000000000000000000000000000000000000000000000\n",
		"token = root:sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
		"token = admin:sha256:00000000000000000000000000000000000000000000000000000000000000\n",
		"token = launcher:sha256:0000000000000000000000000000000000000000000000000000000000000000:tenant=\n",
		"token = launcher:sha256:0000000000000000000000000000000000000000000000000000000000000000:tenant=.x\n",
		"token = launcher:sha256:000000000000000000000000000000000000000000000000000000000000000:tenant=acme\n",
		"token = launcher:md5:0000000000000000000000000000000000000000000000000000000000000000:tenant=acme\n",
	};

	/* `:tenant=NAME` names the token principal's tenant (the core enforces it). */
	{
		struct sevd_config c;

		sevd_config_init(&c);
		TU_CHECK_EQ(sevd_config_parse(&c,
					      "token = launcher:sha256:00000000000000000000000000"
					      "00000000000000000000000000000000000001:tenant=acme\n",
					      "test"),
			    0);
		TU_CHECK(c.n_tokens == 1 && !strcmp(c.tokens[0].tenant, "acme") &&
				 c.tokens[0].hash[31] == 1,
			 "tenant token parsed");
		sevd_config_done(&c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sevd_config c;

		sevd_config_init(&c);
		TU_CHECK(sevd_config_parse(&c, bad[i], "test") == -EINVAL, "accepted: %s", bad[i]);
		sevd_config_done(&c);
	}
}

int main(void)
{
	if (!getenv("SEV_PSP_EMU_EXE"))
		tu_skip("SEV_PSP_EMU_EXE not set (run through meson test)");
	test_config();
	test_config_errors();
	test_pool_flush_through_firmware();
	test_init_retry_secure_data_invalid();
	tu_done("daemon core");
}
