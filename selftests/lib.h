/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the layerfs selftests.
 *
 * The tests run as root in a QEMU guest.  The runner gives every program a
 * fresh empty directory ($LFS_TEST_DIR) on the filesystem under test
 * ($LFS_FS: ext4, xfs, btrfs or tmpfs); everything a test builds (layers,
 * expected trees, mount points) lives below it.
 *
 * Library code never includes kselftest_harness.h (the harness defines
 * non-static symbols, so it may be included by one translation unit only).
 * Functions here return 0 or a negative errno and print a "# " diagnostic
 * line (TAP comment) when something unexpected happens.  The LFS_* macros at
 * the end expand inside test bodies and use the harness's assertions.
 */
#ifndef LFS_SELFTEST_LIB_H
#define LFS_SELFTEST_LIB_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ---------------------------------------------------------------------- */
/* Environment                                                             */

/* $LFS_TEST_DIR, or NULL when the runner did not set it. */
const char *lfs_test_dir(void);
/* $LFS_FS ("ext4", "xfs", "btrfs", "tmpfs"), or "unknown". */
const char *lfs_fs(void);
/*
 * The filesystem type the tests mount: "layerfs".  $LFS_DEV_FSTYPE replaces
 * it (e.g. "overlay") so the tests' own plumbing can be debugged on a host
 * that cannot load the module; tests of layerfs-only rules then fail.
 */
const char *lfs_fstype(void);
/* Is @fstype listed in /proc/filesystems? */
bool lfs_fs_registered(const char *fstype);

/* unshare(CLONE_NEWNS) and make every mount private: mounts die with us. */
int lfs_private_mount_ns(void);
/* mkdtemp("$LFS_TEST_DIR/<tag>.XXXXXX") into @out. */
int lfs_mkscratch(char *out, size_t len, const char *tag);
/* rm -rf that does not cross into other mounts; 0 if @path is absent. */
int lfs_rm_rf(const char *path);
/* mkdir -p, mode 0755 for the directories it creates. */
int lfs_mkdir_p(const char *path);

/* ---------------------------------------------------------------------- */
/* Layers from a compact description                                       */

/*
 * lfs_build(root, entries) creates each entry below @root, in order.  An
 * entry is "PATH<kind> [attr ...]" where <kind> is
 *
 *	"dir/"			directory
 *	"file"			empty regular file
 *	"file=text"		regular file holding "text" (no spaces)
 *	"link->target"		symbolic link
 *	"name=>other"		hard link to @other (created earlier, same root)
 *	"dev@M:m"		character device M:m ("@0:0" is an overlay
 *				whiteout)
 *	"fifo|"			named pipe
 *	"sock#"			unix socket node
 *
 * and the optional attributes, separated by spaces, are
 *
 *	mode=0640 uid=N gid=N	permissions and owner (applied after chown)
 *	mtime=SECONDS		mtime (tv_nsec 0); set after all entries exist
 *	size=BYTES		truncate the regular file to BYTES (sparse tail)
 *	xattr=NAME=VALUE	extended attribute (repeatable)
 *	opaque			trusted.overlay.opaque=y on a directory
 *
 * An empty PATH (the entry starts with a space) is @root itself.
 * A backslash escapes a space or a backslash in PATH and its argument.
 * Missing parents are created as 0755 directories.
 */
int lfs_build(const char *root, const char *const *entries);
#define LFS_ENTRIES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* ---------------------------------------------------------------------- */
/* Mounting                                                                */

enum lfs_how {
	LFS_VIA_FSCONFIG_PLUS,	/* fsconfig "lowerdir+" once per layer */
	LFS_VIA_FSCONFIG,	/* fsconfig "lowerdir" = "TOP:...:BOTTOM" */
	LFS_VIA_MOUNT2,		/* mount(2) "lowerdir=TOP:...:BOTTOM" */
};

/*
 * A mount attempt through the new mount API.  Every step records the first
 * error in @err and appends the fs_context log to @log, so a test can make
 * several calls and then ask whether the attempt as a whole failed and why,
 * whichever step the filesystem chose to fail.
 */
struct lfs_fc {
	int fd;
	int err;		/* first -errno of any step, 0 if none */
	char step[64];		/* the step that failed first */
	char log[4096];		/* fs_context messages, one per line */
};

int lfs_fc_open(struct lfs_fc *fc, const char *fstype);
/* fsconfig(FSCONFIG_SET_STRING, key, value); FSCONFIG_SET_FLAG if !value. */
int lfs_fc_set(struct lfs_fc *fc, const char *key, const char *value);
/* FSCONFIG_CMD_CREATE + fsmount + move_mount onto @mnt; returns fc->err. */
int lfs_fc_mount(struct lfs_fc *fc, const char *mnt);
void lfs_fc_close(struct lfs_fc *fc);

