// SPDX-License-Identifier: GPL-2.0
/*
 * Regular files are served by the lower file through backing files: read,
 * pread, splice, sendfile, mmap and readahead all use the lower file's
 * page cache, so a file read through two mounts and directly is cached
 * once.  A mapping through layerfs shows the layerfs device and inode in
 * /proc/self/maps (like the kernel's filesystems/overlayfs/dev_in_maps.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "libharness.h"

#define MiB (1024 * 1024)

FIXTURE(pc) {
	struct lfs_stack s;
	const char *lower;	/* the lower file, "big" in the bottom layer */
	size_t size;
};

/* Byte @off of the test pattern: never all zero, differs per page. */
static unsigned char pattern(uint64_t off)
{
	return (unsigned char)((off * 2654435761u) >> 13 ^ (off >> 12)) | 1;
}

static int make_pattern_file(const char *path, size_t size)
{
	static unsigned char buf[MiB];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < size; off += sizeof(buf)) {
		size_t len = size - off < sizeof(buf) ? size - off : sizeof(buf);

		for (size_t i = 0; i < len; i++)
			buf[i] = pattern(off + i);
		if (write(fd, buf, len) != (ssize_t)len) {
			close(fd);
			return -EIO;
		}
	}
	if (fsync(fd) || close(fd))
		return -errno;
	return 0;
}

/* Reads all of @path with read(2); -errno, or 0 if the content is right. */
static int read_and_check(const char *path, size_t size)
{
	static unsigned char buf[MiB];
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0) {
			close(fd);
			return -errno;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != pattern(off + i)) {
				close(fd);
				return -EILSEQ;
			}
		}
		off += n;
	}
	close(fd);
	return off == size ? 0 : -ERANGE;
}

FIXTURE_SETUP(pc)
{
	LFS_REQUIRE_ENV();
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_stack_init(&self->s, "pagecache"));
	LFS_LAYER(&self->s, "other=x");
	LFS_LAYER(&self->s, "big=placeholder");
	self->lower = strdup(lfs_in_layer(&self->s, 1, "big"));
	self->size = 8 * MiB;
	ASSERT_EQ(0, make_pattern_file(self->lower, self->size));
	/* Tests mount after preparing: layers never change under a mount. */
}

FIXTURE_TEARDOWN_PARENT(pc)
{
	lfs_stack_remove(&self->s);
}

#define AT(rel) lfs_at(&self->s, rel)

/* Is the lower file gone from the page cache after drop_caches? */
static bool lower_is_cold(const char *lower)
{
	return lfs_drop_caches() == 0 && lfs_resident_pages(lower, NULL) == 0;
}

