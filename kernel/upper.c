// SPDX-License-Identifier: GPL-2.0
/*
 * layerfs: the writable upper layer.
 *
 * A writable mount keeps its changes in one upper directory that is itself
 * an OCI layer diff: new and changed objects are stored there under their
 * names, and a removed lower name is recorded as an empty regular file
 * ".wh.NAME" beside where it was.  Following the OCI rule that a whiteout
 * hides the layers below its own only, an upper directory may hold both
 * NAME and ".wh.NAME" (NAME replaced what was below), so a new directory
 * over a removed one needs no opaque marker.
 *
 * Copy-up: before a lower directory is changed, it (and every ancestor not
 * yet copied) is created in the upper layer with its metadata.  Objects are
 * prepared in the work directory under a temporary name and renamed into
 * place, so a crash leaves either no upper object or a complete one.
 *
 * Locking order (outermost first):
 *   layerfs dir i_rwsem (the VFS takes it) -> upper mnt write access ->
 *   layerfs lfs_inode->lock (copy-up) -> upper i_rwsem, parent before
 *   child, through lock_rename() when two upper directories are involved.
 *   The copy of a tree before a rename only tries layerfs directories'
 *   i_rwsem (lfs_copy_up_children()); after the move, lfs_put_tree() drops
 *   their lower stacks' count without any lock (readers take it once).
 * Lower directories are only locked inside lookup_one_unlocked() and
 * iterate_dir(), never while an upper lock is held.
 */

#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/xattr.h>
#include "layerfs.h"

/* Upper and work directories of live mounts, to refuse sharing them. */
static LIST_HEAD(lfs_inuse_list);
static DEFINE_MUTEX(lfs_inuse_mutex);

void lfs_set_upper(struct inode *inode, struct dentry *upper)
{
	/* Pairs with smp_load_acquire() in lfs_upper(). */
	smp_store_release(&LFS_I(inode)->upper, upper);
}

int lfs_want_write(struct dentry *dentry)
{
	return mnt_want_write(LFS_FS(dentry->d_sb)->upper_mnt);
}

void lfs_drop_write(struct dentry *dentry)
{
	mnt_drop_write(LFS_FS(dentry->d_sb)->upper_mnt);
}

static struct mnt_idmap *lfs_upper_idmap(struct lfs_fs *ofs)
{
	return mnt_idmap(ofs->upper_mnt);
}

/* --- the work directory ------------------------------------------------ */

#define LFS_TEMP_NAME_MAX 32
#define LFS_TEMP_PREFIX "#lfs-"
#define LFS_TEMP_PREFIX_LEN (sizeof(LFS_TEMP_PREFIX) - 1)

/* A name in the work directory that no other object of this mount has. */
static void lfs_temp_name(struct lfs_fs *ofs, char name[LFS_TEMP_NAME_MAX])
{
	snprintf(name, LFS_TEMP_NAME_MAX, LFS_TEMP_PREFIX "%llx-%x", ofs->tmp_id,
		 atomic_inc_return(&ofs->tmp_next));
}

/*
 * Create a temporary object in the work directory.  Returns it, or an
 * ERR_PTR.  @link is the target of a symlink.
 */
struct dentry *lfs_create_temp(struct lfs_fs *ofs, umode_t mode, dev_t rdev,
			       const char *link)
{
	struct inode *wdir = d_inode(ofs->workdir);
	struct mnt_idmap *idmap = lfs_upper_idmap(ofs);
	struct dentry *tmp;
	char name[LFS_TEMP_NAME_MAX];
	int err;

	lfs_temp_name(ofs, name);
	inode_lock_nested(wdir, I_MUTEX_PARENT);
	tmp = lookup_one(idmap, name, ofs->workdir, strlen(name));
	if (IS_ERR(tmp))
		goto out;
	err = -EEXIST;
	if (d_is_positive(tmp))
		goto out_err;

	switch (mode & S_IFMT) {
	case S_IFDIR:
		err = vfs_mkdir(idmap, wdir, tmp, (mode & 07777) | 0700);
		break;
	case S_IFREG:
		err = vfs_create(idmap, wdir, tmp, (mode & 07777) | 0600,
				 true);
		break;
	case S_IFLNK:
		err = vfs_symlink(idmap, wdir, tmp, link);
		break;
	default:
		err = vfs_mknod(idmap, wdir, tmp, mode, rdev);
		break;
	}
	/* Some filesystems leave the dentry unhashed; look it up again. */
	if (!err && d_unhashed(tmp))
		err = -ESTALE;
	if (err)
		goto out_err;
	goto out;

out_err:
	dput(tmp);
	tmp = ERR_PTR(err);
out:
	inode_unlock(wdir);
	return tmp;
}

