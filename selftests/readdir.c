// SPDX-License-Identifier: GPL-2.0
/*
 * readdir of merged directories: every visible name once, no whiteouts,
 * d_type and d_ino right, "." and ".." right, and positions that stay
 * valid: telldir/seekdir, lseek to a d_off, getdents64 with a buffer that
 * holds a single entry, on a directory of 100,000 entries merged from
 * three layers (10,000 on the disk filesystems unless LFS_BIG_DIR says
 * otherwise: see big_entries()).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "libharness.h"

FIXTURE(dir) {
	struct lfs_stack s;
};

FIXTURE_SETUP(dir)
{
	LFS_REQUIRE_ENV();
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_stack_init(&self->s, "readdir"));
}

FIXTURE_TEARDOWN_PARENT(dir)
{
	lfs_stack_remove(&self->s);
}

#define AT(rel) lfs_at(&self->s, rel)

/* Entries of @dir, "." and ".." included, read with a roomy buffer. */
static long read_all(const char *dir, struct lfs_dent **out)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n;

	if (fd < 0)
		return -errno;
	n = lfs_getdents_all(fd, 65536, out);
	close(fd);
	return n;
}

static const struct lfs_dent *find(const struct lfs_dent *d, long n,
				   const char *name)
{
	for (long i = 0; i < n; i++)
		if (!strcmp(d[i].name, name))
			return &d[i];
	return NULL;
}

TEST_F(dir, name_in_several_layers_is_listed_once)
{
	LFS_LAYER(&self->s, "d/x=0", "d/a");
	LFS_LAYER(&self->s, "d/x=1", "d/b", "d/a");
	LFS_LAYER(&self->s, "d/x/", "d/c", "d/a");
	LFS_MOUNT(&self->s);

	EXPECT_STREQ("a b c x", lfs_ls(AT("d")));
}

TEST_F(dir, names_from_many_layers_are_each_listed_once)
{
	struct lfs_dent *d;
	long n;

	for (int i = 0; i < 20; i++) {
		char a[16], b[16];

		snprintf(a, sizeof(a), "own%02d", i);
		snprintf(b, sizeof(b), "shared%d", i % 4);
		LFS_LAYER(&self->s, a, b, "common");
	}
	LFS_MOUNT(&self->s);

	n = read_all(self->s.mnt, &d);
	ASSERT_EQ(2 + 20 + 4 + 1, n);
	for (long i = 0; i < n; i++)
		for (long j = i + 1; j < n; j++)
			EXPECT_STRNE(d[i].name, d[j].name);
}

TEST_F(dir, whiteouts_and_opaque_markers_are_never_listed)
{
	struct lfs_dent *d;
	long n;

	LFS_LAYER(&self->s, "d/.wh.gone", "d/.wh..wh..opq", "d/.wh..wh.x",
		  "d/ovl@0:0", "d/kept", ".wh.top", "top@0:0");
	LFS_LAYER(&self->s, "d/gone", "d/ovl", "d/old", "top");
	LFS_MOUNT(&self->s);

	n = read_all(AT("d"), &d);
	ASSERT_EQ(3, n);
	EXPECT_NE(NULL, find(d, n, "kept"));
	n = read_all(self->s.mnt, &d);
	EXPECT_EQ(3, n);
	EXPECT_NE(NULL, find(d, n, "d"));
}

TEST_F(dir, d_type_matches_lstat_for_every_kind_of_file)
{
	static const struct { const char *name; unsigned char type; } want[] = {
		{ "reg", DT_REG }, { "dir", DT_DIR }, { "lnk", DT_LNK },
		{ "chr", DT_CHR }, { "blk", DT_BLK }, { "fifo", DT_FIFO },
		{ "sock", DT_SOCK }, { "merged", DT_DIR }, { "was_dir", DT_REG },
		{ "was_file", DT_DIR },
	};
	struct lfs_dent *d;
	long n;

	LFS_LAYER(&self->s, "reg", "dir/", "lnk->reg", "chr@1:3", "fifo|",
		  "sock#", "merged/a", "was_dir=f", "was_file/x");
	LFS_LAYER(&self->s, "merged/b", "was_dir/y", "was_file=f");
	ASSERT_EQ(0, mknod(lfs_in_layer(&self->s, 0, "blk"), S_IFBLK | 0600,
			   makedev(7, 0)));
	LFS_MOUNT(&self->s);

	n = read_all(self->s.mnt, &d);
	ASSERT_EQ(2 + 10, n);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct lfs_dent *e = find(d, n, want[i].name);

		ASSERT_NE(NULL, e);
		EXPECT_EQ(want[i].type, e->type) {
			TH_LOG("%s: d_type %u, expected %u", want[i].name,
			       e->type, want[i].type);
		}
	}
}

