// SPDX-License-Identifier: GPL-2.0
/*
 * Many processes at once: walks, listings, reads and mappings of one
 * merged tree stay right while the kernel evicts dentries, inodes and
 * pages under them, and while the mount is detached under their feet.
 * The truth is again the OCI extraction model (lfs_oci_apply).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libharness.h"

#define WORKERS		4
#define SECONDS		3

FIXTURE(conc) {
	struct lfs_stack s;
	char expect[PATH_MAX];
};

/*
 * Four layers over eight directories: files replaced, whited out, hidden by
 * opaque directories, and one 4 MiB file everybody reads.
 */
FIXTURE_SETUP(conc)
{
	struct lfs_oci *o;
	char e[64], *big;

	LFS_REQUIRE_ENV();
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_stack_init(&self->s, "concurrency"));
	for (int l = 0; l < 4; l++) {
		const char *layer = lfs_stack_add(&self->s, NULL);

		ASSERT_NE(NULL, layer);
		for (int d = 0; d < 8; d++) {
			for (int f = l; f < 30; f += 2) {
				snprintf(e, sizeof(e), "d%d/f%02d=L%d.%d.%d", d, f,
					 l, d, f);
				ASSERT_EQ(0, lfs_build(layer, LFS_ENTRIES(e)));
			}
			if (l == 1 && d % 3 == 0) {
				snprintf(e, sizeof(e), "d%d/.wh.f%02d", d, 5 + d);
				ASSERT_EQ(0, lfs_build(layer, LFS_ENTRIES(e)));
			}
			if (l == 2 && d == 7) {
				snprintf(e, sizeof(e), "d%d/.wh..wh..opq", d);
				ASSERT_EQ(0, lfs_build(layer, LFS_ENTRIES(e)));
			}
		}
	}
	big = strdup(lfs_in_layer(&self->s, 3, "big"));
	ASSERT_EQ(0, lfs_build(self->s.layer[3],
			       LFS_ENTRIES("big size=4194304")));
	{
		int fd = open(big, O_WRONLY);

		ASSERT_LE(0, fd);
		for (int i = 0; i < 4096; i++) {
			char block[1024];

			memset(block, 'a' + i % 26, sizeof(block));
			ASSERT_EQ((ssize_t)sizeof(block),
				  pwrite(fd, block, sizeof(block), i * 1024L));
		}
		close(fd);
	}

	strcpy(self->expect, lfs_in_scratch(&self->s, "expect"));
	ASSERT_EQ(0, mkdir(self->expect, 0755));
	o = lfs_oci_new(self->expect);
	ASSERT_NE(NULL, o);
	for (int l = self->s.nlayers - 1; l >= 0; l--)
		ASSERT_EQ(0, lfs_oci_apply(o, self->s.layer[l]));
	ASSERT_EQ(0, lfs_oci_finish(o));
	LFS_MOUNT(&self->s);
}

FIXTURE_TEARDOWN_PARENT(conc)
{
	lfs_stack_remove(&self->s);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Drops dentries and inodes (2) or pages (1) until killed. */
static pid_t start_evictor(const char *what)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;) {
			int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

			if (fd >= 0) {
				if (write(fd, what, 1) != 1)
					_exit(1);
				close(fd);
			}
			usleep(20000);
		}
	}
	return pid;
}

/* Runs @fn in @n children for SECONDS; returns how many reported errors. */
static int run_workers(int n, int (*fn)(FIXTURE_DATA(conc) *, int),
		       FIXTURE_DATA(conc) *self)
{
	pid_t pids[WORKERS];
	int failed = 0;

	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			double end = now() + SECONDS;
			int errors = 0, rounds = 0;

			while (now() < end && !errors) {
				errors += fn(self, i);
				rounds++;
			}
			if (errors)
				fprintf(stderr, "# worker %d: error in round %d\n",
					i, rounds);
			_exit(errors ? 1 : 0);
		}
	}
	for (int i = 0; i < n; i++) {
		int status;

		if (pids[i] < 0 || waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	}
	return failed;
}

static int walk_once(FIXTURE_DATA(conc) *self, int worker)
{
	char why[512];
	int ret = lfs_tree_compare(self->expect, self->s.mnt,
				   LFS_CMP_MTIME | LFS_CMP_INO | LFS_CMP_DINO,
				   why, sizeof(why));

	(void)worker;
	if (ret)
		fprintf(stderr, "# %s\n", why);
	return ret != 0;
}

TEST_F_TIMEOUT(conc, parallel_walks_see_the_model_while_caches_are_dropped, 120)
{
	pid_t evictor = start_evictor("2");

	ASSERT_LT(0, evictor);
	EXPECT_EQ(0, run_workers(WORKERS, walk_once, self));
	kill(evictor, SIGKILL);
	waitpid(evictor, NULL, 0);
}

/* read(2) or mmap of "big", by turns, checking every byte. */
static int read_big_once(FIXTURE_DATA(conc) *self, int worker)
{
	static char buf[65536];
	const size_t size = 4194304;
	int fd = open(lfs_at(&self->s, "big"), O_RDONLY);
	int bad = 0;

	if (fd < 0)
		return 1;
	if (worker % 2) {
		const char *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

		if (map == MAP_FAILED) {
			close(fd);
			return 1;
		}
		for (size_t off = 0; off < size && !bad; off += 512)
			bad = map[off] != 'a' + (char)(off / 1024 % 26);
		munmap((void *)map, size);
	} else {
		for (size_t off = 0; off < size && !bad; off += sizeof(buf)) {
			if (pread(fd, buf, sizeof(buf), off) != sizeof(buf))
				bad = 1;
			for (size_t i = 0; i < sizeof(buf) && !bad; i += 512)
				bad = buf[i] != 'a' + (char)((off + i) / 1024 % 26);
		}
	}
	close(fd);
	return bad;
}

TEST_F_TIMEOUT(conc, parallel_reads_and_mappings_see_the_data_while_pages_are_dropped, 120)
{
	pid_t evictor = start_evictor("1");

	ASSERT_LT(0, evictor);
	EXPECT_EQ(0, run_workers(WORKERS, read_big_once, self));
	kill(evictor, SIGKILL);
	waitpid(evictor, NULL, 0);
}

/* Workers inside the mount keep working after it is lazily detached. */
TEST_F_TIMEOUT(conc, walkers_survive_a_lazy_unmount, 120)
{
	pid_t pids[WORKERS];
	int failed = 0;

	for (int i = 0; i < WORKERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			double end = now() + SECONDS;
			int errors = 0;

			/* From inside: the tree stays reachable as ".". */
			if (chdir(self->s.mnt))
				_exit(1);
			while (now() < end && !errors) {
				char why[512];

				errors += lfs_tree_compare(self->expect, ".",
							   LFS_CMP_INO, why,
							   sizeof(why)) != 0;
				if (errors)
					fprintf(stderr, "# %s\n", why);
			}
			_exit(errors ? 1 : 0);
		}
	}
	usleep(500000);
	EXPECT_EQ(0, umount2(self->s.mnt, MNT_DETACH));
	self->s.mounted = false;
	for (int i = 0; i < WORKERS; i++) {
		int status;

		if (pids[i] < 0 || waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	}
	EXPECT_EQ(0, failed);
}

TEST_HARNESS_MAIN
