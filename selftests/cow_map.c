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
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/layerfs.h>
#include "libharness.h"
#include "libupper.h"

#define FILE_SIZE (3 * 1024 * 1024)
/* Appended to a file after it became whole: a granule and a part. */
#define TAIL_SIZE (64 * 1024 + 1000)

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

/* Mount again: the fixture's two writes read back. */
static void expect_fixture_data(struct __test_metadata *_metadata,
				struct lfs_upper *u)
{
	char buf[5];

	ASSERT_EQ(0, lfs_upper_mount(u));
	ASSERT_EQ(5, lfs_pread_file(lfs_at(&u->s, "f"), buf, 5, 10));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	ASSERT_EQ(5, lfs_pread_file(lfs_at(&u->s, "f"), buf, 5,
				    2 * 1024 * 1024 + 3));
	EXPECT_EQ(0, memcmp(buf, "world", 5));
}

TEST_F(map, an_intact_map_reads_back_after_remount)
{
	expect_fixture_data(_metadata, &self->u);
	/* The upper file holds two granules, not the file. */
	{
		struct stat st;

		ASSERT_EQ(0, stat(upper_f(&self->u), &st));
		EXPECT_GE(64 * 1024 / 512, st.st_blocks) {
			TH_LOG("upper file has %lld blocks", (long long)st.st_blocks);
		}
	}
}

/*
 * A partial file whose every granule is in the upper file needs neither
 * its origin nor its map: fsync drops the map, and after a remount the
 * file is an upper file, mapped from the upper file's own page cache.
 * Mapped pages survive POSIX_FADV_DONTNEED on the upper file only if the
 * mapping is of those very pages; a partial file's are layerfs's own.
 */
TEST_F(map, a_file_written_whole_drops_its_map_and_becomes_upper)
{
	const char *f = lfs_at(&self->u.s, "f");
	const size_t size = FILE_SIZE + TAIL_SIZE;
	char *want = malloc(size), *got = malloc(size);
	unsigned char *map;
	long total = 0;
	uint64_t ino;
	int fd;

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	lfs_pattern(want, 0, FILE_SIZE, 1);
	memcpy(want + 10, "hello", 5);
	lfs_pattern(want + 5000, 5000, FILE_SIZE - 5000, 3);
	lfs_pattern(want + FILE_SIZE, FILE_SIZE, TAIL_SIZE, 4);
	ASSERT_EQ(0, lfs_upper_mount(&self->u));
	ino = lfs_ino(f);
	fd = open(f, O_RDWR);
	ASSERT_LE(0, fd);
	/* Granule 1 in part (through the page cache), then the rest whole. */
	ASSERT_EQ(3192, pwrite(fd, want + 5000, 3192, 5000));
	ASSERT_EQ(FILE_SIZE - 8192,
		  pwrite(fd, want + 8192, FILE_SIZE - 8192, 8192));
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(-1, lgetxattr(upper_f(&self->u), LAYERFS_XATTR_MAP, NULL, 0));
	EXPECT_EQ(ENODATA, errno);

	/*
	 * The inode stays partial until evicted: what it is written next
	 * (new granules, so its map is dirty again) is made durable with
	 * no map coming back.
	 */
	fd = open(f, O_WRONLY | O_APPEND);
	ASSERT_LE(0, fd);
	ASSERT_EQ(TAIL_SIZE, write(fd, want + FILE_SIZE, TAIL_SIZE));
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(-1, lgetxattr(upper_f(&self->u), LAYERFS_XATTR_MAP, NULL, 0));
	EXPECT_EQ(ENODATA, errno);

	ASSERT_EQ(0, lfs_upper_cycle(&self->u));
	EXPECT_EQ(ino, lfs_ino(f));
	ASSERT_EQ(size, lfs_pread_file(f, got, size, 0));
	EXPECT_EQ(0, memcmp(got, want, size));
	if (lfs_drop_caches() || lfs_resident_pages(upper_f(&self->u), NULL)) {
		TH_LOG("%s keeps its pages: which are mapped cannot be seen",
		       lfs_fs());
		goto out;
	}
	fd = open(f, O_RDONLY);
	ASSERT_LE(0, fd);
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, memcmp(map, want, size));
	{
		int up = open(upper_f(&self->u), O_RDONLY);

		ASSERT_LE(0, up);
		ASSERT_EQ(0, posix_fadvise(up, 0, 0, POSIX_FADV_DONTNEED));
		close(up);
	}
	EXPECT_EQ(lfs_resident_pages(upper_f(&self->u), &total), total) {
		TH_LOG("the mapping does not hold the upper file's pages");
	}
	munmap(map, size);
	close(fd);
out:
	free(want);
	free(got);
}

/* The control: one granule still in the layer, and the map stays. */
TEST_F(map, a_file_written_all_but_one_granule_keeps_its_map)
{
	const char *f = lfs_at(&self->u.s, "f");
	char *buf = malloc(FILE_SIZE);
	int fd;

	ASSERT_NE(NULL, buf);
	lfs_pattern(buf, 0, FILE_SIZE, 3);
	ASSERT_EQ(0, lfs_upper_mount(&self->u));
	fd = open(f, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(FILE_SIZE - 8192, pwrite(fd, buf, FILE_SIZE - 8192, 8192));
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, close(fd));
	EXPECT_LT(0, lgetxattr(upper_f(&self->u), LAYERFS_XATTR_MAP, NULL, 0));
	ASSERT_EQ(0, lfs_upper_cycle(&self->u));
	ASSERT_EQ(8192, lfs_pread_file(f, buf, 8192, 0));
	EXPECT_EQ(0, memcmp(buf + 10, "hello", 5));
	free(buf);
}

