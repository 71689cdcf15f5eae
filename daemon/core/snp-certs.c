/* The host's SEV-SNP certificate table (snp-certs.h). Trusts nothing the worker sends: a
 * table is parsed by attest_snp_cert_table_parse (fuzzed: tests/fuzz/fuzz-snp-cert-table.c),
 * its chain verified against the configured root for this chip's generation, and its VCEK
 * bound to this chip (hwID = GET_ID) and its reported TCB (SNP_PLATFORM_STATUS), before it
 * replaces the one kept. The table lives in memory under a mutex (readers do not queue behind
 * firmware) and, when uploaded, in <state_dir>/snp-certs.bin, written atomically. Without one
 * at start it is fetched: from the emulator's key server by a thread here, or, when sevd.conf
 * kds_url is a URL, by the worker (the core speaks no HTTP), which hands the VCEK and the
 * cert_chain in (SNP_CERTS_KDS): the core builds the table from them and checks it as a PUT's. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "attest/roots.h"
#include "attest/snp-appraise.h"
#include "attest/snp-cert-table.h"
#include "attest/snp-chain.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/ossl.h"
#include "common/util.h"
#include "daemon/core/core-internal.h"
#include "daemon/core/emu-ctl.h"
#include "daemon/core/snp-certs.h"
#include "psp/commands.h"

_Static_assert(SEVD_SNP_CERTS_MAX == SNP_CERT_TABLE_MAX, "one bound for the table");

#define CERT_MAX 8192u /* one DER certificate from the emulator's key server */

/* The background fetch (sevd_snp_certs_start): 1 s after a failed attempt, doubling to 60 s,
 * for as long as no table is held and none was PUT. */
#define RETRY_FIRST_MS 1000u
#define RETRY_MAX_MS 60000u

struct sevd_snp_certs {
	pthread_mutex_t lock;
	char *path; /* <state_dir>/snp-certs.bin, or NULL */
	uint32_t source; /* enum sevd_snp_certs_source */
	uint32_t len;
	uint8_t table[SEVD_SNP_CERTS_MAX];
	/* The background fetch, under lock: */
	bool put_seen;	 /* a PUT was accepted: never overwrite it, stop fetching */
	bool pending;	 /* the fetch thread is running (none held yet) */
	bool fetching;	 /* an attempt is running now */
	bool stop;	 /* shutdown: the thread ends */
	uint32_t attempts;
	struct timespec next; /* CLOCK_MONOTONIC of the next attempt */
	char last_error[256];
	char from[128];
	bool kds;	      /* the worker fetches (kds_url): SNP_CERTS_KDS is served */
	uint32_t kds_delay;   /* its next retry's delay (ms) */
	pthread_cond_t cond;  /* stop */
	int stop_fd;	      /* eventfd: readable at shutdown (ends a wait for the emulator) */
	pthread_t thread;
	bool have_thread;
};

