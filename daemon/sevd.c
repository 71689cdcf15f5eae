/* sevd: the host-side control plane for AMD SEV. This file is only the process: arguments,
 * config, the embedded emulator, listening sockets (own or from systemd), sd_notify, signals.
 * Privilege separation (worker.h): the process systemd starts is the core (core.h:
 * PSP, ASID pool, journal, queue, grant socket), which never parses HTTP or JSON; the HTTP
 * front (http.h) runs in an unprivileged worker, this same binary started with --worker,
 * which reaches the core over fixed, length-checked messages (ipc.h). */
#include <errno.h>
#include <grp.h>
#include <getopt.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "attest/roots.h"
#include "common/log-journal.h"
#include "common/macros.h"
#include "common/secret.h"
#include "common/secure-heap.h"
#include "common/util.h"
#include "config.h"
#include "daemon/sevd-config.h"
#include "daemon/core/conns.h"
#include "daemon/core/core.h"
#include "daemon/core/emu-child.h"
#include "daemon/worker/http.h"
#include "daemon/core/inventory.h"
#include "daemon/ipc/ipc.h"
#include "daemon/worker.h"

/* config.h gives sysconfdir as meson has it, which may be relative to the prefix ("etc"):
 * a daemon must never read a config relative to its working directory. */
#define SEVD_DEFAULT_CONF (SEVD_CONF_FILE[0] == '/' ? SEVD_CONF_FILE : "/" SEVD_CONF_FILE)

static const char *arg_config;
static bool arg_config_given;

static void help(void)
{
	printf("Usage: sevd [--psp emu[:SOCKET]|dev[:PATH]] [--state-dir DIR]\n"
	       "            [--listen unix:PATH|tls:ADDR:PORT|tcp:ADDR:PORT ...] [--config FILE]\n"
	       "            [--worker-user NAME] [--inventory-file PATH]\n"
	       "The host-side control plane for AMD SEV: owns the PSP, the ASID pool and the\n"
	       "REST API (daemon/openapi.yaml).\n\n"
	       "  --psp SPEC        emu (start an own sev-psp-emu under the state dir),\n"
	       "                    emu:SOCKET (a running emulator), dev[:PATH] (/dev/sev)\n"
	       "  --state-dir DIR   state directory (default %s)\n"
	       "  --listen ADDR     unix:PATH, tls:ADDR:PORT (tls_cert, tls_key in the config) or\n"
	       "                    tcp:ADDR:PORT; repeatable; without it, sockets passed by\n"
	       "                    systemd (socket activation)\n"
	       "  --allow-plain-tcp allow tcp: (no TLS), on loopback addresses only\n"
	       "  --allow-unseparated-worker  run the HTTP worker under the core's own uid when\n"
	       "                    it cannot have its own (allow_unseparated_worker)\n"
	       "  --config FILE     settings file (default %s; flags win)\n"
	       "  --control unix:PATH  grant-stream socket for VMMs (default STATE_DIR/control.sock)\n"
	       "  --inventory-file PATH  keep PATH up to date as a node-feature-discovery feature\n"
	       "                    file of free ASIDs and capabilities (amd.com/sev.free=N)\n"
	       "  --journal-recover start even when the guest journal is corrupt in the middle:\n"
	       "                    skip the bad records (reported) and reconcile from firmware\n"
	       "  --worker-user NAME  user of the unprivileged HTTP worker (default: sevd-worker\n"
	       "                    or sevd, the first that exists and is not sevd's own user,\n"
	       "                    else nobody)\n"
	       "  -h, --help        this help\n"
	       "  --version         the version\n",
	       SEVD_STATE_DIR, SEVD_DEFAULT_CONF);
}

/* Flags are applied after the config file; collect them first. */
struct flags {
	const char *psp, *state_dir;
	const char *listen[SEVD_LISTEN_MAX];
	unsigned n_listen;
	const char *control;
	bool journal_recover, allow_plain_tcp, allow_unseparated;
	const char *worker_user;
	const char *inventory_file;
	bool worker; /* --worker L,C,R: this process is the HTTP worker (worker.h) */
	struct sevd_worker_args wargs;
};

