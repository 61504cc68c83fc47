// SPDX-License-Identifier: GPL-2.0
/*
 * Mounting: mount(2) with "lowerdir=TOP:...:BOTTOM", the new mount API
 * with "lowerdir" or one "lowerdir+" per layer, and every kind of bad input
 * failing with the right errno and a one-line reason in the fs_context log
 * ("e layerfs: ...") or, for mount(2), in the kernel log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libharness.h"
#include "uapi/linux/layerfs.h"

FIXTURE(opts) {
	struct lfs_stack s;
};

FIXTURE_SETUP(opts)
{
	LFS_REQUIRE_ENV();
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_stack_init(&self->s, "opts"));
	LFS_LAYER(&self->s, "f=top", "a");
	LFS_LAYER(&self->s, "f=bottom", "b");
}

FIXTURE_TEARDOWN_PARENT(opts)
{
	lfs_stack_remove(&self->s);
}

/*
 * Does the log hold an error line ("e ...") that mentions @word (any error
 * line if @word is NULL)?  That each line also names the filesystem is
 * one test of its own (error_lines_name_the_filesystem).
 */
static bool log_explains(const char *log, const char *word)
{
	const char *line = log;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[1024];

		snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
		if (!strncmp(buf, "e ", 2) && (!word || strstr(buf, word)))
			return true;
		line = end ? end + 1 : NULL;
	}
	return false;
}

/* A layer list of @s's layers plus optional extra paths, for fsconfig. */
static int try_plus(struct lfs_fc *fc, const char *mnt, int n,
		    const char *const *paths)
{
	lfs_fc_open(fc, lfs_fstype());
	for (int i = 0; i < n; i++)
		lfs_fc_set(fc, "lowerdir+", paths[i]);
	return lfs_fc_mount(fc, mnt);
}

static char *scratch_path(struct lfs_stack *s, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", s->dir, name) < 0)
		return NULL;
	return p;
}

/*
 * Paths of @n layer directories "$LFS_TEST_DIR/many/<i>", each holding
 * "f<i>" and "common" (content "<i>").  Built once per program run, for
 * LAYERFS_MAX_LAYERS + 1 layers, and shared by the tests that need many.
 */
static int many_layers(int n, char ***out)
{
	char *top, *done;
	char **paths;
	int ret = 0;

	if (n > LAYERFS_MAX_LAYERS + 1)
		return -EINVAL;
	if (asprintf(&top, "%s/many", lfs_test_dir()) < 0 ||
	    asprintf(&done, "%s/complete", top) < 0)
		return -ENOMEM;
	paths = calloc(LAYERFS_MAX_LAYERS + 1, sizeof(*paths));
	if (!paths)
		return -ENOMEM;
	for (int i = 0; i <= LAYERFS_MAX_LAYERS; i++)
		if (asprintf(&paths[i], "%s/%d", top, i) < 0)
			return -ENOMEM;
	*out = paths;
	if (!lfs_lstat_errno(done))
		return 0;

	ret = lfs_rm_rf(top);
	if (ret)
		return ret;
	if (mkdir(top, 0755))
		return -errno;
	for (int i = 0; i <= LAYERFS_MAX_LAYERS && !ret; i++) {
		char f[32], common[32];

		if (mkdir(paths[i], 0755))
			return -errno;
		snprintf(f, sizeof(f), "f%d", i);
		snprintf(common, sizeof(common), "common=%d", i);
		ret = lfs_build(paths[i], LFS_ENTRIES(f, common));
	}
	return ret ? ret : lfs_write_file(done, "", 0);
}

static int count_entries(const char *dir)
{
	char *ls = lfs_ls(dir);
	int n = 0;

	if (!ls)
		return -1;
	if (*ls)
		n = 1;
	for (char *p = ls; *p; p++)
		n += *p == ' ';
	free(ls);
	return n;
}

/* ------------------------------------------------------------------ */
/* Good mounts                                                         */

