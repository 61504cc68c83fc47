// SPDX-License-Identifier: GPL-2.0
/*
 * lfsbench: the measuring half of `make bench` (scripts/bench/run).
 *
 * Every timing is taken inside this process with CLOCK_MONOTONIC, so
 * process start-up (tens of milliseconds under QEMU TCG) never counts.
 *
 *   lfsbench mkfile PATH MIB          write a MIB MiB file of a known pattern
 *   lfsbench read PATH                time open + read(1 MiB)* + close;
 *                                     prints "SECONDS BYTES"
 *   lfsbench readmulti PATH...        read the files 1 MiB from each in
 *                                     turn; per file "SECONDS BYTES", the
 *                                     time spent in its own read() calls
 *   lfsbench verify PATH              check the mkfile pattern, untimed
 *   lfsbench walk [-n] DIR            time a find + lstat of every entry
 *                                     below DIR; prints
 *                                     "SECONDS ENTRIES HASH" (the hash is
 *                                     independent of readdir order); with
 *                                     -n only readdir, no lstat (d_type)
 *   lfsbench paths DIR                print every path below DIR (relative)
 *   lfsbench statlist DIR LIST        time lstat of each path in the file
 *                                     LIST (relative to DIR) without any
 *                                     readdir; prints "SECONDS PATHS"
 *   lfsbench mktree DIR NLAYERS NBASE SEED
 *                                     make OCI layers DIR/l1 (top) ..
 *                                     DIR/lNLAYERS (bottom)
 *   lfsbench ovlconvert SRC DST       copy one OCI layer to overlayfs form
 *   lfsbench drop N                   sync, then N > /proc/sys/vm/drop_caches
 *   lfsbench cachegrow LOWER FILE...  sync + drop caches, read every FILE,
 *                                     print "GROWTH_KIB RESIDENT_KIB": the
 *                                     growth of Cached: in /proc/meminfo and
 *                                     what mincore() finds of LOWER
 *   lfsbench firstwrite PATH OFF      time open(O_RDWR) + 4 KiB pwrite at
 *                                     OFF + fsync + close; prints "SECONDS
 *                                     OPEN PWRITE FSYNC" (the whole, then
 *                                     the time of each call)
 *   lfsbench randwrite PATH SECS SEED 4 KiB pwrites at random 4 KiB-aligned
 *                                     offsets, fsync every 64, for SECS
 *                                     seconds; prints "OPS SECONDS"
 *   lfsbench touch PATH STEP          write one byte (the byte already
 *                                     there) every STEP bytes, then fsync
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1024 * 1024)

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("lfsbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (errno)
		fprintf(stderr, ": %s", strerror(errno));
	fputc('\n', stderr);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p)
		die("out of memory");
	return p;
}

/* ---- big files ---------------------------------------------------------- */

static uint64_t pattern(uint64_t off)
{
	return (off * 0x9e3779b97f4a7c15ULL) ^ 0x6c6179657266735fULL;
}

static void fill(uint64_t *buf, uint64_t off, size_t n)
{
	size_t i;

	for (i = 0; i < n / 8; i++)
		buf[i] = pattern(off + i * 8);
}

static int cmd_mkfile(const char *path, long mib)
{
	uint64_t *buf = xmalloc(CHUNK);
	int fd;
	long i;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open %s", path);
	for (i = 0; i < mib; i++) {
		fill(buf, (uint64_t)i * CHUNK, CHUNK);
		if (write(fd, buf, CHUNK) != CHUNK)
			die("write %s", path);
	}
	if (fsync(fd) || close(fd))
		die("fsync %s", path);
	free(buf);
	return 0;
}

static int cmd_read(const char *path)
{
	char *buf = xmalloc(CHUNK);
	unsigned long long total = 0;
	double t0, t1;
	ssize_t n;
	int fd;

	t0 = now();
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open %s", path);
	while ((n = read(fd, buf, CHUNK)) > 0)
		total += n;
	if (n < 0)
		die("read %s", path);
	close(fd);
	t1 = now();
	printf("%.6f %llu\n", t1 - t0, total);
	free(buf);
	return 0;
}