int sevd_snp_certs_new(const char *state_dir, struct sevd_snp_certs **ret)
{
	struct sevd_snp_certs *s = calloc(1, sizeof(*s));
	_cleanup_free_ uint8_t *buf = NULL;
	struct snp_cert_table t;
	struct attest_verdict v = {};
	size_t len = 0;
	int r;

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	s->stop_fd = -1;
	*ret = s;
	if (!state_dir)
		return 0;
	s->path = path_join(state_dir, "snp-certs.bin");
	if (!s->path)
		return -ENOMEM;
	r = read_full_file(s->path, SEVD_SNP_CERTS_MAX, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return log_error_errno(r, "Cannot read the SNP certificate table %s: %m (remove it "
					  "and PUT /v1/snp/certs again)", s->path);
	if (attest_snp_cert_table_parse(buf, len, &t, &v) < 0) {
		log_error("The SNP certificate table %s is malformed: %s; remove it and PUT "
			  "/v1/snp/certs again", s->path, v.reason);
		return -EBADMSG;
	}
	memcpy(s->table, buf, len);
	s->len = (uint32_t)len;
	s->source = SEVD_SNP_CERTS_UPLOAD;
	log_info("SNP certificate table: %zu bytes from %s", len, s->path);
	return 0;
}

void sevd_snp_certs_stop(struct sevd_snp_certs *s)
{
	if (!s || !s->have_thread)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	(void)eventfd_write(s->stop_fd, 1);
	pthread_join(s->thread, NULL);
	s->have_thread = false;
}

void sevd_snp_certs_free(struct sevd_snp_certs *s)
{
	if (!s)
		return;
	sevd_snp_certs_stop(s);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}

static int refuse(struct sevd_reply *rep, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(struct sevd_reply *rep, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep->message, sizeof(rep->message), fmt, ap);
	va_end(ap);
	return rep->r = r;
}

/* The root this chip's chain must reach: roots_dir's snp/<gen>/ark.pem when configured (sevd.conf
 * roots_dir); on the emulator, its own emulated ARK ("snp-cert ark", the model of AMD's key
 * server); else the default roots directory. */
static int trusted_ark(struct sevd_core *c, const char *gen, X509 **ret, struct sevd_reply *rep)
{
	const char *emu = sevd_core_emu_socket(c), *dir = sevd_core_roots_dir(c);
	struct attest_verdict why = {0};
	_cleanup_(attest_roots_freep) struct attest_roots *roots = NULL;
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	struct attest_verdict v = {0};
	size_t len = 0;
	int r;

	if (!dir && emu) {
		buf = malloc(CERT_MAX);
		if (!buf)
			return refuse(rep, -ENOMEM, "out of memory");
		r = sevd_emu_ctl_bin(emu, "snp-cert ark", buf, CERT_MAX, &len);
		if (r < 0)
			return refuse(rep, -EKEYREJECTED, "the emulator's ARK (control 'snp-cert ark') "
				      "could not be read: %s", strerror(-r));
	} else {
		r = attest_roots_load(dir, &roots, &v);
		if (r < 0)
			return refuse(rep, -EKEYREJECTED,
				      "the roots directory %s cannot be read: %s",
				      dir ? dir : attest_roots_default_dir(),
				      attest_verdict_why(&v, strerror(-r)));
		path = attest_roots_snp_path(roots, gen, "ark.pem");
		if (!path)
			return refuse(rep, -EKEYREJECTED, "no SNP root for %s in %s: copy AMD's ARK "
				      "there as snp/%s/ark.pem", gen,
				      dir ? dir : attest_roots_default_dir(), gen);
		r = read_full_file(path, CERT_MAX, &buf, &len);
		if (r < 0)
			return refuse(rep, -EKEYREJECTED, "cannot read the root %s: %s", path,
				      strerror(-r));
	}
	if (attest_snp_cert_parse(buf, len, ret, &why) < 0)
		return refuse(rep, -EKEYREJECTED, "the configured %s ARK is not a certificate: %s",
			      gen, why.reason);
	return 0;
}

/* This chip's GET_ID and reported TCB, as a report would carry them, for the VCEK check. */
static int chip_facts(struct sevd_core *c, struct snp_report *r, struct sevd_reply *rep)
{
	struct sev_snp_platform_status st;
	_cleanup_free_ uint8_t *id = NULL;
	struct timespec t0;
	int psp_ret = SEV_STATUS_NO_FW_CALL, k;
	size_t len = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	k = psp_cmd_snp_platform_status(sevd_core_psp(c), &st, &psp_ret);
	if (sevd_core_fw_done(c, rep, SEV_CMD_SNP_PLATFORM_STATUS, k, psp_ret, &t0) < 0)
		return rep->r;
	psp_ret = SEV_STATUS_NO_FW_CALL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	k = psp_cmd_get_id(sevd_core_psp(c), &id, &len, &psp_ret);
	if (sevd_core_fw_done(c, rep, SEV_CMD_GET_ID, k, psp_ret, &t0) < 0)
		return rep->r;
	r->gen = (enum snp_gen)sevd_core_snp_gen(c);
	r->reported_tcb.raw = st.reported_tcb;
	memcpy(r->chip_id, id, MIN(len, sizeof(r->chip_id)));
	return 0;
}

static int table_x509(const uint8_t *buf, const struct snp_cert_table *t, enum snp_cert_kind k,
		      X509 **ret, struct sevd_reply *rep)
{
	struct attest_verdict why = {0};

	if (attest_snp_cert_parse(buf + t->offset[k], t->length[k], ret, &why) < 0)
		return refuse(rep, -EBADMSG, "the table's %s entry is not an X.509 certificate: %s",
			      attest_snp_cert_kind_name(k), why.reason);
	return 0;
}

/* The whole check of a table for this chip: 0, or rep->r (-EBADMSG malformed, -EKEYREJECTED
 * not verifying, naming the reason; a firmware failure as FW_CALL gives it). */
static int check_table(struct sevd_core *c, const uint8_t *buf, size_t len, struct sevd_reply *rep)
{
	_cleanup_(X509_freep) X509 *ark = NULL, *ask = NULL, *leaf = NULL, *root = NULL;
	_cleanup_free_ struct snp_report *r = calloc(1, sizeof(*r));
	enum snp_gen gen = (enum snp_gen)sevd_core_snp_gen(c);
	struct snp_chain_verdict v;
	struct attest_verdict leaf_why = {0};
	struct snp_vcek_info info;
	struct snp_cert_table t;
	struct attest_verdict tv = {};
	enum snp_cert_kind lk;
	char g[32];
	bool hw;

	if (!r)
		return refuse(rep, -ENOMEM, "out of memory");
	if (attest_snp_cert_table_parse(buf, len, &t, &tv) < 0)
		return refuse(rep, -EBADMSG, "malformed certificate table: %s", tv.reason);
	if (t.has[SNP_CERT_VCEK] == t.has[SNP_CERT_VLEK])
		return refuse(rep, -EBADMSG, "the table must hold exactly one of a VCEK and a VLEK "
			      "entry (it holds %s)", t.has[SNP_CERT_VCEK] ? "both" : "neither");
	if (!t.has[SNP_CERT_ARK] || !t.has[SNP_CERT_ASK])
		return refuse(rep, -EBADMSG, "the table has no %s entry: a chain needs the ARK and "
			      "the ASK (for a VLEK, the ASVK)", t.has[SNP_CERT_ARK] ? "ASK" : "ARK");
	lk = t.has[SNP_CERT_VCEK] ? SNP_CERT_VCEK : SNP_CERT_VLEK;
	if (!sevd_core_snp_up(c))
		return refuse(rep, -EOPNOTSUPP, "SEV-SNP is not up on this host (see GET "
			      "/v1/snp/platform): a certificate table is checked against the chip");
	if (table_x509(buf, &t, SNP_CERT_ARK, &ark, rep) < 0 ||
	    table_x509(buf, &t, SNP_CERT_ASK, &ask, rep) < 0 ||
	    table_x509(buf, &t, lk, &leaf, rep) < 0)
		return rep->r;
	if (gen == SNP_GEN_UNKNOWN)
		return refuse(rep, -EKEYREJECTED, "this part's SNP generation is unknown (CPUID "
			      "family/model), so no root can be chosen for it");
	snprintf(g, sizeof g, "%s", attest_snp_gen_name(gen));
	for (char *p = g; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	if (trusted_ark(c, g, &root, rep) < 0)
		return rep->r;
	if (X509_cmp(ark, root) != 0)
		return refuse(rep, -EKEYREJECTED, "the table's ARK is not the configured %s root: "
			      "put the ARK of this chip's generation in the table", g);
	if (attest_snp_chain_verify(root, ask, leaf, &v) != 1)
		return refuse(rep, -EKEYREJECTED, "the chain does not verify: %s",
			      v.verdict.reason);
	/* A CRL entry is the ARK's: issued by this root, current, and listing neither the ASK
	 * (ASVK) nor the leaf; a guest that reads the table relies on it as on the chain. */
	if (t.has[SNP_CERT_CRL]) {
		struct attest_verdict cv = {};
		int k = attest_snp_crl_check(buf + t.offset[SNP_CERT_CRL], t.length[SNP_CERT_CRL],
					     root, ask, leaf, &cv);

		if (k < 0)
			return refuse(rep, k, "cannot check the table's CRL: %s", strerror(-k));
		if (k != 1)
			return refuse(rep, -EKEYREJECTED, "the table's CRL: %s (put the CRL this "
				      "generation's KDS serves, or none)", cv.reason);
	}
	if (attest_snp_vcek_info(leaf, &info, &leaf_why) < 0)
		return refuse(rep, -EKEYREJECTED, "the %s: %s", attest_snp_cert_kind_name(lk),
			      leaf_why.reason);
	if (info.is_vlek != (lk == SNP_CERT_VLEK))
		return refuse(rep, -EKEYREJECTED, "the %s entry holds a %s certificate",
			      attest_snp_cert_kind_name(lk), info.is_vlek ? "VLEK" : "VCEK");
	if (chip_facts(c, r, rep) < 0)
		return rep->r;
	if (attest_snp_vcek_check_report(&info, r, &hw, &leaf_why) != 1)
		return refuse(rep, -EKEYREJECTED, "the %s is not this chip's for its reported TCB: "
			      "%s (sevadm snp fetch gets the right one)",
			      attest_snp_cert_kind_name(lk), leaf_why.reason);
	return 0;
}

static uint32_t ms_until(const struct timespec *t)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? (uint32_t)ms : 0;
}

/* Under s->lock: an attempt failed (why); the next one in *delay ms, which doubles to 60 s.
 * The first failure is logged, not each retry. */
static void failed(struct sevd_snp_certs *s, const char *why, uint32_t *delay)
{
	snprintf(s->last_error, sizeof s->last_error, "%s", why);
	if (s->attempts == 1)
		log_warning("No SNP certificate table yet: %s; retrying in the background "
			    "(1 s, doubling to %u s) until it arrives or one is PUT (sevadm "
			    "snp certs import DIR)", why, RETRY_MAX_MS / 1000);
	timespec_after_ms(CLOCK_MONOTONIC, *delay, &s->next);
	*delay = MIN(*delay * 2, RETRY_MAX_MS);
}

/* Under s->lock. */
static void answer(struct sevd_snp_certs *s, struct sevd_reply *rep)
{
	bool pending = s->pending && !s->len && !s->put_seen;

	rep->u.snp_certs.pending = pending;
	rep->u.snp_certs.fetching = pending && s->fetching;
	rep->u.snp_certs.retry_in_ms = pending && !s->fetching ? ms_until(&s->next) : 0;
	rep->u.snp_certs.attempts = s->attempts;
	snprintf(rep->u.snp_certs.last_error, sizeof(rep->u.snp_certs.last_error), "%s",
		 pending ? s->last_error : "");
	snprintf(rep->u.snp_certs.from, sizeof(rep->u.snp_certs.from), "%s",
		 pending ? s->from : "");
	rep->u.snp_certs.source = s->source;
	rep->u.snp_certs.len = s->len;
	memcpy(rep->u.snp_certs.table, s->table, s->len);
}

static void op_put(struct sevd_core *c, struct sevd_snp_certs *s, const struct sevd_request *req,
		   struct sevd_reply *rep)
{
	uint32_t len = req->u.snp_certs.len;
	int r;

	if (len == 0 || len > SEVD_SNP_CERTS_MAX) {
		refuse(rep, -EBADMSG, "a certificate table is 1..%u bytes (%u given)",
		       SEVD_SNP_CERTS_MAX, len);
		return;
	}
	if (check_table(c, req->u.snp_certs.table, len, rep) < 0)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->path) {
		r = write_file_atomic(s->path, req->u.snp_certs.table, len, 0644);
		if (r < 0) {
			pthread_mutex_unlock(&s->lock);
			refuse(rep, -ENOTRECOVERABLE, "cannot write %s: %s; the table was not "
			       "changed", s->path, strerror(-r));
			return;
		}
	}
	memcpy(s->table, req->u.snp_certs.table, len);
	s->len = len;
	s->source = SEVD_SNP_CERTS_UPLOAD;
	s->put_seen = true; /* the background fetch, if any, stops and never overwrites it */
	pthread_cond_broadcast(&s->cond);
	answer(s, rep);
	pthread_mutex_unlock(&s->lock);
	log_notice("SNP certificate table replaced (%u bytes)%s", len,
		   s->path ? "" : " (no state directory: not kept over a restart)");
}

