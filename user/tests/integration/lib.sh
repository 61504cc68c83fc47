# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the integration tests: TAP output, a work directory,
# real docker-registry instances on 127.0.0.1 and test images built with
# umoci from host files.  Every process a test starts is killed on exit.
set -u

BUILD=${BUILD:?BUILD must name the build directory}
LAYERCTL="$BUILD/layerctl"
HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../helpers" && pwd)
WORK=$(mktemp -d /tmp/layerfs-test.XXXXXX)
PIDS=()
T_N=0
T_FAILED=0

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
[ -n "${KEEP_WORK:-}" ] && trap - EXIT

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
not_ok() { T_N=$((T_N + 1)); T_FAILED=1; echo "not ok $T_N - $*"; }
skip() { T_N=$((T_N + 1)); echo "ok $T_N - $* # SKIP"; }
# check NAME CMD...: one TAP line for a command's success
check() {
	local name=$1
	shift
	if "$@" >"$WORK/check.out" 2>&1; then
		ok "$name"
	else
		not_ok "$name"
		sed 's/^/# /' "$WORK/check.out" | tail -20
	fi
}
# expect_rc NAME RC TEXT CMD...: CMD exits with RC and says TEXT on stderr
expect_rc() {
	local name=$1 want=$2 text=$3 rc
	shift 3
	"$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	if [ "$rc" = "$want" ] && grep -q -- "$text" "$WORK/err"; then
		ok "$name"
	else
		not_ok "$name (exit $rc, want $want with \"$text\")"
		sed 's/^/# /' "$WORK/err"
	fi
}
finish() {
	echo "1..$T_N"
	exit "$T_FAILED"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL: until the server answers with any HTTP status, 20 s at most
# (TLS certificates are not checked here: only "is it up")
wait_http() {
	python3 - "$1" <<'PY'
import ssl, sys, time, urllib.error, urllib.request
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
for _ in range(100):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1, context=ctx)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except Exception:
        time.sleep(0.2)
print(f"# server at {sys.argv[1]} did not come up", file=sys.stderr)
sys.exit(1)
PY
}

# start_registry NAME [EXTRA_YAML_FILE]: a registry, with TLS when REG_TLS_DIR
# names a make_ca directory; EXTRA_YAML_FILE adds top-level config (auth).  Sets REG (host:port) and REG_DIR.
# REG_ACCESSLOG=1 keeps the access log ("GET /v2/ HTTP/2.0" 200 ...) in $REG_DIR/log.
start_registry() {
	local name=$1 extra=${2:-} port
	port=$(free_port)
	REG_DIR="$WORK/registry-$name"
	REG="127.0.0.1:$port"
	mkdir -p "$REG_DIR/data"
	cat >"$REG_DIR/config.yml" <<EOC
version: 0.1
log:
  level: error
  accesslog:
    disabled: $([ -n "${REG_ACCESSLOG:-}" ] && echo false || echo true)
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
http:
  addr: $REG
EOC
	if [ -n "${REG_TLS_DIR:-}" ]; then
		printf '  tls:\n    certificate: %s\n    key: %s\n' "$REG_TLS_DIR/server.crt" \
			"$REG_TLS_DIR/server.key" >>"$REG_DIR/config.yml"
	fi
	if [ -n "$extra" ]; then
		cat "$extra" >>"$REG_DIR/config.yml"
	fi
	docker-registry serve "$REG_DIR/config.yml" >"$REG_DIR/log" 2>&1 &
	PIDS+=($!)
	local scheme=http
	grep -q 'tls:' "$REG_DIR/config.yml" && scheme=https
	wait_http "$scheme://$REG/v2/"
}

# start_token_registry NAME [IDENTITY_TOKEN]: tests/helpers/tokenserver.py on
# 127.0.0.1 (user puller:pa55word; IDENTITY_TOKEN accepted as an OAuth2
# refresh token) and a registry trusting its tokens.  Sets TPORT, TMODE (the
# server's mode file), TLOG (one line per token request), TOKHOST (the
# --insecure-registry option for the plain-HTTP realm), REG and REG_DIR.
start_token_registry() {
	local t="$WORK/token-$1"
	mkdir -p "$t"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=layerfs token signer" \
		-keyout "$t/key.pem" -out "$t/cert.pem" >/dev/null 2>&1 || return 1
	TPORT=$(free_port)
	TMODE="$t/mode"
	TLOG="$t/requests.log"
	TOKHOST=(--insecure-registry "127.0.0.1:$TPORT")
	: >"$TMODE"
	: >"$TLOG"
	python3 "$HELPERS/tokenserver.py" "$TPORT" "$t/key.pem" "$t/cert.pem" layerfs-issuer \
		'puller:pa55word' "$TMODE" "$TLOG" ${2:+"$2"} 2>"$t/err" &
	PIDS+=($!)
	wait_http "http://127.0.0.1:$TPORT/" || return 1
	cat >"$t/auth.yml" <<EOC
auth:
  token:
    realm: http://127.0.0.1:$TPORT/token
    service: layerfs-registry
    issuer: layerfs-issuer
    rootcertbundle: $t/cert.pem
EOC
	start_registry "$1" "$t/auth.yml"
}

# make_ca DIR: a CA and a server certificate for 127.0.0.1 (openssl)
make_ca() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=layerfs test CA" \
		-keyout "$d/ca.key" -out "$d/ca.crt" >/dev/null 2>&1 || return 1
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1 || return 1
	printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$d/ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/ext" -out "$d/server.crt" >/dev/null 2>&1
}

# push LAYOUT TAG DEST [skopeo args]: copy an OCI layout image to a registry
push() {
	local layout=$1 tag=$2 dest=$3
	shift 3
	timeout 120 skopeo copy -q --dest-tls-verify=false "$@" "oci:$layout:$tag" "docker://$dest" >/dev/null
}

# new_image LAYOUT TAG BUNDLE: an empty image, unpacked into BUNDLE for editing
new_image() {
	if [ ! -d "$1" ]; then
		umoci init --layout "$1" || return 1
	fi
	umoci new --image "$1:$2" && umoci unpack --image "$1:$2" "$3" >/dev/null
}

# commit_layer LAYOUT TAG BUNDLE: one new layer with the changes made under
# BUNDLE/rootfs (deletions become whiteouts).  "umoci insert" is avoided: the
# Debian build writes tars that stop before the end-of-archive blocks.
commit_layer() {
	umoci repack --refresh-bundle --no-history --image "$1:$2" "$3" 2>/dev/null
}

# The store of this test run and a layerctl wrapper using it.
STORE="$WORK/store"
lctl() { "$LAYERCTL" --store "$STORE" "$@"; }

# layer_dirs REF: the layer directories of an image in the store, in order
layer_dirs() {
	lctl inspect --json "$1" | python3 -c 'import json,sys; [print(l["path"]) for l in json.load(sys.stdin)["layers"]]'
}
