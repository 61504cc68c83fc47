// SPDX-License-Identifier: GPL-2.0
/*
 * layerfs: namespace operations of a writable mount.
 *
 * Every change lands in the upper layer (see upper.c for its format).  A
 * name removed from the merged view while a lower layer still has it gets a
 * ".wh.NAME" whiteout; a directory moved onto or created over a lower
 * directory gets one too, so the lower one does not merge into it.
 *
 * Locking order: the VFS holds the layerfs directories' i_rwsem; below
 * them, copy-up (upper.c) and the copy-up lock of a removed or replaced
 * inode, then the upper directories' i_rwsem (one with I_MUTEX_PARENT, or
 * two through lock_rename(), which for a directory removed through the
 * work directory takes the work directory first), then a directory being
 * emptied of its whiteouts (I_MUTEX_CHILD).  Lower layers are looked at
 * (lfs_lower_visible()), and whiteouts collected, before any upper lock is
 * taken.
 */

#include <linux/backing-file.h>
#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/slab.h>
#include "layerfs.h"

/* Would @name in @dir show a lower object if the upper layer had none? */
static int lfs_lower_visible(struct inode *dir, const struct qstr *name)
{
	struct lfs_inode *od = LFS_I(dir);
	unsigned int i, n = READ_ONCE(od->numpaths);
	int ret = 0;

	for (i = 0; i < n; i++) {
		struct lfs_path *lp = &od->paths[i];
		struct dentry *d;

		d = lookup_one_unlocked(lfs_layer_idmap(lp->layer), name->name,
					lp->dentry, name->len);
		if (IS_ERR(d))
			return PTR_ERR(d);
		if (d_is_positive(d)) {
			ret = !lfs_is_ovl_whiteout(d);
			dput(d);
			return ret;
		}
		dput(d);
		ret = lfs_has_whiteout(lp->layer, lp->dentry, name);
		if (ret)
			return ret < 0 ? ret : 0;
	}
	return 0;
}

/*
 * ".wh.NAME" in the upper directory @udir, which the caller locked: a
 * dentry, NULL if NAME is too long to have one, or an ERR_PTR.
 */
static struct dentry *lfs_lookup_upper_wh(struct lfs_fs *ofs,
					  struct dentry *udir,
					  const struct qstr *name)
{
	char whname[NAME_MAX + 1];
	unsigned int len = lfs_wh_name(whname, name);

	if (!len)
		return NULL;
	return lookup_one(mnt_idmap(ofs->upper_mnt), whname, udir, len);
}

/* Write ".wh.NAME" in the upper directory @udir, which the caller locked. */
static int lfs_make_whiteout(struct lfs_fs *ofs, struct dentry *udir,
			     const struct qstr *name)
{
	struct dentry *wh = lfs_lookup_upper_wh(ofs, udir, name);
	int err = 0;

	/* No OCI whiteout can name it; refuse rather than expose lower. */
	if (!wh)
		return -ENAMETOOLONG;
	if (IS_ERR(wh))
		return PTR_ERR(wh);
	if (d_is_negative(wh))
		err = vfs_create(mnt_idmap(ofs->upper_mnt), d_inode(udir), wh,
				 S_IFREG | 0, true);
	dput(wh);
	return err;
}

/*
 * Replace the overlay-style whiteout at @name in the upper directory @udir
 * (locked) by ".wh.NAME", written first so that the name stays hidden
 * whatever fails.  A name too long for one gets ENAMETOOLONG, as removing
 * it would: once the device is gone, nothing would hide the lower object
 * if what the caller puts there failed.  Returns the negative dentry of
 * @name, or an ERR_PTR.
 */
static struct dentry *lfs_ovl_to_oci_whiteout(struct lfs_fs *ofs,
					      struct dentry *udir,
					      const struct qstr *name)
{
	struct mnt_idmap *idmap = mnt_idmap(ofs->upper_mnt);
	struct dentry *d;
	int err;

	err = lfs_make_whiteout(ofs, udir, name);
	if (err)
		return ERR_PTR(err);
	d = lookup_one(idmap, name->name, udir, name->len);
	if (IS_ERR(d) || !lfs_is_ovl_whiteout(d))
		return d;
	err = vfs_unlink(idmap, d_inode(udir), d, NULL);
	dput(d);
	if (err)
		return ERR_PTR(err);
	return lookup_one(idmap, name->name, udir, name->len);
}

