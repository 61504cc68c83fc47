// SPDX-License-Identifier: GPL-2.0
/*
 * layerfs: superblock setup, statfs, module init.
 *
 * layerfs merges read-only container image layers (OCI layer directories,
 * whiteouts as the layer tarball carried them) into one view.  Unmodified
 * regular files are served by the lower file itself through backing files,
 * so every mount of a layer shares that layer's page cache.
 */

#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/statfs.h>
#include "layerfs.h"

void lfs_free_fs(struct lfs_fs *ofs)
{
	unsigned int i;

	if (!ofs)
		return;
	lfs_upper_release(ofs);
	for (i = 0; i < ofs->num_layers; i++) {
		kern_unmount(ofs->layers[i].mnt);
		kfree(ofs->layers[i].name);
	}
	kfree(ofs->layers);
	kfree(ofs->image_ref);
	kfree(ofs->image_digest);
	if (ofs->creator_cred)
		put_cred(ofs->creator_cred);
	kfree(ofs);
}

static int lfs_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct lfs_fs *ofs = LFS_FS(dentry->d_sb);
	struct vfsmount *mnt = ofs->upper_mnt ?: ofs->layers[0].mnt;
	struct path path = { .mnt = mnt, .dentry = mnt->mnt_root };
	const struct cred *old_cred;
	int err;

	old_cred = lfs_override_creds(dentry->d_sb);
	err = vfs_statfs(&path, buf);
	revert_creds(old_cred);
	if (!err) {
		buf->f_type = LAYERFS_SUPER_MAGIC;
		buf->f_fsid = u64_to_fsid(huge_encode_dev(dentry->d_sb->s_dev));
	}
	return err;
}

/*
 * What a writable mount changed lives in the upper filesystem.  sync(2)
 * comes here too (no SB_I_SKIP_SYNC, unlike overlayfs): its pass over the
 * upper filesystem's inodes may run before the one over layerfs's, whose
 * writeback of a partial file only dirties the upper file's page cache
 * when the map does not change.
 */
static int lfs_sync_fs(struct super_block *sb, int wait)
{
	struct lfs_fs *ofs = LFS_FS(sb);
	struct super_block *upper_sb;
	int err;

	if (!ofs->upper_mnt || !wait)
		return 0;
	upper_sb = ofs->upper_mnt->mnt_sb;
	down_read(&upper_sb->s_umount);
	err = sync_filesystem(upper_sb);
	up_read(&upper_sb->s_umount);
	return err;
}

/*
 * /proc/self/mountstats: what block-granular copy-on-write copied, against
 * what copying whole files up (as overlayfs does) would have copied.
 */
static int lfs_show_stats(struct seq_file *m, struct dentry *root)
{
	struct lfs_fs *ofs = LFS_FS(root->d_sb);

	if (!ofs->upper_mnt)
		return 0;
	seq_printf(m, " cow_files=%lld cow_granules=%lld cow_bytes=%lld cow_whole_file_bytes=%lld",
		   atomic64_read(&ofs->cow_files),
		   atomic64_read(&ofs->cow_granules),
		   atomic64_read(&ofs->cow_bytes),
		   atomic64_read(&ofs->cow_whole_bytes));
	return 0;
}

/* A partial file with dirty pages or map stays cached until written. */
static int lfs_drop_inode(struct inode *inode)
{
	if (lfs_is_partial(inode))
		return generic_drop_inode(inode);
	return generic_delete_inode(inode);
}

static const struct super_operations lfs_super_operations = {
	.sync_fs	= lfs_sync_fs,
	.write_inode	= lfs_cow_write_inode,
	.alloc_inode	= lfs_alloc_inode,
	.destroy_inode	= lfs_destroy_inode,
	.free_inode	= lfs_free_inode,
	.drop_inode	= lfs_drop_inode,
	.statfs		= lfs_statfs,
	.show_options	= lfs_show_options,
	.show_stats	= lfs_show_stats,
};

/* Take the resolved layers from the parse context into the superblock. */
static int lfs_get_layers(struct super_block *sb, struct fs_context *fc)
{
	struct lfs_fs_context *ctx = fc->fs_private;
	struct lfs_fs *ofs = LFS_FS(sb);
	int depth = 0;
	unsigned int i;

	ofs->layers = kcalloc(ctx->nr, sizeof(*ofs->layers), GFP_KERNEL);
	if (!ofs->layers)
		return -ENOMEM;

	for (i = 0; i < ctx->nr; i++) {
		struct vfsmount *mnt;

		/*
		 * A private clone pins the layer and is immune to later
		 * mount changes in the mounter's namespace.
		 */
		mnt = clone_private_mount(&ctx->lower[i]);
		if (IS_ERR(mnt)) {
			errorfc(fc, "layer '%s': cannot clone its mount: %ld",
				ctx->names[i], PTR_ERR(mnt));
			return PTR_ERR(mnt);
		}
		/* Layers are never written through layerfs. */
		mnt->mnt_flags |= MNT_READONLY | MNT_NOATIME;

		ofs->layers[i].mnt = mnt;
		ofs->layers[i].idx = i + 1;
		ofs->layers[i].name = ctx->names[i];
		ctx->names[i] = NULL;
		ofs->num_layers++;

		depth = max(depth, mnt->mnt_sb->s_stack_depth);
		sb->s_maxbytes = max(sb->s_maxbytes, mnt->mnt_sb->s_maxbytes);
		sb->s_time_gran = min(sb->s_time_gran,
				      mnt->mnt_sb->s_time_gran);
	}

	sb->s_stack_depth = depth + 1;
	if (sb->s_stack_depth > FILESYSTEM_MAX_STACK_DEPTH) {
		errorfc(fc, "stack too deep: a layer is %d filesystems deep, limit %d",
			depth, FILESYSTEM_MAX_STACK_DEPTH);
		return -EINVAL;
	}
	return 0;
}

