// SPDX-License-Identifier: GPL-2.0
/*
 * layerfs: the generic netlink family between the module and layerd.
 *
 * A mount naming image=REF cannot know the image's layers; the daemon
 * (layerd) can, after pulling what is missing.  The daemon registers its
 * socket (REGISTER); the mount sends it RESOLVE with a request id and
 * waits, killably and with a deadline, for RESOLVE_REPLY from that same
 * socket.  When the socket closes (NETLINK_URELEASE) every waiting mount
 * fails at once, so a dead daemon never hangs a mount.  Mounts never talk
 * to the daemon after they are made.
 *
 * Numbers, attributes and limits are in include/uapi/linux/layerfs.h.
 * Every command needs CAP_NET_ADMIN; the family lives in init_net only.
 *
 * Locking:
 *   lfs_genl_lock  - the registration, the pending requests (lfs_pending)
 *                    and the counters.  Held across genlmsg_unicast, which
 *                    never blocks (MSG_DONTWAIT), never across a wait.
 *   lfs_mounts_lock - the list of mounted superblocks (lfs_mounts), for
 *                    the MOUNTS dump.
 * The two are never held together.
 */

#include <linux/module.h>
#include <linux/netlink.h>
#include <linux/notifier.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include "layerfs.h"

struct lfs_resolve {
	struct completion done;
	int status;		/* 0 or -errno, valid once done */
	char *error;		/* the daemon's text, or NULL */
	char *digest;
	char **layers;		/* top first */
	unsigned int nr;
};

static DEFINE_MUTEX(lfs_genl_lock);
static DEFINE_XARRAY_ALLOC1(lfs_pending);
static u32 lfs_pending_next;
static bool lfs_daemon_registered;
static u32 lfs_daemon_portid;
static pid_t lfs_daemon_pid;
static unsigned int lfs_pending_count;
static u64 lfs_requests_sent;
static u64 lfs_replies_rejected;

static DEFINE_MUTEX(lfs_mounts_lock);
static LIST_HEAD(lfs_mounts);
static u64 lfs_mount_next_id;

static struct genl_family lfs_genl_family;

/* Make every waiting mount fail with @err; called with lfs_genl_lock. */
static void lfs_fail_pending(int err)
{
	struct lfs_resolve *req;
	unsigned long id;

	lockdep_assert_held(&lfs_genl_lock);
	xa_for_each(&lfs_pending, id, req) {
		xa_erase(&lfs_pending, id);
		lfs_pending_count--;
		req->status = err;
		complete(&req->done);
	}
}

static void lfs_daemon_forget(const char *why)
{
	lockdep_assert_held(&lfs_genl_lock);
	if (!lfs_daemon_registered)
		return;
	pr_info("layerfs: layerd (pid %d) %s\n", lfs_daemon_pid, why);
	lfs_daemon_registered = false;
	lfs_daemon_portid = 0;
	lfs_daemon_pid = 0;
	lfs_fail_pending(-ECONNRESET);
}

static int lfs_genl_register(struct sk_buff *skb, struct genl_info *info)
{
	int err = 0;

	mutex_lock(&lfs_genl_lock);
	if (lfs_daemon_registered) {
		if (lfs_daemon_portid != info->snd_portid) {
			GENL_SET_ERR_MSG(info, "another layerd is registered");
			err = -EBUSY;
		}
		goto out;
	}
	lfs_daemon_registered = true;
	lfs_daemon_portid = info->snd_portid;
	lfs_daemon_pid = task_tgid_nr(current);
	pr_info("layerfs: layerd (pid %d) registered\n", lfs_daemon_pid);
out:
	mutex_unlock(&lfs_genl_lock);
	return err;
}

static int lfs_genl_unregister(struct sk_buff *skb, struct genl_info *info)
{
	int err = 0;

	mutex_lock(&lfs_genl_lock);
	if (!lfs_daemon_registered || lfs_daemon_portid != info->snd_portid) {
		GENL_SET_ERR_MSG(info, "this socket is not the registered layerd");
		err = -ENOENT;
	} else {
		lfs_daemon_forget("unregistered");
	}
	mutex_unlock(&lfs_genl_lock);
	return err;
}

