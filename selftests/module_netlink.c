// SPDX-License-Identifier: GPL-2.0
/*
 * The generic netlink family "layerfs" and image= mounts, from both ends:
 * this program plays the daemon on raw netlink sockets (so it can also send
 * what no well-behaved daemon would) and mounts image=REF with fsopen(2) in
 * child processes, whose fs_context log carries the module's reasons.
 * The end-to-end test with the real layerd is user/tests/vm/.
 *
 * Run once (module_*), not per filesystem; the layers live in $LFS_TEST_DIR.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/layerfs.h>

#include "libharness.h"

#ifndef FSCONFIG_SET_STRING
#define FSCONFIG_SET_STRING	1
#define FSCONFIG_CMD_CREATE	6
#endif

/* ---------------------------------------------------------------------- */
/* Raw generic netlink                                                      */

struct nl {
	int fd;
	__u32 portid;
	__u16 family;
	__u32 seq;
};

struct msg {
	size_t len;
	union {
		struct nlmsghdr nlh;
		char buf[65536];
	};
};

static void msg_init(struct msg *m, __u16 type, __u16 flags, __u8 cmd)
{
	struct genlmsghdr *g;

	memset(&m->nlh, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	m->nlh.nlmsg_type = type;
	m->nlh.nlmsg_flags = NLM_F_REQUEST | flags;
	g = NLMSG_DATA(&m->nlh);
	g->cmd = cmd;
	g->version = LAYERFS_GENL_VERSION;
	m->len = NLMSG_HDRLEN + GENL_HDRLEN;
	m->nlh.nlmsg_len = m->len;
}

static void msg_put(struct msg *m, __u16 type, const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + m->len);

	if (m->len + NLA_HDRLEN + NLA_ALIGN(len) > sizeof(m->buf))
		abort();
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	memset((char *)a + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	m->len += NLA_HDRLEN + NLA_ALIGN(len);
	m->nlh.nlmsg_len = m->len;
}

static void msg_u32(struct msg *m, __u16 type, __u32 v)
{
	msg_put(m, type, &v, sizeof(v));
}

static void msg_str(struct msg *m, __u16 type, const char *s)
{
	msg_put(m, type, s, strlen(s) + 1);
}

static int nl_send(struct nl *nl, struct msg *m)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	m->nlh.nlmsg_len = m->len;
	m->nlh.nlmsg_seq = ++nl->seq;
	if (sendto(nl->fd, m->buf, m->len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) != (ssize_t)m->len)
		return -errno;
	return 0;
}

