// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Cross-layer, cross-image file deduplication.  Runs on a layer only after
 * its diff_id has been verified, so nothing from an unverified layer ever
 * reaches objects/.  The object key is computed locally from the content
 * and the inode metadata a hardlink shares, never taken from the registry,
 * so a hostile image cannot poison another image's files.
 *
 * Each regular file becomes a hardlink to objects/HH/KEY: when the object
 * exists the file is replaced by a link to it; otherwise the file itself
 * becomes the object.  At the filesystem's link limit (EMLINK) the layer
 * keeps its own copy.  Replacement goes through tmp/ and rename(2), so each
 * name is always either the old or the new inode, with equal contents.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "internal.h"

static atomic_uint tmp_seq;

static void tmp_name(char *buf, size_t len)
{
	snprintf(buf, len, "tmp/dedup-%d-%u", (int)getpid(), atomic_fetch_add(&tmp_seq, 1));
}

/* Make dir/name a link to the inode at (fromfd, from), atomically. */
static int relink(int storefd, int fromfd, const char *from, int dirfd, const char *name)
{
	char tmp[64];

	tmp_name(tmp, sizeof(tmp));
	if (linkat(fromfd, from, storefd, tmp, 0) < 0)
		return -1;
	if (renameat(storefd, tmp, dirfd, name) < 0) {
		int e = errno;

		unlinkat(storefd, tmp, 0);
		errno = e;
		return -1;
	}
	/* rename(2) between two links of one inode does nothing and leaves tmp */
	unlinkat(storefd, tmp, 0);
	return 0;
}

static int dedup_one(int storefd, int objfd, int rootfd, const struct lfs_unpack_file *f,
		     const char *layer, struct lfs_error *err)
{
	char obj[8 + LFS_DIGEST_SIZE];
	const char *base;
	_cleanup_close_ int pfd = lfs_open_parent_in_root(rootfd, f->path, &base);
	int tries;

	if (pfd < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "layer %s: dedup \"%s\"", layer, f->path);
	snprintf(obj, sizeof(obj), "%.2s", f->key + 7);
	if (mkdirat(objfd, obj, 0755) < 0 && errno != EEXIST)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "objects/%s", obj);
	snprintf(obj, sizeof(obj), "%.2s/%s", f->key + 7, f->key + 7);

	for (tries = 0; tries < 4; tries++) {
		if (relink(storefd, objfd, obj, pfd, base) == 0)
			return 0;	/* shared with an existing object */
		if (errno == EMLINK)
			return 0;	/* object full: keep this copy */
		if (errno != ENOENT)
			break;
		if (linkat(pfd, base, objfd, obj, 0) == 0)
			return 0;	/* this file is now the object */
		if (errno == EMLINK)
			return 0;
		if (errno != EEXIST)
			break;
		/* another pull created the object meanwhile: link to it */
	}
	return lfs_error_set(err, LFS_E_SYSTEM, errno, "layer %s: dedup \"%s\" with objects/%s",
			     layer, f->path, obj);
}

int lfs_dedup_layer(int storefd, int rootfd, const struct lfs_unpack_result *res,
		    const char *layer, struct lfs_error *err)
{
	_cleanup_close_ int objfd = openat(storefd, "objects", O_PATH | O_DIRECTORY | O_CLOEXEC);
	size_t i;

	if (objfd < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "open objects/");
	for (i = 0; i < res->n_files; i++)
		if (dedup_one(storefd, objfd, rootfd, &res->files[i], layer, err) < 0)
			return -1;
	/* names hardlinked inside the tar follow their target to its new inode */
	for (i = 0; i < res->n_links; i++) {
		const struct lfs_unpack_link *l = &res->links[i];
		const char *base, *tbase;
		_cleanup_close_ int pfd = lfs_open_parent_in_root(rootfd, l->path, &base);
		_cleanup_close_ int tfd = lfs_open_parent_in_root(rootfd, l->target, &tbase);

		if (pfd < 0 || tfd < 0 || relink(storefd, tfd, tbase, pfd, base) < 0)
			return lfs_error_set(err, LFS_E_SYSTEM, errno, "layer %s: relink \"%s\"",
					     layer, l->path);
	}
	return 0;
}
