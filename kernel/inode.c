// SPDX-License-Identifier: GPL-2.0
/*
 * layerfs: inodes, inode numbers, getattr and permission.
 *
 * Inode numbers: st_ino is the real inode number of the topmost real object
 * with the layer's index in the high bits, so it is unique within the mount
 * (two layers never share an index) and the same on every mount of the same
 * stack.  Non-directories are hashed by (real inode, layer) so that hard
 * links within a layer are one layerfs inode, as they are one file.
 *
 * File attributes (chattr): lfs_fileattr_set() runs under the layerfs
 * inode's i_rwsem (the VFS takes it); copy-up (upper.c), then the upper
 * inode's i_rwsem (vfs_fileattr_set()) nest inside it.
 */

#include <linux/fs.h>
#include <linux/fileattr.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/posix_acl.h>
#include <linux/ratelimit.h>
#include <linux/security.h>
#include <linux/slab.h>
#include <linux/xattr.h>
#include "layerfs.h"

static struct kmem_cache *lfs_inode_cachep;

struct inode *lfs_alloc_inode(struct super_block *sb)
{
	struct lfs_inode *oi = alloc_inode_sb(sb, lfs_inode_cachep, GFP_KERNEL);

	if (!oi)
		return NULL;
	oi->numpaths = 0;
	oi->nrefs = 0;
	oi->paths = NULL;
	oi->single.layer = NULL;
	oi->single.dentry = NULL;
	oi->key_real = NULL;
	oi->key_idx = 0;
	oi->dcache = NULL;
	oi->upper = NULL;
	oi->cow = NULL;
	mutex_init(&oi->lock);
	return &oi->vfs_inode;
}

void lfs_destroy_inode(struct inode *inode)
{
	struct lfs_inode *oi = LFS_I(inode);
	unsigned int i;

	for (i = 0; i < oi->nrefs; i++)
		dput(oi->paths[i].dentry);
	lfs_cow_release(inode);
	dput(oi->upper);
	mutex_destroy(&oi->lock);
	/* Lookup and readdir hold the inode: nobody reads the listing now. */
	lfs_cache_put(oi->dcache);
}

/* After an RCU grace period: path walk may have been reading oi->paths. */
void lfs_free_inode(struct inode *inode)
{
	struct lfs_inode *oi = LFS_I(inode);

	if (oi->paths != &oi->single)
		kfree(oi->paths);
	kmem_cache_free(lfs_inode_cachep, oi);
}

static void lfs_inode_init_once(void *foo)
{
	struct lfs_inode *oi = foo;

	inode_init_once(&oi->vfs_inode);
}

int lfs_init_inode_cache(void)
{
	lfs_inode_cachep = kmem_cache_create("layerfs_inode",
					     sizeof(struct lfs_inode), 0,
					     SLAB_RECLAIM_ACCOUNT |
					     SLAB_ACCOUNT,
					     lfs_inode_init_once);
	return lfs_inode_cachep ? 0 : -ENOMEM;
}

void lfs_destroy_inode_cache(void)
{
	/* Inodes are freed by RCU callbacks; wait for them. */
	rcu_barrier();
	kmem_cache_destroy(lfs_inode_cachep);
}

u64 lfs_map_ino(struct lfs_fs *ofs, u64 real_ino, unsigned int idx)
{
	if (likely(!(real_ino >> ofs->ino_shift)))
		return real_ino | ((u64)idx << ofs->ino_shift);

	pr_warn_ratelimited("layerfs: inode %llu of layer %u too wide: st_ino not persistent\n",
			    real_ino, idx);
	return ofs->ino_overflow_tag |
	       (atomic64_inc_return(&ofs->ino_overflow_next) &
		~ofs->ino_overflow_tag);
}

/*
 * The real inode behind @inode, or NULL while @inode is being torn down
 * under an RCU path walk.
 */
struct inode *lfs_real_inode_rcu(struct inode *inode)
{
	struct lfs_inode *oi = LFS_I(inode);
	struct dentry *dentry = lfs_upper(inode);
	struct lfs_path *paths;

	if (!dentry) {
		paths = READ_ONCE(oi->paths);
		if (!paths)
			return NULL;
		dentry = READ_ONCE(paths[0].dentry);
	}
	return dentry ? d_inode_rcu(dentry) : NULL;
}

