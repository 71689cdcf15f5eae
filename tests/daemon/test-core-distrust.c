/* The core decides: a compromised worker gets nothing the caller's evidence does not allow.
 * This test plays that worker. Against a real sevd (root, privilege-separated, on its own
 * sev-psp-emu) it takes one of the worker's core channels with pidfd_getfd and speaks the
 * seam's protocol (daemon/ipc/ipc.h) on it, as a worker whose HTTP side was taken over
 * would: every op of the table (read from daemon/ipc/ops.h) with no evidence, with a forged
 * token, forged Unix evidence, and, unless its row admits a reader, a reader's token and a
 * reader's Unix connection (and the destructive ones, but for SEND_START, with a migrator's
 * token). Each is refused with -EACCES, counted in sevd_core_refusals_total{op,reason},
 * logged as a security event, and no firmware command runs (the emulator's own count of
 * commands served) and the journal does not change. Then tenants × ops: every op whose
 * guest column is 1, by principals of tenant globex (token lines and client_cert_role lines
 * with :tenant=) on a guest of tenant acme, over the stolen channel, and a few through the
 * real worker over TCP. Fails on a core that serves whatever the worker asks, or that lets
 * one tenant's credential act on another's guest. */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/x509.h>

#include "common/macros.h"
#include "common/util.h"
#include "daemon/core/conns.h"
#include "daemon/core/emu-ctl.h"
#include "daemon/ipc/ipc.h"
#include "daemon/worker.h"
#include "tests/curlutil.h"
#include "tests/daemon/guest-client.h"
#include "tests/daemon/pki-util.h"
#include "tests/testutil.h"

#define ADMIN_TOKEN "distrust-admin-token-1"
#define READER_TOKEN "distrust-reader-token-2"
#define ACME_TOKEN "distrust-launcher-acme-3"
#define GLOBEX_TOKEN "distrust-launcher-globex-4"
#define MIGRATOR_TOKEN "distrust-migrator-5"
#define GLOBEX_OWNER_TOKEN "distrust-owner-globex-6"
#define GLOBEX_MIGRATOR_TOKEN "distrust-migrator-globex-7"
#define GLOBEX_READER_TOKEN "distrust-reader-globex-8"

/* The op table itself (daemon/ipc/ops.h): every row's name, roles and guest column, so that
 * an op added there is tried here without a change to this test. */
static const struct op_row {
	const char *name;
	unsigned roles;
	bool guest;
} op_table[SEVD_OP_MAX_] = {
#define OP_ROW(name, fn, gfn, fw, req, rep, roles, guest) [SEVD_OP_##name] = {#name, (roles), (guest)},
    SEVD_OPS(OP_ROW)
#undef OP_ROW
};

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

/* The worker's handoff socket, on which the core sends it each Unix connection it accepted
 * with the connection id (worker.h: the last fd of "--worker L,C,R,H"). */
static int take_handoff(pid_t w)
{
	char path[64], cmd[4096];
	unsigned nl = 0, nc = 0, nr = 0, nh = 0;
	int pidfd, fd;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)w);
	f = fopen(path, "re");
	TU_CHECK(f, "%s", path);
	n = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	cmd[n] = '\0';
	TU_CHECK(sscanf(cmd + strlen(cmd) + 1 + strlen("--worker") + 1, "%u,%u,%u,%u", &nl, &nc,
			&nr, &nh) == 4 && nh == 1,
		 "--worker L,C,R,H with a handoff socket in the worker's argv");
	pidfd = pidfd_open(w, 0);
	TU_CHECK(pidfd >= 0, "pidfd_open: %s", strerror(errno));
	fd = pidfd_getfd(pidfd, SEVD_WORKER_FD_START + (int)(nl + 1 + nc + nr), 0);
	TU_CHECK(fd >= 0, "pidfd_getfd: %s", strerror(errno));
	close(pidfd);
	return fd;
}

static const char *sevd_log;

/* SIGSTOP, then until every thread of w is stopped: a thread still in recvmsg could
 * otherwise take the next handoff before it stops. */