/* Receive one message into @m within @ms; -ETIMEDOUT if none came. */
static int nl_recv(struct nl *nl, struct msg *m, int ms)
{
	struct pollfd p = { .fd = nl->fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return -ETIMEDOUT;
	n = recv(nl->fd, m->buf, sizeof(m->buf), 0);
	if (n < 0)
		return -errno;
	if ((size_t)n < NLMSG_HDRLEN || m->nlh.nlmsg_len > (size_t)n)
		return -EBADMSG;
	m->len = n;
	return 0;
}

/* Send @m asking for an ack; the kernel's answer (0 or -errno). */
static int nl_call(struct nl *nl, struct msg *m)
{
	struct msg *r = malloc(sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	m->nlh.nlmsg_flags |= NLM_F_ACK;
	err = nl_send(nl, m);
	while (!err) {
		err = nl_recv(nl, r, 5000);
		if (err)
			break;
		if (r->nlh.nlmsg_type == NLMSG_ERROR &&
		    r->nlh.nlmsg_seq == nl->seq) {
			err = ((struct nlmsgerr *)NLMSG_DATA(&r->nlh))->error;
			break;
		}
	}
	free(r);
	return err;
}

/* Attribute @type of a genl message, or NULL. */
static struct nlattr *nlh_attr(struct nlmsghdr *h, __u16 type)
{
	size_t off = NLMSG_HDRLEN + GENL_HDRLEN;

	while (off + NLA_HDRLEN <= h->nlmsg_len) {
		struct nlattr *a = (struct nlattr *)((char *)h + off);

		if (a->nla_len < NLA_HDRLEN || off + a->nla_len > h->nlmsg_len)
			return NULL;
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		off += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

static struct nlattr *msg_attr(struct msg *m, __u16 type)
{
	return nlh_attr(&m->nlh, type);
}

static void *attr_data(struct nlattr *a)
{
	return (char *)a + NLA_HDRLEN;
}

static __u32 attr_u32(struct msg *m, __u16 type)
{
	struct nlattr *a = msg_attr(m, type);
	__u32 v = 0;

	if (a && a->nla_len >= NLA_HDRLEN + 4)
		memcpy(&v, attr_data(a), 4);
	return v;
}

static int nl_open(struct nl *nl)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t len = sizeof(sa);
	struct msg *m = malloc(sizeof(*m));
	struct nlattr *a;
	int err;

	memset(nl, 0, sizeof(*nl));
	if (!m)
		return -ENOMEM;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl->fd < 0 || bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(nl->fd, (struct sockaddr *)&sa, &len)) {
		err = -errno;
		goto out;
	}
	nl->portid = sa.nl_pid;

	msg_init(m, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY);
	((struct genlmsghdr *)NLMSG_DATA(&m->nlh))->version = 1;
	msg_str(m, CTRL_ATTR_FAMILY_NAME, LAYERFS_GENL_NAME);
	err = nl_send(nl, m);
	if (!err)
		err = nl_recv(nl, m, 5000);
	if (err)
		goto out;
	if (m->nlh.nlmsg_type == NLMSG_ERROR) {
		err = ((struct nlmsgerr *)NLMSG_DATA(&m->nlh))->error ?: -EPROTO;
		goto out;
	}
	a = msg_attr(m, CTRL_ATTR_FAMILY_ID);
	err = -EPROTO;
	if (!a)
		goto out;
	memcpy(&nl->family, attr_data(a), sizeof(nl->family));
	err = 0;
out:
	free(m);
	if (err && nl->fd >= 0)
		close(nl->fd);
	return err;
}

static int nl_cmd(struct nl *nl, __u8 cmd)
{
	struct msg *m = malloc(sizeof(*m));
	int err;

	if (!m)
		return -ENOMEM;
	msg_init(m, nl->family, 0, cmd);
	err = nl_call(nl, m);
	free(m);
	return err;
}

struct status {
	__u32 pid, pending;
	__u64 requests, rejected;
};

static int nl_status(struct nl *nl, struct status *st)
{
	struct msg *m = malloc(sizeof(*m));
	struct nlattr *a;
	int err;

	if (!m)
		return -ENOMEM;
	msg_init(m, nl->family, 0, LAYERFS_CMD_STATUS);
	err = nl_send(nl, m);
	while (!err) {
		err = nl_recv(nl, m, 5000);
		if (err)
			break;
		if (m->nlh.nlmsg_type == NLMSG_ERROR) {
			err = ((struct nlmsgerr *)NLMSG_DATA(&m->nlh))->error;
			if (!err)
				err = -EPROTO;
			break;
		}
		if (m->nlh.nlmsg_type != nl->family)
			continue;
		st->pid = attr_u32(m, LAYERFS_A_DAEMON_PID);
		st->pending = attr_u32(m, LAYERFS_A_PENDING);
		a = msg_attr(m, LAYERFS_A_REQUESTS);
		if (a)
			memcpy(&st->requests, attr_data(a), 8);
		a = msg_attr(m, LAYERFS_A_REJECTED);
		if (a)
			memcpy(&st->rejected, attr_data(a), 8);
		break;
	}
	free(m);
	return err;
}

/* ---------------------------------------------------------------------- */
/* A request as the daemon sees it, and answers                            */

struct request {
	__u32 id;
	char ref[LAYERFS_IMAGE_REF_MAX];
	int pull;		/* -1 if absent */
	__u32 timeout_ms;
};

static int recv_request(struct nl *nl, struct request *rq, int ms)
{
	struct msg *m = malloc(sizeof(*m));
	struct nlattr *a;
	int err;

	if (!m)
		return -ENOMEM;
	do {
		err = nl_recv(nl, m, ms);
	} while (!err && m->nlh.nlmsg_type == NLMSG_ERROR);
	if (err)
		goto out;
	err = -EPROTO;
	if (m->nlh.nlmsg_type != nl->family ||
	    ((struct genlmsghdr *)NLMSG_DATA(&m->nlh))->cmd != LAYERFS_CMD_RESOLVE)
		goto out;
	memset(rq, 0, sizeof(*rq));
	rq->id = attr_u32(m, LAYERFS_A_REQUEST_ID);
	rq->timeout_ms = attr_u32(m, LAYERFS_A_TIMEOUT_MS);
	a = msg_attr(m, LAYERFS_A_IMAGE_REF);
	if (!a || !msg_attr(m, LAYERFS_A_REQUEST_ID))
		goto out;
	snprintf(rq->ref, sizeof(rq->ref), "%s", (char *)attr_data(a));
	a = msg_attr(m, LAYERFS_A_PULL_POLICY);
	rq->pull = a ? *(__u8 *)attr_data(a) : -1;
	err = 0;
out:
	free(m);
	return err;
}

/* A RESOLVE_REPLY for @id with @status, to fill in; NULL without memory. */
static struct msg *reply_start(struct nl *nl, __u32 id, __u32 status)
{
	struct msg *m = malloc(sizeof(*m));

	if (m) {
		msg_init(m, nl->family, 0, LAYERFS_CMD_RESOLVE_REPLY);
		msg_u32(m, LAYERFS_A_REQUEST_ID, id);
		msg_u32(m, LAYERFS_A_STATUS, status);
	}
	return m;
}

static int reply_send(struct nl *nl, struct msg *m)
{
	int err = m ? nl_call(nl, m) : -ENOMEM;

	free(m);
	return err;
}

/* RESOLVE_REPLY with success: @layers is a NULL-terminated list. */
static int reply_ok(struct nl *nl, __u32 id, const char *digest,
		    const char *const *layers)
{
	struct msg *m = reply_start(nl, id, 0);

	if (m && digest)
		msg_str(m, LAYERFS_A_IMAGE_DIGEST, digest);
	for (; m && layers && *layers; layers++)
		msg_str(m, LAYERFS_A_LAYER, *layers);
	return reply_send(nl, m);
}

static int reply_err(struct nl *nl, __u32 id, __u32 status, const char *text)
{
	struct msg *m = reply_start(nl, id, status);

	if (m && text)
		msg_str(m, LAYERFS_A_ERROR_TEXT, text);
	return reply_send(nl, m);
}

/* ---------------------------------------------------------------------- */
/* Mounting in a child                                                      */

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct outcome {
	int err;		/* 0 or -errno of the mount */
	int top, bottom;	/* the marker files were found */
	char log[512];		/* the fs_context log, lines joined */
};

struct mounter {
	pid_t pid;
	int res;		/* read end: struct outcome */
	int hold;		/* write end: closing it lets the child exit */
};

/*
 * fsopen("layerfs") with "image" = @ref and the "KEY=VALUE" strings of
 * @opts, then FSCONFIG_CMD_CREATE (which waits for the daemon) in a child.
 * The child keeps the detached mount until @hold closes.
 */
static int start_mount(struct mounter *mt, const char *ref,
		       const char *const *opts)
{
	int res[2], hold[2];

	if (pipe2(res, O_CLOEXEC) || pipe2(hold, O_CLOEXEC))
		return -errno;
	mt->pid = fork();
	if (mt->pid < 0)
		return -errno;
	if (mt->pid == 0) {
		struct outcome o = { 0 };
		int fs, mfd;
		char c;

		/*
		 * Netlink sockets the test holds must close when the test
		 * closes them: a copy here would keep a "dead" daemon alive.
		 */
		for (fs = 3; fs < 1024; fs++)
			if (fs != res[1] && fs != hold[0])
				close(fs);
		fs = syscall(SYS_fsopen, "layerfs", 0);
		if (fs < 0)
			_exit(99);
		if (ref && syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING,
				   "image", ref, 0))
			o.err = -errno;
		for (; !o.err && opts && *opts; opts++) {
			char key[64], *eq;

			snprintf(key, sizeof(key), "%s", *opts);
			eq = strchr(key, '=');
			if (eq)
				*eq = '\0';
			if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, key,
				    strchr(*opts, '=') + 1, 0))
				o.err = -errno;
		}
		if (!o.err &&
		    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
			o.err = -errno;
		for (;;) {
			char line[256];
			ssize_t n = read(fs, line, sizeof(line) - 1);
			size_t l = strlen(o.log);

			if (n <= 0)
				break;
			line[n] = '\0';
			snprintf(o.log + l, sizeof(o.log) - l, "%s|", line);
		}
		if (!o.err) {
			mfd = syscall(SYS_fsmount, fs, 0, 0);
			if (mfd < 0) {
				o.err = -errno;
			} else {
				o.top = !faccessat(mfd, "top", F_OK, 0);
				o.bottom = !faccessat(mfd, "bottom", F_OK, 0);
			}
		}
		if (write(res[1], &o, sizeof(o)) != sizeof(o))
			_exit(98);
		/* Keep the mount until the test lets go. */
		while (read(hold[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(res[1]);
	close(hold[0]);
	mt->res = res[0];
	mt->hold = hold[1];
	return 0;
}

/* The child's outcome within @ms; -ETIMEDOUT if it is still waiting. */
static int mount_result(struct mounter *mt, struct outcome *o, int ms)
{
	struct pollfd p = { .fd = mt->res, .events = POLLIN };

	if (poll(&p, 1, ms) <= 0)
		return -ETIMEDOUT;
	if (read(mt->res, o, sizeof(*o)) != sizeof(*o))
		return -EPIPE;
	return 0;
}

static void end_mount(struct mounter *mt)
{
	if (mt->pid <= 0)
		return;
	close(mt->hold);
	close(mt->res);
	kill(mt->pid, SIGKILL);
	waitpid(mt->pid, NULL, 0);
	mt->pid = 0;
}

/* ---------------------------------------------------------------------- */

FIXTURE(nl)
{
	struct nl d;		/* the daemon's socket, registered */
	char top[PATH_MAX], bottom[PATH_MAX];
	const char *layers[3];
	struct mounter mt;
};

FIXTURE_SETUP(nl)
{
	const char *base = lfs_test_dir() ?: "/tmp";
	struct status st;
	int i;

	snprintf(self->top, sizeof(self->top), "%s/nl-top", base);
	snprintf(self->bottom, sizeof(self->bottom), "%s/nl-bottom", base);
	ASSERT_EQ(0, lfs_mkdir_p(self->top));
	ASSERT_EQ(0, lfs_mkdir_p(self->bottom));
	ASSERT_EQ(0, lfs_build(self->top, LFS_ENTRIES("top=t")));
	ASSERT_EQ(0, lfs_build(self->bottom, LFS_ENTRIES("bottom=b")));
	self->layers[0] = self->top;
	self->layers[1] = self->bottom;
	self->layers[2] = NULL;
	self->mt.pid = 0;

	ASSERT_EQ(0, nl_open(&self->d));
	/* A daemon left by an earlier test closes with its process. */
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, nl_status(&self->d, &st));
		if (!st.pid)
			break;
		usleep(100000);
	}
	ASSERT_EQ(0, st.pid) TH_LOG("a daemon (pid %u) is registered", st.pid);
	ASSERT_EQ(0, nl_cmd(&self->d, LAYERFS_CMD_REGISTER));
}

FIXTURE_TEARDOWN(nl)
{
	end_mount(&self->mt);
	close(self->d.fd);
}

/* Mount @ref and take the request it causes. */
static int mount_and_take(struct mounter *mt, struct nl *d, const char *ref,
			  const char *const *opts, struct request *rq)
{
	int err = start_mount(mt, ref, opts);

	return err ?: recv_request(d, rq, 5000);
}

TEST_F(nl, resolve_mounts_the_layers)
{
	struct request rq;
	struct outcome o;
	struct status st;

	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d,
				    "127.0.0.1:5000/test/app:1", NULL, &rq));
	EXPECT_STREQ("127.0.0.1:5000/test/app:1", rq.ref);
	EXPECT_EQ(LAYERFS_PULL_MISSING, rq.pull);
	EXPECT_EQ(LAYERFS_RESOLVE_TIMEOUT_DEFAULT * 1000, rq.timeout_ms);
	ASSERT_EQ(0, nl_status(&self->d, &st));
	EXPECT_EQ(1, st.pending);
	EXPECT_EQ((__u32)getpid(), st.pid);

	ASSERT_EQ(0, reply_ok(&self->d, rq.id, DIGEST, self->layers));
	ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
	ASSERT_EQ(0, o.err) TH_LOG("log: %s", o.log);
	EXPECT_TRUE(o.top);
	EXPECT_TRUE(o.bottom);
	ASSERT_EQ(0, nl_status(&self->d, &st));
	EXPECT_EQ(0, st.pending);
}

