#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Credentials beyond a password in auth.json, against docker-registry's token
# auth and tests/helpers/tokenserver.py: the OAuth2 POST to the realm with an
# identity token (grant_type=refresh_token) or, with --oauth2, a password
# (grant_type=password), falling back to the GET token flow when the POST is
# answered 404 or 405; and docker-credential-* helpers (credHelpers,
# credsStore) from a directory this test puts first on $PATH.
. "$(dirname "$0")/lib.sh"

IDTOKEN="idtok-$RANDOM$RANDOM"
if ! start_token_registry creds "$IDTOKEN"; then
	not_ok "docker-registry with token auth and the token server start"
	finish
fi
ok "docker-registry with token auth and the token server start"

SRC="$WORK/src"
mkdir -p "$SRC/usr/bin"
cp /usr/bin/ls "$SRC/usr/bin/"
tar -C "$SRC" -cf "$WORK/l.tar" usr
python3 "$HELPERS/mkoci.py" image "$WORK/oci" v1 "$WORK/l.tar" >/dev/null
check "push through token auth" push "$WORK/oci" v1 "$REG/cred/img:v1" --dest-creds 'puller:pa55word'
IMG="$REG/cred/img:v1"
INS=(--insecure-registry "$REG" "${TOKHOST[@]}" --retry-delay 50)
SCOPE="service=layerfs-registry scope=repository:cred/img:pull"
b64() { printf '%s' "$1" | base64 -w0; }

# auth.json as "docker login" writes it with a token server issuing refresh tokens
printf '{"auths": {"%s": {"auth": "%s", "identitytoken": "%s"}}}' "$REG" "$(b64 'puller:')" "$IDTOKEN" \
	>"$WORK/id.json"
printf '{"auths": {"%s": {"identitytoken": "wrong-token"}}}' "$REG" >"$WORK/badid.json"
printf '{"auths": {"%s": {"auth": "%s", "identitytoken": "%s"}}}' "$REG" "$(b64 'puller:pa55word')" \
	"$IDTOKEN" >"$WORK/both.json"
printf '{"auths": {"%s": {"auth": "%s"}}}' "$REG" "$(b64 'puller:pa55word')" >"$WORK/pw.json"

n=0
pull() {	# pull AUTHFILE [layerctl pull options]: into a fresh store
	local f=$1
	shift
	n=$((n + 1))
	"$LAYERCTL" --store "$WORK/s$n" pull -q "${INS[@]}" --authfile "$f" "$@" "$IMG"
}
log_is() {	# log_is LINE...: the token server saw exactly these requests
	printf '%s\n' "$@" | diff - "$TLOG"
}

: >"$TLOG"
check "identity token: pull with the OAuth2 POST" pull "$WORK/id.json"
check "identity token: one POST, grant_type=refresh_token, client_id=layerctl, no GET" \
	log_is "POST grant=refresh_token client_id=layerctl user=puller $SCOPE"
mapfile -t L < <(lctl --store "$WORK/s$n" inspect --json "$IMG" |
	python3 -c 'import json,sys; [print(l["path"]) for l in json.load(sys.stdin)["layers"]]')
check "identity token: layer equals its source" python3 "$HELPERS/tree.py" same "$SRC" "${L[0]}"

: >"$TLOG"
expect_rc "identity token refused: exit 4, one line naming the POST" 4 \
	"refused the identity token (OAuth2 POST, HTTP 400: invalid_grant)" pull "$WORK/badid.json"
check "identity token refused: no GET with it" log_is \
	"POST grant=refresh_token client_id=layerctl user=- $SCOPE"

: >"$TLOG"
check "password: GET by default" pull "$WORK/pw.json"
check "password: no POST without --oauth2" log_is "user=puller $SCOPE"
: >"$TLOG"
check "password with --oauth2: pull" pull "$WORK/pw.json" --oauth2
check "password with --oauth2: one POST, grant_type=password" \
	log_is "POST grant=password client_id=layerctl user=puller $SCOPE"

