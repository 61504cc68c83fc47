// SPDX-License-Identifier: GPL-2.0
/*
 * layerfs selftests: environment, mounting, reading files, memory and
 * credentials helpers.  Trees (building, comparing, the OCI model) are in
 * libtree.c.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <linux/fs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

/* ---------------------------------------------------------------------- */
/* Environment                                                             */

const char *lfs_test_dir(void)
{
	const char *d = getenv("LFS_TEST_DIR");

	return d && *d ? d : NULL;
}

const char *lfs_fs(void)
{
	const char *fs = getenv("LFS_FS");

	return fs && *fs ? fs : "unknown";
}

const char *lfs_fstype(void)
{
	const char *t = getenv("LFS_DEV_FSTYPE");

	return t && *t ? t : "layerfs";
}

bool lfs_fs_registered(const char *fstype)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *name = strchr(line, '\t');

		name = name ? name + 1 : line;
		name[strcspn(name, "\n")] = '\0';
		found = !strcmp(name, fstype);
	}
	fclose(f);
	return found;
}

int lfs_private_mount_ns(void)
{
	if (unshare(CLONE_NEWNS))
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return -errno;
	return 0;
}

int lfs_mkscratch(char *out, size_t len, const char *tag)
{
	const char *top = lfs_test_dir();

	if (!top)
		return -ENOENT;
	if ((size_t)snprintf(out, len, "%s/%s.XXXXXX", top, tag) >= len)
		return -ENAMETOOLONG;
	if (!mkdtemp(out))
		return -errno;
	return 0;
}

/* Clears FS_APPEND_FL and FS_IMMUTABLE_FL of a file or directory. */
static void clear_protection(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW), flags;

	if (fd < 0)
		return;
	if (!ioctl(fd, FS_IOC_GETFLAGS, &flags) &&
	    (flags & (FS_APPEND_FL | FS_IMMUTABLE_FL))) {
		flags &= ~(FS_APPEND_FL | FS_IMMUTABLE_FL);
		ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	int err = flag == FTW_DP ? rmdir(path) : unlink(path);

	/* A test that stopped half way may leave chattr +a or +i behind. */
	if (err && errno == EPERM) {
		char parent[PATH_MAX];

		snprintf(parent, sizeof(parent), "%.*s", ftw->base, path);
		clear_protection(parent);
		if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))
			clear_protection(path);
		err = flag == FTW_DP ? rmdir(path) : unlink(path);
	}
	if (err) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "# rm -rf: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int lfs_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (nftw(path, rm_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT))
		return -EIO;
	return 0;
}

int lfs_mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(buf, 0755) && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Mounting                                                                */

/* Appends every pending fs_context message to fc->log, one per line. */
static void fc_drain_log(struct lfs_fc *fc)
{
	char msg[1024];
	size_t used = strlen(fc->log);

	for (;;) {
		ssize_t n = read(fc->fd, msg, sizeof(msg) - 1);

		if (n <= 0)
			break;
		msg[n] = '\0';
		if (n > 0 && msg[n - 1] == '\n')
			msg[n - 1] = '\0';
		used += snprintf(fc->log + used,
				 used < sizeof(fc->log) ? sizeof(fc->log) - used : 0,
				 "%s%s", used ? "\n" : "", msg);
		if (used >= sizeof(fc->log))
			used = sizeof(fc->log) - 1;
	}
}

static void fc_fail(struct lfs_fc *fc, int err, const char *step,
		    const char *key)
{
	if (fc->err)
		return;
	fc->err = err;
	snprintf(fc->step, sizeof(fc->step), "%s%s%s", step, key ? " " : "",
		 key ? key : "");
}

int lfs_fc_open(struct lfs_fc *fc, const char *fstype)
{
	memset(fc, 0, sizeof(*fc));
	fc->fd = fsopen(fstype, FSOPEN_CLOEXEC);
	if (fc->fd < 0) {
		fc_fail(fc, -errno, "fsopen", fstype);
		return fc->err;
	}
	return 0;
}