/* Mount again: f reads @want, FILE_SIZE bytes (read into @got). */
static void expect_after_remount(struct __test_metadata *_metadata,
				 struct lfs_upper *u, const char *want,
				 char *got)
{
	ASSERT_EQ(0, lfs_upper_cycle(u));
	ASSERT_EQ(FILE_SIZE, lfs_pread_file(lfs_at(&u->s, "f"), got,
					    FILE_SIZE, 0));
	EXPECT_EQ(0, memcmp(want, got, FILE_SIZE));
}

/*
 * A truncate the upper filesystem refuses changes nothing: the file keeps
 * its size and every byte.  ext4 refuses any size change of an immutable
 * file; the other filesystems only refuse opening it for writing, so the
 * test needs ext4 (or any filesystem that refuses the same way).
 */
TEST_F(map, a_truncate_the_upper_file_refuses_changes_nothing)
{
	const char *f = lfs_at(&self->u.s, "f");
	char *want = malloc(FILE_SIZE), *got = malloc(FILE_SIZE);
	int fd, ufd, flags, refused;
	struct stat st;

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	ASSERT_EQ(0, lfs_upper_mount(&self->u));
	fd = open(f, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(FILE_SIZE, pread(fd, want, FILE_SIZE, 0));
	/* A dirty folio past the cut, which must survive too. */
	ASSERT_EQ(3, pwrite(fd, "abc", 3, FILE_SIZE - 100));
	memcpy(want + FILE_SIZE - 100, "abc", 3);

	ufd = open(upper_f(&self->u), O_RDWR);
	ASSERT_LE(0, ufd);
	ASSERT_EQ(0, ioctl(ufd, FS_IOC_GETFLAGS, &flags));
	flags |= FS_IMMUTABLE_FL;
	ASSERT_EQ(0, ioctl(ufd, FS_IOC_SETFLAGS, &flags));
	refused = ftruncate(ufd, FILE_SIZE) ? errno : 0;
	if (refused == EPERM) {
		EXPECT_EQ(-1, ftruncate(fd, 1024 * 1024 + 7));
		EXPECT_EQ(EPERM, errno);
		EXPECT_EQ(-1, ftruncate(fd, FILE_SIZE + 4096));
		EXPECT_EQ(EPERM, errno);
		ASSERT_EQ(0, fstat(fd, &st));
		EXPECT_EQ(FILE_SIZE, st.st_size);
		ASSERT_EQ(FILE_SIZE, pread(fd, got, FILE_SIZE, 0));
		EXPECT_EQ(0, memcmp(want, got, FILE_SIZE));
	}
	flags &= ~FS_IMMUTABLE_FL;
	ASSERT_EQ(0, ioctl(ufd, FS_IOC_SETFLAGS, &flags));
	close(ufd);
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, close(fd));
	if (refused != EPERM) {
		free(want);
		free(got);
		SKIP(return, "the upper filesystem truncates immutable files (%s)",
		     strerror(refused));
	}
	/* And after a remount, from the upper file and the map. */
	expect_after_remount(_metadata, &self->u, want, got);
	free(want);
	free(got);
}

/*
 * A truncate that reached the upper file but not the map (a crash between
 * the two, made here by hand while unmounted) still cut the lower bytes
 * off: grown again, the file reads zeros there, not the old lower bytes.
 */
TEST_F(map, a_truncate_the_map_missed_still_cuts_the_lower_file_off)
{
	const char *f = lfs_at(&self->u.s, "f");
	const off_t cut = 1024 * 1024 + 7;
	char *want = malloc(FILE_SIZE), *got = malloc(FILE_SIZE);
	struct stat st;
	int fd;

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	lfs_pattern(want, 0, FILE_SIZE, 1);
	memcpy(want + 10, "hello", 5);
	memset(want + cut, 0, FILE_SIZE - cut);
	ASSERT_EQ(0, truncate(upper_f(&self->u), cut));
	ASSERT_EQ(0, lfs_upper_mount(&self->u));
	ASSERT_EQ(0, stat(f, &st));
	EXPECT_EQ(cut, st.st_size);
	fd = open(f, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, FILE_SIZE));
	ASSERT_EQ(FILE_SIZE, pread(fd, got, FILE_SIZE, 0));
	EXPECT_EQ(0, memcmp(want, got, FILE_SIZE)) {
		for (off_t i = 0; i < FILE_SIZE; i++)
			if (want[i] != got[i]) {
				TH_LOG("first difference at %lld", (long long)i);
				break;
			}
	}
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, close(fd));
	expect_after_remount(_metadata, &self->u, want, got);
	free(want);
	free(got);
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

/* Not even read into a buffer: an empty one would not be filled. */
TEST_F(map, an_empty_map_is_eio)
{
	set_map(_metadata, &self->u, "", 0);
	expect_eio(_metadata, &self->u);
}

TEST_F(map, an_unknown_version_is_eio)
{
	struct layerfs_map *m = (void *)self->map;

	m->version = 99;
	set_map(_metadata, &self->u, self->map, self->len);
	expect_eio(_metadata, &self->u);
}

/*
 * Replace the fixture's runs by @nr runs encoded as @runs in map version
 * @version, with a good checksum; returns the new length of the map.
 */
static size_t put_runs(char *map, int version, const void *runs,
		       size_t runs_len, uint32_t nr)
{
	struct layerfs_map *m = (void *)map;
	size_t hdr = sizeof(*m) + le16toh(m->path_len);

	memcpy(map + hdr, runs, runs_len);
	m->version = version;
	m->nr_runs = htole32(nr);
	m->crc = 0;
	m->crc = htole32(crc32_le(~0U, map, hdr + runs_len));
	return hdr + runs_len;
}

/*
 * The fixture's runs are granules 0 and 512.  In LEB128: the first run
 * starts 0 granules in and is one granule long (2 * 0 + 0); the second
 * starts 512 - 1 - 1 granules after the first ends and is one granule
 * long too (2 * 510 + 0 = 1020: 0xfc 0x07).
 */
