// SPDX-License-Identifier: GPL-2.0
/*
 * Attributes of the merged view: st_dev is the mount's for every file;
 * st_ino is unique within the mount and stable across remounts; metadata
 * comes from the topmost real file; directory link counts are sane;
 * statfs, readlink and xattrs pass through, with layerfs-private and
 * overlayfs xattrs hidden; permissions are checked as overlayfs does: the
 * caller against the merged inode, the real files with the mounter's
 * credentials.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "libharness.h"
#include "uapi/linux/layerfs.h"

FIXTURE(attr) {
	struct lfs_stack s;
};

FIXTURE_SETUP(attr)
{
	LFS_REQUIRE_ENV();
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_stack_init(&self->s, "attr"));
}

FIXTURE_TEARDOWN_PARENT(attr)
{
	lfs_stack_remove(&self->s);
}

#define AT(rel) lfs_at(&self->s, rel)
#define IN(i, rel) lfs_in_layer(&self->s, i, rel)

/* A typical stack with a bit of everything, used by several tests. */
static const char *top_layer[] = {
	"etc/passwd=root", "etc/hosts->/etc/hosts.real", "usr/bin/sh=#!",
	"usr/lib/", "dev/null@1:3", "run/fifo|", ".wh.gone", NULL
};
static const char *bottom_layer[] = {
	"etc/passwd=old", "etc/group=g", "usr/lib/libc.so=c",
	"usr/share/doc/README=r", "gone/x", "var/log/", NULL
};

struct seen {
	size_t n, cap;
	struct { char rel[PATH_MAX]; dev_t dev; ino_t ino; } *v;
};

static int collect(const char *path, const char *rel, const struct stat *st,
		   void *arg)
{
	struct seen *s = arg;

	(void)path;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		void *bigger = realloc(s->v, cap * sizeof(*s->v));

		if (!bigger)
			return -ENOMEM;
		s->v = bigger;
		s->cap = cap;
	}
	snprintf(s->v[s->n].rel, sizeof(s->v[s->n].rel), "%s", rel);
	s->v[s->n].dev = st->st_dev;
	s->v[s->n].ino = st->st_ino;
	s->n++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* st_dev, st_ino                                                      */

TEST_F(attr, every_file_has_the_mount_st_dev)
{
	struct seen seen = { 0 };
	struct stat lower;
	dev_t dev;
	uint64_t ino;

	ASSERT_NE(NULL, lfs_stack_add(&self->s, top_layer));
	ASSERT_NE(NULL, lfs_stack_add(&self->s, bottom_layer));
	LFS_MOUNT(&self->s);

	ASSERT_EQ(0, lfs_statx_dev_ino(self->s.mnt, &dev, &ino));
	ASSERT_EQ(0, lfs_walk(self->s.mnt, collect, &seen));
	EXPECT_LT(10u, seen.n);
	for (size_t i = 0; i < seen.n; i++) {
		EXPECT_EQ(dev, seen.v[i].dev) {
			TH_LOG("/%s has another st_dev", seen.v[i].rel);
		}
	}
	ASSERT_EQ(0, lstat(self->s.layer[0], &lower));
	EXPECT_NE(lower.st_dev, dev);
}

TEST_F(attr, st_ino_is_unique_within_the_mount)
{
	struct seen seen = { 0 };

	ASSERT_NE(NULL, lfs_stack_add(&self->s, top_layer));
	ASSERT_NE(NULL, lfs_stack_add(&self->s, bottom_layer));
	LFS_MOUNT(&self->s);

	ASSERT_EQ(0, lfs_walk(self->s.mnt, collect, &seen));
	for (size_t i = 0; i < seen.n; i++) {
		for (size_t j = i + 1; j < seen.n; j++) {
			EXPECT_NE(seen.v[i].ino, seen.v[j].ino) {
				TH_LOG("/%s and /%s share st_ino %llu",
				       seen.v[i].rel, seen.v[j].rel,
				       (unsigned long long)seen.v[i].ino);
			}
		}
	}
}

