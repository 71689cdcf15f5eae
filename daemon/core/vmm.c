/* The VMM socket (vmm.h): one accept thread, one thread per connection (at most CONNS_MAX), each
 * reading request frames (hv-glue/vmm-msg.h) and answering them in order. The work of a
 * request runs as a job of the firmware queue, so it is serialized with every guest op: the
 * guest cannot be decommissioned between the check and SNP_GUEST_REQUEST. The rules, as KVM's
 * (arch/x86/kvm/svm/sev.c snp_handle_guest_req / snp_handle_ext_guest_req and the
 * KVM_EXIT_SNP_REQ_CERTS exit): the guest must be an SNP guest of sevd's in RUNNING state;
 * an extended request whose certificate buffer is smaller than the host's table is answered
 * with INVALID_LEN and the needed length, without a table and without passing the message to
 * firmware (so the guest's message sequence number is not consumed; GHCB spec 56421: the
 * hypervisor answers SW_EXITINFO2 = INVALID_LEN, RBX = the pages needed). A peer other than
 * root is refused (the socket is 0600; SO_PEERCRED checked as well). A malformed frame is
 * answered with what was wrong and the connection closed: its framing cannot be trusted. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/secret.h"
#include "common/util.h"
#include "daemon/core/core-internal.h"
#include "daemon/core/guest-snp.h"
#include "daemon/core/guest.h"
#include "daemon/core/snp-certs.h"
#include "daemon/core/vmm.h"
#include "hv-glue/vmm-msg.h"
#include "psp/psp-emu.h"
#include "psp/transport.h"

_Static_assert(HV_VMM_TABLE_MAX == SEVD_SNP_CERTS_MAX, "the host table fits an answer");
_Static_assert(HV_VMM_PAGE == SEV_PAGE_SIZE, "one message page");

#define CONNS_MAX 16

enum outcome { OUT_OK, OUT_FIRMWARE, OUT_REFUSED, OUT_INVALID_LEN, OUT_MALFORMED, OUT_MAX_ };
static const char *const outcome_names[OUT_MAX_] = {"ok", "firmware_error", "refused",
						    "invalid_len", "malformed"};

struct msg_pages;

struct sevd_vmm {
	struct sevd_core *core;
	struct sevd_guests *gs;
	int fd;
	char *path;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int conns[CONNS_MAX];
	unsigned n_conns;
	bool stopping;
	atomic_uint_fast64_t count[4][OUT_MAX_]; /* by request type (0: not a known type) */
	struct msg_pages *pages;		 /* on the firmware thread only */
	struct psp_transport *pages_t;		 /* the transport they were mapped on */
};

struct conn {
	struct sevd_vmm *v;
	int fd;
	uid_t uid;
	bool cred;
};

static void count(struct sevd_vmm *v, uint16_t type, enum outcome o)
{
	atomic_fetch_add(&v->count[hv_vmm_type_name(type) ? type : 0][o], 1);
}

_printf_(3, 4) static void refuse(struct hv_vmm_ans *a, int error, const char *fmt, ...)
{
	va_list ap;

	a->error = error;
	va_start(ap, fmt);
	vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
	va_end(ap);
}

/* ---- the work of one request, on the firmware thread ---- */

struct serve {
	struct sevd_vmm *v;
	const struct hv_vmm_req *q;
	struct hv_vmm_ans *a;
	uint8_t *rsp;	/* HV_VMM_PAGE */
	uint8_t *table; /* HV_VMM_TABLE_MAX */
	enum outcome out;
};

static int check_target(struct serve *s, struct sevd_vmm_target *t)
{
	struct hv_vmm_ans *a = s->a;
	uint32_t h = s->q->handle;

	if (sevd_guests_vmm_target(s->v->gs, h, t) < 0) {
		refuse(a, -ENOENT, "no guest with handle %u in sevd (never launched, or "
				   "decommissioned): see GET /v1/guests", h);
		return -ENOENT;
	}
	a->asid = t->asid;
	a->state = t->state;
	a->ctx_paddr = t->ctx;
	if (s->q->type == HV_VMM_GUEST_INFO)
		return 0;
	if (!t->snp) {
		refuse(a, -EPROTOTYPE, "guest %u is an SEV guest, not SEV-SNP: only SNP guests send "
				       "guest requests (an SEV guest's report: sevadm attest)", h);
		return -EPROTOTYPE;
	}
	if (t->state != SEV_GSTATE_RUNNING) {
		refuse(a, -EBUSY, "guest %u is in state %s, not RUNNING: finish its launch "
				  "(POST /v1/guests/%u/finish) before it sends guest requests",
		       h, sev_guest_state_name(t->state), h);
		return -EBUSY;
	}
	return 0;
}

