// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Unpack one layer's tar stream into an empty directory, exactly as the tar
 * says (OCI whiteouts stay regular ".wh." files), treating every byte as
 * hostile:
 *   - names are cleaned first: absolute paths, "..", over-long names refused;
 *   - every parent is resolved with openat2(RESOLVE_IN_ROOT |
 *     RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) and the
 *     entry is created relative to that fd by its last component only, with
 *     O_EXCL/O_NOFOLLOW, so nothing can be written outside the root and no
 *     entry can be placed through a symlink;
 *   - hardlinks must name an earlier non-directory entry of the same layer;
 *   - duplicates, device nodes (unless allowed), sockets, trusted.* xattrs,
 *     sizes over the limits are refused.
 * Each refusal names the layer and the entry.  Directory modes and times are
 * applied last, deepest first, so a read-only directory can still be filled.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "internal.h"

#define READ_BUF (256 * 1024)

enum seen_type { SEEN_DIR = 1, SEEN_REG, SEEN_OTHER };

struct dir_meta {
	char *path;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec times[2];
};

struct unpack {
	int rootfd;
	struct lfs_layer_stream *ls;
	const struct lfs_limits *lim;
	const char *layer;
	struct lfs_unpack_result *res;
	struct lfs_set seen;
	struct dir_meta *dirs;
	size_t n_dirs, cap_dirs;
	struct lfs_sha256 *h;
	bool as_root;
	char *buf;
	struct lfs_error rerr;	/* an error from the byte stream under libarchive */
	bool read_failed;
};

void lfs_limits_default(struct lfs_limits *l)
{
	l->max_entry_size = 64ull << 30;
	l->max_layer_size = 256ull << 30;
	l->max_entries = 4u << 20;
	l->max_ratio = 1000;
	l->ratio_floor = 64u << 20;
	l->allow_devices = false;
}

void lfs_unpack_result_free(struct lfs_unpack_result *r)
{
	size_t i;

	for (i = 0; i < r->n_files; i++)
		free(r->files[i].path);
	free(r->files);
	for (i = 0; i < r->n_links; i++) {
		free(r->links[i].path);
		free(r->links[i].target);
	}
	free(r->links);
	memset(r, 0, sizeof(*r));
}

static la_ssize_t arc_read(struct archive *a, void *ud, const void **out)
{
	struct unpack *u = ud;
	long n = lfs_layer_stream_read(u->ls, u->buf, READ_BUF, &u->rerr);

	if (n < 0) {
		u->read_failed = true;
		archive_set_error(a, EIO, "%s", u->rerr.msg);
		return -1;
	}
	*out = u->buf;
	return n;
}

/* Errors about an entry: "entry \"NAME\": why"; returns -1. */
static int __attribute__((format(printf, 5, 6)))
entry_err(struct lfs_error *err, enum lfs_err_kind kind, int errnum, const char *name,
	  const char *fmt, ...)
{
	char why[LFS_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	lfs_error_set(err, kind, errnum, "%s", why);
	lfs_error_prefix(err, "entry \"%.300s\"", name);
	return -1;
}

static int errno_kind_msg(int e, const char **why)
{
	switch (e) {
	case ELOOP:
		*why = "path goes through a symlink";
		return LFS_E_UNSAFE;
	case ENOTDIR:
		*why = "a parent is not a directory";
		return LFS_E_UNSAFE;
	case EXDEV:
		*why = "path leaves the layer";
		return LFS_E_UNSAFE;
	case EEXIST:
		*why = "conflicts with an earlier entry";
		return LFS_E_UNSAFE;
	default:
		*why = "cannot create";
		return LFS_E_SYSTEM;
	}
}

static int errno_err(struct lfs_error *err, int e, const char *name)
{
	const char *why;
	int kind = errno_kind_msg(e, &why);

	return entry_err(err, kind, kind == LFS_E_SYSTEM ? e : 0, name, "%s", why);
}

/* Open the parent directory of path, creating missing ancestors (mode 0755). */
/* Open the parent directory of path, creating missing ancestors (mode 0755). */
static int open_parent(struct unpack *u, const char *path, bool create, struct lfs_error *err)
{
	char parent[PATH_MAX];
	const char *base;
	char *comp, *save = NULL;
	int fd, cur;

	fd = lfs_open_parent_in_root(u->rootfd, path, &base);
	if (fd >= 0 || errno != ENOENT || !create)
		return fd >= 0 ? fd : errno_err(err, errno, path);

	/* component by component, each resolved as strictly as the whole */
	snprintf(parent, sizeof(parent), "%.*s", (int)(base > path ? base - path - 1 : 0), path);
	cur = dup(u->rootfd);
	if (cur < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "dup");
	for (comp = strtok_r(parent, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		int next = lfs_open_in_root(cur, comp, O_PATH | O_DIRECTORY, 0);

		if (next < 0 && errno == ENOENT) {
			if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
				int e = errno;

				close(cur);
				return errno_err(err, e, path);
			}
			next = lfs_open_in_root(cur, comp, O_PATH | O_DIRECTORY, 0);
		}
		if (next < 0) {
			int e = errno;

			close(cur);
			return errno_err(err, e, path);
		}
		close(cur);
		cur = next;
	}
	return cur;
}

struct xattr_item {
	const char *name;
	const void *value;
	size_t size;
};

static int xattr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct xattr_item *)a)->name, ((const struct xattr_item *)b)->name);
}

