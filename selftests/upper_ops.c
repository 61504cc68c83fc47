// SPDX-License-Identifier: GPL-2.0
/*
 * The writable upper layer, one rule per test (issue 3): every namespace
 * operation on a stack with an upper directory, and the POSIX data rules
 * for files that start in a lower layer and are written block by block
 * (partial copy-up).
 *
 * Every test applies the same operations to the mount and to a "model": a
 * plain directory on the same filesystem that started as a copy of the
 * merged view.  The two must give the same results (return values and
 * errno) and leave identical trees (contents, sizes, types, modes, owners,
 * symlink targets, user.* xattrs, hard-link groups and link counts), both
 * right away and after unmount, drop_caches and mount again, since what is
 * only right in the page cache is not right.  The lower layers must be
 * unchanged byte for byte at the end of every test.
 *
 * LFS_UPPER_FSTYPE=overlay runs everything against overlayfs (see
 * libupper.h); the rules only layerfs has are skipped then.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "libharness.h"
#include "libupper.h"

#define MiB (1024 * 1024)
#define BIG_SIZE (MiB + 12345)		/* past the largest granule */
#define HL_SIZE 200000
#define SPARSE_SIZE (3 * MiB)
#define SPARSE_DATA_OFF (MiB + 777)	/* data inside a hole-y lower file */
#define SPARSE_DATA_LEN 5000

/* The shared fixture: two lower layers, an upper, the model. */
struct rw {
	struct lfs_upper u;
	char model[PATH_MAX];
	char snap[2][PATH_MAX];		/* copies of the layers, to diff */
};

/*
 * Lower names in "long/" that no ".wh.NAME" can follow out of view (252 and
 * 255 bytes), and one it just can (251 bytes): "long/" plus the name.
 */
static char long_file[5 + NAME_MAX + 1], long_dir[5 + NAME_MAX + 1];
static char long_fits[5 + NAME_MAX + 1];

static void make_long_name(char *buf, char c, size_t len)
{
	memcpy(buf, "long/", 5);
	memset(buf + 5, c, len);
	buf[5 + len] = '\0';
}

static void make_long_names(void)
{
	make_long_name(long_file, 'f', NAME_MAX - 3);
	make_long_name(long_dir, 'd', NAME_MAX);
	make_long_name(long_fits, 'g', NAME_MAX - 4);
}

/*
 * L0 (top) hides and overrides parts of L1 so that the operations meet
 * every kind of lower entry: merged dirs ("tree", "d"), a dir emptied by a
 * whiteout ("hidden"), a name in both layers ("both", "mid"), hard links,
 * special files, a sparse file, a file larger than the largest granule and
 * the longest names.
 */
static int build_stack(struct __test_metadata *_metadata, struct rw *self,
		       unsigned int cow_block)
{
	char lf_entry[PATH_MAX], ld_entry[PATH_MAX], lg_entry[PATH_MAX];
	const char *l0, *l1;

	make_long_names();
	snprintf(lf_entry, sizeof(lf_entry), "%s=long-file", long_file);
	snprintf(ld_entry, sizeof(ld_entry), "%s/f=f", long_dir);
	snprintf(lg_entry, sizeof(lg_entry), "%s=fits", long_fits);

	umask(0);
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_upper_init(&self->u, "upper_ops"));
	self->u.cow_block = cow_block;
	l0 = lfs_stack_add(&self->u.s, LFS_ENTRIES(
		"top=top-text mode=0640 uid=1000 gid=1000 xattr=user.k=top",
		"d/a=a-from-top", "d/sub/deep=deep", "tree/t0=t0",
		"tree/sub/x=x0", "l->top", "dl->d", "mid", "both=upper-version",
		"hidden/x@0:0", "e/ mode=0750"));
	ASSERT_NE(NULL, l0);
	l1 = lfs_stack_add(&self->u.s, LFS_ENTRIES(
		"d/b=b", "d/c=c xattr=user.c=1", "tree/t1=t1", "tree/sub/y=y1",
		"tree/sub2/z=z", "both=lower-version", "hidden/x=x", "big",
		"small", "sparse", "hl1", "hl2=>hl1", "solo", "mid", "fifo|", "sock#",
		"chr@1:3", "ldir/f=f", "ldir/g/h=h", lf_entry, ld_entry,
		lg_entry));
	ASSERT_NE(NULL, l1);
	ASSERT_EQ(0, lfs_write_pattern(lfs_in_layer(&self->u.s, 0, "mid"), 70000, 2));
	ASSERT_EQ(0, lfs_write_pattern(lfs_in_layer(&self->u.s, 1, "mid"), 50000, 5));
	ASSERT_EQ(0, lfs_write_pattern(lfs_in_layer(&self->u.s, 1, "big"), BIG_SIZE, 1));
	ASSERT_EQ(0, lfs_write_pattern(lfs_in_layer(&self->u.s, 1, "small"), 100, 3));
	ASSERT_EQ(0, lfs_write_pattern(lfs_in_layer(&self->u.s, 1, "hl1"), HL_SIZE, 4));
	ASSERT_EQ(0, lfs_write_pattern(lfs_in_layer(&self->u.s, 1, "solo"), HL_SIZE, 4));
	{
		/* A hole, data, a hole: reads of holes must stay zeros. */
		char buf[SPARSE_DATA_LEN];
		int fd = open(lfs_in_layer(&self->u.s, 1, "sparse"), O_WRONLY);

		ASSERT_LE(0, fd);
		lfs_pattern(buf, SPARSE_DATA_OFF, sizeof(buf), 6);
		ASSERT_EQ((ssize_t)sizeof(buf), pwrite(fd, buf, sizeof(buf), SPARSE_DATA_OFF));
		ASSERT_EQ(0, ftruncate(fd, SPARSE_SIZE));
		close(fd);
	}
	for (int i = 0; i < 2; i++) {
		snprintf(self->snap[i], PATH_MAX, "%s/snap%d", self->u.s.dir, i);
		ASSERT_EQ(0, lfs_copy_tree(self->u.s.layer[i], self->snap[i]));
	}
	ASSERT_EQ(0, lfs_upper_mount(&self->u)) {
		TH_LOG("%s", self->u.s.log);
	}
	snprintf(self->model, PATH_MAX, "%s/model", self->u.s.dir);
	ASSERT_EQ(0, lfs_copy_tree(self->u.s.mnt, self->model));
	return 0;
}

/* "@root/@rel" in one of 16 rotating buffers. */
static const char *path_in(const char *root, const char *rel)
{
	static char ring[16][PATH_MAX];
	static unsigned int next;
	char *buf = ring[next++ % 16];

	if (snprintf(buf, PATH_MAX, "%s%s%s", root, *rel ? "/" : "", rel) >=
	    PATH_MAX)
		fprintf(stderr, "# path too long: %s/%s\n", root, rel);
	return buf;
}

/* Both fixtures hold a struct rw named r. */
#define NS (&self->r)
#define MNT(rel) lfs_at(&NS->u.s, rel)
#define UPPER(rel) path_in(NS->u.upper, rel)
/* Runs the statements once with root = the mount, once with the model. */
#define BOTH(...) do { \
	for (int side_ = 0; side_ < 2; side_++) { \
		const char *root = side_ ? NS->model : NS->u.s.mnt; \
		(void)root; \
		__VA_ARGS__; \
	} \
} while (0)
#define P(rel) path_in(root, rel)
/* errno of a call returning < 0 on failure, 0 on success */
#define ERR(call) ((call) < 0 ? errno : 0)

/*
 * The mount equals the model, and again after unmount + remount; the
 * layers are what they were.
 */
#define CHECK_TREES() do { \
	char why_[1024]; \
	ASSERT_EQ(0, lfs_tree_compare_rw(NS->model, NS->u.s.mnt, why_, sizeof(why_))) { \
		TH_LOG("before remount: %s", why_); \
	} \
	ASSERT_EQ(0, lfs_upper_cycle(&NS->u)) { \
		TH_LOG("remount: %s", NS->u.s.log); \
	} \
	ASSERT_EQ(0, lfs_tree_compare_rw(NS->model, NS->u.s.mnt, why_, sizeof(why_))) { \
		TH_LOG("after remount: %s", why_); \
	} \
	for (int l_ = 0; l_ < 2; l_++) { \
		ASSERT_EQ(0, lfs_tree_compare(NS->snap[l_], NS->u.s.layer[l_], \
					      LFS_CMP_MTIME | LFS_CMP_XATTR, \
					      why_, sizeof(why_))) { \
			TH_LOG("lower layer %d changed: %s", l_, why_); \
		} \
	} \
} while (0)

#define SKIP_IF_OVERLAY(what) do { \
	if (lfs_is_overlay()) \
		SKIP(return, "layerfs only (%s); mounted overlayfs", what); \
} while (0)

/* open + pwrite of stream @seed + close: 0 or errno. */
static int pwrite_pattern(const char *path, off_t off, size_t len,
			  uint32_t seed, int flags)
{
	char *buf = malloc(len ? len : 1);
	int fd = open(path, O_WRONLY | O_CLOEXEC | flags), err = 0;
	ssize_t n;

	if (!buf || fd < 0) {
		err = fd < 0 ? errno : ENOMEM;
		free(buf);
		if (fd >= 0)
			close(fd);
		return err;
	}
	lfs_pattern(buf, off, len, seed);
	n = (flags & O_APPEND) ? write(fd, buf, len) : pwrite(fd, buf, len, off);
	if (n != (ssize_t)len)
		err = n < 0 ? errno : EIO;
	if (close(fd) && !err)
		err = errno;
	free(buf);
	return err;
}

/* The same @len bytes at @off in both files. */
static bool same_bytes(const char *a, const char *b, off_t off, size_t len)
{
	char *x = malloc(len), *y = malloc(len);
	bool same = x && y && lfs_pread_file(a, x, len, off) == (ssize_t)len &&
		    lfs_pread_file(b, y, len, off) == (ssize_t)len &&
		    !memcmp(x, y, len);

	free(x);
	free(y);
	return same;
}

static bool all_zero(const char *path, off_t off, size_t len)
{
	char *buf = calloc(1, len), *zero = calloc(1, len);
	bool ok = buf && zero && lfs_pread_file(path, buf, len, off) == (ssize_t)len &&
		  !memcmp(buf, zero, len);

	free(buf);
	free(zero);
	return ok;
}

/* ---------------------------------------------------------------------- */
/* Namespace operations                                                    */

FIXTURE(ns) {
	struct rw r;
};

FIXTURE_SETUP(ns)
{
	LFS_REQUIRE_UPPER_ENV();
	build_stack(_metadata, &self->r, 0);
}

FIXTURE_TEARDOWN_PARENT(ns)
{
	lfs_stack_remove(&self->r.u.s);
}

TEST_F(ns, create_in_lower_and_new_directories)
{
	BOTH(
		int fd;

		ASSERT_EQ(0, lfs_write_file(P("d/new"), "new", 3));
		ASSERT_EQ(0, lfs_write_file(P("tree/sub/new"), "new2", 4));
		/* O_EXCL sees lower names */
		ASSERT_EQ(EEXIST, ERR(open(P("d/b"), O_CREAT | O_EXCL | O_WRONLY, 0600)));
		ASSERT_EQ(EEXIST, ERR(open(P("fifo"), O_CREAT | O_EXCL | O_WRONLY, 0600)));
		/* O_CREAT alone opens the lower file: no truncation, no new mode */
		fd = open(P("d/c"), O_CREAT | O_WRONLY, 0600);
		ASSERT_LE(0, fd);
		close(fd);
		/* a name whited out in L0 is free */
		fd = open(P("hidden/x"), O_CREAT | O_EXCL | O_WRONLY, 0604);
		ASSERT_LE(0, fd);
		ASSERT_EQ(3, write(fd, "new", 3));
		close(fd);
		/* deleted then created again: nothing of the old file shows */
		ASSERT_EQ(0, unlink(P("both")));
		fd = open(P("both"), O_CREAT | O_EXCL | O_RDWR, 0611);
		ASSERT_LE(0, fd);
		ASSERT_EQ(1, write(fd, "z", 1));
		close(fd);
	);
	CHECK_TREES();
}

TEST_F(ns, o_tmpfile_then_linkat_and_unlinked_tmpfile_leaves_nothing)
{
	BOTH(
		char proc[64];
		int fd = open(P("d"), O_TMPFILE | O_RDWR, 0640);

		ASSERT_LE(0, fd) {
			TH_LOG("O_TMPFILE in %s: %s", P("d"), strerror(errno));
		}
		ASSERT_EQ(4, write(fd, "tmp\n", 4));
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		ASSERT_EQ(0, linkat(AT_FDCWD, proc, AT_FDCWD, P("d/tmp"),
				    AT_SYMLINK_FOLLOW));
		close(fd);
		/* never linked: must vanish, in the upper layer too */
		fd = open(P("tree/sub"), O_TMPFILE | O_WRONLY, 0600);
		ASSERT_LE(0, fd);
		ASSERT_EQ(5, write(fd, "gone\n", 5));
		close(fd);
	);
	CHECK_TREES();
}

TEST_F(ns, mkdir_in_lower_dirs_and_over_whiteouts)
{
	BOTH(
		ASSERT_EQ(0, mkdir(P("d/newdir"), 0711));
		ASSERT_EQ(0, mkdir(P("d/newdir/deeper"), 0755));
		ASSERT_EQ(0, mkdir(P("hidden/x"), 0700));
		ASSERT_EQ(EEXIST, ERR(mkdir(P("tree"), 0755)));
		ASSERT_EQ(EEXIST, ERR(mkdir(P("d/b"), 0755)));
		ASSERT_EQ(EEXIST, ERR(mkdir(P("l"), 0755)));
		ASSERT_EQ(0, lfs_write_file(P("d/newdir/deeper/f"), "f", 1));
	);
	CHECK_TREES();
}

TEST_F(ns, mknod_fifo_socket_and_devices)
{
	BOTH(
		ASSERT_EQ(0, mknod(P("d/fifo2"), S_IFIFO | 0620, 0));
		ASSERT_EQ(0, mknod(P("tree/sock2"), S_IFSOCK | 0755, 0));
		ASSERT_EQ(0, mknod(P("d/null2"), S_IFCHR | 0666, makedev(1, 3)));
		ASSERT_EQ(0, mknod(P("d/loop9"), S_IFBLK | 0660, makedev(7, 9)));
		ASSERT_EQ(EEXIST, ERR(mknod(P("chr"), S_IFIFO | 0644, 0)));
		ASSERT_EQ(0, unlink(P("chr")));
		ASSERT_EQ(0, mknod(P("chr"), S_IFCHR | 0600, makedev(1, 5)));
	);
	CHECK_TREES();
}

/*
 * A 0/0 character device is a whiteout: made on the mount, it would hide
 * its own name.  The VFS lets anyone make one; the mount refuses it
 * (EPERM), as overlayfs does.
 */
TEST_F(ns, mknod_of_a_whiteout_device_is_eperm)
{
	EXPECT_EQ(EPERM, ERR(mknod(MNT("d/wh"), S_IFCHR | 0600, makedev(0, 0))));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(MNT("d/wh")));
	CHECK_TREES();
}

/*
 * What the work dir holds that the next mount keeps (directories with
 * more than whiteouts, below) does not get in its way.  Temporary names
 * used to be numbered from 1 again on each mount: the mount's own probe
 * of the upper filesystem (#lfs-1) failed with EEXIST.
 */
