// SPDX-License-Identifier: GPL-2.0
/*
 * layerfs: regular file I/O through backing files.
 *
 * Opening a layerfs file opens the real file as a backing file (its f_path
 * is the real path, its user path the layerfs one).  read, splice and mmap
 * are handed to it, so the page cache that fills is the lower file's own,
 * shared by every mount of the layer and by direct readers of the layer.
 *
 * Locking: llseek copies f_pos to the backing file and back under the
 * layerfs file's f_pos_lock (held by the VFS for FMODE_ATOMIC_POS files)
 * plus the inode lock, as a SEEK_DATA/SEEK_HOLE answer must come from the
 * real filesystem.  Nothing else here takes a lock of its own: the upper
 * backing file of a file copied up after it was opened is installed with
 * cmpxchg(), and the loser of a race puts its own.
 */

#include <linux/backing-file.h>
#include <linux/fadvise.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/splice.h>
#include "layerfs.h"

/* Flags a user may change on an open file (F_SETFL) that matter below. */
#define LFS_SETFL_MASK (O_APPEND | O_NONBLOCK | O_NDELAY | O_DIRECT)

static struct file *lfs_open_realfile(struct file *file,
				      const struct path *realpath)
{
	struct inode *realinode = d_inode(realpath->dentry);
	struct inode *inode = file_inode(file);
	struct mnt_idmap *real_idmap = mnt_idmap(realpath->mnt);
	int flags = file->f_flags | O_NOATIME;
	const struct cred *old_cred;
	struct file *realfile;
	int err;

	old_cred = lfs_override_creds(inode->i_sb);
	err = inode_permission(real_idmap, realinode,
			       MAY_OPEN | ACC_MODE(flags));
	if (err) {
		realfile = ERR_PTR(err);
	} else {
		if (!inode_owner_or_capable(real_idmap, realinode))
			flags &= ~O_NOATIME;
#ifdef HAVE_BACKING_FILE_OPEN_USER_FILE
		realfile = backing_file_open(file, flags, realpath,
					     current_cred());
#else
		realfile = backing_file_open(&file->f_path, flags, realpath,
					     current_cred());
#endif
	}
	revert_creds(old_cred);
	return realfile;
}

/*
 * Opening a lower file for writing gives it an upper file first; with
 * O_TRUNC that copy needs no data.
 */
static int lfs_open_for_write(struct file *file)
{
	struct dentry *dentry = file_dentry(file);
	const struct cred *old_cred;
	int err;

	err = lfs_want_write(dentry);
	if (err)
		return err;
	old_cred = lfs_override_creds(dentry->d_sb);
	err = lfs_copy_up_flags(dentry, file->f_flags & O_TRUNC);
	revert_creds(old_cred);
	lfs_drop_write(dentry);
	return err;
}

static int lfs_open(struct inode *inode, struct file *file)
{
	struct file *realfile;
	struct lfs_file *lf;
	struct path realpath;
	int err;

	if (((file->f_mode & FMODE_WRITE) || (file->f_flags & O_TRUNC)) &&
	    !lfs_upper(inode)) {
		err = lfs_open_for_write(file);
		if (err)
			return err;
	}

	/* The real file was made long ago; these only applied to us. */
	file->f_flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);

	lf = kzalloc(sizeof(*lf), GFP_KERNEL);
	if (!lf)
		return -ENOMEM;
	lfs_path_real(inode, &realpath);
	realfile = lfs_open_realfile(file, &realpath);
	if (IS_ERR(realfile)) {
		kfree(lf);
		return PTR_ERR(realfile);
	}
	lf->real = realfile;
	file->private_data = lf;
	return 0;
}

/* Puts what @lf holds; @lf may be NULL or not hold a file yet. */
void lfs_file_free(struct lfs_file *lf)
{
	if (!lf)
		return;
	if (lf->upper)
		fput(lf->upper);
	if (lf->real)
		fput(lf->real);
	kfree(lf);
}

static int lfs_release(struct inode *inode, struct file *file)
{
	lfs_file_free(file->private_data);
	return 0;
}

/*
 * The backing file that holds @file's content now: the one opened with it,
 * unless that is a lower file and the inode was copied up whole since.
 */
static struct file *lfs_cur_file(struct file *file)
{
	struct lfs_file *lf = file->private_data;
	struct inode *inode = file_inode(file);
	struct lfs_fs *ofs = LFS_FS(inode->i_sb);
	struct file *upperfile, *old;
	struct path upperpath;

