// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The "layerfs" generic netlink family, seen from userspace: layerd
 * registers and answers RESOLVE; layerctl asks MOUNTS and STATUS.  The
 * protocol (commands, attributes, limits) is include/uapi/linux/layerfs.h.
 *
 * Everything the module sends is validated with nla_parse against a policy
 * that mirrors the uapi limits before any field is used: a string must be
 * NUL-terminated and fit its _MAX, an integer must have its full width.
 *
 * One struct lfs_genl is one socket and is not thread-safe: layerd
 * serialises every call on it with its own mutex.  A request that wants an
 * answer (REGISTER, UNREGISTER, STATUS, MOUNTS) is a "transaction": we send
 * it with our own sequence number and read until its ACK, DONE or error.
 * Messages that arrive meanwhile are dispatched as usual: a RESOLVE from the
 * kernel (sequence 0) goes to the resolve handler, an error for an earlier
 * RESOLVE_REPLY (sent without ACK) to the reply-error handler.
 */
#include <errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "internal.h"

/* Big enough for a burst of RESOLVEs and for one large MOUNTS message. */
#define GENL_BUFSIZE (1u << 20)

struct genl_txn {
	uint32_t seq;
	bool done;
	int error;		/* negative errno from the kernel, 0 if none */
	int (*parse)(const struct nlmsghdr *nlh, void *arg, struct lfs_error *err);
	void *arg;
	struct lfs_error *err;
	bool parse_failed;
};

struct lfs_genl {
	struct nl_sock *sk;
	struct nl_cb *cb;
	int family;
	lfs_resolve_fn on_resolve;
	lfs_reply_error_fn on_reply_error;
	void *ctx;
	struct genl_txn *txn;	/* the transaction being waited for, or NULL */
};

/* Mirrors the uapi: strings carry their NUL, _MAX includes it. */
static struct nla_policy attr_policy[LAYERFS_A_MAX + 1] = {
	[LAYERFS_A_REQUEST_ID] = { .type = NLA_U32 },
	[LAYERFS_A_IMAGE_REF] = { .type = NLA_STRING, .maxlen = LAYERFS_IMAGE_REF_MAX },
	[LAYERFS_A_PLATFORM] = { .type = NLA_STRING, .maxlen = LAYERFS_PLATFORM_MAX },
	[LAYERFS_A_PULL_POLICY] = { .type = NLA_U8 },
	[LAYERFS_A_TIMEOUT_MS] = { .type = NLA_U32 },
	[LAYERFS_A_STATUS] = { .type = NLA_U32 },
	[LAYERFS_A_ERROR_TEXT] = { .type = NLA_STRING, .maxlen = LAYERFS_ERROR_TEXT_MAX },
	[LAYERFS_A_IMAGE_DIGEST] = { .type = NLA_STRING, .maxlen = LAYERFS_DIGEST_MAX },
	[LAYERFS_A_LAYER] = { .type = NLA_STRING, .maxlen = LAYERFS_LAYER_PATH_MAX },
	[LAYERFS_A_MOUNT_ID] = { .type = NLA_U64 },
	[LAYERFS_A_DEV] = { .type = NLA_U32 },
	[LAYERFS_A_UPPERDIR] = { .type = NLA_STRING, .maxlen = LAYERFS_LAYER_PATH_MAX },
	[LAYERFS_A_WORKDIR] = { .type = NLA_STRING, .maxlen = LAYERFS_LAYER_PATH_MAX },
	[LAYERFS_A_COW_BLOCK] = { .type = NLA_U32 },
	[LAYERFS_A_COW_FILES] = { .type = NLA_U64 },
	[LAYERFS_A_COW_GRANULES] = { .type = NLA_U64 },
	[LAYERFS_A_COW_BYTES] = { .type = NLA_U64 },
	[LAYERFS_A_COW_WHOLE_BYTES] = { .type = NLA_U64 },
	[LAYERFS_A_DAEMON_PID] = { .type = NLA_U32 },
	[LAYERFS_A_PENDING] = { .type = NLA_U32 },
	[LAYERFS_A_REQUESTS] = { .type = NLA_U64 },
	[LAYERFS_A_REJECTED] = { .type = NLA_U64 },
};

