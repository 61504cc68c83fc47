// SPDX-License-Identifier: GPL-2.0
/*
 * lfs-crash: the writer and the checker of the layerfs crash test
 * (scripts/crash-test on the host, scripts/crash-guest in the VM).
 *
 *   lfs-crash mklower DIR
 *	Two lower layers, DIR/l1 (top) and DIR/l0, holding FILES below with
 *	a known content: byte o of file i is never 0 (fill()), except in a
 *	hole of "big" (BIG_HOLE), which copying gaps keeps a hole.
 *
 *   lfs-crash write --mnt MNT --journal J --seed S --gran G
 *		    [--reset FILE [--no-reset] [--ops N]]
 *	Open every file of the layerfs mount MNT O_RDWR (each becomes
 *	partial) and MAP_SHARED, write BURST bytes into big, then run a
 *	seeded random sequence of pwrite, MAP_SHARED stores, fallocate
 *	PUNCH_HOLE and ZERO_RANGE (KEEP_SIZE: these read as writes of
 *	zeros), ftruncate down and at once back up to the file's size (the
 *	bytes cut off read as zeros: a write of zeros too, but a reset in
 *	between may leave the file short), fsync, fdatasync and syncfs
 *	until the machine resets: with --reset, a timer thread creates FILE
 *	and resets it (sysrq b) at a seeded moment 1 to 5 s after the
 *	burst, or right after the first sync that returns after that
 *	moment, with writes in flight (several writers on several stacks
 *	run at once, one of them with --reset).  With some seeds a second
 *	thread fsyncs files concurrently with the writes.  Every operation
 *	is logged in the journal J before it starts ("B ...") and after it
 *	ends ("E ..."); with --no-reset the thread only exits (to test the
 *	checker without a VM).  With --ops N, the reset (or end) comes
 *	after N operations at the latest: how far a writer gets in its time
 *	depends on the machine, and the checker's own test needs files that
 *	are not holes all over.  J must be on storage that survives the
 *	reset (the host's results share: a write(2) there returns once the
 *	host has the bytes).  The data of write #id at file offset o is
 *	fill()'s byte o of stream write_tag(seed, id).
 *
 *   lfs-crash verify --mnt MNT --journal J [--lower DIR]
 *	After the reset, on the remounted stack: every byte of every file
 *	must read
 *	  - if a write covering it was acknowledged as durable (it ended
 *	    before an fsync/fdatasync of its file or a syncfs began that
 *	    returned 0): the data of the newest such write, or of a later
 *	    write covering it;
 *	  - otherwise: its lower data, or the data of any write covering it.
 *	Never zeros (but where a hole was punched, a range zeroed or the
 *	file truncated), never anything else; no read may fail.  The size
 *	must be the file's own, or the one an unacknowledged truncate cut
 *	it to.  With --lower,
 *	the lower files must still hold their own content.
 *
 * Exit status: 0 ok, 1 a check failed, 2 usage or setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct lfile {
	const char *layer, *path;
	off_t size;
};

/* A directory merged from both layers; sizes with and without a tail. */
static const struct lfile files[] = {
	{ "l1", "a", 2 << 20 },
	{ "l1", "d/b", (1 << 20) + 1234 },
	{ "l0", "c", 3 << 19 },
	{ "l0", "d/e", (1 << 19) + 77 },
	{ "l0", "big", 64 << 20 },
};
#define NFILES ((int)(sizeof(files) / sizeof(files[0])))
/*
 * Written first in BURST scattered places, one byte each in every other
 * granule: with 4 KiB granules each run takes a byte of the map, 5,000 of
 * them more than an ext4 xattr holds, so the file's next fsync coarsens
 * the map (copies the shortest gaps between its runs until it fits,
 * several rounds of copying, fsync and trying again), and the reset can
 * come before, during or after that.
 */
#define BIG 4
#define BURST 5000
/*
 * A hole in big's lower file: where the origin reads zeros, copying a gap
 * punches holes in the upper file instead, and the reset can come in the
 * middle of that too.
 */
