/* The node-feature-discovery feature file of the host's inventory (inventory.h). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/util.h"
#include "daemon/core/inventory.h"

#define POLL_MS 250	      /* a change shows in the file within this, plus one write */
#define PLATFORM_EVERY_S 30 /* the platform is read again this often even without a change */
/* NFD's `# +expiry-time=` directive (RFC 3339; NFD ignores the lines after it once passed, at
 * its next discovery): set this far ahead and renewed halfway, so that the labels of a sevd
 * that died without removing the file go away on their own. */
#define EXPIRY_S 600
#define INVENTORY_MAX 4096u /* the text is ~600 bytes; NFD reads at most 64 kB */

struct text {
	char *buf;
	size_t size, len;
	bool overflow;
};

static void _printf_(2, 3) text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->size - t->len)
		t->overflow = true;
	else
		t->len += (size_t)n;
}

/* One ASID type: amd.com/NAME=true|false and its four counts. Label values are decimal
 * integers or true/false: valid Kubernetes label values (<= 63 of [A-Za-z0-9._-]). */
static void render_type(struct text *t, const char *name, bool cap,
			const struct sevd_asid_counts *c)
{
	text_printf(t, "amd.com/%s=%s\n", name, cap ? "true" : "false");
	text_printf(t, "amd.com/%s.total=%u\namd.com/%s.used=%u\namd.com/%s.free=%u\n"
		       "amd.com/%s.flush_pending=%u\n",
		    name, c->total, name, c->used, name, c->free, name, c->pending);
}

