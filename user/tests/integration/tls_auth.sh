#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# TLS with a test CA made by openssl, and htpasswd Basic auth with
# credentials from an auth.json file.  The registry offers HTTP/2 over TLS
# (ALPN): every request of layerctl must use it, the 401 challenge included.
. "$(dirname "$0")/lib.sh"

CA="$WORK/ca"
check "test CA and server certificate" make_ca "$CA"
htpasswd -Bbn tester 's3cret:with:colons' >"$WORK/htpasswd" 2>/dev/null
cat >"$WORK/auth.yml" <<EOC
auth:
  htpasswd:
    realm: layerfs-test
    path: $WORK/htpasswd
EOC
export REG_TLS_DIR="$CA"
REG_ACCESSLOG=1
if ! start_registry tls "$WORK/auth.yml"; then
	not_ok "docker-registry with TLS and htpasswd starts"
	finish
fi
ok "docker-registry with TLS and htpasswd starts on $REG"

SRC="$WORK/src"
mkdir -p "$SRC/usr/bin"
cp /usr/bin/ls "$SRC/usr/bin/"
tar -C "$SRC" -cf "$WORK/l.tar" usr
python3 "$HELPERS/mkoci.py" image "$WORK/oci" v1 "$WORK/l.tar" >/dev/null
check "push with credentials" push "$WORK/oci" v1 "$REG/secure/img:v1" --dest-creds 'tester:s3cret:with:colons'

b64() { printf '%s' "$1" | base64 -w0; }
printf '{"auths": {"%s": {"auth": "%s"}}}' "$REG" "$(b64 'tester:s3cret:with:colons')" >"$WORK/auth.json"
printf '{"auths": {"https://%s/v1/": {"auth": "%s"}}}' "$REG" "$(b64 'tester:wrong')" >"$WORK/bad.json"
printf '{"auths": {"other.example:5000": {"auth": "%s"}}}' "$(b64 'tester:s3cret:with:colons')" >"$WORK/none.json"

"$LAYERCTL" --store "$STORE" pull -q --retries 0 --authfile "$WORK/auth.json" "$REG/secure/img:v1" 2>"$WORK/noca.err"
rc=$?
[ "$rc" = 7 ] && grep -qi "certificate" "$WORK/noca.err" && ok "unknown CA refused (exit 7)" ||
	{ not_ok "unknown CA refused (got $rc)"; sed 's/^/# /' "$WORK/noca.err"; }
"$LAYERCTL" --store "$STORE" pull -q --ca "$CA/ca.crt" --authfile "$WORK/none.json" "$REG/secure/img:v1" 2>"$WORK/anon.err"
rc=$?
[ "$rc" = 4 ] && grep -q "no credentials" "$WORK/anon.err" && ok "no credentials: exit 4 with the reason" ||
	{ not_ok "no credentials: exit 4 (got $rc)"; sed 's/^/# /' "$WORK/anon.err"; }
"$LAYERCTL" --store "$STORE" pull -q --ca "$CA/ca.crt" --authfile "$WORK/bad.json" "$REG/secure/img:v1" 2>"$WORK/bad.err"
rc=$?
[ "$rc" = 4 ] && grep -q "401" "$WORK/bad.err" && ok "wrong password: exit 4" ||
	{ not_ok "wrong password: exit 4 (got $rc)"; sed 's/^/# /' "$WORK/bad.err"; }
check "pull over TLS with the test CA and Basic auth" \
	lctl pull -q --ca "$CA/ca.crt" --authfile "$WORK/auth.json" "$REG/secure/img:v1"
mapfile -t L < <(layer_dirs "$REG/secure/img:v1")
check "layer equals its source" python3 "$HELPERS/tree.py" same "$SRC" "${L[0]}"
# access log lines: "... \"GET /v2/secure/img/blobs/sha256:... HTTP/2.0\" 200 ... \"layerctl/0.1\""
check "HTTP/2 negotiated: manifests, blobs and the 401 challenge" bash -c "
	grep '\"layerctl/' '$REG_DIR/log' >'$WORK/ctl.log' &&
	grep -q '\"HEAD /v2/secure/img/manifests/v1 HTTP/2.0\" 401 ' '$WORK/ctl.log' &&
	grep -q '\"GET /v2/secure/img/blobs/sha256:[0-9a-f]* HTTP/2.0\" 200 ' '$WORK/ctl.log' &&
	! grep -v ' HTTP/2.0\" ' '$WORK/ctl.log'"
mkdir -p "$WORK/home/.docker"
cp "$WORK/auth.json" "$WORK/home/.docker/config.json"
check "credentials from ~/.docker/config.json" env HOME="$WORK/home" XDG_RUNTIME_DIR= REGISTRY_AUTH_FILE= \
	"$LAYERCTL" --store "$WORK/store2" pull -q --ca "$CA/ca.crt" "$REG/secure/img:v1"
check "credentials from \$REGISTRY_AUTH_FILE" env REGISTRY_AUTH_FILE="$WORK/auth.json" \
	"$LAYERCTL" --store "$WORK/store3" pull -q --ca "$CA/ca.crt" "$REG/secure/img:v1"
"$LAYERCTL" --store "$WORK/store4" pull -q --retries 0 --insecure-registry "$REG" --authfile "$WORK/auth.json" \
	"$REG/secure/img:v1" 2>/dev/null
rc=$?
[ "$rc" = 7 ] && ok "plain HTTP to a TLS registry fails cleanly" || not_ok "plain HTTP to a TLS registry (got $rc)"
finish