TEST_F(ns, leftovers_of_a_crash_in_the_work_dir_are_stepped_over)
{
	char path[PATH_MAX + 32];

	SKIP_IF_OVERLAY("layerfs's work dir");
	ASSERT_EQ(0, lfs_stack_umount(&NS->u.s));
	for (int i = 1; i <= 16; i++) {
		snprintf(path, sizeof(path), "%s/#lfs-%x", NS->u.work, i);
		ASSERT_EQ(0, mkdir(path, 0700));
		strcat(path, "/keep");
		ASSERT_EQ(0, lfs_write_file(path, "x", 1));
	}
	ASSERT_EQ(0, lfs_upper_mount(&NS->u)) {
		TH_LOG("%s", NS->u.s.log);
	}
	BOTH(
		ASSERT_EQ(0, chmod(P("small"), 0600));
		ASSERT_EQ(0, mkdir(P("d/new"), 0755));
		ASSERT_EQ(0, pwrite_pattern(P("big"), 100, 10, 30, 0));
		ASSERT_EQ(0, rename(P("tree"), P("tree2")));
	);
	CHECK_TREES();
	EXPECT_EQ(0, lfs_lstat_errno(path));
}

/*
 * Those leftovers, and directories a failed cleanup left there with their
 * whiteouts, are removed by the next mount; they used to stay for good.
 * Only #lfs-* names, and of directories only those holding nothing but
 * whiteouts, which is all layerfs ever leaves in one.
 */
TEST_F(ns, leftovers_in_the_work_dir_are_removed_at_mount)
{
	static const char *const work[] = {
		"#lfs-0-1=data",
		"#lfs-0-2->gone",
		"#lfs-0-3/.wh.f=",
		"#lfs-0-3/.wh..wh..opq=",
		"#lfs-0-3/g@0:0",
		"#lfs-0-4/",
		"#lfs-0-5/.wh.f=",
		"#lfs-0-5/keep=data",
		"notes=mine",
		NULL
	};

	SKIP_IF_OVERLAY("layerfs's work dir");
	ASSERT_EQ(0, lfs_stack_umount(&NS->u.s));
	ASSERT_EQ(0, lfs_build(NS->u.work, work));
	ASSERT_EQ(0, lfs_upper_mount(&NS->u)) {
		TH_LOG("%s", NS->u.s.log);
	}
	EXPECT_STREQ("#lfs-0-5/ notes", lfs_ls(NS->u.work));
	EXPECT_STREQ(".wh.f keep", lfs_ls(lfs_in_scratch(&NS->u.s, "work/#lfs-0-5")));
	BOTH(
		ASSERT_EQ(0, mkdir(P("d/new"), 0755));
		ASSERT_EQ(0, pwrite_pattern(P("big"), 100, 10, 30, 0));
	);
	CHECK_TREES();
}

/* cachestat(2), which glibc 2.36 has no wrapper for. */
struct cachestat_range {
	uint64_t off, len;
};

struct cachestat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted;
	uint64_t nr_recently_evicted;
};

#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

/*
 * fsync through a read-only fd makes the file durable, as on any
 * filesystem (coreutils' "sync FILE" opens it read-only).  It returned 0
 * and did nothing for every read-only fd.  cachestat(2) of the upper
 * file counts its dirty pages.
 */
TEST_F(ns, fsync_through_a_read_only_fd_writes_the_upper_file_back)
{
	struct cachestat_range all = { 0, 0 };
	struct cachestat cs;
	char buf[65536];
	int fd, ufd;

	if (!strcmp(lfs_fstype(), "tmpfs"))
		SKIP(return, "tmpfs writes nothing back");
	fd = open(MNT("d/synced"), O_WRONLY | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	lfs_pattern(buf, 0, sizeof(buf), 41);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ((ssize_t)sizeof(buf), write(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, close(fd));
	ufd = open(UPPER("d/synced"), O_RDONLY);
	ASSERT_LE(0, ufd);
	if (syscall(__NR_cachestat, ufd, &all, &cs, 0))
		SKIP(return, "cachestat: %s", strerror(errno));
	if (!cs.nr_dirty)
		SKIP(return, "written back before the test looked");

	fd = open(MNT("d/synced"), O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, syscall(__NR_cachestat, ufd, &all, &cs, 0));
	EXPECT_EQ(0, cs.nr_dirty + cs.nr_writeback);
	close(ufd);
}

/*
 * An fd opened read-only while the file was lower reads what the file holds
 * after a copy-up that copied no data (another fd's O_TRUNC, truncate to 0):
 * data, size for SEEK_END and mmap.  Before, it kept reading the lower file.
 */
TEST_F(ns, a_read_only_fd_follows_a_copy_up_without_data)
{
	BOTH(
		char buf[64];
		int ro1 = open(P("small"), O_RDONLY);
		int ro2 = open(P("solo"), O_RDONLY);
		int fd;
		void *m;

		ASSERT_LE(0, ro1);
		ASSERT_LE(0, ro2);
		fd = open(P("small"), O_WRONLY | O_TRUNC);
		ASSERT_LE(0, fd);
		ASSERT_EQ(3, write(fd, "new", 3));
		ASSERT_EQ(0, close(fd));
		ASSERT_EQ(3, pread(ro1, buf, sizeof(buf), 0));
		EXPECT_EQ(0, memcmp(buf, "new", 3));
		EXPECT_EQ(3, lseek(ro1, 0, SEEK_END));
		m = mmap(NULL, 3, PROT_READ, MAP_SHARED, ro1, 0);
		ASSERT_NE(MAP_FAILED, m);
		/* overlayfs maps the file the fd was opened on */
		if (!lfs_is_overlay() || side_)
			EXPECT_EQ(0, memcmp(m, "new", 3));
		munmap(m, 3);

		ASSERT_EQ(0, truncate(P("solo"), 0));
		EXPECT_EQ(0, pread(ro2, buf, sizeof(buf), 0));
		ASSERT_EQ(0, pwrite_pattern(P("solo"), 0, 5, 0, O_APPEND));
		EXPECT_EQ(5, read(ro2, buf, sizeof(buf)));
		EXPECT_EQ(0, fsync(ro2));
		ASSERT_EQ(0, close(ro1));
		ASSERT_EQ(0, close(ro2));
	);
	CHECK_TREES();
}

/*
 * A lower file unlinked while an fd holds it open stays a file: fchmod,
 * a write through /proc/self/fd and reads work on it, and its name stays
 * removed.  Before, the copy-up these need put the file back under its
 * old name, beside its whiteout, so it showed again.
 */
TEST_F(ns, a_lower_file_changed_through_an_fd_after_unlink_stays_unlinked)
{
	SKIP_IF_OVERLAY("overlayfs fails fchmod of an unlinked lower file");
	BOTH(
		char proc[64], buf[8];
		struct stat st;
		int fd = open(P("solo"), O_RDONLY), wfd;

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, unlink(P("solo")));
		ASSERT_EQ(0, ERR(fchmod(fd, 0600)));
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		wfd = open(proc, O_WRONLY);
		ASSERT_LE(0, wfd);
		ASSERT_EQ(6, pwrite(wfd, "orphan", 6, 4096));
		ASSERT_EQ(0, fsync(wfd));
		ASSERT_EQ(0, close(wfd));
		ASSERT_EQ(6, pread(fd, buf, 6, 4096));
		EXPECT_EQ(0, memcmp(buf, "orphan", 6));
		ASSERT_EQ(0, fstat(fd, &st));
		EXPECT_EQ(0, st.st_nlink);
		EXPECT_EQ(0600, st.st_mode & 07777);
		EXPECT_EQ(HL_SIZE, st.st_size);
		EXPECT_EQ(ENOENT, lfs_lstat_errno(P("solo")));
		ASSERT_EQ(0, close(fd));
	);
	CHECK_TREES();
}

#define RACE_FILES 200

/* Both sides of a race reach step @i before either goes on. */
static void race_step(unsigned int *arrived, unsigned int i)
{
	__atomic_add_fetch(arrived, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(arrived, __ATOMIC_SEQ_CST) < 2 * (i + 1))
		;
}

/*
 * unlink of a lower file while another process opens it for writing (a
 * copy-up): the name never comes back, whichever comes first.  Before,
 * unlink could read "no upper file" while the copy-up was under way and
 * write its whiteout, and the copy-up then installed the file beside it.
 */
TEST_F_TIMEOUT(ns, unlink_racing_with_copy_up_never_brings_a_name_back, 300)
{
	unsigned int *arrived;
	char name[64], *ls;
	int status, unlinked = 0;
	pid_t pid;

	ASSERT_EQ(0, lfs_stack_umount(&NS->u.s));
	ASSERT_EQ(0, lfs_mkdir_p(lfs_in_layer(&NS->u.s, 1, "race")));
	for (int i = 0; i < RACE_FILES; i++) {
		snprintf(name, sizeof(name), "race/f%03d", i);
		ASSERT_EQ(0, lfs_write_file(lfs_in_layer(&NS->u.s, 1, name), "data", 4));
	}
	ASSERT_EQ(0, lfs_rm_rf(NS->snap[1]));
	ASSERT_EQ(0, lfs_copy_tree(NS->u.s.layer[1], NS->snap[1]));
	ASSERT_EQ(0, mkdir(path_in(NS->model, "race"), 0755));
	ASSERT_EQ(0, lfs_upper_mount(&NS->u)) {
		TH_LOG("%s", NS->u.s.log);
	}

	arrived = mmap(NULL, sizeof(*arrived), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, arrived);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int odd = 0;

		/* Every step, whatever happens: the other side waits on it. */
		for (int i = 0; i < RACE_FILES; i++) {
			int fd;

			snprintf(name, sizeof(name), "race/f%03d", i);
			race_step(arrived, i);
			fd = open(MNT(name), O_WRONLY);
			if (fd < 0 && errno != ENOENT && !odd++)
				fprintf(stderr, "# open %s: %s\n", name, strerror(errno));
			if (fd >= 0)
				close(fd);
		}
		_exit(!!odd);
	}
	for (int i = 0; i < RACE_FILES; i++) {
		snprintf(name, sizeof(name), "race/f%03d", i);
		race_step(arrived, i);
		unlinked += !unlink(MNT(name));
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	/* overlayfs fails some of the opens with EEXIST; layerfs none. */
	if (!lfs_is_overlay())
		EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(RACE_FILES, unlinked);
	ls = lfs_ls(MNT("race"));
	ASSERT_NE(NULL, ls);
	EXPECT_STREQ("", ls);
	free(ls);
	munmap(arrived, sizeof(*arrived));
	CHECK_TREES();
}

/* An access ACL: owner rwx, user 1001 r, group rwx, mask rwx, other none. */
static const struct {
	uint32_t version;
	struct { uint16_t tag, perm; uint32_t id; } __attribute__((packed)) e[5];
} __attribute__((packed)) acl_1001 = {
	.version = 2,
	.e = {
		{ 0x01, 7, 0xffffffff },	/* ACL_USER_OBJ */
		{ 0x02, 4, 1001 },		/* ACL_USER 1001 */
		{ 0x04, 7, 0xffffffff },	/* ACL_GROUP_OBJ */
		{ 0x10, 7, 0xffffffff },	/* ACL_MASK */
		{ 0x20, 0, 0xffffffff },	/* ACL_OTHER */
	},
};

/*
 * @op(@fd, @arg) in a child running as uid/gid 1000, then @fd closed: 0,
 * the errno @op returned, or -1 if the child did not exit.  @fd is opened
 * by the caller, as root, so that only the call itself is the user's.
 */
static int on_fd_as_1000(int fd, int (*op)(int fd, const void *arg),
			 const void *arg)
{
	int status;
	pid_t pid;

	if (fd < 0)
		return errno;
	pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(1000, 1000, 1000) ||
		    setresuid(1000, 1000, 1000))
			_exit(255);
		_exit(op(fd, arg));
	}
	close(fd);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int set_acl_1001(int fd, const void *arg)
{
	(void)arg;
	return fsetxattr(fd, "system.posix_acl_access", &acl_1001,
			 sizeof(acl_1001), 0) ? errno : 0;
}

/* fsetxattr() of acl_1001 on @path, as uid/gid 1000: 0 or errno. */
static int set_acl_as_1000(const char *path)
{
	return on_fd_as_1000(open(path, O_RDONLY | O_CLOEXEC), set_acl_1001,
			     NULL);
}

/*
 * An access ACL set by the owner, who is not in the file's group, drops
 * S_ISGID, as posix_acl_update_mode() does on any filesystem: the upper
 * filesystem, asked with the mounter's credentials, kept it.
 */
TEST_F(ns, an_acl_set_by_an_owner_outside_the_group_drops_setgid)
{
	struct stat st[2];

	BOTH(
		ASSERT_EQ(0, chown(P("small"), 1000, 2000));
		ASSERT_EQ(0, chmod(P("small"), 02770));
		ASSERT_EQ(0, set_acl_as_1000(P("small")));
		ASSERT_EQ(0, stat(P("small"), &st[side_]));
	);
	EXPECT_EQ(st[1].st_mode, st[0].st_mode);
	EXPECT_EQ(0, st[0].st_mode & S_ISGID);
	CHECK_TREES();
}

struct pwrite_arg {
	const char *buf;
	size_t len;
	off_t off;
};

static int pwrite_all(int fd, const void *arg)
{
	const struct pwrite_arg *a = arg;

	return pwrite(fd, a->buf, a->len, a->off) == (ssize_t)a->len ? 0 : EIO;
}

/*
 * pwrite of @len bytes of stream @seed at @off of @path, opened for
 * writing here, by a child running as uid/gid 1000: 0 or errno.
 */
static int pwrite_as_1000(const char *path, off_t off, size_t len,
			  uint32_t seed)
{
	char buf[4096];
	struct pwrite_arg a = { buf, len < sizeof(buf) ? len : sizeof(buf),
				off };

	lfs_pattern(buf, off, a.len, seed);
	return on_fd_as_1000(open(path, O_WRONLY | O_CLOEXEC), pwrite_all, &a);
}

/*
 * A write by a user without CAP_FSETID clears S_ISUID and S_ISGID, into a
 * partial file straight into the upper file (a granule there already) and
 * through the page cache (a new granule), and into an upper file; and
 * again after a chmod set them once more, though the write before found
 * nothing to clear (S_NOSEC): layerfs writes the upper file with the
 * mounter's credentials, which would keep them.
 */
TEST_F(ns, a_write_by_a_user_clears_setuid_of_partial_and_upper_files)
{
	static const struct {
		const char *name;
		off_t off;
		size_t len;
	} w[] = {
		{ "big", 0, 4096 },		/* partial, granule in upper */
		{ "big", 1000000, 100 },	/* partial, page cache */
		{ "big", 8192, 4096 },
		{ "newf", 0, 4096 },		/* upper file */
		{ "newf", 100, 100 },
	};
	struct stat st;

	BOTH(
		ASSERT_EQ(0, pwrite_pattern(P("big"), 0, 4096, 81, 0));
		ASSERT_EQ(0, lfs_write_file(P("newf"), "new", 3));
		for (unsigned int i = 0; i < ARRAY_SIZE(w); i++) {
			ASSERT_EQ(0, chmod(P(w[i].name), 06777));
			ASSERT_EQ(0, pwrite_as_1000(P(w[i].name), w[i].off,
						    w[i].len, 82 + i));
			ASSERT_EQ(0, stat(P(w[i].name), &st));
			EXPECT_EQ(0777, st.st_mode & 07777) {
				TH_LOG("%s after write %u: mode %o",
				       side_ ? "model" : "layerfs", i,
				       st.st_mode & 07777);
			}
			/* Nothing to clear: the next write may skip the check. */
			ASSERT_EQ(0, pwrite_as_1000(P(w[i].name), w[i].off,
						    w[i].len, 90 + i));
		}
	);
	CHECK_TREES();
}

