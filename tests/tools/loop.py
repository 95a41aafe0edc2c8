#!/usr/bin/env python3
"""loop.py - a client loop at full speed, for disruption tests.

usage: loop.py IP PORT PATH SECONDS OUTFILE [keepalive|close] [STOPFILE]
Sends HTTP GETs back to back (keep-alive: one connection, reconnecting
after an error; close: a new connection per request) until SECONDS pass or
STOPFILE exists. OUTFILE.started appears once the first request got an
answer or failed (tests wait for it instead of guessing how long python
takes to start in a pod). Writes a JSON summary to OUTFILE: ok, fail, the wall time
of the first failure and of each failure's kind, when the first failed request
was sent (first_fail_start), and when the last request that succeeded and the
last of all were sent (last_ok_start, last_start), so tests can assert zero
failures, or that no request sent after some moment succeeded.
"""
import json
import os
import socket
import sys
import time

ip, port, path, seconds, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]
mode = sys.argv[6] if len(sys.argv) > 6 else "close"
stop = sys.argv[7] if len(sys.argv) > 7 else None
req = ("GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (path, "" if mode == "keepalive" else "Connection: close\r\n")).encode()
ok = fail = 0
first_fail = None
first_fail_start = None  # when the first failed request was sent
last_ok_start = None  # when the last request that succeeded was sent
last_start = None
errors = []
sock = None
deadline = time.monotonic() + seconds


class Stale(Exception):
    """A reused keep-alive connection closed before any response byte."""


def one():
    global sock
    reused = sock is not None
    if sock is None:
        sock = socket.create_connection((ip, port), timeout=2)
    buf = b""
    try:
        sock.sendall(req)
        while b"\r\n\r\n" not in buf:
            d = sock.recv(65536)
            if not d:
                raise ConnectionError("closed before the response")
            buf += d
    except (ConnectionError, OSError) as e:
        # As HTTP clients do (RFC 9112 9.3.1, curl): a GET on a reused
        # connection that the server closed between requests is retried once
        # on a new connection; a failure on a new connection is a failure.
        if reused and not buf and not isinstance(e, socket.timeout):
            sock.close()
            sock = None
            raise Stale() from e
        raise
    head, _, body = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(body) < n:
        d = sock.recv(65536)
        if not d:
            raise ConnectionError("closed in the body")
        body += d
    conn_close = any(l.lower().startswith(b"connection:") and b"close" in l.lower() for l in head.split(b"\r\n")[1:])
    if mode != "keepalive" or conn_close:
        sock.close()
        sock = None
    if status != 200:
        raise ConnectionError("status %d" % status)


while time.monotonic() < deadline and not (stop and os.path.exists(stop)):
    started = last_start = time.time()
    try:
        try:
            one()
        except Stale:
            one()
        ok += 1
        last_ok_start = started
    except Exception as e:  # noqa: BLE001 - every failure counts
        fail += 1
        if first_fail is None:
            first_fail = time.time()
            first_fail_start = started
        if len(errors) < 5:
            errors.append("%.3f %s" % (time.time(), e))
        if sock is not None:
            sock.close()
            sock = None
        time.sleep(0.001)
    if ok + fail == 1:
        open(out + ".started", "w").close()
json.dump({"ok": ok, "fail": fail, "first_fail": first_fail, "first_fail_start": first_fail_start,
           "last_ok_start": last_ok_start, "last_start": last_start, "errors": errors}, open(out, "w"))
