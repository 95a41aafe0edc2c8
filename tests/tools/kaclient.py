#!/usr/bin/env python3
"""kaclient.py - an HTTP/1.1 client on ONE keep-alive connection, for the
request splice tests: it sends requests the way a test step says and
reads every response whole (Content-Length or chunked), in order.

usage: kaclient.py IP PORT STEP...
Steps:
  get:PATH[:N]      N times (default 1): send the request, read its response
  gz:PATH[:N]       the same with "Accept-Encoding: gzip" (nginx chunks it)
  uniq:PATH:N       N requests, PATH?u=1 ... PATH?u=N (each one new)
  pipe:P1,P2,...    all requests in one send, then every response
  overlap:P1,P2     P1 sent, P2 sent before P1's response is read
  wait:FILE         until FILE exists (at most 30 s)
  sleep:MS          a pause (the proxy gets idle)
Prints one line per response: "STATUS BODYLEN [chunked]", and "closed"
when the server closed the connection (then it stops).
"""
import os
import socket
import sys
import time

ip, port = sys.argv[1], int(sys.argv[2])
host = "%s:%d" % (ip, port)
s = socket.create_connection((ip, port), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
buf = b""


def req(path, gz=False):
    extra = "Accept-Encoding: gzip\r\n" if gz else ""
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: kaclient\r\n%s\r\n" % (path, host, extra)).encode()


def more():
    global buf
    chunk = s.recv(65536)
    if not chunk:
        raise EOFError
    buf += chunk


def line():
    global buf
    while b"\r\n" not in buf:
        more()
    l, buf = buf.split(b"\r\n", 1)
    return l


def take(n):
    global buf
    while len(buf) < n:
        more()
    b, buf = buf[:n], buf[n:]
    return b


def response():
    global buf
    while b"\r\n\r\n" not in buf:
        more()
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    fields = {}
    for l in lines[1:]:
        k, v = l.split(":", 1)
        fields[k.strip().lower()] = v.strip()
    if fields.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int(line().split(b";")[0], 16)
            if size == 0:
                while line() != b"":
                    pass
                break
            body += take(size)
            take(2)
        return "%d %d chunked" % (status, len(body))
    return "%d %d" % (status, len(take(int(fields.get("content-length", "0")))))


try:
    for step in sys.argv[3:]:
        kind, _, arg = step.partition(":")
        if kind in ("get", "gz"):
            path, _, n = arg.partition(":")
            for _ in range(int(n or 1)):
                s.sendall(req(path, kind == "gz"))
                print(response(), flush=True)
        elif kind == "uniq":
            path, _, n = arg.partition(":")
            for i in range(int(n)):
                s.sendall(req("%s?u=%d" % (path, i + 1)))
                print(response(), flush=True)
        elif kind == "pipe":
            paths = arg.split(",")
            s.sendall(b"".join(req(p) for p in paths))
            for _ in paths:
                print(response(), flush=True)
        elif kind == "overlap":
            a, b = arg.split(",")
            s.sendall(req(a))
            s.sendall(req(b))
            print(response(), flush=True)
            print(response(), flush=True)
        elif kind == "sleep":
            time.sleep(int(arg) / 1000.0)
        elif kind == "wait":
            deadline = time.monotonic() + 30
            while not os.path.exists(arg) and time.monotonic() < deadline:
                time.sleep(0.05)
except (EOFError, ConnectionResetError):
    print("closed", flush=True)