TEST_F(nl, policy_and_timeout_are_sent)
{
	const char *opts[] = { "pull=always", "resolve_timeout=7", NULL };
	const char *never[] = { "pull=never", NULL };
	struct request rq;
	struct outcome o;

	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:a", opts, &rq));
	EXPECT_EQ(LAYERFS_PULL_ALWAYS, rq.pull);
	EXPECT_EQ(7000, rq.timeout_ms);
	ASSERT_EQ(0, reply_ok(&self->d, rq.id, DIGEST, self->layers));
	ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
	EXPECT_EQ(0, o.err);
	end_mount(&self->mt);

	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:b", never, &rq));
	EXPECT_EQ(LAYERFS_PULL_NEVER, rq.pull);
	ASSERT_EQ(0, reply_ok(&self->d, rq.id, DIGEST, self->layers));
	ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
	EXPECT_EQ(0, o.err);
}

TEST_F(nl, daemon_error_fails_the_mount_with_its_text)
{
	struct request rq;
	struct outcome o;

	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:missing", NULL,
				    &rq));
	ASSERT_EQ(0, reply_err(&self->d, rq.id, ENOENT,
			       "manifest unknown: img:missing"));
	ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
	EXPECT_EQ(-ENOENT, o.err);
	EXPECT_NE(NULL, strstr(o.log, "manifest unknown: img:missing"))
		TH_LOG("log: %s", o.log);
}

