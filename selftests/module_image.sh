#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# End to end with the real parts, inside the test VM: Debian's
# docker-registry on 127.0.0.1, images built with umoci and pushed with
# skopeo, layerd started here, `mount -t layerfs -o image=...`, and crun
# running containers whose rootfs is that mount.  TAP output; run once by
# scripts/run-tests (module_* programs), installed without the .sh.
#
# Knobs: LFS_E2E_KEEP=1 keeps the work directory.
set -u

self=$(readlink -f "$0")
BUILD=$(dirname "$(dirname "$self")")
# Installed as $BUILD/selftests/module_image; the libraries stay in the tree.
scripts=$(dirname "$BUILD")/scripts
# shellcheck source=scripts/tap-lib.sh
. "$scripts/tap-lib.sh" || exit 1
lib=$scripts/image-lib.sh

# The store and the container's upper layer on ext4, as on a host.
base=/run/lfs/ext4
mountpoint -q "$base" || base=${LFS_TEST_DIR:-/tmp}
W=$base/e2e
PIDS=()
MOUNTS=()

cleanup() {
	local m p
	for m in "${MOUNTS[@]}"; do
		umount "$m" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		kill -CONT "$p" 2>/dev/null
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -n "${LFS_E2E_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT

[ -f "$lib" ] || skip_all "$lib not found"
# shellcheck source=scripts/image-lib.sh
. "$lib"
for tool in docker-registry skopeo umoci crun python3 "$LAYERD" "$LAYERCTL"; do
	command -v "$tool" >/dev/null || skip_all "$tool is not installed"
done
need_cgroup2 || skip_all "no cgroup2 for crun"

rm -rf "$W"
mkdir -p "$W"

# --- the registry and the images -------------------------------------------

BIG_MIB=32
if ! start_registry; then
	not_ok "registry starts" "docker-registry did not come up"
	tap_done
fi
if make_image e2e/app one "$BIG_MIB" && make_image e2e/app two 1 &&
	make_image e2e/app many 2; then
	ok "registry on $REG with three images pushed by skopeo"
else
	not_ok "registry on $REG with three images pushed by skopeo"
	tap_done
fi

# --- layerd -------------------------------------------------------------------

if start_layerd "$W/layerd.log"; then
	ok "layerd registers"
else
	not_ok "layerd registers" "$(tail -5 "$W/layerd.log")"
fi
if lctl status >"$W/status.out" 2>&1 && grep -q "$LAYERD_PID" "$W/status.out"; then
	ok "layerctl status shows the daemon"
else
	not_ok "layerctl status shows the daemon" "$(head -5 "$W/status.out")"
fi

# --- mount by reference and run a container -------------------------------------

rootfs=$W/c1/rootfs
mkdir -p "$W/c1/upper" "$W/c1/work" "$rootfs"
if mount -t layerfs -o "image=$REG/e2e/app:one,upperdir=$W/c1/upper,workdir=$W/c1/work" none "$rootfs" 2>"$W/mount.err"; then
	MOUNTS+=("$rootfs")
	ok "mount -o image=$REG/e2e/app:one"
else
	not_ok "mount -o image=$REG/e2e/app:one" "$(cat "$W/mount.err")" "$(dmesg | tail -3)" "$(tail -5 "$W/layerd.log")"
fi
if grep -q "image=$REG/e2e/app:one" /proc/self/mountinfo; then
	ok "mountinfo shows the image"
else
	not_ok "mountinfo shows the image" "$(grep layerfs /proc/self/mountinfo)"
fi
if lctl status >"$W/status.out" 2>&1 && grep -q "e2e/app:one" "$W/status.out" &&
	grep -q "sha256:" "$W/status.out"; then
	ok "layerctl status lists the mount with its image and digest"
else
	not_ok "layerctl status lists the mount with its image and digest" "$(head -20 "$W/status.out")"
fi

# The layer directories and a checksum of everything in them.
lctl inspect --json "$REG/e2e/app:one" >"$W/inspect.json" 2>&1
mapfile -t LAYERS < <(python3 -c 'import json,sys; [print(l["path"]) for l in json.load(open(sys.argv[1]))["layers"]]' "$W/inspect.json")
layers_sum() { find "${LAYERS[@]}" -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum; }
sum_before=$(layers_sum)

# 4 KiB at 1 MiB + 4 KiB into /data/big, from the container.
off=$((1024 * 1024 + 4096))
if container c1 "$rootfs" "dd if=/dev/zero of=/data/big bs=4096 count=1 seek=$((off / 4096)) conv=notrunc 2>/dev/null && sync" >"$W/c1.out" 2>&1; then
	ok "a container writes 4 KiB into a ${BIG_MIB} MiB file of the image and exits 0"
else
	not_ok "a container writes 4 KiB into a ${BIG_MIB} MiB file of the image and exits 0" "$(tail -5 "$W/c1.out")"
fi

sync -f "$rootfs"
expect=$W/big.expect
cp "$W/big-one.orig" "$expect"
dd if=/dev/zero of="$expect" bs=4096 count=1 seek=$((off / 4096)) conv=notrunc status=none
if cmp -s "$expect" "$rootfs/data/big"; then
	ok "the merged file reads the write and the image's data around it"
else
	not_ok "the merged file reads the write and the image's data around it" "$(cmp "$expect" "$rootfs/data/big" 2>&1 | head -2)"
fi

stats=$(grep " $rootfs " /proc/self/mountstats)
gran=$(sed -n 's/.*cow_granules=\([0-9]*\).*/\1/p' <<<"$stats")
cbytes=$(sed -n 's/.*cow_bytes=\([0-9]*\).*/\1/p' <<<"$stats")
blocks=$(stat -c %b "$W/c1/upper/data/big" 2>/dev/null || echo 999999)
# One granule at most (none when the write covers a whole granule).
if [ -n "$gran" ] && [ "$gran" -le 1 ] && [ "$cbytes" -le 65536 ] &&
	[ $((blocks * 512)) -le $((128 * 1024)) ]; then
	ok "the upper layer holds only the touched granule ($cbytes bytes copied, $((blocks / 2)) KiB allocated)"
else
	not_ok "the upper layer holds only the touched granule" "$stats" "upper blocks: $blocks"
fi
if [ "$(layers_sum)" = "$sum_before" ]; then
	ok "the image's layers are untouched"
else
	not_ok "the image's layers are untouched"
fi

# --- the daemon is not needed by running containers ---------------------------------

container c2 "$rootfs" '
	i=0
	while [ $i -lt 40 ]; do
		dd if=/data/big of=/dev/null bs=65536 count=16 skip=$((i * 7)) 2>/dev/null || exit 1
		dd if=/dev/zero of=/data/big bs=4096 count=1 seek=$((i * 97 + 1000)) conv=notrunc 2>/dev/null || exit 2
		echo $i >/tmp/progress || exit 3
		sleep 0.1
		i=$((i + 1))
	done
	sync' >"$W/c2.out" 2>&1 &
c2=$!
sleep 1
kill -KILL "$LAYERD_PID"
wait "$LAYERD_PID" 2>/dev/null
if wait "$c2"; then
	ok "SIGKILL of layerd during container I/O: the container exits 0"
else
	not_ok "SIGKILL of layerd during container I/O: the container exits 0" "$(tail -5 "$W/c2.out")"
fi
if cat "$rootfs/data/small" >/dev/null && ls "$rootfs/bin" >/dev/null; then
	ok "the mount works with no daemon"
else
	not_ok "the mount works with no daemon"
fi

if mount -t layerfs -o "image=$REG/e2e/app:one" none "$W/c1/rootfs" 2>"$W/mount.err"; then
	MOUNTS+=("$W/c1/rootfs")
	not_ok "no daemon: an image mount fails at once" "it succeeded"
elif dmesg | tail -5 | grep -q "no layerd"; then
	ok "no daemon: an image mount fails at once, saying so"
else
	not_ok "no daemon: an image mount fails at once, saying so" "$(dmesg | tail -3)"
fi

if start_layerd "$W/layerd2.log"; then
	ok "a restarted layerd registers"
else
	not_ok "a restarted layerd registers" "$(tail -5 "$W/layerd2.log")"
fi
r2=$W/c3/rootfs
mkdir -p "$r2"
if mount -t layerfs -o "image=$REG/e2e/app:one,pull=never" none "$r2" 2>"$W/mount.err" &&
	MOUNTS+=("$r2") && container c3 "$r2" 'cat /data/small' >"$W/c3.out" 2>&1 &&
	grep -qx one "$W/c3.out"; then
	ok "the restarted daemon serves new mounts from the store (pull=never)"
else
	not_ok "the restarted daemon serves new mounts from the store (pull=never)" "$(cat "$W/mount.err")" "$(cat "$W/c3.out")"
fi

# --- gc keeps what is mounted ------------------------------------------------------

lctl rm "$REG/e2e/app:one" >/dev/null 2>&1
lctl gc >"$W/gc.out" 2>&1
missing=0
for l in "${LAYERS[@]}"; do
	[ -d "$l" ] || missing=$((missing + 1))
done
if [ "$missing" = 0 ] && grep -qx one "$rootfs/data/small" &&
	cmp -s "$W/big-one.orig" "$r2/data/big"; then
	ok "layerctl gc keeps the layers of a mounted, removed image"
else
	not_ok "layerctl gc keeps the layers of a mounted, removed image" "$missing layer dirs gone" "$(tail -5 "$W/gc.out")"
fi
umount "$rootfs" "$r2"
MOUNTS=()
lctl gc >"$W/gc.out" 2>&1
missing=0
for l in "${LAYERS[@]}"; do
	[ -d "$l" ] || missing=$((missing + 1))
done
if [ "$missing" = "${#LAYERS[@]}" ]; then
	ok "after unmount, gc removes them"
else
	not_ok "after unmount, gc removes them" "$missing of ${#LAYERS[@]} gone" "$(tail -5 "$W/gc.out")"
fi

# --- the daemon dies while a mount waits ---------------------------------------------

kill -STOP "$REG_PID"
r4=$W/c4/rootfs
mkdir -p "$r4"
t0=$(date +%s)
mount -t layerfs -o "image=$REG/e2e/app:two,resolve_timeout=120" none "$r4" 2>"$W/mount4.err" &
m4=$!
wait_for 20 sh -c "\"$LAYERCTL\" status 2>/dev/null | grep -qi 'pending[^0-9]*[1-9]'" || sleep 2
kill -KILL "$LAYERD_PID"
wait "$LAYERD_PID" 2>/dev/null
if wait "$m4"; then
	MOUNTS+=("$r4")
	not_ok "layerd killed during a pending mount: the mount fails" "it succeeded"
elif [ $(($(date +%s) - t0)) -lt 60 ]; then
	ok "layerd killed during a pending mount: the mount fails promptly ($(($(date +%s) - t0)) s)"
else
	not_ok "layerd killed during a pending mount: the mount fails promptly" "took $(($(date +%s) - t0)) s"
fi
kill -CONT "$REG_PID"

# --- twenty mounts of an image not in the store: one pull ---------------------------

start_layerd "$W/layerd3.log" || not_ok "layerd restarts" "$(tail -5 "$W/layerd3.log")"
: >"$W/registry/log"
fails=0
for i in $(seq 1 20); do
	mkdir -p "$W/m$i/rootfs"
	mount -t layerfs -o "image=$REG/e2e/app:many" none "$W/m$i/rootfs" 2>"$W/m$i.err" &
	pids[i]=$!
done
for i in $(seq 1 20); do
	if wait "${pids[i]}"; then
		MOUNTS+=("$W/m$i/rootfs")
		grep -qx many "$W/m$i/rootfs/data/small" || fails=$((fails + 1))
	else
		fails=$((fails + 1))
	fi
done
# Each blob of the image is fetched once (GET .../blobs/sha256:...).
blob_gets=$(grep -ac 'GET /v2/e2e/app/blobs/sha256:[0-9a-f]* ' "$W/registry/log")
distinct=$(grep -ao 'GET /v2/e2e/app/blobs/sha256:[0-9a-f]*' "$W/registry/log" | sort -u | wc -l)
if [ "$fails" = 0 ] && [ "$blob_gets" = "$distinct" ] && [ "$distinct" -ge 1 ]; then
	ok "twenty concurrent mounts of an image not in the store: all succeed, one pull ($blob_gets blob GETs)"
else
	not_ok "twenty concurrent mounts of an image not in the store: all succeed, one pull" \
		"$fails mounts failed; $blob_gets blob GETs for $distinct blobs" "$(cat "$W"/m*.err | head -3)"
fi

# --- layerctl mount; SIGTERM answers waiting mounts ------------------------------

r5=$W/c5/rootfs
mkdir -p "$r5"
if lctl mount --pull never "$REG/e2e/app:many" "$r5" >"$W/lmount.out" 2>&1; then
	MOUNTS+=("$r5")
fi
if grep -qx many "$r5/data/small" 2>/dev/null; then
	ok "layerctl mount REF DIR"
else
	not_ok "layerctl mount REF DIR" "$(cat "$W/lmount.out")"
fi

kill -STOP "$REG_PID"
r6=$W/c6/rootfs
mkdir -p "$r6"
mount -t layerfs -o "image=$REG/e2e/app:two,pull=always,resolve_timeout=120" none "$r6" 2>"$W/mount6.err" &
m6=$!
wait_for 20 sh -c "\"$LAYERCTL\" status 2>/dev/null | grep -qi 'pending[^0-9]*[1-9]'" || sleep 2
kill -TERM "$LAYERD_PID"
if wait "$m6"; then
	MOUNTS+=("$r6")
	not_ok "SIGTERM: layerd answers a waiting mount with an error" "the mount succeeded"
elif dmesg | tail -5 | grep -q "shutting down"; then
	ok "SIGTERM: layerd answers a waiting mount with an error"
else
	not_ok "SIGTERM: layerd answers a waiting mount with an error" "$(dmesg | tail -3)" "$(cat "$W/mount6.err")"
fi
if wait "$LAYERD_PID"; then
	ok "SIGTERM: layerd exits 0"
else
	not_ok "SIGTERM: layerd exits 0" "$(tail -5 "$W/layerd3.log")"
fi
kill -CONT "$REG_PID"

# --- a registry that is down, served by its mirror ------------------------------

dead=127.0.0.1:$(free_port)
LAYERD_EXTRA="insecure = $dead
mirror = $dead=$REG"
if start_layerd "$W/layerd4.log"; then
	r7=$W/c7/rootfs
	mkdir -p "$r7"
	if mount -t layerfs -o "image=$dead/e2e/app:two" none "$r7" 2>"$W/mount7.err"; then
		MOUNTS+=("$r7")
	fi
	if grep -qx two "$r7/data/small" 2>/dev/null &&
		lctl images 2>/dev/null | grep -q "$dead/e2e/app"; then
		ok "layerd pulls through a mirror when the registry is down; the store keeps the name"
	else
		not_ok "layerd pulls through a mirror when the registry is down; the store keeps the name" \
			"$(cat "$W/mount7.err")" "$(tail -5 "$W/layerd4.log")"
	fi
else
	not_ok "layerd with a mirror registers" "$(tail -5 "$W/layerd4.log")"
fi

tap_done
