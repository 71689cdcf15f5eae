/* Test helpers for the guest tests (guest-client.h). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "tests/daemon/guest-client.h"

bool gc_start(struct gc_daemon *d, bool wait)
{
	char listen[512];
	const char *exe = tu_exe("SEVD_EXE");
	pid_t pid;

	free(d->sock);
	free(d->log);
	d->sock = path_join(d->dir, "api.sock");
	d->log = path_join(d->dir, "sevd.log");
	snprintf(listen, sizeof(listen), "unix:%s", d->sock);
	unlink(d->sock);
	pid = fork();
	TU_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		char psp[512];
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		snprintf(psp, sizeof(psp), "emu:%s", d->emu_sock);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (d->extra_env)
			putenv((char *)d->extra_env);
		execl(exe, exe, "--psp", psp, "--state-dir", d->dir, "--listen", listen, "--config",
		      d->config ? d->config : "/dev/null", d->extra_arg, (char *)NULL);
		_exit(127);
	}
	d->pid = pid;
	if (!wait)
		return true;
	for (int i = 0; i < 1000; i++) {
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

void gc_stop(struct gc_daemon *d, bool kill_it)
{
	int st;

	if (d->pid <= 0)
		return;
	kill(d->pid, kill_it ? SIGKILL : SIGTERM);
	waitpid(d->pid, &st, 0);
	d->pid = 0;
}

static CURL *easy(struct gc_daemon *d, const char *method, const char *path, struct gc_resp *out)
{
	CURL *c = curl_easy_init();
	char url[512];

	memset(out, 0, sizeof(*out));
	TU_CHECK(c != NULL, "curl_easy_init");
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, d->sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tu_curl_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->buf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	return c;
}

static void finish(CURL *c, struct curl_slist *h, const char *method, const char *path,
		   struct gc_resp *out)
{
	CURLcode cr;

	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	cr = curl_easy_perform(c);
	TU_CHECK(cr == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(cr));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	if (!out->body)
		out->body = strdup("");
	out->json = json_tokener_parse(out->body);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

void gc_request(struct gc_daemon *d, const char *method, const char *path, const void *body,
		size_t len, const char *ctype, struct gc_resp *out)
{
	CURL *c = easy(d, method, path, out);
	struct curl_slist *h = NULL;
	char ct[128];

	if (body || !strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? len : 0));
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype ? ctype : "application/json");
		h = curl_slist_append(h, ct);
		h = curl_slist_append(h, "Expect:");
	}
	finish(c, h, method, path, out);
}

struct reader {
	const uint8_t *buf;
	size_t len, off, piece;
};

static size_t on_read(char *p, size_t sz, size_t n, void *userdata)
{
	struct reader *rd = userdata;
	size_t k = sz * n;

	if (k > rd->piece)
		k = rd->piece;
	if (k > rd->len - rd->off)
		k = rd->len - rd->off;
	memcpy(p, rd->buf + rd->off, k);
	rd->off += k;
	return k;
}

void gc_upload_chunked(struct gc_daemon *d, const char *path, const uint8_t *buf, size_t len,
		       size_t piece, struct gc_resp *out)
{
	CURL *c = easy(d, "POST", path, out);
	struct reader rd = {.buf = buf, .len = len, .piece = piece ? piece : 65536};
	struct curl_slist *h = NULL;

	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &rd);
	h = curl_slist_append(h, "Transfer-Encoding: chunked");
	h = curl_slist_append(h, "Content-Type: application/octet-stream");
	h = curl_slist_append(h, "Expect:");
	finish(c, h, "POST", path, out);
}

void gc_resp_free(struct gc_resp *r)
{
	free(r->body);
	json_object_put(r->json);
	memset(r, 0, sizeof(*r));
}

bool gc_metric(struct gc_daemon *d, const char *series, uint64_t *ret)
{
	char key[160];
	struct gc_resp r;
	const char *p;

	snprintf(key, sizeof(key), "\n%s ", series);
	gc_request(d, "GET", "/metrics", NULL, 0, NULL, &r);
	p = r.status == 200 && r.body ? strstr(r.body, key) : NULL;
	if (p)
		*ret = strtoull(p + strlen(key), NULL, 10);
	gc_resp_free(&r);
	return p != NULL;
}

uint64_t gc_metric_value(struct gc_daemon *d, const char *series)
{
	uint64_t n = 0;

	TU_CHECK(gc_metric(d, series, &n), "GET /metrics: no %s", series);
	return n;
}

long gc_json(struct gc_daemon *d, const char *method, const char *path, const char *body,
	     struct gc_resp *out)
{
	gc_request(d, method, path, body, body ? strlen(body) : 0, NULL, out);
	return out->status;
}

uint32_t gc_launch(struct gc_daemon *d, const char *name)
{
	char body[96];
	struct gc_resp r;
	uint32_t h = 0;

	snprintf(body, sizeof(body), "{\"policy\": 0, \"name\": \"%s\"}", name);
	TU_CHECK(gc_json(d, "POST", "/v1/guests", body, &r) == 201, "launch %s: %ld %s", name,
		 r.status, r.body);
	if (r.status == 201)
		h = (uint32_t)gc_int(r.json, "handle");
	gc_resp_free(&r);
	return h;
}

static json_object *field(json_object *o, const char *key)
{
	json_object *v = NULL;

	TU_CHECK(o && json_object_object_get_ex(o, key, &v), "answer has no field '%s': %s", key,
		 o ? json_object_to_json_string(o) : "(not JSON)");
	return v;
}

int64_t gc_int(json_object *o, const char *key)
{
	json_object *v = field(o, key);

	TU_CHECK(json_object_is_type(v, json_type_int), "field '%s' is not an integer", key);
	return json_object_get_int64(v);
}

const char *gc_str(json_object *o, const char *key)
{
	json_object *v = field(o, key);

	TU_CHECK(json_object_is_type(v, json_type_string), "field '%s' is not a string", key);
	return json_object_get_string(v);
}

bool gc_is_null(json_object *o, const char *key)
{
	return field(o, key) == NULL;
}

static const char *err_field(const struct gc_resp *r, const char *key)
{
	json_object *e, *v;

	if (!r->json || !json_object_object_get_ex(r->json, "error", &e) ||
	    !json_object_object_get_ex(e, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

const char *gc_err_code(const struct gc_resp *r)
{
	return err_field(r, "code");
}

const char *gc_err_fw(const struct gc_resp *r)
{
	return err_field(r, "fw_status");
}