TEST_F(nl, a_missing_layer_directory_fails_the_mount)
{
	const char *bad[] = { "/nonexistent/layer", NULL };
	struct request rq;
	struct outcome o;

	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:x", NULL, &rq));
	ASSERT_EQ(0, reply_ok(&self->d, rq.id, DIGEST, bad));
	ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
	EXPECT_EQ(-ENOENT, o.err);
	EXPECT_NE(NULL, strstr(o.log, "/nonexistent/layer")) TH_LOG("log: %s", o.log);
}

TEST_F(nl, one_daemon_at_a_time)
{
	struct nl other;
	struct status st;

	ASSERT_EQ(0, nl_open(&other));
	EXPECT_EQ(-EBUSY, nl_cmd(&other, LAYERFS_CMD_REGISTER));
	EXPECT_EQ(-ENOENT, nl_cmd(&other, LAYERFS_CMD_UNREGISTER));
	/* Registering again from the same socket is harmless. */
	EXPECT_EQ(0, nl_cmd(&self->d, LAYERFS_CMD_REGISTER));

	/* Closing the daemon's socket forgets it. */
	close(self->d.fd);
	ASSERT_EQ(0, nl_status(&other, &st));
	EXPECT_EQ(0, st.pid);
	EXPECT_EQ(0, nl_cmd(&other, LAYERFS_CMD_REGISTER));
	ASSERT_EQ(0, nl_status(&other, &st));
	EXPECT_EQ((__u32)getpid(), st.pid);
	EXPECT_EQ(0, nl_cmd(&other, LAYERFS_CMD_UNREGISTER));
	ASSERT_EQ(0, nl_status(&other, &st));
	EXPECT_EQ(0, st.pid);
	self->d = other;
}