static const unsigned char fixture_runs[] = { 0, 0xfc, 0x07 };

TEST_F(map, runs_are_written_as_leb128)
{
	struct layerfs_map *m = (void *)self->map;
	size_t hdr = sizeof(*m) + le16toh(m->path_len);

	EXPECT_EQ(LAYERFS_MAP_VERSION, m->version);
	EXPECT_EQ(2U, le32toh(m->nr_runs));
	ASSERT_EQ(hdr + sizeof(fixture_runs), (size_t)self->len);
	EXPECT_EQ(0, memcmp(self->map + hdr, fixture_runs,
			    sizeof(fixture_runs)));
}

/* Version 1 maps, written by earlier releases, still read. */
TEST_F(map, a_version_1_map_reads_and_is_rewritten_as_version_2)
{
	struct layerfs_map_run r[2] = {
		{ htole32(0), htole32(1) }, { htole32(512), htole32(1) },
	};
	struct layerfs_map *m = (void *)self->map;
	int fd;

	set_map(_metadata, &self->u, self->map,
		put_runs(self->map, LAYERFS_MAP_VERSION_FIXED, r, sizeof(r), 2));
	expect_fixture_data(_metadata, &self->u);
	/* A change writes the map in the current version. */
	fd = open(lfs_at(&self->u.s, "f"), O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pwrite(fd, "!", 1, 4096));
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	ASSERT_LT(0, lgetxattr(upper_f(&self->u), LAYERFS_XATTR_MAP, self->map,
			       sizeof(self->map)));
	EXPECT_EQ(LAYERFS_MAP_VERSION, m->version);
	EXPECT_EQ(2U, le32toh(m->nr_runs));
}

TEST_F(map, overlapping_version_1_runs_with_a_good_checksum_are_eio)
{
	/* Runs are checked even when the checksum matches. */
	struct layerfs_map_run r[2] = {
		{ htole32(0), htole32(1) }, { htole32(0), htole32(1) },
	};

	set_map(_metadata, &self->u, self->map,
		put_runs(self->map, LAYERFS_MAP_VERSION_FIXED, r, sizeof(r), 2));
	expect_eio(_metadata, &self->u);
}

/* Runs that a good checksum does not make acceptable. */
static void expect_runs_eio(struct __test_metadata *_metadata,
			    FIXTURE_DATA(map) *self, const void *runs,
			    size_t len, uint32_t nr)
{
	set_map(_metadata, &self->u, self->map,
		put_runs(self->map, LAYERFS_MAP_VERSION, runs, len, nr));
	expect_eio(_metadata, &self->u);
}

TEST_F(map, a_run_past_the_last_granule_is_eio)
{
	/* Starts 2^32 granules after the first run. */
	static const unsigned char r[] = { 0, 0xfe, 0xff, 0xff, 0xff, 0x1f };

	expect_runs_eio(_metadata, self, r, sizeof(r), 2);
}

TEST_F(map, a_run_longer_than_a_file_can_be_is_eio)
{
	/* At granule 0, 2^32 + 1 granules long. */
	static const unsigned char r[] = { 1, 0xff, 0xff, 0xff, 0xff, 0x0f };

	expect_runs_eio(_metadata, self, r, sizeof(r), 1);
}

TEST_F(map, a_number_in_more_bytes_than_it_needs_is_eio)
{
	static const unsigned char r[] = { 0, 0xfc, 0x87, 0 };

	expect_runs_eio(_metadata, self, r, sizeof(r), 2);
}

TEST_F(map, a_number_longer_than_five_bytes_is_eio)
{
	static const unsigned char r[] = { 0, 0xfc, 0x87, 0x80, 0x80, 0x80, 0x01 };

	expect_runs_eio(_metadata, self, r, sizeof(r), 2);
}

TEST_F(map, bytes_after_the_last_run_are_eio)
{
	static const unsigned char r[] = { 0, 0xfc, 0x07, 0 };

	expect_runs_eio(_metadata, self, r, sizeof(r), 2);
}

