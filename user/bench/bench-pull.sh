#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make -C user bench-pull: layerctl against skopeo + umoci on one machine,
# from a local docker-registry on 127.0.0.1.  Not a test: it prints ratios.
#
# Image A: >= 200 MB of real binaries and libraries in 4 layers (gzip; umoci
# 0.4.7 cannot unpack zstd layers, so both images are gzip).
# Image B: most of A's files, arranged in other layers, plus a few others.
#   time      until both images are unpacked and mountable
#             (layerctl pull  vs  skopeo copy docker:// oci: + umoci unpack)
#   bytes     on disk for both images, each way
#   streams   MB/s of the library's stream (decompress + 2x SHA-256) against
#             sha256sum, gzip -d and zstd -d on the same bytes
set -eu
BUILD=$(cd "${1:?usage: bench-pull.sh BUILD_DIR}" && pwd)
HELPERS=$(cd "$(dirname "$0")/../tests/helpers" && pwd)
W=$(mktemp -d /var/tmp/layerfs-bench.XXXXXX)
RPID=
cleanup() { [ -n "$RPID" ] && kill "$RPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
bytes_of() { du -sxB1 "$@" | awk '{s += $1} END {print s}'; }

# ---- source files: regular files from /usr, largest directories first ----
find /usr/lib/x86_64-linux-gnu /usr/bin /usr/sbin /usr/libexec /usr/lib/python3* -xdev -type f \
	-size -64M 2>/dev/null | sort >"$W/all"
python3 - "$W" <<'PY'
import os, sys
w = sys.argv[1]
files, total = [], 0
for p in open(f"{w}/all").read().split("\n"):
    try:
        s = os.lstat(p).st_size
    except OSError:
        continue
    if not p or not os.access(p, os.R_OK):
        continue
    files.append(p.lstrip("/"))
    total += s
    if total > 230 * 2**20:
        break
n = len(files)
# A: 4 layers in path order; B: 90% of the same files, in 3 layers cut elsewhere, + others
a = [files[i * n // 4:(i + 1) * n // 4] for i in range(4)]
keep = [f for i, f in enumerate(files) if i % 10 != 3]
b = [keep[:len(keep) // 5], keep[len(keep) // 5:len(keep) // 2], keep[len(keep) // 2:]]
for name, layers in (("a", a), ("b", b)):
    for i, l in enumerate(layers):
        open(f"{w}/{name}{i}.list", "w").write("\n".join(l) + "\n")
print(f"source: {n} files, {total / 2**20:.0f} MiB")
PY
for l in "$W"/*.list; do
	tar -C / -cf "${l%.list}.tar" -T "$l" 2>/dev/null
done
python3 "$HELPERS/mkoci.py" image --compress gzip "$W/oci" a "$W"/a?.tar >/dev/null
python3 "$HELPERS/mkoci.py" image --compress gzip "$W/oci" b "$W"/b?.tar >/dev/null

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
cat >"$W/reg.yml" <<EOC
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $W/registry}}
http: {addr: $REG}
EOC
docker-registry serve "$W/reg.yml" >/dev/null 2>&1 &
RPID=$!
python3 -c "
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen('http://$REG/v2/', timeout=1); sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit(1)"
for t in a b; do
	skopeo copy -q --dest-tls-verify=false "oci:$W/oci:$t" "docker://$REG/bench/$t:v1"
done

sync
# ---- layerctl ----
t0=$(now)
"$BUILD/layerctl" --store "$W/store" pull -q --insecure-registry "$REG" "$REG/bench/a:v1" >/dev/null
t1=$(now)
"$BUILD/layerctl" --store "$W/store" pull -q --insecure-registry "$REG" "$REG/bench/b:v1" >/dev/null
t2=$(now)
lctl_a=$(secs "$t0" "$t1") lctl_b=$(secs "$t1" "$t2") lctl=$(secs "$t0" "$t2")
lctl_bytes=$(bytes_of "$W/store")

# ---- skopeo + umoci: the same two images, ready to run ----
t0=$(now)
skopeo copy -q --src-tls-verify=false "docker://$REG/bench/a:v1" "oci:$W/base:a"
umoci unpack --image "$W/base:a" "$W/bundle-a" >/dev/null
t1=$(now)
skopeo copy -q --src-tls-verify=false "docker://$REG/bench/b:v1" "oci:$W/base:b"
umoci unpack --image "$W/base:b" "$W/bundle-b" >/dev/null
t2=$(now)
base_a=$(secs "$t0" "$t1") base_b=$(secs "$t1" "$t2") base=$(secs "$t0" "$t2")
base_bytes=$(bytes_of "$W/base" "$W/bundle-a" "$W/bundle-b")

echo "time to unpacked (s)      layerctl   skopeo+umoci   ratio (goal <= 0.5)"
printf '  image A (gzip)          %8s   %12s   %s\n' "$lctl_a" "$base_a" "$(ratio "$lctl_a" "$base_a")"
printf '  image B (most shared)  %8s   %12s   %s\n' "$lctl_b" "$base_b" "$(ratio "$lctl_b" "$base_b")"
printf '  both                    %8s   %12s   %s\n' "$lctl" "$base" "$(ratio "$lctl" "$base")"
echo "bytes on disk, both images (goal <= 0.6)"
printf '  layerctl store %s MiB, skopeo+umoci %s MiB, ratio %s\n' \
	$((lctl_bytes >> 20)) $((base_bytes >> 20)) "$(ratio "$lctl_bytes" "$base_bytes")"

# ---- where time goes: the same bytes through each tool ----
cat "$W"/a?.tar >"$W/all.tar"
gzip -1 -c "$W/all.tar" >"$W/all.tar.gz"
zstd -q -3 -c "$W/all.tar" >"$W/all.tar.zst"
mb=$(python3 -c "import os; print(os.path.getsize('$W/all.tar') / 1e6)")
rate() {	# rate CMD...: MB/s of tar bytes
	local a b
	a=$(now); "$@" >/dev/null; b=$(now)
	python3 -c "print(f'{$mb / ($b - $a):.1f}')"
}
echo "throughput on the same $(printf '%.0f' "$mb") MB of tar (MB/s of tar bytes)"
printf '  sha256sum            %8s   liblayerfs stream, none: %s\n' "$(rate sha256sum "$W/all.tar")" \
	"$("$BUILD/bench/stream_bench" none "$W/all.tar")"
printf '  gzip -d              %8s   liblayerfs stream, gzip: %s\n' "$(rate gzip -dc "$W/all.tar.gz")" \
	"$("$BUILD/bench/stream_bench" gzip "$W/all.tar.gz")"
printf '  zstd -d              %8s   liblayerfs stream, zstd: %s\n' "$(rate zstd -qdc "$W/all.tar.zst")" \
	"$("$BUILD/bench/stream_bench" zstd "$W/all.tar.zst")"
echo "  (the library's stream also computes SHA-256 twice: compressed and tar bytes)"
