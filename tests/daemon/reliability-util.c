/* Helpers of the reliability tests (reliability-util.h). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "daemon/core/emu-ctl.h"
#include "daemon/core/journal.h"
#include "psp/commands.h"
#include "psp/transport.h"
#include "tests/daemon/reliability-util.h"
#include "tests/testutil.h"

#define HANDLE_SCAN_MAX 1024u /* SEVD_GUESTS_MAX */
#define JOURNAL_MAX (64u << 20)

bool ru_sevd_start(struct ru_sevd *d, bool wait)
{
	const char *exe = tu_exe("SEVD_EXE");
	char listen[600], psp[600];
	pid_t pid;

	free(d->sock);
	free(d->log);
	d->sock = path_join(d->run_dir, "api.sock");
	d->log = path_join(d->run_dir, "sevd.log");
	snprintf(listen, sizeof(listen), "unix:%s", d->sock);
	snprintf(psp, sizeof(psp), "emu:%s", d->emu_sock);
	unlink(d->sock);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	TU_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (d->extra_env)
			putenv((char *)d->extra_env);
		execl(exe, exe, "--psp", psp, "--state-dir", d->state_dir, "--listen", listen,
		      "--config", d->config ? d->config : "/dev/null", d->extra_arg, (char *)NULL);
		_exit(127);
	}
	d->pid = pid;
	if (!wait)
		return true;
	for (int i = 0; i < 2000; i++) {
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			d->pid = 0;
			return false;
		}
		if (tu_wait_socket(d->sock, 10))
			return true;
	}
	return false;
}

int ru_sevd_stop(struct ru_sevd *d, bool kill_it)
{
	int st = 0;

	if (d->pid <= 0)
		return 0;
	kill(d->pid, kill_it ? SIGKILL : SIGTERM);
	waitpid(d->pid, &st, 0);
	d->pid = 0;
	return st;
}

char *ru_sevd_log(const struct ru_sevd *d)
{
	size_t len;
	char *s = (char *)tu_read_file(d->log, &len);

	return s ? s : strdup("");
}

int ru_request(const char *sock, const char *method, const char *path, const void *body, size_t len,
	       const char *ctype, long timeout_s, struct gc_resp *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[512], ct[128];
	CURLcode cr;

	memset(out, 0, sizeof(*out));
	TU_CHECK(c != NULL, "curl_easy_init");
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tu_curl_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->buf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body || !strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? len : 0));
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype ? ctype : "application/json");
		h = curl_slist_append(h, ct);
		h = curl_slist_append(h, "Expect:");
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	cr = curl_easy_perform(c);
	if (cr == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	else
		out->status = 0;
	if (!out->body)
		out->body = strdup("");
	out->json = cr == CURLE_OK ? json_tokener_parse(out->body) : NULL;
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return (int)cr;
}

_printf_(3, 4) static int why_fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return -1;
}

int ru_firmware_guests(const char *emu_sock, struct ru_fw_guest *out, unsigned max,
		       uint32_t *ret_count, char *why, size_t whylen)
{
	struct psp_transport *t = NULL;
	struct sev_cmd_platform_status ps;
	char spec[600];
	unsigned n = 0;

	snprintf(spec, sizeof(spec), "emu:%s", emu_sock);
	if (psp_open(spec, &t) < 0)
		return why_fail(why, whylen, "cannot open %s", spec);
	if (psp_cmd_platform_status(t, &ps, NULL) < 0) {
		psp_close(t);
		return why_fail(why, whylen, "PLATFORM_STATUS failed");
	}
	for (uint32_t h = 1; h <= HANDLE_SCAN_MAX && n < ps.guest_count; h++) {
		struct sev_cmd_guest_status st;

		if (psp_cmd_guest_status(t, h, &st, NULL) < 0) {
			psp_close(t);
			return why_fail(why, whylen, "GUEST_STATUS %u failed", h);
		}
		if (st.state == SEV_GSTATE_UNINIT)
			continue;
		if (n == max) {
			psp_close(t);
			return why_fail(why, whylen, "more than %u firmware guests", max);
		}
		out[n++] = (struct ru_fw_guest){.handle = h, .asid = st.asid, .state = st.state};
	}
	psp_close(t);
	*ret_count = ps.guest_count;
	return (int)n;
}

static const char *const state_names[] = {"UNINIT",  "LUPDATE", "LSECRET", "RUNNING",
					  "SUPDATE", "RUPDATE", "SENT"};

/* ---- the journal, replayed as sevd would (PUT replaces by handle, DEL removes) ---- */

struct jview {
	unsigned n;
	struct ru_fw_guest g[HANDLE_SCAN_MAX];
};

