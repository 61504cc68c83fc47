#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Manifest and layer formats: Docker schema2, zstd and uncompressed layers,
# a multi-platform index with an attestation entry, and the diff_id check.
. "$(dirname "$0")/lib.sh"

if ! start_registry formats; then
	not_ok "docker-registry starts"
	finish
fi
INS=(--insecure-registry "$REG")

SRC="$WORK/src"
mkdir -p "$SRC/usr/bin" "$SRC/etc"
cp /usr/bin/ls /usr/bin/head "$SRC/usr/bin/"
echo "layerfs test" >"$SRC/etc/motd"
tar -C "$SRC" -cf "$WORK/l1.tar" usr
tar -C "$SRC" -cf "$WORK/l2.tar" etc
OCI="$WORK/oci"
for c in gzip zstd none; do
	python3 "$HELPERS/mkoci.py" image --compress "$c" "$OCI" "$c" "$WORK/l1.tar" "$WORK/l2.tar" >/dev/null
	check "push a $c image" push "$OCI" "$c" "$REG/fmt/$c:v1"
done
for c in gzip zstd none; do
	S="$WORK/store-$c"
	check "pull $c layers" "$LAYERCTL" --store "$S" pull -q "${INS[@]}" "$REG/fmt/$c:v1"
	mapfile -t L < <("$LAYERCTL" --store "$S" inspect --json "$REG/fmt/$c:v1" |
		python3 -c 'import json,sys; [print(l["path"]) for l in json.load(sys.stdin)["layers"]]')
	check "$c: layer 1 equals its tar's files" python3 "$HELPERS/tree.py" same "$SRC/usr" "${L[0]}/usr"
	check "$c: layer 2 equals its tar's files" python3 "$HELPERS/tree.py" same "$SRC/etc" "${L[1]}/etc"
done

