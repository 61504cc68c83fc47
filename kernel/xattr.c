// SPDX-License-Identifier: GPL-2.0
/*
 * layerfs: extended attributes and POSIX ACLs, passed through from the
 * topmost real object with layerfs's and overlayfs's private names hidden.
 *
 * Private names: "trusted.layerfs.*" is layerfs's own metadata and
 * "trusted.overlay.*" is overlayfs's (opaque markers, redirects, origins in
 * layer directories made for overlayfs); neither describes the file a user
 * sees, so neither is listed or readable through the merged view.
 */

#include <linux/fs.h>
#include <linux/posix_acl.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/xattr.h>
#include "layerfs.h"

static bool lfs_is_private_xattr(const char *name)
{
	return !strncmp(name, LAYERFS_XATTR_PREFIX,
			sizeof(LAYERFS_XATTR_PREFIX) - 1) ||
	       !strncmp(name, LAYERFS_OVL_XATTR_PREFIX,
			sizeof(LAYERFS_OVL_XATTR_PREFIX) - 1);
}

static int lfs_xattr_get(const struct xattr_handler *handler,
			 struct dentry *dentry, struct inode *inode,
			 const char *name, void *buffer, size_t size)
{
	struct lfs_path *lp = &LFS_I(inode)->paths[0];
	const struct cred *old_cred;
	ssize_t res;

	if (lfs_is_private_xattr(name))
		return -ENODATA;

	old_cred = lfs_override_creds(inode->i_sb);
	res = vfs_getxattr(lfs_layer_idmap(lp->layer), lp->dentry, name,
			   buffer, size);
	revert_creds(old_cred);
	return res;
}

static int lfs_xattr_set(const struct xattr_handler *handler,
			 struct mnt_idmap *idmap, struct dentry *dentry,
			 struct inode *inode, const char *name,
			 const void *value, size_t size, int flags)
{
	/* The VFS refuses first on a read-only superblock; be explicit. */
	return -EROFS;
}

static const struct xattr_handler lfs_other_xattr_handler = {
	.prefix	= "",	/* every name not claimed by the VFS itself */
	.get	= lfs_xattr_get,
	.set	= lfs_xattr_set,
};

const struct xattr_handler * const lfs_xattr_handlers[] = {
	&lfs_other_xattr_handler,
	NULL
};

ssize_t lfs_listxattr(struct dentry *dentry, char *list, size_t size)
{
	struct lfs_path *lp = &LFS_I(d_inode(dentry))->paths[0];
	const struct cred *old_cred;
	ssize_t res, len;
	char *s;

	old_cred = lfs_override_creds(dentry->d_sb);
	res = vfs_listxattr(lp->dentry, list, size);
	revert_creds(old_cred);

	/* A size query may overestimate by the hidden names; that is allowed. */
	if (res <= 0 || size == 0)
		return res;

	for (s = list, len = res; len > 0;) {
		size_t slen = strnlen(s, len) + 1;

		/* The real filesystem handed us a malformed list. */
		if (WARN_ON_ONCE(slen > len))
			return -EIO;
		len -= slen;
		if (lfs_is_private_xattr(s)) {
			res -= slen;
			memmove(s, s + slen, len);
		} else {
			s += slen;
		}
	}
	return res;
}

struct posix_acl *lfs_get_inode_acl(struct inode *inode, int type, bool rcu)
{
	struct lfs_path *lp;
	struct inode *realinode;
	const struct cred *old_cred;
	struct posix_acl *acl;
	struct dentry *d;

	lp = READ_ONCE(LFS_I(inode)->paths);
	d = lp ? READ_ONCE(lp[0].dentry) : NULL;
	realinode = d ? d_inode_rcu(d) : NULL;
	if (!realinode)
		return rcu ? ERR_PTR(-ECHILD) : ERR_PTR(-EIO);
	if (!IS_POSIXACL(realinode))
		return NULL;
	if (rcu)
		return get_cached_acl_rcu(realinode, type);

	old_cred = lfs_override_creds(inode->i_sb);
	acl = get_inode_acl(realinode, type);
	revert_creds(old_cred);
	return acl;
}

struct posix_acl *lfs_get_acl(struct mnt_idmap *idmap, struct dentry *dentry,
			      int type)
{
	struct lfs_path *lp = &LFS_I(d_inode(dentry))->paths[0];
	const struct cred *old_cred;
	struct posix_acl *acl;

	if (!IS_POSIXACL(d_inode(lp->dentry)))
		return NULL;

	old_cred = lfs_override_creds(dentry->d_sb);
	acl = vfs_get_acl(lfs_layer_idmap(lp->layer), lp->dentry,
			  type == ACL_TYPE_ACCESS ? XATTR_NAME_POSIX_ACL_ACCESS :
						    XATTR_NAME_POSIX_ACL_DEFAULT);
	revert_creds(old_cred);
	/* The ->get_acl contract: NULL, not an error, when there is none. */
	if (acl == ERR_PTR(-ENODATA))
		return NULL;
	return acl;
}
