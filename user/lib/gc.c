// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Measuring the store (what one copy per layer would need against what is
 * stored) and garbage collection.  gc takes the store's exclusive lock, so it
 * never runs beside a pull; it keeps every layer, blob and object that a
 * referenced image still uses, and every layer directory a layerfs mount
 * stacks (the caller lists those: lfs_genl_mounts), referenced or not.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "internal.h"

typedef void (*walk_fn)(void *ctx, const struct stat *st);

static int walk(int parent, const char *name, walk_fn fn, void *ctx)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	struct stat st;
	DIR *d;
	int ret = 0;

	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (walk(dirfd(d), de->d_name, fn, ctx) < 0)
				ret = -1;
		} else {
			fn(ctx, &st);
		}
	}
	closedir(d);
	return ret;
}

struct usage_ctx {
	struct lfs_usage *u;
	struct lfs_set inodes;
	bool oom;
	uint64_t unique_bytes;	/* gc: bytes only this tree holds */
};

#define INODE_KEY_SIZE 48

static void inode_key(const struct stat *st, char key[INODE_KEY_SIZE])
{
	snprintf(key, INODE_KEY_SIZE, "%llx:%llx", (unsigned long long)st->st_dev,
		 (unsigned long long)st->st_ino);
}

static void usage_fn(void *ud, const struct stat *st)
{
	struct usage_ctx *c = ud;
	char key[INODE_KEY_SIZE];

	if (!S_ISREG(st->st_mode))
		return;
	c->u->files++;
	c->u->logical_bytes += (uint64_t)st->st_size;
	if (st->st_nlink == 1)
		c->unique_bytes += (uint64_t)st->st_size;
	inode_key(st, key);
	if (lfs_set_find(&c->inodes, key))
		return;
	if (!lfs_set_insert(&c->inodes, key)) {
		c->oom = true;
		return;
	}
	c->u->stored_bytes += (uint64_t)st->st_size;
}

static void count_fn(void *ud, const struct stat *st)
{
	uint64_t *v = ud;

	v[0]++;
	v[1] += (uint64_t)st->st_size;
}

static int layer_usage(struct lfs_store *s, struct usage_ctx *c, const char *diff_id,
		       struct lfs_error *err)
{
	char p[128];

	snprintf(p, sizeof(p), "layers/sha256/%s", diff_id + 7);
	if (walk(lfs_store_fd(s), p, usage_fn, c) < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "walk %s/%s", lfs_store_root(s), p);
	if (c->oom)
		return lfs_oom(err);
	c->u->layers++;
	return 0;
}

int lfs_store_image_usage(struct lfs_store *s, const struct lfs_image *img, struct lfs_usage *u,
			  struct lfs_error *err)
{
	struct usage_ctx c = { .u = u };
	size_t i, j;
	int ret = 0;

	memset(u, 0, sizeof(*u));
	for (i = 0; i < img->n_layers && ret == 0; i++) {
		for (j = 0; j < i; j++)
			if (!strcmp(img->layers[j].diff_id, img->layers[i].diff_id))
				break;
		if (j == i && lfs_store_has_layer(s, img->layers[i].diff_id))
			ret = layer_usage(s, &c, img->layers[i].diff_id, err);
	}
	lfs_set_free(&c.inodes);
	return ret;
}

/* Names in a store directory, for the usage and gc scans. */
static int list_dir(struct lfs_store *s, const char *path, char ***names, size_t *n,
		    struct lfs_error *err)
{
	_cleanup_close_ int fd = openat(lfs_store_fd(s), path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	char **v = NULL;
	size_t cap = 0;
	DIR *d;

	*n = 0;
	if (fd < 0 || !(d = fdopendir(fd)))
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "%s/%s", lfs_store_root(s), path);
	fd = -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (*n + 1 >= cap) {
			char **nv;

			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				goto out_oom;
			v = nv;
		}
		v[*n] = strdup(de->d_name);
		if (!v[*n])
			goto out_oom;
		(*n)++;
	}
	closedir(d);
	if (!v)
		v = calloc(1, sizeof(*v));
	*names = v;
	return v ? 0 : lfs_oom(err);