echo no_post >"$TMODE"
: >"$TLOG"
check "POST answered 404: falls back to the GET flow" pull "$WORK/both.json"
check "POST answered 404: one POST, then GET with the password" \
	log_is "POST grant=refresh_token client_id=layerctl user=puller $SCOPE" "user=puller $SCOPE"
echo post_405 >"$TMODE"
: >"$TLOG"
check "POST answered 405 (--oauth2): falls back to the GET flow" pull "$WORK/pw.json" --oauth2
check "POST answered 405: one POST, then GET" \
	log_is "POST grant=password client_id=layerctl user=puller $SCOPE" "user=puller $SCOPE"
: >"$TLOG"
expect_rc "POST 404 with only an identity token: the GET is anonymous (refused)" 4 \
	"refused anonymous access" pull "$WORK/id.json"
check "the identity token is never sent with the GET" log_is \
	"POST grant=refresh_token client_id=layerctl user=puller $SCOPE" "user=- $SCOPE"
: >"$TMODE"

# credential helpers, found on $PATH; each logs the server it was asked about
BIN="$WORK/bin"
mkdir -p "$BIN"
cat >"$BIN/docker-credential-lfstest" <<EOS
#!/bin/sh
[ "\$1" = get ] || exit 2
server=\$(cat)
echo "\$server" >>"$WORK/helper.log"
case "\$server" in
$REG) printf '{"ServerURL":"%s","Username":"puller","Secret":"pa55word"}\n' "\$server" ;;
*) echo 'credentials not found in native keychain'; exit 1 ;;
esac
EOS
cat >"$BIN/docker-credential-lfstoken" <<EOS
#!/bin/sh
cat >/dev/null
printf '{"ServerURL":"$REG","Username":"<token>","Secret":"$IDTOKEN"}'
EOS
printf '#!/bin/sh\nexec sleep 60\n' >"$BIN/docker-credential-lfsslow"
printf '#!/bin/sh\necho "store is locked" >&2\nexit 5\n' >"$BIN/docker-credential-lfsfail"
chmod 755 "$BIN"/docker-credential-*
export PATH="$BIN:$PATH"

printf '{"credHelpers": {"%s": "lfstest"}}' "$REG" >"$WORK/helpers.json"
printf '{"credsStore": "lfstest", "auths": {"%s": {}}}' "$REG" >"$WORK/store.json"
printf '{"credsStore": "lfstoken"}' >"$WORK/tokstore.json"
printf '{"credHelpers": {"%s": "lfsslow"}}' "$REG" >"$WORK/slow.json"
printf '{"credsStore": "lfsfail"}' >"$WORK/fail.json"
printf '{"credsStore": "lfsmissing"}' >"$WORK/missing.json"

: >"$TLOG"
: >"$WORK/helper.log"
check "credHelpers: pull with the helper's credentials" pull "$WORK/helpers.json"
check "credHelpers: the helper was asked once, about host:port" test "$(cat "$WORK/helper.log")" = "$REG"
check "credHelpers: token fetched with them" log_is "user=puller $SCOPE"
check "credsStore: pull with the default helper" pull "$WORK/store.json"
: >"$TLOG"
check "credsStore answering <token>: pull with the OAuth2 POST" pull "$WORK/tokstore.json"
check "credsStore answering <token>: refresh_token grant" \
	log_is "POST grant=refresh_token client_id=layerctl user=puller $SCOPE"
start=$SECONDS
expect_rc "helper over its time limit: exit 4" 4 "docker-credential-lfsslow get timed out after 1000 ms" \
	pull "$WORK/slow.json" --helper-timeout 1
check "helper over its time limit: killed within seconds" test $((SECONDS - start)) -lt 10
expect_rc "failing helper: exit 4 with its message" 4 \
	"docker-credential-lfsfail get failed (exit 5): store is locked" pull "$WORK/fail.json"
check "failing helper: one line" test "$(wc -l <"$WORK/err")" = 1
expect_rc "missing helper: exit 4" 4 "docker-credential-lfsmissing not found in \$PATH" pull "$WORK/missing.json"
finish