/*
 * Read several files to the end at once, 1 MiB from each in turn (the one
 * that goes first rotating every round), timing each read() on its own and
 * adding the times up per file.  Whatever else the host does while this
 * runs slows every file alike, so the per-file totals compare far better
 * than the times of reads made one after the other.  Each file keeps its
 * own readahead state, so every stream stays sequential.
 */
#define MAXFILES 8

static int cmd_readmulti(int n, char **paths)
{
	unsigned long long total[MAXFILES] = { 0 };
	double spent[MAXFILES] = { 0 };
	char *buf = xmalloc(CHUNK);
	bool done[MAXFILES] = { false };
	int fd[MAXFILES], left = n, round, i;

	if (n > MAXFILES)
		die("readmulti: at most %d files", MAXFILES);
	for (i = 0; i < n; i++) {
		double t0 = now();

		fd[i] = open(paths[i], O_RDONLY);
		if (fd[i] < 0)
			die("open %s", paths[i]);
		spent[i] += now() - t0;
	}
	for (round = 0; left; round++) {
		int k;

		for (k = 0; k < n; k++) {
			int j = (round + k) % n;
			double t0;
			ssize_t got;

			if (done[j])
				continue;
			t0 = now();
			got = read(fd[j], buf, CHUNK);
			spent[j] += now() - t0;
			if (got < 0)
				die("read %s", paths[j]);
			if (!got) {
				done[j] = true;
				left--;
				continue;
			}
			total[j] += got;
		}
	}
	for (i = 0; i < n; i++) {
		close(fd[i]);
		printf("%.6f %llu\n", spent[i], total[i]);
	}
	free(buf);
	return 0;
}

static int cmd_verify(const char *path)
{
	uint64_t *buf = xmalloc(CHUNK), *want = xmalloc(CHUNK);
	uint64_t off = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open %s", path);
	for (;;) {
		size_t got = 0;

		/* Fill whole chunks so the comparison stays word-aligned. */
		while (got < CHUNK) {
			n = read(fd, (char *)buf + got, CHUNK - got);
			if (n < 0)
				die("read %s", path);
			if (!n)
				break;
			got += n;
		}
		if (!got)
			break;
		fill(want, off, CHUNK);
		if (memcmp(buf, want, got)) {
			size_t i;

			for (i = 0; i < got && ((char *)buf)[i] == ((char *)want)[i]; i++)
				;
			errno = 0;
			die("%s: wrong data at offset %llu", path,
			    (unsigned long long)(off + i));
		}
		off += got;
		if (got < CHUNK)
			break;
	}
	close(fd);
	printf("%llu bytes ok\n", (unsigned long long)off);
	free(buf);
	free(want);
	return 0;
}

/* ---- tree walk ---------------------------------------------------------- */

struct walk {
	const char *root;
	bool names_only;
	unsigned long entries;
	unsigned long errors;
	uint64_t hash;
	char path[4096];
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		h = (h ^ *c++) * 0x100000001b3ULL;
	return h;
}

/*
 * One entry's contribution: path, type and mode, owner, and the size of
 * non-directories (a merged directory's size is not meaningful).  Summed,
 * so the order readdir returns entries in does not matter.
 */
static uint64_t entry_hash(const char *path, size_t len, const struct stat *st)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	uint64_t v[4] = { st->st_mode, st->st_uid, st->st_gid,
			  S_ISDIR(st->st_mode) ? 0 : (uint64_t)st->st_size };

	h = fnv(h, path, len);
	h = fnv(h, v, sizeof(v));
	return h * 0xff51afd7ed558ccdULL;
}

