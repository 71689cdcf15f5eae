/* sev-kds-emu: a local AMD Key Distribution Service for the chip in a sev-psp-emu NV file, for
 * tests and air-gapped hosts. It serves what kdsintf.amd.com serves for AMD's
 * chips — the VCEK and VLEK cert_chains, the VCEK of any TCB, the ARK's CRL — for the emulated chip and its emulated root
 * (NV.snp-root-<Gen>, shared with sev-psp-emu: whichever needs it first makes it), by AMD's
 * URL rules (kds.h): 400 for a malformed request, 404 for another product or chip. Plain HTTP
 * on 127.0.0.1 only; read-only: it never writes the NV file. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/ossl.h"
#include "common/secure-heap.h"
#include "common/util.h"
#include "psp/emu/kds.h"
#include "psp/emu/snp.h"

static struct emu_fw *fw;
static const char *arg_nv, *arg_port_file;
static uint16_t arg_port;
static int arg_product;
static bool arg_crl_revoke_ask;

struct query {
	char buf[512];
	size_t len;
	bool overflow;
};

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct query *q = cls;
	int n = snprintf(q->buf + q->len, sizeof(q->buf) - q->len, "%s%s=%s", q->len ? "&" : "",
			 key, value ? value : "");

	if (n < 0 || (size_t)n >= sizeof(q->buf) - q->len)
		q->overflow = true;
	else
		q->len += (size_t)n;
	return MHD_YES;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
			     const void *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned code, const char *msg)
{
	return reply(c, code, "text/plain", msg, strlen(msg));
}

static enum MHD_Result cert_chain(struct MHD_Connection *c, bool vlek)
{
	_cleanup_(BIO_free_allp) BIO *b = BIO_new(BIO_s_mem());
	static uint8_t der[8192];
	/* as AMD's: the ASK (or for VLEKs the ASVK), then the ARK */
	const char *which[] = { vlek ? "asvk" : "ask", "ark" };
	char *pem = NULL;
	size_t n;

	for (int i = 0; i < 2; i++) {
		const uint8_t *p = der;
		X509 *x;

		if (emu_snp_ctl_cert(fw, (char *)which[i], der, sizeof(der), &n) < 0 ||
		    !(x = d2i_X509(NULL, &p, (long)n)))
			return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "no emulated root");
		if (!b || PEM_write_bio_X509(b, x) != 1) {
			X509_free(x);
			return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		}
		X509_free(x);
	}
	n = (size_t)BIO_get_mem_data(b, &pem);
	return reply(c, MHD_HTTP_OK, "application/x-pem-file", pem, n);
}

/* The ARK's CRL, DER with AMD's media type; listing the ASK with --crl-revoke-ask. Made at
 * the first request and then served as it is, as AMD serves one CRL until it re-issues it
 * (each signing gives other bytes: RSASSA-PSS salts). One MHD thread: no lock. */
static enum MHD_Result crl(struct MHD_Connection *c)
{
	static uint8_t der[8192];
	static size_t n;
	char arg[] = "crl:revoke-ask";

	if (!arg_crl_revoke_ask)
		arg[3] = 0;
	if (!n && emu_snp_ctl_cert(fw, arg, der, sizeof(der), &n) < 0) {
		n = 0;
		return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot make the CRL");
	}
	return reply(c, MHD_HTTP_OK, "application/pkix-crl", der, n);
}

static enum MHD_Result vcek(struct MHD_Connection *c, const struct emu_kds_req *r)
{
	const struct emu_snp_product_info *p = fw->snp->product;
	struct emu_snp_tcb t = { r->fmc, r->bl, r->tee, r->snp, r->ucode };
	static uint8_t der[8192];
	uint8_t id[64];
	char arg[48];
	size_t n;

	if (emu_chip_get_id(&fw->nv.chip, id) < 0 || memcmp(id, r->hwid, r->hwid_len) != 0)
		return text(c, MHD_HTTP_NOT_FOUND, "no such chip (hwid)");
	snprintf(arg, sizeof(arg), "vcek:0x%llx",
		 (unsigned long long)emu_snp_tcb_pack(&t, p->turin_tcb));
	if (emu_snp_ctl_cert(fw, arg, der, sizeof(der), &n) < 0)
		return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot make the VCEK certificate");
	return reply(c, MHD_HTTP_OK, "application/octet-stream", der, n);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **state)
{
	struct query q = { .len = 0 };
	struct emu_kds_req r;
	const char *why = "?";
	int code;

	if (strcmp(method, "GET") != 0)
		return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only");
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &q);
	if (q.overflow)
		return text(c, MHD_HTTP_BAD_REQUEST, "query too long");
	code = emu_kds_parse(url, q.buf, &r, &why);
	log_debug("GET %s?%s: %d %s", url, q.buf, code ? code : 200, code ? why : "");
	if (code)
		return text(c, (unsigned)code, why);
	if (strcmp(r.product, fw->snp->product->gen) != 0)
		return text(c, MHD_HTTP_NOT_FOUND, "this KDS serves another product");
	return r.crl ? crl(c) : r.cert_chain ? cert_chain(c, r.vlek) : vcek(c, &r);
}

