/* The roles matrix over TLS and the Unix socket: every route of the
 * daemon's route table, platform and guest routes, × every role, against the real sevd and
 * sev-psp-emu. Over TLS each role comes from a client certificate (made here with OpenSSL,
 * nothing committed) that a client_cert_role line maps to admin, launcher, reader, owner or
 * migrator;
 * public is a TLS caller without a certificate and one with a valid but unmapped certificate.
 * Over the Unix socket root is admin and a setuid(nobody) child is reader (the socket's only
 * two roles, daemon/worker/auth.h). Every refusal must be 401 (public) or 403 (a role too low) and
 * must do nothing: the firmware command counters of /metrics and the guest list stay as they
 * were. Every allowed call must get past authorization (no 401/403/404/405), the read routes
 * with 200.
 *
 * The expectation is the table below, which mirrors daemon/openapi.yaml's x-sevd-role field
 * (checked here, both ways) and so the route table of daemon/worker/api.c (which daemon-api checks
 * against the document): loosening a route's role in the daemon makes a refusal here succeed
 * and the test fail; changing it in the document alone fails the cross-check.
 *
 * Then tenant × op over the same table: two tenants (acme, globex), each with a launcher,
 * owner, migrator and reader as a client certificate (client_cert_role ...:tenant=) and as a
 * token (token ...:tenant=). For every guest route one tenant's principal of the route's role
 * is refused on the other's guest by the core (403 core_refused, counted in
 * sevd_core_refusals_total{op,reason="tenant"}, no firmware command, the guests unchanged), a
 * launch into the other tenant is refused, GET /v1/guests, /ui/state and /metrics show each
 * principal only its tenant's guests (no ASID holders naming others), the admin certificate
 * sees both, and the tenant's own principals get past authorization on every route. */
#include <curl/curl.h>
#include <errno.h>
#include <grp.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "psp/sev-abi.h"
#include "tests/curlutil.h"
#include "tests/daemon/pki-util.h"
#include "tests/testutil.h"

static char *dir;
static struct tu_emu emu;
static pid_t sevd_pid;
static int port;
static char unix_path[400];

/* ---- the expectation ---- */

enum role { R_PUBLIC, R_READER, R_OWNER, R_LAUNCHER, R_ADMIN, R_MIGRATOR, R_MAX };
static const char *const role_names[R_MAX] = {"public", "reader", "owner",
					       "launcher", "admin", "migrator"};

/* Which caller roles a route's least role lets in (daemon/openapi.yaml's description: public <
 * reader < launcher/owner/migrator < admin; launcher, owner and migrator are side by side, none
 * includes another). */
static bool role_allows(enum role need, enum role caller)
{
	if (caller == R_ADMIN || need == R_PUBLIC)
		return true;
	if (need == R_READER)
		return caller != R_PUBLIC;
	return caller == need;
}

/* Every route, in an order in which a guest can walk its life (DELETE last); {h} is a guest
 * handle. Mirrors daemon/openapi.yaml's x-sevd-role. */
static const struct route {
	const char *method, *path;
	enum role need;
	const char *body; /* NULL: none */
} routes[] = {
    {"GET", "/healthz", R_PUBLIC, NULL},
    {"GET", "/metrics", R_READER, NULL}, /* public only with metrics_public */
    {"GET", "/v1/platform/id", R_PUBLIC, NULL},
    {"GET", "/v1/platform/certs", R_PUBLIC, NULL},
    {"GET", "/ui", R_PUBLIC, NULL},
    {"GET", "/ui/ui.css", R_PUBLIC, NULL},
    {"GET", "/ui/ui.js", R_PUBLIC, NULL},
    {"GET", "/v1/platform", R_READER, NULL},
    {"GET", "/v1/asids", R_READER, NULL},
    {"GET", "/v1/inventory", R_READER, NULL},
    {"GET", "/v1/snp/platform", R_READER, NULL},
    {"POST", "/v1/snp/platform/config", R_ADMIN, "{}"},
    {"POST", "/v1/snp/platform/vlek", R_ADMIN, NULL},
    {"POST", "/v1/snp/platform/commit", R_ADMIN, NULL},
    {"GET", "/v1/snp/certs", R_READER, NULL},
    {"PUT", "/v1/snp/certs", R_ADMIN, "{}"},
    {"DELETE", "/v1/snp/certs", R_ADMIN, NULL},
    {"GET", "/ui/state", R_READER, NULL},
    {"GET", "/v1/platform/pek-csr", R_ADMIN, NULL},
    {"POST", "/v1/platform/pek-cert", R_ADMIN, "{}"},
    {"POST", "/v1/platform/pdh", R_ADMIN, NULL},
    {"POST", "/v1/platform/pek", R_ADMIN, NULL},
    {"POST", "/v1/platform/init", R_ADMIN, NULL},
    {"POST", "/v1/platform/shutdown", R_ADMIN, NULL},
    {"POST", "/v1/platform/factory-reset", R_ADMIN, NULL},
    {"GET", "/v1/guests", R_READER, NULL},
    {"POST", "/v1/guests", R_LAUNCHER, "{\"policy\": 1, \"name\": \"roles\"}"},
    {"GET", "/v1/guests/{h}", R_READER, NULL},
    {"POST", "/v1/guests/{h}/data", R_LAUNCHER, NULL},
    {"POST", "/v1/guests/{h}/vmsa", R_LAUNCHER, NULL},
    {"GET", "/v1/guests/{h}/measurement", R_OWNER, NULL},
    {"POST", "/v1/guests/{h}/secret", R_LAUNCHER, "{}"},
    {"POST", "/v1/guests/{h}/finish", R_LAUNCHER, NULL},
    {"POST", "/v1/guests/{h}/activate", R_LAUNCHER, NULL},
    {"POST", "/v1/guests/{h}/deactivate", R_LAUNCHER, NULL},
    {"GET", "/v1/guests/{h}/attestation", R_OWNER, NULL},
    /* Migration: the migrator's (and admin's); on a guest that is not being sent
     * or received they get past authorization and answer 400/409. */
    {"POST", "/v1/guests/{h}/send", R_MIGRATOR, "{}"},
    {"GET", "/v1/guests/{h}/send/stream", R_MIGRATOR, NULL},
    {"POST", "/v1/guests/{h}/send/finish", R_MIGRATOR, NULL},
    {"POST", "/v1/guests/{h}/send/cancel", R_MIGRATOR, NULL},
    {"POST", "/v1/guests/{h}/receive", R_MIGRATOR, NULL},
    {"POST", "/v1/guests/{h}/receive/finish", R_MIGRATOR, NULL},
    /* The migrator too, but only for a guest being received (RUPDATE): on this one (LUPDATE)
     * the core refuses it, 403 forbidden, as the launcher's least role says. */
    {"DELETE", "/v1/guests/{h}", R_LAUNCHER, NULL},
};

