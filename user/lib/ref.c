// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Image references, normalised the way Docker does:
 *   alpine                    -> docker.io/library/alpine:latest
 *   host:5000/a/b:tag         -> host:5000/a/b:tag
 *   name@sha256:HEX           -> digest reference (a tag may stand beside it)
 * Grammar: distribution/reference; invalid input is rejected with the reason.
 */
#include <ctype.h>
#include <errno.h>

#include "internal.h"

#define REF_MAX 4096
#define NAME_TOTAL_MAX 255	/* domain + "/" + path, as Docker caps it */

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool path_component_valid(const char *s, size_t len)
{
	size_t i = 0;

	if (!len || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return false;
	while (i < len) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < len && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < len && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i >= len || !is_lower_alnum(s[i]))
			return false;
	}
	return true;
}

static bool tag_valid(const char *t)
{
	size_t i, len = strlen(t);

	if (!len || len > 128)
		return false;
	if (!(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (i = 1; i < len; i++)
		if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
			return false;
	return true;
}

static bool port_valid(const char *p)
{
	size_t i, len = strlen(p);

	if (!len || len > 5)
		return false;
	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)p[i]))
			return false;
	return atoi(p) > 0 && atoi(p) <= 65535;
}

static bool domain_valid(const char *d)
{
	const char *port = NULL, *end;
	const char *p;

	if (d[0] == '[') {
		end = strchr(d, ']');
		if (!end || end == d + 1)
			return false;
		for (p = d + 1; p < end; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return false;
		if (end[1] == '\0')
			return true;
		return end[1] == ':' && port_valid(end + 2);
	}
	port = strchr(d, ':');
	end = port ? port : d + strlen(d);
	if (end == d)
		return false;
	for (p = d; p < end;) {
		const char *label = p;

		while (p < end && (isalnum((unsigned char)*p) || *p == '-'))
			p++;
		if (p == label || label[0] == '-' || p[-1] == '-')
			return false;
		if (p < end) {
			if (*p != '.')
				return false;
			p++;
			if (p == end)
				return false;
		}
	}
	return !port || port_valid(port + 1);
}

bool lfs_domain_valid(const char *d)
{
	return domain_valid(d);
}

static bool looks_like_domain(const char *first, size_t len)
{
	size_t i;

	if (len == 9 && !strncmp(first, "localhost", 9))
		return true;
	for (i = 0; i < len; i++)
		if (first[i] == '.' || first[i] == ':' || first[i] == '[' ||
		    isupper((unsigned char)first[i]))
			return true;
	return false;
}

void lfs_ref_free(struct lfs_ref *ref)
{
	free(ref->domain);
	free(ref->host);
	free(ref->path);
	free(ref->tag);
	free(ref->digest);
	memset(ref, 0, sizeof(*ref));
}

#define REF_FAIL(...) do { lfs_error_set(err, LFS_E_INVALID, 0, __VA_ARGS__); goto out_fail; } while (0)

int lfs_ref_parse(const char *s, struct lfs_ref *ref, struct lfs_error *err)
{
	_cleanup_free_ char *copy = NULL;
	char *at, *name, *slash, *colon, *path, *p;
	size_t i, len = s ? strlen(s) : 0;

	memset(ref, 0, sizeof(*ref));
	if (!len)
		return lfs_error_set(err, LFS_E_INVALID, 0, "empty image reference");
	if (len > REF_MAX)
		return lfs_error_set(err, LFS_E_INVALID, 0, "image reference longer than %d bytes",
				     REF_MAX);
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return lfs_error_set(err, LFS_E_INVALID, 0,
					     "image reference \"%.80s\": contains whitespace or control characters", s);
	copy = strdup(s);
	if (!copy)
		return lfs_oom(err);

	at = strchr(copy, '@');
	if (at) {
		*at = '\0';
		if (lfs_digest_check(at + 1, err) < 0) {
			lfs_error_prefix(err, "image reference \"%.200s\"", s);
			goto out_fail;
		}
		ref->digest = strdup(at + 1);
		if (!ref->digest)
			goto out_oom;
	}
	name = copy;
	slash = strrchr(name, '/');
	colon = strrchr(slash ? slash : name, ':');
	if (colon) {
		*colon = '\0';
		if (!tag_valid(colon + 1))
			REF_FAIL("image reference \"%.200s\": invalid tag \"%.130s\" (want [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})",
				 s, colon + 1);
		ref->tag = strdup(colon + 1);
		if (!ref->tag)
			goto out_oom;
	}
	if (!*name)
		REF_FAIL("image reference \"%.200s\": missing repository name", s);

	slash = strchr(name, '/');
	if (slash && looks_like_domain(name, slash - name)) {
		*slash = '\0';
		if (!domain_valid(name))
			REF_FAIL("image reference \"%.200s\": invalid registry host \"%.100s\"", s, name);
		ref->domain = strdup(name);
		path = slash + 1;
	} else {
		ref->domain = strdup("docker.io");
		path = name;
	}
	if (!ref->domain)
		goto out_oom;
	if (!strcmp(ref->domain, "index.docker.io")) {
		free(ref->domain);
		ref->domain = strdup("docker.io");
		if (!ref->domain)
			goto out_oom;
	}

	for (p = path;;) {
		char *end = strchr(p, '/');
		size_t clen = end ? (size_t)(end - p) : strlen(p);
		size_t k;

		for (k = 0; k < clen; k++)
			if (isupper((unsigned char)p[k]))
				REF_FAIL("image reference \"%.200s\": repository name must be lowercase", s);
		if (!path_component_valid(p, clen))
			REF_FAIL("image reference \"%.200s\": invalid repository path component \"%.*s\"",
				 s, (int)(clen > 100 ? 100 : clen), p);
		if (!end)
			break;
		p = end + 1;
	}

	if (!strcmp(ref->domain, "docker.io") && !strchr(path, '/')) {
		if (asprintf(&ref->path, "library/%s", path) < 0) {
			ref->path = NULL;
			goto out_oom;
		}
	} else {
		ref->path = strdup(path);
		if (!ref->path)
			goto out_oom;
	}
	if (strlen(ref->domain) + 1 + strlen(ref->path) > NAME_TOTAL_MAX)
		REF_FAIL("image reference \"%.200s\": name longer than %d characters", s, NAME_TOTAL_MAX);

	ref->host = strdup(!strcmp(ref->domain, "docker.io") ? "registry-1.docker.io" : ref->domain);
	if (!ref->host)
		goto out_oom;
	if (!ref->tag && !ref->digest) {
		ref->tag = strdup("latest");
		if (!ref->tag)
			goto out_oom;
	}
	return 0;

out_oom:
	lfs_oom(err);
out_fail:
	lfs_ref_free(ref);
	return -1;
}

char *lfs_ref_string(const struct lfs_ref *ref)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s%s%s%s%s", ref->domain, ref->path,
		     ref->tag ? ":" : "", ref->tag ? ref->tag : "",
		     ref->digest ? "@" : "", ref->digest ? ref->digest : "") < 0)
		return NULL;
	return s;
}
