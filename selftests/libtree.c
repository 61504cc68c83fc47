// SPDX-License-Identifier: GPL-2.0
/*
 * layerfs selftests: building trees from a compact description, comparing
 * two trees, and the OCI extraction model the merged view is checked
 * against.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib.h"

#define WH_PREFIX	".wh."
#define WH_META_PREFIX	".wh..wh."
#define WH_OPAQUE	".wh..wh..opq"
#define OVL_OPAQUE	"trusted.overlay.opaque"

static int path_join(char *out, size_t len, const char *a, const char *b)
{
	if ((size_t)snprintf(out, len, "%s/%s", a, b) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* lfs_build                                                               */

struct pending_mtime {
	char *path;
	time_t sec;
};

enum kind { K_DIR, K_FILE, K_LINK, K_HARD, K_CHR, K_FIFO, K_SOCK };

static int parent_dirs(const char *path)
{
	char parent[PATH_MAX];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return 0;
	*slash = '\0';
	return lfs_mkdir_p(parent);
}

static int build_attr(const char *path, char *attr, uid_t *uid, gid_t *gid,
		      mode_t *mode, struct pending_mtime *mt, off_t *size)
{
	char *eq = strchr(attr, '=');

	if (!strcmp(attr, "opaque"))
		return lsetxattr(path, OVL_OPAQUE, "y", 1, 0) ? -errno : 0;
	if (!eq)
		return -EINVAL;
	*eq++ = '\0';
	if (!strcmp(attr, "mode")) {
		*mode = strtoul(eq, NULL, 8);
	} else if (!strcmp(attr, "uid")) {
		*uid = strtoul(eq, NULL, 10);
	} else if (!strcmp(attr, "gid")) {
		*gid = strtoul(eq, NULL, 10);
	} else if (!strcmp(attr, "mtime")) {
		mt->path = strdup(path);
		mt->sec = strtoll(eq, NULL, 10);
		if (!mt->path)
			return -ENOMEM;
	} else if (!strcmp(attr, "size")) {
		*size = strtoll(eq, NULL, 10);
	} else if (!strcmp(attr, "xattr")) {
		char *val = strchr(eq, '=');

		if (!val)
			return -EINVAL;
		*val++ = '\0';
		if (lsetxattr(path, eq, val, strlen(val), 0))
			return -errno;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int build_one(const char *root, const char *entry,
		     struct pending_mtime *mt)
{
	char spec[2 * PATH_MAX], full[PATH_MAX], other[PATH_MAX];
	char *attrs, *arg = NULL, *save;
	enum kind kind = K_FILE;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	mode_t mode = (mode_t)-1;
	off_t size = -1;
	size_t len;
	int ret = 0;

	/* Up to the first unescaped space: "\ " is a space, "\\" a backslash. */
	attrs = NULL;
	len = 0;
	for (const char *c = entry; *c; c++) {
		if (len + 1 >= sizeof(spec))
			return -ENAMETOOLONG;
		if (*c == '\\' && (c[1] == ' ' || c[1] == '\\')) {
			spec[len++] = *++c;
		} else if (*c == ' ') {
			attrs = spec + len + 1;
			if (len + 1 + strlen(c + 1) + 1 > sizeof(spec))
				return -ENAMETOOLONG;
			strcpy(attrs, c + 1);
			break;
		} else {
			spec[len++] = *c;
		}
	}
	spec[len] = '\0';

	for (char *p = spec; *p; p++) {
		if (p[0] == '-' && p[1] == '>') {
			kind = K_LINK;
			arg = p + 2;
		} else if (p[0] == '=' && p[1] == '>') {
			kind = K_HARD;
			arg = p + 2;
		} else if (p[0] == '=') {
			kind = K_FILE;
			arg = p + 1;
		} else if (p[0] == '@') {
			kind = K_CHR;
			arg = p + 1;
		} else if (p[0] == '|' && !p[1]) {
			kind = K_FIFO;
		} else if (p[0] == '#' && !p[1]) {
			kind = K_SOCK;
		} else {
			continue;
		}
		*p = '\0';
		break;
	}
	len = strlen(spec);
	if (kind == K_FILE && !arg && len && spec[len - 1] == '/') {
		kind = K_DIR;
		spec[len - 1] = '\0';
	}
	if (!*spec)		/* the root itself, to set its attributes */
		kind = K_DIR;
	ret = path_join(full, sizeof(full), root, *spec ? spec : ".");
	if (ret)
		return ret;
	ret = parent_dirs(full);
	if (ret)
		return ret;

	switch (kind) {
	case K_DIR:
		if (mkdir(full, 0755) && errno != EEXIST)
			return -errno;
		break;
	case K_FILE:
		ret = lfs_write_file(full, arg ? arg : "", arg ? strlen(arg) : 0);
		if (ret)
			return ret;
		break;
	case K_LINK:
		if (symlink(arg, full))
			return -errno;
		break;
	case K_HARD:
		ret = path_join(other, sizeof(other), root, arg);
		if (ret)
			return ret;
		if (link(other, full))
			return -errno;
		break;
	case K_CHR: {
		unsigned int maj = 0, min = 0;

		if (sscanf(arg, "%u:%u", &maj, &min) != 2)
			return -EINVAL;
		if (mknod(full, S_IFCHR | 0644, makedev(maj, min)))
			return -errno;
		break;
	}
	case K_FIFO:
		if (mknod(full, S_IFIFO | 0644, 0))
			return -errno;
		break;
	case K_SOCK:
		if (mknod(full, S_IFSOCK | 0755, 0))
			return -errno;
		break;
	}

	for (char *a = attrs ? strtok_r(attrs, " ", &save) : NULL; a;
	     a = strtok_r(NULL, " ", &save)) {
		ret = build_attr(full, a, &uid, &gid, &mode, mt, &size);
		if (ret)
			return ret;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && lchown(full, uid, gid))
		return -errno;
	if (mode != (mode_t)-1 && chmod(full, mode))
		return -errno;
	if (size >= 0 && truncate(full, size))
		return -errno;
	return 0;
}

int lfs_build(const char *root, const char *const *entries)
{
	size_t n = 0;
	struct pending_mtime *mt;
	int ret = 0;

	while (entries[n])
		n++;
	mt = calloc(n + 1, sizeof(*mt));
	if (!mt)
		return -ENOMEM;
	for (size_t i = 0; i < n && !ret; i++) {
		ret = build_one(root, entries[i], &mt[i]);
		if (ret)
			fprintf(stderr, "# build %s: \"%s\": %s\n", root,
				entries[i], strerror(-ret));
	}
	/* Last, since creating entries changes their parents' mtime. */
	for (size_t i = 0; i < n; i++) {
		if (!ret && mt[i].path) {
			struct timespec ts[2] = {
				{ .tv_sec = mt[i].sec }, { .tv_sec = mt[i].sec },
			};

			if (utimensat(AT_FDCWD, mt[i].path, ts,
				      AT_SYMLINK_NOFOLLOW))
				ret = -errno;
		}
		free(mt[i].path);
	}
	free(mt);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Inode number maps                                                       */

struct inomap {
	uint64_t *key;
	uint64_t *val;
	size_t cap, used;
};

static uint64_t hash64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return k;
}

/*
 * Stores k -> v unless k is there already; returns the value now mapped
 * from k (v, or the older one), or 0 with errno set on allocation failure.
 * Keys and values are stored plus one so that 0 means empty.
 */
static uint64_t inomap_get_or_put(struct inomap *m, uint64_t k, uint64_t v)
{
	size_t i;

	if (2 * (m->used + 1) > m->cap) {
		struct inomap bigger = { .cap = m->cap ? 2 * m->cap : 1024 };

		bigger.key = calloc(bigger.cap, sizeof(uint64_t));
		bigger.val = calloc(bigger.cap, sizeof(uint64_t));
		if (!bigger.key || !bigger.val) {
			free(bigger.key);
			free(bigger.val);
			errno = ENOMEM;
			return 0;
		}
		for (i = 0; i < m->cap; i++)
			if (m->key[i])
				inomap_get_or_put(&bigger, m->key[i] - 1,
						  m->val[i] - 1);
		free(m->key);
		free(m->val);
		*m = bigger;
	}
	for (i = hash64(k) & (m->cap - 1); m->key[i]; i = (i + 1) & (m->cap - 1))
		if (m->key[i] == k + 1)
			return m->val[i];
	m->key[i] = k + 1;
	m->val[i] = v + 1;
	m->used++;
	return v + 1;
}

static void inomap_free(struct inomap *m)
{
	free(m->key);
	free(m->val);
	memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------------- */
/* Listing a directory                                                     */

struct ent {
	char *name;
	unsigned char type;
	uint64_t ino;
};

static int cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->name,
		      ((const struct ent *)b)->name);
}

static void free_ents(struct ent *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

/* Sorted entries of @dir without "." and "..": count or -errno. */
static long list_dir(const char *dir, struct ent **out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct ent *e = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	if (!d)
		return -errno;
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			struct ent *bigger;

			cap = cap ? 2 * cap : 64;
			bigger = realloc(e, cap * sizeof(*e));
			if (!bigger)
				goto nomem;
			e = bigger;
		}
		e[n].name = strdup(de->d_name);
		if (!e[n].name)
			goto nomem;
		e[n].type = de->d_type;
		e[n].ino = de->d_ino;
		n++;
	}
	if (errno) {
		int err = -errno;

		free_ents(e, n);
		closedir(d);
		return err;
	}
	closedir(d);
	qsort(e, n, sizeof(*e), cmp_ent);
	*out = e;
	return n;
nomem:
	free_ents(e, n);
	closedir(d);
	return -ENOMEM;
}