/* Routes that change the platform for good: the admin's pass skips them (their effect on a
 * running guest would make the rest of the pass meaningless) and runs them at the end. */
static bool platform_mutation(const struct route *rt)
{
	return rt->need == R_ADMIN && strcmp(rt->method, "GET") != 0 &&
	       !strncmp(rt->path, "/v1/platform/", 13);
}

/* ---- callers ---- */

enum via { VIA_TLS, VIA_UNIX, VIA_UNIX_NOBODY };

static const struct caller {
	const char *name;
	enum via via;
	const char *cert; /* TLS client certificate dir/CERT.crt; NULL: none */
	enum role role;
} callers[] = {
    {"tls/admin", VIA_TLS, "admin", R_ADMIN},
    {"tls/launcher", VIA_TLS, "launcher", R_LAUNCHER},
    {"tls/reader", VIA_TLS, "reader", R_READER},
    {"tls/owner", VIA_TLS, "owner", R_OWNER},
    {"tls/migrator", VIA_TLS, "migrator", R_MIGRATOR},
    {"tls/no-certificate", VIA_TLS, NULL, R_PUBLIC},
    {"tls/unmapped-certificate", VIA_TLS, "nobody", R_PUBLIC},
    {"unix/root", VIA_UNIX, NULL, R_ADMIN},
    {"unix/nobody", VIA_UNIX_NOBODY, NULL, R_READER},
};

/* ---- certificates ---- */

/* A certificate for O=sevd-test,CN=cn written to dir/NAME.crt and dir/NAME.key. */
static struct pki_ident make_ident(const struct pki_ident *ca, const char *cn, enum pki_kind kind,
				   const char *name)
{
	struct pki_ident id = pki_ident_make(ca, "sevd-test", cn, kind);

	pki_ident_write(&id, dir, name);
	return id;
}

static void make_pki(void)
{
	static const char *const clients[] = {"admin",	  "launcher",	     "reader",
					      "owner",	  "migrator",	     "nobody",
					      "acme-launcher", "acme-owner",	     "acme-migrator",
					      "acme-reader",   "globex-launcher", "globex-owner",
					      "globex-migrator", "globex-reader"};
	struct pki_ident ca = make_ident(NULL, "sevd roles CA", PKI_CA, "ca"), id;
	char cn[64];

	id = make_ident(&ca, "localhost", PKI_SERVER, "server");
	pki_ident_free(&id);
	for (size_t i = 0; i < ELEMENTSOF(clients); i++) {
		snprintf(cn, sizeof(cn), "roles-%s", clients[i]);
		id = make_ident(&ca, cn, PKI_CLIENT, clients[i]);
		pki_ident_free(&id);
	}
	pki_ident_free(&ca);
}

/* ---- tenants ---- */

/* Two tenants, each with a principal of every role a guest route needs (the reader for the
 * lists), once as a client certificate (roles-TENANT-ROLE, client_cert_role ...:tenant=) and
 * once as a bearer token (token ...:tenant=); the admin certificate has no tenant. */
static const char *const tenants[] = {"acme", "globex"};
static const enum role tenant_roles[] = {R_LAUNCHER, R_OWNER, R_MIGRATOR, R_READER};

static void tenant_token(size_t t, size_t k, char *out, size_t size)
{
	snprintf(out, size, "roles-token-%s-%s-%u", tenants[t], role_names[tenant_roles[k]],
		 (unsigned)(t * 7 + k));
}

/* ---- sevd ---- */

