#!/usr/bin/env python3
"""A loopback HTTP proxy in front of the Swift fixture that injects faults:
every Nth request is answered 503 (--every-503 N) or held for S seconds
before it is forwarded (--every-stall N --stall S).  Requests go upstream
unchanged, Host header included, so SigV4 signatures stay valid.

  faultproxy.py UPSTREAM_PORT [--every-503 N] [--every-stall N --stall S]

Prints the port it listens on, then serves until killed; counts injected
faults in the file given by --count FILE.
"""
import argparse
import http.client
import http.server
import socketserver
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("upstream", type=int)
ap.add_argument("--every-503", type=int, default=0)
ap.add_argument("--every-stall", type=int, default=0)
ap.add_argument("--stall", type=float, default=0)
ap.add_argument("--count", default=None)
args = ap.parse_args()
lock = threading.Lock()
state = {"n": 0, "faults": 0}


def tick():
    with lock:
        state["n"] += 1
        return state["n"]


def fault():
    with lock:
        state["faults"] += 1
        if args.count:
            with open(args.count, "w") as f:
                f.write("%d\n" % state["faults"])


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        n = tick()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if args.every_503 and n % args.every_503 == 0:
            fault()
            msg = b"<Error><Code>ServiceUnavailable</Code></Error>"
            self.send_response(503)
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(msg)
            return
        if args.every_stall and n % args.every_stall == 0:
            fault()
            time.sleep(args.stall)
        c = http.client.HTTPConnection("127.0.0.1", args.upstream, timeout=120)
        hdrs = {k: v for k, v in self.headers.items()}
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                self.send_header(k, v)
        length = r.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        c.close()

    do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = handle_any


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = S(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
