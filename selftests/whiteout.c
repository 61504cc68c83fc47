// SPDX-License-Identifier: GPL-2.0
/*
 * Whiteouts and opaque directories, as the OCI image-spec layer rules say
 * (https://github.com/opencontainers/image-spec/blob/main/layer.md):
 *
 *  - ".wh.NAME" hides NAME in lower layers, not in its own layer;
 *  - ".wh..wh..opq" makes its directory opaque to lower layers, wherever it
 *    appears; entries of its own layer stay visible;
 *  - other ".wh..wh.*" names have no effect;
 *  - no name starting with ".wh." is ever visible.
 *
 * Overlay-style markers work too: a 0/0 character device is a whiteout and
 * trusted.overlay.opaque=y makes a directory opaque.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "libharness.h"

FIXTURE(wh) {
	struct lfs_stack s;
};

FIXTURE_SETUP(wh)
{
	LFS_REQUIRE_ENV();
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_stack_init(&self->s, "whiteout"));
}

FIXTURE_TEARDOWN_PARENT(wh)
{
	lfs_stack_remove(&self->s);
}

#define AT(rel) lfs_at(&self->s, rel)

/* ------------------------------------------------------------------ */
/* OCI whiteouts                                                       */

TEST_F(wh, oci_whiteout_hides_lower_file)
{
	LFS_LAYER(&self->s, ".wh.f", "g");
	LFS_LAYER(&self->s, "f=lower", "h");
	LFS_MOUNT(&self->s);

	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("f")));
	EXPECT_STREQ("g h", lfs_ls(self->s.mnt));
}

TEST_F(wh, oci_whiteout_hides_the_name_in_every_lower_layer)
{
	LFS_LAYER(&self->s, "d/.wh.x");
	LFS_LAYER(&self->s, "d/x/a", "d/keep");
	LFS_LAYER(&self->s, "d/x/b");
	LFS_LAYER(&self->s, "d/x=file");
	LFS_MOUNT(&self->s);

	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("d/x")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("d/x/a")));
	EXPECT_STREQ("keep", lfs_ls(AT("d")));
}

TEST_F(wh, oci_whiteout_hides_a_lower_directory_and_everything_in_it)
{
	LFS_LAYER(&self->s, ".wh.d");
	LFS_LAYER(&self->s, "d/sub/deep/file", "d/f");
	LFS_MOUNT(&self->s);

	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("d")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("d/sub/deep/file")));
	EXPECT_STREQ("", lfs_ls(self->s.mnt));
}

TEST_F(wh, oci_whiteout_does_not_hide_the_name_in_its_own_layer)
{
	LFS_LAYER(&self->s, "f=same", ".wh.f");
	LFS_LAYER(&self->s, "f=lower");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("same", lfs_cat(AT("f")));
	EXPECT_STREQ("f", lfs_ls(self->s.mnt));
}

TEST_F(wh, directory_beside_its_own_whiteout_does_not_merge_with_lower)
{
	LFS_LAYER(&self->s, "d/top", ".wh.d");
	LFS_LAYER(&self->s, "d/lower");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("top", lfs_ls(AT("d")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("d/lower")));
}

TEST_F(wh, directory_recreated_above_a_whiteout_does_not_merge_with_below)
{
	LFS_LAYER(&self->s, "d/new");
	LFS_LAYER(&self->s, ".wh.d");
	LFS_LAYER(&self->s, "d/old");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("new", lfs_ls(AT("d")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("d/old")));
}

TEST_F(wh, oci_whiteout_does_not_hide_upper_layers)
{
	LFS_LAYER(&self->s, "f=top");
	LFS_LAYER(&self->s, ".wh.f");
	LFS_LAYER(&self->s, "f=bottom");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("top", lfs_cat(AT("f")));
}

TEST_F(wh, oci_whiteout_works_in_nested_directories)
{
	LFS_LAYER(&self->s, "a/b/c/.wh.x", "a/.wh.y");
	LFS_LAYER(&self->s, "a/b/c/x", "a/b/c/z", "a/y/q", "a/w");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("z", lfs_ls(AT("a/b/c")));
	EXPECT_STREQ("b/ w", lfs_ls(AT("a")));
}

TEST_F(wh, oci_whiteout_of_an_absent_name_is_harmless)
{
	LFS_LAYER(&self->s, ".wh.ghost", "d/.wh.ghost");
	LFS_LAYER(&self->s, "d/f");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("d/", lfs_ls(self->s.mnt));
	EXPECT_STREQ("f", lfs_ls(AT("d")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("ghost")));
}