static void sevd_start(void)
{
	_cleanup_free_ char *conf = path_join(dir, "sevd.conf");
	char psp[512];
	FILE *f = fopen(conf, "w");

	TU_CHECK(f != NULL, "cannot write %s", conf);
	fprintf(f, "tls_cert = %s/server.crt\ntls_key = %s/server.key\ntls_client_ca = %s/ca.crt\n",
		dir, dir, dir);
	/* The role matrix sends every destructive route: no limit (daemon-destructive-rate). */
	fprintf(f, "destructive_rate = 0\n");
	/* Full DNs (RFC 4514, most specific first) for two, bare CNs for the others. */
	fprintf(f, "client_cert_role = admin:CN=roles-admin,O=sevd-test\n"
		   "client_cert_role = launcher:roles-launcher\n"
		   "client_cert_role = reader:CN=roles-reader,O=sevd-test\n"
		   "client_cert_role = owner:roles-owner\n"
		   "client_cert_role = migrator:roles-migrator\n");
	/* The tenants' principals: a certificate and a token each, of every guest role. */
	for (size_t t = 0; t < ELEMENTSOF(tenants); t++)
		for (size_t k = 0; k < ELEMENTSOF(tenant_roles); k++) {
			char tok[96], hex[65];

			/* a DN for the launchers, a bare CN for the others */
			if (tenant_roles[k] == R_LAUNCHER)
				fprintf(f, "client_cert_role = %s:CN=roles-%s-%s,O=sevd-test:tenant=%s\n",
					role_names[tenant_roles[k]], tenants[t],
					role_names[tenant_roles[k]], tenants[t]);
			else
				fprintf(f, "client_cert_role = %s:roles-%s-%s:tenant=%s\n",
					role_names[tenant_roles[k]], tenants[t],
					role_names[tenant_roles[k]], tenants[t]);
			tenant_token(t, k, tok, sizeof(tok));
			pki_token_hash(tok, hex);
			fprintf(f, "token = %s:sha256:%s:tenant=%s\n", role_names[tenant_roles[k]],
				hex, tenants[t]);
		}
	fclose(f);
	port = tu_free_port();
	snprintf(psp, sizeof(psp), "emu:%s", emu.socket);
	sevd_pid = tu_sevd_start(&(struct tu_sevd_opts){.dir = dir, .psp = psp,
		.unix_path = unix_path, .tcp_scheme = "tls", .tcp_port = port, .config = conf});
}

/* ---- requests ---- */

struct resp {
	long status;
	union { /* what tu_curl_collect fills, under the names the test reads */
		struct tu_curl_buf buf;
		struct {
			char *body;
			size_t len;
		};
	};
};

/* A bearer token the next do_request sends (the tenants' token principals), or NULL; the
 * length of a binary body (a migration stream), 0: strlen. */
static const char *req_token;
static size_t req_len;

static void do_request(enum via via, const char *cert, const char *method, const char *path,
		       const char *body, struct resp *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[512], crt[600], key[600], ca[600];
	CURLcode cr;

	memset(out, 0, sizeof(*out));
	TU_CHECK(c != NULL, "curl_easy_init");
	if (via == VIA_TLS) {
		snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", port, path);
		snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
		if (cert) {
			snprintf(crt, sizeof(crt), "%s/%s.crt", dir, cert);
			snprintf(key, sizeof(key), "%s/%s.key", dir, cert);
			curl_easy_setopt(c, CURLOPT_SSLCERT, crt);
			curl_easy_setopt(c, CURLOPT_SSLKEY, key);
		}
	} else {
		snprintf(url, sizeof(url), "http://localhost%s", path);
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, unix_path);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tu_curl_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->buf);
	if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
				 (long)(req_len ? req_len : body ? strlen(body) : 0));
		if (body) /* JSON, or (a VMSA page) octets */
			h = curl_slist_append(h, body[0] == '{'
						     ? "Content-Type: application/json"
						     : "Content-Type: application/octet-stream");
	}
	if (req_token) {
		char auth[256];

		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", req_token);
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	cr = curl_easy_perform(c);
	TU_CHECK(cr == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(cr));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	if (!out->body)
		out->body = strdup("");
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

/* The same from a child that dropped to uid/gid nobody: the Unix socket's reader. */
static void request_as_nobody(const char *method, const char *path, const char *body,
			      struct resp *out)
{
	char line[32];
	size_t cap = 0;
	ssize_t n;
	int p[2], st;
	pid_t pid;
	FILE *f;

	TU_CHECK(pipe(p) == 0, "pipe");
	pid = fork();
	TU_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		struct resp r;

		close(p[0]);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		do_request(VIA_UNIX, NULL, method, path, body, &r);
		f = fdopen(p[1], "w");
		fprintf(f, "%ld\n%s", r.status, r.body);
		fclose(f);
		_exit(0);
	}
	close(p[1]);
	memset(out, 0, sizeof(*out));
	f = fdopen(p[0], "r");
	TU_CHECK(fgets(line, sizeof(line), f) != NULL, "child wrote no status");
	out->status = strtol(line, NULL, 10);
	n = getdelim(&out->body, &cap, '\0', f);
	out->len = n > 0 ? (size_t)n : 0;
	if (!out->body)
		out->body = strdup("");
	fclose(f);
	TU_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		 "request child failed (status 0x%x)", st);
}

static void request(const struct caller *c, const char *method, const char *path, const char *body,
		    struct resp *out)
{
	if (c->via == VIA_UNIX_NOBODY)
		request_as_nobody(method, path, body, out);
	else
		do_request(c->via, c->cert, method, path, body, out);
}

static const struct caller root = {"unix/root", VIA_UNIX, NULL, R_ADMIN};

/* Every sevd_commands_total line of /metrics (all firmware commands, by name and status):
 * refused calls must leave them as they were. /metrics itself runs no firmware command. */
static char *counters(void)
{
	struct resp r;
	char *out = calloc(1, 16384), *line, *save = NULL;

	TU_CHECK(out != NULL, "calloc");
	do_request(VIA_UNIX, NULL, "GET", "/metrics", NULL, &r);
	TU_CHECK(r.status == 200, "GET /metrics: %ld", r.status);
	for (line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, "sevd_commands_total{", 20) &&
		    strlen(out) + strlen(line) + 2 < 16384) {
			strcat(out, line);
			strcat(out, "\n");
		}
	free(r.body);
	TU_CHECK(strstr(out, "command=\"INIT\"") != NULL, "no INIT counter in /metrics: %s", out);
	return out;
}

