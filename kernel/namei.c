// SPDX-License-Identifier: GPL-2.0
/*
 * layerfs: lookup across layers, whiteouts and opaque directories.
 *
 * The rules are the OCI image-spec layer rules, applied top-down:
 *  - a name found in a layer is the result if it is not a directory; a
 *    directory merges with the directories of the same name below it until
 *    one is opaque, and a non-directory below a directory is hidden;
 *  - ".wh.NAME" hides NAME in the layers below its own, not in its own
 *    layer (a layer may carry both NAME and ".wh.NAME": NAME stays, lower
 *    layers are hidden);
 *  - ".wh..wh..opq" in a directory hides the lower layers' directories of
 *    the same path, again not the entries beside it;
 *  - every name starting with ".wh." is layer metadata and never visible.
 * overlayfs whiteouts (0/0 character devices) and "trusted.overlay.opaque"
 * are honoured too, so layer directories made for overlayfs mount as they
 * are.
 *
 * All real lookups run with the mounter's credentials; no lock of the
 * merged directory is needed beyond what the VFS holds for ->lookup, and the
 * real directories are only locked (shared) inside lookup_one_unlocked().
 */

#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/slab.h>
#include <linux/xattr.h>
#include "layerfs.h"

bool lfs_is_ovl_whiteout(struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);

	return inode && S_ISCHR(inode->i_mode) && inode->i_rdev == WHITEOUT_DEV;
}

/* Caller has the mounter's credentials. */
bool lfs_is_opaque_dir(const struct lfs_layer *layer, struct dentry *dir)
{
	struct dentry *opq;
	char val[2];
	bool opaque;
	ssize_t res;

	opq = lookup_one_unlocked(lfs_layer_idmap(layer), LAYERFS_WH_OPAQUE,
				  dir, sizeof(LAYERFS_WH_OPAQUE) - 1);
	if (!IS_ERR(opq)) {
		opaque = d_is_positive(opq);
		dput(opq);
		if (opaque)
			return true;
	}

	res = vfs_getxattr(lfs_layer_idmap(layer), dir,
			   LAYERFS_OVL_OPAQUE_XATTR, val, sizeof(val));
	return res == 1 && val[0] == 'y';
}

/* Does @parent in @layer hold ".wh.NAME"?  Caller has mounter creds. */
int lfs_has_whiteout(const struct lfs_layer *layer, struct dentry *parent,
		     const struct qstr *name)
{
	char whname[NAME_MAX + 1];
	unsigned int len = lfs_wh_name(whname, name);
	struct dentry *wh;
	int found;

	if (!len)
		return 0;
	wh = lookup_one_unlocked(lfs_layer_idmap(layer), whname, parent, len);
	if (IS_ERR(wh))
		return PTR_ERR(wh);
	found = d_is_positive(wh);
	dput(wh);
	return found;
}

struct dentry *lfs_lookup(struct inode *dir, struct dentry *dentry,
			  unsigned int flags)
{
	struct lfs_inode *od = LFS_I(dir);
	const struct qstr *name = &dentry->d_name;
	const struct cred *old_cred;
	struct dentry *dirupper, *upper = NULL;
	struct lfs_path *stack;
	struct lfs_dirent *e;
	struct inode *inode;
	unsigned int i, npos, start = 0, n = 0;
	bool listed;
	int err = 0;

	/* The VFS leaves the length check to the filesystem. */
	if (name->len > NAME_MAX)
		return ERR_PTR(-ENAMETOOLONG);
	if (lfs_is_wh_name(name->name, name->len))
		return d_splice_alias(NULL, dentry);

	/*
	 * Once the directory was listed, the listing knows the answer: a
	 * name it does not show is negative, and a name it shows appears
	 * first in the layer it recorded (no layer above holds the name or a
	 * whiteout of it, or the listing would differ).
	 */
	e = lfs_dir_cache_find(dir, name, &listed);
	if (listed) {
		if (!e || e->hidden)
			return d_splice_alias(NULL, dentry);
		start = e->layer_pos;
	}

	npos = lfs_dir_npos(od);
	stack = kcalloc(npos, sizeof(*stack), GFP_KERNEL);
	if (!stack)
		return ERR_PTR(-ENOMEM);

	/* One snapshot: a concurrent copy-up of @dir must not shift us. */
	dirupper = lfs_upper(dir);
	old_cred = lfs_override_creds(dir->i_sb);
	for (i = 0; i < npos; i++) {
		struct lfs_path dlp;
		struct lfs_layer *layer;
		struct dentry *parent;
		struct dentry *this;
		bool stop = false;

		/*
		 * Copy-up does not change the listing (it cannot take @dir's
		 * lock), so a listed name may have an upper object the
		 * listing does not record: the upper layer is always asked.
		 */
		if (i && i < start)
			continue;
		if (!lfs_dir_pos(dir, dirupper, i, &dlp))
			continue;
		layer = dlp.layer;
		parent = dlp.dentry;
		this = lookup_one_unlocked(lfs_layer_idmap(layer), name->name,
					   parent, name->len);
		if (IS_ERR(this)) {
			err = PTR_ERR(this);
			goto out_put;
		}

		if (d_is_negative(this)) {
			dput(this);
		} else if (lfs_is_ovl_whiteout(this)) {
			dput(this);
			stop = true;
		} else if (i == 0) {
			/* The upper object: kept apart from the lower stack. */
			upper = this;
			stop = !d_is_dir(this) || lfs_is_opaque_dir(layer, this);
		} else if (d_is_dir(this) || (!n && !upper)) {
			/* (An upper non-directory stopped the walk already.) */
			stack[n].layer = layer;
			stack[n].dentry = this;
			n++;
			stop = !d_is_dir(this) || lfs_is_opaque_dir(layer, this);
		} else {
			/* A non-directory below a directory is hidden. */
			dput(this);
			stop = true;
		}

		/* A listed name has no whiteout above its layer. */
		if (!stop && i + 1 < npos && !(listed && i < start)) {
			err = lfs_has_whiteout(layer, parent, name);
			if (err < 0)
				goto out_put;
			stop = err;
			err = 0;
		}
		if (stop)
			break;
	}
	revert_creds(old_cred);

	if (!n && !upper) {
		kfree(stack);
		return d_splice_alias(NULL, dentry);
	}

	inode = lfs_iget(dir->i_sb, upper, stack, n);
	if (IS_ERR(inode))
		return ERR_CAST(inode);
	return d_splice_alias(inode, dentry);

out_put:
	revert_creds(old_cred);
	dput(upper);
	while (n--)
		dput(stack[n].dentry);
	kfree(stack);
	return ERR_PTR(err);
}