static const char *const cmd_names[] = {
	[LAYERFS_CMD_REGISTER] = "REGISTER",
	[LAYERFS_CMD_UNREGISTER] = "UNREGISTER",
	[LAYERFS_CMD_RESOLVE] = "RESOLVE",
	[LAYERFS_CMD_RESOLVE_REPLY] = "RESOLVE_REPLY",
	[LAYERFS_CMD_MOUNTS] = "MOUNTS",
	[LAYERFS_CMD_STATUS] = "STATUS",
};

static const char *cmd_name(int cmd)
{
	return cmd > 0 && cmd <= LAYERFS_CMD_MAX ? cmd_names[cmd] : "?";
}

static int nl_fail(struct lfs_error *err, int nlerr, const char *what)
{
	return lfs_error_set(err, LFS_E_SYSTEM, 0, "layerfs netlink: %s: %s", what,
			     nl_geterror(nlerr));
}

/* The family's attributes of one message, validated. */
static int parse_attrs(const struct nlmsghdr *nlh, struct nlattr **tb, struct lfs_error *err)
{
	int r;

	/* genlmsg_parse wants a non-const header; it does not write to it */
	r = genlmsg_parse((struct nlmsghdr *)nlh, 0, tb, LAYERFS_A_MAX, attr_policy);
	if (r < 0)
		return lfs_error_set(err, LFS_E_PROTOCOL, 0,
				     "layerfs netlink: malformed %s message: %s",
				     cmd_name(((struct genlmsghdr *)nlmsg_data(nlh))->cmd),
				     nl_geterror(r));
	return 0;
}

static int msg_cmd(const struct nlmsghdr *nlh)
{
	if (!genlmsg_valid_hdr((struct nlmsghdr *)nlh, 0))
		return -1;
	return ((struct genlmsghdr *)nlmsg_data(nlh))->cmd;
}

/* ---- RESOLVE (kernel -> daemon) ------------------------------------------ */

int lfs_genl_parse_resolve(const struct nlmsghdr *nlh, struct lfs_resolve_request *req,
			   struct lfs_error *err)
{
	struct nlattr *tb[LAYERFS_A_MAX + 1];

	memset(req, 0, sizeof(*req));
	req->pull = -1;
	if (msg_cmd(nlh) != LAYERFS_CMD_RESOLVE)
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "layerfs netlink: not a RESOLVE message");
	if (parse_attrs(nlh, tb, err) < 0)
		return -1;
	if (!tb[LAYERFS_A_REQUEST_ID] || !tb[LAYERFS_A_IMAGE_REF])
		return lfs_error_set(err, LFS_E_PROTOCOL, 0,
				     "layerfs netlink: RESOLVE without %s",
				     tb[LAYERFS_A_REQUEST_ID] ? "an image reference" : "a request id");
	req->id = nla_get_u32(tb[LAYERFS_A_REQUEST_ID]);
	/* the policy bounds the length; nla_strlcpy stops at the first NUL */
	nla_strlcpy(req->ref, tb[LAYERFS_A_IMAGE_REF], sizeof(req->ref));
	if (!req->ref[0])
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "layerfs netlink: RESOLVE %u: empty image reference",
				     req->id);
	if (tb[LAYERFS_A_PLATFORM])
		nla_strlcpy(req->platform, tb[LAYERFS_A_PLATFORM], sizeof(req->platform));
	if (tb[LAYERFS_A_PULL_POLICY]) {
		uint8_t p = nla_get_u8(tb[LAYERFS_A_PULL_POLICY]);

		if (p >= __LAYERFS_PULL_MAX)
			return lfs_error_set(err, LFS_E_PROTOCOL, 0,
					     "layerfs netlink: RESOLVE %u: unknown pull policy %u", req->id, p);
		req->pull = p;
	}
	if (tb[LAYERFS_A_TIMEOUT_MS])
		req->timeout_ms = nla_get_u32(tb[LAYERFS_A_TIMEOUT_MS]);
	return 0;
}

/* ---- MOUNTS (dump) --------------------------------------------------------- */

void lfs_mount_free(struct lfs_mount *m)
{
	size_t i;

	free(m->image_ref);
	free(m->image_digest);
	for (i = 0; i < m->n_layers; i++)
		free(m->layers[i]);
	free(m->layers);
	free(m->upperdir);
	free(m->workdir);
	memset(m, 0, sizeof(*m));
}