/* GET /v1/guests as root, verbatim. */
static char *guest_list(void)
{
	struct resp r;

	do_request(VIA_UNIX, NULL, "GET", "/v1/guests", NULL, &r);
	TU_CHECK(r.status == 200, "GET /v1/guests: %ld %s", r.status, r.body);
	return r.body;
}

/* A new guest (as root), its handle. */
static long guest_new(void)
{
	struct resp r;
	json_object *o, *h;
	long handle;

	do_request(VIA_UNIX, NULL, "POST", "/v1/guests", "{\"policy\": 1, \"name\": \"roles\"}",
		   &r);
	TU_CHECK(r.status == 201, "POST /v1/guests: %ld %s", r.status, r.body);
	o = json_tokener_parse(r.body);
	TU_CHECK(o && json_object_object_get_ex(o, "handle", &h), "no handle: %s", r.body);
	handle = (long)json_object_get_int64(h);
	json_object_put(o);
	free(r.body);
	return handle;
}

static void expand(const char *pattern, long handle, char *out, size_t size)
{
	const char *p = strstr(pattern, "{h}");

	if (!p)
		snprintf(out, size, "%s", pattern);
	else
		snprintf(out, size, "%.*s%ld%s", (int)(p - pattern), pattern, handle, p + 3);
}

/* ---- the cases ---- */

/* The table mirrors the document: same operations, same least role. */
static void test_table_is_the_document(void)
{
	const char *root_dir = getenv("SEVD_SOURCE_ROOT");
	_cleanup_free_ char *path = NULL;
	json_object *doc, *paths, *item, *op, *xr;
	size_t documented = 0;
	char lower[16];

	TU_CHECK(root_dir != NULL, "SEVD_SOURCE_ROOT not set");
	path = path_join(root_dir, "daemon/openapi.yaml");
	doc = json_object_from_file(path);
	TU_CHECK(doc && json_object_object_get_ex(doc, "paths", &paths), "cannot read %s", path);
	for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
		size_t k;

		for (k = 0; routes[i].method[k] && k < sizeof(lower) - 1; k++)
			lower[k] = (char)(routes[i].method[k] | 0x20);
		lower[k] = '\0';
		TU_CHECK(json_object_object_get_ex(paths, routes[i].path, &item) &&
			     json_object_object_get_ex(item, lower, &op) &&
			     json_object_object_get_ex(op, "x-sevd-role", &xr),
			 "%s %s has no x-sevd-role in %s", routes[i].method, routes[i].path, path);
		TU_CHECK(!strcmp(json_object_get_string(xr), role_names[routes[i].need]),
			 "%s %s: the document says %s, this test %s", routes[i].method,
			 routes[i].path, json_object_get_string(xr), role_names[routes[i].need]);
	}
	json_object_object_foreach(paths, p, it)
	{
		json_object_object_foreach(it, m, o)
		{
			(void)p;
			(void)m;
			if (json_object_object_get_ex(o, "x-sevd-role", &xr))
				documented++;
		}
	}
	TU_CHECK(documented == ELEMENTSOF(routes),
		 "%zu documented operations, %zu in this test's table: a route is missing here",
		 documented, ELEMENTSOF(routes));
	json_object_put(doc);
}

/* Every refusal of every caller: 401/403 with the right error code, and nothing done. */
static void test_refusals(long handle)
{
	/* the list first: GET /v1/guests itself runs GUEST_STATUS */
	_cleanup_free_ char *list0 = guest_list(), *before = counters(), *after = NULL,
			    *list1 = NULL;
	unsigned refused = 0;
	char path[256];

	for (size_t c = 0; c < ELEMENTSOF(callers); c++)
		for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
			const struct route *rt = &routes[i];
			bool anon = callers[c].via == VIA_TLS && callers[c].role == R_PUBLIC;
			long want = anon ? 401 : 403;
			struct resp r;

			if (role_allows(rt->need, callers[c].role))
				continue;
			expand(rt->path, handle, path, sizeof(path));
			request(&callers[c], rt->method, path, rt->body, &r);
			TU_CHECK(r.status == want &&
				     strstr(r.body, anon ? "\"unauthorized\"" : "\"forbidden\""),
				 "%s %s as %s (%s): HTTP %ld, expected %ld: %s", rt->method, path,
				 callers[c].name, role_names[callers[c].role], r.status, want,
				 r.body);
			free(r.body);
			refused++;
		}
	after = counters();
	list1 = guest_list();
	TU_CHECK(!strcmp(before, after), "refused calls ran firmware commands:\n%s---\n%s", before,
		 after);
	TU_CHECK(!strcmp(list0, list1), "refused calls changed the guests:\n%s\n---\n%s", list0,
		 list1);
	/* 43 routes: 6 public, 9 reader (/metrics, /v1/snp/platform and GET /v1/snp/certs among
	 * them), 2 owner, 8 launcher, 6 migrator (migration),
	 * 12 admin (5 SNP). Refused: public (two TLS callers) 37, reader (TLS and Unix)
	 * 28, owner 26, launcher 20, migrator 22 (POST /v1/guests without "receive" among them). */
	TU_CHECK(refused == 2 * 37 + 2 * 28 + 26 + 20 + 22, "%u refusals", refused);
	printf("%u refusals, all 401/403, firmware counters and guest list unchanged\n", refused);
}