TEST_F(map, fewer_runs_than_the_header_counts_are_eio)
{
	static const unsigned char r[] = { 0, 0xfc, 0x07 };

	expect_runs_eio(_metadata, self, r, sizeof(r), 3);
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

/*
 * A mount whose upper and work directories are on a 2 MiB tmpfs, over a
 * lower layer holding "f", @size bytes of pattern 7, and "other".
 */
static int mount_on_small_upper(struct lfs_upper *u, const char *name,
				off_t size, unsigned int cow_block)
{
	char small[PATH_MAX];

	if (lfs_private_mount_ns() || lfs_upper_init(u, name) ||
	    !lfs_stack_add(&u->s, LFS_ENTRIES("f", "other=x")) ||
	    lfs_write_pattern(lfs_in_layer(&u->s, 0, "f"), size, 7))
		return -1;
	snprintf(small, sizeof(small), "%.4000s/small", u->s.dir);
	snprintf(u->upper, sizeof(u->upper), "%.4000s/upper", small);
	snprintf(u->work, sizeof(u->work), "%.4000s/work", small);
	if (mkdir(small, 0755) ||
	    mount("none", small, "tmpfs", 0, "size=2m") ||
	    mkdir(u->upper, 0755) || mkdir(u->work, 0755))
		return -1;
	u->cow_block = cow_block;
	return lfs_upper_mount(u);
}

/*
 * An upper filesystem that fills up in the middle of copy-on-write: the
 * error reaches fsync, and every granule reads afterwards either what was
 * written or what the lower file had, never zeros or garbage; the lower
 * layer is untouched.
 */
TEST(enospc_in_the_middle_of_copy_on_write_loses_nothing_else)
{
	static const off_t stride = 64 * 1024, big = 16 * 1024 * 1024;
	struct lfs_upper u;
	char buf[4096], want[4096];
	int fd, i, n = big / stride, err = 0;

	LFS_REQUIRE_UPPER_ENV();
	if (lfs_is_overlay())
		SKIP(return, "layerfs's copy-on-write");
	/* 2 MiB of upper space for 16 MiB worth of granules. */
	ASSERT_EQ(0, mount_on_small_upper(&u, "cow_enospc", big, stride)) {
		TH_LOG("%s", u.s.log);
	}

	fd = open(lfs_at(&u.s, "f"), O_RDWR);
	ASSERT_LE(0, fd);
	memset(buf, 0xee, sizeof(buf));
	for (i = 0; i < n; i++) {
		/* Buffered: the error can come now or at fsync. */
		if (pwrite(fd, buf, 100, (off_t)i * stride + 5) != 100) {
			err = errno;
			break;
		}
	}
	if (!err && fsync(fd))
		err = errno;
	close(fd);
	EXPECT_EQ(ENOSPC, err) {
		TH_LOG("writes into 16 MiB of granules on a 2 MiB upper: %s",
		       err ? strerror(err) : "no error");
	}

	ASSERT_EQ(0, lfs_upper_cycle(&u));
	for (i = 0; i < n; i++) {
		off_t off = (off_t)i * stride;

		ASSERT_EQ((ssize_t)sizeof(buf),
			  lfs_pread_file(lfs_at(&u.s, "f"), buf, sizeof(buf), off));
		lfs_pattern(want, off, sizeof(want), 7);
		/* the lower bytes, or the 100 written ones at +5 */
		if (memcmp(buf, want, sizeof(want))) {
			memset(want + 5, 0xee, 100);
			EXPECT_EQ(0, memcmp(buf, want, sizeof(want))) {
				TH_LOG("granule %d reads neither old nor new data", i);
				break;
			}
		}
	}
	EXPECT_EQ(1, lfs_pread_file(lfs_at(&u.s, "other"), buf, 1, 0));
	lfs_pattern(want, 0, sizeof(want), 7);
	ASSERT_EQ((ssize_t)sizeof(buf),
		  lfs_pread_file(lfs_in_layer(&u.s, 0, "f"), buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, want, sizeof(want)));
	lfs_stack_remove(&u.s);
}

/*
 * A write(2) that goes straight to the upper file (whole granules) and
 * fills it up in the middle ends there, as a write to the upper
 * filesystem does: it returns the bytes written, the next write gets
 * ENOSPC, and those bytes are kept.  It used to send the rest to the
 * page cache: the write reported every byte written, and the error came
 * only from fsync, after which the bytes "written" did not read back.
 */
TEST(enospc_in_a_write_through_ends_the_write_there)
{
	static const off_t big = 16 * 1024 * 1024, len = 4 * 1024 * 1024;
	struct lfs_upper u;
	char *buf, *want;
	ssize_t done, again;
	int fd, err;

	LFS_REQUIRE_UPPER_ENV();
	if (lfs_is_overlay())
		SKIP(return, "layerfs's copy-on-write");
	ASSERT_EQ(0, mount_on_small_upper(&u, "cow_enospc_wt", big, 4096)) {
		TH_LOG("%s", u.s.log);
	}
	buf = malloc(len);
	want = malloc(len);
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, want);
	memset(buf, 0xee, len);

	fd = open(lfs_at(&u.s, "f"), O_RDWR);
	ASSERT_LE(0, fd);
	/* 4 MiB of whole granules onto 2 MiB of space */
	done = pwrite(fd, buf, len, 0);
	err = errno;
	ASSERT_LT(0, done) {
		TH_LOG("the first write: %s", strerror(err));
	}
	EXPECT_GT(len, done) {
		TH_LOG("4 MiB written onto a 2 MiB upper without an error");
	}
	again = pwrite(fd, buf, len - done, done);
	err = errno;
	EXPECT_EQ(-1, again);
	EXPECT_EQ(ENOSPC, err) {
		TH_LOG("the write after a short one: %zd, %s", again,
		       strerror(err));
	}
	/* What was reported written is durable and reads back. */
	EXPECT_EQ(0, fsync(fd)) {
		TH_LOG("fsync: %s", strerror(errno));
	}
	close(fd);
	ASSERT_EQ(0, lfs_upper_cycle(&u));
	ASSERT_EQ(len, lfs_pread_file(lfs_at(&u.s, "f"), want, len, 0));
	EXPECT_EQ(0, memcmp(want, buf, done)) {
		TH_LOG("the bytes reported written do not read back");
	}
	lfs_pattern(buf, done, len - done, 7);
	EXPECT_EQ(0, memcmp(want + done, buf, len - done)) {
		TH_LOG("the bytes after them are not the lower file's");
	}
	free(want);
	free(buf);
	lfs_stack_remove(&u.s);
}

/*
 * A file beyond 16 GiB: the map addresses granules, not bytes, so writes
 * near 4 GiB, 16 GiB and the end of a 17 GiB (sparse) lower file land
 * where they were written, survive remount, and leave the lower bytes
 * around them readable, at granules 4 KiB and 1 MiB.
 */