/*
 * Two fresh tmpfs instances number their inodes alike, so their layers
 * hold files with equal real inode numbers: the merged view must still
 * tell them apart, with one st_dev.
 */
TEST_F(attr, st_ino_is_unique_across_layers_on_different_filesystems)
{
	char *mp[2], *layers[3], name[32];
	struct seen seen = { 0 }, real = { 0 };
	int collisions = 0;

	for (int i = 0; i < 2; i++) {
		ASSERT_LE(0, asprintf(&mp[i], "%s/tmpfs%d", self->s.dir, i));
		ASSERT_EQ(0, mkdir(mp[i], 0755));
		ASSERT_EQ(0, mount("tmpfs", mp[i], "tmpfs", 0, "size=4m"));
		ASSERT_LE(0, asprintf(&layers[i], "%s/layer", mp[i]));
		ASSERT_EQ(0, mkdir(layers[i], 0755));
		for (int j = 0; j < 20; j++) {
			snprintf(name, sizeof(name), "%c%d", 'x' + i, j);
			ASSERT_EQ(0, lfs_build(layers[i], LFS_ENTRIES(name)));
		}
	}
	ASSERT_NE(NULL, lfs_stack_add(&self->s, LFS_ENTRIES("z0", "z1")));
	layers[2] = self->s.layer[0];
	ASSERT_EQ(0, lfs_mount_layers(self->s.mnt, 3, layers,
				      LFS_VIA_FSCONFIG_PLUS, self->s.log,
				      sizeof(self->s.log))) {
		TH_LOG("%s", self->s.log);
	}

	ASSERT_EQ(0, lfs_walk(layers[0], collect, &real));
	ASSERT_EQ(0, lfs_walk(layers[1], collect, &real));
	for (size_t i = 0; i < real.n; i++)
		for (size_t j = i + 1; j < real.n; j++)
			collisions += real.v[i].ino == real.v[j].ino;
	TH_LOG("%d real inode numbers collide across the layers", collisions);

	ASSERT_EQ(0, lfs_walk(self->s.mnt, collect, &seen));
	EXPECT_EQ(43u, seen.n);
	for (size_t i = 0; i < seen.n; i++) {
		EXPECT_EQ(seen.v[0].dev, seen.v[i].dev);
		for (size_t j = i + 1; j < seen.n; j++) {
			EXPECT_NE(seen.v[i].ino, seen.v[j].ino) {
				TH_LOG("/%s and /%s share st_ino %llu",
				       seen.v[i].rel, seen.v[j].rel,
				       (unsigned long long)seen.v[i].ino);
			}
		}
	}
}

TEST_F(attr, st_ino_is_stable_across_remount)
{
	struct seen before = { 0 }, after = { 0 };

	ASSERT_NE(NULL, lfs_stack_add(&self->s, top_layer));
	ASSERT_NE(NULL, lfs_stack_add(&self->s, bottom_layer));
	LFS_MOUNT(&self->s);
	ASSERT_EQ(0, lfs_walk(self->s.mnt, collect, &before));
	ASSERT_EQ(0, lfs_stack_umount(&self->s));
	ASSERT_EQ(0, lfs_drop_caches());
	ASSERT_EQ(0, lfs_stack_mount(&self->s, LFS_VIA_MOUNT2));
	ASSERT_EQ(0, lfs_walk(self->s.mnt, collect, &after));

	ASSERT_EQ(before.n, after.n);
	for (size_t i = 0; i < before.n; i++) {
		EXPECT_STREQ(before.v[i].rel, after.v[i].rel);
		EXPECT_EQ(before.v[i].ino, after.v[i].ino) {
			TH_LOG("/%s: st_ino %llu, then %llu", before.v[i].rel,
			       (unsigned long long)before.v[i].ino,
			       (unsigned long long)after.v[i].ino);
		}
	}
}

