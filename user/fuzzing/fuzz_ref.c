// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target: image reference parsing and normalisation. */
#include <stdlib.h>
#include <string.h>

#include "layerfs.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s = malloc(size + 1);
	struct lfs_ref ref;
	struct lfs_error err;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (lfs_ref_parse(s, &ref, &err) == 0) {
		char *canon = lfs_ref_string(&ref);
		struct lfs_ref again;

		/* the canonical form parses to itself */
		if (canon && lfs_ref_parse(canon, &again, &err) == 0) {
			char *c2 = lfs_ref_string(&again);

			if (!c2 || strcmp(canon, c2))
				abort();
			free(c2);
			lfs_ref_free(&again);
		} else if (canon) {
			abort();
		}
		free(canon);
		lfs_ref_free(&ref);
	}
	free(s);
	return 0;
}
