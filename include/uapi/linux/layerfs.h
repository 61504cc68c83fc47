/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * layerfs: numbers shared by the kernel module and userspace.
 *
 * This header is the one place where layerfs's on-disk names, limits and
 * netlink numbers are defined; kernel and tools both include it.
 */
#ifndef _UAPI_LINUX_LAYERFS_H
#define _UAPI_LINUX_LAYERFS_H

#include <linux/types.h>

/* statfs(2) f_type of a layerfs mount: "layr" */
#define LAYERFS_SUPER_MAGIC	0x6c617972

/* Most lower layers one mount may stack (mount(2) or fsconfig lowerdir+). */
#define LAYERFS_MAX_LAYERS	1024

/*
 * OCI image-spec whiteouts, exactly as a layer tarball carries them:
 * ".wh.NAME" hides NAME in lower layers, ".wh..wh..opq" makes its directory
 * opaque to lower layers.  Any other name starting with ".wh." is reserved:
 * never shown in the merged view and never created through it.
 */
#define LAYERFS_WH_PREFIX	".wh."
#define LAYERFS_WH_PREFIX_LEN	4
#define LAYERFS_WH_META_PREFIX	".wh..wh."
#define LAYERFS_WH_OPAQUE	".wh..wh..opq"

/* overlayfs-style opaque marker, honoured so overlay layer dirs mount. */
#define LAYERFS_OVL_OPAQUE_XATTR	"trusted.overlay.opaque"

/*
 * Private xattr namespaces: never passed through to or from the merged view.
 * "trusted.overlay." is hidden too, as overlayfs's own metadata.
 */
#define LAYERFS_XATTR_PREFIX		"trusted.layerfs."
#define LAYERFS_OVL_XATTR_PREFIX	"trusted.overlay."

/*
 * Copy-on-write granule of a writable mount (cow_block=): a power of two.
 * The default, 4 KiB, is what the benchmarks chose (see
 * Documentation/filesystems/layerfs-bench.rst): it copies least on a first
 * write and keeps random writes into a partial file near the speed of an
 * upper file; 64 KiB only read a mostly-lower file faster.
 */
#define LAYERFS_COW_BLOCK_MIN		4096U
#define LAYERFS_COW_BLOCK_MAX		(1024U * 1024U)
#define LAYERFS_COW_BLOCK_DEFAULT	4096U

/*
 * On a non-directory of the upper layer that was copied up from a lower
 * one: which lower object it came from, so that its st_ino stays the
 * lower one's.  The value is struct layerfs_origin, little-endian.
 */
#define LAYERFS_XATTR_ORIGIN		LAYERFS_XATTR_PREFIX "origin"
#define LAYERFS_ORIGIN_MAGIC		0x4f52464cU	/* "LFRO" */
#define LAYERFS_ORIGIN_VERSION		1

struct layerfs_origin {
	__le32 magic;		/* LAYERFS_ORIGIN_MAGIC */
	__u8 version;		/* LAYERFS_ORIGIN_VERSION */
	__u8 reserved[3];	/* zero */
	__le32 layer;		/* lower layer index, 1 = topmost */
	__le32 generation;	/* the lower inode's i_generation */
	__le64 ino;		/* the lower inode's number */
};

/*
 * On an upper object made append-only or immutable (chattr +a, +i): those
 * flags, as the characters 'a' and 'i'.  They are kept off the upper inode
 * itself, where they would stop layerfs from writing its records and the
 * directory's entries there; layerfs enforces them on its own inode.
 */
#define LAYERFS_XATTR_PROTATTR		LAYERFS_XATTR_PREFIX "protattr"

/*
 * The copy-on-write map of a partial file: which granules of the upper
 * file hold data, the rest coming from the origin (a lower file).  Stored
 * as the upper file's LAYERFS_XATTR_MAP, little-endian: struct
 * layerfs_map, then path_len bytes of the origin's path relative to its
 * layer root (no NUL), then nr_runs runs of present granules.  crc is the
 * CRC-32 (crc32_le, seed ~0) of the whole value with crc set to zero.
 *
 * Version 2 (written): each run is one or two unsigned LEB128 numbers
 * (seven bits a byte, least significant first, the top bit set on every
 * byte but the last; at most five bytes, and no needless final zero
 * byte).  The first is twice the number of granules from the end of the
 * previous run to its start, less one since runs never touch (for the
 * first run: twice its start), plus one if the run is longer than one
 * granule; only then follows the second, its length less two.  The runs
 * end the value.  A run of scattered writes takes one to three bytes
 * where version 1 took eight, which matters on ext4: its xattrs share one
 * block, and a map that does not fit costs copying (see layerfs.rst).
 *
 * Version 1 (still read): nr_runs struct layerfs_map_run, sorted, not
 * overlapping or touching.
 */
#define LAYERFS_XATTR_MAP		LAYERFS_XATTR_PREFIX "map"
#define LAYERFS_MAP_MAGIC		0x504d464cU	/* "LFMP" */
#define LAYERFS_MAP_VERSION		2
#define LAYERFS_MAP_VERSION_FIXED	1	/* struct layerfs_map_run */

struct layerfs_map {
	__le32 magic;		/* LAYERFS_MAP_MAGIC */
	__u8 version;		/* LAYERFS_MAP_VERSION */
	__u8 granule_shift;	/* granule = 1 << granule_shift bytes */
	__le16 path_len;
	__le32 nr_runs;
	__le32 crc;
	__le64 lower_valid;	/* bytes at and after it never come from origin */
	__le32 origin_layer;	/* 1 = topmost lower layer */
	__le32 origin_generation;
	__le64 origin_ino;
	__le64 origin_size;
	__le64 origin_mtime_sec;
	__le32 origin_mtime_nsec;
	__le32 reserved;	/* zero */
	char data[];
};