/* Copy a successful reply's digest and layers into @req. */
static int lfs_reply_take(struct lfs_resolve *req, struct genl_info *info)
{
	const struct nlattr *nla;
	unsigned int nr = 0, i = 0;
	int rem;

	if (!info->attrs[LAYERFS_A_IMAGE_DIGEST]) {
		GENL_SET_ERR_MSG(info, "success without an image digest");
		return -EINVAL;
	}
	nlmsg_for_each_attr(nla, info->nlhdr, GENL_HDRLEN, rem) {
		if (nla_type(nla) != LAYERFS_A_LAYER)
			continue;
		/* The policy checked it is a NUL-terminated string. */
		if (*(char *)nla_data(nla) != '/') {
			NL_SET_ERR_MSG_ATTR(info->extack, nla,
					    "layer path is not absolute");
			return -EINVAL;
		}
		nr++;
	}
	if (!nr || nr > LAYERFS_MAX_LAYERS) {
		GENL_SET_ERR_MSG(info, "need 1 to LAYERFS_MAX_LAYERS layers");
		return -EINVAL;
	}

	req->digest = nla_strdup(info->attrs[LAYERFS_A_IMAGE_DIGEST],
				 GFP_KERNEL);
	req->layers = kcalloc(nr, sizeof(*req->layers), GFP_KERNEL);
	if (!req->digest || !req->layers)
		return -ENOMEM;
	nlmsg_for_each_attr(nla, info->nlhdr, GENL_HDRLEN, rem) {
		if (nla_type(nla) != LAYERFS_A_LAYER)
			continue;
		req->layers[i] = nla_strdup(nla, GFP_KERNEL);
		if (!req->layers[i])
			return -ENOMEM;
		req->nr = ++i;
	}
	return 0;
}

static int lfs_genl_resolve_reply(struct sk_buff *skb, struct genl_info *info)
{
	struct lfs_resolve *req;
	u32 id, status;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, LAYERFS_A_REQUEST_ID) ||
	    GENL_REQ_ATTR_CHECK(info, LAYERFS_A_STATUS)) {
		err = -EINVAL;
		goto reject_unlocked;
	}
	id = nla_get_u32(info->attrs[LAYERFS_A_REQUEST_ID]);
	status = nla_get_u32(info->attrs[LAYERFS_A_STATUS]);

	mutex_lock(&lfs_genl_lock);
	if (!lfs_daemon_registered || lfs_daemon_portid != info->snd_portid) {
		GENL_SET_ERR_MSG(info, "reply not from the registered layerd");
		err = -EACCES;
		goto reject;
	}
	req = xa_load(&lfs_pending, id);
	if (!req) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[LAYERFS_A_REQUEST_ID],
				    "no request waits with this id");
		err = -ENOENT;
		goto reject;
	}

	if (status) {
		req->status = -(int)status;
		if (info->attrs[LAYERFS_A_ERROR_TEXT])
			req->error = nla_strdup(info->attrs[LAYERFS_A_ERROR_TEXT],
						GFP_KERNEL);
		err = 0;
	} else {
		err = lfs_reply_take(req, info);
		/*
		 * A malformed answer fails the mount now rather than leaving
		 * it to the timeout; the daemon hears why.
		 */
		req->status = err == -ENOMEM ? err : err ? -EPROTO : 0;
		if (err)
			lfs_replies_rejected++;
	}
	xa_erase(&lfs_pending, id);
	lfs_pending_count--;
	complete(&req->done);
	mutex_unlock(&lfs_genl_lock);
	return err;

reject:
	lfs_replies_rejected++;
	mutex_unlock(&lfs_genl_lock);
	return err;
reject_unlocked:
	mutex_lock(&lfs_genl_lock);
	lfs_replies_rejected++;
	mutex_unlock(&lfs_genl_lock);
	return err;
}

