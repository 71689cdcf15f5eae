/* sevadm launch --count N [--parallel K]: a launch storm. N guests of one image, policy and
 * session, named NAME-1..NAME-N, launched K at a time by K threads, each with its own client
 * (so at most K connections to sevd at once); every guest exactly as the plain verb launches
 * one (launch_one: decommissioned when anything after LAUNCH_START fails). Handles go to
 * stdout in the guests' order, each as soon as its guest and all before it are done; each
 * failure is named on stderr as it happens (the worker collects the guest's messages through
 * sevadm_set_stderr), then a summary. Ctrl-C (or SIGTERM) stops the storm: no new launch
 * starts, uploads in flight end and their guests are decommissioned, the launched ones are
 * listed; a second Ctrl-C quits at once. Daemon answers are untrusted, as everywhere. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/ossl.h"
#include "cli/launch.h"
#include "cli/progress.h"
#include "policy/guest-policy.h"

static const char verb[] = "launch";

enum storm_state { G_WAITING, G_RUNNING, G_LAUNCHED, G_FAILED };

struct storm_guest {
	char *name;
	json_object *body; /* LAUNCH_START's request, with this guest's name */
	enum storm_state state;
	bool stopped;	   /* failed because the storm was interrupted */
	uint32_t handle;
	json_object *res;  /* sevd's last answer, once launched */
	uint64_t bytes;
	char *error;	   /* why it failed, one line */
};

struct storm {
	struct sevadm_ctx wctx; /* the workers': no upload bars, uploads stop on a signal */
	const struct launch_args *a;
	struct storm_guest *g;
	unsigned n, next, printed, launched, failed;
	pthread_mutex_t lock;
	struct progress *bar;
};

struct worker {
	struct storm *s;
	struct http_client *c;
	pthread_t tid;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	static const char msg[] = "\nsevadm: launch: stopping: no new launch starts, those in "
				  "flight are undone — Ctrl-C again quits at once (and may leave "
				  "a half-launched guest)\n";

	(void)sig;
	stop = 1;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
}

/* The first signal stops the storm cleanly; SA_RESETHAND lets a second one kill as usual. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESETHAND };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* A guest's collected messages as one line: "sevadm: launch: " dropped, lines joined by "; ". */
static char *one_line(const char *text)
{
	static const char prefix[] = "sevadm: launch: ";
	size_t len = text ? strlen(text) : 0;
	char *out = malloc(2 * len + 64), *o = out; /* "; " for each "\n": at most twice */

	if (!out)
		return NULL;
	for (const char *l = text; l && *l;) {
		const char *end = strchr(l, '\n');
		size_t n = end ? (size_t)(end - l) : strlen(l);
		if (strncmp(l, prefix, sizeof(prefix) - 1) == 0 && n >= sizeof(prefix) - 1)
			l += sizeof(prefix) - 1, n -= sizeof(prefix) - 1;
		if (n > 0 && strncmp(l, "Try 'sevadm", 11) != 0) {
			if (o != out)
				o = stpcpy(o, "; ");
			memcpy(o, l, n);
			o += n;
		}
		l = end ? end + 1 : l + n;
	}
	*o = 0;
	if (o == out)
		snprintf(out, 2 * len + 64, "failed without a message from sevadm (a bug: please report)");
	return out;
}

/* Handles in the guests' order: those of guest `printed` onwards that are done. */
static void print_ready(struct storm *s, bool all)
{
	for (; s->printed < s->n; s->printed++) {
		struct storm_guest *g = &s->g[s->printed];
		if (!all && g->state != G_LAUNCHED && g->state != G_FAILED)
			break;
		if (g->state != G_LAUNCHED || s->wctx.json)
			continue;
		progress_clear(s->bar); /* stdout may be the same terminal */
		printf("%u\n", g->handle);
		fflush(stdout);
	}
}

/* Under the lock: a guest is done; name a failure, print what is ready, move the bar. */
static void record(struct storm *s, struct storm_guest *g)
{
	char note[48];

	if (g->state == G_FAILED) {
		s->failed++;
		progress_clear(s->bar);
		fprintf(stderr, "sevadm: %s: %s (%u of %u): %s%s\n", verb, g->name,
			(unsigned)(g - s->g) + 1, s->n, g->stopped ? "interrupted: " : "",
			g->error ? g->error : "out of memory");
	} else
		s->launched++;
	print_ready(s, false);
	if (s->failed)
		snprintf(note, sizeof(note), "launched (%u failed)", s->failed);
	else
		snprintf(note, sizeof(note), "launched");
	progress_note(s->bar, note);
	progress_update(s->bar, s->launched);
}

