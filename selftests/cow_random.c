// SPDX-License-Identifier: GPL-2.0
/*
 * The model-based random test of the writable upper layer (issue 3): a
 * random stack of three lower layers is mounted with an upper layer, a
 * plain directory on the same filesystem starts as a copy of the merged
 * view (the model), and a random sequence of operations is applied to
 * both: pwrite at random offsets and sizes, O_APPEND writes, truncate,
 * fallocate (punch hole, zero range, keep size, extend), MAP_SHARED writes
 * with and without msync, copy_file_range, rename (also RENAME_NOREPLACE
 * and RENAME_EXCHANGE), link, unlink, chmod, mkdir, rmdir, symlink,
 * creating files, setxattr and removexattr of user.* names.
 *
 * Every operation must give the same result (success, or the same errno)
 * on both sides, and must not change the st_ino of the file it works on.
 * After every batch the trees must be identical (contents, sizes, types,
 * modes, owners, symlink targets, user.* xattrs, hard-link groups, link
 * counts), then again after unmount, drop_caches and mount, and no st_ino
 * may have changed over the remount.
 *
 * The seed is printed ("# LFS_SEED=N"); LFS_SEED=N replays.  LFS_COW_OPS
 * changes the operations per variant (default: 3000 for the default
 * granule, so 16,000 per run over the four filesystems), LFS_COW_BATCH the
 * operations between comparisons (200).  LFS_UPPER_FSTYPE=overlay runs it
 * against overlayfs (libupper.h); the cow_block variants skip there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "libharness.h"
#include "libupper.h"

#define MAX_FILE (2 * 1024 * 1024)	/* keeps the trees cheap to compare */

FIXTURE(cow) {
	struct lfs_upper u;
	char model[PATH_MAX];
};

FIXTURE_VARIANT(cow) {
	int id;
	unsigned int cow_block;		/* 0: the module's default */
	int ops;			/* LFS_COW_OPS overrides */
};

FIXTURE_VARIANT_ADD(cow, default_granule) { .id = 1, .cow_block = 0, .ops = 4000 };
FIXTURE_VARIANT_ADD(cow, granule_4k) { .id = 2, .cow_block = 4096, .ops = 1000 };
FIXTURE_VARIANT_ADD(cow, granule_1m) { .id = 3, .cow_block = 1048576, .ops = 1000 };

FIXTURE_SETUP(cow)
{
	if (variant->cow_block && lfs_is_overlay())
		SKIP(return, "cow_block=%u is layerfs only; mounted overlayfs",
		     variant->cow_block);
	LFS_REQUIRE_UPPER_ENV();
	umask(0);
	ASSERT_EQ(0, lfs_private_mount_ns());
	ASSERT_EQ(0, lfs_upper_init(&self->u, "cow_random"));
	self->u.cow_block = variant->cow_block;
	snprintf(self->model, sizeof(self->model), "%s/model", self->u.s.dir);
}

FIXTURE_TEARDOWN_PARENT(cow)
{
	lfs_stack_remove(&self->u.s);
}

/* ------------------------------------------------------------------ */
/* Names                                                               */

/*
 * A small namespace, so that random operations meet existing entries
 * often: up to three levels of these names.  Symlink targets are names of
 * the same set below the link's directory, never "..": nothing can point
 * out of the tree (the model and the mount share a parent).
 */
static const char *const names[] = {
	"a", "b", "c", "d", "f1", "f2", "f3", "f4", "f5", "x y",
	/* only ever the last component of a path (see random_path) */
	"g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7",
};
#define NDIRNAMES 10
#define NNAMES (sizeof(names) / sizeof(names[0]))

/* "@a/@b" into @out (PATH_MAX); these paths are always far shorter. */
static void join(char *out, const char *a, const char *b)
{
	if (snprintf(out, PATH_MAX, "%s/%s", a, b) >= PATH_MAX)
		fprintf(stderr, "# path too long: %s/%s\n", a, b);
}

static void random_path(struct lfs_rng *r, char *out, size_t len)
{
	int depth = 1 + (lfs_chance(r, 50) ? 0 : lfs_chance(r, 70) ? 1 : 2);
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < depth; i++)
		used += snprintf(out + used, len - used, "%s%s", i ? "/" : "",
				 names[lfs_below(r, i == depth - 1 ? NNAMES : NDIRNAMES)]);
}