int lfs_permission(struct mnt_idmap *idmap, struct inode *inode, int mask)
{
	struct inode *realinode = lfs_real_inode_rcu(inode);
	struct dentry *upper = lfs_upper(inode);
	const struct cred *old_cred;
	int err;

	if (!realinode)
		return -ECHILD;

	/* The caller against the merged inode ... */
	err = generic_permission(&nop_mnt_idmap, inode, mask);
	if (err)
		return err;

	/*
	 * ... and the mounter against the real one.  A lower object is
	 * written through a copy in the upper layer, so the mounter only
	 * needs to be able to read it.
	 */
	if (!upper && (mask & MAY_WRITE) && !special_file(inode->i_mode)) {
		mask &= ~(MAY_WRITE | MAY_APPEND);
		mask |= MAY_READ;
	}
	old_cred = lfs_override_creds(inode->i_sb);
	if (upper && d_inode_rcu(upper) == realinode)
		err = inode_permission(mnt_idmap(LFS_FS(inode->i_sb)->upper_mnt),
				       realinode, mask);
	else
		err = inode_permission(lfs_layer_idmap(LFS_I(inode)->paths[0].layer),
				       realinode, mask);
	revert_creds(old_cred);
	return err;
}

int lfs_getattr(struct mnt_idmap *idmap, const struct path *path,
		struct kstat *stat, u32 request_mask, unsigned int flags)
{
	struct inode *inode = d_inode(path->dentry);
	struct lfs_inode *oi = LFS_I(inode);
	const struct cred *old_cred;
	struct path realpath;
	int err;

	lfs_path_real(inode, &realpath);
	old_cred = lfs_override_creds(inode->i_sb);
	/* The caller already passed the LSM check when it asks for NOSEC. */
	if (flags & AT_GETATTR_NOSEC)
		err = vfs_getattr_nosec(&realpath, stat, request_mask, flags);
	else
		err = vfs_getattr(&realpath, stat, request_mask, flags);
	revert_creds(old_cred);
	if (err)
		return err;

	stat->dev = inode->i_sb->s_dev;
	stat->ino = inode->i_ino;
	if (lfs_is_partial(inode))
		stat->size = i_size_read(inode);
	/*
	 * Counting subdirectories across layers would need a merged readdir
	 * on every stat; 1 tells find(1) and friends not to rely on the
	 * count, as overlayfs and btrfs report.
	 */
	if (S_ISDIR(inode->i_mode) &&
	    READ_ONCE(oi->numpaths) + !!lfs_upper(inode) > 1)
		stat->nlink = 1;
	return 0;
}

static int lfs_upper_setattr(struct inode *inode, struct iattr *attr)
{
	struct dentry *upper = lfs_upper(inode);
	int err;

	inode_lock(d_inode(upper));
	err = notify_change(mnt_idmap(LFS_FS(inode->i_sb)->upper_mnt), upper,
			    attr, NULL);
	inode_unlock(d_inode(upper));
	return err;
}

int lfs_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
		struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	const struct cred *old_cred;
	loff_t size = attr->ia_size, usize;
	bool resize, follow = false;
	int err;

	err = setattr_prepare(&nop_mnt_idmap, dentry, attr);
	if (err)
		return err;
	/*
	 * Times given explicitly (cp -p, tar, rsync) must not become "now"
	 * when writeback stores a partial file's dirty pages in the upper
	 * file later: store them first, without write access to the upper
	 * mount (see lfs_cow_setsize()).
	 */
	if ((attr->ia_valid & (ATTR_MTIME_SET | ATTR_ATIME_SET)) &&
	    lfs_is_partial(inode)) {
		err = filemap_write_and_wait(inode->i_mapping);
		if (err)
			return err;
	}
	err = lfs_want_write(dentry);
	if (err)
		return err;

	/* The real filesystem decides on open files and privileges itself. */
	attr->ia_valid &= ~(ATTR_FILE | ATTR_OPEN);
	if (attr->ia_valid & (ATTR_KILL_SUID | ATTR_KILL_SGID))
		attr->ia_valid &= ~ATTR_MODE;

	old_cred = lfs_override_creds(inode->i_sb);
	/* Truncating to nothing needs none of the old data. */
	err = lfs_copy_up_flags(dentry, S_ISREG(inode->i_mode) &&
				(attr->ia_valid & ATTR_SIZE) && !size);
	if (err)
		goto out;
	/*
	 * A partial file's page cache and map change only once the upper
	 * file has its new size: if the upper filesystem refuses it (EIO, a
	 * security module, ext4 and an immutable file) the file reads as
	 * before.
	 */
	resize = (attr->ia_valid & ATTR_SIZE) && lfs_is_partial(inode);
	if (resize)
		err = lfs_cow_may_setsize(inode, size);
	if (err)
		goto out;
	usize = i_size_read(d_inode(lfs_upper(inode)));
	err = lfs_upper_setattr(inode, attr);
	/*
	 * ext4 can fail after the upper file took the size (the ACL of the
	 * mode change that drops S_ISUID): follow it, and report the error.
	 */
	follow = resize && (!err || (usize != size &&
			    i_size_read(d_inode(lfs_upper(inode))) == size));
	lfs_copyattr(inode);