/* ---------------------------------------------------------------------- */
/* lfs_walk                                                                */

static int walk(const char *path, const char *rel,
		int (*fn)(const char *, const char *, const struct stat *,
			  void *),
		void *arg)
{
	struct stat st;
	struct ent *e;
	long n;
	int ret;

	if (lstat(path, &st))
		return -errno;
	ret = fn(path, rel, &st, arg);
	if (ret || !S_ISDIR(st.st_mode))
		return ret;
	n = list_dir(path, &e);
	if (n < 0)
		return n;
	for (long i = 0; i < n && !ret; i++) {
		char cp[PATH_MAX], cr[PATH_MAX];

		ret = path_join(cp, sizeof(cp), path, e[i].name);
		if (!ret && (size_t)snprintf(cr, sizeof(cr), "%s%s%s", rel,
					     *rel ? "/" : "", e[i].name) >=
			    sizeof(cr))
			ret = -ENAMETOOLONG;
		if (!ret)
			ret = walk(cp, cr, fn, arg);
	}
	free_ents(e, n);
	return ret;
}

int lfs_walk(const char *root,
	     int (*fn)(const char *path, const char *rel,
		       const struct stat *st, void *arg),
	     void *arg)
{
	return walk(root, "", fn, arg);
}

/* ---------------------------------------------------------------------- */
/* lfs_tree_compare                                                        */