static int lfs_genl_status(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;
	int err = -EMSGSIZE;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &lfs_genl_family, 0,
				LAYERFS_CMD_STATUS);
	if (!hdr)
		goto out_free;

	mutex_lock(&lfs_genl_lock);
	if (nla_put_u32(msg, LAYERFS_A_DAEMON_PID, lfs_daemon_pid) ||
	    nla_put_u32(msg, LAYERFS_A_PENDING, lfs_pending_count) ||
	    nla_put_u64_64bit(msg, LAYERFS_A_REQUESTS, lfs_requests_sent,
			      LAYERFS_A_PAD) ||
	    nla_put_u64_64bit(msg, LAYERFS_A_REJECTED, lfs_replies_rejected,
			      LAYERFS_A_PAD)) {
		mutex_unlock(&lfs_genl_lock);
		goto out_free;
	}
	mutex_unlock(&lfs_genl_lock);
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

out_free:
	nlmsg_free(msg);
	return err;
}

static int lfs_put_mount(struct sk_buff *skb, struct netlink_callback *cb,
			 struct lfs_fs *ofs)
{
	unsigned int i;
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &lfs_genl_family, NLM_F_MULTI, LAYERFS_CMD_MOUNTS);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, LAYERFS_A_MOUNT_ID, ofs->mount_id,
			      LAYERFS_A_PAD) ||
	    nla_put_u32(skb, LAYERFS_A_DEV, new_encode_dev(ofs->sb->s_dev)))
		goto cancel;
	if (ofs->image_ref &&
	    nla_put_string(skb, LAYERFS_A_IMAGE_REF, ofs->image_ref))
		goto cancel;
	if (ofs->image_digest &&
	    nla_put_string(skb, LAYERFS_A_IMAGE_DIGEST, ofs->image_digest))
		goto cancel;
	for (i = 0; i < ofs->num_layers; i++)
		if (nla_put_string(skb, LAYERFS_A_LAYER, ofs->layers[i].name))
			goto cancel;
	if (ofs->upper_mnt &&
	    (nla_put_string(skb, LAYERFS_A_UPPERDIR, ofs->upper_name) ||
	     nla_put_string(skb, LAYERFS_A_WORKDIR, ofs->work_name) ||
	     nla_put_u32(skb, LAYERFS_A_COW_BLOCK, ofs->cow_block) ||
	     nla_put_u64_64bit(skb, LAYERFS_A_COW_FILES,
			       atomic64_read(&ofs->cow_files), LAYERFS_A_PAD) ||
	     nla_put_u64_64bit(skb, LAYERFS_A_COW_GRANULES,
			       atomic64_read(&ofs->cow_granules),
			       LAYERFS_A_PAD) ||
	     nla_put_u64_64bit(skb, LAYERFS_A_COW_BYTES,
			       atomic64_read(&ofs->cow_bytes), LAYERFS_A_PAD) ||
	     nla_put_u64_64bit(skb, LAYERFS_A_COW_WHOLE_BYTES,
			       atomic64_read(&ofs->cow_whole_bytes),
			       LAYERFS_A_PAD)))
		goto cancel;
	genlmsg_end(skb, hdr);
	return 0;

cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/* One message per mount; cb->args[0] is the last mount id sent. */
static int lfs_genl_mounts_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct lfs_fs *ofs;
	int err = 0;

	mutex_lock(&lfs_mounts_lock);
	list_for_each_entry(ofs, &lfs_mounts, mounts) {
		if (ofs->mount_id <= cb->args[0])
			continue;
		err = lfs_put_mount(skb, cb, ofs);
		if (err)
			break;
		cb->args[0] = ofs->mount_id;
	}
	mutex_unlock(&lfs_mounts_lock);
	/* A mount that does not fit an empty message cannot be sent. */
	if (err && !skb->len)
		return err;
	return skb->len;
}

static const struct nla_policy lfs_reply_policy[LAYERFS_A_MAX + 1] = {
	[LAYERFS_A_REQUEST_ID]	 = { .type = NLA_U32 },
	[LAYERFS_A_STATUS]	 = NLA_POLICY_MAX(NLA_U32, MAX_ERRNO),
	[LAYERFS_A_ERROR_TEXT]	 = { .type = NLA_NUL_STRING,
				     .len = LAYERFS_ERROR_TEXT_MAX - 1 },
	[LAYERFS_A_IMAGE_DIGEST] = { .type = NLA_NUL_STRING,
				     .len = LAYERFS_DIGEST_MAX - 1 },
	[LAYERFS_A_LAYER]	 = { .type = NLA_NUL_STRING,
				     .len = LAYERFS_LAYER_PATH_MAX - 1 },
};

