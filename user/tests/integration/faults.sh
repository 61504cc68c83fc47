#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Faults injected by a proxy between layerctl and a real registry: dropped
# connections mid-blob (resume with Range, or restart when Range is ignored),
# 500 and 429 (bounded retries, Retry-After), flipped bytes (rejected).  The
# store never holds an unverified layer.
. "$(dirname "$0")/lib.sh"

if ! start_registry faults; then
	not_ok "docker-registry starts"
	finish
fi
UP="$REG"

SRC="$WORK/src"
mkdir -p "$SRC/usr/bin"
cp /usr/bin/ls /usr/bin/cp /usr/bin/sort "$SRC/usr/bin/"
tar -C "$SRC" -cf "$WORK/l.tar" usr
python3 "$HELPERS/mkoci.py" image "$WORK/oci" v1 "$WORK/l.tar" >/dev/null
check "push test image" push "$WORK/oci" v1 "$UP/faults/img:v1"

# start_proxy FAULTS: a proxy in front of the registry; sets PROXY and PLOG
start_proxy() {
	local port
	port=$(free_port)
	PLOG="$WORK/proxy-$port.log"
	python3 "$HELPERS/faultproxy.py" "$port" "$UP" "$1" "$PLOG" 2>>"$WORK/proxy.err" &
	PIDS+=($!)
	PROXY="127.0.0.1:$port"
	wait_http "http://$PROXY/v2/"
}
FAST=(--retry-delay 50 --retry-max 1500 --timeout 10)

# pull_via NAME FAULTS EXPECT_RC [layerctl args]: a fresh store, one pull through the proxy
pull_via() {
	local name=$1 faults=$2 want=$3 rc
	shift 3
	S="$WORK/store-$name"
	start_proxy "$faults" || { not_ok "$name: proxy starts"; return 1; }
	"$LAYERCTL" --store "$S" pull --insecure-registry "$PROXY" "${FAST[@]}" "$@" "$PROXY/faults/img:v1" \
		>"$WORK/$name.out" 2>"$WORK/$name.err"
	rc=$?
	if [ "$rc" = "$want" ]; then
		ok "$name: exit $want"
	else
		not_ok "$name: exit $want (got $rc)"
		sed 's/^/# /' "$WORK/$name.err" | tail -5
		sed 's/^/# proxy: /' "$PLOG" | tail -5
	fi
}
layer_ok() {
	local d
	d=$(ls -d "$S"/layers/sha256/* 2>/dev/null | head -1)
	[ -n "$d" ] && python3 "$HELPERS/tree.py" same "$SRC" "$d"
}
store_clean() {
	[ -z "$(ls "$S/layers/sha256")" ] && [ -z "$(ls "$S/images/sha256")" ] &&
		[ -z "$(ls "$S/tmp" | grep -v '\.lock$')" ] && [ -z "$(find "$S/objects" -type f)" ]
}

pull_via drop "drop=2:30000" 0
check "drop: resumed with Range from where it broke" grep -q "range=bytes=30000-" "$PLOG"
check "drop: the retry was reported" grep -q "retrying" "$WORK/drop.err"
check "drop: layer is complete and correct" layer_ok

pull_via norange "drop=1:30000,ignore-range" 0
check "Range ignored: the 200 is re-read from the start" bash -c "grep -c ' -> 200' '$PLOG' | grep -qv '^0$'"
check "Range ignored: layer is complete and correct" layer_ok

pull_via headers "headers" 0 --json
check "registry Warning: 299 is shown" grep -q 'warning from registry: 299 - "this repository is deprecated"' "$WORK/headers.err"
check "ratelimit-remaining is shown" grep -q "rate limit remaining: 97;w=21600" "$WORK/headers.err"
check "both are in the JSON result" python3 -c "
import json; j = json.load(open('$WORK/headers.out'))
assert j['ratelimit_remaining'] == '97;w=21600' and len(j['warnings']) == 1, j"

pull_via status500 "status=3:500" 0
check "500: retried, layer correct" layer_ok
pull_via status429 "status=2:429" 0
check "429: retried after Retry-After, layer correct" layer_ok

pull_via always500 "status=all:503" 7 --retries 2
check "503 forever: error says how often it tried" grep -q "HTTP 503 after 2 retries" "$WORK/always500.err"
check "503 forever: store clean" store_clean

pull_via alwayscut "drop=all:20000" 0 --retries 2
check "every response cut after 20000 bytes: resumes until complete" layer_ok
check "every response cut: each resume asked for the next range" grep -q "range=bytes=40000-" "$PLOG"

pull_via nobody "drop=all:0" 7 --retries 2
check "no body ever: gives up after the retries" grep -q "after 2 retries" "$WORK/nobody.err"
check "no body ever: store clean" store_clean

# kill -9 in the middle of a layer: nothing half-made is visible, and the
# next command that finds the store unused cleans tmp/
S="$WORK/store-crash"
start_proxy "stall=1:30000"
"$LAYERCTL" --store "$S" pull -q --insecure-registry "$PROXY" "${FAST[@]}" "$PROXY/faults/img:v1" 2>/dev/null &
victim=$!
for i in $(seq 1 100); do
	grep -q stalling "$PLOG" 2>/dev/null && break
	sleep 0.1
done
"$LAYERCTL" --store "$S" gc >/dev/null 2>"$WORK/gc-busy.err"
rc=$?
[ "$rc" = 8 ] && grep -q "in use by another process" "$WORK/gc-busy.err" &&
	ok "gc while a pull runs: refused with exit 8" || not_ok "gc while a pull runs: exit 8 (got $rc)"
kill -9 "$victim"
wait "$victim" 2>/dev/null
check "crash mid-layer: the layer is only in tmp/" bash -c "
	[ -z \"\$(ls '$S/layers/sha256')\" ] && ls '$S/tmp' | grep -q '^layer-'"
check "crash mid-layer: the next command cleans tmp/" bash -c "
	'$LAYERCTL' --store '$S' images >/dev/null && [ -z \"\$(ls '$S/tmp')\" ]"

pull_via flip "flip" 5
check "flipped byte: digest mismatch reported" grep -q "digest mismatch" "$WORK/flip.err"
check "flipped byte: no layer, no image, no leftovers" store_clean
finish