static int parse_argv(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "nv", required_argument, NULL, 'n' },
		{ "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, 'f' },
		{ "snp-product", required_argument, NULL, 'P' },
		{ "crl-revoke-ask", no_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	uint32_t v;
	int c;

	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) >= 0) {
		switch (c) {
		case 'n': arg_nv = optarg; break;
		case 'f': arg_port_file = optarg; break;
		case 'p':
			if (parse_u32(optarg, &v) < 0 || v > 65535)
				return log_error_errno(-EINVAL, "--port must be 0..65535");
			arg_port = (uint16_t)v;
			break;
		case 'P':
			if ((arg_product = emu_snp_product_parse(optarg)) < 0)
				return log_error_errno(-EINVAL, "--snp-product must be milan, "
							"genoa or turin");
			break;
		case 'R': arg_crl_revoke_ask = true; break;
		case 'v': log_set_max_level(LOG_DEBUG); break;
		case 'h':
			printf("Usage: sev-kds-emu --nv FILE [--port N] [--port-file FILE]\n"
			       "                   [--snp-product milan|genoa|turin] [--crl-revoke-ask]"
			       " [-v]\n"
			       "A local AMD Key Distribution Service for the emulated chip of a\n"
			       "sev-psp-emu NV file (HTTP on 127.0.0.1).\n\n"
			       "  --nv FILE          the sev-psp-emu NV file (read only; must exist)\n"
			       "  --port N           TCP port on 127.0.0.1 (default 0: the kernel picks)\n"
			       "  --port-file FILE   write the port there once listening\n"
			       "  --snp-product P    the product served (default milan)\n"
			       "  --crl-revoke-ask   the ARK's CRL lists the ASK (a revoked chain)\n"
			       "  -v, --verbose      log every request\n"
			       "  -h, --help         show this help\n");
			return 0;
		default: return log_error_errno(-EINVAL, "Invalid command line; see --help");
		}
	}
	if (!arg_nv || optind < argc)
		return log_error_errno(-EINVAL, "--nv FILE is required; see --help");
	if (access(arg_nv, R_OK) < 0)
		return log_error_errno(-errno, "Cannot read the NV file %s: %m (start sev-psp-emu "
				       "with --snp on it first)", arg_nv);
	return 1;
}

static int serve(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(arg_port) };
	struct emu_config cfg = { .cpuid_eax = 0x1f, .cpuid_ecx = 509, .cpuid_edx = 100,
				  .api_major = 1, .api_minor = 55, .build = 21, .amd_root_bits = 2048,
				  .snp = true, .snp_product = arg_product };
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	char port[16];
	sigset_t set;
	int sig, r, n;

	r = emu_fw_new(&cfg, arg_nv, &fw);
	if (r < 0)
		return r;
	if (!emu_snp_get(fw)) {
		emu_fw_free(fw);
		return log_error_errno(-EIO, "Cannot derive the chip's SNP keys from %s", arg_nv);
	}
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* before MHD's thread: it inherits the mask */
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
			     handle, NULL, MHD_OPTION_SOCK_ADDR, &sin, MHD_OPTION_END);
	info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
	if (!info) {
		emu_fw_free(fw);
		return log_error_errno(-EADDRINUSE, "Cannot listen on 127.0.0.1:%u (in use?)",
				       arg_port);
	}
	n = snprintf(port, sizeof(port), "%u", info->port);
	if (arg_port_file && write_file_atomic(arg_port_file, port, (size_t)n, 0644) < 0)
		log_warning("Could not write the port to %s", arg_port_file);
	log_info("sev-kds-emu serving %s on http://127.0.0.1:%s", fw->snp->product->gen, port);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	emu_fw_free(fw);
	return 0;
}

int main(int argc, char **argv)
{
	int r;

	log_setup("sev-kds-emu", NULL, LOG_INFO);
	(void)secure_heap_init(SECURE_HEAP_DAEMON);
	r = parse_argv(argc, argv);
	if (r > 0)
		r = serve();
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