/*
 * Commands without a policy accept no attributes at all (strict
 * validation, resv_start_op 0).  RESOLVE is only ever sent by the module.
 */
static const struct genl_ops lfs_genl_ops[] = {
	{
		.cmd	= LAYERFS_CMD_REGISTER,
		.doit	= lfs_genl_register,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= LAYERFS_CMD_UNREGISTER,
		.doit	= lfs_genl_unregister,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= LAYERFS_CMD_RESOLVE_REPLY,
		.doit	= lfs_genl_resolve_reply,
		.policy	= lfs_reply_policy,
		.maxattr = LAYERFS_A_MAX,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= LAYERFS_CMD_MOUNTS,
		.dumpit	= lfs_genl_mounts_dump,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= LAYERFS_CMD_STATUS,
		.doit	= lfs_genl_status,
		.flags	= GENL_ADMIN_PERM,
	},
};

/* layerd resolving the family by name loads the module. */
MODULE_ALIAS_GENL_FAMILY(LAYERFS_GENL_NAME);

static struct genl_family lfs_genl_family __ro_after_init = {
	.name		= LAYERFS_GENL_NAME,
	.version	= LAYERFS_GENL_VERSION,
	.module		= THIS_MODULE,
	.ops		= lfs_genl_ops,
	.n_ops		= ARRAY_SIZE(lfs_genl_ops),
	.netnsok	= false,
	.parallel_ops	= true,
};

static struct sk_buff *lfs_resolve_msg(u32 id, const char *ref, u8 pull,
				       unsigned int timeout_s)
{
	struct sk_buff *skb;
	void *hdr;

	skb = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!skb)
		return NULL;
	hdr = genlmsg_put(skb, 0, 0, &lfs_genl_family, 0, LAYERFS_CMD_RESOLVE);
	if (!hdr ||
	    nla_put_u32(skb, LAYERFS_A_REQUEST_ID, id) ||
	    nla_put_string(skb, LAYERFS_A_IMAGE_REF, ref) ||
	    nla_put_u8(skb, LAYERFS_A_PULL_POLICY, pull) ||
	    nla_put_u32(skb, LAYERFS_A_TIMEOUT_MS, timeout_s * MSEC_PER_SEC)) {
		nlmsg_free(skb);
		return NULL;
	}
	genlmsg_end(skb, hdr);
	return skb;
}

static void lfs_resolve_free(struct lfs_resolve *req)
{
	unsigned int i;

	for (i = 0; i < req->nr; i++)
		kfree(req->layers[i]);
	kfree(req->layers);
	kfree(req->digest);
	kfree(req->error);
	kfree(req);
}

/*
 * Ask layerd for the layers of @ref and add them to @fc as if lowerdir=
 * had named them.  Fails at once without a daemon; otherwise waits for
 * the answer, a fatal signal, the daemon's death or the timeout.
 */
