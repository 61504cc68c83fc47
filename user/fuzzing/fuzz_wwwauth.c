// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target: WWW-Authenticate header parsing (RFC 7235). */
#include <stdlib.h>
#include <string.h>

#include "layerfs.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s = malloc(size + 1);
	struct lfs_challenges c;
	struct lfs_error err;
	size_t i;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (lfs_www_authenticate_parse(s, &c, &err) == 0) {
		for (i = 0; i < c.n; i++) {
			if (!c.v[i].scheme || !*c.v[i].scheme)
				abort();
			lfs_challenge_param(&c.v[i], "realm");
		}
		lfs_challenges_free(&c);
	}
	free(s);
	return 0;
}