/* One guest, as the plain verb launches it, its messages collected into g->error. */
static void run_guest(struct storm *s, struct http_client *c, struct storm_guest *g)
{
	_cleanup_free_ char *text = NULL;
	json_object *res = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int r;

	sevadm_set_stderr(f); /* NULL (no memory): straight to stderr */
	r = launch_one(&s->wctx, c, s->a, g->body, &g->handle, &res, &g->bytes);
	sevadm_set_stderr(NULL);
	if (f)
		fclose(f);
	pthread_mutex_lock(&s->lock);
	if (r == 0) {
		g->state = G_LAUNCHED;
		g->res = res;
	} else {
		g->state = G_FAILED;
		g->stopped = stop;
		g->error = one_line(text);
	}
	record(s, g);
	pthread_mutex_unlock(&s->lock);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct storm *s = w->s;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		if (stop || s->next >= s->n) {
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		struct storm_guest *g = &s->g[s->next++];
		g->state = G_RUNNING;
		pthread_mutex_unlock(&s->lock);
		run_guest(s, w->c, g);
	}
}

/* Every guest is launched from the same file: it must be one that reads the same each time. */
static int check_file(const char *what, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return sevadm_fail(verb, "cannot open the %s %s: %s", what, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return sevadm_fail(verb, "the %s %s is not a regular file: --count reads it once per "
				   "guest — copy it to a file first", what, path);
	return 0;
}

/* NAME-1..NAME-N and a LAUNCH_START body for each (one parse of the template apiece, so no
 * two threads share a json-c object). */
static int make_guests(struct storm *s, json_object *body)
{
	const char *tmpl = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	const char *base = s->a->name ? s->a->name : "vm";

	s->g = calloc(s->n, sizeof(*s->g));
	if (!s->g || !tmpl)
		return -ENOMEM;
	for (unsigned i = 0; i < s->n; i++) {
		struct storm_guest *g = &s->g[i];
		if (asprintf(&g->name, "%s-%u", base, i + 1) < 0) {
			g->name = NULL;
			return -ENOMEM;
		}
		g->body = json_tokener_parse(tmpl);
		if (!g->body)
			return -ENOMEM;
		json_object_object_add(g->body, "name", json_object_new_string(g->name));
	}
	return 0;
}

static void free_guests(struct storm *s)
{
	for (unsigned i = 0; s->g && i < s->n; i++) {
		free(s->g[i].name);
		free(s->g[i].error);
		json_object_put(s->g[i].body);
		json_object_put(s->g[i].res);
	}
	free(s->g);
}

/* K workers, each with its own client; fewer if threads cannot be had, none is a failure. */
static int run_workers(struct storm *s, unsigned k)
{
	_cleanup_free_ struct worker *w = calloc(k, sizeof(*w));
	unsigned started = 0;
	int r = 0;

	if (!w)
		return sevadm_fail(verb, "out of memory");
	for (unsigned i = 0; i < k; i++) {
		w[i].s = s;
		r = sevadm_connect(&s->wctx, verb, &w[i].c);
		if (r != 0)
			break;
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
			http_client_free(w[i].c);
			w[i].c = NULL;
			break;
		}
		started++;
	}
	for (unsigned i = 0; i < started; i++) {
		pthread_join(w[i].tid, NULL);
		http_client_free(w[i].c);
	}
	if (started == 0)
		return r ? r : sevadm_fail(verb, "cannot start a launch thread: %s — retry "
					   "without --parallel", strerror(EAGAIN));
	return 0;
}

