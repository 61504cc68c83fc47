// SPDX-License-Identifier: GPL-2.0
/*
 * layerfs: block-granular copy-on-write of regular files.
 *
 * Opening a lower file for writing makes it "partial": an upper file of the
 * same size is created sparse, with no data, and a map says which granules
 * (cow_block bytes each) live in the upper file; all others still come
 * from the lower file, or read as zeros at and after lower_valid (the least
 * size the file has had since it became partial, so that truncating and
 * growing again never brings old lower bytes back).
 *
 * A partial file is served from layerfs's own page cache: ->read_folio
 * fills each folio from upper, lower or zeros; writes dirty folios there;
 * writeback stores a folio in the upper file, first copying its whole
 * granule from the origin if the granule was not present yet, so a present
 * granule is always complete.  Every kind of mmap works on that one cache.
 * A write(2) that lands in present granules or covers whole ones, where
 * no folio is dirty, goes to the upper file directly
 * (lfs_cow_write_through()).
 *
 * The map is persisted in the upper file's "trusted.layerfs.map" xattr
 * (struct layerfs_map) only after the data it describes was made durable
 * with fsync of the upper file, so after a crash a granule reads either its
 * new data or its old lower data, never a hole.  A map too large for the
 * upper filesystem's xattr space, or for any xattr, is made smaller by
 * copying the granules of the shortest gaps between its runs, which joins
 * those runs (lfs_cow_coarsen()): each such copy is a small part of the
 * file, where copying all of it (overlayfs's copy-up) would stall the
 * writer that met the limit.  Only a map that could not hold even a few
 * runs makes layerfs copy every remaining granule and drop the map; the
 * file is then an ordinary upper file.
 *
 * Locking: the inode's i_rwsem serialises writers and size changes (the
 * VFS and generic_file_write_iter() take it); cow->fill_mutex serialises
 * the copy of a granule with the marking of it present; cow->lock (a
 * spinlock) protects the run array, lower_valid and the counters and is
 * never held across I/O; cow->persist_mutex serialises map writes and the
 * fsyncs of the upper file (it reports a writeback error once: to the
 * fsync that marks the file unsynced before the next map can go).
 * Order: i_rwsem -> folio lock -> fill_mutex -> cow->lock; persist_mutex
 * is taken without any folio locked.  A write through takes the mapping's
 * invalidate_lock under i_rwsem and writes the upper file under it, as a
 * fault holds it (shared) while reading the upper file; where it writes
 * granules not present yet it takes fill_mutex too, inside the
 * invalidate_lock: i_rwsem -> invalidate_lock -> fill_mutex.  Writes to
 * the upper file (a fill, writeback) take the upper mount's freeze
 * protection and the upper inode's i_rwsem under fill_mutex, so nothing
 * takes fill_mutex, or waits for writeback, with write access to the
 * upper mount held (lfs_cow_setsize()).  A map is written with upper write
 * access taken under persist_mutex, never with fill_mutex held.
 */

#include <linux/blkdev.h>
#include <linux/crc32.h>
#include <linux/fadvise.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/writeback.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/xattr.h>
#include "layerfs.h"

/*
 * Writeback marks the one granule a folio starts in (lfs_cow_write_folio()),
 * and this mapping has folios of one page: a page must not be bigger than
 * the smallest granule, which a map made on any kernel may use.
 */
static_assert(PAGE_SIZE <= LAYERFS_COW_BLOCK_MIN);

/* Folios read in one go by readahead: 128 KiB of 4 KiB pages. */
#define LFS_READ_BATCH	32

/* Granules copied in one read and write by lfs_cow_fill_range(). */
#define LFS_FILL_CHUNK	SZ_256K

/*
 * A map that must be kept below this many runs to fit the upper
 * filesystem's xattrs is not worth keeping: the file is materialised.
 */
#define LFS_COW_MIN_RUNS	16

/*
 * Bounds the in-memory map, to 256 KiB of runs.  lfs_cow_room() keeps a
 * file's map below max_runs, which is no more than this, by coarsening it
 * when it gets there rather than at its next persist.
 */
#define LFS_COW_MAX_RUNS	32768U

/* The most bytes one run takes in a map: two LEB128 numbers. */
#define LFS_RUN_MAX_BYTES	10

struct lfs_run {
	u32 start;	/* first granule */
	u32 len;	/* granules */
};

struct lfs_cow {
	struct file *upper;		/* O_RDWR, never O_APPEND */
	struct file *lower;		/* O_RDONLY; held until the state is freed */
	unsigned int shift;		/* granule = 1 << shift */
	spinlock_t lock;
	struct lfs_run *runs;		/* sorted, disjoint, not adjacent */
	unsigned int nr, cap;
	unsigned int max_runs;		/* keep nr below: what fits an xattr */
	loff_t lower_valid;
	bool dirty;			/* map changed since persisted */
	bool broken;			/* map unusable: I/O is EIO */
	bool unsynced;			/* upper fsync failed: no map */
	bool no_clone;			/* the origin cannot be cloned */
	bool materialised;		/* no map to write: drop it */
	bool map_gone;			/* and it was dropped */
	struct mutex fill_mutex;	/* copy of a granule + marking it */
	struct mutex persist_mutex;	/* one map write at a time */
	/* Origin identity, written into the map and checked on load. */
	u32 origin_layer;
	u32 origin_gen;
	u64 origin_ino;
	u64 origin_size;
	s64 origin_mtime_sec;
	u32 origin_mtime_nsec;
	char *origin_path;		/* relative to the layer root */
};

static inline struct lfs_cow *lfs_cow(struct inode *inode)
{
	/* Pairs with smp_store_release() in lfs_cow_attach(). */
	return smp_load_acquire(&LFS_I(inode)->cow);
}

bool lfs_is_partial(struct inode *inode)
{
	return lfs_cow(inode);
}

/*
 * Granules are numbered in 32 bits, in memory and in the map: a partial
 * file ends at granule U32_MAX.  An origin longer than that is refused
 * (lfs_cow_prepare()), an upper file longer than that is a damaged map
 * (lfs_cow_load()), and a write, truncate or fallocate that would grow
 * the file past it fails with EFBIG, as it does past s_maxbytes.
 */
static loff_t lfs_cow_max_size(const struct lfs_cow *cow)
{
	return (loff_t)U32_MAX << cow->shift;
}

/* --- the map --------------------------------------------------------------- */