/* "a:b\:c" style list of @n layers (colons and backslashes escaped). */
char *lfs_lowerdir_list(int n, char *const *layers);

/*
 * Mounts @n layers (@layers[0] is the top) on @mnt; @log (may be NULL) gets
 * the fs_context log, then "(failed at STEP)" if a step failed.  Returns 0
 * or -errno; -E2BIG, without trying, when the option string is longer than
 * the syscall takes (a page for mount(2), 255 bytes for fsconfig(2)).
 */
int lfs_mount_layers(const char *mnt, int n, char *const *layers,
		     enum lfs_how how, char *log, size_t loglen);

/* A scratch directory holding layers L0 (top) ... Ln and a mount point. */
#define LFS_STACK_MAX 1100
struct lfs_stack {
	char dir[PATH_MAX];
	char mnt[PATH_MAX];
	int nlayers;
	char *layer[LFS_STACK_MAX];	/* layer[0] is the top */
	bool mounted;
	char log[4096];			/* fs_context log of the last mount */
};

int lfs_stack_init(struct lfs_stack *s, const char *tag);
/* The same with the scratch directory made at @parent/@name. */
int lfs_stack_init_in(struct lfs_stack *s, const char *parent,
		      const char *name);
/* Adds a layer BELOW those already added and builds @entries in it. */
const char *lfs_stack_add(struct lfs_stack *s, const char *const *entries);
int lfs_stack_mount(struct lfs_stack *s, enum lfs_how how);
int lfs_stack_umount(struct lfs_stack *s);
/* Unmounts (lazily if busy) and removes the scratch directory. */
void lfs_stack_fini(struct lfs_stack *s);
/*
 * Detaches every mount below s->dir and removes it, touching nothing but
 * s->dir: for FIXTURE_TEARDOWN_PARENT (see libharness.h), which may run in
 * the test process or in its parent, where the test's heap means nothing.
 */
void lfs_stack_remove(const struct lfs_stack *s);
/* umount2(MNT_DETACH) every mount at or below @dir, deepest first. */
int lfs_umount_under(const char *dir);
/* "@mnt/@rel" in one of 16 rotating static buffers. */
const char *lfs_at(const struct lfs_stack *s, const char *rel);
/* "@dir/@rel" (the scratch directory) in one of 16 rotating buffers. */
const char *lfs_in_scratch(const struct lfs_stack *s, const char *rel);
/* "@layer[i]/@rel" in one of 16 rotating static buffers. */
const char *lfs_in_layer(const struct lfs_stack *s, int i, const char *rel);

/* ---------------------------------------------------------------------- */
/* Looking at files                                                        */

/* Whole file, NUL-terminated, malloc'd; NULL with errno set on failure. */
char *lfs_cat(const char *path);
/* Reads up to @len bytes at @off: bytes read or -errno. */
ssize_t lfs_pread_file(const char *path, void *buf, size_t len, off_t off);
int lfs_write_file(const char *path, const void *data, size_t len);
/*
 * Sorted listing of @dir without "." and "..", one space between names,
 * "name/" for DT_DIR, "name@" for DT_LNK, "name|" for DT_FIFO, "name%" for
 * DT_CHR, "name!" for DT_BLK, "name=" for DT_SOCK, "name?" for DT_UNKNOWN.
 * The markers come from d_type, so a test of the listing checks it too.
 * malloc'd; NULL with errno set on failure.
 */
char *lfs_ls(const char *dir);
/* errno of lstat(@path), 0 if it exists. */
int lfs_lstat_errno(const char *path);
/* statx(AT_SYMLINK_NOFOLLOW) returning st_dev as makedev(major, minor). */
int lfs_statx_dev_ino(const char *path, dev_t *dev, uint64_t *ino);

/* What getdents64(2) writes, one record per entry. */
struct lfs_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* One entry of a raw getdents64 listing. */
struct lfs_dent {
	uint64_t ino;
	int64_t off;
	unsigned char type;
	char name[256];
};
/*
 * Reads all of @dir (an open fd, from its current offset) with getdents64
 * and a buffer of @bufsize bytes.  Returns the number of entries stored in
 * *@out (malloc'd) or -errno.
 */
long lfs_getdents_all(int dirfd, size_t bufsize, struct lfs_dent **out);

/* ---------------------------------------------------------------------- */
/* Trees                                                                   */

/*
 * Calls @fn for @root and everything below it (lstat, no symlinks
 * followed, parents before children), with @rel the path relative to @root
 * ("" for @root).  Stops at the first non-zero return and returns it.
 */
int lfs_walk(const char *root,
	     int (*fn)(const char *path, const char *rel,
		       const struct stat *st, void *arg),
	     void *arg);

