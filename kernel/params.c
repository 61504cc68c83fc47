// SPDX-License-Identifier: GPL-2.0
/*
 * layerfs: mount options (fs_context parsing), apart from superblock setup.
 *
 * Layers are resolved to paths while parsing, in the mounter's context, so
 * that a bad layer is reported against the option that named it.  Every
 * rejection gives the errno a caller expects (ENOENT for a missing layer,
 * ENOTDIR for a file, EINVAL for the rest) and one line in the fs_context
 * log, which mount(8) and fsopen(2) users both see.
 */

#include <linux/fs.h>
#include <linux/fs_parser.h>
#include <linux/namei.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "layerfs.h"

enum lfs_opt {
	LFS_OPT_LOWERDIR,
	LFS_OPT_LOWERDIR_ADD,
	LFS_OPT_UPPERDIR,
	LFS_OPT_WORKDIR,
	LFS_OPT_COW_BLOCK,
	LFS_OPT_IMAGE,
	LFS_OPT_PULL,
	LFS_OPT_RESOLVE_TIMEOUT,
};

static const struct constant_table lfs_pull_policies[] = {
	{ "missing",	LAYERFS_PULL_MISSING },
	{ "never",	LAYERFS_PULL_NEVER },
	{ "always",	LAYERFS_PULL_ALWAYS },
	{}
};

const struct fs_parameter_spec lfs_parameter_spec[] = {
	fsparam_string_empty("lowerdir", LFS_OPT_LOWERDIR),
	fsparam_string("lowerdir+", LFS_OPT_LOWERDIR_ADD),
	fsparam_string("upperdir", LFS_OPT_UPPERDIR),
	fsparam_string("workdir", LFS_OPT_WORKDIR),
	fsparam_string("cow_block", LFS_OPT_COW_BLOCK),
	fsparam_string("image", LFS_OPT_IMAGE),
	fsparam_enum("pull", LFS_OPT_PULL, lfs_pull_policies),
	fsparam_u32("resolve_timeout", LFS_OPT_RESOLVE_TIMEOUT),
	{}
};

static void lfs_ctx_reset_layers(struct lfs_fs_context *ctx)
{
	unsigned int i;

	for (i = 0; i < ctx->nr; i++) {
		path_put(&ctx->lower[i]);
		kfree(ctx->names[i]);
	}
	ctx->nr = 0;
}

static int lfs_ctx_grow(struct lfs_fs_context *ctx)
{
	unsigned int cap;
	struct path *lower;
	char **names;

	if (ctx->nr < ctx->cap)
		return 0;

	cap = min_t(unsigned int, max(ctx->cap * 2, 8U), LAYERFS_MAX_LAYERS);
	lower = krealloc_array(ctx->lower, cap, sizeof(*lower), GFP_KERNEL);
	if (!lower)
		return -ENOMEM;
	ctx->lower = lower;
	names = krealloc_array(ctx->names, cap, sizeof(*names), GFP_KERNEL);
	if (!names)
		return -ENOMEM;
	ctx->names = names;
	ctx->cap = cap;
	return 0;
}

static bool lfs_dentry_weird(struct dentry *dentry)
{
	return dentry->d_flags & (DCACHE_NEED_AUTOMOUNT |
				  DCACHE_MANAGE_TRANSIT |
				  DCACHE_OP_HASH |
				  DCACHE_OP_COMPARE);
}

