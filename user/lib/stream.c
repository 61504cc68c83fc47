// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * One layer as one stream: compressed bytes in (hashed and counted against
 * the descriptor), tar bytes out (decompressed with zlib or libzstd, hashed
 * for the diff_id and bounded against decompression bombs).  Nothing is
 * written anywhere here; the caller feeds the tar bytes to libarchive.
 */
#include <errno.h>
#include <zlib.h>
#include <zstd.h>

#include "internal.h"

#define INBUF_SIZE (128 * 1024)

struct lfs_layer_stream {
	lfs_read_fn read;
	void *ctx;
	enum lfs_compression c;
	int64_t expect_size;
	struct lfs_limits lim;
	struct lfs_sha256 *h_comp, *h_tar;
	uint64_t n_comp, n_tar;

	unsigned char *in;
	size_t in_pos, in_len;
	bool in_eof;

	z_stream z;
	bool z_ready;
	bool member_done;	/* gzip: one member ended; another may follow */
	ZSTD_DStream *zs;
	bool frame_done;	/* zstd: last frame complete */
	bool out_eof;
};

void lfs_layer_stream_free(struct lfs_layer_stream *ls)
{
	if (!ls)
		return;
	if (ls->z_ready)
		inflateEnd(&ls->z);
	ZSTD_freeDStream(ls->zs);
	lfs_sha256_free(ls->h_comp);
	lfs_sha256_free(ls->h_tar);
	free(ls->in);
	free(ls);
}

struct lfs_layer_stream *lfs_layer_stream_new(lfs_read_fn read, void *ctx,
					      enum lfs_compression c, int64_t expect_size,
					      const struct lfs_limits *limits,
					      struct lfs_error *err)
{
	struct lfs_layer_stream *ls = calloc(1, sizeof(*ls));

	if (!ls) {
		lfs_oom(err);
		return NULL;
	}
	ls->read = read;
	ls->ctx = ctx;
	ls->c = c;
	ls->expect_size = expect_size;
	ls->lim = *limits;
	ls->h_comp = lfs_sha256_new();
	ls->h_tar = lfs_sha256_new();
	ls->in = malloc(INBUF_SIZE);
	if (!ls->h_comp || !ls->h_tar || !ls->in)
		goto out_oom;
	if (c == LFS_COMPRESS_GZIP) {
		/* 15 + 16: gzip wrapper only; members are chained by hand below */
		if (inflateInit2(&ls->z, 15 + 16) != Z_OK)
			goto out_oom;
		ls->z_ready = true;
	} else if (c == LFS_COMPRESS_ZSTD) {
		ls->zs = ZSTD_createDStream();
		if (!ls->zs)
			goto out_oom;
		/* window above 128 MiB would let one frame claim that much memory */
		ZSTD_DCtx_setParameter(ls->zs, ZSTD_d_windowLogMax, 27);
	}
	return ls;
out_oom:
	lfs_layer_stream_free(ls);
	lfs_oom(err);
	return NULL;
}

uint64_t lfs_layer_stream_compressed(const struct lfs_layer_stream *ls)
{
	return ls->n_comp;
}

static long read_compressed(struct lfs_layer_stream *ls, void *buf, size_t len,
			    struct lfs_error *err)
{
	long n;

	/* ask for at most one byte past the expected size: enough to see it is too long */
	if (ls->expect_size >= 0 && ls->n_comp + len > (uint64_t)ls->expect_size + 1)
		len = (size_t)((uint64_t)ls->expect_size + 1 - ls->n_comp);
	if (!len)
		len = 1;
	n = ls->read(ls->ctx, buf, len, err);
	if (n <= 0)
		return n;
	lfs_sha256_update(ls->h_comp, buf, (size_t)n);
	ls->n_comp += (uint64_t)n;
	if (ls->expect_size >= 0 && ls->n_comp > (uint64_t)ls->expect_size)
		return lfs_error_set(err, LFS_E_VERIFY, 0,
				     "blob is larger than the %lld bytes its descriptor says",
				     (long long)ls->expect_size);
	return n;
}

static int fill(struct lfs_layer_stream *ls, struct lfs_error *err)
{
	long n;

	if (ls->in_pos < ls->in_len || ls->in_eof)
		return 0;
	n = read_compressed(ls, ls->in, INBUF_SIZE, err);
	if (n < 0)
		return -1;
	ls->in_pos = 0;
	ls->in_len = (size_t)n;
	if (n == 0)
		ls->in_eof = true;
	return 0;
}

static int account(struct lfs_layer_stream *ls, const void *buf, size_t n, struct lfs_error *err)
{
	lfs_sha256_update(ls->h_tar, buf, n);
	ls->n_tar += n;
	if (ls->n_tar > ls->lim.max_layer_size)
		return lfs_error_set(err, LFS_E_UNSAFE, 0,
				     "uncompressed layer exceeds %llu bytes (decompression bomb or limit too low)",
				     (unsigned long long)ls->lim.max_layer_size);
	if (ls->c != LFS_COMPRESS_NONE && ls->n_tar > ls->lim.ratio_floor &&
	    ls->n_tar / (ls->n_comp ? ls->n_comp : 1) > ls->lim.max_ratio)
		return lfs_error_set(err, LFS_E_UNSAFE, 0,
				     "compression ratio above %llu:1 after %llu bytes (decompression bomb)",
				     (unsigned long long)ls->lim.max_ratio,
				     (unsigned long long)ls->n_tar);
	return 0;
}