static void stop_worker(pid_t w)
{
	char path[64], st[512];
	bool all = false;

	TU_CHECK(kill(w, SIGSTOP) == 0, "SIGSTOP the worker");
	snprintf(path, sizeof(path), "/proc/%d/task", (int)w);
	for (int tries = 0; tries < 1000 && !all; tries++) {
		DIR *dir = opendir(path);
		struct dirent *e;

		TU_CHECK(dir, "%s", path);
		all = true;
		while ((e = readdir(dir))) {
			char f[600];
			FILE *fp;
			char *p;

			if (e->d_name[0] == '.')
				continue;
			snprintf(f, sizeof(f), "%s/%s/stat", path, e->d_name);
			fp = fopen(f, "re");
			if (!fp)
				continue;
			st[0] = '\0';
			(void)!fgets(st, sizeof(st), fp);
			fclose(fp);
			p = strrchr(st, ')');
			all &= p && p[1] == ' ' && (p[2] == 'T' || p[2] == 't');
		}
		closedir(dir);
		if (!all)
			usleep(10 * 1000);
	}
	TU_CHECK(all, "the worker's threads stop");
}

/* A client of the Unix API socket as uid (a child connects as that uid and passes the
 * connected socket back), and the connection id the core handed the worker for it, read
 * from the stolen handoff socket (the real worker is stopped meanwhile). */
