#!/usr/bin/env python3
"""Object access to the Swift fixture's bucket behind the S3 backend's back,
through Swift's own API (tempauth), for tests that damage or inspect a
vault: the S3 path under test is not used to check itself.

  sobj.py ls PREFIX          "NAME SIZE MTIME" per object (MTIME: unix s,
                             with Swift's fraction: ordering needs it)
  sobj.py get KEY            object to stdout
  sobj.py put KEY            stdin to the object
  sobj.py rm KEY...          delete (missing objects are fine)
  sobj.py rmprefix PREFIX    delete every object under PREFIX
  sobj.py cp SRC DST         copy every object under prefix SRC to DST

Needs SWIFT_PROXY_PORT, S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
(tests/s3/swift-up.sh prints them).
"""
import calendar
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE = "http://127.0.0.1:%s" % os.environ["SWIFT_PROXY_PORT"]
BUCKET = os.environ["S3_BUCKET"]


def auth():
    req = urllib.request.Request(BASE + "/auth/v1.0", headers={
        "X-Auth-User": os.environ["AWS_ACCESS_KEY_ID"],
        "X-Auth-Key": os.environ["AWS_SECRET_ACCESS_KEY"]})
    with urllib.request.urlopen(req) as r:
        return r.headers["X-Auth-Token"], r.headers["X-Storage-Url"]


TOKEN, STORAGE = auth()


def call(method, key="", query=None, data=None, headers=None):
    url = "%s/%s" % (STORAGE, BUCKET)
    if key:
        url += "/" + urllib.parse.quote(key)
    if query:
        url += "?" + urllib.parse.urlencode(query)
    h = {"X-Auth-Token": TOKEN}
    h.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    for attempt in range(5):
        try:
            with urllib.request.urlopen(req) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            if e.code == 404 and method == "DELETE":
                return b""
            if e.code < 500 or attempt == 4:
                raise
        time.sleep(0.2 * 2 ** attempt)


def listing(prefix):
    out, marker = [], ""
    while True:
        page = json.loads(call("GET", query={"prefix": prefix, "format": "json",
                                             "marker": marker}))
        if not page:
            return out
        out += page
        marker = page[-1]["name"]


def main(argv):
    op = argv[1]
    if op == "ls":
        for o in listing(argv[2]):
            lm = o["last_modified"]
            t = calendar.timegm(time.strptime(lm[:19], "%Y-%m-%dT%H:%M:%S"))
            frac = lm[19:] if lm[19:20] == "." else ""
            print(o["name"], o["bytes"], "%d%s" % (t, frac))
    elif op == "get":
        sys.stdout.buffer.write(call("GET", argv[2]))
    elif op == "put":
        call("PUT", argv[2], data=sys.stdin.buffer.read())
    elif op == "rm":
        for k in argv[2:]:
            call("DELETE", k)
    elif op == "rmprefix":
        for o in listing(argv[2]):
            call("DELETE", o["name"])
    elif op == "cp":
        src, dst = argv[2], argv[3]
        for o in listing(src):
            call("PUT", dst + o["name"][len(src):], data=b"",
                 headers={"X-Copy-From": "/%s/%s" % (BUCKET, urllib.parse.quote(o["name"]))})
    else:
        sys.exit("sobj.py: unknown operation " + op)


if __name__ == "__main__":
    main(sys.argv)