struct layerfs_map_run {
	__le32 start;		/* first granule */
	__le32 len;		/* granules */
};

/*
 * Generic netlink family "layerfs": the module and the daemon (layerd).
 *
 * The daemon sends REGISTER on its socket; the module remembers that
 * socket's port and forgets it when the socket closes.  A mount naming
 * image=REF makes the module send RESOLVE to that port; the daemon
 * answers with RESOLVE_REPLY on the same socket: the status, and on
 * success the image digest and the layer directories, top first.  MOUNTS
 * (dump) lists every layerfs mount, one message per mount; STATUS reports
 * the registration and the counters.  There is no multicast group: the
 * daemon and layerctl ask MOUNTS when they need to know, which is what gc
 * needs and never misses an event.
 *
 * Every command needs CAP_NET_ADMIN (EPERM otherwise).  Strings are
 * NUL-terminated; the _MAX lengths include the NUL.
 */
#define LAYERFS_GENL_NAME	"layerfs"
#define LAYERFS_GENL_VERSION	1

enum layerfs_cmd {
	LAYERFS_CMD_UNSPEC,
	LAYERFS_CMD_REGISTER,		/* daemon -> kernel */
	LAYERFS_CMD_UNREGISTER,		/* daemon -> kernel */
	LAYERFS_CMD_RESOLVE,		/* kernel -> daemon */
	LAYERFS_CMD_RESOLVE_REPLY,	/* daemon -> kernel */
	LAYERFS_CMD_MOUNTS,		/* dump: one message per mount */
	LAYERFS_CMD_STATUS,		/* registration and counters */
	__LAYERFS_CMD_MAX,
};

#define LAYERFS_CMD_MAX (__LAYERFS_CMD_MAX - 1)

enum layerfs_attr {
	LAYERFS_A_UNSPEC,
	LAYERFS_A_PAD,
	LAYERFS_A_REQUEST_ID,	/* u32: RESOLVE, RESOLVE_REPLY */
	LAYERFS_A_IMAGE_REF,	/* string: RESOLVE, MOUNTS */
	LAYERFS_A_PLATFORM,	/* string "os/arch[/variant]": RESOLVE */
	LAYERFS_A_PULL_POLICY,	/* u8 enum layerfs_pull: RESOLVE */
	LAYERFS_A_TIMEOUT_MS,	/* u32: RESOLVE, the mount's deadline */
	LAYERFS_A_STATUS,	/* u32 errno, 0 = success: RESOLVE_REPLY */
	LAYERFS_A_ERROR_TEXT,	/* string: RESOLVE_REPLY on failure */
	LAYERFS_A_IMAGE_DIGEST,	/* string "sha256:HEX": RESOLVE_REPLY, MOUNTS */
	LAYERFS_A_LAYER,	/* string, repeated, top first: RESOLVE_REPLY, MOUNTS */
	LAYERFS_A_MOUNT_ID,	/* u64, unique per module load: MOUNTS */
	LAYERFS_A_DEV,		/* u32 st_dev (new_encode_dev): MOUNTS */
	LAYERFS_A_UPPERDIR,	/* string: MOUNTS */
	LAYERFS_A_WORKDIR,	/* string: MOUNTS */
	LAYERFS_A_COW_BLOCK,	/* u32: MOUNTS */
	LAYERFS_A_COW_FILES,	/* u64: MOUNTS */
	LAYERFS_A_COW_GRANULES,	/* u64: MOUNTS */
	LAYERFS_A_COW_BYTES,	/* u64: MOUNTS */
	LAYERFS_A_COW_WHOLE_BYTES, /* u64: MOUNTS */
	LAYERFS_A_DAEMON_PID,	/* u32, 0 = none: STATUS */
	LAYERFS_A_PENDING,	/* u32 requests waiting for a reply: STATUS */
	LAYERFS_A_REQUESTS,	/* u64 RESOLVE sent: STATUS */
	LAYERFS_A_REJECTED,	/* u64 replies rejected: STATUS */
	__LAYERFS_A_MAX,
};

#define LAYERFS_A_MAX (__LAYERFS_A_MAX - 1)

/* pull= of an image mount: what the daemon may fetch from the registry. */
enum layerfs_pull {
	LAYERFS_PULL_MISSING,	/* pull what the store lacks (default) */
	LAYERFS_PULL_NEVER,	/* use the store only */
	LAYERFS_PULL_ALWAYS,	/* ask the registry for the tag each time */
	__LAYERFS_PULL_MAX,
};

#define LAYERFS_IMAGE_REF_MAX		1024
#define LAYERFS_PLATFORM_MAX		64
#define LAYERFS_DIGEST_MAX		136	/* "sha512:" + 128 hex + NUL */
#define LAYERFS_ERROR_TEXT_MAX		512
#define LAYERFS_LAYER_PATH_MAX		4096	/* PATH_MAX */

/* resolve_timeout= of an image mount, seconds. */
#define LAYERFS_RESOLVE_TIMEOUT_DEFAULT	300U
#define LAYERFS_RESOLVE_TIMEOUT_MAX	3600U

#endif /* _UAPI_LINUX_LAYERFS_H */