static void op_delete(struct sevd_snp_certs *s, struct sevd_reply *rep)
{
	pthread_mutex_lock(&s->lock);
	if (s->path && unlink(s->path) < 0 && errno != ENOENT) {
		int e = errno;

		pthread_mutex_unlock(&s->lock);
		refuse(rep, -ENOTRECOVERABLE, "cannot remove %s: %s", s->path, strerror(e));
		return;
	}
	s->len = 0;
	s->source = SEVD_SNP_CERTS_NONE;
	answer(s, rep);
	pthread_mutex_unlock(&s->lock);
	log_notice("SNP certificate table removed");
}

/* SNP_CERTS_KDS's CERTS: the table of the worker's VCEK (DER) and cert_chain (PEM: the ASK,
 * then the ARK, as AMD serves /vcek/v1/{Gen}/cert_chain), built here; checked by the caller. */
static int kds_table(const struct sevd_request *req, uint8_t **ret, size_t *ret_len, char *why,
		     size_t why_len)
{
	uint32_t vl = req->u.snp_kds.vcek_len, cl = req->u.snp_kds.chain_len;
	const uint8_t *d = req->u.snp_kds.data;
	_cleanup_(X509_freep) X509 *ask = NULL, *ark = NULL;
	unsigned char *ask_der = NULL, *ark_der = NULL; /* OpenSSL's: OPENSSL_free */
	struct snp_cert_entry e[3];
	struct attest_verdict v = {};
	int al, rl, r;

	if (!vl || !cl || vl > sizeof(req->u.snp_kds.data) ||
	    cl > sizeof(req->u.snp_kds.data) - vl) {
		snprintf(why, why_len, "the worker sent a VCEK of %u and a cert_chain of %u bytes "
			 "(each 1.., %zu in all)", vl, cl, sizeof(req->u.snp_kds.data));
		return -EBADMSG;
	}
	if (attest_snp_cert_chain_parse(d + vl, cl, &ask, &ark, &v) < 0) {
		snprintf(why, why_len, "the KDS's cert_chain is not the ASK and the ARK: %.160s",
			 attest_verdict_why(&v, "malformed"));
		return -EBADMSG;
	}
	al = i2d_X509(ask, &ask_der);
	rl = i2d_X509(ark, &ark_der);
	if (al <= 0 || rl <= 0) {
		OPENSSL_free(ask_der);
		OPENSSL_free(ark_der);
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	memcpy(e[0].guid, attest_snp_cert_kind_guid(SNP_CERT_VCEK), 16);
	e[0].data = d;
	e[0].len = vl;
	memcpy(e[1].guid, attest_snp_cert_kind_guid(SNP_CERT_ASK), 16);
	e[1].data = ask_der;
	e[1].len = (uint32_t)al;
	memcpy(e[2].guid, attest_snp_cert_kind_guid(SNP_CERT_ARK), 16);
	e[2].data = ark_der;
	e[2].len = (uint32_t)rl;
	r = attest_snp_cert_table_build(e, 3, ret, ret_len, &v);
	if (r < 0)
		snprintf(why, why_len, "%.200s", attest_verdict_why(&v, "out of memory"));
	OPENSSL_free(ask_der);
	OPENSSL_free(ark_der);
	return r;
}

/* The worker's text, shown and logged: printable ASCII only (it is not trusted). */
static void worker_text(char *dst, size_t cap, const char *src, size_t src_cap)
{
	size_t n = strnlen(src, src_cap), i;

	for (i = 0; i < n && i + 1 < cap; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

/* BEGIN: this chip's id, reported TCB and generation for the VCEK's KDS path. */
static int kds_begin(struct sevd_core *c, struct sevd_reply *rep, char *why, size_t why_len)
{
	_cleanup_free_ struct snp_report *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	if (chip_facts(c, r, rep) < 0) {
		snprintf(why, why_len, "the chip's ID or reported TCB cannot be read: %.180s",
			 rep->message);
		return rep->r;
	}
	rep->u.snp_certs.gen = r->gen;
	rep->u.snp_certs.reported_tcb = r->reported_tcb.raw;
	memcpy(rep->u.snp_certs.chip_id, r->chip_id, sizeof(rep->u.snp_certs.chip_id));
	return 0;
}

/* CERTS: the table built and checked as a PUT's; 1 installed, 0 superseded, <0 with why. */
static int kds_install(struct sevd_core *c, struct sevd_snp_certs *s,
		       const struct sevd_request *req, struct sevd_reply *rep, char *why,
		       size_t why_len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	int r = kds_table(req, &buf, &len, why, why_len);

	if (r < 0)
		return r;
	if (check_table(c, buf, len, rep) < 0) {
		snprintf(why, why_len, "the KDS's VCEK chain does not hold for this chip: %.180s",
			 rep->message);
		return rep->r;
	}
	pthread_mutex_lock(&s->lock);
	r = 0;
	if (!s->len && !s->put_seen) {
		memcpy(s->table, buf, len);
		s->len = (uint32_t)len;
		s->source = SEVD_SNP_CERTS_KDS;
		r = 1;
		log_info("SNP certificate table: the chip's VCEK for its reported TCB, with the "
			 "ASK and ARK, from %s (%zu bytes, attempt %u)", s->from, len, s->attempts);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* SNP_CERTS_KDS, from the worker, on the firmware thread: served only while the fetch from
 * kds_url is pending (no table held, none PUT). A failed attempt, the worker's or the
 * check's, is answered r = 0, pending, with the retry the worker waits for. */
static void op_kds(struct sevd_core *c, struct sevd_snp_certs *s, const struct sevd_request *req,
		   struct sevd_reply *rep)
{
	uint32_t stage = req->u.snp_kds.stage;
	char why[256] = "";
	int r = 0;

	memset(&rep->u.snp_certs, 0, offsetof(typeof(rep->u.snp_certs), table));
	if (stage > SEVD_SNP_KDS_CERTS) {
		refuse(rep, -EINVAL, "SNP_CERTS_KDS: unknown stage %u", stage);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (!s->kds || !s->pending || s->len || s->put_seen) {
		answer(s, rep);
		pthread_mutex_unlock(&s->lock);
		refuse(rep, -EALREADY, "no fetch of the SNP certificate table from kds_url is "
		       "pending (a table is held or was PUT, or kds_url is not a URL)");
		return;
	}
	if (stage == SEVD_SNP_KDS_BEGIN) {
		s->fetching = true;
		s->attempts++;
	}
	pthread_mutex_unlock(&s->lock);
	if (stage == SEVD_SNP_KDS_BEGIN)
		r = kds_begin(c, rep, why, sizeof why);
	else if (stage == SEVD_SNP_KDS_FAILED) {
		worker_text(why, sizeof why, req->u.snp_kds.error, sizeof(req->u.snp_kds.error));
		r = -EIO;
	} else
		r = kds_install(c, s, req, rep, why, sizeof why);
	pthread_mutex_lock(&s->lock);
	if (r < 0 || stage != SEVD_SNP_KDS_BEGIN)
		s->fetching = false;
	if (r < 0)
		failed(s, why[0] ? why : strerror(-r), &s->kds_delay);
	if (r > 0 || s->len || s->put_seen)
		s->pending = false;
	answer(s, rep); /* leaves BEGIN's chip id, TCB and gen */
	pthread_mutex_unlock(&s->lock);
	rep->r = 0;
	rep->fw_status = SEV_STATUS_NO_FW_CALL;
	snprintf(rep->message, sizeof rep->message, "%s", r < 0 ? why : "");
}

void sevd_snp_certs_op(struct sevd_core *c, const struct sevd_request *req, struct sevd_reply *rep)
{
	struct sevd_snp_certs *s = sevd_core_snp_certs(c);

	rep->u.snp_certs.len = 0;
	if (!s) {
		refuse(rep, -EOPNOTSUPP, "the SNP certificate table is not set up");
		return;
	}
	if (req->op == SEVD_OP_SNP_CERTS_PUT) {
		op_put(c, s, req, rep);
		return;
	}
	if (req->op == SEVD_OP_SNP_CERTS_DELETE) {
		op_delete(s, rep);
		return;
	}
	if (req->op == SEVD_OP_SNP_CERTS_KDS) {
		op_kds(c, s, req, rep);
		return;
	}
	pthread_mutex_lock(&s->lock);
	answer(s, rep); /* none: len 0, source NONE */
	pthread_mutex_unlock(&s->lock);
}

/* The emulator's key server ("snp-cert vcek|ask|ark": DER, the VCEK for the reported TCB),
 * as sev-kds-emu serves them at AMD's paths. */
static int fetch_emu(const char *emu, int stop_fd, uint8_t **ret, size_t *ret_len, char *why,
		     size_t why_len)
{
	static const char *const what[] = { "vcek", "ask", "ark" };
	static const enum snp_cert_kind kind[] = { SNP_CERT_VCEK, SNP_CERT_ASK, SNP_CERT_ARK };
	struct snp_cert_entry e[3];
	uint8_t *bufs[3] = { 0 };
	int r = 0;

	for (size_t i = 0; i < 3 && r >= 0; i++) {
		char cmd[32];
		size_t len = 0;

		bufs[i] = malloc(CERT_MAX);
		if (!bufs[i]) {
			r = -ENOMEM;
			break;
		}
		snprintf(cmd, sizeof cmd, "snp-cert %s", what[i]);
		r = sevd_emu_ctl_bin_stoppable(emu, cmd, bufs[i], CERT_MAX, &len, stop_fd);
		if (r < 0)
			snprintf(why, why_len, "the emulator's key server (%s): %s%s%.*s", cmd,
				 strerror(-r), r == -EAGAIN || r == -EINVAL || r == -EOPNOTSUPP ?
				 ": " : "", r == -EAGAIN || r == -EINVAL || r == -EOPNOTSUPP ?
				 (int)MIN(len, (size_t)160) : 0, (const char *)bufs[i]);
		memcpy(e[i].guid, attest_snp_cert_kind_guid(kind[i]), 16);
		e[i].data = bufs[i];
		e[i].len = (uint32_t)len;
	}
	if (r >= 0) {
		struct attest_verdict v = {};

		r = attest_snp_cert_table_build(e, 3, ret, ret_len, &v);
		if (r < 0 && v.reason[0])
			snprintf(why, why_len, "%.200s", v.reason);
	}
	for (size_t i = 0; i < 3; i++)
		free(bufs[i]);
	return r;
}

/* The install of a fetched table, on the firmware thread (check_table asks firmware for the
 * chip's ID and reported TCB): held unless a table is held or a PUT came first. */
struct install_job {
	struct sevd_core *c;
	struct sevd_snp_certs *s;
	const uint8_t *buf;
	size_t len;
	struct sevd_reply *rep;
	int r;
	bool installed; /* false: a table was held or PUT meanwhile */
};

static void install_job_run(void *arg)
{
	struct install_job *j = arg;
	struct sevd_snp_certs *s = j->s;

	j->r = check_table(j->c, j->buf, j->len, j->rep);
	if (j->r < 0)
		return;
	pthread_mutex_lock(&s->lock);
	if (!s->len && !s->put_seen) {
		memcpy(s->table, j->buf, j->len);
		s->len = (uint32_t)j->len;
		s->source = SEVD_SNP_CERTS_KDS;
		j->installed = true;
	}
	pthread_mutex_unlock(&s->lock);
}

/* One attempt, off the firmware thread but for the install: 1 installed, 0 superseded (a
 * table was held or PUT meanwhile), or <0 with why. */
static int attempt(struct sevd_core *c, struct sevd_snp_certs *s, struct sevd_reply *rep,
		   char *why, size_t why_len, size_t *ret_len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct install_job j = { .c = c, .s = s, .rep = rep };
	size_t len = 0;
	int r;

	r = fetch_emu(sevd_core_emu_socket(c), s->stop_fd, &buf, &len, why, why_len);
	if (r < 0)
		return r;
	j.buf = buf;
	j.len = len;
	memset(rep, 0, sizeof(*rep));
	r = sevd_core_run_job(c, install_job_run, &j, rep);
	if (r < 0 && !j.r) {
		snprintf(why, why_len, "the firmware queue did not run the table's check: %.180s",
			 rep->message[0] ? rep->message : strerror(-r));
		return r;
	}
	if (j.r < 0) {
		snprintf(why, why_len, "the key server's VCEK chain does not hold for this "
			 "chip: %.180s", rep->message[0] ? rep->message : strerror(-j.r));
		return j.r;
	}
	*ret_len = len;
	return j.installed;
}

static void *fetch_main(void *arg)
{
	struct sevd_core *c = arg;
	struct sevd_snp_certs *s = sevd_core_snp_certs(c);
	_cleanup_free_ struct sevd_reply *rep = calloc(1, sizeof(*rep));
	uint32_t delay = RETRY_FIRST_MS;
	char why[256];

	pthread_mutex_lock(&s->lock);
	while (rep && !s->stop && !s->len && !s->put_seen) {
		size_t len = 0;
		int r;

		s->fetching = true;
		s->attempts++;
		pthread_mutex_unlock(&s->lock);
		why[0] = '\0';
		r = attempt(c, s, rep, why, sizeof why, &len);
		pthread_mutex_lock(&s->lock);
		s->fetching = false;
		if (r == 0)
			break; /* a PUT came first: it stays */
		if (r > 0) {
			log_info("SNP certificate table: the chip's VCEK for its reported TCB, with "
				 "the ASK and ARK, from %s (%zu bytes, attempt %u)", s->from, len,
				 s->attempts);
			break;
		}
		if (s->stop || r == -ECANCELED)
			break;
		failed(s, why, &delay);
		while (!s->stop && !s->put_seen && !s->len &&
		       pthread_cond_timedwait(&s->cond, &s->lock, &s->next) == 0)
			;
	}
	s->pending = false;
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void sevd_snp_certs_start(struct sevd_core *c)
{
	struct sevd_snp_certs *s = sevd_core_snp_certs(c);
	_cleanup_free_ struct sevd_reply *rep = calloc(1, sizeof(*rep));
	const char *emu = sevd_core_emu_socket(c);
	int r;

	if (!s || !rep)
		return;
	if (s->len) {
		if (check_table(c, s->table, s->len, rep) < 0)
			log_warning("The kept SNP certificate table no longer holds for this chip: "
				    "%s; PUT a new one (sevadm snp certs import DIR)", rep->message);
		return;
	}
	if (sevd_core_snp_certs_no_fetch(c)) {
		log_notice("No SNP certificate table, and no fetch at start (sevd.conf kds_url = "
			   "off): PUT /v1/snp/certs (sevadm snp fetch, then sevadm snp certs import "
			   "DIR)");
		return;
	}
	if (sevd_core_kds_url(c)) {
		/* The worker fetches (worker/kds-fetch.c) and hands the certificates in. */
		pthread_mutex_lock(&s->lock);
		snprintf(s->from, sizeof s->from, "%s", sevd_core_kds_url(c));
		s->kds = true;
		s->kds_delay = RETRY_FIRST_MS;
		s->pending = true;
		clock_gettime(CLOCK_MONOTONIC, &s->next);
		pthread_mutex_unlock(&s->lock);
		log_info("No SNP certificate table: the worker fetches the chip's VCEK and its chain "
			 "from %s (sevd.conf kds_url)", s->from);
		return;
	}
	if (!emu) {
		log_notice("No SNP certificate table: PUT /v1/snp/certs (sevadm snp fetch, then "
			   "sevadm snp certs import DIR)");
		return;
	}
	if (s->have_thread)
		return;
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0) {
		log_warning("No SNP certificate table: cannot start its fetch (eventfd: %m); PUT "
			    "/v1/snp/certs (sevadm snp certs import DIR)");
		return;
	}
	pthread_mutex_lock(&s->lock);
	snprintf(s->from, sizeof s->from, "the emulator's key server");
	s->pending = true;
	pthread_mutex_unlock(&s->lock);
	r = -pthread_create(&s->thread, NULL, fetch_main, c);
	if (r < 0) {
		pthread_mutex_lock(&s->lock);
		s->pending = false;
		pthread_mutex_unlock(&s->lock);
		log_warning("No SNP certificate table: cannot start its fetch: %s; PUT "
			    "/v1/snp/certs (sevadm snp certs import DIR)", strerror(-r));
		return;
	}
	s->have_thread = true;
}

size_t sevd_snp_certs_copy(struct sevd_snp_certs *s, uint8_t *buf, size_t cap)
{
	size_t n = 0;

	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	if (s->len <= cap) {
		memcpy(buf, s->table, s->len);
		n = s->len;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}