TEST(files_beyond_16_gib)
{
	static const off_t gib = 1024LL * 1024 * 1024, size = 17 * gib;
	static const off_t offs[] = {
		0, 4 * gib - 3, 16 * gib - 2000, 16 * gib + 4096 * 3 + 7,
		17 * gib - 4096,
	};
	static const unsigned int granules[] = { 4096, 1024 * 1024 };
	char buf[8192], want[8192];
	unsigned int g, i;

	LFS_REQUIRE_UPPER_ENV();
	if (lfs_is_overlay())
		SKIP(return, "layerfs's copy-on-write");
	ASSERT_EQ(0, lfs_private_mount_ns());
	for (g = 0; g < 2; g++) {
		struct lfs_upper u;
		const char *low;
		struct stat st;
		int fd;

		ASSERT_EQ(0, lfs_upper_init(&u, "cow_16g"));
		ASSERT_NE(NULL, lfs_stack_add(&u.s, LFS_ENTRIES("f")));
		low = lfs_in_layer(&u.s, 0, "f");
		/* Sparse, with 8 KiB of pattern around each place written. */
		fd = open(low, O_WRONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, ftruncate(fd, size));
		for (i = 0; i < 5; i++) {
			off_t at = offs[i] > 4096 ? offs[i] - 4096 : 0;

			lfs_pattern(want, at, sizeof(want), 11);
			ASSERT_EQ((ssize_t)sizeof(want),
				  pwrite(fd, want, sizeof(want), at));
		}
		ASSERT_EQ(0, close(fd));
		u.cow_block = granules[g];
		ASSERT_EQ(0, lfs_upper_mount(&u)) {
			TH_LOG("%s", u.s.log);
		}

		fd = open(lfs_at(&u.s, "f"), O_RDWR);
		ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
		for (i = 0; i < 5; i++) {
			lfs_pattern(buf, offs[i], 100, 12 + i);
			ASSERT_EQ(100, pwrite(fd, buf, 100, offs[i]));
		}
		ASSERT_EQ(0, fsync(fd));
		ASSERT_EQ(0, close(fd));
		ASSERT_EQ(0, lfs_upper_cycle(&u));

		ASSERT_EQ(0, stat(lfs_at(&u.s, "f"), &st));
		EXPECT_EQ(size, st.st_size);
		for (i = 0; i < 5; i++) {
			off_t at = offs[i] > 4096 ? offs[i] - 4096 : 0;

			ASSERT_EQ((ssize_t)sizeof(buf),
				  lfs_pread_file(lfs_at(&u.s, "f"), buf,
						 sizeof(buf), at));
			lfs_pattern(want, at, sizeof(want), 11);
			lfs_pattern(want + (offs[i] - at), offs[i], 100, 12 + i);
			EXPECT_EQ(0, memcmp(buf, want, sizeof(want))) {
				TH_LOG("granule %u: wrong bytes around %lld",
				       granules[g], (long long)offs[i]);
			}
		}
		/* The upper file holds the written granules, not 17 GiB. */
		ASSERT_EQ(0, stat(upper_f(&u), &st));
		EXPECT_GE(5LL * 2 * granules[g] / 512, (long long)st.st_blocks);
		lfs_stack_remove(&u.s);
	}
}

/*
 * Whether the filesystem under test holds a file of @size bytes (ext4
 * stops at 16 TiB): the part of the next test that grows a file there
 * is skipped where it does not.
 */
static bool fs_holds(const struct lfs_stack *s, off_t size)
{
	const char *probe = lfs_in_scratch(s, "probe");
	int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	bool ok;

	if (fd < 0)
		return false;
	ok = !ftruncate(fd, size);
	close(fd);
	unlink(probe);
	return ok;
}

/*
 * Granules are numbered in 32 bits: a partial file ends at granule
 * 2^32 - 1 (16 TiB at 4 KiB granules), and a write, truncate or fallocate
 * past it fails with EFBIG.  It used to number granule 2^32 as granule
 * 0, which then read the upper file's hole instead of its origin.  An
 * upper file made longer than that behind layerfs's back is a damaged
 * map: EIO.
 */
TEST(a_partial_file_ends_at_the_last_granule_a_map_numbers)
{
	static const unsigned int granules[] = { 4096, 1024 * 1024 };
	char buf[64], want[64];
	unsigned int g;

	LFS_REQUIRE_UPPER_ENV();
	if (lfs_is_overlay())
		SKIP(return, "layerfs's copy-on-write");
	ASSERT_EQ(0, lfs_private_mount_ns());
	for (g = 0; g < 2; g++) {
		const off_t max = (off_t)UINT32_MAX * granules[g];
		struct lfs_upper u;
		struct stat st;
		bool holds;
		int fd;

		ASSERT_EQ(0, lfs_upper_init(&u, "cow_max"));
		ASSERT_NE(NULL, lfs_stack_add(&u.s, LFS_ENTRIES("f")));
		ASSERT_EQ(0, lfs_write_pattern(lfs_in_layer(&u.s, 0, "f"),
					       2 * granules[g], 3));
		holds = fs_holds(&u.s, max + 1);
		u.cow_block = granules[g];
		ASSERT_EQ(0, lfs_upper_mount(&u)) {
			TH_LOG("%s", u.s.log);
		}
		fd = open(lfs_at(&u.s, "f"), O_RDWR);
		ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
		errno = 0;
		EXPECT_EQ(-1, pwrite(fd, "x", 1, max + granules[g]));
		EXPECT_EQ(EFBIG, errno);
		errno = 0;
		EXPECT_EQ(-1, pwrite(fd, "x", 1, max));
		EXPECT_EQ(EFBIG, errno);
		errno = 0;
		EXPECT_EQ(-1, ftruncate(fd, max + 1));
		EXPECT_EQ(EFBIG, errno);
		errno = 0;
		EXPECT_EQ(-1, fallocate(fd, 0, max - 1, 2));
		EXPECT_EQ(EFBIG, errno);
		if (holds) {
			/* Kept in size, that touches no granule. */
			EXPECT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE,
					       max - 1, 2));
			/* A write across the end is cut there. */
			EXPECT_EQ(4, pwrite(fd, "abcdefgh", 8, max - 4));
		}
		ASSERT_EQ(0, fsync(fd));
		ASSERT_EQ(0, close(fd));

		ASSERT_EQ(0, lfs_upper_cycle(&u));
		ASSERT_EQ(0, stat(lfs_at(&u.s, "f"), &st));
		EXPECT_EQ(holds ? max : 2 * (off_t)granules[g], st.st_size);
		lfs_pattern(want, 0, sizeof(want), 3);
		ASSERT_EQ((ssize_t)sizeof(buf),
			  lfs_pread_file(lfs_at(&u.s, "f"), buf, sizeof(buf), 0));
		EXPECT_EQ(0, memcmp(buf, want, sizeof(want))) {
			TH_LOG("granule %u: granule 0 lost its origin's bytes",
			       granules[g]);
		}
		if (holds) {
			ASSERT_EQ(4, lfs_pread_file(lfs_at(&u.s, "f"), buf, 8,
						    max - 4));
			EXPECT_EQ(0, memcmp(buf, "abcd", 4));
		}
		ASSERT_EQ(0, lfs_stack_umount(&u.s));

		if (holds) {
			/* Behind layerfs's back, one byte past the end. */
			fd = open(upper_f(&u), O_WRONLY);
			ASSERT_LE(0, fd);
			ASSERT_EQ(0, ftruncate(fd, max + 1));
			ASSERT_EQ(0, close(fd));
			ASSERT_EQ(0, lfs_upper_mount(&u));
			fd = open(lfs_at(&u.s, "f"), O_RDONLY);
			if (fd >= 0) {
				errno = 0;
				EXPECT_EQ(-1, pread(fd, buf, 1, 0));
				close(fd);
			}
			EXPECT_EQ(EIO, errno);
		}
		lfs_stack_remove(&u.s);
	}
}

