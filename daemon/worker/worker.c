/* sevd's unprivileged HTTP worker (worker.h): takes the inherited sockets, loads what needs
 * privilege (config, TLS key and certificate, the admin group), drops to the worker user with
 * no capabilities, no_new_privs, non-dumpable and a seccomp filter, then serves the API,
 * reaching the core only over its channels (ipc.h). Trusts no client and not itself: all
 * that runs after the drop may be compromised, and the core checks everything it sends. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <linux/capability.h>
#include <stdatomic.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "common/log-journal.h"
#include "common/macros.h"
#include "daemon/worker/api.h"
#include "daemon/ipc/cache-region.h"
#include "daemon/worker/http.h"
#include "daemon/worker/kds-fetch.h"
#include "daemon/ipc/ipc.h"
#include "daemon/worker/seccomp.h"
#include "daemon/worker/upload-limit.h"
#include "daemon/sevd-config.h"
#include "daemon/worker.h"

#if defined(__SANITIZE_ADDRESS__)
#define WORKER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WORKER_ASAN 1
#endif
#endif

static int lookup_user(const char *name, uid_t *ret_uid, gid_t *ret_gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);

	if (r != 0)
		return -r;
	if (!res)
		return -ESRCH;
	*ret_uid = res->pw_uid;
	*ret_gid = res->pw_gid;
	return 0;
}

int sevd_worker_user(const char *name, uid_t *ret_uid, gid_t *ret_gid, const char **ret_name)
{
	int r;

	if (name) {
		r = lookup_user(name, ret_uid, ret_gid);
		if (r < 0)
			return log_error_errno(r,
					       "The worker user '%s' does not exist: create it "
					       "(sysusers.d/sevd.conf) or set worker_user / "
					       "--worker-user",
					       name);
		*ret_name = name;
		return 0;
	}
	/* "sevd-worker" is the worker's own user (sysusers.d/sevd.conf). Under sevd.service the
	 * core itself runs as "sevd": a worker with the same uid could open the state dir, so
	 * "sevd" is a default only for a core that runs as another uid (root). */
	static const char *const names[] = {"sevd-worker", "sevd"};

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (lookup_user(names[i], ret_uid, ret_gid) == 0 && *ret_uid != getuid()) {
			*ret_name = names[i];
			return 0;
		}
	*ret_name = "nobody";
	r = lookup_user("nobody", ret_uid, ret_gid);
	return r < 0 ? log_error_errno(r, "No worker user: neither 'sevd' nor 'nobody' exists; "
					  "set worker_user in sevd.conf")
		     : 0;
}

/* Every capability out of the bounding set (needs CAP_SETPCAP, so before the uid change),
 * the ambient set cleared. */
static void drop_bounding_set(bool *ret_dropped)
{
	*ret_dropped = true;
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (unsigned long cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break; /* past the kernel's last capability */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			*ret_dropped = false;
	}
}

static int set_ids(uid_t uid, gid_t gid, const char *name)
{
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return negative_errno();
	if (getuid() != uid || geteuid() != uid || getgid() != gid)
		return -EPERM;
	return 0;
}

/* No capability left in any set (a non-root core with ambient CAP_SETUID keeps them over a
 * uid change that does not start from 0, so this is explicit). */
static int clear_caps(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {0};

	if (syscall(SYS_capset, &h, d) < 0 || syscall(SYS_capget, &h, d) < 0)
		return negative_errno();
	if (d[0].effective | d[1].effective | d[0].permitted | d[1].permitted | d[0].inheritable |
	    d[1].inheritable)
		return -EPERM;
	return 0;
}

/* A worker left with the core's uid could open the core's state dir, journal and sockets:
 * the split would separate nothing but the capabilities. Refused unless the
 * admin allowed it (allow_unseparated_worker = yes); then logged as a warning. */
static int unseparated(bool allowed, const char *why)
{
	if (!allowed)
		return log_error_errno(EPERM,
				       "%s: the HTTP worker would keep the core's uid and could open "
				       "the core's files. Run sevd as root or with CAP_SETUID and "
				       "CAP_SETGID (sevd.service does), give the worker a user of its "
				       "own (worker_user), or set allow_unseparated_worker = yes to "
				       "run so anyway",
				       why);
	log_warning("%s: the worker keeps the core's uid (allow_unseparated_worker = yes); it "
		    "still loses every capability and gets no_new_privs and the seccomp filter",
		    why);
	return 0;
}