/* Every allowed call of a caller, on a guest of its own: past authorization, reads 200. */
static unsigned allowed_pass(const struct caller *c)
{
	long handle = guest_new(), created = -1;
	unsigned served = 0;
	char path[256];

	for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
		const struct route *rt = &routes[i];
		/* the send stream of a guest that is not being sent answers 409 */
		bool read = !strcmp(rt->method, "GET") && rt->need != R_OWNER &&
			    !strstr(rt->path, "/send/stream");
		struct resp r;

		if (!role_allows(rt->need, c->role) || platform_mutation(rt))
			continue;
		expand(rt->path, handle, path, sizeof(path));
		request(c, rt->method, path, rt->body, &r);
		TU_CHECK(r.status != 401 && r.status != 403 && r.status != 404 && r.status != 405 &&
			     r.status < 500,
			 "%s %s as %s: HTTP %ld: %s", rt->method, path, c->name, r.status, r.body);
		TU_CHECK(!read || r.status == 200, "%s %s as %s: HTTP %ld: %s", rt->method, path,
			 c->name, r.status, r.body);
		if (!strcmp(rt->method, "POST") && !strcmp(rt->path, "/v1/guests")) {
			json_object *o = json_tokener_parse(r.body), *h;

			TU_CHECK(r.status == 201 && o && json_object_object_get_ex(o, "handle", &h),
				 "%s creates no guest: %ld %s", c->name, r.status, r.body);
			created = (long)json_object_get_int64(h);
			json_object_put(o);
		}
		if (!strcmp(rt->method, "DELETE"))
			TU_CHECK(r.status == 200 || r.status == 204, "%s cannot delete: %ld %s",
				 c->name, r.status, r.body);
		free(r.body);
		served++;
	}
	if (created >= 0) { /* the guest its POST /v1/guests made: the caller removes it too */
		struct resp r;

		expand("/v1/guests/{h}", created, path, sizeof(path));
		request(c, "DELETE", path, NULL, &r);
		TU_CHECK(r.status == 200 || r.status == 204, "DELETE %s as %s: %ld %s", path,
			 c->name, r.status, r.body);
		free(r.body);
	}
	if (!role_allows(R_LAUNCHER, c->role)) { /* its guest is still there: root removes it */
		struct resp r;

		expand("/v1/guests/{h}", handle, path, sizeof(path));
		do_request(VIA_UNIX, NULL, "DELETE", path, NULL, &r);
		TU_CHECK(r.status == 200 || r.status == 204, "DELETE %s: %ld %s", path, r.status,
			 r.body);
		free(r.body);
	}
	return served;
}

/* The admin's platform mutations, last: each runs (counters move), none is refused. */
static void test_admin_mutations(const struct caller *c)
{
	/* PDH_GEN and PEK_GEN want INIT, FACTORY_RESET wants UNINIT (SEV-FACTS.md) */
	static const char *const order[] = {"/v1/platform/pdh",		  "/v1/platform/pek",
					    "/v1/platform/pek-cert",	  "/v1/platform/shutdown",
					    "/v1/platform/factory-reset", "/v1/platform/init",
					    "/v1/snp/platform/config",	  "/v1/snp/platform/commit",
					    "/v1/snp/platform/vlek"};
	_cleanup_free_ char *before = counters(), *after = NULL;

	for (size_t i = 0; i < ELEMENTSOF(order); i++) {
		struct resp r;
		bool certs = !strcmp(order[i], "/v1/platform/pek-cert");
		bool vlek = !strcmp(order[i], "/v1/snp/platform/vlek");
		bool config = !strcmp(order[i], "/v1/snp/platform/config");

		/* an empty object is not a certificate, an empty body not a hashstick: past
		 * authorization, then 400; SNP config {} is the default configuration */
		request(c, "POST", order[i], certs || config ? "{}" : NULL, &r);
		TU_CHECK(r.status == (certs || vlek ? 400 : 200), "POST %s as %s: HTTP %ld: %s", order[i],
			 c->name, r.status, r.body);
		free(r.body);
	}
	after = counters();
	TU_CHECK(strcmp(before, after) != 0, "the admin's mutations ran no firmware command");
}

/* ---- tenant × op: the same routes, client-certificate and token principals of tenants ---- */

enum cred { CRED_CERT, CRED_TOKEN };
static const char *const cred_names[] = {"certificate", "token"};

static size_t role_index(enum role r)
{
	for (size_t k = 0; k < ELEMENTSOF(tenant_roles); k++)
		if (tenant_roles[k] == r)
			return k;
	TU_CHECK(false, "no tenant principal of role %s", role_names[r]);
	return 0;
}

/* A request over TLS as tenant t's principal of role r: its client certificate, or its
 * token on a connection without one. */
static void tenant_request(enum cred cr, size_t t, enum role r, const char *method,
			   const char *path, const char *body, struct resp *out)
{
	char name[64], tok[96];

	if (cr == CRED_CERT) {
		snprintf(name, sizeof(name), "%s-%s", tenants[t], role_names[r]);
		do_request(VIA_TLS, name, method, path, body, out);
		return;
	}
	tenant_token(t, role_index(r), tok, sizeof(tok));
	req_token = tok;
	do_request(VIA_TLS, NULL, method, path, body, out);
	req_token = NULL;
}

/* The core op each guest route asks first, whose refusal /metrics counts
 * (sevd_core_refusals_total{op,reason="tenant"}); a route missing here fails the test. */