/* Resolve one layer path and append it below the layers given so far. */
int lfs_add_layer(struct fs_context *fc, const char *name)
{
	struct lfs_fs_context *ctx = fc->fs_private;
	struct path path;
	unsigned int i;
	char *dup;
	int err;

	if (!*name)
		return invalfc(fc, "empty path in the layer list");
	if (ctx->nr >= LAYERFS_MAX_LAYERS)
		return invalfc(fc, "too many layers, the limit is %d",
			       LAYERFS_MAX_LAYERS);

	err = kern_path(name, LOOKUP_FOLLOW, &path);
	if (err) {
		errorfc(fc, "layer '%s': %s", name,
			err == -ENOENT ? "no such directory" : "cannot resolve");
		return err;
	}

	if (!d_is_dir(path.dentry)) {
		errorfc(fc, "layer '%s' is not a directory", name);
		err = -ENOTDIR;
		goto out_put;
	}
	err = -EINVAL;
	if (sb_has_encoding(path.mnt->mnt_sb)) {
		errorfc(fc, "layer '%s' is on a case-insensitive filesystem",
			name);
		goto out_put;
	}
	if (lfs_dentry_weird(path.dentry)) {
		errorfc(fc, "layer '%s' is on an unsupported filesystem", name);
		goto out_put;
	}
	/* ACLs and owners are passed through unmapped. */
	if (mnt_idmap(path.mnt) != &nop_mnt_idmap) {
		errorfc(fc, "layer '%s' is an idmapped mount, not supported",
			name);
		goto out_put;
	}
	for (i = 0; i < ctx->nr; i++) {
		if (ctx->lower[i].dentry == path.dentry &&
		    ctx->lower[i].mnt->mnt_sb == path.mnt->mnt_sb) {
			errorfc(fc, "layer '%s' is given twice (as '%s')",
				name, ctx->names[i]);
			goto out_put;
		}
	}

	err = lfs_ctx_grow(ctx);
	if (err)
		goto out_put;
	dup = kstrdup(name, GFP_KERNEL);
	if (!dup) {
		err = -ENOMEM;
		goto out_put;
	}
	ctx->lower[ctx->nr] = path;
	ctx->names[ctx->nr] = dup;
	ctx->nr++;
	return 0;

out_put:
	path_put(&path);
	return err;
}

/* upperdir= or workdir=: one writable directory, resolved now. */
static int lfs_set_rwdir(struct fs_context *fc, const char *opt,
			 const char *name, struct path *path, char **namep)
{
	char *dup;
	int err;

	if (!*name)
		return invalfc(fc, "empty path in %s", opt);
	err = kern_path(name, LOOKUP_FOLLOW, path);
	if (err) {
		errorfc(fc, "%s '%s': %s", opt, name,
			err == -ENOENT ? "no such directory" : "cannot resolve");
		path->dentry = NULL;
		return err;
	}
	err = -ENOTDIR;
	if (!d_is_dir(path->dentry)) {
		errorfc(fc, "%s '%s' is not a directory", opt, name);
		goto out_put;
	}
	err = -EINVAL;
	if (sb_has_encoding(path->mnt->mnt_sb) ||
	    lfs_dentry_weird(path->dentry)) {
		errorfc(fc, "%s '%s' is on an unsupported filesystem", opt,
			name);
		goto out_put;
	}
	if (mnt_idmap(path->mnt) != &nop_mnt_idmap) {
		errorfc(fc, "%s '%s' is an idmapped mount, not supported", opt,
			name);
		goto out_put;
	}
	err = -ENOMEM;
	dup = kstrdup(name, GFP_KERNEL);
	if (!dup)
		goto out_put;
	*namep = dup;
	return 0;

out_put:
	path_put(path);
	path->dentry = NULL;
	return err;
}

static void lfs_ctx_reset_rwdir(struct path *path, char **namep)
{
	if (path->dentry)
		path_put(path);
	path->dentry = NULL;
	kfree(*namep);
	*namep = NULL;
}

/* "cow_block=SIZE": a power of two between 4 KiB and 1 MiB, K/M allowed. */
static int lfs_parse_cow_block(struct fs_context *fc, const char *str)
{
	struct lfs_fs_context *ctx = fc->fs_private;
	unsigned long long val;
	char num[16];
	size_t len = strlen(str);
	unsigned int shift = 0;

	if (len && (str[len - 1] == 'k' || str[len - 1] == 'K'))
		shift = 10;
	else if (len && (str[len - 1] == 'm' || str[len - 1] == 'M'))
		shift = 20;
	if (shift)
		len--;
	if (!len || len >= sizeof(num))
		goto bad;
	memcpy(num, str, len);
	num[len] = '\0';
	if (kstrtoull(num, 10, &val) || val > (LAYERFS_COW_BLOCK_MAX >> shift))
		goto bad;
	val <<= shift;
	if (val < LAYERFS_COW_BLOCK_MIN || !is_power_of_2(val))
		goto bad;
	ctx->cow_block = val;
	return 0;
bad:
	return invalfc(fc, "cow_block '%s': need a power of two from %u to %u bytes",
		       str, LAYERFS_COW_BLOCK_MIN, LAYERFS_COW_BLOCK_MAX);
}

