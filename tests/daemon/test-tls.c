/* sevd's TLS listener against the real sev-psp-emu and sevd. The
 * test makes its own CA, server and client certificates with OpenSSL (nothing committed), then
 * speaks HTTPS with libcurl: the server verifies against the CA (and not without it), a client
 * certificate mapped to admin may POST /v1/platform/pdh, one mapped to reader gets 403, an
 * unmapped one or one from another CA gets public endpoints only (401 elsewhere) with the
 * firmware counters unmoved, bearer tokens work over TLS, TLS 1.1 is refused while TLS 1.2 is
 * served, and sevd refuses to start with plain TCP off loopback or without allow_plain_tcp. */
#include <curl/curl.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"
#include "daemon/worker/auth.h"
#include "daemon/sevd-config.h"
#include "tests/curlutil.h"
#include "tests/daemon/pki-util.h"
#include "tests/testutil.h"

#define TOKEN_ADMIN "tls-admin-token-41d9"

static char *dir;
static struct tu_emu emu;
static pid_t sevd_pid;
static int port;
static char unix_path[400];

/* ---- certificates ---- */

static void make_pki(void)
{
	struct pki_ident ca = pki_ident_make(NULL, "sevd-test", "sevd test CA", PKI_CA);
	struct pki_ident rogue = pki_ident_make(NULL, "sevd-test", "rogue CA", PKI_CA);
	struct pki_ident ids[] = {
	    pki_ident_make(&ca, "sevd-test", "localhost", PKI_SERVER),
	    pki_ident_make(&ca, "sevd-test", "tls-admin", PKI_CLIENT),
	    pki_ident_make(&ca, "sevd-test", "tls-reader", PKI_CLIENT),
	    pki_ident_make(&ca, "sevd-test", "tls-nobody", PKI_CLIENT),
	    /* the admin's subject, from a CA sevd does not trust */
	    pki_ident_make(&rogue, "sevd-test", "tls-admin", PKI_CLIENT),
	};
	static const char *const names[] = {"server", "admin", "reader", "nobody", "rogue"};

	pki_ident_write(&ca, dir, "ca");
	for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
		pki_ident_write(&ids[i], dir, names[i]);
		pki_ident_free(&ids[i]);
	}
	pki_ident_free(&ca);
	pki_ident_free(&rogue);
}

/* ---- sevd ---- */

static void write_config(const char *path)
{
	FILE *f = fopen(path, "w");
	uint8_t h[32];
	_cleanup_free_ char *hex = NULL;

	TU_CHECK(f != NULL, "cannot write %s", path);
	TU_CHECK(sevd_auth_hash(TOKEN_ADMIN, h) == 0, "hash");
	hex = hex_encode(h, sizeof(h));
	fprintf(f, "token = admin:sha256:%s\n", hex);
	fprintf(f, "tls_cert = %s/server.crt\ntls_key = %s/server.key\ntls_client_ca = %s/ca.crt\n",
		dir, dir, dir);
	/* The admin by full DN (RFC 4514, most specific first), the reader by CN. */
	fprintf(f, "client_cert_role = admin:CN=tls-admin,O=sevd-test\n");
	fprintf(f, "client_cert_role = reader:tls-reader\n");
	fclose(f);
}