/* Index of the first run ending after granule @g.  Caller holds cow->lock. */
static unsigned int lfs_run_find(struct lfs_cow *cow, u32 g)
{
	unsigned int lo = 0, hi = cow->nr;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;
		struct lfs_run *r = &cow->runs[mid];

		if ((u64)r->start + r->len <= g)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Whether granules [@first, @last] are all present. */
static bool lfs_granules_present(struct lfs_cow *cow, u32 first, u32 last)
{
	unsigned int i;
	bool ret;

	/* Runs that touch are merged: a present range lies in one run. */
	spin_lock(&cow->lock);
	i = lfs_run_find(cow, first);
	ret = i < cow->nr && cow->runs[i].start <= first &&
	      (u64)cow->runs[i].start + cow->runs[i].len > last;
	spin_unlock(&cow->lock);
	return ret;
}

static bool lfs_granule_present(struct lfs_cow *cow, u32 g)
{
	return lfs_granules_present(cow, g, g);
}

/* Mark granules [g, g + n) present.  Caller holds cow->lock. */
static int lfs_map_add(struct lfs_cow *cow, u32 g, u32 n)
{
	unsigned int i = lfs_run_find(cow, g ? g - 1 : 0), j;
	u64 start = g, end = (u64)g + n;

	/* Absorb every run that overlaps or touches [start, end). */
	for (j = i; j < cow->nr && cow->runs[j].start <= end; j++) {
		start = min_t(u64, start, cow->runs[j].start);
		end = max_t(u64, end, (u64)cow->runs[j].start + cow->runs[j].len);
	}
	if (i == j) {
		if (cow->nr == cow->cap)
			return -ENOSPC;
		memmove(&cow->runs[i + 1], &cow->runs[i],
			(cow->nr - i) * sizeof(*cow->runs));
		cow->nr++;
		j = i + 1;
	} else if (j > i + 1) {
		memmove(&cow->runs[i + 1], &cow->runs[j],
			(cow->nr - j) * sizeof(*cow->runs));
		cow->nr -= j - i - 1;
	}
	cow->runs[i].start = start;
	cow->runs[i].len = end - start;
	cow->dirty = true;
	return 0;
}

/* Forget granules at and after @g.  Caller holds cow->lock. */
static void lfs_map_cut(struct lfs_cow *cow, u32 g)
{
	unsigned int i = lfs_run_find(cow, g);

	if (i < cow->nr && cow->runs[i].start < g) {
		cow->runs[i].len = g - cow->runs[i].start;
		i++;
	}
	if (i != cow->nr)
		cow->dirty = true;
	cow->nr = i;
}

static size_t lfs_map_hdr_size(size_t pathlen)
{
	return sizeof(struct layerfs_map) + pathlen;
}

/*
 * Runs a map may hold and still fit in an xattr value of any filesystem,
 * if each takes as little room as a run can (one byte), and the memory
 * a map may take.  What the runs of a real map take is found when it is
 * encoded.
 */
static unsigned int lfs_map_fit_runs(size_t pathlen)
{
	return min_t(size_t, XATTR_SIZE_MAX - lfs_map_hdr_size(pathlen),
		     LFS_COW_MAX_RUNS);
}

/* LEB128, as <linux/layerfs.h> describes it. */
static unsigned int lfs_uleb_size(u64 v)
{
	unsigned int n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static u8 *lfs_uleb_put(u8 *p, u64 v)
{
	while (v >= 0x80) {
		*p++ = (v & 0x7f) | 0x80;
		v >>= 7;
	}
	*p++ = v;
	return p;
}

static int lfs_uleb_get(const u8 **pp, const u8 *end, u64 *v)
{
	const u8 *p = *pp;
	unsigned int shift = 0;
	u64 x = 0;
	u8 b;

	do {
		if (p == end || shift > 28)
			return -EIO;
		b = *p++;
		x |= (u64)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	/* One value, one encoding: no zero byte after the first. */
	if (shift > 7 && !b)
		return -EIO;
	*v = x;
	*pp = p;
	return 0;
}

/* The first number of a run that starts @gap granules after the last. */
static u64 lfs_run_head(u32 gap, u32 len)
{
	return (u64)gap << 1 | (len > 1);
}

/*
 * The map as it is now, for the upper file's xattr.  ERR_PTR(-E2BIG) if
 * it is bigger than any xattr may be; *@sizep is then what it would take.
 * *@nrp is the number of runs either way.
 */
static void *lfs_map_encode(struct lfs_cow *cow, size_t *sizep,
			    unsigned int *nrp)
{
	size_t pathlen = strlen(cow->origin_path);
	size_t hdr = lfs_map_hdr_size(pathlen), size, room;
	struct layerfs_map *m;
	unsigned int nr, i;
	u64 prev_end = 0;
	u8 *p;

again:
	nr = READ_ONCE(cow->nr);
	/* Only the runs that fit in an xattr are written down. */
	room = min_t(size_t, hdr + (size_t)nr * LFS_RUN_MAX_BYTES,
		     XATTR_SIZE_MAX);
	m = kvzalloc(room, GFP_KERNEL);
	if (!m)
		return ERR_PTR(-ENOMEM);
	spin_lock(&cow->lock);
	if (cow->nr > nr) {
		spin_unlock(&cow->lock);
		kvfree(m);
		goto again;
	}
	nr = cow->nr;
	m->magic = cpu_to_le32(LAYERFS_MAP_MAGIC);
	m->version = LAYERFS_MAP_VERSION;
	m->granule_shift = cow->shift;
	m->path_len = cpu_to_le16(pathlen);
	m->nr_runs = cpu_to_le32(nr);
	m->lower_valid = cpu_to_le64(cow->lower_valid);
	m->origin_layer = cpu_to_le32(cow->origin_layer);
	m->origin_generation = cpu_to_le32(cow->origin_gen);
	m->origin_ino = cpu_to_le64(cow->origin_ino);
	m->origin_size = cpu_to_le64(cow->origin_size);
	m->origin_mtime_sec = cpu_to_le64(cow->origin_mtime_sec);
	m->origin_mtime_nsec = cpu_to_le32(cow->origin_mtime_nsec);
	p = (u8 *)m + hdr;
	size = hdr;
	for (i = 0; i < nr; i++) {
		u32 len = cow->runs[i].len;
		u64 head = lfs_run_head(cow->runs[i].start - prev_end - !!i,
					len);
		size_t n = lfs_uleb_size(head) +
			   (len > 1 ? lfs_uleb_size(len - 2) : 0);

		/* Past the room, only count. */
		if (size + n <= room) {
			p = lfs_uleb_put(p, head);
			if (len > 1)
				p = lfs_uleb_put(p, len - 2);
		}
		size += n;
		prev_end = (u64)cow->runs[i].start + cow->runs[i].len;
	}
	if (size <= room)
		cow->dirty = false;
	spin_unlock(&cow->lock);
	*sizep = size;
	*nrp = nr;
	if (size > room) {
		kvfree(m);
		return ERR_PTR(-E2BIG);
	}
	memcpy(m->data, cow->origin_path, pathlen);
	m->crc = cpu_to_le32(crc32_le(~0U, (void *)m, size));
	return m;
}

/* --- internal files -------------------------------------------------------- */

static struct file *lfs_open_internal(const struct path *path, int flags)
{
	return dentry_open(path, flags | O_LARGEFILE | O_NOATIME,
			   current_cred());
}

static void lfs_cow_free(struct lfs_cow *cow)
{
	if (!cow)
		return;
	if (cow->upper)
		fput(cow->upper);
	if (cow->lower)
		fput(cow->lower);
	kvfree(cow->runs);
	kfree(cow->origin_path);
	mutex_destroy(&cow->fill_mutex);
	mutex_destroy(&cow->persist_mutex);
	kfree(cow);
}

void lfs_cow_discard(struct lfs_cow *cow)
{
	lfs_cow_free(cow);
}

static struct lfs_cow *lfs_cow_alloc(void)
{
	struct lfs_cow *cow = kzalloc(sizeof(*cow), GFP_KERNEL);

	if (!cow)
		return NULL;
	spin_lock_init(&cow->lock);
	mutex_init(&cow->fill_mutex);
	mutex_init(&cow->persist_mutex);
	cow->cap = 64;
	cow->runs = kvmalloc_array(cow->cap, sizeof(*cow->runs), GFP_KERNEL);
	if (!cow->runs) {
		lfs_cow_free(cow);
		return NULL;
	}
	return cow;
}

/*
 * Room in the array for one more run, allocated outside cow->lock.  The
 * array stops growing at LFS_COW_MAX_RUNS; lfs_cow_room() keeps the map
 * below that.
 */
static int lfs_cow_reserve(struct lfs_cow *cow)
{
	struct lfs_run *runs;
	unsigned int cap;

	if (READ_ONCE(cow->nr) + 1 < READ_ONCE(cow->cap) ||
	    cow->cap >= LFS_COW_MAX_RUNS)
		return 0;
	cap = min(cow->cap * 2, LFS_COW_MAX_RUNS);
	runs = kvmalloc_array(cap, sizeof(*runs), GFP_NOFS);
	if (!runs)
		return -ENOMEM;
	spin_lock(&cow->lock);
	memcpy(runs, cow->runs, cow->nr * sizeof(*runs));
	swap(runs, cow->runs);
	cow->cap = cap;
	spin_unlock(&cow->lock);
	kvfree(runs);
	return 0;
}

/* Mark granules [g, g + n) present; takes cow->lock itself. */
static int lfs_cow_mark(struct lfs_cow *cow, u32 g, u32 n)
{
	int err = lfs_cow_reserve(cow);

	if (err)
		return err;
	spin_lock(&cow->lock);
	err = lfs_map_add(cow, g, n);
	spin_unlock(&cow->lock);
	return err;
}

static void lfs_cow_attach(struct inode *inode, struct lfs_cow *cow)
{
	/* Pairs with smp_load_acquire() in lfs_cow(). */
	smp_store_release(&LFS_I(inode)->cow, cow);
}

void lfs_cow_release(struct inode *inode)
{
	lfs_cow_free(LFS_I(inode)->cow);
	LFS_I(inode)->cow = NULL;
}

/* --- reading --------------------------------------------------------------- */

/*
 * A run of changed granules no longer than this, with more of the origin
 * to read after it, is read from the origin too and then again from the
 * upper file.  Skipping it instead would cut the origin's reads into
 * pieces, and the page cache's readahead takes a read that skips a page
 * for a random one and reads no further ahead: each piece would be read
 * synchronously, on its own (a read of a file with 1% of its granules
 * scattered in the upper layer went in requests of 396 KiB with no
 * readahead).  128 KiB is the default readahead window.
 */
#define LFS_READ_THROUGH	(128 * 1024)

/*
 * A sequential read(2) of a partial file starts the reads of the changed
 * granules of the next 4 MiB window as it enters a window (see
 * lfs_cow_prefetch()).
 */
#define LFS_PREFETCH_SHIFT	22

/* Bytes at and after this never come from the origin. */
static loff_t lfs_cow_lower_valid(struct lfs_cow *cow)
{
	loff_t lvalid;

	spin_lock(&cow->lock);
	lvalid = cow->lower_valid;
	spin_unlock(&cow->lock);
	return lvalid;
}

/*
 * The end of the run of granules holding @pos, all present or all absent
 * (*@present says which), but no further than @stop.
 */
static loff_t lfs_cow_run_end(struct lfs_cow *cow, loff_t pos, loff_t stop,
			      bool *present)
{
	u32 g = pos >> cow->shift;
	u64 end = U64_MAX;
	unsigned int i;

	spin_lock(&cow->lock);
	i = lfs_run_find(cow, g);
	*present = i < cow->nr && cow->runs[i].start <= g;
	if (*present)
		end = (u64)cow->runs[i].start + cow->runs[i].len;
	else if (i < cow->nr)
		end = cow->runs[i].start;
	spin_unlock(&cow->lock);
	if (end > (u64)stop >> cow->shift)
		return stop;
	return min_t(loff_t, stop, end << cow->shift);
}

/*
 * Where a read of the origin that has to reach @end stops instead: past
 * each short run of changed granules that has more of the origin after
 * it before @stop (see LFS_READ_THROUGH).
 */
static loff_t lfs_cow_read_through(struct lfs_cow *cow, loff_t end,
				   loff_t stop)
{
	bool present;
	loff_t next;

	while (end < stop) {
		next = lfs_cow_run_end(cow, end, stop, &present);
		if (present && (next - end > LFS_READ_THROUGH || next == stop))
			break;
		end = next;
	}
	return end;
}

/*
 * Start reading the changed granules of [pos, stop) from the upper file,
 * all under one plug: the block layer merges the reads of granules that
 * the upper filesystem placed side by side, which scattered changes
 * written back together usually are.  Each would be a request of its own
 * otherwise, read when it is reached.  Nothing to do if one place holds
 * the whole range.
 */
static void lfs_cow_prefetch(struct lfs_cow *cow, loff_t pos, loff_t stop)
{
	struct blk_plug plug;
	bool present;
	loff_t end = lfs_cow_run_end(cow, pos, stop, &present);

	if (end == stop)
		return;
	blk_start_plug(&plug);
	for (;;) {
		if (present)
			vfs_fadvise(cow->upper, pos, end - pos,
				    POSIX_FADV_WILLNEED);
		if (end == stop)
			break;
		pos = end;
		end = lfs_cow_run_end(cow, pos, stop, &present);
	}
	blk_finish_plug(&plug);
}

/*
 * Read [pos, pos + n) of @src into the next @n bytes of @iter, zeros
 * after its end.  On success @iter has advanced by @n bytes; on failure
 * by the bytes read before it.  Only a read of nothing is the end: a
 * short one may be the bytes before an I/O error (filemap_read() returns
 * those and drops the error), which the next read reports.
 */
static int lfs_cow_read_src(struct file *src, struct iov_iter *iter,
			    loff_t pos, size_t n)
{
	size_t total = iov_iter_count(iter);
	ssize_t got = 0, ret;

	if (src) {
		iov_iter_truncate(iter, n);
		do {
			ret = vfs_iter_read(src, iter, &pos, 0);
			if (ret > 0)
				got += ret;
		} while (ret > 0 && got < n);
		iov_iter_reexpand(iter, total - n + iov_iter_count(iter));
		if (ret < 0)
			return ret;
	}
	if (got < n && iov_iter_zero(n - got, iter) != n - got)
		return -EFAULT;
	return 0;
}

/*
 * Read [pos, pos + len) of the merged file into @iter (no page cache).
 * Granules from the same place are read together, so that readahead of a
 * partial file turns into large reads of the upper and lower files.  On
 * failure @iter has advanced past the bytes read correctly before it and
 * no further: lfs_cow_read_direct() returns those.
 */
static int lfs_cow_read_iter(struct lfs_cow *cow, struct iov_iter *iter,
			     loff_t pos, size_t len)
{
	loff_t lvalid = lfs_cow_lower_valid(cow);
	loff_t stop = pos + len;
	/* The origin's bytes are in @iter up to here already. */
	loff_t lower_done = pos;

	while (pos < stop) {
		loff_t end, through;
		struct file *src = NULL;
		size_t left, done;
		bool present;
		int err;

		end = lfs_cow_run_end(cow, pos, stop, &present);
		through = end;
		if (present) {
			src = cow->upper;
		} else if (pos < lower_done) {
			end = min(end, lower_done);
			iov_iter_advance(iter, end - pos);
			pos = end;
			continue;
		} else if (pos < lvalid && cow->lower) {
			src = cow->lower;
			end = min(end, lvalid);
			through = lfs_cow_read_through(cow, end,
						       min(stop, lvalid));
		}
		/* Holes, the end of a file and everything else: zeros. */
		left = iov_iter_count(iter);
		err = lfs_cow_read_src(src, iter, pos, through - pos);
		done = left - iov_iter_count(iter);
		/* Past @end, changed granules still hold the origin's bytes. */
		if (done > end - pos)
			iov_iter_revert(iter, done - (end - pos));
		if (err)
			return err;
		lower_done = max(lower_done, through);
		pos = end;
	}
	return 0;
}

/* The same into a kernel buffer. */
static int lfs_cow_read_range(struct lfs_cow *cow, char *buf, loff_t pos,
			      size_t len)
{
	struct kvec kv = { .iov_base = buf, .iov_len = len };
	struct iov_iter iter;

	iov_iter_kvec(&iter, ITER_DEST, &kv, 1, len);
	return lfs_cow_read_iter(cow, &iter, pos, len);
}

/*
 * Fill @nr locked, contiguous folios from the upper file, the origin or
 * zeros, mark them uptodate unless that failed, and unlock them.
 */
static int lfs_cow_read_folios(struct inode *inode, struct lfs_cow *cow,
			       struct folio **folios, unsigned int nr)
{
	struct bio_vec bv[LFS_READ_BATCH];
	loff_t pos = folio_pos(folios[0]);
	loff_t isize = i_size_read(inode);
	const struct cred *old_cred;
	struct iov_iter iter;
	size_t len = 0, n;
	unsigned int i;
	int err = 0;

	for (i = 0; i < nr; i++) {
		bvec_set_folio(&bv[i], folios[i], folio_size(folios[i]), 0);
		len += folio_size(folios[i]);
	}
	iov_iter_bvec(&iter, ITER_DEST, bv, nr, len);
	n = pos >= isize ? 0 : min_t(loff_t, len, isize - pos);
	if (WARN_ON_ONCE(!cow) || cow->broken) {
		err = -EIO;
	} else if (n) {
		old_cred = lfs_override_creds(inode->i_sb);
		err = lfs_cow_read_iter(cow, &iter, pos, n);
		revert_creds(old_cred);
	}
	if (!err && n < len && iov_iter_zero(len - n, &iter) != len - n)
		err = -EFAULT;
	for (i = 0; i < nr; i++) {
		if (!err)
			folio_mark_uptodate(folios[i]);
		folio_unlock(folios[i]);
	}
	return err;
}

static int lfs_cow_read_folio(struct file *file, struct folio *folio)
{
	return lfs_cow_read_folios(folio->mapping->host,
				   lfs_cow(folio->mapping->host), &folio, 1);
}

/*
 * Readahead in batches of contiguous folios, each one read per run of
 * granules from the same place.  A folio left behind by an error is read
 * again by ->read_folio, which reports it.
 */
static void lfs_cow_readahead(struct readahead_control *rac)
{
	struct inode *inode = rac->mapping->host;
	struct lfs_cow *cow = lfs_cow(inode);
	struct folio *folios[LFS_READ_BATCH];
	const struct cred *old_cred;
	unsigned int nr;

	if (cow && !cow->broken) {
		old_cred = lfs_override_creds(inode->i_sb);
		lfs_cow_prefetch(cow, readahead_pos(rac),
				 readahead_pos(rac) + readahead_length(rac));
		revert_creds(old_cred);
	}
	do {
		for (nr = 0; nr < LFS_READ_BATCH; nr++) {
			folios[nr] = readahead_folio(rac);
			if (!folios[nr])
				break;
		}
		if (nr)
			lfs_cow_read_folios(inode, cow, folios, nr);
	} while (nr == LFS_READ_BATCH);
}

/*
 * read(2) of a range of which the partial file's page cache holds nothing
 * and which no mapping can dirty: straight from the upper file and the
 * origin into the caller's buffer, one copy instead of two (the page
 * cache of a partial file doubles the memory traffic of a cold read).
 * The inode lock, shared, keeps writers, truncate and fallocate out;
 * a folio that appears meanwhile comes from a read or a fault and holds
 * the same bytes.  Anything else goes through the page cache.
 */
ssize_t lfs_cow_read_direct(struct kiocb *iocb, struct iov_iter *iter)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	struct address_space *mapping = inode->i_mapping;
	struct lfs_cow *cow = lfs_cow(inode);
	struct file_ra_state *ra = &iocb->ki_filp->f_ra;
	const struct cred *old_cred;
	size_t count, left;
	loff_t pos = iocb->ki_pos;
	loff_t ahead, win;
	int err;

	/* See lfs_aops.direct_IO. */
	iocb->ki_flags &= ~IOCB_DIRECT;
	if (iocb->ki_flags & IOCB_NOWAIT || mapping_mapped(mapping))
		return generic_file_read_iter(iocb, iter);
	inode_lock_shared(inode);
	if (pos >= i_size_read(inode)) {
		inode_unlock_shared(inode);
		return 0;
	}
	count = min_t(loff_t, iov_iter_count(iter), i_size_read(inode) - pos);
	if (filemap_range_has_page(mapping, pos, pos + count - 1)) {
		inode_unlock_shared(inode);
		return generic_file_read_iter(iocb, iter);
	}
	/*
	 * A sequential reader (as filemap_read() keeps prev_pos) entering a
	 * window starts the reads of the changed granules up to the end of
	 * the next one; the reads of the window it is in started when it
	 * entered that one.
	 */
	ahead = pos + count;
	win = (pos + count - 1) >> LFS_PREFETCH_SHIFT;
	if (pos == 0 || (pos == ra->prev_pos &&
			 (pos - 1) >> LFS_PREFETCH_SHIFT != win))
		ahead = (win + 2) << LFS_PREFETCH_SHIFT;
	/* lfs_cow_read_iter() consumes @count bytes of @iter, no more. */
	left = iov_iter_count(iter);
	old_cred = lfs_override_creds(inode->i_sb);
	lfs_cow_prefetch(cow, pos, min_t(loff_t, ahead, i_size_read(inode)));
	err = lfs_cow_read_iter(cow, iter, pos, count);
	revert_creds(old_cred);
	count = left - iov_iter_count(iter);
	ra->prev_pos = pos + count;
	inode_unlock_shared(inode);
	if (err && !count)
		return err;
	iocb->ki_pos += count;
	file_accessed(iocb->ki_filp);
	return count;
}

/* --- writing --------------------------------------------------------------- */

static int lfs_cow_write_begin(struct file *file,
			       struct address_space *mapping, loff_t pos,
			       unsigned int len, struct folio **foliop,
			       void **fsdata)
{
	struct folio *folio;
	int err;

	folio = __filemap_get_folio(mapping, pos >> PAGE_SHIFT, FGP_WRITEBEGIN,
				    mapping_gfp_mask(mapping));
	if (IS_ERR(folio))
		return PTR_ERR(folio);
	/* A partly written folio must hold the rest of its data first. */
	if (!folio_test_uptodate(folio) && len != folio_size(folio)) {
		err = lfs_cow_read_folio(file, folio);
		folio_lock(folio);
		if (!err && !folio_test_uptodate(folio))
			err = -EIO;
		if (err) {
			folio_unlock(folio);
			folio_put(folio);
			return err;
		}
	}
	*foliop = folio;
	return 0;
}

static int lfs_cow_write_end(struct file *file, struct address_space *mapping,
			     loff_t pos, unsigned int len, unsigned int copied,
			     struct folio *folio, void *fsdata)
{
	struct inode *inode = mapping->host;
	loff_t last = pos + copied;

	if (!folio_test_uptodate(folio)) {
		/* A short copy into a folio that was never read: retry. */
		if (copied < len) {
			copied = 0;
			goto out;
		}
		folio_mark_uptodate(folio);
	}
	if (last > inode->i_size)
		i_size_write(inode, last);
	folio_mark_dirty(folio);
out:
	folio_unlock(folio);
	folio_put(folio);
	return copied;
}

static int lfs_cow_room(struct inode *inode, struct lfs_cow *cow,
			unsigned int n, bool killable);

/*
 * Mark granules [@g, @end) present after a write put every byte of them
 * in the upper file; those that were not present are counted in the
 * mount's cow_granules and cow_bytes, as writeback counts them.  Caller
 * holds fill_mutex and has made room for a run (lfs_cow_room(),
 * lfs_cow_reserve()), so that marking cannot fail after the write.
 */
static void lfs_cow_written(struct inode *inode, struct lfs_cow *cow, u32 g,
			    u32 end)
{
	struct lfs_fs *ofs = LFS_FS(inode->i_sb);
	loff_t isize = i_size_read(inode);
	u32 from = g, to, n = 0;
	u64 bytes = 0;
	unsigned int i;

	lockdep_assert_held(&cow->fill_mutex);
	spin_lock(&cow->lock);
	for (i = lfs_run_find(cow, g); from < end; i++) {
		to = end;
		if (i < cow->nr && cow->runs[i].start < end)
			to = max(from, cow->runs[i].start);
		if (to > from) {
			n += to - from;
			bytes += min_t(loff_t, (loff_t)to << cow->shift, isize) -
				 ((loff_t)from << cow->shift);
		}
		if (to == end)
			break;
		from = cow->runs[i].start + cow->runs[i].len;
	}
	WARN_ON_ONCE(lfs_map_add(cow, g, end - g));
	spin_unlock(&cow->lock);
	atomic64_add(n, &ofs->cow_granules);
	atomic64_add(bytes, &ofs->cow_bytes);
}

/*
 * Whether a write of [@pos, @end) can go to the upper file even where its
 * granules are not present: it must cover each of those whole (to EOF for
 * the last one), since the rest of a granule would have to be copied from
 * the origin first.
 */
static bool lfs_cow_write_covers(struct lfs_cow *cow, loff_t pos, loff_t end,
				 loff_t isize)
{
	loff_t mask = ((loff_t)1 << cow->shift) - 1;

	if ((pos & mask) && !lfs_granule_present(cow, pos >> cow->shift))
		return false;
	return !(end & mask) || end >= isize ||
	       lfs_granule_present(cow, end >> cow->shift);
}

/*
 * A write(2) that covers whole granules, or lands in granules that are in
 * the upper file already, goes straight into the upper file: one copy
 * instead of two (into this page cache, then at writeback into the upper
 * one), and nothing is left for writeback.  fsync makes the upper file
 * durable, then writes the map, as for granules that writeback stored.
 *
 * Clean folios of the range are dropped first, as around a direct write;
 * a range with a dirty folio goes through the page cache.
 *
 * i_rwsem, held, keeps other writers, truncate, fallocate and direct
 * readers out; invalidate_lock keeps faults and readahead from creating a
 * folio of the range meanwhile, which would then hold the old bytes.  A
 * fault on the caller's buffer could need that lock (a mapping of this
 * very file), so the copy runs with page faults disabled, as btrfs's
 * direct writes do, after faulting the buffer in; the caller asks again
 * for what it could not copy, and sends it through the page cache if
 * nothing more could be.  Granules only become absent by a
 * truncate, which i_rwsem keeps out.  Where granules are not present yet,
 * fill_mutex is held from before the write until they are marked: a
 * coarsening of the map meanwhile (lfs_cow_room()) would copy the
 * origin's bytes over the new ones, since it fills whatever is absent.
 *
 * Returns the bytes written, 0 for "use the page cache", or an errno.
 * Caller holds i_rwsem and has done generic_write_checks().
 */
static ssize_t lfs_cow_write_through(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	struct address_space *mapping = inode->i_mapping;
	struct lfs_cow *cow = lfs_cow(inode);
	size_t count = iov_iter_count(from);
	loff_t pos = iocb->ki_pos, last = pos + count - 1;
	loff_t isize = i_size_read(inode), mask = ((loff_t)1 << cow->shift) - 1;
	const struct cred *old_cred;
	bool fill = false;
	ssize_t ret, back;
	u32 g, end;

	if (iocb->ki_flags & IOCB_NOWAIT || last >= isize)
		return 0;
	if (!lfs_granules_present(cow, pos >> cow->shift, last >> cow->shift)) {
		if (!lfs_cow_write_covers(cow, pos, last + 1, isize))
			return 0;
		fill = true;
	}
	if (fault_in_iov_iter_readable(from, count) == count)
		return 0;
	/*
	 * As __generic_file_write_iter() does for the page cache, with the
	 * caller's credentials (the upper write runs with the mounter's,
	 * which may keep the bits).  The times are the upper file's: its
	 * write updates them (layerfs inodes are S_NOCMTIME).
	 */
	ret = file_remove_privs(file);
	if (ret)
		return ret;
	filemap_invalidate_lock(mapping);
	/* Clean folios are dropped; a dirty one is written where it is. */
	if (filemap_range_has_page(mapping, pos, last) &&
	    (filemap_range_needs_writeback(mapping, pos, last) ||
	     invalidate_inode_pages2_range(mapping, pos >> PAGE_SHIFT,
					   last >> PAGE_SHIFT))) {
		filemap_invalidate_unlock(mapping);
		return 0;
	}
	old_cred = lfs_override_creds(inode->i_sb);
	if (fill) {
		mutex_lock(&cow->fill_mutex);
		ret = lfs_cow_room(inode, cow, 1, true);
		if (!ret)
			ret = lfs_cow_reserve(cow);
		if (ret)
			goto out;
	}
	pagefault_disable();
	ret = vfs_iter_write(cow->upper, from, &pos, 0);
	pagefault_enable();
	if (fill && ret > 0) {
		g = iocb->ki_pos >> cow->shift;
		end = pos >> cow->shift;
		if (pos == isize) {
			end = ((isize - 1) >> cow->shift) + 1;
		} else if (pos & mask && !lfs_granule_present(cow, end)) {
			/*
			 * A short write that ended inside a granule not
			 * present: the page cache writes that granule again
			 * from its start, reading the rest from the origin.
			 */
			back = min_t(loff_t, ret, pos - ((loff_t)end << cow->shift));
			iov_iter_revert(from, back);
			pos -= back;
			ret -= back;
		}
		if (end > g) {
			lfs_cow_written(inode, cow, g, end);
			mark_inode_dirty_sync(inode);
		}
	}
out:
	if (fill)
		mutex_unlock(&cow->fill_mutex);
	revert_creds(old_cred);
	filemap_invalidate_unlock(mapping);
	if (ret == -EFAULT)
		return 0;
	if (ret > 0)
		iocb->ki_pos = pos;
	return ret;
}

/*
 * Where the folio at @pos would come from if it were read now: the upper
 * file, the origin, or nowhere (zeros, or a folio already cached).
 */
static struct file *lfs_cow_edge_src(struct inode *inode, struct lfs_cow *cow,
				     loff_t pos, loff_t lvalid)
{
	if (filemap_range_has_page(inode->i_mapping, pos, pos + PAGE_SIZE - 1))
		return NULL;
	if (lfs_granule_present(cow, pos >> cow->shift))
		return cow->upper;
	return pos < lvalid ? cow->lower : NULL;
}

/*
 * A write through the page cache that starts and ends inside folios not
 * cached reads both first (lfs_cow_write_begin()), one after the other,
 * each waiting for its own read: a 4 KiB write across two granules not yet
 * in the upper file was two cold reads of the origin in a row.  Start
 * both reads together, under one plug, so that they overlap and the block
 * layer merges them where they are neighbours.  Only the head and tail
 * folios are read: the folios between are written whole.
 */
static void lfs_cow_write_prefetch(struct inode *inode, struct lfs_cow *cow,
				   loff_t pos, size_t count)
{
	loff_t head = round_down(pos, PAGE_SIZE);
	loff_t tail = round_down(pos + count - 1, PAGE_SIZE);
	loff_t isize = i_size_read(inode);
	loff_t lvalid = min(lfs_cow_lower_valid(cow), isize);
	const struct cred *old_cred;
	struct file *hsrc, *tsrc;
	struct blk_plug plug;

	if (cow->broken || tail == head || PAGE_ALIGNED(pos) ||
	    PAGE_ALIGNED(pos + count) || tail >= isize)
		return;
	hsrc = lfs_cow_edge_src(inode, cow, head, lvalid);
	tsrc = lfs_cow_edge_src(inode, cow, tail, lvalid);
	if (!hsrc || !tsrc)
		return;
	old_cred = lfs_override_creds(inode->i_sb);
	blk_start_plug(&plug);
	if (hsrc == tsrc && tail == head + PAGE_SIZE) {
		vfs_fadvise(hsrc, head, 2 * PAGE_SIZE, POSIX_FADV_WILLNEED);
	} else {
		vfs_fadvise(hsrc, head, PAGE_SIZE, POSIX_FADV_WILLNEED);
		vfs_fadvise(tsrc, tail, PAGE_SIZE, POSIX_FADV_WILLNEED);
	}
	blk_finish_plug(&plug);
	revert_creds(old_cred);
}

/* generic_write_checks(), and the end of what a map can number. */
static ssize_t lfs_cow_write_checks(struct kiocb *iocb, struct iov_iter *from)
{
	loff_t max = lfs_cow_max_size(lfs_cow(file_inode(iocb->ki_filp)));
	ssize_t ret = generic_write_checks(iocb, from);

	if (ret <= 0)
		return ret;
	if (iocb->ki_pos >= max)
		return -EFBIG;
	iov_iter_truncate(from, max - iocb->ki_pos);
	return iov_iter_count(from);
}

/*
 * A write into the page cache reaches the upper file only at writeback, up
 * to a dirty_expire later: the upper file's times (which stat reports;
 * S_NOCMTIME keeps the VFS off the layerfs inode's) change now, as a
 * write's must.  Caller holds i_rwsem.
 */
static int lfs_cow_update_time(struct inode *inode, struct lfs_cow *cow)
{
	const struct cred *old_cred;
	int err;

	old_cred = lfs_override_creds(inode->i_sb);
	file_start_write(cow->upper);
	err = file_update_time(cow->upper);
	file_end_write(cow->upper);
	revert_creds(old_cred);
	if (!err)
		lfs_copyattr(inode);
	return err;
}

ssize_t lfs_cow_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	ssize_t ret, done = 0;

	/* See lfs_aops.direct_IO. */
	iocb->ki_flags &= ~IOCB_DIRECT;
	inode_lock(inode);
	ret = lfs_cow_write_checks(iocb, from);
	/*
	 * A write through that comes back short is asked for the rest: the
	 * buffer may have faulted (it is faulted in again), or the upper
	 * filesystem failed after some bytes.  Its error (ENOSPC, EDQUOT,
	 * EIO) ends the write with the bytes written, as the upper
	 * filesystem's own write does, where sending the rest to the page
	 * cache would report it only at writeback.
	 */
	while (ret > 0 && iov_iter_count(from)) {
		ret = lfs_cow_write_through(iocb, from);
		if (ret > 0)
			done += ret;
	}
	if (!ret && iov_iter_count(from)) {
		if (!(iocb->ki_flags & IOCB_NOWAIT))
			lfs_cow_write_prefetch(inode, lfs_cow(inode),
					       iocb->ki_pos,
					       iov_iter_count(from));
		ret = lfs_cow_update_time(inode, lfs_cow(inode));
		if (!ret)
			ret = __generic_file_write_iter(iocb, from);
		if (ret > 0)
			done += ret;
	}
	if (done)
		ret = done;
	inode_unlock(inode);
	if (ret > 0)
		ret = generic_write_sync(iocb, ret);
	return ret;
}

/*
 * Write all of @buf at @pos of the upper file; a short write is retried so
 * that the filesystem's own errno (ENOSPC, EDQUOT, EIO) comes back.
 */
static int lfs_upper_write(struct file *upper, const char *buf, size_t len,
			   loff_t pos)
{
	while (len) {
		ssize_t done = kernel_write(upper, buf, len, &pos);

		if (done < 0)
			return done;
		if (!done)
			return -EIO;
		buf += done;
		len -= done;
	}
	return 0;
}

/*
 * Where the origin and the upper file share a filesystem that can share
 * blocks (xfs and btrfs with reflink), a granule's blocks can be cloned
 * instead of read and written.  Only for granules nobody is writing: a
 * write into shared blocks is copy-on-write in the filesystem again (xfs
 * measured random 4 KiB writes into cloned 64 KiB granules at a fifth of
 * the speed of written ones), so writeback fills by copying.  A
 * filesystem that cannot clone is not asked again for this file.
 */
static bool lfs_cow_clone(struct lfs_cow *cow, loff_t pos, size_t len)
{
	loff_t done;

	if (!cow->lower || READ_ONCE(cow->no_clone))
		return false;
	/* Bytes at and after lower_valid must read zeros, not origin data. */
	if (pos + (loff_t)len > lfs_cow_lower_valid(cow))
		return false;
	done = vfs_clone_file_range(cow->lower, pos, cow->upper, pos, len, 0);
	if (done == len)
		return true;
	if (done == -EXDEV || done == -EOPNOTSUPP)
		WRITE_ONCE(cow->no_clone, true);
	return false;
}

/* Granules [@g, @g + @n) (@len bytes before EOF) are in the upper file now. */
static int lfs_cow_filled(struct inode *inode, struct lfs_cow *cow, u32 g,
			  u32 n, size_t len)
{
	atomic64_add(n, &LFS_FS(inode->i_sb)->cow_granules);
	atomic64_add(len, &LFS_FS(inode->i_sb)->cow_bytes);
	return lfs_cow_mark(cow, g, n);
}

/*
 * Make the @n missing granules from @g present in the upper file: copy
 * them from the origin (bytes at and after lower_valid are zeros).
 * Caller holds fill_mutex.
 */
static int lfs_cow_fill_n(struct inode *inode, struct lfs_cow *cow, u32 g,
			  u32 n, bool share)
{
	loff_t pos = (loff_t)g << cow->shift;
	loff_t isize = i_size_read(inode);
	size_t len;
	char *buf;
	int err;

	if (pos >= isize)
		return lfs_cow_mark(cow, g, n);
	len = min_t(loff_t, (loff_t)n << cow->shift, isize - pos);
	if (!share || !lfs_cow_clone(cow, pos, len)) {
		buf = kvmalloc(len, GFP_NOFS);
		if (!buf)
			return -ENOMEM;
		err = lfs_cow_read_range(cow, buf, pos, len);
		if (!err)
			err = lfs_upper_write(cow->upper, buf, len, pos);
		kvfree(buf);
		if (err)
			return err;
	}
	return lfs_cow_filled(inode, cow, g, n, len);
}

static int lfs_cow_fill(struct inode *inode, struct lfs_cow *cow, u32 g,
			bool share)
{
	return lfs_cow_fill_n(inode, cow, g, 1, share);
}

/*
 * How many missing granules from @g on (all of them before granule @ng)
 * read as zeros from the origin: holes of the lower file, or past
 * lower_valid.  0 where the origin has data, or cannot tell (a lower
 * filesystem without SEEK_DATA reports all of a file as data).
 */
static u32 lfs_cow_zero_granules(struct lfs_cow *cow, u32 g, u32 ng)
{
	loff_t pos = (loff_t)g << cow->shift;
	loff_t lvalid = lfs_cow_lower_valid(cow);
	loff_t zend = LLONG_MAX;
	unsigned int i;
	u32 end = ng;

	spin_lock(&cow->lock);
	i = lfs_run_find(cow, g);
	if (i < cow->nr)
		end = min(end, cow->runs[i].start);
	spin_unlock(&cow->lock);

	if (pos < lvalid && cow->lower) {
		loff_t data = vfs_llseek(cow->lower, pos, SEEK_DATA);

		if (data >= 0 && data < lvalid)
			zend = data;
		else if (data < 0 && data != -ENXIO)
			return 0;
	}
	if (zend >> cow->shift < end)
		end = zend >> cow->shift;
	return end > g ? end - g : 0;
}

/*
 * Of the @n missing granules from @g, which holds origin data, how many
 * to copy together: no more than LFS_FILL_CHUNK, and none after the one
 * holding the origin's next hole or lower_valid, so that the zeros after
 * them can become a hole.
 */
static u32 lfs_cow_data_granules(struct lfs_cow *cow, u32 g, u32 n)
{
	loff_t gsize = (loff_t)1 << cow->shift;
	loff_t pos = (loff_t)g << cow->shift;
	loff_t end = lfs_cow_lower_valid(cow);
	loff_t hole;

	n = min_t(u32, n, max(LFS_FILL_CHUNK >> cow->shift, 1));
	/* From the end of granule @g: its first bytes may be a hole. */
	if (cow->lower && pos + gsize < end) {
		hole = vfs_llseek(cow->lower, pos + gsize - 1, SEEK_HOLE);
		if (hole >= pos + gsize - 1 && hole < end)
			end = hole;
	}
	if (pos >= end)
		return 1;
	return min_t(u64, n, (end - pos + gsize - 1) >> cow->shift);
}

/*
 * Make every granule in [@g, @end) present, stopping at EOF.  Where the
 * origin reads zeros the upper file gets a hole, not written zeros, so
 * that a sparse file stays sparse.  Caller holds fill_mutex.
 */
static int lfs_cow_fill_range(struct inode *inode, struct lfs_cow *cow,
			      u32 g, u32 end, bool share, bool killable)
{
	bool punch = true, present;
	unsigned int i;
	loff_t pos, isize;
	u32 n, next;
	int err = 0;

	lockdep_assert_held(&cow->fill_mutex);
	while (!err) {
		/* A truncate may shorten the file meanwhile. */
		isize = i_size_read(inode);
		end = min_t(u64, end, (isize + ((loff_t)1 << cow->shift) - 1) >>
				      cow->shift);
		if (g >= end)
			break;
		if (killable && fatal_signal_pending(current))
			return -EINTR;
		spin_lock(&cow->lock);
		i = lfs_run_find(cow, g);
		present = i < cow->nr && cow->runs[i].start <= g;
		next = i == cow->nr ? end : cow->runs[i].start;
		if (present)
			next += cow->runs[i].len;
		spin_unlock(&cow->lock);
		if (present) {
			g = next;
			continue;
		}
		n = min(next, end) - g;
		pos = (loff_t)g << cow->shift;
		if (punch) {
			u32 z = lfs_cow_zero_granules(cow, g, g + n);

			if (z) {
				/* Whatever a crash left in the upper file goes. */
				err = vfs_fallocate(cow->upper,
						    FALLOC_FL_PUNCH_HOLE |
						    FALLOC_FL_KEEP_SIZE, pos,
						    min_t(loff_t,
							  (loff_t)z << cow->shift,
							  isize - pos));
				if (err == -EOPNOTSUPP) {
					punch = false;
					err = 0;
					continue;
				}
				if (!err)
					err = lfs_cow_mark(cow, g, z);
				g += z;
				continue;
			}
			n = lfs_cow_data_granules(cow, g, n);
		} else {
			n = min_t(u32, n, max(LFS_FILL_CHUNK >> cow->shift, 1));
		}
		err = lfs_cow_fill_n(inode, cow, g, n, share);
		g += n;
	}
	return err;
}

/*
 * Copy every missing granule: the file no longer needs its origin, and
 * from now on its map is dropped, not written.  Caller holds fill_mutex.
 */
static int __lfs_cow_materialise(struct inode *inode, struct lfs_cow *cow,
				 bool killable)
{
	WRITE_ONCE(cow->materialised, true);
	return lfs_cow_fill_range(inode, cow, 0, U32_MAX, true, killable);
}

static int lfs_u32_cmp(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Bring the map down to @target runs (at least 1) by copying the
 * granules of its shortest gaps, each of which joins two runs: writes
 * scattered at random leave gaps of very unequal length, and filling the
 * shortest eighth of them copies under 1% of what lies between the runs.
 * Gaps are cloned where the filesystems can: a later write into a cloned
 * block is copy-on-write in the upper filesystem again (as after
 * overlayfs's reflink copy-up), but copying them cost more: on xfs the
 * database-like benchmark copied 162 MiB in its 10 s and completed 0.85
 * of overlayfs's writes.  Caller holds fill_mutex.
 */
static int lfs_cow_coarsen(struct inode *inode, struct lfs_cow *cow,
			   unsigned int target, bool killable)
{
	unsigned int nr = READ_ONCE(cow->nr), k, below, i;
	struct lfs_run *runs;
	u32 *gaps, cut;
	int err = 0;

	lockdep_assert_held(&cow->fill_mutex);
	if (nr <= target)
		return 0;
	/*
	 * A snapshot: under fill_mutex runs can only be cut by a truncate
	 * meanwhile, and lfs_cow_fill_range() skips what is present and
	 * stops at EOF.
	 */
	runs = kvmalloc_array(nr, sizeof(*runs), GFP_NOFS);
	gaps = kvmalloc_array(nr, sizeof(*gaps), GFP_NOFS);
	if (!runs || !gaps) {
		err = -ENOMEM;
		goto out;
	}
	spin_lock(&cow->lock);
	nr = min(nr, cow->nr);
	memcpy(runs, cow->runs, nr * sizeof(*runs));
	spin_unlock(&cow->lock);
	if (nr <= target)
		goto out;
	for (i = 0; i + 1 < nr; i++)
		gaps[i] = runs[i + 1].start - runs[i].start - runs[i].len;
	sort(gaps, nr - 1, sizeof(*gaps), lfs_u32_cmp, NULL);
	/* Fill every gap shorter than @cut and enough of those as long. */
	k = nr - max(target, 1U);
	cut = gaps[k - 1];
	for (below = 0; below < k && gaps[below] < cut; below++)
		;
	k -= below;
	for (i = 0; !err && i + 1 < nr; i++) {
		u32 from = runs[i].start + runs[i].len, to = runs[i + 1].start;

		if (to - from > cut)
			continue;
		if (to - from == cut) {
			if (!k)
				continue;
			k--;
		}
		err = lfs_cow_fill_range(inode, cow, from, to, true, killable);
	}
out:
	kvfree(gaps);
	kvfree(runs);
	return err;
}

static int lfs_cow_materialise(struct inode *inode, struct lfs_cow *cow)
{
	int err;

	mutex_lock(&cow->fill_mutex);
	err = __lfs_cow_materialise(inode, cow, true);
	mutex_unlock(&cow->fill_mutex);
	return err;
}

/*
 * Before marking granules that may add up to @n runs to the map.  A map
 * that reaches max_runs might not be persisted: coarsen it now, to an
 * eighth below the bound so that this is not done again at the next run,
 * instead of failing the write.  Writeback must not fail for a signal: it
 * would lose the folio.  Caller holds fill_mutex.
 */
static int lfs_cow_room(struct inode *inode, struct lfs_cow *cow,
			unsigned int n, bool killable)
{
	unsigned int max = READ_ONCE(cow->max_runs);

	lockdep_assert_held(&cow->fill_mutex);
	if (READ_ONCE(cow->nr) + n < max)
		return 0;
	if (max < LFS_COW_MIN_RUNS)
		return __lfs_cow_materialise(inode, cow, killable);
	return lfs_cow_coarsen(inode, cow, max - max / 8 - n, killable);
}

static int lfs_cow_write_folio(struct inode *inode, struct lfs_cow *cow,
			       struct folio *folio)
{
	loff_t pos = folio_pos(folio);
	loff_t isize = i_size_read(inode);
	u32 g = pos >> cow->shift;
	bool locked = false, whole = false;
	size_t len;
	char *kaddr;
	int err = 0;

	if (pos >= isize)
		return 0;	/* truncated meanwhile */
	len = min_t(loff_t, folio_size(folio), isize - pos);
	if (!lfs_granule_present(cow, g)) {
		mutex_lock(&cow->fill_mutex);
		locked = true;
		err = lfs_cow_room(inode, cow, 1, false);
		/*
		 * A folio as big as the granule holds all of it (the folio
		 * is uptodate): write it and mark the granule, without
		 * copying the origin's bytes first.
		 */
		if (!err && !lfs_granule_present(cow, g)) {
			if (folio_size(folio) >> cow->shift)
				whole = true;
			else
				err = lfs_cow_fill(inode, cow, g, false);
		}
	}
	if (!err) {
		kaddr = kmap_local_folio(folio, 0);
		err = lfs_upper_write(cow->upper, kaddr, len, pos);
		kunmap_local(kaddr);
	}
	if (!err && whole)
		err = lfs_cow_filled(inode, cow, g, 1, len);
	if (locked)
		mutex_unlock(&cow->fill_mutex);
	return err;
}

static int lfs_cow_writepages(struct address_space *mapping,
			      struct writeback_control *wbc)
{
	struct inode *inode = mapping->host;
	struct lfs_cow *cow = lfs_cow(inode);
	struct folio *folio = NULL;
	const struct cred *old_cred;
	unsigned int nofs;
	int err = 0;

	if (WARN_ON_ONCE(!cow))
		return -EIO;
	nofs = memalloc_nofs_save();
	old_cred = lfs_override_creds(inode->i_sb);
	while ((folio = writeback_iter(mapping, wbc, folio, &err))) {
		folio_start_writeback(folio);
		folio_unlock(folio);
		err = cow->broken ? -EIO : lfs_cow_write_folio(inode, cow, folio);
		if (err)
			mapping_set_error(mapping, err);
		folio_end_writeback(folio);
	}
	revert_creds(old_cred);
	memalloc_nofs_restore(nofs);
	if (READ_ONCE(cow->dirty))
		mark_inode_dirty_sync(inode);
	return err;
}

const struct address_space_operations lfs_aops = {
	.read_folio	= lfs_cow_read_folio,
	.readahead	= lfs_cow_readahead,
	.write_begin	= lfs_cow_write_begin,
	.write_end	= lfs_cow_write_end,
	.writepages	= lfs_cow_writepages,
	.dirty_folio	= filemap_dirty_folio,
	/*
	 * O_DIRECT of a partial file is served by this page cache: its
	 * bytes are in two files, and where a granule is decides which one
	 * a read or write goes to.  This lets such files be opened with
	 * O_DIRECT; lfs_cow_read_direct() and lfs_cow_write_iter() clear
	 * IOCB_DIRECT, as ext4 does where it falls back to buffered I/O,
	 * so that the generic code never calls it (it returns EINVAL).
	 */
	.direct_IO	= noop_direct_IO,
};

/* --- persisting the map ---------------------------------------------------- */

/*
 * Whether every granule of the file is in the upper file.  Such a file no
 * longer needs its origin or its map: it is an upper file from its next
 * lookup on, and its I/O passes through to the upper file and its page
 * cache.  Absent granules at or past lower_valid read zeros, but count as
 * missing here: the upper file may hold what a crash left in them.
 */
static bool lfs_cow_whole(struct inode *inode, struct lfs_cow *cow)
{
	loff_t isize = i_size_read(inode);

	return !isize || lfs_granules_present(cow, 0, (isize - 1) >> cow->shift);
}

/*
 * Write @map (@size bytes) as @upper's map, or remove the map (NULL), with
 * write access to the upper mount: a frozen upper filesystem must not take
 * the change (ext4 would journal it anyway), a read-only one refuses it.
 * Never called with fill_mutex held (see the lock order above).
 */
static int lfs_cow_set_map(struct lfs_fs *ofs, struct dentry *upper,
			   const void *map, size_t size)
{
	struct mnt_idmap *idmap = mnt_idmap(ofs->upper_mnt);
	int err;

	err = mnt_want_write(ofs->upper_mnt);
	if (err)
		return err;
	if (map)
		err = vfs_setxattr(idmap, upper, LAYERFS_XATTR_MAP, map, size,
				   0);
	else
		err = vfs_removexattr(idmap, upper, LAYERFS_XATTR_MAP);
	mnt_drop_write(ofs->upper_mnt);
	return err;
}

/*
 * fsync of the upper file, before a map goes (@datasync) or for fsync of
 * the partial file; a failure is remembered.  The upper file reports its
 * writeback error to this one internal struct file, once: without the
 * mark, only the first layerfs descriptor to fsync would learn of it.
 * Caller holds persist_mutex, so that no map is encoded between the
 * failure and the mark.
 */
static int lfs_cow_sync_upper(struct lfs_cow *cow, int datasync)
{
	int err = vfs_fsync(cow->upper, datasync);

	if (err) {
		cow->unsynced = true;
		pr_warn_ratelimited("layerfs: %pd: upper file not synced (%d): its map is not written again until the next mount\n",
				    file_dentry(cow->upper), err);
	}
	return err;
}

/*
 * Write the map after making the data it points at durable, or drop it
 * once the file is whole.  Caller has mounter credentials; no folio of
 * the inode is locked.
 */
static int lfs_cow_persist(struct inode *inode, struct lfs_cow *cow)
{
	struct dentry *upper = lfs_upper(inode);
	struct lfs_fs *ofs = LFS_FS(inode->i_sb);
	size_t size, hdr;
	unsigned int nr;
	void *map;
	int err = 0;

	mutex_lock(&cow->persist_mutex);
	/*
	 * Once fsync of the upper file failed, granules marked present may
	 * not be on its disk, and it reports that error only once: no map
	 * that could list them is written while this inode lives.  The map
	 * written last still holds, and the next mount reads it.
	 */
	if (cow->broken || cow->unsynced) {
		err = -EIO;
		goto out;
	}
	if (!READ_ONCE(cow->dirty))
		goto out;
	if (!READ_ONCE(cow->materialised) && lfs_cow_whole(inode, cow))
		WRITE_ONCE(cow->materialised, true);
	/* A file materialised has no use for a map: none is encoded. */
	while (!READ_ONCE(cow->materialised)) {
		/*
		 * Data before the map bits that point at it.  The map is
		 * taken first: every granule it lists was written to the
		 * upper file before the fsync below, while one that
		 * writeback copies meanwhile is left for the next persist
		 * instead of being recorded undurable.
		 */
		map = lfs_map_encode(cow, &size, &nr);
		if (IS_ERR(map)) {
			err = PTR_ERR(map);
			if (err != -E2BIG)
				goto out;
		} else {
			err = lfs_cow_sync_upper(cow, 1);
			if (!err)
				err = lfs_cow_set_map(ofs, upper, map, size);
			kvfree(map);
			if (cow->unsynced)
				goto failed;
		}
		if (err != -ENOSPC && err != -E2BIG && err != -ERANGE)
			break;
		/*
		 * Too big for this filesystem's xattrs: from now on keep
		 * the map below what did not fit, and try again with an
		 * eighth fewer runs.  Smaller steps would mean more rounds
		 * of fsync; bigger ones copy far more (for gaps of random
		 * length, halving the runs copies about 15% of what lies
		 * between them, an eighth fewer under 1%).  max_runs
		 * falls with every round, and below LFS_COW_MIN_RUNS the
		 * file is materialised and the next round drops the map.
		 * A map bigger than any xattr may be (lfs_map_encode()
		 * would not write it: vfs_setxattr() leaves that limit to
		 * the syscall, and xfs stores a bigger value and then shuts
		 * down on writing it) says how much smaller it must be.
		 */
		if (size > XATTR_SIZE_MAX) {
			hdr = lfs_map_hdr_size(strlen(cow->origin_path));
			nr = div_u64((u64)nr * (XATTR_SIZE_MAX - hdr),
				     size - hdr);
		}
		nr = min(READ_ONCE(cow->max_runs), nr);
		WRITE_ONCE(cow->max_runs, nr ? nr - 1 : 0);
		mutex_lock(&cow->fill_mutex);
		err = lfs_cow_room(inode, cow, 0, true);
		mutex_unlock(&cow->fill_mutex);
		if (err)
			goto failed;
	}
	/*
	 * Every granule's data durable before the map that still sends
	 * some of them to the origin goes.  Once it has gone the upper
	 * file is all there is, as for any upper file: what is written to
	 * it later needs no order, and fsync makes it durable.  As
	 * lfs_map_encode() does, dirty is cleared before the copy: what is
	 * marked after it is left for the next persist.
	 */
	if (!err && READ_ONCE(cow->materialised)) {
		spin_lock(&cow->lock);
		cow->dirty = false;
		spin_unlock(&cow->lock);
		err = lfs_cow_materialise(inode, cow);
		if (!err && !cow->map_gone) {
			err = lfs_cow_sync_upper(cow, 1);
			if (!err)
				err = lfs_cow_set_map(ofs, upper, NULL, 0);
			if (err == -ENODATA)
				err = 0;
			cow->map_gone = !err;
		}
	}
failed:
	if (err)
		WRITE_ONCE(cow->dirty, true);
out:
	mutex_unlock(&cow->persist_mutex);
	return err;
}

int lfs_cow_fsync(struct file *file, loff_t start, loff_t end, int datasync)
{
	struct inode *inode = file_inode(file);
	struct lfs_cow *cow = lfs_cow(inode);
	const struct cred *old_cred;
	int err;

	err = file_write_and_wait_range(file, start, end);
	if (err)
		return err;
	old_cred = lfs_override_creds(inode->i_sb);
	err = lfs_cow_persist(inode, cow);
	/*
	 * Not datasync even for fdatasync: the map xattr just written is
	 * what makes the data readable, and fdatasync of the upper file need
	 * not make an xattr durable (ext4 commits only up to the inode's
	 * i_datasync_tid, which an xattr change does not move).
	 */
	if (!err) {
		mutex_lock(&cow->persist_mutex);
		err = lfs_cow_sync_upper(cow, 0);
		mutex_unlock(&cow->persist_mutex);
	}
	revert_creds(old_cred);
	return err;
}

int lfs_cow_write_inode(struct inode *inode, struct writeback_control *wbc)
{
	struct lfs_cow *cow = lfs_cow(inode);
	const struct cred *old_cred;
	int err;

	if (!cow)
		return 0;
	old_cred = lfs_override_creds(inode->i_sb);
	err = lfs_cow_persist(inode, cow);
	revert_creds(old_cred);
	return err;
}

/* --- size changes and fallocate ---------------------------------------- */

/* Can the file be made @size long?  Called with i_rwsem held. */
int lfs_cow_may_setsize(struct inode *inode, loff_t size)
{
	struct lfs_cow *cow = lfs_cow(inode);

	return cow && size > lfs_cow_max_size(cow) ? -EFBIG : 0;
}

/*
 * Called with i_rwsem held, once the upper file has @size (a failure to
 * resize it leaves this inode, its page cache and its map as they were),
 * and without write access to the upper mount: writeback, which this waits
 * for, takes fill_mutex and then that mount's freeze protection, so
 * holding the latter here could deadlock with a freeze.  Returns an error
 * only if the upper file could not be cut again.
 */
int lfs_cow_setsize(struct inode *inode, loff_t size)
{
	struct lfs_cow *cow = lfs_cow(inode);
	struct iattr ia = { .ia_valid = ATTR_SIZE, .ia_size = size };
	const struct cred *old_cred;
	struct dentry *upper;
	int err = 0;
	u32 g;

	if (!cow)
		return 0;
	truncate_setsize(inode, size);
	g = (size + ((loff_t)1 << cow->shift) - 1) >> cow->shift;
	/*
	 * A fill that began before the new size was set (writeback of a
	 * folio below it, a coarsening of the map) copies its granules of
	 * the origin up to the old size; once it is done (fill_mutex), every
	 * later one sees the new size.  Then cut the map, and the upper
	 * file once more if such a fill grew it.
	 */
	mutex_lock(&cow->fill_mutex);
	spin_lock(&cow->lock);
	if (size < cow->lower_valid) {
		cow->lower_valid = size;
		cow->dirty = true;
	}
	lfs_map_cut(cow, g);
	spin_unlock(&cow->lock);
	mutex_unlock(&cow->fill_mutex);
	mark_inode_dirty_sync(inode);

	upper = file_dentry(cow->upper);
	if (i_size_read(d_inode(upper)) <= size)
		return 0;
	err = mnt_want_write_file(cow->upper);
	if (err)
		return err;
	old_cred = lfs_override_creds(inode->i_sb);
	inode_lock(d_inode(upper));
	err = notify_change(file_mnt_idmap(cow->upper), upper, &ia, NULL);
	inode_unlock(d_inode(upper));
	revert_creds(old_cred);
	mnt_drop_write_file(cow->upper);
	return err;
}

long lfs_cow_fallocate(struct file *file, int mode, loff_t offset, loff_t len)
{
	struct inode *inode = file_inode(file);
	struct lfs_cow *cow = lfs_cow(inode);
	loff_t end = offset + len;
	u32 g, first, last;
	const struct cred *old_cred;
	long err;

	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
		     FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	/* Kept in size, the granules past the end stay untouched. */
	if (!(mode & FALLOC_FL_KEEP_SIZE) && end > lfs_cow_max_size(cow))
		return -EFBIG;

	inode_lock(inode);
	/* Not file_write_and_wait_range(): fsync must still see an error. */
	err = filemap_write_and_wait_range(inode->i_mapping, offset, end - 1);
	if (err)
		goto out_unlock;
	old_cred = lfs_override_creds(inode->i_sb);
	if (!(mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))) {
		err = vfs_fallocate(cow->upper, mode, offset, len);
		goto out_creds;
	}
	/*
	 * The granules at either edge of the range are copied first, so
	 * that what is outside the range survives; then the upper file
	 * reads zeros in the range, and only if it could do that do the
	 * whole granules inside become present.
	 */
	first = offset >> cow->shift;
	last = end > i_size_read(inode) ? U32_MAX : (end - 1) >> cow->shift;
	mutex_lock(&cow->fill_mutex);
	/* The two edge granules, and one run for the granules between. */
	err = lfs_cow_room(inode, cow, 3, true);
	for (g = first; !err && (loff_t)g << cow->shift < i_size_read(inode) &&
	     g <= last; g++) {
		loff_t gs = (loff_t)g << cow->shift;
		loff_t ge = gs + ((loff_t)1 << cow->shift);

		if (!(gs >= offset && ge <= end) && !lfs_granule_present(cow, g))
			err = lfs_cow_fill(inode, cow, g, false);
	}
	if (!err)
		err = vfs_fallocate(cow->upper, mode, offset, len);
	for (g = first; !err && (loff_t)g << cow->shift < i_size_read(inode) &&
	     g <= last; g++) {
		loff_t gs = (loff_t)g << cow->shift;
		loff_t ge = gs + ((loff_t)1 << cow->shift);

		if (gs >= offset && ge <= end && !lfs_granule_present(cow, g))
			err = lfs_cow_mark(cow, g, 1);
	}
	mutex_unlock(&cow->fill_mutex);
	/*
	 * Only now, and only if the range is zeros: this also zeroes the
	 * parts of the edge pages inside the range.
	 */
	if (!err)
		truncate_pagecache_range(inode, offset, end - 1);
out_creds:
	revert_creds(old_cred);
	if (!err && !(mode & FALLOC_FL_KEEP_SIZE) && end > i_size_read(inode))
		i_size_write(inode, end);
	if (!err)
		mark_inode_dirty_sync(inode);
out_unlock:
	inode_unlock(inode);
	return err;
}

/* --- starting and loading ------------------------------------------------ */

/* The path of @lower relative to its layer's root, for the map. */
static char *lfs_layer_relpath(const struct lfs_path *lower)
{
	char *buf, *p, *root, *res;
	size_t rlen;

	buf = kmalloc(2 * PATH_MAX, GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	p = dentry_path_raw(lower->dentry, buf, PATH_MAX);
	root = dentry_path_raw(lower->layer->mnt->mnt_root, buf + PATH_MAX,
			       PATH_MAX);
	if (IS_ERR(p) || IS_ERR(root)) {
		res = ERR_PTR(-ENAMETOOLONG);
		goto out;
	}
	rlen = strcmp(root, "/") ? strlen(root) : 0;
	if (strncmp(p, root, rlen) || p[rlen] != '/') {
		res = ERR_PTR(-EIO);
		goto out;
	}
	res = kstrdup(p + rlen + 1, GFP_KERNEL);
	if (!res)
		res = ERR_PTR(-ENOMEM);
out:
	kfree(buf);
	return res;
}

static int lfs_cow_open_files(struct lfs_fs *ofs, struct lfs_cow *cow,
			      struct dentry *upper, const struct lfs_path *lower)
{
	struct path up = { .mnt = ofs->upper_mnt, .dentry = upper };
	struct path lp = { .mnt = lower->layer->mnt, .dentry = lower->dentry };

	cow->upper = lfs_open_internal(&up, O_RDWR);
	if (IS_ERR(cow->upper)) {
		int err = PTR_ERR(cow->upper);

		cow->upper = NULL;
		return err;
	}
	cow->lower = lfs_open_internal(&lp, O_RDONLY);
	if (IS_ERR(cow->lower)) {
		int err = PTR_ERR(cow->lower);

		cow->lower = NULL;
		return err;
	}
	return 0;
}

/*
 * Prepare the partial state of a file being copied up for writing: record
 * the origin, write an empty map on the temporary upper file @tmp (not yet
 * linked into place) and open both files, so that nothing is left to fail
 * once @tmp is installed.  Returns the state to attach after install.
 */
struct lfs_cow *lfs_cow_prepare(struct super_block *sb, struct dentry *tmp,
				const struct lfs_path *lower,
				const struct kstat *stat)
{
	struct lfs_fs *ofs = LFS_FS(sb);
	struct lfs_cow *cow;
	unsigned int nr;
	void *map;
	size_t size;
	int err;

	cow = lfs_cow_alloc();
	if (!cow)
		return ERR_PTR(-ENOMEM);
	cow->shift = ilog2(ofs->cow_block);
	cow->lower_valid = stat->size;
	cow->origin_layer = lower->layer->idx;
	cow->origin_gen = d_inode(lower->dentry)->i_generation;
	cow->origin_ino = d_inode(lower->dentry)->i_ino;
	cow->origin_size = stat->size;
	cow->origin_mtime_sec = stat->mtime.tv_sec;
	cow->origin_mtime_nsec = stat->mtime.tv_nsec;
	cow->origin_path = lfs_layer_relpath(lower);
	if (IS_ERR(cow->origin_path)) {
		err = PTR_ERR(cow->origin_path);
		cow->origin_path = NULL;
		goto out_free;
	}
	cow->max_runs = lfs_map_fit_runs(strlen(cow->origin_path));
	err = -EFBIG;
	if (stat->size > lfs_cow_max_size(cow))
		goto out_free;

	map = lfs_map_encode(cow, &size, &nr);
	err = PTR_ERR_OR_ZERO(map);
	if (err)
		goto out_free;
	err = vfs_setxattr(mnt_idmap(ofs->upper_mnt), tmp, LAYERFS_XATTR_MAP,
			   map, size, 0);
	kvfree(map);
	/* The files follow @tmp when it is renamed or unlinked. */
	if (!err)
		err = lfs_cow_open_files(ofs, cow, tmp, lower);
	if (err)
		goto out_free;
	return cow;

out_free:
	lfs_cow_free(cow);
	return ERR_PTR(err);
}

/* The copy-up installed the upper file: publish the state. */
void lfs_cow_start(struct inode *inode, struct lfs_cow *cow)
{
	struct lfs_fs *ofs = LFS_FS(inode->i_sb);

	atomic64_inc(&ofs->cow_files);
	atomic64_add(cow->origin_size, &ofs->cow_whole_bytes);
	lfs_cow_attach(inode, cow);
}

/* Version 1's runs: fixed size, checked to be in order. */
static int lfs_cow_decode_fixed(struct lfs_cow *cow, const u8 *p,
				size_t len, unsigned int nr)
{
	const struct layerfs_map_run *r = (const void *)p;
	u64 prev_end = 0;
	unsigned int i;

	if (len != (size_t)nr * sizeof(*r))
		return -EIO;
	for (i = 0; i < nr; i++) {
		u32 start = le32_to_cpu(r[i].start), n = le32_to_cpu(r[i].len);

		/* Sorted, disjoint, not adjacent, not empty, no wrap. */
		if (!n || (u64)start + n > U32_MAX ||
		    (i && start <= prev_end))
			return -EIO;
		cow->runs[i].start = start;
		cow->runs[i].len = n;
		prev_end = (u64)start + n;
	}
	return 0;
}

/* Version 2's runs: in order by construction; they must end the value. */
static int lfs_cow_decode_leb(struct lfs_cow *cow, const u8 *p,
			      size_t len, unsigned int nr)
{
	const u8 *end = p + len;
	u64 prev_end = 0, start, head, n;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		if (lfs_uleb_get(&p, end, &head))
			return -EIO;
		n = 1;
		if (head & 1) {
			if (lfs_uleb_get(&p, end, &n))
				return -EIO;
			n += 2;
		}
		start = prev_end + (head >> 1) + !!i;
		if (start + n > U32_MAX)
			return -EIO;
		cow->runs[i].start = start;
		cow->runs[i].len = n;
		prev_end = start + n;
	}
	return p == end ? 0 : -EIO;
}

static int lfs_cow_decode(struct lfs_fs *ofs, struct lfs_cow *cow,
			  struct layerfs_map *m, ssize_t size, const char **why)
{
	unsigned int nr, pathlen;
	size_t hdr;
	u32 crc;
	int err;

	*why = "too short";
	if (size < (ssize_t)sizeof(*m))
		return -EIO;
	*why = "bad magic or version";
	if (le32_to_cpu(m->magic) != LAYERFS_MAP_MAGIC ||
	    (m->version != LAYERFS_MAP_VERSION &&
	     m->version != LAYERFS_MAP_VERSION_FIXED))
		return -EIO;
	pathlen = le16_to_cpu(m->path_len);
	nr = le32_to_cpu(m->nr_runs);
	hdr = lfs_map_hdr_size(pathlen);
	*why = "bad length";
	/* Runs take a byte or more in either version. */
	if (!pathlen || pathlen >= PATH_MAX || nr > LFS_COW_MAX_RUNS ||
	    size < hdr + nr)
		return -EIO;
	*why = "bad checksum";
	crc = le32_to_cpu(m->crc);
	m->crc = 0;
	if (crc32_le(~0U, (void *)m, size) != crc)
		return -EIO;
	*why = "bad granule";
	if (m->granule_shift < ilog2(LAYERFS_COW_BLOCK_MIN) ||
	    m->granule_shift > ilog2(LAYERFS_COW_BLOCK_MAX))
		return -EIO;
	*why = "bad origin layer";
	if (!le32_to_cpu(m->origin_layer) ||
	    le32_to_cpu(m->origin_layer) > ofs->num_layers)
		return -EIO;
	*why = "bad origin path";
	if (memchr(m->data, '\0', pathlen) || m->data[0] == '/')
		return -EIO;

	cow->shift = m->granule_shift;
	cow->lower_valid = le64_to_cpu(m->lower_valid);
	cow->origin_layer = le32_to_cpu(m->origin_layer);
	cow->origin_gen = le32_to_cpu(m->origin_generation);
	cow->origin_ino = le64_to_cpu(m->origin_ino);
	cow->origin_size = le64_to_cpu(m->origin_size);
	cow->origin_mtime_sec = le64_to_cpu(m->origin_mtime_sec);
	cow->origin_mtime_nsec = le32_to_cpu(m->origin_mtime_nsec);
	cow->origin_path = kmemdup_nul(m->data, pathlen, GFP_KERNEL);
	if (!cow->origin_path)
		return -ENOMEM;
	cow->max_runs = lfs_map_fit_runs(pathlen);

	if (nr > cow->cap) {
		kvfree(cow->runs);
		cow->runs = kvmalloc_array(nr, sizeof(*cow->runs), GFP_KERNEL);
		if (!cow->runs)
			return -ENOMEM;
		cow->cap = nr;
	}
	*why = "bad runs";
	if (m->version == LAYERFS_MAP_VERSION_FIXED)
		err = lfs_cow_decode_fixed(cow, (u8 *)m + hdr, size - hdr, nr);
	else
		err = lfs_cow_decode_leb(cow, (u8 *)m + hdr, size - hdr, nr);
	if (err)
		return err;
	cow->nr = nr;
	return 0;
}

/*
 * An upper regular file found by lookup: if it has a map, it is partial;
 * find its origin and check the map against it.  A bad map does not fail
 * the lookup (the file must stay removable); it makes I/O return EIO.
 */
int lfs_cow_load(struct inode *inode, struct dentry *upper)
{
	struct lfs_fs *ofs = LFS_FS(inode->i_sb);
	struct lfs_path lower = {};
	struct layerfs_map *m = NULL;
	const struct cred *old_cred;
	const char *why = NULL;
	struct lfs_cow *cow;
	struct path lp;
	struct kstat st;
	ssize_t size;
	int err;

	old_cred = lfs_override_creds(inode->i_sb);
	size = vfs_getxattr(mnt_idmap(ofs->upper_mnt), upper,
			    LAYERFS_XATTR_MAP, NULL, 0);
	if (size == -ENODATA || size == -EOPNOTSUPP) {
		err = 0;
		goto out;
	}
	cow = lfs_cow_alloc();
	err = -ENOMEM;
	if (!cow)
		goto out;
	if (size < 0 || size > XATTR_SIZE_MAX) {
		why = "unreadable";
		goto broken;
	}
	/*
	 * Read again into a buffer of that size, which must not be empty:
	 * given none, the second read would only size the xattr, which may
	 * have been written meanwhile, and leave the buffer unfilled.
	 */
	if (size < (ssize_t)sizeof(*m)) {
		why = "too short";
		goto broken;
	}
	m = kvmalloc(size, GFP_KERNEL);
	if (!m)
		goto out_free;
	size = vfs_getxattr(mnt_idmap(ofs->upper_mnt), upper,
			    LAYERFS_XATTR_MAP, m, size);
	if (size < 0) {
		why = "unreadable";
		goto broken;
	}
	err = lfs_cow_decode(ofs, cow, m, size, &why);
	if (err == -ENOMEM)
		goto out_free;
	if (err)
		goto broken;
	if (i_size_read(d_inode(upper)) > lfs_cow_max_size(cow)) {
		why = "on a file longer than its granules can number";
		goto broken;
	}
	/*
	 * A shrinking truncate that reached the upper file but not the map
	 * (a crash between them) still cut the origin's bytes off: grown
	 * again, the file reads zeros there.
	 */
	if (i_size_read(d_inode(upper)) < cow->lower_valid) {
		cow->lower_valid = i_size_read(d_inode(upper));
		cow->dirty = true;
	}

	lower.layer = &ofs->layers[cow->origin_layer - 1];
	err = vfs_path_lookup(lower.layer->mnt->mnt_root, lower.layer->mnt,
			      cow->origin_path, 0, &lp);
	if (err) {
		why = "origin not found";
		goto broken;
	}
	lower.dentry = lp.dentry;
	err = vfs_getattr(&lp, &st, STATX_BASIC_STATS, AT_STATX_SYNC_AS_STAT);
	if (err || !S_ISREG(st.mode) || st.ino != cow->origin_ino ||
	    d_inode(lp.dentry)->i_generation != cow->origin_gen ||
	    st.size != cow->origin_size ||
	    st.mtime.tv_sec != cow->origin_mtime_sec ||
	    st.mtime.tv_nsec != cow->origin_mtime_nsec) {
		path_put(&lp);
		why = "origin changed";
		goto broken;
	}
	err = lfs_cow_open_files(ofs, cow, upper, &lower);
	path_put(&lp);
	if (err) {
		why = "cannot open";
		goto broken;
	}
	lfs_cow_attach(inode, cow);
	err = 0;
	goto out;

broken:
	pr_warn_ratelimited("layerfs: %pd: copy-on-write map %s: the file returns EIO\n",
			    upper, why);
	cow->broken = true;
	lfs_cow_attach(inode, cow);
	err = 0;
	goto out;
out_free:
	lfs_cow_free(cow);
out:
	kvfree(m);
	revert_creds(old_cred);
	return err;
}

/* The I/O of a broken partial file fails; stat and unlink still work. */
bool lfs_cow_broken(struct inode *inode)
{
	struct lfs_cow *cow = lfs_cow(inode);

	return cow && cow->broken;
}