/* Mark upper directory @udir opaque; takes its lock. */
static int lfs_make_opaque(struct lfs_fs *ofs, struct dentry *udir)
{
	struct mnt_idmap *idmap = mnt_idmap(ofs->upper_mnt);
	struct dentry *opq;
	int err = 0;

	inode_lock_nested(d_inode(udir), I_MUTEX_CHILD);
	opq = lookup_one(idmap, LAYERFS_WH_OPAQUE, udir,
			 sizeof(LAYERFS_WH_OPAQUE) - 1);
	if (IS_ERR(opq)) {
		err = PTR_ERR(opq);
	} else {
		if (d_is_negative(opq))
			err = vfs_create(idmap, d_inode(udir), opq, S_IFREG | 0,
					 true);
		dput(opq);
	}
	inode_unlock(d_inode(udir));
	return err;
}

/*
 * @newd was just created in the upper directory @udir (locked) under a name
 * that ".wh.NAME" removed from lower layers.  Write the diff as an OCI
 * tool would: no whiteout beside a new object, a new directory opaque.
 * Either form means the same to layerfs; this one means the same to every
 * extractor, whatever order it applies entries in.
 */
static int lfs_replace_whiteout(struct lfs_fs *ofs, struct dentry *udir,
				struct dentry *newd, const struct qstr *name)
{
	struct dentry *wh = lfs_lookup_upper_wh(ofs, udir, name);
	int err = 0;

	if (IS_ERR_OR_NULL(wh))
		return PTR_ERR_OR_ZERO(wh);
	if (d_is_positive(wh)) {
		if (d_is_dir(newd))
			err = lfs_make_opaque(ofs, newd);
		if (!err)
			err = vfs_unlink(mnt_idmap(ofs->upper_mnt),
					 d_inode(udir), wh, NULL);
	}
	dput(wh);
	return err;
}

/*
 * Is @d, a directory, what @name in the locked upper directory @udir holds?
 * Something other than layerfs may have moved it.  0, -ESTALE or an error.
 */
static int lfs_check_upper_child(struct lfs_fs *ofs, struct dentry *udir,
				 const struct qstr *name, struct dentry *d)
{
	struct dentry *cur;
	int err;

	cur = lookup_one(mnt_idmap(ofs->upper_mnt), name->name, udir,
			 name->len);
	if (IS_ERR(cur))
		return PTR_ERR(cur);
	err = cur == d ? 0 : -ESTALE;
	dput(cur);
	return err;
}

/*
 * Put an empty directory with the owner, mode, times and extended
 * attributes of @d in its place, and @d, an upper directory in @udir that
 * holds whiteouts but shows nothing, in the work directory, with one
 * RENAME_EXCHANGE, as overlayfs does before a rename replaces a directory:
 * if the rename then fails, the directory left there shows the same as
 * @d, where @d emptied in place would show what its whiteouts hid.  With
 * @wh, the whiteout of @name is written first, so that the new directory
 * does not merge with a lower one either.  The caller holds no upper lock.
 * Returns the new directory's dentry, NULL if the upper filesystem cannot
 * exchange, or an ERR_PTR.
 */
