/* bench-psp-direct: PLATFORM_STATUS (or, with -c get-id, GET_ID: sevd answers PLATFORM_STATUS
 * from its cache, so the overhead benchmark times GET_ID, which always reaches firmware)
 * straight through the psp transport, in-process, with no daemon in between — the floor the
 * daemon-overhead benchmark subtracts. N threads share one
 * transport (psp_issue() serializes them, as firmware runs one command at a time), so N is the
 * queue depth. Speaks only to the sev-psp-emu socket it is given; trusts the emulator's answers
 * only to the extent of counting a non-SUCCESS status as an error.
 * Prints one JSON object: commands, errors, seconds, per-second rate, p50/p99/mean (µs). */
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "psp/commands.h"
#include "psp/transport.h"

#define MAX_THREADS 1024

static struct psp_transport *transport;
static int arg_get_id; /* -c get-id */

static int one_command(int *psp_ret)
{
	struct sev_cmd_platform_status st;
	uint8_t *id = NULL;
	size_t len = 0;
	int r;

	if (!arg_get_id)
		return psp_cmd_platform_status(transport, &st, psp_ret);
	r = psp_cmd_get_id(transport, &id, &len, psp_ret);
	free(id);
	return r;
}
static uint64_t t_measure_start, t_end;

struct worker {
	pthread_t thr;
	uint32_t *lat_ns;
	size_t n, cap;
	uint64_t errors;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void record(struct worker *w, uint64_t d)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16384;
		uint32_t *p = realloc(w->lat_ns, cap * sizeof(*p));
		if (!p)
			return;
		w->lat_ns = p;
		w->cap = cap;
	}
	w->lat_ns[w->n++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint64_t t0, t1;
	int psp_ret;

	for (;;) {
		t0 = now_ns();
		if (t0 >= t_end)
			break;
		int r = one_command(&psp_ret);
		t1 = now_ns();
		if (t0 < t_measure_start)
			continue;
		if (r < 0)
			w->errors++;
		else
			record(w, t1 - t0);
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint32_t *v, size_t n, double p)
{
	return n ? v[(size_t)(p * (double)(n - 1) + 0.5)] / 1000.0 : 0.0;
}

int main(int argc, char **argv)
{
	const char *spec = NULL;
	unsigned threads = 1;
	double duration = 3, warmup = 0.5, sum = 0;
	struct worker *w;
	size_t total = 0, k = 0;
	uint64_t errors = 0;
	int c, r;

	while ((c = getopt(argc, argv, "s:t:d:w:c:h")) >= 0) {
		switch (c) {
		case 's':
			spec = optarg;
			break;
		case 't':
			threads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			duration = strtod(optarg, NULL);
			break;
		case 'w':
			warmup = strtod(optarg, NULL);
			break;
		case 'c':
			if (strcmp(optarg, "get-id") && strcmp(optarg, "platform-status")) {
				fprintf(stderr, "bench-psp-direct: -c get-id|platform-status\n");
				return 2;
			}
			arg_get_id = !strcmp(optarg, "get-id");
			break;
		default:
			printf("Usage: bench-psp-direct -s emu:SOCKET [-t THREADS] [-d SECONDS] "
			       "[-w WARMUP] [-c get-id|platform-status]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!spec || !threads || threads > MAX_THREADS || duration <= 0) {
		fprintf(stderr, "bench-psp-direct: need -s emu:SOCKET, 1..%d threads, -d > 0\n",
			MAX_THREADS);
		return 2;
	}
	r = psp_open(spec, &transport);
	if (r < 0) {
		fprintf(stderr, "bench-psp-direct: cannot open %s: %s\n", spec, strerror(-r));
		return 1;
	}
	w = calloc(threads, sizeof(*w));
	if (!w)
		return 1;
	t_measure_start = now_ns() + (uint64_t)(warmup * 1e9);
	t_end = t_measure_start + (uint64_t)(duration * 1e9);
	for (unsigned i = 0; i < threads; i++)
		pthread_create(&w[i].thr, NULL, worker_run, &w[i]);
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(w[i].thr, NULL);
		total += w[i].n;
		errors += w[i].errors;
	}
	uint32_t *all = malloc((total ? total : 1) * sizeof(*all));
	for (unsigned i = 0; i < threads; i++) {
		for (size_t j = 0; j < w[i].n; j++)
			sum += w[i].lat_ns[j];
		if (w[i].n)
			memcpy(all + k, w[i].lat_ns, w[i].n * sizeof(*all));
		k += w[i].n;
		free(w[i].lat_ns);
	}
	qsort(all, total, sizeof(*all), cmp_u32);
	printf("{\"depth\":%u,\"commands\":%zu,\"errors\":%llu,\"seconds\":%.3f,\"rps\":%.1f,"
	       "\"p50_us\":%.1f,\"p99_us\":%.1f,\"mean_us\":%.1f}\n",
	       threads, total, (unsigned long long)errors, duration, (double)total / duration,
	       pct(all, total, 0.5), pct(all, total, 0.99),
	       total ? sum / (double)total / 1000.0 : 0.0);
	free(all);
	free(w);
	psp_close(transport);
	return total && !errors ? 0 : 1;
}