static const struct {
	const char *method, *path, *op;
} route_ops[] = {
    {"GET", "/v1/guests/{h}", "GUEST_INFO"},
    {"POST", "/v1/guests/{h}/data", "GUEST_DATA_BEGIN"},
    {"POST", "/v1/guests/{h}/vmsa", "GUEST_VMSA"},
    {"GET", "/v1/guests/{h}/measurement", "GUEST_MEASURE"},
    {"POST", "/v1/guests/{h}/secret", "GUEST_SECRET"},
    {"POST", "/v1/guests/{h}/finish", "GUEST_FINISH"},
    {"POST", "/v1/guests/{h}/activate", "GUEST_ACTIVATE"},
    {"POST", "/v1/guests/{h}/deactivate", "GUEST_DEACTIVATE"},
    {"GET", "/v1/guests/{h}/attestation", "GUEST_ATTEST"},
    {"POST", "/v1/guests/{h}/send", "GUEST_SEND_START"},
    {"GET", "/v1/guests/{h}/send/stream", "GUEST_INFO"}, /* asked before the stream starts */
    {"POST", "/v1/guests/{h}/send/finish", "GUEST_SEND_FINISH"},
    {"POST", "/v1/guests/{h}/send/cancel", "GUEST_SEND_CANCEL"},
    {"POST", "/v1/guests/{h}/receive", "GUEST_RECEIVE_BATCH"}, /* the records, in batches */
    {"POST", "/v1/guests/{h}/receive/finish", "GUEST_RECEIVE_FINISH"},
    {"DELETE", "/v1/guests/{h}", "GUEST_DELETE"},
};

static const char *route_op(const struct route *rt)
{
	for (size_t i = 0; i < ELEMENTSOF(route_ops); i++)
		if (!strcmp(route_ops[i].method, rt->method) && !strcmp(route_ops[i].path, rt->path))
			return route_ops[i].op;
	TU_CHECK(false, "%s %s: no core op in route_ops (add the guest route to the tenant "
			"matrix)",
		 rt->method, rt->path);
	return NULL;
}

static char *b64_zeros(size_t n)
{
	_cleanup_free_ uint8_t *z = calloc(1, n);
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	TU_CHECK(z && out, "alloc");
	EVP_EncodeBlock((unsigned char *)out, z, (int)n);
	return out;
}

/* A body that gets past the worker's own checks, so that the request reaches the core
 * (an empty secret, send or VMSA body is a 400 of the worker's): a secret packet's shape (a
 * 52-byte header, a payload), the target's certificates (zero bytes: four of their sizes, ASK and ARK), a
 * 4096-byte page. */
static char *reaching_body(const struct route *rt)
{
	char *out;

	if (strstr(rt->path, "/secret")) {
		_cleanup_free_ char *hdr = b64_zeros(52), *pl = b64_zeros(16);

		TU_CHECK(asprintf(&out, "{\"header\": \"%s\", \"payload\": \"%s\"}", hdr, pl) > 0,
			 "asprintf");
		return out;
	}
	if (!strcmp(rt->method, "POST") && strstr(rt->path, "/send") &&
	    !strstr(rt->path, "/send/")) {
		_cleanup_free_ char *c = b64_zeros(0x824), *amd = b64_zeros(64);

		TU_CHECK(asprintf(&out, "{\"pdh\": \"%s\", \"pek\": \"%s\", \"oca\": \"%s\", "
					"\"cek\": \"%s\", \"ask\": \"%s\", \"ark\": \"%s\"}",
				  c, c, c, c, amd, amd) > 0,
			 "asprintf");
		return out;
	}
	if (!strcmp(rt->path, "/v1/guests/{h}/receive")) {
		/* one record (worker/api-guest.c, "migration"): offset 0, a 16-byte packet, its
		 * header zero: req_len says the length */
		req_len = 8 + 4 + sizeof(struct sev_packet_header) + 16;
		out = calloc(1, req_len + 1);
		TU_CHECK(out, "alloc");
		out[8] = 16; /* not '{': sent as octets */
		return out;
	}
	if (strstr(rt->path, "/vmsa")) { /* one page */
		out = malloc(4097);
		TU_CHECK(out, "alloc");
		memset(out, 'v', 4096);
		out[4096] = '\0';
		return out;
	}
	return rt->body ? strdup(rt->body) : NULL;
}

/* A series' value in a /metrics text (0 when absent). */
static uint64_t metric(const char *text, const char *series)
{
	const char *p = text;
	size_t n = strlen(series);

	while ((p = strstr(p, series)))
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
		else
			p += n;
	return 0;
}

static uint64_t tenant_refusals(const char *op)
{
	struct resp r;
	char series[128];
	uint64_t v;

	snprintf(series, sizeof(series), "sevd_core_refusals_total{op=\"%s\",reason=\"tenant\"}",
		 op);
	do_request(VIA_UNIX, NULL, "GET", "/metrics", NULL, &r);
	TU_CHECK(r.status == 200, "GET /metrics: %ld", r.status);
	v = metric(r.body, series);
	free(r.body);
	return v;
}

