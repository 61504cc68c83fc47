// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static enum layerd_log_level max_level = LOG_LVL_INFO;
static bool journal;

/* syslog priorities: err, warning, info, debug */
static const int sd_prio[] = { 3, 4, 6, 7 };

void log_init(enum layerd_log_level level)
{
	max_level = level;
	journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_msg(enum layerd_log_level level, uint32_t id, const char *fmt, ...)
{
	char sd[8] = "", lvl[16] = "", req[32] = "", msg[2048];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (journal)
		snprintf(sd, sizeof(sd), "<%d>", sd_prio[level]);
	if (level != LOG_LVL_INFO)
		snprintf(lvl, sizeof(lvl), "%s: ", layerd_log_level_name(level));
	if (id)
		snprintf(req, sizeof(req), "request %u: ", id);
	/* one call per line, so the lines of two threads never interleave */
	fprintf(stderr, "%slayerd: %s%s%s\n", sd, lvl, req, msg);
}
