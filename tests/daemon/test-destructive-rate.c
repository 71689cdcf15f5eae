/* Destructive platform ops are rate-limited in the core: sevd.conf
 * `destructive_rate = 3/min` against a real sevd on its own sev-psp-emu, requests over the Unix
 * socket as root (admin). Three POST /v1/platform/pdh pass; the fourth, and a PEK_GEN after it
 * (one bucket for every destructive op), are answered 429 destructive_rate_limited, reach no
 * firmware (the emulator's command count), are counted in
 * sevd_core_refusals_total{op,reason="rate"} and logged as a security event; reads stay
 * served. Then the default (6/min, no config line): the seventh destructive op in a row is
 * refused. Before the three, a reader's PDH_GEN requests sent straight to the core (a
 * worker's core channel taken with pidfd_getfd, as a compromised worker would) are refused
 * by role and take nothing from the bucket: the three still pass. Fails on a core without the
 * limit, or one that charges refused callers to it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/util.h"
#include "daemon/core/emu-ctl.h"
#include "daemon/ipc/ipc.h"
#include "daemon/worker.h"
#include "tests/daemon/guest-client.h"
#include "tests/testutil.h"

static uint64_t served(const char *esock)
{
	struct emu_info info;

	TU_CHECK_EQ(sevd_emu_info(esock, &info), 0);
	return info.commands_served;
}

static long post(struct gc_daemon *d, const char *path, char *code, size_t size)
{
	struct gc_resp r;
	long st;

	gc_request(d, "POST", path, NULL, 0, NULL, &r);
	st = r.status;
	snprintf(code, size, "%s", gc_err_code(&r));
	gc_resp_free(&r);
	return st;
}

static void start(struct gc_daemon *d, struct tu_emu *emu, char **dir, char **esock,
		  const char *conf_text)
{
	*dir = tu_mkdtemp();
	TU_CHECK_EQ(tu_emu_start(*dir, NULL, emu), 0);
	*esock = strdup(emu->socket);
	*d = (struct gc_daemon){.dir = *dir, .emu_sock = *esock};
	if (conf_text) {
		char *conf = path_join(*dir, "sevd.conf");
		FILE *f = fopen(conf, "we");

		TU_CHECK(f && fputs(conf_text, f) >= 0 && fclose(f) == 0, "write %s", conf);
		d->config = conf;
	}
	TU_CHECK(gc_start(d, true), "sevd start (log %s)", d->log);
}

static void stop(struct gc_daemon *d, struct tu_emu *emu, char *dir, char *esock)
{
	gc_stop(d, false);
	tu_emu_stop(emu);
	tu_rmtree(dir);
	free((char *)d->config);
	free(d->log);
	free(d->sock);
	free(dir);
	free(esock);
}

#define READER_TOKEN "rate-reader-token"
#define READER_SHA256 "b794a38833ad1cb72e1f21df3c688e66ca87797de1848d4ba124f8dac9aa12b2"

/* A reader's destructive requests on the worker's first core channel ("--worker L,..."):
 * each refused by role. */
static void reader_attempts(struct gc_daemon *d, unsigned n)
{
	struct sevd_request *rq = calloc(1, sizeof(*rq));
	struct sevd_reply *rep = calloc(1, sizeof(*rep));
	char path[64], cmd[4096], err[SEVD_IPC_ERR_MAX];
	pid_t w = 0;
	unsigned nl = 0;
	int pidfd, fd;
	size_t k;
	FILE *f;

	for (int i = 0; i < 500 && (w = tu_find_worker(d->pid)) <= 0; i++)
		usleep(20 * 1000);
	TU_CHECK(rq && rep && w > 0, "a worker (log %s)", d->log);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)w);
	f = fopen(path, "re");
	TU_CHECK(f, "%s", path);
	k = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	cmd[k] = '\0';
	TU_CHECK(sscanf(cmd + strlen(cmd) + 1 + strlen("--worker") + 1, "%u,", &nl) == 1,
		 "--worker L,... in the worker's argv");
	pidfd = pidfd_open(w, 0);
	TU_CHECK(pidfd >= 0, "pidfd_open: %s", strerror(errno));
	fd = pidfd_getfd(pidfd, SEVD_WORKER_FD_START + (int)nl + 1, 0);
	TU_CHECK(fd >= 0, "pidfd_getfd: %s", strerror(errno));
	close(pidfd);
	for (unsigned i = 0; i < n; i++) {
		struct sevd_ipc_src src = {.fd = fd};

		memset(rq, 0, sizeof(*rq));
		rq->op = SEVD_OP_PDH_GEN;
		rq->caller.kind = SEVD_EVIDENCE_TOKEN;
		snprintf(rq->caller.text, sizeof(rq->caller.text), "%s", READER_TOKEN);
		TU_CHECK_EQ(sevd_ipc_send_request(fd, rq), 0);
		TU_CHECK(sevd_ipc_recv_reply(&src, rq->op, rep, err, sizeof(err)) == 0, "reply: %s",
			 err);
		TU_CHECK(rep->r == -EACCES && !strcmp(rep->rule, "core_refused:role"),
			 "a reader's PDH_GEN: r %d rule %s", rep->r, rep->rule);
	}
	close(fd);
	free(rq);
	free(rep);
}

