/* Progress bar on stderr (cli/progress.h). Writes only to a terminal; throttled to ~10 redraws
 * a second so a fast upload over a Unix socket is not slowed down by the terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/progress.h"

#define BAR_WIDTH 30
#define REDRAW_NS 100000000LL /* 100 ms */

struct progress {
	char label[48];
	uint64_t total, done;
	long long last_ns; /* monotonic time of the last draw */
	int last_pct;
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* "12.3 MiB" into buf. */
static const char *human(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]))
		v /= 1024, u++;
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

static void draw(struct progress *p, const char *tail)
{
	char a[24], b[24], bar[BAR_WIDTH + 1];

	if (p->total) {
		int pct = (int)(p->done >= p->total ? 100 : p->done * 100 / p->total);
		int fill = pct * BAR_WIDTH / 100;
		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '.', (size_t)(BAR_WIDTH - fill));
		bar[BAR_WIDTH] = 0;
		fprintf(stderr, "\r%s [%s] %3d%% %s / %s%s\033[K", p->label, bar, pct,
			human(p->done, a, sizeof(a)), human(p->total, b, sizeof(b)), tail);
		p->last_pct = pct;
	} else
		fprintf(stderr, "\r%s %s%s\033[K", p->label, human(p->done, a, sizeof(a)), tail);
	fflush(stderr);
	p->last_ns = now_ns();
}

struct progress *progress_new(const char *label, uint64_t total, bool enabled)
{
	struct progress *p;

	if (!enabled)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	snprintf(p->label, sizeof(p->label), "%s", label);
	p->total = total;
	p->last_pct = -1;
	draw(p, "");
	return p;
}

void progress_update(struct progress *p, uint64_t done)
{
	if (!p)
		return;
	p->done = done;
	/* Redraw on a new percent, but never more often than REDRAW_NS. */
	if (now_ns() - p->last_ns < REDRAW_NS)
		return;
	if (p->total && (int)(done * 100 / (p->total ? p->total : 1)) == p->last_pct)
		return;
	draw(p, "");
}

void progress_finish(struct progress *p, bool ok)
{
	if (!p)
		return;
	draw(p, ok ? " done" : " failed");
	fputc('\n', stderr);
	fflush(stderr);
	free(p);
}
