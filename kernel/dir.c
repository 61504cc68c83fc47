// SPDX-License-Identifier: GPL-2.0
/*
 * layerfs: merged readdir.
 *
 * The first readdir of a directory reads every real directory of its
 * stack, top first, into a name tree that drops duplicates, whiteouts and
 * what whiteouts hide, and keeps the visible entries in an array sorted by
 * name.  The directory offset is the index in that array (plus "." and
 * ".."), so telldir/seekdir and getdents with any buffer size are exact.
 *
 * A listing is built once per inode, published with cmpxchg and kept until
 * the inode is evicted or the directory changes (lfs_dir_changed() drops
 * it; lower layers never change).  An open directory holds a reference to
 * the listing its reader started on and reads that one to the end, until
 * it rewinds to offset 0: its offsets stay exact across changes, so a
 * reader that unlinks what it reads (rm -r, systemd's rm_rf) meets every
 * entry once, as POSIX asks.
 *
 * Lookup uses the inode's listing too (lfs_dir_cache_find()): a name absent
 * from a listed directory is negative without touching any layer, and a
 * present one is looked up first in the layer it came from, so find(1) and
 * ls -l cost one real lookup per entry instead of two per layer.
 *
 * Locking: building runs with the merged directory's i_rwsem held shared by
 * iterate_dir() and takes each real directory's i_rwsem shared in turn
 * (layerfs -> real fs).  Entries that may be overlay whiteouts are looked up
 * only after the real directory's iteration ended, never from inside its
 * actor.  A built listing is immutable and read without locks.
 */

#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/rbtree.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include "layerfs.h"

struct lfs_dir_cache {
	refcount_t ref;			/* the inode's, and open files' */
	struct rb_root root;
	struct lfs_dirent **ents;	/* visible entries, in offset order */
	unsigned int nr;
	unsigned int cap;
};

/* Whiteout names seen in the layer being read; applied after it. */
struct lfs_wh {
	struct list_head list;
	unsigned int len;
	char name[];
};

struct lfs_rdd {
	struct dir_context ctx;
	struct lfs_dir_cache *cache;
	struct lfs_fs *ofs;
	struct super_block *sb;
	const struct lfs_layer *layer;
	unsigned int layer_pos;
	struct list_head whiteouts;
	struct list_head check;
	unsigned int count;
	int err;
};