out:
	revert_creds(old_cred);
	lfs_drop_write(dentry);
	/* Without write access to the upper mount: see lfs_cow_setsize(). */
	if (follow) {
		int err2 = lfs_cow_setsize(inode, size);

		err = err ?: err2;
	}
	return err;
}

static const char *lfs_get_link(struct dentry *dentry, struct inode *inode,
				struct delayed_call *done)
{
	const struct cred *old_cred;
	const char *link;

	if (!dentry)
		return ERR_PTR(-ECHILD);

	old_cred = lfs_override_creds(inode->i_sb);
	link = vfs_get_link(lfs_upper(inode) ?: LFS_I(inode)->paths[0].dentry,
			    done);
	revert_creds(old_cred);
	return link;
}

/* --- file attributes (chattr, lsattr) ------------------------------------ */

/*
 * Ask the security module about the FS_IOC_* call on the real object, with
 * the mounter's credentials, as the ioctl on it would.
 */
static int lfs_real_fileattr_perm(const struct path *realpath,
				  const struct fileattr *fa, bool set)
{
	struct file *file;
	unsigned int cmd;
	int err;

	if (set)
		cmd = fa->fsx_valid ? FS_IOC_FSSETXATTR : FS_IOC_SETFLAGS;
	else
		cmd = fa->fsx_valid ? FS_IOC_FSGETXATTR : FS_IOC_GETFLAGS;
	file = dentry_open(realpath, O_RDONLY, current_cred());
	if (IS_ERR(file))
		return PTR_ERR(file);
	err = security_file_ioctl(file, cmd, 0);
	fput(file);
	return err;
}

static int lfs_real_fileattr_get(const struct path *realpath,
				 struct fileattr *fa)
{
	int err;

	err = lfs_real_fileattr_perm(realpath, fa, false);
	if (!err)
		err = vfs_fileattr_get(realpath->dentry, fa);
	return err == -ENOIOCTLCMD ? -ENOTTY : err;
}

/*
 * As lfs_real_fileattr_get(), but a lower filesystem that keeps no flags
 * (erofs, squashfs, NFS, a FUSE filesystem without the ioctl) reports none,
 * which is the truth there: chattr of such a file goes to its upper copy.
 */
static int lfs_lower_fileattr_get(struct lfs_fs *ofs,
				  const struct path *realpath,
				  struct fileattr *fa)
{
	int err = lfs_real_fileattr_get(realpath, fa);

	if (err == -ENOTTY && realpath->mnt != ofs->upper_mnt) {
		fileattr_fill_flags(fa, 0);
		err = 0;
	}
	return err;
}

static int lfs_real_fileattr_set(const struct path *realpath,
				 struct fileattr *fa)
{
	int err;

	err = lfs_real_fileattr_perm(realpath, fa, true);
	if (!err)
		err = vfs_fileattr_set(mnt_idmap(realpath->mnt),
				       realpath->dentry, fa);
	return err == -ENOIOCTLCMD ? -ENOTTY : err;
}

/* Record @iflags' S_APPEND and S_IMMUTABLE on @upper (none: no record). */
static int lfs_store_protattr(struct lfs_fs *ofs, struct dentry *upper,
			      unsigned int iflags)
{
	struct mnt_idmap *idmap = mnt_idmap(ofs->upper_mnt);
	char buf[2];
	int len = 0, err;

	if (iflags & S_APPEND)
		buf[len++] = 'a';
	if (iflags & S_IMMUTABLE)
		buf[len++] = 'i';
	if (len)
		return vfs_setxattr(idmap, upper, LAYERFS_XATTR_PROTATTR, buf,
				    len, 0);
	err = vfs_removexattr(idmap, upper, LAYERFS_XATTR_PROTATTR);
	return err == -ENODATA ? 0 : err;
}