/* Collect and check xattrs; sorted so the object key does not depend on tar order. */
static int collect_xattrs(struct archive_entry *e, const char *name, struct xattr_item **out,
			  size_t *n, struct lfs_error *err)
{
	int count = archive_entry_xattr_reset(e);
	struct xattr_item *v;
	size_t i = 0;

	*out = NULL;
	*n = 0;
	if (count <= 0)
		return 0;
	v = calloc((size_t)count, sizeof(*v));
	if (!v)
		return lfs_oom(err);
	while (i < (size_t)count &&
	       archive_entry_xattr_next(e, &v[i].name, &v[i].value, &v[i].size) == ARCHIVE_OK) {
		/* trusted.* is where overlayfs and layerfs keep their own metadata */
		if (!strncmp(v[i].name, "trusted.", 8)) {
			entry_err(err, LFS_E_UNSAFE, 0, name, "xattr \"%.100s\" is not allowed in a layer",
				  v[i].name);
			free(v);
			return -1;
		}
		i++;
	}
	qsort(v, i, sizeof(*v), xattr_cmp);
	*out = v;
	*n = i;
	return 0;
}

static int apply_xattrs(int fd, const struct xattr_item *x, size_t n, const char *name,
			struct lfs_error *err)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fsetxattr(fd, x[i].name, x[i].value, x[i].size, 0) < 0)
			return entry_err(err, LFS_E_SYSTEM, errno, name, "set xattr %.100s", x[i].name);
	return 0;
}

static void entry_times(struct archive_entry *e, struct timespec t[2])
{
	t[1].tv_sec = archive_entry_mtime(e);
	t[1].tv_nsec = archive_entry_mtime_nsec(e);
	if (archive_entry_atime_is_set(e)) {
		t[0].tv_sec = archive_entry_atime(e);
		t[0].tv_nsec = archive_entry_atime_nsec(e);
	} else {
		t[0] = t[1];
	}
}

/*
 * The object key: content digest plus everything a hardlink shares (mode,
 * owner, mtime, xattrs), so replacing the file by a link to the object
 * changes nothing visible.
 */
static void object_key(const char *content, struct archive_entry *e, const struct xattr_item *x,
		       size_t nx, char key[LFS_DIGEST_SIZE])
{
	struct lfs_sha256 *h = lfs_sha256_new();
	char meta[160];
	size_t i;

	if (!h) {
		memcpy(key, content, LFS_DIGEST_SIZE);	/* degrade: content only, still safe */
		return;
	}
	lfs_sha256_update(h, "layerfs-object-v1", 18);
	lfs_sha256_update(h, content, LFS_DIGEST_LEN + 1);
	snprintf(meta, sizeof(meta), "%o %lld %lld %lld.%09ld", (unsigned)(archive_entry_mode(e) & 07777),
		 (long long)archive_entry_uid(e), (long long)archive_entry_gid(e),
		 (long long)archive_entry_mtime(e), (long)archive_entry_mtime_nsec(e));
	lfs_sha256_update(h, meta, strlen(meta) + 1);
	for (i = 0; i < nx; i++) {
		char len[32];

		lfs_sha256_update(h, x[i].name, strlen(x[i].name) + 1);
		snprintf(len, sizeof(len), "%zu", x[i].size);
		lfs_sha256_update(h, len, strlen(len) + 1);
		lfs_sha256_update(h, x[i].value, x[i].size);
	}
	lfs_sha256_final(h, key);
	lfs_sha256_free(h);
}

