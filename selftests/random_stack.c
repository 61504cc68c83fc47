// SPDX-License-Identifier: GPL-2.0
/*
 * The randomized differential test: random layer stacks (files, dirs,
 * symlinks, hard links, special files, xattrs, OCI whiteouts and opaque
 * markers, overlay-style whiteouts and opaque dirs, directories replaced by
 * files and files by directories across layers, deep and wide trees) are
 * mounted, and the merged view must equal what extracting the layers one
 * after the other into a plain directory gives (lfs_oci_apply, the model):
 * names, types, modes, owners, sizes, contents, link targets, device
 * numbers, mtimes, user.* xattrs, hard links sharing st_ino (and nothing
 * else sharing one), d_ino == st_ino, one st_dev; and every name any layer
 * holds, whiteouts included, looks up the same (found, ENOENT or ENOTDIR).
 *
 * The seed is printed ("# LFS_SEED=N"); LFS_SEED=N replays a run and
 * LFS_STACK=I replays only stack I of it.  LFS_STACKS=N changes how many
 * stacks the "mixed" variant builds (default 40; with "deep" and "wide",
 * 50 stacks per run and file system).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "libharness.h"

/* ------------------------------------------------------------------ */
/* Shapes of stacks                                                    */

FIXTURE(random) {
	struct lfs_stack s;
};

FIXTURE_VARIANT(random) {
	int id;
	int stacks;		/* how many stacks (LFS_STACKS overrides mixed) */
	int min_layers, max_layers;
	int min_ops, max_ops;	/* operations per layer */
	int max_depth;		/* of a random path */
	int wide_percent;	/* chance per layer of a directory of hundreds */
	int chain_percent;	/* chance per layer of a 30-deep chain */
};

FIXTURE_VARIANT_ADD(random, mixed) {
	.id = 1, .stacks = 40, .min_layers = 1, .max_layers = 6,
	.min_ops = 5, .max_ops = 30, .max_depth = 4,
	.wide_percent = 0, .chain_percent = 0,
};

FIXTURE_VARIANT_ADD(random, deep) {
	.id = 2, .stacks = 5, .min_layers = 8, .max_layers = 20,
	.min_ops = 3, .max_ops = 10, .max_depth = 8,
	.wide_percent = 0, .chain_percent = 20,
};

FIXTURE_VARIANT_ADD(random, wide) {
	.id = 3, .stacks = 5, .min_layers = 2, .max_layers = 4,
	.min_ops = 10, .max_ops = 20, .max_depth = 3,
	.wide_percent = 50, .chain_percent = 0,
};

FIXTURE_SETUP(random)
{
	LFS_REQUIRE_ENV();
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_stack_init(&self->s, "random"));
}

FIXTURE_TEARDOWN_PARENT(random)
{
	lfs_stack_remove(&self->s);
}

/* ------------------------------------------------------------------ */
/* Path lists                                                          */

struct entry {
	char *path;		/* relative to the layer root */
	mode_t type;		/* S_IFDIR, S_IFREG, ... */
};

struct plist {
	struct entry *v;
	size_t n, cap;
};

static void plist_add(struct plist *l, const char *path, mode_t type)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			abort();
	}
	l->v[l->n].path = strdup(path);
	l->v[l->n].type = type;
	if (!l->v[l->n].path)
		abort();
	l->n++;
}