void lfs_mount_list_free(struct lfs_mount_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		lfs_mount_free(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int dup_attr(struct nlattr *a, char **out)
{
	if (!a)
		return 0;
	*out = strdup(nla_data(a));	/* NUL-terminated: checked by the policy */
	return *out ? 0 : -1;
}

static uint64_t get_u64(struct nlattr *a)
{
	return a ? nla_get_u64(a) : 0;
}

int lfs_genl_parse_mount(const struct nlmsghdr *nlh, struct lfs_mount *m, struct lfs_error *err)
{
	struct nlattr *tb[LAYERFS_A_MAX + 1], *a;
	size_t n = 0;
	int rem;

	memset(m, 0, sizeof(*m));
	if (msg_cmd(nlh) != LAYERFS_CMD_MOUNTS)
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "layerfs netlink: not a MOUNTS message");
	if (parse_attrs(nlh, tb, err) < 0)
		return -1;
	if (!tb[LAYERFS_A_MOUNT_ID])
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "layerfs netlink: MOUNTS entry without a mount id");
	m->id = nla_get_u64(tb[LAYERFS_A_MOUNT_ID]);
	m->dev = tb[LAYERFS_A_DEV] ? nla_get_u32(tb[LAYERFS_A_DEV]) : 0;
	m->cow_block = tb[LAYERFS_A_COW_BLOCK] ? nla_get_u32(tb[LAYERFS_A_COW_BLOCK]) : 0;
	m->cow_files = get_u64(tb[LAYERFS_A_COW_FILES]);
	m->cow_granules = get_u64(tb[LAYERFS_A_COW_GRANULES]);
	m->cow_bytes = get_u64(tb[LAYERFS_A_COW_BYTES]);
	m->cow_whole_bytes = get_u64(tb[LAYERFS_A_COW_WHOLE_BYTES]);
	if (dup_attr(tb[LAYERFS_A_IMAGE_REF], &m->image_ref) < 0 ||
	    dup_attr(tb[LAYERFS_A_IMAGE_DIGEST], &m->image_digest) < 0 ||
	    dup_attr(tb[LAYERFS_A_UPPERDIR], &m->upperdir) < 0 ||
	    dup_attr(tb[LAYERFS_A_WORKDIR], &m->workdir) < 0)
		goto out_oom;

	/*
	 * LAYER repeats: nla_parse kept only the last in tb[] but validated
	 * every occurrence against the policy, so each is a bounded C string.
	 */
	nlmsg_for_each_attr(a, nlh, GENL_HDRLEN, rem)
		if (nla_type(a) == LAYERFS_A_LAYER)
			n++;
	if (n > LAYERFS_MAX_LAYERS) {
		lfs_mount_free(m);
		return lfs_error_set(err, LFS_E_PROTOCOL, 0,
				     "layerfs netlink: mount %llu lists %zu layers, more than %d",
				     (unsigned long long)m->id, n, LAYERFS_MAX_LAYERS);
	}
	m->layers = calloc(n + 1, sizeof(*m->layers));
	if (!m->layers)
		goto out_oom;
	nlmsg_for_each_attr(a, nlh, GENL_HDRLEN, rem) {
		if (nla_type(a) != LAYERFS_A_LAYER)
			continue;
		if (dup_attr(a, &m->layers[m->n_layers]) < 0)
			goto out_oom;
		m->n_layers++;
	}
	return 0;
out_oom:
	lfs_mount_free(m);
	return lfs_oom(err);
}

static int collect_mount(const struct nlmsghdr *nlh, void *arg, struct lfs_error *err)
{
	struct lfs_mount_list *l = arg;
	struct lfs_mount *v;

	if (msg_cmd(nlh) != LAYERFS_CMD_MOUNTS)
		return 0;
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return lfs_oom(err);
	l->v = v;
	if (lfs_genl_parse_mount(nlh, &l->v[l->n], err) < 0)
		return -1;
	l->n++;
	return 0;
}

/* ---- STATUS ------------------------------------------------------------------- */

int lfs_genl_parse_status(const struct nlmsghdr *nlh, struct lfs_genl_status *st,
			  struct lfs_error *err)
{
	struct nlattr *tb[LAYERFS_A_MAX + 1];