int lfs_cleanup_temp(struct lfs_fs *ofs, struct dentry *tmp)
{
	struct inode *wdir = d_inode(ofs->workdir);
	int err = -EIO;

	inode_lock_nested(wdir, I_MUTEX_PARENT);
	if (tmp->d_parent == ofs->workdir && d_is_positive(tmp)) {
		if (d_is_dir(tmp))
			err = vfs_rmdir(lfs_upper_idmap(ofs), wdir, tmp);
		else
			err = vfs_unlink(lfs_upper_idmap(ofs), wdir, tmp, NULL);
	}
	inode_unlock(wdir);
	return err;
}

/*
 * Move @d, a directory in the upper directory @udir, into the work
 * directory, to be emptied and removed there (lfs_cleanup_temp()): its
 * name goes at once, and whatever fails later leaves nothing in view.  The
 * caller holds lock_rename(ofs->workdir, @udir).
 */
int lfs_move_to_work(struct lfs_fs *ofs, struct dentry *udir,
		     struct dentry *d)
{
	struct mnt_idmap *idmap = lfs_upper_idmap(ofs);
	struct renamedata rd = {
		.old_mnt_idmap = idmap,
		.old_dir = d_inode(udir),
		.old_dentry = d,
		.new_mnt_idmap = idmap,
		.new_dir = d_inode(ofs->workdir),
	};
	char name[LFS_TEMP_NAME_MAX];
	int err;

	lfs_temp_name(ofs, name);
	rd.new_dentry = lookup_one(idmap, name, ofs->workdir, strlen(name));
	if (IS_ERR(rd.new_dentry))
		return PTR_ERR(rd.new_dentry);
	err = d_is_positive(rd.new_dentry) ? -EEXIST : vfs_rename(&rd);
	dput(rd.new_dentry);
	return err;
}

struct lfs_name {
	struct list_head list;
	unsigned int len;
	char name[];
};

static bool lfs_names_add(struct lfs_names *names, const char *name, int len)
{
	struct lfs_name *n;

	n = kmalloc(struct_size(n, name, len + 1), GFP_KERNEL);
	if (!n) {
		names->err = -ENOMEM;
		return false;
	}
	memcpy(n->name, name, len);
	n->name[len] = '\0';
	n->len = len;
	list_add_tail(&n->list, &names->list);
	return true;
}

void lfs_names_free(struct lfs_names *names)
{
	struct lfs_name *n, *tmp;

	list_for_each_entry_safe(n, tmp, &names->list, list)
		kfree(n);
	INIT_LIST_HEAD(&names->list);
}

/* Both kinds of whiteout: a device is checked for 0/0 before removal. */
static bool lfs_collect_wh(struct dir_context *ctx, const char *name,
			   int len, loff_t offset, u64 ino, unsigned int type)
{
	struct lfs_names *names = container_of(ctx, struct lfs_names, ctx);

	names->seen++;
	if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
		return true;
	if (!lfs_is_wh_name(name, len) &&
	    type != DT_CHR && type != DT_UNKNOWN) {
		names->others++;
		return true;
	}
	return lfs_names_add(names, name, len);
}

static bool lfs_collect_temp(struct dir_context *ctx, const char *name,
			     int len, loff_t offset, u64 ino, unsigned int type)
{
	struct lfs_names *names = container_of(ctx, struct lfs_names, ctx);

	names->seen++;
	if (len < LFS_TEMP_PREFIX_LEN ||
	    memcmp(name, LFS_TEMP_PREFIX, LFS_TEMP_PREFIX_LEN))
		return true;
	return lfs_names_add(names, name, len);
}

/*
 * Read @dir's names that @actor takes, without holding an upper lock
 * (opening @dir can wait for an fsnotify permission listener).  Some
 * filesystems (FUSE) return a page of entries per call: read until a pass
 * finds none.
 */
static int lfs_collect_names(struct lfs_fs *ofs, struct dentry *dir,
			     struct lfs_names *names, filldir_t actor)
{
	struct path path = { .mnt = ofs->upper_mnt, .dentry = dir };
	struct file *file;
	int err;

	file = dentry_open(&path, O_RDONLY | O_DIRECTORY, current_cred());
	if (IS_ERR(file))
		return PTR_ERR(file);
	names->ctx.actor = actor;
	do {
		names->seen = 0;
		err = iterate_dir(file, &names->ctx);
	} while (!err && !names->err && names->seen);
	fput(file);
	return err ?: names->err;
}

/*
 * An upper directory whose merged view is empty may still hold whiteouts
 * (and overlay-style ones), which must go before it can be removed or
 * replaced.  The caller's lock on the layerfs directory keeps them from
 * changing.
 */
int lfs_collect_whiteouts(struct lfs_fs *ofs, struct dentry *udir,
			  struct lfs_names *names)
{
	return lfs_collect_names(ofs, udir, names, lfs_collect_wh);
}