static int unix_client(const char *sock, uid_t uid, int handoff, uint64_t *ret_conn)
{
	struct sevd_handoff_msg m = {0};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct pollfd p = {.fd = handoff, .events = POLLIN};
	int sp[2], client = -1, handed = -1, st;
	pid_t pid;

	TU_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0, "socketpair");
	pid = fork();
	TU_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		int c;

		close(sp[0]);
		if (setresgid(uid, uid, uid) < 0 || setgroups(0, NULL) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(2);
		c = tu_unix_connect(sock);
		if (c < 0)
			_exit(3);
		memset(u.buf, 0, sizeof(u.buf));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &c, sizeof(int));
		_exit(sendmsg(sp[1], &mh, 0) == (ssize_t)sizeof(m) ? 0 : 4);
	}
	close(sp[1]);
	TU_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		 "the client of uid %u connects (status %d)", (unsigned)uid, st);
	memset(u.buf, 0, sizeof(u.buf));
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	TU_CHECK(recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC) == (ssize_t)sizeof(m), "client fd");
	memcpy(&client, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	close(sp[0]);
	TU_CHECK(poll(&p, 1, 20000) == 1, "the core hands the connection to the worker (log %s)",
		 sevd_log);
	memset(u.buf, 0, sizeof(u.buf));
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	TU_CHECK(recvmsg(handoff, &mh, MSG_CMSG_CLOEXEC) == (ssize_t)sizeof(m) &&
			 m.magic == SEVD_HANDOFF_MAGIC && m.conn && CMSG_FIRSTHDR(&mh),
		 "a handoff message with a connection id");
	memcpy(&handed, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	TU_CHECK(m.uid == uid, "handed as uid %u, connected as %u", m.uid, (unsigned)uid);
	close(handed); /* the test plays the worker: it serves nothing on it */
	*ret_conn = m.conn;
	return client;
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

static uint64_t reader_conn; /* a live connection of uid 4242 (a reader) */

static void evidence(struct sevd_caller *cl, unsigned kind)
{
	memset(cl, 0, sizeof(*cl));
	switch (kind) {
	case 4: /* a connection id the core never issued, claiming root */
		cl->kind = SEVD_EVIDENCE_UNIX;
		cl->conn = 0x5eed5eed5eed5eedull;
		break;
	case 5: /* a reader's live connection, the worker claiming root beside it */
		cl->kind = SEVD_EVIDENCE_UNIX;
		cl->conn = reader_conn;
		break;
	case 1: /* a token no line configures */
		cl->kind = SEVD_EVIDENCE_TOKEN;
		snprintf(cl->text, sizeof(cl->text), "forged-token-%d", 42);
		break;
	case 2: /* a real token, of a reader */
		cl->kind = SEVD_EVIDENCE_TOKEN;
		snprintf(cl->text, sizeof(cl->text), "%s", READER_TOKEN);
		break;
	case 3: /* Unix evidence without a connection id, claiming root */
		cl->kind = SEVD_EVIDENCE_UNIX;
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

/* The sum of every sevd_core_refusals_total series, read with the admin's token over the
 * stolen channel (METRICS runs no firmware command). */
static uint64_t refusals_total(int fd, struct sevd_request *rq, struct sevd_reply *rep)
{
	static const char series[] = "sevd_core_refusals_total{";
	uint64_t sum = 0;
	const char *p, *end;

	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_METRICS;
	token_evidence(&rq->caller, ADMIN_TOKEN);
	TU_CHECK(call(fd, rq, rep) == 0, "METRICS as admin: %s", rep->message);
	TU_CHECK(rep->u.metrics.len < sizeof(rep->u.metrics.text), "metrics length");
	rep->u.metrics.text[rep->u.metrics.len] = '\0';
	p = rep->u.metrics.text;
	end = p + rep->u.metrics.len;
	while (p < end && (p = strstr(p, series))) {
		const char *sp = strchr(p, ' ');

		if ((p == rep->u.metrics.text || p[-1] == '\n') && sp)
			sum += strtoull(sp + 1, NULL, 10);
		p += sizeof(series) - 1;
	}
	return sum;
}

/* Globex's principals, by role: a token each (token ...:tenant=globex) and a certificate
 * each (client_cert_role ...:tenant=globex), the latter as the connection id the core
 * answered for its chain. */
static const struct {
	enum sevd_role role;
	const char *token;
} globex[] = {
    {SEVD_ROLE_LAUNCHER, GLOBEX_TOKEN},
    {SEVD_ROLE_OWNER, GLOBEX_OWNER_TOKEN},
    {SEVD_ROLE_MIGRATOR, GLOBEX_MIGRATOR_TOKEN},
    {SEVD_ROLE_READER, GLOBEX_READER_TOKEN},
};
static uint64_t globex_conn[ELEMENTSOF(globex)], acme_conn;

/* The first of globex's principals whose role the op's row admits. */
static size_t globex_for(uint32_t op)
{
	for (size_t k = 0; k < ELEMENTSOF(globex); k++)
		if (op_table[op].roles & SEVD_ROLE_BIT(globex[k].role))
			return k;
	TU_CHECK(false, "op %s: no globex principal has a role its row admits", op_table[op].name);
	return 0;
}

static void principal_evidence(struct sevd_caller *cl, bool cert, const char *token,
			       uint64_t conn)
{
	if (!cert) {
		token_evidence(cl, token);
		return;
	}
	memset(cl, 0, sizeof(*cl));
	cl->kind = SEVD_EVIDENCE_CERT;
	cl->conn = conn;
}

/* Tenants, with tokens (sevd.conf `token = ROLE:sha256:HEX:tenant=NAME`) and with client
 * certificates (`client_cert_role = ROLE:SUBJECT:tenant=NAME`): a launch goes into the
 * credential's tenant, a launch into another is refused (squatting), and every op of the
 * table that names a guest (its guest column), tried on acme's guest by the globex principal
 * whose role the row admits, is refused by the core for the tenant: counted, logged, no
 * firmware command, the journal as it was. The guest list shows only the tenant's own; acme
 * may still delete its own guest. GUEST_DATA_SLOT is left out: without a staging buffer of
 * its own on the channel the core ends the worker first (core-side.c). Returns the ops
 * tried. */
static unsigned tenant_matrix(int fd, const char *esock, const char *jpath, bool cert,
			      struct sevd_request *rq, struct sevd_reply *rep)
{
	const char *how = cert ? "certificate" : "token";
	_cleanup_free_ uint8_t *j0 = NULL, *j1 = NULL;
	uint64_t before, refused0;
	unsigned tried = 0;
	size_t l0, l1;
	uint32_t ha;

	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_GUEST_CREATE;
	principal_evidence(&rq->caller, cert, ACME_TOKEN, acme_conn);
	TU_CHECK(call(fd, rq, rep) == 0, "acme's launch (%s): r %d %s", how, rep->r, rep->message);
	ha = rep->u.guest.info.handle;
	TU_CHECK(!strcmp(rep->u.guest.info.tenant, "acme"), "launched (%s) into tenant '%s'", how,
		 rep->u.guest.info.tenant);
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_GUEST_CREATE;
	principal_evidence(&rq->caller, cert, ACME_TOKEN, acme_conn);
	snprintf(rq->u.create.tenant, sizeof(rq->u.create.tenant), "globex");
	TU_CHECK(call(fd, rq, rep) == -EACCES && strstr(rep->rule, "tenant"),
		 "acme launching into globex (%s): r %d rule %s", how, rep->r, rep->rule);

	j0 = tu_read_file(jpath, &l0);
	TU_CHECK(j0, "the journal %s", jpath);
	before = served(esock);
	refused0 = refusals_total(fd, rq, rep);
	for (uint32_t op = 1; op < SEVD_OP_MAX_; op++) {
		size_t k;

		if (!op_table[op].guest || op == SEVD_OP_GUEST_DATA_SLOT)
			continue;
		k = globex_for(op);
		memset(rq, 0, sizeof(*rq));
		rq->op = op;
		principal_evidence(&rq->caller, cert, globex[k].token, globex_conn[k]);
		rq->u.guest.handle = ha; /* the first field of every guest op's request */
		TU_CHECK(call(fd, rq, rep) == -EACCES && !strcmp(rep->rule, "core_refused:tenant"),
			 "globex's %s (%s) on acme's guest: r %d rule %s (%s)", op_table[op].name,
			 how, rep->r, rep->rule, rep->message);
		tried++;
	}
	TU_CHECK(tried >= 20, "only %u guest ops in the table", tried);
	TU_CHECK(refusals_total(fd, rq, rep) == refused0 + tried,
		 "%u refusals (%s), %llu counted", tried, how,
		 (unsigned long long)(refusals_total(fd, rq, rep) - refused0));
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_GUEST_LIST;
	principal_evidence(&rq->caller, cert, GLOBEX_READER_TOKEN, globex_conn[3]);
	TU_CHECK(call(fd, rq, rep) == 0, "globex's list (%s): %s", how, rep->message);
	TU_CHECK(rep->u.guests.n == 0, "globex sees %u guests of other tenants (%s)",
		 rep->u.guests.n, how);
	TU_CHECK(served(esock) == before, "firmware ran %llu commands for another tenant's ops (%s)",
		 (unsigned long long)(served(esock) - before), how);
	j1 = tu_read_file(jpath, &l1);
	TU_CHECK(j1 && l1 == l0 && !memcmp(j0, j1, l0),
		 "another tenant's refused ops (%s) changed the journal", how);

	/* Control: acme itself may delete its guest (firmware runs). */
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_GUEST_DELETE;
	principal_evidence(&rq->caller, cert, ACME_TOKEN, acme_conn);
	rq->u.guest.handle = ha;
	TU_CHECK(call(fd, rq, rep) == 0, "acme's delete of its guest (%s): %s", how, rep->message);
	TU_CHECK(served(esock) > before, "the delete ran no firmware command");
	return tried;
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

static const char *const reasons[] = {"no_evidence", "bad_token", "role", "no_connection",
				      "bad_connection", "role"};
#define N_EVIDENCE 5

/* The ops served without evidence. SNP_CERTS_KDS is the worker's own fetch (no route sends
 * it): served only while the fetch from kds_url is pending, which it is not here (refused
 * -EALREADY), and what it hands in is checked as a PUT's (test-snp-kds-fetch.py). */
static bool public_op(uint32_t op)
{
	return op == SEVD_OP_CERTS || op == SEVD_OP_GET_ID || op == SEVD_OP_HEALTH ||
	       op == SEVD_OP_WHOAMI || op == SEVD_OP_CONN_END || op == SEVD_OP_SNP_CERTS_KDS;
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

/* A closed connection's id is refused: one the worker gave back (as a sound worker does when
 * libmicrohttpd closes it) at once; one whose client left, but that a compromised worker
 * keeps, within the core's bound (core/conns.c LINGER_MS, 10 s) of the hang-up. SHUTDOWN
 * with each: refused bad_connection, so never run. */
static void unix_closed(struct gc_daemon *d, int fd, int handoff, struct sevd_request *rq,
			struct sevd_reply *rep)
{
	struct sevd_handoff_msg back = {.magic = SEVD_HANDOFF_MAGIC};
	uint64_t conn;
	int c, r = 0, tries;

	c = unix_client(d->sock, 0, handoff, &conn);
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_ASIDS;
	rq->caller.kind = SEVD_EVIDENCE_UNIX;
	rq->caller.conn = conn;
	TU_CHECK(call(fd, rq, rep) == 0, "root's connection admits ASIDS: %s", rep->message);
	back.conn = conn;
	TU_CHECK(send(handoff, &back, sizeof(back), 0) == (ssize_t)sizeof(back), "give back");
	for (tries = 0; tries < 200; tries++) {
		memset(rq, 0, sizeof(*rq));
		rq->op = SEVD_OP_ASIDS;
		rq->caller.kind = SEVD_EVIDENCE_UNIX;
		rq->caller.conn = conn;
		if ((r = call(fd, rq, rep)) != 0)
			break;
		usleep(10 * 1000);
	}
	TU_CHECK(r == -EACCES && strstr(rep->rule, "bad_connection"),
		 "an id given back: r %d rule %s", r, rep->rule);
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_SHUTDOWN;
	rq->caller.kind = SEVD_EVIDENCE_UNIX;
	rq->caller.conn = conn;
	TU_CHECK(call(fd, rq, rep) == -EACCES && strstr(rep->rule, "bad_connection"),
		 "SHUTDOWN on an id given back: r %d rule %s", rep->r, rep->rule);
	close(c);

	/* The client leaves; the worker keeps quiet. */
	c = unix_client(d->sock, 0, handoff, &conn);
	close(c);
	for (tries = 0; tries < 300; tries++) {
		memset(rq, 0, sizeof(*rq));
		rq->op = SEVD_OP_ASIDS;
		rq->caller.kind = SEVD_EVIDENCE_UNIX;
		rq->caller.conn = conn;
		if ((r = call(fd, rq, rep)) != 0)
			break;
		usleep(100 * 1000);
	}
	TU_CHECK(r == -EACCES && strstr(rep->rule, "bad_connection"),
		 "the id of a client that left, %d ms later: r %d rule %s", tries * 100, r,
		 rep->rule);
	TU_CHECK(tries >= 10, "refused %d ms after the hang-up: before the bound of 10 s, a "
			      "request in flight could not finish",
		 tries * 100);
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_SHUTDOWN;
	rq->caller.kind = SEVD_EVIDENCE_UNIX;
	rq->caller.conn = conn;
	TU_CHECK(call(fd, rq, rep) == -EACCES && strstr(rep->rule, "bad_connection"),
		 "SHUTDOWN on a closed id: r %d rule %s", rep->r, rep->rule);
}

/* ---- TLS client certificates: a CA, a reader under it, an admin's subject self-signed ---- */

static struct pki_ident tls_ca, tls_reader, tls_forged;
/* acme's launcher, then globex's principals in the order of globex[] (client_cert_role
 * ...:tenant=) */
static struct pki_ident tls_tenant[1 + ELEMENTSOF(globex)];
static const char *const tenant_cns[] = {"distrust-acme-launcher", "distrust-globex-launcher",
					 "distrust-globex-owner", "distrust-globex-migrator",
					 "distrust-globex-reader"};

/* The CA (ca.crt in dir, sevd.conf's tls_client_ca) and the two client certificates. */
static void make_pki(const char *dir)
{
	tls_ca = pki_ident_make(NULL, NULL, "distrust CA", PKI_CA);
	tls_reader = pki_ident_make(&tls_ca, NULL, "tls-reader", PKI_CLIENT);
	/* the admin's subject, self-signed */
	tls_forged = pki_ident_make(NULL, NULL, "tls-admin", PKI_CLIENT);
	for (size_t i = 0; i < ELEMENTSOF(tls_tenant); i++)
		tls_tenant[i] = pki_ident_make(&tls_ca, NULL, tenant_cns[i], PKI_CLIENT);
	pki_cert_write(tls_ca.crt, dir, "ca");
}

/* A CONN_CERT of crt (DER) on the stolen channel; its r, the id in rep. */
static int conn_cert(int fd, X509 *crt, struct sevd_request *rq, struct sevd_reply *rep)
{
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_CONN_CERT;
	rq->u.cert_chain.len = (uint32_t)pki_cert_der(crt, rq->u.cert_chain.der,
						      sizeof(rq->u.cert_chain.der));
	return call(fd, rq, rep);
}

static void cert_evidence(struct sevd_caller *cl, uint64_t conn)
{
	memset(cl, 0, sizeof(*cl));
	cl->kind = SEVD_EVIDENCE_CERT;
	/* what a lying worker writes: the admin's subject (client_cert_role admin:tls-admin) */
	snprintf(cl->text, sizeof(cl->text), "CN=tls-admin");
	snprintf(cl->cn, sizeof(cl->cn), "tls-admin");
	cl->conn = conn;
}

/* The core verifies the chain itself: a self-signed certificate with the admin's subject is
 * refused (bad_certificate); CERT evidence without the id the core answered (no_connection),
 * with an id it never issued or one ended by CONN_END (bad_connection) is refused; a chain
 * under tls_client_ca gets an id whose subject is the core's, whatever subject the worker
 * writes beside it (the reader's id for FACTORY_RESET: role). */
static void tls_evidence(int fd, struct sevd_request *rq, struct sevd_reply *rep)
{
	uint64_t id;

	TU_CHECK(conn_cert(fd, tls_forged.crt, rq, rep) == -EACCES &&
			 !strcmp(rep->rule, "core_refused:bad_certificate"),
		 "a self-signed client certificate: r %d rule %s (%s)", rep->r, rep->rule,
		 rep->message);
	TU_CHECK(strstr(rep->message, "tls_client_ca"), "the refusal says why: %s", rep->message);
	TU_CHECK(conn_cert(fd, tls_reader.crt, rq, rep) == 0 && rep->u.conn.id &&
			 rep->u.conn.role == SEVD_ROLE_READER,
		 "the reader's certificate under the CA: r %d id %llx role %u (%s)", rep->r,
		 (unsigned long long)rep->u.conn.id, rep->u.conn.role, rep->message);
	id = rep->u.conn.id;
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_ASIDS;
	cert_evidence(&rq->caller, id);
	TU_CHECK(call(fd, rq, rep) == 0, "ASIDS on the reader's certificate id: %s", rep->message);
	static const struct {
		uint64_t conn;
		const char *rule;
	} cases[] = {{0, "no_connection"}, {0x0dd0f00d0dd0f00dull, "bad_connection"}, {1, "role"}};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		memset(rq, 0, sizeof(*rq));
		rq->op = SEVD_OP_FACTORY_RESET;
		cert_evidence(&rq->caller, cases[i].conn == 1 ? id : cases[i].conn);
		TU_CHECK(call(fd, rq, rep) == -EACCES && strstr(rep->rule, cases[i].rule),
			 "FACTORY_RESET with certificate evidence %zu: r %d rule %s", i, rep->r,
			 rep->rule);
	}
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_CONN_END;
	rq->u.conn.id = id;
	TU_CHECK(call(fd, rq, rep) == 0, "CONN_END: %s", rep->message);
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_ASIDS;
	cert_evidence(&rq->caller, id);
	TU_CHECK(call(fd, rq, rep) == -EACCES && strstr(rep->rule, "bad_connection"),
		 "an ended certificate id: r %d rule %s", rep->r, rep->rule);
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
	char hadm[65], hrd[65], hacme[65], hglobex[65], hmig[65], hgo[65], hgm[65], hgr[65];
	char text[4096], listen[64];
	struct tu_emu emu;
	int port;
	struct gc_resp r;
	size_t l0, l1, ll;
	uint64_t before;
	uint32_t h;
	pid_t w;
	int fd, handoff, reader;

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
	pki_token_hash(ADMIN_TOKEN, hadm);
	pki_token_hash(READER_TOKEN, hrd);
	pki_token_hash(ACME_TOKEN, hacme);
	pki_token_hash(GLOBEX_TOKEN, hglobex);
	pki_token_hash(MIGRATOR_TOKEN, hmig);
	pki_token_hash(GLOBEX_OWNER_TOKEN, hgo);
	pki_token_hash(GLOBEX_MIGRATOR_TOKEN, hgm);
	pki_token_hash(GLOBEX_READER_TOKEN, hgr);
	snprintf(text, sizeof(text),
		 "token = admin:sha256:%s\ntoken = reader:sha256:%s\n"
		 "token = launcher:sha256:%s:tenant=acme\n"
		 "token = launcher:sha256:%s:tenant=globex\ntoken = migrator:sha256:%s\n"
		 "token = owner:sha256:%s:tenant=globex\n"
		 "token = migrator:sha256:%s:tenant=globex\n"
		 "token = reader:sha256:%s:tenant=globex\n"
		 "allow_plain_tcp = yes\ntls_client_ca = %s/ca.crt\n"
		 "client_cert_role = admin:tls-admin\nclient_cert_role = reader:tls-reader\n"
		 "client_cert_role = launcher:distrust-acme-launcher:tenant=acme\n"
		 "client_cert_role = launcher:CN=distrust-globex-launcher:tenant=globex\n"
		 "client_cert_role = owner:distrust-globex-owner:tenant=globex\n"
		 "client_cert_role = migrator:distrust-globex-migrator:tenant=globex\n"
		 "client_cert_role = reader:CN=distrust-globex-reader:tenant=globex\n",
		 hadm, hrd, hacme, hglobex, hmig, hgo, hgm, hgr, dir);
	make_pki(dir);
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
	/* Unix callers: the worker is stopped, its handoff socket is the test's. A reader
	 * connects; its id admits a reader's op (control), ASIDS. */
	stop_worker(w);
	sevd_log = d.log;
	handoff = take_handoff(w);
	TU_CHECK(chmod(dir, 0711) == 0, "chmod %s", dir);
	reader = unix_client(d.sock, 4242, handoff, &reader_conn);
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_ASIDS;
	evidence(&rq->caller, 5);
	TU_CHECK(call(fd, rq, rep) == 0, "a reader's op on the reader's connection: r %d (%s)",
		 rep->r, rep->message);
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
	/* The worker's own SNP_CERTS_KDS: no fetch from kds_url is pending, so nothing. */
	memset(rq, 0, sizeof(*rq));
	rq->op = SEVD_OP_SNP_CERTS_KDS;
	rq->u.snp_kds.stage = SEVD_SNP_KDS_CERTS;
	TU_CHECK(call(fd, rq, rep) == -EALREADY && rep->u.snp_certs.len == 0,
		 "SNP_CERTS_KDS with no fetch pending: r %d (%s)", rep->r, rep->message);
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
	/* Every op of the table with forged evidence (a token no line has, Unix evidence
	 * without an id, an id the core never issued) and, unless its row admits a reader, with
	 * a reader's token and a reader's live Unix connection (the worker claiming root beside
	 * it). WHOAMI, CONN_CERT and CONN_END carry their own evidence (tls_evidence); the slot
	 * op is left out as above. Each is refused for its reason and counted. */
	{
		uint64_t refused0 = refusals_total(fd, rq, rep);
		unsigned tried = 0;

		for (uint32_t op = 1; op < SEVD_OP_MAX_; op++) {
			bool reader_ok = op_table[op].roles & SEVD_ROLE_BIT(SEVD_ROLE_READER);

			if (op == SEVD_OP_WHOAMI || op == SEVD_OP_CONN_CERT ||
			    op == SEVD_OP_CONN_END || op == SEVD_OP_GUEST_DATA_SLOT)
				continue;
			for (unsigned k = 1; k <= N_EVIDENCE; k++) {
				if ((k == 2 || k == 5) && reader_ok)
					continue;
				memset(rq, 0, sizeof(*rq));
				rq->op = op;
				evidence(&rq->caller, k);
				rq->u.guest.handle = h;
				TU_CHECK(call(fd, rq, rep) == -EACCES, "%s evidence %u: r %d (%s)",
					 op_table[op].name, k, rep->r, rep->message);
				TU_CHECK(strstr(rep->rule, reasons[k]), "%s evidence %u: rule %s",
					 op_table[op].name, k, rep->rule);
				tried++;
			}
		}
		TU_CHECK(refusals_total(fd, rq, rep) == refused0 + tried,
			 "%u refused attempts, %llu counted", tried,
			 (unsigned long long)(refusals_total(fd, rq, rep) - refused0));
		printf("%u attempts with forged or a reader's evidence over %d ops, each refused "
		       "and counted\n",
		       tried, SEVD_OP_MAX_ - 1);
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
	unix_closed(&d, fd, handoff, rq, rep);
	tls_evidence(fd, rq, rep);
	close(reader);
	close(handoff);
	TU_CHECK(kill(w, SIGCONT) == 0, "SIGCONT the worker");
	TU_CHECK(served(esock) == before, "firmware served %llu commands for refused requests",
		 (unsigned long long)(served(esock) - before));
	j1 = tu_read_file(jpath, &l1);
	TU_CHECK(j1 && l1 == l0 && !memcmp(j0, j1, l0), "the journal changed");
	tenant_matrix(fd, esock, jpath, false, rq, rep);
	/* the same with the tenants' client certificates: a connection id each */
	TU_CHECK(conn_cert(fd, tls_tenant[0].crt, rq, rep) == 0 &&
			 rep->u.conn.role == SEVD_ROLE_LAUNCHER,
		 "acme's launcher certificate: r %d role %u (%s)", rep->r, rep->u.conn.role,
		 rep->message);
	acme_conn = rep->u.conn.id;
	for (size_t k = 0; k < ELEMENTSOF(globex); k++) {
		TU_CHECK(conn_cert(fd, tls_tenant[1 + k].crt, rq, rep) == 0 &&
				 rep->u.conn.role == (uint32_t)globex[k].role,
			 "%s's certificate: r %d role %u (%s)", tenant_cns[1 + k], rep->r,
			 rep->u.conn.role, rep->message);
		globex_conn[k] = rep->u.conn.id;
	}
	tenant_matrix(fd, esock, jpath, true, rq, rep);
	close(fd);
	check_metric(&d, "GUEST_DELETE", "tenant", 2);
	check_metric(&d, "GUEST_CREATE", "tenant", 2);
	check_metric(&d, "GUEST_INFO", "tenant", 2);
	check_metric(&d, "GUEST_SNP_FINISH", "tenant", 2);
	check_metric(&d, "GUEST_RECEIVE_VMSA", "tenant", 2);
	tenant_http(port);
	check_metric(&d, "GUEST_INFO", "tenant", 3);
	check_metric(&d, "FACTORY_RESET", "no_evidence", 1);
	check_metric(&d, "FACTORY_RESET", "bad_token", 1);
	check_metric(&d, "GUEST_DELETE", "role", 3);
	check_metric(&d, "GUEST_SECRET", "bad_token", 1);
	check_metric(&d, "PEK_CERT_IMPORT", "no_evidence", 1);
	check_metric(&d, "SHUTDOWN", "bad_connection", 3); /* a forged id, two closed ones */
	/* the forged certificate, and the garbage "chain" of the no-evidence round */
	check_metric(&d, "CONN_CERT", "bad_certificate", 2);
	check_metric(&d, "FACTORY_RESET", "no_connection", 2);  /* Unix and certificate */
	check_metric(&d, "FACTORY_RESET", "bad_connection", 2); /* Unix and certificate */
	check_metric(&d, "FACTORY_RESET", "role", 4);		/* + the reader's certificate */
	/* the ended certificate id, a forged id, two closed Unix ones */
	check_metric(&d, "ASIDS", "bad_connection", 4);
	check_metric(&d, "ASIDS", "no_connection", 1);
	check_metric(&d, "GUEST_ATTEST", "role", 2); /* a reader's token and connection */
	logb = tu_read_file(d.log, &ll);
	TU_CHECK(logb && memmem(logb, ll, "SECURITY: the core refused FACTORY_RESET", 40),
		 "the refusal is logged (log %s)", d.log);
	TU_CHECK(!memmem(logb, ll, READER_TOKEN, strlen(READER_TOKEN)), "a token in the log");
	/* every op tried was logged as a security event */
	for (uint32_t op = 1; op < SEVD_OP_MAX_; op++) {
		char line[128];

		if (op == SEVD_OP_WHOAMI || op == SEVD_OP_CONN_END || op == SEVD_OP_GUEST_DATA_SLOT)
			continue;
		snprintf(line, sizeof(line), "SECURITY: the core refused %s for the worker",
			 op_table[op].name);
		TU_CHECK(memmem(logb, ll, line, strlen(line)), "no '%s' in the log %s", line,
			 d.log);
	}
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
	pki_ident_free(&tls_ca);
	pki_ident_free(&tls_reader);
	pki_ident_free(&tls_forged);
	for (size_t i = 0; i < ELEMENTSOF(tls_tenant); i++)
		pki_ident_free(&tls_tenant[i]);
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
