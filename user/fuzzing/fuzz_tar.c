// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: a whole layer through the unpacker (decompression,
 * libarchive, every path-safety rule) into a fresh directory.  The first
 * byte picks the compression.  After each run nothing may exist outside
 * the directory: a canary directory beside it must stay empty.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static char base[64];

static void rmtree(const char *path)
{
	if (lfs_rmtree_at(AT_FDCWD, path) < 0)
		abort();
}

static void remove_base(void)
{
	lfs_rmtree_at(AT_FDCWD, base);
}

static int canary_empty(void)
{
	char p[96];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(p, sizeof(p), "%s/canary", base);
	d = opendir(p);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		n++;
	closedir(d);
	return n == 2;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const enum lfs_compression comps[] = {
		LFS_COMPRESS_NONE, LFS_COMPRESS_GZIP, LFS_COMPRESS_ZSTD,
	};
	struct lfs_limits lim;
	struct lfs_error err;
	char root[96];
	int fd, dirfd;

	if (size < 1)
		return 0;
	if (!base[0]) {
		char p[96];

		strcpy(base, "/tmp/lfs-fuzz-tar-XXXXXX");
		if (!mkdtemp(base))
			abort();
		atexit(remove_base);
		snprintf(p, sizeof(p), "%s/canary", base);
		mkdir(p, 0755);
	}
	lfs_limits_default(&lim);
	lim.max_entry_size = 1 << 20;
	lim.max_layer_size = 16 << 20;
	lim.max_entries = 4096;
	lim.ratio_floor = 1 << 20;
	lim.max_ratio = 100;
	snprintf(root, sizeof(root), "%s/root", base);
	rmtree(root);
	mkdir(root, 0755);
	dirfd = open(root, O_RDONLY | O_DIRECTORY);
	fd = memfd_create("layer", 0);
	if (dirfd < 0 || fd < 0 || write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	lseek(fd, 0, SEEK_SET);
	lfs_unpack_fd(dirfd, fd, comps[data[0] % 3], &lim, "fuzz", NULL, &err);
	close(fd);
	close(dirfd);
	if (!canary_empty())
		abort();
	return 0;
}
