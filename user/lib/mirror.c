// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Registry mirrors: "REGISTRY=MIRROR[,MIRROR...]" parsed into a list per
 * registry.  The pull (pull.c) tries a reference's mirrors in order before
 * its registry; here only the names are checked.
 */
#include <errno.h>

#include "internal.h"

/* Docker Hub answers to three names; a reference says docker.io. */
static const char *registry_name(const char *r)
{
	if (!strcmp(r, "index.docker.io") || !strcmp(r, "registry-1.docker.io"))
		return "docker.io";
	return r;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

const struct lfs_mirror *lfs_mirrors_find(const struct lfs_mirrors *m, const char *registry)
{
	size_t i;

	if (!m || !registry)
		return NULL;
	registry = registry_name(registry);
	for (i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].registry, registry))
			return &m->v[i];
	return NULL;
}

static void mirror_free(struct lfs_mirror *mi)
{
	while (mi->n_hosts)
		free(mi->hosts[--mi->n_hosts]);
	free(mi->hosts);
	free(mi->registry);
}

void lfs_mirrors_free(struct lfs_mirrors *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		mirror_free(&m->v[i]);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* One MIRROR of a list: a bare HOST[:PORT]. */
static int check_host(const char *reg, const char *h, struct lfs_error *err)
{
	if (!*h)
		return lfs_error_set(err, LFS_E_INVALID, 0, "mirror of %s: empty mirror name", reg);
	if (strstr(h, "://"))
		return lfs_error_set(err, LFS_E_INVALID, 0,
				     "mirror \"%.200s\" of %s: HOST[:PORT] without a scheme (plain HTTP is "
				     "configured with insecure)", h, reg);
	if (strchr(h, '/'))
		return lfs_error_set(err, LFS_E_INVALID, 0,
				     "mirror \"%.200s\" of %s: HOST[:PORT] without a path (a mirror serves "
				     "the same repository paths)", h, reg);
	if (!lfs_domain_valid(h))
		return lfs_error_set(err, LFS_E_INVALID, 0, "mirror \"%.200s\" of %s: not a HOST[:PORT]",
				     h, reg);
	if (!strcmp(registry_name(h), reg))
		return lfs_error_set(err, LFS_E_INVALID, 0, "mirror \"%.200s\" is the registry itself", h);
	return 0;
}

int lfs_mirrors_add(struct lfs_mirrors *m, const char *spec, struct lfs_error *err)
{
	_cleanup_free_ char *copy = strdup(spec ? spec : "");
	const struct lfs_mirror *old;
	struct lfs_mirror *mi;
	const char *hv[LFS_MIRRORS_MAX];
	char *eq, *reg, *h, *next;
	size_t n = 0, have, i, k;

	if (!copy)
		return lfs_oom(err);
	eq = strchr(copy, '=');
	if (!eq)
		return lfs_error_set(err, LFS_E_INVALID, 0,
				     "mirror \"%.200s\": want REGISTRY=MIRROR[,MIRROR...]", spec);
	*eq = '\0';
	reg = trim(copy);
	if (!*reg || strchr(reg, '/') || !lfs_domain_valid(reg))
		return lfs_error_set(err, LFS_E_INVALID, 0,
				     "mirror \"%.200s\": REGISTRY \"%.200s\" is not a HOST[:PORT] as in a reference",
				     spec, reg);
	reg = (char *)registry_name(reg);
	old = lfs_mirrors_find(m, reg);
	have = old ? old->n_hosts : 0;
	/* check the whole list before changing anything */
	for (h = eq + 1;; h = next + 1) {
		next = strchr(h, ',');
		if (next)
			*next = '\0';
		h = trim(h);
		if (check_host(reg, h, err) < 0)
			return -1;
		for (i = 0; i < n; i++)
			if (!strcmp(hv[i], h))
				goto twice;
		for (i = 0; i < have; i++)
			if (!strcmp(old->hosts[i], h))
				goto twice;
		if (have + n >= LFS_MIRRORS_MAX)
			return lfs_error_set(err, LFS_E_INVALID, 0, "more than %d mirrors of %s",
					     LFS_MIRRORS_MAX, reg);
		hv[n++] = h;
		if (!next)
			break;
	}

	if (old) {
		mi = &m->v[old - m->v];
	} else {
		struct lfs_mirror *v = realloc(m->v, (m->n + 1) * sizeof(*v));

		if (!v)
			return lfs_oom(err);
		m->v = v;
		mi = &m->v[m->n];
		memset(mi, 0, sizeof(*mi));
		mi->registry = strdup(reg);
		if (!mi->registry)
			return lfs_oom(err);
		m->n++;
	}
	for (k = 0; k < n; k++) {
		char **hosts = realloc(mi->hosts, (mi->n_hosts + 1) * sizeof(*hosts));

		if (!hosts)
			return lfs_oom(err);
		mi->hosts = hosts;
		mi->hosts[mi->n_hosts] = strdup(hv[k]);
		if (!mi->hosts[mi->n_hosts])
			return lfs_oom(err);
		mi->n_hosts++;
	}
	return 0;
twice:
	return lfs_error_set(err, LFS_E_INVALID, 0, "mirror %s of %s is listed twice", h, reg);
}