TEST_F(ns, symlinks_new_replaced_and_long)
{
	/* past ext4's inline targets; xfs takes at most 1024 bytes */
	char longt[1001];

	memset(longt, 'x', sizeof(longt) - 1);
	longt[sizeof(longt) - 1] = '\0';
	for (size_t i = 100; i < sizeof(longt) - 1; i += 100)
		longt[i] = '/';
	BOTH(
		ASSERT_EQ(0, symlink("../top", P("d/up")));
		ASSERT_EQ(0, symlink(longt, P("tree/long"))) {
			TH_LOG("1000-byte target: %s", strerror(errno));
		}
		ASSERT_EQ(EEXIST, ERR(symlink("x", P("l"))));
		ASSERT_EQ(0, unlink(P("l")));
		ASSERT_EQ(0, symlink("d/a", P("l")));
		ASSERT_EQ(0, symlink("dangling", P("hidden/x")));
	);
	CHECK_TREES();
}

TEST_F(ns, hard_links_to_lower_and_new_files_are_one_inode)
{
	uint64_t ino = lfs_ino(MNT("d/a"));

	BOTH(
		ASSERT_EQ(0, link(P("d/a"), P("d/a-link")));
		ASSERT_EQ(0, link(P("d/a"), P("tree/a-link2")));
		ASSERT_EQ(0, lfs_write_file(P("newf"), "1", 1));
		ASSERT_EQ(0, link(P("newf"), P("d/newf-link")));
		ASSERT_EQ(EEXIST, ERR(link(P("d/a"), P("d/b"))));
		ASSERT_EQ(EPERM, ERR(link(P("tree"), P("tree-link"))));
		/* a write through one name shows through the others */
		ASSERT_EQ(0, pwrite_pattern(P("tree/a-link2"), 3, 10, 9, 0));
	);
	/* linking copies up: still the same file */
	EXPECT_EQ(ino, lfs_ino(MNT("d/a")));
	EXPECT_EQ(ino, lfs_ino(MNT("d/a-link")));
	CHECK_TREES();
	EXPECT_EQ(ino, lfs_ino(MNT("tree/a-link2")));
}

TEST_F(ns, unlink_lower_entries_stays_unlinked)
{
	BOTH(
		ASSERT_EQ(0, unlink(P("d/b")));		/* L1 only */
		ASSERT_EQ(0, unlink(P("both")));	/* in both layers */
		ASSERT_EQ(0, unlink(P("l")));		/* symlink */
		ASSERT_EQ(0, unlink(P("fifo")));
		ASSERT_EQ(0, unlink(P("sock")));
		ASSERT_EQ(ENOENT, ERR(unlink(P("d/b"))));
		ASSERT_EQ(ENOENT, ERR(unlink(P("hidden/x"))));
		ASSERT_EQ(EISDIR, ERR(unlink(P("tree"))));
	);
	CHECK_TREES();
}

#define LISTED 3000		/* three getdents buffers of glibc */

/*
 * readdir while unlinking what it returns (systemd's rm_rf, many a C
 * program) meets every entry exactly once, and so does a listing while
 * names are created.  Before, every change rebuilt the listing and the next
 * getdents went on at its old index into the new one: a third of the
 * entries were never seen and the rmdir after failed with ENOTEMPTY.
 */
TEST_F_TIMEOUT(ns, readdir_while_unlinking_meets_every_entry_once, 300)
{
	static unsigned char seen[LISTED];
	char name[64];

	BOTH(
		struct dirent *de;
		unsigned int n = 0;
		DIR *d;

		memset(seen, 0, sizeof(seen));
		ASSERT_EQ(0, mkdir(P("many"), 0755));
		for (int i = 0; i < LISTED; i++) {
			snprintf(name, sizeof(name), "many/f%04d", i);
			ASSERT_EQ(0, lfs_write_file(P(name), "", 0));
		}
		d = opendir(P("many"));
		ASSERT_NE(NULL, d);
		while ((de = readdir(d))) {
			if (de->d_name[0] != 'f')
				continue;
			EXPECT_EQ(0, seen[atoi(de->d_name + 1)]++);
			ASSERT_EQ(0, unlinkat(dirfd(d), de->d_name, 0));
			/* new names may show or not, old ones once */
			if (!(n++ % 100)) {
				snprintf(name, sizeof(name), "many/new%u", n);
				ASSERT_EQ(0, lfs_write_file(P(name), "", 0));
			}
		}
		closedir(d);
		EXPECT_EQ(LISTED, n);
		ASSERT_EQ(0, lfs_rm_rf(P("many")));
		/* and a merged lower directory, emptied the same way */
		d = opendir(P("tree/sub"));
		ASSERT_NE(NULL, d);
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				ASSERT_EQ(0, unlinkat(dirfd(d), de->d_name, 0));
		closedir(d);
		ASSERT_EQ(0, rmdir(P("tree/sub")));
	);
	CHECK_TREES();
}

TEST_F(ns, rmdir_enotempty_is_judged_on_the_merged_view)
{
	BOTH(
		ASSERT_EQ(ENOTEMPTY, ERR(rmdir(P("d"))));
		ASSERT_EQ(ENOTEMPTY, ERR(rmdir(P("ldir"))));	/* L1 only */
		ASSERT_EQ(ENOTDIR, ERR(rmdir(P("d/a"))));
		/* empty in the merged view: L0 whites out L1's only entry */
		ASSERT_EQ(0, rmdir(P("hidden")));
		ASSERT_EQ(0, rmdir(P("e")));
		/* emptied through the mount: only whiteouts are left */
		ASSERT_EQ(0, unlink(P("tree/sub2/z")));
		ASSERT_EQ(0, rmdir(P("tree/sub2")));
		/* a new entry in the upper layer alone makes it non-empty */
		ASSERT_EQ(0, mkdir(P("n"), 0755));
		ASSERT_EQ(0, lfs_write_file(P("n/f"), "", 0));
		ASSERT_EQ(ENOTEMPTY, ERR(rmdir(P("n"))));
		/* and the lower part of a merged dir: */
		ASSERT_EQ(0, unlink(P("ldir/f")));
		ASSERT_EQ(0, unlink(P("ldir/g/h")));
		ASSERT_EQ(ENOTEMPTY, ERR(rmdir(P("ldir"))));
		ASSERT_EQ(0, rmdir(P("ldir/g")));
		ASSERT_EQ(0, rmdir(P("ldir")));
	);
	CHECK_TREES();
}

TEST_F(ns, rmdir_then_mkdir_shows_an_empty_directory)
{
	BOTH(
		ASSERT_EQ(0, lfs_rm_rf(P("tree")));
		ASSERT_EQ(0, mkdir(P("tree"), 0700));
		ASSERT_EQ(0, lfs_write_file(P("tree/only"), "only", 4));
		/* file replaced by a directory and dir by a file */
		ASSERT_EQ(0, unlink(P("small")));
		ASSERT_EQ(0, mkdir(P("small"), 0755));
		ASSERT_EQ(0, lfs_rm_rf(P("ldir")));
		ASSERT_EQ(0, lfs_write_file(P("ldir"), "file now", 8));
	);
	{
		char *ls = lfs_ls(MNT("tree"));

		ASSERT_NE(NULL, ls);
		EXPECT_STREQ("only", ls);
		free(ls);
	}
	CHECK_TREES();
}

TEST_F(ns, rename_files_keeps_their_inode)
{
	uint64_t a = lfs_ino(MNT("d/a")), c = lfs_ino(MNT("d/c"));
	uint64_t big = lfs_ino(MNT("big")), both = lfs_ino(MNT("both"));

	BOTH(
		ASSERT_EQ(0, rename(P("d/a"), P("d/a2")));
		ASSERT_EQ(0, rename(P("d/c"), P("tree/sub/c")));
		ASSERT_EQ(0, rename(P("big"), P("d/big")));
		ASSERT_EQ(0, rename(P("both"), P("top")));	/* lower over lower */
		ASSERT_EQ(0, lfs_write_file(P("fresh"), "fresh", 5));
		ASSERT_EQ(0, rename(P("fresh"), P("small")));	/* new over lower */
		ASSERT_EQ(0, rename(P("l"), P("d/l")));
		ASSERT_EQ(ENOENT, ERR(rename(P("d/a"), P("d/a3"))));
		ASSERT_EQ(EISDIR, ERR(rename(P("d/b"), P("tree"))));
	);
	EXPECT_EQ(a, lfs_ino(MNT("d/a2")));
	EXPECT_EQ(c, lfs_ino(MNT("tree/sub/c")));
	EXPECT_EQ(big, lfs_ino(MNT("d/big")));
	EXPECT_EQ(both, lfs_ino(MNT("top")));
	CHECK_TREES();
	EXPECT_EQ(a, lfs_ino(MNT("d/a2")));
	EXPECT_EQ(big, lfs_ino(MNT("d/big")));
}

TEST_F(ns, rename_noreplace)
{
	BOTH(
		ASSERT_EQ(EEXIST, ERR(renameat2(AT_FDCWD, P("d/a"), AT_FDCWD,
						P("d/b"), RENAME_NOREPLACE)));
		ASSERT_EQ(EEXIST, ERR(renameat2(AT_FDCWD, P("d/a"), AT_FDCWD,
						P("tree"), RENAME_NOREPLACE)));
		/* whited out in a lower layer or deleted in the upper: free */
		ASSERT_EQ(0, renameat2(AT_FDCWD, P("d/a"), AT_FDCWD,
				       P("hidden/x"), RENAME_NOREPLACE));
		ASSERT_EQ(0, unlink(P("top")));
		ASSERT_EQ(0, renameat2(AT_FDCWD, P("d/b"), AT_FDCWD,
				       P("top"), RENAME_NOREPLACE));
		ASSERT_EQ(0, renameat2(AT_FDCWD, P("ldir"), AT_FDCWD,
				       P("d/ldir"), RENAME_NOREPLACE));
	);
	CHECK_TREES();
}

/*
 * A rename that copies a lower tree up holds other inodes while it walks
 * the tree: RENAME_EXCHANGE of a lower directory with a file holds the
 * file, and link(2) of that file into the directory holds the directory
 * and waits for the file.  The walk waited for the directory: both hung
 * for good.  Now a busy tree makes the rename fail (EXDEV); as the names
 * swap, the links fail as well at times; nothing may hang.
 */
TEST_F(ns, exchanging_a_lower_directory_while_linking_into_it_does_not_hang)
{
	const char *names[2] = { "tree", "solo" };
	int swaps = 0, busy = 0, status, i;
	time_t end = time(NULL) + 4;
	char from[PATH_MAX], to[PATH_MAX];
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		while (time(NULL) < end) {
			for (i = 0; i < 2; i++) {
				snprintf(from, sizeof(from), "%s", MNT(names[i]));
				snprintf(to, sizeof(to), "%s/g", MNT(names[!i]));
				if (!link(from, to))
					unlink(to);
			}
		}
		_exit(0);
	}
	while (time(NULL) < end) {
		if (!renameat2(AT_FDCWD, MNT("tree"), AT_FDCWD, MNT("solo"),
			       RENAME_EXCHANGE))
			swaps++;
		else if (errno == EXDEV)
			busy++;
		else
			break;
	}
	EXPECT_EQ(0, time(NULL) < end ? errno : 0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	TH_LOG("%d exchanges, %d refused as busy", swaps, busy);
	EXPECT_LT(0, swaps + busy);
	/* The mount still answers, both names are there. */
	EXPECT_EQ(0, access(MNT("tree"), F_OK));
	EXPECT_EQ(0, access(MNT("solo"), F_OK));
}

TEST_F(ns, rename_exchange)
{
	BOTH(
		ASSERT_EQ(0, renameat2(AT_FDCWD, P("d/a"), AT_FDCWD, P("d/b"),
				       RENAME_EXCHANGE));
		/* a file and a directory, both lower */
		ASSERT_EQ(0, renameat2(AT_FDCWD, P("top"), AT_FDCWD, P("e"),
				       RENAME_EXCHANGE));
		/* two merged directories */
		ASSERT_EQ(0, renameat2(AT_FDCWD, P("tree"), AT_FDCWD, P("d"),
				       RENAME_EXCHANGE));
		/* a new file and a lower one, across directories */
		ASSERT_EQ(0, lfs_write_file(P("newf"), "new", 3));
		ASSERT_EQ(0, renameat2(AT_FDCWD, P("newf"), AT_FDCWD, P("d/t0"),
				       RENAME_EXCHANGE));
		ASSERT_EQ(ENOENT, ERR(renameat2(AT_FDCWD, P("small"), AT_FDCWD,
						P("hidden/x"), RENAME_EXCHANGE)));
	);
	CHECK_TREES();
}

TEST_F(ns, rename_lower_directory)
{
	BOTH(
		/* merged from both layers, with subdirectories */
		ASSERT_EQ(0, rename(P("tree"), P("moved")));
		/* from L1 only, into a lower directory */
		ASSERT_EQ(0, rename(P("ldir"), P("d/ldir2")));
		ASSERT_EQ(0, rename(P("moved/sub"), P("moved/sub-renamed")));
		ASSERT_EQ(0, lfs_write_file(P("moved/sub-renamed/new"), "n", 1));
		ASSERT_EQ(0, unlink(P("moved/t1")));
		/* the old name is free and nothing lower shows through it */
		ASSERT_EQ(0, mkdir(P("tree"), 0755));
		/* over an empty lower directory; not over a non-empty one */
		ASSERT_EQ(0, rename(P("d/ldir2"), P("e")));
		{
			int err = ERR(rename(P("moved"), P("d")));

			ASSERT_TRUE(err == ENOTEMPTY || err == EEXIST) {
				TH_LOG("rename over a non-empty dir: %s", strerror(err));
			}
		}
		ASSERT_EQ(EINVAL, ERR(rename(P("moved"), P("moved/sub2/in"))));
	);
	CHECK_TREES();
	/* and again on the renamed tree after remount */
	BOTH(
		ASSERT_EQ(0, rename(P("moved"), P("tree/back")));
	);
	CHECK_TREES();
}