static int parse_argv(int argc, char *argv[], struct flags *f)
{
	enum { ARG_PSP = 0x100, ARG_STATE, ARG_LISTEN, ARG_CONFIG, ARG_VERSION, ARG_CONTROL,
	       ARG_RECOVER, ARG_PLAIN_TCP, ARG_UNSEPARATED, ARG_WORKER, ARG_WORKER_USER, ARG_INVENTORY };
	static const struct option opts[] = {
		{ "psp", required_argument, NULL, ARG_PSP },
		{ "state-dir", required_argument, NULL, ARG_STATE },
		{ "listen", required_argument, NULL, ARG_LISTEN },
		{ "config", required_argument, NULL, ARG_CONFIG },
		{ "control", required_argument, NULL, ARG_CONTROL },
		{ "journal-recover", no_argument, NULL, ARG_RECOVER },
		{ "allow-plain-tcp", no_argument, NULL, ARG_PLAIN_TCP },
		{ "allow-unseparated-worker", no_argument, NULL, ARG_UNSEPARATED },
		{ "worker-user", required_argument, NULL, ARG_WORKER_USER },
		{ "inventory-file", required_argument, NULL, ARG_INVENTORY },
		{ "worker", required_argument, NULL, ARG_WORKER }, /* internal: worker.h */
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case ARG_PSP:
			f->psp = optarg;
			break;
		case ARG_STATE:
			f->state_dir = optarg;
			break;
		case ARG_LISTEN:
			if (f->n_listen >= SEVD_LISTEN_MAX)
				return log_error_errno(EINVAL, "At most %d --listen", SEVD_LISTEN_MAX);
			f->listen[f->n_listen++] = optarg;
			break;
		case ARG_CONTROL:
			f->control = optarg;
			break;
		case ARG_RECOVER:
			f->journal_recover = true;
			break;
		case ARG_PLAIN_TCP:
			f->allow_plain_tcp = true;
			break;
		case ARG_UNSEPARATED:
			f->allow_unseparated = true;
			break;
		case ARG_WORKER_USER:
			f->worker_user = optarg;
			break;
		case ARG_INVENTORY:
			f->inventory_file = optarg;
			break;
		case ARG_WORKER:
			if (sscanf(optarg, "%u,%u,%u,%u", &f->wargs.n_listen, &f->wargs.n_channels,
				   &f->wargs.n_region, &f->wargs.n_handoff) != 4 ||
			    f->wargs.n_listen > 64 || f->wargs.n_channels == 0 ||
			    f->wargs.n_channels > 64 || f->wargs.n_region > 1 ||
			    f->wargs.n_handoff > 1)
				return log_error_errno(EINVAL, "--worker is sevd's own (L,C,R,H)");
			f->worker = true;
			break;
		case ARG_CONFIG:
			arg_config = optarg;
			arg_config_given = true;
			break;
		case 'h':
			help();
			return 0;
		case ARG_VERSION:
			printf("sevd %s\n", SEVD_VERSION);
			return 0;
		default:
			return log_error_errno(EINVAL, "Invalid command line; see sevd --help");
		}
	}
	if (optind < argc)
		return log_error_errno(EINVAL, "Unexpected argument '%s'; see sevd --help",
				       argv[optind]);
	return 1;
}

/* Defaults, then the config file, then the flags. */
static int load_settings(const struct flags *f, struct sevd_config *cfg)
{
	const char *reason;
	int r;

	sevd_config_init(cfg);
	r = sevd_config_load(cfg, arg_config);
	if (r == -ENOENT && !arg_config_given)
		r = 0; /* no /etc/sevd/sevd.conf: defaults */
	if (r < 0)
		return log_error_errno(r, "Cannot use the config file %s: %m", arg_config);
	if ((f->psp && sevd_config_set(cfg, "psp", f->psp, &reason) < 0) ||
	    (f->state_dir && sevd_config_set(cfg, "state_dir", f->state_dir, &reason) < 0))
		return log_error_errno(EINVAL, "Invalid --psp or --state-dir: %s", reason);
	if (f->control && sevd_config_set(cfg, "control", f->control, &reason) < 0)
		return log_error_errno(EINVAL, "Invalid --control: %s", reason);
	if (f->worker_user && sevd_config_set(cfg, "worker_user", f->worker_user, &reason) < 0)
		return log_error_errno(EINVAL, "Invalid --worker-user: %s", reason);
	if (f->inventory_file &&
	    sevd_config_set(cfg, "inventory_file", f->inventory_file, &reason) < 0)
		return log_error_errno(EINVAL, "Invalid --inventory-file %s: %s", f->inventory_file,
				       reason);
	cfg->journal_recover |= f->journal_recover;
	cfg->allow_plain_tcp |= f->allow_plain_tcp;
	cfg->allow_unseparated_worker |= f->allow_unseparated;
	if (f->n_listen) {
		for (unsigned i = 0; i < cfg->n_listen; i++)
			free(cfg->listen[i]);
		cfg->n_listen = 0;
		for (unsigned i = 0; i < f->n_listen; i++)
			if (sevd_config_set(cfg, "listen", f->listen[i], &reason) < 0)
				return log_error_errno(EINVAL, "--listen %s: %s", f->listen[i], reason);
	}
	if (!cfg->state_dir && !(cfg->state_dir = strdup(SEVD_STATE_DIR)))
		return -ENOMEM;
	if (!cfg->control && !(cfg->control = path_join(cfg->state_dir, "control.sock")))
		return -ENOMEM;
	if (!cfg->psp && !(cfg->psp = strdup(access("/dev/sev", F_OK) == 0 ? "dev" : "emu")))
		return -ENOMEM;
	return 0;
}