/* Run sevd with extra arguments until it exits by itself (bounded); its output in *log. */
static int sevd_run_fail(const char *listen, const char *extra, char **log)
{
	_cleanup_free_ char *conf = path_join(dir, "sevd.conf"), *state = path_join(dir, "state");
	_cleanup_free_ char *logp = path_join(dir, "refused.log");
	char psp[512], *argv[12];
	int n = 0, st = 0;
	size_t len;

	snprintf(psp, sizeof(psp), "emu:%s", emu.socket);
	argv[n++] = (char *)tu_exe("SEVD_EXE");
	argv[n++] = (char *)"--psp";
	argv[n++] = psp;
	argv[n++] = (char *)"--state-dir";
	argv[n++] = state;
	argv[n++] = (char *)"--config";
	argv[n++] = conf;
	argv[n++] = (char *)"--listen";
	argv[n++] = (char *)listen;
	if (extra)
		argv[n++] = (char *)extra;
	argv[n] = NULL;
	pid_t pid = tu_spawn(argv, logp);
	for (int i = 0; i < 300 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(100 * 1000);
	if (waitpid(pid, NULL, WNOHANG) == 0) {
		st = tu_stop(pid, 5000);
		TU_CHECK(false, "sevd --listen %s kept running", listen);
	}
	*log = (char *)tu_read_file(logp, &len);
	TU_CHECK(*log != NULL, "no log");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}


static void sevd_start(void)
{
	_cleanup_free_ char *conf = path_join(dir, "sevd.conf");
	char psp[512];

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

/* HTTPS to sevd as client NAME (dir/NAME.crt; NULL: no certificate), verifying the server
 * against dir/ca.crt when with_ca (else against the system store). */
static CURLcode https(const char *client, bool with_ca, const char *token, const char *method,
		      const char *path, struct resp *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[256], auth[128], crt[600], key[600], ca[600];
	CURLcode cr;

	memset(out, 0, sizeof(*out));
	TU_CHECK(c != NULL, "curl_easy_init");
	snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", port, path);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tu_curl_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->buf);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (with_ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	if (client) {
		snprintf(crt, sizeof(crt), "%s/%s.crt", dir, client);
		snprintf(key, sizeof(key), "%s/%s.key", dir, client);
		curl_easy_setopt(c, CURLOPT_SSLCERT, crt);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	cr = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	if (!out->body)
		out->body = strdup("");
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return cr;
}

static void expect(const char *client, const char *token, const char *method, const char *path,
		   long status)
{
	struct resp r;
	CURLcode cr = https(client, true, token, method, path, &r);

	TU_CHECK(cr == CURLE_OK, "%s %s as %s: %s", method, path, client ? client : "-",
		 curl_easy_strerror(cr));
	TU_CHECK(r.status == status, "%s %s as %s/%s: HTTP %ld, expected %ld: %s", method, path,
		 client ? client : "-", token ? "token" : "-", r.status, status, r.body);
	free(r.body);
}

/* GET /metrics over the Unix socket: the firmware-command counter lines of the mutating
 * commands (refused requests must leave them as they were). */
static char *counters(void)
{
	static const char *const cmds[] = {"\"INIT\"",	  "\"SHUTDOWN\"", "\"FACTORY_RESET\"",
					   "\"PEK_GEN\"", "\"PDH_GEN\"",  "\"PEK_CERT_IMPORT\""};
	CURL *c = curl_easy_init();
	struct resp r = {0};
	char *out = calloc(1, 8192), *line, *save = NULL;

	TU_CHECK(c && out, "curl");
	curl_easy_setopt(c, CURLOPT_URL, "http://localhost/metrics");
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, unix_path);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tu_curl_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.buf);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	TU_CHECK(curl_easy_perform(c) == CURLE_OK && r.body, "GET /metrics");
	curl_easy_cleanup(c);
	for (line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		for (size_t i = 0; i < ELEMENTSOF(cmds); i++)
			if (strstr(line, "sevd_commands_total") && strstr(line, cmds[i]) &&
			    strlen(out) + strlen(line) + 2 < 8192) {
				strcat(out, line);
				strcat(out, "\n");
			}
	free(r.body);
	return out;
}

/* ---- the cases ---- */

static void test_server_verified(void)
{
	struct resp r;
	CURLcode cr;

	expect(NULL, NULL, "GET", "/healthz", 200);
	/* Without our CA the server's certificate is not trusted: the CA check is real. */
	cr = https(NULL, false, NULL, "GET", "/healthz", &r);
	TU_CHECK(cr == CURLE_PEER_FAILED_VERIFICATION || cr == CURLE_SSL_CACERT_BADFILE,
		 "server certificate accepted without the test CA: %s", curl_easy_strerror(cr));
	free(r.body);
}

static void test_client_certs(void)
{
	_cleanup_free_ char *before = counters(), *mid = NULL, *after = NULL;

	TU_CHECK(strstr(before, "\"INIT\"") != NULL, "no INIT counter in /metrics: %s", before);
	/* reader: reads, but 403 on an admin route */
	expect("reader", NULL, "GET", "/v1/platform", 200);
	expect("reader", NULL, "POST", "/v1/platform/pdh", 403);
	expect("reader", NULL, "POST", "/v1/platform/pek", 403);
	/* a certificate from the CA with no mapping, and the admin's subject from another CA */
	static const char *const anon[] = {"nobody", "rogue", NULL};
	for (size_t i = 0; i < ELEMENTSOF(anon); i++) {
		expect(anon[i], NULL, "GET", "/healthz", 200);
		expect(anon[i], NULL, "GET", "/v1/platform/id", 200);
		expect(anon[i], NULL, "GET", "/v1/platform", 401);
		expect(anon[i], NULL, "POST", "/v1/platform/pdh", 401);
		expect(anon[i], NULL, "POST", "/v1/platform/factory-reset", 401);
	}
	mid = counters();
	TU_CHECK(!strcmp(before, mid), "refused requests moved firmware counters:\n%s---\n%s",
		 before, mid);
	/* admin by certificate: PDH_GEN runs */
	expect("admin", NULL, "GET", "/v1/platform", 200);
	expect("admin", NULL, "POST", "/v1/platform/pdh", 200);
	after = counters();
	TU_CHECK(strcmp(mid, after) != 0 && strstr(after, "\"PDH_GEN\""),
		 "admin's PDH_GEN did not move the counters: %s", after);
}

static void test_tokens(void)
{
	_cleanup_free_ char *before = counters(), *after = NULL;

	expect(NULL, TOKEN_ADMIN, "POST", "/v1/platform/pdh", 200);
	/* a token decides alone: a bad one is 401 even beside an admin certificate */
	expect("admin", "not-a-token", "POST", "/v1/platform/pdh", 401);
	expect(NULL, NULL, "POST", "/v1/platform/pdh", 401);
	after = counters();
	TU_CHECK(strcmp(before, after) != 0, "the token's PDH_GEN did not run");
}

/* A raw OpenSSL handshake limited to one protocol version (security level 0, so the client
 * itself would allow TLS 1.1): true when the server completes it. */
static bool handshake(int version)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
	struct timeval tv = {.tv_sec = 20};
	SSL *ssl;

	TU_CHECK(ctx && fd >= 0, "SSL_CTX_new");
	SSL_CTX_set_security_level(ctx, 0);
	TU_CHECK(SSL_CTX_set_min_proto_version(ctx, version) == 1 &&
		     SSL_CTX_set_max_proto_version(ctx, version) == 1 &&
		     SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0") == 1,
		 "protocol version 0x%x", version);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	TU_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect");
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	ok = SSL_connect(ssl) == 1 && SSL_version(ssl) == version;
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return ok;
}