static int jview_apply(void *userdata, const struct sevd_jrec *rec)
{
	struct jview *v = userdata;
	unsigned i;

	if (rec->type != SEVD_JREC_PUT && rec->type != SEVD_JREC_DEL)
		return 0;
	for (i = 0; i < v->n && v->g[i].handle != rec->handle; i++)
		;
	if (rec->type == SEVD_JREC_DEL) {
		if (i < v->n)
			v->g[i] = v->g[--v->n];
		return 0;
	}
	if (i == v->n) {
		if (v->n == HANDLE_SCAN_MAX)
			return -E2BIG;
		v->n++;
	}
	v->g[i] =
	    (struct ru_fw_guest){.handle = rec->handle, .asid = rec->asid, .state = rec->state};
	return 0;
}

static int check_journal(const char *state_dir, const struct ru_fw_guest *fw, unsigned nfw,
			 char *why, size_t whylen)
{
	_cleanup_free_ char *path = path_join(state_dir, SEVD_JOURNAL_FILE);
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ struct jview *v = calloc(1, sizeof(*v));
	size_t len = 0, end, bad;
	unsigned skipped;
	int r;

	TU_CHECK(path && v, "out of memory");
	r = read_full_file(path, JOURNAL_MAX, &buf, &len);
	if (r < 0)
		return why_fail(why, whylen, "cannot read %s: %s", path, strerror(-r));
	r = sevd_journal_scan(buf, len, false, jview_apply, v, &end, &bad, &skipped);
	if (r < 0)
		return why_fail(why, whylen, "journal %s does not replay: %s (offset %zu)", path,
				strerror(-r), bad);
	if (end != len)
		return why_fail(why, whylen, "journal %s has %zu bytes of tail after a start", path,
				len - end);
	if (v->n != nfw)
		return why_fail(why, whylen, "the journal holds %u guests, firmware %u", v->n, nfw);
	for (unsigned i = 0; i < v->n; i++) {
		unsigned k;

		for (k = 0; k < nfw && fw[k].handle != v->g[i].handle; k++)
			;
		if (k == nfw)
			return why_fail(why, whylen,
					"the journal holds guest %u, firmware does not",
					v->g[i].handle);
		if (fw[k].asid != v->g[i].asid)
			return why_fail(why, whylen,
					"guest %u: the journal says ASID %u, firmware %u",
					v->g[i].handle, v->g[i].asid, fw[k].asid);
	}
	return 0;
}

/* ---- sevd's answers against firmware ---- */

static int check_list(json_object *list, const struct ru_fw_guest *fw, unsigned nfw, bool restart,
		      uint32_t *held, unsigned *nheld, char *why, size_t whylen)
{
	unsigned n = (unsigned)json_object_array_length(list);

	if (n != nfw)
		return why_fail(why, whylen, "sevd lists %u guests, firmware has %u", n, nfw);
	*nheld = 0;
	for (unsigned i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(list, i);
		uint32_t h = (uint32_t)gc_int(o, "handle");
		uint32_t asid = gc_is_null(o, "asid") ? 0 : (uint32_t)gc_int(o, "asid");
		const char *state = gc_str(o, "state");
		unsigned k;

		/* An unfinished SEV/SEV-ES launch is kept for its owner (LUPDATE, or LSECRET
		 * measured), bound to its ASID; nothing else half-launched survives. */
		if (restart && strcmp(state, "RUNNING") &&
		    (!(!strcmp(state, "LUPDATE") || !strcmp(state, "LSECRET")) || !asid ||
		     !strcmp(gc_str(o, "type"), "snp")))
			return why_fail(why, whylen,
					"guest %u is %s after a restart (half-launched, not an "
					"unfinished SEV launch kept with its ASID)",
					h, state);
		for (k = 0; k < nfw && fw[k].handle != h; k++)
			;
		if (k == nfw)
			return why_fail(why, whylen,
					"sevd lists guest %u, firmware does not know it", h);
		if (fw[k].asid != asid || fw[k].state >= ELEMENTSOF(state_names) ||
		    strcmp(state_names[fw[k].state], state))
			return why_fail(why, whylen,
					"guest %u: sevd says %s on ASID %u, firmware state %u on "
					"ASID %u",
					h, state, asid, fw[k].state, fw[k].asid);
		if (asid)
			held[(*nheld)++] = asid;
	}
	return 0;
}

