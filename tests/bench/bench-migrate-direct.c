/* bench-migrate-direct: migration throughput between two emulators, in-process
 * through the emu transport, no daemon: a guest of -m MiB launched on A (firmware-made keys),
 * SEND_START for B's PDH, RECEIVE_START on B, then SEND_UPDATE_DATA on A and
 * RECEIVE_UPDATE_DATA on B for every -p KiB packet (timed), RECEIVE_FINISH, SEND_FINISH.
 * In the same run, the crypto limit: the same bytes through the same OpenSSL work in this
 * process alone (AES-128-XTS decrypt of the source page, AES-128-CTR + HMAC-SHA256 seal, HMAC
 * check + AES-128-CTR open, AES-128-XTS encrypt under the target's key). Resets both
 * platforms (SHUTDOWN, INIT, WBINVD, DF_FLUSH) first: give it emulators of its own. Prints one
 * JSON object with both figures and their ratio. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "psp/commands.h"
#include "psp/psp-emu.h"
#include "psp/transport.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, int r, int psp_ret)
{
	fprintf(stderr, "bench-migrate-direct: %s failed: %s (firmware status %s)\n", what,
		strerror(r < 0 ? -r : r), sev_status_name(psp_ret));
	return 1;
}

struct end {
	struct psp_transport *t;
	int fd;
	uint64_t base;
	uint8_t pdh[SEV_CERT_SIZE];
};

static int end_up(const char *spec, uint64_t size, bool fill, struct end *e)
{
	_cleanup_free_ uint8_t *pdh = NULL, *chain = NULL;
	size_t pl = 0, cl = 0;
	int r, pr = 0;
	uint64_t *p;

	if ((r = psp_open(spec, &e->t)) < 0)
		return fail("psp_open", r, SEV_STATUS_NO_FW_CALL);
	if ((r = psp_cmd_shutdown(e->t, &pr)) < 0 || (r = psp_cmd_init(e->t, 0, &pr)) < 0 ||
	    (r = psp_emu_ctl(e->t, "wbinvd", NULL, NULL)) < 0 || (r = psp_cmd_df_flush(e->t, &pr)) < 0)
		return fail("resetting the platform", r, pr);
	if ((r = psp_cmd_pdh_cert_export(e->t, &pdh, &pl, &chain, &cl, &pr)) < 0 ||
	    pl != SEV_CERT_SIZE)
		return fail("PDH_CERT_EXPORT", r, pr);
	memcpy(e->pdh, pdh, SEV_CERT_SIZE);
	e->fd = memfd_create("bench-guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (e->fd < 0 || ftruncate(e->fd, (off_t)size) < 0)
		return fail("memfd", -errno, SEV_STATUS_NO_FW_CALL);
	if (fill) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, e->fd, 0);
		if (p == MAP_FAILED)
			return fail("mmap", -errno, SEV_STATUS_NO_FW_CALL);
		for (uint64_t i = 0, x = 0x9e3779b97f4a7c15ull; i < size / 8; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			p[i] = x;
		}
		munmap(p, size);
	}
	if ((r = psp_map_memfd(e->t, e->fd, size, &e->base)) < 0)
		return fail("psp_map_memfd", r, SEV_STATUS_NO_FW_CALL);
	return 0;
}

/* The OpenSSL work of one packet on both ends, over size bytes in pkt-sized pieces. */
static double crypto_limit(uint64_t size, uint32_t pkt)
{
	static const uint8_t k32[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
	uint8_t iv[16] = {0}, mac[32];
	unsigned ml = 0;
	uint8_t *a = calloc(1, pkt), *b = calloc(1, pkt);
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	double t0, t1;
	int n = 0;

	if (!a || !b || !x)
		abort();
	t0 = now_s();
	for (uint64_t off = 0; off < size; off += pkt) {
		for (uint32_t pg = 0; pg < pkt; pg += 4096) { /* XTS decrypt, per page */
			memcpy(iv, &off, 8);
			EVP_DecryptInit_ex(x, EVP_aes_128_xts(), NULL, k32, iv);
			EVP_DecryptUpdate(x, b + pg, &n, a + pg, 4096);
		}
		EVP_EncryptInit_ex(x, EVP_aes_128_ctr(), NULL, k32, iv); /* seal */
		EVP_EncryptUpdate(x, a, &n, b, (int)pkt);
		HMAC(EVP_sha256(), k32, 16, a, pkt, mac, &ml);
		HMAC(EVP_sha256(), k32, 16, a, pkt, mac, &ml); /* open */
		EVP_DecryptInit_ex(x, EVP_aes_128_ctr(), NULL, k32, iv);
		EVP_DecryptUpdate(x, b, &n, a, (int)pkt);
		for (uint32_t pg = 0; pg < pkt; pg += 4096) { /* XTS encrypt */
			EVP_EncryptInit_ex(x, EVP_aes_128_xts(), NULL, k32, iv);
			EVP_EncryptUpdate(x, a + pg, &n, b + pg, 4096);
		}
	}
	t1 = now_s();
	EVP_CIPHER_CTX_free(x);
	free(a);
	free(b);
	return (double)size / (t1 - t0) / 1e6;
}

int main(int argc, char **argv)
{
	const char *spec_a = NULL, *spec_b = NULL;
	uint64_t size = 256ull << 20;
	uint32_t pkt = 16u << 10, ha, hb, policy = 0;
	struct end a = {0}, b = {0};
	struct sev_session_blob session;
	struct sev_packet_header hdr;
	uint8_t blob[SEV_MEASURE_BLOB_SIZE], *buf;
	int c, r, pr = SEV_STATUS_NO_FW_CALL;
	double t0, t1, limit;

	while ((c = getopt(argc, argv, "a:b:m:p:h")) >= 0) {
		switch (c) {
		case 'a':
			spec_a = optarg;
			break;
		case 'b':
			spec_b = optarg;
			break;
		case 'm':
			size = strtoull(optarg, NULL, 0) << 20;
			break;
		case 'p':
			pkt = (uint32_t)strtoul(optarg, NULL, 0) << 10;
			break;
		default:
			printf("Usage: bench-migrate-direct -a emu:SOCKET_A -b emu:SOCKET_B "
			       "[-m GUEST_MIB] [-p PACKET_KIB (4..20)]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!spec_a || !spec_b || !size || pkt < 4096 || pkt > SEV_PACKET_MAX_LEN ||
	    pkt % 4096 || size % pkt) {
		fprintf(stderr, "bench-migrate-direct: need -a and -b emu:SOCKET, a guest size that "
				"is a multiple of the packet, a packet of 4..20 KiB in whole pages\n");
		return 2;
	}
	buf = malloc(pkt);
	if (!buf || end_up(spec_a, size, true, &a) || end_up(spec_b, size, false, &b))
		return 1;
	if ((r = psp_cmd_launch_start(a.t, policy, NULL, 0, NULL, 0, &ha, &pr)) < 0 ||
	    (r = psp_cmd_activate(a.t, ha, 100, &pr)) < 0)
		return fail("LAUNCH_START/ACTIVATE", r, pr);
	for (uint64_t off = 0; off < size; off += 16u << 20)
		if ((r = psp_cmd_launch_update_data(a.t, ha, a.base + off,
						    (uint32_t)(size - off < (16u << 20) ? size - off
										  : 16u << 20),
						    &pr)) < 0)
			return fail("LAUNCH_UPDATE_DATA", r, pr);
	if ((r = psp_cmd_launch_measure(a.t, ha, blob, &pr)) < 0 ||
	    (r = psp_cmd_launch_finish(a.t, ha, &pr)) < 0)
		return fail("LAUNCH_MEASURE/FINISH", r, pr);
	struct psp_send_target tg = {b.pdh, SEV_CERT_SIZE, NULL, 0, NULL, 0};
	if ((r = psp_cmd_send_start(a.t, ha, &tg, &session, NULL, &pr)) < 0)
		return fail("SEND_START", r, pr);
	if ((r = psp_cmd_receive_start(b.t, policy, a.pdh, SEV_CERT_SIZE, &session, &hb, &pr)) < 0 ||
	    (r = psp_cmd_activate(b.t, hb, 100, &pr)) < 0)
		return fail("RECEIVE_START/ACTIVATE", r, pr);
	t0 = now_s();
	for (uint64_t off = 0; off < size; off += pkt) {
		if ((r = psp_cmd_send_update_data(a.t, ha, a.base + off, pkt, &hdr, buf, &pr)) < 0)
			return fail("SEND_UPDATE_DATA", r, pr);
		if ((r = psp_cmd_receive_update_data(b.t, hb, &hdr, b.base + off, buf, pkt, &pr)) < 0)
			return fail("RECEIVE_UPDATE_DATA", r, pr);
	}
	t1 = now_s();
	if ((r = psp_cmd_receive_finish(b.t, hb, &pr)) < 0 ||
	    (r = psp_cmd_send_finish(a.t, ha, &pr)) < 0)
		return fail("RECEIVE_FINISH/SEND_FINISH", r, pr);
	limit = crypto_limit(size, pkt);
	printf("{\"bytes\":%llu,\"packet\":%u,\"seconds\":%.4f,\"MBps\":%.1f,"
	       "\"crypto_limit_MBps\":%.1f,\"ratio\":%.3f}\n",
	       (unsigned long long)size, pkt, t1 - t0, (double)size / (t1 - t0) / 1e6, limit,
	       (double)size / (t1 - t0) / 1e6 / limit);
	(void)psp_cmd_deactivate(a.t, ha, &pr);
	(void)psp_cmd_decommission(a.t, ha, &pr);
	(void)psp_cmd_deactivate(b.t, hb, &pr);
	(void)psp_cmd_decommission(b.t, hb, &pr);
	psp_close(a.t);
	psp_close(b.t);
	free(buf);
	return 0;
}
