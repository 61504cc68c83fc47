// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: manifest, index and config parsing, and platform
 * selection.  The first byte picks the Content-Type the registry claimed.
 */
#include <stdlib.h>

#include "layerfs.h"

static const char *const content_types[] = {
	NULL,
	LFS_MT_OCI_MANIFEST,
	LFS_MT_OCI_INDEX,
	LFS_MT_DOCKER_MANIFEST,
	LFS_MT_DOCKER_LIST,
	"application/vnd.docker.distribution.manifest.v1+prettyjws",
	"application/json; charset=utf-8",
};

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct lfs_manifest m;
	struct lfs_config c;
	struct lfs_platform p;
	struct lfs_error err;
	const char *ct;

	if (size < 1)
		return 0;
	ct = content_types[data[0] % (sizeof(content_types) / sizeof(content_types[0]))];
	data++;
	size--;
	if (lfs_manifest_parse(ct, (const char *)data, size, &m, &err) == 0) {
		if (m.kind == LFS_MANIFEST_INDEX) {
			lfs_platform_parse("linux/arm64", &p, &err);
			lfs_index_select(&m, &p, &err);
			lfs_platform_parse("linux/amd64", &p, &err);
			lfs_index_select(&m, &p, &err);
		}
		lfs_manifest_free(&m);
	}
	if (lfs_config_parse((const char *)data, size, &c, &err) == 0)
		lfs_config_free(&c);
	return 0;
}