/* Two pages of the core's own for requests, as KVM keeps its own request and response pages
 * (sev.c snp_guest_req: the response page a Firmware page, snp_alloc_firmware_page): a memfd
 * mapped for firmware (a region with 4 KiB RMP entries), the second page RMPUPDATEd to
 * Firmware. Made at the first request on a transport and kept (only jobs touch them, one at a
 * time); given back at the end. The transport's DMA pool will not do: its RMP entries are
 * 2 MiB, and firmware wants 4 KiB pages here (INVALID_PAGE_SIZE). The region is this
 * connection's own (psp_emu_map_private), like the DMA pool: a SIGKILLed sevd cannot give the
 * Firmware page back, and a restarted one does not know where it was, so the emulator drops
 * the region with the connection instead of keeping an assigned page nobody reclaims. */
struct msg_pages {
	int fd;
	uint8_t *ptr;
	uint64_t base;
	bool mapped, fw;
};

static int pages_get(struct psp_transport *t, struct msg_pages *p, struct hv_vmm_ans *a)
{
	int r;

	p->fd = memfd_create("sevd-guest-request", MFD_CLOEXEC);
	if (p->fd < 0 || ftruncate(p->fd, 2 * SEV_PAGE_SIZE) < 0)
		return refuse(a, -errno, "no memory for the request pages: %m"), a->error;
	p->ptr = mmap(NULL, 2 * SEV_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	if (p->ptr == MAP_FAILED) {
		p->ptr = NULL;
		return refuse(a, -errno, "no memory for the request pages: %m"), a->error;
	}
	r = psp_emu_map_private(t, p->fd, 2 * SEV_PAGE_SIZE, &p->base);
	if (r < 0)
		return refuse(a, r, "the request pages cannot be given to firmware (%s): on "
				    "/dev/sev, guest requests go through KVM", strerror(-r)), r;
	p->mapped = true;
	r = sevd_snp_rmp_firmware(t, p->base + SEV_PAGE_SIZE);
	if (r < 0)
		return refuse(a, r, "RMPUPDATE of the response page to Firmware failed: %s",
			      strerror(-r)), r;
	p->fw = true;
	return 0;
}

static void pages_put(struct psp_transport *t, struct msg_pages *p)
{
	if (p->fw && sevd_snp_reclaim(t, p->base + SEV_PAGE_SIZE, 1))
		log_warning("VMM socket: the response page at 0x%llx could not be given back to "
			    "the hypervisor", (unsigned long long)(p->base + SEV_PAGE_SIZE));
	if (p->mapped)
		(void)psp_unmap_memfd(t, p->base);
	if (p->ptr)
		munmap(p->ptr, 2 * SEV_PAGE_SIZE);
	if (p->fd >= 0)
		close(p->fd);
}

/* The pages for this transport: the kept ones, or new ones (a new transport after a
 * reconnection: the old region went with the old emulator connection). */
static struct msg_pages *pages_of(struct sevd_vmm *v, struct psp_transport *t, struct hv_vmm_ans *a)
{
	struct msg_pages *p;

	if (v->pages && v->pages_t == t)
		return v->pages;
	if (v->pages) {
		v->pages->mapped = v->pages->fw = false; /* their region is gone with the transport */
		pages_put(v->pages_t, v->pages);
		free(v->pages);
		v->pages = NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		refuse(a, -ENOMEM, "out of memory");
		return NULL;
	}
	p->fd = -1;
	if (pages_get(t, p, a) < 0) {
		pages_put(t, p);
		free(p);
		return NULL;
	}
	v->pages = p;
	v->pages_t = t;
	return p;
}

/* SNP_GUEST_REQUEST of the VMM's page (SNP ABI 56860 SNP_GUEST_REQUEST). */
static int firmware(struct serve *s, uint64_t gctx)
{
	struct psp_transport *t = sevd_core_psp(s->v->core);
	_cleanup_free_ struct sevd_reply *rep = calloc(1, sizeof(*rep));
	struct msg_pages *p = rep ? pages_of(s->v, t, s->a) : NULL;
	struct timespec t0;
	int psp_ret, r;

	if (!p)
		return s->a->error < 0 ? s->a->error : -ENOMEM;
	memcpy(p->ptr, s->q->page, SEV_PAGE_SIZE);
	sevd_fw_begin(&psp_ret, &t0);
	r = sevd_snp_guest_request(t, gctx, p->base, p->base + SEV_PAGE_SIZE, &psp_ret);
	r = sevd_core_fw_done(s->v->core, rep, SEV_CMD_SNP_GUEST_REQUEST, r, psp_ret, &t0);
	s->a->fw_status = r == -EIO ? (uint32_t)psp_ret : r < 0 ? HV_VMM_NO_FW_CALL : 0;
	if (r < 0)
		refuse(s->a, r, "%s (guest %u)", rep->message, s->q->handle);
	else
		memcpy(s->rsp, p->ptr + SEV_PAGE_SIZE, SEV_PAGE_SIZE);
	memset(p->ptr, 0, SEV_PAGE_SIZE); /* the request page is the host's: no guest's left */
	return r;
}

static void serve_job(void *arg)
{
	struct serve *s = arg;
	struct hv_vmm_ans *a = s->a;
	struct sevd_vmm_target t;
	const char *emu;
	size_t tlen = 0;

	s->out = OUT_REFUSED;
	if (check_target(s, &t) < 0)
		return;
	if (s->q->type == HV_VMM_GUEST_INFO) {
		emu = sevd_core_emu_socket(s->v->core);
		snprintf(a->emu_socket, sizeof(a->emu_socket), "%s", emu ? emu : "");
		s->out = OUT_OK;
		return;
	}
	if (s->q->type == HV_VMM_EXT_GUEST_REQUEST) {
		tlen = sevd_snp_certs_copy(sevd_core_snp_certs(s->v->core), s->table,
					   HV_VMM_TABLE_MAX);
		if (tlen > s->q->certs_len) {
			a->vmm_error = HV_VMM_ERR_INVALID_LEN;
			a->certs_len = (uint32_t)tlen;
			refuse(a, -ENOSPC, "the certificate buffer of %u bytes is smaller than the "
					   "host's table (%zu bytes, %zu pages): retry with that many",
			       s->q->certs_len, tlen, (tlen + SEV_PAGE_SIZE - 1) / SEV_PAGE_SIZE);
			s->out = OUT_INVALID_LEN;
			return;
		}
	}
	if (firmware(s, t.ctx) < 0) {
		s->out = a->fw_status != HV_VMM_NO_FW_CALL ? OUT_FIRMWARE : OUT_REFUSED;
		return;
	}
	a->page = s->rsp;
	if (tlen) {
		a->table = s->table;
		a->certs_len = (uint32_t)tlen;
	} else if (s->q->type == HV_VMM_EXT_GUEST_REQUEST) {
		snprintf(a->reason, sizeof(a->reason), "sevd holds no SNP certificate table: "
			 "the answer has none (PUT /v1/snp/certs, sevadm snp certs import DIR)");
	}
	s->out = OUT_OK;
}

/* ---- connections ---- */

static int answer(int fd, const struct hv_vmm_ans *a, uint8_t *out)
{
	return loop_write(fd, out, hv_vmm_ans_build(a, out));
}

static void serve_one(struct conn *cn, const struct hv_vmm_req *q, uint8_t *out, uint8_t *rsp,
		      uint8_t *table)
{
	struct hv_vmm_ans a = {.type = q->type, .handle = q->handle,
			       .fw_status = HV_VMM_NO_FW_CALL};
	struct serve s = {.v = cn->v, .q = q, .a = &a, .rsp = rsp, .table = table};
	_cleanup_free_ struct sevd_reply *rep = calloc(1, sizeof(*rep));
	int r;

	if (!rep) {
		refuse(&a, -ENOMEM, "out of memory");
		s.out = OUT_REFUSED;
	} else if ((r = sevd_core_run_job(cn->v->core, serve_job, &s, rep)) < 0) {
		refuse(&a, r, "%s", rep->message);
		a.vmm_error = r == -EBUSY ? HV_VMM_ERR_BUSY : 0;
		s.out = OUT_REFUSED;
	}
	count(cn->v, q->type, s.out);
	if (s.out != OUT_OK)
		log_info("VMM socket: %s for guest %u refused: %s", hv_vmm_type_name(q->type),
			 q->handle, a.reason);
	(void)answer(cn->fd, &a, out);
	secret_wipe(rsp, HV_VMM_PAGE); /* ciphertext, but no need to keep it */
}

static void conn_loop(struct conn *cn, uint8_t *in, uint8_t *out, uint8_t *rsp, uint8_t *table)
{
	for (;;) {
		struct hv_vmm_ans a = {.type = HV_VMM_GUEST_REQUEST, .fw_status = HV_VMM_NO_FW_CALL};
		const char *why = "a frame longer than any request";
		struct hv_vmm_req q;
		int n = hv_vmm_read_frame(cn->fd, false, in, HV_VMM_REQ_MAX, &why);

		if (n == 0 || (n < 0 && n != -EBADMSG && n != -ENOBUFS))
			return; /* closed, or the connection failed */
		if (n > 0 && hv_vmm_req_parse(in, (size_t)n, &q, &why) == 0) {
			if (!cn->cred || cn->uid != 0) {
				a.type = q.type;
				a.handle = q.handle;
				refuse(&a, -EACCES, "the VMM socket serves root (uid 0) only; this "
						    "peer is uid %d: run the VMM as root",
				       cn->cred ? (int)cn->uid : -1);
				count(cn->v, q.type, OUT_REFUSED);
				log_warning("VMM socket: refused a peer of uid %d",
					    cn->cred ? (int)cn->uid : -1);
				(void)answer(cn->fd, &a, out);
				return;
			}
			serve_one(cn, &q, out, rsp, table);
			continue;
		}
		if (n > 12 && hv_vmm_type_name(get_le16(in + 6)))
			a.type = get_le16(in + 6);
		refuse(&a, -EBADMSG, "malformed request frame: %s; the connection is closed "
				     "(hv-glue/vmm-msg.h has the format)", why);
		count(cn->v, 0, OUT_MALFORMED);
		log_warning("VMM socket: %s", a.reason);
		(void)answer(cn->fd, &a, out);
		return;
	}
}

static void *conn_main(void *arg)
{
	struct conn *cn = arg;
	struct sevd_vmm *v = cn->v;
	uint8_t *in = malloc(HV_VMM_REQ_MAX), *out = malloc(HV_VMM_ANS_MAX);
	uint8_t *rsp = malloc(HV_VMM_PAGE), *table = malloc(HV_VMM_TABLE_MAX);

	if (in && out && rsp && table)
		conn_loop(cn, in, out, rsp, table);
	free(in);
	free(out);
	free(rsp);
	free(table);
	pthread_mutex_lock(&v->lock);
	for (unsigned i = 0; i < v->n_conns; i++)
		if (v->conns[i] == cn->fd) {
			v->conns[i] = v->conns[--v->n_conns];
			break;
		}
	close(cn->fd);
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	free(cn);
	return NULL;
}

static void accept_one(struct sevd_vmm *v, int fd)
{
	struct ucred uc = {0};
	socklen_t ul = sizeof(uc);
	struct conn *cn = calloc(1, sizeof(*cn));
	struct timeval tv = {.tv_sec = 5};
	pthread_attr_t attr;
	pthread_t th;

	if (!cn) {
		close(fd);
		return;
	}
	cn->v = v;
	cn->fd = fd;
	cn->cred = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0;
	cn->uid = uc.uid;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	pthread_mutex_lock(&v->lock);
	if (v->stopping || v->n_conns >= CONNS_MAX) {
		pthread_mutex_unlock(&v->lock);
		log_warning("VMM socket: more than %d connections, refusing one", CONNS_MAX);
		close(fd);
		free(cn);
		return;
	}
	v->conns[v->n_conns++] = fd;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, conn_main, cn) != 0) {
		v->n_conns--;
		close(fd);
		free(cn);
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_unlock(&v->lock);
}

