// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * OCI manifests and indexes, Docker schema2 manifests and manifest lists,
 * image configs.  Parsed from the exact bytes whose digest was verified;
 * JSON with duplicate keys is refused (two parsers could read it two ways).
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>

#include "internal.h"

#define MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"

static const struct {
	const char *type;
	enum lfs_compression c;
} layer_types[] = {
	{ "application/vnd.oci.image.layer.v1.tar", LFS_COMPRESS_NONE },
	{ "application/vnd.oci.image.layer.v1.tar+gzip", LFS_COMPRESS_GZIP },
	{ "application/vnd.oci.image.layer.v1.tar+zstd", LFS_COMPRESS_ZSTD },
	{ "application/vnd.docker.image.rootfs.diff.tar.gzip", LFS_COMPRESS_GZIP },
	{ "application/vnd.docker.image.rootfs.diff.tar", LFS_COMPRESS_NONE },
	/* deprecated non-distributable types: same bytes, still pulled from the registry */
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar", LFS_COMPRESS_NONE },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LFS_COMPRESS_GZIP },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", LFS_COMPRESS_ZSTD },
};

int lfs_layer_compression(const char *mt, enum lfs_compression *c, struct lfs_error *err)
{
	size_t i;

	for (i = 0; i < LFS_ARRAY_SIZE(layer_types); i++)
		if (mt && !strcmp(mt, layer_types[i].type)) {
			*c = layer_types[i].c;
			return 0;
		}
	if (mt && strstr(mt, "foreign"))
		return lfs_error_set(err, LFS_E_PROTOCOL, 0,
				     "foreign layer media type \"%.100s\" is not supported (its blob lives outside the registry)", mt);
	return lfs_error_set(err, LFS_E_PROTOCOL, 0, "unsupported layer media type \"%.100s\"",
			     mt ? mt : "");
}

/* Media type without parameters, lowercased: "application/json; charset=x" -> "application/json". */
static void media_type_base(const char *in, char *out, size_t len)
{
	size_t n = 0;

	while (in && *in == ' ')
		in++;
	for (; in && *in && *in != ';' && n + 1 < len; in++)
		out[n++] = (char)tolower((unsigned char)*in);
	while (n && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

static bool is_manifest_type(const char *t)
{
	return !strcmp(t, LFS_MT_OCI_MANIFEST) || !strcmp(t, LFS_MT_DOCKER_MANIFEST);
}

static bool is_index_type(const char *t)
{
	return !strcmp(t, LFS_MT_OCI_INDEX) || !strcmp(t, LFS_MT_DOCKER_LIST);
}

static bool is_schema1_type(const char *t)
{
	return !strcmp(t, MT_DOCKER_SCHEMA1) || !strcmp(t, MT_DOCKER_SCHEMA1_SIGNED);
}

static const char *jstr(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static int parse_descriptor(json_t *j, const char *what, size_t idx, bool layer,
			    struct lfs_descriptor *d, struct lfs_error *err)
{
	json_t *size, *plat, *ann;
	const char *mt, *digest;

	if (!json_is_object(j))
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "%s %zu: not an object", what, idx);
	mt = jstr(j, "mediaType");
	digest = jstr(j, "digest");
	size = json_object_get(j, "size");
	if (!mt)
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "%s %zu: missing mediaType", what, idx);
	if (lfs_digest_check(digest, err) < 0) {
		lfs_error_prefix(err, "%s %zu", what, idx);
		return -1;
	}
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "%s %zu: missing or negative size",
				     what, idx);
	d->media_type = strdup(mt);
	if (!d->media_type)
		return lfs_oom(err);
	memcpy(d->digest, digest, LFS_DIGEST_SIZE);
	d->size = json_integer_value(size);

	plat = json_object_get(j, "platform");
	if (json_is_object(plat)) {
		d->has_platform = true;
		copy_str(d->platform.os, sizeof(d->platform.os), jstr(plat, "os"));
		copy_str(d->platform.arch, sizeof(d->platform.arch), jstr(plat, "architecture"));
		copy_str(d->platform.variant, sizeof(d->platform.variant), jstr(plat, "variant"));
		if (!strcmp(d->platform.os, "unknown") && !strcmp(d->platform.arch, "unknown"))
			d->attestation = true;
		lfs_platform_normalize(&d->platform);
	}
	ann = json_object_get(j, "annotations");
	if (json_is_object(ann)) {
		const char *t = jstr(ann, "vnd.docker.reference.type");

		if (t && !strcmp(t, "attestation-manifest"))
			d->attestation = true;
	}
	if (layer && lfs_layer_compression(mt, &d->compression, err) < 0) {
		lfs_error_prefix(err, "layer %zu (%s)", idx, digest);
		return -1;
	}
	return 0;
}