TEST_F(nl, replies_from_another_socket_are_rejected_and_counted)
{
	struct status st0, st;
	struct request rq;
	struct outcome o;
	struct nl other;

	ASSERT_EQ(0, nl_open(&other));
	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:x", NULL, &rq));
	ASSERT_EQ(0, nl_status(&self->d, &st0));
	EXPECT_EQ(-EACCES, reply_ok(&other, rq.id, DIGEST, self->layers));
	EXPECT_EQ(-EACCES, reply_err(&other, rq.id, EIO, "forged"));
	ASSERT_EQ(0, nl_status(&self->d, &st));
	EXPECT_EQ(st0.rejected + 2, st.rejected);
	/* The mount still waits for the real daemon. */
	EXPECT_EQ(-ETIMEDOUT, mount_result(&self->mt, &o, 200));
	ASSERT_EQ(0, reply_ok(&self->d, rq.id, DIGEST, self->layers));
	ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
	EXPECT_EQ(0, o.err);
	close(other.fd);
}

TEST_F(nl, unknown_and_answered_ids_are_rejected)
{
	struct status st0, st;
	struct request rq;
	struct outcome o;

	ASSERT_EQ(0, nl_status(&self->d, &st0));
	EXPECT_EQ(-ENOENT, reply_ok(&self->d, 0xdeadbeef, DIGEST, self->layers));
	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:x", NULL, &rq));
	ASSERT_EQ(0, reply_ok(&self->d, rq.id, DIGEST, self->layers));
	EXPECT_EQ(-ENOENT, reply_ok(&self->d, rq.id, DIGEST, self->layers));
	EXPECT_EQ(-ENOENT, reply_err(&self->d, rq.id, EIO, "again"));
	ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
	EXPECT_EQ(0, o.err);
	ASSERT_EQ(0, nl_status(&self->d, &st));
	EXPECT_EQ(st0.rejected + 3, st.rejected);
}

/*
 * Replies the attribute policy refuses: the daemon gets EINVAL/ERANGE and
 * the mount keeps waiting, as for a reply that never came.
 */
TEST_F(nl, replies_the_policy_refuses)
{
	struct msg *m = malloc(sizeof(*m));
	char big[LAYERFS_ERROR_TEXT_MAX + 8];
	struct status st0, st;
	struct request rq;
	struct outcome o;
	int err;

	ASSERT_NE(NULL, m);
	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:x", NULL, &rq));
	ASSERT_EQ(0, nl_status(&self->d, &st0));

	/* No status. */
	msg_init(m, self->d.family, 0, LAYERFS_CMD_RESOLVE_REPLY);
	msg_u32(m, LAYERFS_A_REQUEST_ID, rq.id);
	EXPECT_EQ(-EINVAL, nl_call(&self->d, m));
	/* No id. */
	msg_init(m, self->d.family, 0, LAYERFS_CMD_RESOLVE_REPLY);
	msg_u32(m, LAYERFS_A_STATUS, 0);
	EXPECT_EQ(-EINVAL, nl_call(&self->d, m));
	/* A status that is no errno. */
	msg_init(m, self->d.family, 0, LAYERFS_CMD_RESOLVE_REPLY);
	msg_u32(m, LAYERFS_A_REQUEST_ID, rq.id);
	msg_u32(m, LAYERFS_A_STATUS, 100000);
	err = nl_call(&self->d, m);
	EXPECT_TRUE(err == -EINVAL || err == -ERANGE) TH_LOG("err %d", err);
	/* An id of the wrong size. */
	msg_init(m, self->d.family, 0, LAYERFS_CMD_RESOLVE_REPLY);
	msg_put(m, LAYERFS_A_REQUEST_ID, "ab", 2);
	msg_u32(m, LAYERFS_A_STATUS, EIO);
	EXPECT_EQ(-EINVAL, nl_call(&self->d, m));
	/* Error text without its NUL, and too long. */
	msg_init(m, self->d.family, 0, LAYERFS_CMD_RESOLVE_REPLY);
	msg_u32(m, LAYERFS_A_REQUEST_ID, rq.id);
	msg_u32(m, LAYERFS_A_STATUS, EIO);
	msg_put(m, LAYERFS_A_ERROR_TEXT, "abc", 3);
	EXPECT_EQ(-EINVAL, nl_call(&self->d, m));
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	msg_init(m, self->d.family, 0, LAYERFS_CMD_RESOLVE_REPLY);
	msg_u32(m, LAYERFS_A_REQUEST_ID, rq.id);
	msg_u32(m, LAYERFS_A_STATUS, EIO);
	msg_str(m, LAYERFS_A_ERROR_TEXT, big);
	err = nl_call(&self->d, m);
	EXPECT_TRUE(err == -EINVAL || err == -ERANGE) TH_LOG("err %d", err);
	/* An attribute the family does not know. */
	msg_init(m, self->d.family, 0, LAYERFS_CMD_RESOLVE_REPLY);
	msg_u32(m, LAYERFS_A_REQUEST_ID, rq.id);
	msg_u32(m, LAYERFS_A_STATUS, EIO);
	msg_u32(m, LAYERFS_A_MAX + 5, 1);
	EXPECT_EQ(-EINVAL, nl_call(&self->d, m));
	/* A reserved byte that is not zero. */
	msg_init(m, self->d.family, 0, LAYERFS_CMD_RESOLVE_REPLY);
	((struct genlmsghdr *)NLMSG_DATA(&m->nlh))->reserved = 1;
	msg_u32(m, LAYERFS_A_REQUEST_ID, rq.id);
	msg_u32(m, LAYERFS_A_STATUS, EIO);
	EXPECT_EQ(-EINVAL, nl_call(&self->d, m));
	/* Attributes where a command takes none. */
	msg_init(m, self->d.family, 0, LAYERFS_CMD_REGISTER);
	msg_u32(m, LAYERFS_A_REQUEST_ID, 1);
	EXPECT_EQ(-EINVAL, nl_call(&self->d, m));
	/* The command only the module sends. */
	msg_init(m, self->d.family, 0, LAYERFS_CMD_RESOLVE);
	EXPECT_EQ(-EOPNOTSUPP, nl_call(&self->d, m));

	EXPECT_EQ(-ETIMEDOUT, mount_result(&self->mt, &o, 100));
	ASSERT_EQ(0, nl_status(&self->d, &st));
	EXPECT_EQ(1, st.pending);
	ASSERT_EQ(0, reply_ok(&self->d, rq.id, DIGEST, self->layers));
	ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
	EXPECT_EQ(0, o.err);
	free(m);
}