static void configured(void)
{
	struct gc_daemon d;
	struct tu_emu emu;
	char *dir, *esock, code[64];
	_cleanup_free_ uint8_t *logb = NULL;
	uint64_t before, v = 0;
	size_t ll;

	start(&d, &emu, &dir, &esock,
	      "destructive_rate = 3/min\ntoken = reader:sha256:" READER_SHA256 "\n");
	before = served(esock);
	reader_attempts(&d, 8);
	TU_CHECK_EQ(served(esock), before);
	TU_CHECK(gc_metric(&d, "sevd_core_refusals_total{op=\"PDH_GEN\",reason=\"role\"}", &v) &&
			 v == 8,
		 "PDH_GEN role refusals %llu", (unsigned long long)v);
	for (unsigned i = 0; i < 3; i++)
		TU_CHECK(post(&d, "/v1/platform/pdh", code, sizeof(code)) == 200,
			 "PDH_GEN %u of 3: %s (log %s)", i + 1, code, d.log);
	before = served(esock);
	TU_CHECK(post(&d, "/v1/platform/pdh", code, sizeof(code)) == 429 &&
			 !strcmp(code, "destructive_rate_limited"),
		 "the fourth PDH_GEN within a minute: %s (log %s)", code, d.log);
	TU_CHECK(post(&d, "/v1/platform/pek", code, sizeof(code)) == 429 &&
			 !strcmp(code, "destructive_rate_limited"),
		 "a PEK_GEN after them shares the bucket: %s", code);
	TU_CHECK_EQ(served(esock), before); /* the refused ones reached no firmware */
	TU_CHECK(gc_metric(&d, "sevd_core_refusals_total{op=\"PDH_GEN\",reason=\"rate\"}", &v) &&
			 v == 1,
		 "PDH_GEN rate refusals %llu", (unsigned long long)v);
	TU_CHECK(gc_metric(&d, "sevd_core_refusals_total{op=\"PEK_GEN\",reason=\"rate\"}", &v) &&
			 v == 1,
		 "PEK_GEN rate refusals %llu", (unsigned long long)v);
	{
		struct gc_resp r;

		gc_request(&d, "GET", "/v1/platform", NULL, 0, NULL, &r);
		TU_CHECK(r.status == 200, "reads are not limited: %ld", r.status);
		gc_resp_free(&r);
	}
	logb = tu_read_file(d.log, &ll);
	TU_CHECK(logb && strstr((char *)logb, "SECURITY: the core refused PDH_GEN for the worker: "
					      "rate"),
		 "the rate refusal is logged (log %s)", d.log);
	stop(&d, &emu, dir, esock);
}

/* No config line: 6/min, so six pass and the seventh is refused. */
static void by_default(void)
{
	struct gc_daemon d;
	struct tu_emu emu;
	char *dir, *esock, code[64];

	start(&d, &emu, &dir, &esock, NULL);
	for (unsigned i = 0; i < 6; i++)
		TU_CHECK(post(&d, "/v1/platform/pdh", code, sizeof(code)) == 200,
			 "PDH_GEN %u of 6: %s (log %s)", i + 1, code, d.log);
	TU_CHECK(post(&d, "/v1/platform/pdh", code, sizeof(code)) == 429, "the seventh: %s",
		 code);
	stop(&d, &emu, dir, esock);
}

int main(void)
{
	if (geteuid() != 0)
		tu_skip("not root: the Unix socket's admin is uid 0 (CI runs as root)");
	configured();
	by_default();
	tu_done("daemon-destructive-rate");
}