	memset(st, 0, sizeof(*st));
	if (msg_cmd(nlh) != LAYERFS_CMD_STATUS)
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "layerfs netlink: not a STATUS message");
	if (parse_attrs(nlh, tb, err) < 0)
		return -1;
	st->daemon_pid = tb[LAYERFS_A_DAEMON_PID] ? nla_get_u32(tb[LAYERFS_A_DAEMON_PID]) : 0;
	st->pending = tb[LAYERFS_A_PENDING] ? nla_get_u32(tb[LAYERFS_A_PENDING]) : 0;
	st->requests = get_u64(tb[LAYERFS_A_REQUESTS]);
	st->rejected = get_u64(tb[LAYERFS_A_REJECTED]);
	return 0;
}

static int collect_status(const struct nlmsghdr *nlh, void *arg, struct lfs_error *err)
{
	return lfs_genl_parse_status(nlh, arg, err);
}

/* ---- receiving ------------------------------------------------------------------ */

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct lfs_genl *g = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct lfs_error e = { 0 };

	if (nlh->nlmsg_type != g->family || nlmsg_get_src(msg)->nl_pid != 0)
		return NL_SKIP;	/* only the kernel's messages of our family */
	if (msg_cmd(nlh) == LAYERFS_CMD_RESOLVE && nlh->nlmsg_seq == 0) {
		struct lfs_resolve_request req;

		if (lfs_genl_parse_resolve(nlh, &req, &e) < 0) {
			/* nobody to answer without an id: the mount times out */
			if (g->on_reply_error)
				g->on_reply_error(g->ctx, 0, EPROTO, e.msg);
			return NL_SKIP;
		}
		if (g->on_resolve)
			g->on_resolve(g->ctx, &req);
		return NL_SKIP;
	}
	if (g->txn && nlh->nlmsg_seq == g->txn->seq && g->txn->parse && !g->txn->parse_failed &&
	    g->txn->parse(nlh, g->txn->arg, g->txn->err) < 0)
		g->txn->parse_failed = true;
	return NL_SKIP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct lfs_genl *g = arg;

	if (g->txn && nlmsg_hdr(msg)->nlmsg_seq == g->txn->seq) {
		g->txn->done = true;
		return NL_STOP;
	}
	return NL_SKIP;
}

static int on_finish(struct nl_msg *msg, void *arg)
{
	struct lfs_genl *g = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);

	if (!g->txn || nlh->nlmsg_seq != g->txn->seq)
		return NL_SKIP;
	/* a dump that failed half-way ends with its negative errno in DONE */
	if (nlmsg_datalen(nlh) >= (int)sizeof(int) && *(int *)nlmsg_data(nlh) < 0)
		g->txn->error = *(int *)nlmsg_data(nlh);
	g->txn->done = true;
	return NL_STOP;
}

/* The request an error answers, when the kernel echoed it (not capped). */
static uint32_t echoed_request_id(const struct nlmsgerr *e)
{
	const struct nlmsghdr *orig = &e->msg;
	const struct nlmsghdr *outer = (const void *)((const char *)e - NLMSG_HDRLEN);
	struct nlattr *a;
	int rem;

	if (outer->nlmsg_flags & NLM_F_CAPPED)
		return 0;
	if (orig->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN ||
	    outer->nlmsg_len < NLMSG_HDRLEN + sizeof(*e) - sizeof(e->msg) + orig->nlmsg_len)
		return 0;
	nlmsg_for_each_attr(a, orig, GENL_HDRLEN, rem)
		if (nla_type(a) == LAYERFS_A_REQUEST_ID && nla_len(a) >= 4)
			return nla_get_u32(a);
	return 0;
}

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct lfs_genl *g = arg;

	(void)nla;
	if (g->txn && e->msg.nlmsg_seq == g->txn->seq) {
		g->txn->error = e->error;
		g->txn->done = true;
		return NL_STOP;
	}
	/* an error for a RESOLVE_REPLY: they go without ACK, so only errors come back */
	if (g->on_reply_error)
		g->on_reply_error(g->ctx, echoed_request_id(e), -e->error, NULL);
	return NL_SKIP;
}

static int no_seq_check(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;	/* kernel requests carry seq 0; transactions match their own */
}