/*
 * "lowerdir=TOP:...:BOTTOM".  A colon inside a path is written "\:" and a
 * backslash "\\".
 */
static int lfs_parse_lowerdir(struct fs_context *fc, char *list)
{
	char *out, *start, *p;
	int err;

	if (!*list)
		return invalfc(fc, "empty layer list in lowerdir");

	start = list;
	out = list;
	for (p = list; ; p++) {
		if (*p == '\\' && (p[1] == ':' || p[1] == '\\')) {
			*out++ = *++p;
			continue;
		}
		if (*p == ':' || *p == '\0') {
			bool last = *p == '\0';

			*out = '\0';
			err = lfs_add_layer(fc, start);
			if (err)
				return err;
			if (last)
				return 0;
			start = p + 1;
			out = start;
			continue;
		}
		*out++ = *p;
	}
}

static int lfs_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	struct lfs_fs_context *ctx = fc->fs_private;
	struct fs_parse_result result;
	int opt;

	opt = fs_parse(fc, lfs_parameter_spec, param, &result);
	if (opt < 0)
		return opt;

	/*
	 * mount(8) repeats the options it read from mountinfo on remount;
	 * layers are fixed for the life of the superblock, so as overlayfs
	 * does, they are ignored here rather than failing every remount.
	 */
	if (fc->purpose == FS_CONTEXT_FOR_RECONFIGURE)
		return 0;

	switch (opt) {
	case LFS_OPT_LOWERDIR:
		if (ctx->seen_lowerdir_plus)
			return invalfc(fc, "lowerdir cannot be mixed with lowerdir+");
		/* A repeated lowerdir replaces the list, as in overlayfs. */
		lfs_ctx_reset_layers(ctx);
		ctx->seen_lowerdir = true;
		return lfs_parse_lowerdir(fc, param->string);
	case LFS_OPT_LOWERDIR_ADD:
		if (ctx->seen_lowerdir)
			return invalfc(fc, "lowerdir+ cannot be mixed with lowerdir");
		ctx->seen_lowerdir_plus = true;
		return lfs_add_layer(fc, param->string);
	case LFS_OPT_UPPERDIR:
		lfs_ctx_reset_rwdir(&ctx->upper, &ctx->upper_name);
		return lfs_set_rwdir(fc, "upperdir", param->string,
				     &ctx->upper, &ctx->upper_name);
	case LFS_OPT_WORKDIR:
		lfs_ctx_reset_rwdir(&ctx->work, &ctx->work_name);
		return lfs_set_rwdir(fc, "workdir", param->string,
				     &ctx->work, &ctx->work_name);
	case LFS_OPT_COW_BLOCK:
		return lfs_parse_cow_block(fc, param->string);
	case LFS_OPT_IMAGE:
		if (strlen(param->string) >= LAYERFS_IMAGE_REF_MAX)
			return invalfc(fc, "image reference longer than %d bytes",
				       LAYERFS_IMAGE_REF_MAX - 1);
		kfree(ctx->image);
		ctx->image = param->string;
		param->string = NULL;
		return 0;
	case LFS_OPT_PULL:
		ctx->pull = result.uint_32;
		ctx->seen_pull = true;
		return 0;
	case LFS_OPT_RESOLVE_TIMEOUT:
		if (!result.uint_32 ||
		    result.uint_32 > LAYERFS_RESOLVE_TIMEOUT_MAX)
			return invalfc(fc, "resolve_timeout %u: need 1 to %u seconds",
				       result.uint_32,
				       LAYERFS_RESOLVE_TIMEOUT_MAX);
		ctx->resolve_timeout = result.uint_32;
		ctx->seen_resolve_timeout = true;
		return 0;
	}
	return -EINVAL;
}