static void *accept_main(void *arg)
{
	struct sevd_vmm *v = arg;

	for (;;) {
		int fd = accept4(v->fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL; /* shut down: stopping */
		}
		accept_one(v, fd);
	}
}

int sevd_vmm_start(struct sevd_core *core, struct sevd_guests *gs, const char *path,
		   struct sevd_vmm **ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct sevd_vmm *v;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error_errno(ENAMETOOLONG, "VMM socket path %s is too long", path);
	v = calloc(1, sizeof(*v));
	if (!v || !(v->path = strdup(path))) {
		free(v);
		return -ENOMEM;
	}
	v->core = core;
	v->gs = gs;
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	strcpy(sa.sun_path, path);
	v->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	(void)unlink(path);
	/* Guest requests on behalf of guests: root only (0600), and SO_PEERCRED checked too. */
	if (v->fd < 0 || bind(v->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(v->fd, 16) < 0) {
		int r = log_error_errno(errno, "Cannot listen on the VMM socket %s: %m", path);

		sevd_vmm_free(v);
		return r;
	}
	if (pthread_create(&v->thread, NULL, accept_main, v) != 0) {
		sevd_vmm_free(v);
		return log_error_errno(EAGAIN, "Cannot start the VMM socket thread");
	}
	v->running = true;
	log_info("SNP guest requests for VMMs on %s", path);
	*ret = v;
	return 0;
}

void sevd_vmm_stop(struct sevd_vmm *v)
{
	if (!v || !v->running)
		return;
	shutdown(v->fd, SHUT_RDWR);
	pthread_join(v->thread, NULL);
	v->running = false;
	pthread_mutex_lock(&v->lock);
	v->stopping = true;
	for (unsigned i = 0; i < v->n_conns; i++)
		shutdown(v->conns[i], SHUT_RDWR);
	while (v->n_conns)
		pthread_cond_wait(&v->cond, &v->lock);
	pthread_mutex_unlock(&v->lock);
}

void sevd_vmm_free(struct sevd_vmm *v)
{
	if (!v)
		return;
	sevd_vmm_stop(v);
	if (v->pages) { /* the queue is stopped: no firmware command runs beside this */
		if (v->pages_t != sevd_core_psp(v->core))
			v->pages->mapped = v->pages->fw = false;
		pages_put(v->pages_t, v->pages);
		free(v->pages);
	}
	if (v->fd >= 0)
		close(v->fd);
	if (v->path)
		(void)unlink(v->path);
	free(v->path);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->cond);
	free(v);
}

int sevd_vmm_render_metrics(struct sevd_vmm *v, char *buf, size_t size)
{
	static const char *const types[4] = {"malformed", "guest-request", "ext-guest-request",
					     "guest-info"};
	size_t n = 0;
	int k;

	k = snprintf(buf, size, "# HELP sevd_vmm_requests_total Requests on the VMM socket (SNP "
				"guest requests VMMs forward), by type and result.\n"
				"# TYPE sevd_vmm_requests_total counter\n");
	if (k < 0 || (size_t)k >= size)
		return -ENOBUFS;
	n = (size_t)k;
	for (unsigned t = 0; t < 4; t++)
		for (unsigned o = 0; o < OUT_MAX_; o++) {
			uint64_t c = atomic_load(&v->count[t][o]);

			if ((t == 0) != (o == OUT_MALFORMED))
				continue;
			k = snprintf(buf + n, size - n,
				     "sevd_vmm_requests_total{type=\"%s\",result=\"%s\"} %llu\n",
				     types[t], outcome_names[o], (unsigned long long)c);
			if (k < 0 || (size_t)k >= size - n)
				return -ENOBUFS;
			n += (size_t)k;
		}
	return (int)n;
}