TEST_F(ns, metadata_changes_on_lower_entries)
{
	struct timespec ts[2] = { { .tv_sec = 1000000, .tv_nsec = 5000 },
				  { .tv_sec = 2000000, .tv_nsec = 7000 } };
	struct stat st;

	BOTH(
		ASSERT_EQ(0, chmod(P("d/b"), 0600));
		ASSERT_EQ(0, chmod(P("tree"), 0700));
		ASSERT_EQ(0, chmod(P("big"), 04755));
		ASSERT_EQ(0, chown(P("d/a"), 1234, 5678));
		ASSERT_EQ(0, lchown(P("l"), 42, 43));
		ASSERT_EQ(0, chown(P("ldir/g"), 7, 8));
		ASSERT_EQ(0, setxattr(P("d/b"), "user.new", "v", 1, XATTR_CREATE));
		ASSERT_EQ(0, setxattr(P("top"), "user.k", "replaced", 8, XATTR_REPLACE));
		ASSERT_EQ(0, setxattr(P("tree/sub"), "user.dir", "dv", 2, 0));
		ASSERT_EQ(0, removexattr(P("d/c"), "user.c"));
		ASSERT_EQ(ENODATA, ERR(removexattr(P("d/c"), "user.c")));
		ASSERT_EQ(0, utimensat(AT_FDCWD, P("solo"), ts, 0));
	);
	CHECK_TREES();
	ASSERT_EQ(0, stat(MNT("solo"), &st));
	EXPECT_EQ(ts[1].tv_sec, st.st_mtim.tv_sec);
	EXPECT_EQ(ts[1].tv_nsec, st.st_mtim.tv_nsec);
	/* the big file's data is all there after a metadata-only copy-up */
	EXPECT_TRUE(same_bytes(lfs_in_layer(&NS->u.s, 1, "big"), MNT("big"), 0, BIG_SIZE));
}

/*
 * A write into a partial file's page cache reaches the upper file only at
 * writeback; stat must show the change at once, as for any file.  (At the
 * end of the file: a write there never goes straight to the upper file.)
 */
TEST_F(ns, a_write_into_a_partial_file_changes_its_mtime_at_once)
{
	struct timespec old[2] = { { .tv_sec = 1000000 },
				   { .tv_sec = 1000000 } };
	struct stat st;
	int fd;

	BOTH(
		fd = open(P("big"), O_WRONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, futimens(fd, old));
		ASSERT_EQ(10, pwrite(fd, "0123456789", 10, BIG_SIZE));
		ASSERT_EQ(0, fstat(fd, &st));
		EXPECT_LT(old[1].tv_sec, st.st_mtim.tv_sec);
		ASSERT_EQ(0, stat(P("big"), &st));
		EXPECT_LT(old[1].tv_sec, st.st_mtim.tv_sec);
		ASSERT_EQ(0, close(fd));
	);
	CHECK_TREES();
}

/*
 * Times set after writes (cp -p, rsync --inplace, tar) are the file's
 * times: writing the page cache back later must not make them "now".
 */
TEST_F(ns, times_set_after_writes_into_a_partial_file_stay)
{
	struct timespec ts[2] = { { .tv_sec = 2000000, .tv_nsec = 3000 },
				  { .tv_sec = 3000000, .tv_nsec = 4000 } };
	struct stat st;
	int fd;

	BOTH(
		fd = open(P("big"), O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(10, pwrite(fd, "0123456789", 10, 5));
		ASSERT_EQ(10, pwrite(fd, "0123456789", 10, BIG_SIZE));
		ASSERT_EQ(0, futimens(fd, ts));
		ASSERT_EQ(0, fsync(fd));
		ASSERT_EQ(0, fstat(fd, &st));
		EXPECT_EQ(ts[1].tv_sec, st.st_mtim.tv_sec);
		EXPECT_EQ(ts[1].tv_nsec, st.st_mtim.tv_nsec);
		ASSERT_EQ(0, close(fd));
	);
	CHECK_TREES();
	ASSERT_EQ(0, stat(MNT("big"), &st));
	EXPECT_EQ(ts[1].tv_sec, st.st_mtim.tv_sec);
	EXPECT_EQ(ts[1].tv_nsec, st.st_mtim.tv_nsec);
}

/*
 * The map of a partial file is written with write access to the upper
 * mount: while the upper filesystem is frozen (a snapshot being taken)
 * fsync waits, where it wrote the map into the frozen filesystem (ext4
 * journals it anyway, with a warning).  A whole-granule write goes
 * straight to the upper file, so that only the map is left for fsync.
 */
TEST_F(ns, fsync_waits_for_a_frozen_upper_filesystem_to_write_a_map)
{
	char buf[4096];
	int fd, ufd, status;
	pid_t pid;

	SKIP_IF_OVERLAY("overlayfs has no map: its fsync has nothing to write");
	memset(buf, 'f', sizeof(buf));
	fd = open(MNT("big"), O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(4096, pwrite(fd, buf, sizeof(buf), 8192));
	ufd = open(NS->u.upper, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, ufd);
	if (ioctl(ufd, FIFREEZE, 0)) {
		close(ufd);
		close(fd);
		SKIP(return, "FIFREEZE of the upper filesystem: %s",
		     strerror(errno));
	}
	pid = fork();
	if (!pid)
		_exit(fsync(fd) ? errno : 0);
	usleep(500 * 1000);
	/* Thaw before any assertion can end the test with it frozen. */
	status = waitpid(pid, NULL, WNOHANG);
	ASSERT_EQ(0, ioctl(ufd, FITHAW, 0));
	EXPECT_EQ(0, status) {
		TH_LOG("fsync returned while the upper filesystem was frozen");
	}
	if (!status) {
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	}
	close(ufd);
	close(fd);
	fd = open(path_in(NS->model, "big"), O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(4096, pwrite(fd, buf, sizeof(buf), 8192));
	close(fd);
	CHECK_TREES();
}

TEST_F(ns, remount_read_only_and_back)
{
	ASSERT_EQ(0, pwrite_pattern(MNT("big"), 5000, 10, 7, 0));
	ASSERT_EQ(0, pwrite_pattern(path_in(NS->model, "big"), 5000, 10, 7, 0));
	ASSERT_EQ(0, lfs_upper_remount(&NS->u, true));
	EXPECT_EQ(EROFS, ERR(open(MNT("small"), O_WRONLY)));
	EXPECT_EQ(EROFS, ERR(open(MNT("big"), O_RDWR)));
	EXPECT_EQ(EROFS, ERR(open(MNT("d/new"), O_CREAT | O_WRONLY, 0644)));
	EXPECT_EQ(EROFS, ERR(unlink(MNT("d/a"))));
	EXPECT_EQ(EROFS, ERR(mkdir(MNT("x"), 0755)));
	EXPECT_EQ(EROFS, ERR(chmod(MNT("small"), 0600)));
	{
		char why[512];

		EXPECT_EQ(0, lfs_tree_compare_rw(NS->model, NS->u.s.mnt, why, sizeof(why))) {
			TH_LOG("read-only: %s", why);
		}
	}
	ASSERT_EQ(0, lfs_upper_remount(&NS->u, false));
	BOTH(
		ASSERT_EQ(0, pwrite_pattern(P("small"), 50, 100, 8, 0));
		ASSERT_EQ(0, unlink(P("d/a")));
	);
	CHECK_TREES();
}

/* ---------------------------------------------------------------------- */
/* Layerfs only: the upper directory in OCI form                           */

static int no_char_whiteouts(const char *path, const char *rel,
			     const struct stat *st, void *arg)
{
	(void)path;
	if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0)) {
		snprintf(arg, 256, "%s", rel);
		return 1;
	}
	return 0;
}

static bool is_empty_regular(const char *path)
{
	struct stat st;

	return !lstat(path, &st) && S_ISREG(st.st_mode) && st.st_size == 0;
}

TEST_F(ns, deletions_are_oci_whiteouts_in_the_upper_dir)
{
	char found[256] = "";

	SKIP_IF_OVERLAY("OCI whiteouts in the upper dir");
	BOTH(
		ASSERT_EQ(0, unlink(P("d/b")));
		ASSERT_EQ(0, unlink(P("both")));
		ASSERT_EQ(0, rename(P("d/a"), P("d/a2")));
		ASSERT_EQ(0, lfs_rm_rf(P("ldir")));
		ASSERT_EQ(0, mkdir(P("ldir"), 0755));
		ASSERT_EQ(0, lfs_rm_rf(P("tree/sub")));
	);
	CHECK_TREES();
	ASSERT_EQ(0, lfs_stack_umount(&NS->u.s));
	EXPECT_TRUE(is_empty_regular(UPPER("d/.wh.b")));
	EXPECT_TRUE(is_empty_regular(UPPER(".wh.both")));
	EXPECT_TRUE(is_empty_regular(UPPER("d/.wh.a")));
	EXPECT_TRUE(is_empty_regular(UPPER("tree/.wh.sub")));
	EXPECT_TRUE(is_empty_regular(UPPER("ldir/.wh..wh..opq")));
	EXPECT_EQ(0, lfs_walk(NS->u.upper, no_char_whiteouts, found)) {
		TH_LOG("overlay-style whiteout in the upper dir: %s", found);
	}
}

/*
 * A lower name of 252 to 255 bytes leaves no room for ".wh." in front: no
 * OCI whiteout can hide it, so removing it, or moving it or a directory
 * over it, fails with ENAMETOOLONG.  Before, the upper layer changed first
 * (the written file unlinked, the file or directory moved) and only the
 * whiteout failed: the lower object came back and the data was gone.
 */
TEST_F(ns, names_no_whiteout_can_hide_are_refused_before_anything_changes)
{
	char lf_f[PATH_MAX];

	SKIP_IF_OVERLAY("overlayfs whiteouts are devices: every name fits");
	snprintf(lf_f, sizeof(lf_f), "%s/f", long_dir);
	BOTH(
		ASSERT_EQ(0, pwrite_pattern(P(long_file), 3, 5000, 71, 0));
		ASSERT_EQ(0, unlink(P(lf_f)));
		ASSERT_EQ(0, unlink(P(long_fits)));
		ASSERT_EQ(0, mkdir(P("long/new"), 0755));
		ASSERT_EQ(0, lfs_write_file(P("long/s"), "s", 1));
		/* Two files swap names: nothing is left to hide. */
		ASSERT_EQ(0, renameat2(AT_FDCWD, P(long_file), AT_FDCWD,
				       P("long/s"), RENAME_EXCHANGE));
		ASSERT_EQ(0, renameat2(AT_FDCWD, P(long_file), AT_FDCWD,
				       P("long/s"), RENAME_EXCHANGE));
	);
	EXPECT_EQ(ENAMETOOLONG, ERR(unlink(MNT(long_file))));
	EXPECT_EQ(ENAMETOOLONG, ERR(rename(MNT(long_file), MNT("long/x"))));
	EXPECT_EQ(ENAMETOOLONG, ERR(rename(MNT(long_file), MNT("long/s"))));
	EXPECT_EQ(ENAMETOOLONG, ERR(rmdir(MNT(long_dir))));
	EXPECT_EQ(ENAMETOOLONG, ERR(rename(MNT(long_dir), MNT("long/y"))));
	/* A directory over it would merge with the lower one. */
	EXPECT_EQ(ENAMETOOLONG, ERR(rename(MNT("long/new"), MNT(long_dir))));
	EXPECT_EQ(ENAMETOOLONG, ERR(renameat2(AT_FDCWD, MNT("long/new"),
					      AT_FDCWD, MNT(long_file),
					      RENAME_EXCHANGE)));
	CHECK_TREES();
}

static int no_oci_whiteouts(const char *path, const char *rel,
			    const struct stat *st, void *arg)
{
	const char *base = strrchr(rel, '/');

	(void)path;
	(void)st;
	base = base ? base + 1 : rel;
	if (!strncmp(base, ".wh.", 4) && strcmp(base, ".wh..wh..opq")) {
		snprintf(arg, 256, "%s", rel);
		return 1;
	}
	return 0;
}

/*
 * A lower directory tree moved in the upper layer merges nothing below any
 * more (its top is opaque), and that holds for its directories already in
 * the cache too: removing what it holds writes no whiteout, and a name too
 * long for one goes as any other.  Before, those directories kept their
 * old lower stacks until evicted: each removal wrote a needless ".wh."
 * file, and a name of 252 bytes or more failed with ENAMETOOLONG.
 */
TEST_F(ns, a_moved_lower_tree_removes_its_entries_without_whiteouts)
{
	char lf[PATH_MAX], ld[PATH_MAX], ldf[PATH_MAX], lg[PATH_MAX];
	char found[256] = "";

	SKIP_IF_OVERLAY("OCI whiteouts in the upper dir");
	snprintf(lf, sizeof(lf), "moved/%s", long_file + 5);
	snprintf(ld, sizeof(ld), "moved/%s", long_dir + 5);
	snprintf(ldf, sizeof(ldf), "moved/%s/f", long_dir + 5);
	snprintf(lg, sizeof(lg), "moved/%s", long_fits + 5);
	BOTH(
		ASSERT_EQ(0, rename(P("long"), P("moved")));
		ASSERT_EQ(0, unlink(P(lf)));
		ASSERT_EQ(0, unlink(P(ldf)));
		ASSERT_EQ(0, rmdir(P(ld)));
		ASSERT_EQ(0, unlink(P(lg)));
		/* Another tree moved into it, then emptied in part. */
		ASSERT_EQ(0, rename(P("ldir"), P("moved/ldir")));
		ASSERT_EQ(0, unlink(P("moved/ldir/g/h")));
		ASSERT_EQ(0, rmdir(P("moved/ldir/g")));
	);
	EXPECT_EQ(0, lfs_walk(UPPER("moved"), no_oci_whiteouts, found)) {
		TH_LOG("whiteout in the moved tree: %s", found);
	}
	CHECK_TREES();
}

/*
 * Unmounts, and mounts again with the upper and work dirs on a new tmpfs
 * (mounted with @opts) at @name in the scratch dir.
 */
static void upper_on_tmpfs(struct __test_metadata *_metadata,
			   FIXTURE_DATA(ns) *self, const char *name,
			   const char *opts)
{
	char dir[PATH_MAX - 16];

	ASSERT_EQ(0, lfs_stack_umount(&NS->u.s));
	snprintf(dir, sizeof(dir), "%s/%s", NS->u.s.dir, name);
	ASSERT_EQ(0, mkdir(dir, 0755));
	ASSERT_EQ(0, mount("tmpfs", dir, "tmpfs", 0, opts));
	snprintf(NS->u.upper, sizeof(NS->u.upper), "%s/upper", dir);
	snprintf(NS->u.work, sizeof(NS->u.work), "%s/work", dir);
	ASSERT_EQ(0, mkdir(NS->u.upper, 0755));
	ASSERT_EQ(0, mkdir(NS->u.work, 0755));
	ASSERT_EQ(0, lfs_upper_mount(&NS->u)) {
		TH_LOG("%s", NS->u.s.log);
	}
}

/*
 * A whiteout that cannot be made (the upper filesystem is out of inodes)
 * fails unlink, rmdir and rename with ENOSPC before anything changed.
 * Before, unlink removed the upper file first, and rename moved it, so the
 * lower file came back under the old name with its old content.
 */
TEST_F(ns, a_whiteout_that_cannot_be_made_changes_nothing)
{
	char name[64];
	int fd, n, err, wh[2];

	/* A tmpfs upper over ext4 layers: inode numbers collide there. */
	SKIP_IF_OVERLAY("upper and lower on two filesystems, without xino");
	upper_on_tmpfs(_metadata, self, "tiny", "nr_inodes=64,size=64m");

	BOTH(
		ASSERT_EQ(0, pwrite_pattern(P("small"), 10, 50, 81, 0));
		ASSERT_EQ(0, mkdir(P("fill"), 0755));
		/* empty in the merged view, whiteouts in the upper */
		ASSERT_EQ(0, lfs_rm_rf(P("ldir/g")));
		ASSERT_EQ(0, unlink(P("ldir/f")));
		ASSERT_EQ(0, mkdir(P("emptyd"), 0755));
		ASSERT_EQ(0, lfs_rm_rf(P("tree/sub2")));
	);
	/* Holds the upper file's inode (and its count) past an unlink. */
	fd = open(MNT("small"), O_RDONLY);
	ASSERT_LE(0, fd);
	for (n = 0;; n++) {
		snprintf(name, sizeof(name), "fill/%d", n);
		err = lfs_write_file(MNT(name), "", 0);
		if (err)
			break;
		ASSERT_EQ(0, lfs_write_file(path_in(NS->model, name), "", 0));
	}
	ASSERT_EQ(-ENOSPC, err);
	EXPECT_EQ(ENOSPC, ERR(unlink(MNT("small"))));
	EXPECT_EQ(ENOSPC, ERR(rename(MNT("small"), MNT("small2"))));
	EXPECT_EQ(ENOSPC, ERR(rmdir(MNT("e"))));
	/*
	 * ldir's own whiteouts, held open so that removing them frees no
	 * inode: the old order removed them, then failed on the parent's.
	 */
	wh[0] = open(UPPER("ldir/.wh.f"), O_RDONLY);
	wh[1] = open(UPPER("ldir/.wh.g"), O_RDONLY);
	ASSERT_LE(0, wh[0]);
	ASSERT_LE(0, wh[1]);
	EXPECT_EQ(ENOSPC, ERR(rmdir(MNT("ldir"))));
	EXPECT_EQ(ENOSPC, ERR(rename(MNT("emptyd"), MNT("ldir"))));
	ASSERT_EQ(0, close(wh[0]));
	ASSERT_EQ(0, close(wh[1]));
	ASSERT_EQ(0, close(fd));
	/*
	 * Room for one inode: a directory made over a whiteout, whose opaque
	 * marker then cannot be made, is taken back.  Before, it stayed in
	 * the upper dir and showed once the negative dentry left the cache.
	 */
	ASSERT_LE(1, n);
	BOTH(ASSERT_EQ(0, unlink(P("fill/0"))));
	EXPECT_EQ(ENOSPC, ERR(mkdir(MNT("tree/sub2"), 0755)));
	ASSERT_EQ(0, lfs_drop_caches());
	EXPECT_EQ(ENOENT, lfs_lstat_errno(MNT("tree/sub2")));
	/* Room for the next mount's probe of the work dir. */
	for (int i = 1; i < 5 && i < n; i++) {
		snprintf(name, sizeof(name), "fill/%d", i);
		BOTH(ASSERT_EQ(0, unlink(P(name))));
	}
	CHECK_TREES();
	BOTH(
		ASSERT_EQ(0, lfs_rm_rf(P("fill")));
		ASSERT_EQ(0, rename(P("small"), P("small2")));
		ASSERT_EQ(0, rmdir(P("e")));
		ASSERT_EQ(0, rename(P("emptyd"), P("ldir")));
	);
	CHECK_TREES();
}

/* Set or clear @flag (FS_*_FL) on @path; an errno, 0 if done. */
static int set_inode_flag(const char *path, int flag, bool on)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK), flags, err = 0;

	if (fd < 0)
		return errno;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags)) {
		err = errno;
	} else {
		flags = on ? flags | flag : flags & ~flag;
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags))
			err = errno;
	}
	close(fd);
	return err;
}