TEST_F(attr, hard_links_in_one_layer_share_st_ino)
{
	struct stat a, b, c, d;

	LFS_LAYER(&self->s, "d/other");
	LFS_LAYER(&self->s, "a=x", "b=>a", "d/c=>a", "e=x");
	LFS_MOUNT(&self->s);

	ASSERT_EQ(0, lstat(AT("a"), &a));
	ASSERT_EQ(0, lstat(AT("b"), &b));
	ASSERT_EQ(0, lstat(AT("d/c"), &c));
	ASSERT_EQ(0, lstat(AT("e"), &d));
	EXPECT_EQ(a.st_ino, b.st_ino);
	EXPECT_EQ(a.st_ino, c.st_ino);
	EXPECT_NE(a.st_ino, d.st_ino);
}

TEST_F(attr, hard_link_replaced_above_gets_its_own_st_ino)
{
	struct stat a, b;

	LFS_LAYER(&self->s, "b=upper");
	LFS_LAYER(&self->s, "a=x", "b=>a");
	LFS_MOUNT(&self->s);

	ASSERT_EQ(0, lstat(AT("a"), &a));
	ASSERT_EQ(0, lstat(AT("b"), &b));
	EXPECT_NE(a.st_ino, b.st_ino);
	EXPECT_STREQ("upper", lfs_cat(AT("b")));
}

/* ------------------------------------------------------------------ */
/* Metadata from the topmost real file                                 */

static void expect_same_meta(struct __test_metadata *_metadata,
			     const char *merged, const char *real)
{
	struct stat m, r;

	ASSERT_EQ(0, lstat(merged, &m));
	ASSERT_EQ(0, lstat(real, &r));
	EXPECT_EQ(r.st_mode, m.st_mode);
	EXPECT_EQ(r.st_uid, m.st_uid);
	EXPECT_EQ(r.st_gid, m.st_gid);
	if (!S_ISDIR(r.st_mode))
		EXPECT_EQ(r.st_size, m.st_size);
	EXPECT_EQ(r.st_mtim.tv_sec, m.st_mtim.tv_sec);
	EXPECT_EQ(r.st_mtim.tv_nsec, m.st_mtim.tv_nsec);
}

TEST_F(attr, file_metadata_comes_from_the_topmost_file)
{
	LFS_LAYER(&self->s, "f=abc mode=0640 uid=1000 gid=1001 mtime=1000000");
	LFS_LAYER(&self->s, "f=longer mode=04755 uid=0 gid=0 mtime=2000000");
	LFS_MOUNT(&self->s);

	expect_same_meta(_metadata, AT("f"), IN(0, "f"));
}

TEST_F(attr, special_bits_pass_through)
{
	LFS_LAYER(&self->s, "suid=x mode=04755", "sgid=x mode=02711",
		  "sticky/ mode=01777", "none=x mode=0000");
	LFS_MOUNT(&self->s);

	expect_same_meta(_metadata, AT("suid"), IN(0, "suid"));
	expect_same_meta(_metadata, AT("sgid"), IN(0, "sgid"));
	expect_same_meta(_metadata, AT("sticky"), IN(0, "sticky"));
	expect_same_meta(_metadata, AT("none"), IN(0, "none"));
}

TEST_F(attr, merged_directory_metadata_comes_from_the_topmost_directory)
{
	LFS_LAYER(&self->s, "d/ mode=0750 uid=1000 gid=1001 mtime=1000000");
	LFS_LAYER(&self->s, "d/x", "d/ mode=0755 uid=0 gid=0 mtime=2000000");
	LFS_MOUNT(&self->s);

	expect_same_meta(_metadata, AT("d"), IN(0, "d"));
}

TEST_F(attr, root_metadata_comes_from_the_top_layer_root)
{
	LFS_LAYER(&self->s, " mode=0750 uid=1000 gid=1001 mtime=1000000");
	LFS_LAYER(&self->s, "x");
	LFS_MOUNT(&self->s);

	expect_same_meta(_metadata, self->s.mnt, self->s.layer[0]);
}