/* A launch as tenant t's launcher: 201, in tenant t; its handle. */
static long tenant_launch(enum cred cr, size_t t, const char *name)
{
	char body[160];
	struct resp r;
	json_object *o, *h, *tn;
	long handle;

	snprintf(body, sizeof(body), "{\"policy\": 1, \"name\": \"%s\"}", name);
	tenant_request(cr, t, R_LAUNCHER, "POST", "/v1/guests", body, &r);
	TU_CHECK(r.status == 201, "%s's launch (%s): %ld %s", tenants[t], cred_names[cr], r.status,
		 r.body);
	o = json_tokener_parse(r.body);
	TU_CHECK(o && json_object_object_get_ex(o, "handle", &h) &&
		     json_object_object_get_ex(o, "tenant", &tn) &&
		     !strcmp(json_object_get_string(tn), tenants[t]),
		 "%s's launch (%s) is not in its tenant: %s", tenants[t], cred_names[cr], r.body);
	handle = (long)json_object_get_int64(h);
	json_object_put(o);
	free(r.body);
	return handle;
}

/* What tenant t's reader (and owner, launcher, migrator: lists are the reader's) sees of the
 * guests in GET /v1/guests, GET /ui/state?guests=1, GET /metrics and GET /v1/asids: its own
 * guest's name, never the other tenant's (GET /v1/asids shows a tenant no holders). Each
 * request follows the admin's own GET of that view, so that the worker holds the published
 * copy with every tenant's guests and ASID holders, which it must not answer a tenant. */
static void tenant_views(enum cred cr, size_t t, const char *own, const char *other)
{
	static const char *const views[] = {"/v1/guests", "/ui/state?guests=1", "/metrics",
					    "/v1/asids"};

	for (size_t k = 0; k < ELEMENTSOF(tenant_roles); k++)
		for (size_t i = 0; i < ELEMENTSOF(views); i++) {
			struct resp r;

			do_request(VIA_TLS, "admin", "GET", views[i], NULL, &r);
			TU_CHECK(r.status == 200, "GET %s as admin: %ld %s", views[i], r.status,
				 r.body);
			free(r.body);
			tenant_request(cr, t, tenant_roles[k], "GET", views[i], NULL, &r);
			TU_CHECK(r.status == 200, "GET %s as %s's %s (%s): %ld %s", views[i],
				 tenants[t], role_names[tenant_roles[k]], cred_names[cr], r.status,
				 r.body);
			TU_CHECK(!strstr(r.body, other),
				 "GET %s as %s's %s (%s) shows the other tenant's guest %s: %s",
				 views[i], tenants[t], role_names[tenant_roles[k]], cred_names[cr],
				 other, r.body);
			TU_CHECK(!strcmp(views[i], "/metrics") || !strcmp(views[i], "/v1/asids") ||
				     strstr(r.body, own),
				 "GET %s as %s's %s (%s) does not show its own guest %s: %s",
				 views[i], tenants[t], role_names[tenant_roles[k]], cred_names[cr],
				 own, r.body);
			free(r.body);
		}
}

/* One credential kind: tenant a's principals try every guest route on tenant v's guest
 * (each with the role the route needs) and are refused by the core: 403 core_refused,
 * counted under the route's op with reason tenant, no firmware command, the guest list as it
 * was; a launch into v (squatting) is refused; the lists show each tenant its own guest only
 * and the admin both; then v's own principals walk the same routes on their guest, each past
 * authorization, and delete it. */
static unsigned tenant_pass(enum cred cr, size_t v)
{
	size_t a = 1 - v;
	char vname[64], aname[64], path[256], body[160];
	long hv, ha;
	unsigned refused = 0;
	struct resp r;

	snprintf(vname, sizeof(vname), "tm-%s-%s-victim", tenants[v], cred_names[cr]);
	snprintf(aname, sizeof(aname), "tm-%s-%s-other", tenants[a], cred_names[cr]);
	hv = tenant_launch(cr, v, vname);
	ha = tenant_launch(cr, a, aname);
	snprintf(body, sizeof(body), "{\"policy\": 1, \"name\": \"squat\", \"tenant\": \"%s\"}",
		 tenants[v]);
	tenant_request(cr, a, R_LAUNCHER, "POST", "/v1/guests", body, &r);
	TU_CHECK(r.status == 403, "%s's launch into %s (%s): %ld %s", tenants[a], tenants[v],
		 cred_names[cr], r.status, r.body);
	free(r.body);
	{
		_cleanup_free_ char *list0 = guest_list(), *before = counters(), *after = NULL,
				    *list1 = NULL;

		for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
			const struct route *rt = &routes[i];
			_cleanup_free_ char *b = NULL;
			const char *op;
			uint64_t n0;

			if (!strstr(rt->path, "{h}"))
				continue;
			op = route_op(rt);
			n0 = tenant_refusals(op);
			b = reaching_body(rt);
			expand(rt->path, hv, path, sizeof(path));
			if (strstr(rt->path, "/attestation")) /* the nonce the worker wants */
				strcat(path, "?nonce=00112233445566778899aabbccddeeff");
			tenant_request(cr, a, rt->need, rt->method, path, b, &r);
			req_len = 0;
			TU_CHECK(r.status == 403 && strstr(r.body, "core_refused"),
				 "%s %s as %s's %s (%s) on %s's guest: HTTP %ld, expected 403 "
				 "core_refused: %s",
				 rt->method, path, tenants[a], role_names[rt->need], cred_names[cr],
				 tenants[v], r.status, r.body);
			free(r.body);
			TU_CHECK(tenant_refusals(op) == n0 + 1,
				 "%s %s as %s's %s (%s): sevd_core_refusals_total{op=\"%s\","
				 "reason=\"tenant\"} went from %llu to %llu",
				 rt->method, path, tenants[a], role_names[rt->need], cred_names[cr],
				 op, (unsigned long long)n0,
				 (unsigned long long)tenant_refusals(op));
			refused++;
		}
		after = counters();
		list1 = guest_list();
		TU_CHECK(!strcmp(before, after),
			 "another tenant's refused calls ran firmware commands:\n%s---\n%s", before,
			 after);
		TU_CHECK(!strcmp(list0, list1),
			 "another tenant's refused calls changed the guests:\n%s\n---\n%s", list0,
			 list1);
	}
	tenant_views(cr, v, vname, aname);
	tenant_views(cr, a, aname, vname);
	{
		static const char *const views[] = {"/v1/guests", "/ui/state?guests=1"};

		for (size_t i = 0; i < ELEMENTSOF(views); i++) {
			do_request(VIA_TLS, "admin", "GET", views[i], NULL, &r);
			TU_CHECK(r.status == 200 && strstr(r.body, vname) && strstr(r.body, aname),
				 "the admin's certificate sees both tenants' guests in %s: %ld %s",
				 views[i], r.status, r.body);
			free(r.body);
		}
	}
	/* v's own principals, each route's role, on v's guest: past authorization. */
	for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
		const struct route *rt = &routes[i];

		if (!strstr(rt->path, "{h}"))
			continue;
		expand(rt->path, hv, path, sizeof(path));
		tenant_request(cr, v, rt->need, rt->method, path, rt->body, &r);
		TU_CHECK(r.status != 401 && r.status != 403 && r.status != 404 && r.status != 405 &&
			     r.status < 500 && !strstr(r.body, "core_refused"),
			 "%s %s as %s's %s (%s) on its own guest: HTTP %ld: %s", rt->method, path,
			 tenants[v], role_names[rt->need], cred_names[cr], r.status, r.body);
		TU_CHECK(strcmp(rt->method, "DELETE") || r.status == 200 || r.status == 204,
			 "%s cannot delete its guest (%s): %ld %s", tenants[v], cred_names[cr],
			 r.status, r.body);
		free(r.body);
	}
	expand("/v1/guests/{h}", ha, path, sizeof(path));
	tenant_request(cr, a, R_LAUNCHER, "DELETE", path, NULL, &r);
	TU_CHECK(r.status == 200 || r.status == 204, "%s's DELETE of its guest (%s): %ld %s",
		 tenants[a], cred_names[cr], r.status, r.body);
	free(r.body);
	return refused;
}