/* The root merges the layer roots, down to the first opaque one. */
static struct inode *lfs_root_inode(struct super_block *sb)
{
	struct lfs_fs *ofs = LFS_FS(sb);
	struct dentry *upper = NULL;
	const struct cred *old_cred;
	struct lfs_path *stack;
	unsigned int i, n = 0;
	bool opaque = false;

	stack = kcalloc(ofs->num_layers, sizeof(*stack), GFP_KERNEL);
	if (!stack)
		return ERR_PTR(-ENOMEM);

	old_cred = lfs_override_creds(sb);
	if (ofs->upper_mnt) {
		upper = dget(ofs->upper_mnt->mnt_root);
		opaque = lfs_is_opaque_dir(&ofs->upper, upper);
	}
	for (i = 0; i < ofs->num_layers && !opaque; i++) {
		struct lfs_layer *layer = &ofs->layers[i];

		stack[n].layer = layer;
		stack[n].dentry = dget(layer->mnt->mnt_root);
		n++;
		if (lfs_is_opaque_dir(layer, layer->mnt->mnt_root))
			break;
	}
	revert_creds(old_cred);

	return lfs_iget(sb, upper, stack, n);
}

int lfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct lfs_fs_context *ctx = fc->fs_private;
	struct lfs_fs *ofs = LFS_FS(sb);
	struct inode *root;
	unsigned int bits;
	int err;

	if (!ctx->nr)
		return invalfc(fc, "no lowerdir given");

	sb->s_magic = LAYERFS_SUPER_MAGIC;
	sb->s_op = &lfs_super_operations;
	sb->s_xattr = lfs_xattr_handlers;
	sb->s_flags |= SB_POSIXACL;
	sb->s_maxbytes = 0;
	sb->s_time_gran = NSEC_PER_SEC;

	ofs->creator_cred = prepare_creds();
	if (!ofs->creator_cred)
		return -ENOMEM;

	err = lfs_get_layers(sb, fc);
	if (err)
		return err;
	err = lfs_upper_setup(sb, fc);
	if (err)
		return err;
	/* Without an upper layer nothing can be written. */
	if (!ofs->upper_mnt) {
		sb->s_flags |= SB_RDONLY;
	} else {
		/* Partial files have a page cache to write back. */
		err = super_setup_bdi(sb);
		if (err)
			return err;
		/*
		 * As on the upper filesystem, a write looks for privileges
		 * to kill (set-id bits, security.capability) once per inode:
		 * then S_NOSEC skips the check until a mode or security.*
		 * change through layerfs clears it (the VFS does).  Without
		 * it, every write asked the upper layer for an xattr.
		 */
		if (ofs->upper_mnt->mnt_sb->s_flags & SB_NOSEC)
			sb->s_flags |= SB_NOSEC;
	}

	/*
	 * Room for layer indexes 0 (upper) .. num_layers, plus one all-ones
	 * tag for inode numbers that do not fit.
	 */
	bits = fls(ofs->num_layers + 1);
	ofs->ino_shift = 64 - bits;
	ofs->ino_overflow_tag = (u64)((1U << bits) - 1) << ofs->ino_shift;
	atomic64_set(&ofs->ino_overflow_next, 0);

	root = lfs_root_inode(sb);
	if (IS_ERR(root))
		return PTR_ERR(root);
	sb->s_root = d_make_root(root);
	if (!sb->s_root)
		return -ENOMEM;
	lfs_genl_mount_add(ofs, sb);
	return 0;
}

static void lfs_kill_sb(struct super_block *sb)
{
	struct lfs_fs *ofs = LFS_FS(sb);

	lfs_genl_mount_del(ofs);
	/* Inodes, which hold real dentries, go before the layer mounts. */
	kill_anon_super(sb);
	lfs_free_fs(ofs);
}

struct file_system_type lfs_fs_type = {
	.owner			= THIS_MODULE,
	.name			= "layerfs",
	.init_fs_context	= lfs_init_fs_context,
	.parameters		= lfs_parameter_spec,
	.kill_sb		= lfs_kill_sb,
};
MODULE_ALIAS_FS("layerfs");

static int __init lfs_init(void)
{
	int err;

	err = lfs_init_inode_cache();
	if (err)
		return err;
	err = lfs_genl_init();
	if (err)
		goto out_cache;
	err = register_filesystem(&lfs_fs_type);
	if (err)
		goto out_genl;
	return 0;

out_genl:
	lfs_genl_exit();
out_cache:
	lfs_destroy_inode_cache();
	return err;
}

static void __exit lfs_exit(void)
{
	unregister_filesystem(&lfs_fs_type);
	lfs_genl_exit();
	lfs_destroy_inode_cache();
}

module_init(lfs_init);
module_exit(lfs_exit);

MODULE_DESCRIPTION("layerfs: container image layers with block-granular copy-on-write");
MODULE_AUTHOR("The layerfs authors");
MODULE_LICENSE("GPL");