TEST_F_TIMEOUT(pc, lower_page_cache_is_shared_by_mounts_and_direct_reads, 300)
{
	const char *mnt2 = strdup(lfs_in_scratch(&self->s, "mnt2"));
	long size_kb, base, after_a, after_b, after_direct, total, resident;
	char path_b[PATH_MAX];

	self->size = 64 * MiB;
	size_kb = self->size / 1024;
	ASSERT_EQ(0, make_pattern_file(self->lower, self->size));
	LFS_MOUNT(&self->s);
	ASSERT_EQ(0, mkdir(mnt2, 0755));
	ASSERT_EQ(0, lfs_mount_layers(mnt2, self->s.nlayers, self->s.layer,
				      LFS_VIA_MOUNT2, NULL, 0));
	snprintf(path_b, sizeof(path_b), "%s/big", mnt2);

	/*
	 * Other activity can only add to Cached, never hide our growth: on a
	 * miss, measure again (three tries) before calling it a failure.
	 */
	for (int attempt = 1; attempt <= 3; attempt++) {
		bool ok;

		ASSERT_EQ(0, lfs_drop_caches());
		/* Fault the test's own code back in before measuring. */
		ASSERT_NE(NULL, lfs_cat(AT("other")));
		ASSERT_NE(NULL, lfs_cat(lfs_in_layer(&self->s, 0, "other")));
		base = lfs_meminfo_kb("Cached");
		resident = lfs_resident_pages(self->lower, &total);
		ASSERT_LE(0, resident);

		ASSERT_EQ(0, read_and_check(AT("big"), self->size));
		after_a = lfs_meminfo_kb("Cached");
		EXPECT_EQ(total, lfs_resident_pages(self->lower, NULL)) {
			TH_LOG("reading through layerfs left the lower file uncached");
		}
		ASSERT_EQ(0, read_and_check(path_b, self->size));
		after_b = lfs_meminfo_kb("Cached");
		ASSERT_EQ(0, read_and_check(self->lower, self->size));
		after_direct = lfs_meminfo_kb("Cached");

		TH_LOG("%s: Cached grew %ld kB (mount A), %ld kB (mount B), %ld kB (direct) for a %ld kB file, %ld/%ld pages resident before",
		       lfs_fs(), after_a - base, after_b - after_a,
		       after_direct - after_b, size_kb, resident, total);
		ok = after_b - after_a < size_kb / 4 &&
		     after_direct - after_b < size_kb / 4 &&
		     after_direct - base < size_kb * 3 / 2;
		if (ok || attempt == 3)
			break;
	}
	/* A cold lower file must show up once, or the measure means nothing. */
	if (resident == 0)
		EXPECT_LE(size_kb * 8 / 10, after_a - base);
	EXPECT_GT(size_kb / 4, after_b - after_a);
	EXPECT_GT(size_kb / 4, after_direct - after_b);
	EXPECT_GT(size_kb * 3 / 2, after_direct - base);
}

TEST_F(pc, read_through_layerfs_fills_the_lower_page_cache)
{
	long total;

	LFS_MOUNT(&self->s);

	if (!lower_is_cold(self->lower))
		SKIP(return, "%s keeps its pages: nothing to observe", lfs_fs());
	ASSERT_EQ(0, read_and_check(AT("big"), self->size));
	EXPECT_EQ(lfs_resident_pages(self->lower, &total), total);
}

/*
 * Pages mapped into a process cannot be dropped with POSIX_FADV_DONTNEED.
 * If the layerfs mapping maps the lower file's pages, they survive a
 * DONTNEED on the lower file; if layerfs had its own copy, they would go.
 */
