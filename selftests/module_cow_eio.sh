#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# EIO from the upper filesystem in the middle of copy-on-write, per upper
# filesystem (ext4, xfs) on a device-mapper device that starts failing
# every write (dm-flakey error_writes) after a first, fsync'ed write:
#  - a later buffered write's fsync, and an O_SYNC write, fail with EIO;
#  - what was fsync'ed before reads back, then and after the device works
#    again and both mounts are made again;
#  - every other byte reads its old lower data or the data written, never
#    zeros or garbage, and the lower file is unchanged;
#  - a read(2) of a partial file that meets a failing device (dm-flakey
#    failing all I/O) returns EIO, or the bytes before the failure, never
#    bytes that are not the file's;
#  - once fsync failed to write a granule's data, no later fsync records
#    the granule, even with the device well again (the upper file reports
#    its writeback error only once), and a failed write into a granule
#    already there fails the fsync of every descriptor open on the file;
#  - sync(2) makes what was written durable: a power cut right after it
#    (dm-flakey dropping every write) loses nothing;
#  - a read of a partial file across a bad block of its lower file gives
#    the bytes before it, then EIO, never zeros.
# TAP output; run once (module_*), installed without the .sh.
set -u

# Installed as $BUILD/selftests/module_cow_eio; the library stays in the tree.
scripts=$(dirname "$(dirname "$(dirname "$(readlink -f "$0")")")")/scripts
# shellcheck source=scripts/tap-lib.sh
. "$scripts/tap-lib.sh" || exit 1

base=${LFS_TEST_DIR:-/tmp}/eio
DEVS=()
MNTS=()

cleanup() {
	local m d
	for m in "${MNTS[@]}"; do
		umount "$m" 2>/dev/null
	done
	for d in "${DEVS[@]}"; do
		case $d in
		/dev/loop*) losetup -d "$d" 2>/dev/null ;;
		*) dmsetup remove "$d" 2>/dev/null ;;
		esac
	done
	rm -rf "$base"
}
trap cleanup EXIT

for tool in dmsetup losetup xfs_io mkfs.ext4 mkfs.xfs python3; do
	command -v "$tool" >/dev/null || skip_all "$tool is not installed"
done
modprobe loop 2>/dev/null
modprobe dm_flakey 2>/dev/null
[ -e /dev/loop-control ] || skip_all "no loop devices"
dmsetup targets 2>/dev/null | grep -q '^flakey' || skip_all "no dm-flakey target"

# check FILE LOWER ACKED [MAYBE...]: FILE (8 MiB) reads LOWER's bytes except
# where an "OFF:LEN:BYTE" write covers it; ACKED writes must be there,
# MAYBE writes may be, wholly per 4 KiB block (the writes are 4 KiB).
check() {
	python3 - "$@" <<'EOF'
import sys
path, lower, acked = sys.argv[1], sys.argv[2], sys.argv[3]
maybe = sys.argv[4:]
def parse(w):
    o, l, b = w.split(":")
    return int(o), int(l), int(b, 16)
want = open(lower, "rb").read()
try:
    got = open(path, "rb").read()
except OSError as e:
    sys.exit(f"reading it: {e}")
if len(got) != len(want):
    sys.exit(f"size {len(got)}, want {len(want)}")
o, l, b = parse(acked)
if got[o:o + l] != bytes([b]) * l:
    sys.exit(f"the fsync'ed write at {o} did not read back")
cover = {(o, l)}
for w in maybe:
    o2, l2, b2 = parse(w)
    blk = got[o2:o2 + l2]
    if blk not in (bytes([b2]) * l2, want[o2:o2 + l2]):
        sys.exit(f"write at {o2} reads neither old nor new data: {blk[:16]!r}")
    cover.add((o2, l2))
for i in range(0, len(want), 4096):
    if any(o3 <= i < o3 + l3 for o3, l3 in cover):
        continue
    if got[i:i + 4096] != want[i:i + 4096]:
        sys.exit(f"block at {i} is not the lower data: {got[i:i + 16]!r}")
EOF
}