/* The PSP spec for the core; with bare "emu", start our own emulator under the state dir. */
static int setup_psp(const struct sevd_config *cfg, char **ret_spec, char **ret_emu_socket,
		     pid_t *ret_emu_pid)
{
	_cleanup_free_ char *sock = NULL, *nv = NULL, *exe = NULL;
	int r;

	*ret_emu_pid = 0;
	*ret_emu_socket = NULL;
	if (strcmp(cfg->psp, "emu") != 0) {
		if (strncmp(cfg->psp, "emu:", 4) == 0 && !(*ret_emu_socket = strdup(cfg->psp + 4)))
			return -ENOMEM;
		*ret_spec = strdup(cfg->psp);
		return *ret_spec ? 0 : -ENOMEM;
	}
	sock = path_join(cfg->state_dir, "emu.sock");
	nv = path_join(cfg->state_dir, "nv.bin");
	exe = sevd_emu_find_exe(cfg->emu_exe);
	if (!sock || !nv || !exe)
		return -ENOMEM;
	r = sevd_emu_start(exe, sock, nv, cfg->emu_cpuid_ecx, cfg->emu_cpuid_edx, cfg->emu_snp,
			   ret_emu_pid);
	if (r < 0)
		return r;
	if (asprintf(ret_spec, "emu:%s", sock) < 0)
		return -ENOMEM;
	*ret_emu_socket = TAKE_PTR(sock);
	return 0;
}

/* The embedded emulator, for the core's recovery: restarted on the same socket and
 * NV file when it has died. Runs on the firmware thread only. */
struct emu_child {
	const struct sevd_config *cfg;
	pid_t pid;
};

static int restart_emu(void *userdata)
{
	struct emu_child *e = userdata;
	_cleanup_free_ char *sock = NULL, *nv = NULL, *exe = NULL;
	int st;

	if (e->pid > 0 && waitpid(e->pid, &st, WNOHANG) != e->pid)
		return 0; /* still alive: a reconnection is enough */
	log_warning("The embedded emulator (pid %d) is gone; restarting it on the same NV file",
		    (int)e->pid);
	e->pid = 0;
	sock = path_join(e->cfg->state_dir, "emu.sock");
	nv = path_join(e->cfg->state_dir, "nv.bin");
	exe = sevd_emu_find_exe(e->cfg->emu_exe);
	if (!sock || !nv || !exe)
		return -ENOMEM;
	return sevd_emu_start(exe, sock, nv, e->cfg->emu_cpuid_ecx, e->cfg->emu_cpuid_edx,
			      e->cfg->emu_snp, &e->pid);
}

/* --listen addresses, or the sockets systemd passed (sd_listen_fds). The Unix ones the core
 * serves itself (core/conns.h: it accepts, reads the peer's credentials and hands each
 * connection to the worker with an id) and go to ufds; the TCP and TLS ones the core only
 * holds (clients wait in the backlog while a worker restarts) and the worker serves (fds). */