static int lfs_name_cmp(const char *a, unsigned int alen,
			const char *b, unsigned int blen)
{
	int c = memcmp(a, b, min(alen, blen));

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static struct lfs_dirent *lfs_cache_find(struct lfs_dir_cache *cache,
					 const char *name, unsigned int len,
					 struct rb_node ***linkp,
					 struct rb_node **parentp)
{
	struct rb_node **link = &cache->root.rb_node, *parent = NULL;

	while (*link) {
		struct lfs_dirent *e = rb_entry(*link, struct lfs_dirent, node);
		int c = lfs_name_cmp(name, len, e->name, e->len);

		if (!c)
			return e;
		parent = *link;
		link = c < 0 ? &parent->rb_left : &parent->rb_right;
	}
	if (linkp) {
		*linkp = link;
		*parentp = parent;
	}
	return NULL;
}

static struct lfs_dirent *lfs_cache_add(struct lfs_dir_cache *cache,
					const char *name, unsigned int len,
					struct rb_node **link,
					struct rb_node *parent)
{
	struct lfs_dirent *e;

	e = kmalloc(struct_size(e, name, len + 1), GFP_KERNEL_ACCOUNT);
	if (!e)
		return NULL;
	memcpy(e->name, name, len);
	e->name[len] = '\0';
	e->len = len;
	e->hidden = false;
	e->ino = 0;
	e->type = DT_UNKNOWN;
	e->layer_pos = 0;
	e->wh_below = false;
	e->lower_ino = false;
	INIT_LIST_HEAD(&e->check);
	rb_link_node(&e->node, parent, link);
	rb_insert_color(&e->node, &cache->root);
	return e;
}

static void lfs_cache_free(struct lfs_dir_cache *cache)
{
	struct lfs_dirent *e, *tmp;

	if (!cache)
		return;
	rbtree_postorder_for_each_entry_safe(e, tmp, &cache->root, node)
		kfree(e);
	kvfree(cache->ents);
	kfree(cache);
}

void lfs_cache_put(struct lfs_dir_cache *cache)
{
	if (cache && refcount_dec_and_test(&cache->ref))
		lfs_cache_free(cache);
}

static bool lfs_fill_merge(struct dir_context *ctx, const char *name,
			   int namelen, loff_t offset, u64 ino,
			   unsigned int d_type)
{
	struct lfs_rdd *rdd = container_of(ctx, struct lfs_rdd, ctx);
	struct lfs_dir_cache *cache = rdd->cache;
	struct rb_node **link, *parent;
	struct lfs_dirent *e;

	rdd->count++;

	if (namelen <= 2 && name[0] == '.' &&
	    (namelen == 1 || name[1] == '.'))
		return true;

	if (lfs_is_wh_name(name, namelen)) {
		const char *target = name + LAYERFS_WH_PREFIX_LEN;
		unsigned int tlen = namelen - LAYERFS_WH_PREFIX_LEN;
		struct lfs_wh *wh;

		/* ".wh..wh..opq" was handled by lookup; other ".wh..wh." are inert. */
		if (lfs_is_wh_name(target, tlen) || !tlen)
			return true;
		wh = kmalloc(struct_size(wh, name, tlen), GFP_KERNEL);
		if (!wh) {
			rdd->err = -ENOMEM;
			return false;
		}
		memcpy(wh->name, target, tlen);
		wh->len = tlen;
		list_add_tail(&wh->list, &rdd->whiteouts);
		return true;
	}

	/* An upper layer's entry or whiteout already decided this name. */
	e = lfs_cache_find(cache, name, namelen, &link, &parent);
	if (e) {
		/*
		 * A directory of the upper layer merged with a lower one
		 * takes its st_ino from the topmost lower one (see
		 * lfs_iget()), unless it hides what is below it; that is
		 * settled in lfs_settle_upper_dirs().
		 */
		if (e->layer_pos == 0 && !e->hidden && !e->wh_below &&
		    !e->lower_ino && e->type == DT_DIR) {
			if (d_type == DT_DIR) {
				e->ino_upper = e->ino;
				e->ino = lfs_map_ino(rdd->ofs, ino,
						     rdd->layer->idx);
				e->lower_ino = true;
			} else if (d_type != DT_UNKNOWN) {
				/* As in lfs_lookup(): its merge ends here. */
				e->wh_below = true;
			} else if (list_empty(&e->check)) {
				/* The fs does not say (NFS, FUSE): look. */
				list_add_tail(&e->check, &rdd->check);
			}
		}
		return true;
	}

	e = lfs_cache_add(cache, name, namelen, link, parent);
	if (!e) {
		rdd->err = -ENOMEM;
		return false;
	}
	e->ino = lfs_map_ino(rdd->ofs, ino, rdd->layer->idx);
	e->type = d_type;
	e->layer_pos = rdd->layer_pos;
	/* Could be an overlayfs whiteout (or the fs does not say): look. */
	if (d_type == DT_CHR || d_type == DT_UNKNOWN)
		list_add_tail(&e->check, &rdd->check);
	return true;
}

/* Settle entries the actor could not judge from d_type alone. */
static int lfs_check_entries(struct lfs_rdd *rdd, struct dentry *realdir)
{
	struct lfs_dirent *e, *tmp;
	int err = 0;

	list_for_each_entry_safe(e, tmp, &rdd->check, check) {
		struct dentry *d;

		list_del_init(&e->check);
		if (err)
			continue;
		d = lookup_one_unlocked(lfs_layer_idmap(rdd->layer), e->name,
					realdir, e->len);
		if (IS_ERR(d)) {
			err = PTR_ERR(d);
			continue;
		}
		if (e->layer_pos != rdd->layer_pos) {
			/* Below an upper directory, as lfs_fill_merge() does. */
			if (d_is_dir(d)) {
				e->ino_upper = e->ino;
				e->ino = lfs_map_ino(rdd->ofs, d_inode(d)->i_ino,
						     rdd->layer->idx);
				e->lower_ino = true;
			} else if (d_is_positive(d)) {
				e->wh_below = true;
			}
		} else if (d_is_negative(d) || lfs_is_ovl_whiteout(d)) {
			e->hidden = true;
		} else if (e->type == DT_UNKNOWN) {
			e->type = fs_umode_to_dtype(d_inode(d)->i_mode);
		}
		dput(d);
	}
	return err;
}

static int lfs_apply_whiteouts(struct lfs_rdd *rdd)
{
	struct lfs_wh *wh, *tmp;
	int err = 0;

	list_for_each_entry_safe(wh, tmp, &rdd->whiteouts, list) {
		struct rb_node **link, *parent;
		struct lfs_dirent *e;

		list_del(&wh->list);
		e = err ? NULL : lfs_cache_find(rdd->cache, wh->name, wh->len,
						&link, &parent);
		if (e) {
			/*
			 * NAME and .wh.NAME side by side: NAME hides below;
			 * under a NAME of a layer above, .wh.NAME ends its
			 * merge with lower layers, as in lfs_lookup().
			 */
			e->wh_below = true;
		} else if (!err) {
			e = lfs_cache_add(rdd->cache, wh->name, wh->len, link,
					  parent);
			if (e)
				e->hidden = true;
			else
				err = -ENOMEM;
		}
		kfree(wh);
	}
	return err;
}

static int lfs_read_layer(struct lfs_rdd *rdd, const struct lfs_path *lp,
			  unsigned int pos)
{
	struct path realpath = { .mnt = lp->layer->mnt, .dentry = lp->dentry };
	struct file *realfile;
	int err, err2;

	realfile = dentry_open(&realpath, O_RDONLY | O_DIRECTORY | O_NOATIME,
			       current_cred());
	if (IS_ERR(realfile))
		return PTR_ERR(realfile);

	rdd->layer = lp->layer;
	rdd->layer_pos = pos;
	rdd->ctx.pos = 0;
	/* Some filesystems stop early; go on until a pass yields nothing. */
	do {
		rdd->count = 0;
		rdd->err = 0;
		err = iterate_dir(realfile, &rdd->ctx);
		if (err >= 0)
			err = rdd->err;
	} while (!err && rdd->count);
	fput(realfile);

	/* Both lists must be emptied whatever happened. */
	err2 = lfs_check_entries(rdd, lp->dentry);
	if (!err)
		err = err2;
	err2 = lfs_apply_whiteouts(rdd);
	return err ? err : err2;
}

/*
 * Entries of the upper layer whose st_ino comes from elsewhere (as in
 * lfs_iget()): a directory merging with a lower one has the lower number;
 * anything else copied up has its origin's, if recorded.
 */
static int lfs_settle_upper(struct lfs_rdd *rdd, struct dentry *upper)
{
	struct rb_node *node;

	for (node = rb_first(&rdd->cache->root); node; node = rb_next(node)) {
		struct lfs_dirent *e = rb_entry(node, struct lfs_dirent, node);
		struct dentry *d;
		u64 ino;

		if (e->layer_pos || e->hidden)
			continue;
		d = lookup_one_unlocked(mnt_idmap(rdd->ofs->upper_mnt),
					e->name, upper, e->len);
		if (IS_ERR(d))
			return PTR_ERR(d);
		if (d_is_negative(d)) {
			/* Gone since it was listed: nothing to settle. */
		} else if (d_is_dir(d) && e->lower_ino &&
			   !lfs_is_opaque_dir(&rdd->ofs->upper, d)) {
			/* Merged: numbered after the lower directory. */
		} else if (lfs_origin_ino(rdd->sb, d, &ino)) {
			e->ino = ino;
		} else if (e->lower_ino) {
			e->ino = e->ino_upper;
		}
		dput(d);
	}
		return 0;
}

static int lfs_cache_push(struct lfs_dir_cache *cache, struct lfs_dirent *e)
{
	if (cache->nr == cache->cap) {
		unsigned int cap = max(cache->cap * 2, 64U);
		struct lfs_dirent **ents;

		ents = kvrealloc(cache->ents, array_size(cap, sizeof(*ents)),
				 GFP_KERNEL_ACCOUNT);
		if (!ents)
			return -ENOMEM;
		cache->ents = ents;
		cache->cap = cap;
	}
	cache->ents[cache->nr++] = e;
	return 0;
}

static struct lfs_dir_cache *lfs_build_cache(struct inode *dir)
{
	struct lfs_inode *od = LFS_I(dir);
	struct lfs_rdd rdd = {
		.ctx.actor = lfs_fill_merge,
		.ofs = LFS_FS(dir->i_sb),
		.sb = dir->i_sb,
	};
	struct lfs_dir_cache *cache;
	const struct cred *old_cred;
	struct dentry *upper;
	struct rb_node *node;
	unsigned int i, npos;
	int err = 0;

	cache = kzalloc(sizeof(*cache), GFP_KERNEL_ACCOUNT);
	if (!cache)
		return ERR_PTR(-ENOMEM);
	refcount_set(&cache->ref, 1);
	cache->root = RB_ROOT;
	rdd.cache = cache;
	INIT_LIST_HEAD(&rdd.whiteouts);
	INIT_LIST_HEAD(&rdd.check);

	upper = lfs_upper(dir);
	old_cred = lfs_override_creds(dir->i_sb);
	for (i = 0, npos = lfs_dir_npos(od); i < npos && !err; i++) {
		struct lfs_path lp;

		if (lfs_dir_pos(dir, upper, i, &lp))
			err = lfs_read_layer(&rdd, &lp, i);
	}
	if (!err && upper)
		err = lfs_settle_upper(&rdd, upper);
	revert_creds(old_cred);

	/* Name order: stable, and what a reader of ls expects anyway. */
	for (node = rb_first(&cache->root); node && !err; node = rb_next(node)) {
		struct lfs_dirent *e = rb_entry(node, struct lfs_dirent, node);

		if (!e->hidden)
			err = lfs_cache_push(cache, e);
	}
	if (err) {
		lfs_cache_free(cache);
		return ERR_PTR(err);
	}
	return cache;
}

/* The merged listing of @dir, built on first use. */
static struct lfs_dir_cache *lfs_dir_cache_get(struct inode *dir)
{
	struct lfs_inode *od = LFS_I(dir);
	struct lfs_dir_cache *cache, *old;

	/* Pairs with the cmpxchg below: see a fully built listing. */
	cache = smp_load_acquire(&od->dcache);
	if (cache)
		return cache;

	cache = lfs_build_cache(dir);
	if (IS_ERR(cache))
		return cache;
	/* Two readers may race to build; the first one published wins. */
	old = cmpxchg_release(&od->dcache, NULL, cache);
	if (old) {
		lfs_cache_free(cache);
		return old;
	}
	return cache;
}

/*
 * @dir's entries changed.  The caller holds @dir's i_rwsem exclusive, so
 * no reader of the inode's listing (all hold it shared) is using it; open
 * directories keep theirs.
 */
void lfs_dir_changed(struct inode *dir)
{
	lfs_cache_put(xchg(&LFS_I(dir)->dcache, NULL));
}

/*
 * The names in the merged view of @dir, for a walk that must not hold its
 * lock.  Caller holds @dir's i_rwsem (shared is enough).
 */
char **lfs_dir_names(struct inode *dir, unsigned int *nr)
{
	struct lfs_dir_cache *cache = lfs_dir_cache_get(dir);
	char **names;
	unsigned int i;

	if (IS_ERR(cache))
		return ERR_CAST(cache);
	names = kvcalloc(cache->nr ?: 1, sizeof(*names), GFP_KERNEL);
	if (!names)
		return ERR_PTR(-ENOMEM);
	for (i = 0; i < cache->nr; i++) {
		names[i] = kmemdup_nul(cache->ents[i]->name,
				       cache->ents[i]->len, GFP_KERNEL);
		if (!names[i]) {
			while (i--)
				kfree(names[i]);
			kvfree(names);
			return ERR_PTR(-ENOMEM);
		}
	}
	*nr = cache->nr;
	return names;
}

/* 0 if the merged view of @dir is empty, else -ENOTEMPTY or an error. */
int lfs_dir_is_empty(struct inode *dir)
{
	struct lfs_dir_cache *cache = lfs_dir_cache_get(dir);

	if (IS_ERR(cache))
		return PTR_ERR(cache);
	return cache->nr ? -ENOTEMPTY : 0;
}

struct lfs_dirent *lfs_dir_cache_find(struct inode *dir,
				      const struct qstr *name, bool *listed)
{
	/* Pairs with the cmpxchg_release in lfs_dir_cache_get(). */
	struct lfs_dir_cache *cache = smp_load_acquire(&LFS_I(dir)->dcache);

	*listed = cache;
	if (!cache)
		return NULL;
	return lfs_cache_find(cache, name->name, name->len, NULL, NULL);
}

static int lfs_iterate(struct file *file, struct dir_context *ctx)
{
	struct lfs_dir_cache *cache = file->private_data, *now;

	/*
	 * From offset 0 (open, rewinddir) on the current listing; then on
	 * that one to the end, whatever changes meanwhile.  getdents holds
	 * the file's f_pos_lock, so nobody else swaps it under us.
	 */
	if (!cache || !ctx->pos) {
		now = lfs_dir_cache_get(file_inode(file));
		if (IS_ERR(now))
			return PTR_ERR(now);
		if (now != cache) {
			/* Under i_rwsem: the inode's reference stays. */
			refcount_inc(&now->ref);
			lfs_cache_put(cache);
			file->private_data = now;
			cache = now;
		}
	}

	if (!dir_emit_dots(file, ctx))
		return 0;
	while (ctx->pos - 2 < cache->nr) {
		struct lfs_dirent *e = cache->ents[ctx->pos - 2];

		if (!dir_emit(ctx, e->name, e->len, e->ino, e->type))
			break;
		ctx->pos++;
	}
	return 0;
}

static loff_t lfs_dir_llseek(struct file *file, loff_t offset, int whence)
{
	/* Offsets are indexes into the cache; any non-negative one is valid. */
	return generic_file_llseek_size(file, offset, whence, LLONG_MAX,
					LLONG_MAX);
}

static int lfs_dir_release(struct inode *inode, struct file *file)
{
	lfs_cache_put(file->private_data);
	return 0;
}

/* Directory changes live in the upper directory: make them durable there. */
static int lfs_dir_fsync(struct file *file, loff_t start, loff_t end,
			 int datasync)
{
	struct dentry *upper = lfs_upper(file_inode(file));
	struct lfs_fs *ofs = LFS_FS(file_inode(file)->i_sb);
	struct path path = { .mnt = ofs->upper_mnt, .dentry = upper };
	const struct cred *old_cred;
	struct file *realfile;
	int err;

	if (!upper)
		return 0;
	old_cred = lfs_override_creds(file_inode(file)->i_sb);
	realfile = dentry_open(&path, O_RDONLY | O_DIRECTORY, current_cred());
	err = PTR_ERR_OR_ZERO(realfile);
	if (!err) {
		err = vfs_fsync_range(realfile, start, end, datasync);
		fput(realfile);
	}
	revert_creds(old_cred);
	return err;
}

const struct file_operations lfs_dir_operations = {
	.read		= generic_read_dir,
	.iterate_shared	= lfs_iterate,
	.llseek		= lfs_dir_llseek,
	.fsync		= lfs_dir_fsync,
	.release	= lfs_dir_release,
};
