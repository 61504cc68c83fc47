// SPDX-License-Identifier: GPL-2.0
/*
 * Pull progress.  On a terminal: one line per layer (digest, stage, bytes,
 * speed), redrawn in place at most ten times a second.  Otherwise: one line
 * each time a layer changes stage, so logs stay readable.  The library calls
 * progress_event serialised, from its worker threads.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "progress.h"

struct layer_state {
	char digest[LFS_DIGEST_SIZE];
	enum lfs_stage stage;
	unsigned long long done, total;
	double started;
	bool seen;
};

struct progress {
	FILE *out;
	bool tty;
	size_t count;
	struct layer_state *layers;
	size_t drawn;		/* lines currently on screen */
	double last_draw;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void format_bytes(unsigned long long n, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
}

static const char *stage_name(enum lfs_stage s)
{
	switch (s) {
	case LFS_STAGE_QUEUED: return "waiting";
	case LFS_STAGE_EXISTS: return "already present";
	case LFS_STAGE_FETCH: return "fetch+verify+unpack";
	case LFS_STAGE_RETRY: return "retrying";
	case LFS_STAGE_DEDUP: return "dedup";
	case LFS_STAGE_DONE: return "done";
	case LFS_STAGE_FAILED: return "failed";
	case LFS_STAGE_SOURCE: return "source";
	case LFS_STAGE_FALLBACK: return "fallback";
	}
	return "?";
}

struct progress *progress_new(FILE *out, bool tty)
{
	struct progress *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->out = out;
	p->tty = tty;
	return p;
}

void progress_free(struct progress *p)
{
	if (!p)
		return;
	free(p->layers);
	free(p);
}

static void draw(struct progress *p)
{
	size_t i;

	if (p->drawn)
		fprintf(p->out, "\033[%zuA", p->drawn);
	for (i = 0; i < p->count; i++) {
		struct layer_state *l = &p->layers[i];
		char done[32], total[32], speed[32] = "";
		double dt = now() - l->started;

		if (!l->seen) {
			fprintf(p->out, "\033[2K\n");
			continue;
		}
		format_bytes(l->done, done, sizeof(done));
		format_bytes(l->total, total, sizeof(total));
		if (l->stage == LFS_STAGE_FETCH && dt > 0.2) {
			format_bytes((unsigned long long)((double)l->done / dt), speed, sizeof(speed) - 3);
			strcat(speed, "/s");
		}
		fprintf(p->out, "\033[2K%.19s  %-20s %10s / %-10s %s\n", l->digest, stage_name(l->stage),
			done, total, speed);
	}
	p->drawn = p->count;
	fflush(p->out);
	p->last_draw = now();
}

void progress_event(void *ctx, const struct lfs_progress *ev)
{
	struct progress *p = ctx;
	struct layer_state *l;
	bool changed;

	/* about the whole pull: before any layer line is drawn */
	if (ev->stage == LFS_STAGE_SOURCE) {
		fprintf(p->out, "image %s: from %s%s%s%s\n", ev->digest ? ev->digest : "",
			ev->source ? ev->source : "?", ev->message ? " (" : "",
			ev->message ? ev->message : "", ev->message ? ")" : "");
		fflush(p->out);
		return;
	}
	if (ev->stage == LFS_STAGE_FALLBACK) {
		fprintf(p->out, "%s\n", ev->message ? ev->message : "mirror failed");
		fflush(p->out);
		return;
	}
	if (!p->layers) {
		p->layers = calloc(ev->count + 1, sizeof(*p->layers));
		if (!p->layers)
			return;
		p->count = ev->count;
	}
	if (ev->index >= p->count)
		return;
	l = &p->layers[ev->index];
	changed = !l->seen || l->stage != ev->stage;
	if (!l->seen)
		l->started = now();
	if (ev->stage == LFS_STAGE_FETCH && l->stage != LFS_STAGE_FETCH && l->stage != LFS_STAGE_RETRY)
		l->started = now();
	l->seen = true;
	snprintf(l->digest, sizeof(l->digest), "%s", ev->digest);
	l->stage = ev->stage;
	l->done = ev->done;
	l->total = ev->total;
	if (p->tty) {
		if (changed || now() - p->last_draw > 0.1)
			draw(p);
		return;
	}
	if (!changed || ev->stage == LFS_STAGE_QUEUED)
		return;
	if (ev->stage == LFS_STAGE_DONE) {
		char b[32];

		format_bytes(ev->done, b, sizeof(b));
		fprintf(p->out, "layer %zu/%zu %s: done (%s fetched%s%s)\n", ev->index + 1, ev->count,
			ev->digest, b, ev->source ? " from " : "", ev->source ? ev->source : "");
	} else {
		fprintf(p->out, "layer %zu/%zu %s: %s%s%s\n", ev->index + 1, ev->count, ev->digest,
			stage_name(ev->stage), ev->message ? ": " : "", ev->message ? ev->message : "");
	}
	fflush(p->out);
}

void progress_finish(struct progress *p)
{
	if (p && p->tty && p->count)
		draw(p);
}