#define BIG_HOLE_OFF (8 << 20)
#define BIG_HOLE_LEN (4 << 20)
#define MAX_WRITE (256 << 10)

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return mix64(*s);
}

static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
	return n ? rng_next(s) % n : 0;
}

/* Fill @buf with the content of stream @tag at file offsets [off, off+len). */
static void fill(unsigned char *buf, uint64_t tag, off_t off, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint64_t o = off + i, w = mix64(tag ^ mix64(o >> 3));
		unsigned int k;

		for (k = o & 7; k < 8 && i < len; k++, i++) {
			unsigned char c = w >> (8 * k);

			buf[i] = c ? c : 0xa5;
		}
	}
}

static uint64_t lower_tag(int f)
{
	return 0x4c4f574552000000ULL + f;	/* "LOWER" */
}

/* The lower content of file @f at [off, off+len). */
static void fill_lower(unsigned char *buf, int f, off_t off, size_t len)
{
	off_t hs = BIG_HOLE_OFF, he = BIG_HOLE_OFF + BIG_HOLE_LEN;

	fill(buf, lower_tag(f), off, len);
	if (f == BIG && off < he && off + (off_t)len > hs) {
		off_t s = off > hs ? off : hs;
		off_t e = off + (off_t)len < he ? off + (off_t)len : he;

		memset(buf + (s - off), 0, e - s);
	}
}

static uint64_t write_tag(uint64_t seed, long id)
{
	return mix64(seed ^ 0x5752495445000000ULL) ^ mix64((uint64_t)id << 8);
}

/* What operation @kind left at [off, off+len): zeros, or write data. */
static void fill_op(unsigned char *buf, char kind, uint64_t seed, long id,
		    off_t off, size_t len)
{
	if (kind == 'p' || kind == 'z' || kind == 't')
		memset(buf, 0, len);
	else
		fill(buf, write_tag(seed, id), off, len);
}

static bool is_write(char kind)
{
	return strchr("wmpzt", kind) != NULL;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("lfs-crash: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void mkdirs(const char *path)
{
	char buf[PATH_MAX], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			die("mkdir %s: %m", buf);
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		die("mkdir %s: %m", buf);
}

static void write_all(int fd, const void *buf, size_t len, off_t off,
		      const char *what)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n <= 0)
			die("write %s: %m", what);
		buf = (const char *)buf + n;
		len -= n;
		off += n;
	}
}

/* --- mklower ---------------------------------------------------------------- */

static int cmd_mklower(const char *dir)
{
	unsigned char *buf = malloc(1 << 20);
	char path[PATH_MAX];
	int f;

	if (!buf)
		die("out of memory");
	for (f = 0; f < NFILES; f++) {
		off_t off;
		int fd;

		snprintf(path, sizeof(path), "%s/%s/%s", dir, files[f].layer,
			 files[f].path);
		*strrchr(path, '/') = 0;
		mkdirs(path);
		snprintf(path, sizeof(path), "%s/%s/%s", dir, files[f].layer,
			 files[f].path);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			die("create %s: %m", path);
		for (off = 0; off < files[f].size; off += 1 << 20) {
			size_t len = files[f].size - off < (1 << 20) ?
				     files[f].size - off : (1 << 20);

			/* The hole stays one: nothing is written there. */
			if (f == BIG && off >= BIG_HOLE_OFF &&
			    off + (off_t)len <= BIG_HOLE_OFF + BIG_HOLE_LEN)
				continue;
			fill_lower(buf, f, off, len);
			write_all(fd, buf, len, off, path);
		}
		if (fsync(fd) || close(fd))
			die("fsync %s: %m", path);
	}
	free(buf);
	return 0;
}

/* --- write ------------------------------------------------------------------- */

static pthread_mutex_t jlock = PTHREAD_MUTEX_INITIALIZER;
static int jfd = -1;
static long next_id;

/* One journal line per write(2); returns the id given to a "B" line. */
static long jlog(bool begin, const char *fmt, ...)
{
	char line[256];
	long id = -1;
	va_list ap;
	int n = 0;

	pthread_mutex_lock(&jlock);
	if (begin) {
		id = next_id++;
		n = snprintf(line, sizeof(line), "B %ld ", id);
	}
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	if (write(jfd, line, n) != n)
		die("journal write: %m");
	pthread_mutex_unlock(&jlock);
	return id;
}

