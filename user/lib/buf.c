// SPDX-License-Identifier: LGPL-2.1-or-later
/* Small containers: a growable byte buffer and a string-keyed hash set. */
#include <errno.h>
#include <stdint.h>

#include "internal.h"

int lfs_buf_append(struct lfs_buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return -1;
		b->data = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';	/* bodies are handed to parsers as strings */
	return 0;
}

void lfs_buf_free(struct lfs_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

struct lfs_set_entry *lfs_set_find(const struct lfs_set *s, const char *key)
{
	size_t i;

	if (!s->cap)
		return NULL;
	for (i = hash_str(key) & (s->cap - 1); s->v[i].key; i = (i + 1) & (s->cap - 1))
		if (!strcmp(s->v[i].key, key))
			return &s->v[i];
	return NULL;
}

static int set_grow(struct lfs_set *s)
{
	size_t cap = s->cap ? s->cap * 2 : 64, i;
	struct lfs_set_entry *v = calloc(cap, sizeof(*v));

	if (!v)
		return -1;
	for (i = 0; i < s->cap; i++) {
		size_t j;

		if (!s->v[i].key)
			continue;
		for (j = hash_str(s->v[i].key) & (cap - 1); v[j].key; j = (j + 1) & (cap - 1))
			;
		v[j] = s->v[i];
	}
	free(s->v);
	s->v = v;
	s->cap = cap;
	return 0;
}

struct lfs_set_entry *lfs_set_insert(struct lfs_set *s, const char *key)
{
	struct lfs_set_entry *e = lfs_set_find(s, key);
	size_t i;

	if (e)
		return e;
	if ((s->n + 1) * 2 > s->cap && set_grow(s) < 0)
		return NULL;
	for (i = hash_str(key) & (s->cap - 1); s->v[i].key; i = (i + 1) & (s->cap - 1))
		;
	s->v[i].key = strdup(key);
	if (!s->v[i].key)
		return NULL;
	s->v[i].value = 0;
	s->n++;
	return &s->v[i];
}

void lfs_set_free(struct lfs_set *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		free(s->v[i].key);
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}
