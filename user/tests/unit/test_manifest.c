// SPDX-License-Identifier: GPL-2.0
/* Manifests, indexes, configs and platform selection. */
#include <stdlib.h>

#include "harness.h"
#include "layerfs.h"

#define D(c) "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define DA D("a")
#define DB D("b")
#define DC D("c")

static const char oci_manifest[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" DA "\",\"size\":7},"
	"\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" DB "\",\"size\":100},"
	"{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" DC "\",\"size\":5},"
	"{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" DC "\",\"size\":5}]}";

static void oci_manifest_parses_layers_and_compression(void)
{
	struct lfs_manifest m;
	struct lfs_error e = { 0 };

	CHECK(lfs_manifest_parse("application/vnd.oci.image.manifest.v1+json; charset=utf-8",
				 oci_manifest, sizeof(oci_manifest) - 1, &m, &e) == 0);
	CHECK(m.kind == LFS_MANIFEST_IMAGE);
	CHECK(m.n_layers == 3);
	if (m.n_layers == 3) {
		CHECK(m.layers[0].compression == LFS_COMPRESS_GZIP);
		CHECK(m.layers[1].compression == LFS_COMPRESS_ZSTD);
		CHECK(m.layers[2].compression == LFS_COMPRESS_NONE);
		CHECK(m.layers[0].size == 100);
		CHECK_STR(m.layers[0].digest, DB);
	}
	CHECK_STR(m.config.digest, DA);
	lfs_manifest_free(&m);
	/* no Content-Type at all: the body says what it is */
	CHECK(lfs_manifest_parse(NULL, oci_manifest, sizeof(oci_manifest) - 1, &m, &e) == 0);
	lfs_manifest_free(&m);
}

static void media_type_must_match_content_type(void)
{
	struct lfs_manifest m;
	struct lfs_error e = { 0 };

	CHECK(lfs_manifest_parse("application/vnd.docker.distribution.manifest.v2+json", oci_manifest,
				 sizeof(oci_manifest) - 1, &m, &e) < 0);
	CHECK_CONTAINS(e.msg, "does not match Content-Type");
}

static void schema1_is_refused_clearly(void)
{
	static const char s1[] = "{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}";
	struct lfs_manifest m;
	struct lfs_error e = { 0 };

	CHECK(lfs_manifest_parse("application/vnd.docker.distribution.manifest.v1+prettyjws", s1,
				 sizeof(s1) - 1, &m, &e) < 0);
	CHECK_CONTAINS(e.msg, "schema1");
	CHECK(lfs_manifest_parse("application/json", s1, sizeof(s1) - 1, &m, &e) < 0);
	CHECK_CONTAINS(e.msg, "schema1");
}

static void bad_manifests_are_refused(void)
{
	static const char *const bad[] = {
		"not json",
		"[]",
		"{\"schemaVersion\":2,\"schemaVersion\":2}",	/* duplicate keys */
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}",
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:1\",\"size\":1},\"layers\":[]}",
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" DA "\",\"size\":-1},\"layers\":[]}",
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/x-helm\",\"digest\":\"" DA "\",\"size\":1},\"layers\":[]}",
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" DA "\",\"size\":1},"
		"\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\"digest\":\"" DB "\",\"size\":1}]}",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lfs_manifest m;
		struct lfs_error e = { 0 };

		if (lfs_manifest_parse(NULL, bad[i], strlen(bad[i]), &m, &e) == 0) {
			fprintf(stderr, "# accepted: %s\n", bad[i]);
			CHECK(!"bad manifest accepted");
			lfs_manifest_free(&m);
		}
	}
}

static const char index_json[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DA "\",\"size\":1,"
	" \"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
	"{\"mediaType\":\"application/vnd.example.future+json\",\"digest\":\"" DA "\",\"size\":1,"
	" \"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DB "\",\"size\":2,"
	" \"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DC "\",\"size\":3,"
	" \"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
	"{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"digest\":\"" DA "\",\"size\":4,"
	" \"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"},"
	" \"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}},"
	"{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"digest\":\"" DB "\",\"size\":5,"
	" \"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";

