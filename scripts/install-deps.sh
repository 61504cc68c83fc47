#!/bin/bash
# Install everything layerfs needs to build and test, from Debian's packages
# only, on a fresh Debian 12 (bookworm) machine.  Run as root.  Idempotent.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: must run as root (apt-get install)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

pkgs=(
	# build the module against Debian's 6.12 kernel, and boot it in a VM
	build-essential bc kmod cpio xz-utils zstd
	linux-image-6.12-amd64 linux-headers-6.12-amd64
	# kselftest harness and checkpatch.pl come from the kernel source
	linux-source-6.12 perl python3
	sparse shellcheck
	# libFuzzer targets for the userspace parsers (make -C user fuzz)
	clang libclang-rt-14-dev
	# VM test runner
	qemu-system-x86 busybox-static
	e2fsprogs xfsprogs btrfs-progs util-linux attr procps binutils dmsetup
	# userspace libraries
	pkg-config libnl-3-dev libnl-genl-3-dev libcurl4-openssl-dev libssl-dev
	libarchive-dev zlib1g-dev libzstd-dev libjansson-dev
	# real components for integration tests
	docker-registry skopeo umoci openssl apache2-utils crun
	valgrind
)

# apt-get update once per boot of a fresh machine; skip if lists are fresh.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -360 2>/dev/null | head -n1)" ]; then
	apt-get update -q
fi
apt-get install -y -q --no-install-recommends "${pkgs[@]}"
