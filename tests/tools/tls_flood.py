#!/usr/bin/env python3
"""tls_flood.py - bad TLS input against IP:PORT, bounded in count and time.

usage: tls_flood.py IP PORT MODE [COUNT] [SECONDS]
  garbage    random bytes after a 0x00 (no TLS record type, no letter: a
             random first byte of 0x16 made a handshake wait for a record
             that never came, one run in 256)
  truncated  the first bytes of a ClientHello, then nothing
  plain      a plaintext HTTP request
  halfopen   COUNT connections that each send a partial ClientHello and
             wait; reports how many were closed by the server within SECONDS
Prints one line: "MODE closed=N of=M first_bytes=<hex of what came back>".
"""
import os
import resource
import select
import socket
import sys
import time

ip, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
count = int(sys.argv[4]) if len(sys.argv) > 4 else 1
limit = float(sys.argv[5]) if len(sys.argv) > 5 else 15.0
HELLO_START = bytes.fromhex("16030100c8010000c40303")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 64)), hard))
payload = {
    "garbage": b"\x00" + os.urandom(599),
    "truncated": HELLO_START + os.urandom(20),
    "plain": b"GET /api/users/42 HTTP/1.1\r\nHost: x\r\n\r\n",
    "halfopen": HELLO_START,
}[mode]
socks = []
for _ in range(count):
    try:
        s = socket.create_connection((ip, port), 2)
        s.sendall(payload)
        s.setblocking(False)
        socks.append(s)
    except OSError:
        break
print("opened %d" % len(socks), file=sys.stderr, flush=True)
open_ = {s.fileno(): s for s in socks}
poller = select.poll()
for fd in open_:
    poller.register(fd, select.POLLIN)
first = b""
deadline = time.monotonic() + limit
closed = 0
while open_ and time.monotonic() < deadline:
    for fd, _ in poller.poll(200):
        s = open_.get(fd)
        if s is None:
            continue
        try:
            d = s.recv(4096)
        except OSError:
            d = b""
        if d and not first:
            first = d[:32]
        if not d:
            closed += 1
            poller.unregister(fd)
            del open_[fd]
            s.close()
print("%s closed=%d of=%d first_bytes=%s" % (mode, closed, len(socks), first.hex()), flush=True)
for s in open_.values():
    s.close()
