/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * layerfs: numbers shared by the kernel module and userspace.
 *
 * This header is the one place where layerfs's on-disk names, limits and
 * (later) netlink numbers are defined; kernel and tools both include it.
 */
#ifndef _UAPI_LINUX_LAYERFS_H
#define _UAPI_LINUX_LAYERFS_H

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

#endif /* _UAPI_LINUX_LAYERFS_H */