static struct dentry *lfs_swap_empty_dir(struct lfs_fs *ofs,
					 struct dentry *udir, struct dentry *d,
					 const struct qstr *name, bool wh)
{
	struct mnt_idmap *idmap = mnt_idmap(ofs->upper_mnt);
	const struct lfs_path src = { .layer = &ofs->upper, .dentry = d };
	struct path path = { .mnt = ofs->upper_mnt, .dentry = d };
	struct renamedata rd = {
		.old_mnt_idmap = idmap,
		.old_dir = d_inode(ofs->workdir),
		.new_mnt_idmap = idmap,
		.new_dir = d_inode(udir),
		.new_dentry = d,
		.flags = RENAME_EXCHANGE,
	};
	struct dentry *tmp, *trap;
	struct kstat stat;
	int err;

	err = vfs_getattr(&path, &stat, STATX_BASIC_STATS,
			  AT_STATX_SYNC_AS_STAT);
	if (err)
		return ERR_PTR(err);
	tmp = lfs_create_temp(ofs, S_IFDIR | (stat.mode & 07777), 0, NULL);
	if (IS_ERR(tmp))
		return tmp;
	rd.old_dentry = tmp;
	err = lfs_copy_xattrs(ofs, &src, tmp);
	/* Should the rename fail, the directory keeps its st_ino. */
	if (!err)
		err = lfs_copy_origin(ofs, d, tmp);
	if (!err)
		err = lfs_set_attrs(ofs, tmp, &stat);
	if (!err) {
		trap = lock_rename(ofs->workdir, udir);
		if (IS_ERR(trap)) {
			err = PTR_ERR(trap);
		} else {
			err = -EIO;
			if (!trap && tmp->d_parent == ofs->workdir)
				err = lfs_check_upper_child(ofs, udir, name, d);
			if (!err && wh)
				err = lfs_make_whiteout(ofs, udir, name);
			if (!err) {
				err = vfs_rename(&rd);
				/* No RENAME_EXCHANGE there: say so. */
				if (err == -EINVAL || err == -EOPNOTSUPP)
					err = 1;
			}
			unlock_rename(ofs->workdir, udir);
		}
	}
	if (err) {
		lfs_cleanup_temp(ofs, tmp);
		dput(tmp);
		return err > 0 ? NULL : ERR_PTR(err);
	}
	return tmp;
}

/*
 * Credentials for creating an object in the upper layer: the mounter's,
 * with the caller's fsuid and fsgid so the object gets the right owner.
 */
static const struct cred *lfs_creds_for_create(struct super_block *sb)
{
	kuid_t fsuid = current_fsuid();
	kgid_t fsgid = current_fsgid();
	const struct cred *old_cred;
	struct cred *cred;

	/* A copy of the mounter's credentials ... */
	old_cred = lfs_override_creds(sb);
	cred = prepare_creds();
	revert_creds(old_cred);
	if (!cred)
		return ERR_PTR(-ENOMEM);
	/* ... with the caller's fs ids; override_creds() takes a reference. */
	cred->fsuid = fsuid;
	cred->fsgid = fsgid;
	old_cred = override_creds(cred);
	put_cred(cred);
	return old_cred;
}

/*
 * Start creating @dentry: upper write access, creation credentials, the
 * parent copied up.  Returns the credentials to give lfs_create_end().
 */
static const struct cred *lfs_create_begin(struct dentry *dentry)
{
	const struct cred *old_cred;
	int err;

	err = lfs_want_write(dentry);
	if (err)
		return ERR_PTR(err);
	old_cred = lfs_creds_for_create(dentry->d_sb);
	if (IS_ERR(old_cred)) {
		lfs_drop_write(dentry);
		return old_cred;
	}
	err = lfs_copy_up(dentry->d_parent);
	if (err) {
		revert_creds(old_cred);
		lfs_drop_write(dentry);
		return ERR_PTR(err);
	}
	return old_cred;
}

static void lfs_create_end(struct dentry *dentry, const struct cred *old_cred)
{
	revert_creds(old_cred);
	lfs_drop_write(dentry);
}

/*
 * Remove @made, which a create that then failed put at @name in the upper
 * directory @udir (locked): it would show once the negative dentry left
 * the cache.  Only an opaque marker can be in a directory made so.
 */
static void lfs_undo_create(struct lfs_fs *ofs, struct dentry *udir,
			    const struct qstr *name, struct inode *made)
{
	struct mnt_idmap *idmap = mnt_idmap(ofs->upper_mnt);
	struct dentry *d, *opq;
	int err;

	d = lookup_one(idmap, name->name, udir, name->len);
	if (IS_ERR(d)) {
		err = PTR_ERR(d);
		goto out;
	}
	err = 0;
	if (d_inode(d) != made) {
		err = -ESTALE;
	} else if (d_is_dir(d)) {
		inode_lock_nested(made, I_MUTEX_CHILD);
		opq = lookup_one(idmap, LAYERFS_WH_OPAQUE, d,
				 sizeof(LAYERFS_WH_OPAQUE) - 1);
		if (IS_ERR(opq)) {
			err = PTR_ERR(opq);
		} else {
			if (d_is_positive(opq))
				err = vfs_unlink(idmap, made, opq, NULL);
			dput(opq);
		}
		inode_unlock(made);
		if (!err)
			err = vfs_rmdir(idmap, d_inode(udir), d);
	} else {
		err = vfs_unlink(idmap, d_inode(udir), d, NULL);
	}
	dput(d);
out:
	if (err)
		pr_warn_ratelimited("layerfs: %pd/%.*s: cannot remove it after a failed create: %d\n",
				    udir, name->len, name->name, err);
}