struct cmp {
	unsigned int flags;
	char *why;
	size_t whylen;
	dev_t adev;
	struct inomap e2a, a2e;
};

static int differ(struct cmp *c, const char *rel, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->why, c->whylen, "/%s: ", rel);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < c->whylen)
		vsnprintf(c->why + n, c->whylen - n, fmt, ap);
	va_end(ap);
	return 1;
}

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:	return "file";
	case S_IFDIR:	return "dir";
	case S_IFLNK:	return "symlink";
	case S_IFCHR:	return "chardev";
	case S_IFBLK:	return "blockdev";
	case S_IFIFO:	return "fifo";
	case S_IFSOCK:	return "socket";
	default:	return "?";
	}
}

static unsigned char mode_to_dtype(mode_t m)
{
	return (m & S_IFMT) >> 12;
}

/* read() until @len bytes or end of file: bytes read or -errno. */
static ssize_t read_full(int fd, char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, buf + done, len - done);

		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

static int cmp_content(struct cmp *c, const char *rel, const char *e,
		       const char *a)
{
	static char eb[65536], ab[65536];
	int efd, afd, ret = 0;
	off_t off = 0;

	efd = open(e, O_RDONLY | O_CLOEXEC);
	if (efd < 0)
		return -errno;
	afd = open(a, O_RDONLY | O_CLOEXEC);
	if (afd < 0) {
		ret = differ(c, rel, "open: %s", strerror(errno));
		close(efd);
		return ret;
	}
	for (;;) {
		ssize_t en = read_full(efd, eb, sizeof(eb));
		ssize_t an = read_full(afd, ab, sizeof(ab));

		if (en < 0) {
			ret = en;
			break;
		}
		if (an < 0) {
			ret = differ(c, rel, "read at %lld: %s",
				     (long long)off, strerror(-an));
			break;
		}
		if (memcmp(eb, ab, en < an ? en : an)) {
			ssize_t i = 0;

			while (eb[i] == ab[i])
				i++;
			ret = differ(c, rel, "content differs at byte %lld",
				     (long long)off + i);
			break;
		}
		if (en != an) {
			ret = differ(c, rel, "read %lld bytes, expected %lld",
				     (long long)off + an, (long long)off + en);
			break;
		}
		if (en == 0)
			break;
		off += en;
	}
	close(efd);
	close(afd);
	return ret;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, NUL-separated "user.*" names of @path; length or -errno. */
static ssize_t user_xattrs(const char *path, char **out)
{
	ssize_t len = llistxattr(path, NULL, 0), kept = 0;
	char *all, *mine, **names;
	size_t n = 0;

	*out = NULL;
	if (len < 0)
		return errno == ENOTSUP ? 0 : -errno;
	all = malloc(len + 1);
	mine = malloc(len + 1);
	names = calloc(len + 1, sizeof(*names));
	if (!all || !mine || !names) {
		free(all);
		free(mine);
		free(names);
		return -ENOMEM;
	}
	len = llistxattr(path, all, len);
	if (len < 0) {
		free(all);
		free(mine);
		free(names);
		return -errno;
	}
	for (ssize_t i = 0; i < len; i += strlen(all + i) + 1)
		if (!strncmp(all + i, "user.", 5))
			names[n++] = all + i;
	qsort(names, n, sizeof(*names), cmp_strp);
	for (size_t i = 0; i < n; i++) {
		strcpy(mine + kept, names[i]);
		kept += strlen(names[i]) + 1;
	}
	free(all);
	free(names);
	*out = mine;
	return kept;
}

static int cmp_xattrs(struct cmp *c, const char *rel, const char *e,
		      const char *a)
{
	char *en, *an;
	ssize_t elen = user_xattrs(e, &en), alen = user_xattrs(a, &an);
	int ret = 0;

	if (elen < 0 || alen < 0) {
		ret = elen < 0 ? (int)elen : differ(c, rel, "listxattr: %s",
						    strerror(-alen));
		goto out;
	}
	if (elen != alen || memcmp(en, an, elen)) {
		ret = differ(c, rel, "user.* xattr names differ");
		goto out;
	}
	for (ssize_t i = 0; i < elen; i += strlen(en + i) + 1) {
		char ev[4096], av[4096];
		ssize_t evl = lgetxattr(e, en + i, ev, sizeof(ev));
		ssize_t avl = lgetxattr(a, en + i, av, sizeof(av));

		if (evl != avl || (evl > 0 && memcmp(ev, av, evl))) {
			ret = differ(c, rel, "xattr %s differs", en + i);
			break;
		}
	}
out:
	free(en);
	free(an);
	return ret;
}

static int cmp_node(struct cmp *c, const char *e, const char *a,
		    const char *rel, const struct stat *es,
		    const struct stat *as);

static int cmp_dir(struct cmp *c, const char *e, const char *a,
		   const char *rel)
{
	struct ent *ee, *ae;
	long en = list_dir(e, &ee), an;
	int ret = 0;
	long i;

	if (en < 0)
		return en;
	an = list_dir(a, &ae);
	if (an < 0) {
		free_ents(ee, en);
		return differ(c, rel, "readdir: %s", strerror(-an));
	}
	for (i = 0; i < en && i < an; i++)
		if (strcmp(ee[i].name, ae[i].name))
			break;
	if (i < en || i < an) {
		if (i < an && (i >= en || strcmp(ae[i].name, ee[i].name) < 0))
			ret = differ(c, rel, "unexpected entry \"%s\"",
				     ae[i].name);
		else
			ret = differ(c, rel, "missing entry \"%s\"", ee[i].name);
		goto out;
	}
	for (i = 1; i < an; i++) {
		if (!strcmp(ae[i - 1].name, ae[i].name)) {
			ret = differ(c, rel, "entry \"%s\" listed twice",
				     ae[i].name);
			goto out;
		}
	}
	for (i = 0; i < en && !ret; i++) {
		char ep[PATH_MAX], ap[PATH_MAX], rp[PATH_MAX];
		struct stat es, as;

		if (path_join(ep, sizeof(ep), e, ee[i].name) ||
		    path_join(ap, sizeof(ap), a, ae[i].name)) {
			ret = -ENAMETOOLONG;
			break;
		}
		snprintf(rp, sizeof(rp), "%s%s%s", rel, *rel ? "/" : "",
			 ee[i].name);
		if (lstat(ep, &es)) {
			ret = -errno;
			break;
		}
		if (lstat(ap, &as)) {
			ret = differ(c, rp, "listed but lstat fails: %s",
				     strerror(errno));
			break;
		}
		if ((c->flags & LFS_CMP_DINO) && ae[i].type != DT_UNKNOWN &&
		    ae[i].type != mode_to_dtype(as.st_mode)) {
			ret = differ(c, rp, "d_type %u but lstat says %s",
				     ae[i].type, type_name(as.st_mode));
			break;
		}
		if ((c->flags & LFS_CMP_DINO) && ae[i].ino != as.st_ino) {
			ret = differ(c, rp, "d_ino %llu but st_ino %llu",
				     (unsigned long long)ae[i].ino,
				     (unsigned long long)as.st_ino);
			break;
		}
		ret = cmp_node(c, ep, ap, rp, &es, &as);
	}
out:
	free_ents(ee, en);
	free_ents(ae, an);
	return ret;
}

static int cmp_node(struct cmp *c, const char *e, const char *a,
		    const char *rel, const struct stat *es,
		    const struct stat *as)
{
	if ((es->st_mode & S_IFMT) != (as->st_mode & S_IFMT))
		return differ(c, rel, "is a %s, expected a %s",
			      type_name(as->st_mode), type_name(es->st_mode));
	if (!S_ISLNK(es->st_mode) &&
	    (es->st_mode & 07777) != (as->st_mode & 07777))
		return differ(c, rel, "mode %04o, expected %04o",
			      as->st_mode & 07777, es->st_mode & 07777);
	if (es->st_uid != as->st_uid || es->st_gid != as->st_gid)
		return differ(c, rel, "owner %u:%u, expected %u:%u",
			      as->st_uid, as->st_gid, es->st_uid, es->st_gid);
	if ((c->flags & LFS_CMP_DEV) && as->st_dev != c->adev)
		return differ(c, rel, "st_dev %u:%u, the mount is %u:%u",
			      major(as->st_dev), minor(as->st_dev),
			      major(c->adev), minor(c->adev));
	if ((c->flags & LFS_CMP_MTIME) &&
	    (es->st_mtim.tv_sec != as->st_mtim.tv_sec ||
	     es->st_mtim.tv_nsec != as->st_mtim.tv_nsec))
		return differ(c, rel, "mtime %lld.%09ld, expected %lld.%09ld",
			      (long long)as->st_mtim.tv_sec, as->st_mtim.tv_nsec,
			      (long long)es->st_mtim.tv_sec, es->st_mtim.tv_nsec);
	if (c->flags & LFS_CMP_INO) {
		uint64_t a_of_e = inomap_get_or_put(&c->e2a, es->st_ino,
						    as->st_ino);
		uint64_t e_of_a = inomap_get_or_put(&c->a2e, as->st_ino,
						    es->st_ino);

		if (!a_of_e || !e_of_a)
			return -ENOMEM;
		if (a_of_e - 1 != as->st_ino)
			return differ(c, rel, "st_ino %llu, but a hard link of it has st_ino %llu",
				      (unsigned long long)as->st_ino,
				      (unsigned long long)a_of_e - 1);
		if (e_of_a - 1 != es->st_ino)
			return differ(c, rel, "st_ino %llu is shared with an unrelated file",
				      (unsigned long long)as->st_ino);
	}
	if ((c->flags & LFS_CMP_XATTR) &&
	    (S_ISREG(es->st_mode) || S_ISDIR(es->st_mode))) {
		int ret = cmp_xattrs(c, rel, e, a);

		if (ret)
			return ret;
	}

	switch (es->st_mode & S_IFMT) {
	case S_IFREG:
		if (es->st_size != as->st_size)
			return differ(c, rel, "size %lld, expected %lld",
				      (long long)as->st_size,
				      (long long)es->st_size);
		return cmp_content(c, rel, e, a);
	case S_IFLNK: {
		char et[PATH_MAX + 1], at[PATH_MAX + 1];
		ssize_t el = readlink(e, et, PATH_MAX);
		ssize_t al = readlink(a, at, PATH_MAX);

		if (el < 0)
			return -errno;
		if (al < 0)
			return differ(c, rel, "readlink: %s", strerror(errno));
		et[el] = at[al] = '\0';
		if (strcmp(et, at))
			return differ(c, rel, "points to \"%s\", expected \"%s\"",
				      at, et);
		if (as->st_size != al)
			return differ(c, rel, "symlink st_size %lld, target has %zd bytes",
				      (long long)as->st_size, al);
		return 0;
	}
	case S_IFCHR:
	case S_IFBLK:
		if (es->st_rdev != as->st_rdev)
			return differ(c, rel, "device %u:%u, expected %u:%u",
				      major(as->st_rdev), minor(as->st_rdev),
				      major(es->st_rdev), minor(es->st_rdev));
		return 0;
	case S_IFDIR:
		return cmp_dir(c, e, a, rel);
	default:
		return 0;
	}
}

int lfs_tree_compare(const char *expected, const char *actual, unsigned flags,
		     char *why, size_t whylen)
{
	struct cmp c = { .flags = flags, .why = why, .whylen = whylen };
	struct stat es, as;
	int ret;

	if (whylen)
		why[0] = '\0';
	if (lstat(expected, &es))
		return -errno;
	if (lstat(actual, &as))
		return differ(&c, "", "lstat: %s", strerror(errno));
	c.adev = as.st_dev;
	ret = cmp_node(&c, expected, actual, "", &es, &as);
	if (ret < 0 && whylen && !why[0])
		snprintf(why, whylen, "comparison failed: %s", strerror(-ret));
	inomap_free(&c.e2a);
	inomap_free(&c.a2e);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* The OCI extraction model                                                */

struct dir_mtime {
	char *path;
	struct timespec mtime;
};

struct lfs_oci {
	bool raw;		/* lfs_copy_tree: no whiteout rules */
	char target[PATH_MAX];
	struct dir_mtime *dm;
	size_t ndm, capdm;
};

/* Source inode -> first path it was extracted to, for one layer. */
struct hardlinks {
	struct { dev_t dev; ino_t ino; char *path; } *v;
	size_t n, cap;
};

struct lfs_oci *lfs_oci_new(const char *target)
{
	struct lfs_oci *o = calloc(1, sizeof(*o));

	if (o)
		snprintf(o->target, sizeof(o->target), "%s", target);
	return o;
}

static int remember_mtime(struct lfs_oci *o, const char *path,
			  const struct stat *st)
{
	if (o->ndm == o->capdm) {
		size_t cap = o->capdm ? 2 * o->capdm : 256;
		struct dir_mtime *bigger = realloc(o->dm, cap * sizeof(*bigger));

		if (!bigger)
			return -ENOMEM;
		o->dm = bigger;
		o->capdm = cap;
	}
	o->dm[o->ndm].path = strdup(path);
	if (!o->dm[o->ndm].path)
		return -ENOMEM;
	o->dm[o->ndm].mtime = st->st_mtim;
	o->ndm++;
	return 0;
}

/*
 * Removes @path from the target, and forgets the directory mtimes recorded
 * at or below it: a symlink put in its place later must not lead them to
 * another directory.
 */
static int remove_path(struct lfs_oci *o, const char *path)
{
	size_t len = strlen(path);

	for (size_t i = 0; i < o->ndm; i++) {
		char *p = o->dm[i].path;

		if (p && !strncmp(p, path, len) && (!p[len] || p[len] == '/')) {
			free(p);
			o->dm[i].path = NULL;
		}
	}
	return lfs_rm_rf(path);
}

static bool is_overlay_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool is_opaque(const char *dir)
{
	char path[PATH_MAX], val[8];
	ssize_t n;

	if (path_join(path, sizeof(path), dir, WH_OPAQUE))
		return false;
	if (!lfs_lstat_errno(path))
		return true;
	n = lgetxattr(dir, OVL_OPAQUE, val, sizeof(val));
	return n == 1 && val[0] == 'y';
}

/* Owner, permissions, user.* xattrs (replacing the old ones), mtime. */
static int copy_meta(const char *src, const char *dst, const struct stat *st,
		     bool set_mtime)
{
	char *names;
	ssize_t len;

	if (lchown(dst, st->st_uid, st->st_gid))
		return -errno;
	if (!S_ISLNK(st->st_mode) && chmod(dst, st->st_mode & 07777))
		return -errno;
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)) {
		len = user_xattrs(dst, &names);
		if (len < 0)
			return len;
		for (ssize_t i = 0; i < len; i += strlen(names + i) + 1)
			lremovexattr(dst, names + i);
		free(names);
		len = user_xattrs(src, &names);
		if (len < 0)
			return len;
		for (ssize_t i = 0; i < len; i += strlen(names + i) + 1) {
			char val[65536];
			ssize_t vl = lgetxattr(src, names + i, val, sizeof(val));

			if (vl < 0 || lsetxattr(dst, names + i, val, vl, 0)) {
				free(names);
				return -errno;
			}
		}
		free(names);
	}
	if (set_mtime) {
		struct timespec ts[2] = { st->st_atim, st->st_mtim };

		if (utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW))
			return -errno;
	}
	return 0;
}