TEST_F(opts, mount2_lowerdir_lists_the_top_layer_first)
{
	ASSERT_EQ(0, lfs_stack_mount(&self->s, LFS_VIA_MOUNT2));
	EXPECT_STREQ("top", lfs_cat(lfs_at(&self->s, "f")));
	EXPECT_STREQ("a b f", lfs_ls(self->s.mnt));
}

TEST_F(opts, fsconfig_lowerdir_lists_the_top_layer_first)
{
	ASSERT_EQ(0, lfs_stack_mount(&self->s, LFS_VIA_FSCONFIG)) {
		TH_LOG("%s", self->s.log);
	}
	EXPECT_STREQ("top", lfs_cat(lfs_at(&self->s, "f")));
	EXPECT_STREQ("a b f", lfs_ls(self->s.mnt));
}

TEST_F(opts, fsconfig_lowerdir_plus_adds_each_layer_below_the_previous)
{
	LFS_LAYER(&self->s, "f=third", "c");
	ASSERT_EQ(0, lfs_stack_mount(&self->s, LFS_VIA_FSCONFIG_PLUS)) {
		TH_LOG("%s", self->s.log);
	}
	EXPECT_STREQ("top", lfs_cat(lfs_at(&self->s, "f")));
	EXPECT_STREQ("a b c f", lfs_ls(self->s.mnt));
}

TEST_F(opts, escaped_colon_in_a_layer_path)
{
	char *colon = scratch_path(&self->s, "la:yer");
	char *layers[2];

	ASSERT_NE(NULL, colon);
	ASSERT_EQ(0, mkdir(colon, 0755));
	ASSERT_EQ(0, lfs_build(colon, LFS_ENTRIES("f=colon", "c")));
	layers[0] = colon;
	layers[1] = self->s.layer[1];

	ASSERT_EQ(0, lfs_mount_layers(self->s.mnt, 2, layers, LFS_VIA_MOUNT2,
				      NULL, 0));
	EXPECT_STREQ("colon", lfs_cat(lfs_at(&self->s, "f")));
	EXPECT_STREQ("b c f", lfs_ls(self->s.mnt));
	ASSERT_EQ(0, umount2(self->s.mnt, 0));

	ASSERT_EQ(0, lfs_mount_layers(self->s.mnt, 2, layers, LFS_VIA_FSCONFIG,
				      self->s.log, sizeof(self->s.log))) {
		TH_LOG("%s", self->s.log);
	}
	EXPECT_STREQ("colon", lfs_cat(lfs_at(&self->s, "f")));
	ASSERT_EQ(0, umount2(self->s.mnt, 0));
}

TEST_F(opts, mount_is_read_only)
{
	struct statvfs sv;

	LFS_MOUNT(&self->s);
	ASSERT_EQ(0, statvfs(self->s.mnt, &sv));
	EXPECT_TRUE(!!(sv.f_flag & ST_RDONLY));
}

TEST_F(opts, mountinfo_names_the_filesystem_type)
{
	char line[2 * PATH_MAX], mp[PATH_MAX], type[64];
	bool found = false;
	FILE *f;

	LFS_MOUNT(&self->s);
	f = fopen("/proc/self/mountinfo", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 || !sep)
			continue;
		if (strcmp(mp, self->s.mnt))
			continue;
		ASSERT_EQ(1, sscanf(sep + 3, "%63s", type));
		EXPECT_STREQ(lfs_fstype(), type);
		found = true;
	}
	fclose(f);
	EXPECT_TRUE(found);
}

TEST_F_TIMEOUT(opts, five_hundred_layers_mount_with_lowerdir_plus, 300)
{
	char **paths;

	ASSERT_EQ(0, many_layers(500, &paths));
	ASSERT_EQ(0, lfs_mount_layers(self->s.mnt, 500, paths,
				      LFS_VIA_FSCONFIG_PLUS, self->s.log,
				      sizeof(self->s.log))) {
		TH_LOG("%s", self->s.log);
	}
	EXPECT_EQ(501, count_entries(self->s.mnt));
	EXPECT_STREQ("0", lfs_cat(lfs_at(&self->s, "common")));
	EXPECT_STREQ("", lfs_cat(lfs_at(&self->s, "f499")));
}