static int lfs_create_object(struct inode *dir, struct dentry *dentry,
			     umode_t mode, dev_t rdev, const char *link,
			     struct dentry *hardlink)
{
	struct super_block *sb = dir->i_sb;
	struct lfs_fs *ofs = LFS_FS(sb);
	struct mnt_idmap *idmap = mnt_idmap(ofs->upper_mnt);
	const struct qstr *name = &dentry->d_name;
	const struct cred *old_cred;
	struct dentry *udir, *newd;
	struct inode *inode;
	int err;

	if (lfs_is_wh_name(name->name, name->len))
		return -EINVAL;
	old_cred = lfs_create_begin(dentry);
	if (IS_ERR(old_cred))
		return PTR_ERR(old_cred);
	err = hardlink ? lfs_copy_up(hardlink) : 0;
	if (err)
		goto out_end;

	udir = lfs_upper(dir);
	inode_lock_nested(d_inode(udir), I_MUTEX_PARENT);
	newd = lookup_one(idmap, name->name, udir, name->len);
	err = PTR_ERR(newd);
	if (IS_ERR(newd))
		goto out_unlock;
	/*
	 * An overlay-style whiteout in the upper layer makes way for the
	 * OCI one, which lfs_replace_whiteout() then handles: a directory
	 * made there must not merge with what the whiteout hid.
	 */
	if (lfs_is_ovl_whiteout(newd)) {
		dput(newd);
		newd = lfs_ovl_to_oci_whiteout(ofs, udir, name);
		err = PTR_ERR(newd);
		if (IS_ERR(newd))
			goto out_unlock;
	}
	err = -EEXIST;
	if (d_is_positive(newd))
		goto out_dput;

	if (hardlink)
		err = vfs_link(lfs_upper(d_inode(hardlink)), idmap,
			       d_inode(udir), newd, NULL);
	else if (S_ISREG(mode))
		err = vfs_create(idmap, d_inode(udir), newd, mode, true);
	else if (S_ISDIR(mode))
		err = vfs_mkdir(idmap, d_inode(udir), newd, mode);
	else if (S_ISLNK(mode))
		err = vfs_symlink(idmap, d_inode(udir), newd, link);
	else
		err = vfs_mknod(idmap, d_inode(udir), newd, mode, rdev);
	if (err)
		goto out_dput;
	/* Some filesystems leave the dentry unhashed: look it up again. */
	if (d_unhashed(newd) || d_is_negative(newd)) {
		dput(newd);
		newd = lookup_one(idmap, name->name, udir, name->len);
		err = PTR_ERR(newd);
		if (IS_ERR(newd))
			goto out_unlock;
		err = -ESTALE;
		if (d_is_negative(newd))
			goto out_dput;
	}
	if (hardlink) {
		inode = d_inode(hardlink);
		ihold(inode);
	} else {
		inode = lfs_iget(sb, dget(newd), NULL, 0);
		if (IS_ERR(inode)) {
			err = PTR_ERR(inode);
			goto out_undo;
		}
	}
	/* Last, so that nothing fails once the whiteout is gone. */
	err = lfs_replace_whiteout(ofs, udir, newd, name);
	if (err) {
		/* A new inode must not stay cached for an upper one gone. */
		if (!hardlink)
			clear_nlink(inode);
		iput(inode);
		goto out_undo;
	}
	if (hardlink)
		lfs_copyattr(inode);
	d_instantiate(dentry, inode);
	lfs_dir_changed(dir);
	lfs_copyattr(dir);
	goto out_dput;

out_undo:
	lfs_undo_create(ofs, udir, name, d_inode(newd));
out_dput:
	dput(newd);
out_unlock:
	inode_unlock(d_inode(udir));
out_end:
	lfs_create_end(dentry, old_cred);
	return err;
}

static int lfs_create(struct mnt_idmap *idmap, struct inode *dir,
		      struct dentry *dentry, umode_t mode, bool excl)
{
	return lfs_create_object(dir, dentry, (mode & 07777) | S_IFREG, 0,
				 NULL, NULL);
}