static void plist_free(struct plist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* ------------------------------------------------------------------ */
/* Generating one layer                                                */

struct gen {
	struct lfs_rng rng;
	const FIXTURE_VARIANT(random) *shape;
	char root[PATH_MAX];	/* the layer being built */
	struct plist below;	/* every path of the layers built so far */
	struct plist here;	/* paths of this layer */
	struct plist names;	/* every name any layer holds, for lookups */
};

static const char *const alphabet[] = {
	"a", "b", "c", "d", "e", "f", "g", "etc", "usr", "lib",
	"file.txt", "x y", "-dash", "...", "\xc3\xa9t\xc3\xa9",
};

static uint32_t pick(struct gen *g, uint32_t n)
{
	return lfs_below(&g->rng, n);
}

static bool chance(struct gen *g, unsigned int percent)
{
	return lfs_chance(&g->rng, percent);
}

static void random_name(struct gen *g, char *out, size_t len)
{
	if (chance(g, 3)) {
		/* a long name, up to what still fits ".wh." in front */
		size_t n = 100 + pick(g, 152);

		if (n >= len)
			n = len - 1;
		for (size_t i = 0; i < n; i++)
			out[i] = 'a' + pick(g, 26);
		out[n] = '\0';
		return;
	}
	snprintf(out, len, "%s", alphabet[pick(g, sizeof(alphabet) /
						     sizeof(alphabet[0]))]);
}

static void random_path(struct gen *g, char *out, size_t len)
{
	int depth = 1 + pick(g, g->shape->max_depth);
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < depth && used < len - 300; i++) {
		char name[256];

		random_name(g, name, sizeof(name));
		used += snprintf(out + used, len - used, "%s%s",
				 i ? "/" : "", name);
	}
}

