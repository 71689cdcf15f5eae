/* The SNP certificate table's fetch from sevd.conf kds_url, in the worker (kds-fetch.h).
 * Trusts neither the KDS nor itself: the core builds and checks the table. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "attest/snp-chain.h"
#include "attest/snp-report.h"
#include "common/http-client.h"
#include "common/kds-url.h"
#include "common/log.h"
#include "common/macros.h"
#include "daemon/ipc/ipc.h"
#include "daemon/worker/kds-fetch.h"

#define FETCH_TIMEOUT_MS 10000 /* per connect and read: a stop waits for no more */
#define FIX "check sevd.conf kds_url and the network"

struct sevd_kds_fetch {
	struct kds_url url;
	char addr[NI_MAXHOST]; /* the host, resolved before the sandbox */
	int stop_fd;	       /* eventfd: readable once the worker stops */
	atomic_bool stop, done;
	pthread_t thread;
	bool have_thread;
	struct sevd_request req;
	struct sevd_reply rep;
};

int sevd_kds_fetch_new(const char *url, struct sevd_kds_fetch **ret)
{
	struct sevd_kds_fetch *f = calloc(1, sizeof(*f));
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	_cleanup_free_ char *err = NULL;
	int r, g;

	if (!f)
		return -ENOMEM;
	f->stop_fd = -1;
	r = kds_url_parse(url, &f->url, &err);
	if (r < 0) {
		log_error("sevd.conf kds_url %s: %s; name a KDS as http[s]://HOST[:PORT][/PREFIX]",
			  url, err ? err : strerror(-r));
		sevd_kds_fetch_free(f);
		return r;
	}
	g = getaddrinfo(f->url.hostname, f->url.port, &hints, &res);
	if (g == 0)
		g = getnameinfo(res->ai_addr, res->ai_addrlen, f->addr, sizeof f->addr, NULL, 0,
				NI_NUMERICHOST);
	if (res)
		freeaddrinfo(res);
	if (g != 0) {
		log_error("sevd.conf kds_url %s: the host '%s' cannot be resolved (%s); the worker "
			  "resolves it once at its start, before its sandbox: use an IP address, "
			  "or a name in /etc/hosts or DNS", url, f->url.hostname, gai_strerror(g));
		sevd_kds_fetch_free(f);
		return -EHOSTUNREACH;
	}
	f->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->stop_fd < 0) {
		r = -errno;
		sevd_kds_fetch_free(f);
		return log_error_errno(r, "Cannot set up the fetch from kds_url (eventfd): %m");
	}
	*ret = f;
	return 0;
}

/* Until the stop or ms pass: true when stopped. */
static bool wait_ms(struct sevd_kds_fetch *f, uint32_t ms)
{
	struct pollfd p = { .fd = f->stop_fd, .events = POLLIN };

	if (!atomic_load(&f->stop))
		(void)poll(&p, 1, (int)ms);
	return atomic_load(&f->stop);
}

/* err for GET /v1/snp/certs' last_error (256 bytes, ASCII: the core keeps printable ASCII
 * alone): path shown as label (the VCEK's has 128 hex digits of chip id), "—" as "-". */
static void shorten(char *why, size_t why_len, const char *err, const char *path,
		    const char *label)
{
	const char *p = strstr(err, path);
	size_t o = 0;

	for (const char *c = err; *c && o + 1 < why_len;) {
		if (p && c == p) {
			o += (size_t)snprintf(why + o, why_len - o, "%s", label);
			o = MIN(o, why_len - 1);
			c += strlen(path);
		} else if (!strncmp(c, "\xe2\x80\x94", 3)) {
			why[o++] = '-';
			c += 3;
		} else
			why[o++] = *c++;
	}
	why[o] = '\0';
}

static int get(struct sevd_kds_fetch *f, const char *path, const char *label, uint8_t **body,
	       size_t *len, char *why, size_t why_len)
{
	struct http_client_opts o = { .timeout_ms = FETCH_TIMEOUT_MS, .connect_host = f->addr };
	_cleanup_free_ char *err = NULL;
	int r = kds_url_get(&f->url, path, &o, FIX, body, len, &err);

	if (r < 0)
		shorten(why, why_len, err ? err : strerror(-r), path, label);
	return r;
}