TEST_F_TIMEOUT(opts, maximum_number_of_layers_mounts, 300)
{
	char **paths;

	ASSERT_EQ(0, many_layers(LAYERFS_MAX_LAYERS, &paths));
	ASSERT_EQ(0, lfs_mount_layers(self->s.mnt, LAYERFS_MAX_LAYERS, paths,
				      LFS_VIA_FSCONFIG_PLUS, self->s.log,
				      sizeof(self->s.log))) {
		TH_LOG("%s", self->s.log);
	}
	EXPECT_EQ(LAYERFS_MAX_LAYERS + 1, count_entries(self->s.mnt));
	EXPECT_STREQ("0", lfs_cat(lfs_at(&self->s, "common")));
}

TEST_F(opts, layerfs_over_layerfs_is_allowed)
{
	char *inner = scratch_path(&self->s, "inner");
	char *layers[1];

	ASSERT_NE(NULL, inner);
	ASSERT_EQ(0, mkdir(inner, 0755));
	ASSERT_EQ(0, lfs_mount_layers(inner, 2, self->s.layer,
				      LFS_VIA_FSCONFIG_PLUS, NULL, 0));
	layers[0] = inner;
	ASSERT_EQ(0, lfs_mount_layers(self->s.mnt, 1, layers,
				      LFS_VIA_FSCONFIG_PLUS, self->s.log,
				      sizeof(self->s.log))) {
		TH_LOG("%s", self->s.log);
	}
	EXPECT_STREQ("top", lfs_cat(lfs_at(&self->s, "f")));
}

/* ------------------------------------------------------------------ */
/* Bad input                                                           */

TEST_F(opts, unknown_option_is_einval_and_logged)
{
	struct lfs_fc fc;

	ASSERT_EQ(0, lfs_fc_open(&fc, lfs_fstype()));
	lfs_fc_set(&fc, "lowerdir+", self->s.layer[0]);
	lfs_fc_set(&fc, "lowerdir+", self->s.layer[1]);
	lfs_fc_set(&fc, "bogus", "1");
	EXPECT_EQ(-EINVAL, lfs_fc_mount(&fc, self->s.mnt));
	EXPECT_TRUE(log_explains(fc.log, "bogus")) {
		TH_LOG("log: \"%s\"", fc.log);
	}
}

TEST_F(opts, unknown_flag_is_einval_and_logged)
{
	struct lfs_fc fc;

	ASSERT_EQ(0, lfs_fc_open(&fc, lfs_fstype()));
	lfs_fc_set(&fc, "lowerdir+", self->s.layer[0]);
	lfs_fc_set(&fc, "lowerdir+", self->s.layer[1]);
	lfs_fc_set(&fc, "bogusflag", NULL);
	EXPECT_EQ(-EINVAL, lfs_fc_mount(&fc, self->s.mnt));
	EXPECT_TRUE(log_explains(fc.log, "bogusflag")) {
		TH_LOG("log: \"%s\"", fc.log);
	}
}

TEST_F(opts, mount2_failure_reason_goes_to_the_kernel_log)
{
	char data[2 * PATH_MAX + 64], rec[2048];
	bool found = false;
	int kmsg;

	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, kmsg);
	ASSERT_LE(0, lseek(kmsg, 0, SEEK_END));
	snprintf(data, sizeof(data), "lowerdir=%s,bogusoption=1",
		 self->s.layer[0]);
	EXPECT_EQ(-1, mount("none", self->s.mnt, lfs_fstype(), 0, data));
	EXPECT_EQ(EINVAL, errno);
	for (;;) {
		ssize_t n = read(kmsg, rec, sizeof(rec) - 1);

		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (n <= 0)
			break;
		rec[n] = '\0';
		if (strstr(rec, lfs_fstype()) && strstr(rec, "bogusoption"))
			found = true;
	}
	close(kmsg);
	EXPECT_TRUE(found);
}

