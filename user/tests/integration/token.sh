#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Bearer token auth: docker-registry's "token" auth with a small token
# server.  The challenge is parsed, the token fetched with service and scope
# (with Basic credentials), cached for the pull, and fetched again once when
# the registry answers 401 mid-pull.
. "$(dirname "$0")/lib.sh"

if ! start_token_registry token; then
	not_ok "docker-registry with token auth and the token server start"
	finish
fi
MODE=$TMODE
ok "docker-registry with token auth and the token server start"

SRC="$WORK/src"
mkdir -p "$SRC/usr/bin"
cp /usr/bin/ls /usr/bin/cp "$SRC/usr/bin/"
tar -C "$SRC" -cf "$WORK/l.tar" usr
python3 "$HELPERS/mkoci.py" image "$WORK/oci" v1 "$WORK/l.tar" >/dev/null
check "push through token auth" push "$WORK/oci" v1 "$REG/tok/img:v1" --dest-creds 'puller:pa55word'
printf '{"auths": {"%s": {"auth": "%s"}}}' "$REG" "$(printf 'puller:pa55word' | base64 -w0)" >"$WORK/auth.json"
printf '{}' >"$WORK/empty.json"
INS=(--insecure-registry "$REG" --retry-delay 50)

expect_rc "plain-HTTP realm refused unless configured insecure" 4 "is not https" \
	"$LAYERCTL" --store "$WORK/s0" pull -q "${INS[@]}" --authfile "$WORK/auth.json" "$REG/tok/img:v1"
expect_rc "token server refuses anonymous: exit 4" 4 "refused anonymous access" \
	"$LAYERCTL" --store "$WORK/s1" pull -q "${INS[@]}" "${TOKHOST[@]}" --authfile "$WORK/empty.json" "$REG/tok/img:v1"

: >"$TLOG"
check "pull with a Bearer token (Basic credentials to the token server)" \
	lctl pull -q "${INS[@]}" "${TOKHOST[@]}" --authfile "$WORK/auth.json" "$REG/tok/img:v1"
check "one token request for the whole pull, with service and scope" bash -c "
	[ \$(wc -l <'$TLOG') = 1 ] &&
	grep -qx 'user=puller service=layerfs-registry scope=repository:tok/img:pull' '$TLOG'"
mapfile -t L < <(layer_dirs "$REG/tok/img:v1")
check "layer equals its source" python3 "$HELPERS/tree.py" same "$SRC" "${L[0]}"

echo anonymous >"$MODE"
check "anonymous pull where the token server allows it" \
	"$LAYERCTL" --store "$WORK/s2" pull -q "${INS[@]}" "${TOKHOST[@]}" --authfile "$WORK/empty.json" "$REG/tok/img:v1"

echo access_token_only >"$MODE"
check "token server answering only access_token" \
	"$LAYERCTL" --store "$WORK/s3" pull -q "${INS[@]}" "${TOKHOST[@]}" --authfile "$WORK/auth.json" "$REG/tok/img:v1"

# a 401 in the middle of the pull (a revoked token): one new token, then on
echo "" >"$MODE"
PPORT=$(free_port)
python3 "$HELPERS/faultproxy.py" "$PPORT" "$REG" "unauth=1" "$WORK/proxy.log" 2>>"$WORK/proxy.err" &
PIDS+=($!)
wait_http "http://127.0.0.1:$PPORT/v2/"
printf '{"auths": {"127.0.0.1:%s": {"auth": "%s"}}}' "$PPORT" "$(printf 'puller:pa55word' | base64 -w0)" \
	>"$WORK/auth-proxy.json"
: >"$TLOG"
check "401 mid-pull: re-authenticates once and completes" \
	"$LAYERCTL" --store "$WORK/s4" pull -q --insecure-registry "127.0.0.1:$PPORT" "${TOKHOST[@]}" \
	--authfile "$WORK/auth-proxy.json" "127.0.0.1:$PPORT/tok/img:v1"
check "401 mid-pull: exactly two token requests" test "$(wc -l <"$TLOG")" = 2
check "401 mid-pull: the proxy did inject it" grep -q "injected 401" "$WORK/proxy.log"

# a blob redirect to another host:port (a CDN): followed, without the token
BPORT=$(free_port)
python3 "$HELPERS/blobserver.py" "$BPORT" "$WORK/oci/blobs/sha256" "$WORK/blobs.log" 2>>"$WORK/proxy.err" &
PIDS+=($!)
RPORT=$(free_port)
python3 "$HELPERS/faultproxy.py" "$RPORT" "$REG" "redirect=$BPORT" "$WORK/redirect.log" 2>>"$WORK/proxy.err" &
PIDS+=($!)
wait_http "http://127.0.0.1:$RPORT/v2/" && wait_http "http://127.0.0.1:$BPORT/"
printf '{"auths": {"127.0.0.1:%s": {"auth": "%s"}}}' "$RPORT" "$(printf 'puller:pa55word' | base64 -w0)" \
	>"$WORK/auth-redirect.json"
: >"$WORK/blobs.log"
check "blob redirected to another host:port: pull completes" \
	"$LAYERCTL" --store "$WORK/s6" pull -q --insecure-registry "127.0.0.1:$RPORT" "${TOKHOST[@]}" \
	--authfile "$WORK/auth-redirect.json" "127.0.0.1:$RPORT/tok/img:v1"
check "redirect: the blob server was used" grep -q "GET /blobs/sha256:" "$WORK/blobs.log"
check "redirect: Authorization was not forwarded" bash -c "! grep -q 'authorization=yes' '$WORK/blobs.log'"

echo expired >"$MODE"
expect_rc "tokens the registry always refuses: exit 4 after one re-auth" 4 "authentication failed" \
	"$LAYERCTL" --store "$WORK/s5" pull -q "${INS[@]}" "${TOKHOST[@]}" --authfile "$WORK/auth.json" "$REG/tok/img:v1"
finish