static int check_asids(json_object *a, const uint32_t *held, unsigned nheld, char *why,
		       size_t whylen)
{
	json_object *holders = json_object_object_get(a, "holders");
	size_t nh = json_object_array_length(holders);

	if (nh != nheld || gc_int(a, "used") != nheld)
		return why_fail(why, whylen,
				"the pool holds %zu ASIDs (used %lld), the guests %u: %s", nh,
				(long long)gc_int(a, "used"), nheld, json_object_to_json_string(a));
	for (size_t i = 0; i < nh; i++) {
		uint32_t x = (uint32_t)gc_int(json_object_array_get_idx(holders, i), "asid");
		unsigned seen = 0;

		for (unsigned k = 0; k < nheld; k++)
			seen += held[k] == x;
		if (seen != 1)
			return why_fail(why, whylen, "the pool holds ASID %u for %u guests", x,
					seen);
	}
	for (int k = 0; k < 2; k++) {
		json_object *c = json_object_object_get(a, k ? "sev" : "es");

		if (gc_int(c, "used") + gc_int(c, "free") + gc_int(c, "flush_pending") !=
		    gc_int(c, "total"))
			return why_fail(why, whylen, "%s ASIDs lost: %s", k ? "sev" : "es",
					json_object_to_json_string(c));
	}
	return 0;
}

/* ---- SEV-SNP guests: the emulator's CTL `snp-guests` (psp/emu/snp-rmp.c) ---- */

#define SNP_SCAN_MAX 256

struct snp_fw {
	unsigned n, count, orphans;
	uint32_t asid[SNP_SCAN_MAX];
	int state[SNP_SCAN_MAX];
	bool used[SNP_SCAN_MAX];
	char orphan[160]; /* the first orphan line */
};

/* Firmware's SNP guests and the RMP's orphaned pages; none when SNP is off. */
static int snp_firmware(const char *emu_sock, struct snp_fw *f, char *why, size_t whylen)
{
	_cleanup_free_ char *buf = malloc(65536);
	char *save = NULL, *line;
	int r;

	TU_CHECK(buf, "out of memory");
	memset(f, 0, sizeof(*f));
	r = sevd_emu_ctl(emu_sock, "snp-guests", buf, 65536);
	if (r == -EOPNOTSUPP)
		return 0;
	if (r < 0)
		return why_fail(why, whylen, "emulator CTL snp-guests: %s (%s)", strerror(-r), buf);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long gctx;
		unsigned a, m;
		int st;

		if (sscanf(line, "guests=%u", &f->count) == 1)
			continue;
		if (sscanf(line, "guest gctx=0x%llx asid=%u state=%d", &gctx, &a, &st) == 3) {
			if (f->n == SNP_SCAN_MAX)
				return why_fail(why, whylen, "more than %u SNP guests", SNP_SCAN_MAX);
			f->asid[f->n] = a;
			f->state[f->n++] = st;
			continue;
		}
		if (!strncmp(line, "orphan ", 7)) {
			if (!f->orphan[0])
				snprintf(f->orphan, sizeof(f->orphan), "%s", line + 7);
			continue;
		}
		if (sscanf(line, "assigned=%u orphans=%u", &a, &m) == 2) {
			f->orphans = m;
			continue;
		}
		return why_fail(why, whylen, "emulator CTL snp-guests: unexpected line '%s'", line);
	}
	if (f->count != f->n)
		return why_fail(why, whylen, "SNP guest_count %u, but %u SNP guests listed", f->count,
				f->n);
	return 0;
}

/* sevd's SNP guests (type "snp") against firmware's, matched by ASID (sevd binds every SNP
 * guest at create, and its handles are its own): each found once, in the same state; then
 * appended to fw[] with sevd's handle so that the list and journal checks cover them. No RMP
 * page may be assigned to a guest that is gone. */
static int check_snp(json_object *list, struct snp_fw *f, struct ru_fw_guest *fw, unsigned *nfw,
		     unsigned max, char *why, size_t whylen)
{
	unsigned matched = 0;

	if (f->orphans)
		return why_fail(why, whylen,
				"%u RMP page(s) assigned to no live SNP guest, first: %s",
				f->orphans, f->orphan);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *o = json_object_array_get_idx(list, i);
		uint32_t h = (uint32_t)gc_int(o, "handle"), asid;
		unsigned k;

		if (strcmp(gc_str(o, "type"), "snp"))
			continue;
		if (gc_is_null(o, "asid"))
			return why_fail(why, whylen, "SNP guest %u holds no ASID in sevd's list", h);
		asid = (uint32_t)gc_int(o, "asid");
		for (k = 0; k < f->n && (f->used[k] || f->asid[k] != asid); k++)
			;
		if (k == f->n)
			return why_fail(why, whylen,
					"sevd lists SNP guest %u on ASID %u, firmware has no SNP "
					"guest there",
					h, asid);
		f->used[k] = true;
		matched++;
		if (*nfw == max)
			return why_fail(why, whylen, "more than %u guests", max);
		fw[(*nfw)++] = (struct ru_fw_guest){
		    .handle = h,
		    .asid = asid,
		    .state = f->state[k] == SEV_SNP_GSTATE_RUNNING  ? SEV_GSTATE_RUNNING
			     : f->state[k] == SEV_SNP_GSTATE_LAUNCH ? SEV_GSTATE_LUPDATE
								    : SEV_GSTATE_UNINIT};
	}
	for (unsigned k = 0; k < f->n; k++)
		if (!f->used[k])
			return why_fail(why, whylen,
					"firmware has an SNP guest on ASID %u (state %d) that sevd "
					"does not list",
					f->asid[k], f->state[k]);
	return matched == f->n ? 0 : why_fail(why, whylen, "SNP guests do not match");
}