int lfs_fc_set(struct lfs_fc *fc, const char *key, const char *value)
{
	int ret;

	if (fc->fd < 0)
		return fc->err;
	if (value)
		ret = fsconfig(fc->fd, FSCONFIG_SET_STRING, key, value, 0);
	else
		ret = fsconfig(fc->fd, FSCONFIG_SET_FLAG, key, NULL, 0);
	ret = ret ? -errno : 0;
	fc_drain_log(fc);
	if (ret)
		fc_fail(fc, ret, "fsconfig", key);
	return ret;
}

int lfs_fc_mount(struct lfs_fc *fc, const char *mnt)
{
	int mfd;

	if (fc->fd < 0 || fc->err)
		return fc->err;
	if (fsconfig(fc->fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
		fc_fail(fc, -errno, "FSCONFIG_CMD_CREATE", NULL);
		fc_drain_log(fc);
		return fc->err;
	}
	fc_drain_log(fc);
	mfd = fsmount(fc->fd, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0) {
		fc_fail(fc, -errno, "fsmount", NULL);
		fc_drain_log(fc);
		return fc->err;
	}
	if (move_mount(mfd, "", AT_FDCWD, mnt, MOVE_MOUNT_F_EMPTY_PATH))
		fc_fail(fc, -errno, "move_mount", NULL);
	close(mfd);
	return fc->err;
}

void lfs_fc_close(struct lfs_fc *fc)
{
	if (fc->fd >= 0)
		close(fc->fd);
	fc->fd = -1;
}

char *lfs_lowerdir_list(int n, char *const *layers)
{
	size_t len = 1;
	char *out, *p;

	for (int i = 0; i < n; i++)
		len += 2 * strlen(layers[i]) + 1;
	out = malloc(len);
	if (!out)
		return NULL;
	p = out;
	for (int i = 0; i < n; i++) {
		if (i)
			*p++ = ':';
		for (const char *c = layers[i]; *c; c++) {
			if (*c == ':' || *c == '\\')
				*p++ = '\\';
			*p++ = *c;
		}
	}
	*p = '\0';
	return out;
}

int lfs_mount_layers(const char *mnt, int n, char *const *layers,
		     enum lfs_how how, char *log, size_t loglen)
{
	struct lfs_fc fc;
	char *list = NULL;
	int ret;

	if (log && loglen)
		log[0] = '\0';
	if (how != LFS_VIA_FSCONFIG_PLUS) {
		list = lfs_lowerdir_list(n, layers);
		if (!list)
			return -ENOMEM;
	}
	if (how == LFS_VIA_MOUNT2) {
		char *data;

		if (asprintf(&data, "lowerdir=%s", list) < 0) {
			free(list);
			return -ENOMEM;
		}
		/* mount(2) copies one page of options. */
		if (strlen(data) >= 4096)
			ret = -E2BIG;
		else
			ret = mount("none", mnt, lfs_fstype(), 0, data) ? -errno : 0;
		free(data);
		free(list);
		return ret;
	}

	/* fsconfig(2) takes strings of up to 255 bytes: lowerdir+ exists. */
	if (how == LFS_VIA_FSCONFIG && strlen(list) > 255) {
		free(list);
		return -E2BIG;
	}
	if (lfs_fc_open(&fc, lfs_fstype())) {
		free(list);
		return fc.err;
	}
	if (how == LFS_VIA_FSCONFIG)
		lfs_fc_set(&fc, "lowerdir", list);
	else
		for (int i = 0; i < n && !fc.err; i++)
			lfs_fc_set(&fc, "lowerdir+", layers[i]);
	ret = lfs_fc_mount(&fc, mnt);
	if (log && loglen && ret)
		snprintf(log, loglen, "%s%s(failed at %s)", fc.log,
			 fc.log[0] ? " " : "", fc.step);
	else if (log && loglen)
		snprintf(log, loglen, "%s", fc.log);
	lfs_fc_close(&fc);
	free(list);
	return ret;
}

static int stack_mnt(struct lfs_stack *s)
{
	if ((size_t)snprintf(s->mnt, sizeof(s->mnt), "%s/mnt", s->dir) >=
	    sizeof(s->mnt))
		return -ENAMETOOLONG;
	if (mkdir(s->mnt, 0755))
		return -errno;
	return 0;
}

int lfs_stack_init(struct lfs_stack *s, const char *tag)
{
	int ret;

	memset(s, 0, sizeof(*s));
	ret = lfs_mkscratch(s->dir, sizeof(s->dir), tag);
	return ret ? ret : stack_mnt(s);
}

int lfs_stack_init_in(struct lfs_stack *s, const char *parent,
		      const char *name)
{
	memset(s, 0, sizeof(*s));
	if ((size_t)snprintf(s->dir, sizeof(s->dir), "%s/%s", parent, name) >=
	    sizeof(s->dir))
		return -ENAMETOOLONG;
	if (mkdir(s->dir, 0755))
		return -errno;
	return stack_mnt(s);
}

const char *lfs_stack_add(struct lfs_stack *s, const char *const *entries)
{
	char *path;
	int ret;

	if (s->nlayers >= LFS_STACK_MAX)
		return NULL;
	if (asprintf(&path, "%s/L%d", s->dir, s->nlayers) < 0)
		return NULL;
	if (mkdir(path, 0755)) {
		fprintf(stderr, "# mkdir %s: %s\n", path, strerror(errno));
		free(path);
		return NULL;
	}
	ret = entries ? lfs_build(path, entries) : 0;
	if (ret) {
		fprintf(stderr, "# building layer %s: %s\n", path, strerror(-ret));
		free(path);
		return NULL;
	}
	s->layer[s->nlayers++] = path;
	return path;
}

int lfs_stack_mount(struct lfs_stack *s, enum lfs_how how)
{
	int ret = lfs_mount_layers(s->mnt, s->nlayers, s->layer, how,
				   s->log, sizeof(s->log));

	if (!ret)
		s->mounted = true;
	return ret;
}

int lfs_stack_umount(struct lfs_stack *s)
{
	if (!s->mounted)
		return 0;
	if (umount2(s->mnt, 0))
		return -errno;
	s->mounted = false;
	return 0;
}

void lfs_stack_fini(struct lfs_stack *s)
{
	if (s->mounted && umount2(s->mnt, 0))
		umount2(s->mnt, MNT_DETACH);
	s->mounted = false;
	if (s->dir[0])
		lfs_rm_rf(s->dir);
	for (int i = 0; i < s->nlayers; i++)
		free(s->layer[i]);
	s->nlayers = 0;
}

static int cmp_len_desc(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

int lfs_umount_under(const char *dir)
{
	char line[2 * PATH_MAX], mp[PATH_MAX];
	char **found = NULL;
	size_t n = 0, dlen = strlen(dir);
	int ret = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char **bigger;

		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ..." */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		if (strncmp(mp, dir, dlen) || (mp[dlen] && mp[dlen] != '/'))
			continue;
		bigger = realloc(found, (n + 1) * sizeof(*found));
		if (!bigger)
			break;
		found = bigger;
		found[n] = strdup(mp);
		if (found[n])
			n++;
	}
	fclose(f);
	qsort(found, n, sizeof(*found), cmp_len_desc);
	for (size_t i = 0; i < n; i++) {
		if (umount2(found[i], MNT_DETACH) && errno != EINVAL && !ret)
			ret = -errno;
		free(found[i]);
	}
	free(found);
	return ret;
}

void lfs_stack_remove(const struct lfs_stack *s)
{
	if (!s->dir[0])
		return;
	lfs_umount_under(s->dir);
	lfs_rm_rf(s->dir);
}

static char *ring_buf(void)
{
	static char ring[16][PATH_MAX];
	static unsigned int next;

	return ring[next++ % 16];
}

const char *lfs_at(const struct lfs_stack *s, const char *rel)
{
	char *buf = ring_buf();

	if (snprintf(buf, PATH_MAX, "%s%s%s", s->mnt, *rel ? "/" : "", rel) >=
	    PATH_MAX)
		fprintf(stderr, "# path too long: %s/%s\n", s->mnt, rel);
	return buf;
}

const char *lfs_in_scratch(const struct lfs_stack *s, const char *rel)
{
	char *buf = ring_buf();

	if (snprintf(buf, PATH_MAX, "%s/%s", s->dir, rel) >= PATH_MAX)
		fprintf(stderr, "# path too long: %s/%s\n", s->dir, rel);
	return buf;
}

const char *lfs_in_layer(const struct lfs_stack *s, int i, const char *rel)
{
	char *buf = ring_buf();

	if (snprintf(buf, PATH_MAX, "%s%s%s", s->layer[i], *rel ? "/" : "",
		     rel) >= PATH_MAX)
		fprintf(stderr, "# path too long: %s/%s\n", s->layer[i], rel);
	return buf;
}

/* ---------------------------------------------------------------------- */
/* Looking at files                                                        */

char *lfs_cat(const char *path)
{
	size_t cap = 4096, len = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	buf = malloc(cap + 1);
	for (;;) {
		ssize_t n;

		if (!buf)
			break;
		if (len == cap) {
			char *bigger = realloc(buf, 2 * cap + 1);

			if (!bigger) {
				free(buf);
				buf = NULL;
				errno = ENOMEM;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			int err = errno;

			free(buf);
			buf = NULL;
			errno = err;
			break;
		}
		if (n == 0) {
			buf[len] = '\0';
			break;
		}
		len += n;
	}
	close(fd);
	return buf;
}

ssize_t lfs_pread_file(const char *path, void *buf, size_t len, off_t off)
{
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + done);

		if (n < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		if (n == 0)
			break;
		done += n;
	}
	close(fd);
	return done;
}

int lfs_write_file(const char *path, const void *data, size_t len)
{
	size_t done = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, (const char *)data + done, len - done);

		if (n < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		done += n;
	}
	if (close(fd))
		return -errno;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char type_marker(unsigned char t)
{
	switch (t) {
	case DT_DIR:	return '/';
	case DT_LNK:	return '@';
	case DT_FIFO:	return '|';
	case DT_CHR:	return '%';
	case DT_BLK:	return '!';
	case DT_SOCK:	return '=';
	case DT_REG:	return 0;
	default:	return '?';
	}
}

char *lfs_ls(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, len = 1;
	char *out = NULL, *p;

	if (!d)
		return NULL;
	errno = 0;
	while ((de = readdir(d))) {
		char marker = type_marker(de->d_type);

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **bigger;

			cap = cap ? 2 * cap : 64;
			bigger = realloc(names, cap * sizeof(*names));
			if (!bigger)
				goto out;
			names = bigger;
		}
		names[n] = malloc(strlen(de->d_name) + 2);
		if (!names[n])
			goto out;
		sprintf(names[n], "%s%.1s", de->d_name, &marker);
		len += strlen(names[n]) + 1;
		n++;
	}
	if (errno)
		goto out;
	qsort(names, n, sizeof(*names), cmp_str);
	out = malloc(len);
	if (!out)
		goto out;
	p = out;
	*p = '\0';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? " " : "", names[i]);
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return out;
}

