/* SPDX-License-Identifier: GPL-2.0 */
/*
 * layerfs: private declarations shared by the module's files.
 *
 * Object lifetimes:
 *  - struct lfs_fs lives from fs_context creation to kill_sb; it owns the
 *    private clones of the layer mounts and the mounter's credentials.
 *  - struct lfs_inode owns one reference to each real dentry in its
 *    stack (paths[0..nrefs-1]); the references are dropped in
 *    ->destroy_inode and the array is freed after an RCU grace period in
 *    ->free_inode, because RCU path walk may still read it (see
 *    lfs_real_inode_rcu()).
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
	 * Writable mounts only: the upper layer (a private clone of the
	 * upperdir mount, index 0), the work directory on the same
	 * filesystem where objects are prepared before they appear in the
	 * upper layer, and the copy-on-write granule.
	 */
	struct vfsmount *upper_mnt;
	struct lfs_layer upper;
	struct dentry *workdir;
	char *upper_name;
	char *work_name;
	unsigned int cow_block;
	/*
	 * Temporary names in the work dir are #lfs-<tmp_id>-<tmp_next>.  A
	 * mount's tmp_id is random: what a crash left there never collides.
	 */
	u64 tmp_id;
	atomic_t tmp_next;
	struct list_head inuse;		/* on lfs_inuse_list */
	/* Copy-on-write statistics, shown in /proc/self/mountstats. */
	atomic64_t cow_files;		/* files that became partial */
	/* Made present in upper files: copied, or written whole. */
	atomic64_t cow_granules;
	atomic64_t cow_bytes;
	atomic64_t cow_whole_bytes;	/* what whole-file copy-up would copy */
	/*
	 * st_ino = real ino | layer index << ino_shift.  A real inode number
	 * too wide for that gets a non-persistent number tagged with
	 * ino_overflow_tag instead.
	 */
	unsigned int ino_shift;
	u64 ino_overflow_tag;
	atomic64_t ino_overflow_next;
	/* image= mounts: the reference and what layerd resolved it to. */
	char *image_ref;
	char *image_digest;
	/* On the MOUNTS list of genl.c from fill_super to kill_sb. */
	struct list_head mounts;
	u64 mount_id;
	struct super_block *sb;
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
	 * one, stored in @single to avoid an allocation.  A directory of a
	 * tree moved in the upper layer merges nothing any more: @numpaths
	 * drops to 0 (lfs_put_tree()), never to another value, while
	 * the @nrefs references stay until ->destroy_inode, for whoever
	 * read the count before.
	 */
	unsigned int numpaths;
	unsigned int nrefs;
	struct lfs_path *paths;
	struct lfs_path single;
	/* Merged listing of a directory, once read; see dir.c. */
	struct lfs_dir_cache *dcache;
	/* iget5 key for non-directories: hard links in a layer share it. */
	struct inode *key_real;
	unsigned int key_idx;
	/*
	 * The object in the upper layer, once there is one.  Set once, with
	 * release semantics, under @lock (copy-up) or before the inode is
	 * visible (lookup, create); never changed or cleared afterwards.
	 */
	struct dentry *upper;
	struct mutex lock;		/* serialises copy-up of this inode */
	/* Copy-on-write state of a partial regular file (cow.c). */
	struct lfs_cow *cow;
};

static inline struct lfs_fs *LFS_FS(struct super_block *sb)
{
	return sb->s_fs_info;
}

static inline struct lfs_inode *LFS_I(struct inode *inode)
{
	return container_of(inode, struct lfs_inode, vfs_inode);
}

static inline struct dentry *lfs_upper(struct inode *inode)
{
	/* Pairs with smp_store_release() in lfs_set_upper(). */
	return smp_load_acquire(&LFS_I(inode)->upper);
}

/* The topmost real object: the upper one once there is one. */
static inline void lfs_real_lp(struct inode *inode, struct lfs_path *lp)
{
	struct dentry *upper = lfs_upper(inode);

	if (upper) {
		lp->layer = &LFS_FS(inode->i_sb)->upper;
		lp->dentry = upper;
	} else {
		*lp = LFS_I(inode)->paths[0];
	}
}

static inline void lfs_path_real(struct inode *inode, struct path *path)
{
	struct lfs_path lp;

	lfs_real_lp(inode, &lp);
	path->mnt = lp.layer->mnt;
	path->dentry = lp.dentry;
}

/*
 * The layers of a directory as lookup and readdir walk them: position 0 is
 * the upper layer (empty until the directory has an upper object), 1..n
 * are paths[0..n-1].  Positions never shift when a directory is copied up,
 * so a listing's recorded positions stay valid.
 */
static inline unsigned int lfs_dir_npos(struct lfs_inode *oi)
{
	return READ_ONCE(oi->numpaths) + 1;
}

