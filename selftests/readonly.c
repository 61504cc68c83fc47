// SPDX-License-Identifier: GPL-2.0
/*
 * A mount without an upper layer is read-only: every attempt to change
 * anything through it fails with EROFS, and the layers stay untouched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "libharness.h"

FIXTURE(ro) {
	struct lfs_stack s;
	char snapshot[PATH_MAX];
};

/*
 * Every test starts from the same two layers; a copy of the merged view,
 * taken at mount time, lets each test check that nothing changed.
 */
FIXTURE_SETUP(ro)
{
	struct lfs_oci *o;

	LFS_REQUIRE_ENV();
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_stack_init(&self->s, "readonly"));
	LFS_LAYER(&self->s, "f=top xattr=user.k=v", "d/a=1", "d/sub/", "l->f",
		  "fifo|", ".wh.gone");
	LFS_LAYER(&self->s, "f=bottom", "d/b=2", "gone=x", "e/");
	LFS_MOUNT(&self->s);

	strcpy(self->snapshot, lfs_in_scratch(&self->s, "snapshot"));
	ASSERT_EQ(0, mkdir(self->snapshot, 0755));
	o = lfs_oci_new(self->snapshot);
	ASSERT_NE(NULL, o);
	ASSERT_EQ(0, lfs_oci_apply(o, self->s.layer[1]));
	ASSERT_EQ(0, lfs_oci_apply(o, self->s.layer[0]));
	ASSERT_EQ(0, lfs_oci_finish(o));
}

FIXTURE_TEARDOWN_PARENT(ro)
{
	lfs_stack_remove(&self->s);
}

#define AT(rel) lfs_at(&self->s, rel)

/* Fails with EROFS, and the merged view is still what it was. */
#define EXPECT_EROFS(call) do { \
	char why[512]; \
	errno = 0; \
	EXPECT_GT(0, (long)(call)); \
	EXPECT_EQ(EROFS, errno) { \
		TH_LOG("%s: %s", #call, strerror(errno)); \
	} \
	EXPECT_EQ(0, lfs_tree_compare(self->snapshot, self->s.mnt, \
				      LFS_CMP_MTIME | LFS_CMP_XATTR, \
				      why, sizeof(why))) { \
		TH_LOG("after %s: %s", #call, why); \
	} \
} while (0)

TEST_F(ro, open_for_writing_is_erofs)
{
	EXPECT_EROFS(open(AT("f"), O_WRONLY));
	EXPECT_EROFS(open(AT("f"), O_RDWR));
	EXPECT_EROFS(open(AT("d/b"), O_WRONLY | O_APPEND));
}

TEST_F(ro, open_with_truncate_is_erofs)
{
	EXPECT_EROFS(open(AT("f"), O_RDONLY | O_TRUNC));
}

TEST_F(ro, creating_a_file_is_erofs)
{
	EXPECT_EROFS(open(AT("new"), O_WRONLY | O_CREAT, 0644));
	EXPECT_EROFS(open(AT("d/new"), O_RDONLY | O_CREAT, 0644));
	EXPECT_EROFS(creat(AT("gone"), 0644));
}

TEST_F(ro, creating_an_unnamed_temporary_file_is_erofs)
{
	EXPECT_EROFS(open(AT("d"), O_RDWR | O_TMPFILE, 0600));
}

TEST_F(ro, mkdir_is_erofs)
{
	EXPECT_EROFS(mkdir(AT("newdir"), 0755));
	EXPECT_EROFS(mkdir(AT("gone"), 0755));
}

TEST_F(ro, mknod_is_erofs)
{
	EXPECT_EROFS(mknod(AT("node"), S_IFIFO | 0644, 0));
	EXPECT_EROFS(mknod(AT("wh"), S_IFCHR | 0644, makedev(0, 0)));
}

TEST_F(ro, symlink_is_erofs)
{
	EXPECT_EROFS(symlink("f", AT("newlink")));
}

TEST_F(ro, link_is_erofs)
{
	EXPECT_EROFS(link(AT("f"), AT("hard")));
}

TEST_F(ro, unlink_is_erofs)
{
	EXPECT_EROFS(unlink(AT("f")));
	EXPECT_EROFS(unlink(AT("d/b")));
	EXPECT_EROFS(unlink(AT("l")));
}

TEST_F(ro, rmdir_is_erofs)
{
	EXPECT_EROFS(rmdir(AT("e")));
	EXPECT_EROFS(rmdir(AT("d/sub")));
}

TEST_F(ro, rename_is_erofs)
{
	EXPECT_EROFS(rename(AT("f"), AT("g")));
	EXPECT_EROFS(rename(AT("d/a"), AT("d/b")));
	EXPECT_EROFS(rename(AT("e"), AT("d/e")));
	EXPECT_EROFS(renameat2(AT_FDCWD, AT("f"), AT_FDCWD, AT("l"),
			       RENAME_EXCHANGE));
	EXPECT_EROFS(renameat2(AT_FDCWD, AT("f"), AT_FDCWD, AT("g"),
			       RENAME_WHITEOUT));
}

TEST_F(ro, chmod_is_erofs)
{
	EXPECT_EROFS(chmod(AT("f"), 0600));
	EXPECT_EROFS(chmod(AT("d"), 0700));
}

TEST_F(ro, chown_is_erofs)
{
	EXPECT_EROFS(chown(AT("f"), 1000, 1000));
	EXPECT_EROFS(lchown(AT("l"), 1000, 1000));
}

TEST_F(ro, utimes_is_erofs)
{
	struct timespec ts[2] = { { .tv_sec = 1 }, { .tv_sec = 1 } };

	EXPECT_EROFS(utimensat(AT_FDCWD, AT("f"), ts, 0));
	EXPECT_EROFS(utimensat(AT_FDCWD, AT("d"), NULL, 0));
}

TEST_F(ro, setxattr_is_erofs)
{
	EXPECT_EROFS(setxattr(AT("f"), "user.k", "new", 3, 0));
	EXPECT_EROFS(setxattr(AT("d"), "user.new", "x", 1, XATTR_CREATE));
	EXPECT_EROFS(setxattr(AT("d"), "trusted.overlay.opaque", "y", 1, 0));
}

TEST_F(ro, removexattr_is_erofs)
{
	EXPECT_EROFS(removexattr(AT("f"), "user.k"));
}

TEST_F(ro, truncate_is_erofs)
{
	EXPECT_EROFS(truncate(AT("f"), 0));
	EXPECT_EROFS(truncate(AT("d/b"), 100));
}

TEST_F(ro, setting_inode_flags_is_erofs)
{
	int fd = open(AT("f"), O_RDONLY);
	int flags = FS_IMMUTABLE_FL;

	ASSERT_LE(0, fd);
	EXPECT_EROFS(ioctl(fd, FS_IOC_SETFLAGS, &flags));
	close(fd);
}

TEST_F(ro, shared_writable_mapping_is_refused)
{
	int fd = open(AT("f"), O_RDONLY);

	ASSERT_LE(0, fd);
	errno = 0;
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, 0));
	EXPECT_EQ(EACCES, errno);
	close(fd);
}

