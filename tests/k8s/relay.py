#!/usr/bin/env python3
"""relay.py - a fault-injecting HTTPS relay in front of a real kube-apiserver.

Tests put it between the Kubernetes client under test and the real API server
to produce the faults the client must survive. It terminates TLS with its own
certificate (give the client the CA that signed it), parses each HTTP/1.1
request and response, re-originates TLS to the API server and passes the bytes
through, except where a fault says otherwise. python3 standard library only.

Usage:
  relay.py --upstream https://127.0.0.1:6443 --upstream-ca ca.crt \
           --cert relay.crt --key relay.key [--listen 127.0.0.1:0] \
           [--port-file F] [--control F] [--stats F] [fault flags...]

Faults (flags set the initial values; the control file, a JSON object with the
same keys, replaces them whenever it changes, checked before every request and
every response chunk):
  --split              "split": true. Write the server's bytes to the client
                       one byte per TLS record (1-byte writes).
  --latency-ms N       "latency_ms": N. Delay every request by N ms.
  --chunk-latency-ms N "chunk_latency_ms": N. Delay every response read.
  --cut-after-bytes N  "cut_after_bytes": N. Close the client connection
                       abruptly after N response bytes (headers included).
  --cut-after-events N "cut_after_events": N. Close a watch's connection
                       abruptly (no final chunk) after N events.
  --expire-after-events N
                       "expire_after_events": N. After N events of a watch
                       (0: at once, without asking the server), send an
                       in-stream {"type":"ERROR","object":{"kind":"Status",
                       "code":410,"reason":"Expired",...}} and end the
                       response cleanly, as the server does.
  --gone-watch         "gone_watch": true. Answer watch requests with an HTTP
                       410 Gone Status.
  --reject-token T     "reject_tokens": [T, ...]. Answer 401 Unauthorized (a
                       Kubernetes Status) to requests bearing token T, until
                       the control file drops it (token rotation tests).
  --drop-reused        "drop_reused": true. A request that arrives on a
                       connection that already carried one is not answered:
                       the connection closes at once, as when a server times
                       out an idle keep-alive connection just as the client
                       writes on it (counts with fault_times).
  --fault-times N      "fault_times": N. The cut/expire/gone faults fire N
                       times in total, then the relay passes everything.
  --match S            "match": S. The cut/expire/gone faults apply only to
                       requests whose path contains S.
  --hold S             "hold": S. Requests whose path contains S wait (before
                       anything is sent upstream) until the control file no
                       longer says so: a collection the client cannot list
                       yet, for as long as a test needs.
A watch request is one whose query has watch=1 or watch=true.

Stats: with --stats F, a JSON object of counters is rewritten (atomically)
on every change: connections, requests, watches, events, cuts, expired, gone,
rejected, dropped, bytes_down. Tests use it to check that a fault really fired.

Example (lib.sh wraps this as k8s_relay_start):
  relay.py --upstream "$K8S_SERVER" --upstream-ca "$K8S_CA" \
    --cert "$K8S_DIR/pki/server.crt" --key "$K8S_DIR/pki/server.key" \
    --port-file port --control ctl.json --stats stats.json --split &
  echo '{"cut_after_events": 2, "fault_times": 1}' > ctl.json
"""

import argparse
import json
import os
import select
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse

FAULT_KEYS = {
    "split": False,
    "latency_ms": 0,
    "chunk_latency_ms": 0,
    "cut_after_bytes": None,
    "cut_after_events": None,
    "expire_after_events": None,
    "gone_watch": False,
    "reject_tokens": [],
    "fault_times": None,
    "match": None,
    "hold": None,
    "drop_reused": False,
}


class Cut(Exception):
    """The relay decided to drop the client connection abruptly."""


class Config:
    """The current faults: flags, then the control file when it changes."""

    def __init__(self, initial, control):
        self.lock = threading.Lock()
        self.base = dict(initial)
        self.cur = dict(initial)
        self.control = control
        self.mtime = None
        self.fired = 0

    def get(self):
        with self.lock:
            if self.control:
                try:
                    st = os.stat(self.control)
                    key = (st.st_ino, st.st_mtime_ns, st.st_size)
                except FileNotFoundError:
                    key = None
                if key != self.mtime:
                    self.mtime = key
                    new = dict(self.base)
                    if key is not None:
                        try:
                            with open(self.control) as f:
                                text = f.read()
                            data = json.loads(text) if text.strip() else {}
                        except (OSError, ValueError) as e:
                            log(f"control file {self.control}: {e}; keeping the previous faults")
                            return dict(self.cur)
                        for k, v in data.items():
                            if k not in FAULT_KEYS:
                                log(f"control file {self.control}: unknown key {k!r} ignored")
                                continue
                            new[k] = v
                    # A new control file restarts the fault budget.
                    self.fired = 0
                    self.cur = new
            return dict(self.cur)

    def may_fire(self, cfg):
        """Takes one unit of the fault budget; False when it is spent."""
        with self.lock:
            if cfg.get("fault_times") is None:
                self.fired += 1
                return True
            if self.fired >= cfg["fault_times"]:
                return False
            self.fired += 1
            return True