void lfs_manifest_free(struct lfs_manifest *m)
{
	size_t i;

	free(m->media_type);
	free(m->config.media_type);
	for (i = 0; i < m->n_layers; i++)
		free(m->layers[i].media_type);
	free(m->layers);
	for (i = 0; i < m->n_manifests; i++)
		free(m->manifests[i].media_type);
	free(m->manifests);
	memset(m, 0, sizeof(*m));
}

static int parse_descriptor_array(json_t *arr, const char *what, bool layer,
				  struct lfs_descriptor **out, size_t *n, struct lfs_error *err)
{
	size_t i;

	if (!json_is_array(arr))
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "missing \"%ss\" array", what);
	*out = calloc(json_array_size(arr) + 1, sizeof(**out));
	if (!*out)
		return lfs_oom(err);
	for (i = 0; i < json_array_size(arr); i++) {
		if (parse_descriptor(json_array_get(arr, i), what, i, layer, &(*out)[i], err) < 0) {
			*n = i + 1;	/* free what was filled */
			return -1;
		}
	}
	*n = i;
	return 0;
}

int lfs_manifest_parse(const char *content_type, const char *body, size_t len,
		       struct lfs_manifest *m, struct lfs_error *err)
{
	char ct[128], bt[128];
	json_error_t jerr;
	json_t *root, *sv;
	const char *mt;
	int ret = -1;

	memset(m, 0, sizeof(*m));
	media_type_base(content_type, ct, sizeof(ct));
	if (is_schema1_type(ct))
		return lfs_error_set(err, LFS_E_PROTOCOL, 0,
				     "Docker schema1 manifest (%s) is not supported: push the image again with a current tool", ct);
	if (len > LFS_MANIFEST_MAX)
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "manifest larger than %u bytes",
				     LFS_MANIFEST_MAX);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "manifest is not valid JSON: %s (line %d)",
				     jerr.text, jerr.line);
	if (!json_is_object(root)) {
		lfs_error_set(err, LFS_E_PROTOCOL, 0, "manifest is not a JSON object");
		goto out;
	}
	sv = json_object_get(root, "schemaVersion");
	if (json_is_integer(sv) && json_integer_value(sv) == 1) {
		lfs_error_set(err, LFS_E_PROTOCOL, 0,
			      "Docker schema1 manifest is not supported: push the image again with a current tool");
		goto out;
	}
	if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
		lfs_error_set(err, LFS_E_PROTOCOL, 0, "manifest schemaVersion is not 2");
		goto out;
	}
	mt = jstr(root, "mediaType");
	media_type_base(mt, bt, sizeof(bt));
	if (mt && (is_manifest_type(ct) || is_index_type(ct)) && strcmp(bt, ct)) {
		lfs_error_set(err, LFS_E_PROTOCOL, 0,
			      "manifest mediaType \"%.100s\" does not match Content-Type \"%.100s\"", bt, ct);
		goto out;
	}
	if (!mt || !*bt)
		memcpy(bt, ct, sizeof(bt));
	if (!*bt || (!is_manifest_type(bt) && !is_index_type(bt))) {
		/* No usable type anywhere: OCI allows omitting it, so look at the shape. */
		if (json_is_array(json_object_get(root, "manifests")))
			strcpy(bt, LFS_MT_OCI_INDEX);
		else if (json_is_object(json_object_get(root, "config")))
			strcpy(bt, LFS_MT_OCI_MANIFEST);
		else {
			lfs_error_set(err, LFS_E_PROTOCOL, 0, "unsupported manifest media type \"%.100s\"",
				      *bt ? bt : "(none)");
			goto out;
		}
	}
	m->media_type = strdup(bt);
	if (!m->media_type) {
		lfs_oom(err);
		goto out;
	}
	if (is_index_type(bt)) {
		m->kind = LFS_MANIFEST_INDEX;
		if (parse_descriptor_array(json_object_get(root, "manifests"), "manifest", false,
					   &m->manifests, &m->n_manifests, err) < 0)
			goto out;
	} else {
		json_t *cfg = json_object_get(root, "config");

		m->kind = LFS_MANIFEST_IMAGE;
		if (!json_is_object(cfg)) {
			lfs_error_set(err, LFS_E_PROTOCOL, 0, "image manifest has no config");
			goto out;
		}
		if (parse_descriptor(cfg, "config", 0, false, &m->config, err) < 0)
			goto out;
		if (strcmp(m->config.media_type, MT_DOCKER_CONFIG) &&
		    strcmp(m->config.media_type, MT_OCI_CONFIG)) {
			lfs_error_set(err, LFS_E_PROTOCOL, 0,
				      "not a container image: config media type \"%.100s\"",
				      m->config.media_type);
			goto out;
		}
		if (m->config.size > (int64_t)LFS_CONFIG_MAX) {
			lfs_error_set(err, LFS_E_PROTOCOL, 0, "config size %lld over the %u byte limit",
				      (long long)m->config.size, LFS_CONFIG_MAX);
			goto out;
		}
		if (parse_descriptor_array(json_object_get(root, "layers"), "layer", true,
					   &m->layers, &m->n_layers, err) < 0)
			goto out;
	}
	ret = 0;
