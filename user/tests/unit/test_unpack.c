// SPDX-License-Identifier: GPL-2.0
/*
 * Layer unpacking through the whole stream (decompress, hash, tar): tars are
 * written here with libarchive, compressed with zlib/libzstd, and unpacked
 * with lfs_unpack_fd into a fresh directory.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "harness.h"
#include "layerfs.h"

struct mem {
	unsigned char *p;
	size_t len;
};

static la_ssize_t mem_write(struct archive *a, void *ud, const void *buf, size_t n)
{
	struct mem *m = ud;

	(void)a;
	m->p = realloc(m->p, m->len + n);
	memcpy(m->p + m->len, buf, n);
	m->len += n;
	return (la_ssize_t)n;
}

static void add(struct archive *a, const char *name, unsigned type, const char *data,
		const char *link)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_mtime(e, 1700000000, 0);
	if (link && type == AE_IFLNK)
		archive_entry_set_symlink(e, link);
	if (link && type == AE_IFREG)
		archive_entry_set_hardlink(e, link);
	archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
	archive_write_header(a, e);
	if (data)
		archive_write_data(a, data, strlen(data));
	archive_entry_free(e);
}

/* A small layer: dirs, files, whiteouts, an opaque marker, links. */
static struct mem sample_tar(void)
{
	struct mem m = { 0 };
	struct archive *a = archive_write_new();

	archive_write_set_format_pax_restricted(a);
	archive_write_open(a, &m, NULL, mem_write, NULL);
	add(a, "etc/", AE_IFDIR, NULL, NULL);
	add(a, "etc/hostname", AE_IFREG, "layer\n", NULL);
	add(a, "etc/.wh.passwd", AE_IFREG, "", NULL);
	add(a, "var/lib/.wh..wh..opq", AE_IFREG, "", NULL);
	add(a, "usr/bin/tool", AE_IFREG, "#!/bin/sh\necho hi\n", NULL);
	add(a, "usr/bin/alias", AE_IFLNK, NULL, "tool");
	add(a, "usr/bin/same", AE_IFREG, NULL, "usr/bin/tool");
	archive_write_close(a);
	archive_write_free(a);
	return m;
}

static struct mem gzip_members(const struct mem *in, size_t split)
{
	struct mem out = { 0 };
	size_t part;

	/* two gzip members, split mid-stream: both must be read */
	for (part = 0; part < 2; part++) {
		const unsigned char *src = in->p + (part ? split : 0);
		size_t n = part ? in->len - split : split;
		z_stream z = { 0 };
		unsigned char buf[65536];

		deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
		z.next_in = (unsigned char *)src;
		z.avail_in = (uInt)n;
		do {
			z.next_out = buf;
			z.avail_out = sizeof(buf);
			deflate(&z, Z_FINISH);
			out.p = realloc(out.p, out.len + sizeof(buf) - z.avail_out);
			memcpy(out.p + out.len, buf, sizeof(buf) - z.avail_out);
			out.len += sizeof(buf) - z.avail_out;
		} while (z.avail_out == 0);
		deflateEnd(&z);
	}
	return out;
}

static struct mem zstd_frame(const struct mem *in)
{
	struct mem out;

	out.p = malloc(ZSTD_compressBound(in->len));
	out.len = ZSTD_compress(out.p, ZSTD_compressBound(in->len), in->p, in->len, 3);
	return out;
}

static char tmpl[] = "/tmp/lfs-unpack-XXXXXX";

static int unpack(const struct mem *m, enum lfs_compression c, const char *diff_id,
		  struct lfs_error *err, char *dir)
{
	struct lfs_limits lim;
	char file[64];
	int fd, dfd, r;

	lfs_limits_default(&lim);
	strcpy(dir, tmpl);
	if (!mkdtemp(dir))
		return -2;
	snprintf(file, sizeof(file), "%s.blob", dir);
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (write(fd, m->p, m->len) != (ssize_t)m->len)
		return -2;
	lseek(fd, 0, SEEK_SET);
	unlink(file);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	r = lfs_unpack_fd(dfd, fd, c, &lim, "test", diff_id, err);
	close(fd);
	close(dfd);
	return r;
}

static void cleanup_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# cleanup of %s failed\n", dir);
}