/*
 * Add the flags recorded on @upper to @inode's.  A bad record is logged
 * and ignored.
 */
void lfs_load_protattr(struct inode *inode, struct dentry *upper)
{
	struct lfs_fs *ofs = LFS_FS(inode->i_sb);
	const struct cred *old_cred;
	unsigned int iflags = 0;
	char buf[8];
	ssize_t res, i;

	old_cred = lfs_override_creds(inode->i_sb);
	res = vfs_getxattr(mnt_idmap(ofs->upper_mnt), upper,
			   LAYERFS_XATTR_PROTATTR, buf, sizeof(buf));
	revert_creds(old_cred);
	if (res == -ENODATA || res == -EOPNOTSUPP)
		return;
	for (i = 0; i < res; i++) {
		if (buf[i] == 'a')
			iflags |= S_APPEND;
		else if (buf[i] == 'i')
			iflags |= S_IMMUTABLE;
		else
			break;
	}
	if (res < 0 || i < res) {
		pr_warn_ratelimited("layerfs: %pd: bad %s record (%zd), ignored\n",
				    upper, LAYERFS_XATTR_PROTATTR, res);
		return;
	}
	inode->i_flags |= iflags;
}

/*
 * Copy-up of a file or directory whose real inode has flags: the
 * append-only and immutable flags go into the record, synchronous and
 * no-atime onto the upper inode, as overlayfs does.  Caller has the
 * mounter's credentials.
 */
int lfs_copy_fileattr(struct lfs_fs *ofs, const struct lfs_path *lower,
		      struct dentry *upper)
{
	unsigned int iflags = d_inode(lower->dentry)->i_flags;
	struct path lpath = {
		.mnt = lower->layer->mnt,
		.dentry = lower->dentry,
	};
	struct path upath = { .mnt = ofs->upper_mnt, .dentry = upper };
	struct fileattr lfa = { .flags_valid = true };
	struct fileattr ufa = { .flags_valid = true };
	int err;

	/* As in overlayfs: opening a FIFO or a device here could block. */
	if (!d_is_reg(lower->dentry) && !d_is_dir(lower->dentry))
		return 0;
	if (!(iflags & (LFS_COPY_I_FLAGS | S_NOATIME)))
		return 0;
	if (iflags & LFS_PROT_I_FLAGS) {
		err = lfs_store_protattr(ofs, upper, iflags);
		if (err)
			return err;
	}
	if (!(iflags & (S_SYNC | S_NOATIME)))
		return 0;
	err = lfs_real_fileattr_get(&lpath, &lfa);
	if (err || !(lfa.flags & LFS_COPY_FS_FLAGS))
		goto out;
	err = lfs_real_fileattr_get(&upath, &ufa);
	if (err)
		goto out;
	ufa.flags &= ~LFS_COPY_FS_FLAGS;
	ufa.flags |= lfa.flags & LFS_COPY_FS_FLAGS;
	ufa.fsx_xflags &= ~LFS_COPY_FSX_FLAGS;
	ufa.fsx_xflags |= lfa.fsx_xflags & LFS_COPY_FSX_FLAGS;
	err = lfs_real_fileattr_set(&upath, &ufa);
out:
	/* A filesystem without them: S_SYNC is still the layerfs inode's. */
	return err == -ENOTTY || err == -EOPNOTSUPP ? 0 : err;
}

int lfs_fileattr_get(struct dentry *dentry, struct fileattr *fa)
{
	struct inode *inode = d_inode(dentry);
	const struct cred *old_cred;
	struct path realpath;
	int err;

	lfs_path_real(inode, &realpath);
	old_cred = lfs_override_creds(inode->i_sb);
	err = lfs_lower_fileattr_get(LFS_FS(inode->i_sb), &realpath, fa);
	revert_creds(old_cred);
	if (inode->i_flags & S_APPEND) {
		fa->flags |= FS_APPEND_FL;
		fa->fsx_xflags |= FS_XFLAG_APPEND;
	}
	if (inode->i_flags & S_IMMUTABLE) {
		fa->flags |= FS_IMMUTABLE_FL;
		fa->fsx_xflags |= FS_XFLAG_IMMUTABLE;
	}
	return err;
}