/*
 * Remove the whiteouts lfs_collect_whiteouts() found in @udir.  The caller
 * holds its parent locked, with the parent's whiteout of it written
 * already, or moved it into the work directory: without its own whiteouts
 * it shows nothing either way.
 */
int lfs_unlink_whiteouts(struct lfs_fs *ofs, struct dentry *udir,
			 struct lfs_names *names)
{
	struct mnt_idmap *idmap = lfs_upper_idmap(ofs);
	struct lfs_name *n;
	struct dentry *d;
	int err = 0;

	inode_lock_nested(d_inode(udir), I_MUTEX_CHILD);
	list_for_each_entry(n, &names->list, list) {
		d = lookup_one(idmap, n->name, udir, n->len);
		if (IS_ERR(d)) {
			err = PTR_ERR(d);
			break;
		}
		if (d_is_positive(d) &&
		    (lfs_is_wh_name(n->name, n->len) || lfs_is_ovl_whiteout(d)))
			err = vfs_unlink(idmap, d_inode(udir), d, NULL);
		dput(d);
		if (err)
			break;
	}
	inode_unlock(d_inode(udir));
	return err;
}

/*
 * Empty and remove @d, a directory moved or made in the work directory, of
 * the whiteouts in @names (collected here if NULL).  It is out of view: a
 * failure is only logged.
 */
void lfs_remove_work_dir(struct lfs_fs *ofs, struct dentry *d,
			 struct lfs_names *names)
{
	struct lfs_names own = LFS_NAMES_INIT(own);
	int err = 0;

	if (!names) {
		names = &own;
		err = lfs_collect_whiteouts(ofs, d, names);
	}
	if (!err)
		err = lfs_unlink_whiteouts(ofs, d, names);
	if (!err)
		err = lfs_cleanup_temp(ofs, d);
	lfs_names_free(&own);
	if (err)
		pr_warn_ratelimited("layerfs: cannot remove %pd from the work directory: %d\n",
				    d, err);
}

/*
 * Is every name in @names a whiteout in @d: an empty ".wh." file or a 0/0
 * device?  d_type alone does not say (DT_UNKNOWN).  0 or -ENOTEMPTY.
 */
static int lfs_only_whiteouts(struct lfs_fs *ofs, struct dentry *d,
			      struct lfs_names *names)
{
	struct lfs_name *n;

	list_for_each_entry(n, &names->list, list) {
		struct dentry *e;
		bool wh;

		e = lookup_one_unlocked(lfs_upper_idmap(ofs), n->name, d,
					n->len);
		if (IS_ERR(e))
			return PTR_ERR(e);
		wh = d_is_negative(e) || lfs_is_ovl_whiteout(e) ||
		     (lfs_is_wh_name(n->name, n->len) && d_is_reg(e) &&
		      !i_size_read(d_inode(e)));
		dput(e);
		if (!wh)
			return -ENOTEMPTY;
	}
	return 0;
}

/* Remove @d, a work dir leftover, unless it holds more than whiteouts. */
static int lfs_sweep_dir(struct lfs_fs *ofs, struct dentry *d)
{
	struct lfs_names wh = LFS_NAMES_INIT(wh);
	int err;

	err = lfs_collect_whiteouts(ofs, d, &wh);
	if (!err)
		err = wh.others ? -ENOTEMPTY : lfs_only_whiteouts(ofs, d, &wh);
	if (!err)
		lfs_remove_work_dir(ofs, d, &wh);
	lfs_names_free(&wh);
	return err;
}

/*
 * What a crash or a failed cleanup left in the work directory is no part
 * of the layer (new names never collide with it): remove it at mount, as
 * overlayfs empties its work dir.  Only #lfs-* names are touched, and a
 * directory only if it holds nothing but whiteouts, which is all layerfs
 * ever leaves in one; anything else stays, with a warning.
 */
static void lfs_sweep_work_dir(struct lfs_fs *ofs)
{
	struct lfs_names names = LFS_NAMES_INIT(names);
	struct lfs_name *n;
	struct dentry *d;
	int err;

	err = lfs_collect_names(ofs, ofs->workdir, &names, lfs_collect_temp);
	if (err)
		pr_warn("layerfs: cannot read the work directory %s: %d\n",
			ofs->work_name, err);
	list_for_each_entry(n, &names.list, list) {
		d = lookup_one_unlocked(lfs_upper_idmap(ofs), n->name,
					ofs->workdir, n->len);
		err = PTR_ERR_OR_ZERO(d);
		if (!err && d_is_dir(d))
			err = lfs_sweep_dir(ofs, d);
		else if (!err && d_is_positive(d))
			err = lfs_cleanup_temp(ofs, d);
		if (err)
			pr_warn_ratelimited("layerfs: cannot remove %s from the work directory: %d\n",
					    n->name, err);
		if (!IS_ERR(d))
			dput(d);
	}
	lfs_names_free(&names);
}