	/* Pairs with the cmpxchg() below: the file is set up before seen. */
	upperfile = smp_load_acquire(&lf->upper);
	if (upperfile)
		return upperfile;
	upperpath.mnt = ofs->upper_mnt;
	upperpath.dentry = lfs_upper(inode);
	/*
	 * A partial file's backing file is never read for data (its page
	 * cache is); if the inode turned partial after the caller checked,
	 * the call started before the copy-up and the lower file still has
	 * what the file held then.
	 */
	if (!upperpath.dentry || lf->real->f_path.mnt == upperpath.mnt ||
	    lfs_is_partial(inode))
		return lf->real;

	upperfile = lfs_open_realfile(file, &upperpath);
	if (IS_ERR(upperfile))
		return upperfile;
	old = cmpxchg(&lf->upper, NULL, upperfile);
	if (old) {
		fput(upperfile);
		upperfile = old;
	}
	return upperfile;
}

/*
 * F_SETFL acts on the layerfs file; carry O_DIRECT and friends over to the
 * backing file before it is used, or a read would silently be buffered.
 */
static struct file *lfs_real_file(struct file *file)
{
	struct file *realfile = lfs_cur_file(file);
	unsigned int flags = READ_ONCE(file->f_flags) & LFS_SETFL_MASK;

	if (IS_ERR(realfile))
		return realfile;
	if (unlikely((realfile->f_flags & LFS_SETFL_MASK) != flags)) {
		if ((flags & O_DIRECT) &&
		    !(realfile->f_mode & FMODE_CAN_ODIRECT))
			return ERR_PTR(-EINVAL);
		spin_lock(&realfile->f_lock);
		realfile->f_flags = (realfile->f_flags & ~LFS_SETFL_MASK) |
				    flags;
		realfile->f_iocb_flags = iocb_flags(realfile);
		spin_unlock(&realfile->f_lock);
	}
	return realfile;
}

static void lfs_file_accessed(struct file *file)
{
	/* Read-only layers: atime is neither stored nor needed. */
}

static struct backing_file_ctx lfs_backing_ctx(struct file *file)
{
	return (struct backing_file_ctx) {
		.cred = LFS_FS(file_inode(file)->i_sb)->creator_cred,
		.user_file = file,
		.accessed = lfs_file_accessed,
	};
}

static ssize_t lfs_read_iter(struct kiocb *iocb, struct iov_iter *iter)
{
	struct file *file = iocb->ki_filp;
	struct backing_file_ctx ctx = lfs_backing_ctx(file);
	struct file *realfile;

	if (!iov_iter_count(iter))
		return 0;
	/* Checked on every call: an earlier read-only open sees CoW data. */
	if (lfs_is_partial(file_inode(file)))
		return lfs_cow_broken(file_inode(file)) ? -EIO :
		       lfs_cow_read_direct(iocb, iter);
	realfile = lfs_real_file(file);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);
	return backing_file_read_iter(realfile, iter, iocb, iocb->ki_flags,
				      &ctx);
}

static ssize_t lfs_splice_read(struct file *in, loff_t *ppos,
			       struct pipe_inode_info *pipe, size_t len,
			       unsigned int flags)
{
	struct backing_file_ctx ctx = lfs_backing_ctx(in);
	struct file *realfile;

	if (lfs_is_partial(file_inode(in)))
		return lfs_cow_broken(file_inode(in)) ? -EIO :
		       filemap_splice_read(in, ppos, pipe, len, flags);
	realfile = lfs_real_file(in);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);
	return backing_file_splice_read(realfile, ppos, pipe, len, flags,
					&ctx);
}

static ssize_t lfs_write_iter(struct kiocb *iocb, struct iov_iter *iter)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	struct backing_file_ctx ctx = lfs_backing_ctx(file);
	struct file *realfile;
	ssize_t ret;

	if (!iov_iter_count(iter))
		return 0;
	/* The state is settled: lfs_open() copied up for writing. */
	if (lfs_is_partial(inode))
		return lfs_cow_broken(inode) ? -EIO :
		       lfs_cow_write_iter(iocb, iter);
	inode_lock(inode);
	realfile = lfs_real_file(file);
	if (IS_ERR(realfile)) {
		ret = PTR_ERR(realfile);
	} else {
		/* Writes only reach files with an upper copy (lfs_open()). */
		ret = backing_file_write_iter(realfile, iter, iocb,
					      iocb->ki_flags, &ctx);
		lfs_copyattr(inode);
	}
	inode_unlock(inode);
	return ret;
}

