// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Credentials from the auth.json format shared by containers tools and
 * Docker ({"auths": {"host": {"auth": base64("user:pass")}}}).  Keys may be
 * written as "host", "https://host" or "https://host/v1/"; docker.io's
 * credentials live under "https://index.docker.io/v1/".
 *
 * In one file, in this order: "credHelpers" {"host": "NAME"} names the
 * credential helper for a registry (its answer is final for that file); an
 * "auths" entry with "auth", "username"/"password" or "identitytoken" (an
 * OAuth2 refresh token, Docker's "docker login" with a token server that
 * issues them); "credsStore" NAME, the helper for every other registry.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "internal.h"

/* "https://index.docker.io/v1/" -> "index.docker.io" */
static void key_host(const char *key, char *out, size_t len)
{
	const char *p = strstr(key, "://");
	size_t n;

	p = p ? p + 3 : key;
	n = strcspn(p, "/");
	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

static bool host_matches(const char *key, const char *host)
{
	char h[256];

	key_host(key, h, sizeof(h));
	if (!strcmp(h, host))
		return true;
	/* docker.io's API host and its historical credential keys */
	if (!strcmp(host, "registry-1.docker.io") || !strcmp(host, "docker.io"))
		return !strcmp(h, "index.docker.io") || !strcmp(h, "docker.io") ||
		       !strcmp(h, "registry-1.docker.io");
	return false;
}

static int decode_auth(const char *b64, char **user, char **pass, const char *path,
		       struct lfs_error *err)
{
	size_t len = strlen(b64);
	_cleanup_free_ unsigned char *raw = malloc(len + 4);
	char *colon;
	int n;

	if (!raw)
		return lfs_oom(err);
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
	if (n < 0)
		return lfs_error_set(err, LFS_E_INVALID, 0, "%s: \"auth\" is not base64", path);
	/* EVP_DecodeBlock counts base64 padding as zero bytes */
	while (len && b64[len - 1] == '=' && n > 0) {
		len--;
		n--;
	}
	raw[n] = '\0';
	if (strlen((char *)raw) != (size_t)n || !(colon = strchr((char *)raw, ':')))
		return lfs_error_set(err, LFS_E_INVALID, 0, "%s: \"auth\" is not base64(user:password)", path);
	*colon = '\0';
	*user = strdup((char *)raw);
	*pass = strdup(colon + 1);
	if (!*user || !*pass) {
		free(*user);
		free(*pass);
		*user = *pass = NULL;
		return lfs_oom(err);
	}
	return 1;
}

/* The server name a helper is asked about: Docker's historical key for docker.io. */
static const char *helper_server(const char *host)
{
	if (!strcmp(host, "registry-1.docker.io") || !strcmp(host, "docker.io"))
		return "https://index.docker.io/v1/";
	return host;
}

static int from_helper(const char *name, const char *host, const char *path, unsigned timeout_ms,
		       struct lfs_credentials *c, struct lfs_error *err)
{
	int ret = lfs_cred_helper_get(name, helper_server(host), timeout_ms, c, err);

	if (ret < 0)
		lfs_error_prefix(err, "%s", path);
	return ret;
}

static int from_entry(json_t *v, const char *path, struct lfs_credentials *c, struct lfs_error *err)
{
	json_t *a = json_object_get(v, "auth"), *id = json_object_get(v, "identitytoken");
	json_t *u = json_object_get(v, "username"), *p = json_object_get(v, "password");
	int ret = 0;

	if (json_is_string(a) && json_string_length(a)) {
		ret = decode_auth(json_string_value(a), &c->user, &c->pass, path, err);
	} else if (json_is_string(u) && json_is_string(p)) {
		c->user = strdup(json_string_value(u));
		c->pass = strdup(json_string_value(p));
		ret = (c->user && c->pass) ? 1 : lfs_oom(err);
	}
	if (ret >= 0 && json_is_string(id) && json_string_length(id)) {
		c->identity_token = strdup(json_string_value(id));
		ret = c->identity_token ? 1 : lfs_oom(err);
	}
	if (ret < 0)
		lfs_credentials_free(c);
	return ret;
}

static int lookup_file(const char *path, const char *host, unsigned timeout_ms,
		       struct lfs_credentials *c, bool must_exist, struct lfs_error *err)
{
	_cleanup_free_ char *data = NULL;
	json_error_t jerr;
	json_t *root, *v;
	const char *key, *store;
	size_t len;
	int ret = 0;

	if (lfs_read_file_at(AT_FDCWD, path, 1 << 20, &data, &len, err) < 0) {
		if (!must_exist && err->errnum == ENOENT)
			return 0;
		return -1;
	}
	root = json_loadb(data, len, 0, &jerr);
	if (len)
		memset(data, 0, len);
	if (!root)
		return lfs_error_set(err, LFS_E_INVALID, 0, "%s: not valid JSON: %s (line %d)", path,
				     jerr.text, jerr.line);
	json_object_foreach(json_object_get(root, "credHelpers"), key, v) {
		if (host_matches(key, host) && json_is_string(v)) {
			ret = from_helper(json_string_value(v), host, path, timeout_ms, c, err);
			goto out;
		}
	}
	json_object_foreach(json_object_get(root, "auths"), key, v) {
		if (host_matches(key, host) && (ret = from_entry(v, path, c, err)) != 0)
			goto out;
	}
	store = json_string_value(json_object_get(root, "credsStore"));
	if (store && *store)
		ret = from_helper(store, host, path, timeout_ms, c, err);
out:
	json_decref(root);
	return ret;
}

int lfs_auth_lookup(const char *path, const char *host, unsigned helper_timeout_ms,
		    struct lfs_credentials *c, struct lfs_error *err)
{
	char buf[4096];
	const char *env;
	int r;

	memset(c, 0, sizeof(*c));
	if (path)
		return lookup_file(path, host, helper_timeout_ms, c, true, err);
	env = getenv("REGISTRY_AUTH_FILE");
	if (env && *env)
		return lookup_file(env, host, helper_timeout_ms, c, true, err);
	env = getenv("XDG_RUNTIME_DIR");
	if (env && *env) {
		snprintf(buf, sizeof(buf), "%s/containers/auth.json", env);
		r = lookup_file(buf, host, helper_timeout_ms, c, false, err);
		if (r)
			return r;
	}
	env = getenv("HOME");
	if (env && *env) {
		snprintf(buf, sizeof(buf), "%s/.docker/config.json", env);
		return lookup_file(buf, host, helper_timeout_ms, c, false, err);
	}
	return 0;
}
