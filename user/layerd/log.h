/* SPDX-License-Identifier: GPL-2.0 */
/*
 * layerd's log: one line per event on stderr, "layerd: [LEVEL: ]
 * [request N: ]message"; info lines carry no level word.  Under systemd
 * (JOURNAL_STREAM set) each line starts with the sd-daemon "<N>" prefix so
 * the journal records the priority.  Thread-safe: one fprintf per line.
 */
#ifndef LAYERD_LOG_H
#define LAYERD_LOG_H

#include <stdint.h>

#include "config.h"

void log_init(enum layerd_log_level level);
/* @id 0: the line concerns no request. */
void log_msg(enum layerd_log_level level, uint32_t id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(id, ...) log_msg(LOG_LVL_ERROR, id, __VA_ARGS__)
#define log_warn(id, ...) log_msg(LOG_LVL_WARNING, id, __VA_ARGS__)
#define log_info(id, ...) log_msg(LOG_LVL_INFO, id, __VA_ARGS__)
#define log_debug(id, ...) log_msg(LOG_LVL_DEBUG, id, __VA_ARGS__)

#endif
