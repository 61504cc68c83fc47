// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Image records and references in the store:
 *   images/sha256/HEX/manifest.json, config.json   the exact verified bytes
 *   images/refs.json    {"refs": {"REF": {"digest": MANIFEST, "index": INDEX}}}
 * Every read-modify-write of refs.json holds an exclusive flock on images/
 * and replaces the file atomically (tmp + fsync + rename).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "internal.h"

static int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int lock_images(struct lfs_store *s, struct lfs_error *err)
{
	int fd = openat(lfs_store_fd(s), "images", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "%s/images", lfs_store_root(s));
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return lfs_error_set(err, LFS_E_SYSTEM, errno, "lock %s/images", lfs_store_root(s));
		}
	return fd;
}

static json_t *read_refs(struct lfs_store *s, struct lfs_error *err)
{
	_cleanup_free_ char *data = NULL;
	json_error_t jerr;
	json_t *root;
	size_t len;

	if (lfs_read_file_at(lfs_store_fd(s), "images/refs.json", 64u << 20, &data, &len, err) < 0) {
		if (err->errnum != ENOENT)
			return NULL;
		root = json_object();
		json_object_set_new(root, "refs", json_object());
		return root;
	}
	root = json_loadb(data, len, 0, &jerr);
	if (!json_is_object(json_object_get(root, "refs"))) {
		json_decref(root);
		lfs_error_set(err, LFS_E_SYSTEM, 0, "%s/images/refs.json is damaged", lfs_store_root(s));
		return NULL;
	}
	return root;
}

static int write_refs(struct lfs_store *s, json_t *root, struct lfs_error *err)
{
	_cleanup_free_ char *data = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);

	if (!data)
		return lfs_oom(err);
	return lfs_write_file_at(lfs_store_fd(s), "images/refs.json", data, strlen(data), err);
}

static const char *ref_digest(json_t *v)
{
	return json_string_value(json_object_get(v, "digest"));
}

static void image_dir(const char *digest, char *buf, size_t len)
{
	snprintf(buf, len, "images/sha256/%s", digest + 7);
}

