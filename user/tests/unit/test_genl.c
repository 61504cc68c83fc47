// SPDX-License-Identifier: GPL-2.0
/*
 * The netlink codecs without a socket: messages built as the module would
 * send them are parsed, and whatever breaks the uapi limits is refused.
 */
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <stdlib.h>

#include "harness.h"
#include "layerfs.h"

#define FAMILY 0x20

static struct nl_msg *msg_new(uint8_t cmd)
{
	struct nl_msg *m = nlmsg_alloc_size(65536);

	genlmsg_put(m, 0, 0, FAMILY, 0, 0, cmd, LAYERFS_GENL_VERSION);
	return m;
}

static void resolve_with_every_attribute(void)
{
	struct nl_msg *m = msg_new(LAYERFS_CMD_RESOLVE);
	struct lfs_resolve_request r;
	struct lfs_error e = { 0 };

	nla_put_u32(m, LAYERFS_A_REQUEST_ID, 42);
	nla_put_string(m, LAYERFS_A_IMAGE_REF, "127.0.0.1:5000/test/alpine:3");
	nla_put_string(m, LAYERFS_A_PLATFORM, "linux/arm64/v8");
	nla_put_u8(m, LAYERFS_A_PULL_POLICY, LAYERFS_PULL_ALWAYS);
	nla_put_u32(m, LAYERFS_A_TIMEOUT_MS, 30000);
	CHECK(lfs_genl_parse_resolve(nlmsg_hdr(m), &r, &e) == 0);
	CHECK(r.id == 42);
	CHECK_STR(r.ref, "127.0.0.1:5000/test/alpine:3");
	CHECK_STR(r.platform, "linux/arm64/v8");
	CHECK(r.pull == LAYERFS_PULL_ALWAYS);
	CHECK(r.timeout_ms == 30000);
	nlmsg_free(m);
}

static void resolve_optional_attributes_may_be_absent(void)
{
	struct nl_msg *m = msg_new(LAYERFS_CMD_RESOLVE);
	struct lfs_resolve_request r;
	struct lfs_error e = { 0 };

	nla_put_u32(m, LAYERFS_A_REQUEST_ID, 1);
	nla_put_string(m, LAYERFS_A_IMAGE_REF, "alpine");
	CHECK(lfs_genl_parse_resolve(nlmsg_hdr(m), &r, &e) == 0);
	CHECK_STR(r.platform, "");
	CHECK(r.pull == -1);
	CHECK(r.timeout_ms == 0);
	nlmsg_free(m);
}

static void resolve_breaking_the_uapi_is_refused(void)
{
	struct lfs_resolve_request r;
	struct lfs_error e = { 0 };
	char big[LAYERFS_IMAGE_REF_MAX + 1];
	struct nl_msg *m;

	/* no id */
	m = msg_new(LAYERFS_CMD_RESOLVE);
	nla_put_string(m, LAYERFS_A_IMAGE_REF, "alpine");
	CHECK(lfs_genl_parse_resolve(nlmsg_hdr(m), &r, &e) < 0);
	CHECK_CONTAINS(e.msg, "without a request id");
	nlmsg_free(m);
	/* a reference longer than LAYERFS_IMAGE_REF_MAX with its NUL */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	m = msg_new(LAYERFS_CMD_RESOLVE);
	nla_put_u32(m, LAYERFS_A_REQUEST_ID, 1);
	nla_put_string(m, LAYERFS_A_IMAGE_REF, big);
	CHECK(lfs_genl_parse_resolve(nlmsg_hdr(m), &r, &e) < 0);
	CHECK_CONTAINS(e.msg, "malformed RESOLVE");
	nlmsg_free(m);
	/* a string without its NUL */
	m = msg_new(LAYERFS_CMD_RESOLVE);
	nla_put_u32(m, LAYERFS_A_REQUEST_ID, 1);
	nla_put(m, LAYERFS_A_IMAGE_REF, 6, "alpine");
	CHECK(lfs_genl_parse_resolve(nlmsg_hdr(m), &r, &e) < 0);
	nlmsg_free(m);
	/* a u32 that is two bytes */
	m = msg_new(LAYERFS_CMD_RESOLVE);
	nla_put_u16(m, LAYERFS_A_REQUEST_ID, 1);
	nla_put_string(m, LAYERFS_A_IMAGE_REF, "alpine");
	CHECK(lfs_genl_parse_resolve(nlmsg_hdr(m), &r, &e) < 0);
	nlmsg_free(m);
	/* an unknown pull policy */
	m = msg_new(LAYERFS_CMD_RESOLVE);
	nla_put_u32(m, LAYERFS_A_REQUEST_ID, 1);
	nla_put_string(m, LAYERFS_A_IMAGE_REF, "alpine");
	nla_put_u8(m, LAYERFS_A_PULL_POLICY, __LAYERFS_PULL_MAX);
	CHECK(lfs_genl_parse_resolve(nlmsg_hdr(m), &r, &e) < 0);
	CHECK_CONTAINS(e.msg, "unknown pull policy");
	nlmsg_free(m);
	/* another command */
	m = msg_new(LAYERFS_CMD_STATUS);
	CHECK(lfs_genl_parse_resolve(nlmsg_hdr(m), &r, &e) < 0);
	nlmsg_free(m);
}

