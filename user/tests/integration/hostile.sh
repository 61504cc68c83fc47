#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The hostile-layer corpus: each attack stops the unpack with an error naming
# the layer and the entry, and nothing outside the unpack root is touched.
. "$(dirname "$0")/lib.sh"

TOOL="$BUILD/tests/unpack_layer"
OUTSIDE="$WORK/outside"
CORPUS="$WORK/corpus"
mkdir -p "$OUTSIDE"
echo original >"$OUTSIDE/target"
python3 "$HELPERS/hostile.py" "$CORPUS" "$OUTSIDE" || { not_ok "corpus generated"; finish; }

snapshot() { (cd "$OUTSIDE" && find . -printf '%p %s %T@ %m\n' | sort); }
before=$(snapshot)
while IFS=$'\t' read -r name file comp extra code text; do
	root="$WORK/root-$name"
	mkdir -p "$root"
	args=(--compression "$comp")
	if [ "$extra" != "-" ]; then
		IFS=, read -ra more <<<"$extra"
		args+=("${more[@]}")
	fi
	out=$("$TOOL" "${args[@]}" "$root" "$CORPUS/$file" 2>&1)
	rc=$?
	if [ "$rc" != "$code" ]; then
		not_ok "$name: exit $code (got $rc: $out)"
	elif [ "$code" != 0 ] && [[ "$out" != *"layer $CORPUS/$file"* || "$out" != *"$text"* ]]; then
		not_ok "$name: error names layer and entry"
		echo "# got:  $out"
		echo "# want: $text"
	else
		ok "$name${text:+: $text}"
	fi
	if [ "$(snapshot)" != "$before" ]; then
		not_ok "$name: left the directory outside the root untouched"
		before=$(snapshot)
	fi
	if [ -n "$(find / -xdev -maxdepth 2 -name evil 2>/dev/null)" ]; then
		not_ok "$name: wrote an 'evil' file outside"
	fi
done <"$CORPUS/cases.tsv"

check "benign layer keeps absolute symlinks as text" test "$(readlink "$WORK/root-benign_symlinks_and_links/etc/abs")" = /etc/passwd
check "benign layer's hardlink is one inode" test "$(stat -c %i "$WORK/root-benign_symlinks_and_links/etc/link")" = \
	"$(stat -c %i "$WORK/root-benign_symlinks_and_links/etc/passwd")"
check "benign layer keeps whiteouts and opaque markers" test -f "$WORK/root-benign_symlinks_and_links/c/.wh..wh..opq"
check "benign layer's fifo" test -p "$WORK/root-benign_symlinks_and_links/fifo"
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$WORK/root-dev"
	check "devices allowed when configured" "$TOOL" --allow-devices "$WORK/root-dev" "$CORPUS/char_device.tar"
	check "the allowed device is a char device" test -c "$WORK/root-dev/dev/null"
else
	skip "devices allowed when configured (needs root)"
fi
check "diff_id mismatch is a verify error" bash -c "mkdir -p '$WORK/root-diff'; \
	'$TOOL' --diff-id sha256:0000000000000000000000000000000000000000000000000000000000000000 \
	'$WORK/root-diff' '$CORPUS/benign_symlinks_and_links.tar' | grep -q 'diff_id mismatch'; \
	[ \${PIPESTATUS[0]} = 5 ]"
finish