/* One attempt's GETs: 0 with data = VCEK ‖ cert_chain in req, or <0 with why. */
static int fetch(struct sevd_kds_fetch *f, char *why, size_t why_len)
{
	_cleanup_free_ struct snp_report *rpt = calloc(1, sizeof(*rpt));
	_cleanup_free_ char *vpath = NULL, *cpath = NULL, *label = NULL;
	_cleanup_free_ uint8_t *vcek = NULL, *chain = NULL;
	size_t vl = 0, cl = 0, cap = sizeof(f->req.u.snp_kds.data);
	struct attest_verdict pv = {};
	int r;

	if (!rpt)
		return -ENOMEM;
	rpt->gen = (enum snp_gen)f->rep.u.snp_certs.gen;
	rpt->reported_tcb.raw = f->rep.u.snp_certs.reported_tcb;
	memcpy(rpt->chip_id, f->rep.u.snp_certs.chip_id, sizeof(rpt->chip_id));
	r = attest_snp_vcek_kds_path(rpt, rpt->gen, &vpath, &pv);
	if (r < 0) {
		snprintf(why, why_len, "no KDS path for this chip's VCEK: %.160s",
			 attest_verdict_why(&pv, "?"));
		return r;
	}
	cpath = kds_url_cert_chain_path(attest_snp_gen_name(rpt->gen));
	if (!cpath ||
	    asprintf(&label, "/vcek/v1/%s/{chip id}?{TCB}", attest_snp_gen_name(rpt->gen)) < 0)
		return -ENOMEM;
	if ((r = get(f, vpath, label, &vcek, &vl, why, why_len)) < 0 ||
	    (r = get(f, cpath, cpath, &chain, &cl, why, why_len)) < 0)
		return r;
	if (!vl || !cl || vl > cap || cl > cap - vl) {
		snprintf(why, why_len, "the KDS at %s answered a VCEK of %zu and a cert_chain of "
			 "%zu bytes (1.., %zu in all)", f->url.base, vl, cl, cap);
		return -EMSGSIZE;
	}
	memcpy(f->req.u.snp_kds.data, vcek, vl);
	memcpy(f->req.u.snp_kds.data + vl, chain, cl);
	f->req.u.snp_kds.vcek_len = (uint32_t)vl;
	f->req.u.snp_kds.chain_len = (uint32_t)cl;
	return 0;
}

/* One SNP_CERTS_KDS round trip: true while the core says the fetch is pending. */
static bool call(struct sevd_kds_fetch *f, uint32_t stage)
{
	f->req.op = SEVD_OP_SNP_CERTS_KDS;
	f->req.u.snp_kds.stage = stage;
	if (sevd_ipc_client_call(NULL, &f->req, &f->rep) < 0) {
		if (f->rep.r != -EALREADY)
			log_warning("The fetch from kds_url ends: the core answered %s",
				    f->rep.message[0] ? f->rep.message : strerror(-f->rep.r));
		return false;
	}
	return f->rep.u.snp_certs.pending;
}

static void *fetch_main(void *arg)
{
	struct sevd_kds_fetch *f = arg;
	char why[sizeof(f->req.u.snp_kds.error)];

	while (!atomic_load(&f->stop)) {
		memset(&f->req, 0, sizeof(f->req));
		if (!call(f, SEVD_SNP_KDS_BEGIN))
			break;
		why[0] = '\0';
		if (f->rep.message[0]) {
			/* the core could not read the chip's facts: it keeps the failure */
		} else if (fetch(f, why, sizeof why) < 0) {
			memset(&f->req, 0, sizeof(f->req));
			snprintf(f->req.u.snp_kds.error, sizeof(f->req.u.snp_kds.error), "%s",
				 why[0] ? why : "the fetch failed");
			if (!call(f, SEVD_SNP_KDS_FAILED))
				break;
		} else if (!call(f, SEVD_SNP_KDS_CERTS))
			break; /* held: the core logged it */
		if (wait_ms(f, f->rep.u.snp_certs.retry_in_ms))
			break;
	}
	atomic_store(&f->done, true);
	return NULL;
}

int sevd_kds_fetch_start(struct sevd_kds_fetch *f)
{
	int r = -pthread_create(&f->thread, NULL, fetch_main, f);

	if (r < 0)
		return log_warning_errno(r, "Cannot start the fetch from kds_url: %m; PUT "
					    "/v1/snp/certs (sevadm snp certs import DIR)");
	f->have_thread = true;
	return 0;
}

void sevd_kds_fetch_free(struct sevd_kds_fetch *f)
{
	if (!f)
		return;
	if (f->have_thread) {
		struct timespec t;

		atomic_store(&f->stop, true);
		(void)eventfd_write(f->stop_fd, 1);
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += 3;
		if (pthread_timedjoin_np(f->thread, NULL, &t) != 0)
			return; /* an attempt still in flight: left to the worker's exit */
	}
	if (f->stop_fd >= 0)
		close(f->stop_fd);
	kds_url_done(&f->url);
	free(f);
}