TEST_F(wh, oci_whiteout_hides_a_symlink_not_its_target)
{
	LFS_LAYER(&self->s, ".wh.link");
	LFS_LAYER(&self->s, "link->target", "target=t");
	LFS_MOUNT(&self->s);

	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("link")));
	EXPECT_STREQ("t", lfs_cat(AT("target")));
}

TEST_F(wh, whiteout_names_are_never_visible)
{
	LFS_LAYER(&self->s, ".wh.f", ".wh.ghost", "d/.wh.x", "d/.wh..wh..opq",
		  ".wh..wh.plnk", "d/.wh..wh.other", "d/kept");
	LFS_LAYER(&self->s, "f", "d/x", "d/y");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("d/", lfs_ls(self->s.mnt));
	EXPECT_STREQ("kept", lfs_ls(AT("d")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT(".wh.f")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT(".wh.ghost")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT(".wh..wh.plnk")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("d/.wh.x")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("d/.wh..wh..opq")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("d/.wh..wh.other")));
}

TEST_F(wh, names_starting_with_wh_are_hidden_even_if_not_whiteout_files)
{
	LFS_LAYER(&self->s, ".wh.dir/inside", ".wh.link->x", "plain");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("plain", lfs_ls(self->s.mnt));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT(".wh.dir")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT(".wh.dir/inside")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT(".wh.link")));
}

TEST_F(wh, other_meta_whiteouts_have_no_effect)
{
	LFS_LAYER(&self->s, ".wh..wh.f", "d/.wh..wh.x", "d/.wh..wh..opqx");
	LFS_LAYER(&self->s, "f=lower", "d/x", "d/y");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("lower", lfs_cat(AT("f")));
	EXPECT_STREQ("x y", lfs_ls(AT("d")));
}

TEST_F(wh, names_that_merely_contain_wh_are_ordinary)
{
	LFS_LAYER(&self->s, "a.wh.b", "wh.f", "_.wh.x", ".whf");
	LFS_LAYER(&self->s, "b", "f", "x");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ(".whf _.wh.x a.wh.b b f wh.f x", lfs_ls(self->s.mnt));
}

/* ------------------------------------------------------------------ */
/* OCI opaque directories                                              */

TEST_F(wh, opaque_marker_hides_lower_entries_of_its_directory)
{
	LFS_LAYER(&self->s, "d/.wh..wh..opq");
	LFS_LAYER(&self->s, "d/a", "d/sub/b", "other");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("", lfs_ls(AT("d")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("d/a")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("d/sub/b")));
	EXPECT_STREQ("d/ other", lfs_ls(self->s.mnt));
}

TEST_F(wh, opaque_marker_keeps_entries_of_its_own_layer)
{
	LFS_LAYER(&self->s, "d/.wh..wh..opq", "d/mine=top", "d/sub/x");
	LFS_LAYER(&self->s, "d/mine=lower", "d/theirs", "d/sub/y");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("mine sub/", lfs_ls(AT("d")));
	EXPECT_STREQ("top", lfs_cat(AT("d/mine")));
	EXPECT_STREQ("x", lfs_ls(AT("d/sub")));
}

TEST_F(wh, opaque_marker_hides_every_lower_layer)
{
	LFS_LAYER(&self->s, "d/.wh..wh..opq", "d/a");
	LFS_LAYER(&self->s, "d/b");
	LFS_LAYER(&self->s, "d/c");
	LFS_LAYER(&self->s, "d/d");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("a", lfs_ls(AT("d")));
}

TEST_F(wh, opaque_marker_does_not_hide_upper_layers)
{
	LFS_LAYER(&self->s, "d/top");
	LFS_LAYER(&self->s, "d/.wh..wh..opq", "d/middle");
	LFS_LAYER(&self->s, "d/bottom");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("middle top", lfs_ls(AT("d")));
}

TEST_F(wh, opaque_marker_at_the_layer_root_hides_lower_layers)
{
	LFS_LAYER(&self->s, "top");
	LFS_LAYER(&self->s, ".wh..wh..opq", "middle");
	LFS_LAYER(&self->s, "bottom", "d/x");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("middle top", lfs_ls(self->s.mnt));
}

TEST_F(wh, opaque_directory_over_a_lower_file)
{
	LFS_LAYER(&self->s, "d/.wh..wh..opq", "d/a");
	LFS_LAYER(&self->s, "d=file");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("a", lfs_ls(AT("d")));
}