/* Well-formed messages with a wrong answer fail the mount at once. */
TEST_F(nl, malformed_answers_fail_the_mount)
{
	const char *relative[] = { "layers/top", NULL };
	const char *none[] = { NULL };
	struct request rq;
	struct outcome o;

	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:x", NULL, &rq));
	EXPECT_EQ(-EINVAL, reply_ok(&self->d, rq.id, DIGEST, relative));
	ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
	EXPECT_EQ(-EPROTO, o.err);
	EXPECT_NE(NULL, strstr(o.log, "malformed")) TH_LOG("log: %s", o.log);
	end_mount(&self->mt);

	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:x", NULL, &rq));
	EXPECT_EQ(-EINVAL, reply_ok(&self->d, rq.id, NULL, self->layers));
	ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
	EXPECT_EQ(-EPROTO, o.err);
	end_mount(&self->mt);

	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:x", NULL, &rq));
	EXPECT_EQ(-EINVAL, reply_ok(&self->d, rq.id, DIGEST, none));
	ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
	EXPECT_EQ(-EPROTO, o.err);
}

TEST_F(nl, timeout_fails_the_mount_and_a_late_reply_is_rejected)
{
	const char *opts[] = { "resolve_timeout=1", NULL };
	struct request rq;
	struct outcome o;
	struct status st;

	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:slow", opts,
				    &rq));
	ASSERT_EQ(0, mount_result(&self->mt, &o, 10000));
	EXPECT_EQ(-ETIMEDOUT, o.err);
	EXPECT_NE(NULL, strstr(o.log, "did not answer")) TH_LOG("log: %s", o.log);
	EXPECT_EQ(-ENOENT, reply_ok(&self->d, rq.id, DIGEST, self->layers));
	ASSERT_EQ(0, nl_status(&self->d, &st));
	EXPECT_EQ(0, st.pending);
}

TEST_F(nl, daemon_exit_fails_pending_mounts_at_once)
{
	struct mounter more[3];
	struct request rq;
	struct outcome o;
	int i;

	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:x", NULL, &rq));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, mount_and_take(&more[i], &self->d, "img:y", NULL,
					    &rq));
	close(self->d.fd);
	self->d.fd = -1;
	ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
	EXPECT_EQ(-ECONNRESET, o.err);
	EXPECT_NE(NULL, strstr(o.log, "went away")) TH_LOG("log: %s", o.log);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, mount_result(&more[i], &o, 5000));
		EXPECT_EQ(-ECONNRESET, o.err);
		end_mount(&more[i]);
	}
}

TEST_F(nl, unregister_fails_pending_mounts)
{
	struct request rq;
	struct outcome o;

	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:x", NULL, &rq));
	ASSERT_EQ(0, nl_cmd(&self->d, LAYERFS_CMD_UNREGISTER));
	ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
	EXPECT_EQ(-ECONNRESET, o.err);
}

TEST_F(nl, a_killed_mount_leaves_no_request)
{
	struct request rq;
	struct status st;
	int i;

	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:x", NULL, &rq));
	kill(self->mt.pid, SIGKILL);
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, nl_status(&self->d, &st));
		if (!st.pending)
			break;
		usleep(100000);
	}
	EXPECT_EQ(0, st.pending);
	EXPECT_EQ(-ENOENT, reply_ok(&self->d, rq.id, DIGEST, self->layers));
}