/*
 * After a refused rmdir or rename: ldir (f and g deleted, whiteouts in its
 * upper dir) still hides them, also once it lists its layers again.
 */
static void ldir_still_hides_f_and_g(struct __test_metadata *_metadata,
				     FIXTURE_DATA(ns) *self)
{
	/* A new entry has the directory list its layers again. */
	BOTH(ASSERT_EQ(0, lfs_write_file(P("ldir/n"), "n", 1)));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(MNT("ldir/f")));
	EXPECT_EQ(ENOENT, lfs_lstat_errno(MNT("ldir/g")));
	CHECK_TREES();
	BOTH(ASSERT_EQ(0, unlink(P("ldir/n"))));
}

/*
 * A directory whose removal the upper filesystem refuses (its upper parent
 * is append-only) keeps hiding what its whiteouts hid.  Before, its own
 * whiteouts went first, then rmdir failed with EPERM, and the lower
 * entries they had hidden showed again in it as soon as it listed its
 * layers again, until its inode left the cache.
 */
TEST_F(ns, a_directory_whose_removal_fails_keeps_hiding_deleted_entries)
{
	int err;

	BOTH(
		ASSERT_EQ(0, unlink(P("ldir/f")));
		ASSERT_EQ(0, lfs_rm_rf(P("ldir/g")));
	);
	err = set_inode_flag(NS->u.upper, FS_APPEND_FL, true);
	if (err == EOPNOTSUPP || err == ENOTTY)
		SKIP(return, "no append-only directories on the upper filesystem");
	ASSERT_EQ(0, err);
	EXPECT_EQ(EPERM, ERR(rmdir(MNT("ldir"))));
	ASSERT_EQ(0, set_inode_flag(NS->u.upper, FS_APPEND_FL, false));
	ldir_still_hides_f_and_g(_metadata, self);
	BOTH(ASSERT_EQ(0, rmdir(P("ldir"))));
	CHECK_TREES();
}

/*
 * The same for a directory that a rename would replace, when the upper
 * filesystem refuses the rename (the source's upper parent is
 * append-only).  Before, the target's whiteouts went just before the move.
 * And the directory put in its place lacked its origin record: it took a
 * new st_ino.
 */
TEST_F(ns, a_directory_a_failed_rename_would_replace_keeps_hiding_deleted_entries)
{
	uint64_t ino;
	int err;

	BOTH(
		ASSERT_EQ(0, unlink(P("ldir/f")));
		ASSERT_EQ(0, lfs_rm_rf(P("ldir/g")));
		ASSERT_EQ(0, mkdir(P("srcp"), 0755));
		ASSERT_EQ(0, mkdir(P("srcp/d"), 0700));
	);
	err = set_inode_flag(UPPER("srcp"), FS_APPEND_FL, true);
	if (err == EOPNOTSUPP || err == ENOTTY)
		SKIP(return, "no append-only directories on the upper filesystem");
	ASSERT_EQ(0, err);
	ino = lfs_ino(MNT("ldir"));
	EXPECT_EQ(EPERM, ERR(rename(MNT("srcp/d"), MNT("ldir"))));
	ASSERT_EQ(0, set_inode_flag(UPPER("srcp"), FS_APPEND_FL, false));
	ldir_still_hides_f_and_g(_metadata, self);
	/* overlayfs gives the directory it put there a number of its own. */
	if (!lfs_is_overlay()) {
		EXPECT_EQ(ino, lfs_ino(MNT("ldir")));
		ASSERT_EQ(0, lfs_upper_cycle(&NS->u));
		EXPECT_EQ(ino, lfs_ino(MNT("ldir")));
	}
	BOTH(ASSERT_EQ(0, rename(P("srcp/d"), P("ldir"))));
	CHECK_TREES();
}

/* Every entry of @dir has d_ino == st_ino; the first mismatch logged. */
static bool d_ino_is_st_ino(struct __test_metadata *_metadata, const char *dir)
{
	char path[PATH_MAX];
	struct lfs_dent *d = NULL;
	struct stat st;
	bool ok = true;
	long n, i;
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return false;
	n = lfs_getdents_all(fd, 32768, &d);
	close(fd);
	for (i = 0; ok && i < n; i++) {
		if (!strcmp(d[i].name, ".") || !strcmp(d[i].name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d[i].name);
		ok = !lstat(path, &st) && st.st_ino == d[i].ino;
		if (!ok)
			TH_LOG("%s: d_ino %llu, st_ino %llu", d[i].name,
			       (unsigned long long)d[i].ino,
			       (unsigned long long)st.st_ino);
	}
	free(d);
	return n >= 0 && ok;
}

/*
 * A directory made where a whiteout (OCI or overlay-style) or a
 * non-directory of a middle layer hides a lower directory merges with
 * nothing, so a listing numbers it as stat does.  Before, the listing gave
 * it the number of the lower directory below the middle layer.
 */
TEST_F(ns, a_directory_over_a_hidden_lower_one_lists_its_own_number)
{
	SKIP_IF_OVERLAY("OCI whiteouts in the lower layers");
	ASSERT_EQ(0, lfs_stack_umount(&NS->u.s));
	ASSERT_EQ(0, lfs_build(lfs_in_layer(&NS->u.s, 1, ""),
			       LFS_ENTRIES("w1/f=f", "w2/f=f", "w3/f=f")));
	ASSERT_EQ(0, lfs_build(lfs_in_layer(&NS->u.s, 0, ""),
			       LFS_ENTRIES(".wh.w1", "w2@0:0", "w3=w3")));
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, lfs_rm_rf(NS->snap[i]));
		ASSERT_EQ(0, lfs_copy_tree(NS->u.s.layer[i], NS->snap[i]));
	}
	ASSERT_EQ(0, lfs_write_file(path_in(NS->model, "w3"), "w3", 2));
	ASSERT_EQ(0, lfs_upper_mount(&NS->u)) {
		TH_LOG("%s", NS->u.s.log);
	}
	BOTH(
		ASSERT_EQ(0, mkdir(P("w1"), 0755));
		ASSERT_EQ(0, mkdir(P("w2"), 0755));
		ASSERT_EQ(0, unlink(P("w3")));
		ASSERT_EQ(0, mkdir(P("w3"), 0755));
	);
	EXPECT_TRUE(d_ino_is_st_ino(_metadata, MNT("")));
	CHECK_TREES();
	EXPECT_TRUE(d_ino_is_st_ino(_metadata, MNT("")));
}

/* errno of open(@path, @flags), 0 if it opened (closed again). */
static int open_errno(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* FS_IOC_GETFLAGS of @path: the flags, or -errno. */
static long get_inode_flags(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK), flags;
	long ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, FS_IOC_GETFLAGS, &flags) ? -errno : (long)(unsigned int)flags;
	close(fd);
	return ret;
}

/* FS_IOC_FSGETXATTR of @path: its fsx_xflags, or -errno. */
static long get_xflags(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK);
	struct fsxattr fsx;
	long ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, FS_IOC_FSGETXATTR, &fsx) ? -errno : (long)fsx.fsx_xflags;
	close(fd);
	return ret;
}

/* (@get(@path) & @mask) == @want, where @get (one of the two above) worked. */
#define EXPECT_FLAGS(get, path, mask, want) do { \
	const char *p_ = (path); \
	long f_ = get(p_); \
	EXPECT_LE(0, f_) { \
		TH_LOG("%s: %s", p_, strerror((int)-f_)); \
	} \
	EXPECT_EQ((long)(want), f_ & (long)(mask)); \
} while (0)

/* Skips the test if the filesystem under test has no inode flags. */
#define REQUIRE_INODE_FLAGS() do { \
	int err_ = set_inode_flag(path_in(NS->model, "top"), FS_NODUMP_FL, true); \
	if (err_ == EOPNOTSUPP || err_ == ENOTTY) \
		SKIP(return, "no inode flags on %s", lfs_fs()); \
	ASSERT_EQ(0, err_); \
	ASSERT_EQ(0, set_inode_flag(path_in(NS->model, "top"), FS_NODUMP_FL, false)); \
} while (0)

/*
 * chattr and lsattr through the mount (both failed with ENOTTY).  An
 * immutable file or directory refuses every change, after a remount too,
 * while the upper objects stay writable for layerfs itself (it records the
 * flag on its own); the children of an immutable directory still change.
 * A flag without such a role (nodump) is the upper file's.
 */
TEST_F(ns, chattr_makes_objects_immutable_through_the_mount)
{
	const long im = FS_IMMUTABLE_FL;

	REQUIRE_INODE_FLAGS();
	ASSERT_EQ(0, set_inode_flag(MNT("small"), FS_NODUMP_FL, true));
	EXPECT_FLAGS(get_inode_flags, UPPER("small"), FS_NODUMP_FL, FS_NODUMP_FL);
	ASSERT_EQ(0, set_inode_flag(MNT("small"), FS_IMMUTABLE_FL, true));
	ASSERT_EQ(0, set_inode_flag(MNT("d"), FS_IMMUTABLE_FL, true));
	for (int pass = 0; pass < 2; pass++) {
		EXPECT_FLAGS(get_inode_flags, MNT("small"), im | FS_NODUMP_FL,
			     im | FS_NODUMP_FL);
		EXPECT_FLAGS(get_xflags, MNT("d"), FS_XFLAG_IMMUTABLE,
			     FS_XFLAG_IMMUTABLE);
		EXPECT_EQ(EPERM, open_errno(MNT("small"), O_WRONLY));
		EXPECT_EQ(EPERM, ERR(chmod(MNT("small"), 0600)));
		EXPECT_EQ(EPERM, ERR(setxattr(MNT("small"), "user.x", "1", 1, 0)));
		EXPECT_EQ(EPERM, ERR(rename(MNT("small"), MNT("small2"))));
		EXPECT_EQ(EPERM, ERR(unlink(MNT("small"))));
		EXPECT_EQ(EPERM, ERR(mkdir(MNT("d/new"), 0755)));
		EXPECT_EQ(EPERM, ERR(unlink(MNT("d/a"))));
		EXPECT_FLAGS(get_inode_flags, UPPER("small"), im, 0);
		EXPECT_FLAGS(get_inode_flags, UPPER("d"), im, 0);
		if (!pass)
			ASSERT_EQ(0, lfs_upper_cycle(&NS->u));
	}
	BOTH(ASSERT_EQ(0, pwrite_pattern(P("d/b"), 1, 10, 9, 0)));
	ASSERT_EQ(0, set_inode_flag(MNT("small"), FS_IMMUTABLE_FL, false));
	ASSERT_EQ(0, set_inode_flag(MNT("d"), FS_IMMUTABLE_FL, false));
	BOTH(
		ASSERT_EQ(0, pwrite_pattern(P("small"), 10, 10, 8, 0));
		ASSERT_EQ(0, mkdir(P("d/new"), 0755));
	);
	CHECK_TREES();
}

/*
 * A file append-only in its lower layer is so through the mount, also
 * after an append copied it up and after a remount.  Before, layerfs
 * enforced no flag of a real inode, and copy-up dropped them.  A lower
 * file's no-atime flag (no role for layerfs) is the upper file's after
 * copy-up; it was dropped even once copy-up carried the others.
 */