class Stats:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.c = dict(connections=0, requests=0, watches=0, events=0, cuts=0,
                      expired=0, gone=0, rejected=0, dropped=0, bytes_down=0)

    def add(self, key, n=1, flush=True):
        with self.lock:
            self.c[key] += n
            if flush and self.path:
                tmp = self.path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(self.c, f)
                os.replace(tmp, self.path)


def log(msg):
    print(f"relay: {msg}", file=sys.stderr, flush=True)


class Conn:
    """Buffered reads over a (TLS) socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def readline(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise ValueError("line too long")
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def read_some(self):
        if not self.buf:
            self.fill()
        data, self.buf = self.buf, b""
        return data

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def readable(self):
        if self.buf:
            return True
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        r, _, _ = select.select([self.sock], [], [], 0)
        return bool(r)


def read_head(conn):
    """Start line + headers; returns (start_line, [(name, value)], raw)."""
    raw = conn.readline()
    start = raw.decode("latin-1").rstrip("\r\n")
    headers = []
    while True:
        line = conn.readline()
        raw += line
        if line == b"\r\n":
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return start, headers, raw


def header(headers, name):
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def status_body(code, reason, message):
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                       "status": "Failure", "message": message,
                       "reason": reason, "code": code}, separators=(",", ":")).encode()


class Relay:
    def __init__(self, args, cfg, stats):
        self.args = args
        self.cfg = cfg
        self.stats = stats
        u = urllib.parse.urlsplit(args.upstream)
        self.up_host = u.hostname
        self.up_port = u.port or 443
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_ctx.load_cert_chain(args.cert, args.key)
        # Only HTTP/1.1: the faults work on HTTP/1.1 framing.
        self.server_ctx.set_alpn_protocols(["http/1.1"])
        self.client_ctx = ssl.create_default_context(cafile=args.upstream_ca)
        self.client_ctx.set_alpn_protocols(["http/1.1"])
        if args.upstream_cert:
            self.client_ctx.load_cert_chain(args.upstream_cert, args.upstream_key)

    def upstream(self):
        raw = socket.create_connection((self.up_host, self.up_port), timeout=30)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = self.client_ctx.wrap_socket(raw, server_hostname=self.up_host)
        s.settimeout(None)
        return Conn(s)

    # -- one client connection ------------------------------------------------

    def serve(self, raw):
        self.stats.add("connections")
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = None
        try:
            raw.settimeout(30)
            client = Conn(self.server_ctx.wrap_socket(raw, server_side=True))
            client.sock.settimeout(None)
            sent = [0]  # response bytes sent on this connection
            nreq = 0
            while True:
                try:
                    start, headers, head = read_head(client)
                except EOFError:
                    return
                nreq += 1
                cfg = self.cfg.get()
                if nreq > 1 and cfg.get("drop_reused") and self.cfg.may_fire(cfg):
                    self.stats.add("dropped")
                    return
                if not self.request(client, start, headers, head, sent):
                    return
                if (header(headers, "connection") or "").lower() == "close":
                    return
        except Cut:
            # Abrupt: no TLS close_notify, no final chunk; RST if possible.
            try:
                client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
        except (OSError, EOFError, ValueError, ssl.SSLError) as e:
            if self.args.verbose:
                log(f"connection ended: {e!r}")
        finally:
            try:
                if client is not None:
                    client.sock.close()
            except OSError:
                pass
            try:
                raw.close()
            except OSError:
                pass

    def send(self, client, data, cfg, sent):
        """Response bytes to the client, honouring split and cut_after_bytes."""
        limit = cfg.get("cut_after_bytes")
        if limit is not None and sent[0] + len(data) > limit and self.cfg.may_fire(cfg):
            keep = max(0, limit - sent[0])
            if keep:
                self._write(client, data[:keep], cfg)
                sent[0] += keep
            self.stats.add("cuts")
            raise Cut()
        self._write(client, data, cfg)
        sent[0] += len(data)
        self.stats.add("bytes_down", len(data), flush=False)

    @staticmethod
    def _write(client, data, cfg):
        if cfg.get("split"):
            for i in range(len(data)):
                client.sock.sendall(data[i:i + 1])
        else:
            client.sock.sendall(data)

    def request(self, client, start, headers, head, sent):
        """Handles one request; False when the client connection must end.

        Each request gets its own upstream connection, closed after the
        response: the client's view of the connection is all the relay's."""
        self.stats.add("requests")
        cfg = self.cfg.get()
        method, _, rest = start.partition(" ")
        target = rest.rsplit(" ", 1)[0]
        path = urllib.parse.urlsplit(target)
        query = urllib.parse.parse_qs(path.query)
        is_watch = (query.get("watch", [""])[0] in ("1", "true")
                    or "/watch/" in path.path)
        matches = cfg.get("match") is None or cfg["match"] in target
        if is_watch:
            self.stats.add("watches")

        # The request body (Content-Length or chunked), read whole.
        body = b""
        if header(headers, "expect") == "100-continue":
            # Answer it ourselves and drop it upstream: the body is read
            # whole before the request is forwarded.
            client.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"expect:")]
            head = b"\r\n".join(lines)
        te = (header(headers, "transfer-encoding") or "").lower()
        if "chunked" in te:
            while True:
                size_line = client.readline()
                body += size_line
                size = int(size_line.split(b";")[0], 16)
                body += client.read_exact(size + 2)
                if size == 0:
                    break
        elif header(headers, "content-length"):
            body = client.read_exact(int(header(headers, "content-length")))

        if cfg.get("latency_ms"):
            time.sleep(cfg["latency_ms"] / 1000.0)
        while cfg.get("hold") and cfg["hold"] in target:
            time.sleep(0.1)
            cfg = self.cfg.get()

        auth = header(headers, "authorization") or ""
        tok = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if tok is not None and tok in (cfg.get("reject_tokens") or []):
            self.stats.add("rejected")
            self.reply(client, 401, "Unauthorized", status_body(401, "Unauthorized", "Unauthorized"), cfg, sent)
            return True

        if is_watch and matches and cfg.get("gone_watch") and self.cfg.may_fire(cfg):
            self.stats.add("gone")
            self.reply(client, 410, "Gone", status_body(410, "Gone", "too old resource version (relay)"), cfg, sent)
            return True

        expire_at = cfg.get("expire_after_events") if is_watch and matches else None
        if expire_at is not None and not self.cfg.may_fire(cfg):
            expire_at = None
        if expire_at == 0:
            self.stats.add("expired")
            hdr = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n")
            self.send(client, hdr + self.expired_chunk() + b"0\r\n\r\n", cfg, sent)
            return True

        if header(headers, "upgrade"):
            return self.tunnel(client, head, body)

        up = self.upstream()
        try:
            up.sock.sendall(head + body)
            return self.response(client, up, method, is_watch and matches, expire_at, sent)
        finally:
            up.sock.close()

    def reply(self, client, code, reason, body, cfg, sent):
        data = (f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        self.send(client, data, cfg, sent)

    @staticmethod
    def expired_chunk():
        ev = json.dumps({"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure",
            "message": "too old resource version: 1 (relay)",
            "reason": "Expired", "code": 410}}, separators=(",", ":")).encode() + b"\n"
        return b"%x\r\n" % len(ev) + ev + b"\r\n"

    def response(self, client, up, method, watch, expire_at, sent):
        """Relays one response; False when it was delimited by the close."""
        while True:
            start, headers, head = read_head(up)
            code = int(start.split(" ")[1])
            self.send(client, head, self.cfg.get(), sent)
            if code >= 200:
                break
        if method == "HEAD" or code in (204, 304):
            return True
        te = (header(headers, "transfer-encoding") or "").lower()
        cl = header(headers, "content-length")
        if "chunked" in te:
            self.chunked(client, up, watch, expire_at, sent)
            return True
        if cl is not None:
            left = int(cl)
            while left > 0:
                data = up.read_some()[:left]
                left -= len(data)
                self.send(client, data, self.cfg.get(), sent)
            return True
        # Until the server closes; then the client's connection ends too.
        try:
            while True:
                self.send(client, up.read_some(), self.cfg.get(), sent)
        except EOFError:
            return False

    def chunked(self, client, up, watch, expire_at, sent):
        events = 0
        pending = b""  # decoded bytes of an event not yet complete
        while True:
            if watch:
                # Wait for the server's next bytes, but notice a client that
                # went away: that ends the watch (and its upstream) too.
                while not up.readable():
                    if client.readable():
                        client.fill()  # EOFError when the client closed
                        continue
                    select.select([up.sock, client.sock], [], [], 5)
            cfg = self.cfg.get()
            if cfg.get("chunk_latency_ms"):
                time.sleep(cfg["chunk_latency_ms"] / 1000.0)
            size_line = up.readline()
            size = int(size_line.split(b";")[0], 16)
            data = up.read_exact(size + 2)
            if size == 0:
                self.send(client, size_line + data, cfg, sent)
                return
            if not watch:
                self.send(client, size_line + data, cfg, sent)
                continue
            pending += data[:-2]
            n = pending.count(b"\n")
            pending = pending[pending.rfind(b"\n") + 1:] if n else pending
            if expire_at is not None and events + n >= expire_at and n:
                # Forward this chunk only if it does not overshoot, then expire.
                if events + n == expire_at:
                    self.send(client, size_line + data, cfg, sent)
                    events += n
                    self.stats.add("events", n)
                self.stats.add("expired")
                self.send(client, self.expired_chunk() + b"0\r\n\r\n", cfg, sent)
                return
            self.send(client, size_line + data, cfg, sent)
            events += n
            if n:
                self.stats.add("events", n)
            cut = cfg.get("cut_after_events")
            if cut is not None and events >= cut and n and self.cfg.may_fire(cfg):
                self.stats.add("cuts")
                raise Cut()

    def tunnel(self, client, head, body):
        """Upgraded connections (kubectl exec/port-forward): raw bytes both
        ways until either side closes; then the client connection ends."""
        up = self.upstream()
        try:
            up.sock.sendall(head + body)
            if client.buf:
                up.sock.sendall(client.buf)
                client.buf = b""
            socks = [client.sock, up.sock]
            peer = {client.sock: up.sock, up.sock: client.sock}
            while True:
                ready = [x for x in socks if x.pending()]
                if not ready:
                    ready, _, _ = select.select(socks, [], [])
                for x in ready:
                    data = x.recv(65536)
                    if not data:
                        return False
                    peer[x].sendall(data)
        finally:
            up.sock.close()


def main():
    ap = argparse.ArgumentParser(description="fault-injecting relay for kube-apiserver tests",
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__)
    ap.add_argument("--upstream", required=True, help="https://HOST:PORT of the API server")
    ap.add_argument("--upstream-ca", required=True, help="CA file that verifies the API server")
    ap.add_argument("--upstream-cert", help="client certificate towards the API server")
    ap.add_argument("--upstream-key")
    ap.add_argument("--cert", required=True, help="the relay's serving certificate (PEM)")
    ap.add_argument("--key", required=True, help="its key")
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (default 127.0.0.1:0)")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--control", help="JSON control file, re-read when it changes")
    ap.add_argument("--stats", help="JSON counters file")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--split", action="store_true")
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--chunk-latency-ms", type=int, default=0)
    ap.add_argument("--cut-after-bytes", type=int)
    ap.add_argument("--cut-after-events", type=int)
    ap.add_argument("--expire-after-events", type=int)
    ap.add_argument("--gone-watch", action="store_true")
    ap.add_argument("--reject-token", action="append", default=[])
    ap.add_argument("--fault-times", type=int)
    ap.add_argument("--match")
    ap.add_argument("--hold")
    ap.add_argument("--drop-reused", action="store_true")
    args = ap.parse_args()

    initial = dict(FAULT_KEYS)
    initial.update(split=args.split, latency_ms=args.latency_ms,
                   chunk_latency_ms=args.chunk_latency_ms,
                   cut_after_bytes=args.cut_after_bytes,
                   cut_after_events=args.cut_after_events,
                   expire_after_events=args.expire_after_events,
                   gone_watch=args.gone_watch, reject_tokens=args.reject_token,
                   fault_times=args.fault_times, match=args.match,
                   hold=args.hold, drop_reused=args.drop_reused)
    cfg = Config(initial, args.control)
    stats = Stats(args.stats)
    stats.add("connections", 0)
    relay = Relay(args, cfg, stats)

    host, _, port = args.listen.rpartition(":")
    ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host.strip("[]"), int(port)))
    ls.listen(128)
    bound = ls.getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{bound}\n")
        os.replace(tmp, args.port_file)
    log(f"listening on {host}:{bound}, upstream {args.upstream}")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        s, _ = ls.accept()
        threading.Thread(target=relay.serve, args=(s,), daemon=True).start()


if __name__ == "__main__":
    main()
