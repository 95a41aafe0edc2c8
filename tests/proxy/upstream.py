#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A tiny HTTP/1.1 upstream for the proxy tests: keep-alive, pipelining,
Content-Length and chunked request bodies, and a record of every request head
it saw (complete or not), so a test can assert that a request never arrived.

Paths:
  /big?n=BYTES     BYTES of 'x' (Content-Length), written in 256 KiB pieces
  /chunked         a chunked response
  /close           answers with Connection: close and closes
  /drop            answers as keep-alive, then closes the connection anyway
  /ws              101 for "Upgrade: websocket", then echoes bytes
  /swallow-next    answers as keep-alive; the next request on that
                   connection is read (and recorded), then the connection
                   closes without an answer (a server closing as a reused
                   connection's request arrives)
  anything else    200, body = "METHOD TARGET body_len=N sha256=..."

Run alone: upstream.py --port 8080 [--log heads.jsonl]
"""
import argparse
import hashlib
import json
import socket
import socketserver
import threading


class Recorder:
    def __init__(self, log_path=None):
        self.lock = threading.Lock()
        self.heads = []      # every request head parsed
        self.complete = []   # requests whose body was fully read
        self.log_path = log_path

    def add(self, kind, rec):
        with self.lock:
            (self.heads if kind == "head" else self.complete).append(rec)
            if self.log_path:
                with open(self.log_path, "a") as f:
                    f.write(json.dumps({"kind": kind, **rec}) + "\n")

    def seen(self, needle):
        with self.lock:
            return [h for h in self.heads if needle in h["target"]]

    def completed(self, needle):
        with self.lock:
            return [h for h in self.complete if needle in h["target"]]


class BadRequest(Exception):
    pass


_conn_ids = iter(range(1, 1 << 30))


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        self.buf = b""
        self.conn = next(_conn_ids)  # heads record which connection carried them
        self.swallow = False
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def fill(self):
        d = self.request.recv(262144)
        if not d:
            raise EOFError
        self.buf += d

    def read_until(self, sep, limit=1 << 20):
        while sep not in self.buf:
            if len(self.buf) > limit:
                raise BadRequest("too long")
            self.fill()
        i = self.buf.index(sep)
        out, self.buf = self.buf[:i], self.buf[i + len(sep):]
        return out

    def read_n(self, n, h=None):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        if h is not None:
            h.update(out)
        return out

    def handle(self):
        rec = self.server.recorder
        try:
            while True:
                head = self.read_until(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                while lines and lines[0] == b"":
                    lines.pop(0)
                method, target, version = lines[0].decode("latin-1").split(" ")
                headers = []
                for ln in lines[1:]:
                    k, _, v = ln.decode("latin-1").partition(":")
                    headers.append((k.strip().lower(), v.strip()))
                hd = dict(headers)
                r = {"method": method, "target": target, "version": version,
                     "headers": headers, "conn": self.conn}
                rec.add("head", r)
                if self.swallow:
                    return
                h = hashlib.sha256()
                blen = 0
                if hd.get("transfer-encoding", "").lower() == "chunked":
                    while True:
                        size = int(self.read_until(b"\r\n").split(b";")[0], 16)
                        if size == 0:
                            while self.read_until(b"\r\n") != b"":
                                pass
                            break
                        self.read_n(size, h)
                        blen += size
                        if self.read_n(2) != b"\r\n":
                            raise BadRequest("chunk")
                elif "content-length" in hd:
                    n = int(hd["content-length"])
                    while n:
                        k = min(n, 262144)
                        self.read_n(k, h)
                        n -= k
                        blen += k
                r = dict(r, body_len=blen, sha256=h.hexdigest())
                rec.add("complete", r)
                if not self.respond(method, target, version, hd, r):
                    return
        except (EOFError, ConnectionError, BadRequest, ValueError, OSError):
            return

    def send(self, data):
        self.request.sendall(data)

    def respond(self, method, target, version, hd, r):
        path, _, query = target.partition("?")
        keep = version == "HTTP/1.1" and hd.get("connection", "").lower() != "close"
        if path == "/big":
            n = int(query.split("=")[1])
            self.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
            piece = b"x" * 262144
            while n:
                k = min(n, len(piece))
                self.send(piece[:k])
                n -= k
            return keep
        if path == "/ws" and hd.get("upgrade", "").lower() == "websocket":
            self.send(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                      b"Upgrade: websocket\r\n\r\n")
            if self.buf:
                self.send(self.buf)
                self.buf = b""
            while True:
                d = self.request.recv(65536)
                if not d:
                    return False
                self.send(d)
        if path == "/chunked":
            self.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            return keep
        body = ("%s %s body_len=%d sha256=%s" % (method, target, r["body_len"],
                                                 r["sha256"])).encode()
        if path == "/swallow-next":
            self.swallow = True
        if path == "/drop":
            self.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            return False
        if path == "/close":
            self.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
                      % len(body) + body)
            return False
        if method == "HEAD":
            body_out = b""
        else:
            body_out = body
        self.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body_out)
        return keep


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def start(port=0, log_path=None):
    """Starts the upstream in a thread; returns (server, port)."""
    srv = Server(("127.0.0.1", port), Handler)
    srv.recorder = Recorder(log_path)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    return srv, srv.server_address[1]


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--log")
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.recorder = Recorder(a.log)
    srv.serve_forever()