static void test_versions(void)
{
	TU_CHECK(handshake(TLS1_2_VERSION), "a TLS 1.2 handshake failed");
	TU_CHECK(handshake(TLS1_3_VERSION), "a TLS 1.3 handshake failed");
	TU_CHECK(!handshake(TLS1_1_VERSION), "sevd accepted TLS 1.1");
	TU_CHECK(!handshake(TLS1_VERSION), "sevd accepted TLS 1.0");
}

static void test_refusals(void)
{
	char lst[64], *log = NULL;

	/* plain TCP off loopback, even with the flag */
	snprintf(lst, sizeof(lst), "tcp:0.0.0.0:%d", tu_free_port());
	TU_CHECK_EQ(sevd_run_fail(lst, "--allow-plain-tcp", &log), 1);
	TU_CHECK(strstr(log, "Refusing plain TCP") && strstr(log, "not a loopback"), "log: %s",
		 log);
	free(log);
	/* plain TCP on loopback without the flag */
	snprintf(lst, sizeof(lst), "tcp:127.0.0.1:%d", tu_free_port());
	TU_CHECK_EQ(sevd_run_fail(lst, NULL, &log), 1);
	TU_CHECK(strstr(log, "allow_plain_tcp"), "log: %s", log);
	free(log);
	/* IPv6: [::] is not loopback either */
	snprintf(lst, sizeof(lst), "tcp:[::]:%d", tu_free_port());
	TU_CHECK_EQ(sevd_run_fail(lst, "--allow-plain-tcp", &log), 1);
	TU_CHECK(strstr(log, "not a loopback"), "log: %s", log);
	free(log);
}

/* sevd behind systemd-socket-activate on 127.0.0.1:port with the given config: it starts on
 * the first connection (Accept=no), as with sevd-tcp.socket. */
static pid_t activated(const char *conf, const char *log)
{
	_cleanup_free_ char *state = path_join(dir, "state");
	char psp[512], lst[64];
	pid_t pid;

	port = tu_free_port();
	snprintf(psp, sizeof(psp), "emu:%s", emu.socket);
	snprintf(lst, sizeof(lst), "--listen=127.0.0.1:%d", port);
	char *argv[] = {(char *)"/usr/bin/systemd-socket-activate",
			lst,
			(char *)tu_exe("SEVD_EXE"),
			(char *)"--psp",
			psp,
			(char *)"--state-dir",
			state,
			(char *)"--config",
			(char *)conf,
			NULL};
	pid = tu_spawn(argv, log);
	TU_CHECK(tu_wait_tcp(port, 10000), "systemd-socket-activate did not listen (log %s)", log);
	return pid;
}

/* A TCP socket from systemd is served with TLS when tls_cert is set; without it (and without
 * allow_plain_tcp) sevd refuses it. */
