/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal TAP harness for the unit tests: one function per rule, named for
 * the rule; CHECK records a failure and goes on; RUN prints "ok N - name".
 */
#ifndef LAYERFS_TEST_HARNESS_H
#define LAYERFS_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

static int h_fail, h_n, h_nfail;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "# %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		h_fail = 1; \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *_a = (a), *_b = (b); \
	if (!_a || !_b || strcmp(_a, _b)) { \
		fprintf(stderr, "# %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
			_a ? _a : "(null)", _b ? _b : "(null)"); \
		h_fail = 1; \
	} \
} while (0)

#define CHECK_CONTAINS(hay, needle) do { \
	const char *_h = (hay), *_nd = (needle); \
	if (!_h || !strstr(_h, _nd)) { \
		fprintf(stderr, "# %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
			_h ? _h : "(null)", _nd); \
		h_fail = 1; \
	} \
} while (0)

#define RUN(fn) do { \
	h_fail = 0; \
	fn(); \
	printf("%s %d - %s\n", h_fail ? "not ok" : "ok", ++h_n, #fn); \
	fflush(stdout); \
	if (h_fail) \
		h_nfail++; \
} while (0)

/* RUN unless a precondition fails: then a TAP skip with the reason. */
#define RUN_IF(cond, reason, fn) do { \
	if (cond) { \
		RUN(fn); \
	} else { \
		printf("ok %d - %s # SKIP %s\n", ++h_n, #fn, reason); \
		fflush(stdout); \
	} \
} while (0)

#define DONE() (printf("1..%d\n", h_n), h_nfail ? 1 : 0)

#endif