# read_dead FD LOWER LIMIT: read(2)s of 1 MiB from offset 0 of FD return
# LOWER's bytes, at most LIMIT of them, then EIO.
read_dead() {
	python3 - "$@" <<'EOF'
import errno, os, sys
fd, want = int(sys.argv[1]), open(sys.argv[2], "rb").read()
limit = int(sys.argv[3])
off = 0
while True:
    try:
        got = os.pread(fd, 1 << 20, off)
    except OSError as e:
        if e.errno != errno.EIO:
            sys.exit(f"read at {off}: {e}, want EIO")
        break
    if not got:
        sys.exit(f"end of file at {off}, want EIO")
    if got != want[off:off + len(got)]:
        i = next(i for i in range(len(got)) if got[i] != want[off + i])
        sys.exit(f"read at {off} returned {len(got)} bytes, "
                 f"wrong from {off + i}: {got[i:i + 8]!r}")
    off += len(got)
if off > limit:
    sys.exit(f"{off} bytes read before EIO, want at most {limit}")
EOF
}

# table DEV NAME linear|failing|dropping|dead[-nolockfs]: failing fails
# writes, dropping drops them (as a power cut would), dead fails all I/O;
# -nolockfs: without freezing the filesystem first (dropping never does)
table() {
	local sectors nolockfs=
	sectors=$(blockdev --getsz "$1")
	# Without a freeze of the filesystem, which would write it all.
	case $3 in
	*-nolockfs) set -- "$1" "$2" "${3%-nolockfs}"; nolockfs=--nolockfs ;;
	dropping) nolockfs=--nolockfs ;;
	esac
	case $3 in
	linear) set -- "$1" "$2" "0 $sectors linear $1 0" ;;
	failing) set -- "$1" "$2" "0 $sectors flakey $1 0 0 3600 1 error_writes" ;;
	dropping) set -- "$1" "$2" "0 $sectors flakey $1 0 0 3600 1 drop_writes" ;;
	*) set -- "$1" "$2" "0 $sectors flakey $1 0 0 3600" ;;
	esac
	dmsetup suspend --noudevsync $nolockfs "$2" && dmsetup load "$2" --table "$3" &&
		dmsetup resume --noudevsync "$2"
}

# mount_all: the upper filesystem ($fs on $dev at $d/up) and layerfs at $d/mnt
mount_all() {
	mount -t "$fs" "$dev" "$d/up" && MNTS=("$d/up" "${MNTS[@]}") &&
	mkdir -p "$d/up/upper" "$d/up/work" &&
	mount -t layerfs -o "lowerdir=$d/lower,upperdir=$d/up/upper,workdir=$d/up/work,cow_block=64k" none "$d/mnt" &&
	MNTS=("$d/mnt" "${MNTS[@]}")
}