static void check_sample(const char *dir)
{
	char p[256], link[64];
	struct stat a, b;
	ssize_t n;

	snprintf(p, sizeof(p), "%s/etc/.wh.passwd", dir);
	CHECK(stat(p, &a) == 0 && S_ISREG(a.st_mode) && a.st_size == 0);
	snprintf(p, sizeof(p), "%s/var/lib/.wh..wh..opq", dir);
	CHECK(stat(p, &a) == 0 && S_ISREG(a.st_mode));
	snprintf(p, sizeof(p), "%s/usr/bin/alias", dir);
	n = readlink(p, link, sizeof(link) - 1);
	CHECK(n == 4 && !memcmp(link, "tool", 4));
	snprintf(p, sizeof(p), "%s/usr/bin/tool", dir);
	CHECK(stat(p, &a) == 0 && a.st_size == 18 && (a.st_mode & 07777) == 0644);
	CHECK(a.st_mtime == 1700000000);
	snprintf(p, sizeof(p), "%s/usr/bin/same", dir);
	CHECK(stat(p, &b) == 0 && a.st_ino == b.st_ino);
	snprintf(p, sizeof(p), "%s/usr", dir);
	CHECK(stat(p, &a) == 0 && S_ISDIR(a.st_mode) && (a.st_mode & 0777) == 0755);
}

static void uncompressed_layer_keeps_whiteouts_links_and_times(void)
{
	struct mem t = sample_tar();
	struct lfs_error e = { 0 };
	char dir[64], diff[LFS_DIGEST_SIZE];

	lfs_sha256_buffer(t.p, t.len, diff);
	CHECK(unpack(&t, LFS_COMPRESS_NONE, diff, &e, dir) == 0);
	if (e.msg[0])
		fprintf(stderr, "# %s\n", e.msg);
	check_sample(dir);
	cleanup_dir(dir);
	free(t.p);
}

static void multi_member_gzip_is_one_stream(void)
{
	struct mem t = sample_tar(), g = gzip_members(&t, t.len / 3);
	struct lfs_error e = { 0 };
	char dir[64], diff[LFS_DIGEST_SIZE];

	lfs_sha256_buffer(t.p, t.len, diff);
	CHECK(unpack(&g, LFS_COMPRESS_GZIP, diff, &e, dir) == 0);
	if (e.msg[0])
		fprintf(stderr, "# %s\n", e.msg);
	check_sample(dir);
	cleanup_dir(dir);
	free(t.p);
	free(g.p);
}

static void zstd_layer(void)
{
	struct mem t = sample_tar(), z = zstd_frame(&t);
	struct lfs_error e = { 0 };
	char dir[64], diff[LFS_DIGEST_SIZE];

	lfs_sha256_buffer(t.p, t.len, diff);
	CHECK(unpack(&z, LFS_COMPRESS_ZSTD, diff, &e, dir) == 0);
	check_sample(dir);
	cleanup_dir(dir);
	/* cut short: an error, not a silent success */
	z.len -= 10;
	CHECK(unpack(&z, LFS_COMPRESS_ZSTD, NULL, &e, dir) < 0);
	CHECK(e.kind == LFS_E_VERIFY);
	cleanup_dir(dir);
	free(t.p);
	free(z.p);
}

static void diff_id_covers_every_byte(void)
{
	struct mem t = sample_tar();
	struct lfs_error e = { 0 };
	char dir[64], diff[LFS_DIGEST_SIZE];

	/* the tar's zero padding after the end marker is part of the diff_id */
	t.p = realloc(t.p, t.len + 10240);
	memset(t.p + t.len, 0, 10240);
	t.len += 10240;
	lfs_sha256_buffer(t.p, t.len - 512, diff);
	CHECK(unpack(&t, LFS_COMPRESS_NONE, diff, &e, dir) < 0);
	CHECK(e.kind == LFS_E_VERIFY);
	CHECK_CONTAINS(e.msg, "diff_id mismatch");
	cleanup_dir(dir);
	free(t.p);
}

static void truncated_gzip_is_an_error(void)
{
	struct mem t = sample_tar(), g = gzip_members(&t, t.len / 2);
	struct lfs_error e = { 0 };
	char dir[64];

	g.len -= 4;	/* lose the second member's trailer */
	CHECK(unpack(&g, LFS_COMPRESS_GZIP, NULL, &e, dir) < 0);
	CHECK(e.kind == LFS_E_VERIFY);
	cleanup_dir(dir);
	free(t.p);
	free(g.p);
}

/* valgrind (3.19) does not know openat2(2): the unpacker cannot run there */
static bool have_openat2(void)
{
	struct open_how how = { .flags = O_PATH, .resolve = RESOLVE_NO_SYMLINKS };
	long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));

	if (fd >= 0)
		close((int)fd);
	return fd >= 0 || errno != ENOSYS;
}

int main(void)
{
	bool ok = have_openat2();
	const char *why = "openat2(2) not available (valgrind)";

	RUN_IF(ok, why, uncompressed_layer_keeps_whiteouts_links_and_times);
	RUN_IF(ok, why, multi_member_gzip_is_one_stream);
	RUN_IF(ok, why, zstd_layer);
	RUN_IF(ok, why, diff_id_covers_every_byte);
	RUN_IF(ok, why, truncated_gzip_is_an_error);
	return DONE();
}