int lfs_lstat_errno(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? errno : 0;
}

int lfs_statx_dev_ino(const char *path, dev_t *dev, uint64_t *ino)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW,
		  STATX_INO | STATX_TYPE, &stx))
		return -errno;
	*dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	*ino = stx.stx_ino;
	return 0;
}

long lfs_getdents_all(int dirfd, size_t bufsize, struct lfs_dent **out)
{
	char *buf = malloc(bufsize);
	struct lfs_dent *ents = NULL;
	long n = 0, cap = 0;

	*out = NULL;
	if (!buf)
		return -ENOMEM;
	for (;;) {
		long got = syscall(SYS_getdents64, dirfd, buf, bufsize);

		if (got < 0) {
			int err = -errno;

			free(buf);
			free(ents);
			return err;
		}
		if (got == 0)
			break;
		for (long pos = 0; pos < got; ) {
			struct lfs_dirent64 *d = (void *)(buf + pos);

			if (n == cap) {
				struct lfs_dent *bigger;

				cap = cap ? 2 * cap : 256;
				bigger = realloc(ents, cap * sizeof(*ents));
				if (!bigger) {
					free(buf);
					free(ents);
					return -ENOMEM;
				}
				ents = bigger;
			}
			ents[n].ino = d->d_ino;
			ents[n].off = d->d_off;
			ents[n].type = d->d_type;
			snprintf(ents[n].name, sizeof(ents[n].name), "%s",
				 d->d_name);
			n++;
			pos += d->d_reclen;
		}
	}
	free(buf);
	*out = ents;
	return n;
}

