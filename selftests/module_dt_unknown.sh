#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Lower layers on a filesystem whose readdir gives no file types
# (DT_UNKNOWN: xfs without ftype here, as NFS and some FUSE filesystems
# do), under an upper layer on tmpfs:
#  - every entry of a listing has the type and the inode number stat gives
#    it (d_type, d_ino == st_ino);
#  - so has an upper directory merging with a lower one of the same name
#    that has no origin record (an upper layer made outside layerfs): the
#    listing numbered it as the upper directory, lookup as the lower one;
#  - and one whose merge a middle layer's file cuts off;
#  - with the upper layer there too, the mount's sweep of the work dir
#    leaves a leftover directory that holds more than whiteouts whole.
# TAP output; run once (module_*), installed without the .sh.
set -u

# Installed as $BUILD/selftests/module_dt_unknown; the library stays in the tree.
scripts=$(dirname "$(dirname "$(dirname "$(readlink -f "$0")")")")/scripts
# shellcheck source=scripts/tap-lib.sh
. "$scripts/tap-lib.sh" || exit 1

base=${LFS_TEST_DIR:-/tmp}/dt-unknown
tap_scratch "$base" mkfs.xfs python3

mkdir -p "$base/lower" "$base/t" || exit 1
truncate -s 512M "$base/xfs.img" || exit 1
mkfs.xfs -q -f -m crc=0 -n ftype=0 "$base/xfs.img" >/dev/null 2>&1 ||
	skip_all "mkfs.xfs cannot make a filesystem without ftype"
tap_loop_mount "$base/xfs.img" xfs "$base/lower" \
	"this kernel does not mount xfs v4 (CONFIG_XFS_SUPPORT_V4)"
mount -t tmpfs tmpfs "$base/t" || exit 1
TAP_MNTS+=("$base/t")

# L1 (top lower) cuts off "cut", which L2 has as a directory; the upper
# layer has "d" and "cut" as directories of its own, with no origin.
L1=$base/lower/L1 L2=$base/lower/L2 up=$base/t/upper mnt=$base/t/mnt
mkdir -p "$L1/d/sub" "$L1/e" "$L2/d" "$L2/cut/hidden" "$up/d" "$up/cut" \
	"$base/t/work" "$mnt" || exit 1
echo f >"$L1/d/f" && echo x >"$L1/x" && echo c >"$L1/cut" &&
	echo g >"$L2/d/g" && ln -s x "$L1/l" && mkfifo "$L1/p" &&
	echo u >"$up/d/u" || exit 1

# lister DIR...: every entry whose getdents64 d_ino or d_type differs
# from lstat, one line each; nothing when all agree.
lister() {
	python3 - "$@" <<'EOF'
import ctypes, os, stat, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
DT = {stat.S_IFDIR: 4, stat.S_IFREG: 8, stat.S_IFLNK: 10, stat.S_IFIFO: 1,
      stat.S_IFCHR: 2, stat.S_IFBLK: 6, stat.S_IFSOCK: 12}
for d in sys.argv[1:]:
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    buf = ctypes.create_string_buffer(65536)
    while True:
        n = libc.syscall(217, fd, buf, len(buf))   # getdents64
        if n < 0:
            sys.exit("getdents64 %s: %s" % (d, os.strerror(ctypes.get_errno())))
        if n == 0:
            break
        off = 0
        while off < n:
            ino, _, reclen, dtype = struct.unpack_from("QqHB", buf.raw, off)
            name = buf.raw[off + 19:off + reclen].split(b"\0")[0].decode()
            off += reclen
            if name in (".", ".."):
                continue
            st = os.lstat(os.path.join(d, name))
            want = DT[stat.S_IFMT(st.st_mode)]
            if ino != st.st_ino or dtype != want:
                print("%s/%s: d_ino %d d_type %d, st_ino %d type %d"
                      % (d, name, ino, dtype, st.st_ino, want))
    os.close(fd)
EOF
}

# The premise: this xfs gives no types.
if [ -z "$(lister "$L1")" ]; then
	skip_all "xfs without ftype gave file types"
fi

if mount -t layerfs -o "lowerdir=$L1:$L2,upperdir=$up,workdir=$base/t/work" \
	none "$mnt"; then
	TAP_MNTS+=("$mnt")
	ok "mount over lower layers without file types"
else
	not_ok "mount over lower layers without file types"
	tap_done
fi

for pass in "first listing" "after a remount"; do
	mapfile -t bad < <(lister "$mnt" "$mnt/d" "$mnt/e" "$mnt/cut" 2>&1)
	if [ ${#bad[@]} -eq 0 ]; then
		ok "$pass: d_ino and d_type are what stat says"
	else
		not_ok "$pass: d_ino and d_type are what stat says" "${bad[@]}"
	fi
	if [ "$(cat "$mnt/d/f" "$mnt/d/g" "$mnt/d/u" 2>&1)" = "$(printf 'f\ng\nu')" ] &&
		[ -d "$mnt/d/sub" ] && [ -d "$mnt/cut" ] && [ ! -e "$mnt/cut/hidden" ]; then
		ok "$pass: merged content"
	else
		not_ok "$pass: merged content" "$(ls -laR "$mnt" 2>&1)"
	fi
	umount "$mnt" && mount -t layerfs \
		-o "lowerdir=$L1:$L2,upperdir=$up,workdir=$base/t/work" none "$mnt" ||
		{ not_ok "remount"; tap_done; }
done

# The work dir on the filesystem without types: "#lfs-0-1" holds a file
# that is no whiteout, so it stays as it is; "#lfs-0-2" goes.
w=$base/lower/work2
mkdir -p "$base/lower/up2" "$w/#lfs-0-1" "$w/#lfs-0-2" "$base/t/mnt2" &&
	: >"$w/#lfs-0-1/.wh.f" && echo k >"$w/#lfs-0-1/keep" &&
	: >"$w/#lfs-0-2/.wh.f" || exit 1
if mount -t layerfs -o "lowerdir=$L1,upperdir=$base/lower/up2,workdir=$w" \
	none "$base/t/mnt2"; then
	TAP_MNTS+=("$base/t/mnt2")
	if [ -f "$w/#lfs-0-1/.wh.f" ] && [ -f "$w/#lfs-0-1/keep" ] &&
		[ ! -e "$w/#lfs-0-2" ]; then
		ok "work dir sweep without types keeps what is not only whiteouts"
	else
		not_ok "work dir sweep without types keeps what is not only whiteouts" \
			"$(ls -laR "$w" 2>&1)"
	fi
else
	not_ok "mount with the upper layer on xfs without ftype"
fi
tap_done