#define GRAN 4096

/*
 * Mount a stack whose lower "f" is holes but for one byte, 'A' + g % 26,
 * at the start of each granule g = stride * probe[i] + 1; 4 KiB granules.
 * *fd: the merged "f", open for writing.
 */
static void mount_sparse(struct __test_metadata *_metadata,
			 struct lfs_upper *u, const char *name, off_t size,
			 int stride, const int *probe, size_t nprobe, int *fd)
{
	size_t i;
	char c;

	*fd = -1;
	if (lfs_is_overlay())
		SKIP(return, "layerfs's copy-on-write");
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_upper_init(u, name));
	ASSERT_NE(NULL, lfs_stack_add(&u->s, LFS_ENTRIES("f")));
	*fd = open(lfs_in_layer(&u->s, 0, "f"), O_WRONLY);
	ASSERT_LE(0, *fd);
	ASSERT_EQ(0, ftruncate(*fd, size));
	for (i = 0; i < nprobe; i++) {
		off_t g = (off_t)stride * probe[i] + 1;

		c = 'A' + g % 26;
		ASSERT_EQ(1, pwrite(*fd, &c, 1, g * GRAN));
	}
	ASSERT_EQ(0, close(*fd));
	u->cow_block = GRAN;
	ASSERT_EQ(0, lfs_upper_mount(u)) {
		TH_LOG("%s", u->s.log);
	}
	*fd = open(lfs_at(&u->s, "f"), O_RDWR);
	ASSERT_LE(0, *fd) TH_LOG("open: %s", strerror(errno));
}

/*
 * The upper file has a map, and one that any filesystem can hold: no
 * bigger than XATTR_SIZE_MAX, and of fewer runs than were written.
 */
static void expect_map_fits(struct __test_metadata *_metadata,
			    struct lfs_upper *u, int written)
{
	struct layerfs_map m;
	ssize_t len;
	char *buf;

	len = lgetxattr(upper_f(u), LAYERFS_XATTR_MAP, NULL, 0);
	ASSERT_LE((ssize_t)sizeof(m), len) TH_LOG("map: %s", strerror(errno));
	ASSERT_GE(65536, len);
	buf = malloc(len);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(len, lgetxattr(upper_f(u), LAYERFS_XATTR_MAP, buf, len));
	memcpy(&m, buf, sizeof(m));
	free(buf);
	EXPECT_GT((unsigned int)written, le32toh(m.nr_runs));
	EXPECT_LT(0U, le32toh(m.nr_runs));
}

/*
 * After a remount: each granule stride * probe[i] starts with
 * @written(probe[i]), the one after it with its lower byte.
 */
static void expect_probes(struct __test_metadata *_metadata,
			  struct lfs_upper *u, off_t size, int stride,
			  const int *probe, size_t nprobe, char (*written)(int))
{
	struct stat st;
	char buf[2];
	size_t i;

	ASSERT_EQ(0, lfs_upper_cycle(u));
	ASSERT_EQ(0, stat(lfs_at(&u->s, "f"), &st));
	EXPECT_EQ(size, st.st_size);
	for (i = 0; i < nprobe; i++) {
		off_t g = (off_t)stride * probe[i], at = g * GRAN;

		ASSERT_EQ(2, lfs_pread_file(lfs_at(&u->s, "f"), buf, 1, at) +
			     lfs_pread_file(lfs_at(&u->s, "f"), buf + 1, 1,
					    at + GRAN));
		EXPECT_EQ(written(probe[i]), buf[0]) {
			TH_LOG("granule %lld", (long long)g);
		}
		EXPECT_EQ('A' + (g + 1) % 26, buf[1]) {
			TH_LOG("granule %lld", (long long)g + 1);
		}
	}
}

static char letter(int i)
{
	return 'a' + i % 26;
}

FIXTURE(bound) {
};

FIXTURE_SETUP(bound)
{
}

FIXTURE_TEARDOWN(bound)
{
}

/*
 * Write one byte, letter(i), at the start of granule stride * i of a
 * sparse lower file, for i below @nr, and fsync: @nr runs of one granule,
 * stride - 1 apart.  @check looks at the map; then every probed granule
 * must read back after a remount.
 */
static void scattered_granules(struct __test_metadata *_metadata,
			       const char *name, int nr, int stride,
			       void (*check)(struct __test_metadata *,
					     struct lfs_upper *, int))
{
	const int probe[] = { 0, 1, nr / 2, nr - 1 };
	const off_t size = ((off_t)stride * (nr - 1) + 2) * GRAN;
	struct lfs_upper u;
	int i, fd;
	char c;

