// SPDX-License-Identifier: GPL-2.0
/*
 * unpack_layer: unpack one local layer file with the library's unpacker,
 * for the hostile-layer corpus.  Prints the error line and exits with
 * 6 (unsafe), 5 (verify) or 1 (other); 0 on success.
 *   unpack_layer [--compression none|gzip|zstd] [--max-entry-size N]
 *                [--max-layer-size N] [--max-entries N] [--max-ratio N]
 *                [--ratio-floor N] [--allow-devices] [--diff-id D] DIR FILE
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs.h"

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "compression", required_argument, NULL, 'c' },
		{ "max-entry-size", required_argument, NULL, 'e' },
		{ "max-layer-size", required_argument, NULL, 'l' },
		{ "max-entries", required_argument, NULL, 'n' },
		{ "max-ratio", required_argument, NULL, 'r' },
		{ "ratio-floor", required_argument, NULL, 'f' },
		{ "allow-devices", no_argument, NULL, 'd' },
		{ "diff-id", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	enum lfs_compression comp = LFS_COMPRESS_NONE;
	struct lfs_limits lim;
	struct lfs_error err = { 0 };
	const char *diff_id = NULL;
	int c, dirfd, fd;

	lfs_limits_default(&lim);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			comp = !strcmp(optarg, "gzip") ? LFS_COMPRESS_GZIP :
			       !strcmp(optarg, "zstd") ? LFS_COMPRESS_ZSTD : LFS_COMPRESS_NONE;
			break;
		case 'e': lim.max_entry_size = strtoull(optarg, NULL, 0); break;
		case 'l': lim.max_layer_size = strtoull(optarg, NULL, 0); break;
		case 'n': lim.max_entries = strtoull(optarg, NULL, 0); break;
		case 'r': lim.max_ratio = strtoull(optarg, NULL, 0); break;
		case 'f': lim.ratio_floor = strtoull(optarg, NULL, 0); break;
		case 'd': lim.allow_devices = true; break;
		case 'i': diff_id = optarg; break;
		default: return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: unpack_layer [options] DIR FILE\n");
		return 2;
	}
	dirfd = open(argv[optind], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = open(argv[optind + 1], O_RDONLY | O_CLOEXEC);
	if (dirfd < 0 || fd < 0) {
		perror("open");
		return 1;
	}
	if (lfs_unpack_fd(dirfd, fd, comp, &lim, argv[optind + 1], diff_id, &err) < 0) {
		printf("%s\n", err.msg);
		return err.kind == LFS_E_UNSAFE ? 6 : err.kind == LFS_E_VERIFY ? 5 : 1;
	}
	close(fd);
	close(dirfd);
	return 0;
}