TEST_F(attr, symlink_metadata_and_target_pass_through)
{
	char target[1001], buf[1100];
	char entry[1100];
	ssize_t n;
	struct stat st;

	memset(target, 't', 1000);
	target[1000] = '\0';
	snprintf(entry, sizeof(entry), "long->%s", target);
	LFS_LAYER(&self->s, "l->../some/where uid=1000 gid=1001");
	ASSERT_NE(NULL, lfs_stack_add(&self->s, LFS_ENTRIES(entry)));
	LFS_MOUNT(&self->s);

	n = readlink(AT("l"), buf, sizeof(buf));
	ASSERT_EQ(13, n);
	buf[n] = '\0';
	EXPECT_STREQ("../some/where", buf);
	expect_same_meta(_metadata, AT("l"), IN(0, "l"));

	n = readlink(AT("long"), buf, sizeof(buf));
	ASSERT_EQ(1000, n);
	ASSERT_EQ(0, lstat(AT("long"), &st));
	EXPECT_EQ(1000, st.st_size);
}

/* ------------------------------------------------------------------ */
/* Directory link counts                                               */

TEST_F(attr, merged_directory_nlink_never_undercounts_subdirectories)
{
	struct stat st;

	LFS_LAYER(&self->s, "d/a/", "d/b/", "d/f");
	LFS_LAYER(&self->s, "d/a/", "d/c/", "d/g");
	LFS_MOUNT(&self->s);

	/* find(1) trusts nlink - 2 as the subdirectory count when nlink > 1 */
	ASSERT_EQ(0, lstat(AT("d"), &st));
	EXPECT_LE(1u, st.st_nlink);
	if (st.st_nlink != 1)
		EXPECT_LE(2u + 3, st.st_nlink);
	ASSERT_EQ(0, lstat(self->s.mnt, &st));
	EXPECT_LE(1u, st.st_nlink);
	if (st.st_nlink != 1)
		EXPECT_LE(2u + 1, st.st_nlink);
}

TEST_F(attr, single_layer_directory_nlink_is_the_real_count)
{
	struct stat m, r;

	LFS_LAYER(&self->s, "other");
	LFS_LAYER(&self->s, "d/a/", "d/b/", "d/c/", "d/f");
	LFS_MOUNT(&self->s);

	ASSERT_EQ(0, lstat(AT("d"), &m));
	ASSERT_EQ(0, lstat(IN(1, "d"), &r));
	EXPECT_EQ(r.st_nlink, m.st_nlink);
}

/* ------------------------------------------------------------------ */
/* statfs                                                              */

TEST_F(attr, statfs_reports_the_layerfs_magic)
{
	struct statfs sf;

	LFS_LAYER(&self->s, "d/f");
	LFS_MOUNT(&self->s);

	ASSERT_EQ(0, statfs(self->s.mnt, &sf));
	EXPECT_EQ(LAYERFS_SUPER_MAGIC, sf.f_type);
	ASSERT_EQ(0, statfs(AT("d/f"), &sf));
	EXPECT_EQ(LAYERFS_SUPER_MAGIC, sf.f_type);
}

TEST_F(attr, statfs_sizes_come_from_the_layers)
{
	struct statfs m, r;

	LFS_LAYER(&self->s, "f");
	LFS_LAYER(&self->s, "g");
	LFS_MOUNT(&self->s);

	ASSERT_EQ(0, statfs(self->s.mnt, &m));
	ASSERT_EQ(0, statfs(self->s.layer[0], &r));
	EXPECT_EQ(r.f_bsize, m.f_bsize);
	EXPECT_EQ(r.f_blocks, m.f_blocks);
	EXPECT_EQ(r.f_files, m.f_files);
}

/* ------------------------------------------------------------------ */
/* Extended attributes                                                 */