static void mount_keeps_every_layer_in_order(void)
{
	struct nl_msg *m = msg_new(LAYERFS_CMD_MOUNTS);
	struct lfs_mount mt;
	struct lfs_error e = { 0 };

	nla_put_u64(m, LAYERFS_A_MOUNT_ID, 7);
	nla_put_u32(m, LAYERFS_A_DEV, 0x2d);
	nla_put_string(m, LAYERFS_A_IMAGE_REF, "docker.io/library/alpine:latest");
	nla_put_string(m, LAYERFS_A_IMAGE_DIGEST, "sha256:abc");
	nla_put_string(m, LAYERFS_A_LAYER, "/store/layers/sha256/top");
	nla_put_string(m, LAYERFS_A_LAYER, "/store/layers/sha256/mid");
	nla_put_string(m, LAYERFS_A_LAYER, "/store/layers/sha256/base");
	nla_put_string(m, LAYERFS_A_UPPERDIR, "/u");
	nla_put_string(m, LAYERFS_A_WORKDIR, "/w");
	nla_put_u32(m, LAYERFS_A_COW_BLOCK, 65536);
	nla_put_u64(m, LAYERFS_A_COW_FILES, 3);
	nla_put_u64(m, LAYERFS_A_COW_GRANULES, 9);
	nla_put_u64(m, LAYERFS_A_COW_BYTES, 589824);
	nla_put_u64(m, LAYERFS_A_COW_WHOLE_BYTES, 1ull << 33);
	CHECK(lfs_genl_parse_mount(nlmsg_hdr(m), &mt, &e) == 0);
	CHECK(mt.id == 7 && mt.dev == 0x2d);
	CHECK_STR(mt.image_ref, "docker.io/library/alpine:latest");
	CHECK_STR(mt.image_digest, "sha256:abc");
	CHECK(mt.n_layers == 3);
	if (mt.n_layers == 3) {
		CHECK_STR(mt.layers[0], "/store/layers/sha256/top");
		CHECK_STR(mt.layers[2], "/store/layers/sha256/base");
	}
	CHECK_STR(mt.upperdir, "/u");
	CHECK_STR(mt.workdir, "/w");
	CHECK(mt.cow_block == 65536 && mt.cow_files == 3 && mt.cow_granules == 9);
	CHECK(mt.cow_bytes == 589824 && mt.cow_whole_bytes == 1ull << 33);
	lfs_mount_free(&mt);
	nlmsg_free(m);
}

static void mount_with_a_bad_layer_is_refused(void)
{
	struct nl_msg *m = msg_new(LAYERFS_CMD_MOUNTS);
	struct lfs_mount mt;
	struct lfs_error e = { 0 };

	nla_put_u64(m, LAYERFS_A_MOUNT_ID, 7);
	nla_put(m, LAYERFS_A_LAYER, 4, "/bad");	/* no NUL, and not the last */
	nla_put_string(m, LAYERFS_A_LAYER, "/good");
	CHECK(lfs_genl_parse_mount(nlmsg_hdr(m), &mt, &e) < 0);
	CHECK_CONTAINS(e.msg, "malformed MOUNTS message");
	CHECK(mt.layers == NULL);
	nlmsg_free(m);
	m = msg_new(LAYERFS_CMD_MOUNTS);
	nla_put_string(m, LAYERFS_A_LAYER, "/good");
	CHECK(lfs_genl_parse_mount(nlmsg_hdr(m), &mt, &e) < 0);
	CHECK_CONTAINS(e.msg, "without a mount id");
	nlmsg_free(m);
}

