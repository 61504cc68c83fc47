// SPDX-License-Identifier: GPL-2.0
/*
 * layerd.conf: one "key = value" per line; blank lines and lines whose
 * first non-blank character is '#' are ignored.  Values run to the end of
 * the line (trailing blanks cut), so a path may hold '#' or '='.  Anything
 * unknown or malformed is an error naming the file and line: a daemon that
 * silently ignored a misspelt key would run with settings nobody chose.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "layerfs.h"

static const char *const pull_names[] = {
	[LAYERFS_PULL_MISSING] = "missing",
	[LAYERFS_PULL_NEVER] = "never",
	[LAYERFS_PULL_ALWAYS] = "always",
};

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARNING] = "warning",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

const char *layerd_pull_name(int policy)
{
	return policy >= 0 && policy < __LAYERFS_PULL_MAX ? pull_names[policy] : "?";
}

const char *layerd_log_level_name(enum layerd_log_level l)
{
	return level_names[l];
}

void layerd_config_default(struct layerd_config *c)
{
	memset(c, 0, sizeof(*c));
	c->parallelism = LAYERD_PARALLELISM_DEFAULT;
	c->pull_policy = LAYERFS_PULL_MISSING;
	c->log_level = LOG_LVL_INFO;
}

void layerd_config_free(struct layerd_config *c)
{
	free(c->store);
	free(c->auth_file);
	free(c->ca_file);
	while (c->n_insecure)
		free(c->insecure[--c->n_insecure]);
	lfs_mirrors_free(&c->mirrors);
	layerd_config_default(c);
}

static int __attribute__((format(printf, 5, 6)))
conf_error(char *errbuf, size_t errlen, const char *name, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(errbuf, errlen, "%s:%u: ", name, line);

	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(errbuf + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int match_name(const char *v, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v, names[i]))
			return (int)i;
	return -1;
}

/* HOST or HOST:PORT, as the pull code compares it with a reference's host. */
static bool valid_host(const char *v)
{
	const char *colon = strrchr(v, ':');
	const char *p;

	if (!*v || *v == ':')
		return false;
	for (p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p))
			return false;
	if (colon && v[0] != '[') {
		char *end;
		unsigned long port = strtoul(colon + 1, &end, 10);

		if (!colon[1] || *end || port == 0 || port > 65535)
			return false;
	}
	return true;
}

/* A path key: absolute (the daemon runs from /), given once. */
static int set_path(char **slot, const char *key, const char *v, char *errbuf, size_t errlen,
		    const char *name, unsigned line)
{
	if (*slot)
		return conf_error(errbuf, errlen, name, line, "%s is given twice", key);
	if (v[0] != '/')
		return conf_error(errbuf, errlen, name, line, "%s must be an absolute path, not \"%s\"",
				  key, v);
	*slot = strdup(v);
	return *slot ? 0 : conf_error(errbuf, errlen, name, line, "out of memory");
}

static int set_key(struct layerd_config *c, const char *key, const char *v, bool *seen,
		   char *errbuf, size_t errlen, const char *name, unsigned line)
{
	int i;

	if (!strcmp(key, "store"))
		return set_path(&c->store, key, v, errbuf, errlen, name, line);
	if (!strcmp(key, "auth_file"))
		return set_path(&c->auth_file, key, v, errbuf, errlen, name, line);
	if (!strcmp(key, "ca_file"))
		return set_path(&c->ca_file, key, v, errbuf, errlen, name, line);
	if (!strcmp(key, "insecure")) {
		if (!valid_host(v))
			return conf_error(errbuf, errlen, name, line,
					  "insecure wants HOST or HOST:PORT, not \"%s\"", v);
		if (c->n_insecure >= LAYERD_INSECURE_MAX)
			return conf_error(errbuf, errlen, name, line, "more than %d insecure registries",
					  LAYERD_INSECURE_MAX);
		c->insecure[c->n_insecure] = strdup(v);
		if (!c->insecure[c->n_insecure])
			return conf_error(errbuf, errlen, name, line, "out of memory");
		c->n_insecure++;
		return 0;
	}
	if (!strcmp(key, "mirror")) {
		struct lfs_error err = { 0 };

		if (lfs_mirrors_add(&c->mirrors, v, &err) < 0)
			return conf_error(errbuf, errlen, name, line, "%s", err.msg);
		return 0;
	}
	/* the rest are single-valued settings: a second one is a mistake */
	if (!strcmp(key, "parallelism")) {
		char *end;
		unsigned long n;

		if (seen[0])
			return conf_error(errbuf, errlen, name, line, "parallelism is given twice");
		seen[0] = true;
		errno = 0;
		n = strtoul(v, &end, 10);
		if (errno || *end || !isdigit((unsigned char)v[0]) || n < 1 || n > LAYERD_PARALLELISM_MAX)
			return conf_error(errbuf, errlen, name, line,
					  "parallelism wants a number from 1 to %d, not \"%s\"",
					  LAYERD_PARALLELISM_MAX, v);
		c->parallelism = (unsigned)n;
		return 0;
	}
	if (!strcmp(key, "pull_policy")) {
		if (seen[1])
			return conf_error(errbuf, errlen, name, line, "pull_policy is given twice");
		seen[1] = true;
		i = match_name(v, pull_names, __LAYERFS_PULL_MAX);
		if (i < 0)
			return conf_error(errbuf, errlen, name, line,
					  "pull_policy wants missing, never or always, not \"%s\"", v);
		c->pull_policy = i;
		return 0;
	}
	if (!strcmp(key, "log_level")) {
		if (seen[2])
			return conf_error(errbuf, errlen, name, line, "log_level is given twice");
		seen[2] = true;
		i = match_name(v, level_names, sizeof(level_names) / sizeof(level_names[0]));
		if (i < 0)
			return conf_error(errbuf, errlen, name, line,
					  "log_level wants error, warning, info or debug, not \"%s\"", v);
		c->log_level = (enum layerd_log_level)i;
		return 0;
	}
	return conf_error(errbuf, errlen, name, line, "unknown key \"%s\"", key);
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int layerd_config_parse(FILE *f, const char *name, struct layerd_config *c, char *errbuf,
			size_t errlen)
{
	bool seen[3] = { false, false, false };
	char *buf = NULL, *key, *val, *eq;
	size_t cap = 0;
	unsigned line = 0;
	ssize_t n;
	int ret = 0;

	while (ret == 0 && (n = getline(&buf, &cap, f)) >= 0) {
		line++;
		if (memchr(buf, '\0', (size_t)n)) {
			ret = conf_error(errbuf, errlen, name, line, "NUL byte in the line");
			break;
		}
		key = trim(buf);
		if (!*key || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			ret = conf_error(errbuf, errlen, name, line, "expected \"key = value\"");
			break;
		}
		*eq = '\0';
		val = trim(eq + 1);
		key = trim(key);
		if (!*key)
			ret = conf_error(errbuf, errlen, name, line, "no key before '='");
		else if (!*val)
			ret = conf_error(errbuf, errlen, name, line, "%s has no value", key);
		else
			ret = set_key(c, key, val, seen, errbuf, errlen, name, line);
	}
	if (ret == 0 && ferror(f))
		ret = conf_error(errbuf, errlen, name, line + 1, "read error: %s", strerror(errno));
	free(buf);
	return ret;
}

int layerd_config_load(const char *path, int must_exist, struct layerd_config *c, char *errbuf,
		       size_t errlen)
{
	FILE *f = fopen(path, "re");
	int ret;

	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	ret = layerd_config_parse(f, path, c, errbuf, errlen);
	fclose(f);
	return ret;
}
