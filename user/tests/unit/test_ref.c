// SPDX-License-Identifier: GPL-2.0
/* Reference parsing and normalisation, as Docker does it. */
#include <stdlib.h>

#include "harness.h"
#include "layerfs.h"

static void expect_ref(const char *in, const char *canonical, const char *host)
{
	struct lfs_ref r;
	struct lfs_error e = { 0 };
	char *s;

	if (lfs_ref_parse(in, &r, &e) < 0) {
		fprintf(stderr, "# %s: %s\n", in, e.msg);
		CHECK(!"parse failed");
		return;
	}
	s = lfs_ref_string(&r);
	CHECK_STR(s, canonical);
	CHECK_STR(r.host, host);
	free(s);
	lfs_ref_free(&r);
}

static void expect_bad(const char *in, const char *why)
{
	struct lfs_ref r;
	struct lfs_error e = { 0 };

	CHECK(lfs_ref_parse(in, &r, &e) < 0);
	CHECK(e.kind == LFS_E_INVALID);
	CHECK_CONTAINS(e.msg, why);
}

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void short_names_get_docker_io_library_and_latest(void)
{
	expect_ref("alpine", "docker.io/library/alpine:latest", "registry-1.docker.io");
	expect_ref("alpine:3.20", "docker.io/library/alpine:3.20", "registry-1.docker.io");
	expect_ref("docker.io/library/alpine", "docker.io/library/alpine:latest", "registry-1.docker.io");
	expect_ref("index.docker.io/library/alpine", "docker.io/library/alpine:latest",
		   "registry-1.docker.io");
	expect_ref("docker.io/alpine", "docker.io/library/alpine:latest", "registry-1.docker.io");
	expect_ref("user/repo", "docker.io/user/repo:latest", "registry-1.docker.io");
}

static void hosts_with_ports_and_paths_are_kept(void)
{
	expect_ref("host:5000/a/b:tag", "host:5000/a/b:tag", "host:5000");
	expect_ref("localhost/x", "localhost/x:latest", "localhost");
	expect_ref("127.0.0.1:5000/x/y", "127.0.0.1:5000/x/y:latest", "127.0.0.1:5000");
	expect_ref("[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000");
	expect_ref("quay.io/a/b-c__d.e/f", "quay.io/a/b-c__d.e/f:latest", "quay.io");
}

static void digest_references(void)
{
	expect_ref("alpine@" D64, "docker.io/library/alpine@" D64, "registry-1.docker.io");
	expect_ref("h:1/a:t@" D64, "h:1/a:t@" D64, "h:1");
}

static void invalid_references_say_why(void)
{
	expect_bad("", "empty");
	expect_bad("Alpine", "lowercase");
	expect_bad("host:5000/Bad", "lowercase");
	expect_bad("alpine:", "invalid tag");
	expect_bad("alpine:-x", "invalid tag");
	expect_bad("a/b:t:u", "invalid");
	expect_bad("alpine@sha256:ABC", "64 lowercase hex");
	expect_bad("alpine@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
		   "64 lowercase hex");
	expect_bad("alpine@md5:0123", "unsupported algorithm");
	expect_bad("a b", "whitespace");
	expect_bad("a//b", "invalid repository path");
	expect_bad("a/-b", "invalid repository path");
	expect_bad("a/b_", "invalid repository path");
	expect_bad("host:99999/a", "invalid registry host");
	expect_bad("-host.com/a", "invalid registry host");
}

static void overlong_names_are_refused(void)
{
	char buf[400];

	memset(buf, 'a', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	expect_bad(buf, "longer than");
	memset(buf, 'a', sizeof(buf));
	strcpy(buf, "a:");
	memset(buf + 2, 'b', 200);
	buf[202] = '\0';
	expect_bad(buf, "invalid tag");
}

static void digest_validation(void)
{
	CHECK(lfs_digest_valid(D64));
	CHECK(!lfs_digest_valid("sha256:0123"));
	CHECK(!lfs_digest_valid(D64 "0"));
	CHECK(!lfs_digest_valid("sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
	CHECK(!lfs_digest_valid(NULL));
}

static void sha256_of_known_bytes(void)
{
	char d[LFS_DIGEST_SIZE];
	struct lfs_sha256 *h = lfs_sha256_new();

	lfs_sha256_buffer("abc", 3, d);
	CHECK_STR(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	lfs_sha256_update(h, "a", 1);
	lfs_sha256_update(h, "bc", 2);
	lfs_sha256_final(h, d);
	CHECK_STR(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	lfs_sha256_final(h, d);	/* reusable: empty input */
	CHECK_STR(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	lfs_sha256_free(h);
}

int main(void)
{
	RUN(short_names_get_docker_io_library_and_latest);
	RUN(hosts_with_ports_and_paths_are_kept);
	RUN(digest_references);
	RUN(invalid_references_say_why);
	RUN(overlong_names_are_refused);
	RUN(digest_validation);
	RUN(sha256_of_known_bytes);
	return DONE();
}
