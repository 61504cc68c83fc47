// SPDX-License-Identifier: GPL-2.0
/*
 * The module's life: a busy mount cannot be unmounted, a mounted (or still
 * referenced) layerfs cannot be unloaded, and loading, using and unloading
 * it a hundred times leaks nothing.  Run once, not per filesystem, with
 * $LFS_MODULE_DIR the staging root for `modprobe -d`.  The module is left
 * loaded at the end, as the tests found it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libharness.h"

#define MODULE "layerfs"

static const char *module_dir(void)
{
	const char *d = getenv("LFS_MODULE_DIR");

	return d && *d ? d : NULL;
}

/* modprobe -d $LFS_MODULE_DIR layerfs: its exit status. */
static int load_module(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execlp("modprobe", "modprobe", "-d", module_dir(), MODULE,
		       (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * The module file modprobe would load, uncompressed into @out (a path
 * below $LFS_TEST_DIR), so that a load is one finit_module(2) call, as
 * modprobe makes it, without a process and a decompression each time.
 */
static int plain_module_file(char *out, size_t len)
{
	char cmd[3 * PATH_MAX], line[PATH_MAX + 64], path[PATH_MAX] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "modprobe -d '%s' --show-depends " MODULE " 2>&1",
		 module_dir());
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, "insmod %4095s", path) == 1 &&
		    strstr(path, "/" MODULE ".ko"))
			break;
	pclose(p);
	if (!path[0])
		return -ENOENT;
	snprintf(out, len, "%s/" MODULE ".ko", lfs_test_dir());
	if (strlen(path) > 3 && !strcmp(path + strlen(path) - 3, ".xz"))
		snprintf(cmd, sizeof(cmd), "xz -dc '%s' >'%s'", path, out);
	else
		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path, out);
	return system(cmd) ? -EIO : 0;
}