/*
 * @fa was made from the attributes of the lower object (@seen), the upper
 * one has @cur, maybe on another filesystem: the caller's changes to the
 * filesystem-specific flags and fields apply to the upper object's own
 * (ext4's extent flag is no flag a tmpfs upper takes).
 */
static void lfs_fileattr_rebase(struct fileattr *fa,
				const struct fileattr *seen,
				const struct fileattr *cur)
{
	fa->flags = (fa->flags & FS_COMMON_FL) |
		    ((cur->flags ^ fa->flags ^ seen->flags) & ~FS_COMMON_FL);
	fa->fsx_xflags = (fa->fsx_xflags & FS_XFLAG_COMMON) |
			 ((cur->fsx_xflags ^ fa->fsx_xflags ^ seen->fsx_xflags) &
			  ~FS_XFLAG_COMMON);
	if (fa->fsx_extsize == seen->fsx_extsize)
		fa->fsx_extsize = cur->fsx_extsize;
	if (fa->fsx_projid == seen->fsx_projid)
		fa->fsx_projid = cur->fsx_projid;
	if (fa->fsx_cowextsize == seen->fsx_cowextsize)
		fa->fsx_cowextsize = cur->fsx_cowextsize;
}

/*
 * chattr: on the upper object, but append-only and immutable in its record
 * (see lfs_copy_fileattr()).  The VFS checked ownership and
 * CAP_LINUX_IMMUTABLE against the caller, and holds @dentry's inode lock.
 */
int lfs_fileattr_set(struct mnt_idmap *idmap, struct dentry *dentry,
		     struct fileattr *fa)
{
	struct inode *inode = d_inode(dentry);
	struct lfs_fs *ofs = LFS_FS(inode->i_sb);
	unsigned int prot = 0;
	struct fileattr seen = { .flags_valid = true };
	struct fileattr cur = { .flags_valid = true };
	bool lower_only = !lfs_upper(inode);
	const struct cred *old_cred;
	struct path upath;
	int err;

	if (fa->flags & FS_APPEND_FL)
		prot |= S_APPEND;
	if (fa->flags & FS_IMMUTABLE_FL)
		prot |= S_IMMUTABLE;
	fa->flags &= ~LFS_PROT_FS_FLAGS;
	fa->fsx_xflags &= ~LFS_PROT_FSX_FLAGS;

	err = lfs_want_write(dentry);
	if (err)
		return err;
	old_cred = lfs_override_creds(inode->i_sb);
	/* What lfs_fileattr_get() gave the VFS, less the protection flags. */
	if (lower_only) {
		lfs_path_real(inode, &upath);
		err = lfs_lower_fileattr_get(ofs, &upath, &seen);
		if (err)
			goto out;
	}
	err = lfs_copy_up(dentry);
	if (err)
		goto out;
	upath.mnt = ofs->upper_mnt;
	upath.dentry = lfs_upper(inode);
	err = lfs_real_fileattr_get(&upath, &cur);
	if (err)
		goto out;
	if (lower_only)
		lfs_fileattr_rebase(fa, &seen, &cur);
	err = lfs_real_fileattr_set(&upath, fa);
	if (err)
		goto out;
	/*
	 * Only now: an append-only or immutable flag of the upper inode's own
	 * (set outside layerfs) refused the record until it was cleared.
	 * Always written, as the flags may have been that inode's so far.
	 */
	err = lfs_store_protattr(ofs, upath.dentry, prot);
	if (err) {
		lfs_real_fileattr_set(&upath, &cur);
		goto out;
	}
	inode_set_flags(inode, (d_inode(upath.dentry)->i_flags &
				LFS_COPY_I_FLAGS & ~LFS_PROT_I_FLAGS) | prot,
			LFS_COPY_I_FLAGS);
	lfs_copyattr(inode);
out:
	revert_creds(old_cred);
	lfs_drop_write(dentry);
	return err;
}

static const struct inode_operations lfs_file_inode_operations = {
	.setattr	= lfs_setattr,
	.set_acl	= lfs_set_acl,
	.permission	= lfs_permission,
	.getattr	= lfs_getattr,
	.listxattr	= lfs_listxattr,
	.get_inode_acl	= lfs_get_inode_acl,
	.get_acl	= lfs_get_acl,
	.fileattr_get	= lfs_fileattr_get,
	.fileattr_set	= lfs_fileattr_set,
};

static const struct inode_operations lfs_symlink_inode_operations = {
	.get_link	= lfs_get_link,
	.setattr	= lfs_setattr,
	.permission	= lfs_permission,
	.getattr	= lfs_getattr,
	.listxattr	= lfs_listxattr,
};