/* Paths of the model at the start of a batch, with their types. */
struct plist {
	char (*path)[PATH_MAX];
	mode_t *type;
	size_t n, cap;
};

static int plist_add(const char *path, const char *rel, const struct stat *st,
		     void *arg)
{
	struct plist *l = arg;

	(void)path;
	if (!*rel)
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->path = realloc(l->path, l->cap * sizeof(*l->path));
		l->type = realloc(l->type, l->cap * sizeof(*l->type));
		if (!l->path || !l->type)
			return -ENOMEM;
	}
	snprintf(l->path[l->n], PATH_MAX, "%s", rel);
	l->type[l->n++] = st->st_mode & S_IFMT;
	return 0;
}

/* An existing path of type @type (0: any) most of the time, else random. */
static void pick_path(struct lfs_rng *r, const struct plist *l, mode_t type,
		      char *out, size_t len)
{
	if (l->n && lfs_chance(r, 90)) {
		for (int tries = 0; tries < 50; tries++) {
			size_t i = lfs_below(r, l->n);

			if (!type || l->type[i] == type) {
				snprintf(out, len, "%s", l->path[i]);
				return;
			}
		}
	}
	random_path(r, out, len);
}

/* ------------------------------------------------------------------ */
/* Lower layers                                                        */

static const mode_t file_modes[] = { 0644, 0600, 0755, 0444, 0640, 04755 };

static off_t random_size(struct lfs_rng *r)
{
	switch (lfs_below(r, 5)) {
	case 0: return lfs_below(r, 2) ? 0 : lfs_below(r, 100);
	case 1: return lfs_below(r, 5000);
	case 2: return lfs_below(r, 70000);
	case 3: return 4096 * (1 + lfs_below(r, 64));
	default: return lfs_below(r, 1200000);
	}
}

static void make_parents(const char *path)
{
	char p[PATH_MAX], *slash;

	snprintf(p, sizeof(p), "%s", path);
	slash = strrchr(p, '/');
	if (slash) {
		*slash = '\0';
		lfs_mkdir_p(p);
	}
}

/*
 * Is @rel visible in the merged view of the layers below @i?  A whiteout
 * must hide something: overlayfs lists a 0/0 device that hides nothing in
 * a directory no lower layer merges with, and real layers never hold one.
 */
