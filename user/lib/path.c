// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Paths: cleaning untrusted tar names, resolving them strictly inside a
 * root with openat2(2), and the store's own file helpers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "internal.h"

int lfs_path_clean(const char *in, char *out, size_t outlen, struct lfs_error *err)
{
	size_t n = 0;
	const char *p = in;

	if (!in)
		return lfs_error_set(err, LFS_E_UNSAFE, 0, "entry without a name");
	if (in[0] == '/')
		return lfs_error_set(err, LFS_E_UNSAFE, 0, "absolute path");
	if (strlen(in) >= PATH_MAX)
		return lfs_error_set(err, LFS_E_UNSAFE, 0, "path longer than %d bytes", PATH_MAX - 1);
	while (*p) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return lfs_error_set(err, LFS_E_UNSAFE, 0, "path contains \"..\"");
		if (len > NAME_MAX)
			return lfs_error_set(err, LFS_E_UNSAFE, 0, "path component longer than %d bytes",
					     NAME_MAX);
		if (len && !(len == 1 && p[0] == '.')) {
			if (n + len + 2 > outlen)
				return lfs_error_set(err, LFS_E_UNSAFE, 0, "path too long");
			if (n)
				out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	out[n] = '\0';
	return 0;
}

int lfs_open_in_root(int rootfd, const char *path, int flags, unsigned mode)
{
	struct open_how how = {
		.flags = (unsigned)flags | O_CLOEXEC,
		.mode = (flags & O_CREAT) ? mode : 0,
		/*
		 * IN_ROOT: ".." and absolute symlinks cannot leave the root;
		 * NO_SYMLINKS: an entry below a symlink is refused outright, since
		 * a layer directory must hold exactly what the tar says;
		 * NO_XDEV: never wander onto another mount.
		 */
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_XDEV,
	};
	int fd, tries = 0;

	if (!*path)
		path = ".";
	do {
		fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	} while (fd < 0 && errno == EAGAIN && ++tries < 16);
	return fd;
}

const char *lfs_path_base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

int lfs_open_parent_in_root(int rootfd, const char *path, const char **base)
{
	char parent[PATH_MAX];
	size_t len;

	*base = lfs_path_base(path);
	len = *base > path ? (size_t)(*base - path - 1) : 0;
	if (len >= sizeof(parent)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(parent, path, len);
	parent[len] = '\0';
	return lfs_open_in_root(rootfd, parent, O_PATH | O_DIRECTORY, 0);
}

int lfs_rmtree_at(int dirfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* a layer may hold directories without write permission */
	fchmod(fd, 0700);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
			if (lfs_rmtree_at(fd, de->d_name) < 0)
				ret = -1;
		} else if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT) {
			ret = -1;
		}
	}
	closedir(d);
	if (ret == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		ret = -1;
	return ret;
}

int lfs_mkdirs_at(int dirfd, const char *path, unsigned mode)
{
	char buf[PATH_MAX];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdirat(dirfd, buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdirat(dirfd, buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int lfs_write_file_at(int dirfd, const char *path, const void *data, size_t len,
		      struct lfs_error *err)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "create %s", tmp);
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			lfs_error_set(err, LFS_E_SYSTEM, errno, "write %s", tmp);
			goto out_unlink;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		lfs_error_set(err, LFS_E_SYSTEM, errno, "fsync %s", tmp);
		goto out_unlink;
	}
	close(fd);
	if (renameat(dirfd, tmp, dirfd, path) < 0) {
		lfs_error_set(err, LFS_E_SYSTEM, errno, "rename %s", path);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	return 0;
out_unlink:
	close(fd);
	unlinkat(dirfd, tmp, 0);
	return -1;
}

int lfs_read_file_at(int dirfd, const char *path, size_t max, char **data, size_t *len,
		     struct lfs_error *err)
{
	struct lfs_buf b = { 0 };
	char chunk[65536];
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return lfs_error_set(err, LFS_E_SYSTEM, errno, "open %s", path);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			lfs_buf_free(&b);
			return lfs_error_set(err, LFS_E_SYSTEM, errno, "read %s", path);
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			lfs_buf_free(&b);
			return lfs_error_set(err, LFS_E_SYSTEM, EFBIG, "read %s", path);
		}
		if (lfs_buf_append(&b, chunk, (size_t)n) < 0) {
			lfs_buf_free(&b);
			return lfs_oom(err);
		}
	}
	if (!b.data && lfs_buf_append(&b, "", 0) < 0)
		return lfs_oom(err);
	*data = b.data;
	*len = b.len;
	return 0;
}

int lfs_fsync_dir_at(int dirfd, const char *path)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -1 : fsync(fd);
}