struct wfile {
	int fd;
	unsigned char *map;
};
static struct wfile wf[NFILES];
static const char *reset_marker;
static bool reset_for_real = true;
static unsigned int cut_ms;
static uint64_t syncer_seed;

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void do_sync(char kind, int f)
{
	long id = jlog(true, "%c %d 0 0", kind, f);
	int rc;

	if (kind == 'f')
		rc = fsync(wf[f].fd);
	else if (kind == 'd')
		rc = fdatasync(wf[f].fd);
	else
		rc = syncfs(wf[f].fd);
	jlog(false, "E %ld %d", id, rc ? -errno : 0);
	if (rc)
		fprintf(stderr, "# %s of %s: %m\n",
			kind == 'f' ? "fsync" : kind == 'd' ? "fdatasync" : "syncfs",
			files[f].path);
}

static volatile int cut_now;	/* after_sync: reset after the next sync */
static long max_ops;		/* --ops: reset after this many, 0: no limit */
static bool after_sync;

static void reset_machine(void)
{
	int fd;

	fd = open(reset_marker, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "sysrq b\n", 8) != 8 || close(fd))
		die("%s: %m", reset_marker);
	jlog(false, "X");
	if (!reset_for_real)
		_exit(0);	/* --no-reset: the checker's own test */
	fd = open("/proc/sysrq-trigger", O_WRONLY);
	if (fd < 0 || write(fd, "b", 1) != 1)
		die("/proc/sysrq-trigger: %m");
	sleep(10);
	die("still running 10 s after sysrq b");
}

static void *cutter(void *arg)
{
	(void)arg;
	sleep_ms(cut_ms);
	if (!after_sync)
		reset_machine();
	cut_now = 1;
	for (;;)
		pause();
	return NULL;
}

static void *syncer(void *arg)
{
	uint64_t s = syncer_seed;

	(void)arg;
	for (;;) {
		sleep_ms(rnd_below(&s, 30));
		do_sync(rnd_below(&s, 2) ? 'f' : 'd', rnd_below(&s, NFILES));
	}
	return NULL;
}

