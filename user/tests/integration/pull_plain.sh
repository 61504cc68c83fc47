#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Pull over plain HTTP (configured insecure) from a real docker-registry:
# the unpacked layers must equal what umoci unpacks from the same image.
. "$(dirname "$0")/lib.sh"

if ! start_registry plain; then
	not_ok "docker-registry starts"
	finish
fi
ok "docker-registry starts on $REG"

# An image built from host files: binaries, libraries, a symlink, a hardlink,
# and a later layer that whites one file out.
SRC="$WORK/src"
mkdir -p "$SRC/bin" "$SRC/lib"
cp /usr/bin/ls /usr/bin/cat /usr/bin/env /usr/bin/sort "$SRC/bin/"
ln -s ls "$SRC/bin/dir"
ln "$SRC/bin/env" "$SRC/bin/env-hardlink"
chmod 4755 "$SRC/bin/sort"
cp -L /usr/lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libzstd.so.1 "$SRC/lib/" 2>/dev/null ||
	cp -L "$(ldconfig -p | awk '/libz.so.1 /{print $NF; exit}')" "$SRC/lib/"
mkdir -p "$SRC/lib/empty-dir"
OCI="$WORK/oci"
B="$WORK/bundle-build"
build_image() {
	new_image "$OCI" v1 "$B" &&
		mkdir -p "$B/rootfs/usr/bin" && cp -a "$SRC/bin/." "$B/rootfs/usr/bin/" &&
		commit_layer "$OCI" v1 "$B" &&
		mkdir -p "$B/rootfs/usr/lib" && cp -a "$SRC/lib" "$B/rootfs/usr/lib/test" &&
		commit_layer "$OCI" v1 "$B" &&
		rm "$B/rootfs/usr/bin/cat" && commit_layer "$OCI" v1 "$B"
}
check "build test image with umoci" build_image
check "push with skopeo" push "$OCI" v1 "$REG/test/plain:v1"

check "plain HTTP is never used unless configured" bash -c \
	"! '$LAYERCTL' --store '$STORE' pull -q --retries 0 '$REG/test/plain:v1' 2>'$WORK/err'; \
	 rc=\$?; grep -q 'https://' '$WORK/err'"
"$LAYERCTL" --store "$STORE" pull -q --retries 0 "$REG/test/plain:v1" >/dev/null 2>&1
rc=$?
[ "$rc" = 7 ] && ok "https refused by a plain registry exits 7" || not_ok "https refused by a plain registry exits 7 (got $rc)"

if lctl pull --insecure-registry "$REG" "$REG/test/plain:v1" >"$WORK/pull.out" 2>"$WORK/pull.err"; then
	ok "pull over plain HTTP"
else
	not_ok "pull over plain HTTP"
	sed 's/^/# /' "$WORK/pull.err"
fi
grep -q "done" "$WORK/pull.err" && ok "progress lines on a non-terminal" || not_ok "progress lines on a non-terminal"

mapfile -t LAYERS < <(layer_dirs "$REG/test/plain:v1")
[ "${#LAYERS[@]}" = 3 ] && ok "inspect lists 3 layers" || not_ok "inspect lists 3 layers (got ${#LAYERS[@]})"

check "umoci unpack of the same image" umoci unpack --image "$OCI:v1" "$WORK/bundle"
check "merged layers equal umoci's rootfs" python3 "$HELPERS/tree.py" merged "$WORK/bundle/rootfs" "${LAYERS[@]}"
check "layer 1 equals the source files" python3 "$HELPERS/tree.py" same "$SRC/bin" "${LAYERS[0]}/usr/bin"
check "whiteout kept as an empty regular file" bash -c "[ -f '${LAYERS[2]}/usr/bin/.wh.cat' ] && [ ! -s '${LAYERS[2]}/usr/bin/.wh.cat' ]"
check "hardlink inside a layer stays one inode" \
	test "$(stat -c %i "${LAYERS[0]}/usr/bin/env")" = "$(stat -c %i "${LAYERS[0]}/usr/bin/env-hardlink")"
check "setuid bit kept" test -u "${LAYERS[0]}/usr/bin/sort"
check "files are linked into objects/" test "$(stat -c %h "${LAYERS[0]}/usr/bin/ls")" -ge 2

lctl --json pull -q --insecure-registry "$REG" "$REG/test/plain:v1" >"$WORK/again.json"
check "second pull fetches nothing" python3 -c "
import json; j = json.load(open('$WORK/again.json'))
assert j['layers_fetched'] == 0 and j['bytes_fetched'] == 0, j"

DIGEST=$(python3 -c "import json; print(json.load(open('$WORK/again.json'))['digest'])")
check "pull by digest" lctl pull -q --insecure-registry "$REG" "$REG/test/plain@$DIGEST"
check "inspect by digest prefix" bash -c "'$LAYERCTL' --store '$STORE' inspect '${DIGEST:7:12}' | grep -q '$DIGEST'"

lctl --json images >"$WORK/images.json"
check "images --json lists both references" python3 -c "
import json; j = json.load(open('$WORK/images.json'))
refs = sorted(i['ref'] for i in j)
assert refs == sorted(['$REG/test/plain:v1', '$REG/test/plain@$DIGEST']), refs
assert all(i['unpacked_bytes'] >= i['stored_bytes'] > 0 for i in j), j"
check "images prints a table" bash -c "'$LAYERCTL' --store '$STORE' images | grep -q 'test/plain:v1'"
check "df --json" bash -c "'$LAYERCTL' --store '$STORE' --json df | python3 -c 'import json,sys; j=json.load(sys.stdin); assert j[\"layers\"] == 3 and j[\"files\"] > 0, j'"

"$LAYERCTL" --store "$STORE" pull -q --insecure-registry "$REG" "$REG/test/plain:nosuchtag" 2>"$WORK/nf.err"
rc=$?
[ "$rc" = 3 ] && grep -q "not found" "$WORK/nf.err" && ok "missing tag exits 3 with a reason" ||
	{ not_ok "missing tag exits 3 with a reason (got $rc)"; sed 's/^/# /' "$WORK/nf.err"; }
"$LAYERCTL" --store "$STORE" pull -q "Bad/Ref" 2>"$WORK/bad.err"
rc=$?
[ "$rc" = 2 ] && grep -q "lowercase" "$WORK/bad.err" && ok "invalid reference exits 2 with the reason" ||
	not_ok "invalid reference exits 2 (got $rc)"

check "rm both references" lctl rm "$REG/test/plain:v1" "$REG/test/plain@$DIGEST"
check "images is empty after rm" bash -c "[ \"\$('$LAYERCTL' --store '$STORE' --json images)\" = '[]' ]"
check "layers stay until gc" test -d "${LAYERS[0]}"
lctl --json gc >"$WORK/gc.json"
check "gc removes unreferenced layers and objects" python3 -c "
import json, os; j = json.load(open('$WORK/gc.json'))
assert j['layers'] == 3 and j['objects'] > 0 and j['bytes_freed'] > 0, j
assert os.listdir('$STORE/layers/sha256') == [], 'layers left'
assert all(os.listdir('$STORE/objects/' + d) == [] for d in os.listdir('$STORE/objects')), 'objects left'"
check "rm of an unknown image exits 3" bash -c "'$LAYERCTL' --store '$STORE' rm nosuch:tag 2>/dev/null; [ \$? = 3 ]"
finish