/* --- mount-time setup ----------------------------------------------------- */

static bool lfs_is_inuse(struct lfs_fs *ofs, struct dentry *d)
{
	struct lfs_fs *other;

	list_for_each_entry(other, &lfs_inuse_list, inuse) {
		if (other->upper_mnt->mnt_root == d || other->workdir == d)
			return true;
	}
	return false;
}

/* A probe of what the upper filesystem must support, in the work dir. */
static int lfs_check_upper_fs(struct fs_context *fc, struct lfs_fs *ofs)
{
	struct dentry *probe;
	int err;

	probe = lfs_create_temp(ofs, S_IFREG | 0600, 0, NULL);
	if (IS_ERR(probe)) {
		errorfc(fc, "workdir '%s': cannot create a file: %ld",
			ofs->work_name, PTR_ERR(probe));
		return PTR_ERR(probe);
	}
	/* Whiteout-free OCI diffs need nothing else, but origins need xattrs. */
	err = vfs_setxattr(lfs_upper_idmap(ofs), probe,
			   LAYERFS_XATTR_PREFIX "probe", "1", 1, 0);
	if (err) {
		errorfc(fc, "upperdir '%s': the filesystem does not support trusted.* xattrs (%d)",
			ofs->upper_name, err);
		err = -EINVAL;
	}
	lfs_cleanup_temp(ofs, probe);
	dput(probe);
	return err;
}

int lfs_upper_setup(struct super_block *sb, struct fs_context *fc)
{
	struct lfs_fs_context *ctx = fc->fs_private;
	struct lfs_fs *ofs = LFS_FS(sb);
	const struct cred *old_cred;
	struct vfsmount *mnt;
	int err;

	if (!ctx->upper.dentry) {
		if (ctx->work.dentry)
			return invalfc(fc, "workdir given without upperdir");
		return 0;
	}
	if (!ctx->work.dentry)
		return invalfc(fc, "upperdir needs a workdir");
	if (ctx->upper.mnt != ctx->work.mnt)
		return invalfc(fc, "upperdir and workdir must be on the same mount");
	if (is_subdir(ctx->upper.dentry, ctx->work.dentry) ||
	    is_subdir(ctx->work.dentry, ctx->upper.dentry))
		return invalfc(fc, "upperdir and workdir must not contain each other");
	if (__mnt_is_readonly(ctx->upper.mnt)) {
		errorfc(fc, "upperdir '%s' is on a read-only mount",
			ctx->upper_name);
		return -EROFS;
	}

	mnt = clone_private_mount(&ctx->upper);
	if (IS_ERR(mnt)) {
		errorfc(fc, "upperdir '%s': cannot clone its mount: %ld",
			ctx->upper_name, PTR_ERR(mnt));
		return PTR_ERR(mnt);
	}
	mnt->mnt_flags |= MNT_NOATIME;
	ofs->upper_mnt = mnt;
	ofs->upper.mnt = mnt;
	ofs->upper.idx = 0;
	ofs->upper.name = ctx->upper_name;
	ctx->upper_name = NULL;
	ofs->upper_name = ofs->upper.name;
	ofs->work_name = ctx->work_name;
	ctx->work_name = NULL;
	ofs->workdir = dget(ctx->work.dentry);
	ofs->tmp_id = get_random_u64();
	ofs->cow_block = ctx->cow_block;

	sb->s_stack_depth = max(sb->s_stack_depth,
				mnt->mnt_sb->s_stack_depth + 1);
	if (sb->s_stack_depth > FILESYSTEM_MAX_STACK_DEPTH)
		return invalfc(fc, "upperdir is too deeply stacked");
	sb->s_maxbytes = min(sb->s_maxbytes, mnt->mnt_sb->s_maxbytes);
	sb->s_time_gran = max(sb->s_time_gran, mnt->mnt_sb->s_time_gran);

	mutex_lock(&lfs_inuse_mutex);
	if (lfs_is_inuse(ofs, mnt->mnt_root) ||
	    lfs_is_inuse(ofs, ofs->workdir)) {
		mutex_unlock(&lfs_inuse_mutex);
		errorfc(fc, "upperdir or workdir is in use by another layerfs mount");
		return -EBUSY;
	}
	list_add(&ofs->inuse, &lfs_inuse_list);
	mutex_unlock(&lfs_inuse_mutex);

	old_cred = lfs_override_creds(sb);
	err = mnt_want_write(mnt);
	if (!err) {
		err = lfs_check_upper_fs(fc, ofs);
		if (!err)
			lfs_sweep_work_dir(ofs);
		mnt_drop_write(mnt);
	}
	revert_creds(old_cred);
	return err;
}