static void walk_dir(struct walk *w, int dfd, size_t plen)
{
	struct dirent *de;
	DIR *d;

	d = fdopendir(dfd);
	if (!d)
		die("fdopendir %s", w->path);
	while ((de = readdir(d))) {
		size_t nlen = strlen(de->d_name);
		struct stat st;

		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (plen + 1 + nlen >= sizeof(w->path)) {
			errno = ENAMETOOLONG;
			die("%s/%s", w->path, de->d_name);
		}
		if (w->names_only && de->d_type != DT_UNKNOWN) {
			/* readdir alone: the type is all we keep. */
			memset(&st, 0, sizeof(st));
			st.st_mode = DTTOIF(de->d_type);
		} else if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			/* readdir listed a name lstat cannot find: wrong. */
			fprintf(stderr, "lfsbench: walk %s: lstat %s/%s: %s (d_type %u)\n",
				w->root, w->path, de->d_name, strerror(errno),
				de->d_type);
			w->errors++;
			continue;
		}
		w->path[plen] = '/';
		memcpy(w->path + plen + 1, de->d_name, nlen + 1);
		w->entries++;
		w->hash += entry_hash(w->path, plen + 1 + nlen, &st);
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0)
				die("open %s", w->path);
			walk_dir(w, sub, plen + 1 + nlen);
		}
		w->path[plen] = '\0';
	}
	closedir(d);
}

static int cmd_walk(const char *dir, bool names_only)
{
	struct walk *w = xmalloc(sizeof(*w));
	double t0, t1;
	int fd, rc;

	w->root = dir;
	w->names_only = names_only;
	w->entries = 0;
	w->errors = 0;
	w->hash = 0;
	w->path[0] = '\0';
	t0 = now();
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die("open %s", dir);
	walk_dir(w, fd, 0);
	t1 = now();
	printf("%.6f %lu %016llx\n", t1 - t0, w->entries,
	       (unsigned long long)w->hash);
	if (w->errors)
		fprintf(stderr, "lfsbench: walk %s: %lu entries listed but not found\n",
			dir, w->errors);
	rc = w->errors ? 3 : 0;
	free(w);
	return rc;
}

/*
 * Path lookup without readdir, as a program start-up does it (exec, open
 * of libraries and configuration by name): lstat every path of a list,
 * relative to DIR.  `paths` writes such a list (one walk, untimed).
 */
static void list_dir(FILE *out, int dfd, char *path, size_t plen)
{
	struct dirent *de;
	DIR *d;

	d = fdopendir(dfd);
	if (!d)
		die("fdopendir %s", path);
	while ((de = readdir(d))) {
		size_t nlen = strlen(de->d_name);

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (plen + 1 + nlen >= 4096) {
			errno = ENAMETOOLONG;
			die("%s/%s", path, de->d_name);
		}
		memcpy(path + plen, de->d_name, nlen + 1);
		fprintf(out, "%s\n", path);
		if (de->d_type == DT_DIR) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0)
				die("open %s", path);
			path[plen + nlen] = '/';
			path[plen + nlen + 1] = '\0';
			list_dir(out, sub, path, plen + nlen + 1);
		}
		path[plen] = '\0';
	}
	closedir(d);
}

static int cmd_paths(const char *dir)
{
	char *path = xmalloc(4096);
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die("open %s", dir);
	path[0] = '\0';
	list_dir(stdout, fd, path, 0);
	free(path);
	return 0;
}