bool lfs_store_has_image(struct lfs_store *s, const char *digest)
{
	char p[128];

	if (!lfs_digest_valid(digest))
		return false;
	image_dir(digest, p, sizeof(p));
	strcat(p, "/config.json");
	return faccessat(lfs_store_fd(s), p, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int lfs_store_add_image(struct lfs_store *s, const char *ref, const char *index_digest,
			const char *manifest_digest, const char *manifest, size_t manifest_len,
			const char *config, size_t config_len, struct lfs_error *err)
{
	char tmp[128], p[160], dir[128];
	_cleanup_close_ int lock = -1;
	json_t *refs, *v;
	int ret;

	image_dir(manifest_digest, dir, sizeof(dir));
	if (!lfs_store_has_image(s, manifest_digest)) {
		if (lfs_store_mktemp(s, "image", tmp, sizeof(tmp), err) < 0)
			return -1;
		snprintf(p, sizeof(p), "%s/manifest.json", tmp);
		if (lfs_write_file_at(lfs_store_fd(s), p, manifest, manifest_len, err) < 0)
			goto out_rm;
		snprintf(p, sizeof(p), "%s/config.json", tmp);
		if (lfs_write_file_at(lfs_store_fd(s), p, config, config_len, err) < 0)
			goto out_rm;
		fchmodat(lfs_store_fd(s), tmp, 0755, 0);
		if (renameat(lfs_store_fd(s), tmp, lfs_store_fd(s), dir) < 0) {
			if (errno != EEXIST && errno != ENOTEMPTY) {
				lfs_error_set(err, LFS_E_SYSTEM, errno, "rename %s/%s", lfs_store_root(s), dir);
				goto out_rm;
			}
			lfs_rmtree_at(lfs_store_fd(s), tmp);	/* someone recorded it meanwhile */
		}
		lfs_fsync_dir_at(lfs_store_fd(s), "images/sha256");
	}
	lock = lock_images(s, err);
	if (lock < 0)
		return -1;
	refs = read_refs(s, err);
	if (!refs)
		return -1;
	v = json_pack("{s:s, s:s}", "digest", manifest_digest, "index", index_digest ? index_digest : "");
	json_object_set_new(json_object_get(refs, "refs"), ref, v);
	ret = write_refs(s, refs, err);
	json_decref(refs);
	return ret;
out_rm:
	lfs_rmtree_at(lfs_store_fd(s), tmp);
	return -1;
}

int lfs_store_find_by_index(struct lfs_store *s, const char *index_digest,
			    const struct lfs_platform *p, char out[LFS_DIGEST_SIZE])
{
	struct lfs_error e = { 0 };
	json_t *refs = read_refs(s, &e), *v;
	const char *key;
	int found = 0;

	if (!refs)
		return 0;
	json_object_foreach(json_object_get(refs, "refs"), key, v) {
		const char *idx = json_string_value(json_object_get(v, "index"));
		const char *d = ref_digest(v);
		struct lfs_image img;

		if (!idx || strcmp(idx, index_digest) || !lfs_digest_valid(d))
			continue;
		if (lfs_store_load_image(s, d, &img, &e) < 0)
			continue;
		if (lfs_platform_match(p, &img.platform)) {
			memcpy(out, d, LFS_DIGEST_SIZE);
			found = 1;
		}
		lfs_image_free(&img);
		if (found)
			break;
	}
	json_decref(refs);
	return found;
}

void lfs_image_free(struct lfs_image *img)
{
	size_t i;

	free(img->ref);
	free(img->created);
	for (i = 0; i < img->n_layers; i++) {
		free(img->layers[i].media_type);
		free(img->layers[i].path);
	}
	free(img->layers);
	memset(img, 0, sizeof(*img));
}

int lfs_store_load_image(struct lfs_store *s, const char *digest, struct lfs_image *img,
			 struct lfs_error *err)
{
	_cleanup_free_ char *mdata = NULL, *cdata = NULL;
	struct lfs_manifest m;
	struct lfs_config c;
	char p[160];
	size_t mlen, clen, i;
	int ret = -1;

	memset(img, 0, sizeof(*img));
	image_dir(digest, p, sizeof(p));
	strcat(p, "/manifest.json");
	if (lfs_read_file_at(lfs_store_fd(s), p, LFS_MANIFEST_MAX, &mdata, &mlen, err) < 0)
		return -1;
	image_dir(digest, p, sizeof(p));
	strcat(p, "/config.json");
	if (lfs_read_file_at(lfs_store_fd(s), p, LFS_CONFIG_MAX, &cdata, &clen, err) < 0)
		return -1;
	if (lfs_manifest_parse(NULL, mdata, mlen, &m, err) < 0)
		return -1;
	if (lfs_config_parse(cdata, clen, &c, err) < 0)
		goto out_m;
	if (m.kind != LFS_MANIFEST_IMAGE || c.n_diff_ids != m.n_layers) {
		lfs_error_set(err, LFS_E_SYSTEM, 0, "image %s: stored manifest and config disagree", digest);
		goto out_c;
	}
	memcpy(img->digest, digest, LFS_DIGEST_SIZE);
	memcpy(img->config_digest, m.config.digest, LFS_DIGEST_SIZE);
	img->platform = c.platform;
	img->created = c.created ? strdup(c.created) : NULL;
	img->layers = calloc(m.n_layers + 1, sizeof(*img->layers));
	if (!img->layers) {
		lfs_oom(err);
		goto out_c;
	}
	img->n_layers = m.n_layers;
	for (i = 0; i < m.n_layers; i++) {
		struct lfs_image_layer *l = &img->layers[i];

		memcpy(l->digest, m.layers[i].digest, LFS_DIGEST_SIZE);
		memcpy(l->diff_id, c.diff_ids[i], LFS_DIGEST_SIZE);
		l->size = m.layers[i].size;
		img->compressed_size += l->size;
		l->media_type = strdup(m.layers[i].media_type);
		if (asprintf(&l->path, "%s/layers/sha256/%s", lfs_store_root(s), c.diff_ids[i] + 7) < 0)
			l->path = NULL;
		if (!l->media_type || !l->path) {
			lfs_oom(err);
			goto out_c;
		}
	}
	ret = 0;
out_c:
	lfs_config_free(&c);
out_m:
	lfs_manifest_free(&m);
	if (ret < 0)
		lfs_image_free(img);
	return ret;
}

void lfs_image_list_free(struct lfs_image_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		lfs_image_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int load_ref(struct lfs_store *s, const char *key, json_t *v, struct lfs_image *img,
		    struct lfs_error *err)
{
	const char *d = ref_digest(v), *idx = json_string_value(json_object_get(v, "index"));

	if (!lfs_digest_valid(d))
		return lfs_error_set(err, LFS_E_SYSTEM, 0, "%s/images/refs.json: bad digest for %s",
				     lfs_store_root(s), key);
	if (lfs_store_load_image(s, d, img, err) < 0)
		return -1;
	img->ref = strdup(key);
	if (!img->ref) {
		lfs_image_free(img);
		return lfs_oom(err);
	}
	if (lfs_digest_valid(idx))
		memcpy(img->index_digest, idx, LFS_DIGEST_SIZE);
	return 0;
}

int lfs_store_images(struct lfs_store *s, struct lfs_image_list *out, struct lfs_error *err)
{
	json_t *refs = read_refs(s, err), *map, *v;
	const char **keys;
	size_t n = 0, i;
	const char *key;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!refs)
		return -1;
	map = json_object_get(refs, "refs");
	keys = calloc(json_object_size(map) + 1, sizeof(*keys));
	out->v = calloc(json_object_size(map) + 1, sizeof(*out->v));
	if (!keys || !out->v) {
		free(keys);
		json_decref(refs);
		return lfs_oom(err);
	}
	json_object_foreach(map, key, v)
		keys[n++] = key;
	qsort(keys, n, sizeof(*keys), strcmp_ptr);
	for (i = 0; i < n; i++) {
		if (load_ref(s, keys[i], json_object_get(map, keys[i]), &out->v[out->n], err) < 0) {
			ret = -1;
			break;
		}
		out->n++;
	}
	free(keys);
	json_decref(refs);
	if (ret < 0)
		lfs_image_list_free(out);
	return ret;
}

static bool is_hex(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* Resolve a manifest digest or a unique prefix of its hex (6+ digits). */
static int find_digest(struct lfs_store *s, const char *name, char out[LFS_DIGEST_SIZE],
		       struct lfs_error *err)
{
	const char *hex = !strncmp(name, "sha256:", 7) ? name + 7 : name;
	_cleanup_close_ int fd = -1;
	struct dirent *de;
	DIR *d;
	int found = 0;

	if (strlen(hex) < 6 || strlen(hex) > 64 || !is_hex(hex))
		return 0;
	fd = openat(lfs_store_fd(s), "images/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd)))
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "%s/images/sha256", lfs_store_root(s));
	fd = -1;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, hex, strlen(hex)) || strlen(de->d_name) != 64)
			continue;
		if (found++) {
			closedir(d);
			return lfs_error_set(err, LFS_E_INVALID, 0, "digest prefix %s is ambiguous", hex);
		}
		snprintf(out, LFS_DIGEST_SIZE, "sha256:%.64s", de->d_name);
	}
	closedir(d);
	return found;
}

