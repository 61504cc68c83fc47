#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Cross-image deduplication and concurrent pulls: two images that share most
# files in different layers store them once; two pulls of one image at the
# same time download each layer once.
. "$(dirname "$0")/lib.sh"

if ! start_registry dedup; then
	not_ok "docker-registry starts"
	finish
fi
INS=(--insecure-registry "$REG")

SRC="$WORK/src"
mkdir -p "$SRC/libs/usr/lib" "$SRC/bins/usr/bin" "$SRC/other/usr/bin" "$SRC/libs2/usr/lib"
find /usr/lib/x86_64-linux-gnu -maxdepth 1 -type f -name '*.so*' -size -2M | sort | head -40 |
	xargs -I{} cp -p {} "$SRC/libs/usr/lib/"
cp -p /usr/bin/ls /usr/bin/cp /usr/bin/mv "$SRC/bins/usr/bin/"
cp -p /usr/bin/head /usr/bin/tail "$SRC/other/usr/bin/"
cp -p "$SRC/libs/usr/lib/"* "$SRC/libs2/usr/lib/"
echo extra >"$SRC/libs2/usr/lib/extra.conf"
for t in libs bins other libs2; do
	tar -C "$SRC/$t" -cf "$WORK/$t.tar" usr
done
OCI="$WORK/oci"
python3 "$HELPERS/mkoci.py" image "$OCI" x "$WORK/libs.tar" "$WORK/bins.tar" >/dev/null
python3 "$HELPERS/mkoci.py" image "$OCI" y "$WORK/other.tar" "$WORK/libs2.tar" >/dev/null
check "push image x" push "$OCI" x "$REG/dedup/x:v1"
check "push image y (same libraries, other layer)" push "$OCI" y "$REG/dedup/y:v1"

check "pull x" lctl pull -q "${INS[@]}" "$REG/dedup/x:v1"
check "pull y" lctl pull -q "${INS[@]}" "$REG/dedup/y:v1"
mapfile -t X < <(layer_dirs "$REG/dedup/x:v1")
mapfile -t Y < <(layer_dirs "$REG/dedup/y:v1")
LIB=$(ls "$SRC/libs/usr/lib" | head -1)
check "a library shared by both images is one inode" \
	test "$(stat -c %i "${X[0]}/usr/lib/$LIB")" = "$(stat -c %i "${Y[1]}/usr/lib/$LIB")"
check "y's layer still equals its source" python3 "$HELPERS/tree.py" same "$SRC/libs2" "${Y[1]}"
lctl --json df >"$WORK/df.json"
check "df: stored bytes well below per-layer bytes" python3 -c "
import json; j = json.load(open('$WORK/df.json'))
assert j['layers'] == 4, j
assert j['stored_bytes'] < 0.7 * j['logical_bytes'], j"
check "df prints a human summary" bash -c "'$LAYERCTL' --store '$STORE' df | grep -q 'saved'"

# a file with the same content but another mode is a different object
mkdir -p "$SRC/mode/usr/lib"
cp -p "$SRC/libs/usr/lib/$LIB" "$SRC/mode/usr/lib/"
chmod 600 "$SRC/mode/usr/lib/$LIB"
tar -C "$SRC/mode" -cf "$WORK/mode.tar" usr
python3 "$HELPERS/mkoci.py" image "$OCI" z "$WORK/mode.tar" >/dev/null
check "push image z" push "$OCI" z "$REG/dedup/z:v1"
check "pull z" lctl pull -q "${INS[@]}" "$REG/dedup/z:v1"
mapfile -t Z < <(layer_dirs "$REG/dedup/z:v1")
check "same content, other mode: not shared" \
	test "$(stat -c %i "${X[0]}/usr/lib/$LIB")" != "$(stat -c %i "${Z[0]}/usr/lib/$LIB")"
check "the mode survives" test "$(stat -c %a "${Z[0]}/usr/lib/$LIB")" = 600

# at the filesystem's link limit a layer keeps its own copy
OBJ=$(find "$STORE/objects" -samefile "${X[0]}/usr/lib/$LIB" | head -1)
mkdir -p "$WORK/links"
filled=$(python3 -c "
import os, sys
for i in range(70000):
    try:
        os.link(sys.argv[1], sys.argv[2] + '/l%d' % i)
    except OSError as e:
        print('full' if e.errno == 31 else 'error: %s' % e)
        break
else:
    print('nolimit')" "$OBJ" "$WORK/links")
if [ "$filled" = full ]; then
	mkdir -p "$SRC/full/usr/lib"
	cp -p "$SRC/libs/usr/lib/$LIB" "$SRC/full/usr/lib/"
	echo marker >"$SRC/full/usr/lib/marker"
	tar -C "$SRC/full" -cf "$WORK/full.tar" usr
	python3 "$HELPERS/mkoci.py" image "$OCI" w "$WORK/full.tar" >/dev/null
	check "push image w" push "$OCI" w "$REG/dedup/w:v1"
	check "pull while the object is at the link limit" lctl pull -q "${INS[@]}" "$REG/dedup/w:v1"
	mapfile -t W < <(layer_dirs "$REG/dedup/w:v1")
	check "at the link limit the layer keeps its own copy" bash -c "
		[ \$(stat -c %i '${W[0]}/usr/lib/$LIB') != \$(stat -c %i '$OBJ') ] &&
		cmp -s '${W[0]}/usr/lib/$LIB' '$SRC/libs/usr/lib/$LIB'"
else
	skip "link limit fallback (filesystem of $WORK has no small link limit: $filled)"
fi
rm -rf "$WORK/links"

# concurrent pulls of one image into a fresh store
S2="$WORK/store-concurrent"
"$LAYERCTL" --store "$S2" pull "${INS[@]}" "$REG/dedup/x:v1" >/dev/null 2>"$WORK/c1.err" &
p1=$!
"$LAYERCTL" --store "$S2" pull "${INS[@]}" "$REG/dedup/x:v1" >/dev/null 2>"$WORK/c2.err" &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check "two concurrent pulls both succeed" test "$r1:$r2" = 0:0
done_lines=$(cat "$WORK/c1.err" "$WORK/c2.err" | grep -c ': done (')
present=$(cat "$WORK/c1.err" "$WORK/c2.err" | grep -c 'already present')
[ "$done_lines" = 2 ] && [ "$present" = 2 ] && ok "each layer downloaded once across both pulls" ||
	{ not_ok "each layer downloaded once ($done_lines done, $present present)"; sed 's/^/# /' "$WORK/c1.err" "$WORK/c2.err"; }
check "concurrent store has exactly two layers" test "$(ls "$S2/layers/sha256" | wc -l)" = 2

# gc keeps what is referenced
check "rm x" lctl rm "$REG/dedup/x:v1"
lctl --json gc >"$WORK/gc.json"
check "gc removes x's own layer but keeps objects y still uses" python3 -c "
import json, os; j = json.load(open('$WORK/gc.json'))
assert j['layers'] == 2, j
assert os.path.exists('${Y[1]}/usr/lib/$LIB')"
check "y is intact after gc" python3 "$HELPERS/tree.py" same "$SRC/libs2" "${Y[1]}"
finish
