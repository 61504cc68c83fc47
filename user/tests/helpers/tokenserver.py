#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A small Bearer token server for docker-registry's "token" auth, on
127.0.0.1 only (Python stdlib; RS256 signatures by the openssl command).

  tokenserver.py PORT KEY CERT ISSUER USER:PASSWORD MODEFILE LOGFILE [IDENTITY_TOKEN]

Grants the requested actions to USER (Basic auth on the token request) and
pull alone to anonymous requests when MODEFILE contains "anonymous".  Other
MODEFILE words: "access_token_only" (answer {"access_token"} without
"token"), "expired" (issue tokens the registry will refuse).  Each request is
logged as one line: "user=U service=S scope=A scope=B".

The OAuth2 POST (distribution docs/spec/auth/oauth.md) is served too: a form
with grant_type "password" (username, password) or "refresh_token"
(refresh_token: IDENTITY_TOKEN stands for USER), service, scope (scopes
separated by spaces) and client_id; the answer has "access_token" alone.
MODEFILE words "no_post" and "post_405" make the POST answer 404 and 405, as
token servers without OAuth2 do.  Logged as "POST grant=G client_id=C
user=U service=S scope=A scope=B".
"""
import base64
import json
import os
import subprocess
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    port, key, cert, issuer, creds, modefile, logfile = sys.argv[1:8]
    identity = sys.argv[8] if len(sys.argv) > 8 else None
    with open(cert) as f:
        pem = f.read()
    der_b64 = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))

    def sign(claims):
        header = {"typ": "JWT", "alg": "RS256", "x5c": [der_b64]}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input.encode(),
                             stdout=subprocess.PIPE, check=True).stdout
        return signing_input + "." + b64url(sig)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def mode(self):
            return open(modefile).read().split() if os.path.exists(modefile) else []

        def log(self, line):
            with open(logfile, "a") as fh:
                fh.write(line + "\n")

        def grant(self, user, service, scopes):
            if user is None and "anonymous" not in self.mode():
                return None
            access = []
            for s in scopes:
                parts = s.split(":")
                if len(parts) != 3 or parts[0] != "repository":
                    continue
                wanted = parts[2].split(",")
                allowed = wanted if user else [a for a in wanted if a == "pull"]
                access.append({"type": "repository", "name": parts[1], "actions": allowed})
            now = int(time.time())
            if "expired" in self.mode():
                now -= 3600
            claims = {"iss": issuer, "sub": user or "", "aud": service,
                      "exp": now + 300, "nbf": now - 10, "iat": now,
                      "jti": b64url(os.urandom(12)), "access": access}
            return sign(claims)

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            q = urllib.parse.parse_qs(url.query)
            user = None
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                if base64.b64decode(auth[6:]).decode() != creds:
                    return self.reply(401, {"details": "bad credentials"})
                user = creds.split(":", 1)[0]
            self.log(f"user={user or '-'} service={','.join(q.get('service', []))} " +
                     " ".join("scope=" + s for s in q.get("scope", [])))
            if url.path != "/token":
                return self.reply(404, {})
            tok = self.grant(user, q.get("service", [""])[0], q.get("scope", []))
            if tok is None:
                return self.reply(401, {"details": "credentials required"})
            body = {"access_token": tok, "expires_in": 300}
            if "access_token_only" not in self.mode():
                body["token"] = tok
            self.reply(200, body)

        def do_POST(self):
            url = urllib.parse.urlparse(self.path)
            n = int(self.headers.get("Content-Length", "0"))
            form = urllib.parse.parse_qs(self.rfile.read(n).decode(), keep_blank_values=True)
            f = {k: v[0] for k, v in form.items()}
            grant = f.get("grant_type", "")
            user = None
            if grant == "password" and f"{f.get('username')}:{f.get('password')}" == creds:
                user = creds.split(":", 1)[0]
            elif grant == "refresh_token" and identity and f.get("refresh_token") == identity:
                user = creds.split(":", 1)[0]
            scopes = f.get("scope", "").split()
            self.log(f"POST grant={grant} client_id={f.get('client_id', '-')} user={user or '-'} "
                     f"service={f.get('service', '')} " + " ".join("scope=" + s for s in scopes))
            if "no_post" in self.mode():
                return self.reply(404, {"details": "not found"})
            if "post_405" in self.mode():
                return self.reply(405, {"details": "method not allowed"})
            if url.path != "/token":
                return self.reply(404, {})
            if user is None or not f.get("client_id"):
                return self.reply(400, {"error": "invalid_grant"})
            tok = self.grant(user, f.get("service", ""), scopes)
            self.reply(200, {"access_token": tok, "expires_in": 300, "scope": " ".join(scopes)})

        def reply(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