static int finit_module_file(const char *path)
{
	int ret, fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

/* delete_module(2) as rmmod does it: 0 or -errno. */
static int unload_module(void)
{
	return syscall(SYS_delete_module, MODULE, O_NONBLOCK) ? -errno : 0;
}

static bool module_loaded(void)
{
	return !access("/sys/module/" MODULE, F_OK);
}

static long module_refcnt(void)
{
	char buf[32] = "";
	int fd = open("/sys/module/" MODULE "/refcnt", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

FIXTURE(mod) {
	struct lfs_stack s;
};

FIXTURE_SETUP(mod)
{
	LFS_REQUIRE_ENV();
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_stack_init(&self->s, "module"));
	LFS_LAYER(&self->s, "f=top", "d/a", "l->f");
	LFS_LAYER(&self->s, "f=bottom", "d/b", ".wh.x", "big size=1048576");
}

FIXTURE_TEARDOWN_PARENT(mod)
{
	lfs_stack_remove(&self->s);
	/* Whatever happened, leave layerfs loaded for the tests after us. */
	if (!module_loaded() && module_dir())
		load_module();
}

#define AT(rel) lfs_at(&self->s, rel)

static void require_module_dir(struct __test_metadata *_metadata)
{
	ASSERT_NE(NULL, module_dir()) {
		TH_LOG("LFS_MODULE_DIR is not set: the runner passes it");
	}
}

TEST_F(mod, layerfs_is_registered)
{
	EXPECT_TRUE(lfs_fs_registered(MODULE));
	EXPECT_TRUE(module_loaded());
}

TEST_F(mod, umount_with_an_open_file_is_ebusy)
{
	int fd;

	LFS_MOUNT(&self->s);
	fd = open(AT("f"), O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, umount2(self->s.mnt, 0));
	EXPECT_EQ(EBUSY, errno);
	close(fd);
	EXPECT_EQ(0, lfs_stack_umount(&self->s));
}

TEST_F(mod, umount_with_an_open_directory_is_ebusy)
{
	int fd;

	LFS_MOUNT(&self->s);
	fd = open(AT("d"), O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, umount2(self->s.mnt, 0));
	EXPECT_EQ(EBUSY, errno);
	close(fd);
	EXPECT_EQ(0, lfs_stack_umount(&self->s));
}

TEST_F(mod, umount_with_a_working_directory_inside_is_ebusy)
{
	LFS_MOUNT(&self->s);
	ASSERT_EQ(0, chdir(AT("d")));
	EXPECT_EQ(-1, umount2(self->s.mnt, 0));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, chdir("/"));
	EXPECT_EQ(0, lfs_stack_umount(&self->s));
}

TEST_F(mod, umount_with_a_mapping_is_ebusy)
{
	void *map;
	int fd;

	LFS_MOUNT(&self->s);
	fd = open(AT("big"), O_RDONLY);
	ASSERT_LE(0, fd);
	map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	close(fd);
	EXPECT_EQ(-1, umount2(self->s.mnt, 0));
	EXPECT_EQ(EBUSY, errno);
	munmap(map, 4096);
	EXPECT_EQ(0, lfs_stack_umount(&self->s));
}

TEST_F(mod, rmmod_is_refused_while_mounted)
{
	int ret;

	require_module_dir(_metadata);
	LFS_MOUNT(&self->s);
	EXPECT_LT(0, module_refcnt());
	ret = unload_module();
	EXPECT_TRUE(ret == -EBUSY || ret == -EWOULDBLOCK) {
		TH_LOG("delete_module: %s", strerror(-ret));
	}
	EXPECT_TRUE(module_loaded());
	EXPECT_STREQ("top", lfs_cat(AT("f")));

	ASSERT_EQ(0, lfs_stack_umount(&self->s));
	EXPECT_EQ(0, unload_module());
	EXPECT_FALSE(lfs_fs_registered(MODULE));
	ASSERT_EQ(0, load_module());
	EXPECT_TRUE(lfs_fs_registered(MODULE));
}

TEST_F(mod, rmmod_is_refused_while_a_lazily_unmounted_file_is_open)
{
	char buf[8] = "";
	int fd, ret;

	require_module_dir(_metadata);
	LFS_MOUNT(&self->s);
	fd = open(AT("f"), O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, umount2(self->s.mnt, MNT_DETACH));
	self->s.mounted = false;

	ret = unload_module();
	EXPECT_TRUE(ret == -EBUSY || ret == -EWOULDBLOCK) {
		TH_LOG("delete_module: %s", strerror(-ret));
	}
	EXPECT_EQ(3, pread(fd, buf, sizeof(buf) - 1, 0));
	EXPECT_STREQ("top", buf);
	close(fd);

	EXPECT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module());
	EXPECT_TRUE(lfs_fs_registered(MODULE));
}

/* ------------------------------------------------------------------ */
/* Leaks over a hundred load/use/unload cycles                         */

struct slab {
	char name[64];
	long objs;
	long objsize;
};

/* /proc/slabinfo, active objects per cache; count or -errno. */
static long read_slabinfo(struct slab *out, long max)
{
	char line[512];
	long n = 0;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && n < max) {
		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%63s %ld %*d %ld", out[n].name, &out[n].objs,
			   &out[n].objsize) == 3)
			n++;
	}
	fclose(f);
	return n;
}

