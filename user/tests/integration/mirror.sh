#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Registry mirrors (--mirror REGISTRY=MIRROR): real docker-registry instances
# on 127.0.0.1 play the registry and its mirrors.  An image only the mirror
# has is pulled through it; a mirror that is down, lacks the digest asked
# for, or serves bytes that do not match their digest is passed over for the
# registry; the store keeps the reference as written, never the mirror's host.
. "$(dirname "$0")/lib.sh"

start_registry upstream || { not_ok "docker-registry starts (upstream)"; finish; }
UP="$REG"
start_registry mirror || { not_ok "docker-registry starts (mirror)"; finish; }
MIR="$REG"
start_registry evil || { not_ok "docker-registry starts (evil)"; finish; }
EVIL="$REG"
EVIL_DIR="$REG_DIR"
DOWN="127.0.0.1:$(free_port)"	# nobody listens there
ok "registries on $UP (upstream), $MIR (mirror), $EVIL (evil mirror)"
INSEC=(--insecure-registry "$UP" --insecure-registry "$MIR" --insecure-registry "$EVIL"
	--insecure-registry "$DOWN")
FAST=(--retries 1 --retry-delay 50 --retry-max 200 --connect-timeout 5)

# image NAME TEXT: an OCI layout $WORK/oci-NAME, tag v1, two layers of files saying TEXT
image() {
	local d="$WORK/src-$1"
	mkdir -p "$d/a/etc" "$d/b/usr/share"
	echo "$2 one" >"$d/a/etc/which" && cp /usr/bin/ls "$d/a/etc/ls-$1"
	echo "$2 two" >"$d/b/usr/share/which" && cp /usr/bin/sort "$d/b/usr/share/sort-$1"
	tar -C "$d/a" -cf "$d/a.tar" etc && tar -C "$d/b" -cf "$d/b.tar" usr &&
		python3 "$HELPERS/mkoci.py" image "$WORK/oci-$1" v1 "$d/a.tar" "$d/b.tar" >/dev/null
}
# manifest_digest NAME: the digest of tag v1 in $WORK/oci-NAME
manifest_digest() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' \
		"$WORK/oci-$1/index.json"
}
check "build images A, B and C" bash -c "$(declare -f image); WORK='$WORK' HELPERS='$HELPERS'; \
	image a 'image A' && image b 'image B' && image c 'image C'"
A=$(manifest_digest a)
B=$(manifest_digest b)

# pull STORE NAME [layerctl args]: layerctl --json pull; JSON in $WORK/NAME.json,
# stderr in $WORK/NAME.err, exit status in RC
pull() {
	local s=$1 name=$2
	shift 2
	"$LAYERCTL" --store "$WORK/$s" --json pull "${INSEC[@]}" "${FAST[@]}" "$@" \
		>"$WORK/$name.json" 2>"$WORK/$name.err"
	RC=$?
}
# json NAME PYEXPR: assert PYEXPR over j, the JSON of pull NAME
json() {
	python3 -c "import json,sys; j = json.load(open('$WORK/$1.json')); assert $2, j"
}

# ---- the mirror has the image, the registry nothing --------------------------
check "push image A to the mirror only" push "$WORK/oci-a" v1 "$MIR/test/app:v1"
pull s0 nomirror "$UP/test/app:v1"
[ "$RC" = 3 ] && ok "without --mirror the registry has nothing (exit 3)" ||
	not_ok "without --mirror the registry has nothing (exit $RC, want 3)"

pull s1 via "$UP/test/app:v1" --mirror "$UP=$MIR"
[ "$RC" = 0 ] && ok "pull by tag through the mirror" ||
	{ not_ok "pull by tag through the mirror (exit $RC)"; sed 's/^/# /' "$WORK/via.err"; }
check "the image is A, served by the mirror" json via \
	"j['digest'] == '$A' and j['source'] == '$MIR' and j['from_mirror'] is True"
