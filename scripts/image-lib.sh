# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shared by selftests/module_image.sh and scripts/bench/guest, inside the
# test VM: a docker-registry on 127.0.0.1, images built with umoci and
# pushed with skopeo, layerd, and crun containers.  Sourced, not run.
#
# The caller sets W (a scratch directory on a disk), BUILD, and an array
# PIDS that its exit trap kills; the functions return non-zero on failure.

LAYERD=$BUILD/user/layerd
LAYERCTL=$BUILD/user/layerctl

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	local n=$(($1 * 10))
	shift
	while ! "$@" 2>/dev/null; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# start_registry: docker-registry on a free port with its access log in
# $W/registry/log.  Sets REG (host:port) and REG_PID.
start_registry() {
	REG=127.0.0.1:$(free_port)
	mkdir -p "$W/registry"
	cat >"$W/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $W/registry/data
http:
  addr: $REG
EOF
	docker-registry serve "$W/registry/config.yml" >"$W/registry/log" 2>&1 &
	REG_PID=$!
	PIDS+=("$REG_PID")
	wait_for 30 python3 -c "import urllib.request as u; u.urlopen('http://$REG/v2/', timeout=1)"
}

# make_image REPO TAG MIB [FILES]: push $REG/REPO:TAG with a busybox layer,
# then a layer with /data/big (MIB MiB, random; kept as $W/big-TAG.orig),
# /data/small (holding TAG) and FILES small files under /data/files.
make_image() {
	local repo=$1 tag=$2 mib=$3 files=${4:-0} layout=$W/oci b=$W/bundle-$2 c
	[ -d "$layout" ] || umoci init --layout "$layout" || return 1
	umoci new --image "$layout:$tag" || return 1
	umoci unpack --image "$layout:$tag" "$b" >/dev/null || return 1
	mkdir -p "$b/rootfs/bin" "$b/rootfs/proc" "$b/rootfs/dev" "$b/rootfs/sys" \
		"$b/rootfs/tmp" "$b/rootfs/data/files"
	cp /bin/busybox "$b/rootfs/bin/busybox" || return 1
	for c in sh dd cat cmp sleep head sync true; do
		ln -sf busybox "$b/rootfs/bin/$c"
	done
	umoci repack --refresh-bundle --no-history --image "$layout:$tag" "$b" 2>/dev/null || return 1
	head -c $((mib << 20)) /dev/urandom >"$b/rootfs/data/big"
	echo "$tag" >"$b/rootfs/data/small"
	for ((c = 0; c < files; c++)); do
		echo "$tag file $c" >"$b/rootfs/data/files/f$c"
	done
	umoci repack --refresh-bundle --no-history --image "$layout:$tag" "$b" 2>/dev/null || return 1
	cp "$b/rootfs/data/big" "$W/big-$tag.orig"
	timeout 300 skopeo copy -q --dest-tls-verify=false "oci:$layout:$tag" \
		"docker://$REG/$repo:$tag" >/dev/null
}

# start_layerd LOG: layerd with $W/store, until it registered; the lines
# of $LAYERD_EXTRA go into its configuration too.  Sets LAYERD_PID.
start_layerd() {
	mkdir -p "$W/etc"
	cat >"$W/etc/layerd.conf" <<EOF
store = $W/store
insecure = $REG
parallelism = 4
${LAYERD_EXTRA:-}
EOF
	JOURNAL_STREAM='' "$LAYERD" --foreground --config "$W/etc/layerd.conf" >"$1" 2>&1 &
	LAYERD_PID=$!
	PIDS+=("$LAYERD_PID")
	wait_for 20 grep -q "layerd: registered" "$1"
}

lctl() { "$LAYERCTL" --store "$W/store" "$@"; }

# container NAME ROOTFS SCRIPT: crun runs /bin/sh -c SCRIPT in ROOTFS.
# Without a cgroup: a cgroup with the cpuset controller flips the
# cpusets_enabled static key when it is made and removed, and under TCG
# a vCPU has run the int3 of that text patch after the patch was done
# (guest panic in __alloc_pages, in interrupt).  The tests are about the
# filesystem, not resource control.
container() {
	local b=$W/run-$1
	mkdir -p "$b"
	if [ ! -f "$b/config.json" ]; then
		(cd "$b" && crun spec) || return 1
	fi
	python3 - "$b/config.json" "$2" "$3" <<'EOF' || return 1
import json, sys
path, root, script = sys.argv[1:]
c = json.load(open(path))
c["root"] = {"path": root, "readonly": False}
c["process"]["args"] = ["/bin/sh", "-c", script]
c["process"]["terminal"] = False
json.dump(c, open(path, "w"))
EOF
	crun --cgroup-manager=disabled run --bundle "$b" "$1" </dev/null
}

# need_cgroup2: crun reads the cgroup mode from /sys/fs/cgroup even when
# it makes no cgroup.
need_cgroup2() {
	[ -e /sys/fs/cgroup/cgroup.controllers ] ||
		mount -t cgroup2 cgroup2 /sys/fs/cgroup
}