int ru_check_invariants(const char *emu_sock, const char *api_sock, const char *state_dir,
			bool restart, bool journal, char *why, size_t whylen)
{
	_cleanup_free_ struct ru_fw_guest *fw = calloc(HANDLE_SCAN_MAX, sizeof(*fw));
	_cleanup_free_ uint32_t *held = calloc(HANDLE_SCAN_MAX, sizeof(*held));
	struct gc_resp g = {0}, a = {0};
	uint32_t count = 0;
	unsigned nheld = 0;
	int nfw, r = -1;

	TU_CHECK(fw && held, "out of memory");
	nfw = ru_firmware_guests(emu_sock, fw, HANDLE_SCAN_MAX, &count, why, whylen);
	if (nfw < 0)
		return -1;
	if (ru_request(api_sock, "GET", "/v1/guests", NULL, 0, NULL, 30, &g) != 0 ||
	    g.status != 200 || !g.json) {
		why_fail(why, whylen, "GET /v1/guests: %ld %s", g.status, g.body);
		goto out;
	}
	if ((unsigned)nfw != count) {
		why_fail(why, whylen, "firmware's guest_count %u, but %d guests answer", count,
			 nfw);
		goto out;
	}
	{
		_cleanup_free_ struct snp_fw *f = calloc(1, sizeof(*f));
		unsigned n = (unsigned)nfw;

		TU_CHECK(f, "out of memory");
		if (snp_firmware(emu_sock, f, why, whylen) < 0 ||
		    check_snp(json_object_object_get(g.json, "guests"), f, fw, &n, HANDLE_SCAN_MAX,
			      why, whylen) < 0)
			goto out;
		nfw = (int)n;
	}
	if (check_list(json_object_object_get(g.json, "guests"), fw, (unsigned)nfw, restart, held,
		       &nheld, why, whylen) < 0)
		goto out;
	if (journal && check_journal(state_dir, fw, (unsigned)nfw, why, whylen) < 0)
		goto out;
	if (ru_request(api_sock, "GET", "/v1/asids", NULL, 0, NULL, 30, &a) != 0 ||
	    a.status != 200 || !a.json) {
		why_fail(why, whylen, "GET /v1/asids: %ld %s", a.status, a.body);
		goto out;
	}
	r = check_asids(a.json, held, nheld, why, whylen);
out:
	gc_resp_free(&g);
	gc_resp_free(&a);
	return r;
}

pid_t ru_fork_workload(void (*workload)(void), bool quiet)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		int fd = quiet ? open("/dev/null", O_WRONLY) : -1;

		if (fd >= 0)
			dup2(fd, 2);
		workload();
		_exit(0);
	}
	return pid;
}

char *ru_compact_conf(const char *dir, unsigned every)
{
	char *conf = path_join(dir, "sevd.conf"), line[64];
	int n = snprintf(line, sizeof(line), "journal_compact = %u\n", every);

	if (conf && write_file_atomic(conf, line, (size_t)n, 0600) < 0) {
		free(conf);
		return NULL;
	}
	return conf;
}

bool ru_wait_checkpoint(pid_t sevd, pid_t *workload, unsigned point, const char *log)
{
	int st;

	for (;;) {
		pid_t r = waitpid(sevd, &st, WUNTRACED | WNOHANG);

		if (r == sevd && WIFSTOPPED(st))
			return true;
		TU_CHECK(r == 0, "sevd ended by itself at point %u (status 0x%x; log %s)", point,
			 st, log);
		if (waitpid(*workload, &st, WNOHANG) == *workload) {
			*workload = 0;
			return false; /* the workload ended first */
		}
		usleep(1000);
	}
}

void ru_world(const char *const *emu_args, unsigned compact, struct tu_emu *e,
	      struct ru_sevd *d, char **ret_dir)
{
	char *dir = tu_mkdtemp(), *conf;

	TU_CHECK(tu_emu_start(dir, emu_args, e) == 0, "emulator");
	conf = ru_compact_conf(dir, compact);
	TU_CHECK(conf, "config");
	*d = (struct ru_sevd){.state_dir = dir, .run_dir = dir, .emu_sock = e->socket, .config = conf};
	*ret_dir = dir;
}