static int lfs_mkdir(struct mnt_idmap *idmap, struct inode *dir,
		     struct dentry *dentry, umode_t mode)
{
	return lfs_create_object(dir, dentry, (mode & 07777) | S_IFDIR, 0,
				 NULL, NULL);
}

static int lfs_mknod(struct mnt_idmap *idmap, struct inode *dir,
		     struct dentry *dentry, umode_t mode, dev_t rdev)
{
	/*
	 * The VFS checked the caller may make devices, but it lets anyone
	 * make a 0/0 character device: a whiteout, which this name would
	 * then be (lfs_is_ovl_whiteout()).  overlayfs refuses it too.
	 */
	if (S_ISCHR(mode) && rdev == WHITEOUT_DEV)
		return -EPERM;
	return lfs_create_object(dir, dentry, mode, rdev, NULL, NULL);
}

static int lfs_symlink(struct mnt_idmap *idmap, struct inode *dir,
		       struct dentry *dentry, const char *link)
{
	return lfs_create_object(dir, dentry, S_IFLNK | 0777, 0, link, NULL);
}

static int lfs_link(struct dentry *old, struct inode *dir,
		    struct dentry *new)
{
	return lfs_create_object(dir, new, d_inode(old)->i_mode, 0, NULL,
				 old);
}

static int lfs_tmpfile_open(struct inode *inode, struct file *file)
{
	/* lfs_tmpfile() set up the backing file already. */
	return 0;
}

static int lfs_tmpfile(struct mnt_idmap *idmap, struct inode *dir,
		       struct file *file, umode_t mode)
{
	struct dentry *dentry = file->f_path.dentry;
	struct super_block *sb = dir->i_sb;
	struct path realparent = { .mnt = LFS_FS(sb)->upper_mnt };
	const struct cred *old_cred;
	struct file *realfile;
	struct lfs_file *lf;
	struct inode *inode;
	int err;

	lf = kzalloc(sizeof(*lf), GFP_KERNEL);
	if (!lf)
		return -ENOMEM;
	old_cred = lfs_create_begin(dentry);
	if (IS_ERR(old_cred)) {
		kfree(lf);
		return PTR_ERR(old_cred);
	}
	realparent.dentry = lfs_upper(dir);
#ifdef HAVE_BACKING_TMPFILE_OPEN_USER_FILE
	realfile = backing_tmpfile_open(file, file->f_flags | O_NOATIME,
					&realparent, mode, current_cred());
#else
	realfile = backing_tmpfile_open(&file->f_path, file->f_flags | O_NOATIME,
					&realparent, mode, current_cred());
#endif
	err = PTR_ERR_OR_ZERO(realfile);
	if (err)
		goto out_end;
	lf->real = realfile;
	inode = lfs_iget(sb, dget(realfile->f_path.dentry), NULL, 0);
	if (IS_ERR(inode)) {
		err = PTR_ERR(inode);
		goto out_end;
	}
	/* The upper tmpfile has no links: d_tmpfile() would drop one more. */
	d_mark_tmpfile(file, inode);
	d_instantiate(dentry, inode);
	file->private_data = lf;
	err = finish_open(file, dentry, lfs_tmpfile_open);
	/* With FMODE_OPENED ->release() puts the backing file. */
	if (file->f_mode & FMODE_OPENED)
		lf = NULL;
out_end:
	lfs_create_end(dentry, old_cred);
	lfs_file_free(lf);
	return err;
}