static inline bool lfs_dir_pos(struct inode *dir, struct dentry *upper,
			       unsigned int pos, struct lfs_path *lp)
{
	if (pos == 0) {
		lp->layer = &LFS_FS(dir->i_sb)->upper;
		lp->dentry = upper;
		return upper;
	}
	*lp = LFS_I(dir)->paths[pos - 1];
	return true;
}

static inline bool lfs_is_upper_layer(const struct lfs_layer *layer)
{
	return layer->idx == 0;
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

/* Can ".wh.NAME" name @name?  Not if NAME is over NAME_MAX - 4 bytes. */
static inline bool lfs_wh_fits(const struct qstr *name)
{
	return name->len + LAYERFS_WH_PREFIX_LEN <= NAME_MAX;
}

/*
 * Write ".wh.NAME" for @name into @buf (NAME_MAX + 1 bytes).  Returns its
 * length, or 0 if it would be longer than NAME_MAX: no whiteout can name
 * such a name.
 */
static inline unsigned int lfs_wh_name(char *buf, const struct qstr *name)
{
	if (!lfs_wh_fits(name))
		return 0;
	memcpy(buf, LAYERFS_WH_PREFIX, LAYERFS_WH_PREFIX_LEN);
	memcpy(buf + LAYERFS_WH_PREFIX_LEN, name->name, name->len);
	buf[name->len + LAYERFS_WH_PREFIX_LEN] = '\0';
	return name->len + LAYERFS_WH_PREFIX_LEN;
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
	struct path upper;
	struct path work;
	char *upper_name;
	char *work_name;
	unsigned int cow_block;
	bool seen_lowerdir;
	bool seen_lowerdir_plus;
	char *image;			/* image=, resolved by layerd */
	unsigned int pull;		/* enum layerfs_pull */
	unsigned int resolve_timeout;	/* seconds */
	bool seen_pull;
	bool seen_resolve_timeout;
};

int lfs_init_fs_context(struct fs_context *fc);
extern const struct fs_parameter_spec lfs_parameter_spec[];
int lfs_show_options(struct seq_file *m, struct dentry *dentry);
int lfs_add_layer(struct fs_context *fc, const char *name);

/* genl.c */
int lfs_genl_resolve(struct fs_context *fc, const char *ref, u8 pull,
		     unsigned int timeout_s, char **digest);
void lfs_genl_mount_add(struct lfs_fs *ofs, struct super_block *sb);
void lfs_genl_mount_del(struct lfs_fs *ofs);
int lfs_genl_init(void);
void lfs_genl_exit(void);

/* namei.c */
struct dentry *lfs_lookup(struct inode *dir, struct dentry *dentry,
			  unsigned int flags);
bool lfs_is_opaque_dir(const struct lfs_layer *layer, struct dentry *dir);
bool lfs_is_ovl_whiteout(struct dentry *dentry);
int lfs_has_whiteout(const struct lfs_layer *layer, struct dentry *parent,
		     const struct qstr *name);
struct inode *lfs_real_inode_rcu(struct inode *inode);

/* inode.c */
struct inode *lfs_iget(struct super_block *sb, struct dentry *upper,
		       struct lfs_path *stack, unsigned int num);
int lfs_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
		struct iattr *attr);
void lfs_copyattr(struct inode *inode);

/*
 * Inode flags the VFS enforces, from the real inode.  Append-only and
 * immutable stay off upper inodes (LAYERFS_XATTR_PROTATTR records them);
 * synchronous and no-atime are copied up as they are.
 */
#define LFS_COPY_I_FLAGS	(S_SYNC | S_APPEND | S_IMMUTABLE)
#define LFS_PROT_I_FLAGS	(S_APPEND | S_IMMUTABLE)
#define LFS_PROT_FS_FLAGS	(FS_APPEND_FL | FS_IMMUTABLE_FL)
#define LFS_PROT_FSX_FLAGS	(FS_XFLAG_APPEND | FS_XFLAG_IMMUTABLE)
#define LFS_COPY_FS_FLAGS	(FS_SYNC_FL | FS_NOATIME_FL)
#define LFS_COPY_FSX_FLAGS	(FS_XFLAG_SYNC | FS_XFLAG_NOATIME)

struct fileattr;
int lfs_fileattr_get(struct dentry *dentry, struct fileattr *fa);
int lfs_fileattr_set(struct mnt_idmap *idmap, struct dentry *dentry,
		     struct fileattr *fa);
void lfs_load_protattr(struct inode *inode, struct dentry *upper);
int lfs_copy_fileattr(struct lfs_fs *ofs, const struct lfs_path *lower,
		      struct dentry *upper);
u64 lfs_map_ino(struct lfs_fs *ofs, u64 real_ino, unsigned int idx);
void lfs_inode_rehash(struct inode *inode, struct dentry *upper);
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
	bool wh_below;		/* no layer below merges with it */
	bool lower_ino;		/* upper dir numbered after a lower one */
	u64 ino_upper;
	unsigned int len;
	char name[];
};

struct lfs_dirent *lfs_dir_cache_find(struct inode *dir,
				      const struct qstr *name, bool *listed);