	mount_sparse(_metadata, &u, name, size, stride, probe,
		     ARRAY_SIZE(probe), &fd);
	if (fd < 0)
		return;
	for (i = 0; i < nr; i++) {
		c = letter(i);
		ASSERT_EQ(1, pwrite(fd, &c, 1, (off_t)stride * i * GRAN));
	}
	ASSERT_EQ(0, fsync(fd)) TH_LOG("fsync: %s", strerror(errno));
	ASSERT_EQ(0, close(fd));
	check(_metadata, &u, nr);
	expect_probes(_metadata, &u, size, stride, probe, ARRAY_SIZE(probe),
		      letter);
	lfs_stack_remove(&u.s);
}

/* Every run as it was written, each in one byte. */
static void expect_map_exact(struct __test_metadata *_metadata,
			     struct lfs_upper *u, int nr)
{
	static char buf[65536];
	struct layerfs_map m;

	/* The header, the path "f", a byte a run. */
	ASSERT_EQ((ssize_t)(sizeof(m) + 1 + nr),
		  lgetxattr(upper_f(u), LAYERFS_XATTR_MAP, buf, sizeof(buf))) {
		TH_LOG("map: %s", strerror(errno));
	}
	memcpy(&m, buf, sizeof(m));
	EXPECT_EQ((unsigned int)nr, le32toh(m.nr_runs));
}

/*
 * Runs are small on disk: 3,000 one-granule runs a granule apart take a
 * byte each, 3 KiB in all, which even ext4 (all xattrs of an inode in one
 * 4 KiB block) holds as they are, without copying any gap.  At eight
 * bytes a run, what layerfs wrote before, ext4 held about 450.
 */
TEST_F_TIMEOUT(bound, scattered_runs_fit_without_coarsening, 120)
{
	LFS_REQUIRE_UPPER_ENV();
	scattered_granules(_metadata, "cow_smallruns", 3000, 2,
			   expect_map_exact);
}

/*
 * The map in memory is bounded (32,768 runs): 34,000 granules written a
 * granule apart, each its own run, are more than that, and the write
 * that meets the bound copies the shortest gaps, until the map fits.
 */
TEST_F_TIMEOUT(bound, more_runs_than_a_map_may_hold_are_coarsened, 300)
{
	LFS_REQUIRE_UPPER_ENV();
	scattered_granules(_metadata, "cow_manyruns", 34000, 2,
			   expect_map_fits);
}

/*
 * A map bigger than any xattr may be (XATTR_SIZE_MAX, 64 KiB) must never
 * reach the upper filesystem: vfs_setxattr() does not check the size, and
 * xfs wrote such a value and shut down when its write verifier saw it.
 * Every filesystem gets the fallback of a map that does not fit: gaps
 * between its runs are copied until it fits.  23,000 granules with 8,193
 * between them take three bytes a run (2 * 8,192 needs 15 bits), a map
 * of more than 67 KiB.  The lower
 * file is sparse, so copying its gaps is punching holes.
 */
TEST_F_TIMEOUT(bound, a_map_beyond_the_xattr_size_limit_is_coarsened, 300)
{
	LFS_REQUIRE_UPPER_ENV();
	scattered_granules(_metadata, "cow_bigmap", 23000, 8194,
			   expect_map_fits);
}

static char zero(int i)
{
	return i - i;
}

/*
 * The map in memory is bounded: a file punched, or written back, in more
 * scattered granules than that between two persists used to get ENOSPC
 * from the punch, or from writeback, which lost the data.  Now the map is
 * coarsened when it reaches the bound.  65,540 holes, each its own run,
 * pass the 65,536 runs the bound once was.  The lower file is sparse, and
 * so must the upper file be: what coarsening copies from the origin's
 * holes stays holes.
 */
TEST_F_TIMEOUT(bound, scattered_holes_beyond_the_map_bound_coarsen, 300)
{
	enum { NR = 65540 };
	static const int probe[] = { 0, 1, 8190, 8191, 8192, 40000, NR - 1 };
	const off_t size = (off_t)2 * NR * GRAN;
	struct lfs_upper u;
	struct stat st;
	unsigned int i;
	char c;
	int fd;

	LFS_REQUIRE_UPPER_ENV();
	mount_sparse(_metadata, &u, "cow_runbound", size, 2, probe,
		     ARRAY_SIZE(probe), &fd);
	if (fd < 0)
		return;
	for (i = 0; i < NR; i++) {
		ASSERT_EQ(0, fallocate(fd, FALLOC_FL_PUNCH_HOLE |
				       FALLOC_FL_KEEP_SIZE,
				       (off_t)2 * i * GRAN, GRAN)) {
			TH_LOG("hole %u: %s", i, strerror(errno));
		}
	}
	/* Written back after the bound was met. */
	c = 'w';
	ASSERT_EQ(1, pwrite(fd, &c, 1, (off_t)2 * (NR - 1) * GRAN + 1));
	ASSERT_EQ(0, fsync(fd)) TH_LOG("fsync: %s", strerror(errno));
	ASSERT_EQ(0, close(fd));
	expect_map_fits(_metadata, &u, NR);
	expect_probes(_metadata, &u, size, 2, probe, ARRAY_SIZE(probe), zero);
	ASSERT_EQ(1, lfs_pread_file(lfs_at(&u.s, "f"), &c, 1,
				    (off_t)2 * (NR - 1) * GRAN + 1));
	EXPECT_EQ('w', c);
	/* The origin's holes stay holes: 8 granules hold data. */
	ASSERT_EQ(0, stat(upper_f(&u), &st));
	EXPECT_GT(size / 64, (off_t)st.st_blocks * 512) {
		TH_LOG("%lld bytes allocated", (long long)st.st_blocks * 512);
	}
	lfs_stack_remove(&u.s);
}