TEST_F(pc, mmap_through_layerfs_maps_the_lower_pages)
{
	long total = 0;
	unsigned char *map;
	size_t bad = 0;
	int fd, lower;

	if (!lower_is_cold(self->lower))
		SKIP(return, "%s keeps its pages: nothing to observe", lfs_fs());
	LFS_MOUNT(&self->s);
	fd = open(AT("big"), O_RDONLY);
	lower = open(self->lower, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, lower);

	map = mmap(NULL, self->size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	for (size_t i = 0; i < self->size; i++)
		bad += map[i] != pattern(i);
	EXPECT_EQ(0u, bad);
	ASSERT_EQ(0, posix_fadvise(lower, 0, 0, POSIX_FADV_DONTNEED));
	EXPECT_EQ(lfs_resident_pages(self->lower, &total), total);

	/* The control: unmapped, the same pages do go. */
	munmap(map, self->size);
	ASSERT_EQ(0, posix_fadvise(lower, 0, 0, POSIX_FADV_DONTNEED));
	EXPECT_EQ(0, lfs_resident_pages(self->lower, NULL));
	close(fd);
	close(lower);
}

/*
 * After a read through layerfs, dropping the lower file's pages must give
 * back all the memory the read took: there is no second copy.
 */
TEST_F(pc, read_through_layerfs_keeps_no_copy_of_its_own)
{
	long base, after_read, after_drop, size_kb = self->size / 1024;
	int lower;

	LFS_MOUNT(&self->s);
	ASSERT_NE(NULL, lfs_cat(AT("other")));	/* warm the code */
	if (!lower_is_cold(self->lower))
		SKIP(return, "%s keeps its pages: nothing to observe", lfs_fs());
	lower = open(self->lower, O_RDONLY);
	ASSERT_LE(0, lower);

	base = lfs_meminfo_kb("Cached");
	ASSERT_EQ(0, read_and_check(AT("big"), self->size));
	after_read = lfs_meminfo_kb("Cached");
	ASSERT_EQ(0, posix_fadvise(lower, 0, 0, POSIX_FADV_DONTNEED));
	after_drop = lfs_meminfo_kb("Cached");
	TH_LOG("Cached: +%ld kB after the read, +%ld kB after dropping the lower pages (file %ld kB)",
	       after_read - base, after_drop - base, size_kb);
	EXPECT_LE(size_kb * 8 / 10, after_read - base);
	EXPECT_GT(size_kb / 4, after_drop - base);
	close(lower);
}

/* Resident pages of @path once they stop changing (at most 5 s). */
static long settled_resident_pages(const char *path)
{
	long last = -1, now = lfs_resident_pages(path, NULL);

	for (int i = 0; i < 50 && now != last; i++) {
		usleep(100000);
		last = now;
		now = lfs_resident_pages(path, NULL);
	}
	return now;
}

/*
 * readahead(2) and POSIX_FADV_WILLNEED read up to the device's readahead
 * limit, not the whole range: through layerfs they must bring in what
 * they bring in on the lower file itself.
 */
static void expect_hint_reaches_lower(struct __test_metadata *_metadata,
				      FIXTURE_DATA(pc) *self, bool fadvise)
{
	long direct = 0, through = 0;
	int fd;

	for (int pass = 0; pass < 2; pass++) {
		ASSERT_TRUE(lower_is_cold(self->lower));
		fd = open(pass ? AT("big") : self->lower, O_RDONLY);
		ASSERT_LE(0, fd);
		if (fadvise) {
			ASSERT_EQ(0, posix_fadvise(fd, 0, self->size,
						   POSIX_FADV_WILLNEED));
		} else {
			ASSERT_EQ(0, readahead(fd, 0, self->size));
		}
		if (pass)
			through = settled_resident_pages(self->lower);
		else
			direct = settled_resident_pages(self->lower);
		close(fd);
	}
	TH_LOG("%ld pages read ahead directly, %ld through layerfs",
	       direct, through);
	EXPECT_LT(0, direct);
	EXPECT_LE(direct, through);
}

TEST_F(pc, readahead_through_layerfs_fills_the_lower_page_cache)
{
	if (!lower_is_cold(self->lower))
		SKIP(return, "%s keeps its pages: nothing to observe", lfs_fs());
	LFS_MOUNT(&self->s);
	expect_hint_reaches_lower(_metadata, self, false);
}

TEST_F(pc, fadvise_willneed_through_layerfs_fills_the_lower_page_cache)
{
	if (!lower_is_cold(self->lower))
		SKIP(return, "%s keeps its pages: nothing to observe", lfs_fs());
	LFS_MOUNT(&self->s);
	expect_hint_reaches_lower(_metadata, self, true);
}

TEST_F(pc, proc_maps_shows_the_layerfs_device_and_inode)
{
	char line[PATH_MAX + 256], path[PATH_MAX];
	unsigned long start, end, inode;
	unsigned int maj, min;
	bool found = false;
	struct statx stx;
	void *map;
	FILE *maps;
	int fd;

	LFS_MOUNT(&self->s);
	fd = open(AT("big"), O_RDONLY);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, statx(fd, "", AT_EMPTY_PATH, STATX_INO, &stx));
	map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);

	maps = fopen("/proc/self/maps", "r");
	ASSERT_NE(NULL, maps);
	while (fgets(line, sizeof(line), maps)) {
		if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu %4095s", &start,
			   &end, &maj, &min, &inode, path) != 6)
			continue;
		if (start != (unsigned long)map)
			continue;
		found = true;
		EXPECT_EQ(stx.stx_dev_major, maj);
		EXPECT_EQ(stx.stx_dev_minor, min);
		EXPECT_EQ(stx.stx_ino, inode);
		EXPECT_STREQ(AT("big"), path);
	}
	fclose(maps);
	EXPECT_TRUE(found);
	munmap(map, 4096);
	close(fd);
}