int sevd_inventory_render(const struct sevd_asid_stats *s, const struct sevd_platform_info *p,
			  bool psp_healthy, time_t expires, char *buf, size_t size)
{
	const struct sevd_platform_info unknown = { 0 };
	const struct sevd_asid_counts none = { 0 };
	struct sevd_inventory_caps caps;
	struct text t = { .buf = buf, .size = size };
	char when[32];
	struct tm tm;

	if (size == 0)
		return -ENOBUFS;
	buf[0] = '\0';
	sevd_inventory_caps(s, p ? p : &unknown, &caps);
	text_printf(&t, "# sevd's inventory (GET /v1/inventory), kept by sevd: do not edit.\n"
			"# Rewritten by rename on every change; removed when sevd stops.\n");
	if (expires > 0 && gmtime_r(&expires, &tm) &&
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		text_printf(&t, "# +expiry-time=%s\n", when);
	render_type(&t, "sev", caps.sev, &s->sev);
	render_type(&t, "sev-es", caps.sev_es, &s->es);
	render_type(&t, "snp", caps.snp, &none);
	text_printf(&t, "amd.com/sev.psp_healthy=%s\n", psp_healthy ? "true" : "false");
	if (p)
		text_printf(&t, "amd.com/sev.api=%u.%u\namd.com/sev.build=%u\n",
			    p->status.api_major, p->status.api_minor, p->status.build);
	return t.overflow ? -ENOBUFS : (int)t.len;
}

struct sevd_inventory_file {
	struct sevd_core *core;
	char *path, *hidden; /* DIR/NAME, and DIR/.NAME: NFD skips dot files */
	struct sevd_reply *rep;
	struct sevd_asid_stats last;
	struct sevd_platform_info platform;
	bool have_platform, written, failing;
	bool healthy, healthy_written; /* the PSP's health now, and in the file */
	time_t platform_at, written_at;
	pthread_t thread;
	bool started, stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

/* PLATFORM_STATUS through the core (a firmware job on the queue): api version and the SEV-ES
 * flag of INIT. Kept from the last success when the PSP does not answer. */
static void read_platform(struct sevd_inventory_file *f)
{
	struct sevd_request req = { .op = SEVD_OP_PLATFORM_STATUS };

	f->platform_at = time(NULL);
	if (sevd_core_call(f->core, &req, f->rep) < 0)
		return;
	f->platform = f->rep->u.platform;
	f->have_platform = true;
}

/* Write DIR/.NAME atomically (temp file, fsync, rename: write_file_atomic), then rename it to
 * DIR/NAME, so that the name NFD reads never shows a partial file, nor does any other name
 * it reads (write_file_atomic's temp file is DIR/.NAME.tmp.PID). */
static int write_text(struct sevd_inventory_file *f, const char *text, size_t len)
{
	int r = write_file_atomic(f->hidden, text, len, 0644);

	if (r < 0)
		return r;
	/* Readable by nfd-worker whatever sevd's umask (sevd.service has 0077): nothing secret. */
	if (chmod(f->hidden, 0644) < 0 || rename(f->hidden, f->path) < 0) {
		r = -errno;
		unlink(f->hidden);
		return r;
	}
	return 0;
}

int sevd_inventory_file_update(struct sevd_inventory_file *f)
{
	struct sevd_asid_stats s;
	struct sevd_platform_info before = f->platform;
	char text[INVENTORY_MAX];
	bool changed;
	int n, r;

	sevd_asid_stats(sevd_core_asids(f->core), &s);
	s.flushes = 0; /* not in the file */
	/* No command timed out or lost its transport since the last reconnection (a flag read
	 * directly: four HEALTH requests a second would show in sevd_core_requests_total). */
	f->healthy = sevd_core_psp_healthy(f->core);
	changed = !f->written || memcmp(&s, &f->last, sizeof(s)) != 0 ||
		  f->healthy != f->healthy_written;
	if (changed || !f->have_platform || time(NULL) - f->platform_at >= PLATFORM_EVERY_S)
		read_platform(f);
	if (!changed && memcmp(&before, &f->platform, sizeof(before)) == 0 &&
	    time(NULL) - f->written_at < EXPIRY_S / 2)
		return 0;
	n = sevd_inventory_render(&s, f->have_platform ? &f->platform : NULL, f->healthy,
				  time(NULL) + EXPIRY_S, text, sizeof(text));
	if (n < 0)
		return n;
	r = write_text(f, text, (size_t)n);
	if (r < 0) {
		if (!f->failing)
			log_warning_errno(r, "Cannot write the inventory file %s: %m; retrying every "
					     "%d ms", f->path, POLL_MS);
		f->failing = true;
		f->written = false;
		return r;
	}
	if (f->failing)
		log_notice("Inventory file %s written again", f->path);
	f->failing = false;
	f->written = true;
	f->written_at = time(NULL);
	f->last = s;
	f->healthy_written = f->healthy;
	return 1;
}

static void *updater(void *userdata)
{
	struct sevd_inventory_file *f = userdata;
	struct timespec ts;

	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		pthread_mutex_unlock(&f->lock);
		(void)sevd_inventory_file_update(f);
		pthread_mutex_lock(&f->lock);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += POLL_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		while (!f->stop && pthread_cond_timedwait(&f->cond, &f->lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

static int hidden_name(const char *path, char **ret)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	int dir_len = (int)(name - path);

	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	return asprintf(ret, "%.*s.%s", dir_len, path, name) < 0 ? -ENOMEM : 0;
}

int sevd_inventory_file_new(struct sevd_core *core, const char *path,
			    struct sevd_inventory_file **ret)
{
	struct sevd_inventory_file *f = calloc(1, sizeof(*f));
	pthread_condattr_t ca;
	int r;

	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cond, &ca);
	pthread_condattr_destroy(&ca);
	f->core = core;
	f->path = strdup(path);
	f->rep = malloc(sizeof(*f->rep));
	r = !f->path || !f->rep ? -ENOMEM : hidden_name(path, &f->hidden);
	if (r < 0) {
		sevd_inventory_file_free(f);
		return r == -EINVAL ? log_error_errno(EINVAL, "inventory_file %s names no file", path)
				    : r;
	}
	r = -pthread_create(&f->thread, NULL, updater, f);
	if (r < 0) {
		sevd_inventory_file_free(f);
		return r;
	}
	f->started = true;
	log_info("Keeping the inventory file %s (node-feature-discovery format)", path);
	*ret = f;
	return 0;
}

void sevd_inventory_file_free(struct sevd_inventory_file *f)
{
	if (!f)
		return;
	if (f->started) {
		pthread_mutex_lock(&f->lock);
		f->stop = true;
		pthread_cond_signal(&f->cond);
		pthread_mutex_unlock(&f->lock);
		pthread_join(f->thread, NULL);
		if (f->written && unlink(f->path) < 0 && errno != ENOENT)
			log_warning_errno(errno, "Cannot remove the inventory file %s: %m", f->path);
	}
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	free(f->rep);
	free(f->path);
	free(f->hidden);
	free(f);
}