/* A name as the user typed it -> the refs.json key ("alpine" -> "docker.io/library/alpine:latest"). */
static char *canonical_key(const char *name)
{
	struct lfs_ref ref;
	char *key;

	if (lfs_ref_parse(name, &ref, NULL) < 0)
		return NULL;
	key = lfs_ref_string(&ref);
	lfs_ref_free(&ref);
	return key;
}

int lfs_store_lookup(struct lfs_store *s, const char *name, struct lfs_image *out,
		     struct lfs_error *err)
{
	_cleanup_free_ char *key = canonical_key(name);
	char digest[LFS_DIGEST_SIZE];
	json_t *refs = read_refs(s, err), *v;
	int r;

	if (!refs)
		return -1;
	v = key ? json_object_get(json_object_get(refs, "refs"), key) : NULL;
	if (v) {
		r = load_ref(s, key, v, out, err);
		json_decref(refs);
		return r;
	}
	json_decref(refs);
	r = find_digest(s, name, digest, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return lfs_error_set(err, LFS_E_NOTFOUND, 0, "image %s is not in the store", name);
	return lfs_store_load_image(s, digest, out, err);
}

int lfs_store_remove(struct lfs_store *s, const char *name, struct lfs_error *err)
{
	_cleanup_free_ char *key = canonical_key(name);
	_cleanup_close_ int lock = lock_images(s, err);
	char digest[LFS_DIGEST_SIZE] = "", dir[128];
	json_t *refs, *map, *v;
	const char *k;
	void *tmp;
	bool still = false;
	int ret = -1;

	if (lock < 0)
		return -1;
	refs = read_refs(s, err);
	if (!refs)
		return -1;
	map = json_object_get(refs, "refs");
	v = key ? json_object_get(map, key) : NULL;
	if (v) {
		snprintf(digest, sizeof(digest), "%s", ref_digest(v) ? ref_digest(v) : "");
		json_object_del(map, key);
	} else {
		int r = find_digest(s, name, digest, err);

		if (r <= 0) {
			if (r == 0)
				lfs_error_set(err, LFS_E_NOTFOUND, 0, "image %s is not in the store", name);
			goto out;
		}
		json_object_foreach_safe(map, tmp, k, v)
			if (ref_digest(v) && !strcmp(ref_digest(v), digest))
				json_object_del(map, k);
	}
	json_object_foreach(map, k, v)
		if (ref_digest(v) && !strcmp(ref_digest(v), digest))
			still = true;
	if (write_refs(s, refs, err) < 0)
		goto out;
	ret = 0;
	if (!still && lfs_digest_valid(digest)) {
		image_dir(digest, dir, sizeof(dir));
		ret = lfs_store_remove_tree(s, dir, err);
	}
out:
	json_decref(refs);
	return ret;
}

int lfs_store_ref_digests(struct lfs_store *s, struct lfs_set *out, struct lfs_error *err)
{
	json_t *refs = read_refs(s, err), *v;
	const char *key;
	int ret = 0;

	if (!refs)
		return -1;
	json_object_foreach(json_object_get(refs, "refs"), key, v) {
		const char *d = ref_digest(v);

		if (!lfs_digest_valid(d)) {
			ret = lfs_error_set(err, LFS_E_SYSTEM, 0, "%s/images/refs.json: bad digest for %s",
					    lfs_store_root(s), key);
			break;
		}
		if (!lfs_set_insert(out, d + 7)) {
			ret = lfs_oom(err);
			break;
		}
	}
	json_decref(refs);
	return ret;
}