static int copy_data(const char *src, const char *dst)
{
	static char buf[65536];
	int in, out, ret = 0;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		ret = -errno;
		close(in);
		return ret;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		if (write(out, buf, n) != n) {
			ret = -EIO;
			break;
		}
	}
	close(in);
	if (close(out) && !ret)
		ret = -errno;
	return ret;
}

static int extract_nondir(struct hardlinks *hl, const char *src,
			  const char *dst, const struct stat *st)
{
	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		if (st->st_nlink > 1) {
			for (size_t i = 0; i < hl->n; i++) {
				if (hl->v[i].dev == st->st_dev &&
				    hl->v[i].ino == st->st_ino)
					return link(hl->v[i].path, dst) ? -errno : 0;
			}
			if (hl->n == hl->cap) {
				size_t cap = hl->cap ? 2 * hl->cap : 16;
				void *bigger = realloc(hl->v, cap * sizeof(*hl->v));

				if (!bigger)
					return -ENOMEM;
				hl->v = bigger;
				hl->cap = cap;
			}
			hl->v[hl->n].dev = st->st_dev;
			hl->v[hl->n].ino = st->st_ino;
			hl->v[hl->n].path = strdup(dst);
			if (!hl->v[hl->n++].path)
				return -ENOMEM;
		}
		return copy_data(src, dst);
	case S_IFLNK: {
		char target[PATH_MAX + 1];
		ssize_t n = readlink(src, target, PATH_MAX);

		if (n < 0)
			return -errno;
		target[n] = '\0';
		return symlink(target, dst) ? -errno : 0;
	}
	default:
		return mknod(dst, st->st_mode & (S_IFMT | 07777), st->st_rdev) ?
			-errno : 0;
	}
}