TEST_F(ro, bind_mount_remounted_read_write_stays_read_only)
{
	char *bind = strdup(lfs_in_scratch(&self->s, "bind"));

	ASSERT_EQ(0, mkdir(bind, 0755));
	ASSERT_EQ(0, mount(self->s.mnt, bind, NULL, MS_BIND, NULL));
	/* Only the mount's flag changes; the superblock stays read-only. */
	mount(NULL, bind, NULL, MS_REMOUNT | MS_BIND, NULL);
	errno = 0;
	EXPECT_EQ(-1, mkdir(lfs_in_scratch(&self->s, "bind/new"), 0755));
	EXPECT_EQ(EROFS, errno);
}

TEST_F(ro, remount_read_write_is_refused)
{
	errno = 0;
	EXPECT_EQ(-1, mount(NULL, self->s.mnt, NULL, MS_REMOUNT, NULL));
	EXPECT_EROFS(mkdir(AT("new"), 0755));
}

TEST_F(ro, layers_are_untouched_after_write_attempts)
{
	const char *before[2] = {
		strdup(lfs_in_scratch(&self->s, "before0")),
		strdup(lfs_in_scratch(&self->s, "before1")),
	};
	char why[512];

	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, lfs_copy_tree(self->s.layer[i], before[i]));

	EXPECT_GT(0, open(AT("f"), O_WRONLY | O_TRUNC));
	EXPECT_GT(0, chmod(AT("d"), 0));
	EXPECT_GT(0, unlink(AT("d/a")));
	EXPECT_GT(0, unlink(AT("d/b")));
	EXPECT_GT(0, rename(AT("d/sub"), AT("moved")));
	EXPECT_GT(0, setxattr(AT("f"), "user.k", "changed", 7, 0));
	EXPECT_GT(0, open(AT("gone"), O_CREAT | O_WRONLY, 0644));
	EXPECT_GT(0, mkdir(AT("e/x"), 0755));

	for (int i = 0; i < 2; i++) {
		EXPECT_EQ(0, lfs_tree_compare(before[i], self->s.layer[i],
					      LFS_CMP_MTIME | LFS_CMP_XATTR,
					      why, sizeof(why))) {
			TH_LOG("layer %d: %s", i, why);
		}
	}
}

TEST_HARNESS_MAIN