static int cmd_write(const char *mnt, const char *journal, uint64_t seed,
		     unsigned int gran)
{
	unsigned char *buf = malloc(MAX_WRITE + 4 * (1 << 20));
	uint64_t s = seed;
	pthread_t t;
	bool with_syncer;
	char path[PATH_MAX];
	int f;

	if (!buf)
		die("out of memory");
	cut_ms = 1000 + rnd_below(&s, 4000);
	with_syncer = rnd_below(&s, 2);
	/*
	 * Half of the resets come right after a sync returned, before
	 * anything else can make its metadata durable by chance (another
	 * fsync committing the same journal, say).
	 */
	after_sync = rnd_below(&s, 2);
	syncer_seed = rng_next(&s);
	jfd = open(journal, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (jfd < 0)
		die("%s: %m", journal);
	jlog(false, "H seed=%" PRIu64 " gran=%u cut_ms=%u syncer=%d after_sync=%d",
	     seed, gran, cut_ms, with_syncer, after_sync);
	if (reset_marker)
		printf("# writer: seed %" PRIu64 ", granule %u, reset after %u ms%s%s\n",
		       seed, gran, cut_ms, after_sync ? " right after a sync returns" : "",
		       with_syncer ? ", concurrent fsync thread" : "");
	else
		printf("# writer: seed %" PRIu64 ", granule %u%s, until the reset\n",
		       seed, gran, with_syncer ? ", concurrent fsync thread" : "");
	fflush(stdout);

	for (f = 0; f < NFILES; f++) {
		snprintf(path, sizeof(path), "%s/%s", mnt, files[f].path);
		wf[f].fd = open(path, O_RDWR);
		if (wf[f].fd < 0)
			die("open %s: %m", path);
		wf[f].map = mmap(NULL, files[f].size, PROT_READ | PROT_WRITE,
				 MAP_SHARED, wf[f].fd, 0);
		if (wf[f].map == MAP_FAILED)
			die("mmap %s: %m", path);
	}
	if (with_syncer && pthread_create(&t, NULL, syncer, NULL))
		die("pthread_create");

	for (int i = 0; i < BURST; i++) {
		off_t off = (off_t)2 * i * 4096 + rnd_below(&s, 4096);
		long id = jlog(true, "w %d %lld 1", BIG, (long long)off);

		fill(buf, write_tag(seed, id), off, 1);
		write_all(wf[BIG].fd, buf, 1, off, files[BIG].path);
		jlog(false, "E %ld 0", id);
	}
	/*
	 * The clock starts after the burst: under TCG the burst alone can
	 * take seconds, and a reset during it would test little else.
	 */
	if (reset_marker && pthread_create(&t, NULL, cutter, NULL))
		die("pthread_create");
	for (long n = 1;; n++) {
		unsigned int r = rnd_below(&s, 100), k = rnd_below(&s, 4);
		off_t size, off;
		size_t len;
		long id;

		if (max_ops && n > max_ops)
			reset_machine();
		f = rnd_below(&s, NFILES);
		size = files[f].size;
		if (r >= 62 && r < 94) {
			do_sync(r < 76 ? 'f' : r < 90 ? 'd' : 's', f);
			if (cut_now)
				reset_machine();
			continue;
		}
		if (k == 0)
			len = 1 + rnd_below(&s, 64);
		else if (k == 1)
			len = 1 + rnd_below(&s, 8192);
		else if (k == 2)
			len = 1 + rnd_below(&s, MAX_WRITE);
		else
			len = gran * (1 + rnd_below(&s, 4));
		if ((off_t)len > size)
			len = size;
		off = rnd_below(&s, size - len + 1);
		if (k == 3)
			off -= off % gran;
		if (r >= 56 && r < 62) {
			/* Reads as a write of zeros; the size stays. */
			int mode = FALLOC_FL_KEEP_SIZE | (r < 59 ?
				   FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE);
			int rc;

			id = jlog(true, "%c %d %lld %zu", r < 59 ? 'p' : 'z', f,
				  (long long)off, len);
			rc = fallocate(wf[f].fd, mode, off, len);
			if (rc)
				die("fallocate %s: %m", files[f].path);
			jlog(false, "E %ld 0", id);
		} else if (r < 46 || r >= 94) {
			/* pwrite; r >= 94: pwrite then fsync at once */
			id = jlog(true, "w %d %lld %zu", f, (long long)off, len);
			fill(buf, write_tag(seed, id), off, len);
			write_all(wf[f].fd, buf, len, off, files[f].path);
			jlog(false, "E %ld 0", id);
			if (r >= 94) {
				do_sync('f', f);
				if (cut_now)
					reset_machine();
			}
		} else if (r >= 53) {
			/*
			 * Shrink, then grow back at once, so that the
			 * mapping stays whole: the bytes cut off read as
			 * zeros, and the origin's must never come back.
			 */
			off_t cut = k == 2 ? off : size - (off_t)len;

			if (k == 3)
				cut -= cut % gran;
			id = jlog(true, "t %d %lld %zu", f, (long long)cut,
				  (size_t)(size - cut));
			if (ftruncate(wf[f].fd, cut) || ftruncate(wf[f].fd, size))
				die("ftruncate %s: %m", files[f].path);
			jlog(false, "E %ld 0", id);
		} else {
			id = jlog(true, "m %d %lld %zu", f, (long long)off, len);
			fill(buf, write_tag(seed, id), off, len);
			memcpy(wf[f].map + off, buf, len);
			jlog(false, "E %ld 0", id);
		}
	}
	return 0;
}

/* --- verify ------------------------------------------------------------------ */

struct op {
	char kind;		/* w m p z t, f d s */
	int file;
	off_t off;
	size_t len;
	long begin, end;	/* journal line numbers; end LONG_MAX: no E */
	int rc;
};

static struct op *ops;
static long nops;

static void load_journal(const char *journal, uint64_t *seed,
			 unsigned int *gran, bool *cut)
{
	FILE *fp = fopen(journal, "r");
	char line[512];
	long lineno = 0, cap = 0;
	bool header = false;

	if (!fp)
		die("%s: %m", journal);
	*cut = false;
	while (fgets(line, sizeof(line), fp)) {
		long id, end;
		char kind;
		int f, rc;
		long long off;
		size_t len;

		lineno++;
		if (!strchr(line, '\n'))
			break;	/* cut mid-line */
		if (!strncmp(line, "H ", 2)) {
			if (sscanf(line, "H seed=%" SCNu64 " gran=%u", seed, gran) != 2)
				die("%s:%ld: bad header", journal, lineno);
			header = true;
		} else if (!strcmp(line, "X\n")) {
			*cut = true;
		} else if (sscanf(line, "B %ld %c %d %lld %zu", &id, &kind, &f,
				  &off, &len) == 5) {
			if (id != nops || f < 0 || f >= NFILES ||
			    !strchr("wmpztfds", kind) || off < 0 ||
			    off + (off_t)len > files[f].size)
				die("%s:%ld: bad line", journal, lineno);
			if (nops == cap) {
				cap = cap ? 2 * cap : 1024;
				ops = realloc(ops, cap * sizeof(*ops));
				if (!ops)
					die("out of memory");
			}
			ops[nops++] = (struct op){ kind, f, off, len, lineno,
						   LONG_MAX, 0 };
		} else if (sscanf(line, "E %ld %d", &id, &rc) == 2) {
			if (id < 0 || id >= nops || ops[id].end != LONG_MAX)
				die("%s:%ld: bad line", journal, lineno);
			end = lineno;
			ops[id].end = end;
			ops[id].rc = rc;
		} else {
			die("%s:%ld: bad line", journal, lineno);
		}
	}
	fclose(fp);
	if (!header)
		die("%s: no header line", journal);
}

static bool is_bad(const unsigned char *st, const unsigned char *data,
		   const unsigned char *low, off_t b)
{
	return st[b] == 2 || (st[b] == 0 && data[b] != low[b]);
}

/*
 * The truncate that may have left file @f @size bytes long: one that was not
 * acknowledged as durable (a reset between its shrink and its growth back),
 * or -1.
 */
static long short_by(int f, off_t size, long acked_sync)
{
	long i;

	for (i = nops - 1; i >= 0; i--)
		if (ops[i].kind == 't' && ops[i].file == f &&
		    ops[i].off == size && ops[i].end > acked_sync)
			return i;
	return -1;
}

static int cmd_verify(const char *mnt, const char *journal, const char *lower)
{
	long acked_sync[NFILES], i;
	long nwrites = 0, nacked = 0, ninflight = 0, nsyncs = 0, nsyncs_ok = 0;
	long long tot_acked = 0, tot_new = 0, tot_old = 0, tot_bad = 0;
	unsigned int gran = 0;
	uint64_t seed = 0;
	bool cut;
	int f, failed = 0;

	load_journal(journal, &seed, &gran, &cut);
	for (f = 0; f < NFILES; f++)
		acked_sync[f] = -1;
	/* The latest begin of a sync that returned 0, per file. */
	for (i = 0; i < nops; i++) {
		struct op *o = &ops[i];

		if (is_write(o->kind)) {
			nwrites++;
			ninflight += o->end == LONG_MAX;
			continue;
		}
		nsyncs++;
		if (o->end == LONG_MAX || o->rc)
			continue;
		nsyncs_ok++;
		for (f = 0; f < NFILES; f++)
			if ((o->kind == 's' || f == o->file) &&
			    o->begin > acked_sync[f])
				acked_sync[f] = o->begin;
	}
	for (i = 0; i < nops; i++)
		if (is_write(ops[i].kind) &&
		    ops[i].end < acked_sync[ops[i].file])
			nacked++;
	printf("# journal: seed %" PRIu64 ", granule %u, %ld operations: %ld writes "
	       "(%ld acknowledged durable, %ld in flight at the cut), %ld syncs "
	       "(%ld returned 0)%s\n", seed, gran, nops, nwrites, nacked, ninflight,
	       nsyncs, nsyncs_ok, cut ? "; this writer reset the guest" : "");

	for (f = 0; f < NFILES; f++) {
		off_t size = files[f].size, b, cur;
		unsigned char *data = malloc(size), *exp = malloc(size);
		unsigned char *low = malloc(size);
		/* 0 unresolved, 1 matched, 2 failed; owner: write that must be seen */
		unsigned char *st = calloc(size, 1);
		long *owner = malloc(size * sizeof(long));
		long long acked = 0, newer = 0, old = 0, bad = 0;
		char path[PATH_MAX];
		struct stat stbuf;
		int fd, shown = 0;
		off_t done;

		if (!data || !exp || !low || !st || !owner)
			die("out of memory");
		fill_lower(low, f, 0, size);
		snprintf(path, sizeof(path), "%s/%s", mnt, files[f].path);
		fd = open(path, O_RDONLY);
		if (fd < 0 || fstat(fd, &stbuf)) {
			printf("# %s: open/stat: %m\n", files[f].path);
			failed = 1;
			goto next;
		}
		/* Only bytes below the size it has can be checked. */
		cur = stbuf.st_size < size ? stbuf.st_size : size;
		if (stbuf.st_size != size) {
			long t = short_by(f, stbuf.st_size, acked_sync[f]);

			if (t >= 0) {
				printf("# %s: %lld bytes long, as unacknowledged "
				       "truncate #%ld (journal line %ld) left it\n",
				       files[f].path, (long long)cur, t,
				       ops[t].begin);
			} else {
				printf("# %s: size %lld, want %lld\n", files[f].path,
				       (long long)stbuf.st_size, (long long)size);
				failed = 1;
			}
		}
		for (done = 0; done < cur;) {
			ssize_t n = pread(fd, data + done, cur - done, done);

			if (n <= 0) {
				printf("# %s: read at %lld: %s\n", files[f].path,
				       (long long)done, n ? strerror(errno) : "EOF");
				failed = 1;
				close(fd);
				goto next;
			}
			done += n;
		}
		close(fd);

		/* Newest write first: a byte settles on the first match. */
		for (i = nops - 1; i >= 0; i--) {
			struct op *o = &ops[i];
			bool durable;
			size_t k;

			if (!is_write(o->kind) || o->file != f)
				continue;
			durable = o->end < acked_sync[f];
			fill_op(exp, o->kind, seed, i, o->off, o->len);
			for (k = 0; k < o->len && o->off + (off_t)k < cur; k++) {
				b = o->off + k;
				if (st[b])
					continue;
				if (data[b] == exp[k]) {
					st[b] = 1;
					if (durable)
						acked++;
					else
						newer++;
				} else if (durable) {
					st[b] = 2;
					owner[b] = i;
				}
			}
		}
		for (b = 0; b < cur; b++) {
			long key;
			off_t e, gap, nbad = 0, zeros = 0, lowers = 0;

			if (st[b] == 1)
				continue;
			if (st[b] == 0 && data[b] == low[b]) {
				old++;
				continue;
			}
			/* A run of bad bytes that should have read one write. */
			key = st[b] == 2 ? owner[b] : -1;
			/*
			 * Extend it over short stretches that happen to
			 * match (a byte value repeats by chance, 1 in 255).
			 */
			for (e = b, gap = 0; e < cur && gap < 32; e++) {
				if (!is_bad(st, data, low, e) ||
				    (st[e] == 2 ? owner[e] : -1) != key) {
					gap++;
					continue;
				}
				gap = 0;
				nbad++;
				zeros += !data[e];
				lowers += data[e] == low[e];
			}
			e -= gap;
			bad += nbad;
			if (shown++ < 8) {
				printf("# %s: bytes %lld..%lld (granule %lld..%lld): "
				       "%lld zero, %lld old lower data, %lld other; ",
				       files[f].path, (long long)b, (long long)e - 1,
				       (long long)(b / gran), (long long)((e - 1) / gran),
				       (long long)zeros, (long long)lowers,
				       (long long)(nbad - zeros - lowers));
				if (key >= 0)
					printf("want acknowledged write #%ld (journal line "
					       "%ld: %c at %lld+%zu) or a newer one\n", key,
					       ops[key].begin, ops[key].kind,
					       (long long)ops[key].off, ops[key].len);
				else
					printf("want lower data or a write's\n");
			}
			b = e - 1;
		}
		printf("# %s: %lld bytes of acknowledged writes read back, %lld bytes "
		       "of unacknowledged writes landed, %lld bytes read lower data, "
		       "%lld bad\n", files[f].path, acked, newer, old, bad);
		if (bad)
			failed = 1;
		tot_acked += acked;
		tot_new += newer;
		tot_old += old;
		tot_bad += bad;

		if (lower) {
			snprintf(path, sizeof(path), "%s/%s/%s", lower,
				 files[f].layer, files[f].path);
			fd = open(path, O_RDONLY);
			for (done = 0; fd >= 0 && done < size;) {
				ssize_t n = pread(fd, data + done, size - done, done);

				if (n <= 0)
					break;
				done += n;
			}
			if (fd < 0 || done != size || memcmp(data, low, size) ||
			    fstat(fd, &stbuf) || stbuf.st_size != size) {
				printf("# lower file %s changed or unreadable\n", path);
				failed = 1;
			}
			if (fd >= 0)
				close(fd);
		}
next:
		free(data);
		free(exp);
		free(low);
		free(st);
		free(owner);
	}
	printf("# total: %lld bytes acknowledged and read back, %lld unacknowledged "
	       "landed, %lld lower, %lld bad\n", tot_acked, tot_new, tot_old, tot_bad);
	if (failed)
		printf("# replay the writes: lfs-crash write --seed %" PRIu64
		       " --gran %u (timing varies)\n", seed, gran);
	return failed;
}

/* 4096, 4k, 64K, 1m */
static unsigned int parse_size(const char *arg)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 0);

	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end || !v || v > (1 << 20))
		die("bad granule '%s'", arg);
	return v;
}