static long read_gzip(struct lfs_layer_stream *ls, void *buf, size_t len, struct lfs_error *err)
{
	for (;;) {
		int r;
		size_t produced;

		if (fill(ls, err) < 0)
			return -1;
		if (ls->member_done) {
			if (ls->in_eof)
				return 0;
			/* another gzip member follows (multi-member streams are legal) */
			inflateReset(&ls->z);
			ls->member_done = false;
		}
		if (ls->in_eof && ls->in_pos == ls->in_len)
			return lfs_error_set(err, LFS_E_VERIFY, 0, "gzip stream is truncated");
		ls->z.next_in = ls->in + ls->in_pos;
		ls->z.avail_in = (uInt)(ls->in_len - ls->in_pos);
		ls->z.next_out = buf;
		ls->z.avail_out = (uInt)(len > (1u << 30) ? (1u << 30) : len);
		r = inflate(&ls->z, Z_NO_FLUSH);
		produced = (size_t)((unsigned char *)ls->z.next_out - (unsigned char *)buf);
		ls->in_pos = ls->in_len - ls->z.avail_in;
		if (r == Z_STREAM_END)
			ls->member_done = true;
		else if (r != Z_OK && r != Z_BUF_ERROR)
			return lfs_error_set(err, LFS_E_VERIFY, 0, "corrupt gzip data: %s",
					     ls->z.msg ? ls->z.msg : "inflate failed");
		if (produced) {
			if (account(ls, buf, produced, err) < 0)
				return -1;
			return (long)produced;
		}
	}
}

static long read_zstd(struct lfs_layer_stream *ls, void *buf, size_t len, struct lfs_error *err)
{
	for (;;) {
		ZSTD_inBuffer in;
		ZSTD_outBuffer out = { buf, len, 0 };
		size_t r;

		if (fill(ls, err) < 0)
			return -1;
		if (ls->in_eof && ls->in_pos == ls->in_len) {
			if (!ls->frame_done)
				return lfs_error_set(err, LFS_E_VERIFY, 0, "zstd stream is truncated");
			return 0;
		}
		in.src = ls->in;
		in.size = ls->in_len;
		in.pos = ls->in_pos;
		r = ZSTD_decompressStream(ls->zs, &out, &in);
		ls->in_pos = in.pos;
		if (ZSTD_isError(r))
			return lfs_error_set(err, LFS_E_VERIFY, 0, "corrupt zstd data: %s",
					     ZSTD_getErrorName(r));
		ls->frame_done = (r == 0);
		if (out.pos) {
			if (account(ls, buf, out.pos, err) < 0)
				return -1;
			return (long)out.pos;
		}
	}
}

long lfs_layer_stream_read(struct lfs_layer_stream *ls, void *buf, size_t len,
			   struct lfs_error *err)
{
	long n;

	if (ls->out_eof)
		return 0;
	switch (ls->c) {
	case LFS_COMPRESS_GZIP:
		n = read_gzip(ls, buf, len, err);
		break;
	case LFS_COMPRESS_ZSTD:
		n = read_zstd(ls, buf, len, err);
		break;
	default:
		n = read_compressed(ls, buf, len, err);
		if (n > 0 && account(ls, buf, (size_t)n, err) < 0)
			return -1;
		break;
	}
	if (n == 0)
		ls->out_eof = true;
	return n;
}

int lfs_layer_stream_finish(struct lfs_layer_stream *ls, char digest[LFS_DIGEST_SIZE],
			    char diff_id[LFS_DIGEST_SIZE], struct lfs_error *err)
{
	char scratch[16384];
	long n;

	/* the diff_id covers every byte, including the tar's end padding */
	while ((n = lfs_layer_stream_read(ls, scratch, sizeof(scratch), err)) > 0)
		;
	if (n < 0)
		return -1;
	if (ls->expect_size >= 0 && ls->n_comp != (uint64_t)ls->expect_size)
		return lfs_error_set(err, LFS_E_VERIFY, 0,
				     "blob has %llu bytes, its descriptor says %lld",
				     (unsigned long long)ls->n_comp, (long long)ls->expect_size);
	lfs_sha256_final(ls->h_comp, digest);
	lfs_sha256_final(ls->h_tar, diff_id);
	return 0;
}

int lfs_layer_stream_drain_raw(struct lfs_layer_stream *ls, char digest[LFS_DIGEST_SIZE])
{
	struct lfs_error e = { 0 };
	long n;

	if (!ls->in_eof) {
		while ((n = read_compressed(ls, ls->in, INBUF_SIZE, &e)) > 0)
			;
		if (n < 0)
			return -1;
	}
	if (ls->expect_size >= 0 && ls->n_comp != (uint64_t)ls->expect_size)
		return -1;
	lfs_sha256_final(ls->h_comp, digest);
	return 0;
}