static int setup_listeners(const struct sevd_config *cfg, int fds[SEVD_LISTEN_MAX],
			   unsigned *ret_n, int ufds[SEVD_LISTEN_MAX], unsigned *ret_nu)
{
	int n;

	*ret_n = *ret_nu = 0;
	for (unsigned i = 0; i < cfg->n_listen; i++) {
		bool is_unix, is_tls;
		int fd = sevd_listen_socket(cfg, cfg->listen[i], &is_unix, &is_tls);

		if (fd < 0)
			return fd;
		if (is_unix)
			ufds[(*ret_nu)++] = fd;
		else
			fds[(*ret_n)++] = fd;
		log_info("Listening on %s", cfg->listen[i]);
	}
	if (cfg->n_listen)
		return 0;
	n = sd_listen_fds(true);
	if (n < 0)
		return log_error_errno(n, "sd_listen_fds: %m");
	if (n == 0)
		return log_error_errno(EINVAL, "Nothing to listen on: give --listen unix:PATH (or "
					       "start sevd through sevd.socket)");
	if (n > SEVD_LISTEN_MAX)
		return log_error_errno(E2BIG, "systemd passed %d sockets; sevd takes at most %d", n,
				       SEVD_LISTEN_MAX);
	for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++)
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0)
			ufds[(*ret_nu)++] = fd;
		else
			fds[(*ret_n)++] = fd;
	return 0;
}

static uint64_t watchdog_usec;

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* WATCHDOG=1 at half the interval systemd asked for; from the core's main thread only. */
static void watchdog_ping(void)
{
	static uint64_t last;
	uint64_t now = now_usec();

	if (watchdog_usec && now - last >= watchdog_usec / 2) {
		sd_notify(0, "WATCHDOG=1");
		last = now;
	}
}

/* The watchdog kept being fed while sixteen uploads froze the API. From the main
 * loop it is fed only while the API answers: the worker's heartbeat (worker.c: a HEALTH
 * round trip through its channel pool every WATCHDOG_USEC/4, from SEVD_WORKER_HEARTBEAT_MS)
 * or a GET /healthz reached the core within the last WATCHDOG_USEC/2. A worker that is
 * stopped, hung, or whose pool gives no channel to reads stops the pings, and systemd
 * restarts sevd after WatchdogSec. (While a worker is being restarted, the supervisor's
 * wait feeds it: that wait is bounded.) */
static void watchdog_ping_if_answering(struct sevd_ipc_server *ipc)
{
	uint64_t last = sevd_ipc_server_health_ms(ipc), now = now_usec() / 1000u;

	if (watchdog_usec && last && now - last < watchdog_usec / 2000u)
		watchdog_ping();
}

/* The worker's heartbeat interval, in its environment (worker.c); none without a watchdog. */
static void heartbeat_env(void)
{
	char ms[24];

	if (!watchdog_usec)
		return;
	snprintf(ms, sizeof(ms), "%" PRIu64, watchdog_usec / 4000u ? watchdog_usec / 4000u : 1);
	setenv("SEVD_WORKER_HEARTBEAT_MS", ms, 1);
}

/* The uploads sevd takes at once hold core channels to their end; together with
 * the channels kept for reads and health they must leave one for other calls. */
static int check_channel_limits(const struct sevd_config *cfg)
{
	if (cfg->upload_limit + cfg->reserved_channels >= SEVD_WORKER_CHANNELS)
		return log_error_errno(EINVAL, "upload_limit = %u plus reserved_channels = %u leave "
					       "none of the %u core channels for launches and other "
					       "calls; lower one of them in sevd.conf (their sum must "
					       "stay below %u)",
				       cfg->upload_limit, cfg->reserved_channels,
				       SEVD_WORKER_CHANNELS, SEVD_WORKER_CHANNELS);
	if (cfg->upload_limit_per_principal > cfg->upload_limit)
		return log_error_errno(EINVAL, "upload_limit_per_principal = %u is above "
					       "upload_limit = %u; lower it in sevd.conf",
				       cfg->upload_limit_per_principal, cfg->upload_limit);
	return 0;
}

/* Until SIGTERM/SIGINT: pings the watchdog when systemd asks for it and the API answers
 * (above), and restarts the worker when it ends (sevd_worker_ctl_check, every 250 ms).
 * Returns < 0 when the worker cannot be kept alive. The watchdog is fed only while a worker
 * answers or is being restarted: a core that gave up stops feeding it and exits. */
static int main_loop(struct sevd_worker_ctl *worker, struct sevd_ipc_server *ipc)
{
	struct timespec ts = { .tv_nsec = 250 * 1000000L };
	sigset_t set;
	int sig, r;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	for (;;) {
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("Received %s, stopping", strsignal(sig));
			return 0;
		}
		r = sevd_worker_ctl_check(worker);
		if (r < 0)
			return r;
		watchdog_ping_if_answering(ipc);
	}
}