TEST_F(nl, twenty_concurrent_mounts)
{
	struct mounter mts[20];
	struct request rq[20];
	struct outcome o;
	int i;

	for (i = 0; i < 20; i++)
		ASSERT_EQ(0, start_mount(&mts[i], "img:many", NULL));
	for (i = 0; i < 20; i++)
		ASSERT_EQ(0, recv_request(&self->d, &rq[i], 5000));
	for (i = 19; i >= 0; i--)
		ASSERT_EQ(0, reply_ok(&self->d, rq[i].id, DIGEST, self->layers));
	for (i = 0; i < 20; i++) {
		ASSERT_EQ(0, mount_result(&mts[i], &o, 5000));
		EXPECT_EQ(0, o.err);
		EXPECT_TRUE(o.top && o.bottom);
	}
	for (i = 0; i < 20; i++)
		end_mount(&mts[i]);
}

/* Walk a MOUNTS dump; count mounts and find the one with @ref. */
static int dump_mounts(struct nl *nl, const char *ref, int *found,
		       char *digest, size_t dlen, int *nlayers)
{
	struct msg *m = malloc(sizeof(*m));
	int err;

	*found = 0;
	if (!m)
		return -ENOMEM;
	msg_init(m, nl->family, NLM_F_DUMP, LAYERFS_CMD_MOUNTS);
	err = nl_send(nl, m);
	while (!err) {
		size_t off = 0, len;

		err = nl_recv(nl, m, 5000);
		if (err)
			break;
		len = m->len;
		while (off + NLMSG_HDRLEN <= len) {
			struct nlmsghdr *h = (struct nlmsghdr *)(m->buf + off);
			struct nlattr *a;

			if (h->nlmsg_type == NLMSG_DONE)
				goto out;
			if (h->nlmsg_type == NLMSG_ERROR) {
				err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
				goto out;
			}
			a = nlh_attr(h, LAYERFS_A_IMAGE_REF);
			if (a && !strcmp(attr_data(a), ref)) {
				size_t o2 = NLMSG_HDRLEN + GENL_HDRLEN;

				(*found)++;
				a = nlh_attr(h, LAYERFS_A_IMAGE_DIGEST);
				if (a)
					snprintf(digest, dlen, "%s",
						 (char *)attr_data(a));
				*nlayers = 0;
				while (o2 + NLA_HDRLEN <= h->nlmsg_len) {
					a = (struct nlattr *)((char *)h + o2);
					if (a->nla_type == LAYERFS_A_LAYER)
						(*nlayers)++;
					o2 += NLA_ALIGN(a->nla_len);
				}
			}
			off += NLMSG_ALIGN(h->nlmsg_len);
		}
	}
out:
	free(m);
	return err;
}

TEST_F(nl, mounts_dump_lists_image_mounts)
{
	char digest[LAYERFS_DIGEST_MAX] = "";
	int found = 0, nlayers = 0;
	struct request rq;
	struct outcome o;

	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:dumped", NULL,
				    &rq));
	ASSERT_EQ(0, reply_ok(&self->d, rq.id, DIGEST, self->layers));
	ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
	ASSERT_EQ(0, o.err);
	ASSERT_EQ(0, dump_mounts(&self->d, "img:dumped", &found, digest,
				 sizeof(digest), &nlayers));
	EXPECT_EQ(1, found);
	EXPECT_STREQ(DIGEST, digest);
	EXPECT_EQ(2, nlayers);

	end_mount(&self->mt);
	/* The superblock goes with the last reference, shortly. */
	for (int i = 0; i < 50 && found; i++) {
		usleep(100000);
		ASSERT_EQ(0, dump_mounts(&self->d, "img:dumped", &found, digest,
					 sizeof(digest), &nlayers));
	}
	EXPECT_EQ(0, found);
}