static bool visible_below(const struct lfs_stack *s, int i, const char *rel)
{
	for (int j = i + 1; j < s->nlayers; j++) {
		char p[PATH_MAX];
		struct stat st;

		join(p, s->layer[j], rel);
		if (!lstat(p, &st))
			return !(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
		/* a parent that is no directory here hides the layers below */
		for (char *slash = strrchr(p, '/'); slash > p + strlen(s->layer[j]);
		     slash = strrchr(p, '/')) {
			*slash = '\0';
			if (!lstat(p, &st)) {
				if (!S_ISDIR(st.st_mode))
					return false;
				break;
			}
		}
	}
	return false;
}

/*
 * Layer @i: files of every size class (some sparse), directories,
 * symlinks, hard links (top layer, overlayfs only), user.* xattrs, owners and
 * modes, and,
 * above the bottom layer, overlay-style 0/0 whiteouts of names the layers below show
 * (layerfs honours those as overlayfs does, so one stack serves both).
 * Layers are filled bottom first.
 */
static void gen_layer(struct lfs_rng *r, const struct lfs_stack *s, int i)
{
	const char *root = s->layer[i];
	bool bottom = i == s->nlayers - 1;
	int n = 15 + lfs_below(r, 25);
	char rel[PATH_MAX], p[PATH_MAX], other[PATH_MAX];

	for (int e = 0; e < n; e++) {
		unsigned int kind = lfs_below(r, 100);

		random_path(r, rel, sizeof(rel));
		join(p, root, rel);
		make_parents(p);	/* fails under a file: then so does all */
		if (!lfs_lstat_errno(p))
			continue;
		if (kind < 60) {
			off_t size = random_size(r);

			if (lfs_write_pattern(p, size, lfs_rand(r)))
				continue;
			if (lfs_chance(r, 20))	/* a sparse tail */
				truncate(p, size + lfs_below(r, 600000));
			chmod(p, file_modes[lfs_below(r, 6)]);
			if (lfs_chance(r, 20))
				setxattr(p, "user.lower", rel, strlen(rel), 0);
			if (lfs_chance(r, 10))
				chown(p, 1000, 1000);
		} else if (kind < 72) {
			mkdir(p, lfs_chance(r, 80) ? 0755 : 0700);
		} else if (kind < 82) {
			symlink(names[lfs_below(r, NNAMES)], p);
		} else if (kind < 90 && i == 0 && lfs_is_overlay()) {
			/*
			 * A hard link to a file of this layer, if one exists
			 * (not to a symlink: lfs_copy_tree would not keep it).
			 * Top layer only: a name hidden by a layer above would
			 * still count in st_nlink, which no plain directory
			 * can model.  overlayfs only: layerfs refuses to copy
			 * up hard-linked lower files (upper_ops tests that).
			 */
			struct stat st;

			join(other, root, names[4 + lfs_below(r, 5)]);
			if (!lstat(other, &st) && S_ISREG(st.st_mode))
				link(other, p);
		} else if (!bottom && visible_below(s, i, rel)) {
			mknod(p, S_IFCHR | 0600, makedev(0, 0));
		}
	}
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */

enum op_kind {
	OP_PWRITE, OP_APPEND, OP_TRUNCATE, OP_FALLOCATE, OP_MMAP, OP_COPY,
	OP_CREATE, OP_RENAME, OP_LINK, OP_UNLINK, OP_CHMOD, OP_MKDIR,
	OP_RMDIR, OP_SYMLINK, OP_SETXATTR, OP_REMOVEXATTR, OP_NR,
};

static const char *const op_names[] = {
	"pwrite", "append", "truncate", "fallocate", "mmap", "copy_file_range",
	"create", "rename", "link", "unlink", "chmod", "mkdir", "rmdir",
	"symlink", "setxattr", "removexattr",
};

/* Weights in percent, data operations first (they are the point). */
static const unsigned int op_weight[OP_NR] = {
	22, 6, 7, 8, 7, 3, 6, 7, 5, 6, 4, 3, 3, 4, 5, 4,
};

struct op {
	enum op_kind kind;
	char a[PATH_MAX], b[PATH_MAX];
	off_t off, off2;
	size_t len;
	uint32_t seed;
	int flags;		/* rename flags, fallocate mode, msync */
	mode_t mode;
};

static void gen_op(struct lfs_rng *r, const struct plist *l, struct op *op)
{
	unsigned int w = lfs_below(r, 100), acc = 0;
	static const int falloc_modes[] = {
		FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_ZERO_RANGE,
		FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_KEEP_SIZE,
		0,
	};

	memset(op, 0, sizeof(*op));
	for (op->kind = 0; op->kind < OP_NR - 1; op->kind++) {
		acc += op_weight[op->kind];
		if (w < acc)
			break;
	}
	op->seed = lfs_rand(r);
	/* offsets near granule boundaries as often as anywhere */
	if (lfs_chance(r, 50))
		op->off = (off_t)lfs_below(r, MAX_FILE / 4096) * 4096 +
			  (int)lfs_below(r, 9) - 4;
	else
		op->off = lfs_below(r, MAX_FILE);
	if (op->off < 0)
		op->off = 0;
	op->len = lfs_chance(r, 85) ? 1 + lfs_below(r, 9000) :
				      1 + lfs_below(r, 300000);
	if (op->off + (off_t)op->len > MAX_FILE)
		op->off = MAX_FILE - op->len;

	switch (op->kind) {
	case OP_PWRITE: case OP_APPEND: case OP_TRUNCATE: case OP_MMAP:
		pick_path(r, l, S_IFREG, op->a, sizeof(op->a));
		if (op->kind == OP_APPEND && op->len > 70000)
			op->len = 70000;
		if (op->kind == OP_TRUNCATE)
			op->off = lfs_chance(r, 20) ? 0 : lfs_below(r, MAX_FILE);
		op->flags = lfs_chance(r, 70);	/* mmap: msync first */
		break;
	case OP_FALLOCATE:
		pick_path(r, l, S_IFREG, op->a, sizeof(op->a));
		op->flags = falloc_modes[lfs_below(r, 5)];
		break;
	case OP_COPY:
		pick_path(r, l, S_IFREG, op->a, sizeof(op->a));
		pick_path(r, l, S_IFREG, op->b, sizeof(op->b));
		op->off2 = lfs_below(r, MAX_FILE / 2);
		break;
	case OP_CREATE: case OP_MKDIR: case OP_SYMLINK:
		random_path(r, op->a, sizeof(op->a));
		snprintf(op->b, sizeof(op->b), "%s", names[lfs_below(r, NNAMES)]);
		op->mode = lfs_chance(r, 80) ? 0755 : 0700;
		op->len %= 20000;
		break;
	case OP_RENAME:
		pick_path(r, l, 0, op->a, sizeof(op->a));
		pick_path(r, l, 0, op->b, sizeof(op->b));
		if (lfs_chance(r, 40))
			random_path(r, op->b, sizeof(op->b));
		op->flags = lfs_chance(r, 15) ? RENAME_NOREPLACE :
			    lfs_chance(r, 15) ? RENAME_EXCHANGE : 0;
		break;
	case OP_LINK:
		pick_path(r, l, S_IFREG, op->a, sizeof(op->a));
		random_path(r, op->b, sizeof(op->b));
		break;
	case OP_UNLINK: case OP_RMDIR:
		pick_path(r, l, op->kind == OP_RMDIR ? S_IFDIR : 0, op->a,
			  sizeof(op->a));
		break;
	case OP_CHMOD:
		pick_path(r, l, 0, op->a, sizeof(op->a));
		op->mode = file_modes[lfs_below(r, 6)];
		if (lfs_chance(r, 10))
			op->mode = 01777;
		break;
	case OP_SETXATTR: case OP_REMOVEXATTR:
		pick_path(r, l, 0, op->a, sizeof(op->a));
		snprintf(op->b, sizeof(op->b), "user.%s",
			 lfs_chance(r, 30) ? "lower" : names[lfs_below(r, 4)]);
		op->len %= 300;
		break;
	default:
		break;
	}
}

static void describe(const struct op *op, char *out, size_t len)
{
	snprintf(out, len, "%s a=\"%s\" b=\"%s\" off=%lld off2=%lld len=%zu flags=%#x mode=%#o",
		 op_names[op->kind], op->a, op->b, (long long)op->off,
		 (long long)op->off2, op->len, op->flags, op->mode);
}

static int fail_errno(int fd)
{
	int err = errno ? errno : EIO;

	if (fd >= 0)
		close(fd);
	return err;
}

/* Applies @op below @root: 0 or the errno it failed with. */
static int apply(const struct op *op, const char *root)
{
	char a[PATH_MAX], b[PATH_MAX];
	static char buf[300000];
	struct stat st;
	int fd = -1, fd2;

	join(a, root, op->a);
	join(b, root, op->b);
	errno = 0;
	switch (op->kind) {
	case OP_PWRITE:
	case OP_APPEND:
		fd = open(a, O_WRONLY | (op->kind == OP_APPEND ? O_APPEND : 0));
		if (fd < 0)
			return errno;
		lfs_pattern(buf, op->off, op->len, op->seed);
		if ((op->kind == OP_APPEND ? write(fd, buf, op->len) :
		     pwrite(fd, buf, op->len, op->off)) != (ssize_t)op->len)
			return fail_errno(fd);
		break;
	case OP_TRUNCATE:
		return truncate(a, op->off) ? errno : 0;
	case OP_FALLOCATE:
		fd = open(a, O_WRONLY);
		if (fd < 0)
			return errno;
		if (fallocate(fd, op->flags, op->off, op->len))
			return fail_errno(fd);
		break;
	case OP_MMAP: {
		char *m;
		size_t n;

		fd = open(a, O_RDWR);
		if (fd < 0)
			return errno;
		if (fstat(fd, &st))
			return fail_errno(fd);
		if (!st.st_size)
			break;		/* nothing to map */
		m = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			return fail_errno(fd);
		for (int i = 0; i < 3; i++) {
			off_t off = (op->off + i * 7919) % st.st_size;

			n = op->len % 9000 + 1;
			if (off + (off_t)n > st.st_size)
				n = st.st_size - off;
			lfs_pattern(m + off, off, n, op->seed + i);
		}
		if (op->flags && msync(m, st.st_size, MS_SYNC)) {
			munmap(m, st.st_size);
			return fail_errno(fd);
		}
		munmap(m, st.st_size);
		break;
	}
	case OP_COPY: {
		loff_t in_off = op->off2, out_off = op->off;
		ssize_t n;

		fd = open(a, O_RDONLY);
		if (fd < 0)
			return errno;
		fd2 = open(b, O_WRONLY);
		if (fd2 < 0)
			return fail_errno(fd);
		/* one file onto itself may overlap: EINVAL on both */
		n = copy_file_range(fd, &in_off, fd2, &out_off, op->len, 0);
		close(fd2);
		if (n < 0)
			return fail_errno(fd);
		break;
	}
	case OP_CREATE:
		fd = open(a, O_WRONLY | O_CREAT | O_EXCL, op->mode & 0666);
		if (fd < 0)
			return errno;
		lfs_pattern(buf, 0, op->len, op->seed);
		if (write(fd, buf, op->len) != (ssize_t)op->len)
			return fail_errno(fd);
		break;
	case OP_RENAME:
		return renameat2(AT_FDCWD, a, AT_FDCWD, b, op->flags) ? errno : 0;
	case OP_LINK:
		return link(a, b) ? errno : 0;
	case OP_UNLINK:
		return unlink(a) ? errno : 0;
	case OP_RMDIR:
		return rmdir(a) ? errno : 0;
	case OP_CHMOD:
		return chmod(a, op->mode) ? errno : 0;
	case OP_MKDIR:
		return mkdir(a, op->mode) ? errno : 0;
	case OP_SYMLINK:
		return symlink(op->b, a) ? errno : 0;
	case OP_SETXATTR:
		lfs_pattern(buf, 0, op->len, op->seed);
		return setxattr(a, op->b, buf, op->len, 0) ? errno : 0;
	case OP_REMOVEXATTR:
		return removexattr(a, op->b) ? errno : 0;
	default:
		return EINVAL;
	}
	if (fd >= 0 && close(fd))
		return errno;
	return 0;
}

/*
 * FALLOC_FL_ZERO_RANGE on the model where its filesystem (tmpfs) has no
 * such thing but the mount did it: write zeros, as the mount should have.
 */
static int zero_by_hand(const struct op *op, const char *root)
{
	static char zeros[300000];
	char a[PATH_MAX];
	struct stat st;
	off_t end = op->off + op->len;
	int fd;

	join(a, root, op->a);
	fd = open(a, O_WRONLY);
	if (fd < 0 || fstat(fd, &st))
		return fail_errno(fd);
	if ((op->flags & FALLOC_FL_KEEP_SIZE) && end > st.st_size)
		end = st.st_size;
	if (end > op->off &&
	    pwrite(fd, zeros, end - op->off, op->off) != end - op->off)
		return fail_errno(fd);
	close(fd);
	return 0;
}

/*
 * Results both sides may give for one operation: a filesystem may answer
 * renaming onto a non-empty directory with ENOTEMPTY or EEXIST (POSIX
 * allows both; xfs says EEXIST where a stacking fs checks the merged view
 * itself and says ENOTEMPTY).
 */
static bool same_result(const struct op *op, int got, int want)
{
	if (got == want)
		return true;
	if (op->kind == OP_RENAME &&
	    (got == ENOTEMPTY || got == EEXIST) &&
	    (want == ENOTEMPTY || want == EEXIST))
		return true;
	return false;
}

/* st_ino of every entry, in walk order (sorted names, parents first). */
struct inos {
	uint64_t *v;
	size_t n, cap;
	char first_bad[PATH_MAX];
	size_t check;		/* compare against v instead of recording */
	bool bad;
};

static int ino_one(const char *path, const char *rel, const struct stat *st,
		   void *arg)
{
	struct inos *s = arg;

	(void)path;
	if (s->check) {
		if (s->n >= s->check || s->v[s->n] != st->st_ino) {
			if (!s->bad)
				snprintf(s->first_bad, PATH_MAX, "/%s", rel);
			s->bad = true;
		}
		s->n++;
		return 0;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			return -ENOMEM;
	}
	s->v[s->n++] = st->st_ino;
	return 0;
}

TEST_F_TIMEOUT(cow, random_operations_match_a_plain_directory, 800)
{
	uint64_t seed = lfs_seed() ^ (uint64_t)variant->id;
	const char *env = getenv("LFS_COW_OPS");
	bool trace = getenv("LFS_COW_TRACE");
	const char *benv = getenv("LFS_COW_BATCH");
	int nops = env && *env ? atoi(env) : variant->ops;
	int batch = benv && *benv ? atoi(benv) : 200;
	unsigned int counts[OP_NR] = { 0 }, failed[OP_NR] = { 0 };
	struct plist l = { 0 };
	struct lfs_rng r;
	struct op op;
	char why[1024], desc[PATH_MAX * 2 + 200];

	if (batch < 1)
		batch = 200;
	lfs_rng_init(&r, seed);
	for (int i = 0; i < 3; i++)
		ASSERT_NE(NULL, lfs_stack_add(&self->u.s, NULL));
	for (int i = 2; i >= 0; i--)
		gen_layer(&r, &self->u.s, i);
	ASSERT_EQ(0, lfs_upper_mount(&self->u)) {
		TH_LOG("%s", self->u.s.log);
	}
	ASSERT_EQ(0, lfs_copy_tree(self->u.s.mnt, self->model));
	ASSERT_EQ(0, lfs_tree_compare_rw(self->model, self->u.s.mnt, why, sizeof(why))) {
		TH_LOG("the copy of the merged view: %s", why);
	}

	for (int done = 0; done < nops; ) {
		struct inos inos = { 0 };

		l.n = 0;
		ASSERT_EQ(0, lfs_walk(self->model, plist_add, &l));
		for (int i = 0; i < batch && done < nops; i++, done++) {
			char mp[PATH_MAX];
			uint64_t ino_before = 0;
			int got, want;

			/* fresh names now and then, so that picks hit */
			if (i && !(i % 25)) {
				l.n = 0;
				ASSERT_EQ(0, lfs_walk(self->model, plist_add, &l));
			}

			gen_op(&r, &l, &op);
			join(mp, self->u.s.mnt, op.a);
			if (op.kind <= OP_COPY)
				ino_before = lfs_ino(mp);
			got = apply(&op, self->u.s.mnt);
			want = apply(&op, self->model);
			/* the upper fs cannot zero a range (tmpfs): the model
			 * does it by hand if the mount could */
			if (op.kind == OP_FALLOCATE && want == EOPNOTSUPP && !got) {
				describe(&op, desc, sizeof(desc));
				TH_LOG("op %d: %s: the mount did what %s cannot",
				       done, desc, lfs_fs());
				want = zero_by_hand(&op, self->model);
			}
			counts[op.kind]++;
			failed[op.kind] += !!want;
			describe(&op, desc, sizeof(desc));
			if (trace)
				printf("# op %d: %s: %s\n", done, desc,
				       got ? strerror(got) : "ok");
			ASSERT_TRUE(same_result(&op, got, want)) {
				TH_LOG("op %d: %s: mount: %s, plain dir: %s (replay: LFS_SEED=%llu)",
				       done, desc, got ? strerror(got) : "ok",
				       want ? strerror(want) : "ok",
				       (unsigned long long)(seed ^ (uint64_t)variant->id));
			}
			if (ino_before && !got) {
				uint64_t ino_after = lfs_ino(mp);

				ASSERT_EQ(ino_before, ino_after) {
					TH_LOG("op %d: %s changed st_ino", done, desc);
				}
			}
		}
		ASSERT_EQ(0, lfs_tree_compare_rw(self->model, self->u.s.mnt, why, sizeof(why))) {
			TH_LOG("after op %d: %s (last op: %s)", done - 1, why, desc);
		}
		ASSERT_EQ(0, lfs_walk(self->u.s.mnt, ino_one, &inos));
		ASSERT_EQ(0, lfs_upper_cycle(&self->u)) {
			TH_LOG("%s", self->u.s.log);
		}
		ASSERT_EQ(0, lfs_tree_compare_rw(self->model, self->u.s.mnt, why, sizeof(why))) {
			TH_LOG("after op %d and a remount: %s", done - 1, why);
		}
		inos.check = inos.n;
		inos.n = 0;
		ASSERT_EQ(0, lfs_walk(self->u.s.mnt, ino_one, &inos));
		EXPECT_FALSE(inos.bad) {
			TH_LOG("after op %d: st_ino of %s changed over a remount",
			       done - 1, inos.first_bad);
		}
		free(inos.v);
	}
	printf("# %d operations (failing on both sides / total):", nops);
	for (int k = 0; k < OP_NR; k++)
		printf(" %s %u/%u", op_names[k], failed[k], counts[k]);
	printf("\n");
	free(l.path);
	free(l.type);
}

TEST_HARNESS_MAIN
