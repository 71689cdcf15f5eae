/* bench-launch-direct: LAUNCH_UPDATE_DATA throughput of the emulator itself, in-process
 * through the emu transport with no daemon in between — the floor under the launch data path
 * benchmark until sevd's guest lifecycle can carry an image. One guest: LAUNCH_START
 * (firmware-made keys), ACTIVATE (the emulator encrypts under the ASID's key, as KVM
 * activates before updating), LAUNCH_UPDATE_DATA over an image in a memfd in CHUNK-sized
 * commands, LAUNCH_MEASURE; then DEACTIVATE, DECOMMISSION and DF_FLUSH so the ASID is free
 * again. Only the LAUNCH_UPDATE_DATA commands are timed. Talks only to the emulator socket it
 * is given; any non-SUCCESS status is an error. Prints one JSON object. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "psp/commands.h"
#include "psp/transport.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An image of `size` bytes in a memfd, filled with a non-trivial pattern (not timed). */
static int image_new(uint64_t size, int *ret_fd)
{
	int fd = memfd_create("bench-image", MFD_CLOEXEC | MFD_ALLOW_SEALING); /* as sevd's */
	uint64_t *p;

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return -1;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	for (uint64_t i = 0, x = 0x9e3779b97f4a7c15ull; i < size / 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = x;
	}
	munmap(p, size);
	*ret_fd = fd;
	return 0;
}

static int fail(const char *what, int r, int psp_ret)
{
	fprintf(stderr, "bench-launch-direct: %s failed: %s (firmware status %d, %s)\n", what,
		strerror(r < 0 ? -r : r), psp_ret, sev_status_name(psp_ret));
	return 1;
}

int main(int argc, char **argv)
{
	const char *spec = NULL;
	uint64_t size = 256ull << 20, chunk = 16ull << 20, base;
	uint32_t asid = 100, handle;
	struct psp_transport *t;
	int c, r, psp_ret = SEV_STATUS_NO_FW_CALL, fd;
	uint8_t blob[SEV_MEASURE_BLOB_SIZE];
	double t0, t1;

	while ((c = getopt(argc, argv, "s:m:c:a:h")) >= 0) {
		switch (c) {
		case 's':
			spec = optarg;
			break;
		case 'm':
			size = strtoull(optarg, NULL, 0) << 20;
			break;
		case 'c':
			chunk = strtoull(optarg, NULL, 0) << 10;
			break;
		case 'a':
			asid = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		default:
			printf("Usage: bench-launch-direct -s emu:SOCKET [-m IMAGE_MIB] "
			       "[-c CHUNK_KIB] [-a ASID]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!spec || !size || !chunk || chunk % 16 || chunk > UINT32_MAX) {
		fprintf(stderr, "bench-launch-direct: need -s emu:SOCKET, a size and a chunk of a "
				"multiple of 16 bytes\n");
		return 2;
	}
	if ((r = psp_open(spec, &t)) < 0)
		return fail("psp_open", r, SEV_STATUS_NO_FW_CALL);
	if (image_new(size, &fd) < 0 || (r = psp_map_memfd(t, fd, size, &base)) < 0)
		return fail("making the image", r ? r : -errno, SEV_STATUS_NO_FW_CALL);
	if ((r = psp_cmd_launch_start(t, 0, NULL, 0, NULL, 0, &handle, &psp_ret)) < 0)
		return fail("LAUNCH_START", r, psp_ret);
	if ((r = psp_cmd_activate(t, handle, asid, &psp_ret)) < 0)
		return fail("ACTIVATE", r, psp_ret);
	t0 = now_s();
	for (uint64_t off = 0; off < size; off += chunk) {
		uint64_t n = size - off < chunk ? size - off : chunk;
		r = psp_cmd_launch_update_data(t, handle, base + off, (uint32_t)n, &psp_ret);
		if (r < 0)
			return fail("LAUNCH_UPDATE_DATA", r, psp_ret);
	}
	t1 = now_s();
	r = psp_cmd_launch_measure(t, handle, blob, &psp_ret);
	if (r < 0)
		return fail("LAUNCH_MEASURE", r, psp_ret);
	if ((r = psp_cmd_deactivate(t, handle, &psp_ret)) < 0 ||
	    (r = psp_cmd_decommission(t, handle, &psp_ret)) < 0 ||
	    (r = psp_cmd_df_flush(t, &psp_ret)) < 0)
		return fail("cleaning up the guest", r, psp_ret);
	printf("{\"bytes\":%llu,\"chunk\":%llu,\"seconds\":%.4f,\"MBps\":%.1f}\n",
	       (unsigned long long)size, (unsigned long long)chunk, t1 - t0,
	       (double)size / (t1 - t0) / 1e6);
	psp_unmap_memfd(t, base);
	close(fd);
	psp_close(t);
	return 0;
}
