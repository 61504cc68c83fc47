// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The content-addressed store, the single source of truth for layerctl and
 * layerd.  This file: opening, locking, and moving verified work into place;
 * images.c keeps image records and references, gc.c measures and collects.
 *
 *   blobs/sha256/HEX        compressed blobs (only with keep_blobs)
 *   layers/sha256/DIFFID/   unpacked layer; regular files hardlinked to objects
 *   objects/HH/KEY          deduplicated files (content + shared inode metadata)
 *   images/sha256/HEX/      manifest.json and config.json of one image
 *   images/refs.json        reference -> manifest digest (and index digest)
 *   tmp/                    work in progress, cleaned at start
 *
 * Locking:
 *   - the store root directory: every handle holds a shared flock; tmp/ is
 *     cleaned and gc runs only under the exclusive lock, so no one's work in
 *     progress is ever removed;
 *   - tmp/HEX.lock: one per layer, exclusive while that layer is fetched, so
 *     concurrent pulls of one layer download it once;
 *   - images/: exclusive flock around every read-modify-write of refs.json.
 * Everything is built in tmp/ and renamed into place after verification.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "internal.h"

struct lfs_store {
	char *root;
	int fd;
};

static atomic_uint tmp_counter;

static const char *const store_dirs[] = {
	"blobs/sha256", "layers/sha256", "objects", "images/sha256", "tmp",
};

int lfs_store_fd(const struct lfs_store *s)
{
	return s->fd;
}

const char *lfs_store_root(const struct lfs_store *s)
{
	return s->root;
}

static int clean_tmp(struct lfs_store *s, struct lfs_error *err)
{
	_cleanup_close_ int fd = openat(s->fd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (fd < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "%s/tmp", s->root);
	d = fdopendir(fd);
	if (!d)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "%s/tmp", s->root);
	fd = -1;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (lfs_rmtree_at(dirfd(d), de->d_name) < 0)
			ret = lfs_error_set(err, LFS_E_SYSTEM, errno, "clean %s/tmp/%s", s->root, de->d_name);
	}
	closedir(d);
	return ret;
}

int lfs_store_open(const char *root, struct lfs_store **out, struct lfs_error *err)
{
	struct lfs_store *s;
	size_t i;

	if (!root || !*root)
		return lfs_error_set(err, LFS_E_INVALID, 0, "empty store path");
	if (lfs_mkdirs_at(AT_FDCWD, root, 0711) < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "create store %s", root);
	s = calloc(1, sizeof(*s));
	if (!s)
		return lfs_oom(err);
	s->root = realpath(root, NULL);
	s->fd = s->root ? open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (s->fd < 0) {
		lfs_error_set(err, LFS_E_SYSTEM, errno, "open store %s", root);
		goto out_fail;
	}
	for (i = 0; i < LFS_ARRAY_SIZE(store_dirs); i++)
		if (lfs_mkdirs_at(s->fd, store_dirs[i], 0755) < 0) {
			lfs_error_set(err, LFS_E_SYSTEM, errno, "create %s/%s", s->root, store_dirs[i]);
			goto out_fail;
		}
	if (flock(s->fd, LOCK_EX | LOCK_NB) == 0) {
		/* nobody else uses the store: whatever is in tmp/ was left by a crash */
		if (clean_tmp(s, err) < 0)
			goto out_fail;
	}
	if (flock(s->fd, LOCK_SH) < 0) {
		lfs_error_set(err, LFS_E_SYSTEM, errno, "lock store %s", s->root);
		goto out_fail;
	}
	*out = s;
	return 0;
out_fail:
	lfs_store_close(s);
	return -1;
}

void lfs_store_close(struct lfs_store *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->root);
	free(s);
}

static void layer_path(const char *diff_id, char *buf, size_t len)
{
	snprintf(buf, len, "layers/sha256/%s", diff_id + 7);
}

bool lfs_store_has_layer(struct lfs_store *s, const char *diff_id)
{
	char p[128];

	layer_path(diff_id, p, sizeof(p));
	return faccessat(s->fd, p, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int lfs_store_lock_layer(struct lfs_store *s, const char *diff_id, struct lfs_error *err)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "tmp/%s.lock", diff_id + 7);
	fd = openat(s->fd, p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "%s/%s", s->root, p);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return lfs_error_set(err, LFS_E_SYSTEM, errno, "lock %s/%s", s->root, p);
		}
	}
	return fd;
}

int lfs_store_mktemp(struct lfs_store *s, const char *prefix, char *name, size_t len,
		     struct lfs_error *err)
{
	for (;;) {
		snprintf(name, len, "tmp/%s-%d-%u", prefix, (int)getpid(),
			 atomic_fetch_add(&tmp_counter, 1));
		if (mkdirat(s->fd, name, 0700) == 0)
			return 0;
		if (errno != EEXIST)
			return lfs_error_set(err, LFS_E_SYSTEM, errno, "%s/%s", s->root, name);
	}
}

int lfs_store_commit_layer(struct lfs_store *s, const char *tmpname, const char *diff_id,
			   struct lfs_error *err)
{
	_cleanup_close_ int fd = openat(s->fd, tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char p[128];

	if (fd < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "%s/%s", s->root, tmpname);
	/* the layer's data is durable before its name appears */
	if (syncfs(fd) < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "syncfs %s", s->root);
	layer_path(diff_id, p, sizeof(p));
	if (renameat(s->fd, tmpname, s->fd, p) < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "rename %s/%s to %s", s->root, tmpname, p);
	if (lfs_fsync_dir_at(s->fd, "layers/sha256") < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "fsync %s/layers/sha256", s->root);
	return 0;
}

int lfs_store_commit_blob(struct lfs_store *s, const char *tmpfile, const char *digest,
			  struct lfs_error *err)
{
	char p[128];

	snprintf(p, sizeof(p), "blobs/sha256/%s", digest + 7);
	if (renameat(s->fd, tmpfile, s->fd, p) < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "rename %s/%s to %s", s->root, tmpfile, p);
	return 0;
}

int lfs_store_remove_tree(struct lfs_store *s, const char *path, struct lfs_error *err)
{
	char tmp[128];

	/* rename away first: a crash mid-removal leaves only tmp/ junk */
	snprintf(tmp, sizeof(tmp), "tmp/rm-%d-%u", (int)getpid(), atomic_fetch_add(&tmp_counter, 1));
	if (renameat(s->fd, path, s->fd, tmp) < 0) {
		if (errno == ENOENT)
			return 0;
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "remove %s/%s", s->root, path);
	}
	if (lfs_rmtree_at(s->fd, tmp) < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "remove %s/%s", s->root, tmp);
	return 0;
}