/* image=REF: the layers come from layerd instead of lowerdir=. */
static int lfs_get_image(struct fs_context *fc)
{
	struct lfs_fs_context *ctx = fc->fs_private;
	struct lfs_fs *ofs = fc->s_fs_info;
	char *digest = NULL;
	int err;

	if (!ctx->image) {
		if (ctx->seen_pull || ctx->seen_resolve_timeout)
			return invalfc(fc, "pull= and resolve_timeout= need image=");
		return 0;
	}
	if (ctx->seen_lowerdir || ctx->seen_lowerdir_plus)
		return invalfc(fc, "image= and lowerdir= cannot be combined");
	if (!*ctx->image)
		return invalfc(fc, "empty image reference");

	err = lfs_genl_resolve(fc, ctx->image, ctx->pull,
			       ctx->resolve_timeout, &digest);
	if (err)
		return err;
	ofs->image_ref = ctx->image;
	ctx->image = NULL;
	ofs->image_digest = digest;
	return 0;
}

static int lfs_get_tree(struct fs_context *fc)
{
	int err;

	err = lfs_get_image(fc);
	if (err)
		return err;
	return get_tree_nodev(fc, lfs_fill_super);
}

static void lfs_free_fc(struct fs_context *fc)
{
	struct lfs_fs_context *ctx = fc->fs_private;

	if (ctx) {
		lfs_ctx_reset_layers(ctx);
		lfs_ctx_reset_rwdir(&ctx->upper, &ctx->upper_name);
		lfs_ctx_reset_rwdir(&ctx->work, &ctx->work_name);
		kfree(ctx->lower);
		kfree(ctx->names);
		kfree(ctx->image);
		kfree(ctx);
	}
	/* Still set if the superblock was never created. */
	lfs_free_fs(fc->s_fs_info);
}

static int lfs_reconfigure(struct fs_context *fc)
{
	struct lfs_fs *ofs = LFS_FS(fc->root->d_sb);

	/* Going read-only, the VFS syncs us (->sync_fs) first. */
	if (!(fc->sb_flags & SB_RDONLY) && !ofs->upper_mnt) {
		errorfc(fc, "no upperdir: the mount is read-only");
		return -EROFS;
	}
	return 0;
}

static const struct fs_context_operations lfs_context_ops = {
	.parse_param	= lfs_parse_param,
	.get_tree	= lfs_get_tree,
	.reconfigure	= lfs_reconfigure,
	.free		= lfs_free_fc,
};

int lfs_init_fs_context(struct fs_context *fc)
{
	struct lfs_fs_context *ctx;
	struct lfs_fs *ofs;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ofs = kzalloc(sizeof(*ofs), GFP_KERNEL);
	if (!ofs) {
		kfree(ctx);
		return -ENOMEM;
	}
	INIT_LIST_HEAD(&ofs->inuse);
	fc->fs_private = ctx;
	fc->s_fs_info = ofs;
	fc->ops = &lfs_context_ops;
	ctx->cow_block = LAYERFS_COW_BLOCK_DEFAULT;
	ctx->pull = LAYERFS_PULL_MISSING;
	ctx->resolve_timeout = LAYERFS_RESOLVE_TIMEOUT_DEFAULT;
	return 0;
}

int lfs_show_options(struct seq_file *m, struct dentry *dentry)
{
	struct lfs_fs *ofs = LFS_FS(dentry->d_sb);
	unsigned int i;

	if (ofs->image_ref) {
		seq_puts(m, ",image=");
		seq_escape(m, ofs->image_ref, ", \t\n\\");
	}
	seq_puts(m, ",lowerdir=");
	for (i = 0; i < ofs->num_layers; i++) {
		if (i)
			seq_putc(m, ':');
		/* Escape what would split the option or the list. */
		seq_escape(m, ofs->layers[i].name, ":, \t\n\\");
	}
	if (ofs->upper_mnt) {
		seq_puts(m, ",upperdir=");
		seq_escape(m, ofs->upper_name, ", \t\n\\");
		seq_puts(m, ",workdir=");
		seq_escape(m, ofs->work_name, ", \t\n\\");
		seq_printf(m, ",cow_block=%u", ofs->cow_block);
	}
	return 0;
}
