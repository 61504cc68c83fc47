#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the userspace tests and count TAP results:
#   tests/run.sh [--unit-only] BUILD_DIR
# Unit tests are the build/tests/test_* binaries (under valgrind when
# VALGRIND=1); integration tests are tests/integration/*.sh.  Every test has a
# time limit.  The last line is "N passed, N failed, N skipped"; the exit
# status is non-zero when anything failed.
set -u

unit_only=0
if [ "${1:-}" = "--unit-only" ]; then
	unit_only=1
	shift
fi
build=$(cd "${1:?usage: run.sh [--unit-only] BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 skipped=0

# run_tap NAME TIMEOUT CMD...: run CMD, echo its TAP, count results
run_tap() {
	local name=$1 limit=$2 out rc
	shift 2
	local start=$SECONDS
	echo "# $name"
	out=$(mktemp)
	timeout --kill-after=10 "$limit" "$@" >"$out" 2>&1
	rc=$?
	cat "$out"
	echo "# $name: $((SECONDS - start)) s"
	local p f s
	p=$(grep -cE '^ok [0-9]+' "$out" | head -1)
	s=$(grep -cE '^ok [0-9]+.*# (SKIP|skip)' "$out" | head -1)
	f=$(grep -cE '^not ok [0-9]+' "$out" | head -1)
	p=$((p - s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			echo "not ok - $name: timed out after ${limit}"
		else
			echo "not ok - $name: exited with status $rc"
		fi
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	rm -f "$out"
}

for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	if [ "${VALGRIND:-0}" = 1 ]; then
		run_tap "$(basename "$t") (valgrind)" 600 \
			valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
			--track-fds=no "$t"
	else
		run_tap "$(basename "$t")" 120 "$t"
	fi
done

if [ "$unit_only" = 0 ]; then
	for t in "$here"/integration/*.sh; do
		[ -f "$t" ] && [ "$(basename "$t")" != lib.sh ] || continue
		BUILD="$build" run_tap "integration/$(basename "$t")" 400 bash "$t"
	done
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
