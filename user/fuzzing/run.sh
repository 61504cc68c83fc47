#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run every fuzz target for SECONDS on a scratch copy of its seed corpus.
#   fuzzing/run.sh BUILD/fuzz SECONDS
# Prints one TAP line per target and "N passed, N failed".
set -u
bin=${1:?usage: run.sh BIN_DIR SECONDS}
secs=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 n=0
for t in "$bin"/fuzz_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	work=$(mktemp -d /tmp/lfs-fuzz.XXXXXX)
	n=$((n + 1))
	if timeout $((secs + 120)) "$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
		-artifact_prefix="$work/" "$work" "$here/corpus/${name#fuzz_}" >"$work/log" 2>&1; then
		echo "ok $n - $name ($(grep -o 'cov: [0-9]*' "$work/log" | tail -1), $(grep -Eo '#[0-9]+' "$work/log" | tail -1) runs)"
		passed=$((passed + 1))
		rm -rf "$work"
	else
		echo "not ok $n - $name: crash or timeout, see $work"
		grep -E 'ERROR|SUMMARY|crash-|timeout-' "$work/log" | head -5 | sed 's/^/# /'
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