static const struct inode_operations lfs_special_inode_operations = {
	.setattr	= lfs_setattr,
	.set_acl	= lfs_set_acl,
	.permission	= lfs_permission,
	.getattr	= lfs_getattr,
	.listxattr	= lfs_listxattr,
	.get_inode_acl	= lfs_get_inode_acl,
	.get_acl	= lfs_get_acl,
};

/* Attributes the VFS checks on the layerfs inode, from the top real one. */
void lfs_copyattr(struct inode *inode)
{
	struct lfs_path lp;
	struct inode *realinode;

	lfs_real_lp(inode, &lp);
	realinode = d_inode(lp.dentry);
	inode->i_mode = realinode->i_mode;
	inode->i_uid = realinode->i_uid;
	inode->i_gid = realinode->i_gid;
	inode_set_atime_to_ts(inode, inode_get_atime(realinode));
	inode_set_mtime_to_ts(inode, inode_get_mtime(realinode));
	inode_set_ctime_to_ts(inode, inode_get_ctime(realinode));
	/* A partial file's size is its page cache's, ahead of the upper's. */
	if (!lfs_is_partial(inode)) {
		i_size_write(inode, i_size_read(realinode));
		inode->i_blocks = realinode->i_blocks;
	}
	if (!S_ISDIR(inode->i_mode) ||
	    READ_ONCE(LFS_I(inode)->numpaths) + !!lfs_upper(inode) <= 1)
		set_nlink(inode, realinode->i_nlink);
}

/*
 * @realinode is the topmost real object; st_ino comes from the topmost lower
 * one if any (@idx its layer), so it does not change when the object is
 * copied up.
 */
static void lfs_fill_inode(struct inode *inode, struct inode *realinode,
			   struct inode *inoinode, unsigned int idx,
			   unsigned int nlayers)
{
	struct lfs_fs *ofs = LFS_FS(inode->i_sb);
	umode_t mode = realinode->i_mode;

	inode->i_ino = lfs_map_ino(ofs, inoinode->i_ino, idx);
	inode->i_mode = mode;
	inode->i_uid = realinode->i_uid;
	inode->i_gid = realinode->i_gid;
	inode->i_flags |= S_NOATIME | S_NOCMTIME;
	inode->i_flags |= realinode->i_flags & LFS_COPY_I_FLAGS;
	inode->i_generation = inoinode->i_generation;
	inode_set_atime_to_ts(inode, inode_get_atime(realinode));
	inode_set_mtime_to_ts(inode, inode_get_mtime(realinode));
	inode_set_ctime_to_ts(inode, inode_get_ctime(realinode));
	i_size_write(inode, i_size_read(realinode));
	inode->i_blocks = realinode->i_blocks;
	inode->i_blkbits = realinode->i_blkbits;
	if (S_ISDIR(mode) && nlayers > 1)
		set_nlink(inode, 1);
	else
		set_nlink(inode, realinode->i_nlink);

	switch (mode & S_IFMT) {
	case S_IFREG:
		inode->i_op = &lfs_file_inode_operations;
		inode->i_fop = &lfs_file_operations;
		inode->i_mapping->a_ops = &lfs_aops;
		break;
	case S_IFDIR:
		inode->i_op = &lfs_dir_inode_operations;
		inode->i_fop = &lfs_dir_operations;
		break;
	case S_IFLNK:
		inode->i_op = &lfs_symlink_inode_operations;
		break;
	default:
		inode->i_op = &lfs_special_inode_operations;
		init_special_inode(inode, mode, realinode->i_rdev);
		break;
	}
}

struct lfs_ikey {
	struct inode *real;
	unsigned int idx;
};

static int lfs_inode_test(struct inode *inode, void *data)
{
	struct lfs_ikey *key = data;
	struct lfs_inode *oi = LFS_I(inode);

	return oi->key_real == key->real && oi->key_idx == key->idx;
}

static int lfs_inode_set(struct inode *inode, void *data)
{
	struct lfs_ikey *key = data;
	struct lfs_inode *oi = LFS_I(inode);

	oi->key_real = key->real;
	oi->key_idx = key->idx;
	return 0;
}

/*
 * A lower non-directory just got its upper file: find it by that from now
 * on.  A lookup of the name finds the upper file first, so the lower key
 * would give a second inode (and page cache) for the same file once the
 * dentry is gone; an unhashed inode (see lfs_iget) would never be written
 * back.  The upper file is new, so no other inode has its key.
 */