mkdir -p "$base"
for fs in ext4 xfs; do
	d=$base/$fs
	mkdir -p "$d/lower" "$d/up" "$d/mnt"
	xfs_io -f -c "pwrite -q -S 0x4c 0 8m" "$d/lower/f" || { not_ok "$fs: lower file"; continue; }
	cp "$d/lower/f" "$d/lower/g"
	cp "$d/lower/f" "$d/lower/h"
	cp "$d/lower/f" "$d/lower/k"
	cp "$d/lower/f" "$d/lower/m"
	cp "$d/lower/f" "$d/lower.orig"
	truncate -s 512M "$d/img"
	loop=$(losetup -f --show "$d/img") || { not_ok "$fs: losetup"; continue; }
	DEVS=("lfs-eio-$fs" "$loop" "${DEVS[@]}")
	dmsetup create --noudevsync "lfs-eio-$fs" --table "0 $(blockdev --getsz "$loop") linear $loop 0" ||
		{ not_ok "$fs: dmsetup create"; continue; }
	# No udev in the test VM: make the node ourselves.
	dmsetup mknodes "lfs-eio-$fs" 2>/dev/null
	dev=/dev/mapper/lfs-eio-$fs
	out=$("mkfs.$fs" -q "$dev" 2>&1) || { not_ok "$fs: mkfs" "$out"; continue; }
	mount_all || { not_ok "$fs: mount"; continue; }
	echo plain >"$d/up/plain"

	# One fsync'ed write, then the device fails every write.
	xfs_io -c "pwrite -q -S 0x41 65536 4096" -c fsync "$d/mnt/f" ||
		{ not_ok "$fs: the first write and fsync"; continue; }
	table "$loop" "lfs-eio-$fs" failing || { not_ok "$fs: dmsetup load flakey"; continue; }

	# EROFS is the same failure when ext4 (errors=remount-ro) has
	# already aborted its journal on a failed superblock write.
	out=$(xfs_io -c "pwrite -q -S 0x42 1048576 4096" -c fsync "$d/mnt/f" 2>&1)
	if grep -qE "Input/output error|Read-only file system" <<<"$out"; then
		ok "$fs: fsync after a copy-on-write write fails with EIO or EROFS"
	else
		not_ok "$fs: fsync after a copy-on-write write fails with EIO or EROFS" "xfs_io said: $out"
	fi
	out=$(xfs_io -s -c "pwrite -q -S 0x43 3145728 4096" "$d/mnt/f" 2>&1)
	if grep -qE "Input/output error|Read-only file system" <<<"$out"; then
		ok "$fs: an O_SYNC copy-on-write write fails with EIO or EROFS"
	else
		not_ok "$fs: an O_SYNC copy-on-write write fails with EIO or EROFS" "xfs_io said: $out"
	fi
	if why=$(check "$d/mnt/f" "$d/lower.orig" 65536:4096:41 1048576:4096:42 3145728:4096:43 2>&1); then
		ok "$fs: while writes fail, the file reads old or new data"
	elif grep -q "Input/output error" <<<"$why" && ! cat "$d/up/plain" >/dev/null 2>&1; then
		# ext4 shuts itself down on a failed journal write: every open
		# on it is EIO, its own files' too.
		ok "$fs: while writes fail, the file gives EIO, as every file of the shut-down upper filesystem"
	else
		not_ok "$fs: while writes fail, the file reads old or new data" "$why"
	fi

	# The device works again; everything is mounted anew.
	umount "$d/mnt" 2>/dev/null
	umount "$d/up" 2>/dev/null || umount -l "$d/up"
	MNTS=()
	table "$loop" "lfs-eio-$fs" linear || { not_ok "$fs: dmsetup load linear"; continue; }
	mount_all || { not_ok "$fs: mount after the failure" "$(dmesg | tail -3)"; continue; }
	if why=$(check "$d/mnt/f" "$d/lower.orig" 65536:4096:41 1048576:4096:42 3145728:4096:43 2>&1); then
		ok "$fs: after remount, the fsync'ed write reads back and every other block is old or new data"
	else
		not_ok "$fs: after remount, the fsync'ed write reads back and every other block is old or new data" "$why"
	fi
	if cmp -s "$d/lower/f" "$d/lower.orig"; then
		ok "$fs: the lower file is unchanged"
	else
		not_ok "$fs: the lower file is unchanged"
	fi

	# k: the upper filesystem fails to write a new granule's data, for one
	# fsync only.  That fsync reports EIO; the next one, with the device
	# well again, must not record the granule as written (the upper file
	# reports a writeback error once: a map written then pointed at lost
	# data, zeros after a remount).
	t="$fs: after fsync failed to write a granule, no later fsync records it"
	if xfs_io -c "pwrite -q -S 0x47 131072 4096" "$d/mnt/k" &&
		table "$loop" "lfs-eio-$fs" failing-nolockfs; then
		out=$(xfs_io -c fsync "$d/mnt/k" 2>&1)
		table "$loop" "lfs-eio-$fs" linear-nolockfs
		out2=$(xfs_io -c fsync "$d/mnt/k" 2>&1)
		umount "$d/mnt" 2>/dev/null
		umount "$d/up" 2>/dev/null || umount -l "$d/up"
		MNTS=()
		if ! grep -q "Input/output error" <<<"$out"; then
			not_ok "$t" "the fsync on the failing device said: $out"
		elif ! mount_all; then
			not_ok "$t" "mounting again failed"
		elif why=$(check "$d/mnt/k" "$d/lower.orig" 0:0:00 131072:4096:47 2>&1); then
			ok "$t"
		else
			not_ok "$t" "$why" "the fsync after the device recovered said: ${out2:-nothing}"
		fi
	else
		not_ok "$t" "setting it up failed"
	fi
	mount_all 2>/dev/null

	# m: a write into a granule already in the upper file (no map to
	# change) that the upper filesystem fails to write, with another
	# descriptor open on the file since before: its fsync must fail too.
	# The upper file reports the error to layerfs's one internal file, and
	# only once: that descriptor's fsync returned 0.
	t="$fs: a failed write into an upper granule fails the fsync of every descriptor"
	if xfs_io -c "pwrite -q -S 0x48 131072 4096" -c fsync "$d/mnt/m" &&
		exec 4<>"$d/mnt/m" &&
		xfs_io -c "pwrite -q -S 0x49 131072 4096" "$d/mnt/m" &&
		table "$loop" "lfs-eio-$fs" failing-nolockfs; then
		out=$(xfs_io -c fsync "$d/mnt/m" 2>&1)
		table "$loop" "lfs-eio-$fs" linear-nolockfs
		out2=$(python3 -c 'import os; os.fsync(4)' 2>&1)
		if ! grep -q "Input/output error" <<<"$out"; then
			not_ok "$t" "the first fsync said: ${out:-nothing}"
		elif grep -q "Input/output error" <<<"$out2"; then
			ok "$t"
		else
			not_ok "$t" "fsync of the descriptor open before said: ${out2:-nothing}"
		fi
	else
		not_ok "$t" "setting it up failed"
		table "$loop" "lfs-eio-$fs" linear-nolockfs
	fi
	exec 4>&-

	# h: sync(2), then the power goes (every write after it dropped).  A
	# MAP_SHARED write into a granule already in the upper file changes
	# no map: only sync(2)'s pass over layerfs writes it to the upper
	# file's page cache, after the pass over the upper filesystem.
	t="$fs: sync(2) makes a mapped write into an upper granule durable"
	cp "$d/lower.orig" "$d/h.want" &&
		xfs_io -c "pwrite -q -S 0x45 0 64k" -c "pwrite -q -S 0x46 4096 4096" \
			"$d/h.want" >/dev/null
	if xfs_io -c "pwrite -q -S 0x45 0 64k" -c fsync "$d/mnt/h" &&
		xfs_io -c "mmap -w 0 64k" -c "mwrite -S 0x46 4096 4096" \
			-c munmap "$d/mnt/h" && sync && table "$loop" "lfs-eio-$fs" dropping; then
		umount "$d/mnt" 2>/dev/null
		umount "$d/up" 2>/dev/null || umount -l "$d/up"
		MNTS=()
		if ! table "$loop" "lfs-eio-$fs" linear || ! mount_all; then
			not_ok "$t" "mounting again failed"
		elif cmp "$d/mnt/h" "$d/h.want" >/dev/null 2>&1; then
			ok "$t"
		else
			not_ok "$t" "$(cmp "$d/mnt/h" "$d/h.want" 2>&1)"
		fi
	else
		not_ok "$t" "setting it up failed"
		table "$loop" "lfs-eio-$fs" linear
	fi

	# g: a changed granule (64 KiB at 64 KiB) after a lower one, its
	# inode kept open and nothing of it cached when the device dies.
	t="$fs: a read that meets a dead upper device fails with EIO after the bytes before it"
	if xfs_io -c "pwrite -q -S 0x44 65536 4096" -c fsync "$d/mnt/g" &&
		exec 3<"$d/mnt/g" && echo 3 >/proc/sys/vm/drop_caches &&
		table "$loop" "lfs-eio-$fs" dead; then
		# The second 64 KiB granule is in the upper layer.
		if why=$(read_dead 3 "$d/lower.orig" 65536 2>&1); then
			ok "$t"
		else
			not_ok "$t" "$why"
		fi
		table "$loop" "lfs-eio-$fs" linear
	else
		not_ok "$t" "setting it up failed"
	fi
	exec 3<&-
	umount "$d/mnt" "$d/up"
	MNTS=()