static int oci_apply_dir(struct lfs_oci *o, struct hardlinks *hl,
			 const char *src, const char *dst)
{
	struct ent *e;
	long n = list_dir(src, &e);
	int ret = 0;

	if (n < 0)
		return n;

	/* Opaque: what lower layers put here goes, before our entries. */
	if (!o->raw && is_opaque(src)) {
		struct ent *old;
		long nold = list_dir(dst, &old);

		if (nold < 0) {
			ret = nold;
			goto out;
		}
		for (long i = 0; i < nold && !ret; i++) {
			char p[PATH_MAX];

			ret = path_join(p, sizeof(p), dst, old[i].name);
			if (!ret)
				ret = remove_path(o, p);
		}
		free_ents(old, nold);
		if (ret)
			goto out;
	}

	/* Whiteouts remove lower entries, never this layer's. */
	for (long i = 0; i < n && !ret && !o->raw; i++) {
		char sp[PATH_MAX], dp[PATH_MAX];
		const char *victim = NULL;
		struct stat st;

		if (!strncmp(e[i].name, WH_META_PREFIX, strlen(WH_META_PREFIX)))
			continue;
		if (!strncmp(e[i].name, WH_PREFIX, strlen(WH_PREFIX))) {
			victim = e[i].name + strlen(WH_PREFIX);
		} else if (e[i].type == DT_CHR || e[i].type == DT_UNKNOWN) {
			ret = path_join(sp, sizeof(sp), src, e[i].name);
			if (ret)
				break;
			if (!lstat(sp, &st) && is_overlay_whiteout(&st))
				victim = e[i].name;
		}
		if (!victim)
			continue;
		ret = path_join(dp, sizeof(dp), dst, victim);
		if (!ret)
			ret = remove_path(o, dp);
	}

	/* This layer's own entries. */
	for (long i = 0; i < n && !ret; i++) {
		char sp[PATH_MAX], dp[PATH_MAX];
		struct stat st, old;
		bool exists;

		if (!o->raw && !strncmp(e[i].name, WH_PREFIX, strlen(WH_PREFIX)))
			continue;
		ret = path_join(sp, sizeof(sp), src, e[i].name);
		if (!ret)
			ret = path_join(dp, sizeof(dp), dst, e[i].name);
		if (ret)
			break;
		if (lstat(sp, &st)) {
			ret = -errno;
			break;
		}
		if (!o->raw && is_overlay_whiteout(&st))
			continue;
		exists = !lstat(dp, &old);
		if (exists && !(S_ISDIR(st.st_mode) && S_ISDIR(old.st_mode))) {
			ret = remove_path(o, dp);
			if (ret)
				break;
			exists = false;
		}
		if (S_ISDIR(st.st_mode)) {
			if (!exists && mkdir(dp, 0700)) {
				ret = -errno;
				break;
			}
			ret = copy_meta(sp, dp, &st, false);
			if (!ret)
				ret = remember_mtime(o, dp, &st);
			if (!ret)
				ret = oci_apply_dir(o, hl, sp, dp);
		} else {
			ret = extract_nondir(hl, sp, dp, &st);
			if (!ret)
				ret = copy_meta(sp, dp, &st, true);
		}
		if (ret)
			fprintf(stderr, "# oci model: %s -> %s: %s\n", sp, dp,
				strerror(-ret));
	}
out:
	free_ents(e, n);
	return ret;
}