TEST_F(pc, pread_at_random_offsets_matches_the_lower_file)
{
	struct lfs_rng rng;
	unsigned char buf[10000];
	int fd;

	LFS_MOUNT(&self->s);
	fd = open(AT("big"), O_RDONLY);

	ASSERT_LE(0, fd);
	lfs_rng_init(&rng, lfs_seed());
	for (int k = 0; k < 500; k++) {
		size_t off = lfs_below(&rng, self->size + 100);
		size_t len = 1 + lfs_below(&rng, sizeof(buf));
		size_t want = off >= self->size ? 0 :
			      len < self->size - off ? len : self->size - off;
		ssize_t n = pread(fd, buf, len, off);

		ASSERT_EQ((ssize_t)want, n);
		for (ssize_t i = 0; i < n; i++)
			ASSERT_EQ(pattern(off + i), buf[i]);
	}
	close(fd);
}

TEST_F(pc, sendfile_reads_the_lower_data)
{
	const char *copy = strdup(lfs_in_scratch(&self->s, "copy"));
	int in;
	int out = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t done = 0;

	LFS_MOUNT(&self->s);
	in = open(AT("big"), O_RDONLY);

	ASSERT_LE(0, in);
	ASSERT_LE(0, out);
	while (done < self->size) {
		ssize_t n = sendfile(out, in, NULL, self->size - done);

		ASSERT_LT(0, n);
		done += n;
	}
	close(in);
	close(out);
	EXPECT_EQ(0, read_and_check(copy, self->size));
}

TEST_F(pc, splice_reads_the_lower_data)
{
	unsigned char buf[65536];
	int in;
	int p[2];
	loff_t off = 0;

	LFS_MOUNT(&self->s);
	in = open(AT("big"), O_RDONLY);

	ASSERT_LE(0, in);
	ASSERT_EQ(0, pipe(p));
	while ((size_t)off < self->size) {
		loff_t at = off;
		ssize_t n = splice(in, &off, p[1], NULL, sizeof(buf), 0);

		ASSERT_LT(0, n);
		ASSERT_EQ(n, read(p[0], buf, n));
		for (ssize_t i = 0; i < n; i++)
			ASSERT_EQ(pattern(at + i), buf[i]);
	}
	close(in);
}

TEST_F(pc, private_writable_mapping_leaves_the_lower_file_alone)
{
	unsigned char *map;
	int fd;

	LFS_MOUNT(&self->s);
	fd = open(AT("big"), O_RDONLY);

	ASSERT_LE(0, fd);
	map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	memset(map, 0, 8192);
	ASSERT_EQ(0, munmap(map, 8192));
	close(fd);

	EXPECT_EQ(0, read_and_check(AT("big"), self->size));
	EXPECT_EQ(0, read_and_check(self->lower, self->size));
}

TEST_F(pc, seek_data_and_seek_hole_pass_through)
{
	int fd, real;

	/* 4 MiB with one byte of data at 2 MiB: holes around it. */
	ASSERT_EQ(0, lfs_build(self->s.layer[1],
			       LFS_ENTRIES("sparse size=4194304")));
	fd = open(lfs_in_layer(&self->s, 1, "sparse"), O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pwrite(fd, "x", 1, 2 * MiB));
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	LFS_MOUNT(&self->s);

	fd = open(AT("sparse"), O_RDONLY);
	real = open(lfs_in_layer(&self->s, 1, "sparse"), O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, real);
	EXPECT_EQ(lseek(real, 0, SEEK_DATA), lseek(fd, 0, SEEK_DATA));
	EXPECT_EQ(lseek(real, 0, SEEK_HOLE), lseek(fd, 0, SEEK_HOLE));
	EXPECT_EQ(lseek(real, 2 * MiB + 1, SEEK_HOLE),
		  lseek(fd, 2 * MiB + 1, SEEK_HOLE));
	EXPECT_EQ(4 * MiB, lseek(fd, 0, SEEK_END));
	close(fd);
	close(real);
}

TEST_HARNESS_MAIN