static int write_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static void hash_zeros(struct lfs_sha256 *h, uint64_t n)
{
	static const char zeros[65536];

	while (n) {
		size_t k = n > sizeof(zeros) ? sizeof(zeros) : (size_t)n;

		lfs_sha256_update(h, zeros, k);
		n -= k;
	}
}

static int unpack_file(struct unpack *u, struct archive *a, struct archive_entry *e,
		       int parentfd, const char *path, struct lfs_error *err)
{
	int64_t size = archive_entry_size(e);
	struct xattr_item *x = NULL;
	size_t nx = 0;
	char content[LFS_DIGEST_SIZE];
	struct lfs_unpack_file *f;
	struct timespec t[2];
	const void *buf;
	size_t len;
	la_int64_t off;
	uint64_t expected = 0;
	int fd, r, ret = -1;

	if (collect_xattrs(e, path, &x, &nx, err) < 0)
		return -1;
	fd = openat(parentfd, lfs_path_base(path), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		errno_err(err, errno, path);
		goto out;
	}
	while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
		if (off < 0 || (uint64_t)off < expected || (uint64_t)off + len > (uint64_t)size) {
			entry_err(err, LFS_E_UNSAFE, 0, path, "data outside the entry's declared size");
			goto out_close;
		}
		hash_zeros(u->h, (uint64_t)off - expected);	/* sparse hole */
		if (len && write_all(fd, buf, len, off) < 0) {
			entry_err(err, LFS_E_SYSTEM, errno, path, "write");
			goto out_close;
		}
		lfs_sha256_update(u->h, buf, len);
		expected = (uint64_t)off + len;
		u->res->bytes += len;
	}
	if (r != ARCHIVE_EOF) {
		if (u->read_failed)
			*err = u->rerr;
		else
			lfs_error_set(err, LFS_E_VERIFY, 0, "corrupt tar data: %s", archive_error_string(a));
		lfs_error_prefix(err, "entry \"%.300s\"", path);
		goto out_close;
	}
	hash_zeros(u->h, (uint64_t)size - expected);
	if (ftruncate(fd, size) < 0) {
		entry_err(err, LFS_E_SYSTEM, errno, path, "truncate");
		goto out_close;
	}
	lfs_sha256_final(u->h, content);
	if (u->as_root && fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0) {
		entry_err(err, LFS_E_SYSTEM, errno, path, "chown");
		goto out_close;
	}
	/* after chown, which would clear set-id bits */
	if (fchmod(fd, archive_entry_mode(e) & 07777) < 0) {
		entry_err(err, LFS_E_SYSTEM, errno, path, "chmod");
		goto out_close;
	}
	if (apply_xattrs(fd, x, nx, path, err) < 0)
		goto out_close;
	entry_times(e, t);
	if (futimens(fd, t) < 0) {
		entry_err(err, LFS_E_SYSTEM, errno, path, "set times");
		goto out_close;
	}
	if (u->res->n_files == u->res->cap_files) {
		size_t cap = u->res->cap_files ? u->res->cap_files * 2 : 256;
		struct lfs_unpack_file *v = realloc(u->res->files, cap * sizeof(*v));

		if (!v) {
			lfs_oom(err);
			goto out_close;
		}
		u->res->files = v;
		u->res->cap_files = cap;
	}
	f = &u->res->files[u->res->n_files];
	f->path = strdup(path);
	if (!f->path) {
		lfs_oom(err);
		goto out_close;
	}
	object_key(content, e, x, nx, f->key);
	u->res->n_files++;
	ret = 0;
out_close:
	close(fd);
out:
	free(x);
	return ret;
}

static int record_dir(struct unpack *u, const char *path, struct archive_entry *e,
		      struct lfs_error *err)
{
	struct dir_meta *d;