TEST_F(ns, an_append_only_lower_file_stays_append_only_after_copy_up)
{
	char lower[PATH_MAX], small[PATH_MAX];

	REQUIRE_INODE_FLAGS();
	snprintf(lower, sizeof(lower), "%s", lfs_in_layer(&NS->u.s, 1, "solo"));
	snprintf(small, sizeof(small), "%s", lfs_in_layer(&NS->u.s, 1, "small"));
	ASSERT_EQ(0, lfs_stack_umount(&NS->u.s));
	ASSERT_EQ(0, set_inode_flag(lower, FS_APPEND_FL, true));
	ASSERT_EQ(0, set_inode_flag(small, FS_NOATIME_FL, true));
	ASSERT_EQ(0, lfs_upper_mount(&NS->u)) {
		TH_LOG("%s", NS->u.s.log);
	}
	EXPECT_FLAGS(get_inode_flags, MNT("solo"), FS_APPEND_FL, FS_APPEND_FL);
	EXPECT_EQ(EPERM, open_errno(MNT("solo"), O_WRONLY));
	BOTH(
		ASSERT_EQ(0, pwrite_pattern(P("solo"), 0, 10, 11, O_APPEND));
		ASSERT_EQ(0, pwrite_pattern(P("small"), 5, 10, 12, 0));
	);
	EXPECT_FLAGS(get_inode_flags, UPPER("small"), FS_NOATIME_FL,
		     FS_NOATIME_FL);
	for (int pass = 0; pass < 2; pass++) {
		EXPECT_FLAGS(get_inode_flags, MNT("solo"), FS_APPEND_FL,
			     FS_APPEND_FL);
		EXPECT_EQ(EPERM, open_errno(MNT("solo"), O_WRONLY));
		EXPECT_EQ(EPERM, ERR(truncate(MNT("solo"), 0)));
		EXPECT_FLAGS(get_inode_flags, UPPER("solo"), FS_APPEND_FL, 0);
		if (!pass)
			ASSERT_EQ(0, lfs_upper_cycle(&NS->u));
	}
	ASSERT_EQ(0, set_inode_flag(MNT("solo"), FS_APPEND_FL, false));
	BOTH(ASSERT_EQ(0, truncate(P("solo"), 5)));
	ASSERT_EQ(0, set_inode_flag(lower, FS_APPEND_FL, false));
	CHECK_TREES();
}

/*
 * chattr of a lower file when the upper layer is on another filesystem
 * (tmpfs).  The flags lsattr shows before copy-up are the lower
 * filesystem's, with its own (ext4's extent flag 'e'); they were passed to
 * the upper filesystem as they were, which refused them (EOPNOTSUPP), and
 * chattr failed after copying the file up.  overlayfs fails the same way.
 */
TEST_F(ns, chattr_of_a_lower_file_works_with_the_upper_layer_on_tmpfs)
{
	SKIP_IF_OVERLAY("overlayfs fails it too");
	REQUIRE_INODE_FLAGS();
	upper_on_tmpfs(_metadata, self, "tmpfs", NULL);
	ASSERT_EQ(0, set_inode_flag(MNT("small"), FS_NODUMP_FL, true));
	ASSERT_EQ(0, set_inode_flag(MNT("d"), FS_IMMUTABLE_FL, true));
	EXPECT_FLAGS(get_inode_flags, MNT("small"), FS_NODUMP_FL, FS_NODUMP_FL);
	EXPECT_FLAGS(get_inode_flags, UPPER("small"), FS_NODUMP_FL, FS_NODUMP_FL);
	EXPECT_EQ(EPERM, ERR(mkdir(MNT("d/new"), 0755)));
	ASSERT_EQ(0, set_inode_flag(MNT("d"), FS_IMMUTABLE_FL, false));
	BOTH(ASSERT_EQ(0, mkdir(P("d/new"), 0755)));
	CHECK_TREES();
}

/*
 * An append-only flag set on an upper directory itself (outside layerfs,
 * or by an older layerfs or overlayfs) is enforced through the mount and
 * can be cleared there.  Before, chattr through the mount failed with
 * EPERM: the record it writes first cannot be written on an append-only
 * inode.  overlayfs fails the same way.
 */
TEST_F(ns, an_append_only_upper_directory_can_be_cleared_through_the_mount)
{
	SKIP_IF_OVERLAY("overlayfs cannot clear it either");
	REQUIRE_INODE_FLAGS();
	BOTH(
		ASSERT_EQ(0, mkdir(P("ad"), 0755));
		ASSERT_EQ(0, lfs_write_file(P("ad/f"), "f", 1));
	);
	ASSERT_EQ(0, lfs_stack_umount(&NS->u.s));
	ASSERT_EQ(0, set_inode_flag(UPPER("ad"), FS_APPEND_FL, true));
	ASSERT_EQ(0, lfs_upper_mount(&NS->u)) {
		TH_LOG("%s", NS->u.s.log);
	}
	EXPECT_FLAGS(get_inode_flags, MNT("ad"), FS_APPEND_FL, FS_APPEND_FL);
	EXPECT_EQ(EPERM, ERR(unlink(MNT("ad/f"))));
	ASSERT_EQ(0, set_inode_flag(MNT("ad"), FS_APPEND_FL, false));
	EXPECT_FLAGS(get_inode_flags, MNT("ad"), FS_APPEND_FL, 0);
	EXPECT_FLAGS(get_inode_flags, UPPER("ad"), FS_APPEND_FL, 0);
	BOTH(ASSERT_EQ(0, unlink(P("ad/f"))));
	CHECK_TREES();
}

/*
 * An upper directory written by overlayfs holds 0/0 devices as whiteouts.
 * A directory made or moved where one hides a lower directory must not
 * merge with it.  Before, mkdir replaced the device by a plain directory
 * (the lower content came back once the new inode left the cache) and
 * rename there failed with ESTALE.
 */
TEST_F(ns, overlay_whiteouts_in_the_upper_dir_make_way_safely)
{
	ASSERT_EQ(0, lfs_stack_umount(&NS->u.s));
	ASSERT_EQ(0, mknod(UPPER("tree"), S_IFCHR | 0600, makedev(0, 0)));
	ASSERT_EQ(0, mknod(UPPER("ldir"), S_IFCHR | 0600, makedev(0, 0)));
	ASSERT_EQ(0, mknod(UPPER("top"), S_IFCHR | 0600, makedev(0, 0)));
	ASSERT_EQ(0, lfs_rm_rf(path_in(NS->model, "tree")));
	ASSERT_EQ(0, lfs_rm_rf(path_in(NS->model, "ldir")));
	ASSERT_EQ(0, unlink(path_in(NS->model, "top")));
	ASSERT_EQ(0, lfs_upper_mount(&NS->u)) {
		TH_LOG("%s", NS->u.s.log);
	}
	BOTH(
		ASSERT_EQ(ENOENT, lfs_lstat_errno(P("tree")));
		ASSERT_EQ(0, mkdir(P("tree"), 0755));
		ASSERT_EQ(0, mkdir(P("nd"), 0755));
		ASSERT_EQ(0, rename(P("nd"), P("ldir")));
		ASSERT_EQ(0, lfs_write_file(P("top"), "new", 3));
	);
	CHECK_TREES();
}

TEST_F(ns, wh_names_cannot_be_created)
{
	char proc[64], why[512];
	int fd;

	SKIP_IF_OVERLAY(".wh. names are EINVAL");
	EXPECT_EQ(EINVAL, ERR(open(MNT(".wh.x"), O_CREAT | O_WRONLY, 0644)));
	EXPECT_EQ(EINVAL, ERR(open(MNT("d/.wh.b"), O_CREAT | O_WRONLY, 0644)));
	EXPECT_EQ(EINVAL, ERR(open(MNT("d/.wh..wh..opq"), O_CREAT | O_WRONLY, 0644)));
	EXPECT_EQ(EINVAL, ERR(mkdir(MNT(".wh.dir"), 0755)));
	EXPECT_EQ(EINVAL, ERR(mknod(MNT("d/.wh.fifo"), S_IFIFO | 0644, 0)));
	EXPECT_EQ(EINVAL, ERR(symlink("x", MNT("d/.wh.l"))));
	EXPECT_EQ(EINVAL, ERR(link(MNT("d/a"), MNT("d/.wh.a"))));
	EXPECT_EQ(EINVAL, ERR(rename(MNT("d/a"), MNT("d/.wh.zz"))));
	EXPECT_EQ(EINVAL, ERR(rename(MNT("tree"), MNT(".wh.tree"))));
	fd = open(MNT("d"), O_TMPFILE | O_RDWR, 0600);
	ASSERT_LE(0, fd);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	EXPECT_EQ(EINVAL, ERR(linkat(AT_FDCWD, proc, AT_FDCWD, MNT("d/.wh.t"),
				     AT_SYMLINK_FOLLOW)));
	close(fd);
	/* nothing changed in the merged view */
	EXPECT_EQ(0, lfs_tree_compare_rw(NS->model, NS->u.s.mnt, why, sizeof(why))) {
		TH_LOG("%s", why);
	}
	CHECK_TREES();
}

TEST_F(ns, upper_dir_is_an_oci_layer_diff)
{
	char oci[PATH_MAX], why[1024];
	struct lfs_oci *o;

	SKIP_IF_OVERLAY("the upper dir is an OCI layer diff");
	/* Namespace changes only: no partially copied file to materialise. */
	BOTH(
		ASSERT_EQ(0, lfs_write_file(P("d/new"), "new", 3));
		ASSERT_EQ(0, mkdir(P("nd"), 0700));
		ASSERT_EQ(0, lfs_write_file(P("nd/f"), "f", 1));
		ASSERT_EQ(0, symlink("nd/f", P("tree/sl")));
		ASSERT_EQ(0, unlink(P("d/b")));
		ASSERT_EQ(0, rmdir(P("e")));
		ASSERT_EQ(0, lfs_rm_rf(P("ldir")));
		ASSERT_EQ(0, mkdir(P("ldir"), 0755));
		ASSERT_EQ(0, lfs_write_file(P("ldir/only"), "o", 1));
		ASSERT_EQ(0, unlink(P("both")));
		ASSERT_EQ(0, lfs_write_file(P("both"), "recreated", 9));
		ASSERT_EQ(0, unlink(P("small")));
		ASSERT_EQ(0, mkdir(P("small"), 0755));
		ASSERT_EQ(0, mknod(P("tree/fifo"), S_IFIFO | 0600, 0));
	);
	CHECK_TREES();
	ASSERT_EQ(0, lfs_stack_umount(&NS->u.s));
	snprintf(oci, sizeof(oci), "%s/oci", NS->u.s.dir);
	ASSERT_EQ(0, mkdir(oci, 0755));
	o = lfs_oci_new(oci);
	ASSERT_NE(NULL, o);
	ASSERT_EQ(0, lfs_oci_apply(o, NS->u.s.layer[1]));
	ASSERT_EQ(0, lfs_oci_apply(o, NS->u.s.layer[0]));
	ASSERT_EQ(0, lfs_oci_apply(o, NS->u.upper));
	ASSERT_EQ(0, lfs_oci_finish(o));
	EXPECT_EQ(0, lfs_tree_compare(NS->model, oci, LFS_CMP_XATTR, why, sizeof(why))) {
		TH_LOG("lower layers + upper extracted as OCI layers: %s", why);
	}
}

TEST_F(ns, cow_block_must_be_a_power_of_two_from_4k_to_1m)
{
	static const char *const bad[] = {
		"0", "1", "2048", "3000", "12288", "2097152", "65537", "-4096",
		"4q", "8K1", "",
	};
	char opts[8192];

	SKIP_IF_OVERLAY("cow_block=");
	ASSERT_EQ(0, lfs_stack_umount(&NS->u.s));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(opts, sizeof(opts), "%.4000s,cow_block=%s", NS->u.opts, bad[i]);
		errno = 0;
		EXPECT_EQ(-1, mount("none", NS->u.s.mnt, lfs_upper_fstype(), 0, opts)) {
			TH_LOG("cow_block=%s was accepted", bad[i]);
			umount2(NS->u.s.mnt, 0);
		}
		EXPECT_EQ(EINVAL, errno);
	}
	for (unsigned int b = 4096; b <= 1048576; b *= 2) {
		NS->u.cow_block = b;
		ASSERT_EQ(0, lfs_upper_mount(&NS->u)) {
			TH_LOG("cow_block=%u: %s", b, NS->u.s.log);
		}
		ASSERT_EQ(0, lfs_stack_umount(&NS->u.s));
	}
}

/* ---------------------------------------------------------------------- */
/* Data: block-granular copy-on-write against POSIX                        */

FIXTURE(data) {
	struct rw r;
	bool zero_range_ok;	/* the filesystem under test has ZERO_RANGE */
};

FIXTURE_VARIANT(data) {
	unsigned int cow_block;	/* 0: the module's default */
};

FIXTURE_VARIANT_ADD(data, default_granule) { .cow_block = 0 };
FIXTURE_VARIANT_ADD(data, granule_4k) { .cow_block = 4096 };
FIXTURE_VARIANT_ADD(data, granule_64k) { .cow_block = 65536 };
FIXTURE_VARIANT_ADD(data, granule_1m) { .cow_block = 1048576 };

FIXTURE_SETUP(data)
{
	char probe[PATH_MAX];
	int fd;

	if (variant->cow_block && lfs_is_overlay())
		SKIP(return, "cow_block=%u is layerfs only; mounted overlayfs",
		     variant->cow_block);
	LFS_REQUIRE_UPPER_ENV();
	build_stack(_metadata, &self->r, variant->cow_block);
	/* tmpfs has no FALLOC_FL_ZERO_RANGE: no stacking fs can be asked to */
	snprintf(probe, sizeof(probe), "%s/probe", self->r.u.s.dir);
	fd = open(probe, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 8192));
	self->zero_range_ok = !fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 4096);
	close(fd);
	unlink(probe);
}

FIXTURE_TEARDOWN_PARENT(data)
{
	lfs_stack_remove(&self->r.u.s);
}

/* Offsets and lengths that straddle every granule size's boundaries. */
static const struct { off_t off; size_t len; } odd[] = {
	{ 0, 1 }, { 1, 3 }, { 4095, 2 }, { 4097, 100 }, { 8191, 8194 },
	{ 65535, 2 }, { 65536 + 17, 65536 }, { 300001, 200000 },
	{ MiB - 1, 10 }, { BIG_SIZE - 5, 5 },
};

TEST_F_TIMEOUT(data, pwrite_at_unaligned_offsets_into_a_lower_file, 300)
{
	uint64_t ino = lfs_ino(MNT("big"));
	int ro = open(MNT("big"), O_RDONLY);	/* opened before copy-up */
	char buf[64], want[64];

	ASSERT_LE(0, ro);
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		BOTH(ASSERT_EQ(0, pwrite_pattern(P("big"), odd[i].off, odd[i].len,
						 20 + i, 0)));
	/* a read-only fd opened before the first write sees the new data */
	lfs_pattern(want, 4097, sizeof(want), 23);
	ASSERT_EQ((ssize_t)sizeof(buf), pread(ro, buf, sizeof(buf), 4097));
	EXPECT_EQ(0, memcmp(buf, want, sizeof(buf)));
	close(ro);
	EXPECT_EQ(ino, lfs_ino(MNT("big")));
	{
		int fd = open(MNT("big"), O_RDWR);

		ASSERT_LE(0, fd);
		EXPECT_EQ(0, fsync(fd));
		EXPECT_EQ(0, fdatasync(fd));
		close(fd);
	}
	CHECK_TREES();
	EXPECT_EQ(ino, lfs_ino(MNT("big")));
	/* and into the file already partial, after remount */
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		BOTH(ASSERT_EQ(0, pwrite_pattern(P("big"), odd[i].off + 4096,
						 odd[i].len / 2 + 1, 40 + i, 0)));
	CHECK_TREES();
	EXPECT_EQ(ino, lfs_ino(MNT("big")));
}

TEST_F_TIMEOUT(data, writes_into_holes_of_a_sparse_lower_file, 120)
{
	BOTH(
		ASSERT_EQ(0, pwrite_pattern(P("sparse"), 10, 20, 50, 0));
		ASSERT_EQ(0, pwrite_pattern(P("sparse"), SPARSE_DATA_OFF - 3, 6, 51, 0));
		ASSERT_EQ(0, pwrite_pattern(P("sparse"), 2 * MiB + 5, 70000, 52, 0));
	);
	EXPECT_TRUE(all_zero(MNT("sparse"), 30, 4000));
	EXPECT_TRUE(all_zero(MNT("sparse"), SPARSE_DATA_OFF + SPARSE_DATA_LEN, 65536));
	CHECK_TREES();
}

