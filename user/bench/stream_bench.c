// SPDX-License-Identifier: GPL-2.0
/*
 * stream_bench: push a local blob through the library's layer stream
 * (decompression + SHA-256 of the compressed and of the tar bytes, exactly
 * what a pull does before unpacking) and print MB/s of tar output.
 *   stream_bench none|gzip|zstd FILE
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static long fd_read(void *ctx, void *buf, size_t len, struct lfs_error *err)
{
	ssize_t n = read(*(int *)ctx, buf, len);

	if (n < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "read");
	return n;
}

int main(int argc, char **argv)
{
	static char buf[1 << 18];
	enum lfs_compression c;
	struct lfs_limits lim;
	struct lfs_error err = { 0 };
	struct lfs_layer_stream *ls;
	char d1[LFS_DIGEST_SIZE], d2[LFS_DIGEST_SIZE];
	struct timespec a, b;
	unsigned long long total = 0;
	double secs;
	long n;
	int fd;

	if (argc != 3)
		return 2;
	c = !strcmp(argv[1], "gzip") ? LFS_COMPRESS_GZIP :
	    !strcmp(argv[1], "zstd") ? LFS_COMPRESS_ZSTD : LFS_COMPRESS_NONE;
	fd = open(argv[2], O_RDONLY);
	if (fd < 0)
		return 1;
	lfs_limits_default(&lim);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ls = lfs_layer_stream_new(fd_read, &fd, c, -1, &lim, &err);
	while (ls && (n = lfs_layer_stream_read(ls, buf, sizeof(buf), &err)) > 0)
		total += (unsigned long long)n;
	if (!ls || n < 0 || lfs_layer_stream_finish(ls, d1, d2, &err) < 0) {
		fprintf(stderr, "stream_bench: %s\n", err.msg);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("%.1f\n", (double)total / 1e6 / secs);
	lfs_layer_stream_free(ls);
	close(fd);
	return 0;
}