static void print_json(const struct storm *s)
{
	_cleanup_(json_object_putp) json_object *arr = json_object_new_array();

	for (unsigned i = 0; arr && i < s->n; i++) {
		const struct storm_guest *g = &s->g[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "index", json_object_new_int64(i + 1));
		if (g->state == G_LAUNCHED)
			launch_json_fields(o, s->a, g->handle, g->res, g->bytes);
		else {
			json_object_object_add(o, "name", json_object_new_string(g->name));
			json_object_object_add(o, "error", json_object_new_string(
				g->state == G_FAILED ? (g->error ? g->error : "failed")
						     : "not started: interrupted"));
		}
		json_object_array_add(arr, o);
	}
	sevadm_print_json(arr);
}

/* "web-3, web-7" into buf: the failed guests that were (not) stopped by a signal; the count. */
static unsigned failed_names(const struct storm *s, bool stopped, char *buf, size_t len)
{
	unsigned n = 0;
	size_t o = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < s->n; i++) {
		const struct storm_guest *g = &s->g[i];
		if (g->state != G_FAILED || g->stopped != stopped)
			continue;
		if (o + strlen(g->name) + 8 < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%s", n ? ", " : "", g->name);
		else if (o + 6 < len && !strstr(buf, ", ..."))
			o += (size_t)snprintf(buf + o, len - o, ", ...");
		n++;
	}
	return n;
}

static const char *first_failed(const struct storm *s)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->g[i].state == G_FAILED)
			return s->g[i].name;
	return "NAME";
}

/* The last word on stderr: what happened to all N, and what to do next. */
static int summary(const struct storm *s)
{
	const struct launch_args *a = s->a;
	const char *where = s->wctx.json || !s->launched ? "" : " (their handles are on stdout)";
	char names[200], undone_names[200], failed_part[260] = "";
	unsigned failed = failed_names(s, false, names, sizeof(names));
	unsigned undone = failed_names(s, true, undone_names, sizeof(undone_names));

	if (s->launched == s->n) {
		_cleanup_free_ char *words = policy_describe(a->policy);
		if (!s->wctx.json)
			fprintf(stderr, "%u guests launched ('%s' to '%s'), policy 0x%x (%s), %llu bytes "
					"of %s measured into each. Next: sevadm measure HANDLE\n",
				s->n, s->g[0].name, s->g[s->n - 1].name, a->policy, words ? words : "?",
				(unsigned long long)s->g[0].bytes, a->image);
		return SEVADM_EXIT_OK;
	}
	if (!stop)
		return sevadm_fail(verb, "%u of %u guests failed (%s), %u launched%s — see each "
				   "failure above; launch one again with 'sevadm launch %s --name %s'",
				   failed, s->n, names, s->launched, where, a->image, first_failed(s));
	if (failed)
		snprintf(failed_part, sizeof(failed_part), "%u failed (%s), ", failed, names);
	return sevadm_fail(verb, "interrupted: %u of %u guests launched%s; %s%u stopped in flight "
			   "and undone%s%s%s, %u not started — 'sevadm show guests' lists what sevd "
			   "has", s->launched, s->n, where, failed_part, undone, undone ? " (" : "",
			   undone_names, undone ? ")" : "", s->n - s->launched - s->failed);
}

int launch_storm(const struct sevadm_ctx *ctx, const struct launch_args *a, json_object *body)
{
	struct storm s = { .wctx = *ctx, .a = a, .n = a->count };
	int r;

	if ((r = check_file("image", a->image)) != 0 ||
	    (a->vmsa && (r = check_file("VMSA", a->vmsa)) != 0))
		return r;
	if (make_guests(&s, body) < 0) {
		free_guests(&s);
		return sevadm_fail(verb, "out of memory");
	}
	s.wctx.tty = false;
	s.wctx.cancel = &stop;
	pthread_mutex_init(&s.lock, NULL);
	s.bar = progress_new_unit("guests", PROGRESS_COUNT, s.n, ctx->tty && !ctx->json);
	progress_note(s.bar, "launched");
	progress_update(s.bar, 0);
	catch_signals();
	r = run_workers(&s, MIN(a->parallel, s.n));
	signal(SIGINT, SIG_DFL); /* the storm is over: a Ctrl-C now only cuts the report short */
	signal(SIGTERM, SIG_DFL);
	print_ready(&s, true);
	progress_finish_tail(s.bar, stop ? ", interrupted" : "");
	if (ctx->json)
		print_json(&s);
	if (r == 0)
		r = summary(&s);
	pthread_mutex_destroy(&s.lock);
	free_guests(&s);
	return r;
}
