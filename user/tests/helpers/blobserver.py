#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Serve blobs from a directory, as a CDN behind a registry redirect does,
on 127.0.0.1 only, and log whether each request carried credentials.

  blobserver.py PORT BLOBDIR LOGFILE      (GET /blobs/sha256:HEX)
"""
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    port, blobdir, logfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            auth = "yes" if self.headers.get("Authorization") else "no"
            with open(logfile, "a") as fh:
                fh.write(f"GET {self.path} authorization={auth}\n")
            name = self.path.rsplit("sha256:", 1)[-1]
            path = os.path.join(blobdir, name)
            if "/" in name or not os.path.isfile(path):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with open(path, "rb") as fh:
                data = fh.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
