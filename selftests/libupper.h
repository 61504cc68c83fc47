/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the tests of the writable upper layer (upper_ops, cow_random).
 *
 * A struct lfs_upper is a struct lfs_stack (read-only layers L0 = top ...
 * Ln and the mount point) plus an upper and a work directory in the same
 * scratch directory, so on the filesystem under test, as layerfs demands.
 *
 * $LFS_UPPER_FSTYPE=overlay mounts overlayfs over the same directories
 * instead (with redirect_dir=on, index=on, metacopy=on, so that renaming a
 * lower directory and hard-linked lower files behave), to prove the tests
 * pass against an implementation that exists.  Assertions that only hold
 * for layerfs (the OCI whiteout format in the upper directory, EINVAL for
 * ".wh." names, cow_block=) are skipped then: see lfs_is_overlay().
 * $LFS_UPPER_OPTS replaces those three overlayfs options (e.g. with
 * "redirect_dir=off,index=off" to see the tests catch what they cost).
 */
#ifndef LFS_SELFTEST_LIBUPPER_H
#define LFS_SELFTEST_LIBUPPER_H

#include "lib.h"

/* $LFS_UPPER_FSTYPE asks for overlayfs instead of layerfs. */
bool lfs_is_overlay(void);
/* "overlay" or lfs_fstype(). */
const char *lfs_upper_fstype(void);

struct lfs_upper {
	struct lfs_stack s;		/* layers, mount point, scratch dir */
	char upper[PATH_MAX];
	char work[PATH_MAX];
	unsigned int cow_block;		/* 0: the module's default */
	char opts[8192];		/* option string of the last mount */
};

/* Scratch dir (via lfs_stack_init) with empty upper/ and work/. */
int lfs_upper_init(struct lfs_upper *u, const char *tag);
/* mount(2) with lowerdir, upperdir, workdir (and cow_block): 0 or -errno. */
int lfs_upper_mount(struct lfs_upper *u);
/* Unmount, drop caches (so nothing is served from memory), mount again. */
int lfs_upper_cycle(struct lfs_upper *u);
/* MS_REMOUNT, read-only or read-write. */
int lfs_upper_remount(struct lfs_upper *u, bool ro);

/*
 * lfs_tree_compare(expected, actual, LFS_CMP_XATTR | LFS_CMP_INO |
 * LFS_CMP_DINO) plus st_nlink of every non-directory: contents, sizes,
 * types, modes, owners, symlink targets, user.* xattrs, which names are
 * one inode, and d_ino and d_type as stat gives them.
 */
int lfs_tree_compare_rw(const char *expected, const char *actual, char *why,
			size_t whylen);

/*
 * Deterministic data: byte @off of stream @seed.  Every 8-byte word
 * differs from its neighbours and from the same offset of other streams, so
 * a granule read from the wrong place or the wrong file shows.
 */
void lfs_pattern(void *buf, off_t off, size_t len, uint32_t seed);
/* Creates or overwrites @path with @len bytes of stream @seed. */
int lfs_write_pattern(const char *path, off_t len, uint32_t seed);

/* st_ino of @path (lstat), 0 if it cannot be stat'ed. */
uint64_t lfs_ino(const char *path);

/* LFS_REQUIRE_ENV for the filesystem these tests mount. */
#define LFS_REQUIRE_UPPER_ENV() do { \
	ASSERT_TRUE(lfs_fs_registered(lfs_upper_fstype())) { \
		TH_LOG("%s is not in /proc/filesystems", lfs_upper_fstype()); \
	} \
	ASSERT_NE(NULL, lfs_test_dir()) { \
		TH_LOG("LFS_TEST_DIR is not set"); \
	} \
} while (0)

#endif /* LFS_SELFTEST_LIBUPPER_H */