static int lfs_remove(struct inode *dir, struct dentry *dentry, bool is_dir)
{
	struct super_block *sb = dir->i_sb;
	struct lfs_fs *ofs = LFS_FS(sb);
	struct mnt_idmap *idmap = mnt_idmap(ofs->upper_mnt);
	const struct qstr *name = &dentry->d_name;
	struct lfs_names names = LFS_NAMES_INIT(names);
	struct inode *inode = d_inode(dentry);
	const struct cred *old_cred;
	struct dentry *udir, *upper, *d = NULL, *trap;
	int err, visible;
	bool via_work;

	if (is_dir) {
		err = lfs_dir_is_empty(inode);
		if (err)
			return err;
	}
	err = lfs_want_write(dentry);
	if (err)
		return err;
	old_cred = lfs_override_creds(sb);
	visible = lfs_lower_visible(dir, name);
	err = visible < 0 ? visible : 0;
	/* Refuse before anything changes: the name would come back. */
	if (visible > 0 && !lfs_wh_fits(name))
		err = -ENAMETOOLONG;
	if (!err)
		err = lfs_copy_up(dentry->d_parent);
	if (err)
		goto out_revert;
	/*
	 * Held until @dentry is unhashed: a copy-up of @inode under this name
	 * either comes first, and is removed here, or sees the name gone.
	 */
	err = mutex_lock_killable(&LFS_I(inode)->lock);
	if (err)
		goto out_revert;
	upper = lfs_upper(inode);
	if (is_dir && upper) {
		err = lfs_collect_whiteouts(ofs, upper, &names);
		if (err)
			goto out_mutex;
	}
	/*
	 * A directory with whiteouts leaves its name first, for the work
	 * directory, and is emptied there.  Emptied in place, a removal that
	 * then failed (EPERM, EIO) would leave it showing, to its inode,
	 * the lower entries those whiteouts hid.
	 */
	via_work = !list_empty(&names.list);
	udir = lfs_upper(dir);
	if (via_work) {
		trap = lock_rename(ofs->workdir, udir);
		if (IS_ERR(trap)) {
			err = PTR_ERR(trap);
			goto out_mutex;
		}
		err = trap ? -EIO : 0;
	} else {
		inode_lock_nested(d_inode(udir), I_MUTEX_PARENT);
	}
	/*
	 * The whiteout first: if it cannot be made (ENOSPC), nothing has
	 * changed yet.  Beside the upper object it hides only lower layers.
	 */
	if (!err && visible)
		err = lfs_make_whiteout(ofs, udir, name);
	if (!err && upper) {
		d = lookup_one(idmap, name->name, udir, name->len);
		err = PTR_ERR(d);
		if (IS_ERR(d)) {
			d = NULL;
			goto out_unlock;
		}
		/* Hard links share @upper: compare the inodes. */
		if (d_inode(d) != d_inode(upper))
			err = -ESTALE;
		else if (via_work)
			err = lfs_move_to_work(ofs, udir, d);
		else if (is_dir)
			err = vfs_rmdir(idmap, d_inode(udir), d);
		else
			err = vfs_unlink(idmap, d_inode(udir), d, NULL);
	}
	if (!err) {
		if (is_dir)
			clear_nlink(inode);
		else if (upper)
			set_nlink(inode, d_inode(upper)->i_nlink);
		else
			drop_nlink(inode);
		lfs_dir_changed(dir);
		d_drop(dentry);
	}
out_unlock:
	if (via_work)
		unlock_rename(ofs->workdir, udir);
	else
		inode_unlock(d_inode(udir));
	lfs_copyattr(dir);
	/*
	 * The name is gone, @d moved (vfs_rename() moves the dentry it is
	 * given): what fails now stays in the work directory.
	 */
	if (via_work && !err)
		lfs_remove_work_dir(ofs, d, &names);
	dput(d);
out_mutex:
	mutex_unlock(&LFS_I(inode)->lock);
	lfs_names_free(&names);
out_revert:
	revert_creds(old_cred);
	lfs_drop_write(dentry);
	return err;
}

static int lfs_unlink(struct inode *dir, struct dentry *dentry)
{
	return lfs_remove(dir, dentry, false);
}

static int lfs_rmdir(struct inode *dir, struct dentry *dentry)
{
	return lfs_remove(dir, dentry, true);
}