static int cmd_statlist(const char *dir, const char *list)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = xmalloc(cap), *p, *end;
	unsigned long n = 0, errors = 0;
	double t0, t1;
	ssize_t got;
	int fd, lfd;

	/* Read the whole list first: only the lookups are timed. */
	lfd = open(list, O_RDONLY | O_CLOEXEC);
	if (lfd < 0)
		die("open %s", list);
	while ((got = read(lfd, buf + len, cap - len - 1)) > 0) {
		len += got;
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
	}
	if (got < 0)
		die("read %s", list);
	close(lfd);
	buf[len] = '\0';

	t0 = now();
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die("open %s", dir);
	for (p = buf; *p; p = end + 1) {
		struct stat st;

		end = strchr(p, '\n');
		if (!end)
			break;
		*end = '\0';
		if (fstatat(fd, p, &st, AT_SYMLINK_NOFOLLOW)) {
			fprintf(stderr, "lfsbench: statlist %s: lstat %s: %s\n",
				dir, p, strerror(errno));
			errors++;
		}
		n++;
	}
	close(fd);
	t1 = now();
	printf("%.6f %lu\n", t1 - t0, n);
	free(buf);
	return errors ? 3 : 0;
}

/* ---- layer generator ---------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	/* xorshift64*: deterministic for a seed, good enough to scatter. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32) % n;
}

static void mkdirs(const char *fmt, ...)
{
	char path[4096], *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	for (p = path + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = '\0';
			if (mkdir(path, 0755) && errno != EEXIST)
				die("mkdir %s", path);
			*p = c;
			if (!c)
				break;
		}
	}
}

static void mkfile(size_t size, const char *fmt, ...)
{
	static char buf[8192];
	char path[4096];
	va_list ap;
	int fd;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (!buf[0])
		memset(buf, 'x', sizeof(buf));
	if (size > sizeof(buf))
		size = sizeof(buf);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("create %s", path);
	if (size && write(fd, buf, size) != (ssize_t)size)
		die("write %s", path);
	close(fd);
}

static void mksymlink(const char *target, const char *fmt, ...)
{
	char path[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (symlink(target, path))
		die("symlink %s", path);
}

#define TOPS 20
#define SUBS 10

/*
 * An image-like stack: the bottom layer holds TOPS x SUBS leaf directories
 * with NBASE files in all (one in 16 a symlink); each layer above adds new
 * files, replaces some base files (a different size), deletes some with
 * ".wh.NAME", makes one leaf directory opaque with ".wh..wh..opq" (plus a
 * few files beside the marker) and adds a new directory of 50 files.
 * Replacements take even-numbered base files and deletions odd-numbered
 * ones, so no layer holds both NAME and ".wh.NAME".
 */
static int cmd_mktree(const char *dir, int nlayers, int nbase, uint64_t seed)
{
	int per_leaf = nbase / (TOPS * SUBS);
	int l, i;

	if (nlayers < 1 || per_leaf < 2)
		die("mktree: need at least one layer and %d base files",
		    2 * TOPS * SUBS);
	rng_state = seed * 0x9e3779b97f4a7c15ULL + 1;

	/* Bottom layer. */
	for (i = 0; i < TOPS * SUBS; i++) {
		int f;

		mkdirs("%s/l%d/d%02d/s%d", dir, nlayers, i / SUBS, i % SUBS);
		for (f = 0; f < per_leaf; f++) {
			if (f % 16 == 15)
				mksymlink("../s0/f0000", "%s/l%d/d%02d/s%d/f%04d",
					  dir, nlayers, i / SUBS, i % SUBS, f);
			else
				mkfile(rnd(2048), "%s/l%d/d%02d/s%d/f%04d", dir,
				       nlayers, i / SUBS, i % SUBS, f);
		}
	}

	/* The layers above, bottom-up. */
	for (l = nlayers - 1; l >= 1; l--) {
		int nnew = nbase / 13, nrepl = nbase / 40, ndel = nbase / 100;
		int leaf;

		mkdirs("%s/l%d", dir, l);
		for (i = 0; i < nnew; i++) {
			leaf = rnd(TOPS * SUBS);
			mkdirs("%s/l%d/d%02d/s%d", dir, l, leaf / SUBS, leaf % SUBS);
			mkfile(rnd(1024), "%s/l%d/d%02d/s%d/n%d_%05d", dir, l,
			       leaf / SUBS, leaf % SUBS, l, i);
		}
		for (i = 0; i < nrepl; i++) {
			leaf = rnd(TOPS * SUBS);
			mkdirs("%s/l%d/d%02d/s%d", dir, l, leaf / SUBS, leaf % SUBS);
			mkfile(3000 + rnd(4096), "%s/l%d/d%02d/s%d/f%04d", dir, l,
			       leaf / SUBS, leaf % SUBS, 2 * rnd(per_leaf / 2));
		}
		for (i = 0; i < ndel; i++) {
			leaf = rnd(TOPS * SUBS);
			mkdirs("%s/l%d/d%02d/s%d", dir, l, leaf / SUBS, leaf % SUBS);
			mkfile(0, "%s/l%d/d%02d/s%d/.wh.f%04d", dir, l,
			       leaf / SUBS, leaf % SUBS, 2 * rnd(per_leaf / 2) + 1);
		}
		/* One opaque leaf; its files in this layer stay visible. */
		leaf = rnd(TOPS * SUBS);
		mkdirs("%s/l%d/d%02d/s%d", dir, l, leaf / SUBS, leaf % SUBS);
		mkfile(0, "%s/l%d/d%02d/s%d/.wh..wh..opq", dir, l, leaf / SUBS,
		       leaf % SUBS);
		for (i = 0; i < 5; i++)
			mkfile(100 + i, "%s/l%d/d%02d/s%d/o%d", dir, l, leaf / SUBS,
			       leaf % SUBS, i);
		/* A new directory. */
		mkdirs("%s/l%d/new%d", dir, l, l);
		for (i = 0; i < 50; i++)
			mkfile(rnd(512), "%s/l%d/new%d/g%02d", dir, l, l, i);
	}
	return 0;
}