int lfs_genl_resolve(struct fs_context *fc, const char *ref, u8 pull,
		     unsigned int timeout_s, char **digest)
{
	struct lfs_resolve *req;
	struct sk_buff *skb;
	unsigned int i;
	long left;
	u32 id;
	int err;

	req = kzalloc(sizeof(*req), GFP_KERNEL);
	if (!req)
		return -ENOMEM;
	init_completion(&req->done);

	mutex_lock(&lfs_genl_lock);
	if (!lfs_daemon_registered) {
		mutex_unlock(&lfs_genl_lock);
		errorfc(fc, "image '%s': no layerd is registered", ref);
		kfree(req);
		return -ENOTCONN;
	}
	err = xa_alloc_cyclic(&lfs_pending, &id, req, xa_limit_32b,
			      &lfs_pending_next, GFP_KERNEL);
	if (err < 0) {
		mutex_unlock(&lfs_genl_lock);
		kfree(req);
		return err;
	}
	lfs_pending_count++;
	skb = lfs_resolve_msg(id, ref, pull, timeout_s);
	err = skb ? genlmsg_unicast(&init_net, skb, lfs_daemon_portid) :
		    -ENOMEM;
	if (err) {
		xa_erase(&lfs_pending, id);
		lfs_pending_count--;
		mutex_unlock(&lfs_genl_lock);
		errorfc(fc, "image '%s': cannot send the request to layerd: %d",
			ref, err);
		kfree(req);
		return err == -ENOMEM ? err : -ECOMM;
	}
	lfs_requests_sent++;
	mutex_unlock(&lfs_genl_lock);

	left = wait_for_completion_killable_timeout(&req->done,
						    timeout_s * HZ);

	/* Whoever erases the entry owns the answer; a late reply finds none. */
	mutex_lock(&lfs_genl_lock);
	if (xa_erase(&lfs_pending, id)) {
		lfs_pending_count--;
		req->status = left < 0 ? -EINTR : -ETIMEDOUT;
	}
	mutex_unlock(&lfs_genl_lock);

	err = req->status;
	switch (err) {
	case 0:
		break;
	case -EINTR:
		errorfc(fc, "image '%s': interrupted waiting for layerd", ref);
		goto out;
	case -ETIMEDOUT:
		errorfc(fc, "image '%s': layerd did not answer in %u s", ref,
			timeout_s);
		goto out;
	case -ECONNRESET:
		errorfc(fc, "image '%s': layerd went away before answering",
			ref);
		goto out;
	case -EPROTO:
		errorfc(fc, "image '%s': layerd sent a malformed answer", ref);
		goto out;
	default:
		errorfc(fc, "image '%s': %s", ref,
			req->error ?: "layerd could not resolve it");
		goto out;
	}

	for (i = 0; i < req->nr; i++) {
		err = lfs_add_layer(fc, req->layers[i]);
		if (err)
			goto out;
	}
	*digest = req->digest;
	req->digest = NULL;
out:
	lfs_resolve_free(req);
	return err;
}

void lfs_genl_mount_add(struct lfs_fs *ofs, struct super_block *sb)
{
	ofs->sb = sb;
	mutex_lock(&lfs_mounts_lock);
	ofs->mount_id = ++lfs_mount_next_id;
	list_add_tail(&ofs->mounts, &lfs_mounts);
	mutex_unlock(&lfs_mounts_lock);
}

void lfs_genl_mount_del(struct lfs_fs *ofs)
{
	if (!ofs->mount_id)
		return;
	mutex_lock(&lfs_mounts_lock);
	list_del(&ofs->mounts);
	mutex_unlock(&lfs_mounts_lock);
	ofs->mount_id = 0;
}

static int lfs_netlink_notify(struct notifier_block *nb, unsigned long state,
			      void *ptr)
{
	struct netlink_notify *n = ptr;

	if (state != NETLINK_URELEASE || n->protocol != NETLINK_GENERIC ||
	    !net_eq(n->net, &init_net))
		return NOTIFY_DONE;
	mutex_lock(&lfs_genl_lock);
	if (lfs_daemon_registered && lfs_daemon_portid == n->portid)
		lfs_daemon_forget("closed its socket");
	mutex_unlock(&lfs_genl_lock);
	return NOTIFY_DONE;
}

static struct notifier_block lfs_netlink_nb = {
	.notifier_call = lfs_netlink_notify,
};

int __init lfs_genl_init(void)
{
	int err;

	err = netlink_register_notifier(&lfs_netlink_nb);
	if (err)
		return err;
	err = genl_register_family(&lfs_genl_family);
	if (err)
		netlink_unregister_notifier(&lfs_netlink_nb);
	return err;
}

void lfs_genl_exit(void)
{
	genl_unregister_family(&lfs_genl_family);
	netlink_unregister_notifier(&lfs_netlink_nb);
	/* No mount can be waiting: each holds a reference on the module. */
	WARN_ON(!xa_empty(&lfs_pending));
	xa_destroy(&lfs_pending);
}