# --keep-blobs: compressed blobs kept under their digests, collected by gc
S="$WORK/store-blobs"
check "pull with --keep-blobs" "$LAYERCTL" --store "$S" pull -q "${INS[@]}" --keep-blobs "$REG/fmt/gzip:v1"
check "kept blobs are named by their sha256" bash -c "cd '$S/blobs/sha256' && [ \$(ls | wc -l) = 2 ] &&
	for f in *; do [ \"\$(sha256sum \$f | cut -d' ' -f1)\" = \$f ] || exit 1; done"
check "gc removes blobs no image uses" bash -c "'$LAYERCTL' --store '$S' rm '$REG/fmt/gzip:v1' &&
	'$LAYERCTL' --store '$S' --json gc | grep -q '\"blobs\": 2' && [ -z \"\$(ls '$S/blobs/sha256')\" ]"

# progress on a terminal: redrawn in place
if command -v script >/dev/null; then
	script -qec "'$LAYERCTL' --store '$WORK/store-tty' pull ${INS[*]} '$REG/fmt/zstd:v1'" /dev/null \
		>"$WORK/tty.out" 2>&1
	check "terminal progress redraws lines in place" grep -q $'\033\\[2K' "$WORK/tty.out"
	check "terminal progress ends with every layer done" bash -c "[ \$(grep -a -c 'done ' '$WORK/tty.out') -ge 2 ]"
else
	skip "terminal progress (no script(1))"
fi

# Docker schema2 manifest: same layers, other manifest, nothing fetched twice
check "push as Docker schema2" push "$OCI" gzip "$REG/fmt/docker:v1" --format v2s2
S="$WORK/store-gzip"
"$LAYERCTL" --store "$S" --json pull -q "${INS[@]}" "$REG/fmt/docker:v1" >"$WORK/docker.json"
check "Docker schema2 pull reuses layers with equal diff_ids" python3 -c "
import json; j = json.load(open('$WORK/docker.json'))
assert j['layers_fetched'] == 0 and j['layers_reused'] == 2, j
assert j['layers'][0]['media_type'] == 'application/vnd.docker.image.rootfs.diff.tar.gzip', j"

# Multi-platform index with an attestation entry first
python3 "$HELPERS/mkoci.py" image --arch arm64 --variant v8 "$OCI" arm64 "$WORK/l2.tar" >/dev/null
IDX=$(python3 "$HELPERS/mkoci.py" index --attestation "$OCI" multi gzip:linux/amd64 arm64:linux/arm64/v8)
check "push a multi-platform index" push "$OCI" multi "$REG/fmt/multi:v1" --all
S="$WORK/store-multi"
"$LAYERCTL" --store "$S" --json pull -q "${INS[@]}" --platform linux/amd64 "$REG/fmt/multi:v1" >"$WORK/amd64.json"
"$LAYERCTL" --store "$S" --json pull -q "${INS[@]}" --platform linux/arm64 "$REG/fmt/multi:v1" >"$WORK/arm64.json"
check "index: amd64 selected, attestation skipped" python3 -c "
import json; a = json.load(open('$WORK/amd64.json'))
assert a['platform'] == 'linux/amd64' and len(a['layers']) == 2 and a['index_digest'] == '$IDX', a"
check "index: --platform linux/arm64 selects arm64/v8" python3 -c "
import json; a = json.load(open('$WORK/arm64.json'))
assert a['platform'] == 'linux/arm64/v8' and len(a['layers']) == 1, a"
"$LAYERCTL" --store "$S" pull -q "${INS[@]}" --platform linux/s390x "$REG/fmt/multi:v1" 2>"$WORK/s390x.err"
rc=$?
[ "$rc" = 3 ] && grep -q "no matching manifest for linux/s390x" "$WORK/s390x.err" &&
	ok "index: missing platform exits 3 and lists what exists" ||
	{ not_ok "index: missing platform exits 3 (got $rc)"; sed 's/^/# /' "$WORK/s390x.err"; }

# A config whose diff_ids do not match the layers: nothing may be stored
python3 "$HELPERS/mkoci.py" image --bad-diffid "$OCI" baddiff "$WORK/l1.tar" >/dev/null
check "push an image with a wrong diff_id" push "$OCI" baddiff "$REG/fmt/baddiff:v1"
S="$WORK/store-bad"
"$LAYERCTL" --store "$S" pull -q "${INS[@]}" "$REG/fmt/baddiff:v1" 2>"$WORK/bad.err"
rc=$?
[ "$rc" = 5 ] && grep -q "diff_id mismatch" "$WORK/bad.err" && ok "wrong diff_id exits 5" ||
	{ not_ok "wrong diff_id exits 5 (got $rc)"; sed 's/^/# /' "$WORK/bad.err"; }
check "no layer, image or leftover after a failed verification" bash -c "
	[ -z \"\$(ls '$S/layers/sha256')\" ] && [ -z \"\$(ls '$S/images/sha256')\" ] &&
	[ -z \"\$(ls '$S/tmp' | grep -v '\\.lock\$')\" ] && [ -z \"\$(find '$S/objects' -type f)\" ]"

# A hostile layer pushed through the registry: refused, store untouched
python3 "$HELPERS/hostile.py" "$WORK/corpus" "$WORK/outside" >/dev/null
python3 "$HELPERS/mkoci.py" image "$OCI" evil "$WORK/corpus/symlink_escape_absolute.tar" >/dev/null
check "push a hostile image" push "$OCI" evil "$REG/fmt/evil:v1"
S="$WORK/store-evil"
"$LAYERCTL" --store "$S" pull -q "${INS[@]}" "$REG/fmt/evil:v1" 2>"$WORK/evil.err"
rc=$?
[ "$rc" = 6 ] && grep -q 'entry "esc/evil": path goes through a symlink' "$WORK/evil.err" &&
	ok "hostile layer from a registry exits 6 naming the entry" ||
	{ not_ok "hostile layer exits 6 (got $rc)"; sed 's/^/# /' "$WORK/evil.err"; }
check "hostile layer leaves no layer and nothing outside" bash -c "
	[ -z \"\$(ls '$S/layers/sha256')\" ] && [ ! -e '$WORK/outside/evil' ]"
finish
