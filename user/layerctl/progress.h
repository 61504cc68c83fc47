/* SPDX-License-Identifier: GPL-2.0 */
/* Pull progress: live bars on a terminal, one plain line per stage otherwise. */
#ifndef LAYERCTL_PROGRESS_H
#define LAYERCTL_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

#include "layerfs.h"

struct progress;

struct progress *progress_new(FILE *out, bool tty);
void progress_free(struct progress *p);
/* lfs_progress_fn; ctx is the struct progress */
void progress_event(void *ctx, const struct lfs_progress *ev);
void progress_finish(struct progress *p);

void format_bytes(unsigned long long n, char *buf, size_t len);

#endif