static void test_socket_activation(void)
{
	_cleanup_free_ char *conf = path_join(dir, "sevd.conf"),
			    *plain = path_join(dir, "plain.conf");
	_cleanup_free_ char *log = path_join(dir, "activated.log");
	_cleanup_free_ char *log2 = path_join(dir, "activated-plain.log");
	char *out;
	size_t len;
	pid_t pid;
	int st = 0;
	FILE *f;

	if (access("/usr/bin/systemd-socket-activate", X_OK) != 0) {
		fprintf(stderr, "systemd-socket-activate missing: socket activation not tested\n");
		return;
	}
	pid = activated(conf, log);
	expect("admin", NULL, "GET", "/v1/platform", 200);
	expect("reader", NULL, "POST", "/v1/platform/pdh", 403);
	st = tu_stop(pid, 20000);
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "activated sevd: 0x%x", st);

	f = fopen(plain, "w");
	TU_CHECK(f != NULL, "conf");
	fputs("# no tls_cert, no allow_plain_tcp\n", f);
	fclose(f);
	pid = activated(plain, log2);
	for (int i = 0; i < 300 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(100 * 1000);
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "plain activated sevd: 0x%x", st);
	out = (char *)tu_read_file(log2, &len);
	TU_CHECK(out && strstr(out, "allow_plain_tcp"), "log: %s", out ? out : "(none)");
	free(out);
}

/* Config lines: client_cert_role and listen = tls: parse; bad values are refused. */
static void test_config(void)
{
	static const char *const bad[] = {
	    "client_cert_role = public:CN=x\n", "client_cert_role = admin\n",
	    "client_cert_role = admin:\n",	"client_cert_role = :CN=x\n",
	    "client_cert_role = root:CN=x\n",	"allow_plain_tcp = maybe\n",
	    "listen = https:1.2.3.4:5\n",
	    "client_cert_role = launcher:CN=x:tenant=\n",
	    "client_cert_role = launcher:CN=x:tenant=.acme\n",
	    "client_cert_role = launcher::tenant=acme\n",
	};
	struct sevd_config c;

	sevd_config_init(&c);
	TU_CHECK_EQ(sevd_config_parse(&c,
				      "listen = tls:[::1]:8443\nclient_cert_role = owner:CN=o,O=x\n"
				      "client_cert_role = launcher:orch1\nallow_plain_tcp = yes\n"
				      "client_cert_role = owner:CN=a:b,O=x:tenant=acme\n",
				      "test"),
		    0);
	TU_CHECK(c.n_listen == 1 && !strcmp(c.listen[0], "tls:[::1]:8443"), "listen");
	TU_CHECK(c.n_cert_roles == 3 && c.cert_roles[0].role == SEVD_ROLE_OWNER &&
		     c.cert_roles[0].is_dn && !strcmp(c.cert_roles[0].subject, "CN=o,O=x") &&
		     !c.cert_roles[0].tenant[0] &&
		     c.cert_roles[1].role == SEVD_ROLE_LAUNCHER && !c.cert_roles[1].is_dn,
		 "client_cert_role");
	/* `:tenant=NAME` after the subject names the principal's tenant (the core's) */
	TU_CHECK(!strcmp(c.cert_roles[2].subject, "CN=a:b,O=x") &&
		     !strcmp(c.cert_roles[2].tenant, "acme") && c.cert_roles[2].is_dn,
		 "client_cert_role with a tenant: subject '%s' tenant '%s'",
		 c.cert_roles[2].subject, c.cert_roles[2].tenant);
	TU_CHECK(c.allow_plain_tcp, "allow_plain_tcp");
	sevd_config_done(&c);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		sevd_config_init(&c);
		TU_CHECK(sevd_config_parse(&c, bad[i], "test") == -EINVAL, "accepted: %s", bad[i]);
		sevd_config_done(&c);
	}
}

/* A TLS listener without tls_cert names the missing key. */
static void test_missing_cert(void)
{
	_cleanup_free_ char *conf = path_join(dir, "sevd.conf");
	char lst[64], *log = NULL;
	FILE *f = fopen(conf, "w");

	TU_CHECK(f != NULL, "conf");
	fputs("# no tls_cert\n", f);
	fclose(f);
	snprintf(lst, sizeof(lst), "tls:127.0.0.1:%d", tu_free_port());
	TU_CHECK_EQ(sevd_run_fail(lst, NULL, &log), 1);
	TU_CHECK(strstr(log, "tls_cert"), "log: %s", log);
	free(log);
}

int main(void)
{
	char *conf;
	int st;

	test_config();
	TU_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == 0, "curl_global_init");
	dir = tu_mkdtemp();
	snprintf(unix_path, sizeof(unix_path), "%s/api.sock", dir);
	make_pki();
	conf = path_join(dir, "sevd.conf");
	write_config(conf);
	free(conf);
	TU_CHECK(tu_emu_start(dir, NULL, &emu) == 0, "emulator did not start");
	sevd_start();
	test_server_verified();
	test_client_certs();
	test_tokens();
	test_versions();
	st = tu_stop(sevd_pid, 20000);
	TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sevd did not exit cleanly: 0x%x", st);
	test_refusals();
	test_socket_activation();
	test_missing_cert();
	tu_emu_stop(&emu);
	tu_rmtree(dir);
	free(dir);
	curl_global_cleanup();
	tu_done("daemon-tls");
}
