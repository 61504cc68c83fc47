// SPDX-License-Identifier: GPL-2.0
/*
 * gc keeps a layer that a layerfs mount stacks even when no image
 * references it; the in-use list is handed in, apart from netlink.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "layerfs.h"

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static char root[64];

static void make_layer(const char *hex)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/layers/sha256/%s", root, hex);
	CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/layers/sha256/%s/file", root, hex);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
}

static bool layer_exists(const char *hex)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/layers/sha256/%s", root, hex);
	return access(p, F_OK) == 0;
}

static struct lfs_store *fresh_store(void)
{
	struct lfs_store *s = NULL;
	struct lfs_error e = { 0 };

	snprintf(root, sizeof(root), "/tmp/lfs-gc-XXXXXX");
	CHECK(mkdtemp(root) != NULL);
	CHECK(lfs_store_open(root, &s, &e) == 0);
	return s;
}

static void cleanup(struct lfs_store *s)
{
	char cmd[128];

	lfs_store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK(system(cmd) == 0);
}

static void mounted_layers_survive_gc(void)
{
	struct lfs_store *s = fresh_store();
	struct lfs_gc_result r;
	struct lfs_error e = { 0 };
	char a[256], link[256];
	const char *in_use[3];

	if (!s)
		return;
	make_layer(HEX_A);
	make_layer(HEX_B);
	make_layer(HEX_C);
	/* A by its store path, C through a symlink: any name of the directory counts */
	snprintf(a, sizeof(a), "%s/layers/sha256/%s", root, HEX_A);
	snprintf(link, sizeof(link), "%s/tmp-link-c", root);
	{
		char target[256];

		snprintf(target, sizeof(target), "%s/layers/sha256/%s", root, HEX_C);
		CHECK(symlink(target, link) == 0);
	}
	in_use[0] = a;
	in_use[1] = link;
	in_use[2] = "/nonexistent/layer/of/a/gone/mount";
	CHECK(lfs_store_gc(s, in_use, 3, &r, &e) == 0);
	CHECK(layer_exists(HEX_A));
	CHECK(!layer_exists(HEX_B));
	CHECK(layer_exists(HEX_C));
	CHECK(r.layers == 1);
	unlink(link);
	cleanup(s);
}

static void without_mounts_unreferenced_layers_go(void)
{
	struct lfs_store *s = fresh_store();
	struct lfs_gc_result r;
	struct lfs_error e = { 0 };

	if (!s)
		return;
	make_layer(HEX_A);
	CHECK(lfs_store_gc(s, NULL, 0, &r, &e) == 0);
	CHECK(!layer_exists(HEX_A));
	CHECK(r.layers == 1);
	cleanup(s);
}

static void an_unreadable_mount_layer_stops_gc(void)
{
	struct lfs_store *s = fresh_store();
	struct lfs_gc_result r;
	struct lfs_error e = { 0 };
	const char *in_use[] = { "/dev/null/not-a-dir" };

	if (!s)
		return;
	make_layer(HEX_A);
	CHECK(lfs_store_gc(s, in_use, 1, &r, &e) < 0);
	CHECK_CONTAINS(e.msg, "/dev/null/not-a-dir");
	CHECK(layer_exists(HEX_A));
	cleanup(s);
}

int main(void)
{
	RUN(mounted_layers_survive_gc);
	RUN(without_mounts_unreferenced_layers_go);
	RUN(an_unreadable_mount_layer_stops_gc);
	return DONE();
}
