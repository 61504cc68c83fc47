# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# TAP output for the test scripts (selftests/*.sh), sourced, not run.
# Reasons given to not_ok are printed as "# selftests/NAME: ...", the lines
# scripts/run-tests repeats in its summary.

T_N=0
T_FAILED=0
T_NFAILED=0
TAP_NAME=$(basename "$0" .sh)

ok() { T_N=$((T_N + 1)); echo "ok $T_N $*"; }

# not_ok TEXT [REASON...]
not_ok() {
	T_N=$((T_N + 1))
	T_FAILED=1
	T_NFAILED=$((T_NFAILED + 1))
	echo "not ok $T_N $1"
	shift
	local l
	for l in "$@"; do
		echo "# selftests/$TAP_NAME: $l"
	done
}

# skip_all REASON: the whole script is skipped (KSFT_SKIP).
skip_all() { echo "1..0 # SKIP $*"; exit 4; }

# tap_done: the plan, and exit status 1 if anything failed.
tap_done() { echo "1..$T_N"; exit "$T_FAILED"; }

# Scratch mounts of a test script under TAP_BASE: tap_scratch_cleanup
# (the EXIT trap tap_scratch sets) unmounts TAP_MNTS, last first, detaches
# TAP_LOOP and removes TAP_BASE.
TAP_BASE=
TAP_LOOP=
TAP_MNTS=()

tap_scratch_cleanup() {
	local i

	for ((i = ${#TAP_MNTS[@]} - 1; i >= 0; i--)); do
		umount "${TAP_MNTS[i]}" 2>/dev/null ||
			umount -l "${TAP_MNTS[i]}" 2>/dev/null
	done
	[ -n "$TAP_LOOP" ] && losetup -d "$TAP_LOOP" 2>/dev/null
	[ -z "$TAP_BASE" ] || rm -rf "$TAP_BASE"
}

# tap_scratch DIR TOOL...: skip unless every TOOL and loop devices are
# there; then DIR is TAP_BASE, made empty.
tap_scratch() {
	local tool

	TAP_BASE=$1
	shift
	for tool in losetup "$@"; do
		command -v "$tool" >/dev/null || skip_all "$tool is not installed"
	done
	modprobe loop 2>/dev/null
	[ -e /dev/loop-control ] || skip_all "no loop devices"
	trap tap_scratch_cleanup EXIT
	rm -rf "$TAP_BASE"
	mkdir -p "$TAP_BASE" || exit 1
}

# tap_loop_mount IMAGE FSTYPE DIR WHY: mount IMAGE at DIR through a loop
# device (one per script); skip with WHY when the kernel cannot.
tap_loop_mount() {
	modprobe "$2" 2>/dev/null
	TAP_LOOP=$(losetup -f --show "$1") || skip_all "losetup failed"
	mount -t "$2" "$TAP_LOOP" "$3" 2>/dev/null || skip_all "$4"
	TAP_MNTS+=("$3")
}