void lfs_upper_release(struct lfs_fs *ofs)
{
	if (!ofs->upper_mnt)
		return;
	mutex_lock(&lfs_inuse_mutex);
	if (!list_empty(&ofs->inuse))
		list_del_init(&ofs->inuse);
	mutex_unlock(&lfs_inuse_mutex);
	dput(ofs->workdir);
	kern_unmount(ofs->upper_mnt);
	kfree(ofs->upper_name);
	kfree(ofs->work_name);
}

/* --- copy-up -------------------------------------------------------------- */

/* Non-private xattrs and POSIX ACLs of @lower onto @upper. */
int lfs_copy_xattrs(struct lfs_fs *ofs, const struct lfs_path *lower,
		    struct dentry *upper)
{
	struct mnt_idmap *lidmap = lfs_layer_idmap(lower->layer);
	struct mnt_idmap *uidmap = lfs_upper_idmap(ofs);
	ssize_t list_size, size;
	char *buf, *name, *value = NULL;
	int err = 0;

	list_size = vfs_listxattr(lower->dentry, NULL, 0);
	if (list_size <= 0)
		return list_size == -EOPNOTSUPP ? 0 : list_size;
	buf = kvzalloc(list_size, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	list_size = vfs_listxattr(lower->dentry, buf, list_size);
	if (list_size <= 0) {
		err = list_size;
		goto out;
	}
	value = kvmalloc(XATTR_SIZE_MAX, GFP_KERNEL);
	if (!value) {
		err = -ENOMEM;
		goto out;
	}

	for (name = buf; name < buf + list_size && !err;
	     name += strlen(name) + 1) {
		if (!strncmp(name, LAYERFS_XATTR_PREFIX,
			     sizeof(LAYERFS_XATTR_PREFIX) - 1) ||
		    !strncmp(name, LAYERFS_OVL_XATTR_PREFIX,
			     sizeof(LAYERFS_OVL_XATTR_PREFIX) - 1))
			continue;
		if (is_posix_acl_xattr(name)) {
			struct posix_acl *acl;

			acl = vfs_get_acl(lidmap, lower->dentry, name);
			if (IS_ERR(acl)) {
				err = PTR_ERR(acl) == -ENODATA ? 0 : PTR_ERR(acl);
				continue;
			}
			err = vfs_set_acl(uidmap, upper, name, acl);
			posix_acl_release(acl);
			continue;
		}
		size = vfs_getxattr(lidmap, lower->dentry, name, value,
				    XATTR_SIZE_MAX);
		if (size == -ENODATA)
			continue;
		if (size < 0) {
			err = size;
			continue;
		}
		err = vfs_setxattr(uidmap, upper, name, value, size, 0);
		/* An upper fs without that namespace: as overlayfs, go on. */
		if (err == -EOPNOTSUPP && strncmp(name, XATTR_SECURITY_PREFIX,
						  XATTR_SECURITY_PREFIX_LEN))
			err = 0;
	}
out:
	kvfree(value);
	kvfree(buf);
	return err;
}

static int lfs_set_size(struct lfs_fs *ofs, struct dentry *upper, loff_t size)
{
	struct iattr attr = { .ia_valid = ATTR_SIZE, .ia_size = size };
	int err;

	inode_lock(d_inode(upper));
	err = notify_change(lfs_upper_idmap(ofs), upper, &attr, NULL);
	inode_unlock(d_inode(upper));
	return err;
}

/* Owner, mode and times of @stat onto the upper object. */
int lfs_set_attrs(struct lfs_fs *ofs, struct dentry *upper,
		  const struct kstat *stat)
{
	struct iattr attr = {
		.ia_valid = ATTR_UID | ATTR_GID,
		.ia_vfsuid = VFSUIDT_INIT(stat->uid),
		.ia_vfsgid = VFSGIDT_INIT(stat->gid),
	};
	struct inode *inode = d_inode(upper);
	int err;

	inode_lock(inode);
	err = notify_change(lfs_upper_idmap(ofs), upper, &attr, NULL);
	if (!err && !S_ISLNK(stat->mode)) {
		attr.ia_valid = ATTR_MODE;
		attr.ia_mode = stat->mode;
		err = notify_change(lfs_upper_idmap(ofs), upper, &attr, NULL);
	}
	if (!err) {
		attr.ia_valid = ATTR_ATIME | ATTR_MTIME | ATTR_ATIME_SET |
				ATTR_MTIME_SET;
		attr.ia_atime = stat->atime;
		attr.ia_mtime = stat->mtime;
		err = notify_change(lfs_upper_idmap(ofs), upper, &attr, NULL);
	}
	inode_unlock(inode);
	return err;
}

/*
 * Move the finished temporary object @tmp to @name in @udir (upper).
 * Returns the upper dentry now at @name, or an ERR_PTR.
 */
static struct dentry *lfs_install_temp(struct lfs_fs *ofs, struct dentry *tmp,
				       struct dentry *udir,
				       const struct qstr *name)
{
	struct mnt_idmap *idmap = lfs_upper_idmap(ofs);
	struct renamedata rd = {
		.old_mnt_idmap = idmap,
		.old_dir = d_inode(ofs->workdir),
		.old_dentry = tmp,
		.new_mnt_idmap = idmap,
		.new_dir = d_inode(udir),
	};
	struct dentry *trap, *target;
	int err;

	trap = lock_rename(ofs->workdir, udir);
	if (IS_ERR(trap))
		return ERR_CAST(trap);
	err = -EIO;
	if (trap || tmp->d_parent != ofs->workdir)
		goto out_unlock;
	target = lookup_one(idmap, name->name, udir, name->len);
	err = PTR_ERR(target);
	if (IS_ERR(target))
		goto out_unlock;
	err = -EEXIST;
	if (d_is_positive(target))
		goto out_dput;
	rd.new_dentry = target;
	err = vfs_rename(&rd);
	if (err)
		goto out_dput;
	unlock_rename(ofs->workdir, udir);
	dput(target);
	/* vfs_rename() moved @tmp to the new name. */
	return dget(tmp);

out_dput:
	dput(target);
out_unlock:
	unlock_rename(ofs->workdir, udir);
	return ERR_PTR(err);
}

static int lfs_set_origin(struct lfs_fs *ofs, struct dentry *upper,
			  const struct lfs_path *lower)
{
	struct inode *linode = d_inode(lower->dentry);
	struct layerfs_origin o = {
		.magic = cpu_to_le32(LAYERFS_ORIGIN_MAGIC),
		.version = LAYERFS_ORIGIN_VERSION,
		.layer = cpu_to_le32(lower->layer->idx),
		.generation = cpu_to_le32(linode->i_generation),
		.ino = cpu_to_le64(linode->i_ino),
	};

	return vfs_setxattr(lfs_upper_idmap(ofs), upper, LAYERFS_XATTR_ORIGIN,
			    &o, sizeof(o), 0);
}

/* @from's origin record (if any) onto @to, which takes its place. */
int lfs_copy_origin(struct lfs_fs *ofs, struct dentry *from, struct dentry *to)
{
	struct layerfs_origin o;
	ssize_t res;

	res = vfs_getxattr(lfs_upper_idmap(ofs), from, LAYERFS_XATTR_ORIGIN,
			   &o, sizeof(o));
	/* No record, or one lfs_origin_ino() would ignore: nothing to keep. */
	if (res == -ENODATA || res == -ERANGE)
		return 0;
	if (res < 0)
		return res;
	return vfs_setxattr(lfs_upper_idmap(ofs), to, LAYERFS_XATTR_ORIGIN,
			    &o, res, 0);
}

/*
 * The st_ino an upper non-directory inherited from the lower object it was
 * copied from, if it records a valid one.  Bad records are logged and
 * ignored: they only cost the number's stability.
 */
bool lfs_origin_ino(struct super_block *sb, struct dentry *upper, u64 *ino)
{
	struct lfs_fs *ofs = LFS_FS(sb);
	struct layerfs_origin o;
	const struct cred *old_cred;
	ssize_t res;

	old_cred = lfs_override_creds(sb);
	res = vfs_getxattr(lfs_upper_idmap(ofs), upper, LAYERFS_XATTR_ORIGIN,
			   &o, sizeof(o));
	revert_creds(old_cred);
	if (res == -ENODATA || res == -EOPNOTSUPP)
		return false;
	if (res != sizeof(o) || le32_to_cpu(o.magic) != LAYERFS_ORIGIN_MAGIC ||
	    o.version != LAYERFS_ORIGIN_VERSION ||
	    o.reserved[0] || o.reserved[1] || o.reserved[2] ||
	    !le32_to_cpu(o.layer) || le32_to_cpu(o.layer) > ofs->num_layers) {
		pr_warn_ratelimited("layerfs: %pd: bad %s record (%zd bytes), ignored\n",
				    upper, LAYERFS_XATTR_ORIGIN, res);
		return false;
	}
	*ino = lfs_map_ino(ofs, le64_to_cpu(o.ino), le32_to_cpu(o.layer));
	return true;
}

/*
 * The copy of a name removed while its inode stayed open: unlink @tmp from
 * the work directory and return it, to live as long as the inode.  The
 * extra reference makes vfs_unlink() unhash @tmp rather than detach its
 * inode.
 */
static struct dentry *lfs_orphan_temp(struct lfs_fs *ofs, struct dentry *tmp)
{
	struct inode *wdir = d_inode(ofs->workdir);
	struct dentry *upper = ERR_PTR(-EIO);
	int err;

