// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * WWW-Authenticate parsing per RFC 7235 section 4.1:
 *   challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 * Several challenges may share one header, separated by commas, so after a
 * comma "name=" continues the current challenge and a bare token starts the
 * next.  Quoted strings may hold commas and backslash escapes.
 */
#include <ctype.h>
#include <errno.h>

#include "internal.h"

#define HEADER_MAX 16384
#define CHALLENGES_MAX 16
#define PARAMS_MAX 32

static bool is_tchar(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token68_char(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("-._~+/", c));
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static char *lower_dup(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	size_t i;

	if (!d)
		return NULL;
	for (i = 0; i < n; i++)
		d[i] = (char)tolower((unsigned char)s[i]);
	d[n] = '\0';
	return d;
}

void lfs_challenges_free(struct lfs_challenges *c)
{
	size_t i, j;

	for (i = 0; i < c->n; i++) {
		for (j = 0; j < c->v[i].n_params; j++) {
			free(c->v[i].params[j].name);
			free(c->v[i].params[j].value);
		}
		free(c->v[i].params);
		free(c->v[i].scheme);
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

const char *lfs_challenge_param(const struct lfs_challenge *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n_params; i++)
		if (!strcmp(c->params[i].name, name))
			return c->params[i].value;
	return NULL;
}

/* Parse a quoted-string at p (pointing at '"'); returns the end or NULL. */
static const char *parse_quoted(const char *p, char **out)
{
	size_t n = 0;
	char *v = malloc(strlen(p) + 1);

	if (!v)
		return NULL;
	for (p++; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		v[n++] = *p;
	}
	if (*p != '"') {
		free(v);
		return NULL;
	}
	v[n] = '\0';
	*out = v;
	return p + 1;
}

static int add_param(struct lfs_challenge *c, char *name, char *value, struct lfs_error *err)
{
	struct lfs_auth_param *p;

	if (c->n_params >= PARAMS_MAX) {
		free(name);
		free(value);
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "WWW-Authenticate: too many parameters");
	}
	p = realloc(c->params, (c->n_params + 1) * sizeof(*p));
	if (!p) {
		free(name);
		free(value);
		return lfs_oom(err);
	}
	c->params = p;
	p[c->n_params].name = name;
	p[c->n_params].value = value;
	c->n_params++;
	return 0;
}

int lfs_www_authenticate_parse(const char *h, struct lfs_challenges *out,
			       struct lfs_error *err)
{
	const char *p = h;

	memset(out, 0, sizeof(*out));
	if (!h)
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "WWW-Authenticate: missing");
	if (strlen(h) > HEADER_MAX)
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "WWW-Authenticate: longer than %d bytes",
				     HEADER_MAX);
	for (;;) {
		struct lfs_challenge *c, *v;
		const char *s;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		for (s = p; is_tchar(*p); p++)
			;
		if (p == s || (*p && *p != ' ' && *p != '\t' && *p != ','))
			goto bad;
		if (out->n >= CHALLENGES_MAX) {
			lfs_error_set(err, LFS_E_PROTOCOL, 0, "WWW-Authenticate: too many challenges");
			goto fail;
		}
		v = realloc(out->v, (out->n + 1) * sizeof(*v));
		if (!v)
			goto oom;
		out->v = v;
		c = &out->v[out->n++];
		memset(c, 0, sizeof(*c));
		c->scheme = lower_dup(s, p - s);
		if (!c->scheme)
			goto oom;

		/* parameters of this challenge */
		for (bool first = true;; first = false) {
			const char *name, *q;
			char *pname, *pval = NULL;

			q = skip_ws(p);
			if (!first) {
				if (*q != ',')
					break;
				while (*q == ',' || *q == ' ' || *q == '\t')
					q++;
			}
			if (!*q) {
				p = q;
				break;
			}
			name = q;
			while (is_tchar(*q))
				q++;
			if (q == name) {
				/* token68 may start with chars that are not tchar ('/') */
				if (first && is_token68_char(*q))
					goto token68;
				goto bad;
			}
			{
				const char *eq = skip_ws(q);

				if (*eq != '=') {
					if (first && (!*eq || *eq == ','))
						goto token68;
					/* a bare token after a comma: the next challenge */
					p = name;
					break;
				}
				/* "abc==" after the scheme is token68, not a parameter */
				if (first && (eq[1] == '=' || !*skip_ws(eq + 1)))
					goto token68;
				pname = lower_dup(name, q - name);
				if (!pname)
					goto oom;
				q = skip_ws(eq + 1);
				if (*q == '"') {
					q = parse_quoted(q, &pval);
					if (!q) {
						free(pname);
						goto bad;
					}
				} else {
					const char *vs = q;

					while (is_tchar(*q))
						q++;
					pval = strndup(vs, q - vs);
					if (!pval) {
						free(pname);
						goto oom;
					}
				}
				if (add_param(c, pname, pval, err) < 0)
					goto fail;
				p = q;
				continue;
			}
token68:
			{
				const char *ts = name;

				while (is_token68_char(*q))
					q++;
				while (*q == '=')
					q++;
				pname = strdup("");
				pval = strndup(ts, q - ts);
				if (!pname || !pval) {
					free(pname);
					free(pval);
					goto oom;
				}
				if (add_param(c, pname, pval, err) < 0)
					goto fail;
				p = skip_ws(q);
				if (*p && *p != ',')
					goto bad;
				break;
			}
		}
	}
	if (!out->n)
		return lfs_error_set(err, LFS_E_PROTOCOL, 0, "WWW-Authenticate: no challenge");
	return 0;
bad:
	lfs_error_set(err, LFS_E_PROTOCOL, 0, "WWW-Authenticate: malformed near \"%.40s\"", p);
	goto fail;
oom:
	lfs_oom(err);
fail:
	lfs_challenges_free(out);
	return -1;
}