static int lfs_rename(struct mnt_idmap *idmap, struct inode *olddir,
		      struct dentry *old, struct inode *newdir,
		      struct dentry *new, unsigned int flags)
{
	struct super_block *sb = olddir->i_sb;
	struct lfs_fs *ofs = LFS_FS(sb);
	struct mnt_idmap *uidmap = mnt_idmap(ofs->upper_mnt);
	bool exchange = flags & RENAME_EXCHANGE;
	struct inode *src = d_inode(old), *tgt = d_inode(new);
	struct dentry *uold, *unew, *oldd, *newd, *trap;
	struct lfs_names names = LFS_NAMES_INIT(names);
	struct dentry *tgt_upper = NULL, *swapped = NULL;
	struct renamedata rd = {};
	LIST_HEAD(tree);
	const struct cred *old_cred;
	bool src_tree, tgt_tree, wh_old, wh_new;
	int err, old_vis, new_vis;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (lfs_is_wh_name(new->d_name.name, new->d_name.len))
		return -EINVAL;
	if (tgt && !exchange && d_is_dir(new)) {
		err = lfs_dir_is_empty(tgt);
		if (err)
			return err;
	}
	err = lfs_want_write(old);
	if (err)
		return err;
	old_cred = lfs_override_creds(sb);
	old_vis = lfs_lower_visible(olddir, &old->d_name);
	new_vis = lfs_lower_visible(newdir, &new->d_name);
	err = old_vis < 0 ? old_vis : new_vis < 0 ? new_vis : 0;
	if (err)
		goto out_revert;
	/*
	 * The whiteouts the move needs: the old name's, unless a
	 * non-directory takes its place, and the new name's under a moved
	 * directory.  They must fit; refuse before anything moves.
	 */
	wh_old = old_vis && (!exchange || d_is_dir(new));
	wh_new = new_vis && d_is_dir(old);
	err = -ENAMETOOLONG;
	if ((wh_old && !lfs_wh_fits(&old->d_name)) ||
	    (wh_new && !lfs_wh_fits(&new->d_name)))
		goto out_revert;
	/*
	 * A directory that merges lower content moves in the upper layer
	 * only once all of that content is there too (metadata only), and
	 * it must not merge with whatever lower layers hold at its new name.
	 */
	src_tree = d_is_dir(old) && READ_ONCE(LFS_I(src)->numpaths);
	tgt_tree = exchange && d_is_dir(new) && READ_ONCE(LFS_I(tgt)->numpaths);
	/* vfs_rename() locked a directory moving to another parent. */
	err = src_tree ? lfs_copy_up_tree(old, olddir != newdir, &tree) :
			 lfs_copy_up(old);
	if (!err && exchange)
		err = tgt_tree ? lfs_copy_up_tree(new, olddir != newdir, &tree) :
				 lfs_copy_up(new);
	if (!err && !exchange)
		err = lfs_copy_up(new->d_parent);
	/* So that the whiteout of its name, written first, hides nothing. */
	if (!err && !exchange && tgt && wh_new)
		err = lfs_copy_up(new);
	if (err)
		goto out_revert;
	tgt_upper = tgt ? lfs_upper(tgt) : NULL;

	/* A replaced target is removed: as in lfs_remove(). */
	if (tgt && !exchange) {
		err = mutex_lock_killable(&LFS_I(tgt)->lock);
		if (err)
			goto out_revert;
		/* Read again: a copy-up may have come first. */
		tgt_upper = lfs_upper(tgt);
		if (d_is_dir(new) && tgt_upper) {
			err = lfs_collect_whiteouts(ofs, tgt_upper, &names);
			if (err)
				goto out_tgt_unlock;
		}
	}
	/*
	 * A replaced directory with whiteouts gives way to an empty one, and
	 * is emptied and removed in the work directory.  An upper filesystem
	 * without RENAME_EXCHANGE has it emptied in place, below.
	 */
	if (!list_empty(&names.list)) {
		swapped = lfs_swap_empty_dir(ofs, lfs_upper(newdir), tgt_upper,
					     &new->d_name, wh_new);
		if (IS_ERR(swapped)) {
			err = PTR_ERR(swapped);
			swapped = NULL;
			goto out_tgt_unlock;
		}
	}
	if (swapped) {
		/*
		 * @tgt's upper is not at the name any more: forget the dentry,
		 * and let @tgt die as a removed directory, whatever comes.
		 */
		d_drop(new);
		clear_nlink(tgt);
		tgt->i_flags |= S_DEAD;
		lfs_dir_changed(newdir);
		lfs_remove_work_dir(ofs, tgt_upper, &names);
		lfs_names_free(&names);
		tgt_upper = swapped;
	}