/* The migration roots are read again for each SEND_START (daemon/core/guest.c), so
 * an operator may add a root without a restart; a configured path that cannot be read at
 * start is a mistake worth refusing now rather than at the first migration. */
static int check_migration_roots(const struct sevd_config *cfg)
{
	_cleanup_(attest_roots_freep) struct attest_roots *roots = NULL;
	struct attest_verdict v = {0};
	int r = attest_roots_new(&roots);

	if (r < 0)
		return r;
	if (cfg->migration_roots) {
		r = attest_roots_load_dir(roots, cfg->migration_roots, &v);
		if (r < 0)
			return log_error_errno(
			    r,
			    "migration_roots %s is not usable: %s. Name a "
			    "directory of AMD root certificates (attest/roots.h)",
			    cfg->migration_roots, attest_verdict_why(&v, strerror(-r)));
	}
	if (cfg->migration_emulated_root) {
		r = attest_roots_add_sev_file(roots, "emulated", cfg->migration_emulated_root, true,
					      &v);
		if (r < 0)
			return log_error_errno(r,
					       "migration_emulated_root %s is not usable: %s. Name "
					       "a file of the target's ASK and ARK in AMD's "
					       "format (GET /v1/platform/certs on the target)",
					       cfg->migration_emulated_root,
					       attest_verdict_why(&v, strerror(-r)));
		log_warning("Migration targets chaining to the emulated root %s are trusted "
			    "(migration_emulated_root)", cfg->migration_emulated_root);
	}
	return 0;
}

/* The core maps Unix peers itself (core/authz.c): admin_group's gid, as the worker's rule. */
static void core_admin_group(const struct sevd_config *cfg, struct sevd_core_config *cc)
{
	struct group *g = cfg->admin_group ? getgrnam(cfg->admin_group) : NULL;

	if (g) {
		cc->admin_gid = (uint32_t)g->gr_gid;
		cc->have_admin_gid = true;
	}
}

