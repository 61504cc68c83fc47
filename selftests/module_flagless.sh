#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A lower layer on a filesystem that keeps no inode flags (minix here, as
# erofs, squashfs, NFS and many FUSE filesystems), under an upper layer on
# tmpfs:
#  - lsattr (FS_IOC_GETFLAGS, FS_IOC_FSGETXATTR) of a file or directory not
#    yet copied up reports no flags instead of failing ENOTTY;
#  - chattr +i and +a of such objects work: they are copied up, the flags
#    are enforced through the mount, kept across a remount and can be
#    cleared again.
# TAP output; run once (module_*), installed without the .sh.
set -u

# Installed as $BUILD/selftests/module_flagless; the library stays in
# the tree.
scripts=$(dirname "$(dirname "$(dirname "$(readlink -f "$0")")")")/scripts
# shellcheck source=scripts/tap-lib.sh
. "$scripts/tap-lib.sh" || exit 1

base=${LFS_TEST_DIR:-/tmp}/flagless
tap_scratch "$base" mkfs.minix python3

mkdir -p "$base/lower" "$base/t" || exit 1
truncate -s 16M "$base/minix.img" || exit 1
mkfs.minix -3 "$base/minix.img" >/dev/null 2>&1 || skip_all "mkfs.minix failed"
tap_loop_mount "$base/minix.img" minix "$base/lower" \
	"this kernel does not mount minix (CONFIG_MINIX_FS)"
mount -t tmpfs tmpfs "$base/t" || exit 1
TAP_MNTS+=("$base/t")

L=$base/lower/L up=$base/t/upper work=$base/t/work mnt=$base/t/mnt
mkdir -p "$L/d" "$up" "$work" "$mnt" || exit 1
echo i >"$L/fi" && echo a >"$L/fa" && echo x >"$L/d/x" || exit 1

# flags PATH [SET]: print PATH's FS_IOC_GETFLAGS value in hex, or an
# errno name; with SET, FS_IOC_SETFLAGS it first.  flags PATH fsx: the
# same through FS_IOC_FSGETXATTR (fsx_xflags).
flags() {
	python3 - "$@" <<'EOF'
import errno, fcntl, os, struct, sys
GET, SET, FSGET = 0x80086601, 0x40086602, 0x801c581f
path = sys.argv[1]
try:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    if len(sys.argv) > 2 and sys.argv[2] == "fsx":
        print(hex(struct.unpack("I", fcntl.ioctl(fd, FSGET, bytes(28))[:4])[0]))
    else:
        if len(sys.argv) > 2:
            fcntl.ioctl(fd, SET, struct.pack("i", int(sys.argv[2], 0)))
        print(hex(struct.unpack("i", fcntl.ioctl(fd, GET, bytes(8))[:4])[0]))
except OSError as e:
    print(errno.errorcode[e.errno])
EOF
}

# The premise: this filesystem has no flags at all.
case $(flags "$L/fi") in
ENOTTY) ;;
*) skip_all "minix answered FS_IOC_GETFLAGS" ;;
esac

do_mount() {
	mount -t layerfs -o "lowerdir=$L,upperdir=$up,workdir=$work" none "$mnt"
}
if do_mount; then
	TAP_MNTS+=("$mnt")
	ok "mount over a lower layer on minix"
else
	not_ok "mount over a lower layer on minix"
	tap_done
fi

got="$(flags "$mnt/fi") $(flags "$mnt/d") $(flags "$mnt/fi" fsx)"
if [ "$got" = "0x0 0x0 0x0" ] && [ ! -e "$up/fi" ] && [ ! -e "$up/d" ]; then
	ok "lsattr of lower objects reports no flags, copies nothing up"
else
	not_ok "lsattr of lower objects reports no flags, copies nothing up" \
		"GETFLAGS file, dir, FSGETXATTR file: $got" "$(ls -la "$up")"
fi

# FS_IMMUTABLE_FL 0x10, FS_APPEND_FL 0x20
got="$(flags "$mnt/fi" 0x10) $(flags "$mnt/fa" 0x20) $(flags "$mnt/d" 0x20)"
if [ "$got" = "0x10 0x20 0x20" ]; then
	ok "chattr +i, +a of lower objects"
else
	not_ok "chattr +i, +a of lower objects" "got $got, wanted 0x10 0x20 0x20"
fi

# enforced PASS: the flags hold through the mount.
enforced() {
	local bad=()

	echo more 2>/dev/null >>"$mnt/fi" && bad+=("appended to the immutable file")
	rm -f "$mnt/fi" 2>/dev/null; [ -e "$mnt/fi" ] || bad+=("removed the immutable file")
	echo more 2>/dev/null >"$mnt/fa" && bad+=("truncated the append-only file")
	echo more >>"$mnt/fa" || bad+=("could not append to the append-only file")
	rm -f "$mnt/d/x" 2>/dev/null; [ -e "$mnt/d/x" ] ||
		bad+=("removed an entry of the append-only directory")
	: >"$mnt/d/new-$1" || bad+=("could not create in the append-only directory")
	if [ ${#bad[@]} -eq 0 ]; then
		ok "$1: the flags are enforced"
	else
		not_ok "$1: the flags are enforced" "${bad[@]}"
	fi
}
enforced "after chattr"
if umount "$mnt" && do_mount; then
	enforced "after a remount"
	got="$(flags "$mnt/fi") $(flags "$mnt/fa") $(flags "$mnt/d")"
	if [ "$got" = "0x10 0x20 0x20" ]; then
		ok "after a remount: lsattr shows the flags"
	else
		not_ok "after a remount: lsattr shows the flags" "got $got"
	fi
else
	not_ok "remount"
	tap_done
fi

got="$(flags "$mnt/fi" 0) $(flags "$mnt/fa" 0) $(flags "$mnt/d" 0)"
if [ "$got" = "0x0 0x0 0x0" ] && echo new >"$mnt/fi" && rm "$mnt/fa" "$mnt/d/x" &&
	[ "$(cat "$mnt/fi")" = new ] && [ "$(cat "$L/fi" "$L/fa")" = "$(printf 'i\na')" ]; then
	ok "chattr -i, -a: writable again, the lower layer untouched"
else
	not_ok "chattr -i, -a: writable again, the lower layer untouched" "got $got"
fi
tap_done