/*
 * Coarsening copies the shortest gaps between runs first: a file written
 * in 34,000 scattered granules, with one granule between them except for
 * 99 gaps of 64, has more runs than a map may hold (32,768).  Joining
 * runs over the one-granule gaps makes it fit on every upper filesystem
 * (ext4 holds the fewest runs, about 4,000 here), so none of the long
 * gaps needs copying.  The
 * lower file has data in the long gaps only, so that what the upper file
 * allocates says whether they were copied: the written granules and no
 * more than half of the long gaps, where materialising the file (what
 * layerfs did before) copies them all.  Every byte reads back right after
 * a remount.
 */
#define SHORT_GAPS_NR		34000
#define SHORT_GAPS_EVERY	340
#define SHORT_GAPS_LONG		64

/* The granule of each written byte, and where the long gaps start. */
static off_t short_gaps_layout(off_t *pos, unsigned int *nlong)
{
	off_t g = 0;
	unsigned int i;

	*nlong = 0;
	for (i = 0; i < SHORT_GAPS_NR; i++) {
		pos[i] = g;
		if (i % SHORT_GAPS_EVERY == SHORT_GAPS_EVERY - 1) {
			g += 1 + SHORT_GAPS_LONG;
			*nlong += i + 1 < SHORT_GAPS_NR;
		} else {
			g += 2;
		}
	}
	return g;
}

/* The lower file's bytes at [at, at + n): the pattern in the long gaps. */
static void short_gaps_lower(char *buf, off_t at, size_t n, const off_t *pos)
{
	unsigned int i;

	memset(buf, 0, n);
	for (i = SHORT_GAPS_EVERY - 1; i + 1 < SHORT_GAPS_NR;
	     i += SHORT_GAPS_EVERY) {
		off_t lo = (pos[i] + 1) * GRAN, hi = pos[i + 1] * GRAN;

		if (hi <= at || lo >= at + (off_t)n)
			continue;
		lo = lo > at ? lo : at;
		hi = hi < at + (off_t)n ? hi : at + (off_t)n;
		lfs_pattern(buf + (lo - at), lo, hi - lo, 21);
	}
}

TEST_F_TIMEOUT(bound, coarsening_copies_the_shortest_gaps, 300)
{
	enum { NR = SHORT_GAPS_NR, CHUNK = 1 << 20 };
	struct lfs_upper u;
	struct stat st;
	unsigned int i, nlong;
	off_t size, at, *pos;
	char *buf, *want;
	ssize_t n;
	int fd;

	LFS_REQUIRE_UPPER_ENV();
	if (lfs_is_overlay())
		SKIP(return, "layerfs's copy-on-write");
	pos = malloc(NR * sizeof(*pos));
	buf = malloc(CHUNK);
	want = malloc(CHUNK);
	ASSERT_TRUE(pos && buf && want);
	size = short_gaps_layout(pos, &nlong) * GRAN;
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_upper_init(&u, "cow_coarsen"));
	ASSERT_NE(NULL, lfs_stack_add(&u.s, LFS_ENTRIES("f")));
	fd = open(lfs_in_layer(&u.s, 0, "f"), O_WRONLY | O_TRUNC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, size));
	for (at = 0; at < size; at += CHUNK) {
		n = size - at < CHUNK ? size - at : CHUNK;
		short_gaps_lower(buf, at, n, pos);
		/* Leave the holes: the short gaps hold none of the data. */
		for (off_t k = 0; k < n; k += GRAN) {
			if (buf[k] || memcmp(buf + k, buf + k + 1, GRAN - 1))
				ASSERT_EQ(GRAN, pwrite(fd, buf + k, GRAN, at + k));
		}
	}
	ASSERT_EQ(0, close(fd));
	u.cow_block = GRAN;
	ASSERT_EQ(0, lfs_upper_mount(&u)) {
		TH_LOG("%s", u.s.log);
	}
	fd = open(lfs_at(&u.s, "f"), O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	for (i = 0; i < NR; i++)
		ASSERT_EQ(1, pwrite(fd, "W", 1, pos[i] * GRAN + i % GRAN));
	ASSERT_EQ(0, fsync(fd)) TH_LOG("fsync: %s", strerror(errno));
	ASSERT_EQ(0, close(fd));
	expect_map_fits(_metadata, &u, NR);
	ASSERT_EQ(0, lfs_upper_cycle(&u));

	ASSERT_EQ(0, stat(upper_f(&u), &st));
	EXPECT_GT((off_t)NR * GRAN + (off_t)nlong * SHORT_GAPS_LONG / 2 * GRAN,
		  (off_t)st.st_blocks * 512) {
		TH_LOG("%lld bytes allocated for %d written granules and %u long gaps",
		       (long long)st.st_blocks * 512, NR, nlong);
	}
	fd = open(lfs_at(&u.s, "f"), O_RDONLY);
	ASSERT_LE(0, fd);
	for (at = 0, i = 0; at < size; at += n) {
		n = pread(fd, buf, CHUNK, at);
		ASSERT_LT(0, n) TH_LOG("read at %lld: %s", (long long)at,
				       strerror(errno));
		short_gaps_lower(want, at, n, pos);
		for (; i < NR && pos[i] * GRAN + i % GRAN < at + n; i++)
			want[pos[i] * GRAN + i % GRAN - at] = 'W';
		ASSERT_EQ(0, memcmp(buf, want, n)) {
			TH_LOG("wrong bytes in [%lld, %lld)", (long long)at,
			       (long long)(at + n));
		}
	}
	EXPECT_EQ(size, at);
	close(fd);
	free(pos);
	free(buf);
	free(want);
	lfs_stack_remove(&u.s);
}

TEST_HARNESS_MAIN
