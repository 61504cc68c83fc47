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
#include <sys/mount.h>
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
	char small[PATH_MAX], buf[4096], want[4096];
	int fd, i, n = big / stride, err = 0;

	LFS_REQUIRE_UPPER_ENV();
	if (lfs_is_overlay())
		SKIP(return, "layerfs's copy-on-write");
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_upper_init(&u, "cow_enospc"));
	ASSERT_NE(NULL, lfs_stack_add(&u.s, LFS_ENTRIES("f", "other=x")));
	ASSERT_EQ(0, lfs_write_pattern(lfs_in_layer(&u.s, 0, "f"), big, 7));
	/* 2 MiB of upper space for 16 MiB worth of granules. */
	snprintf(small, sizeof(small), "%.4000s/small", u.s.dir);
	ASSERT_EQ(0, mkdir(small, 0755));
	ASSERT_EQ(0, mount("none", small, "tmpfs", 0, "size=2m"));
	snprintf(u.upper, sizeof(u.upper), "%.4000s/upper", small);
	snprintf(u.work, sizeof(u.work), "%.4000s/work", small);
	ASSERT_EQ(0, mkdir(u.upper, 0755));
	ASSERT_EQ(0, mkdir(u.work, 0755));
	u.cow_block = stride;
	ASSERT_EQ(0, lfs_upper_mount(&u)) {
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

#define GRAN 4096

/*
 * Mount a stack whose lower "f" is holes but for one byte, 'A' + g % 26,
 * at the start of every odd granule g = 2 * probe[i] + 1; 4 KiB granules.
 * *fd: the merged "f", open for writing.
 */
static void mount_sparse(struct __test_metadata *_metadata,
			 struct lfs_upper *u, const char *name, off_t size,
			 const int *probe, size_t nprobe, int *fd)
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
		c = 'A' + (2 * probe[i] + 1) % 26;
		ASSERT_EQ(1, pwrite(*fd, &c, 1,
				    ((off_t)2 * probe[i] + 1) * GRAN));
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
			    struct lfs_upper *u, unsigned int written)
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
	EXPECT_GT(written, le32toh(m.nr_runs));
	EXPECT_LT(0U, le32toh(m.nr_runs));
}

/*
 * After a remount: each even granule 2 * probe[i] starts with
 * @even(probe[i]), each odd one with its lower byte.
 */
static void expect_probes(struct __test_metadata *_metadata,
			  struct lfs_upper *u, off_t size,
			  const int *probe, size_t nprobe, char (*even)(int))
{
	struct stat st;
	char buf[2];
	size_t i;

	ASSERT_EQ(0, lfs_upper_cycle(u));
	ASSERT_EQ(0, stat(lfs_at(&u->s, "f"), &st));
	EXPECT_EQ(size, st.st_size);
	for (i = 0; i < nprobe; i++) {
		off_t at = (off_t)2 * probe[i] * GRAN;

		ASSERT_EQ(2, lfs_pread_file(lfs_at(&u->s, "f"), buf, 1, at) +
			     lfs_pread_file(lfs_at(&u->s, "f"), buf + 1, 1,
					    at + GRAN));
		EXPECT_EQ(even(probe[i]), buf[0]) {
			TH_LOG("granule %d", 2 * probe[i]);
		}
		EXPECT_EQ('A' + (2 * probe[i] + 1) % 26, buf[1]) {
			TH_LOG("granule %d", 2 * probe[i] + 1);
		}
	}
}

static char letter(int i)
{
	return 'a' + i % 26;
}

/*
 * A map bigger than any xattr may be (XATTR_SIZE_MAX, 64 KiB) must never
 * reach the upper filesystem: vfs_setxattr() does not check the size, and
 * xfs wrote such a value and shut down when its write verifier saw it.
 * Every filesystem gets the fallback of a map that does not fit: gaps
 * between its runs are copied until it fits.  9,000 written granules,
 * each its own run, make a map of more than 72 KiB.
 */