int lfs_oci_apply(struct lfs_oci *o, const char *layer)
{
	struct hardlinks hl = { 0 };
	struct stat st;
	int ret;

	if (lstat(layer, &st))
		return -errno;
	ret = copy_meta(layer, o->target, &st, false);
	if (!ret)
		ret = remember_mtime(o, o->target, &st);
	if (!ret)
		ret = oci_apply_dir(o, &hl, layer, o->target);
	for (size_t i = 0; i < hl.n; i++)
		free(hl.v[i].path);
	free(hl.v);
	return ret;
}

int lfs_copy_tree(const char *src, const char *dst)
{
	struct lfs_oci *o;
	int ret;

	if (mkdir(dst, 0700))
		return -errno;
	o = lfs_oci_new(dst);
	if (!o)
		return -ENOMEM;
	o->raw = true;
	ret = lfs_oci_apply(o, src);
	if (lfs_oci_finish(o) && !ret)
		ret = -EIO;
	return ret;
}

int lfs_oci_finish(struct lfs_oci *o)
{
	int ret = 0;

	/* In extraction order, so the topmost directory's mtime wins. */
	for (size_t i = 0; i < o->ndm; i++) {
		struct timespec ts[2] = { o->dm[i].mtime, o->dm[i].mtime };
		struct stat st;

		if (!ret && o->dm[i].path && !lstat(o->dm[i].path, &st) &&
		    S_ISDIR(st.st_mode) &&
		    utimensat(AT_FDCWD, o->dm[i].path, ts, AT_SYMLINK_NOFOLLOW))
			ret = -errno;
		free(o->dm[i].path);
	}
	free(o->dm);
	free(o);
	return ret;
}