TEST_F(opts, no_lowerdir_is_einval_and_logged)
{
	struct lfs_fc fc;

	ASSERT_EQ(0, lfs_fc_open(&fc, lfs_fstype()));
	EXPECT_EQ(-EINVAL, lfs_fc_mount(&fc, self->s.mnt));
	EXPECT_TRUE(log_explains(fc.log, "lowerdir")) {
		TH_LOG("log: \"%s\"", fc.log);
	}
}

TEST_F(opts, mount2_without_lowerdir_is_einval)
{
	EXPECT_EQ(-1, mount("none", self->s.mnt, lfs_fstype(), 0, ""));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, mount("none", self->s.mnt, lfs_fstype(), 0, NULL));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(opts, empty_lowerdir_is_einval_and_logged)
{
	struct lfs_fc fc;

	ASSERT_EQ(0, lfs_fc_open(&fc, lfs_fstype()));
	lfs_fc_set(&fc, "lowerdir", "");
	EXPECT_EQ(-EINVAL, lfs_fc_mount(&fc, self->s.mnt));
	EXPECT_TRUE(log_explains(fc.log, NULL)) {
		TH_LOG("log: \"%s\"", fc.log);
	}

	EXPECT_EQ(-1, mount("none", self->s.mnt, lfs_fstype(), 0, "lowerdir="));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(opts, missing_layer_is_enoent_and_logged)
{
	char *missing = scratch_path(&self->s, "no-such-layer");
	const char *paths[] = { self->s.layer[0], missing };
	struct lfs_fc fc;

	EXPECT_EQ(-ENOENT, try_plus(&fc, self->s.mnt, 2, paths));
	EXPECT_TRUE(log_explains(fc.log, "no-such-layer")) {
		TH_LOG("log: \"%s\"", fc.log);
	}
}

TEST_F(opts, missing_layer_in_a_lowerdir_list_is_enoent)
{
	char *missing = scratch_path(&self->s, "no-such-layer");
	char *layers[] = { self->s.layer[0], missing };
	char data[3 * PATH_MAX];

	EXPECT_EQ(-ENOENT, lfs_mount_layers(self->s.mnt, 2, layers,
					    LFS_VIA_FSCONFIG, self->s.log,
					    sizeof(self->s.log)));
	EXPECT_TRUE(log_explains(self->s.log, "no-such-layer")) {
		TH_LOG("log: \"%s\"", self->s.log);
	}
	snprintf(data, sizeof(data), "lowerdir=%s:%s", layers[0], layers[1]);
	EXPECT_EQ(-1, mount("none", self->s.mnt, lfs_fstype(), 0, data));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(opts, layer_that_is_not_a_directory_is_enotdir_and_logged)
{
	char *file = scratch_path(&self->s, "plainfile");
	const char *paths[] = { self->s.layer[0], file };
	struct lfs_fc fc;

	ASSERT_EQ(0, lfs_write_file(file, "x", 1));
	EXPECT_EQ(-ENOTDIR, try_plus(&fc, self->s.mnt, 2, paths));
	EXPECT_TRUE(log_explains(fc.log, "plainfile")) {
		TH_LOG("log: \"%s\"", fc.log);
	}
}

TEST_F(opts, duplicated_layer_is_einval_and_logged)
{
	const char *paths[] = { self->s.layer[0], self->s.layer[1],
				self->s.layer[0] };
	struct lfs_fc fc;

	EXPECT_EQ(-EINVAL, try_plus(&fc, self->s.mnt, 3, paths));
	EXPECT_TRUE(log_explains(fc.log, NULL)) {
		TH_LOG("log: \"%s\"", fc.log);
	}
}

TEST_F(opts, same_layer_under_another_name_is_a_duplicate)
{
	char *alias = scratch_path(&self->s, "alias");
	char *dotted;
	const char *paths[2];
	struct lfs_fc fc;

	ASSERT_EQ(0, symlink(self->s.layer[1], alias));
	paths[0] = self->s.layer[1];
	paths[1] = alias;
	EXPECT_EQ(-EINVAL, try_plus(&fc, self->s.mnt, 2, paths));

	ASSERT_LE(0, asprintf(&dotted, "%s/.", self->s.layer[1]));
	paths[1] = dotted;
	EXPECT_EQ(-EINVAL, try_plus(&fc, self->s.mnt, 2, paths));
}

TEST_F_TIMEOUT(opts, too_many_layers_is_einval_and_logged, 300)
{
	char **paths;
	struct lfs_fc fc;

	ASSERT_EQ(0, many_layers(LAYERFS_MAX_LAYERS + 1, &paths));
	EXPECT_EQ(-EINVAL, try_plus(&fc, self->s.mnt, LAYERFS_MAX_LAYERS + 1,
				    (const char *const *)paths));
	EXPECT_TRUE(log_explains(fc.log, NULL)) {
		TH_LOG("log: \"%s\"", fc.log);
	}
}

TEST_F(opts, lowerdir_and_lowerdir_plus_cannot_be_mixed)
{
	struct lfs_fc fc;

	ASSERT_EQ(0, lfs_fc_open(&fc, lfs_fstype()));
	lfs_fc_set(&fc, "lowerdir", self->s.layer[0]);
	lfs_fc_set(&fc, "lowerdir+", self->s.layer[1]);
	EXPECT_EQ(-EINVAL, lfs_fc_mount(&fc, self->s.mnt));
	EXPECT_TRUE(log_explains(fc.log, NULL)) {
		TH_LOG("log: \"%s\"", fc.log);
	}
	lfs_fc_close(&fc);

	ASSERT_EQ(0, lfs_fc_open(&fc, lfs_fstype()));
	lfs_fc_set(&fc, "lowerdir+", self->s.layer[0]);
	lfs_fc_set(&fc, "lowerdir", self->s.layer[1]);
	EXPECT_EQ(-EINVAL, lfs_fc_mount(&fc, self->s.mnt));
	EXPECT_TRUE(log_explains(fc.log, NULL)) {
		TH_LOG("log: \"%s\"", fc.log);
	}
	lfs_fc_close(&fc);
}

static bool have_overlayfs(void)
{
	if (!lfs_fs_registered("overlay")) {
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			execlp("modprobe", "modprobe", "-q", "overlay",
			       (char *)NULL);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, &status, 0);
	}
	return lfs_fs_registered("overlay");
}

TEST_F(opts, layerfs_over_overlayfs_over_overlayfs_is_einval)
{
	char *one = scratch_path(&self->s, "ovl1");
	char *two = scratch_path(&self->s, "ovl2");
	char *empty = scratch_path(&self->s, "empty");
	char data[4 * PATH_MAX];
	const char *paths[1];
	struct lfs_fc fc;

	if (!have_overlayfs())
		SKIP(return, "overlayfs is not available");
	ASSERT_EQ(0, mkdir(one, 0755));
	ASSERT_EQ(0, mkdir(two, 0755));
	ASSERT_EQ(0, mkdir(empty, 0755));
	snprintf(data, sizeof(data), "lowerdir=%s:%s", self->s.layer[0],
		 self->s.layer[1]);
	ASSERT_EQ(0, mount("overlay", one, "overlay", MS_RDONLY, data));
	snprintf(data, sizeof(data), "lowerdir=%s:%s", one, empty);
	ASSERT_EQ(0, mount("overlay", two, "overlay", MS_RDONLY, data));

	paths[0] = two;
	EXPECT_EQ(-EINVAL, try_plus(&fc, self->s.mnt, 1, paths));
	EXPECT_TRUE(log_explains(fc.log, NULL)) {
		TH_LOG("log: \"%s\"", fc.log);
	}
}

TEST_F(opts, layerfs_over_overlayfs_is_allowed)
{
	char *ovl = scratch_path(&self->s, "ovl");
	char data[4 * PATH_MAX];
	const char *paths[1];
	struct lfs_fc fc;

	if (!have_overlayfs())
		SKIP(return, "overlayfs is not available");
	ASSERT_EQ(0, mkdir(ovl, 0755));
	snprintf(data, sizeof(data), "lowerdir=%s:%s", self->s.layer[0],
		 self->s.layer[1]);
	ASSERT_EQ(0, mount("overlay", ovl, "overlay", MS_RDONLY, data));

	paths[0] = ovl;
	EXPECT_EQ(0, try_plus(&fc, self->s.mnt, 1, paths)) {
		TH_LOG("log: \"%s\"", fc.log);
	}
	EXPECT_STREQ("top", lfs_cat(lfs_at(&self->s, "f")));
}

TEST_F(opts, layerfs_three_deep_is_einval_and_logged)
{
	char *ovl = scratch_path(&self->s, "ovl");
	char *two = scratch_path(&self->s, "two");
	char data[4 * PATH_MAX];
	const char *paths[1];
	struct lfs_fc fc;

	if (!have_overlayfs())
		SKIP(return, "overlayfs is not available");
	ASSERT_EQ(0, mkdir(ovl, 0755));
	ASSERT_EQ(0, mkdir(two, 0755));
	snprintf(data, sizeof(data), "lowerdir=%s:%s", self->s.layer[0],
		 self->s.layer[1]);
	ASSERT_EQ(0, mount("overlay", ovl, "overlay", MS_RDONLY, data));
	paths[0] = ovl;
	ASSERT_EQ(0, try_plus(&fc, two, 1, paths)) {
		TH_LOG("log: \"%s\"", fc.log);
	}
	lfs_fc_close(&fc);

	paths[0] = two;
	EXPECT_EQ(-EINVAL, try_plus(&fc, self->s.mnt, 1, paths));
	EXPECT_TRUE(log_explains(fc.log, NULL)) {
		TH_LOG("log: \"%s\"", fc.log);
	}
}

/* Each error line says which filesystem speaks: "e layerfs: ...". */
TEST_F(opts, error_lines_name_the_filesystem)
{
	char *missing = scratch_path(&self->s, "no-such-layer");
	char *file = scratch_path(&self->s, "plainfile");
	char prefix[64];
	const char *cases[][2] = {
		{ "lowerdir+", missing }, { "lowerdir+", file },
		{ "lowerdir", "" }, { "bogus", "1" },
		{ "lowerdir+", self->s.layer[0] },	/* twice: duplicate */
		{ NULL, NULL },				/* no lowerdir at all */
	};

	ASSERT_EQ(0, lfs_write_file(file, "x", 1));
	snprintf(prefix, sizeof(prefix), "e %s: ", lfs_fstype());
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lfs_fc fc;
		char *line;

		ASSERT_EQ(0, lfs_fc_open(&fc, lfs_fstype()));
		if (i == 4)
			lfs_fc_set(&fc, cases[i][0], cases[i][1]);
		if (cases[i][0])
			lfs_fc_set(&fc, cases[i][0], cases[i][1]);
		EXPECT_NE(0, lfs_fc_mount(&fc, self->s.mnt));
		EXPECT_NE(0, fc.log[0]);
		for (line = strtok(fc.log, "\n"); line;
		     line = strtok(NULL, "\n")) {
			EXPECT_EQ(0, strncmp(line, prefix, strlen(prefix))) {
				TH_LOG("case %zu: \"%s\" does not start with \"%s\"",
				       i, line, prefix);
			}
		}
		lfs_fc_close(&fc);
	}
}

TEST_HARNESS_MAIN