static int select_for(const char *plat)
{
	struct lfs_manifest m;
	struct lfs_platform p;
	struct lfs_error e = { 0 };
	int idx;

	CHECK(lfs_platform_parse(plat, &p, &e) == 0);
	CHECK(lfs_manifest_parse(NULL, index_json, sizeof(index_json) - 1, &m, &e) == 0);
	CHECK(m.kind == LFS_MANIFEST_INDEX);
	idx = lfs_index_select(&m, &p, &e);
	if (idx < 0)
		fprintf(stderr, "# %s: %s\n", plat, e.msg);
	lfs_manifest_free(&m);
	return idx;
}

static void index_selects_first_match_skipping_attestations_and_unknown_types(void)
{
	CHECK(select_for("linux/amd64") == 5);
	CHECK(select_for("linux/x86_64") == 5);
	CHECK(select_for("linux/arm64") == 3);	/* arm64 normalises to arm64/v8 */
	CHECK(select_for("linux/arm64/v8") == 3);
	CHECK(select_for("linux/aarch64") == 3);
	CHECK(select_for("linux/arm/v6") == 2);
	CHECK(select_for("linux/arm") == -1);	/* arm means arm/v7 */
	CHECK(select_for("linux/s390x") == -1);
}

static void no_match_lists_what_is_available(void)
{
	struct lfs_manifest m;
	struct lfs_platform p;
	struct lfs_error e = { 0 };

	lfs_platform_parse("linux/ppc64le", &p, &e);
	CHECK(lfs_manifest_parse(NULL, index_json, sizeof(index_json) - 1, &m, &e) == 0);
	CHECK(lfs_index_select(&m, &p, &e) < 0);
	CHECK(e.kind == LFS_E_NOTFOUND);
	CHECK_CONTAINS(e.msg, "no matching manifest for linux/ppc64le");
	CHECK_CONTAINS(e.msg, "linux/arm64/v8");
	lfs_manifest_free(&m);
}

static void platform_strings(void)
{
	struct lfs_platform p;
	struct lfs_error e = { 0 };
	char buf[100];

	CHECK(lfs_platform_parse("linux/arm64", &p, &e) == 0);
	lfs_platform_format(&p, buf, sizeof(buf));
	CHECK_STR(buf, "linux/arm64/v8");
	CHECK(lfs_platform_parse("linux", &p, &e) < 0);
	CHECK(lfs_platform_parse("linux/", &p, &e) < 0);
	CHECK(lfs_platform_parse("linux/arm/v7/x", &p, &e) < 0);
	lfs_platform_host(&p);
	CHECK_STR(p.os, "linux");
	CHECK(p.arch[0] != '\0');
}

static void config_diff_ids(void)
{
	static const char cfg[] = "{\"architecture\":\"arm64\",\"os\":\"linux\",\"created\":\"2024-01-01T00:00:00Z\","
		"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DA "\",\"" DB "\"]}}";
	static const char bad_type[] = "{\"rootfs\":{\"type\":\"other\",\"diff_ids\":[]}}";
	static const char bad_id[] = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:zz\"]}}";
	struct lfs_config c;
	struct lfs_error e = { 0 };

	CHECK(lfs_config_parse(cfg, sizeof(cfg) - 1, &c, &e) == 0);
	CHECK(c.n_diff_ids == 2);
	CHECK_STR(c.diff_ids[1], DB);
	CHECK_STR(c.platform.arch, "arm64");
	CHECK_STR(c.platform.variant, "v8");
	CHECK_STR(c.created, "2024-01-01T00:00:00Z");
	lfs_config_free(&c);
	CHECK(lfs_config_parse(bad_type, sizeof(bad_type) - 1, &c, &e) < 0);
	CHECK(lfs_config_parse(bad_id, sizeof(bad_id) - 1, &c, &e) < 0);
	CHECK_CONTAINS(e.msg, "diff_ids[0]");
}

int main(void)
{
	RUN(oci_manifest_parses_layers_and_compression);
	RUN(media_type_must_match_content_type);
	RUN(schema1_is_refused_clearly);
	RUN(bad_manifests_are_refused);
	RUN(index_selects_first_match_skipping_attestations_and_unknown_types);
	RUN(no_match_lists_what_is_available);
	RUN(platform_strings);
	RUN(config_diff_ids);
	return DONE();
}