void lfs_inode_rehash(struct inode *inode, struct dentry *upper)
{
	struct lfs_ikey key = { .real = d_inode(upper), .idx = 0 };

	remove_inode_hash(inode);
	lfs_inode_set(inode, &key);
	__insert_inode_hash(inode, (unsigned long)key.real ^ key.idx);
}

static void lfs_put_stack(struct lfs_path *stack, unsigned int num)
{
	unsigned int i;

	for (i = 0; i < num; i++)
		dput(stack[i].dentry);
	kfree(stack);
}

/*
 * Get the layerfs inode for an upper object (@upper, may be NULL) over a
 * stack of lower ones (top first, may be empty).  Takes ownership of
 * @upper, @stack and the dentry references in it, whatever happens.
 */
struct inode *lfs_iget(struct super_block *sb, struct dentry *upper,
		       struct lfs_path *stack, unsigned int num)
{
	struct inode *realinode = upper ? d_inode(upper) :
					  d_inode(stack[0].dentry);
	struct inode *inoinode = num ? d_inode(stack[0].dentry) : realinode;
	struct lfs_ikey key = {
		.real = inoinode,
		.idx = num ? stack[0].layer->idx : 0,
	};
	struct lfs_inode *oi;
	struct inode *inode;
	bool unhashed;
	u64 ino;

	if (S_ISDIR(realinode->i_mode)) {
		/*
		 * A directory's merged content depends on the path that led
		 * to it, not only on its top real directory: never share.
		 */
		inode = new_inode(sb);
		if (!inode)
			goto out_put;
		oi = LFS_I(inode);
		oi->numpaths = num;
		oi->nrefs = num;
		if (num)
			WRITE_ONCE(oi->paths, stack);
		else
			kfree(stack);
		oi->upper = upper;
		lfs_fill_inode(inode, realinode, inoinode, key.idx,
			       num + !!upper);
		/* A directory moved away from its lower content keeps its number. */
		if (upper && !num && lfs_origin_ino(sb, upper, &ino))
			inode->i_ino = ino;
		if (upper)
			lfs_load_protattr(inode, upper);
		return inode;
	}

	if (WARN_ON_ONCE(num > 1)) {
		dput(upper);
		lfs_put_stack(stack, num);
		return ERR_PTR(-EIO);
	}

	/*
	 * On a writable mount each name of a multiply-linked lower file is
	 * its own inode: a change copies up that name alone (and
	 * lfs_inode_rehash() then hashes it by its upper file), as overlayfs
	 * without index=on does.  The links are mostly the store's
	 * deduplication, not links the image had.
	 */
	unhashed = !upper && LFS_FS(sb)->upper_mnt && realinode->i_nlink > 1;
	if (unhashed) {
		inode = new_inode(sb);
		if (inode)
			lfs_inode_set(inode, &key);
	} else {
		inode = iget5_locked(sb, (unsigned long)key.real ^ key.idx,
				     lfs_inode_test, lfs_inode_set, &key);
	}
	if (!inode)
		goto out_put;
	if (!unhashed && !(inode->i_state & I_NEW)) {
		/* Another hard link of the same file: already set up. */
		dput(upper);
		lfs_put_stack(stack, num);
		return inode;
	}

	oi = LFS_I(inode);
	if (num) {
		oi->single = stack[0];
		oi->numpaths = 1;
		oi->nrefs = 1;
		WRITE_ONCE(oi->paths, &oi->single);
	}
	kfree(stack);
	oi->upper = upper;
	lfs_fill_inode(inode, realinode, inoinode, key.idx, 1);
	/* A copied-up object keeps the number it had in its lower layer. */
	if (upper && !num && lfs_origin_ino(sb, upper, &ino))
		inode->i_ino = ino;
	if (upper && S_ISREG(realinode->i_mode))
		lfs_load_protattr(inode, upper);
	if (upper && !num && S_ISREG(realinode->i_mode)) {
		int err = lfs_cow_load(inode, upper);

		if (err) {
			iget_failed(inode);
			return ERR_PTR(err);
		}
	}
	if (!unhashed)
		unlock_new_inode(inode);
	return inode;

out_put:
	dput(upper);
	lfs_put_stack(stack, num);
	return ERR_PTR(-ENOMEM);
}