check "the record keeps the registry's reference" json via "j['ref'] == '$UP/test/app:v1'"
check "images lists the original reference only" bash -c \
	"'$LAYERCTL' --store '$WORK/s1' --json images | python3 -c '
import json, sys; refs = [i[\"ref\"] for i in json.load(sys.stdin)]
assert refs == [\"$UP/test/app:v1\"], refs'"
check "progress names the mirror" grep -q "image $A: from $MIR (mirror of $UP)" "$WORK/via.err"
check "layers say where they came from" grep -q "done (.* fetched from $MIR)" "$WORK/via.err"
check "inspect finds it by the original reference" \
	"$LAYERCTL" --store "$WORK/s1" inspect "$UP/test/app:v1"

pull s1b bydigest "$UP/test/app@$A" --mirror "$UP=$MIR"
check "pull by digest through the mirror" json bydigest \
	"j['digest'] == '$A' and j['source'] == '$MIR' and j['ref'] == '$UP/test/app@$A'"

# ---- a mirror that is down --------------------------------------------------
check "push image A to the registry" push "$WORK/oci-a" v1 "$UP/test/app:v1"
pull s2 down "$UP/test/app:v1" --mirror "$UP=$DOWN"
[ "$RC" = 0 ] && ok "a mirror that is down falls back to the registry" ||
	{ not_ok "a mirror that is down falls back to the registry (exit $RC)"; sed 's/^/# /' "$WORK/down.err"; }
check "served by the registry" json down \
	"j['digest'] == '$A' and j['source'] == '$UP' and j['from_mirror'] is False and j['ref'] == '$UP/test/app:v1'"
check "the fallback is said" grep -q "mirror $DOWN of $UP failed (.*); trying $UP" "$WORK/down.err"

pull s3 order "$UP/test/app:v1" --mirror "$UP=$DOWN,$MIR"
check "mirrors are tried in order: the second one serves" json order "j['source'] == '$MIR'"
check "the first one's failure is said" grep -q "mirror $DOWN of $UP failed (.*); trying mirror $MIR" \
	"$WORK/order.err"
pull s3b order2 "$UP/test/app:v1" --mirror "$UP=$DOWN" --mirror "$UP=$MIR"
check "--mirror repeated for one registry appends" json order2 "j['source'] == '$MIR'"

# ---- a mirror with a different image under the same tag ---------------------
check "push image A to the registry, B to the mirror, as test/diff:v1" bash -c \
	"$(declare -f push); push '$WORK/oci-a' v1 '$UP/test/diff:v1' && push '$WORK/oci-b' v1 '$MIR/test/diff:v1'"
pull s4 diffdigest "$UP/test/diff@$A" --mirror "$UP=$MIR"
[ "$RC" = 0 ] && ok "pull by digest: the mirror's other image is not taken" ||
	{ not_ok "pull by digest: the mirror's other image is not taken (exit $RC)"; sed 's/^/# /' "$WORK/diffdigest.err"; }
check "the registry served the digest asked for" json diffdigest \
	"j['digest'] == '$A' and j['source'] == '$UP' and j['ref'] == '$UP/test/diff@$A'"
pull s4b difftag "$UP/test/diff:v1" --mirror "$UP=$MIR"
check "pull by tag: the mirror answers for the tag (as Docker's mirrors do)" json difftag \
	"j['digest'] == '$B' and j['source'] == '$MIR' and j['ref'] == '$UP/test/diff:v1'"

# ---- a mirror serving bytes that do not match their digest -------------------
# blob_file REGDIR DIGEST: where docker-registry keeps a blob
blob_file() {
	local h=${2#sha256:}
	echo "$1/data/docker/registry/v2/blobs/sha256/${h:0:2}/$h/data"
}
check "push image A to the evil mirror" push "$WORK/oci-a" v1 "$EVIL/test/app:v1"
check "the evil mirror serves image B's manifest as A's" \
	cp "$WORK/oci-b/blobs/sha256/${B#sha256:}" "$(blob_file "$EVIL_DIR" "$A")"
check "the evil mirror really serves other bytes for A" bash -c \
	"curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' http://$EVIL/v2/test/app/manifests/$A | \
	 cmp -s - '$WORK/oci-b/blobs/sha256/${B#sha256:}'"
pull s5 evildigest "$UP/test/app@$A" --mirror "$UP=$EVIL"
check "pull by digest: a mismatching manifest is rejected, the registry used" json evildigest \
	"j['digest'] == '$A' and j['source'] == '$UP'"
check "the mismatch is said" grep -q "mirror $EVIL of $UP failed (manifest $A: digest mismatch: received $B)" \
	"$WORK/evildigest.err"
pull s5b eviltag "$UP/test/app:v1" --mirror "$UP=$EVIL"
check "pull by tag: the tag's digest from the mirror is checked too" json eviltag \
	"j['digest'] == '$A' and j['source'] == '$UP'"

# a layer whose bytes the mirror changed (same size): that layer comes from the registry
C=$(manifest_digest c)
check "push image C to the registry and the evil mirror" bash -c \
	"$(declare -f push); push '$WORK/oci-c' v1 '$UP/test/layer:v1' && push '$WORK/oci-c' v1 '$EVIL/test/layer:v1'"
L2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][1]["digest"])' \
	"$WORK/oci-c/blobs/sha256/${C#sha256:}")
F=$(blob_file "$EVIL_DIR" "$L2")
check "corrupt layer 2 on the evil mirror" python3 -c "
import sys; f = open('$F', 'r+b'); f.seek(600); b = f.read(1); f.seek(600); f.write(bytes([b[0] ^ 0xff]))"
pull s6 evillayer "$UP/test/layer:v1" --mirror "$UP=$EVIL"
[ "$RC" = 0 ] && ok "a layer that fails its digest at the mirror comes from the registry" ||
	{ not_ok "a layer that fails its digest at the mirror comes from the registry (exit $RC)"; sed 's/^/# /' "$WORK/evillayer.err"; }
check "manifest from the mirror, layer 2 from the registry" bash -c \
	"grep -q 'image $C: from $EVIL (mirror of $UP)' '$WORK/evillayer.err' &&
	 grep -q 'layer 2/2 $L2: retrying: mirror $EVIL of $UP failed (layer $L2: digest mismatch' '$WORK/evillayer.err' &&
	 grep -q 'layer 2/2 $L2: done (.* fetched from $UP)' '$WORK/evillayer.err'"
check "the stored layers are C's" bash -c \
	"'$LAYERCTL' --store '$WORK/s6' inspect '$UP/test/layer:v1' | grep -q '$C'"

# ---- no fallback hides a registry failure ---------------------------------
pull s7 nowhere "$UP/test/none:v1" --mirror "$UP=$MIR"
[ "$RC" = 3 ] && grep -q "$UP/v2/test/none/manifests/v1: not found" "$WORK/nowhere.err" &&
	ok "missing everywhere: the registry's 404, exit 3" ||
	{ not_ok "missing everywhere: the registry's 404 (exit $RC)"; sed 's/^/# /' "$WORK/nowhere.err"; }

# ---- bad --mirror values ------------------------------------------------------
expect_rc "--mirror without '=' is a usage error" 2 "want REGISTRY=MIRROR" \
	"$LAYERCTL" --store "$WORK/s8" pull --mirror "$MIR" "$UP/test/app:v1"
expect_rc "--mirror with a scheme is a usage error" 2 "without a scheme" \
	"$LAYERCTL" --store "$WORK/s8" pull --mirror "$UP=http://$MIR" "$UP/test/app:v1"
expect_rc "--mirror with a path is a usage error" 2 "without a path" \
	"$LAYERCTL" --store "$WORK/s8" pull --mirror "docker.io=$MIR/dockerhub" "$UP/test/app:v1"
finish