static void test_tenants(void)
{
	unsigned refused = tenant_pass(CRED_CERT, 0) + tenant_pass(CRED_TOKEN, 1);

	/* 16 guest routes, by certificate (globex on acme's guest) and by token (acme on
	 * globex's) */
	TU_CHECK(refused == 2 * ELEMENTSOF(route_ops), "%u tenant refusals", refused);
	printf("%u tenant refusals by the core (certificates and tokens), each counted\n",
	       refused);
}

static void test_allowed(long handle)
{
	unsigned served = 0;
	char path[64];
	struct resp r;

	/* the refusals' guest goes first: the platform mutations want no guest */
	expand("/v1/guests/{h}", handle, path, sizeof(path));
	do_request(VIA_UNIX, NULL, "DELETE", path, NULL, &r);
	TU_CHECK(r.status == 200 || r.status == 204, "DELETE %s: %ld %s", path, r.status, r.body);
	free(r.body);

	for (size_t c = 0; c < ELEMENTSOF(callers); c++)
		served += allowed_pass(&callers[c]);
	/* Without the 6 platform mutations (the SNP ones, default config and a commit of what
	 * runs, are in the pass, and /v1/snp/certs, whose PUT {} is 400): admin (TLS and Unix) 37,
	 * launcher 23, reader (TLS and Unix) 15, owner 17, migrator 21, public (two TLS callers) 6. */
	TU_CHECK(served == 2 * 37 + 23 + 2 * 15 + 17 + 21 + 2 * 6, "%u allowed calls", served);
	printf("%u allowed calls past authorization\n", served);
	{
		_cleanup_free_ char *list = guest_list();

		TU_CHECK(!strcmp(list, "{\"guests\":[]}") || !strstr(list, "\"handle\""),
			 "guests left over: %s", list);
	}
	test_admin_mutations(&callers[0]);
	test_admin_mutations(&root);
}

int main(void)
{
	long handle;
	int st;

	if (!getenv("SEVD_EXE") || !getenv("SEV_PSP_EMU_EXE"))
		tu_skip("SEVD_EXE or SEV_PSP_EMU_EXE not set (run through meson test)");
	if (geteuid() != 0)
		tu_skip("not root: the Unix socket's admin is uid 0 and its reader a setuid child");
	test_table_is_the_document();
	TU_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == 0, "curl_global_init");
	signal(SIGPIPE, SIG_IGN);
	dir = tu_mkdtemp();
	chmod(dir, 0755); /* the nobody client must reach the socket */
	snprintf(unix_path, sizeof(unix_path), "%s/api.sock", dir);
	make_pki();
	/* With SNP: every route, GET /v1/snp/platform too, is served beside it. */
	static const char *const emu_args[] = { "--snp", NULL };

	TU_CHECK(tu_emu_start(dir, emu_args, &emu) == 0, "emulator did not start");
	sevd_start();
	handle = guest_new();
	test_refusals(handle);
	test_tenants();
	test_allowed(handle);
	st = tu_stop(sevd_pid, 20000);
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sevd did not exit cleanly: 0x%x", st);
	tu_emu_stop(&emu);
	tu_rmtree(dir);
	free(dir);
	curl_global_cleanup();
	tu_done("daemon-roles-tls");
}
