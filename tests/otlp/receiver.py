#!/usr/bin/env python3
"""receiver.py -- a test OTLP/HTTP receiver on loopback: logs every POST,
keeps each body as DIR/NNNN.bin (or .json), and answers the first
--fail-first POSTs with 503 and Retry-After: 1, then 200 (or --status).

  receiver.py DIR [--port-file F] [--fail-first N] [--status CODE]

The port it listens on (127.0.0.1, chosen by the kernel) is written to
--port-file; the log goes to DIR/log."""
import argparse
import http.server
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--port-file")
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--status", type=int, default=200)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    log = open(os.path.join(a.dir, "log"), "a", buffering=1)
    state = {"n": 0}

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            state["n"] += 1
            k = state["n"]
            ctype = self.headers.get("Content-Type", "")
            if k <= a.fail_first:
                code = 503
            else:
                code = a.status
                ext = "json" if "json" in ctype else "bin"
                with open(os.path.join(a.dir, "%04d.%s" % (k, ext)), "wb") as f:
                    f.write(body)
            log.write("%.3f POST %s content-type=%s bytes=%d user-agent=%s -> %d\n" % (
                time.time(), self.path, ctype, len(body), self.headers.get("User-Agent", ""), code))
            self.send_response(code)
            if code == 503:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        os.rename(a.port_file + ".tmp", a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
