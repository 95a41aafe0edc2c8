#!/usr/bin/env python3
"""dnsserver.py - a small authoritative DNS server for test pods (UDP).

Answers A queries for NAME with ADDRESS (TTL 5), every other name with
NXDOMAIN, and logs each query. Enough for `dig` to check a whole exchange:
the id, the question section and the reply's source address.

usage: dnsserver.py PORT NAME ADDRESS LOGFILE
"""
import socket
import struct
import sys

port, want, addr, logfile = int(sys.argv[1]), sys.argv[2].rstrip(".").lower(), sys.argv[3], sys.argv[4]


def qname(msg, off):
    labels = []
    while True:
        n = msg[off]
        off += 1
        if n == 0:
            return ".".join(labels), off
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", port))
open(logfile + ".ready", "w").close()
while True:
    msg, peer = s.recvfrom(4096)
    if len(msg) < 12:
        continue
    qid, flags, qd = struct.unpack("!HHH", msg[:6])
    try:
        name, end = qname(msg, 12)
    except IndexError:
        continue
    qtype, qclass = struct.unpack("!HH", msg[end:end + 4])
    question = msg[12:end + 4]
    with open(logfile, "a") as f:
        f.write("query %s %d from %s:%d\n" % (name, qtype, peer[0], peer[1]))
    hit = name.lower() == want and qtype == 1
    rflags = 0x8400 | (flags & 0x0100) | (0 if hit or name.lower() == want else 3)
    reply = struct.pack("!HHHHHH", qid, rflags, 1, 1 if hit else 0, 0, 0) + question
    if hit:
        reply += struct.pack("!HHHIH", 0xC00C, 1, 1, 5, 4) + socket.inet_aton(addr)
    s.sendto(reply, peer)