TEST_F(dir, d_ino_matches_st_ino)
{
	struct lfs_dent *d;
	long n;

	LFS_LAYER(&self->s, "merged/a", "top", "hl=>top", "only_top/");
	LFS_LAYER(&self->s, "merged/b", "bottom", "only_bottom/x", "top");
	LFS_MOUNT(&self->s);

	n = read_all(self->s.mnt, &d);
	ASSERT_LT(2, n);
	for (long i = 0; i < n; i++) {
		struct stat st;
		char rel[300];

		snprintf(rel, sizeof(rel), "%s", d[i].name);
		ASSERT_EQ(0, lstat(AT(rel), &st));
		if (!strcmp(d[i].name, ".."))
			continue;	/* above the mount: the fs decides */
		EXPECT_EQ(st.st_ino, d[i].ino) {
			TH_LOG("%s: d_ino %llu, st_ino %llu", d[i].name,
			       (unsigned long long)d[i].ino,
			       (unsigned long long)st.st_ino);
		}
	}
}

TEST_F(dir, dot_is_the_directory_and_dotdot_its_parent)
{
	struct lfs_dent *d;
	struct stat sub, parent;
	long n;

	LFS_LAYER(&self->s, "d/sub/a");
	LFS_LAYER(&self->s, "d/sub/b", "d/c");
	LFS_MOUNT(&self->s);

	ASSERT_EQ(0, stat(AT("d/sub"), &sub));
	ASSERT_EQ(0, stat(AT("d"), &parent));
	n = read_all(AT("d/sub"), &d);
	ASSERT_EQ(4, n);
	ASSERT_NE(NULL, find(d, n, "."));
	ASSERT_NE(NULL, find(d, n, ".."));
	EXPECT_EQ(sub.st_ino, find(d, n, ".")->ino);
	EXPECT_EQ(DT_DIR, find(d, n, ".")->type);
	EXPECT_EQ(parent.st_ino, find(d, n, "..")->ino);
	EXPECT_EQ(DT_DIR, find(d, n, "..")->type);

	ASSERT_EQ(0, stat(self->s.mnt, &parent));
	n = read_all(self->s.mnt, &d);
	ASSERT_NE(NULL, find(d, n, "."));
	ASSERT_NE(NULL, find(d, n, ".."));
	EXPECT_EQ(parent.st_ino, find(d, n, ".")->ino);
}

TEST_F(dir, directory_emptied_by_whiteouts_lists_only_dot_and_dotdot)
{
	struct lfs_dent *d;
	long n;

	LFS_LAYER(&self->s, "d/.wh.a", "d/.wh.b", "e/.wh..wh..opq");
	LFS_LAYER(&self->s, "d/a", "d/b", "e/c");
	LFS_MOUNT(&self->s);

	n = read_all(AT("d"), &d);
	EXPECT_EQ(2, n);
	n = read_all(AT("e"), &d);
	EXPECT_EQ(2, n);
}

TEST_F(dir, rewinddir_lists_the_same_entries_again)
{
	char first[64][256];
	struct dirent *de;
	int n = 0, m = 0;
	DIR *dp;

	LFS_LAYER(&self->s, "d/a", "d/b", "d/c", "d/.wh.x");
	LFS_LAYER(&self->s, "d/x", "d/y", "d/z");
	LFS_MOUNT(&self->s);

	dp = opendir(AT("d"));
	ASSERT_NE(NULL, dp);
	while ((de = readdir(dp)) && n < 64)
		snprintf(first[n++], 256, "%s", de->d_name);
	rewinddir(dp);
	while ((de = readdir(dp))) {
		ASSERT_LT(m, n);
		EXPECT_STREQ(first[m], de->d_name);
		m++;
	}
	EXPECT_EQ(n, m);
	EXPECT_EQ(2 + 5, n);
	closedir(dp);
}

