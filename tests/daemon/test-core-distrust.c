/* The core decides: a compromised worker gets nothing the caller's evidence does not allow.
 * This test plays that worker. Against a real sevd (root, privilege-separated, on its own
 * sev-psp-emu) it takes one of the worker's core channels with pidfd_getfd and speaks the
 * seam's protocol (daemon/ipc/ipc.h) on it, as a worker whose HTTP side was taken over
 * would: every op of the table with no evidence, and the destructive ones (FACTORY_RESET,
 * SHUTDOWN, PEK import, guest decommission, secret injection, ...) with a forged token, a
 * reader's token and a reader's Unix credentials (and, but for SEND_START, a migrator's
 * token). Each is refused with -EACCES, counted in sevd_core_refusals_total{op,reason}, logged as a security event, and no firmware command
 * runs (the emulator's own count of commands served) and the journal does not change. Then
 * tenants × ops: launchers of tenants acme and globex (token lines with :tenant=), over the
 * stolen channel and through the real worker over TCP. Fails on a core that serves whatever
 * the worker asks, or that lets one tenant's credential act on another's guest. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "common/macros.h"
#include "common/util.h"
#include "daemon/core/emu-ctl.h"
#include "daemon/ipc/ipc.h"
#include "daemon/worker.h"
#include "tests/curlutil.h"
#include "tests/daemon/guest-client.h"
#include "tests/testutil.h"

#define ADMIN_TOKEN "distrust-admin-token-1"
#define READER_TOKEN "distrust-reader-token-2"
#define ACME_TOKEN "distrust-launcher-acme-3"
#define GLOBEX_TOKEN "distrust-launcher-globex-4"
#define MIGRATOR_TOKEN "distrust-migrator-5"

/* The worker's first core channel (as test-privsep.c's inject): argv "--worker L,C". */
static int take_channel(pid_t w)
{
	char path[64], cmd[4096];
	unsigned nl = 0, nc = 0;
	int pidfd, fd;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)w);
	f = fopen(path, "re");
	TU_CHECK(f, "%s", path);
	n = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	cmd[n] = '\0';
	TU_CHECK(sscanf(cmd + strlen(cmd) + 1 + strlen("--worker") + 1, "%u,%u", &nl, &nc) == 2,
		 "--worker L,C in the worker's argv");
	pidfd = pidfd_open(w, 0);
	TU_CHECK(pidfd >= 0, "pidfd_open: %s", strerror(errno));
	fd = pidfd_getfd(pidfd, SEVD_WORKER_FD_START + (int)nl + 1, 0);
	TU_CHECK(fd >= 0, "pidfd_getfd: %s", strerror(errno));
	close(pidfd);
	return fd;
}