static void status_reads_counters(void)
{
	struct nl_msg *m = msg_new(LAYERFS_CMD_STATUS);
	struct lfs_genl_status st;
	struct lfs_error e = { 0 };

	nla_put_u32(m, LAYERFS_A_DAEMON_PID, 1234);
	nla_put_u32(m, LAYERFS_A_PENDING, 2);
	nla_put_u64(m, LAYERFS_A_REQUESTS, 10);
	nla_put_u64(m, LAYERFS_A_REJECTED, 1);
	CHECK(lfs_genl_parse_status(nlmsg_hdr(m), &st, &e) == 0);
	CHECK(st.daemon_pid == 1234 && st.pending == 2 && st.requests == 10 && st.rejected == 1);
	nlmsg_free(m);
}

/* What layerd sends must parse back with the attributes the kernel reads. */
static void reply_carries_layers_top_first(void)
{
	static const char *const layers[] = { "/s/layers/sha256/top", "/s/layers/sha256/base" };
	struct lfs_resolve_reply rep = { .id = 9, .digest = "sha256:0123", .layers = layers, .n_layers = 2 };
	struct nlattr *tb[LAYERFS_A_MAX + 1], *a;
	struct lfs_error e = { 0 };
	struct nl_msg *m = NULL;
	const char *seen[3] = { 0 };
	int rem, n = 0;

	CHECK(lfs_genl_build_reply(FAMILY, &rep, &m, &e) == 0);
	if (!m)
		return;
	CHECK(genlmsg_parse(nlmsg_hdr(m), 0, tb, LAYERFS_A_MAX, NULL) == 0);
	CHECK(((struct genlmsghdr *)nlmsg_data(nlmsg_hdr(m)))->cmd == LAYERFS_CMD_RESOLVE_REPLY);
	CHECK(((struct genlmsghdr *)nlmsg_data(nlmsg_hdr(m)))->reserved == 0);
	CHECK(nla_get_u32(tb[LAYERFS_A_REQUEST_ID]) == 9);
	CHECK(nla_get_u32(tb[LAYERFS_A_STATUS]) == 0);
	CHECK_STR(nla_get_string(tb[LAYERFS_A_IMAGE_DIGEST]), "sha256:0123");
	CHECK(tb[LAYERFS_A_ERROR_TEXT] == NULL);
	nlmsg_for_each_attr(a, nlmsg_hdr(m), GENL_HDRLEN, rem)
		if (nla_type(a) == LAYERFS_A_LAYER && n < 3)
			seen[n++] = nla_get_string(a);
	CHECK(n == 2);
	CHECK_STR(seen[0], layers[0]);
	CHECK_STR(seen[1], layers[1]);
	nlmsg_free(m);
}

static void reply_error_text_is_cut_to_the_uapi_limit(void)
{
	char text[2000];
	struct lfs_resolve_reply rep = { .id = 3, .status = 2, .error_text = text };
	struct nlattr *tb[LAYERFS_A_MAX + 1];
	struct lfs_error e = { 0 };
	struct nl_msg *m = NULL;

	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	CHECK(lfs_genl_build_reply(FAMILY, &rep, &m, &e) == 0);
	if (!m)
		return;
	CHECK(genlmsg_parse(nlmsg_hdr(m), 0, tb, LAYERFS_A_MAX, NULL) == 0);
	CHECK(nla_get_u32(tb[LAYERFS_A_STATUS]) == 2);
	CHECK(nla_len(tb[LAYERFS_A_ERROR_TEXT]) == LAYERFS_ERROR_TEXT_MAX);
	CHECK(tb[LAYERFS_A_LAYER] == NULL && tb[LAYERFS_A_IMAGE_DIGEST] == NULL);
	nlmsg_free(m);
}

static void reply_refuses_relative_layers(void)
{
	static const char *const layers[] = { "layers/sha256/top" };
	struct lfs_resolve_reply rep = { .id = 9, .digest = "sha256:0", .layers = layers, .n_layers = 1 };
	struct lfs_error e = { 0 };
	struct nl_msg *m = NULL;

	CHECK(lfs_genl_build_reply(FAMILY, &rep, &m, &e) < 0);
	CHECK_CONTAINS(e.msg, "not absolute");
	CHECK(m == NULL);
}

int main(void)
{
	RUN(resolve_with_every_attribute);
	RUN(resolve_optional_attributes_may_be_absent);
	RUN(resolve_breaking_the_uapi_is_refused);
	RUN(mount_keeps_every_layer_in_order);
	RUN(mount_with_a_bad_layer_is_refused);
	RUN(status_reads_counters);
	RUN(reply_carries_layers_top_first);
	RUN(reply_error_text_is_cut_to_the_uapi_limit);
	RUN(reply_refuses_relative_layers);
	return DONE();
}
