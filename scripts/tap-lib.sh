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