void lfs_cache_put(struct lfs_dir_cache *cache);
void lfs_dir_changed(struct inode *dir);
int lfs_dir_is_empty(struct inode *dir);
char **lfs_dir_names(struct inode *dir, unsigned int *nr);
extern const struct file_operations lfs_dir_operations;
extern const struct inode_operations lfs_dir_inode_operations;

/* file.c */
/*
 * An open regular file: @real is the backing file opened with it.  If
 * @real is in a lower layer and the inode has since been copied up whole
 * (O_TRUNC elsewhere, truncate to 0, an empty origin), I/O goes to @upper,
 * a backing file of the upper object opened on first need, so every fd
 * sees the file's one content.  A partial file needs neither: its own
 * page cache serves it (cow.c).
 */
struct lfs_file {
	struct file *real;
	struct file *upper;		/* set once, by cmpxchg */
};

extern const struct file_operations lfs_file_operations;
void lfs_file_free(struct lfs_file *lf);
extern const struct address_space_operations lfs_aops;

/* upper.c */
int lfs_upper_setup(struct super_block *sb, struct fs_context *fc);
bool lfs_origin_ino(struct super_block *sb, struct dentry *upper, u64 *ino);
int lfs_copy_origin(struct lfs_fs *ofs, struct dentry *from, struct dentry *to);
void lfs_upper_release(struct lfs_fs *ofs);
int lfs_copy_up(struct dentry *dentry);
int lfs_copy_up_flags(struct dentry *dentry, bool no_data);
int lfs_copy_up_tree(struct dentry *dentry, bool locked,
		     struct list_head *dirs);
void lfs_put_tree(struct list_head *dirs, bool moved);
void lfs_set_upper(struct inode *inode, struct dentry *upper);
int lfs_move_to_work(struct lfs_fs *ofs, struct dentry *udir,
		     struct dentry *d);
int lfs_cleanup_temp(struct lfs_fs *ofs, struct dentry *tmp);

/* Names read from an upper directory, to act on once it is locked. */
struct lfs_names {
	struct dir_context ctx;
	struct list_head list;
	unsigned int seen;
	unsigned int others;	/* not collected (lfs_collect_whiteouts()) */
	int err;
};

#define LFS_NAMES_INIT(n) { .list = LIST_HEAD_INIT((n).list) }

void lfs_names_free(struct lfs_names *names);
int lfs_collect_whiteouts(struct lfs_fs *ofs, struct dentry *udir,
			  struct lfs_names *names);
int lfs_unlink_whiteouts(struct lfs_fs *ofs, struct dentry *udir,
			 struct lfs_names *names);
void lfs_remove_work_dir(struct lfs_fs *ofs, struct dentry *d,
			 struct lfs_names *names);
struct dentry *lfs_create_temp(struct lfs_fs *ofs, umode_t mode, dev_t rdev,
			       const char *link);
int lfs_copy_xattrs(struct lfs_fs *ofs, const struct lfs_path *lower,
		    struct dentry *upper);
int lfs_set_attrs(struct lfs_fs *ofs, struct dentry *upper,
		  const struct kstat *stat);
int lfs_want_write(struct dentry *dentry);
void lfs_drop_write(struct dentry *dentry);

/* cow.c */
bool lfs_is_partial(struct inode *inode);
ssize_t lfs_cow_read_direct(struct kiocb *iocb, struct iov_iter *iter);
ssize_t lfs_cow_write_iter(struct kiocb *iocb, struct iov_iter *from);
bool lfs_cow_broken(struct inode *inode);
void lfs_cow_release(struct inode *inode);
void lfs_cow_discard(struct lfs_cow *cow);
int lfs_cow_fsync(struct file *file, loff_t start, loff_t end, int datasync);
int lfs_cow_write_inode(struct inode *inode, struct writeback_control *wbc);
int lfs_cow_may_setsize(struct inode *inode, loff_t size);
int lfs_cow_setsize(struct inode *inode, loff_t size);
long lfs_cow_fallocate(struct file *file, int mode, loff_t offset, loff_t len);
struct lfs_cow *lfs_cow_prepare(struct super_block *sb, struct dentry *tmp,
				const struct lfs_path *lower,
				const struct kstat *stat);
void lfs_cow_start(struct inode *inode, struct lfs_cow *cow);
int lfs_cow_load(struct inode *inode, struct dentry *upper);

/* xattr.c */
extern const struct xattr_handler * const lfs_xattr_handlers[];
ssize_t lfs_listxattr(struct dentry *dentry, char *list, size_t size);
struct posix_acl *lfs_get_inode_acl(struct inode *inode, int type, bool rcu);
struct posix_acl *lfs_get_acl(struct mnt_idmap *idmap, struct dentry *dentry,
			      int type);
int lfs_set_acl(struct mnt_idmap *idmap, struct dentry *dentry,
		struct posix_acl *acl, int type);

#endif /* _LAYERFS_H */