/* ---- OCI -> overlayfs layer conversion ---------------------------------- */

#define OCI_WH ".wh."
#define OCI_OPQ ".wh..wh..opq"

static void copy_file(int sdir, int ddir, const char *name, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in, out;

	in = openat(sdir, name, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		die("open %s", name);
	out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		     mode & 07777);
	if (out < 0)
		die("create %s", name);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			die("write %s", name);
	if (n < 0)
		die("read %s", name);
	if (fchmod(out, mode & 07777))
		die("chmod %s", name);
	close(in);
	close(out);
}

/*
 * A ".wh.NAME" beside ".wh..wh..opq" is redundant (the opaque directory
 * hides everything below already) and is dropped: overlayfs passes readdir
 * of a directory that exists in one layer only straight to that layer, so a
 * whiteout there would be listed.  For the same reason a whiteout in a
 * directory that no lower layer has would show through overlayfs; the
 * layers mktree makes have none.
 */
static void convert_dir(int sdir, int ddir)
{
	bool opaque = !faccessat(sdir, OCI_OPQ, F_OK, AT_SYMLINK_NOFOLLOW);
	struct dirent *de;
	DIR *d;

	d = fdopendir(sdir);
	if (!d)
		die("fdopendir");
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		struct stat st;

		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (!strcmp(name, OCI_OPQ)) {
			if (fsetxattr(ddir, "trusted.overlay.opaque", "y", 1, 0))
				die("set trusted.overlay.opaque");
			continue;
		}
		if (!strncmp(name, OCI_WH, strlen(OCI_WH))) {
			const char *target = name + strlen(OCI_WH);

			/* Other ".wh..wh." names carry nothing. */
			if (!strncmp(target, OCI_WH, strlen(OCI_WH)) || !*target ||
			    opaque)
				continue;
			if (mknodat(ddir, target, S_IFCHR | 0, makedev(0, 0)))
				die("mknod whiteout %s", target);
			continue;
		}
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW))
			die("lstat %s", name);
		if (S_ISDIR(st.st_mode)) {
			int s, t;

			if (mkdirat(ddir, name, st.st_mode & 07777))
				die("mkdir %s", name);
			s = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			t = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (s < 0 || t < 0)
				die("open %s", name);
			convert_dir(s, t);
			if (fchmod(t, st.st_mode & 07777))
				die("chmod %s", name);
			close(t);
		} else if (S_ISREG(st.st_mode)) {
			copy_file(dirfd(d), ddir, name, st.st_mode);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(dirfd(d), name, target,
					       sizeof(target) - 1);

			if (n < 0)
				die("readlink %s", name);
			target[n] = '\0';
			if (symlinkat(target, ddir, name))
				die("symlink %s", name);
		} else {
			if (mknodat(ddir, name, st.st_mode, st.st_rdev))
				die("mknod %s", name);
		}
		if (fchownat(ddir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW))
			die("chown %s", name);
	}
	closedir(d);
}