TEST(a_map_beyond_the_xattr_size_limit_is_coarsened)
{
	enum { NR = 9000 };
	static const int probe[] = { 0, 1, NR / 2, NR - 1 };
	const off_t size = (off_t)2 * NR * GRAN;
	struct lfs_upper u;
	unsigned int i;
	char c;
	int fd;

	LFS_REQUIRE_UPPER_ENV();
	mount_sparse(_metadata, &u, "cow_bigmap", size, probe,
		     ARRAY_SIZE(probe), &fd);
	if (fd < 0)
		return;
	for (i = 0; i < NR; i++) {
		c = letter(i);
		ASSERT_EQ(1, pwrite(fd, &c, 1, (off_t)2 * i * GRAN));
	}
	ASSERT_EQ(0, fsync(fd)) TH_LOG("fsync: %s", strerror(errno));
	ASSERT_EQ(0, close(fd));
	expect_map_fits(_metadata, &u, NR);
	expect_probes(_metadata, &u, size, probe, ARRAY_SIZE(probe), letter);
	lfs_stack_remove(&u.s);
}

FIXTURE(bound) {
};

FIXTURE_SETUP(bound)
{
}

FIXTURE_TEARDOWN(bound)
{
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
	mount_sparse(_metadata, &u, "cow_runbound", size, probe,
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
	expect_probes(_metadata, &u, size, probe, ARRAY_SIZE(probe), zero);
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
 * in 8,300 scattered granules of a dense lower file, with one granule
 * between them except for 99 gaps of 64, has a map too big for any xattr.
 * Joining runs over the one-granule gaps makes it fit on every upper
 * filesystem (ext4 holds the fewest runs, about 500), so none of the long
 * gaps needs copying: the upper file holds less than the file minus half
 * of them, where materialising the file (what layerfs did before) copies
 * all.  Every byte reads back right after a remount.
 */
TEST_F_TIMEOUT(bound, coarsening_copies_the_shortest_gaps, 300)
{
	enum { NR = 8300, EVERY = 83, LONG = 64, CHUNK = 1 << 20 };
	struct lfs_upper u;
	struct stat st;
	unsigned int i, nlong = 0;
	off_t size, g, at, pos[NR];
	char *buf, *want;
	ssize_t n;
	int fd;

	LFS_REQUIRE_UPPER_ENV();
	if (lfs_is_overlay())
		SKIP(return, "layerfs's copy-on-write");
	for (g = 0, i = 0; i < NR; i++) {
		pos[i] = g;
		g += i % EVERY == EVERY - 1 ? 1 + LONG : 2;
		nlong += i % EVERY == EVERY - 1 && i + 1 < NR;
	}
	size = g * GRAN;
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_upper_init(&u, "cow_coarsen"));
	ASSERT_NE(NULL, lfs_stack_add(&u.s, LFS_ENTRIES("f")));
	ASSERT_EQ(0, lfs_write_pattern(lfs_in_layer(&u.s, 0, "f"), size, 21));
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
	EXPECT_GT(size - (off_t)nlong * LONG / 2 * GRAN,
		  (off_t)st.st_blocks * 512) {
		TH_LOG("%lld of %lld bytes allocated, %u long gaps",
		       (long long)st.st_blocks * 512, (long long)size, nlong);
	}
	buf = malloc(CHUNK);
	want = malloc(CHUNK);
	ASSERT_TRUE(buf && want);
	fd = open(lfs_at(&u.s, "f"), O_RDONLY);
	ASSERT_LE(0, fd);
	for (at = 0, i = 0; at < size; at += n) {
		n = pread(fd, buf, CHUNK, at);
		ASSERT_LT(0, n) TH_LOG("read at %lld: %s", (long long)at,
				       strerror(errno));
		lfs_pattern(want, at, n, 21);
		for (; i < NR && pos[i] * GRAN + i % GRAN < at + n; i++)
			want[pos[i] * GRAN + i % GRAN - at] = 'W';
		ASSERT_EQ(0, memcmp(buf, want, n)) {
			TH_LOG("wrong bytes in [%lld, %lld)", (long long)at,
			       (long long)(at + n));
		}
	}
	EXPECT_EQ(size, at);
	close(fd);
	free(buf);
	free(want);
	lfs_stack_remove(&u.s);
}

TEST_HARNESS_MAIN