TEST_F_TIMEOUT(data, o_append_writes_onto_a_lower_file, 120)
{
	uint64_t ino = lfs_ino(MNT("mid"));

	BOTH(
		ASSERT_EQ(0, pwrite_pattern(P("mid"), 0, 1, 60, O_APPEND));
		ASSERT_EQ(0, pwrite_pattern(P("mid"), 0, 5000, 61, O_APPEND));
		ASSERT_EQ(0, pwrite_pattern(P("mid"), 0, 70000, 62, O_APPEND));
		ASSERT_EQ(0, pwrite_pattern(P("small"), 0, 3, 63, O_APPEND));
		{
			/* pwrite on an O_APPEND fd appends on Linux, too */
			char b[7] = "append";
			int fd = open(P("small"), O_WRONLY | O_APPEND);

			ASSERT_LE(0, fd);
			ASSERT_EQ(6, pwrite(fd, b, 6, 0));
			close(fd);
		}
	);
	{
		struct stat st;

		ASSERT_EQ(0, stat(MNT("mid"), &st));
		EXPECT_EQ(70000 + 1 + 5000 + 70000, st.st_size);
	}
	EXPECT_EQ(ino, lfs_ino(MNT("mid")));
	CHECK_TREES();
}

TEST_F_TIMEOUT(data, truncate_down_then_up_reads_zeros, 120)
{
	BOTH(
		ASSERT_EQ(0, truncate(P("big"), 5000));
		ASSERT_EQ(0, truncate(P("big"), 2 * MiB));
		/* down to mid-granule through an fd, written, up again */
		{
			int fd = open(P("solo"), O_RDWR);

			ASSERT_LE(0, fd);
			ASSERT_EQ(0, ftruncate(fd, 70001));
			ASSERT_EQ(0, ftruncate(fd, 150000));
			close(fd);
		}
		ASSERT_EQ(0, pwrite_pattern(P("solo"), 100000, 10, 70, 0));
		/* up only: zeros after the lower data */
		ASSERT_EQ(0, truncate(P("small"), 70000));
		/* to zero and back */
		ASSERT_EQ(0, truncate(P("mid"), 0));
		ASSERT_EQ(0, truncate(P("mid"), 4096));
		/* O_TRUNC on open */
		{
			int fd = open(P("d/a"), O_WRONLY | O_TRUNC);

			ASSERT_LE(0, fd);
			close(fd);
			ASSERT_EQ(0, truncate(P("d/a"), 9));
		}
	);
	EXPECT_TRUE(all_zero(MNT("big"), 5000, 2 * MiB - 5000));
	EXPECT_TRUE(all_zero(MNT("solo"), 70001, 100000 - 70001));
	EXPECT_TRUE(all_zero(MNT("small"), 100, 69900));
	EXPECT_TRUE(all_zero(MNT("mid"), 0, 4096));
	CHECK_TREES();
	EXPECT_TRUE(all_zero(MNT("big"), 5000, 2 * MiB - 5000));
}

/* fallocate on both sides: the same result, or EOPNOTSUPP from both. */
static int falloc_both(struct rw *r, const char *rel, int mode, off_t off,
		       off_t len, int *err_model)
{
	int errs[2];

	for (int side = 0; side < 2; side++) {
		int fd = open(path_in(side ? r->model : r->u.s.mnt, rel), O_RDWR);

		errs[side] = fd < 0 ? errno : ERR(fallocate(fd, mode, off, len));
		if (fd >= 0)
			close(fd);
	}
	*err_model = errs[1];
	return errs[0];
}

TEST_F_TIMEOUT(data, fallocate_punch_hole_keep_size, 120)
{
	static const struct { off_t off, len; } r[] = {
		{ 1, 1 }, { 4000, 200 }, { 4096, 4096 }, { 10000, 70000 },
		{ MiB - 100, 12345 + 100 }, { BIG_SIZE - 10, 100 },
	};
	int em;

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		EXPECT_EQ(0, falloc_both(&self->r, "big",
					 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					 r[i].off, r[i].len, &em));
		EXPECT_EQ(0, em);
	}
	EXPECT_EQ(0, falloc_both(&self->r, "sparse",
				 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 SPARSE_DATA_OFF + 10, 20, &em));
	EXPECT_TRUE(all_zero(MNT("big"), 10000, 70000));
	{
		struct stat st;

		ASSERT_EQ(0, stat(MNT("big"), &st));
		EXPECT_EQ(BIG_SIZE, st.st_size);
	}
	CHECK_TREES();
	EXPECT_TRUE(all_zero(MNT("big"), 10000, 70000));
}

TEST_F_TIMEOUT(data, fallocate_zero_range, 120)
{
	int got, em;

	/*
	 * A partial file whose pages at the range's edges are cached: a
	 * refused ZERO_RANGE must leave them as they were (it once zeroed
	 * the parts inside the range).
	 */
	BOTH(ASSERT_EQ(0, pwrite_pattern(P("big"), 100000, 10, 71, 0)));
	EXPECT_FALSE(all_zero(MNT("big"), 0, 10000));
	got = falloc_both(&self->r, "big", FALLOC_FL_ZERO_RANGE, 3, 5000, &em);
	if (!self->zero_range_ok) {
		/* the upper fs cannot; neither can anything stacked on it */
		EXPECT_EQ(EOPNOTSUPP, em);
		ASSERT_TRUE(got == 0 || got == EOPNOTSUPP) {
			TH_LOG("ZERO_RANGE on %s: %s", lfs_fs(), strerror(got));
		}
		if (got == EOPNOTSUPP) {
			EXPECT_TRUE(same_bytes(MNT("big"), path_in(NS->model, "big"),
					       0, 10000));
			CHECK_TREES();
		}
		SKIP(return, "%s has no FALLOC_FL_ZERO_RANGE", lfs_fs());
	}
	EXPECT_EQ(0, got);
	EXPECT_EQ(0, em);
	EXPECT_EQ(0, falloc_both(&self->r, "big", FALLOC_FL_ZERO_RANGE,
				 65530, 70000, &em));
	/* past EOF, keeping the size, and extending it */
	EXPECT_EQ(0, falloc_both(&self->r, "big",
				 FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				 BIG_SIZE - 7, 20000, &em));
	EXPECT_EQ(0, falloc_both(&self->r, "small", FALLOC_FL_ZERO_RANGE,
				 50, 9000, &em));
	EXPECT_TRUE(all_zero(MNT("big"), 3, 5000));
	EXPECT_TRUE(all_zero(MNT("small"), 50, 9000 - 50));
	CHECK_TREES();
	EXPECT_TRUE(all_zero(MNT("big"), 65530, 70000));
}

TEST_F_TIMEOUT(data, fallocate_allocate_keep_size_and_extend, 120)
{
	int em;
	struct stat st;

	EXPECT_EQ(0, falloc_both(&self->r, "small", FALLOC_FL_KEEP_SIZE,
				 0, 2 * MiB, &em));
	EXPECT_EQ(0, em);
	ASSERT_EQ(0, stat(MNT("small"), &st));
	EXPECT_EQ(100, st.st_size);
	EXPECT_EQ(0, falloc_both(&self->r, "mid", 0, 60000, 100000, &em));
	EXPECT_EQ(0, em);
	ASSERT_EQ(0, stat(MNT("mid"), &st));
	EXPECT_EQ(160000, st.st_size);
	EXPECT_TRUE(all_zero(MNT("mid"), 70000, 90000));
	CHECK_TREES();
}

TEST_F_TIMEOUT(data, mmap_shared_write_and_msync, 120)
{
	uint64_t ino = lfs_ino(MNT("big"));

	BOTH(
		int fd = open(P("big"), O_RDWR);
		char *m, pat[100];

		ASSERT_LE(0, fd);
		m = mmap(NULL, BIG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, m);
		for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
			lfs_pattern(pat, odd[i].off, sizeof(pat), 80 + i);
			memcpy(m + odd[i].off, pat,
			       odd[i].len < sizeof(pat) ? odd[i].len : sizeof(pat));
		}
		ASSERT_EQ(0, msync(m, BIG_SIZE, MS_SYNC));
		/* read(2) on another fd sees what the mapping wrote */
		{
			char b[100];

			ASSERT_EQ(100, lfs_pread_file(P("big"), b, 100, 300001));
			ASSERT_EQ(0, memcmp(b, m + 300001, 100));
		}
		ASSERT_EQ(0, munmap(m, BIG_SIZE));
		close(fd);
	);
	EXPECT_EQ(ino, lfs_ino(MNT("big")));
	CHECK_TREES();
	EXPECT_EQ(ino, lfs_ino(MNT("big")));
}

TEST_F_TIMEOUT(data, mmap_shared_write_without_msync_survives_munmap_and_close, 120)
{
	BOTH(
		int fd = open(P("solo"), O_RDWR);
		char *m;

		ASSERT_LE(0, fd);
		m = mmap(NULL, HL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, m);
		close(fd);	/* the mapping keeps the file */
		lfs_pattern(m + 5000, 5000, 3000, 90);
		ASSERT_EQ(0, munmap(m, HL_SIZE));
	);
	CHECK_TREES();
}

/*
 * write(2) into granules already copied goes straight to the upper file
 * (lfs_cow_write_through()): a mapping and the page cache must still see
 * every write, whether the page was cached clean, mapped, dirty through
 * the mapping, or is the write's own source.
 */
TEST_F_TIMEOUT(data, writes_into_copied_granules_stay_coherent_with_mmap, 120)
{
	char *all = malloc(BIG_SIZE), want[8192], got[8192];

	ASSERT_NE(NULL, all);
	lfs_pattern(all, 0, BIG_SIZE, 70);
	BOTH(
		int fd = open(P("big"), O_RDWR);
		char *m, *src;

		ASSERT_LE(0, fd);
		/* Every granule copied; the page cache holds them clean. */
		ASSERT_EQ(BIG_SIZE, pwrite(fd, all, BIG_SIZE, 0));
		ASSERT_EQ(0, fsync(fd));
		m = mmap(NULL, BIG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, m);

		/* A page mapped and read: the mapping sees the write. */
		EXPECT_EQ(all[5000], *(volatile char *)(m + 5000));
		lfs_pattern(want, 4990, 110, 71);
		ASSERT_EQ(110, pwrite(fd, want, 110, 4990));
		EXPECT_EQ(0, memcmp(m + 4990, want, 110));
		if (!side_ && !lfs_is_overlay()) {
			/* Written through: in the upper file before any fsync. */
			EXPECT_EQ(110, lfs_pread_file(UPPER("big"), got, 110, 4990));
			EXPECT_EQ(0, memcmp(got, want, 110));
		}

		/* A page dirtied through the mapping keeps both writes. */
		lfs_pattern(m + 70000, 70000, 100, 72);
		lfs_pattern(want, 70050, 100, 73);
		ASSERT_EQ(100, pwrite(fd, want, 100, 70050));
		EXPECT_EQ(0, memcmp(m + 70050, want, 100));
		lfs_pattern(want, 70000, 50, 72);
		EXPECT_EQ(0, memcmp(m + 70000, want, 50));

		/* The source is a fresh mapping of the same file. */
		src = mmap(NULL, BIG_SIZE, PROT_READ, MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, src);
		ASSERT_EQ(8192, pwrite(fd, src + 700000, 8192, 300001));
		ASSERT_EQ(8192, pread(fd, got, 8192, 300001));
		EXPECT_EQ(0, memcmp(got, all + 700000, 8192));
		EXPECT_EQ(0, memcmp(m + 300001, all + 700000, 8192));
		ASSERT_EQ(0, munmap(src, BIG_SIZE));
		ASSERT_EQ(0, munmap(m, BIG_SIZE));
		close(fd);
	);
	free(all);
	CHECK_TREES();
}

/*
 * A write that covers whole granules goes to the upper file directly,
 * whether they were copied before or not; one that stops inside a granule
 * not yet copied (a buffer that ends in a page nobody may read) must
 * still leave every byte it reports written, and only those: the upper
 * filesystem's short write leaves part of a granule that is not present,
 * which the page cache has to write again.
 */
TEST_F_TIMEOUT(data, whole_granule_writes_reach_the_upper_file, 120)
{
	size_t g = variant->cow_block ? variant->cow_block : 4096;
	off_t tail = (BIG_SIZE - 1) / g * g;	/* the granule at EOF */
	size_t head = (size_t)tail < 2 * g ? (size_t)tail : 2 * g;
	size_t pg = getpagesize();
	char *want = malloc(head), *got = malloc(head), *buf;
	ssize_t n = 0;

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	/* One page and 100 bytes readable, then a page that faults. */
	buf = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	ASSERT_EQ(0, mprotect(buf + 2 * pg, pg, PROT_NONE));
	BOTH(
		int fd = open(P("big"), O_RDWR);
		char lower, *m;

		ASSERT_LE(0, fd);
		m = mmap(NULL, BIG_SIZE, PROT_READ, MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, m);
		/* A mapped page of the range, read before the write. */
		lfs_pattern(&lower, 10, 1, 1);
		EXPECT_EQ(lower, *(volatile char *)(m + 10));
		lfs_pattern(want, 0, head, 80);
		ASSERT_EQ((ssize_t)head, pwrite(fd, want, head, 0));
		EXPECT_EQ(0, memcmp(m, want, head));
		if (!side_ && !lfs_is_overlay()) {
			EXPECT_EQ((ssize_t)head, lfs_pread_file(UPPER("big"), got, head, 0));
			EXPECT_EQ(0, memcmp(got, want, head));
		}

		/* To the end of the file. */
		lfs_pattern(want, tail, BIG_SIZE - tail, 81);
		ASSERT_EQ((ssize_t)(BIG_SIZE - tail),
			  pwrite(fd, want, BIG_SIZE - tail, tail));
		EXPECT_EQ(0, memcmp(m + tail, want, BIG_SIZE - tail));
		if (!side_ && !lfs_is_overlay()) {
			EXPECT_EQ((ssize_t)(BIG_SIZE - tail),
				  lfs_pread_file(UPPER("big"), got, BIG_SIZE - tail, tail));
			EXPECT_EQ(0, memcmp(got, want, BIG_SIZE - tail));
		}

		/*
		 * A short write from a granule's start: what the mount says
		 * it wrote, the model is given in full.
		 */
		lfs_pattern(buf + pg - 100, head, pg + 100, 82);
		if (!side_) {
			n = pwrite(fd, buf + pg - 100, 2 * pg, head);
			ASSERT_LT(0, n);
			ASSERT_GE((ssize_t)(pg + 100), n);
		} else {
			ASSERT_EQ(n, pwrite(fd, buf + pg - 100, n, head));
		}
		EXPECT_EQ(0, memcmp(m + head, buf + pg - 100, n));
		ASSERT_EQ(0, munmap(m, BIG_SIZE));
		close(fd);
	);
	ASSERT_EQ(0, munmap(buf, 3 * pg));
	free(want);
	free(got);
	CHECK_TREES();
}

/*
 * O_DIRECT on a lower file, which becomes partial when opened for
 * writing: aligned reads and writes work as on any file (layerfs serves
 * them from its page cache).  All but writes of whole granules used to
 * fail with EINVAL.
 */
