// SPDX-License-Identifier: GPL-2.0
/*
 * The layer stream alone (no filesystem): blob digest and size, gzip
 * members, zstd frames, diff_id, and the bomb limits.
 */
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

#include "harness.h"
#include "internal.h"

struct mem {
	const unsigned char *p;
	size_t len, pos;
	size_t chunk;	/* bytes per read, to cross member boundaries oddly */
};

static long mem_read(void *ctx, void *buf, size_t len, struct lfs_error *err)
{
	struct mem *m = ctx;
	size_t n = m->len - m->pos;

	(void)err;
	if (n > len)
		n = len;
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (long)n;
}

static size_t gz(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
	z_stream z = { 0 };
	size_t len;

	deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	len = cap - z.avail_out;
	deflateEnd(&z);
	return len;
}

/* Run a whole stream; returns 0 and the two digests, or -1 and err. */
static int run(const unsigned char *p, size_t len, size_t chunk, enum lfs_compression c,
	       int64_t size, const struct lfs_limits *lim, char *digest, char *diff,
	       uint64_t *out_bytes, struct lfs_error *err)
{
	struct mem m = { p, len, 0, chunk };
	struct lfs_layer_stream *ls = lfs_layer_stream_new(mem_read, &m, c, size, lim, err);
	static char buf[7000];
	uint64_t total = 0;
	long n;
	int r = -1;

	if (!ls)
		return -1;
	while ((n = lfs_layer_stream_read(ls, buf, sizeof(buf), err)) > 0)
		total += (uint64_t)n;
	if (n == 0 && lfs_layer_stream_finish(ls, digest, diff, err) == 0)
		r = 0;
	*out_bytes = total;
	lfs_layer_stream_free(ls);
	return r;
}

static unsigned char data[300000], comp[400000];

static void fill_data(void)
{
	size_t i;
	unsigned x = 12345;

	for (i = 0; i < sizeof(data); i++) {
		x = x * 1103515245 + 12345;
		data[i] = (i % 4096 < 2048) ? (unsigned char)(x >> 16) : (unsigned char)(i & 7);
	}
}

static void gzip_members_and_odd_chunks(void)
{
	struct lfs_limits lim;
	struct lfs_error e = { 0 };
	char want[LFS_DIGEST_SIZE], dd[LFS_DIGEST_SIZE], diff[LFS_DIGEST_SIZE], digest[LFS_DIGEST_SIZE];
	size_t a, b, chunks[] = { 0, 1, 7, 4096 }, i;
	uint64_t n;

	lfs_limits_default(&lim);
	a = gz(data, 100000, comp, sizeof(comp));
	b = gz(data + 100000, sizeof(data) - 100000, comp + a, sizeof(comp) - a);
	lfs_sha256_buffer(data, sizeof(data), want);
	lfs_sha256_buffer(comp, a + b, dd);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		CHECK(run(comp, a + b, chunks[i], LFS_COMPRESS_GZIP, (int64_t)(a + b), &lim, digest, diff,
			  &n, &e) == 0);
		CHECK(n == sizeof(data));
		CHECK_STR(diff, want);
		CHECK_STR(digest, dd);
	}
	/* trailing garbage after the last member is corruption */
	comp[a + b] = 0x42;
	CHECK(run(comp, a + b + 1, 0, LFS_COMPRESS_GZIP, -1, &lim, digest, diff, &n, &e) < 0);
	CHECK(e.kind == LFS_E_VERIFY);
}

static void blob_size_is_checked_both_ways(void)
{
	struct lfs_limits lim;
	struct lfs_error e = { 0 };
	char diff[LFS_DIGEST_SIZE], digest[LFS_DIGEST_SIZE];
	uint64_t n;

	lfs_limits_default(&lim);
	CHECK(run(data, 1000, 0, LFS_COMPRESS_NONE, 999, &lim, digest, diff, &n, &e) < 0);
	CHECK_CONTAINS(e.msg, "larger than the 999 bytes");
	CHECK(run(data, 1000, 0, LFS_COMPRESS_NONE, 1001, &lim, digest, diff, &n, &e) < 0);
	CHECK_CONTAINS(e.msg, "1000 bytes, its descriptor says 1001");
	CHECK(run(data, 1000, 0, LFS_COMPRESS_NONE, 1000, &lim, digest, diff, &n, &e) == 0);
}

static void zstd_frames_and_truncation(void)
{
	struct lfs_limits lim;
	struct lfs_error e = { 0 };
	char want[LFS_DIGEST_SIZE], diff[LFS_DIGEST_SIZE], digest[LFS_DIGEST_SIZE];
	size_t a, b;
	uint64_t n;

	lfs_limits_default(&lim);
	a = ZSTD_compress(comp, sizeof(comp), data, 150000, 3);
	b = ZSTD_compress(comp + a, sizeof(comp) - a, data + 150000, sizeof(data) - 150000, 3);
	lfs_sha256_buffer(data, sizeof(data), want);
	CHECK(run(comp, a + b, 333, LFS_COMPRESS_ZSTD, -1, &lim, digest, diff, &n, &e) == 0);
	CHECK_STR(diff, want);
	CHECK(run(comp, a + b - 3, 0, LFS_COMPRESS_ZSTD, -1, &lim, digest, diff, &n, &e) < 0);
	CHECK_CONTAINS(e.msg, "zstd");
}

static void bombs_stop_early(void)
{
	static unsigned char zeros[4 << 20];
	struct lfs_limits lim;
	struct lfs_error e = { 0 };
	char diff[LFS_DIGEST_SIZE], digest[LFS_DIGEST_SIZE];
	unsigned char *z = malloc(1 << 20);
	size_t len = gz(zeros, sizeof(zeros), z, 1 << 20);
	uint64_t n;

	lfs_limits_default(&lim);
	lim.ratio_floor = 1 << 20;
	lim.max_ratio = 100;
	CHECK(run(z, len, 0, LFS_COMPRESS_GZIP, -1, &lim, digest, diff, &n, &e) < 0);
	CHECK(e.kind == LFS_E_UNSAFE);
	CHECK_CONTAINS(e.msg, "decompression bomb");
	CHECK(n < (2u << 20));
	lfs_limits_default(&lim);
	lim.max_layer_size = 1 << 20;
	CHECK(run(z, len, 0, LFS_COMPRESS_GZIP, -1, &lim, digest, diff, &n, &e) < 0);
	CHECK_CONTAINS(e.msg, "exceeds 1048576 bytes");
	free(z);
}

int main(void)
{
	fill_data();
	RUN(gzip_members_and_odd_chunks);
	RUN(blob_size_is_checked_both_ways);
	RUN(zstd_frames_and_truncation);
	RUN(bombs_stop_early);
	return DONE();
}