int lfs_genl_receive(struct lfs_genl *g, struct lfs_error *err)
{
	int r = nl_recvmsgs(g->sk, g->cb);

	if (r < 0 && r != -NLE_AGAIN)
		return nl_fail(err, r, r == -NLE_NOMEM ?
			       "receive (buffer overrun: requests may have been lost)" : "receive");
	return 0;
}

/* ---- sending ---------------------------------------------------------------------- */

static struct nl_msg *new_msg(int family, uint8_t cmd, int flags, size_t payload)
{
	struct nl_msg *msg = payload ? nlmsg_alloc_size(NLMSG_HDRLEN + GENL_HDRLEN + payload) :
				       nlmsg_alloc();

	if (msg && !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags, cmd,
				LAYERFS_GENL_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/* Send @cmd and read until its answer; @parse sees each reply message. */
static int transact(struct lfs_genl *g, uint8_t cmd, int flags,
		    int (*parse)(const struct nlmsghdr *, void *, struct lfs_error *), void *arg,
		    struct lfs_error *err)
{
	struct genl_txn txn = { .parse = parse, .arg = arg, .err = err };
	struct nl_msg *msg = new_msg(g->family, cmd, flags, 0);
	int r;

	if (!msg)
		return lfs_oom(err);
	r = nl_send_auto(g->sk, msg);
	txn.seq = nlmsg_hdr(msg)->nlmsg_seq;
	nlmsg_free(msg);
	if (r < 0)
		return nl_fail(err, r, cmd_name(cmd));
	g->txn = &txn;
	while (!txn.done) {
		r = nl_recvmsgs(g->sk, g->cb);
		if (!txn.done && r < 0 && r != -NLE_AGAIN) {
			g->txn = NULL;
			return nl_fail(err, r, cmd_name(cmd));
		}
	}
	g->txn = NULL;
	if (txn.parse_failed)
		return -1;
	if (txn.error)
		return lfs_error_set(err, -txn.error == EPERM ? LFS_E_AUTH :
				     -txn.error == EBUSY ? LFS_E_BUSY : LFS_E_SYSTEM, -txn.error,
				     "layerfs %s: %s", cmd_name(cmd), strerror(-txn.error));
	return 0;
}

int lfs_genl_open(struct lfs_genl **out, struct lfs_error *err)
{
	struct lfs_genl *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return lfs_oom(err);
	g->sk = nl_socket_alloc();
	g->cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!g->sk || !g->cb) {
		lfs_oom(err);
		goto out_fail;
	}
	r = genl_connect(g->sk);
	if (r < 0) {
		nl_fail(err, r, "connect");
		goto out_fail;
	}
	g->family = genl_ctrl_resolve(g->sk, LAYERFS_GENL_NAME);
	if (g->family < 0) {
		if (g->family == -NLE_OBJ_NOTFOUND)
			lfs_error_set(err, LFS_E_NOTFOUND, 0,
				      "the layerfs module is not loaded (no \"%s\" netlink family)",
				      LAYERFS_GENL_NAME);
		else
			nl_fail(err, g->family, "resolve family " LAYERFS_GENL_NAME);
		goto out_fail;
	}
	nl_socket_disable_auto_ack(g->sk);
	nl_socket_enable_msg_peek(g->sk);
	nl_socket_set_buffer_size(g->sk, GENL_BUFSIZE, GENL_BUFSIZE);
	nl_cb_set(g->cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, g);
	nl_cb_set(g->cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, g);
	nl_cb_set(g->cb, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, g);
	nl_cb_set(g->cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, no_seq_check, g);
	nl_cb_err(g->cb, NL_CB_CUSTOM, on_error, g);
	*out = g;
	return 0;
out_fail:
	lfs_genl_close(g);
	return -1;
}

void lfs_genl_close(struct lfs_genl *g)
{
	if (!g)
		return;
	nl_cb_put(g->cb);
	nl_socket_free(g->sk);	/* closes: the module drops a registration */
	free(g);
}

void lfs_genl_set_handlers(struct lfs_genl *g, lfs_resolve_fn on_resolve,
			   lfs_reply_error_fn on_reply_error, void *ctx)
{
	g->on_resolve = on_resolve;
	g->on_reply_error = on_reply_error;
	g->ctx = ctx;
}

int lfs_genl_fd(const struct lfs_genl *g)
{
	return nl_socket_get_fd(g->sk);
}

int lfs_genl_register(struct lfs_genl *g, struct lfs_error *err)
{
	return transact(g, LAYERFS_CMD_REGISTER, NLM_F_ACK, NULL, NULL, err);
}

int lfs_genl_unregister(struct lfs_genl *g, struct lfs_error *err)
{
	return transact(g, LAYERFS_CMD_UNREGISTER, NLM_F_ACK, NULL, NULL, err);
}

int lfs_genl_status(struct lfs_genl *g, struct lfs_genl_status *st, struct lfs_error *err)
{
	memset(st, 0, sizeof(*st));
	return transact(g, LAYERFS_CMD_STATUS, NLM_F_ACK, collect_status, st, err);
}

int lfs_genl_mounts(struct lfs_genl *g, struct lfs_mount_list *out, struct lfs_error *err)
{
	memset(out, 0, sizeof(*out));
	if (transact(g, LAYERFS_CMD_MOUNTS, NLM_F_DUMP, collect_mount, out, err) < 0) {
		lfs_mount_list_free(out);
		return -1;
	}
	return 0;
}

int lfs_genl_build_reply(int family, const struct lfs_resolve_reply *rep, struct nl_msg **out,
			 struct lfs_error *err)
{
	size_t payload = nla_total_size(4) * 2, i;
	struct nl_msg *msg;
	int r = 0;

