// SPDX-License-Identifier: LGPL-2.1-or-later
/* Error values that carry their context up to the tool that prints them. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

int lfs_error_set(struct lfs_error *err, enum lfs_err_kind kind, int errnum,
		  const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err)
		return -1;
	err->kind = kind;
	err->errnum = errnum;
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (errnum && n >= 0 && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
	return -1;
}

void lfs_error_prefix(struct lfs_error *err, const char *fmt, ...)
{
	char prefix[LFS_ERROR_MAX];
	size_t pl, ml;
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	pl = strlen(prefix);
	if (pl + 3 >= sizeof(err->msg))
		pl = sizeof(err->msg) - 3;
	ml = strnlen(err->msg, sizeof(err->msg) - 1);
	if (pl + 2 + ml >= sizeof(err->msg))
		ml = sizeof(err->msg) - 1 - pl - 2;
	memmove(err->msg + pl + 2, err->msg, ml);
	memcpy(err->msg, prefix, pl);
	err->msg[pl] = ':';
	err->msg[pl + 1] = ' ';
	err->msg[pl + 2 + ml] = '\0';
}

const char *lfs_error_kind_name(enum lfs_err_kind kind)
{
	static const char *const names[] = {
		[LFS_OK] = "ok",
		[LFS_E_INVALID] = "invalid",
		[LFS_E_NOTFOUND] = "not-found",
		[LFS_E_AUTH] = "auth",
		[LFS_E_VERIFY] = "verify",
		[LFS_E_UNSAFE] = "unsafe",
		[LFS_E_NETWORK] = "network",
		[LFS_E_PROTOCOL] = "protocol",
		[LFS_E_SYSTEM] = "system",
		[LFS_E_BUSY] = "busy",
	};

	if ((size_t)kind < LFS_ARRAY_SIZE(names) && names[kind])
		return names[kind];
	return "unknown";
}