static int get_str(const char *path, const char *name, char *buf, size_t len)
{
	ssize_t n = lgetxattr(path, name, buf, len - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* Is @name in llistxattr(@path)? */
static bool listed(const char *path, const char *name)
{
	char list[4096];
	ssize_t n = llistxattr(path, list, sizeof(list));

	for (ssize_t i = 0; i < n; i += strlen(list + i) + 1)
		if (!strcmp(list + i, name))
			return true;
	return false;
}

TEST_F(attr, user_xattrs_pass_through)
{
	char val[64];

	LFS_LAYER(&self->s, "f=x xattr=user.color=blue", "d/ xattr=user.k=v");
	LFS_LAYER(&self->s, "d/x");
	LFS_MOUNT(&self->s);

	ASSERT_EQ(0, get_str(AT("f"), "user.color", val, sizeof(val)));
	EXPECT_STREQ("blue", val);
	EXPECT_TRUE(listed(AT("f"), "user.color"));
	ASSERT_EQ(0, get_str(AT("d"), "user.k", val, sizeof(val)));
	EXPECT_STREQ("v", val);
	EXPECT_TRUE(listed(AT("d"), "user.k"));
	EXPECT_EQ(-ENODATA, get_str(AT("f"), "user.absent", val, sizeof(val)));
}

TEST_F(attr, security_xattrs_pass_through)
{
	char val[64];

	LFS_LAYER(&self->s, "f=x xattr=security.lfstest=label");
	LFS_MOUNT(&self->s);

	ASSERT_EQ(0, get_str(AT("f"), "security.lfstest", val, sizeof(val)));
	EXPECT_STREQ("label", val);
	EXPECT_TRUE(listed(AT("f"), "security.lfstest"));
}

TEST_F(attr, xattrs_come_from_the_topmost_file)
{
	char val[64];

	LFS_LAYER(&self->s, "f=x xattr=user.a=top");
	LFS_LAYER(&self->s, "f=y xattr=user.a=bottom xattr=user.b=bottom");
	LFS_MOUNT(&self->s);

	ASSERT_EQ(0, get_str(AT("f"), "user.a", val, sizeof(val)));
	EXPECT_STREQ("top", val);
	EXPECT_EQ(-ENODATA, get_str(AT("f"), "user.b", val, sizeof(val)));
	EXPECT_FALSE(listed(AT("f"), "user.b"));
}

TEST_F(attr, overlay_and_layerfs_private_xattrs_are_hidden)
{
	char val[64];

	LFS_LAYER(&self->s, "f=x xattr=trusted.overlay.origin=o "
		  "xattr=trusted.layerfs.map=m xattr=user.ok=1",
		  "d/ opaque xattr=trusted.overlay.redirect=r");
	LFS_LAYER(&self->s, "d/x");
	LFS_MOUNT(&self->s);

	EXPECT_EQ(-ENODATA, get_str(AT("f"), "trusted.overlay.origin", val,
				    sizeof(val)));
	EXPECT_EQ(-ENODATA, get_str(AT("f"), "trusted.layerfs.map", val,
				    sizeof(val)));
	EXPECT_FALSE(listed(AT("f"), "trusted.overlay.origin"));
	EXPECT_FALSE(listed(AT("f"), "trusted.layerfs.map"));
	EXPECT_TRUE(listed(AT("f"), "user.ok"));
	EXPECT_EQ(-ENODATA, get_str(AT("d"), "trusted.overlay.opaque", val,
				    sizeof(val)));
	EXPECT_EQ(-ENODATA, get_str(AT("d"), "trusted.overlay.redirect", val,
				    sizeof(val)));
	EXPECT_FALSE(listed(AT("d"), "trusted.overlay.opaque"));
}

TEST_F(attr, listxattr_size_query_is_large_enough)
{
	ssize_t need, got;
	char *list;

	LFS_LAYER(&self->s, "f=x xattr=user.one=1 xattr=user.two=2 "
		  "xattr=trusted.overlay.x=y xattr=trusted.layerfs.z=w");
	LFS_MOUNT(&self->s);

	need = llistxattr(AT("f"), NULL, 0);
	ASSERT_LE(0, need);
	list = malloc(need + 1);
	ASSERT_NE(NULL, list);
	got = llistxattr(AT("f"), list, need);
	ASSERT_LE(0, got);
	EXPECT_LE(got, need);
	EXPECT_LE((ssize_t)(sizeof("user.one") + sizeof("user.two")), got);
}

/* A POSIX ACL in the xattr format: owner rw, user 1000 r, mask r. */
static const struct {
	uint32_t version;
	struct { uint16_t tag, perm; uint32_t id; } __attribute__((packed)) e[5];
} __attribute__((packed)) acl_user1000 = {
	.version = 2,
	.e = {
		{ 0x01, 6, 0xffffffff },	/* ACL_USER_OBJ */
		{ 0x02, 4, 1000 },		/* ACL_USER 1000 */
		{ 0x04, 0, 0xffffffff },	/* ACL_GROUP_OBJ */
		{ 0x10, 4, 0xffffffff },	/* ACL_MASK */
		{ 0x20, 0, 0xffffffff },	/* ACL_OTHER */
	},
};

TEST_F(attr, posix_acls_pass_through_and_grant_access)
{
	char buf[256];
	ssize_t n;

	LFS_LAYER(&self->s, "f=secret mode=0600");
	ASSERT_EQ(0, lsetxattr(IN(0, "f"), "system.posix_acl_access",
			       &acl_user1000, sizeof(acl_user1000), 0));
	LFS_MOUNT(&self->s);

	n = lgetxattr(AT("f"), "system.posix_acl_access", buf, sizeof(buf));
	ASSERT_EQ((ssize_t)sizeof(acl_user1000), n);
	EXPECT_EQ(0, memcmp(buf, &acl_user1000, n));
	EXPECT_EQ(0, lfs_open_as(1000, 1000, self->s.mnt, "f", O_RDONLY));
	EXPECT_EQ(EACCES, lfs_open_as(1001, 1001, self->s.mnt, "f", O_RDONLY));
}

/* ------------------------------------------------------------------ */
/* Permissions                                                         */

TEST_F(attr, private_root_file_is_unreadable_for_others)
{
	LFS_LAYER(&self->s, "secret=s mode=0600", "public=p mode=0644");
	LFS_MOUNT(&self->s);

	EXPECT_EQ(EACCES, lfs_open_as(1000, 1000, self->s.mnt,
				      "secret", O_RDONLY));
	EXPECT_EQ(0, lfs_open_as(1000, 1000, self->s.mnt, "public", O_RDONLY));
	EXPECT_EQ(0, lfs_open_as(0, 0, self->s.mnt, "secret", O_RDONLY));
}

TEST_F(attr, owner_reads_own_private_file)
{
	LFS_LAYER(&self->s, "mine=m mode=0600 uid=1000 gid=1000");
	LFS_MOUNT(&self->s);

	EXPECT_EQ(0, lfs_open_as(1000, 1000, self->s.mnt, "mine", O_RDONLY));
	EXPECT_EQ(EACCES, lfs_open_as(1001, 1001, self->s.mnt,
				      "mine", O_RDONLY));
}

TEST_F(attr, private_directory_cannot_be_listed_or_searched_by_others)
{
	LFS_LAYER(&self->s, "d/ mode=0700", "d/f=x mode=0644");
	LFS_MOUNT(&self->s);

	EXPECT_EQ(EACCES, lfs_open_as(1000, 1000, self->s.mnt, "d",
				      O_RDONLY | O_DIRECTORY));
	EXPECT_EQ(EACCES, lfs_open_as(1000, 1000, self->s.mnt,
				      "d/f", O_RDONLY));
}

TEST_F(attr, directory_permission_comes_from_the_topmost_directory)
{
	LFS_LAYER(&self->s, "d/ mode=0700");
	LFS_LAYER(&self->s, "d/ mode=0755", "d/f=x mode=0644");
	LFS_MOUNT(&self->s);

	EXPECT_EQ(EACCES, lfs_open_as(1000, 1000, self->s.mnt,
				      "d/f", O_RDONLY));
}

TEST_F(attr, real_files_are_reached_with_the_mounters_credentials)
{
	LFS_LAYER(&self->s, "d/ mode=0755");
	LFS_LAYER(&self->s, "d/ mode=0700", "d/f=x mode=0644");
	LFS_MOUNT(&self->s);

	EXPECT_EQ(0, lfs_open_as(1000, 1000, self->s.mnt, "d/f", O_RDONLY));
	EXPECT_EQ(0, lfs_open_as(1000, 1000, self->s.mnt,
				 "d", O_RDONLY | O_DIRECTORY));
}

TEST_HARNESS_MAIN