/* The test VM boots with vm_run= on its command line (scripts/vm-run). */
static bool in_test_vm(void)
{
	char buf[4096];
	FILE *fp = fopen("/proc/cmdline", "r");
	bool yes = false;

	if (fp) {
		yes = fgets(buf, sizeof(buf), fp) && strstr(buf, "vm_run=");
		fclose(fp);
	}
	return yes;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: lfs-crash mklower DIR\n"
		"       lfs-crash write --mnt MNT --journal J --seed S --gran G [--reset FILE [--no-reset] [--ops N]]\n"
		"       lfs-crash verify --mnt MNT --journal J [--lower DIR]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mnt = NULL, *journal = NULL, *lower = NULL;
	uint64_t seed = 0;
	unsigned int gran = 4096;
	int i;

	if (argc < 2)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "mklower")) {
		if (argc != 3)
			usage();
		return cmd_mklower(argv[2]);
	}
	for (i = 2; i < argc; i += 2) {
		if (!strcmp(argv[i], "--no-reset")) {
			reset_for_real = false;
			i--;
			continue;
		}
		if (i + 1 == argc)
			usage();
		if (!strcmp(argv[i], "--mnt"))
			mnt = argv[i + 1];
		else if (!strcmp(argv[i], "--journal"))
			journal = argv[i + 1];
		else if (!strcmp(argv[i], "--lower"))
			lower = argv[i + 1];
		else if (!strcmp(argv[i], "--reset"))
			reset_marker = argv[i + 1];
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--gran"))
			gran = parse_size(argv[i + 1]);
		else if (!strcmp(argv[i], "--ops"))
			max_ops = strtol(argv[i + 1], NULL, 0);
		else
			usage();
	}
	if (i != argc || !mnt || !journal || max_ops < 0 ||
	    (max_ops && !reset_marker))
		usage();
	if (!strcmp(argv[1], "write")) {
		if (reset_marker && reset_for_real && !in_test_vm())
			die("write resets the machine: it runs in the test VM only (or --no-reset)");
		return cmd_write(mnt, journal, seed, gran);
	}
	if (!strcmp(argv[1], "verify"))
		return cmd_verify(mnt, journal, lower);
	usage();
	return 2;
}
