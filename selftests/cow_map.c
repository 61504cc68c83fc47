// SPDX-License-Identifier: GPL-2.0
/*
 * The copy-on-write map on disk: what layerfs writes, and what it does
 * with a map it cannot trust.
 *
 * A partial file's map (trusted.layerfs.map on the upper file, struct
 * layerfs_map) is checked when the file is looked up.  Every kind of
 * damage, and an origin that changed under it, must make that one file
 * return EIO on I/O (stat and unlink still work, the kernel logs it), and
 * leave every other file alone.  layerfs only: overlayfs has no such map.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/layerfs.h>
#include "libharness.h"
#include "libupper.h"

#define FILE_SIZE (3 * 1024 * 1024)

static const char *upper_f(struct lfs_upper *u)
{
	static char path[PATH_MAX + 3];

	snprintf(path, sizeof(path), "%.*s/f", PATH_MAX - 1, u->upper);
	return path;
}

/* The kernel's crc32_le(): reflected 0xedb88320, no inversions. */
static uint32_t crc32_le(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320U & -(crc & 1));
	}
	return crc;
}

FIXTURE(map) {
	struct lfs_upper u;
	char map[65536];
	ssize_t len;
};

FIXTURE_SETUP(map)
{
	LFS_REQUIRE_UPPER_ENV();
	if (lfs_is_overlay())
		SKIP(return, "the map is layerfs's");
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_upper_init(&self->u, "cow_map"));
	self->u.cow_block = 4096;
	ASSERT_NE(NULL, lfs_stack_add(&self->u.s, LFS_ENTRIES("f", "g", "dir/h")));
	ASSERT_EQ(0, lfs_write_pattern(lfs_in_layer(&self->u.s, 0, "f"), FILE_SIZE, 1));
	ASSERT_EQ(0, lfs_write_pattern(lfs_in_layer(&self->u.s, 0, "g"), FILE_SIZE, 2));
	ASSERT_EQ(0, lfs_upper_mount(&self->u)) {
		TH_LOG("%s", self->u.s.log);
	}
	/* Two granules of f in the upper file, the rest from the layer. */
	{
		int fd = open(lfs_at(&self->u.s, "f"), O_RDWR);

		ASSERT_LE(0, fd);
		ASSERT_EQ(5, pwrite(fd, "hello", 5, 10));
		ASSERT_EQ(5, pwrite(fd, "world", 5, 2 * 1024 * 1024 + 3));
		ASSERT_EQ(0, fsync(fd));
		close(fd);
	}
	self->len = lgetxattr(upper_f(&self->u), LAYERFS_XATTR_MAP, self->map,
			      sizeof(self->map));
	ASSERT_LT(0, self->len) {
		TH_LOG("no %s on the upper file: %s", LAYERFS_XATTR_MAP, strerror(errno));
	}
	ASSERT_EQ(0, lfs_stack_umount(&self->u.s));
}

FIXTURE_TEARDOWN_PARENT(map)
{
	lfs_stack_remove(&self->u.s);
}

/* Mount again; f must fail with EIO and everything else must work. */
static void expect_eio(struct __test_metadata *_metadata, struct lfs_upper *u)
{
	char buf[16];
	struct stat st;
	int fd;

	ASSERT_EQ(0, lfs_upper_mount(u)) {
		TH_LOG("%s", u->s.log);
	}
	ASSERT_EQ(0, stat(lfs_at(&u->s, "f"), &st));
	fd = open(lfs_at(&u->s, "f"), O_RDONLY);
	if (fd >= 0) {
		EXPECT_EQ(-1, pread(fd, buf, sizeof(buf), 0));
		EXPECT_EQ(EIO, errno);
		close(fd);
	} else {
		EXPECT_EQ(EIO, errno);
	}
	/* The neighbours are untouched. */
	EXPECT_EQ(0, lfs_pread_file(lfs_at(&u->s, "g"), buf, 4, 0) == 4 ? 0 : -1);
	EXPECT_EQ(0, access(lfs_at(&u->s, "dir/h"), F_OK));
	/* And the broken file can still be removed. */
	EXPECT_EQ(0, unlink(lfs_at(&u->s, "f")));
	EXPECT_EQ(-1, access(lfs_at(&u->s, "f"), F_OK));
}

static void set_map(struct __test_metadata *_metadata, struct lfs_upper *u,
		    const void *val, size_t len)
{
	ASSERT_EQ(0, lsetxattr(upper_f(u), LAYERFS_XATTR_MAP, val, len, 0)) {
		TH_LOG("setxattr: %s", strerror(errno));
	}
}

TEST_F(map, an_intact_map_reads_back_after_remount)
{
	char buf[5];

	ASSERT_EQ(0, lfs_upper_mount(&self->u));
	ASSERT_EQ(5, lfs_pread_file(lfs_at(&self->u.s, "f"), buf, 5, 10));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	ASSERT_EQ(5, lfs_pread_file(lfs_at(&self->u.s, "f"), buf, 5,
				    2 * 1024 * 1024 + 3));
	EXPECT_EQ(0, memcmp(buf, "world", 5));
	/* The upper file holds two granules, not the file. */
	{
		struct stat st;

		ASSERT_EQ(0, stat(upper_f(&self->u), &st));
		EXPECT_GE(64 * 1024 / 512, st.st_blocks) {
			TH_LOG("upper file has %lld blocks", (long long)st.st_blocks);
		}
	}
}

TEST_F(map, a_flipped_byte_is_eio)
{
	self->map[self->len - 3] ^= 0x40;
	set_map(_metadata, &self->u, self->map, self->len);
	expect_eio(_metadata, &self->u);
}

TEST_F(map, a_truncated_map_is_eio)
{
	set_map(_metadata, &self->u, self->map, self->len - 8);
	expect_eio(_metadata, &self->u);
}

TEST_F(map, a_map_too_short_for_its_header_is_eio)
{
	set_map(_metadata, &self->u, self->map, 7);
	expect_eio(_metadata, &self->u);
}

TEST_F(map, an_unknown_version_is_eio)
{
	struct layerfs_map *m = (void *)self->map;

	m->version = 99;
	set_map(_metadata, &self->u, self->map, self->len);
	expect_eio(_metadata, &self->u);
}

TEST_F(map, overlapping_runs_with_a_good_checksum_are_eio)
{
	/* Runs are checked even when the checksum matches. */
	struct layerfs_map *m = (void *)self->map;
	struct layerfs_map_run *r;
	size_t pathlen = le16toh(m->path_len);

	ASSERT_LE(2, le32toh(m->nr_runs));
	r = (void *)(self->map + sizeof(*m) + pathlen);
	r[1].start = r[0].start;
	m->crc = 0;
	m->crc = htole32(crc32_le(~0U, self->map, self->len));
	set_map(_metadata, &self->u, self->map, self->len);
	expect_eio(_metadata, &self->u);
}

TEST_F(map, a_changed_origin_is_eio)
{
	/* Lower layers must not change; if one did, the map says so. */
	ASSERT_EQ(0, truncate(lfs_in_layer(&self->u.s, 0, "f"), FILE_SIZE - 1));
	expect_eio(_metadata, &self->u);
}

TEST_F(map, a_vanished_origin_is_eio)
{
	ASSERT_EQ(0, unlink(lfs_in_layer(&self->u.s, 0, "f")));
	expect_eio(_metadata, &self->u);
}

TEST_HARNESS_MAIN
