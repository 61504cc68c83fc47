#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A fault-injecting HTTP proxy in front of a registry, on 127.0.0.1 only.

  faultproxy.py PORT UPSTREAM_HOST:PORT FAULT[,FAULT...] LOGFILE

Faults (N: how many requests get it; "all" for every one):
  drop=N:BYTES     blob GETs longer than BYTES: send the headers and BYTES of
                   the body, then cut the connection
  status=N:CODE    any request: answer CODE (500, 503, 429 with Retry-After: 1)
  ignore-range     strip Range from requests, so the upstream answers 200
  flip             blob GETs over 4 KiB: flip one byte in the middle of the body
  unauth=N         blob GETs: answer 401 with the upstream's own challenge
  stall=N:BYTES    blob GETs longer than BYTES: send BYTES, then hang for 60 s
  redirect=PORT    blob GETs: 307 to http://127.0.0.1:PORT/blobs/DIGEST (another
                   host:port, as registries redirect to a CDN)
  headers          manifest responses carry Warning: 299 and ratelimit-remaining
  none             forward everything
Each request and the fault applied is appended to LOGFILE.
"""
import http.client
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


class Faults:
    def __init__(self, spec):
        self.lock = threading.Lock()
        self.left = {}
        self.args = {}
        self.flags = set()
        for f in spec.split(","):
            name, _, arg = f.partition("=")
            if name in ("drop", "status", "unauth", "stall"):
                count, _, rest = arg.partition(":")
                self.left[name] = 1 << 30 if count == "all" else int(count)
                self.args[name] = rest
            elif name == "redirect":
                self.args["redirect"] = arg
            elif name:
                self.flags.add(name)

    def take(self, name):
        with self.lock:
            if self.left.get(name, 0) > 0:
                self.left[name] -= 1
                return True
            return False


def main():
    port, upstream, spec, logfile = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    uhost, uport = upstream.rsplit(":", 1)
    faults = Faults(spec)
    log_lock = threading.Lock()

    def log(line):
        with log_lock, open(logfile, "a") as fh:
            fh.write(line + "\n")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def upstream(self, method, headers):
            conn = http.client.HTTPConnection(uhost, int(uport), timeout=30)
            conn.request(method, self.path, headers=headers)
            return conn, conn.getresponse()

        def handle_one(self, method):
            blob = "/blobs/sha256:" in self.path and method == "GET"
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            if "ignore-range" in faults.flags:
                headers.pop("Range", None)
            if faults.take("status"):
                code = int(faults.args["status"] or 500)
                log(f"{method} {self.path} -> injected {code}")
                self.send_response(code)
                if code == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if blob and "redirect" in faults.args:
                digest = self.path.rsplit("/", 1)[1]
                log(f"{method} {self.path} -> redirected")
                self.send_response(307)
                self.send_header("Location", f"http://127.0.0.1:{faults.args['redirect']}/blobs/{digest}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if blob and faults.take("unauth"):
                h = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                conn, resp = self.upstream(method, h)
                resp.read()
                log(f"{method} {self.path} -> injected 401")
                self.send_response(401)
                for k, v in resp.getheaders():
                    if k.lower() == "www-authenticate":
                        self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()
                conn.close()
                return
            conn, resp = self.upstream(method, headers)
            body = resp.read() if method != "HEAD" else b""
            conn.close()
            cut = None
            # only bodies longer than the cut: layers, not the small config blob
            want_cut = int(faults.args.get("drop") or 0)
            if blob and resp.status in (200, 206) and len(body) > want_cut and faults.take("drop"):
                cut = want_cut
            if blob and resp.status in (200, 206) and "flip" in faults.flags and len(body) > 4096:
                mid = len(body) // 2
                body = body[:mid] + bytes([body[mid] ^ 0x5A]) + body[mid + 1:]
            stall = None
            want_stall = int(faults.args.get("stall") or 0)
            if blob and resp.status in (200, 206) and len(body) > want_stall and faults.take("stall"):
                stall = want_stall
            log(f"{method} {self.path} range={headers.get('Range', '-')} -> {resp.status}"
                f"{' cut at %d' % cut if cut is not None else ''}{' flipped' if blob and 'flip' in faults.flags else ''}")
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            if "headers" in faults.flags and "/manifests/" in self.path:
                self.send_header("Warning", '299 - "this repository is deprecated"')
                self.send_header("ratelimit-remaining", "97;w=21600")
            length = resp.getheader("Content-Length") if method == "HEAD" else str(len(body))
            if length is not None:
                self.send_header("Content-Length", length)
            self.end_headers()
            if stall is not None:
                self.wfile.write(body[:stall])
                self.wfile.flush()
                log("stalling")
                time.sleep(60)
                self.close_connection = True
                return
            if cut is not None:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(body)

        def do_GET(self):
            self.handle_one("GET")

        def do_HEAD(self):
            self.handle_one("HEAD")

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