TEST_F(wh, whiteout_and_opaque_marker_in_the_same_directory)
{
	LFS_LAYER(&self->s, "d/.wh..wh..opq", "d/.wh.a", "d/a=same", "d/b");
	LFS_LAYER(&self->s, "d/a=lower", "d/c");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("a b", lfs_ls(AT("d")));
	EXPECT_STREQ("same", lfs_cat(AT("d/a")));
}

/* ------------------------------------------------------------------ */
/* overlayfs-style markers                                             */

TEST_F(wh, overlay_whiteout_hides_lower_entry)
{
	LFS_LAYER(&self->s, "f@0:0", "d@0:0", "keep");
	LFS_LAYER(&self->s, "f=lower", "d/x");
	LFS_MOUNT(&self->s);

	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("f")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("d")));
	EXPECT_STREQ("keep", lfs_ls(self->s.mnt));
}

TEST_F(wh, overlay_whiteout_without_lower_entry_is_invisible)
{
	LFS_LAYER(&self->s, "ghost@0:0", "d/ghost@0:0");
	LFS_LAYER(&self->s, "d/x");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("d/", lfs_ls(self->s.mnt));
	EXPECT_STREQ("x", lfs_ls(AT("d")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(AT("ghost")));
}

TEST_F(wh, character_device_other_than_0_0_is_not_a_whiteout)
{
	struct stat st;

	LFS_LAYER(&self->s, "null@1:3", "zero@0:1");
	LFS_LAYER(&self->s, "null=lower", "zero=lower");
	LFS_MOUNT(&self->s);

	ASSERT_EQ(0, lstat(AT("null"), &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(makedev(1, 3), st.st_rdev);
	ASSERT_EQ(0, lstat(AT("zero"), &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(makedev(0, 1), st.st_rdev);
}

TEST_F(wh, overlay_opaque_xattr_hides_lower_entries)
{
	LFS_LAYER(&self->s, "d/ opaque", "d/mine");
	LFS_LAYER(&self->s, "d/theirs", "d/mine=lower");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("mine", lfs_ls(AT("d")));
}

TEST_F(wh, overlay_and_oci_markers_mix_across_layers)
{
	LFS_LAYER(&self->s, "a/.wh.x", "b@0:0");
	LFS_LAYER(&self->s, "a/y@0:0", "c/.wh..wh..opq");
	LFS_LAYER(&self->s, "a/x", "a/y", "a/z", "b/", "c/old", "d");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("a/ c/ d", lfs_ls(self->s.mnt));
	EXPECT_STREQ("z", lfs_ls(AT("a")));
	EXPECT_STREQ("", lfs_ls(AT("c")));
}

/* ------------------------------------------------------------------ */
/* Whiteouts and the model agree on a mixed stack                      */

TEST_F(wh, mixed_stack_matches_oci_extraction)
{
	char expect[PATH_MAX], why[512];
	struct lfs_oci *o;

	LFS_LAYER(&self->s, "etc/.wh.old.conf", "etc/new.conf=n",
		  "usr/lib/.wh..wh..opq", "usr/lib/libc.so=2",
		  "var/.wh.cache", "var/cache=nowfile", "bin/ opaque",
		  "bin/sh->busybox", "bin/busybox=bb");
	LFS_LAYER(&self->s, "etc/old.conf=o", "etc/passwd=p", "usr/lib/libc.so=1",
		  "usr/lib/libm.so=m", "var/cache/apt/pkg", "bin/ls=ls",
		  "tmp/", ".wh.home");
	LFS_LAYER(&self->s, "home/user/.profile", "etc/hosts=h", "bin/cat=cat",
		  "tmp/junk");
	LFS_MOUNT(&self->s);

	snprintf(expect, sizeof(expect), "%s/expect", self->s.dir);
	ASSERT_EQ(0, mkdir(expect, 0755));
	o = lfs_oci_new(expect);
	ASSERT_NE(NULL, o);
	for (int i = self->s.nlayers - 1; i >= 0; i--)
		ASSERT_EQ(0, lfs_oci_apply(o, self->s.layer[i]));
	ASSERT_EQ(0, lfs_oci_finish(o));

	EXPECT_EQ(0, lfs_tree_compare(expect, self->s.mnt,
				      LFS_CMP_MTIME | LFS_CMP_DINO,
				      why, sizeof(why))) {
		TH_LOG("%s", why);
	}
}

TEST_HARNESS_MAIN