static long objs_of(const struct slab *v, long n, const char *name)
{
	for (long i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return v[i].objs;
	return 0;
}

/* One cycle: load, mount, look around, read, unmount, unload. */
static int cycle(struct lfs_stack *s, const char *ko)
{
	char *c;
	int ret = finit_module_file(ko);

	if (ret)
		return ret;
	ret = lfs_stack_mount(s, LFS_VIA_FSCONFIG_PLUS);
	if (ret)
		return ret;
	c = lfs_cat(lfs_at(s, "f"));
	free(c);
	c = lfs_ls(lfs_at(s, "d"));
	free(c);
	c = lfs_cat(lfs_at(s, "big"));
	free(c);
	lfs_lstat_errno(lfs_at(s, "x"));
	lfs_lstat_errno(lfs_at(s, "l"));
	ret = lfs_stack_umount(s);
	if (ret)
		return ret;
	return unload_module();
}

static long snapshot(struct slab *v, long max)
{
	if (lfs_drop_caches())
		return -EIO;
	return read_slabinfo(v, max);
}

/*
 * A leak grows a cache by about one object per cycle, every cycle; slab
 * noise (per-CPU caches, dentries of /sys/module) does not keep growing.
 * So: two runs of 50 cycles each, and a cache that grew by 50 objects or
 * more in both is a leak.  kmemleak, where the kernel has it, has the
 * last word on unreferenced objects.  The module is loaded the way
 * modprobe does it, with finit_module(2) on the (uncompressed) file
 * modprobe -d $LFS_MODULE_DIR resolves; the last load is modprobe's own.
 */
TEST_F_TIMEOUT(mod, hundred_load_unload_cycles_leak_nothing, 900)
{
	enum { MAX = 1024, ROUND = 50 };
	char ko[PATH_MAX];
	struct slab *snap[3];
	long n[3];
	bool kmemleak = !access("/sys/kernel/debug/kmemleak", W_OK);
	int leaks = 0;

	require_module_dir(_metadata);
	ASSERT_EQ(0, plain_module_file(ko, sizeof(ko)));
	for (int i = 0; i < 3; i++) {
		snap[i] = calloc(MAX, sizeof(struct slab));
		ASSERT_NE(NULL, snap[i]);
	}
	ASSERT_EQ(0, unload_module());
	if (kmemleak)
		ASSERT_EQ(0, lfs_write_file("/sys/kernel/debug/kmemleak",
					    "clear", 5));
	for (int i = 0; i < 5; i++)	/* warm up caches that stay */
		ASSERT_EQ(0, cycle(&self->s, ko));

	for (int r = 0; r < 3; r++) {
		if (r) {
			for (int i = 0; i < ROUND; i++) {
				int ret = cycle(&self->s, ko);

				ASSERT_EQ(0, ret) {
					TH_LOG("cycle %d: %s", (r - 1) * ROUND + i,
					       strerror(-ret));
				}
			}
		}
		n[r] = snapshot(snap[r], MAX);
		ASSERT_LT(0, n[r]);
	}

	for (long i = 0; i < n[2]; i++) {
		const char *name = snap[2][i].name;
		long d1 = objs_of(snap[1], n[1], name) - objs_of(snap[0], n[0], name);
		long d2 = snap[2][i].objs - objs_of(snap[1], n[1], name);

		if (d1 >= ROUND && d2 >= ROUND) {
			TH_LOG("%s grew by %ld and %ld objects over two runs of %d cycles",
			       name, d1, d2, ROUND);
			leaks++;
		}
		EXPECT_EQ(NULL, strstr(name, MODULE)) {
			TH_LOG("cache %s outlives the module", name);
		}
	}
	EXPECT_EQ(0, leaks);

	if (kmemleak) {
		char *report;

		ASSERT_EQ(0, lfs_write_file("/sys/kernel/debug/kmemleak",
					    "scan", 4));
		report = lfs_cat("/sys/kernel/debug/kmemleak");
		ASSERT_NE(NULL, report);
		EXPECT_EQ(NULL, strstr(report, MODULE)) {
			TH_LOG("kmemleak:\n%s", report);
		}
	} else {
		TH_LOG("no kmemleak in this kernel: slab growth only");
	}
	ASSERT_EQ(0, load_module());
}

TEST_F(mod, module_is_loaded_after_the_tests)
{
	EXPECT_TRUE(module_loaded());
	EXPECT_TRUE(lfs_fs_registered(MODULE));
}

TEST_HARNESS_MAIN