out:
	json_decref(root);
	if (ret < 0)
		lfs_manifest_free(m);
	return ret;
}

int lfs_index_select(const struct lfs_manifest *index, const struct lfs_platform *want,
		     struct lfs_error *err)
{
	char buf[100], avail[512] = "";
	size_t i, used = 0;
	int nested = -1;

	for (i = 0; i < index->n_manifests; i++) {
		const struct lfs_descriptor *d = &index->manifests[i];

		if (d->attestation)
			continue;
		if (is_index_type(d->media_type)) {
			if (nested < 0 && (!d->has_platform || lfs_platform_match(want, &d->platform)))
				nested = (int)i;
			continue;
		}
		if (!is_manifest_type(d->media_type) || !d->has_platform)
			continue;	/* unknown entries are not errors */
		if (lfs_platform_match(want, &d->platform))
			return (int)i;
		lfs_platform_format(&d->platform, buf, sizeof(buf));
		if (used + strlen(buf) + 3 < sizeof(avail))
			used += snprintf(avail + used, sizeof(avail) - used, "%s%s",
					 used ? ", " : "", buf);
	}
	if (nested >= 0)
		return nested;
	lfs_platform_format(want, buf, sizeof(buf));
	return lfs_error_set(err, LFS_E_NOTFOUND, 0, "no matching manifest for %s in the index (available: %s)",
			     buf, used ? avail : "none");
}

void lfs_config_free(struct lfs_config *c)
{
	free(c->created);
	free(c->diff_ids);
	memset(c, 0, sizeof(*c));
}

int lfs_config_parse(const char *body, size_t len, struct lfs_config *c, struct lfs_error *err)
{
	json_error_t jerr;
	json_t *root, *rootfs, *ids;
	const char *type;
	size_t i;
	int ret = -1;

	memset(c, 0, sizeof(*c));
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "image config is not valid JSON: %s (line %d)",
				     jerr.text, jerr.line);
	if (!json_is_object(root)) {
		lfs_error_set(err, LFS_E_PROTOCOL, 0, "image config is not a JSON object");
		goto out;
	}
	copy_str(c->platform.os, sizeof(c->platform.os), jstr(root, "os"));
	copy_str(c->platform.arch, sizeof(c->platform.arch), jstr(root, "architecture"));
	copy_str(c->platform.variant, sizeof(c->platform.variant), jstr(root, "variant"));
	lfs_platform_normalize(&c->platform);
	if (jstr(root, "created")) {
		c->created = strdup(jstr(root, "created"));
		if (!c->created) {
			lfs_oom(err);
			goto out;
		}
	}
	rootfs = json_object_get(root, "rootfs");
	type = jstr(rootfs, "type");
	if (!json_is_object(rootfs) || !type || strcmp(type, "layers")) {
		lfs_error_set(err, LFS_E_PROTOCOL, 0, "image config has no rootfs of type \"layers\"");
		goto out;
	}
	ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(ids)) {
		lfs_error_set(err, LFS_E_PROTOCOL, 0, "image config has no rootfs.diff_ids array");
		goto out;
	}
	c->diff_ids = calloc(json_array_size(ids) + 1, sizeof(*c->diff_ids));
	if (!c->diff_ids) {
		lfs_oom(err);
		goto out;
	}
	for (i = 0; i < json_array_size(ids); i++) {
		const char *d = json_string_value(json_array_get(ids, i));

		if (lfs_digest_check(d, err) < 0) {
			lfs_error_prefix(err, "image config rootfs.diff_ids[%zu]", i);
			goto out;
		}
		memcpy(c->diff_ids[i], d, LFS_DIGEST_SIZE);
	}
	c->n_diff_ids = i;
	ret = 0;
out:
	json_decref(root);
	if (ret < 0)
		lfs_config_free(c);
	return ret;
}