	if (u->n_dirs == u->cap_dirs) {
		size_t cap = u->cap_dirs ? u->cap_dirs * 2 : 64;
		struct dir_meta *v = realloc(u->dirs, cap * sizeof(*v));

		if (!v)
			return lfs_oom(err);
		u->dirs = v;
		u->cap_dirs = cap;
	}
	d = &u->dirs[u->n_dirs];
	d->path = strdup(path);
	if (!d->path)
		return lfs_oom(err);
	d->mode = archive_entry_mode(e) & 07777;
	d->uid = (uid_t)archive_entry_uid(e);
	d->gid = (gid_t)archive_entry_gid(e);
	entry_times(e, d->times);
	u->n_dirs++;
	return 0;
}

static int unpack_dir(struct unpack *u, struct archive_entry *e, int parentfd, const char *path,
		      struct lfs_error *err)
{
	struct xattr_item *x = NULL;
	size_t nx = 0;
	struct stat st;
	int fd, ret = -1;

	if (collect_xattrs(e, path, &x, &nx, err) < 0)
		return -1;
	if (!*path) {
		fd = dup(u->rootfd);
	} else {
		if (mkdirat(parentfd, lfs_path_base(path), 0700) < 0) {
			/* fine only when made implicitly for an earlier entry's parent */
			if (errno != EEXIST ||
			    fstatat(parentfd, lfs_path_base(path), &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISDIR(st.st_mode)) {
				errno_err(err, EEXIST, path);
				goto out;
			}
		}
		fd = openat(parentfd, lfs_path_base(path), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		errno_err(err, errno, path);
		goto out;
	}
	ret = apply_xattrs(fd, x, nx, path, err);
	close(fd);
	if (ret == 0)
		ret = record_dir(u, path, e, err);
out:
	free(x);
	return ret;
}

/* A hardlink entry; *kind becomes its target's kind (a link to a file is a file). */
static int unpack_link(struct unpack *u, int parentfd, const char *path, const char *rawtarget,
		       unsigned *kind, struct lfs_error *err)
{
	char target[PATH_MAX];
	struct lfs_set_entry *t;
	struct lfs_unpack_link *l;
	int tparent, r;

	if (lfs_path_clean(rawtarget, target, sizeof(target), err) < 0) {
		lfs_error_prefix(err, "entry \"%.300s\": hardlink target \"%.300s\"", path, rawtarget);
		return -1;
	}
	t = lfs_set_find(&u->seen, target);
	if (!t)
		return entry_err(err, LFS_E_UNSAFE, 0, path,
				 "hardlink target \"%.300s\" is not an earlier entry of this layer", target);
	if (t->value == SEEN_DIR)
		return entry_err(err, LFS_E_UNSAFE, 0, path, "hardlink to directory \"%.300s\"", target);
	*kind = t->value;
	tparent = open_parent(u, target, false, err);
	if (tparent < 0)
		return -1;
	r = linkat(tparent, lfs_path_base(target), parentfd, lfs_path_base(path), 0);
	close(tparent);
	if (r < 0)
		return errno_err(err, errno, path);
	if (t->value != SEEN_REG)
		return 0;
	if (u->res->n_links == u->res->cap_links) {
		size_t cap = u->res->cap_links ? u->res->cap_links * 2 : 32;
		struct lfs_unpack_link *v = realloc(u->res->links, cap * sizeof(*v));

		if (!v)
			return lfs_oom(err);
		u->res->links = v;
		u->res->cap_links = cap;
	}
	l = &u->res->links[u->res->n_links];
	l->path = strdup(path);
	l->target = strdup(target);
	if (!l->path || !l->target) {
		free(l->path);
		free(l->target);
		return lfs_oom(err);
	}
	u->res->n_links++;
	return 0;
}

static int unpack_other(struct unpack *u, struct archive_entry *e, int parentfd,
			const char *path, unsigned type, struct lfs_error *err)
{
	const char *base = lfs_path_base(path);
	struct timespec t[2];

	if (type == AE_IFLNK) {
		const char *target = archive_entry_symlink(e);

		/* symlink targets are stored, never followed: any text is safe */
		if (!target || !*target)
			return entry_err(err, LFS_E_UNSAFE, 0, path, "symlink without a target");
		if (strlen(target) >= PATH_MAX)
			return entry_err(err, LFS_E_UNSAFE, 0, path, "symlink target longer than %d bytes",
					 PATH_MAX - 1);
		if (symlinkat(target, parentfd, base) < 0)
			return errno_err(err, errno, path);
	} else if (type == AE_IFCHR || type == AE_IFBLK) {
		if (!u->lim->allow_devices)
			return entry_err(err, LFS_E_UNSAFE, 0, path, "device node not allowed (%s %u:%u)",
					 type == AE_IFCHR ? "char" : "block",
					 (unsigned)archive_entry_rdevmajor(e),
					 (unsigned)archive_entry_rdevminor(e));
		if (mknodat(parentfd, base, (type == AE_IFCHR ? S_IFCHR : S_IFBLK) | 0600,
			    makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e))) < 0)
			return errno_err(err, errno, path);
	} else if (type == AE_IFIFO) {
		if (mknodat(parentfd, base, S_IFIFO | 0600, 0) < 0)
			return errno_err(err, errno, path);
	} else {
		return entry_err(err, LFS_E_UNSAFE, 0, path, "unsupported entry type 0%o", type);
	}
	if (u->as_root && fchownat(parentfd, base, (uid_t)archive_entry_uid(e),
				   (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
		return entry_err(err, LFS_E_SYSTEM, errno, path, "chown");
	if (type != AE_IFLNK && fchmodat(parentfd, base, archive_entry_mode(e) & 07777, 0) < 0)
		return entry_err(err, LFS_E_SYSTEM, errno, path, "chmod");
	entry_times(e, t);
	if (utimensat(parentfd, base, t, AT_SYMLINK_NOFOLLOW) < 0)
		return entry_err(err, LFS_E_SYSTEM, errno, path, "set times");
	return 0;
}

static int unpack_entry(struct unpack *u, struct archive *a, struct archive_entry *e,
			struct lfs_error *err)
{
	const char *raw = archive_entry_pathname(e);
	const char *hardlink = archive_entry_hardlink(e);
	unsigned type = archive_entry_filetype(e);
	char path[PATH_MAX];
	struct lfs_set_entry *s;
	unsigned kind;
	int parentfd, r;

	if (!raw)
		return lfs_error_set(err, LFS_E_UNSAFE, 0, "entry %llu has no usable name",
				     (unsigned long long)u->res->entries);
	if (lfs_path_clean(raw, path, sizeof(path), err) < 0) {
		lfs_error_prefix(err, "entry \"%.300s\"", raw);
		return -1;
	}
	if (lfs_set_find(&u->seen, path))
		return entry_err(err, LFS_E_UNSAFE, 0, raw, "duplicate entry");
	if (archive_entry_size_is_set(e) &&
	    (archive_entry_size(e) < 0 || (uint64_t)archive_entry_size(e) > u->lim->max_entry_size))
		return entry_err(err, LFS_E_UNSAFE, 0, raw, "size %lld over the %llu byte limit",
				 (long long)archive_entry_size(e),
				 (unsigned long long)u->lim->max_entry_size);
	if (!strncmp(lfs_path_base(path), ".wh.", 4) && (hardlink || type != AE_IFREG))
		return entry_err(err, LFS_E_UNSAFE, 0, raw, "whiteout is not a regular file");
	if (!*path && (hardlink || type != AE_IFDIR))
		return entry_err(err, LFS_E_UNSAFE, 0, raw, "layer root is not a directory");

	parentfd = *path ? open_parent(u, path, true, err) : dup(u->rootfd);
	if (parentfd < 0)
		return -1;
	kind = type == AE_IFDIR ? SEEN_DIR : type == AE_IFREG ? SEEN_REG : SEEN_OTHER;
	if (hardlink)
		r = unpack_link(u, parentfd, path, hardlink, &kind, err);
	else if (type == AE_IFREG)
		r = unpack_file(u, a, e, parentfd, path, err);
	else if (type == AE_IFDIR)
		r = unpack_dir(u, e, parentfd, path, err);
	else
		r = unpack_other(u, e, parentfd, path, type, err);
	close(parentfd);
	if (r < 0)
		return -1;
	s = lfs_set_insert(&u->seen, path);
	if (!s)
		return lfs_oom(err);
	s->value = kind;
	return 0;
}

/* Directory metadata, deepest (latest) first, once every child exists. */
static int finish_dirs(struct unpack *u, struct lfs_error *err)
{
	size_t i;

	for (i = u->n_dirs; i-- > 0;) {
		struct dir_meta *d = &u->dirs[i];
		int fd = lfs_open_in_root(u->rootfd, d->path, O_RDONLY | O_DIRECTORY, 0);

		if (fd < 0)
			return errno_err(err, errno, *d->path ? d->path : ".");
		if ((u->as_root && fchown(fd, d->uid, d->gid) < 0) || fchmod(fd, d->mode) < 0 ||
		    futimens(fd, d->times) < 0) {
			int e = errno;

			close(fd);
			return entry_err(err, LFS_E_SYSTEM, e, *d->path ? d->path : ".",
					 "set directory metadata");
		}
		close(fd);
	}
	return 0;
}

int lfs_unpack_stream(int rootfd, struct lfs_layer_stream *ls, const struct lfs_limits *limits,
		      const char *layer, struct lfs_unpack_result *res, struct lfs_error *err)
{
	struct unpack u = {
		.rootfd = rootfd, .ls = ls, .lim = limits, .layer = layer, .res = res,
		.as_root = geteuid() == 0,
	};
	struct archive *a = NULL;
	struct archive_entry *e;
	size_t i;
	int r, ret = -1;

	memset(res, 0, sizeof(*res));
	u.h = lfs_sha256_new();
	u.buf = malloc(READ_BUF);
	a = archive_read_new();
	if (!u.h || !u.buf || !a) {
		lfs_oom(err);
		goto out;
	}
	/* tar only (ustar, pax, GNU); decompression already happened in the stream */
	archive_read_support_format_tar(a);
	if (archive_read_open(a, &u, NULL, arc_read, NULL) != ARCHIVE_OK) {
		if (u.read_failed)
			*err = u.rerr;
		else
			lfs_error_set(err, LFS_E_VERIFY, 0, "not a tar stream: %s", archive_error_string(a));
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			if (u.read_failed)
				*err = u.rerr;
			else
				lfs_error_set(err, LFS_E_VERIFY, 0, "corrupt tar stream after %llu entries: %s",
					      (unsigned long long)res->entries, archive_error_string(a));
			goto out;
		}
		if (++res->entries > limits->max_entries) {
			lfs_error_set(err, LFS_E_UNSAFE, 0, "more than %llu entries",
				      (unsigned long long)limits->max_entries);
			goto out;
		}
		if (unpack_entry(&u, a, e, err) < 0)
			goto out;
	}
	if (finish_dirs(&u, err) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0)
		lfs_error_prefix(err, "layer %s", layer);
	if (a)
		archive_read_free(a);
	for (i = 0; i < u.n_dirs; i++)
		free(u.dirs[i].path);
	free(u.dirs);
	lfs_set_free(&u.seen);
	lfs_sha256_free(u.h);
	free(u.buf);
	return ret;
}

/* A plain file descriptor as a byte source, for local layers and tests. */
static long fd_read(void *ctx, void *buf, size_t len, struct lfs_error *err)
{
	ssize_t n;

	do {
		n = read(*(int *)ctx, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "read layer");
	return n;
}

int lfs_unpack_fd(int dirfd, int fd, enum lfs_compression c, const struct lfs_limits *limits,
		  const char *name, const char *diff_id, struct lfs_error *err)
{
	struct lfs_unpack_result res;
	struct lfs_layer_stream *ls;
	char digest[LFS_DIGEST_SIZE], tar_digest[LFS_DIGEST_SIZE];
	int ret = -1;

	ls = lfs_layer_stream_new(fd_read, &fd, c, -1, limits, err);
	if (!ls)
		return -1;
	if (lfs_unpack_stream(dirfd, ls, limits, name, &res, err) < 0)
		goto out;
	if (lfs_layer_stream_finish(ls, digest, tar_digest, err) < 0) {
		lfs_error_prefix(err, "layer %s", name);
		goto out;
	}
	if (diff_id && strcmp(diff_id, tar_digest)) {
		lfs_error_set(err, LFS_E_VERIFY, 0, "layer %s: diff_id mismatch: got %s, want %s", name,
			      tar_digest, diff_id);
		goto out;
	}
	ret = 0;
out:
	lfs_unpack_result_free(&res);
	lfs_layer_stream_free(ls);
	return ret;
}