static int drop_privileges(uid_t uid, gid_t gid, const char *name, pid_t core,
			   bool allow_unseparated, bool inet)
{
	char why[160];
	bool bset;
	int r;

	drop_bounding_set(&bset);
	if (uid == 0)
		return log_error_errno(EPERM,
				       "The worker user %s is root: choose an unprivileged "
				       "worker_user",
				       name);
	if (uid == getuid()) {
		snprintf(why, sizeof(why), "The worker user %s is the core's own uid %u", name,
			 (unsigned)uid);
		if (unseparated(allow_unseparated, why) < 0)
			return -EPERM;
		r = 0; /* already that uid: nothing to switch (setgroups would need CAP_SETGID) */
	} else {
		r = set_ids(uid, gid, name);
	}
	if (r == -EPERM && getuid() != 0 && getuid() != uid) {
		/* A non-root sevd without CAP_SETUID/CAP_SETGID (a developer's run, or a unit
		 * without them) cannot change uid. */
		snprintf(why, sizeof(why),
			 "sevd runs as uid %u without CAP_SETUID/CAP_SETGID and cannot switch the "
			 "worker to %s (%u)",
			 (unsigned)getuid(), name, (unsigned)uid);
		if (unseparated(allow_unseparated, why) < 0)
			return -EPERM;
	} else if (r < 0)
		return log_error_errno(r, "Cannot switch the worker to %s (%u:%u): %m", name,
				       (unsigned)uid, (unsigned)gid);
	/* A core that is not root keeps CAP_SETUID over the uid change (no transition from
	 * uid 0 clears it): the capabilities go explicitly, and only then is the way back
	 * checked to be closed. */
	r = clear_caps();
	if (r < 0)
		return log_error_errno(r, "Cannot drop the worker's capabilities: %m");
	if (setresuid(0, 0, 0) == 0 || setresgid(0, 0, 0) == 0 || setgroups(0, NULL) == 0)
		return log_error_errno(EPERM,
				       "The worker could still change its uid, gid or "
				       "groups after the drop to %s; refusing to serve",
				       name);
	if (!bset)
		log_warning("No CAP_SETPCAP: the worker's capability bounding set could not be "
			    "emptied (no_new_privs still keeps it from gaining any)");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return log_error_errno(errno, "prctl(NO_NEW_PRIVS/DUMPABLE): %m");
	/* A uid change clears the parent-death signal: set it again, then make sure the core
	 * did not die in between. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != core)
		return log_error_errno(ESRCH, "The core (pid %d) is gone", (int)core);
	r = sevd_seccomp_install(inet);
	if (r < 0)
		return log_error_errno(r, "Cannot install the worker's seccomp filter: %m");
	return 0;
}

/* The inherited listening sockets (TCP and TLS: the core keeps the Unix ones, sevd.c):
 * kinds from the --listen specs other than unix:, in their order, or as socket activation
 * would have them (sevd_http_listen_activated). */
static int add_listeners(const struct sevd_config *cfg, struct sevd_http *http, unsigned n)
{
	const char *spec[SEVD_LISTEN_MAX];
	unsigned n_spec = 0;
	int r;

	for (unsigned i = 0; i < cfg->n_listen && n_spec < SEVD_LISTEN_MAX; i++)
		if (strncmp(cfg->listen[i], "unix:", 5) != 0)
			spec[n_spec++] = cfg->listen[i];
	for (unsigned i = 0; i < n; i++) {
		int fd = SEVD_WORKER_FD_START + (int)i;
		bool is_unix = sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0;
		const char *kind;

		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		if (is_unix) {
			close(fd); /* never a worker's to serve (the core accepts Unix clients) */
			continue;
		}
		if (cfg->n_listen && n_spec == n) {
			bool tls = strncmp(spec[i], "tls:", 4) == 0;

			r = tls ? sevd_http_listen_tls(http, fd)
				: sevd_http_listen(http, fd, is_unix);
		} else {
			r = sevd_http_listen_activated(http, fd, is_unix, &kind);
			if (r >= 0)
				log_info("Listening on socket-activated fd %d (%s)", fd, kind);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* Image uploads go through a staging buffer shared with the core (ipc.h). */
static const struct sevd_api_stager ipc_stager = {
    .open = sevd_ipc_upload_open,
    .write = sevd_ipc_upload_write,
    .flush = sevd_ipc_upload_flush,
    .call = sevd_ipc_upload_call,
    .close = sevd_ipc_upload_close,
};

static int channels_init(const struct sevd_worker_args *a)
{
	int fds[SEVD_WORKER_CHANNELS * 4];

	if (a->n_channels == 0 || a->n_channels > ELEMENTSOF(fds))
		return -EINVAL;
	for (unsigned i = 0; i < a->n_channels; i++) {
		fds[i] = SEVD_WORKER_FD_START + (int)(a->n_listen + 1 + i);
		(void)fcntl(fds[i], F_SETFD, FD_CLOEXEC);
	}
	return sevd_ipc_client_init(fds, a->n_channels);
}

/* The channels kept for reads and health, the bounded wait for one, and the
 * uploads at once (upload-limit.h). The config checked upload_limit + reserved_channels
 * against the channel count (sevd.c). */
static void limits_init(const struct sevd_config *cfg)
{
	unsigned wait_ms = cfg->channel_wait_s * 1000u;

	sevd_ipc_client_limits(cfg->reserved_channels, wait_ms);
	sevd_upload_limit_set(cfg->upload_limit, cfg->upload_limit_per_principal, wait_ms);
}

/* The watchdog's evidence (the core kept pinging systemd's watchdog while sixteen
 * uploads froze the API). With SEVD_WORKER_HEARTBEAT_MS in its environment (the core sets it
 * when systemd's watchdog is on), the worker makes a HEALTH round trip through its channel
 * pool at that interval, as GET /healthz does (a read: any free channel, bounded wait); the
 * core feeds the watchdog only while such round trips arrive (sevd.c). A stopped, hung or
 * channel-starved worker stops them, and systemd restarts sevd. */
static struct {
	pthread_t thread;
	bool running;
	atomic_bool stop;
	unsigned ms;
} hb;

static void *heartbeat_main(void *arg)
{
	struct sevd_request *req = calloc(1, sizeof(*req));
	struct sevd_reply *rep = malloc(sizeof(*rep));
	struct timespec ts = {.tv_sec = hb.ms / 1000, .tv_nsec = (long)(hb.ms % 1000) * 1000000L};

	(void)arg;
	while (req && rep && !atomic_load(&hb.stop)) {
		req->op = SEVD_OP_HEALTH;
		(void)sevd_ipc_client_call(NULL, req, rep);
		nanosleep(&ts, NULL);
	}
	free(req);
	free(rep);
	return NULL;
}

static void heartbeat_start(void)
{
	const char *e = getenv("SEVD_WORKER_HEARTBEAT_MS");
	unsigned long ms = e ? strtoul(e, NULL, 10) : 0;

	if (!ms || ms > 3600000ul)
		return;
	hb.ms = (unsigned)ms;
	hb.running = pthread_create(&hb.thread, NULL, heartbeat_main, NULL) == 0;
	if (!hb.running)
		log_warning("Cannot start the health heartbeat; systemd's watchdog will not be fed");
}

static void heartbeat_stop(void)
{
	if (!hb.running)
		return;
	atomic_store(&hb.stop, true);
	pthread_join(hb.thread, NULL);
	hb.running = false;
}

/* The reply cache's region (cache-region.h), mapped read-only; its fd is closed either way
 * (the mapping is all the worker keeps). Without it every GET asks the core: slower, not
 * wrong, so a region that does not check out is logged and left. */
static void region_init(const struct sevd_worker_args *a)
{
	static struct sevd_region *region; /* for the worker's lifetime */
	int fd = SEVD_WORKER_FD_START + (int)(a->n_listen + 1 + a->n_channels), r;

	if (!a->n_region)
		return;
	r = sevd_region_open(fd, &region);
	close(fd);
	if (r < 0) {
		log_warning_errno(r, "The core's reply-cache region (fd %d) is unusable (%m); "
				     "asking the core for every request", fd);
		return;
	}
	sevd_ipc_client_use_region(region);
}

/* Until SIGTERM/SIGINT, or until the core is gone: the ready pipe is also the lifeline (its
 * write end reports POLLERR once the core's read end is closed, by the core or by its exit).
 * The parent-death signal alone is not enough: the kernel checks it like kill(), so a
 * non-root core without CAP_KILL could not end a worker of another uid that way. */
static void worker_wait(int lifeline)
{
	struct pollfd p[2] = {{.fd = lifeline}, {.events = POLLIN}};
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	p[1].fd = signalfd(-1, &set, SFD_CLOEXEC);
	for (;;) {
		if (poll(p, p[1].fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN) {
			log_info("Stopping on the core's request");
			break;
		}
		if (p[0].revents & (POLLERR | POLLHUP)) {
			log_warning("The core is gone; the worker ends");
			break;
		}
	}
	if (p[1].fd >= 0)
		close(p[1].fd);
}

int sevd_worker_main(const struct sevd_config *cfg, const struct sevd_worker_args *a)
{
	struct sevd_http *http = NULL;
	struct sevd_kds_fetch *kds = NULL;
	const char *name;
	pid_t core = getppid();
	int status_fd = SEVD_WORKER_FD_START + (int)a->n_listen;
	uid_t uid, core_uid;
	gid_t gid;
	int r;

	log_setup_journal("sevd-worker", LOG_INFO);
	/* exec of /proc/self/exe names the process "exe" in ps and top. */
	(void)prctl(PR_SET_NAME, "sevd-worker", 0, 0, 0);
	(void)fcntl(status_fd, F_SETFD, FD_CLOEXEC);
	r = sevd_worker_user(a->user ? a->user : cfg->worker_user, &uid, &gid, &name);
	if (r >= 0)
		r = channels_init(a);
	if (r >= 0) {
		region_init(a);
		limits_init(cfg);
		sevd_api_core_fn = sevd_ipc_client_call;
		sevd_api_stager = &ipc_stager;
		r = sevd_http_new(NULL, cfg, &http);
	}
	if (r >= 0)
		r = add_listeners(cfg, http, a->n_listen);
	if (r >= 0 && a->n_handoff) {
		int fd = SEVD_WORKER_FD_START +
			 (int)(a->n_listen + 1 + a->n_channels + a->n_region);

		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		r = sevd_http_listen_handoff(http, fd);
	}
	/* kds_url: its host resolved now, before the sandbox (no DNS under the filter). */
	if (r >= 0 && cfg->kds_url && strcmp(cfg->kds_url, "off") != 0)
		r = sevd_kds_fetch_new(cfg->kds_url, &kds);
	core_uid = getuid();
	if (r >= 0)
		r = drop_privileges(uid, gid, name, core, cfg->allow_unseparated_worker,
				     kds != NULL);
	sevd_api_worker_shares_uid = getuid() == core_uid ? 1 : 0;
	if (r >= 0)
		r = sevd_http_start(http);
	if (r < 0) {
		sevd_kds_fetch_free(kds);
		sevd_http_free(http);
		return EXIT_FAILURE;
	}
	if (kds)
		(void)sevd_kds_fetch_start(kds);
	log_info("Worker serving as uid %u (%s), no capabilities, seccomp filter on",
		 (unsigned)getuid(), getuid() == uid ? name : "sevd's own uid");
	heartbeat_start();
	(void)!write(status_fd, "R", 1);
	worker_wait(status_fd);
	sevd_kds_fetch_free(kds);
	heartbeat_stop();
	close(status_fd);
	sevd_http_free(http);
#ifdef WORKER_ASAN
	/* LeakSanitizer's exit check ptraces the process: impossible for a non-dumpable
	 * process without CAP_SYS_PTRACE and under a filter that kills ptrace. Skip it. */
	_exit(EXIT_SUCCESS);
#endif
	return EXIT_SUCCESS;
}
