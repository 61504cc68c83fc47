// SPDX-License-Identifier: GPL-2.0
/*
 * layerfs selftests: mounting a stack with an upper layer (layerfs, or
 * overlayfs with $LFS_UPPER_FSTYPE=overlay), remount cycles, comparing a
 * writable mount with a plain model tree, and pattern data.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libupper.h"

bool lfs_is_overlay(void)
{
	const char *t = getenv("LFS_UPPER_FSTYPE");

	return t && !strcmp(t, "overlay");
}

const char *lfs_upper_fstype(void)
{
	return lfs_is_overlay() ? "overlay" : lfs_fstype();
}

int lfs_upper_init(struct lfs_upper *u, const char *tag)
{
	int ret;

	memset(u, 0, sizeof(*u));
	ret = lfs_stack_init(&u->s, tag);
	if (ret)
		return ret;
	snprintf(u->upper, sizeof(u->upper), "%s/upper", u->s.dir);
	snprintf(u->work, sizeof(u->work), "%s/work", u->s.dir);
	if (mkdir(u->upper, 0755) || mkdir(u->work, 0755))
		return -errno;
	return 0;
}

int lfs_upper_mount(struct lfs_upper *u)
{
	char *lower = lfs_lowerdir_list(u->s.nlayers, u->s.layer);
	size_t n;

	if (!lower)
		return -ENOMEM;
	n = snprintf(u->opts, sizeof(u->opts), "lowerdir=%s,upperdir=%s,workdir=%s",
		     lower, u->upper, u->work);
	free(lower);
	if (lfs_is_overlay()) {
		/*
		 * redirect_dir: renaming a lower directory works instead of
		 * EXDEV; index: a copied-up hard link stays one inode with
		 * its lower aliases; metacopy: chmod & co copy no data, as
		 * layerfs promises.
		 */
		const char *extra = getenv("LFS_UPPER_OPTS");

		n += snprintf(u->opts + n, n < sizeof(u->opts) ? sizeof(u->opts) - n : 0,
			      ",%s", extra ? extra : "redirect_dir=on,index=on,metacopy=on");
	} else if (u->cow_block) {
		n += snprintf(u->opts + n, n < sizeof(u->opts) ? sizeof(u->opts) - n : 0,
			      ",cow_block=%u", u->cow_block);
	}
	/* mount(2) takes one page of options. */
	if (n >= 4096)
		return -E2BIG;
	if (mount("none", u->s.mnt, lfs_upper_fstype(), 0, u->opts)) {
		int err = -errno;

		snprintf(u->s.log, sizeof(u->s.log), "mount -t %s -o %.3000s: %s",
			 lfs_upper_fstype(), u->opts, strerror(errno));
		return err;
	}
	u->s.mounted = true;
	return 0;
}

int lfs_upper_cycle(struct lfs_upper *u)
{
	int ret = lfs_stack_umount(&u->s);

	if (ret) {
		snprintf(u->s.log, sizeof(u->s.log), "umount %.3000s: %s",
			 u->s.mnt, strerror(-ret));
		return ret;
	}
	ret = lfs_drop_caches();
	if (ret)
		return ret;
	return lfs_upper_mount(u);
}

int lfs_upper_remount(struct lfs_upper *u, bool ro)
{
	if (mount(NULL, u->s.mnt, NULL, MS_REMOUNT | (ro ? MS_RDONLY : 0),
		  NULL))
		return -errno;
	return 0;
}

struct nlink_walk {
	const char *actual;
	char *why;
	size_t whylen;
};

static int nlink_one(const char *path, const char *rel, const struct stat *st,
		     void *arg)
{
	struct nlink_walk *w = arg;
	char ap[PATH_MAX];
	struct stat as;

	(void)path;
	if (S_ISDIR(st->st_mode))
		return 0;
	if ((size_t)snprintf(ap, sizeof(ap), "%s/%s", w->actual, rel) >= sizeof(ap))
		return -ENAMETOOLONG;
	if (lstat(ap, &as)) {
		snprintf(w->why, w->whylen, "/%s: lstat: %s", rel, strerror(errno));
		return 1;
	}
	if (as.st_nlink != st->st_nlink) {
		snprintf(w->why, w->whylen, "/%s: st_nlink %lu, expected %lu",
			 rel, (unsigned long)as.st_nlink,
			 (unsigned long)st->st_nlink);
		return 1;
	}
	return 0;
}

int lfs_tree_compare_rw(const char *expected, const char *actual, char *why,
			size_t whylen)
{
	struct nlink_walk w = { .actual = actual, .why = why, .whylen = whylen };
	int ret = lfs_tree_compare(expected, actual,
				   LFS_CMP_XATTR | LFS_CMP_INO | LFS_CMP_DINO,
				   why, whylen);

	if (ret)
		return ret;
	ret = lfs_walk(expected, nlink_one, &w);
	if (ret < 0 && whylen && !why[0])
		snprintf(why, whylen, "nlink walk: %s", strerror(-ret));
	return ret;
}

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void lfs_pattern(void *buf, off_t off, size_t len, uint32_t seed)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		uint64_t w = mix((o >> 3) ^ ((uint64_t)seed << 40) ^ 0x5bd1e995ull);

		p[i] = w >> (8 * (o & 7));
	}
}

int lfs_write_pattern(const char *path, off_t len, uint32_t seed)
{
	static char buf[65536];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	off_t done = 0;

	if (fd < 0)
		return -errno;
	while (done < len) {
		size_t n = len - done < (off_t)sizeof(buf) ? (size_t)(len - done) : sizeof(buf);

		lfs_pattern(buf, done, n, seed);
		if (pwrite(fd, buf, n, done) != (ssize_t)n) {
			int err = errno ? -errno : -EIO;

			close(fd);
			return err;
		}
		done += n;
	}
	if (close(fd))
		return -errno;
	return 0;
}

uint64_t lfs_ino(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? 0 : st.st_ino;
}