/* Random messages, registered and not; the kernel must only say no. */
TEST_F(nl, random_messages)
{
	struct msg *m = malloc(sizeof(*m));
	const char *seed_env = getenv("LFS_SEED");
	unsigned int seed = seed_env ? strtoul(seed_env, NULL, 0) :
					 (unsigned long)time(NULL);
	struct request rq;
	struct outcome o;
	struct status st;
	struct nl other;
	int i;

	ASSERT_NE(NULL, m);
	TH_LOG("LFS_SEED=%u", seed);
	srandom(seed);
	ASSERT_EQ(0, nl_open(&other));
	ASSERT_EQ(0, mount_and_take(&self->mt, &self->d, "img:fuzz", NULL, &rq));

	for (i = 0; i < 20000; i++) {
		struct nl *s = random() % 2 ? &self->d : &other;
		int nattr = random() % 6, j;

		msg_init(m, s->family, random() % 4 == 0 ? NLM_F_DUMP : 0,
			 random() % (LAYERFS_CMD_MAX + 3));
		if (random() % 16 == 0)
			((struct genlmsghdr *)NLMSG_DATA(&m->nlh))->reserved =
				random();
		if (random() % 16 == 0)
			((struct genlmsghdr *)NLMSG_DATA(&m->nlh))->version =
				random();
		for (j = 0; j < nattr; j++) {
			char data[600];
			size_t len = random() % 4 ? (size_t)random() % 9 :
						    (size_t)random() % sizeof(data);
			size_t k;

			for (k = 0; k < len; k++)
				data[k] = random() % 3 ? 'a' + random() % 26 :
							 random();
			if (len && random() % 2)
				data[len - 1] = '\0';
			msg_put(m, random() % (LAYERFS_A_MAX + 3), data, len);
		}
		/* Never answer the pending request by chance. */
		if (attr_u32(m, LAYERFS_A_REQUEST_ID) == rq.id)
			continue;
		m->nlh.nlmsg_flags |= NLM_F_ACK;
		ASSERT_EQ(0, nl_send(s, m));
		/* Drain what came back so the sockets never fill. */
		while (!nl_recv(s, m, 0))
			;
		if (s == &other)
			while (!nl_recv(&self->d, m, 0))
				;
	}

	/* Still a working family with the same daemon. */
	ASSERT_EQ(0, nl_status(&self->d, &st));
	if (st.pid == (__u32)getpid() && st.pending == 1) {
		ASSERT_EQ(0, reply_ok(&self->d, rq.id, DIGEST, self->layers));
		ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
		EXPECT_EQ(0, o.err);
	} else {
		/* A random UNREGISTER let the daemon go: the mount failed. */
		ASSERT_EQ(0, mount_result(&self->mt, &o, 5000));
		EXPECT_EQ(-ECONNRESET, o.err);
	}
	close(other.fd);
	free(m);
}

TEST(no_daemon_fails_at_once)
{
	struct mounter mt;
	struct outcome o;
	struct status st;
	struct nl nl;
	int i;

	ASSERT_EQ(0, nl_open(&nl));
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, nl_status(&nl, &st));
		if (!st.pid)
			break;
		usleep(100000);
	}
	ASSERT_EQ(0, st.pid);
	ASSERT_EQ(0, start_mount(&mt, "img:x", NULL));
	ASSERT_EQ(0, mount_result(&mt, &o, 5000));
	EXPECT_EQ(-ENOTCONN, o.err);
	EXPECT_NE(NULL, strstr(o.log, "no layerd")) TH_LOG("log: %s", o.log);
	end_mount(&mt);
	close(nl.fd);
}

TEST(image_options_are_checked)
{
	static const struct {
		const char *ref;
		const char *opts[3];
	} bad[] = {
		{ "img:x", { "pull=sometimes", NULL } },
		{ "img:x", { "resolve_timeout=0", NULL } },
		{ "img:x", { "resolve_timeout=3601", NULL } },
		{ "img:x", { "resolve_timeout=ten", NULL } },
		{ NULL, { "pull=never", "lowerdir=/", NULL } },
		{ NULL, { "resolve_timeout=5", "lowerdir=/", NULL } },
		{ "img:x", { "lowerdir=/", NULL } },
		{ "", { NULL } },
	};
	char longref[LAYERFS_IMAGE_REF_MAX + 1];
	struct mounter mt;
	struct outcome o;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(0, start_mount(&mt, bad[i].ref, bad[i].opts));
		ASSERT_EQ(0, mount_result(&mt, &o, 5000));
		EXPECT_EQ(-EINVAL, o.err) TH_LOG("case %u: %s", i, o.log);
		EXPECT_NE(0, o.log[0]) TH_LOG("case %u gave no reason", i);
		end_mount(&mt);
	}
	memset(longref, 'a', sizeof(longref) - 1);
	longref[sizeof(longref) - 1] = '\0';
	ASSERT_EQ(0, start_mount(&mt, longref, NULL));
	ASSERT_EQ(0, mount_result(&mt, &o, 5000));
	EXPECT_EQ(-EINVAL, o.err);
	end_mount(&mt);
}

/* Every command needs CAP_NET_ADMIN. */
TEST(unprivileged_callers_get_eperm)
{
	static const __u8 cmds[] = {
		LAYERFS_CMD_REGISTER, LAYERFS_CMD_UNREGISTER,
		LAYERFS_CMD_RESOLVE_REPLY, LAYERFS_CMD_STATUS,
		LAYERFS_CMD_MOUNTS,
	};
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct msg *m = malloc(sizeof(*m));
		struct nl nl;
		unsigned int i;
		int bad = 0;

		if (!m || setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534) || nl_open(&nl))
			_exit(100);
		for (i = 0; i < sizeof(cmds); i++) {
			int err;

			msg_init(m, nl.family,
				 cmds[i] == LAYERFS_CMD_MOUNTS ? NLM_F_DUMP : 0,
				 cmds[i]);
			if (cmds[i] == LAYERFS_CMD_RESOLVE_REPLY) {
				msg_u32(m, LAYERFS_A_REQUEST_ID, 1);
				msg_u32(m, LAYERFS_A_STATUS, 0);
			}
			err = nl_call(&nl, m);
			if (err != -EPERM) {
				fprintf(stderr, "# command %u: %d, not -EPERM\n",
					cmds[i], err);
				bad++;
			}
		}
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
