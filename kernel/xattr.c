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
	const struct cred *old_cred;
	struct lfs_path lp;
	ssize_t res;

	if (lfs_is_private_xattr(name))
		return -ENODATA;

	lfs_real_lp(inode, &lp);
	old_cred = lfs_override_creds(inode->i_sb);
	res = vfs_getxattr(lfs_layer_idmap(lp.layer), lp.dentry, name,
			   buffer, size);
	revert_creds(old_cred);
	return res;
}

static int lfs_xattr_set(const struct xattr_handler *handler,
			 struct mnt_idmap *idmap, struct dentry *dentry,
			 struct inode *inode, const char *name,
			 const void *value, size_t size, int flags)
{
	const struct cred *old_cred;
	struct dentry *upper;
	int err;

	/* layerfs's own metadata is not the user's to change. */
	if (lfs_is_private_xattr(name))
		return -EPERM;
	if (!LFS_FS(inode->i_sb)->upper_mnt)
		return -EROFS;
	err = lfs_want_write(dentry);
	if (err)
		return err;
	old_cred = lfs_override_creds(inode->i_sb);
	err = lfs_copy_up(dentry);
	if (!err) {
		upper = lfs_upper(inode);
		if (value)
			err = vfs_setxattr(mnt_idmap(LFS_FS(inode->i_sb)->upper_mnt),
					   upper, name, value, size, flags);
		else
			err = vfs_removexattr(mnt_idmap(LFS_FS(inode->i_sb)->upper_mnt),
					      upper, name);
		lfs_copyattr(inode);
	}
	revert_creds(old_cred);
	lfs_drop_write(dentry);
	return err;
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
	const struct cred *old_cred;
	struct lfs_path lp;
	ssize_t res, len;
	char *s;

	lfs_real_lp(d_inode(dentry), &lp);
	old_cred = lfs_override_creds(dentry->d_sb);
	res = vfs_listxattr(lp.dentry, list, size);
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
	struct inode *realinode = lfs_real_inode_rcu(inode);
	const struct cred *old_cred;
	struct posix_acl *acl;

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
	const struct cred *old_cred;
	struct posix_acl *acl;
	struct lfs_path lp;

	lfs_real_lp(d_inode(dentry), &lp);
	if (!IS_POSIXACL(d_inode(lp.dentry)))
		return NULL;

	old_cred = lfs_override_creds(dentry->d_sb);
	acl = vfs_get_acl(lfs_layer_idmap(lp.layer), lp.dentry,
			  type == ACL_TYPE_ACCESS ? XATTR_NAME_POSIX_ACL_ACCESS :
						    XATTR_NAME_POSIX_ACL_DEFAULT);
	revert_creds(old_cred);
	/* The ->get_acl contract: NULL, not an error, when there is none. */
	if (acl == ERR_PTR(-ENODATA))
		return NULL;
	return acl;
}

int lfs_set_acl(struct mnt_idmap *idmap, struct dentry *dentry,
		struct posix_acl *acl, int type)
{
	struct inode *inode = d_inode(dentry);
	const char *name = type == ACL_TYPE_ACCESS ?
			   XATTR_NAME_POSIX_ACL_ACCESS :
			   XATTR_NAME_POSIX_ACL_DEFAULT;
	struct mnt_idmap *uidmap;
	const struct cred *old_cred;
	int err;

	/*
	 * Setting an access ACL, posix_acl_update_mode() drops S_ISGID when
	 * the caller is neither in the file's group nor CAP_FSETID; the
	 * upper filesystem sees the mounter's credentials and would keep
	 * it.  As overlayfs does, it is dropped here first, as the caller.
	 */
	if (unlikely(inode->i_mode & S_ISGID) && acl &&
	    type == ACL_TYPE_ACCESS &&
	    !in_group_or_capable(idmap, inode,
				 i_gid_into_vfsgid(idmap, inode))) {
		struct iattr iattr = { .ia_valid = ATTR_KILL_SGID };

		err = lfs_setattr(idmap, dentry, &iattr);
		if (err)
			return err;
	}
	err = lfs_want_write(dentry);
	if (err)
		return err;
	uidmap = mnt_idmap(LFS_FS(inode->i_sb)->upper_mnt);
	old_cred = lfs_override_creds(inode->i_sb);
	err = lfs_copy_up(dentry);
	if (!err) {
		if (acl)
			err = vfs_set_acl(uidmap, lfs_upper(inode), name, acl);
		else
			err = vfs_remove_acl(uidmap, lfs_upper(inode), name);
		lfs_copyattr(inode);
	}
	revert_creds(old_cred);
	lfs_drop_write(dentry);
	if (!err)
		forget_all_cached_acls(inode);
	return err;
}