out_oom:
	closedir(d);
	while (*n)
		free(v[--*n]);
	free(v);
	return lfs_oom(err);
}

static void free_names(char **v, size_t n)
{
	while (n)
		free(v[--n]);
	free(v);
}

int lfs_store_usage(struct lfs_store *s, struct lfs_usage *u, struct lfs_error *err)
{
	struct usage_ctx c = { .u = u };
	char **names = NULL, **sub = NULL, d[LFS_DIGEST_SIZE + 8], p[64];
	size_t n = 0, i, ns;
	uint64_t blobs[2] = { 0, 0 };
	int ret = -1;

	memset(u, 0, sizeof(*u));
	if (list_dir(s, "layers/sha256", &names, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		snprintf(d, sizeof(d), "sha256:%s", names[i]);
		if (lfs_digest_valid(d) && layer_usage(s, &c, d, err) < 0)
			goto out;
	}
	free_names(names, n);
	names = NULL;
	if (list_dir(s, "objects", &names, &n, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "objects/%s", names[i]);
		if (list_dir(s, p, &sub, &ns, err) < 0)
			goto out;
		u->objects += ns;
		free_names(sub, ns);
	}
	walk(lfs_store_fd(s), "blobs/sha256", count_fn, blobs);
	u->blob_bytes = blobs[1];
	ret = 0;
out:
	free_names(names, n);
	lfs_set_free(&c.inodes);
	return ret;
}

/*
 * The inodes of the directories mounts stack.  Compared by inode, not by
 * name: the module reports a layer as the mount named it, which may be a
 * symlink or another bind of the store.  A directory that no longer exists
 * holds nothing; any other failure to look makes gc refuse.
 */
static int mounted_inodes(const char *const *paths, size_t n, struct lfs_set *out,
			  struct lfs_error *err)
{
	char key[INODE_KEY_SIZE];
	struct stat st;
	size_t i;

	for (i = 0; i < n; i++) {
		if (stat(paths[i], &st) < 0) {
			if (errno == ENOENT)
				continue;
			return lfs_error_set(err, LFS_E_SYSTEM, errno,
					     "layer %s of a layerfs mount: cannot tell whether it is in the store",
					     paths[i]);
		}
		inode_key(&st, key);
		if (!lfs_set_insert(out, key))
			return lfs_oom(err);
	}
	return 0;
}

/* Is the store's layers/sha256/@hex a directory some mount stacks? */
static int layer_mounted(struct lfs_store *s, const char *hex, const struct lfs_set *mounted,
			 struct lfs_error *err)
{
	char p[128], key[INODE_KEY_SIZE];
	struct stat st;

	snprintf(p, sizeof(p), "layers/sha256/%s", hex);
	if (fstatat(lfs_store_fd(s), p, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "%s/%s", lfs_store_root(s), p);
	inode_key(&st, key);
	return lfs_set_find(mounted, key) != NULL;
}

int lfs_store_gc(struct lfs_store *s, const char *const *in_use, size_t n_in_use,
		 struct lfs_gc_result *r, struct lfs_error *err)
{
	struct lfs_set keep_images = { 0 }, keep_layers = { 0 }, keep_blobs = { 0 }, mounted = { 0 };
	char **names = NULL, **sub = NULL, d[LFS_DIGEST_SIZE + 8], p[200];
	size_t n = 0, ns = 0, i, j;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	if (flock(lfs_store_fd(s), LOCK_EX | LOCK_NB) < 0) {
		/* a failed conversion drops the shared lock: take it back */
		flock(lfs_store_fd(s), LOCK_SH);
		return lfs_error_set(err, LFS_E_BUSY, 0,
				     "store %s is in use by another process; try gc again later", lfs_store_root(s));
	}
	if (mounted_inodes(in_use, n_in_use, &mounted, err) < 0 ||
	    lfs_store_ref_digests(s, &keep_images, err) < 0)
		goto out;
	for (i = 0; i < keep_images.cap; i++) {
		struct lfs_image img;
		bool oom = false;

		if (!keep_images.v[i].key)
			continue;
		snprintf(d, sizeof(d), "sha256:%s", keep_images.v[i].key);
		if (lfs_store_load_image(s, d, &img, err) < 0)
			goto out;	/* never collect what a damaged record might still use */
		oom = !lfs_set_insert(&keep_blobs, img.config_digest + 7);
		for (j = 0; j < img.n_layers && !oom; j++)
			oom = !lfs_set_insert(&keep_layers, img.layers[j].diff_id + 7) ||
			      !lfs_set_insert(&keep_blobs, img.layers[j].digest + 7);
		lfs_image_free(&img);
		if (oom) {
			lfs_oom(err);
			goto out;
		}
	}

	if (list_dir(s, "images/sha256", &names, &n, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (lfs_set_find(&keep_images, names[i]))
			continue;
		snprintf(p, sizeof(p), "images/sha256/%s", names[i]);
		if (lfs_store_remove_tree(s, p, err) < 0)
			goto out;
		r->images++;
	}
	free_names(names, n);
	names = NULL;

	if (list_dir(s, "layers/sha256", &names, &n, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		struct lfs_usage u = { 0 };
		struct usage_ctx c = { .u = &u };
		int m;

		if (lfs_set_find(&keep_layers, names[i]))
			continue;
		m = layer_mounted(s, names[i], &mounted, err);
		if (m < 0)
			goto out;
		if (m)
			continue;
		snprintf(d, sizeof(d), "sha256:%s", names[i]);
		snprintf(p, sizeof(p), "layers/sha256/%s", names[i]);
		walk(lfs_store_fd(s), p, usage_fn, &c);
		lfs_set_free(&c.inodes);
		r->bytes += c.unique_bytes;
		if (lfs_store_remove_tree(s, p, err) < 0)
			goto out;
		r->layers++;
	}
	free_names(names, n);
	names = NULL;

	/* objects whose only remaining name is the object itself */
	if (list_dir(s, "objects", &names, &n, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		_cleanup_close_ int fd = -1;

		snprintf(p, sizeof(p), "objects/%s", names[i]);
		if (list_dir(s, p, &sub, &ns, err) < 0)
			goto out;
		fd = openat(lfs_store_fd(s), p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		for (j = 0; fd >= 0 && j < ns; j++) {
			struct stat st;

			if (fstatat(fd, sub[j], &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_nlink == 1 &&
			    unlinkat(fd, sub[j], 0) == 0) {
				r->objects++;
				r->bytes += (uint64_t)st.st_size;
			}
		}
		free_names(sub, ns);
		sub = NULL;
		unlinkat(lfs_store_fd(s), p, AT_REMOVEDIR);	/* only succeeds when empty */
	}
	free_names(names, n);
	names = NULL;

	if (list_dir(s, "blobs/sha256", &names, &n, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		struct stat st;

		if (lfs_set_find(&keep_blobs, names[i]))
			continue;
		snprintf(p, sizeof(p), "blobs/sha256/%s", names[i]);
		if (fstatat(lfs_store_fd(s), p, &st, AT_SYMLINK_NOFOLLOW) == 0 && unlinkat(lfs_store_fd(s), p, 0) == 0) {
			r->blobs++;
			r->bytes += (uint64_t)st.st_size;
		}
	}
	ret = 0;
out:
	if (names)
		free_names(names, n);
	lfs_set_free(&keep_images);
	lfs_set_free(&keep_layers);
	lfs_set_free(&keep_blobs);
	lfs_set_free(&mounted);
	flock(lfs_store_fd(s), LOCK_SH);
	return ret;
}