static int cmd_ovlconvert(const char *src, const char *dst)
{
	int s, t;

	if (mkdir(dst, 0755) && errno != EEXIST)
		die("mkdir %s", dst);
	s = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	t = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s < 0 || t < 0)
		die("open %s or %s", src, dst);
	convert_dir(s, t);
	close(t);
	return 0;
}

/* ---- page cache --------------------------------------------------------- */

static void drop_caches(const char *what)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, what, strlen(what)) < 0)
		die("drop_caches");
	close(fd);
}

static long meminfo_kib(const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	f = fopen("/proc/meminfo", "r");
	if (!f)
		die("/proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	if (v < 0)
		die("no %s in /proc/meminfo", key);
	return v;
}

static long resident_kib(const char *path)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *vec;
	size_t pages, i;
	long n = 0;
	struct stat st;
	void *map;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		die("open %s", path);
	if (!st.st_size) {
		close(fd);
		return 0;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("mmap %s", path);
	pages = (st.st_size + page - 1) / page;
	vec = xmalloc(pages);
	if (mincore(map, st.st_size, vec))
		die("mincore %s", path);
	for (i = 0; i < pages; i++)
		n += vec[i] & 1;
	munmap(map, st.st_size);
	close(fd);
	free(vec);
	return n * (page / 1024);
}

static int cmd_cachegrow(const char *lower, int nfiles, char **files)
{
	char *buf = xmalloc(CHUNK);
	long before, after;
	int i;

	/* Settle: whatever this process needs is resident before we count. */
	(void)meminfo_kib("Cached");
	(void)resident_kib(lower);
	drop_caches("3");
	before = meminfo_kib("Cached");
	for (i = 0; i < nfiles; i++) {
		ssize_t n;
		int fd = open(files[i], O_RDONLY);

		if (fd < 0)
			die("open %s", files[i]);
		while ((n = read(fd, buf, CHUNK)) > 0)
			;
		if (n < 0)
			die("read %s", files[i]);
		close(fd);
	}
	after = meminfo_kib("Cached");
	printf("%ld %ld\n", after - before, resident_kib(lower));
	free(buf);
	return 0;
}

/* ------------------------------------------------------------------------- */

/* ---- copy-on-write ------------------------------------------------------ */

static int cmd_firstwrite(const char *path, long long off)
{
	char buf[4096];
	double t0, t1, t2, t3;
	int fd;

	memset(buf, 0x5a, sizeof(buf));
	t0 = now();
	fd = open(path, O_RDWR);
	if (fd < 0)
		die("open %s", path);
	t1 = now();
	if (pwrite(fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf))
		die("pwrite %s", path);
	t2 = now();
	if (fsync(fd))
		die("fsync %s", path);
	t3 = now();
	if (close(fd))
		die("close %s", path);
	printf("%.6f %.6f %.6f %.6f\n", now() - t0, t1 - t0, t2 - t1, t3 - t2);
	return 0;
}

static int cmd_randwrite(const char *path, double secs, uint64_t seed)
{
	char buf[4096];
	uint64_t x = seed | 1, ops = 0;
	struct stat st;
	double t0, t;
	off_t blocks;
	int fd;

	memset(buf, 0xa5, sizeof(buf));
	t0 = now();
	fd = open(path, O_RDWR);
	if (fd < 0 || fstat(fd, &st))
		die("open %s", path);
	blocks = st.st_size / 4096;
	if (blocks < 1)
		die("%s is too small", path);
	do {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (pwrite(fd, buf, sizeof(buf), (off_t)(x % blocks) * 4096) !=
		    (ssize_t)sizeof(buf))
			die("pwrite %s", path);
		if (++ops % 64 == 0 && fsync(fd))
			die("fsync %s", path);
		t = now();
	} while (t - t0 < secs);
	if (fsync(fd) || close(fd))
		die("fsync %s", path);
	printf("%llu %.3f\n", (unsigned long long)ops, now() - t0);
	return 0;
}

static int cmd_touch(const char *path, long long step)
{
	struct stat st;
	off_t off;
	char c;
	int fd;

	fd = open(path, O_RDWR);
	if (fd < 0 || fstat(fd, &st) || step <= 0)
		die("open %s", path);
	for (off = 0; off < st.st_size; off += step) {
		if (pread(fd, &c, 1, off) != 1 || pwrite(fd, &c, 1, off) != 1)
			die("touch %s", path);
	}
	if (fsync(fd) || close(fd))
		die("fsync %s", path);
	return 0;
}

static void usage(void)
{
	fputs("usage: lfsbench mkfile PATH MIB | read PATH | readmulti PATH... |\n"
	      "       verify PATH |\n"
	      "       walk [-n] DIR | paths DIR | statlist DIR LIST | mktree DIR NLAYERS NBASE SEED |\n"
	      "       ovlconvert SRC DST | drop 1|2|3 |\n"
	      "       cachegrow LOWER FILE... | firstwrite PATH OFF |\n"
	      "       randwrite PATH SECS SEED | touch PATH STEP\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "mkfile") && argc == 4)
		return cmd_mkfile(argv[2], atol(argv[3]));
	if (!strcmp(cmd, "read") && argc == 3)
		return cmd_read(argv[2]);
	if (!strcmp(cmd, "readmulti") && argc >= 3)
		return cmd_readmulti(argc - 2, argv + 2);
	if (!strcmp(cmd, "verify") && argc == 3)
		return cmd_verify(argv[2]);
	if (!strcmp(cmd, "walk") && argc == 3)
		return cmd_walk(argv[2], false);
	if (!strcmp(cmd, "walk") && argc == 4 && !strcmp(argv[2], "-n"))
		return cmd_walk(argv[3], true);
	if (!strcmp(cmd, "paths") && argc == 3)
		return cmd_paths(argv[2]);
	if (!strcmp(cmd, "statlist") && argc == 4)
		return cmd_statlist(argv[2], argv[3]);
	if (!strcmp(cmd, "mktree") && argc == 6)
		return cmd_mktree(argv[2], atoi(argv[3]), atoi(argv[4]),
				  strtoull(argv[5], NULL, 0));
	if (!strcmp(cmd, "ovlconvert") && argc == 4)
		return cmd_ovlconvert(argv[2], argv[3]);
	if (!strcmp(cmd, "drop") && argc == 3) {
		drop_caches(argv[2]);
		return 0;
	}
	if (!strcmp(cmd, "cachegrow") && argc >= 4)
		return cmd_cachegrow(argv[2], argc - 3, argv + 3);
	if (!strcmp(cmd, "firstwrite") && argc == 4)
		return cmd_firstwrite(argv[2], atoll(argv[3]));
	if (!strcmp(cmd, "touch") && argc == 4)
		return cmd_touch(argv[2], atoll(argv[3]));
	if (!strcmp(cmd, "randwrite") && argc == 5)
		return cmd_randwrite(argv[2], atof(argv[3]),
				     strtoull(argv[4], NULL, 0));
	usage();
	return 2;
}