done

# A lower file on a device with one bad 4 KiB block, 100 KiB into it: a
# read of the partial file across it gives the lower bytes before the
# block, then EIO.  The lower file's read returns the bytes before the
# block (filemap_read() drops the error): taking that short read for the
# end of the file filled the rest with zeros.
bad_block() {
	local d=$base/badlower loop dev phys total bad ext t
	t="a read of a partial file across a bad lower block gives EIO, never zeros"

	mkdir -p "$d/lower" "$d/t"
	truncate -s 64M "$d/img"
	loop=$(losetup -f --show "$d/img") || { not_ok "$t" "losetup"; return; }
	DEVS=("lfs-eio-bad" "$loop" "${DEVS[@]}")
	total=$(blockdev --getsz "$loop")
	dmsetup create --noudevsync lfs-eio-bad --table "0 $total linear $loop 0" ||
		{ not_ok "$t" "dmsetup create"; return; }
	dmsetup mknodes lfs-eio-bad 2>/dev/null
	dev=/dev/mapper/lfs-eio-bad
	mkfs.ext4 -q "$dev" && mount "$dev" "$d/lower" ||
		{ not_ok "$t" "mkfs or mount of the lower filesystem"; return; }
	MNTS=("$d/lower" "${MNTS[@]}")
	xfs_io -f -c "pwrite -q -S 0x4c 0 1m" -c fsync "$d/lower/f" >/dev/null ||
		{ not_ok "$t" "the lower file"; return; }
	# "0: [0..2047]: PHYS..END": the file in one extent, in sectors.
	ext=$(xfs_io -c fiemap "$d/lower/f" | awk 'NR == 2')
	if [[ ! $ext =~ ^[[:space:]]*0:\ \[0\.\.2047\]:\ ([0-9]+)\.\. ]]; then
		not_ok "$t" "the lower file is not one extent: $ext"
		return
	fi
	phys=${BASH_REMATCH[1]}
	bad=$((phys + 200))
	mount -t tmpfs tmpfs "$d/t" && MNTS=("$d/t" "${MNTS[@]}") &&
		mkdir -p "$d/t/upper" "$d/t/work" "$d/t/mnt" &&
		mount -t layerfs -o "lowerdir=$d/lower,upperdir=$d/t/upper,workdir=$d/t/work,cow_block=64k" \
			none "$d/t/mnt" && MNTS=("$d/t/mnt" "${MNTS[@]}") ||
		{ not_ok "$t" "mounting layerfs"; return; }
	# Partial, with one granule far from the bad block in the upper file.
	xfs_io -c "pwrite -q -S 0x55 524288 4096" -c fsync "$d/t/mnt/f" ||
		{ not_ok "$t" "the write that makes the file partial"; return; }
	dmsetup suspend --noudevsync lfs-eio-bad &&
		printf '0 %d linear %s 0\n%d 8 error\n%d %d linear %s %d\n' \
			"$bad" "$loop" "$bad" $((bad + 8)) $((total - bad - 8)) \
			"$loop" $((bad + 8)) | dmsetup load lfs-eio-bad &&
		dmsetup resume --noudevsync lfs-eio-bad ||
		{ not_ok "$t" "dmsetup load of the bad block"; return; }
	echo 3 >/proc/sys/vm/drop_caches
	xfs_io -f -c "pwrite -q -S 0x4c 0 1m" "$d/want" >/dev/null &&
		exec 4<"$d/t/mnt/f" || { not_ok "$t" "opening the file"; return; }
	if why=$(read_dead 4 "$d/want" $((100 << 10)) 2>&1); then
		ok "$t"
	else
		not_ok "$t" "$why"
	fi
	exec 4<&-
}
bad_block
tap_done