static ssize_t lfs_splice_write(struct pipe_inode_info *pipe,
				struct file *out, loff_t *ppos, size_t len,
				unsigned int flags)
{
	struct inode *inode = file_inode(out);
	struct backing_file_ctx ctx = lfs_backing_ctx(out);
	struct file *realfile;
	ssize_t ret;

	if (lfs_is_partial(inode))
		return lfs_cow_broken(inode) ? -EIO :
		       iter_file_splice_write(pipe, out, ppos, len, flags);
	inode_lock(inode);
	realfile = lfs_real_file(out);
	if (IS_ERR(realfile)) {
		ret = PTR_ERR(realfile);
	} else {
		ret = backing_file_splice_write(pipe, realfile, ppos, len,
						flags, &ctx);
		lfs_copyattr(inode);
	}
	inode_unlock(inode);
	return ret;
}

static long lfs_fallocate(struct file *file, int mode, loff_t offset,
			  loff_t len)
{
	struct inode *inode = file_inode(file);
	const struct cred *old_cred;
	struct file *realfile;
	long ret;

	if (lfs_is_partial(inode))
		return lfs_cow_broken(inode) ? -EIO :
		       lfs_cow_fallocate(file, mode, offset, len);
	realfile = lfs_cur_file(file);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);
	inode_lock(inode);
	old_cred = lfs_override_creds(inode->i_sb);
	ret = vfs_fallocate(realfile, mode, offset, len);
	revert_creds(old_cred);
	lfs_copyattr(inode);
	inode_unlock(inode);
	return ret;
}

static int lfs_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct backing_file_ctx ctx = lfs_backing_ctx(file);
	struct file *realfile;

	/* A partial file has one page cache of its own: map that. */
	if (lfs_is_partial(file_inode(file)))
		return lfs_cow_broken(file_inode(file)) ? -EIO :
		       generic_file_mmap(file, vma);
	/*
	 * The first use of an fd after a copy-up opens the upper file, here
	 * under mmap_lock: only an fsnotify permission listener that reads
	 * this process's memory could wait on that, and the wait is killable.
	 */
	realfile = lfs_cur_file(file);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);
	/* The VMA moves to the real file: its page cache, shared. */
	return backing_file_mmap(realfile, vma, &ctx);
}

static loff_t lfs_llseek(struct file *file, loff_t offset, int whence)
{
	struct inode *inode = file_inode(file);
	const struct cred *old_cred;
	struct file *realfile;
	loff_t ret;

	if (lfs_is_partial(inode))
		return generic_file_llseek(file, offset, whence);
	if (offset == 0) {
		if (whence == SEEK_CUR)
			return file->f_pos;
		if (whence == SEEK_SET)
			return vfs_setpos(file, 0, 0);
	}
	realfile = lfs_cur_file(file);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);

	inode_lock(inode);
	realfile->f_pos = file->f_pos;
	old_cred = lfs_override_creds(inode->i_sb);
	ret = vfs_llseek(realfile, offset, whence);
	revert_creds(old_cred);
	file->f_pos = realfile->f_pos;
	inode_unlock(inode);
	return ret;
}

static int lfs_fadvise(struct file *file, loff_t offset, loff_t len,
		       int advice)
{
	const struct cred *old_cred;
	struct file *realfile;
	int ret;

	if (lfs_is_partial(file_inode(file)))
		return generic_fadvise(file, offset, len, advice);
	realfile = lfs_cur_file(file);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);
	old_cred = lfs_override_creds(file_inode(file)->i_sb);
	ret = vfs_fadvise(realfile, offset, len, advice);
	revert_creds(old_cred);
	return ret;
}

static int lfs_fsync(struct file *file, loff_t start, loff_t end,
		     int datasync)
{
	const struct cred *old_cred;
	struct file *realfile;
	int ret;

	if (lfs_is_partial(file_inode(file)))
		return lfs_cow_broken(file_inode(file)) ? -EIO :
		       lfs_cow_fsync(file, start, end, datasync);
	realfile = lfs_cur_file(file);
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);
	/*
	 * Nothing of a read-only layer is ever dirty; an upper file is
	 * synced through a read-only fd too, as on any filesystem.
	 */
	if (realfile->f_path.mnt != LFS_FS(file_inode(file)->i_sb)->upper_mnt)
		return 0;
	old_cred = lfs_override_creds(file_inode(file)->i_sb);
	ret = vfs_fsync_range(realfile, start, end, datasync);
	revert_creds(old_cred);
	return ret;
}

const struct file_operations lfs_file_operations = {
	.open		= lfs_open,
	.release	= lfs_release,
	.llseek		= lfs_llseek,
	.read_iter	= lfs_read_iter,
	.write_iter	= lfs_write_iter,
	.splice_read	= lfs_splice_read,
	.splice_write	= lfs_splice_write,
	.fallocate	= lfs_fallocate,
	.mmap		= lfs_mmap,
	.fadvise	= lfs_fadvise,
	.fsync		= lfs_fsync,
};