	if (rep->status) {
		payload += nla_total_size(LAYERFS_ERROR_TEXT_MAX);
	} else {
		if (!rep->digest || strlen(rep->digest) >= LAYERFS_DIGEST_MAX || !rep->n_layers)
			return lfs_error_set(err, LFS_E_INVALID, 0,
					     "request %u: a successful reply needs a digest and layers", rep->id);
		if (rep->n_layers > LAYERFS_MAX_LAYERS)
			return lfs_error_set(err, LFS_E_INVALID, 0, "request %u: %zu layers, the module takes %d",
					     rep->id, rep->n_layers, LAYERFS_MAX_LAYERS);
		payload += nla_total_size(strlen(rep->digest) + 1);
		for (i = 0; i < rep->n_layers; i++) {
			if (strlen(rep->layers[i]) >= LAYERFS_LAYER_PATH_MAX || rep->layers[i][0] != '/')
				return lfs_error_set(err, LFS_E_INVALID, 0,
						     "request %u: layer path %s is not absolute or too long",
						     rep->id, rep->layers[i]);
			payload += nla_total_size(strlen(rep->layers[i]) + 1);
		}
	}
	/* no ACK: the main loop reads only errors back (see on_error) */
	msg = new_msg(family, LAYERFS_CMD_RESOLVE_REPLY, 0, payload);
	if (!msg)
		return lfs_oom(err);
	r |= nla_put_u32(msg, LAYERFS_A_REQUEST_ID, rep->id);
	r |= nla_put_u32(msg, LAYERFS_A_STATUS, (uint32_t)rep->status);
	if (rep->status) {
		char text[LAYERFS_ERROR_TEXT_MAX];

		/* the module takes at most _MAX bytes with the NUL: cut, never refuse */
		snprintf(text, sizeof(text), "%s", rep->error_text ? rep->error_text : strerror(rep->status));
		r |= nla_put_string(msg, LAYERFS_A_ERROR_TEXT, text);
	} else {
		r |= nla_put_string(msg, LAYERFS_A_IMAGE_DIGEST, rep->digest);
		for (i = 0; i < rep->n_layers; i++)
			r |= nla_put_string(msg, LAYERFS_A_LAYER, rep->layers[i]);
	}
	if (r < 0) {
		nlmsg_free(msg);
		return lfs_error_set(err, LFS_E_SYSTEM, EMSGSIZE, "request %u: reply does not fit", rep->id);
	}
	*out = msg;
	return 0;
}

int lfs_genl_reply(struct lfs_genl *g, const struct lfs_resolve_reply *rep, struct lfs_error *err)
{
	struct nl_msg *msg;
	int r;

	if (lfs_genl_build_reply(g->family, rep, &msg, err) < 0)
		return -1;
	r = nl_send_auto(g->sk, msg);
	nlmsg_free(msg);
	if (r < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, 0, "request %u: send RESOLVE_REPLY: %s", rep->id,
				     nl_geterror(r));
	return 0;
}
