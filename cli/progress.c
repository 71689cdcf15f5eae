/* Progress line on stderr (cli/progress.h). Writes only to a terminal; byte counts are
 * throttled to ~10 redraws a second so a fast upload over a Unix socket is not slowed down by
 * the terminal, counts (guests) are drawn on every change since there are few. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/progress.h"

#define BAR_WIDTH 30
#define REDRAW_NS 100000000LL /* 100 ms */

struct progress {
	char label[80];
	char note[64];
	enum progress_unit unit;
	uint64_t total, done;
	long long last_ns; /* monotonic time of the last draw */
	int last_pct;
	bool hidden; /* erased by progress_clear: the next update draws */
	bool dirty;  /* the note changed: the next update draws */
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

/* "1,360" into buf: exact byte counts of small documents read better grouped. */
static const char *grouped(uint64_t n, char *buf, size_t len)
{
	char digits[24];
	size_t nd = (size_t)snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n), o = 0;

	for (size_t i = 0; i < nd && o + 2 < len; i++) {
		if (i > 0 && (nd - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = 0;
	return buf;
}

static int percent(const struct progress *p)
{
	return (int)(p->done >= p->total ? 100 : p->done * 100 / p->total);
}

static const char *bar(const struct progress *p, char out[BAR_WIDTH + 1])
{
	int fill = percent(p) * BAR_WIDTH / 100;

	memset(out, '#', (size_t)fill);
	memset(out + fill, '.', (size_t)(BAR_WIDTH - fill));
	out[BAR_WIDTH] = 0;
	return out;
}

/* The figures after the label, per unit (PROGRESS_SIZE exactly as the upload bar always
 * looked: scripts and tests read it). */
static void figures(struct progress *p, char *out, size_t len)
{
	char a[32], b[32], br[BAR_WIDTH + 1];

	switch (p->unit) {
	case PROGRESS_SIZE:
		if (p->total)
			snprintf(out, len, " [%s] %3d%% %s / %s", bar(p, br), percent(p),
				 human(p->done, a, sizeof(a)), human(p->total, b, sizeof(b)));
		else
			snprintf(out, len, " %s", human(p->done, a, sizeof(a)));
		break;
	case PROGRESS_BYTES:
		if (p->total)
			snprintf(out, len, ": %s/%s bytes", grouped(p->done, a, sizeof(a)),
				 grouped(p->total, b, sizeof(b)));
		else
			snprintf(out, len, ": %s bytes", grouped(p->done, a, sizeof(a)));
		break;
	case PROGRESS_COUNT:
		if (p->total)
			snprintf(out, len, " [%s] %llu/%llu", bar(p, br), (unsigned long long)p->done,
				 (unsigned long long)p->total);
		else
			snprintf(out, len, " %llu", (unsigned long long)p->done);
		break;
	}
	if (p->total)
		p->last_pct = percent(p);
}

static void draw(struct progress *p, const char *tail)
{
	char fig[128];

	figures(p, fig, sizeof(fig));
	fprintf(stderr, "\r%s%s%s%s%s\033[K", p->label, fig, p->note[0] ? " " : "", p->note, tail);
	fflush(stderr);
	p->last_ns = now_ns();
	p->hidden = p->dirty = false;
}

struct progress *progress_new_unit(const char *label, enum progress_unit unit, uint64_t total,
				   bool enabled)
{
	struct progress *p;

	if (!enabled)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	snprintf(p->label, sizeof(p->label), "%s", label);
	p->unit = unit;
	p->total = total;
	p->last_pct = -1;
	draw(p, "");
	return p;
}

struct progress *progress_new(const char *label, uint64_t total, bool enabled)
{
	return progress_new_unit(label, PROGRESS_SIZE, total, enabled);
}

void progress_set_total(struct progress *p, uint64_t total)
{
	if (p)
		p->total = total;
}

void progress_note(struct progress *p, const char *note)
{
	if (!p)
		return;
	if (strcmp(p->note, note) != 0)
		p->dirty = true;
	snprintf(p->note, sizeof(p->note), "%s", note);
}

void progress_update(struct progress *p, uint64_t done)
{
	if (!p)
		return;
	bool changed = done != p->done;
	p->done = done;
	if (p->hidden || p->dirty || (p->unit == PROGRESS_COUNT && changed)) {
		draw(p, "");
		return;
	}
	if (p->unit == PROGRESS_COUNT)
		return;
	/* Redraw on a new percent, but never more often than REDRAW_NS. */
	if (now_ns() - p->last_ns < REDRAW_NS)
		return;
	if (p->total && (int)(done * 100 / (p->total ? p->total : 1)) == p->last_pct)
		return;
	draw(p, "");
}

void progress_clear(struct progress *p)
{
	if (!p)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	p->hidden = true;
}

void progress_finish_tail(struct progress *p, const char *tail)
{
	if (!p)
		return;
	draw(p, tail);
	fputc('\n', stderr);
	fflush(stderr);
	free(p);
}

void progress_finish(struct progress *p, bool ok)
{
	progress_finish_tail(p, ok ? " done" : " failed");
}