static int run(struct sevd_config *cfg, char *const *argv, const struct flags *f)
{
	struct sevd_ipc_server *ipc = NULL;
	struct sevd_worker_ctl *worker = NULL;
	int lfds[SEVD_LISTEN_MAX], ufds[SEVD_LISTEN_MAX];
	unsigned n_lfds = 0, n_ufds = 0;
	struct sevd_conns *conns = NULL;
	_cleanup_free_ char *spec = NULL, *emu_socket = NULL;
	struct sevd_core *core = NULL;
	struct sevd_inventory_file *inventory = NULL;
	struct sevd_core_config cc;
	struct emu_child emu = { .cfg = cfg };
	char tmo[16];
	int r;

	/* The emu transport reads its command timeout from the environment (psp-emu.c). */
	if (cfg->command_timeout_ms) {
		snprintf(tmo, sizeof(tmo), "%u", cfg->command_timeout_ms);
		setenv("SEV_PSP_EMU_TIMEOUT_MS", tmo, 1);
	}
	if (mkdir(cfg->state_dir, 0700) < 0 && errno != EEXIST)
		return log_error_errno(errno, "Cannot create the state directory %s: %m",
				       cfg->state_dir);
	r = check_migration_roots(cfg);
	if (r >= 0)
		r = check_channel_limits(cfg);
	if (r < 0)
		return r;
	heartbeat_env();
	sd_notify(0, "STATUS=Starting the PSP transport");
	r = setup_psp(cfg, &spec, &emu_socket, &emu.pid);
	if (r < 0)
		goto out;
	cc = (struct sevd_core_config){ .psp_spec = spec, .emu_socket = emu_socket,
					.roots_dir = cfg->roots_dir, .auto_init = cfg->auto_init,
					.snp_certs_no_fetch = cfg->kds_url &&
							      !strcmp(cfg->kds_url, "off"),
					.kds_url = cfg->kds_url && strcmp(cfg->kds_url, "off")
							   ? cfg->kds_url : NULL,
					.init_es = cfg->init_es, .snp = cfg->snp,
					.queue_max = cfg->queue_max,
					.queue_wait_ms = cfg->queue_wait_ms,
					.flush_threshold = cfg->flush_threshold,
					.state_dir = cfg->state_dir, .policy = &cfg->policy,
					.journal_recover = cfg->journal_recover,
					.journal_compact = cfg->journal_compact,
					.control = cfg->control,
					.migration_roots = cfg->migration_roots,
					.migration_emulated_root = cfg->migration_emulated_root,
					.restart_psp = emu.pid > 0 ? restart_emu : NULL,
					.restart_userdata = &emu,
					.tokens = cfg->tokens, .n_tokens = cfg->n_tokens,
					.cert_roles = cfg->cert_roles,
					.n_cert_roles = cfg->n_cert_roles,
					.metrics_public = cfg->metrics_public,
					.destructive_rate = cfg->destructive_rate,
					.destructive_period_s = cfg->destructive_period_s,
					.tls_client_ca = cfg->tls_client_ca };
	core_admin_group(cfg, &cc);
	r = sevd_core_new(&cc, &core);
	if (r >= 0 && cfg->inventory_file)
		r = sevd_inventory_file_new(core, cfg->inventory_file, &inventory);
	if (r < 0)
		goto out;
	r = setup_listeners(cfg, lfds, &n_lfds, ufds, &n_ufds);
	if (r >= 0 && n_ufds)
		r = sevd_conns_new(ufds, n_ufds, &conns);
	else if (r < 0)
		for (unsigned i = 0; i < n_ufds; i++)
			close(ufds[i]);
	if (r >= 0)
		r = sevd_ipc_server_new(core, &ipc);
	if (r >= 0)
		r = sevd_worker_ctl_new(&(struct sevd_worker_ctl_config){
						.server = ipc, .argv = argv, .listen_fds = lfds,
						.n_listen = n_lfds, .conns = conns,
						.region_fd = sevd_core_region_fd(core),
						.worker_user = f->worker_user,
						.ping = watchdog_ping },
					&worker);
	if (r < 0)
		goto out;
	sd_notify(0, "STATUS=Starting the HTTP worker");
	r = sevd_worker_ctl_start(worker);
	if (r < 0)
		goto out;
	/* READY=1 only now: the worker serves. */
	sd_notifyf(0, "READY=1\nSTATUS=Serving the SEV API on %s", spec);
	log_info("sevd %s ready (PSP %s, HTTP worker pid %d)", SEVD_VERSION, spec,
		 (int)sevd_worker_ctl_pid(worker));
	r = main_loop(worker, ipc);
	sd_notify(0, "STOPPING=1\nSTATUS=Stopping");
out:
	/* The worker first (it may be waiting on a core call), then its channel threads, then
	 * the core they call. */
	sevd_worker_ctl_free(worker);
	sevd_conns_free(conns);
	sevd_ipc_server_free(ipc);
	for (unsigned i = 0; i < n_lfds; i++)
		close(lfds[i]);
	sevd_inventory_file_free(inventory);
	sevd_core_free(core);
	sevd_emu_stop(emu.pid);
	return r;
}

int main(int argc, char *argv[])
{
	struct flags f = { 0 };
	struct sevd_config cfg;
	_cleanup_free_ char **saved_argv = NULL;
	sigset_t set;
	uint64_t wd;
	int r;

	log_setup_journal("sevd", LOG_INFO);
	/* Memory holds TEKs/TIKs, keys and tokens: no core dump, and no same-uid
	 * ptrace or /proc/PID/{mem,environ} reads by processes lacking CAP_SYS_PTRACE. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 });
	(void)secure_heap_init(SECURE_HEAP_DAEMON); /* private keys in locked memory */
	arg_config = SEVD_DEFAULT_CONF;
	/* The worker gets sevd's own arguments; getopt may reorder argv. */
	saved_argv = calloc((size_t)argc + 1, sizeof(char *));
	if (!saved_argv)
		return EXIT_FAILURE;
	memcpy(saved_argv, argv, (size_t)argc * sizeof(char *));
	r = parse_argv(argc, argv, &f);
	if (r <= 0)
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	/* Block the stop signals in every thread (they inherit the mask): main_loop waits. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = load_settings(&f, &cfg);
	if (r >= 0 && f.worker) {
		/* The token hashes are the core's alone (core/authz.c, op WHOAMI): the worker's
		 * parse of the file keeps none of them. */
		secret_wipe(cfg.tokens, sizeof(cfg.tokens));
		cfg.n_tokens = 0;
		f.wargs.user = f.worker_user;
		r = sevd_worker_main(&cfg, &f.wargs);
		sevd_config_done(&cfg);
		return r;
	}
	if (sd_watchdog_enabled(false, &wd) > 0)
		watchdog_usec = wd;
	if (r >= 0)
		r = run(&cfg, saved_argv, &f);
	sevd_config_done(&cfg);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
