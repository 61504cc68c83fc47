// SPDX-License-Identifier: GPL-2.0
/*
 * Lookup merges the layers top-down: a directory merges with the
 * directories below it until one is opaque; any non-directory hides
 * everything below it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "libharness.h"

FIXTURE(merge) {
	struct lfs_stack s;
};

FIXTURE_SETUP(merge)
{
	LFS_REQUIRE_ENV();
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_stack_init(&self->s, "merge"));
}

FIXTURE_TEARDOWN_PARENT(merge)
{
	lfs_stack_remove(&self->s);
}

static bool is_type(const char *path, mode_t type)
{
	struct stat st;

	return !lstat(path, &st) && (st.st_mode & S_IFMT) == type;
}

TEST_F(merge, upper_file_hides_lower_file)
{
	LFS_LAYER(&self->s, "f=upper");
	LFS_LAYER(&self->s, "f=lower");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("upper", lfs_cat(lfs_at(&self->s, "f")));
}

TEST_F(merge, topmost_of_many_layers_wins)
{
	LFS_LAYER(&self->s, "f=L0");
	LFS_LAYER(&self->s, "f=L1", "g=L1");
	LFS_LAYER(&self->s, "f=L2", "g=L2", "h=L2");
	LFS_LAYER(&self->s, "f=L3", "g=L3", "h=L3");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("L0", lfs_cat(lfs_at(&self->s, "f")));
	EXPECT_STREQ("L1", lfs_cat(lfs_at(&self->s, "g")));
	EXPECT_STREQ("L2", lfs_cat(lfs_at(&self->s, "h")));
}

TEST_F(merge, mount_root_merges_the_layer_roots)
{
	LFS_LAYER(&self->s, "a");
	LFS_LAYER(&self->s, "b/");
	LFS_LAYER(&self->s, "c->a");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("a b/ c@", lfs_ls(self->s.mnt));
}

TEST_F(merge, directories_merge_across_all_layers)
{
	LFS_LAYER(&self->s, "d/a=0");
	LFS_LAYER(&self->s, "d/b=1");
	LFS_LAYER(&self->s, "d/c=2", "d/a=2");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("a b c", lfs_ls(lfs_at(&self->s, "d")));
	EXPECT_STREQ("0", lfs_cat(lfs_at(&self->s, "d/a")));
	EXPECT_STREQ("1", lfs_cat(lfs_at(&self->s, "d/b")));
	EXPECT_STREQ("2", lfs_cat(lfs_at(&self->s, "d/c")));
}

TEST_F(merge, every_level_of_a_deep_path_merges)
{
	LFS_LAYER(&self->s, "a/b/c/d/top");
	LFS_LAYER(&self->s, "a/b/c/mid");
	LFS_LAYER(&self->s, "a/b/bottom", "a/b/c/d/e/deep=x");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("bottom c/", lfs_ls(lfs_at(&self->s, "a/b")));
	EXPECT_STREQ("d/ mid", lfs_ls(lfs_at(&self->s, "a/b/c")));
	EXPECT_STREQ("e/ top", lfs_ls(lfs_at(&self->s, "a/b/c/d")));
	EXPECT_STREQ("x", lfs_cat(lfs_at(&self->s, "a/b/c/d/e/deep")));
}

TEST_F(merge, file_hides_lower_directory_and_its_contents)
{
	LFS_LAYER(&self->s, "x=file");
	LFS_LAYER(&self->s, "x/child=lower", "x/sub/deeper");
	LFS_MOUNT(&self->s);

	EXPECT_TRUE(is_type(lfs_at(&self->s, "x"), S_IFREG));
	EXPECT_STREQ("file", lfs_cat(lfs_at(&self->s, "x")));
	EXPECT_EQ(ENOTDIR, lfs_lstat_errno(lfs_at(&self->s, "x/child")));
	EXPECT_EQ(ENOTDIR, lfs_lstat_errno(lfs_at(&self->s, "x/sub/deeper")));
}

TEST_F(merge, directory_hides_lower_file)
{
	LFS_LAYER(&self->s, "x/a=dir");
	LFS_LAYER(&self->s, "x=file");
	LFS_MOUNT(&self->s);

	EXPECT_TRUE(is_type(lfs_at(&self->s, "x"), S_IFDIR));
	EXPECT_STREQ("a", lfs_ls(lfs_at(&self->s, "x")));
}

TEST_F(merge, non_directory_in_the_middle_stops_the_merge)
{
	LFS_LAYER(&self->s, "x/top");
	LFS_LAYER(&self->s, "x=file");
	LFS_LAYER(&self->s, "x/bottom");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("top", lfs_ls(lfs_at(&self->s, "x")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(lfs_at(&self->s, "x/bottom")));
}

TEST_F(merge, symlink_hides_lower_directory)
{
	LFS_LAYER(&self->s, "x->elsewhere");
	LFS_LAYER(&self->s, "x/a");
	LFS_MOUNT(&self->s);

	EXPECT_TRUE(is_type(lfs_at(&self->s, "x"), S_IFLNK));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(lfs_at(&self->s, "x/a")));
}

TEST_F(merge, symlink_to_a_directory_is_not_merged_with_a_lower_directory)
{
	LFS_LAYER(&self->s, "link->d", "d/a");
	LFS_LAYER(&self->s, "link/b");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("a", lfs_ls(lfs_at(&self->s, "link/")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(lfs_at(&self->s, "link/b")));
}

TEST_F(merge, dotdot_of_a_merged_subdirectory_is_the_merged_parent)
{
	struct stat parent, dotdot;

	LFS_LAYER(&self->s, "d/sub/a");
	LFS_LAYER(&self->s, "d/sub/b", "d/other");
	LFS_MOUNT(&self->s);

	ASSERT_EQ(0, stat(lfs_at(&self->s, "d"), &parent));
	ASSERT_EQ(0, stat(lfs_at(&self->s, "d/sub/.."), &dotdot));
	EXPECT_EQ(parent.st_ino, dotdot.st_ino);
	EXPECT_EQ(parent.st_dev, dotdot.st_dev);
	EXPECT_STREQ("other sub/", lfs_ls(lfs_at(&self->s, "d/sub/..")));
}

TEST_F(merge, missing_names_are_enoent_and_stay_so)
{
	LFS_LAYER(&self->s, "d/a", "f");
	LFS_LAYER(&self->s, "d/b");
	LFS_MOUNT(&self->s);

	for (int round = 0; round < 2; round++) {
		EXPECT_EQ(ENOENT, lfs_lstat_errno(lfs_at(&self->s, "nope")));
		EXPECT_EQ(ENOENT, lfs_lstat_errno(lfs_at(&self->s, "d/nope")));
		EXPECT_EQ(ENOENT, lfs_lstat_errno(lfs_at(&self->s, "nope/x")));
		EXPECT_EQ(ENOTDIR, lfs_lstat_errno(lfs_at(&self->s, "f/x")));
	}
}

TEST_F(merge, empty_layers_are_transparent)
{
	LFS_LAYER(&self->s, NULL);
	LFS_LAYER(&self->s, "d/f=middle");
	LFS_LAYER(&self->s, NULL);
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("d/", lfs_ls(self->s.mnt));
	EXPECT_STREQ("middle", lfs_cat(lfs_at(&self->s, "d/f")));
}

TEST_F(merge, single_layer_stack_shows_exactly_that_layer)
{
	char why[512];

	LFS_LAYER(&self->s, "a=1 mode=0600", "d/b=2 uid=1000 gid=1000",
		  "d/e/", "l->d/b", "h=>a", "p|", "n@1:3 mode=0666");
	LFS_MOUNT(&self->s);

	EXPECT_EQ(0, lfs_tree_compare(self->s.layer[0], self->s.mnt,
				      LFS_CMP_MTIME | LFS_CMP_INO |
				      LFS_CMP_DINO | LFS_CMP_DEV,
				      why, sizeof(why))) {
		TH_LOG("%s", why);
	}
}

TEST_F(merge, special_files_are_visible_as_themselves)
{
	struct stat st;

	LFS_LAYER(&self->s, "null@1:3", "fifo|", "sock#");
	LFS_LAYER(&self->s, "null=file", "fifo=file", "sock=file");
	LFS_MOUNT(&self->s);

	ASSERT_EQ(0, lstat(lfs_at(&self->s, "null"), &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(makedev(1, 3), st.st_rdev);
	EXPECT_TRUE(is_type(lfs_at(&self->s, "fifo"), S_IFIFO));
	EXPECT_TRUE(is_type(lfs_at(&self->s, "sock"), S_IFSOCK));
}

TEST_F(merge, unusual_names_are_found)
{
	char longname[256];

	memset(longname, 'n', 255);
	longname[255] = '\0';
	LFS_LAYER(&self->s, "with\\ space=1", "-dash=2", "...=3",
		  "\xc3\xa9t\xc3\xa9=4");
	ASSERT_NE(NULL, lfs_stack_add(&self->s, LFS_ENTRIES(longname)));
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("1", lfs_cat(lfs_at(&self->s, "with space")));
	EXPECT_STREQ("2", lfs_cat(lfs_at(&self->s, "-dash")));
	EXPECT_STREQ("3", lfs_cat(lfs_at(&self->s, "...")));
	EXPECT_STREQ("4", lfs_cat(lfs_at(&self->s, "\xc3\xa9t\xc3\xa9")));
	EXPECT_EQ(0, lfs_lstat_errno(lfs_at(&self->s, longname)));
}

TEST_F(merge, name_longer_than_name_max_is_enametoolong)
{
	char name[300], path[PATH_MAX];

	LFS_LAYER(&self->s, "d/f");
	LFS_LAYER(&self->s, "d/g");
	LFS_MOUNT(&self->s);

	memset(name, 'x', 256);
	name[256] = '\0';
	EXPECT_EQ(ENAMETOOLONG, lfs_lstat_errno(lfs_at(&self->s, name)));
	snprintf(path, sizeof(path), "d/%s", name);
	EXPECT_EQ(ENAMETOOLONG, lfs_lstat_errno(lfs_at(&self->s, path)));
	/* What the layers' own filesystem says, for the same names. */
	EXPECT_EQ(ENAMETOOLONG, lfs_lstat_errno(lfs_in_layer(&self->s, 0, path)));
}

TEST_F(merge, names_are_case_sensitive)
{
	LFS_LAYER(&self->s, "Name=upper");
	LFS_LAYER(&self->s, "name=lower");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("Name name", lfs_ls(self->s.mnt));
	EXPECT_STREQ("lower", lfs_cat(lfs_at(&self->s, "name")));
}

TEST_HARNESS_MAIN