	inode_lock_nested(wdir, I_MUTEX_PARENT);
	if (tmp->d_parent == ofs->workdir && d_is_positive(tmp)) {
		upper = dget(tmp);
		err = vfs_unlink(lfs_upper_idmap(ofs), wdir, tmp, NULL);
		if (err) {
			dput(upper);
			upper = ERR_PTR(err);
		}
	}
	inode_unlock(wdir);
	return upper;
}

/*
 * Copy one object up; its parent has an upper directory already.  With
 * @no_data a regular file is copied as empty (it is being truncated).
 */
static int lfs_copy_up_one(struct dentry *parent, struct dentry *dentry,
			   bool no_data)
{
	struct inode *inode = d_inode(dentry);
	struct lfs_inode *oi = LFS_I(inode);
	struct lfs_fs *ofs = LFS_FS(dentry->d_sb);
	struct dentry *udir = lfs_upper(d_inode(parent));
	struct path lowerpath;
	struct lfs_path lower;
	DEFINE_DELAYED_CALL(done);
	const char *link = NULL;
	struct lfs_cow *cow = NULL;
	struct dentry *tmp, *upper;
	struct kstat stat;
	bool orphan;
	int err;

	if (WARN_ON_ONCE(!udir || !READ_ONCE(oi->numpaths)))
		return -EIO;

	err = mutex_lock_killable(&oi->lock);
	if (err)
		return err;
	if (lfs_upper(inode))
		goto out_unlock;
	/*
	 * A name removed while its inode stayed open (an fd, a cwd) must not
	 * come back: its copy is made unlinked.  lfs_remove() unhashes the
	 * dentry under @oi->lock, so no copy-up passes this test and then
	 * installs the name after the removal.  A removed directory is dead.
	 */
	orphan = !IS_ROOT(dentry) && d_unhashed(dentry);
	err = -ENOENT;
	if (orphan && d_is_dir(dentry))
		goto out_unlock;
	err = 0;

	lower = oi->paths[0];
	lowerpath.mnt = lower.layer->mnt;
	lowerpath.dentry = lower.dentry;
	err = vfs_getattr(&lowerpath, &stat,
			  STATX_BASIC_STATS, AT_STATX_SYNC_AS_STAT);
	if (err)
		goto out_unlock;

	if (no_data)
		stat.size = 0;
	if (S_ISLNK(stat.mode)) {
		link = vfs_get_link(lower.dentry, &done);
		if (IS_ERR(link)) {
			err = PTR_ERR(link);
			goto out_unlock;
		}
	}

	tmp = lfs_create_temp(ofs, stat.mode, stat.rdev, link);
	do_delayed_call(&done);
	if (IS_ERR(tmp)) {
		err = PTR_ERR(tmp);
		goto out_unlock;
	}
	/*
	 * A regular file with data becomes partial: the upper file gets the
	 * size, sparse, and an empty map; no data is copied.
	 */
	if (S_ISREG(stat.mode) && stat.size) {
		err = lfs_set_size(ofs, tmp, stat.size);
		if (!err) {
			cow = lfs_cow_prepare(dentry->d_sb, tmp, &lower, &stat);
			err = PTR_ERR_OR_ZERO(cow);
			if (err)
				cow = NULL;
		}
	}
	if (!err)
		err = lfs_copy_xattrs(ofs, &lower, tmp);
	if (!err)
		err = lfs_copy_fileattr(ofs, &lower, tmp);
	if (!err)
		err = lfs_set_origin(ofs, tmp, &lower);
	if (!err)
		err = lfs_set_attrs(ofs, tmp, &stat);
	if (!err) {
		upper = orphan ? lfs_orphan_temp(ofs, tmp) :
			lfs_install_temp(ofs, tmp, udir, &dentry->d_name);
		err = PTR_ERR_OR_ZERO(upper);
	}
	if (err) {
		lfs_cleanup_temp(ofs, tmp);
		dput(tmp);
		lfs_cow_discard(cow);
		goto out_unlock;
	}
	dput(tmp);
	if (cow)
		lfs_cow_start(inode, cow);
	lfs_set_upper(inode, upper);
	if (!S_ISDIR(stat.mode))
		lfs_inode_rehash(inode, upper);
	/* No name leads to it: the last iput evicts it (and the copy). */
	if (orphan)
		clear_nlink(inode);

out_unlock:
	mutex_unlock(&oi->lock);
	return err;
}

/*
 * Make sure @dentry has an upper object, copying up its ancestors first.
 * Caller has mounter credentials and upper write access.
 */
int lfs_copy_up_flags(struct dentry *dentry, bool no_data)
{
	int err = 0;

	while (!err && !lfs_upper(d_inode(dentry))) {
		struct dentry *next = dget(dentry);
		struct dentry *parent;

		/* Find the topmost ancestor that is still lower-only. */
		for (;;) {
			parent = dget_parent(next);
			if (lfs_upper(d_inode(parent)) || parent == next)
				break;
			dput(next);
			next = parent;
		}
		/* The root of a writable mount always has its upper. */
		if (WARN_ON_ONCE(parent == next)) {
			dput(parent);
			dput(next);
			return -EIO;
		}
		err = lfs_copy_up_one(parent, next, no_data && next == dentry);
		dput(parent);
		dput(next);
	}
	return err;
}

int lfs_copy_up(struct dentry *dentry)
{
	return lfs_copy_up_flags(dentry, false);
}

/* A directory still to walk in lfs_copy_up_tree(). */
struct lfs_walk {
	struct list_head list;
	struct dentry *dentry;
};

static int lfs_walk_push(struct list_head *todo, struct dentry *dentry)
{
	struct lfs_walk *w = kmalloc(sizeof(*w), GFP_KERNEL);

	if (!w)
		return -ENOMEM;
	w->dentry = dget(dentry);
	list_add(&w->list, todo);
	return 0;
}

/*
 * Copy up every entry of directory @dir; push its subdirectories.  @locked:
 * the caller (vfs_rename()) holds @dir's i_rwsem already.
 *
 * This runs inside ->rename(), which holds the locks of other layerfs
 * inodes (the victim, a non-directory exchanged) and upper write access:
 * waiting here for the lock of a directory of the tree could close a
 * cycle with a task that holds it and waits for one of those (link(2) of
 * the exchanged file into it, a rename out of it into the victim, a freeze
 * of the upper filesystem).  A directory busy elsewhere at that moment
 * makes the rename fail with EXDEV instead, which mv(1) and other callers
 * answer by copying, as they do on overlayfs.
 */
static int lfs_copy_up_children(struct dentry *dir, struct list_head *todo,
				bool locked)
{
	struct inode *inode = d_inode(dir);
	char **names;
	unsigned int i, n;
	int err;

	if (!locked && !inode_trylock_shared(inode))
		return -EXDEV;
	names = lfs_dir_names(inode, &n);
	if (IS_ERR(names)) {
		err = PTR_ERR(names);
		goto out_unlock;
	}

	for (i = 0, err = 0; i < n; i++) {
		struct dentry *child;

		if (err || fatal_signal_pending(current)) {
			err = err ?: -EINTR;
			continue;
		}
		child = lookup_one_len(names[i], dir, strlen(names[i]));
		if (IS_ERR(child)) {
			err = PTR_ERR(child);
			continue;
		}
		if (d_is_positive(child)) {
			err = lfs_copy_up(child);
			if (!err && d_is_dir(child) &&
			    READ_ONCE(LFS_I(d_inode(child))->numpaths))
				err = lfs_walk_push(todo, child);
		}
		dput(child);
	}
	for (i = 0; i < n; i++)
		kfree(names[i]);
	kvfree(names);
out_unlock:
	if (!locked)
		inode_unlock_shared(inode);
	return err;
}

/*
 * Copy up the whole merged tree under directory @dentry, so that it can
 * move in the upper layer without leaving lower content behind.  Regular
 * files become partial with empty maps: no file data is copied.  Caller has
 * mounter credentials and upper write access, and holds @dentry's i_rwsem
 * if @locked.  The directories walked that merged lower content go onto
 * @dirs, held, whatever the result: the caller gives them to lfs_put_tree()
 * once the move is done or not.
 */
int lfs_copy_up_tree(struct dentry *dentry, bool locked,
		     struct list_head *dirs)
{
	LIST_HEAD(todo);
	struct lfs_walk *w;
	int err;