	uold = lfs_upper(olddir);
	unew = lfs_upper(newdir);
	trap = lock_rename(uold, unew);
	err = PTR_ERR(trap);
	if (IS_ERR(trap))
		goto out_tgt_unlock;
	oldd = lookup_one(uidmap, old->d_name.name, uold, old->d_name.len);
	err = PTR_ERR(oldd);
	if (IS_ERR(oldd))
		goto out_unlock;
	newd = lookup_one(uidmap, new->d_name.name, unew, new->d_name.len);
	err = PTR_ERR(newd);
	if (IS_ERR(newd))
		goto out_dput_old;
	/* As in lfs_create_object(): an overlay-style whiteout makes way. */
	if (!tgt && lfs_is_ovl_whiteout(newd)) {
		dput(newd);
		newd = lfs_ovl_to_oci_whiteout(ofs, unew, &new->d_name);
		err = PTR_ERR(newd);
		if (IS_ERR(newd))
			goto out_dput_old;
	}

	/* Hard links share one upper dentry per inode: compare inodes. */
	err = -ESTALE;
	if (d_inode(oldd) != d_inode(lfs_upper(src)))
		goto out_dput;
	if (tgt_upper ? d_inode(newd) != d_inode(tgt_upper) :
			d_is_positive(newd))
		goto out_dput;
	err = -EINVAL;
	if (oldd == trap)
		goto out_dput;
	err = -ENOTEMPTY;
	if (newd == trap)
		goto out_dput;

	rd.old_mnt_idmap = uidmap;
	rd.old_dir = d_inode(uold);
	rd.old_dentry = oldd;
	rd.new_mnt_idmap = uidmap;
	rd.new_dir = d_inode(unew);
	rd.new_dentry = newd;
	rd.flags = flags;

	/*
	 * All that keeps lower layers out of view comes before the move, so
	 * that a failure (ENOSPC) leaves nothing changed, and none of it
	 * changes the view by itself: the whiteouts of both names (beside an
	 * upper object a whiteout hides only lower layers; a replaced
	 * directory shows nothing anyway), the opaque marker of a moved tree
	 * (it holds all it shows), and only then, where the upper filesystem
	 * could not swap it out above, the removal of a replaced directory's
	 * own whiteouts.
	 */
	err = 0;
	if (wh_old)
		err = lfs_make_whiteout(ofs, uold, &old->d_name);
	if (!err && wh_new)
		err = lfs_make_whiteout(ofs, unew, &new->d_name);
	if (!err && src_tree)
		err = lfs_make_opaque(ofs, oldd);
	if (!err && tgt_tree)
		err = lfs_make_opaque(ofs, newd);
	if (!err && !list_empty(&names.list))
		err = lfs_unlink_whiteouts(ofs, newd, &names);
	if (!err)
		err = vfs_rename(&rd);
	if (err)
		goto out_dput;

	if (tgt && !exchange) {
		if (d_is_dir(new))
			clear_nlink(tgt);
		else
			drop_nlink(tgt);
	}
	lfs_dir_changed(olddir);
	if (newdir != olddir)
		lfs_dir_changed(newdir);
	if (tgt && !exchange)
		d_drop(new);

out_dput:
	dput(newd);
out_dput_old:
	dput(oldd);
out_unlock:
	unlock_rename(uold, unew);
	lfs_copyattr(olddir);
	if (newdir != olddir)
		lfs_copyattr(newdir);
out_tgt_unlock:
	/* Every jump here comes after the lock was taken. */
	if (tgt && !exchange)
		mutex_unlock(&LFS_I(tgt)->lock);
	lfs_names_free(&names);
	dput(swapped);
out_revert:
	/* Moved trees (opaque now) merge nothing below: forget their stacks. */
	lfs_put_tree(&tree, !err);
	revert_creds(old_cred);
	lfs_drop_write(old);
	return err;
}

const struct inode_operations lfs_dir_inode_operations = {
	.lookup		= lfs_lookup,
	.create		= lfs_create,
	.mkdir		= lfs_mkdir,
	.mknod		= lfs_mknod,
	.symlink	= lfs_symlink,
	.link		= lfs_link,
	.unlink		= lfs_unlink,
	.rmdir		= lfs_rmdir,
	.rename		= lfs_rename,
	.tmpfile	= lfs_tmpfile,
	.setattr	= lfs_setattr,
	.permission	= lfs_permission,
	.getattr	= lfs_getattr,
	.listxattr	= lfs_listxattr,
	.get_inode_acl	= lfs_get_inode_acl,
	.get_acl	= lfs_get_acl,
	.set_acl	= lfs_set_acl,
	.fileattr_get	= lfs_fileattr_get,
	.fileattr_set	= lfs_fileattr_set,
};