TEST_F(dir, getdents64_buffer_too_small_for_one_entry_is_einval)
{
	char buf[16];
	int fd;

	LFS_LAYER(&self->s, "d/some_long_name");
	LFS_LAYER(&self->s, "d/another_long_name");
	LFS_MOUNT(&self->s);

	fd = open(AT("d"), O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, syscall(SYS_getdents64, fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

TEST_F(dir, directory_replaced_by_a_file_cannot_be_listed)
{
	LFS_LAYER(&self->s, "d=file");
	LFS_LAYER(&self->s, "d/x");
	LFS_MOUNT(&self->s);

	EXPECT_EQ(-1, open(AT("d"), O_RDONLY | O_DIRECTORY));
	EXPECT_EQ(ENOTDIR, errno);
}

/* ------------------------------------------------------------------ */
/* A directory of 100,000 entries merged from three layers             */

/*
 * Visible: n000000 .. n(N-1), every thousandth one a directory, with
 *   top:    [0.70 N, N)         and .wh.x000000 .. .wh.x(N/200 - 1)
 *   middle: [0.35 N, 0.75 N)
 *   bottom: [0, 0.40 N)         and x000000 .. x(N/200 - 1), whited out.
 *
 * N is 100,000 on tmpfs.  On the disk filesystems an entry costs about a
 * millisecond to create and as much to remove under emulation, so there
 * N is 10,000 (still a multi-block hashed/B-tree directory on ext4, xfs
 * and btrfs) unless $LFS_BIG_DIR asks for more, e.g. LFS_BIG_DIR=100000
 * for a full run.  The layers are built once per program run (below
 * $LFS_TEST_DIR/big-N) and shared by these tests.
 */
static long big_entries(void)
{
	const char *env = getenv("LFS_BIG_DIR");

	if (env && *env)
		return strtol(env, NULL, 10);
	return strcmp(lfs_fs(), "tmpfs") ? 10000 : 100000;
}

static int build_big_layer(const char *path, int layer, long n)
{
	static const int from[3] = { 70, 35, 0 }, to[3] = { 100, 75, 40 };
	char name[32];
	int dfd, ret = 0;

	if (mkdir(path, 0755))
		return -errno;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	for (long i = n * from[layer] / 100; i < n * to[layer] / 100 && !ret;
	     i++) {
		snprintf(name, sizeof(name), "n%06ld", i);
		if (i % 1000 ? mknodat(dfd, name, S_IFREG | 0644, 0) :
			       mkdirat(dfd, name, 0755))
			ret = -errno;
	}
	for (long i = 0; i < n / 200 && !ret && layer != 1; i++) {
		snprintf(name, sizeof(name), "%sx%06ld", layer ? "" : ".wh.", i);
		if (mknodat(dfd, name, S_IFREG | 0644, 0))
			ret = -errno;
	}
	close(dfd);
	return ret;
}

FIXTURE(big) {
	struct lfs_stack s;
	long big;		/* N, the visible entries besides . and .. */
	long n;			/* entries read, "." and ".." included */
	struct lfs_dent *d;	/* as read with a roomy buffer */
};

FIXTURE_SETUP(big)
{
	char *top, *layer, *done;

	LFS_REQUIRE_ENV();
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_stack_init(&self->s, "readdir-big"));
	self->big = big_entries();
	ASSERT_LT(0, self->big);
	ASSERT_GE(1000000, self->big);
	ASSERT_LE(0, asprintf(&top, "%s/big-%ld", lfs_test_dir(), self->big));
	ASSERT_LE(0, asprintf(&done, "%s/complete", top));
	if (lfs_lstat_errno(done)) {
		ASSERT_EQ(0, lfs_rm_rf(top));
		ASSERT_EQ(0, mkdir(top, 0755));
		for (int i = 0; i < 3; i++) {
			ASSERT_LE(0, asprintf(&layer, "%s/L%d", top, i));
			ASSERT_EQ(0, build_big_layer(layer, i, self->big));
		}
		ASSERT_EQ(0, lfs_write_file(done, "", 0));
		TH_LOG("built a directory of %ld entries in three layers",
		       self->big);
	}
	for (int i = 0; i < 3; i++) {
		ASSERT_LE(0, asprintf(&self->s.layer[i], "%s/L%d", top, i));
		self->s.nlayers++;
	}
	LFS_MOUNT(&self->s);
	self->n = read_all(self->s.mnt, &self->d);
	ASSERT_LT(0, self->n);
}

FIXTURE_TEARDOWN_PARENT(big)
{
	lfs_stack_remove(&self->s);
}

/*
 * Checks one listing of the big directory: every n%06d once, with the
 * right d_type, and nothing else but "." and "..".
 */
static void check_big_listing(struct __test_metadata *_metadata,
			      const struct lfs_dent *d, long n, long big)
{
	unsigned char *seen = calloc(big, 1);
	int dots = 0;

	ASSERT_NE(NULL, seen);
	ASSERT_EQ(big + 2, n);
	for (long i = 0; i < n; i++) {
		int idx;
		char extra;

		if (!strcmp(d[i].name, ".") || !strcmp(d[i].name, "..")) {
			dots++;
			continue;
		}
		ASSERT_EQ(1, sscanf(d[i].name, "n%06d%c", &idx, &extra)) {
			TH_LOG("unexpected entry \"%s\"", d[i].name);
		}
		ASSERT_LE(0, idx);
		ASSERT_GT(big, idx);
		EXPECT_EQ(0, seen[idx]) {
			TH_LOG("%s listed twice", d[i].name);
		}
		seen[idx] = 1;
		EXPECT_EQ(idx % 1000 ? DT_REG : DT_DIR, d[i].type) {
			TH_LOG("%s: d_type %u", d[i].name, d[i].type);
		}
	}
	EXPECT_EQ(2, dots);
	free(seen);
}

TEST_F_TIMEOUT(big, every_merged_entry_is_listed_once, 600)
{
	check_big_listing(_metadata, self->d, self->n, self->big);
}

TEST_F_TIMEOUT(big, getdents64_with_a_one_entry_buffer_lists_everything, 600)
{
	/* 19 bytes of header + "n000000\0", rounded up to 8: 32 bytes. */
	size_t one = (offsetof(struct lfs_dirent64, d_name) + 8 + 7) & ~7ul;
	int fd = open(self->s.mnt, O_RDONLY | O_DIRECTORY);
	struct lfs_dent *d;
	long n;

	ASSERT_EQ(32u, one);
	ASSERT_LE(0, fd);
	n = lfs_getdents_all(fd, one, &d);
	close(fd);
	check_big_listing(_metadata, d, n, self->big);
}

TEST_F_TIMEOUT(big, telldir_seekdir_return_to_the_same_entry, 600)
{
	long *pos = calloc(self->big + 2, sizeof(long));
	char (*names)[8] = calloc(self->big + 2, 8);
	struct lfs_rng rng;
	struct dirent *de;
	long n = 0;
	DIR *dp = opendir(self->s.mnt);

	ASSERT_NE(NULL, dp);
	ASSERT_NE(NULL, pos);
	ASSERT_NE(NULL, names);
	for (;;) {
		long p = telldir(dp);

		de = readdir(dp);
		if (!de)
			break;
		ASSERT_GT(self->big + 2, n);
		pos[n] = p;
		ASSERT_GT(8u, strlen(de->d_name));
		strcpy(names[n], de->d_name);
		n++;
	}
	ASSERT_EQ(self->big + 2, n);

	lfs_rng_init(&rng, lfs_seed());
	for (int k = 0; k < 300; k++) {
		long i = k == 0 ? 0 : k == 1 ? n - 1 : lfs_below(&rng, n);

		seekdir(dp, pos[i]);
		for (long j = i; j < i + 3 && j < n; j++) {
			de = readdir(dp);
			ASSERT_NE(NULL, de) {
				TH_LOG("nothing after seekdir to entry %ld", i);
			}
			EXPECT_STREQ(names[j], de->d_name) {
				TH_LOG("seekdir to entry %ld", i);
			}
		}
	}
	seekdir(dp, pos[n - 1]);
	EXPECT_NE(NULL, readdir(dp));
	EXPECT_EQ(NULL, readdir(dp));
	closedir(dp);
}

TEST_F_TIMEOUT(big, lseek_to_a_d_off_resumes_after_that_entry, 600)
{
	struct lfs_rng rng;
	int fd = open(self->s.mnt, O_RDONLY | O_DIRECTORY);

	ASSERT_LE(0, fd);
	lfs_rng_init(&rng, lfs_seed());
	for (int k = 0; k < 300; k++) {
		long i = k == 0 ? 0 : k == 1 ? self->n - 1 :
			 lfs_below(&rng, self->n);
		char buf[64];
		long got;

		ASSERT_EQ(self->d[i].off, lseek(fd, self->d[i].off, SEEK_SET));
		got = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (i == self->n - 1) {
			EXPECT_EQ(0, got);
			continue;
		}
		ASSERT_LT(0, got);
		EXPECT_STREQ(self->d[i + 1].name,
			     ((struct lfs_dirent64 *)buf)->d_name) {
			TH_LOG("lseek to d_off of entry %ld", i);
		}
	}
	close(fd);
}

TEST_F_TIMEOUT(big, two_open_streams_do_not_disturb_each_other, 600)
{
	int a = open(self->s.mnt, O_RDONLY | O_DIRECTORY);
	int b = open(self->s.mnt, O_RDONLY | O_DIRECTORY);
	struct lfs_dent *da = calloc(self->big + 2, sizeof(*da));
	struct lfs_dent *db = calloc(self->big + 2, sizeof(*db));
	long na = 0, nb = 0;
	bool a_done = false, b_done = false;

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_NE(NULL, da);
	ASSERT_NE(NULL, db);
	/* Alternate small reads on both descriptors. */
	while (!a_done || !b_done) {
		for (int which = 0; which < 2; which++) {
			int fd = which ? b : a;
			bool *done = which ? &b_done : &a_done;
			struct lfs_dent *out = which ? db : da;
			long *n = which ? &nb : &na;
			char buf[4096];
			long got;

			if (*done)
				continue;
			got = syscall(SYS_getdents64, fd, buf,
				      which ? sizeof(buf) : 200);
			ASSERT_LE(0, got);
			if (!got) {
				*done = true;
				continue;
			}
			for (long p = 0; p < got; ) {
				struct lfs_dirent64 *e = (void *)(buf + p);

				ASSERT_GT(self->big + 2, *n);
				snprintf(out[*n].name, sizeof(out[*n].name),
					 "%s", e->d_name);
				out[*n].type = e->d_type;
				(*n)++;
				p += e->d_reclen;
			}
		}
	}
	check_big_listing(_metadata, da, na, self->big);
	check_big_listing(_metadata, db, nb, self->big);
	close(a);
	close(b);
}

TEST_F_TIMEOUT(big, sampled_entries_have_matching_d_ino_and_st_ino, 600)
{
	struct lfs_rng rng;
	int fd = open(self->s.mnt, O_RDONLY | O_DIRECTORY);

	ASSERT_LE(0, fd);
	lfs_rng_init(&rng, lfs_seed());
	for (int k = 0; k < 2000; k++) {
		long i = lfs_below(&rng, self->n);
		struct stat st;

		if (!strcmp(self->d[i].name, ".."))
			continue;
		ASSERT_EQ(0, fstatat(fd, self->d[i].name, &st,
				     AT_SYMLINK_NOFOLLOW));
		EXPECT_EQ(st.st_ino, self->d[i].ino) {
			TH_LOG("%s", self->d[i].name);
		}
	}
	for (long i = 0; i < self->big / 200; i += 10) {
		char name[32];
		struct stat st;

		snprintf(name, sizeof(name), "x%06ld", i);
		EXPECT_EQ(-1, fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW));
		snprintf(name, sizeof(name), ".wh.x%06ld", i);
		EXPECT_EQ(-1, fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW));
	}
	close(fd);
}

TEST_HARNESS_MAIN