enum {
	LFS_CMP_MTIME	= 1 << 0,	/* mtime, to the nanosecond */
	LFS_CMP_XATTR	= 1 << 1,	/* user.* xattrs of files and dirs */
	LFS_CMP_INO	= 1 << 2,	/* st_ino classes: a bijection */
	LFS_CMP_DINO	= 1 << 3,	/* actual: d_ino == st_ino, d_type ok */
	LFS_CMP_DEV	= 1 << 4,	/* actual: st_dev == st_dev of its root */
};

/*
 * Compares the trees under @expected and @actual: names, types, permission
 * bits, owners, sizes, contents, symlink targets, device numbers, plus what
 * @flags asks.  Returns 0 when equal, 1 when they differ (@why then names
 * the first difference), -errno on error.
 */
int lfs_tree_compare(const char *expected, const char *actual, unsigned flags,
		     char *why, size_t whylen);

/*
 * The model of OCI layer extraction: applies the layer directory @layer on
 * top of the plain directory @target, as a container runtime extracting
 * layer tarballs one after the other does (OCI image-spec, layer.md):
 *
 *  - ".wh..wh..opq" in a directory, or trusted.overlay.opaque=y on it,
 *    removes what lower layers put in that directory, before this layer's
 *    entries are added;
 *  - ".wh.NAME", or a 0/0 character device NAME, removes NAME put there by
 *    lower layers; a NAME in this same layer is still added;
 *  - other ".wh..wh.*" names do nothing; no ".wh." name is ever created;
 *  - a directory over a directory merges (this layer's metadata wins);
 *    anything else replaces what was there, recursively.
 *
 * Hard links inside @layer stay hard links in @target.  Directory mtimes
 * are collected and must be applied by lfs_oci_finish() after the last
 * layer (adding entries changes them).
 */
struct lfs_oci;
/*
 * A plain copy of @src into the new directory @dst: whiteouts and opaque
 * markers are copied as they are; hard links, owners, modes, user.*
 * xattrs and mtimes are kept.
 */
int lfs_copy_tree(const char *src, const char *dst);
struct lfs_oci *lfs_oci_new(const char *target);
int lfs_oci_apply(struct lfs_oci *o, const char *layer);
int lfs_oci_finish(struct lfs_oci *o);	/* sets dir mtimes and frees @o */

/* ---------------------------------------------------------------------- */
/* Memory, page cache, credentials                                         */

/* sync, then drop page cache, dentries and inodes. */
int lfs_drop_caches(void);
/* A /proc/meminfo field in kB, -1 if absent. */
long lfs_meminfo_kb(const char *field);
/* Pages of @path resident in the page cache (mmap + mincore); -errno. */
long lfs_resident_pages(const char *path, long *total_pages);

/*
 * In a child with uid/gid @uid/@gid and no supplementary groups:
 * openat(@dir, @rel, @flags), where @dir is opened before the credentials
 * change (so the directories above it need not be searchable) and @rel is
 * resolved with the new ones.  Returns 0 if it succeeded, else its errno.
 */
int lfs_open_as(uid_t uid, gid_t gid, const char *dir, const char *rel,
		int flags);

/* ---------------------------------------------------------------------- */
/* Randomness                                                              */

/*
 * $LFS_SEED if set, else a fresh seed; printed as "# LFS_SEED=<n>" so any
 * run can be replayed.
 */
uint64_t lfs_seed(void);
struct lfs_rng {
	uint64_t s;
};
void lfs_rng_init(struct lfs_rng *r, uint64_t seed);
uint64_t lfs_rand(struct lfs_rng *r);
/* Uniform in [0, n). */
uint32_t lfs_below(struct lfs_rng *r, uint32_t n);
/* true with probability @percent / 100. */
bool lfs_chance(struct lfs_rng *r, unsigned int percent);

/* ---------------------------------------------------------------------- */
/* Macros for test bodies (they use the harness's ASSERT_*)                */

/* Adds a layer below the ones added so far. */
#define LFS_LAYER(s, ...) \
	ASSERT_NE(NULL, lfs_stack_add((s), LFS_ENTRIES(__VA_ARGS__)))

#define LFS_MOUNT(s) \
	ASSERT_EQ(0, lfs_stack_mount((s), LFS_VIA_FSCONFIG_PLUS)) { \
		TH_LOG("mount failed: %s", (s)->log); \
	}

/* Both the layerfs module and the test directory must be there. */
#define LFS_REQUIRE_ENV() do { \
	ASSERT_TRUE(lfs_fs_registered(lfs_fstype())) { \
		TH_LOG("%s is not in /proc/filesystems", lfs_fstype()); \
	} \
	ASSERT_NE(NULL, lfs_test_dir()) { \
		TH_LOG("LFS_TEST_DIR is not set"); \
	} \
} while (0)

#endif /* LFS_SELFTEST_LIB_H */