	err = lfs_copy_up(dentry);
	if (!err)
		err = lfs_walk_push(&todo, dentry);
	while (!list_empty(&todo)) {
		w = list_first_entry(&todo, struct lfs_walk, list);
		if (!err)
			err = lfs_copy_up_children(w->dentry, &todo,
						   locked && w->dentry == dentry);
		list_move(&w->list, dirs);
	}
	return err;
}

/*
 * Release the directories lfs_copy_up_tree() put on @dirs.  @moved: their
 * tree now sits under an opaque upper directory, so that a lookup from the
 * root would find nothing below any of them; their cached stacks still
 * point where the tree was, which made a removal there write a needless
 * whiteout (or refuse a name too long for one) and a second move walk the
 * tree again.  Readers that took the old count still read valid entries.
 * Their listings stay: only the holder of a directory's i_rwsem, exclusive,
 * may drop one (readers use it under the shared lock, without a reference),
 * and they are still right, since every name in them is in the upper layer
 * now and lookup asks the upper layer first, never past the new count.
 */
void lfs_put_tree(struct list_head *dirs, bool moved)
{
	struct lfs_walk *w, *next;

	list_for_each_entry_safe(w, next, dirs, list) {
		if (moved)
			WRITE_ONCE(LFS_I(d_inode(w->dentry))->numpaths, 0);
		dput(w->dentry);
		kfree(w);
	}
}