TEST_F_TIMEOUT(data, o_direct_reads_and_writes_of_a_lower_file, 120)
{
	const size_t al = 4096;
	char *buf, *want;

	ASSERT_EQ(0, posix_memalign((void **)&buf, al, 2 * al));
	ASSERT_EQ(0, posix_memalign((void **)&want, al, 2 * al));
	BOTH(
		int fd = open(P("big"), O_RDWR | O_DIRECT);

		ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
		lfs_pattern(want, al, 2 * al, 1);
		ASSERT_EQ((ssize_t)(2 * al), pread(fd, buf, 2 * al, al)) {
			TH_LOG("pread: %s", strerror(errno));
		}
		EXPECT_EQ(0, memcmp(buf, want, 2 * al));
		/* A block inside a granule, then two across granules' edge. */
		lfs_pattern(want, al, al, 90);
		ASSERT_EQ((ssize_t)al, pwrite(fd, want, al, al)) {
			TH_LOG("pwrite: %s", strerror(errno));
		}
		lfs_pattern(want, 65536 - al, 2 * al, 91);
		ASSERT_EQ((ssize_t)(2 * al), pwrite(fd, want, 2 * al, 65536 - al));
		ASSERT_EQ((ssize_t)(2 * al), pread(fd, buf, 2 * al, 65536 - al));
		EXPECT_EQ(0, memcmp(buf, want, 2 * al));
		ASSERT_EQ(0, fsync(fd));
		close(fd);
	);
	free(buf);
	free(want);
	CHECK_TREES();
}

TEST_F_TIMEOUT(data, copy_file_range_from_and_to_merged_files, 120)
{
	BOTH(
		int in = open(P("big"), O_RDONLY), out, out2;
		loff_t ioff = 1000, ooff = 3;

		ASSERT_LE(0, in);
		out = open(P("d/copy"), O_WRONLY | O_CREAT | O_EXCL, 0644);
		ASSERT_LE(0, out);
		/* lower -> new file, at odd offsets */
		ASSERT_EQ(300000, copy_file_range(in, &ioff, out, &ooff, 300000, 0));
		close(out);
		/* lower -> lower, into the middle of another file */
		out2 = open(P("solo"), O_WRONLY);
		ASSERT_LE(0, out2);
		ioff = 4095;
		ooff = 70001;
		ASSERT_EQ(100000, copy_file_range(in, &ioff, out2, &ooff, 100000, 0));
		/* and past its end */
		ioff = 0;
		ooff = HL_SIZE + 10;
		ASSERT_EQ(5000, copy_file_range(in, &ioff, out2, &ooff, 5000, 0));
		close(out2);
		close(in);
		/* within one lower file, non-overlapping */
		in = open(P("mid"), O_RDWR);
		ASSERT_LE(0, in);
		ioff = 0;
		ooff = 40000;
		ASSERT_EQ(20000, copy_file_range(in, &ioff, in, &ooff, 20000, 0));
		close(in);
	);
	CHECK_TREES();
}

TEST_F_TIMEOUT(data, extending_writes_past_the_lower_end, 120)
{
	BOTH(
		ASSERT_EQ(0, pwrite_pattern(P("small"), 100, 50, 100, 0));	/* at EOF */
		ASSERT_EQ(0, pwrite_pattern(P("mid"), 70000 + 5000, 10, 101, 0));
		ASSERT_EQ(0, pwrite_pattern(P("big"), 3 * MiB + 1, 4096, 102, 0));
		ASSERT_EQ(0, pwrite_pattern(P("d/a"), 2, 65536 * 2, 103, 0));
	);
	EXPECT_TRUE(all_zero(MNT("mid"), 70000, 5000));
	EXPECT_TRUE(all_zero(MNT("big"), BIG_SIZE, 3 * MiB + 1 - BIG_SIZE));
	CHECK_TREES();
	EXPECT_TRUE(all_zero(MNT("big"), BIG_SIZE, 3 * MiB + 1 - BIG_SIZE));
}

TEST_F_TIMEOUT(data, whole_file_overwrite_after_o_trunc, 120)
{
	uint64_t ino = lfs_ino(MNT("big"));

	BOTH(
		int fd = open(P("big"), O_WRONLY | O_TRUNC);
		char b[4096];

		ASSERT_LE(0, fd);
		for (off_t off = 0; off < 2 * MiB; off += sizeof(b)) {
			lfs_pattern(b, off, sizeof(b), 110);
			ASSERT_EQ((ssize_t)sizeof(b), write(fd, b, sizeof(b)));
		}
		ASSERT_EQ(0, fsync(fd));
		close(fd);
	);
	EXPECT_EQ(ino, lfs_ino(MNT("big")));
	CHECK_TREES();
	EXPECT_EQ(ino, lfs_ino(MNT("big")));
}

/*
 * hl1 and hl2 are one inode in the lower layer.  POSIX wants a write through
 * one name seen through the other; overlayfs gives that with index=on.
 * layerfs copies up one name at a time, as overlayfs does without index=on
 * (the store's deduplication links every file it keeps): the changed name
 * has its own content, the other names keep the lower file's, every name
 * keeps the lower st_ino, and the layer is untouched.  solo is a one-link
 * file with hl1's content, written the same way, as the reference.
 */
static void check_split_links(struct __test_metadata *_metadata,
			      struct lfs_upper *u, uint64_t ino)
{
	char layer_hl1[PATH_MAX];
	struct stat s1, s2, s3;

	snprintf(layer_hl1, sizeof(layer_hl1), "%s",
		 lfs_in_layer(&u->s, 1, "hl1"));
	EXPECT_TRUE(same_bytes(lfs_at(&u->s, "hl1"), lfs_at(&u->s, "solo"), 0, HL_SIZE));
	EXPECT_TRUE(same_bytes(lfs_at(&u->s, "hl3"), lfs_at(&u->s, "solo"), 0, HL_SIZE));
	EXPECT_TRUE(same_bytes(lfs_at(&u->s, "hl2-moved"), layer_hl1, 0, HL_SIZE));
	EXPECT_FALSE(same_bytes(lfs_at(&u->s, "hl1"), layer_hl1, 4095, 70000));
	ASSERT_EQ(0, lstat(lfs_at(&u->s, "hl1"), &s1));
	ASSERT_EQ(0, lstat(lfs_at(&u->s, "hl2-moved"), &s2));
	ASSERT_EQ(0, lstat(lfs_at(&u->s, "hl3"), &s3));
	EXPECT_EQ(ino, s1.st_ino);
	EXPECT_EQ(ino, s2.st_ino);
	EXPECT_EQ(ino, s3.st_ino);
	EXPECT_EQ(2, s1.st_nlink);	/* hl1 and hl3 */
	EXPECT_EQ(0600, s2.st_mode & 07777);
	EXPECT_NE(0600, s1.st_mode & 07777);
}

TEST_F_TIMEOUT(data, hard_linked_lower_file_written_through_one_name, 120)
{
	uint64_t ino = lfs_ino(MNT("hl1"));
	struct stat st;

	if (lfs_is_overlay()) {
		BOTH(ASSERT_EQ(0, pwrite_pattern(P("hl1"), 4095, 70000, 120, 0)));
		CHECK_TREES();
		EXPECT_TRUE(same_bytes(MNT("hl1"), MNT("hl2"), 0, HL_SIZE));
		return;
	}
	ASSERT_EQ(0, pwrite_pattern(MNT("hl1"), 4095, 70000, 120, 0));
	ASSERT_EQ(0, pwrite_pattern(MNT("solo"), 4095, 70000, 120, 0));
	ASSERT_EQ(0, lstat(MNT("hl2"), &st));
	EXPECT_EQ(2, st.st_nlink);	/* the lower file's names */
	/* The other name changes on its own: metadata, name, links. */
	ASSERT_EQ(0, chmod(MNT("hl2"), 0600));
	ASSERT_EQ(0, rename(MNT("hl2"), MNT("hl2-moved")));
	ASSERT_EQ(0, link(MNT("hl1"), MNT("hl3")));
	check_split_links(_metadata, &NS->u, ino);
	ASSERT_EQ(0, lfs_upper_cycle(&NS->u));
	check_split_links(_metadata, &NS->u, ino);
	/* Removing a name leaves the others as they were. */
	ASSERT_EQ(0, unlink(MNT("hl3")));
	EXPECT_TRUE(same_bytes(MNT("hl1"), MNT("solo"), 0, HL_SIZE));
}

/* Does @path hold lfs_pattern(@off, @len, @seed) at @off? */
static bool has_pattern(const char *path, off_t off, size_t len, uint32_t seed)
{
	char *want = malloc(len), *got = malloc(len);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool same = false;

	if (want && got && fd >= 0 && pread(fd, got, len, off) == (ssize_t)len) {
		lfs_pattern(want, off, len, seed);
		same = !memcmp(want, got, len);
	}
	if (fd >= 0)
		close(fd);
	free(want);
	free(got);
	return same;
}

static int drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	int err = fd < 0 || write(fd, "2", 1) != 1 ? errno : 0;

	if (fd >= 0)
		close(fd);
	return err;
}

/*
 * A partial file with dirty pages and no persisted map loses its dentry
 * (reclaim): the next lookup finds the upper file and must get the same
 * inode, with its page cache, not a second one built from the map on disk.
 */
TEST_F_TIMEOUT(data, dirty_partial_file_is_one_inode_after_reclaim, 120)
{
	ASSERT_EQ(0, pwrite_pattern(MNT("big"), 12345, 5000, 140, 0));
	ASSERT_EQ(0, pwrite_pattern(MNT("hl1"), 777, 3000, 141, 0));
	ASSERT_EQ(0, drop_caches());
	EXPECT_TRUE(has_pattern(MNT("big"), 12345, 5000, 140));
	EXPECT_TRUE(has_pattern(MNT("hl1"), 777, 3000, 141));
	ASSERT_EQ(0, lfs_upper_cycle(&NS->u));
	EXPECT_TRUE(has_pattern(MNT("big"), 12345, 5000, 140));
	EXPECT_TRUE(has_pattern(MNT("hl1"), 777, 3000, 141));
}

/*
 * Read @path cold (after sync and drop_caches) from @start to its end,
 * @size bytes per call (in three iovecs if @vec), and compare with @want
 * (@len bytes).
 */
static bool cold_read_matches(const char *path, const char *want, size_t len,
			      off_t start, size_t size, bool vec)
{
	char *buf = malloc(size);
	size_t first = size / 3, second = size / 3 + 1;
	bool same = false;
	ssize_t n = 1;
	off_t off;
	int fd = -1;

	if (!buf || lfs_drop_caches())
		goto out;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		goto out;
	same = true;
	for (off = start; same && off < (off_t)len && n > 0; off += n) {
		if (vec && size >= 3) {
			struct iovec iov[3] = {
				{ buf, first }, { buf + first, second },
				{ buf + first + second, size - first - second },
			};

			n = preadv(fd, iov, 3, off);
		} else {
			n = pread(fd, buf, size, off);
		}
		if (n < 0 || (n == 0 && off < (off_t)len) ||
		    (size_t)n > len - off || memcmp(buf, want + off, n)) {
			fprintf(stderr, "# %s: %zu-byte read%s at %lld returned %zd: %s\n",
				path, size, vec ? "v" : "", (long long)off, n,
				n < 0 ? strerror(errno) : "wrong bytes");
			same = false;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return same;
}

/*
 * Changed stretches of every length around 128 KiB (the longest stretch
 * layerfs reads the origin through, to fill from the upper file after),
 * between stretches of the origin, one just before where a truncation
 * ended the origin: cold reads of every size from odd offsets, plain and
 * vectored, return the model's bytes.
 */
TEST_F_TIMEOUT(data, cold_reads_across_scattered_changes, 120)
{
	static const struct { off_t off; size_t len; } chg[] = {
		{ 4096, 4096 }, { 16384, 8192 }, { 40960, 126976 },
		{ 204800, 131072 }, { 368640, 135168 }, { 614400, 266240 },
		{ 897024, 4096 }, { BIG_SIZE - 100, 100 },
	};
	static const size_t sizes[] = { 4095, 4096, 65537, MiB, 2 * MiB };
	static const off_t starts[] = { 0, 1, 4095, 12345 };
	char *want = malloc(BIG_SIZE);

	ASSERT_NE(NULL, want);
	BOTH(
		ASSERT_EQ(0, truncate(P("big"), 901120));
		ASSERT_EQ(0, truncate(P("big"), BIG_SIZE));
	);
	for (size_t i = 0; i < sizeof(chg) / sizeof(chg[0]); i++)
		BOTH(ASSERT_EQ(0, pwrite_pattern(P("big"), chg[i].off,
						 chg[i].len, 160 + i, 0)));
	ASSERT_EQ(BIG_SIZE, lfs_pread_file(path_in(NS->model, "big"), want,
					   BIG_SIZE, 0));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (size_t j = 0; j < sizeof(starts) / sizeof(starts[0]); j++) {
			EXPECT_TRUE(cold_read_matches(MNT("big"), want, BIG_SIZE,
						      starts[j], sizes[i], j & 1));
		}
	}
	free(want);
	CHECK_TREES();
}

TEST_F_TIMEOUT(data, st_ino_is_stable_across_copy_up_and_remount, 120)
{
	static const char *const names[] = {
		"big", "small", "mid", "hl1", "solo", "sparse", "d/a", "d/b", "top",
	};
	uint64_t ino[9];

	for (int i = 0; i < 9; i++)
		ino[i] = lfs_ino(MNT(names[i]));
	/* partial, whole, metadata-only, untouched */
	ASSERT_EQ(0, pwrite_pattern(MNT("big"), MiB, 1, 130, 0));
	ASSERT_EQ(0, pwrite_pattern(MNT("small"), 0, 100, 131, 0));
	ASSERT_EQ(0, truncate(MNT("mid"), 10));
	ASSERT_EQ(0, pwrite_pattern(MNT("solo"), 0, 1, 132, 0));
	ASSERT_EQ(0, chmod(MNT("d/a"), 0601));
	ASSERT_EQ(0, setxattr(MNT("d/b"), "user.x", "1", 1, 0));
	for (int i = 0; i < 9; i++) {
		EXPECT_EQ(ino[i], lfs_ino(MNT(names[i]))) {
			TH_LOG("%s changed st_ino after copy-up", names[i]);
		}
	}
	ASSERT_EQ(0, lfs_upper_cycle(&NS->u));
	for (int i = 0; i < 9; i++) {
		EXPECT_EQ(ino[i], lfs_ino(MNT(names[i]))) {
			TH_LOG("%s changed st_ino after remount", names[i]);
		}
	}
}

TEST_F_TIMEOUT(data, remount_with_another_granule_reads_old_files, 120)
{
	SKIP_IF_OVERLAY("cow_block=");
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		BOTH(ASSERT_EQ(0, pwrite_pattern(P("big"), odd[i].off, odd[i].len,
						 140 + i, 0)));
	NS->u.cow_block = variant->cow_block == 4096 ? 1048576 : 4096;
	CHECK_TREES();
	/* and writes with the new granule into the old map */
	BOTH(ASSERT_EQ(0, pwrite_pattern(P("big"), 5000, 70000, 150, 0)));
	CHECK_TREES();
}

TEST_HARNESS_MAIN
