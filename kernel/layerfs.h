/* SPDX-License-Identifier: GPL-2.0 */
/*
 * layerfs: private declarations shared by the module's files.
 *
 * Object lifetimes:
 *  - struct lfs_fs lives from fs_context creation to kill_sb; it owns the
 *    private clones of the layer mounts and the mounter's credentials.
 *  - struct lfs_inode owns one reference to each real dentry in its
 *    stack (paths[]); the references are dropped in ->destroy_inode and the
 *    array is freed after an RCU grace period in ->free_inode, because
 *    RCU path walk may still read it (see lfs_real_inode_rcu()).
 */
#ifndef _LAYERFS_H
#define _LAYERFS_H

#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/cred.h>
#include <linux/mount.h>
#include <linux/path.h>
#include <linux/layerfs.h>
#include "kapi.h"

/* One read-only layer of the stack. */
struct lfs_layer {
	struct vfsmount *mnt;	/* private clone, MNT_READONLY */
	unsigned int idx;	/* 1 = topmost lower; 0 is kept for upper */
	char *name;		/* path as the mounter gave it */
};

struct lfs_fs {
	unsigned int num_layers;
	struct lfs_layer *layers;	/* top first */
	const struct cred *creator_cred;
	/*
	 * st_ino = real ino | layer index << ino_shift.  A real inode number
	 * too wide for that gets a non-persistent number tagged with
	 * ino_overflow_tag instead.
	 */
	unsigned int ino_shift;
	u64 ino_overflow_tag;
	atomic64_t ino_overflow_next;
};

/* A real object in one layer. */
struct lfs_path {
	struct lfs_layer *layer;
	struct dentry *dentry;
};

struct lfs_inode {
	struct inode vfs_inode;
	/*
	 * Real objects, top first.  A directory has one entry per layer it
	 * merges (cut at the first opaque one); anything else has exactly
	 * one, stored in @single to avoid an allocation.
	 */
	unsigned int numpaths;
	struct lfs_path *paths;
	struct lfs_path single;
	/* Merged listing of a directory, once read; see dir.c. */
	struct lfs_dir_cache *dcache;
	/* iget5 key for non-directories: hard links in a layer share it. */
	struct inode *key_real;
	unsigned int key_idx;
};

static inline struct lfs_fs *LFS_FS(struct super_block *sb)
{
	return sb->s_fs_info;
}

static inline struct lfs_inode *LFS_I(struct inode *inode)
{
	return container_of(inode, struct lfs_inode, vfs_inode);
}

static inline void lfs_path_real(struct inode *inode, struct path *path)
{
	struct lfs_path *p = &LFS_I(inode)->paths[0];

	path->mnt = p->layer->mnt;
	path->dentry = p->dentry;
}

static inline struct mnt_idmap *lfs_layer_idmap(const struct lfs_layer *layer)
{
	return mnt_idmap(layer->mnt);
}

static inline const struct cred *lfs_override_creds(struct super_block *sb)
{
	return override_creds(LFS_FS(sb)->creator_cred);
}

/* Names of the form ".wh.*" are layer metadata, never shown or created. */
static inline bool lfs_is_wh_name(const char *name, unsigned int len)
{
	return len >= LAYERFS_WH_PREFIX_LEN &&
	       !memcmp(name, LAYERFS_WH_PREFIX, LAYERFS_WH_PREFIX_LEN);
}

/* super.c */
extern struct file_system_type lfs_fs_type;
int lfs_fill_super(struct super_block *sb, struct fs_context *fc);
void lfs_free_fs(struct lfs_fs *ofs);

/* params.c */
struct lfs_fs_context {
	unsigned int nr;
	unsigned int cap;
	struct path *lower;
	char **names;
	bool seen_lowerdir;
	bool seen_lowerdir_plus;
};

int lfs_init_fs_context(struct fs_context *fc);
extern const struct fs_parameter_spec lfs_parameter_spec[];
int lfs_show_options(struct seq_file *m, struct dentry *dentry);

/* namei.c */
struct dentry *lfs_lookup(struct inode *dir, struct dentry *dentry,
			  unsigned int flags);
bool lfs_is_opaque_dir(const struct lfs_layer *layer, struct dentry *dir);
bool lfs_is_ovl_whiteout(struct dentry *dentry);

/* inode.c */
struct inode *lfs_iget(struct super_block *sb, struct lfs_path *stack,
		       unsigned int num);
u64 lfs_map_ino(struct lfs_fs *ofs, u64 real_ino, unsigned int idx);
struct inode *lfs_alloc_inode(struct super_block *sb);
void lfs_destroy_inode(struct inode *inode);
void lfs_free_inode(struct inode *inode);
int lfs_permission(struct mnt_idmap *idmap, struct inode *inode, int mask);
int lfs_getattr(struct mnt_idmap *idmap, const struct path *path,
		struct kstat *stat, u32 request_mask, unsigned int flags);
int lfs_init_inode_cache(void);
void lfs_destroy_inode_cache(void);

/* dir.c */
struct lfs_dirent {
	struct rb_node node;
	struct list_head check;	/* on lfs_rdd.check while undecided */
	u64 ino;
	unsigned int type;
	unsigned int layer_pos;	/* index in the directory's paths[] */
	bool hidden;		/* a whiteout, or hidden by one */
	unsigned int len;
	char name[];
};

struct lfs_dirent *lfs_dir_cache_find(struct inode *dir,
				      const struct qstr *name, bool *listed);
void lfs_cache_free(struct lfs_dir_cache *cache);
extern const struct file_operations lfs_dir_operations;
extern const struct inode_operations lfs_dir_inode_operations;

/* file.c */
extern const struct file_operations lfs_file_operations;
extern const struct address_space_operations lfs_aops;

/* xattr.c */
extern const struct xattr_handler * const lfs_xattr_handlers[];
ssize_t lfs_listxattr(struct dentry *dentry, char *list, size_t size);
struct posix_acl *lfs_get_inode_acl(struct inode *inode, int type, bool rcu);
struct posix_acl *lfs_get_acl(struct mnt_idmap *idmap, struct dentry *dentry,
			      int type);

#endif /* _LAYERFS_H */