static int full(struct gen *g, const char *rel, char *out)
{
	if (snprintf(out, PATH_MAX, "%s%s%s", g->root, *rel ? "/" : "", rel) >=
	    PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

static mode_t type_in_layer(struct gen *g, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	if (full(g, rel, p) || lstat(p, &st))
		return 0;
	return st.st_mode & S_IFMT;
}

static const mode_t dir_modes[] = { 0755, 0755, 0700, 0750, 01777, 0555 };
static const mode_t file_modes[] = {
	0644, 0644, 0600, 0755, 0700, 0444, 0640, 04755, 02755, 0000,
};
static const uid_t owners[] = { 0, 0, 0, 1000, 65534 };

static void random_owner(struct gen *g, const char *p)
{
	if (lchown(p, owners[pick(g, 5)], owners[pick(g, 5)]))
		fprintf(stderr, "# lchown %s: %s\n", p, strerror(errno));
}

/* mkdir -p of @rel inside the layer; fails if a component is a non-dir. */
static int make_dirs(struct gen *g, const char *rel)
{
	char buf[PATH_MAX], p[PATH_MAX];
	size_t len = strlen(rel);

	if (!len)
		return 0;
	memcpy(buf, rel, len + 1);
	for (size_t i = 0; i <= len; i++) {
		mode_t t;

		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		t = type_in_layer(g, buf);
		if (t && t != S_IFDIR)
			return -ENOTDIR;
		if (!t) {
			if (full(g, buf, p) || mkdir(p, 0755))
				return -errno;
			random_owner(g, p);
			if (chmod(p, dir_modes[pick(g, 6)]))
				return -errno;
			plist_add(&g->here, buf, S_IFDIR);
		}
		buf[i] = i < len ? '/' : '\0';
	}
	return 0;
}

static int parent_of(const char *rel, char *out)
{
	const char *slash = strrchr(rel, '/');

	if (!slash) {
		out[0] = '\0';
		return 0;
	}
	snprintf(out, PATH_MAX, "%.*s", (int)(slash - rel), rel);
	return 0;
}

static const char *base_of(const char *rel)
{
	const char *slash = strrchr(rel, '/');

	return slash ? slash + 1 : rel;
}

static void random_xattrs(struct gen *g, const char *p)
{
	int n = chance(g, 80) ? 0 : 1 + pick(g, 3);

	for (int i = 0; i < n; i++) {
		char name[16], val[32];
		int len = 1 + pick(g, sizeof(val) - 1);

		snprintf(name, sizeof(name), "user.k%u", pick(g, 4));
		for (int j = 0; j < len; j++)
			val[j] = 'A' + pick(g, 26);
		lsetxattr(p, name, val, len, 0);
	}
}

static int write_random_file(struct gen *g, const char *p)
{
	static unsigned char buf[65536];
	size_t size;
	off_t hole = 0;
	uint32_t r;
	int fd;

	/* 20% empty, 40% tiny, 20% a few pages, 10% bigger, 10% sparse. */
	r = pick(g, 10);
	if (r < 2) {
		size = 0;
	} else if (r < 6) {
		size = 1 + pick(g, 64);
	} else if (r < 8) {
		size = 65 + pick(g, 5000);
	} else if (r < 9) {
		size = 5000 + pick(g, 70000);
	} else {
		size = 4096 + pick(g, 300000);
		hole = pick(g, size);
	}
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	for (size_t off = hole; off < size; ) {
		size_t len = size - off < sizeof(buf) ? size - off : sizeof(buf);

		for (size_t i = 0; i < len; i++)
			buf[i] = lfs_rand(&g->rng);
		if (pwrite(fd, buf, len, off) != (ssize_t)len) {
			close(fd);
			return -EIO;
		}
		off += len;
	}
	if (size && ftruncate(fd, size)) {
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

enum action {
	A_FILE, A_DIR, A_SYMLINK, A_HARDLINK, A_OCI_WHITEOUT, A_OPAQUE,
	A_OVL_WHITEOUT, A_OVL_OPAQUE, A_META_WHITEOUT, A_SPECIAL,
	A_WHITEOUT_AND_ENTRY, A_XATTR, A_NR
};

static const unsigned int weight[A_NR] = {
	[A_FILE] = 28, [A_DIR] = 18, [A_SYMLINK] = 8, [A_HARDLINK] = 5,
	[A_OCI_WHITEOUT] = 12, [A_OPAQUE] = 6, [A_OVL_WHITEOUT] = 3,
	[A_OVL_OPAQUE] = 2, [A_META_WHITEOUT] = 2, [A_SPECIAL] = 3,
	[A_WHITEOUT_AND_ENTRY] = 5, [A_XATTR] = 3,
};

static enum action random_action(struct gen *g)
{
	unsigned int total = 0, r;

	for (int a = 0; a < A_NR; a++)
		total += weight[a];
	r = pick(g, total);
	for (int a = 0; a < A_NR; a++) {
		if (r < weight[a])
			return a;
		r -= weight[a];
	}
	return A_FILE;
}

/* Creates a non-directory or directory at @rel; 0, or -errno to skip. */
static int create(struct gen *g, const char *rel, enum action a)
{
	char p[PATH_MAX], parent[PATH_MAX];
	int ret;

	parent_of(rel, parent);
	ret = make_dirs(g, parent);
	if (ret)
		return ret;
	if (type_in_layer(g, rel))
		return a == A_DIR && type_in_layer(g, rel) == S_IFDIR ? 0 :
			-EEXIST;
	ret = full(g, rel, p);
	if (ret)
		return ret;

	switch (a) {
	case A_DIR:
		return make_dirs(g, rel);
	case A_FILE:
		ret = write_random_file(g, p);
		if (ret)
			return ret;
		random_owner(g, p);
		if (chmod(p, file_modes[pick(g, 10)]))
			return -errno;
		random_xattrs(g, p);
		plist_add(&g->here, rel, S_IFREG);
		return 0;
	case A_SYMLINK: {
		static const char *const targets[] = {
			"a", "../b", "/etc/passwd", "nowhere/at/all", ".",
			"x y", "",
		};
		const char *t = targets[pick(g, 7)];
		char longer[400];

		if (!*t) {
			memset(longer, 'l', sizeof(longer) - 1);
			longer[sizeof(longer) - 1] = '\0';
			t = longer;
		}
		if (symlink(t, p))
			return -errno;
		random_owner(g, p);
		plist_add(&g->here, rel, S_IFLNK);
		return 0;
	}
	case A_HARDLINK: {
		char other[PATH_MAX];
		size_t tries = 0, i;

		do {
			if (!g->here.n)
				return -ENOENT;
			i = pick(g, g->here.n);
		} while (g->here.v[i].type != S_IFREG && ++tries < 20);
		if (g->here.v[i].type != S_IFREG)
			return -ENOENT;
		ret = full(g, g->here.v[i].path, other);
		if (ret || link(other, p))
			return ret ? ret : -errno;
		plist_add(&g->here, rel, S_IFREG);
		return 0;
	}
	case A_OVL_WHITEOUT:
		if (mknod(p, S_IFCHR | 0000, makedev(0, 0)))
			return -errno;
		plist_add(&g->here, rel, S_IFCHR);
		return 0;
	case A_SPECIAL: {
		static const mode_t kinds[] = { S_IFIFO, S_IFCHR, S_IFSOCK };
		mode_t k = kinds[pick(g, 3)];

		if (mknod(p, k | 0644, k == S_IFCHR ? makedev(1, 3 + pick(g, 3)) : 0))
			return -errno;
		random_owner(g, p);
		plist_add(&g->here, rel, k);
		return 0;
	}
	default:
		return -EINVAL;
	}
}

/* ".wh.NAME" beside @rel, hiding NAME in lower layers. */
static int oci_whiteout(struct gen *g, const char *rel)
{
	char parent[PATH_MAX], wh[PATH_MAX], p[PATH_MAX];
	int ret;

	parent_of(rel, parent);
	if (strlen(base_of(rel)) > 251)
		return -ENAMETOOLONG;
	snprintf(wh, sizeof(wh), "%s%s.wh.%s", parent, *parent ? "/" : "",
		 base_of(rel));
	ret = make_dirs(g, parent);
	if (ret || type_in_layer(g, wh))
		return ret ? ret : -EEXIST;
	ret = full(g, wh, p);
	if (ret)
		return ret;
	ret = lfs_write_file(p, "", 0);
	if (ret)
		return ret;
	random_owner(g, p);
	plist_add(&g->here, wh, S_IFREG);
	return 0;
}

static int generate_op(struct gen *g)
{
	char rel[PATH_MAX], p[PATH_MAX];
	enum action a = random_action(g);
	mode_t lower_type = 0;
	int ret;

	/* Aim at what lower layers hold, to replace, hide or merge it. */
	if (g->below.n && chance(g, 45)) {
		struct entry *e = &g->below.v[pick(g, g->below.n)];

		snprintf(rel, sizeof(rel), "%s", e->path);
		lower_type = e->type;
		if (!strncmp(base_of(rel), ".wh.", 4))
			return 0;
		/* Flip the type half of the time. */
		if ((a == A_FILE || a == A_DIR) && chance(g, 50))
			a = lower_type == S_IFDIR ? A_FILE : A_DIR;
	} else if (g->here.n && chance(g, 50)) {
		struct entry *e = &g->here.v[pick(g, g->here.n)];
		char name[256];

		if (e->type != S_IFDIR)
			return 0;
		random_name(g, name, sizeof(name));
		snprintf(rel, sizeof(rel), "%s/%s", e->path, name);
	} else {
		random_path(g, rel, sizeof(rel));
	}

	/* Keep whole paths well below PATH_MAX, with room for prefixes. */
	if (strlen(rel) > 2048)
		return 0;

	switch (a) {
	case A_FILE:
	case A_DIR:
	case A_SYMLINK:
	case A_HARDLINK:
	case A_OVL_WHITEOUT:
	case A_SPECIAL:
		return create(g, rel, a);
	case A_OCI_WHITEOUT:
		return oci_whiteout(g, rel);
	case A_WHITEOUT_AND_ENTRY:
		/* Both in this layer: the entry stays, lower ones go. */
		ret = oci_whiteout(g, rel);
		return ret ? ret : create(g, rel, chance(g, 50) ? A_DIR : A_FILE);
	case A_OPAQUE:
	case A_OVL_OPAQUE: {
		char marker[PATH_MAX];

		/* The layer root, now and then, for OCI markers. */
		if (a == A_OPAQUE && chance(g, 5))
			rel[0] = '\0';
		if (a == A_OVL_OPAQUE && !*rel)
			return 0;
		ret = create(g, rel, A_DIR);
		if (ret)
			return ret;
		if (a == A_OVL_OPAQUE) {
			ret = full(g, rel, p);
			if (ret || lsetxattr(p, "trusted.overlay.opaque", "y", 1, 0))
				return ret ? ret : -errno;
			return 0;
		}
		snprintf(marker, sizeof(marker), "%s%s.wh..wh..opq", rel,
			 *rel ? "/" : "");
		if (type_in_layer(g, marker))
			return 0;
		ret = full(g, marker, p);
		if (!ret)
			ret = lfs_write_file(p, "", 0);
		if (!ret)
			plist_add(&g->here, marker, S_IFREG);
		return ret;
	}
	case A_META_WHITEOUT: {
		char parent[PATH_MAX], meta[PATH_MAX];

		parent_of(rel, parent);
		snprintf(meta, sizeof(meta), "%s%s.wh..wh.%s", parent,
			 *parent ? "/" : "", chance(g, 50) ? "plnk.1" : "orph");
		ret = make_dirs(g, parent);
		if (ret || type_in_layer(g, meta))
			return ret;
		ret = full(g, meta, p);
		if (!ret)
			ret = lfs_write_file(p, "", 0);
		if (!ret)
			plist_add(&g->here, meta, S_IFREG);
		return ret;
	}
	case A_XATTR:
		if (!type_in_layer(g, rel) ||
		    (type_in_layer(g, rel) != S_IFREG &&
		     type_in_layer(g, rel) != S_IFDIR))
			return 0;
		ret = full(g, rel, p);
		if (!ret)
			random_xattrs(g, p);
		return ret;
	default:
		return 0;
	}
}

/* A directory of a few hundred entries (some of them whiteouts). */
static void generate_wide(struct gen *g)
{
	char dir[16], rel[64];
	int n = 100 + pick(g, 200);

	snprintf(dir, sizeof(dir), "wide%u", pick(g, 2));
	if (create(g, dir, A_DIR))
		return;
	for (int i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "%s/n%04u", dir, pick(g, 800));
		if (chance(g, 10))
			oci_whiteout(g, rel);
		else
			create(g, rel, chance(g, 10) ? A_DIR : A_FILE);
	}
}

/* A chain of 30 nested directories with a file at the bottom. */
static void generate_chain(struct gen *g)
{
	char rel[PATH_MAX];
	size_t used = 0;

	for (int i = 0; i < 30; i++)
		used += snprintf(rel + used, sizeof(rel) - used, "%sc%u",
				 i ? "/" : "", pick(g, 2));
	snprintf(rel + used, sizeof(rel) - used, "/leaf");
	create(g, rel, A_FILE);
}

/* Random mtimes on everything in the layer, once it is complete. */
static int set_times(const char *path, const char *rel, const struct stat *st,
		     void *arg)
{
	struct gen *g = arg;
	struct timespec ts[2];

	(void)rel;
	(void)st;
	ts[0].tv_sec = ts[1].tv_sec = 1000000000 + pick(g, 1000000000);
	ts[0].tv_nsec = ts[1].tv_nsec = pick(g, 1000000000);
	return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int generate_layer(struct gen *g, const char *root)
{
	const FIXTURE_VARIANT(random) *v = g->shape;
	int ops = v->min_ops + pick(g, v->max_ops - v->min_ops + 1);

	snprintf(g->root, sizeof(g->root), "%s", root);
	for (int i = 0; i < ops; i++)
		generate_op(g);	/* an op that does not fit is skipped */
	if (chance(g, v->wide_percent))
		generate_wide(g);
	if (chance(g, v->chain_percent))
		generate_chain(g);
	for (size_t i = 0; i < g->here.n; i++) {
		plist_add(&g->below, g->here.v[i].path, g->here.v[i].type);
		plist_add(&g->names, g->here.v[i].path, g->here.v[i].type);
	}
	plist_free(&g->here);
	return lfs_walk(root, set_times, g);
}

/* ------------------------------------------------------------------ */
/* Checking one stack                                                  */

static int dump_one(const char *path, const char *rel, const struct stat *st,
		    void *arg)
{
	int *budget = arg;
	char target[PATH_MAX + 1] = "";
	ssize_t n;

	if (--*budget < 0)
		return 1;
	if (S_ISLNK(st->st_mode)) {
		n = readlink(path, target, PATH_MAX);
		target[n > 0 ? n : 0] = '\0';
	}
	fprintf(stderr, "#     /%s %s%o %u:%u size %lld%s%s\n", rel,
		S_ISDIR(st->st_mode) ? "dir " : S_ISREG(st->st_mode) ? "file " :
		S_ISLNK(st->st_mode) ? "link " : "special ",
		st->st_mode & 07777, st->st_uid, st->st_gid,
		(long long)st->st_size, *target ? " -> " : "", target);
	return 0;
}

/* What the failing stack holds, layer by layer, for the log. */
static void dump_stack(const struct lfs_stack *s)
{
	int budget = 400;

	for (int i = 0; i < s->nlayers && budget > 0; i++) {
		fprintf(stderr, "#   layer %d of %d (%s):\n", i, s->nlayers,
			i ? "" : "top");
		lfs_walk(s->layer[i], dump_one, &budget);
	}
	if (budget <= 0)
		fprintf(stderr, "#   (listing cut)\n");
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t stack_seed(uint64_t seed, int variant, int index)
{
	struct lfs_rng r;

	lfs_rng_init(&r, seed ^ ((uint64_t)variant << 56) ^ (uint64_t)index);
	lfs_rand(&r);
	return lfs_rand(&r);
}

/*
 * Builds, mounts and checks stack @index in @dir; returns 0 if the merged
 * view matched the model, 1 if not (after logging why), -errno if the
 * stack could not be set up.
 */
static int run_stack(struct __test_metadata *_metadata,
		     const FIXTURE_VARIANT(random) *v, struct lfs_stack *s,
		     uint64_t seed, int index)
{
	struct gen g = { .shape = v };
	char expect[PATH_MAX], why[1024];
	enum lfs_how how = index % 3 == 1 ? LFS_VIA_MOUNT2 :
			   index % 3 == 2 ? LFS_VIA_FSCONFIG :
			   LFS_VIA_FSCONFIG_PLUS;
	struct lfs_oci *o;
	int nlayers, ret, bad = 0, efd = -1, afd = -1;
	double t[5];

	t[0] = now();
	lfs_rng_init(&g.rng, stack_seed(seed, v->id, index));
	nlayers = v->min_layers + pick(&g, v->max_layers - v->min_layers + 1);
	for (int i = 0; i < nlayers; i++)
		if (!lfs_stack_add(s, NULL))
			return -ENOMEM;
	/* Bottom up, so that each layer can aim at what is below it. */
	for (int i = nlayers - 1; i >= 0; i--) {
		ret = generate_layer(&g, s->layer[i]);
		if (ret)
			return ret;
	}

	t[1] = now();
	if (snprintf(expect, sizeof(expect), "%s/expect", s->dir) >=
	    (int)sizeof(expect) || mkdir(expect, 0755))
		return -errno;
	o = lfs_oci_new(expect);
	if (!o)
		return -ENOMEM;
	for (int i = nlayers - 1; i >= 0; i--) {
		ret = lfs_oci_apply(o, s->layer[i]);
		if (ret)
			return ret;
	}
	ret = lfs_oci_finish(o);
	if (ret)
		return ret;

	t[2] = now();
	ret = lfs_stack_mount(s, how);
	if (ret == -E2BIG) {
		how = LFS_VIA_FSCONFIG_PLUS;
		ret = lfs_stack_mount(s, how);
	}
	if (ret) {
		TH_LOG("stack %d: mount (%d layers) failed: %s; %s", index,
		       nlayers, strerror(-ret), s->log);
		bad = 1;
		goto out;
	}

	ret = lfs_tree_compare(expect, s->mnt, LFS_CMP_MTIME | LFS_CMP_XATTR |
			       LFS_CMP_INO | LFS_CMP_DINO | LFS_CMP_DEV,
			       why, sizeof(why));
	if (ret) {
		TH_LOG("stack %d (%d layers): merged view differs from the OCI model: %s",
		       index, nlayers, why);
		bad = 1;
	}

	t[3] = now();
	/*
	 * Names any layer holds (whiteouts, markers and what they hide
	 * included) look up as in the model: up to 300 of them, at random.
	 */
	efd = open(expect, O_PATH | O_DIRECTORY | O_CLOEXEC);
	afd = open(s->mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (efd < 0 || afd < 0) {
		TH_LOG("stack %d: open: %s", index, strerror(errno));
		bad = 1;
	}
	for (size_t k = 0; k < g.names.n && k < 300 && !bad; k++) {
		size_t i = g.names.n <= 300 ? k : pick(&g, g.names.n);
		struct stat st;
		int ee, ae;

		ee = fstatat(efd, g.names.v[i].path, &st, AT_SYMLINK_NOFOLLOW) ?
		     errno : 0;
		ae = fstatat(afd, g.names.v[i].path, &st, AT_SYMLINK_NOFOLLOW) ?
		     errno : 0;
		if (ee != ae) {
			TH_LOG("stack %d: lookup of /%s: %s, expected %s", index,
			       g.names.v[i].path, ae ? strerror(ae) : "found",
			       ee ? strerror(ee) : "found");
			bad = 1;
		}
	}
	t[4] = now();
	if (getenv("LFS_VERBOSE"))
		TH_LOG("stack %d: %d layers, %zu names: build %.1f s, model %.1f s, compare %.1f s, lookups %.1f s",
		       index, nlayers, g.names.n, t[1] - t[0], t[2] - t[1],
		       t[3] - t[2], t[4] - t[3]);
out:
	if (efd >= 0)
		close(efd);
	if (afd >= 0)
		close(afd);
	if (bad) {
		TH_LOG("replay: LFS_SEED=%llu LFS_STACK=%d (variant %s)",
		       (unsigned long long)seed, index,
		       v->id == 1 ? "mixed" : v->id == 2 ? "deep" : "wide");
		dump_stack(s);
	}
	plist_free(&g.below);
	plist_free(&g.names);
	return bad;
}

TEST_F_TIMEOUT(random, stacks_match_oci_extraction, 900)
{
	uint64_t seed = lfs_seed();
	const char *only = getenv("LFS_STACK");
	const char *count = getenv("LFS_STACKS");
	int stacks = variant->stacks, failed = 0, ran = 0;
	double start = now();

	if (count && *count && variant->id == 1)
		stacks = atoi(count);
	for (int i = 0; i < stacks && failed < 3; i++) {
		struct lfs_stack *s;
		char tag[32];
		int ret;

		if (only && *only && atoi(only) != i)
			continue;
		s = calloc(1, sizeof(*s));
		ASSERT_NE(NULL, s);
		snprintf(tag, sizeof(tag), "stack%d", i);
		/* Each stack in its own directory below the fixture's. */
		ASSERT_EQ(0, lfs_stack_init_in(s, self->s.dir, tag));
		ret = run_stack(_metadata, variant, s, seed, i);
		ASSERT_LE(0, ret) {
			TH_LOG("stack %d could not be built: %s", i,
			       strerror(-ret));
		}
		failed += ret;
		ran++;
		lfs_stack_fini(s);
		free(s);
	}
	TH_LOG("%d stacks, %d differ from the model (%.0f s)", ran, failed,
	       now() - start);
	EXPECT_EQ(0, failed);
}

TEST_HARNESS_MAIN