static void hex_sha256(const char *s, char out[65])
{
	uint8_t h[32];
	unsigned n = 0;

	TU_CHECK(EVP_Digest(s, strlen(s), h, &n, EVP_sha256(), NULL) == 1 && n == 32, "sha256");
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* One request on the stolen channel; the reply's r. */
static int call(int fd, struct sevd_request *rq, struct sevd_reply *rep)
{
	struct sevd_ipc_src src = {.fd = fd};
	char err[SEVD_IPC_ERR_MAX];

	TU_CHECK_EQ(sevd_ipc_send_request(fd, rq), 0);
	TU_CHECK(sevd_ipc_recv_reply(&src, rq->op, rep, err, sizeof(err)) == 0, "reply: %s", err);
	return rep->r;
}

static uint64_t served(const char *esock)
{
	struct emu_info info;

	TU_CHECK_EQ(sevd_emu_info(esock, &info), 0);
	return info.commands_served;
}

static void evidence(struct sevd_caller *cl, unsigned kind)
{
	memset(cl, 0, sizeof(*cl));
	switch (kind) {
	case 1: /* a token no line configures */
		cl->kind = SEVD_EVIDENCE_TOKEN;
		snprintf(cl->text, sizeof(cl->text), "forged-token-%d", 42);
		break;
	case 2: /* a real token, of a reader */
		cl->kind = SEVD_EVIDENCE_TOKEN;
		snprintf(cl->text, sizeof(cl->text), "%s", READER_TOKEN);
		break;
	case 3: /* a Unix peer that is not root and not in admin_group: reader */
		cl->kind = SEVD_EVIDENCE_UNIX;
		cl->uid = cl->gid = 4242;
		break;
	default: /* none */
		break;
	}
}

static void token_evidence(struct sevd_caller *cl, const char *token)
{
	memset(cl, 0, sizeof(*cl));
	cl->kind = SEVD_EVIDENCE_TOKEN;
	snprintf(cl->text, sizeof(cl->text), "%s", token);
}

/* Tenants (sevd.conf `token = launcher:sha256:HEX:tenant=NAME`): a launch goes into the
 * credential's tenant, a launch into another is refused (squatting), and every guest op on
 * another tenant's guest is refused by the core without a firmware command; the guest list
 * shows only the tenant's own; acme may still delete its own guest. */
static void tenant_matrix(int fd, const char *esock, struct sevd_request *rq,
			  struct sevd_reply *rep)
{
	static const uint32_t guest_ops[] = {
	    SEVD_OP_GUEST_DELETE,   SEVD_OP_GUEST_SECRET,     SEVD_OP_GUEST_DEACTIVATE,
	    SEVD_OP_GUEST_FINISH,   SEVD_OP_GUEST_ACTIVATE,   SEVD_OP_GUEST_INFO,
	    SEVD_OP_GUEST_VMSA,	    SEVD_OP_GUEST_DATA_BEGIN, SEVD_OP_GUEST_DATA_END,
	};
	uint64_t before;
	uint32_t ha;

	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_GUEST_CREATE;
	token_evidence(&rq->caller, ACME_TOKEN);
	TU_CHECK(call(fd, rq, rep) == 0, "acme's launch: r %d %s", rep->r, rep->message);
	ha = rep->u.guest.info.handle;
	TU_CHECK(!strcmp(rep->u.guest.info.tenant, "acme"), "launched into tenant '%s'",
		 rep->u.guest.info.tenant);
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_GUEST_CREATE;
	token_evidence(&rq->caller, ACME_TOKEN);
	snprintf(rq->u.create.tenant, sizeof(rq->u.create.tenant), "globex");
	TU_CHECK(call(fd, rq, rep) == -EACCES && strstr(rep->rule, "tenant"),
		 "acme launching into globex: r %d rule %s", rep->r, rep->rule);

	before = served(esock);
	for (size_t i = 0; i < ELEMENTSOF(guest_ops); i++) {
		memset(rq, 0, sizeof(*rq));
		rq->op = guest_ops[i];
		token_evidence(&rq->caller, GLOBEX_TOKEN);
		rq->u.guest.handle = ha;
		TU_CHECK(call(fd, rq, rep) == -EACCES && strstr(rep->rule, "tenant"),
			 "globex's op %u on acme's guest: r %d rule %s (%s)", guest_ops[i], rep->r,
			 rep->rule, rep->message);
	}
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_GUEST_LIST;
	token_evidence(&rq->caller, GLOBEX_TOKEN);
	TU_CHECK(call(fd, rq, rep) == 0, "globex's list: %s", rep->message);
	TU_CHECK(rep->u.guests.n == 0, "globex sees %u guests of other tenants", rep->u.guests.n);
	TU_CHECK(served(esock) == before, "firmware ran %llu commands for another tenant's ops",
		 (unsigned long long)(served(esock) - before));

	/* Control: acme itself may delete its guest (firmware runs). */
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_GUEST_DELETE;
	token_evidence(&rq->caller, ACME_TOKEN);
	rq->u.guest.handle = ha;
	TU_CHECK(call(fd, rq, rep) == 0, "acme's delete of its guest: %s", rep->message);
	TU_CHECK(served(esock) > before, "the delete ran no firmware command");
}

/* An HTTP request over the TCP listener with a bearer token, through the real worker: the
 * status, the start of the answer in out. */
static long http(int port, const char *method, const char *path, const char *token,
		 const char *body, char out[1024])
{
	return tu_curl_bearer(port, method, path, token, body, out, 1024);
}

/* Through the real worker: a launch with acme's token lands in acme; globex's launcher gets
 * 403 core_refused on acme's guest (GET, whose status the worker would otherwise answer from
 * the shared region, and DELETE); acme's own GET answers. */
static void tenant_http(int port)
{
	char out[1024], path[64];
	unsigned h = 0;
	const char *p;

	TU_CHECK(http(port, "POST", "/v1/guests", ACME_TOKEN, "{\"policy\": 0}", out) == 201,
		 "acme's launch over TCP: %s", out);
	TU_CHECK(strstr(out, "\"tenant\": \"acme\"") || strstr(out, "\"tenant\":\"acme\""),
		 "launched into acme: %s", out);
	p = strstr(out, "\"handle\"");
	TU_CHECK(p && sscanf(strchr(p, ':') + 1, " %u", &h) == 1, "handle in %s", out);
	snprintf(path, sizeof(path), "/v1/guests/%u", h);
	TU_CHECK(http(port, "GET", path, ACME_TOKEN, NULL, out) == 200, "acme's GET: %s", out);
	TU_CHECK(http(port, "GET", path, GLOBEX_TOKEN, NULL, out) == 403 &&
		     strstr(out, "core_refused"),
		 "globex's GET of acme's guest: %s", out);
	TU_CHECK(http(port, "DELETE", path, GLOBEX_TOKEN, NULL, out) == 403 &&
		     strstr(out, "core_refused"),
		 "globex's DELETE of acme's guest: %s", out);
	TU_CHECK(http(port, "DELETE", path, ACME_TOKEN, NULL, out) == 200, "acme's DELETE: %s",
		 out);
}

static const char *const reasons[] = {"no_evidence", "bad_token", "role", "role"};

static bool public_op(uint32_t op)
{
	return op == SEVD_OP_CERTS || op == SEVD_OP_GET_ID || op == SEVD_OP_HEALTH ||
	       op == SEVD_OP_WHOAMI;
}

static void check_metric(struct gc_daemon *d, const char *op, const char *reason, uint64_t want)
{
	char series[160];
	uint64_t v = 0;

	snprintf(series, sizeof(series), "sevd_core_refusals_total{op=\"%s\",reason=\"%s\"}", op,
		 reason);
	TU_CHECK(gc_metric(d, series, &v), "no %s in /metrics", series);
	TU_CHECK(v == want, "%s = %llu, expected %llu", series, (unsigned long long)v,
		 (unsigned long long)want);
}

/* The attack, in its own frame so that its _cleanup_ buffers are freed before tu_done exits
 * (LeakSanitizer runs at exit and counts what exit() skipped). */
static void attack(void)
{
	_cleanup_free_ char *dir = NULL, *esock = NULL, *conf = NULL, *jpath = NULL;
	_cleanup_free_ uint8_t *j0 = NULL, *j1 = NULL, *logb = NULL;
	struct gc_daemon d = {0};
	struct sevd_request *rq = calloc(1, sizeof(*rq));
	struct sevd_reply *rep = calloc(1, sizeof(*rep));
	static const uint32_t destructive[] = {
	    SEVD_OP_FACTORY_RESET, SEVD_OP_SHUTDOWN,	     SEVD_OP_PEK_CERT_IMPORT,
	    SEVD_OP_PEK_GEN,	   SEVD_OP_PDH_GEN,	     SEVD_OP_INIT,
	    SEVD_OP_GUEST_DELETE,  SEVD_OP_GUEST_SECRET,     SEVD_OP_GUEST_DEACTIVATE,
	    SEVD_OP_GUEST_FINISH,  SEVD_OP_GUEST_SEND_START, SEVD_OP_GUEST_CREATE,
	};
	char hadm[65], hrd[65], hacme[65], hglobex[65], hmig[65], text[1024], listen[64];
	struct tu_emu emu;
	int port;
	struct gc_resp r;
	size_t l0, l1, ll;
	uint64_t before;
	uint32_t h;
	pid_t w;
	int fd;

	if (geteuid() != 0)
		tu_skip("not root: taking the worker's core channel needs pidfd_getfd on it (CI "
			"runs as root)");
	TU_CHECK(rq && rep, "alloc");
	dir = tu_mkdtemp();
	TU_CHECK_EQ(tu_emu_start(dir, NULL, &emu), 0);
	esock = strdup(emu.socket);
	port = tu_free_port();
	snprintf(listen, sizeof(listen), "--listen=tcp:127.0.0.1:%d", port);
	conf = path_join(dir, "sevd.conf");
	jpath = path_join(dir, "guests.journal");
	hex_sha256(ADMIN_TOKEN, hadm);
	hex_sha256(READER_TOKEN, hrd);
	hex_sha256(ACME_TOKEN, hacme);
	hex_sha256(GLOBEX_TOKEN, hglobex);
	hex_sha256(MIGRATOR_TOKEN, hmig);
	snprintf(text, sizeof(text),
		 "token = admin:sha256:%s\ntoken = reader:sha256:%s\n"
		 "token = launcher:sha256:%s:tenant=acme\n"
		 "token = launcher:sha256:%s:tenant=globex\ntoken = migrator:sha256:%s\n"
		 "allow_plain_tcp = yes\n",
		 hadm, hrd, hacme, hglobex, hmig);
	{
		FILE *f = fopen(conf, "we");

		TU_CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", conf);
	}
	d = (struct gc_daemon){.dir = dir, .emu_sock = esock, .extra_arg = listen, .config = conf};
	TU_CHECK(gc_start(&d, true), "sevd start (log %s)", d.log);
	TU_CHECK(tu_wait_tcp(port, 10000), "sevd's TCP listener on %d (log %s)", port, d.log);
	{
		static const char body[] = "{\"policy\": 0, \"name\": \"victim\"}";

		gc_request(&d, "POST", "/v1/guests", body, strlen(body), NULL, &r);
	}
	TU_CHECK(r.status == 201, "launch: %ld %s", r.status, r.body);
	h = (uint32_t)gc_int(r.json, "handle");
	gc_resp_free(&r);
	w = tu_find_worker(d.pid);
	TU_CHECK(w > 0, "sevd (pid %d) has a --worker child (log %s)", (int)d.pid, d.log);
	fd = take_channel(w);
	j0 = tu_read_file(jpath, &l0);
	TU_CHECK(j0, "the journal %s", jpath);
	before = served(esock);

	/* Control: a public op without evidence is served, so the channel works. */
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_HEALTH;
	TU_CHECK_EQ(call(fd, rq, rep), 0);

	/* Every op of the table without evidence: refused unless the table says public (the
	 * slot op is left out: without a staging buffer the core ends the worker first). */
	for (uint32_t op = 1; op < SEVD_OP_MAX_; op++) {
		if (public_op(op) || op == SEVD_OP_GUEST_DATA_SLOT)
			continue;
		memset(rq, 0, sizeof(*rq));
		rq->op = op;
		rq->u.guest.handle = h;
		TU_CHECK(call(fd, rq, rep) == -EACCES, "op %u without evidence: r %d (%s)", op,
			 rep->r, rep->message);
		TU_CHECK(!strncmp(rep->rule, "core_refused:", 13), "rule %s", rep->rule);
	}
	/* WHOAMI tells who a token is and nothing more: nobody for a forged one, the role
	 * for a configured one (the worker asks it; it holds no hash itself). */
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_WHOAMI;
	evidence(&rq->caller, 1);
	TU_CHECK(call(fd, rq, rep) == 0 && !rep->u.whoami.known &&
			 rep->u.whoami.role == SEVD_ROLE_PUBLIC,
		 "WHOAMI of a forged token: r %d known %u role %u", rep->r, rep->u.whoami.known,
		 rep->u.whoami.role);
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_WHOAMI;
	token_evidence(&rq->caller, ADMIN_TOKEN);
	TU_CHECK(call(fd, rq, rep) == 0 && rep->u.whoami.known &&
			 rep->u.whoami.role == SEVD_ROLE_ADMIN,
		 "WHOAMI of the admin token: r %d known %u role %u", rep->r, rep->u.whoami.known,
		 rep->u.whoami.role);
	/* The destructive ones with a forged token, a reader's token, a reader's Unix peer. */
	for (size_t i = 0; i < ELEMENTSOF(destructive); i++)
		for (unsigned k = 1; k <= 3; k++) {
			memset(rq, 0, sizeof(*rq));
			rq->op = destructive[i];
			evidence(&rq->caller, k);
			rq->u.guest.handle = h;
			TU_CHECK(call(fd, rq, rep) == -EACCES, "op %u evidence %u: r %d (%s)",
				 destructive[i], k, rep->r, rep->message);
			TU_CHECK(strstr(rep->rule, reasons[k]), "op %u evidence %u: rule %s",
				 destructive[i], k, rep->rule);
		}
	/* A migrator's token: the migration ops are its own, every other destructive one is
	 * refused by role. */
	for (size_t i = 0; i < ELEMENTSOF(destructive); i++) {
		if (destructive[i] == SEVD_OP_GUEST_SEND_START)
			continue;
		memset(rq, 0, sizeof(*rq));
		rq->op = destructive[i];
		token_evidence(&rq->caller, MIGRATOR_TOKEN);
		rq->u.guest.handle = h;
		TU_CHECK(call(fd, rq, rep) == -EACCES, "op %u as a migrator: r %d (%s)",
			 destructive[i], rep->r, rep->message);
		TU_CHECK(strstr(rep->rule, "role"), "op %u as a migrator: rule %s", destructive[i],
			 rep->rule);
	}
	TU_CHECK(served(esock) == before, "firmware served %llu commands for refused requests",
		 (unsigned long long)(served(esock) - before));
	j1 = tu_read_file(jpath, &l1);
	TU_CHECK(j1 && l1 == l0 && !memcmp(j0, j1, l0), "the journal changed");
	tenant_matrix(fd, esock, rq, rep);
	close(fd);
	check_metric(&d, "GUEST_DELETE", "tenant", 1);
	check_metric(&d, "GUEST_CREATE", "tenant", 1);
	check_metric(&d, "GUEST_INFO", "tenant", 1);
	tenant_http(port);
	check_metric(&d, "GUEST_INFO", "tenant", 2);
	check_metric(&d, "FACTORY_RESET", "no_evidence", 1);
	check_metric(&d, "FACTORY_RESET", "bad_token", 1);
	check_metric(&d, "FACTORY_RESET", "role", 3);
	check_metric(&d, "GUEST_DELETE", "role", 3);
	check_metric(&d, "GUEST_SECRET", "bad_token", 1);
	check_metric(&d, "PEK_CERT_IMPORT", "no_evidence", 1);
	logb = tu_read_file(d.log, &ll);
	TU_CHECK(logb && memmem(logb, ll, "SECURITY: the core refused FACTORY_RESET", 40),
		 "the refusal is logged (log %s)", d.log);
	TU_CHECK(!memmem(logb, ll, READER_TOKEN, strlen(READER_TOKEN)), "a token in the log");
	/* The guest is still there, as it was; the real worker still serves as before. */
	{
		char path[64];

		snprintf(path, sizeof(path), "/v1/guests/%u", h);
		gc_request(&d, "GET", path, NULL, 0, NULL, &r);
		TU_CHECK(r.status == 200, "the guest after the attack: %ld", r.status);
		gc_resp_free(&r);
	}
	gc_stop(&d, false);
	tu_emu_stop(&emu);
	tu_rmtree(dir);
	free(d.sock);
	free(d.log);
	free(rq);
	free(rep);
}

int main(void)
{
	attack();
	tu_done("daemon-core-distrust");
}