/* ---------------------------------------------------------------------- */
/* Memory, page cache, credentials                                         */

int lfs_drop_caches(void)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, "3", 1) != 1) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	return 0;
}

long lfs_meminfo_kb(const char *field)
{
	char line[256];
	size_t flen = strlen(field);
	long val = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			val = strtol(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

long lfs_resident_pages(const char *path, long *total_pages)
{
	long page = sysconf(_SC_PAGESIZE), pages, resident = 0;
	unsigned char *vec;
	struct stat st;
	void *map;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		close(fd);
		return -errno;
	}
	pages = (st.st_size + page - 1) / page;
	if (total_pages)
		*total_pages = pages;
	if (!pages) {
		close(fd);
		return 0;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -errno;
	vec = malloc(pages);
	if (!vec || mincore(map, st.st_size, vec)) {
		int err = vec ? -errno : -ENOMEM;

		free(vec);
		munmap(map, st.st_size);
		return err;
	}
	for (long i = 0; i < pages; i++)
		resident += vec[i] & 1;
	free(vec);
	munmap(map, st.st_size);
	return resident;
}

int lfs_open_as(uid_t uid, gid_t gid, const char *dir, const char *rel,
		int flags)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return errno;
	if (pid == 0) {
		int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC), fd;

		if (dfd < 0 || setgroups(0, NULL) ||
		    setresgid(gid, gid, gid) || setresuid(uid, uid, uid))
			_exit(255);
		fd = openat(dfd, rel, flags | O_CLOEXEC);
		_exit(fd < 0 ? errno : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* ---------------------------------------------------------------------- */
/* Randomness: splitmix64, good enough and trivially replayable            */

uint64_t lfs_seed(void)
{
	const char *env = getenv("LFS_SEED");
	uint64_t seed;

	if (env && *env) {
		seed = strtoull(env, NULL, 0);
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000007ull ^ ts.tv_nsec ^
		       ((uint64_t)getpid() << 32);
	}
	printf("# LFS_SEED=%llu (fs %s)\n", (unsigned long long)seed, lfs_fs());
	fflush(stdout);
	return seed;
}

void lfs_rng_init(struct lfs_rng *r, uint64_t seed)
{
	r->s = seed;
}

uint64_t lfs_rand(struct lfs_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t lfs_below(struct lfs_rng *r, uint32_t n)
{
	return n ? (uint32_t)(lfs_rand(r) % n) : 0;
}

bool lfs_chance(struct lfs_rng *r, unsigned int percent)
{
	return lfs_below(r, 100) < percent;
}
